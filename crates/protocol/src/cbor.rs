//! CBOR (RFC 8949) to and from [`Value`], as the AWS SDKs use it for
//! `application/x-amz-cbor-1.1`: blobs are byte strings; timestamps are tag 1 followed by
//! epoch **milliseconds** (the SDKs' convention, not the RFC's seconds).
//!
//! ```text
//!  initial byte: | major type (3 bits) | additional info (5 bits) |
//!  info 0..23 = the value itself; 24/25/26/27 = 1/2/4/8 argument bytes follow (big endian);
//!  31 = indefinite length (strings, arrays, maps), terminated by the 0xff break byte.
//!  majors: 0 uint, 1 negative int, 2 bytes, 3 text, 4 array, 5 map, 6 tag, 7 float/simple.
//! ```
//! The decoder is written for hostile input: every length is checked against the bytes
//! left before anything is allocated, and nesting is bounded.

use bytes::Bytes;
use tributary_model::{Timestamp, Value};

const MAX_DEPTH: usize = 64;
const BREAK: u8 = 0xff;

#[derive(Debug, PartialEq, Eq)]
pub struct CborError(pub &'static str);

pub fn decode(body: &[u8]) -> Result<Value, CborError> {
    let mut d = Decoder { buf: body, pos: 0 };
    let v = d.value(0)?;
    if d.pos != body.len() {
        return Err(CborError("trailing bytes"));
    }
    Ok(v)
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    fn byte(&mut self) -> Result<u8, CborError> {
        let b = *self.buf.get(self.pos).ok_or(CborError("unexpected end"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], CborError> {
        let left = (self.buf.len() - self.pos) as u64;
        if n > left {
            return Err(CborError("length past end"));
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn arg(&mut self, info: u8) -> Result<u64, CborError> {
        Ok(match info {
            0..=23 => info as u64,
            24 => self.byte()? as u64,
            25 => u16::from_be_bytes(self.take(2)?.try_into().unwrap_or_default()) as u64,
            26 => u32::from_be_bytes(self.take(4)?.try_into().unwrap_or_default()) as u64,
            27 => u64::from_be_bytes(self.take(8)?.try_into().unwrap_or_default()),
            _ => return Err(CborError("bad additional info")),
        })
    }

    fn peek_break(&mut self) -> Result<bool, CborError> {
        if *self.buf.get(self.pos).ok_or(CborError("unexpected end"))? == BREAK {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// A byte or text string, definite or made of definite chunks of the same major type.
    fn string(&mut self, major: u8, info: u8) -> Result<Vec<u8>, CborError> {
        if info != 31 {
            let n = self.arg(info)?;
            return Ok(self.take(n)?.to_vec());
        }
        let mut out = Vec::new();
        while !self.peek_break()? {
            let ib = self.byte()?;
            if ib >> 5 != major || ib & 0x1f == 31 {
                return Err(CborError("bad chunk in indefinite string"));
            }
            let n = self.arg(ib & 0x1f)?;
            out.extend_from_slice(self.take(n)?);
        }
        Ok(out)
    }

    fn value(&mut self, depth: usize) -> Result<Value, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError("nesting too deep"));
        }
        let ib = self.byte()?;
        let (major, info) = (ib >> 5, ib & 0x1f);
        match major {
            0 => {
                let n = self.arg(info)?;
                Ok(i64::try_from(n).map_or(Value::Float(n as f64), Value::Int))
            }
            1 => {
                let n = self.arg(info)?;
                Ok(i64::try_from(n).map_or(Value::Float(-1.0 - n as f64), |n| Value::Int(-1 - n)))
            }
            2 => Ok(Value::Blob(Bytes::from(self.string(2, info)?))),
            3 => String::from_utf8(self.string(3, info)?)
                .map(Value::Str)
                .map_err(|_| CborError("text is not UTF-8")),
            4 => {
                let mut items = Vec::new();
                if info == 31 {
                    while !self.peek_break()? {
                        items.push(self.value(depth + 1)?);
                    }
                } else {
                    let n = self.arg(info)?;
                    // Every item takes at least one byte: a bound before any allocation.
                    if n > (self.buf.len() - self.pos) as u64 {
                        return Err(CborError("length past end"));
                    }
                    items.reserve(n as usize);
                    for _ in 0..n {
                        items.push(self.value(depth + 1)?);
                    }
                }
                Ok(Value::List(items))
            }
            5 => {
                let mut entries: Vec<(String, Value)> = Vec::new();
                let n = if info == 31 {
                    None
                } else {
                    Some(self.arg(info)?)
                };
                if let Some(n) = n {
                    if n > (self.buf.len() - self.pos) as u64 / 2 {
                        return Err(CborError("length past end"));
                    }
                }
                let mut i = 0u64;
                loop {
                    match n {
                        Some(n) if i >= n => break,
                        None if self.peek_break()? => break,
                        _ => {}
                    }
                    let key = match self.value(depth + 1)? {
                        Value::Str(s) => s,
                        _ => return Err(CborError("map key is not text")),
                    };
                    let v = self.value(depth + 1)?;
                    if let Some(slot) = entries.iter_mut().find(|(k, _)| *k == key) {
                        slot.1 = v;
                    } else {
                        entries.push((key, v));
                    }
                    i += 1;
                }
                Ok(Value::Map(entries))
            }
            6 => {
                let tag = self.arg(info)?;
                let inner = self.value(depth + 1)?;
                Ok(match (tag, inner) {
                    (1, Value::Int(ms)) => Value::Timestamp(Timestamp(ms)),
                    (1, Value::Float(ms)) if ms.is_finite() => {
                        Value::Timestamp(Timestamp(ms as i64))
                    }
                    (_, other) => other,
                })
            }
            7 => match info {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 | 23 => Ok(Value::Null),
                25 => {
                    let h = u16::from_be_bytes(self.take(2)?.try_into().unwrap_or_default());
                    Ok(Value::Float(half_to_f64(h)))
                }
                26 => {
                    let b = self.take(4)?.try_into().unwrap_or_default();
                    Ok(Value::Float(f32::from_be_bytes(b) as f64))
                }
                27 => {
                    let b = self.take(8)?.try_into().unwrap_or_default();
                    Ok(Value::Float(f64::from_be_bytes(b)))
                }
                _ => Err(CborError("unsupported simple value")),
            },
            _ => Err(CborError("bad major type")),
        }
    }
}

fn half_to_f64(h: u16) -> f64 {
    let exp = (h >> 10) & 0x1f;
    let mant = (h & 0x3ff) as f64;
    let v = match exp {
        0 => mant * 2f64.powi(-24),
        31 if mant == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (mant + 1024.0) * 2f64.powi(e as i32 - 25),
    };
    if h & 0x8000 != 0 {
        -v
    } else {
        v
    }
}

pub fn encode(v: &Value) -> Bytes {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, v);
    Bytes::from(out)
}

fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn write_int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        head(out, 0, i as u64);
    } else {
        head(out, 1, (-1 - i) as u64);
    }
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(0xf6),
        Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Value::Int(i) => write_int(out, *i),
        Value::Float(f) => {
            out.push(0xfb);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Str(s) => {
            head(out, 3, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Blob(b) => {
            head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::Timestamp(t) => {
            head(out, 6, 1);
            write_int(out, t.millis());
        }
        Value::List(items) => {
            head(out, 4, items.len() as u64);
            for item in items {
                write_value(out, item);
            }
        }
        Value::Map(entries) => {
            head(out, 5, entries.len() as u64);
            for (k, v) in entries {
                head(out, 3, k.len() as u64);
                out.extend_from_slice(k.as_bytes());
                write_value(out, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
