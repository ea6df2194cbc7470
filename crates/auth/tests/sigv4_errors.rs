//! Every way a request can fail authentication, with AWS's code and exact message.

use tributary_auth::sigv4::{self, SignedRequest, SigningParams, VerifyConfig};
use tributary_auth::{
    parse_amz_date, AuthError, AuthErrorCode, Credential, Principal, Secret, StaticCredentialStore,
};

const KEY: &str = "AKIDALICE";
const SECRET: &str = "alice-secret-key";
const BODY: &[u8] = br#"{"StreamName":"s","Data":"YQ==","PartitionKey":"k"}"#;

fn t(s: &str) -> i64 {
    parse_amz_date(s).unwrap()
}

fn store() -> StaticCredentialStore {
    let mut store = StaticCredentialStore::new();
    store.insert(Credential::long_term(
        SECRET,
        Principal::user(KEY, "111122223333", "alice", vec![]),
    ));
    store
}

/// Headers of a PutRecord signed at `date` (an `X-Amz-Date` value), `Authorization` last.
fn signed_at(date: &str) -> Vec<(String, String)> {
    let mut headers = vec![
        ("host".to_string(), "127.0.0.1:4567".to_string()),
        ("x-amz-date".to_string(), date.to_string()),
        (
            "x-amz-target".to_string(),
            "Kinesis_20131202.PutRecord".to_string(),
        ),
    ];
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let secret = Secret::new(SECRET);
    let authz = sigv4::sign(
        &SignedRequest::new("POST", "/", None, &borrowed, BODY),
        &SigningParams {
            access_key: KEY,
            secret: &secret,
            region: "us-east-1",
            service: "kinesis",
            time: t(date),
            path_encoding: sigv4::PathEncoding::Double,
            unsigned_payload: false,
        },
    );
    headers.push(("authorization".to_string(), authz));
    headers
}

fn verify_with(
    headers: &[(String, String)],
    query: Option<&str>,
    now: i64,
) -> Result<sigv4::Verified, AuthError> {
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sigv4::verify(
        &SignedRequest::new("POST", "/", query, &h, BODY),
        &store(),
        &VerifyConfig::default(),
        now,
    )
}

fn with_authorization(headers: &[(String, String)], authz: &str) -> Vec<(String, String)> {
    let mut out: Vec<_> = headers
        .iter()
        .filter(|(k, _)| k != "authorization")
        .cloned()
        .collect();
    out.push(("authorization".to_string(), authz.to_string()));
    out
}

fn expect(result: Result<sigv4::Verified, AuthError>, code: AuthErrorCode, message: &str) {
    let e = result.expect_err("must fail");
    assert_eq!((e.code, e.message.as_str()), (code, message));
}

#[test]
fn a_signed_request_verifies() {
    let v = verify_with(&signed_at("20240101T003000Z"), None, t("20240101T003000Z")).unwrap();
    assert_eq!(v.principal.name, "alice");
    assert_eq!(v.signed_at, t("20240101T003000Z"));
}

#[test]
fn nothing_or_both_forms() {
    expect(
        verify_with(&[], None, 0),
        AuthErrorCode::MissingAuthenticationToken,
        "Missing Authentication Token",
    );
    expect(
        verify_with(
            &signed_at("20240101T003000Z"),
            Some("X-Amz-Algorithm=AWS4-HMAC-SHA256"),
            t("20240101T003000Z"),
        ),
        AuthErrorCode::InvalidSignature,
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    );
}

#[test]
fn clock_skew_is_fifteen_minutes_either_way() {
    let now = t("20240101T003000Z");
    assert!(verify_with(&signed_at("20240101T001500Z"), None, now).is_ok());
    assert!(verify_with(&signed_at("20240101T004500Z"), None, now).is_ok());
    expect(
        verify_with(&signed_at("20240101T001459Z"), None, now),
        AuthErrorCode::InvalidSignature,
        "Signature expired: 20240101T001459Z is now earlier than 20240101T001500Z (20240101T003000Z - 15 min.)",
    );
    expect(
        verify_with(&signed_at("20240101T004501Z"), None, now),
        AuthErrorCode::InvalidSignature,
        "Signature not yet current: 20240101T004501Z is still later than 20240101T004500Z (20240101T003000Z + 15 min.)",
    );
}

