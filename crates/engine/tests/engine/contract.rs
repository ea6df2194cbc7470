//! The in-memory test storage passes the storage crate's contract suite, so engine tests
//! on it say something about the real engines.

use std::sync::Arc;

use futures::future::BoxFuture;
use tributary_engine::testing::{MemoryMetaStore, MemoryShardLog};
use tributary_storage::contract::{Engines, Factory};

/// Every `open` returns the same in-memory state, as a reopened directory would.
#[derive(Default)]
struct Memory {
    log: Arc<MemoryShardLog>,
    meta: Arc<MemoryMetaStore>,
}

impl Factory for Memory {
    fn open(&self) -> BoxFuture<'_, Engines> {
        Box::pin(async move {
            Engines {
                log: self.log.clone(),
                meta: self.meta.clone(),
            }
        })
    }
}

tributary_storage::contract_tests!(Memory::default());
