//! The storage contract suite against the JetStream stores, on a real 3-node cluster started on
//! loopback ports (tributary-natskit). One cluster serves every case; each case gets a
//! deployment prefix of its own, which is the "empty state" the suite asks for.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use tributary_natskit::NatsCluster;
use tributary_storage::contract::{Engines, Factory};
use tributary_storage::{connect_nats, NatsOptions};

struct NatsFactory {
    opts: NatsOptions,
}

impl NatsFactory {
    fn fresh(cluster: &NatsCluster) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        NatsFactory {
            opts: NatsOptions::new(cluster.urls(), format!("CT{n}")),
        }
    }
}

impl Factory for NatsFactory {
    fn open(&self) -> BoxFuture<'_, Engines> {
        Box::pin(async move {
            let stores = connect_nats(&self.opts)
                .await
                .expect("connect to the cluster");
            Engines {
                log: stores.log,
                meta: stores.meta,
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_passes_the_storage_contract() {
    // A local, not a static: its drop (also when a case panics) kills the servers.
    let cluster = NatsCluster::start(3);
    tributary_storage::contract_tests!(run_all NatsFactory::fresh(&cluster));
}
