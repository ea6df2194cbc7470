//! DeleteStream, DescribeStream, DescribeStreamSummary, ListStreams.

use tributary_model::types::*;
use tributary_model::*;

use crate::clock::now_ms;
use crate::error::retry_stale;
use crate::error::{Failure, Outcome};
use crate::messages as msg;
use crate::meta::{Pending, ShardRecord, Status};
use crate::token::{Reader, Writer, KIND_LIST_STREAMS};
use crate::{wire, Engine, RequestContext};

/// Default and maximum page sizes AWS applies.
const DESCRIBE_STREAM_PAGE: usize = 100;
const LIST_STREAMS_PAGE: usize = 100;

impl Engine {
    pub async fn delete_stream(
        &self,
        ctx: &RequestContext,
        input: DeleteStreamInput,
    ) -> Result<(), DeleteStreamError> {
        retry_stale!(self.delete_stream_once(ctx, input.clone()).await)
    }

    async fn delete_stream_once(
        &self,
        ctx: &RequestContext,
        input: DeleteStreamInput,
    ) -> Result<(), DeleteStreamError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        let _control = self.control.lock().await;
        let mut rec = Self::snapshot(&entry);
        if rec.status == Status::Deleting {
            return Err(
                Failure::NotFound(msg::stream_not_found(&entry.name, &entry.account)).into(),
            );
        }
        // With EnforceConsumerDeletion the consumers go with the stream (`finish_delete`).
        if !input.enforce_consumer_deletion.unwrap_or(false) && self.consumer_count(&entry) > 0 {
            return Err(
                Failure::InUse(msg::stream_has_consumers(&entry.name, &entry.account)).into(),
            );
        }
        let due_ms = now_ms() + self.config.delete_delay.as_millis() as i64;
        rec.status = Status::Deleting;
        rec.pending = Some(Pending::Delete { due_ms });
        self.commit(&entry, rec).await?;
        // Its subscriptions end now: a DELETING stream serves no reads.
        self.subscriptions.wake(entry.id, None);
        if self.config.delete_delay.is_zero() {
            if let Err(e) = self.finish_delete(&entry).await {
                // DELETING is persisted; the timer retries until the storage recovers.
                self.schedule_pending(&entry);
                return Err(e.into());
            }
        } else {
            self.schedule_pending(&entry);
        }
        Ok(())
    }

    pub async fn describe_stream(
        &self,
        ctx: &RequestContext,
        input: DescribeStreamInput,
    ) -> Result<DescribeStreamOutput, DescribeStreamError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        let limit = input.limit.map_or(DESCRIBE_STREAM_PAGE, |l| {
            (l.max(1) as usize).min(DESCRIBE_STREAM_PAGE)
        });
        let st = entry.state.read();
        let rec = &st.rec;
        // While CREATING or DELETING, AWS lists no shards.
        let visible: &[ShardRecord] = match rec.status {
            Status::Creating | Status::Deleting => &[],
            _ => &rec.shards,
        };
        let after = input.exclusive_start_shard_id.as_deref();
        let mut rest = visible
            .iter()
            .filter(|s| after.is_none_or(|a| crate::shards::shard_is_after(s.index, a)));
        let shards: Vec<Shard> = rest
            .by_ref()
            .take(limit)
            .map(|s| wire::shard(rec.id, s))
            .collect();
        let has_more_shards = rest.next().is_some();
        Ok(DescribeStreamOutput {
            stream_description: StreamDescription {
                stream_name: entry.name.clone(),
                stream_arn: entry.arn.clone(),
                stream_status: rec.status.into(),
                stream_mode_details: Some(rec.mode.into()),
                shards,
                has_more_shards,
                retention_period_hours: rec.retention_hours as i32,
                stream_creation_timestamp: Timestamp(rec.created_ms),
                enhanced_monitoring: wire::enhanced_monitoring(&rec.metrics),
                encryption_type: Some(wire::encryption_type(rec)),
                key_id: rec.encryption.as_ref().map(|e| e.key_id.clone()),
            },
        })
    }

    pub async fn describe_stream_summary(
        &self,
        ctx: &RequestContext,
        input: DescribeStreamSummaryInput,
    ) -> Result<DescribeStreamSummaryOutput, DescribeStreamSummaryError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        let st = entry.state.read();
        let rec = &st.rec;
        Ok(DescribeStreamSummaryOutput {
            stream_description_summary: StreamDescriptionSummary {
                stream_name: entry.name.clone(),
                stream_arn: entry.arn.clone(),
                stream_status: rec.status.into(),
                stream_mode_details: Some(rec.mode.into()),
                retention_period_hours: rec.retention_hours as i32,
                stream_creation_timestamp: Timestamp(rec.created_ms),
                enhanced_monitoring: wire::enhanced_monitoring(&rec.metrics),
                encryption_type: Some(wire::encryption_type(rec)),
                key_id: rec.encryption.as_ref().map(|e| e.key_id.clone()),
                open_shard_count: st.open_shards() as i32,
                consumer_count: Some(self.consumer_count(&entry) as i32),
                max_record_size_in_ki_b: Some(rec.max_record_kib as i32),
                record_distribution_strategy: Some(rec.distribution.into()),
                warm_throughput: crate::settings::warm_throughput(rec),
                stream_id: None,
                channel_count: None,
                queue_count: None,
            },
        })
    }

    pub async fn list_streams(
        &self,
        ctx: &RequestContext,
        input: ListStreamsInput,
    ) -> Result<ListStreamsOutput, ListStreamsError> {
        let limit = input.limit.map_or(LIST_STREAMS_PAGE, |l| {
            (l.max(1) as usize).min(LIST_STREAMS_PAGE)
        });
        let from_token = match input.next_token.as_deref() {
            Some(t) => Some(self.open_list_streams_token(ctx, t)?),
            None => None,
        };
        let after = from_token.or(input.exclusive_start_stream_name);
        let (page, has_more_streams) = {
            let registry = self.registry.read();
            let mut rest = registry
                .scope(&ctx.account_id, &ctx.region)
                .filter(|e| after.as_deref().is_none_or(|a| e.name.as_str() > a));
            let page: Vec<_> = rest.by_ref().take(limit).cloned().collect();
            (page, rest.next().is_some())
        };

        let summaries = page
            .iter()
            .map(|e| {
                let st = e.state.read();
                StreamSummary {
                    stream_name: e.name.clone(),
                    stream_arn: e.arn.clone(),
                    stream_status: st.rec.status.into(),
                    stream_mode_details: Some(st.rec.mode.into()),
                    stream_creation_timestamp: Some(Timestamp(st.rec.created_ms)),
                }
            })
            .collect();
        let next_token = match page.last() {
            Some(last) if has_more_streams => Some(self.list_streams_token(ctx, &last.name)),
            _ => None,
        };
        Ok(ListStreamsOutput {
            stream_names: page.iter().map(|e| e.name.clone()).collect(),
            stream_summaries: Some(summaries),
            has_more_streams,
            next_token,
        })
    }

    fn list_streams_token(&self, ctx: &RequestContext, last: &str) -> String {
        let body = Writer::new(KIND_LIST_STREAMS, 1)
            .i64(now_ms())
            .str(&ctx.account_id)
            .str(&ctx.region)
            .str(last)
            .finish();
        self.sealer.seal(&body)
    }

    /// The last stream name of the previous page.
    fn open_list_streams_token(&self, ctx: &RequestContext, token: &str) -> Outcome<String> {
        let invalid = || Failure::InvalidArgument(format!("Invalid NextToken: {token}"));
        let body = self
            .sealer
            .open(KIND_LIST_STREAMS, token)
            .ok_or_else(invalid)?;
        let mut r = Reader::new(&body, 1).ok_or_else(invalid)?;
        let (issued, account, region, last) = (r.i64(), r.str(), r.str(), r.str());
        let (Some(issued), Some(account), Some(region), Some(last), true) =
            (issued, account, region, last, r.done())
        else {
            return Err(invalid());
        };
        if account != ctx.account_id || region != ctx.region {
            return Err(invalid());
        }
        self.check_token_age(issued)?;
        Ok(last)
    }

    /// ExpiredNextToken once a NextToken is older than the configured lifetime.
    pub(crate) fn check_token_age(&self, issued_ms: i64) -> Outcome<()> {
        if now_ms() - issued_ms > self.config.next_token_ttl.as_millis() as i64 {
            return Err(Failure::ExpiredNextToken(
                "The requested token has expired.".to_owned(),
            ));
        }
        Ok(())
    }
}
