//! The built-in key service through its TrentService API and its KeyService.

mod common;

use common::*;
use serde_json::json;
use tributary_kms::api::KmsOperation as Op;
use tributary_kms::{KeyError, KeyService, KeyState, LocalKms, OpenError, RootKey};

#[tokio::test]
async fn a_different_root_key_is_refused_at_open() {
    let (store, kms) = open().await;
    create_key(&kms).await;
    drop(kms);
    let err = LocalKms::open(store.clone(), RootKey::from_bytes([1; 32]))
        .await
        .unwrap_err();
    assert!(matches!(err, OpenError::WrongRootKey), "{err:?}");
    assert!(err.to_string().contains("root key"));
    // The right one still opens.
    LocalKms::open(store, root()).await.unwrap();
}

#[tokio::test]
async fn key_material_never_reaches_the_store_in_the_clear() {
    let (store, kms) = open().await;
    let (_, arn) = create_key(&kms).await;
    kms.describe_key(&scope(), "alias/aws/kinesis")
        .await
        .unwrap();
    let data_key = kms.generate_data_key(&arn, &[]).await.unwrap();
    let mut secrets: Vec<Vec<u8>> = vec![data_key.plaintext.to_vec()];
    let values = stored_values(&store).await;
    for (key, value) in &values {
        if key.starts_with("kms/key/") {
            let record: serde_json::Value = serde_json::from_slice(value).unwrap();
            let wrapped = unb64(&record["wrapped_material"]);
            let arn = format!(
                "arn:aws:kms:{}:{}:key/{}",
                record["region"].as_str().unwrap(),
                record["account"].as_str().unwrap(),
                record["key_id"].as_str().unwrap()
            );
            secrets.push(root().unwrap(&wrapped, arn.as_bytes()).unwrap().to_vec());
        }
    }
    assert_eq!(secrets.len(), 3, "two KMS keys and a data key");
    secrets.push(root().to_base64().as_bytes().to_vec());
    for secret in &secrets {
        let forms = [
            secret.clone(),
            b64(secret).into_bytes(),
            secret
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes(),
        ];
        for (key, value) in &values {
            for form in &forms {
                assert!(
                    !value.windows(form.len()).any(|w| w == &form[..]),
                    "a secret appears in {key}"
                );
            }
        }
    }
}

