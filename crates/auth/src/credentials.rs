//! Who may sign: access keys, their secrets, and the principal each key acts as.
//!
//! Secrets live in [`Secret`], which wipes its memory on drop and prints as `***`, so a stray
//! `{:?}` in a log line or a panic message never shows one.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::policy::Policy;

/// A secret string (secret access key or session token): zeroized on drop, hidden from `Debug`,
/// and without `Display`, so the only way to read it is [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The secret itself; call only where it is used (signing-key derivation, token compare).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

/// The identity a verified request acts as. Carries no secret, so it can be logged and passed
/// anywhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The access key id the request was signed with.
    pub access_key: String,
    /// The 12-digit account the identity belongs to.
    pub account_id: String,
    /// `arn:aws:iam::111122223333:user/alice` (or an assumed-role ARN for temporary keys).
    pub arn: String,
    /// The user name (`aws:username`); empty for assumed roles.
    pub name: String,
    /// Identity-based policies attached to the identity.
    pub policies: Arc<[Policy]>,
}

impl Principal {
    /// An IAM user `name` in `account_id` with these identity policies.
    pub fn user(
        access_key: impl Into<String>,
        account_id: impl Into<String>,
        name: impl Into<String>,
        policies: Vec<Policy>,
    ) -> Self {
        let (account_id, name) = (account_id.into(), name.into());
        Principal {
            access_key: access_key.into(),
            arn: format!("arn:aws:iam::{account_id}:user/{name}"),
            account_id,
            name,
            policies: policies.into(),
        }
    }
}

/// What a [`CredentialStore`] knows about one access key.
#[derive(Debug, Clone)]
pub struct Credential {
    pub secret: Secret,
    /// Set for temporary credentials: requests must carry exactly this `X-Amz-Security-Token`.
    pub session_token: Option<Secret>,
    /// Epoch seconds after which a temporary credential is refused with `ExpiredTokenException`.
    pub expires_at: Option<i64>,
    pub principal: Principal,
}

impl Credential {
    /// A long-term access key.
    pub fn long_term(secret: impl Into<String>, principal: Principal) -> Self {
        Credential {
            secret: Secret::new(secret),
            session_token: None,
            expires_at: None,
            principal,
        }
    }
}

/// Looks access keys up. The server implements it over its configuration; tests use
/// [`StaticCredentialStore`]. Implementations must not log the secret.
pub trait CredentialStore {
    fn lookup(&self, access_key: &str) -> Option<Credential>;
}

/// An in-memory map from access key id to [`Credential`].
#[derive(Debug, Clone, Default)]
pub struct StaticCredentialStore {
    keys: HashMap<String, Credential>,
}

impl StaticCredentialStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the credential for its principal's access key.
    pub fn insert(&mut self, credential: Credential) {
        self.keys
            .insert(credential.principal.access_key.clone(), credential);
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl CredentialStore for StaticCredentialStore {
    fn lookup(&self, access_key: &str) -> Option<Credential> {
        self.keys.get(access_key).cloned()
    }
}

impl<T: CredentialStore + ?Sized> CredentialStore for &T {
    fn lookup(&self, access_key: &str) -> Option<Credential> {
        (**self).lookup(access_key)
    }
}

impl<T: CredentialStore + ?Sized> CredentialStore for Arc<T> {
    fn lookup(&self, access_key: &str) -> Option<Credential> {
        (**self).lookup(access_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let mut store = StaticCredentialStore::new();
        let mut cred = Credential::long_term(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Principal::user("AKIDEXAMPLE", "111122223333", "alice", vec![]),
        );
        cred.session_token = Some(Secret::new("token-value"));
        store.insert(cred);
        let shown = format!("{store:?} {:?}", store.lookup("AKIDEXAMPLE"));
        assert!(!shown.contains("EXAMPLEKEY"), "{shown}");
        assert!(!shown.contains("token-value"), "{shown}");
        assert!(shown.contains("Secret(***)"));
        assert!(shown.contains("arn:aws:iam::111122223333:user/alice"));
    }
}
