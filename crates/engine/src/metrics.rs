//! Stream and shard metrics, named after the CloudWatch metrics of Kinesis Data Streams
//! (<https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html>), and
//! their Prometheus exposition.
//!
//! Every stream always counts its stream-level ("basic") metrics; every shard always counts
//! its shard-level ("enhanced") ones too, in its [`ShardRuntime`], because counting is one
//! relaxed atomic add per touched shard and request. What EnableEnhancedMonitoring decides
//! is what is EXPORTED: a shard-level family appears for a stream only while the stream's
//! record lists that metric, as CloudWatch only receives the enhanced metrics that are on.
//! The counters live in the stream's entry and its shards' runtimes, so a deleted stream
//! (gone from the registry) disappears from the export with them.
//!
//! Hot path: no lock, no allocation per record. PutRecords sums sizes per touched shard
//! while it routes (one small vector per request) and adds once per shard and once per
//! stream.
//!
//! Units follow Prometheus' conventions: counters end in `_total`, latencies are histograms
//! in seconds (CloudWatch reports milliseconds), ages are gauges in milliseconds under
//! CloudWatch's own name (the latest value observed, where CloudWatch reports the
//! maximum of each period).

use std::sync::Arc;
use std::time::Duration;

use tributary_telemetry::{Counter, Exposition, Gauge, Histogram, Kind};

use crate::messages::canonical_shard_id;
use crate::meta::Metric;
use crate::state::{ShardRuntime, StreamEntry};
use crate::Engine;

/// Stream-level counters (CloudWatch's "basic" metrics, dimension StreamName).
#[derive(Debug, Default)]
pub(crate) struct StreamMetrics {
    pub incoming_bytes: Counter,
    pub incoming_records: Counter,
    pub put_record_bytes: Counter,
    pub put_record_success: Counter,
    pub put_record_latency: Histogram,
    pub put_records_bytes: Counter,
    pub put_records_success: Counter,
    pub put_records_total_records: Counter,
    pub put_records_successful_records: Counter,
    pub put_records_failed_records: Counter,
    pub put_records_throttled_records: Counter,
    pub put_records_latency: Histogram,
    pub get_records_bytes: Counter,
    pub get_records_records: Counter,
    pub get_records_success: Counter,
    pub get_records_latency: Histogram,
    pub get_records_iterator_age_ms: Gauge,
    pub write_throughput_exceeded: Counter,
    pub read_throughput_exceeded: Counter,
    pub subscribe_success: Counter,
    pub subscribe_rate_exceeded: Counter,
    pub event_bytes: Counter,
    pub event_records: Counter,
    pub event_success: Counter,
    pub event_millis_behind_latest: Gauge,
}

/// Shard-level counters (CloudWatch's "enhanced" metrics, dimensions StreamName, ShardId).
#[derive(Debug, Default)]
pub(crate) struct ShardMetrics {
    pub incoming_bytes: Counter,
    pub incoming_records: Counter,
    pub outgoing_bytes: Counter,
    pub outgoing_records: Counter,
    pub iterator_age_ms: Gauge,
    pub write_throughput_exceeded: Counter,
    pub read_throughput_exceeded: Counter,
}

/// The size AWS counts for a record: its data plus its partition key.
pub(crate) fn record_size(data: usize, partition_key: Option<&str>) -> u64 {
    (data + partition_key.map_or(0, str::len)) as u64
}

/// PutRecords result entries' error codes, as `put.rs` writes them and CloudWatch counts
/// them: throttled entries apart from the other failures.
const THROTTLED_CODE: &str = "ProvisionedThroughputExceededException";

impl StreamEntry {
    /// Records rejected by a shard's write limit (PutRecord: its one record; PutRecords:
    /// the throttled entries): WriteProvisionedThroughputExceeded of the stream and shard.
    /// PutRecords.ThrottledRecords is counted from the result entries (`put_records_done`).
    // Called at the throttle points of the throughput limits (issue 14), built beside this.
    pub(crate) fn write_throttled(&self, shard: &ShardRuntime, records: u64) {
        self.metrics.write_throughput_exceeded.add(records);
        shard.metrics.write_throughput_exceeded.add(records);
    }

    /// One GetRecords call refused by a shard's read limit: ReadProvisionedThroughputExceeded
    /// of the stream and shard.
    pub(crate) fn read_throttled(&self, shard: &ShardRuntime) {
        self.metrics.read_throughput_exceeded.inc();
        shard.metrics.read_throughput_exceeded.inc();
    }

    /// A SubscribeToShard refused: the consumer already holds the shard, or calls too fast
    /// (CloudWatch's SubscribeToShard.RateExceeded counts both).
    pub(crate) fn subscribe_rate_exceeded(&self) {
        self.metrics.subscribe_rate_exceeded.inc();
    }

