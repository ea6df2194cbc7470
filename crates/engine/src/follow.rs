//! Following the MetaStore's change feed, so that several engines on one store (one per
//! node) answer as one Kinesis service.
//!
//! `Engine::open` watches the store BEFORE it lists it, so no write falls between the two;
//! then a task applies every change whose revision is above the cached one (under
//! `Engine::control`, so a control-plane operation never sees its snapshot move under it).
//! The engine's own writes come back through the feed too and are no-ops: their revision
//! is already cached.
//!
//! Keys this engine deleted itself leave a tombstone until the feed brings the delete, so
//! that changes queued before it cannot bring the key back. A compare-and-set that loses to
//! another node refreshes the key from the store and fails with [`Failure::Stale`]; the
//! operation then runs again on the fresh state (`error::retry_stale`), so the loser of a
//! race gets the answer AWS would give (ResourceInUse for a second CreateStream, and so on).
//!
//! A parent shard closed by a reshard on any node is closed in storage by every node that
//! learns of it (`ShardLog::close_shard` is idempotent), after its own appends to it are
//! drained; only then is its runtime sealed, so its end is final before readers report it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tributary_storage::{MetaChange, MetaError, Revision, StorageError, StorageResult};

use crate::error::{Failure, Outcome};
use crate::meta::{
    self, AccountRecord, ConsumerPhase, ConsumerRecord, CounterRecord, PolicyRecord, Status,
    StreamRecord,
};
use crate::state::{ShardRuntime, StreamEntry};
use crate::Engine;

/// Pause before watching again after the feed closed, or closing a shard again after a
/// storage error.
const RETRY: Duration = Duration::from_millis(500);

/// What a change did to the cache.
type Applied = Result<bool, String>;

impl Engine {
    /// Spawns the task applying `feed` to the cache; it stops with the engine.
    pub(crate) fn spawn_follower(&self, mut feed: UnboundedReceiver<MetaChange>) {
        let me = self.me.clone();
        tokio::spawn(async move {
            loop {
                let next = feed.recv().await;
                let Some(engine) = me.upgrade() else { return };
                match next {
                    Some(change) => {
                        let _control = engine.control.lock().await;
                        engine.apply_change(change);
                        while let Ok(change) = feed.try_recv() {
                            engine.apply_change(change);
                        }
                    }
                    None => {
                        tracing::warn!("the metadata change feed closed; watching again");
                        feed = engine.rewatch().await;
                    }
                }
            }
        });
    }

