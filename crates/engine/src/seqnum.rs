//! Sequence numbers in AWS's layout: 56 decimal digits whose hexadecimal form (47 digits) has
//! fixed fields, strictly increasing within a shard, children above their parents.
//!
//! ## AWS's layout ("version 2")
//!
//! ```text
//!  hex digit: 0   1 ....... 9   10   11 ............ 26   27 28   29 ...... 37   38 ...... 45   46
//!           +---+-------------+----+------------------+-------+--------------+--------------+---+
//!           | 2 | shard born  | ix | sequence counter | byte  | arrival time | shard index  | 2 |
//!           +---+-------------+----+------------------+-------+--------------+--------------+---+
//!             1    9 digits     1       16 digits       2        9 digits       8 digits     1
//!                  seconds     low     top bit 0               seconds       top bit 0    version
//!                             nibble
//!                             of ix
//! ```
//!
//! The leading `2` puts every number between 2^185 and 1.5 * 2^185, which is 56 decimal
//! digits. Sources, decoded in this module's tests:
//! - AWS Lambda's "Example Kinesis Record Event": 4959033827...6588898 on shardId-000000000006
//!   with approximateArrivalTimestamp 1545084650.987 decodes to shard index 6 (both places)
//!   and arrival second 1545084650.
//! - The Kinesis Developer Guide's CLI walkthrough: put-record answering 4954698668...6785154
//!   on shardId-000000000000 decodes to shard index 0, born 1421279230, arrival 1421279386.
//! - kinesalite db/index.js `parseSequence` states the positions, the versions AWS accepts
//!   (the older 1 and 0 forms too) and the checks; its tests, run against AWS, record the
//!   answers (see `parse`).
//!
//! ## What this server puts in the fields
//!
//! - **shard born** (36 bits): the internal stream incarnation plus the shard index. AWS's
//!   shard creation second rises from parent to child; so does this sum, because a child's
//!   index is above its parent's, and so children's numbers exceed their parents' (what
//!   SequenceNumberForOrdering promises). The shard index is in the number too, so
//!   `born - index` gives the stream id back exactly: a deleted and re-created stream's
//!   numbers are rejected ("did not come from this stream"). Limit: stream id + shard index
//!   below 2^36 (stream ids stop at [`max_stream_id`]).
//! - **sequence counter** (63 usable bits): the record's dense offset in its shard, so numbers
//!   strictly increase within a shard. Limit: offsets below 2^63 - 1 (2^63 - 1 is the closed
//!   shard's EndingSequenceNumber).
//! - **byte**: 0, as in every published AWS number.
//! - **arrival time**: the record's arrival second. Informational, and lets a
//!   SequenceNumberForOrdering from the future be rejected as AWS does.
//!
//! A number at time 0 is a *position*, just before the record at its offset, and never a
//! record's number: a shard's StartingSequenceNumber (offset 0) and SubscribeToShard's
//! ContinuationSequenceNumber (the next offset to read). AFTER_SEQUENCE_NUMBER with a
//! position starts at its offset, so resuming from either never skips a record.
//!
//! ## Release 0.1's layout, still accepted
//!
//! ```text
//!  digit:  0   1 ........ 12   13 ..... 22   23 .............. 42   43 ......... 55
//!        +---+--------------+--------------+----------------------+---------------+
//!        | 1 |  stream id   | shard index  |   offset in shard    |  arrival ms   |
//!        +---+--------------+--------------+----------------------+---------------+
//! ```
//!
//! Zero-padded decimal fields. These values (1e55 to 2e55) lie below AWS's range, so no AWS
//! number is mistaken for one; clients' checkpoints from 0.1 keep positioning iterators.

mod parse;
mod wide;

pub(crate) use parse::{ordering, starting, OrderingCheck};
use wide::Wide;

/// Version digit of release 0.1's layout.
const LEGACY_VERSION: u8 = b'1';
const LEGACY_LEN: usize = 56;

/// Bit positions of the fields in AWS's layout (see the diagram; bit 0 is the version).
const BORN_SHIFT: u32 = 148;
const IX_NIBBLE_SHIFT: u32 = 144;
const COUNTER_SHIFT: u32 = 80;
const TIME_SHIFT: u32 = 36;
const SHARD_SHIFT: u32 = 4;
/// The leading hex digit `2`.
const LEAD_BIT: u32 = 185;
const VERSION: u64 = 2;

/// The highest offset (and shard-end marker) the 63-bit counter holds.
const MAX_OFFSET: u64 = i64::MAX as u64;
/// The highest shard index AWS accepts (top bit of its field clear).
const MAX_SHARD: u32 = i32::MAX as u32;
const MAX_BORN: u64 = (1 << 36) - 1;
/// Stream ids leave room for every shard index in the born field.
const MAX_STREAM: u64 = MAX_BORN - MAX_SHARD as u64;
const MAX_TIME_S: u64 = (1 << 36) - 1;

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
        debug_assert!(stream <= MAX_STREAM && shard <= MAX_SHARD);
        SeqNum {
            stream,
            shard,
            offset,
            time_ms: time_ms.max(0) as u64,
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

    /// The EndingSequenceNumber of a shard closed at `closed_ms`: above every offset.
    pub(crate) fn shard_end(stream: u64, shard: u32, closed_ms: i64) -> Self {
        SeqNum::new(stream, shard, MAX_OFFSET, closed_ms)
    }

    /// AWS's layout, in decimal. Every record of every put and read needs one.
    pub(crate) fn encode(&self) -> String {
        let shard = u64::from(self.shard.min(MAX_SHARD));
        let mut w = Wide::default();
        w.set_bit(LEAD_BIT);
        w.put(BORN_SHIFT, 36, (self.stream + shard).min(MAX_BORN));
        w.put(IX_NIBBLE_SHIFT, 4, shard & 0xf);
        w.put(COUNTER_SHIFT, 64, self.offset.min(MAX_OFFSET));
        w.put(TIME_SHIFT, 36, (self.time_ms / 1000).min(MAX_TIME_S));
        w.put(SHARD_SHIFT, 32, shard);
        w.put(0, 4, VERSION);
        let mut s = String::with_capacity(56);
        w.push_decimal(&mut s);
        s
    }

    /// The number, if this server issued it (in either layout) and it is well-formed.
    pub(crate) fn decode(s: &str) -> Option<SeqNum> {
        parse::ours(s)
    }

    /// Release 0.1's layout, only as input.
    fn decode_legacy(s: &str) -> Option<SeqNum> {
        let b = s.as_bytes();
        if b.len() != LEGACY_LEN || b[0] != LEGACY_VERSION || !b.iter().all(u8::is_ascii_digit) {
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
mod tests;
