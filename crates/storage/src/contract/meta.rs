//! MetaStore: compare-and-set and listing.

use super::*;
use crate::MetaError;
use bytes::Bytes;

pub async fn meta_cas(f: &dyn Factory) {
    let e = f.open().await;
    let m = &*e.meta;
    assert!(m.get("k").await.expect("get").is_none());
    let r1 = m
        .create("k", Bytes::from_static(b"one"))
        .await
        .expect("create");
    assert!(matches!(
        m.create("k", Bytes::from_static(b"again")).await,
        Err(MetaError::Exists)
    ));
    let got = m.get("k").await.expect("get").expect("present");
    assert_eq!(
        (got.key.as_str(), got.revision, &got.value[..]),
        ("k", r1, &b"one"[..])
    );
    match m.update("k", Bytes::from_static(b"two"), r1 + 100).await {
        Err(MetaError::Conflict { expected, found }) => {
            assert_eq!((expected, found), (r1 + 100, r1))
        }
        other => panic!("update with a wrong revision must conflict, got {other:?}"),
    }
    let r2 = m
        .update("k", Bytes::from_static(b"two"), r1)
        .await
        .expect("update");
    assert_ne!(r2, r1, "every update changes the revision");
    assert!(matches!(
        m.update("k", Bytes::from_static(b"x"), r1).await,
        Err(MetaError::Conflict { .. })
    ));
    assert_eq!(
        &m.get("k").await.expect("get").expect("present").value[..],
        b"two"
    );
    assert!(matches!(
        m.update("nope", Bytes::new(), 1).await,
        Err(MetaError::NotFound)
    ));
    assert!(matches!(
        m.delete("k", Some(r1)).await,
        Err(MetaError::Conflict { .. })
    ));
    m.delete("k", Some(r2))
        .await
        .expect("delete with the right revision");
    assert!(m.get("k").await.expect("get").is_none());
    assert!(matches!(
        m.delete("k", None).await,
        Err(MetaError::NotFound)
    ));
    let r3 = m
        .create("k", Bytes::from_static(b"three"))
        .await
        .expect("create after delete");
    assert!(
        r3 != r1 && r3 != r2,
        "a recreated key never reuses an old revision"
    );
    assert!(matches!(
        m.update("k", Bytes::new(), r1).await,
        Err(MetaError::Conflict { .. })
    ));
    m.delete("k", None).await.expect("unconditional delete");
}

pub async fn meta_list(f: &dyn Factory) {
    let e = f.open().await;
    let m = &*e.meta;
    for k in ["b/2", "a/1", "b/10", "b/1", "c", "b"] {
        m.create(k, Bytes::from(k.to_owned()))
            .await
            .expect("create");
    }
    let keys = async |p: &str| -> Vec<String> {
        m.list(p)
            .await
            .expect("list")
            .into_iter()
            .map(|e| e.key)
            .collect()
    };
    assert_eq!(
        keys("b/").await,
        ["b/1", "b/10", "b/2"],
        "prefix match in key order"
    );
    assert_eq!(keys("").await, ["a/1", "b", "b/1", "b/10", "b/2", "c"]);
    assert!(keys("zzz").await.is_empty());
    let listed = m.list("a/").await.expect("list");
    assert_eq!(&listed[0].value[..], b"a/1");
    assert_eq!(
        listed[0].revision,
        m.get("a/1").await.expect("get").expect("present").revision
    );
    m.delete("b/10", None).await.expect("delete");
    assert_eq!(keys("b/").await, ["b/1", "b/2"]);
}

/// The change feed sees every later write, deletes included, with its revision, in order.
pub async fn meta_watch(f: &dyn Factory) {
    let e = f.open().await;
    let m = &*e.meta;
    let before = m
        .create("w/old", Bytes::from_static(b"0"))
        .await
        .expect("create");
    let mut feed = m.watch().await.expect("watch");
    let mut second = m.watch().await.expect("second watch");
    let r1 = m
        .create("w/a", Bytes::from_static(b"1"))
        .await
        .expect("create");
    assert!(matches!(
        m.create("w/a", Bytes::from_static(b"x")).await,
        Err(MetaError::Exists)
    ));
    let r2 = m
        .update("w/a", Bytes::from_static(b"2"), r1)
        .await
        .expect("update");
    assert!(matches!(
        m.update("w/a", Bytes::from_static(b"x"), r1).await,
        Err(MetaError::Conflict { .. })
    ));
    m.delete("w/a", Some(r2)).await.expect("delete");
    m.delete("w/old", None).await.expect("delete");
    let r5 = m
        .create("w/a", Bytes::from_static(b"3"))
        .await
        .expect("create again");
    for f in [&mut feed, &mut second] {
        let mut got = Vec::new();
        for _ in 0..5 {
            let c = tokio::time::timeout(std::time::Duration::from_secs(10), f.recv())
                .await
                .expect("the feed reports every write within 10 s")
                .expect("the feed stays open");
            got.push(c);
        }
        let shape: Vec<(&str, Option<&[u8]>)> = got
            .iter()
            .map(|c| (c.key.as_str(), c.value.as_deref()))
            .collect();
        assert_eq!(
            shape,
            [
                ("w/a", Some(&b"1"[..])),
                ("w/a", Some(&b"2"[..])),
                ("w/a", None),
                ("w/old", None),
                ("w/a", Some(&b"3"[..])),
            ],
            "creates, updates and deletes, in order, failed writes left out"
        );
        assert_eq!((got[0].revision, got[1].revision), (r1, r2));
        assert_eq!(got[4].revision, r5);
        assert!(
            got.windows(2).all(|w| w[0].revision < w[1].revision),
            "revisions grow along the feed: {got:?}"
        );
        assert!(
            got[2].revision > r2 && got[3].revision > before,
            "a delete gets a revision above the deleted entry's"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(f.try_recv().is_err(), "nothing else was written");
    }
}
