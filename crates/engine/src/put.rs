//! PutRecord and PutRecords: the write hot path.
//!
//! A request is validated, its payloads encoded and hash keys computed without any lock;
//! then, under the stream's read lock, each record is routed to an open shard and every
//! touched shard's in-flight counter is raised (so a concurrent reshard waits for this
//! append before sealing a parent) and its throughput limit admits a prefix of the
//! shard's records (`throttle`; the rest fail with ProvisionedThroughputExceeded); then
//! ONE `ShardLog::append` carries one `ShardAppend` per touched shard, so a single group
//! commit covers the whole request. No lock is held
//! across that await. Results are mapped back to the request's order. When the append
//! returns, each touched shard wakes its SubscribeToShard readers (a fence and a load per
//! shard when nobody subscribes; no allocation).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use tributary_model::types::*;
use tributary_model::*;
use tributary_storage::{Appended, ShardAppend, ShardKey, StorageError};

use crate::clock::now_ms;
use crate::encryption::stream_keys;
use crate::error::{Failure, Outcome, INTERNAL_MESSAGE};
use crate::messages::{self as msg, canonical_shard_id};
use crate::meta::{Distribution, Mode, Status};
use crate::metrics::record_size;
use crate::payload;
use crate::routing::{parse_hash_key, partition_hash};
use crate::seqnum::{self, OrderingCheck, SeqNum};
use crate::state::StreamEntry;
use crate::{Engine, KeyAccess, KeyUsage, RequestContext};

/// AWS's cap on a whole PutRecords request, partition keys included.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// One record of a request, validated.
#[derive(Clone, Copy)]
struct Outgoing<'a> {
    partition_key: Option<&'a str>,
    hash: Option<u128>,
    data: &'a [u8],
}

/// Where one record landed: its shard, and its sequence number unless the shard refused it
/// (over its throughput limit, see `throttle`).
struct Placed {
    shard: u32,
    sequence_number: Option<String>,
}

/// What [`Engine::write`] did.
struct Written {
    placed: Vec<Placed>,
    /// The records were stored sealed.
    encrypted: bool,
}

impl Written {
    /// AWS leaves EncryptionType out for an unencrypted stream: its API reference's
    /// PutRecord and PutRecords examples, and AWS CLI transcripts of put-record (ShardId and
    /// SequenceNumber only); for an encrypted one it answers KMS (the
    /// StartStreamEncryption reference: "you can verify that encryption is applied by
    /// inspecting the API response from PutRecord or PutRecords").
    fn encryption_type(&self) -> Option<EncryptionType> {
        self.encrypted.then_some(EncryptionType::Kms)
    }
}

impl Engine {
    pub async fn put_record(
        &self,
        ctx: &RequestContext,
        input: PutRecordInput,
    ) -> Result<PutRecordOutput, PutRecordError> {
        let started = Instant::now();
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        let rules = Rules::of(&entry);
        let record = rules.check(
            &entry,
            input.partition_key.as_deref(),
            input.explicit_hash_key.as_deref(),
            &input.data,
        )?;
        if let Some(seq) = input.sequence_number_for_ordering.as_deref() {
            rules.check_ordering_number(&entry, seq)?;
        }
        let dry_run = input.dry_run.unwrap_or(false);
        let written = self
            .write(
                "PutRecord",
                &entry,
                &[record],
                dry_run,
                ctx.key_access.as_ref(),
            )
            .await?;
        let encryption_type = written.encryption_type();
        let placed = written
            .placed
            .into_iter()
            .next()
            .ok_or_else(|| Failure::internal("append", "no result"))?;
        let shard_id = canonical_shard_id(placed.shard);
        let Some(sequence_number) = placed.sequence_number else {
            return Err(Failure::Throughput(msg::write_rate_exceeded(
                &shard_id,
                &entry.name,
                &entry.account,
            ))
            .into());
        };
        let size = record_size(input.data.len(), input.partition_key.as_deref());
        entry.put_record_done(size, started.elapsed());
        Ok(PutRecordOutput {
            shard_id,
            sequence_number,
            encryption_type,
        })
    }

