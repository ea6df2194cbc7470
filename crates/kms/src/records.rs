//! What the built-in key service keeps in the MetaStore: versioned JSON records.
//!
//! | MetaStore key                                 | record          |
//! |-----------------------------------------------|-----------------|
//! | `kms/root-check`                              | [`RootCheck`]   |
//! | `kms/key/{account}/{region}/{key uuid}`       | [`KeyRecord`]   |
//! | `kms/alias/{account}/{region}/{alias name}`   | [`AliasRecord`] |
//!
//! Every record has `"v": 1`. A key's material is only ever stored wrapped by the root key
//! (see [`crate::root`]), with the key's ARN as authenticated data.

use serde::{Deserialize, Serialize};

pub const RECORD_VERSION: u32 = 1;
pub const PREFIX: &str = "kms/";
pub const ROOT_CHECK_KEY: &str = "kms/root-check";
/// The label whose HMAC under the root key the root-check record holds.
pub const ROOT_CHECK_LABEL: &[u8] = b"tributary-kms root-check v1";

pub fn key_meta_key(account: &str, region: &str, key_id: &str) -> String {
    format!("kms/key/{account}/{region}/{key_id}")
}

pub fn alias_meta_key(account: &str, region: &str, alias_name: &str) -> String {
    format!("kms/alias/{account}/{region}/{alias_name}")
}

pub fn key_arn(region: &str, account: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{key_id}")
}

pub fn alias_arn(region: &str, account: &str, alias_name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{alias_name}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredState {
    Enabled,
    Disabled,
    PendingDeletion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum KeyManager {
    Customer,
    Aws,
}

impl KeyManager {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyManager::Customer => "CUSTOMER",
            KeyManager::Aws => "AWS",
        }
    }
}

/// One KMS key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub v: u32,
    pub key_id: String,
    pub account: String,
    pub region: String,
    pub state: StoredState,
    /// Milliseconds since the Unix epoch.
    pub created_ms: i64,
    pub description: String,
    /// Always `ENCRYPT_DECRYPT` for now.
    pub key_usage: String,
    /// Always `SYMMETRIC_DEFAULT` for now.
    pub key_spec: String,
    pub key_manager: KeyManager,
    /// When a key pending deletion is due to go, ms since the epoch.
    #[serde(default)]
    pub deletion_ms: Option<i64>,
    #[serde(default)]
    pub pending_window_days: Option<u32>,
    /// The key policy document, as given (or KMS's default).
    pub policy: String,
    /// Standard base64 of the 32-byte material wrapped by the root key, aad = the key's ARN.
    pub wrapped_material: String,
}

impl KeyRecord {
    pub fn arn(&self) -> String {
        key_arn(&self.region, &self.account, &self.key_id)
    }
}

/// One alias; `alias_name` includes the `alias/` prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub v: u32,
    pub alias_name: String,
    pub target_key_id: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Proof of which root key wrapped the keys, without the key: HMAC-SHA256 of
/// [`ROOT_CHECK_LABEL`] under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootCheck {
    pub v: u32,
    pub alg: String,
    /// Standard base64 of the HMAC.
    pub value: String,
}

/// A record as the cache holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Key(KeyRecord),
    Alias(AliasRecord),
}

/// Parses a MetaStore entry under `kms/`; `None` for keys this version does not know (the
/// root check included), so a newer node's records do not break an older one.
pub fn decode(meta_key: &str, value: &[u8]) -> Option<Record> {
    if meta_key.starts_with("kms/key/") {
        let record: KeyRecord = serde_json::from_slice(value).ok()?;
        (record.v == RECORD_VERSION).then_some(Record::Key(record))
    } else if meta_key.starts_with("kms/alias/") {
        let record: AliasRecord = serde_json::from_slice(value).ok()?;
        (record.v == RECORD_VERSION).then_some(Record::Alias(record))
    } else {
        None
    }
}

pub fn encode<T: Serialize>(record: &T) -> bytes::Bytes {
    bytes::Bytes::from(serde_json::to_vec(record).expect("records serialize"))
}

