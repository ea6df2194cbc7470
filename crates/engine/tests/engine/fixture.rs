//! A data directory written by release 0.1 (`tests/fixtures/`, how it was made is in its
//! README) opens unchanged with the production storage pair: every record is where it was,
//! under the same sequence number (issued now in AWS's layout, the fixture's 0.1-layout
//! numbers still accepted), every stream, shard, tag, consumer, policy and account setting is
//! back, and appends go on where the old ones stopped.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;
use tributary_engine::codecs::{decode_sequence_number, encode_sequence_number};
use tributary_engine::{Engine, EngineConfig, RequestContext};
use tributary_model::types::*;
use tributary_storage::{FjallMeta, ReadFrom, SegmentLog, SegmentOptions, ShardKey, ShardLog};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
/// The account and region `tributary serve` used by default when it wrote the fixture.
const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";

/// One record as the fixture's JSON lists it.
struct Expected {
    stream: String,
    shard_id: String,
    partition_key: String,
    data: Vec<u8>,
    sequence_number: String,
}

impl Expected {
    /// `(stream id, shard index, offset, arrival ms)`, the fields of release 0.1's layout.
    fn fields(&self) -> (u64, u32, u64, i64) {
        old_fields(&self.sequence_number)
    }

    /// The number this record is issued under now.
    fn reissued(&self) -> String {
        reissued(&self.sequence_number)
    }
}

/// The fields of a number in release 0.1's layout (leading 1, then zero-padded stream id,
/// shard index, offset and arrival ms).
fn old_fields(s: &str) -> (u64, u32, u64, i64) {
    assert_eq!((s.len(), &s[..1]), (56, "1"), "{s} is in 0.1's layout");
    let n = |r: std::ops::Range<usize>| s[r].parse::<u64>().unwrap();
    (n(1..13), n(13..23) as u32, n(23..43), n(43..56) as i64)
}

/// The same position in the layout issued now (AWS's).
fn reissued(old: &str) -> String {
    let (stream, shard, offset, ms) = old_fields(old);
    encode_sequence_number(stream, shard, offset, ms)
}

fn unpack(archive: &str, into: &Path) {
    // The system tar: no archive crate just for one test.
    let status = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(Path::new(FIXTURES).join(archive))
        .arg("-C")
        .arg(into)
        .status()
        .expect("running tar");
    assert!(status.success(), "tar could not unpack {archive}");
}

fn load_expected() -> (Value, Vec<Expected>) {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("data-dir-0.1.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let records = json["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Expected {
            stream: r["stream"].as_str().unwrap().to_owned(),
            shard_id: r["shard"].as_str().unwrap().to_owned(),
            partition_key: r["partition_key"].as_str().unwrap().to_owned(),
            data: base64::engine::general_purpose::STANDARD
                .decode(r["data_base64"].as_str().unwrap())
                .unwrap(),
            sequence_number: r["sequence_number"].as_str().unwrap().to_owned(),
        })
        .collect();
    (json, records)
}

/// The stores exactly as `tributary serve` opens them in a data directory.
fn open_stores(dir: &Path) -> (Arc<SegmentLog>, Arc<FjallMeta>) {
    let meta = FjallMeta::open(dir).expect("open the metadata store");
    let log = SegmentLog::open(&dir.join("segments"), SegmentOptions::default())
        .expect("open the segment log");
    (log, meta)
}

