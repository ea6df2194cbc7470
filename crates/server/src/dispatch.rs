//! Operation to engine call. One exhaustive match, no catch-all arm: adding an operation to
//! the model breaks the build here until it is either served or declared not yet built.

use std::sync::Arc;

use bytes::Bytes;
use tributary_engine::{Engine, RequestContext, Subscription};
use tributary_model::{ApiError, ErrorCode, Operation};
use tributary_protocol::{encode, Format, Input};

/// What an operation answers: every operation's success is one of these, and
/// `respond::reply` is the one place that turns it into HTTP.
pub enum Reply {
    /// The operation's output, encoded in the request's format.
    Body(Bytes),
    /// An operation whose model has no output: 200 with an empty body.
    Empty,
    /// SubscribeToShard: an event stream fed by the subscription.
    Events(Subscription),
}

/// Calls the engine with the decoded, valid input.
pub async fn dispatch(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    format: Format,
    input: Input,
) -> Result<Reply, ApiError> {
    macro_rules! call {
        ($method:ident, $input:expr) => {
            engine
                .$method(ctx, $input)
                .await
                .map(|out| Reply::Body(encode::to_body(format, &out)))
                .map_err(ApiError::from)
        };
    }
    // Operations that change state run as tasks of their own, to completion even when hyper
    // drops the request (client gone, RST_STREAM, shutdown): cut off between its durable
    // MetaStore write and the engine's cache update, a change would leave the two disagreeing
    // (a stream stored but invisible, a stale revision failing every later change) until a
    // restart. Reads and the data plane need no task: nothing of theirs can be half done.
    macro_rules! change {
        ($method:ident, $input:expr) => {
            change!(@run $method, $input).map(|out| Reply::Body(encode::to_body(format, &out)))
        };
        (@run $method:ident, $input:expr) => {
            detached(engine, ctx, $input, |e, c, i| async move {
                e.$method(&c, i).await
            })
            .await
            .and_then(|r| r.map_err(ApiError::from))
        };
    }
    macro_rules! change_unit {
        ($method:ident, $input:expr) => {
            change!(@run $method, $input).map(|()| Reply::Empty)
        };
    }
    let op = input.operation();
    // Injected faults (`[faults]` of the configuration), for testing clients' retries.
    if engine.inject_internal_failure(op.name()) {
        return Err(ApiError::new(
            ErrorCode::InternalFailureException,
            "Internal service failure.",
        ));
    }
    // AWS's per-account rates of control-plane calls, under `limits = aws`.
    if let Some(message) = engine.throttle_control(ctx, op.name()) {
        return Err(ApiError::new(ErrorCode::LimitExceededException, message));
    }
    use Input as O;
    match input {
        O::AddTagsToStream(i) => change_unit!(add_tags_to_stream, i),
        O::CreateStream(i) => change_unit!(create_stream, i),
        O::DecreaseStreamRetentionPeriod(i) => change_unit!(decrease_stream_retention_period, i),
        O::DeleteResourcePolicy(i) => change_unit!(delete_resource_policy, i),
        O::DeleteStream(i) => change_unit!(delete_stream, i),
        O::DescribeAccountSettings(i) => call!(describe_account_settings, i),
        O::DescribeLimits(i) => call!(describe_limits, i),
        O::DescribeStream(i) => call!(describe_stream, i),
        O::DescribeStreamSummary(i) => call!(describe_stream_summary, i),
        O::DisableEnhancedMonitoring(i) => change!(disable_enhanced_monitoring, i),
        O::EnableEnhancedMonitoring(i) => change!(enable_enhanced_monitoring, i),
        O::GetRecords(i) => call!(get_records, i),
        O::GetResourcePolicy(i) => call!(get_resource_policy, i),
        O::GetShardIterator(i) => call!(get_shard_iterator, i),
        O::IncreaseStreamRetentionPeriod(i) => change_unit!(increase_stream_retention_period, i),
        O::ListShards(i) => call!(list_shards, i),
        O::ListStreams(i) => call!(list_streams, i),
        O::ListTagsForResource(i) => call!(list_tags_for_resource, i),
        O::ListTagsForStream(i) => call!(list_tags_for_stream, i),
        O::MergeShards(i) => change_unit!(merge_shards, i),
        O::PutRecord(i) => call!(put_record, i),
        O::PutRecords(i) => call!(put_records, i),
        O::PutResourcePolicy(i) => change_unit!(put_resource_policy, i),
        O::RemoveTagsFromStream(i) => change_unit!(remove_tags_from_stream, i),
        O::SplitShard(i) => change_unit!(split_shard, i),
        O::TagResource(i) => change_unit!(tag_resource, i),
        O::UntagResource(i) => change_unit!(untag_resource, i),
        O::UpdateAccountSettings(i) => change!(update_account_settings, i),
        O::UpdateMaxRecordSize(i) => change_unit!(update_max_record_size, i),
        O::UpdateShardCount(i) => change!(update_shard_count, i),
        O::UpdateStreamMode(i) => change_unit!(update_stream_mode, i),
        O::UpdateStreamRecordDistributionStrategy(i) => {
            change_unit!(update_stream_record_distribution_strategy, i)
        }
        O::UpdateStreamWarmThroughput(i) => change!(update_stream_warm_throughput, i),

        O::RegisterStreamConsumer(i) => change!(register_stream_consumer, i),
        O::DeregisterStreamConsumer(i) => change_unit!(deregister_stream_consumer, i),
        O::DescribeStreamConsumer(i) => call!(describe_stream_consumer, i),
        O::ListStreamConsumers(i) => call!(list_stream_consumers, i),
        O::SubscribeToShard(i) => engine
            .subscribe_to_shard(ctx, i)
            .await
            .map(Reply::Events)
            .map_err(ApiError::from),

        O::StartStreamEncryption(i) => change_unit!(start_stream_encryption, i),
        O::StopStreamEncryption(i) => change_unit!(stop_stream_encryption, i),

        // Queues and channels come with their own issues.
        O::CreateQueue(_)
        | O::DeleteQueue(_)
        | O::DescribeQueue(_)
        | O::ListQueues(_)
        | O::UpdateQueue(_)
        | O::ReceiveQueueRecords(_)
        | O::AcknowledgeQueueRecords(_)
        | O::UpdateQueueRecordsVisibility(_)
        | O::ReceiveDeadLetterQueueRecords(_)
        | O::AcknowledgeDeadLetterQueueRecords(_)
        | O::UpdateDeadLetterQueueRecordsVisibility(_)
        | O::RestoreDeadLetterQueueRecords(_)
        | O::CreateChannel(_)
        | O::DeleteChannel(_)
        | O::DescribeChannel(_)
        | O::ListChannels(_)
        | O::UpdateChannel(_) => Err(not_built(op)),
    }
}

/// Runs `op` on its own task and waits for it; a panic in it is an internal failure.
async fn detached<I, F, T>(
    engine: &Arc<Engine>,
    ctx: &RequestContext,
    input: I,
    op: impl FnOnce(Arc<Engine>, RequestContext, I) -> F,
) -> Result<T, ApiError>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(op(Arc::clone(engine), ctx.clone(), input))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "operation task failed");
            ApiError::new(
                ErrorCode::InternalFailureException,
                "Internal service failure.",
            )
        })
}

/// The honest answer for an operation of the model this server does not serve yet.
pub fn not_built(op: Operation) -> ApiError {
    ApiError::new(
        ErrorCode::NotImplementedException,
        format!("Tributary does not implement {} yet", op.name()),
    )
}
