//! AWS's error messages, in one place.
//!
//! Messages marked "recorded" were captured from AWS responses (kinesalite's test suite
//! keeps them). The others are our best reconstruction of AWS's wording; change them here
//! when a real response says otherwise.

use crate::meta::Status;

pub(crate) fn canonical_shard_id(index: u32) -> String {
    let mut s = String::with_capacity(20);
    s.push_str("shardId-");
    crate::seqnum::push_digits(&mut s, u64::from(index), 12);
    s
}

/// Recorded.
pub(crate) fn stream_not_found(name: &str, account: &str) -> String {
    format!("Stream {name} under account {account} not found.")
}

/// Reconstructed (kinesalite answers with an empty message).
pub(crate) fn stream_exists(name: &str, account: &str) -> String {
    format!("Stream {name} under account {account} already exists.")
}

/// Recorded.
pub(crate) fn not_active(name: &str, account: &str, status: Status) -> String {
    format!(
        "Stream {name} under account {account} not ACTIVE, instead in state {}",
        status.as_str()
    )
}

/// Recorded (GetShardIterator, GetRecords).
pub(crate) fn shard_does_not_exist(shard_id: &str, name: &str, account: &str) -> String {
    format!("Shard {shard_id} in stream {name} under account {account} does not exist")
}

/// Recorded (unparseable shard ids; SplitShard and MergeShards for missing shards).
pub(crate) fn could_not_find_shard(shard_id: &str, name: &str, account: &str) -> String {
    format!("Could not find shard {shard_id} in stream {name} under account {account}.")
}

/// Reconstructed.
pub(crate) const NO_STREAM_IDENTIFIER: &str = "Either StreamName or StreamARN must be provided.";

/// Reconstructed.
pub(crate) fn name_and_arn_differ(name: &str, arn: &str) -> String {
    format!("StreamName {name} and StreamARN {arn} do not refer to the same stream.")
}

/// Reconstructed.
pub(crate) fn invalid_stream_arn(arn: &str) -> String {
    format!("StreamARN {arn} is not a valid stream ARN.")
}

/// Recorded.
pub(crate) fn shard_limit(
    account: &str,
    region: &str,
    current: usize,
    limit: u32,
    added: usize,
) -> String {
    format!(
        "This request would exceed the shard limit for the account {account} in {region}. \
         Current shard count for the account: {current}. Limit: {limit}. Number of additional \
         shards that would have resulted from this request: {added}. Refer to the AWS Service \
         Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for \
         current limits and how to request higher limits."
    )
}

/// Reconstructed on the model of the shard-limit message.
pub(crate) fn on_demand_limit(account: &str, region: &str, current: usize, limit: u32) -> String {
    format!(
        "This request would exceed the on-demand stream count limit for the account {account} in \
         {region}. Current on-demand stream count for the account: {current}. Limit: {limit}."
    )
}

/// Recorded.
pub(crate) fn invalid_explicit_hash_key(value: &str) -> String {
    format!(
        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. \
         Specified value was {value}"
    )
}

/// Recorded.
pub(crate) fn invalid_ordering_number(seq: &str, name: &str, account: &str) -> String {
    format!(
        "ExclusiveMinimumSequenceNumber {seq} used in PutRecord on stream {name} under account \
         {account} is invalid."
    )
}

/// Recorded.
pub(crate) const INVALID_SHARD_ITERATOR: &str = "Invalid ShardIterator.";

/// Recorded.
pub(crate) fn iterator_expired(created: &str, now: &str, ttl_ms: i64) -> String {
    format!(
        "Iterator expired. The iterator was created at time {created} while right now it is \
         {now} which is further in the future than the tolerated delay of {ttl_ms} milliseconds."
    )
}

/// Recorded.
pub(crate) fn iterator_type_mismatch(kind: &str, has_seq: bool) -> String {
    format!(
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and \
         StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. \
         Request specified {kind} and {}",
        if has_seq {
            "also a StartingSequenceNumber."
        } else {
            "no StartingSequenceNumber."
        }
    )
}

/// Recorded.
pub(crate) const AT_TIMESTAMP_WITHOUT_TIMESTAMP: &str = "Must specify timestampInMillis parameter \
     for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.";

/// Recorded from AWS responses seen in client issue reports.
pub(crate) fn timestamp_in_future(ts: i64, now: i64) -> String {
    format!(
        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. \
         timestampInMillis: {ts}, currentTimestampInMillis: {now}"
    )
}

/// Recorded for GetShardIterator; `op` names the operation (SubscribeToShard's wording is
/// reconstructed on the same model).
pub(crate) fn invalid_starting_seq(
    op: &str,
    seq: &str,
    shard_id: &str,
    name: &str,
    account: &str,
) -> String {
    format!(
        "StartingSequenceNumber {seq} used in {op} on shard {shard_id} in stream \
         {name} under account {account} is invalid."
    )
}

/// Recorded.
pub(crate) fn starting_seq_other_shard(encoded: &str, shard_id: &str) -> String {
    format!(
        "Invalid StartingSequenceNumber. It encodes {encoded}, while it was used in a call to a \
         shard with {shard_id}"
    )
}

