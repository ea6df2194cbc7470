//! Control-plane operations through the SDK.

use aws_sdk_kinesis::types::{MetricsName, StreamMode, StreamModeDetails, StreamStatus};

use crate::{arn, create, err_of, server, ACCOUNT};

#[tokio::test]
async fn create_describe_list_delete() {
    let s = server();
    let c = s.sdk();
    create(&c, "alpha", 3).await;
    let d = c
        .describe_stream()
        .stream_name("alpha")
        .send()
        .await
        .unwrap();
    let desc = d.stream_description().unwrap();
    assert_eq!(desc.stream_status(), &StreamStatus::Active);
    assert_eq!(desc.stream_arn(), arn("alpha"));
    assert_eq!(desc.shards().len(), 3);
    assert_eq!(desc.shards()[0].shard_id(), "shardId-000000000000");
    assert_eq!(
        desc.shards()[0]
            .hash_key_range()
            .unwrap()
            .starting_hash_key(),
        "0"
    );
    assert_eq!(
        desc.shards()[2].hash_key_range().unwrap().ending_hash_key(),
        "340282366920938463463374607431768211455"
    );
    assert_eq!(desc.retention_period_hours(), 24);
    assert!(!desc.has_more_shards());

    // The same stream by ARN.
    let by_arn = c
        .describe_stream_summary()
        .stream_arn(arn("alpha"))
        .send()
        .await
        .unwrap();
    let sum = by_arn.stream_description_summary().unwrap();
    assert_eq!(sum.stream_name(), "alpha");
    assert_eq!(sum.open_shard_count(), 3);

    let (code, msg) = err_of(
        c.create_stream()
            .stream_name("alpha")
            .shard_count(1)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUseException");
    assert_eq!(
        msg,
        format!("Stream alpha under account {ACCOUNT} already exists.")
    );

    let l = c.list_streams().send().await.unwrap();
    assert_eq!(l.stream_names(), ["alpha"]);
    assert_eq!(l.stream_summaries()[0].stream_arn(), arn("alpha"));

    c.delete_stream().stream_name("alpha").send().await.unwrap();
    let (code, msg) = err_of(c.describe_stream().stream_name("alpha").send().await);
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(
        msg,
        format!("Stream alpha under account {ACCOUNT} not found.")
    );
}

#[tokio::test]
async fn streams_are_per_region() {
    let s = server();
    create(&s.sdk_in("us-east-1"), "regional", 1).await;
    let west = s.sdk_in("eu-west-1");
    assert!(west
        .list_streams()
        .send()
        .await
        .unwrap()
        .stream_names()
        .is_empty());
    create(&west, "regional", 2).await;
    let d = west
        .describe_stream_summary()
        .stream_name("regional")
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.stream_description_summary().unwrap().stream_arn(),
        format!("arn:aws:kinesis:eu-west-1:{ACCOUNT}:stream/regional")
    );
}

#[tokio::test]
async fn on_demand_streams_and_mode_changes() {
    let s = server();
    let c = s.sdk();
    c.create_stream()
        .stream_name("od")
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::OnDemand)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let sum = c
        .describe_stream_summary()
        .stream_name("od")
        .send()
        .await
        .unwrap();
    let sum = sum.stream_description_summary().unwrap();
    assert_eq!(
        sum.stream_mode_details().unwrap().stream_mode(),
        &StreamMode::OnDemand
    );
    assert_eq!(sum.open_shard_count(), 4);
    let limits = c.describe_limits().send().await.unwrap();
    assert_eq!(limits.on_demand_stream_count(), 1);
    assert_eq!(limits.open_shard_count(), 4);

    c.update_stream_mode()
        .stream_arn(arn("od"))
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::Provisioned)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let sum = c
        .describe_stream_summary()
        .stream_name("od")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sum.stream_description_summary()
            .unwrap()
            .stream_mode_details()
            .unwrap()
            .stream_mode(),
        &StreamMode::Provisioned
    );
}

