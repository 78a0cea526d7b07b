//! The connection loop of `rentgrid serve`: HTTP/1.1 connections, at most
//! [`Connections::max`] at once (one more waits in the kernel's queue until one closes), each
//! closed when its client takes longer than [`Connections::header_timeout`] to send a request's
//! headers or stays idle that long between requests (slow clients cannot hold the server), and a
//! graceful stop: at the shutdown signal no new connection is taken, the requests in flight are
//! answered for at most [`Connections::drain`], then the loop returns.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How connections are held.
#[derive(Debug, Clone, Copy)]
pub struct Connections {
    /// Connections open at once.
    pub max: usize,
    /// The longest a client may take to send a request's headers, or stay idle between requests.
    pub header_timeout: Duration,
    /// The longest the requests in flight are waited for at shutdown.
    pub drain: Duration,
}

impl Default for Connections {
    fn default() -> Self {
        Self { max: 10_000, header_timeout: Duration::from_secs(30), drain: Duration::from_secs(30) }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains (see the module). Each
/// request carries its peer's address as [`ConnectInfo<SocketAddr>`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    connections: Connections,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let places = Arc::new(Semaphore::new(connections.max.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(connections.header_timeout).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let place = tokio::select! {
            place = places.clone().acquire_owned() => match place {
                Ok(place) => place,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken: the
                    // listener stays good; wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req.map(Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
            drop(place);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(connections.drain) => {
            tracing::warn!("stopped with requests still in flight after {:?}", connections.drain);
        }
    }
    Ok(())
}
