//! The in-memory cache of every stream, loaded at open and updated after each
//! compare-and-set and each change of the MetaStore's feed, so requests never read the
//! MetaStore; plus per-shard runtime state.
//!
//! Locking: the registry and each stream's state sit behind `parking_lot` locks that are
//! only held for in-memory work, never across an `.await`. Control-plane changes, and the
//! changes other nodes make (`follow`), are also serialized by `Engine::control` (an async
//! mutex), so a compare-and-set starts from the revision its snapshot was taken at; one
//! that loses to another node refreshes the cache and runs again.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tributary_storage::{Revision, ShardKey};

use crate::meta::{ConsumerRecord, ShardRecord, StreamRecord};
use crate::routing::{Route, RouteTable};
use crate::throttle::ShardBuckets;

pub(crate) fn stream_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:kinesis:{region}:{account}:stream/{name}")
}

/// `{stream arn}/consumer/{name}:{registration time in whole seconds}`, as AWS forms it.
pub(crate) fn consumer_arn(stream_arn: &str, name: &str, created_ms: i64) -> String {
    format!(
        "{stream_arn}/consumer/{name}:{}",
        created_ms.div_euclid(1000)
    )
}

/// Per-shard state that lives only in memory. New records are announced by the log itself
/// (`ShardLog::watch`, once they are durable); this holds what only the engine knows.
#[derive(Debug)]
pub(crate) struct ShardRuntime {
    pub key: ShardKey,
    /// Appends routed to this shard that have not returned yet.
    inflight: AtomicUsize,
    idle: tokio::sync::Notify,
    /// Closed and drained, and closed in storage: no append from any node can land any
    /// more, so its end is final.
    sealed: AtomicBool,
    /// The end `ShardLog::close_shard` reported (`u64::MAX` until then, or if the log is gone).
    end: AtomicU64,
    /// A task closing it is running or done (see `Engine::spawn_close`).
    closing: AtomicBool,
    /// Woken when the shard is sealed, for the subscriptions reading it: they must now
    /// report its end.
    sealed_wake: tokio::sync::Notify,
    /// Its throughput buckets (`throttle`).
    pub(crate) buckets: Mutex<ShardBuckets>,
    /// Shard-level metrics, always counted, exported when enabled (`metrics`).
    pub metrics: crate::metrics::ShardMetrics,
}

impl ShardRuntime {
    fn new(key: ShardKey) -> Self {
        ShardRuntime {
            key,
            inflight: AtomicUsize::new(0),
            idle: tokio::sync::Notify::new(),
            sealed: AtomicBool::new(false),
            end: AtomicU64::new(u64::MAX),
            closing: AtomicBool::new(false),
            sealed_wake: tokio::sync::Notify::new(),
            buckets: Mutex::default(),
            metrics: Default::default(),
        }
    }

    /// Counts an append until the guard drops (also when the request future is cancelled).
    pub(crate) fn begin_append(self: &Arc<Self>) -> AppendGuard {
        self.inflight.fetch_add(1, Ordering::AcqRel);
        AppendGuard(Arc::clone(self))
    }

    /// Waits until no append started before this call is still running. Only meaningful
    /// once routing no longer sends appends here.
    pub(crate) async fn drain(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inflight.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Seals the shard once its log is closed; `end` is what the close reported.
    pub(crate) fn seal_at(&self, end: Option<u64>) {
        if let Some(end) = end {
            self.end.store(end, Ordering::Release);
        }
        self.sealed.store(true, Ordering::Release);
        self.sealed_wake.notify_waiters();
    }

    /// The final end of a sealed shard's log, when its close reported one.
    pub(crate) fn end(&self) -> Option<u64> {
        Some(self.end.load(Ordering::Acquire)).filter(|&e| e != u64::MAX)
    }

    /// Whether the caller is the first to close it (and should).
    pub(crate) fn start_closing(&self) -> bool {
        !self.closing.swap(true, Ordering::AcqRel)
    }

    /// A wake-up for [`ShardRuntime::seal`]: create it before checking `is_sealed` (tokio
    /// delivers every `notify_waiters` that comes after its creation).
    pub(crate) fn sealed_wake(&self) -> tokio::sync::futures::Notified<'_> {
        self.sealed_wake.notified()
    }

    pub(crate) fn is_sealed(&self) -> bool {
        self.sealed.load(Ordering::Acquire)
    }
}

/// See [`ShardRuntime::begin_append`].
pub(crate) struct AppendGuard(Arc<ShardRuntime>);

impl AppendGuard {
    /// The shard the append is counted on.
    pub(crate) fn shard(&self) -> &ShardRuntime {
        &self.0
    }
}

