//! `tributary bench`: a load generator that speaks the real Kinesis protocol, and (in
//! `benches/`) criterion micro-benchmarks of the server's hot paths.
//!
//! - [`Args`] and [`run`]: the command line and its entry point ([`execute`] returns the
//!   [`Report`] instead of printing it).
//! - `transport`: HTTP/1.1 keep-alive or HTTP/2 (h2c prior knowledge, or ALPN over rustls).
//! - `sign`: the `Authorization` header, a dummy one or real SigV4 (`tributary-auth`).
//! - `wire`: pre-built JSON/CBOR bodies and cheap reads of the answers.
//! - `control`: stream creation, shard listing, preload, consumer registration.
//! - `workload`: the paced (open-loop) or closed-loop request loops.
//! - `subscribe`: the SubscribeToShard workload.
//! - `stats`: counters, hdrhistogram latencies, the text and JSON report.
//!
//! Client and server usually share the machine, so the client is kept cheap: bodies are
//! built once, signatures reuse the day's signing key and the body's precomputed hash, and
//! each worker keeps its counters to itself until the end.

mod control;
mod sign;
mod stats;
mod subscribe;
mod transport;
mod wire;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::ValueEnum;
use tributary_auth::Secret;
use tributary_protocol::Format;

pub use stats::{Report, RunInfo, Stats};

use control::Control;
use sign::{RequestSigner, SignerConfig};
use transport::Endpoint;
use workload::{Kind, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// PutRecord, one record per request.
    PutRecord,
    /// PutRecords, `--batch` records per request.
    PutRecords,
    /// GetShardIterator(TRIM_HORIZON), then GetRecords following NextShardIterator over the
    /// preloaded records; a reader that reaches the end restarts on the next shard.
    GetRecords,
    /// SubscribeToShard (from LATEST) on every shard through one consumer while the
    /// put-records workers write; latency is from each record's arrival to its delivery.
    Subscribe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WireFormat {
    /// application/x-amz-json-1.1 (data as base64)
    Json,
    /// application/x-amz-cbor-1.1 (data as byte strings; the Java SDK's default)
    Cbor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HttpVersion {
    /// HTTP/1.1 keep-alive, one request at a time per connection.
    H1,
    /// HTTP/2: h2c with prior knowledge, or ALPN h2 over TLS; streams multiplexed.
    H2,
}

/// Load a Kinesis endpoint and report throughput and latency.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// http://host:port or https://host:port
    #[arg(long, default_value = "http://127.0.0.1:4567")]
    pub endpoint: String,
    #[arg(long, value_enum, default_value = "put-records")]
    pub workload: Workload,
    /// Stream to use; created with --shards shards if missing.
    #[arg(long, default_value = "tributary-bench")]
    pub stream: String,
    #[arg(long, default_value_t = 4)]
    pub shards: usize,
    /// Payload bytes per record.
    #[arg(long, default_value_t = 1024)]
    pub record_size: usize,
    /// Records per PutRecords request (1..=500).
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// TCP connections.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// HTTP/2 only: concurrent streams per connection (one worker each).
    #[arg(long, default_value_t = 1)]
    pub streams_per_connection: usize,
    /// Measured seconds, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Requests per second in total, open loop (latency from the scheduled time);
    /// 0 = closed loop, each worker as fast as it is answered.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    #[arg(long, value_enum, default_value = "json")]
    pub format: WireFormat,
    #[arg(long, value_enum, default_value = "h1")]
    pub http: HttpVersion,
    /// PEM file of the CA to trust for an https endpoint.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// TLS server name, if not the endpoint's host.
    #[arg(long)]
    pub server_name: Option<String>,
    /// Sign with SigV4; the secret comes from AWS_SECRET_ACCESS_KEY, never from the command line.
    #[arg(long)]
    pub sigv4: bool,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = "AKIDBENCH")]
    pub access_key: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// GetRecords Limit.
    #[arg(long, default_value_t = 1000)]
    pub get_limit: u32,
    /// Records written before a get-records run (0: read what is there).
    #[arg(long, default_value_t = 20_000)]
    pub preload: usize,
    /// Distinct pre-built bodies the workers cycle through (0: 256 for put-record, 8 for
    /// put-records).
    #[arg(long, default_value_t = 0)]
    pub bodies: usize,
    /// Client runtime threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Per-request timeout in seconds; a timed-out request counts as an error.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Print one JSON line instead of the text report.
    #[arg(long)]
    pub json: bool,
}

/// The `tributary bench` entry point: runs on its own multi-thread runtime, prints the report.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if args.threads > 0 {
        rt.worker_threads(args.threads);
    }
    let report = rt.enable_all().build()?.block_on(execute(&args))?;
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    Ok(())
}

