//! Tags: AddTagsToStream, RemoveTagsFromStream, ListTagsForStream (by stream name or ARN)
//! and TagResource, UntagResource, ListTagsForResource (by resource ARN: a stream or an
//! enhanced fan-out consumer, which has tags of its own).

use std::sync::Arc;

use tributary_model::types::*;
use tributary_model::*;

use crate::error::retry_stale;
use crate::error::{Failure, Outcome};
use crate::messages as msg;
use crate::resolve::{parse_consumer_arn, parse_stream_arn};
use crate::state::{ConsumerEntry, StreamEntry};
use crate::{Engine, RequestContext};

/// What TagResource, UntagResource, ListTagsForResource and the resource-policy operations
/// act on.
pub(crate) enum Resource {
    Stream(Arc<StreamEntry>),
    Consumer(Arc<StreamEntry>, ConsumerEntry),
}

impl Resource {
    pub(crate) fn arn(&self) -> &str {
        match self {
            Resource::Stream(entry) => &entry.arn,
            Resource::Consumer(_, c) => &c.arn,
        }
    }
}

/// AWS's limit of tags per stream.
pub(crate) const MAX_TAGS: usize = 50;

/// AWS's tag character check: letters, digits, space and `_ . / = + - @`; '%' has its
/// own message.
pub(crate) fn validate<'a>(
    strings: impl Iterator<Item = &'a str> + Clone,
    verb: &str,
    name: &str,
    account: &str,
) -> Outcome<()> {
    let allowed = |c: char| {
        c.is_alphanumeric()
            || matches!(c, ' ' | '_' | '.' | '/' | '=' | '+' | '-' | '@' | '%')
            || ('\u{00C0}'..='\u{1FFF}').contains(&c)
            || ('\u{2C00}'..='\u{D7FF}').contains(&c)
    };
    if strings.clone().any(|s| !s.chars().all(allowed)) {
        return Err(Failure::InvalidArgument(
            msg::TAG_INVALID_CHARACTERS.to_owned(),
        ));
    }
    if strings.into_iter().any(|s| s.contains('%')) {
        return Err(Failure::InvalidArgument(msg::tag_percent(
            verb, name, account,
        )));
    }
    Ok(())
}

/// `existing` with `added` set (replacing values of existing keys), sorted by key.
pub(crate) fn merged(
    mut existing: Vec<(String, String)>,
    added: Vec<(String, String)>,
) -> Vec<(String, String)> {
    for (k, v) in added {
        match existing.binary_search_by(|(e, _)| e.as_str().cmp(&k)) {
            Ok(i) => existing[i].1 = v,
            Err(i) => existing.insert(i, (k, v)),
        }
    }
    existing
}

fn wire_tags<'a>(tags: impl Iterator<Item = &'a (String, String)>) -> Vec<Tag> {
    tags.map(|(k, v)| Tag {
        key: k.clone(),
        value: Some(v.clone()),
    })
    .collect()
}

impl Engine {
    pub async fn add_tags_to_stream(
        &self,
        ctx: &RequestContext,
        input: AddTagsToStreamInput,
    ) -> Result<(), AddTagsToStreamError> {
        retry_stale!(self.add_tags_to_stream_once(ctx, input.clone()).await)
    }

