//! The subscribe workload: one SubscribeToShard per shard through one registered consumer,
//! from LATEST, while the put-records workers write (at `--rate`, or as fast as they can).
//!
//! Records/s and MB/s are what the subscriptions deliver; the latency of a record is from its
//! `ApproximateArrivalTimestamp` (the server's clock, the same machine's) to the event that
//! carries it: end-to-end delivery, in milliseconds. Replaying old records instead would
//! measure nothing once the subscription caught up. When a subscription ends (AWS closes them
//! after five minutes) the worker resubscribes after its `ContinuationSequenceNumber`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::bail;
use bytes::{Buf, BytesMut};
use http_body_util::BodyExt;
use tokio::time::Instant;
use tributary_model::Value;
use tributary_protocol::eventstream::{self, decode_message};

use crate::control::ApiFailure;
use crate::sign::{payload_hash, RequestSigner};
use crate::stats::Stats;
use crate::transport::target;
use crate::wire;
use crate::workload::{short, Plan};

/// Said when the server has no SubscribeToShard (or no consumers to subscribe with).
pub const NOT_AVAILABLE: &str = "the subscribe workload is not available until the server \
     implements SubscribeToShard (it answered NotImplementedException)";

/// Turns a NotImplementedException from any set-up call into [`NOT_AVAILABLE`].
pub fn explain(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<ApiFailure>() {
        Some(f) if f.code == "NotImplementedException" => {
            anyhow::anyhow!("{NOT_AVAILABLE}: {f}")
        }
        _ => e,
    }
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// Subscribes to `shard` until the plan ends. Errs only when the server cannot subscribe at
/// all (NotImplementedException), which ends the whole run.
pub async fn run_subscriber(
    plan: Arc<Plan>,
    consumer_arn: String,
    shard: String,
) -> anyhow::Result<Stats> {
    let mut stats = Stats::default();
    let mut signer = RequestSigner::new(plan.signer.clone());
    let mut after: Option<String> = None;
    let op = target("SubscribeToShard");
    let format = plan.ep.format;
    while Instant::now() < plan.end {
        let mut sender = match plan.ep.connect().await {
            Ok(s) => s,
            Err(e) => {
                stats.error(format!("connect: {}", short(&e)));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let position = match &after {
            None => map(vec![("Type", Value::Str("LATEST".into()))]),
            Some(seq) => map(vec![
                ("Type", Value::Str("AFTER_SEQUENCE_NUMBER".into())),
                ("SequenceNumber", Value::Str(seq.clone())),
            ]),
        };
        let body = wire::encode(
            format,
            &map(vec![
                ("ConsumerARN", Value::Str(consumer_arn.clone())),
                ("ShardId", Value::Str(shard.clone())),
                ("StartingPosition", position),
            ]),
        );
        let hash = payload_hash(&body);
        let req = plan.ep.request(&mut signer, &op, body, &hash)?;
        let resp = tokio::select! {
            r = sender.send_streaming(req) => r,
            _ = tokio::time::sleep_until(plan.end) => break,
        };
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                stats.error(format!("transport: {}", short(&e)));
                continue;
            }
        };
        let status = resp.status();
        if !status.is_success() {
            let Ok(body) = tokio::time::timeout_at(plan.end, resp.into_body().collect()).await
            else {
                break;
            };
            let body = body?.to_bytes();
            let code = wire::error_code(format, status.as_u16(), &body);
            if code == "NotImplementedException" {
                bail!("{NOT_AVAILABLE}");
            }
            stats.error(format!("SubscribeToShard {code}"));
            // AWS refuses a new subscription within seconds of the last one; wait a little.
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let mut body = resp.into_body();
        let mut buf = BytesMut::new();
        loop {
            let frame = tokio::select! {
                f = body.frame() => f,
                _ = tokio::time::sleep_until(plan.end) => return Ok(stats),
            };
            let Some(frame) = frame else { break };
            let data = match frame {
                Ok(f) => match f.into_data() {
                    Ok(d) => d,
                    Err(_) => continue,
                },
                Err(e) => {
                    stats.error(format!("transport: {e}"));
                    break;
                }
            };
            buf.extend_from_slice(&data);
            loop {
                let (msg, used) = match decode_message(&buf) {
                    Ok(Some(m)) => m,
                    Ok(None) => break,
                    Err(e) => {
                        stats.error(format!("event stream: {e}"));
                        return Ok(stats);
                    }
                };
                buf.advance(used);
                let measured = Instant::now() >= plan.measure_from;
                match eventstream::str_header(&msg, eventstream::MESSAGE_TYPE) {
                    Some("event")
                        if eventstream::str_header(&msg, eventstream::EVENT_TYPE)
                            == Some("SubscribeToShardEvent") =>
                    {
                        let v = wire::decode(format, msg.payload());
                        if let Some(Value::Str(c)) =
                            v.as_ref().and_then(|v| v.get("ContinuationSequenceNumber"))
                        {
                            after = Some(c.clone());
                        }
                        if measured {
                            let records = match v.as_ref().and_then(|v| v.get("Records")) {
                                Some(Value::List(r)) => r.as_slice(),
                                _ => &[],
                            };
                            let now_ms = epoch_ms();
                            for r in records {
                                if let Some(at) = arrival_ms(r) {
                                    let ms = now_ms.saturating_sub(at).max(0) as u64;
                                    stats.latency(Duration::from_millis(ms));
                                }
                            }
                            stats.requests += 1;
                            stats.ok += 1;
                            stats.records += records.len() as u64;
                            if records.is_empty() {
                                stats.empty_reads += 1;
                            }
                        }
                    }
                    Some("event") => {}
                    _ => {
                        let code = eventstream::str_header(&msg, eventstream::EXCEPTION_TYPE)
                            .or_else(|| eventstream::str_header(&msg, eventstream::ERROR_CODE))
                            .unwrap_or("unknown");
                        stats.error(format!("event stream exception {code}"));
                    }
                }
            }
        }
    }
    Ok(stats)
}

fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `ApproximateArrivalTimestamp` in milliseconds: epoch seconds (a JSON number) or a CBOR
/// timestamp.
fn arrival_ms(record: &Value) -> Option<i64> {
    match record.get("ApproximateArrivalTimestamp")? {
        Value::Timestamp(t) => Some(t.millis()),
        Value::Float(f) => Some((f * 1000.0).round() as i64),
        Value::Int(i) => Some(i * 1000),
        _ => None,
    }
}
