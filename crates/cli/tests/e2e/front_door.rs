//! Requests no SDK sends, answered as AWS's front door answers them: status, content type,
//! whole body, content length and both request ids. Each case names the kinesalite
//! test/connection.js case (recorded against AWS) or index.js statement it holds.
//! Every case runs over HTTP/1.1 and h2c, signed and unsigned (none of these answers
//! depends on credentials), against a server in open mode and one verifying signatures.

use tributary_testkit::raw::{assert_aws_ids, request, send, Http, AUTH_HEADERS};

use crate::{server, CBOR};

const AMZ_JSON: &str = "application/x-amz-json-1.1";
const LIST: &str = "Kinesis_20131202.ListStreams";

const ACCESS_DENIED: &str = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n";

/// `{"__type": code}` as AWS writes it in CBOR: an indefinite-length map.
fn cbor_type(code: &str) -> Vec<u8> {
    let mut b = b"\xbf\x66__type".to_vec();
    if code.len() < 24 {
        b.push(0x60 | code.len() as u8);
    } else {
        b.extend_from_slice(&[0x78, code.len() as u8]);
    }
    b.extend_from_slice(code.as_bytes());
    b.push(0xff);
    b
}

struct Case {
    name: &'static str,
    method: &'static str,
    content_type: Option<&'static str>,
    target: Option<&'static str>,
    body: &'static [u8],
    status: u16,
    /// `None`: AWS sends no `Content-Type`.
    answer_type: Option<&'static str>,
    answer: Vec<u8>,
}

