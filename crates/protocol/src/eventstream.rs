//! `application/vnd.amazon.eventstream`: the binary framing SubscribeToShard answers with.
//!
//! The framing itself (lengths, CRCs, typed headers) is AWS's own `aws-smithy-eventstream`,
//! the codec the Rust SDK reads our streams with, and the types are its `Message`, `Header`
//! and `HeaderValue`. This module adds only what that crate leaves to its caller, each with
//! the test that shows why:
//! - the limits the SDKs enforce, which the crate does not: frames of at most 16 MiB,
//!   header blocks of at most 128 KiB, string and byte-array values of at most 32767 bytes
//!   on decode (it bounds them only on encode), and a name once per message (botocore's
//!   `DUPLICATE_HEADER` vector; the crate accepts it);
//! - a buffer-front decoder that checks the prelude's CRC and lengths as soon as its 12
//!   bytes are present, where the crate's waits for the whole frame first;
//! - the Kinesis messages: `initial-response`, events and exceptions.
//!
//! ```text
//!  0               4               8              12
//!  +---------------+---------------+---------------+------------ ... ----+----- ... -----+---------------+
//!  | total length  | headers length|  prelude CRC  |      headers        |    payload    |  message CRC  |
//!  |   u32 BE      |   u32 BE      | CRC-32 of 0..8|  (headers length)   |               | CRC-32 of all |
//!  +---------------+---------------+---------------+------------ ... ----+----- ... -----+---------------+
//!  one header: name length (u8), name (UTF-8), type (u8), value: 0 true, 1 false (no bytes),
//!  2 i8, 3 i16, 4 i32, 5 i64, 6 bytes and 7 UTF-8 (u16 BE length first), 8 timestamp (i64
//!  ms), 9 UUID (16 bytes). Big-endian throughout; CRC-32 is the IEEE/gzip polynomial.
//! ```
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

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

use std::collections::HashSet;
use std::fmt;

use aws_smithy_eventstream::frame::{read_message_from, write_message_to};
use bytes::Bytes;

pub use aws_smithy_types::event_stream::{Header, HeaderValue, Message};

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

/// Total length, headers length, prelude CRC.
const PRELUDE_LEN: usize = 12;

pub const MESSAGE_TYPE: &str = ":message-type";
pub const EVENT_TYPE: &str = ":event-type";
pub const EXCEPTION_TYPE: &str = ":exception-type";
pub const HEADER_CONTENT_TYPE: &str = ":content-type";
pub const ERROR_CODE: &str = ":error-code";

/// Why a frame could not be decoded, or a message could not be encoded. Any decoding error
/// means the stream is unusable from here on: the spec says to terminate it.
#[derive(Debug)]
pub enum EventStreamError {
    /// Refused by the codec: a bad checksum, length, header or UTF-8. Its kinds are private,
    /// so it is carried whole.
    Frame(aws_smithy_eventstream::error::Error),
    /// The prelude's CRC does not match its first eight bytes.
    PreludeChecksum { computed: u32, received: u32 },
    /// A total length above [`MAX_MESSAGE_LEN`].
    MessageTooLong(usize),
    /// A header block above [`MAX_HEADERS_LEN`].
    HeadersTooLong(usize),
    /// A string or byte-array value longer than [`MAX_HEADER_VALUE_LEN`].
    HeaderValueTooLong(String),
    /// The same header name twice in one message.
    DuplicateHeader(String),
}

impl fmt::Display for EventStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EventStreamError::*;
        match self {
            Frame(e) => e.fmt(f),
            PreludeChecksum { computed, received } => write!(
                f,
                "prelude checksum mismatch: computed {computed:#010x}, received {received:#010x}"
            ),
            MessageTooLong(n) => write!(f, "message length {n} exceeds {MAX_MESSAGE_LEN}"),
            HeadersTooLong(n) => write!(f, "headers length {n} exceeds {MAX_HEADERS_LEN}"),
            HeaderValueTooLong(name) => write!(
                f,
                "value of header {name:?} exceeds {MAX_HEADER_VALUE_LEN} bytes"
            ),
            DuplicateHeader(name) => write!(f, "duplicate header {name:?}"),
        }
    }
}

impl std::error::Error for EventStreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EventStreamError::Frame(e) => Some(e),
            _ => None,
        }
    }
}

/// Encodes one frame, or fails if some client could not read it: a frame over
/// [`MAX_MESSAGE_LEN`] or a header block over [`MAX_HEADERS_LEN`], a repeated name, or what
/// the codec refuses (a name over 255 bytes, a value over [`MAX_HEADER_VALUE_LEN`]).
pub fn encode_message(message: &Message) -> Result<Bytes, EventStreamError> {
    check_headers(message)?;
    let mut out = Vec::with_capacity(PRELUDE_LEN + 128 + message.payload().len() + 4);
    write_message_to(message, &mut out).map_err(EventStreamError::Frame)?;
    let (total, headers_len) = lengths(&out);
    check_lengths(total, headers_len)?;
    Ok(out.into())
}

