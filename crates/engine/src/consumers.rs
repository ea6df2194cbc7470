//! Enhanced fan-out consumers: RegisterStreamConsumer, DeregisterStreamConsumer,
//! DescribeStreamConsumer, ListStreamConsumers, and their state machine.
//!
//! ```text
//!  Register ──> CREATING ──(consumer_delay)──> ACTIVE ──Deregister──> DELETING ──(consumer_delay)──> gone
//!                   └───────────────────── Deregister ──────────────────┘
//! ```
//!
//! With a zero `consumer_delay` a consumer is ACTIVE when RegisterStreamConsumer returns
//! and gone when DeregisterStreamConsumer returns. Otherwise the due time is persisted in
//! the ConsumerRecord and a task completes the transition (rescheduled at open, as stream
//! transitions are). A consumer's ARN ends with its registration time in seconds; a name
//! registered again on the same stream always gets a later second, so an old ARN never
//! names a new consumer. Deleting a stream (EnforceConsumerDeletion) deletes its consumers.

use std::sync::Arc;
use std::time::Duration;

use tributary_model::types::*;
use tributary_model::*;
use tributary_storage::MetaError;

use crate::clock::now_ms;
use crate::error::retry_stale;
use crate::error::{Failure, Outcome};
use crate::messages as msg;
use crate::meta::{self, ConsumerPhase, ConsumerRecord, Status, FORMAT_VERSION};
use crate::resolve::{parse_consumer_arn, parse_stream_arn};
use crate::state::{ConsumerEntry, StreamEntry};
use crate::tags::{merged, validate, MAX_TAGS};
use crate::token::{Reader, Writer, KIND_LIST_CONSUMERS};
use crate::{Engine, RequestContext};

/// AWS's limits: consumers per stream, and consumers CREATING at once.
pub(crate) const MAX_CONSUMERS: usize = 20;
const MAX_CREATING: usize = 5;
/// ListStreamConsumers' default and largest page.
const LIST_CONSUMERS_PAGE: usize = 100;
/// Pause before retrying a transition that failed on a storage error.
const RETRY: Duration = Duration::from_secs(1);

impl Engine {
    pub async fn register_stream_consumer(
        &self,
        ctx: &RequestContext,
        input: RegisterStreamConsumerInput,
    ) -> Result<RegisterStreamConsumerOutput, RegisterStreamConsumerError> {
        retry_stale!(self.register_stream_consumer_once(ctx, input.clone()).await)
    }

