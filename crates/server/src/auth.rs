//! Who is calling, and may they. Authentication comes before the body is trusted;
//! authorization after the input is checked, because it needs the resource names in it.
//!
//! - [`AuthMode::Open`] (no credentials configured, the local default): the request must
//!   still carry a well-formed `Authorization` header or presigned query, as on AWS, but no
//!   signature is verified and every request acts for the configured account.
//! - [`AuthMode::Verify`]: SigV4 is verified against the configured keys, and every
//!   operation is authorized against the caller's identity policies and the resource's
//!   policy (explicit deny wins, nothing is allowed unless something allows it).

use std::net::SocketAddr;

use std::sync::Arc;
use tributary_auth::actions::{self, ArnScope};
use tributary_auth::policy::{evaluate_key_policy, Context, Decision, Policy, PolicyKind, Request};
use tributary_auth::sigv4::{self, SignedRequest, VerifyConfig};
use tributary_auth::{AuthError, AuthErrorCode, Principal, StaticCredentialStore};

use futures::future::{BoxFuture, FutureExt};
use tributary_engine::{Engine, KeyAccess, KeyAccessCheck, KeyUsage};
use tributary_kms::KeyService;
use tributary_model::{ApiError, ErrorCode};
use tributary_protocol::Input;

pub enum AuthMode {
    Open,
    Verify {
        store: StaticCredentialStore,
        config: VerifyConfig,
    },
}

/// What the connection tells about a request: put in the request's extensions by the
/// listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub tls: bool,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The verified principal; `None` in open mode.
    pub principal: Option<Principal>,
    /// The region of the credential scope.
    pub region: String,
}

impl Caller {
    /// The account whose resources the request addresses by name.
    pub fn account<'a>(&'a self, open_account: &'a str) -> &'a str {
        self.principal
            .as_ref()
            .map_or(open_account, |p| p.account_id.as_str())
    }
}

/// The service a request's credential scope must name: Kinesis, or the built-in key service
/// that shares the endpoint (`TrentService.*` targets, signed for `kms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Kinesis,
    Kms,
}

pub fn authenticate(
    mode: &AuthMode,
    service: Service,
    parts: &http::request::Parts,
    body: &[u8],
    conn: &ConnInfo,
) -> Result<Caller, ApiError> {
    let mut req = SignedRequest::from_http(parts, body);
    req.secure_transport = conn.tls;
    fn for_service(config: &VerifyConfig, service: Service) -> std::borrow::Cow<'_, VerifyConfig> {
        match service {
            Service::Kinesis => std::borrow::Cow::Borrowed(config),
            Service::Kms => std::borrow::Cow::Owned(VerifyConfig {
                service: "kms".to_string(),
                ..config.clone()
            }),
        }
    }
    match mode {
        AuthMode::Open => sigv4::check_form(&req, &for_service(&VerifyConfig::default(), service))
            .map(|c| Caller {
                principal: None,
                region: c.region,
            })
            .map_err(api_error),
        AuthMode::Verify { store, config } => {
            sigv4::verify(&req, store, &for_service(config, service), now_secs())
                .map(|v| Caller {
                    principal: Some(v.principal),
                    region: v.region,
                })
                .map_err(api_error)
        }
    }
}

/// Checks that the verified `principal` (`None` in open mode, which allows everything) may
/// run the operation on the resources its input names. Returns what the engine asks, on
/// encrypted streams, before using a KMS key for the caller; it takes the principal over
/// rather than copying its policies on every request.
pub fn authorize(
    engine: &Engine,
    keys: Option<&Arc<dyn KeyService>>,
    principal: Option<tributary_auth::Principal>,
    region: &str,
    input: &Input,
    conn: &ConnInfo,
) -> Result<Option<KeyAccess>, ApiError> {
    let Some(principal) = principal else {
        return Ok(None);
    };
    let op = input.operation();
    let mut ids = input.resources();
    // GetRecords names no stream: the iterator carries it.
    let iterator_stream = ids
        .shard_iterator
        .and_then(|it| engine.shard_iterator_stream_arn(it));
    ids.stream_arn = ids.stream_arn.or(iterator_stream.as_deref());
    let scope = ArnScope {
        partition: "aws",
        region,
        account_id: &principal.account_id,
    };
    let needed = actions::authorizations(op, &ids, &scope);
    // Resource policies are stored as text; parsed per request (they are rare and small).
    let policies: Vec<(String, Policy)> = needed
        .iter()
        .filter_map(|a| {
            let text = engine.resource_policy(&a.resource)?;
            match Policy::parse_resource(&text) {
                Ok(p) => Some((a.resource.clone(), p)),
                Err(e) => {
                    tracing::warn!(resource = %a.resource, error = %e, "stored resource policy does not parse; ignored");
                    None
                }
            }
        })
        .collect();
    let context = Context::for_request(&principal, now_secs(), Some(conn.peer.ip()), conn.tls);
    actions::authorize(&principal, &needed, &context, |arn| {
        policies.iter().find(|(a, _)| a == arn).map(|(_, p)| p)
    })
    .map_err(api_error)?;
    Ok(Some(KeyAccess(Arc::new(CallerKeys {
        principal,
        context,
        keys: keys.cloned(),
    }))))
}

