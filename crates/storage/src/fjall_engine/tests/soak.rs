//! Tests too slow for every run, or needing a special file system: `#[ignore]`d, run with
//! `cargo nextest run -p tributary-storage --run-ignored only`.

use super::*;

/// Steady append with retention must plateau WITHOUT forced compaction (fjall's background
/// compaction alone). Slow, so run on demand:
/// `cargo nextest run -p tributary-storage --run-ignored only plateau`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak test: writes 300 MiB, about 20 s"]
async fn disk_use_plateaus_under_steady_append_with_retention() {
    const ROUNDS: u64 = 300;
    const KEEP: usize = 8;
    let f = FjallFactory::with(FjallOptions {
        write_buffer_bytes: 8 << 20,
        ..Default::default()
    });
    let store = f.store();
    store.create_shard(S).expect("create");
    let mut arrivals = std::collections::VecDeque::new();
    let mut samples = Vec::new();
    for i in 0..ROUNDS {
        let size = if i % 2 == 0 { 700 } else { 20 << 10 };
        arrivals.push_back(
            put(&store, S, noise((1 << 20) / size, size, i))
                .await
                .arrival_ms,
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
        if arrivals.len() > KEEP {
            let cut = arrivals.pop_front().expect("non-empty") + 1;
            store.trim_before(S, cut).expect("trim");
        }
        samples.push(tables_and_blobs(&f));
    }
    let third = samples.len() / 3;
    let middle = samples[third..2 * third].iter().max().copied().unwrap_or(0);
    let last = samples[2 * third..].iter().max().copied().unwrap_or(0);
    eprintln!(
        "peak middle third {middle}, peak last third {last}, final {:?}",
        samples.last()
    );
    assert!(
        last <= middle + middle / 2,
        "disk use keeps growing: {middle} then {last} bytes"
    );
}

/// Disk full: appends and metadata writes fail with `Unavailable`, reads keep working. Needs a
/// small file system, e.g. `mount -t tmpfs -o size=80m tmpfs /mnt/small`, then
/// `TRIBUTARY_SMALL_FS=/mnt/small cargo nextest run -p tributary-storage --run-ignored only disk_full`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TRIBUTARY_SMALL_FS pointing at a small, dedicated file system"]
async fn a_full_disk_makes_writes_unavailable_but_reads_work() {
    let Some(root) = std::env::var_os("TRIBUTARY_SMALL_FS") else {
        panic!("set TRIBUTARY_SMALL_FS");
    };
    let dir = tempfile::tempdir_in(root).expect("tempdir");
    let store = FjallStore::open(dir.path(), FjallOptions::default()).expect("open");
    store.create_shard(S).expect("create");
    let rev = crate::MetaStore::create(&*store, "k", Bytes::from_static(b"v")).expect("meta");
    let mut acked = 0u64;
    let err = loop {
        match store
            .append(vec![ShardAppend {
                shard: S,
                payloads: noise(64, 16 << 10, acked + 1),
            }])
            .await
        {
            Ok(r) => acked = r[0].first_offset + 64,
            Err(e) => break e,
        }
        assert!(acked < 1 << 20, "the file system never filled up");
    };
    assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
    let again = store
        .append(vec![ShardAppend {
            shard: S,
            payloads: payloads(1, 1),
        }])
        .await;
    assert!(
        matches!(again, Err(StorageError::Unavailable(_))),
        "{again:?}"
    );
    let meta = crate::MetaStore::update(&*store, "k", Bytes::from_static(b"w"), rev);
    assert!(
        matches!(
            meta,
            Err(crate::MetaError::Storage(StorageError::Unavailable(_)))
        ),
        "{meta:?}"
    );
    assert_eq!(
        store.bounds(S).expect("bounds").next,
        acked,
        "nothing unacknowledged is visible"
    );
    let recs = store
        .read(S, ReadFrom::Offset(0), 10, 1 << 20)
        .expect("reads still work");
    assert_eq!(recs.len(), 10);
    let entry = crate::MetaStore::get(&*store, "k")
        .expect("get")
        .expect("present");
    assert_eq!(entry.revision, rev);
}
