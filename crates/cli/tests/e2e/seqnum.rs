//! Sequence numbers in AWS's layout at the protocol level: AWS's rejections, byte for byte,
//! over HTTP/1.1 and h2c, in JSON and CBOR; and SDK round trips (put -> iterator at a number -> resume) that
//! outlive a restart and a split.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use serde_json::json;
use tributary_testkit::raw::{kinesis_request, send, Http};
use tributary_testkit::TestServer;

use crate::{create, server, ACCOUNT, CBOR, JSON};

/// AWS Lambda's "Example Kinesis Record Event": a number of shard 6 of another stream.
const LAMBDA_EXAMPLE: &str = "49590338271490256608559692538361571095921575989136588898";
/// The Developer Guide's put-record output: a number of shard 0 of another stream.
const GUIDE_EXAMPLE: &str = "49546986683135544286507457936321625675700192471156785154";
/// Hex 20000000000800000000000000000000000000000000002: the counter's top digit above 7.
const EIGHT_IN_INDEX: &str = "49039857307719593840066370180380661734935976090628259842";
/// Exactly 2^185: AWS's range starts above it.
const TWO_POW_185: &str = "49039857307708443467467104868809893875799651909875269632";
/// 2^185 + 3: "version 3".
const VERSION_3: &str = "49039857307708443467467104868809893875799651909875269635";

/// The request's encoding: AWS answers in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fmt {
    Json,
    Cbor,
}

/// Every transport and encoding the rejections are checked over.
const EVERY: [(Http, Fmt); 4] = [
    (Http::H1, Fmt::Json),
    (Http::H2c, Fmt::Json),
    (Http::H1, Fmt::Cbor),
    (Http::H2c, Fmt::Cbor),
];

/// The status and body of one raw call. A CBOR answer is decoded and written back as JSON
/// (keys sorted, as `error` writes them) so one expected body serves both encodings; a JSON
/// answer is compared byte for byte.
async fn call(
    s: &TestServer,
    (http, fmt): (Http, Fmt),
    target: &str,
    body: serde_json::Value,
) -> (u16, String) {
    let (ct, bytes) = match fmt {
        Fmt::Json => (JSON, body.to_string().into_bytes()),
        Fmt::Cbor => {
            let mut out = Vec::new();
            ciborium::into_writer(&to_cbor(&body), &mut out).unwrap();
            (CBOR, out)
        }
    };
    let r = send(s.addr, http, kinesis_request(Some(target), Some(ct), bytes)).await;
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some(ct),
        "{target}"
    );
    let text = match fmt {
        Fmt::Json => String::from_utf8(r.body.to_vec()).unwrap(),
        Fmt::Cbor => {
            let v: serde_json::Value = ciborium::from_reader(&r.body[..]).unwrap();
            v.to_string()
        }
    };
    (r.status.as_u16(), text)
}

/// A JSON request body in CBOR: `Data` (base64 text in JSON) becomes a byte string.
fn to_cbor(v: &serde_json::Value) -> ciborium::Value {
    use base64::Engine as _;
    use ciborium::Value as C;
    match v {
        serde_json::Value::Object(m) => C::Map(
            m.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("Data", serde_json::Value::String(b64)) => C::Bytes(
                            base64::engine::general_purpose::STANDARD
                                .decode(b64)
                                .unwrap(),
                        ),
                        _ => to_cbor(v),
                    };
                    (C::Text(k.clone()), v)
                })
                .collect(),
        ),
        serde_json::Value::String(t) => C::Text(t.clone()),
        serde_json::Value::Number(n) => C::Integer(n.as_i64().unwrap().into()),
        serde_json::Value::Bool(b) => C::Bool(*b),
        serde_json::Value::Array(a) => C::Array(a.iter().map(to_cbor).collect()),
        serde_json::Value::Null => C::Null,
    }
}

