//! Torn tails: what `docs/storage.md` promises for the segment engine after a power cut.
//!
//! Each iteration appends at random, with `sync()` and `checkpoint()` at random points
//! (`Durability::Interval` of an hour, so nothing is fsynced unless the test says so), copies the
//! directory while the engine is running (what a crash leaves in the page cache), then damages
//! the copy the way a power cut may: only bytes written after they were last fsynced are
//! truncated, corrupted or (for files created after) lost. Reopening must then show, per shard,
//! every record acknowledged before the last `sync()`, followed by a prefix of the later ones,
//! byte for byte, and nothing else.

use bytes::Bytes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tributary_storage::{
    Durability, ReadFrom, SegmentLog, SegmentOptions, ShardAppend, ShardKey, ShardLog, StorageError,
};

const SHARDS: u32 = 3;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self, n: usize) -> Bytes {
        (0..n)
            .map(|_| self.next() as u8)
            .collect::<Vec<u8>>()
            .into()
    }
}

fn key(i: u32) -> ShardKey {
    ShardKey {
        stream: 7,
        shard: i,
    }
}

/// Length of every file under `dir`, by path relative to it.
fn sizes(dir: &Path) -> HashMap<PathBuf, u64> {
    let mut out = HashMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("ls") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir").to_path_buf();
                out.insert(rel, std::fs::metadata(&p).expect("stat").len());
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for rel in sizes(from).keys() {
        let dst = to.join(rel);
        std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
        std::fs::copy(from.join(rel), dst).expect("copy");
    }
    // Empty directories (a shard without segments) too.
    for e in std::fs::read_dir(from.join("shards")).expect("ls") {
        let p = e.expect("entry").path();
        std::fs::create_dir_all(to.join(p.strip_prefix(from).expect("under"))).expect("mkdir");
    }
}

/// Damages `dir` as a power cut may: beyond each file's durable prefix.
fn damage(
    dir: &Path,
    at_sync: &HashMap<PathBuf, u64>,
    at_ckpt: &HashMap<PathBuf, u64>,
    direct: bool,
    rng: &mut Rng,
) -> Vec<String> {
    let mut done = Vec::new();
    let now = sizes(dir);
    let newest_wal = now
        .keys()
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .max()
        .cloned();
    for (rel, &len) in &now {
        let ext = rel.extension().and_then(|x| x.to_str()).unwrap_or("");
        // The durable prefix of the file, or None if the file itself may not survive.
        let durable = match ext {
            // Only the newest WAL file is ever unsynced; its header is fsynced at creation.
            "wal" if Some(rel) == newest_wal.as_ref() => {
                Some(at_sync.get(rel).copied().unwrap_or(32).max(32))
            }
            "seg" if direct => at_sync.get(rel).copied(),
            "seg" | "idx" => at_ckpt.get(rel).copied(),
            _ => continue,
        };
        let path = dir.join(rel);
        let Some(d) = durable else {
            if rng.below(4) == 0 {
                std::fs::remove_file(&path).expect("rm");
                done.push(format!("lost {}", rel.display()));
                continue;
            }
            damage_after(&path, 0, len, rel, rng, &mut done);
            continue;
        };
        if len > d {
            damage_after(&path, d, len, rel, rng, &mut done);
        }
    }
    done
}

