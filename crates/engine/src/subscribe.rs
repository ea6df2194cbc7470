//! SubscribeToShard, engine side: a pull-based [`Subscription`] the HTTP layer drives one
//! event at a time, so a slow peer slows the reads and nothing is buffered beyond one event.
//!
//! Push, not poll: while a subscription has nothing to send it sleeps on its shard's
//! published end (`ShardLog::watch`, which the log moves once appended records are
//! acknowledged: durable, under the default `sync` durability; whoever appended them and
//! whether or not their request is still waiting), on
//! the shard's seal, on a per-subscription signal (takeover, deregistration, stream
//! deletion), and on a timer only for the heartbeat and the end of its lifetime.
//!
//! ```text
//!  next_event ─> checks ─> read ─┬─ records, or the end of a sealed shard ─> event
//!      ^                         ├─ nothing, heartbeat due ──────────────> empty event
//!      │                         └─ nothing: wait for append | signal | heartbeat | end
//!      └──────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! ContinuationSequenceNumber is a *position*: the sequence number at time 0 of the next
//! offset to read (see `seqnum`). It is above every record sent and below every record not
//! yet sent, so resubscribing at it with AFTER_SEQUENCE_NUMBER (or AT_SEQUENCE_NUMBER)
//! continues with no gap and no duplicate, also after empty events.
//!
//! One subscription per (consumer, shard): a second SubscribeToShard within
//! `subscription_takeover` of the first answers ResourceInUseException; a later one takes
//! over, and the first ends with that exception. A subscription's claim is released when it
//! ends or is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;
use tributary_model::types::*;
use tributary_model::*;
use tributary_storage::{ReadFrom, StorageError};

use crate::clock::now_ms;
use crate::encryption::stream_keys;
use crate::error::{Failure, Outcome};
use crate::get::{ReadView, Reader, DEFAULT_LIMIT};
use crate::iterator::Position;
use crate::messages::{self as msg, canonical_shard_id};
use crate::meta::{ConsumerPhase, Status};
use crate::resolve::parse_consumer_arn;
use crate::seqnum::SeqNum;
use crate::shards::parse_shard_id;
use crate::state::{ShardRuntime, StreamEntry};
use crate::throttle::SubscriptionPace;
use crate::{Engine, KeyAccess, RequestContext};

impl Engine {
    /// Starts a subscription to one shard for one ACTIVE consumer. Errors here are the
    /// operation's response; errors after it come from [`Subscription::next_event`].
    pub async fn subscribe_to_shard(
        &self,
        ctx: &RequestContext,
        input: SubscribeToShardInput,
    ) -> Result<Subscription, SubscribeToShardError> {
        Ok(self.subscribe(ctx, input).await?)
    }

