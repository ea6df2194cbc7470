//! In-memory [`ShardLog`] and [`MetaStore`] for tests (feature `test-support`).
//!
//! They pass the contract suite (tests below), so tests above them say something about the
//! real stores, and they add hooks real storage cannot offer: shifting the log's clock (to age records past retention), failing
//! appends, and counting append calls.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

use crate::{
    Appended, Bounds, MetaChange, MetaEntry, MetaError, MetaFuture, MetaStore, ReadFrom, Revision,
    ShardAppend, ShardKey, ShardLog, StorageError, StorageResult, StoredRecord,
};
use bytes::Bytes;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

#[derive(Debug)]
struct ShardData {
    /// Every record written, published or not.
    records: VecDeque<StoredRecord>,
    /// Offset of the first kept record (the trim point).
    first: u64,
    /// Next offset to assign.
    next: u64,
    /// Readers see offsets below this; it trails `next` while appends are held.
    published: u64,
    /// Arrival of the newest record ever appended (kept across trims).
    last_arrival: Option<i64>,
    watch: watch::Sender<u64>,
    /// Closed by `close_shard`: appends fail.
    closed: bool,
}

impl ShardData {
    fn new() -> Self {
        ShardData {
            records: VecDeque::new(),
            first: 0,
            next: 0,
            published: 0,
            last_arrival: None,
            watch: watch::channel(0).0,
            closed: false,
        }
    }

    fn publish(&mut self) {
        if self.published < self.next {
            self.published = self.next;
            self.watch.send_replace(self.next);
        }
    }
}

/// A [`ShardLog`] in memory. An append is "durable" (readable, published to watchers) when
/// it is made, unless the test holds appends (see [`MemoryShardLog::hold_appends`]).
#[derive(Debug)]
pub struct MemoryShardLog {
    shards: Mutex<HashMap<ShardKey, ShardData>>,
    clock_offset_ms: AtomicI64,
    fail_appends: AtomicBool,
    /// See [`MemoryShardLog::refuse_next_append_to`].
    refuse_once: Mutex<Option<ShardKey>>,
    append_calls: AtomicUsize,
    /// While true, appends are written but neither published nor answered.
    held: watch::Sender<bool>,
}

impl Default for MemoryShardLog {
    fn default() -> Self {
        Self {
            shards: Mutex::default(),
            clock_offset_ms: AtomicI64::default(),
            fail_appends: AtomicBool::default(),
            refuse_once: Mutex::default(),
            append_calls: AtomicUsize::default(),
            held: watch::channel(false).0,
        }
    }
}