// One case a line pair, as the table reads best; rustfmt would spread each over ten.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let unknown_cbor = cbor_type("UnknownOperationException");
    let serialization_cbor = cbor_type("SerializationException");
    let xml = |s: &str| s.as_bytes().to_vec();
    let json = |s: &str| s.as_bytes().to_vec();
    let legacy_unknown = json(
        r#"{"Output":{"__type":"com.amazon.coral.service#UnknownOperationException","message":null},"Version":"1.0"}"#,
    );
    let legacy_serialization = json(
        r#"{"Output":{"__type":"com.amazon.coral.service#SerializationException","Message":null},"Version":"1.0"}"#,
    );
    let c = |name, method, content_type, target, body: &'static [u8], status, answer_type, answer| Case {
        name,
        method,
        content_type,
        target,
        body,
        status,
        answer_type,
        answer,
    };
    vec![
        c("should return CBOR UnknownOperationException if POST with no body",
            "POST", None, None, b"", 400, Some(CBOR), unknown_cbor.clone()),
        c("should return AccessDeniedException if GET",
            "GET", None, None, b"", 403, None, xml(ACCESS_DENIED)),
        c("should return AccessDeniedException if PUT",
            "PUT", None, None, b"", 403, None, xml(ACCESS_DENIED)),
        c("should return AccessDeniedException if DELETE",
            "DELETE", None, None, b"", 403, None, xml(ACCESS_DENIED)),
        c("GET with a valid request's headers and body (index.js: method first)",
            "GET", Some(AMZ_JSON), Some(LIST), b"{}", 403, None, xml(ACCESS_DENIED)),
        c("should return AccessDeniedException if body and no Content-Type",
            "POST", None, None, b"{}", 403, None, xml(ACCESS_DENIED)),
        c("should return CBOR UnknownOperationException if x-amz-json-1.0 Content-Type",
            "POST", Some("application/x-amz-json-1.0"), None, b"", 400, Some(CBOR), unknown_cbor.clone()),
        c("should return CBOR UnknownOperationException if random Content-Type",
            "POST", Some("application/x-amz-json-1.1asdf"), None, b"", 400, Some(CBOR), unknown_cbor.clone()),
        c("should return CBOR UnknownOperationException if random target",
            "POST", None, Some("Whatever"), b"", 400, Some(CBOR), unknown_cbor.clone()),
        c("should return CBOR UnknownOperationException if real service with empty action",
            "POST", None, Some("Kinesis_20131202."), b"", 400, Some(CBOR), unknown_cbor.clone()),
        c("should return CBOR UnknownOperationException if random action",
            "POST", None, Some("Kinesis_20131202.Whatever"), b"", 400, Some(CBOR), unknown_cbor.clone()),
        c("should return CBOR UnknownOperationException if random service with random action",
            "POST", None, Some("Whatever.Whatever"), b"", 400, Some(CBOR), unknown_cbor.clone()),
        c("should return CBOR UnknownOperationException if incomplete action",
            "POST", None, Some("Kinesis_20131202.ListStream"), b"", 400, Some(CBOR), unknown_cbor.clone()),
        c("should return CBOR SerializationException if no Content-Type",
            "POST", None, Some(LIST), b"", 400, Some(CBOR), serialization_cbor.clone()),
        c("CBOR content type and no body (index.js: CBOR for all but AWS's JSON type)",
            "POST", Some(CBOR), Some(LIST), b"", 400, Some(CBOR), serialization_cbor.clone()),
        c("should return UnknownOperationException if no target",
            "POST", Some(AMZ_JSON), None, b"", 400, Some(AMZ_JSON), json(r#"{"__type":"UnknownOperationException"}"#)),
        c("should return CBOR UnknownOperationException if no target and application/json",
            "POST", Some("application/json"), None, b"", 400, Some(CBOR), unknown_cbor.clone()),
        c("should return CBOR SerializationException if valid target and application/json",
            "POST", Some("application/json"), Some(LIST), b"", 400, Some(CBOR), serialization_cbor.clone()),
        c("should return SerializationException if no body",
            "POST", Some(AMZ_JSON), Some(LIST), b"", 400, Some(AMZ_JSON), json(r#"{"__type":"SerializationException"}"#)),
        c("should return SerializationException if non-JSON body",
            "POST", Some(AMZ_JSON), Some(LIST), b"hello", 400, Some(AMZ_JSON), json(r#"{"__type":"SerializationException"}"#)),
        c("should return UnknownOperationException if valid target and body and application/json",
            "POST", Some("application/json"), Some(LIST), b"{}", 200, Some("application/json"), legacy_unknown.clone()),
        c("application/json and an unknown target (index.js: the target is not looked at)",
            "POST", Some("application/json"), Some("Whatever"), b"[]", 200, Some("application/json"), legacy_unknown),
        c("should return SerializationException if non-JSON body and application/json",
            "POST", Some("application/json"), Some(LIST), b"hello", 200, Some("application/json"), legacy_serialization.clone()),
        c("should return SerializationException if non-JSON body and application/json with spaces",
            "POST", Some("     application/json     ;"), Some(LIST), b"hello", 200, Some("application/json"), legacy_serialization),
        c("a body in an unknown content type under a known target (index.js: 404)",
            "POST", Some("text/plain"), Some(LIST), b"{}", 404, None, xml("<UnknownOperationException/>\n")),
        c("a body in an unknown content type under another service's target (index.js: 404)",
            "POST", None, Some("Whatever.Whatever"), b"{}", 404, None, xml("<UnknownOperationException/>\n")),
        c("a body in an unknown content type under a target without operation (index.js)",
            "POST", Some("application/x-amz-json-1.0"), Some("Kinesis_20131202."), b"{}", 403, None, xml(ACCESS_DENIED)),
        c("a body in AWS's JSON type under an unknown operation (index.js)",
            "POST", Some(AMZ_JSON), Some("Kinesis_20131202.Whatever"), b"{}", 400, Some(AMZ_JSON), json(r#"{"__type":"UnknownOperationException"}"#)),
        c("a CBOR body under an unknown operation (reconstructed: AWS's bytes for the same code)",
            "POST", Some(CBOR), Some("Kinesis_20131202.Whatever"), b"\xa0", 400, Some(CBOR), unknown_cbor.clone()),
        c("a CBOR body that is no map (reconstructed: AWS's bytes for the same code)",
            "POST", Some(CBOR), Some(LIST), b"\x01", 400, Some(CBOR), serialization_cbor.clone()),
    ]
}

#[tokio::test]
async fn requests_no_sdk_sends_get_aws_answers() {
    let servers = [server(), crate::verifying_server_with(&[])];
    for case in cases() {
        for s in &servers {
            for http in [Http::H1, Http::H2c] {
                for signed in [true, false] {
                    let mut headers: Vec<(&str, &str)> = Vec::new();
                    if signed {
                        headers.extend(AUTH_HEADERS);
                    }
                    if let Some(ct) = case.content_type {
                        headers.push(("content-type", ct));
                    }
                    if let Some(t) = case.target {
                        headers.push(("x-amz-target", t));
                    }
                    let r = send(s.addr, http, request(case.method, &headers, case.body)).await;
                    let what = format!("{} ({http:?}, signed: {signed})", case.name);
                    assert_eq!(r.status, case.status, "{what}");
                    assert_eq!(
                        r.body,
                        case.answer,
                        "{what}: {}",
                        String::from_utf8_lossy(&r.body)
                    );
                    assert_eq!(
                        r.headers.get("content-type").map(|v| v.to_str().unwrap()),
                        case.answer_type,
                        "{what}"
                    );
                    assert_eq!(
                        r.headers["content-length"],
                        case.answer.len().to_string(),
                        "{what}"
                    );
                    assert_aws_ids(&r.headers, true);
                }
            }
        }
    }
}
