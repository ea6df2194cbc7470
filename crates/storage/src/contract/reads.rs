//! Appending and reading: offsets, limits, time lookups.

use super::*;
use crate::{Bounds, ReadFrom, ShardAppend, StorageError};
use bytes::Bytes;
use std::time::Duration;

pub async fn dense_offsets(f: &dyn Factory) {
    let e = f.open().await;
    let s = key(1, 0);
    e.log.create_shard(s).await.expect("create shard");
    assert_eq!(bounds(&*e.log, s).await, Bounds { first: 0, next: 0 });
    let a = append(&*e.log, s, &["a", "b", "c"]).await;
    let b = append(&*e.log, s, &["d", "e"]).await;
    assert_eq!(
        (a.first_offset, b.first_offset),
        (0, 3),
        "offsets are dense from 0"
    );
    assert!(b.arrival_ms >= a.arrival_ms, "arrival time never goes back");
    let recs = read(&*e.log, s, ReadFrom::Offset(0)).await;
    assert_eq!(offsets(&recs), [0, 1, 2, 3, 4]);
    assert_eq!(texts(&recs), ["a", "b", "c", "d", "e"]);
    let arrivals: Vec<i64> = recs.iter().map(|r| r.arrival_ms).collect();
    assert_eq!(
        arrivals,
        [
            a.arrival_ms,
            a.arrival_ms,
            a.arrival_ms,
            b.arrival_ms,
            b.arrival_ms
        ]
    );
    assert_eq!(bounds(&*e.log, s).await, Bounds { first: 0, next: 5 });
}

pub async fn shard_lifecycle_errors(f: &dyn Factory) {
    let e = f.open().await;
    let (s, missing) = (key(2, 0), key(2, 1));
    e.log.create_shard(s).await.expect("create shard");
    assert!(matches!(e.log.create_shard(s).await, Err(StorageError::ShardExists(k)) if k == s));
    let err = e
        .log
        .append(vec![shard_append(missing, &["x"])])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::NoSuchShard(k) if k == missing),
        "{err:?}"
    );
    let mixed = vec![shard_append(s, &["y"]), shard_append(missing, &["z"])];
    assert!(matches!(e.log.append(mixed).await, Err(StorageError::NoSuchShard(k)) if k == missing));
    assert!(matches!(
        e.log.bounds(missing).await,
        Err(StorageError::NoSuchShard(_))
    ));
    assert!(matches!(
        e.log.read(missing, ReadFrom::Offset(0), 10, 1 << 20).await,
        Err(StorageError::NoSuchShard(_))
    ));
    assert!(matches!(
        e.log.trim_before(missing, 0).await,
        Err(StorageError::NoSuchShard(_))
    ));
}

pub async fn multi_shard_append(f: &dyn Factory) {
    let e = f.open().await;
    let (a, b) = (key(3, 0), key(3, 1));
    e.log.create_shard(a).await.expect("create a");
    e.log.create_shard(b).await.expect("create b");
    let calls = vec![
        shard_append(a, &["a0", "a1"]),
        shard_append(b, &["b0", "b1", "b2"]),
        shard_append(a, &["a2"]),
    ];
    let res = e.log.append(calls).await.expect("append");
    let firsts: Vec<u64> = res.iter().map(|r| r.first_offset).collect();
    assert_eq!(
        firsts,
        [0, 0, 2],
        "results follow the order of the appends, per-shard offsets"
    );
    assert_eq!(
        texts(&read(&*e.log, a, ReadFrom::Offset(0)).await),
        ["a0", "a1", "a2"]
    );
    assert_eq!(
        texts(&read(&*e.log, b, ReadFrom::Offset(0)).await),
        ["b0", "b1", "b2"]
    );
    assert_eq!(bounds(&*e.log, a).await.next, 3);
    assert_eq!(bounds(&*e.log, b).await.next, 3);
}

