//! One internal failure type shared by every operation, converted into each operation's
//! generated error enum at the public boundary.
//!
//! Why: most checks (stream lookup, state, limits) are common to many operations, and the
//! generated enums differ only in which variants they have. Each operation's row below says,
//! for every kind, which variant it becomes; a kind the operation does not declare becomes
//! `InternalFailure`, and is logged, because it means an engine bug.

use tributary_model::*;

/// A reason an operation did not succeed, with the message AWS would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    NotFound(String),
    InvalidArgument(String),
    InUse(String),
    LimitExceeded(String),
    ExpiredIterator(String),
    ExpiredNextToken(String),
    DryRun(String),
    /// The message is generic; the cause was logged where the failure was made.
    Internal(String),
    /// A compare-and-set lost to another node: the cache was stale. The key was refreshed
    /// from the MetaStore before this was returned; the operation runs again (see
    /// [`retry_stale`]) and answers from the fresh state. Never reaches a client.
    Stale,
}

/// Marker inside `InternalFailure` for a [`Failure::Stale`] that crossed the operation's
/// public boundary, so [`retry_stale`] can tell it from a real internal failure.
const STALE_MARKER: &str = "\u{0}stale";

/// How many times an operation runs before a run of lost races becomes an internal failure.
pub(crate) const MAX_ATTEMPTS: usize = 8;

/// Operation errors that can carry a [`Failure::Stale`].
pub(crate) trait MaybeStale: Sized {
    fn is_stale(&self) -> bool;
    /// What a client sees when every attempt lost its race.
    fn exhausted() -> Self;
}

