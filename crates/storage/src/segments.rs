//! The segment engine: [`SegmentLog`], a [`ShardLog`](crate::ShardLog) that keeps each shard's
//! records in its own append-only segment files, with one write-ahead log (WAL) shared by all
//! shards so that one fsync acknowledges a whole group commit. Metadata lives beside it in
//! [`FjallMeta`](crate::FjallMeta). Why segment files rather than an LSM tree: a tree rewrites
//! records through compaction; segment files are written once and deleted whole by retention.
//! See `docs/storage.md` ("The segment engine") for the layout, the formats and recovery.
//!
//! Submodules:
//! - `format`: every byte layout (file headers, record frames, index entries, WAL batches).
//! - `files`: segment and index files: create, open, index lookup, directory fsync.
//! - `wal`: the WAL writer (rotation) and reader (torn-tail detection).
//! - `checkpoint`: the checkpoint file and the thread that writes it.
//! - `writer`: the writer thread: group commit (encode, write, roll back on error).
//! - `syncer`: the fsync thread: makes group commits durable, then publishes and answers them.
//! - `health`: writability probe and the series `/metrics` shows (fsync latency, backlog,
//!   disk use).
//! - `log`: the `ShardLog` implementation (control operations); `read`: reads.
//! - `recovery` and `replay`: opening a directory, replaying the WAL after a crash.
//!
//! Concurrency model, in one place:
//! - `Shared::state` (a mutex) serialises everything that writes: the writer thread holds it
//!   while it encodes and writes one group commit; `create_shard`, `delete_shard`,
//!   `trim_before` and the checkpoint snapshot take it too, so each sees whole group commits.
//! - Each shard's `Shard::view` (a read-write lock) is what readers see: the published
//!   `next` and trim point, and the segment summaries. `next` moves only after the group
//!   commit holding the records is durable (`Durability::Sync`: after the fsync, on the syncer
//!   thread), so a reader never sees a record that could still be lost.
//! - Reads take no global lock: they copy the few segment summaries they need and `pread`.
//! - Files are deleted (retention, deleted shards) only after a checkpoint that no longer needs
//!   them, so WAL replay always finds the files the WAL refers to.

mod checkpoint;
mod encode;
mod files;
mod format;
mod health;
mod log;
mod read;
mod recovery;
mod replay;
mod state;
mod syncer;
mod wal;
mod writer;

#[cfg(test)]
mod tests;

use crate::{ShardKey, StorageError, StorageResult};
use format::Incarnation;
use parking_lot::{Mutex, RwLock};
use state::{SegFiles, SegmentRef, Shard, ShardWriter, State, Stats, Tail, View};
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{oneshot, Semaphore};

pub use format::SEGMENT_FORMAT_VERSION;

/// When an append is acknowledged relative to the fsync of the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Acknowledge only after the WAL is fsynced. Nothing acknowledged is ever lost.
    #[default]
    Sync,
    /// Acknowledge once the group commit is written to the operating system; fsync at most this
    /// long after the first unsynced write. A killed process loses nothing (the data is in the
    /// OS page cache), but a power loss or kernel crash loses up to this much acknowledged data.
    Interval(Duration),
}

/// Tuning of the segment engine. The defaults suit a small server; tests shrink the sizes.
#[derive(Debug, Clone)]
pub struct SegmentOptions {
    /// When an append is acknowledged relative to the WAL fsync.
    pub durability: Durability,
    /// A shard starts a new segment file once its current one would grow past this.
    pub segment_bytes: u64,
    /// ... or once the current one holds records older than this, so that retention (which
    /// deletes whole segments) can free the space of slow shards.
    pub segment_max_age: Duration,
    /// One index entry per this many bytes of frames (reads seek to an entry, then scan).
    pub index_interval_bytes: u64,
    /// A new WAL file starts once the current one would grow past this.
    pub wal_file_bytes: u64,
    /// A checkpoint starts once this many bytes (WAL batches and direct segment writes) were
    /// written since the last one. It bounds the WAL on disk, the replay after a crash, and how
    /// long trimmed segments wait for deletion. Small by default: each checkpoint's segment
    /// fsync delays the WAL fsyncs running beside it (docs/storage.md, "Checkpoints").
    pub checkpoint_bytes: u64,
    /// ... and at least this often while anything changes.
    pub checkpoint_interval: Duration,
    /// The records one group commit gives one shard are written and fsynced straight into the
    /// segment (the WAL then holds only a reference) once they reach this many bytes, so big
    /// appends reach the disk once instead of twice. `None`: always through the WAL.
    pub direct_write_bytes: Option<u64>,
    /// Appends wait (asynchronously) while this many payload bytes are queued: backpressure.
    pub max_inflight_bytes: u64,
    /// The writer stops draining its queue once a group commit holds this many payload bytes.
    pub max_batch_bytes: u64,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Sync,
            segment_bytes: 64 << 20,
            segment_max_age: Duration::from_secs(3600),
            index_interval_bytes: 4 << 10,
            wal_file_bytes: 64 << 20,
            checkpoint_bytes: 4 << 20,
            checkpoint_interval: Duration::from_secs(10),
            direct_write_bytes: Some(256 << 10),
            max_inflight_bytes: 64 << 20,
            max_batch_bytes: 16 << 20,
        }
    }
}

