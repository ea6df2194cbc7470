//! Throughput limits and injected faults through the binary (`--limits`, `--faults`), with
//! the SDK's retries off so every refusal is seen. The real clock runs here, so each check
//! leaves wide room: a request is admitted or refused in one instant, and the refills the
//! checks rely on not happening take far longer than the calls between them.

use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use tributary_testkit::TestServer;

use crate::{create, err_of, iterator, server, server_with, ACCOUNT};

fn no_retries(s: &TestServer) -> aws_sdk_kinesis::Client {
    let conf = s
        .sdk()
        .config()
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_kinesis::Client::from_conf(conf)
}

/// 500 entries of 3 KiB (with the key): 1.5 MiB for one shard of 1 MiB/s.
fn entries() -> Vec<PutRecordsRequestEntry> {
    (0..500)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key("k")
                .data(Blob::new(vec![i as u8; 3 * 1024 - 1]))
                .build()
                .unwrap()
        })
        .collect()
}

const SHARD_MESSAGE: &str = "Rate exceeded for shard shardId-000000000000 in stream lim under \
                             account 000000000000.";

#[tokio::test]
async fn aws_limits_fail_the_entries_over_a_shard_rate_then_put_record_whole() {
    let s = server_with(&["--limits", "aws"]);
    let c = no_retries(&s);
    create(&c, "lim", 1).await;
    let out = c
        .put_records()
        .stream_name("lim")
        .set_records(Some(entries()))
        .send()
        .await
        .unwrap();
    let failed: Vec<usize> = (0..500)
        .filter(|&i| out.records()[i].error_code().is_some())
        .collect();
    // 1 MiB / 3 KiB: the first 341 fit; the rest (a suffix: one shard, in order) do not.
    assert_eq!(failed.first(), Some(&341), "{failed:?}");
    assert_eq!(failed.len(), 159);
    assert_eq!(out.failed_record_count(), Some(159));
    for &i in &failed {
        let r = &out.records()[i];
        assert_eq!(
            r.error_code(),
            Some("ProvisionedThroughputExceededException")
        );
        assert_eq!(r.error_message(), Some(SHARD_MESSAGE));
    }
    // The bucket refills 1 KiB per millisecond: 500 KiB is out of reach for half a second.
    let (code, message) = err_of(
        c.put_record()
            .stream_name("lim")
            .partition_key("k")
            .data(Blob::new(vec![0u8; 500 * 1024]))
            .send()
            .await,
    );
    assert_eq!(code, "ProvisionedThroughputExceededException");
    assert_eq!(message, SHARD_MESSAGE);
}

#[tokio::test]
async fn aws_limits_throttle_the_sixth_get_records_in_a_second() {
    let s = server_with(&["--limits", "aws"]);
    let c = no_retries(&s);
    create(&c, "lim", 1).await;
    let it = iterator(&c, "lim", "shardId-000000000000", ShardIteratorType::Latest).await;
    let mut answers = Vec::new();
    // Ten calls back to back: one more call is allowed per 200 ms, far slower than these.
    for _ in 0..10 {
        answers.push(c.get_records().shard_iterator(&it).send().await);
    }
    for (i, a) in answers.iter().take(5).enumerate() {
        assert!(a.is_ok(), "call {i}: {a:?}");
    }
    let refused = answers.into_iter().skip(5).find(Result::is_err);
    let (code, message) = err_of(refused.expect("a call past the fifth is throttled"));
    assert_eq!(code, "ProvisionedThroughputExceededException");
    assert_eq!(
        message,
        format!("Rate exceeded for Shard - {ACCOUNT}/lim/shardId-000000000000")
    );
}

#[tokio::test]
async fn aws_limits_rate_describe_limits_at_one_call_a_second() {
    let s = server_with(&["--limits", "aws"]);
    let c = no_retries(&s);
    c.describe_limits().send().await.unwrap();
    let (code, _) = err_of(c.describe_limits().send().await);
    assert_eq!(code, "LimitExceededException");
}

#[tokio::test]
async fn limits_are_off_by_default() {
    let s = server();
    let c = no_retries(&s);
    create(&c, "lim", 1).await;
    for _ in 0..3 {
        let out = c
            .put_records()
            .stream_name("lim")
            .set_records(Some(entries()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_record_count(), Some(0));
    }
    let it = iterator(&c, "lim", "shardId-000000000000", ShardIteratorType::Latest).await;
    for _ in 0..20 {
        c.get_records().shard_iterator(&it).send().await.unwrap();
        c.describe_limits().send().await.unwrap();
    }
}

#[tokio::test]
async fn injected_faults_throttle_entries_and_fail_calls() {
    let s = server_with(&[
        "--faults",
        "seed=1,PutRecords:throttle_every=2,DescribeStreamSummary:internal_every=1",
    ]);
    let c = no_retries(&s);
    create(&c, "lim", 1).await;
    let records: Vec<_> = (0..4)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key("k")
                .data(Blob::new(format!("r{i}")))
                .build()
                .unwrap()
        })
        .collect();
    let out = c
        .put_records()
        .stream_name("lim")
        .set_records(Some(records))
        .send()
        .await
        .unwrap();
    let codes: Vec<Option<&str>> = out.records().iter().map(|r| r.error_code()).collect();
    let t = Some("ProvisionedThroughputExceededException");
    assert_eq!(codes, [None, t, t, t]);
    let (code, _) = err_of(c.describe_stream_summary().stream_name("lim").send().await);
    assert!(code.starts_with("InternalFailure"), "{code}");
}
