//! Sequence numbers: 56-digit decimal strings, strictly increasing within a shard.
//!
//! ```text
//!  digit:  0   1 ........ 12   13 ..... 22   23 .............. 42   43 ......... 55
//!        +---+--------------+--------------+----------------------+---------------+
//!        | 1 |  stream id   | shard index  |   offset in shard    |  arrival ms   |
//!        +---+--------------+--------------+----------------------+---------------+
//!         ver    12 digits     10 digits          20 digits           13 digits
//! ```
//!
//! Every field is zero-padded decimal, so numeric order equals string order. Within a
//! shard the offset field decides the order (offsets are dense and unique), which makes
//! numbers strictly increasing. Child shards always get higher indices than their
//! parents, so numbers also keep increasing across a reshard for a given hash key, as
//! SequenceNumberForOrdering expects.
//!
//! - The stream id is the engine's internal stream incarnation; a re-created stream of the
//!   same name gets a new one, so numbers from a deleted stream are rejected.
//! - A number at time 0 is a *position*, just before the record at its offset, and never
//!   a record's number: a shard's StartingSequenceNumber (offset 0) and SubscribeToShard's
//!   ContinuationSequenceNumber (the next offset to read). AFTER_SEQUENCE_NUMBER with a
//!   position starts at its offset, so resuming from either never skips a record.
//! - A closed shard's EndingSequenceNumber is offset `u64::MAX` at the close time (above
//!   every record it can hold).
//! - The arrival time is informational; it lets SequenceNumberForOrdering values from the
//!   future be rejected as AWS does.

/// Version digit of the layout above.
const VERSION: u8 = b'1';
pub(crate) const LEN: usize = 56;
const MAX_STREAM: u64 = 999_999_999_999;
const MAX_TIME: u64 = 9_999_999_999_999;

/// A decoded sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SeqNum {
    pub stream: u64,
    pub shard: u32,
    pub offset: u64,
    pub time_ms: u64,
}

impl SeqNum {
    pub(crate) fn new(stream: u64, shard: u32, offset: u64, time_ms: i64) -> Self {
        debug_assert!(stream <= MAX_STREAM);
        SeqNum {
            stream,
            shard,
            offset,
            time_ms: (time_ms.max(0) as u64).min(MAX_TIME),
        }
    }

    /// The StartingSequenceNumber of a shard.
    pub(crate) fn shard_start(stream: u64, shard: u32) -> Self {
        SeqNum::new(stream, shard, 0, 0)
    }

    /// A position just before the record at `offset`, not any record's number (records
    /// always arrive after time 0): AFTER_SEQUENCE_NUMBER with it starts at `offset`, as
    /// AT_SEQUENCE_NUMBER does. SubscribeToShard's ContinuationSequenceNumber.
    pub(crate) fn position(stream: u64, shard: u32, offset: u64) -> Self {
        SeqNum::new(stream, shard, offset, 0)
    }

    /// True for numbers made by [`SeqNum::position`] (and StartingSequenceNumbers).
    pub(crate) fn is_position(&self) -> bool {
        self.time_ms == 0
    }

    /// The EndingSequenceNumber of a shard closed at `closed_ms`.
    pub(crate) fn shard_end(stream: u64, shard: u32, closed_ms: i64) -> Self {
        SeqNum::new(stream, shard, u64::MAX, closed_ms)
    }

    /// Written digit by digit: every record of every put and read needs one, and `format!`
    /// with four padded fields showed in profiles.
    pub(crate) fn encode(&self) -> String {
        let mut s = String::with_capacity(LEN);
        s.push(VERSION as char);
        push_digits(&mut s, self.stream, 12);
        push_digits(&mut s, u64::from(self.shard), 10);
        push_digits(&mut s, self.offset, 20);
        push_digits(&mut s, self.time_ms, 13);
        s
    }

    /// None unless `s` is a well-formed number of this layout.
    pub(crate) fn decode(s: &str) -> Option<SeqNum> {
        let b = s.as_bytes();
        if b.len() != LEN || b[0] != VERSION || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let stream: u64 = s[1..13].parse().ok()?;
        let shard: u32 = s[13..23].parse().ok()?;
        let offset: u64 = s[23..43].parse().ok()?;
        let time_ms: u64 = s[43..56].parse().ok()?;
        if stream == 0 {
            return None;
        }
        Some(SeqNum {
            stream,
            shard,
            offset,
            time_ms,
        })
    }
}

