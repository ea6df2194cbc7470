//! GetShardIterator and GetRecords, and the two pieces SubscribeToShard shares with them:
//! resolving a starting position, and one bounded read of a shard.
//!
//! Reads run on the blocking pool (the ShardLog API is synchronous). Records older than
//! the stream's retention are skipped even if the background trim has not removed them
//! yet. At the end of a sealed (closed and drained) shard, GetRecords returns a null
//! NextShardIterator and the ChildShards to continue with.
//!
//! Records stored sealed (an encrypted stream's, see `datakeys`) are opened here, for
//! GetRecords and SubscribeToShard alike, once their KMS keys are found usable.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use tributary_model::types::*;
use tributary_model::*;
use tributary_storage::{ReadFrom, StorageError};

use crate::clock::{aws_date, now_ms};
use crate::datakeys::StreamKeys;
use crate::encryption::stream_keys;
use crate::error::{Failure, Outcome};
use crate::iterator::{Position, ShardIterator};
use crate::messages::{self as msg, canonical_shard_id};
use crate::meta::{ShardRecord, Status, StreamRecord};
use crate::payload::{Cipher, Layout};
use crate::resolve::target;
use crate::seqnum::{self, SeqNum};
use crate::shards::parse_shard_id;
use crate::state::{ShardRuntime, StreamEntry};
use crate::{payload, Engine, KeyAccess, KeyUsage, RequestContext};

/// AWS's GetRecords limits; a SubscribeToShard event carries no more than one GetRecords.
pub(crate) const DEFAULT_LIMIT: usize = 10_000;
const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

