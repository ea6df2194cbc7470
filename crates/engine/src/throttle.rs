//! Throughput limits: the per-shard rates AWS enforces on the data plane, as token buckets
//! held in each shard's runtime state, and the throttle points every request goes through.
//!
//! Every throttle decision of one kind is made in exactly one function, so a counter
//! (metrics) can be added there:
//!
//! | kind | throttle point | answer when over |
//! | --- | --- | --- |
//! | write | [`Engine::throttle_write`] (PutRecord, PutRecords; per shard, in request order) | ProvisionedThroughputExceededException (whole PutRecord, or the PutRecords entries) |
//! | read | [`Engine::throttle_read`], then [`Engine::charge_read`] with the bytes returned | ProvisionedThroughputExceededException |
//! | iterator | [`Engine::throttle_iterator`] | ProvisionedThroughputExceededException |
//! | subscribe | [`Engine::throttle_subscribe`] (calls), [`SubscriptionPace`] (bytes: delays, never fails) | LimitExceededException |
//! | control plane (`aws` only) | [`Engine::throttle_control`] (called by the server for every operation) | LimitExceededException |
//!
//! AWS's numbers (Kinesis Data Streams "Quotas and limits" page; the PutRecords, GetRecords,
//! GetShardIterator and SubscribeToShard API references; the "Handle large records" page):
//! a shard takes 1 MiB/s and 1,000 records/s of writes, gives 2 MiB/s and 5 GetRecords
//! calls/s of reads and 5 GetShardIterator calls/s; an enhanced fan-out consumer gets
//! 2 MiB/s per shard and may call SubscribeToShard once per second per shard.
//!
//! The buckets are GCRA (a "theoretical arrival time" per bucket, in nanoseconds of a
//! monotonic clock): one number per bucket, no timer, no allocation. The five buckets of a
//! shard share one uncontended mutex, taken once per request and shard (never across an
//! `.await`), so a PutRecords of 500 records costs one lock per touched shard.
//!
//! Shapes of the buckets (reconstructed from AWS's prose; AWS publishes no algorithm):
//! - writes: a bucket of one second (1 MiB, 1,000 records). A record larger than 1 MiB
//!   (streams with a raised maximum record size take up to 10 MiB) is admitted only when the
//!   bytes bucket is full, and then overdraws it: "your stream accommodates large records by
//!   temporarily bursting beyond its sustained write throughput, then returning to its
//!   baseline rate over time" (so after a 10 MiB record the shard refuses writes for ~9 s).
//! - reads: 5 calls per second; a call is admitted while the bytes bucket is not empty, and
//!   what it returned is charged afterwards. An answer larger than what the bucket held
//!   (GetRecords returns up to 10 MiB) empties it and is paid in full from then on: "if a
//!   call returns 10 MB, subsequent calls made within the next 5 seconds throw
//!   ProvisionedThroughputExceededException" (GetRecords API reference).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Failure, Outcome};
use crate::messages::{self as msg, canonical_shard_id};
use crate::state::{ShardRuntime, StreamEntry};
use crate::{Engine, RequestContext};

const MIB: u64 = 1 << 20;
const SECOND_NS: u64 = 1_000_000_000;

/// The throughput limits the engine enforces (`EngineConfig::limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThroughputLimits {
    /// No throughput limit: a shard takes what the machine can. The default: Tributary runs
    /// on hardware you own, where a shard's capacity is the machine's; AWS's per-shard
    /// quotas exist to share multi-tenant capacity and to bill it.
    #[default]
    Off,
    /// AWS's per-shard rates ([`ShardRates::AWS`]), on-demand streams' stream-wide write
    /// capacity, and AWS's control-plane quotas that Tributary does not apply otherwise
    /// (streams CREATING at once, UpdateShardCount calls per rolling 24 hours).
    Aws,
    /// Custom per-shard rates; no extra control-plane quota.
    Custom(ShardRates),
}

impl ThroughputLimits {
    /// The per-shard rates in force, `None` when limits are off.
    pub fn rates(&self) -> Option<ShardRates> {
        match self {
            ThroughputLimits::Off => None,
            ThroughputLimits::Aws => Some(ShardRates::AWS),
            ThroughputLimits::Custom(r) => Some(*r),
        }
    }

    /// Whether AWS's own quotas (and not custom numbers) apply.
    pub fn is_aws(&self) -> bool {
        matches!(self, ThroughputLimits::Aws)
    }
}

