//! `tributary put` and `tributary tail`: records through the real binary, byte for byte,
//! across reshards.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;

use crate::ops::{wait_within, Ops};
use crate::{server, server_with};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Record `i`: unique, not valid UTF-8, every byte but `\n` somewhere in the set.
fn record(i: usize) -> Vec<u8> {
    let mut r = format!("r{i:05}-").into_bytes();
    r.extend(
        (0..(i % 97))
            .map(|k| ((i * 31 + k * 7) % 256) as u8)
            .filter(|b| *b != b'\n'),
    );
    r
}

fn lines(records: &[Vec<u8>]) -> Vec<u8> {
    records
        .iter()
        .flat_map(|r| r.iter().chain(b"\n"))
        .copied()
        .collect()
}

/// `tail`'s records are `want`, each exactly once, in any order (`assert!`, not `assert_eq!`:
/// thousands of binary records would drown the message).
#[track_caller]
fn assert_same_records(out: &[u8], mut want: Vec<Vec<u8>>) {
    let mut got = split(out);
    assert_eq!(got.len(), want.len(), "each record once");
    got.sort();
    want.sort();
    assert!(got == want, "the same bytes, each record exactly once");
}

/// Splits tail's default output back into records (each line is one record).
fn split(out: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(out.last(), Some(&b'\n'), "the last record ends its line");
    out[..out.len() - 1]
        .split(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

#[test]
fn put_then_tail_round_trips_10000_records_byte_for_byte_across_a_reshard() {
    let s = server();
    let ops = Ops::new(&s);
    ops.run(&["stream", "create", "rt", "--shards", "2", "--wait"], b"")
        .ok();
    let records: Vec<Vec<u8>> = (0..10_000).map(record).collect();
    let started = Instant::now();
    ops.run(
        &["put", "rt", "--keys", "sequential"],
        &lines(&records[..5000]),
    )
    .ok();
    // The second half is written while the reshard runs: some of it lands in parents that
    // are about to close, some in their children.
    std::thread::scope(|t| {
        let put = t.spawn(|| ops.run(&["put", "rt"], &lines(&records[5000..])).ok());
        ops.run(&["stream", "reshard", "rt", "3", "--force"], b"")
            .ok();
        put.join().unwrap();
    });
    let put_time = started.elapsed();

    let out = ops
        .run(
            &[
                "tail",
                "rt",
                "--from",
                "trim-horizon",
                "--count",
                "10000",
                "--idle-exit",
                "30s",
            ],
            b"",
        )
        .ok();
    assert_same_records(&out.stdout, records.clone());
    eprintln!(
        "10000 records: put {put_time:?}, tail {:?}",
        started.elapsed() - put_time
    );

    // Without --count, --idle-exit ends the read once everything has come: still 10000.
    let out = ops
        .run(
            &["tail", "rt", "--from", "trim-horizon", "--idle-exit", "3s"],
            b"",
        )
        .ok();
    assert_eq!(split(&out.stdout).len(), 10_000);
}

#[test]
fn tail_reads_parents_before_children_so_a_key_keeps_its_order() {
    let s = server();
    let ops = Ops::new(&s);
    ops.run(&["stream", "create", "order", "--wait"], b"").ok();
    let records: Vec<Vec<u8>> = (0..150).map(|i| format!("n{i}").into_bytes()).collect();
    let put = |r: &[Vec<u8>]| {
        ops.run(&["put", "order", "--partition-key", "one-key"], &lines(r))
            .ok()
    };
    put(&records[..50]);
    ops.run(&["stream", "reshard", "order", "2", "--force"], b"")
        .ok();
    put(&records[50..100]);
    ops.run(&["stream", "reshard", "order", "1", "--force"], b"")
        .ok();
    put(&records[100..]);
    let out = ops
        .run(
            &["tail", "order", "--from", "trim-horizon", "--count", "150"],
            b"",
        )
        .ok();
    assert_eq!(split(&out.stdout), records);
}

#[test]
fn a_running_tail_follows_a_reshard_into_the_children() {
    let s = server();
    let ops = Ops::new(&s);
    ops.run(&["stream", "create", "live", "--wait"], b"").ok();
    let child = ops.spawn(&[
        "tail",
        "live",
        "--from",
        "trim-horizon",
        "--count",
        "200",
        "--idle-exit",
        "60s",
    ]);
    let records: Vec<Vec<u8>> = (0..200).map(|i| format!("live{i}").into_bytes()).collect();
    let put = |r: &[Vec<u8>]| {
        ops.run(&["put", "live", "--partition-key", "k"], &lines(r))
            .ok()
    };
    put(&records[..100]);
    ops.run(&["stream", "reshard", "live", "3", "--force"], b"")
        .ok();
    put(&records[100..]);
    let out = wait_output(child, Duration::from_secs(60));
    assert_eq!(split(&out), records);
}

#[test]
fn base64_whole_and_json_keep_binary_data_with_newlines() {
    let s = server();
    let ops = Ops::new(&s);
    ops.run(&["stream", "create", "bin", "--shards", "2", "--wait"], b"")
        .ok();
    let records: Vec<Vec<u8>> = (0..300u32)
        .map(|i| {
            (0..(i % 50 + 1))
                .map(|k| ((i + k * 13) % 256) as u8)
                .collect()
        })
        .collect();
    let input: String = records.iter().map(|r| B64.encode(r) + "\n").collect();
    let j = ops
        .run(
            &["put", "bin", "--base64", "--output", "json"],
            input.as_bytes(),
        )
        .ok()
        .json();
    assert_eq!(j["Records"], 300);
    let whole = b"line one\nline two\n\x00\xff".to_vec();
    ops.run(&["put", "bin", "--whole", "--partition-key", "w"], &whole)
        .ok();

    let out = ops
        .run(
            &[
                "tail",
                "bin",
                "--from",
                "trim-horizon",
                "--base64",
                "--count",
                "301",
            ],
            b"",
        )
        .ok();
    let mut got: Vec<Vec<u8>> = out.out().lines().map(|l| B64.decode(l).unwrap()).collect();
    let mut want = records.clone();
    want.push(whole.clone());
    got.sort();
    want.sort();
    assert_eq!(got, want);

    let out = ops
        .run(
            &[
                "tail",
                "bin",
                "--from",
                "trim-horizon",
                "--output",
                "json",
                "--count",
                "301",
            ],
            b"",
        )
        .ok();
    let objects: Vec<serde_json::Value> = out
        .out()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let w = objects
        .iter()
        .find(|o| o["PartitionKey"] == "w")
        .expect("the whole-input record");
    assert_eq!(B64.decode(w["Data"].as_str().unwrap()).unwrap(), whole);
    assert!(w["ShardId"].as_str().unwrap().starts_with("shardId-"));
    assert!(w["SequenceNumber"].as_str().unwrap().len() > 20);
    assert!(w["ApproximateArrivalTimestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
}

#[test]
fn tail_from_latest_and_from_a_timestamp_skip_older_records() {
    let s = server();
    let ops = Ops::new(&s);
    ops.run(&["stream", "create", "t", "--shards", "2", "--wait"], b"")
        .ok();
    ops.run(&["put", "t"], b"old-1\nold-2\n").ok();
    std::thread::sleep(Duration::from_millis(1100));
    let cut = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    ops.run(&["put", "t"], b"mid-1\nmid-2\n").ok();

    let out = ops
        .run(
            &[
                "tail",
                "t",
                "--from",
                &format!("{}", cut.as_secs_f64()),
                "--idle-exit",
                "3s",
            ],
            b"",
        )
        .ok();
    let mut got = split(&out.stdout);
    got.sort();
    assert_eq!(got, [b"mid-1".to_vec(), b"mid-2".to_vec()]);

    // From LATEST: whatever it prints first was put after it started. Its start takes a
    // moment that the test cannot see, so new records go in until one comes out.
    let mut child = ops.spawn(&["tail", "t", "--count", "1", "--idle-exit", "60s"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut n = 0;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "tail --from latest saw nothing");
        ops.run(&["put", "t"], format!("new-{n}\n").as_bytes()).ok();
        n += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = wait_output(child, Duration::from_secs(1));
    let line = String::from_utf8(out).unwrap();
    assert!(line.starts_with("new-") && line.ends_with('\n'), "{line:?}");
}

#[test]
fn put_resends_only_refused_entries_and_tail_rides_out_throttles() {
    // Throttled PutRecords entries, whole PutRecords and GetRecords calls failing: every
    // record must still arrive exactly once.
    let s = server_with(&[
        "--faults",
        "seed=16,PutRecords:throttle_probability=0.02,PutRecords:internal_probability=0.1,\
         GetRecords:throttle_every=3",
    ]);
    let ops = Ops::new(&s);
    ops.run(&["stream", "create", "f", "--shards", "3", "--wait"], b"")
        .ok();
    let records: Vec<Vec<u8>> = (0..3000).map(record).collect();
    ops.run(&["put", "f"], &lines(&records)).ok();
    let out = ops
        .run(
            &[
                "tail",
                "f",
                "--from",
                "trim-horizon",
                "--count",
                "3000",
                "--idle-exit",
                "30s",
            ],
            b"",
        )
        .ok();
    assert_same_records(&out.stdout, records);
}

#[test]
fn put_failures_exit_1_naming_the_error() {
    let s = server();
    let ops = Ops::new(&s);
    let r = ops.run(&["put", "absent"], b"x\n");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("ResourceNotFoundException"),
        "{}",
        r.stderr
    );
    ops.run(&["stream", "create", "p", "--wait"], b"").ok();
    let r = ops.run(&["put", "p", "--base64"], b"not base64!\n");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("line 1 is not base64"), "{}", r.stderr);
    let r = ops.run(&["tail", "absent", "--idle-exit", "1s"], b"");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("ResourceNotFoundException"),
        "{}",
        r.stderr
    );
}

/// Waits for `child` (killing it after `within`) and returns its stdout.
fn wait_output(mut child: std::process::Child, within: Duration) -> Vec<u8> {
    wait_within(&mut child, within, "tail");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn tail_rides_out_list_shards_failures() {
    // Half of all ListShards calls fail (HTTP 500) and the SDK does not retry
    // (AWS_MAX_ATTEMPTS=1), so tail meets the failures itself: at its start and when the
    // split parent ends, it must list again until a call succeeds.
    let s = server_with(&["--faults", "seed=5,ListShards:internal_probability=0.5"]);
    let ops = Ops::new(&s);
    ops.run(&["stream", "create", "ls", "--shards", "2", "--wait"], b"")
        .ok();
    let first: Vec<Vec<u8>> = (0..200).map(record).collect();
    ops.run(&["put", "ls"], &lines(&first)).ok();
    let sdk = s.sdk();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        sdk.split_shard()
            .stream_name("ls")
            .shard_to_split("shardId-000000000000")
            .new_starting_hash_key("85070591730234615865843651857942052864")
            .send()
            .await
            .unwrap();
    });
    ops.run(&["stream", "wait-active", "ls"], b"").ok();
    let second: Vec<Vec<u8>> = (200..400).map(record).collect();
    ops.run(&["put", "ls"], &lines(&second)).ok();

    let out = ops
        .run_raw(
            &[
                "tail",
                "ls",
                "--from",
                "trim-horizon",
                "--count",
                "400",
                "--idle-exit",
                "30s",
                "--endpoint-url",
                &ops.endpoint,
            ],
            b"",
            &[("AWS_MAX_ATTEMPTS", Some("1"))],
        )
        .ok();
    assert_same_records(&out.stdout, first.into_iter().chain(second).collect());
}
