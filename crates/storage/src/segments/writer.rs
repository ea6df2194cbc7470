//! The writer thread: group commit.
//!
//! Every `append` becomes a [`Job`] on a channel (memory is bounded by the in-flight semaphore
//! the caller holds). The writer blocks for the first job, drains whatever else is queued (up to
//! `max_batch_bytes`), and under the state lock:
//! 1. plans the group in memory (`encode::plan`): offsets, arrival times, rolls, every byte;
//! 2. writes each touched shard's frames to its segment and index (`pwrite`, no fsync), then
//!    the ONE WAL batch; on any error it cuts every file back to where it was, so a failed
//!    group leaves no trace (if even that fails, the engine stops taking writes);
//! 3. updates the shard state and segment summaries.
//!
//! Then, in `Durability::Sync`, it hands the group to the syncer thread, which fsyncs and only
//! then publishes the new offsets and answers; in `Interval` it publishes and answers at once
//! and tells the syncer what to fsync later.

use super::encode::{self, Buffers, Plan, TailSim};
use super::files::{create_segment, idx_entry_pos, seg_path};
use super::syncer::{self, Publish, Reply, Target};
use super::Durability;
use super::{SegFiles, SegmentRef, Shard, Shared, State, Stats, Tail};
use crate::clock::now_ms;
use crate::{Appended, ShardAppend, StorageResult};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

pub(super) enum Msg {
    Append(Job),
    /// fsync everything written so far, then answer (`SegmentLog::sync`).
    Sync(oneshot::Sender<StorageResult<()>>),
}

pub(super) struct Job {
    pub appends: Vec<ShardAppend>,
    pub bytes: u64,
    pub reply: oneshot::Sender<StorageResult<Vec<Appended>>>,
    pub permit: OwnedSemaphorePermit,
}

pub(super) fn run(shared: &Shared, rx: &Receiver<Msg>, to_syncer: &Sender<syncer::Msg>) {
    let mut bufs = Buffers::default();
    while let Ok(first) = rx.recv() {
        let mut jobs = Vec::new();
        let mut flushes = Vec::new();
        let mut bytes = 0;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Append(job) => {
                    bytes += job.bytes;
                    jobs.push(job);
                }
                Msg::Sync(reply) => flushes.push(reply),
            }
            if bytes < shared.opts.max_batch_bytes {
                next = rx.try_recv().ok();
            }
        }
        if !jobs.is_empty() {
            commit(shared, jobs, &mut bufs, to_syncer);
            bufs.trim(usize::try_from(shared.opts.max_batch_bytes).unwrap_or(usize::MAX));
        }
        for reply in flushes {
            let wal = Target::Wal(Arc::clone(shared.state.lock().wal.file()));
            let _ = to_syncer.send(syncer::Msg::Flush(vec![wal], reply));
        }
    }
}

/// Writes one group commit and passes it on (see the module docs).
fn commit(shared: &Shared, jobs: Vec<Job>, bufs: &mut Buffers, to_syncer: &Sender<syncer::Msg>) {
    let mut st = shared.state.lock();
    let mut plan = encode::plan(&st, &jobs, now_ms(), &shared.opts, bufs);
    let written = if plan.entries == 0 {
        Ok(())
    } else if let Err(e) = shared.poisoned() {
        Err(e)
    } else {
        execute(shared, &mut st, &mut plan, bufs)
    };
    let mut publish: Vec<Publish> = Vec::new();
    let mut targets = Vec::new();
    if written.is_ok() && plan.entries > 0 {
        targets.push(Target::Wal(Arc::clone(st.wal.file())));
        apply(shared, &mut st, &plan, &mut targets, &mut publish);
        Stats::add(&shared.stats.group_commits, 1);
        Stats::add(&shared.stats.wal_bytes, bufs.wal.len() as u64);
        let direct: u64 = plan
            .shards
            .iter()
            .filter(|s| s.direct)
            .flat_map(|s| &s.pieces)
            .map(|p| p.piece.frames_len)
            .sum();
        st.written_since_checkpoint += bufs.wal.len() as u64 + direct;
        if st.written_since_checkpoint >= shared.opts.checkpoint_bytes {
            shared.request_checkpoint();
        }
    }
    drop(st);
    let replies: Vec<Reply> = jobs
        .into_iter()
        .zip(plan.outcomes)
        .zip(plan.counts)
        .map(|((job, outcome), records)| Reply {
            tx: job.reply,
            outcome,
            records,
            permit: job.permit,
        })
        .collect();
    match (written, shared.opts.durability) {
        (Err(e), _) => syncer::answer(shared, replies, &Err(e)),
        (Ok(()), _) if publish.is_empty() => syncer::answer(shared, replies, &Ok(())),
        (Ok(()), Durability::Sync) => {
            let msg = syncer::Msg::Commit {
                targets,
                publish,
                replies,
            };
            if let Err(std::sync::mpsc::SendError(syncer::Msg::Commit { replies, .. })) =
                to_syncer.send(msg)
            {
                let gone = crate::StorageError::Unavailable("the syncer has stopped".into());
                syncer::answer(shared, replies, &Err(gone));
            }
        }
        (Ok(()), Durability::Interval(_)) => {
            for (shard, next, last_arrival) in publish {
                publish_to(&shard, next, last_arrival);
            }
            syncer::answer(shared, replies, &Ok(()));
            let _ = to_syncer.send(syncer::Msg::Dirty(targets));
        }
    }
}

/// Makes `next` and `last_arrival` visible to readers of `shard`, then tells its watchers
/// (after the view: a watcher woken by the new value must find the records).
pub(super) fn publish_to(shard: &Shard, next: u64, last_arrival: Option<i64>) {
    let next = {
        let mut v = shard.view.write();
        v.next = v.next.max(next);
        if last_arrival.is_some() {
            v.last_arrival = last_arrival;
        }
        v.next
    };
    shard.published.send_if_modified(|p| {
        let moved = *p < next;
        *p = next;
        moved
    });
}

