//! `application/vnd.amazon.eventstream`: the binary framing SubscribeToShard answers with.
//!
//! Sans-IO: [`encode_message`] turns headers and a payload into one frame;
//! [`decode_message`] takes the front of a byte buffer and says "here is a message and how
//! many bytes it used", "not enough bytes yet", or "this stream is broken".
//!
//! ```text
//!  0               4               8              12
//!  +---------------+---------------+---------------+------------ ... ----+----- ... -----+---------------+
//!  | total length  | headers length|  prelude CRC  |      headers        |    payload    |  message CRC  |
//!  |   u32 BE      |   u32 BE      | CRC-32 of 0..8|  (headers length)   |               | CRC-32 of all |
//!  +---------------+---------------+---------------+------------ ... ----+----- ... -----+---------------+
//!  |<------------------------------------------ total length -------------------------------------------->|
//!
//!  one header:
//!  +----------+------------------+--------+--------------------------------------------+
//!  | name len | name (UTF-8)     |  type  | value                                      |
//!  |   u8     | 1..=255 bytes    |   u8   |                                            |
//!  +----------+------------------+--------+--------------------------------------------+
//!  type  0 true, 1 false (no value bytes)   2 i8   3 i16   4 i32   5 i64   (big-endian)
//!        6 byte array, 7 UTF-8 string (u16 BE length, then at most 32767 bytes)
//!        8 timestamp (i64 milliseconds since the epoch)   9 UUID (16 bytes)
//! ```
//!
//! CRC-32 is the IEEE/gzip polynomial. Header order carries no meaning and a name may appear
//! only once (the Smithy "Amazon Event Stream Specification").
//!
//! What the SDKs need from SubscribeToShard's stream (read in botocore 1.43 `parsers.py` /
//! `eventstream.py`, aws-sdk-kinesis 1.130 + aws-smithy-http 0.64, Java SDK v2
//! `EventStreamAsyncResponseTransformer`, smithy-typescript `getUnmarshalledStream`):
//! - every message carries a string `:message-type` (`event`, `exception` or `error`);
//!   events a string `:event-type`, exceptions a string `:exception-type`. `:content-type`
//!   is optional and not interpreted. Header values must be strings: Java reads every header
//!   with `getString()`.
//! - the first message must be the event `initial-response`: botocore raises
//!   "First event was not of type initial-response" otherwise and parses its payload as the
//!   operation's output: send `{}` in JSON and an empty CBOR map `0xA0` in CBOR (its JSON
//!   parser reads an empty payload as `{}`, its CBOR one fails on it). The Rust SDK's `send()`
//!   waits for this first message before returning, so send it at once.
//! - an `exception` message is the modeled error (`ResourceInUseException`, ...); its payload
//!   is the error body. Clients stop reading after it.

mod codec;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

use std::fmt;

use bytes::Bytes;

pub use codec::{decode_message, encode_message};

/// The HTTP `Content-Type` of a response body made of these frames.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// Largest frame we write or accept. The spec allows a 24 MiB payload, but the AWS CRT and
/// the Kotlin runtime reject frames over 16 MiB, so that is what every client can read.
pub const MAX_MESSAGE_LEN: usize = 16 * 1024 * 1024;
/// Largest encoded header block (the spec's limit, also botocore's and the CRT's).
pub const MAX_HEADERS_LEN: usize = 128 * 1024;
/// Longest string or byte-array header value: the spec bounds it by `i16::MAX`, not the
/// `u16::MAX` its length prefix could hold, and so do the CRT, Java, Go and smithy-rs.
pub const MAX_HEADER_VALUE_LEN: usize = i16::MAX as usize;
/// Longest header name (its length prefix is one byte).
pub const MAX_HEADER_NAME_LEN: usize = u8::MAX as usize;

/// Prelude (two lengths and their CRC) plus the trailing message CRC: an empty message.
pub const MIN_MESSAGE_LEN: usize = 16;

pub const MESSAGE_TYPE: &str = ":message-type";
pub const EVENT_TYPE: &str = ":event-type";
pub const EXCEPTION_TYPE: &str = ":exception-type";
pub const HEADER_CONTENT_TYPE: &str = ":content-type";
pub const ERROR_CODE: &str = ":error-code";
pub const ERROR_MESSAGE: &str = ":error-message";

/// One typed header value. Wire type codes in the module diagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Bool(bool),
    Byte(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    ByteArray(Bytes),
    String(String),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

impl HeaderValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            HeaderValue::String(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: HeaderValue,
}

impl Header {
    pub fn new(name: impl Into<String>, value: HeaderValue) -> Header {
        Header {
            name: name.into(),
            value,
        }
    }

    /// A string header, the only kind SubscribeToShard sends.
    pub fn string(name: impl Into<String>, value: impl Into<String>) -> Header {
        Header::new(name, HeaderValue::String(value.into()))
    }
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<Header>,
    pub payload: Bytes,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| &h.value)
    }

    /// The value of a string header, or `None` if absent or of another type.
    pub fn str_header(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(HeaderValue::as_str)
    }

    pub fn encode(&self) -> Result<Bytes, EventStreamError> {
        encode_message(&self.headers, &self.payload)
    }
}

