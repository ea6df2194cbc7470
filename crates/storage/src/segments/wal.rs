//! The write-ahead log: numbered files `wal/<position, 20 digits>.wal`, each a file header then
//! back-to-back batches (`format.rs`). A WAL *position* counts batch bytes since the directory
//! was created; a file is named by the position of its first batch, so position `p` lives in
//! the file with the largest start `<= p`, at byte `32 + p - start`.
//!
//! Only the newest file can hold batches that were not fsynced: a new file is started only
//! after the previous one is fsynced. So a damaged batch in an older file is not a torn tail but
//! lost acknowledged data, and the open fails instead of silently dropping what follows.

use super::files::sync_dir;
use super::format::{
    self, file_header, parse_file_header, BATCH_HEADER_LEN, FILE_HEADER_LEN, WAL_MAGIC,
};
use crate::{StorageError, StorageResult};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(super) fn wal_path(wal_dir: &Path, start: u64) -> PathBuf {
    wal_dir.join(format!("{start:020}.wal"))
}

/// `(start position, path)` of every WAL file, oldest first.
pub(super) fn list(wal_dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(wal_dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(start) = name.strip_suffix(".wal").and_then(|s| s.parse().ok()) {
            out.push((start, path));
        }
    }
    out.sort();
    Ok(out)
}

/// The writing end.
pub(super) struct Wal {
    dir: PathBuf,
    file: Arc<File>,
    start: u64,
    position: u64,
    max_file_bytes: u64,
}

impl Wal {
    /// Starts a new (empty) WAL file at `position`, replacing any file of that name, and makes
    /// it durable.
    pub fn create(wal_dir: &Path, position: u64, max_file_bytes: u64) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(wal_path(wal_dir, position))?;
        file.write_all_at(&file_header(WAL_MAGIC, position, 0), 0)?;
        file.sync_data()?;
        sync_dir(wal_dir)?;
        Ok(Self {
            dir: wal_dir.to_path_buf(),
            file: Arc::new(file),
            start: position,
            position,
            max_file_bytes,
        })
    }

    pub fn file(&self) -> &Arc<File> {
        &self.file
    }

    /// Position after the last batch written.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Starts a new file if a batch of `len` bytes would take the current one past its limit.
    /// The current file is fsynced first, so that only the newest file is ever unsynced.
    pub fn prepare(&mut self, len: u64) -> io::Result<()> {
        let used = self.position - self.start;
        if used == 0 || used + len <= self.max_file_bytes {
            return Ok(());
        }
        self.file.sync_data()?;
        *self = Self::create(&self.dir, self.position, self.max_file_bytes)?;
        Ok(())
    }

    /// Writes one batch at the end. On error the position does not move; call [`Self::undo`].
    pub fn append(&mut self, batch: &[u8]) -> io::Result<()> {
        let at = FILE_HEADER_LEN + self.position - self.start;
        self.file.write_all_at(batch, at)?;
        self.position += batch.len() as u64;
        Ok(())
    }

    /// Cuts off whatever a failed [`Self::append`] may have left.
    pub fn undo(&self) -> io::Result<()> {
        self.file
            .set_len(FILE_HEADER_LEN + self.position - self.start)
    }
}

/// One batch read back: its position and its (checksum-verified) body.
pub(super) struct ReadBatch {
    pub position: u64,
    pub len: u64,
    pub body: Vec<u8>,
}

/// Reads batches from a position on, across files, stopping at the first torn or damaged one.
pub(super) struct Reader {
    files: Vec<(u64, PathBuf)>,
    /// Index in `files` of the open file.
    cur: usize,
    file: Option<(File, u64)>,
    position: u64,
    /// Bytes after the last good batch, counted once the reader has stopped.
    pub discarded: u64,
}

impl Reader {
    pub fn open(wal_dir: &Path, from: u64) -> StorageResult<Self> {
        let files = list(wal_dir).map_err(|e| super::files::io_err(wal_dir, "list", &e))?;
        let cur = files
            .iter()
            .rposition(|(s, _)| *s <= from)
            .unwrap_or(usize::MAX);
        let mut r = Self {
            files,
            cur,
            file: None,
            position: from,
            discarded: 0,
        };
        if r.cur != usize::MAX {
            r.open_cur()?;
        }
        Ok(r)
    }

