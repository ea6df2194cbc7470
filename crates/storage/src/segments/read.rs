//! Reads, on the caller's thread, concurrently with the writer: copy the few segment summaries
//! needed under the shard's view lock, then `pread` without any lock.
//!
//! A read wants the records with `offset >= lo` and `arrival >= t` (an offset read has
//! `t = i64::MIN`, a time read has `lo` = the trim point). Since offsets and arrival times both
//! grow along the log, the first segment that can hold one is the later of "last segment with
//! base <= lo" and "last segment whose first arrival < t", and inside it the index gives the
//! last entry at or before the first wanted record. From there frames are read forward, each
//! checked (checksum, dense offsets), up to the published `next`.

use super::files::{corrupt, idx_entries_in, idx_last_where, idx_path, read_up_to, seg_path};
use super::format::{FrameHeader, FILE_HEADER_LEN, FRAME_HEADER_LEN, MAX_PAYLOAD};
use super::{SegFiles, SegmentRef, Shard, Shared};
use crate::{ReadFrom, ShardKey, StorageError, StorageResult, StoredRecord};
use bytes::Bytes;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

const FIRST_CHUNK: usize = 64 << 10;
const MAX_CHUNK: usize = 4 << 20;

pub(super) fn read(
    shared: &Shared,
    key: ShardKey,
    from: ReadFrom,
    max_records: usize,
    max_bytes: usize,
) -> StorageResult<Vec<StoredRecord>> {
    // A segment can be deleted between taking its summary and opening it (retention moved the
    // trim point past it after a checkpoint); the retry sees the new trim point.
    let mut attempts = 0;
    loop {
        let shard = shared
            .table
            .read()
            .get(&key)
            .cloned()
            .ok_or(StorageError::NoSuchShard(key))?;
        match read_shard(&shard, from, max_records, max_bytes) {
            Err(Retry::Vanished) if attempts < 3 => attempts += 1,
            Err(Retry::Vanished) => {
                return Err(StorageError::Io(
                    "segments kept vanishing under the read".into(),
                ))
            }
            Err(Retry::Fail(e)) => return Err(e),
            Ok(v) => return Ok(v),
        }
    }
}

enum Retry {
    Vanished,
    Fail(StorageError),
}

impl From<StorageError> for Retry {
    fn from(e: StorageError) -> Self {
        Self::Fail(e)
    }
}

fn read_shard(
    shard: &Shard,
    from: ReadFrom,
    max_records: usize,
    max_bytes: usize,
) -> Result<Vec<StoredRecord>, Retry> {
    let (lo, t) = match from {
        ReadFrom::Offset(o) => (o, i64::MIN),
        ReadFrom::Time(t) => (0, t),
    };
    let (lo, next, segs) = {
        let v = shard.view.read();
        let lo = lo.max(v.first);
        if lo >= v.next || max_records == 0 || v.segments.is_empty() {
            return Ok(Vec::new());
        }
        let by_offset = v.segments.partition_point(|s| s.base <= lo);
        let by_time = v.segments.partition_point(|s| s.first_arrival < t);
        let i = by_offset.max(by_time).saturating_sub(1);
        let segs: Vec<SegmentRef> = v.segments.range(i..).cloned().collect();
        (lo, v.next, segs)
    };
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for (k, seg) in segs.iter().enumerate() {
        let end = segs.get(k + 1).map_or(next, |s| s.base).min(next);
        if seg.base >= end {
            break;
        }
        let (data, idx, entries) = open(&shard.dir, seg)?;
        let (mut offset, mut pos) = if k == 0 {
            match idx_last_where(&idx, entries, |o, a| o <= lo || a < t) {
                Ok(Some((o, p, _))) => (o, p),
                Ok(None) => (seg.base, FILE_HEADER_LEN),
                Err(e) => return Err(io(&shard.dir, seg.base, &e).into()),
            }
        } else {
            (seg.base, FILE_HEADER_LEN)
        };
        let path = seg_path(&shard.dir, seg.base);
        let mut chunk = Chunk::default();
        while offset < end {
            let (h, frame) = chunk
                .frame(&data, pos)
                .map_err(|e| Retry::Fail(frame_err(&path, pos, e)))?;
            if h.offset != offset {
                return Err(corrupt(
                    &path,
                    &format!(
                        "record at byte {pos} has offset {}, expected {offset}",
                        h.offset
                    ),
                )
                .into());
            }
            if offset >= lo && h.arrival_ms >= t {
                // The first record always goes out, however large, so a reader can progress.
                if !out.is_empty() && bytes.saturating_add(h.len) > max_bytes {
                    return Ok(out);
                }
                bytes += h.len;
                out.push(StoredRecord {
                    offset,
                    arrival_ms: h.arrival_ms,
                    payload: frame.slice(FRAME_HEADER_LEN..),
                });
                if out.len() >= max_records {
                    return Ok(out);
                }
            }
            pos += h.frame_len() as u64;
            offset += 1;
        }
    }
    Ok(out)
}

