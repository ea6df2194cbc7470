//! What the engine persists in the MetaStore: key layout and the versioned JSON records.
//!
//! ```text
//! key                                   value (JSON, every record has "v": 1)
//! engine/secret                         SecretRecord    HMAC key for iterators and tokens
//! engine/next-stream-id                 CounterRecord   next internal stream id
//! stream/{account}/{region}/{name}      StreamRecord    one stream: state, settings, shards
//! policy/{resource arn}                 PolicyRecord    resource policy document
//! account/{account}/{region}            AccountRecord   account settings
//! consumer/{account}/{region}/{stream}/{consumer}
//!                                       ConsumerRecord  one enhanced fan-out consumer
//! datakey/{stream id}/{data key id}     DataKeyRecord   a data key's ciphertext blob
//! ```
//!
//! Stream encryption added the optional `encryption` field to the StreamRecord and the
//! `encryption` pending transition; both are additive (absent in older records, which load
//! unchanged), so the format version stays 1. An older engine ignores the field (and
//! refuses a pending op it does not know), which is why a downgrade after encrypting a
//! stream is not supported (see docs/engine.md).
//!
//! Consumers have records of their own rather than a field of the StreamRecord, so the
//! stream format stays as it was; a ConsumerRecord names the stream incarnation (`stream_id`)
//! it belongs to, and one left behind by a deleted stream is removed at open.
//!
//! Names, regions and account ids cannot contain '/', so keys are unambiguous. Every write
//! is a create-if-absent or a compare-and-set on the revision read with the cached value.
//! A record with a `v` this engine does not know makes `Engine::open` fail rather than
//! guess: formats only change with a new version number and a migration.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tributary_storage::MetaEntry;

/// The version written into every record.
pub(crate) const FORMAT_VERSION: u32 = 1;

pub(crate) const SECRET_KEY: &str = "engine/secret";
pub(crate) const NEXT_STREAM_ID_KEY: &str = "engine/next-stream-id";
pub(crate) const STREAM_PREFIX: &str = "stream/";
pub(crate) const POLICY_PREFIX: &str = "policy/";
pub(crate) const ACCOUNT_PREFIX: &str = "account/";
pub(crate) const CONSUMER_PREFIX: &str = "consumer/";
pub(crate) const DATAKEY_PREFIX: &str = "datakey/";

pub(crate) fn stream_key(account: &str, region: &str, name: &str) -> String {
    format!("{STREAM_PREFIX}{account}/{region}/{name}")
}

pub(crate) fn policy_key(arn: &str) -> String {
    format!("{POLICY_PREFIX}{arn}")
}

pub(crate) fn account_key(account: &str, region: &str) -> String {
    format!("{ACCOUNT_PREFIX}{account}/{region}")
}

pub(crate) fn consumer_key(account: &str, region: &str, stream: &str, consumer: &str) -> String {
    format!("{CONSUMER_PREFIX}{account}/{region}/{stream}/{consumer}")
}

/// Every data key of one stream incarnation sorts under this prefix.
pub(crate) fn datakey_prefix(stream_id: u64) -> String {
    format!("{DATAKEY_PREFIX}{stream_id}/")
}

