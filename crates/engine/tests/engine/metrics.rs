//! Metrics through the engine's API: what PutRecord(s), GetRecords and SubscribeToShard
//! count, what EnableEnhancedMonitoring exports, what disappears with a deleted stream, and
//! the storage health behind readiness.

use tributary_model::types::*;
use tributary_telemetry::Exposition;

use crate::{Harness, ACCOUNT, REGION};

fn scrape(h: &Harness) -> String {
    let mut out = Exposition::new();
    h.engine.write_metrics(&mut out);
    out.finish()
}

/// The value of one series, by its exact name and labels.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.rsplit_once(' ').filter(|(s, _)| *s == series))
        .map(|(_, v)| v.parse().expect("a number"))
}

fn stream_series(name: &str, stream: &str) -> String {
    format!("{name}{{account=\"{ACCOUNT}\",region=\"{REGION}\",stream=\"{stream}\"}}")
}

fn shard_series(name: &str, stream: &str, shard: u32) -> String {
    format!(
        "{name}{{account=\"{ACCOUNT}\",region=\"{REGION}\",stream=\"{stream}\",shard=\"shardId-{shard:012}\"}}"
    )
}

#[tokio::test]
async fn puts_and_reads_move_the_stream_counters_by_exactly_the_traffic() {
    let h = Harness::new().await;
    h.create("m", 2).await;
    let stream = |n: &str| value(&scrape(&h), &stream_series(n, "m"));
    assert_eq!(stream("tributary_incoming_records_total"), Some(0.0));

    h.put("m", "k", "abc").await; // 1 + 3 bytes
    let entries = (0..4)
        .map(|i| PutRecordsRequestEntry {
            data: format!("d{i}").into_bytes().into(),
            partition_key: Some(format!("pk{i}")),
            ..Default::default()
        })
        .collect();
    let out = h
        .engine
        .put_records(
            &h.ctx,
            PutRecordsInput {
                stream_name: Some("m".into()),
                records: entries,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.failed_record_count, Some(0));
    let text = scrape(&h);
    let v = |n: &str| value(&text, &stream_series(n, "m"));
    // Four records of 2 data bytes and a 3-byte key, one of 3 + 1.
    assert_eq!(v("tributary_incoming_records_total"), Some(5.0));
    assert_eq!(v("tributary_incoming_bytes_total"), Some(24.0));
    assert_eq!(v("tributary_put_record_success_total"), Some(1.0));
    assert_eq!(v("tributary_put_record_bytes_total"), Some(4.0));
    assert_eq!(v("tributary_put_records_total_records_total"), Some(4.0));
    assert_eq!(
        v("tributary_put_records_successful_records_total"),
        Some(4.0)
    );
    assert_eq!(v("tributary_put_records_failed_records_total"), Some(0.0));
    assert_eq!(v("tributary_put_records_bytes_total"), Some(20.0));
    assert_eq!(v("tributary_put_records_success_total"), Some(1.0));
    assert_eq!(v("tributary_put_records_latency_seconds_count"), Some(1.0));

    let (a, _) = h.drain("m", "shardId-000000000000").await;
    let (b, _) = h.drain("m", "shardId-000000000001").await;
    assert_eq!(a.len() + b.len(), 5);
    let text = scrape(&h);
    let v = |n: &str| value(&text, &stream_series(n, "m"));
    assert_eq!(v("tributary_get_records_records_total"), Some(5.0));
    assert_eq!(v("tributary_get_records_bytes_total"), Some(24.0));
    assert_eq!(v("tributary_get_records_success_total"), Some(2.0));
    assert_eq!(v("tributary_get_records_latency_seconds_count"), Some(2.0));
}

#[tokio::test]
async fn enhanced_monitoring_adds_and_removes_shard_level_series() {
    let h = Harness::new().await;
    h.create("e", 2).await;
    h.put("e", "k", "abc").await;
    let shard_names = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("tributary_shard_"))
            .map(|l| l.split('{').next().unwrap().to_owned())
            .collect()
    };
    assert!(shard_names(&scrape(&h)).is_empty());

    let on = h
        .engine
        .enable_enhanced_monitoring(
            &h.ctx,
            EnableEnhancedMonitoringInput {
                stream_name: Some("e".into()),
                shard_level_metrics: vec![MetricsName::All],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(on.desired_shard_level_metrics.map(|m| m.len()), Some(7));
    let text = scrape(&h);
    let mut names = shard_names(&text);
    names.dedup();
    assert_eq!(names.len(), 7, "{names:?}");
    // Counted before the call too: the shard counters always run.
    let incoming = |text: &str, shard| {
        value(
            text,
            &shard_series("tributary_shard_incoming_records_total", "e", shard),
        )
    };
    let total = incoming(&text, 0).unwrap() + incoming(&text, 1).unwrap();
    assert_eq!(total, 1.0);

    h.engine
        .disable_enhanced_monitoring(
            &h.ctx,
            DisableEnhancedMonitoringInput {
                stream_name: Some("e".into()),
                shard_level_metrics: vec![MetricsName::Incomingrecords],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let text = scrape(&h);
    assert_eq!(incoming(&text, 0), None);
    assert!(value(
        &text,
        &shard_series("tributary_shard_incoming_bytes_total", "e", 0)
    )
    .is_some());

    h.engine
        .disable_enhanced_monitoring(
            &h.ctx,
            DisableEnhancedMonitoringInput {
                stream_name: Some("e".into()),
                shard_level_metrics: vec![MetricsName::All],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(shard_names(&scrape(&h)).is_empty());
}

#[tokio::test]
async fn a_deleted_stream_leaves_the_export() {
    let h = Harness::new().await;
    h.create("gone", 1).await;
    let series = stream_series("tributary_incoming_records_total", "gone");
    assert!(value(&scrape(&h), &series).is_some());
    h.engine
        .delete_stream(
            &h.ctx,
            DeleteStreamInput {
                stream_name: Some("gone".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while value(&scrape(&h), &series).is_some() {
        assert!(std::time::Instant::now() < deadline, "still exported");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn storage_health_follows_the_logs_writability() {
    let h = Harness::new().await;
    assert_eq!(h.engine.storage_writable().await, Ok(()));
    let Some(mem) = h.hooks() else {
        return; // fails the in-memory log's appends: checked on the in-memory pass
    };
    mem.fail_appends(true);
    let e = h.engine.storage_writable().await.unwrap_err();
    assert!(e.contains("appends disabled by the test"), "{e}");
    mem.fail_appends(false);
    assert_eq!(h.engine.storage_writable().await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_count_events_and_refusals() {
    let h = Harness::new().await;
    h.create("sub", 1).await;
    h.put("sub", "k", "abc").await;
    let c = h.register("sub", "app").await;
    let mut sub = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await
        .unwrap();
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), sub.next_event())
        .await
        .expect("the first event answers at once")
        .unwrap()
        .unwrap();
    assert_eq!(event.records.len(), 1);
    // A second subscription of the same consumer and shard is refused while the first is young.
    let refused = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await;
    assert!(refused.is_err());
    let text = scrape(&h);
    let v = |n: &str| value(&text, &stream_series(n, "sub"));
    assert_eq!(v("tributary_subscribe_to_shard_success_total"), Some(1.0));
    assert_eq!(
        v("tributary_subscribe_to_shard_rate_exceeded_total"),
        Some(1.0)
    );
    assert_eq!(
        v("tributary_subscribe_to_shard_event_success_total"),
        Some(1.0)
    );
    assert_eq!(
        v("tributary_subscribe_to_shard_event_records_total"),
        Some(1.0)
    );
    assert_eq!(
        v("tributary_subscribe_to_shard_event_bytes_total"),
        Some(4.0)
    );
    drop(sub);
}
