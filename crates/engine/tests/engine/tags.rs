//! Tags by stream name and by resource ARN.

use tributary_model::types::*;
use tributary_model::*;

use crate::*;

fn add_tags(tags: &[(&str, &str)]) -> AddTagsToStreamInput {
    AddTagsToStreamInput {
        stream_name: Some("s".into()),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn list_tags(limit: Option<i32>, start: Option<&str>) -> ListTagsForStreamInput {
    ListTagsForStreamInput {
        stream_name: Some("s".into()),
        limit,
        exclusive_start_tag_key: start.map(Into::into),
        ..Default::default()
    }
}

#[tokio::test]
async fn stream_tags() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    h.engine
        .add_tags_to_stream(&h.ctx, add_tags(&[("b", "2"), ("a", "1"), ("c", "")]))
        .await
        .unwrap();
    h.engine
        .add_tags_to_stream(&h.ctx, add_tags(&[("a", "one")]))
        .await
        .unwrap();
    let out = h
        .engine
        .list_tags_for_stream(&h.ctx, list_tags(None, None))
        .await
        .unwrap();
    let pairs: Vec<_> = out
        .tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_deref().unwrap()))
        .collect();
    assert_eq!(pairs, [("a", "one"), ("b", "2"), ("c", "")]);
    assert!(!out.has_more_tags);
    let page = h
        .engine
        .list_tags_for_stream(&h.ctx, list_tags(Some(1), Some("a")))
        .await
        .unwrap();
    assert_eq!(page.tags[0].key, "b");
    assert!(page.has_more_tags);

    let e = h
        .engine
        .add_tags_to_stream(&h.ctx, add_tags(&[("abc;def", "1")]))
        .await;
    assert_eq!(
        e,
        Err(AddTagsToStreamError::InvalidArgument(
            "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @.".into()
        ))
    );
    let e = h
        .engine
        .add_tags_to_stream(&h.ctx, add_tags(&[("a", "abc%def")]))
        .await;
    assert_eq!(
        e,
        Err(AddTagsToStreamError::InvalidArgument(format!(
            "Failed to add tags to stream s under account {ACCOUNT} because some tags contained illegal characters. \
             The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'."
        )))
    );
    let many: Vec<(String, String)> = (0..48)
        .map(|i| (format!("k{i:02}"), String::new()))
        .collect();
    let e = h
        .engine
        .add_tags_to_stream(
            &h.ctx,
            AddTagsToStreamInput {
                stream_name: Some("s".into()),
                tags: many,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        e,
        Err(AddTagsToStreamError::InvalidArgument(format!(
            "Failed to add tags to stream s under account {ACCOUNT} because a given stream cannot have more than 50 \
             tags associated with it."
        )))
    );

    let remove = |keys: &[&str]| RemoveTagsFromStreamInput {
        stream_name: Some("s".into()),
        tag_keys: keys.iter().map(|k| k.to_string()).collect(),
        ..Default::default()
    };
    h.engine
        .remove_tags_from_stream(&h.ctx, remove(&["a", "zz"]))
        .await
        .unwrap();
    let e = h
        .engine
        .remove_tags_from_stream(&h.ctx, remove(&["abc%def"]))
        .await;
    assert!(
        matches!(e, Err(RemoveTagsFromStreamError::InvalidArgument(m)) if m.starts_with("Failed to remove tags from stream s"))
    );
    let keys: Vec<_> = h
        .engine
        .list_tags_for_stream(&h.ctx, list_tags(None, None))
        .await
        .unwrap()
        .tags
        .into_iter()
        .map(|t| t.key)
        .collect();
    assert_eq!(keys, ["b", "c"]);
    let e = h
        .engine
        .list_tags_for_stream(
            &h.ctx,
            ListTagsForStreamInput {
                stream_name: Some("nope".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        e,
        Err(ListTagsForStreamError::ResourceNotFound(format!(
            "Stream nope under account {ACCOUNT} not found."
        )))
    );
}

#[tokio::test]
async fn resource_tags_by_arn() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let arn = h.arn("s");
    h.engine
        .tag_resource(
            &h.ctx,
            TagResourceInput {
                resource_arn: arn.clone(),
                tags: vec![("x".into(), "1".into())],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let tags = h
        .engine
        .list_tags_for_resource(
            &h.ctx,
            ListTagsForResourceInput {
                resource_arn: arn.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        tags.tags.unwrap(),
        vec![Tag {
            key: "x".into(),
            value: Some("1".into())
        }]
    );
    h.engine
        .untag_resource(
            &h.ctx,
            UntagResourceInput {
                resource_arn: arn.clone(),
                tag_keys: vec!["x".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let tags = h
        .engine
        .list_tags_for_resource(
            &h.ctx,
            ListTagsForResourceInput {
                resource_arn: arn,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(tags.tags.unwrap().is_empty());
    let e = h
        .engine
        .list_tags_for_resource(
            &h.ctx,
            ListTagsForResourceInput {
                resource_arn: h.arn("nope"),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(ListTagsForResourceError::ResourceNotFound(_))),
        "{e:?}"
    );
    let consumer = format!("{}/consumer/c:1", h.arn("s"));
    let e = h
        .engine
        .list_tags_for_resource(
            &h.ctx,
            ListTagsForResourceInput {
                resource_arn: consumer,
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(e, Err(ListTagsForResourceError::ResourceNotFound(_))),
        "{e:?}"
    );
}
