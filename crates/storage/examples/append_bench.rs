//! Append throughput of the segment log, without HTTP: C concurrent tasks each append batches of
//! B records of S bytes, spread over K shards (one `ShardAppend` per shard per call, as the
//! engine does for PutRecords), until N records are written. Prints records/s, MB/s, group
//! commits/s and append latency.
//!
//! ```text
//! cargo run --release -p tributary-storage --example append_bench -- \
//!     --records 2000000 --size 1024 --tasks 16 --shards 4 --batch 500
//! ```
//! Options: `--records N`, `--size S`, `--tasks C`, `--shards K`,
//! `--batch B`, `--read-limit L` (then read everything back, C tasks each reading whole shards
//! L records at a time, like GetRecords with Limit L; 0 = skip), `--interval-ms D` (Durability::Interval instead of Sync), `--direct-bytes X`
//! (direct-write threshold, 0 = always, `none` = never), `--dir PATH` (default: a
//! temporary directory under the current one, so it is on the disk under test).

use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tributary_storage::{Durability, SegmentLog, SegmentOptions, ShardAppend, ShardKey, ShardLog};

/// Reads (group commits, fsync rounds) of the log under test.
type Counters = Box<dyn Fn() -> (u64, u64)>;

struct Args {
    records: u64,
    size: usize,
    tasks: usize,
    shards: u32,
    batch: usize,
    interval_ms: Option<u64>,
    direct: Option<Option<u64>>,
    dir: Option<std::path::PathBuf>,
    read_limit: usize,
}

fn args() -> Args {
    let mut a = Args {
        records: 1_000_000,
        size: 1024,
        tasks: 16,
        shards: 4,
        batch: 500,
        interval_ms: None,
        direct: None,
        dir: None,
        read_limit: 1000,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let num = || {
            v.parse::<u64>()
                .unwrap_or_else(|_| panic!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--records" => a.records = num(),
            "--size" => a.size = num() as usize,
            "--tasks" => a.tasks = num() as usize,
            "--shards" => a.shards = num() as u32,
            "--batch" => a.batch = num() as usize,
            "--interval-ms" => a.interval_ms = Some(num()),
            "--direct-bytes" => a.direct = Some((v != "none").then(num)),
            "--dir" => a.dir = Some(v.into()),
            "--read-limit" => a.read_limit = num() as usize,
            other => panic!("unknown option {other}"),
        }
    }
    a
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let tmp = match &a.dir {
        Some(_) => None,
        None => Some(tempfile::tempdir_in(".").expect("tempdir")),
    };
    let dir = a.dir.clone().unwrap_or_else(|| {
        tmp.as_ref()
            .map(|t| t.path().to_path_buf())
            .unwrap_or_default()
    });
    let durability = a.interval_ms.map_or(Durability::Sync, |ms| {
        Durability::Interval(Duration::from_millis(ms))
    });
    let mut opts = SegmentOptions {
        durability,
        ..Default::default()
    };
    if let Some(d) = a.direct {
        opts.direct_write_bytes = d;
    }
    let segments = SegmentLog::open(&dir, opts).expect("open segments");
    let s2 = Arc::clone(&segments);
    let stats: Counters = Box::new(move || (s2.stats().group_commits, s2.stats().syncs));
    let log: Arc<dyn ShardLog> = segments;
    for i in 0..a.shards {
        rt.block_on(log.create_shard(ShardKey {
            stream: 1,
            shard: i,
        }))
        .expect("create shard");
    }
    // Incompressible payloads, all slices of one buffer.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let pool: Vec<u8> = (0..(a.size * 64).max(1 << 20))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let pool = Bytes::from(pool);
    let calls = a.records.div_ceil(a.batch as u64);
    let next_call = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (c0, s0) = stats();
    let started = Instant::now();
    let latencies = rt.block_on(async {
        let handles: Vec<_> = (0..a.tasks)
            .map(|t| {
                let (log, pool, next_call) =
                    (Arc::clone(&log), pool.clone(), Arc::clone(&next_call));
                let (size, batch, shards) = (a.size, a.batch, a.shards);
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    loop {
                        let n = next_call.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if n >= calls {
                            return lat;
                        }
                        let mut per: Vec<Vec<Bytes>> = vec![Vec::new(); shards as usize];
                        for r in 0..batch {
                            let at = (r * 7919 + t * 31) % (pool.len() - size);
                            per[(r + t) % shards as usize].push(pool.slice(at..at + size));
                        }
                        let appends = per
                            .into_iter()
                            .enumerate()
                            .filter(|(_, p)| !p.is_empty())
                            .map(|(s, payloads)| ShardAppend {
                                shard: ShardKey {
                                    stream: 1,
                                    shard: s as u32,
                                },
                                payloads,
                            })
                            .collect();
                        let t0 = Instant::now();
                        log.append(appends).await.expect("append");
                        lat.push(t0.elapsed());
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.expect("task"));
        }
        all
    });
    let secs = started.elapsed().as_secs_f64();
    let (c1, s1) = stats();
    let mut lat = latencies;
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let records = calls * a.batch as u64;
    println!(
        "records={} size={} tasks={} shards={} batch={} durability={:?}",
        records, a.size, a.tasks, a.shards, a.batch, durability
    );
    println!(
        "{:.0} records/s, {:.1} MB/s, {:.1} group commits/s, {:.1} fsync rounds/s, \
         append latency p50 {:.1} ms p99 {:.1} ms, {:.2} s",
        records as f64 / secs,
        records as f64 * a.size as f64 / secs / 1e6,
        (c1 - c0) as f64 / secs,
        (s1 - s0) as f64 / secs,
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        secs
    );
    if a.read_limit > 0 {
        read_back(&rt, &log, &a);
    }
    drop(log);
}

/// Reads every shard from offset 0 to its end, `read_limit` records (at most 10 MiB) per call,
/// from `tasks` concurrent readers (each read runs on the blocking pool inside the store).
fn read_back(rt: &tokio::runtime::Runtime, log: &Arc<dyn ShardLog>, a: &Args) {
    let started = Instant::now();
    let (records, calls) = rt.block_on(async {
        let handles: Vec<_> = (0..a.tasks)
            .map(|t| {
                let log = Arc::clone(log);
                let (shards, limit) = (a.shards, a.read_limit);
                tokio::spawn(async move {
                    let s = ShardKey {
                        stream: 1,
                        shard: t as u32 % shards,
                    };
                    let (mut from, mut n, mut calls) = (0, 0u64, 0u64);
                    loop {
                        let recs = log
                            .read(
                                s,
                                tributary_storage::ReadFrom::Offset(from),
                                limit,
                                10 << 20,
                            )
                            .await
                            .expect("read");
                        calls += 1;
                        let Some(last) = recs.last() else {
                            return (n, calls);
                        };
                        from = last.offset + 1;
                        n += recs.len() as u64;
                    }
                })
            })
            .collect();
        let (mut n, mut c) = (0, 0);
        for h in handles {
            let (a, b) = h.await.expect("reader");
            n += a;
            c += b;
        }
        (n, c)
    });
    let secs = started.elapsed().as_secs_f64();
    println!(
        "read back: {:.0} records/s, {:.1} MB/s, {:.0} reads/s of up to {} records ({} readers, \
         page cache warm)",
        records as f64 / secs,
        records as f64 * a.size as f64 / secs / 1e6,
        calls as f64 / secs,
        a.read_limit,
        a.tasks
    );
}