    /// Watches again and catches up with everything missed meanwhile.
    async fn rewatch(&self) -> UnboundedReceiver<MetaChange> {
        loop {
            match self.meta.watch().await {
                Ok(feed) => {
                    let _control = self.control.lock().await;
                    match self.resync().await {
                        Ok(()) => return feed,
                        Err(e) => tracing::warn!(failure = ?e, "catching up with the store failed"),
                    }
                }
                Err(e) => tracing::warn!(error = %e, "watching the metadata store failed"),
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// Brings the cache to the store's state: every listed entry as a change, every cached
    /// key the store no longer has forgotten. Callers hold `self.control`.
    async fn resync(&self) -> Outcome<()> {
        // The listing is the truth now; deletes the old feed never brought cannot come.
        self.tombstones.lock().clear();
        let mut listed = HashSet::new();
        for prefix in [
            meta::STREAM_PREFIX,
            meta::CONSUMER_PREFIX,
            meta::POLICY_PREFIX,
            meta::ACCOUNT_PREFIX,
            meta::NEXT_STREAM_ID_KEY,
        ] {
            for e in self.meta.list(prefix).await? {
                listed.insert(e.key.clone());
                self.apply_change(MetaChange {
                    key: e.key,
                    revision: e.revision,
                    value: Some(e.value),
                });
            }
        }
        for key in self.cached_keys() {
            if !listed.contains(&key) {
                self.forget(&key);
            }
        }
        Ok(())
    }

    fn cached_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for entry in self.registry.read().all() {
            keys.push(entry.key.clone());
            for c in entry.consumers.read().values() {
                keys.push(meta::consumer_key(
                    &entry.account,
                    &entry.region,
                    &entry.name,
                    &c.rec.name,
                ));
            }
        }
        keys.extend(self.policies.read().keys().map(|arn| meta::policy_key(arn)));
        keys.extend(
            self.accounts
                .read()
                .keys()
                .map(|(a, r)| meta::account_key(a, r)),
        );
        keys
    }

    /// Re-reads `key` from the store into the cache.
    pub(crate) async fn refresh(&self, key: &str) -> Outcome<()> {
        match self.meta.get(key).await? {
            Some(e) => self.apply_change(MetaChange {
                key: e.key,
                revision: e.revision,
                value: Some(e.value),
            }),
            None => self.forget(key),
        }
        Ok(())
    }

    /// The failure for a compare-and-set on `key` that failed with `e`: when another node
    /// wrote first, the key is refreshed and the operation is run again ([`Failure::Stale`]).
    pub(crate) async fn lost_race(&self, key: &str, e: MetaError) -> Failure {
        match e {
            MetaError::Exists | MetaError::NotFound | MetaError::Conflict { .. } => {
                match self.refresh(key).await {
                    Ok(()) => Failure::Stale,
                    Err(f) => f,
                }
            }
            e @ MetaError::Storage(_) => e.into(),
        }
    }

    /// Notes that this engine deleted `key` at `revision`: changes up to it still in the
    /// feed must not bring it back.
    pub(crate) fn tombstone(&self, key: &str, revision: Revision) {
        self.tombstones
            .lock()
            .insert(key.to_owned(), Some(revision));
    }

    /// Removes `key` from the cache because the store no longer has it (a delete whose
    /// revision is unknown: changes are ignored until the feed brings the delete).
    fn forget(&self, key: &str) {
        let gone = MetaChange {
            key: key.to_owned(),
            revision: Revision::MAX,
            value: None,
        };
        if matches!(self.apply_kind(&gone), Ok(true)) {
            self.tombstones.lock().insert(key.to_owned(), None);
        }
    }

    /// Applies one change if it is newer than the cache. Callers hold `self.control` (or
    /// run at open).
    pub(crate) fn apply_change(&self, change: MetaChange) {
        if !self.passes_tombstone(&change) {
            return;
        }
        if let Err(reason) = self.apply_kind(&change) {
            tracing::warn!(key = %change.key, %reason, "ignoring a metadata change this engine cannot read");
        }
    }

    fn passes_tombstone(&self, c: &MetaChange) -> bool {
        let mut t = self.tombstones.lock();
        let Some(&until) = t.get(&c.key) else {
            return true;
        };
        let passes = match (&c.value, until) {
            (None, None) => true,
            (_, Some(u)) => c.revision > u,
            (Some(_), None) => false,
        };
        if passes {
            t.remove(&c.key);
        }
        passes
    }

    fn apply_kind(&self, c: &MetaChange) -> Applied {
        let key = c.key.as_str();
        if key.starts_with(meta::STREAM_PREFIX) {
            self.apply_stream(c)
        } else if key.starts_with(meta::CONSUMER_PREFIX) {
            self.apply_consumer(c)
        } else if let Some(arn) = key.strip_prefix(meta::POLICY_PREFIX) {
            self.apply_policy(arn, c)
        } else if key.starts_with(meta::ACCOUNT_PREFIX) {
            self.apply_account(c)
        } else if key == meta::NEXT_STREAM_ID_KEY {
            self.apply_counter(c)
        } else {
            Ok(false)
        }
    }

    fn apply_stream(&self, c: &MetaChange) -> Applied {
        let parts: Vec<&str> = c.key[meta::STREAM_PREFIX.len()..].splitn(3, '/').collect();
        let [account, region, name] = parts[..] else {
            return Err("stream key without account, region and name".into());
        };
        let existing = self.registry.read().get(account, region, name).cloned();
        let newer = |e: &StreamEntry| c.revision > e.state.read().revision;
        let Some(value) = &c.value else {
            return Ok(match existing {
                Some(e) if newer(&e) => {
                    self.drop_stream_locally(&e);
                    true
                }
                _ => false,
            });
        };
        // The engine's own writes come back here: skip them before parsing.
        if existing.as_ref().is_some_and(|e| !newer(e)) {
            return Ok(false);
        }
        let rec: StreamRecord = meta::from_bytes(value)?;
        if meta::stream_key(&rec.account, &rec.region, &rec.name) != c.key {
            return Err("stream record does not match its key".into());
        }
        if let Some(e) = existing {
            if e.id == rec.id {
                self.install_stream(&e, rec, c.revision);
                return Ok(true);
            }
            // Deleted and created again elsewhere: a new incarnation.
            self.drop_stream_locally(&e);
        }
        let entry = StreamEntry::new(rec, c.revision);
        self.registry.write().insert(Arc::clone(&entry));
        self.close_closed_shards(&entry);
        self.schedule_pending(&entry);
        Ok(true)
    }

    /// Another node deleted the stream: forget it here (that node deletes its logs).
    fn drop_stream_locally(&self, entry: &StreamEntry) {
        self.registry.write().remove(entry);
        self.forget_data_keys(entry.id);
        self.subscriptions.wake(entry.id, None);
    }

    /// Installs a newer record of a cached stream and follows what changed.
    fn install_stream(&self, entry: &Arc<StreamEntry>, rec: StreamRecord, revision: Revision) {
        let (pending_changed, deleting) = {
            let mut st = entry.state.write();
            let pending_changed = st.rec.pending != rec.pending;
            st.replace(rec, revision);
            (pending_changed, st.rec.status == Status::Deleting)
        };
        self.close_closed_shards(entry);
        if pending_changed {
            self.schedule_pending(entry);
        }
        if deleting {
            self.subscriptions.wake(entry.id, None);
        }
    }

    fn apply_consumer(&self, c: &MetaChange) -> Applied {
        let parts: Vec<&str> = c.key[meta::CONSUMER_PREFIX.len()..]
            .splitn(4, '/')
            .collect();
        let [account, region, stream, name] = parts[..] else {
            return Err("consumer key without account, region, stream and name".into());
        };
        let Some(entry) = self.registry.read().get(account, region, stream).cloned() else {
            return Ok(false);
        };
        let cached = entry.consumer(name);
        if cached.as_ref().is_some_and(|k| c.revision <= k.revision) {
            return Ok(false);
        }
        let Some(value) = &c.value else {
            let Some(k) = cached else { return Ok(false) };
            entry.consumers.write().remove(name);
            entry
                .retired
                .lock()
                .insert(name.to_owned(), k.rec.created_ms.div_euclid(1000));
            self.subscriptions.wake(entry.id, Some(name));
            return Ok(true);
        };
        let rec: ConsumerRecord = meta::from_bytes(value)?;
        if meta::consumer_key(&rec.account, &rec.region, &rec.stream, &rec.name) != c.key {
            return Err("consumer record does not match its key".into());
        }
        if rec.stream_id != entry.id {
            // Left behind by an earlier incarnation of the stream.
            return Ok(false);
        }
        let deleting = rec.status == ConsumerPhase::Deleting;
        entry.put_consumer(rec, c.revision);
        if deleting {
            self.subscriptions.wake(entry.id, Some(name));
        }
        self.schedule_consumer(&entry, name);
        Ok(true)
    }

    fn apply_policy(&self, arn: &str, c: &MetaChange) -> Applied {
        let mut policies = self.policies.write();
        if policies.get(arn).is_some_and(|(_, r)| c.revision <= *r) {
            return Ok(false);
        }
        match &c.value {
            None => Ok(policies.remove(arn).is_some()),
            Some(v) => {
                let rec: PolicyRecord = meta::from_bytes(v)?;
                policies.insert(rec.arn, (rec.policy, c.revision));
                Ok(true)
            }
        }
    }

    fn apply_account(&self, c: &MetaChange) -> Applied {
        let Some((account, region)) = c.key[meta::ACCOUNT_PREFIX.len()..].split_once('/') else {
            return Err("account key without a region".into());
        };
        let scope = (account.to_owned(), region.to_owned());
        let mut accounts = self.accounts.write();
        if accounts.get(&scope).is_some_and(|(_, r)| c.revision <= *r) {
            return Ok(false);
        }
        match &c.value {
            None => Ok(accounts.remove(&scope).is_some()),
            Some(v) => {
                let rec: AccountRecord = meta::from_bytes(v)?;
                accounts.insert(scope, (rec, c.revision));
                Ok(true)
            }
        }
    }

    fn apply_counter(&self, c: &MetaChange) -> Applied {
        let Some(v) = &c.value else { return Ok(false) };
        let rec: CounterRecord = meta::from_bytes(v)?;
        let mut counter = self.next_stream_id.lock();
        if c.revision <= counter.1 {
            return Ok(false);
        }
        *counter = (rec.next, c.revision);
        Ok(true)
    }

    /// Closes (in storage) and seals every closed shard of the stream not sealed yet, in
    /// the background.
    pub(crate) fn close_closed_shards(&self, entry: &StreamEntry) {
        for rt in closed_unsealed(entry) {
            self.spawn_close(rt);
        }
    }

    /// [`Engine::close_runtime`] in a task of its own, retried until storage takes it.
    pub(crate) fn spawn_close(&self, rt: Arc<ShardRuntime>) {
        if !rt.start_closing() {
            return;
        }
        let me = self.me.clone();
        tokio::spawn(async move {
            loop {
                let Some(engine) = me.upgrade() else { return };
                match engine.close_runtime(&rt).await {
                    Ok(()) => return,
                    Err(e) => tracing::warn!(shard = ?rt.key, error = %e,
                        "closing a parent shard in storage failed; retrying"),
                }
                drop(engine);
                tokio::time::sleep(RETRY).await;
            }
        });
    }

    /// Waits for this node's appends to a shard routing no longer reaches, closes its log
    /// (which stops every other node's appends too) and seals it with its final end.
    pub(crate) async fn close_runtime(&self, rt: &ShardRuntime) -> StorageResult<()> {
        rt.drain().await;
        match self.log.close_shard(rt.key).await {
            Ok(end) => rt.seal_at(Some(end)),
            // Pruned (or its stream deleted): nothing can land in it.
            Err(StorageError::NoSuchShard(_)) => rt.seal_at(None),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// At open: closes and seals every closed shard before requests are served.
    pub(crate) async fn close_all_closed(&self) -> StorageResult<()> {
        let entries: Vec<_> = self.registry.read().all().cloned().collect();
        for entry in entries {
            for rt in closed_unsealed(&entry) {
                self.close_runtime(&rt).await?;
            }
        }
        Ok(())
    }
}

fn closed_unsealed(entry: &StreamEntry) -> Vec<Arc<ShardRuntime>> {
    let st = entry.state.read();
    st.rec
        .shards
        .iter()
        .filter(|s| !s.is_open())
        .filter_map(|s| st.runtimes.get(&s.index))
        .filter(|rt| !rt.is_sealed())
        .cloned()
        .collect()
}

#[cfg(test)]
#[path = "follow_tests.rs"]
mod tests;
