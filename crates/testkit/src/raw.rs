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
    let resp = match http {
        Http::H1 => {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("h1 handshake");
            tokio::spawn(conn);
            sender.send_request(req).await.expect("h1 request")
        }
        Http::H2c => {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
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
