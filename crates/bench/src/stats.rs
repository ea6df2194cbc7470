//! Counters and the latency histogram of one worker, merged at the end into a [`Report`].
//!
//! Each worker owns its [`Stats`], so the hot loop takes no lock; the histograms are merged
//! once, after the run.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::json;

/// Latencies are kept in microseconds, up to a minute, to three significant digits.
const MAX_MICROS: u64 = 60_000_000;

#[derive(Debug, Clone)]
pub struct Stats {
    hist: Histogram<u64>,
    pub requests: u64,
    pub ok: u64,
    /// Records written (puts: sent minus failed entries) or read.
    pub records: u64,
    /// Records accepted in a 2xx PutRecords but failed individually.
    pub failed_records: u64,
    /// GetShardIterator calls, the writers' requests of the subscribe workload: requests
    /// outside the measured operation.
    pub aux_requests: u64,
    /// GetRecords answers with no record (the reader then restarts at TRIM_HORIZON).
    pub empty_reads: u64,
    pub errors: BTreeMap<String, u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            hist: Histogram::new_with_max(MAX_MICROS, 3).expect("valid histogram bounds"),
            requests: 0,
            ok: 0,
            records: 0,
            failed_records: 0,
            aux_requests: 0,
            empty_reads: 0,
            errors: BTreeMap::new(),
        }
    }
}

impl Stats {
    pub fn latency(&mut self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, MAX_MICROS);
        self.hist.record(us).expect("clamped into range");
    }

    pub fn error(&mut self, code: impl Into<String>) {
        *self.errors.entry(code.into()).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Stats) {
        self.hist.add(&other.hist).expect("same bounds");
        self.requests += other.requests;
        self.ok += other.ok;
        self.records += other.records;
        self.failed_records += other.failed_records;
        self.aux_requests += other.aux_requests;
        self.empty_reads += other.empty_reads;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }

    pub fn report(&self, run: RunInfo, elapsed: Duration) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let ms = |q: f64| self.hist.value_at_quantile(q) as f64 / 1000.0;
        Report {
            records_per_s: self.records as f64 / secs,
            mb_per_s: self.records as f64 * run.record_size as f64 / secs / 1e6,
            requests_per_s: self.requests as f64 / secs,
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: self.hist.max() as f64 / 1000.0,
            elapsed_s: secs,
            stats: self.clone(),
            run,
        }
    }
}

/// The run's settings that belong in its report.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub workload: String,
    pub endpoint: String,
    pub stream: String,
    pub format: String,
    pub http: String,
    pub tls: bool,
    pub sigv4: bool,
    pub shards: usize,
    pub connections: usize,
    pub workers: usize,
    pub batch: usize,
    pub record_size: usize,
    /// Requests per second asked for; 0 for closed loop.
    pub rate: f64,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub run: RunInfo,
    pub stats: Stats,
    pub elapsed_s: f64,
    pub records_per_s: f64,
    pub mb_per_s: f64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Report {
    pub fn text(&self) -> String {
        let r = &self.run;
        let s = &self.stats;
        let mode = if r.rate > 0.0 {
            format!(
                "open loop at {} req/s (latency from the scheduled send time)",
                r.rate
            )
        } else {
            "closed loop (latency from the actual send time)".to_string()
        };
        let mut out = format!(
            "{} against {} ({} over {}{}, {}), stream {} with {} shards\n\
             {} connections, {} workers, {}\n\
             {:.1} s measured: {} requests ({} ok), {:.0} req/s\n\
             records: {:.0}/s, {:.2} MB/s of payload ({} records of {} B",
            r.workload,
            r.endpoint,
            r.format,
            r.http,
            if r.tls { "+TLS" } else { "" },
            if r.sigv4 { "SigV4" } else { "unsigned" },
            r.stream,
            r.shards,
            r.connections,
            r.workers,
            mode,
            self.elapsed_s,
            s.requests,
            s.ok,
            self.requests_per_s,
            self.records_per_s,
            self.mb_per_s,
            s.records,
            r.record_size,
        );
        if s.failed_records > 0 {
            out += &format!(", {} failed entries", s.failed_records);
        }
        out += ")\n";
        if s.aux_requests > 0 || s.empty_reads > 0 {
            out += &format!(
                "aux requests (GetShardIterator, or the subscribe workload's writes; not in the histogram): {}, empty reads: {}\n",
                s.aux_requests, s.empty_reads
            );
        }
        out += &format!(
            "latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}\n",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms
        );
        if s.errors.is_empty() {
            out += "errors: none\n";
        } else {
            out += "errors:\n";
            for (k, v) in &s.errors {
                out += &format!("  {k}: {v}\n");
            }
        }
        out
    }

    pub fn json(&self) -> String {
        let r = &self.run;
        let s = &self.stats;
        json!({
            "workload": r.workload, "endpoint": r.endpoint, "stream": r.stream,
            "format": r.format, "http": r.http, "tls": r.tls, "sigv4": r.sigv4,
            "shards": r.shards, "connections": r.connections, "workers": r.workers,
            "batch": r.batch, "record_bytes": r.record_size, "rate": r.rate,
            "duration_s": self.elapsed_s,
            "requests": s.requests, "ok": s.ok, "records": s.records,
            "failed_records": s.failed_records, "aux_requests": s.aux_requests,
            "empty_reads": s.empty_reads, "errors": s.errors,
            "requests_per_s": self.requests_per_s, "records_per_s": self.records_per_s,
            "mb_per_s": self.mb_per_s,
            "latency_ms": {
                "p50": self.p50_ms, "p90": self.p90_ms, "p99": self.p99_ms,
                "p99_9": self.p999_ms, "max": self.max_ms,
            },
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_reports() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        for ms in 1..=100 {
            a.latency(Duration::from_millis(ms));
        }
        b.latency(Duration::from_millis(500));
        a.requests = 100;
        b.requests = 1;
        a.records = 1000;
        b.error("ProvisionedThroughputExceededException");
        a.merge(&b);
        let run = RunInfo {
            workload: "put-records".into(),
            endpoint: "http://x".into(),
            stream: "s".into(),
            format: "json".into(),
            http: "h1".into(),
            tls: false,
            sigv4: false,
            shards: 4,
            connections: 1,
            workers: 1,
            batch: 10,
            record_size: 1000,
            rate: 0.0,
        };
        let r = a.report(run, Duration::from_secs(10));
        assert_eq!(r.records_per_s, 100.0);
        assert_eq!(r.mb_per_s, 0.1);
        assert!((r.p50_ms - 51.0).abs() < 0.1, "{}", r.p50_ms);
        assert!((r.max_ms - 500.0).abs() < 1.0);
        let j: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(j["errors"]["ProvisionedThroughputExceededException"], 1);
        assert_eq!(j["requests"], 101);
        assert!(r
            .text()
            .contains("ProvisionedThroughputExceededException: 1"));
    }
}
