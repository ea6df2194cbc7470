//! Stream encryption: Start/StopStreamEncryption, sealed records end to end, the KMS key's
//! state enforced on puts and reads, data keys across restarts and rotation.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tributary_engine::{EngineConfig, KeyAccess, KeyAccessCheck, KeyUsage, RequestContext};
use tributary_kms::{KeyService, KeyState};
use tributary_model::types::*;
use tributary_model::*;
use tributary_storage::{ReadFrom, ShardKey};

use crate::test_keys::TestKeys;
use crate::{data_str, fast_timers, put_input, wait_for, Harness, ACCOUNT, REGION};

const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const ALIAS: &str = "alias/orders";
/// Never to be found in the stored bytes of an encrypted stream.
const MARKER: &str = "PLAINTEXT-MARKER-7f3a";

struct Setup {
    h: Harness,
    keys: Arc<TestKeys>,
    key_arn: String,
}

async fn setup(config: EngineConfig) -> Setup {
    let keys = TestKeys::new();
    let key_arn = keys.add(ACCOUNT, REGION, KEY, Some(ALIAS));
    let h = Harness::with_config(EngineConfig {
        keys: Some(keys.clone() as Arc<dyn KeyService>),
        ..config
    })
    .await;
    Setup { h, keys, key_arn }
}

async fn start(h: &Harness, name: &str, key: &str) -> Result<(), StartStreamEncryptionError> {
    h.engine
        .start_stream_encryption(
            &h.ctx,
            StartStreamEncryptionInput {
                stream_name: Some(name.into()),
                encryption_type: EncryptionType::Kms,
                key_id: key.into(),
                ..Default::default()
            },
        )
        .await
}

async fn stop(
    h: &Harness,
    name: &str,
    kind: EncryptionType,
    key: &str,
) -> Result<(), StopStreamEncryptionError> {
    h.engine
        .stop_stream_encryption(
            &h.ctx,
            StopStreamEncryptionInput {
                stream_name: Some(name.into()),
                encryption_type: kind,
                key_id: key.into(),
                ..Default::default()
            },
        )
        .await
}

