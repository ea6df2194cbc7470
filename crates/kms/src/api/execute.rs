//! What each TrentService operation does and what it must be allowed, over [`LocalKms`].

use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;

use super::wire::{self, KeyMetadata};
use super::{Input, KmsAuthorization, KmsFailure, KmsRequest};
use crate::fault::Fault;
use crate::keys::{now_ms, KeyRef, AWS_KINESIS_ALIAS};
use crate::local::LocalKms;
use crate::records::{
    alias_arn, alias_meta_key, key_arn, AliasRecord, KeyManager, KeyRecord, Record, StoredState,
    RECORD_VERSION,
};
use crate::KeyScope;

const DAY_MS: i64 = 86_400_000;

impl LocalKms {
    /// What the caller must be allowed for `req`, in order. A key that does not exist yields
    /// its ARN (or the alias's) with no policy; [`LocalKms::execute`] then answers
    /// NotFoundException. The operations that make `alias/aws/kinesis` on first use
    /// (DescribeKey, Encrypt, Decrypt, GenerateDataKey) make it here, so the managed key's
    /// policy applies to every call, the first included.
    pub async fn authorizations(
        &self,
        scope: &KeyScope,
        req: &KmsRequest,
    ) -> Result<Vec<KmsAuthorization>, KmsFailure> {
        self.authorizations_of(scope, req)
            .await
            .map_err(Fault::into_failure)
    }

    async fn authorizations_of(
        &self,
        scope: &KeyScope,
        req: &KmsRequest,
    ) -> Result<Vec<KmsAuthorization>, Fault> {
        let action = req.operation().action();
        let anywhere = |action: String| KmsAuthorization {
            action,
            resource: "*".into(),
            key_policy: None,
        };
        match &req.input {
            Input::CreateKey { .. } | Input::ListKeys { .. } | Input::ListAliases { .. } => {
                Ok(vec![anywhere(action)])
            }
            // The operations whose execution makes alias/aws/kinesis on first use make it
            // here already, so its key policy decides even the first call.
            Input::DescribeKey { key_id }
            | Input::Encrypt { key_id, .. }
            | Input::GenerateDataKey { key_id, .. }
            | Input::Decrypt {
                key_id: Some(key_id),
                ..
            } => self
                .authorization(scope, &action, key_id, true)
                .await
                .map(|a| vec![a]),
            Input::EnableKey { key_id }
            | Input::DisableKey { key_id }
            | Input::ScheduleKeyDeletion { key_id, .. }
            | Input::CancelKeyDeletion { key_id } => self
                .authorization(scope, &action, key_id, false)
                .await
                .map(|a| vec![a]),
            Input::Decrypt {
                key_id: None, blob, ..
            } => match crate::blob::blob_key_id(blob) {
                None => Ok(vec![anywhere(action)]),
                Some(id) => {
                    let id = id.to_string();
                    Ok(vec![match self.key_by_id(scope, &id).await {
                        Ok(key) => KmsAuthorization {
                            action,
                            resource: key.arn(),
                            key_policy: Some(key.policy),
                        },
                        Err(_) => KmsAuthorization {
                            action,
                            resource: key_arn(&scope.region, &scope.account, &id),
                            key_policy: None,
                        },
                    }])
                }
            },
            Input::CreateAlias {
                alias_name,
                target_key_id,
            } => {
                let alias = KmsAuthorization {
                    action: action.clone(),
                    resource: alias_arn(&scope.region, &scope.account, alias_name),
                    key_policy: None,
                };
                self.authorization(scope, &action, target_key_id, false)
                    .await
                    .map(|key| vec![alias, key])
            }
            Input::DeleteAlias { alias_name } => {
                let mut out = vec![KmsAuthorization {
                    action: action.clone(),
                    resource: alias_arn(&scope.region, &scope.account, alias_name),
                    key_policy: None,
                }];
                if let Some(alias) = self
                    .alias(&scope.account, &scope.region, alias_name)
                    .await?
                {
                    out.push(
                        self.authorization(scope, &action, &alias.target_key_id, false)
                            .await?,
                    );
                }
                Ok(out)
            }
        }
    }

