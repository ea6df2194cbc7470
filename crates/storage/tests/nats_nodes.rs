//! The JetStream stores as several Tributary nodes use them: two connections under one
//! prefix writing one shard, a watcher on one node woken by the other's appends, racing
//! compare-and-sets, and NATS servers killed or paused under load. Each test starts its own
//! 3-node cluster on loopback ports.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tributary_natskit::NatsCluster;
use tributary_storage::{
    connect_nats, MetaError, MetaStore, NatsOptions, NatsStores, ReadFrom, ShardAppend, ShardKey,
    ShardLog, StorageError,
};

const SHARD: ShardKey = ShardKey {
    stream: 7,
    shard: 0,
};

async fn node(cluster: &NatsCluster) -> NatsStores {
    let mut opts = NatsOptions::new(cluster.urls(), "NODES");
    opts.request_timeout = Duration::from_secs(5);
    connect_nats(&opts).await.expect("connect")
}

/// Every record of the shard, from the start.
async fn read_all(log: &dyn ShardLog) -> Vec<(u64, i64, Bytes)> {
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let page = log
            .read(SHARD, ReadFrom::Offset(from), 1_000, 8 << 20)
            .await
            .expect("read");
        let Some(last) = page.last() else {
            return out;
        };
        from = last.offset + 1;
        out.extend(
            page.into_iter()
                .map(|r| (r.offset, r.arrival_ms, r.payload)),
        );
    }
}

/// Appends `name:i:j` records until `stop`, retrying failures (a failed append may or may
/// not have landed); the offsets and arrival times of the acknowledged ones.
async fn writer(
    log: Arc<dyn ShardLog>,
    name: &'static str,
    stop: Arc<AtomicBool>,
    max: usize,
) -> HashMap<String, (u64, i64)> {
    let mut acked = HashMap::new();
    let mut i = 0;
    while !stop.load(Ordering::Acquire) && i < max {
        let n = 1 + i % 3;
        let payloads: Vec<Bytes> = (0..n)
            .map(|j| Bytes::from(format!("{name}:{i}:{j}")))
            .collect();
        let res = log
            .append(vec![ShardAppend {
                shard: SHARD,
                payloads: payloads.clone(),
            }])
            .await;
        match res {
            Ok(a) => {
                for (j, p) in payloads.iter().enumerate() {
                    let text = String::from_utf8(p.to_vec()).unwrap();
                    acked.insert(text, (a[0].first_offset + j as u64, a[0].arrival_ms));
                }
                i += 1;
            }
            Err(StorageError::Unavailable(_)) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                i += 1;
            }
            Err(e) => panic!("{name}: unexpected append failure {e}"),
        }
    }
    acked
}

