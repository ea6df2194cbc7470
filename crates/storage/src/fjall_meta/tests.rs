//! What only the fjall metadata store promises: the directory lock, the format check, the
//! layout of release 0.1, and keys fjall cannot hold. The MetaStore contract itself runs in
//! `segments::tests`, with this store beside the segment log as in production.

use super::*;
use crate::MetaStore;
use ::fjall::KeyspaceCreateOptions;

/// The keyspaces of the record engine release 0.1 carried; old directories still hold them.
const LEGACY: [&str; 3] = ["records", "by_time", "shards"];

fn raw(dir: &Path) -> Database {
    Database::builder(dir.join("fjall"))
        .open()
        .expect("raw open")
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = FjallMeta::open(dir.path()).expect("open");
    match FjallMeta::open(dir.path()) {
        Err(StorageError::Io(msg)) => assert!(msg.contains("already in use"), "{msg}"),
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(_) => panic!("a second open must fail while the first is alive"),
    }
    drop(first);
    drop(FjallMeta::open(dir.path()).expect("released on drop"));
}

#[tokio::test]
async fn a_new_directory_gets_only_the_metadata_keyspaces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FjallMeta::open(dir.path()).expect("open");
    let rev = store
        .create("k", Bytes::from_static(b"v"))
        .await
        .expect("create");
    drop(store);
    let db = raw(dir.path());
    let mut names: Vec<String> = db
        .list_keyspace_names()
        .into_iter()
        .map(|n| n.to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["meta", "sys"]);
    drop(db);
    let store = FjallMeta::open(dir.path()).expect("reopen");
    assert_eq!(
        store.get("k").await.expect("get").expect("kept").revision,
        rev
    );
}

/// A directory as release 0.1 left it: format version, revision counter, and the empty
/// record keyspaces, which must stay there untouched.
#[tokio::test]
async fn a_directory_with_the_old_record_keyspaces_opens_and_keeps_counting() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = raw(dir.path());
        for name in LEGACY {
            db.keyspace(name, KeyspaceCreateOptions::default)
                .expect("legacy keyspace");
        }
        let sys = db
            .keyspace(KS_SYS, KeyspaceCreateOptions::default)
            .expect("sys");
        let meta = db
            .keyspace(KS_META, KeyspaceCreateOptions::default)
            .expect("meta");
        sys.insert(SYS_FORMAT, FORMAT_VERSION.to_be_bytes())
            .expect("format");
        sys.insert(SYS_META_REVISION, 41u64.to_be_bytes())
            .expect("counter");
        let mut v = 41u64.to_be_bytes().to_vec();
        v.extend_from_slice(b"old");
        meta.insert("streams/a", v).expect("entry");
        db.persist(PersistMode::SyncAll).expect("persist");
    }
    let store = FjallMeta::open(dir.path()).expect("open");
    let e = store.get("streams/a").await.expect("get").expect("present");
    assert_eq!((e.revision, &e.value[..]), (41, &b"old"[..]));
    assert_eq!(
        store
            .create("streams/b", Bytes::new())
            .await
            .expect("create"),
        42,
        "revisions go on from the stored counter"
    );
    drop(store);
    let db = raw(dir.path());
    for name in LEGACY {
        assert!(db.keyspace_exists(name), "{name} left in place");
    }
}

#[test]
fn an_incompatible_format_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(FjallMeta::open(dir.path()).expect("open"));
    {
        let db = raw(dir.path());
        let sys = db
            .keyspace(KS_SYS, KeyspaceCreateOptions::default)
            .expect("sys");
        sys.insert(SYS_FORMAT, 99u32.to_be_bytes()).expect("insert");
        db.persist(PersistMode::SyncAll).expect("persist");
    }
    match FjallMeta::open(dir.path()) {
        Err(StorageError::Corrupt(msg)) => {
            assert!(msg.contains("format version 99"), "{msg}");
            assert!(
                msg.contains(&format!("only version {FORMAT_VERSION}")),
                "{msg}"
            );
        }
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(_) => panic!("opening a future format must fail"),
    }
}

#[test]
fn a_foreign_fjall_database_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = raw(dir.path());
        let ks = db
            .keyspace("items", KeyspaceCreateOptions::default)
            .expect("ks");
        ks.insert("someone else's", "data").expect("insert");
    }
    match FjallMeta::open(dir.path()) {
        Err(StorageError::Corrupt(msg)) => {
            assert!(msg.contains("not written by Tributary"), "{msg}")
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    let db = raw(dir.path());
    assert!(!db.keyspace_exists(KS_META), "no keyspace was added");
    assert!(!db.keyspace_exists(KS_SYS));
}

#[tokio::test]
async fn metadata_keys_fjall_cannot_store_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FjallMeta::open(dir.path()).expect("open");
    assert!(matches!(
        store.create("", Bytes::new()).await,
        Err(MetaError::Storage(_))
    ));
    assert!(store.get("").await.expect("get").is_none());
}

/// A delete takes a revision from the stored counter (the change feed reports it), and a
/// reopened store goes on after it.
#[tokio::test]
async fn a_delete_takes_a_revision_that_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FjallMeta::open(dir.path()).expect("open");
    let r1 = store
        .create("k", Bytes::from_static(b"v"))
        .await
        .expect("create");
    let mut feed = store.watch().await.expect("watch");
    store.delete("k", Some(r1)).await.expect("delete");
    let deleted = feed.recv().await.expect("the delete is reported");
    assert_eq!((deleted.key.as_str(), deleted.value), ("k", None));
    assert!(deleted.revision > r1);
    drop(store);
    assert!(
        feed.recv().await.is_none(),
        "dropping the store closes its feeds"
    );
    let store = FjallMeta::open(dir.path()).expect("reopen");
    let r3 = store
        .create("k", Bytes::from_static(b"again"))
        .await
        .expect("create again");
    assert!(
        r3 > deleted.revision,
        "revisions go on after the delete's, across a reopen"
    );
}
