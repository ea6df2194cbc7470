//! The type check: walks a decoded [`Value`] along the model's shapes, the way AWS's
//! deserializer does, and answers `SerializationException` with AWS's message on the first
//! mismatch. Members the shape does not have and explicit nulls are dropped; base64 strings
//! become blobs and numbers become timestamps, so later stages see one representation.

use base64::Engine as _;
use bytes::Bytes;
use tributary_model::{ShapeId, ShapeKind, Timestamp, Value};

use crate::Format;

pub fn check(shape: ShapeId, v: Value, format: Format) -> Result<Value, String> {
    match &shape.def().kind {
        ShapeKind::Structure { members, .. } => match v {
            Value::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    if matches!(v, Value::Null) {
                        continue;
                    }
                    if let Some(m) = members.iter().find(|m| m.name == k) {
                        out.push((k, check(m.shape, v, format)?));
                    }
                }
                Ok(Value::Map(out))
            }
            Value::List(_) => Err(START_OF_LIST.into()),
            _ => Err("Expected null".into()),
        },
        ShapeKind::List { member, .. } => match v {
            Value::List(items) => items
                .into_iter()
                .filter(|v| !matches!(v, Value::Null))
                .map(|v| check(*member, v, format))
                .collect::<Result<_, _>>()
                .map(Value::List),
            Value::Map(_) => Err(START_OF_MAP.into()),
            _ => Err("Expected list or null".into()),
        },
        ShapeKind::Map { value, .. } => match v {
            Value::Map(entries) => entries
                .into_iter()
                .filter(|(_, v)| !matches!(v, Value::Null))
                .map(|(k, v)| check(*value, v, format).map(|v| (k, v)))
                .collect::<Result<_, _>>()
                .map(Value::Map),
            Value::List(_) => Err(START_OF_LIST.into()),
            _ => Err("Expected map or null".into()),
        },
        ShapeKind::String { .. } => match v {
            Value::Str(_) => Ok(v),
            other => Err(scalar_mismatch(&other, "an String")),
        },
        ShapeKind::Integer { .. } => number(v, "an Integer"),
        ShapeKind::Long { .. } => number(v, "an Long"),
        ShapeKind::Boolean => match v {
            Value::Bool(_) => Ok(v),
            Value::Str(s) => Err(format!(
                "'{}' can not be converted to an Boolean",
                s.to_uppercase()
            )),
            other => Err(scalar_mismatch(&other, "an Boolean")),
        },
        ShapeKind::Blob { .. } => match v {
            Value::Blob(_) => Ok(v),
            Value::Str(s) => base64_blob(&s).map(Value::Blob),
            other => Err(scalar_mismatch(&other, "a Blob")),
        },
        ShapeKind::Timestamp => match (v, format) {
            (Value::Timestamp(t), _) => Ok(Value::Timestamp(t)),
            (Value::Int(i), Format::Json) => {
                Ok(Value::Timestamp(Timestamp(i.saturating_mul(1000))))
            }
            (Value::Float(f), Format::Json) => {
                Ok(Value::Timestamp(Timestamp((f * 1000.0).round() as i64)))
            }
            (Value::Int(i), Format::Cbor) => Ok(Value::Timestamp(Timestamp(i))),
            (Value::Float(f), Format::Cbor) => Ok(Value::Timestamp(Timestamp(f.round() as i64))),
            (other, _) => Err(scalar_mismatch(&other, "a Timestamp")),
        },
    }
}

const START_OF_LIST: &str = "Start of list found where not expected";
const START_OF_MAP: &str = "Start of structure or map found where not expected.";

fn scalar_mismatch(v: &Value, target: &str) -> String {
    match v {
        Value::List(_) => START_OF_LIST.into(),
        Value::Map(_) => START_OF_MAP.into(),
        Value::Bool(_) => format!("class java.lang.Boolean can not be converted to {target}"),
        Value::Int(_) | Value::Float(_) => {
            format!("class java.math.BigDecimal can not be converted to {target}")
        }
        Value::Str(_) => format!("class java.lang.String can not be converted to {target}"),
        Value::Blob(_) => format!("class [B can not be converted to {target}"),
        Value::Timestamp(_) => format!("class java.util.Date can not be converted to {target}"),
        Value::Null => "Expected null".into(),
    }
}

