//! [`ShardLog`] on JetStream: one stream per shard (layout in `nats.rs`).
//!
//! Appends: one writer per shard per node (an async mutex, the fence) publishes what is
//! queued for the shard (group commit) as one atomic batch whose first message carries
//! `Nats-Expected-Last-Sequence`. A node that lost
//! the race to another node's append sees JetStream's "wrong last sequence" (10071): nothing
//! was stored, so it re-reads the shard's end and publishes again. Knowing the end it fenced on
//! also gives it the last arrival time, which keeps arrival times non-decreasing per shard.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, RequestErrorKind};
use bytes::Bytes;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{oneshot, watch};

use super::api::{self, decode_answer, ApiError};
use super::outcome::{combine, Publish};
use super::{unavailable, NatsOptions, NATS_FORMAT_VERSION, NATS_MAX_RECORD};
use crate::{
    Appended, Bounds, ReadFrom, ShardAppend, ShardKey, ShardLog, StorageError, StorageResult,
    StoredRecord,
};

pub(super) const ARRIVAL: &str = "Tributary-Arrival";
/// Stream metadata: the arrival time of the newest record, written before a trim empties the
/// stream, so a writer's next arrival time is still at least that.
const LAST_ARRIVAL_META: &str = "tributary-last-arrival-ms";
const FORMAT_META: &str = "tributary-format";
/// Stream metadata: a token of the create call that made the stream (see `create_shard`).
const CREATOR_META: &str = "tributary-creator";
/// JetStream's limit on one atomic batch.
const MAX_BATCH: usize = 1000;
/// Payload bytes one group commit gathers, past its first append.
const GROUP_BYTES: usize = 8 << 20;
/// Appends that lose the fence to another node this many times in a row give up.
const MAX_FENCE_RETRIES: usize = 32;

/// JetStream error codes Tributary acts on.
pub(super) const STREAM_NOT_FOUND: u64 = 10059;
const STREAM_NAME_IN_USE: u64 = 10058;
const WRONG_LAST_SEQUENCE: u64 = 10071;

/// The JetStream shard log. Cheap to share.
pub struct NatsLog {
    pub(super) client: async_nats::Client,
    pub(super) js: async_nats::jetstream::Context,
    /// The log's own handle, for the follower tasks it starts (held weakly by them).
    me: std::sync::Weak<NatsLog>,
    prefix: String,
    replicas: usize,
    pub(super) timeout: Duration,
    pub(super) shards: Mutex<HashMap<ShardKey, Arc<ShardState>>>,
}

/// What this node knows of one shard.
pub(super) struct ShardState {
    fence: tokio::sync::Mutex<Fence>,
    /// Closed to appends (its subject moved away), as far as this node knows.
    closed: std::sync::atomic::AtomicBool,
    /// Appends waiting for the fence (group commit).
    queue: Mutex<VecDeque<Waiting>>,
    pub(super) published: watch::Sender<u64>,
    /// Whether a follower (`follow.rs`) was started, and its task, stopped with the state.
    pub(super) following: std::sync::atomic::AtomicBool,
    pub(super) follower: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for ShardState {
    fn drop(&mut self) {
        if let Some(task) = self.follower.lock().take() {
            task.abort();
        }
    }
}

/// The shard's end as of this node's last append or refresh.
#[derive(Default)]
struct Fence {
    known: bool,
    last_seq: u64,
    last_arrival: Option<i64>,
}

#[derive(Deserialize)]
pub(super) struct StreamInfo {
    pub config: serde_json::Map<String, serde_json::Value>,
    pub state: StreamState,
    /// The replica group, on a clustered server (`health`).
    #[serde(default)]
    pub cluster: Option<ClusterInfo>,
}

#[derive(Deserialize)]
pub(super) struct ClusterInfo {
    #[serde(default)]
    pub leader: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct StreamState {
    pub messages: u64,
    pub first_seq: u64,
    pub last_seq: u64,
}

#[derive(Deserialize)]
struct PubAck {
    seq: u64,
    #[serde(default)]
    count: Option<u64>,
}

impl NatsLog {
    pub(super) fn new(
        client: async_nats::Client,
        js: async_nats::jetstream::Context,
        opts: &NatsOptions,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| NatsLog {
            client,
            js,
            me: me.clone(),
            prefix: opts.prefix.clone(),
            replicas: opts.replicas.max(1),
            timeout: opts.request_timeout,
            shards: Mutex::new(HashMap::new()),
        })
    }