pub async fn read_by_offset(f: &dyn Factory) {
    let e = f.open().await;
    let s = key(4, 0);
    e.log.create_shard(s).await.expect("create shard");
    let words: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    append(
        &*e.log,
        s,
        &words.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let mid = e
        .log
        .read(s, ReadFrom::Offset(4), 3, 1 << 20)
        .await
        .expect("read");
    assert_eq!(offsets(&mid), [4, 5, 6]);
    assert_eq!(texts(&mid), ["r4", "r5", "r6"]);
    assert_eq!(offsets(&read(&*e.log, s, ReadFrom::Offset(9)).await), [9]);
    assert!(
        read(&*e.log, s, ReadFrom::Offset(10)).await.is_empty(),
        "at next: nothing yet"
    );
    assert!(
        read(&*e.log, s, ReadFrom::Offset(1_000)).await.is_empty(),
        "past next: nothing"
    );
    assert!(e
        .log
        .read(s, ReadFrom::Offset(0), 0, 1 << 20)
        .await
        .expect("read")
        .is_empty());
}

pub async fn read_limits(f: &dyn Factory) {
    let e = f.open().await;
    let s = key(5, 0);
    e.log.create_shard(s).await.expect("create shard");
    let ten = "0123456789";
    append(&*e.log, s, &[ten; 5]).await;
    let n = async |max_bytes| {
        e.log
            .read(s, ReadFrom::Offset(0), 100, max_bytes)
            .await
            .expect("read")
            .len()
    };
    assert_eq!(n(25).await, 2, "stops before exceeding max_bytes");
    assert_eq!(n(30).await, 3, "a record that fits exactly is included");
    assert_eq!(n(0).await, 1, "the first record is always returned");
    let big = "x".repeat(1_000);
    let off = append(&*e.log, s, &[big.as_str(), ten]).await.first_offset;
    let one = e
        .log
        .read(s, ReadFrom::Offset(off), 100, 10)
        .await
        .expect("read");
    assert_eq!(
        offsets(&one),
        [off],
        "an oversized first record comes alone"
    );
    assert_eq!(one[0].payload.len(), 1_000);
}

pub async fn read_by_time(f: &dyn Factory) {
    let e = f.open().await;
    let s = key(6, 0);
    e.log.create_shard(s).await.expect("create shard");
    let t1 = append(&*e.log, s, &["a", "b"]).await.arrival_ms;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t2 = append(&*e.log, s, &["c", "d"]).await.arrival_ms;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t3 = append(&*e.log, s, &["e"]).await.arrival_ms;
    assert!(t1 < t2 && t2 < t3, "the clock moved: {t1} {t2} {t3}");
    let from = async |t| offsets(&read(&*e.log, s, ReadFrom::Time(t)).await);
    assert_eq!(from(i64::MIN).await, [0, 1, 2, 3, 4]);
    assert_eq!(from(t1).await, [0, 1, 2, 3, 4]);
    assert_eq!(
        from(t1 + 1).await,
        [2, 3, 4],
        "first record at or after the time"
    );
    assert_eq!(from(t2).await, [2, 3, 4]);
    assert_eq!(from(t3).await, [4]);
    assert!(from(t3 + 1).await.is_empty(), "nothing arrived after t3");
    let one = e
        .log
        .read(s, ReadFrom::Time(t2), 1, 1 << 20)
        .await
        .expect("read");
    assert_eq!(texts(&one), ["c"]);
}

pub async fn large_records(f: &dyn Factory) {
    let e = f.open().await;
    let s = key(7, 0);
    e.log.create_shard(s).await.expect("create shard");
    let big: Vec<Bytes> = [1 << 20, 300_000, 5]
        .iter()
        .enumerate()
        .map(|(i, n)| Bytes::from(vec![b'a' + i as u8; *n]))
        .collect();
    let res = e
        .log
        .append(vec![ShardAppend {
            shard: s,
            payloads: big.clone(),
        }])
        .await;
    assert_eq!(res.expect("append")[0].first_offset, 0);
    let recs = e
        .log
        .read(s, ReadFrom::Offset(0), 10, 8 << 20)
        .await
        .expect("read");
    let got: Vec<Bytes> = recs.into_iter().map(|r| r.payload).collect();
    assert_eq!(got, big, "payloads come back byte for byte");
}

/// Many appends of varied sizes, read back in small pages by offset, and from every append's
/// arrival time: exercises whatever boundaries an engine has inside a log (segments, index
/// entries, blocks).
pub async fn paged_reads(f: &dyn Factory) {
    let e = f.open().await;
    let s = key(12, 0);
    e.log.create_shard(s).await.expect("create shard");
    let mut all: Vec<Bytes> = Vec::new();
    let mut arrivals = Vec::new();
    for a in 0..60usize {
        let payloads: Vec<Bytes> = (0..1 + a % 7)
            .map(|i| Bytes::from(vec![(a * 7 + i) as u8; 1 + (a * 37 + i * 101) % 700]))
            .collect();
        let res = e
            .log
            .append(vec![ShardAppend {
                shard: s,
                payloads: payloads.clone(),
            }])
            .await
            .expect("append");
        assert_eq!(res[0].first_offset, all.len() as u64);
        arrivals.push(res[0].arrival_ms);
        all.extend(payloads);
        if a % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }
    let mut from = 0u64;
    while from < all.len() as u64 {
        let page = e
            .log
            .read(s, ReadFrom::Offset(from), 13, 2_000)
            .await
            .expect("read");
        assert!(!page.is_empty(), "a page at {from}");
        for r in &page {
            assert_eq!(r.offset, from, "pages are dense");
            assert_eq!(
                r.payload, all[from as usize],
                "record {from} comes back intact"
            );
            from += 1;
        }
    }
    let whole = read(&*e.log, s, ReadFrom::Offset(0)).await;
    for &t in &arrivals {
        let got = e
            .log
            .read(s, ReadFrom::Time(t), 3, 1 << 20)
            .await
            .expect("read");
        let first = got[0].offset as usize;
        assert!(got[0].arrival_ms >= t, "at or after {t}");
        assert!(
            first == 0 || whole[first - 1].arrival_ms < t,
            "the FIRST record at or after {t}"
        );
    }
}

/// `watch` gives the published end: current at once, moved by the time an append returns
/// (with its records readable), and closed when the shard is deleted.
pub async fn watch_follows_the_published_end(f: &dyn Factory) {
    let e = f.open().await;
    let s = key(1, 0);
    assert!(
        matches!(e.log.watch(s).await, Err(StorageError::NoSuchShard(_))),
        "watching a missing shard"
    );
    e.log.create_shard(s).await.expect("create shard");
    append(&*e.log, s, &["a"]).await;
    let mut rx = e.log.watch(s).await.expect("watch");
    assert_eq!(*rx.borrow_and_update(), 1, "starts at the published end");
    let waiter = tokio::spawn(async move {
        let changed = rx.changed().await.is_ok();
        let seen = *rx.borrow_and_update();
        (changed, seen, rx)
    });
    append(&*e.log, s, &["b", "c"]).await;
    let (changed, seen, mut rx) = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("a waiting watcher is woken by the append")
        .expect("waiter");
    assert!(changed);
    assert_eq!(seen, 3, "the new end");
    assert_eq!(
        read(&*e.log, s, ReadFrom::Offset(1)).await.len(),
        2,
        "and its records are readable"
    );
    e.log.delete_shard(s).await.expect("delete");
    let closed = tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .expect("closed promptly");
    assert!(closed.is_err(), "a deleted shard's watch is closed");
}
