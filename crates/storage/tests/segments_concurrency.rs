//! Appends and reads at once: readers see a dense prefix of each shard, every record they see
//! is the one its append was acknowledged with (nothing unacknowledged, nothing half-written),
//! and an acknowledged record is readable at once.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tributary_storage::{ReadFrom, SegmentLog, SegmentOptions, ShardAppend, ShardKey, ShardLog};

const SHARDS: u32 = 4;
const WRITERS: usize = 8;
const APPENDS: usize = 60;

fn key(i: u32) -> ShardKey {
    ShardKey {
        stream: 9,
        shard: i,
    }
}

fn payload(task: usize, n: usize, j: usize) -> Bytes {
    let head = format!("{task}:{n}:{j}:");
    let mut v = head.into_bytes();
    v.resize(16 + (task * 131 + n * 17 + j * 7) % 900, b'.');
    Bytes::from(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_see_only_acknowledged_records_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = SegmentOptions {
        segment_bytes: 32 << 10,
        index_interval_bytes: 512,
        direct_write_bytes: Some(8 << 10),
        ..SegmentOptions::default()
    };
    let log = SegmentLog::open(dir.path(), opts).expect("open");
    for i in 0..SHARDS {
        log.create_shard(key(i)).await.expect("create");
    }
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let (log, done) = (Arc::clone(&log), Arc::clone(&done));
            tokio::spawn(async move {
                let mut seen: HashMap<(u32, u64), (Bytes, i64)> = HashMap::new();
                let mut x = 0x9E37_79B9u64 + r;
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) || reads < 100 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let s = (x % u64::from(SHARDS)) as u32;
                    let next = log.bounds(key(s)).await.expect("bounds").next;
                    let from = if x.is_multiple_of(3) {
                        next.saturating_sub(5)
                    } else {
                        (x >> 8) % (next + 1)
                    };
                    let recs = log
                        .read(key(s), ReadFrom::Offset(from), 50, 64 << 10)
                        .await
                        .expect("read");
                    reads += 1;
                    let after = log.bounds(key(s)).await.expect("bounds").next;
                    for (n, rec) in recs.iter().enumerate() {
                        assert_eq!(rec.offset, from + n as u64, "dense, from where asked");
                        assert!(rec.offset < after, "never past the published end");
                        if n > 0 {
                            assert!(rec.arrival_ms >= recs[n - 1].arrival_ms);
                        }
                        seen.insert((s, rec.offset), (rec.payload.clone(), rec.arrival_ms));
                    }
                }
                seen
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|task| {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for n in 0..APPENDS {
                    let mut appends = Vec::new();
                    for k in 0..1 + (task + n) % 2 {
                        let s = ((task + n + k) % SHARDS as usize) as u32;
                        let count = 1 + (task * 7 + n * 3 + k) % 30;
                        let payloads = (0..count).map(|j| payload(task, n, j + 100 * k)).collect();
                        appends.push(ShardAppend {
                            shard: key(s),
                            payloads,
                        });
                    }
                    let res = log.append(appends.clone()).await.expect("append");
                    for (a, r) in appends.into_iter().zip(res) {
                        // Acknowledged means readable, at once.
                        let back = log
                            .read(
                                a.shard,
                                ReadFrom::Offset(r.first_offset),
                                a.payloads.len(),
                                usize::MAX,
                            )
                            .await
                            .expect("read own write");
                        assert_eq!(back.len(), a.payloads.len());
                        for (i, p) in a.payloads.into_iter().enumerate() {
                            acked.push((
                                (a.shard.shard, r.first_offset + i as u64),
                                (p, r.arrival_ms),
                            ));
                        }
                    }
                }
                acked
            })
        })
        .collect();
    let mut acked = HashMap::new();
    for w in writers {
        for (k, v) in w.await.expect("writer") {
            assert!(
                acked.insert(k, v).is_none(),
                "an offset was handed out twice"
            );
        }
    }
    done.store(true, Ordering::Release);
    let mut checked = 0;
    for r in readers {
        for (k, v) in r.await.expect("reader") {
            assert_eq!(
                acked.get(&k),
                Some(&v),
                "a reader saw {k:?} differ from its acknowledged record"
            );
            checked += 1;
        }
    }
    assert!(checked > 1_000, "the readers saw only {checked} records");
    for i in 0..SHARDS {
        let all = log
            .read(key(i), ReadFrom::Offset(0), usize::MAX, usize::MAX)
            .await
            .expect("read");
        assert_eq!(
            all.len() as u64,
            log.bounds(key(i)).await.expect("bounds").next
        );
        for rec in all {
            assert_eq!(acked[&(i, rec.offset)].0, rec.payload);
        }
    }
}