    pub(super) fn stream_name(&self, key: ShardKey) -> String {
        format!("{}_{}_{}", self.prefix, key.stream, key.shard)
    }

    pub(super) fn subject(&self, key: ShardKey) -> String {
        format!("{}.{}.{}", self.prefix, key.stream, key.shard)
    }

    /// Where a closed shard's stream listens instead: nobody publishes there, so a late
    /// append gets "no responders", while the stored records keep their subject for reads.
    fn closed_subject(&self, key: ShardKey) -> String {
        format!("{}.closed.{}.{}", self.prefix, key.stream, key.shard)
    }

    fn is_closed(&self, key: ShardKey, info: &StreamInfo) -> bool {
        let live = serde_json::Value::String(self.subject(key));
        !info
            .config
            .get("subjects")
            .and_then(|s| s.as_array())
            .is_some_and(|subjects| subjects.contains(&live))
    }

    async fn close(&self, key: ShardKey) -> StorageResult<u64> {
        let st = self.state(key).await?;
        // Holding the fence: no append of this node is in flight while the subject moves.
        let _fence = st.fence.lock().await;
        let info = self.info(key).await?;
        if !self.is_closed(key, &info) {
            let mut config = info.config.clone();
            config.insert("subjects".into(), json!([self.closed_subject(key)]));
            let name = self.stream_name(key);
            self.api::<serde_json::Value>(
                format!("STREAM.UPDATE.{name}"),
                serde_json::Value::Object(config),
            )
            .await
            .map_err(|e| unavailable("closing a shard", e))?;
        }
        st.closed.store(true, std::sync::atomic::Ordering::Release);
        // The end: the leader's last sequence once two reads apart agree, since a batch the
        // leader took in just before the move may still be being applied.
        let mut end = self.info(key).await?.state.last_seq;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            let again = self.info(key).await?.state.last_seq;
            if again == end {
                break;
            }
            end = again;
        }
        publish_end(&st, end);
        Ok(end)
    }

    /// One request to the JetStream API (`$JS.API.<what>`), its JSON answer decoded.
    pub(super) async fn api<T: serde::de::DeserializeOwned>(
        &self,
        what: String,
        body: serde_json::Value,
    ) -> Result<T, ApiError> {
        api::request(&self.client, self.timeout, what, body).await
    }

    pub(super) async fn info(&self, key: ShardKey) -> StorageResult<StreamInfo> {
        let name = self.stream_name(key);
        match self.api(format!("STREAM.INFO.{name}"), json!({})).await {
            Ok(info) => Ok(info),
            Err(e) if e.code() == Some(STREAM_NOT_FOUND) => Err(StorageError::NoSuchShard(key)),
            Err(e) => Err(unavailable("stream info", e)),
        }
    }

    /// This node's state of `key`, created (with the shard's current end) on first use.
    pub(super) async fn state(&self, key: ShardKey) -> StorageResult<Arc<ShardState>> {
        if let Some(st) = self.shards.lock().get(&key) {
            return Ok(Arc::clone(st));
        }
        let info = self.info(key).await?;
        let st = Arc::new(ShardState {
            fence: tokio::sync::Mutex::new(Fence::default()),
            queue: Mutex::new(VecDeque::new()),
            closed: std::sync::atomic::AtomicBool::new(self.is_closed(key, &info)),
            published: watch::Sender::new(info.state.last_seq),
            following: std::sync::atomic::AtomicBool::new(false),
            follower: Mutex::new(None),
        });
        Ok(Arc::clone(self.shards.lock().entry(key).or_insert(st)))
    }

    fn forget(&self, key: ShardKey) {
        self.shards.lock().remove(&key);
    }