    /// The next good batch, or `None` at the end of the log (clean or torn).
    pub fn next_batch(&mut self) -> StorageResult<Option<ReadBatch>> {
        loop {
            let Some((file, len)) = &self.file else {
                return Ok(None);
            };
            let start = self.files[self.cur].0;
            let at = FILE_HEADER_LEN + self.position.saturating_sub(start);
            match read_batch(file, at, *len) {
                Ok(Some((blen, body))) => {
                    let b = ReadBatch {
                        position: self.position,
                        len: blen,
                        body,
                    };
                    self.position += blen;
                    return Ok(Some(b));
                }
                Ok(None) => {
                    let rest = len.saturating_sub(at);
                    // The next file continues exactly here: it was started after this one
                    // ended (by rotation, or by a recovery that left a torn tail behind).
                    if self
                        .files
                        .get(self.cur + 1)
                        .is_some_and(|(s, _)| *s == self.position)
                    {
                        self.cur += 1;
                        self.open_cur()?;
                        continue;
                    }
                    if let Some((_, later)) = self.files.get(self.cur + 1) {
                        return Err(StorageError::Corrupt(format!(
                            "WAL file {} is damaged at position {} ({rest} bytes cannot be \
                             read), but a later WAL file {} exists: acknowledged writes would \
                             be lost; refusing to open",
                            self.files[self.cur].1.display(),
                            self.position,
                            later.display()
                        )));
                    }
                    self.discarded = rest;
                    self.file = None;
                    return Ok(None);
                }
                Err(e) => {
                    return Err(super::files::io_err(&self.files[self.cur].1, "read", &e));
                }
            }
        }
    }

    /// Stops the reader at `position`, the start of a batch it returned that turned out to be
    /// incomplete; it and everything after it are discarded.
    pub fn stop_at(&mut self, position: u64) {
        if let Some((_, len)) = &self.file {
            let start = self.files[self.cur].0;
            self.discarded = len.saturating_sub(FILE_HEADER_LEN + position - start);
        }
        self.position = position;
        self.file = None;
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    fn open_cur(&mut self) -> StorageResult<()> {
        let (start, path) = &self.files[self.cur];
        let file = File::open(path).map_err(|e| super::files::io_err(path, "open", &e))?;
        let len = file
            .metadata()
            .map_err(|e| super::files::io_err(path, "stat", &e))?
            .len();
        let h = super::files::read_up_to(&file, 0, FILE_HEADER_LEN as usize)
            .map_err(|e| super::files::io_err(path, "read", &e))?;
        match parse_file_header(WAL_MAGIC, &h) {
            Ok((s, _)) if s == *start => {
                self.file = Some((file, len));
                Ok(())
            }
            // The newest file may have been created just before a crash, header unwritten.
            _ if self.cur + 1 == self.files.len() && len <= FILE_HEADER_LEN => {
                self.file = None;
                Ok(())
            }
            Ok((s, _)) => Err(super::files::corrupt(
                path,
                &format!("WAL header names position {s}"),
            )),
            Err(what) => Err(super::files::corrupt(path, &what)),
        }
    }
}

/// Reads the batch at byte `at` of a file of `len` bytes: `Some((batch length, body))`, or
/// `None` if there is no whole, intact batch there.
fn read_batch(file: &File, at: u64, len: u64) -> io::Result<Option<(u64, Vec<u8>)>> {
    if len < at + BATCH_HEADER_LEN as u64 {
        return Ok(None);
    }
    let mut h = [0u8; BATCH_HEADER_LEN];
    file.read_exact_at(&mut h, at)?;
    let Some((crc, body_len)) = format::parse_batch_header(&h) else {
        return Ok(None);
    };
    if body_len > len - at - BATCH_HEADER_LEN as u64 {
        return Ok(None);
    }
    let mut body = vec![0u8; body_len as usize];
    file.read_exact_at(&mut body, at + BATCH_HEADER_LEN as u64)?;
    if !format::batch_crc_ok(crc, &body) {
        return Ok(None);
    }
    Ok(Some((BATCH_HEADER_LEN as u64 + body_len, body)))
}

/// Deletes the WAL files that hold nothing at or after `position`.
pub(super) fn delete_before(wal_dir: &Path, position: u64) -> io::Result<()> {
    let files = list(wal_dir)?;
    for pair in files.windows(2) {
        if pair[1].0 <= position {
            std::fs::remove_file(&pair[0].1)?;
        }
    }
    Ok(())
}