/// The stored payload of a record (engine layout 1: version, flags, key length, key, data).
fn stored_payload(partition_key: &str, data: &[u8]) -> Vec<u8> {
    let mut p = vec![1, 1];
    p.extend_from_slice(&(partition_key.len() as u16).to_be_bytes());
    p.extend_from_slice(partition_key.as_bytes());
    p.extend_from_slice(data);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_release_0_1_opens_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    unpack("data-dir-0.1.tar.gz", dir.path());
    let (json, records) = load_expected();
    assert_eq!(records.len(), 100);
    let (log, meta) = open_stores(dir.path());

    // Storage first, before the engine's retention task can trim anything: every record at
    // its offset with its arrival time and payload, and nothing else in its shard.
    let mut per_shard: BTreeMap<ShardKey, u64> = BTreeMap::new();
    for r in &records {
        let (stream, shard, offset, arrival_ms) = r.fields();
        let key = ShardKey { stream, shard };
        let got = log
            .read(key, ReadFrom::Offset(offset), 1, usize::MAX)
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "record {} is missing", r.sequence_number);
        assert_eq!(got[0].offset, offset);
        assert_eq!(got[0].arrival_ms, arrival_ms);
        assert_eq!(
            got[0].payload,
            Bytes::from(stored_payload(&r.partition_key, &r.data)),
            "payload of {}",
            r.sequence_number
        );
        assert_eq!(
            decode_sequence_number(&r.sequence_number),
            Some(offset),
            "0.1's number {} still decodes",
            r.sequence_number
        );
        *per_shard.entry(key).or_default() += 1;
    }
    for (key, count) in &per_shard {
        let b = log.bounds(*key).await.unwrap();
        assert_eq!((b.first, b.next), (0, *count), "bounds of {key:?}");
    }

    let config = EngineConfig {
        default_account_id: ACCOUNT.into(),
        ..EngineConfig::default()
    };
    let engine = Engine::open(config, log.clone(), meta)
        .await
        .expect("the engine opens the directory");
    let ctx = RequestContext::new(ACCOUNT, REGION);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;

    let listed = engine
        .list_streams(&ctx, ListStreamsInput::default())
        .await
        .unwrap()
        .stream_names;
    let streams = json["streams"].as_object().unwrap();
    assert_eq!(
        listed,
        streams.keys().cloned().collect::<Vec<_>>(),
        "ListStreams"
    );
    for (name, want) in streams {
        check_stream(&engine, &ctx, name, want, &records, now).await;
    }
    check_consumer_policy_and_account(&engine, &ctx, &json).await;
    check_old_numbers_position_iterators(&engine, &ctx, streams, &records, now).await;

    // Appends go on after the last offset of each shard, and read back.
    for name in streams.keys() {
        let put = engine
            .put_record(
                &ctx,
                PutRecordInput {
                    stream_name: Some(name.clone()),
                    partition_key: Some("after-reopen".into()),
                    data: Bytes::from_static(b"new"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let old = records
            .iter()
            .filter(|r| &r.stream == name && r.shard_id == put.shard_id)
            .count() as u64;
        assert_eq!(decode_sequence_number(&put.sequence_number), Some(old));
        let got = read_shard(&engine, &ctx, name, &put.shard_id).await;
        let last = got.last().unwrap();
        assert_eq!(last.sequence_number, put.sequence_number);
        assert_eq!(&last.data[..], b"new");
    }
}

async fn check_stream(
    engine: &Engine,
    ctx: &RequestContext,
    name: &str,
    want: &Value,
    records: &[Expected],
    now: i64,
) {
    let summary = engine
        .describe_stream_summary(
            ctx,
            DescribeStreamSummaryInput {
                stream_name: Some(name.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .stream_description_summary;
    assert_eq!(summary.stream_status, StreamStatus::Active);
    assert_eq!(summary.stream_arn, want["arn"].as_str().unwrap());
    assert_eq!(
        summary.stream_mode_details.unwrap().stream_mode.as_str(),
        want["mode"].as_str().unwrap()
    );
    let retention_hours = want["retention_hours"].as_i64().unwrap();
    assert_eq!(i64::from(summary.retention_period_hours), retention_hours);
    assert_eq!(
        i64::from(summary.open_shard_count),
        want["open_shards"].as_i64().unwrap()
    );

    let horizon = now - retention_hours * 3_600_000;
    let want_shards: Vec<&Value> = want["shards"]
        .as_array()
        .unwrap()
        .iter()
        // A closed shard whose records have all expired is pruned (from December 2027).
        .filter(|s| {
            s["ending_sequence"]
                .as_str()
                .is_none_or(|e| e[43..].parse::<i64>().unwrap() >= horizon)
        })
        .collect();
    // The retention task's first pass runs at open: wait for its pruning, if any is due.
    let mut shards = Vec::new();
    for _ in 0..100 {
        shards = list_shards(engine, ctx, name).await;
        if shards.len() == want_shards.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got: Vec<_> = shards.iter().map(|s| s.shard_id.as_str()).collect();
    let ids: Vec<_> = want_shards
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids, "shards of {name}");
    for (s, w) in shards.iter().zip(&want_shards) {
        assert_eq!(s.parent_shard_id.as_deref(), w["parent"].as_str());
        assert_eq!(
            s.hash_key_range.starting_hash_key,
            w["start_hash"].as_str().unwrap()
        );
        assert_eq!(
            s.hash_key_range.ending_hash_key,
            w["end_hash"].as_str().unwrap()
        );
        let range = &s.sequence_number_range;
        assert_eq!(
            range.starting_sequence_number,
            reissued(w["starting_sequence"].as_str().unwrap())
        );
        assert_eq!(
            range.ending_sequence_number,
            w["ending_sequence"].as_str().map(reissued)
        );
        // Through the engine: the records not yet past retention, in order.
        let got = read_shard(engine, ctx, name, &s.shard_id).await;
        let expected: Vec<_> = records
            .iter()
            .filter(|r| r.stream == name && r.shard_id == s.shard_id)
            .filter(|r| r.fields().3 >= horizon)
            .map(|r| {
                let key = Some(r.partition_key.clone());
                (r.reissued(), key, r.data.clone())
            })
            .collect();
        let got: Vec<_> = got
            .into_iter()
            .map(|r| (r.sequence_number, r.partition_key, r.data.to_vec()))
            .collect();
        assert_eq!(got, expected, "records of {name}/{}", s.shard_id);
    }

    let tags = engine
        .list_tags_for_stream(
            ctx,
            ListTagsForStreamInput {
                stream_name: Some(name.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .tags;
    let tags: BTreeMap<String, Option<String>> =
        tags.into_iter().map(|t| (t.key, t.value)).collect();
    let want_tags: BTreeMap<String, Option<String>> = want["tags"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned)))
        .collect();
    assert_eq!(tags, want_tags, "tags of {name}");
}

async fn check_consumer_policy_and_account(engine: &Engine, ctx: &RequestContext, json: &Value) {
    for c in json["consumers"].as_array().unwrap() {
        let d = engine
            .describe_stream_consumer(
                ctx,
                DescribeStreamConsumerInput {
                    consumer_arn: Some(c["arn"].as_str().unwrap().into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .consumer_description;
        assert_eq!(d.consumer_name, c["name"].as_str().unwrap());
        assert_eq!(d.consumer_status, ConsumerStatus::Active);
    }
    for p in json["policies"].as_array().unwrap() {
        let got = engine
            .get_resource_policy(
                ctx,
                GetResourcePolicyInput {
                    resource_arn: p["arn"].as_str().unwrap().into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .policy;
        assert_eq!(got, p["policy"].as_str().unwrap());
    }
    let account = engine
        .describe_account_settings(ctx, DescribeAccountSettingsInput {})
        .await
        .unwrap();
    assert_eq!(
        account
            .minimum_throughput_billing_commitment
            .map(|c| c.status.as_str()),
        json["account_settings"]["minimum_throughput_billing_commitment"].as_str()
    );
}

async fn list_shards(engine: &Engine, ctx: &RequestContext, name: &str) -> Vec<Shard> {
    engine
        .list_shards(
            ctx,
            ListShardsInput {
                stream_name: Some(name.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .shards
        .unwrap_or_default()
}

/// Every record of a shard from TRIM_HORIZON, through GetRecords.
async fn read_shard(engine: &Engine, ctx: &RequestContext, name: &str, shard: &str) -> Vec<Record> {
    let it = engine
        .get_shard_iterator(
            ctx,
            GetShardIteratorInput {
                stream_name: Some(name.into()),
                shard_id: shard.into(),
                shard_iterator_type: ShardIteratorType::TrimHorizon,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let mut out = Vec::new();
    let mut it = Some(it);
    // A few pages at most: the fixture is small; stop once a page comes back empty.
    while let Some(i) = it.take() {
        let page = engine
            .get_records(
                ctx,
                GetRecordsInput {
                    shard_iterator: i,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        if page.records.is_empty() {
            break;
        }
        out.extend(page.records);
        it = page.next_shard_iterator;
    }
    out
}

/// Numbers clients kept from release 0.1 (checkpoints) still position iterators: AT one
/// reads that record (under its number of today), AFTER one reads the next.
async fn check_old_numbers_position_iterators(
    engine: &Engine,
    ctx: &RequestContext,
    streams: &serde_json::Map<String, Value>,
    records: &[Expected],
    now: i64,
) {
    let mut checked = 0;
    for (name, want) in streams {
        let horizon = now - want["retention_hours"].as_i64().unwrap() * 3_600_000;
        let live: Vec<&Expected> = records
            .iter()
            .filter(|r| &r.stream == name && r.fields().3 >= horizon)
            .collect();
        for r in &live {
            let at = first_record(
                engine,
                ctx,
                r,
                ShardIteratorType::AtSequenceNumber,
                &r.sequence_number,
            )
            .await;
            assert_eq!(at, Some(r.reissued()), "AT {}", r.sequence_number);
            let next = live
                .iter()
                .find(|n| n.shard_id == r.shard_id && n.fields().2 == r.fields().2 + 1)
                .map(|n| n.reissued());
            let after = first_record(
                engine,
                ctx,
                r,
                ShardIteratorType::AfterSequenceNumber,
                &r.sequence_number,
            )
            .await;
            assert_eq!(after, next, "AFTER {}", r.sequence_number);
            checked += 1;
        }
    }
    assert!(checked > 0, "no record of the fixture is within retention");
}

/// The number of the first record an iterator of `kind` at `seq` on `r`'s shard reads.
async fn first_record(
    engine: &Engine,
    ctx: &RequestContext,
    r: &Expected,
    kind: ShardIteratorType,
    seq: &str,
) -> Option<String> {
    let it = engine
        .get_shard_iterator(
            ctx,
            GetShardIteratorInput {
                stream_name: Some(r.stream.clone()),
                shard_id: r.shard_id.clone(),
                shard_iterator_type: kind,
                starting_sequence_number: Some(seq.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let page = engine
        .get_records(
            ctx,
            GetRecordsInput {
                shard_iterator: it,
                limit: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    page.records.first().map(|r| r.sequence_number.clone())
}
