//! [`ShardLog`] for [`SegmentLog`]: control operations run on the blocking pool under the state
//! lock and are logged in the WAL (create and delete fsynced before they return); appends go to
//! the writer thread; reads go to `read.rs`.

use super::files::{idx_path, seg_path, sync_dir};
use super::format::{self, Incarnation, KIND_CREATE, KIND_DELETE, KIND_TRIM};
use super::writer::{Job, Msg};
use super::View;
use super::{read, shard_dir, writer_gone, SegmentLog, Shard, ShardWriter, Shared, State, Stats};
use crate::{
    Appended, Bounds, ReadFrom, ShardAppend, ShardKey, ShardLog, StorageError, StorageResult,
    StoredRecord,
};
use futures::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

impl ShardLog for SegmentLog {
    fn create_shard(&self, key: ShardKey) -> BoxFuture<'_, StorageResult<()>> {
        blocking(&self.shared, move |shared| create_shard(shared, key))
    }

    fn delete_shard(&self, key: ShardKey) -> BoxFuture<'_, StorageResult<()>> {
        blocking(&self.shared, move |shared| delete_shard(shared, key))
    }

    fn append(&self, appends: Vec<ShardAppend>) -> BoxFuture<'_, StorageResult<Vec<Appended>>> {
        Box::pin(async move {
            let bytes = crate::admission::payload_bytes(&appends, format::MAX_PAYLOAD)?;
            let permit = crate::admission::reserve(&self.inflight, self.inflight_kib, bytes)
                .await
                .ok_or_else(writer_gone)?;
            let (reply, rx) = oneshot::channel();
            let job = Job {
                appends,
                bytes,
                reply,
                permit,
            };
            let tx = self.tx.as_ref().ok_or_else(writer_gone)?;
            tx.send(Msg::Append(job)).map_err(|_| writer_gone())?;
            rx.await.map_err(|_| writer_gone())?
        })
    }

    fn read(
        &self,
        shard: ShardKey,
        from: ReadFrom,
        max_records: usize,
        max_bytes: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<StoredRecord>>> {
        let shared = Arc::clone(&self.shared);
        // Page-cache reads (a cold segment reads from disk): off the async workers.
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                read::read(&shared, shard, from, max_records, max_bytes)
            })
            .await
            .map_err(|e| StorageError::Io(format!("read task failed: {e}")))?
        })
    }

    fn bounds(&self, key: ShardKey) -> BoxFuture<'_, StorageResult<Bounds>> {
        let bounds = shard_of(&self.shared, key).map(|shard| {
            let v = shard.view.read();
            Bounds {
                first: v.first,
                next: v.next,
            }
        });
        Box::pin(std::future::ready(bounds))
    }

    fn watch(&self, key: ShardKey) -> BoxFuture<'_, StorageResult<watch::Receiver<u64>>> {
        let rx = shard_of(&self.shared, key).map(|shard| shard.published.subscribe());
        Box::pin(std::future::ready(rx))
    }

    fn trim_before(&self, key: ShardKey, arrival_ms: i64) -> BoxFuture<'_, StorageResult<()>> {
        blocking(&self.shared, move |shared| {
            trim_before(shared, key, arrival_ms)
        })
    }

    fn close_shard(&self, key: ShardKey) -> BoxFuture<'_, StorageResult<u64>> {
        Box::pin(async move {
            // The flag is set under the state lock the writer plans under, so every group
            // commit planned before it counts and every later one refuses the shard. Not
            // logged in the WAL: the engine closes its closed shards again at open.
            let closed = {
                let mut st = self.shared.state.lock();
                st.writers.get_mut(&key).map(|w| {
                    w.closed = true;
                    (w.next, w.shard.published.subscribe())
                })
            };
            let (end, mut published) = closed.ok_or(StorageError::NoSuchShard(key))?;
            // Groups already written publish once fsynced; a failed fsync poisons the log
            // and never publishes, so look at that too.
            loop {
                let wait = published.wait_for(|&n| n >= end);
                match tokio::time::timeout(POLL_POISON, wait).await {
                    Ok(_) => return Ok(end),
                    Err(_) => self.shared.poisoned()?,
                }
            }
        })
    }

    fn health(&self) -> BoxFuture<'_, StorageResult<()>> {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || super::health::check(&shared))
                .await
                .map_err(|e| StorageError::Io(format!("health task failed: {e}")))?
        })
    }

    fn write_metrics<'a>(
        &'a self,
        out: &'a mut tributary_telemetry::Exposition,
    ) -> BoxFuture<'a, ()> {
        Box::pin(super::health::write_metrics(self, out))
    }
}

