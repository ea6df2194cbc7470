//! `tributary`: the server binary.
//!
//! - `serve`: run the Kinesis API on the embedded durable storage or a NATS JetStream cluster
//!   (see `config` for every setting, `nats` for the cluster's, `nats_checks` for the production
//!   checks at start, `serve` for start-up and shutdown).
//! - `cert`: a local CA and a server certificate for TLS.
//! - `bench`: the load generator of `tributary-bench`.

mod cert;
mod config;
mod keys;
mod limits;
mod nats;
mod nats_checks;
mod serve;

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
    /// Serve the Kinesis API (HTTP/1.1 and h2c on one port) on the embedded storage or a NATS
    /// JetStream cluster (`--storage nats://…`).
    Serve(Box<config::ServeArgs>),
    /// Create a local CA and a server certificate signed by it (for `serve --tls-cert`).
    Cert(cert::CertArgs),
    /// Load a Kinesis endpoint (this server or any other) and report throughput and latency.
    Bench(tributary_bench::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let settings = config::Settings::resolve(*args)?;
            serve::run(settings)
        }
        Command::Cert(args) => cert::run(args),
        Command::Bench(args) => tributary_bench::run(args),
    }
}
