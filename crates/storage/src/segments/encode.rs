//! Planning one group commit: offsets, arrival times, segment rolls, index entries and every
//! byte to write, computed in memory without touching the files or the shard state, so that a
//! failed write can be undone exactly (see `writer::execute`).
//!
//! Each record is copied once, into its frame; the frames of a shard are written to its segment
//! from the same buffer that becomes the WAL batch (or, for direct writes, from a side buffer
//! the WAL batch only refers to).

use super::format::{
    self, Piece, FILE_HEADER_LEN, FRAME_HEADER_LEN, KIND_FRAMES_INLINE, KIND_FRAMES_IN_SEGMENT,
    PIECE_HEADER_LEN,
};
use super::writer::Job;
use super::{SegFiles, SegmentOptions, State, Tail};
use crate::{Appended, ShardKey, StorageError, StorageResult};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

/// Reused across group commits so that steady state allocates nothing.
#[derive(Default)]
pub(super) struct Buffers {
    /// The WAL batch: headers, and the frames of inline pieces.
    pub wal: Vec<u8>,
    /// Frames of direct pieces.
    pub direct: Vec<u8>,
    /// Index entries of all pieces.
    pub idx: Vec<u8>,
}

impl Buffers {
    /// Gives memory back after an unusually large group commit.
    pub fn trim(&mut self, keep: usize) {
        for b in [&mut self.wal, &mut self.direct, &mut self.idx] {
            if b.capacity() > 2 * keep {
                *b = Vec::new();
            }
        }
    }
}

pub(super) struct Plan {
    /// One per job: its results, or why it failed (it then wrote nothing).
    pub outcomes: Vec<StorageResult<Vec<Appended>>>,
    /// Records per job.
    pub counts: Vec<u64>,
    pub shards: Vec<ShardPlan>,
    /// WAL entries in the batch (0: nothing to write).
    pub entries: u32,
}

pub(super) struct ShardPlan {
    pub key: ShardKey,
    pub direct: bool,
    /// The shard's next offset and last arrival once the group is written.
    pub next: u64,
    pub last_arrival: Option<i64>,
    pub pieces: Vec<PiecePlan>,
    /// The tail once the group is written (its files are filled in by `execute`).
    pub tail: Option<TailSim>,
}

pub(super) struct PiecePlan {
    pub piece: Piece,
    /// The piece starts a new segment (at `piece.segment_base`).
    pub new_segment: bool,
    /// The frames, in `Buffers::direct` if the shard plan is direct, else in `Buffers::wal`.
    pub frames: Range<usize>,
    pub idx: Range<usize>,
    /// Number of the first index entry in `idx` within the segment's index.
    pub idx_first: u64,
    /// Set by `execute`: the files the piece went to.
    pub files: Option<Arc<SegFiles>>,
}

/// A tail's numbers, advanced while planning.
#[derive(Debug, Clone, Copy)]
pub(super) struct TailSim {
    pub base: u64,
    pub first_arrival: i64,
    pub len: u64,
    pub idx_entries: u64,
    pub last_idx_pos: u64,
}

impl TailSim {
    pub fn of(t: &Tail) -> Self {
        Self {
            base: t.base,
            first_arrival: t.first_arrival,
            len: t.len,
            idx_entries: t.idx_entries,
            last_idx_pos: t.last_idx_pos,
        }
    }

    /// Whether a record of `frame_len` bytes arriving at `arrival` goes to a new segment.
    pub fn must_roll(&self, frame_len: u64, arrival: i64, opts: &SegmentOptions) -> bool {
        let max_age = i64::try_from(opts.segment_max_age.as_millis()).unwrap_or(i64::MAX);
        self.len + frame_len > opts.segment_bytes.max(FILE_HEADER_LEN + 1)
            || arrival.saturating_sub(self.first_arrival) >= max_age
    }

    /// Adds the index entry for a record about to be written at `self.len`, if one is due.
    pub fn index(&mut self, idx: &mut Vec<u8>, offset: u64, arrival: i64, interval: u64) {
        if self.idx_entries == 0 || self.len - self.last_idx_pos >= interval {
            format::encode_idx_entry(idx, offset, self.len, arrival);
            self.idx_entries += 1;
            self.last_idx_pos = self.len;
        }
    }
}

