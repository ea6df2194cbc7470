//! The single writer thread: group commit, the `Interval` fsync timer, and the purge that gives
//! disk space back after `trim_before` and `delete_shard`.
//!
//! Group commit: every `append` becomes a [`Job`] on an unbounded channel (memory is bounded by
//! the in-flight semaphore the caller holds, not by the channel). The writer blocks for the first
//! job, drains whatever else is queued (up to `max_batch_bytes`), assigns offsets, writes ALL of it
//! as one fjall write batch and, in `Durability::Sync`, fsyncs the journal once as part of that
//! commit. Only then does it publish the new offsets to readers and answer the callers. While it
//! waits for the disk, new appends pile up in the channel and form the next group.

use super::keys::{self, ShardRecord};
use super::{now_ms, write_err, Durability, ShardView, Shared, WriterState};
use crate::{Appended, ShardAppend, ShardKey, StorageError, StorageResult};
use ::fjall::{OwnedWriteBatch, PersistMode};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, OwnedSemaphorePermit};

/// Keys deleted per purge step: small enough that appends waiting behind a step barely notice.
pub(super) const PURGE_CHUNK: u64 = 4096;
/// After a failed purge step (the journal is refusing writes), wait this long before retrying.
const PURGE_BACKOFF: Duration = Duration::from_secs(5);

pub(super) enum Msg {
    Append(Job),
    /// Sent after `trim_before` / `delete_shard` queue purge work, so an idle writer starts it.
    Wake,
}

pub(super) struct Job {
    pub appends: Vec<ShardAppend>,
    pub bytes: u64,
    pub reply: oneshot::Sender<StorageResult<Vec<Appended>>>,
    /// Released when the job is dropped, i.e. once it has been answered.
    pub _permit: OwnedSemaphorePermit,
}

pub(super) struct WriterConfig {
    pub durability: Durability,
    pub max_batch_bytes: u64,
}

pub(super) fn run(shared: &Shared, rx: &Receiver<Msg>, cfg: &WriterConfig) {
    let mut unsynced_since: Option<Instant> = None;
    let mut purge_paused_until: Option<Instant> = None;
    let mut open = true;
    while open {
        if purge_paused_until.is_some_and(|t| Instant::now() >= t) {
            purge_paused_until = None;
        }
        let purge_due = purge_paused_until.is_none() && has_purge_work(&shared.writer.lock());
        let sync_due_in = match (cfg.durability, unsynced_since) {
            (Durability::Interval(iv), Some(t)) => {
                Some((t + iv).saturating_duration_since(Instant::now()))
            }
            _ => None,
        };
        // With purge work pending we only peek at the queue; otherwise we sleep until a job
        // arrives, the fsync timer fires, or a paused purge may retry.
        let wait = if purge_due {
            Some(Duration::ZERO)
        } else {
            let retry = purge_paused_until.map(|t| t.saturating_duration_since(Instant::now()));
            match (sync_due_in, retry) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        let first = match wait {
            Some(w) => match rx.recv_timeout(w) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    None
                }
            },
            None => rx.recv().ok().or_else(|| {
                open = false;
                None
            }),
        };

        let mut jobs = Vec::new();
        let mut bytes = 0;
        if let Some(first) = first {
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                if let Msg::Append(job) = msg {
                    bytes += job.bytes;
                    jobs.push(job);
                }
                if bytes < cfg.max_batch_bytes {
                    next = rx.try_recv().ok();
                }
            }
        }
        let mut written = 0;
        if !jobs.is_empty() {
            written = commit(shared, jobs, cfg.durability);
            if written > 0 && matches!(cfg.durability, Durability::Interval(_)) {
                unsynced_since.get_or_insert_with(Instant::now);
            }
        }
        if let (Durability::Interval(iv), Some(t)) = (cfg.durability, unsynced_since) {
            if t.elapsed() >= iv {
                sync(shared);
                unsynced_since = None;
            }
        }
        if purge_due {
            // Keep up with the append rate: purge at least twice what was just written.
            let chunk = PURGE_CHUNK.max(written.saturating_mul(2));
            let mut ws = shared.writer.lock();
            match purge_step(shared, &mut ws, chunk) {
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "retention purge failed; retrying later");
                    purge_paused_until = Some(Instant::now() + PURGE_BACKOFF);
                }
            }
        }
    }
    // Shutdown: everything acknowledged in Interval mode reaches the disk now.
    sync(shared);
}

