//! The fast path must agree with the reference path on everything it accepts, and must
//! give up on everything the reference path rejects.

use super::decode;
use crate::{check, json, Format};
use tributary_model::{shapes, Operation, ShapeId, Value};

/// The reference: parse, then type-check (what the server did before the fast path).
fn reference(shape: ShapeId, body: &[u8]) -> Option<Value> {
    match json::decode(body).ok()? {
        v @ Value::Map(_) => check::check(shape, v, Format::Json).ok(),
        _ => None,
    }
}

fn agree(shape: ShapeId, body: &str) -> Option<Value> {
    let fast = decode(shape, body.as_bytes());
    let slow = reference(shape, body.as_bytes());
    if let Some(f) = &fast {
        assert_eq!(Some(f), slow.as_ref(), "fast path differs on {body}");
    }
    if slow.is_none() {
        assert!(
            fast.is_none(),
            "fast path accepted what the reference rejects: {body}"
        );
    }
    fast
}

#[test]
fn takes_the_common_requests() {
    let cases = [
        (
            shapes::PUT_RECORDS_INPUT,
            r#"{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k"},{"Data":"","PartitionKey":"k2","ExplicitHashKey":"12"}]}"#,
        ),
        (
            shapes::PUT_RECORD_INPUT,
            r#"{"StreamName":"s","Data":"aGVsbG8=","PartitionKey":"p","Bogus":{"x":[1,2,{}]},"ExplicitHashKey":null}"#,
        ),
        (
            shapes::GET_SHARD_ITERATOR_INPUT,
            r#"{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1700000000.5}"#,
        ),
        (
            shapes::GET_SHARD_ITERATOR_INPUT,
            r#"{"StreamName":"s","Timestamp":1700000000}"#,
        ),
        (
            shapes::CREATE_STREAM_INPUT,
            r#"{"StreamName":"s","ShardCount":4,"StreamModeDetails":{"StreamMode":"PROVISIONED"},"Tags":{"a":"b","c":null}}"#,
        ),
        (
            shapes::GET_RECORDS_INPUT,
            r#" { "ShardIterator" : "AAAA\u0041\n" , "Limit" : 1000 } "#,
        ),
        (
            shapes::PUT_RECORD_INPUT,
            r#"{"Data":"aGk\u003d","PartitionKey":"\u00e9t\u00e9"}"#,
        ),
        (
            shapes::PUT_RECORDS_INPUT,
            r#"{"Records":[null,{"Data":null,"PartitionKey":"k"}],"StreamARN":null}"#,
        ),
        (shapes::LIST_STREAMS_INPUT, r#"{}"#),
    ];
    for (shape, body) in cases {
        assert!(agree(shape, body).is_some(), "not taken: {body}");
    }
}

#[test]
fn leaves_the_rest_to_the_reference_path() {
    let cases = [
        (shapes::PUT_RECORD_INPUT, r#"{"Data":"abc"}"#),
        (shapes::PUT_RECORD_INPUT, r#"{"Data":"ab!="}"#),
        (shapes::PUT_RECORD_INPUT, r#"{"Data":"QR=="}"#),
        (shapes::PUT_RECORD_INPUT, r#"{"Data":"===="}"#),
        (shapes::PUT_RECORD_INPUT, r#"{"StreamName":true}"#),
        (shapes::PUT_RECORD_INPUT, r#"{"StreamName":12}"#),
        (shapes::PUT_RECORD_INPUT, r#"{"StreamName":[]}"#),
        (
            shapes::PUT_RECORD_INPUT,
            r#"{"StreamName":"a","StreamName":"b"}"#,
        ),
        (shapes::PUT_RECORD_INPUT, r#"{"StreamName":"a"} x"#),
        (shapes::PUT_RECORD_INPUT, r#"{"StreamName":"a""#),
        (shapes::PUT_RECORD_INPUT, r#"null"#),
        (shapes::PUT_RECORD_INPUT, r#"[]"#),
        (shapes::PUT_RECORDS_INPUT, r#"{"Records":"x"}"#),
        (shapes::PUT_RECORDS_INPUT, r#"{"Records":{}}"#),
        (shapes::CREATE_STREAM_INPUT, r#"{"ShardCount":"1"}"#),
        // Converted by the reference path (a float for an integer, a huge number).
        (shapes::CREATE_STREAM_INPUT, r#"{"ShardCount":1.5}"#),
        (
            shapes::CREATE_STREAM_INPUT,
            r#"{"ShardCount":18446744073709551615}"#,
        ),
        (shapes::CREATE_STREAM_INPUT, r#"{"Tags":{"a":"b","a":"c"}}"#),
        // A key repeated after a null: the reference keeps the first place (review finding).
        (
            shapes::PUT_RECORD_INPUT,
            r#"{"StreamName":null,"PartitionKey":"k","StreamName":"s"}"#,
        ),
        (
            shapes::CREATE_STREAM_INPUT,
            r#"{"StreamName":"s","Tags":{"a":null,"b":"x","a":"y"}}"#,
        ),
    ];
    for (shape, body) in cases {
        assert!(agree(shape, body).is_none(), "taken: {body}");
    }
}

#[test]
fn blobs_share_one_buffer_but_not_their_bytes() {
    let body = r#"{"Records":[{"Data":"YWFh"},{"Data":"YmJi"},{"Data":"Y2Nj"}]}"#;
    let v = decode(shapes::PUT_RECORDS_INPUT, body.as_bytes()).unwrap();
    let Some(Value::List(items)) = v.get("Records") else {
        panic!("{v:?}")
    };
    let data: Vec<&[u8]> = items
        .iter()
        .map(|r| match r.get("Data") {
            Some(Value::Blob(b)) => &b[..],
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(data, [&b"aaa"[..], b"bbb", b"ccc"]);
}

/// A small deterministic generator of JSON that is nearly right for an operation's input:
/// known and unknown members, every JSON type, nulls, escapes, good and bad base64.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn value(&mut self, depth: u32) -> String {
        let scalars = [
            "null",
            "true",
            "false",
            "0",
            "-7",
            "12",
            "1.5",
            "1e3",
            "18446744073709551616",
            r#""""#,
            r#""aGk=""#,
            r#""YWJj""#,
            r#""abc""#,
            r#""QR==""#,
            r#""s\u0041""#,
            r#""TRIM_HORIZON""#,
            r#""AT_TIMESTAMP""#,
            r#""shardId-000000000001""#,
        ];
        if depth == 0 {
            return self.pick(&scalars).to_owned();
        }
        match self.next() % 4 {
            0 => {
                let n = self.next() % 4;
                let items: Vec<String> = (0..n).map(|_| self.value(depth - 1)).collect();
                format!("[{}]", items.join(","))
            }
            1 => self.object(depth - 1),
            _ => self.pick(&scalars).to_owned(),
        }
    }
    fn object(&mut self, depth: u32) -> String {
        let names = [
            "StreamName",
            "Records",
            "Data",
            "PartitionKey",
            "ExplicitHashKey",
            "ShardCount",
            "Tags",
            "Timestamp",
            "Limit",
            "ShardIterator",
            "ShardIteratorType",
            "Bogus",
            "StreamModeDetails",
            "StreamMode",
            "a",
            "b",
        ];
        let n = self.next() % 5;
        let members: Vec<String> = (0..n)
            .map(|_| format!(r#""{}":{}"#, self.pick(&names), self.value(depth)))
            .collect();
        format!("{{{}}}", members.join(","))
    }
}

#[test]
fn agrees_with_the_reference_on_generated_bodies() {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut taken = 0;
    for i in 0..20_000 {
        let op = Operation::ALL[i % Operation::ALL.len()];
        let body = g.object(3);
        if agree(op.input_shape(), &body).is_some() {
            taken += 1;
        }
    }
    // The generator must exercise both sides, or the test proves nothing.
    assert!(taken > 1_000 && taken < 19_000, "taken {taken} of 20000");
}

#[test]
fn checks_utf8_in_members_it_drops() {
    // Found by the json_decode fuzz target: skipping an unknown member must still reject
    // invalid UTF-8, as the reference path does.
    let body = b"{\"Bogus\":\"PROV\xc9SION\",\"StreamName\":\"s\"}";
    assert!(reference(shapes::CREATE_STREAM_INPUT, body).is_none());
    assert!(decode(shapes::CREATE_STREAM_INPUT, body).is_none());
    let nested = b"{\"Bogus\":{\"a\":[\"\xff\"]}}";
    assert!(decode(shapes::CREATE_STREAM_INPUT, nested).is_none());
}
