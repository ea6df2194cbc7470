//! The type check: walks a decoded [`Value`] along the model's shapes, the way AWS's
//! deserializer does, and answers `SerializationException` with AWS's message on the first
//! mismatch. Members the shape does not have and explicit nulls are dropped; base64 strings
//! become blobs and numbers become timestamps, so later stages see one representation.
//!
//! The messages name the Java class AWS's JSON layer read the value as. Every one below is
//! AWS's answer recorded in kinesalite's test/helpers.js (`assertType`) and the type checks of
//! its validations/index.js, unless marked reconstructed. AWS's CBOR layer has no published
//! recording: a CBOR body gets the JSON layer's message for the same kind of value
//! (reconstructed), and the classes of values JSON cannot carry (byte strings, tagged dates)
//! are reconstructed from the Java types they would decode to.

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
        // AWS's number class truncates to the integer type: a value past `i32` arrives as the
        // nearest bound (kinesalite validations/index.js clamps at 2147483647; the lower bound
        // is reconstructed the same way).
        ShapeKind::Integer { .. } => number(v, "an Integer").map(|n| match n {
            Value::Int(i) => Value::Int(i.clamp(i64::from(i32::MIN), i64::from(i32::MAX))),
            other => other,
        }),
        ShapeKind::Long { .. } => number(v, "an Long"),
        ShapeKind::Boolean => boolean(v),
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
            (other, _) => Err(scalar_mismatch(&other, "milliseconds since epoch")),
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
            format!("class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to {target}")
        }
        Value::Str(_) => format!("class java.lang.String can not be converted to {target}"),
        Value::Blob(_) => format!("class [B can not be converted to {target}"),
        Value::Timestamp(_) => format!("class java.util.Date can not be converted to {target}"),
        Value::Null => "Expected null".into(),
    }
}

