//! SubscribeToShard at the engine: push on append, heartbeats, lifetime, resubscribing from
//! ContinuationSequenceNumber, the end of a split shard, one subscription per consumer and
//! shard, and the errors that end a subscription.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tributary_engine::{EngineConfig, Subscription};
use tributary_model::types::*;
use tributary_model::*;

use crate::*;

/// Heartbeats and lifetimes long enough that only an append can explain a prompt event.
fn slow_timers() -> EngineConfig {
    EngineConfig {
        subscription_heartbeat: Duration::from_secs(60),
        subscription_lifetime: Duration::from_secs(300),
        ..Default::default()
    }
}

/// The next event, failing the test if none comes within `within`.
async fn next(sub: &mut Subscription, within: Duration) -> Option<SubscribeToShardEvent> {
    tokio::time::timeout(within, sub.next_event())
        .await
        .expect("no event in time")
        .unwrap()
}

const SOON: Duration = Duration::from_secs(5);

async fn put_many(h: &Harness, stream: &str, data: impl IntoIterator<Item = String>) {
    let records: Vec<_> = data
        .into_iter()
        .map(|d| PutRecordsRequestEntry {
            data: Bytes::from(d),
            partition_key: Some("k".into()),
            ..Default::default()
        })
        .collect();
    let out = h
        .engine
        .put_records(
            &h.ctx,
            PutRecordsInput {
                stream_name: Some(stream.into()),
                records,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.failed_record_count, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_appended_after_the_start_arrive_in_order_at_once() {
    let h = Harness::with_config(slow_timers()).await;
    h.create("s", 1).await;
    h.put("s", "k", "before").await;
    let c = h.register("s", "app").await;
    let mut sub = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::Latest,
            None,
        )
        .await
        .unwrap();
    // The first event answers at once, empty, with a position to continue from.
    let first = next(&mut sub, SOON).await.unwrap();
    assert!(first.records.is_empty());
    assert_eq!(first.millis_behind_latest, 0);
    assert_eq!(first.child_shards, None);
    assert_eq!(first.continuation_sequence_number.len(), 56);

    let mut got = Vec::new();
    let mut last_continuation = first.continuation_sequence_number;
    for batch in 0..10 {
        let sent = Instant::now();
        put_many(&h, "s", (0..5).map(|i| format!("{batch}-{i}"))).await;
        let mut received = 0;
        while received < 5 {
            // Pushed by the append: far sooner than the 60 s heartbeat.
            let e = next(&mut sub, SOON).await.unwrap();
            assert!(sent.elapsed() < Duration::from_secs(2));
            assert!(e.continuation_sequence_number > last_continuation);
            for r in &e.records {
                assert!(r.sequence_number > last_continuation);
                assert!(r.sequence_number < e.continuation_sequence_number);
            }
            last_continuation = e.continuation_sequence_number.clone();
            received += e.records.len();
            got.extend(e.records.iter().map(data_str));
        }
    }
    let want: Vec<String> = (0..10)
        .flat_map(|b| (0..5).map(move |i| format!("{b}-{i}")))
        .collect();
    assert_eq!(got, want);
}

/// A subscriber is woken when the log makes records durable, not when the request that
/// appended them ends: here the request is cancelled while its append waits for durability,
/// and the records still reach the subscriber as soon as they are durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_is_woken_by_durability_not_by_the_request() {
    let h = Harness::with_config(slow_timers()).await;
    h.create("s", 1).await;
    let c = h.register("s", "app").await;
    let mut sub = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::Latest,
            None,
        )
        .await
        .unwrap();
    next(&mut sub, SOON).await.unwrap();

    let Some(mem) = h.hooks() else {
        return; // holds the in-memory log's appends: checked on the in-memory pass
    };
    mem.hold_appends(true);
    let engine = h.engine.clone();
    let ctx = h.ctx.clone();
    let put = tokio::spawn(async move {
        engine
            .put_record(&ctx, put_input("s", "k", "held"))
            .await
            .unwrap()
    });
    let waiting = tokio::time::timeout(Duration::from_millis(300), sub.next_event()).await;
    assert!(waiting.is_err(), "woken before the records were durable");
    put.abort();
    assert!(put.await.unwrap_err().is_cancelled());
    let after_cancel = tokio::time::timeout(Duration::from_millis(300), sub.next_event()).await;
    assert!(after_cancel.is_err(), "woken by the cancelled request");

    let durable = Instant::now();
    mem.hold_appends(false);
    let e = next(&mut sub, SOON).await.unwrap();
    assert!(
        durable.elapsed() < Duration::from_secs(2),
        "far before the heartbeat"
    );
    assert_eq!(e.records.iter().map(data_str).collect::<Vec<_>>(), ["held"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_leave_a_subscriber_asleep() {
    let h = std::sync::Arc::new(Harness::with_config(slow_timers()).await);
    h.create("s", 1).await;
    let c = h.register("s", "app").await;
    let mut sub = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::Latest,
            None,
        )
        .await
        .unwrap();
    next(&mut sub, SOON).await.unwrap();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let h = std::sync::Arc::clone(&h);
            tokio::spawn(async move {
                for i in 0..100 {
                    h.put("s", "k", &format!("{w}-{i}")).await;
                }
            })
        })
        .collect();
    let mut count = 0;
    // A lost wake-up would leave us waiting for the 60 s heartbeat.
    while count < 400 {
        let e = next(&mut sub, SOON).await.unwrap();
        count += e.records.len();
    }
    assert_eq!(count, 400);
    for w in writers {
        w.await.unwrap();
    }
}