/// Counters for metrics and tests. Monotonic since open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentStats {
    /// Group commits written (each one WAL batch).
    pub group_commits: u64,
    /// Append calls acknowledged successfully.
    pub appends: u64,
    /// Records acknowledged.
    pub records: u64,
    /// fsync rounds of the syncer thread (each covers one or more group commits).
    pub syncs: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// Bytes appended to the WAL.
    pub wal_bytes: u64,
    /// Frame bytes written straight into segments (not through the WAL).
    pub direct_bytes: u64,
    /// Segment files created and deleted.
    pub segments_created: u64,
    pub segments_deleted: u64,
}

/// What opening the directory found and did.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    pub shards: usize,
    /// Segment files of live shards (only their 32-byte headers were read).
    pub segments: usize,
    /// WAL batches replayed since the last checkpoint, and their bytes.
    pub batches_replayed: u64,
    pub wal_bytes_replayed: u64,
    /// Bytes after the last valid WAL batch (a torn tail), dropped.
    pub wal_bytes_discarded: u64,
    pub elapsed: Duration,
}

/// Per-shard segment logs with a shared WAL. See the module docs and `docs/storage.md`.
///
/// Dropping the last reference drains queued appends, fsyncs, writes a final checkpoint (so the
/// next open replays nothing) and releases the directory lock.
pub struct SegmentLog {
    shared: Arc<Shared>,
    tx: Option<mpsc::Sender<writer::Msg>>,
    writer: Option<JoinHandle<()>>,
    checkpointer: Option<JoinHandle<()>>,
    inflight: Arc<Semaphore>,
    /// Permits are counted in KiB so that a `u32` permit count covers any append.
    inflight_kib: u32,
    recovery: RecoveryReport,
}

impl SegmentLog {
    /// Opens (creating if needed) the engine in `dir`, recovering from a crash if needed. Fails
    /// if another process (or another `SegmentLog` in this process) holds the directory, or if
    /// it was written with an incompatible format.
    pub fn open(dir: &Path, opts: SegmentOptions) -> StorageResult<Arc<Self>> {
        let (ckpt_tx, ckpt_rx) = mpsc::channel();
        let (shared, recovery) = recovery::open(dir, opts, ckpt_tx)?;
        let shared = Arc::new(shared);
        let (tx, rx) = mpsc::channel();
        let (sync_tx, sync_rx) = mpsc::channel();
        let interval = match shared.opts.durability {
            Durability::Sync => None,
            Durability::Interval(d) => Some(d),
        };
        let s = Arc::clone(&shared);
        let syncer = spawn("tributary-segments-syncer", move || {
            syncer::run(&s, &sync_rx, interval);
        })?;
        let s = Arc::clone(&shared);
        let writer = spawn("tributary-segments-writer", move || {
            writer::run(&s, &rx, &sync_tx);
            // The syncer drains what the writer handed it, fsyncs and stops.
            drop(sync_tx);
            if syncer.join().is_err() {
                tracing::error!("segment syncer thread panicked");
            }
        })?;
        let s = Arc::clone(&shared);
        let checkpointer = spawn("tributary-segments-checkpoint", move || {
            checkpoint::run(&s, &ckpt_rx)
        })?;
        let inflight_kib = u32::try_from((shared.opts.max_inflight_bytes >> 10).max(1))
            .unwrap_or(u32::MAX)
            .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        Ok(Arc::new(Self {
            shared,
            tx: Some(tx),
            writer: Some(writer),
            checkpointer: Some(checkpointer),
            inflight: Arc::new(Semaphore::new(inflight_kib as usize)),
            inflight_kib,
            recovery,
        }))
    }

    pub fn stats(&self) -> SegmentStats {
        self.shared.stats.snapshot()
    }

    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// Segment files of live shards (their summaries are what the engine keeps in memory).
    pub fn segment_count(&self) -> usize {
        let table = self.shared.table.read();
        table.values().map(|s| s.view.read().segments.len()).sum()
    }

