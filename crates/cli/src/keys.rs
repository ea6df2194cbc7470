//! Where the keys for encryption at rest come from (issue 13): the built-in key service,
//! whose keys are wrapped by a root key, or an external KMS (`--kms-endpoint`). Secrets come
//! from files or the environment, never from the command line (`ps` shows argv).
//! `docs/kms.md` says how to operate both.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use tributary_kms::{KeyService, LocalKms, RemoteKms, RootKey};
use tributary_storage::MetaStore;

/// Where the built-in key service's root key is, when not in `TRIBUTARY_KMS_ROOT_KEY`.
pub const ROOT_KEY_ENV: &str = "TRIBUTARY_KMS_ROOT_KEY";
/// The secret of `--kms-access-key-id`.
pub const KMS_SECRET_ENV: &str = "TRIBUTARY_KMS_SECRET_ACCESS_KEY";
pub const KMS_TOKEN_ENV: &str = "TRIBUTARY_KMS_SESSION_TOKEN";

#[derive(Args, Debug, Default)]
pub struct KmsArgs {
    /// File holding the built-in key service's root key (32 bytes, standard base64), which
    /// wraps every key's material. Else `TRIBUTARY_KMS_ROOT_KEY` holds it; else, on the
    /// embedded storage, `<data-dir>/kms-root.key` is made on first start (mode 0600).
    #[arg(long, env = "TRIBUTARY_KMS_ROOT_KEY_FILE")]
    pub kms_root_key_file: Option<PathBuf>,
    /// Use this external KMS (AWS KMS, or any KMS-compatible endpoint) instead of the
    /// built-in key service, e.g. `https://kms.us-east-1.amazonaws.com`.
    #[arg(long, env = "TRIBUTARY_KMS_ENDPOINT")]
    pub kms_endpoint: Option<String>,
    /// Region the external KMS requests are signed for [default: us-east-1].
    #[arg(long, env = "TRIBUTARY_KMS_REGION")]
    pub kms_region: Option<String>,
    /// Access key of the external KMS; its secret comes from
    /// `TRIBUTARY_KMS_SECRET_ACCESS_KEY` or the config file's `kms_secret_access_key_file`.
    #[arg(long, env = "TRIBUTARY_KMS_ACCESS_KEY_ID")]
    pub kms_access_key_id: Option<String>,
}

/// The config file's `kms_*` keys, gathered by `config`.
#[derive(Debug, Default)]
pub struct KmsFileKeys {
    pub root_key_file: Option<PathBuf>,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key_file: Option<PathBuf>,
}

/// Resolved key settings.
pub enum KeySettings {
    BuiltIn(RootSource),
    External {
        endpoint: String,
        region: String,
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    },
}

impl std::fmt::Debug for KeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySettings::BuiltIn(r) => f.debug_tuple("BuiltIn").field(r).finish(),
            KeySettings::External {
                endpoint, region, ..
            } => f
                .debug_struct("External")
                .field("endpoint", endpoint)
                .field("region", region)
                .finish_non_exhaustive(),
        }
    }
}

/// Where the root key comes from.
pub enum RootSource {
    File(PathBuf),
    Env(String),
    /// `<data-dir>/kms-root.key`, made on first start: embedded storage only, since every
    /// node of a replicated deployment must hold the same key.
    DataDir,
    /// Replicated storage and no key given: the built-in key service is off.
    Missing,
}

impl std::fmt::Debug for RootSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootSource::File(p) => f.debug_tuple("File").field(p).finish(),
            RootSource::Env(_) => f.write_str("Env(..)"),
            RootSource::DataDir => f.write_str("DataDir"),
            RootSource::Missing => f.write_str("Missing"),
        }
    }
}

impl KeySettings {
    pub fn resolve(args: KmsArgs, file: KmsFileKeys, replicated: bool) -> anyhow::Result<Self> {
        if let Some(endpoint) = args.kms_endpoint.or(file.endpoint) {
            let access_key_id = args
                .kms_access_key_id
                .or(file.access_key_id)
                .context("--kms-endpoint needs --kms-access-key-id")?;
            let secret_access_key = match std::env::var(KMS_SECRET_ENV) {
                Ok(s) => s,
                Err(_) => match &file.secret_access_key_file {
                    Some(p) => std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?
                        .trim()
                        .to_string(),
                    None => bail!(
                        "--kms-endpoint needs a secret key: set {KMS_SECRET_ENV} or the config \
                         file's kms_secret_access_key_file"
                    ),
                },
            };
            return Ok(KeySettings::External {
                endpoint,
                region: args
                    .kms_region
                    .or(file.region)
                    .unwrap_or_else(|| "us-east-1".into()),
                access_key_id,
                secret_access_key,
                session_token: std::env::var(KMS_TOKEN_ENV).ok(),
            });
        }
        let root = match (
            args.kms_root_key_file.or(file.root_key_file),
            std::env::var(ROOT_KEY_ENV),
        ) {
            (Some(p), _) => RootSource::File(p),
            (None, Ok(k)) => RootSource::Env(k),
            (None, Err(_)) if replicated => RootSource::Missing,
            (None, Err(_)) => RootSource::DataDir,
        };
        Ok(KeySettings::BuiltIn(root))
    }
}

/// The key services `serve` hands the engine and the HTTP layer.
pub struct Keys {
    pub local: Option<Arc<LocalKms>>,
    pub service: Option<Arc<dyn KeyService>>,
}

pub async fn open(
    settings: &KeySettings,
    data_dir: &Path,
    meta: Arc<dyn MetaStore>,
) -> anyhow::Result<Keys> {
    let root = match settings {
        KeySettings::External {
            endpoint,
            region,
            access_key_id,
            secret_access_key,
            session_token,
        } => {
            tracing::info!(%endpoint, %region, "stream keys from an external KMS");
            let remote = RemoteKms::new(
                endpoint,
                region,
                access_key_id,
                secret_access_key,
                session_token.as_deref(),
            );
            return Ok(Keys {
                local: None,
                service: Some(Arc::new(remote)),
            });
        }
        KeySettings::BuiltIn(RootSource::File(p)) => RootKey::load_file(p)
            .with_context(|| format!("reading the root key {}", p.display()))?,
        KeySettings::BuiltIn(RootSource::Env(k)) => {
            RootKey::from_base64(k).with_context(|| format!("{ROOT_KEY_ENV} is not a root key"))?
        }
        KeySettings::BuiltIn(RootSource::DataDir) => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("creating data directory {}", data_dir.display()))?;
            let (root, created) = RootKey::load_or_create(data_dir)
                .with_context(|| format!("the root key in {}", data_dir.display()))?;
            if created {
                tracing::warn!(
                    dir = %data_dir.display(),
                    "made a new root key for the built-in key service (kms-root.key); keep a \
                     copy apart from the data: without it no encrypted record can be read"
                );
            }
            root
        }
        KeySettings::BuiltIn(RootSource::Missing) => {
            tracing::warn!(
                "no root key given (--kms-root-key-file or {ROOT_KEY_ENV}): the built-in key \
                 service is off, and streams cannot be encrypted"
            );
            return Ok(Keys {
                local: None,
                service: None,
            });
        }
    };
    let local = LocalKms::open(meta, root)
        .await
        .context("opening the built-in key service")?;
    Ok(Keys {
        local: Some(Arc::clone(&local)),
        service: Some(local),
    })
}
