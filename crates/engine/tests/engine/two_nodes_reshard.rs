//! Resharding on one node while the other appends, reads or subscribes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tributary_engine::{Engine, EngineConfig, RequestContext};
use tributary_model::types::*;
use tributary_model::*;

use super::*;
use crate::{data_str, put_input, ACCOUNT, REGION};

/// What node A does to the stream while node B appends.
#[derive(Clone, Copy, Debug)]
enum Reshard {
    /// One shard split in two: parent 0, children 1 and 2.
    Split,
    /// Two shards merged: parents 0 and 1, child 2.
    Merge,
}

/// Node B writes without pause (PutRecords of four keys, then a PutRecord) until stopped,
/// and returns every acknowledged record as (shard, sequence number, data), in order.
fn spawn_writer(
    engine: Arc<Engine>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(String, String, String)>> {
    tokio::spawn(async move {
        let ctx = RequestContext::new(ACCOUNT, REGION);
        let mut acked = Vec::new();
        let mut i = 0;
        while !stop.load(Ordering::Acquire) || i < 40 {
            let records = (0..4)
                .map(|j| PutRecordsRequestEntry {
                    data: Bytes::from(format!("r{i}-{j}")),
                    partition_key: Some(format!("key-{j}")),
                    ..Default::default()
                })
                .collect();
            let out = engine
                .put_records(
                    &ctx,
                    PutRecordsInput {
                        stream_name: Some("s".into()),
                        records,
                        ..Default::default()
                    },
                )
                .await
                .expect("PutRecords never fails during a reshard");
            assert_eq!(out.failed_record_count, Some(0), "{out:?}");
            for (j, r) in out.records.into_iter().enumerate() {
                acked.push((
                    r.shard_id.unwrap(),
                    r.sequence_number.unwrap(),
                    format!("r{i}-{j}"),
                ));
            }
            let one = engine
                .put_record(&ctx, put_input("s", "single", &format!("p{i}")))
                .await
                .expect("PutRecord never fails during a reshard");
            acked.push((one.shard_id, one.sequence_number, format!("p{i}")));
            i += 1;
        }
        acked
    })
}

/// Node B appends without pause while node A reshards: every acknowledged record is
/// readable under its sequence number from both nodes, each shard (parents, then children)
/// holds B's records in the order B got them acknowledged, and both nodes describe the
/// result alike.
async fn reshard_while_the_other_node_appends(op: Reshard) {
    let n = nodes().await;
    let parents = match op {
        Reshard::Split => 1,
        Reshard::Merge => 2,
    };
    n.a.create("s", parents).await;
    eventually("B sees the stream", || exists(&n.b, "s")).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(n.b.engine.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(30)).await;
    match op {
        Reshard::Split => {
            n.a.engine
                .split_shard(&n.a.ctx, split_input("s", "shardId-000000000000"))
                .await
                .unwrap()
        }
        Reshard::Merge => {
            n.a.engine
                .merge_shards(
                    &n.a.ctx,
                    MergeShardsInput {
                        stream_name: Some("s".into()),
                        shard_to_merge: "shardId-000000000000".into(),
                        adjacent_shard_to_merge: "shardId-000000000001".into(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
        }
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    stop.store(true, Ordering::Release);
    let acked = tokio::time::timeout(SOON * 2, writer)
        .await
        .expect("the writer finishes")
        .unwrap();

    let mut by_shard: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (shard, seq, data) in acked {
        by_shard.entry(shard).or_default().push((seq, data));
    }
    let after: &[&str] = match op {
        Reshard::Split => &["shardId-000000000001", "shardId-000000000002"],
        Reshard::Merge => &["shardId-000000000002"],
    };
    assert!(
        after.iter().any(|s| by_shard.contains_key(*s)),
        "records landed after the reshard too: {:?}",
        by_shard.keys()
    );
    for h in [&n.a, &n.b] {
        eventually("the node knows the new shards", || async {
            shards(h, "s").await.len() == 3
        })
        .await;
        for shard in [
            "shardId-000000000000",
            "shardId-000000000001",
            "shardId-000000000002",
        ] {
            let stored = read_all(h, "s", shard).await;
            let expected = by_shard.get(shard).cloned().unwrap_or_default();
            assert_eq!(
                stored, expected,
                "{op:?}: {shard} holds exactly the acknowledged records, in acknowledgement order"
            );
        }
    }
    eventually("both nodes describe the reshard alike", || async {
        n.a.describe("s").await == n.b.describe("s").await
    })
    .await;
    let listed = shards(&n.b, "s").await;
    for parent in &listed[..parents as usize] {
        assert!(parent
            .sequence_number_range
            .ending_sequence_number
            .is_some());
    }
    match op {
        Reshard::Split => {
            for child in &listed[1..] {
                assert_eq!(
                    child.parent_shard_id.as_deref(),
                    Some("shardId-000000000000")
                );
                assert_eq!(child.adjacent_parent_shard_id, None);
            }
        }
        Reshard::Merge => {
            let child = &listed[2];
            assert_eq!(
                child.parent_shard_id.as_deref(),
                Some("shardId-000000000000")
            );
            assert_eq!(
                child.adjacent_parent_shard_id.as_deref(),
                Some("shardId-000000000001")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_on_one_node_while_the_other_appends() {
    reshard_while_the_other_node_appends(Reshard::Split).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_on_one_node_while_the_other_appends() {
    reshard_while_the_other_node_appends(Reshard::Merge).await;
}

/// Node A deletes the stream while node B appends: B's callers see ResourceNotFound once
/// the stream is gone, never an internal failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_on_one_node_while_the_other_appends() {
    let n = nodes().await;
    n.a.create("s", 2).await;
    eventually("B sees the stream", || exists(&n.b, "s")).await;
    let writer = {
        let engine = n.b.engine.clone();
        tokio::spawn(async move {
            let ctx = RequestContext::new(ACCOUNT, REGION);
            let mut ok = 0;
            for i in 0..100_000 {
                match engine
                    .put_record(&ctx, put_input("s", &format!("k{i}"), "x"))
                    .await
                {
                    Ok(_) => ok += 1,
                    Err(PutRecordError::ResourceNotFound(_)) => return ok,
                    Err(e) => panic!("PutRecord during a delete elsewhere failed with {e:?}"),
                }
            }
            panic!("the stream was never gone for B");
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    n.a.engine
        .delete_stream(
            &n.a.ctx,
            DeleteStreamInput {
                stream_name: Some("s".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ok = tokio::time::timeout(SOON, writer)
        .await
        .expect("B's writer stops")
        .unwrap();
    assert!(ok > 0, "B wrote before the delete");
}

/// An enhanced fan-out subscription on node B to a shard that node A splits ends, after the
/// parent's last record, with the children.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_on_one_node_ends_when_the_other_splits() {
    let n = nodes_with(EngineConfig {
        subscription_heartbeat: Duration::from_secs(60),
        ..Default::default()
    })
    .await;
    n.a.create("s", 1).await;
    let consumer = n.a.register("s", "app").await;
    eventually("B sees the consumer", || async {
        n.b.subscribe(
            &consumer.consumer_arn,
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await
        .is_ok()
    })
    .await;
    let mut sub =
        n.b.subscribe(
            &consumer.consumer_arn,
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await
        .unwrap();
    n.a.put("s", "k", "before").await;
    n.a.engine
        .split_shard(&n.a.ctx, split_input("s", "shardId-000000000000"))
        .await
        .unwrap();

    let mut seen = Vec::new();
    let children = loop {
        let event = tokio::time::timeout(SOON, sub.next_event())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .expect("the subscription reports the end before it stops");
        seen.extend(event.records.iter().map(data_str));
        if let Some(children) = event.child_shards {
            break children;
        }
    };
    assert_eq!(seen, ["before"], "every record of the parent comes first");
    let ids: Vec<&str> = children.iter().map(|c| c.shard_id.as_str()).collect();
    assert_eq!(ids, ["shardId-000000000001", "shardId-000000000002"]);
    for c in &children {
        assert_eq!(c.parent_shards, ["shardId-000000000000"]);
    }
    assert!(tokio::time::timeout(SOON, sub.next_event())
        .await
        .expect("ends at once")
        .unwrap()
        .is_none());
}
