//! Accept loop: one tokio task per connection, HTTP/1.1 or h2c chosen by the first bytes
//! (hyper-util's auto builder recognises the HTTP/2 connection preface); with TLS, after the
//! handshake, the same choice (ALPN offers h2, then http/1.1).
//!
//! Connection limit: each connection holds a semaphore permit for its whole life. When none
//! is left the loop stops accepting until a connection closes; new connections wait in the
//! kernel's listen backlog meanwhile (and are refused by it once that is full), so a flood
//! of connections costs bounded memory and file descriptors instead of failing every
//! accept with EMFILE.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::auth::ConnInfo;
use crate::tls::CertSource;
use crate::{pipeline, AppState};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve_conn<I>(
    builder: auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    io: I,
    state: Arc<AppState>,
    info: ConnInfo,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        let state = state.clone();
        req.extensions_mut().insert(info);
        async move { Ok::<_, std::convert::Infallible>(pipeline::handle(state, req).await) }
    });
    let conn = watcher.watch(builder.serve_connection(io, svc).into_owned());
    if let Err(e) = conn.await {
        tracing::debug!(peer = %info.peer, error = %e, "connection ended with an error");
    }
}

/// Serves until `shutdown` resolves, then waits (at most `drain`) for open requests.
/// With `tls`, every connection starts with a TLS handshake (ALPN `h2` or `http/1.1`).
/// At most `max_connections` connections are open at once.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    tls: Option<Arc<CertSource>>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
    max_connections: NonZeroUsize,
) {
    // Above MAX_PERMITS (about 2^61) the limit could never be reached anyway.
    let slots = Arc::new(Semaphore::new(
        max_connections.get().min(Semaphore::MAX_PERMITS),
    ));
    let acceptor = tls.map(|t| TlsAcceptor::from(t.server_config()));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_concurrent_streams(1000)
        .initial_stream_window_size(4 << 20)
        .initial_connection_window_size(16 << 20);
    // Whether the limit was reached and no slot has been found free since: one warning per
    // episode, not one per connection accepted while it lasts.
    let mut saturated = false;
    tokio::pin!(shutdown);
    loop {
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(p) => {
                saturated = false;
                p
            }
            Err(_) => {
                if !saturated {
                    saturated = true;
                    tracing::warn!(
                        max_connections,
                        "connection limit reached; new connections wait in the listen backlog"
                    );
                }
                tokio::select! {
                    p = Arc::clone(&slots).acquire_owned() => {
                        p.expect("the semaphore is never closed")
                    }
                    _ = &mut shutdown => break,
                }
            }
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let watcher = graceful.watcher();
                let builder = builder.clone();
                let state = state.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    match acceptor {
                        None => {
                            let info = ConnInfo { peer, tls: false };
                            serve_conn(builder, watcher, TokioIo::new(stream), state, info).await
                        }
                        Some(a) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, a.accept(stream)).await {
                            Ok(Ok(tls)) => {
                                let info = ConnInfo { peer, tls: true };
                                serve_conn(builder, watcher, TokioIo::new(tls), state, info).await
                            }
                            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        },
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {drain:?}; closing them");
    }
}
