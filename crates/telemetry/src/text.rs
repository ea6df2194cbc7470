//! Prometheus' text exposition format, version 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>):
//! per family a `# HELP` and a `# TYPE` line, then its samples, every sample of a family
//! together; label values escaped (`\\`, `\"`, `\n`); histograms as cumulative `_bucket`
//! series with an `le` label ending at `+Inf`, then `_sum` and `_count`.
//!
//! A family's header is written with its first sample, so a family with nothing to show
//! (shard-level series of a stream without enhanced monitoring) leaves no trace.

use std::fmt::Write;

use crate::values::{HistogramSnapshot, LATENCY_BUCKETS};

/// The content type of the format, for the HTTP response.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A family's type, as its `# TYPE` line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One exposition being written: call [`Exposition::family`], then its samples, for each
/// family in turn; [`Exposition::finish`] returns the text.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
    name: &'static str,
    kind: Option<Kind>,
    help: &'static str,
    /// The current family's header is still to be written.
    pending: bool,
}

impl Exposition {
    pub const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a family. Counter names end in `_total`; a histogram's name is its base name
    /// (`_bucket`, `_sum`, `_count` are added).
    pub fn family(&mut self, name: &'static str, kind: Kind, help: &'static str) {
        debug_assert!(kind != Kind::Counter || name.ends_with("_total"), "{name}");
        self.name = name;
        self.kind = Some(kind);
        self.help = help;
        self.pending = true;
    }

    /// One sample of the current counter or gauge family.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Value>) {
        self.header();
        let name = self.name;
        self.line(name, "", labels, None, value.into());
    }

    /// One labelled histogram of the current histogram family.
    pub fn histogram(&mut self, labels: &[(&str, &str)], h: &HistogramSnapshot) {
        debug_assert_eq!(self.kind, Some(Kind::Histogram));
        self.header();
        let name = self.name;
        let mut le = String::new();
        for (i, &count) in h.cumulative.iter().enumerate() {
            le.clear();
            match LATENCY_BUCKETS.get(i) {
                Some(b) => {
                    let _ = write!(le, "{b}");
                }
                None => le.push_str("+Inf"),
            }
            self.line(name, "_bucket", labels, Some(&le), Value::Int(count));
        }
        self.line(name, "_sum", labels, None, Value::Float(h.sum_seconds));
        self.line(name, "_count", labels, None, Value::Int(h.count));
    }

    pub fn finish(self) -> String {
        self.out
    }

    fn header(&mut self) {
        if !self.pending {
            return;
        }
        self.pending = false;
        let kind = self.kind.map_or("untyped", Kind::as_str);
        let _ = writeln!(self.out, "# HELP {} {}", self.name, escape_help(self.help));
        let _ = writeln!(self.out, "# TYPE {} {kind}", self.name);
    }

    fn line(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &[(&str, &str)],
        le: Option<&str>,
        value: Value,
    ) {
        let out = &mut self.out;
        out.push_str(name);
        out.push_str(suffix);
        let all = labels.iter().copied().chain(le.map(|v| ("le", v)));
        let mut first = true;
        for (k, v) in all {
            out.push(if first { '{' } else { ',' });
            first = false;
            out.push_str(k);
            out.push_str("=\"");
            escape_label(out, v);
            out.push('"');
        }
        if !first {
            out.push('}');
        }
        out.push(' ');
        match value {
            Value::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Signed(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Float(v) if v.is_nan() => out.push_str("NaN"),
            Value::Float(v) if v.is_infinite() => {
                out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" })
            }
            Value::Float(v) => {
                let _ = write!(out, "{v}");
            }
        }
        out.push('\n');
    }
}

/// A sample's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Int(u64),
    Signed(i64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Signed(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(u64::from(v))
    }
}

fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// HELP text escapes only backslash and newline.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Histogram;
    use std::time::Duration;

    #[test]
    fn writes_headers_once_and_only_for_families_with_samples() {
        let mut e = Exposition::new();
        e.family("empty_total", Kind::Counter, "nothing here");
        e.family("t_total", Kind::Counter, "a count");
        e.sample(&[("stream", "a")], 3u64);
        e.sample(&[("stream", "b\"c\\d\ne")], 4u64);
        e.family("g", Kind::Gauge, "a gauge");
        e.sample(&[], -2i64);
        let text = e.finish();
        assert_eq!(
            text,
            "# HELP t_total a count\n# TYPE t_total counter\nt_total{stream=\"a\"} 3\n\
             t_total{stream=\"b\\\"c\\\\d\\ne\"} 4\n# HELP g a gauge\n# TYPE g gauge\ng -2\n"
        );
    }

    #[test]
    fn writes_histograms_cumulatively_with_inf_sum_and_count() {
        let h = Histogram::new();
        h.observe(Duration::from_millis(2));
        h.observe(Duration::from_secs(60));
        let mut e = Exposition::new();
        e.family("lat_seconds", Kind::Histogram, "latency");
        e.histogram(&[("operation", "PutRecords")], &h.snapshot());
        let text = e.finish();
        assert!(text.contains("# TYPE lat_seconds histogram\n"), "{text}");
        assert!(text.contains("lat_seconds_bucket{operation=\"PutRecords\",le=\"0.001\"} 0\n"));
        assert!(text.contains("lat_seconds_bucket{operation=\"PutRecords\",le=\"0.0025\"} 1\n"));
        assert!(text.contains("lat_seconds_bucket{operation=\"PutRecords\",le=\"30\"} 1\n"));
        assert!(text.contains("lat_seconds_bucket{operation=\"PutRecords\",le=\"+Inf\"} 2\n"));
        assert!(text.contains("lat_seconds_sum{operation=\"PutRecords\"} 60.002\n"));
        assert!(text.contains("lat_seconds_count{operation=\"PutRecords\"} 2\n"));
    }
}
