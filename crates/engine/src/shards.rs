//! ListShards, and how AWS reads the shard ids clients send.

use tributary_model::types::*;
use tributary_model::*;

use crate::clock::now_ms;
use crate::error::{Failure, Outcome};
use crate::messages as msg;
use crate::meta::{ShardRecord, Status, StreamRecord};
use crate::resolve::require_active;
use crate::token::{Reader, Writer, KIND_LIST_SHARDS};
use crate::{wire, Engine, RequestContext};

/// AWS's default and maximum ListShards page.
const LIST_SHARDS_PAGE: usize = 10_000;
/// AWS accepts shard indices up to this value.
const MAX_SHARD_INDEX: u64 = 2_147_483_647;

/// The index a client's shard id names, read the way AWS reads it: the part after the
/// first '-' (or the whole id without one) as a decimal number. `shardId-000000000001`,
/// `shardId-1`, `anything-1` and `1` all name shard 1; `ABKLFD8` names none.
pub(crate) fn parse_shard_id(id: &str) -> Option<u32> {
    let digits = match id.split('-').nth(1) {
        Some(d) if !d.is_empty() => d,
        _ => id,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    if trimmed.len() > 10 {
        return None;
    }
    let n: u64 = if trimmed.is_empty() {
        0
    } else {
        trimmed.parse().ok()?
    };
    (n <= MAX_SHARD_INDEX).then_some(n as u32)
}

/// Whether shard `index` comes after the ExclusiveStartShardId `after`.
pub(crate) fn shard_is_after(index: u32, after: &str) -> bool {
    match parse_shard_id(after) {
        Some(a) => index > a,
        None => msg::canonical_shard_id(index).as_str() > after,
    }
}

/// What a ListShards page continues from (the NextToken's content).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    stream_id: u64,
    account: String,
    region: String,
    name: String,
    last: u32,
    filter: Option<(ShardFilterType, Option<String>, Option<i64>)>,
}

