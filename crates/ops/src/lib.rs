//! `tributary stream|put|tail`: what an operator does to Kinesis streams, against any
//! Kinesis-compatible endpoint (Tributary or AWS itself). `crates/cli` only wires these
//! arguments into its clap tree; everything else is here.
//!
//! - [`StreamArgs`], [`PutArgs`], [`TailArgs`] and [`stream`], [`put`], [`tail`]: the command
//!   lines and their entry points, which return the exit code (0 success, 1 failure; clap's
//!   usage errors are 2).
//! - `conn`: endpoint, region, profile and credentials through `aws-config`; `--output`.
//! - `plan`: the reshard planner, a pure function from open hash ranges and N to steps.
//! - `reshard`: printing and running a plan.
//! - `stream`: the `stream` subcommands.
//! - `put` and `tail`: records in from stdin, records out to stdout.
//! - `api`: calls several commands share (ListShards, waiting for ACTIVE).
//! - `output`: tables, JSON, one-line errors, terminal-only progress.

mod api;
mod conn;
mod output;
mod plan;
mod put;
mod reshard;
mod stream;
mod tail;

use std::future::Future;
use std::io::Write;
use std::process::ExitCode;

pub use conn::{Conn, Output};
pub use put::PutArgs;
pub use stream::StreamCommand;
pub use tail::TailArgs;

/// Manage streams.
#[derive(Debug, Clone, clap::Args)]
pub struct StreamArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[command(subcommand)]
    pub command: StreamCommand,
}

pub fn stream(args: StreamArgs) -> ExitCode {
    execute(async move { stream::run(&args.conn, args.command).await })
}

pub fn put(args: PutArgs) -> ExitCode {
    execute(async move { put::run(args).await.map(|()| ExitCode::SUCCESS) })
}

pub fn tail(args: TailArgs) -> ExitCode {
    execute(async move { tail::run(args).await.map(|()| ExitCode::SUCCESS) })
}

/// Runs a command on a small runtime and turns its failure into exit code 1 and one line on
/// stderr. A closed stdout (`tributary tail | head`) is the reader's choice, not a failure.
fn execute(f: impl Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!("cannot start the runtime: {e}")),
    };
    match rt.block_on(f) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &anyhow::Error) -> ExitCode {
    let line = format!("{e:#}").replace('\n', " ");
    let _ = writeln!(std::io::stderr(), "tributary: {line}");
    ExitCode::FAILURE
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
