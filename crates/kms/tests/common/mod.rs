#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use tributary_kms::api::{self, KmsFailure, KmsOperation};
use tributary_kms::{KeyScope, LocalKms, RootKey};
use tributary_storage::memory::MemoryMetaStore;
use tributary_storage::MetaStore;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

pub fn scope() -> KeyScope {
    KeyScope {
        account: ACCOUNT.into(),
        region: REGION.into(),
    }
}

pub fn root() -> RootKey {
    RootKey::from_bytes([42; 32])
}

pub async fn open() -> (Arc<MemoryMetaStore>, Arc<LocalKms>) {
    let store = Arc::new(MemoryMetaStore::new());
    let kms = LocalKms::open(store.clone(), root()).await.unwrap();
    (store, kms)
}

/// Parses, authorizes (checking nothing) and executes one call.
pub async fn call(
    kms: &LocalKms,
    op: KmsOperation,
    body: serde_json::Value,
) -> Result<serde_json::Value, KmsFailure> {
    call_in(kms, &scope(), op, body).await
}

pub async fn call_in(
    kms: &LocalKms,
    scope: &KeyScope,
    op: KmsOperation,
    body: serde_json::Value,
) -> Result<serde_json::Value, KmsFailure> {
    let req = api::parse(op, body.to_string().as_bytes())?;
    assert_eq!(req.operation(), op);
    kms.authorizations(scope, &req).await?;
    let out: Bytes = kms.execute(scope, req).await?;
    if out.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    Ok(serde_json::from_slice(&out).unwrap())
}

pub async fn create_key(kms: &LocalKms) -> (String, String) {
    let out = call(kms, KmsOperation::CreateKey, serde_json::json!({}))
        .await
        .unwrap();
    let meta = &out["KeyMetadata"];
    (
        meta["KeyId"].as_str().unwrap().to_string(),
        meta["Arn"].as_str().unwrap().to_string(),
    )
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(text: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.as_str().unwrap())
        .unwrap()
}

/// Every value the store holds.
pub async fn stored_values(store: &MemoryMetaStore) -> Vec<(String, Bytes)> {
    let mut out = Vec::new();
    for key in store.keys() {
        if let Some(entry) = store.get(&key).await.unwrap() {
            out.push((key, entry.value));
        }
    }
    out
}

pub fn code(r: Result<serde_json::Value, KmsFailure>) -> &'static str {
    r.unwrap_err().code
}
