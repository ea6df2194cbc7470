//! The request loops of put-record, put-records and get-records: one worker per HTTP/1.1
//! connection or HTTP/2 stream.
//!
//! Pacing: with a rate, each worker owns an evenly spaced share of the schedule (worker `i`
//! starts `i / workers` of an interval late), sleeps until its next slot, and its latency is
//! measured from the slot, not from the actual send. A server that stalls therefore shows its
//! stall in every request that should have gone out meanwhile, instead of silently delaying
//! them (coordinated omission). Without a rate, each worker sends its next request as soon as
//! the previous one is answered and latency is measured from the send.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use tokio::time::Instant;

use crate::sign::{payload_hash, RequestSigner, SignerConfig};
use crate::stats::Stats;
use crate::transport::{target, Endpoint, Sender};
use crate::wire::{self, PreBody};

/// What the workers send.
pub enum Kind {
    PutRecord {
        bodies: Arc<Vec<PreBody>>,
    },
    PutRecords {
        bodies: Arc<Vec<PreBody>>,
        batch: u64,
    },
    GetRecords {
        stream: String,
        shards: Vec<String>,
        limit: u32,
    },
}

/// Everything the workers share.
pub struct Plan {
    pub ep: Arc<Endpoint>,
    pub signer: SignerConfig,
    pub kind: Kind,
    pub start: Instant,
    /// End of the warm-up: requests scheduled before it are not counted.
    pub measure_from: Instant,
    pub end: Instant,
    /// Per-worker interval between requests; `None` for closed loop.
    pub interval: Option<Duration>,
    pub workers: usize,
    pub timeout: Duration,
}

struct Worker {
    plan: Arc<Plan>,
    sender: Sender,
    signer: RequestSigner,
    stats: Stats,
}

/// Runs one worker until the plan's end; returns its counters.
pub async fn run_worker(plan: Arc<Plan>, id: usize, sender: Sender) -> Stats {
    let mut w = Worker {
        signer: RequestSigner::new(plan.signer.clone()),
        plan: plan.clone(),
        sender,
        stats: Stats::default(),
    };
    let put_record = target("PutRecord");
    let put_records = target("PutRecords");
    let get_records = target("GetRecords");
    let mut next = plan.start
        + plan.interval.map_or(Duration::ZERO, |iv| {
            iv.mul_f64(id as f64 / plan.workers as f64)
        });
    let mut body = id.wrapping_mul(7);
    let mut shard = id;
    let mut iterator: Option<String> = None;
    loop {
        let scheduled = match plan.interval {
            Some(iv) => {
                let t = next;
                next += iv;
                if t >= plan.end {
                    break;
                }
                let now = Instant::now();
                if now >= plan.end {
                    // Behind schedule when time is up: the slots left were never sent. They
                    // are reported, not silently dropped.
                    let left = ((plan.end - t).as_secs_f64() / iv.as_secs_f64()).ceil() as u64;
                    *w.stats.errors.entry(BEHIND.to_string()).or_default() += left;
                    break;
                }
                tokio::time::sleep_until(t).await;
                t
            }
            None => {
                let t = Instant::now();
                if t >= plan.end {
                    break;
                }
                t
            }
        };
        let measured = scheduled >= plan.measure_from;
        match &plan.kind {
            Kind::PutRecord { bodies } => {
                body = (body + 1) % bodies.len();
                let b = &bodies[body];
                let r = w.exchange(&put_record, b.bytes.clone(), &b.sha256).await;
                if measured {
                    w.count(scheduled, r, |st, _| st.records += 1);
                }
            }
            Kind::PutRecords { bodies, batch } => {
                body = (body + 1) % bodies.len();
                let b = &bodies[body];
                let r = w.exchange(&put_records, b.bytes.clone(), &b.sha256).await;
                let format = plan.ep.format;
                if measured {
                    w.count(scheduled, r, |st, resp| {
                        let (failed, codes) = wire::put_records_failures(format, resp);
                        st.records += batch.saturating_sub(failed);
                        st.failed_records += failed;
                        for c in codes {
                            st.error(format!("entry {c}"));
                        }
                    });
                }
            }
            Kind::GetRecords {
                stream,
                shards,
                limit,
            } => {
                let Some(it) = w
                    .iterator(&mut iterator, stream, shards, &mut shard, measured)
                    .await
                else {
                    continue;
                };
                let body = wire::get_records_body(plan.ep.format, &it, *limit);
                let hash = payload_hash(&body);
                let r = w.exchange(&get_records, body, &hash).await;
                let format = plan.ep.format;
                let mut found = None;
                if let Ok((status, resp)) = &r {
                    if status.is_success() {
                        found = wire::get_records_result(format, resp);
                    }
                }
                // Keep following the shard while it returns records; otherwise (end of the
                // preloaded data, an error) restart the next shard at TRIM_HORIZON.
                let count = found.as_ref().map(|(n, _)| *n);
                iterator = match found {
                    Some((n, next)) if n > 0 => next,
                    _ => {
                        shard += 1;
                        None
                    }
                };
                if measured {
                    w.count(scheduled, r, |st, _| match count {
                        Some(0) => st.empty_reads += 1,
                        Some(n) => st.records += n,
                        None => st.error("unreadable GetRecords answer"),
                    });
                }
            }
        }
    }
    w.stats
}

