//! CreateStream, and the streams declared in the server's configuration.

use tributary_model::types::*;
use tributary_model::*;
use tributary_storage::{ShardKey, StorageError};

use crate::clock::now_ms;
use crate::error::retry_stale;
use crate::error::{Failure, Outcome};
use crate::messages as msg;
use crate::meta::{
    self, Distribution, Mode, Pending, ShardRecord, Status, StreamRecord, FORMAT_VERSION,
};
use crate::resolve::Target;
use crate::routing::even_ranges;
use crate::state::StreamEntry;
use crate::{Engine, RequestContext, StreamDeclaration};

const DEFAULT_RETENTION_HOURS: u32 = 24;
const DEFAULT_MAX_RECORD_KIB: u32 = 1024;

/// A validated CreateStream request.
struct NewStream {
    name: String,
    mode: Mode,
    shard_count: u32,
    tags: Vec<(String, String)>,
    max_record_kib: u32,
    distribution: Distribution,
    warm_mibps: Option<u32>,
    retention_hours: u32,
}

/// Streams CREATING at once per account and region under `limits = aws`: CreateStream's API
/// reference gives LimitExceededException to a caller that would "have more than five
/// streams in the CREATING state at any point in time".
const MAX_CREATING_STREAMS: usize = 5;

impl Engine {
    pub async fn create_stream(
        &self,
        ctx: &RequestContext,
        input: CreateStreamInput,
    ) -> Result<(), CreateStreamError> {
        retry_stale!(self.create_stream_once(ctx, input.clone()).await)
    }

    async fn create_stream_once(
        &self,
        ctx: &RequestContext,
        input: CreateStreamInput,
    ) -> Result<(), CreateStreamError> {
        let new = self.validate_create(ctx, input)?;
        self.create(ctx, new).await?;
        Ok(())
    }

    /// Creates a stream declared in the configuration unless one of that name exists.
    pub async fn ensure_stream(
        &self,
        ctx: &RequestContext,
        decl: StreamDeclaration,
    ) -> Result<(), CreateStreamError> {
        retry_stale!(self.ensure_stream_once(ctx, decl.clone()).await)
    }

    async fn ensure_stream_once(
        &self,
        ctx: &RequestContext,
        decl: StreamDeclaration,
    ) -> Result<(), CreateStreamError> {
        let t = Target {
            account: &ctx.account_id,
            region: &ctx.region,
            name: &decl.name,
        };
        if self.lookup(&t).is_some() {
            return Ok(());
        }
        let on_demand = decl.on_demand || decl.shard_count.is_none();
        let input = CreateStreamInput {
            stream_name: decl.name.clone(),
            shard_count: (!on_demand).then(|| decl.shard_count.unwrap_or(1) as i32),
            stream_mode_details: Some(StreamModeDetails {
                stream_mode: if on_demand {
                    StreamMode::OnDemand
                } else {
                    StreamMode::Provisioned
                },
            }),
            tags: (!decl.tags.is_empty()).then(|| decl.tags.into_iter().collect()),
            max_record_size_in_ki_b: decl.max_record_size_kib.map(|k| k as i32),
            ..Default::default()
        };
        let mut new = self.validate_create(ctx, input)?;
        if let Some(hours) = decl.retention_hours {
            if !(24..=8760).contains(&hours) {
                return Err(CreateStreamError::InvalidArgument(if hours < 24 {
                    msg::retention_too_short(hours as i32)
                } else {
                    msg::retention_too_long(hours as i32)
                }));
            }
            new.retention_hours = hours;
        }
        match self.create(ctx, new).await {
            // Another node (or an earlier start) created it first: that is what we wanted.
            Err(Failure::InUse(_)) | Ok(()) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn validate_create(
        &self,
        ctx: &RequestContext,
        input: CreateStreamInput,
    ) -> Outcome<NewStream> {
        let invalid = |m: String| Err(Failure::InvalidArgument(m));
        let mode = match (
            input.stream_mode_details.map(|d| d.stream_mode),
            input.shard_count,
        ) {
            (Some(StreamMode::Provisioned), None) => {
                return invalid("ShardCount is required for a stream in PROVISIONED mode.".into())
            }
            (Some(StreamMode::OnDemand), Some(_)) => {
                return invalid(
                    "ShardCount cannot be specified for a stream in ON_DEMAND mode.".into(),
                )
            }
            (Some(m), _) => Mode::from(m),
            (None, Some(_)) => Mode::Provisioned,
            (None, None) => Mode::OnDemand,
        };
        let shard_count = match mode {
            Mode::Provisioned => input.shard_count.unwrap_or(1).max(1) as u32,
            Mode::OnDemand => self.config.on_demand_shard_count.max(1),
        };
        let distribution = input
            .record_distribution_strategy
            .map(Distribution::from)
            .unwrap_or(Distribution::UserPartitionKey);
        if mode == Mode::Provisioned && distribution == Distribution::Auto {
            return invalid(settings_msg::AUTO_NEEDS_ON_DEMAND.into());
        }
        if mode == Mode::Provisioned && input.warm_throughput_mi_bps.is_some() {
            return invalid(settings_msg::WARM_NEEDS_ON_DEMAND.into());
        }
        let tags = input.tags.unwrap_or_default();
        crate::tags::validate(
            tags.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]),
            "add tags to",
            &input.stream_name,
            &ctx.account_id,
        )?;
        let tags = crate::tags::merged(Vec::new(), tags);
        if tags.len() > crate::tags::MAX_TAGS {
            return invalid(msg::too_many_tags(&input.stream_name, &ctx.account_id));
        }
        Ok(NewStream {
            name: input.stream_name,
            mode,
            shard_count,
            tags,
            max_record_kib: input
                .max_record_size_in_ki_b
                .map_or(DEFAULT_MAX_RECORD_KIB, |k| k as u32),
            distribution,
            warm_mibps: input.warm_throughput_mi_bps.map(|w| w.max(0) as u32),
            retention_hours: DEFAULT_RETENTION_HOURS,
        })
    }

