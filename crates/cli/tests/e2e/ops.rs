//! `tributary stream …`: the real binary as a child process against a spawned server, with
//! credentials and region from the environment and the shared files, the way operators run it.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tributary_testkit::TestServer;

use crate::{server, server_with, verifying_server_with};

/// A finished command: exit code, stdout, stderr.
pub struct Ran {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Ran {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.out()))
    }

    /// Exit 0 and nothing on stderr.
    #[track_caller]
    pub fn ok(self) -> Ran {
        assert_eq!(
            (self.code, self.stderr.as_str()),
            (0, ""),
            "stdout: {}",
            self.out()
        );
        self
    }
}

/// The CLI's environment: nothing inherited, AWS settings from variables and from files in
/// a temporary HOME, no instance metadata (only 127.0.0.1 is ever contacted).
pub struct Ops {
    pub endpoint: String,
    pub home: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl Ops {
    pub fn new(s: &TestServer) -> Ops {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("config"), "").unwrap();
        std::fs::write(home.path().join("credentials"), "").unwrap();
        let p = |f: &str| home.path().join(f).to_string_lossy().into_owned();
        let env = vec![
            ("HOME".into(), p("")),
            ("AWS_CONFIG_FILE".into(), p("config")),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), p("credentials")),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("AWS_ACCESS_KEY_ID".into(), "AKIDTEST".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "secret".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
        ];
        Ops {
            endpoint: s.endpoint(),
            home,
            env,
        }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// Runs `tributary ARGS --endpoint-url …` with `stdin`, killed after 120 s.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Ran {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--endpoint-url", &self.endpoint]);
        self.run_raw(&all, stdin, &[])
    }

    /// `stream describe NAME --output json`, which must succeed.
    pub fn describe(&self, name: &str) -> Value {
        self.run(&["stream", "describe", name, "--output", "json"], b"")
            .ok()
            .json()
    }

    /// `tributary ARGS` in this environment alone.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tributary"));
        cmd.args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Starts `tributary ARGS --endpoint-url …` in the background, stdout and stderr piped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .args(["--endpoint-url", &self.endpoint])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tributary")
    }

    /// The same without `--endpoint-url`, with extra environment (`None`: removed).
    pub fn run_raw(&self, args: &[&str], stdin: &[u8], env: &[(&str, Option<&str>)]) -> Ran {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let mut child = cmd.spawn().expect("spawn tributary");
        let input = stdin.to_vec();
        let mut w = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = w.write_all(&input);
        });
        let (mut o, mut e) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let out = std::thread::spawn(move || {
            let mut b = Vec::new();
            o.read_to_end(&mut b).unwrap();
            b
        });
        let err = std::thread::spawn(move || {
            let mut b = String::new();
            e.read_to_string(&mut b).unwrap();
            b
        });
        let status = wait_within(&mut child, Duration::from_secs(120), &format!("{args:?}"));
        writer.join().unwrap();
        Ran {
            code: status.code().unwrap_or(-1),
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        }
    }
}