/// `v` in decimal, zero-padded on the left to `width` digits (wider if it needs more). Two
/// digits per division: a GetRecords answer writes 56 digits for each of its records.
pub(crate) fn push_digits(out: &mut String, v: u64, width: usize) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut buf = [b'0'; 20];
    let mut n = v;
    let mut i = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    let digits = buf.len() - i;
    for _ in digits..width {
        out.push('0');
    }
    // ASCII digits only.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// The highest internal stream id a sequence number can carry.
pub(crate) const fn max_stream_id() -> u64 {
    MAX_STREAM
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_the_padded_layout() {
        for (stream, shard, offset, time) in [
            (1, 0, 0, 0),
            (987_654_321_012, 4_294_967_295, u64::MAX, 9_999_999_999_999),
            (42, 7, 1_000_000, 1_700_000_000_123),
        ] {
            let n = SeqNum {
                stream,
                shard,
                offset,
                time_ms: time,
            };
            let want = format!(
                "{}{stream:012}{shard:010}{offset:020}{time:013}",
                VERSION as char
            );
            assert_eq!(n.encode(), want);
        }
        assert_eq!(
            crate::messages::canonical_shard_id(17),
            "shardId-000000000017"
        );
    }

    #[test]
    fn round_trips() {
        for s in [
            SeqNum::new(1, 0, 0, 0),
            SeqNum::new(42, 7, 123_456, 1_700_000_000_123),
            SeqNum::new(MAX_STREAM, u32::MAX, u64::MAX, MAX_TIME as i64),
        ] {
            let text = s.encode();
            assert_eq!(text.len(), LEN, "{text}");
            assert!(text.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(SeqNum::decode(&text), Some(s));
        }
    }

    #[test]
    fn strictly_increasing_within_a_shard_whatever_the_time() {
        let a = SeqNum::new(9, 3, 10, 2_000_000_000_000).encode();
        let b = SeqNum::new(9, 3, 11, 1_000_000_000_000).encode();
        assert!(a < b);
        assert!(numeric_lt(&a, &b));
    }

    #[test]
    fn shard_bounds_enclose_records() {
        let start = SeqNum::shard_start(5, 2).encode();
        let first = SeqNum::new(5, 2, 0, 1_700_000_000_000).encode();
        let last = SeqNum::new(5, 2, u64::MAX - 1, 9_000_000_000_000).encode();
        let end = SeqNum::shard_end(5, 2, 1).encode();
        assert!(start <= first && first < last && last < end);
    }

    #[test]
    fn children_number_above_parents() {
        let parent = SeqNum::new(5, 0, 1_000_000, 0).encode();
        let child = SeqNum::new(5, 1, 0, 0).encode();
        assert!(parent < child);
    }

    #[test]
    fn rejects_malformed() {
        let good = SeqNum::new(1, 2, 3, 4).encode();
        assert!(SeqNum::decode(&good[1..]).is_none());
        assert!(SeqNum::decode(&format!("{good}0")).is_none());
        assert!(SeqNum::decode(&format!("2{}", &good[1..])).is_none());
        assert!(SeqNum::decode(&good.replace('2', "x")).is_none());
        assert!(SeqNum::decode("5").is_none());
        // Stream id 0 never exists.
        assert!(SeqNum::decode(&format!("1{}", "0".repeat(55))).is_none());
        // Offset field above u64::MAX.
        let over = format!("1{:012}{:010}{}{:013}", 1, 0, "9".repeat(20), 0);
        assert!(SeqNum::decode(&over).is_none());
        // Shard field above u32::MAX.
        let over = format!("1{:012}{}{:020}{:013}", 1, "9".repeat(10), 0, 0);
        assert!(SeqNum::decode(&over).is_none());
    }

    fn numeric_lt(a: &str, b: &str) -> bool {
        a.len() < b.len() || (a.len() == b.len() && a < b)
    }
}
