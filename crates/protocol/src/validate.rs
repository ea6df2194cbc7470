//! The model's constraints, checked the way AWS reports them:
//! `N validation errors detected: Value 'x' at 'path' failed to satisfy constraint: …; …`
//! Members are checked in model order, at most ten errors are reported, and paths use
//! AWS's lower-camel names (`records.1.member.partitionKey`).

use tributary_model::{ApiError, ErrorCode, ShapeId, ShapeKind, Value};

const MAX_ERRORS: usize = 10;

pub fn validate(shape: ShapeId, v: &Value) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if let ShapeKind::Structure { .. } = shape.def().kind {
        structure(shape, v, &Path::Root, &mut errors);
    }
    if errors.is_empty() {
        return Ok(());
    }
    let n = errors.len();
    let msg = format!(
        "{n} validation error{} detected: {}",
        if n > 1 { "s" } else { "" },
        errors.join("; ")
    );
    Err(ApiError::new(ErrorCode::ValidationException, msg))
}

fn structure(shape: ShapeId, v: &Value, path: &Path<'_>, errors: &mut Vec<String>) {
    let ShapeKind::Structure { members, .. } = &shape.def().kind else {
        return;
    };
    for m in members.iter() {
        let child = Path::Member(path, m.name);
        match v.get(m.name) {
            None if m.required => push(errors, &child, None, "Member must not be null"),
            None => {}
            Some(value) => member(m.shape, value, &child, errors),
        }
    }
}

fn member(shape: ShapeId, v: &Value, path: &Path<'_>, errors: &mut Vec<String>) {
    if errors.len() >= MAX_ERRORS {
        return;
    }
    match &shape.def().kind {
        ShapeKind::Structure { .. } => structure(shape, v, path, errors),
        ShapeKind::List {
            member: item,
            min,
            max,
        } => {
            if let Value::List(items) = v {
                length(items.len(), *min, *max, v, path, errors);
                for (i, x) in items.iter().enumerate() {
                    member(*item, x, &Path::Item(path, i), errors);
                }
            }
        }
        ShapeKind::Map {
            key,
            value,
            min,
            max,
        } => {
            if let Value::Map(entries) = v {
                length(entries.len(), *min, *max, v, path, errors);
                if let ShapeKind::String {
                    min: kmin,
                    max: kmax,
                    ..
                } = key.def().kind
                {
                    let bad = entries
                        .iter()
                        .any(|(k, _)| out_of(k.chars().count(), kmin, kmax));
                    if bad {
                        let rule = format!(
                            "Map keys must satisfy constraint: [{}]",
                            bounds_text(kmin, kmax)
                        );
                        push(errors, path, Some(v), &rule);
                    }
                }
                for (k, x) in entries {
                    member(*value, x, &Path::Key(path, k), errors);
                }
            }
        }
        ShapeKind::String {
            min,
            max,
            pattern,
            enum_values,
        } => {
            if let Value::Str(s) = v {
                length(s.chars().count(), *min, *max, v, path, errors);
                if let Some(p) = pattern {
                    if !shape.matches(s) {
                        push(
                            errors,
                            path,
                            Some(v),
                            &format!("Member must satisfy regular expression pattern: {p}"),
                        );
                    }
                }
                if let Some(values) = enum_values {
                    if !values.contains(&s.as_str()) {
                        let set = values.join(", ");
                        push(
                            errors,
                            path,
                            Some(v),
                            &format!("Member must satisfy enum value set: [{set}]"),
                        );
                    }
                }
            }
        }
        ShapeKind::Integer { min, max } | ShapeKind::Long { min, max } => {
            if let Value::Int(i) = v {
                if let Some(m) = min.filter(|m| i < m) {
                    push(
                        errors,
                        path,
                        Some(v),
                        &format!("Member must have value greater than or equal to {m}"),
                    );
                }
                if let Some(m) = max.filter(|m| i > m) {
                    push(
                        errors,
                        path,
                        Some(v),
                        &format!("Member must have value less than or equal to {m}"),
                    );
                }
            }
        }
        ShapeKind::Blob { min, max } => {
            if let Value::Blob(b) = v {
                length(b.len(), *min, *max, v, path, errors);
            }
        }
        ShapeKind::Boolean | ShapeKind::Timestamp => {}
    }
}

fn length(
    n: usize,
    min: Option<i64>,
    max: Option<i64>,
    v: &Value,
    path: &Path<'_>,
    errors: &mut Vec<String>,
) {
    if let Some(m) = min.filter(|m| (n as i64) < *m) {
        push(
            errors,
            path,
            Some(v),
            &format!("Member must have length greater than or equal to {m}"),
        );
    }
    if let Some(m) = max.filter(|m| (n as i64) > *m) {
        push(
            errors,
            path,
            Some(v),
            &format!("Member must have length less than or equal to {m}"),
        );
    }
}

