//! DescribeLimits, DescribeAccountSettings and UpdateAccountSettings, and the per-account
//! usage the limit checks read.

use tributary_model::types::*;
use tributary_model::*;

use crate::clock::now_ms;
use crate::error::retry_stale;
use crate::error::Outcome;
use crate::meta::{self, AccountRecord, Commitment, Mode, Status, FORMAT_VERSION};
use crate::{Engine, RequestContext};

/// How long AWS holds a minimum-throughput billing commitment once enabled.
const COMMITMENT_MIN_MS: i64 = 24 * 3_600_000;

/// What an account uses in one region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub open_shards: usize,
    pub on_demand_streams: usize,
    pub creating_streams: usize,
}

impl Engine {
    /// Open shards and on-demand streams of an account in a region (DELETING streams no
    /// longer count).
    pub(crate) fn usage(&self, account: &str, region: &str) -> Usage {
        let registry = self.registry.read();
        let mut usage = Usage::default();
        for entry in registry.scope(account, region) {
            let st = entry.state.read();
            if st.rec.status == Status::Deleting {
                continue;
            }
            usage.open_shards += st.open_shards();
            usage.on_demand_streams += usize::from(st.rec.mode == Mode::OnDemand);
            usage.creating_streams += usize::from(st.rec.status == Status::Creating);
        }
        usage
    }

    pub async fn describe_limits(
        &self,
        ctx: &RequestContext,
        _input: DescribeLimitsInput,
    ) -> Result<DescribeLimitsOutput, DescribeLimitsError> {
        let usage = self.usage(&ctx.account_id, &ctx.region);
        Ok(DescribeLimitsOutput {
            shard_limit: self.config.shard_limit as i32,
            open_shard_count: usage.open_shards as i32,
            on_demand_stream_count: usage.on_demand_streams as i32,
            on_demand_stream_count_limit: self.config.on_demand_stream_limit as i32,
            channel_count: None,
            channel_count_limit: None,
        })
    }

    pub async fn describe_account_settings(
        &self,
        ctx: &RequestContext,
        _input: DescribeAccountSettingsInput,
    ) -> Result<DescribeAccountSettingsOutput, DescribeAccountSettingsError> {
        let scope = (ctx.account_id.clone(), ctx.region.clone());
        let commitment = self
            .accounts
            .read()
            .get(&scope)
            .and_then(|(r, _)| r.commitment.clone());
        Ok(DescribeAccountSettingsOutput {
            minimum_throughput_billing_commitment: Some(wire_commitment(
                commitment.as_ref(),
                now_ms(),
            )),
        })
    }

    pub async fn update_account_settings(
        &self,
        ctx: &RequestContext,
        input: UpdateAccountSettingsInput,
    ) -> Result<UpdateAccountSettingsOutput, UpdateAccountSettingsError> {
        retry_stale!(self.update_account_settings_once(ctx, input.clone()).await)
    }

    async fn update_account_settings_once(
        &self,
        ctx: &RequestContext,
        input: UpdateAccountSettingsInput,
    ) -> Result<UpdateAccountSettingsOutput, UpdateAccountSettingsError> {
        let enable = input.minimum_throughput_billing_commitment.status
            == MinimumThroughputBillingCommitmentInputStatus::Enabled;
        let _control = self.control.lock().await;
        let now = now_ms();
        let scope = (ctx.account_id.clone(), ctx.region.clone());
        let (mut rec, revision) = self
            .accounts
            .read()
            .get(&scope)
            .map(|(r, rev)| (r.clone(), Some(*rev)))
            .unwrap_or((
                AccountRecord {
                    v: FORMAT_VERSION,
                    commitment: None,
                },
                None,
            ));
        rec.commitment = match (rec.commitment.take(), enable) {
            (Some(c), true) if c.enabled => Some(c),
            (_, true) => Some(Commitment {
                enabled: true,
                started_ms: now,
                earliest_end_ms: now + COMMITMENT_MIN_MS,
                ended_ms: None,
            }),
            (Some(c), false) if c.enabled => Some(Commitment {
                enabled: false,
                ended_ms: Some(now.max(c.earliest_end_ms)),
                ..c
            }),
            (other, false) => other,
        };
        let revision = self
            .save_account(&ctx.account_id, &ctx.region, &rec, revision)
            .await?;
        let out = wire_commitment(rec.commitment.as_ref(), now);
        self.accounts.write().insert(scope, (rec, revision));
        Ok(UpdateAccountSettingsOutput {
            minimum_throughput_billing_commitment: Some(out),
        })
    }

    async fn save_account(
        &self,
        account: &str,
        region: &str,
        rec: &AccountRecord,
        revision: Option<u64>,
    ) -> Outcome<u64> {
        let key = meta::account_key(account, region);
        let value = meta::to_bytes(rec);
        let written = match revision {
            Some(rev) => self.meta.update(&key, value, rev).await,
            None => self.meta.create(&key, value).await,
        };
        match written {
            Ok(r) => Ok(r),
            Err(e) => Err(self.lost_race(&key, e).await),
        }
    }
}

fn wire_commitment(c: Option<&Commitment>, now: i64) -> MinimumThroughputBillingCommitmentOutput {
    use MinimumThroughputBillingCommitmentOutputStatus as S;
    match c {
        None => MinimumThroughputBillingCommitmentOutput {
            status: S::Disabled,
            ..Default::default()
        },
        Some(c) => MinimumThroughputBillingCommitmentOutput {
            status: match (c.enabled, c.ended_ms) {
                (true, _) => S::Enabled,
                (false, Some(end)) if end > now => S::EnabledUntilEarliestAllowedEnd,
                (false, _) => S::Disabled,
            },
            started_at: Some(Timestamp(c.started_ms)),
            earliest_allowed_end_at: Some(Timestamp(c.earliest_end_ms)),
            ended_at: c.ended_ms.map(Timestamp),
        },
    }
}
