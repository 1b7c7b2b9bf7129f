//! # reimage-fc-runtime
//!
//! A Function Compute custom runtime that knows nothing of reimage: the HTTP server FC starts
//! a function in, running one handler (an `async fn` taking a [`Context`] and the event).
//!
//! FC runs `/code/bootstrap` and talks to it over HTTP on `0.0.0.0:<CAPort>`
//! (<https://www.alibabacloud.com/help/doc-detail/191342.htm>). Every request carries an `x-fc-control-path` header ([`ControlPath`]) saying what it
//! is: an event invocation, an HTTP-trigger request, or a lifecycle hook. The runtime
//!
//! - reads the `x-fc-*` headers into a [`Context`] (the function's description falls back on
//!   the `FC_*` environment; the credentials are the request's own);
//! - writes the `FC Invoke Start RequestId: <id>` / `FC Invoke End RequestId: <id>` markers
//!   (and the Initialize / PreStop / PreFreeze ones) that FC cuts its per-request logs at;
//! - runs the handler inside a tracing span carrying the request id, so every JSON log line
//!   of the request names it;
//! - answers a handler error *or panic* with `x-fc-status: 404` and a JSON error body, and
//!   keeps serving;
//! - on SIGTERM stops accepting and lets requests in flight finish.
//!
//! A function's `main` is a few lines:
//!
//! ```no_run
//! use bytes::Bytes;
//! use reimage_fc_runtime::{self as runtime, Context, Function, HandlerError};
//!
//! async fn handle(ctx: Context, event: Bytes) -> Result<serde_json::Value, HandlerError> {
//!     Ok(serde_json::json!({ "request": ctx.request_id, "bytes": event.len() }))
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> std::process::ExitCode {
//!     runtime::exit_code(runtime::serve(Function::event(handle)).await)
//! }
//! ```
//!
//! Tests bind port 0 and call [`run`] with their own shutdown future.

mod context;
mod control;
mod credentials;
mod function;
mod markers;

use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tracing::Instrument as _;
use tracing::Subscriber;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use reimage_cloud::settings::Env;

pub use context::{Context, ContextError, headers};
pub use control::{CONTROL_PATH_HEADER, ControlPath};
pub use credentials::RequestCredentials;
pub use function::{BoxFuture, Function, HandlerError, IntoInvokeResponse};
pub use markers::{MarkerLog, MarkerSink, Markers, Stdout, end_line, start_line};

/// A request body as the runtime's server hands it over: read under a deadline.
type Served = reimage_cloud::server::TimeoutBody<Incoming>;

/// The port FC's custom runtime listens on when nothing says otherwise.
pub const DEFAULT_PORT: u16 = 9000;

/// The largest event body accepted: FC's synchronous payload limit.
pub const MAX_EVENT_BYTES: usize = 32 * 1024 * 1024;

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A port variable holds something that is not a port number.
    #[error("{var}={value:?} is not a TCP port number")]
    InvalidPort {
        /// The environment variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// The listening socket could not be bound.
    #[error("could not listen on 0.0.0.0:{port}")]
    Bind {
        /// The port.
        port: u16,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The SIGTERM handler could not be installed.
    #[error("could not install the SIGTERM handler")]
    Signal(#[source] std::io::Error),
}

/// The port to listen on: `FC_SERVER_PORT`, else `FC_CUSTOM_LISTEN_PORT` (the documented
/// name; community runtimes read the former), else 9000.
pub fn listen_port(env: &Env) -> Result<u16, RuntimeError> {
    for var in ["FC_SERVER_PORT", "FC_CUSTOM_LISTEN_PORT"] {
        if let Some(value) = env.get(var) {
            return value.trim().parse().map_err(|_| RuntimeError::InvalidPort {
                var,
                value: value.to_owned(),
            });
        }
    }
    Ok(DEFAULT_PORT)
}

/// Installs the JSON log subscriber on stdout (where FC collects logs, between the
/// markers), filtered by `RUST_LOG` (see [`log_filter`]). Does nothing if one is installed.
pub fn init_tracing(env: &Env) {
    let _ = json_subscriber(log_filter(env.get("RUST_LOG")), std::io::stdout).try_init();
}

/// The `RUST_LOG` filter of a function: a default level and `target=level` pairs, such as
/// `info` or `warn,reimage=debug`. Unset or unreadable, it is `info`. (No regular
/// expressions or span filters: they would cost every function a regex engine.)
pub fn log_filter(directives: Option<&str>) -> Targets {
    directives
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// The JSON log format of the runtime: one object per line, with the fields of the current
/// span (among them `request_id`) under `"span"`.
pub fn json_subscriber<W>(filter: Targets, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_max_level(LevelFilter::TRACE)
        .with_writer(writer)
        .finish()
        .with(filter)
}

/// Serves `function` as FC runs it: reads the process environment, logs JSON to stdout,
/// listens on `0.0.0.0` at [`listen_port`], and returns after SIGTERM (or Ctrl-C) once the
/// requests in flight are answered.
pub async fn serve(function: Function) -> Result<(), RuntimeError> {
    let env = Env::from_process();
    init_tracing(&env);
    let port = listen_port(&env)?;
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
        .await
        .map_err(|source| RuntimeError::Bind { port, source })?;
    let shutdown = shutdown_signal()?;
    let function = if function.env.is_some() {
        function
    } else {
        function.env(env)
    };
    tracing::info!(port, "reimage FC runtime listening");
    run(listener, function, shutdown).await;
    tracing::info!("reimage FC runtime stopped");
    Ok(())
}

/// Maps the outcome of [`serve`] to a process exit code, printing the error to stderr.
pub fn exit_code(result: Result<(), RuntimeError>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("reimage runtime: {}", reimage_cloud::report::chain(&err));
            std::process::ExitCode::FAILURE
        }
    }
}

/// A future that completes on SIGTERM or SIGINT.
fn shutdown_signal() -> Result<impl Future<Output = ()>, RuntimeError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(RuntimeError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(RuntimeError::Signal)?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: finishing requests in flight"),
            _ = int.recv() => tracing::info!("SIGINT: finishing requests in flight"),
        }
    })
}

