//! The contract suite run against [`SegmentLog`] (with [`FjallMeta`](crate::FjallMeta) as the
//! `MetaStore`, as in the server), in several configurations, plus what only this engine promises. Crash, churn and
//! restart tests that need only the public API live in `crates/storage/tests/`.

use super::*;
use crate::contract::{Engines, Factory};
use crate::{FjallMeta, ReadFrom, ShardAppend, ShardLog};
use bytes::Bytes;
use futures::future::BoxFuture;

struct SegFactory {
    dir: tempfile::TempDir,
    opts: SegmentOptions,
}

impl SegFactory {
    fn with(opts: SegmentOptions) -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            opts,
        }
    }

    fn log(&self) -> Arc<SegmentLog> {
        SegmentLog::open(&self.dir.path().join("segments"), self.opts.clone()).expect("open")
    }
}

impl Factory for SegFactory {
    fn open(&self) -> BoxFuture<'_, Engines> {
        Box::pin(async move {
            let meta = FjallMeta::open(self.dir.path()).expect("open meta");
            Engines {
                log: self.log(),
                meta,
            }
        })
    }
}

fn tiny() -> SegmentOptions {
    SegmentOptions {
        segment_bytes: 200,
        index_interval_bytes: 40,
        wal_file_bytes: 1 << 10,
        checkpoint_bytes: 2 << 10,
        ..SegmentOptions::default()
    }
}

mod contract_sync {
    crate::contract_tests!(super::SegFactory::with(Default::default()));
}

mod contract_sync_through_wal_only {
    crate::contract_tests!(super::SegFactory::with(super::SegmentOptions {
        direct_write_bytes: None,
        ..Default::default()
    }));
}

mod contract_sync_all_direct {
    crate::contract_tests!(super::SegFactory::with(super::SegmentOptions {
        direct_write_bytes: Some(0),
        ..super::tiny()
    }));
}

mod contract_interval {
    crate::contract_tests!(super::SegFactory::with(super::SegmentOptions {
        durability: crate::Durability::Interval(std::time::Duration::from_millis(20)),
        ..Default::default()
    }));
}

mod contract_tiny_segments {
    crate::contract_tests!(super::SegFactory::with(super::tiny()));
}

const S: ShardKey = ShardKey {
    stream: 1,
    shard: 0,
};

fn payloads(n: usize, size: usize) -> Vec<Bytes> {
    (0..n).map(|i| Bytes::from(vec![i as u8; size])).collect()
}

async fn put(log: &SegmentLog, shard: ShardKey, payloads: Vec<Bytes>) -> crate::Appended {
    log.append(vec![ShardAppend { shard, payloads }])
        .await
        .expect("append")[0]
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let f = SegFactory::with(SegmentOptions::default());
    let first = f.log();
    match SegmentLog::open(&f.dir.path().join("segments"), SegmentOptions::default()) {
        Err(StorageError::Io(msg)) => assert!(msg.contains("already in use"), "{msg}"),
        other => panic!("a second open must fail, got {:?}", other.map(|_| ())),
    }
    drop(first);
    drop(f.log());
}

