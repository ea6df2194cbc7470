//! Helpers shared by the policy test files.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use serde_json::json;
use tributary_auth::policy::{evaluate, Context, Decision, Policy, Request};
use tributary_auth::Principal;

pub const STREAM: &str = "arn:aws:kinesis:us-east-1:111122223333:stream/orders";
pub const OTHER_STREAM: &str = "arn:aws:kinesis:us-east-1:111122223333:stream/audit";
pub const FOREIGN_STREAM: &str = "arn:aws:kinesis:us-east-1:444455556666:stream/shared";

pub fn identity(statements: serde_json::Value) -> Policy {
    Policy::parse_identity(&json!({"Version": "2012-10-17", "Statement": statements}).to_string())
        .unwrap()
}

pub fn resource(statements: serde_json::Value) -> Policy {
    Policy::parse_resource(&json!({"Version": "2012-10-17", "Statement": statements}).to_string())
        .unwrap()
}

pub fn alice() -> Principal {
    Principal::user("AKIDALICE", "111122223333", "alice", vec![])
}

pub fn decide(
    policies: &[Policy],
    rp: Option<&Policy>,
    who: &Principal,
    action: &str,
    res: &str,
    ctx: &Context,
) -> Decision {
    evaluate(
        &Request {
            principal: who,
            action,
            resource: res,
            context: ctx,
        },
        policies,
        rp,
    )
}

pub fn allow(action: serde_json::Value, res: serde_json::Value) -> serde_json::Value {
    json!({"Effect": "Allow", "Action": action, "Resource": res})
}
