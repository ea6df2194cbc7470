//! Typed decoding: a request body straight into the operation's input type, by code
//! generated from the model (`generated/decode.rs`: one [`Decode`] impl per structure and
//! enum, one [`Valid`] check per structure, and [`Input`], the decoded request), through serde,
//! so that `tributary-protocol` can run it over either wire format ([`Source`]).
//!
//! It is a fast path with no error messages. On anything it does not accept at once (a type
//! mismatch, bad base64, a missing required member, an enum value the model does not list, a
//! repeated key, a number needing conversion, a constraint the input breaks) it gives up and
//! the reference path of `tributary-protocol` (its `check` and `validate`) decides,
//! and words AWS's answer. What it accepts is exactly what the reference path accepts; the
//! differential tests and the `json_decode` and `cbor_decode` fuzz targets hold the two
//! together.
//!
//! JSON is read by serde_json and CBOR by ciborium, through serde. The decoders ask the
//! deserializer which format it reads (`is_human_readable`): the formats differ only in
//! timestamps (epoch seconds in JSON, milliseconds in CBOR) and in CBOR's byte strings and tags.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use bytes::{Bytes, BytesMut};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

pub use crate::generated::decode::Input;
use crate::Timestamp;

/// A value the generated code can read from any serde deserializer of the two formats.
pub trait Decode: Sized {
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

/// The model's constraints, checked on the typed value. Only a verdict: the reference path
/// words the `ValidationException` when this says no.
pub trait Valid {
    fn valid(&self) -> bool;
}

/// Where a typed value is read from: a deserializer of one wire format over one body.
pub trait Source {
    /// The whole body as a `T`, or `None` when the reference path must decide.
    fn read<T: Decode>(self) -> Option<T>;
}

/// Leaves the fast path; the message is never shown to anyone.
pub fn give_up<E: de::Error>() -> E {
    E::custom("not on the fast path")
}

/// Reads a `T`, as the argument of `next_value_seed` / `next_element_seed`.
pub struct Seed<T>(PhantomData<T>);

impl<T> Default for Seed<T> {
    fn default() -> Self {
        Seed(PhantomData)
    }
}

impl<'de, T: Decode> DeserializeSeed<'de> for Seed<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::decode(d)
    }
}

/// A member or list item that may be null: null reads as absent, as AWS's deserializer
/// treats it.
pub struct OrNull<T>(PhantomData<T>);

impl<T> Default for OrNull<T> {
    fn default() -> Self {
        OrNull(PhantomData)
    }
}

impl<'de, T: Decode> DeserializeSeed<'de> for OrNull<T> {
    type Value = Option<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, T: Decode> Visitor<'de> for OrNull<T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        T::decode(d).map(Some)
    }
}

/// Marks member `i` as read; a repeated member leaves the fast path (the reference path keeps
/// the first one's place and the last one's value, as Jackson does).
pub fn first_time<E: de::Error>(seen: &mut u64, i: u32) -> Result<(), E> {
    let bit = 1u64 << i;
    if *seen & bit != 0 {
        return Err(give_up());
    }
    *seen |= bit;
    Ok(())
}

/// A required member that was absent (or null).
pub fn required<T, E: de::Error>(v: Option<T>) -> Result<T, E> {
    v.ok_or_else(give_up)
}

/// CBOR tags (ciborium hands them to `visit_enum`): the reference decoder makes tag 1 on a
/// number a timestamp, which only a timestamp member takes, and lets every other tag through
/// to the value it wraps.
pub fn untag<'de, A, V>(data: A, inner: V) -> Result<V::Value, A::Error>
where
    A: EnumAccess<'de>,
    V: Visitor<'de>,
{
    let (_, variant) = data.variant::<de::IgnoredAny>()?;
    variant.tuple_variant(2, TagVisitor(inner))
}

struct TagVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for TagVisitor<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tagged value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V::Value, A::Error> {
        let tag: u64 = seq.next_element()?.ok_or_else(give_up)?;
        let inner = TaggedInner {
            visitor: self.0,
            timestamp: tag == 1,
        };
        seq.next_element_seed(inner)?.ok_or_else(give_up)
    }
}

struct TaggedInner<V> {
    visitor: V,
    timestamp: bool,
}

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for TaggedInner<V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        if self.timestamp {
            // Numbers are all that tag 1 changes.
            d.deserialize_any(NotANumber(self.visitor))
        } else {
            d.deserialize_any(self.visitor)
        }
    }
}

