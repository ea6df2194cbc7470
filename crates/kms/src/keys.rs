//! What the built-in key service does with keys and aliases, shared by the TrentService API
//! and the [`crate::KeyService`] the engine uses.

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::blob;
use crate::fault::Fault;
use crate::local::LocalKms;
use crate::records::{
    self, alias_arn, alias_meta_key, key_arn, key_meta_key, AliasRecord, KeyManager, KeyRecord,
    Record, StoredState, RECORD_VERSION,
};
use crate::root::fill_random;
use crate::KeyScope;

/// The AWS managed key Kinesis uses when a stream names no key of its own.
pub const AWS_KINESIS_ALIAS: &str = "alias/aws/kinesis";
/// Reconstructed from the descriptions AWS gives its managed keys ("Default key that
/// protects my ... data when no other key is defined").
const AWS_KINESIS_DESCRIPTION: &str =
    "Default key that protects my Kinesis data when no other key is defined";

/// A key reference resolved to where it lives (not yet to a key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyRef {
    Key {
        account: String,
        region: String,
        key_id: String,
    },
    Alias {
        account: String,
        region: String,
        name: String,
    },
}

impl KeyRef {
    /// Key id, key ARN, alias name or alias ARN (KMS's four forms of KeyId).
    pub fn parse(scope: &KeyScope, text: &str) -> Result<KeyRef, Fault> {
        if let Some(rest) = text.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            // Reconstructed wording.
            let invalid = || Fault::InvalidArn(format!("Invalid arn {text}"));
            let [partition, service, region, account, resource] = parts[..] else {
                return Err(invalid());
            };
            if partition.is_empty() || service != "kms" || region.is_empty() || account.is_empty() {
                return Err(invalid());
            }
            let (account, region) = (account.to_string(), region.to_string());
            if let Some(key_id) = resource.strip_prefix("key/") {
                return Ok(KeyRef::Key {
                    account,
                    region,
                    key_id: key_id.to_string(),
                });
            }
            if resource.starts_with("alias/") {
                return Ok(KeyRef::Alias {
                    account,
                    region,
                    name: resource.to_string(),
                });
            }
            return Err(invalid());
        }
        let (account, region) = (scope.account.clone(), scope.region.clone());
        if text.starts_with("alias/") {
            return Ok(KeyRef::Alias {
                account,
                region,
                name: text.to_string(),
            });
        }
        Ok(KeyRef::Key {
            account,
            region,
            key_id: text.to_string(),
        })
    }

    /// The ARN this reference names (a key's or an alias's).
    pub fn arn(&self) -> String {
        match self {
            KeyRef::Key {
                account,
                region,
                key_id,
            } => key_arn(region, account, key_id),
            KeyRef::Alias {
                account,
                region,
                name,
            } => alias_arn(region, account, name),
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl LocalKms {
    /// The key a reference names. `create_managed` makes `alias/aws/kinesis` on first use.
    pub(crate) async fn resolve(
        &self,
        reference: &KeyRef,
        create_managed: bool,
    ) -> Result<KeyRecord, Fault> {
        let (account, region, key_id) = match reference {
            KeyRef::Key {
                account,
                region,
                key_id,
            } => (account, region, key_id.clone()),
            KeyRef::Alias {
                account,
                region,
                name,
            } => match self.alias(account, region, name).await? {
                Some(alias) => (account, region, alias.target_key_id),
                None if create_managed && name == AWS_KINESIS_ALIAS => {
                    return self.ensure_aws_kinesis_key(account, region).await;
                }
                None => return Err(Fault::alias_not_found(&reference.arn())),
            },
        };
        match self.lookup(&key_meta_key(account, region, &key_id)).await? {
            Some((_, Record::Key(key))) => Ok(key),
            _ => Err(Fault::key_not_found(&key_arn(region, account, &key_id))),
        }
    }

    pub(crate) async fn alias(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<AliasRecord>, Fault> {
        match self.lookup(&alias_meta_key(account, region, name)).await? {
            Some((_, Record::Alias(alias))) => Ok(Some(alias)),
            _ => Ok(None),
        }
    }

    /// Makes a key (Enabled) with fresh material, wrapped by the root key.
    pub(crate) async fn create_key(
        &self,
        scope: &KeyScope,
        description: String,
        policy: Option<String>,
        manager: KeyManager,
    ) -> Result<KeyRecord, Fault> {
        let key = self.new_key_record(scope, description, policy, manager);
        let meta_key = key_meta_key(&key.account, &key.region, &key.key_id);
        match self
            .create_record(&meta_key, Record::Key(key.clone()))
            .await?
        {
            Some(_) => Ok(key),
            None => Err(Fault::internal("a fresh key id already exists")),
        }
    }

    fn new_key_record(
        &self,
        scope: &KeyScope,
        description: String,
        policy: Option<String>,
        manager: KeyManager,
    ) -> KeyRecord {
        let key_id = uuid::Uuid::new_v4().to_string();
        let arn = key_arn(&scope.region, &scope.account, &key_id);
        let mut material = Zeroizing::new([0u8; 32]);
        fill_random(&mut material[..]);
        let wrapped = self.root.wrap(&material[..], arn.as_bytes());
        KeyRecord {
            v: RECORD_VERSION,
            key_id,
            account: scope.account.clone(),
            region: scope.region.clone(),
            state: StoredState::Enabled,
            created_ms: now_ms(),
            description,
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_manager: manager,
            deletion_ms: None,
            pending_window_days: None,
            policy: policy.unwrap_or_else(|| records::default_policy(&scope.account)),
            wrapped_material: base64::engine::general_purpose::STANDARD.encode(wrapped),
        }
    }

    /// The account and region's `alias/aws/kinesis` key, made if absent. Nodes racing here
    /// converge: the alias is created only if absent, and a loser deletes its own key.
    async fn ensure_aws_kinesis_key(
        &self,
        account: &str,
        region: &str,
    ) -> Result<KeyRecord, Fault> {
        let scope = KeyScope {
            account: account.to_string(),
            region: region.to_string(),
        };
        let policy = records::aws_kinesis_policy(account, region);
        let key = self.new_key_record(
            &scope,
            AWS_KINESIS_DESCRIPTION.into(),
            Some(policy),
            KeyManager::Aws,
        );
        let key_key = key_meta_key(account, region, &key.key_id);
        let Some(key_revision) = self
            .create_record(&key_key, Record::Key(key.clone()))
            .await?
        else {
            return Err(Fault::internal("a fresh key id already exists"));
        };
        let now = now_ms();
        let alias = AliasRecord {
            v: RECORD_VERSION,
            alias_name: AWS_KINESIS_ALIAS.into(),
            target_key_id: key.key_id.clone(),
            created_ms: now,
            updated_ms: now,
        };
        let alias_key = alias_meta_key(account, region, AWS_KINESIS_ALIAS);
        if self
            .create_record(&alias_key, Record::Alias(alias))
            .await?
            .is_some()
        {
            return Ok(key);
        }
        self.delete_record(&key_key, key_revision).await?;
        match self.reload(&alias_key).await? {
            Some((_, Record::Alias(winner))) => {
                match self
                    .lookup(&key_meta_key(account, region, &winner.target_key_id))
                    .await?
                {
                    Some((_, Record::Key(key))) => Ok(key),
                    _ => Err(Fault::key_not_found(&key_arn(
                        region,
                        account,
                        &winner.target_key_id,
                    ))),
                }
            }
            _ => Err(Fault::internal(
                "alias/aws/kinesis was created and removed at once",
            )),
        }
    }

    /// The key's material, for a key that may be used (Enabled).
    pub(crate) fn usable_material(&self, key: &KeyRecord) -> Result<Zeroizing<[u8; 32]>, Fault> {
        let arn = key.arn();
        match key.state {
            StoredState::Enabled => {}
            StoredState::Disabled => return Err(Fault::disabled(&arn)),
            StoredState::PendingDeletion => return Err(Fault::pending_deletion(&arn)),
        }
        let wrapped = base64::engine::general_purpose::STANDARD
            .decode(&key.wrapped_material)
            .map_err(|_| Fault::internal(format!("{arn}: material is not base64")))?;
        let material = self
            .root
            .unwrap(&wrapped, arn.as_bytes())
            .map_err(|e| Fault::internal(format!("{arn}: {e}")))?;
        let bytes: [u8; 32] = material[..]
            .try_into()
            .map_err(|_| Fault::internal(format!("{arn}: material is not 32 bytes")))?;
        Ok(Zeroizing::new(bytes))
    }

    pub(crate) fn encrypt_with(
        &self,
        key: &KeyRecord,
        plaintext: &[u8],
        context: &[(String, String)],
    ) -> Result<Vec<u8>, Fault> {
        let material = self.usable_material(key)?;
        let id = uuid::Uuid::parse_str(&key.key_id)
            .map_err(|_| Fault::internal(format!("key id {} is not a UUID", key.key_id)))?;
        Ok(blob::seal_blob(&material, id, plaintext, context))
    }

    /// Decrypts a blob in `scope` (or with `expected`, the key the caller named); the key
    /// is the one the blob names.
    pub(crate) async fn decrypt_blob(
        &self,
        scope: &KeyScope,
        expected: Option<&KeyRecord>,
        ciphertext: &[u8],
        context: &[(String, String)],
    ) -> Result<(KeyRecord, Zeroizing<Vec<u8>>), Fault> {
        let id = blob::blob_key_id(ciphertext)
            .ok_or(Fault::InvalidCiphertext)?
            .to_string();
        let key = match expected {
            Some(key) if key.key_id == id => key.clone(),
            // KMS answers IncorrectKeyException here; the service reports a blob that cannot
            // be opened with the named key as invalid ciphertext.
            Some(_) => return Err(Fault::InvalidCiphertext),
            None => self.key_by_id(scope, &id).await?,
        };
        let material = self.usable_material(&key)?;
        let plain =
            blob::open_blob(&material, ciphertext, context).ok_or(Fault::InvalidCiphertext)?;
        Ok((key, plain))
    }

    /// A key found by UUID alone: in the caller's account and region, else anywhere this
    /// node knows (UUIDs are unique).
    pub(crate) async fn key_by_id(&self, scope: &KeyScope, id: &str) -> Result<KeyRecord, Fault> {
        let here = KeyRef::Key {
            account: scope.account.clone(),
            region: scope.region.clone(),
            key_id: id.to_string(),
        };
        match self.resolve(&here, false).await {
            Err(Fault::NotFound(_)) => {}
            other => return other,
        }
        self.cached_under("kms/key/")
            .into_iter()
            .find_map(|r| match r {
                Record::Key(k) if k.key_id == id => Some(k),
                _ => None,
            })
            .ok_or(Fault::InvalidCiphertext)
    }

    /// Changes a key's state through `change`, refusing AWS managed keys.
    pub(crate) async fn change_key(
        &self,
        key: &KeyRecord,
        change: impl Fn(&KeyRecord) -> Result<KeyRecord, Fault>,
    ) -> Result<KeyRecord, Fault> {
        if key.key_manager == KeyManager::Aws {
            return Err(Fault::aws_managed(&key.arn()));
        }
        let meta_key = key_meta_key(&key.account, &key.region, &key.key_id);
        let arn = key.arn();
        let updated = self
            .update_record(&meta_key, |record| match record {
                Record::Key(current) => change(current).map(Record::Key),
                Record::Alias(_) => Err(Fault::internal("a key entry holds an alias")),
            })
            .await
            .map_err(|f| match f {
                Fault::NotFound(m) if m.is_empty() => Fault::key_not_found(&arn),
                other => other,
            })?;
        match updated {
            Record::Key(key) => Ok(key),
            Record::Alias(_) => Err(Fault::internal("a key entry holds an alias")),
        }
    }
}
