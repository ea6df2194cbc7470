//! Responses. The one place where an [`ApiError`] becomes an HTTP status and body.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use rand::RngCore;
use tributary_model::ApiError;
use tributary_protocol::{errors::encode_error, Format};

/// Every response body: whole (`Full`) for ordinary operations, streamed for
/// SubscribeToShard.
pub type Body = BoxBody<Bytes, std::convert::Infallible>;

pub fn ok(format: Format, body: Bytes) -> Response<Body> {
    with_headers(StatusCode::OK, Some(format.content_type()), body)
}

pub fn error(format: Format, e: &ApiError) -> Response<Body> {
    if e.code.is_fault() {
        tracing::warn!(code = e.code.as_str(), message = ?e.message, "server fault");
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    with_headers(status, Some(format.content_type()), encode_error(format, e))
}

/// AWS's answer before it knows the protocol: an XML-ish body, as its front door sends.
pub fn raw_xml(status: u16, code: &str, message: Option<&str>) -> Response<Body> {
    let body = match message {
        Some(m) => format!("<{code}>\n  <Message>{m}</Message>\n</{code}>\n"),
        None => format!("<{code}/>\n"),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    with_headers(status, None, Bytes::from(body))
}

pub(crate) fn with_headers(
    status: StatusCode,
    content_type: Option<&'static str>,
    body: Bytes,
) -> Response<Body> {
    let mut r = Response::new(Full::new(body).boxed());
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Some(ct) = content_type {
        h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert("x-amzn-requestid", v);
    }
    r
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
}
