//! ShardLog: closing a shard to appends (a parent after a split or merge).

use super::*;
use crate::StorageError;
use std::sync::Arc;
use std::time::Duration;

pub async fn close_shard(f: &dyn Factory) {
    let e = f.open().await;
    let log = &*e.log;
    let (s, other) = (key(20, 0), key(20, 1));
    for k in [s, other] {
        log.create_shard(k).await.expect("create shard");
    }
    append(log, s, &["a", "b", "c"]).await;
    assert_eq!(log.close_shard(s).await.expect("close"), 3, "the end");
    let refused = log.append(vec![shard_append(s, &["late"])]).await;
    assert!(
        matches!(refused, Err(StorageError::Closed(k)) if k == s),
        "an append to a closed shard fails with Closed, got {refused:?}"
    );
    let mixed = vec![shard_append(other, &["x"]), shard_append(s, &["y"])];
    assert!(
        matches!(log.append(mixed).await, Err(StorageError::Closed(k)) if k == s),
        "a call naming a closed shard fails"
    );
    assert_eq!(
        bounds(log, other).await.next,
        0,
        "nothing of a refused call is written, to any shard"
    );
    assert_eq!(
        log.close_shard(s).await.expect("close again"),
        3,
        "idempotent"
    );
    assert_eq!(
        texts(&read(log, s, ReadFrom::Offset(0)).await),
        ["a", "b", "c"]
    );
    assert_eq!(bounds(log, s).await.next, 3);
    assert_eq!(
        append(log, other, &["z"]).await.first_offset,
        0,
        "others stay open"
    );
    assert!(matches!(
        log.close_shard(key(20, 9)).await,
        Err(StorageError::NoSuchShard(_))
    ));
    log.delete_shard(s).await.expect("delete a closed shard");
    log.create_shard(s).await.expect("create it again");
    assert_eq!(
        append(log, s, &["new"]).await.first_offset,
        0,
        "a re-created shard starts open and empty"
    );
}

/// Appends racing a close: every acknowledged record lies below the end and is readable;
/// every refused call failed with Closed; the log holds exactly the acknowledged records.
pub async fn close_races_appends(f: &dyn Factory) {
    let e = f.open().await;
    let log = Arc::clone(&e.log);
    let s = key(21, 0);
    log.create_shard(s).await.expect("create shard");
    let mut writers = Vec::new();
    for w in 0..4 {
        let log = Arc::clone(&log);
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0.. {
                let word = format!("{w}-{i}");
                match log.append(vec![shard_append(s, &[word.as_str()])]).await {
                    Ok(a) => acked.push((a[0].first_offset, word)),
                    Err(StorageError::Closed(k)) if k == s => return acked,
                    Err(other) => panic!("an append racing a close failed with {other:?}"),
                }
            }
            unreachable!()
        }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    let end = log.close_shard(s).await.expect("close");
    let mut acked = Vec::new();
    for w in writers {
        let got = tokio::time::timeout(Duration::from_secs(10), w)
            .await
            .expect("writers stop once the shard is closed")
            .expect("writer");
        acked.extend(got);
    }
    acked.sort();
    assert_eq!(
        acked.len() as u64,
        end,
        "every record below the end was acknowledged"
    );
    let stored = read(&*log, s, ReadFrom::Offset(0)).await;
    let stored: Vec<(u64, String)> = offsets(&stored).into_iter().zip(texts(&stored)).collect();
    assert_eq!(
        stored, acked,
        "the log holds exactly the acknowledged records"
    );
    assert_eq!(bounds(&*log, s).await.next, end);
}
