//! `tributary tail STREAM`: follows every shard of a stream and writes its records to stdout,
//! one per line, until interrupted (or `--count`, or `--idle-exit`).
//!
//! Shard order across reshards: a shard is read only once all its parents (ParentShardId,
//! AdjacentParentShardId) still listed have been read to their end, so a key's records come
//! out in the order they were written even when a split or merge moved the key. Shards with
//! no relation are read at the same time and their lines interleave.
//!
//! Lines: by default the record's bytes as they are, then `\n` (a record that holds `\n`
//! reads as several lines: use `--base64` or `--output json` for such data); `--base64`: the
//! base64 of the bytes; `--output json`: one JSON object per line with the shard, sequence
//! number, partition key, arrival time and base64 data.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::Duration;

use anyhow::{anyhow, Result};
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::{DateTime, DateTimeFormat};
use aws_sdk_kinesis::types::{Record, Shard, ShardIteratorType};
use aws_sdk_kinesis::Client;
use base64::Engine;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::api::{is_open, try_list_shards};
use crate::conn::{Conn, Output};
use crate::output::aws;

/// Follow a stream's records.
#[derive(Debug, Clone, clap::Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The stream's name.
    pub stream: String,
    /// Where to start: trim-horizon (the oldest record kept), latest (only new records), or a
    /// time (RFC 3339 like 2026-12-03T10:00:00Z, or seconds since the epoch).
    #[arg(long, default_value = "latest", value_parser = parse_from)]
    pub from: From,
    /// Write each record as the base64 of its bytes (for data that holds newlines).
    #[arg(long)]
    pub base64: bool,
    /// Exit after this many records.
    #[arg(long)]
    pub count: Option<u64>,
    /// Exit once no record has come for this long (90, 90s, 5m).
    #[arg(long, value_parser = crate::api::parse_duration)]
    pub idle_exit: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum From {
    TrimHorizon,
    Latest,
    At(DateTime),
}

fn parse_from(s: &str) -> Result<From, String> {
    match s {
        "trim-horizon" => Ok(From::TrimHorizon),
        "latest" => Ok(From::Latest),
        _ => DateTime::from_str(s, DateTimeFormat::DateTime)
            .ok()
            .or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(DateTime::from_secs_f64)
            })
            .map(From::At)
            .ok_or_else(|| {
                format!("{s:?} is not trim-horizon, latest, an RFC 3339 time or epoch seconds")
            }),
    }
}

enum Event {
    Records(String, Vec<Record>),
    Finished(String),
    Failed(anyhow::Error),
}

pub async fn run(args: TailArgs) -> Result<()> {
    let c = args.conn.client().await?;
    let (tx, mut rx) = mpsc::channel::<Event>(64);
    let mut sched = Scheduler::new(&c, &args.stream, args.from, tx).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut written = 0u64;
    if args.count == Some(0) {
        return Ok(());
    }
    let mut idle_deadline = args.idle_exit.map(|d| Instant::now() + d);
    let mut relist = tokio::time::interval(Duration::from_secs(10));
    loop {
        let idle = async {
            match idle_deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ev = rx.recv() => match ev.expect("the scheduler keeps a sender") {
                Event::Records(shard, records) => {
                    for r in &records {
                        write_record(&mut out, &shard, r, &args)?;
                        written += 1;
                        if Some(written) == args.count {
                            out.flush()?;
                            return Ok(());
                        }
                    }
                    out.flush()?;
                    if !records.is_empty() {
                        idle_deadline = args.idle_exit.map(|d| Instant::now() + d);
                    }
                }
                Event::Finished(shard) => {
                    sched.finished.insert(shard);
                    sched.refresh().await?;
                }
                Event::Failed(e) => return Err(e),
            },
            _ = relist.tick() => sched.refresh().await?,
            _ = idle => return Ok(()),
        }
    }
}

