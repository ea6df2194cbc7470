//! The load generator without the `tributary` binary: `cargo run --release -p tributary-bench
//! --example bench -- --help`. `tributary bench` is the same [`tributary_bench::Args`].

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "bench",
    about = "Load a Kinesis endpoint and report throughput and latency"
)]
struct Cli {
    #[command(flatten)]
    args: tributary_bench::Args,
}

fn main() -> anyhow::Result<()> {
    tributary_bench::run(Cli::parse().args)
}
