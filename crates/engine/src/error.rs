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
    /// Over a shard's (or stream's) throughput limit: ProvisionedThroughputExceededException.
    Throughput(String),
    /// The stream's KMS key cannot be used (disabled, pending deletion, gone, denied,
    /// throttled): the operation's `KMS*Exception`.
    Kms(KmsFailure),
    /// The message is generic; the cause was logged where the failure was made.
    Internal(String),
    /// A compare-and-set lost to another node: the cache was stale. The key was refreshed
    /// from the MetaStore before this was returned; the operation runs again (see
    /// [`retry_stale`]) and answers from the fresh state. Never reaches a client.
    Stale,
}

/// Which `KMS*Exception` a key service refusal becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KmsKind {
    NotFound,
    Disabled,
    InvalidState,
    AccessDenied,
    Throttled,
}

/// A key service refusal, with the key service's own message: AWS Kinesis relays KMS's
/// message in its KMS* exceptions (reconstructed: no recorded response was found; the
/// botocore model documents only the exception names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KmsFailure {
    pub kind: KmsKind,
    pub message: String,
}

impl std::fmt::Display for KmsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl Failure {
    pub(crate) fn kms(kind: KmsKind, message: impl Into<String>) -> Failure {
        Failure::Kms(KmsFailure {
            kind,
            message: message.into(),
        })
    }
}

impl From<tributary_kms::KeyError> for Failure {
    fn from(e: tributary_kms::KeyError) -> Self {
        use tributary_kms::KeyError as E;
        match e {
            E::NotFound(m) => Failure::kms(KmsKind::NotFound, m),
            E::Disabled(m) => Failure::kms(KmsKind::Disabled, m),
            E::InvalidState(m) => Failure::kms(KmsKind::InvalidState, m),
            E::AccessDenied(m) => Failure::kms(KmsKind::AccessDenied, m),
            E::Throttled(m) => Failure::kms(KmsKind::Throttled, m),
            // A blob this engine stored that the key service no longer accepts: the
            // engine's (or the store's) fault, not the caller's.
            e @ E::InvalidCiphertext(_) => Failure::internal("data key blob refused", e),
            // Like a storage outage: retryable, and not the caller's fault.
            e @ E::Unavailable(_) => Failure::internal("key service unavailable", e),
        }
    }
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
            | E::Closed(_)
            | E::Partial(_)) => Failure::internal("shard log operation failed", e),
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
    ($ty:ident, $from:ident, $m:ident, kms) => {
        match $m.kind {
            KmsKind::NotFound => $ty::KmsNotFound($m.message),
            KmsKind::Disabled => $ty::KmsDisabled($m.message),
            KmsKind::InvalidState => $ty::KmsInvalidState($m.message),
            KmsKind::AccessDenied => $ty::KmsAccessDenied($m.message),
            KmsKind::Throttled => $ty::KmsThrottling($m.message),
        }
    };
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
        Throughput => undeclared,
        Kms => undeclared,
    }
    DeleteStreamError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    DescribeStreamError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    DescribeStreamSummaryError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    ListStreamsError {
        NotFound => undeclared,           InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => ExpiredNextToken,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    ListShardsError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => ExpiredNextToken,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    PutRecordError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => undeclared,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => DryRunOperation,        Internal => InternalFailure,
        Throughput => ProvisionedThroughputExceeded,
        Kms => kms,
    }
    PutRecordsError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => undeclared,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => DryRunOperation,        Internal => InternalFailure,
        Throughput => ProvisionedThroughputExceeded,
        Kms => kms,
    }
    GetShardIteratorError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => undeclared,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => DryRunOperation,        Internal => InternalFailure,
        Throughput => ProvisionedThroughputExceeded,
        Kms => undeclared,
    }
    GetRecordsError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => undeclared,
        ExpiredIterator => ExpiredIterator,ExpiredNextToken => undeclared,
        DryRun => DryRunOperation,        Internal => InternalFailure,
        Throughput => ProvisionedThroughputExceeded,
        Kms => kms,
    }
    SplitShardError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    MergeShardsError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    UpdateShardCountError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    IncreaseStreamRetentionPeriodError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    DecreaseStreamRetentionPeriodError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    EnableEnhancedMonitoringError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    DisableEnhancedMonitoringError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    AddTagsToStreamError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    RemoveTagsFromStreamError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    ListTagsForStreamError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    TagResourceError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    UntagResourceError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    ListTagsForResourceError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    UpdateStreamModeError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    UpdateMaxRecordSizeError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    UpdateStreamWarmThroughputError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    UpdateStreamRecordDistributionStrategyError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    DescribeLimitsError {
        NotFound => undeclared,           InvalidArgument => undeclared,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    DescribeAccountSettingsError {
        NotFound => undeclared,           InvalidArgument => undeclared,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    UpdateAccountSettingsError {
        NotFound => undeclared,           InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    PutResourcePolicyError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    GetResourcePolicyError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    DeleteResourcePolicyError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    RegisterStreamConsumerError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    DeregisterStreamConsumerError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    DescribeStreamConsumerError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => undeclared,              LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    ListStreamConsumersError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => ExpiredNextToken,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    SubscribeToShardError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => DryRunOperation,        Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
    }
    StartStreamEncryptionError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => kms,
    }
    StopStreamEncryptionError {
        NotFound => ResourceNotFound,     InvalidArgument => InvalidArgument,
        InUse => ResourceInUse,           LimitExceeded => LimitExceeded,
        ExpiredIterator => undeclared,    ExpiredNextToken => undeclared,
        DryRun => undeclared,             Internal => InternalFailure,
        Throughput => undeclared,
        Kms => undeclared,
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
        let e: PutRecordsError = Failure::Throughput("slow".into()).into();
        assert_eq!(
            e,
            PutRecordsError::ProvisionedThroughputExceeded("slow".into())
        );
        let e: GetShardIteratorError = Failure::Throughput("slow".into()).into();
        assert_eq!(
            e,
            GetShardIteratorError::ProvisionedThroughputExceeded("slow".into())
        );
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
    fn kms_failures_map_to_their_exceptions() {
        use tributary_kms::KeyError;
        let e: PutRecordsError = Failure::from(KeyError::Disabled("off".into())).into();
        assert_eq!(e, PutRecordsError::KmsDisabled("off".into()));
        let e: GetRecordsError = Failure::from(KeyError::InvalidState("gone".into())).into();
        assert_eq!(e, GetRecordsError::KmsInvalidState("gone".into()));
        let e: PutRecordError = Failure::from(KeyError::Throttled("slow".into())).into();
        assert_eq!(e, PutRecordError::KmsThrottling("slow".into()));
        let e: StartStreamEncryptionError = Failure::from(KeyError::NotFound("no".into())).into();
        assert_eq!(e, StartStreamEncryptionError::KmsNotFound("no".into()));
        let e: StartStreamEncryptionError =
            Failure::from(KeyError::AccessDenied("deny".into())).into();
        assert_eq!(
            e,
            StartStreamEncryptionError::KmsAccessDenied("deny".into())
        );
        // An outage of the key service is the server's failure, with the generic message.
        let e: PutRecordError = Failure::from(KeyError::Unavailable("down".into())).into();
        assert_eq!(e, PutRecordError::InternalFailure(INTERNAL_MESSAGE.into()));
        // SubscribeToShard declares no KMS error.
        let e: SubscribeToShardError = Failure::kms(KmsKind::Disabled, "off").into();
        assert_eq!(
            e,
            SubscribeToShardError::InternalFailure(INTERNAL_MESSAGE.into())
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
