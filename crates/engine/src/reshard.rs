//! SplitShard, MergeShards and UpdateShardCount, and the plan they share.
//!
//! A reshard closes parent shards and opens children in one metadata commit:
//! 1. the children's logs are created;
//! 2. the new record (parents closed, children open) is committed; from then on PutRecords
//!    routes to the children;
//! 3. appends already routed to a parent are drained, then the parent is closed in storage
//!    (`ShardLog::close_shard`: appends from other nodes now fail, and retry on the new
//!    routes) and sealed with the end the close reported. Only a sealed shard reports its
//!    end (null NextShardIterator and ChildShards), so a reader can never miss a record that
//!    landed in a parent after it was closed. Other nodes close and seal it too when the
//!    feed brings them the new record (`follow`).
//!
//! UpdateShardCount with UNIFORM_SCALING is done as AWS does it, by splits and merges:
//! first every boundary of the target's even split that falls inside an open shard splits
//! it, then the shards inside each target range are merged pairwise. Intermediate shards
//! are created closed, so every shard keeps at most two parents and readers can follow the
//! lineage from any parent to the final shards.

use std::sync::Arc;

use tributary_model::types::*;
use tributary_model::*;
use tributary_storage::{ShardKey, StorageError};

use crate::clock::now_ms;
use crate::error::retry_stale;
use crate::error::{Failure, Outcome};
use crate::messages::{self as msg, canonical_shard_id};
use crate::meta::{Mode, Pending, Plan, ShardRecord, Status, StreamRecord};
use crate::resolve::{require_active, target};
use crate::routing::{even_ranges, parse_hash_key};
use crate::shards::parse_shard_id;
use crate::state::StreamEntry;
use crate::{Engine, RequestContext};

/// Shards a plan closed (parents and intermediates) and created (children and intermediates).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub closed: Vec<u32>,
    pub created: Vec<u32>,
}

/// UpdateShardCount scalings per stream and rolling day, under `limits = aws`.
const MAX_SCALINGS_PER_DAY: usize = 10;
const DAY_MS: i64 = 24 * 3_600_000;

impl Engine {
    pub async fn split_shard(
        &self,
        ctx: &RequestContext,
        input: SplitShardInput,
    ) -> Result<(), SplitShardError> {
        retry_stale!(self.split_shard_once(ctx, input.clone()).await)
    }