/// Waits for `child`, killing it and failing the test once `within` has passed.
pub fn wait_within(child: &mut Child, within: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tributary {what} did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The open shards' hash ranges, from `stream describe --output json`, in key order.
pub fn open_ranges(ops: &Ops, name: &str) -> Vec<(u128, u128)> {
    let d = ops.describe(name);
    let mut r: Vec<(u128, u128)> = d["Shards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["EndingSequenceNumber"].is_null())
        .map(|s| {
            let k = |f: &str| s[f].as_str().unwrap().parse::<u128>().unwrap();
            (k("StartingHashKey"), k("EndingHashKey"))
        })
        .collect();
    r.sort();
    r
}

#[track_caller]
fn assert_balanced(ranges: &[(u128, u128)], n: usize) {
    assert_eq!(ranges.len(), n, "{ranges:?}");
    assert_eq!(ranges[0].0, 0);
    assert_eq!(ranges[n - 1].1, u128::MAX);
    for w in ranges.windows(2) {
        assert_eq!(w[0].1 + 1, w[1].0, "contiguous: {ranges:?}");
    }
    let sizes: Vec<u128> = ranges.iter().map(|(a, b)| b - a).collect();
    let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
    assert!(hi - lo <= 1, "balanced within one hash key: {sizes:?}");
}

#[test]
fn stream_lifecycle_from_create_to_delete() {
    let s = server();
    let ops = Ops::new(&s);
    let missing = ops.run(&["stream", "exists", "life"], b"");
    assert_eq!(
        (missing.code, missing.out(), missing.stderr),
        (1, "".into(), "".into())
    );

    ops.run(
        &["stream", "create", "life", "--shards", "2", "--wait"],
        b"",
    )
    .ok();
    assert_eq!(ops.run(&["stream", "exists", "life"], b"").ok().out(), "");
    let j = ops
        .run(&["stream", "exists", "life", "--output", "json"], b"")
        .ok()
        .json();
    assert_eq!(j["Exists"], true);
    ops.run(&["stream", "wait-active", "life", "--timeout", "10s"], b"")
        .ok();

    let list = ops.run(&["stream", "list"], b"").ok().out();
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("STREAM"), "{list}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["life", "ACTIVE", "PROVISIONED"],
        "{list}"
    );
    let j = ops
        .run(&["stream", "list", "--output", "json"], b"")
        .ok()
        .json();
    assert_eq!(j["Streams"][0]["StreamName"], "life");

    ops.run(&["stream", "retention", "increase", "life", "48"], b"")
        .ok();
    ops.run(
        &[
            "stream",
            "monitoring",
            "enable",
            "life",
            "--metrics",
            "IncomingBytes,OutgoingRecords",
        ],
        b"",
    )
    .ok();
    let d = ops.describe("life");
    assert_eq!(d["StreamStatus"], "ACTIVE");
    assert_eq!(d["OpenShardCount"], 2);
    assert_eq!(d["RetentionPeriodHours"], 48);
    let mut m: Vec<&str> = d["ShardLevelMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    m.sort();
    assert_eq!(m, ["IncomingBytes", "OutgoingRecords"]);
    assert_eq!(d["Shards"].as_array().unwrap().len(), 2);

    ops.run(&["stream", "retention", "decrease", "life", "24"], b"")
        .ok();
    ops.run(&["stream", "monitoring", "disable", "life"], b"")
        .ok();
    let table = ops.run(&["stream", "describe", "life"], b"").ok().out();
    assert!(table.contains("Retention (hours)    24\n"), "{table}");
    assert!(table.contains("Shard-level metrics  \n"), "{table}");
    assert!(table.contains("shardId-000000000001  OPEN"), "{table}");

    ops.run(&["stream", "delete", "life"], b"").ok();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ops.run(&["stream", "exists", "life"], b"").code == 0 {
        assert!(Instant::now() < deadline, "still there after delete");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn waits_follow_creating_and_updating_and_time_out() {
    // As on AWS, streams stay CREATING and UPDATING for a while here.
    let s = server_with(&["--create-stream-ms", "1500", "--update-stream-ms", "300"]);
    let ops = Ops::new(&s);
    ops.run(&["stream", "create", "slow", "--shards", "1"], b"")
        .ok();
    let d = ops.describe("slow");
    assert_eq!(d["StreamStatus"], "CREATING");
    let r = ops.run(&["stream", "wait-active", "slow", "--timeout", "0.3s"], b"");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("not ACTIVE after 0s (CREATING)"),
        "{}",
        r.stderr
    );
    ops.run(&["stream", "wait-active", "slow", "--timeout", "30s"], b"")
        .ok();

    let started = Instant::now();
    ops.run(&["stream", "create", "slower", "--wait"], b"").ok();
    assert!(started.elapsed() >= Duration::from_millis(1500));
    let d = ops.describe("slower");
    assert_eq!(d["StreamStatus"], "ACTIVE");

    // Each step leaves the stream UPDATING; the next one must wait for ACTIVE or be refused.
    ops.run(&["stream", "reshard", "slow", "3", "--force"], b"")
        .ok();
    assert_balanced(&open_ranges(&ops, "slow"), 3);
    let d = ops.describe("slow");
    assert_eq!(d["StreamStatus"], "ACTIVE", "reshard returns once ACTIVE");
}

#[test]
fn progress_is_drawn_only_on_a_terminal() {
    let s = server_with(&["--create-stream-ms", "1200"]);
    let ops = Ops::new(&s);
    // Redirected (as in every other test): stderr stays empty.
    ops.run(&["stream", "create", "quiet", "--wait"], b"").ok();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("records");
    std::fs::write(
        &input,
        (0..1200).map(|i| format!("r{i}\n")).collect::<String>(),
    )
    .unwrap();
    ops.run(&["put", "quiet"], &std::fs::read(&input).unwrap())
        .ok();
    ops.run(&["stream", "reshard", "quiet", "2", "--force"], b"")
        .ok();

    // On a terminal: util-linux's `script` gives the command a pseudo-terminal.
    let on_terminal = |args: &str| {
        let cmd = format!(
            "{} {args} --endpoint-url {}",
            env!("CARGO_BIN_EXE_tributary"),
            ops.endpoint
        );
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env_clear()
            .envs(ops.env.iter().map(|(k, v)| (k, v)))
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .output()
            .expect("util-linux script");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{text}");
        assert!(text.ends_with("\r\x1b[K"), "the line is cleared: {text:?}");
        text
    };
    let text = on_terminal("stream create loud --wait");
    assert!(
        text.contains("\r\x1b[Kwaiting for loud to be ACTIVE"),
        "{text:?}"
    );
    // A large put counts its records as its batches are accepted (500 per PutRecords).
    let text = on_terminal(&format!("put loud < {}", input.display()));
    assert!(text.contains("\r\x1b[Kput 500 records to loud"), "{text:?}");
    assert!(
        text.contains("\r\x1b[Kput 1200 records to loud"),
        "{text:?}"
    );
    // A reshard names each step as it starts.
    let text = on_terminal("stream reshard loud 2 --force");
    assert!(text.contains("\r\x1b[Kstep 1/1: split"), "{text:?}");
}

#[test]
fn failures_exit_1_with_the_aws_error_code_and_usage_errors_exit_2() {
    let s = server();
    let ops = Ops::new(&s);
    let r = ops.run(&["stream", "describe", "nope"], b"");
    assert_eq!(r.code, 1);
    assert!(r.out().is_empty());
    assert!(
        r.stderr
            .starts_with("tributary: ResourceNotFoundException: "),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);

    ops.run(&["stream", "create", "dup"], b"").ok();
    let r = ops.run(&["stream", "create", "dup"], b"");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("ResourceInUseException"), "{}", r.stderr);

    let r = ops.run(&["stream", "wait-active", "nope", "--timeout", "5s"], b"");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("ResourceNotFoundException"),
        "{}",
        r.stderr
    );
    let r = ops.run(&["stream", "retention", "increase", "dup", "1"], b"");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("InvalidArgumentException"),
        "{}",
        r.stderr
    );

    for usage in [
        &["stream", "frobnicate"][..],
        &["stream", "reshard", "dup", "many"],
        &["stream", "create"],
        &["tail", "dup", "--from", "yesterday"],
        &["stream", "list", "--output", "yaml"],
    ] {
        assert_eq!(ops.run(usage, b"").code, 2, "{usage:?}");
    }

    // Nothing listens on port 1: not an AWS answer, still one line and exit 1.
    let r = ops.run_raw(
        &["stream", "list", "--endpoint-url", "http://127.0.0.1:1"],
        b"",
        &[],
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let r = ops.run_raw(
        &["stream", "list", "--endpoint-url", &ops.endpoint],
        b"",
        &[("AWS_REGION", None)],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no region"), "{}", r.stderr);
    // An unreachable endpoint is a failure of `exists` too, never a silent "absent".
    let r = ops.run_raw(
        &[
            "stream",
            "exists",
            "dup",
            "--endpoint-url",
            "http://127.0.0.1:1",
        ],
        b"",
        &[],
    );
    assert_eq!(r.code, 1);
    assert!(!r.stderr.is_empty());
}

#[test]
fn reshard_3_to_5_to_2_is_balanced_and_the_plan_alone_changes_nothing() {
    let s = server();
    let ops = Ops::new(&s);
    ops.run(&["stream", "create", "rs", "--shards", "3", "--wait"], b"")
        .ok();
    let before = ops.describe("rs")["Shards"].clone();

    let plan = ops.run(&["stream", "reshard", "rs", "5"], b"").ok().out();
    assert!(
        plan.starts_with("rs: 3 open shards to 5, 6 steps\n"),
        "{plan}"
    );
    assert!(plan.contains("split   shardId-000000000000"), "{plan}");
    assert!(
        plan.ends_with("run again with --force to apply this plan\n"),
        "{plan}"
    );
    let j = ops
        .run(&["stream", "reshard", "rs", "5", "--output", "json"], b"")
        .ok()
        .json();
    assert_eq!(j["Applied"], false);
    assert_eq!(j["Steps"].as_array().unwrap().len(), 6);
    let after = ops.describe("rs")["Shards"].clone();
    assert_eq!(before, after, "a plan without --force changes nothing");

    ops.run(&["stream", "reshard", "rs", "5", "--force"], b"")
        .ok();
    assert_balanced(&open_ranges(&ops, "rs"), 5);
    ops.run(&["stream", "reshard", "rs", "2", "--force"], b"")
        .ok();
    assert_balanced(&open_ranges(&ops, "rs"), 2);

    let again = ops
        .run(&["stream", "reshard", "rs", "2", "--output", "json"], b"")
        .ok()
        .json();
    assert_eq!(again["Steps"], serde_json::json!([]), "already balanced");
}

#[test]
fn profile_from_the_shared_files_signs_for_a_verifying_server() {
    let s = verifying_server_with(&[]);
    let ops = Ops::new(&s);
    std::fs::write(
        ops.file("credentials"),
        "[default]\naws_access_key_id = AKIAEDGEEXAMPLE\naws_secret_access_key = wrong\n\n\
         [ops]\naws_access_key_id = AKIAEDGEEXAMPLE\naws_secret_access_key = edge-secret-example-key\n",
    )
    .unwrap();
    std::fs::write(ops.file("config"), "[profile ops]\nregion = us-east-1\n").unwrap();
    // No key or region in the environment: both come from the files, the endpoint from
    // AWS_ENDPOINT_URL.
    let env = [
        ("AWS_ACCESS_KEY_ID", None),
        ("AWS_SECRET_ACCESS_KEY", None),
        ("AWS_REGION", None),
        ("AWS_ENDPOINT_URL", Some(ops.endpoint.as_str())),
    ];
    ops.run_raw(
        &["stream", "create", "signed", "--profile", "ops"],
        b"",
        &env,
    )
    .ok();
    let mut by_variable = env.to_vec();
    by_variable.push(("AWS_PROFILE", Some("ops")));
    let r = ops.run_raw(&["stream", "exists", "signed"], b"", &by_variable);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = ops.run_raw(&["stream", "list", "--region", "us-east-1"], b"", &env);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("tributary: InvalidSignatureException: "),
        "{}",
        r.stderr
    );
}
