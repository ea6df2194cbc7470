//! The rest of the stream API's promises: state transitions with delays, iterator expiry,
//! DescribeStream paging, every ShardFilter, GetRecords limits, settings updates, DryRun on
//! every data-plane operation, addressing by ARN.

use std::time::Duration;

use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{
    MinimumThroughputBillingCommitmentInput, MinimumThroughputBillingCommitmentInputStatus,
    PutRecordsRequestEntry, RecordDistributionStrategy, ShardFilter, ShardFilterType,
    ShardIteratorType, StreamMode, StreamModeDetails, StreamStatus,
};

use crate::{arn, create, err_of, iterator, server, server_with};

async fn status(c: &aws_sdk_kinesis::Client, name: &str) -> StreamStatus {
    c.describe_stream_summary()
        .stream_name(name)
        .send()
        .await
        .unwrap()
        .stream_description_summary()
        .unwrap()
        .stream_status()
        .clone()
}

/// Polls every 50 ms for up to 10 s (the SDK's waiters poll every 10 s, too slow for tests;
/// the client scenarios exercise them).
async fn wait_for(c: &aws_sdk_kinesis::Client, name: &str, want: Option<StreamStatus>) {
    for _ in 0..200 {
        let got = c.describe_stream_summary().stream_name(name).send().await;
        let now = got.ok().and_then(|r| {
            r.stream_description_summary()
                .map(|d| d.stream_status().clone())
        });
        if now == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never reached {want:?}");
}

#[tokio::test]
async fn transitions_follow_the_configured_delays() {
    let s = server_with(&[
        "--create-stream-ms",
        "400",
        "--update-stream-ms",
        "400",
        "--delete-stream-ms",
        "400",
    ]);
    let c = s.sdk();
    create(&c, "slow", 1).await;
    assert_eq!(status(&c, "slow").await, StreamStatus::Creating);
    let (code, _) = err_of(
        c.put_record()
            .stream_name("slow")
            .partition_key("k")
            .data(Blob::new("x"))
            .send()
            .await,
    );
    assert_eq!(
        code, "ResourceNotFoundException",
        "a CREATING stream takes no records"
    );
    wait_for(&c, "slow", Some(StreamStatus::Active)).await;

    c.split_shard()
        .stream_name("slow")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("1000")
        .send()
        .await
        .unwrap();
    assert_eq!(status(&c, "slow").await, StreamStatus::Updating);
    let (code, _) = err_of(
        c.increase_stream_retention_period()
            .stream_name("slow")
            .retention_period_hours(48)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUseException");
    wait_for(&c, "slow", Some(StreamStatus::Active)).await;

    c.delete_stream().stream_name("slow").send().await.unwrap();
    assert_eq!(status(&c, "slow").await, StreamStatus::Deleting);
    wait_for(&c, "slow", None).await;
}

#[tokio::test]
async fn iterators_expire() {
    let s = server_with(&["--iterator-ttl-ms", "300"]);
    let c = s.sdk();
    create(&c, "exp", 1).await;
    let it = iterator(
        &c,
        "exp",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (code, _) = err_of(c.get_records().shard_iterator(&it).send().await);
    assert_eq!(code, "ExpiredIteratorException");
}

#[tokio::test]
async fn describe_stream_pages_and_shard_filters() {
    let s = server();
    let c = s.sdk();
    create(&c, "many", 5).await;
    let first = c
        .describe_stream()
        .stream_name("many")
        .limit(2)
        .send()
        .await
        .unwrap();
    let d = first.stream_description().unwrap();
    assert_eq!(d.shards().len(), 2);
    assert!(d.has_more_shards());
    let rest = c
        .describe_stream()
        .stream_name("many")
        .exclusive_start_shard_id("shardId-000000000001")
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = rest
        .stream_description()
        .unwrap()
        .shards()
        .iter()
        .map(|s| s.shard_id())
        .collect();
    assert_eq!(
        ids,
        [
            "shardId-000000000002",
            "shardId-000000000003",
            "shardId-000000000004"
        ]
    );

    c.split_shard()
        .stream_name("many")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("1000")
        .send()
        .await
        .unwrap();
    let filter = |t: ShardFilterType| ShardFilter::builder().r#type(t).build().unwrap();
    let count = |f: ShardFilter| {
        let c = c.clone();
        async move {
            c.list_shards()
                .stream_name("many")
                .shard_filter(f)
                .send()
                .await
                .unwrap()
                .shards()
                .len()
        }
    };
    assert_eq!(
        count(filter(ShardFilterType::AtLatest)).await,
        6,
        "open shards only"
    );
    assert_eq!(
        count(filter(ShardFilterType::AtTrimHorizon)).await,
        5,
        "shards open at the trim horizon: the children are younger"
    );
    assert_eq!(count(filter(ShardFilterType::FromTrimHorizon)).await, 7);
    let after = ShardFilter::builder()
        .r#type(ShardFilterType::AfterShardId)
        .shard_id("shardId-000000000004")
        .build()
        .unwrap();
    assert_eq!(count(after).await, 2);
    let now = DateTime::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let at_ts = ShardFilter::builder()
        .r#type(ShardFilterType::AtTimestamp)
        .timestamp(now)
        .build()
        .unwrap();
    assert_eq!(count(at_ts).await, 6, "shards open at that time");
    let from_ts = ShardFilter::builder()
        .r#type(ShardFilterType::FromTimestamp)
        .timestamp(now)
        .build()
        .unwrap();
    assert!(count(from_ts).await >= 6);
}

#[tokio::test]
async fn get_records_honours_limit_and_reports_lag() {
    let s = server();
    let c = s.sdk();
    create(&c, "lim", 1).await;
    for _ in 0..3 {
        let entries = (0..500)
            .map(|i| {
                PutRecordsRequestEntry::builder()
                    .partition_key(format!("{i}"))
                    .data(Blob::new(vec![1u8; 10]))
                    .build()
                    .unwrap()
            })
            .collect();
        c.put_records()
            .stream_name("lim")
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
    }
    let it = iterator(
        &c,
        "lim",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
    )
    .await;
    let r = c
        .get_records()
        .shard_iterator(&it)
        .limit(1000)
        .send()
        .await
        .unwrap();
    assert_eq!(r.records().len(), 1000);
    let r = c
        .get_records()
        .shard_iterator(r.next_shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.records().len(), 500);
    assert_eq!(r.millis_behind_latest(), Some(0));
}

#[tokio::test]
async fn ten_mib_response_cap() {
    let s = server();
    let c = s.sdk();
    c.create_stream()
        .stream_name("cap")
        .shard_count(1)
        .max_record_size_in_kib(10240)
        .send()
        .await
        .unwrap();
    for _ in 0..3 {
        c.put_record()
            .stream_name("cap")
            .partition_key("k")
            .data(Blob::new(vec![9u8; 4 << 20]))
            .send()
            .await
            .unwrap();
    }
    let it = iterator(
        &c,
        "cap",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
    )
    .await;
    let r = c.get_records().shard_iterator(&it).send().await.unwrap();
    assert_eq!(
        r.records().len(),
        2,
        "two 4 MiB records fit in 10 MiB, a third does not"
    );
    let r = c
        .get_records()
        .shard_iterator(r.next_shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.records().len(), 1);
}

#[tokio::test]
async fn settings_updates_by_arn() {
    let s = server();
    let c = s.sdk();
    create(&c, "set", 1).await;
    c.update_stream_record_distribution_strategy()
        .stream_arn(arn("set"))
        .record_distribution_strategy(RecordDistributionStrategy::UserPartitionKey)
        .send()
        .await
        .unwrap();
    let sum = c
        .describe_stream_summary()
        .stream_name("set")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sum.stream_description_summary()
            .unwrap()
            .record_distribution_strategy(),
        Some(&RecordDistributionStrategy::UserPartitionKey)
    );
    let (code, _) = err_of(
        c.update_stream_record_distribution_strategy()
            .stream_arn(arn("set"))
            .record_distribution_strategy(RecordDistributionStrategy::Auto)
            .send()
            .await,
    );
    assert_eq!(
        code, "InvalidArgumentException",
        "AUTO is for on-demand streams"
    );
    c.create_stream()
        .stream_name("od-warm")
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::OnDemand)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let w = c
        .update_stream_warm_throughput()
        .stream_arn(arn("od-warm"))
        .warm_throughput_mibps(50)
        .send()
        .await
        .unwrap();
    assert_eq!(w.warm_throughput().and_then(|w| w.target_mibps()), Some(50));
    let acct = c
        .update_account_settings()
        .minimum_throughput_billing_commitment(
            MinimumThroughputBillingCommitmentInput::builder()
                .status(MinimumThroughputBillingCommitmentInputStatus::Enabled)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(acct.minimum_throughput_billing_commitment().is_some());
    let d = c.describe_account_settings().send().await.unwrap();
    assert!(d.minimum_throughput_billing_commitment().is_some());
}

#[tokio::test]
async fn dry_run_on_every_data_plane_operation() {
    let s = server();
    let c = s.sdk();
    create(&c, "dry2", 1).await;
    let entry = PutRecordsRequestEntry::builder()
        .partition_key("k")
        .data(Blob::new("x"))
        .build()
        .unwrap();
    let (code, _) = err_of(
        c.put_records()
            .stream_name("dry2")
            .records(entry)
            .dry_run(true)
            .send()
            .await,
    );
    assert_eq!(code, "DryRunOperationException");
    let (code, _) = err_of(
        c.get_shard_iterator()
            .stream_name("dry2")
            .shard_id("shardId-000000000000")
            .shard_iterator_type(ShardIteratorType::Latest)
            .dry_run(true)
            .send()
            .await,
    );
    assert_eq!(code, "DryRunOperationException");
    let it = c
        .get_shard_iterator()
        .stream_arn(arn("dry2"))
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::Latest)
        .send()
        .await
        .unwrap();
    let (code, _) = err_of(
        c.get_records()
            .shard_iterator(it.shard_iterator().unwrap())
            .dry_run(true)
            .send()
            .await,
    );
    assert_eq!(code, "DryRunOperationException");
}

#[tokio::test]
async fn delete_with_enforce_consumer_deletion_and_name_arn_mismatch() {
    let s = server();
    let c = s.sdk();
    create(&c, "del", 1).await;
    create(&c, "other", 1).await;
    let (code, _) = err_of(
        c.describe_stream_summary()
            .stream_name("del")
            .stream_arn(arn("other"))
            .send()
            .await,
    );
    assert_eq!(
        code, "InvalidArgumentException",
        "StreamName and StreamARN must name the same stream"
    );
    c.delete_stream()
        .stream_arn(arn("del"))
        .enforce_consumer_deletion(true)
        .send()
        .await
        .unwrap();
    let (code, _) = err_of(c.delete_stream().stream_name("del").send().await);
    assert_eq!(code, "ResourceNotFoundException");
}