#[test]
fn a_malformed_date_or_credential_is_incomplete() {
    let mut h = signed_at("20240101T003000Z");
    h[1].1 = "2024/01/01T00:30:00Z".to_string();
    expect(
        verify_with(&h, None, 0),
        AuthErrorCode::IncompleteSignature,
        "Date must be in ISO-8601 'basic format'. Got '2024/01/01T00:30:00Z'. See http://en.wikipedia.org/wiki/ISO_8601",
    );
    let h = with_authorization(
        &signed_at("20240101T003000Z"),
        "AWS4-HMAC-SHA256 Credential=AKIDALICE, SignedHeaders=host;x-amz-date, Signature=00",
    );
    expect(
        verify_with(&h, None, t("20240101T003000Z")),
        AuthErrorCode::IncompleteSignature,
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDALICE'",
    );
}

#[test]
fn every_scope_problem_is_reported_at_once() {
    let now = t("20240101T003000Z");
    let h = with_authorization(
        &signed_at("20240101T003000Z"),
        "AWS4-HMAC-SHA256 Credential=AKIDALICE/20231231/Bad_Region/dynamodb/aws5_request, SignedHeaders=host;x-amz-date, Signature=00",
    );
    expect(
        verify_with(&h, None, now),
        AuthErrorCode::InvalidSignature,
        "Credential should be scoped to a valid region, not 'Bad_Region'. Credential should be scoped \
         to correct service: 'kinesis'. Credential should be scoped with a valid terminator: \
         'aws4_request', not 'aws5_request'. Date in Credential scope does not match YYYYMMDD from \
         ISO-8601 version of date from HTTP: '20231231' != '20240101', from '20240101T003000Z'. ",
    );
    let h = with_authorization(
        &signed_at("20240101T003000Z"),
        "AWS4-HMAC-SHA256 Credential=AKIDALICE/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
    );
    expect(
        verify_with(&h, None, now),
        AuthErrorCode::InvalidSignature,
        "Credential should be scoped to correct service: 'kinesis'. ",
    );
}

#[test]
fn configured_regions_limit_the_scope() {
    let h = signed_at("20240101T003000Z");
    let hh: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let req = SignedRequest::new("POST", "/", None, &hh, BODY);
    let config = VerifyConfig {
        regions: vec!["eu-west-1".to_string()],
        ..VerifyConfig::default()
    };
    let e = sigv4::verify(&req, &store(), &config, t("20240101T003000Z")).unwrap_err();
    assert_eq!(
        e.message,
        "Credential should be scoped to a valid region, not 'us-east-1'. "
    );
}

#[test]
fn host_must_be_signed() {
    let h = with_authorization(
        &signed_at("20240101T003000Z"),
        "AWS4-HMAC-SHA256 Credential=AKIDALICE/20240101/us-east-1/kinesis/aws4_request, SignedHeaders=x-amz-date, Signature=00",
    );
    expect(
        verify_with(&h, None, t("20240101T003000Z")),
        AuthErrorCode::InvalidSignature,
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
}

#[test]
fn unknown_keys_and_ended_sessions() {
    let now = t("20240101T003000Z");
    let h = signed_at("20240101T003000Z");
    let other = h[3].1.replace("AKIDALICE", "AKIDNOBODY");
    expect(
        verify_with(&with_authorization(&h, &other), None, now),
        AuthErrorCode::UnrecognizedClient,
        "The security token included in the request is invalid.",
    );

    let mut cred = Credential::long_term(
        SECRET,
        Principal::user(KEY, "111122223333", "alice", vec![]),
    );
    cred.session_token = Some(Secret::new("tok"));
    cred.expires_at = Some(now);
    let mut store = StaticCredentialStore::new();
    store.insert(cred);
    let mut h = h;
    h.push(("x-amz-security-token".to_string(), "tok".to_string()));
    let hh: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let e = sigv4::verify(
        &SignedRequest::new("POST", "/", None, &hh, BODY),
        &store,
        &VerifyConfig::default(),
        now,
    )
    .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            AuthErrorCode::ExpiredToken,
            "The security token included in the request is expired"
        )
    );
    assert_eq!(e.code.as_str(), "ExpiredTokenException");
}

