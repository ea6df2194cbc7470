//! Request bodies and the few response fields the load generator needs, in JSON 1.1 or CBOR.
//!
//! Bodies are built with `tributary-protocol`'s encoders (blobs become base64 in JSON and byte
//! strings in CBOR, as AWS defines). Responses of the hot loop are read as cheaply as
//! possible: in JSON a byte search for the one or two fields needed (a full parse of a 1.4 MB
//! GetRecords body would make the client, not the server, the bottleneck on two cores); CBOR
//! has no such shortcut and is decoded whole.

use bytes::Bytes;
use memchr::memmem;
use rand::{Rng, RngCore};
use tributary_model::Value;
use tributary_protocol::{cbor, json, Format};

use crate::sign::payload_hash;

/// A request body built once and sent many times, with its SHA-256 for SigV4.
#[derive(Debug, Clone)]
pub struct PreBody {
    pub bytes: Bytes,
    pub sha256: String,
}

impl PreBody {
    pub fn new(bytes: Bytes) -> Self {
        let sha256 = payload_hash(&bytes);
        PreBody { bytes, sha256 }
    }
}

pub fn encode(format: Format, v: &Value) -> Bytes {
    match format {
        Format::Json => json::encode(v),
        Format::Cbor => cbor::encode(v),
    }
}

pub fn decode(format: Format, body: &[u8]) -> Option<Value> {
    match format {
        Format::Json => json::decode(body).ok(),
        Format::Cbor => cbor::decode(body).ok(),
    }
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// One record entry: a random 16-hex-digit partition key and `size` random bytes.
fn random_record(rng: &mut impl RngCore, size: usize) -> (Value, Value) {
    let mut data = vec![0u8; size];
    rng.fill_bytes(&mut data);
    let key = format!("{:016x}", rng.gen::<u64>());
    (s(&key), Value::Blob(Bytes::from(data)))
}

/// `PutRecord` bodies with distinct random keys and data.
pub fn put_record_bodies(format: Format, stream: &str, size: usize, n: usize) -> Vec<PreBody> {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| {
            let (key, data) = random_record(&mut rng, size);
            let v = map(vec![
                ("StreamName", s(stream)),
                ("Data", data),
                ("PartitionKey", key),
            ]);
            PreBody::new(encode(format, &v))
        })
        .collect()
}

/// `PutRecords` bodies of `batch` records each.
pub fn put_records_bodies(
    format: Format,
    stream: &str,
    size: usize,
    batch: usize,
    n: usize,
) -> Vec<PreBody> {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| {
            let records = (0..batch)
                .map(|_| {
                    let (key, data) = random_record(&mut rng, size);
                    map(vec![("Data", data), ("PartitionKey", key)])
                })
                .collect();
            let v = map(vec![
                ("StreamName", s(stream)),
                ("Records", Value::List(records)),
            ]);
            PreBody::new(encode(format, &v))
        })
        .collect()
}

pub fn get_records_body(format: Format, iterator: &str, limit: u32) -> Bytes {
    encode(
        format,
        &map(vec![
            ("ShardIterator", s(iterator)),
            ("Limit", Value::Int(i64::from(limit))),
        ]),
    )
}

pub fn trim_horizon_body(format: Format, stream: &str, shard: &str) -> Bytes {
    encode(
        format,
        &map(vec![
            ("StreamName", s(stream)),
            ("ShardId", s(shard)),
            ("ShardIteratorType", s("TRIM_HORIZON")),
        ]),
    )
}

/// The AWS error code of an error response (`__type`, without any `namespace#` prefix), or
/// `HTTP <status>` when the body does not carry one.
pub fn error_code(format: Format, status: u16, body: &[u8]) -> String {
    // Some servers answer errors in JSON whatever the request's format; try both.
    let v = decode(format, body).or_else(|| json::decode(body).ok());
    match v.as_ref().and_then(|v| v.get("__type")) {
        Some(Value::Str(t)) => t.rsplit('#').next().unwrap_or(t).to_string(),
        _ => format!("HTTP {status}"),
    }
}

/// What a 2xx PutRecords answer says: how many entries failed, and their codes when some did.
pub fn put_records_failures(format: Format, body: &[u8]) -> (u64, Vec<String>) {
    let failed = match format {
        Format::Json => json_number(body, b"\"FailedRecordCount\""),
        Format::Cbor => None,
    };
    if failed == Some(0) {
        return (0, Vec::new());
    }
    let Some(v) = decode(format, body) else {
        return (0, vec!["unreadable PutRecords response".into()]);
    };
    let n = match v.get("FailedRecordCount") {
        Some(Value::Int(n)) => *n as u64,
        _ => 0,
    };
    let mut codes = Vec::new();
    if let Some(Value::List(records)) = v.get("Records") {
        for r in records {
            if let Some(Value::Str(c)) = r.get("ErrorCode") {
                codes.push(c.clone());
            }
        }
    }
    (n, codes)
}

