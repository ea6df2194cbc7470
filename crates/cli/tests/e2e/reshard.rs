//! SplitShard, MergeShards and UpdateShardCount through the SDK, reading parents before
//! children.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{ScalingType, ShardFilter, ShardFilterType, ShardIteratorType};

use crate::{create, err_of, server};

/// Reads a shard from TRIM_HORIZON to its end (closed) or to an empty read (open).
async fn drain(
    c: &aws_sdk_kinesis::Client,
    stream: &str,
    shard: &str,
) -> (Vec<Vec<u8>>, Vec<String>) {
    let mut it = c
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .map(str::to_string);
    let mut data = Vec::new();
    let mut children = Vec::new();
    while let Some(i) = it {
        let r = c.get_records().shard_iterator(i).send().await.unwrap();
        data.extend(r.records().iter().map(|x| x.data().as_ref().to_vec()));
        children.extend(r.child_shards().iter().map(|c| c.shard_id().to_string()));
        if r.records().is_empty() && r.next_shard_iterator().is_some() && children.is_empty() {
            break;
        }
        it = r.next_shard_iterator().map(str::to_string);
    }
    (data, children)
}

#[tokio::test]
async fn split_then_merge_keeps_parents_readable() {
    let s = server();
    let c = s.sdk();
    create(&c, "rs", 1).await;
    c.put_record()
        .stream_name("rs")
        .partition_key("a")
        .data(Blob::new("before"))
        .send()
        .await
        .unwrap();
    c.split_shard()
        .stream_name("rs")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("170141183460469231731687303715884105728")
        .send()
        .await
        .unwrap();
    let d = c.describe_stream().stream_name("rs").send().await.unwrap();
    let shards = d.stream_description().unwrap().shards();
    assert_eq!(shards.len(), 3);
    assert!(
        shards[0]
            .sequence_number_range()
            .unwrap()
            .ending_sequence_number()
            .is_some(),
        "parent closed"
    );
    assert_eq!(shards[1].parent_shard_id(), Some("shardId-000000000000"));
    assert_eq!(
        shards[2].hash_key_range().unwrap().starting_hash_key(),
        "170141183460469231731687303715884105728"
    );

    c.put_record()
        .stream_name("rs")
        .partition_key("a")
        .explicit_hash_key("1")
        .data(Blob::new("low"))
        .send()
        .await
        .unwrap();
    let (parent, children) = drain(&c, "rs", "shardId-000000000000").await;
    assert_eq!(parent, [b"before".to_vec()]);
    assert_eq!(children, ["shardId-000000000001", "shardId-000000000002"]);
    let (low, _) = drain(&c, "rs", "shardId-000000000001").await;
    assert_eq!(low, [b"low".to_vec()]);

    // Splitting a shard that is already closed is refused.
    let (code, _) = err_of(
        c.split_shard()
            .stream_name("rs")
            .shard_to_split("shardId-000000000000")
            .new_starting_hash_key("5")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");

    c.merge_shards()
        .stream_name("rs")
        .shard_to_merge("shardId-000000000001")
        .adjacent_shard_to_merge("shardId-000000000002")
        .send()
        .await
        .unwrap();
    let l = c.list_shards().stream_name("rs").send().await.unwrap();
    assert_eq!(l.shards().len(), 4);
    let merged = &l.shards()[3];
    assert_eq!(merged.parent_shard_id(), Some("shardId-000000000001"));
    assert_eq!(
        merged.adjacent_parent_shard_id(),
        Some("shardId-000000000002")
    );
    let open = c
        .list_shards()
        .stream_name("rs")
        .shard_filter(
            ShardFilter::builder()
                .r#type(ShardFilterType::AtLatest)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(open.shards().len(), 1);
}

#[tokio::test]
async fn list_shards_pages_with_next_token() {
    let s = server();
    let c = s.sdk();
    create(&c, "pages", 5).await;
    let mut ids = Vec::new();
    let mut r = c
        .list_shards()
        .stream_name("pages")
        .max_results(2)
        .send()
        .await
        .unwrap();
    loop {
        ids.extend(r.shards().iter().map(|s| s.shard_id().to_string()));
        let Some(t) = r.next_token() else { break };
        r = c
            .list_shards()
            .next_token(t)
            .max_results(2)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(ids.len(), 5);
    let (code, _) = err_of(
        c.list_shards()
            .stream_name("pages")
            .next_token("bogus")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
}

#[tokio::test]
async fn update_shard_count_scales_uniformly() {
    let s = server();
    let c = s.sdk();
    create(&c, "scale", 2).await;
    let r = c
        .update_shard_count()
        .stream_name("scale")
        .target_shard_count(4)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.current_shard_count(), r.target_shard_count()),
        (Some(2), Some(4))
    );
    let sum = c
        .describe_stream_summary()
        .stream_name("scale")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sum.stream_description_summary().unwrap().open_shard_count(),
        4
    );
    let (code, _) = err_of(
        c.update_shard_count()
            .stream_name("scale")
            .target_shard_count(9)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await,
    );
    assert_eq!(
        code, "LimitExceededException",
        "more than double the open shards is past the default limit"
    );
}
