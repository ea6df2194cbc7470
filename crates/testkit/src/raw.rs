//! Raw requests for what SDKs will not send, over HTTP/1.1 or h2c (prior knowledge).

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http {
    H1,
    H2c,
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub version: http::Version,
}

/// A signed-looking request: the server does not verify signatures unless configured to.
pub fn kinesis_request(
    target: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let mut b = Request::post("/")
        .header("host", "localhost")
        .header("x-amz-date", "20240101T000000Z")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd",
        );
    if let Some(t) = target {
        b = b.header("x-amz-target", format!("Kinesis_20131202.{t}"));
    }
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(Full::new(body.into())).expect("request")
}

pub async fn send(addr: SocketAddr, http: Http, req: Request<Full<Bytes>>) -> RawResponse {
    let stream = TcpStream::connect(addr).await.expect("connect");
    exchange(TokioIo::new(stream), addr, http, req).await
}

/// The same over TLS, trusting only the CA certificates in `ca_pem`; ALPN offers `h2` and
/// `http/1.1` and the server's choice decides the protocol. Returns the negotiated ALPN too.
pub async fn send_tls(
    addr: SocketAddr,
    server_name: &str,
    ca_pem: &std::path::Path,
    req: Request<Full<Bytes>>,
) -> (RawResponse, Option<Vec<u8>>) {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca_pem).expect("ca file") {
        roots.add(cert.expect("ca cert")).expect("add ca");
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name =
        rustls::pki_types::ServerName::try_from(server_name.to_string()).expect("server name");
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let http = if alpn.as_deref() == Some(b"h2") {
        Http::H2c
    } else {
        Http::H1
    };
    (exchange(TokioIo::new(tls), addr, http, req).await, alpn)
}

async fn exchange<I>(io: I, addr: SocketAddr, http: Http, req: Request<Full<Bytes>>) -> RawResponse
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let resp = match http {
        Http::H1 => {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .expect("h1 handshake");
            tokio::spawn(conn);
            sender.send_request(req).await.expect("h1 request")
        }
        Http::H2c => {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .expect("h2 handshake");
            tokio::spawn(conn);
            let (mut parts, body) = req.into_parts();
            parts.uri = format!("http://{addr}/").parse().expect("uri");
            sender
                .send_request(Request::from_parts(parts, body))
                .await
                .expect("h2 request")
        }
    };
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    RawResponse {
        status: parts.status,
        headers: parts.headers,
        body,
        version: parts.version,
    }
}
