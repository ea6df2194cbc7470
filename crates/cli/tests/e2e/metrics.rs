//! `GET /metrics`, `/health/live` and `/health/ready` on the real binary: counters move by
//! exactly the traffic sent through the SDK, EnableEnhancedMonitoring and
//! DisableEnhancedMonitoring add and remove the shard-level series, readiness follows the
//! storage's writability, and `--metrics false` turns the endpoint off.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{MetricsName, PutRecordsRequestEntry, ShardIteratorType};
use tributary_testkit::raw::{self, Http};

use crate::{create, iterator, server, server_with, ACCOUNT};

/// Every sample of an exposition, by its series (name and labels, as written). Also checks
/// the format's rules this server relies on: every sample's family has one HELP and one TYPE
/// line, before its samples.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut typed: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(
                typed.insert(name.to_owned(), kind.to_owned()).is_none(),
                "two TYPE lines for {name}"
            );
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "no TYPE before {line}");
        samples.insert(series.to_owned(), value.parse::<f64>().expect("value"));
    }
    samples
}

async fn scrape(s: &tributary_testkit::TestServer) -> HashMap<String, f64> {
    let r = raw::send(s.addr, Http::H1, raw::get("/metrics")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse(std::str::from_utf8(&r.body).expect("utf-8"))
}

fn stream(name: &str, s: &str) -> String {
    format!("{name}{{account=\"{ACCOUNT}\",region=\"us-east-1\",stream=\"{s}\"}}")
}

fn shard(name: &str, s: &str, index: u32) -> String {
    format!(
        "{name}{{account=\"{ACCOUNT}\",region=\"us-east-1\",stream=\"{s}\",shard=\"shardId-{index:012}\"}}"
    )
}

fn delta(before: &HashMap<String, f64>, after: &HashMap<String, f64>, series: &str) -> f64 {
    after
        .get(series)
        .copied()
        .unwrap_or_else(|| panic!("no {series}"))
        - before.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn counters_move_by_exactly_the_traffic() {
    let s = server();
    let c = s.sdk();
    create(&c, "metered", 2).await;
    let before = scrape(&s).await;
    assert_eq!(
        before[&stream("tributary_incoming_records_total", "metered")],
        0.0
    );

    // 20 records: data `record-N` and partition key `pk-N`.
    let entries: Vec<_> = (0..20)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .data(Blob::new(format!("record-{i}")))
                .partition_key(format!("pk-{i}"))
                .build()
                .unwrap()
        })
        .collect();
    let bytes: usize = (0..20)
        .map(|i| format!("record-{i}").len() + format!("pk-{i}").len())
        .sum();
    let out = c
        .put_records()
        .stream_name("metered")
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_record_count(), Some(0));
    let mut read = 0;
    for sh in ["shardId-000000000000", "shardId-000000000001"] {
        let it = iterator(&c, "metered", sh, ShardIteratorType::TrimHorizon).await;
        read += c
            .get_records()
            .shard_iterator(it)
            .send()
            .await
            .unwrap()
            .records()
            .len();
    }
    assert_eq!(read, 20);

    let after = scrape(&s).await;
    let d = |n: &str| delta(&before, &after, &stream(n, "metered"));
    assert_eq!(d("tributary_incoming_records_total"), 20.0);
    assert_eq!(d("tributary_incoming_bytes_total"), bytes as f64);
    assert_eq!(d("tributary_put_records_total_records_total"), 20.0);
    assert_eq!(d("tributary_put_records_successful_records_total"), 20.0);
    assert_eq!(d("tributary_put_records_failed_records_total"), 0.0);
    assert_eq!(d("tributary_put_records_throttled_records_total"), 0.0);
    assert_eq!(d("tributary_put_records_success_total"), 1.0);
    assert_eq!(d("tributary_put_records_bytes_total"), bytes as f64);
    assert_eq!(d("tributary_get_records_records_total"), 20.0);
    assert_eq!(d("tributary_get_records_bytes_total"), bytes as f64);
    assert_eq!(d("tributary_get_records_success_total"), 2.0);
    assert_eq!(d("tributary_put_record_success_total"), 0.0);
    let requests = |op: &str| {
        format!(
            "tributary_request_duration_seconds_count{{operation=\"{op}\",outcome=\"success\"}}"
        )
    };
    assert_eq!(delta(&before, &after, &requests("PutRecords")), 1.0);
    assert_eq!(delta(&before, &after, &requests("GetRecords")), 2.0);
    assert_eq!(delta(&before, &after, &requests("GetShardIterator")), 2.0);

    // A refused request is counted under its outcome.
    let e = c
        .put_record()
        .stream_name("absent")
        .partition_key("k")
        .data(Blob::new("x"))
        .send()
        .await;
    assert!(e.is_err());
    let again = scrape(&s).await;
    let refused = "tributary_request_duration_seconds_count{operation=\"PutRecord\",outcome=\"client_error\"}";
    assert_eq!(delta(&after, &again, refused), 1.0);
}

