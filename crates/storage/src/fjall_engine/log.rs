//! [`ShardLog`] for [`FjallStore`]: control operations run on the caller's thread under the
//! writer lock; appends go to the writer thread; reads go straight to fjall, bounded by the
//! published [`ShardView`] so they never see an unacknowledged record.

use super::keys::{self, ShardRecord};
use super::writer::{self, Job, Msg};
use super::{read_err, FjallStore, ShardView, Shared};
use crate::{
    Appended, Bounds, ReadFrom, ShardAppend, ShardKey, ShardLog, StorageError, StorageResult,
    StoredRecord,
};
use ::fjall::PersistMode;
use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::sync::oneshot;

/// fjall stores values up to 4 GiB; refuse anything bigger up front instead of letting the writer
/// thread trip over it.
const MAX_PAYLOAD: usize = (u32::MAX as usize) - 8;

impl ShardLog for FjallStore {
    fn create_shard(&self, shard: ShardKey) -> StorageResult<()> {
        let shared = &self.shared;
        let mut ws = shared.writer.lock();
        if shared.visible.read().contains_key(&shard) {
            return Err(StorageError::ShardExists(shard));
        }
        // A deleted incarnation still being purged must be gone before the key is reused,
        // or the purge would delete the new records.
        while ws.graveyard.contains_key(&shard) {
            writer::purge_graveyard(shared, &mut ws, shard, writer::PURGE_CHUNK)?;
        }
        let rec = ShardRecord {
            deleted: false,
            trim_offset: 0,
            arrival_floor: None,
        };
        writer::put_shard_record(shared, shard, rec, PersistMode::SyncAll)?;
        shared.visible.write().insert(
            shard,
            ShardView {
                first: 0,
                next: 0,
                last_arrival: None,
            },
        );
        ws.purged.insert(shard, 0);
        Ok(())
    }

    fn delete_shard(&self, shard: ShardKey) -> StorageResult<()> {
        let shared = &self.shared;
        let mut ws = shared.writer.lock();
        let Some(view) = shared.visible.read().get(&shard).copied() else {
            return Ok(());
        };
        // Durably marked deleted first; the records go in the background (writer::purge_step).
        let rec = ShardRecord {
            deleted: true,
            trim_offset: view.next,
            arrival_floor: view.last_arrival,
        };
        writer::put_shard_record(shared, shard, rec, PersistMode::SyncAll)?;
        shared.visible.write().remove(&shard);
        ws.purge_queue.remove(&shard);
        let purged = ws.purged.remove(&shard).unwrap_or(0);
        ws.graveyard.insert(shard, purged.min(view.next)..view.next);
        drop(ws);
        self.wake_writer();
        Ok(())
    }

    fn append(&self, appends: Vec<ShardAppend>) -> BoxFuture<'_, StorageResult<Vec<Appended>>> {
        Box::pin(async move {
            let bytes = crate::admission::payload_bytes(&appends, MAX_PAYLOAD)?;
            let permit = crate::admission::reserve(&self.inflight, self.inflight_kib, bytes)
                .await
                .ok_or_else(writer_gone)?;
            let (reply, rx) = oneshot::channel();
            let job = Job {
                appends,
                bytes,
                reply,
                _permit: permit,
            };
            let tx = self.tx.as_ref().ok_or_else(writer_gone)?;
            tx.send(Msg::Append(job)).map_err(|_| writer_gone())?;
            rx.await.map_err(|_| writer_gone())?
        })
    }

    fn read(
        &self,
        shard: ShardKey,
        from: ReadFrom,
        max_records: usize,
        max_bytes: usize,
    ) -> StorageResult<Vec<StoredRecord>> {
        let shared = &self.shared;
        let view = view_of(shared, shard)?;
        let start = match from {
            ReadFrom::Offset(o) => o.max(view.first),
            ReadFrom::Time(t) => match first_offset_at_or_after(shared, shard, t)? {
                Some(o) => o.max(view.first),
                None => return Ok(Vec::new()),
            },
        };
        let mut out = Vec::new();
        if start >= view.next || max_records == 0 {
            return Ok(out);
        }
        let mut bytes = 0usize;
        let range = keys::record_key(shard, start)..keys::record_key(shard, view.next);
        for guard in shared.records.range(range) {
            let (k, v) = guard.into_inner().map_err(read_err)?;
            let (arrival_ms, payload) = keys::split_record_value(&v)?;
            // The first record always goes out, however large, so a reader can make progress.
            if !out.is_empty() && bytes.saturating_add(payload.len()) > max_bytes {
                break;
            }
            bytes += payload.len();
            out.push(StoredRecord {
                offset: keys::record_key_offset(&k)?,
                arrival_ms,
                // Copied out: a fjall slice can pin a whole cached block in memory.
                payload: Bytes::copy_from_slice(payload),
            });
            if out.len() >= max_records {
                break;
            }
        }
        Ok(out)
    }

    fn bounds(&self, shard: ShardKey) -> StorageResult<Bounds> {
        let view = view_of(&self.shared, shard)?;
        Ok(Bounds {
            first: view.first,
            next: view.next,
            last_arrival_ms: view.last_arrival,
        })
    }

    fn trim_before(&self, shard: ShardKey, arrival_ms: i64) -> StorageResult<()> {
        let shared = &self.shared;
        let mut ws = shared.writer.lock();
        let view = view_of(shared, shard)?;
        // Holding the writer lock, every index entry belongs to a committed record.
        let cut = first_offset_at_or_after(shared, shard, arrival_ms)?.unwrap_or(view.next);
        let first = cut.clamp(view.first, view.next);
        if first == view.first {
            return Ok(());
        }
        let rec = ShardRecord {
            deleted: false,
            trim_offset: first,
            arrival_floor: view.last_arrival,
        };
        // Not fsynced on its own: the next group commit (or the Interval timer) carries it to
        // disk. Losing it in a power cut only brings back records a later trim removes again.
        writer::put_shard_record(shared, shard, rec, PersistMode::Buffer)?;
        if let Some(v) = shared.visible.write().get_mut(&shard) {
            v.first = first;
        }
        if ws.purged.get(&shard).copied().unwrap_or(0) < first {
            ws.purge_queue.insert(shard);
        }
        drop(ws);
        self.wake_writer();
        Ok(())
    }
}

fn view_of(shared: &Shared, shard: ShardKey) -> StorageResult<ShardView> {
    shared
        .visible
        .read()
        .get(&shard)
        .copied()
        .ok_or(StorageError::NoSuchShard(shard))
}

/// The first offset whose arrival time is `>= t`, from the sparse time index: the first entry at
/// or after `t` starts the earliest run of records that arrived at or after `t`.
fn first_offset_at_or_after(
    shared: &Shared,
    shard: ShardKey,
    t: i64,
) -> StorageResult<Option<u64>> {
    let range = keys::time_key(shard, t, 0)..=keys::time_key(shard, i64::MAX, u64::MAX);
    match shared.by_time.range(range).next() {
        Some(g) => {
            let key = g.key().map_err(read_err)?;
            Ok(Some(keys::decode_time_key(&key)?.1))
        }
        None => Ok(None),
    }
}

fn writer_gone() -> StorageError {
    StorageError::Unavailable("the storage writer has stopped".into())
}
