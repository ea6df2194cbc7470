//! Arbitrary bytes as the `Authorization` header, the query string, the path and the signed
//! headers, through the parsers, the canonical-request builder and the whole verifier. Nothing
//! may panic, and nothing may verify without the right secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_auth::sigv4::{self, PathEncoding, SignedRequest, VerifyConfig};
use tributary_auth::{Credential, Principal, StaticCredentialStore};

fuzz_target!(|data: &[u8]| {
    // Split the input into four fields at 0xFF bytes (never part of valid UTF-8).
    let mut fields = data.split(|&b| b == 0xFF).map(String::from_utf8_lossy);
    let authorization = fields.next().unwrap_or_default();
    let query = fields.next().unwrap_or_default();
    let path = fields.next().unwrap_or_default();
    let date = fields.next().unwrap_or_default();

    let headers = [
        ("host", "127.0.0.1:4567"),
        ("x-amz-date", date.as_ref()),
        ("authorization", authorization.as_ref()),
    ];
    let with_header = SignedRequest::new("POST", &path, None, &headers, data);
    let presigned = SignedRequest::new("GET", &path, Some(&query), &headers[..2], b"");

    let mut store = StaticCredentialStore::new();
    store.insert(Credential::long_term(
        "fuzz-secret",
        Principal::user("AKIDFUZZ", "111122223333", "fuzz", vec![]),
    ));
    let config = VerifyConfig::default();
    for req in [&with_header, &presigned] {
        let _ = sigv4::check_form(req, &config);
        // The fuzzer cannot know the HMAC, so a success would be a forgery.
        assert!(sigv4::verify(req, &store, &config, 1_704_069_000).is_err());
        for encoding in [PathEncoding::Double, PathEncoding::Single] {
            let _ = sigv4::canonical_request(req, &authorization, "UNSIGNED-PAYLOAD", encoding, None);
        }
    }
    let _ = sigv4::canonical_query(&query, Some("X-Amz-Signature"));
});
