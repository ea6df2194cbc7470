//! WAL replay: redo every batch after the checkpoint, in order, against the recovered shards.
//!
//! - `FRAMES_INLINE`: the frames are in the WAL; they are written again at the recorded segment
//!   and position (usually over identical bytes) and their index entries rebuilt.
//! - `FRAMES_IN_SEGMENT`: the frames were written and fsynced straight into the segment; they
//!   are checked in place (every checksum, offsets, arrival time, count) and indexed.
//! - `CREATE`, `DELETE`, `TRIM`: as at run time.
//!
//! A batch is applied only if ALL of it is intact: its WAL checksum, and every segment range it
//! refers to. The first batch that is not ends the replay (a torn tail: a group commit that was
//! never acknowledged, because acknowledgements follow the fsyncs in WAL order); everything
//! after it is dropped. A batch that is intact but does not continue a shard's log exactly
//! where it stands is damage, and fails the open.

use super::encode::TailSim;
use super::files::{corrupt, idx_entry_pos, io_err, read_up_to, seg_path};
use super::format::{
    self, file_header, parse_batch_body, Incarnation, Piece, WalEntry, FILE_HEADER_LEN, SEG_MAGIC,
};
use super::{key_of, shard_dir, wal, RecoveryReport, SegFiles, SegmentOptions};
use crate::{ShardKey, StorageError, StorageResult};
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

/// A shard being recovered.
pub(super) struct RecShard {
    pub inc: Incarnation,
    pub dir: PathBuf,
    pub next: u64,
    pub trim: u64,
    pub last_arrival: Option<i64>,
    /// `(base, first arrival)` of the segments before the tail.
    pub sealed: Vec<(u64, i64)>,
    pub tail: Option<RecTail>,
    /// A segment file was created in `dir` during replay.
    pub dir_changed: bool,
}

pub(super) struct RecTail {
    pub sim: TailSim,
    pub files: SegFiles,
    /// Written to, or longer on disk than recovered: must be cut and fsynced.
    pub dirty: bool,
}

impl RecShard {
    pub fn new(inc: Incarnation, dir: PathBuf) -> Self {
        Self {
            inc,
            dir,
            next: 0,
            trim: 0,
            last_arrival: None,
            sealed: Vec::new(),
            tail: None,
            dir_changed: false,
        }
    }

    /// Base offsets of the segments kept.
    pub fn bases(&self) -> impl Iterator<Item = u64> + '_ {
        self.sealed
            .iter()
            .map(|s| s.0)
            .chain(self.tail.as_ref().map(|t| t.sim.base))
    }

    /// Forgets segments holding nothing at or above the trim point, as `log::drop_trimmed` does
    /// at run time (their files are deleted at the end of the open).
    pub fn drop_trimmed(&mut self) {
        while !self.sealed.is_empty() {
            let end = match (self.sealed.get(1), &self.tail) {
                (Some(s), _) => s.0,
                (None, Some(t)) => t.sim.base,
                (None, None) => self.next,
            };
            if end > self.trim {
                return;
            }
            self.sealed.remove(0);
        }
        if self.tail.is_some() && self.next <= self.trim {
            self.tail = None;
        }
    }
}

pub(super) struct Replay {
    pub dir: PathBuf,
    pub opts: SegmentOptions,
    pub shards: HashMap<ShardKey, RecShard>,
    pub next_gen: u64,
    /// Directories of shards deleted during replay.
    pub doomed: Vec<PathBuf>,
}

