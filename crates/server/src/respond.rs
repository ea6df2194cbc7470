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
    content_type: Option<&str>,
    body: Bytes,
) -> Response<Body> {
    let mut r = Response::new(Full::new(body).boxed());
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Some(ct) = content_type {
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_str(ct)
                .unwrap_or(HeaderValue::from_static("application/x-amz-json-1.1")),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

/// A random UUID (version 4 layout), as AWS request ids look.
pub fn request_id() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