    /// Forgets `key` if this node's state of it is still `st` (not a newer incarnation).
    pub(super) fn forget_if(&self, key: ShardKey, st: &std::sync::Weak<ShardState>) {
        let mut shards = self.shards.lock();
        if shards
            .get(&key)
            .is_some_and(|cur| std::ptr::eq(Arc::as_ptr(cur), st.as_ptr()))
        {
            shards.remove(&key);
        }
    }

    /// Re-reads the shard's end from the stream leader.
    async fn refresh(&self, key: ShardKey, fence: &mut Fence) -> StorageResult<()> {
        let info = self.info(key).await?;
        fence.last_seq = info.state.last_seq;
        fence.last_arrival = self.last_arrival(key, &info).await?;
        fence.known = true;
        Ok(())
    }

    /// The arrival time of the newest record ever appended to the shard.
    pub(super) async fn last_arrival(
        &self,
        key: ShardKey,
        info: &StreamInfo,
    ) -> StorageResult<Option<i64>> {
        if info.state.messages > 0 {
            if let Some(m) = self.leader_get(key, info.state.last_seq).await? {
                return Ok(Some(m.arrival_ms));
            }
        }
        Ok(info
            .config
            .get("metadata")
            .and_then(|m| m.get(LAST_ARRIVAL_META))
            .and_then(|v| v.as_str())
            .and_then(|v| v.parse().ok()))
    }

