//! The syncer thread: makes written group commits durable, then publishes them to readers and
//! answers their callers, in order.
//!
//! Splitting this from the writer pipelines the two halves of a group commit: while the syncer
//! waits for the disk, the writer already encodes and writes the next group. Every group
//! drained in one round shares one fsync of each file involved (the WAL file, plus the segments
//! that got direct writes, plus the directories of segments they created); the fsyncs of one
//! round run in parallel.

use super::{SegFiles, Shard, Shared, Stats};
use crate::{Appended, StorageError, StorageResult};
use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, OwnedSemaphorePermit};

/// fsyncs issued at once by one round.
const PARALLEL_FSYNCS: usize = 8;

/// Something to fsync before the group commits that name it are acknowledged.
#[derive(Clone)]
pub(super) enum Target {
    Wal(Arc<File>),
    Segment(Arc<SegFiles>),
    Dir(PathBuf),
}

impl Target {
    fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Wal(a), Self::Wal(b)) => Arc::ptr_eq(a, b),
            (Self::Segment(a), Self::Segment(b)) => Arc::ptr_eq(a, b),
            (Self::Dir(a), Self::Dir(b)) => a == b,
            _ => false,
        }
    }

    fn sync(&self) -> std::io::Result<()> {
        match self {
            Self::Wal(f) => f.sync_data(),
            Self::Segment(f) => f.data.sync_data(),
            // A directory deleted meanwhile (its shard was deleted) needs no fsync.
            Self::Dir(d) => match super::files::sync_dir(d) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        }
    }
}

/// What one caller is told once its group commit is durable (or failed).
pub(super) struct Reply {
    pub tx: oneshot::Sender<StorageResult<Vec<Appended>>>,
    pub outcome: StorageResult<Vec<Appended>>,
    pub records: u64,
    /// Held until answered: the caller's share of the in-flight budget.
    pub permit: OwnedSemaphorePermit,
}

/// A shard's new published position: `(shard, next, last arrival)`.
pub(super) type Publish = (Arc<Shard>, u64, Option<i64>);

pub(super) enum Msg {
    /// `Durability::Sync`: fsync `targets`, then publish and answer.
    Commit {
        targets: Vec<Target>,
        publish: Vec<Publish>,
        replies: Vec<Reply>,
    },
    /// `Durability::Interval`: these hold acknowledged but unsynced writes.
    Dirty(Vec<Target>),
    /// fsync everything written so far (including `Dirty` targets), then answer.
    Flush(Vec<Target>, oneshot::Sender<StorageResult<()>>),
}

pub(super) fn run(shared: &Shared, rx: &Receiver<Msg>, interval: Option<Duration>) {
    let mut unsynced: Vec<Target> = Vec::new();
    let mut deadline: Option<Instant> = None;
    loop {
        let first = match deadline {
            Some(d) => match rx.recv_timeout(d.saturating_duration_since(Instant::now())) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => break,
            },
        };
        let mut msgs: Vec<Msg> = first.into_iter().collect();
        while msgs.len() < 4096 {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(_) => break,
            }
        }
        let mut targets = Vec::new();
        let mut commits = Vec::new();
        let mut flushes = Vec::new();
        for m in msgs {
            match m {
                Msg::Commit {
                    targets: t,
                    publish,
                    replies,
                } => {
                    add(&mut targets, t);
                    commits.push((publish, replies));
                }
                Msg::Dirty(t) => {
                    add(&mut unsynced, t);
                    if let Some(iv) = interval {
                        deadline.get_or_insert_with(|| Instant::now() + iv);
                    }
                }
                Msg::Flush(t, reply) => {
                    add(&mut targets, t);
                    flushes.push(reply);
                }
            }
        }
        let timer_due = deadline.is_some_and(|d| Instant::now() >= d);
        if !flushes.is_empty() || timer_due {
            add(&mut targets, std::mem::take(&mut unsynced));
            deadline = None;
        }
        if targets.is_empty() && commits.is_empty() && flushes.is_empty() {
            continue;
        }
        let result = sync_all(shared, &targets);
        finish(shared, commits, flushes, &result);
    }
    // Shutdown: acknowledged Interval writes reach the disk now.
    if !unsynced.is_empty() {
        let _ = sync_all(shared, &unsynced);
    }
}

