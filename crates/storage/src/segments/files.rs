//! Segment and index files on disk: names, creation, headers, the index lookup, and small I/O
//! helpers. Formats in `format.rs`.
//!
//! ```text
//! shards/<stream>-<shard>-<gen>/<base offset, 20 digits>.seg   record frames
//! shards/<stream>-<shard>-<gen>/<base offset, 20 digits>.idx   sparse index of that segment
//! ```

use super::format::{
    self, file_header, parse_file_header, FILE_HEADER_LEN, IDX_ENTRY_LEN, IDX_MAGIC, SEG_MAGIC,
};
use super::SegFiles;
use crate::{StorageError, StorageResult};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Below this many entries the whole index range is read at once instead of bisected by
/// single-entry reads.
const IDX_BLOCK_ENTRIES: u64 = 1024;

pub(super) fn seg_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.seg"))
}

pub(super) fn idx_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.idx"))
}

/// Base offsets of the `.seg` files in `dir`, ascending, and the other files found (stray
/// `.idx` files without their segment, leftovers).
pub(super) fn list_segments(dir: &Path) -> io::Result<(Vec<u64>, Vec<PathBuf>)> {
    let mut bases = Vec::new();
    let mut others = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        match name
            .strip_suffix(".seg")
            .and_then(|b| b.parse::<u64>().ok())
        {
            Some(base) if name.len() == 24 => bases.push(base),
            _ => others.push(path),
        }
    }
    bases.sort_unstable();
    others.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.strip_suffix(".idx")
            .and_then(|b| b.parse::<u64>().ok())
            .is_none_or(|b| bases.binary_search(&b).is_err())
    });
    Ok((bases, others))
}

/// Creates (or truncates) a segment and its index, with their headers.
pub(super) fn create_segment(dir: &Path, base: u64, first_arrival: i64) -> io::Result<SegFiles> {
    let open = |p: PathBuf| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(p)
    };
    let data = open(seg_path(dir, base))?;
    data.write_all_at(&file_header(SEG_MAGIC, base, first_arrival), 0)?;
    let idx = open(idx_path(dir, base))?;
    idx.write_all_at(&file_header(IDX_MAGIC, base, 0), 0)?;
    Ok(SegFiles { data, idx })
}

/// Opens an existing segment and index for reading and writing (recovery).
pub(super) fn open_segment(dir: &Path, base: u64) -> StorageResult<SegFiles> {
    let open = |p: PathBuf| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .map_err(|e| io_err(&p, "open", &e))
    };
    Ok(SegFiles {
        data: open(seg_path(dir, base))?,
        idx: open(idx_path(dir, base))?,
    })
}

/// Reads and checks a segment header; returns the arrival time of its first record.
pub(super) fn segment_first_arrival(file: &File, path: &Path, base: u64) -> StorageResult<i64> {
    let h = read_up_to(file, 0, FILE_HEADER_LEN as usize).map_err(|e| io_err(path, "read", &e))?;
    match parse_file_header(SEG_MAGIC, &h) {
        Ok((b, arrival)) if b == base => Ok(arrival),
        Ok((b, _)) => Err(corrupt(path, &format!("header names base offset {b}"))),
        Err(what) => Err(corrupt(path, &what)),
    }
}

/// Reads up to `n` bytes at `pos` (fewer at the end of the file).
pub(super) fn read_up_to(file: &File, pos: u64, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match file.read_at(&mut buf[got..], pos + got as u64) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// Number of whole entries in an index file of `len` bytes.
pub(super) fn idx_entries_in(len: u64) -> u64 {
    len.saturating_sub(FILE_HEADER_LEN) / IDX_ENTRY_LEN
}

pub(super) fn idx_entry_pos(n: u64) -> u64 {
    FILE_HEADER_LEN + n * IDX_ENTRY_LEN
}

/// The last of the first `entries` index entries for which `before` holds (`before` must hold
/// for a prefix of the entries: they are sorted by offset and by arrival time). `None` if it
/// holds for none.
pub(super) fn idx_last_where(
    idx: &File,
    entries: u64,
    before: impl Fn(u64, i64) -> bool,
) -> io::Result<Option<(u64, u64, i64)>> {
    let entry = |n: u64| -> io::Result<(u64, u64, i64)> {
        let mut e = [0u8; IDX_ENTRY_LEN as usize];
        idx.read_exact_at(&mut e, idx_entry_pos(n))?;
        Ok(format::parse_idx_entry(&e))
    };
    // Invariant: the answer lies in lo..hi (an index), or is lo - 1.
    let (mut lo, mut hi) = (0u64, entries);
    while hi - lo > IDX_BLOCK_ENTRIES {
        let mid = lo + (hi - lo) / 2;
        let (o, _, a) = entry(mid)?;
        if before(o, a) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if hi == lo {
        return Ok(None);
    }
    let mut block = vec![0u8; ((hi - lo) * IDX_ENTRY_LEN) as usize];
    idx.read_exact_at(&mut block, idx_entry_pos(lo))?;
    let mut found = None;
    for e in block.chunks_exact(IDX_ENTRY_LEN as usize) {
        let (o, p, a) = format::parse_idx_entry(e);
        if !before(o, a) {
            break;
        }
        found = Some((o, p, a));
    }
    Ok(found)
}

/// fsyncs a directory so that entries created or removed in it survive a power cut.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes a file or directory tree; already gone is fine.
pub(super) fn remove_path(p: &Path) -> io::Result<()> {
    let r = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
    match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

pub(super) fn io_err(path: &Path, what: &str, e: &io::Error) -> StorageError {
    StorageError::Io(format!("cannot {what} {}: {e}", path.display()))
}

pub(super) fn corrupt(path: &Path, what: &str) -> StorageError {
    StorageError::Corrupt(format!("{}: {what}", path.display()))
}