impl Engine {
    pub async fn list_shards(
        &self,
        ctx: &RequestContext,
        input: ListShardsInput,
    ) -> Result<ListShardsOutput, ListShardsError> {
        let page = input.max_results.map_or(LIST_SHARDS_PAGE, |m| {
            (m.max(1) as usize).min(LIST_SHARDS_PAGE)
        });
        let invalid = |m: &str| Err(Failure::InvalidArgument(m.to_owned()));
        let (entry, after, filter) = match input.next_token.as_deref() {
            Some(token) => {
                if input.stream_name.is_some() || input.stream_arn.is_some() {
                    return invalid("NextToken and StreamName cannot be provided together.")?;
                }
                if input.exclusive_start_shard_id.is_some() {
                    return invalid(
                        "NextToken and ExclusiveStartShardId cannot be provided together.",
                    )?;
                }
                if input.stream_creation_timestamp.is_some() {
                    return invalid(
                        "NextToken and StreamCreationTimestamp cannot be provided together.",
                    )?;
                }
                let c = self.open_cursor(token)?;
                let entry = self
                    .registry
                    .read()
                    .get_by_id(c.stream_id)
                    .cloned()
                    .ok_or_else(|| Failure::NotFound(msg::stream_not_found(&c.name, &c.account)))?;
                if entry.account != ctx.account_id || entry.region != ctx.region {
                    return invalid("Invalid NextToken.")?;
                }
                let filter = c.filter.map(|(r#type, shard_id, ts)| ShardFilter {
                    r#type,
                    shard_id,
                    timestamp: ts.map(Timestamp),
                });
                (entry, Some(c.last), filter.or(input.shard_filter))
            }
            None => {
                if input.stream_name.is_none() && input.stream_arn.is_none() {
                    return invalid("Either NextToken or StreamName should be provided.")?;
                }
                let entry = self.resolve(
                    ctx,
                    input.stream_name.as_deref(),
                    input.stream_arn.as_deref(),
                )?;
                if let Some(ts) = input.stream_creation_timestamp {
                    if ts.millis() != entry.state.read().rec.created_ms {
                        return Err(Failure::NotFound(msg::stream_not_found(
                            &entry.name,
                            &entry.account,
                        ))
                        .into());
                    }
                }
                // An id that names no shard starts after everything.
                let after = input
                    .exclusive_start_shard_id
                    .as_deref()
                    .map(|a| parse_shard_id(a).unwrap_or(u32::MAX));
                (entry, after, input.shard_filter)
            }
        };
        if let Some(f) = &filter {
            validate_filter(f)?;
        }

        let st = entry.state.read();
        let rec = &st.rec;
        if rec.status == Status::Creating {
            require_active(&entry, rec.status)?;
        }
        let now = now_ms();
        let mut rest = rec
            .shards
            .iter()
            .filter(|s| after.is_none_or(|a| s.index > a))
            .filter(|s| {
                filter
                    .as_ref()
                    .is_none_or(|f| matches_filter(rec, s, f, now))
            });
        let shards: Vec<&ShardRecord> = rest.by_ref().take(page).collect();
        let more = rest.next().is_some();
        let next_token = match shards.last() {
            Some(last) if more => Some(self.seal_cursor(&Cursor {
                stream_id: rec.id,
                account: entry.account.clone(),
                region: entry.region.clone(),
                name: entry.name.clone(),
                last: last.index,
                filter: filter.map(|f| (f.r#type, f.shard_id, f.timestamp.map(|t| t.millis()))),
            })),
            _ => None,
        };
        Ok(ListShardsOutput {
            shards: Some(shards.into_iter().map(|s| wire::shard(rec.id, s)).collect()),
            next_token,
        })
    }

    fn seal_cursor(&self, c: &Cursor) -> String {
        let mut w = Writer::new(KIND_LIST_SHARDS, 1);
        w.i64(now_ms())
            .u64(c.stream_id)
            .str(&c.account)
            .str(&c.region)
            .str(&c.name)
            .u32(c.last);
        match &c.filter {
            None => w.u8(0),
            Some((t, shard, ts)) => {
                w.u8(1).str(t.as_str());
                match shard {
                    Some(s) => w.u8(1).str(s),
                    None => w.u8(0),
                };
                match ts {
                    Some(ts) => w.u8(1).i64(*ts),
                    None => w.u8(0),
                }
            }
        };
        self.sealer.seal(&w.finish())
    }

    fn open_cursor(&self, token: &str) -> Outcome<Cursor> {
        let invalid = || Failure::InvalidArgument("Invalid NextToken.".to_owned());
        let body = self
            .sealer
            .open(KIND_LIST_SHARDS, token)
            .ok_or_else(invalid)?;
        let mut r = Reader::new(&body, 1).ok_or_else(invalid)?;
        let parsed = (|| {
            let issued = r.i64()?;
            let mut c = Cursor {
                stream_id: r.u64()?,
                account: r.str()?,
                region: r.str()?,
                name: r.str()?,
                last: r.u32()?,
                filter: None,
            };
            if r.u8()? == 1 {
                let t = ShardFilterType::parse(&r.str()?)?;
                let shard = if r.u8()? == 1 { Some(r.str()?) } else { None };
                let ts = if r.u8()? == 1 { Some(r.i64()?) } else { None };
                c.filter = Some((t, shard, ts));
            }
            r.done().then_some((issued, c))
        })();
        let (issued, cursor) = parsed.ok_or_else(invalid)?;
        self.check_token_age(issued)?;
        Ok(cursor)
    }
}

fn validate_filter(f: &ShardFilter) -> Outcome<()> {
    let invalid = |m: &str| Err(Failure::InvalidArgument(m.to_owned()));
    match f.r#type {
        ShardFilterType::AfterShardId if f.shard_id.is_none() => {
            invalid("ShardId must be specified in a ShardFilter of type AFTER_SHARD_ID.")
        }
        ShardFilterType::AtTimestamp | ShardFilterType::FromTimestamp if f.timestamp.is_none() => {
            invalid("Timestamp must be specified in a ShardFilter of type AT_TIMESTAMP or FROM_TIMESTAMP.")
        }
        ShardFilterType::AfterShardId => Ok(()),
        _ if f.shard_id.is_some() => invalid("ShardId can only be specified in a ShardFilter of type AFTER_SHARD_ID."),
        ShardFilterType::AtTimestamp | ShardFilterType::FromTimestamp => Ok(()),
        _ if f.timestamp.is_some() => {
            invalid("Timestamp can only be specified in a ShardFilter of type AT_TIMESTAMP or FROM_TIMESTAMP.")
        }
        _ => Ok(()),
    }
}

/// AWS's ShardFilter semantics, in terms of shard creation and close times.
fn matches_filter(rec: &StreamRecord, s: &ShardRecord, f: &ShardFilter, now: i64) -> bool {
    let trim_horizon = now - i64::from(rec.retention_hours) * 3_600_000;
    let open_at = |t: i64| s.created_ms <= t && s.closed_ms.is_none_or(|c| c >= t);
    match f.r#type {
        ShardFilterType::AfterShardId => f
            .shard_id
            .as_deref()
            .is_none_or(|a| shard_is_after(s.index, a)),
        // The shards that held data at the trim horizon: open then, or (when the horizon
        // predates the stream) the stream's first shards.
        ShardFilterType::AtTrimHorizon => {
            if trim_horizon <= rec.created_ms {
                s.parent.is_none() && s.adjacent.is_none()
            } else {
                open_at(trim_horizon)
            }
        }
        // Everything from the trim horizon to the tip: listed shards all qualify, since
        // shards closed before the horizon are pruned.
        ShardFilterType::FromTrimHorizon => s.closed_ms.is_none_or(|c| c >= trim_horizon),
        ShardFilterType::AtLatest => s.is_open(),
        ShardFilterType::AtTimestamp => {
            let t = f.timestamp.map_or(now, |t| t.millis()).max(trim_horizon);
            if t <= rec.created_ms {
                s.parent.is_none() && s.adjacent.is_none()
            } else {
                open_at(t)
            }
        }
        ShardFilterType::FromTimestamp => {
            let t = f.timestamp.map_or(now, |t| t.millis()).max(trim_horizon);
            s.closed_ms.is_none_or(|c| c >= t)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_shard_ids_like_aws() {
        assert_eq!(parse_shard_id("shardId-000000000001"), Some(1));
        assert_eq!(parse_shard_id("shardId-5"), Some(5));
        assert_eq!(parse_shard_id("2147483647"), Some(2_147_483_647));
        assert_eq!(parse_shard_id("abc-2147483647"), Some(2_147_483_647));
        assert_eq!(parse_shard_id("a-00002147483647"), Some(2_147_483_647));
        assert_eq!(parse_shard_id("-00002147483647"), Some(2_147_483_647));
        assert_eq!(parse_shard_id("shard-0"), Some(0));
        assert_eq!(parse_shard_id("2147483648"), None);
        assert_eq!(parse_shard_id("shardId-002147483648"), None);
        assert_eq!(parse_shard_id("ABKLFD8"), None);
        assert_eq!(parse_shard_id("2.14E4"), None);
        assert_eq!(parse_shard_id("a-b-1"), None);
        assert_eq!(parse_shard_id("shardId-99999999999999999999999"), None);
    }

    #[test]
    fn exclusive_start_compares_numerically() {
        assert!(shard_is_after(2, "shardId-000000000001"));
        assert!(!shard_is_after(1, "shardId-1"));
        assert!(shard_is_after(10, "shardId-9"));
    }
}
