//! Storage for Tributary: two narrow traits and the stores behind them.
//!
//! - [`ShardLog`]: an append-only log per shard, addressed by offset or arrival time.
//! - [`MetaStore`]: a small key-value store with revisions (compare-and-set).
//!
//! The traits know nothing of Kinesis: a record is opaque bytes, a shard is a [`ShardKey`].
//! The engine above them owns hashing, sequence numbers, iterators and resharding.
//!
//! Modules:
//! - `traits`: the trait definitions and their value types (this file re-exports them).
//! - `segments`: [`SegmentLog`], the record log: per-shard segment files plus one shared WAL
//!   (group commit, one fsync per group). On-disk format: `docs/storage.md`.
//! - `fjall_meta`: [`FjallMeta`], the metadata store: one small fjall database, every write
//!   fsynced. On-disk format: the module docs and `docs/storage.md`.
//! - `admission`: size limit and in-flight budget of an append; `dir`: the directory lock and
//!   disk usage; `clock`: arrival times.
//! - `contract`: the test suite every store must pass; `memory`: in-memory stores for tests
//!   of the crates above, with hooks real storage cannot offer. Both compiled for this
//!   crate's tests and, for other crates, with the `test-support` cargo feature.

mod admission;
mod clock;
mod dir;
mod fjall_meta;
mod nats;
mod segments;
mod traits;

#[cfg(any(test, feature = "test-support"))]
pub mod contract;
#[cfg(any(test, feature = "test-support"))]
pub mod memory;

pub use fjall_meta::{FjallMeta, FORMAT_VERSION};
pub use nats::{
    connect as connect_nats, NatsLog, NatsMeta, NatsOptions, NatsStores, NATS_FORMAT_VERSION,
    NATS_MAX_RECORD,
};
pub use segments::{
    Durability, RecoveryReport, SegmentLog, SegmentOptions, SegmentStats, SEGMENT_FORMAT_VERSION,
};
pub use traits::*;
