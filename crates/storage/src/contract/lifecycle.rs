//! Retention, deletion, restart and concurrency.

use super::*;
use crate::{Bounds, ReadFrom, StorageError};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub async fn trim_before(f: &dyn Factory) {
    let e = f.open().await;
    let s = key(8, 0);
    e.log.create_shard(s).await.expect("create shard");
    e.log
        .trim_before(s, i64::MAX)
        .await
        .expect("trimming an empty shard is fine");
    assert_eq!(bounds(&*e.log, s).await, Bounds { first: 0, next: 0 });
    let t1 = append(&*e.log, s, &["a", "b", "c"]).await.arrival_ms;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t2 = append(&*e.log, s, &["d", "e"]).await.arrival_ms;
    assert!(t1 < t2);
    e.log.trim_before(s, t2).await.expect("trim");
    assert_eq!(
        bounds(&*e.log, s).await.first,
        3,
        "records that arrived before t2 are gone"
    );
    assert_eq!(
        offsets(&read(&*e.log, s, ReadFrom::Offset(0)).await),
        [3, 4],
        "reads honour the trim"
    );
    assert_eq!(offsets(&read(&*e.log, s, ReadFrom::Time(t1)).await), [3, 4]);
    e.log
        .trim_before(s, t1)
        .await
        .expect("trim to an earlier time");
    assert_eq!(
        bounds(&*e.log, s).await.first,
        3,
        "the trim point never moves back"
    );
    e.log.trim_before(s, t2 + 1).await.expect("trim everything");
    let b = bounds(&*e.log, s).await;
    assert_eq!((b.first, b.next), (5, 5));
    assert!(read(&*e.log, s, ReadFrom::Offset(0)).await.is_empty());
    assert!(read(&*e.log, s, ReadFrom::Time(i64::MIN)).await.is_empty());
    let later = append(&*e.log, s, &["f"]).await;
    assert_eq!(later.first_offset, 5, "offsets continue after a full trim");
    assert!(later.arrival_ms >= t2);
    assert_eq!(texts(&read(&*e.log, s, ReadFrom::Offset(0)).await), ["f"]);
    assert_eq!(
        offsets(&read(&*e.log, s, ReadFrom::Time(i64::MIN)).await),
        [5]
    );
}

pub async fn delete_shard(f: &dyn Factory) {
    let e = f.open().await;
    let (s, other) = (key(9, 0), key(9, 1));
    e.log.create_shard(s).await.expect("create shard");
    e.log.create_shard(other).await.expect("create other");
    append(&*e.log, s, &["a", "b", "c"]).await;
    append(&*e.log, other, &["keep"]).await;
    e.log.delete_shard(s).await.expect("delete");
    assert!(matches!(
        e.log.bounds(s).await,
        Err(StorageError::NoSuchShard(_))
    ));
    assert!(matches!(
        e.log.read(s, ReadFrom::Offset(0), 10, 1 << 20).await,
        Err(StorageError::NoSuchShard(_))
    ));
    let err = e.log.append(vec![shard_append(s, &["x"])]).await;
    assert!(matches!(err, Err(StorageError::NoSuchShard(_))));
    e.log.delete_shard(s).await.expect("deleting twice is fine");
    e.log
        .delete_shard(key(9, 7))
        .await
        .expect("deleting a shard that never existed is fine");
    e.log
        .create_shard(s)
        .await
        .expect("the key can be created again");
    assert_eq!(bounds(&*e.log, s).await, Bounds { first: 0, next: 0 });
    assert_eq!(append(&*e.log, s, &["new"]).await.first_offset, 0);
    assert_eq!(
        texts(&read(&*e.log, s, ReadFrom::Offset(0)).await),
        ["new"],
        "no old record survives"
    );
    assert_eq!(
        texts(&read(&*e.log, other, ReadFrom::Offset(0)).await),
        ["keep"]
    );
}

