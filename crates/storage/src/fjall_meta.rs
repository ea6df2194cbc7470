//! [`FjallMeta`]: the [`MetaStore`] of the embedded server, one small fjall database. Every
//! write is fsynced before it returns; compare-and-set runs under one mutex; revisions come
//! from one global counter.
//!
//! Why a global counter: a per-key counter would restart at 1 after delete + create, and a
//! client still holding revision 1 of the old entry could then overwrite the new one (ABA).
//!
//! Layout, FROZEN (release 0.1 wrote it; changing it means bumping [`FORMAT_VERSION`] and
//! teaching `open` to migrate or refuse the old one). Integers are big-endian.
//!
//! ```text
//! <dir>/LOCK      advisory lock (flock) held while open; contains the owner's pid
//! <dir>/fjall/    the fjall database (journal *.jnl, keyspace trees)
//!
//! keyspace "meta"      key: UTF-8 bytes of the MetaStore key
//!   value: +---------------+---------------+
//!          | revision u64  | value (opaque)|
//!          +---------------+---------------+
//!
//! keyspace "sys"
//!   "format_version" -> u32   storage format of this directory (FORMAT_VERSION)
//!   "meta_revision"  -> u64   last MetaStore revision handed out (revisions are global;
//!                             a delete takes one too, which moves only this counter)
//! ```
//!
//! Directories written by release 0.1 also hold the keyspaces "records", "by_time" and
//! "shards" of the record engine that release carried (empty: records went to the segment
//! log). They are never opened, so they stay as they are.

use crate::{
    MetaChange, MetaEntry, MetaError, MetaFuture, MetaStore, Revision, StorageError, StorageResult,
};
use ::fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use bytes::Bytes;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Version of the layout above. Checked at open.
pub const FORMAT_VERSION: u32 = 1;

const KS_META: &str = "meta";
const KS_SYS: &str = "sys";
const SYS_FORMAT: &[u8] = b"format_version";
const SYS_META_REVISION: &[u8] = b"meta_revision";

/// Block cache: control-plane state is small and cached by the engine above anyway.
const CACHE_BYTES: u64 = 8 << 20;
const MEMTABLE_BYTES: u64 = 4 << 20;
/// fjall's minimum journal budget (it panics below it).
const JOURNAL_BYTES: u64 = 64 << 20;

/// The metadata store in `<dir>/fjall`. Dropping it closes the database and releases the lock
/// (once no write is running on the blocking pool).
pub struct FjallMeta {
    inner: Arc<Inner>,
}

/// The open database; shared with the blocking tasks that write to it.
struct Inner {
    dir: PathBuf,
    db: Database,
    meta: Keyspace,
    sys: Keyspace,
    /// Last revision handed out; the lock serialises compare-and-set.
    revision: Mutex<u64>,
    /// Change feeds of this process (only one process can open the directory, so every
    /// writer is in it). Sent to while `revision` is locked, so feeds see revision order.
    watchers: Mutex<Vec<mpsc::UnboundedSender<MetaChange>>>,
    /// Held while open. Declared last so it is released after the database is closed.
    _dir_lock: std::fs::File,
}

impl FjallMeta {
    /// Opens (creating if needed) the store in `dir`. Fails if another process (or another
    /// `FjallMeta` in this process) holds the directory, or if it holds another format.
    pub fn open(dir: &Path) -> StorageResult<Arc<Self>> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StorageError::Io(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let dir_lock = crate::dir::lock_dir(dir)?;
        let db = Database::builder(dir.join("fjall"))
            .cache_size(CACHE_BYTES)
            .max_journaling_size(JOURNAL_BYTES)
            // Every batch says how it persists (always SyncAll).
            .manual_journal_persist(true)
            .open()
            .map_err(|e| open_err(dir, e))?;
        let has_format = check_format(dir, &db)?;
        let opts = KeyspaceCreateOptions::default().max_memtable_size(MEMTABLE_BYTES);
        let ks = |name: &str| {
            db.keyspace(name, || opts.clone())
                .map_err(|e| open_err(dir, e))
        };
        let meta = ks(KS_META)?;
        let sys = ks(KS_SYS)?;
        if !has_format {
            let mut batch = db.batch().durability(Some(PersistMode::SyncAll));
            batch.insert(&sys, SYS_FORMAT, FORMAT_VERSION.to_be_bytes());
            batch.commit().map_err(write_err)?;
        }
        let revision = match sys.get(SYS_META_REVISION).map_err(read_err)? {
            Some(v) if v.len() == 8 => be_u64(&v),
            Some(v) => {
                return Err(StorageError::Corrupt(format!(
                    "meta revision counter has length {}",
                    v.len()
                )))
            }
            None => 0,
        };
        tracing::info!(dir = %dir.display(), revision, "metadata store opened");
        let inner = Inner {
            dir: dir.to_path_buf(),
            db,
            meta,
            sys,
            revision: Mutex::new(revision),
            watchers: Mutex::default(),
            _dir_lock: dir_lock,
        };
        Ok(Arc::new(Self {
            inner: Arc::new(inner),
        }))
    }