    async fn subscribe(
        &self,
        ctx: &RequestContext,
        input: SubscribeToShardInput,
    ) -> Outcome<Subscription> {
        let arn = &input.consumer_arn;
        let t = parse_consumer_arn(arn)
            .ok_or_else(|| Failure::InvalidArgument(msg::invalid_consumer_arn(arn)))?;
        let (entry, consumer) = self.consumer_by_arn(ctx, arn)?;
        let index = parse_shard_id(&input.shard_id).ok_or_else(|| {
            Failure::NotFound(msg::could_not_find_shard(
                &input.shard_id,
                &entry.name,
                &entry.account,
            ))
        })?;
        let shard_id = canonical_shard_id(index);
        if let Err(throttled) = self.throttle_subscribe(&entry, arn, index) {
            entry.subscribe_rate_exceeded();
            return Err(throttled);
        }
        let (status, runtime) = {
            let st = entry.state.read();
            let rt = st
                .shard(index)
                .and_then(|_| st.runtimes.get(&index).cloned());
            (st.rec.status, rt)
        };
        if status == Status::Deleting {
            return Err(Failure::NotFound(msg::stream_not_found(
                &entry.name,
                &entry.account,
            )));
        }
        if consumer.rec.status != ConsumerPhase::Active {
            return Err(Failure::InUse(msg::consumer_not_active_subscribe(
                &consumer.rec.name,
                t.secs,
                &entry.name,
                &entry.account,
            )));
        }
        let runtime = runtime.ok_or_else(|| {
            Failure::NotFound(msg::shard_does_not_exist(
                &shard_id,
                &entry.name,
                &entry.account,
            ))
        })?;
        let p = &input.starting_position;
        let position = self
            .start_position(
                &entry,
                index,
                &shard_id,
                "SubscribeToShard",
                p.r#type,
                p.sequence_number.as_deref(),
                p.timestamp,
            )
            .await?;
        if input.dry_run.unwrap_or(false) {
            return Err(Failure::dry_run());
        }
        let next = match position {
            Position::Offset(o) => o,
            Position::Time(t) => self.first_offset_at(&runtime, t, &entry, &shard_id).await?,
        };
        let published = match self.log.watch(runtime.key).await {
            Ok(rx) => rx,
            Err(StorageError::NoSuchShard(_)) => {
                return Err(Failure::NotFound(msg::shard_does_not_exist(
                    &shard_id,
                    &entry.name,
                    &entry.account,
                )))
            }
            Err(e) => return Err(e.into()),
        };

        let key = SubKey {
            stream: entry.id,
            consumer: consumer.rec.name.clone(),
            shard: index,
        };
        let slot =
            self.subscriptions
                .claim(key.clone(), self.config.subscription_takeover, || {
                    // Refused: CloudWatch counts it as SubscribeToShard.RateExceeded.
                    entry.subscribe_rate_exceeded();
                    msg::another_subscription(
                        &entry.account,
                        &entry.name,
                        &shard_id,
                        &consumer.rec.name,
                    )
                })?;
        entry.metrics.subscribe_success.inc();
        let now = Instant::now();
        Ok(Subscription {
            engine: self.me.clone(),
            table: Arc::clone(&self.subscriptions),
            published,
            runtime,
            consumer_created_ms: consumer.rec.created_ms,
            entry,
            key,
            slot,
            shard_id,
            next,
            deadline: now + self.config.subscription_lifetime,
            heartbeat: self.config.subscription_heartbeat,
            last_sent: None,
            done: false,
            key_access: ctx.key_access.clone(),
            pace: self.subscription_pace(),
        })
    }

    /// The offset of the first record that arrived at or after `t`, or the log's end.
    async fn first_offset_at(
        &self,
        runtime: &ShardRuntime,
        t: i64,
        entry: &StreamEntry,
        shard_id: &str,
    ) -> Outcome<u64> {
        let key = runtime.key;
        let found = async {
            // Bounds first: a record appended after them arrived at or after `t` (t is not
            // in the future), so the read below would have found it.
            let bounds = self.log.bounds(key).await?;
            let first = self.log.read(key, ReadFrom::Time(t), 1, 1).await?;
            Ok::<_, StorageError>(first.first().map_or(bounds.next, |r| r.offset))
        }
        .await;
        match found {
            Ok(o) => Ok(o),
            Err(StorageError::NoSuchShard(_)) => Err(Failure::NotFound(msg::shard_does_not_exist(
                shard_id,
                &entry.name,
                &entry.account,
            ))),
            Err(e) => Err(e.into()),
        }
    }
}