#[tokio::test]
async fn list_streams_pages() {
    let s = server();
    let c = s.sdk();
    for n in ["s1", "s2", "s3"] {
        create(&c, n, 1).await;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_streams()
            .limit(1)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(r.stream_names().iter().cloned());
        token = r.next_token().map(str::to_string);
        if !r.has_more_streams() {
            break;
        }
    }
    assert_eq!(seen, ["s1", "s2", "s3"]);
    let r = c
        .list_streams()
        .exclusive_start_stream_name("s1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.stream_names(), ["s2", "s3"]);
}

#[tokio::test]
async fn retention_up_and_down() {
    let s = server();
    let c = s.sdk();
    create(&c, "ret", 1).await;
    c.increase_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(48)
        .send()
        .await
        .unwrap();
    let h = |c: aws_sdk_kinesis::Client| async move {
        c.describe_stream_summary()
            .stream_name("ret")
            .send()
            .await
            .unwrap()
            .stream_description_summary()
            .unwrap()
            .retention_period_hours()
    };
    assert_eq!(h(c.clone()).await, 48);
    c.decrease_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(24)
        .send()
        .await
        .unwrap();
    assert_eq!(h(c.clone()).await, 24);
    let (code, _) = err_of(
        c.increase_stream_retention_period()
            .stream_name("ret")
            .retention_period_hours(8761)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    let (code, _) = err_of(
        c.decrease_stream_retention_period()
            .stream_name("ret")
            .retention_period_hours(23)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    let (code, _) = err_of(
        c.increase_stream_retention_period()
            .stream_name("ret")
            .retention_period_hours(12)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
}

#[tokio::test]
async fn tags_by_name_and_by_arn() {
    let s = server();
    let c = s.sdk();
    c.create_stream()
        .stream_name("tagged")
        .shard_count(1)
        .tags("team", "a")
        .send()
        .await
        .unwrap();
    c.add_tags_to_stream()
        .stream_name("tagged")
        .tags("env", "prod")
        .tags("team", "b")
        .send()
        .await
        .unwrap();
    let t = c
        .list_tags_for_stream()
        .stream_name("tagged")
        .send()
        .await
        .unwrap();
    let pairs: Vec<(String, String)> = t
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("env".to_string(), "prod".to_string()),
            ("team".to_string(), "b".to_string())
        ]
    );
    c.remove_tags_from_stream()
        .stream_name("tagged")
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    c.tag_resource()
        .resource_arn(arn("tagged"))
        .tags("owner", "me")
        .send()
        .await
        .unwrap();
    let t = c
        .list_tags_for_resource()
        .resource_arn(arn("tagged"))
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = t.tags().iter().map(|t| t.key()).collect();
    assert_eq!(keys, ["owner", "team"]);
    c.untag_resource()
        .resource_arn(arn("tagged"))
        .tag_keys("owner")
        .send()
        .await
        .unwrap();
    let t = c
        .list_tags_for_stream()
        .stream_name("tagged")
        .send()
        .await
        .unwrap();
    assert_eq!(t.tags().len(), 1);
    let (code, _) = err_of(
        c.list_tags_for_resource()
            .resource_arn(arn("missing"))
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn enhanced_monitoring() {
    let s = server();
    let c = s.sdk();
    create(&c, "mon", 1).await;
    let r = c
        .enable_enhanced_monitoring()
        .stream_name("mon")
        .shard_level_metrics(MetricsName::IncomingBytes)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.desired_shard_level_metrics(),
        [MetricsName::IncomingBytes]
    );
    let r = c
        .enable_enhanced_monitoring()
        .stream_name("mon")
        .shard_level_metrics(MetricsName::All)
        .send()
        .await
        .unwrap();
    assert_eq!(r.desired_shard_level_metrics().len(), 7);
    let r = c
        .disable_enhanced_monitoring()
        .stream_name("mon")
        .shard_level_metrics(MetricsName::All)
        .send()
        .await
        .unwrap();
    assert!(r.desired_shard_level_metrics().is_empty());
}

#[tokio::test]
async fn stream_settings_updates() {
    let s = server();
    let c = s.sdk();
    create(&c, "cfg", 1).await;
    c.update_max_record_size()
        .stream_arn(arn("cfg"))
        .max_record_size_in_kib(10240)
        .send()
        .await
        .unwrap();
    let sum = c
        .describe_stream_summary()
        .stream_name("cfg")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sum.stream_description_summary()
            .unwrap()
            .max_record_size_in_kib(),
        Some(10240)
    );
    let w = c
        .update_stream_warm_throughput()
        .stream_name("cfg")
        .warm_throughput_mibps(10)
        .send()
        .await;
    // Warm throughput applies to on-demand streams only.
    assert_eq!(err_of(w).0, "InvalidArgumentException");
    let acct = c.describe_account_settings().send().await.unwrap();
    let _ = acct.minimum_throughput_billing_commitment();
}

#[tokio::test]
async fn resource_policies() {
    let s = server();
    let c = s.sdk();
    create(&c, "pol", 1).await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":"kinesis:GetRecords","Resource":"{}"}}]}}"#,
        arn("pol")
    );
    c.put_resource_policy()
        .resource_arn(arn("pol"))
        .policy(&policy)
        .send()
        .await
        .unwrap();
    let got = c
        .get_resource_policy()
        .resource_arn(arn("pol"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.policy(), policy);
    c.delete_resource_policy()
        .resource_arn(arn("pol"))
        .send()
        .await
        .unwrap();
    let got = c
        .get_resource_policy()
        .resource_arn(arn("pol"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.policy(), "{}");
    let (code, _) = err_of(
        c.put_resource_policy()
            .resource_arn(arn("pol"))
            .policy("not json")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
}
