//! Settings: command-line flags (also readable from `TRIBUTARY_*` variables) over an
//! optional TOML file (`--config`), over defaults. `tributary.example.toml` at the
//! repository root documents the file. The NATS storage's settings are in `nats`.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use serde::Deserialize;
use tributary_engine::StreamDeclaration;
use tributary_storage::Durability;

use crate::keys::{KeySettings, KmsArgs, KmsFileKeys};
use crate::limits::{FaultsKey, LimitsArgs, LimitsKey};
use crate::nats::{NatsArgs, NatsFileKeys, NatsSettings};

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file; flags given here override it.
    #[arg(long, env = "TRIBUTARY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:4567]. Port 0 picks a free port.
    #[arg(long, env = "TRIBUTARY_BIND")]
    pub bind: Option<SocketAddr>,
    /// Where streams and records live: `embedded` (files in `--data-dir`) or a NATS
    /// JetStream cluster, `nats://h1:4222,h2:4222,h3:4222` (`tls://…` for TLS); see
    /// docs/replicated.md [default: embedded].
    #[arg(long, env = "TRIBUTARY_STORAGE")]
    pub storage: Option<String>,
    /// Directory of the embedded storage [default: ./tributary-data]. Not used with NATS.
    #[arg(long, env = "TRIBUTARY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Account that owns the streams [default: 000000000000].
    #[arg(long, env = "TRIBUTARY_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// When a write is acknowledged: `sync` (after fsync; nothing acknowledged is ever lost)
    /// or `interval:MS` (after the write, fsync within MS milliseconds; a power loss may lose
    /// the last MS of acknowledged writes, a killed process loses nothing) [default: sync].
    #[arg(long, env = "TRIBUTARY_DURABILITY")]
    pub durability: Option<String>,
    /// Streams to create at start-up when absent, comma separated:
    /// `NAME[:SHARDS|:on-demand][:RETENTION_HOURS]`, e.g. `orders:4,events:on-demand:48`.
    /// Created in the region `--streams-region`.
    #[arg(long, env = "TRIBUTARY_STREAMS")]
    pub streams: Option<String>,
    /// Region of the streams declared with `--streams` or in the file [default: us-east-1].
    #[arg(long, env = "TRIBUTARY_STREAMS_REGION")]
    pub streams_region: Option<String>,
    /// Milliseconds a new stream stays CREATING [default: 0].
    #[arg(long)]
    pub create_stream_ms: Option<u64>,
    /// Milliseconds a deleted stream stays DELETING [default: 0].
    #[arg(long)]
    pub delete_stream_ms: Option<u64>,
    /// Milliseconds a resharded or updated stream stays UPDATING [default: 0].
    #[arg(long)]
    pub update_stream_ms: Option<u64>,
    /// Lifetime of shard iterators in milliseconds [default: 300000, AWS's five minutes].
    /// Shorter values are for tests.
    #[arg(long)]
    pub iterator_ttl_ms: Option<u64>,
    /// How long a SubscribeToShard subscription lasts, in milliseconds [default: 300000, AWS's
    /// five minutes]. Shorter values are for tests.
    #[arg(long)]
    pub subscription_lifetime_ms: Option<u64>,
    /// Open shards allowed per account and region [default: 20000].
    #[arg(long)]
    pub shard_limit: Option<u32>,
    /// Largest request body in bytes [default: 33554432].
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Most connections open at once; past it, new ones wait in the kernel's listen backlog
    /// until one closes [default: 10000].
    #[arg(long, env = "TRIBUTARY_MAX_CONNECTIONS")]
    pub max_connections: Option<NonZeroUsize>,
    /// Allow listening on a non-loopback address without credentials. Anyone who can reach
    /// the port can then read and write every stream.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Answer browsers' CORS preflights and expose AWS's headers to other origins, as AWS
    /// does [default: true when users are configured (every signature verified), false
    /// without: any web page could otherwise drive an open server on this machine].
    #[arg(long, env = "TRIBUTARY_CORS")]
    pub cors: Option<bool>,
    /// PEM certificate chain: serve TLS (ALPN h2 and http/1.1) instead of cleartext.
    /// SIGHUP reloads the certificate and key files.
    #[arg(long, env = "TRIBUTARY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "TRIBUTARY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Log filter, e.g. `info` or `tributary=debug` [default: info]. At debug, one line per
    /// request (target `tributary::request`): request id, operation, stream, status, latency.
    #[arg(long, env = "RUST_LOG")]
    pub log: Option<String>,
    /// Log line format: `text` (human readable) or `json` (one JSON object per line, for
    /// log shippers) [default: text].
    #[arg(long, env = "TRIBUTARY_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Serve Prometheus metrics at `GET /metrics` on the API port, without credentials
    /// (docs/metrics.md) [default: true]. `--metrics false` turns the endpoint off.
    #[arg(long, env = "TRIBUTARY_METRICS")]
    pub metrics: Option<bool>,
    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub kms: KmsArgs,
    #[command(flatten)]
    pub limits: LimitsArgs,
}

