//! Storage for Tributary: two narrow traits and the engines behind them.
//!
//! - [`ShardLog`]: an append-only log per shard, addressed by offset or arrival time.
//! - [`MetaStore`]: a small key-value store with revisions (compare-and-set).
//!
//! The traits know nothing of Kinesis: a record is opaque bytes, a shard is a [`ShardKey`].
//! The engine above them owns hashing, sequence numbers, iterators and resharding.
//!
//! Modules:
//! - `traits`: the trait definitions and their value types (this file re-exports them).
//! - `fjall_engine`: the embedded default, [`FjallStore`]: one fjall database with one journal,
//!   group commit on a single writer thread. On-disk format: `docs/storage.md`.
//! - `segments`: [`SegmentLog`], the records engine that replaces fjall's records keyspace:
//!   per-shard segment files plus one shared WAL (group commit, one fsync per group), fjall
//!   staying the `MetaStore`. On-disk format: `docs/storage.md`.
//! - `contract`: the test suite every engine must pass (compiled for this crate's tests and,
//!   for other engines, with the `contract` cargo feature).

mod admission;
mod fjall_engine;
mod segments;
mod traits;

#[cfg(any(test, feature = "contract"))]
pub mod contract;

pub use fjall_engine::{Durability, FjallOptions, FjallStats, FjallStore, FORMAT_VERSION};
pub use segments::{
    RecoveryReport, SegmentLog, SegmentOptions, SegmentStats, SEGMENT_FORMAT_VERSION,
};
pub use traits::*;