/// Per-shard rates, each per second. 0 lifts that one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardRates {
    pub write_bytes_per_sec: u64,
    pub write_records_per_sec: u64,
    pub read_bytes_per_sec: u64,
    /// GetRecords calls.
    pub read_calls_per_sec: u64,
    /// GetShardIterator calls.
    pub iterator_calls_per_sec: u64,
    /// Bytes sent to one enhanced fan-out consumer (SubscribeToShard), paced.
    pub subscribe_bytes_per_sec: u64,
}

impl ShardRates {
    /// AWS's per-shard rates (sources in the module documentation).
    pub const AWS: ShardRates = ShardRates {
        write_bytes_per_sec: MIB,
        write_records_per_sec: 1_000,
        read_bytes_per_sec: 2 * MIB,
        read_calls_per_sec: 5,
        iterator_calls_per_sec: 5,
        subscribe_bytes_per_sec: 2 * MIB,
    };
}

/// AWS's write capacity of a new on-demand stream, stream-wide: "new data streams created
/// with the on-demand capacity mode have 4 MB/s of write and 8 MB/s of read throughput"
/// (Quotas and limits page), and 4,000 records/s. Warm throughput
/// (UpdateStreamWarmThroughput, CreateStream's WarmThroughputMiBps) raises it.
const ON_DEMAND_MIBPS: u64 = 4;
/// Records per second per MiB/s of capacity (1,000 records/s per 1 MiB/s shard).
const RECORDS_PER_MIB: u64 = 1_000;
/// SubscribeToShard calls per consumer and shard: "You can make one call to
/// SubscribeToShard per second per registered consumer per shard" (API reference).
const SUBSCRIBE_CALLS_PER_SEC: u64 = 1;

/// The clock the buckets run on: monotonic real time, or a manual clock for tests.
#[derive(Clone, Default)]
pub struct LimitClock(Option<Arc<ManualClock>>);

struct ManualClock {
    ns: AtomicU64,
    moved: tokio::sync::Notify,
}

impl std::fmt::Debug for LimitClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("LimitClock(real)"),
            Some(m) => write!(f, "LimitClock(manual {} ns)", m.ns.load(Ordering::Relaxed)),
        }
    }
}

impl LimitClock {
    /// A clock that moves only when [`LimitClock::advance`] is called (tests).
    pub fn manual() -> Self {
        LimitClock(Some(Arc::new(ManualClock {
            // Not 0: buckets start full only when the clock is past their first cost.
            ns: AtomicU64::new(1_000 * SECOND_NS),
            moved: tokio::sync::Notify::new(),
        })))
    }

    /// Moves a manual clock forward (and wakes what sleeps on it); no effect on real time.
    pub fn advance(&self, by: Duration) {
        if let Some(m) = &self.0 {
            m.ns.fetch_add(by.as_nanos() as u64, Ordering::AcqRel);
            m.moved.notify_waiters();
        }
    }

    pub(crate) fn now_ns(&self) -> u64 {
        match &self.0 {
            Some(m) => m.ns.load(Ordering::Acquire),
            None => {
                static START: OnceLock<Instant> = OnceLock::new();
                // Offset so a fresh bucket (arrival time 0) is full from the first call.
                START.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1_000 * SECOND_NS
            }
        }
    }

    /// Waits until this clock reads `until_ns`.
    pub(crate) async fn sleep_until(&self, until_ns: u64) {
        match &self.0 {
            None => {
                let now = self.now_ns();
                tokio::time::sleep(Duration::from_nanos(until_ns.saturating_sub(now))).await
            }
            Some(m) => loop {
                let moved = m.moved.notified();
                tokio::pin!(moved);
                moved.as_mut().enable();
                if m.ns.load(Ordering::Acquire) >= until_ns {
                    return;
                }
                moved.await;
            },
        }
    }
}

/// Nanoseconds that `units` take at `per_sec`; 0 when the rate is unlimited (0).
fn cost(units: u64, per_sec: u64) -> u64 {
    match per_sec {
        0 => 0,
        r => u64::try_from(u128::from(units) * u128::from(SECOND_NS) / u128::from(r))
            .unwrap_or(u64::MAX),
    }
}

/// One GCRA bucket: the time at which it is full again ("theoretical arrival time").
/// Its capacity is one second of its rate.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Bucket {
    tat: u64,
}

impl Bucket {
    /// Takes `cost` if the bucket holds it. A cost above the capacity (a large record) is
    /// taken only from a full bucket, which it overdraws.
    fn take(&mut self, now: u64, cost: u64) -> bool {
        let start = self.tat.max(now);
        if start.saturating_add(cost) > now.saturating_add(SECOND_NS.max(cost)) {
            return false;
        }
        self.tat = start.saturating_add(cost);
        true
    }

