//! Observability endpoints and request metrics.
//!
//! - `GET /metrics`: Prometheus text exposition (0.0.4) of the request latency histograms
//!   below, the engine's stream and shard series and the storage's own series. Off with
//!   `AppState::metrics_endpoint` (then it gets the front door's usual answer to a GET).
//! - `GET /health/live`: 200 while the process serves HTTP at all (liveness).
//! - `GET /health/ready`: 200 when the storage can make appends durable, else 503 with the
//!   reason (readiness), so load balancers and orchestrators stop routing writes to a node
//!   whose disk is full or whose cluster connection is lost.
//!
//! None of them asks for credentials: probes and scrapers do not sign requests. They show
//! stream names and counts, never records; `docs/metrics.md` says how to keep the port
//! private or turn `/metrics` off.
//!
//! Request metrics: one latency histogram per Kinesis operation and outcome (2xx, 4xx,
//! 5xx), preallocated, so recording is three relaxed atomic adds and no lock.

use std::time::Duration;

use http::{Method, Response, StatusCode};
use tributary_model::Operation;
use tributary_telemetry::{Exposition, Histogram, Kind};

use crate::respond::{self, Body};
use crate::AppState;

pub const METRICS_PATH: &str = "/metrics";
pub const LIVE_PATH: &str = "/health/live";
pub const READY_PATH: &str = "/health/ready";

/// The answer for an observability path, or `None` when the request is not one (it then
/// goes through the Kinesis front door, which refuses GETs as AWS does).
pub async fn endpoint(state: &AppState, parts: &http::request::Parts) -> Option<Response<Body>> {
    if parts.method != Method::GET {
        return None;
    }
    match parts.uri.path() {
        METRICS_PATH if state.metrics_endpoint => Some(metrics(state).await),
        LIVE_PATH => Some(respond::plain(StatusCode::OK, "live\n".into())),
        READY_PATH => Some(match state.engine.storage_writable().await {
            Ok(()) => respond::plain(StatusCode::OK, "ready\n".into()),
            Err(reason) => {
                tracing::debug!(%reason, "readiness probe: storage is not writable");
                respond::plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not ready: storage is not writable: {reason}\n"),
                )
            }
        }),
        _ => None,
    }
}

async fn metrics(state: &AppState) -> Response<Body> {
    let mut out = Exposition::new();
    state.requests.write(&mut out);
    state.engine.write_metrics(&mut out);
    let writable = state.engine.storage_writable().await.is_ok();
    out.family(
        "tributary_storage_writable",
        Kind::Gauge,
        "1 while the record storage can make appends durable (what /health/ready reports), else 0.",
    );
    out.sample(&[], writable);
    state.engine.write_storage_metrics(&mut out).await;
    respond::exposition(out.finish())
}

/// How a request ended, by its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    ClientError,
    ServerError,
}

impl Outcome {
    const ALL: [Outcome; 3] = [Outcome::Success, Outcome::ClientError, Outcome::ServerError];

    pub fn of(status: StatusCode) -> Outcome {
        match status.as_u16() {
            500.. => Outcome::ServerError,
            400.. => Outcome::ClientError,
            _ => Outcome::Success,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
        }
    }
}

const OPS: usize = Operation::ALL.len();

/// Latency of every Kinesis request, by operation and outcome.
#[derive(Debug)]
pub struct RequestMetrics {
    latency: [[Histogram; 3]; OPS],
}

impl Default for RequestMetrics {
    fn default() -> Self {
        RequestMetrics {
            latency: [const { [const { Histogram::new() }; 3] }; OPS],
        }
    }
}

impl RequestMetrics {
    pub fn record(&self, op: Operation, outcome: Outcome, latency: Duration) {
        // `Operation::ALL` lists the variants in declaration order (checked by a test).
        self.latency[op as usize][outcome as usize].observe(latency);
    }

    /// Writes the histograms of the (operation, outcome) pairs seen so far.
    pub fn write(&self, out: &mut Exposition) {
        out.family(
            "tributary_request_duration_seconds",
            Kind::Histogram,
            "Time from a Kinesis request's headers to its response (for SubscribeToShard, to \
             the start of its event stream), by operation and outcome (success: 2xx, \
             client_error: 4xx, server_error: 5xx).",
        );
        for (op, row) in Operation::ALL.iter().zip(&self.latency) {
            for (outcome, h) in Outcome::ALL.iter().zip(row) {
                if h.count() > 0 {
                    let labels = [("operation", op.name()), ("outcome", outcome.as_str())];
                    out.histogram(&labels, &h.snapshot());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_index_their_own_row() {
        for (i, op) in Operation::ALL.iter().enumerate() {
            assert_eq!(*op as usize, i, "{}", op.name());
        }
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(*o as usize, i);
        }
    }

    #[test]
    fn records_by_operation_and_outcome() {
        let m = RequestMetrics::default();
        m.record(
            Operation::PutRecords,
            Outcome::of(StatusCode::OK),
            Duration::from_millis(2),
        );
        m.record(
            Operation::PutRecords,
            Outcome::of(StatusCode::BAD_REQUEST),
            Duration::from_millis(1),
        );
        m.record(
            Operation::ListStreams,
            Outcome::of(StatusCode::INTERNAL_SERVER_ERROR),
            Duration::from_millis(1),
        );
        let mut out = Exposition::new();
        m.write(&mut out);
        let text = out.finish();
        let count = |op: &str, outcome: &str| {
            format!(
                "tributary_request_duration_seconds_count{{operation=\"{op}\",outcome=\"{outcome}\"}} 1\n"
            )
        };
        assert!(text.contains(&count("PutRecords", "success")), "{text}");
        assert!(
            text.contains(&count("PutRecords", "client_error")),
            "{text}"
        );
        assert!(
            text.contains(&count("ListStreams", "server_error")),
            "{text}"
        );
        assert!(!text.contains("operation=\"GetRecords\""), "{text}");
    }
}
