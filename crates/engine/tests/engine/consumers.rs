//! Enhanced fan-out consumers: registration, states, listing, limits, tags, deletion with
//! the stream, restart.

use std::time::Duration;

use tributary_engine::EngineConfig;
use tributary_model::types::*;
use tributary_model::*;

use crate::*;

fn describe_by_arn(arn: &str) -> DescribeStreamConsumerInput {
    DescribeStreamConsumerInput {
        consumer_arn: Some(arn.into()),
        ..Default::default()
    }
}

async fn describe(
    h: &Harness,
    arn: &str,
) -> Result<ConsumerDescription, DescribeStreamConsumerError> {
    h.engine
        .describe_stream_consumer(&h.ctx, describe_by_arn(arn))
        .await
        .map(|o| o.consumer_description)
}

async fn deregister(h: &Harness, arn: &str) -> Result<(), DeregisterStreamConsumerError> {
    h.engine
        .deregister_stream_consumer(
            &h.ctx,
            DeregisterStreamConsumerInput {
                consumer_arn: Some(arn.into()),
                ..Default::default()
            },
        )
        .await
}

async fn list(h: &Harness, input: ListStreamConsumersInput) -> ListStreamConsumersOutput {
    h.engine.list_stream_consumers(&h.ctx, input).await.unwrap()
}