/// The file's keys mirror the flags (snake_case); `[[streams]]` tables declare streams.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<SocketAddr>,
    storage: Option<String>,
    data_dir: Option<PathBuf>,
    account_id: Option<String>,
    durability: Option<String>,
    streams_region: Option<String>,
    create_stream_ms: Option<u64>,
    delete_stream_ms: Option<u64>,
    update_stream_ms: Option<u64>,
    iterator_ttl_ms: Option<u64>,
    subscription_lifetime_ms: Option<u64>,
    shard_limit: Option<u32>,
    max_body_bytes: Option<usize>,
    max_connections: Option<NonZeroUsize>,
    insecure_no_auth: Option<bool>,
    cors: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    log: Option<String>,
    log_format: Option<String>,
    metrics: Option<bool>,
    nats_prefix: Option<String>,
    nats_replicas: Option<usize>,
    nats_allow_unreplicated: Option<bool>,
    nats_allow_unsynced: Option<bool>,
    nats_credentials: Option<PathBuf>,
    nats_user: Option<String>,
    /// Allowed here (unlike on the command line); `TRIBUTARY_NATS_PASSWORD` wins over it.
    nats_password: Option<String>,
    nats_tls_ca: Option<PathBuf>,
    nats_request_timeout_ms: Option<u64>,
    nats_system_credentials: Option<PathBuf>,
    nats_system_user: Option<String>,
    nats_system_password: Option<String>,
    kms_root_key_file: Option<PathBuf>,
    kms_endpoint: Option<String>,
    kms_region: Option<String>,
    kms_access_key_id: Option<String>,
    kms_secret_access_key_file: Option<PathBuf>,
    #[serde(default)]
    streams: Vec<StreamDeclaration>,
    #[serde(default)]
    users: Vec<UserConfig>,
    /// `limits = "off" | "aws"` or a `[limits]` table (see `limits`).
    limits: Option<LimitsKey>,
    /// `[faults]` (see `limits`).
    faults: Option<FaultsKey>,
}

/// A user with an access key. The secret comes from a file or an environment variable,
/// never from the command line (where `ps` would show it).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct UserConfig {
    name: String,
    /// Defaults to the server's account.
    account_id: Option<String>,
    access_key_id: String,
    secret_access_key_file: Option<PathBuf>,
    secret_access_key_env: Option<String>,
    /// IAM policy documents (JSON), as files and inline.
    #[serde(default)]
    policy_files: Vec<PathBuf>,
    #[serde(default)]
    policies: Vec<String>,
}

/// Where streams and records live.
#[derive(Debug)]
pub enum Storage {
    /// Files under `Settings::data_dir`.
    Embedded,
    /// A NATS JetStream cluster; `data_dir` and `durability` are not used.
    Nats(NatsSettings),
}

#[derive(Debug)]
pub struct Settings {
    pub bind: SocketAddr,
    pub storage: Storage,
    pub data_dir: PathBuf,
    pub account_id: String,
    pub durability: Durability,
    pub streams: Vec<StreamDeclaration>,
    pub streams_region: String,
    pub create_delay: Duration,
    pub delete_delay: Duration,
    pub update_delay: Duration,
    pub iterator_ttl: Duration,
    pub subscription_lifetime: Duration,
    pub shard_limit: u32,
    pub max_body_bytes: usize,
    pub max_connections: NonZeroUsize,
    pub insecure_no_auth: bool,
    /// Whether browsers' CORS preflights are answered (see `ServeArgs::cors`).
    pub cors: bool,
    /// Users whose SigV4 signatures are verified; empty means open mode (form checks only).
    pub users: Vec<tributary_auth::Credential>,
    /// Certificate chain and key files, when serving TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub log: String,
    pub log_format: LogFormat,
    /// Whether `GET /metrics` is served.
    pub metrics: bool,
    /// Said at start, once logging is on: settings given that the chosen storage ignores.
    pub ignored: Vec<&'static str>,
    /// Where stream encryption keys come from.
    pub keys: KeySettings,
    /// Throughput limits (`--limits`, `limits`).
    pub limits: tributary_engine::ThroughputLimits,
    /// Injected faults (`--faults`, `[faults]`).
    pub faults: tributary_engine::FaultPlan,
}

