//! Metric primitives for Tributary, with no dependency: lock-free [`Counter`], [`Gauge`]
//! and fixed-bucket [`Histogram`] that hot paths update with one relaxed atomic add each,
//! and [`Exposition`], the writer of Prometheus' text exposition format (version 0.0.4).
//!
//! Storage, engine and server all record into these; the server's `GET /metrics` asks each
//! of them to write its families into one [`Exposition`]. Nothing here allocates when a
//! value is recorded.
//!
//! | module | concern |
//! | --- | --- |
//! | `values` | [`Counter`], [`Gauge`], [`Histogram`] and its buckets |
//! | `text` | [`Exposition`]: `# HELP`/`# TYPE` lines, label escaping, histogram series |

mod text;
mod values;

pub use text::{Exposition, Kind, Value, CONTENT_TYPE};
pub use values::{Counter, Gauge, Histogram, HistogramSnapshot, LATENCY_BUCKETS};
