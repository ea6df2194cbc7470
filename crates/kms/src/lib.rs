//! Keys for encryption at rest (issue 13).
//!
//! The engine encrypts records with data keys it gets from a [`KeyService`] and never sees a
//! KMS key's material. Two implementations share that one interface:
//! - the built-in key service, KMS-compatible, whose keys live in the MetaStore wrapped by a
//!   root key (so both the embedded and the replicated backends hold them, never in the clear);
//! - a client for an external KMS (AWS KMS itself, or any KMS-compatible endpoint).
//!
//! Modules:
//! - [`root`]: the root key file and the wrapping of key material;
//! - [`records`]: the MetaStore records (keys, aliases, root check), versioned JSON;
//! - [`blob`]: the ciphertext blobs of Encrypt and GenerateDataKey;
//! - [`LocalKms`] (`local`, `keys`, `service`): the built-in key service and its cache;
//! - [`api`]: the TrentService JSON API (parse, authorize, execute);
//! - [`RemoteKms`] (`remote`): [`KeyService`] over an external KMS through the AWS SDK.
//!
//! Formats and API: docs/kms.md.

pub mod api;
pub mod blob;
mod fault;
mod keys;
mod local;
pub mod records;
#[cfg(feature = "remote")]
mod remote;
pub mod root;
mod service;

pub use keys::AWS_KINESIS_ALIAS;
pub use local::{LocalKms, OpenError};
#[cfg(feature = "remote")]
pub use remote::RemoteKms;
pub use root::{RootKey, RootKeyError};

use bytes::Bytes;
use futures::future::BoxFuture;
use zeroize::Zeroizing;

/// The future every [`KeyService`] method returns.
pub type KeyFuture<'a, T> = BoxFuture<'a, Result<T, KeyError>>;

/// Where a key reference that is not an ARN is looked up: the caller's account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyScope {
    pub account: String,
    pub region: String,
}

/// A key's lifecycle state, as KMS names it in `KeyMetadata.KeyState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

/// A key as [`KeyService::describe_key`] resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// `arn:aws:kms:REGION:ACCOUNT:key/UUID`: what the engine stores and authorizes against.
    pub arn: String,
    /// The key's UUID.
    pub key_id: String,
    pub state: KeyState,
}

/// A fresh 256-bit data key: its plaintext for this process only, and the ciphertext blob
/// the key service can turn back into it.
pub struct DataKey {
    pub plaintext: Zeroizing<[u8; 32]>,
    pub ciphertext: Bytes,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// Why a key could not be used. The engine maps each kind to Kinesis's `KMS*Exception`
/// (NotFound → KMSNotFoundException, Disabled → KMSDisabledException, InvalidState →
/// KMSInvalidStateException, AccessDenied → KMSAccessDeniedException, Throttled →
/// KMSThrottlingException); the message is the key service's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Disabled(String),
    /// Pending deletion, or another state the operation cannot run in.
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    Throttled(String),
    /// The blob was not made by this key service, or was altered, or the context differs.
    #[error("{0}")]
    InvalidCiphertext(String),
    /// The key service (or its storage, or the network to it) failed; worth retrying.
    #[error("key service unavailable: {0}")]
    Unavailable(String),
}

/// The encryption context the engine binds every data key of a stream to: AWS Kinesis uses
/// the stream's ARN under this name.
pub const STREAM_CONTEXT_KEY: &str = "aws:kinesis:arn";

/// What the engine needs of a key service. Implementations may cache, but a key disabled or
/// scheduled for deletion through this node must be refused by the next call on this node.
///
/// On other nodes the refusal follows as their view catches up: [`LocalKms`] nodes sharing a
/// MetaStore refuse such a key once their change feed delivers the write (milliseconds
/// normally; after a lost feed, once they have watched and listed again), and answer from
/// what they hold until then. An external KMS is as current as that service makes it.
pub trait KeyService: Send + Sync + 'static {
    /// Resolves a key id, key ARN, alias name (`alias/x`) or alias ARN in `scope`, and tells
    /// the key's state. `alias/aws/kinesis` names the account and region's AWS managed key,
    /// made on first use when the service makes keys.
    fn describe_key<'a>(&'a self, scope: &'a KeyScope, key: &'a str) -> KeyFuture<'a, KeyInfo>;

    /// A new data key under `key_arn`, bound to `context` (name, value pairs).
    fn generate_data_key<'a>(
        &'a self,
        key_arn: &'a str,
        context: &'a [(String, String)],
    ) -> KeyFuture<'a, DataKey>;

    /// The plaintext of a blob [`KeyService::generate_data_key`] returned, with the same
    /// context. Refused with the key's state when it is not enabled.
    fn decrypt<'a>(
        &'a self,
        key_arn: &'a str,
        ciphertext: &'a [u8],
        context: &'a [(String, String)],
    ) -> KeyFuture<'a, Zeroizing<Vec<u8>>>;

    /// The key's policy document when this service keeps key policies (the built-in one
    /// does; an external KMS enforces its own), for authorizing callers against it.
    fn key_policy<'a>(&'a self, key_arn: &'a str) -> KeyFuture<'a, Option<String>>;
}
