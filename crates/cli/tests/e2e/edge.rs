//! The front door's headers as AWS sends them: the two request ids on every answer, and
//! CORS for browser clients (preflight without credentials, exposed headers on answers to
//! requests with an `Origin`). Over HTTP/1.1, h2c and TLS, in open and verifying modes;
//! CORS is on by default only where signatures are verified.

use http::HeaderMap;
use tributary_testkit::raw::{
    assert_aws_ids, kinesis_request, request, send, send_head, Http, RawResponse, AUTH_HEADERS,
};
use tributary_testkit::TestServer;

use crate::{create, server, JSON};

const EXPOSE: &str =
    "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date";

/// An open server (no users) with CORS asked for: off by default there (see
/// `an_open_server_serves_no_cors_unless_asked`).
fn open_cors_server() -> TestServer {
    crate::server_with(&["--cors", "true"])
}

/// A server that verifies signatures, where CORS is on by default: preflights must not
/// depend on credentials.
fn verifying_server() -> TestServer {
    crate::verifying_server_with(&[])
}

/// The answer's headers but the ones that vary per answer (request ids, checked apart, and
/// the date), sorted, as `name: value` lines.
fn stable_headers(h: &HeaderMap) -> Vec<String> {
    let mut v: Vec<String> = h
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "date" | "x-amzn-requestid" | "x-amz-id-2"))
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
        .collect();
    v.sort();
    v
}

fn preflight_headers(extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "access-control-allow-origin: *".to_string(),
        "access-control-max-age: 172800".to_string(),
        "content-length: 0".to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v.sort();
    v
}

async fn assert_preflights(r: impl Fn(&'static [(&'static str, &'static str)]) -> RawFut) {
    // AWS's answers, recorded in kinesalite test/connection.js "should set CORS if OPTIONS
    // and Origin and no auth", "... and Headers", "... and Headers and Method".
    let bare = r(&[("origin", "http://localhost:8000")]).await;
    assert_eq!(bare.status, 200);
    assert_eq!(&bare.body[..], b"");
    assert_aws_ids(&bare.headers, false);
    assert_eq!(stable_headers(&bare.headers), preflight_headers(&[]));

    let asked = r(&[
        ("origin", "http://localhost:8000"),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "amz-sdk-invocation-id,amz-sdk-request,authorization,content-type,x-amz-date,x-amz-target,x-amz-user-agent",
        ),
    ])
    .await;
    assert_eq!(asked.status, 200);
    assert_eq!(&asked.body[..], b"");
    assert_aws_ids(&asked.headers, false);
    assert_eq!(
        stable_headers(&asked.headers),
        preflight_headers(&[
            "access-control-allow-headers: amz-sdk-invocation-id,amz-sdk-request,authorization,content-type,x-amz-date,x-amz-target,x-amz-user-agent",
            "access-control-allow-methods: POST",
        ])
    );
}

type RawFut = std::pin::Pin<Box<dyn std::future::Future<Output = RawResponse>>>;

#[tokio::test]
async fn preflights_are_answered_without_credentials() {
    for s in [open_cors_server(), verifying_server()] {
        for http in [Http::H1, Http::H2c] {
            let addr = s.addr;
            assert_preflights(|h| Box::pin(send(addr, http, request("OPTIONS", h, "")))).await;
        }
    }
}