    /// Bytes the directory occupies on disk (allocated blocks, like `du`).
    pub fn disk_space(&self) -> StorageResult<u64> {
        crate::dir::dir_usage(&self.shared.dir)
            .map_err(|e| StorageError::Io(format!("cannot measure disk space: {e}")))
    }

    /// Makes every append that was acknowledged before this call durable (matters in
    /// `Durability::Interval`; in `Sync` they already are).
    pub async fn sync(&self) -> StorageResult<()> {
        let (reply, rx) = oneshot::channel();
        let tx = self.tx.as_ref().ok_or_else(writer_gone)?;
        tx.send(writer::Msg::Sync(reply))
            .map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())?
    }

    /// Writes a checkpoint now: fsyncs the segment files, records every shard's position, and
    /// deletes the WAL files and trimmed segments it makes unnecessary.
    pub async fn checkpoint(&self) -> StorageResult<()> {
        let (reply, rx) = oneshot::channel();
        self.shared
            .ckpt_tx
            .send(checkpoint::Msg::Run(Some(reply)))
            .map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())?
    }
}

impl std::fmt::Debug for SegmentLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentLog")
            .field("dir", &self.shared.dir)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for SegmentLog {
    fn drop(&mut self) {
        // Closing the channel makes the writer drain what is queued and stop; it stops the
        // syncer, which fsyncs first. Then one last checkpoint.
        drop(self.tx.take());
        if let Some(h) = self.writer.take() {
            if h.join().is_err() {
                tracing::error!("segment writer thread panicked");
            }
        }
        let _ = self.shared.ckpt_tx.send(checkpoint::Msg::Stop);
        if let Some(h) = self.checkpointer.take() {
            if h.join().is_err() {
                tracing::error!("segment checkpoint thread panicked");
            }
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> StorageResult<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| StorageError::Io(format!("cannot start thread {name}: {e}")))
}

fn writer_gone() -> StorageError {
    StorageError::Unavailable("the segment engine has stopped".into())
}

/// State shared by the handle and the three threads.
struct Shared {
    dir: PathBuf,
    opts: SegmentOptions,
    /// Live shards as readers see them.
    table: RwLock<HashMap<ShardKey, Arc<Shard>>>,
    state: Mutex<State>,
    /// Set once a write failed in a way that leaves durability unknown (a failed fsync): every
    /// later write is refused until restart. Reads keep working.
    poison: Mutex<Option<String>>,
    ckpt_tx: mpsc::Sender<checkpoint::Msg>,
    /// A checkpoint was requested and has not started yet (avoids flooding its channel).
    ckpt_requested: AtomicBool,
    stats: Stats,
    /// The last writability probe and disk measurement (`health`).
    health: health::Cache,
    /// Tests hold this to stall the syncer just before it fsyncs.
    #[cfg(test)]
    sync_gate: Mutex<()>,
    /// Held (advisory lock) while open; declared last so it is released last.
    _dir_lock: File,
}

impl Shared {
    fn poisoned(&self) -> StorageResult<()> {
        match &*self.poison.lock() {
            Some(msg) => Err(StorageError::Unavailable(msg.clone())),
            None => Ok(()),
        }
    }

    /// Marks the engine unwritable after `what` failed. Returns the error to hand out.
    fn poison(&self, what: &str, e: &std::io::Error) -> StorageError {
        let msg = format!(
            "{what} failed ({e}); after a failed write or fsync the data on disk is uncertain, \
             so writes are refused until the server is restarted"
        );
        tracing::error!(error = %e, "{what} failed: the segment engine refuses writes until restart");
        let mut p = self.poison.lock();
        StorageError::Unavailable(p.get_or_insert(msg).clone())
    }

    fn request_checkpoint(&self) {
        if !self.ckpt_requested.swap(true, Ordering::AcqRel) {
            let _ = self.ckpt_tx.send(checkpoint::Msg::Run(None));
        }
    }
}

/// `shards/<stream>-<shard>-<generation>`: the generation makes a re-created shard a new
/// directory, so nothing of a deleted incarnation can leak into it.
fn shard_dir(dir: &Path, inc: Incarnation) -> PathBuf {
    dir.join("shards")
        .join(format!("{}-{}-{}", inc.stream, inc.shard, inc.gen))
}

fn parse_shard_dir(name: &str) -> Option<Incarnation> {
    let mut it = name.split('-');
    let inc = Incarnation {
        stream: it.next()?.parse().ok()?,
        shard: it.next()?.parse().ok()?,
        gen: it.next()?.parse().ok()?,
    };
    it.next().is_none().then_some(inc)
}

fn key_of(inc: Incarnation) -> ShardKey {
    ShardKey {
        stream: inc.stream,
        shard: inc.shard,
    }
}
