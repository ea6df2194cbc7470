//! The frame codec proper: lengths, CRCs and the header block.

use std::collections::HashSet;

use bytes::Bytes;

use super::{
    EventStreamError, Header, HeaderValue, Message, MAX_HEADERS_LEN, MAX_HEADER_NAME_LEN,
    MAX_HEADER_VALUE_LEN, MAX_MESSAGE_LEN, MIN_MESSAGE_LEN,
};

/// Total length, headers length, prelude CRC.
const PRELUDE_LEN: usize = 12;
const CRC_LEN: usize = 4;

const TYPE_TRUE: u8 = 0;
const TYPE_FALSE: u8 = 1;
const TYPE_BYTE: u8 = 2;
const TYPE_INT16: u8 = 3;
const TYPE_INT32: u8 = 4;
const TYPE_INT64: u8 = 5;
const TYPE_BYTE_ARRAY: u8 = 6;
const TYPE_STRING: u8 = 7;
const TYPE_TIMESTAMP: u8 = 8;
const TYPE_UUID: u8 = 9;

/// Encodes one frame. Fails, writing nothing, if a header name is empty, too long or
/// repeated, a value is too long, or the frame would pass [`MAX_MESSAGE_LEN`]: a frame
/// that some client cannot read is worse than an error the caller can handle.
pub fn encode_message(headers: &[Header], payload: &[u8]) -> Result<Bytes, EventStreamError> {
    let headers_len = validate_headers(headers)?;
    let total = PRELUDE_LEN + headers_len + CRC_LEN;
    let total = total
        .checked_add(payload.len())
        .filter(|&t| t <= MAX_MESSAGE_LEN)
        .ok_or(EventStreamError::MessageTooLong(
            total.saturating_add(payload.len()),
        ))?;

    let mut out = Vec::with_capacity(total);
    // Both lengths are bounded by MAX_MESSAGE_LEN above, so they fit a u32.
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(headers_len as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    for header in headers {
        write_header(&mut out, header);
    }
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    debug_assert_eq!(out.len(), total);
    Ok(Bytes::from(out))
}

/// Decodes the frame at the front of `buf`.
///
/// `Ok(None)`: `buf` holds the start of a plausible frame but not all of it; call again with
/// more bytes. `Ok(Some((message, n)))`: the first `n` bytes were one frame. `Err`: the stream
/// is corrupt or hostile and must be dropped.
///
/// The prelude is checked as soon as its 12 bytes are present, so a peer that announces a
/// 4 GiB frame is refused at once instead of making the caller buffer towards it. Nothing is
/// allocated from a length field before the bytes it describes are known to be in `buf`.
pub fn decode_message(buf: &[u8]) -> Result<Option<(Message, usize)>, EventStreamError> {
    let Some((prelude, _)) = buf.split_first_chunk::<PRELUDE_LEN>() else {
        return Ok(None);
    };
    let [t0, t1, t2, t3, h0, h1, h2, h3, c0, c1, c2, c3] = *prelude;
    let total = u32::from_be_bytes([t0, t1, t2, t3]) as usize;
    let headers_len = u32::from_be_bytes([h0, h1, h2, h3]) as usize;
    let received = u32::from_be_bytes([c0, c1, c2, c3]);
    let computed = crc32fast::hash(&prelude[..8]);
    // The CRC before the lengths (as botocore and smithy-rs do): lengths from a prelude that
    // fails its CRC mean nothing, and "checksum mismatch" names the real fault.
    if computed != received {
        return Err(EventStreamError::PreludeChecksum { computed, received });
    }
    if total < MIN_MESSAGE_LEN {
        return Err(EventStreamError::MessageTooShort(total));
    }
    if total > MAX_MESSAGE_LEN {
        return Err(EventStreamError::MessageTooLong(total));
    }
    if headers_len > MAX_HEADERS_LEN {
        return Err(EventStreamError::HeadersTooLong(headers_len));
    }
    if headers_len > total - MIN_MESSAGE_LEN {
        return Err(EventStreamError::HeadersOverrunMessage {
            headers: headers_len,
            total,
        });
    }
    let Some((body, trailer)) = buf
        .get(..total)
        .and_then(|f| f.split_last_chunk::<CRC_LEN>())
    else {
        return Ok(None);
    };
    let received = u32::from_be_bytes(*trailer);
    let computed = crc32fast::hash(body);
    if computed != received {
        return Err(EventStreamError::MessageChecksum { computed, received });
    }

    // Cannot fail after the length checks above; checked anyway so no input can panic.
    let (header_block, payload) = body
        .get(PRELUDE_LEN..)
        .and_then(|rest| rest.split_at_checked(headers_len))
        .ok_or(EventStreamError::HeadersOverrunMessage {
            headers: headers_len,
            total,
        })?;
    let headers = decode_headers(header_block)?;
    let message = Message {
        headers,
        payload: Bytes::copy_from_slice(payload),
    };
    Ok(Some((message, total)))
}

/// Checks what the wire format cannot express and returns the header block's length.
fn validate_headers(headers: &[Header]) -> Result<usize, EventStreamError> {
    let mut seen = HashSet::with_capacity(headers.len());
    let mut len = 0usize;
    for header in headers {
        let name = header.name.as_str();
        if name.is_empty() || name.len() > MAX_HEADER_NAME_LEN {
            return Err(EventStreamError::InvalidHeaderName(name.to_owned()));
        }
        if !seen.insert(name) {
            return Err(EventStreamError::DuplicateHeader(name.to_owned()));
        }
        let value_len = match &header.value {
            HeaderValue::Bool(_) => 0,
            HeaderValue::Byte(_) => 1,
            HeaderValue::Int16(_) => 2,
            HeaderValue::Int32(_) => 4,
            HeaderValue::Int64(_) | HeaderValue::Timestamp(_) => 8,
            HeaderValue::Uuid(_) => 16,
            HeaderValue::ByteArray(b) => variable_len(name, b.len())?,
            HeaderValue::String(s) => variable_len(name, s.len())?,
        };
        // The name's length byte, the name, the type byte, the value.
        len += 1 + name.len() + 1 + value_len;
        if len > MAX_HEADERS_LEN {
            return Err(EventStreamError::HeadersTooLong(len));
        }
    }
    Ok(len)
}

/// A string or byte-array value with its two-byte length prefix. Truncating the length
/// instead would let the value's tail be read as further headers.
fn variable_len(name: &str, len: usize) -> Result<usize, EventStreamError> {
    if len > MAX_HEADER_VALUE_LEN {
        return Err(EventStreamError::HeaderValueTooLong(name.to_owned()));
    }
    Ok(2 + len)
}

/// Writes a header already checked by [`validate_headers`], so the casts are lossless.
fn write_header(out: &mut Vec<u8>, header: &Header) {
    out.push(header.name.len() as u8);
    out.extend_from_slice(header.name.as_bytes());
    match &header.value {
        HeaderValue::Bool(true) => out.push(TYPE_TRUE),
        HeaderValue::Bool(false) => out.push(TYPE_FALSE),
        HeaderValue::Byte(v) => {
            out.push(TYPE_BYTE);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Int16(v) => {
            out.push(TYPE_INT16);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Int32(v) => {
            out.push(TYPE_INT32);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Int64(v) => {
            out.push(TYPE_INT64);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::ByteArray(b) => {
            out.push(TYPE_BYTE_ARRAY);
            out.extend_from_slice(&(b.len() as u16).to_be_bytes());
            out.extend_from_slice(b);
        }
        HeaderValue::String(s) => {
            out.push(TYPE_STRING);
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        HeaderValue::Timestamp(ms) => {
            out.push(TYPE_TIMESTAMP);
            out.extend_from_slice(&ms.to_be_bytes());
        }
        HeaderValue::Uuid(u) => {
            out.push(TYPE_UUID);
            out.extend_from_slice(u);
        }
    }
}

/// Parses a whole header block. Every header must end inside the block: one that runs past
/// it is an error, never a read into the payload.
fn decode_headers(mut block: &[u8]) -> Result<Vec<Header>, EventStreamError> {
    let mut headers = Vec::new();
    let mut seen = HashSet::new();
    while !block.is_empty() {
        let name_len = usize::from(take_array::<1>(&mut block, "missing name length")?[0]);
        if name_len == 0 {
            return Err(EventStreamError::MalformedHeader("empty name"));
        }
        let name = take(&mut block, name_len, "name runs past the header block")?;
        let name = std::str::from_utf8(name)
            .map_err(|_| EventStreamError::MalformedHeader("name is not UTF-8"))?;
        if !seen.insert(name) {
            return Err(EventStreamError::DuplicateHeader(name.to_owned()));
        }
        let value = decode_value(&mut block)?;
        headers.push(Header::new(name, value));
    }
    Ok(headers)
}

fn decode_value(block: &mut &[u8]) -> Result<HeaderValue, EventStreamError> {
    const SHORT: &str = "value runs past the header block";
    let kind = take_array::<1>(block, "missing value type")?[0];
    Ok(match kind {
        TYPE_TRUE => HeaderValue::Bool(true),
        TYPE_FALSE => HeaderValue::Bool(false),
        TYPE_BYTE => HeaderValue::Byte(i8::from_be_bytes(take_array(block, SHORT)?)),
        TYPE_INT16 => HeaderValue::Int16(i16::from_be_bytes(take_array(block, SHORT)?)),
        TYPE_INT32 => HeaderValue::Int32(i32::from_be_bytes(take_array(block, SHORT)?)),
        TYPE_INT64 => HeaderValue::Int64(i64::from_be_bytes(take_array(block, SHORT)?)),
        TYPE_BYTE_ARRAY => HeaderValue::ByteArray(Bytes::copy_from_slice(take_variable(block)?)),
        TYPE_STRING => {
            let raw = take_variable(block)?;
            let s = std::str::from_utf8(raw)
                .map_err(|_| EventStreamError::MalformedHeader("string value is not UTF-8"))?;
            HeaderValue::String(s.to_owned())
        }
        TYPE_TIMESTAMP => HeaderValue::Timestamp(i64::from_be_bytes(take_array(block, SHORT)?)),
        TYPE_UUID => HeaderValue::Uuid(take_array(block, SHORT)?),
        other => return Err(EventStreamError::UnknownHeaderType(other)),
    })
}

/// A length-prefixed string or byte-array value. Lengths past the spec's bound are refused
/// even when the bytes are there, so everything we decode we could also encode.
fn take_variable<'a>(block: &mut &'a [u8]) -> Result<&'a [u8], EventStreamError> {
    let len = usize::from(u16::from_be_bytes(take_array(
        block,
        "missing value length",
    )?));
    if len > MAX_HEADER_VALUE_LEN {
        return Err(EventStreamError::MalformedHeader(
            "value longer than 32767 bytes",
        ));
    }
    take(block, len, "value runs past the header block")
}

fn take<'a>(
    block: &mut &'a [u8],
    n: usize,
    why: &'static str,
) -> Result<&'a [u8], EventStreamError> {
    let (head, rest) = block
        .split_at_checked(n)
        .ok_or(EventStreamError::MalformedHeader(why))?;
    *block = rest;
    Ok(head)
}

fn take_array<const N: usize>(
    block: &mut &[u8],
    why: &'static str,
) -> Result<[u8; N], EventStreamError> {
    let (head, rest) = block
        .split_first_chunk::<N>()
        .ok_or(EventStreamError::MalformedHeader(why))?;
    *block = rest;
    Ok(*head)
}
