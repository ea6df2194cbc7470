//! `Condition` operators and the request context they read.
//!
//! Semantics, as IAM documents them:
//! - a key missing from the context fails a positive operator and passes a negated one
//!   (`StringNotEquals`, `NotIpAddress`, …); `...IfExists` makes a missing key pass any operator;
//! - several values in the policy are alternatives (any may match);
//! - `ForAnyValue:` holds when some context value satisfies the operator, `ForAllValues:` when
//!   every one does (vacuously true for a missing key);
//! - `Null: true` holds when the key is missing, `Null: false` when it is present.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::wildcard::{arn_matches, matches};
use super::Condition;
use crate::credentials::Principal;
use crate::time::{format_iso8601, parse_policy_date};

/// A condition operator, without its qualifier or `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

/// The set qualifier in front of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

const NAMES: [(&str, Operator); 27] = {
    use Operator::*;
    [
        ("StringEquals", StringEquals),
        ("StringNotEquals", StringNotEquals),
        ("StringEqualsIgnoreCase", StringEqualsIgnoreCase),
        ("StringNotEqualsIgnoreCase", StringNotEqualsIgnoreCase),
        ("StringLike", StringLike),
        ("StringNotLike", StringNotLike),
        ("NumericEquals", NumericEquals),
        ("NumericNotEquals", NumericNotEquals),
        ("NumericLessThan", NumericLessThan),
        ("NumericLessThanEquals", NumericLessThanEquals),
        ("NumericGreaterThan", NumericGreaterThan),
        ("NumericGreaterThanEquals", NumericGreaterThanEquals),
        ("DateEquals", DateEquals),
        ("DateNotEquals", DateNotEquals),
        ("DateLessThan", DateLessThan),
        ("DateLessThanEquals", DateLessThanEquals),
        ("DateGreaterThan", DateGreaterThan),
        ("DateGreaterThanEquals", DateGreaterThanEquals),
        ("Bool", Bool),
        ("BinaryEquals", BinaryEquals),
        ("IpAddress", IpAddress),
        ("NotIpAddress", NotIpAddress),
        ("ArnEquals", ArnEquals),
        ("ArnLike", ArnLike),
        ("ArnNotEquals", ArnNotEquals),
        ("ArnNotLike", ArnNotLike),
        ("Null", Null),
    ]
};

impl Operator {
    /// `ForAnyValue:StringLikeIfExists` to its three parts; `None` for an unknown operator.
    pub fn parse(name: &str) -> Option<(Qualifier, Operator, bool)> {
        let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Qualifier::ForAnyValue, r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Qualifier::ForAllValues, r)
        } else {
            (Qualifier::Single, name)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let op = NAMES.iter().find(|(n, _)| *n == base)?.1;
        (!(if_exists && op == Operator::Null)).then_some((qualifier, op, if_exists))
    }

    /// The negated operators hold when their positive counterpart does not.
    fn negated(self) -> bool {
        use Operator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// The positive comparison of one context value with one policy value.
    fn compare(self, actual: &str, expected: &str) -> bool {
        use Operator::*;
        let num = |f: fn(f64, f64) -> bool| match (actual.parse::<f64>(), expected.parse::<f64>()) {
            (Ok(a), Ok(e)) => f(a, e),
            _ => false,
        };
        let date = |f: fn(i64, i64) -> bool| match (
            parse_policy_date(actual),
            parse_policy_date(expected),
        ) {
            (Some(a), Some(e)) => f(a, e),
            _ => false,
        };
        match self {
            StringEquals | StringNotEquals | BinaryEquals => actual == expected,
            StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
                actual.to_lowercase() == expected.to_lowercase()
            }
            StringLike | StringNotLike => matches(expected, actual, false),
            NumericEquals | NumericNotEquals => num(|a, e| a == e),
            NumericLessThan => num(|a, e| a < e),
            NumericLessThanEquals => num(|a, e| a <= e),
            NumericGreaterThan => num(|a, e| a > e),
            NumericGreaterThanEquals => num(|a, e| a >= e),
            DateEquals | DateNotEquals => date(|a, e| a == e),
            DateLessThan => date(|a, e| a < e),
            DateLessThanEquals => date(|a, e| a <= e),
            DateGreaterThan => date(|a, e| a > e),
            DateGreaterThanEquals => date(|a, e| a >= e),
            Bool => actual.eq_ignore_ascii_case(expected),
            IpAddress | NotIpAddress => ip_in(actual, expected),
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => arn_matches(expected, actual),
            Null => false,
        }
    }
}

/// Whether `ip` lies in `cidr` (`203.0.113.0/24`, `2001:db8::/32`, or a single address).
fn ip_in(ip: &str, cidr: &str) -> bool {
    let (net, bits) = match cidr.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let (Ok(ip), Ok(net)) = (ip.parse::<IpAddr>(), net.parse::<IpAddr>()) else {
        return false;
    };
    let to_bits = |a: IpAddr| match a {
        IpAddr::V4(v) => (u128::from(u32::from(v)) << 96, 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    };
    let ((a, width), (n, net_width)) = (to_bits(ip), to_bits(net));
    let bits = bits.unwrap_or(width);
    if width != net_width || bits > width {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - bits)
    };
    a & mask == n & mask
}