impl Drop for AppendGuard {
    fn drop(&mut self) {
        if self.0.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A stream's cached record and what is derived from it.
#[derive(Debug)]
pub(crate) struct StreamState {
    pub rec: StreamRecord,
    pub revision: Revision,
    pub routes: RouteTable,
    /// One runtime per shard in `rec.shards`.
    pub runtimes: HashMap<u32, Arc<ShardRuntime>>,
    /// Round-robin position for the AUTO distribution strategy.
    pub auto_next: AtomicU64,
}

impl StreamState {
    /// State from a stored record. Closed shards are not sealed yet: the engine closes them
    /// in storage first (`Engine::close_runtime`).
    pub(crate) fn loaded(rec: StreamRecord, revision: Revision) -> Self {
        let mut st = StreamState {
            routes: RouteTable::default(),
            runtimes: HashMap::new(),
            auto_next: AtomicU64::new(0),
            rec,
            revision,
        };
        st.rebuild();
        st
    }

    /// Installs a newer record. Shards closed by it keep accepting in-flight appends until
    /// the caller drains, closes and seals them.
    pub(crate) fn replace(&mut self, rec: StreamRecord, revision: Revision) {
        self.rec = rec;
        self.revision = revision;
        self.rebuild();
    }

    fn rebuild(&mut self) {
        let stream = self.rec.id;
        let mut runtimes = HashMap::with_capacity(self.rec.shards.len());
        let mut routes = Vec::new();
        for s in &self.rec.shards {
            let rt = self.runtimes.remove(&s.index).unwrap_or_else(|| {
                let key = ShardKey {
                    stream,
                    shard: s.index,
                };
                Arc::new(ShardRuntime::new(key))
            });
            if s.is_open() {
                routes.push(Route {
                    start: s.start,
                    end: s.end,
                    shard: s.index,
                });
            }
            runtimes.insert(s.index, rt);
        }
        self.runtimes = runtimes;
        self.routes = RouteTable::new(routes);
    }

    pub(crate) fn shard(&self, index: u32) -> Option<&ShardRecord> {
        self.rec
            .shards
            .binary_search_by_key(&index, |s| s.index)
            .ok()
            .map(|i| &self.rec.shards[i])
    }

    pub(crate) fn open_shards(&self) -> usize {
        self.routes.routes().len()
    }
}

/// A consumer's cached record.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerEntry {
    pub rec: ConsumerRecord,
    pub revision: Revision,
    pub arn: String,
}

/// One stream: identity (fixed for its lifetime) and state.
#[derive(Debug)]
pub(crate) struct StreamEntry {
    pub id: u64,
    pub account: String,
    pub region: String,
    pub name: String,
    pub arn: String,
    pub key: String,
    pub state: RwLock<StreamState>,
    /// Its enhanced fan-out consumers, by name.
    pub consumers: RwLock<BTreeMap<String, ConsumerEntry>>,
    /// Creation second of the last deregistered consumer of each name, so registering the
    /// name again never reuses an ARN.
    pub retired: Mutex<HashMap<String, i64>>,
    /// Stream-wide write buckets of an on-demand stream under `limits = aws` (`throttle`).
    pub writes: Mutex<ShardBuckets>,
    /// When UpdateShardCount last changed it (ms), for AWS's calls per rolling 24 hours
    /// (in memory: a restart forgets them).
    pub scalings: Mutex<Vec<i64>>,
    /// Stream-level metrics (`metrics`); they go with the entry when the stream is deleted.
    pub metrics: crate::metrics::StreamMetrics,
}

impl StreamEntry {
    pub(crate) fn new(rec: StreamRecord, revision: Revision) -> Arc<Self> {
        Arc::new(StreamEntry {
            id: rec.id,
            arn: stream_arn(&rec.region, &rec.account, &rec.name),
            key: crate::meta::stream_key(&rec.account, &rec.region, &rec.name),
            account: rec.account.clone(),
            region: rec.region.clone(),
            name: rec.name.clone(),
            state: RwLock::new(StreamState::loaded(rec, revision)),
            consumers: RwLock::new(BTreeMap::new()),
            retired: Mutex::new(HashMap::new()),
            writes: Mutex::default(),
            scalings: Mutex::default(),
            metrics: Default::default(),
        })
    }

    /// Installs a consumer's record (new or updated) in the cache.
    pub(crate) fn put_consumer(&self, rec: ConsumerRecord, revision: Revision) {
        let arn = consumer_arn(&self.arn, &rec.name, rec.created_ms);
        self.consumers
            .write()
            .insert(rec.name.clone(), ConsumerEntry { rec, revision, arn });
    }

    pub(crate) fn consumer(&self, name: &str) -> Option<ConsumerEntry> {
        self.consumers.read().get(name).cloned()
    }
}

/// Every stream, by (account, region, name) and by internal id.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// account -> region -> name -> stream; names sorted for ListStreams.
    scopes: HashMap<String, HashMap<String, BTreeMap<String, Arc<StreamEntry>>>>,
    by_id: HashMap<u64, Arc<StreamEntry>>,
}

impl Registry {
    pub(crate) fn get(&self, account: &str, region: &str, name: &str) -> Option<&Arc<StreamEntry>> {
        self.scopes.get(account)?.get(region)?.get(name)
    }

    pub(crate) fn get_by_id(&self, id: u64) -> Option<&Arc<StreamEntry>> {
        self.by_id.get(&id)
    }

    pub(crate) fn insert(&mut self, entry: Arc<StreamEntry>) {
        self.by_id.insert(entry.id, Arc::clone(&entry));
        self.scopes
            .entry(entry.account.clone())
            .or_default()
            .entry(entry.region.clone())
            .or_default()
            .insert(entry.name.clone(), entry);
    }

    pub(crate) fn remove(&mut self, entry: &StreamEntry) {
        self.by_id.remove(&entry.id);
        if let Some(regions) = self.scopes.get_mut(&entry.account) {
            if let Some(names) = regions.get_mut(&entry.region) {
                if names.get(&entry.name).is_some_and(|e| e.id == entry.id) {
                    names.remove(&entry.name);
                }
            }
        }
    }

    /// The streams of one account and region, sorted by name.
    pub(crate) fn scope(
        &self,
        account: &str,
        region: &str,
    ) -> impl Iterator<Item = &Arc<StreamEntry>> {
        self.scopes
            .get(account)
            .and_then(|r| r.get(region))
            .into_iter()
            .flat_map(|names| names.values())
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Arc<StreamEntry>> {
        self.by_id.values()
    }
}
