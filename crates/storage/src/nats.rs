//! The replicated stores: [`NatsLog`] and [`NatsMeta`] on a NATS JetStream cluster (issue 12).
//!
//! Layout in the cluster, all names under one deployment prefix `P` (so several deployments, or
//! tests, can share a cluster):
//!
//! ```text
//!   shard (stream s, shard i)  JetStream stream  P_<s>_<i>     subject  p.<s>.<i>
//!                              file storage, R = replicas, allow_direct, allow_atomic_publish
//!   offset o                   stream sequence o + 1
//!   record                     payload = the engine's opaque bytes
//!                              header  Tributary-Arrival: <ms since the epoch>
//!   metadata                   KV bucket  P_meta (R = replicas), keys escaped by `meta::escape`
//! ```
//!
//! Arrival times are Tributary's, in a header, not JetStream's own stamp: one append shares
//! one arrival time (the engine builds every record's sequence number from it), and a writer
//! keeps them non-decreasing per shard by knowing the last one it fenced on. Format version
//! [`NATS_FORMAT_VERSION`]; documented in `docs/storage.md`.
//!
//! Modules: `api` (JetStream API requests and the leader's message get), `follow` (moving `watch` for other nodes' appends), `log` (the [`crate::ShardLog`]: creation, appends as atomic batches fenced by
//! `Nats-Expected-Last-Sequence`, trims), `read` (batch direct gets, leader gets, reads by
//! time), `meta` (the [`crate::MetaStore`] on a KV bucket).

mod api;
mod follow;
mod health;
mod log;
mod meta;
mod outcome;
mod read;

use std::time::Duration;

use crate::StorageError;

pub use log::NatsLog;
pub use meta::NatsMeta;

/// Version of the layout above; a change to names, headers or key escaping bumps it.
pub const NATS_FORMAT_VERSION: u32 = 1;

/// The largest record the NATS stores accept: a 10 MiB Kinesis record. The servers'
/// `max_payload` must leave room for it plus headers (12 MiB in the documented setup).
pub const NATS_MAX_RECORD: usize = 10 << 20;

/// How to reach the cluster and lay Tributary out in it. `Debug` hides the password.
#[derive(Clone)]
pub struct NatsOptions {
    /// `nats://host:port` (or `tls://`) of one or more servers of the cluster.
    pub servers: Vec<String>,
    /// Deployment prefix: letters, digits, `_` and `-` (names above).
    pub prefix: String,
    /// Replicas of every shard stream and of the metadata bucket (3 in production).
    pub replicas: usize,
    /// NATS credentials file (`.creds`), if the cluster requires one.
    pub credentials: Option<std::path::PathBuf>,
    /// User and password, if the cluster requires them.
    pub user_password: Option<(String, String)>,
    /// CA certificate (PEM) to trust for `tls://` servers.
    pub tls_ca: Option<std::path::PathBuf>,
    /// How long one request to the cluster may take before it counts as unavailable.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsOptions")
            .field("servers", &self.servers)
            .field("prefix", &self.prefix)
            .field("replicas", &self.replicas)
            .field("credentials", &self.credentials)
            .field("user", &self.user_password.as_ref().map(|(u, _)| u))
            .field("tls_ca", &self.tls_ca)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl NatsOptions {
    pub fn new(servers: Vec<String>, prefix: impl Into<String>) -> Self {
        NatsOptions {
            servers,
            prefix: prefix.into(),
            replicas: 3,
            credentials: None,
            user_password: None,
            tls_ca: None,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Both stores over one connection.
pub struct NatsStores {
    pub log: std::sync::Arc<NatsLog>,
    pub meta: std::sync::Arc<NatsMeta>,
}

/// Connects to the cluster and opens (creating if needed) the metadata bucket.
pub async fn connect(opts: &NatsOptions) -> Result<NatsStores, StorageError> {
    check_prefix(&opts.prefix)?;
    let client = client(opts).await?;
    let mut js = async_nats::jetstream::new(client.clone());
    js.set_timeout(opts.request_timeout);
    let meta = NatsMeta::open(js.clone(), opts).await?;
    let log = NatsLog::new(client, js, opts);
    Ok(NatsStores {
        log,
        meta: std::sync::Arc::new(meta),
    })
}

async fn client(opts: &NatsOptions) -> Result<async_nats::Client, StorageError> {
    let mut co = async_nats::ConnectOptions::new()
        .name("tributary")
        .request_timeout(Some(opts.request_timeout))
        // A lost server is normal in a cluster: keep reconnecting, to the others too.
        .retry_on_initial_connect()
        .max_reconnects(None);
    if let Some(path) = &opts.credentials {
        co = co
            .credentials_file(path)
            .await
            .map_err(|e| StorageError::Unavailable(format!("NATS credentials {path:?}: {e}")))?;
    }
    if let Some((user, password)) = &opts.user_password {
        co = co.user_and_password(user.clone(), password.clone());
    }
    if let Some(ca) = &opts.tls_ca {
        co = co.add_root_certificates(ca.clone()).require_tls(true);
    }
    let addrs: Vec<async_nats::ServerAddr> = opts
        .servers
        .iter()
        .map(|s| {
            s.parse()
                .map_err(|e| StorageError::Unavailable(format!("NATS server address {s:?}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let client = co
        .connect(addrs)
        .await
        .map_err(|e| StorageError::Unavailable(format!("connecting to NATS: {e}")))?;
    // `retry_on_initial_connect` returns before the first connection: wait for it, bounded.
    let deadline = tokio::time::Instant::now() + opts.request_timeout;
    while client.connection_state() != async_nats::connection::State::Connected {
        if tokio::time::Instant::now() > deadline {
            return Err(StorageError::Unavailable(format!(
                "no NATS server of {:?} answered within {:?}",
                opts.servers, opts.request_timeout
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(client)
}

fn check_prefix(prefix: &str) -> Result<(), StorageError> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 32
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StorageError::Unavailable(format!(
            "NATS prefix {prefix:?}: 1 to 32 letters, digits, '_' or '-'"
        )))
    }
}

/// Any failure talking to the cluster: nothing was acknowledged.
fn unavailable(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(format!("{what}: {e}"))
}