#[test]
fn the_form_check_needs_no_secret_and_no_clock() {
    let h = with_authorization(
        &signed_at("20200101T000000Z"),
        "AWS4-HMAC-SHA256 Credential=anything/20200101/eu-west-2/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=not-checked",
    );
    let hh: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let claimed = sigv4::check_form(
        &SignedRequest::new("POST", "/", None, &hh, BODY),
        &VerifyConfig::default(),
    )
    .unwrap();
    assert_eq!(
        (claimed.access_key.as_str(), claimed.region.as_str()),
        ("anything", "eu-west-2")
    );
    let e = sigv4::check_form(
        &SignedRequest::new("POST", "/", None, &[], BODY),
        &VerifyConfig::default(),
    )
    .unwrap_err();
    assert_eq!(e.code.as_str(), "MissingAuthenticationTokenException");
}

#[test]
fn http_requests_and_the_date_header() {
    // An HTTP/2 request has no Host header: the :authority stands in, as clients sign it.
    let date = "Mon, 01 Jan 2024 00:30:00 GMT";
    let base = [
        ("host", "kinesis.local:4567"),
        ("date", date),
        ("content-type", "application/x-amz-json-1.1"),
    ];
    let secret = Secret::new(SECRET);
    let authz = sigv4::sign(
        &SignedRequest::new("POST", "/", None, &base, BODY),
        &SigningParams {
            access_key: KEY,
            secret: &secret,
            region: "us-east-1",
            service: "kinesis",
            time: t("20240101T003000Z"),
            path_encoding: sigv4::PathEncoding::Double,
            unsigned_payload: false,
        },
    );
    let request = http::Request::builder()
        .method("POST")
        .uri("http://kinesis.local:4567/")
        .header("date", date)
        .header("content-type", "application/x-amz-json-1.1")
        .header("authorization", authz)
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let req = SignedRequest::from_http(&parts, BODY);
    let v = sigv4::verify(
        &req,
        &store(),
        &VerifyConfig::default(),
        t("20240101T003500Z"),
    )
    .unwrap();
    assert_eq!(v.signed_at, t("20240101T003000Z"));
}

#[test]
fn presigned_requests_the_signer_makes_verify() {
    let secret = Secret::new(SECRET);
    let params = SigningParams {
        access_key: KEY,
        secret: &secret,
        region: "us-east-1",
        service: "kinesis",
        time: t("20240101T003000Z"),
        path_encoding: sigv4::PathEncoding::Double,
        unsigned_payload: false,
    };
    let headers = [("host", "127.0.0.1:4567")];
    let query = sigv4::presign(
        &SignedRequest::new("GET", "/", Some("Action=ListStreams"), &headers, b""),
        &params,
        60,
        None,
    );
    let req = SignedRequest::new("GET", "/", Some(&query), &headers, b"");
    let v = sigv4::verify(
        &req,
        &store(),
        &VerifyConfig::default(),
        t("20240101T003100Z"),
    )
    .unwrap();
    assert!(v.presigned);
    let e = sigv4::verify(
        &req,
        &store(),
        &VerifyConfig::default(),
        t("20240101T003101Z"),
    )
    .unwrap_err();
    assert_eq!(e.message, "Request has expired");
}

