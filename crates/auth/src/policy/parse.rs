//! Policy JSON to [`Policy`]. Strict where IAM is strict (unknown fields, wrong types, actions
//! without a service prefix, resources that are not ARNs), so a policy that would not load on
//! AWS does not load here either, and says why in IAM's words where IAM's are known.

use serde_json::{Map, Value};

use super::condition::{Operator, Qualifier};
use super::{
    Condition, Effect, Match, Policy, PolicyError, PolicyKind, PrincipalMatch, Principals,
    Statement,
};

const SYNTAX: &str = "Syntax errors in policy.";

pub(crate) fn parse(json: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let value: Value = serde_json::from_str(json).map_err(|_| PolicyError::new(SYNTAX))?;
    from_value(&value, kind)
}

pub(crate) fn from_value(value: &Value, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let doc = value.as_object().ok_or_else(|| PolicyError::new(SYNTAX))?;
    for key in doc.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            return Err(PolicyError::new(format!("{SYNTAX} Unknown field {key}.")));
        }
    }
    let version = opt_string(doc, "Version")?;
    if let Some(v) = &version {
        if v != "2012-10-17" && v != "2008-10-17" {
            return Err(PolicyError::new("The policy failed legacy parsing"));
        }
    }
    let statements = match doc.get("Statement") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| statement(s, kind))
            .collect::<Result<Vec<_>, _>>()?,
        Some(single @ Value::Object(_)) => vec![statement(single, kind)?],
        Some(_) => return Err(PolicyError::new(SYNTAX)),
        None => return Err(PolicyError::new("Missing required field Statement.")),
    };
    if statements.is_empty() {
        return Err(PolicyError::new("Missing required field Statement."));
    }
    Ok(Policy {
        version,
        id: opt_string(doc, "Id")?,
        statements,
    })
}

fn statement(value: &Value, kind: PolicyKind) -> Result<Statement, PolicyError> {
    let s = value.as_object().ok_or_else(|| PolicyError::new(SYNTAX))?;
    for key in s.keys() {
        let known = [
            "Sid",
            "Effect",
            "Principal",
            "NotPrincipal",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ];
        if !known.contains(&key.as_str()) {
            return Err(PolicyError::new(format!("{SYNTAX} Unknown field {key}.")));
        }
    }
    let effect = match opt_string(s, "Effect")?.as_deref() {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => return Err(PolicyError::new(format!("Invalid effect: {other}"))),
        None => return Err(PolicyError::new("Missing required field Effect.")),
    };

    let action = pair(
        s,
        "Action",
        "NotAction",
        "Policy statement must contain actions.",
    )?;
    let (Match::Any(list) | Match::Not(list)) = &action;
    for a in list {
        check_action(a)?;
    }
    let resource = pair(
        s,
        "Resource",
        "NotResource",
        "Policy statement must contain resources.",
    )?;
    let (Match::Any(list) | Match::Not(list)) = &resource;
    for r in list {
        if r != "*" && !r.starts_with("arn:") {
            return Err(PolicyError::new(format!(
                "Resource {r} must be in ARN format or \"*\"."
            )));
        }
    }

    let principal = match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err(PolicyError::new(SYNTAX)),
        (None, None) => None,
        (Some(p), None) => Some(PrincipalMatch::Is(principals(p)?)),
        (None, Some(p)) => Some(PrincipalMatch::Not(principals(p)?)),
    };
    match (kind, &principal) {
        (PolicyKind::Identity, Some(_)) => {
            return Err(PolicyError::new(
                "Policy document should not specify a principal.",
            ))
        }
        (PolicyKind::Resource, None) => {
            return Err(PolicyError::new(
                "Policy statement must contain a principal.",
            ))
        }
        _ => {}
    }

    Ok(Statement {
        sid: opt_string(s, "Sid")?,
        effect,
        principal,
        action,
        resource,
        conditions: match s.get("Condition") {
            None => Vec::new(),
            Some(c) => conditions(c)?,
        },
    })
}

/// Exactly one of `positive`/`negative` (`Action`/`NotAction`, `Resource`/`NotResource`).
fn pair(
    s: &Map<String, Value>,
    positive: &str,
    negative: &str,
    missing: &str,
) -> Result<Match, PolicyError> {
    match (s.get(positive), s.get(negative)) {
        (Some(v), None) => Ok(Match::Any(strings(v)?)),
        (None, Some(v)) => Ok(Match::Not(strings(v)?)),
        (Some(_), Some(_)) => Err(PolicyError::new(format!(
            "Policy statement cannot contain both {positive} and {negative}."
        ))),
        (None, None) => Err(PolicyError::new(missing)),
    }
}

/// `*`, or `service:pattern` with exactly one colon.
fn check_action(a: &str) -> Result<(), PolicyError> {
    if a == "*" {
        return Ok(());
    }
    match a.split_once(':') {
        None => Err(PolicyError::new(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        )),
        Some((_, rest)) if rest.contains(':') => Err(PolicyError::new(
            "Actions/Condition can contain only one colon.",
        )),
        Some((vendor, _))
            if vendor.is_empty()
                || !vendor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            Err(PolicyError::new(format!("Vendor {vendor} is not valid")))
        }
        Some(_) => Ok(()),
    }
}

fn principals(value: &Value) -> Result<Principals, PolicyError> {
    let invalid = || PolicyError::new(format!("Invalid principal in policy: {value}"));
    match value {
        Value::String(s) if s == "*" => Ok(Principals {
            everyone: true,
            ..Principals::default()
        }),
        Value::Object(map) if !map.is_empty() => {
            let mut out = Principals::default();
            for (kind, v) in map {
                let list = strings(v).map_err(|_| invalid())?;
                match kind.as_str() {
                    "AWS" => {
                        for p in &list {
                            let ok = p == "*"
                                || (p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()))
                                || (p.starts_with("arn:") && p.split(':').count() >= 6);
                            if !ok {
                                return Err(invalid());
                            }
                        }
                        out.aws.extend(list);
                    }
                    "Service" | "Federated" | "CanonicalUser" => {
                        out.other
                            .extend(list.into_iter().map(|p| (kind.clone(), p)));
                    }
                    _ => return Err(invalid()),
                }
            }
            Ok(out)
        }
        _ => Err(invalid()),
    }
}

fn conditions(value: &Value) -> Result<Vec<Condition>, PolicyError> {
    let map = value.as_object().ok_or_else(|| PolicyError::new(SYNTAX))?;
    let mut out = Vec::new();
    for (name, block) in map {
        let (qualifier, operator, if_exists) = Operator::parse(name)
            .ok_or_else(|| PolicyError::new(format!("Invalid Condition type : {name}.")))?;
        let block = block.as_object().ok_or_else(|| PolicyError::new(SYNTAX))?;
        for (key, values) in block {
            if key.is_empty() {
                return Err(PolicyError::new(SYNTAX));
            }
            let values = strings(values)?;
            if operator == Operator::Null && qualifier != Qualifier::Single {
                return Err(PolicyError::new(format!(
                    "Invalid Condition type : {name}."
                )));
            }
            out.push(Condition {
                operator,
                qualifier,
                if_exists,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

/// A string, or an array of strings; condition values may also be numbers or booleans, which
/// IAM reads as their text.
fn strings(value: &Value) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(PolicyError::new(SYNTAX)),
    };
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
        Value::Array(_) => Err(PolicyError::new(SYNTAX)),
        v => Ok(vec![one(v)?]),
    }
}

fn opt_string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, PolicyError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(PolicyError::new(SYNTAX)),
    }
}
