//! The values: a counter, a gauge and a histogram, each a few atomics updated with relaxed
//! ordering (a scrape needs no value to be ordered with any other; each is exact on its own).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// A monotonic count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }

    pub fn add(&self, n: u64) {
        if n != 0 {
            self.0.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down, or the latest observation of something.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub const fn new() -> Self {
        Gauge(AtomicI64::new(0))
    }

    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }

    pub fn add(&self, v: i64) {
        self.0.fetch_add(v, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds, in seconds, of the latency buckets: from half a millisecond (a group
/// commit on a fast disk) to ten seconds (a stalled replica), roughly ×2.5 apart, as
/// Prometheus' client libraries space their defaults.
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

const BUCKETS: usize = LATENCY_BUCKETS.len();

/// Bucket bounds in microseconds, for the comparison on the hot path (integers, no float).
const BOUNDS_US: [u64; BUCKETS] = {
    let mut out = [0u64; BUCKETS];
    let mut i = 0;
    while i < BUCKETS {
        out[i] = (LATENCY_BUCKETS[i] * 1_000_000.0) as u64;
        i += 1;
    }
    out
};

/// A latency histogram over [`LATENCY_BUCKETS`] (plus `+Inf`). Each observation adds to
/// one bucket, the sum and the count: three relaxed atomic adds.
#[derive(Debug)]
pub struct Histogram {
    /// Observations per bucket, not cumulative (the writer sums them).
    buckets: [AtomicU64; BUCKETS + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    pub const fn new() -> Self {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS + 1],
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US.iter().position(|&b| us <= b).unwrap_or(BUCKETS);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Cumulative counts per bucket (the last is `+Inf`), the sum in seconds and the count.
    /// Read bucket by bucket while others record, so the count is taken as the `+Inf`
    /// bucket: the exposition's `_count` then always equals its `+Inf` bucket.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = [0u64; BUCKETS + 1];
        let mut total = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            total += b.load(Ordering::Relaxed);
            cumulative[i] = total;
        }
        HistogramSnapshot {
            cumulative,
            sum_seconds: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            count: total,
        }
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// A histogram's values at one instant, as the exposition writes them.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Cumulative counts for each bound of [`LATENCY_BUCKETS`], then `+Inf`.
    pub cumulative: [u64; BUCKETS + 1],
    pub sum_seconds: f64,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_hold_what_was_recorded() {
        let c = Counter::new();
        c.add(3);
        c.inc();
        c.add(0);
        assert_eq!(c.get(), 4);
        let g = Gauge::new();
        g.set(10);
        g.add(-3);
        assert_eq!(g.get(), 7);
    }

    #[test]
    fn observations_land_in_the_first_bucket_at_or_above_them() {
        let h = Histogram::new();
        h.observe(Duration::from_micros(500)); // exactly the first bound
        h.observe(Duration::from_micros(501)); // the second
        h.observe(Duration::from_millis(20)); // 0.025
        h.observe(Duration::from_secs(100)); // +Inf only
        let s = h.snapshot();
        assert_eq!(s.cumulative[0], 1);
        assert_eq!(s.cumulative[1], 2);
        assert_eq!(s.cumulative[4], 2);
        assert_eq!(s.cumulative[5], 3);
        assert_eq!(s.cumulative[BUCKETS - 1], 3);
        assert_eq!(s.cumulative[BUCKETS], 4);
        assert_eq!(s.count, 4);
        assert_eq!(h.count(), 4);
        assert!(
            (s.sum_seconds - 100.021001).abs() < 1e-9,
            "{}",
            s.sum_seconds
        );
    }
}
