//! Each Kinesis operation to the IAM action(s) and resource ARN(s) AWS authorizes it against
//! (the Service Authorization Reference for `kinesis`), and AWS's `AccessDeniedException`
//! wording.
//!
//! | operations | resource |
//! | --- | --- |
//! | stream operations (`PutRecord(s)`, `GetRecords`, `DescribeStream`, `ListShards`, …, `RegisterStreamConsumer`, `ListStreamConsumers`) | the stream ARN |
//! | `DescribeStreamConsumer`, `DeregisterStreamConsumer`, `SubscribeToShard` | the consumer ARN |
//! | `*ResourcePolicy`, `TagResource`, `UntagResource`, `ListTagsForResource` | `ResourceARN` (stream, consumer, queue or channel) |
//! | queue operations | the queue ARN; `CreateQueue`: the stream it reads |
//! | `DescribeChannel`, `UpdateChannel`, `DeleteChannel` | the channel ARN; `CreateChannel`: the source stream |
//! | `ListStreams`, `ListQueues`, `ListChannels`, `DescribeLimits`, `*AccountSettings` | `*` |
//!
//! `CreateStream` with tags also needs `kinesis:AddTagsToStream`, as on AWS.

use crate::credentials::Principal;
use crate::error::{AuthError, AuthErrorCode};
use crate::policy::{evaluate, Context, Decision, Policy, Request};
use tributary_model::Operation;

/// The resource identifiers of one request, as the server found them in its input
/// (generated from the model: `tributary_protocol::Input::resources`). Give the fullest form
/// known: a consumer's ARN (with its creation-time suffix) rather than its name; GetRecords'
/// stream ARN, which its iterator carries.
pub use tributary_model::Resources;

/// Where names become ARNs: the caller's partition, region and account.
#[derive(Debug, Clone, Copy)]
pub struct ArnScope<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account_id: &'a str,
}

/// One (action, resource) pair that must be allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `kinesis:PutRecords`.
    pub action: String,
    /// An ARN, or `*`.
    pub resource: String,
}

/// What an operation is authorized against.
enum Target {
    Stream,
    Consumer,
    ResourceArn,
    Queue,
    Channel,
    Everything,
}

/// Exhaustive, so a new operation in the model does not build until it says what it touches.
fn target(operation: Operation) -> Target {
    use Operation as Op;
    use Target::*;
    match operation {
        Op::AddTagsToStream
        | Op::CreateStream
        | Op::DecreaseStreamRetentionPeriod
        | Op::DeleteStream
        | Op::DescribeStream
        | Op::DescribeStreamSummary
        | Op::DisableEnhancedMonitoring
        | Op::EnableEnhancedMonitoring
        | Op::GetRecords
        | Op::GetShardIterator
        | Op::IncreaseStreamRetentionPeriod
        | Op::ListShards
        | Op::ListStreamConsumers
        | Op::ListTagsForStream
        | Op::MergeShards
        | Op::PutRecord
        | Op::PutRecords
        | Op::RegisterStreamConsumer
        | Op::RemoveTagsFromStream
        | Op::SplitShard
        | Op::StartStreamEncryption
        | Op::StopStreamEncryption
        | Op::UpdateShardCount
        | Op::UpdateStreamMode
        | Op::UpdateMaxRecordSize
        | Op::UpdateStreamWarmThroughput
        | Op::UpdateStreamRecordDistributionStrategy
        | Op::CreateQueue
        | Op::CreateChannel => Stream,
        Op::DescribeStreamConsumer | Op::DeregisterStreamConsumer | Op::SubscribeToShard => {
            Consumer
        }
        Op::PutResourcePolicy
        | Op::GetResourcePolicy
        | Op::DeleteResourcePolicy
        | Op::TagResource
        | Op::UntagResource
        | Op::ListTagsForResource => ResourceArn,
        Op::AcknowledgeDeadLetterQueueRecords
        | Op::AcknowledgeQueueRecords
        | Op::DeleteQueue
        | Op::DescribeQueue
        | Op::ReceiveDeadLetterQueueRecords
        | Op::ReceiveQueueRecords
        | Op::RestoreDeadLetterQueueRecords
        | Op::UpdateDeadLetterQueueRecordsVisibility
        | Op::UpdateQueue
        | Op::UpdateQueueRecordsVisibility => Queue,
        Op::DescribeChannel | Op::UpdateChannel | Op::DeleteChannel => Channel,
        Op::ListStreams
        | Op::ListQueues
        | Op::ListChannels
        | Op::DescribeLimits
        | Op::DescribeAccountSettings
        | Op::UpdateAccountSettings => Everything,
    }
}

