//! AWS Signature Version 4: verify a request signed in its `Authorization` header or in a
//! presigned query string, and sign one (for tests, tools and the fuzz target).
//!
//! [`verify`] runs AWS's checks in AWS's order (form, date, clock skew or expiry, credential
//! scope, signed headers, access key, session token, HMAC) and answers the error AWS would.
//! [`check_form`] runs only the checks that need no secret, for servers without credentials.

mod canonical;
mod header;
mod presign;
mod sign;
mod signing;
mod verify;

pub use canonical::{canonical_query, canonical_request, canonical_uri};
pub use sign::{presign, sign, SigningParams};
pub use signing::{sha256_hex, signature, signing_key, string_to_sign};
pub use verify::{check_form, verify};

use crate::credentials::Principal;

/// The literal payload hash a client may sign instead of the body's SHA-256.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// A request as SigV4 sees it. Borrowed from the server's request; nothing is copied until the
/// canonical request is built.
#[derive(Debug, Clone)]
pub struct SignedRequest<'a> {
    /// `POST`, `GET`, … as sent.
    pub method: &'a str,
    /// The path as on the wire, still percent-encoded.
    pub path: &'a str,
    /// The raw query string without `?`.
    pub query: Option<&'a str>,
    /// Header names (any case) and values, repeated names kept in arrival order. Must include
    /// `host` (for HTTP/2, the `:authority`).
    pub headers: Vec<(&'a str, &'a str)>,
    pub body: &'a [u8],
    /// Whether the request arrived over TLS (see [`UnsignedPayload::TlsOnly`]). The server sets
    /// it from the connection: a request's own URI rarely says.
    pub secure_transport: bool,
}

impl<'a> SignedRequest<'a> {
    pub fn new(
        method: &'a str,
        path: &'a str,
        query: Option<&'a str>,
        headers: &[(&'a str, &'a str)],
        body: &'a [u8],
    ) -> Self {
        SignedRequest {
            method,
            path,
            query,
            headers: headers.to_vec(),
            body,
            secure_transport: false,
        }
    }

    /// From an `http` request head. Header values that are not UTF-8 are left out (they could
    /// only make the signature fail). Without a `host` header (HTTP/2), the URI's authority
    /// stands in for it, as clients sign it. `secure_transport` is true only for an absolute
    /// `https` URI; a server that terminates TLS sets it itself.
    pub fn from_http(parts: &'a http::request::Parts, body: &'a [u8]) -> Self {
        let mut headers: Vec<(&str, &str)> = parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), std::str::from_utf8(v.as_bytes()).ok()?)))
            .collect();
        if let Some(authority) = parts.uri.authority() {
            if !parts.headers.contains_key(http::header::HOST) {
                headers.push(("host", authority.as_str()));
            }
            // Pseudo-headers are not in the header map; HTTP/2 clients may sign this one.
            headers.push((":authority", authority.as_str()));
        }
        SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers,
            body,
            secure_transport: parts.uri.scheme() == Some(&http::uri::Scheme::HTTPS),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.header_values(name).next()
    }

    /// Every value of header `name` (case-insensitive), in arrival order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// When `UNSIGNED-PAYLOAD` is accepted in place of the body hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsignedPayload {
    Never,
    /// Only over TLS, where the transport already protects the body (what SDKs assume).
    TlsOnly,
    Always,
}

/// How the path is encoded into the canonical URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathEncoding {
    /// Every service but S3: the wire path is encoded again (`%` becomes `%25`).
    Double,
    /// S3 style: the wire path is decoded once and encoded once.
    Single,
}

/// What the verifier accepts.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    /// The service the credential scope must name: `kinesis`.
    pub service: String,
    /// Regions the scope may name; empty means any well-formed region.
    pub regions: Vec<String>,
    /// Allowed difference between the request date and now, in seconds (AWS: 15 minutes).
    pub max_skew_secs: i64,
    pub unsigned_payload: UnsignedPayload,
    pub path_encoding: PathEncoding,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            service: "kinesis".to_string(),
            regions: Vec::new(),
            max_skew_secs: 15 * 60,
            unsigned_payload: UnsignedPayload::TlsOnly,
            path_encoding: PathEncoding::Double,
        }
    }
}

/// A request whose signature checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub principal: Principal,
    /// The region of the credential scope.
    pub region: String,
    /// The request date, epoch seconds.
    pub signed_at: i64,
    pub presigned: bool,
}

/// What a well-formed request claims, before any secret is involved ([`check_form`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub access_key: String,
    pub region: String,
    pub signed_at: i64,
    pub presigned: bool,
}

/// The authentication parameters of either form, decoded.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    /// The scheme's first word (`AWS4-HMAC-SHA256` when it is ours).
    pub algorithm: String,
    pub credential: String,
    pub signed_headers: String,
    pub signature: String,
    /// `X-Amz-Date` (or the `Date` header when `date_is_http`), as sent.
    pub date: String,
    pub date_is_http: bool,
    pub token: Option<String>,
    /// `X-Amz-Expires` of a presigned request.
    pub expires: Option<i64>,
    pub presigned: bool,
}