/// The log is dense from 0, arrival times never decrease, every acknowledged record is at its
/// acknowledged offset exactly once, and every record is one some writer sent.
fn check(all: &[(u64, i64, Bytes)], acked: &[HashMap<String, (u64, i64)>]) -> usize {
    let mut seen = HashMap::new();
    for (i, (offset, arrival, payload)) in all.iter().enumerate() {
        assert_eq!(*offset, i as u64, "dense offsets");
        if i > 0 {
            assert!(*arrival >= all[i - 1].1, "arrival times never decrease");
        }
        let text = String::from_utf8(payload.to_vec()).expect("a record of ours");
        assert!(
            seen.insert(text.clone(), (*offset, *arrival)).is_none(),
            "{text} stored twice"
        );
    }
    let mut n = 0;
    for w in acked {
        for (text, at) in w {
            assert_eq!(
                seen.get(text),
                Some(at),
                "acknowledged {text} is where its ack said"
            );
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_shard_without_losing_or_reordering() {
    let cluster = NatsCluster::start(3);
    let (a, b) = (node(&cluster).await, node(&cluster).await);
    a.log.create_shard(SHARD).await.expect("create on A");
    assert!(matches!(
        b.log.create_shard(SHARD).await,
        Err(StorageError::ShardExists(_))
    ));

    // B watches; A's append wakes it, and B reads what A wrote.
    let mut rx = b.log.watch(SHARD).await.expect("watch on B");
    assert_eq!(*rx.borrow_and_update(), 0);
    a.log
        .append(vec![ShardAppend {
            shard: SHARD,
            payloads: vec![Bytes::from_static(b"first")],
        }])
        .await
        .expect("append on A");
    tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|end| *end >= 1))
        .await
        .expect("B's watch moves for A's append")
        .expect("watch open");
    let first = b
        .log
        .read(SHARD, ReadFrom::Offset(0), 10, 1 << 20)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].payload, Bytes::from_static(b"first"));

    // Both write at once: the fence makes them take turns, never share an offset.
    let stop = Arc::new(AtomicBool::new(false));
    let wa = tokio::spawn(writer(a.log.clone(), "a", stop.clone(), 150));
    let wb = tokio::spawn(writer(b.log.clone(), "b", stop.clone(), 150));
    let mut acked = vec![wa.await.unwrap(), wb.await.unwrap()];
    acked.push(HashMap::from([(
        "first".to_string(),
        (0, first[0].arrival_ms),
    )]));
    let all = read_all(&*a.log).await;
    let n = check(&all, &acked);
    assert_eq!(
        n,
        all.len(),
        "nothing failed, so every record was acknowledged"
    );
    assert!(n > 2 * 150, "{n} records");
    tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|end| *end == all.len() as u64),
    )
    .await
    .expect("B's watch follows to the end")
    .expect("watch open");

    // A deletes; B's watcher is closed.
    a.log.delete_shard(SHARD).await.expect("delete on A");
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        while rx.changed().await.is_ok() {}
    })
    .await;
    assert!(closed.is_ok(), "B's watch of a shard deleted on A closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_compare_and_sets_have_one_winner() {
    let cluster = NatsCluster::start(3);
    let (a, b) = (node(&cluster).await, node(&cluster).await);
    for round in 0..20 {
        let key = format!("stream/123456789012/us-east-1/race-{round}");
        let (ra, rb) = tokio::join!(
            a.meta.create(&key, Bytes::from_static(b"a")),
            b.meta.create(&key, Bytes::from_static(b"b"))
        );
        assert!(
            ra.is_ok() ^ rb.is_ok(),
            "exactly one create wins: {ra:?} {rb:?}"
        );
        let rev = ra.or(rb).unwrap();
        let (ua, ub) = tokio::join!(
            a.meta.update(&key, Bytes::from_static(b"a2"), rev),
            b.meta.update(&key, Bytes::from_static(b"b2"), rev)
        );
        assert!(ua.is_ok() ^ ub.is_ok(), "exactly one update wins");
        let (winner, value, loser) = match (ua, ub) {
            (Ok(rev), loser) => (rev, &b"a2"[..], loser),
            (loser, Ok(rev)) => (rev, &b"b2"[..], loser),
            _ => unreachable!(),
        };
        assert!(
            matches!(loser, Err(MetaError::Conflict { .. })),
            "{loser:?}"
        );
        let now = b.meta.get(&key).await.unwrap().unwrap();
        assert_eq!((now.revision, &now.value[..]), (winner, value));
    }
}

/// SIGKILL each NATS server in turn, then SIGSTOP one long enough to lose its leaderships,
/// while two nodes append: nothing acknowledged is lost, moved or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_paused_servers_lose_nothing_acknowledged() {
    let mut cluster = NatsCluster::start(3);
    let (a, b) = (node(&cluster).await, node(&cluster).await);
    a.log.create_shard(SHARD).await.expect("create");
    let stop = Arc::new(AtomicBool::new(false));
    let wa = tokio::spawn(writer(a.log.clone(), "a", stop.clone(), usize::MAX));
    let wb = tokio::spawn(writer(b.log.clone(), "b", stop.clone(), usize::MAX));
    let started = Instant::now();
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        cluster.kill(i);
        tokio::time::sleep(Duration::from_millis(3_000)).await;
        cluster.restart(i);
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let paused = cluster.leader().unwrap_or(0);
    cluster.pause(paused);
    tokio::time::sleep(Duration::from_secs(8)).await;
    cluster.resume(paused);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stop.store(true, Ordering::Release);
    let acked = vec![wa.await.unwrap(), wb.await.unwrap()];
    cluster.wait_ready(Duration::from_secs(30));
    let all = read_all(&*a.log).await;
    let n = check(&all, &acked);
    assert!(
        n > 100,
        "only {n} records acknowledged in {:?}",
        started.elapsed()
    );
    eprintln!(
        "{n} acknowledged of {} stored in {:?}",
        all.len(),
        started.elapsed()
    );
}
