//! Health of the segment log, for readiness probes and `/metrics`.
//!
//! Writable means: not poisoned (a failed fsync makes the engine refuse writes until
//! restart) and a probe write in the directory succeeds: a 4 KiB file created, written,
//! fsynced and removed. The probe catches what only the next append would otherwise find:
//! a full disk (ENOSPC), a file system remounted read-only, a directory made unwritable.
//! It runs at most once per `PROBE_EVERY`; callers in between get the last verdict, so
//! probes hammering the endpoint cost one small fsync per second at most.
//!
//! Disk use walks the directory (like `du`), at most once per `DISK_EVERY`.

use std::io::Write;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tributary_telemetry::{Exposition, Kind};

use super::{SegmentLog, Shared};
use crate::{StorageError, StorageResult};

const PROBE_EVERY: Duration = Duration::from_secs(1);
const DISK_EVERY: Duration = Duration::from_secs(10);
const PROBE_FILE: &str = "health-probe";

/// The last probe's verdict and the last disk measurement, with when they were taken.
#[derive(Default)]
pub(super) struct Cache {
    probe: Mutex<Option<(Instant, Result<(), String>)>>,
    disk: Mutex<Option<(Instant, u64)>>,
}

/// Runs on the blocking pool (the probe fsyncs).
pub(super) fn check(shared: &Shared) -> StorageResult<()> {
    shared.poisoned()?;
    let mut last = shared.health.probe.lock();
    let verdict = match &*last {
        Some((at, v)) if at.elapsed() < PROBE_EVERY => v.clone(),
        _ => {
            let v =
                probe(shared).map_err(|e| format!("cannot write to {}: {e}", shared.dir.display()));
            *last = Some((Instant::now(), v.clone()));
            v
        }
    };
    verdict.map_err(StorageError::Unavailable)
}

fn probe(shared: &Shared) -> std::io::Result<()> {
    let path = shared.dir.join(PROBE_FILE);
    let result = std::fs::File::create(&path).and_then(|mut f| {
        f.write_all(&[0u8; 4096])?;
        f.sync_data()
    });
    // Remove it whatever happened: a half-written probe must not hold the space it found.
    let removed = std::fs::remove_file(&path);
    result.and(match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    })
}

pub(super) async fn write_metrics(log: &SegmentLog, out: &mut Exposition) {
    let shared = &log.shared;
    out.family(
        "tributary_storage_fsync_seconds",
        Kind::Histogram,
        "Duration of each fsync round of the segment log's journal (one round covers one or \
         more group commits).",
    );
    out.histogram(&[], &shared.stats.fsync.snapshot());
    let queued_kib =
        u64::from(log.inflight_kib).saturating_sub(log.inflight.available_permits() as u64);
    out.family(
        "tributary_storage_append_backlog_bytes",
        Kind::Gauge,
        "Payload bytes of appends queued for the journal or being committed, not yet \
         acknowledged (KiB granularity).",
    );
    out.sample(&[], queued_kib * 1024);
    out.family(
        "tributary_storage_group_commits_total",
        Kind::Counter,
        "Group commits written to the journal.",
    );
    out.sample(&[], shared.stats.snapshot().group_commits);
    if let Some(bytes) = disk_usage(shared).await {
        out.family(
            "tributary_storage_disk_bytes",
            Kind::Gauge,
            "Bytes the record log's directory occupies on disk (allocated blocks, like du), \
             measured at most every 10 s.",
        );
        out.sample(&[], bytes);
    }
}

async fn disk_usage(shared: &std::sync::Arc<Shared>) -> Option<u64> {
    if let Some((at, bytes)) = *shared.health.disk.lock() {
        if at.elapsed() < DISK_EVERY {
            return Some(bytes);
        }
    }
    let s = std::sync::Arc::clone(shared);
    let measured = tokio::task::spawn_blocking(move || crate::dir::dir_usage(&s.dir))
        .await
        .ok()?;
    match measured {
        Ok(bytes) => {
            *shared.health.disk.lock() = Some((Instant::now(), bytes));
            Some(bytes)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot measure the record log's disk use");
            None
        }
    }
}
