//! PutRecord, PutRecords, GetShardIterator, GetRecords.

use std::time::Duration;

use bytes::Bytes;
use tributary_engine::EngineConfig;
use tributary_model::types::*;
use tributary_model::*;

use crate::*;

const TOP: &str = "340282366920938463463374607431768211455";
const ONE_THIRD_EDGE_BELOW: &str = "226854911280625642308916404954512140969";
const ONE_THIRD_EDGE: &str = "226854911280625642308916404954512140970";

fn entry(key: &str, data: &str, hash: Option<&str>) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry {
        partition_key: Some(key.into()),
        data: Bytes::from(data.to_owned()),
        explicit_hash_key: hash.map(Into::into),
    }
}

fn records_input(name: &str, records: Vec<PutRecordsRequestEntry>) -> PutRecordsInput {
    PutRecordsInput {
        stream_name: Some(name.into()),
        records,
        ..Default::default()
    }
}

#[tokio::test]
async fn put_then_read_from_trim_horizon() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let a = h.put("s", "pk", "one").await;
    let b = h.put("s", "pk", "two").await;
    assert_eq!(a.shard_id, "shardId-000000000000");
    assert_eq!(a.sequence_number.len(), 56);
    assert!(a.sequence_number < b.sequence_number);
    let (data, out) = h.drain("s", "shardId-000000000000").await;
    assert_eq!(data, ["one", "two"]);
    assert_eq!(out.records[0].sequence_number, a.sequence_number);
    assert_eq!(out.records[0].partition_key.as_deref(), Some("pk"));
    assert!(out.records[0].approximate_arrival_timestamp.is_some());
    assert_eq!(out.millis_behind_latest, Some(0));
    assert!(out.child_shards.is_none());
    // The next iterator continues after what was read.
    let next = out.next_shard_iterator.unwrap();
    assert!(h.get(&next).await.records.is_empty());
    h.put("s", "pk", "three").await;
    let out = h.get(&next).await;
    assert_eq!(
        out.records.iter().map(data_str).collect::<Vec<_>>(),
        ["three"]
    );
}

#[tokio::test]
async fn put_records_routes_like_aws_in_one_append() {
    let h = Harness::new().await;
    h.create("s", 3).await;
    let before = h.log.append_calls();
    let out = h
        .engine
        .put_records(
            &h.ctx,
            records_input(
                "s",
                vec![
                    entry("a", "0", None),
                    entry("b", "1", None),
                    entry("e", "2", None),
                    entry("f", "3", None),
                    entry("a", "4", Some(TOP)),
                    entry("a", "5", Some(ONE_THIRD_EDGE_BELOW)),
                    entry("a", "6", Some(ONE_THIRD_EDGE)),
                ],
            ),
        )
        .await
        .unwrap();
    assert_eq!(h.log.append_calls() - before, 1);
    assert_eq!(out.failed_record_count, Some(0));
    let shards: Vec<_> = out
        .records
        .iter()
        .map(|r| r.shard_id.as_deref().unwrap())
        .collect();
    assert_eq!(
        shards,
        [
            "shardId-000000000000",
            "shardId-000000000001",
            "shardId-000000000002",
            "shardId-000000000001",
            "shardId-000000000002",
            "shardId-000000000001",
            "shardId-000000000002"
        ]
    );
    // Order within a shard follows the request.
    let (data, out1) = h.drain("s", "shardId-000000000001").await;
    assert_eq!(data, ["1", "3", "5"]);
    let seqs: Vec<_> = out1
        .records
        .iter()
        .map(|r| r.sequence_number.clone())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn put_errors() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let e = h
        .engine
        .put_record(&h.ctx, put_input("nope", "a", ""))
        .await;
    assert_eq!(
        e,
        Err(PutRecordError::ResourceNotFound(format!(
            "Stream nope under account {ACCOUNT} not found."
        )))
    );
    let mut input = put_input("s", "a", "");
    input.explicit_hash_key = Some("340282366920938463463374607431768211456".into());
    let e = h.engine.put_record(&h.ctx, input).await;
    assert_eq!(
        e,
        Err(PutRecordError::InvalidArgument(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was \
             340282366920938463463374607431768211456"
                .into()
        ))
    );
    let e = h
        .engine
        .put_records(
            &h.ctx,
            records_input(
                "s",
                vec![
                    entry("a", "", Some("340282366920938463463374607431768211456")),
                    entry("a", "", None),
                ],
            ),
        )
        .await;
    assert!(
        matches!(e, Err(PutRecordsError::InvalidArgument(m)) if m.starts_with("Invalid ExplicitHashKey"))
    );
    let mut input = put_input("s", "a", "");
    input.partition_key = None;
    let e = h.engine.put_record(&h.ctx, input).await;
    assert!(
        matches!(e, Err(PutRecordError::InvalidArgument(_))),
        "{e:?}"
    );
    // Records larger than the stream's maximum record size (1 MiB by default).
    let mut input = put_input("s", "a", "");
    input.data = Bytes::from(vec![0u8; 1024 * 1024]);
    let e = h.engine.put_record(&h.ctx, input).await;
    assert!(
        matches!(e, Err(PutRecordError::InvalidArgument(m)) if m.contains("maximum record size"))
    );
    let mut input = put_input("s", "", "");
    input.data = Bytes::from(vec![0u8; 1024 * 1024]);
    input.partition_key = Some(String::new());
    assert!(h.engine.put_record(&h.ctx, input).await.is_ok());
}

