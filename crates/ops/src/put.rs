//! `tributary put STREAM`: records from stdin, one per line (or `--whole`: the whole input as
//! one record; `--base64`: each line is the base64 of a record's bytes, for data that holds
//! newlines), sent with PutRecords in batches of at most 500 records and 5 MiB.
//!
//! Order: batches go one at a time, in input order. Entries the server refuses (throttled,
//! internal failure) are sent again, alone and before any later input, until accepted or
//! ten requests in a row get none of them accepted. So records of one partition key keep
//! their input order, except that a refused record lands after the later records of its
//! batch that were accepted.

use std::io::BufRead;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;
use base64::Engine;
use clap::ValueEnum;
use rand::Rng;
use serde_json::json;

use crate::conn::{Conn, Output};
use crate::output::{aws, print_json, Progress};

const MAX_ENTRIES: usize = 500;
const MAX_BYTES: usize = 5 * 1024 * 1024;
/// Refused entries are sent again as long as each request gets some of them accepted (a
/// throttle lets part of a shard's entries through); only this many requests in a row that
/// get none accepted, with backoff up to 5 s between, fail the command.
const FUTILE_ATTEMPTS: u32 = 10;

/// Write records read from stdin.
#[derive(Debug, Clone, clap::Args)]
pub struct PutArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The stream's name.
    pub stream: String,
    /// Send the whole input as one record instead of one record per line.
    #[arg(long, conflicts_with = "base64")]
    pub whole: bool,
    /// Each line is the base64 of one record (for binary data or data with newlines).
    #[arg(long)]
    pub base64: bool,
    /// The same partition key for every record (default: --keys).
    #[arg(long)]
    pub partition_key: Option<String>,
    /// How to make partition keys without --partition-key: random spreads records over the
    /// shards; sequential uses the record's number (0, 1, 2, …) from the start of input.
    #[arg(long, value_enum, default_value = "random")]
    pub keys: Keys,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Keys {
    Random,
    Sequential,
}

