//! Several LocalKms nodes on one MetaStore, as on the replicated tier.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::json;
use tributary_kms::api::KmsOperation as Op;
use tributary_kms::{KeyError, KeyService, LocalKms};
use tributary_storage::memory::MemoryMetaStore;

async fn two_nodes() -> (Arc<MemoryMetaStore>, Arc<LocalKms>, Arc<LocalKms>) {
    let store = Arc::new(MemoryMetaStore::new());
    let a = LocalKms::open(store.clone(), root()).await.unwrap();
    let b = LocalKms::open(store.clone(), root()).await.unwrap();
    (store, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_kinesis_key_is_made_once_under_a_race() {
    for round in 0..20 {
        let (store, a, b) = two_nodes().await;
        let (ra, rb) = tokio::join!(
            tokio::spawn({
                let a = a.clone();
                async move { a.describe_key(&scope(), "alias/aws/kinesis").await }
            }),
            tokio::spawn({
                let b = b.clone();
                async move { b.describe_key(&scope(), "alias/aws/kinesis").await }
            }),
        );
        let (ka, kb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
        assert_eq!(ka.key_id, kb.key_id, "round {round}");
        let keys: Vec<String> = store
            .keys()
            .into_iter()
            .filter(|k| k.starts_with("kms/key/"))
            .collect();
        assert_eq!(keys.len(), 1, "round {round}: {keys:?}");
        assert!(keys[0].ends_with(&ka.key_id));
    }
}

/// Waits (bounded) until `check` holds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never happened"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn other_nodes_writes_reach_the_cache() {
    let (_store, a, b) = two_nodes().await;
    let (id, arn) = create_key(&a).await;
    // b has not heard of it yet or has: either way it finds it (store fallback).
    assert_eq!(b.describe_key(&scope(), &id).await.unwrap().arn, arn);
    let dk = b.generate_data_key(&arn, &[]).await.unwrap();

    call(&a, Op::DisableKey, json!({"KeyId": id}))
        .await
        .unwrap();
    eventually("b sees the key disabled", async || {
        matches!(
            b.generate_data_key(&arn, &[]).await,
            Err(KeyError::Disabled(_))
        )
    })
    .await;
    call(&b, Op::EnableKey, json!({"KeyId": id})).await.unwrap();
    eventually("a sees the key enabled", async || {
        a.decrypt(&arn, &dk.ciphertext, &[]).await.is_ok()
    })
    .await;

    call(
        &a,
        Op::CreateAlias,
        json!({"AliasName": "alias/shared", "TargetKeyId": id}),
    )
    .await
    .unwrap();
    eventually("b lists the alias", async || {
        let out = call(&b, Op::ListAliases, json!({"KeyId": id}))
            .await
            .unwrap();
        out["Aliases"].as_array().unwrap().len() == 1
    })
    .await;
    call(&b, Op::DeleteAlias, json!({"AliasName": "alias/shared"}))
        .await
        .unwrap();
    eventually("a forgets the alias", async || {
        a.describe_key(&scope(), "alias/shared").await.is_err()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_state_changes_never_lose_a_write() {
    let (_store, a, b) = two_nodes().await;
    let (id, arn) = create_key(&a).await;
    b.describe_key(&scope(), &id).await.unwrap();
    // Both nodes flip the key many times; every call succeeds (CAS retries), and the last
    // write decides the state everyone ends up seeing.
    let flip = |kms: Arc<LocalKms>, id: String| async move {
        for i in 0..30 {
            let op = if i % 2 == 0 {
                Op::DisableKey
            } else {
                Op::EnableKey
            };
            call(&kms, op, json!({"KeyId": id})).await.unwrap();
        }
    };
    let (x, y) = tokio::join!(
        tokio::spawn(flip(a.clone(), id.clone())),
        tokio::spawn(flip(b.clone(), id.clone()))
    );
    x.unwrap();
    y.unwrap();
    call(&a, Op::ScheduleKeyDeletion, json!({"KeyId": id}))
        .await
        .unwrap();
    eventually("b sees the deletion", async || {
        matches!(
            b.generate_data_key(&arn, &[]).await,
            Err(KeyError::InvalidState(_))
        )
    })
    .await;
}

#[tokio::test]
async fn a_closed_watch_is_followed_again() {
    let (store, a, b) = two_nodes().await;
    let (id, arn) = create_key(&a).await;
    b.describe_key(&scope(), &id).await.unwrap();
    store.close_watches();
    call(&a, Op::DisableKey, json!({"KeyId": id}))
        .await
        .unwrap();
    eventually(
        "b sees the key disabled after following again",
        async || {
            matches!(
                b.generate_data_key(&arn, &[]).await,
                Err(KeyError::Disabled(_))
            )
        },
    )
    .await;
}

/// Runs `scenario` on a thread and runtime of its own, failing if it has not ended within
/// `secs`: a call that spins without ever yielding would otherwise hang the test.
fn within(secs: u64, scenario: impl std::future::Future<Output = ()> + Send + 'static) {
    let (done, ended) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(scenario);
        let _ = done.send(());
    });
    match ended.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => thread.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(thread.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("the scenario did not end within {secs} s")
        }
    }
}

/// Two nodes that both know `alias/gap`, whose feeds are then closed; `a` deletes the alias
/// before `b` watches again, so no event ever tells `b`.
async fn alias_deleted_in_a_gap() -> (Arc<LocalKms>, Arc<LocalKms>) {
    let (store, a, b) = two_nodes().await;
    let (id, _) = create_key(&a).await;
    call(
        &a,
        Op::CreateAlias,
        json!({"AliasName": "alias/gap", "TargetKeyId": id}),
    )
    .await
    .unwrap();
    b.describe_key(&scope(), "alias/gap").await.unwrap();
    store.close_watches();
    call(&a, Op::DeleteAlias, json!({"AliasName": "alias/gap"}))
        .await
        .unwrap();
    (a, b)
}

#[tokio::test]
async fn a_deletion_missed_while_the_feed_was_closed_is_forgotten() {
    let (_a, b) = alias_deleted_in_a_gap().await;
    // Listing reads the cache only: it learns of the deletion when b follows again.
    eventually(
        "b forgets the alias deleted while its feed was closed",
        async || {
            let out = call(&b, Op::ListAliases, json!({})).await.unwrap();
            !out["Aliases"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["AliasName"] == "alias/gap")
        },
    )
    .await;
    assert!(matches!(
        b.describe_key(&scope(), "alias/gap").await,
        Err(KeyError::NotFound(_))
    ));
}

#[test]
fn delete_alias_of_an_alias_gone_from_the_store_answers_not_found() {
    within(10, async {
        let (_a, b) = alias_deleted_in_a_gap().await;
        // b's cache still holds the alias: the delete finds it gone from the store, and the
        // store's word must replace the cache's, not send the delete round again.
        let failure = call(&b, Op::DeleteAlias, json!({"AliasName": "alias/gap"}))
            .await
            .unwrap_err();
        assert_eq!(failure.code, "NotFoundException");
        assert_eq!(
            call(&b, Op::DeleteAlias, json!({"AliasName": "alias/gap"}))
                .await
                .unwrap_err()
                .code,
            "NotFoundException"
        );
    });
}
