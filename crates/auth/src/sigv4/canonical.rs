//! The canonical request, exactly as AWS defines it:
//!
//! ```text
//! METHOD \n
//! canonical URI          (dot segments and empty segments removed, then URI-encoded)
//! canonical query        (each name and value decoded, re-encoded, then sorted)
//! canonical headers      (lower-case name ':' trimmed value, sequential spaces folded) \n
//! signed headers         (the `SignedHeaders` list as the client sent it)
//! payload hash           (hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`)
//! ```
//!
//! Everything here works on bytes and never fails: a malformed input yields a canonical request
//! that simply will not match the client's signature.

use super::{PathEncoding, SignedRequest};

/// RFC 3986 unreserved characters: the only bytes SigV4 leaves unencoded (besides `/` in paths).
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Percent-encodes every byte but the unreserved ones (and `/` when `keep_slash`), with
/// upper-case hex as SigV4 requires.
pub(crate) fn uri_encode(input: &[u8], keep_slash: bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in input {
        if unreserved(b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

/// Decodes `%XX` escapes; anything else (including a broken escape) is kept as it is. `+` is not
/// a space here: SigV4 signs the query as sent, and SDKs encode a space as `%20`.
pub(crate) fn percent_decode(input: &str) -> Vec<u8> {
    let b = input.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The query string split into decoded `(name, value)` pairs, empty pieces skipped.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

/// RFC 3986 section 5.2.4 dot-segment removal, plus the empty-segment removal AWS applies to
/// every service but S3 (`//a//b/` is `/a/b/`).
fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical URI of a path as it appeared on the wire (still percent-encoded).
pub fn canonical_uri(path: &str, encoding: PathEncoding) -> String {
    let normalized = normalize_path(path);
    let mut out = String::with_capacity(normalized.len() + 8);
    match encoding {
        // The client encoded the path once to send it and its signer encodes it again: `%`
        // itself becomes `%25`. This is what every SDK does for every service but S3.
        PathEncoding::Double => uri_encode(normalized.as_bytes(), true, &mut out),
        PathEncoding::Single => uri_encode(&percent_decode(&normalized), true, &mut out),
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical query string; `skip` names a parameter left out (`X-Amz-Signature` when the
/// request is presigned).
pub fn canonical_query(query: &str, skip: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(query)
        .filter(|(k, _)| skip.is_none_or(|s| k.as_slice() != s.as_bytes()))
        .map(|(k, v)| {
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&k, false, &mut ek);
            uri_encode(&v, false, &mut ev);
            (ek, ev)
        })
        .collect();
    // Byte order of the encoded name, then of the encoded value (for repeated names).
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Trims a header value and folds every run of whitespace inside it into one space.
fn trim_all(value: &str, out: &mut String) {
    for (i, word) in value.split_ascii_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// The canonical request for `req`, signing the headers named in `signed_headers` (the
/// `;`-separated list as the client sent it) with `payload_hash` as its last line.
pub fn canonical_request(
    req: &SignedRequest<'_>,
    signed_headers: &str,
    payload_hash: &str,
    encoding: PathEncoding,
    skip_query: Option<&str>,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path, encoding));
    out.push('\n');
    out.push_str(&canonical_query(req.query.unwrap_or(""), skip_query));
    out.push('\n');
    for name in signed_headers.split(';') {
        out.push_str(&name.to_ascii_lowercase());
        out.push(':');
        // Repeated headers are joined with commas, in the order they arrived.
        for (i, value) in req.header_values(name).enumerate() {
            if i > 0 {
                out.push(',');
            }
            trim_all(value, &mut out);
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(payload_hash);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_like_the_suite() {
        for (raw, want) in [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/a/b/../c/./d", "/a/c/d"),
        ] {
            assert_eq!(canonical_uri(raw, PathEncoding::Double), want, "{raw}");
        }
        assert_eq!(
            canonical_uri("/a%20b/%E1%88%B4", PathEncoding::Double),
            "/a%2520b/%25E1%2588%25B4"
        );
        assert_eq!(
            canonical_uri("/a%20b/%E1%88%B4", PathEncoding::Single),
            "/a%20b/%E1%88%B4"
        );
        assert_eq!(canonical_uri("/a b", PathEncoding::Single), "/a%20b");
    }

    #[test]
    fn queries_sort_by_encoded_name_then_value() {
        assert_eq!(
            canonical_query("Param2=value2&Param1=value1", None),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(
            canonical_query("Param1=value2&Param1=Value1", None),
            "Param1=Value1&Param1=value2"
        );
        assert_eq!(canonical_query("a&b=&&c=%7e+", None), "a=&b=&c=~%2B");
        assert_eq!(canonical_query("%E1%88%B4=bar", None), "%E1%88%B4=bar");
        assert_eq!(
            canonical_query("X-Amz-Signature=ab&x=1", Some("X-Amz-Signature")),
            "x=1"
        );
        assert_eq!(canonical_query("bad=%zz%4", None), "bad=%25zz%254");
    }

    #[test]
    fn header_values_are_trimmed_and_folded() {
        let mut s = String::new();
        trim_all("  \"a   b \t  c\"  ", &mut s);
        assert_eq!(s, "\"a b c\"");
    }
}
