//! SubscribeToShard over HTTP: a 200 whose body is an AWS event stream, `initial-response`
//! first, then one `SubscribeToShardEvent` message per event the engine's subscription
//! yields, and an exception message if it fails after the start. HTTP/2 carries it as one
//! stream; HTTP/1.1 as a chunked body (what botocore reads).
//!
//! Backpressure: a task pulls the next event only when the channel to hyper (of one) has
//! room, so at most one frame waits ahead of the one being sent, and hyper takes frames only
//! as fast as the peer's flow control allows: a slow subscriber is served at its own pace
//! and nothing piles up.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame};
use tokio::sync::mpsc;
use tributary_engine::Subscription;
use tributary_model::types::SubscribeToShardOutput;
use tributary_model::ApiError;
use tributary_protocol::encode::to_body;
use tributary_protocol::errors::encode_error;
use tributary_protocol::{eventstream, Format};

use crate::respond::Body;

/// The response body of a started subscription (errors before the start are ordinary error
/// responses); `respond::reply` puts the headers on it.
pub(crate) fn events(sub: Subscription, format: Format) -> Body {
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    tokio::spawn(pump(sub, format, tx));
    EventBody { rx }.boxed()
}

/// Drives the subscription until it ends, fails, or its response body is dropped (the peer
/// went away). Waiting for the next event also watches for the drop, so a subscription on a
/// quiet shard releases its (consumer, shard) claim at once instead of at its next event.
async fn pump(mut sub: Subscription, format: Format, tx: mpsc::Sender<Bytes>) {
    let ct = format.content_type();
    // The initial response carries the operation's output: no members but the stream.
    let output = to_body(format, &SubscribeToShardOutput::default());
    let Ok(first) = eventstream::initial_response(ct, &output) else {
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
            Ok(Some(event)) => {
                eventstream::event("SubscribeToShardEvent", ct, &to_body(format, &event))
            }
            Ok(None) => return,
            Err(e) => {
                let e = ApiError::from(e);
                let body = encode_error(format, &e);
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
