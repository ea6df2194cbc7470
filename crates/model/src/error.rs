//! The one error every layer hands upward: an AWS error code and its message.

use crate::generated::errors::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: Some(message.into()),
        }
    }

    /// An error AWS sends with no message at all (for example a body that is not JSON).
    pub fn bare(code: ErrorCode) -> Self {
        ApiError {
            code,
            message: None,
        }
    }

    /// The HTTP status AWS uses for this error: 500 for faults, the protocol's own status
    /// for protocol errors, 400 for every other exception in the model.
    pub fn status(&self) -> u16 {
        if let Some(s) = self.code.protocol_status() {
            s
        } else if self.code.is_fault() {
            500
        } else {
            400
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {}", self.code.as_str(), m),
            None => f.write_str(self.code.as_str()),
        }
    }
}

impl std::error::Error for ApiError {}
