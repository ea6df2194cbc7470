//! Data keys of encrypted streams: envelope encryption above the storage traits.
//!
//! ```text
//!  put ─> describe_key(stream's key) ─> this node's current data key ─> seal (payload v2)
//!                                          │ none, older than data_key_period, other key:
//!                                          └─> generate_data_key ─> datakey/{stream}/{id}
//!                                              (create-if-absent, BEFORE any record uses it)
//!  get ─> payload v2 names a data key ─> cached plaintext, or datakey record ─> decrypt
//!                                    └─> describe_key(its key) ─> open
//! ```
//!
//! Each node makes its own data keys (a random u64 id per stream, so nodes never agree on
//! one and never need to), a new one per `data_key_period` and per start. A key's blob is
//! persisted before the first record sealed under it, so every stored record names a key
//! that can be recovered. Plaintexts stay in memory only, zeroized when dropped.
//!
//! Every put and every read of sealed records asks the key service about the KMS key first
//! (implementations cache; the built-in one answers from memory), so a disabled key stops
//! writes and reads at once, also where a plaintext data key is still cached.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use parking_lot::{Mutex, RwLock};
use tributary_kms::{KeyInfo, KeyScope, KeyService, KeyState, STREAM_CONTEXT_KEY};
use tributary_storage::MetaError;
use zeroize::Zeroizing;

use crate::clock::now_ms;
use crate::error::{Failure, KmsKind, Outcome};
use crate::meta::{self, DataKeyRecord, Encryption, FORMAT_VERSION};
use crate::payload::Cipher;
use crate::{Engine, KeyAccess, KeyUsage};

/// How many random ids a new data key tries before giving up (a clash of two random u64
/// is already unheard of; a second one means something else is wrong).
const ID_ATTEMPTS: usize = 3;

/// The data keys this node knows.
#[derive(Default)]
pub(crate) struct DataKeys {
    /// The key this node seals new records of each stream (by stream id) with.
    current: Mutex<HashMap<u64, Current>>,
    /// Plaintexts by (stream id, data key id).
    known: RwLock<HashMap<(u64, u64), Arc<Known>>>,
    /// One data key is made at a time on this node, so concurrent puts to a stream whose
    /// key expired share the new one instead of each making their own.
    creating: tokio::sync::Mutex<()>,
}

struct Current {
    id: u64,
    key_arn: String,
    since: Instant,
}

struct Known {
    key_arn: String,
    plaintext: Zeroizing<[u8; 32]>,
}

/// KMSDisabledException or KMSInvalidStateException unless the key is enabled.
pub(crate) fn require_enabled(info: &KeyInfo) -> Outcome<()> {
    match info.state {
        KeyState::Enabled => Ok(()),
        // Reconstructed: KMS's DisabledException and KMSInvalidStateException name the key
        // ARN and its state; AWS Kinesis relays them (no recorded response was found).
        KeyState::Disabled => Err(Failure::kms(
            KmsKind::Disabled,
            format!("{} is disabled.", info.arn),
        )),
        KeyState::PendingDeletion => Err(Failure::kms(
            KmsKind::InvalidState,
            format!("{} is pending deletion.", info.arn),
        )),
    }
}

/// What a read needs to know about the stream whose records it opens.
pub(crate) struct StreamKeys<'a> {
    pub stream_id: u64,
    pub stream_arn: &'a str,
    pub account: &'a str,
    pub region: &'a str,
}

impl StreamKeys<'_> {
    fn context(&self) -> Vec<(String, String)> {
        vec![(STREAM_CONTEXT_KEY.to_owned(), self.stream_arn.to_owned())]
    }

    fn scope(&self) -> KeyScope {
        KeyScope {
            account: self.account.to_owned(),
            region: self.region.to_owned(),
        }
    }
}

impl Engine {
    /// The configured key service. A stream encrypted on a node (or in a run) that had one
    /// cannot be read or written without one: an internal failure, logged.
    pub(crate) fn key_service(&self) -> Outcome<&Arc<dyn KeyService>> {
        self.config.keys.as_ref().ok_or_else(|| {
            Failure::internal(
                "encrypted stream",
                "the stream is encrypted but no key service is configured",
            )
        })
    }

    /// Refuses unless the caller may use the KMS key this way (the server's decision, when it
    /// gave one): KMSAccessDeniedException. Asked before the key's state, as KMS authorizes
    /// before it looks at the key.
    pub(crate) async fn authorize_key(
        access: Option<&KeyAccess>,
        usage: KeyUsage,
        stream_arn: &str,
        key_arn: &str,
    ) -> Outcome<()> {
        match access {
            None => Ok(()),
            Some(a) => {
                a.0.check(usage, stream_arn, key_arn)
                    .await
                    .map_err(|m| Failure::kms(KmsKind::AccessDenied, m))
            }
        }
    }

    /// Refuses unless the KMS key is enabled: KMSDisabledException when disabled,
    /// KMSInvalidStateException when pending deletion, and what the key service answers
    /// (KMSNotFoundException for a deleted key, ...) otherwise.
    pub(crate) async fn check_key(&self, s: &StreamKeys<'_>, key_arn: &str) -> Outcome<()> {
        let info = self
            .key_service()?
            .describe_key(&s.scope(), key_arn)
            .await?;
        require_enabled(&info)
    }