impl Engine {
    pub async fn get_shard_iterator(
        &self,
        ctx: &RequestContext,
        input: GetShardIteratorInput,
    ) -> Result<GetShardIteratorOutput, GetShardIteratorError> {
        let t = target(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        let index = parse_shard_id(&input.shard_id).ok_or_else(|| {
            Failure::NotFound(msg::could_not_find_shard(
                &input.shard_id,
                t.name,
                t.account,
            ))
        })?;
        let shard_id = canonical_shard_id(index);
        let missing = || Failure::NotFound(msg::shard_does_not_exist(&shard_id, t.name, t.account));
        let entry = self.find(ctx, &t).ok_or_else(missing)?;
        let (status, shard, runtime) = {
            let st = entry.state.read();
            (
                st.rec.status,
                st.shard(index).cloned(),
                st.runtimes.get(&index).cloned(),
            )
        };
        if matches!(status, Status::Creating | Status::Deleting) {
            return Err(missing().into());
        }
        let shard = shard.ok_or_else(missing)?;
        let runtime = runtime.ok_or_else(missing)?;

        let position = self
            .start_position(
                &entry,
                index,
                &shard_id,
                "GetShardIterator",
                input.shard_iterator_type,
                input.starting_sequence_number.as_deref(),
                input.timestamp,
            )
            .await?;
        if input.dry_run.unwrap_or(false) {
            return Err(Failure::dry_run().into());
        }
        self.throttle_iterator(&entry, &runtime)?;
        let iterator = ShardIterator {
            issued_ms: now_ms(),
            stream_id: entry.id,
            shard: shard.index,
            position,
            account: entry.account.clone(),
            stream_name: entry.name.clone(),
        };
        Ok(GetShardIteratorOutput {
            shard_iterator: Some(iterator.seal(&self.sealer)),
        })
    }

    /// The ARN of the stream a shard iterator reads, for authorizing GetRecords (whose input
    /// need not name a stream). None for iterators this engine did not issue, or whose stream
    /// is gone.
    pub fn shard_iterator_stream_arn(&self, shard_iterator: &str) -> Option<String> {
        let it = ShardIterator::open(&self.sealer, shard_iterator)?;
        let entry = self.registry.read().get_by_id(it.stream_id).cloned()?;
        Some(entry.arn.clone())
    }

    pub async fn get_records(
        &self,
        ctx: &RequestContext,
        input: GetRecordsInput,
    ) -> Result<GetRecordsOutput, GetRecordsError> {
        let started = std::time::Instant::now();
        let it = ShardIterator::open(&self.sealer, &input.shard_iterator)
            .ok_or_else(|| Failure::InvalidArgument(msg::INVALID_SHARD_ITERATOR.to_owned()))?;
        let now = now_ms();
        let ttl = self.config.iterator_ttl.as_millis() as i64;
        if it.expired(now, ttl) {
            return Err(Failure::ExpiredIterator(msg::iterator_expired(
                &aws_date(it.issued_ms),
                &aws_date(now),
                ttl,
            ))
            .into());
        }
        let shard_id = canonical_shard_id(it.shard);
        let missing = || {
            Failure::NotFound(msg::shard_does_not_exist(
                &shard_id,
                &it.stream_name,
                &it.account,
            ))
        };
        let entry = self
            .registry
            .read()
            .get_by_id(it.stream_id)
            .cloned()
            .ok_or_else(missing)?;
        if let Some(arn) = input.stream_arn.as_deref() {
            if arn != entry.arn {
                return Err(Failure::InvalidArgument(format!(
                    "StreamARN {arn} does not match the stream of the shard iterator."
                ))
                .into());
            }
        }
        // Another account reads only by naming the stream's ARN, which the authorization
        // layer has checked against the stream's resource policy.
        if entry.account != ctx.account_id && input.stream_arn.is_none() {
            return Err(missing().into());
        }
        let (view, runtime) = {
            let st = entry.state.read();
            if matches!(st.rec.status, Status::Creating | Status::Deleting) {
                return Err(missing().into());
            }
            let shard = st.shard(it.shard).cloned().ok_or_else(missing)?;
            let rt = st.runtimes.get(&it.shard).cloned().ok_or_else(missing)?;
            (ReadView::new(&st.rec, shard), rt)
        };
        if input.dry_run.unwrap_or(false) {
            return Err(Failure::dry_run().into());
        }
        if let Err(throttled) = self.throttle_read(&entry, &runtime) {
            entry.read_throttled(&runtime);
            return Err(throttled.into());
        }
        let limit = input
            .limit
            .map_or(DEFAULT_LIMIT, |l| (l.max(1) as usize).min(DEFAULT_LIMIT));
        let batch = self
            .read_batch(
                &view,
                &Reader {
                    keys: stream_keys(&entry),
                    access: ctx.key_access.as_ref(),
                },
                &runtime,
                it.position,
                limit,
                now,
            )
            .await?
            .ok_or_else(missing)?;
        let age_ms = match batch.records.last() {
            Some(r) => r
                .approximate_arrival_timestamp
                .map_or(0, |t| (now - t.millis()).max(0)),
            None => batch.millis_behind_latest,
        };
        let bytes = crate::metrics::records_size(&batch.records);
        self.charge_read(&runtime, bytes as usize);
        let n = batch.records.len() as u64;
        entry.get_records_done(&runtime, n, bytes, age_ms, started.elapsed());
        let next_shard_iterator = match batch.children {
            Some(_) => None,
            None => Some(
                ShardIterator {
                    issued_ms: now,
                    position: batch.next,
                    ..it
                }
                .seal(&self.sealer),
            ),
        };
        Ok(GetRecordsOutput {
            records: batch.records,
            next_shard_iterator,
            millis_behind_latest: Some(batch.millis_behind_latest),
            child_shards: batch.children,
        })
    }

    /// Where a reader of shard `index` starts, from an iterator type and its arguments,
    /// with AWS's checks and messages (`op` names the operation in them). Shared by
    /// GetShardIterator and SubscribeToShard.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn start_position(
        &self,
        entry: &StreamEntry,
        index: u32,
        shard_id: &str,
        op: &str,
        kind: ShardIteratorType,
        seq: Option<&str>,
        timestamp: Option<Timestamp>,
    ) -> Outcome<Position> {
        let missing = || {
            Failure::NotFound(msg::shard_does_not_exist(
                shard_id,
                &entry.name,
                &entry.account,
            ))
        };
        Ok(match kind {
            ShardIteratorType::TrimHorizon | ShardIteratorType::Latest if seq.is_some() => {
                return Err(Failure::InvalidArgument(msg::iterator_type_mismatch(
                    kind.as_str(),
                    true,
                )));
            }
            ShardIteratorType::TrimHorizon => Position::Offset(0),
            ShardIteratorType::Latest => {
                let key = entry
                    .state
                    .read()
                    .runtimes
                    .get(&index)
                    .map(|rt| rt.key)
                    .ok_or_else(missing)?;
                match self.log.bounds(key).await {
                    Ok(b) => Position::Offset(b.next),
                    Err(StorageError::NoSuchShard(_)) => return Err(missing()),
                    Err(e) => return Err(e.into()),
                }
            }
            ShardIteratorType::AtSequenceNumber | ShardIteratorType::AfterSequenceNumber => {
                let seq = seq.ok_or_else(|| {
                    Failure::InvalidArgument(msg::iterator_type_mismatch(kind.as_str(), false))
                })?;
                // AWS's checks in AWS's order: well-formed, then the shard it encodes, then
                // the stream (recorded in kinesalite test/getShardIterator.js).
                let claim = seqnum::starting(seq).ok_or_else(|| {
                    Failure::InvalidArgument(msg::invalid_starting_seq(
                        op,
                        seq,
                        shard_id,
                        &entry.name,
                        &entry.account,
                    ))
                })?;
                if claim.shard != index {
                    let encoded = canonical_shard_id(claim.shard);
                    return Err(Failure::InvalidArgument(msg::starting_seq_other_shard(
                        &encoded, shard_id,
                    )));
                }
                let n = match claim.ours {
                    Some(n) if n.stream == entry.id => n,
                    _ => {
                        return Err(Failure::InvalidArgument(msg::starting_seq_other_stream(
                            op,
                            claim.shown.as_deref().unwrap_or(seq),
                            shard_id,
                            &entry.name,
                            &entry.account,
                        )));
                    }
                };
                match kind {
                    ShardIteratorType::AtSequenceNumber => Position::Offset(n.offset),
                    // A number at time 0 is a position just before its offset (a shard's
                    // StartingSequenceNumber, a ContinuationSequenceNumber), not a record's:
                    // the first record after it is the one at that offset.
                    _ if n.is_position() => Position::Offset(n.offset),
                    _ => Position::Offset(n.offset.saturating_add(1)),
                }
            }
            ShardIteratorType::AtTimestamp => {
                let ts = timestamp
                    .ok_or_else(|| {
                        Failure::InvalidArgument(msg::AT_TIMESTAMP_WITHOUT_TIMESTAMP.to_owned())
                    })?
                    .millis();
                let now = now_ms();
                if ts > now {
                    return Err(Failure::InvalidArgument(msg::timestamp_in_future(ts, now)));
                }
                Position::Time(ts)
            }
        })
    }

