//! The one HTTP/1.1 serving loop of `reimage serve`, the sim and the Function Compute runtime,
//! hardened against slow and hostile clients.
//!
//! [`serve`] takes a bound listener, a service per connection, [`Limits`] and a shutdown
//! future:
//!
//! - **header-read timeout**: a connection that has not sent a whole request head within
//!   [`Limits::header_read`] is closed. This also bounds how long an idle keep-alive
//!   connection is kept, since waiting for the next request is waiting for its head.
//! - **body-read timeout**: a request body not read whole within [`Limits::body_read`] fails
//!   the read, so a client trickling its body cannot hold a handler (see [`TimeoutBody`]).
//! - **connection cap**: at most [`Limits::max_connections`] connections are served at once;
//!   beyond it no further connection is accepted until one ends (new ones wait in the
//!   kernel's backlog). The header-read timeout bounds how long slow clients can hold the
//!   places.
//! - **graceful-shutdown deadline**: when `shutdown` completes, the listener closes,
//!   connections with no request in flight close at once, requests in flight get
//!   [`Limits::shutdown_grace`] to finish, then every remaining connection is dropped and
//!   [`serve`] returns.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The limits a server holds its clients to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time allowed for a request head, from the moment the connection waits for one.
    pub header_read: Duration,
    /// Time allowed for a whole request body, from its first read.
    pub body_read: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Time requests in flight get to finish after shutdown begins.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    /// 10 s for a head, 30 s for a body, 1,024 connections, 10 s of grace.
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// A request as a served service sees it: its body reads under [`Limits::body_read`].
pub type ServedRequest = Request<TimeoutBody<Incoming>>;

/// Serves on `listener` until `shutdown` completes, then shuts down within
/// [`Limits::shutdown_grace`] (see the module documentation). `make_service` is called once
/// per connection with the peer's address.
pub async fn serve<M, S, B>(
    listener: TcpListener,
    limits: Limits,
    make_service: M,
    shutdown: impl Future<Output = ()>,
) where
    M: Fn(SocketAddr) -> S,
    S: Fn(ServedRequest) -> Answer<B> + Send + Sync + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let places = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Wait for a free place before accepting: beyond the cap, connections wait in the
        // backlog rather than being accepted and starved.
        let place = tokio::select! {
            place = Arc::clone(&places).acquire_owned() => match place {
                Ok(place) => place,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = Arc::new(make_service(peer));
        let body_read = limits.body_read;
        let hyper_service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let service = Arc::clone(&service);
            async move {
                let req = req.map(|body| TimeoutBody::new(body, body_read));
                Ok::<_, Infallible>(service(req).await)
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read)
            .serve_connection(TokioIo::new(stream), hyper_service);
        let conn = graceful.watch(conn);
        connections.spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(place);
        });
        // Reap finished connections so the set does not grow with history.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            remaining = connections.len(),
            "requests still in flight after the shutdown grace: dropping them"
        );
    }
    connections.shutdown().await;
}

/// A request body that fails with [`BodyTimedOut`] if it is not read whole within its
/// deadline, counted from the first read.
#[derive(Debug)]
pub struct TimeoutBody<B> {
    inner: B,
    timeout: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> TimeoutBody<B> {
    /// `inner`, to be read whole within `timeout`.
    pub fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: None,
        }
    }
}

/// The error of a request body not read whole in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within its time limit")]
pub struct BodyTimedOut;

impl<B> Body for TimeoutBody<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let timeout = this.timeout;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The answer of a service served by [`serve`].
pub type Answer<B> = futures::future::BoxFuture<'static, Response<B>>;

/// A service of one connection, as [`axum_service`] makes them.
pub type AxumConnection = Box<dyn Fn(ServedRequest) -> Answer<axum::body::Body> + Send + Sync>;

/// A per-connection service for [`serve`] that hands each request to an axum [`Router`],
/// with the peer's address as `axum::extract::ConnectInfo`.
///
/// [`Router`]: axum::Router
pub fn axum_service(router: axum::Router) -> impl Fn(SocketAddr) -> AxumConnection {
    move |peer| {
        let router = router.clone();
        Box::new(move |req: ServedRequest| {
            let router = router.clone();
            Box::pin(async move {
                use tower::ServiceExt as _;
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                match router.oneshot(req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            })
        })
    }
}

#[cfg(test)]
mod tests;
