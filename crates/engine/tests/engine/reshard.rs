//! SplitShard, MergeShards, UpdateShardCount, and reading through a reshard.

use std::collections::BTreeSet;
use std::sync::Arc;

use tributary_engine::EngineConfig;
use tributary_model::types::*;
use tributary_model::*;

use crate::*;

const SHARD0_END: &str = "113427455640312821154458202477256070484";

fn split(name: &str, shard: &str, key: &str) -> SplitShardInput {
    SplitShardInput {
        stream_name: Some(name.into()),
        shard_to_split: shard.into(),
        new_starting_hash_key: key.into(),
        ..Default::default()
    }
}

fn merge(name: &str, a: &str, b: &str) -> MergeShardsInput {
    MergeShardsInput {
        stream_name: Some(name.into()),
        shard_to_merge: a.into(),
        adjacent_shard_to_merge: b.into(),
        ..Default::default()
    }
}

fn scale(name: &str, target: i32) -> UpdateShardCountInput {
    UpdateShardCountInput {
        stream_name: Some(name.into()),
        target_shard_count: target,
        scaling_type: ScalingType::UniformScaling,
        ..Default::default()
    }
}

#[tokio::test]
async fn split_errors_carry_aws_messages() {
    let h = Harness::new().await;
    h.create("s", 3).await;
    let nf = |m: String| Err(SplitShardError::ResourceNotFound(m));
    let inv = |m: String| Err(SplitShardError::InvalidArgument(m));
    let cases = [
        (split("nope", "2147483648", "0"), nf(format!("Could not find shard 2147483648 in stream nope under account {ACCOUNT}."))),
        (split("nope", "shard-0", "0"), nf(format!("Stream nope under account {ACCOUNT} not found."))),
        (split("s", "shardId-5", "0"), nf(format!("Could not find shard shardId-000000000005 in stream s under account {ACCOUNT}."))),
        (
            split("s", "shard-0", "1"),
            inv(format!(
                "NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream s under account \
                 {ACCOUNT} is not both greater than one plus the shard's StartingHashKey 0 and less than the shard's \
                 EndingHashKey {SHARD0_END}."
            )),
        ),
        (
            split("s", "shard-0", SHARD0_END),
            inv(format!(
                "NewStartingHashKey {SHARD0_END} used in SplitShard() on shard shardId-000000000000 in stream s under \
                 account {ACCOUNT} is not both greater than one plus the shard's StartingHashKey 0 and less than the \
                 shard's EndingHashKey {SHARD0_END}."
            )),
        ),
        (
            split("s", "shard-2", "999999999999999999999999999999999999999"),
            inv(format!(
                "NewStartingHashKey 999999999999999999999999999999999999999 used in SplitShard() on shard \
                 shardId-000000000002 in stream s under account {ACCOUNT} is not both greater than one plus the \
                 shard's StartingHashKey 226854911280625642308916404954512140970 and less than the shard's \
                 EndingHashKey 340282366920938463463374607431768211455."
            )),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(h.engine.split_shard(&h.ctx, input).await, expected);
    }
}

#[tokio::test]
async fn split_then_read_through_parent_to_children() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    h.put_hash("s", "1", "before-low").await;
    h.put_hash("s", "5", "before-high").await;
    h.engine
        .split_shard(&h.ctx, split("s", "whatever-0", "2"))
        .await
        .unwrap();

    let d = h.describe("s").await;
    assert_eq!(d.stream_status, StreamStatus::Active);
    assert_eq!(d.shards.len(), 3);
    let parent = &d.shards[0];
    let end = parent
        .sequence_number_range
        .ending_sequence_number
        .clone()
        .expect("closed");
    assert!(end > parent.sequence_number_range.starting_sequence_number);
    let (low, high) = (&d.shards[1], &d.shards[2]);
    assert_eq!(low.parent_shard_id.as_deref(), Some("shardId-000000000000"));
    assert_eq!(
        (
            low.hash_key_range.starting_hash_key.as_str(),
            low.hash_key_range.ending_hash_key.as_str()
        ),
        ("0", "1")
    );
    assert_eq!(high.hash_key_range.starting_hash_key, "2");
    assert!(
        low.sequence_number_range.starting_sequence_number > end,
        "children number above the parent"
    );

    assert_eq!(
        h.put_hash("s", "1", "after-low").await.shard_id,
        "shardId-000000000001"
    );
    assert_eq!(
        h.put_hash("s", "5", "after-high").await.shard_id,
        "shardId-000000000002"
    );

    // The parent still reads, then ends with its children.
    let (data, out) = h.drain("s", "shardId-000000000000").await;
    assert_eq!(data, ["before-low", "before-high"]);
    assert!(out.next_shard_iterator.is_none());
    let children = out.child_shards.unwrap();
    assert_eq!(children.len(), 2);
    assert_eq!(children[0].shard_id, "shardId-000000000001");
    assert_eq!(children[0].parent_shards, ["shardId-000000000000"]);
    assert_eq!(children[1].hash_key_range.starting_hash_key, "2");
    assert_eq!(h.drain("s", "shardId-000000000001").await.0, ["after-low"]);
    assert_eq!(h.drain("s", "shardId-000000000002").await.0, ["after-high"]);
    // LATEST on a closed shard is already at its end.
    let it = h
        .iterator("s", "shardId-0", ShardIteratorType::Latest, None)
        .await;
    assert!(h.get(&it).await.next_shard_iterator.is_none());
    // A closed shard cannot be split again.
    let e = h
        .engine
        .split_shard(&h.ctx, split("s", "shardId-0", "7"))
        .await;
    assert!(
        matches!(e, Err(SplitShardError::InvalidArgument(_))),
        "{e:?}"
    );
}

