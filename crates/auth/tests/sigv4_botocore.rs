//! Requests signed by botocore (`fixtures/botocore_kinesis.py`), an independent SigV4
//! implementation: each must verify, and each must fail once anything signed is changed.

use base64::Engine;
use serde_json::Value;
use tributary_auth::sigv4::{self, SignedRequest, UnsignedPayload, VerifyConfig};
use tributary_auth::{
    parse_amz_date, AuthErrorCode, Credential, Principal, Secret, StaticCredentialStore,
};

struct Case {
    name: String,
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    secure: bool,
    token: Option<String>,
}

fn fixtures() -> (Value, Vec<Case>) {
    let doc: Value = serde_json::from_str(include_str!("fixtures/botocore_kinesis.json")).unwrap();
    let cases = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            method: c["method"].as_str().unwrap().to_string(),
            path: c["path"].as_str().unwrap().to_string(),
            query: c["query"].as_str().map(str::to_string),
            headers: c["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().to_string(),
                        h[1].as_str().unwrap().to_string(),
                    )
                })
                .collect(),
            body: base64::engine::general_purpose::STANDARD
                .decode(c["body_base64"].as_str().unwrap())
                .unwrap(),
            secure: c["secure_transport"].as_bool().unwrap(),
            token: c["token"].as_str().map(str::to_string),
        })
        .collect();
    (doc, cases)
}

impl Case {
    fn request(&self) -> SignedRequest<'_> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut req = SignedRequest::new(
            &self.method,
            &self.path,
            self.query.as_deref(),
            &headers,
            &self.body,
        );
        req.secure_transport = self.secure;
        req
    }
}

fn store_for(doc: &Value, secret: &str, token: Option<&str>) -> StaticCredentialStore {
    let mut cred = Credential::long_term(
        secret,
        Principal::user(
            doc["access_key"].as_str().unwrap(),
            "111122223333",
            "alice",
            vec![],
        ),
    );
    cred.session_token = token.map(Secret::new);
    let mut store = StaticCredentialStore::new();
    store.insert(cred);
    store
}

fn now(doc: &Value) -> i64 {
    parse_amz_date(doc["date"].as_str().unwrap()).unwrap() + 30
}

#[test]
fn every_botocore_request_verifies() {
    let (doc, cases) = fixtures();
    assert_eq!(cases.len(), 9);
    let config = VerifyConfig::default();
    for case in &cases {
        let store = store_for(&doc, doc["secret"].as_str().unwrap(), case.token.as_deref());
        let v = sigv4::verify(&case.request(), &store, &config, now(&doc))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(v.region, "us-east-1", "{}", case.name);
        assert_eq!(v.principal.arn, "arn:aws:iam::111122223333:user/alice");
        assert_eq!(
            v.presigned,
            case.name.contains("presigned"),
            "{}",
            case.name
        );
    }
}

#[test]
fn a_tampered_body_wrong_secret_or_missing_token_is_refused() {
    let (doc, cases) = fixtures();
    let config = VerifyConfig::default();
    let secret = doc["secret"].as_str().unwrap();
    for case in cases.iter().filter(|c| c.name.starts_with("boto-put")) {
        let store = store_for(&doc, secret, None);
        let mut req = case.request();
        let mut body = case.body.clone();
        body[10] ^= 1;
        req.body = &body;
        let e = sigv4::verify(&req, &store, &config, now(&doc)).unwrap_err();
        assert_eq!(e.code, AuthErrorCode::InvalidSignature, "{}", case.name);
        assert!(
            e.message.starts_with("The request signature we calculated"),
            "{e}"
        );

        let wrong = store_for(&doc, "not-the-secret", None);
        let e = sigv4::verify(&case.request(), &wrong, &config, now(&doc)).unwrap_err();
        assert_eq!(e.code, AuthErrorCode::InvalidSignature);
    }
    let token_case = cases
        .iter()
        .find(|c| c.name == "boto-session-token")
        .unwrap();
    for store in [
        store_for(&doc, secret, None),
        store_for(&doc, secret, Some("other-token")),
    ] {
        let e = sigv4::verify(&token_case.request(), &store, &config, now(&doc)).unwrap_err();
        assert_eq!(e.code, AuthErrorCode::UnrecognizedClient);
        assert_eq!(
            e.message,
            "The security token included in the request is invalid."
        );
    }
}

#[test]
fn unsigned_payload_only_where_allowed() {
    let (doc, cases) = fixtures();
    let case = cases
        .iter()
        .find(|c| c.name == "hand-unsigned-payload")
        .unwrap();
    let store = store_for(&doc, doc["secret"].as_str().unwrap(), None);
    let mut req = case.request();
    // Over TLS the body may change under UNSIGNED-PAYLOAD: the transport protects it.
    let other = b"{\"Limit\":2}".to_vec();
    req.body = &other;
    assert!(sigv4::verify(&req, &store, &VerifyConfig::default(), now(&doc)).is_ok());
    // Not over plain HTTP, and never when the server refuses unsigned payloads.
    req.secure_transport = false;
    let e = sigv4::verify(&req, &store, &VerifyConfig::default(), now(&doc)).unwrap_err();
    assert_eq!(e.code, AuthErrorCode::InvalidSignature);
    let never = VerifyConfig {
        unsigned_payload: UnsignedPayload::Never,
        ..VerifyConfig::default()
    };
    assert!(sigv4::verify(&case.request(), &store, &never, now(&doc)).is_err());
}

#[test]
fn presigned_requests_expire_after_x_amz_expires() {
    let (doc, cases) = fixtures();
    let case = cases.iter().find(|c| c.name == "hand-presigned").unwrap();
    let store = store_for(&doc, doc["secret"].as_str().unwrap(), None);
    let signed = parse_amz_date(doc["date"].as_str().unwrap()).unwrap();
    let config = VerifyConfig::default();
    assert!(sigv4::verify(&case.request(), &store, &config, signed + 300).is_ok());
    let e = sigv4::verify(&case.request(), &store, &config, signed + 301).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (AuthErrorCode::InvalidSignature, "Request has expired")
    );
    // A changed parameter breaks the signature.
    let mut changed = case.request();
    let q = case.query.as_deref().unwrap().replace("Limit=5", "Limit=6");
    changed.query = Some(&q);
    let e = sigv4::verify(&changed, &store, &config, signed).unwrap_err();
    assert_eq!(e.code, AuthErrorCode::InvalidSignature);
}
