//! End-to-end tests: the real `tributary` binary, spawned on 127.0.0.1:0 in a temporary data
//! directory, driven by the real `aws-sdk-kinesis` client and by raw requests for what SDKs
//! refuse to send. One test binary (modules below) keeps link time down.

mod cbor;
mod connections;
mod control;
mod crash;
mod data;
mod edge;
mod efo;
mod encryption;
mod fidelity;
mod front_door;
mod limits;
mod metrics;
mod more;
mod nats;
mod nats_faults;
mod nats_start;
mod ops;
mod ops_data;
mod reshard;
mod restart;
mod security;
mod seqnum;
mod wire;
mod wording;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::ShardIteratorType;
use ciborium::Value as Cbor;
use tributary_testkit::TestServer;

pub const JSON: &str = "application/x-amz-json-1.1";
pub const CBOR: &str = "application/x-amz-cbor-1.1";

pub fn server() -> TestServer {
    TestServer::start(env!("CARGO_BIN_EXE_tributary"), &[])
}

pub fn server_with(args: &[&str]) -> TestServer {
    TestServer::start(env!("CARGO_BIN_EXE_tributary"), args)
}

/// A server with one user, so every signature is verified (raw requests signed with a dummy
/// key are refused there).
pub fn verifying_server_with(args: &[&str]) -> TestServer {
    TestServer::start_with_env(
        env!("CARGO_BIN_EXE_tributary"),
        args,
        &[
            ("TRIBUTARY_ACCESS_KEY_ID", "AKIAEDGEEXAMPLE"),
            ("TRIBUTARY_SECRET_ACCESS_KEY", "edge-secret-example-key"),
        ],
    )
}

/// The AWS error code and message of a failed SDK call.
pub fn err_of<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, E>,
) -> (String, String) {
    let e = r.expect_err("the call should have failed");
    (
        e.code().unwrap_or_default().to_string(),
        e.message().unwrap_or_default().to_string(),
    )
}

pub async fn create(client: &aws_sdk_kinesis::Client, name: &str, shards: i32) {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .expect("create stream");
}

/// A shard iterator of the given type, by stream name.
pub async fn iterator(
    c: &aws_sdk_kinesis::Client,
    stream: &str,
    shard: &str,
    t: ShardIteratorType,
) -> String {
    c.get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(t)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_string()
}

/// Registers consumer `name` on `stream`; its ARN.
pub async fn consumer(c: &aws_sdk_kinesis::Client, stream: &str, name: &str) -> String {
    c.register_stream_consumer()
        .stream_arn(arn(stream))
        .consumer_name(name)
        .send()
        .await
        .unwrap()
        .consumer()
        .unwrap()
        .consumer_arn()
        .to_string()
}

pub fn cbor_map(entries: &[(&str, Cbor)]) -> Cbor {
    Cbor::Map(
        entries
            .iter()
            .map(|(k, v)| (Cbor::Text((*k).into()), v.clone()))
            .collect(),
    )
}

/// The member names of a CBOR map, sorted.
pub fn cbor_keys(v: &Cbor) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_map()
        .unwrap_or_else(|| panic!("not a map: {v:?}"))
        .iter()
        .map(|(k, _)| k.as_text().expect("text key").to_owned())
        .collect();
    keys.sort();
    keys
}

pub const ACCOUNT: &str = "000000000000";

pub fn arn(name: &str) -> String {
    format!("arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}")
}

/// One HTTP/1.1 request as bytes, for tests that hold raw connections: a JSON body, the
/// headers an unsigned-but-well-formed request carries (open mode checks only their form).
pub fn raw_h1(target: &str, body: &serde_json::Value) -> Vec<u8> {
    raw_h1_body(target, JSON, body.to_string().as_bytes())
}

/// [`raw_h1`] with any content type and body.
pub fn raw_h1_body(target: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST / HTTP/1.1\r\nhost: localhost\r\nx-amz-target: Kinesis_20131202.{target}\r\n\
         content-type: {content_type}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in tributary_testkit::raw::AUTH_HEADERS {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Reads from `conn` until the response head is complete (or `within` passes: `None`).
pub async fn read_head(
    conn: &mut tokio::net::TcpStream,
    within: std::time::Duration,
) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            let n = conn.read(&mut buf).await.expect("read");
            assert!(n > 0, "connection closed before a response");
            got.extend_from_slice(&buf[..n]);
            if got.windows(4).any(|w| w == b"\r\n\r\n") {
                return;
            }
        }
    };
    tokio::time::timeout(within, read).await.ok()?;
    Some(String::from_utf8_lossy(&got).into_owned())
}
