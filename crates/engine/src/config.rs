//! What the server hands the engine: its configuration, the caller's scope, stream
//! declarations from the config file, and the errors of [`Engine::open`](crate::Engine::open).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tributary_kms::KeyService;

use crate::{FaultPlan, LimitClock, ThroughputLimits};

use tributary_storage::{MetaError, StorageError};

/// Engine settings. Every field has the AWS-like default of [`EngineConfig::default`].
#[derive(Clone)]
pub struct EngineConfig {
    /// The account used when the server runs without credentials.
    pub default_account_id: String,
    /// How long a new stream stays CREATING (0: ACTIVE when CreateStream returns).
    pub create_delay: Duration,
    /// How long a stream stays DELETING before it disappears.
    pub delete_delay: Duration,
    /// How long resharding and mode changes keep a stream UPDATING.
    pub update_delay: Duration,
    /// Open shards allowed per account and region.
    pub shard_limit: u32,
    /// On-demand streams allowed per account and region.
    pub on_demand_stream_limit: u32,
    /// Lifetime of a shard iterator.
    pub iterator_ttl: Duration,
    /// Lifetime of a ListShards / ListStreams NextToken.
    pub next_token_ttl: Duration,
    /// Period of the background task that trims expired records and prunes expired shards.
    pub retention_interval: Duration,
    /// Shards given to a new on-demand stream.
    pub on_demand_shard_count: u32,
    /// How long a new consumer stays CREATING and a deregistered one DELETING
    /// (0: ACTIVE, or gone, when the call returns).
    pub consumer_delay: Duration,
    /// How long one SubscribeToShard lasts before its event stream ends (AWS: 5 minutes).
    pub subscription_lifetime: Duration,
    /// The longest a subscription stays silent: with nothing new for this long it sends an
    /// empty event (AWS: 5 seconds).
    pub subscription_heartbeat: Duration,
    /// A second SubscribeToShard for the same consumer and shard is refused this long
    /// after the first started; later it takes the subscription over (AWS: 5 seconds).
    pub subscription_takeover: Duration,
    /// The key service stream encryption goes through. `None`: StartStreamEncryption is
    /// refused with KMSNotFoundException (no key can be found where there is no key
    /// service), and streams encrypted before stay unreadable until one is configured.
    pub keys: Option<Arc<dyn KeyService>>,
    /// How long one node writes an encrypted stream's records under one data key before it
    /// asks the key service for a new one (each node start also begins a new one).
    pub data_key_period: Duration,
    /// Throughput limits (`throttle`): off by default (see [`ThroughputLimits::Off`]).
    pub limits: ThroughputLimits,
    /// The clock the throughput limits run on (a manual one in tests).
    pub limits_clock: LimitClock,
    /// Injected faults, for testing clients (`faults`); none by default.
    pub faults: FaultPlan,
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("default_account_id", &self.default_account_id)
            .field("create_delay", &self.create_delay)
            .field("delete_delay", &self.delete_delay)
            .field("update_delay", &self.update_delay)
            .field("shard_limit", &self.shard_limit)
            .field("on_demand_stream_limit", &self.on_demand_stream_limit)
            .field("iterator_ttl", &self.iterator_ttl)
            .field("next_token_ttl", &self.next_token_ttl)
            .field("retention_interval", &self.retention_interval)
            .field("on_demand_shard_count", &self.on_demand_shard_count)
            .field("consumer_delay", &self.consumer_delay)
            .field("subscription_lifetime", &self.subscription_lifetime)
            .field("subscription_heartbeat", &self.subscription_heartbeat)
            .field("subscription_takeover", &self.subscription_takeover)
            .field("keys", &self.keys.as_ref().map(|_| "KeyService"))
            .field("data_key_period", &self.data_key_period)
            .field("limits", &self.limits)
            .field("limits_clock", &self.limits_clock)
            .field("faults", &self.faults)
            .finish()
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            default_account_id: "000000000000".to_owned(),
            create_delay: Duration::ZERO,
            delete_delay: Duration::ZERO,
            update_delay: Duration::ZERO,
            shard_limit: 20_000,
            on_demand_stream_limit: 50,
            iterator_ttl: Duration::from_secs(300),
            next_token_ttl: Duration::from_secs(300),
            retention_interval: Duration::from_secs(5),
            on_demand_shard_count: 4,
            consumer_delay: Duration::ZERO,
            subscription_lifetime: Duration::from_secs(300),
            subscription_heartbeat: Duration::from_secs(5),
            subscription_takeover: Duration::from_secs(5),
            keys: None,
            data_key_period: Duration::from_secs(3600),
            limits: ThroughputLimits::Off,
            limits_clock: LimitClock::default(),
            faults: FaultPlan::default(),
        }
    }
}

/// Who is asking, after authentication: streams live per account and region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestContext {
    pub account_id: String,
    pub region: String,
    /// What the caller may do with KMS keys; `None` allows everything (no credentials
    /// configured, or the engine's own callers).
    pub key_access: Option<KeyAccess>,
}

impl RequestContext {
    pub fn new(account_id: impl Into<String>, region: impl Into<String>) -> Self {
        RequestContext {
            account_id: account_id.into(),
            region: region.into(),
            key_access: None,
        }
    }
}

/// How a request uses a stream's KMS key: the KMS action the caller needs on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUsage {
    /// Sealing new records (`kms:GenerateDataKey`).
    GenerateDataKey,
    /// Opening stored records (`kms:Decrypt`).
    Decrypt,
}

/// The server's decision on the caller's use of KMS keys (its identity policies and the
/// key's policy). The engine asks it for every key a request actually uses, at the point of
/// use: the stream's current key when writing, and the key of each data key that sealed
/// records a read returns (an earlier key after a key change included), batch by batch for
/// subscriptions.
pub trait KeyAccessCheck: Send + Sync {
    /// `Err(message)` when the caller may not; the message becomes the
    /// `KMSAccessDeniedException`'s.
    fn check<'a>(
        &'a self,
        usage: KeyUsage,
        stream_arn: &'a str,
        key_arn: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(), String>>;
}

/// A shared [`KeyAccessCheck`]; equal (and hashed) by identity, so contexts stay comparable.
#[derive(Clone)]
pub struct KeyAccess(pub Arc<dyn KeyAccessCheck>);

impl std::fmt::Debug for KeyAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyAccess(..)")
    }
}

impl PartialEq for KeyAccess {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for KeyAccess {}

impl std::hash::Hash for KeyAccess {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.0) as *const () as usize).hash(state);
    }
}

/// A stream declared in the server's configuration, created at start-up when absent.
/// An existing stream of that name is left exactly as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamDeclaration {
    pub name: String,
    /// Provisioned shard count; ignored when `on_demand` is set. Without it the stream is
    /// on-demand, as CreateStream without ShardCount.
    pub shard_count: Option<u32>,
    pub on_demand: bool,
    pub retention_hours: Option<u32>,
    pub max_record_size_kib: Option<u32>,
    pub tags: BTreeMap<String, String>,
}

/// Why [`Engine::open`](crate::Engine::open) failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineOpenError {
    #[error("metadata store: {0}")]
    Meta(#[from] MetaError),
    #[error("shard log: {0}")]
    Storage(#[from] StorageError),
    #[error("metadata entry {key} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
}