/// Why a frame could not be decoded, or a message could not be encoded. Any decoding error
/// means the stream is unusable from here on: the spec says to terminate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventStreamError {
    /// The prelude's CRC does not match its first eight bytes.
    PreludeChecksum { computed: u32, received: u32 },
    /// The trailing CRC does not match the frame.
    MessageChecksum { computed: u32, received: u32 },
    /// A total length below [`MIN_MESSAGE_LEN`].
    MessageTooShort(usize),
    /// A total length above [`MAX_MESSAGE_LEN`].
    MessageTooLong(usize),
    /// A header block above [`MAX_HEADERS_LEN`].
    HeadersTooLong(usize),
    /// The header block does not fit inside the frame's total length.
    HeadersOverrunMessage { headers: usize, total: usize },
    /// A header cut short, or with bad UTF-8, a zero-length name, or a value over the limit.
    MalformedHeader(&'static str),
    /// A header type code outside 0..=9.
    UnknownHeaderType(u8),
    /// The same header name twice in one message.
    DuplicateHeader(String),
    /// Encoding only: an empty name or one longer than [`MAX_HEADER_NAME_LEN`] bytes.
    InvalidHeaderName(String),
    /// Encoding only: a string or byte-array value longer than [`MAX_HEADER_VALUE_LEN`].
    HeaderValueTooLong(String),
}

impl fmt::Display for EventStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EventStreamError::*;
        match self {
            PreludeChecksum { computed, received } => write!(
                f,
                "prelude checksum mismatch: computed {computed:#010x}, received {received:#010x}"
            ),
            MessageChecksum { computed, received } => write!(
                f,
                "message checksum mismatch: computed {computed:#010x}, received {received:#010x}"
            ),
            MessageTooShort(n) => write!(f, "message length {n} is below {MIN_MESSAGE_LEN}"),
            MessageTooLong(n) => write!(f, "message length {n} exceeds {MAX_MESSAGE_LEN}"),
            HeadersTooLong(n) => write!(f, "headers length {n} exceeds {MAX_HEADERS_LEN}"),
            HeadersOverrunMessage { headers, total } => write!(
                f,
                "headers length {headers} does not fit in a message of {total} bytes"
            ),
            MalformedHeader(why) => write!(f, "malformed header: {why}"),
            UnknownHeaderType(t) => write!(f, "unknown header value type {t}"),
            DuplicateHeader(name) => write!(f, "duplicate header {name:?}"),
            InvalidHeaderName(name) => write!(
                f,
                "header name {name:?} must be 1 to {MAX_HEADER_NAME_LEN} bytes"
            ),
            HeaderValueTooLong(name) => write!(
                f,
                "value of header {name:?} exceeds {MAX_HEADER_VALUE_LEN} bytes"
            ),
        }
    }
}

impl std::error::Error for EventStreamError {}

/// A modeled event: `:message-type` = `event`, `:event-type`, `:content-type`.
///
/// The order matches the Smithy specification's examples and botocore's test frames; no
/// client depends on it.
pub fn event(
    event_type: &str,
    content_type: &str,
    payload: &[u8],
) -> Result<Bytes, EventStreamError> {
    encode_message(
        &[
            Header::string(MESSAGE_TYPE, "event"),
            Header::string(EVENT_TYPE, event_type),
            Header::string(HEADER_CONTENT_TYPE, content_type),
        ],
        payload,
    )
}

/// The first message of an RPC-protocol response stream: the event `initial-response`, whose
/// payload is the operation output minus the stream member (`{}` for SubscribeToShard).
pub fn initial_response(content_type: &str, payload: &[u8]) -> Result<Bytes, EventStreamError> {
    event("initial-response", content_type, payload)
}

/// A modeled error inside the stream: `:message-type` = `exception`, `:exception-type` (the
/// error's shape name, e.g. `ResourceNotFoundException`), `:content-type`; the payload is the
/// error body in the request's format.
pub fn exception(
    exception_type: &str,
    content_type: &str,
    payload: &[u8],
) -> Result<Bytes, EventStreamError> {
    encode_message(
        &[
            Header::string(MESSAGE_TYPE, "exception"),
            Header::string(EXCEPTION_TYPE, exception_type),
            Header::string(HEADER_CONTENT_TYPE, content_type),
        ],
        payload,
    )
}

/// An unmodeled error: `:message-type` = `error`, `:error-code`, `:error-message`, no payload.
/// Every SDK turns it into a generic error carrying the code and message.
pub fn error(code: &str, message: &str) -> Result<Bytes, EventStreamError> {
    encode_message(
        &[
            Header::string(MESSAGE_TYPE, "error"),
            Header::string(ERROR_CODE, code),
            Header::string(ERROR_MESSAGE, message),
        ],
        &[],
    )
}
