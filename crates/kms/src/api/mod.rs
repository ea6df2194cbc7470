//! The TrentService JSON 1.1 API of the built-in key service (the AWS CLI's and SDKs' `kms`
//! client): [`parse`] a request body, ask [`crate::LocalKms::authorizations`] what the caller
//! must be allowed, then [`crate::LocalKms::execute`] it. HTTP, SigV4 and the policy
//! evaluation are the server's.
//!
//! Member names, types and constraints: botocore's KMS model (model/kms.json, made by
//! scripts/extract_model.py).

mod execute;
mod validate;
pub mod wire;

use std::collections::BTreeMap;

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::fault::Fault;
use validate::Check;

/// `X-Amz-Target: TrentService.<Operation>`.
pub const TARGET_PREFIX: &str = "TrentService";

/// The served operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsOperation {
    CreateKey,
    DescribeKey,
    ListKeys,
    CreateAlias,
    ListAliases,
    DeleteAlias,
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    Encrypt,
    Decrypt,
    GenerateDataKey,
}

impl KmsOperation {
    pub const ALL: [KmsOperation; 13] = [
        KmsOperation::CreateKey,
        KmsOperation::DescribeKey,
        KmsOperation::ListKeys,
        KmsOperation::CreateAlias,
        KmsOperation::ListAliases,
        KmsOperation::DeleteAlias,
        KmsOperation::EnableKey,
        KmsOperation::DisableKey,
        KmsOperation::ScheduleKeyDeletion,
        KmsOperation::CancelKeyDeletion,
        KmsOperation::Encrypt,
        KmsOperation::Decrypt,
        KmsOperation::GenerateDataKey,
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        KmsOperation::ALL.into_iter().find(|op| op.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            KmsOperation::CreateKey => "CreateKey",
            KmsOperation::DescribeKey => "DescribeKey",
            KmsOperation::ListKeys => "ListKeys",
            KmsOperation::CreateAlias => "CreateAlias",
            KmsOperation::ListAliases => "ListAliases",
            KmsOperation::DeleteAlias => "DeleteAlias",
            KmsOperation::EnableKey => "EnableKey",
            KmsOperation::DisableKey => "DisableKey",
            KmsOperation::ScheduleKeyDeletion => "ScheduleKeyDeletion",
            KmsOperation::CancelKeyDeletion => "CancelKeyDeletion",
            KmsOperation::Encrypt => "Encrypt",
            KmsOperation::Decrypt => "Decrypt",
            KmsOperation::GenerateDataKey => "GenerateDataKey",
        }
    }

    /// The IAM action: `kms:<Operation>`.
    pub fn action(self) -> String {
        format!("kms:{}", self.name())
    }
}

/// An AWS error answer: code (the `__type`), message, HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsFailure {
    pub code: &'static str,
    pub message: Option<String>,
    pub status: u16,
}

/// One action the caller must be allowed: "kms:Encrypt" on a key ARN (or "*" for
/// CreateKey/ListKeys/ListAliases), with the key's policy when the key exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsAuthorization {
    pub action: String,
    pub resource: String,
    pub key_policy: Option<String>,
}

/// The validated input of one operation.
pub struct KmsRequest {
    pub(crate) input: Input,
}

impl std::fmt::Debug for KmsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsRequest")
            .field("operation", &self.operation())
            .finish_non_exhaustive()
    }
}

impl KmsRequest {
    pub fn operation(&self) -> KmsOperation {
        match &self.input {
            Input::CreateKey { .. } => KmsOperation::CreateKey,
            Input::DescribeKey { .. } => KmsOperation::DescribeKey,
            Input::ListKeys { .. } => KmsOperation::ListKeys,
            Input::CreateAlias { .. } => KmsOperation::CreateAlias,
            Input::ListAliases { .. } => KmsOperation::ListAliases,
            Input::DeleteAlias { .. } => KmsOperation::DeleteAlias,
            Input::EnableKey { .. } => KmsOperation::EnableKey,
            Input::DisableKey { .. } => KmsOperation::DisableKey,
            Input::ScheduleKeyDeletion { .. } => KmsOperation::ScheduleKeyDeletion,
            Input::CancelKeyDeletion { .. } => KmsOperation::CancelKeyDeletion,
            Input::Encrypt { .. } => KmsOperation::Encrypt,
            Input::Decrypt { .. } => KmsOperation::Decrypt,
            Input::GenerateDataKey { .. } => KmsOperation::GenerateDataKey,
        }
    }
}

pub(crate) type Context = Vec<(String, String)>;

