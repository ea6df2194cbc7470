//! A new engine on the same stores recovers everything.

use std::time::Duration;

use bytes::Bytes;
use tributary_engine::{Engine, EngineConfig, EngineOpenError};
use tributary_model::types::*;

use crate::*;

#[tokio::test]
async fn restart_recovers_streams_records_and_iterators() {
    let mut h = Harness::new().await;
    h.create("s", 1).await;
    h.engine
        .add_tags_to_stream(
            &h.ctx,
            AddTagsToStreamInput {
                stream_name: Some("s".into()),
                tags: vec![("k".into(), "v".into())],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    h.engine
        .increase_stream_retention_period(
            &h.ctx,
            IncreaseStreamRetentionPeriodInput {
                stream_name: Some("s".into()),
                retention_period_hours: 72,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    h.engine
        .enable_enhanced_monitoring(
            &h.ctx,
            EnableEnhancedMonitoringInput {
                stream_name: Some("s".into()),
                shard_level_metrics: vec![MetricsName::Incomingbytes],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    h.engine
        .put_resource_policy(
            &h.ctx,
            PutResourcePolicyInput {
                resource_arn: h.arn("s"),
                policy: r#"{"Statement":[{}]}"#.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let first = h.put_hash("s", "1", "a").await;
    h.engine
        .split_shard(
            &h.ctx,
            SplitShardInput {
                stream_name: Some("s".into()),
                shard_to_split: "shardId-0".into(),
                new_starting_hash_key: "100".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    h.put_hash("s", "1", "b").await;
    h.create("t", 2).await;
    let it = h
        .iterator("s", "shardId-0", ShardIteratorType::TrimHorizon, None)
        .await;
    let before = h.describe("s").await;
    let before_t = h.summary("t").await;

    h.restart().await;
    assert_eq!(h.describe("s").await, before);
    assert_eq!(h.summary("t").await, before_t);
    let tags = h
        .engine
        .list_tags_for_stream(
            &h.ctx,
            ListTagsForStreamInput {
                stream_name: Some("s".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        tags.tags,
        vec![Tag {
            key: "k".into(),
            value: Some("v".into())
        }]
    );
    let policy = h
        .engine
        .get_resource_policy(
            &h.ctx,
            GetResourcePolicyInput {
                resource_arn: h.arn("s"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(policy.policy, r#"{"Statement":[{}]}"#);

    // Iterators from before the restart still work (the secret is persisted), and the
    // closed parent still ends with its children.
    let out = h.get(&it).await;
    assert_eq!(out.records.iter().map(data_str).collect::<Vec<_>>(), ["a"]);
    assert_eq!(out.records[0].sequence_number, first.sequence_number);
    assert!(out.next_shard_iterator.is_none());
    assert_eq!(out.child_shards.unwrap().len(), 2);
    assert_eq!(h.drain("s", "shardId-000000000001").await.0, ["b"]);
    let next = h.put_hash("s", "1", "c").await;
    assert_eq!(next.shard_id, "shardId-000000000001");
    assert_eq!(h.drain("s", "shardId-000000000001").await.0, ["b", "c"]);

    // New streams get new incarnations, never an old one's.
    let ids = |seq: &str| seq[1..13].to_owned();
    h.create("u", 1).await;
    let u = h.put("u", "a", "x").await;
    assert!(ids(&u.sequence_number) > ids(&next.sequence_number));
    let t = h.put("t", "a", "x").await;
    assert!(ids(&u.sequence_number) > ids(&t.sequence_number));
}

#[tokio::test]
async fn pending_transitions_resume_after_restart() {
    let mut h = Harness::with_config(EngineConfig {
        update_delay: Duration::from_millis(150),
        ..Default::default()
    })
    .await;
    h.create("s", 1).await;
    h.engine
        .split_shard(
            &h.ctx,
            SplitShardInput {
                stream_name: Some("s".into()),
                shard_to_split: "shardId-0".into(),
                new_starting_hash_key: "100".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(h.summary("s").await.stream_status, StreamStatus::Updating);
    h.restart().await;
    assert_eq!(h.summary("s").await.stream_status, StreamStatus::Updating);
    wait_for(&h, "s", StreamStatus::Active).await;
    assert_eq!(h.describe("s").await.shards.len(), 3);
}

#[tokio::test]
async fn deleting_resumes_after_restart() {
    let cfg = EngineConfig {
        delete_delay: Duration::from_millis(100),
        ..Default::default()
    };
    let mut h = Harness::with_config(cfg).await;
    h.create("s", 2).await;
    h.engine
        .delete_stream(
            &h.ctx,
            DeleteStreamInput {
                stream_name: Some("s".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    h.restart().await;
    assert_eq!(h.summary("s").await.stream_status, StreamStatus::Deleting);
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if h.meta_keys()
            .await
            .iter()
            .all(|k| !k.starts_with("stream/"))
        {
            assert!(
                !h.shard_exists(tributary_storage::ShardKey {
                    stream: 1,
                    shard: 0
                })
                .await
            );
            return;
        }
    }
    panic!("deletion did not resume");
}

#[tokio::test]
async fn unknown_formats_refuse_to_open() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let key = h.meta_key("stream/").await;
    let mut json: serde_json::Value = serde_json::from_slice(
        &tributary_storage::MetaStore::get(h.meta.as_ref(), &key)
            .await
            .unwrap()
            .unwrap()
            .value,
    )
    .unwrap();
    json["v"] = 99.into();
    h.overwrite(&key, Bytes::from(serde_json::to_vec(&json).unwrap()))
        .await;
    let e = Engine::open(EngineConfig::default(), h.log.clone(), h.meta.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, EngineOpenError::Corrupt { key: k, reason } if *k == key && reason.contains("99")),
        "{e}"
    );
}
