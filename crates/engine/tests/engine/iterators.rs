//! GetShardIterator and GetRecords: iterator types, errors, limits, expiry.

use std::time::Duration;

use tributary_engine::EngineConfig;
use tributary_model::types::*;
use tributary_model::*;

use crate::*;

const TOP: &str = "340282366920938463463374607431768211455";

#[tokio::test]
async fn iterator_types() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let latest = h
        .iterator("s", "shardId-0", ShardIteratorType::Latest, None)
        .await;
    let before_ms = Timestamp::now().millis();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let r: Vec<_> = put_all(&h, &["r0", "r1", "r2"]).await;
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

async fn put_all(h: &Harness, data: &[&str]) -> Vec<String> {
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
            // AWS reads "5" as an old-form number of shard 5 (kinesalite test/getShardIterator.js).
            GetShardIteratorError::InvalidArgument(
                "Invalid StartingSequenceNumber. It encodes shardId-000000000005, while it was used in a call to a \
                 shard with shardId-000000000000"
                    .into(),
            ),
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
    put_all(&h, &["0", "1", "2", "3", "4"]).await;
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
async fn iterators_name_their_stream_for_authorization() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let it = h
        .iterator("s", "shardId-0", ShardIteratorType::Latest, None)
        .await;
    assert_eq!(h.engine.shard_iterator_stream_arn(&it), Some(h.arn("s")));
    assert_eq!(h.engine.shard_iterator_stream_arn("forged"), None);
}
