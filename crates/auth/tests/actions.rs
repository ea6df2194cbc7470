//! Operation to IAM action and resource, AWS's AccessDenied wording, and the replication-tool
//! scenario of issue 6 end to end through `authorize`.

use serde_json::json;
use tributary_auth::actions::{
    access_denied_message, authorizations, authorize, ArnScope, Authorization, Resources,
};
use tributary_auth::policy::{Context, Decision, Policy, PolicyKind};
use tributary_auth::{AuthErrorCode, Principal};
use tributary_model::Operation;

const SCOPE: ArnScope<'static> = ArnScope {
    partition: "aws",
    region: "us-east-1",
    account_id: "111122223333",
};
const STREAM: &str = "arn:aws:kinesis:us-east-1:111122223333:stream/s";
const CONSUMER: &str = "arn:aws:kinesis:us-east-1:111122223333:stream/s/consumer/c:1700000000";

fn one(op: Operation, ids: Resources<'_>) -> (String, String) {
    let mut v = authorizations(op, &ids, &SCOPE);
    assert_eq!(v.len(), 1, "{op:?}");
    let a = v.remove(0);
    (a.action, a.resource)
}

#[test]
fn operations_map_to_actions_and_resources() {
    let by_name = Resources {
        stream_name: Some("s"),
        ..Resources::default()
    };
    let by_arn = Resources {
        stream_arn: Some(STREAM),
        ..Resources::default()
    };
    for op in [
        Operation::PutRecord,
        Operation::PutRecords,
        Operation::DescribeStream,
        Operation::ListShards,
        Operation::GetShardIterator,
        Operation::CreateStream,
        Operation::DeleteStream,
        Operation::RegisterStreamConsumer,
    ] {
        assert_eq!(
            one(op, by_name),
            (format!("kinesis:{}", op.name()), STREAM.to_string())
        );
        assert_eq!(
            one(op, by_arn),
            (format!("kinesis:{}", op.name()), STREAM.to_string())
        );
    }
    for op in [
        Operation::ListStreams,
        Operation::DescribeLimits,
        Operation::DescribeAccountSettings,
        Operation::ListQueues,
        Operation::ListChannels,
    ] {
        assert_eq!(
            one(op, Resources::default()),
            (format!("kinesis:{}", op.name()), "*".to_string())
        );
    }
    let consumer = Resources {
        consumer_arn: Some(CONSUMER),
        ..Resources::default()
    };
    for op in [
        Operation::SubscribeToShard,
        Operation::DescribeStreamConsumer,
        Operation::DeregisterStreamConsumer,
    ] {
        assert_eq!(one(op, consumer).1, CONSUMER);
    }
    // By stream and consumer name, the consumer's path under the stream.
    let named = Resources {
        stream_arn: Some(STREAM),
        consumer_name: Some("c"),
        ..Resources::default()
    };
    assert_eq!(
        one(Operation::DescribeStreamConsumer, named).1,
        format!("{STREAM}/consumer/c")
    );
    let res = Resources {
        resource_arn: Some(CONSUMER),
        ..Resources::default()
    };
    assert_eq!(
        one(Operation::PutResourcePolicy, res),
        (
            "kinesis:PutResourcePolicy".to_string(),
            CONSUMER.to_string()
        )
    );
    let queue = "arn:aws:kinesis:us-east-1:111122223333:queue/q-123";
    let q = Resources {
        queue_arn: Some(queue),
        ..Resources::default()
    };
    assert_eq!(one(Operation::ReceiveQueueRecords, q).1, queue);
    // A missing identifier falls back to `*`, which only a grant on every resource matches.
    assert_eq!(one(Operation::PutRecord, Resources::default()).1, "*");

    let tagged = Resources {
        stream_name: Some("s"),
        has_tags: true,
        ..Resources::default()
    };
    let v = authorizations(Operation::CreateStream, &tagged, &SCOPE);
    assert_eq!(
        v.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
        ["kinesis:CreateStream", "kinesis:AddTagsToStream"]
    );
}

