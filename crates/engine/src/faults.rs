//! Fault injection for testing clients: per operation, a probability and/or a schedule
//! (every Nth call) of throttling and of internal failures. Off unless configured.
//!
//! Throttles are injected at the engine's throttle points (`throttle`), so they look
//! exactly like real ones: ProvisionedThroughputExceededException for PutRecord,
//! GetRecords and GetShardIterator, per-entry failures for PutRecords (from the entry hit
//! on, per shard, as a real throttle), LimitExceededException for SubscribeToShard.
//! Internal failures (HTTP 500, InternalFailure) are injected by the server before it calls
//! the engine, for any operation ([`Faults::internal_failure`]).
//!
//! The draws come from one seeded generator shared by all operations: the same seed and
//! the same sequence of calls give the same faults.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// What to inject (`EngineConfig::faults`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    /// Seed of the probability draws.
    pub seed: u64,
    /// By operation name, as in `X-Amz-Target` (`PutRecords`, `GetRecords`, ...).
    pub operations: HashMap<String, FaultRule>,
}

/// The faults of one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultRule {
    /// Chance (0 to 1) that a call (for PutRecords: an entry) is throttled.
    pub throttle_probability: f64,
    /// Every Nth call (entry) is throttled; 0: never.
    pub throttle_every: u64,
    /// Chance (0 to 1) that a call fails with InternalFailure (HTTP 500).
    pub internal_probability: f64,
    /// Every Nth call fails with InternalFailure; 0: never.
    pub internal_every: u64,
}

/// A [`FaultPlan`] in force: its counters and generator.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: HashMap<String, (FaultRule, Counters)>,
    draws: AtomicU64,
    seed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    throttle: AtomicU64,
    internal: AtomicU64,
}

impl Faults {
    pub(crate) fn new(plan: &FaultPlan) -> Self {
        Faults {
            rules: plan
                .operations
                .iter()
                .map(|(op, rule)| (op.clone(), (*rule, Counters::default())))
                .collect(),
            draws: AtomicU64::new(0),
            seed: plan.seed,
        }
    }

    /// Whether this call (or PutRecords entry) of `op` is throttled by a fault.
    pub(crate) fn throttle(&self, op: &str) -> bool {
        // Asked once per record on the write path: with no rule (the default), skip hashing.
        if self.rules.is_empty() {
            return false;
        }
        match self.rules.get(op) {
            None => false,
            Some((rule, c)) => {
                self.hit(&c.throttle, rule.throttle_every, rule.throttle_probability)
            }
        }
    }

    /// Whether this call of `op` fails with an injected internal failure.
    pub(crate) fn internal(&self, op: &str) -> bool {
        match self.rules.get(op) {
            None => false,
            Some((rule, c)) => {
                self.hit(&c.internal, rule.internal_every, rule.internal_probability)
            }
        }
    }

    fn hit(&self, counter: &AtomicU64, every: u64, probability: f64) -> bool {
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        let scheduled = every > 0 && n.is_multiple_of(every);
        scheduled || (probability > 0.0 && self.draw() < probability)
    }

    /// A uniform draw in [0, 1): SplitMix64 over the seed and a draw counter.
    fn draw(&self) -> f64 {
        let i = self.draws.fetch_add(1, Ordering::Relaxed);
        let mut z = self
            .seed
            .wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl crate::Engine {
    /// Whether the server should answer this call of `operation` with an injected
    /// InternalFailure (HTTP 500) instead of calling the engine.
    pub fn inject_internal_failure(&self, operation: &str) -> bool {
        self.faults.internal(operation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(op: &str, rule: FaultRule, seed: u64) -> Faults {
        Faults::new(&FaultPlan {
            seed,
            operations: [(op.to_owned(), rule)].into_iter().collect(),
        })
    }

    #[test]
    fn every_nth_call() {
        let f = plan(
            "GetRecords",
            FaultRule {
                throttle_every: 3,
                ..Default::default()
            },
            0,
        );
        let hits: Vec<bool> = (0..6).map(|_| f.throttle("GetRecords")).collect();
        assert_eq!(hits, [false, false, true, false, false, true]);
        assert!(!f.throttle("PutRecord"));
        assert!(!f.internal("GetRecords"));
    }

    #[test]
    fn probabilities_are_seeded() {
        let rule = FaultRule {
            internal_probability: 0.5,
            ..Default::default()
        };
        let run = |seed| {
            let f = plan("PutRecord", rule, seed);
            (0..64).map(|_| f.internal("PutRecord")).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let hits = run(7).iter().filter(|h| **h).count();
        assert!((16..=48).contains(&hits), "{hits} of 64");
    }
}
