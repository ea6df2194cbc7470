//! The presigned form: the signature travels in the query string.
//!
//! ```text
//! ?Action=…&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2F…
//!  &X-Amz-Date=20150830T123600Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host
//!  [&X-Amz-Security-Token=…]&X-Amz-Signature=…
//! ```
//!
//! Every parameter but `X-Amz-Signature` is itself part of the canonical query.

use super::signing::ALGORITHM;
use super::{canonical::query_pairs, Parsed, SignedRequest};
use crate::error::AuthError;

/// AWS's upper bound for `X-Amz-Expires`: seven days.
pub(crate) const MAX_EXPIRES: i64 = 604_800;

/// True when the query carries `X-Amz-Algorithm`, which is what makes a request presigned.
pub(crate) fn is_presigned(query: Option<&str>) -> bool {
    query.is_some_and(|q| query_pairs(q).any(|(k, _)| k == b"X-Amz-Algorithm"))
}

pub(crate) fn parse(query: &str, req: &SignedRequest<'_>) -> Result<Parsed, AuthError> {
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = query_pairs(query).collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .filter(|v| !v.is_empty())
    };

    let required = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ];
    let mut missing = String::new();
    for name in required {
        if get(name).is_none() {
            missing.push_str(&format!(
                "AWS query-string parameters must include '{name}'. "
            ));
        }
    }
    if !missing.is_empty() {
        missing.push_str("Re-examine the query-string parameters.");
        return Err(AuthError::incomplete(missing));
    }
    let algorithm = get("X-Amz-Algorithm").unwrap_or_default();
    if algorithm != ALGORITHM {
        return Err(AuthError::incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'."
        )));
    }

    // S3's wording for the expiry checks: the only AWS wording there is.
    let expires = match get("X-Amz-Expires") {
        None => None,
        Some(v) => {
            let n: i64 = v
                .parse()
                .map_err(|_| AuthError::incomplete("X-Amz-Expires should be a number"))?;
            if n < 0 {
                return Err(AuthError::incomplete("X-Amz-Expires must be non-negative"));
            }
            if n > MAX_EXPIRES {
                return Err(AuthError::incomplete(format!(
                    "X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}"
                )));
            }
            Some(n)
        }
    };

    Ok(Parsed {
        algorithm,
        credential: get("X-Amz-Credential").unwrap_or_default(),
        signed_headers: get("X-Amz-SignedHeaders").unwrap_or_default(),
        signature: get("X-Amz-Signature").unwrap_or_default(),
        date: get("X-Amz-Date").unwrap_or_default(),
        date_is_http: false,
        token: get("X-Amz-Security-Token")
            .or_else(|| req.header("x-amz-security-token").map(str::to_string)),
        expires,
        presigned: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_q(q: &str) -> Result<Parsed, AuthError> {
        parse(q, &SignedRequest::new("GET", "/", Some(q), &[], b""))
    }

    #[test]
    fn parameters_are_decoded() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fkinesis%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=ab&X-Amz-Security-Token=t%2Bk";
        assert!(is_presigned(Some(q)));
        let p = parse_q(q).unwrap();
        assert_eq!(p.credential, "AKID/20150830/us-east-1/kinesis/aws4_request");
        assert_eq!(p.expires, Some(300));
        assert_eq!(p.token.as_deref(), Some("t+k"));
        assert!(p.presigned);
    }

    #[test]
    fn missing_and_bad_parameters() {
        let e = parse_q("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=x").unwrap_err();
        assert_eq!(
            e.message,
            "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string \
             parameters must include 'X-Amz-Signature'. AWS query-string parameters must include \
             'X-Amz-SignedHeaders'. Re-examine the query-string parameters."
        );
        let base = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=d&X-Amz-SignedHeaders=host&X-Amz-Signature=s";
        let e = parse_q(&format!("{base}&X-Amz-Expires=604801")).unwrap_err();
        assert_eq!(
            e.message,
            "X-Amz-Expires must be less than a week (in seconds) that is 604800"
        );
        let e = parse_q(&format!("{base}&X-Amz-Expires=soon")).unwrap_err();
        assert_eq!(e.message, "X-Amz-Expires should be a number");
        assert!(!is_presigned(Some("Action=x")));
        assert!(!is_presigned(None));
    }
}
