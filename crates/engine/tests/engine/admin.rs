//! Tags, enhanced monitoring, stream settings, limits, account settings, resource policies.

use bytes::Bytes;
use tributary_engine::EngineConfig;
use tributary_model::types::*;
use tributary_model::*;

use crate::*;

#[tokio::test]
async fn enhanced_monitoring_expands_all() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let enable = |m: Vec<MetricsName>| EnableEnhancedMonitoringInput {
        stream_name: Some("s".into()),
        shard_level_metrics: m,
        ..Default::default()
    };
    let out = h
        .engine
        .enable_enhanced_monitoring(
            &h.ctx,
            enable(vec![MetricsName::Outgoingbytes, MetricsName::Incomingbytes]),
        )
        .await
        .unwrap();
    assert_eq!(out.current_shard_level_metrics, Some(vec![]));
    assert_eq!(
        out.desired_shard_level_metrics,
        Some(vec![MetricsName::Incomingbytes, MetricsName::Outgoingbytes])
    );
    assert_eq!(out.stream_name.as_deref(), Some("s"));
    let out = h
        .engine
        .enable_enhanced_monitoring(&h.ctx, enable(vec![MetricsName::All]))
        .await
        .unwrap();
    assert_eq!(out.desired_shard_level_metrics.unwrap().len(), 7);
    let d = h.describe("s").await;
    assert_eq!(
        d.enhanced_monitoring[0]
            .shard_level_metrics
            .as_ref()
            .unwrap()
            .len(),
        7
    );
    let out = h
        .engine
        .disable_enhanced_monitoring(
            &h.ctx,
            DisableEnhancedMonitoringInput {
                stream_name: Some("s".into()),
                shard_level_metrics: vec![MetricsName::All],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.current_shard_level_metrics.unwrap().len(), 7);
    assert_eq!(out.desired_shard_level_metrics, Some(vec![]));
}

#[tokio::test]
async fn stream_mode_record_size_warm_throughput_and_distribution() {
    let h = Harness::with_config(EngineConfig {
        on_demand_stream_limit: 1,
        ..Default::default()
    })
    .await;
    h.create("s", 2).await;
    h.create("t", 1).await;
    let arn = h.arn("s");
    let mode = |arn: &str, m: StreamMode| UpdateStreamModeInput {
        stream_arn: arn.into(),
        stream_mode_details: StreamModeDetails { stream_mode: m },
        ..Default::default()
    };
    let warm = |w: i32| UpdateStreamWarmThroughputInput {
        stream_name: Some("s".into()),
        warm_throughput_mi_bps: w,
        ..Default::default()
    };
    let e = h
        .engine
        .update_stream_warm_throughput(&h.ctx, warm(5))
        .await;
    assert!(
        matches!(e, Err(UpdateStreamWarmThroughputError::InvalidArgument(_))),
        "{e:?}"
    );
    let dist = |d: RecordDistributionStrategy| UpdateStreamRecordDistributionStrategyInput {
        stream_arn: arn.clone(),
        record_distribution_strategy: d,
        ..Default::default()
    };
    let e = h
        .engine
        .update_stream_record_distribution_strategy(&h.ctx, dist(RecordDistributionStrategy::Auto))
        .await;
    assert!(
        matches!(
            e,
            Err(UpdateStreamRecordDistributionStrategyError::InvalidArgument(_))
        ),
        "{e:?}"
    );

    h.engine
        .update_stream_mode(&h.ctx, mode(&arn, StreamMode::OnDemand))
        .await
        .unwrap();
    let sum = h.summary("s").await;
    assert_eq!(
        sum.stream_mode_details.unwrap().stream_mode,
        StreamMode::OnDemand
    );
    assert_eq!(
        sum.open_shard_count, 2,
        "shards are kept across a mode change"
    );
    let e = h
        .engine
        .update_stream_mode(&h.ctx, mode(&h.arn("t"), StreamMode::OnDemand))
        .await;
    assert!(
        matches!(e, Err(UpdateStreamModeError::LimitExceeded(_))),
        "{e:?}"
    );
    let e = h
        .engine
        .update_stream_mode(&h.ctx, mode(&arn, StreamMode::OnDemand))
        .await;
    assert!(
        matches!(e, Err(UpdateStreamModeError::InvalidArgument(_))),
        "{e:?}"
    );

    let out = h
        .engine
        .update_stream_warm_throughput(&h.ctx, warm(50))
        .await
        .unwrap();
    assert_eq!(out.warm_throughput.unwrap().target_mi_bps, Some(50));
    h.engine
        .update_stream_record_distribution_strategy(&h.ctx, dist(RecordDistributionStrategy::Auto))
        .await
        .unwrap();
    assert_eq!(
        h.summary("s").await.record_distribution_strategy,
        Some(RecordDistributionStrategy::Auto)
    );
    h.engine
        .update_stream_mode(&h.ctx, mode(&arn, StreamMode::Provisioned))
        .await
        .unwrap();
    let sum = h.summary("s").await;
    assert_eq!(
        sum.record_distribution_strategy,
        Some(RecordDistributionStrategy::UserPartitionKey)
    );
    assert_eq!(sum.warm_throughput, None);

    let big = || {
        let mut input = put_input("s", "k", "");
        input.data = Bytes::from(vec![1u8; 2 * 1024 * 1024]);
        input
    };
    assert!(h.engine.put_record(&h.ctx, big()).await.is_err());
    let size = |arn: Option<String>| UpdateMaxRecordSizeInput {
        stream_arn: arn,
        max_record_size_in_ki_b: 4096,
        ..Default::default()
    };
    let e = h.engine.update_max_record_size(&h.ctx, size(None)).await;
    assert!(
        matches!(e, Err(UpdateMaxRecordSizeError::InvalidArgument(_))),
        "{e:?}"
    );
    h.engine
        .update_max_record_size(&h.ctx, size(Some(arn)))
        .await
        .unwrap();
    assert_eq!(h.summary("s").await.max_record_size_in_ki_b, Some(4096));
    assert!(h.engine.put_record(&h.ctx, big()).await.is_ok());
}

