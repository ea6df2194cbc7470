//! The embedded engine: one fjall 3 database implementing both [`ShardLog`] and [`MetaStore`].
//!
//! Why one database: fjall keeps ONE journal for all keyspaces, so a single fsync makes a whole
//! group commit durable, whatever shards it touches. See `docs/storage.md` for the on-disk
//! format, the durability modes and crash recovery.
//!
//! Submodules:
//! - `keys`: the frozen key/value layouts and the format version.
//! - `open`: directory lock, format check, recovery of the in-memory shard table.
//! - `writer`: the single writer thread (group commit) and the background purge (retention).
//! - `log`: the [`ShardLog`] implementation (control operations and reads).
//! - `meta`: the [`MetaStore`] implementation.
//!
//! Concurrency model, in one place:
//! - `Shared::visible` holds, per live shard, the offsets readers may see. It is updated only
//!   after a batch is committed (and, in `Durability::Sync`, fsynced), so readers never see a
//!   record that could still be lost.
//! - `Shared::writer` serialises everything that changes shard state: the writer thread holds it
//!   across one whole group commit; `create_shard`, `delete_shard` and `trim_before` take it too.
//! - `Shared::meta_revision` serialises `MetaStore` compare-and-set operations.

mod keys;
mod log;
mod meta;
mod open;
mod writer;

#[cfg(test)]
mod tests;

use crate::{ShardKey, StorageError};
use ::fjall::{Database, Keyspace};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::Semaphore;

pub use keys::FORMAT_VERSION;
/// Shared with the segment engine: the same lock file protocol.
pub(crate) use open::lock_dir;

/// When an append is acknowledged relative to the fsync of the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Acknowledge only after the journal is fsynced. Nothing acknowledged is ever lost.
    #[default]
    Sync,
    /// Acknowledge once the batch is written to the operating system; fsync at most this long
    /// after the first unsynced write. A killed process loses nothing (the data is in the OS page
    /// cache), but a power loss or kernel crash loses up to this much acknowledged data.
    Interval(Duration),
}

/// Tuning of the fjall engine. Every field bounds memory or trades durability; the defaults suit a
/// small server.
#[derive(Debug, Clone)]
pub struct FjallOptions {
    pub durability: Durability,
    /// Block cache shared by all keyspaces (fjall's main memory consumer).
    pub cache_bytes: u64,
    /// Memtable size of the records keyspace: writes collect in memory up to this size, then
    /// are flushed to a table in the background (the other keyspaces use 4 MiB each). fjall may
    /// hold a few sealed memtables while flushing, so budget about three times this.
    pub write_buffer_bytes: u64,
    /// Journal files kept on disk before fjall forces the keyspaces still holding the oldest one
    /// to flush (fjall's minimum is 64 MiB). The active journal alone grows to about 64 MB
    /// before fjall starts a new file, so journals use between that and this much disk.
    pub max_journal_bytes: u64,
    /// Payloads (plus the 8-byte arrival time) at or above this size are stored in separate blob
    /// files instead of inside the LSM tree, so compaction does not rewrite them. `None` keeps
    /// everything in the tree.
    pub blob_threshold: Option<u32>,
    /// Appends wait (asynchronously) while this many payload bytes are queued for the writer:
    /// the backpressure that keeps memory bounded under overload.
    pub max_inflight_bytes: u64,
    /// The writer stops draining its queue once a group commit holds this many payload bytes.
    pub max_batch_bytes: u64,
}

impl Default for FjallOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Sync,
            cache_bytes: 64 << 20,
            write_buffer_bytes: 32 << 20,
            max_journal_bytes: 256 << 20,
            blob_threshold: Some(4 << 10),
            max_inflight_bytes: 64 << 20,
            max_batch_bytes: 16 << 20,
        }
    }
}

/// Counters for metrics and tests. Monotonic since open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FjallStats {
    /// Write batches committed by the writer thread (one per group commit).
    pub group_commits: u64,
    /// Append calls acknowledged successfully.
    pub appends: u64,
    /// Records written.
    pub records: u64,
    /// Journal fsyncs issued for appends (group commits in `Sync`, timer ticks in `Interval`).
    pub syncs: u64,
    /// Record keys deleted by the retention / shard deletion purge.
    pub purged_records: u64,
}

/// One fjall database holding every shard's log and the metadata store.
///
/// Cheap to share behind the returned `Arc`. Dropping the last reference stops the writer thread
/// after it has committed everything already queued, fsyncs the journal and releases the
/// directory lock.
pub struct FjallStore {
    shared: Arc<Shared>,
    tx: Option<mpsc::Sender<writer::Msg>>,
    writer: Option<JoinHandle<()>>,
    inflight: Arc<Semaphore>,
    /// Permits are counted in KiB so that a `u32` permit count covers any append.
    inflight_kib: u32,
}

