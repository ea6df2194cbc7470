//! Retention periods, read-side filtering, the trim task and pruning of expired shards.

use std::time::Duration;

use bytes::Bytes;
use tributary_engine::EngineConfig;
use tributary_model::types::*;
use tributary_model::*;
use tributary_storage::ShardKey;

use crate::*;

const HOUR_MS: i64 = 3_600_000;

fn increase(hours: i32) -> IncreaseStreamRetentionPeriodInput {
    IncreaseStreamRetentionPeriodInput {
        stream_name: Some("s".into()),
        retention_period_hours: hours,
        ..Default::default()
    }
}

fn decrease(hours: i32) -> DecreaseStreamRetentionPeriodInput {
    DecreaseStreamRetentionPeriodInput {
        stream_name: Some("s".into()),
        retention_period_hours: hours,
        ..Default::default()
    }
}

#[tokio::test]
async fn retention_changes_follow_aws_rules() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let inv = |m: &str| {
        Err(IncreaseStreamRetentionPeriodError::InvalidArgument(
            m.to_owned(),
        ))
    };
    assert_eq!(
        h.engine.increase_stream_retention_period(&h.ctx, increase(23)).await,
        inv("Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short.")
    );
    assert_eq!(
        h.engine.increase_stream_retention_period(&h.ctx, increase(8761)).await,
        inv("Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is too long.")
    );
    h.engine
        .increase_stream_retention_period(&h.ctx, increase(25))
        .await
        .unwrap();
    assert_eq!(h.describe("s").await.retention_period_hours, 25);
    assert_eq!(
        h.engine.increase_stream_retention_period(&h.ctx, increase(24)).await,
        inv("Requested retention period (24 hours) for stream s can not be shorter than existing retention period (25 hours). Use DecreaseRetentionPeriod API.")
    );
    assert_eq!(
        h.engine.decrease_stream_retention_period(&h.ctx, decrease(26)).await,
        Err(DecreaseStreamRetentionPeriodError::InvalidArgument(
            "Requested retention period (26 hours) for stream s can not be longer than existing retention period (25 hours). Use IncreaseRetentionPeriod API.".into()
        ))
    );
    h.engine
        .decrease_stream_retention_period(&h.ctx, decrease(24))
        .await
        .unwrap();
    assert_eq!(h.describe("s").await.retention_period_hours, 24);
    let mut missing = increase(48);
    missing.stream_name = Some("nope".into());
    assert_eq!(
        h.engine
            .increase_stream_retention_period(&h.ctx, missing)
            .await,
        Err(IncreaseStreamRetentionPeriodError::ResourceNotFound(
            format!("Stream nope under account {ACCOUNT} not found.")
        ))
    );
}

#[tokio::test]
async fn expired_records_are_never_returned_and_get_trimmed() {
    let h = Harness::with_config(EngineConfig {
        retention_interval: Duration::from_millis(30),
        ..Default::default()
    })
    .await;
    let Some(mem) = h.hooks() else {
        return; // moves the in-memory log's clock: checked on the in-memory pass
    };
    h.create("s", 1).await;
    mem.set_clock_offset_ms(-25 * HOUR_MS);
    let old = h.put("s", "a", "old").await;
    mem.set_clock_offset_ms(-23 * HOUR_MS);
    h.put("s", "a", "recent").await;
    mem.set_clock_offset_ms(0);
    h.put("s", "a", "new").await;
    // Read before the trim task runs: filtering alone hides the expired record.
    let (data, _) = h.drain("s", "shardId-0").await;
    assert_eq!(data, ["recent", "new"]);
    let it = h
        .iterator(
            "s",
            "shardId-0",
            ShardIteratorType::AtSequenceNumber,
            Some(&old.sequence_number),
        )
        .await;
    assert_eq!(
        h.get(&it)
            .await
            .records
            .iter()
            .map(data_str)
            .collect::<Vec<_>>(),
        ["recent", "new"]
    );

    let key = ShardKey {
        stream: 1,
        shard: 0,
    };
    for _ in 0..100 {
        if mem.kept_records(key) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        mem.kept_records(key),
        2,
        "the trim task gave the space back"
    );

    // A longer retention keeps what a shorter one would drop.
    h.engine
        .increase_stream_retention_period(&h.ctx, increase(48))
        .await
        .unwrap();
    mem.set_clock_offset_ms(-30 * HOUR_MS);
    h.put("s", "a", "kept").await;
    mem.set_clock_offset_ms(0);
    assert_eq!(h.drain("s", "shardId-0").await.0, ["recent", "new", "kept"]);
}

#[tokio::test]
async fn closed_shards_disappear_once_their_data_expired() {
    let mut h = Harness::with_config(EngineConfig {
        retention_interval: Duration::from_millis(30),
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
    assert_eq!(h.describe("s").await.shards.len(), 3);

    // Pretend the split happened 25 hours ago.
    let key = h.meta_key("stream/").await;
    let mut json: serde_json::Value =
        serde_json::from_slice(&h.meta.get(&key).await.unwrap().unwrap().value).unwrap();
    json["shards"][0]["closed_ms"] = (Timestamp::now().millis() - 25 * HOUR_MS).into();
    h.overwrite(&key, Bytes::from(serde_json::to_vec(&json).unwrap()))
        .await;
    h.restart().await;

    for _ in 0..100 {
        if h.describe("s").await.shards.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let d = h.describe("s").await;
    let ids: Vec<_> = d.shards.iter().map(|s| s.shard_id.as_str()).collect();
    assert_eq!(ids, ["shardId-000000000001", "shardId-000000000002"]);
    assert_eq!(
        d.shards[0].parent_shard_id.as_deref(),
        Some("shardId-000000000000")
    );
    // Its log goes right after the record (a replicated store takes a moment to delete it).
    let parent = ShardKey {
        stream: 1,
        shard: 0,
    };
    for _ in 0..200 {
        if !h.shard_exists(parent).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !h.shard_exists(parent).await,
        "the expired shard's log is deleted"
    );
    let e = h
        .engine
        .get_shard_iterator(
            &h.ctx,
            GetShardIteratorInput {
                stream_name: Some("s".into()),
                shard_id: "shardId-0".into(),
                shard_iterator_type: ShardIteratorType::TrimHorizon,
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(GetShardIteratorError::ResourceNotFound(_))),
        "{e:?}"
    );
}