/// The limits of the runtime's server. Its only client is Function Compute itself, which
/// keeps connections open between invocations (an instance is frozen in between), so an idle
/// connection is kept for 15 minutes, FC's longest function timeout, rather than the
/// seconds a public server allows; a body has a minute (events are at most 32 MiB, on
/// loopback).
pub const LIMITS: reimage_cloud::server::Limits = reimage_cloud::server::Limits {
    header_read: Duration::from_secs(900),
    body_read: Duration::from_secs(60),
    max_connections: 256,
    shutdown_grace: Duration::from_secs(10),
};

/// Serves `function` on `listener` until `shutdown` completes, then stops accepting and
/// gives the requests in flight [`LIMITS`]' grace to finish ([`reimage_cloud::server::serve`]).
pub async fn run(listener: TcpListener, function: Function, shutdown: impl Future<Output = ()>) {
    let function = Arc::new(function);
    reimage_cloud::server::serve(
        listener,
        LIMITS,
        move |_peer| {
            let function = Arc::clone(&function);
            move |req: reimage_cloud::server::ServedRequest| -> function::BoxFuture<Response<Body>> {
                let function = Arc::clone(&function);
                Box::pin(async move { handle(&function, req).await })
            }
        },
        shutdown,
    )
    .await;
}

/// Answers one request FC sent. The single place control paths are matched.
async fn handle(function: &Function, req: Request<Served>) -> Response<Body> {
    let Some(raw) = req.headers().get(CONTROL_PATH_HEADER) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            &HandlerError::new(
                "MissingControlPath",
                format!(
                    "the request has no `{CONTROL_PATH_HEADER}` header; Function Compute sends one of /invoke, /http-invoke, /initialize, /pre-stop, /pre-freeze"
                ),
            ),
        );
    };
    let Some(path) = raw.to_str().ok().and_then(ControlPath::parse) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            &HandlerError::new(
                "UnknownControlPath",
                format!(
                    "`{CONTROL_PATH_HEADER}: {}` is not a control path this runtime serves (expected one of /invoke, /http-invoke, /initialize, /pre-stop, /pre-freeze)",
                    String::from_utf8_lossy(raw.as_bytes())
                ),
            ),
        );
    };
    let empty = Env::default();
    let ctx =
        match Context::from_headers(path, req.headers(), function.env.as_ref().unwrap_or(&empty)) {
            Ok(ctx) => ctx,
            Err(err) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    &HandlerError::new("InvalidRequest", err.to_string()),
                );
            }
        };
    let request_id = ctx.request_id.clone();
    let span = tracing::info_span!("fc", request_id = %request_id, control_path = %path);
    async move {
        function.markers.start(path, &request_id);
        let response = match path {
            ControlPath::Invoke => invoke(function, ctx, req).await,
            ControlPath::HttpInvoke => http_invoke(function, ctx, req).await,
            ControlPath::Initialize => hook(function.initialize.as_ref(), ctx).await,
            ControlPath::PreStop => hook(function.pre_stop.as_ref(), ctx).await,
            ControlPath::PreFreeze => hook(function.pre_freeze.as_ref(), ctx).await,
        };
        function.markers.end(path, &request_id);
        response
    }
    .instrument(span)
    .await
}

