//! The contract suite run against [`FjallStore`], plus what only this engine promises: the
//! directory lock, the format check, group commit, the purge, and torn-tail recovery.

use super::keys;
use super::*;
use crate::contract::{Engines, Factory};
use crate::{ReadFrom, ShardAppend, ShardLog, StorageError};
use bytes::Bytes;
use futures::future::BoxFuture;
use std::time::Instant;

struct FjallFactory {
    dir: tempfile::TempDir,
    opts: FjallOptions,
}

impl FjallFactory {
    fn new() -> Self {
        Self::with(FjallOptions::default())
    }

    fn with(opts: FjallOptions) -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            opts,
        }
    }

    fn store(&self) -> Arc<FjallStore> {
        FjallStore::open(self.dir.path(), self.opts.clone()).expect("open store")
    }
}

impl Factory for FjallFactory {
    fn open(&self) -> BoxFuture<'_, Engines> {
        Box::pin(async move {
            let store = self.store();
            Engines {
                log: store.clone(),
                meta: store,
            }
        })
    }
}

/// Slow or environment-dependent tests, run on demand (`--run-ignored only`).
mod soak;

mod contract_sync {
    crate::contract_tests!(super::FjallFactory::new());
}

mod contract_interval {
    crate::contract_tests!(super::FjallFactory::with(super::FjallOptions {
        durability: super::Durability::Interval(std::time::Duration::from_millis(20)),
        ..Default::default()
    }));
}

const S: ShardKey = ShardKey {
    stream: 1,
    shard: 0,
};

fn payloads(n: usize, size: usize) -> Vec<Bytes> {
    (0..n).map(|i| Bytes::from(vec![i as u8; size])).collect()
}

/// Incompressible payloads (xorshift), so that disk usage reflects the bytes written.
fn noise(n: usize, size: usize, seed: u64) -> Vec<Bytes> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            let v: Vec<u8> = (0..size)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            Bytes::from(v)
        })
        .collect()
}

async fn put(store: &FjallStore, shard: ShardKey, payloads: Vec<Bytes>) -> crate::Appended {
    store
        .append(vec![ShardAppend { shard, payloads }])
        .await
        .expect("append")[0]
}

/// Polls `cond` for up to 10 s; the purge runs on the writer thread, asynchronously.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let f = FjallFactory::new();
    let first = f.store();
    match FjallStore::open(f.dir.path(), FjallOptions::default()) {
        Err(StorageError::Io(msg)) => assert!(msg.contains("already in use"), "{msg}"),
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(_) => panic!("a second open must fail while the first is alive"),
    }
    drop(first);
    drop(f.store()); // released on drop
}

#[test]
fn an_incompatible_format_version_is_refused() {
    let f = FjallFactory::new();
    drop(f.store());
    {
        let db = ::fjall::Database::builder(f.dir.path().join("fjall"))
            .open()
            .expect("raw open");
        let sys = db
            .keyspace(keys::KS_SYS, ::fjall::KeyspaceCreateOptions::default)
            .expect("sys");
        sys.insert(keys::SYS_FORMAT, 99u32.to_be_bytes())
            .expect("insert");
        db.persist(::fjall::PersistMode::SyncAll).expect("persist");
    }
    match FjallStore::open(f.dir.path(), FjallOptions::default()) {
        Err(StorageError::Corrupt(msg)) => {
            assert!(msg.contains("format version 99"), "{msg}");
            assert!(
                msg.contains(&format!("only version {FORMAT_VERSION}")),
                "{msg}"
            );
        }
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(_) => panic!("opening a future format must fail"),
    }
}

