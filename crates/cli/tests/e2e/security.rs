//! Signatures made by aws-sdk-kinesis, verified by the server; policies from the config file.

use tributary_testkit::raw::{kinesis_request, send, Http};
use tributary_testkit::TestServer;

use crate::{create, err_of};

const KEY: &str = "AKIAADMINEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn signed_server(args: &[&str]) -> TestServer {
    TestServer::start_with_env(
        env!("CARGO_BIN_EXE_tributary"),
        args,
        &[
            ("TRIBUTARY_ACCESS_KEY_ID", KEY),
            ("TRIBUTARY_SECRET_ACCESS_KEY", SECRET),
        ],
    )
}

#[tokio::test]
async fn sdk_signatures_verify_and_wrong_ones_do_not() {
    let s = signed_server(&[]);
    let good = s.sdk_as("us-east-1", KEY, SECRET);
    create(&good, "signed", 1).await;
    assert_eq!(
        good.list_streams().send().await.unwrap().stream_names(),
        ["signed"]
    );

    let (code, msg) = err_of(
        s.sdk_as("us-east-1", KEY, "not-the-secret")
            .list_streams()
            .send()
            .await,
    );
    assert_eq!(code, "InvalidSignatureException");
    assert!(
        msg.starts_with("The request signature we calculated does not match"),
        "{msg}"
    );
    let (code, msg) = err_of(
        s.sdk_as("us-east-1", "AKIAUNKNOWN", SECRET)
            .list_streams()
            .send()
            .await,
    );
    assert_eq!(code, "UnrecognizedClientException");
    assert_eq!(
        msg,
        "The security token included in the request is invalid."
    );

    // A signature that was real but for another date is refused for its age.
    let r = send(
        s.addr,
        Http::H1,
        kinesis_request(
            Some("ListStreams"),
            Some("application/x-amz-json-1.1"),
            "{}",
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    let body = String::from_utf8_lossy(&r.body);
    assert!(
        body.contains("InvalidSignatureException") && body.contains("Signature expired"),
        "{body}"
    );
}

#[tokio::test]
async fn policies_from_the_config_file_allow_and_deny() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "replicator-secret\n").unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["kinesis:PutRecords","kinesis:DescribeStream"],"Resource":"arn:aws:kinesis:us-east-1:111122223333:stream/target"},
        {"Effect":"Allow","Action":"kinesis:ListStreams","Resource":"*"}]}"#;
    let config = dir.path().join("tributary.toml");
    std::fs::write(
        &config,
        format!(
            r#"account_id = "111122223333"
[[streams]]
name = "target"
shard_count = 1
[[streams]]
name = "other"
shard_count = 1
[[users]]
name = "replicator"
access_key_id = "AKIAREPLICATOR"
secret_access_key_file = "{}"
policies = ['''{}''']
"#,
            secret.display(),
            policy
        ),
    )
    .unwrap();
    let s = TestServer::start(
        env!("CARGO_BIN_EXE_tributary"),
        &["--config", config.to_str().unwrap()],
    );
    let c = s.sdk_as("us-east-1", "AKIAREPLICATOR", "replicator-secret");
    assert_eq!(
        c.list_streams().send().await.unwrap().stream_names(),
        ["other", "target"]
    );
    c.describe_stream()
        .stream_name("target")
        .send()
        .await
        .unwrap();
    let entry = aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
        .partition_key("k")
        .data(aws_sdk_kinesis::primitives::Blob::new("x"))
        .build()
        .unwrap();
    c.put_records()
        .stream_name("target")
        .records(entry.clone())
        .send()
        .await
        .unwrap();

    let (code, msg) = err_of(
        c.put_records()
            .stream_name("other")
            .records(entry)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(
        msg,
        "User: arn:aws:iam::111122223333:user/replicator is not authorized to perform: kinesis:PutRecords on resource: \
         arn:aws:kinesis:us-east-1:111122223333:stream/other because no identity-based policy allows the kinesis:PutRecords action"
    );
    let (code, _) = err_of(
        c.put_record()
            .stream_name("target")
            .partition_key("k")
            .data(aws_sdk_kinesis::primitives::Blob::new("x"))
            .send()
            .await,
    );
    assert_eq!(code, "AccessDeniedException");
    let (code, _) = err_of(
        c.create_stream()
            .stream_name("new")
            .shard_count(1)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDeniedException");
}