    /// A successful PutRecord of `bytes`.
    pub(crate) fn put_record_done(&self, bytes: u64, latency: Duration) {
        let m = &self.metrics;
        m.incoming_bytes.add(bytes);
        m.incoming_records.inc();
        m.put_record_bytes.add(bytes);
        m.put_record_success.inc();
        m.put_record_latency.observe(latency);
    }

    /// A PutRecords answered entry by entry: `codes` are the entries' error codes (None for
    /// a stored record), `sizes` the records' sizes in the same order.
    pub(crate) fn put_records_done<'a>(
        &self,
        entries: impl Iterator<Item = (Option<&'a str>, u64)>,
        latency: Duration,
    ) {
        let (mut total, mut ok, mut bytes, mut throttled) = (0u64, 0u64, 0u64, 0u64);
        for (code, size) in entries {
            total += 1;
            match code {
                None => {
                    ok += 1;
                    bytes += size;
                }
                Some(THROTTLED_CODE) => throttled += 1,
                Some(_) => {}
            }
        }
        let m = &self.metrics;
        m.incoming_bytes.add(bytes);
        m.incoming_records.add(ok);
        m.put_records_bytes.add(bytes);
        m.put_records_total_records.add(total);
        m.put_records_successful_records.add(ok);
        m.put_records_throttled_records.add(throttled);
        m.put_records_failed_records.add(total - ok - throttled);
        // "The number of PutRecords operations where at least one record succeeded."
        if ok > 0 {
            m.put_records_success.inc();
        }
        m.put_records_latency.observe(latency);
    }

    /// A successful GetRecords of `records` records and `bytes` from `shard`; `age_ms` is
    /// the age of its last record (or how far behind the reader is when it got none).
    pub(crate) fn get_records_done(
        &self,
        shard: &ShardRuntime,
        records: u64,
        bytes: u64,
        age_ms: i64,
        latency: Duration,
    ) {
        let m = &self.metrics;
        m.get_records_bytes.add(bytes);
        m.get_records_records.add(records);
        m.get_records_success.inc();
        m.get_records_latency.observe(latency);
        m.get_records_iterator_age_ms.set(age_ms);
        let s = &shard.metrics;
        s.outgoing_bytes.add(bytes);
        s.outgoing_records.add(records);
        s.iterator_age_ms.set(age_ms);
    }

    /// One SubscribeToShardEvent sent.
    pub(crate) fn event_sent(&self, records: u64, bytes: u64, millis_behind: i64) {
        let m = &self.metrics;
        m.event_bytes.add(bytes);
        m.event_records.add(records);
        m.event_success.inc();
        m.event_millis_behind_latest.set(millis_behind);
    }
}

impl ShardMetrics {
    /// Records stored in this shard by one append.
    pub(crate) fn incoming(&self, records: u64, bytes: u64) {
        self.incoming_records.add(records);
        self.incoming_bytes.add(bytes);
    }
}

/// Byte size of a GetRecords or SubscribeToShard answer's records, as counted for metrics.
pub(crate) fn records_size(records: &[tributary_model::types::Record]) -> u64 {
    records
        .iter()
        .map(|r| record_size(r.data.len(), r.partition_key.as_deref()))
        .sum()
}

/// One stream-level family: name, type, help, and how to read it.
struct StreamFamily {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    read: Read<StreamMetrics>,
}

/// One shard-level family: what enables it, name, type, help, and how to read it.
struct ShardFamily {
    metric: Metric,
    name: &'static str,
    kind: Kind,
    help: &'static str,
    read: Read<ShardMetrics>,
}

enum Read<T> {
    Counter(fn(&T) -> &Counter),
    Gauge(fn(&T) -> &Gauge),
    Histogram(fn(&T) -> &Histogram),
}

macro_rules! stream_families {
    ($( $name:literal, $kind:ident, $field:ident, $help:literal; )*) => {
        const STREAM_FAMILIES: &[StreamFamily] = &[$(StreamFamily {
            name: $name,
            kind: Kind::$kind,
            help: $help,
            read: Read::$kind(|m: &StreamMetrics| &m.$field),
        }),*];
    };
}