/// A boolean, or one of the strings AWS reads as one; any other string is named back in
/// capitals ("'23' can not be converted to an Boolean"). A number with a fraction is taken
/// ("For some reason, doubles are fine", kinesalite test/helpers.js); which value it becomes
/// was never recorded: non-zero is true here (reconstructed), as is the case-insensitive
/// reading of the strings.
fn boolean(v: Value) -> Result<Value, String> {
    match v {
        Value::Bool(_) => Ok(v),
        Value::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Value::Bool(true)),
            "false" | "0" | "no" => Ok(Value::Bool(false)),
            _ => Err(format!(
                "'{}' can not be converted to an Boolean",
                s.to_uppercase()
            )),
        },
        Value::Float(f) => Ok(Value::Bool(f != 0.0)),
        other => Err(scalar_mismatch(&other, "an Boolean")),
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

    const NUMBER: &str = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber";

    /// kinesalite test/helpers.js `assertType`: every wrong JSON type for each kind of target,
    /// with AWS's message.
    #[test]
    fn answers_aws_type_errors() {
        let at = |shape, member: &str, value: &str| {
            check(
                shape,
                json(&format!(r#"{{"{member}":{value}}}"#)),
                Format::Json,
            )
        };
        let err = |shape, member: &str, value: &str| at(shape, member, value).unwrap_err();
        let cases: &[(&str, &str, &str)] = &[
            // String (PutRecord's StreamName)
            ("StreamName", "true", "class java.lang.Boolean can not be converted to an String"),
            ("StreamName", "23", "~ can not be converted to an String"),
            ("StreamName", "-2147483648", "~ can not be converted to an String"),
            ("StreamName", "2147483648", "~ can not be converted to an String"),
            ("StreamName", "34.56", "~ can not be converted to an String"),
            ("StreamName", "[]", START_OF_LIST),
            ("StreamName", "{}", START_OF_MAP),
            // Blob (PutRecord's Data)
            ("Data", "true", "class java.lang.Boolean can not be converted to a Blob"),
            ("Data", "23", "~ can not be converted to a Blob"),
            ("Data", "34.56", "~ can not be converted to a Blob"),
            ("Data", "[]", START_OF_LIST),
            ("Data", "{}", START_OF_MAP),
            ("Data", r#""23456""#, "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5"),
            ("Data", r#""=+/=""#, "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='"),
            ("Data", r#""+/+=""#, "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"),
        ];
        for (member, value, message) in cases {
            let message = message.replace('~', NUMBER);
            assert_eq!(
                err(shapes::PUT_RECORD_INPUT, member, value),
                message,
                "{member}: {value}"
            );
        }
        // Integer (CreateStream's ShardCount), Long (GetRecords has none: IncreaseStreamRetention's
        // hours are an Integer too, so Long is checked through the same path's wording)
        for (value, message) in [
            (
                r#""23""#,
                "class java.lang.String can not be converted to an Integer",
            ),
            (
                "true",
                "class java.lang.Boolean can not be converted to an Integer",
            ),
            ("[]", START_OF_LIST),
            ("{}", START_OF_MAP),
        ] {
            assert_eq!(
                err(shapes::CREATE_STREAM_INPUT, "ShardCount", value),
                message
            );
        }
        // Timestamp (GetShardIterator's Timestamp): kinesalite validations/index.js.
        for (value, message) in [
            (
                r#""23""#,
                "class java.lang.String can not be converted to milliseconds since epoch",
            ),
            (
                "true",
                "class java.lang.Boolean can not be converted to milliseconds since epoch",
            ),
            ("[]", START_OF_LIST),
            ("{}", START_OF_MAP),
        ] {
            assert_eq!(
                err(shapes::GET_SHARD_ITERATOR_INPUT, "Timestamp", value),
                message
            );
        }
        // Boolean (DeleteStream's EnforceConsumerDeletion)
        for (value, message) in [
            (
                r#""23""#,
                "'23' can not be converted to an Boolean".to_string(),
            ),
            (
                r#""hellowtf""#,
                "'HELLOWTF' can not be converted to an Boolean".to_string(),
            ),
            ("23", format!("{NUMBER} can not be converted to an Boolean")),
            (
                "2147483648",
                format!("{NUMBER} can not be converted to an Boolean"),
            ),
            ("[]", START_OF_LIST.to_string()),
            ("{}", START_OF_MAP.to_string()),
        ] {
            assert_eq!(
                err(
                    shapes::DELETE_STREAM_INPUT,
                    "EnforceConsumerDeletion",
                    value
                ),
                message
            );
        }
        // Collections and structures, the reverse direction.
        for (value, message) in [
            (r#""23""#, "Expected list or null"),
            ("true", "Expected list or null"),
            ("34.56", "Expected list or null"),
            ("{}", START_OF_MAP),
        ] {
            assert_eq!(err(shapes::PUT_RECORDS_INPUT, "Records", value), message);
        }
        for (value, message) in [
            (r#""23""#, "Expected map or null"),
            ("23", "Expected map or null"),
            ("[]", START_OF_LIST),
        ] {
            assert_eq!(
                err(shapes::ADD_TAGS_TO_STREAM_INPUT, "Tags", value),
                message
            );
        }
        for (value, message) in [
            (r#""23""#, "Expected null"),
            ("true", "Expected null"),
            ("[]", START_OF_LIST),
        ] {
            assert_eq!(
                err(shapes::CREATE_STREAM_INPUT, "StreamModeDetails", value),
                message
            );
        }
    }

    #[test]
    fn reads_what_aws_reads_as_booleans_and_integers() {
        let flag = |value: &str| {
            check(
                shapes::DELETE_STREAM_INPUT,
                json(&format!(r#"{{"EnforceConsumerDeletion":{value}}}"#)),
                Format::Json,
            )
            .unwrap()
            .get("EnforceConsumerDeletion")
            .cloned()
        };
        for (value, read) in [
            (r#""true""#, true),
            (r#""yes""#, true),
            (r#""1""#, true),
            (r#""false""#, false),
            (r#""no""#, false),
            (r#""0""#, false),
            ("34.56", true),
        ] {
            assert_eq!(flag(value), Some(Value::Bool(read)), "{value}");
        }
        let count = |value: &str| {
            check(
                shapes::CREATE_STREAM_INPUT,
                json(&format!(r#"{{"ShardCount":{value}}}"#)),
                Format::Json,
            )
            .unwrap()
            .get("ShardCount")
            .cloned()
        };
        assert_eq!(count("100000000000"), Some(Value::Int(2_147_483_647)));
        assert_eq!(count("-100000000000"), Some(Value::Int(-2_147_483_648)));
        assert_eq!(count("3.9"), Some(Value::Int(3)));
    }
}