/// Records in a GetRecords answer and its `NextShardIterator` (absent when the shard is
/// closed and read to its end).
pub fn get_records_result(format: Format, body: &[u8]) -> Option<(u64, Option<String>)> {
    if format == Format::Json {
        let n = memmem::find_iter(body, b"\"SequenceNumber\"").count() as u64;
        // The iterator is copied as is unless it carries a JSON escape, which only a full
        // parse reads correctly.
        match json_string(body, b"\"NextShardIterator\"") {
            Some(Ok(it)) => return Some((n, Some(it))),
            None if memmem::find(body, b"\"NextShardIterator\"").is_none() => {
                return Some((n, None))
            }
            _ => {}
        }
    }
    let v = decode(format, body)?;
    let n = match v.get("Records") {
        Some(Value::List(r)) => r.len() as u64,
        _ => 0,
    };
    let next = match v.get("NextShardIterator") {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    Some((n, next))
}

/// `ShardIterator` of a GetShardIterator answer.
pub fn shard_iterator(format: Format, body: &[u8]) -> Option<String> {
    match decode(format, body)?.get("ShardIterator") {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The position just after `"key"` and the `:` that follows it (whitespace allowed).
fn after_key(body: &[u8], key: &[u8]) -> Option<usize> {
    let mut i = memmem::find(body, key)? + key.len();
    while body.get(i)?.is_ascii_whitespace() {
        i += 1;
    }
    if body[i] != b':' {
        return None;
    }
    i += 1;
    while body.get(i)?.is_ascii_whitespace() {
        i += 1;
    }
    Some(i)
}

fn json_number(body: &[u8], key: &[u8]) -> Option<u64> {
    let i = after_key(body, key)?;
    let end = body[i..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(body.len(), |p| i + p);
    std::str::from_utf8(&body[i..end]).ok()?.parse().ok()
}

/// `Some(Ok(s))` for a plain string, `Some(Err(()))` for one with escapes (or `null`).
fn json_string(body: &[u8], key: &[u8]) -> Option<Result<String, ()>> {
    let i = after_key(body, key)?;
    if body.get(i) != Some(&b'"') {
        return Some(Err(()));
    }
    let rest = &body[i + 1..];
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] == b'\\' {
        return Some(Err(()));
    }
    Some(
        std::str::from_utf8(&rest[..end])
            .map(str::to_string)
            .map_err(|_| ()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_get_records_fields_in_both_formats() {
        let out = map(vec![
            (
                "Records",
                Value::List(vec![
                    map(vec![
                        ("SequenceNumber", s("1")),
                        ("Data", Value::Blob(Bytes::from_static(b"x"))),
                    ]),
                    map(vec![
                        ("SequenceNumber", s("2")),
                        ("Data", Value::Blob(Bytes::from_static(b"y"))),
                    ]),
                ]),
            ),
            ("NextShardIterator", s("AAAA/b+=")),
            ("MillisBehindLatest", Value::Int(0)),
        ]);
        for f in [Format::Json, Format::Cbor] {
            let body = encode(f, &out);
            assert_eq!(
                get_records_result(f, &body),
                Some((2, Some("AAAA/b+=".into())))
            );
        }
        let spaced = br#"{"Records": [], "NextShardIterator" : "a\/b"}"#;
        assert_eq!(
            get_records_result(Format::Json, spaced),
            Some((0, Some("a/b".into())))
        );
        assert_eq!(
            get_records_result(Format::Json, br#"{"Records":[]}"#),
            Some((0, None))
        );
    }

    #[test]
    fn reads_put_records_failures_and_error_codes() {
        let ok = br#"{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"s"}]}"#;
        assert_eq!(put_records_failures(Format::Json, ok), (0, vec![]));
        let bad = br#"{"FailedRecordCount": 1,"Records":[{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"m"}]}"#;
        assert_eq!(
            put_records_failures(Format::Json, bad),
            (
                1,
                vec!["ProvisionedThroughputExceededException".to_string()]
            )
        );
        let err = br#"{"__type":"com.amazonaws.kinesis#ResourceNotFoundException","message":"x"}"#;
        assert_eq!(
            error_code(Format::Json, 400, err),
            "ResourceNotFoundException"
        );
        assert_eq!(error_code(Format::Cbor, 502, b"<html>"), "HTTP 502");
    }

    #[test]
    fn bodies_decode_as_the_server_would() {
        use tributary_model::Operation;
        for f in [Format::Json, Format::Cbor] {
            let b = &put_records_bodies(f, "s", 100, 5, 1)[0];
            let served = |op: Operation, body: &[u8]| {
                tributary_protocol::parse(Some(op), f, body).and_then(|p| p.check(op, f))
            };
            served(Operation::PutRecords, &b.bytes).expect("valid PutRecords");
            let b = &put_record_bodies(f, "s", 100, 1)[0];
            served(Operation::PutRecord, &b.bytes).expect("valid PutRecord");
        }
    }
}