impl MemoryShardLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records appended from now on arrive `offset_ms` away from the wall clock.
    pub fn set_clock_offset_ms(&self, offset_ms: i64) {
        self.clock_offset_ms.store(offset_ms, Ordering::SeqCst);
    }

    /// Makes every append fail with `StorageError::Unavailable` until turned off.
    pub fn fail_appends(&self, fail: bool) {
        self.fail_appends.store(fail, Ordering::SeqCst);
    }

    /// The next append naming `shard` stores nothing there and answers `NoSuchShard` for it,
    /// while storing the other shards it names ([`StorageError::Partial`]): a replicated store
    /// whose shard's stream is briefly unknown (JetStream during a leader change).
    pub fn refuse_next_append_to(&self, shard: ShardKey) {
        *self.refuse_once.lock() = Some(shard);
    }

    /// While held, appends are written but stay invisible and unanswered, like appends
    /// waiting for their fsync in a real log; releasing publishes them all and answers their
    /// callers (those still waiting).
    pub fn hold_appends(&self, hold: bool) {
        if !hold {
            for s in self.shards.lock().values_mut() {
                s.publish();
            }
        }
        self.held.send_replace(hold);
    }

    /// Number of `append` calls so far.
    pub fn append_calls(&self) -> usize {
        self.append_calls.load(Ordering::SeqCst)
    }

    pub fn shard_exists(&self, shard: ShardKey) -> bool {
        self.shards.lock().contains_key(&shard)
    }

    /// Records physically kept for a shard (after trims).
    pub fn kept_records(&self, shard: ShardKey) -> usize {
        self.shards
            .lock()
            .get(&shard)
            .map_or(0, |s| s.records.len())
    }

    fn now(&self) -> i64 {
        crate::clock::now_ms() + self.clock_offset_ms.load(Ordering::SeqCst)
    }

    fn append_now(&self, mut appends: Vec<ShardAppend>) -> StorageResult<Vec<Appended>> {
        if self.fail_appends.load(Ordering::SeqCst) {
            return Err(StorageError::Unavailable(
                "appends disabled by the test".into(),
            ));
        }
        let refused = {
            let mut once = self.refuse_once.lock();
            let at = once.and_then(|k| appends.iter().position(|a| a.shard == k));
            at.inspect(|_| *once = None)
        };
        if let Some(at) = refused {
            let shard = appends.remove(at).shard;
            if appends.is_empty() {
                return Err(StorageError::NoSuchShard(shard));
            }
            let mut each: Vec<StorageResult<Appended>> = match self.append_now(appends) {
                Ok(stored) => stored.into_iter().map(Ok).collect(),
                Err(e) => return Err(e),
            };
            each.insert(at, Err(StorageError::NoSuchShard(shard)));
            return Err(StorageError::Partial(each));
        }
        let held = *self.held.borrow();
        let mut shards = self.shards.lock();
        if let Some(a) = appends.iter().find(|a| !shards.contains_key(&a.shard)) {
            return Err(StorageError::NoSuchShard(a.shard));
        }
        if let Some(a) = appends.iter().find(|a| shards[&a.shard].closed) {
            return Err(StorageError::Closed(a.shard));
        }
        let now = self.now();
        Ok(appends
            .into_iter()
            .map(|a| {
                let s = shards.get_mut(&a.shard).expect("checked above");
                // Arrival times never go back within a shard, as the contract requires.
                let arrival_ms = s.last_arrival.map_or(now, |l| l.max(now));
                s.last_arrival = Some(arrival_ms);
                let first_offset = s.next;
                for payload in a.payloads {
                    s.records.push_back(StoredRecord {
                        offset: s.next,
                        arrival_ms,
                        payload,
                    });
                    s.next += 1;
                }
                if !held {
                    s.publish();
                }
                Appended {
                    first_offset,
                    arrival_ms,
                }
            })
            .collect())
    }
}

impl ShardLog for MemoryShardLog {
    fn create_shard(&self, shard: ShardKey) -> BoxFuture<'_, StorageResult<()>> {
        let mut shards = self.shards.lock();
        let result = match shards.contains_key(&shard) {
            true => Err(StorageError::ShardExists(shard)),
            false => {
                shards.insert(shard, ShardData::new());
                Ok(())
            }
        };
        Box::pin(std::future::ready(result))
    }

    fn delete_shard(&self, shard: ShardKey) -> BoxFuture<'_, StorageResult<()>> {
        self.shards.lock().remove(&shard);
        Box::pin(std::future::ready(Ok(())))
    }

    fn append(&self, appends: Vec<ShardAppend>) -> BoxFuture<'_, StorageResult<Vec<Appended>>> {
        self.append_calls.fetch_add(1, Ordering::SeqCst);
        let result = self.append_now(appends);
        let mut held = self.held.subscribe();
        Box::pin(async move {
            // Yield once, as a real log waiting for its group commit would; then wait while
            // the test holds appends.
            tokio::task::yield_now().await;
            let _ = held.wait_for(|h| !h).await;
            result
        })
    }

    fn read(
        &self,
        shard: ShardKey,
        from: ReadFrom,
        max_records: usize,
        max_bytes: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<StoredRecord>>> {
        Box::pin(std::future::ready(self.read_now(
            shard,
            from,
            max_records,
            max_bytes,
        )))
    }

    fn bounds(&self, shard: ShardKey) -> BoxFuture<'_, StorageResult<Bounds>> {
        Box::pin(std::future::ready(self.bounds_now(shard)))
    }

    fn watch(&self, shard: ShardKey) -> BoxFuture<'_, StorageResult<watch::Receiver<u64>>> {
        let shards = self.shards.lock();
        let rx = match shards.get(&shard) {
            Some(s) => Ok(s.watch.subscribe()),
            None => Err(StorageError::NoSuchShard(shard)),
        };
        Box::pin(std::future::ready(rx))
    }

    fn trim_before(&self, shard: ShardKey, arrival_ms: i64) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(std::future::ready(self.trim_now(shard, arrival_ms)))
    }

    fn close_shard(&self, shard: ShardKey) -> BoxFuture<'_, StorageResult<u64>> {
        let closed = self.shards.lock().get_mut(&shard).map(|s| {
            s.closed = true;
            (s.next, s.watch.subscribe())
        });
        Box::pin(async move {
            let (end, mut published) = closed.ok_or(StorageError::NoSuchShard(shard))?;
            // Appends the test holds are accepted: the close waits for them, as a real
            // log waits for the fsync of the appends it accepted. Deleting the shard ends
            // the wait.
            let _ = published.wait_for(|&n| n >= end).await;
            Ok(end)
        })
    }

    /// Unwritable exactly while the test fails appends (`fail_appends`).
    fn health(&self) -> BoxFuture<'_, StorageResult<()>> {
        let result = match self.fail_appends.load(Ordering::SeqCst) {
            true => Err(StorageError::Unavailable(
                "appends disabled by the test".into(),
            )),
            false => Ok(()),
        };
        Box::pin(std::future::ready(result))
    }

    /// An in-memory log has no disk, journal or connection to report.
    fn write_metrics<'a>(
        &'a self,
        _out: &'a mut tributary_telemetry::Exposition,
    ) -> BoxFuture<'a, ()> {
        Box::pin(std::future::ready(()))
    }
}