    async fn create(&self, ctx: &RequestContext, new: NewStream) -> Outcome<()> {
        let _control = self.control.lock().await;
        let (account, region) = (ctx.account_id.as_str(), ctx.region.as_str());
        let t = Target {
            account,
            region,
            name: &new.name,
        };
        if self.lookup(&t).is_some() {
            return Err(Failure::InUse(msg::stream_exists(&new.name, account)));
        }
        let usage = self.usage(account, region);
        if usage.open_shards + new.shard_count as usize > self.config.shard_limit as usize {
            return Err(Failure::LimitExceeded(msg::shard_limit(
                account,
                region,
                usage.open_shards,
                self.config.shard_limit,
                new.shard_count as usize,
            )));
        }
        // Only under `limits = aws`: a quota on AWS's provisioning work, not Tributary's.
        if self.config.limits.is_aws() && usage.creating_streams >= MAX_CREATING_STREAMS {
            return Err(Failure::LimitExceeded(msg::creating_streams_limit(
                account,
                region,
                MAX_CREATING_STREAMS,
            )));
        }
        if new.mode == Mode::OnDemand
            && usage.on_demand_streams >= self.config.on_demand_stream_limit as usize
        {
            return Err(Failure::LimitExceeded(msg::on_demand_limit(
                account,
                region,
                usage.on_demand_streams,
                self.config.on_demand_stream_limit,
            )));
        }

        let id = self.allocate_stream_id().await?;
        let now = now_ms();
        let shards: Vec<ShardRecord> = even_ranges(new.shard_count)
            .into_iter()
            .enumerate()
            .map(|(i, (start, end))| ShardRecord {
                index: i as u32,
                start,
                end,
                parent: None,
                adjacent: None,
                created_ms: now,
                closed_ms: None,
            })
            .collect();
        for s in &shards {
            match self
                .log
                .create_shard(ShardKey {
                    stream: id,
                    shard: s.index,
                })
                .await
            {
                Ok(()) | Err(StorageError::ShardExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let delay = self.config.create_delay;
        let rec = StreamRecord {
            v: FORMAT_VERSION,
            id,
            account: account.to_owned(),
            region: region.to_owned(),
            name: new.name.clone(),
            created_ms: now,
            status: if delay.is_zero() {
                Status::Active
            } else {
                Status::Creating
            },
            mode: new.mode,
            retention_hours: new.retention_hours,
            max_record_kib: new.max_record_kib,
            distribution: new.distribution,
            warm_mibps: new.warm_mibps,
            metrics: Vec::new(),
            tags: new.tags,
            next_shard: new.shard_count,
            shards,
            pending: (!delay.is_zero()).then(|| Pending::Activate {
                due_ms: now + delay.as_millis() as i64,
            }),
            encryption: None,
        };
        let key = meta::stream_key(account, region, &new.name);
        let revision = match self.meta.create(&key, meta::to_bytes(&rec)).await {
            Ok(r) => r,
            Err(e) => {
                for s in &rec.shards {
                    let _ = self
                        .log
                        .delete_shard(ShardKey {
                            stream: id,
                            shard: s.index,
                        })
                        .await;
                }
                // Created by another node first: the run again answers ResourceInUse.
                return Err(self.lost_race(&key, e).await);
            }
        };
        let entry = StreamEntry::new(rec, revision);
        self.registry.write().insert(entry.clone());
        self.schedule_pending(&entry);
        Ok(())
    }

    /// Takes the next internal stream id from the persisted counter. Callers hold
    /// `self.control`; another node moving the counter first makes this `Stale`.
    async fn allocate_stream_id(&self) -> Outcome<u64> {
        let (id, revision) = *self.next_stream_id.lock();
        if id > crate::seqnum::max_stream_id() {
            return Err(Failure::internal("stream ids exhausted", id));
        }
        let rec = meta::CounterRecord {
            v: FORMAT_VERSION,
            next: id + 1,
        };
        // The compare-and-set is what keeps two nodes from taking the same id.
        let revision = match self
            .meta
            .update(meta::NEXT_STREAM_ID_KEY, meta::to_bytes(&rec), revision)
            .await
        {
            Ok(r) => r,
            Err(e) => return Err(self.lost_race(meta::NEXT_STREAM_ID_KEY, e).await),
        };
        *self.next_stream_id.lock() = (id + 1, revision);
        Ok(id)
    }
}

/// Messages shared with `settings`.
pub(crate) mod settings_msg {
    /// Reconstructed from the UpdateStreamRecordDistributionStrategy documentation.
    pub const AUTO_NEEDS_ON_DEMAND: &str =
        "The AUTO record distribution strategy is only supported for streams in ON_DEMAND mode.";
    /// Reconstructed.
    pub const WARM_NEEDS_ON_DEMAND: &str =
        "Warm throughput can only be specified for streams in ON_DEMAND mode.";
}
