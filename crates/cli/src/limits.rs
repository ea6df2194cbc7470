//! The `limits` setting (throughput limits) and the `faults` setting (fault injection for
//! testing clients): their flags, their config-file keys, and how they resolve into the
//! engine's [`ThroughputLimits`] and [`FaultPlan`]. See docs/limits.md.

use std::collections::HashMap;

use anyhow::{bail, Context};
use clap::Args;
use serde::Deserialize;
use tributary_engine::{FaultPlan, FaultRule, ShardRates, ThroughputLimits};
use tributary_model::Operation;

#[derive(Args, Debug, Default)]
pub struct LimitsArgs {
    /// Throughput limits: `off` (none: a shard takes what the machine can) or `aws` (AWS's
    /// per-shard rates, 1 MiB/s and 1,000 records/s of writes, 2 MiB/s and 5 GetRecords/s,
    /// ...; to test producers' back-off). Custom numbers go in the config file's `[limits]`
    /// table [default: off].
    #[arg(long, env = "TRIBUTARY_LIMITS")]
    pub limits: Option<String>,
    /// Injected faults, comma separated: `seed=N` and `OPERATION:KEY=VALUE` with KEY one of
    /// throttle_probability, throttle_every, internal_probability, internal_every; e.g.
    /// `seed=7,PutRecords:throttle_probability=0.1,GetRecords:internal_every=5`. Adds to
    /// the config file's `[faults]` [default: none].
    #[arg(long, env = "TRIBUTARY_FAULTS")]
    pub faults: Option<String>,
}

/// `limits = "off" | "aws"`, or a `[limits]` table of custom per-shard numbers (keys left
/// out keep AWS's number).
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub enum LimitsKey {
    Named(String),
    Custom(CustomRates),
}

/// The `[limits]` table.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct CustomRates {
    write_bytes_per_sec: Option<u64>,
    write_records_per_sec: Option<u64>,
    read_bytes_per_sec: Option<u64>,
    read_calls_per_sec: Option<u64>,
    iterator_calls_per_sec: Option<u64>,
    subscribe_bytes_per_sec: Option<u64>,
}

/// The `[faults]` table: `seed`, and one sub-table per operation (`[faults.PutRecords]`).
#[derive(Deserialize, Debug, Default)]
pub struct FaultsKey {
    seed: Option<u64>,
    #[serde(flatten)]
    operations: HashMap<String, FaultRule>,
}

/// The throughput limits from the flag over the file.
pub fn resolve_limits(
    flag: Option<&str>,
    file: Option<LimitsKey>,
) -> anyhow::Result<ThroughputLimits> {
    let named = |s: &str| match s {
        "off" => Ok(ThroughputLimits::Off),
        "aws" => Ok(ThroughputLimits::Aws),
        other => bail!(
            "limits must be `off` or `aws` (custom numbers go in a [limits] table), not {other:?}"
        ),
    };
    match (flag, file) {
        (Some(s), _) => named(s),
        (None, Some(LimitsKey::Named(s))) => named(&s),
        (None, Some(LimitsKey::Custom(c))) => {
            let aws = ShardRates::AWS;
            Ok(ThroughputLimits::Custom(ShardRates {
                write_bytes_per_sec: c.write_bytes_per_sec.unwrap_or(aws.write_bytes_per_sec),
                write_records_per_sec: c.write_records_per_sec.unwrap_or(aws.write_records_per_sec),
                read_bytes_per_sec: c.read_bytes_per_sec.unwrap_or(aws.read_bytes_per_sec),
                read_calls_per_sec: c.read_calls_per_sec.unwrap_or(aws.read_calls_per_sec),
                iterator_calls_per_sec: c
                    .iterator_calls_per_sec
                    .unwrap_or(aws.iterator_calls_per_sec),
                subscribe_bytes_per_sec: c
                    .subscribe_bytes_per_sec
                    .unwrap_or(aws.subscribe_bytes_per_sec),
            }))
        }
        (None, None) => Ok(ThroughputLimits::Off),
    }
}