    /// Appends `payloads` to one shard. Concurrent appends to a shard on this node commit
    /// together: each queues, and whoever holds the shard's fence publishes everything queued
    /// (whole appends, up to one batch) as one atomic batch, then hands each its offsets.
    async fn append_one(
        &self,
        key: ShardKey,
        st: Arc<ShardState>,
        payloads: Vec<Bytes>,
    ) -> StorageResult<Appended> {
        if payloads.is_empty() || payloads.len() > MAX_BATCH {
            return self.append_alone(key, &st, payloads).await;
        }
        let (reply, mut answer) = oneshot::channel();
        st.queue.lock().push_back(Waiting { payloads, reply });
        loop {
            let mut fence = tokio::select! {
                biased;
                done = &mut answer => return done.unwrap_or_else(|_| Err(unavailable(
                    "append", "the request that carried this append was cancelled"))),
                fence = st.fence.lock() => fence,
            };
            let group = take_group(&mut st.queue.lock());
            if group.is_empty() {
                continue; // ours went out with an earlier group: its answer is on the way
            }
            let all: Vec<Bytes> = group
                .iter()
                .flat_map(|w| w.payloads.iter().cloned())
                .collect();
            let done = self.append_chunk(key, &mut fence, &all).await;
            publish_end(&st, fence.last_seq);
            drop(fence);
            match done {
                Ok(a) => {
                    let mut first_offset = a.first_offset;
                    for w in group {
                        let n = w.payloads.len() as u64;
                        let _ = w.reply.send(Ok(Appended {
                            first_offset,
                            arrival_ms: a.arrival_ms,
                        }));
                        first_offset += n;
                    }
                }
                Err(e) => {
                    for w in group {
                        let _ = w.reply.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    /// An empty append (the shard's end) or one too large for a batch, on its own.
    async fn append_alone(
        &self,
        key: ShardKey,
        st: &ShardState,
        payloads: Vec<Bytes>,
    ) -> StorageResult<Appended> {
        let mut fence = st.fence.lock().await;
        if payloads.is_empty() {
            if !fence.known {
                self.refresh(key, &mut fence).await?;
            }
            return Ok(Appended {
                first_offset: fence.last_seq,
                arrival_ms: fence.last_arrival.unwrap_or_else(crate::clock::now_ms),
            });
        }
        let mut first: Option<Appended> = None;
        for chunk in payloads.chunks(MAX_BATCH) {
            let done = self.append_chunk(key, &mut fence, chunk).await;
            publish_end(st, fence.last_seq);
            first.get_or_insert(done?);
        }
        Ok(first.expect("at least one chunk"))
    }

    async fn append_chunk(
        &self,
        key: ShardKey,
        fence: &mut Fence,
        chunk: &[Bytes],
    ) -> StorageResult<Appended> {
        for attempt in 0..MAX_FENCE_RETRIES {
            if !fence.known {
                self.refresh(key, fence).await?;
            }
            let arrival = crate::clock::now_ms().max(fence.last_arrival.unwrap_or(i64::MIN));
            match self.publish(key, chunk, fence.last_seq, arrival).await {
                Ok(last_seq) => {
                    let n = chunk.len() as u64;
                    if last_seq != fence.last_seq + n {
                        fence.known = false;
                        return Err(StorageError::Corrupt(format!(
                            "{key:?}: an append of {n} after {} ended at {last_seq}",
                            fence.last_seq
                        )));
                    }
                    let first_offset = fence.last_seq;
                    fence.last_seq = last_seq;
                    fence.last_arrival = Some(arrival);
                    return Ok(Appended {
                        first_offset,
                        arrival_ms: arrival,
                    });
                }
                // JetStream names the end it checked against: fence on that, which is what
                // its next check compares with (after a leader change it has differed from
                // what stream info reported, and 32 refreshes in a row all lost).
                Err(Publish::Fenced(Some(end))) => {
                    fence.last_seq = end;
                    if let Some(r) = self.leader_get(key, end).await? {
                        if r.offset + 1 == end {
                            let last = fence.last_arrival.unwrap_or(i64::MIN);
                            fence.last_arrival = Some(last.max(r.arrival_ms));
                        }
                    }
                    fence.known = true;
                    tokio::time::sleep(Duration::from_millis(1 + attempt as u64 % 5)).await;
                }
                Err(Publish::Fenced(None)) => fence.known = false,
                Err(Publish::Refused(e)) => {
                    // Nothing was stored. A shard closed or deleted by another node says so,
                    // and the engine writes the records again where they now belong.
                    fence.known = false;
                    return Err(match self.info(key).await {
                        Err(StorageError::NoSuchShard(k)) => StorageError::NoSuchShard(k),
                        Ok(info) if self.is_closed(key, &info) => StorageError::Closed(key),
                        _ => e,
                    });
                }
                Err(Publish::Failed(e)) => {
                    // The batch may or may not be stored: learn the end again before the next,
                    // and say "unavailable" whatever the shard's state now, since "closed"
                    // would have the engine store the records a second time.
                    fence.known = false;
                    return Err(e);
                }
            }
        }
        Err(StorageError::Unavailable(format!(
            "{key:?}: other writers moved the shard's end {MAX_FENCE_RETRIES} times in a row"
        )))
    }

    /// Publishes `chunk` as one atomic batch after `last_seq`; the sequence of its last record.
    async fn publish(
        &self,
        key: ShardKey,
        chunk: &[Bytes],
        last_seq: u64,
        arrival: i64,
    ) -> Result<u64, Publish> {
        let subject = self.subject(key);
        let batch_id = self.client.new_inbox().replace('.', "_");
        let n = chunk.len();
        for (i, payload) in chunk.iter().enumerate() {
            let mut headers = HeaderMap::new();
            headers.insert(ARRIVAL, arrival.to_string().as_str());
            if i == 0 {
                headers.insert("Nats-Expected-Last-Sequence", last_seq.to_string().as_str());
            }
            if n > 1 {
                headers.insert("Nats-Batch-Id", batch_id.as_str());
                headers.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
            }
            if i + 1 < n {
                // Without its commit, a batch is never stored.
                self.client
                    .publish_with_headers(subject.clone(), headers, payload.clone())
                    .await
                    .map_err(|e| Publish::Refused(unavailable("publish", e)))?;
                continue;
            }
            if n > 1 {
                headers.insert("Nats-Batch-Commit", "1");
            }
            let reply = tokio::time::timeout(
                self.timeout,
                self.client
                    .request_with_headers(subject.clone(), headers, payload.clone()),
            )
            .await
            .map_err(|_| Publish::Failed(unavailable("publish", "no acknowledgement in time")))?
            .map_err(|e| match e.kind() {
                // No stream listens on the subject (closed, deleted, or no leader yet), or
                // the request never left.
                RequestErrorKind::NoResponders
                | RequestErrorKind::InvalidSubject
                | RequestErrorKind::MaxPayloadExceeded => {
                    Publish::Refused(unavailable("publish", e))
                }
                RequestErrorKind::TimedOut | RequestErrorKind::Other => {
                    Publish::Failed(unavailable("publish", e))
                }
            })?;
            let ack: PubAck = match decode_answer(&reply.payload) {
                Ok(ack) => ack,
                Err(e) if e.code() == Some(WRONG_LAST_SEQUENCE) => {
                    return Err(Publish::Fenced(e.trailing_number()))
                }
                // JetStream answered with an error: it stored nothing.
                Err(e) => return Err(Publish::Refused(unavailable("publish", e))),
            };
            if ack.count.unwrap_or(1) != n as u64 {
                return Err(Publish::Failed(StorageError::Corrupt(format!(
                    "{key:?}: a batch of {n} was acknowledged with count {:?}",
                    ack.count
                ))));
            }
            return Ok(ack.seq);
        }
        unreachable!("chunks are never empty")
    }

    async fn trim(&self, key: ShardKey, arrival_ms: i64) -> StorageResult<()> {
        let info = self.info(key).await?;
        let (first, last) = (info.state.first_seq, info.state.last_seq);
        if info.state.messages == 0 {
            return Ok(());
        }
        let cut = self.seq_at_time(key, arrival_ms, first, last).await?;
        if cut <= first {
            return Ok(());
        }
        if cut > last {
            // Emptying the stream: keep the newest arrival where `bounds` finds it.
            if let Some(arrival) = self.last_arrival(key, &info).await? {
                let mut config = info.config.clone();
                let meta = config
                    .entry("metadata")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .ok_or_else(|| StorageError::Corrupt("stream metadata".into()))?;
                meta.insert(LAST_ARRIVAL_META.into(), json!(arrival.to_string()));
                let name = self.stream_name(key);
                self.api::<serde_json::Value>(
                    format!("STREAM.UPDATE.{name}"),
                    serde_json::Value::Object(config),
                )
                .await
                .map_err(|e| unavailable("stream update", e))?;
            }
        }
        let name = self.stream_name(key);
        self.api::<serde_json::Value>(format!("STREAM.PURGE.{name}"), json!({ "seq": cut }))
            .await
            .map_err(|e| unavailable("stream purge", e))?;
        Ok(())
    }
}

/// Moves the shard's published end (never back).
fn publish_end(st: &ShardState, last_seq: u64) {
    st.published.send_if_modified(|end| {
        let moved = last_seq > *end;
        *end = (*end).max(last_seq);
        moved
    });
}

/// Whole appends from the front of the queue, up to one batch (records and bytes); always at
/// least one if any is queued.
fn take_group(queue: &mut VecDeque<Waiting>) -> Vec<Waiting> {
    let (mut records, mut bytes) = (0, 0);
    let mut group = Vec::new();
    while let Some(w) = queue.front() {
        let size: usize = w.payloads.iter().map(Bytes::len).sum();
        let fits = records + w.payloads.len() <= MAX_BATCH && bytes + size <= GROUP_BYTES;
        if !group.is_empty() && !fits {
            break;
        }
        records += w.payloads.len();
        bytes += size;
        group.extend(queue.pop_front());
    }
    group
}

/// An append waiting for the shard's fence.
struct Waiting {
    payloads: Vec<Bytes>,
    reply: oneshot::Sender<StorageResult<Appended>>,
}

impl ShardLog for NatsLog {
    fn create_shard(&self, key: ShardKey) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(async move {
            // No look first: while another node creates the same stream, a stream-info
            // request waits for a leader that does not exist yet. Creating with a token of
            // our own instead tells the cases apart: JetStream answers an identical create
            // with success, and a create over a stream made with another token with an error.
            let token = self.client.new_inbox();
            let name = self.stream_name(key);
            let config = json!({
                "name": name,
                "subjects": [self.subject(key)],
                "retention": "limits",
                "max_consumers": -1,
                "max_msgs": -1,
                "max_bytes": -1,
                "max_age": 0,
                "max_msg_size": NATS_MAX_RECORD + (64 << 10),
                "storage": "file",
                "discard": "old",
                "num_replicas": self.replicas,
                "duplicate_window": 120_000_000_000u64,
                "allow_direct": true,
                "allow_atomic": true,
                "metadata": {
                    FORMAT_META: NATS_FORMAT_VERSION.to_string(),
                    CREATOR_META: token,
                },
            });
            let created = self
                .api::<StreamInfo>(format!("STREAM.CREATE.{name}"), config)
                .await;
            match created {
                Ok(info) => {
                    let creator = info
                        .config
                        .get("metadata")
                        .and_then(|m| m.get(CREATOR_META))
                        .and_then(|v| v.as_str());
                    if creator != Some(token.as_str()) {
                        return Err(StorageError::ShardExists(key));
                    }
                }
                Err(e) if e.code() == Some(STREAM_NAME_IN_USE) => {
                    return Err(StorageError::ShardExists(key))
                }
                Err(e) => return Err(unavailable("stream create", e)),
            }
            self.forget(key);
            Ok(())
        })
    }

    fn delete_shard(&self, key: ShardKey) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(async move {
            let name = self.stream_name(key);
            let done = self
                .api::<serde_json::Value>(format!("STREAM.DELETE.{name}"), json!({}))
                .await;
            // Dropping this node's state closes its watchers.
            self.forget(key);
            match done {
                Ok(_) => Ok(()),
                Err(e) if e.code() == Some(STREAM_NOT_FOUND) => Ok(()),
                Err(e) => Err(unavailable("stream delete", e)),
            }
        })
    }

    fn append(&self, appends: Vec<ShardAppend>) -> BoxFuture<'_, StorageResult<Vec<Appended>>> {
        Box::pin(async move {
            crate::admission::payload_bytes(&appends, NATS_MAX_RECORD)?;
            // Every named shard must exist, and be open as far as this node knows, before
            // anything is written.
            let mut states = Vec::with_capacity(appends.len());
            for a in &appends {
                let st = self.state(a.shard).await?;
                if st.closed.load(std::sync::atomic::Ordering::Acquire) {
                    return Err(StorageError::Closed(a.shard));
                }
                states.push(st);
            }
            let writes = appends
                .into_iter()
                .zip(states)
                .map(|(a, st)| self.append_one(a.shard, st, a.payloads));
            combine(futures::future::join_all(writes).await)
        })
    }

    fn read(
        &self,
        shard: ShardKey,
        from: ReadFrom,
        max_records: usize,
        max_bytes: usize,
    ) -> BoxFuture<'_, StorageResult<Vec<StoredRecord>>> {
        Box::pin(self.read_records(shard, from, max_records, max_bytes))
    }

    fn bounds(&self, key: ShardKey) -> BoxFuture<'_, StorageResult<Bounds>> {
        Box::pin(async move {
            let info = self.info(key).await?;
            let next = info.state.last_seq;
            let first = match info.state.messages {
                0 => next,
                _ => info.state.first_seq.saturating_sub(1),
            };
            Ok(Bounds { first, next })
        })
    }

    fn watch(&self, key: ShardKey) -> BoxFuture<'_, StorageResult<watch::Receiver<u64>>> {
        Box::pin(async move {
            let st = self.state(key).await?;
            if let Some(me) = self.me.upgrade() {
                me.follow(key, &st);
            }
            Ok(st.published.subscribe())
        })
    }

    fn trim_before(&self, key: ShardKey, arrival_ms: i64) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(self.trim(key, arrival_ms))
    }

    fn close_shard(&self, key: ShardKey) -> BoxFuture<'_, StorageResult<u64>> {
        Box::pin(self.close(key))
    }

    fn health(&self) -> BoxFuture<'_, StorageResult<()>> {
        Box::pin(self.check_health())
    }

    fn write_metrics<'a>(
        &'a self,
        out: &'a mut tributary_telemetry::Exposition,
    ) -> BoxFuture<'a, ()> {
        Box::pin(self.write_health_metrics(out))
    }
}
