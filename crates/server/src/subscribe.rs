//! SubscribeToShard over HTTP: a 200 whose body is an AWS event stream, `initial-response`
//! first, then one `SubscribeToShardEvent` message per event the engine's subscription
//! yields, and an exception message if it fails after the start. HTTP/2 carries it as one
//! stream; HTTP/1.1 as a chunked body (what botocore reads).
//!
//! Backpressure: a task pulls the next event only when the previous frame has been taken
//! by hyper (a channel of one), and hyper takes frames only as fast as the peer's flow
//! control allows, so a slow subscriber is served at its own pace and nothing piles up.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame};
use tokio::sync::mpsc;
use tributary_engine::{Engine, RequestContext, Subscription};
use tributary_model::types::{SubscribeToShardEvent, SubscribeToShardInput};
use tributary_model::{ApiError, FromValue, ToValue, Value};
use tributary_protocol::errors::error_value;
use tributary_protocol::{eventstream, Format};

use crate::respond::{self, Body};

/// Starts the subscription; errors before the first event are ordinary error responses.
pub async fn handle(
    engine: &std::sync::Arc<Engine>,
    ctx: &RequestContext,
    format: Format,
    input: Value,
) -> Result<Response<Body>, ApiError> {
    let input = SubscribeToShardInput::from_value(input);
    let sub = engine
        .subscribe_to_shard(ctx, input)
        .await
        .map_err(ApiError::from)?;
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    tokio::spawn(pump(sub, format, tx));
    let mut r = Response::new(EventBody { rx }.boxed());
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(eventstream::CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(&respond::request_id()) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    Ok(r)
}

/// Drives the subscription until it ends, fails, or its response body is dropped (the peer
/// went away). Waiting for the next event also watches for the drop, so a subscription on a
/// quiet shard releases its (consumer, shard) claim at once instead of at its next event.
async fn pump(mut sub: Subscription, format: Format, tx: mpsc::Sender<Bytes>) {
    let ct = format.content_type();
    let Ok(first) = eventstream::initial_response(
        ct,
        &tributary_protocol::encode_output(format, &Value::Map(vec![])),
    ) else {
        return;
    };
    if tx.send(first).await.is_err() {
        return;
    }
    loop {
        let next = tokio::select! {
            next = sub.next_event() => next,
            () = tx.closed() => return,
        };
        let frame = match next {
            Ok(Some(event)) => eventstream::event(
                "SubscribeToShardEvent",
                ct,
                &tributary_protocol::encode_output(format, &event_value(&event)),
            ),
            Ok(None) => return,
            Err(e) => {
                let e = ApiError::from(e);
                let body = tributary_protocol::encode_output(format, &error_value(&e));
                if let Ok(f) = eventstream::exception(e.code.as_str(), ct, &body) {
                    let _ = tx.send(f).await;
                }
                return;
            }
        };
        match frame {
            Ok(f) => {
                if tx.send(f).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "event too large to frame");
                return;
            }
        }
    }
}

/// The wire form of an event. The last event of a closed shard carries ChildShards and no
/// ContinuationSequenceNumber (the engine leaves it empty): the KCL takes its absence as the
/// end of the shard and rejects an event with both, so the member is dropped, not sent empty.
fn event_value(event: &SubscribeToShardEvent) -> Value {
    let mut v = event.to_value();
    if event.continuation_sequence_number.is_empty() {
        if let Value::Map(m) = &mut v {
            m.retain(|(k, _)| k != "ContinuationSequenceNumber");
        }
    }
    v
}

/// The response body: frames as the pump produces them; the end of the channel ends it.
struct EventBody {
    rx: mpsc::Receiver<Bytes>,
}

impl HttpBody for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|f| f.map(|b| Ok(Frame::data(b))))
    }
}