#[test]
fn a_foreign_fjall_database_is_refused_untouched() {
    let f = FjallFactory::new();
    let fjall_dir = f.dir.path().join("fjall");
    {
        let db = ::fjall::Database::builder(&fjall_dir)
            .open()
            .expect("raw open");
        let ks = db
            .keyspace("items", ::fjall::KeyspaceCreateOptions::default)
            .expect("ks");
        ks.insert("someone else's", "data").expect("insert");
    }
    match FjallStore::open(f.dir.path(), FjallOptions::default()) {
        Err(StorageError::Corrupt(msg)) => {
            assert!(msg.contains("not written by Tributary"), "{msg}")
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    let db = ::fjall::Database::builder(&fjall_dir)
        .open()
        .expect("raw open");
    assert!(
        !db.keyspace_exists(keys::KS_RECORDS),
        "no keyspace was added"
    );
    assert!(!db.keyspace_exists(keys::KS_SYS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_one_group_commit() {
    const N: u32 = 50;
    let f = FjallFactory::new();
    let store = f.store();
    for i in 0..N {
        store
            .create_shard(ShardKey {
                stream: 1,
                shard: i,
            })
            .expect("create");
    }
    let before = store.stats();
    // Hold the writer lock (from a plain thread) so that all appends queue up, as they would
    // behind a slow fsync.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let sh = Arc::clone(&store.shared);
    let holder = std::thread::spawn(move || {
        let _guard = sh.writer.lock();
        let _ = locked_tx.send(());
        std::thread::sleep(Duration::from_millis(200));
    });
    locked_rx.recv().expect("lock taken");
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                put(
                    &store,
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
    holder.join().expect("lock holder");
    let after = store.stats();
    assert_eq!(after.appends - before.appends, u64::from(N));
    assert_eq!(after.records - before.records, u64::from(2 * N));
    let commits = after.group_commits - before.group_commits;
    assert!(commits <= 2, "{N} appends took {commits} group commits");
    assert!(
        after.syncs - before.syncs <= 2,
        "one fsync per group commit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_durability_syncs_on_a_timer() {
    let f = FjallFactory::with(FjallOptions {
        durability: Durability::Interval(Duration::from_millis(30)),
        ..Default::default()
    });
    let store = f.store();
    store.create_shard(S).expect("create");
    let syncs = store.stats().syncs;
    put(&store, S, payloads(3, 10)).await;
    eventually("the interval fsync", || store.stats().syncs > syncs).await;
    drop(store);
    let store = f.store();
    assert_eq!(store.bounds(S).expect("bounds").next, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_deletes_trimmed_and_deleted_keys() {
    let f = FjallFactory::new();
    let store = f.store();
    let gone = ShardKey {
        stream: 2,
        shard: 0,
    };
    store.create_shard(S).expect("create");
    store.create_shard(gone).expect("create");
    // Many runs (one per append), so that the time index has entries to purge too.
    let mut last = 0;
    for _ in 0..5 {
        put(&store, gone, payloads(100, 16)).await;
        last = put(&store, S, payloads(3_000, 16)).await.arrival_ms;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    put(&store, S, payloads(2, 16)).await;
    store.trim_before(S, last + 1).expect("trim");
    store.delete_shard(gone).expect("delete");
    let first = store.bounds(S).expect("bounds").first;
    assert_eq!(first, 15_000);
    let sh = Arc::clone(&store.shared);
    let count = |ks: &::fjall::Keyspace, shard| ks.prefix(keys::shard_prefix(shard)).count();
    eventually("records below the trim point are deleted", || {
        count(&sh.records, S) == 2 && count(&sh.records, gone) == 0
    })
    .await;
    eventually("the deleted shard is forgotten", || {
        count(&sh.by_time, gone) == 0
            && sh
                .shards
                .get(keys::shard_prefix(gone))
                .ok()
                .flatten()
                .is_none()
    })
    .await;
    assert_eq!(
        count(&sh.by_time, S),
        1,
        "only the run holding the trim point stays indexed"
    );
    assert_eq!(store.stats().purged_records, 15_500);
    let recs = store.read(S, ReadFrom::Time(0), 10, 1 << 20).expect("read");
    assert_eq!(
        recs.iter().map(|r| r.offset).collect::<Vec<_>>(),
        [15_000, 15_001]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_gives_disk_space_back() {
    let f = FjallFactory::with(FjallOptions {
        write_buffer_bytes: 4 << 20,
        ..Default::default()
    });
    let store = f.store();
    store.create_shard(S).expect("create");
    // 40 MiB, half of it above the blob threshold.
    for i in 0..40 {
        let size = if i % 2 == 0 { 512 } else { 16 << 10 };
        put(&store, S, noise((1 << 20) / size, size, i)).await;
    }
    compact(&store);
    let full = tables_and_blobs(&f);
    assert!(
        full > 35 << 20,
        "wrote 40 MiB, tables and blobs hold {full} bytes"
    );
    let next = store.bounds(S).expect("bounds").next;
    store.trim_before(S, i64::MAX).expect("trim");
    eventually("purge", || store.stats().purged_records == next).await;
    compact(&store);
    let after = tables_and_blobs(&f);
    assert!(
        after < 1 << 20,
        "tables and blobs went from {full} to {after} bytes after a full trim"
    );
    // The journal is bounded on its own: fjall starts a new file past 64 MB and deletes old ones
    // once their keyspaces are flushed.
    assert!(store.disk_space().expect("disk space") < after + (70 << 20));
}

/// Allocated bytes of everything but the journals.
fn tables_and_blobs(f: &FjallFactory) -> u64 {
    dir_usage_of(f.dir.path(), |p| p.extension().is_none_or(|x| x != "jnl")).expect("du")
}

/// Flushes memtables and compacts fully, so the test sees what steady-state compaction reaches.
fn compact(store: &FjallStore) {
    let sh = &store.shared;
    for ks in [&sh.records, &sh.by_time, &sh.shards, &sh.meta, &sh.sys] {
        ks.rotate_memtable_and_wait().expect("flush");
        ks.major_compact().expect("compact");
        // Blob files found dead by one compaction are dropped by the next one.
        ks.major_compact().expect("compact");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_journal_tail_loses_only_the_last_batch() {
    let f = FjallFactory::new();
    {
        let store = f.store();
        store.create_shard(S).expect("create");
        put(&store, S, payloads(3, 10)).await;
        put(&store, S, payloads(2, 10)).await;
    }
    // fjall preallocates journals (zero-filled), and ends every batch with an end marker whose
    // last bytes are the magic "FJL\x03". Cut the file inside the LAST marker, as a crash in the
    // middle of writing that batch would.
    let journal = std::fs::read_dir(f.dir.path().join("fjall"))
        .expect("ls")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jnl"))
        .max_by_key(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok())
        })
        .expect("a journal file");
    let bytes = std::fs::read(&journal).expect("read journal");
    let magic = b"FJL\x03";
    // The data ends at the last non-zero byte, which closes the last end marker.
    let end = bytes
        .iter()
        .rposition(|b| *b != 0)
        .expect("a non-empty journal")
        + 1;
    assert_eq!(
        &bytes[end - magic.len()..end],
        magic,
        "the journal ends with an end marker"
    );
    let last_end = end - magic.len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .expect("open journal");
    file.set_len(last_end as u64 + 2).expect("truncate");
    drop(file);

    let store = f.store();
    let b = store.bounds(S).expect("bounds");
    assert_eq!(
        (b.first, b.next),
        (0, 3),
        "the torn batch is gone, the one before it intact"
    );
    assert_eq!(put(&store, S, payloads(1, 10)).await.first_offset, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_resumes_after_reopen() {
    let f = FjallFactory::new();
    {
        let store = f.store();
        store.create_shard(S).expect("create");
        let t = put(&store, S, payloads(20_000, 8)).await.arrival_ms;
        put(&store, S, payloads(1, 8)).await;
        // Dropped right away: the purge (5 chunks) is usually cut short by the shutdown.
        store.trim_before(S, t + 1).expect("trim");
    }
    let store = f.store();
    assert_eq!(
        store.bounds(S).expect("bounds").first,
        20_000,
        "the trim point survives"
    );
    let sh = Arc::clone(&store.shared);
    eventually("purge after reopen", || {
        sh.records.prefix(keys::shard_prefix(S)).count() == 1
    })
    .await;
}

#[test]
fn metadata_keys_fjall_cannot_store_are_refused() {
    let f = FjallFactory::new();
    let store = f.store();
    assert!(matches!(
        crate::MetaStore::create(&*store, "", Bytes::new()),
        Err(crate::MetaError::Storage(_))
    ));
    assert!(crate::MetaStore::get(&*store, "").expect("get").is_none());
}
