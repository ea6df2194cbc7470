//! SubscribeToShard and PutRecords in CBOR (`application/x-amz-cbor-1.1`), checked value by
//! value. No SDK covers these paths for us: the Java SDK v2 sends every Kinesis call as CBOR
//! except SubscribeToShard, which its generated client always sends as JSON (a separate
//! `AwsJsonProtocolFactory` in `DefaultKinesisAsyncClient.subscribeToShard`), and the Rust SDK
//! speaks JSON only. Yet a CBOR SubscribeToShard is answered in CBOR, so raw requests do it
//! here, and every check decodes the CBOR: a JSON answer under a CBOR header fails them.
//!
//! Most subscriptions run on a server whose subscriptions last a short time, so the event
//! stream ends and the whole body can be read; the split parent's ends by itself, and the
//! one failing after its start is read off a hand-driven HTTP/1.1 connection.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ciborium::Value as Cbor;
use serde_json::{json, Value as Json};
use tributary_protocol::eventstream::{decode_message, str_header, Message, CONTENT_TYPE};
use tributary_testkit::raw::{kinesis_request, send, Http, RawResponse};

use crate::{
    arn, cbor_keys as keys, cbor_map, consumer, create, raw_h1_body, server, server_with, CBOR,
    JSON,
};

const SHARD0: &str = "shardId-000000000000";

fn to_cbor(v: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).expect("encode");
    out
}

fn decode(b: &[u8]) -> Cbor {
    ciborium::de::from_reader(b)
        .unwrap_or_else(|e| panic!("not CBOR ({e:?}): {:?}", String::from_utf8_lossy(b)))
}

fn text(s: &str) -> Cbor {
    Cbor::Text(s.to_string())
}

/// The member `key` of a CBOR map (None if absent or not a map).
fn get<'a>(v: &'a Cbor, key: &str) -> Option<&'a Cbor> {
    v.as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn get_text<'a>(v: &'a Cbor, key: &str) -> &'a str {
    get(v, key)
        .and_then(Cbor::as_text)
        .unwrap_or_else(|| panic!("no text {key} in {v:?}"))
}

fn now_ms() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i128
}

async fn raw(addr: std::net::SocketAddr, http: Http, op: &str, body: &Cbor) -> RawResponse {
    send(
        addr,
        http,
        kinesis_request(Some(op), Some(CBOR), to_cbor(body)),
    )
    .await
}

/// PutRecord in CBOR; its SequenceNumber.
async fn put_cbor(addr: std::net::SocketAddr, stream: &str, key: &str, data: &[u8]) -> String {
    let body = cbor_map(&[
        ("StreamName", text(stream)),
        ("PartitionKey", text(key)),
        ("Data", Cbor::Bytes(data.to_vec())),
    ]);
    let r = raw(addr, Http::H1, "PutRecord", &body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let v = decode(&r.body);
    assert_eq!(get_text(&v, "ShardId"), SHARD0);
    get_text(&v, "SequenceNumber").to_string()
}

fn subscribe_request(consumer: &str, shard: &str) -> Cbor {
    cbor_map(&[
        ("ConsumerARN", text(consumer)),
        ("ShardId", text(shard)),
        (
            "StartingPosition",
            cbor_map(&[("Type", text("TRIM_HORIZON"))]),
        ),
    ])
}

/// The messages of a finished event-stream body, which must end on a whole frame.
fn frames(mut rest: &[u8]) -> Vec<Message> {
    let mut messages = Vec::new();
    while !rest.is_empty() {
        let (m, n) = decode_message(rest)
            .expect("a valid frame")
            .expect("the body ends on a whole frame");
        messages.push(m);
        rest = &rest[n..];
    }
    messages
}

/// The events of a finished event-stream body: checks the framing and the headers every
/// message must carry in a CBOR subscription, and answers the decoded payloads of the
/// SubscribeToShardEvents.
fn cbor_events(r: &RawResponse) -> Vec<Cbor> {
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.headers["content-type"], CONTENT_TYPE);
    let messages = frames(&r.body);
    let (first, events) = messages.split_first().expect("an initial response");
    // The first message is the event `initial-response`, whose payload is the output minus
    // the stream: an empty map, `0xA0` in CBOR (botocore's CBOR parser fails on an empty
    // payload; see crates/protocol/src/eventstream.rs).
    assert_eq!(str_header(first, ":message-type"), Some("event"));
    assert_eq!(str_header(first, ":event-type"), Some("initial-response"));
    assert_eq!(str_header(first, ":content-type"), Some(CBOR));
    assert_eq!(decode(first.payload()), Cbor::Map(vec![]));
    events
        .iter()
        .map(|m| {
            assert_eq!(str_header(m, ":message-type"), Some("event"), "{m:?}");
            assert_eq!(str_header(m, ":event-type"), Some("SubscribeToShardEvent"));
            assert_eq!(str_header(m, ":content-type"), Some(CBOR));
            decode(m.payload())
        })
        .collect()
}

