//! Admitting an append to the segment log: every record within the engine's size
//! limit, then a share of the in-flight budget (one permit per KiB, at least one, at most the
//! whole budget) that the caller holds until its append is answered. That bounds the memory
//! queued for the writer thread whatever the load.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{ShardAppend, StorageError, StorageResult};

/// The payload bytes of `appends`, or an error naming the first record over `max_payload`.
pub(crate) fn payload_bytes(appends: &[ShardAppend], max_payload: usize) -> StorageResult<u64> {
    let mut bytes: u64 = 0;
    for p in appends.iter().flat_map(|a| &a.payloads) {
        if p.len() > max_payload {
            return Err(StorageError::TooLarge {
                size: p.len(),
                limit: max_payload,
            });
        }
        bytes += p.len() as u64;
    }
    Ok(bytes)
}

/// Waits for `bytes`' share of the budget; `None` once the budget is closed (the engine is
/// shutting down).
pub(crate) async fn reserve(
    inflight: &Arc<Semaphore>,
    budget_kib: u32,
    bytes: u64,
) -> Option<OwnedSemaphorePermit> {
    let kib = u32::try_from(bytes.div_ceil(1024))
        .unwrap_or(u32::MAX)
        .clamp(1, budget_kib);
    Arc::clone(inflight).acquire_many_owned(kib).await.ok()
}