/// Sets up the stream, runs the workload and returns the report.
pub async fn execute(args: &Args) -> anyhow::Result<Report> {
    if !(1..=500).contains(&args.batch) {
        bail!("--batch must be 1 to 500");
    }
    if args.connections == 0 || args.streams_per_connection == 0 || args.shards == 0 {
        bail!("--connections, --streams-per-connection and --shards must be at least 1");
    }
    let format = match args.format {
        WireFormat::Json => Format::Json,
        WireFormat::Cbor => Format::Cbor,
    };
    let ep = Arc::new(
        Endpoint::new(
            &args.endpoint,
            args.http,
            format,
            args.ca_file.as_deref(),
            args.server_name.as_deref(),
        )
        .await?,
    );
    let secret = if args.sigv4 {
        let s = std::env::var("AWS_SECRET_ACCESS_KEY")
            .context("--sigv4 needs AWS_SECRET_ACCESS_KEY in the environment")?;
        Some(Secret::new(s))
    } else {
        None
    };
    let signer = SignerConfig {
        access_key: args.access_key.clone(),
        secret,
        region: args.region.clone(),
        service: "kinesis".into(),
        host: ep.authority.clone(),
    };
    let mut control = Control::new(ep.clone(), RequestSigner::new(signer.clone())).await?;
    let arn = control.ensure_stream(&args.stream, args.shards).await?;
    let shards = control.open_shards(&args.stream).await?;
    if args.workload == Workload::GetRecords && args.preload > 0 {
        eprintln!(
            "preloading {} records of {} B",
            args.preload, args.record_size
        );
        let n = control
            .preload(&args.stream, args.preload, args.record_size)
            .await?;
        eprintln!("preloaded {n} records");
    }
    let nbodies = |default: usize| {
        if args.bodies > 0 {
            args.bodies
        } else {
            default
        }
    };
    let kind = match args.workload {
        Workload::PutRecord => Kind::PutRecord {
            bodies: Arc::new(wire::put_record_bodies(
                format,
                &args.stream,
                args.record_size,
                nbodies(256),
            )),
        },
        Workload::PutRecords | Workload::Subscribe => Kind::PutRecords {
            bodies: Arc::new(wire::put_records_bodies(
                format,
                &args.stream,
                args.record_size,
                args.batch,
                nbodies(8),
            )),
            batch: args.batch as u64,
        },
        Workload::GetRecords => Kind::GetRecords {
            stream: args.stream.clone(),
            shards: shards.clone(),
            limit: args.get_limit,
        },
    };
    let consumer = if args.workload == Workload::Subscribe {
        let c = control.ensure_consumer(&arn, "tributary-bench").await;
        Some(c.map_err(subscribe::explain)?)
    } else {
        None
    };

    // Connections are opened before the clock starts: set-up is not part of the measurement.
    let mut senders = Vec::new();
    for _ in 0..args.connections {
        let s = ep.connect().await?;
        if args.http == HttpVersion::H2 {
            for _ in 1..args.streams_per_connection {
                senders.extend(s.another_stream());
            }
        }
        senders.push(s);
    }
    let workers = senders.len();
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let measure_from = start + Duration::from_secs_f64(args.warmup.max(0.0));
    let end = measure_from + Duration::from_secs_f64(args.duration.max(0.001));
    let plan = Arc::new(Plan {
        ep: ep.clone(),
        signer,
        kind,
        start,
        measure_from,
        end,
        interval: (args.rate > 0.0).then(|| Duration::from_secs_f64(workers as f64 / args.rate)),
        workers,
        timeout: Duration::from_secs_f64(args.timeout.max(0.001)),
    });
    let subscribers: Vec<_> = consumer
        .iter()
        .flat_map(|c| shards.iter().map(move |s| (c.clone(), s.clone())))
        .map(|(c, s)| tokio::spawn(subscribe::run_subscriber(plan.clone(), c, s)))
        .collect();
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, s)| tokio::spawn(workload::run_worker(plan.clone(), i, s)))
        .collect();
    let mut total = Stats::default();
    for t in tasks {
        total.merge(&t.await?);
    }
    if !subscribers.is_empty() {
        // The report is about delivery; the writers' requests become auxiliary ones.
        let mut delivered = Stats::default();
        for t in subscribers {
            delivered.merge(&t.await??);
        }
        delivered.aux_requests += total.requests;
        for (code, n) in &total.errors {
            *delivered
                .errors
                .entry(format!("writer {code}"))
                .or_default() += n;
        }
        total = delivered;
    }
    let info = RunInfo {
        workload: args
            .workload
            .to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string()),
        endpoint: args.endpoint.clone(),
        stream: args.stream.clone(),
        format: format!("{:?}", args.format).to_lowercase(),
        http: format!("{:?}", args.http).to_lowercase(),
        tls: args.endpoint.starts_with("https"),
        sigv4: args.sigv4,
        shards: shards.len(),
        connections: args.connections,
        workers,
        batch: if args.workload == Workload::PutRecords {
            args.batch
        } else {
            1
        },
        record_size: args.record_size,
        rate: args.rate,
    };
    Ok(total.report(info, end - measure_from))
}
