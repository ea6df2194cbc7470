//! Policy evaluation tables: allow, deny, deny wins, wildcards, NotAction/NotResource, and
//! resource-policy grants in the same and another account. Conditions: `policy_conditions.rs`.

mod common;

use common::*;
use serde_json::json;
use tributary_auth::policy::{Context, Decision, PolicyKind};
use tributary_auth::Principal;

#[test]
fn allow_deny_and_default_deny() {
    let ctx = Context::new();
    let who = alice();
    let put = identity(json!([allow(json!("kinesis:PutRecords"), json!(STREAM))]));
    let cases = [
        ("kinesis:PutRecords", STREAM, Decision::Allow),
        (
            "kinesis:PutRecord",
            STREAM,
            Decision::ImplicitDeny(PolicyKind::Identity),
        ),
        (
            "kinesis:PutRecords",
            OTHER_STREAM,
            Decision::ImplicitDeny(PolicyKind::Identity),
        ),
    ];
    for (action, res, want) in cases {
        assert_eq!(
            decide(std::slice::from_ref(&put), None, &who, action, res, &ctx),
            want,
            "{action} {res}"
        );
    }
    assert_eq!(
        decide(&[], None, &who, "kinesis:ListStreams", "*", &ctx),
        Decision::ImplicitDeny(PolicyKind::Identity)
    );

    // Deny wins over any allow, in the same policy or another one.
    let deny = identity(json!([
        allow(json!("kinesis:*"), json!("*")),
        {"Effect": "Deny", "Action": "kinesis:DeleteStream", "Resource": STREAM}
    ]));
    assert_eq!(
        decide(
            std::slice::from_ref(&deny),
            None,
            &who,
            "kinesis:DeleteStream",
            STREAM,
            &ctx
        ),
        Decision::ExplicitDeny(PolicyKind::Identity)
    );
    assert_eq!(
        decide(
            std::slice::from_ref(&deny),
            None,
            &who,
            "kinesis:DeleteStream",
            OTHER_STREAM,
            &ctx
        ),
        Decision::Allow
    );
    let deny_all = identity(json!({"Effect": "Deny", "Action": "*", "Resource": "*"}));
    assert_eq!(
        decide(
            &[put, deny_all],
            None,
            &who,
            "kinesis:PutRecords",
            STREAM,
            &ctx
        ),
        Decision::ExplicitDeny(PolicyKind::Identity)
    );
}

#[test]
fn wildcards_in_actions_and_resources() {
    let ctx = Context::new();
    let who = alice();
    let p = identity(json!([
        allow(
            json!(["kinesis:Describe*", "KINESIS:list?hards"]),
            json!("arn:aws:kinesis:*:111122223333:stream/ord*")
        ),
        allow(
            json!("kinesis:Get*"),
            json!("arn:aws:kinesis:us-east-1:111122223333:stream/???it")
        ),
    ]));
    let cases = [
        ("kinesis:DescribeStream", STREAM, true),
        ("kinesis:describestreamsummary", STREAM, true), // actions ignore case
        ("kinesis:ListShards", STREAM, true),
        ("kinesis:ListStreams", STREAM, false),
        (
            "kinesis:DescribeStream",
            "arn:aws:kinesis:eu-west-1:111122223333:stream/orders-eu",
            true,
        ),
        (
            "kinesis:DescribeStream",
            "arn:aws:kinesis:us-east-1:111122223333:stream/Orders",
            false,
        ), // resources do not
        ("kinesis:GetRecords", OTHER_STREAM, true),
        (
            "kinesis:GetRecords",
            "arn:aws:kinesis:us-east-1:111122223333:stream/adit",
            false,
        ),
    ];
    for (action, res, want) in cases {
        assert_eq!(
            decide(std::slice::from_ref(&p), None, &who, action, res, &ctx).is_allowed(),
            want,
            "{action} {res}"
        );
    }
}

#[test]
fn not_action_and_not_resource() {
    let ctx = Context::new();
    let who = alice();
    let p = identity(json!([
        {"Effect": "Allow", "NotAction": ["kinesis:Delete*", "kinesis:*Policy"], "Resource": "*"},
        {"Effect": "Deny", "Action": "kinesis:PutRecord*", "NotResource": [STREAM]},
    ]));
    let cases = [
        ("kinesis:DescribeStream", OTHER_STREAM, Decision::Allow),
        (
            "kinesis:DeleteStream",
            STREAM,
            Decision::ImplicitDeny(PolicyKind::Identity),
        ),
        (
            "kinesis:PutResourcePolicy",
            STREAM,
            Decision::ImplicitDeny(PolicyKind::Identity),
        ),
        ("kinesis:PutRecords", STREAM, Decision::Allow),
        (
            "kinesis:PutRecords",
            OTHER_STREAM,
            Decision::ExplicitDeny(PolicyKind::Identity),
        ),
    ];
    for (action, res, want) in cases {
        assert_eq!(
            decide(std::slice::from_ref(&p), None, &who, action, res, &ctx),
            want,
            "{action} {res}"
        );
    }
}

