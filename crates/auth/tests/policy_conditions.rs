//! Every condition operator, the set qualifiers and `...IfExists`, and the request context
//! (global keys and policy variables).

mod common;

use common::*;
use serde_json::{json, Value};
use tributary_auth::policy::Context;

/// One row: `operator | key | policy value(s) as JSON | context values as JSON, or - when the
/// key is missing | whether the statement applies`.
const ROWS: &str = r#"
StringEquals                 | k | "a"           | ["a"]   | true
StringEquals                 | k | ["x","a"]     | ["a"]   | true
StringEquals                 | k | "A"           | ["a"]   | false
StringEquals                 | k | "a"           | -       | false
StringNotEquals              | k | "a"           | ["b"]   | true
StringNotEquals              | k | "a"           | ["a"]   | false
StringNotEquals              | k | "a"           | -       | true
StringEqualsIgnoreCase       | k | "ABC"         | ["abc"] | true
StringNotEqualsIgnoreCase    | k | "ABC"         | ["abc"] | false
StringLike                   | k | "app-*-?"     | ["app-prod-1"] | true
StringLike                   | k | "app-*"       | ["App-prod"]   | false
StringNotLike                | k | "app-*"       | ["web-1"]      | true
NumericEquals                | n | 10            | ["10.0"] | true
NumericNotEquals             | n | "10"          | ["11"]  | true
NumericLessThan              | n | "10"          | ["9"]   | true
NumericLessThan              | n | "10"          | ["10"]  | false
NumericLessThanEquals        | n | "10"          | ["10"]  | true
NumericGreaterThan           | n | "10"          | ["11"]  | true
NumericGreaterThanEquals     | n | "10"          | ["9"]   | false
NumericEquals                | n | "10"          | ["ten"] | false
DateEquals                   | aws:CurrentTime | "2024-01-01T00:30:00Z" | ["2024-01-01T00:30:00Z"] | true
DateNotEquals                | aws:CurrentTime | "2024-01-01T00:30:00Z" | ["2024-01-01T00:30:01Z"] | true
DateLessThan                 | aws:CurrentTime | "2024-06-01T00:00:00Z" | ["2024-01-01T00:30:00Z"] | true
DateLessThanEquals           | aws:CurrentTime | "2024-01-01"           | ["2024-01-01T00:00:00Z"] | true
DateGreaterThan              | aws:CurrentTime | "2024-06-01T00:00:00Z" | ["2024-01-01T00:30:00Z"] | false
DateGreaterThanEquals        | aws:EpochTime   | "1704067200"           | ["1704069000"]           | true
Bool                         | aws:SecureTransport | "true" | ["true"]  | true
Bool                         | aws:SecureTransport | true   | ["false"] | false
BinaryEquals                 | b | "QmluYXJ5"    | ["QmluYXJ5"] | true
IpAddress                    | aws:SourceIp | ["203.0.113.0/24","10.0.0.0/8"] | ["10.1.2.3"]     | true
IpAddress                    | aws:SourceIp | "203.0.113.0/24"                | ["198.51.100.1"] | false
NotIpAddress                 | aws:SourceIp | "203.0.113.0/24"                | ["198.51.100.1"] | true
ArnEquals                    | aws:SourceArn | "arn:aws:kinesis:us-east-1:111122223333:stream/orders" | ["arn:aws:kinesis:us-east-1:111122223333:stream/orders"] | true
ArnLike                      | aws:SourceArn | "arn:aws:kinesis:*:111122223333:stream/*" | ["arn:aws:kinesis:us-east-1:111122223333:stream/orders"] | true
ArnLike                      | aws:SourceArn | "arn:aws:kinesis:*:444455556666:stream/*" | ["arn:aws:kinesis:us-east-1:111122223333:stream/orders"] | false
ArnNotEquals                 | aws:SourceArn | "arn:aws:kinesis:us-east-1:111122223333:stream/audit" | ["arn:aws:kinesis:us-east-1:111122223333:stream/orders"] | true
ArnNotLike                   | aws:SourceArn | "arn:aws:kinesis:*:*:stream/ord*" | ["arn:aws:kinesis:us-east-1:111122223333:stream/orders"] | false
Null                         | aws:SourceIp | "true"  | -            | true
Null                         | aws:SourceIp | "true"  | ["10.0.0.1"] | false
Null                         | aws:SourceIp | "false" | ["10.0.0.1"] | true
StringEqualsIfExists         | k | "a" | -     | true
StringEqualsIfExists         | k | "a" | ["b"] | false
NumericLessThanIfExists      | n | "5" | -     | true
ForAnyValue:StringEquals     | aws:TagKeys | ["env","team"] | ["owner","env"]  | true
ForAnyValue:StringEquals     | aws:TagKeys | ["env"]        | ["owner"]        | false
ForAnyValue:StringEquals     | aws:TagKeys | ["env"]        | -                | false
ForAllValues:StringEquals    | aws:TagKeys | ["env","team"] | ["team","env"]   | true
ForAllValues:StringEquals    | aws:TagKeys | ["env","team"] | ["team","owner"] | false
ForAllValues:StringEquals    | aws:TagKeys | ["env"]        | -                | true
ForAllValues:StringNotLike   | aws:TagKeys | ["secret*"]    | ["env","team"]   | true
ForAnyValue:StringNotEquals  | aws:TagKeys | ["env"]        | ["env","team"]   | true
"#;