#[tokio::test]
async fn preflights_are_answered_over_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["cert", "--out"])
        .arg(&dir)
        .args(["--san", "localhost"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let cert = dir.join("server.pem");
    let key = dir.join("server-key.pem");
    let s = crate::server_with(&[
        "--cors",
        "true",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let ca = dir.join("ca.pem");
    let addr = s.addr;
    assert_preflights(|h| {
        let ca = ca.clone();
        Box::pin(async move {
            let (r, alpn) =
                tributary_testkit::raw::send_tls(addr, "localhost", &ca, request("OPTIONS", h, ""))
                    .await;
            assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
            r
        })
    })
    .await;
}

/// An `OPTIONS` without `Origin` is no preflight: refused as any method but POST (kinesalite
/// index.js; its CORS answer needs the `Origin`).
#[tokio::test]
async fn options_without_origin_is_refused() {
    let s = server();
    for http in [Http::H1, Http::H2c] {
        let r = send(s.addr, http, request("OPTIONS", &AUTH_HEADERS, "")).await;
        assert_eq!(r.status, 403);
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n"
        );
        assert_aws_ids(&r.headers, true);
        assert!(r.headers.get("access-control-allow-origin").is_none());
    }
}

/// Without users, any web page the machine's browser opens could drive the server through
/// CORS (signatures are not checked there), so CORS is off unless asked for: a preflight is
/// refused like any OPTIONS and answers carry no CORS headers. The same with `--cors false`
/// on a verifying server.
#[tokio::test]
async fn an_open_server_serves_no_cors_unless_asked() {
    let verifying_off = crate::verifying_server_with(&["--cors", "false"]);
    for s in [server(), verifying_off] {
        for http in [Http::H1, Http::H2c] {
            let r = send(
                s.addr,
                http,
                request(
                    "OPTIONS",
                    &[
                        ("origin", "http://localhost:8000"),
                        ("access-control-request-method", "POST"),
                    ],
                    "",
                ),
            )
            .await;
            assert_eq!(r.status, 403);
            assert_eq!(
                String::from_utf8_lossy(&r.body),
                "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n"
            );
            let mut post = kinesis_request(Some("ListStreams"), Some(JSON), "{}");
            post.headers_mut()
                .insert("origin", "http://localhost:8000".parse().unwrap());
            let h = send(s.addr, http, post).await.headers;
            assert!(h.get("access-control-allow-origin").is_none(), "{h:?}");
            assert!(h.get("access-control-expose-headers").is_none(), "{h:?}");
        }
    }
}

/// Answers of every kind to a request with an `Origin` carry AWS's two CORS headers
/// (kinesalite test/connection.js "should return CBOR UnknownOperationException and set
/// CORS if using Origin"); without one they carry none.
#[tokio::test]
async fn answers_to_origins_expose_aws_headers() {
    let open = open_cors_server();
    let verifying = verifying_server();
    for http in [Http::H1, Http::H2c] {
        let mut ok = kinesis_request(Some("ListStreams"), Some(JSON), "{}");
        ok.headers_mut()
            .insert("origin", "http://localhost:8000".parse().unwrap());
        let r = send(open.addr, http, ok).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            &r.body[..],
            br#"{"StreamNames":[],"HasMoreStreams":false,"StreamSummaries":[]}"#
        );
        assert_aws_ids(&r.headers, true);
        assert_eq!(
            stable_headers(&r.headers),
            [
                "access-control-allow-origin: *".to_string(),
                format!("access-control-expose-headers: {EXPOSE}"),
                "content-length: 62".to_string(),
                format!("content-type: {JSON}"),
            ]
        );

        // Unsigned, to a server that verifies: the error still reaches the page.
        let unsigned = request(
            "POST",
            &[
                ("origin", "http://localhost:8000"),
                ("content-type", JSON),
                ("x-amz-target", "Kinesis_20131202.ListStreams"),
            ],
            "{}",
        );
        let r = send(verifying.addr, http, unsigned).await;
        assert_eq!(r.status, 400);
        assert_eq!(
            &r.body[..],
            br#"{"__type":"MissingAuthenticationTokenException","message":"Missing Authentication Token"}"#
        );
        assert_aws_ids(&r.headers, true);
        assert_eq!(
            stable_headers(&r.headers),
            [
                "access-control-allow-origin: *".to_string(),
                format!("access-control-expose-headers: {EXPOSE}"),
                "content-length: 89".to_string(),
                format!("content-type: {JSON}"),
            ]
        );

        let mut get = request("GET", &AUTH_HEADERS, "");
        get.headers_mut()
            .insert("origin", "http://localhost:8000".parse().unwrap());
        let r = send(open.addr, http, get).await;
        assert_eq!(r.status, 403);
        assert_aws_ids(&r.headers, true);
        assert_eq!(
            stable_headers(&r.headers),
            [
                "access-control-allow-origin: *".to_string(),
                format!("access-control-expose-headers: {EXPOSE}"),
                "content-length: 130".to_string(),
            ]
        );

        let r = send(
            open.addr,
            http,
            kinesis_request(Some("ListStreams"), Some(JSON), "{}"),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            stable_headers(&r.headers),
            [
                "content-length: 62".to_string(),
                format!("content-type: {JSON}")
            ]
        );
    }
}

/// SubscribeToShard's event stream carries both ids, and the CORS headers for an `Origin`.
#[tokio::test]
async fn event_streams_carry_the_ids() {
    let s = open_cors_server();
    let c = s.sdk();
    create(&c, "ids", 1).await;
    for (i, http) in [Http::H2c, Http::H1].into_iter().enumerate() {
        // A consumer each: the other's subscription may still be open.
        let carn = crate::consumer(&c, "ids", &format!("reader{i}")).await;
        let body = serde_json::json!({
            "ConsumerARN": carn,
            "ShardId": "shardId-000000000000",
            "StartingPosition": {"Type": "LATEST"},
        });
        let mut req = kinesis_request(Some("SubscribeToShard"), Some(JSON), body.to_string());
        req.headers_mut()
            .insert("origin", "http://localhost:8000".parse().unwrap());
        let (status, headers) = send_head(s.addr, http, req).await;
        assert_eq!(status, 200, "subscription {i}");
        assert_eq!(
            headers["content-type"],
            "application/vnd.amazon.eventstream"
        );
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert_eq!(headers["access-control-expose-headers"], EXPOSE);
        assert_aws_ids(&headers, true);
    }
}
