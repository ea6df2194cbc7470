//! The checkpoint: where every live shard stood at one WAL position, with every segment byte up
//! to there fsynced. Recovery starts from it and replays the WAL after it; the WAL files and
//! trimmed segments before it can go.
//!
//! ```text
//! <dir>/checkpoint (replaced atomically: written to checkpoint.tmp, fsynced, renamed, dir fsynced)
//!   +----------------+-------------+------------+---------+------+
//!   | magic "TRIBCKPT" | version u32 | crc32c u32 | len u64 | body |   crc32c over len and body
//!   +----------------+-------------+------------+---------+------+
//!   body: wal_position u64 | next_gen u64 | count u32 | shard × count
//!   shard (69 bytes): stream u64 | shard u32 | gen u64 | next u64 | trim u64
//!                     | last_arrival i64 (i64::MIN: none) | has_tail u8
//!                     | tail_base u64 | tail_len u64 | tail_idx_entries u64
//! ```
//! `tail_*` describe the shard's last segment (the one being appended to) at that position:
//! its base offset, its length in bytes and its number of index entries; earlier segments are
//! complete and found by listing the shard's directory.

use super::files::{corrupt, io_err, remove_path, sync_dir};
use super::format::{le_u32, le_u64, Incarnation, SEGMENT_FORMAT_VERSION};
use super::{wal, Shared, State, Stats};
use crate::StorageResult;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use tokio::sync::oneshot;

const FILE: &str = "checkpoint";
const TMP: &str = "checkpoint.tmp";
const MAGIC: [u8; 8] = *b"TRIBCKPT";
const SHARD_LEN: usize = 69;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Checkpoint {
    pub wal_position: u64,
    pub next_gen: u64,
    pub shards: Vec<ShardCheckpoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ShardCheckpoint {
    pub inc: Incarnation,
    pub next: u64,
    pub trim: u64,
    pub last_arrival: Option<i64>,
    pub tail: Option<TailCheckpoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TailCheckpoint {
    pub base: u64,
    pub len: u64,
    pub idx_entries: u64,
}

impl Checkpoint {
    fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(20 + SHARD_LEN * self.shards.len());
        body.extend_from_slice(&self.wal_position.to_le_bytes());
        body.extend_from_slice(&self.next_gen.to_le_bytes());
        body.extend_from_slice(&(self.shards.len() as u32).to_le_bytes());
        for s in &self.shards {
            body.extend_from_slice(&s.inc.stream.to_le_bytes());
            body.extend_from_slice(&s.inc.shard.to_le_bytes());
            body.extend_from_slice(&s.inc.gen.to_le_bytes());
            body.extend_from_slice(&s.next.to_le_bytes());
            body.extend_from_slice(&s.trim.to_le_bytes());
            body.extend_from_slice(&s.last_arrival.unwrap_or(i64::MIN).to_le_bytes());
            let t = s.tail.unwrap_or(TailCheckpoint {
                base: 0,
                len: 0,
                idx_entries: 0,
            });
            body.push(u8::from(s.tail.is_some()));
            for v in [t.base, t.len, t.idx_entries] {
                body.extend_from_slice(&v.to_le_bytes());
            }
        }
        let len = (body.len() as u64).to_le_bytes();
        let crc = crc32c::crc32c_append(crc32c::crc32c(&len), &body);
        let mut out = Vec::with_capacity(24 + body.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&len);
        out.extend_from_slice(&body);
        out
    }

    fn decode(b: &[u8]) -> Result<Self, String> {
        if b.len() < 24 || b[..8] != MAGIC {
            return Err("not a checkpoint file".into());
        }
        let version = le_u32(&b[8..12]);
        if version != SEGMENT_FORMAT_VERSION {
            return Err(format!("format version {version}"));
        }
        let body = &b[24..];
        if le_u64(&b[16..24]) != body.len() as u64 {
            return Err("length mismatch".into());
        }
        if crc32c::crc32c_append(crc32c::crc32c(&b[16..24]), body) != le_u32(&b[12..16]) {
            return Err("checksum mismatch".into());
        }
        if body.len() < 20 {
            return Err("body too short".into());
        }
        let count = le_u32(&body[16..20]) as usize;
        if body.len() != 20 + count * SHARD_LEN {
            return Err("shard count does not match the length".into());
        }
        let shards = body[20..]
            .chunks_exact(SHARD_LEN)
            .map(|s| ShardCheckpoint {
                inc: Incarnation {
                    stream: le_u64(&s[..8]),
                    shard: le_u32(&s[8..12]),
                    gen: le_u64(&s[12..20]),
                },
                next: le_u64(&s[20..28]),
                trim: le_u64(&s[28..36]),
                last_arrival: Some(le_u64(&s[36..44]) as i64).filter(|a| *a != i64::MIN),
                tail: (s[44] == 1).then(|| TailCheckpoint {
                    base: le_u64(&s[45..53]),
                    len: le_u64(&s[53..61]),
                    idx_entries: le_u64(&s[61..69]),
                }),
            })
            .collect();
        Ok(Self {
            wal_position: le_u64(&body[..8]),
            next_gen: le_u64(&body[8..16]),
            shards,
        })
    }
}

/// The checkpoint of `dir`, if one was ever written.
pub(super) fn read(dir: &Path) -> StorageResult<Option<Checkpoint>> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(b) => Checkpoint::decode(&b)
            .map(Some)
            .map_err(|what| corrupt(&path, &what)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&path, "read", &e)),
    }
}