/// An open SubscribeToShard: call [`Subscription::next_event`] for each event to send.
/// Dropping it ends the subscription and releases its (consumer, shard) claim.
pub struct Subscription {
    engine: Weak<Engine>,
    table: Arc<SubscriptionTable>,
    entry: Arc<StreamEntry>,
    consumer_created_ms: i64,
    key: SubKey,
    slot: Arc<Slot>,
    shard_id: String,
    runtime: Arc<ShardRuntime>,
    /// The shard log's published end: changes once new records are durable.
    published: tokio::sync::watch::Receiver<u64>,
    /// The next offset to read.
    next: u64,
    deadline: Instant,
    heartbeat: Duration,
    /// When the last event was returned; None before the first.
    last_sent: Option<Instant>,
    done: bool,
    /// The subscriber's use of KMS keys, asked again for every batch of sealed records.
    key_access: Option<KeyAccess>,
    /// Paces events to the consumer's per-shard rate (`throttle`).
    pace: SubscriptionPace,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("stream", &self.entry.arn)
            .field("consumer", &self.key.consumer)
            .field("shard", &self.shard_id)
            .field("next", &self.next)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// SubscribeToShard declares no KMS exception, so a key that becomes unusable (disabled,
/// pending deletion, gone) ends the subscription as any other read failure does: with
/// InternalFailure, logged with its cause. The consumer resubscribes; once the key is
/// enabled again, reads go on from its last ContinuationSequenceNumber.
fn key_failure_ends(f: Failure) -> Failure {
    match f {
        Failure::Kms(k) => Failure::internal("subscription: the stream's KMS key is unusable", k),
        other => other,
    }
}

impl Subscription {
    /// The next event to send: waits until records are appended (woken by the append
    /// itself, no polling timer), or until the heartbeat passes with nothing new (then an
    /// empty event with the current ContinuationSequenceNumber and MillisBehindLatest); the
    /// first call answers at once. `Ok(None)` once the lifetime is over, or after the final
    /// event of a closed shard (the one with ChildShards). Errors after the start (stream
    /// deleted, consumer deregistered, subscription taken over, storage failure) end the
    /// subscription; the HTTP layer sends them as an exception event.
    ///
    /// The final event of a closed shard has `child_shards: Some(..)` and an EMPTY
    /// `continuation_sequence_number`: AWS omits ContinuationSequenceNumber there (clients
    /// such as the KCL take its absence as the end of the shard), so the encoder must leave
    /// the member out when it is empty.
    pub async fn next_event(
        &mut self,
    ) -> Result<Option<SubscribeToShardEvent>, SubscribeToShardError> {
        if self.done {
            return Ok(None);
        }
        let out = self.step().await;
        let last = match &out {
            Ok(Some(event)) => event.child_shards.is_some(),
            Ok(None) | Err(_) => true,
        };
        if last {
            self.finish();
        }
        Ok(out?)
    }

    async fn step(&mut self) -> Outcome<Option<SubscribeToShardEvent>> {
        loop {
            if Instant::now() >= self.deadline {
                return Ok(None);
            }
            // Paced: wait until what earlier events carried is paid off (no engine held).
            self.pace.ready().await;
            if Instant::now() >= self.deadline {
                return Ok(None);
            }
            let Some(engine) = self.engine.upgrade() else {
                return Ok(None);
            };
            let view = self.check(&engine)?;
            // Wake-ups first, then read: a publication or seal after this point ends the wait
            // below, so none between the read and the wait is lost.
            let runtime = Arc::clone(&self.runtime);
            let sealed = runtime.sealed_wake();
            self.published.borrow_and_update();
            let batch = engine
                .read_batch(
                    &view,
                    &Reader {
                        keys: stream_keys(&self.entry),
                        access: self.key_access.as_ref(),
                    },
                    &runtime,
                    Position::Offset(self.next),
                    DEFAULT_LIMIT,
                    now_ms(),
                )
                .await
                .map_err(key_failure_ends)?
                .ok_or_else(|| self.shard_missing())?;
            drop(engine);
            let before = self.next;
            if let Position::Offset(o) = batch.next {
                self.next = o;
            }
            let heartbeat_due = self.last_sent.is_none_or(|t| t.elapsed() >= self.heartbeat);
            if !batch.records.is_empty() || batch.children.is_some() || heartbeat_due {
                self.last_sent = Some(Instant::now());
                let bytes = crate::metrics::records_size(&batch.records);
                let n = batch.records.len() as u64;
                self.pace.sent(bytes as usize);
                self.entry.event_sent(n, bytes, batch.millis_behind_latest);
                let end = batch.children.is_some();
                return Ok(Some(SubscribeToShardEvent {
                    records: batch.records,
                    continuation_sequence_number: if end {
                        String::new()
                    } else {
                        SeqNum::position(self.key.stream, self.key.shard, self.next).encode()
                    },
                    millis_behind_latest: batch.millis_behind_latest,
                    child_shards: batch.children,
                }));
            }
            if self.next != before && !batch.caught_up {
                // Only expired records so far: read on.
                continue;
            }
            let heartbeat_at = self.last_sent.map_or(self.deadline, |t| t + self.heartbeat);
            tokio::select! {
                // Closed when the shard's log is deleted: the next read reports it.
                _ = self.published.changed() => {}
                _ = sealed => {}
                _ = self.slot.signal.notified() => {}
                _ = tokio::time::sleep_until(heartbeat_at.min(self.deadline)) => {}
            }
        }
    }