// The help text names the CloudWatch metric each family mirrors.
stream_families! {
    "tributary_incoming_bytes_total", Counter, incoming_bytes,
        "IncomingBytes: bytes (data and partition keys) successfully put to the stream by PutRecord and PutRecords.";
    "tributary_incoming_records_total", Counter, incoming_records,
        "IncomingRecords: records successfully put to the stream by PutRecord and PutRecords.";
    "tributary_put_record_bytes_total", Counter, put_record_bytes,
        "PutRecord.Bytes: bytes put to the stream with PutRecord.";
    "tributary_put_record_success_total", Counter, put_record_success,
        "PutRecord.Success: successful PutRecord operations.";
    "tributary_put_record_latency_seconds", Histogram, put_record_latency,
        "PutRecord.Latency: time taken per successful PutRecord operation, in seconds.";
    "tributary_put_records_bytes_total", Counter, put_records_bytes,
        "PutRecords.Bytes: bytes put to the stream with PutRecords.";
    "tributary_put_records_records_total", Counter, put_records_successful_records,
        "PutRecords.Records: successful records of PutRecords operations (CloudWatch keeps it beside SuccessfulRecords).";
    "tributary_put_records_success_total", Counter, put_records_success,
        "PutRecords.Success: PutRecords operations where at least one record succeeded.";
    "tributary_put_records_total_records_total", Counter, put_records_total_records,
        "PutRecords.TotalRecords: records sent in PutRecords operations.";
    "tributary_put_records_successful_records_total", Counter, put_records_successful_records,
        "PutRecords.SuccessfulRecords: records stored by PutRecords operations.";
    "tributary_put_records_failed_records_total", Counter, put_records_failed_records,
        "PutRecords.FailedRecords: records of PutRecords operations rejected by internal failures.";
    "tributary_put_records_throttled_records_total", Counter, put_records_throttled_records,
        "PutRecords.ThrottledRecords: records of PutRecords operations rejected by throttling.";
    "tributary_put_records_latency_seconds", Histogram, put_records_latency,
        "PutRecords.Latency: time taken per PutRecords operation, in seconds.";
    "tributary_get_records_bytes_total", Counter, get_records_bytes,
        "GetRecords.Bytes: bytes (data and partition keys) retrieved by GetRecords.";
    "tributary_get_records_records_total", Counter, get_records_records,
        "GetRecords.Records: records retrieved by GetRecords.";
    "tributary_get_records_success_total", Counter, get_records_success,
        "GetRecords.Success: successful GetRecords operations.";
    "tributary_get_records_latency_seconds", Histogram, get_records_latency,
        "GetRecords.Latency: time taken per successful GetRecords operation, in seconds.";
    "tributary_get_records_iterator_age_milliseconds", Gauge, get_records_iterator_age_ms,
        "GetRecords.IteratorAgeMilliseconds: age of the last record returned by the latest GetRecords call (how far behind it was when it returned none).";
    "tributary_write_provisioned_throughput_exceeded_total", Counter, write_throughput_exceeded,
        "WriteProvisionedThroughputExceeded: records rejected by throttling (PutRecord and PutRecords).";
    "tributary_read_provisioned_throughput_exceeded_total", Counter, read_throughput_exceeded,
        "ReadProvisionedThroughputExceeded: GetRecords calls throttled.";
    "tributary_subscribe_to_shard_success_total", Counter, subscribe_success,
        "SubscribeToShard.Success: subscriptions established.";
    "tributary_subscribe_to_shard_rate_exceeded_total", Counter, subscribe_rate_exceeded,
        "SubscribeToShard.RateExceeded: subscription attempts refused (the consumer already holds the shard, or calls too fast).";
    "tributary_subscribe_to_shard_event_bytes_total", Counter, event_bytes,
        "SubscribeToShardEvent.Bytes: bytes sent in SubscribeToShard events.";
    "tributary_subscribe_to_shard_event_records_total", Counter, event_records,
        "SubscribeToShardEvent.Records: records sent in SubscribeToShard events.";
    "tributary_subscribe_to_shard_event_success_total", Counter, event_success,
        "SubscribeToShardEvent.Success: SubscribeToShard events sent.";
    "tributary_subscribe_to_shard_event_millis_behind_latest", Gauge, event_millis_behind_latest,
        "SubscribeToShardEvent.MillisBehindLatest: MillisBehindLatest of the latest event sent.";
}

macro_rules! shard_families {
    ($( $metric:ident, $name:literal, $kind:ident, $field:ident, $help:literal; )*) => {
        const SHARD_FAMILIES: &[ShardFamily] = &[$(ShardFamily {
            metric: Metric::$metric,
            name: $name,
            kind: Kind::$kind,
            help: $help,
            read: Read::$kind(|m: &ShardMetrics| &m.$field),
        }),*];
    };
}

