//! A function: the handlers one FC custom-runtime process serves.
//!
//! Handlers are plain async functions. An event handler takes the [`Context`] and the raw
//! event bytes and returns anything [`IntoInvokeResponse`] (bytes, a string, a
//! `serde_json::Value`, `()`); an HTTP handler is any `tower::Service` over
//! `http::Request<Body>` (an axum `Router` fits as is) and finds the [`Context`] in the
//! request's extensions.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use futures::FutureExt as _;
use http::{Request, Response};
use tower::ServiceExt as _;

use reimage_cloud::settings::Env;

use super::context::Context;
use super::markers::{MarkerSink, Markers};

/// A boxed, sendable future.
pub type BoxFuture<T> = futures::future::BoxFuture<'static, T>;

type EventFn = Arc<dyn Fn(Context, Bytes) -> BoxFuture<Result<Bytes, HandlerError>> + Send + Sync>;
pub(super) type HookFn = Arc<dyn Fn(Context) -> BoxFuture<Result<(), HandlerError>> + Send + Sync>;
type HttpFn =
    Arc<dyn Fn(Request<Body>) -> BoxFuture<Result<Response<Body>, HandlerError>> + Send + Sync>;

/// The one error type that reaches the platform: a kind and a message, sent back as the
/// JSON body `{"errorType": ..., "errorMessage": ...}` with `x-fc-status: 404`.
///
/// Any `std::error::Error` converts into it (so `?` works in a handler); the message is the
/// error with its chain of causes. Like `lambda_runtime`'s diagnostic, it deliberately does
/// not implement `std::error::Error` itself, which is what makes that blanket conversion
/// possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    /// A short name of what went wrong, e.g. `InvalidEvent`.
    pub error_type: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl HandlerError {
    /// An error of `error_type` saying `message`.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            message: message.into(),
        }
    }

    /// The JSON body FC's caller sees.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "errorType": self.error_type, "errorMessage": self.message })
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl<E: std::error::Error + 'static> From<E> for HandlerError {
    fn from(err: E) -> Self {
        let full = std::any::type_name::<E>();
        let short = full
            .split('<')
            .next()
            .and_then(|p| p.rsplit("::").next())
            .unwrap_or(full);
        Self::new(short, reimage_cloud::report::chain(&err))
    }
}

/// What an event handler may return: the bytes that become the invocation's result.
pub trait IntoInvokeResponse {
    /// The response body.
    fn into_body(self) -> Result<Bytes, HandlerError>;
}

impl IntoInvokeResponse for Bytes {
    fn into_body(self) -> Result<Bytes, HandlerError> {
        Ok(self)
    }
}

impl IntoInvokeResponse for Vec<u8> {
    fn into_body(self) -> Result<Bytes, HandlerError> {
        Ok(Bytes::from(self))
    }
}

impl IntoInvokeResponse for String {
    fn into_body(self) -> Result<Bytes, HandlerError> {
        Ok(Bytes::from(self))
    }
}

impl IntoInvokeResponse for &'static str {
    fn into_body(self) -> Result<Bytes, HandlerError> {
        Ok(Bytes::from_static(self.as_bytes()))
    }
}

impl IntoInvokeResponse for () {
    fn into_body(self) -> Result<Bytes, HandlerError> {
        Ok(Bytes::new())
    }
}

impl IntoInvokeResponse for serde_json::Value {
    fn into_body(self) -> Result<Bytes, HandlerError> {
        serde_json::to_vec(&self)
            .map(Bytes::from)
            .map_err(|e| HandlerError::new("InvalidResponse", e.to_string()))
    }
}

/// The handlers of one function, plus where its markers go and the environment its
/// [`Context`] falls back to.
#[derive(Clone, Default)]
pub struct Function {
    pub(super) event: Option<EventFn>,
    pub(super) http: Option<HttpFn>,
    pub(super) initialize: Option<HookFn>,
    pub(super) pre_stop: Option<HookFn>,
    pub(super) pre_freeze: Option<HookFn>,
    pub(super) markers: Markers,
    pub(super) env: Option<Env>,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("event", &self.event.is_some())
            .field("http", &self.http.is_some())
            .field("initialize", &self.initialize.is_some())
            .field("pre_stop", &self.pre_stop.is_some())
            .field("pre_freeze", &self.pre_freeze.is_some())
            .field("env", &self.env)
            .finish()
    }
}

