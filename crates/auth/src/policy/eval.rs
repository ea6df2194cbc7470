//! The decision for one action on one resource, following IAM's evaluation logic for identity-
//! and resource-based policies:
//!
//! 1. an explicit `Deny` in any applicable statement wins (identity policies are looked at
//!    first, so the message names them when both deny);
//! 2. same account: allowed when an identity policy allows, or when the resource policy allows
//!    this principal by its own ARN (a grant to the account, `arn:aws:iam::ACCOUNT:root` or the
//!    bare id, only delegates to the account's identity policies);
//! 3. cross account: allowed only when the resource policy grants the caller (by ARN or by its
//!    account) *and* the caller's identity policy allows;
//! 4. otherwise denied ("implicit deny").

use super::condition::{expand, holds, Context};
use super::wildcard::matches;
use super::{Effect, Match, Policy, PrincipalMatch, Principals, Statement};
use crate::credentials::Principal;

/// Which kind of policy a decision is about; part of AWS's AccessDenied wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Identity,
    Resource,
}

impl PolicyKind {
    /// `identity-based` / `resource-based`, as in AWS's messages.
    pub fn label(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity-based",
            PolicyKind::Resource => "resource-based",
        }
    }
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A `Deny` statement of this kind of policy applied.
    ExplicitDeny(PolicyKind),
    /// Nothing allowed it; the kind names the policy whose allow was missing.
    ImplicitDeny(PolicyKind),
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// One authorization question.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// `kinesis:PutRecords`.
    pub action: &'a str,
    /// `arn:aws:kinesis:us-east-1:111122223333:stream/s`, or `*` for account-wide actions.
    pub resource: &'a str,
    pub context: &'a Context,
}

/// How a resource policy named the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Via {
    Account,
    Direct,
}

/// Decides `req` given the caller's identity policies and the resource's policy, if any.
pub fn evaluate(
    req: &Request<'_>,
    identity_policies: &[Policy],
    resource_policy: Option<&Policy>,
) -> Decision {
    let identity = || {
        identity_policies
            .iter()
            .flat_map(|p| p.statements.iter().map(move |s| (p, s)))
    };
    let resource = || {
        resource_policy
            .into_iter()
            .flat_map(|p| p.statements.iter().map(move |s| (p, s)))
    };

    if identity().any(|(p, s)| s.effect == Effect::Deny && applies(p, s, req)) {
        return Decision::ExplicitDeny(PolicyKind::Identity);
    }
    if resource().any(|(p, s)| s.effect == Effect::Deny && granted(p, s, req).is_some()) {
        return Decision::ExplicitDeny(PolicyKind::Resource);
    }

    let identity_allows = identity().any(|(p, s)| s.effect == Effect::Allow && applies(p, s, req));
    let grant = resource()
        .filter(|(_, s)| s.effect == Effect::Allow)
        .filter_map(|(p, s)| granted(p, s, req))
        .max();

    let same_account =
        resource_account(req.resource).is_none_or(|account| account == req.principal.account_id);
    if same_account {
        if identity_allows || grant == Some(Via::Direct) {
            Decision::Allow
        } else {
            Decision::ImplicitDeny(PolicyKind::Identity)
        }
    } else {
        match (identity_allows, grant.is_some()) {
            (true, true) => Decision::Allow,
            (false, _) => Decision::ImplicitDeny(PolicyKind::Identity),
            (true, false) => Decision::ImplicitDeny(PolicyKind::Resource),
        }
    }
}