#[tokio::test]
async fn register_describe_list_deregister() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let before = Timestamp::now().millis();
    let c = h.register("s", "app").await;
    assert_eq!(c.consumer_name, "app");
    assert_eq!(c.consumer_status, ConsumerStatus::Active);
    let created = c.consumer_creation_timestamp.millis();
    assert!(created >= before - 1000, "{created} {before}");
    assert_eq!(
        c.consumer_arn,
        format!(
            "arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/s/consumer/app:{}",
            created / 1000
        )
    );

    let by_arn = describe(&h, &c.consumer_arn).await.unwrap();
    assert_eq!(
        by_arn,
        ConsumerDescription {
            consumer_name: "app".into(),
            consumer_arn: c.consumer_arn.clone(),
            consumer_status: ConsumerStatus::Active,
            consumer_creation_timestamp: c.consumer_creation_timestamp,
            stream_arn: h.arn("s"),
        }
    );
    // By stream and name, and with all three when they agree.
    for input in [
        DescribeStreamConsumerInput {
            stream_arn: Some(h.arn("s")),
            consumer_name: Some("app".into()),
            ..Default::default()
        },
        DescribeStreamConsumerInput {
            stream_arn: Some(h.arn("s")),
            consumer_name: Some("app".into()),
            consumer_arn: Some(c.consumer_arn.clone()),
            ..Default::default()
        },
    ] {
        let d = h.engine.describe_stream_consumer(&h.ctx, input).await;
        assert_eq!(d.unwrap().consumer_description, by_arn);
    }

    let l = list(
        &h,
        ListStreamConsumersInput {
            stream_arn: h.arn("s"),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(l.consumers, Some(vec![c.clone()]));
    assert_eq!(l.next_token, None);
    assert_eq!(h.summary("s").await.consumer_count, Some(1));

    deregister(&h, &c.consumer_arn).await.unwrap();
    let secs = created / 1000;
    assert_eq!(
        describe(&h, &c.consumer_arn).await,
        Err(DescribeStreamConsumerError::ResourceNotFound(format!(
            "Consumer app with creation timestamp {secs} under stream s and account {ACCOUNT} not found."
        )))
    );
    assert_eq!(h.summary("s").await.consumer_count, Some(0));
    assert!(h
        .meta_keys()
        .await
        .iter()
        .all(|k| !k.starts_with("consumer/")));
}

#[tokio::test]
async fn consumer_errors_carry_aws_messages() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let c = h.register("s", "app").await;
    let register = |stream: &str, name: &str| RegisterStreamConsumerInput {
        stream_arn: h.arn(stream),
        consumer_name: name.into(),
        ..Default::default()
    };

    let e = h
        .engine
        .register_stream_consumer(&h.ctx, register("s", "app"))
        .await;
    assert_eq!(
        e,
        Err(RegisterStreamConsumerError::ResourceInUse(format!(
            "Consumer app under stream s and account {ACCOUNT} already exists."
        )))
    );
    let e = h
        .engine
        .register_stream_consumer(&h.ctx, register("nope", "app"))
        .await;
    assert_eq!(
        e,
        Err(RegisterStreamConsumerError::ResourceNotFound(format!(
            "Stream nope under account {ACCOUNT} not found."
        )))
    );

    let e = h
        .engine
        .describe_stream_consumer(
            &h.ctx,
            DescribeStreamConsumerInput {
                stream_arn: Some(h.arn("s")),
                consumer_name: Some("other".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        e,
        Err(DescribeStreamConsumerError::ResourceNotFound(format!(
            "Consumer other under stream s and account {ACCOUNT} not found."
        )))
    );
    let e = h
        .engine
        .describe_stream_consumer(
            &h.ctx,
            DescribeStreamConsumerInput {
                consumer_name: Some("app".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        e,
        Err(DescribeStreamConsumerError::InvalidArgument(
            "Either ConsumerARN or both ConsumerName and StreamARN must be provided.".into()
        ))
    );
    let e = h
        .engine
        .describe_stream_consumer(
            &h.ctx,
            DescribeStreamConsumerInput {
                consumer_arn: Some(c.consumer_arn.clone()),
                consumer_name: Some("other".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        e,
        Err(DescribeStreamConsumerError::InvalidArgument(format!(
            "StreamARN and ConsumerName do not match ConsumerARN {}.",
            c.consumer_arn
        )))
    );
    let e = describe(&h, "arn:aws:kinesis:us-east-1:123456789012:stream/s").await;
    assert!(
        matches!(e, Err(DescribeStreamConsumerError::InvalidArgument(_))),
        "{e:?}"
    );
    // A consumer ARN with another creation second names no consumer.
    let stale = format!("{}/consumer/app:1", h.arn("s"));
    assert!(matches!(
        describe(&h, &stale).await,
        Err(DescribeStreamConsumerError::ResourceNotFound(_))
    ));

    // Twenty consumers per stream.
    for i in 1..20 {
        h.register("s", &format!("c{i}")).await;
    }
    let e = h
        .engine
        .register_stream_consumer(&h.ctx, register("s", "c20"))
        .await;
    assert_eq!(
        e,
        Err(RegisterStreamConsumerError::LimitExceeded(format!(
            "Stream s under account {ACCOUNT} already has 20 registered consumers, the maximum."
        )))
    );

    // Deregistering by stream and name.
    h.engine
        .deregister_stream_consumer(
            &h.ctx,
            DeregisterStreamConsumerInput {
                stream_arn: Some(h.arn("s")),
                consumer_name: Some("c1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let e = h
        .engine
        .deregister_stream_consumer(
            &h.ctx,
            DeregisterStreamConsumerInput {
                stream_arn: Some(h.arn("s")),
                consumer_name: Some("c1".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(DeregisterStreamConsumerError::ResourceNotFound(_))),
        "{e:?}"
    );
    h.register("s", "c20").await;
}

#[tokio::test]
async fn states_follow_the_consumer_delay() {
    let h = Harness::with_config(EngineConfig {
        consumer_delay: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    h.create("s", 1).await;
    let c = h.register("s", "app").await;
    assert_eq!(c.consumer_status, ConsumerStatus::Creating);
    let secs = c.consumer_creation_timestamp.millis() / 1000;
    // A CREATING consumer cannot subscribe yet (AWS's recorded message).
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
            "Consumer app with creation timestamp {secs} under stream: s , account {ACCOUNT} is \
             not in ACTIVE status."
        ))
    );
    // At most five CREATING at once.
    for i in 1..5 {
        h.register("s", &format!("c{i}")).await;
    }
    let e = h
        .engine
        .register_stream_consumer(
            &h.ctx,
            RegisterStreamConsumerInput {
                stream_arn: h.arn("s"),
                consumer_name: "c5".into(),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(RegisterStreamConsumerError::LimitExceeded(_))),
        "{e:?}"
    );

    wait_consumer(&h, &c.consumer_arn, Some(ConsumerStatus::Active)).await;
    deregister(&h, &c.consumer_arn).await.unwrap();
    assert_eq!(
        describe(&h, &c.consumer_arn).await.unwrap().consumer_status,
        ConsumerStatus::Deleting
    );
    // Deregistering a DELETING consumer changes nothing.
    deregister(&h, &c.consumer_arn).await.unwrap();
    assert_eq!(h.summary("s").await.consumer_count, Some(5));
    wait_consumer(&h, &c.consumer_arn, None).await;
    assert_eq!(h.summary("s").await.consumer_count, Some(4));
}

/// Polls DescribeStreamConsumer until the consumer has `status` (None: is gone).
async fn wait_consumer(h: &Harness, arn: &str, status: Option<ConsumerStatus>) {
    for _ in 0..300 {
        let now = describe(h, arn).await.ok().map(|d| d.consumer_status);
        if now == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{arn} never reached {status:?}");
}

#[tokio::test]
async fn list_stream_consumers_pages() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    h.create("t", 1).await;
    for i in 0..7 {
        h.register("s", &format!("c{i}")).await;
    }
    h.register("t", "x").await;
    let mut names = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = list(
            &h,
            ListStreamConsumersInput {
                stream_arn: h.arn("s"),
                max_results: Some(3),
                next_token: token.take(),
                ..Default::default()
            },
        )
        .await;
        pages += 1;
        names.extend(page.consumers.unwrap().into_iter().map(|c| c.consumer_name));
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, (0..7).map(|i| format!("c{i}")).collect::<Vec<_>>());

    let first = list(
        &h,
        ListStreamConsumersInput {
            stream_arn: h.arn("s"),
            max_results: Some(1),
            ..Default::default()
        },
    )
    .await;
    let token = first.next_token.unwrap();
    let created = h.summary("s").await.stream_creation_timestamp;
    let call = |stream: &str, token: Option<&str>, ts: Option<Timestamp>| {
        h.engine.list_stream_consumers(
            &h.ctx,
            ListStreamConsumersInput {
                stream_arn: h.arn(stream),
                next_token: token.map(Into::into),
                stream_creation_timestamp: ts,
                ..Default::default()
            },
        )
    };
    assert_eq!(
        call("s", Some(&token), Some(created)).await,
        Err(ListStreamConsumersError::InvalidArgument(
            "NextToken and StreamCreationTimestamp cannot be provided together.".into()
        ))
    );
    assert_eq!(
        call("t", Some(&token), None).await,
        Err(ListStreamConsumersError::InvalidArgument(
            "Invalid NextToken.".into()
        ))
    );
    assert_eq!(
        call("s", Some("garbage"), None).await,
        Err(ListStreamConsumersError::InvalidArgument(
            "Invalid NextToken.".into()
        ))
    );
    assert_eq!(
        call("s", None, Some(created))
            .await
            .unwrap()
            .consumers
            .unwrap()
            .len(),
        7
    );
    assert_eq!(
        call("s", None, Some(Timestamp(created.millis() + 1))).await,
        Err(ListStreamConsumersError::ResourceNotFound(format!(
            "Stream s under account {ACCOUNT} not found."
        )))
    );
}

#[tokio::test]
async fn delete_stream_needs_enforce_consumer_deletion() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let c = h.register("s", "app").await;
    let delete = |enforce: Option<bool>| {
        h.engine.delete_stream(
            &h.ctx,
            DeleteStreamInput {
                stream_name: Some("s".into()),
                enforce_consumer_deletion: enforce,
                ..Default::default()
            },
        )
    };
    for enforce in [None, Some(false)] {
        assert_eq!(
            delete(enforce).await,
            Err(DeleteStreamError::ResourceInUse(format!(
                "DeleteStream can\u{2019}t delete {ACCOUNT}:s because there are consumers \
                 associated with this data stream. To delete s anyway, set the \
                 EnforceConsumerDeletion parameter to true to force the deletion of all the \
                 consumers that are associated with it."
            )))
        );
    }
    h.engine
        .put_resource_policy(
            &h.ctx,
            PutResourcePolicyInput {
                resource_arn: c.consumer_arn.clone(),
                policy: r#"{"Statement":[{}]}"#.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    delete(Some(true)).await.unwrap();
    assert!(h
        .meta_keys()
        .await
        .iter()
        .all(|k| !k.starts_with("consumer/")));
    assert_eq!(h.engine.resource_policy(&c.consumer_arn), None);
    h.create("s", 1).await;
    assert_eq!(h.summary("s").await.consumer_count, Some(0));
    assert!(matches!(
        describe(&h, &c.consumer_arn).await,
        Err(DescribeStreamConsumerError::ResourceNotFound(_))
    ));
}

#[tokio::test]
async fn consumers_have_their_own_tags_and_policies() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let c = h
        .engine
        .register_stream_consumer(
            &h.ctx,
            RegisterStreamConsumerInput {
                stream_arn: h.arn("s"),
                consumer_name: "app".into(),
                tags: Some(vec![("team".into(), "a".into())]),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .consumer;
    let tags = |arn: String| {
        let h = &h;
        async move {
            h.engine
                .list_tags_for_resource(
                    &h.ctx,
                    ListTagsForResourceInput {
                        resource_arn: arn,
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .tags
                .unwrap()
                .into_iter()
                .map(|t| (t.key, t.value.unwrap_or_default()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        tags(c.consumer_arn.clone()).await,
        [("team".into(), "a".into())]
    );
    assert!(tags(h.arn("s")).await.is_empty());
    h.engine
        .tag_resource(
            &h.ctx,
            TagResourceInput {
                resource_arn: c.consumer_arn.clone(),
                tags: vec![("env".into(), "prod".into()), ("team".into(), "b".into())],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    h.engine
        .untag_resource(
            &h.ctx,
            UntagResourceInput {
                resource_arn: c.consumer_arn.clone(),
                tag_keys: vec!["env".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        tags(c.consumer_arn.clone()).await,
        [("team".into(), "b".into())]
    );
    let e = h
        .engine
        .tag_resource(
            &h.ctx,
            TagResourceInput {
                resource_arn: c.consumer_arn.clone(),
                tags: (0..51).map(|i| (format!("k{i}"), "v".into())).collect(),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(TagResourceError::InvalidArgument(_))),
        "{e:?}"
    );

    h.engine
        .put_resource_policy(
            &h.ctx,
            PutResourcePolicyInput {
                resource_arn: c.consumer_arn.clone(),
                policy: r#"{"Statement":[{"Effect":"Allow"}]}"#.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(h.engine.resource_policy(&c.consumer_arn).is_some());
    assert!(h.engine.resource_policy(&h.arn("s")).is_none());
    deregister(&h, &c.consumer_arn).await.unwrap();
    assert!(h.engine.resource_policy(&c.consumer_arn).is_none());
    let e = h
        .engine
        .list_tags_for_resource(
            &h.ctx,
            ListTagsForResourceInput {
                resource_arn: c.consumer_arn.clone(),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(ListTagsForResourceError::ResourceNotFound(_))),
        "{e:?}"
    );
}

#[tokio::test]
async fn registering_a_name_again_gives_a_new_arn() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let first = h.register("s", "app").await;
    deregister(&h, &first.consumer_arn).await.unwrap();
    let second = h.register("s", "app").await;
    assert_ne!(first.consumer_arn, second.consumer_arn);
    assert!(matches!(
        describe(&h, &first.consumer_arn).await,
        Err(DescribeStreamConsumerError::ResourceNotFound(_))
    ));
    assert_eq!(
        describe(&h, &second.consumer_arn)
            .await
            .unwrap()
            .consumer_name,
        "app"
    );
}

#[tokio::test]
async fn restart_keeps_consumers_and_their_transitions() {
    let mut h = Harness::with_config(EngineConfig {
        consumer_delay: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    h.create("s", 1).await;
    let a = h
        .engine
        .register_stream_consumer(
            &h.ctx,
            RegisterStreamConsumerInput {
                stream_arn: h.arn("s"),
                consumer_name: "a".into(),
                tags: Some(vec![("k".into(), "v".into())]),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .consumer;
    let b = h.register("s", "b").await;
    wait_consumer(&h, &b.consumer_arn, Some(ConsumerStatus::Active)).await;
    deregister(&h, &b.consumer_arn).await.unwrap();
    let c = h.register("s", "c").await;

    h.restart().await;
    // Pending transitions resume: `a` and `c` become ACTIVE, `b` goes away.
    assert_eq!(
        describe(&h, &a.consumer_arn)
            .await
            .unwrap()
            .consumer_creation_timestamp,
        a.consumer_creation_timestamp
    );
    wait_consumer(&h, &a.consumer_arn, Some(ConsumerStatus::Active)).await;
    wait_consumer(&h, &c.consumer_arn, Some(ConsumerStatus::Active)).await;
    wait_consumer(&h, &b.consumer_arn, None).await;
    assert_eq!(h.summary("s").await.consumer_count, Some(2));
    let tags = h
        .engine
        .list_tags_for_resource(
            &h.ctx,
            ListTagsForResourceInput {
                resource_arn: a.consumer_arn.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tags.tags.unwrap().len(), 1);
    // The consumer still subscribes after the restart.
    h.subscribe(
        &a.consumer_arn,
        "shardId-0",
        ShardIteratorType::Latest,
        None,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn consumers_of_a_deleted_stream_are_removed_at_open() {
    let mut h = Harness::new().await;
    h.create("s", 1).await;
    h.register("s", "app").await;
    // As if the engine stopped after deleting the stream's record but before its consumers.
    let key = format!("stream/{ACCOUNT}/{REGION}/s");
    h.meta.delete(&key, None).await.unwrap();
    h.restart().await;
    assert!(h
        .meta_keys()
        .await
        .iter()
        .all(|k| !k.starts_with("consumer/")));
    h.create("s", 1).await;
    assert_eq!(h.summary("s").await.consumer_count, Some(0));
}