/// Decodes the frame at the front of `buf`.
///
/// `Ok(None)`: `buf` holds the start of a plausible frame but not all of it; call again with
/// more bytes. `Ok(Some((message, n)))`: the first `n` bytes were one frame. `Err`: the stream
/// is corrupt or hostile and must be dropped.
///
/// The codec checks the prelude only once the whole frame is in hand: a flipped or hostile
/// length would leave the caller waiting for bytes that never come, or buffering up to
/// 4 GiB. So the prelude's CRC and our limits are checked as soon as its 12 bytes are here
/// (without it, `every_single_bit_flip_is_caught` and
/// `impossible_lengths_are_refused_from_the_prelude_alone` fail).
pub fn decode_message(buf: &[u8]) -> Result<Option<(Message, usize)>, EventStreamError> {
    let Some(prelude) = buf.first_chunk::<PRELUDE_LEN>() else {
        return Ok(None);
    };
    let received = u32::from_be_bytes([prelude[8], prelude[9], prelude[10], prelude[11]]);
    let computed = crc32fast::hash(&prelude[..8]);
    if computed != received {
        return Err(EventStreamError::PreludeChecksum { computed, received });
    }
    let (total, headers_len) = lengths(prelude);
    check_lengths(total, headers_len)?;
    let Some(frame) = buf.get(..total) else {
        return Ok(None);
    };
    let message = read_message_from(frame).map_err(EventStreamError::Frame)?;
    check_headers(&message)?;
    Ok(Some((message, total)))
}

/// The value of a string header, or `None` if absent or of another type.
pub fn str_header<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    let header = message
        .headers()
        .iter()
        .find(|h| h.name().as_str() == name)?;
    header.value().as_string().ok().map(|s| s.as_str())
}

/// A modeled event: `:message-type` = `event`, `:event-type`, `:content-type`.
///
/// The order matches the Smithy specification's examples and botocore's test frames; no
/// client depends on it. The payload is a `Bytes` the codec's `Message` shares: copied into
/// it, framing a 1.4 MB event took 87 µs against 57 µs for our former codec (timed
/// interleaved, best of 30); shared, 57 µs too. `subscribe_event` in
/// `crates/bench/benches/hot_paths.rs` times this path from here on.
pub fn event(
    event_type: &str,
    content_type: &str,
    payload: &Bytes,
) -> Result<Bytes, EventStreamError> {
    kinesis_message(("event", EVENT_TYPE, event_type), content_type, payload)
}

/// The first message of an RPC-protocol response stream: the event `initial-response`, whose
/// payload is the operation output minus the stream member (`{}` for SubscribeToShard).
pub fn initial_response(content_type: &str, payload: &Bytes) -> Result<Bytes, EventStreamError> {
    event("initial-response", content_type, payload)
}

/// A modeled error inside the stream: `:message-type` = `exception`, `:exception-type` (the
/// error's shape name, e.g. `ResourceNotFoundException`), `:content-type`; the payload is the
/// error body in the request's format.
pub fn exception(
    exception_type: &str,
    content_type: &str,
    payload: &Bytes,
) -> Result<Bytes, EventStreamError> {
    kinesis_message(
        ("exception", EXCEPTION_TYPE, exception_type),
        content_type,
        payload,
    )
}

/// `:message-type`, then the header naming the event or exception, then `:content-type`.
fn kinesis_message(
    (message_type, type_header, type_name): (&'static str, &'static str, &str),
    content_type: &str,
    payload: &Bytes,
) -> Result<Bytes, EventStreamError> {
    let string = |s: &str| HeaderValue::String(s.to_owned().into());
    let message = Message::new(payload.clone())
        .add_header(Header::new(MESSAGE_TYPE, string(message_type)))
        .add_header(Header::new(type_header, string(type_name)))
        .add_header(Header::new(HEADER_CONTENT_TYPE, string(content_type)));
    encode_message(&message)
}

/// Total length and headers length from the front of a frame of at least 8 bytes.
fn lengths(frame: &[u8]) -> (usize, usize) {
    let word = |at: usize| {
        let bytes = frame.get(at..at + 4).and_then(|b| b.first_chunk::<4>());
        bytes.map_or(0, |b| u32::from_be_bytes(*b) as usize)
    };
    (word(0), word(4))
}

fn check_lengths(total: usize, headers_len: usize) -> Result<(), EventStreamError> {
    if total > MAX_MESSAGE_LEN {
        return Err(EventStreamError::MessageTooLong(total));
    }
    if headers_len > MAX_HEADERS_LEN {
        return Err(EventStreamError::HeadersTooLong(headers_len));
    }
    Ok(())
}

/// What the codec lets through but the spec and the SDKs do not: a name twice (botocore's
/// `DUPLICATE_HEADER` vector) and, on decode, a value over the limit, which its encoder
/// then refuses: the fuzz target's "every accepted frame re-encodes" would fail. Tests:
/// `published_bad_frames_are_refused`, `malformed_header_blocks_are_errors`.
fn check_headers(message: &Message) -> Result<(), EventStreamError> {
    let mut seen = HashSet::with_capacity(message.headers().len());
    for header in message.headers() {
        let name = header.name().as_str();
        let value_len = match header.value() {
            HeaderValue::String(s) => s.as_bytes().len(),
            HeaderValue::ByteArray(b) => b.len(),
            _ => 0,
        };
        if value_len > MAX_HEADER_VALUE_LEN {
            return Err(EventStreamError::HeaderValueTooLong(name.to_owned()));
        }
        if !seen.insert(name) {
            return Err(EventStreamError::DuplicateHeader(name.to_owned()));
        }
    }
    Ok(())
}
