//! Start-up of `serve --storage nats://…`: the production checks (replicas, the servers'
//! fsync setting read over the system account) and a clear failure when no server answers.
//! The fsync check needs servers configured otherwise than natskit's (a system-account user,
//! the default sync interval), so [`SingleNats`] runs one plain server for it.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use tributary_natskit::{nats_server_bin, NatsCluster};

const BIN: &str = env!("CARGO_BIN_EXE_tributary");

/// Runs `tributary serve ARGS` to its exit, bounded: (status, elapsed, stderr).
fn run_to_exit(
    args: &[&str],
    env: &[(&str, &str)],
    within: Duration,
) -> (ExitStatus, Duration, String) {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_BACKTRACE")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > within {
            let _ = child.kill();
            panic!("tributary serve {args:?} still running after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, elapsed, err)
}

/// Starts `tributary serve ARGS` and returns once it logs that it serves, with everything it
/// logged up to then; the process is killed when the guard drops.
struct Serving {
    child: Child,
    pub log: String,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Serving {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Serving {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx2.send(l);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut log, mut addr) = (String::new(), None);
        while addr.is_none() || !log.contains("serving the Kinesis API") {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => {
                    if let Some(a) = l.strip_prefix("TRIBUTARY_LISTENING ") {
                        addr = Some(a.trim().to_string());
                    }
                    log += &l;
                    log.push('\n');
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("tributary did not serve within 30 s; it logged:\n{log}");
                }
            }
        }
        Serving {
            child,
            log,
            addr: addr.unwrap(),
            _dir: dir,
        }
    }

    fn sdk(&self) -> aws_sdk_kinesis::Client {
        use aws_sdk_kinesis::config::{Credentials, Region};
        let conf = aws_sdk_kinesis::Config::builder()
            .behavior_version_latest()
            .region(Region::new("us-east-1"))
            .endpoint_url(format!("http://{}", self.addr))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .build();
        aws_sdk_kinesis::Client::from_conf(conf)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One nats-server with a system-account user `sys` and a JetStream user `app`.
struct SingleNats {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl SingleNats {
    fn start(sync_always: bool) -> SingleNats {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let sync = if sync_always {
            "sync_interval: always"
        } else {
            ""
        };
        let conf = format!(
            "listen: 127.0.0.1:{port}\nmax_payload: 12582912\n\
             jetstream {{\n  store_dir: \"{}\"\n  {sync}\n}}\n\
             accounts {{\n  SYS: {{ users: [{{user: sys, password: syspw}}] }}\n  \
             APP: {{ jetstream: enabled, users: [{{user: app, password: apppw}}] }}\n}}\n\
             system_account: SYS\n",
            dir.path().join("store").display()
        );
        let path = dir.path().join("nats.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new(nats_server_bin())
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = SingleNats {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen within 15 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for SingleNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (bound, then released).
fn dead_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("nats://127.0.0.1:{port}")
}

#[test]
fn fewer_than_three_replicas_are_refused_without_the_opt_in() {
    // Refused before any connection: the URL need not answer.
    let url = dead_url();
    let (status, _, err) = run_to_exit(
        &["--storage", &url, "--nats-replicas", "1"],
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("refusing NATS storage with 1 replica(s)"),
        "{err}"
    );
    assert!(err.contains("--nats-allow-unreplicated"), "{err}");
    // The same from the environment.
    let (status, _, err) = run_to_exit(
        &["--storage", &url],
        &[("TRIBUTARY_NATS_REPLICAS", "2")],
        Duration::from_secs(20),
    );
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("with 2 replica(s)"), "{err}");
}

#[tokio::test]
async fn the_unreplicated_opt_in_starts_with_a_loud_warning() {
    let cluster = NatsCluster::start(3);
    let s = Serving::start(
        &[
            "--storage",
            &cluster.url_list(),
            "--nats-prefix",
            "e2e-r1",
            "--nats-replicas",
            "1",
            "--nats-allow-unreplicated",
        ],
        &[],
    );
    assert!(s.log.contains("LOSES ACKNOWLEDGED RECORDS"), "{}", s.log);
    // natskit's cluster has no system-account user: the fsync setting stays unverified.
    assert!(s.log.contains("NATS sync_interval UNVERIFIED"), "{}", s.log);
    assert!(
        s.log.contains("data_dir=\"not used (NATS storage)\""),
        "{}",
        s.log
    );
    let c = s.sdk();
    crate::create(&c, "r1", 1).await;
    c.put_record()
        .stream_name("r1")
        .partition_key("k")
        .data(Blob::new("v"))
        .send()
        .await
        .unwrap();
}

#[test]
fn an_unreachable_cluster_fails_start_within_the_request_timeout() {
    let url = dead_url();
    let (status, elapsed, err) = run_to_exit(
        &["--storage", &url, "--nats-request-timeout-ms", "1500"],
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("no NATS server"), "{err}");
    assert!(err.contains(&url), "{err}");
    // The bound is the request timeout, plus process start-up and the log.
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
}

#[test]
fn a_server_that_does_not_fsync_every_write_is_refused() {
    let nats = SingleNats::start(false);
    let url = nats.url();
    let env = [
        ("TRIBUTARY_NATS_PASSWORD", "apppw"),
        ("TRIBUTARY_NATS_SYSTEM_PASSWORD", "syspw"),
    ];
    let args = [
        "--storage",
        &url,
        "--nats-user",
        "app",
        "--nats-system-user",
        "sys",
        "--nats-request-timeout-ms",
        "5000",
    ];
    let (status, _, err) = run_to_exit(&args, &env, Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("do not fsync every write"), "{err}");
    assert!(err.contains("--nats-allow-unsynced"), "{err}");
    // A login outside the system account cannot read the setting: refused, not ignored.
    let env_app = [
        ("TRIBUTARY_NATS_PASSWORD", "apppw"),
        ("TRIBUTARY_NATS_SYSTEM_PASSWORD", "apppw"),
    ];
    let args_app = [
        "--storage",
        &url,
        "--nats-user",
        "app",
        "--nats-system-user",
        "app",
    ];
    let (status, _, err) = run_to_exit(&args_app, &env_app, Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("is that user in the system account?"), "{err}");
    // With both opt-ins (one server cannot hold 3 replicas) it serves, loudly.
    let mut with_opt_in = args.to_vec();
    with_opt_in.extend([
        "--nats-allow-unsynced",
        "--nats-replicas",
        "1",
        "--nats-allow-unreplicated",
    ]);
    let s = Serving::start(&with_opt_in, &env);
    assert!(
        s.log.contains("--nats-allow-unsynced: these NATS servers"),
        "{}",
        s.log
    );
}

#[tokio::test]
async fn settings_from_the_config_file_and_a_verified_fsync_setting() {
    let nats = SingleNats::start(true);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tributary.toml");
    std::fs::write(
        &file,
        format!(
            "storage = \"{}\"\nnats_prefix = \"filecfg\"\nnats_replicas = 1\n\
             nats_allow_unreplicated = true\nnats_user = \"app\"\nnats_password = \"apppw\"\n\
             nats_system_user = \"sys\"\nnats_system_password = \"syspw\"\n",
            nats.url()
        ),
    )
    .unwrap();
    let s = Serving::start(&["--config", file.to_str().unwrap()], &[]);
    assert!(
        s.log
            .contains("sync_interval always on all 1 answering servers"),
        "{}",
        s.log
    );
    assert!(s.log.contains("prefix=filecfg"), "{}", s.log);
    assert!(
        !s.log.contains("apppw") && !s.log.contains("syspw"),
        "{}",
        s.log
    );
    let c = s.sdk();
    crate::create(&c, "cfg", 1).await;
    let r = c
        .put_record()
        .stream_name("cfg")
        .partition_key("k")
        .data(Blob::new("v"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.shard_id(), "shardId-000000000000");
}
