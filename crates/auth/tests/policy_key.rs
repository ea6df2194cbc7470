//! KMS key policies: required, with the default "Enable IAM User Permissions" statement
//! handing the decision to identity policies.

mod common;

use common::*;
use serde_json::json;
use tributary_auth::policy::{evaluate_key_policy, Context, Decision, Policy, PolicyKind, Request};

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn key_decide(identity_policies: &[Policy], key_policy: &Policy, action: &str) -> Decision {
    let who = alice();
    let ctx = Context::new();
    evaluate_key_policy(
        &Request {
            principal: &who,
            action,
            resource: KEY,
            context: &ctx,
        },
        identity_policies,
        key_policy,
    )
}

fn default_key_policy() -> Policy {
    resource(json!([{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "kms:*", "Resource": "*"
    }]))
}

#[test]
fn default_key_policy_defers_to_identity_policies() {
    let kp = default_key_policy();
    let gdk = identity(json!([allow(json!("kms:GenerateDataKey"), json!("*"))]));
    assert_eq!(
        key_decide(std::slice::from_ref(&gdk), &kp, "kms:GenerateDataKey"),
        Decision::Allow
    );
    assert_eq!(
        key_decide(std::slice::from_ref(&gdk), &kp, "kms:Decrypt"),
        Decision::ImplicitDeny(PolicyKind::Identity)
    );
    assert_eq!(
        key_decide(&[], &kp, "kms:Decrypt"),
        Decision::ImplicitDeny(PolicyKind::Identity)
    );
}

#[test]
fn without_the_account_statement_identity_policies_do_not_count() {
    // Only another user is named: alice's own allow is not enough on a key.
    let kp = resource(json!([{
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"},
        "Action": "kms:*", "Resource": "*"
    }]));
    let all = identity(json!([allow(json!("kms:*"), json!("*"))]));
    assert_eq!(
        key_decide(std::slice::from_ref(&all), &kp, "kms:Decrypt"),
        Decision::ImplicitDeny(PolicyKind::Resource)
    );
    // Named directly, the key policy alone allows.
    let direct = resource(json!([{
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"},
        "Action": "kms:Decrypt", "Resource": "*"
    }]));
    assert_eq!(key_decide(&[], &direct, "kms:Decrypt"), Decision::Allow);
}

#[test]
fn a_deny_anywhere_wins() {
    let kp = resource(json!([
        {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}
    ]));
    let all = identity(json!([allow(json!("kms:*"), json!("*"))]));
    assert_eq!(
        key_decide(std::slice::from_ref(&all), &kp, "kms:Decrypt"),
        Decision::ExplicitDeny(PolicyKind::Resource)
    );
    let deny = identity(json!([
        allow(json!("kms:*"), json!("*")),
        {"Effect": "Deny", "Action": "kms:Encrypt", "Resource": KEY}
    ]));
    assert_eq!(
        key_decide(
            std::slice::from_ref(&deny),
            &default_key_policy(),
            "kms:Encrypt"
        ),
        Decision::ExplicitDeny(PolicyKind::Identity)
    );
}
