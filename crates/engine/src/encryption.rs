//! StartStreamEncryption, StopStreamEncryption, and what the authorization layer asks about
//! a stream's key.
//!
//! Both operations take an ACTIVE stream through UPDATING for `update_delay` (a persisted
//! `Pending::Encryption`, completed by the lifecycle's timer, resumed after a restart) and
//! back to ACTIVE with encryption on or off; records written from then on are sealed (or
//! not). Records already stored keep their layout: sealed ones stay readable after
//! encryption stops, plain ones before it started need no key. DescribeStream reports the
//! encryption in force, so during UPDATING it still shows the previous one (AWS: "Once the
//! status of the stream is ACTIVE, encryption begins for records written to the stream",
//! StartStreamEncryption API reference).

use std::sync::Arc;

use tributary_kms::KeyScope;
use tributary_model::types::*;
use tributary_model::*;

use crate::clock::now_ms;
use crate::datakeys::{require_enabled, StreamKeys};
use crate::error::{retry_stale, Failure, KmsKind, Outcome};
use crate::meta::{Encryption, Pending, Status};
use crate::resolve::require_active;
use crate::state::StreamEntry;
use crate::{Engine, RequestContext};

/// EncryptionType NONE. The AWS CLI reference of start-/stop-stream-encryption says NONE
/// is "Not valid for this operation" and names an InvalidOperationException, which is not
/// in the API model; the model's InvalidArgumentException carries it here. The wording is
/// reconstructed.
fn encryption_type_none(op: &str) -> String {
    format!("EncryptionType NONE is not valid for {op}; the only valid value is KMS.")
}

/// Reconstructed: no AWS response to StopStreamEncryption on an unencrypted stream, or
/// with another key, was found.
fn not_encrypted(entry: &StreamEntry) -> String {
    format!(
        "Stream {} under account {} is not encrypted.",
        entry.name, entry.account
    )
}

/// Reconstructed, as [`not_encrypted`].
fn other_key(entry: &StreamEntry, key_id: &str) -> String {
    format!(
        "Stream {} under account {} is not encrypted with KeyId {key_id}.",
        entry.name, entry.account
    )
}

/// Reconstructed: without a key service no KeyId can be found, which is what
/// KMSNotFoundException says; InvalidArgument would blame the request, which may be right
/// on a server that has one.
fn no_key_service(key_id: &str) -> String {
    format!(
        "Encryption at rest is not configured on this server: no key service can resolve \
         KeyId {key_id}."
    )
}

impl Engine {
    pub async fn start_stream_encryption(
        &self,
        ctx: &RequestContext,
        input: StartStreamEncryptionInput,
    ) -> Result<(), StartStreamEncryptionError> {
        retry_stale!(self.start_stream_encryption_once(ctx, input.clone()).await)
    }

    async fn start_stream_encryption_once(
        &self,
        ctx: &RequestContext,
        input: StartStreamEncryptionInput,
    ) -> Result<(), StartStreamEncryptionError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        if input.encryption_type != EncryptionType::Kms {
            return Err(
                Failure::InvalidArgument(encryption_type_none("StartStreamEncryption")).into(),
            );
        }
        // Checked before asking the key service, and again under the lock below.
        require_active(&entry, entry.state.read().rec.status)?;
        let keys = self
            .config
            .keys
            .as_ref()
            .ok_or_else(|| Failure::kms(KmsKind::NotFound, no_key_service(&input.key_id)))?;
        // Aliases and key ids resolve in the caller's account and region, as KMS does.
        let scope = KeyScope {
            account: ctx.account_id.clone(),
            region: ctx.region.clone(),
        };
        let info = keys
            .describe_key(&scope, &input.key_id)
            .await
            .map_err(Failure::from)?;
        require_enabled(&info)?;
        let encryption = Encryption {
            key_id: input.key_id,
            key_arn: info.arn,
        };
        Ok(self.change_encryption(&entry, Some(encryption)).await?)
    }

    pub async fn stop_stream_encryption(
        &self,
        ctx: &RequestContext,
        input: StopStreamEncryptionInput,
    ) -> Result<(), StopStreamEncryptionError> {
        retry_stale!(self.stop_stream_encryption_once(ctx, input.clone()).await)
    }

    async fn stop_stream_encryption_once(
        &self,
        ctx: &RequestContext,
        input: StopStreamEncryptionInput,
    ) -> Result<(), StopStreamEncryptionError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        if input.encryption_type != EncryptionType::Kms {
            return Err(
                Failure::InvalidArgument(encryption_type_none("StopStreamEncryption")).into(),
            );
        }
        let (status, current) = {
            let st = entry.state.read();
            (st.rec.status, st.rec.encryption.clone())
        };
        require_active(&entry, status)?;
        let current = current.ok_or_else(|| Failure::InvalidArgument(not_encrypted(&entry)))?;
        if !self.names_key(ctx, &input.key_id, &current).await {
            return Err(Failure::InvalidArgument(other_key(&entry, &input.key_id)).into());
        }
        Ok(self.change_encryption(&entry, None).await?)
    }

    /// Whether `key_id` names the stream's key: as given at start, as its ARN, or as
    /// anything the key service resolves to that ARN (another alias of the same key).
    /// StopStreamEncryption declares no KMS errors, so a key service that cannot answer
    /// leaves only the literal comparisons.
    async fn names_key(&self, ctx: &RequestContext, key_id: &str, current: &Encryption) -> bool {
        if key_id == current.key_id || key_id == current.key_arn {
            return true;
        }
        let Some(keys) = self.config.keys.as_ref() else {
            return false;
        };
        let scope = KeyScope {
            account: ctx.account_id.clone(),
            region: ctx.region.clone(),
        };
        keys.describe_key(&scope, key_id)
            .await
            .is_ok_and(|info| info.arn == current.key_arn)
    }

    /// Commits the change: at once when `update_delay` is zero, else through UPDATING.
    async fn change_encryption(
        &self,
        entry: &Arc<StreamEntry>,
        encryption: Option<Encryption>,
    ) -> Outcome<()> {
        let _control = self.control.lock().await;
        let mut rec = Self::snapshot(entry);
        require_active(entry, rec.status)?;
        if self.config.update_delay.is_zero() {
            rec.encryption = encryption;
            return self.commit(entry, rec).await;
        }
        rec.status = Status::Updating;
        rec.pending = Some(Pending::Encryption {
            due_ms: now_ms() + self.config.update_delay.as_millis() as i64,
            encryption,
        });
        self.commit(entry, rec).await?;
        self.schedule_pending(entry);
        Ok(())
    }
}

/// The stream identity data keys are bound to.
pub(crate) fn stream_keys(entry: &StreamEntry) -> StreamKeys<'_> {
    StreamKeys {
        stream_id: entry.id,
        stream_arn: &entry.arn,
        account: &entry.account,
        region: &entry.region,
    }
}