    async fn authorization(
        &self,
        scope: &KeyScope,
        action: &str,
        key: &str,
        create_managed: bool,
    ) -> Result<KmsAuthorization, Fault> {
        let reference = KeyRef::parse(scope, key)?;
        let (resource, key_policy) = match self.resolve(&reference, create_managed).await {
            Ok(key) => (key.arn(), Some(key.policy)),
            Err(Fault::NotFound(_)) => (reference.arn(), None),
            Err(other) => return Err(other),
        };
        Ok(KmsAuthorization {
            action: action.to_string(),
            resource,
            key_policy,
        })
    }

    /// Runs an authorized request; the answer is the JSON response body.
    pub async fn execute(&self, scope: &KeyScope, req: KmsRequest) -> Result<Bytes, KmsFailure> {
        self.run(scope, req).await.map_err(Fault::into_failure)
    }

    async fn run(&self, scope: &KeyScope, req: KmsRequest) -> Result<Bytes, Fault> {
        let b64 = base64::engine::general_purpose::STANDARD;
        match req.input {
            Input::CreateKey {
                description,
                policy,
            } => {
                let key = self
                    .create_key(scope, description, policy, KeyManager::Customer)
                    .await?;
                json(&wire::KeyMetadataOutput {
                    key_metadata: metadata(&key),
                })
            }
            Input::DescribeKey { key_id } => {
                let key = self.resolve(&KeyRef::parse(scope, &key_id)?, true).await?;
                json(&wire::KeyMetadataOutput {
                    key_metadata: metadata(&key),
                })
            }
            Input::ListKeys { limit, marker } => {
                let prefix = format!("kms/key/{}/{}/", scope.account, scope.region);
                let keys: Vec<(String, wire::KeyListEntry)> = self
                    .cached_under(&prefix)
                    .into_iter()
                    .filter_map(|r| match r {
                        Record::Key(k) => Some((
                            k.key_id.clone(),
                            wire::KeyListEntry {
                                key_arn: k.arn(),
                                key_id: k.key_id,
                            },
                        )),
                        Record::Alias(_) => None,
                    })
                    .collect();
                let (keys, next_marker) = page(keys, limit, marker.as_deref())?;
                json(&wire::ListKeysOutput {
                    truncated: next_marker.is_some(),
                    keys,
                    next_marker,
                })
            }
            Input::ListAliases {
                key_id,
                limit,
                marker,
            } => {
                let aliases = self.list_aliases(scope, key_id.as_deref()).await?;
                let (aliases, next_marker) = page(aliases, limit, marker.as_deref())?;
                json(&wire::ListAliasesOutput {
                    truncated: next_marker.is_some(),
                    aliases,
                    next_marker,
                })
            }
            Input::CreateAlias {
                alias_name,
                target_key_id,
            } => {
                self.create_alias(scope, &alias_name, &target_key_id)
                    .await?;
                Ok(Bytes::new())
            }
            Input::DeleteAlias { alias_name } => {
                let meta_key = alias_meta_key(&scope.account, &scope.region, &alias_name);
                let arn = alias_arn(&scope.region, &scope.account, &alias_name);
                if self.delete_current(&meta_key).await? {
                    Ok(Bytes::new())
                } else {
                    Err(Fault::alias_not_found(&arn))
                }
            }
            Input::EnableKey { key_id } => {
                self.set_enabled(scope, &key_id, StoredState::Enabled)
                    .await?;
                Ok(Bytes::new())
            }
            Input::DisableKey { key_id } => {
                self.set_enabled(scope, &key_id, StoredState::Disabled)
                    .await?;
                Ok(Bytes::new())
            }
            Input::ScheduleKeyDeletion { key_id, days } => {
                let key = self.resolve(&KeyRef::parse(scope, &key_id)?, false).await?;
                let deletion_ms = now_ms() + i64::from(days) * DAY_MS;
                let key = self
                    .change_key(&key, |current| {
                        if current.state == StoredState::PendingDeletion {
                            return Err(Fault::pending_deletion(&current.arn()));
                        }
                        let mut next = current.clone();
                        next.state = StoredState::PendingDeletion;
                        next.deletion_ms = Some(deletion_ms);
                        next.pending_window_days = Some(days);
                        Ok(next)
                    })
                    .await?;
                json(&wire::ScheduleKeyDeletionOutput {
                    key_id: key.arn(),
                    deletion_date: seconds(deletion_ms),
                    key_state: "PendingDeletion",
                    pending_window_in_days: days,
                })
            }
            Input::CancelKeyDeletion { key_id } => {
                let key = self.resolve(&KeyRef::parse(scope, &key_id)?, false).await?;
                let key = self
                    .change_key(&key, |current| {
                        if current.state != StoredState::PendingDeletion {
                            return Err(Fault::not_pending_deletion(&current.arn()));
                        }
                        let mut next = current.clone();
                        // KMS puts a key whose deletion is cancelled in Disabled (KMS API
                        // Reference, CancelKeyDeletion).
                        next.state = StoredState::Disabled;
                        next.deletion_ms = None;
                        next.pending_window_days = None;
                        Ok(next)
                    })
                    .await?;
                json(&wire::CancelKeyDeletionOutput { key_id: key.arn() })
            }
            Input::Encrypt {
                key_id,
                plaintext,
                context,
            } => {
                let key = self.resolve(&KeyRef::parse(scope, &key_id)?, true).await?;
                let blob = self.encrypt_with(&key, &plaintext, &context)?;
                json(&wire::EncryptOutput {
                    ciphertext_blob: b64.encode(blob),
                    key_id: key.arn(),
                    encryption_algorithm: "SYMMETRIC_DEFAULT",
                })
            }
            Input::Decrypt {
                key_id,
                blob,
                context,
            } => {
                let named = match key_id {
                    Some(k) => Some(self.resolve(&KeyRef::parse(scope, &k)?, true).await?),
                    None => None,
                };
                let (key, plain) = self
                    .decrypt_blob(scope, named.as_ref(), &blob, &context)
                    .await?;
                json(&wire::DecryptOutput {
                    key_id: key.arn(),
                    plaintext: b64.encode(&plain[..]),
                    encryption_algorithm: "SYMMETRIC_DEFAULT",
                })
            }
            Input::GenerateDataKey {
                key_id,
                bytes,
                context,
            } => {
                let key = self.resolve(&KeyRef::parse(scope, &key_id)?, true).await?;
                let mut plain = zeroize::Zeroizing::new(vec![0u8; bytes]);
                crate::root::fill_random(&mut plain);
                let blob = self.encrypt_with(&key, &plain, &context)?;
                json(&wire::GenerateDataKeyOutput {
                    ciphertext_blob: b64.encode(blob),
                    plaintext: b64.encode(&plain[..]),
                    key_id: key.arn(),
                })
            }
        }
    }