/// Forwards everything but numbers.
struct NotANumber<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for NotANumber<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<V::Value, E> {
        self.0.visit_bool(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        self.0.visit_str(v)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        self.0.visit_string(v)
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<V::Value, E> {
        self.0.visit_bytes(v)
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<V::Value, E> {
        self.0.visit_byte_buf(v)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(data)
    }
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }
}

/// The value under a tag, for a timestamp member: `None` is tag 1.
struct TimeSeed(Option<TimeVisitor>);

impl<'de> DeserializeSeed<'de> for TimeSeed {
    type Value = Timestamp;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Timestamp, D::Error> {
        match self.0 {
            Some(v) => d.deserialize_any(v),
            None => d.deserialize_any(TaggedTime),
        }
    }
}

/// The number under tag 1, for a timestamp member: milliseconds (a fraction is dropped, as the
/// reference decoder does).
struct TaggedTime;

impl<'de> Visitor<'de> for TaggedTime {
    type Value = Timestamp;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("epoch milliseconds")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        Ok(Timestamp(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        i64::try_from(v).map(Timestamp).map_err(|_| give_up())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
        if v.is_finite() {
            Ok(Timestamp(v as i64))
        } else {
            Err(give_up())
        }
    }
}

/// Declares the leaf visitors' `expecting` and the tag pass-through once.
macro_rules! leaf_common {
    ($what:literal) => {
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str($what)
        }
        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
            untag(data, self)
        }
    };
}

struct StrVisitor;
impl<'de> Visitor<'de> for StrVisitor {
    type Value = String;
    leaf_common!("a string");
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
}

impl Decode for String {
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrVisitor)
    }
}

struct BoolVisitor;
impl<'de> Visitor<'de> for BoolVisitor {
    type Value = bool;
    leaf_common!("a boolean");
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
}

impl Decode for bool {
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BoolVisitor)
    }
}

/// Integer and long members: an integer, or a finite number with a fraction, truncated toward
/// minus infinity as AWS does.
struct IntVisitor;
impl<'de> Visitor<'de> for IntVisitor {
    type Value = i64;
    leaf_common!("an integer");
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        // Past i64 the reference path goes through a float: leave that to it.
        i64::try_from(v).map_err(|_| give_up())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        if v.is_finite() {
            Ok(v.floor() as i64)
        } else {
            Err(give_up())
        }
    }
}

impl Decode for i64 {
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor)
    }
}

/// An integer member keeps an `i32`: larger values are clamped, which keeps every verdict
/// of the constraints (a value past `i32` breaks any bound a model integer has, and passes
/// the same checks when the shape has none).
impl Decode for i32 {
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = d.deserialize_any(IntVisitor)?;
        Ok(v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
    }
}

/// Blobs: base64 text (standard alphabet, padded) in either format, or a CBOR byte string.
struct BlobVisitor;
impl<'de> Visitor<'de> for BlobVisitor {
    type Value = Bytes;
    leaf_common!("a blob");
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
        let b64 = v.as_bytes();
        if !b64.len().is_multiple_of(4) {
            return Err(give_up());
        }
        arena_blob(b64.len() / 4 * 3, |out| {
            base64_simd::STANDARD
                .decode(b64, base64_simd::Out::from_slice(out))
                .ok()
                .map(|d| d.len())
        })
        .ok_or_else(give_up)
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
        arena_blob(v.len(), |out| {
            out.copy_from_slice(v);
            Some(v.len())
        })
        .ok_or_else(give_up)
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
        Ok(Bytes::from(v))
    }
}

thread_local! {
    /// The blobs of the body being decoded share one allocation, each a `Bytes` slice of it
    /// split off as it is decoded: PutRecords carries up to 500 of them (see [`blob_arena`]).
    /// The allocation is made at the first blob, of the size the body allows.
    static BLOBS: RefCell<(BytesMut, usize)> = RefCell::new((BytesMut::new(), 0));
}

/// Runs `decode` (the decoding of one body) with blobs cut from one allocation of up to
/// `capacity` bytes, which lives until the last blob cut from it is dropped.
pub fn blob_arena<T>(capacity: usize, decode: impl FnOnce() -> T) -> T {
    BLOBS.with(|b| *b.borrow_mut() = (BytesMut::new(), capacity));
    let out = decode();
    BLOBS.with(|b| *b.borrow_mut() = (BytesMut::new(), 0));
    out
}

/// A blob of at most `max` bytes that `fill` writes (returning how many it wrote), cut from
/// the arena (which grows on its own if the body's estimate was short).
fn arena_blob(max: usize, fill: impl FnOnce(&mut [u8]) -> Option<usize>) -> Option<Bytes> {
    BLOBS.with(|b| {
        let (arena, capacity) = &mut *b.borrow_mut();
        if arena.capacity() == 0 {
            arena.reserve((*capacity).max(max));
        }
        arena.resize(max, 0);
        match fill(&mut arena[..]) {
            Some(n) => {
                arena.truncate(n);
                Some(arena.split().freeze())
            }
            None => {
                arena.clear();
                None
            }
        }
    })
}

impl Decode for Bytes {
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BlobVisitor)
    }
}