async fn put_many(
    h: &Harness,
    name: &str,
    items: &[(&str, &str)],
) -> Result<PutRecordsOutput, PutRecordsError> {
    h.engine
        .put_records(
            &h.ctx,
            PutRecordsInput {
                stream_name: Some(name.into()),
                records: items
                    .iter()
                    .map(|(k, d)| PutRecordsRequestEntry {
                        data: Bytes::from(d.to_string()),
                        partition_key: Some(k.to_string()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        )
        .await
}

async fn get_from_start(
    h: &Harness,
    name: &str,
    limit: Option<i32>,
) -> Result<GetRecordsOutput, GetRecordsError> {
    let it = h
        .iterator(
            name,
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await;
    h.engine
        .get_records(
            &h.ctx,
            GetRecordsInput {
                shard_iterator: it,
                limit,
                ..Default::default()
            },
        )
        .await
}

/// The stored payloads of shard 0, read from the ShardLog itself.
async fn raw_payloads(h: &Harness, name: &str) -> Vec<Bytes> {
    let key = format!("stream/{ACCOUNT}/{REGION}/{name}");
    let rec = h.meta.get(&key).await.unwrap().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&rec.value).unwrap();
    let stream = json["id"].as_u64().unwrap();
    let shard = ShardKey { stream, shard: 0 };
    let stored = h
        .log
        .read(shard, ReadFrom::Offset(0), 1000, 1 << 20)
        .await
        .unwrap();
    stored.into_iter().map(|r| r.payload).collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn data_key_count(h: &Harness) -> usize {
    h.meta_keys()
        .await
        .iter()
        .filter(|k| k.starts_with("datakey/"))
        .count()
}

#[tokio::test]
async fn start_goes_through_updating_and_describe_reports_the_key_as_given() {
    let Setup { h, .. } = setup(fast_timers()).await;
    h.create("s", 1).await;
    wait_for(&h, "s", StreamStatus::Active).await;
    assert_eq!(
        h.summary("s").await.encryption_type,
        Some(EncryptionType::None)
    );

    start(&h, "s", ALIAS).await.unwrap();
    assert_eq!(h.summary("s").await.stream_status, StreamStatus::Updating);
    // A second change while UPDATING: AWS's recorded "not ACTIVE" wording.
    let again = start(&h, "s", ALIAS).await.unwrap_err();
    assert_eq!(
        again,
        StartStreamEncryptionError::ResourceInUse(format!(
            "Stream s under account {ACCOUNT} not ACTIVE, instead in state UPDATING"
        ))
    );
    wait_for(&h, "s", StreamStatus::Active).await;
    let d = h.describe("s").await;
    assert_eq!(d.encryption_type, Some(EncryptionType::Kms));
    assert_eq!(d.key_id.as_deref(), Some(ALIAS));
    let sum = h.summary("s").await;
    assert_eq!(sum.encryption_type, Some(EncryptionType::Kms));
    assert_eq!(sum.key_id.as_deref(), Some(ALIAS));

    // Stopping goes through UPDATING too.
    stop(&h, "s", EncryptionType::Kms, ALIAS).await.unwrap();
    assert_eq!(h.summary("s").await.stream_status, StreamStatus::Updating);
    wait_for(&h, "s", StreamStatus::Active).await;
    let d = h.describe("s").await;
    assert_eq!(d.encryption_type, Some(EncryptionType::None));
    assert_eq!(d.key_id, None);
}

#[tokio::test]
async fn sealed_records_round_trip_and_never_reach_the_log_in_clear() {
    let Setup { h, .. } = setup(EngineConfig::default()).await;
    h.create("s", 1).await;
    let before = h.put("s", "pk-old", "written before encryption").await;
    assert_eq!(before.encryption_type, None);

    start(&h, "s", KEY).await.unwrap();
    let one = h.put("s", "pk-secret", MARKER).await;
    assert_eq!(one.encryption_type, Some(EncryptionType::Kms));
    let binary = "\u{0}\u{1}ü🔥";
    let many = put_many(
        &h,
        "s",
        &[("pk-a", &format!("{MARKER}-a")), ("pk-b", binary)],
    )
    .await
    .unwrap();
    assert_eq!(many.encryption_type, Some(EncryptionType::Kms));
    assert_eq!(many.failed_record_count, Some(0));

    let out = get_from_start(&h, "s", None).await.unwrap();
    let got: Vec<_> = out
        .records
        .iter()
        .map(|r| {
            (
                r.partition_key.clone().unwrap(),
                data_str(r),
                r.encryption_type,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("pk-old".into(), "written before encryption".into(), None),
            ("pk-secret".into(), MARKER.into(), Some(EncryptionType::Kms)),
            (
                "pk-a".into(),
                format!("{MARKER}-a"),
                Some(EncryptionType::Kms)
            ),
            ("pk-b".into(), binary.into(), Some(EncryptionType::Kms)),
        ]
    );
    assert_eq!(out.records[1].sequence_number, one.sequence_number);

    let raw = raw_payloads(&h, "s").await;
    assert_eq!(raw.len(), 4);
    assert_eq!(raw[0][0], 1, "records before encryption keep layout 1");
    assert!(contains(&raw[0], "pk-old"));
    for p in &raw[1..] {
        assert_eq!(p[0], 2, "sealed layout");
        assert!(!contains(p, MARKER), "plaintext in the log");
        assert!(!contains(p, "pk-"), "partition key in the log");
    }
    assert_eq!(data_key_count(&h).await, 1, "one data key, persisted");
}

#[tokio::test]
async fn a_disabled_key_refuses_puts_and_reads_until_enabled_again() {
    let Setup { h, keys, .. } = setup(EngineConfig::default()).await;
    h.create("s", 1).await;
    h.put("s", "k", "plain").await;
    start(&h, "s", ALIAS).await.unwrap();
    h.put("s", "k", "sealed").await;

    keys.set_state(KEY, KeyState::Disabled);
    let e = h
        .engine
        .put_record(&h.ctx, put_input("s", "k", "refused"))
        .await
        .unwrap_err();
    assert!(matches!(e, PutRecordError::KmsDisabled(_)), "{e:?}");
    // PutRecords fails as a whole, not record by record.
    let e = put_many(&h, "s", &[("a", "x"), ("b", "y")])
        .await
        .unwrap_err();
    assert!(matches!(e, PutRecordsError::KmsDisabled(_)), "{e:?}");
    let e = get_from_start(&h, "s", None).await.unwrap_err();
    assert!(matches!(e, GetRecordsError::KmsDisabled(_)), "{e:?}");
    // A batch of records stored before encryption needs no key.
    let only_plain = get_from_start(&h, "s", Some(1)).await.unwrap();
    assert_eq!(data_str(&only_plain.records[0]), "plain");

    keys.set_state(KEY, KeyState::Enabled);
    h.put("s", "k", "again").await;
    let out = get_from_start(&h, "s", None).await.unwrap();
    let data: Vec<_> = out.records.iter().map(data_str).collect();
    assert_eq!(data, ["plain", "sealed", "again"]);
}

#[tokio::test]
async fn stop_keeps_sealed_records_readable_and_writes_plain_ones() {
    let Setup { h, key_arn, .. } = setup(EngineConfig::default()).await;
    h.create("s", 1).await;
    // Not encrypted: nothing to stop (reconstructed answer).
    let e = stop(&h, "s", EncryptionType::Kms, KEY).await.unwrap_err();
    assert!(
        matches!(e, StopStreamEncryptionError::InvalidArgument(_)),
        "{e:?}"
    );

    start(&h, "s", ALIAS).await.unwrap();
    h.put("s", "k", "sealed").await;
    let e = stop(&h, "s", EncryptionType::None, ALIAS)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StopStreamEncryptionError::InvalidArgument(_)),
        "{e:?}"
    );
    let e = stop(&h, "s", EncryptionType::Kms, "alias/other")
        .await
        .unwrap_err();
    assert!(
        matches!(e, StopStreamEncryptionError::InvalidArgument(_)),
        "{e:?}"
    );
    // The key's ARN names the key the stream was encrypted with by its alias.
    stop(&h, "s", EncryptionType::Kms, &key_arn).await.unwrap();

    let after = h.put("s", "k", MARKER).await;
    assert_eq!(after.encryption_type, None);
    let out = get_from_start(&h, "s", None).await.unwrap();
    let got: Vec<_> = out
        .records
        .iter()
        .map(|r| (data_str(r), r.encryption_type))
        .collect();
    assert_eq!(
        got,
        vec![
            ("sealed".into(), Some(EncryptionType::Kms)),
            (MARKER.into(), None)
        ]
    );
    let raw = raw_payloads(&h, "s").await;
    assert_eq!((raw[0][0], raw[1][0]), (2, 1));
}

#[tokio::test]
async fn a_restarted_engine_resumes_the_transition_and_decrypts_through_the_key_service() {
    let config = EngineConfig {
        update_delay: Duration::from_millis(200),
        ..Default::default()
    };
    let Setup { mut h, keys, .. } = setup(config).await;
    h.create("s", 1).await;
    start(&h, "s", ALIAS).await.unwrap();
    // Restarted while UPDATING: the new engine completes the persisted transition.
    h.restart().await;
    wait_for(&h, "s", StreamStatus::Active).await;
    assert_eq!(h.summary("s").await.key_id.as_deref(), Some(ALIAS));
    h.put("s", "k", MARKER).await;

    h.restart().await;
    let decrypted = keys.decrypted.load(Ordering::Relaxed);
    let out = get_from_start(&h, "s", None).await.unwrap();
    assert_eq!(data_str(&out.records[0]), MARKER);
    assert_eq!(
        keys.decrypted.load(Ordering::Relaxed),
        decrypted + 1,
        "the new engine recovered the data key from its record"
    );
    // A new start writes under a new data key of its own.
    h.put("s", "k", "second").await;
    assert_eq!(data_key_count(&h).await, 2);
    let out = get_from_start(&h, "s", None).await.unwrap();
    assert_eq!(out.records.len(), 2);
}

#[tokio::test]
async fn data_keys_rotate_after_their_period_and_go_with_the_stream() {
    let config = EngineConfig {
        data_key_period: Duration::from_millis(50),
        ..Default::default()
    };
    let Setup { h, keys, .. } = setup(config).await;
    h.create("s", 1).await;
    start(&h, "s", KEY).await.unwrap();
    h.put("s", "k", "one").await;
    h.put("s", "k", "two").await;
    assert_eq!(
        keys.generated.load(Ordering::Relaxed),
        1,
        "one key per period"
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    h.put("s", "k", "three").await;
    assert_eq!(keys.generated.load(Ordering::Relaxed), 2);
    assert_eq!(data_key_count(&h).await, 2);
    let raw = raw_payloads(&h, "s").await;
    assert_eq!(raw[0][1..9], raw[1][1..9], "same data key id");
    assert_ne!(raw[1][1..9], raw[2][1..9], "rotated");
    let out = get_from_start(&h, "s", None).await.unwrap();
    let data: Vec<_> = out.records.iter().map(data_str).collect();
    assert_eq!(data, ["one", "two", "three"]);

    h.engine
        .delete_stream(
            &h.ctx,
            DeleteStreamInput {
                stream_name: Some("s".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(data_key_count(&h).await, 0, "pruned with the stream");
}

#[tokio::test]
async fn key_errors_map_to_kms_exceptions() {
    let Setup { h, keys, .. } = setup(EngineConfig::default()).await;
    h.create("s", 1).await;
    let e = start(&h, "s", "alias/missing").await.unwrap_err();
    assert!(
        matches!(e, StartStreamEncryptionError::KmsNotFound(_)),
        "{e:?}"
    );
    let e = h
        .engine
        .start_stream_encryption(
            &h.ctx,
            StartStreamEncryptionInput {
                stream_name: Some("s".into()),
                encryption_type: EncryptionType::None,
                key_id: KEY.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, StartStreamEncryptionError::InvalidArgument(_)),
        "{e:?}"
    );
    let e = start(&h, "missing", KEY).await.unwrap_err();
    assert!(
        matches!(e, StartStreamEncryptionError::ResourceNotFound(_)),
        "{e:?}"
    );

    keys.set_state(KEY, KeyState::Disabled);
    let e = start(&h, "s", KEY).await.unwrap_err();
    assert!(
        matches!(e, StartStreamEncryptionError::KmsDisabled(_)),
        "{e:?}"
    );
    keys.set_state(KEY, KeyState::PendingDeletion);
    let e = start(&h, "s", KEY).await.unwrap_err();
    assert!(
        matches!(e, StartStreamEncryptionError::KmsInvalidState(_)),
        "{e:?}"
    );
    assert_eq!(
        h.summary("s").await.encryption_type,
        Some(EncryptionType::None)
    );

    keys.set_state(KEY, KeyState::Enabled);
    start(&h, "s", KEY).await.unwrap();
    h.put("s", "k", "x").await;
    keys.set_state(KEY, KeyState::PendingDeletion);
    let e = h
        .engine
        .put_record(&h.ctx, put_input("s", "k", "y"))
        .await
        .unwrap_err();
    assert!(matches!(e, PutRecordError::KmsInvalidState(_)), "{e:?}");
    let e = get_from_start(&h, "s", None).await.unwrap_err();
    assert!(matches!(e, GetRecordsError::KmsInvalidState(_)), "{e:?}");
}

#[tokio::test]
async fn without_a_key_service_start_is_kms_not_found() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let e = start(&h, "s", KEY).await.unwrap_err();
    match e {
        StartStreamEncryptionError::KmsNotFound(m) => assert!(m.contains(KEY), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn subscriptions_decrypt_and_end_when_the_key_is_disabled() {
    let Setup { h, keys, .. } = setup(EngineConfig::default()).await;
    h.create("s", 1).await;
    start(&h, "s", ALIAS).await.unwrap();
    let consumer = h.register("s", "c").await;
    h.put("s", "k", MARKER).await;
    let mut sub = h
        .subscribe(
            &consumer.consumer_arn,
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), sub.next_event())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(data_str(&event.records[0]), MARKER);
    assert_eq!(event.records[0].encryption_type, Some(EncryptionType::Kms));

    h.put("s", "k", "next").await;
    keys.set_state(KEY, KeyState::Disabled);
    let end = tokio::time::timeout(Duration::from_secs(5), sub.next_event())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(end, SubscribeToShardError::InternalFailure(_)),
        "{end:?}"
    );
    assert_eq!(
        sub.next_event().await.unwrap(),
        None,
        "the subscription ended"
    );
}

#[tokio::test]
async fn each_node_writes_under_its_own_data_key_and_reads_the_others() {
    let Setup { h: a, keys, .. } = setup(EngineConfig::default()).await;
    a.create("s", 1).await;
    start(&a, "s", ALIAS).await.unwrap();
    a.put("s", "k", "from a").await;
    let b = a.another_node(a.config.clone()).await;
    b.put("s", "k", "from b").await;
    assert_eq!(keys.generated.load(Ordering::Relaxed), 2);
    assert_eq!(data_key_count(&a).await, 2);
    for node in [&a, &b] {
        let out = get_from_start(node, "s", None).await.unwrap();
        let data: Vec<_> = out.records.iter().map(data_str).collect();
        assert_eq!(data, ["from a", "from b"]);
    }
}

/// A caller's KMS permissions as the server would decide them: the keys it may use for each
/// usage, and every question asked.
struct Permits {
    generate: Vec<String>,
    decrypt: Vec<String>,
    asked: parking_lot::Mutex<Vec<(KeyUsage, String)>>,
}

impl KeyAccessCheck for Permits {
    fn check<'a>(
        &'a self,
        usage: KeyUsage,
        _stream_arn: &'a str,
        key_arn: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        self.asked.lock().push((usage, key_arn.to_string()));
        let allowed = match usage {
            KeyUsage::GenerateDataKey => &self.generate,
            KeyUsage::Decrypt => &self.decrypt,
        };
        let answer = if allowed.iter().any(|k| k == key_arn) {
            Ok(())
        } else {
            Err(format!("may not use {key_arn}"))
        };
        Box::pin(async move { answer })
    }
}

fn caller(h: &Harness, generate: &[&str], decrypt: &[&str]) -> (RequestContext, Arc<Permits>) {
    let permits = Arc::new(Permits {
        generate: generate.iter().map(|k| k.to_string()).collect(),
        decrypt: decrypt.iter().map(|k| k.to_string()).collect(),
        asked: Default::default(),
    });
    let mut ctx = h.ctx.clone();
    ctx.key_access = Some(KeyAccess(permits.clone()));
    (ctx, permits)
}

async fn read_as(h: &Harness, ctx: &RequestContext) -> Result<GetRecordsOutput, GetRecordsError> {
    let it = h
        .iterator(
            "s",
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await;
    h.engine
        .get_records(
            ctx,
            GetRecordsInput {
                shard_iterator: it,
                ..Default::default()
            },
        )
        .await
}

#[tokio::test]
async fn every_key_a_request_uses_is_authorized_for_its_caller() {
    let Setup { h, keys, key_arn } = setup(fast_timers()).await;
    let other = keys.add(
        ACCOUNT,
        REGION,
        "5678abcd-12ab-34cd-56ef-1234567890ab",
        None,
    );
    h.create("s", 1).await;
    wait_for(&h, "s", StreamStatus::Active).await;
    h.put("s", "k", "plain").await;
    start(&h, "s", ALIAS).await.unwrap();
    wait_for(&h, "s", StreamStatus::Active).await;
    h.put("s", "k", "under the first key").await;
    // A new key: new records are sealed under it, older ones keep the first.
    start(&h, "s", &other).await.unwrap();
    wait_for(&h, "s", StreamStatus::Active).await;
    h.put("s", "k", "under the second key").await;

    // Writing needs GenerateDataKey on the stream's key now, not on an earlier one.
    let (first_only, asked) = caller(&h, &[&key_arn], &[&key_arn]);
    let e = h
        .engine
        .put_record(&first_only, put_input("s", "k", "x"))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        PutRecordError::KmsAccessDenied(format!("may not use {other}"))
    );
    assert_eq!(
        asked.asked.lock()[0],
        (KeyUsage::GenerateDataKey, other.clone())
    );

    // Reading needs Decrypt on every key that sealed records in the batch: the current key
    // alone does not open records sealed under the first.
    let (second_only, asked) = caller(&h, &[&other], &[&other]);
    h.engine
        .put_record(&second_only, put_input("s", "k", "allowed"))
        .await
        .unwrap();
    let e = read_as(&h, &second_only).await.unwrap_err();
    assert_eq!(
        e,
        GetRecordsError::KmsAccessDenied(format!("may not use {key_arn}"))
    );
    assert!(asked
        .asked
        .lock()
        .contains(&(KeyUsage::Decrypt, key_arn.clone())));
    let (both, _) = caller(&h, &[], &[&key_arn, &other]);
    let data: Vec<String> = read_as(&h, &both)
        .await
        .unwrap()
        .records
        .iter()
        .map(data_str)
        .collect();
    assert_eq!(
        data,
        [
            "plain",
            "under the first key",
            "under the second key",
            "allowed"
        ]
    );

    // After StopStreamEncryption the sealed records still need their keys.
    stop(&h, "s", EncryptionType::Kms, &other).await.unwrap();
    wait_for(&h, "s", StreamStatus::Active).await;
    let (nothing, _) = caller(&h, &[], &[]);
    h.engine
        .put_record(&nothing, put_input("s", "k", "plain again"))
        .await
        .unwrap();
    assert!(matches!(
        read_as(&h, &nothing).await,
        Err(GetRecordsError::KmsAccessDenied(_))
    ));
}