impl Function {
    /// A function with no handlers: every invocation answers that nothing handles it.
    pub fn new() -> Self {
        Self::default()
    }

    /// A function whose `/invoke` requests go to `handler`.
    pub fn event<H, Fut, O>(handler: H) -> Self
    where
        H: Fn(Context, Bytes) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, HandlerError>> + Send + 'static,
        O: IntoInvokeResponse,
    {
        Self::new().on_event(handler)
    }

    /// A function whose `/http-invoke` requests go to `service`.
    pub fn http<S, B>(service: S) -> Self
    where
        S: tower::Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: fmt::Display,
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Self::new().on_http(service)
    }

    /// Sends `/invoke` requests to `handler`.
    pub fn on_event<H, Fut, O>(mut self, handler: H) -> Self
    where
        H: Fn(Context, Bytes) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, HandlerError>> + Send + 'static,
        O: IntoInvokeResponse,
    {
        self.event = Some(Arc::new(move |ctx, body| {
            let fut = handler(ctx, body);
            Box::pin(async move { fut.await?.into_body() })
        }));
        self
    }

    /// Sends `/http-invoke` requests to `service` (an axum `Router`, a `tower::service_fn`, …).
    pub fn on_http<S, B>(mut self, service: S) -> Self
    where
        S: tower::Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: fmt::Display,
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.http = Some(Arc::new(move |req| {
            let svc = service.clone();
            Box::pin(async move {
                svc.oneshot(req)
                    .await
                    .map(|resp| resp.map(Body::new))
                    .map_err(|e| HandlerError::new("HttpHandlerError", e.to_string()))
            })
        }));
        self
    }

    /// Runs `hook` on `/initialize`.
    pub fn on_initialize<H, Fut>(mut self, hook: H) -> Self
    where
        H: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.initialize = Some(box_hook(hook));
        self
    }

    /// Runs `hook` on `/pre-stop`.
    pub fn on_pre_stop<H, Fut>(mut self, hook: H) -> Self
    where
        H: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.pre_stop = Some(box_hook(hook));
        self
    }

    /// Runs `hook` on `/pre-freeze`.
    pub fn on_pre_freeze<H, Fut>(mut self, hook: H) -> Self
    where
        H: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.pre_freeze = Some(box_hook(hook));
        self
    }

    /// Writes the log markers to `sink` instead of stdout.
    pub fn markers(mut self, sink: impl MarkerSink + 'static) -> Self {
        self.markers = Markers::new(sink);
        self
    }

    /// Falls back to `env` for what the request headers leave out (function name, region,
    /// credentials, …). [`super::serve`] sets the process environment when none is given.
    pub fn env(mut self, env: Env) -> Self {
        self.env = Some(env);
        self
    }
}

fn box_hook<H, Fut>(hook: H) -> HookFn
where
    H: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    Arc::new(move |ctx| Box::pin(hook(ctx)))
}

/// Runs `fut`, turning a panic inside it into a [`HandlerError`] of type `Panic`.
pub(super) async fn catch_panic<T>(
    fut: impl Future<Output = Result<T, HandlerError>>,
) -> Result<T, HandlerError> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the handler panicked".to_owned());
            Err(HandlerError::new("Panic", message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the execution failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn any_error_converts_with_its_causes_and_short_type_name() {
        let err: HandlerError = Outer(std::io::Error::other("disk gone")).into();
        assert_eq!(err.error_type, "Outer");
        assert_eq!(err.message, "reading the execution failed: disk gone");
        assert_eq!(
            err.to_json(),
            serde_json::json!({"errorType": "Outer", "errorMessage": "reading the execution failed: disk gone"})
        );
    }

    #[tokio::test]
    async fn a_panic_becomes_a_panic_error_with_its_message() {
        let err = catch_panic(async {
            if true {
                panic!("boom at step 3");
            }
            Ok::<(), HandlerError>(())
        })
        .await
        .expect_err("panicked");
        assert_eq!(err.error_type, "Panic");
        assert_eq!(err.message, "boom at step 3");
    }

    #[test]
    fn json_values_serialize_as_the_response_body() {
        let body = serde_json::json!({"ok": true})
            .into_body()
            .expect("serializable");
        assert_eq!(&body[..], br#"{"ok":true}"#);
        assert!(().into_body().expect("empty").is_empty());
    }
}