pub(crate) enum Input {
    CreateKey {
        description: String,
        policy: Option<String>,
    },
    DescribeKey {
        key_id: String,
    },
    ListKeys {
        limit: usize,
        marker: Option<String>,
    },
    CreateAlias {
        alias_name: String,
        target_key_id: String,
    },
    ListAliases {
        key_id: Option<String>,
        limit: usize,
        marker: Option<String>,
    },
    DeleteAlias {
        alias_name: String,
    },
    EnableKey {
        key_id: String,
    },
    DisableKey {
        key_id: String,
    },
    ScheduleKeyDeletion {
        key_id: String,
        days: u32,
    },
    CancelKeyDeletion {
        key_id: String,
    },
    Encrypt {
        key_id: String,
        plaintext: Zeroizing<Vec<u8>>,
        context: Context,
    },
    Decrypt {
        key_id: Option<String>,
        blob: Vec<u8>,
        context: Context,
    },
    GenerateDataKey {
        key_id: String,
        bytes: usize,
        context: Context,
    },
}

/// Default page size of ListKeys and ListAliases (KMS API Reference, ListKeys: "If you do
/// not include a value, it defaults to 100").
const DEFAULT_LIMIT: i64 = 100;

/// Parses and validates one operation's body (`{}` when empty).
pub fn parse(op: KmsOperation, body: &[u8]) -> Result<KmsRequest, KmsFailure> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    parse_input(op, body)
        .map(|input| KmsRequest { input })
        .map_err(Fault::into_failure)
}