    async fn add_tags_to_stream_once(
        &self,
        ctx: &RequestContext,
        input: AddTagsToStreamInput,
    ) -> Result<(), AddTagsToStreamError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        self.add_tags(&entry, input.tags).await?;
        Ok(())
    }

    pub async fn remove_tags_from_stream(
        &self,
        ctx: &RequestContext,
        input: RemoveTagsFromStreamInput,
    ) -> Result<(), RemoveTagsFromStreamError> {
        retry_stale!(self.remove_tags_from_stream_once(ctx, input.clone()).await)
    }

    async fn remove_tags_from_stream_once(
        &self,
        ctx: &RequestContext,
        input: RemoveTagsFromStreamInput,
    ) -> Result<(), RemoveTagsFromStreamError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        self.remove_tags(&entry, input.tag_keys).await?;
        Ok(())
    }

    pub async fn list_tags_for_stream(
        &self,
        ctx: &RequestContext,
        input: ListTagsForStreamInput,
    ) -> Result<ListTagsForStreamOutput, ListTagsForStreamError> {
        let entry = self.resolve(
            ctx,
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
        )?;
        let limit = input
            .limit
            .map_or(MAX_TAGS, |l| (l.max(1) as usize).min(MAX_TAGS));
        let st = entry.state.read();
        let after = input.exclusive_start_tag_key.as_deref();
        let mut rest = st
            .rec
            .tags
            .iter()
            .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a));
        let tags = wire_tags(rest.by_ref().take(limit));
        Ok(ListTagsForStreamOutput {
            has_more_tags: rest.next().is_some(),
            tags,
        })
    }

    pub async fn tag_resource(
        &self,
        ctx: &RequestContext,
        input: TagResourceInput,
    ) -> Result<(), TagResourceError> {
        retry_stale!(self.tag_resource_once(ctx, input.clone()).await)
    }

    async fn tag_resource_once(
        &self,
        ctx: &RequestContext,
        input: TagResourceInput,
    ) -> Result<(), TagResourceError> {
        match self.resource(ctx, &input.resource_arn)? {
            Resource::Stream(entry) => self.add_tags(&entry, input.tags).await?,
            Resource::Consumer(entry, c) => {
                self.change_consumer_tags(&entry, &c, |tags| {
                    validate(
                        input
                            .tags
                            .iter()
                            .flat_map(|(k, v)| [k.as_str(), v.as_str()]),
                        "add tags to",
                        &entry.name,
                        &entry.account,
                    )?;
                    *tags = merged(std::mem::take(tags), input.tags.clone());
                    Ok(())
                })
                .await?
            }
        }
        Ok(())
    }

    pub async fn untag_resource(
        &self,
        ctx: &RequestContext,
        input: UntagResourceInput,
    ) -> Result<(), UntagResourceError> {
        retry_stale!(self.untag_resource_once(ctx, input.clone()).await)
    }

    async fn untag_resource_once(
        &self,
        ctx: &RequestContext,
        input: UntagResourceInput,
    ) -> Result<(), UntagResourceError> {
        match self.resource(ctx, &input.resource_arn)? {
            Resource::Stream(entry) => self.remove_tags(&entry, input.tag_keys).await?,
            Resource::Consumer(entry, c) => {
                self.change_consumer_tags(&entry, &c, |tags| {
                    validate(
                        input.tag_keys.iter().map(String::as_str),
                        "remove tags from",
                        &entry.name,
                        &entry.account,
                    )?;
                    tags.retain(|(k, _)| !input.tag_keys.contains(k));
                    Ok(())
                })
                .await?
            }
        }
        Ok(())
    }

    pub async fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: ListTagsForResourceInput,
    ) -> Result<ListTagsForResourceOutput, ListTagsForResourceError> {
        let tags = match self.resource(ctx, &input.resource_arn)? {
            Resource::Stream(entry) => wire_tags(entry.state.read().rec.tags.iter()),
            Resource::Consumer(_, c) => wire_tags(c.rec.tags.iter()),
        };
        Ok(ListTagsForResourceOutput { tags: Some(tags) })
    }

    /// The stream or consumer a resource ARN names.
    pub(crate) fn resource(&self, ctx: &RequestContext, arn: &str) -> Outcome<Resource> {
        if let Some(t) = parse_stream_arn(arn) {
            return self
                .find(ctx, &t)
                .map(Resource::Stream)
                .ok_or_else(|| Failure::NotFound(msg::stream_not_found(t.name, t.account)));
        }
        if parse_consumer_arn(arn).is_some() {
            let (entry, c) = self.consumer_by_arn(ctx, arn)?;
            return Ok(Resource::Consumer(entry, c));
        }
        if arn.contains("/consumer/") {
            return Err(Failure::NotFound(format!("Resource {arn} not found.")));
        }
        Err(Failure::InvalidArgument(format!(
            "ResourceARN {arn} does not name a supported resource."
        )))
    }

    /// Applies `change` to a consumer's tags and commits them (at most 50 tags).
    async fn change_consumer_tags(
        &self,
        entry: &Arc<StreamEntry>,
        found: &ConsumerEntry,
        change: impl FnOnce(&mut Vec<(String, String)>) -> Outcome<()>,
    ) -> Outcome<()> {
        let _control = self.control.lock().await;
        let c = self.same_consumer(entry, found)?;
        let mut rec = c.rec.clone();
        change(&mut rec.tags)?;
        if rec.tags.len() > MAX_TAGS {
            return Err(Failure::InvalidArgument(msg::too_many_tags(
                &entry.name,
                &entry.account,
            )));
        }
        if rec.tags == c.rec.tags {
            return Ok(());
        }
        self.commit_consumer(entry, rec).await
    }

    async fn add_tags(&self, entry: &StreamEntry, tags: Vec<(String, String)>) -> Outcome<()> {
        validate(
            tags.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]),
            "add tags to",
            &entry.name,
            &entry.account,
        )?;
        let _control = self.control.lock().await;
        let mut rec = Self::snapshot(entry);
        rec.tags = merged(std::mem::take(&mut rec.tags), tags);
        if rec.tags.len() > MAX_TAGS {
            return Err(Failure::InvalidArgument(msg::too_many_tags(
                &entry.name,
                &entry.account,
            )));
        }
        self.commit(entry, rec).await
    }

    async fn remove_tags(&self, entry: &StreamEntry, keys: Vec<String>) -> Outcome<()> {
        validate(
            keys.iter().map(String::as_str),
            "remove tags from",
            &entry.name,
            &entry.account,
        )?;
        let _control = self.control.lock().await;
        let mut rec = Self::snapshot(entry);
        let before = rec.tags.len();
        rec.tags.retain(|(k, _)| !keys.contains(k));
        if rec.tags.len() == before {
            return Ok(());
        }
        self.commit(entry, rec).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_rules_follow_aws() {
        let check = |s: &str| validate([s].into_iter(), "add tags to", "s", "1");
        assert!(check("ü0 _./=+-@").is_ok());
        assert!(check("日本").is_ok());
        for bad in ["a;b", "a\tb", "a\nb", "a,b"] {
            assert_eq!(
                check(bad),
                Err(Failure::InvalidArgument(msg::TAG_INVALID_CHARACTERS.into()))
            );
        }
        assert!(
            matches!(check("a%b"), Err(Failure::InvalidArgument(m)) if m.starts_with("Failed to add tags to stream s"))
        );
    }

    #[test]
    fn merging_replaces_and_sorts() {
        let m = merged(
            vec![("b".into(), "1".into())],
            vec![("a".into(), "2".into()), ("b".into(), "3".into())],
        );
        assert_eq!(m, vec![("a".into(), "2".into()), ("b".into(), "3".into())]);
    }
}