impl Settings {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("parsing {}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let mut streams = file.streams;
        if let Some(spec) = &args.streams {
            streams.extend(parse_streams(spec)?);
        }
        let storage = match args.storage.or(file.storage).as_deref() {
            None | Some("embedded") => Storage::Embedded,
            Some(url) => Storage::Nats(NatsSettings::resolve(
                url,
                args.nats,
                NatsFileKeys {
                    prefix: file.nats_prefix,
                    replicas: file.nats_replicas,
                    allow_unreplicated: file.nats_allow_unreplicated,
                    allow_unsynced: file.nats_allow_unsynced,
                    credentials: file.nats_credentials,
                    user: file.nats_user,
                    password: file.nats_password,
                    tls_ca: file.nats_tls_ca,
                    request_timeout_ms: file.nats_request_timeout_ms,
                    system_credentials: file.nats_system_credentials,
                    system_user: file.nats_system_user,
                    system_password: file.nats_system_password,
                },
            )?),
        };
        let keys = KeySettings::resolve(
            args.kms,
            KmsFileKeys {
                root_key_file: file.kms_root_key_file,
                endpoint: file.kms_endpoint,
                region: file.kms_region,
                access_key_id: file.kms_access_key_id,
                secret_access_key_file: file.kms_secret_access_key_file,
            },
            matches!(storage, Storage::Nats(_)),
        )?;
        let limits = crate::limits::resolve_limits(args.limits.limits.as_deref(), file.limits)?;
        let faults = crate::limits::resolve_faults(args.limits.faults.as_deref(), file.faults)?;
        let mut ignored = Vec::new();
        if matches!(storage, Storage::Nats(_)) {
            if args.data_dir.is_some() || file.data_dir.is_some() {
                ignored.push("data_dir");
            }
            if args.durability.is_some() || file.durability.is_some() {
                ignored.push("durability");
            }
        }
        let durability = args
            .durability
            .or(file.durability)
            .unwrap_or_else(|| "sync".into());
        let ms = |flag: Option<u64>, file: Option<u64>| {
            Duration::from_millis(flag.or(file).unwrap_or(0))
        };
        let s = Settings {
            bind: args
                .bind
                .or(file.bind)
                .unwrap_or_else(|| "127.0.0.1:4567".parse().expect("default bind")),
            storage,
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("tributary-data")),
            account_id: args
                .account_id
                .or(file.account_id)
                .unwrap_or_else(|| "000000000000".into()),
            durability: parse_durability(&durability)?,
            streams,
            streams_region: args
                .streams_region
                .or(file.streams_region)
                .unwrap_or_else(|| "us-east-1".into()),
            create_delay: ms(args.create_stream_ms, file.create_stream_ms),
            delete_delay: ms(args.delete_stream_ms, file.delete_stream_ms),
            update_delay: ms(args.update_stream_ms, file.update_stream_ms),
            iterator_ttl: Duration::from_millis(
                args.iterator_ttl_ms
                    .or(file.iterator_ttl_ms)
                    .unwrap_or(300_000),
            ),
            subscription_lifetime: Duration::from_millis(
                args.subscription_lifetime_ms
                    .or(file.subscription_lifetime_ms)
                    .unwrap_or(300_000),
            ),
            shard_limit: args.shard_limit.or(file.shard_limit).unwrap_or(20_000),
            max_body_bytes: args
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(32 << 20),
            max_connections: args
                .max_connections
                .or(file.max_connections)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            insecure_no_auth: args.insecure_no_auth || file.insecure_no_auth.unwrap_or(false),
            cors: false,
            tls: match (
                args.tls_cert.or(file.tls_cert),
                args.tls_key.or(file.tls_key),
            ) {
                (Some(c), Some(k)) => Some((c, k)),
                (None, None) => None,
                _ => bail!("TLS needs both a certificate and a key"),
            },
            log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
            log_format: parse_log_format(args.log_format.or(file.log_format).as_deref())?,
            metrics: args.metrics.or(file.metrics).unwrap_or(true),
            users: Vec::new(),
            ignored,
            keys,
            limits,
            faults,
        };
        let mut s = s;
        check_account(&s.account_id)?;
        s.users = file
            .users
            .into_iter()
            .map(|u| user(u, &s.account_id))
            .collect::<anyhow::Result<_>>()?;
        if let Some(admin) = env_admin(&s.account_id)? {
            s.users.push(admin);
        }
        s.cors = args.cors.or(file.cors).unwrap_or(!s.users.is_empty());
        Ok(s)
    }
}