/// The table itself is an exhaustive match (a new operation does not build until it is
/// placed); this checks that every operation asks for its own action, once, by its model name,
/// on a resource it was given unless it is account-wide.
#[test]
fn every_operation_asks_for_its_own_action() {
    let account_wide = [
        Operation::ListStreams,
        Operation::ListQueues,
        Operation::ListChannels,
        Operation::DescribeLimits,
        Operation::DescribeAccountSettings,
        Operation::UpdateAccountSettings,
    ];
    let all = Resources {
        stream_arn: Some(STREAM),
        consumer_arn: Some(CONSUMER),
        resource_arn: Some(STREAM),
        queue_arn: Some("arn:aws:kinesis:us-east-1:111122223333:queue/q-123"),
        channel_arn: Some("arn:aws:kinesis:us-east-1:111122223333:channel/c-123"),
        ..Resources::default()
    };
    for op in Operation::ALL {
        let v = authorizations(op, &all, &SCOPE);
        assert_eq!(v.len(), 1, "{op:?}");
        assert_eq!(v[0].action, format!("kinesis:{}", op.name()));
        assert_eq!(v[0].resource == "*", account_wide.contains(&op), "{op:?}");
    }
}

#[test]
fn access_denied_messages_read_like_awss() {
    let user = "arn:aws:iam::111122223333:user/alice";
    assert_eq!(
        access_denied_message(user, "kinesis:PutRecord", STREAM, Decision::ImplicitDeny(PolicyKind::Identity)),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:111122223333:stream/s because no identity-based policy allows the kinesis:PutRecord action"
    );
    assert_eq!(
        access_denied_message(user, "kinesis:PutRecord", STREAM, Decision::ExplicitDeny(PolicyKind::Identity)),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:111122223333:stream/s with an explicit deny in an identity-based policy"
    );
    assert_eq!(
        access_denied_message(user, "kinesis:GetRecords", STREAM, Decision::ExplicitDeny(PolicyKind::Resource)),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kinesis:GetRecords on resource: arn:aws:kinesis:us-east-1:111122223333:stream/s with an explicit deny in a resource-based policy"
    );
    assert_eq!(
        access_denied_message(user, "kinesis:GetRecords", STREAM, Decision::ImplicitDeny(PolicyKind::Resource)),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kinesis:GetRecords on resource: arn:aws:kinesis:us-east-1:111122223333:stream/s because no resource-based policy allows the kinesis:GetRecords action"
    );
    assert_eq!(
        access_denied_message(user, "kinesis:ListStreams", "*", Decision::ImplicitDeny(PolicyKind::Identity)),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kinesis:ListStreams because no identity-based policy allows the kinesis:ListStreams action"
    );
}

/// Issue 6's acceptance scenario: a replication tool's documented policy.
#[test]
fn the_replication_tool_policy() {
    let policy = Policy::parse_identity(
        &json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["kinesis:PutRecords", "kinesis:DescribeStream"],
                 "Resource": "arn:aws:kinesis:us-east-1:111122223333:stream/cdc"},
                {"Effect": "Allow", "Action": "kinesis:ListStreams", "Resource": "*"}
            ]
        })
        .to_string(),
    )
    .unwrap();
    let who = Principal::user("AKIDCDC", "111122223333", "cdc", vec![policy]);
    let ctx = Context::for_request(&who, 1_704_069_000, None, true);
    let check = |op: Operation, stream: Option<&str>| {
        let ids = Resources {
            stream_name: stream,
            ..Resources::default()
        };
        let needed: Vec<Authorization> = authorizations(op, &ids, &SCOPE);
        authorize(&who, &needed, &ctx, |_| None)
    };
    assert!(check(Operation::PutRecords, Some("cdc")).is_ok());
    assert!(check(Operation::DescribeStream, Some("cdc")).is_ok());
    assert!(check(Operation::ListStreams, None).is_ok());
    for (op, stream) in [
        (Operation::PutRecord, Some("cdc")),
        (Operation::CreateStream, Some("new")),
        (Operation::PutRecords, Some("other")),
    ] {
        let e = check(op, stream).unwrap_err();
        assert_eq!(e.code, AuthErrorCode::AccessDenied);
        assert_eq!(e.code.as_str(), "AccessDeniedException");
        assert_eq!(
            e.message,
            format!(
                "User: arn:aws:iam::111122223333:user/cdc is not authorized to perform: kinesis:{op} on resource: arn:aws:kinesis:us-east-1:111122223333:stream/{} because no identity-based policy allows the kinesis:{op} action",
                stream.unwrap(),
                op = op.name()
            )
        );
    }
}
