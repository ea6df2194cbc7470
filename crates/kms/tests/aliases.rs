//! Aliases, listings, key policies and authorizations of the built-in key service.

mod common;

use common::*;
use serde_json::json;
use tributary_kms::api::KmsOperation as Op;
use tributary_kms::{KeyError, KeyService};

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

    let given = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"kms:Encrypt","Resource":"*"}]}"#;
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
    // An operation that does not make the managed key: its alias, no policy, and no key.
    let req = parse(Op::DisableKey, br#"{"KeyId":"alias/aws/kinesis"}"#).unwrap();
    let managed = format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/kinesis");
    assert_eq!(
        kms.authorizations(&scope(), &req).await.unwrap(),
        [auth("kms:DisableKey", &managed, None)]
    );
    assert_eq!(
        kms.execute(&scope(), req).await.unwrap_err().code,
        "NotFoundException"
    );
}

/// The first direct use of alias/aws/kinesis makes the managed key; it must be made before
/// the call is authorized, so its key policy (use only through Kinesis) decides that first
/// call as it decides every later one.
#[tokio::test]
async fn the_managed_key_policy_decides_its_first_use() {
    use tributary_kms::api::parse;
    for (op, body) in [
        (
            Op::GenerateDataKey,
            json!({"KeyId": "alias/aws/kinesis", "KeySpec": "AES_256"}),
        ),
        (Op::DescribeKey, json!({"KeyId": "alias/aws/kinesis"})),
        (
            Op::Encrypt,
            json!({"KeyId": format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/kinesis"), "Plaintext": "AA=="}),
        ),
    ] {
        let (_store, kms) = open().await;
        let req = parse(op, body.to_string().as_bytes()).unwrap();
        let auths = kms.authorizations(&scope(), &req).await.unwrap();
        let managed = kms
            .describe_key(&scope(), "alias/aws/kinesis")
            .await
            .unwrap();
        assert_eq!(auths.len(), 1, "{op:?}");
        assert_eq!(auths[0].action, format!("kms:{}", op.name()));
        assert_eq!(auths[0].resource, managed.arn, "{op:?}");
        let policy = auths[0]
            .key_policy
            .as_deref()
            .expect("the managed key's policy");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(policy).unwrap(),
            serde_json::from_str::<serde_json::Value>(&tributary_kms::records::aws_kinesis_policy(
                ACCOUNT, REGION
            ))
            .unwrap(),
            "{op:?}"
        );
        // Executing uses that same key rather than making another.
        let out = kms.execute(&scope(), req).await.unwrap();
        let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let used = out["KeyId"]
            .as_str()
            .or(out["KeyMetadata"]["Arn"].as_str())
            .unwrap();
        assert_eq!(used, managed.arn, "{op:?}");
    }
}
