//! What every request must carry before it is served: an `Authorization` header or a
//! presigned query, well formed, as on AWS. Signatures are verified by the security layer
//! when credentials are configured; without them (the local default) only the form is
//! checked and the credential scope names the region.

use http::HeaderMap;
use tributary_model::{ApiError, ErrorCode};

/// The caller as far as the request says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key: String,
    /// From the credential scope; `us-east-1` when the scope has none.
    pub region: String,
}

const DEFAULT_REGION: &str = "us-east-1";

pub fn caller(headers: &HeaderMap, query: Option<&str>) -> Result<Caller, ApiError> {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let params = query.map(parse_query).unwrap_or_default();
    let presigned = params.iter().any(|(k, _)| k == "X-Amz-Algorithm");
    match (header, presigned) {
        (Some(_), true) => Err(ApiError::new(
            ErrorCode::InvalidSignatureException,
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
        )),
        (None, false) => Err(ApiError::new(
            ErrorCode::MissingAuthenticationTokenException,
            "Missing Authentication Token",
        )),
        (Some(h), false) => from_header(h, headers),
        (None, true) => from_query(&params),
    }
}

fn from_header(h: &str, headers: &HeaderMap) -> Result<Caller, ApiError> {
    // "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, SignedHeaders=…, Signature=…"
    let fields: Vec<(&str, &str)> = h
        .split([',', ' '])
        .skip(1)
        .filter(|s| !s.is_empty())
        .filter_map(|kv| kv.trim().split_once('='))
        .collect();
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty())
    };
    let mut msg = String::new();
    for p in ["Credential", "Signature", "SignedHeaders"] {
        if get(p).is_none() {
            msg.push_str(&format!("Authorization header requires '{p}' parameter. "));
        }
    }
    if !headers.contains_key("x-amz-date") && !headers.contains_key(http::header::DATE) {
        msg.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if !msg.is_empty() {
        msg.push_str(&format!("Authorization={h}"));
        return Err(ApiError::new(ErrorCode::IncompleteSignatureException, msg));
    }
    Ok(scope(get("Credential").unwrap_or_default()))
}

fn from_query(params: &[(String, String)]) -> Result<Caller, ApiError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let mut msg = String::new();
    for p in [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ] {
        if get(p).is_none() {
            msg.push_str(&format!("AWS query-string parameters must include '{p}'. "));
        }
    }
    if !msg.is_empty() {
        msg.push_str("Re-examine the query-string parameters.");
        return Err(ApiError::new(ErrorCode::IncompleteSignatureException, msg));
    }
    Ok(scope(get("X-Amz-Credential").unwrap_or_default()))
}

/// `AKID/20240101/us-east-1/kinesis/aws4_request` to the key and the region.
fn scope(credential: &str) -> Caller {
    let mut parts = credential.split('/');
    let access_key = parts.next().unwrap_or_default().to_string();
    let region = parts
        .nth(1)
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_REGION)
        .to_string();
    Caller { access_key, region }
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn reads_the_region_from_the_scope() {
        let h = headers(&[
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-3/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd"),
            ("x-amz-date", "20240101T000000Z"),
        ]);
        assert_eq!(
            caller(&h, None).unwrap(),
            Caller {
                access_key: "AKID".into(),
                region: "eu-west-3".into()
            }
        );
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20240101%2Fap-south-1%2Fkinesis%2Faws4_request&X-Amz-Signature=ab&X-Amz-SignedHeaders=host&X-Amz-Date=20240101T000000Z";
        assert_eq!(
            caller(&HeaderMap::new(), Some(q)).unwrap().region,
            "ap-south-1"
        );
    }

    #[test]
    fn answers_aws_errors_for_missing_or_incomplete_auth() {
        let e = caller(&HeaderMap::new(), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingAuthenticationTokenException);
        let h = headers(&[("authorization", "AWS4-HMAC-SHA256 Credential=A/x")]);
        let e = caller(&h, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::IncompleteSignatureException);
        assert_eq!(
            e.message.unwrap(),
            "Authorization header requires 'Signature' parameter. Authorization header requires \
             'SignedHeaders' parameter. Authorization header requires existence of either a \
             'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=A/x"
        );
        let h = headers(&[("authorization", "x")]);
        let e = caller(&h, Some("X-Amz-Algorithm=a")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidSignatureException);
    }
}
