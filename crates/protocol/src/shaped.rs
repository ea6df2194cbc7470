//! The fast path for JSON bodies: parse and type-check in one pass, guided by the model's
//! shapes, straight from the request bytes.
//!
//! The reference path ([`crate::json::decode`], then [`crate::check::check`]) builds a
//! generic tree, copies every string into it, then walks it again to turn base64 strings
//! into blobs. For PutRecords that meant two copies of every record and one allocation per
//! record before the data reached the engine. Here blobs are decoded from the borrowed input
//! into one arena per request (each record's `Bytes` is a slice of it), members the shape
//! does not have are skipped without being built, and nulls are dropped as they are met.
//!
//! This path has no error messages: on anything it does not accept at once (a syntax
//! error, a type mismatch, bad base64, a repeated key, a number needing conversion) it
//! gives up and the caller runs the reference path, which words AWS's answer. What it does
//! accept, it turns into exactly the [`Value`] the reference path produces; the tests below
//! and the `json_decode` fuzz target compare the two.

use std::fmt;

use bytes::{Bytes, BytesMut};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use tributary_model::{ShapeId, ShapeKind, Timestamp, Value};

/// The checked value of `body` for `shape`, or `None` when the reference path must decide.
pub fn decode(shape: ShapeId, body: &[u8]) -> Option<Value> {
    if !matches!(shape.def().kind, ShapeKind::Structure { .. }) {
        return None;
    }
    // Decoded blobs are at most three quarters of the base64 that carries them.
    let mut arena = BytesMut::with_capacity(body.len() / 4 * 3 + 8);
    let mut de = serde_json::Deserializer::from_slice(body);
    let v = Shaped {
        shape,
        arena: &mut arena,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    match v {
        Value::Map(_) => Some(v),
        _ => None,
    }
}

/// Leaves the fast path; the message is never shown to anyone.
fn give_up<E: de::Error>() -> E {
    E::custom("not on the fast path")
}

struct Shaped<'a> {
    shape: ShapeId,
    arena: &'a mut BytesMut,
}

impl<'de> DeserializeSeed<'de> for Shaped<'_> {
    type Value = Value;

    /// The input says what it is (so a null is seen as a null whatever the shape); the
    /// visitor accepts only what the shape allows.
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Shaped<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value of the model's shape")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        match self.shape.def().kind {
            ShapeKind::Boolean => Ok(Value::Bool(v)),
            _ => Err(give_up()),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        match self.shape.def().kind {
            ShapeKind::Integer { .. } | ShapeKind::Long { .. } => Ok(Value::Int(v)),
            ShapeKind::Timestamp => Ok(Value::Timestamp(Timestamp(v.saturating_mul(1000)))),
            _ => Err(give_up()),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        // Past i64 the reference path goes through a float: leave that to it.
        i64::try_from(v)
            .map_err(|_| give_up())
            .and_then(|v| self.visit_i64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        match self.shape.def().kind {
            ShapeKind::Timestamp => Ok(Value::Timestamp(Timestamp((v * 1000.0).round() as i64))),
            _ => Err(give_up()),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Value, E> {
        self.visit_str(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        match self.shape.def().kind {
            ShapeKind::String { .. } => Ok(Value::Str(v.to_owned())),
            ShapeKind::Blob { .. } => decode_blob(v.as_bytes(), self.arena)
                .map(Value::Blob)
                .ok_or_else(give_up),
            _ => Err(give_up()),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let ShapeKind::List { member, .. } = self.shape.def().kind else {
            return Err(give_up());
        };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element_seed(Shaped {
            shape: member,
            arena: &mut *self.arena,
        })? {
            if !matches!(v, Value::Null) {
                items.push(v);
            }
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        match &self.shape.def().kind {
            ShapeKind::Structure { members, .. } => {
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    let Some(m) = members.iter().find(|m| m.name == key.as_str()) else {
                        map.next_value::<Skip>()?;
                        continue;
                    };
                    let v = map.next_value_seed(Shaped {
                        shape: m.shape,
                        arena: &mut *self.arena,
                    })?;
                    keep(&mut entries, m.name.to_owned(), v)?;
                }
            }
            ShapeKind::Map { value, .. } => {
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    let v = map.next_value_seed(Shaped {
                        shape: *value,
                        arena: &mut *self.arena,
                    })?;
                    keep(&mut entries, key.into_string(), v)?;
                }
            }
            _ => return Err(give_up()),
        }
        entries.retain(|(_, v)| !matches!(v, Value::Null));
        Ok(Value::Map(entries))
    }
}

/// Adds a member, nulls included (they are dropped once the object is complete, so that a
/// key repeated after a null is still seen as repeated). A repeated key is left to the
/// reference path, which keeps the first occurrence's place and the last one's value.
fn keep<E: de::Error>(entries: &mut Vec<(String, Value)>, k: String, v: Value) -> Result<(), E> {
    if entries.iter().any(|(ek, _)| *ek == k) {
        return Err(give_up());
    }
    entries.push((k, v));
    Ok(())
}

/// Strict base64 (standard alphabet, padded), decoded into the request's arena.
fn decode_blob(b64: &[u8], arena: &mut BytesMut) -> Option<Bytes> {
    if !b64.len().is_multiple_of(4) {
        return None;
    }
    // The arena holds only the blob being decoded: each one is split off when done.
    arena.resize(b64.len() / 4 * 3, 0);
    match base64_simd::STANDARD.decode(b64, base64_simd::Out::from_slice(&mut arena[..])) {
        Ok(decoded) => {
            let n = decoded.len();
            arena.truncate(n);
            Some(arena.split().freeze())
        }
        Err(_) => {
            arena.clear();
            None
        }
    }
}

/// An object key, borrowed from the input when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }

    fn into_string(self) -> String {
        match self {
            Key::Borrowed(s) => s.to_owned(),
            Key::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A member the shape does not have: read and dropped. Not `IgnoredAny`, which skips
/// strings without checking their UTF-8; the reference path rejects a body with invalid
/// UTF-8 anywhere, and so must this one.
struct Skip;

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_key::<Key<'de>>()?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
}

#[cfg(test)]
mod tests;
