//! Why a key-service operation failed, before it is told to an API caller (as a
//! [`crate::api::KmsFailure`]) or to the engine (as a [`crate::KeyError`]). Each message is
//! KMS's own where its source is given beside the constructor.

use crate::api::KmsFailure;
use crate::KeyError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    NotFound(String),
    Disabled(String),
    InvalidState(String),
    InvalidCiphertext,
    AlreadyExists(String),
    InvalidAliasName(String),
    NotAuthorized,
    InvalidArn(String),
    Unsupported(String),
    Validation(String),
    /// The body is not the operation's JSON (or a blob is not base64).
    Serialization,
    /// KMS sends most of these without a message.
    MalformedPolicy(Option<String>),
    InvalidMarker(String),
    /// The MetaStore failed or a record is unreadable; the detail is logged, not sent.
    Internal(String),
}

impl Fault {
    /// Source: nsmithuk/local-kms src/handler/helpers.go (a KMS emulator written against
    /// KMS's answers): "Key '<key ARN>' does not exist".
    pub fn key_not_found(arn: &str) -> Fault {
        Fault::NotFound(format!("Key '{arn}' does not exist"))
    }

    /// Source: nsmithuk/local-kms src/handler/helpers.go: "Alias <alias ARN> is not found.".
    pub fn alias_not_found(arn: &str) -> Fault {
        Fault::NotFound(format!("Alias {arn} is not found."))
    }

    /// Source: AWS, EBS CloudWatch event example in the EBS user guide ("cause": "<key ARN>
    /// is pending deletion.") and local-kms for "is disabled.".
    pub fn disabled(arn: &str) -> Fault {
        Fault::Disabled(format!("{arn} is disabled."))
    }

    pub fn pending_deletion(arn: &str) -> Fault {
        Fault::InvalidState(format!("{arn} is pending deletion."))
    }

    /// Reconstructed: CancelKeyDeletion of a key that is not pending deletion.
    pub fn not_pending_deletion(arn: &str) -> Fault {
        Fault::InvalidState(format!("{arn} is not pending deletion."))
    }

    /// Reconstructed: KMS refuses to change the state of an AWS managed key.
    pub fn aws_managed(arn: &str) -> Fault {
        Fault::Unsupported(format!(
            "{arn} is an AWS managed key and cannot be modified."
        ))
    }

    pub fn internal(detail: impl std::fmt::Display) -> Fault {
        Fault::Internal(detail.to_string())
    }

    pub fn into_key_error(self) -> KeyError {
        match self {
            Fault::NotFound(m) | Fault::InvalidArn(m) => KeyError::NotFound(m),
            Fault::Disabled(m) => KeyError::Disabled(m),
            Fault::InvalidState(m) => KeyError::InvalidState(m),
            Fault::InvalidCiphertext | Fault::Serialization => {
                KeyError::InvalidCiphertext(String::new())
            }
            Fault::NotAuthorized => KeyError::AccessDenied(String::new()),
            Fault::Internal(m) => KeyError::Unavailable(m),
            Fault::AlreadyExists(m)
            | Fault::InvalidAliasName(m)
            | Fault::Unsupported(m)
            | Fault::Validation(m)
            | Fault::InvalidMarker(m) => KeyError::InvalidState(m),
            Fault::MalformedPolicy(m) => KeyError::InvalidState(m.unwrap_or_default()),
        }
    }

    /// The one place a fault becomes an AWS error code (codes: botocore's KMS model,
    /// model/kms.json; all are HTTP 400 except the internal error).
    pub fn into_failure(self) -> KmsFailure {
        let (code, message, status) = match self {
            Fault::NotFound(m) => ("NotFoundException", Some(m), 400),
            Fault::Disabled(m) => ("DisabledException", Some(m), 400),
            Fault::InvalidState(m) => ("KMSInvalidStateException", Some(m), 400),
            // KMS sends this one without a message (the AWS CLI prints "An error occurred
            // (InvalidCiphertextException) when calling the Decrypt operation: ").
            Fault::InvalidCiphertext => ("InvalidCiphertextException", None, 400),
            Fault::AlreadyExists(m) => ("AlreadyExistsException", Some(m), 400),
            Fault::InvalidAliasName(m) => ("InvalidAliasNameException", Some(m), 400),
            // Source: local-kms create_alias.go answers an alias/aws/ name without a message.
            Fault::NotAuthorized => ("NotAuthorizedException", None, 400),
            Fault::InvalidArn(m) => ("InvalidArnException", Some(m), 400),
            Fault::Unsupported(m) => ("UnsupportedOperationException", Some(m), 400),
            Fault::Validation(m) => ("ValidationException", Some(m), 400),
            // Coral's texts for a body it cannot read vary with the parser's complaint; the
            // message is left out (reconstructed).
            Fault::Serialization => ("SerializationException", None, 400),
            Fault::MalformedPolicy(m) => ("MalformedPolicyDocumentException", m, 400),
            Fault::InvalidMarker(m) => ("InvalidMarkerException", Some(m), 400),
            Fault::Internal(detail) => {
                tracing::warn!(%detail, "KMS request failed inside the key service");
                ("KMSInternalException", None, 500)
            }
        };
        KmsFailure {
            code,
            message,
            status,
        }
    }
}
