//! What only a lagging node shows, made deterministic by holding its control lock (which
//! its feed follower needs): the test decides when node B learns of node A's changes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tributary_model::types::*;
use tributary_storage::memory::{MemoryMetaStore, MemoryShardLog};

use crate::{Engine, EngineConfig, RequestContext};

const SOON: Duration = Duration::from_secs(5);

async fn two_nodes() -> (Arc<Engine>, Arc<Engine>, RequestContext) {
    let log = Arc::new(MemoryShardLog::new());
    let meta = Arc::new(MemoryMetaStore::new());
    let open = || Engine::open(EngineConfig::default(), log.clone(), meta.clone());
    let (a, b) = (open().await.unwrap(), open().await.unwrap());
    (a, b, RequestContext::new("123456789012", "us-east-1"))
}

fn put(key: &str, data: &str) -> PutRecordInput {
    PutRecordInput {
        stream_name: Some("s".into()),
        partition_key: Some(key.into()),
        data: Bytes::from(data.to_owned()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_on_a_node_that_missed_the_split_goes_to_the_children() {
    let (a, b, ctx) = two_nodes().await;
    a.create_stream(
        &ctx,
        CreateStreamInput {
            stream_name: "s".into(),
            shard_count: Some(1),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let before = tokio::time::timeout(SOON, async {
        loop {
            if let Ok(out) = b.put_record(&ctx, put("k", "before")).await {
                return out;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("B sees the stream");
    assert_eq!(before.shard_id, "shardId-000000000000");

    // B's follower cannot apply the split while the test holds B's control lock.
    let held = b.control.lock().await;
    a.split_shard(
        &ctx,
        SplitShardInput {
            stream_name: Some("s".into()),
            shard_to_split: "shardId-000000000000".into(),
            new_starting_hash_key: "170141183460469231731687303715884105728".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        b.registry
            .read()
            .all()
            .next()
            .unwrap()
            .state
            .read()
            .open_shards(),
        1,
        "B still routes to the parent"
    );
    let late = tokio::spawn({
        let (b, ctx) = (b.clone(), RequestContext::new("123456789012", "us-east-1"));
        async move { b.put_record(&ctx, put("k", "after")).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !late.is_finished(),
        "the append met the closed parent and waits to re-read the routes"
    );
    drop(held);
    let after = tokio::time::timeout(SOON, late)
        .await
        .expect("the append finishes once B re-read the record")
        .unwrap()
        .expect("a PutRecord caller never sees the closed parent");
    assert_ne!(after.shard_id, "shardId-000000000000", "it went to a child");

    // The parent holds only the record from before the split, on both nodes.
    for node in [&a, &b] {
        let it = node
            .get_shard_iterator(
                &ctx,
                GetShardIteratorInput {
                    stream_name: Some("s".into()),
                    shard_id: "shardId-000000000000".into(),
                    shard_iterator_type: ShardIteratorType::TrimHorizon,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .shard_iterator
            .unwrap();
        let out = node
            .get_records(
                &ctx,
                GetRecordsInput {
                    shard_iterator: it,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let data: Vec<&[u8]> = out.records.iter().map(|r| &r.data[..]).collect();
        assert_eq!(data, [&b"before"[..]]);
        assert!(out.next_shard_iterator.is_none(), "the parent has ended");
        assert_eq!(out.child_shards.map(|c| c.len()), Some(2));
    }
}