fn number(v: Value, target: &str) -> Result<Value, String> {
    match v {
        Value::Int(_) => Ok(v),
        // AWS truncates a fractional number sent for an integer member.
        Value::Float(f) if f.is_finite() => Ok(Value::Int(f.floor() as i64)),
        other => Err(scalar_mismatch(&other, target)),
    }
}

/// Base64 as AWS's Jackson-based decoder accepts it: standard alphabet, padded, length a
/// multiple of four. The decoder runs first: it accepts exactly the strings that pass the
/// alphabet scan below, and that scan (which names the offending character, as AWS does) is
/// only needed to word the error.
fn base64_blob(s: &str) -> Result<Bytes, String> {
    let prefix = || {
        if s.len() > 128 {
            "'<value>' can not be converted to a Blob: ".to_string()
        } else {
            format!("'{s}' can not be converted to a Blob: ")
        }
    };
    if !s.len().is_multiple_of(4) {
        return Err(format!(
            "{}Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            prefix(),
            s.len()
        ));
    }
    let bytes = s.as_bytes();
    if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(bytes) {
        return Ok(Bytes::from(decoded));
    }
    for (i, &c) in bytes.iter().enumerate() {
        let ok = c.is_ascii_alphanumeric()
            || c == b'+'
            || c == b'/'
            || (c == b'=' && bytes[i + 1..].iter().all(|&r| r == b'='));
        if !ok {
            return Err(format!(
                "{}Invalid Base64 character: '{}'",
                prefix(),
                c as char
            ));
        }
    }
    Err(format!(
        "{}Invalid last non-pad Base64 character dectected",
        prefix()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_model::shapes;

    fn json(s: &str) -> Value {
        crate::json::decode(s.as_bytes()).unwrap()
    }

    #[test]
    fn converts_blobs_and_timestamps() {
        let v = check(
            shapes::PUT_RECORD_INPUT,
            json(r#"{"StreamName":"s","Data":"aGk=","PartitionKey":"k","Bogus":1,"ExplicitHashKey":null}"#),
            Format::Json,
        )
        .unwrap();
        assert_eq!(v.get("Data"), Some(&Value::Blob(Bytes::from_static(b"hi"))));
        assert_eq!(v.get("Bogus"), None);
        assert_eq!(v.get("ExplicitHashKey"), None);
        let t = check(
            shapes::GET_SHARD_ITERATOR_INPUT,
            json(r#"{"Timestamp":1700000000.5}"#),
            Format::Json,
        )
        .unwrap();
        assert_eq!(
            t.get("Timestamp"),
            Some(&Value::Timestamp(Timestamp(1_700_000_000_500)))
        );
    }

    #[test]
    fn answers_aws_type_errors() {
        let err =
            |body: &str| check(shapes::PUT_RECORD_INPUT, json(body), Format::Json).unwrap_err();
        assert_eq!(
            err(r#"{"StreamName":true}"#),
            "class java.lang.Boolean can not be converted to an String"
        );
        assert_eq!(
            err(r#"{"StreamName":12}"#),
            "class java.math.BigDecimal can not be converted to an String"
        );
        assert_eq!(err(r#"{"StreamName":[]}"#), START_OF_LIST);
        assert_eq!(err(r#"{"StreamName":{}}"#), START_OF_MAP);
        assert_eq!(
            err(r#"{"Data":"abc"}"#),
            "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"
        );
        assert_eq!(
            err(r#"{"Data":"ab!="}"#),
            "'ab!=' can not be converted to a Blob: Invalid Base64 character: '!'"
        );
        let list = check(
            shapes::PUT_RECORDS_INPUT,
            json(r#"{"Records":"x"}"#),
            Format::Json,
        );
        assert_eq!(list.unwrap_err(), "Expected list or null");
        let int = check(
            shapes::CREATE_STREAM_INPUT,
            json(r#"{"ShardCount":"1"}"#),
            Format::Json,
        );
        assert_eq!(
            int.unwrap_err(),
            "class java.lang.String can not be converted to an Integer"
        );
    }
}
