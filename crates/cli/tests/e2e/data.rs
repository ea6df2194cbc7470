//! Records through the SDK: puts, every iterator type, limits, DryRun.

use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use crate::{create, err_of, iterator, server};

#[tokio::test]
async fn put_and_read_back_by_every_iterator_type() {
    let s = server();
    let c = s.sdk();
    create(&c, "data", 1).await;
    let before = DateTime::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            - 1000,
    );
    let mut seqs = Vec::new();
    for i in 0..5 {
        let r = c
            .put_record()
            .stream_name("data")
            .partition_key(format!("k{i}"))
            .data(Blob::new(format!("record-{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.shard_id(), "shardId-000000000000");
        assert_eq!(r.sequence_number().len(), 56);
        seqs.push(r.sequence_number().to_string());
    }
    let mut sorted = seqs.clone();
    sorted.sort();
    assert_eq!(sorted, seqs, "sequence numbers increase");

    let it = iterator(
        &c,
        "data",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
    )
    .await;
    let r = c.get_records().shard_iterator(it).send().await.unwrap();
    let data: Vec<String> = r
        .records()
        .iter()
        .map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap())
        .collect();
    assert_eq!(
        data,
        (0..5).map(|i| format!("record-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(r.records()[2].sequence_number(), seqs[2]);
    assert_eq!(r.records()[2].partition_key(), Some("k2"));
    assert_eq!(r.millis_behind_latest(), Some(0));
    let next = r.next_shard_iterator().unwrap().to_string();
    let r = c.get_records().shard_iterator(next).send().await.unwrap();
    assert!(r.records().is_empty());

    let at = c
        .get_shard_iterator()
        .stream_name("data")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(&seqs[3])
        .send()
        .await
        .unwrap();
    let r = c
        .get_records()
        .shard_iterator(at.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.records()[0].sequence_number(), seqs[3]);
    let after = c
        .get_shard_iterator()
        .stream_name("data")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
        .starting_sequence_number(&seqs[3])
        .send()
        .await
        .unwrap();
    let r = c
        .get_records()
        .shard_iterator(after.shard_iterator().unwrap())
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.records().len(), 1);
    assert_eq!(r.records()[0].sequence_number(), seqs[4]);

    let ts = c
        .get_shard_iterator()
        .stream_name("data")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(before)
        .send()
        .await
        .unwrap();
    let r = c
        .get_records()
        .shard_iterator(ts.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.records().len(), 5);

    let latest = iterator(
        &c,
        "data",
        "shardId-000000000000",
        ShardIteratorType::Latest,
    )
    .await;
    let r = c
        .get_records()
        .shard_iterator(&latest)
        .send()
        .await
        .unwrap();
    assert!(r.records().is_empty());
    c.put_record()
        .stream_name("data")
        .partition_key("z")
        .data(Blob::new("late"))
        .send()
        .await
        .unwrap();
    let r = c
        .get_records()
        .shard_iterator(r.next_shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.records().len(), 1);
    assert_eq!(r.records()[0].data().as_ref(), b"late");
}

#[tokio::test]
async fn put_records_routes_by_hash_and_reports_per_record() {
    let s = server();
    let c = s.sdk();
    create(&c, "batch", 4).await;
    let entries: Vec<PutRecordsRequestEntry> = (0..500)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("pk-{i}"))
                .data(Blob::new(vec![i as u8; 100]))
                .build()
                .unwrap()
        })
        .collect();
    let r = c
        .put_records()
        .stream_name("batch")
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(r.failed_record_count(), Some(0));
    assert_eq!(r.records().len(), 500);
    let shards: std::collections::BTreeSet<&str> =
        r.records().iter().filter_map(|x| x.shard_id()).collect();
    assert_eq!(shards.len(), 4, "500 random keys land on all 4 shards");

    // ExplicitHashKey 0 goes to the first shard whatever the partition key.
    let r = c
        .put_record()
        .stream_name("batch")
        .partition_key("anything")
        .explicit_hash_key("0")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.shard_id(), "shardId-000000000000");
    let (code, _) = err_of(
        c.put_record()
            .stream_name("batch")
            .partition_key("a")
            .explicit_hash_key("340282366920938463463374607431768211456")
            .data(Blob::new("x"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");

    // Read every record back across the four shards.
    let mut total = 0;
    for shard in [
        "shardId-000000000000",
        "shardId-000000000001",
        "shardId-000000000002",
        "shardId-000000000003",
    ] {
        let it = iterator(&c, "batch", shard, ShardIteratorType::TrimHorizon).await;
        total += c
            .get_records()
            .shard_iterator(it)
            .send()
            .await
            .unwrap()
            .records()
            .len();
    }
    assert_eq!(total, 501);
}

#[tokio::test]
async fn record_size_limits_follow_the_stream_setting() {
    let s = server();
    let c = s.sdk();
    create(&c, "big", 1).await;
    let two_mib = vec![7u8; 2 << 20];
    let (code, _) = err_of(
        c.put_record()
            .stream_name("big")
            .partition_key("k")
            .data(Blob::new(two_mib.clone()))
            .send()
            .await,
    );
    assert_eq!(
        code, "InvalidArgumentException",
        "records above 1 MiB need a larger MaxRecordSizeInKiB"
    );
    c.update_max_record_size()
        .stream_arn(crate::arn("big"))
        .max_record_size_in_kib(10240)
        .send()
        .await
        .unwrap();
    c.put_record()
        .stream_name("big")
        .partition_key("k")
        .data(Blob::new(two_mib.clone()))
        .send()
        .await
        .unwrap();
    let it = iterator(
        &c,
        "big",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
    )
    .await;
    let r = c.get_records().shard_iterator(it).send().await.unwrap();
    assert_eq!(r.records()[0].data().as_ref(), &two_mib[..]);
}

#[tokio::test]
async fn dry_run_and_bad_iterators() {
    let s = server();
    let c = s.sdk();
    create(&c, "dry", 1).await;
    let (code, msg) = err_of(
        c.put_record()
            .stream_name("dry")
            .partition_key("k")
            .data(Blob::new("x"))
            .dry_run(true)
            .send()
            .await,
    );
    assert_eq!(code, "DryRunOperationException");
    assert_eq!(msg, "Request would have succeeded, but DryRun flag is set.");
    let it = iterator(
        &c,
        "dry",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
    )
    .await;
    assert!(
        c.get_records()
            .shard_iterator(&it)
            .send()
            .await
            .unwrap()
            .records()
            .is_empty(),
        "the dry run stored nothing"
    );
    let mut tampered = it.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let (code, _) = err_of(
        c.get_records()
            .shard_iterator(String::from_utf8(tampered).unwrap())
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    let (code, _) = err_of(
        c.get_shard_iterator()
            .stream_name("dry")
            .shard_id("shardId-000000000009")
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
}
