//! Typed encoding: every shape the server answers with is written straight from its Rust
//! value, by code generated from the model (`generated/encode.rs`, one [`Encode`] impl per
//! structure and enum) through a [`Writer`], which `tributary-protocol` implements for each
//! wire format. No intermediate tree: GetRecords answers of 10 MiB are written once.
//!
//! The generated impls write members in the model's order and optional members only when
//! set, which is what the SDKs' serializers do and what AWS sends.

use bytes::Bytes;

use crate::Timestamp;

/// A value that can be written in either wire format.
pub trait Encode {
    fn encode<W: Writer>(&self, w: &mut W);
    /// About the size of the JSON encoding, so that the body is allocated once.
    fn size_hint(&self) -> usize {
        24
    }
}

/// What the generated code writes. Structures announce their number of members and lists
/// their length up front, because CBOR heads carry them.
pub trait Writer {
    fn begin_struct(&mut self, members: usize);
    fn member(&mut self, name: &str);
    fn end_struct(&mut self);
    fn begin_list(&mut self, len: usize);
    fn item(&mut self);
    fn end_list(&mut self);
    fn string(&mut self, s: &str);
    fn int(&mut self, i: i64);
    fn boolean(&mut self, b: bool);
    fn blob(&mut self, b: &[u8]);
    fn timestamp(&mut self, t: Timestamp);
}

impl Encode for String {
    fn encode<W: Writer>(&self, w: &mut W) {
        w.string(self);
    }
    fn size_hint(&self) -> usize {
        self.len() + 2
    }
}
impl Encode for i32 {
    fn encode<W: Writer>(&self, w: &mut W) {
        w.int(i64::from(*self));
    }
}
impl Encode for i64 {
    fn encode<W: Writer>(&self, w: &mut W) {
        w.int(*self);
    }
}
impl Encode for bool {
    fn encode<W: Writer>(&self, w: &mut W) {
        w.boolean(*self);
    }
}
impl Encode for Bytes {
    fn encode<W: Writer>(&self, w: &mut W) {
        w.blob(self);
    }
    fn size_hint(&self) -> usize {
        // Base64 is four bytes for every three.
        self.len().div_ceil(3) * 4 + 2
    }
}
impl Encode for Timestamp {
    fn encode<W: Writer>(&self, w: &mut W) {
        w.timestamp(*self);
    }
}
impl<T: Encode> Encode for Vec<T> {
    fn encode<W: Writer>(&self, w: &mut W) {
        w.begin_list(self.len());
        for x in self {
            w.item();
            x.encode(w);
        }
        w.end_list();
    }
    fn size_hint(&self) -> usize {
        2 + self.iter().map(|x| x.size_hint() + 1).sum::<usize>()
    }
}
/// A map (the model's only one is the tag map): string keys, in their order.
pub fn encode_map<W: Writer, V: Encode>(w: &mut W, entries: &[(String, V)]) {
    w.begin_struct(entries.len());
    for (k, v) in entries {
        w.member(k);
        v.encode(w);
    }
    w.end_struct();
}
