//! Test support for Tributary, used by the integration tests of the `tributary` binary.
//!
//! - [`TestServer`]: spawns the real binary on `127.0.0.1:0` in a temporary data directory,
//!   restarts it on the same directory, or kills it with SIGKILL. [`TestServer::start_nats`]
//!   spawns it on NATS storage instead, with no `--data-dir`.
//! - [`TestServer::sdk`]: an `aws-sdk-kinesis` client pointed at it.
//! - [`raw`]: requests the SDKs refuse to send (bad bodies, wrong content types, CBOR),
//!   over HTTP/1.1 or h2c.

pub mod raw;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::config::{Credentials, Region};

pub struct TestServer {
    bin: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    child: Option<Child>,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    /// False for NATS storage: no `--data-dir`, and the temporary directory is the working
    /// directory instead, so a test can see that nothing was written there.
    data_dir_flag: bool,
}

impl TestServer {
    /// Starts `bin serve` with `extra` flags in a fresh data directory.
    pub fn start(bin: impl AsRef<Path>, extra: &[&str]) -> TestServer {
        Self::start_with_env(bin, extra, &[])
    }

    /// The same with environment variables set for the server process.
    pub fn start_with_env(
        bin: impl AsRef<Path>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> TestServer {
        Self::start_inner(bin, extra, env, true)
    }

    /// Starts `bin serve` with `extra` flags (which name the storage, e.g. `--storage
    /// nats://…`) and no `--data-dir`, in an empty working directory ([`Self::data_dir`]).
    pub fn start_nats(bin: impl AsRef<Path>, extra: &[&str], env: &[(&str, &str)]) -> TestServer {
        Self::start_inner(bin, extra, env, false)
    }

    fn start_inner(
        bin: impl AsRef<Path>,
        extra: &[&str],
        env: &[(&str, &str)],
        data_dir_flag: bool,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut s = TestServer {
            bin: bin.as_ref().to_path_buf(),
            args: extra.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            addr: "127.0.0.1:0".parse().expect("addr"),
            dir,
            data_dir_flag,
        };
        s.spawn();
        s
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve").arg("--bind").arg("127.0.0.1:0");
        if self.data_dir_flag {
            cmd.arg("--data-dir").arg(self.dir.path());
        } else {
            cmd.current_dir(self.dir.path());
        }
        let mut child = cmd
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn tributary");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(addr) = line.strip_prefix("TRIBUTARY_LISTENING ") {
                        let _ = tx.send(addr.trim().to_string());
                        sent = true;
                    }
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            if let Ok(a) = rx.recv_timeout(Duration::from_millis(100)) {
                break a;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("tributary exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "tributary did not start within 30 s"
            );
        };
        self.addr = addr.parse().expect("listening address");
        self.child = Some(child);
    }

    /// Stops the process with SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL, then start again on the same data directory (a new port).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// An SDK client with dummy credentials in `us-east-1`.
    pub fn sdk(&self) -> aws_sdk_kinesis::Client {
        self.sdk_in("us-east-1")
    }

    pub fn sdk_in(&self, region: &str) -> aws_sdk_kinesis::Client {
        self.sdk_as(region, "AKIDTEST", "secret")
    }

    /// An SDK client signing with the given access key and secret.
    pub fn sdk_as(&self, region: &str, access_key: &str, secret: &str) -> aws_sdk_kinesis::Client {
        let conf = aws_sdk_kinesis::Config::builder()
            .behavior_version_latest()
            .region(Region::new(region.to_string()))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new(access_key, secret, None, None, "testkit"))
            .build();
        aws_sdk_kinesis::Client::from_conf(conf)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}