#[tokio::test]
async fn an_idle_subscription_sends_heartbeats() {
    let h = Harness::with_config(EngineConfig {
        subscription_heartbeat: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    h.create("s", 1).await;
    h.put("s", "k", "a").await;
    let c = h.register("s", "app").await;
    let mut sub = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await
        .unwrap();
    let first = next(&mut sub, SOON).await.unwrap();
    assert_eq!(first.records.len(), 1);
    let start = Instant::now();
    let beat = next(&mut sub, SOON).await.unwrap();
    let waited = start.elapsed();
    assert!(beat.records.is_empty());
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(
        beat.continuation_sequence_number,
        first.continuation_sequence_number
    );
    assert_eq!(beat.millis_behind_latest, 0);
    let again = next(&mut sub, SOON).await.unwrap();
    assert!(again.records.is_empty());
}

#[tokio::test]
async fn the_lifetime_ends_the_subscription() {
    let h = Harness::with_config(EngineConfig {
        subscription_heartbeat: Duration::from_millis(100),
        subscription_lifetime: Duration::from_millis(500),
        ..Default::default()
    })
    .await;
    h.create("s", 1).await;
    let c = h.register("s", "app").await;
    let start = Instant::now();
    let mut sub = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::Latest,
            None,
        )
        .await
        .unwrap();
    assert_eq!(h.engine.open_subscriptions(), 1);
    let mut events = 0;
    while next(&mut sub, SOON).await.is_some() {
        events += 1;
    }
    let lived = start.elapsed();
    assert!(lived >= Duration::from_millis(450), "{lived:?}");
    assert!(lived < Duration::from_secs(3), "{lived:?}");
    assert!((3..=7).contains(&events), "{events}");
    assert_eq!(next(&mut sub, SOON).await, None);
    // Over means released: a new subscription starts at once.
    assert_eq!(h.engine.open_subscriptions(), 0);
    h.subscribe(
        &c.consumer_arn,
        "shardId-0",
        ShardIteratorType::Latest,
        None,
    )
    .await
    .unwrap();
}

/// Resubscribes from the last ContinuationSequenceNumber (with `kind`) until `total`
/// records were received, while a writer keeps appending; returns them in order.
async fn read_across_subscriptions(
    h: &std::sync::Arc<Harness>,
    consumer_arn: &str,
    kind: ShardIteratorType,
    total: usize,
) -> (Vec<String>, usize) {
    let mut got = Vec::new();
    let mut continuation: Option<String> = None;
    let mut subscriptions = 0;
    while got.len() < total {
        let (k, seq) = match &continuation {
            None => (ShardIteratorType::TrimHorizon, None),
            Some(c) => (kind, Some(c.as_str())),
        };
        let mut sub = h
            .subscribe(consumer_arn, "shardId-0", k, seq)
            .await
            .unwrap();
        subscriptions += 1;
        while let Some(e) = next(&mut sub, SOON).await {
            got.extend(e.records.iter().map(data_str));
            continuation = Some(e.continuation_sequence_number);
        }
    }
    (got, subscriptions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubscribing_from_the_continuation_loses_and_repeats_nothing() {
    let h = std::sync::Arc::new(
        Harness::with_config(EngineConfig {
            subscription_heartbeat: Duration::from_millis(20),
            subscription_lifetime: Duration::from_millis(120),
            subscription_takeover: Duration::ZERO,
            ..Default::default()
        })
        .await,
    );
    h.create("s", 1).await;
    put_many(&h, "s", (0..100).map(|i| format!("{i:04}"))).await;
    let writer = {
        let h = std::sync::Arc::clone(&h);
        tokio::spawn(async move {
            for i in 100..400 {
                h.put("s", "k", &format!("{i:04}")).await;
                if i % 10 == 0 {
                    tokio::time::sleep(Duration::from_millis(15)).await;
                }
            }
        })
    };
    // Two consumers at once, one resuming AFTER the continuation, one AT it.
    let readers: Vec<_> = [
        ("after", ShardIteratorType::AfterSequenceNumber),
        ("at", ShardIteratorType::AtSequenceNumber),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let h = std::sync::Arc::clone(&h);
        tokio::spawn(async move {
            let c = h.register("s", name).await;
            (
                kind,
                read_across_subscriptions(&h, &c.consumer_arn, kind, 400).await,
            )
        })
    })
    .collect();
    let want: Vec<String> = (0..400).map(|i| format!("{i:04}")).collect();
    for r in readers {
        let (kind, (got, subscriptions)) = r.await.unwrap();
        assert_eq!(got, want, "{kind:?}");
        assert!(subscriptions > 3, "{kind:?}: {subscriptions}");
    }
    writer.await.unwrap();
}

#[tokio::test]
async fn a_split_ends_the_subscription_with_child_shards() {
    let h = Harness::with_config(slow_timers()).await;
    h.create("s", 1).await;
    let c = h.register("s", "app").await;
    let mut sub = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await
        .unwrap();
    next(&mut sub, SOON).await.unwrap();
    h.put_hash("s", "10", "parent").await;
    let e = next(&mut sub, SOON).await.unwrap();
    assert_eq!(
        e.records.iter().map(data_str).collect::<Vec<_>>(),
        ["parent"]
    );

    let waiting = tokio::spawn(async move {
        let e = next(&mut sub, SOON).await;
        (e, next(&mut sub, SOON).await, sub)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.engine
        .split_shard(
            &h.ctx,
            SplitShardInput {
                stream_name: Some("s".into()),
                shard_to_split: "shardId-000000000000".into(),
                new_starting_hash_key: "1000".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (end, after, _sub) = waiting.await.unwrap();
    let end = end.unwrap();
    assert!(end.records.is_empty());
    // AWS leaves ContinuationSequenceNumber out of the final event: empty here.
    assert_eq!(end.continuation_sequence_number, "");
    assert_eq!(end.millis_behind_latest, 0);
    let children = end.child_shards.unwrap();
    assert_eq!(
        children
            .iter()
            .map(|c| c.shard_id.as_str())
            .collect::<Vec<_>>(),
        ["shardId-000000000001", "shardId-000000000002"]
    );
    for child in &children {
        assert_eq!(child.parent_shards, ["shardId-000000000000"]);
    }
    assert_eq!(after, None);
    assert_eq!(h.engine.open_subscriptions(), 0);

    // The consumer goes on with the children.
    h.put_hash("s", "10", "low").await;
    h.put_hash("s", "5000", "high").await;
    for (child, want) in [
        ("shardId-000000000001", "low"),
        ("shardId-000000000002", "high"),
    ] {
        let mut sub = h
            .subscribe(&c.consumer_arn, child, ShardIteratorType::TrimHorizon, None)
            .await
            .unwrap();
        let e = next(&mut sub, SOON).await.unwrap();
        assert_eq!(e.records.iter().map(data_str).collect::<Vec<_>>(), [want]);
        assert_eq!(e.child_shards, None);
    }
    // A closed shard can still be read from the start: records, then its end at once.
    let mut sub = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await
        .unwrap();
    let e = next(&mut sub, SOON).await.unwrap();
    assert_eq!(e.records.len(), 1);
    assert_eq!(e.child_shards.map(|c| c.len()), Some(2));
    assert_eq!(next(&mut sub, SOON).await, None);
}

#[tokio::test]
async fn one_subscription_per_consumer_and_shard() {
    let h = Harness::with_config(slow_timers()).await;
    h.create("s", 2).await;
    let c = h.register("s", "app").await;
    let other = h.register("s", "other").await;
    let sub = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::Latest,
            None,
        )
        .await
        .unwrap();
    let e = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::Latest,
            None,
        )
        .await;
    assert_eq!(
        e.unwrap_err(),
        SubscribeToShardError::ResourceInUse(format!(
            "Another active subscription exists for this consumer: \
             {ACCOUNT}:s:shardId-000000000000:app"
        ))
    );
    // Other shards and other consumers are independent.
    let _a = h
        .subscribe(
            &c.consumer_arn,
            "shardId-1",
            ShardIteratorType::Latest,
            None,
        )
        .await
        .unwrap();
    let _b = h
        .subscribe(
            &other.consumer_arn,
            "shardId-0",
            ShardIteratorType::Latest,
            None,
        )
        .await
        .unwrap();
    assert_eq!(h.engine.open_subscriptions(), 3);
    drop(sub);
    assert_eq!(h.engine.open_subscriptions(), 2);
    h.subscribe(
        &c.consumer_arn,
        "shardId-0",
        ShardIteratorType::Latest,
        None,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_later_subscription_takes_over_after_the_window() {
    let h = Harness::with_config(EngineConfig {
        subscription_takeover: Duration::from_millis(200),
        ..slow_timers()
    })
    .await;
    h.create("s", 1).await;
    let c = h.register("s", "app").await;
    let mut first = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::Latest,
            None,
        )
        .await
        .unwrap();
    next(&mut first, SOON).await.unwrap();
    assert!(h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::Latest,
            None
        )
        .await
        .is_err());
    tokio::time::sleep(Duration::from_millis(250)).await;
    let waiting = tokio::spawn(async move {
        tokio::time::timeout(SOON, first.next_event())
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut second = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::Latest,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        waiting.await.unwrap(),
        Err(SubscribeToShardError::ResourceInUse(format!(
            "Another active subscription exists for this consumer: \
             {ACCOUNT}:s:shardId-000000000000:app"
        )))
    );
    // The old one's end does not release the new one's claim.
    assert_eq!(h.engine.open_subscriptions(), 1);
    h.put("s", "k", "x").await;
    let mut n = 0;
    while n == 0 {
        n = next(&mut second, SOON).await.unwrap().records.len();
    }
}

#[tokio::test]
async fn deregistering_the_consumer_ends_its_subscriptions() {
    let h = Harness::with_config(slow_timers()).await;
    h.create("s", 1).await;
    let c = h.register("s", "app").await;
    let mut sub = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::Latest,
            None,
        )
        .await
        .unwrap();
    next(&mut sub, SOON).await.unwrap();
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let e = tokio::time::timeout(SOON, sub.next_event()).await.unwrap();
        (e, started.elapsed(), sub)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.engine
        .deregister_stream_consumer(
            &h.ctx,
            DeregisterStreamConsumerInput {
                consumer_arn: Some(c.consumer_arn.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (e, waited, mut sub) = waiting.await.unwrap();
    let secs = c.consumer_creation_timestamp.millis() / 1000;
    assert_eq!(
        e,
        Err(SubscribeToShardError::ResourceNotFound(format!(
            "Consumer app with creation timestamp {secs} under stream s and account {ACCOUNT} not found."
        )))
    );
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(sub.next_event().await, Ok(None));
    assert_eq!(h.engine.open_subscriptions(), 0);
}

#[tokio::test]
async fn deleting_the_stream_ends_its_subscriptions() {
    let h = Harness::with_config(slow_timers()).await;
    h.create("s", 1).await;
    let c = h.register("s", "app").await;
    let mut sub = h
        .subscribe(
            &c.consumer_arn,
            "shardId-0",
            ShardIteratorType::Latest,
            None,
        )
        .await
        .unwrap();
    next(&mut sub, SOON).await.unwrap();
    let waiting = tokio::spawn(async move { tokio::time::timeout(SOON, sub.next_event()).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.engine
        .delete_stream(
            &h.ctx,
            DeleteStreamInput {
                stream_name: Some("s".into()),
                enforce_consumer_deletion: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let e = waiting.await.unwrap().unwrap();
    assert_eq!(
        e,
        Err(SubscribeToShardError::ResourceNotFound(format!(
            "Stream s under account {ACCOUNT} not found."
        )))
    );
}

#[tokio::test]
async fn every_starting_position() {
    let h = Harness::with_config(slow_timers()).await;
    h.create("s", 1).await;
    let c = h.register("s", "app").await;
    let Some(mem) = h.hooks() else {
        return; // moves the in-memory log's clock: checked on the in-memory pass
    };
    // Five records a minute ago, five now.
    mem.set_clock_offset_ms(-60_000);
    put_many(&h, "s", (0..5).map(|i| format!("old{i}"))).await;
    mem.set_clock_offset_ms(0);
    let mut seqs = Vec::new();
    for i in 0..5 {
        seqs.push(h.put("s", "k", &format!("new{i}")).await.sequence_number);
    }

    let read = |kind: ShardIteratorType, seq: Option<String>, ts: Option<Timestamp>| {
        let h = &h;
        let arn = c.consumer_arn.clone();
        async move {
            let mut sub = h
                .engine
                .subscribe_to_shard(
                    &h.ctx,
                    SubscribeToShardInput {
                        consumer_arn: arn,
                        shard_id: "shardId-000000000000".into(),
                        starting_position: StartingPosition {
                            r#type: kind,
                            sequence_number: seq,
                            timestamp: ts,
                        },
                        ..Default::default()
                    },
                )
                .await?;
            let e = next(&mut sub, SOON).await.unwrap();
            Ok::<_, SubscribeToShardError>(e.records.iter().map(data_str).collect::<Vec<_>>())
        }
    };
    let all: Vec<String> = (0..5)
        .map(|i| format!("old{i}"))
        .chain((0..5).map(|i| format!("new{i}")))
        .collect();
    assert_eq!(
        read(ShardIteratorType::TrimHorizon, None, None)
            .await
            .unwrap(),
        all
    );
    assert!(read(ShardIteratorType::Latest, None, None)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        read(
            ShardIteratorType::AtSequenceNumber,
            Some(seqs[2].clone()),
            None
        )
        .await
        .unwrap(),
        ["new2", "new3", "new4"]
    );
    assert_eq!(
        read(
            ShardIteratorType::AfterSequenceNumber,
            Some(seqs[2].clone()),
            None
        )
        .await
        .unwrap(),
        ["new3", "new4"]
    );
    let half_a_minute_ago = Timestamp(Timestamp::now().millis() - 30_000);
    assert_eq!(
        read(
            ShardIteratorType::AtTimestamp,
            None,
            Some(half_a_minute_ago)
        )
        .await
        .unwrap(),
        &all[5..]
    );
    let long_ago = Timestamp(Timestamp::now().millis() - 3_600_000);
    assert_eq!(
        read(ShardIteratorType::AtTimestamp, None, Some(long_ago))
            .await
            .unwrap(),
        all
    );
    // A shard's StartingSequenceNumber is a position before its first record.
    let start = h.describe("s").await.shards[0]
        .sequence_number_range
        .starting_sequence_number
        .clone();
    assert_eq!(
        read(ShardIteratorType::AfterSequenceNumber, Some(start), None)
            .await
            .unwrap(),
        all
    );

    // The checks GetShardIterator makes, worded for SubscribeToShard.
    assert_eq!(
        read(
            ShardIteratorType::AtSequenceNumber,
            Some("6".repeat(57)),
            None
        )
        .await,
        Err(SubscribeToShardError::InvalidArgument(format!(
            "StartingSequenceNumber {} used in SubscribeToShard on shard shardId-000000000000 in \
             stream s under account {ACCOUNT} is invalid.",
            "6".repeat(57)
        )))
    );
    assert!(matches!(
        read(ShardIteratorType::AtSequenceNumber, None, None).await,
        Err(SubscribeToShardError::InvalidArgument(_))
    ));
    assert!(matches!(
        read(ShardIteratorType::AtTimestamp, None, None).await,
        Err(SubscribeToShardError::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn subscribe_checks_its_arguments() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let c = h.register("s", "app").await;
    let sub = |arn: &str, shard: &str| {
        let (arn, shard) = (arn.to_owned(), shard.to_owned());
        let h = &h;
        async move {
            h.subscribe(&arn, &shard, ShardIteratorType::Latest, None)
                .await
        }
    };
    assert_eq!(
        sub(&c.consumer_arn, "shardId-7").await.unwrap_err(),
        SubscribeToShardError::ResourceNotFound(format!(
            "Shard shardId-000000000007 in stream s under account {ACCOUNT} does not exist"
        ))
    );
    assert_eq!(
        sub(&c.consumer_arn, "nonsense").await.unwrap_err(),
        SubscribeToShardError::ResourceNotFound(format!(
            "Could not find shard nonsense in stream s under account {ACCOUNT}."
        ))
    );
    let gone = format!("{}/consumer/nobody:1", h.arn("s"));
    assert_eq!(
        sub(&gone, "shardId-0").await.unwrap_err(),
        SubscribeToShardError::ResourceNotFound(format!(
            "Consumer nobody with creation timestamp 1 under stream s and account {ACCOUNT} not found."
        ))
    );
    assert!(matches!(
        sub(&h.arn("s"), "shardId-0").await,
        Err(SubscribeToShardError::InvalidArgument(_))
    ));
    let e = h
        .engine
        .subscribe_to_shard(
            &h.ctx,
            SubscribeToShardInput {
                consumer_arn: c.consumer_arn.clone(),
                shard_id: "shardId-0".into(),
                starting_position: StartingPosition {
                    r#type: ShardIteratorType::Latest,
                    ..Default::default()
                },
                dry_run: Some(true),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        e.unwrap_err(),
        SubscribeToShardError::DryRunOperation(
            "Request would have succeeded, but DryRun flag is set.".into()
        )
    );
    // A dry run claims nothing.
    assert_eq!(h.engine.open_subscriptions(), 0);
}
