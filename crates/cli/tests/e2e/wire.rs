//! Raw requests: what AWS answers for inputs the SDKs refuse to send, over JSON and CBOR,
//! HTTP/1.1 and h2c.

use serde_json::Value;
use tributary_testkit::raw::{kinesis_request, send, Http};

use crate::{server, CBOR, JSON};

fn body_json(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(b)))
}

#[tokio::test]
async fn protocol_errors_match_aws() {
    let s = server();
    for http in [Http::H1, Http::H2c] {
        let r = send(
            s.addr,
            http,
            kinesis_request(Some("Nope"), Some(JSON), "{}"),
        )
        .await;
        assert_eq!(r.status, 400);
        assert_eq!(body_json(&r.body)["__type"], "UnknownOperationException");

        let r = send(
            s.addr,
            http,
            kinesis_request(Some("ListStreams"), Some(JSON), "{"),
        )
        .await;
        assert_eq!(
            (r.status.as_u16(), body_json(&r.body)),
            (400, serde_json::json!({"__type": "SerializationException"}))
        );

        let r = send(
            s.addr,
            http,
            kinesis_request(Some("ListStreams"), Some(JSON), ""),
        )
        .await;
        assert_eq!(body_json(&r.body)["__type"], "SerializationException");

        let r = send(
            s.addr,
            http,
            kinesis_request(None, Some("text/plain"), "{}"),
        )
        .await;
        assert_eq!(r.status, 403);
        assert!(String::from_utf8_lossy(&r.body).contains("AccessDeniedException"));

        let r = send(
            s.addr,
            http,
            kinesis_request(Some("ListStreams"), Some("text/plain"), "{}"),
        )
        .await;
        assert_eq!(r.status, 404);

        let r = send(
            s.addr,
            http,
            kinesis_request(Some("CreateStream"), Some(JSON), r#"{"StreamName":5}"#),
        )
        .await;
        assert_eq!(
            body_json(&r.body),
            serde_json::json!({"__type": "SerializationException", "Message": "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String"})
        );

        let r = send(
            s.addr,
            http,
            kinesis_request(
                Some("CreateStream"),
                Some(JSON),
                r#"{"ShardCount":0,"StreamName":"a b"}"#,
            ),
        )
        .await;
        assert_eq!(r.status, 400);
        assert_eq!(
            body_json(&r.body),
            serde_json::json!({"__type": "ValidationException", "message": "2 validation errors detected: \
Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; \
Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"})
        );
    }
}

#[tokio::test]
async fn requests_need_an_authorization_header() {
    let s = server();
    let mut req = kinesis_request(Some("ListStreams"), Some(JSON), "{}");
    req.headers_mut().remove("authorization");
    let r = send(s.addr, Http::H1, req).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        body_json(&r.body),
        serde_json::json!({"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"})
    );
}

#[tokio::test]
async fn h2c_is_served_with_prior_knowledge() {
    let s = server();
    let r = send(
        s.addr,
        Http::H2c,
        kinesis_request(Some("ListStreams"), Some(JSON), "{}"),
    )
    .await;
    assert_eq!(r.version, http::Version::HTTP_2);
    assert_eq!(r.status, 200);
    assert_eq!(body_json(&r.body)["StreamNames"], serde_json::json!([]));
}

#[tokio::test]
async fn operations_not_built_yet_say_so() {
    let s = server();
    let r = send(
        s.addr,
        Http::H1,
        kinesis_request(Some("ListQueues"), Some(JSON), "{}"),
    )
    .await;
    assert_eq!(r.status, 501);
    assert_eq!(body_json(&r.body)["__type"], "NotImplementedException");
}

/// Minimal CBOR writer for the test requests (definite lengths only).
fn cbor_map(entries: &[(&str, CborVal)]) -> Vec<u8> {
    let mut out = vec![0xa0 | entries.len() as u8];
    for (k, v) in entries {
        cbor_text(&mut out, k);
        match v {
            CborVal::Text(t) => cbor_text(&mut out, t),
            CborVal::Bytes(b) => {
                head(&mut out, 2, b.len());
                out.extend_from_slice(b);
            }
            CborVal::Int(i) => head(&mut out, 0, *i as usize),
        }
    }
    out
}
enum CborVal {
    Text(&'static str),
    Bytes(&'static [u8]),
    Int(u8),
}
fn head(out: &mut Vec<u8>, major: u8, n: usize) {
    if n < 24 {
        out.push(major << 5 | n as u8);
    } else if n < 256 {
        out.extend_from_slice(&[major << 5 | 24, n as u8]);
    } else {
        out.push(major << 5 | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    }
}
fn cbor_text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len());
    out.extend_from_slice(s.as_bytes());
}

#[tokio::test]
async fn cbor_requests_get_cbor_answers() {
    let s = server();
    let create = cbor_map(&[
        ("StreamName", CborVal::Text("cb")),
        ("ShardCount", CborVal::Int(1)),
    ]);
    let r = send(
        s.addr,
        Http::H2c,
        kinesis_request(Some("CreateStream"), Some(CBOR), create),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let put = cbor_map(&[
        ("StreamName", CborVal::Text("cb")),
        ("PartitionKey", CborVal::Text("k")),
        ("Data", CborVal::Bytes(b"\x00\x01binary")),
    ]);
    let r = send(
        s.addr,
        Http::H1,
        kinesis_request(Some("PutRecord"), Some(CBOR), put),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], CBOR);
    // A CBOR map whose ShardId value is text: look for the bytes rather than decode.
    assert!(r.body.windows(20).any(|w| w == b"shardId-000000000000"));

    let missing = cbor_map(&[("StreamName", CborVal::Text("nope"))]);
    let r = send(
        s.addr,
        Http::H1,
        kinesis_request(Some("DescribeStream"), Some(CBOR), missing),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["content-type"], CBOR);
    assert!(r
        .body
        .windows(25)
        .any(|w| w == b"ResourceNotFoundException"));
}

#[tokio::test]
async fn tls_serves_h2_and_http1_by_alpn() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["cert", "--out"])
        .arg(&dir)
        .args(["--san", "localhost", "--san", "127.0.0.1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cert = dir.join("server.pem");
    let key = dir.join("server-key.pem");
    let s = crate::server_with(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let (r, alpn) = tributary_testkit::raw::send_tls(
        s.addr,
        "localhost",
        &dir.join("ca.pem"),
        kinesis_request(Some("ListStreams"), Some(JSON), "{}"),
    )
    .await;
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(r.version, http::Version::HTTP_2);
    assert_eq!(r.status, 200);
    assert_eq!(body_json(&r.body)["StreamNames"], serde_json::json!([]));
}