/// How often a close waiting for an fsync checks whether the log was poisoned meanwhile.
const POLL_POISON: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs a control operation on the blocking pool: it fsyncs the WAL, which must not stall an
/// async worker. A dropped future does not stop it.
fn blocking(
    shared: &Arc<Shared>,
    op: impl FnOnce(&Shared) -> StorageResult<()> + Send + 'static,
) -> BoxFuture<'static, StorageResult<()>> {
    let shared = Arc::clone(shared);
    Box::pin(async move {
        tokio::task::spawn_blocking(move || op(&shared))
            .await
            .map_err(|e| StorageError::Unavailable(format!("shard control task failed: {e}")))?
    })
}

fn create_shard(shared: &Shared, key: ShardKey) -> StorageResult<()> {
    let mut st = shared.state.lock();
    if st.writers.contains_key(&key) {
        return Err(StorageError::ShardExists(key));
    }
    shared.poisoned()?;
    let inc = Incarnation {
        stream: key.stream,
        shard: key.shard,
        gen: st.next_gen,
    };
    st.next_gen += 1;
    let dir = shard_dir(&shared.dir, inc);
    std::fs::create_dir_all(&dir).map_err(|e| super::files::io_err(&dir, "create", &e))?;
    // The directory must outlive a power cut before segments that hold data on their own
    // (direct writes) can appear in it.
    let parent = shared.dir.join("shards");
    if let Err(e) = sync_dir(&parent) {
        return Err(shared.poison("fsync of the shards directory", &e));
    }
    log_control(shared, &mut st, KIND_CREATE, inc, None, true)?;
    let shard = Arc::new(Shard::new(dir, View::default()));
    st.writers.insert(
        key,
        ShardWriter {
            inc,
            shard: Arc::clone(&shard),
            next: 0,
            last_arrival: None,
            tail: None,
            closed: false,
        },
    );
    shared.table.write().insert(key, shard);
    Ok(())
}

fn delete_shard(shared: &Shared, key: ShardKey) -> StorageResult<()> {
    let mut st = shared.state.lock();
    let Some(inc) = st.writers.get(&key).map(|w| w.inc) else {
        return Ok(());
    };
    shared.poisoned()?;
    log_control(shared, &mut st, KIND_DELETE, inc, None, true)?;
    shared.table.write().remove(&key);
    if let Some(w) = st.writers.remove(&key) {
        st.dirty_files.retain(|p, _| !p.starts_with(&w.shard.dir));
        st.dirty_dirs.remove(&w.shard.dir);
        // Gone for readers and writers now; the files go after the next checkpoint.
        st.doomed.push(w.shard.dir.clone());
    }
    drop(st);
    shared.request_checkpoint();
    Ok(())
}

