//! ListShards: addressing, paging, NextToken rules and every ShardFilter type.

use std::time::Duration;

use tributary_engine::EngineConfig;
use tributary_model::types::*;
use tributary_model::*;

use crate::*;

fn by_name(name: &str) -> ListShardsInput {
    ListShardsInput {
        stream_name: Some(name.into()),
        ..Default::default()
    }
}

fn ids(out: &ListShardsOutput) -> Vec<String> {
    out.shards
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| s.shard_id.clone())
        .collect()
}

fn filtered(
    name: &str,
    r#type: ShardFilterType,
    shard_id: Option<&str>,
    ts: Option<i64>,
) -> ListShardsInput {
    ListShardsInput {
        shard_filter: Some(ShardFilter {
            r#type,
            shard_id: shard_id.map(Into::into),
            timestamp: ts.map(Timestamp),
        }),
        ..by_name(name)
    }
}

#[tokio::test]
async fn lists_and_pages() {
    let h = Harness::with_config(EngineConfig {
        next_token_ttl: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    h.create("s", 5).await;
    let all = h.engine.list_shards(&h.ctx, by_name("s")).await.unwrap();
    assert_eq!(ids(&all).len(), 5);
    assert!(all.next_token.is_none());
    let by_arn = ListShardsInput {
        stream_arn: Some(h.arn("s")),
        ..Default::default()
    };
    assert_eq!(h.engine.list_shards(&h.ctx, by_arn).await.unwrap(), all);

    let first = h
        .engine
        .list_shards(
            &h.ctx,
            ListShardsInput {
                max_results: Some(2),
                ..by_name("s")
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&first),
        ["shardId-000000000000", "shardId-000000000001"]
    );
    let token = first.next_token.unwrap();
    let second = h
        .engine
        .list_shards(
            &h.ctx,
            ListShardsInput {
                next_token: Some(token.clone()),
                max_results: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&second),
        ["shardId-000000000002", "shardId-000000000003"]
    );
    let third = h
        .engine
        .list_shards(
            &h.ctx,
            ListShardsInput {
                next_token: second.next_token,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&third), ["shardId-000000000004"]);
    assert!(third.next_token.is_none());

    let after = h
        .engine
        .list_shards(
            &h.ctx,
            ListShardsInput {
                exclusive_start_shard_id: Some("shardId-000000000003".into()),
                ..by_name("s")
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&after), ["shardId-000000000004"]);

    let inv = |m: &str| Err(ListShardsError::InvalidArgument(m.to_owned()));
    assert_eq!(
        h.engine
            .list_shards(&h.ctx, ListShardsInput::default())
            .await,
        inv("Either NextToken or StreamName should be provided.")
    );
    assert_eq!(
        h.engine
            .list_shards(
                &h.ctx,
                ListShardsInput {
                    next_token: Some(token.clone()),
                    ..by_name("s")
                }
            )
            .await,
        inv("NextToken and StreamName cannot be provided together.")
    );
    let e = h
        .engine
        .list_shards(
            &h.ctx,
            ListShardsInput {
                next_token: Some(token.clone()),
                exclusive_start_shard_id: Some("1".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(ListShardsError::InvalidArgument(_))),
        "{e:?}"
    );
    let e = h
        .engine
        .list_shards(
            &h.ctx,
            ListShardsInput {
                next_token: Some("junk".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(ListShardsError::InvalidArgument(_))),
        "{e:?}"
    );
    assert_eq!(
        h.engine.list_shards(&h.ctx, by_name("nope")).await,
        Err(ListShardsError::ResourceNotFound(format!(
            "Stream nope under account {ACCOUNT} not found."
        )))
    );
    let created = h.summary("s").await.stream_creation_timestamp;
    let ok = ListShardsInput {
        stream_creation_timestamp: Some(created),
        ..by_name("s")
    };
    assert!(h.engine.list_shards(&h.ctx, ok).await.is_ok());
    let wrong = ListShardsInput {
        stream_creation_timestamp: Some(Timestamp(created.millis() - 1000)),
        ..by_name("s")
    };
    assert!(matches!(
        h.engine.list_shards(&h.ctx, wrong).await,
        Err(ListShardsError::ResourceNotFound(_))
    ));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let e = h
        .engine
        .list_shards(
            &h.ctx,
            ListShardsInput {
                next_token: Some(token),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(ListShardsError::ExpiredNextToken(_))),
        "{e:?}"
    );
}

#[tokio::test]
async fn shard_filters() {
    let h = Harness::new().await;
    h.create("s", 2).await;
    let before_split = Timestamp::now().millis();
    tokio::time::sleep(Duration::from_millis(5)).await;
    h.engine
        .split_shard(
            &h.ctx,
            SplitShardInput {
                stream_name: Some("s".into()),
                shard_to_split: "shardId-0".into(),
                new_starting_hash_key: "100".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let after_split = Timestamp::now().millis();
    let list = |input| async { ids(&h.engine.list_shards(&h.ctx, input).await.unwrap()) };
    let s = |n: u32| format!("shardId-{n:012}");

    assert_eq!(
        list(filtered("s", ShardFilterType::AtLatest, None, None)).await,
        [s(1), s(2), s(3)]
    );
    assert_eq!(
        list(filtered("s", ShardFilterType::AtTrimHorizon, None, None)).await,
        [s(0), s(1)]
    );
    assert_eq!(
        list(filtered("s", ShardFilterType::FromTrimHorizon, None, None)).await,
        [s(0), s(1), s(2), s(3)]
    );
    assert_eq!(
        list(filtered(
            "s",
            ShardFilterType::AfterShardId,
            Some("shardId-1"),
            None
        ))
        .await,
        [s(2), s(3)]
    );
    assert_eq!(
        list(filtered(
            "s",
            ShardFilterType::AtTimestamp,
            None,
            Some(before_split)
        ))
        .await,
        [s(0), s(1)]
    );
    assert_eq!(
        list(filtered(
            "s",
            ShardFilterType::AtTimestamp,
            None,
            Some(after_split)
        ))
        .await,
        [s(1), s(2), s(3)]
    );
    assert_eq!(
        list(filtered(
            "s",
            ShardFilterType::FromTimestamp,
            None,
            Some(before_split)
        ))
        .await,
        [s(0), s(1), s(2), s(3)]
    );
    assert_eq!(
        list(filtered(
            "s",
            ShardFilterType::FromTimestamp,
            None,
            Some(after_split)
        ))
        .await,
        [s(1), s(2), s(3)]
    );

    for bad in [
        filtered("s", ShardFilterType::AfterShardId, None, None),
        filtered("s", ShardFilterType::AtTimestamp, None, None),
        filtered("s", ShardFilterType::FromTimestamp, None, None),
        filtered("s", ShardFilterType::AtLatest, Some("shardId-1"), None),
        filtered("s", ShardFilterType::AtLatest, None, Some(1)),
    ] {
        let e = h.engine.list_shards(&h.ctx, bad).await;
        assert!(
            matches!(e, Err(ListShardsError::InvalidArgument(_))),
            "{e:?}"
        );
    }

    // The filter travels with the NextToken.
    let page = h
        .engine
        .list_shards(
            &h.ctx,
            ListShardsInput {
                max_results: Some(1),
                ..filtered("s", ShardFilterType::AtLatest, None, None)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&page), [s(1)]);
    let rest = h
        .engine
        .list_shards(
            &h.ctx,
            ListShardsInput {
                next_token: page.next_token,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&rest), [s(2), s(3)]);
}

#[tokio::test]
async fn creating_streams_are_in_use_for_list_shards() {
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
    assert_eq!(
        h.engine.list_shards(&h.ctx, by_name("s")).await,
        Err(ListShardsError::ResourceInUse(format!(
            "Stream s under account {ACCOUNT} not ACTIVE, instead in state CREATING"
        )))
    );
}