fn records(events: &[Cbor]) -> Vec<Cbor> {
    events
        .iter()
        .flat_map(|e| {
            get(e, "Records")
                .and_then(Cbor::as_array)
                .unwrap_or_else(|| panic!("no Records in {e:?}"))
                .clone()
        })
        .collect()
}

#[tokio::test]
async fn cbor_subscription_pushes_records_in_cbor() {
    let s = server_with(&["--subscription-lifetime-ms", "1500"]);
    let c = s.sdk();
    create(&c, "cb", 1).await;
    let put: Vec<(&str, Vec<u8>)> = vec![
        // Not UTF-8: a text string could not carry it; CBOR's byte string must.
        ("k0", vec![0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28]),
        ("ключ", b"plain text".to_vec()),
        // Over 255 bytes: a two-byte length in the byte string's head.
        ("k2", (0..=255u8).cycle().take(300).collect()),
    ];
    let before = now_ms();
    let mut seqs = Vec::new();
    for (key, data) in &put {
        seqs.push(put_cbor(s.addr, "cb", key, data).await);
    }
    let after = now_ms();

    for (i, http) in [Http::H1, Http::H2c].into_iter().enumerate() {
        // A consumer each: one subscription per consumer and shard at a time.
        let carn = consumer(&c, "cb", &format!("reader{i}")).await;
        let r = raw(
            s.addr,
            http,
            "SubscribeToShard",
            &subscribe_request(&carn, SHARD0),
        )
        .await;
        let events = cbor_events(&r);
        assert!(!events.is_empty(), "{http:?}: no SubscribeToShardEvent");
        for e in &events {
            // Members of SubscribeToShardEvent (SubscribeToShard API reference): required
            // ContinuationSequenceNumber and MillisBehindLatest; ChildShards only at a
            // shard's end.
            assert!(!get_text(e, "ContinuationSequenceNumber").is_empty());
            let behind = get(e, "MillisBehindLatest").and_then(Cbor::as_integer);
            assert!(
                behind.is_some_and(|b| i128::from(b) >= 0),
                "MillisBehindLatest {e:?}"
            );
            assert_eq!(get(e, "ChildShards"), None, "the shard is open");
        }
        let got = records(&events);
        assert_eq!(got.len(), put.len(), "{http:?}: {got:?}");
        for ((r, (key, data)), seq) in got.iter().zip(&put).zip(&seqs) {
            // Blobs are CBOR byte strings, as the SDKs' CBOR writers send them.
            assert_eq!(get(r, "Data"), Some(&Cbor::Bytes(data.clone())), "{r:?}");
            assert_eq!(get_text(r, "PartitionKey"), *key);
            assert_eq!(get_text(r, "SequenceNumber"), seq);
            // Timestamps are tag 1 over epoch milliseconds, an integer: what the Java SDK's
            // CBOR writer sends (v1 SdkCborGenerator: writeTag(1), writeNumber(getTime())),
            // and what v2 reads in a CBOR payload (AwsCborProtocolFactory: "CBOR uses epoch
            // millis for timestamps", UNIX_TIMESTAMP_MILLIS). That Kinesis answers with the
            // tag too is reconstructed from the writer. Milliseconds, not the RFC's seconds:
            // the value lies between the clock read before and after the puts.
            match get(r, "ApproximateArrivalTimestamp") {
                Some(Cbor::Tag(1, inner)) => {
                    let ms = inner.as_integer().map(i128::from);
                    assert!(
                        ms.is_some_and(|ms| before <= ms && ms <= after),
                        "{ms:?} not in {before}..={after}"
                    );
                }
                other => panic!("ApproximateArrivalTimestamp {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn cbor_subscription_to_a_split_parent_ends_with_its_children() {
    // Default lifetime (5 minutes): the stream must end by itself, at the parent's end.
    let s = server();
    let c = s.sdk();
    create(&c, "sp", 1).await;
    let seqs = [
        put_cbor(s.addr, "sp", "a", b"\x00before").await,
        put_cbor(s.addr, "sp", "b", b"\xffsplit").await,
    ];
    c.split_shard()
        .stream_name("sp")
        .shard_to_split(SHARD0)
        .new_starting_hash_key("170141183460469231731687303715884105728")
        .send()
        .await
        .unwrap();
    for (i, http) in [Http::H1, Http::H2c].into_iter().enumerate() {
        let carn = consumer(&c, "sp", &format!("split{i}")).await;
        let r = tokio::time::timeout(
            Duration::from_secs(20),
            raw(
                s.addr,
                http,
                "SubscribeToShard",
                &subscribe_request(&carn, SHARD0),
            ),
        )
        .await
        .expect("the closed parent's subscription ends after its last event");
        let events = cbor_events(&r);
        let got: Vec<String> = records(&events)
            .iter()
            .map(|r| get_text(r, "SequenceNumber").to_string())
            .collect();
        assert_eq!(got, seqs, "{http:?}");
        let (last, earlier) = events.split_last().expect("events");
        for e in earlier {
            assert_eq!(get(e, "ChildShards"), None);
        }
        // The parent's last event names both children (SubscribeToShard API reference,
        // ChildShards); ContinuationSequenceNumber is left out there, as AWS does at a
        // shard's end (the KCL takes its absence as the end; see engine `next_event`).
        assert_eq!(get(last, "ContinuationSequenceNumber"), None, "{last:?}");
        assert!(get(last, "MillisBehindLatest").is_some());
        let range = |lo: &str, hi: &str| {
            cbor_map(&[("StartingHashKey", text(lo)), ("EndingHashKey", text(hi))])
        };
        let child = |id: &str, r: Cbor| {
            cbor_map(&[
                ("ShardId", text(id)),
                ("ParentShards", Cbor::Array(vec![text(SHARD0)])),
                ("HashKeyRange", r),
            ])
        };
        let expected = Cbor::Array(vec![
            child(
                "shardId-000000000001",
                range("0", "170141183460469231731687303715884105727"),
            ),
            child(
                "shardId-000000000002",
                range(
                    "170141183460469231731687303715884105728",
                    "340282366920938463463374607431768211455",
                ),
            ),
        ]);
        assert_eq!(get(last, "ChildShards"), Some(&expected), "{http:?}");
    }
}

/// A CBOR SubscribeToShard refused before it starts is an ordinary error answer in CBOR,
/// with the status, `__type` and message the same request gets in JSON.
#[tokio::test]
async fn cbor_subscription_errors_are_the_json_ones_in_cbor() {
    let s = server();
    let c = s.sdk();
    create(&c, "er", 1).await;
    let carn = consumer(&c, "er", "real").await;
    let ghost = format!("{}/consumer/ghost:1700000000", arn("er"));
    // ResourceNotFoundException for a missing shard or consumer: the SubscribeToShard API
    // reference lists it ("the requested resource could not be found").
    let cases = [
        (
            carn.as_str(),
            "shardId-000000000009",
            400,
            "ResourceNotFoundException",
        ),
        (ghost.as_str(), SHARD0, 400, "ResourceNotFoundException"),
    ];
    for (consumer, shard, status, code) in cases {
        let request = json!({
            "ConsumerARN": consumer,
            "ShardId": shard,
            "StartingPosition": {"Type": "TRIM_HORIZON"},
        });
        let j = send(
            s.addr,
            Http::H1,
            kinesis_request(Some("SubscribeToShard"), Some(JSON), request.to_string()),
        )
        .await;
        assert_eq!(j.status, status, "{:?}", j.body);
        let j_body: Json = serde_json::from_slice(&j.body).unwrap();
        assert_eq!(j_body["__type"], code);
        for http in [Http::H1, Http::H2c] {
            let r = raw(
                s.addr,
                http,
                "SubscribeToShard",
                &subscribe_request(consumer, shard),
            )
            .await;
            assert_eq!(r.status, j.status, "{http:?} {consumer} {shard}");
            assert_eq!(r.headers["content-type"], CBOR);
            let v = decode(&r.body);
            let j_map = j_body.as_object().unwrap();
            let mut j_keys: Vec<&String> = j_map.keys().collect();
            j_keys.sort();
            assert_eq!(keys(&v).iter().collect::<Vec<_>>(), j_keys, "{v:?}");
            for (k, jv) in j_map {
                assert_eq!(Some(get_text(&v, k)), jv.as_str(), "{k}");
            }
        }
    }
}

/// PutRecords in CBOR with injected throttles answers the partial failure the JSON request
/// gets: the same FailedRecordCount, and entry by entry the same members, ShardId,
/// ErrorCode and ErrorMessage. Two servers with the same fault seed see the same sequence of
/// calls, so they throttle the same entries.
#[tokio::test]
async fn cbor_put_records_reports_partial_failures_as_json_does() {
    let faults = ["--faults", "seed=7,PutRecords:throttle_every=2"];
    let (for_cbor, for_json) = (server_with(&faults), server_with(&faults));
    create(&for_cbor.sdk(), "pf", 2).await;
    create(&for_json.sdk(), "pf", 2).await;
    // Alternating shards by explicit hash key (the second shard starts at 2^127), so a
    // throttle fails later entries of its own shard only (docs/limits.md: each shard admits
    // its entries in request order).
    let hash = |i: usize| {
        if i.is_multiple_of(2) {
            "0"
        } else {
            "170141183460469231731687303715884105728"
        }
    };
    let data = |i: usize| vec![i as u8, 0xff, 0xfe];
    let cbor_entries = (0..6)
        .map(|i| {
            cbor_map(&[
                ("Data", Cbor::Bytes(data(i))),
                ("PartitionKey", text(&format!("k{i}"))),
                ("ExplicitHashKey", text(hash(i))),
            ])
        })
        .collect();
    let json_entries: Vec<Json> = (0..6)
        .map(|i| {
            use base64::Engine as _;
            json!({
                "Data": base64::engine::general_purpose::STANDARD.encode(data(i)),
                "PartitionKey": format!("k{i}"),
                "ExplicitHashKey": hash(i),
            })
        })
        .collect();
    let r = raw(
        for_cbor.addr,
        Http::H1,
        "PutRecords",
        &cbor_map(&[
            ("StreamName", text("pf")),
            ("Records", Cbor::Array(cbor_entries)),
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.headers["content-type"], CBOR);
    let v = decode(&r.body);
    let j = send(
        for_json.addr,
        Http::H1,
        kinesis_request(
            Some("PutRecords"),
            Some(JSON),
            json!({"StreamName": "pf", "Records": json_entries}).to_string(),
        ),
    )
    .await;
    assert_eq!(j.status, 200);
    let j: Json = serde_json::from_slice(&j.body).unwrap();

    let json_keys = |o: &Json| {
        let mut k: Vec<String> = o.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&v), json_keys(&j));
    let failed = get(&v, "FailedRecordCount").and_then(Cbor::as_integer);
    assert_eq!(
        failed.map(i128::from),
        j["FailedRecordCount"].as_i64().map(i128::from)
    );
    let entries = get(&v, "Records")
        .and_then(Cbor::as_array)
        .expect("Records");
    let json_entries = j["Records"].as_array().unwrap();
    assert_eq!(entries.len(), 6);
    let mut failures = 0;
    for (i, (e, je)) in entries.iter().zip(json_entries).enumerate() {
        assert_eq!(keys(e), json_keys(je), "entry {i}: {e:?} / {je}");
        if je.get("ErrorCode").is_some() {
            failures += 1;
            // PutRecords API reference: a failed entry has ErrorCode and ErrorMessage and
            // no SequenceNumber or ShardId; its example gives this message's form.
            assert_eq!(keys(e), ["ErrorCode", "ErrorMessage"], "entry {i}");
            assert_eq!(
                get_text(e, "ErrorCode"),
                "ProvisionedThroughputExceededException"
            );
            let shard = if i.is_multiple_of(2) {
                SHARD0
            } else {
                "shardId-000000000001"
            };
            let message = format!(
                "Rate exceeded for shard {shard} in stream pf under account {}.",
                crate::ACCOUNT
            );
            assert_eq!(get_text(e, "ErrorMessage"), message);
            assert_eq!(je["ErrorMessage"], message);
        } else {
            assert_eq!(keys(e), ["SequenceNumber", "ShardId"], "entry {i}");
            assert_eq!(get_text(e, "ShardId"), je["ShardId"].as_str().unwrap());
            assert!(!get_text(e, "SequenceNumber").is_empty());
        }
    }
    assert_eq!(failed.map(i128::from), Some(failures));
    // Which entries fail, from crates/engine (put.rs, throttle.rs): shards are asked in the
    // order the request first routes to them, each shard's entries in request order, every
    // second entry asked is throttled, and a shard refuses from its throttled entry on.
    // First shard: entries 0, 2, 4; the 2nd asked (entry 2) fails, and entry 4 with it.
    // Second shard: entries 1, 3, 5; the 4th asked (entry 3) fails, and entry 5 with it.
    let failed_at: Vec<usize> = (0..6)
        .filter(|&i| get(&entries[i], "ErrorCode").is_some())
        .collect();
    assert_eq!(failed_at, [2, 3, 4, 5]);
}

/// The body of a chunked HTTP/1.1 answer, once its last chunk is in `raw` (None before).
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line]).ok()?, 16).ok()?;
        let chunk = raw.get(line + 2..line + 2 + size + 2)?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&chunk[..size]);
        raw = &raw[line + 2 + size + 2..];
    }
}

