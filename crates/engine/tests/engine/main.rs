//! Engine-level tests: every operation through the public API, on in-memory storage, or on
//! the JetStream stores when `TRIBUTARY_TEST_NATS` names a cluster (`scripts/test.sh` runs
//! the suite both ways). A test that needs the in-memory log's hooks (failing or holding
//! appends, moving its clock) checks its point only on the in-memory pass.

mod admin;
mod consumers;
mod durable;
mod encryption;
mod fixture;
mod iterators;
mod lifecycle;
mod limits;
mod metrics;
mod records;
mod reshard;
mod restart;
mod retention;
mod seqnum;
mod shards;
mod streams;
mod subscribe;
mod tags;
mod test_keys;
mod two_nodes;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tributary_engine::{Engine, EngineConfig, RequestContext, Subscription};
use tributary_model::types::*;
use tributary_model::SubscribeToShardError;
use tributary_storage::memory::{MemoryMetaStore, MemoryShardLog};
use tributary_storage::{MetaStore, ShardKey, ShardLog, StorageError};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

pub struct Harness {
    pub engine: Arc<Engine>,
    pub log: Arc<dyn ShardLog>,
    pub meta: Arc<dyn MetaStore>,
    /// The in-memory stores behind `log` and `meta`, on the in-memory pass.
    mem: Option<(Arc<MemoryShardLog>, Arc<MemoryMetaStore>)>,
    /// The cluster prefix of the stores, on the JetStream pass.
    prefix: Option<String>,
    pub ctx: RequestContext,
    pub config: EngineConfig,
}

struct Stores {
    log: Arc<dyn ShardLog>,
    meta: Arc<dyn MetaStore>,
    mem: Option<(Arc<MemoryShardLog>, Arc<MemoryMetaStore>)>,
    prefix: Option<String>,
}

/// Fresh, empty stores: in memory, or under a prefix of their own on the cluster that
/// `TRIBUTARY_TEST_NATS` names.
async fn stores() -> Stores {
    if std::env::var("TRIBUTARY_TEST_NATS").is_err() {
        let (log, meta) = (
            Arc::new(MemoryShardLog::new()),
            Arc::new(MemoryMetaStore::new()),
        );
        return Stores {
            log: log.clone(),
            meta: meta.clone(),
            mem: Some((log, meta)),
            prefix: None,
        };
    }
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    nats_stores(format!("E{}x{n}", std::process::id())).await
}

