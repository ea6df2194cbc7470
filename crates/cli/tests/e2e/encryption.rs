//! Encryption at rest (issue 13), with `aws-sdk-kms` and `aws-sdk-kinesis` against the spawned
//! binary: ciphertext on disk, KMS permissions, key states, an external KMS.

use std::path::Path;
use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{EncryptionType, ShardIteratorType, StreamStatus};
use aws_sdk_kms::config::{Credentials, Region};
use tributary_testkit::TestServer;

use crate::{create, err_of, iterator, server_with};

fn kms(s: &TestServer, key: &str, secret: &str) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(s.endpoint())
        .credentials_provider(Credentials::new(key, secret, None, None, "e2e"))
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

async fn new_key(k: &aws_sdk_kms::Client) -> (String, String) {
    let meta = k
        .create_key()
        .description("e2e")
        .send()
        .await
        .expect("create key")
        .key_metadata
        .expect("key metadata");
    (meta.key_id, meta.arn.expect("arn"))
}

async fn encrypt_stream(c: &aws_sdk_kinesis::Client, stream: &str, key: &str) {
    c.start_stream_encryption()
        .stream_name(stream)
        .encryption_type(EncryptionType::Kms)
        .key_id(key)
        .send()
        .await
        .expect("start stream encryption");
    wait_active(c, stream).await;
}

async fn wait_active(c: &aws_sdk_kinesis::Client, stream: &str) {
    for _ in 0..200 {
        let d = c
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .unwrap()
            .stream_description_summary
            .unwrap();
        if d.stream_status == StreamStatus::Active {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{stream} did not become ACTIVE");
}

async fn put(
    c: &aws_sdk_kinesis::Client,
    stream: &str,
    pk: &str,
    data: &[u8],
) -> Option<EncryptionType> {
    c.put_record()
        .stream_name(stream)
        .partition_key(pk)
        .data(Blob::new(data))
        .send()
        .await
        .expect("put record")
        .encryption_type
}

/// The error code of a PutRecord that must fail.
async fn refused_put(c: &aws_sdk_kinesis::Client, stream: &str) -> String {
    let r = c
        .put_record()
        .stream_name(stream)
        .partition_key("c")
        .data(Blob::new("x"))
        .send()
        .await;
    err_of(r).0
}

/// Every record of shard 0 from the start, with its encryption type.
async fn read_all(
    c: &aws_sdk_kinesis::Client,
    stream: &str,
) -> Vec<(Vec<u8>, Option<EncryptionType>)> {
    let it = iterator(
        c,
        stream,
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
    )
    .await;
    let out = c
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .expect("get records");
    out.records
        .into_iter()
        .map(|r| (r.data.into_inner(), r.encryption_type))
        .collect()
}

/// Whether any file under `dir` contains `needle`.
fn on_disk(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    return true;
                }
            }
        }
    }
    false
}

#[tokio::test]
async fn encrypted_records_are_never_on_disk_in_the_clear_and_read_back_byte_for_byte() {
    let mut s = server_with(&["--update-stream-ms", "200"]);
    let c = s.sdk();
    let k = kms(&s, "AKIDTEST", "secret");
    create(&c, "enc", 1).await;
    // Written before encryption: found on disk, which shows the search below can succeed.
    let before = b"PLAINTEXT-BEFORE-ENCRYPTION-4d1f";
    assert_eq!(put(&c, "enc", "pk-before", before).await, None);

    let (_, arn) = new_key(&k).await;
    c.start_stream_encryption()
        .stream_name("enc")
        .encryption_type(EncryptionType::Kms)
        .key_id(&arn)
        .send()
        .await
        .unwrap();
    let d = c.describe_stream().stream_name("enc").send().await.unwrap();
    assert_eq!(
        d.stream_description.unwrap().stream_status,
        StreamStatus::Updating
    );
    wait_active(&c, "enc").await;
    let d = c
        .describe_stream()
        .stream_name("enc")
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap();
    assert_eq!(d.encryption_type, Some(EncryptionType::Kms));
    assert_eq!(d.key_id.as_deref(), Some(arn.as_str()));

    let marker = b"TRIBUTARY-SECRET-MARKER-9c2e7a51";
    let pk = "PARTITION-KEY-MARKER-77b3";
    assert_eq!(put(&c, "enc", pk, marker).await, Some(EncryptionType::Kms));
    let records = read_all(&c, "enc").await;
    assert_eq!(
        records,
        vec![
            (before.to_vec(), None),
            (marker.to_vec(), Some(EncryptionType::Kms))
        ]
    );

    // Stop the server so every byte it holds is in its files, then look.
    s.kill9();
    assert!(
        on_disk(s.data_dir(), before),
        "the control record is on disk"
    );
    assert!(
        !on_disk(s.data_dir(), marker),
        "the encrypted record's data is on disk in the clear"
    );
    assert!(
        !on_disk(s.data_dir(), pk.as_bytes()),
        "its partition key is on disk in the clear"
    );

    // The root key in the data directory brings everything back after a restart.
    s.restart();
    let c = s.sdk();
    assert_eq!(read_all(&c, "enc").await.len(), 2);
    assert_eq!(read_all(&c, "enc").await[1].0, marker.to_vec());
}

