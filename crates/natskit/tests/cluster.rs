//! Real nats-server processes on loopback; each test is bounded by natskit's 30 s waits.

use std::net::TcpStream;
use std::time::Duration;

use tributary_natskit::NatsCluster;

const READY: Duration = Duration::from_secs(30);

fn assert_accepts_clients(url: &str) {
    let addr = url.strip_prefix("nats://").expect("nats:// url");
    TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
}

#[test]
fn three_nodes_elect_a_meta_leader_with_three_peers() {
    let c = NatsCluster::start(3);
    assert_eq!(c.node_count(), 3);
    let urls = c.urls();
    assert_eq!(urls.len(), 3);
    assert_eq!(c.url_list(), urls.join(","));
    for url in &urls {
        assert!(url.starts_with("nats://127.0.0.1:"), "{url}");
        assert_accepts_clients(url);
    }
    let leader = c.leader().expect("a meta leader");
    let view = c.meta(leader).expect("leader's /jsz");
    assert_eq!(view.leader, format!("n{}", leader + 1));
    assert_eq!(view.cluster_size, 3);
    // The leader lists the two other peers, both caught up.
    let mut peers: Vec<String> = view.replicas.iter().map(|(n, _)| n.clone()).collect();
    peers.push(view.leader.clone());
    peers.sort();
    assert_eq!(peers, ["n1", "n2", "n3"]);
    assert!(
        view.replicas.iter().all(|(_, current)| *current),
        "{view:?}"
    );
    for i in 0..3 {
        assert_eq!(
            c.meta(i).expect("/jsz").leader,
            view.leader,
            "node {i} disagrees"
        );
    }
    assert!(c.log_tail(0, 5).lines().count() <= 5);
    assert!(!c.log_tail(0, 50).is_empty(), "log_file is written");
}

#[test]
fn killing_the_leader_keeps_quorum_and_restart_rejoins() {
    let mut c = NatsCluster::start(3);
    let old = c.leader().expect("a meta leader");
    c.kill(old);
    assert!(c.meta(old).is_none(), "killed node still answers");
    c.wait_ready(READY);
    let new = c.leader().expect("a new meta leader");
    assert_ne!(new, old, "the killed node cannot stay leader");

    c.restart(old);
    c.wait_ready(READY);
    let view = c.meta(c.leader().unwrap()).unwrap();
    let name = format!("n{}", old + 1);
    assert!(
        view.leader == name || view.replicas.iter().any(|(n, cur)| *n == name && *cur),
        "{name} not current after restart: {view:?}"
    );
    assert_accepts_clients(&c.urls()[old]);
}

#[test]
fn paused_node_stops_answering_until_resumed() {
    let mut c = NatsCluster::start(3);
    // Pause a follower, so the meta group keeps its leader.
    let leader = c.leader().expect("a meta leader");
    let f = (leader + 1) % 3;
    c.pause(f);
    assert!(c.meta(f).is_none(), "a stopped process answered /jsz");
    c.wait_ready(READY);
    c.resume(f);
    c.wait_ready(READY);
    assert!(c.meta(f).is_some(), "resumed node does not answer /jsz");
}

#[test]
fn single_node_has_jetstream_without_a_cluster() {
    let mut c = NatsCluster::start(1);
    assert_eq!(c.node_count(), 1);
    assert_eq!(c.url_list(), c.urls()[0]);
    assert_accepts_clients(&c.urls()[0]);
    assert_eq!(c.meta(0), None, "a single node has no meta group");
    c.kill(0);
    c.restart(0);
    c.wait_ready(READY);
    assert_accepts_clients(&c.urls()[0]);
}
