//! [`MetaStore`] for [`FjallStore`]: compare-and-set under one mutex, every write fsynced before
//! it returns (whatever the append durability), revisions from one global counter.
//!
//! Why a global counter: a per-key counter would restart at 1 after delete + create, and a
//! client still holding revision 1 of the old entry could then overwrite the new one (ABA).

use super::keys;
use super::{read_err, write_err, FjallStore, Shared};
use crate::{MetaEntry, MetaError, MetaStore, Revision, StorageError};
use ::fjall::PersistMode;
use bytes::Bytes;

impl MetaStore for FjallStore {
    fn get(&self, key: &str) -> Result<Option<MetaEntry>, MetaError> {
        if check_key(key).is_err() {
            return Ok(None); // nothing can be stored under such a key
        }
        current(&self.shared, key)
    }

    fn create(&self, key: &str, value: Bytes) -> Result<Revision, MetaError> {
        check_key(key)?;
        let shared = &self.shared;
        let mut last = shared.meta_revision.lock();
        if current(shared, key)?.is_some() {
            return Err(MetaError::Exists);
        }
        put(shared, &mut last, key, &value)
    }

    fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision, MetaError> {
        check_key(key)?;
        let shared = &self.shared;
        let mut last = shared.meta_revision.lock();
        let found = current(shared, key)?.ok_or(MetaError::NotFound)?.revision;
        if found != expected {
            return Err(MetaError::Conflict { expected, found });
        }
        put(shared, &mut last, key, &value)
    }

    fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(), MetaError> {
        check_key(key)?;
        let shared = &self.shared;
        let _last = shared.meta_revision.lock();
        let found = current(shared, key)?.ok_or(MetaError::NotFound)?.revision;
        if let Some(expected) = expected.filter(|e| *e != found) {
            return Err(MetaError::Conflict { expected, found });
        }
        let mut batch = shared.db.batch().durability(Some(PersistMode::SyncAll));
        batch.remove(&shared.meta, key);
        batch.commit().map_err(write_err)?;
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<MetaEntry>, MetaError> {
        let mut out = Vec::new();
        // fjall iterates in byte order, which for UTF-8 is code point order.
        for guard in self.shared.meta.prefix(prefix) {
            let (k, v) = guard.into_inner().map_err(read_err)?;
            let key = String::from_utf8(k.to_vec())
                .map_err(|_| StorageError::Corrupt("metadata key is not UTF-8".into()))?;
            out.push(entry(key, &v)?);
        }
        Ok(out)
    }
}

fn current(shared: &Shared, key: &str) -> Result<Option<MetaEntry>, MetaError> {
    match shared.meta.get(key).map_err(read_err)? {
        Some(v) => Ok(Some(entry(key.to_owned(), &v)?)),
        None => Ok(None),
    }
}

fn entry(key: String, stored: &[u8]) -> Result<MetaEntry, MetaError> {
    let (revision, value) = keys::split_meta_value(stored)?;
    Ok(MetaEntry {
        key,
        revision,
        value: Bytes::copy_from_slice(value),
    })
}

/// Writes `key` with the next revision, together with the counter, and fsyncs.
fn put(shared: &Shared, last: &mut u64, key: &str, value: &[u8]) -> Result<Revision, MetaError> {
    let revision = *last + 1;
    let mut batch = shared.db.batch().durability(Some(PersistMode::SyncAll));
    batch.insert(&shared.meta, key, keys::meta_value(revision, value));
    batch.insert(&shared.sys, keys::SYS_META_REVISION, revision.to_be_bytes());
    batch.commit().map_err(write_err)?;
    *last = revision;
    Ok(revision)
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
