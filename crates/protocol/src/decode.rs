//! The typed decoders of `tributary-model` over the two wire formats: serde_json for JSON,
//! ciborium for CBOR (the reference path reads each format with the same library, so both
//! paths accept the same bytes).

use serde::de;
use tributary_model::decode::{blob_arena, Decode, Source};

use crate::Format;

/// One request body in one format.
pub(crate) struct Body<'a> {
    pub format: Format,
    pub bytes: &'a [u8],
}

impl Source for Body<'_> {
    fn read<T: Decode>(self) -> Option<T> {
        // Blobs are at most three quarters of the base64 that carries them in JSON, and
        // smaller than the body in CBOR.
        let capacity = match self.format {
            Format::Json => self.bytes.len() / 4 * 3,
            Format::Cbor => self.bytes.len(),
        };
        blob_arena(capacity, || self.read_now())
    }
}

impl Body<'_> {
    fn read_now<T: Decode>(self) -> Option<T> {
        match self.format {
            Format::Json => {
                let mut de = serde_json::Deserializer::from_slice(self.bytes);
                let v = T::decode(&mut de).ok()?;
                de.end().ok()?;
                Some(v)
            }
            Format::Cbor => {
                let mut rest = self.bytes;
                let Top(v) = ciborium::de::from_reader_with_recursion_limit::<Top<T>, _>(
                    &mut rest,
                    crate::cbor::MAX_DEPTH,
                )
                .ok()?;
                // One item and nothing after it, as the reference decoder requires.
                rest.is_empty().then_some(v)
            }
        }
    }
}

/// ciborium takes an owned `Deserialize` type at the top.
struct Top<T>(T);

impl<'de, T: Decode> de::Deserialize<'de> for Top<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::decode(d).map(Top)
    }
}