/// A verified caller's use of KMS keys, which the engine asks about each key at the point of
/// use: writers need `kms:GenerateDataKey` and readers `kms:Decrypt` on the key (AWS's
/// "Permissions to use user-generated KMS keys" in the Kinesis Developer Guide names exactly
/// these two), under the caller's identity policies and the key's policy.
struct CallerKeys {
    principal: tributary_auth::Principal,
    context: Context,
    keys: Option<Arc<dyn KeyService>>,
}

impl KeyAccessCheck for CallerKeys {
    fn check<'a>(
        &'a self,
        usage: KeyUsage,
        stream_arn: &'a str,
        key_arn: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        async move {
            let action = match usage {
                KeyUsage::GenerateDataKey => "kms:GenerateDataKey",
                KeyUsage::Decrypt => "kms:Decrypt",
            };
            let denied = || match usage {
                // AWS's message as a public report quotes it (serverless-apigateway-service-
                // proxy issue 101).
                KeyUsage::GenerateDataKey => format!(
                    "User: {} is not authorized to perform: {action} on resource: {key_arn}",
                    self.principal.arn
                ),
                // "User ... is not authorized to decrypt records in stream ..." (spring-cloud-
                // stream-binder-aws-kinesis pull request 188, names elided there: the ARN
                // forms are reconstructed).
                KeyUsage::Decrypt => format!(
                    "User {} is not authorized to decrypt records in stream {stream_arn}",
                    self.principal.arn
                ),
            };
            // A key policy that cannot be read or parsed denies: deciding without it would
            // hand the key to whatever the identity policies allow.
            let key_policy = match &self.keys {
                Some(keys) => match keys.key_policy(key_arn).await {
                    Ok(Some(text)) => match Policy::parse_resource(&text) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            tracing::warn!(key = %key_arn, error = %e, "stored key policy does not parse; denying");
                            return Err(denied());
                        }
                    },
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(key = %key_arn, error = %e, "reading a key policy failed; denying");
                        return Err(denied());
                    }
                },
                None => None,
            };
            // Kinesis uses the key on the caller's behalf: KMS sees the request come through
            // the service (`kms:ViaService`, which the AWS managed key's policy asks for) from
            // the caller's account (AWS KMS Developer Guide, "kms:ViaService",
            // "kms:CallerAccount").
            let mut context = self.context.clone();
            let region = stream_arn.split(':').nth(3).unwrap_or_default();
            context
                .set("kms:ViaService", format!("kinesis.{region}.amazonaws.com"))
                .set("kms:CallerAccount", self.principal.account_id.clone());
            let decision =
                key_decision(&self.principal, action, key_arn, key_policy.as_ref(), &context);
            if decision.is_allowed() {
                Ok(())
            } else {
                Err(denied())
            }
        }
        .boxed()
    }
}

/// The decision for one KMS action on one key: with the key's policy when the key service
/// keeps one (the built-in one), else the caller's identity policies alone (an external KMS
/// enforces its own key policies when the engine calls it).
pub fn key_decision(
    principal: &tributary_auth::Principal,
    action: &str,
    key_arn: &str,
    key_policy: Option<&Policy>,
    context: &Context,
) -> Decision {
    let request = Request {
        principal,
        action,
        resource: key_arn,
        context,
    };
    match key_policy {
        Some(kp) => evaluate_key_policy(&request, &principal.policies, kp),
        None => {
            let d = tributary_auth::policy::evaluate(&request, &principal.policies, None);
            match d {
                Decision::ImplicitDeny(_) => Decision::ImplicitDeny(PolicyKind::Identity),
                other => other,
            }
        }
    }
}

/// The one mapping from the auth crate's errors to AWS error codes.
pub(crate) fn api_error(e: AuthError) -> ApiError {
    let code = match e.code {
        AuthErrorCode::MissingAuthenticationToken => ErrorCode::MissingAuthenticationTokenException,
        AuthErrorCode::IncompleteSignature => ErrorCode::IncompleteSignatureException,
        AuthErrorCode::InvalidSignature => ErrorCode::InvalidSignatureException,
        AuthErrorCode::UnrecognizedClient => ErrorCode::UnrecognizedClientException,
        AuthErrorCode::ExpiredToken => ErrorCode::ExpiredTokenException,
        AuthErrorCode::AccessDenied => ErrorCode::AccessDeniedException,
    };
    ApiError::new(code, e.message)
}

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
