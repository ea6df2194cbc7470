//! Key and value layouts of the fjall engine. FROZEN: changing any layout here means bumping
//! [`FORMAT_VERSION`] and teaching `open` to migrate or refuse the old one.
//!
//! All integers are big-endian so that byte order equals numeric order (fjall sorts keys as
//! bytes). Arrival times inside KEYS use the order-preserving form of an `i64` (sign bit
//! flipped), so a negative time (a badly set clock) still sorts before a positive one.
//!
//! ```text
//! keyspace "records"   key (20 bytes)                              value
//!   +-----------+----------+-----------+     +----------------+-------------------+
//!   | stream u64| shard u32| offset u64|  -> | arrival_ms i64 | payload (opaque)  |
//!   +-----------+----------+-----------+     +----------------+-------------------+
//!
//! keyspace "by_time"   key (28 bytes)                                          value
//!   +-----------+----------+------------------+-----------+
//!   | stream u64| shard u32| arrival_ms (ord) | offset u64|  -> (empty)
//!   +-----------+----------+------------------+-----------+
//!   One entry per run of records with the same arrival time: `offset` is the first offset of
//!   the run, the run ends where the next entry of the shard begins.
//!
//! keyspace "shards"    key (12 bytes)                value (17 bytes)
//!   +-----------+----------+     +---------+------------------+--------------------+
//!   | stream u64| shard u32|  -> | kind u8 | trim_offset u64  | arrival_floor i64  |
//!   +-----------+----------+     +---------+------------------+--------------------+
//!   kind 1 = live, 2 = deleted (records still being removed in the background).
//!   trim_offset: records below it are invisible (retention).
//!   arrival_floor: newest arrival time known when the entry was written (i64::MIN = none);
//!   kept so that arrival times stay monotonic even when every record has been purged.
//!
//! keyspace "meta"      key (UTF-8 bytes of the MetaStore key)
//!   value: +---------------+---------------+
//!          | revision u64  | value (opaque)|
//!          +---------------+---------------+
//!
//! keyspace "sys"
//!   "format_version" -> u32   storage format of this directory (FORMAT_VERSION)
//!   "meta_revision"  -> u64   last MetaStore revision handed out (revisions are global)
//! ```

use crate::{ShardKey, StorageError, StorageResult};

/// Version of every layout in this file. Checked at open.
pub const FORMAT_VERSION: u32 = 1;

pub const KS_RECORDS: &str = "records";
pub const KS_BY_TIME: &str = "by_time";
pub const KS_SHARDS: &str = "shards";
pub const KS_META: &str = "meta";
pub const KS_SYS: &str = "sys";

pub const SYS_FORMAT: &[u8] = b"format_version";
pub const SYS_META_REVISION: &[u8] = b"meta_revision";

pub const SHARD_PREFIX_LEN: usize = 12;
pub const RECORD_KEY_LEN: usize = SHARD_PREFIX_LEN + 8;
pub const TIME_KEY_LEN: usize = SHARD_PREFIX_LEN + 16;
const ARRIVAL_LEN: usize = 8;
const SHARD_VALUE_LEN: usize = 17;

const KIND_LIVE: u8 = 1;
const KIND_DELETED: u8 = 2;

pub fn shard_prefix(shard: ShardKey) -> [u8; SHARD_PREFIX_LEN] {
    let mut k = [0u8; SHARD_PREFIX_LEN];
    k[..8].copy_from_slice(&shard.stream.to_be_bytes());
    k[8..].copy_from_slice(&shard.shard.to_be_bytes());
    k
}

pub fn decode_shard_prefix(key: &[u8]) -> StorageResult<ShardKey> {
    if key.len() < SHARD_PREFIX_LEN {
        return Err(corrupt("shard key", key.len()));
    }
    Ok(ShardKey {
        stream: be_u64(&key[..8]),
        shard: be_u32(&key[8..12]),
    })
}

pub fn record_key(shard: ShardKey, offset: u64) -> [u8; RECORD_KEY_LEN] {
    let mut k = [0u8; RECORD_KEY_LEN];
    k[..SHARD_PREFIX_LEN].copy_from_slice(&shard_prefix(shard));
    k[SHARD_PREFIX_LEN..].copy_from_slice(&offset.to_be_bytes());
    k
}

/// The offset part of a record key.
pub fn record_key_offset(key: &[u8]) -> StorageResult<u64> {
    if key.len() != RECORD_KEY_LEN {
        return Err(corrupt("record key", key.len()));
    }
    Ok(be_u64(&key[SHARD_PREFIX_LEN..]))
}