pub async fn reopen_keeps_everything(f: &dyn Factory) {
    let (a, b, gone) = (key(10, 0), key(10, 1), key(10, 2));
    let (before_a, before_b, rev, last);
    {
        let e = f.open().await;
        for s in [a, b, gone] {
            e.log.create_shard(s).await.expect("create shard");
        }
        let t1 = append(&*e.log, a, &["a0", "a1"]).await.arrival_ms;
        tokio::time::sleep(Duration::from_millis(20)).await;
        last = append(&*e.log, a, &["a2"]).await;
        append(&*e.log, b, &["b0"]).await;
        append(&*e.log, gone, &["g0"]).await;
        e.log.trim_before(a, t1 + 1).await.expect("trim");
        e.log.delete_shard(gone).await.expect("delete");
        rev = e
            .meta
            .create("streams/s1", Bytes::from_static(b"v1"))
            .await
            .expect("create");
        before_a = read(&*e.log, a, ReadFrom::Offset(0)).await;
        before_b = read(&*e.log, b, ReadFrom::Offset(0)).await;
        assert_eq!(offsets(&before_a), [2]);
    }
    let e = f.open().await;
    assert_eq!(bounds(&*e.log, a).await, Bounds { first: 2, next: 3 });
    assert_eq!(
        read(&*e.log, a, ReadFrom::Offset(0)).await,
        before_a,
        "records and trim survive"
    );
    assert_eq!(read(&*e.log, b, ReadFrom::Offset(0)).await, before_b);
    assert!(
        matches!(e.log.bounds(gone).await, Err(StorageError::NoSuchShard(_))),
        "deletion survives"
    );
    let entry = e
        .meta
        .get("streams/s1")
        .await
        .expect("get")
        .expect("metadata survives");
    assert_eq!((entry.revision, &entry.value[..]), (rev, &b"v1"[..]));
    let next = append(&*e.log, a, &["a3"]).await;
    assert_eq!(next.first_offset, 3, "offsets continue after reopen");
    assert!(
        next.arrival_ms >= last.arrival_ms,
        "arrival time stays monotonic across restart"
    );
    let rev2 = e
        .meta
        .update("streams/s1", Bytes::from_static(b"v2"), rev)
        .await
        .expect("update");
    assert_ne!(rev2, rev);
}

pub async fn concurrent_appends(f: &dyn Factory) {
    const SHARDS: u32 = 4;
    const TASKS: usize = 16;
    const PER_TASK: usize = 25;
    let e = f.open().await;
    for i in 0..SHARDS {
        e.log.create_shard(key(11, i)).await.expect("create shard");
    }
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let log = Arc::clone(&e.log);
        handles.push(tokio::spawn(async move {
            let mut done = Vec::new();
            for i in 0..PER_TASK {
                let s = key(11, ((t + i) % SHARDS as usize) as u32);
                let words: Vec<String> = (0..1 + (t + i) % 3)
                    .map(|j| format!("{t}-{i}-{j}"))
                    .collect();
                let refs: Vec<&str> = words.iter().map(String::as_str).collect();
                let res = log
                    .append(vec![shard_append(s, &refs)])
                    .await
                    .expect("append");
                done.push((s, res[0], words));
            }
            done
        }));
    }
    let mut expected: HashMap<ShardKey, Vec<(Appended, Vec<String>)>> = HashMap::new();
    for h in handles {
        for (s, res, words) in h.await.expect("task") {
            expected.entry(s).or_default().push((res, words));
        }
    }
    for (s, mut runs) in expected {
        runs.sort_by_key(|(r, _)| r.first_offset);
        let mut next = 0;
        let mut want = Vec::new();
        for (r, words) in &runs {
            assert_eq!(
                r.first_offset, next,
                "offsets in {s:?} are dense and distinct"
            );
            next += words.len() as u64;
            want.extend(words.iter().cloned());
        }
        let recs = e
            .log
            .read(s, ReadFrom::Offset(0), usize::MAX, usize::MAX)
            .await
            .expect("read");
        assert_eq!(
            texts(&recs),
            want,
            "every record sits at the offset it was given"
        );
        assert!(recs.windows(2).all(|w| w[0].arrival_ms <= w[1].arrival_ms));
        assert_eq!(bounds(&*e.log, s).await.next, next);
    }
}
