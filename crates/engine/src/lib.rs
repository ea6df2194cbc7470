//! The Kinesis Data Streams domain, without HTTP: every stream operation as one async method
//! of [`Engine`], taking the generated input type and returning the generated output type
//! and per-operation error enum of `tributary-model`. SubscribeToShard returns a
//! [`Subscription`] the HTTP layer pulls events from.
//!
//! The engine keeps Kinesis semantics above two narrow storage traits: records go to a
//! [`ShardLog`] (one log per shard, opaque payloads), control-plane state to a [`MetaStore`]
//! (compare-and-set). Everything in the MetaStore is cached in memory at [`Engine::open`],
//! so requests never read it; memory grows with the number of streams and shards, never
//! with record volume. Several engines (one per node) may share one store: each follows
//! the store's change feed, so together they answer as one service (`follow`).
//!
//! Modules, from the wire inward:
//!
//! | module | concern |
//! | --- | --- |
//! | `config` | [`EngineConfig`], [`RequestContext`], [`StreamDeclaration`], open errors |
//! | `create` | CreateStream and the declared streams of the config file |
//! | `streams` | DeleteStream, DescribeStream(Summary), ListStreams |
//! | `consumers` | Register/Deregister/DescribeStreamConsumer, ListStreamConsumers, their states |
//! | `subscribe` | SubscribeToShard: [`Subscription`], its wake-ups, one claim per consumer and shard |
//! | `shards` | ListShards and its ShardFilter semantics; how AWS reads shard ids |
//! | `put` | PutRecord, PutRecords: routing, one `ShardLog::append` per request |
//! | `get` | GetShardIterator, GetRecords, ChildShards; starting positions and reads shared with `subscribe` |
//! | `reshard` | SplitShard, MergeShards, UpdateShardCount and the plan they share |
//! | `lifecycle` | the CREATING/UPDATING/DELETING state machine, its timers and recovery |
//! | `retention` | retention operations and the background trim and prune task |
//! | `tags` | stream tags by name, stream and consumer tags by resource ARN |
//! | `settings` | enhanced monitoring, stream mode, record size, warm throughput, distribution |
//! | `limits` | DescribeLimits and the account settings |
//! | `throttle` | throughput limits: per-shard token buckets and the throttle points |
//! | `faults` | injected throttles and internal failures, for testing clients |
//! | `policy` | resource policies (streams and consumers) |
//! | `encryption` | Start/StopStreamEncryption; the stream's key for the authorization layer |
//! | `datakeys` | envelope encryption: per-node data keys, their MetaStore records, the key checks |
//! | `resolve` | addressing a stream by StreamName and/or StreamARN; consumer ARNs |
//! | `routing` | MD5 hash keys, even hash-range splits, the route table |
//! | `seqnum` | the 56-digit sequence-number codec, record numbers and positions |
//! | `iterator`, `token` | sealed shard iterators and NextTokens (HMAC-SHA256) |
//! | `payload` | the record layouts stored in the ShardLog: plain (v1) and sealed (v2) |
//! | `meta`, `state` | persisted records (streams, consumers, ...) and their in-memory cache; in-flight appends and seals per shard |
//! | `wire` | conversions between stored records and the generated wire shapes |
//! | `clock`, `startup` | time helpers; loading the MetaStore at open |
//! | `follow` | the MetaStore's change feed: other nodes' writes, lost races, closing parents everywhere |
//! | `metrics` | stream- and shard-level metrics named after CloudWatch's, their Prometheus exposition |
//! | `messages`, `error` | AWS's messages and the shared failure type |
//!
//! Formats and the state machine are described in `docs/engine.md`.
//!
//! Drive every control-plane future to completion: a change is made durable in the
//! MetaStore before the in-memory cache follows it, across an `.await`, so a future dropped
//! in between leaves the two disagreeing. The server runs every operation that changes state
//! as a task of its own for that reason.

mod clock;
pub mod codecs;
mod config;
mod consumers;
mod create;
mod datakeys;
mod encryption;
mod error;
mod faults;
mod follow;
mod get;
mod iterator;
mod lifecycle;
mod limits;
mod messages;
mod meta;
mod metrics;
mod payload;
mod policy;
mod put;
mod reshard;
mod resolve;
mod retention;
mod routing;
mod seqnum;
mod settings;
mod shards;
mod startup;
mod state;
mod streams;
mod subscribe;
mod tags;
mod throttle;
mod token;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};
use tributary_storage::{MetaStore, Revision, ShardLog};

pub use config::{
    EngineConfig, EngineOpenError, KeyAccess, KeyAccessCheck, KeyUsage, RequestContext,
    StreamDeclaration,
};
pub use faults::{FaultPlan, FaultRule};
pub use subscribe::Subscription;
pub use throttle::{LimitClock, ShardRates, ThroughputLimits};

use crate::meta::AccountRecord;
use crate::state::Registry;
use crate::subscribe::SubscriptionTable;
use crate::token::Sealer;