fn add(into: &mut Vec<Target>, more: Vec<Target>) {
    for t in more {
        if !into.iter().any(|x| x.same(&t)) {
            into.push(t);
        }
    }
}

/// fsyncs every target, in parallel when there are several. Any failure poisons the engine:
/// after a failed fsync the kernel may have dropped the dirty pages, so no later fsync can
/// vouch for them.
fn sync_all(shared: &Shared, targets: &[Target]) -> StorageResult<()> {
    shared.poisoned()?;
    #[cfg(test)]
    let _gate = shared.sync_gate.lock();
    let started = Instant::now();
    // At most PARALLEL_FSYNCS at once: enough to keep the device busy, few threads.
    let per = targets.len().div_ceil(PARALLEL_FSYNCS).max(1);
    let results: Vec<std::io::Result<()>> = std::thread::scope(|s| {
        let mut chunks = targets.chunks(per);
        let mine = chunks.next().unwrap_or(&[]);
        let handles: Vec<_> = chunks
            .map(|c| s.spawn(move || c.iter().map(Target::sync).collect::<Vec<_>>()))
            .collect();
        let mut out: Vec<_> = mine.iter().map(Target::sync).collect();
        for h in handles {
            match h.join() {
                Ok(r) => out.extend(r),
                Err(_) => out.push(Err(std::io::Error::other("fsync thread panicked"))),
            }
        }
        out
    });
    Stats::add(&shared.stats.syncs, 1);
    shared.stats.fsync.observe(started.elapsed());
    match results.into_iter().find_map(Result::err) {
        Some(e) => Err(shared.poison("fsync", &e)),
        None => Ok(()),
    }
}

fn finish(
    shared: &Shared,
    commits: Vec<(Vec<Publish>, Vec<Reply>)>,
    flushes: Vec<oneshot::Sender<StorageResult<()>>>,
    result: &StorageResult<()>,
) {
    for (publish, replies) in commits {
        if result.is_ok() {
            for (shard, next, last_arrival) in publish {
                super::writer::publish_to(&shard, next, last_arrival);
            }
        }
        answer(shared, replies, result);
    }
    for f in flushes {
        let _ = f.send(result.as_ref().map(|_| ()).map_err(unavailable));
    }
}

/// Answers callers: their own outcome if the commit is durable, else the failure. The
/// counters are updated before anyone is answered, so a caller that reads them after its
/// append returns sees its own append counted.
pub(super) fn answer(shared: &Shared, replies: Vec<Reply>, result: &StorageResult<()>) {
    let (mut ok, mut records) = (0u64, 0u64);
    let answers: Vec<_> = replies
        .into_iter()
        .map(|r| {
            let outcome = match (result, r.outcome) {
                (Ok(()), Ok(v)) => {
                    ok += 1;
                    records += r.records;
                    Ok(v)
                }
                (Err(e), Ok(_)) => Err(unavailable(e)),
                (_, Err(e)) => Err(e),
            };
            (r.tx, r.permit, outcome)
        })
        .collect();
    Stats::add(&shared.stats.appends, ok);
    Stats::add(&shared.stats.records, records);
    for (tx, permit, outcome) in answers {
        // Released before the answer, so a caller that has its answer no longer counts in
        // the backlog `/metrics` shows.
        drop(permit);
        // The caller may have stopped waiting; its records stay written.
        let _ = tx.send(outcome);
    }
}

/// The same failure, as `Unavailable` (nothing of the call was acknowledged).
pub(super) fn unavailable(e: &StorageError) -> StorageError {
    match e {
        StorageError::Unavailable(m) => StorageError::Unavailable(m.clone()),
        other => StorageError::Unavailable(other.to_string()),
    }
}