#[tokio::test]
async fn state_machine_and_the_errors_each_state_yields() {
    let (_store, kms) = open().await;
    let (id, arn) = create_key(&kms).await;
    let key = || json!({"KeyId": id});
    kms.generate_data_key(&arn, &[]).await.unwrap();

    call(&kms, Op::DisableKey, key()).await.unwrap();
    let d = call(&kms, Op::DescribeKey, key()).await.unwrap();
    assert_eq!(
        (
            d["KeyMetadata"]["KeyState"].as_str(),
            d["KeyMetadata"]["Enabled"].as_bool()
        ),
        (Some("Disabled"), Some(false))
    );
    // Refused by the very next call through this node.
    assert_eq!(
        kms.generate_data_key(&arn, &[]).await.unwrap_err(),
        KeyError::Disabled(format!("{arn} is disabled."))
    );
    let f = call(
        &kms,
        Op::Encrypt,
        json!({"KeyId": id, "Plaintext": b64(b"x")}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (f.code, f.message.as_deref()),
        (
            "DisabledException",
            Some(format!("{arn} is disabled.").as_str())
        )
    );
    assert_eq!(
        kms.describe_key(&scope(), &id).await.unwrap().state,
        KeyState::Disabled
    );

    call(&kms, Op::EnableKey, key()).await.unwrap();
    let blob = kms.generate_data_key(&arn, &[]).await.unwrap();

    let out = call(
        &kms,
        Op::ScheduleKeyDeletion,
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    )
    .await
    .unwrap();
    assert_eq!(out["KeyState"], "PendingDeletion");
    assert_eq!(out["KeyId"], arn.as_str());
    assert_eq!(out["PendingWindowInDays"], 7);
    let deletion = out["DeletionDate"].as_f64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((deletion - now - 7.0 * 86400.0).abs() < 60.0);
    let d = call(&kms, Op::DescribeKey, key()).await.unwrap();
    assert_eq!(d["KeyMetadata"]["KeyState"], "PendingDeletion");
    assert_eq!(d["KeyMetadata"]["DeletionDate"].as_f64(), Some(deletion));
    assert_eq!(d["KeyMetadata"]["PendingDeletionWindowInDays"], 7);
    let pending = format!("{arn} is pending deletion.");
    assert_eq!(
        kms.generate_data_key(&arn, &[]).await.unwrap_err(),
        KeyError::InvalidState(pending.clone())
    );
    assert_eq!(
        kms.decrypt(&arn, &blob.ciphertext, &[]).await.unwrap_err(),
        KeyError::InvalidState(pending.clone())
    );
    for op in [Op::EnableKey, Op::DisableKey, Op::ScheduleKeyDeletion] {
        let f = call(&kms, op, key()).await.unwrap_err();
        assert_eq!(
            (f.code, f.message.as_deref()),
            ("KMSInvalidStateException", Some(pending.as_str())),
            "{op:?}"
        );
    }
    assert_eq!(
        kms.describe_key(&scope(), &arn).await.unwrap().state,
        KeyState::PendingDeletion
    );

    let out = call(&kms, Op::CancelKeyDeletion, key()).await.unwrap();
    assert_eq!(out["KeyId"], arn.as_str());
    let d = call(&kms, Op::DescribeKey, key()).await.unwrap();
    assert_eq!(d["KeyMetadata"]["KeyState"], "Disabled");
    assert!(d["KeyMetadata"].get("DeletionDate").is_none());
    assert_eq!(
        code(call(&kms, Op::CancelKeyDeletion, key()).await),
        "KMSInvalidStateException"
    );
    call(&kms, Op::EnableKey, key()).await.unwrap();
    assert_eq!(
        &kms.decrypt(&arn, &blob.ciphertext, &[]).await.unwrap()[..],
        &blob.plaintext[..]
    );

    let missing = "11111111-2222-3333-4444-555555555555";
    let f = call(&kms, Op::DisableKey, json!({"KeyId": missing}))
        .await
        .unwrap_err();
    assert_eq!(f.code, "NotFoundException");
    assert_eq!(
        f.message.unwrap(),
        format!("Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}' does not exist")
    );
}

#[tokio::test]
async fn encrypt_and_decrypt_with_and_without_context() {
    let (_store, kms) = open().await;
    let (id, arn) = create_key(&kms).await;
    let out = call(
        &kms,
        Op::Encrypt,
        json!({"KeyId": id, "Plaintext": b64(b"hello")}),
    )
    .await
    .unwrap();
    assert_eq!(out["KeyId"], arn.as_str());
    assert_eq!(out["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    let blob = out["CiphertextBlob"].clone();
    // No KeyId: the blob names its key.
    let plain = call(&kms, Op::Decrypt, json!({"CiphertextBlob": blob}))
        .await
        .unwrap();
    assert_eq!(unb64(&plain["Plaintext"]), b"hello");
    assert_eq!(plain["KeyId"], arn.as_str());
    let f = call(
        &kms,
        Op::Decrypt,
        json!({"CiphertextBlob": blob, "EncryptionContext": {"a": "b"}}),
    )
    .await
    .unwrap_err();
    assert_eq!((f.code, f.message), ("InvalidCiphertextException", None));

    let ctx =
        json!({"aws:kinesis:arn": "arn:aws:kinesis:us-east-1:123456789012:stream/s", "b": "2"});
    let out = call(
        &kms,
        Op::Encrypt,
        json!({"KeyId": "alias/aws/kinesis", "Plaintext": b64(b"ctx"), "EncryptionContext": ctx}),
    )
    .await
    .unwrap();
    let blob = out["CiphertextBlob"].clone();
    let plain = call(
        &kms,
        Op::Decrypt,
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "KeyId": "alias/aws/kinesis"}),
    )
    .await
    .unwrap();
    assert_eq!(unb64(&plain["Plaintext"]), b"ctx");
    for wrong in [
        json!({}),
        json!({"aws:kinesis:arn": "other", "b": "2"}),
        json!({"aws:kinesis:arn": "arn:aws:kinesis:us-east-1:123456789012:stream/s"}),
    ] {
        assert_eq!(
            code(
                call(
                    &kms,
                    Op::Decrypt,
                    json!({"CiphertextBlob": blob, "EncryptionContext": wrong})
                )
                .await
            ),
            "InvalidCiphertextException"
        );
    }
    // Named with another key, or altered, or not a blob at all.
    assert_eq!(
        code(
            call(
                &kms,
                Op::Decrypt,
                json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "KeyId": id})
            )
            .await
        ),
        "InvalidCiphertextException"
    );
    let mut bad = unb64(&blob);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        code(
            call(
                &kms,
                Op::Decrypt,
                json!({"CiphertextBlob": b64(&bad), "EncryptionContext": ctx})
            )
            .await
        ),
        "InvalidCiphertextException"
    );
    assert_eq!(
        code(call(&kms, Op::Decrypt, json!({"CiphertextBlob": b64(b"short")})).await),
        "InvalidCiphertextException"
    );

    // GenerateDataKey through the API, and through the KeyService with a context.
    for (body, len) in [
        (json!({"KeyId": id, "KeySpec": "AES_256"}), 32),
        (json!({"KeyId": id, "KeySpec": "AES_128"}), 16),
        (json!({"KeyId": id, "NumberOfBytes": 1}), 1),
    ] {
        let out = call(&kms, Op::GenerateDataKey, body).await.unwrap();
        let plain = unb64(&out["Plaintext"]);
        assert_eq!(plain.len(), len);
        let back = call(
            &kms,
            Op::Decrypt,
            json!({"CiphertextBlob": out["CiphertextBlob"]}),
        )
        .await
        .unwrap();
        assert_eq!(unb64(&back["Plaintext"]), plain);
    }
    let context = vec![("aws:kinesis:arn".to_string(), "s1".to_string())];
    let dk = kms.generate_data_key(&arn, &context).await.unwrap();
    assert_eq!(
        &kms.decrypt(&arn, &dk.ciphertext, &context).await.unwrap()[..],
        &dk.plaintext[..]
    );
    let other = vec![("aws:kinesis:arn".to_string(), "s2".to_string())];
    assert!(matches!(
        kms.decrypt(&arn, &dk.ciphertext, &other).await,
        Err(KeyError::InvalidCiphertext(_))
    ));
}

