//! AWS's form at the edges that the lead's part of issue 11 covers: shard iterators and
//! NextTokens in AWS's outward form, quoted iterators, the members AWS leaves out of
//! PutRecord(s) answers, and the resource-policy failures. Raw requests over HTTP/1.1 and
//! h2c, in JSON and CBOR, asserting whole bodies.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ciborium::Value as Cbor;
use serde_json::{json, Value};
use tributary_testkit::raw::{kinesis_request, send, Http, RawResponse};

use crate::{arn, cbor_keys, cbor_map, create, server, ACCOUNT, CBOR, JSON};

async fn call(addr: std::net::SocketAddr, http: Http, target: &str, body: Value) -> RawResponse {
    send(
        addr,
        http,
        kinesis_request(Some(target), Some(JSON), body.to_string()),
    )
    .await
}

fn json_of(r: &RawResponse) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&r.body)))
}

async fn call_cbor(addr: std::net::SocketAddr, http: Http, target: &str, body: Cbor) -> Cbor {
    let mut bytes = Vec::new();
    ciborium::into_writer(&body, &mut bytes).unwrap();
    let r = send(addr, http, kinesis_request(Some(target), Some(CBOR), bytes)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.headers["content-type"], CBOR);
    ciborium::from_reader(&r.body[..]).unwrap()
}

fn cbor_get<'a>(v: &'a Cbor, key: &str) -> &'a Cbor {
    v.as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key} in {v:?}"))
}

/// AWS's outward form (see crates/engine/src/token.rs for the recorded examples): the
/// prefix 0000000000000001, standard base64 with padding, whole 16-byte blocks after the
/// prefix, 152..=280 decoded bytes.
fn assert_aws_token(t: &str) {
    assert!(t.starts_with("AAAAAAAAAA"), "{t}");
    assert_eq!(t.len() % 4, 0, "{t}");
    let raw = STANDARD.decode(t).unwrap_or_else(|e| panic!("{t}: {e}"));
    assert_eq!(raw[..8], [0, 0, 0, 0, 0, 0, 0, 1], "{t}");
    assert_eq!((raw.len() - 8) % 16, 0, "{t}");
    assert!((152..=280).contains(&raw.len()), "{} bytes: {t}", raw.len());
}