    /// One read of a shard from `from`: at most `limit` records and GetRecords' byte limit,
    /// without those past retention. `None` when the shard's log is gone. The end of a
    /// sealed shard is reported (with its children) only once the read reaches it.
    pub(crate) async fn read_batch(
        &self,
        view: &ReadView,
        reader: &Reader<'_>,
        runtime: &ShardRuntime,
        from: Position,
        limit: usize,
        now: i64,
    ) -> Outcome<Option<Batch>> {
        let (s, access) = (&reader.keys, reader.access);
        // Read the seal before the log: if it was sealed, the bounds we read are final.
        let sealed = runtime.is_sealed() && !view.shard.is_open();
        let read_from = match from {
            Position::Offset(o) => ReadFrom::Offset(o),
            Position::Time(t) => ReadFrom::Time(t),
        };
        let key = runtime.key;
        let read = async {
            let records = self
                .log
                .read(key, read_from, limit, MAX_RESPONSE_BYTES)
                .await?;
            let bounds = self.log.bounds(key).await?;
            Ok::<_, StorageError>((records, bounds))
        };
        let (stored, bounds) = match read.await {
            Ok(r) => r,
            Err(StorageError::NoSuchShard(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };

        let horizon = now - i64::from(view.retention_hours) * 3_600_000;
        let kept: Vec<_> = stored.iter().filter(|r| r.arrival_ms >= horizon).collect();
        let corrupt = |e| Failure::internal("stored record", e);
        // Sealed records: recover their data keys, then make sure each KMS key is usable,
        // before anything is returned (the whole batch fails with the KMS exception).
        let mut ciphers: HashMap<u64, Cipher> = HashMap::new();
        let mut key_arns: Vec<String> = Vec::new();
        for r in &kept {
            if let Layout::Sealed { data_key } = payload::layout(&r.payload).map_err(corrupt)? {
                if let Entry::Vacant(slot) = ciphers.entry(data_key) {
                    let (cipher, arn) = self.reading_cipher(s, data_key).await?;
                    slot.insert(cipher);
                    if !key_arns.contains(&arn) {
                        key_arns.push(arn);
                    }
                }
            }
        }
        for arn in &key_arns {
            Self::authorize_key(access, KeyUsage::Decrypt, s.stream_arn, arn).await?;
            self.check_key(s, arn).await?;
        }
        let mut records = Vec::with_capacity(kept.len());
        let mut last_arrival = None;
        for r in kept {
            let (decoded, encryption_type) = match payload::layout(&r.payload).map_err(corrupt)? {
                Layout::Plain => (payload::decode(&r.payload).map_err(corrupt)?, None),
                Layout::Sealed { data_key } => {
                    let cipher = ciphers
                        .get(&data_key)
                        .ok_or_else(|| Failure::internal("stored record", "no cipher"))?;
                    let decoded = cipher.open(&r.payload).map_err(corrupt)?;
                    (decoded, Some(EncryptionType::Kms))
                }
            };
            last_arrival = Some(r.arrival_ms);
            records.push(Record {
                sequence_number: SeqNum::new(key.stream, key.shard, r.offset, r.arrival_ms)
                    .encode(),
                approximate_arrival_timestamp: Some(Timestamp(r.arrival_ms)),
                data: decoded.data,
                partition_key: decoded.partition_key,
                encryption_type,
            });
        }
        let next = match (stored.last(), from) {
            (Some(last), _) => Position::Offset(last.offset + 1),
            (None, p) => p,
        };
        // A sealed shard's end is what its close reported, even if the bounds (answered by
        // a replica) lag behind it.
        let end = match (sealed, runtime.end()) {
            (true, Some(end)) => bounds.next.max(end),
            _ => bounds.next,
        };
        let caught_up = match next {
            Position::Offset(o) => o >= end,
            Position::Time(_) => stored.is_empty(),
        };
        let millis_behind_latest = match (caught_up, last_arrival) {
            (true, _) | (false, None) => 0,
            (false, Some(t)) => (now - t).max(0),
        };
        Ok(Some(Batch {
            records,
            next,
            caught_up,
            millis_behind_latest,
            children: (sealed && caught_up).then(|| view.children()),
        }))
    }
}

/// What [`Engine::read_batch`] found.
pub(crate) struct Batch {
    pub records: Vec<Record>,
    /// Where the next read starts.
    pub next: Position,
    /// The read reached the log's end.
    pub caught_up: bool,
    pub millis_behind_latest: i64,
    /// At the end of a sealed shard: the shards to continue with.
    pub children: Option<Vec<ChildShard>>,
}

/// Who reads: the stream identity its sealed records are opened with, and the caller's use
/// of KMS keys.
pub(crate) struct Reader<'a> {
    pub keys: StreamKeys<'a>,
    pub access: Option<&'a KeyAccess>,
}

/// What a read needs from the stream record, copied out of the lock.
pub(crate) struct ReadView {
    retention_hours: u32,
    pub shard: ShardRecord,
    children: Vec<ShardRecord>,
}

impl ReadView {
    pub(crate) fn new(rec: &StreamRecord, shard: ShardRecord) -> Self {
        let children = if shard.is_open() {
            Vec::new()
        } else {
            rec.shards
                .iter()
                .filter(|s| s.parent == Some(shard.index) || s.adjacent == Some(shard.index))
                .cloned()
                .collect()
        };
        ReadView {
            retention_hours: rec.retention_hours,
            shard,
            children,
        }
    }

    fn children(&self) -> Vec<ChildShard> {
        self.children
            .iter()
            .map(|c| ChildShard {
                shard_id: canonical_shard_id(c.index),
                parent_shards: [c.parent, c.adjacent]
                    .into_iter()
                    .flatten()
                    .map(canonical_shard_id)
                    .collect(),
                hash_key_range: HashKeyRange {
                    starting_hash_key: c.start.to_string(),
                    ending_hash_key: c.end.to_string(),
                },
            })
            .collect()
    }
}