#[tokio::test]
async fn aws_managed_key_is_made_on_first_use_and_cannot_be_changed() {
    let (_store, kms) = open().await;
    let aliases = call(&kms, Op::ListAliases, json!({})).await.unwrap();
    assert_eq!(
        aliases["Aliases"],
        json!([{"AliasName": "alias/aws/kinesis", "AliasArn": format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/kinesis")}])
    );
    let d = call(&kms, Op::DescribeKey, json!({"KeyId": "alias/aws/kinesis"}))
        .await
        .unwrap();
    let meta = &d["KeyMetadata"];
    assert_eq!(
        (meta["KeyManager"].as_str(), meta["KeyState"].as_str()),
        (Some("AWS"), Some("Enabled"))
    );
    let id = meta["KeyId"].as_str().unwrap();
    let again = kms
        .describe_key(&scope(), "alias/aws/kinesis")
        .await
        .unwrap();
    assert_eq!(again.key_id, id);
    let aliases = call(&kms, Op::ListAliases, json!({"KeyId": id}))
        .await
        .unwrap();
    assert_eq!(aliases["Aliases"][0]["TargetKeyId"], id);
    for op in [Op::DisableKey, Op::EnableKey, Op::ScheduleKeyDeletion] {
        assert_eq!(
            code(call(&kms, op, json!({"KeyId": id})).await),
            "UnsupportedOperationException",
            "{op:?}"
        );
    }
    assert_eq!(
        code(
            call(
                &kms,
                Op::DeleteAlias,
                json!({"AliasName": "alias/aws/kinesis"})
            )
            .await
        ),
        "NotAuthorizedException"
    );
    // Only the one alias gets made on demand.
    assert_eq!(
        code(call(&kms, Op::DescribeKey, json!({"KeyId": "alias/aws/s3"})).await),
        "NotFoundException"
    );
    let policy = kms.key_policy(&again.arn).await.unwrap().unwrap();
    assert!(policy.contains("kinesis.us-east-1.amazonaws.com"));
}
