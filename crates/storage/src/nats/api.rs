//! Requests to the JetStream API (`$JS.API.*`) as the stores use them: one request, its JSON
//! answer or its error code, and the leader's message get, whose answer carries the headers
//! and data in base64.

use std::time::Duration;

use async_nats::HeaderMap;
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;

/// JetStream's code for "no message found".
const NO_MESSAGE_FOUND: u64 = 10037;

/// A JetStream API failure: its error code, or the request itself failed.
#[derive(Debug)]
pub(super) enum ApiError {
    Js { err_code: u64, description: String },
    Transport(String),
}

impl ApiError {
    /// The number that ends JetStream's description ("wrong last sequence: 42"), if any.
    pub(super) fn trailing_number(&self) -> Option<u64> {
        match self {
            ApiError::Js { description, .. } => description
                .rsplit(|c: char| !c.is_ascii_digit())
                .next()
                .filter(|d| !d.is_empty())
                .and_then(|d| d.parse().ok()),
            ApiError::Transport(_) => None,
        }
    }

    pub(super) fn code(&self) -> Option<u64> {
        match self {
            ApiError::Js { err_code, .. } => Some(*err_code),
            ApiError::Transport(_) => None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Js {
                err_code,
                description,
            } => write!(f, "JetStream error {err_code}: {description}"),
            ApiError::Transport(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<JsError>,
}

#[derive(Deserialize)]
struct JsError {
    #[serde(default)]
    err_code: u64,
    #[serde(default)]
    description: String,
}

/// One request to `$JS.API.<what>`, its JSON answer decoded.
pub(super) async fn request<T: serde::de::DeserializeOwned>(
    client: &async_nats::Client,
    timeout: Duration,
    what: String,
    body: serde_json::Value,
) -> Result<T, ApiError> {
    let payload = Bytes::from(body.to_string());
    let reply = tokio::time::timeout(timeout, client.request(format!("$JS.API.{what}"), payload))
        .await
        .map_err(|_| ApiError::Transport(format!("{what}: no answer in {timeout:?}")))?
        .map_err(|e| ApiError::Transport(format!("{what}: {e}")))?;
    decode_answer(&reply.payload)
}

/// A stored message as the leader returns it.
pub(super) struct Message {
    pub seq: u64,
    pub headers: HeaderMap,
    pub data: Bytes,
}

#[derive(Deserialize)]
struct MsgGet {
    message: RawMsg,
}

#[derive(Deserialize)]
struct RawMsg {
    seq: u64,
    #[serde(default)]
    hdrs: Option<String>,
    #[serde(default)]
    data: Option<String>,
}

/// `STREAM.MSG.GET` of `stream` (answered by its leader, so it sees every acknowledged
/// write); `None` when no message matches `body`.
pub(super) async fn msg_get(
    client: &async_nats::Client,
    timeout: Duration,
    stream: &str,
    body: serde_json::Value,
) -> Result<Option<Message>, ApiError> {
    let m = match request::<MsgGet>(client, timeout, format!("STREAM.MSG.GET.{stream}"), body).await
    {
        Ok(m) => m.message,
        Err(e) if e.code() == Some(NO_MESSAGE_FOUND) => return Ok(None),
        Err(e) => return Err(e),
    };
    let b64 = |s: Option<&str>| {
        base64::engine::general_purpose::STANDARD
            .decode(s.unwrap_or(""))
            .map_err(|e| ApiError::Transport(format!("{stream} message {}: {e}", m.seq)))
    };
    Ok(Some(Message {
        seq: m.seq,
        headers: parse_headers(&b64(m.hdrs.as_deref())?),
        data: Bytes::from(b64(m.data.as_deref())?),
    }))
}

/// A NATS header block (`NATS/1.0\r\nName: value\r\n...`).
fn parse_headers(block: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let text = String::from_utf8_lossy(block);
    for line in text.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim(), value.trim());
        }
    }
    headers
}

/// A JetStream API answer: its `error`, or the value.
pub(super) fn decode_answer<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, ApiError> {
    if let Ok(ErrorBody { error: Some(e) }) = serde_json::from_slice::<ErrorBody>(payload) {
        return Err(ApiError::Js {
            err_code: e.err_code,
            description: e.description,
        });
    }
    serde_json::from_slice(payload).map_err(|e| {
        ApiError::Transport(format!(
            "unexpected JetStream answer ({e}): {}",
            String::from_utf8_lossy(&payload[..payload.len().min(200)])
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_end_is_read_from_jetstreams_description() {
        let e = decode_answer::<serde_json::Value>(
            br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 42"}}"#,
        )
        .unwrap_err();
        assert_eq!((e.code(), e.trailing_number()), (Some(10071), Some(42)));
        let e = decode_answer::<serde_json::Value>(
            br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.trailing_number(), None);
    }
}