impl Replay {
    /// Replays from WAL position `from`; returns the position after the last batch applied.
    pub fn run(&mut self, from: u64, report: &mut RecoveryReport) -> StorageResult<u64> {
        let mut reader = wal::Reader::open(&self.dir.join("wal"), from)?;
        while let Some(batch) = reader.next_batch()? {
            let entries = parse_batch_body(&batch.body).map_err(|what| {
                StorageError::Corrupt(format!("WAL batch at position {}: {what}", batch.position))
            })?;
            // Phase 1: every segment range the batch refers to must be intact.
            let mut direct: Vec<Option<Vec<u8>>> = Vec::with_capacity(entries.len());
            let mut intact = true;
            for e in &entries {
                direct.push(match e {
                    WalEntry::Frames {
                        inc,
                        piece,
                        inline: None,
                    } => match self.check_in_segment(*inc, piece) {
                        Some(bytes) => Some(bytes),
                        None => {
                            intact = false;
                            break;
                        }
                    },
                    _ => None,
                });
            }
            if !intact {
                tracing::warn!(
                    position = batch.position,
                    "WAL replay stops at a group commit whose direct segment writes are \
                     incomplete (torn tail)"
                );
                reader.stop_at(batch.position);
                break;
            }
            // Phase 2: apply.
            for (e, d) in entries.iter().zip(direct) {
                self.apply(e, &batch.body, d)?;
            }
            report.batches_replayed += 1;
            report.wal_bytes_replayed += batch.len;
        }
        report.wal_bytes_discarded = reader.discarded;
        Ok(reader.position())
    }

    /// The frames a `FRAMES_IN_SEGMENT` piece refers to, if they are all there and intact.
    fn check_in_segment(&self, inc: Incarnation, p: &Piece) -> Option<Vec<u8>> {
        let path = seg_path(&shard_dir(&self.dir, inc), p.segment_base);
        let file = std::fs::File::open(&path).ok()?;
        let len = usize::try_from(p.frames_len).ok()?;
        let bytes = read_up_to(&file, p.pos, len).ok()?;
        if bytes.len() != len {
            return None;
        }
        let n = format::check_frames(&bytes, p.first_offset, p.arrival_ms, |_, _| {}).ok()?;
        if p.pos == FILE_HEADER_LEN {
            let h = read_up_to(&file, 0, FILE_HEADER_LEN as usize).ok()?;
            let (base, arrival) = format::parse_file_header(SEG_MAGIC, &h).ok()?;
            if (base, arrival) != (p.segment_base, p.arrival_ms) {
                return None;
            }
        }
        (n == u64::from(p.count)).then_some(bytes)
    }

    fn apply(&mut self, e: &WalEntry, body: &[u8], direct: Option<Vec<u8>>) -> StorageResult<()> {
        match e {
            WalEntry::Create(inc) => {
                let key = key_of(*inc);
                if self.shards.contains_key(&key) {
                    return Err(damage(format!("{key:?} is created twice")));
                }
                let dir = shard_dir(&self.dir, *inc);
                std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, "create", &e))?;
                self.next_gen = self.next_gen.max(inc.gen + 1);
                self.shards.insert(key, RecShard::new(*inc, dir));
            }
            WalEntry::Delete(inc) => {
                let sh = self.shard(*inc)?;
                let dir = sh.dir.clone();
                self.shards.remove(&key_of(*inc));
                self.doomed.push(dir);
            }
            WalEntry::Trim(inc, offset) => {
                let sh = self.shard(*inc)?;
                sh.trim = sh.trim.max((*offset).min(sh.next));
                sh.drop_trimmed();
            }
            WalEntry::Frames { inc, piece, inline } => {
                let bytes: &[u8] = match (inline, &direct) {
                    (Some(r), _) => &body[r.clone()],
                    (None, Some(d)) => d,
                    (None, None) => return Err(damage("a piece without frames".into())),
                };
                let interval = self.opts.index_interval_bytes;
                let sh = self.shard(*inc)?;
                apply_piece(sh, piece, bytes, inline.is_some(), interval)?;
            }
        }
        Ok(())
    }

    fn shard(&mut self, inc: Incarnation) -> StorageResult<&mut RecShard> {
        match self.shards.get_mut(&key_of(inc)) {
            Some(sh) if sh.inc == inc => Ok(sh),
            _ => Err(damage(format!(
                "the WAL names shard {}-{} generation {}, which does not exist there",
                inc.stream, inc.shard, inc.gen
            ))),
        }
    }
}