/// Timestamps: epoch seconds in JSON (a fraction kept to the millisecond), milliseconds in
/// CBOR.
struct TimeVisitor {
    seconds: bool,
}
impl<'de> Visitor<'de> for TimeVisitor {
    type Value = Timestamp;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a timestamp")
    }
    /// Tag 1: the number it wraps is the timestamp; other tags wrap the same forms as bare
    /// values.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Timestamp, A::Error> {
        let (_, variant) = data.variant::<de::IgnoredAny>()?;
        variant.tuple_variant(2, self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Timestamp, A::Error> {
        // Only reached through `visit_enum`: a timestamp is never a list.
        let tag: u64 = seq.next_element()?.ok_or_else(give_up)?;
        let t = if tag == 1 {
            seq.next_element_seed(TimeSeed(None))?
        } else {
            seq.next_element_seed(TimeSeed(Some(self)))?
        };
        t.ok_or_else(give_up)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        Ok(Timestamp(if self.seconds {
            v.saturating_mul(1000)
        } else {
            v
        }))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        i64::try_from(v)
            .map_err(|_| give_up())
            .and_then(|v| self.visit_i64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
        let ms = if self.seconds { v * 1000.0 } else { v };
        Ok(Timestamp(ms.round() as i64))
    }
}

impl Decode for Timestamp {
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let seconds = d.is_human_readable();
        d.deserialize_any(TimeVisitor { seconds })
    }
}

/// A structure: the generated code reads its members from the map.
pub trait Structure: Sized {
    fn members<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// The visitor of every structure: a map, possibly tagged.
pub struct StructVisitor<T>(PhantomData<T>);

impl<T> Default for StructVisitor<T> {
    fn default() -> Self {
        StructVisitor(PhantomData)
    }
}

impl<'de, T: Structure> Visitor<'de> for StructVisitor<T> {
    type Value = T;
    leaf_common!("a structure");
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::members(map)
    }
}

/// Lists: null items are dropped, as AWS's deserializer drops them.
struct ListVisitor<T>(PhantomData<T>);
impl<'de, T: Decode> Visitor<'de> for ListVisitor<T> {
    type Value = Vec<T>;
    leaf_common!("a list");
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(OrNull::<T>::default())? {
            items.extend(item);
        }
        Ok(items)
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

/// Maps (the model's only one is the tag map): string keys, null values dropped.
struct MapVisitor<V>(PhantomData<V>);
impl<'de, V: Decode> Visitor<'de> for MapVisitor<V> {
    type Value = Vec<(String, V)>;
    leaf_common!("a map");
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Null values are dropped only at the end, so that a key repeated after a null is
        // still seen as repeated.
        let mut entries: Vec<(String, Option<V>)> = Vec::new();
        while let Some(key) = map.next_key_seed(Seed::<String>::default())? {
            let value = map.next_value_seed(OrNull::<V>::default())?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(give_up());
            }
            entries.push((key, value));
        }
        Ok(entries
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }
}

impl<V: Decode> Decode for Vec<(String, V)> {
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MapVisitor(PhantomData))
    }
}

/// An enum member: one of the model's values, or the reference path words the error.
pub fn enum_value<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: fn(&str) -> Option<T>,
) -> Result<T, D::Error> {
    let s = d.deserialize_any(StrVisitor)?;
    parse(&s).ok_or_else(give_up)
}

/// The index of a member key among a structure's members, or `None` for a member the shape
/// does not have. Keys are text in both formats.
pub struct MemberKey(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for MemberKey {
    type Value = Option<u32>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<u32>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MemberKey {
    type Value = Option<u32>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<u32>, E> {
        Ok(self.0.iter().position(|m| *m == v).map(|i| i as u32))
    }
}

/// A member the shape does not have: read and dropped. Not `IgnoredAny`, which skips
/// strings without checking their UTF-8; the reference path rejects a body with invalid
/// UTF-8 anywhere, and so must this one.
pub struct Skip;

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_none<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Skip, D::Error> {
        d.deserialize_any(Skip)
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
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        // Keys must be text, as the reference decoders require of every map.
        while map.next_key_seed(Seed::<String>::default())?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Skip, A::Error> {
        let (_, variant) = data.variant::<de::IgnoredAny>()?;
        variant.tuple_variant(2, SkipTagged)
    }
}

struct SkipTagged;

impl<'de> Visitor<'de> for SkipTagged {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tagged value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        let _tag: u64 = seq.next_element()?.ok_or_else(give_up)?;
        seq.next_element::<Skip>()?.ok_or_else(give_up)
    }
}

/// Constraint checks shared by the generated `valid` impls, in the reference's terms:
/// string lengths count characters, blob lengths bytes.
pub mod rules {
    use crate::ShapeId;

    pub fn len(n: usize, min: Option<i64>, max: Option<i64>) -> bool {
        let n = n as i64;
        min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)
    }

    pub fn chars(s: &str, min: Option<i64>, max: Option<i64>) -> bool {
        // Bytes bound characters from above and from below (four bytes at most each).
        let b = s.len() as i64;
        if min.is_none_or(|m| b / 4 >= m) && max.is_none_or(|m| b <= m) {
            return true;
        }
        len(s.chars().count(), min, max)
    }

    pub fn range(v: i64, min: Option<i64>, max: Option<i64>) -> bool {
        min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)
    }

    pub fn pattern(shape: ShapeId, s: &str) -> bool {
        shape.matches(s)
    }
}
