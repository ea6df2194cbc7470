//! Parsing, validation wording, and the wire names against botocore's model.

use super::*;
use serde_json::json;

fn fail(op: KmsOperation, body: &str) -> KmsFailure {
    parse(op, body.as_bytes())
        .map(|r| r.operation())
        .unwrap_err()
}

fn validation(op: KmsOperation, body: &str) -> String {
    let f = fail(op, body);
    assert_eq!((f.code, f.status), ("ValidationException", 400), "{f:?}");
    f.message.unwrap()
}

#[test]
fn operation_names_round_trip() {
    for op in KmsOperation::ALL {
        assert_eq!(KmsOperation::from_name(op.name()), Some(op));
        assert_eq!(op.action(), format!("kms:{}", op.name()));
    }
    assert_eq!(KmsOperation::from_name("ReEncrypt"), None);
}

#[test]
fn bodies_that_are_not_the_operations_json() {
    for body in ["[", "[]", "{\"KeyId\": 5}", "\"x\"", "{\"Limit\": 1.5}"] {
        let op = if body.contains("Limit") {
            KmsOperation::ListKeys
        } else {
            KmsOperation::DescribeKey
        };
        let f = fail(op, body);
        assert_eq!(
            (f.code, f.status, f.message),
            ("SerializationException", 400, None),
            "{body}"
        );
    }
    let f = fail(
        KmsOperation::Encrypt,
        r#"{"KeyId":"k","Plaintext":"!!not base64"}"#,
    );
    assert_eq!(f.code, "SerializationException");
    // An empty body is an empty object.
    assert_eq!(
        parse(KmsOperation::ListKeys, b"").unwrap().operation(),
        KmsOperation::ListKeys
    );
}

