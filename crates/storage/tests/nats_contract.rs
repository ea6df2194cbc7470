//! The storage contract suite against the JetStream stores, on a real 3-node cluster started on
//! loopback ports (tributary-natskit). One cluster serves every case; each case gets a
//! deployment prefix of its own, which is the "empty state" the suite asks for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use futures::future::BoxFuture;
use tributary_natskit::NatsCluster;
use tributary_storage::contract::{Engines, Factory};
use tributary_storage::{connect_nats, NatsOptions};

fn cluster() -> &'static NatsCluster {
    static CLUSTER: OnceLock<NatsCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| NatsCluster::start(3))
}

struct NatsFactory {
    opts: NatsOptions,
}

impl NatsFactory {
    fn fresh() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        NatsFactory {
            opts: NatsOptions::new(cluster().urls(), format!("CT{n}")),
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

tributary_storage::contract_tests!(one_test jetstream_passes_the_storage_contract, NatsFactory::fresh());
