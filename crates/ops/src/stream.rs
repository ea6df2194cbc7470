//! `tributary stream …`: create, delete, describe, list, exists, wait-active, retention,
//! monitoring and reshard. Commands that change something print nothing on success (as the
//! AWS CLI); `describe` shows the result.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::{MetricsName, StreamMode, StreamModeDetails, StreamStatus};
use aws_sdk_kinesis::Client;
use clap::Subcommand;
use serde_json::json;

use crate::api::{is_open, list_shards, parse_duration, wait_active};
use crate::conn::{Conn, Output};
use crate::output::{aws, fields, print, print_json, table, with_progress};

#[derive(Debug, Clone, Subcommand)]
pub enum StreamCommand {
    /// Create a stream (provisioned with --shards, or --on-demand).
    Create {
        name: String,
        /// Number of shards of a provisioned stream.
        #[arg(long, default_value_t = 1, conflicts_with = "on_demand")]
        shards: i32,
        /// Create an on-demand stream instead.
        #[arg(long)]
        on_demand: bool,
        /// Return only once the stream is ACTIVE.
        #[arg(long)]
        wait: bool,
        /// How long --wait waits (90, 90s, 5m, 1h).
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Delete a stream.
    Delete {
        name: String,
        /// Deregister its enhanced fan-out consumers too (otherwise a stream with consumers
        /// is not deleted).
        #[arg(long)]
        enforce_consumer_deletion: bool,
    },
    /// Show a stream's summary and its shards.
    Describe { name: String },
    /// List the streams.
    List,
    /// Exit 0 when the stream exists, 1 when it does not (silently, unless --output json).
    Exists { name: String },
    /// Wait until the stream is ACTIVE (exit 1 after --timeout).
    WaitActive {
        name: String,
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Change the retention period.
    #[command(subcommand)]
    Retention(Retention),
    /// Enable or disable shard-level (enhanced) monitoring.
    #[command(subcommand)]
    Monitoring(Monitoring),
    /// Plan the splits and merges that reach N shards with a balanced hash-key space; print
    /// the plan, and run it (one step at a time, waiting for ACTIVE) only with --force.
    Reshard {
        name: String,
        shards: u32,
        /// Run the plan; without it nothing changes.
        #[arg(long)]
        force: bool,
        /// How long to wait for ACTIVE before and after each step.
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        timeout: Duration,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum Retention {
    /// IncreaseStreamRetentionPeriod to HOURS.
    Increase { name: String, hours: i32 },
    /// DecreaseStreamRetentionPeriod to HOURS.
    Decrease { name: String, hours: i32 },
}

#[derive(Debug, Clone, Subcommand)]
pub enum Monitoring {
    /// EnableEnhancedMonitoring for the given metrics (default: ALL).
    Enable {
        name: String,
        /// IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords,
        /// WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded,
        /// IteratorAgeMilliseconds or ALL.
        #[arg(long, value_delimiter = ',', default_value = "ALL")]
        metrics: Vec<String>,
    },
    /// DisableEnhancedMonitoring for the given metrics (default: ALL).
    Disable {
        name: String,
        #[arg(long, value_delimiter = ',', default_value = "ALL")]
        metrics: Vec<String>,
    },
}

pub async fn run(conn: &Conn, cmd: StreamCommand) -> Result<ExitCode> {
    let c = conn.client().await?;
    let out = conn.output;
    match cmd {
        StreamCommand::Create {
            name,
            shards,
            on_demand,
            wait,
            timeout,
        } => {
            let req = c.create_stream().stream_name(&name);
            let req = if on_demand {
                req.stream_mode_details(
                    StreamModeDetails::builder()
                        .stream_mode(StreamMode::OnDemand)
                        .build()?,
                )
            } else {
                req.shard_count(shards)
            };
            req.send().await.map_err(aws)?;
            if wait {
                with_progress(async |p| wait_active(&c, &name, timeout, p).await).await?;
            }
        }
        StreamCommand::Delete {
            name,
            enforce_consumer_deletion,
        } => {
            c.delete_stream()
                .stream_name(&name)
                .enforce_consumer_deletion(enforce_consumer_deletion)
                .send()
                .await
                .map_err(aws)?;
        }
        StreamCommand::Describe { name } => describe(&c, &name, out).await?,
        StreamCommand::List => list(&c, out).await?,
        StreamCommand::Exists { name } => return exists(&c, &name, out).await,
        StreamCommand::WaitActive { name, timeout } => {
            with_progress(async |p| wait_active(&c, &name, timeout, p).await).await?;
        }
        StreamCommand::Retention(r) => retention(&c, r).await?,
        StreamCommand::Monitoring(m) => monitoring(&c, m).await?,
        StreamCommand::Reshard {
            name,
            shards,
            force,
            timeout,
        } => crate::reshard::run(&c, &name, shards, force, timeout, out).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn describe(c: &Client, name: &str, out: Output) -> Result<()> {
    let r = c
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await
        .map_err(aws)?;
    let Some(d) = r.stream_description_summary() else {
        bail!("DescribeStreamSummary returned no description");
    };
    // Kinesis refuses ListShards while a stream is CREATING; it has no shards to show yet.
    let shards = if *d.stream_status() == StreamStatus::Creating {
        Vec::new()
    } else {
        list_shards(c, name).await?
    };
    let metrics: Vec<String> = d
        .enhanced_monitoring()
        .iter()
        .flat_map(|m| m.shard_level_metrics())
        .map(|m| m.as_str().to_string())
        .collect();
    let mode = mode_of(d.stream_mode_details());
    let encryption = d.encryption_type().map_or("NONE", |e| e.as_str());
    let created = d.stream_creation_timestamp().to_string();
    if out == Output::Json {
        let shards: Vec<_> = shards
            .iter()
            .map(|s| {
                let h = s.hash_key_range();
                let q = s.sequence_number_range();
                json!({
                    "ShardId": s.shard_id(),
                    "ParentShardId": s.parent_shard_id(),
                    "AdjacentParentShardId": s.adjacent_parent_shard_id(),
                    "StartingHashKey": h.map(|h| h.starting_hash_key()),
                    "EndingHashKey": h.map(|h| h.ending_hash_key()),
                    "StartingSequenceNumber": q.map(|q| q.starting_sequence_number()),
                    "EndingSequenceNumber": q.and_then(|q| q.ending_sequence_number()),
                })
            })
            .collect();
        print_json(&json!({
            "StreamName": d.stream_name(),
            "StreamARN": d.stream_arn(),
            "StreamStatus": d.stream_status().as_str(),
            "StreamMode": mode,
            "RetentionPeriodHours": d.retention_period_hours(),
            "OpenShardCount": d.open_shard_count(),
            "ConsumerCount": d.consumer_count(),
            "EncryptionType": encryption,
            "KeyId": d.key_id(),
            "ShardLevelMetrics": metrics,
            "StreamCreationTimestamp": created,
            "Shards": shards,
        }))?;
        return Ok(());
    }
    let mut text = fields(&[
        ("Stream", d.stream_name().to_string()),
        ("ARN", d.stream_arn().to_string()),
        ("Status", d.stream_status().as_str().to_string()),
        ("Mode", mode.to_string()),
        ("Retention (hours)", d.retention_period_hours().to_string()),
        ("Open shards", d.open_shard_count().to_string()),
        ("Encryption", encryption.to_string()),
        ("Shard-level metrics", metrics.join(",")),
        ("Created", created),
    ]);
    text.push('\n');
    let rows: Vec<Vec<String>> = shards
        .iter()
        .map(|s| {
            let h = s.hash_key_range();
            vec![
                s.shard_id().to_string(),
                if is_open(s) { "OPEN" } else { "CLOSED" }.to_string(),
                s.parent_shard_id().unwrap_or("-").to_string(),
                s.adjacent_parent_shard_id().unwrap_or("-").to_string(),
                h.map_or("", |h| h.starting_hash_key()).to_string(),
                h.map_or("", |h| h.ending_hash_key()).to_string(),
            ]
        })
        .collect();
    text.push_str(&table(
        &[
            "SHARD",
            "STATE",
            "PARENT",
            "ADJACENT",
            "FROM HASH KEY",
            "TO HASH KEY",
        ],
        &rows,
    ));
    print(&text)?;
    Ok(())
}

async fn list(c: &Client, out: Output) -> Result<()> {
    let mut rows = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_streams()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(aws)?;
        for s in r.stream_summaries() {
            rows.push((
                s.stream_name().to_string(),
                s.stream_arn().to_string(),
                s.stream_status().as_str().to_string(),
                mode_of(s.stream_mode_details()).to_string(),
            ));
        }
        // Older servers page with HasMoreStreams only; they have no NextToken to follow.
        match r.next_token() {
            Some(t) if r.has_more_streams() => token = Some(t.to_string()),
            _ => break,
        }
    }
    if out == Output::Json {
        let v: Vec<_> = rows
            .iter()
            .map(|(n, a, s, m)| {
                json!({"StreamName": n, "StreamARN": a, "StreamStatus": s, "StreamMode": m})
            })
            .collect();
        print_json(&json!({ "Streams": v }))?;
    } else {
        let rows: Vec<Vec<String>> = rows.into_iter().map(|(n, _, s, m)| vec![n, s, m]).collect();
        print(&table(&["STREAM", "STATUS", "MODE"], &rows))?;
    }
    Ok(())
}

async fn exists(c: &Client, name: &str, out: Output) -> Result<ExitCode> {
    let found = match c.describe_stream_summary().stream_name(name).send().await {
        Ok(_) => true,
        Err(e) if e.code() == Some("ResourceNotFoundException") => false,
        // Anything else (no connection, no permission) is not an answer: fail loudly,
        // still with 1, so a script never reads "absent" from a silent 1 by mistake.
        Err(e) => return Err(aws(e)),
    };
    if out == Output::Json {
        print_json(&json!({ "StreamName": name, "Exists": found }))?;
    }
    Ok(if found {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn retention(c: &Client, r: Retention) -> Result<()> {
    match r {
        Retention::Increase { name, hours } => {
            c.increase_stream_retention_period()
                .stream_name(name)
                .retention_period_hours(hours)
                .send()
                .await
                .map_err(aws)?;
        }
        Retention::Decrease { name, hours } => {
            c.decrease_stream_retention_period()
                .stream_name(name)
                .retention_period_hours(hours)
                .send()
                .await
                .map_err(aws)?;
        }
    }
    Ok(())
}

async fn monitoring(c: &Client, m: Monitoring) -> Result<()> {
    let metric = |s: &String| MetricsName::from(s.as_str());
    match m {
        Monitoring::Enable { name, metrics } => {
            c.enable_enhanced_monitoring()
                .stream_name(name)
                .set_shard_level_metrics(Some(metrics.iter().map(metric).collect()))
                .send()
                .await
                .map_err(aws)?;
        }
        Monitoring::Disable { name, metrics } => {
            c.disable_enhanced_monitoring()
                .stream_name(name)
                .set_shard_level_metrics(Some(metrics.iter().map(metric).collect()))
                .send()
                .await
                .map_err(aws)?;
        }
    }
    Ok(())
}

/// A stream's capacity mode; servers that predate on-demand streams send none.
fn mode_of(details: Option<&StreamModeDetails>) -> &str {
    details.map_or("PROVISIONED", |m| m.stream_mode().as_str())
}
