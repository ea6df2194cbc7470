//! What the commands write: aligned tables for people, JSON for scripts, one-line errors that
//! name AWS's error code, and progress on stderr only when stderr is a terminal.

use std::io::{IsTerminal, Write};

use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// A failed call as one line: `Code: message` when the service answered, otherwise the whole
/// cause chain (connection refused, timeout, no credentials) so the operator sees which.
pub fn aws<E>(e: SdkError<E>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match e.code() {
        Some(code) => anyhow::anyhow!("{code}: {}", e.message().unwrap_or("(no message)")),
        None => anyhow::anyhow!("{}", DisplayErrorContext(&e)),
    }
}

/// Columns padded to their widest cell, two spaces apart, headers first.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            l.push_str(c);
            let pad = widths[i].saturating_sub(c.chars().count());
            l.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// Key-value lines for one object, keys padded to the longest.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k:<w$}  {v}\n"))
        .collect()
}

/// Writes `s` to stdout and flushes, so a script reading a pipe sees it before we exit.
pub fn print(s: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()
}

pub fn print_json(v: &serde_json::Value) -> std::io::Result<()> {
    print(&format!("{v:#}\n"))
}

/// Progress for long work, redrawn on one line of stderr; silent when stderr is not a
/// terminal, so logs and tests see only results and errors.
pub struct Progress {
    on: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
        }
    }

    pub fn show(&self, msg: &str) {
        if self.on {
            let _ = write!(std::io::stderr(), "\r\x1b[K{msg}");
        }
    }

    /// Clears the line, leaving the terminal as it was.
    pub fn done(&self) {
        if self.on {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}

/// Runs `work` with progress drawn on a terminal, and clears the line whatever its outcome.
pub async fn with_progress<T>(work: impl AsyncFnOnce(&Progress) -> T) -> T {
    let p = Progress::new();
    let result = work(&p).await;
    p.done();
    result
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_trims_trailing_spaces() {
        let t = table(
            &["NAME", "STATUS"],
            &[
                vec!["orders".into(), "ACTIVE".into()],
                vec!["a".into(), "".into()],
            ],
        );
        assert_eq!(t, "NAME    STATUS\norders  ACTIVE\na\n");
    }

    #[test]
    fn fields_pad_keys() {
        assert_eq!(
            fields(&[("Name", "x".into()), ("Retention", "24".into())]),
            "Name       x\nRetention  24\n"
        );
    }
}
