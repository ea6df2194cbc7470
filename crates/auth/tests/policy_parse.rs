//! Policy documents that load, and the IAM-style message for each that does not (the text
//! `PutResourcePolicy` answers in its `InvalidArgumentException`).

use serde_json::json;
use tributary_auth::policy::{
    Effect, Match, Operator, Policy, PolicyKind, PrincipalMatch, Qualifier,
};

#[test]
fn statement_as_object_or_array_and_every_element() {
    let p = Policy::parse_resource(
        &json!({
            "Version": "2012-10-17",
            "Id": "p1",
            "Statement": {
                "Sid": "ReadFromPartner",
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::444455556666:root", "444455556666"], "Service": "firehose.amazonaws.com"},
                "NotAction": "kinesis:Delete*",
                "NotResource": ["arn:aws:kinesis:us-east-1:111122223333:stream/private"],
                "Condition": {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["env", "team"]}, "NumericLessThan": {"n": 5}}
            }
        })
        .to_string(),
    )
    .unwrap();
    assert_eq!(p.version.as_deref(), Some("2012-10-17"));
    assert_eq!(p.id.as_deref(), Some("p1"));
    let s = &p.statements[0];
    assert_eq!(s.sid.as_deref(), Some("ReadFromPartner"));
    assert_eq!(s.effect, Effect::Allow);
    assert_eq!(s.action, Match::Not(vec!["kinesis:Delete*".into()]));
    let Some(PrincipalMatch::Is(who)) = &s.principal else {
        panic!()
    };
    assert_eq!(who.aws.len(), 2);
    assert_eq!(
        who.other,
        vec![("Service".to_string(), "firehose.amazonaws.com".to_string())]
    );
    assert_eq!(s.conditions.len(), 2);
    let c = s
        .conditions
        .iter()
        .find(|c| c.key == "aws:TagKeys")
        .unwrap();
    assert_eq!(
        (c.qualifier, c.operator, c.if_exists),
        (Qualifier::ForAnyValue, Operator::StringLike, true)
    );
    let n = s.conditions.iter().find(|c| c.key == "n").unwrap();
    assert_eq!(n.values, vec!["5"]);

    let array =
        Policy::parse_identity(r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#)
            .unwrap();
    assert_eq!(array.version, None);
    assert!(Policy::from_value(
        &json!({"Statement": {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}}),
        PolicyKind::Identity
    )
    .is_ok());
}

#[test]
fn malformed_documents_say_what_is_wrong() {
    let ok_statement = json!({"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": "*"});
    let with = |patch: serde_json::Value| {
        let mut s = ok_statement.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                s.as_object_mut().unwrap().remove(k);
            } else {
                s[k] = v.clone();
            }
        }
        json!({"Version": "2012-10-17", "Statement": [s]}).to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "Syntax errors in policy."),
        ("[]".into(), "Syntax errors in policy."),
        (
            json!({"Version": "2012-10-17"}).to_string(),
            "Missing required field Statement.",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": []}).to_string(),
            "Missing required field Statement.",
        ),
        (
            json!({"Version": "2020-01-01", "Statement": [ok_statement]}).to_string(),
            "The policy failed legacy parsing",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [ok_statement], "Extra": 1}).to_string(),
            "Syntax errors in policy. Unknown field Extra.",
        ),
        (
            with(json!({"Effect": null})),
            "Missing required field Effect.",
        ),
        (with(json!({"Effect": "Maybe"})), "Invalid effect: Maybe"),
        (
            with(json!({"Action": null})),
            "Policy statement must contain actions.",
        ),
        (
            with(json!({"NotAction": "kinesis:x"})),
            "Policy statement cannot contain both Action and NotAction.",
        ),
        (
            with(json!({"Action": "PutRecord"})),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            with(json!({"Action": "kinesis:Put:Record"})),
            "Actions/Condition can contain only one colon.",
        ),
        (with(json!({"Action": []})), "Syntax errors in policy."),
        (
            with(json!({"Resource": null})),
            "Policy statement must contain resources.",
        ),
        (
            with(json!({"Resource": "stream/s"})),
            "Resource stream/s must be in ARN format or \"*\".",
        ),
        (
            with(json!({"Principal": "*"})),
            "Policy document should not specify a principal.",
        ),
        (
            with(json!({"Condition": {"StringSorta": {"k": "v"}}})),
            "Invalid Condition type : StringSorta.",
        ),
        (
            with(json!({"Condition": {"ForAnyValue:Null": {"k": "true"}}})),
            "Invalid Condition type : ForAnyValue:Null.",
        ),
        (
            with(json!({"Condition": {"StringEquals": {"k": {"nested": 1}}}})),
            "Syntax errors in policy.",
        ),
        (with(json!({"Sid": 7})), "Syntax errors in policy."),
    ];
    for (doc, want) in cases {
        let e = Policy::parse_identity(&doc).unwrap_err();
        assert_eq!(e.message, want, "{doc}");
        assert_eq!(e.to_string(), want);
    }
    // Resource policies need a valid principal.
    let no_principal = json!({"Statement": [ok_statement]}).to_string();
    assert_eq!(
        Policy::parse_resource(&no_principal).unwrap_err().message,
        "Policy statement must contain a principal."
    );
    for bad in [
        json!("alice"),
        json!({"AWS": "alice"}),
        json!({"Nobody": "x"}),
        json!({}),
    ] {
        let doc = json!({"Statement": [{"Effect": "Allow", "Principal": bad, "Action": "kinesis:*", "Resource": "*"}]});
        let e = Policy::parse_resource(&doc.to_string()).unwrap_err();
        assert!(
            e.message.starts_with("Invalid principal in policy: "),
            "{}",
            e.message
        );
    }
}
