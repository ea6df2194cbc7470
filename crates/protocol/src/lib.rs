//! Sans-IO protocol layer: bytes in, values out, and back. No sockets, no async.
//!
//! - [`target`]: `X-Amz-Target` to [`Operation`].
//! - `decode`: a body straight into the operation's typed input ([`Input`]), by the decoders
//!   `tributary-model` generates, over serde_json or ciborium; no error messages of its own.
//! - [`encode`]: every answer straight from its typed value, by the encoders `tributary-model`
//!   generates, through a writer for each format.
//! - The reference path, which decides and words every request the typed decoders do not
//!   take at once: [`json`] / [`cbor`] parse into the generic [`Value`], [`check`] is the
//!   model-driven type check (`SerializationException`), [`validate`] the model's constraints
//!   (`ValidationException`, AWS's message shape).
//! - [`errors`]: error bodies in either format; [`eventstream`]: SubscribeToShard's framing.
//!
//! [`parse`] and [`Parsed::check`] are what the server calls for a request, [`encode::to_body`]
//! for an answer.

pub mod cbor;
pub mod check;
mod decode;
pub mod encode;
pub mod errors;
pub mod eventstream;
pub mod json;
pub mod target;
pub mod validate;
mod value;

use tributary_model::{ApiError, ErrorCode, Operation, ShapeId, Value};

pub use tributary_model::Input;

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

/// A body that passed the syntax check: already decoded and valid (the typed decoder took it)
/// or still raw. The server authenticates between [`parse`] and [`Parsed::check`], as AWS
/// orders its checks: syntax first, then the signature, then types and constraints.
#[derive(Debug)]
// `Ready` is what nearly every request is: boxing it would allocate on the common path to
// save a move on the rare one.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    Ready(Input),
    Raw(Value),
}

/// The syntax check, and the typed decoding where it takes the body; `op` is `None` for a
/// target that names no known operation.
pub fn parse(op: Option<Operation>, format: Format, body: &[u8]) -> Result<Parsed, ApiError> {
    if let Some(input) = op.and_then(|op| {
        Input::decode(
            op,
            decode::Body {
                format,
                bytes: body,
            },
        )
    }) {
        if input.valid() {
            return Ok(Parsed::Ready(input));
        }
    }
    parse_body(format, body).map(Parsed::Raw)
}

impl Parsed {
    /// The rest of the checks for a raw body: the reference path's type check and constraints,
    /// which word AWS's errors.
    pub fn check(self, op: Operation, format: Format) -> Result<Input, ApiError> {
        match self {
            Parsed::Ready(input) => Ok(input),
            Parsed::Raw(raw) => checked_input(op, format, raw),
        }
    }
}

/// The whole reference path, for a body the typed decoder did not take: type check,
/// constraints, then the typed input. It accepts a few bodies the typed decoder leaves to it
/// (a repeated key, a number it reads as a float, CBOR's rarer encodings); their checked
/// value, written back as plain CBOR, has none of those, and is decoded from that. CBOR, not
/// JSON: its timestamps are whole milliseconds, where JSON's seconds with a fraction lose a
/// millisecond past 2^53 of them (found by the cbor_decode fuzz target).
pub fn checked_input(op: Operation, format: Format, raw: Value) -> Result<Input, ApiError> {
    let checked = check_value(op.input_shape(), format, raw)?;
    match Input::decode(
        op,
        decode::Body {
            format: Format::Cbor,
            bytes: &cbor::encode(&checked),
        },
    ) {
        Some(input) if input.valid() => Ok(input),
        _ => Err(ApiError::new(
            ErrorCode::InternalFailureException,
            format!(
                "the typed decoder of {} refused a request the reference checks accepted",
                op.name()
            ),
        )),
    }
}

/// The model's type check, then its constraints.
pub fn check_value(shape: ShapeId, format: Format, raw: Value) -> Result<Value, ApiError> {
    let checked = check::check(shape, raw, format)
        .map_err(|m| ApiError::new(ErrorCode::SerializationException, m))?;
    validate::validate(shape, &checked)?;
    Ok(checked)
}

/// Encodes a generic value in the request's format (error bodies of the reference path,
/// tools that build requests by hand).
pub fn encode_output(format: Format, value: &Value) -> bytes::Bytes {
    match format {
        Format::Json => json::encode(value),
        Format::Cbor => cbor::encode(value),
    }
}

#[cfg(test)]
mod differential;