#[test]
fn every_condition_operator() {
    let who = alice();
    let mut rows = 0;
    for line in ROWS.lines().filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
        let [op, key, values, actual, want] = cells[..] else {
            panic!("bad row {line}")
        };
        let values: Value = serde_json::from_str(values).unwrap();
        let p = identity(json!({
            "Effect": "Allow", "Action": "kinesis:PutRecords", "Resource": "*",
            "Condition": {op: {key: values}}
        }));
        let mut ctx = Context::new();
        if actual != "-" {
            ctx.set_all(key, serde_json::from_str(actual).unwrap());
        }
        let got = decide(&[p], None, &who, "kinesis:PutRecords", STREAM, &ctx).is_allowed();
        assert_eq!(got, want == "true", "{line}");
        rows += 1;
    }
    assert_eq!(rows, 51);
}
#[test]
fn conditions_read_the_request_context_and_policy_variables() {
    let who = alice();
    let ctx = Context::for_request(
        &who,
        1_704_069_000,
        Some("203.0.113.9".parse().unwrap()),
        true,
    );
    let p = identity(json!({
        "Effect": "Allow", "Action": "kinesis:*",
        "Resource": "arn:aws:kinesis:us-east-1:111122223333:stream/${aws:username}-*",
        "Condition": {
            "Bool": {"aws:SecureTransport": "true"},
            "IpAddress": {"aws:SourceIp": "203.0.113.0/24"},
            "DateLessThan": {"aws:CurrentTime": "2024-12-31T23:59:59Z"},
            "StringEquals": {"AWS:USERNAME": "${aws:username}"}
        }
    }));
    let own = "arn:aws:kinesis:us-east-1:111122223333:stream/alice-events";
    assert!(decide(
        std::slice::from_ref(&p),
        None,
        &who,
        "kinesis:PutRecord",
        own,
        &ctx
    )
    .is_allowed());
    assert!(!decide(
        std::slice::from_ref(&p),
        None,
        &who,
        "kinesis:PutRecord",
        "arn:aws:kinesis:us-east-1:111122223333:stream/bob-events",
        &ctx
    )
    .is_allowed());
    let plain = Context::for_request(&who, 1_704_069_000, None, false);
    assert!(!decide(
        std::slice::from_ref(&p),
        None,
        &who,
        "kinesis:PutRecord",
        own,
        &plain
    )
    .is_allowed());
}