#[tokio::test]
async fn iterators_and_next_tokens_have_aws_form_and_quotes_are_taken() {
    let s = server();
    let c = s.sdk();
    create(&c, "it", 2).await;
    for http in [Http::H1, Http::H2c] {
        let r = call(
            s.addr,
            http,
            "PutRecord",
            json!({"StreamName": "it", "PartitionKey": "a", "Data": "aGk=", "ExplicitHashKey": "0"}),
        )
        .await;
        assert_eq!(r.status, 200);
        let r = call(
            s.addr,
            http,
            "GetShardIterator",
            json!({"StreamName": "it", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
        assert_eq!(r.status, 200);
        let body = json_of(&r);
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        let it = body["ShardIterator"].as_str().unwrap().to_owned();
        assert_aws_token(&it);

        // Wrapped in double quotes, as `jq .ShardIterator` output passed to the AWS CLI.
        let r = call(
            s.addr,
            http,
            "GetRecords",
            json!({"ShardIterator": format!("\"{it}\"")}),
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let body = json_of(&r);
        assert_eq!(body["Records"][0]["Data"], "aGk=");
        assert_aws_token(body["NextShardIterator"].as_str().unwrap());
        // Quotes only as one surrounding pair.
        let r = call(
            s.addr,
            http,
            "GetRecords",
            json!({"ShardIterator": format!("\"{it}")}),
        )
        .await;
        assert_eq!(
            (r.status.as_u16(), json_of(&r)),
            (
                400,
                json!({"__type": "InvalidArgumentException", "message": "Invalid ShardIterator."})
            )
        );

        let r = call(
            s.addr,
            http,
            "ListShards",
            json!({"StreamName": "it", "MaxResults": 1}),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_aws_token(json_of(&r)["NextToken"].as_str().unwrap());
    }

    // CBOR answers carry the same text form.
    let got = call_cbor(
        s.addr,
        Http::H2c,
        "GetShardIterator",
        cbor_map(&[
            ("StreamName", Cbor::Text("it".into())),
            ("ShardId", Cbor::Text("shardId-000000000001".into())),
            ("ShardIteratorType", Cbor::Text("LATEST".into())),
        ]),
    )
    .await;
    assert_aws_token(cbor_get(&got, "ShardIterator").as_text().unwrap());
}

#[tokio::test]
async fn put_answers_leave_out_encryption_type_on_unencrypted_streams() {
    let s = server();
    let c = s.sdk();
    create(&c, "pe", 1).await;
    for http in [Http::H1, Http::H2c] {
        let r = call(
            s.addr,
            http,
            "PutRecord",
            json!({"StreamName": "pe", "PartitionKey": "a", "Data": "aGk="}),
        )
        .await;
        assert_eq!(r.status, 200);
        let body = json_of(&r);
        let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["SequenceNumber", "ShardId"], "{body}");
        assert_eq!(body["ShardId"], "shardId-000000000000");

        let r = call(
            s.addr,
            http,
            "PutRecords",
            json!({"StreamName": "pe", "Records": [{"PartitionKey": "a", "Data": "aGk="}]}),
        )
        .await;
        assert_eq!(r.status, 200);
        let body = json_of(&r);
        let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["FailedRecordCount", "Records"], "{body}");
        assert_eq!(body["FailedRecordCount"], 0);
        let entry = body["Records"][0].as_object().unwrap();
        let mut keys: Vec<&String> = entry.keys().collect();
        keys.sort();
        assert_eq!(keys, ["SequenceNumber", "ShardId"], "{body}");
    }
    for http in [Http::H1, Http::H2c] {
        let got = call_cbor(
            s.addr,
            http,
            "PutRecord",
            cbor_map(&[
                ("StreamName", Cbor::Text("pe".into())),
                ("PartitionKey", Cbor::Text("a".into())),
                ("Data", Cbor::Bytes(b"hi".to_vec())),
            ]),
        )
        .await;
        assert_eq!(cbor_keys(&got), ["SequenceNumber", "ShardId"]);
        let got = call_cbor(
            s.addr,
            http,
            "PutRecords",
            cbor_map(&[
                ("StreamName", Cbor::Text("pe".into())),
                (
                    "Records",
                    Cbor::Array(vec![cbor_map(&[
                        ("PartitionKey", Cbor::Text("a".into())),
                        ("Data", Cbor::Bytes(b"hi".to_vec())),
                    ])]),
                ),
            ]),
        )
        .await;
        assert_eq!(cbor_keys(&got), ["FailedRecordCount", "Records"]);
    }
}

/// One raw call in JSON or CBOR; the answer as JSON (a CBOR answer decoded), `Null` when
/// the body is empty. The content type of the answer is the request's.
async fn call_in(
    addr: std::net::SocketAddr,
    http: Http,
    cbor: bool,
    target: &str,
    body: Value,
) -> (u16, Value) {
    let (ct, bytes) = if cbor {
        let mut out = Vec::new();
        ciborium::into_writer(&body, &mut out).unwrap();
        (CBOR, out)
    } else {
        (JSON, body.to_string().into_bytes())
    };
    let r = send(addr, http, kinesis_request(Some(target), Some(ct), bytes)).await;
    assert_eq!(r.headers["content-type"], ct, "{target}");
    let v = if r.body.is_empty() {
        Value::Null
    } else if cbor {
        ciborium::from_reader(&r.body[..]).unwrap()
    } else {
        json_of(&r)
    };
    (r.status.as_u16(), v)
}

#[tokio::test]
async fn resource_policy_failures_match_aws() {
    let s = server();
    let c = s.sdk();
    create(&c, "rp", 1).await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":"kinesis:GetRecords","Resource":"{}"}}]}}"#,
        arn("rp")
    );
    for (http, cbor) in [
        (Http::H1, false),
        (Http::H2c, false),
        (Http::H1, true),
        (Http::H2c, true),
    ] {
        let got = call_in(
            s.addr,
            http,
            cbor,
            "DeleteResourcePolicy",
            json!({"ResourceARN": arn("rp")}),
        )
        .await;
        assert_eq!(
            got,
            (
                400,
                json!({"__type": "ResourceNotFoundException",
                       "message": format!("No resource policy found for resource {}.", arn("rp"))})
            )
        );
        let got = call_in(
            s.addr,
            http,
            cbor,
            "PutResourcePolicy",
            json!({"ResourceARN": arn("nope"), "Policy": policy}),
        )
        .await;
        assert_eq!(
            got,
            (
                400,
                json!({"__type": "ResourceNotFoundException",
                       "message": format!("Stream nope under account {ACCOUNT} not found.")})
            )
        );
        let got = call_in(
            s.addr,
            http,
            cbor,
            "PutResourcePolicy",
            json!({"ResourceARN": arn("rp"), "Policy": policy}),
        )
        .await;
        assert_eq!(got, (200, Value::Null));
        let got = call_in(
            s.addr,
            http,
            cbor,
            "DeleteResourcePolicy",
            json!({"ResourceARN": arn("rp")}),
        )
        .await;
        assert_eq!(got, (200, Value::Null));
    }
}