#[tokio::test]
async fn enhanced_monitoring_adds_and_removes_shard_level_series() {
    let s = server();
    let c = s.sdk();
    create(&c, "enhanced", 2).await;
    c.put_record()
        .stream_name("enhanced")
        .partition_key("k")
        .data(Blob::new("abc"))
        .send()
        .await
        .unwrap();
    let shard_series = |m: &HashMap<String, f64>| {
        let mut names: Vec<String> = m
            .keys()
            .filter(|k| k.contains("stream=\"enhanced\",shard="))
            .map(|k| k.split('{').next().unwrap().to_owned())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    assert!(shard_series(&scrape(&s).await).is_empty());

    c.enable_enhanced_monitoring()
        .stream_name("enhanced")
        .shard_level_metrics(MetricsName::IncomingBytes)
        .shard_level_metrics(MetricsName::IteratorAgeMilliseconds)
        .send()
        .await
        .unwrap();
    let m = scrape(&s).await;
    assert_eq!(
        shard_series(&m),
        [
            "tributary_shard_incoming_bytes_total",
            "tributary_shard_iterator_age_milliseconds"
        ]
    );
    let incoming = |m: &HashMap<String, f64>, i| {
        m.get(&shard(
            "tributary_shard_incoming_bytes_total",
            "enhanced",
            i,
        ))
        .copied()
    };
    assert_eq!(incoming(&m, 0).unwrap() + incoming(&m, 1).unwrap(), 4.0);

    c.enable_enhanced_monitoring()
        .stream_name("enhanced")
        .shard_level_metrics(MetricsName::All)
        .send()
        .await
        .unwrap();
    assert_eq!(shard_series(&scrape(&s).await).len(), 7);

    c.disable_enhanced_monitoring()
        .stream_name("enhanced")
        .shard_level_metrics(MetricsName::IncomingBytes)
        .send()
        .await
        .unwrap();
    let m = scrape(&s).await;
    assert_eq!(shard_series(&m).len(), 6);
    assert_eq!(incoming(&m, 0), None);

    c.disable_enhanced_monitoring()
        .stream_name("enhanced")
        .shard_level_metrics(MetricsName::All)
        .send()
        .await
        .unwrap();
    assert!(shard_series(&scrape(&s).await).is_empty());

    c.delete_stream()
        .stream_name("enhanced")
        .send()
        .await
        .unwrap();
    let m = scrape(&s).await;
    assert!(
        !m.keys().any(|k| k.contains("stream=\"enhanced\"")),
        "deleted streams leave the export"
    );
}

#[tokio::test]
async fn health_endpoints_answer_without_credentials_and_readiness_follows_storage() {
    // Signatures verified: the endpoints still need none.
    let s = crate::verifying_server_with(&[]);
    let live = raw::send(s.addr, Http::H1, raw::get("/health/live")).await;
    assert_eq!(live.status, 200);
    let ready = raw::send(s.addr, Http::H1, raw::get("/health/ready")).await;
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    assert_eq!(
        raw::send(s.addr, Http::H2c, raw::get("/metrics"))
            .await
            .status,
        200
    );

    // A directory where the readiness probe writes its file: the probe's write fails as a
    // full or read-only disk would make it fail (even for root).
    let blocker = s.data_dir().join("segments").join("health-probe");
    std::fs::create_dir(&blocker).unwrap();
    // The last verdict is kept for a second: wait for the next probe.
    let not_ready = ready_until(&s, 503).await;
    let body = String::from_utf8_lossy(&not_ready.body).into_owned();
    assert!(
        body.starts_with("not ready: storage is not writable"),
        "{body}"
    );
    let m = scrape(&s).await;
    assert_eq!(m["tributary_storage_writable"], 0.0);
    assert_eq!(
        live_status(&s).await,
        200,
        "liveness does not depend on storage"
    );

    std::fs::remove_dir(&blocker).unwrap();
    ready_until(&s, 200).await;
    assert_eq!(scrape(&s).await["tributary_storage_writable"], 1.0);
}

/// Asks `/health/ready` until it answers `status` (within 10 s); that answer.
async fn ready_until(s: &tributary_testkit::TestServer, status: u16) -> raw::RawResponse {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = raw::send(s.addr, Http::H1, raw::get("/health/ready")).await;
        if r.status == status {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "/health/ready still answers {}",
            r.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn live_status(s: &tributary_testkit::TestServer) -> u16 {
    raw::send(s.addr, Http::H1, raw::get("/health/live"))
        .await
        .status
        .as_u16()
}

#[tokio::test]
async fn storage_series_and_the_switch_that_turns_metrics_off() {
    let s = server();
    let m = scrape(&s).await;
    for name in [
        "tributary_storage_fsync_seconds_count",
        "tributary_storage_append_backlog_bytes",
        "tributary_storage_disk_bytes",
        "tributary_storage_writable",
    ] {
        assert!(m.contains_key(name), "{name} missing");
    }
    assert!(m["tributary_storage_disk_bytes"] > 0.0);

    let off = server_with(&["--metrics", "false"]);
    let r = raw::send(off.addr, Http::H1, raw::get("/metrics")).await;
    assert_eq!(r.status, 403, "refused as any GET is");
    assert_eq!(live_status(&off).await, 200, "health stays on");
}

/// Every metric the Grafana dashboard (docs/grafana/tributary-dashboard.json) queries is one
/// this server exports: scraped from a server with traffic and enhanced monitoring on, or,
/// for the replicated storage's series, written by its health module.
#[tokio::test]
async fn the_dashboard_queries_only_exported_series() {
    let dashboard = include_str!("../../../../docs/grafana/tributary-dashboard.json");
    let nats_source = include_str!("../../../storage/src/nats/health.rs");
    let _: serde_json::Value = serde_json::from_str(dashboard).expect("valid JSON");
    let mut queried: Vec<&str> = dashboard
        .match_indices("tributary_")
        .map(|(i, _)| {
            let rest = &dashboard[i..];
            let end = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect();
    queried.sort_unstable();
    queried.dedup();
    assert!(queried.len() > 30, "{queried:?}");

    let s = server();
    let c = s.sdk();
    create(&c, "dash", 1).await;
    c.enable_enhanced_monitoring()
        .stream_name("dash")
        .shard_level_metrics(MetricsName::All)
        .send()
        .await
        .unwrap();
    let exported: Vec<String> = scrape(&s)
        .await
        .into_keys()
        .map(|k| k.split('{').next().unwrap().to_owned())
        .collect();
    for name in queried {
        if name.starts_with("tributary_nats_") {
            assert!(nats_source.contains(&format!("\"{name}\"")), "{name}");
        } else {
            assert!(exported.iter().any(|e| e == name), "{name} is not exported");
        }
    }
}

/// On NATS storage: the connection gauge, the leader of the shard's JetStream stream, and
/// readiness (connected, JetStream answering).
#[tokio::test]
async fn on_nats_storage_the_connection_and_shard_leaders_are_exported() {
    let cluster = tributary_natskit::NatsCluster::start(3);
    let s = crate::nats::nats_server(&cluster, "e2e-metrics", &[]);
    let c = s.sdk();
    create(&c, "leaders", 1).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while c
        .put_record()
        .stream_name("leaders")
        .partition_key("k")
        .data(Blob::new("x"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "no put within 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ready_until(&s, 200).await;
    let m = scrape(&s).await;
    assert_eq!(m["tributary_nats_connected"], 1.0);
    assert_eq!(m["tributary_storage_writable"], 1.0);
    let leaders: Vec<&String> = m
        .keys()
        .filter(|k| k.starts_with("tributary_nats_shard_leader{jetstream_stream=\"e2e-metrics_"))
        .collect();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    assert!(
        !m.contains_key("tributary_storage_disk_bytes"),
        "no embedded series"
    );
}