/// Decides `req` on a KMS key, whose key policy is required rather than optional: KMS lets
/// nothing through that the key policy does not allow, either to the caller by name or to
/// its account, and an account grant (the default key policy's "Enable IAM User Permissions"
/// statement, `arn:aws:iam::ACCOUNT:root`) only hands the decision to the caller's identity
/// policies. Source: AWS KMS Developer Guide, "Key policies in AWS KMS" and "Default key
/// policy". An explicit deny anywhere wins, identity policies named first as in [`evaluate`].
pub fn evaluate_key_policy(
    req: &Request<'_>,
    identity_policies: &[Policy],
    key_policy: &Policy,
) -> Decision {
    let identity = || {
        identity_policies
            .iter()
            .flat_map(|p| p.statements.iter().map(move |s| (p, s)))
    };
    let key = || key_policy.statements.iter().map(|s| (key_policy, s));
    if identity().any(|(p, s)| s.effect == Effect::Deny && applies(p, s, req)) {
        return Decision::ExplicitDeny(PolicyKind::Identity);
    }
    if key().any(|(p, s)| s.effect == Effect::Deny && granted(p, s, req).is_some()) {
        return Decision::ExplicitDeny(PolicyKind::Resource);
    }
    let grant = key()
        .filter(|(_, s)| s.effect == Effect::Allow)
        .filter_map(|(p, s)| granted(p, s, req))
        .max();
    let identity_allows = identity().any(|(p, s)| s.effect == Effect::Allow && applies(p, s, req));
    match grant {
        Some(Via::Direct) => Decision::Allow,
        Some(Via::Account) if identity_allows => Decision::Allow,
        Some(Via::Account) => Decision::ImplicitDeny(PolicyKind::Identity),
        None => Decision::ImplicitDeny(PolicyKind::Resource),
    }
}

/// The account of an ARN (`arn:partition:service:region:ACCOUNT:resource`).
fn resource_account(resource: &str) -> Option<&str> {
    let mut parts = resource.splitn(6, ':');
    (parts.next() == Some("arn"))
        .then(|| parts.nth(3))
        .flatten()
}

/// Action, resource and conditions of `s` all match.
fn applies(policy: &Policy, s: &Statement, req: &Request<'_>) -> bool {
    let variables = policy.has_variables();
    let action_ok = match &s.action {
        Match::Any(list) => list.iter().any(|a| matches(a, req.action, true)),
        Match::Not(list) => !list.iter().any(|a| matches(a, req.action, true)),
    };
    let resource_hit = |pattern: &String| {
        let pattern = if variables {
            expand(pattern, req.context)
        } else {
            Some(pattern.clone())
        };
        pattern.is_some_and(|p| matches(&p, req.resource, false))
    };
    let resource_ok = match &s.resource {
        Match::Any(list) => list.iter().any(resource_hit),
        Match::Not(list) => !list.iter().any(resource_hit),
    };
    action_ok
        && resource_ok
        && s.conditions
            .iter()
            .all(|c| holds(c, req.context, variables))
}

/// For a resource-policy statement: whether it applies to this caller, and how it names them.
fn granted(policy: &Policy, s: &Statement, req: &Request<'_>) -> Option<Via> {
    if !applies(policy, s, req) {
        return None;
    }
    match s.principal.as_ref()? {
        PrincipalMatch::Is(p) => names(p, req.principal),
        PrincipalMatch::Not(p) => names(p, req.principal).is_none().then_some(Via::Direct),
    }
}

/// How `principals` names `who`, if it does.
fn names(principals: &Principals, who: &Principal) -> Option<Via> {
    if principals.everyone {
        return Some(Via::Direct);
    }
    // Sessions of an assumed role are named by the role's ARN.
    let role = who
        .arn
        .split_once(":assumed-role/")
        .and_then(|(head, tail)| {
            let account = head.rsplit(':').next()?;
            let name = tail.split('/').next()?;
            Some(format!("arn:aws:iam::{account}:role/{name}"))
        });
    principals
        .aws
        .iter()
        .filter_map(|p| {
            if p == "*" || *p == who.arn || role.as_deref() == Some(p.as_str()) {
                Some(Via::Direct)
            } else if *p == who.account_id || *p == format!("arn:aws:iam::{}:root", who.account_id)
            {
                Some(Via::Account)
            } else {
                None
            }
        })
        .max()
}
