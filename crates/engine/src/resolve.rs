//! Finding the stream a request names, and committing changes to it.
//!
//! A request may name its stream by StreamName (in the caller's account and region), by
//! StreamARN (whose account may differ: cross-account access is decided by the
//! authorization layer, from the same ARN), or both, in which case they must agree.

use std::sync::Arc;

use crate::error::{Failure, Outcome};
use crate::messages as msg;
use crate::meta::{self, Status, StreamRecord};
use crate::state::StreamEntry;
use crate::{Engine, RequestContext};

/// The (account, region, name) a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub name: &'a str,
}

/// `arn:aws[-partition]:kinesis:{region}:{account}:stream/{name}` split into its parts.
pub(crate) fn parse_stream_arn(arn: &str) -> Option<Target<'_>> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("kinesis"), Some(region), Some(account), Some(res)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let name = res.strip_prefix("stream/")?;
    let valid = partition.starts_with("aws")
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && valid_stream_name(name);
    valid.then_some(Target {
        account,
        region,
        name,
    })
}

/// What a consumer ARN names: `{stream arn}/consumer/{name}:{creation time in seconds}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConsumerTarget<'a> {
    pub stream: Target<'a>,
    pub name: &'a str,
    pub secs: i64,
}

/// `arn:aws[-partition]:kinesis:{region}:{account}:stream/{stream}/consumer/{name}:{secs}`.
pub(crate) fn parse_consumer_arn(arn: &str) -> Option<ConsumerTarget<'_>> {
    let (head, secs) = arn.rsplit_once(':')?;
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let (stream_arn, name) = head.split_once("/consumer/")?;
    let stream = parse_stream_arn(stream_arn)?;
    valid_stream_name(name).then_some(ConsumerTarget { stream, name, secs })
}

/// Stream and consumer names share one rule: 1 to 128 of `[a-zA-Z0-9_.-]`.
pub(crate) fn valid_stream_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The stream a request names, before looking it up.
pub(crate) fn target<'a>(
    ctx: &'a RequestContext,
    name: Option<&'a str>,
    arn: Option<&'a str>,
) -> Outcome<Target<'a>> {
    match (name, arn) {
        (None, None) => Err(Failure::InvalidArgument(
            msg::NO_STREAM_IDENTIFIER.to_owned(),
        )),
        (Some(name), None) => Ok(Target {
            account: &ctx.account_id,
            region: &ctx.region,
            name,
        }),
        (name, Some(arn)) => {
            let t = parse_stream_arn(arn)
                .ok_or_else(|| Failure::InvalidArgument(msg::invalid_stream_arn(arn)))?;
            if let Some(name) = name {
                if name != t.name {
                    return Err(Failure::InvalidArgument(msg::name_and_arn_differ(
                        name, arn,
                    )));
                }
            }
            Ok(t)
        }
    }
}

impl Engine {
    pub(crate) fn lookup(&self, t: &Target<'_>) -> Option<Arc<StreamEntry>> {
        self.registry
            .read()
            .get(t.account, t.region, t.name)
            .cloned()
    }

    /// Looks a target up; the caller's region must be the stream's.
    pub(crate) fn find(&self, ctx: &RequestContext, t: &Target<'_>) -> Option<Arc<StreamEntry>> {
        if t.region != ctx.region {
            return None;
        }
        self.lookup(t)
    }

    /// The stream named by StreamName and/or StreamARN, or AWS's ResourceNotFound.
    pub(crate) fn resolve(
        &self,
        ctx: &RequestContext,
        name: Option<&str>,
        arn: Option<&str>,
    ) -> Outcome<Arc<StreamEntry>> {
        let t = target(ctx, name, arn)?;
        self.find(ctx, &t)
            .ok_or_else(|| Failure::NotFound(msg::stream_not_found(t.name, t.account)))
    }

    /// Persists `rec` as the stream's new record (compare-and-set against the cached
    /// revision) and installs it in the cache. Callers hold `self.control`. `Stale` when
    /// another node changed the stream first (the cache is refreshed).
    pub(crate) async fn commit(&self, entry: &StreamEntry, rec: StreamRecord) -> Outcome<()> {
        let expected = entry.state.read().revision;
        let revision = match self
            .meta
            .update(&entry.key, meta::to_bytes(&rec), expected)
            .await
        {
            Ok(r) => r,
            Err(e) => return Err(self.lost_race(&entry.key, e).await),
        };
        entry.state.write().replace(rec, revision);
        Ok(())
    }

    /// A copy of the stream's record, to modify and commit.
    pub(crate) fn snapshot(entry: &StreamEntry) -> StreamRecord {
        entry.state.read().rec.clone()
    }
}

/// ResourceInUse unless the stream is ACTIVE.
pub(crate) fn require_active(entry: &StreamEntry, status: Status) -> Outcome<()> {
    if status == Status::Active {
        Ok(())
    } else {
        Err(Failure::InUse(msg::not_active(
            &entry.name,
            &entry.account,
            status,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stream_arns() {
        let t =
            parse_stream_arn("arn:aws:kinesis:us-east-1:123456789012:stream/my.stream-1").unwrap();
        assert_eq!(
            t,
            Target {
                account: "123456789012",
                region: "us-east-1",
                name: "my.stream-1"
            }
        );
        assert!(parse_stream_arn("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s").is_some());
        for bad in [
            "arn:aws:kinesis:us-east-1:123456789012:stream/",
            "arn:aws:kinesis:us-east-1:123456789012:stream/a/consumer/c:1",
            "arn:aws:kinesis:us-east-1:1234:stream/s",
            "arn:aws:sqs:us-east-1:123456789012:stream/s",
            "arn:aws:kinesis:us-east-1:123456789012:queue/s",
            "arn:aws:kinesis::123456789012:stream/s",
            "s",
        ] {
            assert!(parse_stream_arn(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn parses_consumer_arns() {
        let c = parse_consumer_arn(
            "arn:aws:kinesis:us-east-1:123456789012:stream/s.1/consumer/my-app_2:1700000000",
        )
        .unwrap();
        assert_eq!(c.stream.name, "s.1");
        assert_eq!(c.stream.account, "123456789012");
        assert_eq!(c.name, "my-app_2");
        assert_eq!(c.secs, 1_700_000_000);
        for bad in [
            "arn:aws:kinesis:us-east-1:123456789012:stream/s",
            "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c",
            "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:",
            "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1x",
            "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/:1",
            "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/a/b:1",
            "arn:aws:kinesis:us-east-1:1234:stream/s/consumer/c:1",
        ] {
            assert!(parse_consumer_arn(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn name_and_arn_must_agree() {
        let ctx = RequestContext::new("000000000000", "us-east-1");
        let arn = "arn:aws:kinesis:us-east-1:111111111111:stream/s";
        let t = target(&ctx, Some("s"), Some(arn)).unwrap();
        assert_eq!(t.account, "111111111111");
        assert!(matches!(
            target(&ctx, Some("t"), Some(arn)),
            Err(Failure::InvalidArgument(_))
        ));
        assert!(matches!(
            target(&ctx, None, None),
            Err(Failure::InvalidArgument(_))
        ));
        assert_eq!(
            target(&ctx, Some("s"), None).unwrap().account,
            "000000000000"
        );
    }
}
