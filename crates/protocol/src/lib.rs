//! Sans-IO protocol layer: bytes in, values out, and back. No sockets, no async.
//!
//! - [`target`]: `X-Amz-Target` to [`Operation`].
//! - [`json`] / [`cbor`]: AWS JSON 1.1 and CBOR 1.1 codecs to and from [`Value`].
//! - [`shaped`]: the fast path for JSON: parse and type-check in one pass, falling back to
//!   the two steps below for anything it does not accept at once.
//! - [`check`]: the model-driven type check (`SerializationException`), which also turns
//!   base64 strings into blobs and numbers into timestamps as each format defines them.
//! - [`validate`]: the model's constraints (`ValidationException`, AWS's message shape).
//! - [`errors`]: error bodies in either format.
//!
//! [`decode_input`] and [`encode_output`] are what the server calls.

pub mod cbor;
pub mod check;
pub mod errors;
pub mod eventstream;
pub mod json;
pub mod shaped;
pub mod target;
pub mod validate;

use bytes::Bytes;
use tributary_model::{ApiError, ErrorCode, FromValue, Operation, ShapeId, Value};

/// The two wire formats of the Kinesis API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/x-amz-json-1.1`: blobs as base64 strings, timestamps as epoch seconds.
    Json,
    /// `application/x-amz-cbor-1.1`: blobs as byte strings, timestamps as epoch milliseconds.
    Cbor,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/x-amz-json-1.1",
            Format::Cbor => "application/x-amz-cbor-1.1",
        }
    }
}

/// Decodes, type-checks and validates a request body for `op`, then builds its typed input.
pub fn decode_input<T: FromValue>(
    op: Operation,
    format: Format,
    body: &[u8],
) -> Result<T, ApiError> {
    decode_value(op.input_shape(), format, body).map(T::from_value)
}

/// The same as [`decode_input`] but stops at the checked [`Value`].
pub fn decode_value(shape: ShapeId, format: Format, body: &[u8]) -> Result<Value, ApiError> {
    check_value(shape, format, parse_body(format, body)?)
}

/// Syntax only: the body must be one JSON object or CBOR map. AWS answers a bare
/// `SerializationException` (no message) otherwise.
pub fn parse_body(format: Format, body: &[u8]) -> Result<Value, ApiError> {
    let raw = match format {
        Format::Json => json::decode(body).ok(),
        Format::Cbor => cbor::decode(body).ok(),
    };
    match raw {
        Some(v @ Value::Map(_)) => Ok(v),
        _ => Err(ApiError::bare(ErrorCode::SerializationException)),
    }
}

/// A body that passed the syntax check: already type-checked (the fast path took it) or
/// still raw. The server authenticates between [`parse_for`] and [`Parsed::check`], as AWS
/// orders its checks.
#[derive(Debug)]
pub enum Parsed {
    Checked(Value),
    Raw(Value),
}

/// Syntax (and, where the fast path takes the body, the type check too) for an operation
/// whose input is `shape`; `None` for a target that names no known operation.
pub fn parse_for(shape: Option<ShapeId>, format: Format, body: &[u8]) -> Result<Parsed, ApiError> {
    if let (Some(shape), Format::Json) = (shape, format) {
        if let Some(v) = shaped::decode(shape, body) {
            return Ok(Parsed::Checked(v));
        }
    }
    parse_body(format, body).map(Parsed::Raw)
}

impl Parsed {
    /// The rest of the checks: the type check if it has not run, then the constraints.
    pub fn check(self, shape: ShapeId, format: Format) -> Result<Value, ApiError> {
        match self {
            Parsed::Checked(v) => validate::validate(shape, &v).map(|()| v),
            Parsed::Raw(raw) => check_value(shape, format, raw),
        }
    }
}

/// The model's type check, then its constraints.
pub fn check_value(shape: ShapeId, format: Format, raw: Value) -> Result<Value, ApiError> {
    let checked = check::check(shape, raw, format)
        .map_err(|m| ApiError::new(ErrorCode::SerializationException, m))?;
    validate::validate(shape, &checked)?;
    Ok(checked)
}

/// Encodes an output value in the request's format.
pub fn encode_output(format: Format, value: &Value) -> Bytes {
    match format {
        Format::Json => json::encode(value),
        Format::Cbor => cbor::encode(value),
    }
}
