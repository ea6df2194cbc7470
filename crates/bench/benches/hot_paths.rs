//! Micro-benchmarks of the per-request work the server does outside storage: decoding and
//! checking a PutRecords body (JSON and CBOR through the typed decoders the server uses, and
//! JSON through the reference path it falls back to), base64 of one record, the MD5 that
//! routes a partition key to a shard, encoding a full GetRecords answer with the typed
//! encoders, and framing one SubscribeToShard event of the same size (with and without
//! encoding its payload).
//!
//! The engine's sequence-number and iterator codecs and the segment log's append and read
//! are in `benches/engine_storage.rs`.
//!
//! `cargo bench -p tributary-bench` (throughput is reported in bytes of request or answer).

use base64::Engine as _;
use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use md5::{Digest, Md5};
use rand::RngCore;
use tributary_model::types::{GetRecordsOutput, Record};
use tributary_model::{Operation, Timestamp, Value};
use tributary_protocol::{cbor, encode, eventstream, json, Format};

const RECORD: usize = 1024;

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut v);
    v
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// A PutRecords input of 500 records of 1 KiB with 16-hex-digit keys, as the peers' bench uses.
fn put_records_value() -> Value {
    let records = (0..500)
        .map(|i| {
            map(vec![
                ("Data", Value::Blob(Bytes::from(random(RECORD)))),
                ("PartitionKey", Value::Str(format!("{:016x}", i * 7919))),
            ])
        })
        .collect();
    map(vec![
        ("StreamName", Value::Str("bench".into())),
        ("Records", Value::List(records)),
    ])
}

/// A GetRecords output of 1000 records of 1 KiB, shaped as Tributary answers it.
fn get_records_output() -> GetRecordsOutput {
    let records = (0..1000u64)
        .map(|i| Record {
            sequence_number: format!("4960{:052}", 1_000_000_000_000u64 + i),
            approximate_arrival_timestamp: Some(Timestamp(1_700_000_000_123 + i as i64)),
            data: Bytes::from(random(RECORD)),
            partition_key: Some(format!("{:016x}", i * 7919)),
            encryption_type: None,
        })
        .collect();
    GetRecordsOutput {
        records,
        next_shard_iterator: Some("A".repeat(160)),
        millis_behind_latest: Some(0),
        child_shards: None,
    }
}

fn decode(c: &mut Criterion) {
    let input = put_records_value();
    let op = Operation::PutRecords;
    let mut g = c.benchmark_group("put_records_500x1KiB_decode_check");
    for (name, format, body) in [
        ("json", Format::Json, json::encode(&input)),
        ("cbor", Format::Cbor, cbor::encode(&input)),
    ] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        // What the server runs: the typed decoder and the constraints.
        g.bench_function(name, |b| {
            b.iter(|| {
                tributary_protocol::parse(Some(op), format, black_box(&body))
                    .and_then(|p| p.check(op, format))
                    .unwrap()
            })
        });
    }
    // The reference path (generic tree, type check, constraints, then the typed input), which
    // words the errors.
    let body = json::encode(&input);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("json_reference_path", |b| {
        b.iter(|| {
            tributary_protocol::parse_body(Format::Json, black_box(&body))
                .and_then(|raw| tributary_protocol::checked_input(op, Format::Json, raw))
                .unwrap()
        })
    });
    g.finish();
}

fn base64_and_md5(c: &mut Criterion) {
    let text = base64::engine::general_purpose::STANDARD.encode(random(RECORD));
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Bytes(RECORD as u64));
    g.bench_function("base64_decode_1KiB", |b| {
        let mut out = vec![0u8; RECORD + 3];
        b.iter(|| {
            base64::engine::general_purpose::STANDARD
                .decode_slice(black_box(text.as_bytes()), &mut out)
                .unwrap()
        })
    });
    // The SIMD decoder the fast path uses.
    g.bench_function("base64_simd_decode_1KiB", |b| {
        let mut out = vec![0u8; RECORD + 3];
        b.iter(|| {
            base64_simd::STANDARD
                .decode(
                    black_box(text.as_bytes()),
                    base64_simd::Out::from_slice(&mut out),
                )
                .unwrap()
                .len()
        })
    });
    g.finish();
    c.bench_function("md5_partition_key_16B", |b| {
        let key = "0123456789abcdef";
        b.iter(|| u128::from_be_bytes(Md5::digest(black_box(key.as_bytes())).into()))
    });
}

fn encode(c: &mut Criterion) {
    let out = get_records_output();
    let mut g = c.benchmark_group("get_records_1000x1KiB_encode");
    for (name, format) in [("json", Format::Json), ("cbor", Format::Cbor)] {
        g.throughput(Throughput::Bytes(encode::to_body(format, &out).len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| encode::to_body(format, black_box(&out)))
        });
    }
    g.finish();
}

/// The SubscribeToShard path per event: the payload encoded, then framed. Framing alone is
/// what the event-stream library choice affects; with the encoding it is what a subscriber
/// waits for.
fn subscribe_event(c: &mut Criterion) {
    let out = get_records_output();
    let payload = encode::to_body(Format::Json, &out);
    let ct = Format::Json.content_type();
    let mut g = c.benchmark_group("subscribe_event_1000x1KiB");
    g.throughput(Throughput::Bytes(payload.len() as u64));
    g.bench_function("frame", |b| {
        b.iter(|| eventstream::event("SubscribeToShardEvent", ct, black_box(&payload)).unwrap())
    });
    g.bench_function("encode_and_frame", |b| {
        b.iter(|| {
            let payload = encode::to_body(Format::Json, black_box(&out));
            eventstream::event("SubscribeToShardEvent", ct, &payload).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, decode, base64_and_md5, encode, subscribe_event);
criterion_main!(benches);
