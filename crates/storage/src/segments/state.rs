//! The engine's in-memory state: what the writer owns (under `Shared::state`) and what readers
//! see (each shard's `view`). Memory grows with shards and segments, never with records.

use super::format::Incarnation;
use super::{wal, SegmentStats};
use crate::ShardKey;
use parking_lot::RwLock;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// Writer-side state, under `Shared::state`.
pub(super) struct State {
    pub wal: wal::Wal,
    pub writers: HashMap<ShardKey, ShardWriter>,
    pub next_gen: u64,
    /// Files written since the last checkpoint; the checkpoint fsyncs and forgets them.
    pub dirty_files: HashMap<PathBuf, Arc<SegFiles>>,
    /// Directories whose entries changed since the last checkpoint.
    pub dirty_dirs: HashSet<PathBuf>,
    /// Files and directories to delete once the next checkpoint is written.
    pub doomed: Vec<PathBuf>,
    /// Anything happened since the last checkpoint snapshot.
    pub changed: bool,
    /// Bytes written (WAL batches and direct segment writes) since the last checkpoint
    /// snapshot: a checkpoint is due once this reaches `checkpoint_bytes`.
    pub written_since_checkpoint: u64,
}

/// One live shard, as the writer sees it.
pub(super) struct ShardWriter {
    pub inc: Incarnation,
    pub shard: Arc<Shard>,
    /// Next offset to assign (ahead of the published one while a group commit is in flight).
    pub next: u64,
    pub last_arrival: Option<i64>,
    /// The segment being appended to; `None` before the first record or after retention
    /// deleted every segment.
    pub tail: Option<Tail>,
    /// Closed by `close_shard`: appends fail. Not persisted: the engine closes its closed
    /// shards again after a restart.
    pub closed: bool,
}

pub(super) struct Tail {
    pub base: u64,
    pub first_arrival: i64,
    pub files: Arc<SegFiles>,
    /// Bytes in the segment file, header included.
    pub len: u64,
    pub idx_entries: u64,
    /// File position of the record of the last index entry.
    pub last_idx_pos: u64,
}

/// Open handles of a segment and its index.
pub(super) struct SegFiles {
    pub data: File,
    pub idx: File,
}

/// One live shard, as readers see it.
pub(super) struct Shard {
    pub dir: PathBuf,
    pub view: RwLock<View>,
    /// `view.next`, sent after each publication (see `ShardLog::watch`). Dropped with the
    /// shard, which closes the receivers.
    pub published: watch::Sender<u64>,
}

impl Shard {
    pub fn new(dir: PathBuf, view: View) -> Self {
        let (published, _) = watch::channel(view.next);
        Self {
            dir,
            view: RwLock::new(view),
            published,
        }
    }
}

#[derive(Default)]
pub(super) struct View {
    /// Trim point: the lowest readable offset.
    pub first: u64,
    /// Published next offset: everything below is durable (or, in `Interval`, written).
    pub next: u64,
    pub last_arrival: Option<i64>,
    /// Summaries of the shard's segments, oldest first; the last one is being appended to.
    pub segments: VecDeque<SegmentRef>,
}

#[derive(Clone)]
pub(super) struct SegmentRef {
    pub base: u64,
    pub first_arrival: i64,
    /// The tail's open handles and its written index entries; `None` once sealed (readers then
    /// open the file by path and take the index length from the file).
    pub active: Option<(Arc<SegFiles>, u64)>,
}

#[derive(Default)]
pub(super) struct Stats {
    pub group_commits: AtomicU64,
    pub appends: AtomicU64,
    pub records: AtomicU64,
    pub syncs: AtomicU64,
    pub checkpoints: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub direct_bytes: AtomicU64,
    pub segments_created: AtomicU64,
    pub segments_deleted: AtomicU64,
    /// Duration of each fsync round of the syncer thread.
    pub fsync: tributary_telemetry::Histogram,
}

impl Stats {
    pub fn snapshot(&self) -> SegmentStats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SegmentStats {
            group_commits: l(&self.group_commits),
            appends: l(&self.appends),
            records: l(&self.records),
            syncs: l(&self.syncs),
            checkpoints: l(&self.checkpoints),
            wal_bytes: l(&self.wal_bytes),
            direct_bytes: l(&self.direct_bytes),
            segments_created: l(&self.segments_created),
            segments_deleted: l(&self.segments_deleted),
        }
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
