//! The engine on the production storage pair, [`SegmentLog`] and [`FjallMeta`] in one data
//! directory as `tributary serve` opens them: data and metadata survive closing the stores.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tributary_engine::{Engine, EngineConfig, RequestContext};
use tributary_model::types::*;
use tributary_storage::{FjallMeta, SegmentLog, SegmentOptions};

use crate::{data_str, put_input, ACCOUNT, REGION};

/// Opens the stores, retrying while a previous instance is still releasing the directory
/// (a background task of the dropped engine may hold them for a moment).
async fn open(dir: &Path) -> Arc<Engine> {
    for _ in 0..200 {
        let meta = FjallMeta::open(dir);
        let log = SegmentLog::open(&dir.join("segments"), SegmentOptions::default());
        if let (Ok(meta), Ok(log)) = (meta, log) {
            return Engine::open(EngineConfig::default(), log, meta)
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the stores could not be reopened");
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

/// On durable storage: a subscriber is pushed what concurrent writers append, and the
/// consumer survives reopening the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscriptions_and_consumers_on_durable_storage() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = RequestContext::new(ACCOUNT, REGION);
    let engine = open(dir.path()).await;
    let create = CreateStreamInput {
        stream_name: "s".into(),
        shard_count: Some(1),
        ..Default::default()
    };
    engine.create_stream(&ctx, create).await.unwrap();
    let stream_arn = format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/s");
    let consumer = engine
        .register_stream_consumer(
            &ctx,
            RegisterStreamConsumerInput {
                stream_arn: stream_arn.clone(),
                consumer_name: "app".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .consumer;
    let mut sub = engine
        .subscribe_to_shard(
            &ctx,
            SubscribeToShardInput {
                consumer_arn: consumer.consumer_arn.clone(),
                shard_id: "shardId-0".into(),
                starting_position: StartingPosition {
                    r#type: ShardIteratorType::Latest,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    sub.next_event().await.unwrap().unwrap();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let engine = Arc::clone(&engine);
            let ctx = ctx.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    let input = put_input("s", "k", &format!("{w}-{i}"));
                    engine.put_record(&ctx, input).await.unwrap();
                }
            })
        })
        .collect();
    let mut got = 0;
    while got < 200 {
        // The default 5 s heartbeat would make a lost wake-up show as a timeout here.
        let e = tokio::time::timeout(Duration::from_secs(4), sub.next_event())
            .await
            .expect("pushed promptly")
            .unwrap()
            .unwrap();
        got += e.records.len();
    }
    assert_eq!(got, 200);
    for w in writers {
        w.await.unwrap();
    }
    drop(sub);
    drop(engine);

    let engine = open(dir.path()).await;
    let d = engine
        .describe_stream_consumer(
            &ctx,
            DescribeStreamConsumerInput {
                consumer_arn: Some(consumer.consumer_arn.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .consumer_description;
    assert_eq!(d.consumer_status, ConsumerStatus::Active);
    assert_eq!(
        d.consumer_creation_timestamp,
        consumer.consumer_creation_timestamp
    );
    assert_eq!(d.stream_arn, stream_arn);
}