impl MemoryShardLog {
    fn read_now(
        &self,
        shard: ShardKey,
        from: ReadFrom,
        max_records: usize,
        max_bytes: usize,
    ) -> StorageResult<Vec<StoredRecord>> {
        let shards = self.shards.lock();
        let s = shards.get(&shard).ok_or(StorageError::NoSuchShard(shard))?;
        let start = match from {
            ReadFrom::Offset(o) => s.records.partition_point(|r| r.offset < o),
            ReadFrom::Time(t) => s.records.partition_point(|r| r.arrival_ms < t),
        };
        let mut out = Vec::new();
        let mut bytes = 0;
        let published = s.records.iter().skip(start);
        for r in published
            .take_while(|r| r.offset < s.published)
            .take(max_records)
        {
            if !out.is_empty() && bytes + r.payload.len() > max_bytes {
                break;
            }
            bytes += r.payload.len();
            out.push(r.clone());
        }
        Ok(out)
    }

    fn bounds_now(&self, shard: ShardKey) -> StorageResult<Bounds> {
        let shards = self.shards.lock();
        let s = shards.get(&shard).ok_or(StorageError::NoSuchShard(shard))?;
        Ok(Bounds {
            first: s.first.min(s.published),
            next: s.published,
        })
    }

    fn trim_now(&self, shard: ShardKey, arrival_ms: i64) -> StorageResult<()> {
        let mut shards = self.shards.lock();
        let s = shards
            .get_mut(&shard)
            .ok_or(StorageError::NoSuchShard(shard))?;
        // Only published records count, as in a real log.
        while s
            .records
            .front()
            .is_some_and(|r| r.arrival_ms < arrival_ms && r.offset < s.published)
        {
            s.records.pop_front();
        }
        s.first = s.records.front().map_or(s.next, |r| r.offset);
        Ok(())
    }
}

/// Entries by key, with the last revision handed out and the open change feeds.
#[derive(Debug, Default)]
struct Entries {
    last: Revision,
    map: BTreeMap<String, (Revision, Bytes)>,
    watchers: Vec<mpsc::UnboundedSender<MetaChange>>,
}

impl Entries {
    /// Takes the next revision and tells every feed, under the store's lock, so feeds see
    /// changes in revision order.
    fn change(&mut self, key: &str, value: Option<Bytes>) -> Revision {
        self.last += 1;
        let revision = self.last;
        match &value {
            Some(v) => {
                self.map.insert(key.to_owned(), (revision, v.clone()));
            }
            None => {
                self.map.remove(key);
            }
        }
        let change = MetaChange {
            key: key.to_owned(),
            revision,
            value,
        };
        self.watchers.retain(|w| w.send(change.clone()).is_ok());
        revision
    }
}

