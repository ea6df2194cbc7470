//! Opening a data directory: lock it, open fjall (which replays its journal), check the storage
//! format, then rebuild the small in-memory shard table from the keyspaces.
//!
//! Directory layout:
//! ```text
//! <dir>/LOCK      advisory lock (flock) held while open; contains the owner's pid
//! <dir>/fjall/    the fjall database (journals *.jnl, keyspace trees, blob files)
//! ```

use super::keys::{self, ShardRecord};
use super::{read_err, write_err, FjallOptions, ShardView, Shared, Stats, WriterState};
use crate::{ShardKey, StorageError, StorageResult};
use ::fjall::{Database, Keyspace, KeyspaceCreateOptions, KvSeparationOptions, PersistMode};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// A memtable much smaller than this would flush tiny tables and churn compaction.
const MIN_MEMTABLE: u64 = 1 << 20;
/// fjall panics below this journal budget.
const MIN_JOURNAL: u64 = 64 << 20;

pub(super) fn open_shared(dir: &Path, opts: &FjallOptions) -> StorageResult<Shared> {
    std::fs::create_dir_all(dir).map_err(|e| {
        StorageError::Io(format!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    })?;
    let dir_lock = lock_dir(dir)?;

    let db = Database::builder(dir.join("fjall"))
        .cache_size(opts.cache_bytes)
        .max_journaling_size(opts.max_journal_bytes.max(MIN_JOURNAL))
        // We choose the persist mode of every batch ourselves.
        .manual_journal_persist(true)
        .open()
        .map_err(|e| open_err(dir, e))?;

    // Memtables: the records keyspace takes the bulk of the write buffer, the others are tiny.
    let small = KeyspaceCreateOptions::default().max_memtable_size(4 << 20);
    let records_opts = KeyspaceCreateOptions::default()
        .max_memtable_size(opts.write_buffer_bytes.max(MIN_MEMTABLE))
        .with_kv_separation(
            opts.blob_threshold
                .map(|t| KvSeparationOptions::default().separation_threshold(t)),
        );
    let has_format = check_format(dir, &db)?;
    let ks = |name: &str, o: &KeyspaceCreateOptions| {
        db.keyspace(name, || o.clone())
            .map_err(|e| open_err(dir, e))
    };
    let records = ks(keys::KS_RECORDS, &records_opts)?;
    let by_time = ks(keys::KS_BY_TIME, &small)?;
    let shards = ks(keys::KS_SHARDS, &small)?;
    let meta = ks(keys::KS_META, &small)?;
    let sys = ks(keys::KS_SYS, &small)?;

    if !has_format {
        let mut batch = db.batch().durability(Some(PersistMode::SyncAll));
        batch.insert(&sys, keys::SYS_FORMAT, keys::FORMAT_VERSION.to_be_bytes());
        batch.commit().map_err(write_err)?;
    }
    let meta_revision = match sys.get(keys::SYS_META_REVISION).map_err(read_err)? {
        Some(v) if v.len() == 8 => keys::be_u64(&v),
        Some(v) => {
            return Err(StorageError::Corrupt(format!(
                "meta revision counter has length {}",
                v.len()
            )))
        }
        None => 0,
    };
    let (visible, writer) = recover_shards(&records, &shards)?;
    tracing::info!(
        dir = %dir.display(),
        shards = visible.len(),
        deleted_shards_pending = writer.graveyard.len(),
        "storage opened"
    );

    Ok(Shared {
        dir: dir.to_path_buf(),
        db,
        records,
        by_time,
        shards,
        meta,
        sys,
        visible: RwLock::new(visible),
        writer: Mutex::new(writer),
        meta_revision: Mutex::new(meta_revision),
        stats: Stats::default(),
        _dir_lock: dir_lock,
    })
}

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

/// Refuses a directory this build must not touch BEFORE any keyspace is created in it: one with
/// another format version, or fjall data without a version (not ours). Returns whether the
/// version entry is already present.
fn check_format(dir: &Path, db: &Database) -> StorageResult<bool> {
    if db.keyspace_exists(keys::KS_SYS) {
        let sys = db
            .keyspace(keys::KS_SYS, KeyspaceCreateOptions::default)
            .map_err(|e| open_err(dir, e))?;
        if let Some(v) = sys.get(keys::SYS_FORMAT).map_err(read_err)? {
            let found = (v.len() == 4).then(|| keys::be_u32(&v));
            if found == Some(keys::FORMAT_VERSION) {
                return Ok(true);
            }
            let found = found.map_or_else(|| format!("{:?}", &v[..]), |f| f.to_string());
            return Err(StorageError::Corrupt(format!(
                "{} holds storage format version {found}, but this build of Tributary reads only \
                 version {}; run the Tributary version that wrote it (or migrate the data)",
                dir.display(),
                keys::FORMAT_VERSION
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

/// Rebuilds the shard table: per shard one seek to its first and one to its last record, so the
/// cost grows with the number of shards, never with the amount of data.
fn recover_shards(
    records: &Keyspace,
    shards: &Keyspace,
) -> StorageResult<(HashMap<ShardKey, ShardView>, WriterState)> {
    let mut visible = HashMap::new();
    let mut ws = WriterState::default();
    for guard in shards.iter() {
        let (k, v) = guard.into_inner().map_err(read_err)?;
        let shard = keys::decode_shard_prefix(&k)?;
        let state = ShardRecord::decode(&v)?;
        let prefix = keys::shard_prefix(shard);
        let first_kept = first_record_offset(records, &prefix)?;
        let last = last_record(records, &prefix)?;
        let end = last.map_or(0, |(o, _)| o + 1);
        if state.deleted {
            ws.graveyard.insert(shard, first_kept.unwrap_or(end)..end);
            continue;
        }
        // Every record at or above the trim point was kept, so `next` is past both.
        let next = end.max(state.trim_offset);
        let last_arrival = match (last.map(|(_, a)| a), state.arrival_floor) {
            (Some(a), Some(f)) => Some(a.max(f)),
            (a, f) => a.or(f),
        };
        let first = state.trim_offset.min(next);
        let purged = first_kept.unwrap_or(next);
        if purged < first {
            ws.purge_queue.insert(shard);
        }
        ws.purged.insert(shard, purged);
        visible.insert(
            shard,
            ShardView {
                first,
                next,
                last_arrival,
            },
        );
    }
    Ok((visible, ws))
}

fn first_record_offset(records: &Keyspace, prefix: &[u8]) -> StorageResult<Option<u64>> {
    match records.prefix(prefix).next() {
        Some(g) => Ok(Some(keys::record_key_offset(&g.key().map_err(read_err)?)?)),
        None => Ok(None),
    }
}

/// Offset and arrival time of the newest record of a shard.
fn last_record(records: &Keyspace, prefix: &[u8]) -> StorageResult<Option<(u64, i64)>> {
    match records.prefix(prefix).next_back() {
        Some(g) => {
            let (k, v) = g.into_inner().map_err(read_err)?;
            let (arrival, _) = keys::split_record_value(&v)?;
            Ok(Some((keys::record_key_offset(&k)?, arrival)))
        }
        None => Ok(None),
    }
}