    pub async fn put_records(
        &self,
        ctx: &RequestContext,
        input: PutRecordsInput,
    ) -> Result<PutRecordsOutput, PutRecordsError> {
        let started = Instant::now();
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        let rules = Rules::of(&entry);
        let mut total = 0usize;
        let mut records = Vec::with_capacity(input.records.len());
        for r in &input.records {
            let pk = r.partition_key.as_deref();
            total += r.data.len() + pk.map_or(0, str::len);
            records.push(rules.check(&entry, pk, r.explicit_hash_key.as_deref(), &r.data)?);
        }
        if total > MAX_REQUEST_BYTES {
            return Err(Failure::InvalidArgument(format!(
                "Records size exceeds {} MB limit",
                MAX_REQUEST_BYTES >> 20
            ))
            .into());
        }
        let dry_run = input.dry_run.unwrap_or(false);
        let n = records.len();
        let mut encryption_type = None;
        let results: Vec<PutRecordsResultEntry> = match self
            .write(
                "PutRecords",
                &entry,
                &records,
                dry_run,
                ctx.key_access.as_ref(),
            )
            .await
        {
            Ok(written) => {
                encryption_type = written.encryption_type();
                written
                    .placed
                    .into_iter()
                    .map(|p| match p.sequence_number {
                        Some(seq) => PutRecordsResultEntry {
                            shard_id: Some(canonical_shard_id(p.shard)),
                            sequence_number: Some(seq),
                            error_code: None,
                            error_message: None,
                        },
                        // AWS's failed entries carry only ErrorCode and ErrorMessage (the
                        // PutRecords API reference's example).
                        None => PutRecordsResultEntry {
                            error_code: Some("ProvisionedThroughputExceededException".to_owned()),
                            error_message: Some(msg::write_rate_exceeded(
                                &canonical_shard_id(p.shard),
                                &entry.name,
                                &entry.account,
                            )),
                            ..Default::default()
                        },
                    })
                    .collect()
            }
            // The log failed the whole append: every record failed, none was stored.
            Err(Failure::Internal(_)) => (0..n)
                .map(|_| PutRecordsResultEntry {
                    error_code: Some("InternalFailure".to_owned()),
                    error_message: Some(INTERNAL_MESSAGE.to_owned()),
                    ..Default::default()
                })
                .collect(),
            Err(other) => return Err(other.into()),
        };
        let failed = results.iter().filter(|r| r.error_code.is_some()).count();
        let sizes = input
            .records
            .iter()
            .map(|r| record_size(r.data.len(), r.partition_key.as_deref()));
        let codes = results.iter().map(|r| r.error_code.as_deref());
        entry.put_records_done(codes.zip(sizes), started.elapsed());
        Ok(PutRecordsOutput {
            failed_record_count: Some(failed as i32),
            records: results,
            encryption_type,
        })
    }

