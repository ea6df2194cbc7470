//! Connections to the endpoint: HTTP/1.1 keep-alive or HTTP/2 (h2c with prior knowledge, or
//! ALPN `h2` over TLS), cleartext or rustls trusting a CA file.
//!
//! Each HTTP/1.1 connection carries one request at a time (hyper does not pipeline), so one
//! worker owns one connection: the pool is the set of workers. An HTTP/2 connection is shared
//! by several workers, each its own stream ([`Sender`] clones multiplex).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio::net::TcpStream;
use tributary_protocol::Format;

use crate::sign::RequestSigner;
use crate::HttpVersion;

/// Where to connect and how to speak.
pub struct Endpoint {
    pub addr: SocketAddr,
    /// `host[:port]`, the `Host` header (HTTP/1.1) or `:authority` (HTTP/2).
    pub authority: String,
    /// `http://authority/` or `https://…`: HTTP/2 requests need the full URI.
    uri: Uri,
    pub http: HttpVersion,
    pub format: Format,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    content_type: HeaderValue,
}

/// One request slot on a connection.
pub enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Endpoint {
    /// `url`: `http://host:port` or `https://host:port`. `ca_file` is required for https.
    pub async fn new(
        url: &str,
        http: HttpVersion,
        format: Format,
        ca_file: Option<&Path>,
        server_name: Option<&str>,
    ) -> anyhow::Result<Endpoint> {
        let parsed: Uri = url.parse().with_context(|| format!("endpoint {url}"))?;
        let secure = match parsed.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => bail!("endpoint {url}: the scheme must be http or https"),
        };
        let authority = parsed
            .authority()
            .context("endpoint has no host")?
            .to_string();
        let host = parsed.host().context("endpoint has no host")?;
        let port = parsed.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let addr = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await?
            .next()
            .with_context(|| format!("{host} does not resolve"))?;
        let tls = if secure {
            let ca = ca_file.context("an https endpoint needs --ca-file")?;
            let name = server_name
                .unwrap_or(host.trim_matches(['[', ']']))
                .to_string();
            Some((tls_connector(ca, http)?, ServerName::try_from(name)?))
        } else {
            None
        };
        let scheme = if secure { "https" } else { "http" };
        Ok(Endpoint {
            addr,
            uri: format!("{scheme}://{authority}/").parse()?,
            authority,
            http,
            format,
            tls,
            content_type: HeaderValue::from_static(format.content_type()),
        })
    }

    pub async fn connect(&self) -> anyhow::Result<Sender> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connect {}", self.addr))?;
        // Small requests must not wait for Nagle.
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => handshake(TokioIo::new(tcp), self.http).await,
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), tcp).await?;
                let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                let want: &[u8] = match self.http {
                    HttpVersion::H1 => b"http/1.1",
                    HttpVersion::H2 => b"h2",
                };
                if alpn.as_deref().is_some_and(|a| a != want)
                    || (alpn.is_none() && self.http == HttpVersion::H2)
                {
                    bail!(
                        "the server did not agree to ALPN {:?}",
                        String::from_utf8_lossy(want)
                    );
                }
                handshake(TokioIo::new(tls), self.http).await
            }
        }
    }

    /// A signed POST of `body` for `target` (`Kinesis_20131202.<Op>`).
    pub fn request(
        &self,
        signer: &mut RequestSigner,
        target: &HeaderValue,
        body: Bytes,
        sha256: &str,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let auth = signer.headers(
            self.format.content_type(),
            target.to_str().unwrap_or_default(),
            sha256,
        )?;
        let mut b = Request::post(match self.http {
            HttpVersion::H1 => Uri::from_static("/"),
            HttpVersion::H2 => self.uri.clone(),
        });
        if self.http == HttpVersion::H1 {
            b = b.header(http::header::HOST, self.authority.as_str());
        }
        Ok(
            b.header(http::header::CONTENT_TYPE, self.content_type.clone())
                .header("x-amz-target", target.clone())
                .header("x-amz-date", auth.amz_date)
                .header(http::header::AUTHORIZATION, auth.authorization)
                .body(Full::new(body))?,
        )
    }
}

/// The value of `X-Amz-Target` for an operation name.
pub fn target(op: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Kinesis_20131202.{op}")).expect("ASCII operation name")
}

impl Sender {
    /// Sends and reads the whole answer.
    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> anyhow::Result<(StatusCode, Bytes)> {
        let resp = self.send_streaming(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// Sends and returns as soon as the head arrives (SubscribeToShard's event stream).
    pub async fn send_streaming(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> anyhow::Result<Response<Incoming>> {
        Ok(match self {
            Sender::H1(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
            Sender::H2(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
        })
    }

    /// Another stream on the same HTTP/2 connection; `None` for HTTP/1.1, which has one slot.
    pub fn another_stream(&self) -> Option<Sender> {
        match self {
            Sender::H1(_) => None,
            Sender::H2(s) => Some(Sender::H2(s.clone())),
        }
    }

    pub fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }
}

async fn handshake<I>(io: I, http: HttpVersion) -> anyhow::Result<Sender>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    Ok(match http {
        HttpVersion::H1 => {
            let (sender, conn) = http1::handshake(io).await?;
            tokio::spawn(conn);
            Sender::H1(sender)
        }
        HttpVersion::H2 => {
            // GetRecords answers reach several MB; hyper's 64 KiB default windows would make
            // every response wait for WINDOW_UPDATE round trips.
            let (sender, conn) = http2::Builder::new(TokioExecutor::new())
                .initial_stream_window_size(4 << 20)
                .initial_connection_window_size(16 << 20)
                .max_frame_size(1 << 20)
                .handshake(io)
                .await?;
            tokio::spawn(conn);
            Sender::H2(sender)
        }
    })
}

fn tls_connector(ca_file: &Path, http: HttpVersion) -> anyhow::Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file)
        .with_context(|| format!("CA file {}", ca_file.display()))?
    {
        roots.add(cert?)?;
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![match http {
        HttpVersion::H1 => b"http/1.1".to_vec(),
        HttpVersion::H2 => b"h2".to_vec(),
    }];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}
