//! The HTTP front end of Tributary.
//!
//! - [`listener`]: accepts TCP connections, up to a limit, and serves HTTP/1.1 and h2c
//!   (prior knowledge) on the same port, or TLS with h2 and HTTP/1.1 by ALPN; graceful
//!   shutdown drains open connections.
//! - [`pipeline`]: one request from headers to response, in AWS's order of checks:
//!   CORS preflight, method, empty body, content type, body syntax, operation,
//!   authentication, model checks.
//! - [`auth`]: SigV4 authentication and IAM-style authorization (or, with no credentials
//!   configured, the form checks AWS makes before it verifies anything).
//! - [`dispatch`]: the exhaustive `Operation` match that calls the engine.
//! - [`observe`]: `GET /metrics`, `/health/live`, `/health/ready` and the request latency
//!   histograms; one debug log line per request (`pipeline`).
//! - [`kms`]: the built-in key service's `TrentService` API on the same endpoint.
//! - [`cors`]: the CORS preflight and headers AWS serves to browser clients.
//! - [`respond`]: response building, the single place where an [`ApiError`] becomes HTTP.
//! - [`subscribe`]: SubscribeToShard's event-stream response, paced by the peer.
//! - [`tls`]: rustls configuration, ALPN, certificate reload.
//!
//! [`ApiError`]: tributary_model::ApiError

pub mod auth;
pub mod cors;
pub mod dispatch;
pub mod kms;
pub mod listener;
pub mod observe;
pub mod pipeline;
pub mod respond;
pub mod subscribe;
pub mod tls;

use std::sync::Arc;

use tributary_engine::Engine;

/// Everything a request needs, shared by all connections.
pub struct AppState {
    pub engine: Arc<Engine>,
    /// Open (no credentials: form checks only) or verifying SigV4 and policies.
    pub auth: auth::AuthMode,
    /// Account that owns the resources of unsigned or unverified requests.
    pub account_id: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Answer CORS preflights and expose AWS's headers to other origins (`cors.rs`). Off,
    /// a preflight is refused like any OPTIONS request and browsers stop there.
    pub cors: bool,
    /// The built-in key service, served as `TrentService.*` on this endpoint; `None` when
    /// keys come from an external KMS or no root key is available (`docs/kms.md`).
    pub kms: Option<Arc<tributary_kms::LocalKms>>,
    /// The key service the engine encrypts through, for the key policies data-plane
    /// authorization reads.
    pub keys: Option<Arc<dyn tributary_kms::KeyService>>,
    /// Serve `GET /metrics` (`observe.rs`); off, a GET there is refused like any other.
    pub metrics_endpoint: bool,
    /// Request latency by operation and outcome, for `/metrics`.
    pub requests: observe::RequestMetrics,
}

pub use listener::serve;
