//! `tributary`: the server binary.
//!
//! - `serve`: run the Kinesis API on the embedded durable storage or a NATS JetStream cluster
//!   (see `config` for every setting, `nats` for the cluster's, `nats_checks` for the production
//!   checks at start, `serve` for start-up and shutdown).
//! - `cert`: a local CA and a server certificate for TLS.
//! - `bench`: the load generator of `tributary-bench`.
//! - `stream`, `put`, `tail`: the operator's commands of `tributary-ops`, against any Kinesis
//!   endpoint.

mod cert;
mod config;
mod keys;
mod limits;
mod nats;
mod nats_checks;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Every request allocates many small buffers that die on another thread (decoded records
/// handed to the storage writer); glibc's malloc spent about a tenth of the server's time
/// on them under load, mimalloc's per-thread free lists far less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tributary",
    version,
    about = "A durable, self-hosted Amazon Kinesis Data Streams API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Kinesis API (HTTP/1.1 and h2c on one port, or TLS with h2 and HTTP/1.1 by
    /// ALPN) on the embedded storage or a NATS JetStream cluster (`--storage nats://…`).
    Serve(Box<config::ServeArgs>),
    /// Create a local CA and a server certificate signed by it (for `serve --tls-cert`).
    Cert(cert::CertArgs),
    /// Load a Kinesis endpoint (this server or any other) and report throughput and latency.
    Bench(tributary_bench::Args),
    /// Manage streams: create, delete, describe, list, exists, wait-active, retention,
    /// monitoring, reshard.
    Stream(tributary_ops::StreamArgs),
    /// Write records from stdin (one per line, or the whole input as one).
    Put(tributary_ops::PutArgs),
    /// Follow every shard of a stream and write its records to stdout.
    Tail(tributary_ops::TailArgs),
}

/// Exit codes: 0 success, 1 failure, 2 usage (clap's own).
fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let settings = config::Settings::resolve(*args)?;
            serve::run(settings)?;
        }
        Command::Cert(args) => cert::run(args)?,
        Command::Bench(args) => tributary_bench::run(args)?,
        Command::Stream(args) => return Ok(tributary_ops::stream(args)),
        Command::Put(args) => return Ok(tributary_ops::put(args)),
        Command::Tail(args) => return Ok(tributary_ops::tail(args)),
    }
    Ok(ExitCode::SUCCESS)
}
