//! Opening a directory: lock it, check the format, load the checkpoint, replay the WAL after it
//! (`replay.rs`), cut every file back to what is durable, and write a fresh checkpoint so the
//! next open starts clean.
//!
//! Cost: one directory listing per shard, one 32-byte header read per sealed segment, the tail
//! segment's last index entry, and the WAL written since the last checkpoint (nothing after a
//! clean shutdown). Sealed segments are never scanned.
//!
//! Nothing is deleted before the new checkpoint is written: if the open itself crashes, the
//! next one replays the same WAL and needs the same files.

use super::checkpoint::{self, Checkpoint, ShardCheckpoint, TailCheckpoint};
use super::encode::TailSim;
use super::files::{
    corrupt, idx_entry_pos, io_err, list_segments, open_segment, remove_path, seg_path,
    segment_first_arrival, sync_dir,
};
use super::format::{self, Incarnation, FILE_HEADER_LEN, FORMAT_FILE, FORMAT_TAG};
use super::replay::{self, RecShard, RecTail};
use super::{
    key_of, parse_shard_dir, shard_dir, wal, RecoveryReport, SegmentOptions, SegmentRef, Shard,
    ShardWriter, Shared, State, Tail, View,
};
use crate::{ShardKey, StorageError, StorageResult};
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet, VecDeque};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::time::Instant;

pub(super) fn open(
    dir: &Path,
    opts: SegmentOptions,
    ckpt_tx: mpsc::Sender<checkpoint::Msg>,
) -> StorageResult<(Shared, RecoveryReport)> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, "create", &e))?;
    let dir_lock = crate::dir::lock_dir(dir)?;
    check_format(dir)?;
    for sub in ["wal", "shards"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(|e| io_err(&p, "create", &e))?;
    }
    let wal_dir = dir.join("wal");
    let ckpt = match checkpoint::read(dir)? {
        Some(c) => c,
        None => Checkpoint {
            wal_position: wal::list(&wal_dir)
                .map_err(|e| io_err(&wal_dir, "list", &e))?
                .first()
                .map_or(0, |(s, _)| *s),
            ..Checkpoint::default()
        },
    };
    let mut report = RecoveryReport::default();
    let mut rp = replay::Replay {
        dir: dir.to_path_buf(),
        opts: opts.clone(),
        shards: HashMap::new(),
        next_gen: ckpt.next_gen,
        doomed: Vec::new(),
    };
    for sc in &ckpt.shards {
        rp.shards.insert(key_of(sc.inc), load_shard(dir, sc)?);
    }
    let end = rp.run(ckpt.wal_position, &mut report)?;

    // Cut tails back to what is durable, fsync what changed.
    for sh in rp.shards.values_mut() {
        finish_tail(sh)?;
    }
    // Everything not part of a live shard goes once the new checkpoint is written.
    let mut doomed = std::mem::take(&mut rp.doomed);
    let live: HashSet<Incarnation> = rp.shards.values().map(|s| s.inc).collect();
    let shards_dir = dir.join("shards");
    for entry in std::fs::read_dir(&shards_dir).map_err(|e| io_err(&shards_dir, "list", &e))? {
        let path = entry.map_err(|e| io_err(&shards_dir, "list", &e))?.path();
        let inc = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_shard_dir);
        if let Some(inc) = inc {
            rp.next_gen = rp.next_gen.max(inc.gen + 1);
        }
        if !inc.is_some_and(|i| live.contains(&i)) {
            doomed.push(path);
        }
    }
    for sh in rp.shards.values() {
        let keep: HashSet<u64> = sh.bases().collect();
        let (bases, others) = list_segments(&sh.dir).map_err(|e| io_err(&sh.dir, "list", &e))?;
        for b in bases.into_iter().filter(|b| !keep.contains(b)) {
            doomed.push(seg_path(&sh.dir, b));
            doomed.push(super::files::idx_path(&sh.dir, b));
        }
        doomed.extend(others);
        if sh.dir_changed {
            sync_dir(&sh.dir).map_err(|e| io_err(&sh.dir, "fsync", &e))?;
        }
    }
    sync_dir(&shards_dir).map_err(|e| io_err(&shards_dir, "fsync", &e))?;

    // On a full disk the open itself needs room for a WAL file and a checkpoint.
    checkpoint::release_reserve(dir);
    let old_wals = wal::list(&wal_dir).map_err(|e| io_err(&wal_dir, "list", &e))?;
    let wal = wal::Wal::create(&wal_dir, end, opts.wal_file_bytes)
        .map_err(|e| io_err(&wal_dir, "create a WAL file in", &e))?;
    let ckpt = Checkpoint {
        wal_position: end,
        next_gen: rp.next_gen,
        shards: rp.shards.values().map(RecShard::checkpoint).collect(),
    };
    checkpoint::write(dir, &ckpt).map_err(|e| io_err(dir, "write the checkpoint in", &e))?;
    for (start, path) in old_wals {
        if start != end {
            doomed.push(path);
        }
    }
    for p in &doomed {
        if let Err(e) = remove_path(p) {
            tracing::warn!(error = %e, path = %p.display(), "cannot delete a leftover file");
        }
    }

    checkpoint::make_reserve(dir);
    let (writers, table) = build(rp.shards, &mut report);
    report.shards = writers.len();
    report.elapsed = started.elapsed();
    tracing::info!(dir = %dir.display(), ?report, "segment store opened");
    let state = State {
        wal,
        writers,
        next_gen: rp.next_gen,
        dirty_files: HashMap::new(),
        dirty_dirs: HashSet::new(),
        doomed: Vec::new(),
        changed: false,
        written_since_checkpoint: 0,
    };
    let shared = Shared {
        dir: dir.to_path_buf(),
        opts,
        table: RwLock::new(table),
        state: Mutex::new(state),
        poison: Mutex::new(None),
        ckpt_tx,
        ckpt_requested: AtomicBool::new(false),
        stats: super::Stats::default(),
        health: Default::default(),
        #[cfg(test)]
        sync_gate: Mutex::new(()),
        _dir_lock: dir_lock,
    };
    Ok((shared, report))
}