    /// The cipher this node seals the stream's new records with: its current data key
    /// under `enc`, or a new one (persisted first) when there is none, it is older than
    /// `data_key_period`, or the stream's KMS key changed.
    pub(crate) async fn writing_cipher(
        &self,
        s: &StreamKeys<'_>,
        enc: &Encryption,
    ) -> Outcome<Cipher> {
        if let Some(c) = self.current_cipher(s.stream_id, &enc.key_arn) {
            return Ok(c);
        }
        let _creating = self.data_keys.creating.lock().await;
        if let Some(c) = self.current_cipher(s.stream_id, &enc.key_arn) {
            return Ok(c);
        }
        let fresh = self
            .key_service()?
            .generate_data_key(&enc.key_arn, &s.context())
            .await?;
        let rec = DataKeyRecord {
            v: FORMAT_VERSION,
            stream_id: s.stream_id,
            key_arn: enc.key_arn.clone(),
            ciphertext: STANDARD.encode(&fresh.ciphertext),
            created_ms: now_ms(),
        };
        let mut attempt = 0;
        let id = loop {
            attempt += 1;
            let id: u64 = rand::random();
            let key = meta::datakey_key(s.stream_id, id);
            match self.meta.create(&key, meta::to_bytes(&rec)).await {
                Ok(_) => break id,
                Err(MetaError::Exists) if attempt < ID_ATTEMPTS => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let known = Arc::new(Known {
            key_arn: enc.key_arn.clone(),
            plaintext: fresh.plaintext,
        });
        let cipher = Cipher::new(&known.plaintext, s.stream_id, id);
        self.data_keys
            .known
            .write()
            .insert((s.stream_id, id), known);
        self.data_keys.current.lock().insert(
            s.stream_id,
            Current {
                id,
                key_arn: enc.key_arn.clone(),
                since: Instant::now(),
            },
        );
        Ok(cipher)
    }

    fn current_cipher(&self, stream_id: u64, key_arn: &str) -> Option<Cipher> {
        let id = {
            let current = self.data_keys.current.lock();
            let c = current.get(&stream_id)?;
            let fresh = c.key_arn == key_arn && c.since.elapsed() < self.config.data_key_period;
            fresh.then_some(c.id)?
        };
        let known = self.data_keys.known.read().get(&(stream_id, id)).cloned()?;
        Some(Cipher::new(&known.plaintext, stream_id, id))
    }

    /// The cipher that opens records sealed under data key `id`, and the KMS key it is
    /// under (to check before returning what it opens). A key not in memory is read from
    /// the MetaStore and decrypted by the key service.
    pub(crate) async fn reading_cipher(
        &self,
        s: &StreamKeys<'_>,
        id: u64,
    ) -> Outcome<(Cipher, String)> {
        let cached = self.data_keys.known.read().get(&(s.stream_id, id)).cloned();
        if let Some(k) = cached {
            return Ok((
                Cipher::new(&k.plaintext, s.stream_id, id),
                k.key_arn.clone(),
            ));
        }
        let key = meta::datakey_key(s.stream_id, id);
        let entry = self
            .meta
            .get(&key)
            .await?
            .ok_or_else(|| Failure::internal("stored record", format!("no data key {key}")))?;
        let rec: DataKeyRecord =
            meta::from_bytes(&entry.value).map_err(|e| Failure::internal(&key, e))?;
        let blob = STANDARD
            .decode(&rec.ciphertext)
            .map_err(|e| Failure::internal(&key, e))?;
        let plain = self
            .key_service()?
            .decrypt(&rec.key_arn, &blob, &s.context())
            .await?;
        let plaintext: [u8; 32] = plain[..]
            .try_into()
            .map_err(|_| Failure::internal(&key, "a data key is not 32 bytes"))?;
        let known = Arc::new(Known {
            key_arn: rec.key_arn,
            plaintext: Zeroizing::new(plaintext),
        });
        let cipher = Cipher::new(&known.plaintext, s.stream_id, id);
        let key_arn = known.key_arn.clone();
        self.data_keys
            .known
            .write()
            .insert((s.stream_id, id), known);
        Ok((cipher, key_arn))
    }

    /// Deletes a deleted stream's data keys, from the MetaStore and from memory.
    pub(crate) async fn drop_data_keys(&self, stream_id: u64) -> Outcome<()> {
        for entry in self.meta.list(&meta::datakey_prefix(stream_id)).await? {
            match self.meta.delete(&entry.key, None).await {
                Ok(()) | Err(MetaError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.forget_data_keys(stream_id);
        Ok(())
    }

    /// Drops a stream's plaintext data keys from memory (the stream is gone).
    pub(crate) fn forget_data_keys(&self, stream_id: u64) {
        self.data_keys.current.lock().remove(&stream_id);
        self.data_keys
            .known
            .write()
            .retain(|&(stream, _), _| stream != stream_id);
    }
}
