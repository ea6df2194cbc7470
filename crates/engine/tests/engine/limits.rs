//! Throughput limits and injected faults, on a manual clock (`LimitClock::manual`): nothing
//! here depends on how fast the machine runs.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tributary_engine::{
    EngineConfig, FaultPlan, FaultRule, LimitClock, ShardRates, ThroughputLimits,
};
use tributary_model::types::*;
use tributary_model::*;

use crate::*;

const LAST_HASH: &str = "340282366920938463463374607431768211455";

fn limited(limits: ThroughputLimits) -> (EngineConfig, LimitClock) {
    let clock = LimitClock::manual();
    let config = EngineConfig {
        limits,
        limits_clock: clock.clone(),
        ..EngineConfig::default()
    };
    (config, clock)
}

/// Rates where only the named ones limit (0 lifts a rate).
fn only(f: impl FnOnce(&mut ShardRates)) -> ThroughputLimits {
    let mut r = ShardRates {
        write_bytes_per_sec: 0,
        write_records_per_sec: 0,
        read_bytes_per_sec: 0,
        read_calls_per_sec: 0,
        iterator_calls_per_sec: 0,
        subscribe_bytes_per_sec: 0,
    };
    f(&mut r);
    ThroughputLimits::Custom(r)
}

fn entry(data: &str, hash: &str) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry {
        data: Bytes::from(data.to_owned()),
        partition_key: Some("k".into()),
        explicit_hash_key: Some(hash.into()),
    }
}

