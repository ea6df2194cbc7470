//! The verification procedure. The order of the checks is AWS's, because the order decides which
//! error a client sees when several things are wrong at once. AWS's order was recorded against
//! DynamoDB's front end, which Kinesis shares (dynalite's first index.js lists each step with
//! AWS's answer), and kinesalite's test/connection.js confirms its first steps for Kinesis:
//!
//! 1. an `Authorization` header or a presigned query, not both, not neither;
//! 2. every part present (`IncompleteSignatureException`), whatever the algorithm says:
//!    "AWS4- Signature=b Credential=a" is answered for its missing `SignedHeaders`;
//! 3. the date in ISO 8601 basic format;
//! 4. clock skew within 15 minutes, or a presigned request not yet expired;
//! 5. `host` is signed;
//! 6. the algorithm is `AWS4-HMAC-SHA256`;
//! 7. the credential has five parts (trailing slashes ignored, as Java's `split` drops them),
//!    and its scope names a valid region, `kinesis`, `aws4_request` and the request's own date;
//! 8. the access key is known (`UnrecognizedClientException`), the temporary session has not
//!    ended and the session token matches;
//! 9. the HMAC over the canonical request, compared in constant time.

use super::canonical::canonical_request;
use super::signing::{same, scope, sha256_hex, signature, signing_key, string_to_sign, ALGORITHM};
use super::{header, presign, Claimed, Parsed, SignedRequest, UnsignedPayload, VerifyConfig};
use super::{Verified, UNSIGNED_PAYLOAD};
use crate::credentials::CredentialStore;
use crate::error::AuthError;
use crate::time::{format_amz_date, parse_amz_date, parse_http_date};

/// Verifies `req` against the keys in `store` at time `now` (epoch seconds).
pub fn verify(
    req: &SignedRequest<'_>,
    store: &dyn CredentialStore,
    config: &VerifyConfig,
    now: i64,
) -> Result<Verified, AuthError> {
    let (parsed, claimed) = checked(req, config, Some(now))?;

    let credential = store
        .lookup(&claimed.access_key)
        .ok_or_else(AuthError::unrecognized_client)?;
    if credential.expires_at.is_some_and(|at| now >= at) {
        return Err(AuthError::expired_token());
    }
    // A temporary key needs its own token; a long-term key must not come with one.
    let token_ok = match (&credential.session_token, &parsed.token) {
        (None, None) => true,
        (Some(expected), Some(sent)) => same(expected.expose(), sent),
        _ => false,
    };
    if !token_ok {
        return Err(AuthError::unrecognized_client());
    }

    let payload_hash = payload_hash(req, config);
    let skip = parsed.presigned.then_some("X-Amz-Signature");
    let creq = canonical_request(
        req,
        &parsed.signed_headers,
        &payload_hash,
        config.path_encoding,
        skip,
    );
    let date = format_amz_date(claimed.signed_at);
    let day = &date[..8];
    let sts = string_to_sign(&date, &scope(day, &claimed.region, &config.service), &creq);
    let key = signing_key(&credential.secret, day, &claimed.region, &config.service);
    if !same(&signature(&key, &sts), &parsed.signature) {
        return Err(AuthError::signature_mismatch());
    }
    Ok(Verified {
        principal: credential.principal,
        region: claimed.region,
        signed_at: claimed.signed_at,
        presigned: claimed.presigned,
    })
}

/// Checks everything that needs no secret (steps 1 to 7 except the clock): what a server
/// without configured credentials still requires, as AWS would.
pub fn check_form(req: &SignedRequest<'_>, config: &VerifyConfig) -> Result<Claimed, AuthError> {
    checked(req, config, None).map(|(_, claimed)| claimed)
}