#[tokio::test]
async fn merge_checks_adjacency_and_joins() {
    let h = Harness::new().await;
    h.create("s", 3).await;
    let e = h
        .engine
        .merge_shards(&h.ctx, merge("s", "x-0", "y-2"))
        .await;
    assert_eq!(
        e,
        Err(MergeShardsError::InvalidArgument(format!(
            "Shards shardId-000000000000 and shardId-000000000002 in stream s under account {ACCOUNT} are not an \
             adjacent pair of shards eligible for merging"
        )))
    );
    let e = h
        .engine
        .merge_shards(&h.ctx, merge("s", "x-1", "y-0"))
        .await;
    assert!(
        matches!(e, Err(MergeShardsError::InvalidArgument(m)) if m.starts_with("Shards shardId-000000000001 and shardId-000000000000"))
    );
    let e = h
        .engine
        .merge_shards(&h.ctx, merge("s", "x-0", "ABKLFD8"))
        .await;
    assert_eq!(
        e,
        Err(MergeShardsError::ResourceNotFound(format!(
            "Could not find shard ABKLFD8 in stream s under account {ACCOUNT}."
        )))
    );
    let e = h
        .engine
        .merge_shards(&h.ctx, merge("s", "x-0", "shardId-7"))
        .await;
    assert_eq!(
        e,
        Err(MergeShardsError::ResourceNotFound(format!(
            "Could not find shard shardId-000000000007 in stream s under account {ACCOUNT}."
        )))
    );

    h.put_hash("s", "0", "in-0").await;
    h.put_hash("s", "113427455640312821154458202477256070485", "in-1")
        .await;
    h.engine
        .merge_shards(&h.ctx, merge("s", "x-0", "y-1"))
        .await
        .unwrap();
    let d = h.describe("s").await;
    let child = &d.shards[3];
    assert_eq!(child.shard_id, "shardId-000000000003");
    assert_eq!(
        child.parent_shard_id.as_deref(),
        Some("shardId-000000000000")
    );
    assert_eq!(
        child.adjacent_parent_shard_id.as_deref(),
        Some("shardId-000000000001")
    );
    assert_eq!(
        child.hash_key_range.ending_hash_key,
        "226854911280625642308916404954512140969"
    );
    for parent in ["shardId-000000000000", "shardId-000000000001"] {
        let (_, out) = h.drain("s", parent).await;
        let kids = out.child_shards.unwrap();
        assert_eq!(kids.len(), 1);
        assert_eq!(
            kids[0].parent_shards,
            ["shardId-000000000000", "shardId-000000000001"]
        );
    }
    assert_eq!(
        h.put_hash("s", "0", "merged").await.shard_id,
        "shardId-000000000003"
    );
}

#[tokio::test]
async fn update_shard_count_limits_and_results() {
    let h = Harness::with_config(EngineConfig {
        shard_limit: 10,
        ..Default::default()
    })
    .await;
    h.create("s", 2).await;
    let e = h.engine.update_shard_count(&h.ctx, scale("s", 5)).await;
    assert_eq!(
        e,
        Err(UpdateShardCountError::LimitExceeded(
            "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: \
             2, Target shard count: 5"
                .into()
        ))
    );
    let e = h.engine.update_shard_count(&h.ctx, scale("nope", 2)).await;
    assert_eq!(
        e,
        Err(UpdateShardCountError::ResourceNotFound(format!(
            "Stream nope under account {ACCOUNT} not found."
        )))
    );
    let out = h
        .engine
        .update_shard_count(&h.ctx, scale("s", 4))
        .await
        .unwrap();
    assert_eq!(
        (out.current_shard_count, out.target_shard_count),
        (Some(2), Some(4))
    );
    assert_eq!(out.stream_name.as_deref(), Some("s"));
    let d = h.describe("s").await;
    let closed = d
        .shards
        .iter()
        .filter(|s| s.sequence_number_range.ending_sequence_number.is_some())
        .count();
    assert_eq!((d.shards.len(), closed), (6, 2));
    assert_eq!(h.summary("s").await.open_shard_count, 4);

    let e = h.engine.update_shard_count(&h.ctx, scale("s", 1)).await;
    assert_eq!(
        e,
        Err(UpdateShardCountError::LimitExceeded(
            "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: \
             4, Target shard count: 1"
                .into()
        ))
    );
    h.create("t", 4).await;
    let e = h.engine.update_shard_count(&h.ctx, scale("t", 8)).await;
    assert_eq!(
        e,
        Err(UpdateShardCountError::LimitExceeded(
            "Target shard count or number of open shards cannot be greater than 10. Current open shard count: 4, \
             Target shard count: 8"
                .into()
        ))
    );
    h.engine
        .update_shard_count(&h.ctx, scale("t", 3))
        .await
        .unwrap();
    assert_eq!(h.summary("t").await.open_shard_count, 3);
    // Every hash key still reaches exactly one open shard.
    let d = h.describe("t").await;
    let mut open: Vec<(u128, u128)> = d
        .shards
        .iter()
        .filter(|s| s.sequence_number_range.ending_sequence_number.is_none())
        .map(|s| {
            (
                s.hash_key_range.starting_hash_key.parse().unwrap(),
                s.hash_key_range.ending_hash_key.parse().unwrap(),
            )
        })
        .collect();
    open.sort();
    assert_eq!(open.first().unwrap().0, 0);
    assert_eq!(open.last().unwrap().1, u128::MAX);
    assert!(open.windows(2).all(|w| w[0].1 + 1 == w[1].0));
}

