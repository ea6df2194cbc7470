//! IAM policy documents and their evaluation.
//!
//! - `parse.rs`: JSON to [`Policy`], with IAM-style messages for what is wrong (they become
//!   `PutResourcePolicy`'s `InvalidArgumentException`, or a startup error for a bad config);
//! - `condition.rs`: the `Condition` operators, set qualifiers and `...IfExists`;
//! - `eval.rs`: [`evaluate`], the decision for one action on one resource;
//! - `wildcard.rs`: `*` and `?` matching.

mod condition;
mod eval;
mod parse;
mod wildcard;

pub use condition::{Context, Operator, Qualifier};
pub use eval::{evaluate, evaluate_key_policy, Decision, PolicyKind, Request};

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `2012-10-17` (policy variables on) or `2008-10-17`; `None` when absent (variables off).
    pub version: Option<String>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

/// One statement: who (resource policies only), what, on which resources, when.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `Principal` or `NotPrincipal`; always `None` in identity policies.
    pub principal: Option<PrincipalMatch>,
    pub action: Match,
    pub resource: Match,
    /// Every condition must hold for the statement to apply.
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action`/`Resource` (a listed pattern matches) or `NotAction`/`NotResource` (none does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    Any(Vec<String>),
    Not(Vec<String>),
}

/// `Principal` or `NotPrincipal` of a resource-policy statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalMatch {
    Is(Principals),
    Not(Principals),
}

/// The principals a statement names. `"Principal": "*"` sets `everyone`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principals {
    pub everyone: bool,
    /// `AWS`: account ids, `arn:aws:iam::ACCOUNT:root`, user, role or assumed-role ARNs, `*`.
    pub aws: Vec<String>,
    /// `Service`, `Federated`, `CanonicalUser`: kept so policies round-trip; never match a
    /// signed-in IAM identity.
    pub other: Vec<(String, String)>,
}

/// One `"Operator": { "key": values }` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub operator: Operator,
    pub qualifier: Qualifier,
    pub if_exists: bool,
    /// The context key, as written (keys compare case-insensitively).
    pub key: String,
    pub values: Vec<String>,
}

/// Why a policy document was refused. The message reads like IAM's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    pub message: String,
}

impl PolicyError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        PolicyError {
            message: message.into(),
        }
    }
}

impl Policy {
    /// An identity-based policy (attached to a user): statements must not name a principal.
    pub fn parse_identity(json: &str) -> Result<Policy, PolicyError> {
        parse::parse(json, PolicyKind::Identity)
    }

    /// A resource-based policy (`PutResourcePolicy`): every statement names a principal.
    pub fn parse_resource(json: &str) -> Result<Policy, PolicyError> {
        parse::parse(json, PolicyKind::Resource)
    }

    /// Like the `parse_*` functions, from an already decoded JSON value (a config file).
    pub fn from_value(value: &serde_json::Value, kind: PolicyKind) -> Result<Policy, PolicyError> {
        parse::from_value(value, kind)
    }

    /// Whether `${aws:username}`-style variables are expanded (only in version 2012-10-17).
    pub(crate) fn has_variables(&self) -> bool {
        self.version.as_deref() == Some("2012-10-17")
    }
}
