//! The built-in key service on the Kinesis endpoint: `X-Amz-Target: TrentService.<Operation>`,
//! JSON 1.1, signed for the `kms` service. The operations themselves are
//! `tributary_kms::api`'s; this module authenticates, authorizes each action against the
//! caller's identity policies and the key's policy, and writes KMS's answers.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::json;
use tributary_auth::actions::access_denied_message;
use tributary_auth::policy::{Context, Decision, Policy, PolicyKind};
use tributary_kms::api::{self, KmsFailure, KmsOperation};
use tributary_kms::KeyScope;
use tributary_model::ApiError;

use crate::auth::{self, key_decision, ConnInfo, Service};
use crate::respond::{self, Body};
use crate::AppState;

/// The target's operation when it names the key service; `Some(None)` for a TrentService
/// operation this server does not know.
pub fn target(header: Option<&str>) -> Option<Option<KmsOperation>> {
    let op = header?
        .strip_prefix(api::TARGET_PREFIX)?
        .strip_prefix('.')?;
    Some(KmsOperation::from_name(op))
}

pub async fn answer(
    state: &AppState,
    parts: &http::request::Parts,
    op: Option<KmsOperation>,
    json_content: bool,
    body: Bytes,
) -> Response<Body> {
    match serve(state, parts, op, json_content, body).await {
        Ok(b) => respond::kms_body(StatusCode::OK, b),
        Err(f) => failure(&f),
    }
}

async fn serve(
    state: &AppState,
    parts: &http::request::Parts,
    op: Option<KmsOperation>,
    json_content: bool,
    body: Bytes,
) -> Result<Bytes, KmsFailure> {
    let Some(kms) = &state.kms else {
        // Reconstructed: AWS has no such state; the server says honestly why it refuses.
        return Err(KmsFailure {
            code: "UnsupportedOperationException",
            message: Some(
                "The built-in key service is not enabled on this server (see docs/kms.md)."
                    .to_string(),
            ),
            status: 400,
        });
    };
    // Every SDK sends KMS requests as JSON 1.1; anything else is not a KMS request.
    let Some(op) = op.filter(|_| json_content) else {
        return Err(KmsFailure {
            code: "UnknownOperationException",
            message: None,
            status: 400,
        });
    };
    let conn = parts
        .extensions
        .get::<ConnInfo>()
        .copied()
        .unwrap_or(ConnInfo {
            peer: ([127, 0, 0, 1], 0).into(),
            tls: false,
        });
    let caller = auth::authenticate(&state.auth, Service::Kms, parts, &body, &conn)
        .map_err(from_api_error)?;
    let req = api::parse(op, &body)?;
    let scope = KeyScope {
        account: caller.account(&state.account_id).to_string(),
        region: caller.region.clone(),
    };
    if let Some(principal) = &caller.principal {
        let mut context =
            Context::for_request(principal, auth::now_secs(), Some(conn.peer.ip()), conn.tls);
        context.set("kms:CallerAccount", principal.account_id.clone());
        for a in kms.authorizations(&scope, &req).await? {
            let parsed = a.key_policy.as_deref().map(Policy::parse_resource);
            let decision = match &parsed {
                // A stored key policy that does not parse denies: deciding without it would
                // hand the key to whatever the identity policies allow.
                Some(Err(e)) => {
                    tracing::warn!(key = %a.resource, error = %e, "stored key policy does not parse; denying");
                    Decision::ImplicitDeny(PolicyKind::Resource)
                }
                _ => key_decision(
                    principal,
                    &a.action,
                    &a.resource,
                    parsed.as_ref().and_then(|p| p.as_ref().ok()),
                    &context,
                ),
            };

            if !decision.is_allowed() {
                // KMS words its denials as IAM does (public reports quote "User: ARN is not
                // authorized to perform: kms:GenerateDataKey on resource: KEY_ARN because no
                // resource-based policy allows the kms:GenerateDataKey action").
                return Err(KmsFailure {
                    code: "AccessDeniedException",
                    message: Some(access_denied_message(
                        &principal.arn,
                        &a.action,
                        &a.resource,
                        decision,
                    )),
                    status: 400,
                });
            }
        }
    }
    kms.execute(&scope, req).await
}

/// Authentication failures keep their code and message; KMS sends them in its own JSON.
fn from_api_error(e: ApiError) -> KmsFailure {
    let status = e.status();
    KmsFailure {
        code: e.code.as_str(),
        message: e.message,
        status,
    }
}

/// KMS's error body: `{"__type": CODE, "message": TEXT}` (awsJson1_1).
fn failure(f: &KmsFailure) -> Response<Body> {
    if f.status >= 500 {
        tracing::warn!(code = f.code, message = ?f.message, "key service fault");
    }
    let mut body = json!({ "__type": f.code });
    if let Some(m) = &f.message {
        body["message"] = json!(m);
    }
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST);
    respond::kms_body(status, Bytes::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trent_service_targets_go_to_the_key_service() {
        assert_eq!(
            target(Some("TrentService.Encrypt")),
            Some(Some(KmsOperation::Encrypt))
        );
        assert_eq!(target(Some("TrentService.ReEncrypt")), Some(None));
        assert_eq!(target(Some("TrentServiceX.Encrypt")), None);
        assert_eq!(target(Some("Kinesis_20131202.PutRecord")), None);
        assert_eq!(target(None), None);
    }
}
