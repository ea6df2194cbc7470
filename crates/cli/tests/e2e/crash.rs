//! Durability under SIGKILL: concurrent producers write while the server is killed at random
//! moments, twenty times in a row. After each restart every acknowledged record must be
//! readable exactly once, in order, with the sequence number it was acknowledged with, and
//! nothing that was never sent may appear.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use crate::{create, server};

const SHARDS: usize = 4;
const PRODUCERS: usize = 6;
const ROUNDS: usize = 20;

/// payload -> (shard id, sequence number) for every acknowledged record.
type Acked = Arc<Mutex<HashMap<String, (String, String)>>>;

/// A small deterministic generator: kill moments vary but a failure can be replayed.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn produce(
    client: aws_sdk_kinesis::Client,
    round: usize,
    producer: usize,
    acked: Acked,
    sent: Arc<Mutex<HashSet<String>>>,
) {
    for batch in 0.. {
        let payloads: Vec<String> = (0..25)
            .map(|i| format!("r{round}-p{producer}-b{batch}-i{i}"))
            .collect();
        sent.lock().unwrap().extend(payloads.iter().cloned());
        let entries = payloads
            .iter()
            .map(|p| {
                PutRecordsRequestEntry::builder()
                    .partition_key(p.clone())
                    .data(Blob::new(p.clone()))
                    .build()
                    .unwrap()
            })
            .collect();
        match client
            .put_records()
            .stream_name("crash")
            .set_records(Some(entries))
            .send()
            .await
        {
            Ok(out) => {
                let mut a = acked.lock().unwrap();
                for (p, r) in payloads.iter().zip(out.records()) {
                    if let (Some(shard), Some(seq)) = (r.shard_id(), r.sequence_number()) {
                        a.insert(p.clone(), (shard.to_string(), seq.to_string()));
                    }
                }
            }
            // The server was killed under this request: it was never acknowledged.
            Err(_) => return,
        }
    }
}

async fn read_all(client: &aws_sdk_kinesis::Client) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    for shard in 0..SHARDS {
        let shard_id = format!("shardId-{shard:012}");
        let mut it = client
            .get_shard_iterator()
            .stream_name("crash")
            .shard_id(&shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .map(str::to_string);
        let mut records = Vec::new();
        while let Some(i) = it {
            let r = client.get_records().shard_iterator(i).send().await.unwrap();
            if r.records().is_empty() {
                break;
            }
            for rec in r.records() {
                records.push((
                    rec.sequence_number().to_string(),
                    String::from_utf8(rec.data().as_ref().to_vec()).unwrap(),
                ));
            }
            it = r.next_shard_iterator().map(str::to_string);
        }
        out.insert(shard_id, records);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_repeated_sigkill() {
    let mut s = server();
    create(&s.sdk(), "crash", SHARDS as i32).await;
    let acked: Acked = Arc::default();
    let sent: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64);
    for round in 0..ROUNDS {
        // No retries: a request cut by the kill must fail, not be re-sent to the next server.
        let conf = s
            .sdk()
            .config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        let client = aws_sdk_kinesis::Client::from_conf(conf);
        let tasks: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                tokio::spawn(produce(
                    client.clone(),
                    round,
                    p,
                    acked.clone(),
                    sent.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(30 + rng.next() % 250)).await;
        s.kill9();
        for t in tasks {
            t.await.unwrap();
        }
        s.restart();

        let stored = read_all(&s.sdk()).await;
        let acked = acked.lock().unwrap().clone();
        let sent = sent.lock().unwrap();
        let mut seen = HashSet::new();
        for (shard, records) in &stored {
            let mut last = String::new();
            for (seq, payload) in records {
                assert!(
                    sent.contains(payload),
                    "round {round}: {shard} holds {payload:?}, which was never sent"
                );
                assert!(
                    seen.insert(payload.clone()),
                    "round {round}: {payload:?} appears twice"
                );
                assert!(
                    seq.len() == last.len() && *seq > last || last.is_empty(),
                    "round {round}: {shard} out of order at {seq}"
                );
                last = seq.clone();
                if let Some((ack_shard, ack_seq)) = acked.get(payload) {
                    assert_eq!(
                        (ack_shard, ack_seq),
                        (shard, seq),
                        "round {round}: {payload:?} moved"
                    );
                }
            }
        }
        for payload in acked.keys() {
            assert!(
                seen.contains(payload),
                "round {round}: acknowledged {payload:?} is lost"
            );
        }
    }
    assert!(
        acked.lock().unwrap().len() > 1000,
        "the producers wrote enough to mean something"
    );
}