async fn put_records(
    h: &Harness,
    name: &str,
    records: Vec<PutRecordsRequestEntry>,
) -> PutRecordsOutput {
    h.engine
        .put_records(
            &h.ctx,
            PutRecordsInput {
                stream_name: Some(name.into()),
                records,
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

fn throttled(r: &PutRecordsResultEntry) -> bool {
    r.error_code.as_deref() == Some("ProvisionedThroughputExceededException")
}

async fn get_records(h: &Harness, iterator: &str) -> Result<GetRecordsOutput, GetRecordsError> {
    h.engine
        .get_records(
            &h.ctx,
            GetRecordsInput {
                shard_iterator: iterator.into(),
                ..Default::default()
            },
        )
        .await
}

#[tokio::test]
async fn a_shard_accepts_its_rate_and_throttles_above_it_with_aws_error() {
    let (config, clock) = limited(ThroughputLimits::Aws);
    let h = Harness::with_config(config).await;
    h.create("s", 1).await;
    // 1,000 records per second: two full PutRecords.
    for _ in 0..2 {
        let out = put_records(&h, "s", vec![entry("x", "0"); 500]).await;
        assert_eq!(out.failed_record_count, Some(0));
    }
    let refused = h
        .engine
        .put_record(&h.ctx, put_input("s", "k", "one more"))
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        PutRecordError::ProvisionedThroughputExceeded(format!(
            "Rate exceeded for shard shardId-000000000000 in stream s under account {ACCOUNT}."
        ))
    );
    // A tenth of a second refills a tenth of the bucket: 100 records, not 101.
    clock.advance(Duration::from_millis(100));
    let out = put_records(&h, "s", vec![entry("x", "0"); 101]).await;
    assert_eq!(out.failed_record_count, Some(1));
    assert!(throttled(&out.records[100]));
    clock.advance(Duration::from_secs(1));
    h.put("s", "k", "after a second").await;
}

#[tokio::test]
async fn put_records_fails_exactly_the_throttled_entries_in_order_per_shard() {
    let (config, _clock) = limited(only(|r| r.write_bytes_per_sec = 100));
    let h = Harness::with_config(config).await;
    h.create("s", 2).await;
    // Sizes count the data and the one-byte partition key. Shard 0 takes 60, refuses the
    // next 50 (110 > 100), and then refuses 10 too: it comes after a refused entry. Shard 1
    // takes its 90 and its 10.
    let records = vec![
        entry(&"a".repeat(59), "0"),
        entry(&"b".repeat(89), LAST_HASH),
        entry(&"c".repeat(49), "0"),
        entry(&"d".repeat(9), LAST_HASH),
        entry(&"e".repeat(9), "0"),
    ];
    let out = put_records(&h, "s", records).await;
    let refused: Vec<bool> = out.records.iter().map(throttled).collect();
    assert_eq!(refused, [false, false, true, false, true]);
    assert_eq!(out.failed_record_count, Some(2));
    let failed = &out.records[2];
    assert_eq!(
        failed.error_message.as_deref(),
        Some(
            format!(
                "Rate exceeded for shard shardId-000000000000 in stream s under account {ACCOUNT}."
            )
            .as_str()
        )
    );
    assert_eq!(
        (failed.shard_id.as_ref(), failed.sequence_number.as_ref()),
        (None, None)
    );
    assert_eq!(
        out.records[3].shard_id.as_deref(),
        Some("shardId-000000000001")
    );
    // Only the admitted entries were stored.
    let (shard0, _) = h.drain("s", "shardId-000000000000").await;
    assert_eq!(shard0, ["a".repeat(59)]);
    let (shard1, _) = h.drain("s", "shardId-000000000001").await;
    assert_eq!(shard1, ["b".repeat(89), "d".repeat(9)]);
}

#[tokio::test]
async fn reads_throttle_at_five_calls_a_second() {
    let (config, clock) = limited(ThroughputLimits::Aws);
    let h = Harness::with_config(config).await;
    h.create("s", 1).await;
    h.put("s", "k", "v").await;
    let it = h
        .iterator(
            "s",
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await;
    for _ in 0..5 {
        get_records(&h, &it).await.unwrap();
    }
    assert_eq!(
        get_records(&h, &it).await.unwrap_err(),
        GetRecordsError::ProvisionedThroughputExceeded(format!(
            "Rate exceeded for Shard - {ACCOUNT}/s/shardId-000000000000"
        ))
    );
    // One call's worth (a fifth of a second) later, one more call.
    clock.advance(Duration::from_millis(200));
    get_records(&h, &it).await.unwrap();
    assert!(get_records(&h, &it).await.is_err());
}

#[tokio::test]
async fn a_large_answer_blocks_the_following_reads_for_its_cost() {
    let (config, clock) = limited(only(|r| r.read_bytes_per_sec = 1_000));
    let h = Harness::with_config(config).await;
    h.create("s", 1).await;
    // 5,000 bytes (with the key) at 1,000 bytes/s: five seconds of reads.
    h.put("s", "k", &"x".repeat(4_999)).await;
    let it = h
        .iterator(
            "s",
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await;
    assert_eq!(get_records(&h, &it).await.unwrap().records.len(), 1);
    assert!(get_records(&h, &it).await.is_err());
    clock.advance(Duration::from_millis(4_900));
    assert!(get_records(&h, &it).await.is_err());
    clock.advance(Duration::from_millis(200));
    get_records(&h, &it).await.unwrap();
}

#[tokio::test]
async fn get_shard_iterator_throttles_at_five_calls_a_second() {
    let (config, clock) = limited(ThroughputLimits::Aws);
    let h = Harness::with_config(config).await;
    h.create("s", 1).await;
    let input = GetShardIteratorInput {
        stream_name: Some("s".into()),
        shard_id: "shardId-000000000000".into(),
        shard_iterator_type: ShardIteratorType::Latest,
        ..Default::default()
    };
    for _ in 0..5 {
        h.engine
            .get_shard_iterator(&h.ctx, input.clone())
            .await
            .unwrap();
    }
    let refused = h
        .engine
        .get_shard_iterator(&h.ctx, input.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, GetShardIteratorError::ProvisionedThroughputExceeded(ref m)
            if m.starts_with("Rate exceeded for shard shardId-000000000000 in stream s")),
        "{refused:?}"
    );
    clock.advance(Duration::from_millis(200));
    h.engine.get_shard_iterator(&h.ctx, input).await.unwrap();
}

#[tokio::test]
async fn off_lifts_every_throughput_limit() {
    let h = Harness::new().await;
    assert_eq!(h.config.limits, ThroughputLimits::Off);
    h.create("s", 1).await;
    for _ in 0..6 {
        let out = put_records(&h, "s", vec![entry("x", "0"); 500]).await;
        assert_eq!(out.failed_record_count, Some(0));
    }
    let it = h
        .iterator(
            "s",
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await;
    for _ in 0..20 {
        get_records(&h, &it).await.unwrap();
        h.iterator("s", "shardId-000000000000", ShardIteratorType::Latest, None)
            .await;
    }
}

#[tokio::test]
async fn custom_numbers_replace_aws_ones() {
    let (config, clock) = limited(only(|r| {
        r.write_records_per_sec = 3;
        r.read_calls_per_sec = 2;
    }));
    let h = Harness::with_config(config).await;
    h.create("s", 1).await;
    let out = put_records(&h, "s", vec![entry("x", "0"); 5]).await;
    let refused: Vec<bool> = out.records.iter().map(throttled).collect();
    assert_eq!(refused, [false, false, false, true, true]);
    let it = h
        .iterator(
            "s",
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await;
    get_records(&h, &it).await.unwrap();
    get_records(&h, &it).await.unwrap();
    assert!(get_records(&h, &it).await.is_err());
    clock.advance(Duration::from_millis(500));
    get_records(&h, &it).await.unwrap();
}

#[tokio::test]
async fn on_demand_streams_share_a_stream_wide_capacity_raised_by_warm_throughput() {
    let (config, clock) = limited(ThroughputLimits::Aws);
    let h = Harness::with_config(config).await;
    let create = |name: &str, warm: Option<i32>| CreateStreamInput {
        stream_name: name.into(),
        stream_mode_details: Some(StreamModeDetails {
            stream_mode: StreamMode::OnDemand,
        }),
        warm_throughput_mi_bps: warm,
        ..Default::default()
    };
    h.engine
        .create_stream(&h.ctx, create("od", None))
        .await
        .unwrap();
    // 4,000 records/s for the stream, wherever the keys route them.
    let keys = ["0", LAST_HASH];
    for i in 0..8 {
        let out = put_records(&h, "od", vec![entry("x", keys[i % 2]); 500]).await;
        assert_eq!(out.failed_record_count, Some(0), "batch {i}");
    }
    let out = put_records(&h, "od", vec![entry("x", "0")]).await;
    assert_eq!(out.failed_record_count, Some(1));

    h.engine
        .create_stream(&h.ctx, create("warm", Some(10)))
        .await
        .unwrap();
    for i in 0..20 {
        let out = put_records(&h, "warm", vec![entry("x", "0"); 500]).await;
        assert_eq!(out.failed_record_count, Some(0), "batch {i}");
    }
    assert_eq!(
        put_records(&h, "warm", vec![entry("x", "0")])
            .await
            .failed_record_count,
        Some(1)
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        put_records(&h, "od", vec![entry("x", "0")])
            .await
            .failed_record_count,
        Some(0)
    );
}

#[tokio::test]
async fn subscriptions_are_paced_not_refused() {
    let (config, clock) = limited(only(|r| r.subscribe_bytes_per_sec = 1_000));
    let h = Harness::with_config(config).await;
    h.create("s", 1).await;
    let consumer = h.register("s", "c").await;
    // 3,000 bytes: the first event carries them, the next waits three seconds.
    for _ in 0..3 {
        h.put("s", "k", &"x".repeat(999)).await;
    }
    let mut sub = h
        .subscribe(
            &consumer.consumer_arn,
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await
        .unwrap();
    let first = sub.next_event().await.unwrap().unwrap();
    assert_eq!(first.records.len(), 3);
    h.put("s", "k", "later").await;
    let waiting = tokio::time::timeout(Duration::from_millis(200), sub.next_event()).await;
    assert!(
        waiting.is_err(),
        "the second event must wait for the first to be paid"
    );
    clock.advance(Duration::from_millis(3_100));
    let second = tokio::time::timeout(Duration::from_secs(5), sub.next_event())
        .await
        .expect("paced, then sent")
        .unwrap()
        .unwrap();
    assert_eq!(second.records.len(), 1);
}

#[tokio::test]
async fn subscribe_to_shard_allows_one_call_a_second_per_consumer_and_shard() {
    let (config, clock) = limited(ThroughputLimits::Aws);
    let h = Harness::with_config(config).await;
    h.create("s", 2).await;
    let consumer = h.register("s", "c").await;
    let arn = &consumer.consumer_arn;
    let sub = |shard: &'static str| h.subscribe(arn, shard, ShardIteratorType::Latest, None);
    drop(sub("shardId-000000000000").await.unwrap());
    let refused = sub("shardId-000000000000").await.unwrap_err();
    assert!(
        matches!(refused, SubscribeToShardError::LimitExceeded(ref m) if m.contains(arn.as_str())),
        "{refused:?}"
    );
    // Another shard has its own allowance.
    drop(sub("shardId-000000000001").await.unwrap());
    clock.advance(Duration::from_secs(1));
    drop(sub("shardId-000000000000").await.unwrap());
}

#[tokio::test]
async fn aws_limits_cap_streams_creating_and_scalings_per_day() {
    let (mut config, _clock) = limited(ThroughputLimits::Aws);
    config.create_delay = Duration::from_secs(60);
    let h = Harness::with_config(config).await;
    for i in 0..5 {
        h.create(&format!("c{i}"), 1).await;
    }
    let refused = h
        .engine
        .create_stream(
            &h.ctx,
            CreateStreamInput {
                stream_name: "c5".into(),
                shard_count: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, CreateStreamError::LimitExceeded(_)),
        "{refused:?}"
    );

    let (config, _clock) = limited(ThroughputLimits::Aws);
    let h = Harness::with_config(config).await;
    h.create("s", 1).await;
    let scale = |n: i32| {
        h.engine.update_shard_count(
            &h.ctx,
            UpdateShardCountInput {
                stream_name: Some("s".into()),
                target_shard_count: n,
                scaling_type: ScalingType::UniformScaling,
                ..Default::default()
            },
        )
    };
    for i in 0..10 {
        scale(if i % 2 == 0 { 2 } else { 1 }).await.unwrap();
    }
    let refused = scale(2).await.unwrap_err();
    assert!(
        matches!(refused, UpdateShardCountError::LimitExceeded(ref m) if m.contains("24-hour")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn aws_limits_rate_control_plane_calls_per_account() {
    let (config, clock) = limited(ThroughputLimits::Aws);
    let h = Harness::with_config(config).await;
    // DescribeLimits: one call per second per account.
    assert_eq!(h.engine.throttle_control(&h.ctx, "DescribeLimits"), None);
    let refused = h.engine.throttle_control(&h.ctx, "DescribeLimits");
    assert!(refused.is_some_and(|m| m.contains("DescribeLimits")));
    // Another account has its own allowance; data-plane operations have none here.
    let other = RequestContext::new("210987654321", REGION);
    assert_eq!(h.engine.throttle_control(&other, "DescribeLimits"), None);
    for _ in 0..20 {
        assert_eq!(h.engine.throttle_control(&h.ctx, "PutRecords"), None);
    }
    clock.advance(Duration::from_secs(1));
    assert_eq!(h.engine.throttle_control(&h.ctx, "DescribeLimits"), None);

    let (config, _clock) = limited(only(|_| {}));
    let custom = Harness::with_config(config).await;
    assert_eq!(
        custom
            .engine
            .throttle_control(&custom.ctx, "DescribeLimits"),
        None
    );
    assert_eq!(
        custom
            .engine
            .throttle_control(&custom.ctx, "DescribeLimits"),
        None
    );
}

#[tokio::test]
async fn faults_throttle_and_fail_on_their_schedule() {
    let rule = |f: fn(&mut FaultRule)| {
        let mut r = FaultRule::default();
        f(&mut r);
        r
    };
    let operations: HashMap<String, FaultRule> = [
        ("PutRecords".to_owned(), rule(|r| r.throttle_every = 2)),
        ("PutRecord".to_owned(), rule(|r| r.throttle_every = 2)),
        (
            "GetRecords".to_owned(),
            rule(|r| r.throttle_probability = 1.0),
        ),
        ("DescribeStream".to_owned(), rule(|r| r.internal_every = 1)),
    ]
    .into_iter()
    .collect();
    let config = EngineConfig {
        faults: FaultPlan {
            seed: 1,
            operations,
        },
        ..EngineConfig::default()
    };
    let h = Harness::with_config(config).await;
    h.create("s", 2).await;
    // The second entry draws the fault; shard 0's later entries follow it, shard 1's
    // entry, drawn after, is admitted.
    let out = put_records(
        &h,
        "s",
        vec![
            entry("a", "0"),
            entry("b", "0"),
            entry("c", "0"),
            entry("d", LAST_HASH),
        ],
    )
    .await;
    let refused: Vec<bool> = out.records.iter().map(throttled).collect();
    assert_eq!(refused, [false, true, true, false]);
    h.put("s", "k", "first").await;
    let refused = h
        .engine
        .put_record(&h.ctx, put_input("s", "k", "second"))
        .await
        .unwrap_err();
    assert!(matches!(
        refused,
        PutRecordError::ProvisionedThroughputExceeded(_)
    ));
    let it = h
        .iterator(
            "s",
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await;
    assert!(matches!(
        get_records(&h, &it).await,
        Err(GetRecordsError::ProvisionedThroughputExceeded(_))
    ));
    // Internal failures are the server's to send; the engine says when.
    assert!(h.engine.inject_internal_failure("DescribeStream"));
    assert!(!h.engine.inject_internal_failure("ListStreams"));
}

#[tokio::test]
async fn throttles_are_counted_in_the_metrics() {
    use tributary_telemetry::Exposition;
    let (config, _clock) = limited(only(|r| {
        r.write_records_per_sec = 2;
        r.read_calls_per_sec = 1;
    }));
    let h = Harness::with_config(config).await;
    h.create("s", 2).await;
    let out = put_records(&h, "s", vec![entry("x", "0"); 3]).await;
    assert_eq!(out.failed_record_count, Some(1));
    let it = h
        .iterator(
            "s",
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await;
    get_records(&h, &it).await.unwrap();
    assert!(get_records(&h, &it).await.is_err());

    let mut text = Exposition::new();
    h.engine.write_metrics(&mut text);
    let text = text.finish();
    let value = |name: &str| {
        let series = format!("{name}{{account=\"{ACCOUNT}\",region=\"{REGION}\",stream=\"s\"}}");
        text.lines()
            .find_map(|l| l.rsplit_once(' ').filter(|(s, _)| *s == series))
            .map(|(_, v)| v.parse::<f64>().unwrap())
    };
    assert_eq!(
        value("tributary_put_records_throttled_records_total"),
        Some(1.0)
    );
    assert_eq!(
        value("tributary_read_provisioned_throughput_exceeded_total"),
        Some(1.0)
    );
    assert_eq!(
        value("tributary_write_provisioned_throughput_exceeded_total"),
        Some(1.0)
    );
}