#[test]
fn validation_messages() {
    assert_eq!(
        validation(KmsOperation::DescribeKey, "{}"),
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: \
         Member must not be null"
    );
    assert_eq!(
        validation(KmsOperation::DescribeKey, r#"{"KeyId":""}"#),
        "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: \
         Member must have length greater than or equal to 1"
    );
    assert_eq!(
        validation(KmsOperation::Encrypt, r#"{"KeyId":"k","Plaintext":""}"#),
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: \
         Member must have length greater than or equal to 1"
    );
    let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 4097]);
    assert!(validation(
        KmsOperation::Encrypt,
        &format!(r#"{{"KeyId":"k","Plaintext":"{big}"}}"#)
    )
    .ends_with("Member must have length less than or equal to 4096"));
    let four_k = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 4096]);
    assert!(parse(
        KmsOperation::Encrypt,
        format!(r#"{{"KeyId":"k","Plaintext":"{four_k}"}}"#).as_bytes()
    )
    .is_ok());
    assert_eq!(
        validation(KmsOperation::ListKeys, r#"{"Limit":0,"Marker":""}"#),
        "2 validation errors detected: Value '0' at 'limit' failed to satisfy constraint: \
         Member must have value greater than or equal to 1; Value '' at 'marker' failed to \
         satisfy constraint: Member must have length greater than or equal to 1"
    );
    assert_eq!(
        validation(
            KmsOperation::GenerateDataKey,
            r#"{"KeyId":"k","KeySpec":"AES_512"}"#
        ),
        "1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy \
         constraint: Member must satisfy enum value set: [AES_256, AES_128]"
    );
    assert!(validation(
        KmsOperation::GenerateDataKey,
        r#"{"KeyId":"k","NumberOfBytes":1025}"#
    )
    .ends_with("Member must have value less than or equal to 1024"));
    assert_eq!(
        validation(KmsOperation::GenerateDataKey, r#"{"KeyId":"k"}"#),
        "Please specify either number of bytes or key spec."
    );
    assert_eq!(
        validation(
            KmsOperation::GenerateDataKey,
            r#"{"KeyId":"k","KeySpec":"AES_128","NumberOfBytes":16}"#
        ),
        "Please specify either number of bytes or key spec."
    );
    assert_eq!(
        validation(KmsOperation::CreateAlias, r#"{"AliasName":"alias/a b"}"#),
        "2 validation errors detected: Value 'alias/a b' at 'aliasName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$; \
         Value null at 'targetKeyId' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn pending_window() {
    for (days, ok) in [(6, false), (7, true), (30, true), (31, false)] {
        let body = format!(r#"{{"KeyId":"k","PendingWindowInDays":{days}}}"#);
        match parse(KmsOperation::ScheduleKeyDeletion, body.as_bytes()) {
            Ok(req) => {
                assert!(ok, "{days}");
                assert!(
                    matches!(req.input, Input::ScheduleKeyDeletion { days: d, .. } if d == days)
                );
            }
            Err(f) => {
                assert!(!ok, "{days}");
                assert_eq!(
                    f.message.unwrap(),
                    format!(
                        "1 validation error detected: Value '{days}' at 'PendingWindowInDays' \
                         failed to satisfy constraint: Member must have minimum value of 7 and \
                         maximum value of 30."
                    )
                );
            }
        }
    }
    let req = parse(KmsOperation::ScheduleKeyDeletion, br#"{"KeyId":"k"}"#).unwrap();
    assert!(matches!(
        req.input,
        Input::ScheduleKeyDeletion { days: 30, .. }
    ));
    assert!(validation(
        KmsOperation::ScheduleKeyDeletion,
        r#"{"KeyId":"k","PendingWindowInDays":0}"#
    )
    .contains("Member must have value greater than or equal to 1"));
}

#[test]
fn create_key_refusals() {
    let f = fail(KmsOperation::CreateKey, r#"{"KeyUsage":"SIGN_VERIFY"}"#);
    assert_eq!(f.code, "UnsupportedOperationException");
    let f = fail(KmsOperation::CreateKey, r#"{"KeySpec":"RSA_2048"}"#);
    assert_eq!(f.code, "UnsupportedOperationException");
    assert!(
        validation(KmsOperation::CreateKey, r#"{"KeyUsage":"NOPE"}"#).contains("enum value set")
    );
    let f = fail(KmsOperation::CreateKey, r#"{"Policy":"not json"}"#);
    assert_eq!(f.code, "MalformedPolicyDocumentException");
    let f = fail(KmsOperation::CreateKey, r#"{"Policy":"[1]"}"#);
    assert_eq!(f.code, "MalformedPolicyDocumentException");
    let policy = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"},
        "Action": "kms:*", "Resource": "*"}]});
    let body = json!({"Policy": policy.to_string(), "Description": "d",
        "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT",
        "Tags": [{"TagKey": "a", "TagValue": "b"}]});
    assert!(parse(KmsOperation::CreateKey, body.to_string().as_bytes()).is_ok());
}

/// The server reads key policies with `Policy::parse_resource` and cannot honour one it
/// cannot read, so CreateKey must refuse such a policy rather than store it.
#[test]
fn create_key_policy_must_read_as_a_key_policy() {
    let refused = |policy: serde_json::Value| {
        let body = json!({"Policy": policy.to_string()}).to_string();
        let f = fail(KmsOperation::CreateKey, &body);
        assert_eq!(
            (f.code, f.status),
            ("MalformedPolicyDocumentException", 400),
            "{policy}"
        );
        f.message
    };
    // JSON objects, but not policies: no statement, a statement without a principal, an
    // unknown field, an action without a service.
    let statement = json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*",
        "Resource": "*"});
    assert_eq!(refused(json!({"Version": "2012-10-17"})), None);
    assert_eq!(
        refused(json!({"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]})),
        None
    );
    assert_eq!(refused(json!({"Statement": [statement], "Extra": 1})), None);
    let mut no_service = statement.clone();
    no_service["Action"] = json!("Encrypt");
    assert_eq!(refused(json!({"Statement": [no_service]})), None);
    let mut bad_principal = statement.clone();
    bad_principal["Principal"] = json!({"AWS": "bob"});
    assert_eq!(
        refused(json!({"Statement": [bad_principal]})).as_deref(),
        Some("Policy contains a statement with one or more invalid principals.")
    );
    let body = json!({"Policy": json!({"Statement": [statement]}).to_string()}).to_string();
    assert!(parse(KmsOperation::CreateKey, body.as_bytes()).is_ok());
}

fn model() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../model/kms.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn members(model: &serde_json::Value, shape: &str) -> Vec<String> {
    model["shapes"][shape]["members"]
        .as_object()
        .unwrap_or_else(|| panic!("shape {shape}"))
        .keys()
        .cloned()
        .collect()
}

fn names_of<T: serde::Serialize + Default>() -> Vec<String> {
    serde_json::to_value(T::default())
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn request_members_exist_in_the_model() {
    let model = model();
    assert_eq!(model["metadata"]["targetPrefix"], TARGET_PREFIX);
    assert_eq!(model["metadata"]["jsonVersion"], "1.1");
    let input = |op: &str| {
        model["operations"][op]["input"]["shape"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("CreateKey", names_of::<wire::CreateKeyInput>()),
        ("DescribeKey", names_of::<wire::KeyIdInput>()),
        ("EnableKey", vec!["KeyId".into()]),
        ("DisableKey", vec!["KeyId".into()]),
        ("CancelKeyDeletion", vec!["KeyId".into()]),
        ("ListKeys", names_of::<wire::ListKeysInput>()),
        ("ListAliases", names_of::<wire::ListAliasesInput>()),
        ("CreateAlias", names_of::<wire::CreateAliasInput>()),
        ("DeleteAlias", names_of::<wire::DeleteAliasInput>()),
        (
            "ScheduleKeyDeletion",
            names_of::<wire::ScheduleKeyDeletionInput>(),
        ),
        ("Encrypt", names_of::<wire::EncryptInput>()),
        ("Decrypt", names_of::<wire::DecryptInput>()),
        ("GenerateDataKey", names_of::<wire::GenerateDataKeyInput>()),
    ];
    assert_eq!(cases.len(), KmsOperation::ALL.len());
    for (op, names) in cases {
        assert!(KmsOperation::from_name(op).is_some());
        let known = members(&model, &input(op));
        for name in names {
            assert!(known.contains(&name), "{op}: {name} is not in the model");
        }
    }
    let tag = members(&model, "Tag");
    for name in names_of::<wire::Tag>() {
        assert!(tag.contains(&name), "Tag.{name}");
    }
}

#[test]
fn validation_bounds_match_the_model() {
    let model = model();
    for (shape, member, min, max) in validate::BOUNDS {
        let s = &model["shapes"][shape];
        assert_eq!(
            s["min"].as_i64().unwrap_or(0),
            *min,
            "{shape} ({member}) min"
        );
        assert_eq!(s["max"].as_i64(), Some(*max), "{shape} ({member}) max");
    }
    let enum_of = |shape: &str| -> Vec<String> {
        model["shapes"][shape]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(enum_of("KeyUsageType"), KEY_USAGES);
    assert_eq!(enum_of("KeySpec"), KEY_SPECS);
    assert_eq!(enum_of("OriginType"), ORIGINS);
    assert_eq!(enum_of("EncryptionAlgorithmSpec"), ALGORITHMS);
    assert_eq!(enum_of("DataKeySpec"), ["AES_256", "AES_128"]);
}

/// Every member a response carries, against the operation's output shape (and the nested
/// KeyMetadata, KeyListEntry and AliasListEntry shapes).
pub(crate) fn check_response(op: KmsOperation, body: &[u8]) {
    let model = model();
    if body.is_empty() {
        assert!(
            model["operations"][op.name()].get("output").is_none(),
            "{op:?} has an output"
        );
        return;
    }
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    let output = model["operations"][op.name()]["output"]["shape"]
        .as_str()
        .unwrap();
    check_object(&model, output, &value);
}

fn check_object(model: &serde_json::Value, shape: &str, value: &serde_json::Value) {
    let known = &model["shapes"][shape]["members"];
    for (name, v) in value.as_object().unwrap() {
        let member = known
            .get(name)
            .unwrap_or_else(|| panic!("{shape}.{name} not in the model"));
        let target = member["shape"].as_str().unwrap();
        match model["shapes"][target]["type"].as_str().unwrap() {
            "structure" => check_object(model, target, v),
            "list" => {
                let item = model["shapes"][target]["member"]["shape"].as_str().unwrap();
                if model["shapes"][item]["type"] == "structure" {
                    for entry in v.as_array().unwrap() {
                        check_object(model, item, entry);
                    }
                }
            }
            "string" => assert!(v.is_string(), "{shape}.{name}"),
            "blob" => assert!(v.is_string(), "{shape}.{name}"),
            "boolean" => assert!(v.is_boolean(), "{shape}.{name}"),
            "integer" => assert!(v.is_i64(), "{shape}.{name}"),
            "timestamp" => assert!(v.is_number(), "{shape}.{name}"),
            other => panic!("{shape}.{name}: {other}"),
        }
    }
}

#[tokio::test]
async fn every_response_member_is_in_the_model() {
    let store = std::sync::Arc::new(tributary_storage::memory::MemoryMetaStore::new());
    let kms = crate::LocalKms::open(store, crate::RootKey::from_bytes([3; 32]))
        .await
        .unwrap();
    let scope = crate::KeyScope {
        account: "123456789012".into(),
        region: "us-east-1".into(),
    };
    let run = async |op: KmsOperation, body: serde_json::Value| -> serde_json::Value {
        let req = parse(op, body.to_string().as_bytes()).unwrap();
        let out = kms.execute(&scope, req).await.unwrap();
        check_response(op, &out);
        if out.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&out).unwrap()
        }
    };
    let created = run(
        KmsOperation::CreateKey,
        serde_json::json!({"Description": "d"}),
    )
    .await;
    let id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let key = serde_json::json!({ "KeyId": id });
    run(
        KmsOperation::DescribeKey,
        serde_json::json!({"KeyId": "alias/aws/kinesis"}),
    )
    .await;
    run(
        KmsOperation::CreateAlias,
        serde_json::json!({"AliasName": "alias/a", "TargetKeyId": id}),
    )
    .await;
    run(KmsOperation::ListAliases, serde_json::json!({"Limit": 1})).await;
    run(KmsOperation::ListKeys, serde_json::json!({"Limit": 1})).await;
    let encrypted = run(
        KmsOperation::Encrypt,
        serde_json::json!({"KeyId": id, "Plaintext": "AAE="}),
    )
    .await;
    run(
        KmsOperation::Decrypt,
        serde_json::json!({"CiphertextBlob": encrypted["CiphertextBlob"]}),
    )
    .await;
    run(
        KmsOperation::GenerateDataKey,
        serde_json::json!({"KeyId": id, "KeySpec": "AES_256"}),
    )
    .await;
    run(
        KmsOperation::DeleteAlias,
        serde_json::json!({"AliasName": "alias/a"}),
    )
    .await;
    run(KmsOperation::DisableKey, key.clone()).await;
    run(KmsOperation::EnableKey, key.clone()).await;
    run(KmsOperation::ScheduleKeyDeletion, key.clone()).await;
    let described = run(KmsOperation::DescribeKey, key.clone()).await;
    assert!(described["KeyMetadata"]["DeletionDate"].is_number());
    run(KmsOperation::CancelKeyDeletion, key).await;
}

#[test]
fn alias_names_kms_refuses_fail_at_parse() {
    let f = fail(
        KmsOperation::CreateAlias,
        r#"{"AliasName":"app","TargetKeyId":"k"}"#,
    );
    assert_eq!(f.code, "ValidationException");
    assert!(f
        .message
        .unwrap()
        .starts_with("Alias must start with the prefix \"alias/\"."));
    let f = fail(
        KmsOperation::DeleteAlias,
        r#"{"AliasName":"alias/aws/kinesis"}"#,
    );
    assert_eq!((f.code, f.message), ("NotAuthorizedException", None));
    let f = fail(
        KmsOperation::CreateAlias,
        r#"{"AliasName":"alias/","TargetKeyId":"k"}"#,
    );
    assert_eq!(f.code, "InvalidAliasNameException");
}