#[tokio::test]
async fn sequence_number_for_ordering() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let first = h.put("s", "a", "1").await;
    let mut input = put_input("s", "a", "2");
    input.sequence_number_for_ordering = Some(first.sequence_number.clone());
    let second = h.engine.put_record(&h.ctx, input).await.unwrap();
    assert!(second.sequence_number > first.sequence_number);
    for bad in [
        "5".to_owned(),
        format!("1{:012}{:010}{:020}{:013}", 1, 0, 0, 9_999_999_999_999u64),
    ] {
        let mut input = put_input("s", "a", "3");
        input.sequence_number_for_ordering = Some(bad.clone());
        let e = h.engine.put_record(&h.ctx, input).await;
        assert_eq!(
            e,
            Err(PutRecordError::InvalidArgument(format!(
                "ExclusiveMinimumSequenceNumber {bad} used in PutRecord on stream s under account {ACCOUNT} is invalid."
            )))
        );
    }
}

#[tokio::test]
async fn iterator_types() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let latest = h
        .iterator("s", "shardId-0", ShardIteratorType::Latest, None)
        .await;
    let before_ms = Timestamp::now().millis();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let r: Vec<_> = futures_put(&h, &["r0", "r1", "r2"]).await;
    let got = |out: GetRecordsOutput| out.records.iter().map(data_str).collect::<Vec<_>>();
    assert_eq!(got(h.get(&latest).await), ["r0", "r1", "r2"]);
    let at = h
        .iterator(
            "s",
            "shardId-0",
            ShardIteratorType::AtSequenceNumber,
            Some(&r[1]),
        )
        .await;
    assert_eq!(got(h.get(&at).await), ["r1", "r2"]);
    let after = h
        .iterator(
            "s",
            "shardId-0",
            ShardIteratorType::AfterSequenceNumber,
            Some(&r[1]),
        )
        .await;
    assert_eq!(got(h.get(&after).await), ["r2"]);
    let start = h.describe("s").await.shards[0]
        .sequence_number_range
        .starting_sequence_number
        .clone();
    let at_start = h
        .iterator(
            "s",
            "shardId-0",
            ShardIteratorType::AtSequenceNumber,
            Some(&start),
        )
        .await;
    assert_eq!(got(h.get(&at_start).await), ["r0", "r1", "r2"]);
    let latest_now = h
        .iterator("s", "shardId-0", ShardIteratorType::Latest, None)
        .await;
    assert!(h.get(&latest_now).await.records.is_empty());

    let at_ts = |ms: i64| GetShardIteratorInput {
        stream_name: Some("s".into()),
        shard_id: "shardId-000000000000".into(),
        shard_iterator_type: ShardIteratorType::AtTimestamp,
        timestamp: Some(Timestamp(ms)),
        ..Default::default()
    };
    let it = h
        .engine
        .get_shard_iterator(&h.ctx, at_ts(before_ms))
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let out = h.get(&it).await;
    assert_eq!(got(out.clone()), ["r0", "r1", "r2"]);
    let it = h
        .engine
        .get_shard_iterator(&h.ctx, at_ts(0))
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    assert_eq!(got(h.get(&it).await).len(), 3);
    // A time-based iterator that found nothing keeps waiting for later records.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let it = h
        .engine
        .get_shard_iterator(&h.ctx, at_ts(Timestamp::now().millis()))
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let empty = h.get(&it).await;
    assert!(empty.records.is_empty());
    h.put("s", "a", "r3").await;
    assert_eq!(
        got(h.get(&empty.next_shard_iterator.unwrap()).await),
        ["r3"]
    );
}

