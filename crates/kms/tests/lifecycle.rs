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
async fn aliases_resolve_in_all_four_forms() {
    let (_store, kms) = open().await;
    let (id, arn) = create_key(&kms).await;
    call(
        &kms,
        Op::CreateAlias,
        json!({"AliasName": "alias/app", "TargetKeyId": arn}),
    )
    .await
    .unwrap();
    let alias_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/app");
    for form in [id.as_str(), arn.as_str(), "alias/app", alias_arn.as_str()] {
        let info = kms.describe_key(&scope(), form).await.unwrap();
        assert_eq!(
            (info.key_id.as_str(), info.arn.as_str()),
            (id.as_str(), arn.as_str()),
            "{form}"
        );
        let d = call(&kms, Op::DescribeKey, json!({"KeyId": form}))
            .await
            .unwrap();
        assert_eq!(d["KeyMetadata"]["Arn"], arn.as_str(), "{form}");
    }
    // An ARN names its own account and region, whatever the caller's scope.
    let elsewhere = tributary_kms::KeyScope {
        account: "999999999999".into(),
        region: "eu-west-1".into(),
    };
    assert_eq!(
        kms.describe_key(&elsewhere, &alias_arn)
            .await
            .unwrap()
            .key_id,
        id
    );
    assert!(matches!(
        kms.describe_key(&elsewhere, "alias/app").await,
        Err(KeyError::NotFound(_))
    ));

    let f = call(
        &kms,
        Op::CreateAlias,
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (f.code, f.message.unwrap()),
        (
            "AlreadyExistsException",
            format!("An alias with the name {alias_arn} already exists")
        )
    );
    let f = call(&kms, Op::DescribeKey, json!({"KeyId": "alias/nope"}))
        .await
        .unwrap_err();
    assert_eq!(
        f.message.unwrap(),
        format!("Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/nope is not found.")
    );
    assert_eq!(
        code(
            call(
                &kms,
                Op::DescribeKey,
                json!({"KeyId": "arn:aws:s3:::bucket"})
            )
            .await
        ),
        "InvalidArnException"
    );
    assert_eq!(
        code(
            call(
                &kms,
                Op::CreateAlias,
                json!({"AliasName": "app", "TargetKeyId": id})
            )
            .await
        ),
        "ValidationException"
    );
    assert_eq!(
        code(
            call(
                &kms,
                Op::CreateAlias,
                json!({"AliasName": "alias/aws/mine", "TargetKeyId": id})
            )
            .await
        ),
        "NotAuthorizedException"
    );
    assert_eq!(
        code(
            call(
                &kms,
                Op::CreateAlias,
                json!({"AliasName": "alias/x", "TargetKeyId": "alias/app"})
            )
            .await
        ),
        "ValidationException"
    );
    assert_eq!(
        code(
            call(
                &kms,
                Op::CreateAlias,
                json!({"AliasName": "alias/x", "TargetKeyId": "nope"})
            )
            .await
        ),
        "NotFoundException"
    );

    call(&kms, Op::DeleteAlias, json!({"AliasName": "alias/app"}))
        .await
        .unwrap();
    assert!(matches!(
        kms.describe_key(&scope(), "alias/app").await,
        Err(KeyError::NotFound(_))
    ));
    assert_eq!(
        code(call(&kms, Op::DeleteAlias, json!({"AliasName": "alias/app"})).await),
        "NotFoundException"
    );
    // The name is free again.
    call(
        &kms,
        Op::CreateAlias,
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    )
    .await
    .unwrap();
    assert_eq!(
        kms.describe_key(&scope(), "alias/app")
            .await
            .unwrap()
            .key_id,
        id
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

#[tokio::test]
async fn listing_pages_through_keys_and_aliases() {
    let (_store, kms) = open().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (id, _) = create_key(&kms).await;
        call(
            &kms,
            Op::CreateAlias,
            json!({"AliasName": format!("alias/a{i}"), "TargetKeyId": id}),
        )
        .await
        .unwrap();
        ids.push(id);
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut body = json!({"Limit": 2});
        if let Some(m) = &marker {
            body["Marker"] = json!(m);
        }
        let page = call(&kms, Op::ListKeys, body).await.unwrap();
        let keys = page["Keys"].as_array().unwrap();
        assert!(keys.len() <= 2);
        seen.extend(
            keys.iter()
                .map(|k| k["KeyId"].as_str().unwrap().to_string()),
        );
        if page["Truncated"] == json!(false) {
            assert!(page.get("NextMarker").is_none());
            break;
        }
        marker = Some(page["NextMarker"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, ids);
    let aliases = call(&kms, Op::ListAliases, json!({"Limit": 3}))
        .await
        .unwrap();
    let names: Vec<&str> = aliases["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AliasName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alias/a0", "alias/a1", "alias/a2"]);
    let rest = call(
        &kms,
        Op::ListAliases,
        json!({"Marker": aliases["NextMarker"]}),
    )
    .await
    .unwrap();
    let names: Vec<&str> = rest["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AliasName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alias/a3", "alias/a4", "alias/aws/kinesis"]);
    let one = call(&kms, Op::ListAliases, json!({"KeyId": ids[0]}))
        .await
        .unwrap();
    assert_eq!(one["Aliases"].as_array().unwrap().len(), 1);
    assert_eq!(
        code(call(&kms, Op::ListKeys, json!({"Marker": "!!"})).await),
        "InvalidMarkerException"
    );
    assert_eq!(
        code(
            call(
                &kms,
                Op::ListAliases,
                json!({"KeyId": "11111111-2222-3333-4444-555555555555"})
            )
            .await
        ),
        "NotFoundException"
    );
}

#[tokio::test]
async fn policies_and_authorizations() {
    let (_store, kms) = open().await;
    let (id, arn) = create_key(&kms).await;
    let policy = kms.key_policy(&arn).await.unwrap().unwrap();
    let expected = json!({"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":format!("arn:aws:iam::{ACCOUNT}:root")},"Action":"kms:*","Resource":"*"}]});
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&policy).unwrap(),
        expected
    );

    let given = r#"{"Version":"2012-10-17","Statement":[]}"#;
    let out = call(
        &kms,
        Op::CreateKey,
        json!({"Policy": given, "Description": "mine"}),
    )
    .await
    .unwrap();
    let other_arn = out["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    assert_eq!(out["KeyMetadata"]["Description"], "mine");
    assert_eq!(
        kms.key_policy(&other_arn).await.unwrap().as_deref(),
        Some(given)
    );

    use tributary_kms::api::{parse, KmsAuthorization};
    let auth = |action: &str, resource: &str, policy: Option<&str>| KmsAuthorization {
        action: action.into(),
        resource: resource.into(),
        key_policy: policy.map(str::to_string),
    };
    let req = parse(
        Op::Encrypt,
        json!({"KeyId": id, "Plaintext": "AA=="})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        kms.authorizations(&scope(), &req).await.unwrap(),
        [auth("kms:Encrypt", &arn, Some(&policy))]
    );
    let req = parse(Op::ListKeys, b"{}").unwrap();
    assert_eq!(
        kms.authorizations(&scope(), &req).await.unwrap(),
        [auth("kms:ListKeys", "*", None)]
    );
    let missing = "11111111-2222-3333-4444-555555555555";
    let req = parse(
        Op::DescribeKey,
        json!({"KeyId": missing}).to_string().as_bytes(),
    )
    .unwrap();
    let missing_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}");
    assert_eq!(
        kms.authorizations(&scope(), &req).await.unwrap(),
        [auth("kms:DescribeKey", &missing_arn, None)]
    );
    assert_eq!(
        kms.execute(&scope(), req).await.unwrap_err().code,
        "NotFoundException"
    );
    let alias_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/x");
    let req = parse(
        Op::CreateAlias,
        json!({"AliasName": "alias/x", "TargetKeyId": id})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        kms.authorizations(&scope(), &req).await.unwrap(),
        [
            auth("kms:CreateAlias", &alias_arn, None),
            auth("kms:CreateAlias", &arn, Some(&policy))
        ]
    );
    kms.execute(&scope(), req).await.unwrap();
    let req = parse(Op::DeleteAlias, br#"{"AliasName":"alias/x"}"#).unwrap();
    assert_eq!(
        kms.authorizations(&scope(), &req).await.unwrap(),
        [
            auth("kms:DeleteAlias", &alias_arn, None),
            auth("kms:DeleteAlias", &arn, Some(&policy))
        ]
    );
    // Decrypt without KeyId: the key the blob names.
    let out = call(&kms, Op::Encrypt, json!({"KeyId": id, "Plaintext": "AA=="}))
        .await
        .unwrap();
    let req = parse(
        Op::Decrypt,
        json!({"CiphertextBlob": out["CiphertextBlob"]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        kms.authorizations(&scope(), &req).await.unwrap(),
        [auth("kms:Decrypt", &arn, Some(&policy))]
    );
    // The managed key before it exists: its alias, no policy.
    let req = parse(Op::DescribeKey, br#"{"KeyId":"alias/aws/kinesis"}"#).unwrap();
    let managed = format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/kinesis");
    assert_eq!(
        kms.authorizations(&scope(), &req).await.unwrap(),
        [auth("kms:DescribeKey", &managed, None)]
    );
}
