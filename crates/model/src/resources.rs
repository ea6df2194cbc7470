//! The resources a request names, as authorization needs them. Filled in for every operation
//! by code generated from the model (`tributary_protocol`'s `Input::resources`): each member
//! that names a stream, consumer or other resource, by its model name.

/// Borrowed from the decoded input; `None` where the operation has no such member or the
/// request left it out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources<'a> {
    pub stream_name: Option<&'a str>,
    pub stream_arn: Option<&'a str>,
    pub consumer_name: Option<&'a str>,
    pub consumer_arn: Option<&'a str>,
    /// `ResourceARN` of the policy and tagging operations.
    pub resource_arn: Option<&'a str>,
    pub queue_arn: Option<&'a str>,
    pub channel_arn: Option<&'a str>,
    /// GetRecords names no stream: its iterator does.
    pub shard_iterator: Option<&'a str>,
    /// `CreateStream` carries `Tags` (AWS then also authorizes `kinesis:AddTagsToStream`).
    pub has_tags: bool,
}