/// Replaces the checkpoint atomically and durably.
pub(super) fn write(dir: &Path, c: &Checkpoint) -> io::Result<()> {
    let tmp = dir.join(TMP);
    std::fs::write(&tmp, c.encode())?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(FILE))?;
    sync_dir(dir)
}

pub(super) enum Msg {
    /// Checkpoint now; answer if asked.
    Run(Option<oneshot::Sender<StorageResult<()>>>),
    /// A last checkpoint, then exit.
    Stop,
}

/// The checkpoint thread: on request (the writer asks once enough WAL accumulated), on a timer
/// while anything changes, and once more at shutdown.
pub(super) fn run(shared: &Shared, rx: &Receiver<Msg>) {
    loop {
        let msg = rx.recv_timeout(shared.opts.checkpoint_interval);
        let mut replies = Vec::new();
        let stop = match msg {
            Ok(Msg::Run(reply)) => {
                replies.extend(reply);
                // Requests that piled up during the last checkpoint are served by this one.
                let mut stop = false;
                while let Ok(m) = rx.try_recv() {
                    match m {
                        Msg::Run(r) => replies.extend(r),
                        Msg::Stop => stop = true,
                    }
                }
                stop
            }
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => false,
        };
        let due = !replies.is_empty() || shared.state.lock().changed || stop;
        if due && (shared.poisoned().is_ok() || !replies.is_empty()) {
            let result = run_once(shared);
            if let Err(e) = &result {
                if replies.is_empty() {
                    tracing::error!(error = %e, "checkpoint failed");
                }
            }
            for r in replies {
                let _ = r.send(result.clone());
            }
        }
        if stop {
            return;
        }
    }
}

