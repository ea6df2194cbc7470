//! `serve --storage nats://…` on a real 3-node JetStream cluster (natskit), driven by the
//! AWS SDK: the data path, and a NEW node process on the same cluster and prefix finding
//! every stream and record (Tributary nodes keep no state of their own).

use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType, StreamStatus};
use tributary_natskit::NatsCluster;
use tributary_testkit::TestServer;

use crate::iterator;

pub fn nats_server(cluster: &NatsCluster, prefix: &str, extra: &[&str]) -> TestServer {
    let storage = cluster.url_list();
    let mut args = vec![
        "--storage",
        &storage,
        "--nats-prefix",
        prefix,
        "--nats-request-timeout-ms",
        "5000",
    ];
    args.extend_from_slice(extra);
    TestServer::start_nats(env!("CARGO_BIN_EXE_tributary"), &args, &[])
}

async fn wait_active(c: &aws_sdk_kinesis::Client, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let d = c
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .expect("describe");
        let status = d.stream_description_summary().unwrap().stream_status();
        if *status == StreamStatus::Active {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} still {status:?} after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every record of every shard from TRIM_HORIZON, as (shard, sequence number, data).
async fn read_all(c: &aws_sdk_kinesis::Client, name: &str) -> Vec<(String, String, String)> {
    let shards = c.list_shards().stream_name(name).send().await.unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let id = shard.shard_id();
        let mut it = iterator(c, name, id, ShardIteratorType::TrimHorizon).await;
        // Records are all written before this runs: an empty page is the end. Bounded anyway.
        for _ in 0..20 {
            let r = c.get_records().shard_iterator(&it).send().await.unwrap();
            if r.records().is_empty() {
                break;
            }
            for rec in r.records() {
                out.push((
                    id.to_string(),
                    rec.sequence_number().to_string(),
                    String::from_utf8(rec.data().as_ref().to_vec()).unwrap(),
                ));
            }
            it = r.next_shard_iterator().unwrap().to_string();
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_new_node_on_the_same_cluster_sees_every_stream_and_record() {
    let cluster = NatsCluster::start(3);
    let mut first = nats_server(&cluster, "e2e-node", &[]);
    let c = first.sdk();
    c.create_stream()
        .stream_name("orders")
        .shard_count(2)
        .send()
        .await
        .unwrap();
    wait_active(&c, "orders").await;

    let mut acked = Vec::new();
    for i in 0..10 {
        let r = c
            .put_record()
            .stream_name("orders")
            .partition_key(format!("p{i}"))
            .data(Blob::new(format!("one-{i}")))
            .send()
            .await
            .unwrap();
        acked.push((
            r.shard_id().to_string(),
            r.sequence_number().to_string(),
            format!("one-{i}"),
        ));
    }
    let entries: Vec<_> = (0..20)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("k{i}"))
                .data(Blob::new(format!("batch-{i}")))
                .build()
                .unwrap()
        })
        .collect();
    let r = c
        .put_records()
        .stream_name("orders")
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(r.failed_record_count(), Some(0));
    for (i, e) in r.records().iter().enumerate() {
        acked.push((
            e.shard_id().unwrap().to_string(),
            e.sequence_number().unwrap().to_string(),
            format!("batch-{i}"),
        ));
    }
    acked.sort();
    let shards = c.list_shards().stream_name("orders").send().await.unwrap();
    assert_eq!(shards.shards().len(), 2);
    assert!(
        acked.iter().any(|a| a.0 == shards.shards()[0].shard_id())
            && acked.iter().any(|a| a.0 == shards.shards()[1].shard_id()),
        "30 keys should reach both shards"
    );
    assert_eq!(read_all(&c, "orders").await, acked);
    // A read at an acknowledged sequence number starts at that very record.
    let (shard, seq, data) = &acked[acked.len() / 2];
    let it = c
        .get_shard_iterator()
        .stream_name("orders")
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(seq)
        .send()
        .await
        .unwrap();
    let r = c
        .get_records()
        .shard_iterator(it.shard_iterator().unwrap())
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.records()[0].sequence_number(), seq);
    assert_eq!(r.records()[0].data().as_ref(), data.as_bytes());

    c.create_stream()
        .stream_name("doomed")
        .shard_count(1)
        .send()
        .await
        .unwrap();
    wait_active(&c, "doomed").await;
    c.delete_stream()
        .stream_name("doomed")
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while c
        .list_streams()
        .send()
        .await
        .unwrap()
        .stream_names()
        .contains(&"doomed".to_string())
    {
        assert!(Instant::now() < deadline, "doomed not deleted after 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    first.kill9();
    // NATS storage writes nothing locally: not even a `tributary-data` in the working dir.
    let local: Vec<_> = std::fs::read_dir(first.data_dir()).unwrap().collect();
    assert!(local.is_empty(), "files written locally: {local:?}");

    let second = nats_server(&cluster, "e2e-node", &[]);
    let c = second.sdk();
    let names = c.list_streams().send().await.unwrap();
    assert_eq!(names.stream_names(), ["orders"]);
    assert_eq!(read_all(&c, "orders").await, acked);
    let r = c
        .put_record()
        .stream_name("orders")
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
    // Same-length decimal strings: string order is numeric order.
    assert!(r.sequence_number() > last_before.as_str());

    // Another prefix on the same cluster is another deployment: it sees none of it.
    let other = nats_server(&cluster, "e2e-other", &[]);
    let names = other.sdk().list_streams().send().await.unwrap();
    assert!(names.stream_names().is_empty());
}