/// Runs `$call` (an operation's single attempt, an awaited expression) again while it lost
/// a race to another node, up to [`MAX_ATTEMPTS`] times.
macro_rules! retry_stale {
    ($call:expr) => {{
        let mut attempt = 1;
        loop {
            match $call {
                Err(e) if crate::error::MaybeStale::is_stale(&e) => {
                    if attempt >= crate::error::MAX_ATTEMPTS {
                        tracing::error!("an operation lost its compare-and-set race every time");
                        break Err(crate::error::MaybeStale::exhausted());
                    }
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use retry_stale;

/// What clients see for internal failures (AWS sends the same words).
pub(crate) const INTERNAL_MESSAGE: &str = "Internal service failure.";

impl Failure {
    /// Logs `cause` and returns a failure whose client-facing message hides it.
    pub(crate) fn internal(context: &str, cause: impl std::fmt::Display) -> Failure {
        tracing::error!(%cause, "{context}");
        Failure::Internal(INTERNAL_MESSAGE.to_owned())
    }

    pub(crate) fn dry_run() -> Failure {
        Failure::DryRun("Request would have succeeded, but DryRun flag is set.".to_owned())
    }
}

impl From<tributary_storage::StorageError> for Failure {
    fn from(e: tributary_storage::StorageError) -> Self {
        use tributary_storage::StorageError as E;
        match e {
            // The client's record, not the server, is at fault (the storage limit is far
            // above any stream's record size limit, so only a bug in those checks gets here).
            E::TooLarge { size, limit } => Failure::InvalidArgument(format!(
                "Record size {size} bytes exceeds the maximum record size the storage accepts \
                 ({limit} bytes)."
            )),
            e @ (E::NoSuchShard(_)
            | E::ShardExists(_)
            | E::Unavailable(_)
            | E::Corrupt(_)
            | E::Io(_)
            | E::Closed(_)) => Failure::internal("shard log operation failed", e),
        }
    }
}

impl From<tributary_storage::MetaError> for Failure {
    /// Callers that compare-and-set turn `Exists`, `NotFound` and `Conflict` into
    /// [`Failure::Stale`] after refreshing the key (`Engine::lost_race`); what reaches this
    /// conversion is a storage failure or an engine bug.
    fn from(e: tributary_storage::MetaError) -> Self {
        Failure::internal("metadata operation failed", e)
    }
}

pub(crate) type Outcome<T> = Result<T, Failure>;

/// `impl From<Failure> for $enum` from one row per operation that names what EVERY failure kind
/// becomes: a variant the operation declares, or `undeclared` where its model has no such error
/// (then the client sees `InternalFailure` and the kind is logged, because the engine made a
/// failure the operation cannot report: a bug). The generated `match` has no catch-all arm, so
/// a row that leaves a kind out, or a new `Failure` kind, does not compile until it is mapped.
macro_rules! failure_into {
    ($($ty:ident { $($from:ident => $to:ident),* $(,)? })*) => {$(
        impl From<Failure> for $ty {
            fn from(f: Failure) -> Self {
                match f {
                    $(Failure::$from(m) => failure_arm!($ty, $from, m, $to),)*
                    Failure::Stale => $ty::InternalFailure(STALE_MARKER.to_owned()),
                }
            }
        }

        impl MaybeStale for $ty {
            fn is_stale(&self) -> bool {
                matches!(self, $ty::InternalFailure(m) if m == STALE_MARKER)
            }

            fn exhausted() -> Self {
                $ty::InternalFailure(INTERNAL_MESSAGE.to_owned())
            }
        }
    )*};
}

/// One arm of [`failure_into`]: `undeclared`, or the variant of the operation's enum.
macro_rules! failure_arm {
    ($ty:ident, $from:ident, $m:ident, undeclared) => {{
        tracing::error!(
            kind = stringify!($from),
            message = %$m,
            operation = stringify!($ty),
            "failure kind not declared by the operation"
        );
        $ty::InternalFailure(INTERNAL_MESSAGE.to_owned())
    }};
    ($ty:ident, $from:ident, $m:ident, $to:ident) => {
        $ty::$to($m)
    };
}

failure_into! {
    CreateStreamError {
        NotFound => undeclared,           InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    DeleteStreamError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    DescribeStreamError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    DescribeStreamSummaryError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    ListStreamsError {
        NotFound => undeclared,           InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => ExpiredNextToken,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    ListShardsError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => ExpiredNextToken,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    PutRecordError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => undeclared,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => DryRunOperation,        Internal => InternalFailure,
    }
    PutRecordsError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => undeclared,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => DryRunOperation,        Internal => InternalFailure,
    }
    GetShardIteratorError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => undeclared,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => DryRunOperation,        Internal => InternalFailure,
    }
    GetRecordsError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => undeclared,
        ExpiredIterator => ExpiredIterator,ExpiredNextToken => undeclared,
        DryRun => DryRunOperation,        Internal => InternalFailure,
    }
    SplitShardError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    MergeShardsError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    UpdateShardCountError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    IncreaseStreamRetentionPeriodError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    DecreaseStreamRetentionPeriodError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    EnableEnhancedMonitoringError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    DisableEnhancedMonitoringError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    AddTagsToStreamError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    RemoveTagsFromStreamError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    ListTagsForStreamError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    TagResourceError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    UntagResourceError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    ListTagsForResourceError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    UpdateStreamModeError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    UpdateMaxRecordSizeError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    UpdateStreamWarmThroughputError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    UpdateStreamRecordDistributionStrategyError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    DescribeLimitsError {
        NotFound => undeclared,           InvalidArgument => undeclared,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    DescribeAccountSettingsError {
        NotFound => undeclared,           InvalidArgument => undeclared,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    UpdateAccountSettingsError {
        NotFound => undeclared,           InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    PutResourcePolicyError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    GetResourcePolicyError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    DeleteResourcePolicyError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    RegisterStreamConsumerError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    DeregisterStreamConsumerError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    DescribeStreamConsumerError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    ListStreamConsumersError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => ExpiredNextToken,
        DryRun => undeclared,             Internal => InternalFailure,
    }
    SubscribeToShardError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => DryRunOperation,        Internal => InternalFailure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_variants_map_through() {
        let e: PutRecordsError = Failure::NotFound("gone".into()).into();
        assert_eq!(e, PutRecordsError::ResourceNotFound("gone".into()));
        let e: GetRecordsError = Failure::ExpiredIterator("old".into()).into();
        assert_eq!(e, GetRecordsError::ExpiredIterator("old".into()));
        let e: ListStreamsError = Failure::ExpiredNextToken("stale".into()).into();
        assert_eq!(e, ListStreamsError::ExpiredNextToken("stale".into()));
        let e: SubscribeToShardError = Failure::DryRun("dry".into()).into();
        assert_eq!(e, SubscribeToShardError::DryRunOperation("dry".into()));
        let e: CreateStreamError = Failure::InUse("busy".into()).into();
        assert_eq!(e, CreateStreamError::ResourceInUse("busy".into()));
        // Internal failures keep their (already generic) message.
        let e: DescribeLimitsError = Failure::Internal(INTERNAL_MESSAGE.into()).into();
        assert_eq!(
            e,
            DescribeLimitsError::InternalFailure(INTERNAL_MESSAGE.into())
        );
    }

    #[test]
    fn undeclared_variants_become_internal_failures() {
        let internal = || INTERNAL_MESSAGE.to_owned();
        let e: CreateStreamError = Failure::NotFound("x".into()).into();
        assert_eq!(e, CreateStreamError::InternalFailure(internal()));
        let e: PutRecordError = Failure::ExpiredIterator("x".into()).into();
        assert_eq!(e, PutRecordError::InternalFailure(internal()));
        let e: DescribeLimitsError = Failure::InvalidArgument("x".into()).into();
        assert_eq!(e, DescribeLimitsError::InternalFailure(internal()));
        let e: DescribeStreamError = Failure::InUse("x".into()).into();
        assert_eq!(e, DescribeStreamError::InternalFailure(internal()));
        let e: GetShardIteratorError = Failure::ExpiredNextToken("x".into()).into();
        assert_eq!(e, GetShardIteratorError::InternalFailure(internal()));
    }
}