pub async fn run(args: PutArgs) -> Result<()> {
    let c = args.conn.client().await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<PutRecordsRequestEntry>>>(2);
    let reader = args.clone();
    // stdin is read on its own thread so the next batch is ready while one is in flight.
    std::thread::spawn(move || {
        let r = read_batches(&reader, std::io::stdin().lock(), |b| {
            tx.blocking_send(Ok(b)).is_ok()
        });
        if let Err(e) = r {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let p = Progress::new();
    let mut sent = 0u64;
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        let n = batch.len() as u64;
        send(&c, &args.stream, batch).await?;
        sent += n;
        p.show(&format!("put {sent} records to {}", args.stream));
    }
    p.done();
    if args.conn.output == Output::Json {
        print_json(&json!({ "StreamName": args.stream, "Records": sent }))?;
    }
    Ok(())
}

/// Reads `input` into batches, handing each to `emit` (false: stop reading).
fn read_batches(
    args: &PutArgs,
    mut input: impl BufRead,
    mut emit: impl FnMut(Vec<PutRecordsRequestEntry>) -> bool,
) -> Result<()> {
    let mut keys = KeyMaker::new(args);
    let mut batch = Vec::new();
    let mut bytes = 0;
    let mut push = |data: Vec<u8>, batch: &mut Vec<_>, bytes: &mut usize| -> Result<bool> {
        let key = keys.next();
        let size = data.len() + key.len();
        if !batch.is_empty() && (batch.len() == MAX_ENTRIES || *bytes + size > MAX_BYTES) {
            if !emit(std::mem::take(batch)) {
                return Ok(false);
            }
            *bytes = 0;
        }
        *bytes += size;
        batch.push(
            PutRecordsRequestEntry::builder()
                .data(Blob::new(data))
                .partition_key(key)
                .build()?,
        );
        Ok(true)
    };
    if args.whole {
        let mut all = Vec::new();
        input.read_to_end(&mut all).context("reading stdin")?;
        push(all, &mut batch, &mut bytes)?;
    } else {
        let mut line = Vec::new();
        let mut number = 0u64;
        loop {
            line.clear();
            if input
                .read_until(b'\n', &mut line)
                .context("reading stdin")?
                == 0
            {
                break;
            }
            number += 1;
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            let data = if args.base64 {
                base64::engine::general_purpose::STANDARD
                    .decode(line.trim_ascii())
                    .with_context(|| format!("line {number} is not base64"))?
            } else {
                line.clone()
            };
            if !push(data, &mut batch, &mut bytes)? {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        emit(batch);
    }
    Ok(())
}

/// Sends one batch, then again only its refused entries, until all are accepted.
async fn send(c: &Client, stream: &str, mut entries: Vec<PutRecordsRequestEntry>) -> Result<()> {
    let first_pause = Duration::from_millis(100);
    let mut pause = first_pause;
    let mut futile = 0;
    loop {
        let r = c
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries.clone()))
            .send()
            .await
            .map_err(aws)?;
        if r.failed_record_count().unwrap_or(0) == 0 {
            return Ok(());
        }
        let results = r.records();
        if results.len() != entries.len() {
            bail!(
                "PutRecords answered {} results for {} records",
                results.len(),
                entries.len()
            );
        }
        let sent = entries.len();
        let mut last = None;
        entries = entries
            .into_iter()
            .zip(results)
            .filter(|(_, res)| res.error_code().is_some())
            .map(|(e, res)| {
                last = Some(format!(
                    "{}: {}",
                    res.error_code().unwrap_or_default(),
                    res.error_message().unwrap_or_default()
                ));
                e
            })
            .collect();
        if entries.len() < sent {
            futile = 0;
            pause = first_pause;
        } else {
            futile += 1;
            if futile == FUTILE_ATTEMPTS {
                return Err(anyhow!(
                    "{} records refused {FUTILE_ATTEMPTS} times in a row; last: {}",
                    entries.len(),
                    last.unwrap_or_default()
                ));
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// Partition keys per --partition-key or --keys.
struct KeyMaker {
    fixed: Option<String>,
    keys: Keys,
    n: u64,
}

impl KeyMaker {
    fn new(args: &PutArgs) -> KeyMaker {
        KeyMaker {
            fixed: args.partition_key.clone(),
            keys: args.keys,
            n: 0,
        }
    }

    fn next(&mut self) -> String {
        let n = self.n;
        self.n += 1;
        match (&self.fixed, self.keys) {
            (Some(k), _) => k.clone(),
            (None, Keys::Sequential) => n.to_string(),
            (None, Keys::Random) => format!("{:016x}", rand::thread_rng().gen::<u64>()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        put: PutArgs,
    }

    fn batches(argv: &[&str], input: &[u8]) -> Vec<Vec<(Vec<u8>, String)>> {
        let args = Cli::parse_from(["put"].iter().chain(argv)).put;
        let mut out = Vec::new();
        read_batches(&args, input, |b| {
            out.push(
                b.into_iter()
                    .map(|e| {
                        (
                            e.data().as_ref().to_vec(),
                            e.partition_key().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            );
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn one_record_per_line_keeping_carriage_returns_and_a_last_unterminated_line() {
        let b = batches(&["s", "--keys", "sequential"], b"a\r\n\nb\n\xffc");
        let got: Vec<_> = b.concat();
        assert_eq!(
            got,
            vec![
                (b"a\r".to_vec(), "0".to_string()),
                (b"".to_vec(), "1".to_string()),
                (b"b".to_vec(), "2".to_string()),
                (b"\xffc".to_vec(), "3".to_string()),
            ]
        );
    }

    #[test]
    fn whole_input_is_one_record_and_base64_lines_decode() {
        let b = batches(&["s", "--whole", "--partition-key", "k"], b"x\ny\n");
        assert_eq!(b, vec![vec![(b"x\ny\n".to_vec(), "k".to_string())]]);
        let b = batches(&["s", "--base64", "--partition-key", "k"], b"eAp5\n\n");
        assert_eq!(b.concat()[0].0, b"x\ny");
        assert_eq!(b.concat()[1].0, b"");
    }

    #[test]
    fn batches_hold_at_most_500_records_and_5_mib() {
        let input = "r\n".repeat(1201);
        let sizes: Vec<usize> = batches(&["s"], input.as_bytes())
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, vec![500, 500, 201]);
        let line = format!("{}\n", "x".repeat(1024 * 1024 - 20));
        let b = batches(&["s", "--partition-key", "k"], line.repeat(11).as_bytes());
        let sizes: Vec<usize> = b.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![5, 5, 1]);
    }
}
