//! The contract every storage engine must pass, written once against `dyn ShardLog` and
//! `dyn MetaStore`.
//!
//! An engine plugs in with a [`Factory`] (which reopens the same persistent state on every call)
//! and the [`contract_tests!`](crate::contract_tests) macro, which expands to one `#[tokio::test]`
//! per case:
//!
//! ```ignore
//! tributary_storage::contract_tests!(MyFactory::new());
//! ```
//!
//! Other crates get this module with the `test-support` cargo feature. Failures panic with a message
//! naming the broken property, as tests do.

mod close;
mod lifecycle;
mod meta;
mod reads;

pub use close::*;
pub use lifecycle::*;
pub use meta::*;
pub use reads::*;

use crate::{Appended, Bounds, MetaStore, ReadFrom, ShardAppend, ShardKey, ShardLog, StoredRecord};
use bytes::Bytes;
use futures::future::BoxFuture;
use std::sync::Arc;

/// Both halves of one open engine. Dropping it must close the engine (release locks, stop
/// threads), so that [`Factory::open`] can open the same state again.
pub struct Engines {
    pub log: Arc<dyn ShardLog>,
    pub meta: Arc<dyn MetaStore>,
}

/// Opens an engine over ONE persistent state (a directory, a cluster prefix...). Each call opens
/// the same state again; it is called again only after the previous [`Engines`] were dropped.
pub trait Factory: Send + Sync {
    fn open(&self) -> BoxFuture<'_, Engines>;
}

/// Expands to one `#[tokio::test]` per contract case; `$factory` is evaluated afresh in each test
/// and must give a [`Factory`] over empty state. `contract_tests!(run_all $factory)`, inside
/// an async test, runs every case in turn instead, for stores whose fixture is costly to start
/// (a NATS cluster); `$factory` is still evaluated afresh for each case.
#[macro_export]
macro_rules! contract_tests {
    (@list $($head:tt)*) => {
        $crate::contract_tests!($($head)*;
            dense_offsets, shard_lifecycle_errors, multi_shard_append, read_by_offset,
            read_limits, read_by_time, large_records, trim_before, delete_shard,
            reopen_keeps_everything, meta_cas, meta_list, meta_watch, concurrent_appends, paged_reads,
            watch_follows_the_published_end, close_shard, close_races_appends);
    };
    (@each $factory:expr; $($case:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let factory = $factory;
                $crate::contract::$case(&factory).await;
            }
        )+
    };
    (@run $factory:expr; $($case:ident),+) => {
        $(
            eprintln!("contract case {}", stringify!($case));
            let factory = $factory;
            $crate::contract::$case(&factory).await;
        )+
    };
    (run_all $factory:expr) => {
        $crate::contract_tests!(@list @run $factory);
    };
    ($factory:expr) => {
        $crate::contract_tests!(@list @each $factory);
    };
}

// ---- helpers ----

fn key(stream: u64, shard: u32) -> ShardKey {
    ShardKey { stream, shard }
}

fn shard_append(shard: ShardKey, words: &[&str]) -> ShardAppend {
    ShardAppend {
        shard,
        payloads: words.iter().map(|w| Bytes::from(w.to_string())).collect(),
    }
}

async fn append(log: &dyn ShardLog, shard: ShardKey, words: &[&str]) -> Appended {
    let res = log
        .append(vec![shard_append(shard, words)])
        .await
        .expect("append");
    assert_eq!(res.len(), 1, "one result per ShardAppend");
    res[0]
}

async fn read(log: &dyn ShardLog, shard: ShardKey, from: ReadFrom) -> Vec<StoredRecord> {
    log.read(shard, from, 10_000, usize::MAX)
        .await
        .expect("read")
}

async fn bounds(log: &dyn ShardLog, shard: ShardKey) -> Bounds {
    log.bounds(shard).await.expect("bounds")
}

fn offsets(recs: &[StoredRecord]) -> Vec<u64> {
    recs.iter().map(|r| r.offset).collect()
}

fn texts(recs: &[StoredRecord]) -> Vec<String> {
    recs.iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .collect()
}