/// A subscription that fails after it started ends with an `exception` message whose
/// payload is the error in CBOR. Over a hand-driven HTTP/1.1 connection: the stream is
/// deleted only once the 200 has arrived, so the failure cannot come before the start.
#[tokio::test]
async fn cbor_subscription_failing_after_the_start_sends_a_cbor_exception() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = server();
    let c = s.sdk();
    create(&c, "gone", 1).await;
    let carn = consumer(&c, "gone", "left").await;
    let body = to_cbor(&subscribe_request(&carn, SHARD0));
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    conn.write_all(&raw_h1_body("SubscribeToShard", CBOR, &body))
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the head");
        got.extend_from_slice(&buf[..n]);
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");

    c.delete_stream()
        .stream_name("gone")
        .enforce_consumer_deletion(true)
        .send()
        .await
        .unwrap();
    // The subscription notices at its next wake-up: the log's deletion, or at the latest
    // its 5-second heartbeat.
    let events = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if let Some(events) = dechunk(&got[head_end..]) {
                return events;
            }
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the last chunk");
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the subscription ends once its stream is gone");

    let last = frames(&events).pop().expect("messages");
    // Smithy event streams: a modeled error is a message of type `exception` naming its
    // shape; its payload is the error body in the request's protocol. That a deleted stream
    // ends the subscription with ResourceNotFoundException is reconstructed (the SubscribeToShard
    // API reference lists it among the operation's errors).
    assert_eq!(str_header(&last, ":message-type"), Some("exception"));
    assert_eq!(
        str_header(&last, ":exception-type"),
        Some("ResourceNotFoundException")
    );
    assert_eq!(str_header(&last, ":content-type"), Some(CBOR));
    let error = decode(last.payload());
    assert_eq!(get_text(&error, "__type"), "ResourceNotFoundException");
    // The wording of the stream-not-found error everywhere else (engine `msg`).
    assert_eq!(
        get_text(&error, "message"),
        format!("Stream gone under account {} not found.", crate::ACCOUNT)
    );
}
