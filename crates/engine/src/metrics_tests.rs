use super::*;
use crate::meta::{Distribution, Mode, ShardRecord, Status, StreamRecord, FORMAT_VERSION};

fn entry(metrics: Vec<Metric>) -> Arc<StreamEntry> {
    let shard = |index: u32, start: u128, end: u128| ShardRecord {
        index,
        start,
        end,
        parent: None,
        adjacent: None,
        created_ms: 0,
        closed_ms: None,
    };
    StreamEntry::new(
        StreamRecord {
            v: FORMAT_VERSION,
            id: 7,
            account: "000000000000".into(),
            region: "us-east-1".into(),
            name: "orders".into(),
            created_ms: 0,
            status: Status::Active,
            mode: Mode::Provisioned,
            retention_hours: 24,
            max_record_kib: 1024,
            distribution: Distribution::UserPartitionKey,
            warm_mibps: None,
            metrics,
            tags: vec![],
            next_shard: 2,
            shards: vec![
                shard(0, 0, u128::MAX / 2),
                shard(1, u128::MAX / 2 + 1, u128::MAX),
            ],
            pending: None,
            encryption: None,
        },
        1,
    )
}

fn runtime(e: &StreamEntry, shard: u32) -> Arc<ShardRuntime> {
    Arc::clone(&e.state.read().runtimes[&shard])
}

fn export(e: &Arc<StreamEntry>) -> String {
    let mut out = Exposition::new();
    write_streams(&mut out, vec![Arc::clone(e)]);
    out.finish()
}

const STREAM: &str = "account=\"000000000000\",region=\"us-east-1\",stream=\"orders\"";

#[test]
fn every_shard_level_metric_has_one_family_and_names_are_unique() {
    for m in Metric::ALL {
        let n = SHARD_FAMILIES.iter().filter(|f| f.metric == m).count();
        assert_eq!(n, 1, "{m:?}");
    }
    let mut names: Vec<_> = family_names().collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n);
}

#[test]
fn put_records_counts_stored_throttled_and_failed_entries_apart() {
    let e = entry(vec![]);
    let entries = [
        (None, 10),
        (Some("ProvisionedThroughputExceededException"), 20),
        (Some("InternalFailure"), 40),
        (None, 5),
    ];
    e.put_records_done(entries.into_iter(), Duration::from_millis(3));
    let m = &e.metrics;
    assert_eq!(m.put_records_total_records.get(), 4);
    assert_eq!(m.put_records_successful_records.get(), 2);
    assert_eq!(m.put_records_throttled_records.get(), 1);
    assert_eq!(m.put_records_failed_records.get(), 1);
    assert_eq!(m.put_records_bytes.get(), 15);
    assert_eq!((m.incoming_records.get(), m.incoming_bytes.get()), (2, 15));
    assert_eq!(m.put_records_success.get(), 1);
    assert_eq!(m.put_records_latency.count(), 1);
    // Every entry refused: not a success.
    e.put_records_done([(Some("InternalFailure"), 1)].into_iter(), Duration::ZERO);
    assert_eq!(m.put_records_success.get(), 1);
}

#[test]
fn throttle_recorders_count_on_the_stream_and_the_shard() {
    let e = entry(vec![]);
    let (s0, s1) = (runtime(&e, 0), runtime(&e, 1));
    e.write_throttled(&s0, 3);
    e.write_throttled(&s1, 1);
    e.read_throttled(&s1);
    e.subscribe_rate_exceeded();
    e.subscribe_rate_exceeded();
    let m = &e.metrics;
    assert_eq!(m.write_throughput_exceeded.get(), 4);
    assert_eq!(s0.metrics.write_throughput_exceeded.get(), 3);
    assert_eq!(s1.metrics.write_throughput_exceeded.get(), 1);
    assert_eq!(m.read_throughput_exceeded.get(), 1);
    assert_eq!(s0.metrics.read_throughput_exceeded.get(), 0);
    assert_eq!(s1.metrics.read_throughput_exceeded.get(), 1);
    assert_eq!(m.subscribe_rate_exceeded.get(), 2);
    let text = export(&e);
    assert!(text.contains(&format!(
        "tributary_write_provisioned_throughput_exceeded_total{{{STREAM}}} 4\n"
    )));
    assert!(text.contains(&format!(
        "tributary_subscribe_to_shard_rate_exceeded_total{{{STREAM}}} 2\n"
    )));
}

#[test]
fn shard_level_families_follow_the_enabled_metrics() {
    let off = entry(vec![]);
    runtime(&off, 0).metrics.incoming(2, 20);
    let text = export(&off);
    assert!(!text.contains("tributary_shard_"), "{text}");
    assert!(text.contains(&format!("tributary_incoming_records_total{{{STREAM}}} 0\n")));

    let on = entry(vec![
        Metric::IncomingRecords,
        Metric::IteratorAgeMilliseconds,
    ]);
    runtime(&on, 1).metrics.incoming(2, 20);
    let text = export(&on);
    assert!(text.contains(&format!(
        "tributary_shard_incoming_records_total{{{STREAM},shard=\"shardId-000000000001\"}} 2\n"
    )));
    assert!(text.contains(&format!(
        "tributary_shard_incoming_records_total{{{STREAM},shard=\"shardId-000000000000\"}} 0\n"
    )));
    assert!(text.contains("# TYPE tributary_shard_iterator_age_milliseconds gauge\n"));
    assert!(
        !text.contains("tributary_shard_incoming_bytes_total"),
        "{text}"
    );
    assert!(!text.contains("tributary_shard_outgoing"), "{text}");
}

#[test]
fn reads_and_events_count_bytes_records_and_ages() {
    let e = entry(vec![Metric::OutgoingBytes]);
    let s0 = runtime(&e, 0);
    e.get_records_done(&s0, 3, 300, 1500, Duration::from_millis(1));
    e.get_records_done(&s0, 0, 0, 0, Duration::from_millis(1));
    e.event_sent(2, 50, 70);
    let m = &e.metrics;
    assert_eq!(m.get_records_records.get(), 3);
    assert_eq!(m.get_records_bytes.get(), 300);
    assert_eq!(m.get_records_success.get(), 2);
    assert_eq!(m.get_records_iterator_age_ms.get(), 0, "the latest value");
    assert_eq!(s0.metrics.outgoing_bytes.get(), 300);
    assert_eq!(
        (
            m.event_records.get(),
            m.event_bytes.get(),
            m.event_success.get()
        ),
        (2, 50, 1)
    );
    assert_eq!(m.event_millis_behind_latest.get(), 70);
    e.put_record_done(9, Duration::from_millis(2));
    assert_eq!((m.incoming_records.get(), m.incoming_bytes.get()), (1, 9));
    assert_eq!(m.put_record_success.get(), 1);
}
