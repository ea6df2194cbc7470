//! PutRecord, PutRecords, GetShardIterator, GetRecords.

use bytes::Bytes;
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
    let before = h.hooks().map(|m| m.append_calls());
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
    if let (Some(m), Some(before)) = (h.hooks(), before) {
        assert_eq!(
            m.append_calls() - before,
            1,
            "one append for the whole request"
        );
    }
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
    // Any well-formed number orders, from any stream (AWS accepts "5", an old-form number).
    for good in [
        "5",
        "49590338271490256608559692538361571095921575989136588898",
    ] {
        let mut input = put_input("s", "a", "3");
        input.sequence_number_for_ordering = Some(good.into());
        assert!(h.engine.put_record(&h.ctx, input).await.is_ok(), "{good}");
    }
    // A 0.1-layout number from the future; one below AWS's range and not of 0.1's layout
    // either (its shard field is above u32::MAX).
    for bad in [
        format!("1{:012}{:010}{:020}{:013}", 1, 0, 0, 9_999_999_999_999u64),
        format!("1{}", "9".repeat(55)),
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
    let Some(mem) = h.hooks() else {
        return; // fails the in-memory log's appends: checked on the in-memory pass
    };
    h.create("s", 2).await;
    mem.fail_appends(true);
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
    mem.fail_appends(false);
    h.put("s", "a", "ok").await;
}

/// A replicated store may store an append to several shards in some of them only, and
/// refuse another as unknown for a moment (JetStream during a leader change). The engine
/// writes again the records of the refused shard, and only those: each record is stored
/// once, and the answer gives each its place.
#[tokio::test]
async fn a_partial_append_writes_again_only_the_refused_shards_records() {
    let h = Harness::new().await;
    let Some(mem) = h.hooks() else {
        return; // a hook of the in-memory log
    };
    h.create("s", 2).await;
    // Shard 0, then shard 1 (the top of the hash range), in turn.
    let entries = [Some("0"), Some(TOP), Some("0"), Some(TOP)]
        .iter()
        .enumerate()
        .map(|(i, hash)| entry(&format!("k{i}"), &format!("r{i}"), *hash))
        .collect();
    mem.refuse_next_append_to(tributary_storage::ShardKey {
        stream: 1,
        shard: 1,
    });
    let calls = mem.append_calls();
    let out = h
        .engine
        .put_records(&h.ctx, records_input("s", entries))
        .await
        .unwrap();
    assert_eq!(out.failed_record_count, Some(0), "{out:?}");
    assert_eq!(
        mem.append_calls(),
        calls + 2,
        "one partial append, one retry"
    );
    let shard_of: Vec<_> = out.records.iter().map(|r| r.shard_id.clone()).collect();
    assert_eq!(
        shard_of,
        [0, 1, 0, 1].map(|s| Some(format!("shardId-00000000000{s}")))
    );
    assert_eq!(h.drain("s", "shardId-000000000000").await.0, ["r0", "r2"]);
    assert_eq!(h.drain("s", "shardId-000000000001").await.0, ["r1", "r3"]);
    for (shard, r) in [(0, &out.records[2]), (1, &out.records[3])] {
        let it = h
            .iterator(
                "s",
                &format!("shardId-00000000000{shard}"),
                ShardIteratorType::AtSequenceNumber,
                r.sequence_number.as_deref(),
            )
            .await;
        assert_eq!(
            data_str(&h.get(&it).await.records[0]),
            ["r2", "r3"][shard],
            "the answer's sequence numbers are where the records are"
        );
    }
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
