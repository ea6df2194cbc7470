//! Stream settings: Enable/DisableEnhancedMonitoring, UpdateStreamMode,
//! UpdateMaxRecordSize, UpdateStreamWarmThroughput, UpdateStreamRecordDistributionStrategy.
//!
//! Only the mode change goes through UPDATING (it is a capacity change on AWS); the others
//! take effect when the call returns.

use std::sync::Arc;

use tributary_model::types::*;
use tributary_model::*;

use crate::clock::now_ms;
use crate::create::settings_msg;
use crate::error::retry_stale;
use crate::error::{Failure, Outcome};
use crate::messages as msg;
use crate::meta::{Distribution, Metric, Mode, Pending, Status, StreamRecord};
use crate::resolve::require_active;
use crate::state::StreamEntry;
use crate::wire::expand_metric;
use crate::{Engine, RequestContext};

/// The warm throughput DescribeStreamSummary reports (on-demand streams only).
pub(crate) fn warm_throughput(rec: &StreamRecord) -> Option<WarmThroughputObject> {
    match (rec.mode, rec.warm_mibps) {
        (Mode::OnDemand, Some(w)) => Some(WarmThroughputObject {
            target_mi_bps: Some(w as i32),
            current_mi_bps: Some(w as i32),
        }),
        _ => None,
    }
}

impl Engine {
    pub async fn enable_enhanced_monitoring(
        &self,
        ctx: &RequestContext,
        input: EnableEnhancedMonitoringInput,
    ) -> Result<EnhancedMonitoringOutput, EnableEnhancedMonitoringError> {
        retry_stale!(
            self.enable_enhanced_monitoring_once(ctx, input.clone())
                .await
        )
    }

