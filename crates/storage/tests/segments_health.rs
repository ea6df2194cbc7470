//! The segment log's health: writable on a fresh directory; not writable while its probe
//! write fails (a directory where the probe file goes makes the write fail as a full or
//! read-only disk would, even for root); writable again at the next probe once the cause is
//! gone; and the series it writes for `/metrics`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tributary_storage::{SegmentLog, SegmentOptions, ShardAppend, ShardKey, ShardLog};
use tributary_telemetry::Exposition;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_whether_the_directory_takes_writes() {
    let dir = tempfile::tempdir().unwrap();
    let log = SegmentLog::open(dir.path(), SegmentOptions::default()).unwrap();
    log.health().await.expect("a fresh directory is writable");

    // Within the second the last verdict is kept: wait for a fresh probe.
    std::thread::sleep(Duration::from_millis(1100));
    let blocker = dir.path().join("health-probe");
    std::fs::create_dir(&blocker).unwrap();
    let e = log.health().await.expect_err("the probe cannot write");
    assert!(e.to_string().contains("cannot write to"), "{e}");

    std::fs::remove_dir(&blocker).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while log.health().await.is_err() {
        assert!(Instant::now() < deadline, "still unwritable");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!blocker.exists(), "the probe leaves no file behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_fsync_latency_backlog_and_disk_use() {
    let dir = tempfile::tempdir().unwrap();
    let log = SegmentLog::open(dir.path(), SegmentOptions::default()).unwrap();
    let key = ShardKey {
        stream: 1,
        shard: 0,
    };
    log.create_shard(key).await.unwrap();
    log.append(vec![ShardAppend {
        shard: key,
        payloads: vec![Bytes::from_static(b"x")],
    }])
    .await
    .unwrap();
    let mut out = Exposition::new();
    log.write_metrics(&mut out).await;
    let text = out.finish();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{series} missing in\n{text}"))
            .parse()
            .unwrap()
    };
    assert!(value("tributary_storage_fsync_seconds_count") >= 1.0);
    assert_eq!(
        value("tributary_storage_fsync_seconds_count"),
        value("tributary_storage_fsync_seconds_bucket{le=\"+Inf\"}")
    );
    assert_eq!(value("tributary_storage_append_backlog_bytes"), 0.0);
    assert!(value("tributary_storage_group_commits_total") >= 1.0);
    assert!(value("tributary_storage_disk_bytes") > 0.0);
}
