//! Settings of the replicated storage (`--storage nats://…`, issue 12): flags, their
//! `TRIBUTARY_*` variables and the config file's `nats_*` keys, resolved into [`NatsSettings`].
//! Passwords come from the environment or the config file, never from argv (`ps` shows argv).
//! The checks run against the cluster at start live in `nats_checks`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use tributary_storage::NatsOptions;

/// Replicas below this lose acknowledged records when one NATS server's disk is lost.
pub const SAFE_REPLICAS: usize = 3;

#[derive(Args, Debug, Default)]
pub struct NatsArgs {
    /// Deployment prefix of every JetStream stream and KV bucket Tributary makes; nodes of
    /// one deployment share it [default: tributary].
    #[arg(long, env = "TRIBUTARY_NATS_PREFIX")]
    pub nats_prefix: Option<String>,
    /// Replicas of every shard stream and of the metadata bucket [default: 3]. Below 3 the
    /// server refuses to start unless `--nats-allow-unreplicated`.
    #[arg(long, env = "TRIBUTARY_NATS_REPLICAS")]
    pub nats_replicas: Option<usize>,
    /// Start with fewer than 3 replicas: losing one NATS server's disk then loses
    /// acknowledged records. For tests and single-machine trials.
    #[arg(long, env = "TRIBUTARY_NATS_ALLOW_UNREPLICATED")]
    pub nats_allow_unreplicated: bool,
    /// Start although a NATS server reports that it does not fsync every write
    /// (`sync_interval` other than `always`): a power loss can then lose acknowledged records.
    #[arg(long, env = "TRIBUTARY_NATS_ALLOW_UNSYNCED")]
    pub nats_allow_unsynced: bool,
    /// NATS credentials file (`.creds`: user JWT and nkey seed).
    #[arg(long, env = "TRIBUTARY_NATS_CREDENTIALS")]
    pub nats_credentials: Option<PathBuf>,
    /// NATS user; the password comes from `TRIBUTARY_NATS_PASSWORD` or the config file's
    /// `nats_password`, never from the command line.
    #[arg(long, env = "TRIBUTARY_NATS_USER")]
    pub nats_user: Option<String>,
    /// CA certificate (PEM) that signed the NATS servers' certificates; requires TLS.
    #[arg(long, env = "TRIBUTARY_NATS_TLS_CA")]
    pub nats_tls_ca: Option<PathBuf>,
    /// Milliseconds one request to the cluster may take, also the bound of connecting at
    /// start [default: 10000].
    #[arg(long, env = "TRIBUTARY_NATS_REQUEST_TIMEOUT_MS")]
    pub nats_request_timeout_ms: Option<u64>,
    /// Credentials file of a user in the NATS system account: lets Tributary read every
    /// server's JetStream settings at start and refuse a cluster that does not fsync each write.
    #[arg(long, env = "TRIBUTARY_NATS_SYSTEM_CREDENTIALS")]
    pub nats_system_credentials: Option<PathBuf>,
    /// User of the NATS system account, for the same check; the password comes from
    /// `TRIBUTARY_NATS_SYSTEM_PASSWORD` or the config file's `nats_system_password`.
    #[arg(long, env = "TRIBUTARY_NATS_SYSTEM_USER")]
    pub nats_system_user: Option<String>,
}

/// The config file's `nats_*` keys (and `storage`'s NATS form), gathered by `config`.
#[derive(Debug, Default)]
pub struct NatsFileKeys {
    pub prefix: Option<String>,
    pub replicas: Option<usize>,
    pub allow_unreplicated: Option<bool>,
    pub allow_unsynced: Option<bool>,
    pub credentials: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub tls_ca: Option<PathBuf>,
    pub request_timeout_ms: Option<u64>,
    pub system_credentials: Option<PathBuf>,
    pub system_user: Option<String>,
    pub system_password: Option<String>,
}

/// How to authenticate to NATS.
#[derive(Clone)]
pub enum NatsAuth {
    None,
    Credentials(PathBuf),
    UserPassword(String, Secret),
}

impl std::fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NatsAuth::None => f.write_str("None"),
            NatsAuth::Credentials(p) => write!(f, "Credentials({})", p.display()),
            NatsAuth::UserPassword(u, _) => write!(f, "UserPassword({u}, <hidden>)"),
        }
    }
}

/// A password: kept out of `Debug` output and logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone)]
pub struct NatsSettings {
    /// Every server URL, each with its scheme (`nats://` or `tls://`).
    pub servers: Vec<String>,
    pub prefix: String,
    pub replicas: usize,
    pub allow_unreplicated: bool,
    pub allow_unsynced: bool,
    pub auth: NatsAuth,
    pub tls_ca: Option<PathBuf>,
    pub request_timeout: Duration,
    /// System-account login for the start-up check of the servers' fsync setting.
    pub system_auth: NatsAuth,
}