fn error(kind: &str, message: &str) -> String {
    format!(r#"{{"__type":"{kind}","message":"{message}"}}"#)
}

fn invalid_argument(message: &str) -> String {
    error("InvalidArgumentException", message)
}

#[tokio::test]
async fn starting_numbers_are_rejected_with_aws_bodies() {
    let s = server();
    let c = s.sdk();
    create(&c, "sq", 2).await;
    let low = c
        .put_record()
        .stream_name("sq")
        .partition_key("k")
        .explicit_hash_key("0")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap();
    let low = low.sequence_number().to_string();
    let on_shard0 = |seq: &str, how: &str| {
        format!(
            "StartingSequenceNumber {seq} used in GetShardIterator on shard shardId-000000000000 in \
             stream sq under account {ACCOUNT} is invalid{how}."
        )
    };
    let other_shard = |n: u32, used: u32| {
        format!(
            "Invalid StartingSequenceNumber. It encodes shardId-{n:012}, while it was used in a call \
             to a shard with shardId-{used:012}"
        )
    };
    // AWS's answers recorded in kinesalite test/getShardIterator.js, and AWS's published
    // numbers (another stream's).
    let cases = [
        ("shardId-0", LAMBDA_EXAMPLE, other_shard(6, 0)),
        ("shardId-1", low.as_str(), other_shard(0, 1)),
        ("shardId-0", "5", other_shard(5, 0)),
        (
            "shardId-0",
            GUIDE_EXAMPLE,
            on_shard0(GUIDE_EXAMPLE, " because it did not come from this stream"),
        ),
        (
            "shardId-0",
            "0",
            on_shard0(
                "21267647932558653966460912964485513216",
                " because it did not come from this stream",
            ),
        ),
        ("shardId-0", EIGHT_IN_INDEX, on_shard0(EIGHT_IN_INDEX, "")),
        ("shardId-0", TWO_POW_185, on_shard0(TWO_POW_185, "")),
    ];
    for way in EVERY {
        for (shard, seq, message) in &cases {
            let got = call(
                &s,
                way,
                "GetShardIterator",
                json!({
                    "StreamName": "sq",
                    "ShardId": shard,
                    "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                    "StartingSequenceNumber": seq,
                }),
            )
            .await;
            assert_eq!(
                got,
                (400, invalid_argument(message)),
                "{way:?} {seq} on {shard}"
            );
        }
        // The number it issued positions an iterator.
        let (status, body) = call(
            &s,
            way,
            "GetShardIterator",
            json!({
                "StreamName": "sq",
                "ShardId": "shardId-0",
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": low,
            }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn ordering_numbers_are_judged_as_aws_does() {
    let s = server();
    let c = s.sdk();
    create(&c, "ord", 1).await;
    let put = |seq: &str| {
        json!({
            "StreamName": "ord",
            "PartitionKey": "k",
            "Data": "eA==",
            "SequenceNumberForOrdering": seq,
        })
    };
    for way in EVERY {
        // Any well-formed number of any stream, in AWS's forms (kinesalite test/putRecord.js).
        for ok in [LAMBDA_EXAMPLE, GUIDE_EXAMPLE, "0"] {
            let (status, body) = call(&s, way, "PutRecord", put(ok)).await;
            assert_eq!(status, 200, "{ok}: {body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["ShardId"], "shardId-000000000000");
        }
        for bad in [TWO_POW_185, EIGHT_IN_INDEX] {
            let got = call(&s, way, "PutRecord", put(bad)).await;
            let message = format!(
                "ExclusiveMinimumSequenceNumber {bad} used in PutRecord on stream ord under account \
                 {ACCOUNT} is invalid."
            );
            assert_eq!(got, (400, invalid_argument(&message)), "{bad}");
        }
        // Version 3: AWS fails internally (kinesalite test/putRecord.js records a 500
        // InternalFailure); the body is this server's for every internal failure.
        let got = call(&s, way, "PutRecord", put(VERSION_3)).await;
        assert_eq!(
            got,
            (
                500,
                error("InternalFailureException", "Internal service failure.")
            )
        );
    }
}

/// Reads `shard` from `it` until an empty page; returns the data and the last number.
async fn read_on(c: &aws_sdk_kinesis::Client, it: String) -> (Vec<String>, Option<String>) {
    let mut it = Some(it);
    let mut data = Vec::new();
    let mut last = None;
    while let Some(i) = it.take() {
        let r = c.get_records().shard_iterator(i).send().await.unwrap();
        if r.records().is_empty() {
            break;
        }
        for rec in r.records() {
            data.push(String::from_utf8(rec.data().as_ref().to_vec()).unwrap());
            last = Some(rec.sequence_number().to_string());
        }
        it = r.next_shard_iterator().map(str::to_string);
    }
    (data, last)
}

async fn at(
    c: &aws_sdk_kinesis::Client,
    shard: &str,
    kind: ShardIteratorType,
    seq: &str,
) -> String {
    c.get_shard_iterator()
        .stream_name("rt")
        .shard_id(shard)
        .shard_iterator_type(kind)
        .starting_sequence_number(seq)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_string()
}

async fn put(c: &aws_sdk_kinesis::Client, data: &str, ordering: Option<&str>) -> (String, String) {
    let r = c
        .put_record()
        .stream_name("rt")
        .partition_key("same-key")
        .data(Blob::new(data))
        .set_sequence_number_for_ordering(ordering.map(str::to_string))
        .send()
        .await
        .unwrap();
    (r.shard_id().to_string(), r.sequence_number().to_string())
}

#[tokio::test]
async fn sdk_numbers_survive_restart_and_split() {
    let mut s = server();
    let c = s.sdk();
    create(&c, "rt", 1).await;
    let (shard, first) = put(&c, "a", None).await;
    let (_, second) = put(&c, "b", Some(&first)).await;
    assert!(second > first, "{second} > {first}");
    let (data, last) = read_on(
        &c,
        at(&c, &shard, ShardIteratorType::AtSequenceNumber, &first).await,
    )
    .await;
    assert_eq!(
        (data, last.as_deref()),
        (
            vec!["a".to_string(), "b".to_string()],
            Some(second.as_str())
        )
    );

    // An iterator and a checkpoint taken before a restart both resume after it.
    let held = at(&c, &shard, ShardIteratorType::AfterSequenceNumber, &second).await;
    s.restart();
    let c = s.sdk();
    let (_, third) = put(&c, "c", Some(&second)).await;
    assert!(third > second);
    let r = c.get_records().shard_iterator(&held).send().await.unwrap();
    let got: Vec<&[u8]> = r.records().iter().map(|r| r.data().as_ref()).collect();
    assert_eq!(got, [&b"c"[..]], "the iterator held across the restart");
    let (data, _) = read_on(
        &c,
        at(&c, &shard, ShardIteratorType::AfterSequenceNumber, &first).await,
    )
    .await;
    assert_eq!(data, ["b", "c"]);

    // And across a split: the parent's numbers still position, the children's are higher.
    c.split_shard()
        .stream_name("rt")
        .shard_to_split(&shard)
        .new_starting_hash_key("170141183460469231731687303715884105728")
        .send()
        .await
        .unwrap();
    let (child, fourth) = put(&c, "d", Some(&third)).await;
    assert_ne!(child, shard);
    assert!(fourth > third, "child {fourth} above parent {third}");
    let r = c
        .get_records()
        .shard_iterator(at(&c, &shard, ShardIteratorType::AfterSequenceNumber, &third).await)
        .send()
        .await
        .unwrap();
    assert!(r.records().is_empty());
    assert_eq!(r.next_shard_iterator(), None, "the parent ends there");
    assert_eq!(r.child_shards().len(), 2);
    s.restart();
    let c = s.sdk();
    let (data, _) = read_on(
        &c,
        at(&c, &shard, ShardIteratorType::AtSequenceNumber, &second).await,
    )
    .await;
    assert_eq!(data, ["b", "c"]);
    let (data, last) = read_on(
        &c,
        at(&c, &child, ShardIteratorType::AtSequenceNumber, &fourth).await,
    )
    .await;
    assert_eq!((data, last), (vec!["d".to_string()], Some(fourth.clone())));
    // The parent's number on the child names the parent's shard, as AWS says.
    let e = c
        .get_shard_iterator()
        .stream_name("rt")
        .shard_id(&child)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(&third)
        .send()
        .await;
    assert_eq!(
        crate::err_of(e),
        (
            "InvalidArgumentException".to_string(),
            format!(
                "Invalid StartingSequenceNumber. It encodes {shard}, while it was used in a call to a shard \
                 with {child}"
            )
        )
    );
}
