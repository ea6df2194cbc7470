//! AWS JSON 1.1 to and from [`Value`]. Decoding keeps JSON's own types (numbers, strings);
//! the shape-driven [`crate::check`] turns base64 strings into blobs and epoch seconds into
//! timestamps. Encoding writes blobs as base64 and timestamps as epoch seconds with
//! millisecond precision, as AWS does.

use crate::value::Wrapped;
use bytes::Bytes;
use tributary_model::{Timestamp, Value};

#[derive(Debug)]
pub struct JsonError(pub String);

pub fn decode(body: &[u8]) -> Result<Value, JsonError> {
    serde_json::from_slice::<Wrapped>(body)
        .map(|w| w.0)
        .map_err(|e| JsonError(e.to_string()))
}

pub fn encode(v: &Value) -> Bytes {
    let mut out = Vec::with_capacity(encoded_len_hint(v));
    write_value(&mut out, v);
    Bytes::from(out)
}

/// Roughly the encoded size, so a large body (GetRecords: up to 10 MiB of records as
/// base64) is written into one allocation instead of a chain of doublings.
fn encoded_len_hint(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len() + 2,
        Value::Blob(b) => b.len().div_ceil(3) * 4 + 2,
        Value::List(items) => 2 + items.iter().map(|i| encoded_len_hint(i) + 1).sum::<usize>(),
        Value::Map(entries) => {
            2 + entries
                .iter()
                .map(|(k, v)| k.len() + 4 + encoded_len_hint(v))
                .sum::<usize>()
        }
        _ => 24,
    }
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => write_int(out, *i),
        Value::Float(f) if f.is_finite() => out.extend_from_slice(f.to_string().as_bytes()),
        Value::Float(_) => out.extend_from_slice(b"null"),
        Value::Str(s) => write_str(out, s),
        Value::Blob(b) => {
            out.push(b'"');
            // SIMD base64, appended in place: GetRecords bodies are mostly this.
            base64_simd::STANDARD.encode_append(b, out);
            out.push(b'"');
        }
        Value::Timestamp(t) => write_timestamp(out, *t),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_value(out, v);
            }
            out.push(b'}');
        }
    }
}

/// Epoch seconds, with a three-digit fraction when the milliseconds are not zero.
pub(crate) fn write_timestamp(out: &mut Vec<u8>, t: Timestamp) {
    let ms = t.millis();
    write_int(out, ms.div_euclid(1000));
    let frac = ms.rem_euclid(1000);
    if frac != 0 {
        // Three digits, always: 1700000000.050 is 50 ms.
        out.extend_from_slice(&[
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ]);
    }
}

/// Decimal, without going through `fmt` (every record of a GetRecords answer has a
/// timestamp).
pub(crate) fn write_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// True if any byte needs escaping in a JSON string: a quote, a backslash or a control
/// character. Eight bytes at a time (the classic "has a byte less than n" and "has a zero
/// byte" word tricks), since it runs over every string of every answer.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        // Bytes below 0x20: x - 0x20 borrows into the high bit where x's high bit is clear.
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        if control
            | zero_byte(x ^ (ONES * u64::from(b'"')))
            | zero_byte(x ^ (ONES * u64::from(b'\\')))
            != 0
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b == b'"' || b == b'\\' || b < 0x20)
}

pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Nearly every string (ids, sequence numbers, keys) needs no escape: one scan, one copy.
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_model::Timestamp;

    #[test]
    fn round_trips_plain_values() {
        let v = decode(br#"{"a":[1,-2,3.5,true,null,"x\"y\n\u0001"],"b":{}}"#).unwrap();
        let back = decode(&encode(&v)).unwrap();
        assert_eq!(v, back);
    }

    #[test]
    fn writes_blobs_and_timestamps_as_aws_does() {
        let v = Value::Map(vec![
            ("D".into(), Value::Blob(Bytes::from_static(b"hello"))),
            ("T".into(), Value::Timestamp(Timestamp(1_700_000_000_123))),
            ("U".into(), Value::Timestamp(Timestamp(1_700_000_000_000))),
        ]);
        assert_eq!(
            &encode(&v)[..],
            br#"{"D":"aGVsbG8=","T":1700000000.123,"U":1700000000}"#
        );
    }

    #[test]
    fn finds_every_byte_that_needs_escaping() {
        for b in 0u8..=255 {
            let want = b == b'"' || b == b'\\' || b < 0x20;
            for pos in 0..19 {
                let mut s = vec![b'a'; 19];
                s[pos] = b;
                assert_eq!(needs_escape(&s), want, "byte {b:#x} at {pos}");
            }
        }
        // Multi-byte UTF-8 (bytes >= 0x80) next to the tricks' edges.
        assert!(!needs_escape("ééééé\u{7f}x".as_bytes()));
        for (i, want) in [
            (0i64, "0"),
            (-7, "-7"),
            (i64::MIN, "-9223372036854775808"),
            (i64::MAX, "9223372036854775807"),
        ] {
            let mut out = Vec::new();
            write_int(&mut out, i);
            assert_eq!(out, want.as_bytes());
        }
        let v = Value::Map(vec![
            ("A".into(), Value::Timestamp(Timestamp(1_700_000_000_050))),
            ("B".into(), Value::Timestamp(Timestamp(-1_500))),
        ]);
        assert_eq!(&encode(&v)[..], br#"{"A":1700000000.050,"B":-2.500}"#);
    }

    #[test]
    fn rejects_malformed_json() {
        assert!(decode(b"{").is_err());
        assert!(decode(b"").is_err());
        assert!(decode(b"{} x").is_err());
    }
}
