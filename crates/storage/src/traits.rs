use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};

/// Identifies one shard's log: the engine's stream id and the shard's index within the stream.
/// Both are assigned by the engine and never reused while data for them exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardKey {
    pub stream: u64,
    pub shard: u32,
}

/// One record as the log keeps it: opaque payload, its offset and the time it was appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub offset: u64,
    /// Milliseconds since the Unix epoch, assigned by the log at append time.
    pub arrival_ms: i64,
    pub payload: Bytes,
}

/// Records to append to one shard, in order.
#[derive(Debug, Clone)]
pub struct ShardAppend {
    pub shard: ShardKey,
    pub payloads: Vec<Bytes>,
}

/// Where an append landed: offsets `first_offset .. first_offset + n`, all with `arrival_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub first_offset: u64,
    pub arrival_ms: i64,
}

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// The record at this offset, or the first retained one after it.
    Offset(u64),
    /// The first record whose arrival time is at or after this many ms since the epoch.
    Time(i64),
}

/// The live range of a shard's log: offsets `first .. next` are readable
/// (`first == next` when the log is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub first: u64,
    pub next: u64,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("shard {0:?} does not exist")]
    NoSuchShard(ShardKey),
    #[error("shard {0:?} already exists")]
    ShardExists(ShardKey),
    /// The data could not be made durable (disk full, I/O error, read-only file system).
    /// Nothing in the failed call was acknowledged; reads keep working.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A record larger than the store accepts; nothing in the call was written.
    #[error("a record of {size} bytes is larger than the store accepts ({limit})")]
    TooLarge { size: usize, limit: usize },
    #[error("storage corrupted: {0}")]
    Corrupt(String),
    #[error("storage I/O error: {0}")]
    Io(String),
    /// The shard was closed with [`ShardLog::close_shard`]: it takes no more appends. Nothing
    /// in the failed call was written (to any shard).
    #[error("shard {0:?} is closed")]
    Closed(ShardKey),
    /// An append to several shards that a store which cannot write them together (JetStream:
    /// a stream per shard) wrote to some of them only: each shard's outcome, in the order of
    /// the call. A `Closed` or `NoSuchShard` outcome wrote nothing to its shard; any other
    /// error may or may not have.
    #[error("appended to some shards only: {0:?}")]
    Partial(Vec<StorageResult<Appended>>),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// Append-only logs, one per shard.
///
/// Contract (checked by the contract suite):
/// - `append` returns only once every payload in the call is on stable storage (or as the
///   engine's configured durability says); offsets in a shard are dense and start at 0.
/// - One `append` call may touch several shards; it is atomic per shard. A local store
///   persists the shards together (one group commit); a store that cannot answers a call it
///   wrote to some shards only with [`StorageError::Partial`], never with an error that
///   claims nothing was written.
/// - `Closed` and `NoSuchShard` mean nothing of the call was written: the engine then writes
///   the records again elsewhere, so a store that does not know must answer `Unavailable`.
/// - Reads never return a record below the trim point set by `trim_before`.
///
/// Every method is async: a local store runs its disk work (fsyncs, page-cache reads) off the
/// async worker threads, and a replicated store answers over the network.
pub trait ShardLog: Send + Sync + 'static {
    /// Fails with `ShardExists` if the shard exists. A deleted shard's key may be created again:
    /// it starts empty, at offset 0. Durable when it returns.
    fn create_shard(&self, shard: ShardKey) -> BoxFuture<'_, StorageResult<()>>;
    /// Removes the shard and all its records. Idempotent. The shard is gone for readers and
    /// writers at once; engines may give the space back in the background. Durable when it
    /// returns.
    fn delete_shard(&self, shard: ShardKey) -> BoxFuture<'_, StorageResult<()>>;
    /// Appends to several shards at once; results are in the order of `appends`. A call naming
    /// a shard that does not exist fails with `NoSuchShard`. Arrival times never decrease
    /// within a shard. If the future is dropped before it resolves, the records may or may
    /// not have been written.
    fn append(&self, appends: Vec<ShardAppend>) -> BoxFuture<'_, StorageResult<Vec<Appended>>>;
    /// Up to `max_records` records (and, past the first, at most `max_bytes` of payload).
    fn read(
        &self,
        shard: ShardKey,
        from: ReadFrom,
        max_records: usize,
        max_bytes: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<StoredRecord>>>;
    fn bounds(&self, shard: ShardKey) -> BoxFuture<'_, StorageResult<Bounds>>;
    /// The published end of `shard`'s log (`Bounds::next`), for readers that wait for new
    /// records instead of polling. The value moves only once the records below it are
    /// readable, that is once they are durable (as the store's durability setting says), so a
    /// reader woken by it finds them; an append whose caller went away still moves it when its
    /// records become durable. Closed (`changed()` fails) once the shard is deleted.
    fn watch(&self, shard: ShardKey) -> BoxFuture<'_, StorageResult<watch::Receiver<u64>>>;
    /// Drops every record that arrived before `arrival_ms` (retention). Space is given back
    /// by the engine in the background; reads honour the trim at once. The trim point applies
    /// to the records present when called and never moves back; trimming an empty shard, or to
    /// an earlier time, is a no-op.
    fn trim_before(&self, shard: ShardKey, arrival_ms: i64) -> BoxFuture<'_, StorageResult<()>>;
    /// Closes the shard to appends (a parent shard after a split or merge) and returns its
    /// final end: the `Bounds::next` it will always have. Every append accepted before the
    /// close is readable (published) when this returns; every later `append` call naming the
    /// shard fails with `Closed` and writes nothing, to any shard. Reads, `bounds`, `watch`,
    /// `trim_before` and `delete_shard` go on as before. Idempotent: closing a closed shard
    /// returns the same end. `NoSuchShard` if the shard does not exist. Whether the close
    /// survives a reopen is the store's choice (the engine closes its closed shards again at
    /// open); a deleted and re-created shard starts open.
    fn close_shard(&self, shard: ShardKey) -> BoxFuture<'_, StorageResult<u64>>;
    /// Whether appends can be made durable now: `Err` with the reason when they cannot (a
    /// full or read-only disk, a failed fsync, a lost cluster connection). For readiness
    /// probes: bounded in time, cheap enough to run every few seconds, and never on the
    /// append path.
    fn health(&self) -> BoxFuture<'_, StorageResult<()>>;
    /// Writes the store's own metric families (fsync latency, backlog, disk use, cluster
    /// connection...) into `out`. Bounded in time like `health`.
    fn write_metrics<'a>(
        &'a self,
        out: &'a mut tributary_telemetry::Exposition,
    ) -> BoxFuture<'a, ()>;
}