#[tokio::test]
async fn limits_and_account_settings() {
    let h = Harness::with_config(EngineConfig {
        shard_limit: 100,
        on_demand_stream_limit: 7,
        ..Default::default()
    })
    .await;
    h.create("a", 3).await;
    h.engine
        .create_stream(
            &h.ctx,
            CreateStreamInput {
                stream_name: "od".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    h.engine
        .split_shard(
            &h.ctx,
            SplitShardInput {
                stream_name: Some("a".into()),
                shard_to_split: "0".into(),
                new_starting_hash_key: "10".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let l = h
        .engine
        .describe_limits(&h.ctx, DescribeLimitsInput {})
        .await
        .unwrap();
    assert_eq!(
        (
            l.shard_limit,
            l.open_shard_count,
            l.on_demand_stream_count,
            l.on_demand_stream_count_limit
        ),
        (100, 8, 1, 7)
    );
    let other = h
        .engine
        .describe_limits(
            &RequestContext::new(ACCOUNT, "eu-west-1"),
            DescribeLimitsInput {},
        )
        .await
        .unwrap();
    assert_eq!(other.open_shard_count, 0);

    let s = h
        .engine
        .describe_account_settings(&h.ctx, DescribeAccountSettingsInput {})
        .await
        .unwrap();
    assert_eq!(
        s.minimum_throughput_billing_commitment.unwrap().status,
        MinimumThroughputBillingCommitmentOutputStatus::Disabled
    );
    let set = |status| UpdateAccountSettingsInput {
        minimum_throughput_billing_commitment: MinimumThroughputBillingCommitmentInput { status },
    };
    let on = h
        .engine
        .update_account_settings(
            &h.ctx,
            set(MinimumThroughputBillingCommitmentInputStatus::Enabled),
        )
        .await
        .unwrap();
    let on = on.minimum_throughput_billing_commitment.unwrap();
    assert_eq!(
        on.status,
        MinimumThroughputBillingCommitmentOutputStatus::Enabled
    );
    assert!(on.earliest_allowed_end_at.unwrap() > on.started_at.unwrap());
    let off = h
        .engine
        .update_account_settings(
            &h.ctx,
            set(MinimumThroughputBillingCommitmentInputStatus::Disabled),
        )
        .await
        .unwrap();
    assert_eq!(
        off.minimum_throughput_billing_commitment.unwrap().status,
        MinimumThroughputBillingCommitmentOutputStatus::EnabledUntilEarliestAllowedEnd
    );
    let s = h
        .engine
        .describe_account_settings(&h.ctx, DescribeAccountSettingsInput {})
        .await
        .unwrap();
    assert_eq!(
        s.minimum_throughput_billing_commitment.unwrap().status,
        MinimumThroughputBillingCommitmentOutputStatus::EnabledUntilEarliestAllowedEnd
    );
}

#[tokio::test]
async fn resource_policies() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let arn = h.arn("s");
    let get = || {
        h.engine.get_resource_policy(
            &h.ctx,
            GetResourcePolicyInput {
                resource_arn: arn.clone(),
                ..Default::default()
            },
        )
    };
    assert_eq!(get().await.unwrap().policy, "{}");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kinesis:GetRecords"}]}"#;
    let put = |p: &str| PutResourcePolicyInput {
        resource_arn: arn.clone(),
        policy: p.into(),
        ..Default::default()
    };
    h.engine
        .put_resource_policy(&h.ctx, put(doc))
        .await
        .unwrap();
    assert_eq!(get().await.unwrap().policy, doc);
    assert_eq!(h.engine.resource_policy(&arn).as_deref(), Some(doc));
    h.engine
        .put_resource_policy(&h.ctx, put(r#"{"Statement":{"Effect":"Deny"}}"#))
        .await
        .unwrap();
    for bad in ["nope", r#"{"Version":"2012-10-17"}"#, "[]"] {
        let e = h.engine.put_resource_policy(&h.ctx, put(bad)).await;
        assert!(
            matches!(e, Err(PutResourcePolicyError::InvalidArgument(_))),
            "{e:?}"
        );
    }
    let e = h
        .engine
        .put_resource_policy(
            &h.ctx,
            PutResourcePolicyInput {
                resource_arn: h.arn("nope"),
                policy: doc.into(),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(PutResourcePolicyError::ResourceNotFound(_))),
        "{e:?}"
    );
    h.engine
        .delete_resource_policy(
            &h.ctx,
            DeleteResourcePolicyInput {
                resource_arn: arn.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(get().await.unwrap().policy, "{}");
    // Nothing left to delete: AWS answers ResourceNotFoundException.
    let e = h
        .engine
        .delete_resource_policy(
            &h.ctx,
            DeleteResourcePolicyInput {
                resource_arn: arn.clone(),
                ..Default::default()
            },
        )
        .await;
    match e {
        Err(DeleteResourcePolicyError::ResourceNotFound(m)) => {
            assert_eq!(m, format!("No resource policy found for resource {arn}."))
        }
        other => panic!("{other:?}"),
    }

    // A stream's policy goes with the stream.
    h.engine
        .put_resource_policy(&h.ctx, put(doc))
        .await
        .unwrap();
    h.engine
        .delete_stream(
            &h.ctx,
            DeleteStreamInput {
                stream_name: Some("s".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(h.engine.resource_policy(&arn).is_none());
    assert!(h
        .meta_keys()
        .await
        .iter()
        .all(|k| !k.starts_with("policy/")));
}

#[tokio::test]
async fn settings_need_an_active_stream() {
    let h = Harness::with_config(fast_timers()).await;
    h.engine
        .create_stream(
            &h.ctx,
            CreateStreamInput {
                stream_name: "s".into(),
                shard_count: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let e = h
        .engine
        .enable_enhanced_monitoring(
            &h.ctx,
            EnableEnhancedMonitoringInput {
                stream_name: Some("s".into()),
                shard_level_metrics: vec![MetricsName::All],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        e,
        Err(EnableEnhancedMonitoringError::ResourceInUse(format!(
            "Stream s under account {ACCOUNT} not ACTIVE, instead in state CREATING"
        )))
    );
    let e = h
        .engine
        .increase_stream_retention_period(
            &h.ctx,
            IncreaseStreamRetentionPeriodInput {
                stream_name: Some("s".into()),
                retention_period_hours: 48,
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(IncreaseStreamRetentionPeriodError::ResourceInUse(_))),
        "{e:?}"
    );
}
