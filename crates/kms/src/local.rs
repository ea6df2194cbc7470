//! The built-in key service: keys and aliases in the MetaStore, read through a cache that
//! this node's own writes and [`MetaStore::watch`] (every node's writes) keep current.
//!
//! Every change is a compare-and-set on the record's revision, so nodes sharing one store
//! never lose each other's writes. The cache keeps deleted entries as tombstones with their
//! revision, so a late, older write can never bring a deleted record back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use parking_lot::RwLock;
use tributary_storage::{MetaChange, MetaError, MetaStore, Revision};

use crate::fault::Fault;
use crate::records::{self, Record, RootCheck, PREFIX, RECORD_VERSION, ROOT_CHECK_KEY};
use crate::root::RootKey;

/// How often a write retries after losing a compare-and-set race. Between tries it waits a
/// random time that doubles up to ~100 ms, so a node that keeps losing to a busy writer gets
/// its turn.
const CAS_TRIES: u32 = 32;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The stored keys were wrapped by another root key: opening would only fail later, key
    /// by key, so it fails here.
    #[error(
        "the KMS root key is not the one the stored keys were wrapped with (kms/root-check \
         differs): start with the original root key"
    )]
    WrongRootKey,
    #[error("the kms/root-check record is unreadable: {0}")]
    CorruptRootCheck(String),
    #[error("metadata store: {0}")]
    Store(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Cached {
    pub revision: Revision,
    pub record: Option<Record>,
}

/// The built-in KMS-compatible key service.
pub struct LocalKms {
    pub(crate) meta: Arc<dyn MetaStore>,
    pub(crate) root: RootKey,
    cache: RwLock<BTreeMap<String, Cached>>,
    watcher: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for LocalKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKms").finish_non_exhaustive()
    }
}

impl Drop for LocalKms {
    fn drop(&mut self) {
        if let Some(task) = self.watcher.lock().take() {
            task.abort();
        }
    }
}

impl LocalKms {
    /// Checks (or, on a store without keys, records) the root key, loads every key and
    /// alias, and starts following the store. Must run inside a Tokio runtime.
    pub async fn open(meta: Arc<dyn MetaStore>, root: RootKey) -> Result<Arc<LocalKms>, OpenError> {
        check_root(&*meta, &root).await?;
        let kms = Arc::new(LocalKms {
            meta,
            root,
            cache: RwLock::new(BTreeMap::new()),
            watcher: parking_lot::Mutex::new(None),
        });
        let feed = kms
            .subscribe()
            .await
            .map_err(|e| OpenError::Store(e.to_string()))?;
        let task = tokio::spawn(follow(Arc::downgrade(&kms), feed));
        *kms.watcher.lock() = Some(task);
        Ok(kms)
    }

    /// Watches, then lists: changes after the listing arrive on the feed. Following again
    /// after a feed closed, a record the cache holds that the listing lacks was deleted
    /// while no feed was open, and no event will ever say so: it is forgotten here.
    async fn subscribe(
        &self,
    ) -> Result<tokio::sync::mpsc::UnboundedReceiver<MetaChange>, MetaError> {
        let feed = self.meta.watch().await?;
        // Taken before listing, so that a record this node writes meanwhile (a new revision)
        // is not mistaken for one the listing missed.
        let held: Vec<(String, Revision)> = self
            .cache
            .read()
            .iter()
            .filter(|(_, c)| c.record.is_some())
            .map(|(k, c)| (k.clone(), c.revision))
            .collect();
        let listed = self.meta.list(PREFIX).await?;
        let present: BTreeSet<&str> = listed.iter().map(|e| e.key.as_str()).collect();
        for entry in &listed {
            self.apply(&entry.key, entry.revision, Some(&entry.value));
        }
        for (key, revision) in held {
            if !present.contains(key.as_str()) {
                self.forget(&key, revision);
            }
        }
        Ok(feed)
    }

    /// Marks `key` deleted when the cache still holds it at `seen`, a revision the store no
    /// longer has. The deletion's own revision is unknown but above `seen`, so the tombstone
    /// takes `seen + 1`: an event at or below `seen` cannot bring the record back, a later
    /// write (a new record under that key) still replaces it, and the feed's own delete
    /// event, when one comes, replaces it with the real revision.
    fn forget(&self, key: &str, seen: Revision) {
        let mut cache = self.cache.write();
        if let Some(entry) = cache.get_mut(key) {
            if entry.revision == seen && entry.record.is_some() {
                *entry = Cached {
                    revision: seen + 1,
                    record: None,
                };
            }
        }
    }

