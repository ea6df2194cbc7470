//! Crash test: a child process (this test binary, running `crash_child`) appends from many tasks
//! and prints every acknowledgement; the parent kills it with SIGKILL at a random moment, reopens
//! the directory and checks that every acknowledged record is there, at its offset, byte for
//! byte, that no record appears twice, and that nothing malformed appears. Ten rounds on the same
//! directory, so every round also recovers from the previous crash.

use bytes::Bytes;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tributary_storage::{ReadFrom, SegmentLog, SegmentOptions, ShardAppend, ShardKey, ShardLog};

const SHARDS: u32 = 4;
const TASKS: usize = 8;
const ROUNDS: u64 = 10;

fn key(i: u32) -> ShardKey {
    ShardKey {
        stream: 11,
        shard: i,
    }
}

fn opts(round: u64) -> SegmentOptions {
    SegmentOptions {
        segment_bytes: 64 << 10,
        index_interval_bytes: 1 << 10,
        wal_file_bytes: 256 << 10,
        checkpoint_bytes: 1 << 20,
        checkpoint_interval: Duration::from_millis(100),
        // Some rounds write everything through the WAL, some mostly directly.
        direct_write_bytes: [None, Some(4 << 10), Some(0)][(round % 3) as usize],
        ..SegmentOptions::default()
    }
}

/// The payload of record `i` of append `seq` of `task` in `round`: its id, then filler that
/// depends on the id, so any record can be checked on its own.
fn payload(round: u64, task: usize, seq: u64, i: usize) -> Bytes {
    let id = format!("{round}:{task}:{seq}:{i}|");
    let h = (round * 1_000_003 + task as u64 * 10_007 + seq * 101 + i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut v = id.into_bytes();
    v.extend((0..(h >> 40) % 1_500).map(|k| (h >> (k % 56)) as u8));
    Bytes::from(v)
}

/// Checks a record on its own; returns its id.
fn parse(p: &[u8]) -> (u64, usize, u64, usize) {
    let bar = p.iter().position(|b| *b == b'|').expect("an id");
    let id = std::str::from_utf8(&p[..bar]).expect("utf-8 id");
    let f: Vec<&str> = id.split(':').collect();
    let id = (
        f[0].parse().expect("round"),
        f[1].parse().expect("task"),
        f[2].parse().expect("seq"),
        f[3].parse().expect("i"),
    );
    assert_eq!(
        payload(id.0, id.1, id.2, id.3),
        p,
        "record {id:?} is malformed"
    );
    id
}

/// The child: append until killed, printing `ack <shard> <first offset> <count> <task> <seq>
/// <index of first record in the append's run>` per acknowledged run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by sigkill_at_random_moments_loses_nothing_acknowledged as a child process"]
async fn crash_child() {
    let Ok(dir) = std::env::var("TRIBUTARY_CRASH_DIR") else {
        return;
    };
    let round: u64 = std::env::var("TRIBUTARY_CRASH_ROUND")
        .expect("round")
        .parse()
        .expect("number");
    let log = SegmentLog::open(Path::new(&dir), opts(round)).expect("child open");
    for i in 0..SHARDS {
        if log.bounds(key(i)).await.is_err() {
            log.create_shard(key(i)).await.expect("create");
        }
    }
    println!("ready");
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                for seq in 0.. {
                    let mut appends = Vec::new();
                    let mut starts = Vec::new();
                    let mut i = 0;
                    for k in 0..1 + (task + seq as usize) % 3 {
                        let n = 1 + (task * 13 + seq as usize * 7 + k) % 40;
                        starts.push(i);
                        appends.push(ShardAppend {
                            shard: key(((task + k + seq as usize) % SHARDS as usize) as u32),
                            payloads: (i..i + n).map(|j| payload(round, task, seq, j)).collect(),
                        });
                        i += n;
                    }
                    let res = log.append(appends.clone()).await.expect("append");
                    for ((a, r), start) in appends.iter().zip(res).zip(starts) {
                        println!(
                            "ack {} {} {} {task} {seq} {start}",
                            a.shard.shard,
                            r.first_offset,
                            a.payloads.len()
                        );
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    // (shard, offset) -> the acknowledged record's payload.
    let mut acked: HashMap<(u32, u64), Bytes> = HashMap::new();
    let mut x = 0xC0FF_EE00_D15E_A5E5u64;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child",
                "--include-ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("TRIBUTARY_CRASH_DIR", dir.path())
            .env("TRIBUTARY_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut acked_once = false;
            for l in out.lines().map_while(Result::ok) {
                // The first acknowledgement, not just "ready": on a loaded machine a kill a few
                // ms after "ready" can land before any append was acknowledged, and a round
                // with nothing acknowledged checks nothing.
                if !acked_once && l.starts_with("ack ") {
                    acked_once = true;
                    let _ = ready_tx.send(());
                }
                lines.push(l);
            }
            lines
        });
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Let it get going (open, recover, first acknowledged append: slow on a loaded
        // machine, so wait for it to say so), then kill it somewhere in the next 400 ms of
        // appends.
        let _ = ready_rx.recv_timeout(Duration::from_secs(60));
        let deadline = Instant::now() + Duration::from_millis(x % 400);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let lines = reader.join().expect("reader");
        assert!(
            lines.iter().any(|l| l.ends_with("ready")),
            "round {round}: the child never got going: {lines:?}"
        );
        let mut n = 0;
        for l in lines.iter().filter_map(|l| l.strip_prefix("ack ")) {
            let f: Vec<u64> = l.split(' ').map(|v| v.parse().expect("number")).collect();
            let [shard, first, count, task, seq, start] = f[..] else {
                continue; // a line cut by the kill
            };
            for j in 0..count {
                let p = payload(round, task as usize, seq, (start + j) as usize);
                assert!(
                    acked.insert((shard as u32, first + j), p).is_none(),
                    "offset acknowledged twice"
                );
                n += 1;
            }
        }
        assert!(n > 0, "round {round}: nothing was acknowledged");
        let t0 = Instant::now();
        let log = SegmentLog::open(dir.path(), opts(round)).expect("reopen after SIGKILL");
        eprintln!(
            "DEBUG round {round}: {n} acked lines {} open {:?} {:?}",
            lines.len(),
            t0.elapsed(),
            log.recovery_report()
        );
        let mut seen = std::collections::HashSet::new();
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        for s in 0..SHARDS {
            let recs = rt
                .block_on(log.read(key(s), ReadFrom::Offset(0), usize::MAX, usize::MAX))
                .expect("read");
            for (o, r) in recs.iter().enumerate() {
                assert_eq!(r.offset, o as u64, "dense offsets");
                // An acknowledged record must be exactly itself; any other (in flight at the
                // kill) must at least be well-formed.
                match acked.get(&(s, r.offset)) {
                    Some(p) => assert!(*p == r.payload, "round {round}: record {s}/{o} changed"),
                    None => {
                        parse(&r.payload);
                    }
                }
                let bar = r.payload.iter().position(|b| *b == b'|').expect("an id");
                assert!(
                    seen.insert(r.payload.slice(..bar)),
                    "a record appears twice"
                );
            }
            let lost = acked
                .keys()
                .filter(|(sh, o)| *sh == s && *o >= recs.len() as u64)
                .count();
            assert_eq!(
                lost, 0,
                "round {round}: {lost} acknowledged records of shard {s} lost"
            );
        }
        drop(log);
    }
}
