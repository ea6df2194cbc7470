//! Responses: the one place where an operation's [`Reply`], an [`ApiError`] or a front-door
//! refusal becomes an HTTP status, headers and body.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use rand::RngCore;
use tributary_model::{ApiError, ErrorCode};
use tributary_protocol::{errors::encode_error, eventstream, Format};

use crate::dispatch::Reply;

/// Every response body: whole (`Full`) for ordinary operations, streamed for
/// SubscribeToShard.
pub type Body = BoxBody<Bytes, std::convert::Infallible>;

/// A successful operation's response.
pub fn reply(format: Format, reply: Reply) -> Response<Body> {
    match reply {
        Reply::Body(b) => with_headers(StatusCode::OK, Some(format.content_type()), full(b)),
        Reply::Empty => with_headers(
            StatusCode::OK,
            Some(format.content_type()),
            full(Bytes::new()),
        ),
        Reply::Events(sub) => with_headers(
            StatusCode::OK,
            Some(eventstream::CONTENT_TYPE),
            crate::subscribe::events(sub, format),
        ),
    }
}

pub fn error(format: Format, e: &ApiError) -> Response<Body> {
    if e.code.is_fault() {
        tracing::warn!(code = e.code.as_str(), message = ?e.message, "server fault");
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    with_headers(
        status,
        Some(format.content_type()),
        full(encode_error(format, e)),
    )
}

/// An answer of the built-in key service (`kms.rs`): always JSON 1.1, as KMS speaks.
pub fn kms_body(status: StatusCode, body: Bytes) -> Response<Body> {
    with_headers(status, Some("application/x-amz-json-1.1"), full(body))
}

/// A plain-text answer of the observability endpoints (`observe.rs`).
pub fn plain(status: StatusCode, text: String) -> Response<Body> {
    with_headers(
        status,
        Some("text/plain; charset=utf-8"),
        full(Bytes::from(text)),
    )
}

/// `GET /metrics`: Prometheus' text exposition format.
pub fn exposition(text: String) -> Response<Body> {
    with_headers(
        StatusCode::OK,
        Some(tributary_telemetry::CONTENT_TYPE),
        full(Bytes::from(text)),
    )
}

/// Requests AWS's front door refuses before the protocol layer knows the request's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a POST, or a body in no content type the service speaks and no target naming a
    /// service and an operation.
    NoOperation,
    /// A body in no content type the service speaks, under a target that names a service
    /// and an operation.
    UnknownOperation,
    /// The body could not be read.
    BrokenBody,
}

/// AWS's answer before it knows the protocol: an XML-ish body and no `Content-Type`.
///
/// - `NoOperation`: 403 and the message, recorded in kinesalite test/connection.js
///   ("should return AccessDeniedException if GET", "... if body and no Content-Type").
/// - `UnknownOperation`: 404 and an empty element, as kinesalite index.js states (its
///   order-of-checks table in test/connection.js records the same for the known target).
/// - `BrokenBody`: reconstructed; AWS's answer to a body that breaks off is not recorded.
pub fn refuse(r: Refusal) -> Response<Body> {
    let (status, code, message) = match r {
        Refusal::NoOperation => (
            StatusCode::FORBIDDEN,
            ErrorCode::AccessDeniedException,
            Some("Unable to determine service/operation name to be authorized"),
        ),
        Refusal::UnknownOperation => (
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownOperationException,
            None,
        ),
        Refusal::BrokenBody => (
            StatusCode::BAD_REQUEST,
            ErrorCode::SerializationException,
            None,
        ),
    };
    let code = code.as_str();
    let body = match message {
        Some(m) => format!("<{code}>\n  <Message>{m}</Message>\n</{code}>\n"),
        None => format!("<{code}/>\n"),
    };
    with_headers(status, None, full(Bytes::from(body)))
}

/// AWS's answer to `application/json`: its legacy JSON 1.0 envelope with status 200, a
/// `SerializationException` for a body that is no JSON object or array, else an
/// `UnknownOperationException` whatever the target (kinesalite test/connection.js
/// `assertSerializationDeprecated` / `assertUnknownDeprecated`; the two spell the message
/// key differently, as recorded).
pub fn legacy_json(parsed: bool) -> Response<Body> {
    let body: &'static [u8] = if parsed {
        br#"{"Output":{"__type":"com.amazon.coral.service#UnknownOperationException","message":null},"Version":"1.0"}"#
    } else {
        br#"{"Output":{"__type":"com.amazon.coral.service#SerializationException","Message":null},"Version":"1.0"}"#
    };
    with_headers(
        StatusCode::OK,
        Some("application/json"),
        full(Bytes::from_static(body)),
    )
}

fn full(b: Bytes) -> Body {
    Full::new(b).boxed()
}

fn with_headers(
    status: StatusCode,
    content_type: Option<&'static str>,
    body: Body,
) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Some(ct) = content_type {
        h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    insert_request_id(h);
    if let Ok(v) = HeaderValue::from_str(&amz_id_2()) {
        h.insert("x-amz-id-2", v);
    }
    r
}

/// The request id every answer carries, the CORS preflight included.
pub fn insert_request_id(h: &mut http::HeaderMap) {
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert("x-amzn-requestid", v);
    }
}

/// Bytes behind an `x-amz-id-2`: AWS's is standard base64 of 72 bytes (96 characters),
/// as kinesalite's index.js states; its test/connection.js, run against AWS, accepts
/// 64 to 80 decoded bytes on every answer but the CORS preflight.
const AMZ_ID_2_BYTES: usize = 72;

/// AWS's second request id, opaque to clients: random bytes in standard base64.
pub fn amz_id_2() -> String {
    use base64::Engine;
    let mut b = [0u8; AMZ_ID_2_BYTES];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A random UUID (version 4 layout), as AWS request ids look. Written byte by byte: it is
/// on every response, and formatting each byte through `format!` showed in profiles.
pub fn request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[(x >> 4) as usize] as char);
        out.push(HEX[(x & 0xf) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_look_like_uuid_v4() {
        let id = super::request_id();
        let groups: Vec<&str> = id.split('-').collect();
        let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        assert_eq!(lens, [8, 4, 4, 4, 12], "{id}");
        assert!(id
            .bytes()
            .all(|c| c == b'-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(groups[2].starts_with('4'), "{id}");
        assert!(matches!(&groups[3][..1], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(id, super::request_id());
    }

    #[test]
    fn amz_id_2_is_base64_of_72_bytes() {
        use base64::Engine;
        let id = super::amz_id_2();
        assert_eq!(id.len(), 96, "{id}");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&id)
            .expect("standard base64");
        assert_eq!(raw.len(), 72);
        assert_ne!(id, super::amz_id_2());
    }
}