    async fn set_enabled(
        &self,
        scope: &KeyScope,
        key_id: &str,
        to: StoredState,
    ) -> Result<(), Fault> {
        let key = self.resolve(&KeyRef::parse(scope, key_id)?, false).await?;
        self.change_key(&key, |current| {
            if current.state == StoredState::PendingDeletion {
                return Err(Fault::pending_deletion(&current.arn()));
            }
            let mut next = current.clone();
            next.state = to;
            Ok(next)
        })
        .await
        .map(|_| ())
    }

    async fn create_alias(&self, scope: &KeyScope, name: &str, target: &str) -> Result<(), Fault> {
        let reference = KeyRef::parse(scope, target)?;
        if matches!(reference, KeyRef::Alias { .. }) {
            // Reconstructed: an alias must name a key, not another alias.
            return Err(Fault::Validation(format!(
                "Aliases must refer to keys. Not aliases. TargetKeyId: {target}"
            )));
        }
        let key = self.resolve(&reference, false).await?;
        if key.state == StoredState::PendingDeletion {
            return Err(Fault::pending_deletion(&key.arn()));
        }
        let now = now_ms();
        let record = AliasRecord {
            v: RECORD_VERSION,
            alias_name: name.to_string(),
            target_key_id: key.key_id.clone(),
            created_ms: now,
            updated_ms: now,
        };
        let meta_key = alias_meta_key(&scope.account, &scope.region, name);
        match self.create_record(&meta_key, Record::Alias(record)).await? {
            Some(_) => Ok(()),
            // Source: nsmithuk/local-kms src/handler/create_alias.go.
            None => Err(Fault::AlreadyExists(format!(
                "An alias with the name {} already exists",
                alias_arn(&scope.region, &scope.account, name)
            ))),
        }
    }

