//! Sans-IO authentication and authorization for the Kinesis API: bytes and strings in, verdicts
//! out. No sockets, no async, no clock: the caller passes the request and the current time.
//!
//! - [`sigv4`]: AWS Signature Version 4, from the `Authorization` header or a presigned query
//!   string, down to a verified [`Principal`] and the region of the credential scope. It also
//!   signs ([`sigv4::sign`], [`sigv4::presign`]) so tests and tools can make requests.
//!   - `sigv4/header.rs` and `sigv4/presign.rs` parse the two forms;
//!   - `sigv4/canonical.rs` builds the canonical request;
//!   - `sigv4/signing.rs` holds the key chain, the string to sign and the constant-time compare;
//!   - `sigv4/verify.rs` runs the checks in AWS's order and picks AWS's error for each.
//! - [`credentials`]: the [`CredentialStore`] trait, [`Secret`] (zeroized on drop, never in
//!   `Debug`), [`Credential`] and [`Principal`].
//! - [`policy`]: IAM policy documents (parse with AWS-style errors) and their evaluation:
//!   explicit deny wins, identity and resource policies, cross-account rules, conditions.
//! - [`actions`]: each Kinesis operation to its IAM action(s) and resource ARN(s), and the
//!   `AccessDeniedException` message AWS sends.
//! - [`error`]: [`AuthError`] with AWS's error codes and messages.
//! - `time`: the few UTC date conversions SigV4 and date conditions need.
//!
//! The server calls [`sigv4::verify`] (or [`sigv4::check_form`] when no credentials are
//! configured), then [`actions::authorizations`] and [`policy::evaluate`] for each pair, and
//! answers [`actions::access_denied_message`] on a denial.

pub mod actions;
pub mod credentials;
pub mod error;
pub mod policy;
pub mod sigv4;
mod time;

pub use credentials::{Credential, CredentialStore, Principal, Secret, StaticCredentialStore};
pub use error::{AuthError, AuthErrorCode};
pub use time::{format_amz_date, parse_amz_date};