    /// Bytes the fjall database occupies on disk (allocated blocks).
    pub fn disk_space(&self) -> StorageResult<u64> {
        crate::dir::dir_usage(&self.inner.dir.join("fjall"))
            .map_err(|e| StorageError::Io(format!("cannot measure disk space: {e}")))
    }

    /// Runs `write` on the blocking pool: it waits for an fsync, which must not stall an
    /// async worker. A dropped future does not stop the write.
    fn write<T: Send + 'static>(
        &self,
        key: &str,
        write: impl FnOnce(&Inner, &str) -> Result<T, MetaError> + Send + 'static,
    ) -> MetaFuture<'static, T> {
        let inner = Arc::clone(&self.inner);
        let key = key.to_owned();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                check_key(&key)?;
                write(&inner, &key)
            })
            .await
            .map_err(|e| StorageError::Unavailable(format!("metadata write task failed: {e}")))?
        })
    }
}

impl Inner {
    fn current(&self, key: &str) -> Result<Option<MetaEntry>, MetaError> {
        match self.meta.get(key).map_err(read_err)? {
            Some(v) => Ok(Some(entry(key.to_owned(), &v)?)),
            None => Ok(None),
        }
    }

    /// Writes `key` (or removes it, for `None`) with the next revision, together with the
    /// counter, fsyncs, and tells the change feeds. A delete takes a revision too, so the
    /// feed can order it; the layout is unchanged (the counter just moves on).
    fn put(&self, last: &mut u64, key: &str, value: Option<Bytes>) -> Result<Revision, MetaError> {
        let revision = *last + 1;
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
        match &value {
            Some(value) => {
                let mut stored = Vec::with_capacity(8 + value.len());
                stored.extend_from_slice(&revision.to_be_bytes());
                stored.extend_from_slice(value);
                batch.insert(&self.meta, key, stored);
            }
            None => batch.remove(&self.meta, key),
        }
        batch.insert(&self.sys, SYS_META_REVISION, revision.to_be_bytes());
        batch.commit().map_err(write_err)?;
        *last = revision;
        let change = MetaChange {
            key: key.to_owned(),
            revision,
            value,
        };
        self.watchers
            .lock()
            .retain(|w| w.send(change.clone()).is_ok());
        Ok(revision)
    }
}

impl std::fmt::Debug for FjallMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallMeta")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl MetaStore for FjallMeta {
    fn get<'a>(&'a self, key: &'a str) -> MetaFuture<'a, Option<MetaEntry>> {
        // A point read of a small, cached database: answered in place.
        let found = match check_key(key) {
            Err(_) => Ok(None), // nothing can be stored under such a key
            Ok(()) => self.inner.current(key),
        };
        Box::pin(std::future::ready(found))
    }

    fn create<'a>(&'a self, key: &'a str, value: Bytes) -> MetaFuture<'a, Revision> {
        self.write(key, move |db, key| {
            let mut last = db.revision.lock();
            if db.current(key)?.is_some() {
                return Err(MetaError::Exists);
            }
            db.put(&mut last, key, Some(value))
        })
    }

    fn update<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        expected: Revision,
    ) -> MetaFuture<'a, Revision> {
        self.write(key, move |db, key| {
            let mut last = db.revision.lock();
            let found = db.current(key)?.ok_or(MetaError::NotFound)?.revision;
            if found != expected {
                return Err(MetaError::Conflict { expected, found });
            }
            db.put(&mut last, key, Some(value))
        })
    }

    fn delete<'a>(&'a self, key: &'a str, expected: Option<Revision>) -> MetaFuture<'a, ()> {
        self.write(key, move |db, key| {
            let mut last = db.revision.lock();
            let found = db.current(key)?.ok_or(MetaError::NotFound)?.revision;
            if let Some(expected) = expected.filter(|e| *e != found) {
                return Err(MetaError::Conflict { expected, found });
            }
            db.put(&mut last, key, None).map(|_| ())
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> MetaFuture<'a, Vec<MetaEntry>> {
        Box::pin(std::future::ready(self.list_now(prefix)))
    }

    fn watch(&self) -> MetaFuture<'_, mpsc::UnboundedReceiver<MetaChange>> {
        let (tx, rx) = mpsc::unbounded_channel();
        // Under the revision lock: a write in progress is either wholly before the feed or in it.
        let _last = self.inner.revision.lock();
        self.inner.watchers.lock().push(tx);
        Box::pin(std::future::ready(Ok(rx)))
    }
}