/// KMS's default key policy for a key made without one (source: AWS KMS Developer Guide,
/// "Default key policy", https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
pub fn default_policy(account: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

/// The policy of an AWS managed key for Kinesis: any principal of the account may use it
/// through Kinesis, and the account may read it. Shaped like the policies AWS gives its
/// managed keys (AWS KMS Developer Guide, "AWS managed keys",
/// https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#aws-managed-cmk);
/// the exact document for aws/kinesis is reconstructed.
pub fn aws_kinesis_policy(account: &str, region: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "auto-kinesis-1",
        "Statement": [
            {
                "Sid": "Allow access through Amazon Kinesis for all principals in the account that are authorized to use Amazon Kinesis",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:CallerAccount": account,
                    "kms:ViaService": format!("kinesis.{region}.amazonaws.com")
                }}
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*"
            }
        ]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_record_formats() {
        let key = KeyRecord {
            v: 1,
            key_id: "0b6e0f8e-1a52-4bb5-9b8b-1f0c0c6b3c11".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            state: StoredState::PendingDeletion,
            created_ms: 1_700_000_000_000,
            description: "d".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_manager: KeyManager::Aws,
            deletion_ms: Some(1_702_592_000_000),
            pending_window_days: Some(30),
            policy: "{}".into(),
            wrapped_material: "AQ==".into(),
        };
        let text = String::from_utf8(encode(&key).to_vec()).unwrap();
        assert_eq!(
            text,
            r#"{"v":1,"key_id":"0b6e0f8e-1a52-4bb5-9b8b-1f0c0c6b3c11","account":"123456789012","region":"us-east-1","state":"PendingDeletion","created_ms":1700000000000,"description":"d","key_usage":"ENCRYPT_DECRYPT","key_spec":"SYMMETRIC_DEFAULT","key_manager":"AWS","deletion_ms":1702592000000,"pending_window_days":30,"policy":"{}","wrapped_material":"AQ=="}"#
        );
        let meta_key = key_meta_key("123456789012", "us-east-1", &key.key_id);
        assert_eq!(decode(&meta_key, text.as_bytes()), Some(Record::Key(key)));

        let alias = AliasRecord {
            v: 1,
            alias_name: "alias/x".into(),
            target_key_id: "k".into(),
            created_ms: 1,
            updated_ms: 2,
        };
        let text = String::from_utf8(encode(&alias).to_vec()).unwrap();
        assert_eq!(
            text,
            r#"{"v":1,"alias_name":"alias/x","target_key_id":"k","created_ms":1,"updated_ms":2}"#
        );
        assert_eq!(alias_meta_key("1", "r", "alias/x"), "kms/alias/1/r/alias/x");
        let check = RootCheck {
            v: 1,
            alg: "HMAC-SHA256".into(),
            value: "AA==".into(),
        };
        assert_eq!(
            String::from_utf8(encode(&check).to_vec()).unwrap(),
            r#"{"v":1,"alg":"HMAC-SHA256","value":"AA=="}"#
        );
        assert_eq!(decode("kms/key/a/b/c", br#"{"v":2}"#), None);
    }

    /// The server authorizes with these through `Policy::parse_resource` and cannot honour
    /// a policy it cannot read: both must read, with the statements they are meant to have.
    #[test]
    fn built_in_policies_read_as_key_policies() {
        use tributary_auth::policy::Policy;
        let read = |name: &str, text: String| {
            Policy::parse_resource(&text)
                .unwrap_or_else(|e| panic!("the {name} policy does not read: {e}"))
        };
        let default = read("default", default_policy("123456789012"));
        assert_eq!(default.statements.len(), 1);
        let kinesis = read(
            "aws/kinesis",
            aws_kinesis_policy("123456789012", "eu-west-1"),
        );
        assert_eq!(kinesis.statements.len(), 2);
        // The use statement holds only through Kinesis, for callers of the account.
        let keys: Vec<&str> = kinesis.statements[0]
            .conditions
            .iter()
            .map(|c| c.key.as_str())
            .collect();
        assert_eq!(keys, ["kms:CallerAccount", "kms:ViaService"]);
    }
}