/// Redoes one piece: continues the tail or starts a segment, writes the frames if they came
/// from the WAL, rebuilds their index entries.
fn apply_piece(
    sh: &mut RecShard,
    p: &Piece,
    bytes: &[u8],
    inline: bool,
    interval: u64,
) -> StorageResult<()> {
    let continues = sh
        .tail
        .as_ref()
        .is_some_and(|t| t.sim.base == p.segment_base && t.sim.len == p.pos)
        && p.first_offset == sh.next;
    let starts =
        p.pos == FILE_HEADER_LEN && p.segment_base == p.first_offset && p.first_offset == sh.next;
    if !continues && !starts {
        return Err(damage(format!(
            "a piece of shard {}-{} at segment {} byte {} offset {} does not continue its log \
             (next offset {}, tail {:?})",
            sh.inc.stream,
            sh.inc.shard,
            p.segment_base,
            p.pos,
            p.first_offset,
            sh.next,
            sh.tail.as_ref().map(|t| (t.sim.base, t.sim.len))
        )));
    }
    let path = seg_path(&sh.dir, p.segment_base);
    let ioe = |e: std::io::Error| io_err(&path, "write", &e);
    if !continues {
        if let Some(old) = sh.tail.take() {
            sh.sealed.push((old.sim.base, old.sim.first_arrival));
            // Sealed as it was replayed (readers of sealed segments trust the index length),
            // and durable before the new checkpoint says so.
            let f = &old.files;
            f.data
                .set_len(old.sim.len)
                .and_then(|()| f.idx.set_len(idx_entry_pos(old.sim.idx_entries)))
                .and_then(|()| f.data.sync_data())
                .and_then(|()| f.idx.sync_data())
                .map_err(ioe)?;
        }
        let open = |p: PathBuf| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(p)
        };
        let files = SegFiles {
            data: open(path.clone()).map_err(ioe)?,
            idx: open(super::files::idx_path(&sh.dir, p.segment_base)).map_err(ioe)?,
        };
        if inline {
            let h = file_header(SEG_MAGIC, p.segment_base, p.arrival_ms);
            files.data.write_all_at(&h, 0).map_err(ioe)?;
        }
        let h = file_header(format::IDX_MAGIC, p.segment_base, 0);
        files.idx.write_all_at(&h, 0).map_err(ioe)?;
        sh.dir_changed = true;
        sh.tail = Some(RecTail {
            sim: TailSim {
                base: p.segment_base,
                first_arrival: p.arrival_ms,
                len: FILE_HEADER_LEN,
                idx_entries: 0,
                last_idx_pos: FILE_HEADER_LEN,
            },
            files,
            dirty: true,
        });
    }
    let Some(tail) = sh.tail.as_mut() else {
        return Err(damage("no tail after starting one".into()));
    };
    let idx_first = tail.sim.idx_entries;
    let mut idx = Vec::new();
    let n = format::check_frames(bytes, p.first_offset, p.arrival_ms, |at, h| {
        tail.sim.len = p.pos + at as u64;
        tail.sim.index(&mut idx, h.offset, h.arrival_ms, interval);
    })
    .map_err(|what| corrupt(&path, &format!("WAL piece: {what}")))?;
    if n != u64::from(p.count) {
        return Err(corrupt(&path, "WAL piece record count mismatch"));
    }
    if inline {
        tail.files.data.write_all_at(bytes, p.pos).map_err(ioe)?;
    }
    tail.files
        .idx
        .write_all_at(&idx, idx_entry_pos(idx_first))
        .map_err(ioe)?;
    tail.sim.len = p.pos + bytes.len() as u64;
    tail.dirty = true;
    sh.next += n;
    sh.last_arrival = Some(p.arrival_ms);
    Ok(())
}

fn damage(what: String) -> StorageError {
    StorageError::Corrupt(format!("WAL replay: {what}"))
}
