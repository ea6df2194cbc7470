//! CreateStream, DescribeStream(Summary), ListStreams, DeleteStream, declared streams, and
//! the CREATING/DELETING states.

use std::time::Duration;

use tributary_engine::EngineConfig;
use tributary_model::types::*;
use tributary_model::*;

use crate::*;

fn create_input(name: &str) -> CreateStreamInput {
    CreateStreamInput {
        stream_name: name.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn create_describes_like_aws() {
    let h = Harness::new().await;
    h.create("s", 3).await;
    let d = h.describe("s").await;
    assert_eq!(d.stream_name, "s");
    assert_eq!(
        d.stream_arn,
        format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/s")
    );
    assert_eq!(d.stream_status, StreamStatus::Active);
    assert_eq!(d.retention_period_hours, 24);
    assert_eq!(d.encryption_type, Some(EncryptionType::None));
    assert_eq!(
        d.stream_mode_details.unwrap().stream_mode,
        StreamMode::Provisioned
    );
    assert_eq!(
        d.enhanced_monitoring,
        vec![EnhancedMetrics {
            shard_level_metrics: Some(vec![])
        }]
    );
    assert!(!d.has_more_shards);
    let ranges: Vec<_> = d
        .shards
        .iter()
        .map(|s| {
            (
                s.shard_id.as_str(),
                s.hash_key_range.starting_hash_key.as_str(),
                s.hash_key_range.ending_hash_key.as_str(),
            )
        })
        .collect();
    assert_eq!(
        ranges,
        vec![
            (
                "shardId-000000000000",
                "0",
                "113427455640312821154458202477256070484"
            ),
            (
                "shardId-000000000001",
                "113427455640312821154458202477256070485",
                "226854911280625642308916404954512140969"
            ),
            (
                "shardId-000000000002",
                "226854911280625642308916404954512140970",
                "340282366920938463463374607431768211455"
            ),
        ]
    );
    for s in &d.shards {
        let start = &s.sequence_number_range.starting_sequence_number;
        assert_eq!(start.len(), 56);
        assert!(start.bytes().all(|b| b.is_ascii_digit()));
        assert!(s.sequence_number_range.ending_sequence_number.is_none());
        assert!(s.parent_shard_id.is_none());
    }
    let sum = h.summary("s").await;
    assert_eq!(sum.open_shard_count, 3);
    assert_eq!(sum.consumer_count, Some(0));
    assert_eq!(sum.max_record_size_in_ki_b, Some(1024));
    assert_eq!(
        sum.record_distribution_strategy,
        Some(RecordDistributionStrategy::UserPartitionKey)
    );
    assert_eq!(sum.stream_creation_timestamp, d.stream_creation_timestamp);
}

#[tokio::test]
async fn create_rejects_duplicates_and_bad_modes() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let e = h
        .engine
        .create_stream(
            &h.ctx,
            CreateStreamInput {
                shard_count: Some(1),
                ..create_input("s")
            },
        )
        .await;
    assert_eq!(
        e,
        Err(CreateStreamError::ResourceInUse(format!(
            "Stream s under account {ACCOUNT} already exists."
        )))
    );
    let provisioned = Some(StreamModeDetails {
        stream_mode: StreamMode::Provisioned,
    });
    let on_demand = Some(StreamModeDetails {
        stream_mode: StreamMode::OnDemand,
    });
    for input in [
        CreateStreamInput {
            stream_mode_details: provisioned.clone(),
            ..create_input("a")
        },
        CreateStreamInput {
            stream_mode_details: on_demand,
            shard_count: Some(2),
            ..create_input("b")
        },
        CreateStreamInput {
            shard_count: Some(1),
            record_distribution_strategy: Some(RecordDistributionStrategy::Auto),
            ..create_input("c")
        },
        CreateStreamInput {
            shard_count: Some(1),
            warm_throughput_mi_bps: Some(10),
            ..create_input("d")
        },
    ] {
        let e = h.engine.create_stream(&h.ctx, input).await;
        assert!(
            matches!(e, Err(CreateStreamError::InvalidArgument(_))),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn on_demand_is_the_default_with_four_shards() {
    let h = Harness::new().await;
    h.engine
        .create_stream(&h.ctx, create_input("od"))
        .await
        .unwrap();
    let d = h.describe("od").await;
    assert_eq!(d.shards.len(), 4);
    assert_eq!(
        d.stream_mode_details.unwrap().stream_mode,
        StreamMode::OnDemand
    );
    let input = CreateStreamInput {
        max_record_size_in_ki_b: Some(10_240),
        warm_throughput_mi_bps: Some(100),
        record_distribution_strategy: Some(RecordDistributionStrategy::Auto),
        ..create_input("od2")
    };
    h.engine.create_stream(&h.ctx, input).await.unwrap();
    let sum = h.summary("od2").await;
    assert_eq!(sum.max_record_size_in_ki_b, Some(10_240));
    assert_eq!(
        sum.record_distribution_strategy,
        Some(RecordDistributionStrategy::Auto)
    );
    assert_eq!(
        sum.warm_throughput,
        Some(WarmThroughputObject {
            current_mi_bps: Some(100),
            target_mi_bps: Some(100)
        })
    );
}

#[tokio::test]
async fn create_enforces_account_limits() {
    let h = Harness::with_config(EngineConfig {
        shard_limit: 10,
        on_demand_stream_limit: 1,
        ..Default::default()
    })
    .await;
    h.create("a", 3).await;
    let e = h
        .engine
        .create_stream(
            &h.ctx,
            CreateStreamInput {
                shard_count: Some(8),
                ..create_input("b")
            },
        )
        .await;
    assert_eq!(
        e,
        Err(CreateStreamError::LimitExceeded(format!(
            "This request would exceed the shard limit for the account {ACCOUNT} in {REGION}. Current shard \
             count for the account: 3. Limit: 10. Number of additional shards that would have resulted from \
             this request: 8. Refer to the AWS Service Limits page \
             (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how \
             to request higher limits."
        )))
    );
    h.engine
        .create_stream(&h.ctx, create_input("od"))
        .await
        .unwrap();
    let e = h.engine.create_stream(&h.ctx, create_input("od2")).await;
    assert!(
        matches!(e, Err(CreateStreamError::LimitExceeded(_))),
        "{e:?}"
    );
    // Limits are per account and region.
    let other = RequestContext::new("999999999999", REGION);
    h.engine
        .create_stream(
            &other,
            CreateStreamInput {
                shard_count: Some(8),
                ..create_input("b")
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn create_with_tags() {
    let h = Harness::new().await;
    let input = CreateStreamInput {
        shard_count: Some(1),
        tags: Some(vec![("b".into(), "2".into()), ("a".into(), "1".into())]),
        ..create_input("t")
    };
    h.engine.create_stream(&h.ctx, input).await.unwrap();
    let tags = h
        .engine
        .list_tags_for_stream(
            &h.ctx,
            ListTagsForStreamInput {
                stream_name: Some("t".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let keys: Vec<_> = tags.tags.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    let many: Vec<_> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
    let e = h
        .engine
        .create_stream(
            &h.ctx,
            CreateStreamInput {
                shard_count: Some(1),
                tags: Some(many),
                ..create_input("u")
            },
        )
        .await;
    assert!(
        matches!(e, Err(CreateStreamError::InvalidArgument(m)) if m.contains("more than 50 tags"))
    );
}

#[tokio::test]
async fn addressing_by_name_and_arn() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let by_arn = |arn: String, name: Option<&str>| DescribeStreamSummaryInput {
        stream_arn: Some(arn),
        stream_name: name.map(Into::into),
        ..Default::default()
    };
    let ok = h
        .engine
        .describe_stream_summary(&h.ctx, by_arn(h.arn("s"), Some("s")))
        .await
        .unwrap();
    assert_eq!(ok.stream_description_summary.stream_name, "s");
    let e = h
        .engine
        .describe_stream_summary(&h.ctx, by_arn(h.arn("s"), Some("t")))
        .await;
    assert!(
        matches!(e, Err(DescribeStreamSummaryError::InvalidArgument(_))),
        "{e:?}"
    );
    let e = h
        .engine
        .describe_stream_summary(&h.ctx, DescribeStreamSummaryInput::default())
        .await;
    assert!(
        matches!(e, Err(DescribeStreamSummaryError::InvalidArgument(_))),
        "{e:?}"
    );
    let e = h
        .engine
        .describe_stream_summary(&h.ctx, by_arn(h.arn("missing"), None))
        .await;
    assert_eq!(
        e,
        Err(DescribeStreamSummaryError::ResourceNotFound(format!(
            "Stream missing under account {ACCOUNT} not found."
        )))
    );
    let other_region = format!("arn:aws:kinesis:eu-west-1:{ACCOUNT}:stream/s");
    let e = h
        .engine
        .describe_stream_summary(&h.ctx, by_arn(other_region, None))
        .await;
    assert!(
        matches!(e, Err(DescribeStreamSummaryError::ResourceNotFound(_))),
        "{e:?}"
    );
    // Another account names the stream by ARN (authorization is the server's business).
    let other = RequestContext::new("999999999999", REGION);
    assert!(h
        .engine
        .describe_stream_summary(&other, by_arn(h.arn("s"), None))
        .await
        .is_ok());
    let e = h
        .engine
        .describe_stream(
            &other,
            DescribeStreamInput {
                stream_name: Some("s".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        e,
        Err(DescribeStreamError::ResourceNotFound(
            "Stream s under account 999999999999 not found.".into()
        ))
    );
}

#[tokio::test]
async fn describe_stream_pages_shards() {
    let h = Harness::new().await;
    h.create("s", 5).await;
    let page = |limit: Option<i32>, start: Option<&str>| DescribeStreamInput {
        stream_name: Some("s".into()),
        limit,
        exclusive_start_shard_id: start.map(Into::into),
        ..Default::default()
    };
    let d = h
        .engine
        .describe_stream(&h.ctx, page(Some(2), None))
        .await
        .unwrap()
        .stream_description;
    assert_eq!(d.shards.len(), 2);
    assert!(d.has_more_shards);
    let d = h
        .engine
        .describe_stream(&h.ctx, page(Some(2), Some("shardId-000000000001")))
        .await
        .unwrap()
        .stream_description;
    let ids: Vec<_> = d.shards.iter().map(|s| s.shard_id.as_str()).collect();
    assert_eq!(ids, ["shardId-000000000002", "shardId-000000000003"]);
    assert!(d.has_more_shards);
    let d = h
        .engine
        .describe_stream(&h.ctx, page(None, Some("shardId-3")))
        .await
        .unwrap()
        .stream_description;
    assert_eq!(d.shards.len(), 1);
    assert!(!d.has_more_shards);
}

#[tokio::test]
async fn list_streams_pages_by_name() {
    let h = Harness::with_config(EngineConfig {
        next_token_ttl: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    for n in ["c", "a", "b", "d"] {
        h.create(n, 1).await;
    }
    h.engine
        .create_stream(
            &RequestContext::new("999999999999", REGION),
            CreateStreamInput {
                shard_count: Some(1),
                ..create_input("x")
            },
        )
        .await
        .unwrap();
    let list = |input: ListStreamsInput| h.engine.list_streams(&h.ctx, input);
    let all = list(ListStreamsInput::default()).await.unwrap();
    assert_eq!(all.stream_names, ["a", "b", "c", "d"]);
    assert!(!all.has_more_streams);
    assert!(all.next_token.is_none());
    let summaries = all.stream_summaries.unwrap();
    assert_eq!(summaries[0].stream_arn, h.arn("a"));
    assert_eq!(summaries[0].stream_status, StreamStatus::Active);

    let first = list(ListStreamsInput {
        limit: Some(3),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(first.stream_names, ["a", "b", "c"]);
    assert!(first.has_more_streams);
    let token = first.next_token.unwrap();
    let second = list(ListStreamsInput {
        next_token: Some(token.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(second.stream_names, ["d"]);
    assert!(!second.has_more_streams);
    let after = list(ListStreamsInput {
        exclusive_start_stream_name: Some("b".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(after.stream_names, ["c", "d"]);

    let e = list(ListStreamsInput {
        next_token: Some("garbage".into()),
        ..Default::default()
    })
    .await;
    assert!(
        matches!(e, Err(ListStreamsError::InvalidArgument(_))),
        "{e:?}"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    let e = list(ListStreamsInput {
        next_token: Some(token),
        ..Default::default()
    })
    .await;
    assert!(
        matches!(e, Err(ListStreamsError::ExpiredNextToken(_))),
        "{e:?}"
    );
}