/// The stores under `prefix` on the cluster `TRIBUTARY_TEST_NATS` names: a connection of
/// its own, as another node would have.
async fn nats_stores(prefix: String) -> Stores {
    let urls = std::env::var("TRIBUTARY_TEST_NATS").expect("TRIBUTARY_TEST_NATS");
    let servers = urls.split(',').map(str::to_owned).collect();
    let mut opts = tributary_storage::NatsOptions::new(servers, prefix.clone());
    // A request lost to a stream deleted under it waits this long: keep it within the
    // tests' own patience.
    opts.request_timeout = Duration::from_secs(2);
    let stores = tributary_storage::connect_nats(&opts)
        .await
        .expect("connect to TRIBUTARY_TEST_NATS");
    Stores {
        log: stores.log,
        meta: stores.meta,
        mem: None,
        prefix: Some(prefix),
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_config(EngineConfig::default()).await
    }

    pub async fn with_config(config: EngineConfig) -> Self {
        let Stores {
            log,
            meta,
            mem,
            prefix,
        } = stores().await;
        let engine = Engine::open(config.clone(), log.clone(), meta.clone())
            .await
            .unwrap();
        Harness {
            engine,
            log,
            meta,
            mem,
            prefix,
            ctx: RequestContext::new(ACCOUNT, REGION),
            config,
        }
    }

    /// A new engine on the same storage, as after a restart.
    pub async fn restart(&mut self) {
        self.engine = Engine::open(self.config.clone(), self.log.clone(), self.meta.clone())
            .await
            .unwrap();
    }

    /// The in-memory log's hooks; `None` on the JetStream pass.
    pub fn hooks(&self) -> Option<&MemoryShardLog> {
        self.mem.as_ref().map(|(log, _)| &**log)
    }

    /// The in-memory metadata store's hooks; `None` on the JetStream pass.
    pub fn meta_hooks(&self) -> Option<&MemoryMetaStore> {
        self.mem.as_ref().map(|(_, meta)| &**meta)
    }

    /// Another node on the same storage: the same in-memory stores, or a connection of its
    /// own under the same cluster prefix.
    pub async fn another_node(&self, config: EngineConfig) -> Harness {
        let stores = match &self.prefix {
            Some(prefix) => nats_stores(prefix.clone()).await,
            None => Stores {
                log: self.log.clone(),
                meta: self.meta.clone(),
                mem: self.mem.clone(),
                prefix: None,
            },
        };
        let engine = Engine::open(config.clone(), stores.log.clone(), stores.meta.clone())
            .await
            .unwrap();
        Harness {
            engine,
            log: stores.log,
            meta: stores.meta,
            mem: stores.mem,
            prefix: stores.prefix,
            ctx: RequestContext::new(ACCOUNT, REGION),
            config,
        }
    }

    /// Every metadata key.
    pub async fn meta_keys(&self) -> Vec<String> {
        let entries = self.meta.list("").await.unwrap();
        entries.into_iter().map(|e| e.key).collect()
    }

    /// The first metadata key under `prefix`.
    pub async fn meta_key(&self, prefix: &str) -> String {
        let entries = self.meta.list(prefix).await.unwrap();
        entries
            .into_iter()
            .next()
            .expect("a key under the prefix")
            .key
    }

    /// Replaces a metadata value behind the engine's back (a compare-and-set at its current
    /// revision, so it works on every store).
    pub async fn overwrite(&self, key: &str, value: Bytes) {
        let current = self.meta.get(key).await.unwrap().expect("the key exists");
        self.meta
            .update(key, value, current.revision)
            .await
            .unwrap();
    }

    pub async fn shard_exists(&self, key: ShardKey) -> bool {
        !matches!(
            self.log.bounds(key).await,
            Err(StorageError::NoSuchShard(_))
        )
    }

    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}")
    }

    pub async fn create(&self, name: &str, shards: i32) {
        self.engine
            .create_stream(
                &self.ctx,
                CreateStreamInput {
                    stream_name: name.into(),
                    shard_count: Some(shards),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }

    pub async fn describe(&self, name: &str) -> StreamDescription {
        self.engine
            .describe_stream(
                &self.ctx,
                DescribeStreamInput {
                    stream_name: Some(name.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .stream_description
    }

    pub async fn summary(&self, name: &str) -> StreamDescriptionSummary {
        self.engine
            .describe_stream_summary(
                &self.ctx,
                DescribeStreamSummaryInput {
                    stream_name: Some(name.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .stream_description_summary
    }

    pub async fn put(&self, name: &str, key: &str, data: &str) -> PutRecordOutput {
        self.engine
            .put_record(&self.ctx, put_input(name, key, data))
            .await
            .unwrap()
    }

    pub async fn put_hash(&self, name: &str, hash: &str, data: &str) -> PutRecordOutput {
        let mut input = put_input(name, "k", data);
        input.explicit_hash_key = Some(hash.into());
        self.engine.put_record(&self.ctx, input).await.unwrap()
    }

    pub async fn iterator(
        &self,
        name: &str,
        shard: &str,
        kind: ShardIteratorType,
        seq: Option<&str>,
    ) -> String {
        self.engine
            .get_shard_iterator(
                &self.ctx,
                GetShardIteratorInput {
                    stream_name: Some(name.into()),
                    shard_id: shard.into(),
                    shard_iterator_type: kind,
                    starting_sequence_number: seq.map(Into::into),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .shard_iterator
            .unwrap()
    }

    pub async fn get(&self, iterator: &str) -> GetRecordsOutput {
        self.engine
            .get_records(
                &self.ctx,
                GetRecordsInput {
                    shard_iterator: iterator.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    }

    /// Registers consumer `name` on stream `stream`.
    pub async fn register(&self, stream: &str, name: &str) -> Consumer {
        self.engine
            .register_stream_consumer(
                &self.ctx,
                RegisterStreamConsumerInput {
                    stream_arn: self.arn(stream),
                    consumer_name: name.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .consumer
    }

    pub async fn subscribe(
        &self,
        consumer_arn: &str,
        shard: &str,
        kind: ShardIteratorType,
        seq: Option<&str>,
    ) -> Result<Subscription, SubscribeToShardError> {
        self.engine
            .subscribe_to_shard(
                &self.ctx,
                SubscribeToShardInput {
                    consumer_arn: consumer_arn.into(),
                    shard_id: shard.into(),
                    starting_position: StartingPosition {
                        r#type: kind,
                        sequence_number: seq.map(Into::into),
                        timestamp: None,
                    },
                    ..Default::default()
                },
            )
            .await
    }

    /// Every record of a shard from TRIM_HORIZON, as data strings.
    pub async fn drain(&self, name: &str, shard: &str) -> (Vec<String>, GetRecordsOutput) {
        let it = self
            .iterator(name, shard, ShardIteratorType::TrimHorizon, None)
            .await;
        let out = self.get(&it).await;
        (out.records.iter().map(data_str).collect(), out)
    }
}

pub fn put_input(name: &str, key: &str, data: &str) -> PutRecordInput {
    PutRecordInput {
        stream_name: Some(name.into()),
        partition_key: Some(key.into()),
        data: Bytes::from(data.to_owned()),
        ..Default::default()
    }
}

pub fn data_str(r: &Record) -> String {
    String::from_utf8(r.data.to_vec()).unwrap()
}

pub fn fast_timers() -> EngineConfig {
    EngineConfig {
        create_delay: Duration::from_millis(100),
        delete_delay: Duration::from_millis(100),
        update_delay: Duration::from_millis(100),
        ..Default::default()
    }
}

/// Polls DescribeStreamSummary until the stream reaches `status` (or panics after 5 s).
pub async fn wait_for(h: &Harness, name: &str, status: StreamStatus) {
    for _ in 0..500 {
        if h.summary(name).await.stream_status == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{name} never reached {status:?}");
}
