//! Faults on the replicated tier (issue 12): two Tributary nodes on one 3-node JetStream
//! cluster, two producers (one per node) and an enhanced fan-out subscriber per shard, while
//! each NATS node and then each Tributary node is SIGKILLed and restarted, and the node
//! leading the most shard streams is paused with SIGSTOP. Afterwards every acknowledged
//! record must be stored once, at its acknowledged sequence number, and every subscriber must
//! have received exactly what is stored, in order, with no gap and no repeat.
//!
//! Every attempt carries a payload never sent before: a failed call may or may not have
//! landed, so a retry with the same payload could not tell a lost write from a duplicate.
//! SDK retries are off for the same reason.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::{Credentials, Region};
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    ConsumerStatus, PutRecordsRequestEntry, ShardIteratorType, StartingPosition, StreamStatus,
    SubscribeToShardEventStream,
};
use futures::TryStreamExt;
use tributary_natskit::NatsCluster;

use crate::arn;
use crate::nats::nats_server;

const PREFIX: &str = "faults";
const STREAM: &str = "faults";
/// Load after each fault step, so every step is crossed by writes and deliveries.
const LOAD: Duration = Duration::from_secs(3);
/// Bound of one SDK call; a call cut by a fault may otherwise wait on a dead peer.
const CALL: Duration = Duration::from_secs(10);
/// How long the most-leading NATS node stays stopped (see the SIGSTOP step).
const PAUSE_MIN: Duration = Duration::from_secs(8);
const PAUSE_MAX: Duration = Duration::from_secs(20);
/// The whole test, faults, catch-up and checks included.
const BUDGET: Duration = Duration::from_secs(150);

/// The current endpoints of nodes A (0) and B (1): a restarted node listens on a new port.
type Endpoints = Arc<Mutex<[String; 2]>>;

/// One record as stored or delivered: (sequence number, payload).
type Rec = (Seq, String);

#[derive(Default)]
struct Ledger {
    /// Every payload ever sent, acknowledged or not.
    sent: HashSet<String>,
    /// Acknowledged records in acknowledgement order: (producer, shard, sequence, payload).
    acked: Vec<(usize, String, Seq, String)>,
    failed_calls: usize,
}

/// An SDK client for `endpoint` that never re-sends a request by itself.
fn client(endpoint: &str) -> aws_sdk_kinesis::Client {
    let conf = aws_sdk_kinesis::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "faults"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_kinesis::Client::from_conf(conf)
}

/// A client that follows node `node` across restarts.
struct Follower {
    endpoints: Endpoints,
    cached: Option<(String, aws_sdk_kinesis::Client)>,
}

impl Follower {
    fn new(endpoints: &Endpoints) -> Self {
        Follower {
            endpoints: endpoints.clone(),
            cached: None,
        }
    }

    fn get(&mut self, node: usize) -> aws_sdk_kinesis::Client {
        let ep = self.endpoints.lock().unwrap()[node].clone();
        match &self.cached {
            Some((e, c)) if *e == ep => c.clone(),
            _ => {
                let c = client(&ep);
                self.cached = Some((ep, c.clone()));
                c
            }
        }
    }
}

/// A sequence number, ordered as the number it spells (they exceed 128 bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Seq(String);

impl Ord for Seq {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.len(), &self.0).cmp(&(other.0.len(), &other.0))
    }
}

impl PartialOrd for Seq {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Seq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn seq(s: &str) -> Seq {
    assert!(
        !s.is_empty() && !s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()),
        "sequence number {s:?}"
    );
    Seq(s.to_string())
}