    /// Whether the subscription may go on; what to read the shard with if so.
    fn check(&self, engine: &Engine) -> Outcome<ReadView> {
        let entry = &self.entry;
        let stream_gone = || Failure::NotFound(msg::stream_not_found(&entry.name, &entry.account));
        let current = engine.registry.read().get_by_id(entry.id).cloned();
        if !current.is_some_and(|c| Arc::ptr_eq(&c, entry)) {
            return Err(stream_gone());
        }
        if self.slot.taken_over.load(Ordering::Acquire) {
            return Err(Failure::InUse(msg::another_subscription(
                &entry.account,
                &entry.name,
                &self.shard_id,
                &self.key.consumer,
            )));
        }
        let secs = self.consumer_created_ms.div_euclid(1000);
        match entry
            .consumer(&self.key.consumer)
            .filter(|c| c.rec.created_ms == self.consumer_created_ms)
        {
            None => {
                return Err(Failure::NotFound(msg::consumer_not_found(
                    &self.key.consumer,
                    Some(secs),
                    &entry.name,
                    &entry.account,
                )))
            }
            Some(c) if c.rec.status != ConsumerPhase::Active => {
                return Err(Failure::InUse(msg::consumer_not_active_subscribe(
                    &self.key.consumer,
                    secs,
                    &entry.name,
                    &entry.account,
                )))
            }
            Some(_) => {}
        }
        let st = entry.state.read();
        if matches!(st.rec.status, Status::Creating | Status::Deleting) {
            return Err(stream_gone());
        }
        let shard = st
            .shard(self.key.shard)
            .cloned()
            .ok_or_else(|| self.shard_missing())?;
        Ok(ReadView::new(&st.rec, shard))
    }

    fn shard_missing(&self) -> Failure {
        Failure::NotFound(msg::shard_does_not_exist(
            &self.shard_id,
            &self.entry.name,
            &self.entry.account,
        ))
    }

    /// Ends the subscription: releases its claim.
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.table.release(&self.key, self.slot.id);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Which subscription a claim is for: one per consumer and shard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SubKey {
    stream: u64,
    consumer: String,
    shard: u32,
}

/// One claim of a (consumer, shard).
#[derive(Debug)]
struct Slot {
    id: u64,
    started: Instant,
    /// Set when a later SubscribeToShard took the (consumer, shard) over.
    taken_over: AtomicBool,
    /// Wakes the subscription when something besides its shard changed (takeover,
    /// deregistration, stream deletion); it then re-checks. `notify_one` keeps a permit,
    /// so a signal sent while it reads is not lost.
    signal: tokio::sync::Notify,
}

/// The open subscriptions of this engine, by (consumer, shard).
#[derive(Debug, Default)]
pub(crate) struct SubscriptionTable {
    slots: Mutex<HashMap<SubKey, Arc<Slot>>>,
    next_id: AtomicU64,
}

impl SubscriptionTable {
    /// Claims `key`: refused while another claim younger than `takeover` holds it; an
    /// older claim is taken over (its subscription ends with ResourceInUseException).
    fn claim(
        &self,
        key: SubKey,
        takeover: Duration,
        in_use: impl FnOnce() -> String,
    ) -> Outcome<Arc<Slot>> {
        let mut slots = self.slots.lock();
        if let Some(old) = slots.get(&key) {
            if old.started.elapsed() < takeover {
                return Err(Failure::InUse(in_use()));
            }
            old.taken_over.store(true, Ordering::Release);
            old.signal.notify_one();
        }
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            started: Instant::now(),
            taken_over: AtomicBool::new(false),
            signal: tokio::sync::Notify::new(),
        });
        slots.insert(key, Arc::clone(&slot));
        Ok(slot)
    }

    /// Releases `key` if claim `id` still holds it.
    fn release(&self, key: &SubKey, id: u64) {
        let mut slots = self.slots.lock();
        if slots.get(key).is_some_and(|s| s.id == id) {
            slots.remove(key);
        }
    }

    /// Makes the subscriptions of a stream (or of one of its consumers) re-check at once.
    pub(crate) fn wake(&self, stream: u64, consumer: Option<&str>) {
        for (key, slot) in self.slots.lock().iter() {
            if key.stream == stream && consumer.is_none_or(|c| c == key.consumer) {
                slot.signal.notify_one();
            }
        }
    }

    /// Open subscriptions (for tests and metrics).
    pub(crate) fn len(&self) -> usize {
        self.slots.lock().len()
    }
}