#[tokio::test]
async fn on_demand_streams_do_not_reshard() {
    let h = Harness::new().await;
    h.engine
        .create_stream(
            &h.ctx,
            CreateStreamInput {
                stream_name: "od".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let e = h.engine.update_shard_count(&h.ctx, scale("od", 5)).await;
    assert!(
        matches!(e, Err(UpdateShardCountError::InvalidArgument(_))),
        "{e:?}"
    );
    let e = h
        .engine
        .split_shard(&h.ctx, split("od", "shardId-0", "7"))
        .await;
    assert!(
        matches!(e, Err(SplitShardError::InvalidArgument(_))),
        "{e:?}"
    );
}

#[tokio::test]
async fn updating_state_blocks_other_changes_until_done() {
    let h = Harness::with_config(fast_timers()).await;
    h.engine
        .create_stream(
            &h.ctx,
            CreateStreamInput {
                stream_name: "s".into(),
                shard_count: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    wait_for(&h, "s", StreamStatus::Active).await;
    h.engine
        .split_shard(&h.ctx, split("s", "shard-0", "2"))
        .await
        .unwrap();
    let d = h.describe("s").await;
    assert_eq!(d.stream_status, StreamStatus::Updating);
    assert_eq!(d.shards.len(), 1);
    let e = h
        .engine
        .split_shard(&h.ctx, split("s", "shard-0", "2"))
        .await;
    assert_eq!(
        e,
        Err(SplitShardError::ResourceInUse(format!(
            "Stream s under account {ACCOUNT} not ACTIVE, instead in state UPDATING"
        )))
    );
    // Writes keep flowing to the parent while UPDATING.
    assert_eq!(
        h.put_hash("s", "1", "during").await.shard_id,
        "shardId-000000000000"
    );
    wait_for(&h, "s", StreamStatus::Active).await;
    assert_eq!(h.describe("s").await.shards.len(), 3);
    assert_eq!(
        h.put_hash("s", "1", "after").await.shard_id,
        "shardId-000000000001"
    );
    assert_eq!(h.drain("s", "shardId-0").await.0, ["during"]);
}

/// Writers racing a split: every acknowledged record is read exactly once, following the
/// lineage from the parent to the children.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_record_is_lost_across_a_split() {
    let h = Arc::new(Harness::new().await);
    h.create("s", 1).await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let h = Arc::clone(&h);
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..150 {
                    let data = format!("{w}-{i}");
                    let out = h
                        .engine
                        .put_record(&h.ctx, put_input("s", &data, &data))
                        .await
                        .unwrap();
                    acked.push((data, out.shard_id));
                }
                acked
            })
        })
        .collect();
    tokio::task::yield_now().await;
    h.engine
        .split_shard(
            &h.ctx,
            split("s", "shardId-0", "170141183460469231731687303715884105728"),
        )
        .await
        .unwrap();
    let mut acked = BTreeSet::new();
    for w in writers {
        for (data, _) in w.await.unwrap() {
            acked.insert(data);
        }
    }
    let mut seen = Vec::new();
    let mut queue = vec!["shardId-000000000000".to_owned()];
    while let Some(shard) = queue.pop() {
        let mut it = h
            .iterator("s", &shard, ShardIteratorType::TrimHorizon, None)
            .await;
        loop {
            let out = h.get(&it).await;
            seen.extend(out.records.iter().map(data_str));
            match out.next_shard_iterator {
                Some(next) if !out.records.is_empty() => it = next,
                Some(_) => break,
                None => {
                    queue.extend(out.child_shards.unwrap().into_iter().map(|c| c.shard_id));
                    break;
                }
            }
        }
    }
    assert_eq!(seen.len(), acked.len(), "no record read twice");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), acked);
}
