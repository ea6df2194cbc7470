//! CBOR (RFC 8949) to and from [`Value`], as the AWS SDKs use it for
//! `application/x-amz-cbor-1.1`: blobs are byte strings; timestamps are tag 1 followed by
//! epoch **milliseconds** (the SDKs' convention, not the RFC's seconds).
//!
//! Both directions are ciborium's: reading through its serde deserializer (the typed decoders
//! read CBOR through it too, so both paths accept the same bytes), with nesting bounded for
//! hostile input; writing through its low-level encoder, shared with the typed
//! [`crate::encode::CborWriter`]. Since ciborium, tags 2 and 3 on a byte string read as the
//! big integer they carry (the hand-written decoder before it ignored every tag but 1), and
//! nesting deeper than 64 levels is refused by ciborium's own count.

use bytes::Bytes;
use ciborium_ll::{simple, Encoder, Header};
use tributary_model::Value;

use crate::value::Wrapped;

/// Deeper nesting than any request of the model needs, shallow enough for any stack.
pub(crate) const MAX_DEPTH: usize = 64;

#[derive(Debug, PartialEq, Eq)]
pub struct CborError(pub String);

/// One CBOR item and nothing after it.
pub fn decode(body: &[u8]) -> Result<Value, CborError> {
    let mut rest = body;
    let Wrapped(v) = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH)
        .map_err(|e| CborError(format!("{e:?}")))?;
    if !rest.is_empty() {
        return Err(CborError("trailing bytes".into()));
    }
    Ok(v)
}

pub fn encode(v: &Value) -> Bytes {
    let mut out = Vec::with_capacity(256);
    write_value(&mut Out::new(&mut out), v);
    Bytes::from(out)
}

/// ciborium's encoder over a `Vec`, whose writes cannot fail.
pub(crate) struct Out<'a>(Encoder<&'a mut Vec<u8>>);

impl<'a> Out<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> Self {
        Out(Encoder::from(buf))
    }
    pub(crate) fn head(&mut self, h: Header) {
        let _ = self.0.push(h);
    }
    pub(crate) fn int(&mut self, i: i64) {
        self.head(if i >= 0 {
            Header::Positive(i as u64)
        } else {
            Header::Negative((-1 - i) as u64)
        });
    }
    pub(crate) fn text(&mut self, s: &str) {
        let _ = self.0.text(s, None);
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        let _ = self.0.bytes(b, None);
    }
    pub(crate) fn timestamp(&mut self, ms: i64) {
        self.head(Header::Tag(1));
        self.int(ms);
    }
    pub(crate) fn boolean(&mut self, b: bool) {
        self.head(Header::Simple(if b { simple::TRUE } else { simple::FALSE }));
    }
}

fn write_value(out: &mut Out<'_>, v: &Value) {
    match v {
        Value::Null => out.head(Header::Simple(simple::NULL)),
        Value::Bool(b) => out.boolean(*b),
        Value::Int(i) => out.int(*i),
        Value::Float(f) => out.head(Header::Float(*f)),
        Value::Str(s) => out.text(s),
        Value::Blob(b) => out.bytes(b),
        Value::Timestamp(t) => out.timestamp(t.millis()),
        Value::List(items) => {
            out.head(Header::Array(Some(items.len())));
            for item in items {
                write_value(out, item);
            }
        }
        Value::Map(entries) => {
            out.head(Header::Map(Some(entries.len())));
            for (k, v) in entries {
                out.text(k);
                write_value(out, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_model::Timestamp;

    #[test]
    fn round_trips() {
        let v = Value::Map(vec![
            ("s".into(), Value::Str("hé".into())),
            ("b".into(), Value::Blob(Bytes::from_static(&[0, 1, 2, 255]))),
            ("t".into(), Value::Timestamp(Timestamp(1_700_000_000_123))),
            (
                "l".into(),
                Value::List(vec![
                    Value::Int(0),
                    Value::Int(-1),
                    Value::Int(24),
                    Value::Int(-25),
                    Value::Int(65_536),
                    Value::Int(i64::MAX),
                    Value::Int(i64::MIN),
                    Value::Float(1.5),
                    Value::Bool(true),
                    Value::Null,
                ]),
            ),
        ]);
        assert_eq!(decode(&encode(&v)).unwrap(), v);
    }

    #[test]
    fn reads_indefinite_lengths_and_half_floats() {
        // {_ "a": [_ 1, 2], "b": (_ h'01' h'02') , "c": 1.5 (half)}
        let bytes = [
            0xbf, 0x61, b'a', 0x9f, 0x01, 0x02, 0xff, 0x61, b'b', 0x5f, 0x41, 0x01, 0x41, 0x02,
            0xff, 0x61, b'c', 0xf9, 0x3e, 0x00, 0xff,
        ];
        let v = decode(&bytes).unwrap();
        assert_eq!(
            v,
            Value::Map(vec![
                ("a".into(), Value::List(vec![Value::Int(1), Value::Int(2)])),
                ("b".into(), Value::Blob(Bytes::from_static(&[1, 2]))),
                ("c".into(), Value::Float(1.5)),
            ])
        );
    }

    #[test]
    fn rejects_hostile_input() {
        assert!(decode(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode(&[0x5a, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode(&[0x81; 200]).is_err());
        assert!(decode(&[0xa1, 0x01, 0x01]).is_err());
        assert!(decode(&[]).is_err());
        assert!(decode(&[0x01, 0x02]).is_err());
    }
}
