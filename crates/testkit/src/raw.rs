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
    let mut b = Request::post("/").header("host", "localhost");
    for (k, v) in AUTH_HEADERS {
        b = b.header(k, v);
    }
    if let Some(t) = target {
        b = b.header("x-amz-target", format!("Kinesis_20131202.{t}"));
    }
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(Full::new(body.into())).expect("request")
}

/// Any request at all: method, headers as given (nothing added but `host`), body.
pub fn request(
    method: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri("/")
        .header("host", "localhost");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(body.into())).expect("request")
}

/// A GET of `path` with nothing but `host`: what scrapers and health probes send.
pub fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .expect("request")
}

/// The headers [`kinesis_request`] signs with: a well-formed `Authorization` and its date.
pub const AUTH_HEADERS: [(&str, &str); 2] = [
    ("x-amz-date", "20240101T000000Z"),
    (
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd",
    ),
];

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

/// Sends a request and returns the answer's status and headers without waiting for its
/// body: for answers that stream (SubscribeToShard's event stream).
pub async fn send_head(
    addr: SocketAddr,
    http: Http,
    req: Request<Full<Bytes>>,
) -> (StatusCode, HeaderMap) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let resp = open(TokioIo::new(stream), addr, http, req).await;
    (resp.status(), resp.headers().clone())
}

async fn exchange<I>(io: I, addr: SocketAddr, http: Http, req: Request<Full<Bytes>>) -> RawResponse
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (parts, body) = open(io, addr, http, req).await.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    RawResponse {
        status: parts.status,
        headers: parts.headers,
        body,
        version: parts.version,
    }
}

async fn open<I>(
    io: I,
    addr: SocketAddr,
    http: Http,
    req: Request<Full<Bytes>>,
) -> http::Response<hyper::body::Incoming>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    match http {
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
            // HTTP/2 needs scheme and authority; the request's own path is kept.
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            parts.uri = format!("http://{addr}{path}").parse().expect("uri");
            sender
                .send_request(Request::from_parts(parts, body))
                .await
                .expect("h2 request")
        }
    }
}

/// Checks the two request ids AWS puts on an answer, in AWS's form: `x-amzn-RequestId` a
/// lowercase UUID, `x-amz-id-2` standard base64 of 72 random bytes (kinesalite's
/// test/connection.js, run against AWS, accepts 64 to 80). AWS's CORS preflight answer
/// carries no `x-amz-id-2`: pass `id_2 = false` for it.
pub fn assert_aws_ids(headers: &HeaderMap, id_2: bool) {
    use base64::Engine;
    let id = headers
        .get("x-amzn-requestid")
        .expect("x-amzn-RequestId")
        .to_str()
        .expect("ASCII request id");
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "request id {id}");
    assert!(
        id.bytes()
            .all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
        "request id {id}"
    );
    match headers.get("x-amz-id-2") {
        Some(v) if id_2 => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v.as_bytes())
                .unwrap_or_else(|e| panic!("x-amz-id-2 {v:?} is not base64: {e}"));
            assert_eq!(raw.len(), 72, "x-amz-id-2 {v:?}");
        }
        None if !id_2 => {}
        other => panic!("x-amz-id-2 expected: {id_2}, got {other:?}"),
    }
}