/// A [`MetaStore`] in memory, with one global revision counter. Several engines given the
/// same `Arc` share it as nodes share a replicated store.
#[derive(Debug, Default)]
pub struct MemoryMetaStore {
    entries: Mutex<Entries>,
}

impl MemoryMetaStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Overwrites a value regardless of its revision (to plant corrupt or old data).
    pub fn force_put(&self, key: &str, value: Bytes) {
        self.entries.lock().change(key, Some(value));
    }

    pub fn keys(&self) -> Vec<String> {
        self.entries.lock().map.keys().cloned().collect()
    }

    /// Closes every open change feed, as a lost connection to a replicated store would;
    /// watchers must watch again.
    pub fn close_watches(&self) {
        self.entries.lock().watchers.clear();
    }

    fn create_now(&self, key: &str, value: Bytes) -> Result<Revision, MetaError> {
        let mut g = self.entries.lock();
        if g.map.contains_key(key) {
            return Err(MetaError::Exists);
        }
        Ok(g.change(key, Some(value)))
    }

    fn update_now(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<Revision, MetaError> {
        let mut g = self.entries.lock();
        let found = g.map.get(key).map(|(r, _)| *r).ok_or(MetaError::NotFound)?;
        if found != expected {
            return Err(MetaError::Conflict { expected, found });
        }
        Ok(g.change(key, Some(value)))
    }

    fn delete_now(&self, key: &str, expected: Option<Revision>) -> Result<(), MetaError> {
        let mut g = self.entries.lock();
        let found = g.map.get(key).map(|(r, _)| *r).ok_or(MetaError::NotFound)?;
        if let Some(expected) = expected {
            if found != expected {
                return Err(MetaError::Conflict { expected, found });
            }
        }
        g.change(key, None);
        Ok(())
    }
}

impl MetaStore for MemoryMetaStore {
    fn get<'a>(&'a self, key: &'a str) -> MetaFuture<'a, Option<MetaEntry>> {
        Box::pin(std::future::ready(Ok(self
            .entries
            .lock()
            .map
            .get(key)
            .map(|(revision, value)| MetaEntry {
                key: key.to_owned(),
                revision: *revision,
                value: value.clone(),
            }))))
    }

    fn create<'a>(&'a self, key: &'a str, value: Bytes) -> MetaFuture<'a, Revision> {
        Box::pin(std::future::ready(self.create_now(key, value)))
    }

    fn update<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        expected: Revision,
    ) -> MetaFuture<'a, Revision> {
        Box::pin(std::future::ready(self.update_now(key, value, expected)))
    }

    fn delete<'a>(&'a self, key: &'a str, expected: Option<Revision>) -> MetaFuture<'a, ()> {
        Box::pin(std::future::ready(self.delete_now(key, expected)))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> MetaFuture<'a, Vec<MetaEntry>> {
        Box::pin(std::future::ready(Ok(self
            .entries
            .lock()
            .map
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, (revision, value))| MetaEntry {
                key: k.clone(),
                revision: *revision,
                value: value.clone(),
            })
            .collect())))
    }

    fn watch(&self) -> MetaFuture<'_, mpsc::UnboundedReceiver<MetaChange>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.entries.lock().watchers.push(tx);
        Box::pin(std::future::ready(Ok(rx)))
    }
}

#[cfg(test)]
mod tests {
    use super::{MemoryMetaStore, MemoryShardLog};
    use crate::contract::{Engines, Factory};
    use futures::future::BoxFuture;
    use std::sync::Arc;

    /// Every `open` returns the same in-memory state, as a reopened directory would.
    #[derive(Default)]
    struct Memory {
        log: Arc<MemoryShardLog>,
        meta: Arc<MemoryMetaStore>,
    }

    impl Factory for Memory {
        fn open(&self) -> BoxFuture<'_, Engines> {
            Box::pin(async move {
                Engines {
                    log: self.log.clone(),
                    meta: self.meta.clone(),
                }
            })
        }
    }

    crate::contract_tests!(Memory::default());
}
