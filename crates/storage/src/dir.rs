//! What both stores do with their directory: hold it with an advisory lock while open, and
//! measure the disk space it takes.

use crate::{StorageError, StorageResult};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Takes the advisory lock on `<dir>/LOCK`. The lock belongs to the open file description, so a
/// second open in the same process is refused too; the OS drops it when the process dies, so a
/// crash never leaves a stale lock behind.
pub(crate) fn lock_dir(dir: &Path) -> StorageResult<File> {
    let path = dir.join("LOCK");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| StorageError::Io(format!("cannot open lock file {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(StorageError::Io(format!(
                "data directory {} is already in use by another Tributary process \
                 (lock file {} is held); stop it or choose another --data-dir",
                dir.display(),
                path.display()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StorageError::Io(format!(
                "cannot lock {}: {e}",
                path.display()
            )))
        }
    }
    // The pid is only a hint for operators; failing to write it is harmless.
    let _ = file
        .set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    Ok(file)
}

/// Allocated bytes of the files under `dir` (like `du`: fjall preallocates journal files, so
/// their length would overstate it). Files that vanish during the walk are skipped.
pub(crate) fn dir_usage(dir: &Path) -> std::io::Result<u64> {
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
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
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
