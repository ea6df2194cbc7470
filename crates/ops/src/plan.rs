//! The reshard planner: from the open shards' hash ranges and a target count N to the
//! SplitShard and MergeShards steps that leave exactly N shards with a balanced hash-key space.
//!
//! The target layout is fixed by N alone: shard `i` of N covers `[b(i), b(i+1) - 1]` with
//! `b(i) = floor(i * 2^128 / N)`, so every range has the same size within one hash key and the
//! result does not depend on the layout it starts from (a second run plans nothing).
//!
//! The plan first splits every open shard at each target boundary strictly inside it, so that
//! every shard lies inside one target range, then merges the adjacent shards that share a
//! target range, left to right. Steps name shards by their starting hash key, not by id: the
//! ids of children exist only once the server has made them, while a starting hash key names
//! exactly one open shard at every point of the plan.

use std::fmt;

/// An open shard's inclusive hash-key range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: u128,
    pub end: u128,
}

/// One reshard step, on the open shard whose range starts at the given hash key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// SplitShard: the shard starting at `shard` becomes `[shard, at - 1]` and `[at, end]`.
    Split { shard: u128, at: u128 },
    /// MergeShards: the shard starting at `left` absorbs its right neighbour starting at
    /// `right`; the merged shard starts at `left`.
    Merge { left: u128, right: u128 },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Split { shard, at } => write!(f, "split the shard starting at {shard} at {at}"),
            Step::Merge { left, right } => write!(
                f,
                "merge the shard starting at {left} with the shard starting at {right}"
            ),
        }
    }
}

/// Why no plan can be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// N is zero.
    NoShards,
    /// N is above [`MAX_SHARDS`].
    TooMany,
    /// The open shards do not tile 0..=2^128-1 without gaps or overlaps.
    NotATiling,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::NoShards => f.write_str("the target shard count must be at least 1"),
            PlanError::TooMany => write!(f, "the target shard count must be at most {MAX_SHARDS}"),
            PlanError::NotATiling => f.write_str(
                "the open shards do not cover the hash-key space exactly once (a reshard in progress?)",
            ),
        }
    }
}

impl std::error::Error for PlanError {}

/// The largest N planned: far above any stream's quota, low enough that a typing slip
/// (an extra digit or two) is refused instead of allocating gigabytes for the target.
pub const MAX_SHARDS: u32 = 1_000_000;

/// The balanced layout of `n` shards (n >= 1), in hash-key order.
pub fn target(n: u32) -> Vec<Range> {
    let n = u128::from(n.max(1));
    divided_at((1..n).map(|i| boundary(i, n)))
}

/// The contiguous ranges into which `cuts` (ascending, distinct, each above 0) divide the
/// whole hash-key space: each cut starts a range.
fn divided_at(cuts: impl IntoIterator<Item = u128>) -> Vec<Range> {
    let mut out = Vec::new();
    let mut start = 0u128;
    for c in cuts {
        out.push(Range { start, end: c - 1 });
        start = c;
    }
    out.push(Range {
        start,
        end: u128::MAX,
    });
    out
}

/// The steps from `open` (the open shards, in any order) to the balanced layout of `n`.
pub fn plan(open: &[Range], n: u32) -> Result<Vec<Step>, PlanError> {
    if n == 0 {
        return Err(PlanError::NoShards);
    }
    if n > MAX_SHARDS {
        return Err(PlanError::TooMany);
    }
    let mut shards = open.to_vec();
    shards.sort_by_key(|r| r.start);
    check_tiling(&shards)?;
    let goal = target(n);
    let mut steps = Vec::new();

    // Splits: after them every shard lies inside one target range.
    let mut pieces = Vec::new();
    for s in &shards {
        let mut start = s.start;
        for t in goal.iter().skip(1) {
            if t.start > start && t.start <= s.end {
                steps.push(Step::Split {
                    shard: start,
                    at: t.start,
                });
                pieces.push(Range {
                    start,
                    end: t.start - 1,
                });
                start = t.start;
            }
        }
        pieces.push(Range { start, end: s.end });
    }

    // Merges: fold each target range's pieces into its first one.
    let mut i = 0;
    for t in &goal {
        let first = pieces[i].start;
        i += 1;
        while i < pieces.len() && pieces[i].end <= t.end {
            steps.push(Step::Merge {
                left: first,
                right: pieces[i].start,
            });
            i += 1;
        }
    }
    Ok(steps)
}

/// `floor(i * 2^128 / n)` for 0 < i < n, without a 129-bit intermediate: with
/// `2^128 = q*n + r`, it is `i*q + floor(i*r / n)`, and `i*r < n*n` fits while n < 2^64.
fn boundary(i: u128, n: u128) -> u128 {
    let (mut q, mut r) = (u128::MAX / n, u128::MAX % n + 1);
    if r == n {
        q += 1;
        r = 0;
    }
    i * q + i * r / n
}

fn check_tiling(sorted: &[Range]) -> Result<(), PlanError> {
    let mut next = Some(0u128);
    for r in sorted {
        if Some(r.start) != next || r.end < r.start {
            return Err(PlanError::NotATiling);
        }
        next = r.end.checked_add(1);
    }
    if next.is_some() {
        return Err(PlanError::NotATiling);
    }
    Ok(())
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
