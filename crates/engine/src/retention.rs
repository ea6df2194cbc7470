//! Retention: Increase/DecreaseStreamRetentionPeriod, and the background task that gives
//! space back.
//!
//! Every `retention_interval` the task calls `ShardLog::trim_before(now - retention)` on
//! each shard (reads already skip older records, so the trim is only about space), and
//! prunes closed shards whose every record has expired: they disappear from
//! DescribeStream and ListShards, as on AWS, and their logs are deleted.

use std::sync::Arc;

use tributary_model::types::*;
use tributary_model::*;
use tributary_storage::{ShardKey, StorageError};

use crate::clock::now_ms;
use crate::error::retry_stale;
use crate::error::{Failure, Outcome};
use crate::messages as msg;
use crate::meta::Status;
use crate::resolve::require_active;
use crate::state::StreamEntry;
use crate::{Engine, RequestContext};

pub(crate) const MIN_RETENTION_HOURS: i32 = 24;
pub(crate) const MAX_RETENTION_HOURS: i32 = 8760;
const HOUR_MS: i64 = 3_600_000;

impl Engine {
    pub async fn increase_stream_retention_period(
        &self,
        ctx: &RequestContext,
        input: IncreaseStreamRetentionPeriodInput,
    ) -> Result<(), IncreaseStreamRetentionPeriodError> {
        retry_stale!(
            self.increase_stream_retention_period_once(ctx, input.clone())
                .await
        )
    }

    async fn increase_stream_retention_period_once(
        &self,
        ctx: &RequestContext,
        input: IncreaseStreamRetentionPeriodInput,
    ) -> Result<(), IncreaseStreamRetentionPeriodError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        self.set_retention(&entry, input.retention_period_hours, true)
            .await?;
        Ok(())
    }

    pub async fn decrease_stream_retention_period(
        &self,
        ctx: &RequestContext,
        input: DecreaseStreamRetentionPeriodInput,
    ) -> Result<(), DecreaseStreamRetentionPeriodError> {
        retry_stale!(
            self.decrease_stream_retention_period_once(ctx, input.clone())
                .await
        )
    }

    async fn decrease_stream_retention_period_once(
        &self,
        ctx: &RequestContext,
        input: DecreaseStreamRetentionPeriodInput,
    ) -> Result<(), DecreaseStreamRetentionPeriodError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        self.set_retention(&entry, input.retention_period_hours, false)
            .await?;
        Ok(())
    }

    async fn set_retention(&self, entry: &StreamEntry, hours: i32, increase: bool) -> Outcome<()> {
        if hours < MIN_RETENTION_HOURS {
            return Err(Failure::InvalidArgument(msg::retention_too_short(hours)));
        }
        if hours > MAX_RETENTION_HOURS {
            return Err(Failure::InvalidArgument(msg::retention_too_long(hours)));
        }
        let _control = self.control.lock().await;
        let mut rec = Self::snapshot(entry);
        let current = rec.retention_hours;
        if increase && (hours as u32) < current {
            return Err(Failure::InvalidArgument(msg::retention_not_increase(
                hours,
                &entry.name,
                current,
            )));
        }
        if !increase && (hours as u32) > current {
            return Err(Failure::InvalidArgument(msg::retention_not_decrease(
                hours,
                &entry.name,
                current,
            )));
        }
        require_active(entry, rec.status)?;
        if hours as u32 == current {
            return Ok(());
        }
        rec.retention_hours = hours as u32;
        self.commit(entry, rec).await
    }

    pub(crate) fn spawn_retention_task(&self) {
        let me = self.me.clone();
        // A zero period would make tokio's interval panic.
        let period = self
            .config
            .retention_interval
            .max(std::time::Duration::from_millis(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(engine) = me.upgrade() else { return };
                engine.retention_pass().await;
            }
        });
    }

    /// One trim-and-prune round over every stream.
    pub(crate) async fn retention_pass(&self) {
        let now = now_ms();
        let entries: Vec<Arc<StreamEntry>> = self.registry.read().all().cloned().collect();
        let mut trims: Vec<(ShardKey, i64)> = Vec::new();
        let mut expired = Vec::new();
        for entry in &entries {
            let st = entry.state.read();
            if st.rec.status == Status::Deleting {
                continue;
            }
            let retention_ms = i64::from(st.rec.retention_hours) * HOUR_MS;
            for rt in st.runtimes.values() {
                trims.push((rt.key, now - retention_ms));
            }
            let gone: Vec<u32> = st
                .rec
                .shards
                .iter()
                .filter(|s| s.closed_ms.is_some_and(|c| c + retention_ms < now))
                .filter(|s| st.runtimes.get(&s.index).is_some_and(|rt| rt.is_sealed()))
                .map(|s| s.index)
                .collect();
            if !gone.is_empty() {
                expired.push((Arc::clone(entry), gone));
            }
        }

        for (key, before) in trims {
            match self.log.trim_before(key, before).await {
                Ok(()) | Err(StorageError::NoSuchShard(_)) => {}
                Err(e) => tracing::warn!(?key, error = %e, "trimming expired records failed"),
            }
        }

        for (entry, gone) in expired {
            match self.prune(&entry, &gone).await {
                // Another node pruned or changed the stream first; the next pass looks again.
                Ok(()) | Err(Failure::Stale) => {}
                Err(e) => {
                    tracing::warn!(stream = %entry.arn, failure = ?e, "pruning expired shards failed")
                }
            }
        }
    }

    /// Drops expired closed shards from the stream's record, then deletes their logs.
    async fn prune(&self, entry: &Arc<StreamEntry>, gone: &[u32]) -> Outcome<()> {
        let _control = self.control.lock().await;
        let still_registered = self
            .registry
            .read()
            .get_by_id(entry.id)
            .is_some_and(|e| Arc::ptr_eq(e, entry));
        if !still_registered {
            return Ok(());
        }
        let mut rec = Self::snapshot(entry);
        if rec.status == Status::Deleting {
            return Ok(());
        }
        rec.shards.retain(|s| !gone.contains(&s.index));
        self.commit(entry, rec).await?;
        for &shard in gone {
            self.log
                .delete_shard(ShardKey {
                    stream: entry.id,
                    shard,
                })
                .await?;
        }
        Ok(())
    }
}