shard_families! {
    IncomingBytes, "tributary_shard_incoming_bytes_total", Counter, incoming_bytes,
        "IncomingBytes (shard level, with EnableEnhancedMonitoring): bytes successfully put to the shard.";
    IncomingRecords, "tributary_shard_incoming_records_total", Counter, incoming_records,
        "IncomingRecords (shard level, with EnableEnhancedMonitoring): records successfully put to the shard.";
    OutgoingBytes, "tributary_shard_outgoing_bytes_total", Counter, outgoing_bytes,
        "OutgoingBytes (shard level, with EnableEnhancedMonitoring): bytes retrieved from the shard by GetRecords.";
    OutgoingRecords, "tributary_shard_outgoing_records_total", Counter, outgoing_records,
        "OutgoingRecords (shard level, with EnableEnhancedMonitoring): records retrieved from the shard by GetRecords.";
    IteratorAgeMilliseconds, "tributary_shard_iterator_age_milliseconds", Gauge, iterator_age_ms,
        "IteratorAgeMilliseconds (shard level, with EnableEnhancedMonitoring): age of the last record of the latest GetRecords call on the shard.";
    WriteProvisionedThroughputExceeded, "tributary_shard_write_provisioned_throughput_exceeded_total", Counter, write_throughput_exceeded,
        "WriteProvisionedThroughputExceeded (shard level, with EnableEnhancedMonitoring): records rejected by the shard's write limit.";
    ReadProvisionedThroughputExceeded, "tributary_shard_read_provisioned_throughput_exceeded_total", Counter, read_throughput_exceeded,
        "ReadProvisionedThroughputExceeded (shard level, with EnableEnhancedMonitoring): GetRecords calls throttled on the shard.";
}

/// What one stream exports, copied out of its locks.
struct Exported {
    entry: Arc<StreamEntry>,
    /// The shard-level metrics it enabled.
    enabled: Vec<Metric>,
    /// Its shards (canonical id, runtime) when any shard-level metric is enabled.
    shards: Vec<(String, Arc<ShardRuntime>)>,
}

impl Engine {
    /// Writes every stream's metric families: the stream-level ones for every stream, the
    /// shard-level ones for the metrics each stream enabled. Labels: account, region,
    /// stream (and shard). Takes the registry's and each stream's read lock briefly.
    pub fn write_metrics(&self, out: &mut Exposition) {
        let entries: Vec<Arc<StreamEntry>> = self.registry.read().all().cloned().collect();
        write_streams(out, entries);
    }
}

fn write_streams(out: &mut Exposition, mut entries: Vec<Arc<StreamEntry>>) {
    entries.sort_by(|a, b| (&a.account, &a.region, &a.name).cmp(&(&b.account, &b.region, &b.name)));
    let streams: Vec<Exported> = entries.into_iter().map(Exported::of).collect();
    for f in STREAM_FAMILIES {
        out.family(f.name, f.kind, f.help);
        for s in &streams {
            let e = &s.entry;
            let labels = [
                ("account", e.account.as_str()),
                ("region", e.region.as_str()),
                ("stream", e.name.as_str()),
            ];
            write_value(out, &labels, &f.read, &e.metrics);
        }
    }
    for f in SHARD_FAMILIES {
        out.family(f.name, f.kind, f.help);
        for s in streams.iter().filter(|s| s.enabled.contains(&f.metric)) {
            let e = &s.entry;
            for (shard_id, rt) in &s.shards {
                let labels = [
                    ("account", e.account.as_str()),
                    ("region", e.region.as_str()),
                    ("stream", e.name.as_str()),
                    ("shard", shard_id.as_str()),
                ];
                write_value(out, &labels, &f.read, &rt.metrics);
            }
        }
    }
}

impl Exported {
    fn of(entry: Arc<StreamEntry>) -> Self {
        let (enabled, shards) = {
            let st = entry.state.read();
            let enabled = st.rec.metrics.clone();
            let shards = if enabled.is_empty() {
                Vec::new()
            } else {
                st.rec
                    .shards
                    .iter()
                    .filter_map(|s| {
                        let rt = st.runtimes.get(&s.index)?;
                        Some((canonical_shard_id(s.index), Arc::clone(rt)))
                    })
                    .collect()
            };
            (enabled, shards)
        };
        Exported {
            entry,
            enabled,
            shards,
        }
    }
}

fn write_value<T>(out: &mut Exposition, labels: &[(&str, &str)], read: &Read<T>, m: &T) {
    match read {
        Read::Counter(c) => out.sample(labels, c(m).get()),
        Read::Gauge(g) => out.sample(labels, g(m).get()),
        Read::Histogram(h) => out.histogram(labels, &h(m).snapshot()),
    }
}

/// The names of every family the engine can export.
#[cfg(test)]
fn family_names() -> impl Iterator<Item = &'static str> {
    STREAM_FAMILIES
        .iter()
        .map(|f| f.name)
        .chain(SHARD_FAMILIES.iter().map(|f| f.name))
}

impl Engine {
    /// Whether the record log can make appends durable now (`ShardLog::health`): the
    /// reason when it cannot. For readiness probes.
    pub async fn storage_writable(&self) -> Result<(), String> {
        self.log.health().await.map_err(|e| e.to_string())
    }

    /// The record log's own series (`ShardLog::write_metrics`).
    pub async fn write_storage_metrics(&self, out: &mut Exposition) {
        self.log.write_metrics(out).await;
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