fn write_record(out: &mut impl Write, shard: &str, r: &Record, args: &TailArgs) -> Result<()> {
    let b64 = || base64::engine::general_purpose::STANDARD.encode(r.data().as_ref());
    if args.conn.output == Output::Json {
        let v = json!({
            "ShardId": shard,
            "SequenceNumber": r.sequence_number(),
            "PartitionKey": r.partition_key(),
            "ApproximateArrivalTimestamp": r
                .approximate_arrival_timestamp()
                .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
            "Data": b64(),
        });
        writeln!(out, "{v}")?;
    } else if args.base64 {
        writeln!(out, "{}", b64())?;
    } else {
        out.write_all(r.data().as_ref())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Which shards to read, and from where: starts each shard's reader once its parents are
/// done.
struct Scheduler {
    c: Client,
    stream: String,
    from: From,
    tx: mpsc::Sender<Event>,
    /// Every shard seen, with its parents.
    parents: HashMap<String, Vec<String>>,
    /// The shards listed when tail started: --from applies to them; a shard made later is
    /// read from its beginning, all of it being newer than the start.
    initial: HashSet<String>,
    started: HashSet<String>,
    finished: HashSet<String>,
}

impl Scheduler {
    async fn new(c: &Client, stream: &str, from: From, tx: mpsc::Sender<Event>) -> Result<Self> {
        let mut s = Scheduler {
            c: c.clone(),
            stream: stream.to_string(),
            from,
            tx,
            parents: HashMap::new(),
            initial: HashSet::new(),
            started: HashSet::new(),
            finished: HashSet::new(),
        };
        let shards = list_shards_patiently(c, stream).await?;
        for sh in &shards {
            s.initial.insert(sh.shard_id().to_string());
            // From LATEST, a shard closed before we started holds nothing new.
            if from == From::Latest && !is_open(sh) {
                s.started.insert(sh.shard_id().to_string());
                s.finished.insert(sh.shard_id().to_string());
            }
        }
        s.admit(&shards);
        Ok(s)
    }

    /// Lists the shards again and starts those whose parents are done.
    async fn refresh(&mut self) -> Result<()> {
        let shards = list_shards_patiently(&self.c, &self.stream).await?;
        self.admit(&shards);
        Ok(())
    }

    /// Records the parents of shards not seen before, then starts every shard that is ready.
    fn admit(&mut self, shards: &[Shard]) {
        for sh in shards {
            self.parents
                .entry(sh.shard_id().to_string())
                .or_insert_with(|| parents_of(sh));
        }
        for sh in shards {
            self.start_if_ready(sh.shard_id());
        }
    }

    fn start_if_ready(&mut self, id: &str) {
        if self.started.contains(id) {
            return;
        }
        let ready = self.parents[id]
            .iter()
            .all(|p| self.finished.contains(p) || !self.parents.contains_key(p));
        if !ready {
            return;
        }
        self.started.insert(id.to_string());
        let start = match (self.initial.contains(id), self.from) {
            (true, From::Latest) => Start::Latest,
            (true, From::At(t)) => Start::At(t),
            _ => Start::TrimHorizon,
        };
        let (c, stream, id, tx) = (
            self.c.clone(),
            self.stream.clone(),
            id.to_string(),
            self.tx.clone(),
        );
        tokio::spawn(async move {
            if let Err(e) = read_shard(&c, &stream, &id, start, &tx).await {
                let _ = tx.send(Event::Failed(e)).await;
            }
        });
    }
}

fn parents_of(s: &Shard) -> Vec<String> {
    s.parent_shard_id()
        .into_iter()
        .chain(s.adjacent_parent_shard_id())
        .map(str::to_string)
        .collect()
}

#[derive(Clone, Copy)]
enum Start {
    TrimHorizon,
    Latest,
    At(DateTime),
}

/// ListShards for a follower: like GetRecords' (below), its throttles and transient failures
/// that outlast the SDK's retries are waited out, since a follower runs for days and lists
/// the shards again every ten seconds and at every shard's end.
async fn list_shards_patiently(c: &Client, stream: &str) -> Result<Vec<Shard>> {
    let mut backoff = BACKOFF_MIN;
    loop {
        match try_list_shards(c, stream).await {
            Ok(shards) => return Ok(shards),
            // ListShards' throttle is LimitExceededException (API reference, ListShards).
            Err(e)
                if e.code()
                    .is_some_and(|c| c == "LimitExceededException" || TRANSIENT.contains(&c)) =>
            {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
            Err(e) => return Err(aws(e)),
        }
    }
}

/// GetRecords errors a reader waits out, retrying the same iterator.
const TRANSIENT: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "InternalFailure",
    "InternalFailureException",
    "ServiceUnavailable",
    "KMSThrottlingException",
];
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Reads one shard to its end (closed) or forever (open), sending its records in order.
async fn read_shard(
    c: &Client,
    stream: &str,
    shard: &str,
    start: Start,
    tx: &mpsc::Sender<Event>,
) -> Result<()> {
    let mut last_seq: Option<String> = None;
    let mut it = Some(iterator(c, stream, shard, start, None).await?);
    let mut backoff = BACKOFF_MIN;
    while let Some(i) = it.take() {
        let r = match c
            .get_records()
            .shard_iterator(&i)
            .limit(10_000)
            .send()
            .await
        {
            Ok(r) => r,
            // Iterators live five minutes; pick up after the last record sent.
            Err(e) if e.code() == Some("ExpiredIteratorException") => {
                it = Some(iterator(c, stream, shard, start, last_seq.as_deref()).await?);
                continue;
            }
            // A follower lives for days: throttles and transient failures that outlast the
            // SDK's own retries (and its retry quota) are waited out, not fatal.
            Err(e) if e.code().is_some_and(|c| TRANSIENT.contains(&c)) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                it = Some(i);
                continue;
            }
            Err(e) => return Err(aws(e)),
        };
        backoff = BACKOFF_MIN;
        let records = r.records().to_vec();
        let caught_up = records.is_empty() || r.millis_behind_latest() == Some(0);
        if let Some(l) = records.last() {
            last_seq = Some(l.sequence_number().to_string());
        }
        if !records.is_empty()
            && tx
                .send(Event::Records(shard.into(), records))
                .await
                .is_err()
        {
            return Ok(());
        }
        it = r.next_shard_iterator().map(str::to_string);
        // Kinesis allows five reads a second per shard; an idle shard is polled gently.
        if it.is_some() && caught_up {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let _ = tx.send(Event::Finished(shard.into())).await;
    Ok(())
}

async fn iterator(
    c: &Client,
    stream: &str,
    shard: &str,
    start: Start,
    after: Option<&str>,
) -> Result<String> {
    let req = c.get_shard_iterator().stream_name(stream).shard_id(shard);
    let req = match (after, start) {
        (Some(seq), _) => req
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .starting_sequence_number(seq),
        (None, Start::TrimHorizon) => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
        (None, Start::Latest) => req.shard_iterator_type(ShardIteratorType::Latest),
        (None, Start::At(t)) => req
            .shard_iterator_type(ShardIteratorType::AtTimestamp)
            .timestamp(t),
    };
    let r = req.send().await.map_err(aws)?;
    r.shard_iterator()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("GetShardIterator returned no iterator for {shard}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_accepts_names_rfc3339_and_epoch_seconds() {
        assert_eq!(parse_from("trim-horizon"), Ok(From::TrimHorizon));
        assert_eq!(parse_from("latest"), Ok(From::Latest));
        assert_eq!(
            parse_from("2026-12-03T10:00:00Z"),
            Ok(From::At(DateTime::from_secs(1_796_292_000)))
        );
        assert_eq!(
            parse_from("1796292000.5"),
            Ok(From::At(DateTime::from_secs_f64(1_796_292_000.5)))
        );
        assert!(parse_from("yesterday").is_err());
    }
}
