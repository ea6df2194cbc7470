//! CORS, as AWS's Kinesis front door serves it to browser clients.
//!
//! AWS's answers, recorded in kinesalite's test/connection.js (run against AWS; the
//! `assertCors` helper and the "should set CORS if OPTIONS and Origin ..." and
//! "... set CORS if using Origin" cases) and stated in its index.js:
//!
//! - An `OPTIONS` request with an `Origin` is a preflight: 200, empty body, no
//!   `Content-Type`, `Access-Control-Allow-Origin: *`, the requested headers and method
//!   echoed back (each only when the browser asked), `Access-Control-Max-Age: 172800`, a
//!   request id but no `x-amz-id-2`. It is answered before anything else is looked at:
//!   AWS answers it the same with and without credentials ("... and no auth" / "... and
//!   auth"), which matters because browsers never send credentials on a preflight.
//! - Every other request with an `Origin`, whatever its outcome, gets
//!   `Access-Control-Allow-Origin: *` and AWS's `Access-Control-Expose-Headers` list.
//!
//! Served only when `AppState::cors` is on: by default where users are configured and every
//! signature is verified, as on AWS. An open server checks no signature, so with CORS any web
//! page opened on the machine could read and delete its streams; there it is opt-in
//! (`--cors true`).
//!
//! Not recorded anywhere we could find: what AWS answers to a preflight for a method or
//! header it would not accept. It echoes what was asked ("d" as a method in the recorded
//! test), so no request is refused at the preflight; Tributary does the same.

use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH, ORIGIN,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::respond::{self, Body};

/// AWS's list, in AWS's order and spelling (kinesalite test/connection.js, "should return
/// CBOR UnknownOperationException and set CORS if using Origin").
pub const EXPOSE_HEADERS: &str =
    "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date";

/// Two days, as AWS sends it (kinesalite `assertCors`).
pub const MAX_AGE: &str = "172800";

/// Whether the request is a CORS preflight, answered by [`preflight`] without looking at
/// anything else.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS && headers.contains_key(ORIGIN)
}

/// The preflight answer, echoing the requested headers and method.
pub fn preflight(req: &HeaderMap) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()).boxed());
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    respond::insert_request_id(h);
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if let Some(v) = req.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(ACCESS_CONTROL_ALLOW_HEADERS, v.clone());
    }
    if let Some(v) = req.get(ACCESS_CONTROL_REQUEST_METHOD) {
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, v.clone());
    }
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
    // AWS sends `Content-Length: 0`; hyper would too on HTTP/1.1, but say it on h2 as well.
    h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

/// Adds the headers AWS puts on every non-preflight answer to a request with an `Origin`.
pub fn decorate(req: &HeaderMap, resp: &mut Response<Body>) {
    if !req.contains_key(ORIGIN) {
        return;
    }
    let h = resp.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}