    async fn list_aliases(
        &self,
        scope: &KeyScope,
        key_id: Option<&str>,
    ) -> Result<Vec<(String, wire::AliasListEntry)>, Fault> {
        let only = match key_id {
            Some(k) => Some(self.resolve(&KeyRef::parse(scope, k)?, false).await?.key_id),
            None => None,
        };
        let prefix = format!("kms/alias/{}/{}/", scope.account, scope.region);
        let mut out: Vec<(String, wire::AliasListEntry)> = self
            .cached_under(&prefix)
            .into_iter()
            .filter_map(|r| match r {
                Record::Alias(a) => Some(a),
                Record::Key(_) => None,
            })
            .filter(|a| only.as_ref().is_none_or(|k| *k == a.target_key_id))
            .map(|a| {
                let entry = wire::AliasListEntry {
                    alias_arn: alias_arn(&scope.region, &scope.account, &a.alias_name),
                    alias_name: a.alias_name.clone(),
                    target_key_id: Some(a.target_key_id),
                    creation_date: Some(seconds(a.created_ms)),
                    last_updated_date: Some(seconds(a.updated_ms)),
                };
                (a.alias_name, entry)
            })
            .collect();
        // KMS lists the AWS managed aliases before their keys exist, without a target.
        if only.is_none() && !out.iter().any(|(name, _)| name == AWS_KINESIS_ALIAS) {
            out.push((
                AWS_KINESIS_ALIAS.to_string(),
                wire::AliasListEntry {
                    alias_name: AWS_KINESIS_ALIAS.into(),
                    alias_arn: alias_arn(&scope.region, &scope.account, AWS_KINESIS_ALIAS),
                    target_key_id: None,
                    creation_date: None,
                    last_updated_date: None,
                },
            ));
            out.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Ok(out)
    }
}

/// Names KMS refuses before looking anything up (checked at parse time, after the model's
/// constraints).
pub(super) fn check_alias_name(name: &str) -> Result<(), Fault> {
    if !name.starts_with("alias/") {
        // Source: nsmithuk/local-kms src/handler/create_alias.go.
        return Err(Fault::Validation(
            "Alias must start with the prefix \"alias/\". Please see \
             http://docs.aws.amazon.com/kms/latest/developerguide/programming-aliases.html"
                .into(),
        ));
    }
    if name == "alias/" {
        // Reconstructed.
        return Err(Fault::InvalidAliasName(format!(
            "Alias name {name} is not valid"
        )));
    }
    if name.starts_with("alias/aws/") {
        // The alias/aws/ prefix is AWS's (KMS API Reference, CreateAlias); local-kms answers
        // NotAuthorizedException without a message.
        return Err(Fault::NotAuthorized);
    }
    Ok(())
}

/// One page of `items` (sorted by their sort key) from `marker`: the marker is the next
/// item's sort key, base64url so it is opaque to callers.
fn page<T>(
    items: Vec<(String, T)>,
    limit: usize,
    marker: Option<&str>,
) -> Result<(Vec<T>, Option<String>), Fault> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let start = match marker {
        None => None,
        Some(m) => Some(
            b64.decode(m)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                // Reconstructed wording.
                .ok_or_else(|| Fault::InvalidMarker("Invalid marker".into()))?,
        ),
    };
    let mut rest = items
        .into_iter()
        .filter(|(k, _)| start.as_ref().is_none_or(|s| k >= s));
    let page: Vec<T> = rest.by_ref().take(limit).map(|(_, v)| v).collect();
    let next = rest.next().map(|(k, _)| b64.encode(k));
    Ok((page, next))
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

pub(crate) fn metadata(key: &KeyRecord) -> KeyMetadata {
    KeyMetadata {
        aws_account_id: key.account.clone(),
        key_id: key.key_id.clone(),
        arn: key.arn(),
        creation_date: seconds(key.created_ms),
        enabled: key.state == StoredState::Enabled,
        description: key.description.clone(),
        key_usage: key.key_usage.clone(),
        key_state: match key.state {
            StoredState::Enabled => "Enabled",
            StoredState::Disabled => "Disabled",
            StoredState::PendingDeletion => "PendingDeletion",
        },
        deletion_date: key.deletion_ms.map(seconds),
        origin: "AWS_KMS",
        key_manager: key.key_manager.as_str(),
        customer_master_key_spec: key.key_spec.clone(),
        key_spec: key.key_spec.clone(),
        encryption_algorithms: vec!["SYMMETRIC_DEFAULT"],
        multi_region: false,
        pending_deletion_window_in_days: key.pending_window_days,
    }
}

fn json<T: Serialize>(value: &T) -> Result<Bytes, Fault> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(Fault::internal)
}
