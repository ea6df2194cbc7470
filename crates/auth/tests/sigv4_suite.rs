//! AWS's published SigV4 test suite (`fixtures/aws_sigv4_suite.json`): for every case the
//! canonical request must be byte for byte AWS's, our signer must write AWS's `Authorization`
//! header, and the verifier must accept that header.

use serde_json::Value;
use tributary_auth::sigv4::{
    self, canonical_request, PathEncoding, SignedRequest, SigningParams, VerifyConfig,
};
use tributary_auth::{parse_amz_date, Credential, Principal, Secret, StaticCredentialStore};

/// One `.req` file of the suite, with its raw path and query encoded as a client would send
/// them on the wire.
struct Raw {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn wire_encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::new();
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn parse_raw(text: &str) -> Raw {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let first = lines.next().unwrap();
    let (method, rest) = first.split_once(' ').unwrap();
    let target = rest.strip_suffix(" HTTP/1.1").unwrap();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') {
            // An obsolete folded line: the suite treats it as another value of the header.
            let name = headers.last().unwrap().0.clone();
            headers.push((name, line.trim().to_string()));
        } else {
            let (k, v) = line.split_once(':').unwrap();
            headers.push((k.to_string(), v.to_string()));
        }
    }
    Raw {
        method: method.to_string(),
        path: wire_encode(path, b"/"),
        query: query.map(|q| wire_encode(q, b"&=")),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn suite() -> Value {
    serde_json::from_str(include_str!("fixtures/aws_sigv4_suite.json")).unwrap()
}

fn request(raw: &Raw) -> SignedRequest<'_> {
    let headers: Vec<(&str, &str)> = raw
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    SignedRequest::new(
        &raw.method,
        &raw.path,
        raw.query.as_deref(),
        &headers,
        &raw.body,
    )
}

fn signed_headers(authz: &str) -> &str {
    let start = authz.find("SignedHeaders=").unwrap() + "SignedHeaders=".len();
    authz[start..].split(',').next().unwrap()
}

#[test]
fn canonical_requests_match_the_suite() {
    let suite = suite();
    let cases = suite["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 28);
    for case in cases {
        let raw = parse_raw(case["request"].as_str().unwrap());
        let req = request(&raw);
        let authz = case["authz"].as_str().unwrap();
        let creq = canonical_request(
            &req,
            signed_headers(authz),
            &sigv4::sha256_hex(&raw.body),
            PathEncoding::Single,
            None,
        );
        assert_eq!(creq, case["creq"].as_str().unwrap(), "{}", case["name"]);
        let sts = sigv4::string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &creq,
        );
        assert_eq!(sts, case["sts"].as_str().unwrap(), "{}", case["name"]);
    }
}

#[test]
fn the_signer_writes_the_suites_authorization_headers() {
    let suite = suite();
    let secret = Secret::new(suite["secret"].as_str().unwrap());
    let params = SigningParams {
        access_key: "AKIDEXAMPLE",
        secret: &secret,
        region: "us-east-1",
        service: "service",
        time: parse_amz_date("20150830T123600Z").unwrap(),
        path_encoding: PathEncoding::Single,
        unsigned_payload: false,
    };
    for case in suite["cases"].as_array().unwrap() {
        let raw = parse_raw(case["request"].as_str().unwrap());
        let authz = sigv4::sign(&request(&raw), &params);
        assert_eq!(authz, case["authz"].as_str().unwrap(), "{}", case["name"]);
    }
}

#[test]
fn the_verifier_accepts_every_suite_request() {
    let suite = suite();
    let mut store = StaticCredentialStore::new();
    let mut cred = Credential::long_term(
        suite["secret"].as_str().unwrap(),
        Principal::user("AKIDEXAMPLE", "111122223333", "example", vec![]),
    );
    let config = VerifyConfig {
        service: "service".to_string(),
        path_encoding: PathEncoding::Single,
        ..VerifyConfig::default()
    };
    let now = parse_amz_date("20150830T123600Z").unwrap() + 60;
    for case in suite["cases"].as_array().unwrap() {
        let raw = parse_raw(case["request"].as_str().unwrap());
        let mut req = request(&raw);
        req.headers
            .push(("Authorization", case["authz"].as_str().unwrap()));
        // The session-token case needs the key to be a temporary one with that token.
        let token = req.header("x-amz-security-token").map(Secret::new);
        cred.session_token = token;
        store.insert(cred.clone());
        let verified = sigv4::verify(&req, &store, &config, now)
            .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        assert_eq!(verified.region, "us-east-1");
        assert_eq!(verified.principal.access_key, "AKIDEXAMPLE");
        assert!(!verified.presigned);
    }
}
