//! Calls several commands share: every shard of a stream, waiting for ACTIVE, and the
//! parsing of durations and hash keys.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::operation::list_shards::ListShardsError;
use aws_sdk_kinesis::types::{Shard, StreamStatus};
use aws_sdk_kinesis::Client;

use crate::output::{aws, Progress};
use crate::plan::Range;

/// Every shard ListShards returns (open and closed), following NextToken.
pub async fn list_shards(c: &Client, stream: &str) -> Result<Vec<Shard>> {
    try_list_shards(c, stream).await.map_err(aws)
}

/// [`list_shards`] with the SDK's error, for callers that decide by its code.
pub async fn try_list_shards(
    c: &Client,
    stream: &str,
) -> Result<Vec<Shard>, SdkError<ListShardsError>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        // With a NextToken, Kinesis refuses the stream name: the token carries it.
        let req = match &token {
            Some(t) => c.list_shards().next_token(t),
            None => c.list_shards().stream_name(stream),
        };
        let r = req.send().await?;
        out.extend(r.shards().iter().cloned());
        match r.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(out),
        }
    }
}

/// True when the shard is still open (no ending sequence number).
pub fn is_open(s: &Shard) -> bool {
    s.sequence_number_range()
        .is_none_or(|r| r.ending_sequence_number().is_none())
}

/// A shard's hash-key range as numbers.
pub fn range_of(s: &Shard) -> Result<Range> {
    let r = s
        .hash_key_range()
        .ok_or_else(|| anyhow!("shard {} has no hash key range", s.shard_id()))?;
    let parse = |k: &str| {
        k.parse::<u128>()
            .with_context(|| format!("shard {}: hash key {k:?}", s.shard_id()))
    };
    Ok(Range {
        start: parse(r.starting_hash_key())?,
        end: parse(r.ending_hash_key())?,
    })
}

/// Polls DescribeStreamSummary until the stream is ACTIVE, at most `timeout`. A stream that
/// is missing or being deleted will never become ACTIVE, so those fail at once.
pub async fn wait_active(c: &Client, stream: &str, timeout: Duration, p: &Progress) -> Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        let r = c.describe_stream_summary().stream_name(stream).send().await;
        let status = match r {
            Ok(r) => r
                .stream_description_summary()
                .map(|d| d.stream_status().clone()),
            Err(e) if e.code() == Some("LimitExceededException") => None,
            Err(e) => return Err(aws(e)),
        };
        match status {
            Some(StreamStatus::Active) => return Ok(()),
            Some(StreamStatus::Deleting) => bail!("stream {stream} is being deleted"),
            _ => {}
        }
        let waited = start.elapsed();
        if waited >= timeout {
            bail!(
                "stream {stream} is not ACTIVE after {}s ({})",
                timeout.as_secs(),
                status.map_or("unknown".to_string(), |s| s.as_str().to_string())
            );
        }
        p.show(&format!(
            "waiting for {stream} to be ACTIVE ({}s)",
            waited.as_secs()
        ));
        tokio::time::sleep(pause.min(timeout - waited)).await;
        // Kinesis allows 20 DescribeStreamSummary calls a second per account; back off to 2 s.
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// `90`, `90s`, `5m`, `1h`: seconds unless a unit says otherwise.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, mult) = match s.strip_suffix('s') {
        Some(n) => (n, 1),
        None => match s.strip_suffix('m') {
            Some(n) => (n, 60),
            None => match s.strip_suffix('h') {
                Some(n) => (n, 3600),
                None => (s, 1),
            },
        },
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90, 90s, 5m or 1h"))?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(format!("{s:?} is not a duration like 90, 90s, 5m or 1h"));
    }
    Ok(Duration::from_secs_f64(n * f64::from(mult)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
    }
}