/// Recorded for GetShardIterator (see `invalid_starting_seq`).
pub(crate) fn starting_seq_other_stream(
    op: &str,
    seq: &str,
    shard_id: &str,
    name: &str,
    account: &str,
) -> String {
    format!(
        "StartingSequenceNumber {seq} used in {op} on shard {shard_id} in stream \
         {name} under account {account} is invalid because it did not come from this stream."
    )
}

/// Recorded.
pub(crate) fn retention_too_short(hours: i32) -> String {
    format!(
        "Minimum allowed retention period is 24 hours. Requested retention period ({hours} hours) \
         is too short."
    )
}

/// Recorded (with AWS's current maximum of 8760 hours).
pub(crate) fn retention_too_long(hours: i32) -> String {
    format!(
        "Maximum allowed retention period is 8760 hours. Requested retention period ({hours} \
         hours) is too long."
    )
}

/// Recorded.
pub(crate) fn retention_not_increase(hours: i32, name: &str, current: u32) -> String {
    format!(
        "Requested retention period ({hours} hours) for stream {name} can not be shorter than \
         existing retention period ({current} hours). Use DecreaseRetentionPeriod API."
    )
}

/// Recorded.
pub(crate) fn retention_not_decrease(hours: i32, name: &str, current: u32) -> String {
    format!(
        "Requested retention period ({hours} hours) for stream {name} can not be longer than \
         existing retention period ({current} hours). Use IncreaseRetentionPeriod API."
    )
}

/// Recorded.
pub(crate) const TAG_INVALID_CHARACTERS: &str = "Some tags contain invalid characters. Valid \
     characters: Unicode letters, digits, white space, _ . / = + - % @.";

/// Recorded (`verb` is "add tags to" or "remove tags from").
pub(crate) fn tag_percent(verb: &str, name: &str, account: &str) -> String {
    format!(
        "Failed to {verb} stream {name} under account {account} because some tags contained \
         illegal characters. The allowed characters are Unicode letters, white-spaces, \
         '_',',','/','=','+','-','@'."
    )
}

/// Recorded (with AWS's current limit of 50 tags).
pub(crate) fn too_many_tags(name: &str, account: &str) -> String {
    format!(
        "Failed to add tags to stream {name} under account {account} because a given stream \
         cannot have more than 50 tags associated with it."
    )
}

/// Recorded.
pub(crate) fn bad_split_key(
    key: &str,
    shard_id: &str,
    name: &str,
    account: &str,
    start: u128,
    end: u128,
) -> String {
    format!(
        "NewStartingHashKey {key} used in SplitShard() on shard {shard_id} in stream {name} under \
         account {account} is not both greater than one plus the shard's StartingHashKey {start} \
         and less than the shard's EndingHashKey {end}."
    )
}

/// Recorded.
pub(crate) fn not_adjacent(a: &str, b: &str, name: &str, account: &str) -> String {
    format!(
        "Shards {a} and {b} in stream {name} under account {account} are not an adjacent pair of \
         shards eligible for merging"
    )
}

/// Reconstructed.
pub(crate) fn shard_closed(shard_id: &str, name: &str, account: &str, action: &str) -> String {
    format!(
        "Shard {shard_id} in stream {name} under account {account} has already been merged or \
         split, and thus is not eligible for {action}."
    )
}

/// Recorded.
pub(crate) fn scale_over_limit(limit: u32, open: usize, target: i32) -> String {
    format!(
        "Target shard count or number of open shards cannot be greater than {limit}. Current \
         open shard count: {open}, Target shard count: {target}"
    )
}

/// Recorded.
pub(crate) fn scale_over_double(open: usize, target: i32) -> String {
    format!(
        "UpdateShardCount cannot scale up over double your current open shard count. Current \
         open shard count: {open}, Target shard count: {target}"
    )
}

/// Recorded.
pub(crate) fn scale_under_half(open: usize, target: i32) -> String {
    format!(
        "UpdateShardCount cannot scale down below half your current open shard count. Current \
         open shard count: {open}, Target shard count: {target}"
    )
}

/// Reconstructed.
pub(crate) fn on_demand_no_resharding(op: &str, name: &str, account: &str) -> String {
    format!("{op} is not supported for stream {name} under account {account} because it is in ON_DEMAND mode.")
}

/// Recorded (the apostrophe is U+2019 in AWS's text).
pub(crate) fn stream_has_consumers(name: &str, account: &str) -> String {
    format!(
        "DeleteStream can\u{2019}t delete {account}:{name} because there are consumers \
         associated with this data stream. To delete {name} anyway, set the \
         EnforceConsumerDeletion parameter to true to force the deletion of all the consumers \
         that are associated with it."
    )
}

/// Recorded (SubscribeToShard while another subscription of the consumer reads the shard).
pub(crate) fn another_subscription(
    account: &str,
    stream: &str,
    shard_id: &str,
    consumer: &str,
) -> String {
    format!("Another active subscription exists for this consumer: {account}:{stream}:{shard_id}:{consumer}")
}

