//! Operation to engine call. One exhaustive match, no catch-all arm: adding an operation to
//! the model breaks the build here until it is either served or declared not yet built.

use tributary_engine::{Engine, RequestContext};
use tributary_model::types::*;
use tributary_model::{ApiError, ErrorCode, FromValue, Operation, ToValue, Value};

/// Calls the engine for `op` with the checked input; `None` means an empty 200 body (an
/// operation whose model has no output).
pub async fn dispatch(
    engine: &Engine,
    ctx: &RequestContext,
    op: Operation,
    input: Value,
) -> Result<Option<Value>, ApiError> {
    macro_rules! call {
        ($method:ident, $input:ty) => {
            engine
                .$method(ctx, <$input>::from_value(input))
                .await
                .map(|out| Some(out.to_value()))
                .map_err(ApiError::from)
        };
    }
    macro_rules! call_unit {
        ($method:ident, $input:ty) => {
            engine
                .$method(ctx, <$input>::from_value(input))
                .await
                .map(|()| None)
                .map_err(ApiError::from)
        };
    }
    use Operation as O;
    match op {
        O::AddTagsToStream => call_unit!(add_tags_to_stream, AddTagsToStreamInput),
        O::CreateStream => call_unit!(create_stream, CreateStreamInput),
        O::DecreaseStreamRetentionPeriod => {
            call_unit!(
                decrease_stream_retention_period,
                DecreaseStreamRetentionPeriodInput
            )
        }
        O::DeleteResourcePolicy => call_unit!(delete_resource_policy, DeleteResourcePolicyInput),
        O::DeleteStream => call_unit!(delete_stream, DeleteStreamInput),
        O::DescribeAccountSettings => {
            call!(describe_account_settings, DescribeAccountSettingsInput)
        }
        O::DescribeLimits => call!(describe_limits, DescribeLimitsInput),
        O::DescribeStream => call!(describe_stream, DescribeStreamInput),
        O::DescribeStreamSummary => call!(describe_stream_summary, DescribeStreamSummaryInput),
        O::DisableEnhancedMonitoring => {
            call!(disable_enhanced_monitoring, DisableEnhancedMonitoringInput)
        }
        O::EnableEnhancedMonitoring => {
            call!(enable_enhanced_monitoring, EnableEnhancedMonitoringInput)
        }
        O::GetRecords => call!(get_records, GetRecordsInput),
        O::GetResourcePolicy => call!(get_resource_policy, GetResourcePolicyInput),
        O::GetShardIterator => call!(get_shard_iterator, GetShardIteratorInput),
        O::IncreaseStreamRetentionPeriod => {
            call_unit!(
                increase_stream_retention_period,
                IncreaseStreamRetentionPeriodInput
            )
        }
        O::ListShards => call!(list_shards, ListShardsInput),
        O::ListStreams => call!(list_streams, ListStreamsInput),
        O::ListTagsForResource => call!(list_tags_for_resource, ListTagsForResourceInput),
        O::ListTagsForStream => call!(list_tags_for_stream, ListTagsForStreamInput),
        O::MergeShards => call_unit!(merge_shards, MergeShardsInput),
        O::PutRecord => call!(put_record, PutRecordInput),
        O::PutRecords => call!(put_records, PutRecordsInput),
        O::PutResourcePolicy => call_unit!(put_resource_policy, PutResourcePolicyInput),
        O::RemoveTagsFromStream => call_unit!(remove_tags_from_stream, RemoveTagsFromStreamInput),
        O::SplitShard => call_unit!(split_shard, SplitShardInput),
        O::TagResource => call_unit!(tag_resource, TagResourceInput),
        O::UntagResource => call_unit!(untag_resource, UntagResourceInput),
        O::UpdateAccountSettings => call!(update_account_settings, UpdateAccountSettingsInput),
        O::UpdateMaxRecordSize => call_unit!(update_max_record_size, UpdateMaxRecordSizeInput),
        O::UpdateShardCount => call!(update_shard_count, UpdateShardCountInput),
        O::UpdateStreamMode => call_unit!(update_stream_mode, UpdateStreamModeInput),
        O::UpdateStreamRecordDistributionStrategy => call_unit!(
            update_stream_record_distribution_strategy,
            UpdateStreamRecordDistributionStrategyInput
        ),
        O::UpdateStreamWarmThroughput => {
            call!(
                update_stream_warm_throughput,
                UpdateStreamWarmThroughputInput
            )
        }

        O::RegisterStreamConsumer => call!(register_stream_consumer, RegisterStreamConsumerInput),
        O::DeregisterStreamConsumer => {
            call_unit!(deregister_stream_consumer, DeregisterStreamConsumerInput)
        }
        O::DescribeStreamConsumer => call!(describe_stream_consumer, DescribeStreamConsumerInput),
        O::ListStreamConsumers => call!(list_stream_consumers, ListStreamConsumersInput),
        // Its response is an event stream: the pipeline hands it to `subscribe` before
        // dispatching, so reaching this arm is a routing bug, reported as a fault.
        O::SubscribeToShard => Err(ApiError::new(
            ErrorCode::InternalFailureException,
            "SubscribeToShard is served by the event-stream path",
        )),

        // Stream encryption, queues and channels come with their own issues.
        O::StartStreamEncryption
        | O::StopStreamEncryption
        | O::CreateQueue
        | O::DeleteQueue
        | O::DescribeQueue
        | O::ListQueues
        | O::UpdateQueue
        | O::ReceiveQueueRecords
        | O::AcknowledgeQueueRecords
        | O::UpdateQueueRecordsVisibility
        | O::ReceiveDeadLetterQueueRecords
        | O::AcknowledgeDeadLetterQueueRecords
        | O::UpdateDeadLetterQueueRecordsVisibility
        | O::RestoreDeadLetterQueueRecords
        | O::CreateChannel
        | O::DeleteChannel
        | O::DescribeChannel
        | O::ListChannels
        | O::UpdateChannel => Err(not_built(op)),
    }
}

/// The honest answer for an operation of the model this server does not serve yet.
pub fn not_built(op: Operation) -> ApiError {
    ApiError::new(
        ErrorCode::NotImplementedException,
        format!("Tributary does not implement {} yet", op.name()),
    )
}

/// GetRecords in JSON, encoded straight from the typed output (`json::encode_get_records`):
/// the one operation whose answer is large enough for the generic tree to show in profiles.
pub async fn get_records_json(
    engine: &Engine,
    ctx: &RequestContext,
    input: Value,
) -> Result<http::Response<crate::respond::Body>, ApiError> {
    let out = engine
        .get_records(ctx, GetRecordsInput::from_value(input))
        .await
        .map_err(ApiError::from)?;
    let body = tributary_protocol::json::encode_get_records(&out);
    Ok(crate::respond::ok(tributary_protocol::Format::Json, body))
}
