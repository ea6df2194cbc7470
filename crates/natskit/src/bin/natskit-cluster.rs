//! Holds a loopback NATS JetStream cluster for a test run that spans many test processes
//! (nextest runs each test in its own): `scripts/test.sh` starts it, hands the URLs to the
//! tests in an environment variable, and stops it.
//!
//! Usage: `natskit-cluster [NODES]` prints `NATS_URLS=nats://...,...` once the cluster is
//! ready, then keeps it until its standard input closes or its parent process is gone, and
//! kills the nodes on the way out. Stop it by closing its stdin: a signal would end it
//! before it can kill them.

use std::io::Read;
use std::time::Duration;

fn main() {
    let nodes = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("NODES is a number"))
        .unwrap_or(3);
    let parent = std::os::unix::process::parent_id();
    let cluster = tributary_natskit::NatsCluster::start(nodes);
    println!("NATS_URLS={}", cluster.url_list());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        // EOF (or an error) on stdin: the caller is done.
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        let _ = tx.send(());
    });
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                if std::os::unix::process::parent_id() == parent => {}
            _ => break,
        }
    }
    drop(cluster);
}