    /// Whether anything is left.
    fn has_room(&self, now: u64) -> bool {
        self.tat < now.saturating_add(SECOND_NS)
    }

    /// Charges `cost` after the fact. More than the bucket held empties it, and the whole
    /// cost is then paid from `now` on.
    fn charge(&mut self, now: u64, cost: u64) {
        let start = self.tat.max(now);
        let limit = now.saturating_add(SECOND_NS);
        self.tat = match start.saturating_add(cost) {
            end if end > limit => limit.saturating_add(cost),
            end => end,
        };
    }
}

/// The buckets of one shard (in `ShardRuntime`), or of one on-demand stream's writes.
#[derive(Debug, Default)]
pub(crate) struct ShardBuckets {
    write_bytes: Bucket,
    write_records: Bucket,
    read_bytes: Bucket,
    read_calls: Bucket,
    iterator_calls: Bucket,
}

impl ShardBuckets {
    /// Admits the longest prefix of `sizes` (record sizes, in request order) both write
    /// buckets hold; returns its length.
    fn admit_writes(&mut self, now: u64, rates: &ShardRates, sizes: &[usize]) -> usize {
        let mut admitted = 0;
        for &size in sizes {
            let (mut bytes, mut records) = (self.write_bytes, self.write_records);
            if !bytes.take(now, cost(size as u64, rates.write_bytes_per_sec))
                || !records.take(now, cost(1, rates.write_records_per_sec))
            {
                break;
            }
            (self.write_bytes, self.write_records) = (bytes, records);
            admitted += 1;
        }
        admitted
    }
}

/// What [`Engine::throttle_write`] decided for one shard of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteVerdict {
    pub shard: u32,
    /// Records admitted: the first `admitted` of the shard's records in request order.
    pub admitted: usize,
    /// Records refused (the rest of the shard's records).
    pub throttled: usize,
}

impl Engine {
    /// The write throttle point: how many of the records a request routes to one shard
    /// (their sizes, partition key included, in request order) the shard admits. Records
    /// after the first refused one are refused too, so a client retrying the refused ones
    /// keeps each partition key's order. A fault (`faults`) refuses from the entry it hits.
    /// On-demand streams under `aws` draw from one stream-wide bucket instead.
    pub(crate) fn throttle_write(
        &self,
        op: &'static str,
        entry: &StreamEntry,
        on_demand_mibps: Option<u64>,
        runtime: &ShardRuntime,
        sizes: &[usize],
    ) -> WriteVerdict {
        let shard = runtime.key.shard;
        let faulted = (0..sizes.len())
            .find(|_| self.faults.throttle(op))
            .unwrap_or(sizes.len());
        let admitted = match self.config.limits.rates() {
            None => faulted,
            Some(rates) => {
                let now = self.config.limits_clock.now_ns();
                let sizes = &sizes[..faulted];
                match on_demand_mibps.filter(|_| self.config.limits.is_aws()) {
                    Some(mibps) => {
                        let stream_rates = ShardRates {
                            write_bytes_per_sec: mibps * MIB,
                            write_records_per_sec: mibps * RECORDS_PER_MIB,
                            ..rates
                        };
                        entry.writes.lock().admit_writes(now, &stream_rates, sizes)
                    }
                    None => runtime.buckets.lock().admit_writes(now, &rates, sizes),
                }
            }
        };
        WriteVerdict {
            shard,
            admitted,
            throttled: sizes.len() - admitted,
        }
    }

    /// An on-demand stream's write capacity in MiB/s under `aws`: AWS's default, or its warm
    /// throughput when higher. `None` for provisioned streams.
    pub(crate) fn on_demand_capacity(on_demand: bool, warm_mibps: Option<u32>) -> Option<u64> {
        on_demand.then(|| ON_DEMAND_MIBPS.max(warm_mibps.map_or(0, u64::from)))
    }

    /// The read throttle point (GetRecords): one call, refused over the shard's call rate or
    /// while earlier answers' bytes are not paid off. Charge what it returned with
    /// [`Engine::charge_read`].
    pub(crate) fn throttle_read(&self, entry: &StreamEntry, runtime: &ShardRuntime) -> Outcome<()> {
        let refused = self.faults.throttle("GetRecords")
            || self.config.limits.rates().is_some_and(|rates| {
                let now = self.config.limits_clock.now_ns();
                let mut b = runtime.buckets.lock();
                let ok = b.read_bytes.has_room(now)
                    && b.read_calls.take(now, cost(1, rates.read_calls_per_sec));
                !ok
            });
        match refused {
            // Recorded: a GetRecords refusal relayed by the Java SDK in a public test suite
            // ("Rate exceeded for Shard - 120849107321/kds-dk-logs-staging/shardId-000000000003").
            true => Err(Failure::Throughput(msg::read_rate_exceeded(
                &canonical_shard_id(runtime.key.shard),
                &entry.name,
                &entry.account,
            ))),
            false => Ok(()),
        }
    }