impl NatsSettings {
    /// `storage` is the `nats://…` or `tls://…` value of `--storage`.
    pub fn resolve(
        storage: &str,
        args: NatsArgs,
        file: NatsFileKeys,
    ) -> anyhow::Result<NatsSettings> {
        let servers = parse_servers(storage)?;
        let auth = auth(
            "",
            args.nats_credentials.or(file.credentials),
            args.nats_user.or(file.user),
            std::env::var("TRIBUTARY_NATS_PASSWORD")
                .ok()
                .or(file.password),
        )?;
        let system_auth = auth_of_system(
            args.nats_system_credentials.or(file.system_credentials),
            args.nats_system_user.or(file.system_user),
            std::env::var("TRIBUTARY_NATS_SYSTEM_PASSWORD")
                .ok()
                .or(file.system_password),
        )?;
        let replicas = args
            .nats_replicas
            .or(file.replicas)
            .unwrap_or(SAFE_REPLICAS);
        if !(1..=5).contains(&replicas) {
            bail!("NATS replicas must be between 1 and 5 (JetStream's limit), got {replicas}");
        }
        let timeout_ms = args
            .nats_request_timeout_ms
            .or(file.request_timeout_ms)
            .unwrap_or(10_000);
        if timeout_ms == 0 {
            bail!("the NATS request timeout must be above 0 ms");
        }
        Ok(NatsSettings {
            servers,
            prefix: args
                .nats_prefix
                .or(file.prefix)
                .unwrap_or_else(|| "tributary".into()),
            replicas,
            allow_unreplicated: args.nats_allow_unreplicated
                || file.allow_unreplicated.unwrap_or(false),
            allow_unsynced: args.nats_allow_unsynced || file.allow_unsynced.unwrap_or(false),
            auth,
            tls_ca: args.nats_tls_ca.or(file.tls_ca),
            request_timeout: Duration::from_millis(timeout_ms),
            system_auth,
        })
    }

    /// The storage crate's options for these settings.
    pub fn options(&self) -> NatsOptions {
        let mut o = NatsOptions::new(self.servers.clone(), self.prefix.clone());
        o.replicas = self.replicas;
        o.request_timeout = self.request_timeout;
        o.tls_ca = self.tls_ca.clone();
        match &self.auth {
            NatsAuth::None => {}
            NatsAuth::Credentials(p) => o.credentials = Some(p.clone()),
            NatsAuth::UserPassword(u, p) => {
                o.user_password = Some((u.clone(), p.expose().to_string()))
            }
        }
        o
    }
}

fn auth_of_system(
    credentials: Option<PathBuf>,
    user: Option<String>,
    password: Option<String>,
) -> anyhow::Result<NatsAuth> {
    auth("system ", credentials, user, password)
}

fn auth(
    which: &str,
    credentials: Option<PathBuf>,
    user: Option<String>,
    password: Option<String>,
) -> anyhow::Result<NatsAuth> {
    Ok(match (credentials, user, password) {
        (None, None, None) => NatsAuth::None,
        (Some(c), None, None) => NatsAuth::Credentials(c),
        (None, Some(u), Some(p)) => NatsAuth::UserPassword(u, Secret(p)),
        (None, Some(u), None) => {
            let var = if which.is_empty() {
                "TRIBUTARY_NATS_PASSWORD"
            } else {
                "TRIBUTARY_NATS_SYSTEM_PASSWORD"
            };
            bail!("NATS {which}user {u:?} needs a password: set {var} or the config file's nats_{}password", which.replace(' ', "_"))
        }
        (None, None, Some(_)) => {
            bail!("a NATS {which}password is set without a NATS {which}user")
        }
        (Some(_), _, _) => {
            bail!("give either a NATS {which}credentials file or a {which}user and password, not both")
        }
    })
}

/// `nats://h1:4222,h2:4222` or `tls://…`: the scheme of the first applies to the others
/// unless they carry their own.
pub fn parse_servers(storage: &str) -> anyhow::Result<Vec<String>> {
    let (scheme, rest) = storage.split_once("://").with_context(|| {
        format!(
            "storage {storage:?}: expected `embedded`, `nats://HOST:PORT,…` or `tls://HOST:PORT,…`"
        )
    })?;
    if scheme != "nats" && scheme != "tls" {
        bail!("storage {storage:?}: the scheme must be nats:// or tls://");
    }
    let mut out = Vec::new();
    for host in rest.split(',').map(str::trim) {
        if host.is_empty() {
            bail!("storage {storage:?}: an empty server address");
        }
        let url = if host.contains("://") {
            host.to_string()
        } else {
            format!("{scheme}://{host}")
        };
        // The NATS client's own parser: a typo fails here, not later as "unreachable".
        url.parse::<async_nats::ServerAddr>()
            .map_err(|e| anyhow::anyhow!("storage: NATS server address {url:?}: {e}"))?;
        out.push(url);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_lists() {
        assert_eq!(
            parse_servers("nats://h1:4222,h2:4222, h3:4222").unwrap(),
            ["nats://h1:4222", "nats://h2:4222", "nats://h3:4222"]
        );
        assert_eq!(
            parse_servers("tls://a:1,nats://b:2").unwrap(),
            ["tls://a:1", "nats://b:2"]
        );
        assert!(parse_servers("http://a:1").is_err());
        assert!(parse_servers("nats://a:1,,b:2").is_err());
        assert!(parse_servers("a:1").is_err());
    }

    #[test]
    fn a_user_needs_a_password_and_one_login_kind() {
        assert!(auth("", None, Some("u".into()), None).is_err());
        assert!(auth("", None, None, Some("p".into())).is_err());
        assert!(auth("", Some("c".into()), Some("u".into()), Some("p".into())).is_err());
        let a = auth("", None, Some("u".into()), Some("hunter2".into())).unwrap();
        assert!(!format!("{a:?}").contains("hunter2"));
    }

    #[test]
    fn defaults_are_the_production_ones() {
        let s = NatsSettings::resolve(
            "nats://127.0.0.1:4222",
            NatsArgs::default(),
            NatsFileKeys::default(),
        )
        .unwrap();
        assert_eq!((s.prefix.as_str(), s.replicas), ("tributary", 3));
        assert!(!s.allow_unreplicated && !s.allow_unsynced);
        assert_eq!(s.request_timeout, Duration::from_secs(10));
    }
}