/// The request context: condition keys (compared case-insensitively) and their values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: BTreeMap<String, Vec<String>>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// The global keys every request has: `aws:CurrentTime`, `aws:EpochTime`,
    /// `aws:SecureTransport`, `aws:SourceIp` (when known), `aws:username`, `aws:userid`,
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`.
    pub fn for_request(
        principal: &Principal,
        now: i64,
        source_ip: Option<IpAddr>,
        secure_transport: bool,
    ) -> Self {
        let mut ctx = Context::new();
        ctx.set("aws:CurrentTime", format_iso8601(now))
            .set("aws:EpochTime", now.to_string())
            .set("aws:SecureTransport", secure_transport.to_string())
            .set("aws:PrincipalArn", principal.arn.clone())
            .set("aws:PrincipalAccount", principal.account_id.clone())
            .set("aws:userid", principal.access_key.clone());
        if !principal.name.is_empty() {
            ctx.set("aws:username", principal.name.clone())
                .set("aws:PrincipalType", "User");
        }
        if let Some(ip) = source_ip {
            ctx.set("aws:SourceIp", ip.to_string());
        }
        ctx
    }

    /// Sets a single-valued key, replacing what it had.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.values
            .insert(key.to_ascii_lowercase(), vec![value.into()]);
        self
    }

    /// Sets a multi-valued key (`aws:TagKeys`, …).
    pub fn set_all(&mut self, key: &str, values: Vec<String>) -> &mut Self {
        self.values.insert(key.to_ascii_lowercase(), values);
        self
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

/// Expands `${key}` policy variables from the context (`${*}`, `${?}`, `${$}` are the literal
/// characters). `None` when a variable has no single value: the pattern then matches nothing,
/// as on AWS.
pub(crate) fn expand(pattern: &str, ctx: &Context) -> Option<String> {
    if !pattern.contains("${") {
        return Some(pattern.to_string());
    }
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        match &after[..end] {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            key => match ctx.get(key) {
                Some([v]) => out.push_str(v),
                _ => return None,
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Whether `cond` holds in `ctx`.
pub(crate) fn holds(cond: &Condition, ctx: &Context, variables: bool) -> bool {
    let present = ctx.get(&cond.key).filter(|v| !v.is_empty());
    if cond.operator == Operator::Null {
        let want_missing = cond.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        return present.is_none() == want_missing;
    }
    let negated = cond.operator.negated();
    let Some(actual) = present else {
        return cond.if_exists
            || match cond.qualifier {
                Qualifier::ForAllValues => true,
                Qualifier::ForAnyValue => false,
                Qualifier::Single => negated,
            };
    };
    let expected: Vec<String> = if variables {
        cond.values.iter().filter_map(|v| expand(v, ctx)).collect()
    } else {
        cond.values.clone()
    };
    let positive = |a: &String| expected.iter().any(|e| cond.operator.compare(a, e));
    match cond.qualifier {
        Qualifier::Single => actual.iter().any(positive) != negated,
        Qualifier::ForAnyValue => actual.iter().any(|a| positive(a) != negated),
        Qualifier::ForAllValues => actual.iter().all(|a| positive(a) != negated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names() {
        assert_eq!(
            Operator::parse("StringLike"),
            Some((Qualifier::Single, Operator::StringLike, false))
        );
        assert_eq!(
            Operator::parse("ForAllValues:StringEqualsIgnoreCaseIfExists"),
            Some((
                Qualifier::ForAllValues,
                Operator::StringEqualsIgnoreCase,
                true
            ))
        );
        assert_eq!(Operator::parse("NullIfExists"), None);
        assert_eq!(Operator::parse("StringSorta"), None);
    }

    #[test]
    fn cidrs() {
        assert!(ip_in("203.0.113.7", "203.0.113.0/24"));
        assert!(!ip_in("203.0.114.7", "203.0.113.0/24"));
        assert!(ip_in("10.1.2.3", "0.0.0.0/0"));
        assert!(ip_in("10.1.2.3", "10.1.2.3"));
        assert!(ip_in("2001:db8::1", "2001:db8::/32"));
        assert!(!ip_in("2001:db8::1", "10.0.0.0/8"));
        assert!(!ip_in("10.0.0.1", "10.0.0.0/33"));
        assert!(!ip_in("nonsense", "10.0.0.0/8"));
    }

    #[test]
    fn variables() {
        let mut ctx = Context::new();
        ctx.set("aws:username", "alice");
        assert_eq!(
            expand("stream/${aws:username}-*", &ctx).as_deref(),
            Some("stream/alice-*")
        );
        assert_eq!(expand("a${*}b${?}${$}", &ctx).as_deref(), Some("a*b?$"));
        assert_eq!(expand("stream/${aws:nothing}", &ctx), None);
        assert_eq!(expand("stream/${aws:username", &ctx), None);
    }
}