async fn invoke(function: &Function, ctx: Context, req: Request<Served>) -> Response<Body> {
    let Some(handler) = function.event.as_ref() else {
        return failed(HandlerError::new(
            "NoEventHandler",
            "this function does not handle event invocations (/invoke)",
        ));
    };
    let body = match Limited::new(req.into_body(), MAX_EVENT_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &HandlerError::new(
                    "InvalidEvent",
                    format!("reading the event failed (limit {MAX_EVENT_BYTES} bytes): {err}"),
                ),
            );
        }
    };
    tracing::debug!(bytes = body.len(), "event received");
    match function::catch_panic(handler(ctx, body)).await {
        Ok(bytes) => ok_response(bytes),
        Err(err) => failed(err),
    }
}

async fn http_invoke(function: &Function, ctx: Context, req: Request<Served>) -> Response<Body> {
    let Some(handler) = function.http.as_ref() else {
        return error_response(
            StatusCode::NOT_FOUND,
            &HandlerError::new(
                "NoHttpHandler",
                "this function does not serve HTTP-trigger requests (/http-invoke)",
            ),
        );
    };
    let mut req = req.map(Body::new);
    strip_base_path(&mut req, ctx.base_path.as_deref());
    req.extensions_mut().insert(ctx);
    match function::catch_panic(handler(req)).await {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error_type = %err.error_type, error = %err.message, "HTTP handler failed");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, &err)
        }
    }
}

/// Removes FC's `x-fc-base-path` prefix (`/2016-08-15/proxy/<service>/<function>/`) from
/// the request path, so the HTTP handler sees the client's own path. The prefix stays
/// available as [`Context::base_path`].
fn strip_base_path(req: &mut Request<Body>, base: Option<&str>) {
    let Some(base) = base
        .map(|b| b.trim_end_matches('/'))
        .filter(|b| !b.is_empty())
    else {
        return;
    };
    let uri = req.uri();
    let Some(rest) = uri.path().strip_prefix(base) else {
        return;
    };
    if !rest.is_empty() && !rest.starts_with('/') {
        return;
    }
    let path = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    if let Ok(new_uri) = http::Uri::builder().path_and_query(path_and_query).build() {
        *req.uri_mut() = new_uri;
    }
}

async fn hook(hook: Option<&function::HookFn>, ctx: Context) -> Response<Body> {
    let Some(hook) = hook else {
        // FC calls a hook only when one is configured; answering success is harmless.
        return ok_response(Bytes::new());
    };
    match function::catch_panic(hook(ctx)).await {
        Ok(()) => ok_response(Bytes::new()),
        // A failed hook answers 404 (a 500 would make FC restart the instance).
        Err(err) => {
            tracing::error!(error_type = %err.error_type, error = %err.message, "lifecycle hook failed");
            error_response(StatusCode::NOT_FOUND, &err)
        }
    }
}

fn ok_response(body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert(headers::STATUS, HeaderValue::from_static("200"));
    response
}

/// A handler failure: HTTP 200 as FC expects from a runtime that answered, marked failed
/// with `x-fc-status: 404`.
fn failed(err: HandlerError) -> Response<Body> {
    tracing::error!(error_type = %err.error_type, error = %err.message, "invocation failed");
    error_response(StatusCode::OK, &err)
}

fn error_response(status: StatusCode, err: &HandlerError) -> Response<Body> {
    let mut response = Response::new(Body::from(err.to_json().to_string()));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(headers::STATUS, HeaderValue::from_static("404"));
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests;
