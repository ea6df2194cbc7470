//! The stream state machine and its timers.
//!
//! ```text
//!  CreateStream ──> CREATING ──(create_delay)──> ACTIVE <──(update_delay)── UPDATING
//!                      │                           │  └── Split/Merge/UpdateShardCount/
//!                      │                           │      UpdateStreamMode/Start- and
//!                      │                           │      StopStreamEncryption ──> UPDATING
//!                      └──────── DeleteStream ─────┴──> DELETING ──(delete_delay)──> gone
//! ```
//!
//! A transition is persisted as `StreamRecord::pending` with its due time before the
//! request returns, then completed by a Tokio task (or inline when the delay is zero). A
//! restarted engine finds the pending transitions in the MetaStore and schedules them again,
//! so no transition is lost to a crash. Completion takes `Engine::control` and first checks
//! that the pending transition is still the one it was scheduled for (DeleteStream may have
//! replaced an activation).

use std::sync::Arc;
use std::time::Duration;

use tributary_storage::MetaError;

use crate::clock::now_ms;
use crate::error::{Failure, Outcome};
use crate::meta::{Pending, Status};
use crate::state::StreamEntry;
use crate::Engine;

/// Pause before retrying a completion that failed on a storage error.
const RETRY: Duration = Duration::from_secs(1);

impl Engine {
    /// Schedules every transition found at open.
    pub(crate) fn resume_pending(&self) {
        let entries: Vec<_> = self.registry.read().all().cloned().collect();
        for entry in entries {
            self.schedule_pending(&entry);
        }
    }

    /// Spawns the task completing the stream's pending transition at its due time.
    pub(crate) fn schedule_pending(&self, entry: &Arc<StreamEntry>) {
        let Some(pending) = entry.state.read().rec.pending.clone() else {
            return;
        };
        let me = self.me.clone();
        let entry = Arc::clone(entry);
        tokio::spawn(async move {
            let wait = (pending.due_ms() - now_ms()).max(0) as u64;
            tokio::time::sleep(Duration::from_millis(wait)).await;
            loop {
                let Some(engine) = me.upgrade() else { return };
                let _control = engine.control.lock().await;
                let current = engine.registry.read().get_by_id(entry.id).cloned();
                let still_due = current.is_some_and(|c| Arc::ptr_eq(&c, &entry))
                    && entry.state.read().rec.pending.as_ref() == Some(&pending);
                if !still_due {
                    return;
                }
                match engine.complete_pending(&entry, &pending).await {
                    Ok(()) => return,
                    // Another node completed or changed it; the cache is fresh: look again.
                    Err(Failure::Stale) => continue,
                    Err(e) => tracing::warn!(stream = %entry.arn, failure = ?e,
                        "completing a stream transition failed; retrying"),
                }
                drop(_control);
                drop(engine);
                tokio::time::sleep(RETRY).await;
            }
        });
    }

    /// Completes `pending`. Callers hold `self.control`.
    async fn complete_pending(&self, entry: &Arc<StreamEntry>, pending: &Pending) -> Outcome<()> {
        match pending {
            Pending::Activate { .. } => {
                let mut rec = Self::snapshot(entry);
                rec.status = Status::Active;
                rec.pending = None;
                self.commit(entry, rec).await
            }
            Pending::Delete { .. } => self.finish_delete(entry).await,
            Pending::Reshard { plan, .. } => self.apply_reshard(entry, plan).await,
            Pending::Mode {
                mode, warm_mibps, ..
            } => {
                let mut rec = Self::snapshot(entry);
                rec.mode = *mode;
                rec.warm_mibps = *warm_mibps;
                rec.status = Status::Active;
                rec.pending = None;
                self.commit(entry, rec).await
            }
            Pending::Encryption { encryption, .. } => {
                let mut rec = Self::snapshot(entry);
                rec.encryption = encryption.clone();
                rec.status = Status::Active;
                rec.pending = None;
                self.commit(entry, rec).await
            }
        }
    }

    /// Removes a DELETING stream: waits for in-flight appends, deletes every shard log and
    /// every consumer, then the stream's metadata (the commit point), then its resource
    /// policy and its data keys (no record names them any more). Its subscriptions end.
    pub(crate) async fn finish_delete(&self, entry: &Arc<StreamEntry>) -> Outcome<()> {
        let runtimes: Vec<_> = entry.state.read().runtimes.values().cloned().collect();
        for rt in runtimes {
            rt.drain().await;
            self.log.delete_shard(rt.key).await?;
        }
        let consumers: Vec<_> = entry.consumers.read().values().cloned().collect();
        for c in &consumers {
            self.remove_consumer(entry, c).await?;
        }
        let revision = entry.state.read().revision;
        match self.meta.delete(&entry.key, Some(revision)).await {
            Ok(()) | Err(MetaError::NotFound) => self.tombstone(&entry.key, revision),
            Err(e) => return Err(self.lost_race(&entry.key, e).await),
        }
        self.registry.write().remove(entry);
        self.subscriptions.wake(entry.id, None);
        self.drop_policy(&entry.arn).await?;
        self.drop_data_keys(entry.id).await?;
        Ok(())
    }
}
