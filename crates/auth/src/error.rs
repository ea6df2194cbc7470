//! The errors authentication and authorization answer, with AWS's codes. The messages are built
//! where the check is made (see `sigv4/verify.rs` and `actions.rs`) so each reads like AWS's.

/// The AWS error codes this crate produces. `as_str` is the `__type` the server sends; the
/// server maps it to its own `ErrorCode` in its one error-mapping file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthErrorCode {
    /// No `Authorization` header and no presigned query.
    MissingAuthenticationToken,
    /// The header or query is present but lacks a part, or a part is malformed.
    IncompleteSignature,
    /// Scope, clock skew, expiry or the HMAC itself is wrong.
    InvalidSignature,
    /// The access key (or its session token) is unknown.
    UnrecognizedClient,
    /// The temporary credential's session has ended.
    ExpiredToken,
    /// Authenticated, but no policy allows the action (or one denies it).
    AccessDenied,
}

impl AuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthErrorCode::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            AuthErrorCode::IncompleteSignature => "IncompleteSignatureException",
            AuthErrorCode::InvalidSignature => "InvalidSignatureException",
            AuthErrorCode::UnrecognizedClient => "UnrecognizedClientException",
            AuthErrorCode::ExpiredToken => "ExpiredTokenException",
            AuthErrorCode::AccessDenied => "AccessDeniedException",
        }
    }
}

impl std::fmt::Display for AuthErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authentication or authorization failure as the client should see it. The message never
/// contains a secret: at most the access key id and the request's own header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AuthError {
    pub code: AuthErrorCode,
    pub message: String,
}

impl AuthError {
    pub fn new(code: AuthErrorCode, message: impl Into<String>) -> Self {
        AuthError {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn missing_token() -> Self {
        Self::new(
            AuthErrorCode::MissingAuthenticationToken,
            "Missing Authentication Token",
        )
    }

    pub(crate) fn incomplete(message: impl Into<String>) -> Self {
        Self::new(AuthErrorCode::IncompleteSignature, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(AuthErrorCode::InvalidSignature, message)
    }

    /// AWS's answer when the HMAC does not match.
    pub(crate) fn signature_mismatch() -> Self {
        Self::invalid(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details.",
        )
    }

    /// AWS's answer for an unknown access key or a wrong session token.
    pub(crate) fn unrecognized_client() -> Self {
        Self::new(
            AuthErrorCode::UnrecognizedClient,
            "The security token included in the request is invalid.",
        )
    }

    pub(crate) fn expired_token() -> Self {
        Self::new(
            AuthErrorCode::ExpiredToken,
            "The security token included in the request is expired",
        )
    }
}
