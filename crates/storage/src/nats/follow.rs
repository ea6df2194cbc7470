//! Following the appends other nodes make to a shard, so `ShardLog::watch` on this node moves
//! for them too (SubscribeToShard is pushed on whichever node serves it).
//!
//! The first `watch` of a shard starts one task per shard and node: an ordered push consumer
//! with `headers_only`, from just past the shard's end, which JetStream delivers once each
//! record is stored on a quorum; every delivery moves the published end to its sequence. The
//! consumer is ephemeral (JetStream removes it when nobody listens) and async-nats recreates
//! it across leader changes. The task ends when the node forgets the shard, or when the
//! stream is gone: then it forgets the shard itself, which closes every watcher of it.

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_nats::jetstream::consumer::{push::OrderedConfig, DeliverPolicy};
use futures::StreamExt;

use super::log::{NatsLog, ShardState};
use crate::{ShardKey, StorageError};

/// How long a broken follower waits before it tries again.
const RETRY: Duration = Duration::from_millis(500);

impl NatsLog {
    /// Starts the follower of `key` once; `st` is this node's state of it.
    pub(super) fn follow(self: &Arc<Self>, key: ShardKey, st: &Arc<ShardState>) {
        if st.following.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let log = Arc::downgrade(self);
        let weak = Arc::downgrade(st);
        let task = tokio::spawn(async move {
            loop {
                let Some(from) = weak.upgrade().map(|st| *st.published.borrow()) else {
                    return;
                };
                let Some(l) = log.upgrade() else { return };
                match l.follow_once(key, &weak, from).await {
                    Ok(()) => return,
                    Err(StorageError::NoSuchShard(_)) => {
                        l.forget_if(key, &weak);
                        return;
                    }
                    Err(e) => {
                        tracing::debug!(?key, error = %e, "shard follower restarts");
                        drop(l);
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
        });
        *st.follower.lock() = Some(task.abort_handle());
    }

    /// Follows from sequence `from + 1` until the state is dropped (`Ok`) or the consumer
    /// fails.
    async fn follow_once(
        &self,
        key: ShardKey,
        weak: &Weak<ShardState>,
        from: u64,
    ) -> Result<(), StorageError> {
        self.info(key).await?;
        let name = self.stream_name(key);
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            StorageError::Unavailable(format!("{key:?}: following {what}: {e}"))
        };
        let stream = self
            .js
            .get_stream_no_info(&name)
            .await
            .map_err(|e| fail("the stream", &e))?;
        let consumer = stream
            .create_consumer(OrderedConfig {
                deliver_subject: self.client.new_inbox(),
                filter_subject: self.subject(key),
                headers_only: true,
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: from + 1,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| fail("a consumer", &e))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| fail("its messages", &e))?;
        while let Some(m) = messages.next().await {
            let m = m.map_err(|e| fail("a message", &e))?;
            let seq = m.info().map_err(|e| fail("a message", &e))?.stream_sequence;
            let Some(st) = weak.upgrade() else {
                return Ok(());
            };
            st.published.send_if_modified(|end| {
                let moved = seq > *end;
                *end = (*end).max(seq);
                moved
            });
        }
        Err(fail("the consumer", &"it ended"))
    }
}