    /// Charges the bytes a GetRecords call returned to its shard's read bucket.
    pub(crate) fn charge_read(&self, runtime: &ShardRuntime, bytes: usize) {
        if let Some(rates) = self.config.limits.rates() {
            let now = self.config.limits_clock.now_ns();
            runtime
                .buckets
                .lock()
                .read_bytes
                .charge(now, cost(bytes as u64, rates.read_bytes_per_sec));
        }
    }

    /// The iterator throttle point (GetShardIterator): one call against the shard's rate.
    pub(crate) fn throttle_iterator(
        &self,
        entry: &StreamEntry,
        runtime: &ShardRuntime,
    ) -> Outcome<()> {
        let refused = self.faults.throttle("GetShardIterator")
            || self.config.limits.rates().is_some_and(|rates| {
                let now = self.config.limits_clock.now_ns();
                let c = cost(1, rates.iterator_calls_per_sec);
                !runtime.buckets.lock().iterator_calls.take(now, c)
            });
        match refused {
            true => Err(Failure::Throughput(msg::write_rate_exceeded(
                &canonical_shard_id(runtime.key.shard),
                &entry.name,
                &entry.account,
            ))),
            false => Ok(()),
        }
    }

    /// The subscribe throttle point (SubscribeToShard calls): one call per second per
    /// consumer and shard, else LimitExceededException.
    pub(crate) fn throttle_subscribe(
        &self,
        entry: &StreamEntry,
        consumer_arn: &str,
        shard: u32,
    ) -> Outcome<()> {
        let refused = self.faults.throttle("SubscribeToShard")
            || (self.config.limits.rates().is_some()
                && !self.subscribe_calls.take(
                    self.config.limits_clock.now_ns(),
                    (consumer_arn.to_owned(), shard),
                ));
        match refused {
            true => Err(Failure::LimitExceeded(msg::subscribe_rate_exceeded(
                consumer_arn,
                &canonical_shard_id(shard),
                &entry.name,
                &entry.account,
            ))),
            false => Ok(()),
        }
    }

    /// The pacing of one new subscription's events.
    pub(crate) fn subscription_pace(&self) -> SubscriptionPace {
        SubscriptionPace {
            clock: self.config.limits_clock.clone(),
            bytes_per_sec: self
                .config
                .limits
                .rates()
                .map_or(0, |r| r.subscribe_bytes_per_sec),
            bucket: Bucket::default(),
        }
    }
}

/// AWS's per-account call rates of control-plane operations (per second), from each
/// operation's API reference ("This operation has a limit of N transactions per second per
/// account"). Enforced under `limits = aws` only. ListShards' limit is per stream (1,000/s)
/// and is not enforced.
fn control_rate(operation: &str) -> Option<u64> {
    Some(match operation {
        "DescribeLimits" => 1,
        "CreateStream"
        | "DeleteStream"
        | "ListStreams"
        | "MergeShards"
        | "SplitShard"
        | "AddTagsToStream"
        | "RemoveTagsFromStream"
        | "ListTagsForStream"
        | "RegisterStreamConsumer"
        | "DeregisterStreamConsumer"
        | "ListStreamConsumers" => 5,
        "DescribeStream" => 10,
        "DescribeStreamSummary" | "DescribeStreamConsumer" => 20,
        _ => return None,
    })
}