impl FjallMeta {
    fn list_now(&self, prefix: &str) -> Result<Vec<MetaEntry>, MetaError> {
        let mut out = Vec::new();
        // fjall iterates in byte order, which for UTF-8 is code point order.
        for guard in self.inner.meta.prefix(prefix) {
            let (k, v) = guard.into_inner().map_err(read_err)?;
            let key = String::from_utf8(k.to_vec())
                .map_err(|_| StorageError::Corrupt("metadata key is not UTF-8".into()))?;
            out.push(entry(key, &v)?);
        }
        Ok(out)
    }
}

fn entry(key: String, stored: &[u8]) -> Result<MetaEntry, MetaError> {
    if stored.len() < 8 {
        return Err(StorageError::Corrupt(format!(
            "metadata value has unexpected length {}",
            stored.len()
        ))
        .into());
    }
    let (revision, value) = stored.split_at(8);
    Ok(MetaEntry {
        key,
        revision: be_u64(revision),
        value: Bytes::copy_from_slice(value),
    })
}

/// fjall keys are 1 to 65 535 bytes (it panics otherwise), so refuse the rest politely.
fn check_key(key: &str) -> Result<(), MetaError> {
    if key.is_empty() || key.len() > usize::from(u16::MAX) {
        return Err(MetaError::Storage(StorageError::Io(format!(
            "metadata keys must be 1 to 65535 bytes long, got {}",
            key.len()
        ))));
    }
    Ok(())
}

/// Refuses a directory this build must not touch BEFORE any keyspace is created in it: one with
/// another format version, or fjall data without a version (not ours). Returns whether the
/// version entry is already present.
fn check_format(dir: &Path, db: &Database) -> StorageResult<bool> {
    if db.keyspace_exists(KS_SYS) {
        let sys = db
            .keyspace(KS_SYS, KeyspaceCreateOptions::default)
            .map_err(|e| open_err(dir, e))?;
        if let Some(v) = sys.get(SYS_FORMAT).map_err(read_err)? {
            let found = (v.len() == 4).then(|| u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
            if found == Some(FORMAT_VERSION) {
                return Ok(true);
            }
            let found = found.map_or_else(|| format!("{:?}", &v[..]), |f| f.to_string());
            return Err(StorageError::Corrupt(format!(
                "{} holds storage format version {found}, but this build of Tributary reads only \
                 version {FORMAT_VERSION}; run the Tributary version that wrote it (or migrate \
                 the data)",
                dir.display(),
            )));
        }
    }
    // No version yet: fine for a new directory, or one whose first open crashed before writing
    // it, as long as nothing holds data.
    for name in db.list_keyspace_names() {
        let ks = db
            .keyspace(&name, KeyspaceCreateOptions::default)
            .map_err(|e| open_err(dir, e))?;
        if !ks.is_empty().map_err(read_err)? {
            return Err(StorageError::Corrupt(format!(
                "{} contains data but no storage format version; it was not written by Tributary",
                dir.display()
            )));
        }
    }
    Ok(false)
}

fn open_err(dir: &Path, e: ::fjall::Error) -> StorageError {
    match e {
        ::fjall::Error::InvalidVersion(v) => StorageError::Corrupt(format!(
            "{}: the fjall database was written by an incompatible fjall version ({v:?})",
            dir.display()
        )),
        ::fjall::Error::JournalRecovery(r) => StorageError::Corrupt(format!(
            "{}: journal recovery failed ({r}); a batch before the tail is damaged",
            dir.display()
        )),
        other => StorageError::Io(format!("cannot open {}: {other}", dir.display())),
    }
}

fn read_err(e: ::fjall::Error) -> StorageError {
    StorageError::Io(e.to_string())
}

/// A failed write: the journal may be unwritable (disk full, I/O error); fjall refuses every
/// later write ("poisoned") until the process reopens the database.
fn write_err(e: ::fjall::Error) -> StorageError {
    match e {
        ::fjall::Error::Poisoned => StorageError::Unavailable(
            "an earlier journal write failed (disk full or I/O error); writes are refused \
             until the server is restarted"
                .into(),
        ),
        other => StorageError::Unavailable(other.to_string()),
    }
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

#[cfg(test)]
mod tests;