/// Recorded (SubscribeToShard on a consumer that is CREATING or DELETING; `secs` is the
/// creation time in the consumer's ARN).
pub(crate) fn consumer_not_active_subscribe(
    name: &str,
    secs: i64,
    stream: &str,
    account: &str,
) -> String {
    format!(
        "Consumer {name} with creation timestamp {secs} under stream: {stream} , account \
         {account} is not in ACTIVE status."
    )
}

/// Recorded (PutResourcePolicy on a consumer that is not ACTIVE).
pub(crate) fn consumer_not_active(name: &str, secs: i64, stream: &str, account: &str) -> String {
    format!(
        "Consumer {name} with creation timestamp {secs} under stream {stream} and account \
         {account} is not in ACTIVE status."
    )
}

/// Reconstructed on the model of `consumer_not_active`. `secs` is given when the consumer
/// was named by its ARN.
pub(crate) fn consumer_not_found(
    name: &str,
    secs: Option<i64>,
    stream: &str,
    account: &str,
) -> String {
    match secs {
        Some(secs) => format!(
            "Consumer {name} with creation timestamp {secs} under stream {stream} and account \
             {account} not found."
        ),
        None => format!("Consumer {name} under stream {stream} and account {account} not found."),
    }
}

/// Reconstructed.
pub(crate) fn consumer_exists(name: &str, stream: &str, account: &str) -> String {
    format!("Consumer {name} under stream {stream} and account {account} already exists.")
}

/// Reconstructed (AWS documents the limit of 20 consumers per stream).
pub(crate) fn consumer_limit(stream: &str, account: &str, limit: usize) -> String {
    format!(
        "Stream {stream} under account {account} already has {limit} registered consumers, \
         the maximum."
    )
}

/// Reconstructed (AWS documents that only 5 consumers can be CREATING at once).
pub(crate) fn consumers_creating_limit(stream: &str, account: &str, limit: usize) -> String {
    format!(
        "Stream {stream} under account {account} already has {limit} consumers in CREATING \
         status; only {limit} consumers can be created simultaneously."
    )
}

/// Reconstructed.
pub(crate) fn invalid_consumer_arn(arn: &str) -> String {
    format!("ConsumerARN {arn} is not a valid consumer ARN.")
}

/// Reconstructed.
pub(crate) const NO_CONSUMER_IDENTIFIER: &str =
    "Either ConsumerARN or both ConsumerName and StreamARN must be provided.";

/// Reconstructed (ConsumerARN given with a StreamARN or ConsumerName that names another
/// consumer).
pub(crate) fn consumer_args_conflict(arn: &str) -> String {
    format!("StreamARN and ConsumerName do not match ConsumerARN {arn}.")
}

/// DeleteResourcePolicy on a resource without a policy. AWS answers ResourceNotFoundException
/// (Terraform's aws_kinesis_resource_policy treats exactly that error as "already deleted");
/// the wording is reconstructed.
pub(crate) fn no_resource_policy(arn: &str) -> String {
    format!("No resource policy found for resource {arn}.")
}

/// Recorded: a PutRecords entry's ErrorMessage in the PutRecords API reference's example
/// ("Rate exceeded for shard shardId-000000000001 in stream exampleStreamName under account
/// 111111111111."), and in transcripts of throttled producers. PutRecord sends the same as
/// its exception's message; GetShardIterator's is reconstructed on it.
pub(crate) fn write_rate_exceeded(shard_id: &str, name: &str, account: &str) -> String {
    format!("Rate exceeded for shard {shard_id} in stream {name} under account {account}.")
}

/// Recorded: a GetRecords refusal as the Java SDK relays it
/// ("Rate exceeded for Shard - 120849107321/kds-dk-logs-staging/shardId-000000000003").
pub(crate) fn read_rate_exceeded(shard_id: &str, name: &str, account: &str) -> String {
    format!("Rate exceeded for Shard - {account}/{name}/{shard_id}")
}

/// Reconstructed (AWS documents the limit, one call per second per consumer and shard, not
/// its message).
pub(crate) fn subscribe_rate_exceeded(
    consumer_arn: &str,
    shard_id: &str,
    name: &str,
    account: &str,
) -> String {
    format!(
        "Rate exceeded for consumer {consumer_arn} and shard {shard_id} in stream {name} under \
         account {account}."
    )
}

/// Reconstructed on the CreateStream API reference ("Have more than five streams in the
/// CREATING state at any point in time").
pub(crate) fn creating_streams_limit(account: &str, region: &str, limit: usize) -> String {
    format!(
        "This request would exceed the limit of {limit} streams in CREATING state at once for \
         the account {account} in {region}."
    )
}

/// Reconstructed on the UpdateShardCount API reference ("Scale more than ten times per
/// rolling 24-hour period per stream").
pub(crate) fn scale_too_often(name: &str, account: &str, limit: usize) -> String {
    format!(
        "UpdateShardCount cannot scale stream {name} under account {account} more than {limit} \
         times in a rolling 24-hour period."
    )
}
