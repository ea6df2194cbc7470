//! The engine's token and number codecs, reachable from outside the crate only so that
//! `crates/bench` can measure them (criterion benches are separate crates). Thin wrappers:
//! the codecs themselves stay private to their modules.

use crate::iterator::{Position, ShardIterator};
use crate::seqnum::SeqNum;
use crate::token::Sealer;

/// A sequence number in AWS's layout, as the engine issues it.
pub fn encode_sequence_number(stream: u64, shard: u32, offset: u64, time_ms: i64) -> String {
    SeqNum::new(stream, shard, offset, time_ms).encode()
}

/// The offset inside a sequence number, if it is one of this layout.
pub fn decode_sequence_number(s: &str) -> Option<u64> {
    SeqNum::decode(s).map(|n| n.offset)
}

/// Seals and opens shard iterators with one key, as the engine does.
pub struct IteratorCodec(Sealer);

impl IteratorCodec {
    pub fn new(key: [u8; 32]) -> Self {
        IteratorCodec(Sealer::new(key))
    }

    /// An iterator at `offset` of `shard`, issued at `issued_ms`.
    pub fn seal(
        &self,
        issued_ms: i64,
        shard: u32,
        offset: u64,
        account: &str,
        stream: &str,
    ) -> String {
        ShardIterator {
            issued_ms,
            stream_id: 1,
            shard,
            position: Position::Offset(offset),
            account: account.to_owned(),
            stream_name: stream.to_owned(),
        }
        .seal(&self.0)
    }

    /// The offset an iterator points at, or None if this key did not seal it.
    pub fn open(&self, token: &str) -> Option<u64> {
        match ShardIterator::open(&self.0, token)?.position {
            Position::Offset(o) => Some(o),
            Position::Time(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_the_wrappers() {
        let n = encode_sequence_number(3, 1, 77, 1_700_000_000_000);
        assert_eq!(decode_sequence_number(&n), Some(77));
        let c = IteratorCodec::new([1; 32]);
        let t = c.seal(1_700_000_000_000, 2, 99, "000000000000", "s");
        assert_eq!(c.open(&t), Some(99));
        assert_eq!(IteratorCodec::new([2; 32]).open(&t), None);
    }
}