/// (operator, key, policy values, context values or None for missing, expected)
#[test]
fn resource_policy_grants_in_the_same_account() {
    let ctx = Context::new();
    let who = alice();
    let rp = resource(
        json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"},
                             "Action": "kinesis:GetRecords", "Resource": STREAM}),
    );
    // The resource policy alone grants a principal it names by ARN.
    assert_eq!(
        decide(&[], Some(&rp), &who, "kinesis:GetRecords", STREAM, &ctx),
        Decision::Allow
    );
    assert_eq!(
        decide(&[], Some(&rp), &who, "kinesis:PutRecord", STREAM, &ctx),
        Decision::ImplicitDeny(PolicyKind::Identity)
    );
    // A grant to the account only delegates to identity policies.
    let account = resource(
        json!({"Effect": "Allow", "Principal": {"AWS": "111122223333"},
                                  "Action": "kinesis:GetRecords", "Resource": STREAM}),
    );
    assert_eq!(
        decide(
            &[],
            Some(&account),
            &who,
            "kinesis:GetRecords",
            STREAM,
            &ctx
        ),
        Decision::ImplicitDeny(PolicyKind::Identity)
    );
    // A resource-policy deny beats an identity allow.
    let deny = resource(
        json!({"Effect": "Deny", "Principal": "*", "Action": "kinesis:*", "Resource": "*",
                               "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
    );
    let allow_all = identity(json!(allow(json!("kinesis:*"), json!("*"))));
    let mut insecure = Context::new();
    insecure.set("aws:SecureTransport", "false");
    assert_eq!(
        decide(
            std::slice::from_ref(&allow_all),
            Some(&deny),
            &who,
            "kinesis:GetRecords",
            STREAM,
            &insecure
        ),
        Decision::ExplicitDeny(PolicyKind::Resource)
    );
    insecure.set("aws:SecureTransport", "true");
    assert_eq!(
        decide(
            std::slice::from_ref(&allow_all),
            Some(&deny),
            &who,
            "kinesis:GetRecords",
            STREAM,
            &insecure
        ),
        Decision::Allow
    );
}

#[test]
fn cross_account_needs_both_sides() {
    let ctx = Context::new();
    let who = alice(); // account 111122223333, stream in 444455556666
    let grants = [
        json!({"AWS": "arn:aws:iam::111122223333:root"}),
        json!({"AWS": "111122223333"}),
        json!({"AWS": ["arn:aws:iam::999999999999:root", "arn:aws:iam::111122223333:user/alice"]}),
    ];
    let allow_read = identity(json!(allow(
        json!("kinesis:GetRecords"),
        json!(FOREIGN_STREAM)
    )));
    for principal in grants {
        let rp = resource(
            json!({"Effect": "Allow", "Principal": principal, "Action": "kinesis:GetRecords", "Resource": FOREIGN_STREAM}),
        );
        assert_eq!(
            decide(
                std::slice::from_ref(&allow_read),
                Some(&rp),
                &who,
                "kinesis:GetRecords",
                FOREIGN_STREAM,
                &ctx
            ),
            Decision::Allow,
            "{principal}"
        );
        assert_eq!(
            decide(
                &[],
                Some(&rp),
                &who,
                "kinesis:GetRecords",
                FOREIGN_STREAM,
                &ctx
            ),
            Decision::ImplicitDeny(PolicyKind::Identity)
        );
    }
    // Identity allows, but the resource policy names someone else or is absent.
    let other = resource(
        json!({"Effect": "Allow", "Principal": {"AWS": "999999999999"}, "Action": "kinesis:*", "Resource": "*"}),
    );
    assert_eq!(
        decide(
            std::slice::from_ref(&allow_read),
            Some(&other),
            &who,
            "kinesis:GetRecords",
            FOREIGN_STREAM,
            &ctx
        ),
        Decision::ImplicitDeny(PolicyKind::Resource)
    );
    assert_eq!(
        decide(
            std::slice::from_ref(&allow_read),
            None,
            &who,
            "kinesis:GetRecords",
            FOREIGN_STREAM,
            &ctx
        ),
        Decision::ImplicitDeny(PolicyKind::Resource)
    );
    // NotPrincipal: everyone but the named principal.
    let not = resource(
        json!({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "kinesis:*", "Resource": "*"}),
    );
    assert_eq!(
        decide(
            std::slice::from_ref(&allow_read),
            Some(&not),
            &who,
            "kinesis:GetRecords",
            FOREIGN_STREAM,
            &ctx
        ),
        Decision::ExplicitDeny(PolicyKind::Resource)
    );
}

#[test]
fn assumed_role_sessions_match_their_role() {
    let ctx = Context::new();
    let session = Principal {
        access_key: "ASIATEMP".to_string(),
        account_id: "111122223333".to_string(),
        arn: "arn:aws:sts::111122223333:assumed-role/reader/session-1".to_string(),
        name: String::new(),
        policies: Vec::new().into(),
    };
    let rp = resource(
        json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/reader"},
                             "Action": "kinesis:GetRecords", "Resource": STREAM}),
    );
    assert_eq!(
        decide(&[], Some(&rp), &session, "kinesis:GetRecords", STREAM, &ctx),
        Decision::Allow
    );
}