/// Takes one checkpoint: snapshot under the state lock, fsync outside it, then write the file
/// and delete what it made unnecessary.
pub(super) fn run_once(shared: &Shared) -> StorageResult<()> {
    shared.poisoned()?;
    shared.ckpt_requested.store(false, Ordering::Release);
    let (ckpt, dirty, dirs, doomed) = {
        let mut st = shared.state.lock();
        st.changed = false;
        st.written_since_checkpoint = 0;
        (
            snapshot(&st),
            std::mem::take(&mut st.dirty_files),
            std::mem::take(&mut st.dirty_dirs),
            std::mem::take(&mut st.doomed),
        )
    };
    for files in dirty.values() {
        if let Err(e) = files.data.sync_data().and_then(|()| files.idx.sync_data()) {
            return Err(shared.poison("fsync of a segment file", &e));
        }
    }
    for d in &dirs {
        match sync_dir(d) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(shared.poison("fsync of a shard directory", &e));
            }
            _ => {}
        }
    }
    // The segments are durable now; only the checkpoint file is missing. Failing to write it
    // (a full disk) loses nothing: the previous checkpoint and the WAL still describe
    // everything. So no poison: keep the pending work for the next attempt. On a full disk the
    // reserve file makes room for this small file.
    let written = write(&shared.dir, &ckpt).or_else(|e| {
        if release_reserve(&shared.dir) {
            write(&shared.dir, &ckpt)
        } else {
            Err(e)
        }
    });
    if let Err(e) = written {
        let mut st = shared.state.lock();
        st.changed = true;
        st.doomed.extend(doomed);
        st.dirty_dirs.extend(dirs);
        return Err(crate::StorageError::Unavailable(format!(
            "cannot write the checkpoint: {e}"
        )));
    }
    Stats::add(&shared.stats.checkpoints, 1);
    if let Err(e) = wal::delete_before(&shared.dir.join("wal"), ckpt.wal_position) {
        tracing::warn!(error = %e, "cannot delete old WAL files");
    }
    let mut deleted = 0;
    for p in &doomed {
        match remove_path(p) {
            Ok(()) => deleted += u64::from(p.extension().is_some_and(|x| x == "seg")),
            Err(e) => tracing::warn!(error = %e, path = %p.display(), "cannot delete"),
        }
    }
    Stats::add(&shared.stats.segments_deleted, deleted);
    make_reserve(&shared.dir);
    Ok(())
}

/// Size of `<dir>/RESERVE`, a file of zeros kept so that a full disk still has room for a
/// checkpoint (which is what lets retention delete segments and give space back).
const RESERVE_BYTES: usize = 1 << 20;
const RESERVE: &str = "RESERVE";

/// Deletes the reserve file; returns whether there was one.
pub(super) fn release_reserve(dir: &Path) -> bool {
    let released = std::fs::remove_file(dir.join(RESERVE)).is_ok();
    if released {
        tracing::warn!(dir = %dir.display(), "disk full: released the reserve file");
    }
    released
}

/// Creates the reserve file if it is missing (best effort: on a full disk it waits).
pub(super) fn make_reserve(dir: &Path) {
    let path = dir.join(RESERVE);
    if path.exists() {
        return;
    }
    let tmp = dir.join("RESERVE.tmp");
    let made = std::fs::write(&tmp, vec![0u8; RESERVE_BYTES])
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, &path));
    if made.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

fn snapshot(st: &State) -> Checkpoint {
    let mut shards: Vec<ShardCheckpoint> = st
        .writers
        .values()
        .map(|w| ShardCheckpoint {
            inc: w.inc,
            next: w.next,
            trim: w.shard.view.read().first,
            last_arrival: w.last_arrival,
            tail: w.tail.as_ref().map(|t| TailCheckpoint {
                base: t.base,
                len: t.len,
                idx_entries: t.idx_entries,
            }),
        })
        .collect();
    shards.sort_by_key(|s| (s.inc.stream, s.inc.shard));
    Checkpoint {
        wal_position: st.wal.position(),
        next_gen: st.next_gen,
        shards,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_reject_damage() {
        let c = Checkpoint {
            wal_position: 123,
            next_gen: 7,
            shards: vec![
                ShardCheckpoint {
                    inc: Incarnation {
                        stream: 1,
                        shard: 2,
                        gen: 3,
                    },
                    next: 10,
                    trim: 4,
                    last_arrival: Some(-5),
                    tail: Some(TailCheckpoint {
                        base: 8,
                        len: 100,
                        idx_entries: 2,
                    }),
                },
                ShardCheckpoint {
                    inc: Incarnation {
                        stream: 9,
                        shard: 0,
                        gen: 4,
                    },
                    next: 0,
                    trim: 0,
                    last_arrival: None,
                    tail: None,
                },
            ],
        };
        let b = c.encode();
        assert_eq!(Checkpoint::decode(&b).unwrap(), c);
        for i in 0..b.len() {
            let mut d = b.clone();
            d[i] ^= 0x10;
            assert!(
                Checkpoint::decode(&d).is_err(),
                "flip at byte {i} undetected"
            );
        }
        assert!(Checkpoint::decode(&b[..b.len() - 1]).is_err());
    }
}