impl FjallStore {
    /// Opens (creating if needed) the store in `dir`. Fails if another process (or another
    /// `FjallStore` in this process) holds the directory, or if the directory was written with an
    /// incompatible storage format.
    pub fn open(dir: &Path, opts: FjallOptions) -> crate::StorageResult<Arc<Self>> {
        let shared = Arc::new(open::open_shared(dir, &opts)?);
        let (tx, rx) = mpsc::channel();
        let cfg = writer::WriterConfig {
            durability: opts.durability,
            max_batch_bytes: opts.max_batch_bytes,
        };
        let thread_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("tributary-storage-writer".into())
            .spawn(move || writer::run(&thread_shared, &rx, &cfg))
            .map_err(|e| StorageError::Io(format!("cannot start the storage writer: {e}")))?;
        let inflight_kib = u32::try_from((opts.max_inflight_bytes >> 10).max(1))
            .unwrap_or(u32::MAX)
            .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        Ok(Arc::new(Self {
            shared,
            tx: Some(tx),
            writer: Some(writer),
            inflight: Arc::new(Semaphore::new(inflight_kib as usize)),
            inflight_kib,
        }))
    }

    pub fn stats(&self) -> FjallStats {
        let s = &self.shared.stats;
        FjallStats {
            group_commits: s.group_commits.load(Ordering::Relaxed),
            appends: s.appends.load(Ordering::Relaxed),
            records: s.records.load(Ordering::Relaxed),
            syncs: s.syncs.load(Ordering::Relaxed),
            purged_records: s.purged_records.load(Ordering::Relaxed),
        }
    }

    /// Bytes the data directory occupies on disk (allocated blocks, like `du`: fjall preallocates
    /// journal files, so their length would overstate it).
    pub fn disk_space(&self) -> crate::StorageResult<u64> {
        dir_usage(&self.shared.dir)
            .map_err(|e| StorageError::Io(format!("cannot measure disk space: {e}")))
    }

    /// Nudges the writer thread so that it looks for purge work now.
    fn wake_writer(&self) {
        if let Some(tx) = &self.tx {
            // A send error means the writer is gone; whoever needs it will report that.
            let _ = tx.send(writer::Msg::Wake);
        }
    }
}

impl std::fmt::Debug for FjallStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallStore")
            .field("dir", &self.shared.dir)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for FjallStore {
    fn drop(&mut self) {
        // Closing the channel makes the writer drain what is queued, fsync and exit.
        drop(self.tx.take());
        if let Some(handle) = self.writer.take() {
            if handle.join().is_err() {
                tracing::error!("storage writer thread panicked");
            }
        }
    }
}

/// State shared by the store handle and the writer thread.
struct Shared {
    dir: PathBuf,
    db: Database,
    records: Keyspace,
    by_time: Keyspace,
    shards: Keyspace,
    meta: Keyspace,
    sys: Keyspace,
    visible: RwLock<HashMap<ShardKey, ShardView>>,
    writer: Mutex<WriterState>,
    /// Last MetaStore revision handed out; the lock serialises compare-and-set.
    meta_revision: Mutex<u64>,
    stats: Stats,
    /// Held (advisory lock) for as long as the store is open. Declared last so that it is
    /// released only after the database above has been closed.
    _dir_lock: std::fs::File,
}

/// What readers may see of one live shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ShardView {
    /// Trim point: the lowest readable offset.
    first: u64,
    /// Next offset to assign; everything below it is committed.
    next: u64,
    last_arrival: Option<i64>,
}

/// Bookkeeping only the writer-lock holder touches: what is left to delete physically.
#[derive(Debug, Default)]
struct WriterState {
    /// Per live shard: offsets below this were already deleted from disk.
    purged: HashMap<ShardKey, u64>,
    /// Live shards whose trim point is above `purged`.
    purge_queue: BTreeSet<ShardKey>,
    /// Deleted shards whose records (this offset range) and index entries are still on disk.
    graveyard: HashMap<ShardKey, Range<u64>>,
}

#[derive(Debug, Default)]
struct Stats {
    group_commits: AtomicU64,
    appends: AtomicU64,
    records: AtomicU64,
    syncs: AtomicU64,
    purged_records: AtomicU64,
}

/// A failed write: the journal may be unwritable (disk full, I/O error); fjall refuses every
/// later write ("poisoned") until the process reopens the database.
fn write_err(e: ::fjall::Error) -> StorageError {
    match e {
        ::fjall::Error::Poisoned => StorageError::Unavailable(
            "an earlier journal write failed (disk full or I/O error); writes are refused \
             until the server is restarted"
                .into(),
        ),
        other => StorageError::Unavailable(other.to_string()),
    }
}

/// Allocated bytes under `dir`.
pub(crate) fn dir_usage(dir: &Path) -> std::io::Result<u64> {
    dir_usage_of(dir, |_| true)
}

/// Allocated bytes of the files under `dir` that `count` accepts. Files that vanish during the
/// walk (compaction deletes them all the time) are skipped.
fn dir_usage_of(dir: &Path, count: impl Fn(&Path) -> bool) -> std::io::Result<u64> {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let path = entry.path();
            if meta.is_dir() {
                stack.push(path);
            } else if count(&path) {
                total += allocated(&meta);
            }
        }
    }
    Ok(total)
}

#[cfg(unix)]
fn allocated(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.blocks() * 512
}

#[cfg(not(unix))]
fn allocated(meta: &std::fs::Metadata) -> u64 {
    meta.len()
}

fn read_err(e: ::fjall::Error) -> StorageError {
    StorageError::Io(e.to_string())
}

pub(crate) fn now_ms() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        // A clock before 1970: arrival times stay monotonic per shard anyway (max with last).
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}
