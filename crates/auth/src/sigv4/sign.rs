//! Signing, the client's half. The verifier never uses it; it exists so tests, the fuzz target
//! and tools (a raw-request builder for inputs SDKs refuse to send) can make valid requests
//! without an SDK, and so the AWS test suite exercises the canonical request from both ends.

use super::canonical::{canonical_request, uri_encode};
use super::signing::{scope, sha256_hex, signature, signing_key, string_to_sign, ALGORITHM};
use super::{PathEncoding, SignedRequest, UNSIGNED_PAYLOAD};
use crate::credentials::Secret;
use crate::time::format_amz_date;

/// Who signs, for what, and when.
#[derive(Debug, Clone)]
pub struct SigningParams<'a> {
    pub access_key: &'a str,
    pub secret: &'a Secret,
    pub region: &'a str,
    pub service: &'a str,
    /// Epoch seconds.
    pub time: i64,
    pub path_encoding: PathEncoding,
    /// Sign `UNSIGNED-PAYLOAD` instead of the body hash.
    pub unsigned_payload: bool,
}

/// The `Authorization` header value for `req`, signing every header it carries (sorted,
/// lower-cased). `req` must already carry `host` and `x-amz-date` (or `date`).
pub fn sign(req: &SignedRequest<'_>, params: &SigningParams<'_>) -> String {
    let mut names: Vec<String> = req
        .headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .filter(|k| k != "authorization")
        .collect();
    names.sort();
    names.dedup();
    let signed_headers = names.join(";");
    let payload = if params.unsigned_payload {
        UNSIGNED_PAYLOAD.to_string()
    } else {
        sha256_hex(req.body)
    };
    let creq = canonical_request(req, &signed_headers, &payload, params.path_encoding, None);
    let sig = sign_canonical(&creq, params);
    let date = format_amz_date(params.time);
    format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={signed_headers}, Signature={sig}",
        params.access_key,
        scope(&date[..8], params.region, params.service)
    )
}

/// The query string of a presigned `req` valid for `expires` seconds: the request's own query
/// followed by the `X-Amz-*` parameters and the signature. Signs `host` only, as SDKs do.
pub fn presign(
    req: &SignedRequest<'_>,
    params: &SigningParams<'_>,
    expires: i64,
    session_token: Option<&str>,
) -> String {
    let date = format_amz_date(params.time);
    let credential = format!(
        "{}/{}",
        params.access_key,
        scope(&date[..8], params.region, params.service)
    );
    let mut query = req.query.unwrap_or("").to_string();
    let mut add = |k: &str, v: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(k);
        query.push('=');
        uri_encode(v.as_bytes(), false, &mut query);
    };
    add("X-Amz-Algorithm", ALGORITHM);
    add("X-Amz-Credential", &credential);
    add("X-Amz-Date", &date);
    add("X-Amz-Expires", &expires.to_string());
    add("X-Amz-SignedHeaders", "host");
    if let Some(token) = session_token {
        add("X-Amz-Security-Token", token);
    }
    let signed = SignedRequest {
        query: Some(&query),
        ..req.clone()
    };
    let payload = sha256_hex(req.body);
    let creq = canonical_request(&signed, "host", &payload, params.path_encoding, None);
    let sig = sign_canonical(&creq, params);
    format!("{query}&X-Amz-Signature={sig}")
}

fn sign_canonical(creq: &str, params: &SigningParams<'_>) -> String {
    let date = format_amz_date(params.time);
    let day = &date[..8];
    let sts = string_to_sign(&date, &scope(day, params.region, params.service), creq);
    let key = signing_key(params.secret, day, params.region, params.service);
    signature(&key, &sts)
}
