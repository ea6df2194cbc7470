//! The model's constraints, checked the way AWS reports them:
//! `N validation errors detected: Value 'x' at 'path' failed to satisfy constraint: …; …`
//! Members are checked in the order AWS's validator visits them (the shape table carries it:
//! see `scripts/gen_model.py`), a member's pattern before its length, at most ten errors are
//! reported, and paths use AWS's lower-camel names (`records.1.member.partitionKey`). The
//! scalars inside a list or map are judged as a whole: one error at the collection's path.

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
                if is_structure(*item) {
                    for (i, x) in items.iter().enumerate() {
                        member(*item, x, &Path::Item(path, i), errors);
                    }
                } else if items.iter().any(|x| !satisfies(*item, x)) {
                    // AWS's answer for a list of scalars: one error at the list, naming every
                    // rule of the member shape (kinesalite test/removeTagsFromStream.js
                    // "should return ValidationException for long TagKey").
                    let rule = format!(
                        "Member must satisfy constraint: [{}]",
                        rules(*item).join(", ")
                    );
                    push(errors, path, Some(v), &rule);
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
                // The same form for keys and for scalar values (kinesalite
                // test/addTagsToStream.js "long tag key" and "long tag value"); keys are
                // reported first (reconstructed: no recording has both at once).
                if entries.iter().any(|(k, _)| !satisfies_str(*key, k)) {
                    let rule = format!(
                        "Map keys must satisfy constraint: [{}]",
                        rules(*key).join(", ")
                    );
                    push(errors, path, Some(v), &rule);
                }
                if is_structure(*value) {
                    for (k, x) in entries {
                        member(*value, x, &Path::Key(path, k), errors);
                    }
                } else if entries.iter().any(|(_, x)| !satisfies(*value, x)) {
                    let rule = format!(
                        "Map value must satisfy constraint: [{}]",
                        rules(*value).join(", ")
                    );
                    push(errors, path, Some(v), &rule);
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
                // AWS reports the pattern before the length (kinesalite test/putRecords.js
                // "should return ValidationException for empty StreamName").
                if let Some(p) = pattern {
                    if !shape.matches(s) {
                        push(errors, path, Some(v), &pattern_rule(p));
                    }
                }
                length(s.chars().count(), *min, *max, v, path, errors);
                if let Some(values) = enum_values {
                    if !values.contains(&s.as_str()) {
                        push(errors, path, Some(v), &enum_rule(values));
                    }
                }
            }
        }
        ShapeKind::Integer { min, max } | ShapeKind::Long { min, max } => {
            if let Value::Int(i) = v {
                if let Some(m) = min.filter(|m| i < m) {
                    push(errors, path, Some(v), &value_min_rule(m));
                }
                if let Some(m) = max.filter(|m| i > m) {
                    push(errors, path, Some(v), &value_max_rule(m));
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

fn is_structure(shape: ShapeId) -> bool {
    matches!(shape.def().kind, ShapeKind::Structure { .. })
}

/// Whether a scalar meets every rule of its shape (the members of lists and maps that AWS
/// checks as a whole).
fn satisfies(shape: ShapeId, v: &Value) -> bool {
    match (&shape.def().kind, v) {
        (ShapeKind::String { .. }, Value::Str(s)) => satisfies_str(shape, s),
        (ShapeKind::Integer { min, max } | ShapeKind::Long { min, max }, Value::Int(i)) => {
            min.is_none_or(|m| *i >= m) && max.is_none_or(|m| *i <= m)
        }
        (ShapeKind::Blob { min, max }, Value::Blob(b)) => !out_of(b.len(), *min, *max),
        // Nested collections do not occur as members of collections in the model; a list
        // inside a list is taken as it is.
        _ => true,
    }
}

fn satisfies_str(shape: ShapeId, s: &str) -> bool {
    let ShapeKind::String {
        min,
        max,
        enum_values,
        ..
    } = shape.def().kind
    else {
        return true;
    };
    !out_of(s.chars().count(), min, max)
        && shape.matches(s)
        && enum_values.is_none_or(|values| values.contains(&s))
}

/// Every rule of a member shape, as AWS lists them inside "[...]": the upper bound before the
/// lower (kinesalite test/addTagsToStream.js). Where a pattern or an enum sits among them is
/// reconstructed: pattern first, as in the member-level messages, and the enum last.
fn rules(shape: ShapeId) -> Vec<String> {
    let mut out = Vec::new();
    match &shape.def().kind {
        ShapeKind::String {
            min,
            max,
            pattern,
            enum_values,
        } => {
            out.extend(pattern.map(pattern_rule));
            out.extend(max.map(length_max_rule));
            out.extend(min.map(length_min_rule));
            out.extend(enum_values.map(enum_rule));
        }
        ShapeKind::Blob { min, max } => {
            out.extend(max.map(length_max_rule));
            out.extend(min.map(length_min_rule));
        }
        ShapeKind::Integer { min, max } | ShapeKind::Long { min, max } => {
            out.extend(max.map(value_max_rule));
            out.extend(min.map(value_min_rule));
        }
        _ => {}
    }
    out
}

fn pattern_rule(p: &str) -> String {
    format!("Member must satisfy regular expression pattern: {p}")
}

/// The values in the order AWS prints them, which the generator already gave the table.
fn enum_rule(values: &[&str]) -> String {
    format!(
        "Member must satisfy enum value set: [{}]",
        values.join(", ")
    )
}

fn length_min_rule(m: i64) -> String {
    format!("Member must have length greater than or equal to {m}")
}

fn length_max_rule(m: i64) -> String {
    format!("Member must have length less than or equal to {m}")
}

fn value_min_rule(m: i64) -> String {
    format!("Member must have value greater than or equal to {m}")
}

fn value_max_rule(m: i64) -> String {
    format!("Member must have value less than or equal to {m}")
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
        push(errors, path, Some(v), &length_min_rule(m));
    }
    if let Some(m) = max.filter(|m| (n as i64) > *m) {
        push(errors, path, Some(v), &length_max_rule(m));
    }
}

fn out_of(n: usize, min: Option<i64>, max: Option<i64>) -> bool {
    min.is_some_and(|m| (n as i64) < m) || max.is_some_and(|m| (n as i64) > m)
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

    /// AWS's answers recorded in kinesalite's tests, adapted only where today's model differs
    /// (fewer required members, anchored patterns).
    #[test]
    fn reports_members_in_awss_order() {
        // test/putRecord.js "should return ValidationException for empty StreamName".
        assert_eq!(
            err(
                shapes::PUT_RECORD_INPUT,
                r#"{"StreamName":"","PartitionKey":"","Data":"","ExplicitHashKey":"","SequenceNumberForOrdering":""}"#
            ),
            "5 validation errors detected: \
             Value '' at 'sequenceNumberForOrdering' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^(0|([1-9]\\d{0,128}))$; \
             Value '' at 'partitionKey' failed to satisfy constraint: \
             Member must have length greater than or equal to 1; \
             Value '' at 'explicitHashKey' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^(0|([1-9]\\d{0,38}))$; \
             Value '' at 'streamName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value '' at 'streamName' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        );
        // test/getShardIterator.js "should return ValidationException for empty StreamName",
        // with the enum in the order AWS prints it.
        assert_eq!(
            err(
                shapes::GET_SHARD_ITERATOR_INPUT,
                r#"{"StreamName":"","ShardIteratorType":"","ShardId":"","StartingSequenceNumber":""}"#
            ),
            "6 validation errors detected: \
             Value '' at 'shardId' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value '' at 'shardId' failed to satisfy constraint: \
             Member must have length greater than or equal to 1; \
             Value '' at 'shardIteratorType' failed to satisfy constraint: \
             Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]; \
             Value '' at 'startingSequenceNumber' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^(0|([1-9]\\d{0,128}))$; \
             Value '' at 'streamName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value '' at 'streamName' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        );
        // test/mergeShards.js "should return ValidationException for no StreamName".
        assert_eq!(
            err(shapes::MERGE_SHARDS_INPUT, "{}"),
            "2 validation errors detected: \
             Value null at 'shardToMerge' failed to satisfy constraint: Member must not be null; \
             Value null at 'adjacentShardToMerge' failed to satisfy constraint: Member must not be null"
        );
        // test/createStream.js "should return ValidationException for empty StreamName".
        assert_eq!(
            err(
                shapes::CREATE_STREAM_INPUT,
                r#"{"StreamName":"","ShardCount":0}"#
            ),
            "3 validation errors detected: \
             Value '0' at 'shardCount' failed to satisfy constraint: \
             Member must have value greater than or equal to 1; \
             Value '' at 'streamName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value '' at 'streamName' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        );
        // test/putRecords.js "should return ValidationException for empty PartitionKey":
        // a record's members are ordered the same way, inside the list's place.
        assert_eq!(
            err(
                shapes::PUT_RECORDS_INPUT,
                r#"{"StreamName":"","Records":[{"PartitionKey":"","Data":"","ExplicitHashKey":""}]}"#
            ),
            "4 validation errors detected: \
             Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: \
             Member must have length greater than or equal to 1; \
             Value '' at 'records.1.member.explicitHashKey' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^(0|([1-9]\\d{0,38}))$; \
             Value '' at 'streamName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value '' at 'streamName' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        );
    }

    #[test]
    fn judges_the_scalars_of_a_collection_as_a_whole() {
        let long = "a".repeat(129);
        // kinesalite test/removeTagsFromStream.js "should return ValidationException for long TagKey".
        assert_eq!(
            err(
                shapes::REMOVE_TAGS_FROM_STREAM_INPUT,
                &format!(r#"{{"StreamName":"s","TagKeys":["a","{long}","b"]}}"#)
            ),
            format!(
                "1 validation error detected: Value '[a, {long}, b]' at 'tagKeys' failed to satisfy \
                 constraint: Member must satisfy constraint: [Member must have length less than or \
                 equal to 128, Member must have length greater than or equal to 1]"
            )
        );
        // kinesalite test/addTagsToStream.js "long tag value" and "long tag key".
        let value = "v".repeat(257);
        assert_eq!(
            err(
                shapes::ADD_TAGS_TO_STREAM_INPUT,
                &format!(r#"{{"StreamName":"s","Tags":{{"a":"1","c":"{value}"}}}}"#)
            ),
            format!(
                "1 validation error detected: Value '{{a=1, c={value}}}' at 'tags' failed to satisfy \
                 constraint: Map value must satisfy constraint: [Member must have length less than \
                 or equal to 256, Member must have length greater than or equal to 0]"
            )
        );
        assert_eq!(
            err(
                shapes::ADD_TAGS_TO_STREAM_INPUT,
                &format!(r#"{{"StreamName":"s","Tags":{{"{long}":"3"}}}}"#)
            ),
            format!(
                "1 validation error detected: Value '{{{long}=3}}' at 'tags' failed to satisfy \
                 constraint: Map keys must satisfy constraint: [Member must have length less than \
                 or equal to 128, Member must have length greater than or equal to 1]"
            )
        );
        // An enum inside a list: the same form (reconstructed), the values in AWS's order.
        assert_eq!(
            err(
                shapes::ENABLE_ENHANCED_MONITORING_INPUT,
                r#"{"StreamName":"s","ShardLevelMetrics":["ALL","Nope"]}"#
            ),
            "1 validation error detected: Value '[ALL, Nope]' at 'shardLevelMetrics' failed to \
             satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value \
             set: [ALL, IteratorAgeMilliseconds, IncomingBytes, WriteProvisionedThroughputExceeded, \
             OutgoingRecords, ReadProvisionedThroughputExceeded, IncomingRecords, OutgoingBytes]]"
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