/// An answer, or a short label of why there is none.
type Outcome = Result<(StatusCode, Bytes), String>;

/// The label of a request still unanswered when the run ends: dropped uncounted, as wrk
/// drops its in-flight requests, so a run lasts its duration whatever the server does.
const CUT: &str = "cut at the end";

/// The label of open-loop slots that never went out because the worker was still behind
/// schedule when the run ended.
const BEHIND: &str = "not sent: behind schedule at the end";

impl Worker {
    /// One request with the plan's timeout; transport failures come back as a short label
    /// and the connection is replaced.
    async fn exchange(&mut self, target: &HeaderValue, body: Bytes, sha256: &str) -> Outcome {
        let req = self
            .plan
            .ep
            .request(&mut self.signer, target, body, sha256)
            .map_err(|e| format!("request: {e}"))?;
        let send = tokio::time::timeout(self.plan.timeout, self.sender.send(req));
        let result = tokio::select! {
            r = send => r,
            _ = tokio::time::sleep_until(self.plan.end) => return Err(CUT.to_string()),
        };
        let err = match result {
            Ok(Ok(ok)) => return Ok(ok),
            Ok(Err(e)) => format!("transport: {}", short(&e)),
            Err(_) => "timeout".to_string(),
        };
        self.reconnect().await;
        Err(err)
    }

    async fn reconnect(&mut self) {
        loop {
            match self.plan.ep.connect().await {
                Ok(s) => {
                    self.sender = s;
                    return;
                }
                Err(e) => {
                    self.stats.error(format!("connect: {}", short(&e)));
                    if Instant::now() >= self.plan.end {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Records a measured request: latency from `scheduled`, then `ok` on a 2xx body.
    fn count(&mut self, scheduled: Instant, r: Outcome, ok: impl FnOnce(&mut Stats, &[u8])) {
        if matches!(&r, Err(label) if label == CUT) {
            return;
        }
        self.stats.latency(scheduled.elapsed());
        self.stats.requests += 1;
        match r {
            Ok((status, body)) if status.is_success() => {
                self.stats.ok += 1;
                ok(&mut self.stats, &body);
            }
            Ok((status, body)) => {
                let code = wire::error_code(self.plan.ep.format, status.as_u16(), &body);
                self.stats.error(code);
            }
            Err(label) => self.stats.error(label),
        }
    }

    /// The current iterator, or a fresh TRIM_HORIZON one for `shards[shard % len]`.
    async fn iterator(
        &mut self,
        current: &mut Option<String>,
        stream: &str,
        shards: &[String],
        shard: &mut usize,
        measured: bool,
    ) -> Option<String> {
        if let Some(it) = current.take() {
            return Some(it);
        }
        let id = &shards[*shard % shards.len()];
        let body = wire::trim_horizon_body(self.plan.ep.format, stream, id);
        let hash = payload_hash(&body);
        let r = self
            .exchange(&target("GetShardIterator"), body, &hash)
            .await;
        if measured {
            self.stats.aux_requests += 1;
        }
        let failure = match r {
            Ok((status, body)) if status.is_success() => {
                match wire::shard_iterator(self.plan.ep.format, &body) {
                    Some(it) => return Some(it),
                    None => "GetShardIterator without ShardIterator".to_string(),
                }
            }
            Ok((status, body)) => format!(
                "GetShardIterator {}",
                wire::error_code(self.plan.ep.format, status.as_u16(), &body)
            ),
            Err(label) if label == CUT => return None,
            Err(label) => label,
        };
        if measured {
            self.stats.error(failure);
        }
        *shard += 1;
        // Do not spin on a failing call.
        tokio::time::sleep(Duration::from_millis(10)).await;
        None
    }
}

/// The first line of an error's root cause, at most 80 characters: error labels are map keys,
/// and a long or unique text per occurrence would flood the report.
pub fn short(e: &anyhow::Error) -> String {
    let root = e.root_cause().to_string();
    let line = root.lines().next().unwrap_or("");
    line.chars().take(80).collect()
}
