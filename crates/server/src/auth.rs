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

use tributary_auth::actions::{self, ArnScope};
use tributary_auth::policy::{Context, Policy};
use tributary_auth::sigv4::{self, SignedRequest, VerifyConfig};
use tributary_auth::{AuthError, AuthErrorCode, Principal, StaticCredentialStore};
use tributary_engine::Engine;
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

pub fn authenticate(
    mode: &AuthMode,
    parts: &http::request::Parts,
    body: &[u8],
    conn: &ConnInfo,
) -> Result<Caller, ApiError> {
    let mut req = SignedRequest::from_http(parts, body);
    req.secure_transport = conn.tls;
    match mode {
        AuthMode::Open => sigv4::check_form(&req, &VerifyConfig::default())
            .map(|c| Caller {
                principal: None,
                region: c.region,
            })
            .map_err(api_error),
        AuthMode::Verify { store, config } => sigv4::verify(&req, store, config, now_secs())
            .map(|v| Caller {
                principal: Some(v.principal),
                region: v.region,
            })
            .map_err(api_error),
    }
}

/// Checks that the caller may run the operation on the resources its input names. Open mode
/// allows everything.
pub fn authorize(
    engine: &Engine,
    caller: &Caller,
    input: &Input,
    conn: &ConnInfo,
) -> Result<(), ApiError> {
    let Some(principal) = &caller.principal else {
        return Ok(());
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
        region: &caller.region,
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
    let context = Context::for_request(principal, now_secs(), Some(conn.peer.ip()), conn.tls);
    actions::authorize(principal, &needed, &context, |arn| {
        policies.iter().find(|(a, _)| a == arn).map(|(_, p)| p)
    })
    .map_err(api_error)
}

/// The one mapping from the auth crate's errors to AWS error codes.
fn api_error(e: AuthError) -> ApiError {
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

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