pub fn record_value(arrival_ms: i64, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(ARRIVAL_LEN + payload.len());
    v.extend_from_slice(&arrival_ms.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Splits a record value into its arrival time and payload.
pub fn split_record_value(value: &[u8]) -> StorageResult<(i64, &[u8])> {
    if value.len() < ARRIVAL_LEN {
        return Err(corrupt("record value", value.len()));
    }
    let (arrival, payload) = value.split_at(ARRIVAL_LEN);
    Ok((be_u64(arrival) as i64, payload))
}

pub fn time_key(shard: ShardKey, arrival_ms: i64, offset: u64) -> [u8; TIME_KEY_LEN] {
    let mut k = [0u8; TIME_KEY_LEN];
    k[..SHARD_PREFIX_LEN].copy_from_slice(&shard_prefix(shard));
    k[SHARD_PREFIX_LEN..SHARD_PREFIX_LEN + 8].copy_from_slice(&ordered_i64(arrival_ms));
    k[SHARD_PREFIX_LEN + 8..].copy_from_slice(&offset.to_be_bytes());
    k
}

/// `(arrival_ms, offset)` of a time-index key.
pub fn decode_time_key(key: &[u8]) -> StorageResult<(i64, u64)> {
    if key.len() != TIME_KEY_LEN {
        return Err(corrupt("time index key", key.len()));
    }
    let arrival = (be_u64(&key[SHARD_PREFIX_LEN..SHARD_PREFIX_LEN + 8]) ^ SIGN_BIT) as i64;
    Ok((arrival, be_u64(&key[SHARD_PREFIX_LEN + 8..])))
}

/// Persisted per-shard state (the "shards" keyspace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRecord {
    pub deleted: bool,
    pub trim_offset: u64,
    pub arrival_floor: Option<i64>,
}

impl ShardRecord {
    pub fn encode(&self) -> [u8; SHARD_VALUE_LEN] {
        let mut v = [0u8; SHARD_VALUE_LEN];
        v[0] = if self.deleted {
            KIND_DELETED
        } else {
            KIND_LIVE
        };
        v[1..9].copy_from_slice(&self.trim_offset.to_be_bytes());
        v[9..].copy_from_slice(&self.arrival_floor.unwrap_or(i64::MIN).to_be_bytes());
        v
    }

    pub fn decode(value: &[u8]) -> StorageResult<Self> {
        if value.len() != SHARD_VALUE_LEN {
            return Err(corrupt("shard state", value.len()));
        }
        let deleted = match value[0] {
            KIND_LIVE => false,
            KIND_DELETED => true,
            other => {
                return Err(StorageError::Corrupt(format!(
                    "unknown shard state kind {other}"
                )))
            }
        };
        let floor = be_u64(&value[9..]) as i64;
        Ok(Self {
            deleted,
            trim_offset: be_u64(&value[1..9]),
            arrival_floor: (floor != i64::MIN).then_some(floor),
        })
    }
}

pub fn meta_value(revision: u64, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + value.len());
    v.extend_from_slice(&revision.to_be_bytes());
    v.extend_from_slice(value);
    v
}

pub fn split_meta_value(value: &[u8]) -> StorageResult<(u64, &[u8])> {
    if value.len() < 8 {
        return Err(corrupt("metadata value", value.len()));
    }
    let (rev, rest) = value.split_at(8);
    Ok((be_u64(rev), rest))
}

pub fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

pub fn be_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

const SIGN_BIT: u64 = 1 << 63;

fn ordered_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ SIGN_BIT).to_be_bytes()
}

fn corrupt(what: &str, len: usize) -> StorageError {
    StorageError::Corrupt(format!("{what} has unexpected length {len}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: ShardKey = ShardKey {
        stream: 7,
        shard: 3,
    };

    #[test]
    fn record_keys_sort_by_shard_then_offset() {
        let other = ShardKey {
            stream: 7,
            shard: 4,
        };
        assert!(record_key(S, 1) < record_key(S, 256));
        assert!(record_key(S, u64::MAX) < record_key(other, 0));
        assert_eq!(record_key_offset(&record_key(S, 300)).unwrap(), 300);
        assert_eq!(decode_shard_prefix(&record_key(S, 9)).unwrap(), S);
    }

    #[test]
    fn time_keys_sort_by_time_including_negative() {
        assert!(time_key(S, -5, 9) < time_key(S, 0, 0));
        assert!(time_key(S, 1_000, 9) < time_key(S, 1_001, 0));
        assert_eq!(decode_time_key(&time_key(S, -5, 9)).unwrap(), (-5, 9));
        assert_eq!(
            decode_time_key(&time_key(S, 1_700_000_000_000, 4)).unwrap(),
            (1_700_000_000_000, 4)
        );
    }

    #[test]
    fn values_round_trip_and_reject_garbage() {
        let v = record_value(-3, b"abc");
        assert_eq!(split_record_value(&v).unwrap(), (-3, &b"abc"[..]));
        assert!(split_record_value(b"short").is_err());
        let m = meta_value(42, b"x");
        assert_eq!(split_meta_value(&m).unwrap(), (42, &b"x"[..]));
        let s = ShardRecord {
            deleted: true,
            trim_offset: 17,
            arrival_floor: None,
        };
        assert_eq!(ShardRecord::decode(&s.encode()).unwrap(), s);
        let mut bad = s.encode();
        bad[0] = 9;
        assert!(ShardRecord::decode(&bad).is_err());
    }
}