    /// Routes and appends `records`, returning where each landed, in order. An append that
    /// finds a shard closed by another node (a split or merge there), or gone (the stream
    /// deleted there), re-reads the stream's record and goes again on the new routes (or
    /// answers ResourceNotFound): nothing of a refused append was written.
    ///
    /// On an encrypted stream the KMS key must be enabled (else the whole request fails
    /// with the KMS exception) and every record is sealed under this node's current data
    /// key (`datakeys`).
    async fn write(
        &self,
        op: &'static str,
        entry: &StreamEntry,
        records: &[Outgoing<'_>],
        dry_run: bool,
        access: Option<&KeyAccess>,
    ) -> Outcome<Written> {
        let encryption = entry.state.read().rec.encryption.clone();
        let cipher = match &encryption {
            Some(enc) => {
                let s = stream_keys(entry);
                Self::authorize_key(access, KeyUsage::GenerateDataKey, &entry.arn, &enc.key_arn)
                    .await?;
                self.check_key(&s, &enc.key_arn).await?;
                // A dry run stores nothing, so it makes no data key.
                match dry_run {
                    false => Some(self.writing_cipher(&s, enc).await?),
                    true => None,
                }
            }
            None => None,
        };
        // Encoding copies the data; do it before taking any lock.
        let payloads: Vec<Bytes> = records
            .iter()
            .map(|r| match &cipher {
                Some(c) => c
                    .seal(r.partition_key, r.data)
                    .map_err(|e| Failure::internal("seal", e)),
                None => Ok(payload::encode(r.partition_key, r.data)),
            })
            .collect::<Outcome<_>>()?;
        let placed = self
            .write_records(op, entry, records, &payloads, dry_run)
            .await?;
        Ok(Written {
            placed,
            encrypted: encryption.is_some(),
        })
    }

    async fn write_records(
        &self,
        op: &'static str,
        entry: &StreamEntry,
        records: &[Outgoing<'_>],
        payloads: &[Bytes],
        dry_run: bool,
    ) -> Outcome<Vec<Placed>> {
        let mut attempt = self
            .write_once(op, entry, records, payloads, dry_run)
            .await?;
        let mut tries = 1;
        while let Some(shard) = attempt.moved {
            // Under throughput limits, the closed shard's bucket was charged for records
            // that were not stored; its children start full. Rare (a reshard on another
            // node mid-request), so not refunded.
            if tries == CLOSED_ATTEMPTS {
                return Err(Failure::internal(
                    "append",
                    format!("shard {shard:?} stayed closed through {tries} attempts"),
                ));
            }
            tries += 1;
            self.follow_reshard(entry, shard).await?;
            // Only the records routed to a moved shard go again: the others are stored, and
            // writing them again would store them twice.
            let todo: Vec<usize> = (0..attempt.placed.len())
                .filter(|&i| attempt.placed[i].is_none())
                .collect();
            let again: Vec<Outgoing> = todo.iter().map(|&i| records[i]).collect();
            let again_payloads: Vec<Bytes> = todo.iter().map(|&i| payloads[i].clone()).collect();
            let next = self
                .write_once(op, entry, &again, &again_payloads, dry_run)
                .await?;
            for (i, p) in todo.into_iter().zip(next.placed) {
                attempt.placed[i] = p;
            }
            attempt.moved = next.moved;
        }
        attempt
            .placed
            .into_iter()
            .collect::<Option<Vec<Placed>>>()
            .ok_or_else(|| Failure::internal("append", "a record was left unplaced"))
    }

    /// After an append found `shard` closed or gone: refreshes the stream's record from the
    /// MetaStore (the node that closed or deleted it committed the new record first). No append guard is held
    /// here, so a reshard draining this node's appends never waits for this.
    async fn follow_reshard(&self, entry: &StreamEntry, shard: ShardKey) -> Outcome<()> {
        let routed_to_closed = || {
            let st = entry.state.read();
            st.routes.routes().iter().any(|r| r.shard == shard.shard)
        };
        {
            let _control = self.control.lock().await;
            if routed_to_closed() {
                self.refresh(&entry.key).await?;
            }
        }
        let current = self.registry.read().get_by_id(entry.id).cloned();
        if !current.is_some_and(|c| std::ptr::eq(&*c, entry)) {
            return Err(Failure::NotFound(msg::stream_not_found(
                &entry.name,
                &entry.account,
            )));
        }
        if routed_to_closed() {
            // The store did not show the close yet (a lagging replica): give it a moment.
            tokio::time::sleep(CLOSED_PAUSE).await;
        }
        Ok(())
    }

    async fn write_once(
        &self,
        op: &'static str,
        entry: &StreamEntry,
        records: &[Outgoing<'_>],
        payloads: &[Bytes],
        dry_run: bool,
    ) -> Outcome<Attempt> {
        let (appends, slots, guards, admitted) = {
            let st = entry.state.read();
            if matches!(st.rec.status, Status::Creating | Status::Deleting) {
                return Err(Failure::NotFound(msg::stream_not_found(
                    &entry.name,
                    &entry.account,
                )));
            }
            let routes = st.routes.routes();
            if routes.is_empty() {
                return Err(Failure::internal(
                    "routing",
                    "an active stream has no open shard",
                ));
            }
            let mut group_of: HashMap<usize, usize> =
                HashMap::with_capacity(records.len().min(routes.len()));
            let mut appends: Vec<ShardAppend> = Vec::new();
            let mut slots: Vec<(usize, usize)> = Vec::with_capacity(records.len());
            // Record sizes per shard group, as AWS counts them (data and partition key).
            let mut sizes: Vec<Vec<usize>> = Vec::new();
            for (r, p) in records.iter().zip(payloads.iter().cloned()) {
                let pos = match r.hash {
                    Some(h) => st.routes.position(h).ok_or_else(|| {
                        Failure::internal("routing", format!("no open shard owns {h}"))
                    })?,
                    None => st.auto_next.fetch_add(1, Ordering::Relaxed) as usize % routes.len(),
                };
                let g = *group_of.entry(pos).or_insert_with(|| {
                    appends.push(ShardAppend {
                        shard: ShardKey {
                            stream: entry.id,
                            shard: routes[pos].shard,
                        },
                        payloads: Vec::new(),
                    });
                    sizes.push(Vec::new());
                    appends.len() - 1
                });
                slots.push((g, appends[g].payloads.len()));
                appends[g].payloads.push(p);
                sizes[g].push(record_size(r.data.len(), r.partition_key) as usize);
            }
            if dry_run {
                return Err(Failure::dry_run());
            }
            let runtimes: Vec<_> = appends
                .iter()
                .map(|a| st.runtimes.get(&a.shard.shard))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    Failure::internal("routing", "routed to a shard without runtime state")
                })?;
            // Throughput: each shard admits a prefix of its records; the rest are refused.
            let on_demand =
                Self::on_demand_capacity(st.rec.mode == Mode::OnDemand, st.rec.warm_mibps);
            let mut admitted = Vec::with_capacity(appends.len());
            for ((a, rt), sizes) in appends.iter_mut().zip(&runtimes).zip(&sizes) {
                let verdict = self.throttle_write(op, entry, on_demand, rt, sizes);
                if verdict.throttled > 0 {
                    entry.write_throttled(rt, verdict.throttled as u64);
                }
                a.payloads.truncate(verdict.admitted);
                admitted.push((
                    verdict.admitted,
                    sizes[..verdict.admitted].iter().sum::<usize>(),
                ));
            }
            let guards: Vec<_> = runtimes.iter().map(|rt| rt.begin_append()).collect();
            (appends, slots, guards, admitted)
        };

        let shards: Vec<u32> = appends.iter().map(|a| a.shard.shard).collect();
        // Shards that refused every record of the request get no append.
        let kept: Vec<usize> = (0..appends.len()).filter(|&g| admitted[g].0 > 0).collect();
        let appends: Vec<ShardAppend> = appends
            .into_iter()
            .filter(|a| !a.payloads.is_empty())
            .collect();
        let appended = match appends.is_empty() {
            true => Ok(Vec::new()),
            false => self.log.append(appends).await,
        };
        // Each group's answer when it was stored; a moved shard stored nothing, so its
        // records may go again (after the stream's record shows the move).
        let mut answer: Vec<Option<Appended>> = vec![None; shards.len()];
        let mut moved = None;
        match appended {
            Ok(each) if each.len() == kept.len() => {
                for (&g, a) in kept.iter().zip(each) {
                    answer[g] = Some(a);
                }
            }
            Err(StorageError::Partial(each)) if each.len() == kept.len() => {
                for (&g, outcome) in kept.iter().zip(each) {
                    match outcome {
                        Ok(a) => answer[g] = Some(a),
                        Err(StorageError::Closed(shard) | StorageError::NoSuchShard(shard)) => {
                            moved = Some(shard)
                        }
                        // Records that may or may not be stored can be neither acknowledged
                        // nor written again: the call fails, as AWS's does, and the caller's
                        // retry decides.
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Ok(_) | Err(StorageError::Partial(_)) => {
                return Err(Failure::internal(
                    "append",
                    "the log answered for a different number of shards",
                ))
            }
            Err(StorageError::Closed(shard) | StorageError::NoSuchShard(shard)) => {
                moved = Some(shard)
            }
            Err(e) => return Err(e.into()),
        }
        for (g, a) in answer.iter().enumerate() {
            if a.is_some() {
                let (n, bytes) = admitted[g];
                guards[g].shard().metrics.incoming(n as u64, bytes as u64);
            }
        }
        // Resharding may now seal these shards. Subscribers learn of the records from the
        // log itself, once they are durable (also when this future is cancelled).
        drop(guards);
        let placed = slots
            .into_iter()
            .map(|(g, i)| {
                // A refused record has no sequence number; a record of a moved shard no place.
                let stored = i < admitted[g].0;
                match answer[g] {
                    Some(a) => Some(Placed {
                        shard: shards[g],
                        sequence_number: stored.then(|| {
                            SeqNum::new(
                                entry.id,
                                shards[g],
                                a.first_offset + i as u64,
                                a.arrival_ms,
                            )
                            .encode()
                        }),
                    }),
                    None if stored => None,
                    None => Some(Placed {
                        shard: shards[g],
                        sequence_number: None,
                    }),
                }
            })
            .collect();
        Ok(Attempt { placed, moved })
    }
}

/// What one attempt of [`Engine::write`] did.
struct Attempt {
    /// Per record: where it landed, or `None` when its shard moved and it was not stored.
    placed: Vec<Option<Placed>>,
    /// A shard that refused its records because it was closed (by a reshard on another node)
    /// or deleted (with its stream, on another node).
    moved: Option<ShardKey>,
}

/// How often one request meets a closed shard before it fails.
const CLOSED_ATTEMPTS: usize = 4;
/// Pause before trying again when the store does not show the close yet.
const CLOSED_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// The stream settings a write is checked against, read once per request.
struct Rules {
    auto: bool,
    max_record_kib: u32,
}

impl Rules {
    fn of(entry: &StreamEntry) -> Self {
        let st = entry.state.read();
        Rules {
            auto: st.rec.distribution == Distribution::Auto,
            max_record_kib: st.rec.max_record_kib,
        }
    }

    /// The request-level checks AWS makes on each record; computes its hash key.
    fn check<'a>(
        &self,
        entry: &StreamEntry,
        partition_key: Option<&'a str>,
        explicit_hash_key: Option<&str>,
        data: &'a Bytes,
    ) -> Outcome<Outgoing<'a>> {
        if partition_key.is_none() && !self.auto {
            return Err(Failure::InvalidArgument(
                "A PartitionKey is required for streams using the USER_PARTITION_KEY record \
                 distribution strategy."
                    .to_owned(),
            ));
        }
        let size = data.len() + partition_key.map_or(0, str::len);
        if size > self.max_record_kib as usize * 1024 {
            return Err(Failure::InvalidArgument(format!(
                "Record size {size} bytes exceeds the maximum record size of {} KiB for stream {} \
                 under account {}.",
                self.max_record_kib, entry.name, entry.account
            )));
        }
        // AUTO ignores both keys: the engine spreads records itself.
        let hash = match (self.auto, explicit_hash_key, partition_key) {
            (true, _, _) => None,
            (false, Some(k), _) => Some(
                parse_hash_key(k)
                    .ok_or_else(|| Failure::InvalidArgument(msg::invalid_explicit_hash_key(k)))?,
            ),
            (false, None, key) => key.map(partition_hash),
        };
        Ok(Outgoing {
            partition_key,
            hash,
            data,
        })
    }

    fn check_ordering_number(&self, entry: &StreamEntry, seq: &str) -> Outcome<()> {
        if self.auto {
            return Err(Failure::InvalidArgument(
                "SequenceNumberForOrdering is not supported for streams using the AUTO record \
                 distribution strategy."
                    .to_owned(),
            ));
        }
        match seqnum::ordering(seq, now_ms()) {
            OrderingCheck::Valid => Ok(()),
            OrderingCheck::Invalid => Err(Failure::InvalidArgument(msg::invalid_ordering_number(
                seq,
                &entry.name,
                &entry.account,
            ))),
            // AWS's answer to a version 3 number, recorded in kinesalite test/putRecord.js
            // ("should return InternalFailure for version 3 in SequenceNumberForOrdering").
            OrderingCheck::Fails => Err(Failure::Internal(INTERNAL_MESSAGE.to_owned())),
        }
    }
}