/// Refuses a directory written with another layout version, or holding someone else's data.
/// A new (empty) directory gets a `FORMAT` file.
fn check_format(dir: &Path) -> StorageResult<()> {
    let path = dir.join(FORMAT_FILE);
    let want = format!("{FORMAT_TAG} {}\n", format::SEGMENT_FORMAT_VERSION);
    match std::fs::read_to_string(&path) {
        Ok(s) if s == want => return Ok(()),
        Ok(s) => {
            let found = s.trim();
            return Err(StorageError::Corrupt(format!(
                "{} holds segment store format \"{found}\", but this build of Tributary reads \
                 only \"{}\"; run the Tributary version that wrote it (or migrate the data)",
                dir.display(),
                want.trim()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&path, "read", &e)),
    }
    let foreign = std::fs::read_dir(dir)
        .map_err(|e| io_err(dir, "list", &e))?
        .filter_map(Result::ok)
        .any(|e| !matches!(e.file_name().to_str(), Some("LOCK" | "FORMAT.tmp")));
    if foreign {
        return Err(StorageError::Corrupt(format!(
            "{} is not empty but has no {FORMAT_FILE} file; it was not written by the Tributary \
             segment store",
            dir.display()
        )));
    }
    let tmp = dir.join("FORMAT.tmp");
    std::fs::write(&tmp, want)
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .and_then(|()| sync_dir(dir))
        .map_err(|e| io_err(&path, "write", &e))
}

/// A checkpointed shard: its sealed segments (headers only) and its tail, opened.
fn load_shard(dir: &Path, sc: &ShardCheckpoint) -> StorageResult<RecShard> {
    let sdir = shard_dir(dir, sc.inc);
    let (bases, _) = match list_segments(&sdir) {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && sc.tail.is_none() => {
            std::fs::create_dir_all(&sdir).map_err(|e| io_err(&sdir, "create", &e))?;
            (Vec::new(), Vec::new())
        }
        Err(e) => return Err(io_err(&sdir, "list", &e)),
    };
    let mut sh = RecShard::new(sc.inc, sdir.clone());
    sh.next = sc.next;
    sh.trim = sc.trim.min(sc.next);
    sh.last_arrival = sc.last_arrival;
    let Some(t) = sc.tail else {
        return Ok(sh);
    };
    if bases.binary_search(&t.base).is_err() {
        return Err(corrupt(
            &seg_path(&sdir, t.base),
            "the checkpoint names this segment, but it is missing",
        ));
    }
    for &base in bases.iter().filter(|b| **b < t.base) {
        let path = seg_path(&sdir, base);
        let f = std::fs::File::open(&path).map_err(|e| io_err(&path, "open", &e))?;
        sh.sealed
            .push((base, segment_first_arrival(&f, &path, base)?));
    }
    let files = open_segment(&sdir, t.base)?;
    let path = seg_path(&sdir, t.base);
    let first_arrival = segment_first_arrival(&files.data, &path, t.base)?;
    let len = |f: &std::fs::File| f.metadata().map(|m| m.len());
    let data_len = len(&files.data).map_err(|e| io_err(&path, "stat", &e))?;
    let idx_len = len(&files.idx).map_err(|e| io_err(&path, "stat", &e))?;
    if data_len < t.len || idx_len < idx_entry_pos(t.idx_entries) {
        return Err(corrupt(
            &path,
            "the segment or its index is shorter than the checkpoint says was fsynced",
        ));
    }
    let last_idx_pos = if t.idx_entries == 0 {
        FILE_HEADER_LEN
    } else {
        let mut e = [0u8; format::IDX_ENTRY_LEN as usize];
        files
            .idx
            .read_exact_at(&mut e, idx_entry_pos(t.idx_entries - 1))
            .map_err(|e| io_err(&path, "read the index of", &e))?;
        format::parse_idx_entry(&e).1
    };
    sh.tail = Some(RecTail {
        sim: TailSim {
            base: t.base,
            first_arrival,
            len: t.len,
            idx_entries: t.idx_entries,
            last_idx_pos,
        },
        files,
        dirty: data_len > t.len || idx_len > idx_entry_pos(t.idx_entries),
    });
    sh.drop_trimmed();
    Ok(sh)
}

/// Cuts the tail's files to their recovered lengths and fsyncs them if anything changed.
fn finish_tail(sh: &mut RecShard) -> StorageResult<()> {
    let Some(t) = &mut sh.tail else {
        return Ok(());
    };
    if !t.dirty {
        return Ok(());
    }
    let path = seg_path(&sh.dir, t.sim.base);
    t.files
        .data
        .set_len(t.sim.len)
        .and_then(|()| t.files.idx.set_len(idx_entry_pos(t.sim.idx_entries)))
        .and_then(|()| t.files.data.sync_data())
        .and_then(|()| t.files.idx.sync_data())
        .map_err(|e| io_err(&path, "truncate and fsync", &e))?;
    t.dirty = false;
    Ok(())
}

/// Turns recovered shards into the runtime state and the readers' table.
fn build(
    shards: HashMap<ShardKey, RecShard>,
    report: &mut RecoveryReport,
) -> (
    HashMap<ShardKey, ShardWriter>,
    HashMap<ShardKey, Arc<Shard>>,
) {
    let mut writers = HashMap::new();
    let mut table = HashMap::new();
    for (key, sh) in shards {
        let mut segments: VecDeque<SegmentRef> = sh
            .sealed
            .iter()
            .map(|&(base, first_arrival)| SegmentRef {
                base,
                first_arrival,
                active: None,
            })
            .collect();
        let tail = sh.tail.map(|t| {
            let files = Arc::new(t.files);
            segments.push_back(SegmentRef {
                base: t.sim.base,
                first_arrival: t.sim.first_arrival,
                active: Some((Arc::clone(&files), t.sim.idx_entries)),
            });
            Tail {
                base: t.sim.base,
                first_arrival: t.sim.first_arrival,
                files,
                len: t.sim.len,
                idx_entries: t.sim.idx_entries,
                last_idx_pos: t.sim.last_idx_pos,
            }
        });
        report.segments += segments.len();
        let first = segments.front().map_or(sh.next, |s| s.base).max(sh.trim);
        let shard = Arc::new(Shard::new(
            sh.dir,
            View {
                first: first.min(sh.next),
                next: sh.next,
                last_arrival: sh.last_arrival,
                segments,
            },
        ));
        table.insert(key, Arc::clone(&shard));
        writers.insert(
            key,
            ShardWriter {
                inc: sh.inc,
                shard,
                next: sh.next,
                last_arrival: sh.last_arrival,
                tail,
                closed: false,
            },
        );
    }
    (writers, table)
}

impl RecShard {
    fn checkpoint(&self) -> ShardCheckpoint {
        ShardCheckpoint {
            inc: self.inc,
            next: self.next,
            trim: self.trim,
            last_arrival: self.last_arrival,
            tail: self.tail.as_ref().map(|t| TailCheckpoint {
                base: t.sim.base,
                len: t.sim.len,
                idx_entries: t.sim.idx_entries,
            }),
        }
    }
}