    async fn split_shard_once(
        &self,
        ctx: &RequestContext,
        input: SplitShardInput,
    ) -> Result<(), SplitShardError> {
        let t = target(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        let unknown =
            |id: &str| Failure::NotFound(msg::could_not_find_shard(id, t.name, t.account));
        let index =
            parse_shard_id(&input.shard_to_split).ok_or_else(|| unknown(&input.shard_to_split))?;
        let entry = self
            .find(ctx, &t)
            .ok_or_else(|| Failure::NotFound(msg::stream_not_found(t.name, t.account)))?;
        let _control = self.control.lock().await;
        let rec = Self::snapshot(&entry);
        let shard_id = canonical_shard_id(index);
        let shard = find_shard(&rec, index).ok_or_else(|| unknown(&shard_id))?;
        no_resharding_on_demand(&entry, &rec, "SplitShard")?;
        if !shard.is_open() {
            return Err(Failure::InvalidArgument(msg::shard_closed(
                &shard_id,
                t.name,
                t.account,
                "splitting",
            ))
            .into());
        }
        let key = &input.new_starting_hash_key;
        let at = parse_hash_key(key)
            .filter(|&h| shard.start.checked_add(1).is_some_and(|min| h > min) && h < shard.end)
            .ok_or_else(|| {
                Failure::InvalidArgument(msg::bad_split_key(
                    key,
                    &shard_id,
                    t.name,
                    t.account,
                    shard.start,
                    shard.end,
                ))
            })?;
        require_active(&entry, rec.status)?;
        self.check_added_shards(&entry, 1)?;
        self.begin_reshard(&entry, rec, Plan::Split { shard: index, at })
            .await?;
        Ok(())
    }

    pub async fn merge_shards(
        &self,
        ctx: &RequestContext,
        input: MergeShardsInput,
    ) -> Result<(), MergeShardsError> {
        retry_stale!(self.merge_shards_once(ctx, input.clone()).await)
    }

    async fn merge_shards_once(
        &self,
        ctx: &RequestContext,
        input: MergeShardsInput,
    ) -> Result<(), MergeShardsError> {
        let t = target(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        let unknown =
            |id: &str| Failure::NotFound(msg::could_not_find_shard(id, t.name, t.account));
        let a =
            parse_shard_id(&input.shard_to_merge).ok_or_else(|| unknown(&input.shard_to_merge))?;
        let b = parse_shard_id(&input.adjacent_shard_to_merge)
            .ok_or_else(|| unknown(&input.adjacent_shard_to_merge))?;
        let entry = self
            .find(ctx, &t)
            .ok_or_else(|| Failure::NotFound(msg::stream_not_found(t.name, t.account)))?;
        let _control = self.control.lock().await;
        let rec = Self::snapshot(&entry);
        let (a_id, b_id) = (canonical_shard_id(a), canonical_shard_id(b));
        let sa = find_shard(&rec, a).ok_or_else(|| unknown(&a_id))?;
        let sb = find_shard(&rec, b).ok_or_else(|| unknown(&b_id))?;
        no_resharding_on_demand(&entry, &rec, "MergeShards")?;
        for (s, id) in [(sa, &a_id), (sb, &b_id)] {
            if !s.is_open() {
                return Err(Failure::InvalidArgument(msg::shard_closed(
                    id, t.name, t.account, "merging",
                ))
                .into());
            }
        }
        if sa.end.checked_add(1) != Some(sb.start) {
            return Err(Failure::InvalidArgument(msg::not_adjacent(
                &a_id, &b_id, t.name, t.account,
            ))
            .into());
        }
        require_active(&entry, rec.status)?;
        self.begin_reshard(
            &entry,
            rec,
            Plan::Merge {
                shard: a,
                adjacent: b,
            },
        )
        .await?;
        Ok(())
    }

    pub async fn update_shard_count(
        &self,
        ctx: &RequestContext,
        input: UpdateShardCountInput,
    ) -> Result<UpdateShardCountOutput, UpdateShardCountError> {
        retry_stale!(self.update_shard_count_once(ctx, input.clone()).await)
    }

    async fn update_shard_count_once(
        &self,
        ctx: &RequestContext,
        input: UpdateShardCountInput,
    ) -> Result<UpdateShardCountOutput, UpdateShardCountError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        let _control = self.control.lock().await;
        let rec = Self::snapshot(&entry);
        require_active(&entry, rec.status)?;
        no_resharding_on_demand(&entry, &rec, "UpdateShardCount")?;
        let open = rec.shards.iter().filter(|s| s.is_open()).count();
        let target = input.target_shard_count;
        let limit = self.config.shard_limit;
        let account_open = self.usage(&entry.account, &entry.region).open_shards;
        if target < 1
            || target as i64 > limit as i64
            || (account_open - open + target as usize) > limit as usize
        {
            return Err(Failure::LimitExceeded(msg::scale_over_limit(limit, open, target)).into());
        }
        if target as usize > open * 2 {
            return Err(Failure::LimitExceeded(msg::scale_over_double(open, target)).into());
        }
        if (target as usize) * 2 < open {
            return Err(Failure::LimitExceeded(msg::scale_under_half(open, target)).into());
        }
        let counted = target as usize != open && self.config.limits.is_aws();
        if counted {
            self.check_scalings(&entry)?;
        }
        if target as usize != open {
            self.begin_reshard(
                &entry,
                rec,
                Plan::Scale {
                    target: target as u32,
                },
            )
            .await?;
        }
        // Counted once accepted: a refused or retried (lost race) call does not count.
        if counted {
            entry.scalings.lock().push(now_ms());
        }
        Ok(UpdateShardCountOutput {
            stream_name: Some(entry.name.clone()),
            stream_arn: Some(entry.arn.clone()),
            current_shard_count: Some(open as i32),
            target_shard_count: Some(target),
        })
    }

    /// Under `limits = aws`, UpdateShardCount's quota of scalings per stream and rolling 24
    /// hours ("Scale more than ten times per rolling 24-hour period per stream",
    /// UpdateShardCount API reference). Counted on this node, in memory; serialized by
    /// `Engine::control`, which the caller holds.
    fn check_scalings(&self, entry: &StreamEntry) -> Outcome<()> {
        let now = now_ms();
        let mut times = entry.scalings.lock();
        times.retain(|&t| t > now - DAY_MS);
        if times.len() >= MAX_SCALINGS_PER_DAY {
            return Err(Failure::LimitExceeded(msg::scale_too_often(
                &entry.name,
                &entry.account,
                MAX_SCALINGS_PER_DAY,
            )));
        }
        Ok(())
    }

    /// LimitExceeded when `added` more open shards would pass the account's limit.
    fn check_added_shards(&self, entry: &StreamEntry, added: usize) -> Outcome<()> {
        let current = self.usage(&entry.account, &entry.region).open_shards;
        if current + added > self.config.shard_limit as usize {
            return Err(Failure::LimitExceeded(msg::shard_limit(
                &entry.account,
                &entry.region,
                current,
                self.config.shard_limit,
                added,
            )));
        }
        Ok(())
    }

    /// Applies `plan` now, or marks the stream UPDATING until `update_delay` has passed.
    async fn begin_reshard(
        &self,
        entry: &Arc<StreamEntry>,
        mut rec: StreamRecord,
        plan: Plan,
    ) -> Outcome<()> {
        if self.config.update_delay.is_zero() {
            return self.apply_reshard(entry, &plan).await;
        }
        rec.status = Status::Updating;
        rec.pending = Some(Pending::Reshard {
            due_ms: now_ms() + self.config.update_delay.as_millis() as i64,
            plan,
        });
        self.commit(entry, rec).await?;
        self.schedule_pending(entry);
        Ok(())
    }

    /// Steps 1-3 of the module description. Callers hold `self.control`.
    pub(crate) async fn apply_reshard(&self, entry: &Arc<StreamEntry>, plan: &Plan) -> Outcome<()> {
        let mut rec = Self::snapshot(entry);
        let applied = apply_plan(&mut rec, plan, now_ms())
            .map_err(|e| Failure::internal("reshard plan no longer applies", e))?;
        for &index in &applied.created {
            match self
                .log
                .create_shard(ShardKey {
                    stream: rec.id,
                    shard: index,
                })
                .await
            {
                Ok(()) | Err(StorageError::ShardExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        rec.status = Status::Active;
        rec.pending = None;
        self.commit(entry, rec).await?;
        let closed: Vec<_> = {
            let st = entry.state.read();
            applied
                .closed
                .iter()
                .filter_map(|i| st.runtimes.get(i).cloned())
                .collect()
        };
        for rt in closed {
            if let Err(e) = self.close_runtime(&rt).await {
                // Committed already: the close goes on in the background.
                tracing::warn!(shard = ?rt.key, error = %e, "closing a parent shard failed");
                self.spawn_close(rt);
            }
        }
        Ok(())
    }
}

fn find_shard(rec: &StreamRecord, index: u32) -> Option<&ShardRecord> {
    rec.shards.iter().find(|s| s.index == index)
}

fn no_resharding_on_demand(entry: &StreamEntry, rec: &StreamRecord, op: &str) -> Outcome<()> {
    if rec.mode == Mode::OnDemand {
        return Err(Failure::InvalidArgument(msg::on_demand_no_resharding(
            op,
            &entry.name,
            &entry.account,
        )));
    }
    Ok(())
}

/// Rearranges `rec.shards` as `plan` says, closing at `now`.
pub(crate) fn apply_plan(rec: &mut StreamRecord, plan: &Plan, now: i64) -> Result<Applied, String> {
    let mut applied = Applied::default();
    match *plan {
        Plan::Split { shard, at } => {
            split(rec, shard, at, now, &mut applied)?;
        }
        Plan::Merge { shard, adjacent } => {
            merge(rec, shard, adjacent, now, &mut applied)?;
        }
        Plan::Scale { target } => scale(rec, target, now, &mut applied)?,
    }
    Ok(applied)
}

fn open_mut(rec: &mut StreamRecord, index: u32) -> Result<&mut ShardRecord, String> {
    rec.shards
        .iter_mut()
        .find(|s| s.index == index && s.is_open())
        .ok_or_else(|| format!("shard {index} is not open"))
}

fn add_child(
    rec: &mut StreamRecord,
    start: u128,
    end: u128,
    parents: (u32, Option<u32>),
    now: i64,
) -> u32 {
    let index = rec.next_shard;
    rec.next_shard += 1;
    rec.shards.push(ShardRecord {
        index,
        start,
        end,
        parent: Some(parents.0),
        adjacent: parents.1,
        created_ms: now,
        closed_ms: None,
    });
    index
}

/// Children `[start, at-1]` and `[at, end]`.
fn split(
    rec: &mut StreamRecord,
    index: u32,
    at: u128,
    now: i64,
    applied: &mut Applied,
) -> Result<(u32, u32), String> {
    let parent = open_mut(rec, index)?;
    if at <= parent.start || at > parent.end {
        return Err(format!("hash key {at} does not split shard {index}"));
    }
    parent.closed_ms = Some(now);
    let (start, end) = (parent.start, parent.end);
    let low = add_child(rec, start, at - 1, (index, None), now);
    let high = add_child(rec, at, end, (index, None), now);
    applied.closed.push(index);
    applied.created.extend([low, high]);
    Ok((low, high))
}

fn merge(
    rec: &mut StreamRecord,
    a: u32,
    b: u32,
    now: i64,
    applied: &mut Applied,
) -> Result<u32, String> {
    let start = open_mut(rec, a)?.start;
    let b_shard = open_mut(rec, b)?;
    let (b_start, end) = (b_shard.start, b_shard.end);
    if open_mut(rec, a)?.end.checked_add(1) != Some(b_start) {
        return Err(format!("shards {a} and {b} are not adjacent"));
    }
    open_mut(rec, a)?.closed_ms = Some(now);
    open_mut(rec, b)?.closed_ms = Some(now);
    let child = add_child(rec, start, end, (a, Some(b)), now);
    applied.closed.extend([a, b]);
    applied.created.push(child);
    Ok(child)
}

fn scale(
    rec: &mut StreamRecord,
    target: u32,
    now: i64,
    applied: &mut Applied,
) -> Result<(), String> {
    let ranges = even_ranges(target);
    for &(boundary, _) in ranges.iter().skip(1) {
        let inside = rec
            .shards
            .iter()
            .find(|s| s.is_open() && s.start < boundary && boundary <= s.end)
            .map(|s| s.index);
        if let Some(index) = inside {
            split(rec, index, boundary, now, applied)?;
        }
    }
    for &(start, end) in &ranges {
        let mut run: Vec<(u128, u32)> = rec
            .shards
            .iter()
            .filter(|s| s.is_open() && s.start >= start && s.end <= end)
            .map(|s| (s.start, s.index))
            .collect();
        run.sort_unstable();
        let mut run: Vec<u32> = run.into_iter().map(|(_, i)| i).collect();
        while run.len() > 1 {
            let child = merge(rec, run[0], run[1], now, applied)?;
            run.splice(0..2, [child]);
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "reshard_tests.rs"]
mod tests;