/// Producer `p` writes through node `p` until `stop`: PutRecord and PutRecords of four in
/// turn, spread over both shards by partition key.
async fn produce(
    p: usize,
    endpoints: Endpoints,
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
) {
    let mut nodes = Follower::new(&endpoints);
    let mut i = 0usize;
    while !stop.load(Ordering::Acquire) {
        i += 1;
        let c = nodes.get(p);
        let payloads: Vec<String> = (0..if i.is_multiple_of(2) { 1 } else { 4 })
            .map(|j| format!("p{p}-{i}-{j}"))
            .collect();
        ledger.lock().unwrap().sent.extend(payloads.iter().cloned());
        let key = |j: usize| format!("key-{}", (i * 7 + j) % 64);
        let acked: Option<Vec<(String, Seq, String)>> = if payloads.len() == 1 {
            let call = c
                .put_record()
                .stream_name(STREAM)
                .partition_key(key(0))
                .data(Blob::new(payloads[0].clone()))
                .send();
            match tokio::time::timeout(CALL, call).await {
                Ok(Ok(r)) => Some(vec![(
                    r.shard_id().to_string(),
                    seq(r.sequence_number()),
                    payloads[0].clone(),
                )]),
                _ => None,
            }
        } else {
            let entries = payloads
                .iter()
                .enumerate()
                .map(|(j, d)| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(key(j))
                        .data(Blob::new(d.clone()))
                        .build()
                        .unwrap()
                })
                .collect();
            let call = c
                .put_records()
                .stream_name(STREAM)
                .set_records(Some(entries))
                .send();
            match tokio::time::timeout(CALL, call).await {
                // A record with an error code is not acknowledged; it may still have landed.
                Ok(Ok(r)) => Some(
                    r.records()
                        .iter()
                        .zip(&payloads)
                        .filter_map(|(e, d)| {
                            Some((
                                e.shard_id()?.to_string(),
                                seq(e.sequence_number()?),
                                d.clone(),
                            ))
                        })
                        .collect(),
                ),
                _ => None,
            }
        };
        let ok = acked.as_ref().is_some_and(|r| r.len() == payloads.len());
        {
            let mut l = ledger.lock().unwrap();
            l.failed_calls += usize::from(!ok);
            l.acked
                .extend(acked.into_iter().flatten().map(|(s, q, d)| (p, s, q, d)));
        }
        // Back off while a node is down; otherwise leave the two cores mostly to the servers.
        let pause = if ok { 5 } else { 100 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

#[derive(Default)]
struct SubStats {
    subscriptions: AtomicUsize,
    switches: AtomicUsize,
}

/// The EFO reader of one shard, on node B first: from TRIM_HORIZON, then after the last
/// ContinuationSequenceNumber whenever its event stream ends or fails; to the other node when
/// its node refuses the subscription for another reason than a subscription still held.
async fn subscribe(
    shard: String,
    consumer: String,
    endpoints: Endpoints,
    got: Arc<Mutex<Vec<Rec>>>,
    stats: Arc<SubStats>,
) {
    let mut nodes = Follower::new(&endpoints);
    let mut node = 1;
    let mut after: Option<String> = None;
    loop {
        let position = match &after {
            None => StartingPosition::builder().r#type(ShardIteratorType::TrimHorizon),
            Some(s) => StartingPosition::builder()
                .r#type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(s),
        }
        .build()
        .unwrap();
        let call = nodes
            .get(node)
            .subscribe_to_shard()
            .consumer_arn(&consumer)
            .shard_id(&shard)
            .starting_position(position)
            .send();
        let out = match tokio::time::timeout(CALL, call).await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) if e.code() == Some("ResourceInUseException") => {
                // Our previous subscription on this node is not released yet.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            _ => {
                node = 1 - node;
                stats.switches.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        stats.subscriptions.fetch_add(1, Ordering::Relaxed);
        let mut events = out.event_stream;
        // Heartbeats come every 5 s: a longer silence is a dead peer.
        while let Ok(Ok(Some(ev))) = tokio::time::timeout(CALL, events.recv()).await {
            if let SubscribeToShardEventStream::SubscribeToShardEvent(e) = ev {
                got.lock().unwrap().extend(e.records().iter().map(|r| {
                    (
                        seq(r.sequence_number()),
                        String::from_utf8(r.data().as_ref().to_vec()).unwrap(),
                    )
                }));
                after = Some(e.continuation_sequence_number().to_string());
            }
        }
    }
}

/// Every record of `shard` from TRIM_HORIZON through `c`, read until a page is empty and
/// the reader is not behind.
async fn read_shard(c: &aws_sdk_kinesis::Client, shard: &str) -> Vec<Rec> {
    let it = c
        .get_shard_iterator()
        .stream_name(STREAM)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect("GetShardIterator");
    let mut it = it.shard_iterator().unwrap().to_string();
    let mut out = Vec::new();
    for _ in 0..500 {
        let r = c
            .get_records()
            .shard_iterator(&it)
            .send()
            .await
            .expect("GetRecords");
        out.extend(r.records().iter().map(|r| {
            (
                seq(r.sequence_number()),
                String::from_utf8(r.data().as_ref().to_vec()).unwrap(),
            )
        }));
        if r.records().is_empty() && r.millis_behind_latest() == Some(0) {
            return out;
        }
        it = r.next_shard_iterator().expect("open shard").to_string();
    }
    panic!("{shard}: still not at the end after 500 pages");
}

/// The NATS node (index) leading each of this test's shard streams.
async fn shard_leaders(js: &async_nats::jetstream::Context) -> Option<Vec<usize>> {
    let names: Vec<String> = js.stream_names().try_collect().await.ok()?;
    let mut out = Vec::new();
    for name in names
        .iter()
        .filter(|n| n.starts_with(&format!("{PREFIX}_")))
    {
        let info = js.get_stream(name).await.ok()?.get_info().await.ok()?;
        let leader = info.cluster?.leader?;
        out.push(leader.strip_prefix('n')?.parse::<usize>().ok()? - 1);
    }
    Some(out)
}

/// The NATS node leading the most shard streams.
fn busiest(leaders: &[usize]) -> Option<usize> {
    (0..3).max_by_key(|i| leaders.iter().filter(|l| *l == i).count())
}

/// Waits until every shard stream of the test and the metadata bucket has a leader and all
/// replicas current: a restarted node has caught up before the next one goes down.
async fn wait_streams_current(js: &async_nats::jetstream::Context, within: Duration) {
    let deadline = Instant::now() + within;
    let mut last = String::new();
    while Instant::now() < deadline {
        match streams_current(js).await {
            Ok(()) => return,
            Err(why) => last = why,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("JetStream streams not current after {within:?}: {last}");
}

async fn streams_current(js: &async_nats::jetstream::Context) -> Result<(), String> {
    let names: Vec<String> = js
        .stream_names()
        .try_collect()
        .await
        .map_err(|e| format!("stream names: {e}"))?;
    for name in names.iter().filter(|n| n.contains(PREFIX)) {
        let info = js
            .get_stream(name)
            .await
            .map_err(|e| format!("{name}: {e}"))?
            .get_info()
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        let cluster = info.cluster.ok_or(format!("{name}: no cluster info"))?;
        if cluster.leader.is_none() {
            return Err(format!("{name}: no leader"));
        }
        if let Some(p) = cluster.replicas.iter().find(|p| !p.current || p.offline) {
            return Err(format!("{name}: replica {} not current", p.name));
        }
        if cluster.replicas.len() != 2 {
            return Err(format!("{name}: {} replicas", cluster.replicas.len()));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_records_survive_killed_and_paused_nodes() {
    let started = Instant::now();
    let mut cluster = NatsCluster::start(3);
    // A short subscription lifetime makes the subscribers resubscribe, AWS-style, many times.
    let extra = ["--subscription-lifetime-ms", "20000"];
    let mut nodes = [
        nats_server(&cluster, PREFIX, &extra),
        nats_server(&cluster, PREFIX, &extra),
    ];
    let endpoints: Endpoints = Arc::new(Mutex::new([nodes[0].endpoint(), nodes[1].endpoint()]));
    let nats = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connect(cluster.urls())
        .await
        .expect("connect to NATS");
    let js = async_nats::jetstream::new(nats);

    let a = nodes[0].sdk();
    a.create_stream()
        .stream_name(STREAM)
        .shard_count(2)
        .send()
        .await
        .expect("CreateStream");
    let consumer = a
        .register_stream_consumer()
        .stream_arn(arn(STREAM))
        .consumer_name("faults-reader")
        .send()
        .await
        .expect("RegisterStreamConsumer")
        .consumer()
        .unwrap()
        .consumer_arn()
        .to_string();
    // Node B must see both before the load starts.
    let b = nodes[1].sdk();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let stream = b.describe_stream_summary().stream_name(STREAM).send().await;
        let cons = b
            .describe_stream_consumer()
            .consumer_arn(&consumer)
            .send()
            .await;
        let stream_ok = stream.is_ok_and(|s| {
            *s.stream_description_summary().unwrap().stream_status() == StreamStatus::Active
        });
        let cons_ok = cons.is_ok_and(|c| {
            *c.consumer_description().unwrap().consumer_status() == ConsumerStatus::Active
        });
        if stream_ok && cons_ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stream or consumer not ACTIVE on B after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shards: Vec<String> = b
        .list_shards()
        .stream_name(STREAM)
        .send()
        .await
        .unwrap()
        .shards()
        .iter()
        .map(|s| s.shard_id().to_string())
        .collect();
    assert_eq!(shards.len(), 2);
    wait_streams_current(&js, Duration::from_secs(20)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let ledger: Arc<Mutex<Ledger>> = Arc::default();
    let producers: Vec<_> = (0..2)
        .map(|p| tokio::spawn(produce(p, endpoints.clone(), stop.clone(), ledger.clone())))
        .collect();
    let stats: Arc<SubStats> = Arc::default();
    let delivered: Vec<Arc<Mutex<Vec<Rec>>>> = shards.iter().map(|_| Arc::default()).collect();
    let subscribers: Vec<_> = shards
        .iter()
        .zip(&delivered)
        .map(|(s, got)| {
            tokio::spawn(subscribe(
                s.clone(),
                consumer.clone(),
                endpoints.clone(),
                got.clone(),
                stats.clone(),
            ))
        })
        .collect();
    let step = |what: &str| eprintln!("nats_faults {:>6.1?} {what}", started.elapsed());
    tokio::time::sleep(LOAD).await;

    for i in 0..3 {
        step(&format!("SIGKILL NATS n{}", i + 1));
        cluster.kill(i);
        tokio::time::sleep(Duration::from_secs(2)).await;
        tokio::task::block_in_place(|| cluster.restart(i));
        step(&format!("NATS n{} restarted", i + 1));
        wait_streams_current(&js, Duration::from_secs(20)).await;
        tokio::time::sleep(LOAD).await;
    }
    for (n, name) in ["A", "B"].into_iter().enumerate() {
        step(&format!("SIGKILL Tributary {name}"));
        nodes[n].kill9();
        tokio::time::sleep(Duration::from_secs(2)).await;
        tokio::task::block_in_place(|| nodes[n].restart());
        endpoints.lock().unwrap()[n] = nodes[n].endpoint();
        step(&format!("Tributary {name} restarted"));
        tokio::time::sleep(LOAD).await;
    }
    let victim = shard_leaders(&js)
        .await
        .and_then(|l| busiest(&l))
        .or_else(|| cluster.leader())
        .expect("a leader to pause");
    // Asked through a connection to the other nodes, since the paused one answers nothing.
    let urls = cluster.urls();
    let others: Vec<&String> = (0..3).filter(|&i| i != victim).map(|i| &urls[i]).collect();
    let js_others = async_nats::jetstream::new(
        async_nats::ConnectOptions::new()
            .max_reconnects(None)
            .connect(others)
            .await
            .expect("connect to the other NATS nodes"),
    );
    step(&format!(
        "SIGSTOP NATS n{} (leads the most shard streams)",
        victim + 1
    ));
    cluster.pause(victim);
    // At least ~8 s, and on until its leaderships have moved (elections take 5-9 s on two busy
    // cores) plus 2 s of load on the new leaders while it is still stopped; 20 s at most.
    let paused = Instant::now();
    let mut lost: Option<Duration> = None;
    loop {
        let until = lost.map_or(PAUSE_MAX, |t| (t + Duration::from_secs(2)).max(PAUSE_MIN));
        if paused.elapsed() >= until {
            break;
        }
        let leaders = tokio::time::timeout(Duration::from_secs(3), shard_leaders(&js_others)).await;
        if lost.is_none() && leaders.is_ok_and(|l| l.is_some_and(|l| !l.contains(&victim))) {
            lost = Some(paused.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    cluster.resume(victim);
    step(&format!(
        "SIGCONT NATS n{}; its leaderships moved after {lost:?}",
        victim + 1
    ));
    assert!(
        lost.is_some(),
        "n{} still led a shard stream after 8 s paused",
        victim + 1
    );
    tokio::task::block_in_place(|| cluster.wait_ready(Duration::from_secs(30)));
    wait_streams_current(&js, Duration::from_secs(20)).await;
    tokio::time::sleep(LOAD).await;

    step("stopping producers");
    stop.store(true, Ordering::Release);
    for p in producers {
        tokio::time::timeout(CALL * 2, p)
            .await
            .expect("a producer did not stop")
            .unwrap();
    }
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());

    // What is stored, read through each node: both must agree.
    let (a, b) = (nodes[0].sdk(), nodes[1].sdk());
    let mut stored: Vec<Vec<Rec>> = Vec::new();
    for shard in &shards {
        let via_a = read_shard(&a, shard).await;
        let via_b = read_shard(&b, shard).await;
        assert!(via_a == via_b, "{shard}: A and B read different records");
        stored.push(via_a);
    }

    // Subscribers catch up with what is stored.
    let deadline = Instant::now() + Duration::from_secs(30);
    while delivered
        .iter()
        .zip(&stored)
        .any(|(d, s)| d.lock().unwrap().len() < s.len())
    {
        assert!(
            Instant::now() < deadline,
            "subscribers did not catch up in 30 s: delivered {:?}, stored {:?}",
            delivered
                .iter()
                .map(|d| d.lock().unwrap().len())
                .collect::<Vec<_>>(),
            stored.iter().map(Vec::len).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for s in &subscribers {
        s.abort();
    }

    // (1) Stored: each acknowledged record once, at its acknowledged sequence number; sequence
    // numbers increasing per shard; nothing that nobody sent.
    let mut where_stored: HashMap<&str, (&str, &Seq)> = HashMap::new();
    for (shard, recs) in shards.iter().zip(&stored) {
        for w in recs.windows(2) {
            assert!(
                w[0].0 < w[1].0,
                "{shard}: sequence numbers out of order: {w:?}"
            );
        }
        for (q, d) in recs {
            assert!(
                ledger.sent.contains(d),
                "{shard}: stored {d:?} at {q} that nobody sent"
            );
            let before = where_stored.insert(d, (shard, q));
            assert!(
                before.is_none(),
                "{d:?} stored twice: {before:?} and ({shard}, {q})"
            );
        }
    }
    for (p, shard, q, d) in &ledger.acked {
        match where_stored.get(d.as_str()) {
            Some(&(s, sq)) => assert!(
                s == shard && sq == q,
                "{d:?} (producer {p}) acknowledged at ({shard}, {q}), stored at ({s}, {sq})"
            ),
            None => panic!("{d:?} (producer {p}) acknowledged at ({shard}, {q}) is lost"),
        }
    }
    // A producer waits for each answer: its acknowledged records are in order per shard.
    let mut last: HashMap<(usize, &str), &Seq> = HashMap::new();
    for (p, shard, q, d) in &ledger.acked {
        if let Some(prev) = last.insert((*p, shard), q) {
            assert!(
                prev < q,
                "{d:?} (producer {p}) acknowledged at {q}, after {prev}"
            );
        }
    }

    // (2) Delivered: exactly what is stored, in order, each once.
    for ((shard, recs), got) in shards.iter().zip(&stored).zip(&delivered) {
        let got = got.lock().unwrap();
        if let Some(i) = (0..got.len().max(recs.len())).find(|&i| got.get(i) != recs.get(i)) {
            panic!(
                "{shard}: delivery differs from storage at index {i}: delivered {:?}, stored {:?} \
                 ({} delivered, {} stored)",
                got.get(i),
                recs.get(i),
                got.len(),
                recs.len()
            );
        }
    }

    let stored_n: usize = stored.iter().map(Vec::len).sum();
    let delivered_n: usize = delivered.iter().map(|d| d.lock().unwrap().len()).sum();
    eprintln!(
        "nats_faults: {} acknowledged, {} sent, {stored_n} stored ({} unacknowledged that \
         landed), {delivered_n} delivered, {} failed calls, {} subscriptions, {} node switches, \
         {:.1?}",
        ledger.acked.len(),
        ledger.sent.len(),
        stored_n - ledger.acked.len(),
        ledger.failed_calls,
        stats.subscriptions.load(Ordering::Relaxed),
        stats.switches.load(Ordering::Relaxed),
        started.elapsed()
    );
    assert!(ledger.acked.len() > 100, "too little load to mean anything");
    // The subscribers did live through the faults: they resubscribed, and moved off B.
    assert!(stats.subscriptions.load(Ordering::Relaxed) > shards.len());
    assert!(stats.switches.load(Ordering::Relaxed) >= 1);
    assert!(started.elapsed() < BUDGET, "took {:?}", started.elapsed());
}