    async fn register_stream_consumer_once(
        &self,
        ctx: &RequestContext,
        input: RegisterStreamConsumerInput,
    ) -> Result<RegisterStreamConsumerOutput, RegisterStreamConsumerError> {
        let entry = self.resolve(ctx, None, Some(&input.stream_arn))?;
        let name = input.consumer_name;
        let tags = input.tags.unwrap_or_default();
        validate(
            tags.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]),
            "add tags to",
            &entry.name,
            &entry.account,
        )?;
        let tags = merged(Vec::new(), tags);
        if tags.len() > MAX_TAGS {
            return Err(
                Failure::InvalidArgument(msg::too_many_tags(&entry.name, &entry.account)).into(),
            );
        }

        let _control = self.control.lock().await;
        self.still_registered(&entry)?;
        let status = entry.state.read().rec.status;
        if matches!(status, Status::Creating | Status::Deleting) {
            return Err(
                Failure::InUse(msg::not_active(&entry.name, &entry.account, status)).into(),
            );
        }
        {
            let consumers = entry.consumers.read();
            if consumers.contains_key(&name) {
                return Err(Failure::InUse(msg::consumer_exists(
                    &name,
                    &entry.name,
                    &entry.account,
                ))
                .into());
            }
            if consumers.len() >= MAX_CONSUMERS {
                return Err(Failure::LimitExceeded(msg::consumer_limit(
                    &entry.name,
                    &entry.account,
                    MAX_CONSUMERS,
                ))
                .into());
            }
            let creating = consumers
                .values()
                .filter(|c| c.rec.status == ConsumerPhase::Creating)
                .count();
            if creating >= MAX_CREATING {
                return Err(Failure::LimitExceeded(msg::consumers_creating_limit(
                    &entry.name,
                    &entry.account,
                    MAX_CREATING,
                ))
                .into());
            }
        }

        let now = now_ms();
        // A later second than any earlier consumer of this name on this stream, so the
        // new ARN differs from every ARN the name had before.
        let created_ms = match entry.retired.lock().get(&name) {
            Some(&secs) if secs >= now.div_euclid(1000) => (secs + 1) * 1000,
            _ => now,
        };
        let delay = self.config.consumer_delay;
        let rec = ConsumerRecord {
            v: FORMAT_VERSION,
            stream_id: entry.id,
            account: entry.account.clone(),
            region: entry.region.clone(),
            stream: entry.name.clone(),
            name: name.clone(),
            created_ms,
            status: if delay.is_zero() {
                ConsumerPhase::Active
            } else {
                ConsumerPhase::Creating
            },
            due_ms: (!delay.is_zero()).then(|| now + delay.as_millis() as i64),
            tags,
        };
        let key = meta::consumer_key(&entry.account, &entry.region, &entry.name, &name);
        let revision = match self.meta.create(&key, meta::to_bytes(&rec)).await {
            Ok(r) => r,
            Err(e) => return Err(self.lost_race(&key, e).await.into()),
        };
        entry.put_consumer(rec, revision);
        self.schedule_consumer(&entry, &name);
        let c = entry
            .consumer(&name)
            .ok_or_else(|| Failure::internal("register consumer", "not cached"))?;
        Ok(RegisterStreamConsumerOutput {
            consumer: wire_consumer(&c),
        })
    }

    pub async fn deregister_stream_consumer(
        &self,
        ctx: &RequestContext,
        input: DeregisterStreamConsumerInput,
    ) -> Result<(), DeregisterStreamConsumerError> {
        retry_stale!(
            self.deregister_stream_consumer_once(ctx, input.clone())
                .await
        )
    }

    async fn deregister_stream_consumer_once(
        &self,
        ctx: &RequestContext,
        input: DeregisterStreamConsumerInput,
    ) -> Result<(), DeregisterStreamConsumerError> {
        let (entry, found) = self.consumer_target(
            ctx,
            input.stream_arn.as_deref(),
            input.consumer_name.as_deref(),
            input.consumer_arn.as_deref(),
        )?;
        let _control = self.control.lock().await;
        let c = self.same_consumer(&entry, &found)?;
        if c.rec.status == ConsumerPhase::Deleting {
            return Ok(());
        }
        let delay = self.config.consumer_delay;
        if delay.is_zero() {
            self.remove_consumer(&entry, &c).await?;
        } else {
            let mut rec = c.rec.clone();
            rec.status = ConsumerPhase::Deleting;
            rec.due_ms = Some(now_ms() + delay.as_millis() as i64);
            self.commit_consumer(&entry, rec).await?;
            self.schedule_consumer(&entry, &c.rec.name);
            // Its subscriptions end now: a DELETING consumer reads nothing.
            self.subscriptions.wake(entry.id, Some(&c.rec.name));
        }
        Ok(())
    }

    pub async fn describe_stream_consumer(
        &self,
        ctx: &RequestContext,
        input: DescribeStreamConsumerInput,
    ) -> Result<DescribeStreamConsumerOutput, DescribeStreamConsumerError> {
        let (entry, c) = self.consumer_target(
            ctx,
            input.stream_arn.as_deref(),
            input.consumer_name.as_deref(),
            input.consumer_arn.as_deref(),
        )?;
        let w = wire_consumer(&c);
        Ok(DescribeStreamConsumerOutput {
            consumer_description: ConsumerDescription {
                consumer_name: w.consumer_name,
                consumer_arn: w.consumer_arn,
                consumer_status: w.consumer_status,
                consumer_creation_timestamp: w.consumer_creation_timestamp,
                stream_arn: entry.arn.clone(),
            },
        })
    }

    pub async fn list_stream_consumers(
        &self,
        ctx: &RequestContext,
        input: ListStreamConsumersInput,
    ) -> Result<ListStreamConsumersOutput, ListStreamConsumersError> {
        let entry = self.resolve(ctx, None, Some(&input.stream_arn))?;
        let after = match input.next_token.as_deref() {
            Some(token) => {
                if input.stream_creation_timestamp.is_some() {
                    return Err(Failure::InvalidArgument(
                        "NextToken and StreamCreationTimestamp cannot be provided together."
                            .to_owned(),
                    )
                    .into());
                }
                Some(self.open_list_consumers_token(&entry, token)?)
            }
            None => {
                if let Some(ts) = input.stream_creation_timestamp {
                    if ts.millis() != entry.state.read().rec.created_ms {
                        return Err(Failure::NotFound(msg::stream_not_found(
                            &entry.name,
                            &entry.account,
                        ))
                        .into());
                    }
                }
                None
            }
        };
        let page = input.max_results.map_or(LIST_CONSUMERS_PAGE, |m| {
            (m.max(1) as usize).min(LIST_CONSUMERS_PAGE)
        });
        let (listed, more) = {
            let consumers = entry.consumers.read();
            let mut rest = consumers
                .values()
                .filter(|c| after.as_deref().is_none_or(|a| c.rec.name.as_str() > a));
            let listed: Vec<Consumer> = rest.by_ref().take(page).map(wire_consumer).collect();
            (listed, rest.next().is_some())
        };
        let next_token = match listed.last() {
            Some(last) if more => Some(self.list_consumers_token(&entry, &last.consumer_name)),
            _ => None,
        };
        Ok(ListStreamConsumersOutput {
            consumers: Some(listed),
            next_token,
        })
    }

    /// Registered consumers of a stream, in any state (DescribeStreamSummary's
    /// ConsumerCount, and what DeleteStream checks).
    pub(crate) fn consumer_count(&self, entry: &StreamEntry) -> usize {
        entry.consumers.read().len()
    }

    /// The consumer a request names: by ConsumerARN (with StreamARN and ConsumerName, if
    /// also given, agreeing with it), or by StreamARN and ConsumerName.
    pub(crate) fn consumer_target(
        &self,
        ctx: &RequestContext,
        stream_arn: Option<&str>,
        consumer_name: Option<&str>,
        consumer_arn: Option<&str>,
    ) -> Outcome<(Arc<StreamEntry>, ConsumerEntry)> {
        match (consumer_arn, stream_arn, consumer_name) {
            (Some(arn), stream_arn, name) => {
                let t = parse_consumer_arn(arn)
                    .ok_or_else(|| Failure::InvalidArgument(msg::invalid_consumer_arn(arn)))?;
                let stream_differs =
                    stream_arn.is_some_and(|s| parse_stream_arn(s) != Some(t.stream));
                if stream_differs || name.is_some_and(|n| n != t.name) {
                    return Err(Failure::InvalidArgument(msg::consumer_args_conflict(arn)));
                }
                self.consumer_by_arn(ctx, arn)
            }
            (None, Some(stream_arn), Some(name)) => {
                let entry = self.resolve(ctx, None, Some(stream_arn))?;
                let c = entry.consumer(name).ok_or_else(|| {
                    Failure::NotFound(msg::consumer_not_found(
                        name,
                        None,
                        &entry.name,
                        &entry.account,
                    ))
                })?;
                Ok((entry, c))
            }
            _ => Err(Failure::InvalidArgument(
                msg::NO_CONSUMER_IDENTIFIER.to_owned(),
            )),
        }
    }

    /// The consumer a ConsumerARN names (its creation second must match), with its stream.
    pub(crate) fn consumer_by_arn(
        &self,
        ctx: &RequestContext,
        arn: &str,
    ) -> Outcome<(Arc<StreamEntry>, ConsumerEntry)> {
        let t = parse_consumer_arn(arn)
            .ok_or_else(|| Failure::InvalidArgument(msg::invalid_consumer_arn(arn)))?;
        let entry = self.find(ctx, &t.stream).ok_or_else(|| {
            Failure::NotFound(msg::stream_not_found(t.stream.name, t.stream.account))
        })?;
        let c = entry
            .consumer(t.name)
            .filter(|c| c.rec.created_ms.div_euclid(1000) == t.secs)
            .ok_or_else(|| {
                Failure::NotFound(msg::consumer_not_found(
                    t.name,
                    Some(t.secs),
                    &entry.name,
                    &entry.account,
                ))
            })?;
        Ok((entry, c))
    }

    /// `found` as the cache holds it now (callers hold `self.control`), or NotFound if it
    /// was deregistered (or registered again) meanwhile.
    pub(crate) fn same_consumer(
        &self,
        entry: &Arc<StreamEntry>,
        found: &ConsumerEntry,
    ) -> Outcome<ConsumerEntry> {
        let gone = || {
            Failure::NotFound(msg::consumer_not_found(
                &found.rec.name,
                Some(found.rec.created_ms.div_euclid(1000)),
                &entry.name,
                &entry.account,
            ))
        };
        self.still_registered(entry).map_err(|_| gone())?;
        entry
            .consumer(&found.rec.name)
            .filter(|c| c.rec.created_ms == found.rec.created_ms)
            .ok_or_else(gone)
    }

    /// NotFound once the stream was deleted (it may have been while we waited for
    /// `self.control`).
    fn still_registered(&self, entry: &Arc<StreamEntry>) -> Outcome<()> {
        let current = self.registry.read().get_by_id(entry.id).cloned();
        match current {
            Some(c) if Arc::ptr_eq(&c, entry) => Ok(()),
            _ => Err(Failure::NotFound(msg::stream_not_found(
                &entry.name,
                &entry.account,
            ))),
        }
    }

    /// Persists a changed consumer record (compare-and-set on the cached revision) and
    /// caches it. Callers hold `self.control`.
    pub(crate) async fn commit_consumer(
        &self,
        entry: &StreamEntry,
        rec: ConsumerRecord,
    ) -> Outcome<()> {
        let expected = entry
            .consumers
            .read()
            .get(&rec.name)
            .map(|c| c.revision)
            .ok_or_else(|| Failure::internal("commit consumer", "not cached"))?;
        let key = meta::consumer_key(&entry.account, &entry.region, &entry.name, &rec.name);
        let revision = match self.meta.update(&key, meta::to_bytes(&rec), expected).await {
            Ok(r) => r,
            Err(e) => return Err(self.lost_race(&key, e).await),
        };
        entry.put_consumer(rec, revision);
        Ok(())
    }

    /// Deletes a consumer's record (the commit point), then its resource policy, and ends
    /// its subscriptions. Callers hold `self.control`.
    pub(crate) async fn remove_consumer(
        &self,
        entry: &StreamEntry,
        c: &ConsumerEntry,
    ) -> Outcome<()> {
        let key = meta::consumer_key(&entry.account, &entry.region, &entry.name, &c.rec.name);
        match self.meta.delete(&key, Some(c.revision)).await {
            Ok(()) | Err(MetaError::NotFound) => self.tombstone(&key, c.revision),
            Err(e) => return Err(self.lost_race(&key, e).await),
        }
        entry.consumers.write().remove(&c.rec.name);
        entry
            .retired
            .lock()
            .insert(c.rec.name.clone(), c.rec.created_ms.div_euclid(1000));
        self.subscriptions.wake(entry.id, Some(&c.rec.name));
        self.drop_policy(&c.arn).await
    }

    /// Schedules every consumer transition found at open.
    pub(crate) fn resume_consumers(&self) {
        let entries: Vec<_> = self.registry.read().all().cloned().collect();
        for entry in entries {
            let names: Vec<String> = entry.consumers.read().keys().cloned().collect();
            for name in names {
                self.schedule_consumer(&entry, &name);
            }
        }
    }

    /// Spawns the task completing the consumer's pending transition at its due time.
    pub(crate) fn schedule_consumer(&self, entry: &Arc<StreamEntry>, name: &str) {
        let Some(pending) = entry.consumer(name) else {
            return;
        };
        let Some(due_ms) = pending.rec.due_ms else {
            return;
        };
        let me = self.me.clone();
        let entry = Arc::clone(entry);
        tokio::spawn(async move {
            let wait = (due_ms - now_ms()).max(0) as u64;
            tokio::time::sleep(Duration::from_millis(wait)).await;
            loop {
                let Some(engine) = me.upgrade() else { return };
                let _control = engine.control.lock().await;
                // Still the transition this task was scheduled for?
                let Ok(c) = engine.same_consumer(&entry, &pending) else {
                    return;
                };
                if c.rec.status != pending.rec.status || c.rec.due_ms != pending.rec.due_ms {
                    return;
                }
                let done = match c.rec.status {
                    ConsumerPhase::Creating => {
                        let mut rec = c.rec.clone();
                        rec.status = ConsumerPhase::Active;
                        rec.due_ms = None;
                        engine.commit_consumer(&entry, rec).await
                    }
                    ConsumerPhase::Deleting => engine.remove_consumer(&entry, &c).await,
                    ConsumerPhase::Active => Ok(()),
                };
                match done {
                    Ok(()) => return,
                    Err(e) => tracing::warn!(consumer = %c.arn, failure = ?e,
                        "completing a consumer transition failed; retrying"),
                }
                drop(_control);
                drop(engine);
                tokio::time::sleep(RETRY).await;
            }
        });
    }

    fn list_consumers_token(&self, entry: &StreamEntry, last: &str) -> String {
        let body = Writer::new(KIND_LIST_CONSUMERS, 1)
            .i64(now_ms())
            .u64(entry.id)
            .str(last)
            .finish();
        self.sealer.seal(&body)
    }

    /// The last consumer name of the previous page; the token must come from a listing of
    /// this very stream incarnation.
    fn open_list_consumers_token(&self, entry: &StreamEntry, token: &str) -> Outcome<String> {
        let invalid = || Failure::InvalidArgument("Invalid NextToken.".to_owned());
        let body = self
            .sealer
            .open(KIND_LIST_CONSUMERS, token)
            .ok_or_else(invalid)?;
        let mut r = Reader::new(&body, 1).ok_or_else(invalid)?;
        let (issued, stream_id, last) = (r.i64(), r.u64(), r.str());
        let (Some(issued), Some(stream_id), Some(last), true) = (issued, stream_id, last, r.done())
        else {
            return Err(invalid());
        };
        if stream_id != entry.id {
            return Err(invalid());
        }
        self.check_token_age(issued)?;
        Ok(last)
    }
}

fn wire_consumer(c: &ConsumerEntry) -> Consumer {
    Consumer {
        consumer_name: c.rec.name.clone(),
        consumer_arn: c.arn.clone(),
        consumer_status: match c.rec.status {
            ConsumerPhase::Creating => ConsumerStatus::Creating,
            ConsumerPhase::Active => ConsumerStatus::Active,
            ConsumerPhase::Deleting => ConsumerStatus::Deleting,
        },
        consumer_creation_timestamp: Timestamp(c.rec.created_ms),
    }
}
