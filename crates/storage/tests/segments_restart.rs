//! Restart cost and memory: reopening a directory reads segment headers, never segment data,
//! and keeps one small summary per segment, so both stay flat as data grows.

use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tributary_storage::{ReadFrom, SegmentLog, SegmentOptions, ShardAppend, ShardKey, ShardLog};

const SHARDS: u32 = 8;
const RECORD: usize = 4 << 10;
const PER_APPEND: usize = 64; // 256 KiB
const APPENDS_PER_SHARD: usize = 100; // 25 MiB per shard, 200 MiB in all

fn key(i: u32) -> ShardKey {
    ShardKey {
        stream: 5,
        shard: i,
    }
}

/// A counter of this process from /proc/self/status or /proc/self/io.
fn proc_counter(file: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/self/{file}")).expect("procfs");
    let line = text
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} not in /proc/self/{file}"));
    line.split_whitespace()
        .nth(1)
        .expect("value")
        .parse()
        .expect("number")
}

fn opts() -> SegmentOptions {
    SegmentOptions {
        segment_bytes: 4 << 20,
        checkpoint_bytes: 32 << 20,
        ..SegmentOptions::default()
    }
}

async fn fill(log: &Arc<SegmentLog>, pool: &Bytes) {
    let tasks: Vec<_> = (0..SHARDS)
        .map(|i| {
            let (log, pool) = (Arc::clone(log), pool.clone());
            tokio::spawn(async move {
                for n in 0..APPENDS_PER_SHARD {
                    let payloads = (0..PER_APPEND)
                        .map(|r| {
                            let at =
                                (n * 131 + r * 4_099 + i as usize * 17) % (pool.len() - RECORD);
                            pool.slice(at..at + RECORD)
                        })
                        .collect();
                    log.append(vec![ShardAppend {
                        shard: key(i),
                        payloads,
                    }])
                    .await
                    .expect("append");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_200_mib_reads_headers_only_and_keeps_summaries_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pool: Bytes = (0..8 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect::<Vec<u8>>()
        .into();
    {
        let log = SegmentLog::open(dir.path(), opts()).expect("open");
        for i in 0..SHARDS {
            log.create_shard(key(i)).await.expect("create");
        }
        fill(&log, &pool).await;
    }
    let data = (SHARDS as usize * APPENDS_PER_SHARD * PER_APPEND * RECORD) as u64;
    let (rss0, read0) = (
        proc_counter("status", "VmRSS:"),
        proc_counter("io", "rchar:"),
    );
    let log = SegmentLog::open(dir.path(), opts()).expect("reopen");
    let (rss1, read1) = (
        proc_counter("status", "VmRSS:"),
        proc_counter("io", "rchar:"),
    );
    let r = log.recovery_report().clone();
    eprintln!(
        "{r:?}; read {} bytes; RSS +{} KiB",
        read1 - read0,
        rss1.saturating_sub(rss0)
    );
    assert_eq!(r.shards, SHARDS as usize);
    assert_eq!(
        r.batches_replayed, 0,
        "a clean shutdown leaves nothing to replay"
    );
    assert!(
        r.segments >= 48 && r.segments == log.segment_count(),
        "{r:?}"
    );
    assert!(
        read1 - read0 < 1 << 20,
        "opening {data} bytes read {} bytes: segments must not be scanned",
        read1 - read0
    );
    assert!(
        rss1.saturating_sub(rss0) < 16 << 10,
        "opening grew RSS by {} KiB",
        rss1 - rss0
    );
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
    // Old and new records read back, through summaries and lazily opened segments.
    for i in 0..SHARDS {
        let b = log.bounds(key(i)).await.expect("bounds");
        assert_eq!(b.next, (APPENDS_PER_SHARD * PER_APPEND) as u64);
        for o in [0, b.next / 3, b.next - 1] {
            let rec = log
                .read(key(i), ReadFrom::Offset(o), 1, 0)
                .await
                .expect("read");
            assert_eq!(rec[0].offset, o);
            assert_eq!(rec[0].payload.len(), RECORD);
        }
    }
}

/// After a crash (the directory copied while the engine runs), the replay is bounded by
/// `checkpoint_bytes`, not by the data: the WAL since the last checkpoint, never the segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_after_a_crash_replays_at_most_one_checkpoint_interval() {
    let root = tempfile::tempdir().expect("tempdir");
    let (live, crashed) = (root.path().join("live"), root.path().join("crashed"));
    let pool: Bytes = (0..8 << 20)
        .map(|i: u32| (i.wrapping_mul(2_246_822_519) >> 11) as u8)
        .collect::<Vec<u8>>()
        .into();
    let opts = SegmentOptions {
        direct_write_bytes: None,
        checkpoint_interval: Duration::from_secs(3600),
        ..opts()
    };
    let log = SegmentLog::open(&live, opts.clone()).expect("open");
    for i in 0..SHARDS {
        log.create_shard(key(i)).await.expect("create");
    }
    fill(&log, &pool).await;
    // A copy is a consistent crash image only while no checkpoint runs: finish the pending one,
    // then write less than `checkpoint_bytes`, which starts none.
    log.checkpoint().await.expect("checkpoint");
    for i in 0..SHARDS {
        let payloads = (0..PER_APPEND * 3)
            .map(|r| pool.slice(r * 64..r * 64 + RECORD))
            .collect();
        log.append(vec![ShardAppend {
            shard: key(i),
            payloads,
        }])
        .await
        .expect("append");
    }
    let mut expected = Vec::new();
    for i in 0..SHARDS {
        expected.push(log.bounds(key(i)).await.expect("bounds"));
    }
    // Copy while running: the last checkpoint is somewhere behind, the WAL holds the rest.
    let mut stack = vec![live.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("ls") {
            let p = e.expect("entry").path();
            let dst = crashed.join(p.strip_prefix(&live).expect("under"));
            if p.is_dir() {
                std::fs::create_dir_all(&dst).expect("mkdir");
                stack.push(p);
            } else {
                std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
                std::fs::copy(&p, &dst).expect("copy");
            }
        }
    }
    drop(log);
    let log = SegmentLog::open(&crashed, opts.clone()).expect("reopen");
    let r = log.recovery_report().clone();
    eprintln!("{r:?}");
    let bound = opts.checkpoint_bytes + 2 * (PER_APPEND * (RECORD + 24)) as u64 * u64::from(SHARDS);
    assert!(
        r.wal_bytes_replayed > 0 && r.wal_bytes_replayed <= bound,
        "{r:?}"
    );
    for i in 0..SHARDS {
        assert_eq!(
            log.bounds(key(i)).await.expect("bounds"),
            expected[i as usize]
        );
        let tail = log
            .read(
                key(i),
                ReadFrom::Offset(expected[i as usize].next - 1),
                1,
                0,
            )
            .await
            .expect("read");
        assert_eq!(tail.len(), 1);
    }
}