/// What a [`MetaStore`] write resolves to.
pub type MetaFuture<'a, T> = BoxFuture<'a, Result<T, MetaError>>;

/// Revision of a metadata entry; changes on every update and is never reused for a key, even
/// after the key is deleted and created again. Revisions only grow: every write (a delete
/// included) gets a higher revision than every earlier write to the same store.
pub type Revision = u64;

/// One change to a [`MetaStore`], as [`MetaStore::watch`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaChange {
    pub key: String,
    /// The revision of this write: the entry's new revision, or for a delete a fresh revision
    /// of its own (never handed out before, higher than the deleted entry's).
    pub revision: Revision,
    /// The new value; `None` when the key was deleted.
    pub value: Option<Bytes>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaEntry {
    pub key: String,
    pub revision: Revision,
    pub value: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("key already exists")]
    Exists,
    #[error("key not found")]
    NotFound,
    #[error("revision mismatch: expected {expected}, found {found}")]
    Conflict { expected: Revision, found: Revision },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Small, strongly consistent key-value store for control-plane state. Every successful
/// write is durable when it returns. Every method is async, so that stores can wait for the
/// disk (or a cluster) off the async worker threads. Keys are 1 to 65 535 bytes of UTF-8.
pub trait MetaStore: Send + Sync + 'static {
    fn get<'a>(&'a self, key: &'a str) -> MetaFuture<'a, Option<MetaEntry>>;
    /// `Exists` if the key is present.
    fn create<'a>(&'a self, key: &'a str, value: Bytes) -> MetaFuture<'a, Revision>;
    /// `NotFound` if absent; `Conflict` if its revision is not `expected`.
    fn update<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        expected: Revision,
    ) -> MetaFuture<'a, Revision>;
    /// `NotFound` if absent; with `Some(expected)`, `Conflict` if its revision differs.
    fn delete<'a>(&'a self, key: &'a str, expected: Option<Revision>) -> MetaFuture<'a, ()>;
    /// Every entry whose key starts with `prefix`, in key order.
    fn list<'a>(&'a self, prefix: &'a str) -> MetaFuture<'a, Vec<MetaEntry>>;
    /// A feed of every successful write (create, update, delete) made by ANY writer of the
    /// store once this future has resolved, in the order the writes were made (revision
    /// order), each exactly once. Failed writes (`Exists`, `NotFound`, `Conflict`) make no
    /// change. Writes made before the call are not replayed: a caller that needs the whole
    /// state watches first and lists afterwards, and ignores changes whose revision is not
    /// above what it listed. The receiver is closed if the store cannot go on following
    /// (connection lost, store dropped); the caller then watches and lists again.
    fn watch(&self) -> MetaFuture<'_, mpsc::UnboundedReceiver<MetaChange>>;
}
