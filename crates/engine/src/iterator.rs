//! Shard iterators: where a reader is in one shard, sealed so clients cannot forge them.
//!
//! ```text
//! body (sealed by token::Sealer, which appends a 32-byte HMAC-SHA256):
//!  off  size  field
//!   0    1    kind = 1 (shard iterator)
//!   1    1    layout version = 1
//!   2    8    issued at, ms since epoch (i64 BE)     -- expiry after EngineConfig::iterator_ttl
//!  10    8    internal stream id (u64 BE)            -- a re-created stream gets a new id
//!  18    4    shard index (u32 BE)
//!  22    1    position kind: 0 = offset, 1 = arrival time (unresolved AT_TIMESTAMP)
//!  23    8    offset (u64 BE) or arrival ms (i64 BE)
//!  31  1+n    account id (length-prefixed)           -- for messages once the stream is gone
//!   .  1+n    stream name (length-prefixed)
//! ```
//!
//! The token's outward form is AWS's (see `token.rs`): 204 characters for short names, 288
//! for a 12-digit account and a 128-character stream name, well inside the model's 512.
//!
//! GetRecords also takes the iterator wrapped in double quotes, as AWS does: scripts that
//! pass `jq .ShardIterator` output (quotes included) to `aws kinesis get-records` read
//! records from AWS (a public AWS CLI walkthrough records exactly that, with AWS's answer).

use crate::token::{Reader, Sealer, Writer, KIND_SHARD_ITERATOR};

const VERSION: u8 = 1;

/// Where the next GetRecords starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Position {
    /// The record at this offset, or the first one kept after it.
    Offset(u64),
    /// The first record that arrived at or after this time (AT_TIMESTAMP before any read).
    Time(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShardIterator {
    pub issued_ms: i64,
    pub stream_id: u64,
    pub shard: u32,
    pub position: Position,
    pub account: String,
    pub stream_name: String,
}

impl ShardIterator {
    pub(crate) fn seal(&self, sealer: &Sealer) -> String {
        let mut w = Writer::new(KIND_SHARD_ITERATOR, VERSION);
        w.i64(self.issued_ms).u64(self.stream_id).u32(self.shard);
        match self.position {
            Position::Offset(o) => w.u8(0).u64(o),
            Position::Time(t) => w.u8(1).i64(t),
        };
        w.str(&self.account).str(&self.stream_name);
        sealer.seal(&w.finish())
    }

    /// None when the token is not one this server issued (forged, truncated, other kind).
    /// One pair of surrounding double quotes is ignored (see the module doc).
    pub(crate) fn open(sealer: &Sealer, token: &str) -> Option<ShardIterator> {
        let token = token
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(token);
        let body = sealer.open(KIND_SHARD_ITERATOR, token)?;
        let mut r = Reader::new(&body, VERSION)?;
        let issued_ms = r.i64()?;
        let stream_id = r.u64()?;
        let shard = r.u32()?;
        let position = match r.u8()? {
            0 => Position::Offset(r.u64()?),
            1 => Position::Time(r.i64()?),
            _ => return None,
        };
        let account = r.str()?;
        let stream_name = r.str()?;
        r.done().then_some(ShardIterator {
            issued_ms,
            stream_id,
            shard,
            position,
            account,
            stream_name,
        })
    }

    /// True once `ttl_ms` has passed since the iterator was issued.
    pub(crate) fn expired(&self, now_ms: i64, ttl_ms: i64) -> bool {
        now_ms - self.issued_ms > ttl_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    fn sample() -> ShardIterator {
        ShardIterator {
            issued_ms: 1_700_000_000_000,
            stream_id: 77,
            shard: 3,
            position: Position::Offset(12_345),
            account: "123456789012".into(),
            stream_name: "orders".into(),
        }
    }

    #[test]
    fn round_trips_both_positions() {
        let s = Sealer::new([1; 32]);
        let mut it = sample();
        assert_eq!(ShardIterator::open(&s, &it.seal(&s)), Some(it.clone()));
        it.position = Position::Time(1_699_999_999_000);
        assert_eq!(ShardIterator::open(&s, &it.seal(&s)), Some(it));
    }

    #[test]
    fn fits_the_model_limit_with_the_longest_names() {
        let s = Sealer::new([1; 32]);
        let mut it = sample();
        it.stream_name = "n".repeat(128);
        it.account = "a".repeat(64);
        assert!(it.seal(&s).len() <= 512);
        it.account = "123456789012".into();
        assert_eq!(it.seal(&s).len(), 288);
        it.stream_name = "orders".into();
        assert_eq!(it.seal(&s).len(), 204);
    }

    #[test]
    fn tampering_is_detected() {
        let s = Sealer::new([1; 32]);
        let token = sample().seal(&s);
        let mut raw = STANDARD.decode(&token).unwrap();
        // Flip the offset (after the 8-byte prefix): the MAC no longer matches.
        raw[38] ^= 0x01;
        assert!(ShardIterator::open(&s, &STANDARD.encode(&raw)).is_none());
        assert!(ShardIterator::open(&s, &token[..token.len() - 1]).is_none());
        assert!(ShardIterator::open(&Sealer::new([2; 32]), &token).is_none());
        assert!(ShardIterator::open(&s, "AAAAAAAAAAE=").is_none());
        // Quotes are taken only as one surrounding pair.
        assert!(ShardIterator::open(&s, &format!("\"{token}")).is_none());
        assert!(ShardIterator::open(&s, &format!("\"\"{token}\"\"")).is_none());
    }

    #[test]
    fn a_quoted_iterator_opens() {
        let s = Sealer::new([1; 32]);
        let it = sample();
        let token = it.seal(&s);
        assert_eq!(ShardIterator::open(&s, &format!("\"{token}\"")), Some(it));
    }

    #[test]
    fn expiry() {
        let it = sample();
        assert!(!it.expired(it.issued_ms + 300_000, 300_000));
        assert!(it.expired(it.issued_ms + 300_001, 300_000));
    }
}
