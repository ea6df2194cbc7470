//! Reads from a shard stream.
//!
//! Bulk reads are batch direct gets (nats-server 2.11+), which any replica answers. A follower
//! may not have applied the newest records yet (JETSTREAM.md measured misses right after the
//! ack), so whatever a read still wants past the batch is asked of the stream leader with
//! `STREAM.MSG.GET`, up to the end the leader reports: a record acknowledged to anyone is
//! never missed. Reads by time search the arrival header by bisection on the leader.

use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;

use super::api;
use super::log::{NatsLog, ARRIVAL, STREAM_NOT_FOUND};
use super::unavailable;
use crate::{ReadFrom, ShardKey, StorageError, StorageResult, StoredRecord};

/// JetStream's limit on one batch direct get.
const MAX_DIRECT_BATCH: usize = 1000;
/// The most one batch direct get asks the server to send, whatever the caller allows.
const MAX_DIRECT_BYTES: usize = 16 << 20;

impl NatsLog {
    pub(super) async fn read_records(
        &self,
        key: ShardKey,
        from: ReadFrom,
        max_records: usize,
        max_bytes: usize,
    ) -> StorageResult<Vec<StoredRecord>> {
        let (mut seq, known_end) = match from {
            ReadFrom::Offset(o) => (o.saturating_add(1), None),
            ReadFrom::Time(t) => {
                let info = self.info(key).await?;
                let (first, last) = (info.state.first_seq.max(1), info.state.last_seq);
                (self.seq_at_time(key, t, first, last).await?, Some(last))
            }
        };
        let mut out: Vec<StoredRecord> = Vec::new();
        let mut bytes = 0usize;
        let full = |out: &Vec<StoredRecord>, bytes: usize, next: usize| {
            out.len() >= max_records || (!out.is_empty() && bytes + next > max_bytes)
        };
        if max_records == 0 {
            self.info(key).await?;
            return Ok(out);
        }
        // Any replica, in batches.
        'direct: loop {
            let want = (max_records - out.len()).min(MAX_DIRECT_BATCH);
            let room = max_bytes.saturating_sub(bytes).clamp(1, MAX_DIRECT_BYTES);
            let batch = self.direct_batch(key, seq, want, room).await?;
            let got = batch.len();
            for r in batch {
                if full(&out, bytes, r.payload.len()) {
                    return Ok(out);
                }
                seq = r.offset + 2;
                bytes += r.payload.len();
                out.push(r);
            }
            if got < want || got == 0 {
                break 'direct;
            }
        }
        // The rest, if any, from the leader.
        let end = match known_end {
            Some(end) => end,
            None => self.info(key).await?.state.last_seq,
        };
        while seq <= end {
            let Some(r) = self.leader_get(key, seq).await? else {
                break;
            };
            if full(&out, bytes, r.payload.len()) {
                break;
            }
            seq = r.offset + 2;
            bytes += r.payload.len();
            out.push(r);
        }
        Ok(out)
    }

    /// Up to `want` records from sequence `seq` on (the first at or after it), from any replica.
    async fn direct_batch(
        &self,
        key: ShardKey,
        seq: u64,
        want: usize,
        max_bytes: usize,
    ) -> StorageResult<Vec<StoredRecord>> {
        let name = self.stream_name(key);
        let inbox = self.client.new_inbox();
        let mut sub = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| unavailable("direct get", e))?;
        let body = json!({
            "seq": seq,
            "next_by_subj": self.subject(key),
            "batch": want,
            "max_bytes": max_bytes,
        });
        self.client
            .publish_with_reply(
                format!("$JS.API.DIRECT.GET.{name}"),
                inbox,
                Bytes::from(body.to_string()),
            )
            .await
            .map_err(|e| unavailable("direct get", e))?;
        let mut out = Vec::new();
        loop {
            let msg = match tokio::time::timeout(self.timeout, sub.next()).await {
                Ok(Some(m)) => m,
                Ok(None) => return Err(unavailable("direct get", "subscription ended")),
                Err(_) => {
                    // No replica answered: a missing stream, or the cluster is down.
                    self.info(key).await?;
                    return Err(unavailable("direct get", "no answer in time"));
                }
            };
            if let Some(status) = msg.status {
                match status.as_u16() {
                    // End of batch, or nothing at or after `seq`.
                    204 | 404 => return Ok(out),
                    503 => {
                        self.info(key).await?;
                        return Err(unavailable("direct get", "no responders"));
                    }
                    code => {
                        return Err(unavailable(
                            "direct get",
                            format!("status {code} {:?}", msg.description),
                        ))
                    }
                }
            }
            let headers = msg.headers.unwrap_or_default();
            let stored = header_u64(&headers, "Nats-Sequence")
                .ok_or_else(|| StorageError::Corrupt("direct get without Nats-Sequence".into()))?;
            out.push(record(key, stored, &headers, msg.payload)?);
            if out.len() >= want {
                // The server still sends its end-of-batch marker; the subscription drops it.
                return Ok(out);
            }
        }
    }

    /// The first record at or after `seq`, from the stream leader.
    pub(super) async fn leader_get(
        &self,
        key: ShardKey,
        seq: u64,
    ) -> StorageResult<Option<StoredRecord>> {
        let body = json!({ "seq": seq, "next_by_subj": self.subject(key) });
        match api::msg_get(&self.client, self.timeout, &self.stream_name(key), body).await {
            Ok(Some(m)) => Ok(Some(record(key, m.seq, &m.headers, m.data)?)),
            Ok(None) => Ok(None),
            Err(e) if e.code() == Some(STREAM_NOT_FOUND) => Err(StorageError::NoSuchShard(key)),
            Err(e) => Err(unavailable("message get", e)),
        }
    }

    /// The sequence of the first record in `first..=last` that arrived at or after `t`, or
    /// `last + 1`. Arrival times never decrease along a shard, so bisection finds it.
    pub(super) async fn seq_at_time(
        &self,
        key: ShardKey,
        t: i64,
        first: u64,
        last: u64,
    ) -> StorageResult<u64> {
        // Invariant: every record below `lo` arrived before `t`, and the answer is at most
        // `hi` (a record the leader skipped over does not exist).
        let (mut lo, mut hi) = (first.max(1), last + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.leader_get(key, mid).await? {
                Some(r) if r.offset + 1 < hi => {
                    if r.arrival_ms < t {
                        lo = r.offset + 2;
                    } else {
                        hi = mid;
                    }
                }
                _ => hi = mid,
            }
        }
        Ok(lo)
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.as_str().parse().ok()
}

fn record(
    key: ShardKey,
    seq: u64,
    headers: &HeaderMap,
    payload: Bytes,
) -> StorageResult<StoredRecord> {
    let arrival_ms = headers
        .get(ARRIVAL)
        .and_then(|v| v.as_str().parse().ok())
        .ok_or_else(|| {
            StorageError::Corrupt(format!("{key:?}: record {seq} has no {ARRIVAL} header"))
        })?;
    Ok(StoredRecord {
        offset: seq - 1,
        arrival_ms,
        payload,
    })
}
