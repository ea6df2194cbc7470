//! [`KeyService`] over the built-in key service.

use bytes::Bytes;
use futures::FutureExt as _;
use zeroize::Zeroizing;

use crate::keys::KeyRef;
use crate::local::LocalKms;
use crate::records::{KeyRecord, StoredState};
use crate::{DataKey, KeyError, KeyFuture, KeyInfo, KeyScope, KeyService, KeyState};

impl From<StoredState> for KeyState {
    fn from(state: StoredState) -> KeyState {
        match state {
            StoredState::Enabled => KeyState::Enabled,
            StoredState::Disabled => KeyState::Disabled,
            StoredState::PendingDeletion => KeyState::PendingDeletion,
        }
    }
}

impl LocalKms {
    /// The key an ARN names (the engine's calls carry ARNs, which hold their own scope).
    async fn key_for_arn(&self, arn: &str) -> Result<KeyRecord, KeyError> {
        if !arn.starts_with("arn:") {
            return Err(KeyError::NotFound(format!("Key '{arn}' does not exist")));
        }
        let unscoped = KeyScope {
            account: String::new(),
            region: String::new(),
        };
        let reference = KeyRef::parse(&unscoped, arn).map_err(|f| f.into_key_error())?;
        self.resolve(&reference, true)
            .await
            .map_err(|f| f.into_key_error())
    }
}

impl KeyService for LocalKms {
    fn describe_key<'a>(&'a self, scope: &'a KeyScope, key: &'a str) -> KeyFuture<'a, KeyInfo> {
        async move {
            let reference = KeyRef::parse(scope, key).map_err(|f| f.into_key_error())?;
            let key = self
                .resolve(&reference, true)
                .await
                .map_err(|f| f.into_key_error())?;
            Ok(KeyInfo {
                arn: key.arn(),
                key_id: key.key_id.clone(),
                state: key.state.into(),
            })
        }
        .boxed()
    }

    fn generate_data_key<'a>(
        &'a self,
        key_arn: &'a str,
        context: &'a [(String, String)],
    ) -> KeyFuture<'a, DataKey> {
        async move {
            let key = self.key_for_arn(key_arn).await?;
            let mut plaintext = Zeroizing::new([0u8; 32]);
            crate::root::fill_random(&mut plaintext[..]);
            let ciphertext = self
                .encrypt_with(&key, &plaintext[..], context)
                .map_err(|f| f.into_key_error())?;
            Ok(DataKey {
                plaintext,
                ciphertext: Bytes::from(ciphertext),
            })
        }
        .boxed()
    }

    fn decrypt<'a>(
        &'a self,
        key_arn: &'a str,
        ciphertext: &'a [u8],
        context: &'a [(String, String)],
    ) -> KeyFuture<'a, Zeroizing<Vec<u8>>> {
        async move {
            let key = self.key_for_arn(key_arn).await?;
            let scope = KeyScope {
                account: key.account.clone(),
                region: key.region.clone(),
            };
            let (_, plain) = self
                .decrypt_blob(&scope, Some(&key), ciphertext, context)
                .await
                .map_err(|f| f.into_key_error())?;
            Ok(plain)
        }
        .boxed()
    }

    fn key_policy<'a>(&'a self, key_arn: &'a str) -> KeyFuture<'a, Option<String>> {
        async move { Ok(Some(self.key_for_arn(key_arn).await?.policy)) }.boxed()
    }
}
