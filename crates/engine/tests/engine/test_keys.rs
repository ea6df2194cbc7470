//! An in-memory [`KeyService`] for the encryption tests: keys by UUID with a state the test
//! sets, aliases, and data keys whose "ciphertext" is a random handle it remembers (with the
//! key and the encryption context it was made under). Counts the calls the engine makes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use rand::RngCore;
use tributary_kms::{DataKey, KeyError, KeyFuture, KeyInfo, KeyScope, KeyService, KeyState};
use zeroize::Zeroizing;

/// What a data key blob stands for: its key ARN, its encryption context, its plaintext.
type Blob = (String, Vec<(String, String)>, [u8; 32]);

#[derive(Default)]
pub struct TestKeys {
    /// Key UUID -> (ARN, state).
    keys: Mutex<HashMap<String, (String, KeyState)>>,
    /// Alias name (`alias/x`) -> key UUID.
    aliases: Mutex<HashMap<String, String>>,
    blobs: Mutex<HashMap<Vec<u8>, Blob>>,
    pub generated: AtomicUsize,
    pub decrypted: AtomicUsize,
}

impl TestKeys {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds an enabled key in `account`/`region`, and `alias` for it; returns its ARN.
    pub fn add(&self, account: &str, region: &str, uuid: &str, alias: Option<&str>) -> String {
        let arn = format!("arn:aws:kms:{region}:{account}:key/{uuid}");
        self.keys
            .lock()
            .insert(uuid.to_owned(), (arn.clone(), KeyState::Enabled));
        if let Some(a) = alias {
            self.aliases.lock().insert(a.to_owned(), uuid.to_owned());
        }
        arn
    }

    pub fn set_state(&self, uuid: &str, state: KeyState) {
        self.keys.lock().get_mut(uuid).expect("a known key").1 = state;
    }

    fn resolve(&self, scope: &KeyScope, key: &str) -> Result<KeyInfo, KeyError> {
        let missing = || KeyError::NotFound(format!("Key '{key}' does not exist"));
        let uuid = if let Some(rest) = key.strip_prefix("arn:aws:kms:") {
            let resource = rest.splitn(3, ':').nth(2).ok_or_else(missing)?;
            match resource.strip_prefix("key/") {
                Some(uuid) => uuid.to_owned(),
                None => self
                    .aliases
                    .lock()
                    .get(resource)
                    .cloned()
                    .ok_or_else(missing)?,
            }
        } else if key.starts_with("alias/") {
            self.aliases.lock().get(key).cloned().ok_or_else(missing)?
        } else {
            key.to_owned()
        };
        let (arn, state) = self.keys.lock().get(&uuid).cloned().ok_or_else(missing)?;
        if !key.starts_with("arn:") && !arn.contains(&format!(":{}:", scope.account)) {
            return Err(missing());
        }
        Ok(KeyInfo {
            arn,
            key_id: uuid,
            state,
        })
    }

    fn usable(&self, key_arn: &str) -> Result<(), KeyError> {
        let scope = KeyScope {
            account: String::new(),
            region: String::new(),
        };
        let info = self.resolve(&scope, key_arn)?;
        match info.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(KeyError::Disabled(format!("{key_arn} is disabled."))),
            KeyState::PendingDeletion => Err(KeyError::InvalidState(format!(
                "{key_arn} is pending deletion."
            ))),
        }
    }
}

impl KeyService for TestKeys {
    fn describe_key<'a>(&'a self, scope: &'a KeyScope, key: &'a str) -> KeyFuture<'a, KeyInfo> {
        let r = self.resolve(scope, key);
        Box::pin(async move { r })
    }

    fn generate_data_key<'a>(
        &'a self,
        key_arn: &'a str,
        context: &'a [(String, String)],
    ) -> KeyFuture<'a, DataKey> {
        let r = self.usable(key_arn).map(|()| {
            self.generated.fetch_add(1, Ordering::Relaxed);
            let mut plaintext = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut plaintext);
            let mut blob = vec![0u8; 24];
            rand::rngs::OsRng.fill_bytes(&mut blob);
            self.blobs.lock().insert(
                blob.clone(),
                (key_arn.to_owned(), context.to_vec(), plaintext),
            );
            DataKey {
                plaintext: Zeroizing::new(plaintext),
                ciphertext: Bytes::from(blob),
            }
        });
        Box::pin(async move { r })
    }

    fn decrypt<'a>(
        &'a self,
        key_arn: &'a str,
        ciphertext: &'a [u8],
        context: &'a [(String, String)],
    ) -> KeyFuture<'a, Zeroizing<Vec<u8>>> {
        let r = self.usable(key_arn).and_then(|()| {
            self.decrypted.fetch_add(1, Ordering::Relaxed);
            match self.blobs.lock().get(ciphertext) {
                Some((arn, ctx, plain)) if arn == key_arn && ctx == context => {
                    Ok(Zeroizing::new(plain.to_vec()))
                }
                _ => Err(KeyError::InvalidCiphertext("not a blob of this key".into())),
            }
        });
        Box::pin(async move { r })
    }

    fn key_policy<'a>(&'a self, _key_arn: &'a str) -> KeyFuture<'a, Option<String>> {
        Box::pin(async { Ok(None) })
    }
}
