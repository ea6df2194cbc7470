//! What one append learns from JetStream, and what it tells the engine.
//!
//! The engine writes the records of an append again when the log answers `Closed` or
//! `NoSuchShard`, since those promise that nothing of the call was stored. A publish that got
//! no answer may have stored its batch, and an append to several shards may have stored some:
//! neither may be reported as "closed", or the engine stores records twice.

use crate::{Appended, StorageError, StorageResult};

/// How one batch publish ended, when it did not store the batch for sure.
pub(super) enum Publish {
    /// Another writer appended first; nothing of this batch was stored. JetStream's answer
    /// names the end it checked against ("wrong last sequence: N").
    Fenced(Option<u64>),
    /// Nothing of this batch was stored: JetStream answered with an error, nobody listened
    /// on the subject, or the batch never reached its commit.
    Refused(StorageError),
    /// No answer: the batch may or may not be stored.
    Failed(StorageError),
}

/// One append call's answer from its shards' outcomes, keeping the promise of `Closed` and
/// `NoSuchShard` that nothing of the call was written (the engine then writes it again).
pub(super) fn combine(outcomes: Vec<StorageResult<Appended>>) -> StorageResult<Vec<Appended>> {
    let stored = outcomes.iter().filter(|o| o.is_ok()).count();
    if stored == outcomes.len() {
        return outcomes.into_iter().collect();
    }
    if stored > 0 {
        return Err(StorageError::Partial(outcomes));
    }
    // Nothing stored for sure only if every shard says so; otherwise the shard that may hold
    // its records answers.
    let mut errors: Vec<StorageError> = outcomes.into_iter().filter_map(Result::err).collect();
    let unsure = errors
        .iter()
        .position(|e| !matches!(e, StorageError::Closed(_) | StorageError::NoSuchShard(_)));
    Err(errors.swap_remove(unsure.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShardKey;

    const A: Appended = Appended {
        first_offset: 7,
        arrival_ms: 1,
    };

    fn closed() -> StorageResult<Appended> {
        Err(StorageError::Closed(ShardKey {
            stream: 1,
            shard: 0,
        }))
    }

    fn unsure() -> StorageResult<Appended> {
        Err(StorageError::Unavailable(
            "publish: request timed out".into(),
        ))
    }

    #[test]
    fn every_shard_stored_is_success() {
        assert_eq!(combine(vec![Ok(A), Ok(A)]).unwrap(), vec![A, A]);
    }

    #[test]
    fn some_shards_stored_is_partial_with_each_outcome() {
        for other in [closed(), unsure()] {
            match combine(vec![Ok(A), other.clone()]) {
                Err(StorageError::Partial(each)) => {
                    assert!(matches!(each[0], Ok(a) if a == A));
                    assert_eq!(each[1].is_err(), other.is_err());
                }
                r => panic!("{r:?}"),
            }
        }
    }

    #[test]
    fn closed_only_when_no_shard_may_hold_records() {
        assert!(matches!(
            combine(vec![closed(), closed()]),
            Err(StorageError::Closed(_))
        ));
        // One shard refused for sure, the other may have stored: "closed" would be a lie.
        for outcomes in [vec![closed(), unsure()], vec![unsure(), closed()]] {
            assert!(matches!(
                combine(outcomes),
                Err(StorageError::Unavailable(_))
            ));
        }
    }
}