/// The Kinesis engine of one node. Cheap to share: every method takes `&self`.
pub struct Engine {
    /// The engine's own handle, for the timers and background tasks it spawns; they hold
    /// it weakly so dropping the last `Arc<Engine>` stops them.
    me: Weak<Engine>,
    config: EngineConfig,
    log: Arc<dyn ShardLog>,
    meta: Arc<dyn MetaStore>,
    sealer: Sealer,
    registry: RwLock<Registry>,
    /// Serializes control-plane changes (and the background tasks that make them), so
    /// every compare-and-set starts from the revision in the cache.
    control: tokio::sync::Mutex<()>,
    /// Next internal stream id and the revision of its counter record.
    next_stream_id: Mutex<(u64, Revision)>,
    /// Resource policies by ARN, with their revisions.
    policies: RwLock<HashMap<String, (String, Revision)>>,
    /// Account settings by (account, region).
    accounts: RwLock<HashMap<(String, String), (AccountRecord, Revision)>>,
    /// Open SubscribeToShard subscriptions, one per consumer and shard.
    subscriptions: Arc<SubscriptionTable>,
    /// Keys this engine deleted, until the feed brings the delete: the revision deleted, or
    /// `None` when unknown (see `follow`).
    tombstones: Mutex<HashMap<String, Option<Revision>>>,
    /// Data keys of encrypted streams (`datakeys`).
    data_keys: crate::datakeys::DataKeys,
    /// Injected faults (`faults`).
    faults: crate::faults::Faults,
    /// SubscribeToShard calls per consumer and shard (`throttle`).
    subscribe_calls: crate::throttle::SubscribeCalls,
    /// Control-plane calls per account and operation (`throttle`).
    control_calls: crate::throttle::ControlCalls,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads every stream from `meta`, closes its closed shards in storage, resumes pending
    /// transitions, follows the store's change feed and starts the retention task. Must be
    /// called inside a Tokio runtime.
    pub async fn open(
        config: EngineConfig,
        log: Arc<dyn ShardLog>,
        meta: Arc<dyn MetaStore>,
    ) -> Result<Arc<Engine>, EngineOpenError> {
        // Watch before listing: every write after the listing is in the feed.
        let feed = meta.watch().await?;
        let loaded = startup::load(meta.as_ref()).await?;
        let faults = crate::faults::Faults::new(&config.faults);
        let engine = Arc::new_cyclic(|me| Engine {
            me: me.clone(),
            config,
            log,
            meta,
            sealer: Sealer::new(loaded.secret),
            registry: RwLock::new(loaded.registry),
            control: tokio::sync::Mutex::new(()),
            next_stream_id: Mutex::new(loaded.next_stream_id),
            policies: RwLock::new(loaded.policies),
            accounts: RwLock::new(loaded.accounts),
            subscriptions: Arc::default(),
            tombstones: Mutex::default(),
            data_keys: Default::default(),
            faults,
            subscribe_calls: Default::default(),
            control_calls: Default::default(),
        });
        engine.close_all_closed().await?;
        engine.spawn_follower(feed);
        engine.resume_pending();
        engine.resume_consumers();
        engine.spawn_retention_task();
        Ok(engine)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// SubscribeToShard subscriptions currently open on this node.
    pub fn open_subscriptions(&self) -> usize {
        self.subscriptions.len()
    }
}

/// Every operation's future must be `Send`, so the server can run it on any worker: no
/// lock guard may live across an `.await`. This does not run; it only has to compile.
#[cfg(test)]
#[allow(dead_code, clippy::all)]
mod futures_are_send {
    use super::*;
    use tributary_model::types::*;

    fn send<T: Send>(_: T) {}

    async fn check(e: &Engine, c: &RequestContext) {
        send(e.create_stream(c, Default::default()));
        send(e.ensure_stream(c, Default::default()));
        send(e.delete_stream(c, Default::default()));
        send(e.describe_stream(c, Default::default()));
        send(e.describe_stream_summary(c, Default::default()));
        send(e.list_streams(c, Default::default()));
        send(e.list_shards(c, Default::default()));
        send(e.put_record(c, Default::default()));
        send(e.put_records(c, Default::default()));
        send(e.get_shard_iterator(c, Default::default()));
        send(e.get_records(c, Default::default()));
        send(e.split_shard(c, Default::default()));
        send(e.merge_shards(c, Default::default()));
        send(e.update_shard_count(c, Default::default()));
        send(e.increase_stream_retention_period(c, Default::default()));
        send(e.decrease_stream_retention_period(c, Default::default()));
        send(e.enable_enhanced_monitoring(c, Default::default()));
        send(e.disable_enhanced_monitoring(c, Default::default()));
        send(e.add_tags_to_stream(c, Default::default()));
        send(e.remove_tags_from_stream(c, Default::default()));
        send(e.list_tags_for_stream(c, Default::default()));
        send(e.tag_resource(c, Default::default()));
        send(e.untag_resource(c, Default::default()));
        send(e.list_tags_for_resource(c, Default::default()));
        send(e.update_stream_mode(c, Default::default()));
        send(e.update_max_record_size(c, Default::default()));
        send(e.update_stream_warm_throughput(c, Default::default()));
        send(e.update_stream_record_distribution_strategy(c, Default::default()));
        send(e.describe_limits(c, DescribeLimitsInput {}));
        send(e.describe_account_settings(c, DescribeAccountSettingsInput {}));
        send(e.update_account_settings(c, Default::default()));
        send(e.put_resource_policy(c, Default::default()));
        send(e.get_resource_policy(c, Default::default()));
        send(e.delete_resource_policy(c, Default::default()));
        send(e.register_stream_consumer(c, Default::default()));
        send(e.deregister_stream_consumer(c, Default::default()));
        send(e.describe_stream_consumer(c, Default::default()));
        send(e.list_stream_consumers(c, Default::default()));
        send(e.subscribe_to_shard(c, Default::default()));
        send(e.start_stream_encryption(c, Default::default()));
        send(e.stop_stream_encryption(c, Default::default()));
        let mut sub: Subscription = unreachable();
        send(sub.next_event());
        send(sub);
        send(Engine::open(
            EngineConfig::default(),
            unreachable(),
            unreachable(),
        ));
    }

    fn unreachable<T>() -> T {
        unimplemented!()
    }
}