fn sync(shared: &Shared) {
    match shared.db.persist(PersistMode::SyncAll) {
        Ok(()) => {
            shared.stats.syncs.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => tracing::error!(error = %e, "journal fsync failed"),
    }
}

/// Writes one group commit. Returns how many records were written.
fn commit(shared: &Shared, jobs: Vec<Job>, durability: Durability) -> u64 {
    // Held across the fsync so that create/delete/trim see either none or all of this batch.
    let guard = shared.writer.lock();
    let mode = match durability {
        Durability::Sync => PersistMode::SyncAll,
        Durability::Interval(_) => PersistMode::Buffer,
    };
    let mut batch = shared.db.batch().durability(Some(mode));
    let mut pending = HashMap::new();
    let mut records = 0;
    let now = now_ms();
    let mut outcomes: Vec<StorageResult<Vec<Appended>>> = {
        let visible = shared.visible.read();
        jobs.iter()
            .map(|job| {
                plan(
                    shared,
                    job,
                    &visible,
                    &mut pending,
                    &mut batch,
                    now,
                    &mut records,
                )
            })
            .collect()
    };
    let result = if batch.is_empty() {
        Ok(())
    } else {
        batch.commit().map_err(write_err)
    };
    match result {
        Ok(()) => {
            if records > 0 {
                let stats = &shared.stats;
                stats.group_commits.fetch_add(1, Ordering::Relaxed);
                stats.records.fetch_add(records, Ordering::Relaxed);
                if durability == Durability::Sync {
                    stats.syncs.fetch_add(1, Ordering::Relaxed);
                }
            }
            shared.visible.write().extend(pending);
        }
        Err(e) => {
            tracing::error!(error = %e, jobs = jobs.len(), "group commit failed");
            records = 0;
            let msg = match e {
                StorageError::Unavailable(m) => m,
                other => other.to_string(),
            };
            for o in outcomes.iter_mut().filter(|o| o.is_ok()) {
                *o = Err(StorageError::Unavailable(msg.clone()));
            }
        }
    }
    drop(guard);
    let ok = outcomes.iter().filter(|o| o.is_ok()).count() as u64;
    shared.stats.appends.fetch_add(ok, Ordering::Relaxed);
    for (job, outcome) in jobs.into_iter().zip(outcomes) {
        // The caller may have stopped waiting (cancelled future); its records stay written.
        let _ = job.reply.send(outcome);
    }
    records
}

/// Assigns offsets for one job and adds its records to the batch. A job naming a missing shard
/// fails as a whole and writes nothing.
fn plan(
    shared: &Shared,
    job: &Job,
    visible: &HashMap<ShardKey, ShardView>,
    pending: &mut HashMap<ShardKey, ShardView>,
    batch: &mut OwnedWriteBatch,
    now: i64,
    records: &mut u64,
) -> StorageResult<Vec<Appended>> {
    if let Some(a) = job
        .appends
        .iter()
        .find(|a| !pending.contains_key(&a.shard) && !visible.contains_key(&a.shard))
    {
        return Err(StorageError::NoSuchShard(a.shard));
    }
    let mut out = Vec::with_capacity(job.appends.len());
    for a in &job.appends {
        let view = match pending.get_mut(&a.shard) {
            Some(v) => v,
            None => {
                let Some(v) = visible.get(&a.shard).copied() else {
                    return Err(StorageError::NoSuchShard(a.shard));
                };
                pending.entry(a.shard).or_insert(v)
            }
        };
        // Arrival times never go backwards within a shard, even if the wall clock does.
        let arrival = view.last_arrival.map_or(now, |last| last.max(now));
        out.push(Appended {
            first_offset: view.next,
            arrival_ms: arrival,
        });
        if a.payloads.is_empty() {
            continue;
        }
        // The index needs an entry only where the arrival time steps up (see keys.rs).
        if view.last_arrival.is_none_or(|last| arrival > last) {
            batch.insert(
                &shared.by_time,
                keys::time_key(a.shard, arrival, view.next),
                [],
            );
        }
        for p in &a.payloads {
            batch.insert(
                &shared.records,
                keys::record_key(a.shard, view.next),
                keys::record_value(arrival, p),
            );
            view.next += 1;
            *records += 1;
        }
        view.last_arrival = Some(arrival);
    }
    Ok(out)
}

pub(super) fn has_purge_work(ws: &WriterState) -> bool {
    !ws.purge_queue.is_empty() || !ws.graveyard.is_empty()
}

/// Deletes up to `chunk` records of one shard that are below its trim point, or of one deleted
/// shard. The deletes are not fsynced: if they are lost in a crash, the trim point (already
/// persisted) still hides the records and recovery queues the purge again.
pub(super) fn purge_step(shared: &Shared, ws: &mut WriterState, chunk: u64) -> StorageResult<()> {
    if let Some(shard) = ws.purge_queue.first().copied() {
        purge_trimmed(shared, ws, shard, chunk)
    } else if let Some(shard) = ws.graveyard.keys().next().copied() {
        purge_graveyard(shared, ws, shard, chunk)
    } else {
        Ok(())
    }
}

fn purge_trimmed(
    shared: &Shared,
    ws: &mut WriterState,
    shard: ShardKey,
    chunk: u64,
) -> StorageResult<()> {
    let Some(first) = shared.visible.read().get(&shard).map(|v| v.first) else {
        ws.purge_queue.remove(&shard);
        return Ok(());
    };
    let from = ws.purged.get(&shard).copied().unwrap_or(first);
    let to = first.min(from.saturating_add(chunk));
    let mut batch = shared.db.batch().durability(Some(PersistMode::Buffer));
    for offset in from..to {
        batch.remove(&shared.records, keys::record_key(shard, offset));
    }
    purge_index(shared, &mut batch, shard, Some(first), chunk)?;
    batch.commit().map_err(write_err)?;
    ws.purged.insert(shard, to);
    if to >= first {
        ws.purge_queue.remove(&shard);
    }
    shared
        .stats
        .purged_records
        .fetch_add(to.saturating_sub(from), Ordering::Relaxed);
    Ok(())
}

/// One chunk of removing a deleted shard; its state record goes with the last chunk.
pub(super) fn purge_graveyard(
    shared: &Shared,
    ws: &mut WriterState,
    shard: ShardKey,
    chunk: u64,
) -> StorageResult<()> {
    let Some(range) = ws.graveyard.get(&shard).cloned() else {
        return Ok(());
    };
    let to = range.end.min(range.start.saturating_add(chunk));
    let mut batch = shared.db.batch().durability(Some(PersistMode::Buffer));
    for offset in range.start..to {
        batch.remove(&shared.records, keys::record_key(shard, offset));
    }
    let index_done = purge_index(shared, &mut batch, shard, None, chunk)?;
    let done = to >= range.end && index_done;
    if done {
        // Forget the shard only together with its last keys, so a crash cannot orphan them.
        batch.remove(&shared.shards, keys::shard_prefix(shard));
    }
    batch.commit().map_err(write_err)?;
    if done {
        ws.graveyard.remove(&shard);
    } else {
        ws.graveyard.insert(shard, to..range.end);
    }
    shared
        .stats
        .purged_records
        .fetch_add(to.saturating_sub(range.start), Ordering::Relaxed);
    Ok(())
}

/// Removes time-index entries of `shard` whose whole run of offsets lies below `trim` (all
/// entries when `trim` is `None`), at most `chunk` of them. The entry whose run contains the trim
/// point must stay: it is what a time lookup lands on. Returns true if nothing is left to remove.
fn purge_index(
    shared: &Shared,
    batch: &mut OwnedWriteBatch,
    shard: ShardKey,
    trim: Option<u64>,
    chunk: u64,
) -> StorageResult<bool> {
    let limit = usize::try_from(chunk).unwrap_or(usize::MAX);
    let mut prev: Option<::fjall::UserKey> = None;
    let mut removed = 0;
    for guard in shared.by_time.prefix(keys::shard_prefix(shard)) {
        if removed >= limit {
            return Ok(false);
        }
        let key = guard.key().map_err(super::read_err)?;
        match trim {
            None => {
                batch.remove(&shared.by_time, key);
                removed += 1;
            }
            Some(trim) => {
                let (_, offset) = keys::decode_time_key(&key)?;
                if let Some(p) = prev.take() {
                    // `p`'s run ends where this entry starts.
                    if offset > trim {
                        return Ok(true);
                    }
                    batch.remove(&shared.by_time, p);
                    removed += 1;
                }
                prev = Some(key);
            }
        }
    }
    Ok(true)
}

/// Persists a shard's state record (used by create, delete and trim).
pub(super) fn put_shard_record(
    shared: &Shared,
    shard: ShardKey,
    rec: ShardRecord,
    mode: PersistMode,
) -> StorageResult<()> {
    let mut batch = shared.db.batch().durability(Some(mode));
    batch.insert(&shared.shards, keys::shard_prefix(shard), rec.encode());
    batch.commit().map_err(write_err)
}
