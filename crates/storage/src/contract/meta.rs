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
