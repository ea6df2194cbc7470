//! Start-up and shutdown of `tributary serve`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tributary_engine::{Engine, EngineConfig, RequestContext};
use tributary_server::auth::AuthMode;
use tributary_server::tls::CertSource;
use tributary_server::AppState;
use tributary_storage::{FjallMeta, MetaStore, SegmentLog, SegmentOptions, ShardLog};

use crate::config::{LogFormat, Settings, Storage};
use crate::nats::NatsSettings;

pub fn run(s: Settings) -> anyhow::Result<()> {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&s.log).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr);
    match s.log_format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // One object per line, fields at the top level, for log shippers.
        LogFormat::Json => logs.json().flatten_event(true).with_ansi(false).init(),
    }
    if !s.bind.ip().is_loopback() && s.users.is_empty() {
        if !s.insecure_no_auth {
            bail!(
                "refusing to listen on {} without credentials: anyone who reaches it could read and \
                 write every stream. Configure users (see tributary.example.toml), listen on a \
                 loopback address, or pass --insecure-no-auth.",
                s.bind
            );
        }
        tracing::warn!(bind = %s.bind, "--insecure-no-auth: serving a non-loopback address with no authentication");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Reads run on the blocking pool (page-cache reads, short). Tokio's default of 512
        // threads let a burst of GetRecords grow one per concurrent read, each with its own
        // allocator cache: more memory, no more throughput on a few cores.
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve(s))
}

/// Enough reads in flight to keep a disk busy when they miss the page cache.
const BLOCKING_THREADS: usize = 8;

async fn serve(mut s: Settings) -> anyhow::Result<()> {
    for key in &s.ignored {
        tracing::warn!(
            "`{key}` is set but not used: it belongs to the embedded storage, and storage is NATS"
        );
    }
    let (log, meta, storage_note) = match &s.storage {
        Storage::Embedded => open_embedded(&s)?,
        Storage::Nats(n) => open_nats(n).await?,
    };
    let keys = crate::keys::open(&s.keys, &s.data_dir, Arc::clone(&meta)).await?;
    let config = EngineConfig {
        default_account_id: s.account_id.clone(),
        create_delay: s.create_delay,
        delete_delay: s.delete_delay,
        update_delay: s.update_delay,
        iterator_ttl: s.iterator_ttl,
        subscription_lifetime: s.subscription_lifetime,
        shard_limit: s.shard_limit,
        keys: keys.service.clone(),
        limits: s.limits,
        faults: s.faults.clone(),
        ..EngineConfig::default()
    };
    let engine = Engine::open(config, log, meta)
        .await
        .context("opening the engine")?;
    if s.limits != tributary_engine::ThroughputLimits::Off {
        tracing::info!(limits = ?s.limits, "throughput limits are on");
    }
    if !s.faults.operations.is_empty() {
        tracing::warn!(faults = ?s.faults, "fault injection is on: some requests will fail");
    }
    let ctx = RequestContext::new(s.account_id.clone(), s.streams_region.clone());
    for decl in &s.streams {
        engine
            .ensure_stream(&ctx, decl.clone())
            .await
            .map_err(|e| anyhow::anyhow!("declared stream {:?}: {e}", decl.name))?;
    }
    let listener = tokio::net::TcpListener::bind(s.bind)
        .await
        .with_context(|| format!("listening on {}", s.bind))?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to learn the port when binding to port 0.
    println!("TRIBUTARY_LISTENING {addr}");
    let scheme = if s.tls.is_some() {
        "TLS: h2 and HTTP/1.1 by ALPN"
    } else {
        "cleartext: HTTP/1.1 and h2c"
    };
    match &s.storage {
        Storage::Embedded => tracing::info!(
            %addr,
            data_dir = %s.data_dir.display(),
            "serving the Kinesis API ({scheme}) on the embedded storage"
        ),
        Storage::Nats(n) => tracing::info!(
            %addr,
            servers = %n.servers.join(","),
            prefix = %n.prefix,
            replicas = n.replicas,
            sync = %storage_note,
            data_dir = "not used (NATS storage)",
            "serving the Kinesis API ({scheme}) on NATS JetStream"
        ),
    }
    let tls = match &s.tls {
        Some((cert, key)) => {
            let source = CertSource::load(cert, key)?;
            reload_on_sighup(source.clone());
            Some(source)
        }
        None => None,
    };
    let auth = if s.users.is_empty() {
        AuthMode::Open
    } else {
        let mut store = tributary_auth::StaticCredentialStore::new();
        let n = s.users.len();
        for u in s.users.drain(..) {
            store.insert(u);
        }
        tracing::info!(users = n, "verifying SigV4 signatures and policies");
        AuthMode::Verify {
            store,
            config: tributary_auth::sigv4::VerifyConfig::default(),
        }
    };
    let state = Arc::new(AppState {
        engine,
        auth,
        account_id: s.account_id,
        max_body_bytes: s.max_body_bytes,
        cors: s.cors,
        kms: keys.local,
        keys: keys.service,
        metrics_endpoint: s.metrics,
        requests: Default::default(),
    });
    tributary_server::serve(
        listener,
        state,
        tls,
        shutdown_signal(),
        Duration::from_secs(10),
        s.max_connections,
    )
    .await;
    tracing::info!("stopped");
    Ok(())
}

type Stores = (Arc<dyn ShardLog>, Arc<dyn MetaStore>, String);

fn open_embedded(s: &Settings) -> anyhow::Result<Stores> {
    std::fs::create_dir_all(&s.data_dir)
        .with_context(|| format!("creating data directory {}", s.data_dir.display()))?;
    // Metadata in fjall (every write fsynced, whatever `durability` says); records in
    // per-shard segment files with a shared journal (docs/storage.md).
    let meta = FjallMeta::open(&s.data_dir)
        .with_context(|| format!("opening metadata in {}", s.data_dir.display()))?;
    let segments_dir = s.data_dir.join("segments");
    let log = SegmentLog::open(
        &segments_dir,
        SegmentOptions {
            durability: s.durability,
            ..SegmentOptions::default()
        },
    )
    .with_context(|| format!("opening the record log in {}", segments_dir.display()))?;
    Ok((log, meta, String::new()))
}

/// Checks the cluster's settings first (docs/replicated.md), so a refused setup creates
/// nothing in the cluster.
async fn open_nats(n: &NatsSettings) -> anyhow::Result<Stores> {
    crate::nats_checks::check_replicas(n)?;
    let verdict = crate::nats_checks::check_sync(n).await?;
    let stores = tributary_storage::connect_nats(&n.options())
        .await
        .with_context(|| {
            format!(
                "opening NATS storage at {} (prefix {:?}, {} replicas)",
                n.servers.join(","),
                n.prefix,
                n.replicas
            )
        })?;
    Ok((stores.log, stores.meta, verdict.sync))
}

/// SIGHUP re-reads the certificate files; a bad file is logged and the old one kept.
fn reload_on_sighup(source: Arc<CertSource>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            match source.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "TLS certificate reload failed; keeping the previous one")
                }
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