async fn futures_put(h: &Harness, data: &[&str]) -> Vec<String> {
    let mut seqs = Vec::new();
    for d in data {
        seqs.push(h.put("s", "a", d).await.sequence_number);
    }
    seqs
}

#[tokio::test]
async fn iterator_errors_carry_aws_messages() {
    let h = Harness::new().await;
    h.create("s", 2).await;
    h.create("other", 1).await;
    let p = h.put_hash("s", "0", "x").await;
    let q = h.put_hash("s", TOP, "y").await;
    let foreign = h.put("other", "a", "z").await;
    let gsi = |shard: &str, kind: ShardIteratorType, seq: Option<&str>| GetShardIteratorInput {
        stream_name: Some("s".into()),
        shard_id: shard.into(),
        shard_iterator_type: kind,
        starting_sequence_number: seq.map(Into::into),
        ..Default::default()
    };
    let cases: Vec<(GetShardIteratorInput, GetShardIteratorError)> = vec![
        (
            GetShardIteratorInput { stream_name: Some("nope".into()), ..gsi("shardId-1", ShardIteratorType::Latest, None) },
            GetShardIteratorError::ResourceNotFound(format!(
                "Shard shardId-000000000001 in stream nope under account {ACCOUNT} does not exist"
            )),
        ),
        (
            gsi("ABKLFD8", ShardIteratorType::Latest, None),
            GetShardIteratorError::ResourceNotFound(format!("Could not find shard ABKLFD8 in stream s under account {ACCOUNT}.")),
        ),
        (
            gsi("shardId-5", ShardIteratorType::Latest, None),
            GetShardIteratorError::ResourceNotFound(format!(
                "Shard shardId-000000000005 in stream s under account {ACCOUNT} does not exist"
            )),
        ),
        (
            gsi("shardId-0", ShardIteratorType::AtSequenceNumber, None),
            GetShardIteratorError::InvalidArgument(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or \
                 (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and \
                 no StartingSequenceNumber."
                    .into(),
            ),
        ),
        (
            gsi("shardId-0", ShardIteratorType::TrimHorizon, Some(&p.sequence_number)),
            GetShardIteratorError::InvalidArgument(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or \
                 (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified TRIM_HORIZON and also \
                 a StartingSequenceNumber."
                    .into(),
            ),
        ),
        (
            gsi("shardId-0", ShardIteratorType::AtSequenceNumber, Some("5")),
            GetShardIteratorError::InvalidArgument(format!(
                "StartingSequenceNumber 5 used in GetShardIterator on shard shardId-000000000000 in stream s under \
                 account {ACCOUNT} is invalid."
            )),
        ),
        (
            gsi("shardId-0", ShardIteratorType::AfterSequenceNumber, Some(&q.sequence_number)),
            GetShardIteratorError::InvalidArgument(
                "Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to a \
                 shard with shardId-000000000000"
                    .into(),
            ),
        ),
        (
            gsi("shardId-0", ShardIteratorType::AtSequenceNumber, Some(&foreign.sequence_number)),
            GetShardIteratorError::InvalidArgument(format!(
                "StartingSequenceNumber {} used in GetShardIterator on shard shardId-000000000000 in stream s under \
                 account {ACCOUNT} is invalid because it did not come from this stream.",
                foreign.sequence_number
            )),
        ),
        (
            gsi("shardId-0", ShardIteratorType::AtTimestamp, None),
            GetShardIteratorError::InvalidArgument(
                "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no \
                 timestamp parameter."
                    .into(),
            ),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            h.engine.get_shard_iterator(&h.ctx, input).await,
            Err(expected)
        );
    }
    let future = Timestamp::now().millis() + 60_000;
    let e = h
        .engine
        .get_shard_iterator(
            &h.ctx,
            GetShardIteratorInput {
                timestamp: Some(Timestamp(future)),
                ..gsi("shardId-0", ShardIteratorType::AtTimestamp, None)
            },
        )
        .await;
    assert!(
        matches!(&e, Err(GetShardIteratorError::InvalidArgument(m))
            if m.starts_with(&format!("The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {future}, currentTimestampInMillis: "))),
        "{e:?}"
    );
}

#[tokio::test]
async fn get_records_limit_and_bad_iterators() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    futures_put(&h, &["0", "1", "2", "3", "4"]).await;
    let it = h
        .iterator("s", "shardId-0", ShardIteratorType::TrimHorizon, None)
        .await;
    let out = h
        .engine
        .get_records(
            &h.ctx,
            GetRecordsInput {
                shard_iterator: it.clone(),
                limit: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        out.records.iter().map(data_str).collect::<Vec<_>>(),
        ["0", "1"]
    );
    assert!(out.millis_behind_latest.unwrap() >= 0);
    let next = out.next_shard_iterator.unwrap();
    let out = h
        .engine
        .get_records(
            &h.ctx,
            GetRecordsInput {
                shard_iterator: next,
                limit: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        out.records.iter().map(data_str).collect::<Vec<_>>(),
        ["2", "3", "4"]
    );
    // Re-reading an iterator reads the same records again.
    assert_eq!(h.get(&it).await.records.len(), 5);

    let invalid = Err(GetRecordsError::InvalidArgument(
        "Invalid ShardIterator.".into(),
    ));
    let get = |t: String| {
        h.engine.get_records(
            &h.ctx,
            GetRecordsInput {
                shard_iterator: t,
                ..Default::default()
            },
        )
    };
    assert_eq!(get("not-an-iterator".into()).await, invalid);
    let mut tampered = it.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    assert_eq!(get(String::from_utf8(tampered).unwrap()).await, invalid);

    // Reading another account's stream needs its ARN.
    let other = RequestContext::new("999999999999", REGION);
    let e = h
        .engine
        .get_records(
            &other,
            GetRecordsInput {
                shard_iterator: it.clone(),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(GetRecordsError::ResourceNotFound(_))),
        "{e:?}"
    );
    let ok = h
        .engine
        .get_records(
            &other,
            GetRecordsInput {
                shard_iterator: it.clone(),
                stream_arn: Some(h.arn("s")),
                ..Default::default()
            },
        )
        .await;
    assert!(ok.is_ok());
    let e = h
        .engine
        .get_records(
            &h.ctx,
            GetRecordsInput {
                shard_iterator: it,
                stream_arn: Some(h.arn("t")),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(GetRecordsError::InvalidArgument(_))),
        "{e:?}"
    );
}

#[tokio::test]
async fn iterators_expire() {
    let h = Harness::with_config(EngineConfig {
        iterator_ttl: Duration::from_millis(50),
        ..Default::default()
    })
    .await;
    h.create("s", 1).await;
    let it = h
        .iterator("s", "shardId-0", ShardIteratorType::TrimHorizon, None)
        .await;
    tokio::time::sleep(Duration::from_millis(80)).await;
    let e = h
        .engine
        .get_records(
            &h.ctx,
            GetRecordsInput {
                shard_iterator: it,
                ..Default::default()
            },
        )
        .await;
    let Err(GetRecordsError::ExpiredIterator(m)) = e else {
        panic!("{e:?}")
    };
    assert!(
        m.starts_with("Iterator expired. The iterator was created at time "),
        "{m}"
    );
    assert!(
        m.ends_with("which is further in the future than the tolerated delay of 50 milliseconds."),
        "{m}"
    );
    assert!(m.contains(" UTC 20"), "{m}");
}

#[tokio::test]
async fn dry_run_checks_without_effect() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let dry = "Request would have succeeded, but DryRun flag is set.".to_owned();
    let mut input = put_input("s", "a", "x");
    input.dry_run = Some(true);
    assert_eq!(
        h.engine.put_record(&h.ctx, input).await,
        Err(PutRecordError::DryRunOperation(dry.clone()))
    );
    let mut input = records_input("s", vec![entry("a", "x", None)]);
    input.dry_run = Some(true);
    assert_eq!(
        h.engine.put_records(&h.ctx, input).await,
        Err(PutRecordsError::DryRunOperation(dry.clone()))
    );
    // A dry run that would fail reports the failure.
    let mut input = put_input("nope", "a", "x");
    input.dry_run = Some(true);
    assert!(matches!(
        h.engine.put_record(&h.ctx, input).await,
        Err(PutRecordError::ResourceNotFound(_))
    ));
    let input = GetShardIteratorInput {
        stream_name: Some("s".into()),
        shard_id: "shardId-0".into(),
        shard_iterator_type: ShardIteratorType::TrimHorizon,
        dry_run: Some(true),
        ..Default::default()
    };
    assert_eq!(
        h.engine.get_shard_iterator(&h.ctx, input).await,
        Err(GetShardIteratorError::DryRunOperation(dry.clone()))
    );
    let it = h
        .iterator("s", "shardId-0", ShardIteratorType::TrimHorizon, None)
        .await;
    let input = GetRecordsInput {
        shard_iterator: it,
        dry_run: Some(true),
        ..Default::default()
    };
    assert_eq!(
        h.engine.get_records(&h.ctx, input).await,
        Err(GetRecordsError::DryRunOperation(dry))
    );
    assert!(h.drain("s", "shardId-0").await.0.is_empty());
}

#[tokio::test]
async fn storage_failures_fail_every_record() {
    let h = Harness::new().await;
    h.create("s", 2).await;
    h.log.fail_appends(true);
    let out = h
        .engine
        .put_records(
            &h.ctx,
            records_input("s", vec![entry("a", "1", None), entry("b", "2", None)]),
        )
        .await
        .unwrap();
    assert_eq!(out.failed_record_count, Some(2));
    for r in &out.records {
        assert_eq!(r.error_code.as_deref(), Some("InternalFailure"));
        assert_eq!(
            r.error_message.as_deref(),
            Some("Internal service failure.")
        );
        assert!(r.sequence_number.is_none() && r.shard_id.is_none());
    }
    let e = h.engine.put_record(&h.ctx, put_input("s", "a", "x")).await;
    assert_eq!(
        e,
        Err(PutRecordError::InternalFailure(
            "Internal service failure.".into()
        ))
    );
    h.log.fail_appends(false);
    h.put("s", "a", "ok").await;
}

#[tokio::test]
async fn auto_distribution_spreads_records_without_keys() {
    let h = Harness::new().await;
    let input = CreateStreamInput {
        stream_name: "auto".into(),
        record_distribution_strategy: Some(RecordDistributionStrategy::Auto),
        ..Default::default()
    };
    h.engine.create_stream(&h.ctx, input).await.unwrap();
    let records = (0..8)
        .map(|i| PutRecordsRequestEntry {
            data: Bytes::from(format!("{i}")),
            ..Default::default()
        })
        .collect();
    let out = h
        .engine
        .put_records(&h.ctx, records_input("auto", records))
        .await
        .unwrap();
    let mut shards: Vec<_> = out
        .records
        .iter()
        .map(|r| r.shard_id.clone().unwrap())
        .collect();
    shards.sort();
    shards.dedup();
    assert_eq!(shards.len(), 4, "records spread over every open shard");
    let (_, got) = h
        .drain("auto", &out.records[0].shard_id.clone().unwrap())
        .await;
    assert!(got.records[0].partition_key.is_none());
    let mut input = put_input("auto", "k", "x");
    input.sequence_number_for_ordering = Some(out.records[0].sequence_number.clone().unwrap());
    let e = h.engine.put_record(&h.ctx, input).await;
    assert!(
        matches!(e, Err(PutRecordError::InvalidArgument(_))),
        "{e:?}"
    );
}