/// Far above what one node's clients need (SDKs keep a few pooled connections each, so
/// thousands of producers fit), and below the usual file-descriptor limits once raised for
/// a server (`LimitNOFILE` of 65536 and more), leaving room for segment files; each idle
/// connection costs some tens of KiB, so the limit also bounds memory.
const DEFAULT_MAX_CONNECTIONS: NonZeroUsize = NonZeroUsize::new(10_000).expect("not zero");

fn check_account(id: &str) -> anyhow::Result<()> {
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("account id must be 12 digits, got {id:?}");
    }
    Ok(())
}

fn user(u: UserConfig, default_account: &str) -> anyhow::Result<tributary_auth::Credential> {
    use tributary_auth::policy::Policy;
    let account = u.account_id.unwrap_or_else(|| default_account.to_string());
    check_account(&account)?;
    let secret = match (&u.secret_access_key_file, &u.secret_access_key_env) {
        (Some(f), None) => std::fs::read_to_string(f)
            .with_context(|| format!("user {}: reading secret file {}", u.name, f.display()))?
            .trim()
            .to_string(),
        (None, Some(var)) => std::env::var(var)
            .with_context(|| format!("user {}: environment variable {var} is not set", u.name))?,
        _ => bail!(
            "user {}: give exactly one of secret_access_key_file and secret_access_key_env",
            u.name
        ),
    };
    let mut policies = Vec::new();
    for f in &u.policy_files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("user {}: reading policy {}", u.name, f.display()))?;
        policies.push(
            Policy::parse_identity(&text)
                .map_err(|e| anyhow::anyhow!("user {}: policy {}: {e}", u.name, f.display()))?,
        );
    }
    for (i, text) in u.policies.iter().enumerate() {
        policies.push(
            Policy::parse_identity(text)
                .map_err(|e| anyhow::anyhow!("user {}: inline policy {}: {e}", u.name, i + 1))?,
        );
    }
    let principal = tributary_auth::Principal::user(u.access_key_id, account, u.name, policies);
    Ok(tributary_auth::Credential::long_term(secret, principal))
}

/// `TRIBUTARY_ACCESS_KEY_ID` + `TRIBUTARY_SECRET_ACCESS_KEY`: one user, `admin`, allowed
/// every Kinesis action in the server's account: the quickest way to require signatures.
fn env_admin(account: &str) -> anyhow::Result<Option<tributary_auth::Credential>> {
    let (Ok(key), Ok(secret)) = (
        std::env::var("TRIBUTARY_ACCESS_KEY_ID"),
        std::env::var("TRIBUTARY_SECRET_ACCESS_KEY"),
    ) else {
        return Ok(None);
    };
    let all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}]}"#;
    let policy =
        tributary_auth::policy::Policy::parse_identity(all).map_err(|e| anyhow::anyhow!("{e}"))?;
    let principal = tributary_auth::Principal::user(key, account, "admin", vec![policy]);
    Ok(Some(tributary_auth::Credential::long_term(
        secret, principal,
    )))
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

fn parse_log_format(s: Option<&str>) -> anyhow::Result<LogFormat> {
    match s {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => bail!("log format must be `text` or `json`, got {other:?}"),
    }
}

