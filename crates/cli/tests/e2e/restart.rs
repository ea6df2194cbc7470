//! What was acknowledged survives SIGKILL and restart.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;

use crate::{create, iterator, server, server_with};

#[tokio::test]
async fn streams_and_records_survive_kill9() {
    let mut s = server();
    let c = s.sdk();
    create(&c, "durable", 2).await;
    c.add_tags_to_stream()
        .stream_name("durable")
        .tags("k", "v")
        .send()
        .await
        .unwrap();
    let mut acked = Vec::new();
    for i in 0..50 {
        let r = c
            .put_record()
            .stream_name("durable")
            .partition_key(format!("p{i}"))
            .data(Blob::new(format!("v{i}")))
            .send()
            .await
            .unwrap();
        acked.push((
            r.shard_id().to_string(),
            r.sequence_number().to_string(),
            format!("v{i}"),
        ));
    }
    s.restart();
    let c = s.sdk();
    let t = c
        .list_tags_for_stream()
        .stream_name("durable")
        .send()
        .await
        .unwrap();
    assert_eq!(t.tags()[0].key(), "k");
    let mut read = Vec::new();
    for shard in ["shardId-000000000000", "shardId-000000000001"] {
        let it = iterator(&c, "durable", shard, ShardIteratorType::TrimHorizon).await;
        let r = c.get_records().shard_iterator(&it).send().await.unwrap();
        for rec in r.records() {
            read.push((
                shard.to_string(),
                rec.sequence_number().to_string(),
                String::from_utf8(rec.data().as_ref().to_vec()).unwrap(),
            ));
        }
    }
    acked.sort();
    read.sort();
    assert_eq!(read, acked);
    // New writes continue the sequence.
    let r = c
        .put_record()
        .stream_name("durable")
        .partition_key("p0")
        .data(Blob::new("after"))
        .send()
        .await
        .unwrap();
    let last_before = acked
        .iter()
        .filter(|(s, _, _)| s == r.shard_id())
        .map(|(_, q, _)| q.clone())
        .max()
        .unwrap();
    assert!(r.sequence_number() > last_before.as_str());
}

#[tokio::test]
async fn declared_streams_are_created_at_start() {
    let s = server_with(&["--streams", "orders:3,attrep_apply_exceptions:on-demand:48"]);
    let c = s.sdk();
    let l = c.list_streams().send().await.unwrap();
    assert_eq!(l.stream_names(), ["attrep_apply_exceptions", "orders"]);
    let o = c
        .describe_stream_summary()
        .stream_name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(
        o.stream_description_summary().unwrap().open_shard_count(),
        3
    );
    let e = c
        .describe_stream_summary()
        .stream_name("attrep_apply_exceptions")
        .send()
        .await
        .unwrap();
    assert_eq!(
        e.stream_description_summary()
            .unwrap()
            .retention_period_hours(),
        48
    );
}