/// The data file, index file and index length of a segment: the tail's own handles, or a fresh
/// open of a sealed segment by name.
fn open(dir: &Path, seg: &SegmentRef) -> Result<(FileRef, FileRef, u64), Retry> {
    if let Some((files, entries)) = &seg.active {
        return Ok((
            FileRef::Data(Arc::clone(files)),
            FileRef::Idx(Arc::clone(files)),
            *entries,
        ));
    }
    let open = |p: std::path::PathBuf| match File::open(&p) {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Retry::Vanished),
        Err(e) => Err(Retry::Fail(super::files::io_err(&p, "open", &e))),
    };
    let data = open(seg_path(dir, seg.base))?;
    let idx = open(idx_path(dir, seg.base))?;
    let len = idx.metadata().map_err(|e| io(dir, seg.base, &e))?.len();
    Ok((FileRef::Own(data), FileRef::Own(idx), idx_entries_in(len)))
}

/// A file to read: owned, or one of the tail's shared handles.
enum FileRef {
    Own(File),
    Data(Arc<SegFiles>),
    Idx(Arc<SegFiles>),
}

impl std::ops::Deref for FileRef {
    type Target = File;
    fn deref(&self) -> &File {
        match self {
            Self::Own(f) => f,
            Self::Data(s) => &s.data,
            Self::Idx(s) => &s.idx,
        }
    }
}

/// A window of a segment file, read ahead in growing chunks; records are slices of it, so a
/// batch of small records costs one read and no copies.
#[derive(Default)]
struct Chunk {
    start: u64,
    buf: Bytes,
    next_size: usize,
}

enum FrameError {
    Io(io::Error),
    Truncated,
    BadLength(usize),
    Checksum,
}

impl Chunk {
    /// The frame at file position `pos`: its header and its bytes (header included).
    fn frame(&mut self, file: &File, pos: u64) -> Result<(FrameHeader, Bytes), FrameError> {
        let h = FrameHeader::parse(&self.get(file, pos, FRAME_HEADER_LEN)?);
        if h.len > MAX_PAYLOAD {
            return Err(FrameError::BadLength(h.len));
        }
        let frame = self.get(file, pos, h.frame_len())?;
        if !h.verify(&frame) {
            return Err(FrameError::Checksum);
        }
        Ok((h, frame))
    }

    fn get(&mut self, file: &File, pos: u64, n: usize) -> Result<Bytes, FrameError> {
        let have = pos >= self.start && pos + n as u64 <= self.start + self.buf.len() as u64;
        if !have {
            self.next_size = (self.next_size * 2).clamp(FIRST_CHUNK, MAX_CHUNK);
            let v = read_up_to(file, pos, self.next_size.max(n)).map_err(FrameError::Io)?;
            if v.len() < n {
                return Err(FrameError::Truncated);
            }
            self.start = pos;
            self.buf = Bytes::from(v);
        }
        let at = (pos - self.start) as usize;
        Ok(self.buf.slice(at..at + n))
    }
}

fn frame_err(path: &Path, pos: u64, e: FrameError) -> StorageError {
    match e {
        FrameError::Io(e) => super::files::io_err(path, "read", &e),
        FrameError::Truncated => corrupt(path, &format!("record at byte {pos} is cut short")),
        FrameError::BadLength(n) => {
            corrupt(path, &format!("record at byte {pos} claims {n} bytes"))
        }
        FrameError::Checksum => corrupt(path, &format!("record at byte {pos} fails its checksum")),
    }
}

fn io(dir: &Path, base: u64, e: &io::Error) -> StorageError {
    super::files::io_err(&idx_path(dir, base), "read", e)
}