/// The (action, resource) pairs `operation` needs, every one of which must be allowed.
pub fn authorizations(
    operation: Operation,
    ids: &Resources<'_>,
    scope: &ArnScope<'_>,
) -> Vec<Authorization> {
    let stream = || {
        ids.stream_arn.map(str::to_string).or_else(|| {
            ids.stream_name.map(|name| {
                format!(
                    "arn:{}:kinesis:{}:{}:stream/{name}",
                    scope.partition, scope.region, scope.account_id
                )
            })
        })
    };
    let resource = match target(operation) {
        Target::Stream => stream(),
        // Without the consumer's ARN, its name under the stream is the closest AWS form.
        Target::Consumer => ids
            .consumer_arn
            .map(str::to_string)
            .or_else(|| Some(format!("{}/consumer/{}", stream()?, ids.consumer_name?))),
        Target::ResourceArn => ids.resource_arn.map(str::to_string),
        Target::Queue => ids.queue_arn.map(str::to_string),
        Target::Channel => ids.channel_arn.map(str::to_string),
        Target::Everything => None,
    }
    // A request without the identifier fails validation anyway; `*` keeps the check
    // conservative meanwhile (only a policy granting every resource matches it).
    .unwrap_or_else(|| "*".to_string());

    let mut out = vec![Authorization {
        action: format!("kinesis:{}", operation.name()),
        resource: resource.clone(),
    }];
    if operation == Operation::CreateStream && ids.has_tags {
        out.push(Authorization {
            action: "kinesis:AddTagsToStream".to_string(),
            resource,
        });
    }
    out
}

/// AWS's message for a denial: `User: ARN is not authorized to perform: ACTION on resource:
/// RESOURCE because no identity-based policy allows the ACTION action`, or `... with an
/// explicit deny in an identity-based policy` (or `a resource-based policy`). Account-wide
/// actions (resource `*`) leave out the `on resource:` part, as AWS does.
pub fn access_denied_message(
    principal_arn: &str,
    action: &str,
    resource: &str,
    decision: Decision,
) -> String {
    let on = if resource == "*" {
        String::new()
    } else {
        format!(" on resource: {resource}")
    };
    let head = format!("User: {principal_arn} is not authorized to perform: {action}{on}");
    match decision {
        Decision::Allow => head,
        Decision::ExplicitDeny(kind) => {
            let article = if kind.label().starts_with('i') {
                "an"
            } else {
                "a"
            };
            format!(
                "{head} with an explicit deny in {article} {} policy",
                kind.label()
            )
        }
        Decision::ImplicitDeny(kind) => {
            format!(
                "{head} because no {} policy allows the {action} action",
                kind.label()
            )
        }
    }
}

/// Evaluates every pair in `needed` for `principal` (its own identity policies) and the
/// resource policy `resource_policy` returns for an ARN; the first denial becomes an
/// `AccessDeniedException`.
pub fn authorize<'p>(
    principal: &Principal,
    needed: &[Authorization],
    context: &Context,
    resource_policy: impl Fn(&str) -> Option<&'p Policy>,
) -> Result<(), AuthError> {
    for auth in needed {
        let request = Request {
            principal,
            action: &auth.action,
            resource: &auth.resource,
            context,
        };
        let decision = evaluate(
            &request,
            &principal.policies,
            resource_policy(&auth.resource),
        );
        if !decision.is_allowed() {
            return Err(AuthError::new(
                AuthErrorCode::AccessDenied,
                access_denied_message(&principal.arn, &auth.action, &auth.resource, decision),
            ));
        }
    }
    Ok(())
}
