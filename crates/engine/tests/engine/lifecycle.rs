//! DeleteStream, the CREATING and DELETING states, and declared streams.

use std::collections::BTreeMap;
use std::time::Duration;

use tributary_engine::StreamDeclaration;
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
async fn delete_removes_the_stream_and_its_shards() {
    let h = Harness::new().await;
    let del = |name: &str| DeleteStreamInput {
        stream_name: Some(name.into()),
        ..Default::default()
    };
    let e = h.engine.delete_stream(&h.ctx, del("nope")).await;
    assert_eq!(
        e,
        Err(DeleteStreamError::ResourceNotFound(format!(
            "Stream nope under account {ACCOUNT} not found."
        )))
    );
    h.create("s", 2).await;
    let first = h.put("s", "a", "old").await;
    let old_it = h
        .iterator("s", "shardId-0", ShardIteratorType::TrimHorizon, None)
        .await;
    h.engine.delete_stream(&h.ctx, del("s")).await.unwrap();
    let e = h
        .engine
        .describe_stream(
            &h.ctx,
            DescribeStreamInput {
                stream_name: Some("s".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(e, Err(DescribeStreamError::ResourceNotFound(_))));
    assert!(h
        .meta_keys()
        .await
        .iter()
        .all(|k| !k.starts_with("stream/")));

    // A new stream of the same name is a new incarnation: old iterators and numbers fail.
    h.create("s", 2).await;
    let e = h
        .engine
        .get_records(
            &h.ctx,
            GetRecordsInput {
                shard_iterator: old_it,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        e,
        Err(GetRecordsError::ResourceNotFound(format!(
            "Shard shardId-000000000000 in stream s under account {ACCOUNT} does not exist"
        )))
    );
    let input = GetShardIteratorInput {
        stream_name: Some("s".into()),
        shard_id: first.shard_id.clone(),
        shard_iterator_type: ShardIteratorType::AtSequenceNumber,
        starting_sequence_number: Some(first.sequence_number.clone()),
        ..Default::default()
    };
    let e = h.engine.get_shard_iterator(&h.ctx, input).await;
    assert_eq!(
        e,
        Err(GetShardIteratorError::InvalidArgument(format!(
            "StartingSequenceNumber {} used in GetShardIterator on shard {} in stream s under account {ACCOUNT} \
             is invalid because it did not come from this stream.",
            first.sequence_number, first.shard_id
        )))
    );
    assert!(h.drain("s", &first.shard_id).await.0.is_empty());
}

#[tokio::test]
async fn creating_and_deleting_states_follow_the_delays() {
    let h = Harness::with_config(fast_timers()).await;
    h.engine
        .create_stream(
            &h.ctx,
            CreateStreamInput {
                shard_count: Some(2),
                ..create_input("s")
            },
        )
        .await
        .unwrap();
    let d = h.describe("s").await;
    assert_eq!(d.stream_status, StreamStatus::Creating);
    assert!(d.shards.is_empty());
    let e = h.engine.put_record(&h.ctx, put_input("s", "a", "x")).await;
    assert_eq!(
        e,
        Err(PutRecordError::ResourceNotFound(format!(
            "Stream s under account {ACCOUNT} not found."
        )))
    );
    wait_for(&h, "s", StreamStatus::Active).await;
    assert_eq!(h.describe("s").await.shards.len(), 2);
    h.put("s", "a", "x").await;

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
    let d = h.describe("s").await;
    assert_eq!(d.stream_status, StreamStatus::Deleting);
    assert!(d.shards.is_empty());
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
    assert!(
        matches!(e, Err(CreateStreamError::ResourceInUse(_))),
        "{e:?}"
    );
    let e = h
        .engine
        .delete_stream(
            &h.ctx,
            DeleteStreamInput {
                stream_name: Some("s".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(DeleteStreamError::ResourceNotFound(_))),
        "{e:?}"
    );
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if h.engine
            .list_streams(&h.ctx, ListStreamsInput::default())
            .await
            .unwrap()
            .stream_names
            .is_empty()
        {
            return;
        }
    }
    panic!("the stream was never deleted");
}

#[tokio::test]
async fn a_stream_can_be_deleted_while_creating() {
    let h = Harness::with_config(fast_timers()).await;
    h.engine
        .create_stream(
            &h.ctx,
            CreateStreamInput {
                shard_count: Some(1),
                ..create_input("s")
            },
        )
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
    assert_eq!(h.describe("s").await.stream_status, StreamStatus::Deleting);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let e = h
        .engine
        .describe_stream(
            &h.ctx,
            DescribeStreamInput {
                stream_name: Some("s".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(DescribeStreamError::ResourceNotFound(_))),
        "{e:?}"
    );
}

#[tokio::test]
async fn declared_streams_are_created_once() {
    let h = Harness::new().await;
    let decl = StreamDeclaration {
        name: "declared".into(),
        shard_count: Some(2),
        retention_hours: Some(48),
        tags: BTreeMap::from([("team".into(), "data".into())]),
        ..Default::default()
    };
    h.engine.ensure_stream(&h.ctx, decl.clone()).await.unwrap();
    let d = h.describe("declared").await;
    assert_eq!((d.shards.len(), d.retention_period_hours), (2, 48));
    // Declaring it again, even differently, leaves it alone.
    h.engine
        .ensure_stream(
            &h.ctx,
            StreamDeclaration {
                shard_count: Some(5),
                ..decl
            },
        )
        .await
        .unwrap();
    assert_eq!(h.describe("declared").await.shards.len(), 2);
    h.engine
        .ensure_stream(
            &h.ctx,
            StreamDeclaration {
                name: "od".into(),
                on_demand: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        h.summary("od")
            .await
            .stream_mode_details
            .unwrap()
            .stream_mode,
        StreamMode::OnDemand
    );
    let e = h
        .engine
        .ensure_stream(
            &h.ctx,
            StreamDeclaration {
                name: "bad".into(),
                retention_hours: Some(1),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(CreateStreamError::InvalidArgument(_))),
        "{e:?}"
    );
}