fn parse_durability(s: &str) -> anyhow::Result<Durability> {
    if s == "sync" {
        return Ok(Durability::Sync);
    }
    if let Some(ms) = s.strip_prefix("interval:") {
        let ms: u64 = ms
            .parse()
            .with_context(|| format!("durability interval {ms:?}"))?;
        return Ok(Durability::Interval(Duration::from_millis(ms.max(1))));
    }
    bail!("durability must be `sync` or `interval:MS`, got {s:?}")
}

/// `orders:4,events:on-demand:48,logs` (a bare name gets one shard).
fn parse_streams(spec: &str) -> anyhow::Result<Vec<StreamDeclaration>> {
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut parts = item.split(':');
        let name = parts.next().unwrap_or_default().to_string();
        let mut decl = StreamDeclaration {
            name,
            shard_count: Some(1),
            ..Default::default()
        };
        if let Some(kind) = parts.next() {
            if kind == "on-demand" {
                decl.on_demand = true;
                decl.shard_count = None;
            } else {
                decl.shard_count = Some(
                    kind.parse()
                        .with_context(|| format!("shard count in {item:?}"))?,
                );
            }
        }
        if let Some(h) = parts.next() {
            decl.retention_hours = Some(
                h.parse()
                    .with_context(|| format!("retention hours in {item:?}"))?,
            );
        }
        if parts.next().is_some() {
            bail!("stream declaration {item:?} has too many fields");
        }
        out.push(decl);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stream_declarations() {
        let s = parse_streams("orders:4, events:on-demand:48,logs").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].name.as_str(), s[0].shard_count), ("orders", Some(4)));
        assert!(s[1].on_demand && s[1].retention_hours == Some(48));
        assert_eq!(s[2].shard_count, Some(1));
        assert!(parse_streams("a:x").is_err());
        assert!(parse_streams("a:1:2:3").is_err());
    }

    #[test]
    fn parses_durability() {
        assert_eq!(parse_durability("sync").unwrap(), Durability::Sync);
        assert_eq!(
            parse_durability("interval:5").unwrap(),
            Durability::Interval(Duration::from_millis(5))
        );
        assert!(parse_durability("never").is_err());
    }

    #[test]
    fn parses_log_formats_and_the_metrics_switch() {
        assert_eq!(parse_log_format(None).unwrap(), LogFormat::Text);
        assert_eq!(parse_log_format(Some("json")).unwrap(), LogFormat::Json);
        assert!(parse_log_format(Some("xml")).is_err());
        let f: FileConfig = toml::from_str("log_format = \"json\"\nmetrics = false").unwrap();
        assert_eq!(f.log_format.as_deref(), Some("json"));
        assert_eq!(f.metrics, Some(false));
    }

    #[test]
    fn a_connection_limit_of_zero_is_refused() {
        assert!(toml::from_str::<FileConfig>("max_connections = 0").is_err());
        let f: FileConfig = toml::from_str("max_connections = 2").unwrap();
        assert_eq!(f.max_connections.map(NonZeroUsize::get), Some(2));
    }

    #[test]
    fn reads_the_reference_config_file() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tributary.example.toml"
        ))
        .unwrap();
        let f: FileConfig = toml::from_str(&text).unwrap();
        assert!(!f.streams.is_empty());
        assert_eq!(f.max_connections, Some(DEFAULT_MAX_CONNECTIONS));
    }

    #[test]
    fn the_reference_files_commented_nats_keys_are_real_keys() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tributary.example.toml"
        ))
        .unwrap();
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.starts_with("nats_") || l.starts_with("storage ="))
            .collect();
        assert!(keys.len() >= 12, "{keys:?}");
        let f: FileConfig = toml::from_str(&keys.join("\n")).unwrap();
        assert_eq!(f.nats_replicas, Some(3));
        assert_eq!(f.storage.as_deref(), Some("embedded"));
    }

    #[test]
    fn the_reference_files_commented_kms_keys_are_real_keys() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tributary.example.toml"
        ))
        .unwrap();
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.starts_with("kms_"))
            .collect();
        assert_eq!(keys.len(), 5, "{keys:?}");
        let f: FileConfig = toml::from_str(&keys.join("\n")).unwrap();
        assert_eq!(f.kms_region.as_deref(), Some("us-east-1"));
        assert!(f.kms_root_key_file.is_some() && f.kms_secret_access_key_file.is_some());
    }
}
