//! Retention under churn: appending 10x the retained volume with a short retention keeps disk
//! use within twice the retained volume plus one WAL's worth (the WAL is bounded separately, by
//! `checkpoint_bytes` + `wal_file_bytes`).

use bytes::Bytes;
use std::collections::VecDeque;
use std::time::Duration;
use tributary_storage::{SegmentLog, SegmentOptions, ShardAppend, ShardKey, ShardLog};

const S: ShardKey = ShardKey {
    stream: 3,
    shard: 0,
};
const RECORD: usize = 1 << 10;
const PER_APPEND: usize = 256; // 256 KiB per append
const KEEP: usize = 32; // 8 MiB retained
const APPENDS: usize = 400; // 100 MiB written

fn pool() -> Bytes {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..4 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

async fn churn(opts: SegmentOptions) {
    let dir = tempfile::tempdir().expect("tempdir");
    let allowance = opts.checkpoint_bytes + opts.wal_file_bytes;
    let log = SegmentLog::open(dir.path(), opts).expect("open");
    log.create_shard(S).await.expect("create");
    let pool = pool();
    let mut arrivals = VecDeque::new();
    let (mut peak_disk, mut peak_retained) = (0u64, 0u64);
    for i in 0..APPENDS {
        let payloads = (0..PER_APPEND)
            .map(|r| {
                let at = (i * 7_919 + r * 104_729) % (pool.len() - RECORD);
                pool.slice(at..at + RECORD)
            })
            .collect();
        let res = log
            .append(vec![ShardAppend { shard: S, payloads }])
            .await
            .expect("append");
        arrivals.push_back(res[0].arrival_ms);
        // Distinct arrival times, so that trimming by time keeps exactly KEEP appends.
        tokio::time::sleep(Duration::from_millis(2)).await;
        if arrivals.len() > KEEP {
            let cut = arrivals.pop_front().expect("non-empty") + 1;
            log.trim_before(S, cut).await.expect("trim");
        }
        let b = log.bounds(S).await.expect("bounds");
        let retained = (b.next - b.first) * RECORD as u64;
        peak_retained = peak_retained.max(retained);
        peak_disk = peak_disk.max(log.disk_space().expect("du"));
    }
    let written = (APPENDS * PER_APPEND * RECORD) as u64;
    eprintln!(
        "written {written}, peak retained {peak_retained}, peak disk {peak_disk}, stats {:?}",
        log.stats()
    );
    assert!(
        written >= 10 * peak_retained,
        "the test must churn 10x the retained volume"
    );
    assert!(
        peak_disk <= 2 * peak_retained + allowance,
        "disk use peaked at {peak_disk} bytes for {peak_retained} retained (+{allowance} of WAL)"
    );
    assert!(log.stats().segments_deleted > 50, "{:?}", log.stats());
}

fn opts() -> SegmentOptions {
    SegmentOptions {
        segment_bytes: 1 << 20,
        wal_file_bytes: 2 << 20,
        checkpoint_bytes: 4 << 20,
        ..SegmentOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_use_plateaus_with_direct_writes() {
    churn(opts()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_use_plateaus_through_the_wal() {
    churn(SegmentOptions {
        direct_write_bytes: None,
        ..opts()
    })
    .await;
}