/// What to undo if a group commit fails half-way.
enum Undo {
    /// An existing segment was extended from these lengths.
    Extended(Arc<SegFiles>, u64, u64),
    /// A segment was created.
    Created(PathBuf, u64),
    /// The WAL batch was (partly) written.
    Wal,
}

/// Writes the planned bytes: segments and indexes first, then the WAL batch. On failure, puts
/// every file back as it was and returns `Unavailable`; if that fails too, poisons.
fn execute(shared: &Shared, st: &mut State, plan: &mut Plan, bufs: &Buffers) -> StorageResult<()> {
    let mut undo = Vec::new();
    let result = write_all(st, plan, bufs, &mut undo).and_then(|()| {
        st.wal.prepare(bufs.wal.len() as u64)?;
        undo.push(Undo::Wal);
        st.wal.append(&bufs.wal)
    });
    let Err(e) = result else {
        return Ok(());
    };
    tracing::error!(error = %e, "group commit failed; undoing its writes");
    let mut clean = Ok(());
    for u in undo.into_iter().rev() {
        let r = match u {
            Undo::Extended(f, len, idx_entries) => f
                .data
                .set_len(len)
                .and_then(|()| f.idx.set_len(idx_entry_pos(idx_entries))),
            Undo::Wal => st.wal.undo(),
            Undo::Created(dir, base) => std::fs::remove_file(seg_path(&dir, base))
                .and_then(|()| std::fs::remove_file(super::files::idx_path(&dir, base))),
        };
        clean = clean.and(r);
    }
    match clean {
        Ok(()) => Err(crate::StorageError::Unavailable(format!(
            "cannot write to the segment store: {e}"
        ))),
        Err(undo_err) => Err(shared.poison("undoing a failed group commit", &undo_err)),
    }
}

fn write_all(
    st: &State,
    plan: &mut Plan,
    bufs: &Buffers,
    undo: &mut Vec<Undo>,
) -> std::io::Result<()> {
    for sp in &mut plan.shards {
        let sw = &st.writers[&sp.key];
        let mut files = sw.tail.as_ref().map(|t| Arc::clone(&t.files));
        if let Some(t) = &sw.tail {
            undo.push(Undo::Extended(Arc::clone(&t.files), t.len, t.idx_entries));
        }
        let buf = if sp.direct { &bufs.direct } else { &bufs.wal };
        for pp in &mut sp.pieces {
            if pp.new_segment {
                let p = &pp.piece;
                let created = create_segment(&sw.shard.dir, p.segment_base, p.arrival_ms)?;
                undo.push(Undo::Created(sw.shard.dir.clone(), p.segment_base));
                files = Some(Arc::new(created));
            }
            let Some(f) = &files else {
                return Err(std::io::Error::other("a piece without a segment"));
            };
            f.data.write_all_at(&buf[pp.frames.clone()], pp.piece.pos)?;
            f.idx
                .write_all_at(&bufs.idx[pp.idx.clone()], idx_entry_pos(pp.idx_first))?;
            pp.files = Some(Arc::clone(f));
        }
    }
    Ok(())
}

/// Records a written group in the shard state, the segment summaries and the dirty sets, and
/// collects what the syncer must fsync and publish.
fn apply(
    shared: &Shared,
    st: &mut State,
    plan: &Plan,
    targets: &mut Vec<Target>,
    publish: &mut Vec<Publish>,
) {
    for sp in &plan.shards {
        let Some(sw) = st.writers.get_mut(&sp.key) else {
            continue;
        };
        let dir = sw.shard.dir.clone();
        let mut created = false;
        {
            let mut view = sw.shard.view.write();
            for pp in &sp.pieces {
                let Some(files) = &pp.files else { continue };
                if pp.new_segment {
                    created = true;
                    if let Some(last) = view.segments.back_mut() {
                        last.active = None;
                    }
                    view.segments.push_back(SegmentRef {
                        base: pp.piece.segment_base,
                        first_arrival: pp.piece.arrival_ms,
                        active: Some((Arc::clone(files), 0)),
                    });
                    Stats::add(&shared.stats.segments_created, 1);
                }
                if sp.direct {
                    targets.push(Target::Segment(Arc::clone(files)));
                    Stats::add(&shared.stats.direct_bytes, pp.piece.frames_len);
                }
                st.dirty_files
                    .insert(seg_path(&dir, pp.piece.segment_base), Arc::clone(files));
            }
            if let (Some(t), Some(last)) = (&sp.tail, view.segments.back_mut()) {
                if let Some((_, entries)) = &mut last.active {
                    *entries = t.idx_entries;
                }
            }
        }
        if created {
            st.dirty_dirs.insert(dir.clone());
            if sp.direct {
                // A segment that holds acknowledged data only by itself must survive a power
                // cut by name too.
                targets.push(Target::Dir(dir));
            }
        }
        let files = sp.pieces.last().and_then(|pp| pp.files.clone());
        sw.next = sp.next;
        sw.last_arrival = sp.last_arrival;
        if let (Some(t), Some(files)) = (sp.tail, files) {
            sw.tail = Some(tail_of(t, files));
        }
        publish.push((Arc::clone(&sw.shard), sp.next, sp.last_arrival));
    }
    st.changed = true;
}

fn tail_of(t: TailSim, files: Arc<SegFiles>) -> Tail {
    Tail {
        base: t.base,
        first_arrival: t.first_arrival,
        files,
        len: t.len,
        idx_entries: t.idx_entries,
        last_idx_pos: t.last_idx_pos,
    }
}