#[tokio::test]
async fn a_disabled_key_refuses_puts_and_gets_until_it_is_enabled() {
    let s = server_with(&[]);
    let c = s.sdk();
    let k = kms(&s, "AKIDTEST", "secret");
    create(&c, "dis", 1).await;
    put(&c, "dis", "a", b"plain").await;
    let (id, _) = new_key(&k).await;
    k.create_alias()
        .alias_name("alias/dis")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    encrypt_stream(&c, "dis", "alias/dis").await;
    put(&c, "dis", "b", b"secret").await;

    k.disable_key().key_id(&id).send().await.unwrap();
    let code = refused_put(&c, "dis").await;
    assert_eq!(code, "KMSDisabledException");
    let (code, _) = err_of(
        c.put_records()
            .stream_name("dis")
            .records(
                aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                    .partition_key("c")
                    .data(Blob::new("x"))
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
    assert_eq!(code, "KMSDisabledException");
    let it = iterator(
        &c,
        "dis",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
    )
    .await;
    let (code, _) = err_of(c.get_records().shard_iterator(it).send().await);
    assert_eq!(code, "KMSDisabledException");

    k.enable_key().key_id(&id).send().await.unwrap();
    put(&c, "dis", "c", b"again").await;
    let data: Vec<_> = read_all(&c, "dis").await.into_iter().map(|r| r.0).collect();
    assert_eq!(data, [&b"plain"[..], b"secret", b"again"]);

    // Pending deletion: KMSInvalidStateException; cancelled, the key is disabled.
    k.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let code = refused_put(&c, "dis").await;
    assert_eq!(code, "KMSInvalidStateException");
    k.cancel_key_deletion().key_id(&id).send().await.unwrap();
    let code = refused_put(&c, "dis").await;
    assert_eq!(code, "KMSDisabledException");

    // A key that does not exist cannot encrypt a stream.
    create(&c, "nokey", 1).await;
    let (code, _) = err_of(
        c.start_stream_encryption()
            .stream_name("nokey")
            .encryption_type(EncryptionType::Kms)
            .key_id("alias/nobody")
            .send()
            .await,
    );
    assert_eq!(code, "KMSNotFoundException");

    // Stopped: new records are plain, the encrypted ones still read.
    k.enable_key().key_id(&id).send().await.unwrap();
    c.stop_stream_encryption()
        .stream_name("dis")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/dis")
        .send()
        .await
        .unwrap();
    wait_active(&c, "dis").await;
    assert_eq!(put(&c, "dis", "d", b"plain again").await, None);
    let records = read_all(&c, "dis").await;
    assert_eq!(records.len(), 4);
    assert_eq!(records[1], (b"secret".to_vec(), Some(EncryptionType::Kms)));
    assert_eq!(records[3], (b"plain again".to_vec(), None));
}

const ACCOUNT: &str = "111122223333";

/// A server whose users each have one identity policy (name, access key, policy statements).
fn server_with_users(users: &[(&str, &str, serde_json::Value)]) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = format!("account_id = \"{ACCOUNT}\"\n");
    for (name, key, statements) in users {
        let secret = dir.path().join(format!("{name}.secret"));
        std::fs::write(&secret, format!("{name}-secret")).unwrap();
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": statements});
        config += &format!(
            "[[users]]\nname = \"{name}\"\naccess_key_id = \"{key}\"\nsecret_access_key_file = \"{}\"\npolicies = ['''{policy}''']\n",
            secret.display()
        );
    }
    let path = dir.path().join("tributary.toml");
    std::fs::write(&path, config).unwrap();
    let s = server_with(&["--config", path.to_str().unwrap()]);
    (s, dir)
}

#[tokio::test]
async fn kms_permissions_decide_for_producers_and_consumers() {
    let stream = format!("arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/guarded*");
    let kinesis_put = serde_json::json!({"Effect": "Allow", "Action": ["kinesis:PutRecord", "kinesis:PutRecords"], "Resource": stream});
    let kinesis_get = serde_json::json!({"Effect": "Allow", "Action": ["kinesis:GetShardIterator", "kinesis:GetRecords"], "Resource": stream});
    let (s, _dir) = server_with_users(&[
        (
            "admin",
            "AKIAADMIN",
            serde_json::json!([{"Effect": "Allow", "Action": ["kinesis:*", "kms:*"], "Resource": "*"}]),
        ),
        (
            "producer",
            "AKIAPRODUCER",
            serde_json::json!([kinesis_put, {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": "*"}]),
        ),
        // Encrypt and DescribeKey, but not GenerateDataKey: not enough to write.
        (
            "producer-nokms",
            "AKIAPRODNOKMS",
            serde_json::json!([kinesis_put, {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"}]),
        ),
        (
            "consumer",
            "AKIACONSUMER",
            serde_json::json!([kinesis_get, {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]),
        ),
        (
            "consumer-nokms",
            "AKIACONSNOKMS",
            serde_json::json!([kinesis_get]),
        ),
    ]);
    let admin = s.sdk_as("us-east-1", "AKIAADMIN", "admin-secret");
    let k = kms(&s, "AKIAADMIN", "admin-secret");
    create(&admin, "guarded", 1).await;
    let (_, arn) = new_key(&k).await;
    encrypt_stream(&admin, "guarded", &arn).await;

    let producer = s.sdk_as("us-east-1", "AKIAPRODUCER", "producer-secret");
    assert_eq!(
        put(&producer, "guarded", "k", b"allowed").await,
        Some(EncryptionType::Kms)
    );
    let denied = s.sdk_as("us-east-1", "AKIAPRODNOKMS", "producer-nokms-secret");
    let (code, msg) = err_of(
        denied
            .put_record()
            .stream_name("guarded")
            .partition_key("k")
            .data(Blob::new("x"))
            .send()
            .await,
    );
    assert_eq!(code, "KMSAccessDeniedException");
    assert_eq!(
        msg,
        format!("User: arn:aws:iam::{ACCOUNT}:user/producer-nokms is not authorized to perform: kms:GenerateDataKey on resource: {arn}")
    );

    let consumer = s.sdk_as("us-east-1", "AKIACONSUMER", "consumer-secret");
    assert_eq!(read_all(&consumer, "guarded").await[0].0, b"allowed");
    let blind = s.sdk_as("us-east-1", "AKIACONSNOKMS", "consumer-nokms-secret");
    let it = iterator(
        &blind,
        "guarded",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
    )
    .await;
    let (code, msg) = err_of(blind.get_records().shard_iterator(it).send().await);
    assert_eq!(code, "KMSAccessDeniedException");
    assert!(
        msg.contains("user/consumer-nokms is not authorized to decrypt records in stream"),
        "{msg}"
    );

    // The AWS managed key lets every user of the account use it through Kinesis: no KMS
    // permission is needed in their own policies.
    create(&admin, "guarded-managed", 1).await;
    encrypt_stream(&admin, "guarded-managed", "alias/aws/kinesis").await;
    assert_eq!(
        put(&denied, "guarded-managed", "k", b"managed").await,
        Some(EncryptionType::Kms)
    );
    assert_eq!(read_all(&blind, "guarded-managed").await[0].0, b"managed");

    // A key policy that names only the admin: identity policies alone do not open it.
    let admin_only = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/admin")},
        "Action": "kms:*", "Resource": "*"}]});
    let private = k
        .create_key()
        .policy(admin_only.to_string())
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let plain = aws_sdk_kms::primitives::Blob::new("x");
    k.encrypt()
        .key_id(&private)
        .plaintext(plain.clone())
        .send()
        .await
        .unwrap();
    let (code, _) = err_of(
        kms(&s, "AKIAPRODUCER", "producer-secret")
            .generate_data_key()
            .key_id(&private)
            .number_of_bytes(32)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDeniedException");
    let (code, _) = err_of(
        k.create_key()
            .policy("{\"Statement\": \"nope\"}")
            .send()
            .await,
    );
    assert_eq!(code, "MalformedPolicyDocumentException");

    // The KMS API itself is authorized too: the producer may not disable the key.
    let (code, msg) = err_of(
        kms(&s, "AKIAPRODUCER", "producer-secret")
            .disable_key()
            .key_id(&arn)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDeniedException");
    assert!(msg.contains("kms:DisableKey"), "{msg}");
}

#[tokio::test]
async fn an_external_kms_holds_the_keys_of_another_tributary() {
    // A: the key service, with one user that may use keys.
    let (a, _dir) = server_with_users(&[(
        "keys",
        "AKIAKEYS",
        serde_json::json!([{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]),
    )]);
    let ka = kms(&a, "AKIAKEYS", "keys-secret");
    let (id, arn) = new_key(&ka).await;
    // B: streams, with keys from A.
    let b = TestServer::start_with_env(
        env!("CARGO_BIN_EXE_tributary"),
        &[
            "--kms-endpoint",
            &a.endpoint(),
            "--kms-access-key-id",
            "AKIAKEYS",
        ],
        &[("TRIBUTARY_KMS_SECRET_ACCESS_KEY", "keys-secret")],
    );
    let c = b.sdk();
    create(&c, "remote", 1).await;
    encrypt_stream(&c, "remote", &arn).await;
    let marker = b"EXTERNAL-KMS-MARKER-5e1d";
    assert_eq!(
        put(&c, "remote", "pk", marker).await,
        Some(EncryptionType::Kms)
    );
    assert_eq!(read_all(&c, "remote").await[0].0, marker);

    ka.disable_key().key_id(&id).send().await.unwrap();
    // The external key's state reaches B through its key service calls.
    let mut refused = false;
    for _ in 0..100 {
        let r = c
            .put_record()
            .stream_name("remote")
            .partition_key("k")
            .data(Blob::new("x"))
            .send()
            .await;
        if r.is_err() {
            assert_eq!(err_of(r).0, "KMSDisabledException");
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "B kept writing with a key disabled in A");
    assert!(!on_disk(b.data_dir(), marker));
}

#[tokio::test]
async fn the_replicated_tier_holds_only_ciphertext_and_every_node_decrypts() {
    use tributary_natskit::NatsCluster;
    let cluster = NatsCluster::start(3);
    // Both nodes get the same root key, as docs/kms.md asks.
    let root = "q2v5Zr2mWg0Qk6xJ3c9sYl7bN1tE4uHfA8pD0oRyKiM=";
    let node = || {
        let storage = cluster.url_list();
        TestServer::start_nats(
            env!("CARGO_BIN_EXE_tributary"),
            &[
                "--storage",
                &storage,
                "--nats-prefix",
                "enc",
                "--nats-request-timeout-ms",
                "5000",
            ],
            &[("TRIBUTARY_KMS_ROOT_KEY", root)],
        )
    };
    let (a, b) = (node(), node());
    let (ca, cb) = (a.sdk(), b.sdk());
    create(&ca, "replicated", 1).await;
    wait_active(&ca, "replicated").await;
    let before = b"REPLICATED-PLAINTEXT-CONTROL-61aa";
    put(&ca, "replicated", "pk", before).await;
    // A key made through node A, used through node B: keys live in the shared metadata.
    let (_, arn) = new_key(&kms(&a, "AKIDTEST", "secret")).await;
    encrypt_stream(&cb, "replicated", &arn).await;
    wait_active(&ca, "replicated").await;
    let marker = b"REPLICATED-SECRET-MARKER-0f3c";
    assert_eq!(
        put(&ca, "replicated", "pk", marker).await,
        Some(EncryptionType::Kms)
    );
    let got = read_all(&cb, "replicated").await;
    assert_eq!(
        got,
        vec![
            (before.to_vec(), None),
            (marker.to_vec(), Some(EncryptionType::Kms))
        ]
    );

    drop((a, b));
    assert!(
        on_disk(cluster.dir(), before),
        "the control record is in the NATS stores"
    );
    assert!(
        !on_disk(cluster.dir(), marker),
        "the encrypted record is in the NATS stores in the clear"
    );
}
