//! Micro-benchmarks below the protocol: the engine's sequence-number and shard-iterator
//! codecs (one of each per record or per GetRecords call), and the segment log's append and
//! read paths on a temporary directory.
//!
//! Appends are measured with `Durability::Interval` (acknowledged after the write, fsynced
//! within a second): with `Sync` the figure is the disk's fsync latency, which
//! `crates/storage/examples/append_bench.rs` and the load generator measure instead.
//!
//! `cargo bench -p tributary-bench --bench engine_storage`

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tributary_engine::codecs::{decode_sequence_number, encode_sequence_number, IteratorCodec};
use tributary_storage::{
    Durability, ReadFrom, SegmentLog, SegmentOptions, ShardAppend, ShardKey, ShardLog,
};

fn codecs(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine_codecs");
    g.bench_function("sequence_number_encode", |b| {
        b.iter(|| {
            encode_sequence_number(black_box(42), 3, black_box(123_456_789), 1_700_000_000_123)
        })
    });
    let n = encode_sequence_number(42, 3, 123_456_789, 1_700_000_000_123);
    g.bench_function("sequence_number_decode", |b| {
        b.iter(|| decode_sequence_number(black_box(&n)).unwrap())
    });
    let codec = IteratorCodec::new([7; 32]);
    g.bench_function("shard_iterator_seal", |b| {
        b.iter(|| {
            codec.seal(
                black_box(1_700_000_000_000),
                1,
                1000,
                "000000000000",
                "orders",
            )
        })
    });
    let token = codec.seal(1_700_000_000_000, 1, 1000, "000000000000", "orders");
    g.bench_function("shard_iterator_open", |b| {
        b.iter(|| codec.open(black_box(&token)).unwrap())
    });
    g.finish();
}

const SHARD: ShardKey = ShardKey {
    stream: 1,
    shard: 0,
};

fn storage(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let log: Arc<SegmentLog> = SegmentLog::open(
        dir.path(),
        SegmentOptions {
            durability: Durability::Interval(Duration::from_secs(1)),
            ..Default::default()
        },
    )
    .expect("open");
    rt.block_on(log.create_shard(SHARD)).expect("shard");
    let batch: Vec<Bytes> = (0..500u32)
        .map(|i| Bytes::from(vec![(i % 251) as u8; 1024]))
        .collect();

    let mut g = c.benchmark_group("segment_log");
    g.throughput(Throughput::Bytes(500 * 1024));
    g.bench_function("append_500x1KiB", |b| {
        b.iter(|| {
            rt.block_on(log.append(vec![ShardAppend {
                shard: SHARD,
                payloads: batch.clone(),
            }]))
            .expect("append")
        })
    });
    // The appends above left plenty to read; reads come from the page cache.
    g.throughput(Throughput::Bytes(1000 * 1024));
    g.bench_function("read_1000x1KiB", |b| {
        b.iter(|| {
            let got = rt
                .block_on(log.read(SHARD, ReadFrom::Offset(black_box(1000)), 1000, 10 << 20))
                .expect("read");
            assert_eq!(got.len(), 1000);
            got
        })
    });
    g.finish();
    drop(log);
}

criterion_group!(benches, codecs, storage);
criterion_main!(benches);