/// Forgets the segments of `key` that hold nothing at or above `trim`, and dooms their files
/// (deleted after the next checkpoint). The tail goes too once everything in it is trimmed.
/// Returns whether any segment was doomed.
pub(super) fn drop_trimmed(st: &mut State, key: ShardKey, trim: u64) -> bool {
    let Some(w) = st.writers.get_mut(&key) else {
        return false;
    };
    let mut gone = Vec::new();
    {
        let mut v = w.shard.view.write();
        while let Some(front) = v.segments.front() {
            let end = v.segments.get(1).map_or(w.next, |s| s.base);
            if end > trim {
                break;
            }
            gone.push(front.base);
            v.segments.pop_front();
        }
    }
    if w.tail.as_ref().is_some_and(|t| gone.contains(&t.base)) {
        w.tail = None;
    }
    let dir = w.shard.dir.clone();
    let doomed = !gone.is_empty();
    for base in gone {
        st.dirty_files.remove(&seg_path(&dir, base));
        st.doomed.push(seg_path(&dir, base));
        st.doomed.push(idx_path(&dir, base));
    }
    st.dirty_dirs.insert(dir);
    doomed
}

/// Appends a one-entry control batch to the WAL, fsynced if `sync`.
fn log_control(
    shared: &Shared,
    st: &mut State,
    kind: u8,
    inc: Incarnation,
    arg: Option<u64>,
    sync: bool,
) -> StorageResult<()> {
    let mut buf = Vec::with_capacity(64);
    format::begin_batch(&mut buf);
    format::encode_entry_head(&mut buf, kind, inc);
    if let Some(a) = arg {
        buf.extend_from_slice(&a.to_le_bytes());
    }
    format::finish_batch(&mut buf, 1);
    let written = st
        .wal
        .prepare(buf.len() as u64)
        .and_then(|()| st.wal.append(&buf));
    if let Err(e) = written {
        return match st.wal.undo() {
            Ok(()) => Err(StorageError::Unavailable(format!(
                "cannot write the WAL: {e}"
            ))),
            Err(e2) => Err(shared.poison("undoing a failed WAL write", &e2)),
        };
    }
    if sync {
        if let Err(e) = st.wal.file().sync_data() {
            return Err(shared.poison("fsync of the WAL", &e));
        }
    }
    Stats::add(&shared.stats.wal_bytes, buf.len() as u64);
    st.changed = true;
    Ok(())
}

fn shard_of(shared: &Shared, key: ShardKey) -> StorageResult<Arc<Shard>> {
    shared
        .table
        .read()
        .get(&key)
        .cloned()
        .ok_or(StorageError::NoSuchShard(key))
}

fn trim_before(shared: &Shared, key: ShardKey, arrival_ms: i64) -> StorageResult<()> {
    let shard = shard_of(shared, key)?;
    // Only records present now count: take `next` before looking.
    let seen_next = shard.view.read().next;
    let cut = read::read(shared, key, ReadFrom::Time(arrival_ms), 1, 0)?
        .first()
        .map_or(seen_next, |r| r.offset.min(seen_next));
    let mut st = shared.state.lock();
    let Some(w) = st
        .writers
        .get(&key)
        .filter(|w| Arc::ptr_eq(&w.shard, &shard))
    else {
        return Err(StorageError::NoSuchShard(key));
    };
    let inc = w.inc;
    let (first, next) = {
        let v = shard.view.read();
        (v.first, v.next)
    };
    let new_first = cut.clamp(first, next);
    if new_first == first {
        return Ok(());
    }
    shared.poisoned()?;
    // Not fsynced on its own: the next group commit's fsync or the next checkpoint carries
    // it. Losing it in a power cut only brings back records a later trim removes again. For
    // the same reason a WAL that cannot grow (full disk) does not stop the trim: retention is
    // what gives the space back, through the next checkpoint.
    if let Err(e) = log_control(shared, &mut st, KIND_TRIM, inc, Some(new_first), false) {
        shared.poisoned()?;
        tracing::warn!(error = %e, "trim not logged in the WAL; the next checkpoint records it");
    }
    shard.view.write().first = new_first;
    let doomed = drop_trimmed(&mut st, key, new_first);
    st.changed = true;
    drop(st);
    if doomed {
        // Trimmed segments are deleted by the next checkpoint: have it soon.
        shared.request_checkpoint();
    }
    Ok(())
}