    /// Takes a store value into the cache unless the cache already knows a newer one.
    pub(crate) fn apply(&self, key: &str, revision: Revision, value: Option<&[u8]>) {
        let record = match value {
            Some(bytes) => match records::decode(key, bytes) {
                Some(record) => Some(record),
                None => return,
            },
            None => None,
        };
        self.apply_record(key, revision, record);
    }

    pub(crate) fn apply_record(&self, key: &str, revision: Revision, record: Option<Record>) {
        if !key.starts_with("kms/key/") && !key.starts_with("kms/alias/") {
            return;
        }
        let mut cache = self.cache.write();
        match cache.get(key) {
            Some(known) if known.revision >= revision => {}
            _ => {
                cache.insert(key.to_string(), Cached { revision, record });
            }
        }
    }

    /// The cached entry, or the store's when the cache has none (another node's write the
    /// feed has not brought yet).
    pub(crate) async fn lookup(&self, key: &str) -> Result<Option<(Revision, Record)>, Fault> {
        if let Some(cached) = self.cache.read().get(key) {
            return Ok(cached.record.clone().map(|r| (cached.revision, r)));
        }
        self.reload(key).await
    }

    /// Reads `key` from the store into the cache; a record the store no longer has leaves
    /// the cache too.
    pub(crate) async fn reload(&self, key: &str) -> Result<Option<(Revision, Record)>, Fault> {
        let seen = self.cache.read().get(key).map(|c| c.revision);
        match self.meta.get(key).await.map_err(Fault::internal)? {
            Some(entry) => {
                self.apply(key, entry.revision, Some(&entry.value));
                let record = records::decode(key, &entry.value)
                    .ok_or_else(|| Fault::internal(format!("unreadable record {key}")))?;
                Ok(Some((entry.revision, record)))
            }
            None => {
                if let Some(seen) = seen {
                    self.forget(key, seen);
                }
                Ok(None)
            }
        }
    }

    /// Cached records whose MetaStore key starts with `prefix`, in key order.
    pub(crate) fn cached_under(&self, prefix: &str) -> Vec<Record> {
        self.cache
            .read()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter_map(|(_, c)| c.record.clone())
            .collect()
    }

    /// Creates a record; `Ok(None)` when it already exists.
    pub(crate) async fn create_record(
        &self,
        key: &str,
        record: Record,
    ) -> Result<Option<Revision>, Fault> {
        match self.meta.create(key, encode(&record)).await {
            Ok(revision) => {
                self.apply_record(key, revision, Some(record));
                Ok(Some(revision))
            }
            Err(MetaError::Exists) => Ok(None),
            Err(e) => Err(Fault::internal(e)),
        }
    }

    /// Compare-and-set loop: `change` sees the current record (or refuses with a fault), the
    /// result is written at that record's revision, and a lost race starts over.
    pub(crate) async fn update_record(
        &self,
        key: &str,
        change: impl Fn(&Record) -> Result<Record, Fault>,
    ) -> Result<Record, Fault> {
        let mut current = self.lookup(key).await?;
        for attempt in 0..CAS_TRIES {
            let Some((revision, record)) = current else {
                return Err(Fault::NotFound(String::new()));
            };
            let next = change(&record)?;
            match self.meta.update(key, encode(&next), revision).await {
                Ok(new_revision) => {
                    self.apply_record(key, new_revision, Some(next.clone()));
                    return Ok(next);
                }
                Err(MetaError::Conflict { .. }) | Err(MetaError::NotFound) => {
                    backoff(attempt).await;
                    current = self.reload(key).await?;
                }
                Err(e) => return Err(Fault::internal(e)),
            }
        }
        Err(Fault::internal(format!(
            "{key}: too many concurrent updates"
        )))
    }

    /// Deletes a record whatever its revision, trying again (a bounded number of times)
    /// when it changes under the delete; `Ok(false)` when there is none.
    pub(crate) async fn delete_current(&self, key: &str) -> Result<bool, Fault> {
        for attempt in 0..CAS_TRIES {
            let Some((revision, _)) = self.lookup(key).await? else {
                return Ok(false);
            };
            if self.delete_record(key, revision).await? {
                return Ok(true);
            }
            backoff(attempt).await;
        }
        Err(Fault::internal(format!(
            "{key}: too many concurrent updates"
        )))
    }

    /// Deletes a record at the revision it was read at (`Ok(false)` when it changed).
    pub(crate) async fn delete_record(&self, key: &str, revision: Revision) -> Result<bool, Fault> {
        match self.meta.delete(key, Some(revision)).await {
            Ok(()) => {
                // The delete's own revision is unknown here; one above the deleted entry's
                // still orders it after that entry, and the feed's real one replaces it.
                self.apply_record(key, revision + 1, None);
                Ok(true)
            }
            Err(MetaError::Conflict { .. }) | Err(MetaError::NotFound) => {
                self.reload(key).await?;
                Ok(false)
            }
            Err(e) => Err(Fault::internal(e)),
        }
    }
}

