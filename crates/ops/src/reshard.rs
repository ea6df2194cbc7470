//! `tributary stream reshard NAME N [--force]`: prints the planner's steps, and with --force
//! runs them one at a time, waiting for ACTIVE before each (Kinesis refuses a reshard while
//! the stream is UPDATING).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{anyhow, Result};
use aws_sdk_kinesis::Client;
use serde_json::json;

use crate::api::{is_open, list_shards, range_of, wait_active};
use crate::conn::Output;
use crate::output::{aws, print, print_json, table, with_progress, Progress};
use crate::plan::{plan, Range, Step};

pub async fn run(
    c: &Client,
    name: &str,
    n: u32,
    force: bool,
    timeout: Duration,
    out: Output,
) -> Result<()> {
    let open = open_shards(c, name).await?;
    let ranges: Vec<Range> = open.iter().map(|(r, _)| *r).collect();
    let steps = plan(&ranges, n)?;
    let ids: HashMap<u128, String> = open.into_iter().map(|(r, id)| (r.start, id)).collect();
    show(name, ranges.len(), n, &steps, ids, force, out)?;
    if !force {
        return Ok(());
    }
    with_progress(async |p| execute(c, name, &steps, timeout, p).await).await
}

/// The open shards as (range, id).
async fn open_shards(c: &Client, name: &str) -> Result<Vec<(Range, String)>> {
    list_shards(c, name)
        .await?
        .iter()
        .filter(|s| is_open(s))
        .map(|s| Ok((range_of(s)?, s.shard_id().to_string())))
        .collect()
}

async fn execute(
    c: &Client,
    name: &str,
    steps: &[Step],
    timeout: Duration,
    p: &Progress,
) -> Result<()> {
    for (i, step) in steps.iter().enumerate() {
        wait_active(c, name, timeout, p).await?;
        p.show(&format!("step {}/{}: {step}", i + 1, steps.len()));
        // Ids of shards made by earlier steps are known only now: look them up by range.
        let open = open_shards(c, name).await?;
        let id = |start: u128| {
            open.iter()
                .find(|(r, _)| r.start == start)
                .map(|(_, id)| id.clone())
                .ok_or_else(|| {
                    anyhow!("step {}: no open shard starts at hash key {start} (changed by someone else?)", i + 1)
                })
        };
        match *step {
            Step::Split { shard, at } => {
                c.split_shard()
                    .stream_name(name)
                    .shard_to_split(id(shard)?)
                    .new_starting_hash_key(at.to_string())
                    .send()
                    .await
                    .map_err(aws)?;
            }
            Step::Merge { left, right } => {
                c.merge_shards()
                    .stream_name(name)
                    .shard_to_merge(id(left)?)
                    .adjacent_shard_to_merge(id(right)?)
                    .send()
                    .await
                    .map_err(aws)?;
            }
        }
    }
    wait_active(c, name, timeout, p).await
}

fn show(
    name: &str,
    from: usize,
    to: u32,
    steps: &[Step],
    mut ids: HashMap<u128, String>,
    force: bool,
    out: Output,
) -> Result<()> {
    // Shards made by the plan have no id yet; name them by their starting hash key. A step
    // closes the shards it names, so their ids are forgotten once it has been shown.
    let mut shard = |start: &u128| {
        ids.remove(start)
            .unwrap_or_else(|| format!("(new, from {start})"))
    };
    if out == Output::Json {
        let v: Vec<_> = steps
            .iter()
            .map(|s| match s {
                Step::Split { shard, at } => json!({
                    "Action": "split",
                    "ShardStartingHashKey": shard.to_string(),
                    "NewStartingHashKey": at.to_string(),
                }),
                Step::Merge { left, right } => json!({
                    "Action": "merge",
                    "ShardStartingHashKey": left.to_string(),
                    "AdjacentShardStartingHashKey": right.to_string(),
                }),
            })
            .collect();
        print_json(&json!({
            "StreamName": name,
            "OpenShards": from,
            "TargetShards": to,
            "Steps": v,
            "Applied": force,
        }))?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Step::Split { shard: s, at } => vec![
                (i + 1).to_string(),
                "split".into(),
                shard(s),
                format!("at {at}"),
            ],
            Step::Merge { left, right } => {
                let l = shard(left);
                vec![
                    (i + 1).to_string(),
                    "merge".into(),
                    l,
                    format!("with {}", shard(right)),
                ]
            }
        })
        .collect();
    let mut text = format!(
        "{name}: {from} open shards to {to}, {} steps\n",
        steps.len()
    );
    if !steps.is_empty() {
        text.push_str(&table(&["STEP", "ACTION", "SHARD", ""], &rows));
    }
    if !force && !steps.is_empty() {
        text.push_str("nothing changed: run again with --force to apply this plan\n");
    }
    print(&text)?;
    Ok(())
}
