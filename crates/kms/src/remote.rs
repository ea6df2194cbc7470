//! [`KeyService`] over an external KMS (AWS KMS, or another KMS-compatible endpoint such as
//! a second Tributary) through the AWS SDK. The external KMS enforces its own key policies,
//! so [`KeyService::key_policy`] tells nothing.

use std::collections::HashMap;

use aws_credential_types::Credentials;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyState as SdkKeyState};
use bytes::Bytes;
use futures::FutureExt as _;
use zeroize::Zeroizing;

use crate::{DataKey, KeyError, KeyFuture, KeyInfo, KeyScope, KeyService, KeyState};

/// A client of an external KMS, signing with static credentials.
#[derive(Debug, Clone)]
pub struct RemoteKms {
    client: aws_sdk_kms::Client,
}

impl RemoteKms {
    pub fn new(
        endpoint: &str,
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
    ) -> RemoteKms {
        let credentials = Credentials::new(
            access_key_id,
            secret_access_key,
            session_token.map(str::to_string),
            None,
            "tributary-kms",
        );
        let config = aws_sdk_kms::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_kms::config::Region::new(region.to_string()))
            .endpoint_url(endpoint)
            .credentials_provider(credentials)
            .build();
        RemoteKms {
            client: aws_sdk_kms::Client::from_conf(config),
        }
    }
}

/// The [`KeyError`] for an SDK failure: service errors by their AWS code, anything else
/// (timeouts, connection failures, unreadable answers) as unavailable.
fn key_error<E, R>(err: aws_sdk_kms::error::SdkError<E, R>) -> KeyError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        aws_sdk_kms::error::SdkError::ServiceError(service) => {
            let e = service.err();
            map_code(e.code(), e.message())
        }
        _ => KeyError::Unavailable(aws_sdk_kms::error::DisplayErrorContext(&err).to_string()),
    }
}

/// Error codes: botocore's KMS model (model/kms.json) and the SDKs' throttling codes.
pub(crate) fn map_code(code: Option<&str>, message: Option<&str>) -> KeyError {
    let message = message.unwrap_or_default().to_string();
    match code {
        Some("NotFoundException") => KeyError::NotFound(message),
        Some("DisabledException") => KeyError::Disabled(message),
        Some("KMSInvalidStateException") | Some("KeyUnavailableException") => {
            KeyError::InvalidState(message)
        }
        Some("AccessDeniedException") | Some("NotAuthorizedException") => {
            KeyError::AccessDenied(message)
        }
        Some("ThrottlingException")
        | Some("Throttling")
        | Some("ThrottledException")
        | Some("RequestLimitExceeded")
        | Some("LimitExceededException") => KeyError::Throttled(message),
        Some("InvalidCiphertextException") | Some("IncorrectKeyException") => {
            KeyError::InvalidCiphertext(message)
        }
        Some(other) => KeyError::Unavailable(format!("{other}: {message}")),
        None => KeyError::Unavailable(message),
    }
}

fn context_map(context: &[(String, String)]) -> Option<HashMap<String, String>> {
    (!context.is_empty()).then(|| context.iter().cloned().collect())
}

impl KeyService for RemoteKms {
    /// The scope is the external KMS's: its credentials' account and the configured region.
    fn describe_key<'a>(&'a self, _scope: &'a KeyScope, key: &'a str) -> KeyFuture<'a, KeyInfo> {
        async move {
            let out = self
                .client
                .describe_key()
                .key_id(key)
                .send()
                .await
                .map_err(key_error)?;
            let meta = out.key_metadata().ok_or_else(|| {
                KeyError::Unavailable("DescribeKey answered no KeyMetadata".into())
            })?;
            let state = match meta.key_state() {
                Some(SdkKeyState::Enabled) => KeyState::Enabled,
                Some(SdkKeyState::PendingDeletion) | Some(SdkKeyState::PendingReplicaDeletion) => {
                    KeyState::PendingDeletion
                }
                // Creating, Updating, Unavailable, PendingImport, unknown: not usable now.
                _ => KeyState::Disabled,
            };
            Ok(KeyInfo {
                arn: meta.arn().unwrap_or_default().to_string(),
                key_id: meta.key_id().to_string(),
                state,
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
            let out = self
                .client
                .generate_data_key()
                .key_id(key_arn)
                .key_spec(DataKeySpec::Aes256)
                .set_encryption_context(context_map(context))
                .send()
                .await
                .map_err(key_error)?;
            let plain = out.plaintext().map(|b| b.as_ref()).unwrap_or_default();
            let plaintext: [u8; 32] = plain.try_into().map_err(|_| {
                KeyError::Unavailable(format!(
                    "GenerateDataKey answered {} bytes, not 32",
                    plain.len()
                ))
            })?;
            let ciphertext = out
                .ciphertext_blob()
                .map(|b| Bytes::copy_from_slice(b.as_ref()))
                .ok_or_else(|| KeyError::Unavailable("GenerateDataKey answered no blob".into()))?;
            Ok(DataKey {
                plaintext: Zeroizing::new(plaintext),
                ciphertext,
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
            let out = self
                .client
                .decrypt()
                .key_id(key_arn)
                .ciphertext_blob(Blob::new(ciphertext))
                .set_encryption_context(context_map(context))
                .send()
                .await
                .map_err(key_error)?;
            let plain = out
                .plaintext()
                .ok_or_else(|| KeyError::Unavailable("Decrypt answered no plaintext".into()))?;
            Ok(Zeroizing::new(plain.as_ref().to_vec()))
        }
        .boxed()
    }

    fn key_policy<'a>(&'a self, _key_arn: &'a str) -> KeyFuture<'a, Option<String>> {
        async move { Ok(None) }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_key_errors() {
        let m = Some("msg");
        assert_eq!(
            map_code(Some("NotFoundException"), m),
            KeyError::NotFound("msg".into())
        );
        assert_eq!(
            map_code(Some("DisabledException"), m),
            KeyError::Disabled("msg".into())
        );
        assert_eq!(
            map_code(Some("KMSInvalidStateException"), m),
            KeyError::InvalidState("msg".into())
        );
        assert_eq!(
            map_code(Some("AccessDeniedException"), m),
            KeyError::AccessDenied("msg".into())
        );
        assert_eq!(
            map_code(Some("ThrottlingException"), m),
            KeyError::Throttled("msg".into())
        );
        assert_eq!(
            map_code(Some("InvalidCiphertextException"), None),
            KeyError::InvalidCiphertext(String::new())
        );
        assert_eq!(
            map_code(Some("KMSInternalException"), m),
            KeyError::Unavailable("KMSInternalException: msg".into())
        );
        assert_eq!(map_code(None, m), KeyError::Unavailable("msg".into()));
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_unavailable() {
        // A loopback port nothing listens on any more: the connection is refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let kms = RemoteKms::new(&endpoint, "us-east-1", "AKID", "secret", None);
        let scope = KeyScope {
            account: "1".into(),
            region: "us-east-1".into(),
        };
        let err = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            kms.describe_key(&scope, "alias/aws/kinesis"),
        )
        .await
        .expect("the SDK gives up in time")
        .unwrap_err();
        assert!(matches!(err, KeyError::Unavailable(_)), "{err:?}");
        assert_eq!(kms.key_policy("arn").await, Ok(None));
    }
}