/// Steps 1 to 7; the clock is checked only when `now` is given.
fn checked(
    req: &SignedRequest<'_>,
    config: &VerifyConfig,
    now: Option<i64>,
) -> Result<(Parsed, Claimed), AuthError> {
    let parsed = match (
        req.header("authorization"),
        presign::is_presigned(req.query),
    ) {
        (None, false) => return Err(AuthError::missing_token()),
        (Some(_), true) => {
            return Err(AuthError::invalid(
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as \
                 HTTP header.",
            ))
        }
        (Some(h), false) => header::parse(h, req)?,
        (None, true) => presign::parse(req.query.unwrap_or_default(), req)?,
    };

    let signed_at = if parsed.date_is_http {
        parse_http_date(&parsed.date)
    } else {
        parse_amz_date(&parsed.date)
    }
    .ok_or_else(|| {
        AuthError::incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See \
             http://en.wikipedia.org/wiki/ISO_8601",
            parsed.date
        ))
    })?;
    if let Some(now) = now {
        check_clock(&parsed, signed_at, now, config.max_skew_secs)?;
    }

    if !parsed
        .signed_headers
        .split(';')
        // HTTP/2 clients (the JS SDK v3) sign the `:authority` pseudo-header instead.
        .any(|h| h.eq_ignore_ascii_case("host") || h == ":authority")
    {
        return Err(AuthError::invalid(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }

    if parsed.algorithm != ALGORITHM {
        return Err(AuthError::incomplete(format!(
            "Unsupported AWS 'algorithm': '{}'.",
            parsed.algorithm
        )));
    }

    let mut parts: Vec<&str> = parsed.credential.split('/').collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    let [access_key, day, region, service, terminator] = parts[..] else {
        return Err(AuthError::incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got '{}'",
            parsed.credential
        )));
    };
    check_scope(config, day, region, service, terminator, signed_at)?;
    let claimed = Claimed {
        access_key: access_key.to_string(),
        region: region.to_string(),
        signed_at,
        presigned: parsed.presigned,
    };
    Ok((parsed, claimed))
}

fn check_clock(parsed: &Parsed, signed_at: i64, now: i64, skew: i64) -> Result<(), AuthError> {
    let minutes = skew / 60;
    let stamp = format_amz_date(signed_at);
    if signed_at > now + skew {
        return Err(AuthError::invalid(format!(
            "Signature not yet current: {stamp} is still later than {} ({} + {minutes} min.)",
            format_amz_date(now + skew),
            format_amz_date(now)
        )));
    }
    match parsed.expires {
        // A presigned request lives for its own X-Amz-Expires, not for the skew window.
        Some(expires) if now > signed_at + expires => {
            Err(AuthError::invalid("Request has expired"))
        }
        Some(_) => Ok(()),
        None if signed_at < now - skew => Err(AuthError::invalid(format!(
            "Signature expired: {stamp} is now earlier than {} ({} - {minutes} min.)",
            format_amz_date(now - skew),
            format_amz_date(now)
        ))),
        None => Ok(()),
    }
}

/// AWS reports every scope problem at once, each sentence followed by a space.
fn check_scope(
    config: &VerifyConfig,
    day: &str,
    region: &str,
    service: &str,
    terminator: &str,
    signed_at: i64,
) -> Result<(), AuthError> {
    let mut problems = String::new();
    let region_ok = if config.regions.is_empty() {
        !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    } else {
        config.regions.iter().any(|r| r == region)
    };
    if !region_ok {
        problems.push_str(&format!(
            "Credential should be scoped to a valid region, not '{region}'. "
        ));
    }
    if service != config.service {
        problems.push_str(&format!(
            "Credential should be scoped to correct service: '{}'. ",
            config.service
        ));
    }
    if terminator != "aws4_request" {
        problems.push_str(&format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not \
             '{terminator}'. "
        ));
    }
    let stamp = format_amz_date(signed_at);
    if day != &stamp[..8] {
        problems.push_str(&format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{day}' != '{}', from '{stamp}'. ",
            &stamp[..8]
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AuthError::invalid(problems))
    }
}

/// The body's SHA-256, or `UNSIGNED-PAYLOAD` when the client declared it and the configuration
/// allows it. A client-declared hash is never trusted: if it differs from the body, the
/// signature will not match and the tampered body is refused.
fn payload_hash(req: &SignedRequest<'_>, config: &VerifyConfig) -> String {
    let declared_unsigned = req.header("x-amz-content-sha256") == Some(UNSIGNED_PAYLOAD);
    let allowed = match config.unsigned_payload {
        UnsignedPayload::Never => false,
        UnsignedPayload::TlsOnly => req.secure_transport,
        UnsignedPayload::Always => true,
    };
    if declared_unsigned && allowed {
        UNSIGNED_PAYLOAD.to_string()
    } else {
        sha256_hex(req.body)
    }
}
