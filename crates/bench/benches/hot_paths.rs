//! Micro-benchmarks of the per-request work the server does outside storage: decoding and
//! checking a PutRecords body (JSON through the fast path the server uses and through the
//! reference path it falls back to, and CBOR), base64 of one record, the MD5 that routes a
//! partition key to a shard, encoding a full GetRecords answer, and framing one
//! SubscribeToShard event of the same size (with and without encoding its payload).
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
use tributary_model::{Operation, Timestamp, Value};
use tributary_protocol::{cbor, eventstream, json, Format};

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
fn get_records_output() -> Value {
    let records = (0..1000u64)
        .map(|i| {
            map(vec![
                (
                    "SequenceNumber",
                    Value::Str(format!("4960{:052}", 1_000_000_000_000u64 + i)),
                ),
                (
                    "ApproximateArrivalTimestamp",
                    Value::Timestamp(Timestamp(1_700_000_000_123 + i as i64)),
                ),
                ("Data", Value::Blob(Bytes::from(random(RECORD)))),
                ("PartitionKey", Value::Str(format!("{:016x}", i * 7919))),
            ])
        })
        .collect();
    map(vec![
        ("Records", Value::List(records)),
        ("NextShardIterator", Value::Str("A".repeat(160))),
        ("MillisBehindLatest", Value::Int(0)),
    ])
}

fn decode(c: &mut Criterion) {
    let input = put_records_value();
    let shape = Operation::PutRecords.input_shape();
    let mut g = c.benchmark_group("put_records_500x1KiB_decode_check");
    for (name, format, body) in [
        ("json", Format::Json, json::encode(&input)),
        ("cbor", Format::Cbor, cbor::encode(&input)),
    ] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        // What the server runs: the one-pass path where it applies, then the constraints.
        g.bench_function(name, |b| {
            b.iter(|| {
                tributary_protocol::parse_for(Some(shape), format, black_box(&body))
                    .and_then(|p| p.check(shape, format))
                    .unwrap()
            })
        });
    }
    // The reference path (generic tree, then the type check), which words the errors.
    let body = json::encode(&input);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("json_reference_path", |b| {
        b.iter(|| tributary_protocol::decode_value(shape, Format::Json, black_box(&body)).unwrap())
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
    g.throughput(Throughput::Bytes(json::encode(&out).len() as u64));
    g.bench_function("json", |b| {
        b.iter(|| tributary_protocol::encode_output(Format::Json, black_box(&out)))
    });
    g.throughput(Throughput::Bytes(cbor::encode(&out).len() as u64));
    g.bench_function("cbor", |b| {
        b.iter(|| tributary_protocol::encode_output(Format::Cbor, black_box(&out)))
    });
    g.finish();
}

/// The SubscribeToShard path per event: the payload encoded, then framed. Framing alone is
/// what the event-stream library choice affects; with the encoding it is what a subscriber
/// waits for.
fn subscribe_event(c: &mut Criterion) {
    let out = get_records_output();
    let payload = json::encode(&out);
    let ct = Format::Json.content_type();
    let mut g = c.benchmark_group("subscribe_event_1000x1KiB");
    g.throughput(Throughput::Bytes(payload.len() as u64));
    g.bench_function("frame", |b| {
        b.iter(|| eventstream::event("SubscribeToShardEvent", ct, black_box(&payload)).unwrap())
    });
    g.bench_function("encode_and_frame", |b| {
        b.iter(|| {
            let payload = tributary_protocol::encode_output(Format::Json, black_box(&out));
            eventstream::event("SubscribeToShardEvent", ct, &payload).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, decode, base64_and_md5, encode, subscribe_event);
criterion_main!(benches);
