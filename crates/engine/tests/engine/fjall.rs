//! The engine on the embedded fjall store: data and metadata survive closing the store.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tributary_engine::{Engine, EngineConfig, RequestContext};
use tributary_model::types::*;
use tributary_storage::{FjallOptions, FjallStore};

use crate::{data_str, put_input, ACCOUNT, REGION};

/// Opens the store, retrying while a previous instance is still releasing the directory.
async fn open(dir: &Path) -> Arc<Engine> {
    for _ in 0..200 {
        if let Ok(store) = FjallStore::open(dir, FjallOptions::default()) {
            return Engine::open(EngineConfig::default(), store.clone(), store)
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the fjall store could not be reopened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_and_records_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = RequestContext::new(ACCOUNT, REGION);
    let engine = open(dir.path()).await;
    let create = CreateStreamInput {
        stream_name: "s".into(),
        shard_count: Some(2),
        ..Default::default()
    };
    engine.create_stream(&ctx, create).await.unwrap();
    let records = (0..50)
        .map(|i| PutRecordsRequestEntry {
            partition_key: Some(format!("k{i}")),
            data: format!("r{i}").into(),
            ..Default::default()
        })
        .collect();
    let put = engine
        .put_records(
            &ctx,
            PutRecordsInput {
                stream_name: Some("s".into()),
                records,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(put.failed_record_count, Some(0));
    let split = SplitShardInput {
        stream_name: Some("s".into()),
        shard_to_split: "shardId-0".into(),
        new_starting_hash_key: "1000".into(),
        ..Default::default()
    };
    engine.split_shard(&ctx, split).await.unwrap();
    let last = engine
        .put_record(&ctx, put_input("s", "k0", "after"))
        .await
        .unwrap();
    let before = engine
        .describe_stream(
            &ctx,
            DescribeStreamInput {
                stream_name: Some("s".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    drop(engine);

    let engine = open(dir.path()).await;
    let after = engine
        .describe_stream(
            &ctx,
            DescribeStreamInput {
                stream_name: Some("s".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(after, before);
    let mut seen = Vec::new();
    for shard in ["shardId-0", "shardId-1", "shardId-2", "shardId-3"] {
        let it = engine
            .get_shard_iterator(
                &ctx,
                GetShardIteratorInput {
                    stream_name: Some("s".into()),
                    shard_id: shard.into(),
                    shard_iterator_type: ShardIteratorType::TrimHorizon,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .shard_iterator
            .unwrap();
        let out = engine
            .get_records(
                &ctx,
                GetRecordsInput {
                    shard_iterator: it,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        seen.extend(out.records.iter().map(data_str));
        if shard == last.shard_id.replace("000000000", "") {
            assert_eq!(
                out.records.last().unwrap().sequence_number,
                last.sequence_number
            );
        }
    }
    seen.sort();
    assert_eq!(seen.len(), 51);
    assert!(seen.contains(&"after".to_owned()));
}