    async fn enable_enhanced_monitoring_once(
        &self,
        ctx: &RequestContext,
        input: EnableEnhancedMonitoringInput,
    ) -> Result<EnhancedMonitoringOutput, EnableEnhancedMonitoringError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        Ok(self
            .change_metrics(&entry, &input.shard_level_metrics, true)
            .await?)
    }

    pub async fn disable_enhanced_monitoring(
        &self,
        ctx: &RequestContext,
        input: DisableEnhancedMonitoringInput,
    ) -> Result<EnhancedMonitoringOutput, DisableEnhancedMonitoringError> {
        retry_stale!(
            self.disable_enhanced_monitoring_once(ctx, input.clone())
                .await
        )
    }

    async fn disable_enhanced_monitoring_once(
        &self,
        ctx: &RequestContext,
        input: DisableEnhancedMonitoringInput,
    ) -> Result<EnhancedMonitoringOutput, DisableEnhancedMonitoringError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        Ok(self
            .change_metrics(&entry, &input.shard_level_metrics, false)
            .await?)
    }

    async fn change_metrics(
        &self,
        entry: &StreamEntry,
        requested: &[MetricsName],
        enable: bool,
    ) -> Outcome<EnhancedMonitoringOutput> {
        let _control = self.control.lock().await;
        let mut rec = Self::snapshot(entry);
        require_active(entry, rec.status)?;
        let current = rec.metrics.clone();
        let named: Vec<Metric> = requested
            .iter()
            .flat_map(|&m| expand_metric(m))
            .copied()
            .collect();
        let mut desired: Vec<Metric> = if enable {
            current.iter().chain(named.iter()).copied().collect()
        } else {
            current
                .iter()
                .copied()
                .filter(|m| !named.contains(m))
                .collect()
        };
        desired.sort_unstable();
        desired.dedup();
        if desired != current {
            rec.metrics = desired.clone();
            self.commit(entry, rec).await?;
        }
        let wire = |ms: &[Metric]| Some(ms.iter().map(|&m| m.into()).collect());
        Ok(EnhancedMonitoringOutput {
            stream_name: Some(entry.name.clone()),
            stream_arn: Some(entry.arn.clone()),
            current_shard_level_metrics: wire(&current),
            desired_shard_level_metrics: wire(&desired),
        })
    }

    pub async fn update_stream_mode(
        &self,
        ctx: &RequestContext,
        input: UpdateStreamModeInput,
    ) -> Result<(), UpdateStreamModeError> {
        retry_stale!(self.update_stream_mode_once(ctx, input.clone()).await)
    }

    async fn update_stream_mode_once(
        &self,
        ctx: &RequestContext,
        input: UpdateStreamModeInput,
    ) -> Result<(), UpdateStreamModeError> {
        let entry = self.resolve(ctx, None, Some(&input.stream_arn))?;
        let mode = Mode::from(input.stream_mode_details.stream_mode);
        let warm = input.warm_throughput_mi_bps.map(|w| w.max(0) as u32);
        if mode == Mode::Provisioned && warm.is_some() {
            return Err(
                Failure::InvalidArgument(settings_msg::WARM_NEEDS_ON_DEMAND.to_owned()).into(),
            );
        }
        let _control = self.control.lock().await;
        let mut rec = Self::snapshot(&entry);
        require_active(&entry, rec.status)?;
        if rec.mode == mode {
            return Err(Failure::InvalidArgument(format!(
                "Stream {} under account {} is already in {} mode.",
                entry.name,
                entry.account,
                mode.as_str()
            ))
            .into());
        }
        if mode == Mode::OnDemand {
            let usage = self.usage(&entry.account, &entry.region);
            if usage.on_demand_streams >= self.config.on_demand_stream_limit as usize {
                return Err(Failure::LimitExceeded(msg::on_demand_limit(
                    &entry.account,
                    &entry.region,
                    usage.on_demand_streams,
                    self.config.on_demand_stream_limit,
                ))
                .into());
            }
        }
        let warm_mibps = if mode == Mode::OnDemand {
            warm.or(rec.warm_mibps)
        } else {
            None
        };
        if mode == Mode::Provisioned {
            // AUTO distribution is an on-demand feature.
            rec.distribution = Distribution::UserPartitionKey;
        }
        if self.config.update_delay.is_zero() {
            rec.mode = mode;
            rec.warm_mibps = warm_mibps;
            self.commit(&entry, rec).await?;
            return Ok(());
        }
        rec.status = Status::Updating;
        rec.pending = Some(Pending::Mode {
            due_ms: now_ms() + self.config.update_delay.as_millis() as i64,
            mode,
            warm_mibps,
        });
        self.commit(&entry, rec).await?;
        self.schedule_pending(&entry);
        Ok(())
    }

    pub async fn update_max_record_size(
        &self,
        ctx: &RequestContext,
        input: UpdateMaxRecordSizeInput,
    ) -> Result<(), UpdateMaxRecordSizeError> {
        retry_stale!(self.update_max_record_size_once(ctx, input.clone()).await)
    }

    async fn update_max_record_size_once(
        &self,
        ctx: &RequestContext,
        input: UpdateMaxRecordSizeInput,
    ) -> Result<(), UpdateMaxRecordSizeError> {
        let arn = input
            .stream_arn
            .as_deref()
            .ok_or_else(|| Failure::InvalidArgument("StreamARN must be provided.".to_owned()))?;
        let entry = self.resolve(ctx, None, Some(arn))?;
        self.change(&entry, |rec| {
            rec.max_record_kib = input.max_record_size_in_ki_b.clamp(1024, 10_240) as u32;
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub async fn update_stream_warm_throughput(
        &self,
        ctx: &RequestContext,
        input: UpdateStreamWarmThroughputInput,
    ) -> Result<UpdateStreamWarmThroughputOutput, UpdateStreamWarmThroughputError> {
        retry_stale!(
            self.update_stream_warm_throughput_once(ctx, input.clone())
                .await
        )
    }

    async fn update_stream_warm_throughput_once(
        &self,
        ctx: &RequestContext,
        input: UpdateStreamWarmThroughputInput,
    ) -> Result<UpdateStreamWarmThroughputOutput, UpdateStreamWarmThroughputError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        let warm = input.warm_throughput_mi_bps.max(0) as u32;
        self.change(&entry, |rec| {
            if rec.mode != Mode::OnDemand {
                return Err(Failure::InvalidArgument(
                    settings_msg::WARM_NEEDS_ON_DEMAND.to_owned(),
                ));
            }
            rec.warm_mibps = Some(warm);
            Ok(())
        })
        .await?;
        let warm_throughput = warm_throughput(&entry.state.read().rec);
        Ok(UpdateStreamWarmThroughputOutput {
            stream_name: Some(entry.name.clone()),
            stream_arn: Some(entry.arn.clone()),
            warm_throughput,
        })
    }

    pub async fn update_stream_record_distribution_strategy(
        &self,
        ctx: &RequestContext,
        input: UpdateStreamRecordDistributionStrategyInput,
    ) -> Result<(), UpdateStreamRecordDistributionStrategyError> {
        retry_stale!(
            self.update_stream_record_distribution_strategy_once(ctx, input.clone())
                .await
        )
    }

    async fn update_stream_record_distribution_strategy_once(
        &self,
        ctx: &RequestContext,
        input: UpdateStreamRecordDistributionStrategyInput,
    ) -> Result<(), UpdateStreamRecordDistributionStrategyError> {
        let entry = self.resolve(ctx, None, Some(&input.stream_arn))?;
        let strategy = Distribution::from(input.record_distribution_strategy);
        self.change(&entry, |rec| {
            if strategy == Distribution::Auto && rec.mode != Mode::OnDemand {
                return Err(Failure::InvalidArgument(
                    settings_msg::AUTO_NEEDS_ON_DEMAND.to_owned(),
                ));
            }
            rec.distribution = strategy;
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Applies `f` to an ACTIVE stream's record and commits it.
    async fn change(
        &self,
        entry: &Arc<StreamEntry>,
        f: impl FnOnce(&mut StreamRecord) -> Outcome<()>,
    ) -> Outcome<()> {
        let _control = self.control.lock().await;
        let mut rec = Self::snapshot(entry);
        require_active(entry, rec.status)?;
        f(&mut rec)?;
        if rec == entry.state.read().rec {
            return Ok(());
        }
        self.commit(entry, rec).await
    }
}