/// AWS's order of checks when several things are wrong at once (dynalite's first index.js
/// records it against AWS: date, then expiry, then a signed `host`, then the algorithm, then
/// the credential's form and scope, then the key, then the signature).
#[test]
fn problems_are_reported_in_awss_order() {
    let now = t("20240101T003000Z");
    let authz = |algorithm: &str, credential: &str, signed: &str| {
        format!("{algorithm} Credential={credential}, SignedHeaders={signed}, Signature=00")
    };
    let good_cred = "AKIDALICE/20240101/us-east-1/kinesis/aws4_request";

    // A malformed date is reported before anything about the algorithm or the credential.
    let mut h = with_authorization(
        &signed_at("20240101T003000Z"),
        &authz("AWS4-HMAC-SHA512", "AKIDALICE", "x-amz-date"),
    );
    h[1].1 = "yesterday".to_string();
    expect(
        verify_with(&h, None, now),
        AuthErrorCode::IncompleteSignature,
        "Date must be in ISO-8601 'basic format'. Got 'yesterday'. See http://en.wikipedia.org/wiki/ISO_8601",
    );
    // Then the clock.
    let h = with_authorization(
        &signed_at("20231231T003000Z"),
        &authz("AWS4-HMAC-SHA512", "AKIDALICE", "x-amz-date"),
    );
    expect(
        verify_with(&h, None, now),
        AuthErrorCode::InvalidSignature,
        "Signature expired: 20231231T003000Z is now earlier than 20240101T001500Z (20240101T003000Z - 15 min.)",
    );
    // Then a signed host, before the algorithm.
    let h = with_authorization(
        &signed_at("20240101T003000Z"),
        &authz("AWS4-HMAC-SHA512", "AKIDALICE", "x-amz-date"),
    );
    expect(
        verify_with(&h, None, now),
        AuthErrorCode::InvalidSignature,
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
    // Then the algorithm, before the credential's form.
    let h = with_authorization(
        &signed_at("20240101T003000Z"),
        &authz("AWS4-HMAC-SHA512", "AKIDALICE", "host;x-amz-date"),
    );
    expect(
        verify_with(&h, None, now),
        AuthErrorCode::IncompleteSignature,
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'.",
    );
    // Then the credential's form, before its scope and the key.
    let h = with_authorization(
        &signed_at("20240101T003000Z"),
        &authz(
            "AWS4-HMAC-SHA256",
            "AKIDNOBODY/20240101/Bad/kinesis",
            "host;x-amz-date",
        ),
    );
    expect(
        verify_with(&h, None, now),
        AuthErrorCode::IncompleteSignature,
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDNOBODY/20240101/Bad/kinesis'",
    );
    // Then the scope, before the key.
    let h = with_authorization(
        &signed_at("20240101T003000Z"),
        &authz(
            "AWS4-HMAC-SHA256",
            "AKIDNOBODY/20240101/us-east-1/s3/aws4_request",
            "host;x-amz-date",
        ),
    );
    expect(
        verify_with(&h, None, now),
        AuthErrorCode::InvalidSignature,
        "Credential should be scoped to correct service: 'kinesis'. ",
    );
    // Then the key, before the signature.
    let h = with_authorization(
        &signed_at("20240101T003000Z"),
        &authz(
            "AWS4-HMAC-SHA256",
            "AKIDNOBODY/20240101/us-east-1/kinesis/aws4_request",
            "host;x-amz-date",
        ),
    );
    expect(
        verify_with(&h, None, now),
        AuthErrorCode::UnrecognizedClient,
        "The security token included in the request is invalid.",
    );
    // Last, the signature itself.
    let h = with_authorization(
        &signed_at("20240101T003000Z"),
        &authz(
            "AWS4-HMAC-SHA256",
            good_cred,
            "host;x-amz-date;x-amz-target",
        ),
    );
    let e = verify_with(&h, None, now).unwrap_err();
    assert_eq!(e.code, AuthErrorCode::InvalidSignature);
    assert!(e
        .message
        .starts_with("The request signature we calculated does not match"));
}

/// "Credential (trailing slashes are ignored)": Java's `split` drops them, so a signature
/// whose credential ends in slashes verifies as the same scope.
#[test]
fn trailing_slashes_of_the_credential_are_ignored() {
    let now = t("20240101T003000Z");
    let h = signed_at("20240101T003000Z");
    let slashed = h[3].1.replace("aws4_request", "aws4_request//");
    assert_ne!(slashed, h[3].1);
    let v = verify_with(&with_authorization(&h, &slashed), None, now).unwrap();
    assert_eq!(v.principal.name, "alice");
}