#[test]
fn another_format_version_or_foreign_data_is_refused() {
    let f = SegFactory::with(SegmentOptions::default());
    drop(f.log());
    let dir = f.dir.path().join("segments");
    std::fs::write(dir.join("FORMAT"), "tributary-segments 99\n").expect("write");
    match SegmentLog::open(&dir, SegmentOptions::default()) {
        Err(StorageError::Corrupt(msg)) => {
            assert!(msg.contains("tributary-segments 99"), "{msg}");
            assert!(msg.contains("reads only \"tributary-segments 1\""), "{msg}");
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    let foreign = f.dir.path().join("foreign");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    std::fs::write(foreign.join("data.bin"), "someone else's").expect("write");
    match SegmentLog::open(&foreign, SegmentOptions::default()) {
        Err(StorageError::Corrupt(msg)) => assert!(msg.contains("no FORMAT file"), "{msg}"),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    assert!(!foreign.join("wal").exists(), "nothing was added");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_group_commits() {
    const N: u32 = 50;
    let f = SegFactory::with(SegmentOptions::default());
    let log = f.log();
    for i in 0..N {
        log.create_shard(ShardKey {
            stream: 1,
            shard: i,
        })
        .await
        .expect("create");
    }
    let before = log.stats();
    // Hold the state lock so that every append queues up, as behind a slow disk.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let sh = Arc::clone(&log.shared);
    let holder = std::thread::spawn(move || {
        let _guard = sh.state.lock();
        let _ = locked_tx.send(());
        std::thread::sleep(Duration::from_millis(200));
    });
    locked_rx.recv().expect("lock taken");
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                put(
                    &log,
                    ShardKey {
                        stream: 1,
                        shard: i,
                    },
                    payloads(2, 8),
                )
                .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("task").first_offset, 0);
    }
    holder.join().expect("holder");
    let after = log.stats();
    assert_eq!(after.appends - before.appends, u64::from(N));
    assert_eq!(after.records - before.records, u64::from(2 * N));
    let commits = after.group_commits - before.group_commits;
    assert!(commits <= 2, "{N} appends took {commits} group commits");
    assert!(after.syncs - before.syncs <= 2, "one fsync round per group");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_appends_go_straight_to_the_segment_small_ones_through_the_wal() {
    let f = SegFactory::with(SegmentOptions {
        direct_write_bytes: Some(64 << 10),
        ..SegmentOptions::default()
    });
    let log = f.log();
    log.create_shard(S).await.expect("create");
    put(&log, S, payloads(10, 100)).await;
    let s = log.stats();
    assert_eq!(s.direct_bytes, 0);
    assert!(s.wal_bytes > 1_000, "small records are in the WAL");
    put(&log, S, payloads(100, 1 << 10)).await;
    let s2 = log.stats();
    assert!(s2.direct_bytes > 100 << 10, "big group written directly");
    assert!(
        s2.wal_bytes - s.wal_bytes < 1 << 10,
        "the WAL only refers to it: {} bytes",
        s2.wal_bytes - s.wal_bytes
    );
    drop(log);
    let log = f.log();
    let recs = log
        .read(S, ReadFrom::Offset(0), 1_000, usize::MAX)
        .await
        .expect("read");
    assert_eq!(recs.len(), 110);
    assert_eq!(recs[10].payload.len(), 1 << 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_roll_by_size_and_age_and_trim_deletes_whole_ones() {
    let f = SegFactory::with(SegmentOptions {
        segment_bytes: 4 << 10,
        segment_max_age: Duration::from_millis(30),
        ..SegmentOptions::default()
    });
    let log = f.log();
    log.create_shard(S).await.expect("create");
    // 10 records of ~1 KiB per segment of 4 KiB: 3 per segment.
    let mut last = 0;
    for _ in 0..10 {
        last = put(&log, S, payloads(1, 1_000)).await.arrival_ms;
    }
    assert_eq!(log.segment_count(), 4);
    tokio::time::sleep(Duration::from_millis(40)).await;
    put(&log, S, payloads(1, 10)).await;
    assert_eq!(log.segment_count(), 5, "an old segment is sealed by age");
    log.trim_before(S, last + 1).await.expect("trim");
    assert_eq!(log.bounds(S).await.expect("bounds").first, 10);
    assert_eq!(
        log.segment_count(),
        1,
        "wholly trimmed segments are forgotten at once"
    );
    log.checkpoint().await.expect("checkpoint");
    let dir = f.dir.path().join("segments").join("shards");
    let files: Vec<_> = std::fs::read_dir(dir)
        .expect("ls")
        .flat_map(|d| std::fs::read_dir(d.expect("entry").path()).expect("ls"))
        .collect();
    assert_eq!(
        files.len(),
        2,
        "one segment and its index remain after the checkpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_after_a_clean_shutdown_replays_nothing() {
    let f = SegFactory::with(tiny());
    {
        let log = f.log();
        log.create_shard(S).await.expect("create");
        for i in 0..20 {
            put(&log, S, payloads(3, 30 + i)).await;
        }
    }
    let log = f.log();
    let r = log.recovery_report().clone();
    assert_eq!((r.batches_replayed, r.wal_bytes_discarded), (0, 0), "{r:?}");
    assert!(r.segments > 5, "{r:?}");
    let recs = log
        .read(S, ReadFrom::Offset(0), 1_000, usize::MAX)
        .await
        .expect("read");
    assert_eq!(recs.len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_is_undone_and_later_writes_work() {
    let f = SegFactory::with(SegmentOptions::default());
    let log = f.log();
    log.create_shard(S).await.expect("create");
    put(&log, S, payloads(3, 10)).await;
    // Make the shard directory unwritable for new segments by replacing it with a file: the
    // roll into a new segment fails, the group fails, nothing is published.
    let shard_dir = log.shared.table.read()[&S].dir.clone();
    let before = log.bounds(S).await.expect("bounds");
    {
        let mut st = log.shared.state.lock();
        let w = st.writers.get_mut(&S).expect("writer");
        w.tail = None; // force a new segment on the next append
    }
    let moved = shard_dir.with_extension("moved");
    std::fs::rename(&shard_dir, &moved).expect("move");
    std::fs::write(&shard_dir, b"not a directory").expect("block");
    let err = log
        .append(vec![ShardAppend {
            shard: S,
            payloads: payloads(2, 10),
        }])
        .await
        .expect_err("the write cannot succeed");
    assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
    assert_eq!(
        log.bounds(S).await.expect("bounds"),
        before,
        "nothing became visible"
    );
    assert!(
        log.shared.poisoned().is_ok(),
        "a cleanly undone write does not poison"
    );
    std::fs::remove_file(&shard_dir).expect("unblock");
    std::fs::rename(&moved, &shard_dir).expect("restore");
    assert_eq!(put(&log, S, payloads(1, 10)).await.first_offset, 3);
    let recs = log
        .read(S, ReadFrom::Offset(0), 100, usize::MAX)
        .await
        .expect("read");
    assert_eq!(recs.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_readable_or_acknowledged_before_its_fsync() {
    let f = SegFactory::with(SegmentOptions::default());
    let log = f.log();
    log.create_shard(S).await.expect("create");
    put(&log, S, payloads(2, 10)).await;
    let commits = log.stats().group_commits;
    // Stall the syncer (from a plain thread: the guard must not live across an await).
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let sh = Arc::clone(&log.shared);
    let holder = std::thread::spawn(move || {
        let _gate = sh.sync_gate.lock();
        let _ = locked_tx.send(());
        let _ = release_rx.recv();
    });
    locked_rx.recv().expect("gate taken");
    let mut watch = log.watch(S).await.expect("watch");
    assert_eq!(*watch.borrow_and_update(), 2);
    let l = Arc::clone(&log);
    let pending = tokio::spawn(async move { put(&l, S, payloads(3, 10)).await });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while log.stats().group_commits == commits {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never wrote the group"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Written to the segment and the WAL, but not fsynced: invisible and unanswered.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!pending.is_finished(), "acknowledged before the fsync");
    assert!(
        !watch.has_changed().expect("open"),
        "watchers told before the fsync"
    );
    assert_eq!(log.bounds(S).await.expect("bounds").next, 2);
    assert!(log
        .read(S, ReadFrom::Offset(2), 10, 1 << 20)
        .await
        .expect("read")
        .is_empty());
    assert_eq!(
        log.read(S, ReadFrom::Time(0), 10, 1 << 20)
            .await
            .expect("read")
            .len(),
        2
    );
    release_tx.send(()).expect("release");
    holder.join().expect("holder");
    tokio::time::timeout(Duration::from_secs(5), watch.changed())
        .await
        .expect("watchers told once durable")
        .expect("open");
    assert_eq!(*watch.borrow(), 5);
    assert_eq!(pending.await.expect("task").first_offset, 2);
    assert_eq!(log.bounds(S).await.expect("bounds").next, 5);
    assert_eq!(
        log.read(S, ReadFrom::Offset(2), 10, 1 << 20)
            .await
            .expect("read")
            .len(),
        3
    );
}