fn damage_after(
    path: &Path,
    from: u64,
    len: u64,
    rel: &Path,
    rng: &mut Rng,
    done: &mut Vec<String>,
) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    match rng.below(3) {
        0 => {
            let cut = from + rng.below(len - from + 1);
            f.set_len(cut).expect("truncate");
            done.push(format!("cut {} at {cut} of {len}", rel.display()));
        }
        1 => {
            use std::os::unix::fs::FileExt;
            for _ in 0..1 + rng.below(3) {
                let at = from + rng.below(len - from);
                let mut b = [0u8];
                std::fs::File::open(path)
                    .expect("open")
                    .read_exact_at(&mut b, at)
                    .expect("read");
                b[0] ^= 1 << rng.below(8);
                f.write_all_at(&b, at).expect("flip");
                done.push(format!("flip {} at {at}", rel.display()));
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_tails_lose_nothing_synced_and_return_nothing_corrupt() {
    let mut rng = Rng(0x0DDB_1A5E_5BAD_5EED);
    for iter in 0..36 {
        let direct = match iter % 3 {
            0 => None,
            1 => Some(0),
            _ => Some(2_048),
        };
        let opts = SegmentOptions {
            durability: Durability::Interval(Duration::from_secs(3600)),
            segment_bytes: 8_192 + rng.below(24_576),
            index_interval_bytes: 256,
            wal_file_bytes: 16 << 10,
            checkpoint_bytes: u64::MAX / 2,
            checkpoint_interval: Duration::from_secs(3600),
            direct_write_bytes: direct,
            ..SegmentOptions::default()
        };
        let root = tempfile::tempdir().expect("tempdir");
        let (live, crashed) = (root.path().join("live"), root.path().join("crashed"));
        let log = SegmentLog::open(&live, opts.clone()).expect("open");
        for i in 0..SHARDS {
            log.create_shard(key(i)).await.expect("create");
        }
        let mut expected: Vec<Vec<(Bytes, i64)>> = vec![Vec::new(); SHARDS as usize];
        let mut synced = [0usize; SHARDS as usize];
        let mut at_sync = sizes(&live);
        let mut at_ckpt = at_sync.clone();
        for _ in 0..40 {
            match rng.below(12) {
                0 => {
                    log.checkpoint().await.expect("checkpoint");
                    at_ckpt = sizes(&live);
                    // Segments are fsynced: everything so far is durable.
                    for (s, e) in synced.iter_mut().zip(&expected) {
                        *s = e.len();
                    }
                    // ... and so is every segment file as it stands now.
                    at_sync.retain(|p, _| live.join(p).exists());
                    for (p, len) in &at_ckpt {
                        if p.extension().is_some_and(|x| x != "wal") {
                            let e = at_sync.entry(p.clone()).or_insert(0);
                            *e = (*e).max(*len);
                        }
                    }
                }
                1 | 2 => {
                    log.sync().await.expect("sync");
                    at_sync = sizes(&live);
                    for (s, e) in synced.iter_mut().zip(&expected) {
                        *s = e.len();
                    }
                }
                _ => {
                    let mut appends = Vec::new();
                    for _ in 0..1 + rng.below(3) {
                        let n = 1 + rng.below(20) as usize;
                        let payloads = (0..n)
                            .map(|_| {
                                let size = if rng.below(10) == 0 {
                                    3_000
                                } else {
                                    1 + rng.below(600)
                                };
                                rng.bytes(size as usize)
                            })
                            .collect();
                        appends.push(ShardAppend {
                            shard: key(rng.below(u64::from(SHARDS)) as u32),
                            payloads,
                        });
                    }
                    let res = log.append(appends.clone()).await.expect("append");
                    for (a, r) in appends.iter().zip(res) {
                        let e = &mut expected[a.shard.shard as usize];
                        assert_eq!(r.first_offset, e.len() as u64);
                        e.extend(a.payloads.iter().map(|p| (p.clone(), r.arrival_ms)));
                    }
                }
            }
        }
        copy_dir(&live, &crashed);
        drop(log);
        let what = damage(&crashed, &at_sync, &at_ckpt, direct.is_some(), &mut rng);
        let log = SegmentLog::open(&crashed, opts.clone())
            .unwrap_or_else(|e| panic!("iteration {iter}: reopen failed after {what:?}: {e}"));
        for i in 0..SHARDS {
            let recs = log
                .read(key(i), ReadFrom::Offset(0), usize::MAX, usize::MAX)
                .await
                .unwrap_or_else(|e| panic!("iteration {iter}: read failed after {what:?}: {e}"));
            let want = &expected[i as usize];
            assert!(
                recs.len() >= synced[i as usize] && recs.len() <= want.len(),
                "iteration {iter} shard {i}: {} records back, {} synced, {} written; {what:?}",
                recs.len(),
                synced[i as usize],
                want.len()
            );
            for (n, r) in recs.iter().enumerate() {
                assert_eq!(r.offset, n as u64, "iteration {iter}: dense offsets");
                assert!(
                    r.payload == want[n].0 && r.arrival_ms == want[n].1,
                    "iteration {iter} shard {i} offset {n}: a different record came back; {what:?}"
                );
            }
            let b = log.bounds(key(i)).await.expect("bounds");
            assert_eq!(b.next, recs.len() as u64);
            let more = log
                .append(vec![ShardAppend {
                    shard: key(i),
                    payloads: vec![Bytes::from_static(b"after")],
                }])
                .await
                .expect("append after recovery");
            assert_eq!(more[0].first_offset, recs.len() as u64, "offsets continue");
        }
        drop(log);
        // And the recovered directory reopens cleanly.
        let log = SegmentLog::open(&crashed, opts).expect("second reopen");
        assert_eq!(log.recovery_report().batches_replayed, 0);
    }
}

/// Damage inside fsynced data (media corruption) is never handed out as a record: the read that
/// reaches it fails with `Corrupt`; records before it still read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_in_a_sealed_segment_is_reported_not_returned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = SegmentOptions {
        segment_bytes: 8 << 10,
        index_interval_bytes: 1 << 10,
        ..SegmentOptions::default()
    };
    let s = key(0);
    {
        let log = SegmentLog::open(dir.path(), opts.clone()).expect("open");
        log.create_shard(s).await.expect("create");
        for i in 0..40u8 {
            log.append(vec![ShardAppend {
                shard: s,
                payloads: vec![Bytes::from(vec![i; 500])],
            }])
            .await
            .expect("append");
        }
    }
    // Flip a payload byte of the 3rd record of the first segment (frames start at byte 32,
    // each is 24 + 500 bytes).
    let shard_dir = std::fs::read_dir(dir.path().join("shards"))
        .expect("ls")
        .next()
        .expect("a shard")
        .expect("entry")
        .path();
    let seg = shard_dir.join(format!("{:020}.seg", 0));
    let mut bytes = std::fs::read(&seg).expect("read");
    bytes[32 + 2 * 524 + 24 + 100] ^= 0x40;
    std::fs::write(&seg, bytes).expect("write");
    let log = Arc::new(SegmentLog::open(dir.path(), opts).expect("reopen"));
    let ok = log
        .read(s, ReadFrom::Offset(0), 2, usize::MAX)
        .await
        .expect("before the damage");
    assert_eq!(ok.len(), 2);
    match log.read(s, ReadFrom::Offset(0), 10, usize::MAX).await {
        Err(StorageError::Corrupt(msg)) => assert!(msg.contains("checksum"), "{msg}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let later = log
        .read(s, ReadFrom::Offset(20), 5, usize::MAX)
        .await
        .expect("other segments");
    assert_eq!(later[0].payload[0], 20);
}