fn parse_input(op: KmsOperation, body: &[u8]) -> Result<Input, Fault> {
    match op {
        KmsOperation::CreateKey => create_key(json(body)?),
        KmsOperation::DescribeKey => {
            key_id_only(json(body)?).map(|key_id| Input::DescribeKey { key_id })
        }
        KmsOperation::EnableKey => {
            key_id_only(json(body)?).map(|key_id| Input::EnableKey { key_id })
        }
        KmsOperation::DisableKey => {
            key_id_only(json(body)?).map(|key_id| Input::DisableKey { key_id })
        }
        KmsOperation::CancelKeyDeletion => {
            key_id_only(json(body)?).map(|key_id| Input::CancelKeyDeletion { key_id })
        }
        KmsOperation::ListKeys => {
            let w: wire::ListKeysInput = json(body)?;
            let mut check = Check::default();
            check.range("Limit", "LimitType", w.limit);
            check.length("Marker", "MarkerType", w.marker.as_deref());
            check
                .finish()
                .map_err(Fault::Validation)
                .map(|()| Input::ListKeys {
                    limit: w.limit.unwrap_or(DEFAULT_LIMIT) as usize,
                    marker: w.marker,
                })
        }
        KmsOperation::ListAliases => {
            let w: wire::ListAliasesInput = json(body)?;
            let mut check = Check::default();
            check.length("KeyId", "KeyIdType", w.key_id.as_deref());
            check.range("Limit", "LimitType", w.limit);
            check.length("Marker", "MarkerType", w.marker.as_deref());
            check
                .finish()
                .map_err(Fault::Validation)
                .map(|()| Input::ListAliases {
                    key_id: w.key_id,
                    limit: w.limit.unwrap_or(DEFAULT_LIMIT) as usize,
                    marker: w.marker,
                })
        }
        KmsOperation::CreateAlias => {
            let w: wire::CreateAliasInput = json(body)?;
            let mut check = Check::default();
            check.required("AliasName", &w.alias_name);
            alias_name(&mut check, w.alias_name.as_deref());
            check.required("TargetKeyId", &w.target_key_id);
            check.length("TargetKeyId", "KeyIdType", w.target_key_id.as_deref());
            check.finish().map_err(Fault::Validation)?;
            let alias_name = w.alias_name.unwrap_or_default();
            execute::check_alias_name(&alias_name)?;
            Ok(Input::CreateAlias {
                alias_name,
                target_key_id: w.target_key_id.unwrap_or_default(),
            })
        }
        KmsOperation::DeleteAlias => {
            let w: wire::DeleteAliasInput = json(body)?;
            let mut check = Check::default();
            check.required("AliasName", &w.alias_name);
            alias_name(&mut check, w.alias_name.as_deref());
            check.finish().map_err(Fault::Validation)?;
            let alias_name = w.alias_name.unwrap_or_default();
            execute::check_alias_name(&alias_name)?;
            Ok(Input::DeleteAlias { alias_name })
        }
        KmsOperation::ScheduleKeyDeletion => schedule(json(body)?),
        KmsOperation::Encrypt => encrypt(json(body)?),
        KmsOperation::Decrypt => decrypt(json(body)?),
        KmsOperation::GenerateDataKey => generate(json(body)?),
    }
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Fault> {
    serde_json::from_slice(body).map_err(|_| Fault::Serialization)
}

/// A blob member: base64 text, else the body is not the operation's JSON.
fn blob(text: Option<&str>) -> Result<Option<Vec<u8>>, Fault> {
    match text {
        None => Ok(None),
        Some(t) => base64::engine::general_purpose::STANDARD
            .decode(t)
            .map(Some)
            .map_err(|_| Fault::Serialization),
    }
}

fn context(map: Option<BTreeMap<String, String>>) -> Context {
    map.unwrap_or_default().into_iter().collect()
}

fn key_id_only(w: wire::KeyIdInput) -> Result<String, Fault> {
    let mut check = Check::default();
    check.required("KeyId", &w.key_id);
    check.length("KeyId", "KeyIdType", w.key_id.as_deref());
    check.list_length("GrantTokens", "GrantTokenList", w.grant_tokens.as_deref());
    check.finish().map_err(Fault::Validation)?;
    Ok(w.key_id.unwrap_or_default())
}

fn alias_name(check: &mut Check, name: Option<&str>) {
    check.length("AliasName", "AliasNameType", name);
    check.pattern(
        "AliasName",
        name,
        |c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-'),
        "^[a-zA-Z0-9:/_-]+$",
    );
}

fn create_key(w: wire::CreateKeyInput) -> Result<Input, Fault> {
    let mut check = Check::default();
    check.length("Policy", "PolicyType", w.policy.as_deref());
    check.length("Description", "DescriptionType", w.description.as_deref());
    check.one_of("KeyUsage", w.key_usage.as_deref(), KEY_USAGES);
    check.one_of(
        "CustomerMasterKeySpec",
        w.customer_master_key_spec.as_deref(),
        KEY_SPECS,
    );
    check.one_of("KeySpec", w.key_spec.as_deref(), KEY_SPECS);
    check.one_of("Origin", w.origin.as_deref(), ORIGINS);
    check.finish().map_err(Fault::Validation)?;
    // What this key service makes: symmetric encryption keys with KMS-made material, in one
    // region. The refusals below are Tributary's own wording.
    for (member, value, supported) in [
        ("KeyUsage", &w.key_usage, "ENCRYPT_DECRYPT"),
        ("KeySpec", &w.key_spec, "SYMMETRIC_DEFAULT"),
        (
            "CustomerMasterKeySpec",
            &w.customer_master_key_spec,
            "SYMMETRIC_DEFAULT",
        ),
        ("Origin", &w.origin, "AWS_KMS"),
    ] {
        if let Some(value) = value.as_deref().filter(|v| *v != supported) {
            return Err(Fault::Unsupported(format!(
                "{member} {value} is not supported by this key service; only {supported} is"
            )));
        }
    }
    if w.multi_region == Some(true) {
        return Err(Fault::Unsupported(
            "Multi-Region keys are not supported by this key service".into(),
        ));
    }
    if let Some(policy) = &w.policy {
        check_policy(policy)?;
    }
    Ok(Input::CreateKey {
        description: w.description.unwrap_or_default(),
        policy: w.policy,
    })
}

/// A key policy is kept only if the server will be able to read it: it authorizes every
/// later use of the key with `Policy::parse_resource`, and a policy it cannot read either
/// leaves the key to identity policies alone or makes the key unusable.
fn check_policy(policy: &str) -> Result<(), Fault> {
    let Err(e) = tributary_auth::policy::Policy::parse_resource(policy) else {
        return Ok(());
    };
    tracing::debug!(reason = %e, "CreateKey refused a key policy");
    if e.message.starts_with("Invalid principal") {
        // Source: AWS Knowledge Center, "How can I resolve the AWS KMS key policy error
        // 'Policy contains a statement with one or more invalid principals'?"
        // (https://repost.aws/knowledge-center/kms-policy-error-invalid-principals).
        return Err(Fault::MalformedPolicy(Some(
            "Policy contains a statement with one or more invalid principals.".into(),
        )));
    }
    // KMS names no reason for a document it cannot read: the exception comes without a
    // message (aws/aws-sdk-ruby issue 1784, CreateKey with a Policy that is not JSON).
    Err(Fault::MalformedPolicy(None))
}

fn schedule(w: wire::ScheduleKeyDeletionInput) -> Result<Input, Fault> {
    let mut check = Check::default();
    check.required("KeyId", &w.key_id);
    check.length("KeyId", "KeyIdType", w.key_id.as_deref());
    check.range(
        "PendingWindowInDays",
        "PendingWindowInDaysType",
        w.pending_window_in_days,
    );
    check.finish().map_err(Fault::Validation)?;
    let days = w.pending_window_in_days.unwrap_or(30);
    if !(7..=30).contains(&days) {
        // Source: nsmithuk/local-kms src/handler/schedule_key_deletion.go.
        return Err(Fault::Validation(format!(
            "1 validation error detected: Value '{days}' at 'PendingWindowInDays' failed to \
             satisfy constraint: Member must have minimum value of 7 and maximum value of 30."
        )));
    }
    Ok(Input::ScheduleKeyDeletion {
        key_id: w.key_id.unwrap_or_default(),
        days: days as u32,
    })
}

fn symmetric_only(algorithm: Option<&str>) -> Result<(), Fault> {
    match algorithm {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        // Reconstructed: KMS answers InvalidKeyUsageException for an RSA algorithm with a
        // symmetric key; the built-in service has only symmetric keys.
        Some(other) => Err(Fault::Unsupported(format!(
            "EncryptionAlgorithm {other} is not supported by this key service"
        ))),
    }
}

fn encrypt(w: wire::EncryptInput) -> Result<Input, Fault> {
    let plaintext = blob(w.plaintext.as_deref())?.map(Zeroizing::new);
    let mut check = Check::default();
    check.required("KeyId", &w.key_id);
    check.length("KeyId", "KeyIdType", w.key_id.as_deref());
    check.required("Plaintext", &plaintext);
    check.blob_length(
        "Plaintext",
        "PlaintextType",
        plaintext.as_deref().map(|p| &p[..]),
    );
    check.list_length("GrantTokens", "GrantTokenList", w.grant_tokens.as_deref());
    check.one_of(
        "EncryptionAlgorithm",
        w.encryption_algorithm.as_deref(),
        ALGORITHMS,
    );
    check.finish().map_err(Fault::Validation)?;
    symmetric_only(w.encryption_algorithm.as_deref())?;
    Ok(Input::Encrypt {
        key_id: w.key_id.unwrap_or_default(),
        plaintext: plaintext.unwrap_or_default(),
        context: context(w.encryption_context),
    })
}

fn decrypt(w: wire::DecryptInput) -> Result<Input, Fault> {
    let blob = blob(w.ciphertext_blob.as_deref())?;
    let mut check = Check::default();
    check.required("CiphertextBlob", &blob);
    check.blob_length("CiphertextBlob", "CiphertextType", blob.as_deref());
    check.list_length("GrantTokens", "GrantTokenList", w.grant_tokens.as_deref());
    check.length("KeyId", "KeyIdType", w.key_id.as_deref());
    check.one_of(
        "EncryptionAlgorithm",
        w.encryption_algorithm.as_deref(),
        ALGORITHMS,
    );
    check.finish().map_err(Fault::Validation)?;
    symmetric_only(w.encryption_algorithm.as_deref())?;
    Ok(Input::Decrypt {
        key_id: w.key_id,
        blob: blob.unwrap_or_default(),
        context: context(w.encryption_context),
    })
}

fn generate(w: wire::GenerateDataKeyInput) -> Result<Input, Fault> {
    let mut check = Check::default();
    check.required("KeyId", &w.key_id);
    check.length("KeyId", "KeyIdType", w.key_id.as_deref());
    check.range("NumberOfBytes", "NumberOfBytesType", w.number_of_bytes);
    check.one_of("KeySpec", w.key_spec.as_deref(), &["AES_256", "AES_128"]);
    check.list_length("GrantTokens", "GrantTokenList", w.grant_tokens.as_deref());
    check.finish().map_err(Fault::Validation)?;
    let bytes = match (w.key_spec.as_deref(), w.number_of_bytes) {
        (Some("AES_256"), None) => 32,
        (Some(_), None) => 16,
        (None, Some(n)) => n as usize,
        // Source: getmoto/moto kms/responses.py (generate_data_key), written against KMS.
        _ => {
            return Err(Fault::Validation(
                "Please specify either number of bytes or key spec.".into(),
            ))
        }
    };
    Ok(Input::GenerateDataKey {
        key_id: w.key_id.unwrap_or_default(),
        bytes,
        context: context(w.encryption_context),
    })
}

const KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
    "ENCAPSULATE_DECAPSULATE",
];
const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];
const ORIGINS: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];
const ALGORITHMS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];

#[cfg(test)]
mod tests;