/// The fault plan: the file's, with the flag's items over it.
pub fn resolve_faults(flag: Option<&str>, file: Option<FaultsKey>) -> anyhow::Result<FaultPlan> {
    let file = file.unwrap_or_default();
    let mut plan = FaultPlan {
        seed: file.seed.unwrap_or(0),
        operations: file.operations,
    };
    for item in flag.into_iter().flat_map(|s| s.split(',')).map(str::trim) {
        if item.is_empty() {
            continue;
        }
        if let Some(seed) = item.strip_prefix("seed=") {
            plan.seed = seed.parse().context("faults: seed")?;
            continue;
        }
        let Some((op, setting)) = item.split_once(':') else {
            bail!("faults: {item:?} is not OPERATION:KEY=VALUE");
        };
        let Some((key, value)) = setting.split_once('=') else {
            bail!("faults: {item:?} is not OPERATION:KEY=VALUE");
        };
        let rule = plan.operations.entry(op.to_owned()).or_default();
        let bad = || format!("faults: bad value in {item:?}");
        match key {
            "throttle_probability" => {
                rule.throttle_probability = value.parse().with_context(bad)?
            }
            "throttle_every" => rule.throttle_every = value.parse().with_context(bad)?,
            "internal_probability" => {
                rule.internal_probability = value.parse().with_context(bad)?
            }
            "internal_every" => rule.internal_every = value.parse().with_context(bad)?,
            other => bail!("faults: unknown key {other:?} in {item:?}"),
        }
    }
    for (op, rule) in &plan.operations {
        if Operation::from_name(op).is_none() {
            bail!("faults: {op:?} is not an operation of the Kinesis API");
        }
        for p in [rule.throttle_probability, rule.internal_probability] {
            if !(0.0..=1.0).contains(&p) {
                bail!("faults: {op}: a probability is between 0 and 1, not {p}");
            }
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        limits: Option<LimitsKey>,
        faults: Option<FaultsKey>,
    }

    #[test]
    fn limits_from_flag_file_and_default() {
        assert_eq!(resolve_limits(None, None).unwrap(), ThroughputLimits::Off);
        assert_eq!(
            resolve_limits(Some("aws"), None).unwrap(),
            ThroughputLimits::Aws
        );
        assert!(resolve_limits(Some("fast"), None).is_err());
        let f: File = toml::from_str("limits = \"aws\"").unwrap();
        assert_eq!(
            resolve_limits(None, f.limits).unwrap(),
            ThroughputLimits::Aws
        );
        let f: File =
            toml::from_str("[limits]\nwrite_records_per_sec = 10\nread_calls_per_sec = 0\n")
                .unwrap();
        let ThroughputLimits::Custom(r) = resolve_limits(None, f.limits).unwrap() else {
            panic!("custom numbers expected");
        };
        assert_eq!(r.write_records_per_sec, 10);
        assert_eq!(r.read_calls_per_sec, 0);
        assert_eq!(r.write_bytes_per_sec, ShardRates::AWS.write_bytes_per_sec);
        // The flag wins over the file.
        let f: File = toml::from_str("limits = \"aws\"").unwrap();
        assert_eq!(
            resolve_limits(Some("off"), f.limits).unwrap(),
            ThroughputLimits::Off
        );
        assert!(toml::from_str::<File>("[limits]\nwrite_mb = 1\n")
            .map_err(anyhow::Error::from)
            .and_then(|f| resolve_limits(None, f.limits))
            .is_err());
    }

    #[test]
    fn the_reference_files_commented_tables_are_real() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tributary.example.toml"
        ))
        .unwrap();
        let tail = &text[text.find("# [limits]").expect("a [limits] example")..];
        let lines: Vec<&str> = tail
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.starts_with('[') || l.contains(" = "))
            .collect();
        let f: File = toml::from_str(&lines.join("\n")).unwrap();
        assert_eq!(
            resolve_limits(None, f.limits).unwrap(),
            ThroughputLimits::Custom(ShardRates::AWS)
        );
        let plan = resolve_faults(None, f.faults).unwrap();
        assert_eq!((plan.seed, plan.operations.len()), (42, 2));
    }

    #[test]
    fn faults_from_file_and_flag() {
        let f: File = toml::from_str(
            "[faults]\nseed = 3\n[faults.PutRecords]\nthrottle_probability = 0.25\n",
        )
        .unwrap();
        let plan = resolve_faults(Some("GetRecords:internal_every=4"), f.faults).unwrap();
        assert_eq!(plan.seed, 3);
        assert_eq!(plan.operations["PutRecords"].throttle_probability, 0.25);
        assert_eq!(plan.operations["GetRecords"].internal_every, 4);
        assert!(resolve_faults(Some("PutRecordz:throttle_every=1"), None).is_err());
        assert!(resolve_faults(Some("PutRecord:throttle_probability=2"), None).is_err());
        assert!(resolve_faults(Some("PutRecord:sometimes=1"), None).is_err());
        assert_eq!(resolve_faults(Some("seed=9"), None).unwrap().seed, 9);
    }
}
