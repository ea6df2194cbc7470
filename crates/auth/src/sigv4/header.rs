//! The `Authorization` header form:
//!
//! ```text
//! AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kinesis/aws4_request,
//!     SignedHeaders=host;x-amz-date, Signature=5fa00fa3...
//! ```
//!
//! AWS splits the parameters on commas *and* spaces (a stray space inside the credential shows
//! up in its error as a separate piece), so this parser does the same.

use super::{Parsed, SignedRequest};
use crate::error::AuthError;

/// Parses `header` (the `Authorization` value) and picks the request date from `X-Amz-Date`,
/// or failing that `Date`.
pub(crate) fn parse(header: &str, req: &SignedRequest<'_>) -> Result<Parsed, AuthError> {
    let (algorithm, rest) = header.split_once([' ', '\t']).unwrap_or((header, ""));
    // An `AWS4-…` algorithm other than ours is refused only after the date and the signed
    // headers are checked (see `verify`). Another scheme entirely (`Bearer …`, SigV2's
    // `AWS key:sig`): AWS answers as if every SigV4 parameter were missing (kinesalite
    // test/connection.js "should return IncompleteSignatureException if invalid auth").
    let rest = if algorithm.starts_with("AWS4-") {
        rest
    } else {
        ""
    };

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for piece in rest.split([',', ' ', '\t']).filter(|p| !p.is_empty()) {
        let Some((key, value)) = piece.split_once('=') else {
            return Err(AuthError::incomplete(format!(
                "'{piece}' not a valid key=value pair (missing equal-sign) in Authorization \
                 header: '{header}'."
            )));
        };
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if !value.is_empty() {
            *slot = Some(value);
        }
    }

    let amz_date = req.header("x-amz-date");
    let (date, date_is_http) = match (amz_date, req.header("date")) {
        (Some(d), _) => (Some(d), false),
        (None, Some(d)) => (Some(d), true),
        (None, None) => (None, false),
    };

    let mut missing = String::new();
    for (name, value) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if value.is_none() {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if date.is_none() {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    match (credential, signed_headers, signature, date) {
        (Some(c), Some(h), Some(s), Some(d)) if missing.is_empty() => Ok(Parsed {
            algorithm: algorithm.to_string(),
            credential: c.to_string(),
            signed_headers: h.to_string(),
            signature: s.to_string(),
            date: d.to_string(),
            date_is_http,
            token: req.header("x-amz-security-token").map(str::to_string),
            expires: None,
            presigned: false,
        }),
        _ => Err(AuthError::incomplete(format!(
            "{missing}Authorization={header}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(headers: &'a [(&'a str, &'a str)]) -> SignedRequest<'a> {
        SignedRequest::new("POST", "/", None, headers, b"")
    }

    #[test]
    fn well_formed() {
        let h = [
            ("X-Amz-Date", "20150830T123600Z"),
            ("X-Amz-Security-Token", "tok"),
        ];
        let p = parse(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
            &req(&h),
        )
        .unwrap();
        assert_eq!(p.credential, "AKID/20150830/us-east-1/kinesis/aws4_request");
        assert_eq!(p.signed_headers, "host;x-amz-date");
        assert_eq!(p.signature, "abc");
        assert_eq!(p.date, "20150830T123600Z");
        assert_eq!(p.token.as_deref(), Some("tok"));
        // Commas alone, as some signers write it.
        let p = parse(
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=host,Signature=x",
            &req(&h),
        )
        .unwrap();
        assert_eq!(p.signature, "x");
    }

    #[test]
    fn missing_parts_are_listed_in_awss_order() {
        let e = parse("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE", &req(&[])).unwrap_err();
        assert_eq!(e.code, crate::AuthErrorCode::IncompleteSignature);
        assert_eq!(
            e.message,
            "Authorization header requires 'Signature' parameter. Authorization header requires \
             'SignedHeaders' parameter. Authorization header requires existence of either a \
             'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE"
        );
        let e = parse("Bearer abc", &req(&[("Date", "x")])).unwrap_err();
        assert_eq!(
            e.message,
            "Authorization header requires 'Credential' parameter. Authorization header requires \
             'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
             Authorization=Bearer abc"
        );
    }

    #[test]
    fn a_piece_without_equals_is_named() {
        let header = "AWS4-HMAC-SHA256 Credential=AKID /20150620/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=ab";
        let e = parse(header, &req(&[])).unwrap_err();
        assert_eq!(
            e.message,
            format!("'/20150620/us-east-1/kinesis/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'.")
        );
        // The algorithm is judged later: first the parts must all be there.
        let e = parse("AWS4- Signature=b Credential=a", &req(&[("Date", "a")])).unwrap_err();
        assert_eq!(
            e.message,
            "Authorization header requires 'SignedHeaders' parameter. \
             Authorization=AWS4- Signature=b Credential=a"
        );
        let p = parse(
            "AWS4-HMAC-SHA512 Credential=x, SignedHeaders=host, Signature=s",
            &req(&[("Date", "a")]),
        )
        .unwrap();
        assert_eq!(p.algorithm, "AWS4-HMAC-SHA512");
    }
}
