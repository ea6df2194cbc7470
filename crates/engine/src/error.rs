//! One internal failure type shared by every operation, converted into each operation's
//! generated error enum at the public boundary.
//!
//! Why: most checks (stream lookup, state, limits) are common to many operations, and the
//! generated enums differ only in which variants they have. A variant an operation does not
//! declare becomes `InternalFailure`, and is logged, because it means an engine bug.

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
}

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
            | E::Io(_)) => Failure::internal("shard log operation failed", e),
        }
    }
}

impl From<tributary_storage::MetaError> for Failure {
    fn from(e: tributary_storage::MetaError) -> Self {
        Failure::internal("metadata operation failed", e)
    }
}

pub(crate) type Outcome<T> = Result<T, Failure>;

/// `impl From<Failure> for $enum`, naming the variants the operation declares.
macro_rules! failure_into {
    ($($ty:ident { $($from:ident => $to:ident),* $(,)? })*) => {$(
        impl From<Failure> for $ty {
            fn from(f: Failure) -> Self {
                match f {
                    $(Failure::$from(m) => $ty::$to(m),)*
                    Failure::Internal(m) => $ty::InternalFailure(m),
                    #[allow(unreachable_patterns)]
                    other => {
                        tracing::error!(failure = ?other, operation = stringify!($ty),
                            "failure kind not declared by the operation");
                        $ty::InternalFailure(INTERNAL_MESSAGE.to_owned())
                    }
                }
            }
        }
    )*};
}

failure_into! {
    CreateStreamError { InUse => ResourceInUse, LimitExceeded => LimitExceeded, InvalidArgument => InvalidArgument }
    DeleteStreamError { NotFound => ResourceNotFound, LimitExceeded => LimitExceeded, InUse => ResourceInUse, InvalidArgument => InvalidArgument }
    DescribeStreamError { NotFound => ResourceNotFound, LimitExceeded => LimitExceeded, InvalidArgument => InvalidArgument }
    DescribeStreamSummaryError { NotFound => ResourceNotFound, LimitExceeded => LimitExceeded, InvalidArgument => InvalidArgument }
    ListStreamsError { LimitExceeded => LimitExceeded, ExpiredNextToken => ExpiredNextToken, InvalidArgument => InvalidArgument }
    ListShardsError { NotFound => ResourceNotFound, InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded, ExpiredNextToken => ExpiredNextToken, InUse => ResourceInUse }
    PutRecordError { NotFound => ResourceNotFound, InvalidArgument => InvalidArgument, DryRun => DryRunOperation }
    PutRecordsError { NotFound => ResourceNotFound, InvalidArgument => InvalidArgument, DryRun => DryRunOperation }
    GetShardIteratorError { NotFound => ResourceNotFound, InvalidArgument => InvalidArgument, DryRun => DryRunOperation }
    GetRecordsError { NotFound => ResourceNotFound, InvalidArgument => InvalidArgument, ExpiredIterator => ExpiredIterator, DryRun => DryRunOperation }
    SplitShardError { NotFound => ResourceNotFound, InUse => ResourceInUse, InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded }
    MergeShardsError { NotFound => ResourceNotFound, InUse => ResourceInUse, InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded }
    UpdateShardCountError { InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded, InUse => ResourceInUse, NotFound => ResourceNotFound }
    IncreaseStreamRetentionPeriodError { InUse => ResourceInUse, NotFound => ResourceNotFound, LimitExceeded => LimitExceeded, InvalidArgument => InvalidArgument }
    DecreaseStreamRetentionPeriodError { InUse => ResourceInUse, NotFound => ResourceNotFound, LimitExceeded => LimitExceeded, InvalidArgument => InvalidArgument }
    EnableEnhancedMonitoringError { InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded, InUse => ResourceInUse, NotFound => ResourceNotFound }
    DisableEnhancedMonitoringError { InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded, InUse => ResourceInUse, NotFound => ResourceNotFound }
    AddTagsToStreamError { NotFound => ResourceNotFound, InUse => ResourceInUse, InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded }
    RemoveTagsFromStreamError { NotFound => ResourceNotFound, InUse => ResourceInUse, InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded }
    ListTagsForStreamError { NotFound => ResourceNotFound, InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded }
    TagResourceError { NotFound => ResourceNotFound, InUse => ResourceInUse, InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded }
    UntagResourceError { NotFound => ResourceNotFound, InUse => ResourceInUse, InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded }
    ListTagsForResourceError { NotFound => ResourceNotFound, InUse => ResourceInUse, InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded }
    UpdateStreamModeError { InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded, InUse => ResourceInUse, NotFound => ResourceNotFound }
    UpdateMaxRecordSizeError { InUse => ResourceInUse, NotFound => ResourceNotFound, LimitExceeded => LimitExceeded, InvalidArgument => InvalidArgument }
    UpdateStreamWarmThroughputError { NotFound => ResourceNotFound, LimitExceeded => LimitExceeded, InvalidArgument => InvalidArgument, InUse => ResourceInUse }
    UpdateStreamRecordDistributionStrategyError { NotFound => ResourceNotFound, InvalidArgument => InvalidArgument, InUse => ResourceInUse, LimitExceeded => LimitExceeded }
    DescribeLimitsError { LimitExceeded => LimitExceeded }
    DescribeAccountSettingsError { LimitExceeded => LimitExceeded }
    UpdateAccountSettingsError { InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded }
    PutResourcePolicyError { NotFound => ResourceNotFound, LimitExceeded => LimitExceeded, InvalidArgument => InvalidArgument, InUse => ResourceInUse }
    GetResourcePolicyError { NotFound => ResourceNotFound, LimitExceeded => LimitExceeded, InvalidArgument => InvalidArgument, InUse => ResourceInUse }
    DeleteResourcePolicyError { NotFound => ResourceNotFound, LimitExceeded => LimitExceeded, InvalidArgument => InvalidArgument, InUse => ResourceInUse }
    RegisterStreamConsumerError { InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded, InUse => ResourceInUse, NotFound => ResourceNotFound }
    DeregisterStreamConsumerError { LimitExceeded => LimitExceeded, NotFound => ResourceNotFound, InvalidArgument => InvalidArgument }
    DescribeStreamConsumerError { LimitExceeded => LimitExceeded, NotFound => ResourceNotFound, InvalidArgument => InvalidArgument }
    ListStreamConsumersError { NotFound => ResourceNotFound, InvalidArgument => InvalidArgument, LimitExceeded => LimitExceeded, ExpiredNextToken => ExpiredNextToken, InUse => ResourceInUse }
    SubscribeToShardError { NotFound => ResourceNotFound, InvalidArgument => InvalidArgument, InUse => ResourceInUse, LimitExceeded => LimitExceeded, DryRun => DryRunOperation }
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
    }

    #[test]
    fn undeclared_variants_become_internal_failures() {
        let e: CreateStreamError = Failure::NotFound("x".into()).into();
        assert_eq!(
            e,
            CreateStreamError::InternalFailure(INTERNAL_MESSAGE.into())
        );
    }
}