async fn backoff(attempt: u32) {
    let mut random = [0u8; 4];
    crate::root::fill_random(&mut random);
    let ceiling_us = 100u64 << attempt.min(10);
    tokio::time::sleep(Duration::from_micros(
        u64::from(u32::from_le_bytes(random)) % ceiling_us,
    ))
    .await;
}

fn encode(record: &Record) -> Bytes {
    match record {
        Record::Key(k) => records::encode(k),
        Record::Alias(a) => records::encode(a),
    }
}

async fn check_root(meta: &dyn MetaStore, root: &RootKey) -> Result<(), OpenError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let value = b64.encode(root.check_value(records::ROOT_CHECK_LABEL));
    let store = |e: MetaError| OpenError::Store(e.to_string());
    let found = match meta.get(ROOT_CHECK_KEY).await.map_err(store)? {
        Some(entry) => entry.value,
        None => {
            let check = RootCheck {
                v: RECORD_VERSION,
                alg: "HMAC-SHA256".into(),
                value,
            };
            match meta.create(ROOT_CHECK_KEY, records::encode(&check)).await {
                Ok(_) => return Ok(()),
                // Another node recorded its root key first: compare with that one.
                Err(MetaError::Exists) => {
                    meta.get(ROOT_CHECK_KEY)
                        .await
                        .map_err(store)?
                        .ok_or_else(|| OpenError::Store("kms/root-check vanished".into()))?
                        .value
                }
                Err(e) => return Err(store(e)),
            }
        }
    };
    let check: RootCheck =
        serde_json::from_slice(&found).map_err(|e| OpenError::CorruptRootCheck(e.to_string()))?;
    if check.v != RECORD_VERSION || check.alg != "HMAC-SHA256" {
        return Err(OpenError::CorruptRootCheck(format!(
            "version {} {}",
            check.v, check.alg
        )));
    }
    let expected = b64.encode(root.check_value(records::ROOT_CHECK_LABEL));
    // The check value is public (it is in the store), so a plain comparison will do.
    if check.value != expected {
        return Err(OpenError::WrongRootKey);
    }
    Ok(())
}

/// Applies other nodes' writes until the service is dropped; when the feed closes, watches
/// and lists again (with a pause, so a store that is down is not hammered).
async fn follow(kms: Weak<LocalKms>, mut feed: tokio::sync::mpsc::UnboundedReceiver<MetaChange>) {
    loop {
        while let Some(change) = feed.recv().await {
            let Some(kms) = kms.upgrade() else { return };
            kms.apply(&change.key, change.revision, change.value.as_deref());
        }
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let Some(kms) = kms.upgrade() else { return };
            match kms.subscribe().await {
                Ok(next) => {
                    feed = next;
                    break;
                }
                Err(e) => tracing::warn!(error = %e, "KMS cache cannot follow the MetaStore"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{alias_meta_key, AliasRecord};
    use tributary_storage::memory::MemoryMetaStore;

    #[tokio::test]
    async fn a_record_gone_from_the_store_leaves_the_cache_for_good() {
        let store = Arc::new(MemoryMetaStore::new());
        let kms = LocalKms::open(store.clone(), RootKey::from_bytes([7; 32]))
            .await
            .unwrap();
        let key = alias_meta_key("123456789012", "us-east-1", "alias/x");
        let record = Record::Alias(AliasRecord {
            v: RECORD_VERSION,
            alias_name: "alias/x".into(),
            target_key_id: "k".into(),
            created_ms: 1,
            updated_ms: 1,
        });
        let bytes = encode(&record);
        let revision = kms.create_record(&key, record).await.unwrap().unwrap();
        // No feed tells the cache of the delete (nothing here yields to the follower).
        store.close_watches();
        store.delete(&key, None).await.unwrap();
        assert!(
            kms.lookup(&key).await.unwrap().is_some(),
            "cache not yet told"
        );

        assert!(kms.reload(&key).await.unwrap().is_none());
        assert!(
            kms.lookup(&key).await.unwrap().is_none(),
            "reload forgot it"
        );
        // A late event no newer than the record the cache held cannot bring it back...
        kms.apply(&key, revision, Some(&bytes));
        assert!(kms.lookup(&key).await.unwrap().is_none());
        // ...while the key made again, a later write, is taken.
        let again = store.create(&key, bytes.clone()).await.unwrap();
        kms.apply(&key, again, Some(&bytes));
        assert_eq!(kms.lookup(&key).await.unwrap().map(|(r, _)| r), Some(again));
    }
}