/// Control-plane calls per (account, region, operation).
#[derive(Debug, Default)]
pub(crate) struct ControlCalls {
    buckets: Mutex<HashMap<(String, String, &'static str), Bucket>>,
}

impl Engine {
    /// The control-plane throttle point: under `limits = aws`, one call of `operation` (its
    /// name in `X-Amz-Target`) against AWS's per-account rate. `Some(message)` when refused:
    /// the server answers LimitExceededException with it (message reconstructed: AWS's
    /// wording for these refusals was not found recorded).
    pub fn throttle_control(
        &self,
        ctx: &RequestContext,
        operation: &'static str,
    ) -> Option<String> {
        if !self.config.limits.is_aws() {
            return None;
        }
        let rate = control_rate(operation)?;
        let now = self.config.limits_clock.now_ns();
        let key = (ctx.account_id.clone(), ctx.region.clone(), operation);
        let admitted = self
            .control_calls
            .buckets
            .lock()
            .entry(key)
            .or_default()
            .take(now, cost(1, rate));
        (!admitted).then(|| {
            format!(
                "Rate exceeded for operation {operation} under account {} in {}: at most {rate} \
                 calls per second.",
                ctx.account_id, ctx.region
            )
        })
    }
}

/// The last SubscribeToShard call of each (consumer ARN, shard).
#[derive(Debug, Default)]
pub(crate) struct SubscribeCalls {
    buckets: Mutex<HashMap<(String, u32), Bucket>>,
}

/// Above this many remembered (consumer, shard) pairs, full buckets are forgotten.
const SUBSCRIBE_CALLS_KEPT: usize = 10_000;

impl SubscribeCalls {
    fn take(&self, now: u64, key: (String, u32)) -> bool {
        let mut buckets = self.buckets.lock();
        if buckets.len() > SUBSCRIBE_CALLS_KEPT {
            buckets.retain(|_, b| b.tat > now);
        }
        buckets
            .entry(key)
            .or_default()
            .take(now, cost(1, SUBSCRIBE_CALLS_PER_SEC))
    }
}

/// Paces one subscription's events to the consumer's per-shard rate: an event is sent
/// only once what the earlier ones carried is paid off. Events are delayed, never refused
/// (enhanced fan-out has no throttling error on the event stream).
#[derive(Debug)]
pub(crate) struct SubscriptionPace {
    clock: LimitClock,
    bytes_per_sec: u64,
    bucket: Bucket,
}

impl SubscriptionPace {
    /// Waits until the next event may go.
    pub(crate) async fn ready(&self) {
        if self.bytes_per_sec == 0 {
            return;
        }
        let now = self.clock.now_ns();
        if !self.bucket.has_room(now) {
            self.clock
                .sleep_until(self.bucket.tat.saturating_sub(SECOND_NS) + 1)
                .await;
        }
    }

    /// Charges the bytes of an event that is being sent.
    pub(crate) fn sent(&mut self, bytes: usize) {
        if self.bytes_per_sec > 0 {
            let now = self.clock.now_ns();
            self.bucket
                .charge(now, cost(bytes as u64, self.bytes_per_sec));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_000 * SECOND_NS;

    #[test]
    fn a_write_bucket_holds_one_second_and_refills() {
        let mut b = ShardBuckets::default();
        let r = ShardRates::AWS;
        assert_eq!(b.admit_writes(T0, &r, &[1; 1500]), 1_000);
        assert_eq!(b.admit_writes(T0, &r, &[1]), 0);
        // A tenth of a second later, a tenth of the records.
        assert_eq!(b.admit_writes(T0 + SECOND_NS / 10, &r, &[1; 500]), 100);
    }

    #[test]
    fn a_large_record_needs_a_full_bucket_and_overdraws_it() {
        let mut b = ShardBuckets::default();
        let r = ShardRates::AWS;
        assert_eq!(b.admit_writes(T0, &r, &[10]), 1);
        // Not full: the 10 MiB record waits.
        assert_eq!(b.admit_writes(T0, &r, &[10 << 20]), 0);
        let full = T0 + SECOND_NS;
        assert_eq!(b.admit_writes(full, &r, &[10 << 20]), 1);
        // Nine seconds later the overdraft is paid, but nothing is left.
        assert_eq!(b.admit_writes(full + 9 * SECOND_NS, &r, &[1 << 19]), 0);
        assert_eq!(b.admit_writes(full + 10 * SECOND_NS, &r, &[1 << 19]), 1);
    }

    #[test]
    fn a_large_read_blocks_the_shard_for_its_cost() {
        let mut b = Bucket::default();
        assert!(b.has_room(T0));
        // 10 MiB at 2 MiB/s: five seconds.
        b.charge(T0, cost(10 << 20, 2 << 20));
        assert!(!b.has_room(T0 + 4_999_000_000));
        assert!(b.has_room(T0 + 5 * SECOND_NS + 1));
    }

    #[test]
    fn small_reads_share_the_second() {
        let mut b = Bucket::default();
        for _ in 0..4 {
            assert!(b.has_room(T0));
            b.charge(T0, cost(400 << 10, 2 << 20));
        }
        assert!(b.has_room(T0));
    }

    #[test]
    fn zero_lifts_a_rate() {
        let mut b = ShardBuckets::default();
        let r = ShardRates {
            write_records_per_sec: 0,
            ..ShardRates::AWS
        };
        assert_eq!(b.admit_writes(T0, &r, &[1; 5_000]), 5_000);
    }
}
