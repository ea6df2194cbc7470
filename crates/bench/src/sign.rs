//! The `X-Amz-Date` and `Authorization` headers of every request.
//!
//! Two modes:
//! - unsigned (default): a well-formed SigV4 header with a dummy signature, what the neutral wrk
//!   scripts send. Servers that do not verify signatures accept it; it costs the client nothing,
//!   so it is cached per second.
//! - SigV4: a real signature from `tributary-auth`'s public signing functions over the headers
//!   `content-type;host;x-amz-date;x-amz-target`, as the AWS SDKs sign them. The payload hash of
//!   a pre-built body is computed once when the body is built (an SDK hashes every request; the
//!   load generator must stay cheaper than the server it measures), and the signing key once per
//!   day, so each request costs one canonical request, two SHA-256 of a few hundred bytes and an
//!   HMAC.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use http::HeaderValue;
use tributary_auth::sigv4::{self, SignedRequest};
use tributary_auth::{format_amz_date, Secret};

/// What a [`RequestSigner`] needs to know, shared by all workers.
#[derive(Debug, Clone)]
pub struct SignerConfig {
    pub access_key: String,
    /// `None`: unsigned mode (dummy signature).
    pub secret: Option<Secret>,
    pub region: String,
    pub service: String,
    /// The `host` header value the server sees (HTTP/2: the `:authority`).
    pub host: String,
}

/// The two headers for one request.
#[derive(Debug, Clone)]
pub struct AuthHeaders {
    pub amz_date: HeaderValue,
    pub authorization: HeaderValue,
}

const SIGNED_HEADERS: &str = "content-type;host;x-amz-date;x-amz-target";

/// Per worker, so its caches need no lock.
#[derive(Debug)]
pub struct RequestSigner {
    cfg: SignerConfig,
    /// Unsigned mode: the headers of the current second.
    unsigned: Option<(i64, AuthHeaders)>,
    /// SigV4: `kSigning` of the current UTC day.
    key: Option<(String, zeroize::Zeroizing<[u8; 32]>)>,
}

impl RequestSigner {
    pub fn new(cfg: SignerConfig) -> Self {
        RequestSigner {
            cfg,
            unsigned: None,
            key: None,
        }
    }

    /// Headers for a POST to `/` with these `content-type` and `x-amz-target` values, whose
    /// body has SHA-256 `payload_hash` (lower-case hex; unused in unsigned mode).
    pub fn headers(
        &mut self,
        content_type: &str,
        target: &str,
        payload_hash: &str,
    ) -> anyhow::Result<AuthHeaders> {
        let now = now_secs();
        if self.cfg.secret.is_none() {
            if let Some((sec, h)) = &self.unsigned {
                if *sec == now {
                    return Ok(h.clone());
                }
            }
            let date = format_amz_date(now);
            let auth = format!(
                "AWS4-HMAC-SHA256 Credential={}/{}/{}/{}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd",
                self.cfg.access_key, &date[..8], self.cfg.region, self.cfg.service
            );
            let h = AuthHeaders {
                amz_date: HeaderValue::from_str(&date)?,
                authorization: HeaderValue::from_str(&auth).context("access key or region")?,
            };
            self.unsigned = Some((now, h.clone()));
            return Ok(h);
        }
        let date = format_amz_date(now);
        let host = self.cfg.host.clone();
        let headers = [
            ("content-type", content_type),
            ("host", host.as_str()),
            ("x-amz-date", date.as_str()),
            ("x-amz-target", target),
        ];
        let auth = self.authorization("POST", "/", &headers, SIGNED_HEADERS, payload_hash, &date);
        Ok(AuthHeaders {
            amz_date: HeaderValue::from_str(&date)?,
            authorization: HeaderValue::from_str(&auth).context("access key or region")?,
        })
    }

    /// The SigV4 `Authorization` value for a request with these headers (names lower-case,
    /// `signed` their sorted `;`-joined list) at `amz_date` (`YYYYMMDDTHHMMSSZ`).
    fn authorization(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        signed: &str,
        payload_hash: &str,
        amz_date: &str,
    ) -> String {
        let day = &amz_date[..8];
        let secret = self.cfg.secret.as_ref().expect("SigV4 mode has a secret");
        if self.key.as_ref().map(|(d, _)| d.as_str()) != Some(day) {
            let key = sigv4::signing_key(secret, day, &self.cfg.region, &self.cfg.service);
            self.key = Some((day.to_string(), key));
        }
        let (_, key) = self.key.as_ref().expect("just set");
        let req = SignedRequest::new(method, path, None, headers, b"");
        let creq = sigv4::canonical_request(
            &req,
            signed,
            payload_hash,
            sigv4::PathEncoding::Double,
            None,
        );
        let scope = format!(
            "{day}/{}/{}/aws4_request",
            self.cfg.region, self.cfg.service
        );
        let sts = sigv4::string_to_sign(amz_date, &scope, &creq);
        let sig = sigv4::signature(key, &sts);
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={sig}",
            self.cfg.access_key
        )
    }
}

/// Hex SHA-256 of a body, for [`RequestSigner::headers`].
pub fn payload_hash(body: &[u8]) -> String {
    sigv4::sha256_hex(body)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AWS SigV4 test suite's `get-vanilla` case.
    #[test]
    fn signs_get_vanilla() {
        let mut s = RequestSigner::new(SignerConfig {
            access_key: "AKIDEXAMPLE".into(),
            secret: Some(Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")),
            region: "us-east-1".into(),
            service: "service".into(),
            host: "example.amazonaws.com".into(),
        });
        let headers = [
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ];
        let auth = s.authorization(
            "GET",
            "/",
            &headers,
            "host;x-amz-date",
            &payload_hash(b""),
            "20150830T123600Z",
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn unsigned_mode_is_well_formed_and_cached() {
        let mut s = RequestSigner::new(SignerConfig {
            access_key: "AKID".into(),
            secret: None,
            region: "us-east-1".into(),
            service: "kinesis".into(),
            host: "localhost".into(),
        });
        let a = s.headers("application/x-amz-json-1.1", "X", "").unwrap();
        let v = a.authorization.to_str().unwrap();
        assert!(v.starts_with("AWS4-HMAC-SHA256 Credential=AKID/"));
        assert!(v.contains("/us-east-1/kinesis/aws4_request"));
        assert_eq!(a.amz_date.len(), 16);
    }
}
