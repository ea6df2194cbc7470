//! Disk full: appends fail with `Unavailable` and nothing of them becomes visible, reads keep
//! working, and once retention frees space (trim, then the checkpoint that deletes the trimmed
//! segments, helped by the reserve file) appends work again, without a restart.
//!
//! Needs a small dedicated file system, e.g. `mount -t tmpfs -o size=24m tmpfs /mnt/small`, then
//! `TRIBUTARY_SMALL_FS=/mnt/small cargo nextest run -p tributary-storage --run-ignored ignored-only disk_full`.

use bytes::Bytes;
use tributary_storage::{
    ReadFrom, SegmentLog, SegmentOptions, ShardAppend, ShardKey, ShardLog, StorageError,
};

const S: ShardKey = ShardKey {
    stream: 4,
    shard: 0,
};

fn batch(n: u64) -> Vec<Bytes> {
    (0..64u64)
        .map(|i| Bytes::from(vec![(n * 64 + i) as u8; 4 << 10]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TRIBUTARY_SMALL_FS pointing at a small, dedicated file system"]
async fn a_full_disk_refuses_appends_keeps_reads_and_recovers_with_retention() {
    let Some(root) = std::env::var_os("TRIBUTARY_SMALL_FS") else {
        panic!("set TRIBUTARY_SMALL_FS");
    };
    for direct in [Some(0), None] {
        let dir = tempfile::tempdir_in(&root).expect("tempdir");
        let opts = SegmentOptions {
            segment_bytes: 1 << 20,
            wal_file_bytes: 1 << 20,
            checkpoint_bytes: 2 << 20,
            direct_write_bytes: direct,
            ..SegmentOptions::default()
        };
        let log = SegmentLog::open(dir.path(), opts.clone()).expect("open");
        log.create_shard(S).await.expect("create");
        let mut acked = 0u64;
        let mut last_arrival = 0;
        let err = loop {
            match log
                .append(vec![ShardAppend {
                    shard: S,
                    payloads: batch(acked / 64),
                }])
                .await
            {
                Ok(r) => {
                    assert_eq!(r[0].first_offset, acked);
                    acked += 64;
                    last_arrival = r[0].arrival_ms;
                }
                Err(e) => break e,
            }
            assert!(acked < 1 << 20, "the file system never filled up");
        };
        eprintln!("direct {direct:?}: full after {acked} records: {err}");
        assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
        assert_eq!(
            log.bounds(S).await.expect("bounds").next,
            acked,
            "nothing of the failed append shows"
        );
        let first = log
            .read(S, ReadFrom::Offset(0), 1, 0)
            .await
            .expect("reads work on a full disk");
        assert_eq!(first[0].payload[0], 0);
        let again = log
            .append(vec![ShardAppend {
                shard: S,
                payloads: batch(0),
            }])
            .await;
        assert!(
            matches!(again, Err(StorageError::Unavailable(_))),
            "still full"
        );
        // Retention: drop everything but the newest append, then checkpoint to delete.
        log.trim_before(S, last_arrival)
            .await
            .expect("trim on a full disk");
        let mut freed = false;
        for _ in 0..3 {
            if log.checkpoint().await.is_ok() {
                freed = true;
                break;
            }
        }
        assert!(
            freed,
            "the checkpoint that frees space could not be written"
        );
        let more = log
            .append(vec![ShardAppend {
                shard: S,
                payloads: batch(1),
            }])
            .await
            .expect("appends work again once space is back");
        assert_eq!(more[0].first_offset, acked);
        drop(log);
        let log = SegmentLog::open(dir.path(), opts).expect("reopen");
        assert_eq!(log.bounds(S).await.expect("bounds").next, acked + 64);
    }
}