pub(crate) fn datakey_key(stream_id: u64, data_key_id: u64) -> String {
    format!("{DATAKEY_PREFIX}{stream_id}/{data_key_id}")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SecretRecord {
    pub v: u32,
    /// 32 bytes, standard base64.
    pub hmac_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CounterRecord {
    pub v: u32,
    pub next: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PolicyRecord {
    pub v: u32,
    pub arn: String,
    pub policy: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct AccountRecord {
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<Commitment>,
}

/// The MinimumThroughputBillingCommitment account setting.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Commitment {
    pub enabled: bool,
    pub started_ms: i64,
    pub earliest_end_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StreamRecord {
    pub v: u32,
    /// Internal incarnation id: ShardKey.stream, and part of every sequence number.
    pub id: u64,
    pub account: String,
    pub region: String,
    pub name: String,
    pub created_ms: i64,
    pub status: Status,
    pub mode: Mode,
    pub retention_hours: u32,
    pub max_record_kib: u32,
    pub distribution: Distribution,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_mibps: Option<u32>,
    /// Enabled shard-level metrics, in canonical order.
    #[serde(default)]
    pub metrics: Vec<Metric>,
    /// Sorted by key.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Index the next new shard gets; indices are never reused.
    pub next_shard: u32,
    /// Every shard not yet pruned, by index.
    pub shards: Vec<ShardRecord>,
    /// A transition scheduled by the state machine (see `lifecycle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// Server-side encryption, when on: new records are sealed under data keys of this
    /// KMS key. Absent in records written before encryption existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

/// The KMS key a stream's new records are encrypted under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Encryption {
    /// The KeyId as the caller gave it (key id, key ARN, alias name or alias ARN):
    /// DescribeStream reports it back unchanged, as AWS does.
    pub key_id: String,
    /// The key's ARN as the key service resolved it: what data keys are made under and
    /// what the authorization layer checks.
    pub key_arn: String,
}

/// One data key of one stream: the key service's ciphertext blob of it, written before any
/// record uses it, so a record never names a key that cannot be recovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DataKeyRecord {
    pub v: u32,
    pub stream_id: u64,
    /// The KMS key ARN the blob decrypts under.
    pub key_arn: String,
    /// Standard base64 of the blob.
    pub ciphertext: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Status {
    Creating,
    Active,
    Updating,
    Deleting,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "CREATING",
            Status::Active => "ACTIVE",
            Status::Updating => "UPDATING",
            Status::Deleting => "DELETING",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Mode {
    Provisioned,
    OnDemand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Distribution {
    Auto,
    UserPartitionKey,
}

/// Shard-level metrics, in the order AWS lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Metric {
    IncomingBytes,
    IncomingRecords,
    OutgoingBytes,
    OutgoingRecords,
    WriteProvisionedThroughputExceeded,
    ReadProvisionedThroughputExceeded,
    IteratorAgeMilliseconds,
}

impl Metric {
    pub(crate) const ALL: [Metric; 7] = [
        Metric::IncomingBytes,
        Metric::IncomingRecords,
        Metric::OutgoingBytes,
        Metric::OutgoingRecords,
        Metric::WriteProvisionedThroughputExceeded,
        Metric::ReadProvisionedThroughputExceeded,
        Metric::IteratorAgeMilliseconds,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ShardRecord {
    pub index: u32,
    #[serde(with = "u128_decimal")]
    pub start: u128,
    #[serde(with = "u128_decimal")]
    pub end: u128,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjacent: Option<u32>,
    pub created_ms: i64,
    /// Set when the shard was split or merged away; it takes no more writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_ms: Option<i64>,
}

impl ShardRecord {
    pub(crate) fn is_open(&self) -> bool {
        self.closed_ms.is_none()
    }
}

/// One enhanced fan-out consumer of one stream incarnation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConsumerRecord {
    pub v: u32,
    /// The `StreamRecord::id` of the stream it was registered with.
    pub stream_id: u64,
    pub account: String,
    pub region: String,
    pub stream: String,
    pub name: String,
    /// Registration time; its whole seconds end the consumer's ARN.
    pub created_ms: i64,
    pub status: ConsumerPhase,
    /// When CREATING becomes ACTIVE, or DELETING becomes gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_ms: Option<i64>,
    /// Sorted by key.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ConsumerPhase {
    Creating,
    Active,
    Deleting,
}

/// A transition that completes at `due_ms` (now, when the configured delay is zero).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Pending {
    /// CREATING -> ACTIVE.
    Activate { due_ms: i64 },
    /// DELETING -> gone.
    Delete { due_ms: i64 },
    /// UPDATING -> ACTIVE with the shards rearranged.
    Reshard { due_ms: i64, plan: Plan },
    /// UPDATING -> ACTIVE in another capacity mode.
    Mode {
        due_ms: i64,
        mode: Mode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warm_mibps: Option<u32>,
    },
    /// UPDATING -> ACTIVE with encryption started (`Some`) or stopped (`None`).
    Encryption {
        due_ms: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encryption: Option<Encryption>,
    },
}

impl Pending {
    pub(crate) fn due_ms(&self) -> i64 {
        match self {
            Pending::Activate { due_ms }
            | Pending::Delete { due_ms }
            | Pending::Reshard { due_ms, .. }
            | Pending::Mode { due_ms, .. }
            | Pending::Encryption { due_ms, .. } => *due_ms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Plan {
    Split {
        shard: u32,
        #[serde(with = "u128_decimal")]
        at: u128,
    },
    Merge {
        shard: u32,
        adjacent: u32,
    },
    Scale {
        target: u32,
    },
}

/// JSON numbers cannot carry 128-bit hash keys exactly; they are stored as decimal strings.
mod u128_decimal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

pub(crate) fn to_bytes<T: Serialize>(record: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(record).expect("metadata records always serialize"))
}

/// Parses a record after checking its format version.
pub(crate) fn from_bytes<T: DeserializeOwned>(value: &[u8]) -> Result<T, String> {
    #[derive(Deserialize)]
    struct Version {
        v: u32,
    }
    let Version { v } = serde_json::from_slice(value).map_err(|e| e.to_string())?;
    if v != FORMAT_VERSION {
        return Err(format!("unsupported format version {v}"));
    }
    serde_json::from_slice(value).map_err(|e| e.to_string())
}

pub(crate) fn from_entry<T: DeserializeOwned>(
    entry: &MetaEntry,
) -> Result<T, crate::EngineOpenError> {
    from_bytes(&entry.value).map_err(|reason| crate::EngineOpenError::Corrupt {
        key: entry.key.clone(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StreamRecord {
        StreamRecord {
            v: FORMAT_VERSION,
            id: 3,
            account: "000000000000".into(),
            region: "us-east-1".into(),
            name: "s".into(),
            created_ms: 1,
            status: Status::Updating,
            mode: Mode::Provisioned,
            retention_hours: 24,
            max_record_kib: 1024,
            distribution: Distribution::UserPartitionKey,
            warm_mibps: None,
            metrics: vec![Metric::IncomingBytes],
            tags: vec![("a".into(), "b".into())],
            next_shard: 1,
            shards: vec![ShardRecord {
                index: 0,
                start: 0,
                end: u128::MAX,
                parent: None,
                adjacent: None,
                created_ms: 1,
                closed_ms: None,
            }],
            pending: Some(Pending::Reshard {
                due_ms: 5,
                plan: Plan::Split {
                    shard: 0,
                    at: 1 << 127,
                },
            }),
            encryption: None,
        }
    }

    #[test]
    fn stream_record_round_trips() {
        let r = sample();
        assert_eq!(from_bytes::<StreamRecord>(&to_bytes(&r)).unwrap(), r);
    }

    #[test]
    fn format_is_frozen() {
        let json: serde_json::Value = serde_json::from_slice(&to_bytes(&sample())).unwrap();
        assert_eq!(json["v"], 1);
        assert_eq!(json["status"], "UPDATING");
        assert_eq!(json["distribution"], "USER_PARTITION_KEY");
        assert_eq!(json["metrics"][0], "IncomingBytes");
        assert_eq!(
            json["shards"][0]["end"],
            "340282366920938463463374607431768211455"
        );
        assert_eq!(json["pending"]["op"], "reshard");
        assert_eq!(json["pending"]["plan"]["kind"], "split");
    }

    #[test]
    fn encryption_format_is_frozen() {
        let enc = Encryption {
            key_id: "alias/orders".into(),
            key_arn: "arn:aws:kms:us-east-1:000000000000:key/k".into(),
        };
        let mut r = sample();
        r.encryption = Some(enc.clone());
        r.pending = Some(Pending::Encryption {
            due_ms: 9,
            encryption: Some(enc),
        });
        let json: serde_json::Value = serde_json::from_slice(&to_bytes(&r)).unwrap();
        assert_eq!(json["encryption"]["key_id"], "alias/orders");
        assert_eq!(
            json["encryption"]["key_arn"],
            "arn:aws:kms:us-east-1:000000000000:key/k"
        );
        assert_eq!(json["pending"]["op"], "encryption");
        assert_eq!(json["pending"]["due_ms"], 9);
        assert_eq!(json["pending"]["encryption"]["key_id"], "alias/orders");
        assert_eq!(from_bytes::<StreamRecord>(&to_bytes(&r)).unwrap(), r);
        // Stopping: the pending transition carries no encryption.
        let stop = Pending::Encryption {
            due_ms: 9,
            encryption: None,
        };
        assert_eq!(
            serde_json::to_string(&stop).unwrap(),
            r#"{"op":"encryption","due_ms":9}"#
        );
        // A record written before encryption existed loads, unencrypted.
        let mut old: serde_json::Value = serde_json::from_slice(&to_bytes(&sample())).unwrap();
        assert!(old.get("encryption").is_none());
        old.as_object_mut().unwrap().remove("pending");
        let loaded: StreamRecord = from_bytes(&serde_json::to_vec(&old).unwrap()).unwrap();
        assert_eq!(loaded.encryption, None);
    }

    #[test]
    fn datakey_format_is_frozen() {
        let r = DataKeyRecord {
            v: FORMAT_VERSION,
            stream_id: 7,
            key_arn: "arn:aws:kms:us-east-1:000000000000:key/k".into(),
            ciphertext: "AAEC".into(),
            created_ms: 5,
        };
        assert_eq!(
            &to_bytes(&r)[..],
            &br#"{"v":1,"stream_id":7,"key_arn":"arn:aws:kms:us-east-1:000000000000:key/k","ciphertext":"AAEC","created_ms":5}"#[..]
        );
        assert_eq!(from_bytes::<DataKeyRecord>(&to_bytes(&r)).unwrap(), r);
        assert_eq!(datakey_key(7, 42), "datakey/7/42");
        assert!(datakey_key(7, 42).starts_with(&datakey_prefix(7)));
        assert!(!datakey_key(70, 1).starts_with(&datakey_prefix(7)));
    }

    #[test]
    fn consumer_format_is_frozen() {
        let r = ConsumerRecord {
            v: FORMAT_VERSION,
            stream_id: 3,
            account: "000000000000".into(),
            region: "us-east-1".into(),
            stream: "s".into(),
            name: "c".into(),
            created_ms: 1_700_000_000_123,
            status: ConsumerPhase::Creating,
            due_ms: Some(1_700_000_001_000),
            tags: vec![("k".into(), "v".into())],
        };
        let json: serde_json::Value = serde_json::from_slice(&to_bytes(&r)).unwrap();
        assert_eq!(json["v"], 1);
        assert_eq!(json["stream_id"], 3);
        assert_eq!(json["status"], "CREATING");
        assert_eq!(json["due_ms"], 1_700_000_001_000i64);
        assert_eq!(json["tags"][0][1], "v");
        assert_eq!(from_bytes::<ConsumerRecord>(&to_bytes(&r)).unwrap(), r);
        assert_eq!(
            consumer_key("1", "r", "s", "c"),
            "consumer/1/r/s/c",
            "keys sort by stream, then consumer name"
        );
    }

    #[test]
    fn unknown_versions_are_refused() {
        let mut json: serde_json::Value = serde_json::from_slice(&to_bytes(&sample())).unwrap();
        json["v"] = 2.into();
        let err = from_bytes::<StreamRecord>(&serde_json::to_vec(&json).unwrap()).unwrap_err();
        assert!(err.contains("version 2"), "{err}");
    }
}