fn out_of(n: usize, min: Option<i64>, max: Option<i64>) -> bool {
    min.is_some_and(|m| (n as i64) < m) || max.is_some_and(|m| (n as i64) > m)
}

fn bounds_text(min: Option<i64>, max: Option<i64>) -> String {
    let mut parts = Vec::new();
    if let Some(m) = max {
        parts.push(format!("Member must have length less than or equal to {m}"));
    }
    if let Some(m) = min {
        parts.push(format!(
            "Member must have length greater than or equal to {m}"
        ));
    }
    parts.join(", ")
}

fn push(errors: &mut Vec<String>, path: &Path<'_>, v: Option<&Value>, rule: &str) {
    if errors.len() >= MAX_ERRORS {
        return;
    }
    let shown = match v {
        None => "null".to_string(),
        Some(v) => format!("'{}'", display(v)),
    };
    errors.push(format!(
        "Value {shown} at '{path}' failed to satisfy constraint: {rule}"
    ));
}

/// How AWS's Java stack prints a value inside a validation message.
fn display(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => s.clone(),
        Value::Blob(b) => format!("java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]", b.len()),
        Value::Timestamp(t) => t.millis().to_string(),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(display).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{k}={}", display(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Where a value sits, as AWS prints it (`records.1.member.partitionKey`). Built on the
/// stack as the walk descends and rendered only when an error is reported, because valid
/// requests (nearly all of them) never need the text.
enum Path<'a> {
    Root,
    Member(&'a Path<'a>, &'static str),
    Item(&'a Path<'a>, usize),
    Key(&'a Path<'a>, &'a str),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Member(parent, name) => {
                if !matches!(parent, Path::Root) {
                    write!(f, "{parent}.")?;
                }
                let mut c = name.chars();
                if let Some(first) = c.next() {
                    write!(f, "{}{}", first.to_lowercase(), c.as_str())?;
                }
                Ok(())
            }
            Path::Item(parent, i) => write!(f, "{parent}.{}.member", i + 1),
            Path::Key(parent, k) => write!(f, "{parent}.{k}.member"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{check_value, parse_body, Format};

    fn decode_value(shape: ShapeId, format: Format, body: &[u8]) -> Result<Value, ApiError> {
        check_value(shape, format, parse_body(format, body)?)
    }
    use tributary_model::shapes;

    fn err(shape: ShapeId, body: &str) -> String {
        decode_value(shape, Format::Json, body.as_bytes())
            .unwrap_err()
            .message
            .unwrap_or_default()
    }

    #[test]
    fn reports_missing_and_bad_members_in_aws_shape() {
        assert_eq!(
            err(shapes::CREATE_STREAM_INPUT, r#"{"ShardCount":0}"#),
            "2 validation errors detected: Value null at 'streamName' failed to satisfy constraint: \
             Member must not be null; Value '0' at 'shardCount' failed to satisfy constraint: \
             Member must have value greater than or equal to 1"
        );
        assert_eq!(
            err(shapes::PUT_RECORDS_INPUT, r#"{"StreamName":"a b","Records":[{"Data":"","PartitionKey":""}]}"#),
            "2 validation errors detected: Value '' at 'records.1.member.partitionKey' failed to satisfy \
             constraint: Member must have length greater than or equal to 1; Value 'a b' at 'streamName' \
             failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        );
        assert_eq!(
            err(shapes::GET_SHARD_ITERATOR_INPUT, r#"{"StreamName":"s","ShardId":"x","ShardIteratorType":"NOPE"}"#),
            "1 validation error detected: Value 'NOPE' at 'shardIteratorType' failed to satisfy constraint: \
             Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]"
        );
    }

    #[test]
    fn caps_the_list_at_ten_errors() {
        let records: Vec<String> = (0..20)
            .map(|_| r#"{"Data":"","PartitionKey":""}"#.to_string())
            .collect();
        let body = format!(r#"{{"StreamName":"s","Records":[{}]}}"#, records.join(","));
        assert!(err(shapes::PUT_RECORDS_INPUT, &body).starts_with("10 validation errors detected"));
    }

    #[test]
    fn accepts_valid_input() {
        let body = r#"{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k"}]}"#;
        assert!(decode_value(shapes::PUT_RECORDS_INPUT, Format::Json, body.as_bytes()).is_ok());
    }
}