/// Plans the group `jobs` against the current state. `bufs` receives every byte to write.
pub(super) fn plan(
    st: &State,
    jobs: &[Job],
    now: i64,
    opts: &SegmentOptions,
    bufs: &mut Buffers,
) -> Plan {
    format::begin_batch(&mut bufs.wal);
    bufs.direct.clear();
    bufs.idx.clear();
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut counts = Vec::with_capacity(jobs.len());
    // Runs grouped by shard, shards in order of first appearance.
    let mut order: Vec<ShardKey> = Vec::new();
    let mut groups: HashMap<ShardKey, Vec<(usize, usize)>> = HashMap::new();
    for (j, job) in jobs.iter().enumerate() {
        if let Some(a) = job
            .appends
            .iter()
            .find(|a| !st.writers.contains_key(&a.shard))
        {
            outcomes.push(Err(StorageError::NoSuchShard(a.shard)));
            counts.push(0);
            continue;
        }
        if let Some(a) = job.appends.iter().find(|a| st.writers[&a.shard].closed) {
            outcomes.push(Err(StorageError::Closed(a.shard)));
            counts.push(0);
            continue;
        }
        let placeholder = Appended {
            first_offset: 0,
            arrival_ms: 0,
        };
        outcomes.push(Ok(vec![placeholder; job.appends.len()]));
        counts.push(job.appends.iter().map(|a| a.payloads.len() as u64).sum());
        for (r, a) in job.appends.iter().enumerate() {
            groups
                .entry(a.shard)
                .or_insert_with(|| {
                    order.push(a.shard);
                    Vec::new()
                })
                .push((j, r));
        }
    }
    let mut entries = 0u32;
    let mut shards = Vec::with_capacity(order.len());
    for key in order {
        let sw = &st.writers[&key];
        let runs = &groups[&key];
        // Arrival times never go backwards within a shard, even if the wall clock does.
        let arrival = sw.last_arrival.map_or(now, |last| last.max(now));
        let bytes: u64 = runs
            .iter()
            .flat_map(|&(j, r)| &jobs[j].appends[r].payloads)
            .map(|p| (FRAME_HEADER_LEN + p.len()) as u64)
            .sum();
        let direct = opts.direct_write_bytes.is_some_and(|t| bytes >= t);
        let mut sp = ShardPlan {
            key,
            direct,
            next: sw.next,
            last_arrival: sw.last_arrival,
            pieces: Vec::new(),
            tail: sw.tail.as_ref().map(TailSim::of),
        };
        let mut open: Option<(usize, PiecePlan)> = None;
        for &(j, r) in runs {
            if let Ok(v) = &mut outcomes[j] {
                v[r] = Appended {
                    first_offset: sp.next,
                    arrival_ms: arrival,
                };
            }
            for p in &jobs[j].appends[r].payloads {
                let frame_len = (FRAME_HEADER_LEN + p.len()) as u64;
                let roll = sp
                    .tail
                    .is_none_or(|t| t.must_roll(frame_len, arrival, opts));
                if roll {
                    close(&mut open, &mut sp, bufs, key, st, &mut entries);
                    sp.tail = Some(TailSim {
                        base: sp.next,
                        first_arrival: arrival,
                        len: FILE_HEADER_LEN,
                        idx_entries: 0,
                        last_idx_pos: FILE_HEADER_LEN,
                    });
                }
                let Some(tail) = sp.tail.as_mut() else {
                    unreachable!("a tail was just set");
                };
                if open.is_none() {
                    let header_at = bufs.wal.len();
                    bufs.wal.resize(header_at + PIECE_HEADER_LEN, 0);
                    let frames_at = if direct {
                        bufs.direct.len()
                    } else {
                        bufs.wal.len()
                    };
                    let piece = Piece {
                        segment_base: tail.base,
                        pos: tail.len,
                        first_offset: sp.next,
                        count: 0,
                        arrival_ms: arrival,
                        frames_len: 0,
                    };
                    let pp = PiecePlan {
                        piece,
                        new_segment: roll,
                        frames: frames_at..frames_at,
                        idx: bufs.idx.len()..bufs.idx.len(),
                        idx_first: tail.idx_entries,
                        files: None,
                    };
                    open = Some((header_at, pp));
                }
                tail.index(&mut bufs.idx, sp.next, arrival, opts.index_interval_bytes);
                let target = if direct {
                    &mut bufs.direct
                } else {
                    &mut bufs.wal
                };
                format::encode_frame(target, sp.next, arrival, p);
                tail.len += frame_len;
                sp.next += 1;
                sp.last_arrival = Some(arrival);
                if let Some((_, pp)) = open.as_mut() {
                    pp.piece.count += 1;
                }
            }
        }
        close(&mut open, &mut sp, bufs, key, st, &mut entries);
        shards.push(sp);
    }
    format::finish_batch(&mut bufs.wal, entries);
    Plan {
        outcomes,
        counts,
        shards,
        entries,
    }
}

/// Ends the open piece: fills in its WAL entry header and frame and index ranges.
fn close(
    open: &mut Option<(usize, PiecePlan)>,
    sp: &mut ShardPlan,
    bufs: &mut Buffers,
    key: ShardKey,
    st: &State,
    entries: &mut u32,
) {
    let Some((header_at, mut pp)) = open.take() else {
        return;
    };
    let end = if sp.direct {
        bufs.direct.len()
    } else {
        bufs.wal.len()
    };
    pp.frames.end = end;
    pp.idx.end = bufs.idx.len();
    pp.piece.frames_len = (end - pp.frames.start) as u64;
    let kind = if sp.direct {
        KIND_FRAMES_IN_SEGMENT
    } else {
        KIND_FRAMES_INLINE
    };
    let inc = st.writers[&key].inc;
    pp.piece.encode_header(
        &mut bufs.wal[header_at..header_at + PIECE_HEADER_LEN],
        kind,
        inc,
    );
    *entries += 1;
    sp.pieces.push(pp);
}
