//! Enhanced fan-out through the SDK: consumers and SubscribeToShard pushing records over
//! HTTP/2 as an AWS event stream.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    ConsumerStatus, ShardIteratorType, StartingPosition, SubscribeToShardEventStream,
};

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::{arn, create, err_of, raw_h1, read_head, server};

/// [`crate::consumer`], checking the ARN's form.
async fn consumer(c: &aws_sdk_kinesis::Client, stream: &str, name: &str) -> String {
    let carn = crate::consumer(c, stream, name).await;
    assert!(carn.starts_with(&format!("{}/consumer/{name}:", arn(stream))));
    carn
}

#[tokio::test]
async fn consumers_lifecycle() {
    let s = server();
    let c = s.sdk();
    create(&c, "efo", 1).await;
    let carn = consumer(&c, "efo", "app").await;
    let d = c
        .describe_stream_consumer()
        .consumer_arn(&carn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.consumer_description().unwrap().consumer_status(),
        &ConsumerStatus::Active
    );
    let l = c
        .list_stream_consumers()
        .stream_arn(arn("efo"))
        .send()
        .await
        .unwrap();
    assert_eq!(l.consumers().len(), 1);
    let (code, _) = err_of(
        c.register_stream_consumer()
            .stream_arn(arn("efo"))
            .consumer_name("app")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUseException");
    let (code, _) = err_of(c.delete_stream().stream_name("efo").send().await);
    assert_eq!(
        code, "ResourceInUseException",
        "a stream with consumers needs EnforceConsumerDeletion"
    );
    c.deregister_stream_consumer()
        .consumer_arn(&carn)
        .send()
        .await
        .unwrap();
    let (code, _) = err_of(
        c.describe_stream_consumer()
            .consumer_arn(&carn)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn subscribe_to_shard_pushes_records_in_order() {
    let s = server();
    let c = s.sdk();
    create(&c, "push", 1).await;
    let carn = consumer(&c, "push", "reader").await;
    let out = c
        .subscribe_to_shard()
        .consumer_arn(&carn)
        .shard_id("shardId-000000000000")
        .starting_position(
            StartingPosition::builder()
                .r#type(ShardIteratorType::Latest)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut events = out.event_stream;

    let (code, _) = err_of(
        c.subscribe_to_shard()
            .consumer_arn(&carn)
            .shard_id("shardId-000000000000")
            .starting_position(
                StartingPosition::builder()
                    .r#type(ShardIteratorType::Latest)
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
    assert_eq!(
        code, "ResourceInUseException",
        "one subscription per consumer and shard"
    );

    let writer = {
        let c = c.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                c.put_record()
                    .stream_name("push")
                    .partition_key("k")
                    .data(Blob::new(format!("m{i}")))
                    .send()
                    .await
                    .unwrap();
            }
        })
    };
    let mut got = Vec::new();
    let mut last_cont = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < 20 && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            Some(SubscribeToShardEventStream::SubscribeToShardEvent(e)) => {
                got.extend(
                    e.records()
                        .iter()
                        .map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap()),
                );
                assert!(e.continuation_sequence_number() >= last_cont.as_str());
                last_cont = e.continuation_sequence_number().to_string();
            }
            Some(other) => panic!("unexpected event {other:?}"),
            None => break,
        }
    }
    writer.await.unwrap();
    assert_eq!(got, (0..20).map(|i| format!("m{i}")).collect::<Vec<_>>());
    drop(events);

    // Resubscribing after the last ContinuationSequenceNumber continues with no repeat.
    c.put_record()
        .stream_name("push")
        .partition_key("k")
        .data(Blob::new("after"))
        .send()
        .await
        .unwrap();
    let mut again = None;
    for _ in 0..50 {
        let r = c
            .subscribe_to_shard()
            .consumer_arn(&carn)
            .shard_id("shardId-000000000000")
            .starting_position(
                StartingPosition::builder()
                    .r#type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(&last_cont)
                    .build()
                    .unwrap(),
            )
            .send()
            .await;
        match r {
            Ok(r) => {
                again = Some(r.event_stream);
                break;
            }
            // The previous subscription is released when its connection notices the drop.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let mut again = again.expect("resubscribed");
    let mut next = Vec::new();
    while next.is_empty() {
        if let Some(SubscribeToShardEventStream::SubscribeToShardEvent(e)) =
            tokio::time::timeout(Duration::from_secs(10), again.recv())
                .await
                .unwrap()
                .unwrap()
        {
            next.extend(
                e.records()
                    .iter()
                    .map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap()),
            );
        }
    }
    assert_eq!(next, ["after"]);
}

/// Six "minutes" of subscription at a one-second lifetime: the consumer resubscribes from
/// its last ContinuationSequenceNumber each time the server ends the subscription, while a
/// writer keeps putting; every record arrives once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubscribing_across_lifetimes_loses_and_repeats_nothing() {
    let s = crate::server_with(&["--subscription-lifetime-ms", "1000"]);
    let c = s.sdk();
    create(&c, "long", 1).await;
    let carn = consumer(&c, "long", "steady").await;
    const N: usize = 300;
    let writer = {
        let c = c.clone();
        tokio::spawn(async move {
            for i in 0..N {
                c.put_record()
                    .stream_name("long")
                    .partition_key("k")
                    .data(Blob::new(format!("{i}")))
                    .send()
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut got: Vec<usize> = Vec::new();
    let mut position = StartingPosition::builder()
        .r#type(ShardIteratorType::TrimHorizon)
        .build()
        .unwrap();
    let mut subscriptions = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.len() < N && Instant::now() < deadline {
        let out = match c
            .subscribe_to_shard()
            .consumer_arn(&carn)
            .shard_id("shardId-000000000000")
            .starting_position(position.clone())
            .send()
            .await
        {
            Ok(o) => o,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        subscriptions += 1;
        let mut events = out.event_stream;
        while let Ok(Some(ev)) = events.recv().await {
            if let SubscribeToShardEventStream::SubscribeToShardEvent(e) = ev {
                got.extend(e.records().iter().map(|r| {
                    std::str::from_utf8(r.data().as_ref())
                        .unwrap()
                        .parse::<usize>()
                        .unwrap()
                }));
                position = StartingPosition::builder()
                    .r#type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(e.continuation_sequence_number())
                    .build()
                    .unwrap();
            }
        }
    }
    writer.await.unwrap();
    assert_eq!(got, (0..N).collect::<Vec<_>>(), "no gap, no repeat");
    assert!(
        subscriptions >= 5,
        "the one-second lifetime forced resubscribing ({subscriptions} subscriptions)"
    );
}

/// A subscriber that goes away from a quiet shard frees its (consumer, shard) at once: a new
/// SubscribeToShard is accepted, instead of refused with ResourceInUseException until the
/// takeover window (5 s from the first subscription's start) ends or the old subscription
/// finds an event to send (the heartbeat, also 5 s).
#[tokio::test]
async fn a_dropped_subscription_frees_its_shard_at_once() {
    let s = server();
    let c = s.sdk();
    create(&c, "quiet", 1).await;
    let carn = consumer(&c, "quiet", "gone").await;
    let started = Instant::now();
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    let request = json!({
        "ConsumerARN": carn,
        "ShardId": "shardId-000000000000",
        "StartingPosition": {"Type": "LATEST"},
    });
    conn.write_all(&raw_h1("SubscribeToShard", &request))
        .await
        .unwrap();
    let head = read_head(&mut conn, Duration::from_secs(5))
        .await
        .expect("subscribed");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let subscribe = || {
        c.subscribe_to_shard()
            .consumer_arn(&carn)
            .shard_id("shardId-000000000000")
            .starting_position(
                StartingPosition::builder()
                    .r#type(ShardIteratorType::Latest)
                    .build()
                    .unwrap(),
            )
            .send()
    };
    // While the first is open, a second is refused: what the check below relies on.
    let (code, _) = err_of(subscribe().await);
    assert_eq!(code, "ResourceInUseException");

    drop(conn);
    loop {
        match subscribe().await {
            Ok(_) => break,
            Err(e) => assert_eq!(e.code(), Some("ResourceInUseException"), "{e:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the dropped subscription still holds the shard"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
