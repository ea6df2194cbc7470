//! PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy: documents stored per
//! resource ARN (a stream's or a consumer's). The authorization layer evaluates them; the
//! engine only checks that a document is a JSON object with a Statement, and removes it
//! with its stream or consumer.

use tributary_model::types::*;
use tributary_model::*;
use tributary_storage::MetaError;

use crate::error::retry_stale;
use crate::error::{Failure, Outcome};
use crate::messages as msg;
use crate::meta::{self, ConsumerPhase, PolicyRecord, FORMAT_VERSION};
use crate::tags::Resource;
use crate::{Engine, RequestContext};

/// What GetResourcePolicy answers for a resource without a policy.
const NO_POLICY: &str = "{}";

impl Engine {
    pub async fn put_resource_policy(
        &self,
        ctx: &RequestContext,
        input: PutResourcePolicyInput,
    ) -> Result<(), PutResourcePolicyError> {
        retry_stale!(self.put_resource_policy_once(ctx, input.clone()).await)
    }

    async fn put_resource_policy_once(
        &self,
        ctx: &RequestContext,
        input: PutResourcePolicyInput,
    ) -> Result<(), PutResourcePolicyError> {
        let resource = self.resource(ctx, &input.resource_arn)?;
        validate_policy(&input.policy)?;
        let _control = self.control.lock().await;
        if let Resource::Consumer(entry, found) = &resource {
            let c = self.same_consumer(entry, found)?;
            if c.rec.status != ConsumerPhase::Active {
                return Err(Failure::InUse(msg::consumer_not_active(
                    &c.rec.name,
                    c.rec.created_ms.div_euclid(1000),
                    &entry.name,
                    &entry.account,
                ))
                .into());
            }
        }
        let arn = resource.arn().to_owned();
        let key = meta::policy_key(&arn);
        let value = meta::to_bytes(&PolicyRecord {
            v: FORMAT_VERSION,
            arn: arn.clone(),
            policy: input.policy.clone(),
        });
        let existing = self.policies.read().get(&arn).map(|(_, rev)| *rev);
        let written = match existing {
            Some(rev) => self.meta.update(&key, value, rev).await,
            None => self.meta.create(&key, value).await,
        };
        let revision = match written {
            Ok(r) => r,
            Err(e) => return Err(self.lost_race(&key, e).await.into()),
        };
        self.policies.write().insert(arn, (input.policy, revision));
        Ok(())
    }

    pub async fn get_resource_policy(
        &self,
        ctx: &RequestContext,
        input: GetResourcePolicyInput,
    ) -> Result<GetResourcePolicyOutput, GetResourcePolicyError> {
        let resource = self.resource(ctx, &input.resource_arn)?;
        let policy = self
            .policies
            .read()
            .get(resource.arn())
            .map_or_else(|| NO_POLICY.to_owned(), |(p, _)| p.clone());
        Ok(GetResourcePolicyOutput { policy })
    }

    pub async fn delete_resource_policy(
        &self,
        ctx: &RequestContext,
        input: DeleteResourcePolicyInput,
    ) -> Result<(), DeleteResourcePolicyError> {
        retry_stale!(self.delete_resource_policy_once(ctx, input.clone()).await)
    }

    async fn delete_resource_policy_once(
        &self,
        ctx: &RequestContext,
        input: DeleteResourcePolicyInput,
    ) -> Result<(), DeleteResourcePolicyError> {
        let resource = self.resource(ctx, &input.resource_arn)?;
        let _control = self.control.lock().await;
        if !self.policies.read().contains_key(resource.arn()) {
            return Err(Failure::NotFound(msg::no_resource_policy(resource.arn())).into());
        }
        self.drop_policy(resource.arn()).await?;
        Ok(())
    }

    /// The policy document attached to `arn`, for the authorization layer.
    pub fn resource_policy(&self, arn: &str) -> Option<String> {
        self.policies.read().get(arn).map(|(p, _)| p.clone())
    }

    /// Removes the policy of `arn`, if any.
    pub(crate) async fn drop_policy(&self, arn: &str) -> Outcome<()> {
        let Some(revision) = self.policies.read().get(arn).map(|(_, rev)| *rev) else {
            return Ok(());
        };
        let key = meta::policy_key(arn);
        match self.meta.delete(&key, Some(revision)).await {
            Ok(()) | Err(MetaError::NotFound) => self.tombstone(&key, revision),
            Err(e) => return Err(self.lost_race(&key, e).await),
        }
        self.policies.write().remove(arn);
        Ok(())
    }
}

/// A policy must be a JSON object with a Statement (one statement object or a list).
fn validate_policy(policy: &str) -> Outcome<()> {
    let invalid = |why: &str| {
        Err(Failure::InvalidArgument(format!(
            "Invalid policy document: {why}."
        )))
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return invalid("it is not valid JSON");
    };
    let Some(obj) = doc.as_object() else {
        return invalid("it is not a JSON object");
    };
    match obj.get("Statement") {
        Some(serde_json::Value::Array(s)) if !s.is_empty() && s.iter().all(|x| x.is_object()) => {
            Ok(())
        }
        Some(serde_json::Value::Object(_)) => Ok(()),
        Some(_) => invalid("Statement must be a statement object or a non-empty list of them"),
        None => invalid("it has no Statement"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_shape() {
        assert!(
            validate_policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}"#).is_ok()
        );
        assert!(validate_policy(r#"{"Statement":{"Effect":"Deny"}}"#).is_ok());
        assert!(validate_policy(r#"{"Statement":[]}"#).is_err());
        assert!(validate_policy(r#"{"Version":"2012-10-17"}"#).is_err());
        assert!(validate_policy(r#"[1]"#).is_err());
        assert!(validate_policy("not json").is_err());
    }
}
