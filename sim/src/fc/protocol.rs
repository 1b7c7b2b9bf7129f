//! The Function Compute 2.0 front's protocol: InvokeFunction, async delivery with retries, timer
//! triggers and HTTP triggers, in front of function processes that listen on loopback ports.
//!
//! | request | what the sim does |
//! |---|---|
//! | `POST /2016-08-15/services/<svc>[.<q>]/functions/<fn>/invocations` | checks the FC signature (`Authorization: FC <id>:<sig>`, `Date` within 15 minutes, the STS token for temporary keys); `Sync`: runs the function and answers its result; `Async`: answers 202 and queues the event |
//! | any method on `/2016-08-15/proxy/<svc>[.<q>]/<fn>/<path>` | an HTTP trigger: forwards the request to the function with `x-fc-control-path: /http-invoke` and passes the answer back |
//! | anything else under `/2016-08-15/` | `501 NotImplemented`, in FC's JSON error format |
//!
//! Queued events are delivered at least once, no sooner than their `x-fc-async-delay`; a
//! delivery the function answers with `x-fc-status: 404` (or 5xx, or no answer at all) is tried
//! again up to the function's retry limit (3, as template.yml's `MaxAsyncRetryAttempts`), with
//! a back-off of 1, 2, 4 seconds. A stateful invocation id is accepted once: a second
//! submission with the same id answers `409 StatefulAsyncInvocationAlreadyExists`.
//!
//! Timer triggers fire on their `CronExpression` (FC's six-field cron with seconds first,
//! `CRON_TZ=`, `@every`), as asynchronous invocations carrying FC's timer event
//! `{"triggerTime", "triggerName", "payload"}`.
//!
//! Each delivery carries the headers FC sends a custom runtime (request id, function, service,
//! region, account, qualifier, memory, timeout, and the function's credentials) and is
//! recorded with its duration, so billed compute can be summed ([`FcFront::deliveries`]).
//!
//! The sim does not restart a function process that died: deliveries to it fail (and are
//! retried, then dropped) until something registers the function again.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use reimage_cloud::aliyun::fc::{MAX_ASYNC_DELAY_SECS, validate_invocation_id};
use reimage_cloud::aliyun::sign::fc as sign;

use super::errors::{DUPLICATE_ID_CODE, fc_error};
use super::state::{Delivery, FcFront, FunctionSpec, Outcome, Queued, lock};

/// The largest request body the front reads (FC's synchronous payload limit).
pub const MAX_BODY: usize = 32 * 1024 * 1024;
/// The largest asynchronous event (FC's limit).
pub const MAX_ASYNC_BODY: usize = 128 * 1024;
/// How far a request's `Date` may be from the sim's time.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// Gives the secret a request must have been signed with.
pub trait Keyring: Send + Sync {
    /// The secret of `access_key_id` (with `security_token` for STS keys) at `now`, or the
    /// cloud's error code and message.
    fn secret_for(
        &self,
        access_key_id: &str,
        security_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, (String, String)>;
}

/// Where a path under `/2016-08-15/` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Invoke {
        service: String,
        qualifier: Option<String>,
        function: String,
    },
    Proxy {
        service: String,
        qualifier: Option<String>,
        function: String,
        base_path: String,
    },
    Other,
}

fn split_qualifier(s: &str) -> (String, Option<String>) {
    match s.split_once('.') {
        Some((svc, q)) => (svc.to_owned(), Some(q.to_owned())),
        None => (s.to_owned(), None),
    }
}

fn route(path: &str) -> Route {
    let Some(rest) = path.strip_prefix("/2016-08-15/") else {
        return Route::Other;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["services", svc, "functions", function, "invocations"] => {
            let (service, qualifier) = split_qualifier(svc);
            Route::Invoke {
                service,
                qualifier,
                function: (*function).to_owned(),
            }
        }
        ["proxy", svc, function, ..] if !function.is_empty() => {
            let (service, qualifier) = split_qualifier(svc);
            Route::Proxy {
                base_path: format!("/2016-08-15/proxy/{svc}/{function}/"),
                service,
                qualifier,
                function: (*function).to_owned(),
            }
        }
        _ => Route::Other,
    }
}

impl FcFront {
    /// Answers a request under `/2016-08-15/`.
    pub async fn handle(&self, keys: &dyn Keyring, req: Request<Body>) -> Response {
        let path = req.uri().path().to_owned();
        match route(&path) {
            Route::Invoke {
                service,
                qualifier,
                function,
            } => self.invoke(keys, req, service, qualifier, function).await,
            Route::Proxy {
                service,
                qualifier,
                function,
                base_path,
            } => {
                self.proxy(keys, req, service, qualifier, function, base_path)
                    .await
            }
            Route::Other => fc_error(
                StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                format!(
                    "The sim's Function Compute serves InvokeFunction and HTTP triggers only, not {} {path}.",
                    req.method()
                ),
            ),
        }
    }

    /// Checks the FC signature of a request; `Err` is the answer to send.
    pub(super) fn authenticate(
        &self,
        keys: &dyn Keyring,
        method: &Method,
        headers: &HeaderMap,
        raw_path: &str,
        query: Option<&str>,
    ) -> Result<(), Box<Response>> {
        let forbidden =
            |code: &str, message: String| Box::new(fc_error(StatusCode::FORBIDDEN, code, message));
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let Some(auth) = header("authorization") else {
            return Err(forbidden(
                "SignatureNotMatch",
                "The request carries no Authorization header.".into(),
            ));
        };
        let Some((access_key_id, given)) = sign::parse_authorization(auth) else {
            return Err(forbidden(
                "SignatureNotMatch",
                "The Authorization header is not of the form `FC <AccessKeyId>:<Signature>`."
                    .into(),
            ));
        };
        let Some(date) = header("date") else {
            return Err(Box::new(fc_error(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "The request carries no Date header.",
            )));
        };
        let now = self.now();
        match DateTime::parse_from_rfc2822(date) {
            Ok(d) if (now - d.with_timezone(&Utc)).num_seconds().abs() <= MAX_SKEW_SECS => {}
            Ok(_) => {
                return Err(forbidden(
                    "RequestTimeTooSkewed",
                    format!(
                        "The Date {date:?} is more than 15 minutes from the server time {now}."
                    ),
                ));
            }
            Err(_) => {
                return Err(Box::new(fc_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    format!("The Date header {date:?} is not an RFC 1123 date."),
                )));
            }
        }
        let token = header("x-fc-security-token");
        let secret = keys
            .secret_for(access_key_id, token, now)
            .map_err(|(code, message)| forbidden(&code, message))?;
        let Some(path) = sign::unescape_path(raw_path) else {
            return Err(Box::new(fc_error(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "The request path has a malformed escape.",
            )));
        };
        let query: Vec<(String, Option<String>)> = query
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (
                    sign::unescape_path(k).unwrap_or_else(|| k.to_owned()),
                    Some(sign::unescape_path(v).unwrap_or_else(|| v.to_owned())),
                ),
                None => (sign::unescape_path(p).unwrap_or_else(|| p.to_owned()), None),
            })
            .collect();
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let expected = sign::sign(
            method.as_str(),
            &path,
            query.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
            pairs.iter().copied(),
            &secret,
        );
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            given.as_bytes(),
        )) {
            return Err(forbidden(
                "SignatureNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your access key and signing method.".into(),
            ));
        }
        Ok(())
    }

    pub(super) fn function(
        &self,
        service: &str,
        function: &str,
    ) -> Result<FunctionSpec, Box<Response>> {
        let functions = lock(&self.inner.functions);
        if let Some(spec) = functions.get(&(service.to_owned(), function.to_owned())) {
            return Ok(spec.clone());
        }
        if functions.keys().any(|(s, _)| s == service) {
            Err(Box::new(fc_error(
                StatusCode::NOT_FOUND,
                "FunctionNotFound",
                format!("function '{function}' does not exist in service '{service}'"),
            )))
        } else {
            Err(Box::new(fc_error(
                StatusCode::NOT_FOUND,
                "ServiceNotFound",
                format!("service '{service}' does not exist"),
            )))
        }
    }

    pub(super) async fn invoke(
        &self,
        keys: &dyn Keyring,
        req: Request<Body>,
        service: String,
        qualifier: Option<String>,
        function: String,
    ) -> Response {
        if req.method() != Method::POST {
            return fc_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "InvokeFunction takes POST.",
            );
        }
        let (parts, body) = req.into_parts();
        if let Err(answer) =
            self.authenticate(keys, &parts.method, &parts.headers, parts.uri.path(), None)
        {
            return *answer;
        }
        if let Some(account) = parts.headers.get("x-fc-account-id") {
            if account.as_bytes() != self.inner.account_id.as_bytes() {
                return fc_error(
                    StatusCode::FORBIDDEN,
                    "AccessDenied",
                    format!(
                        "x-fc-account-id {:?} is not this account.",
                        String::from_utf8_lossy(account.as_bytes())
                    ),
                );
            }
        }
        let spec = match self.function(&service, &function) {
            Ok(spec) => spec,
            Err(answer) => return *answer,
        };
        let _ = qualifier;
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let is_async = match header("x-fc-invocation-type") {
            None | Some("Sync") => false,
            Some("Async") => true,
            Some(other) => {
                return fc_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    format!("x-fc-invocation-type {other:?} is not Sync or Async."),
                );
            }
        };
        let limit = if is_async { MAX_ASYNC_BODY } else { MAX_BODY };
        let payload = match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(_) => {
                return fc_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PayloadTooLarge",
                    format!("The event is larger than {limit} bytes."),
                );
            }
        };
        if !is_async {
            let event = Queued::first((service, function), payload, None, None);
            let request_id = event.request_id.clone();
            let delivery = self.deliver(&spec, &event).await;
            return match delivery {
                Ok((status, body, failed)) => {
                    let mut resp = Response::new(Body::from(body));
                    *resp.status_mut() = StatusCode::OK;
                    let h = resp.headers_mut();
                    if let Ok(v) = HeaderValue::from_str(&request_id) {
                        h.insert("x-fc-request-id", v);
                    }
                    if failed {
                        h.insert(
                            "x-fc-error-type",
                            HeaderValue::from_static("UnhandledInvocationError"),
                        );
                    }
                    let _ = status;
                    resp
                }
                Err(why) => fc_error(
                    StatusCode::BAD_GATEWAY,
                    "FunctionNotStarted",
                    format!("The function's HTTP server did not answer: {why}"),
                ),
            };
        }
        let delay = match header("x-fc-async-delay") {
            None => 0,
            Some(v) => match v.parse::<u32>() {
                Ok(d) if d <= MAX_ASYNC_DELAY_SECS => d,
                _ => {
                    return fc_error(
                        StatusCode::BAD_REQUEST,
                        "InvalidArgument",
                        format!(
                            "x-fc-async-delay {v:?} is not a whole number of seconds from 0 to {MAX_ASYNC_DELAY_SECS}."
                        ),
                    );
                }
            },
        };
        let invocation_id = header("x-fc-stateful-async-invocation-id").map(str::to_owned);
        if let Some(id) = &invocation_id {
            if let Err(e) = validate_invocation_id(id) {
                return fc_error(StatusCode::BAD_REQUEST, "InvalidArgument", e.to_string());
            }
            let scoped = format!("{service}/{function}/{id}");
            if !lock(&self.inner.ids).insert(scoped) {
                return fc_error(
                    StatusCode::CONFLICT,
                    DUPLICATE_ID_CODE,
                    format!("An async invocation with id {id} exists already."),
                );
            }
        }
        let due = self.now() + chrono::Duration::seconds(i64::from(delay));
        let request_id = self.enqueue(
            Queued::first((service, function), payload, invocation_id, None),
            due,
        );
        (
            StatusCode::ACCEPTED,
            [(HeaderName::from_static("x-fc-request-id"), request_id)],
        )
            .into_response()
    }

    pub(super) async fn proxy(
        &self,
        keys: &dyn Keyring,
        req: Request<Body>,
        service: String,
        qualifier: Option<String>,
        function: String,
        base_path: String,
    ) -> Response {
        let spec = match self.function(&service, &function) {
            Ok(spec) => spec,
            Err(answer) => return *answer,
        };
        let _ = qualifier;
        let Some(trigger) = spec.http.clone() else {
            return fc_error(
                StatusCode::NOT_FOUND,
                "TriggerNotFound",
                format!("function '{function}' has no HTTP trigger"),
            );
        };
        if !trigger
            .methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(req.method().as_str()))
        {
            return fc_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("The HTTP trigger does not allow {}.", req.method()),
            );
        }
        if !trigger.anonymous {
            if let Err(answer) = self.authenticate(
                keys,
                req.method(),
                req.headers(),
                req.uri().path(),
                req.uri().query(),
            ) {
                return *answer;
            }
        }
        let (parts, body) = req.into_parts();
        let body = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(b) => b,
            Err(_) => {
                return fc_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PayloadTooLarge",
                    format!("The request body is larger than {MAX_BODY} bytes."),
                );
            }
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let mut forward = self
            .inner
            .http
            .request(
                parts.method.clone(),
                format!("{}{path_and_query}", spec.url),
            )
            .body(body);
        for (name, value) in &parts.headers {
            let n = name.as_str();
            if n.starts_with("x-fc-")
                || matches!(n, "host" | "connection" | "keep-alive" | "content-length")
            {
                continue;
            }
            forward = forward.header(name, value);
        }
        forward = forward.header("x-fc-base-path", base_path);
        for (k, v) in self.fc_headers(&spec, "/http-invoke", &request_id) {
            forward = forward.header(k, v);
        }
        let started = Instant::now();
        let sent_at = self.now();
        let result = forward
            .timeout(Duration::from_secs(u64::from(spec.timeout_secs.max(1)) + 1))
            .send()
            .await;
        match result {
            Ok(resp) => {
                let status = resp.status();
                let failed = resp
                    .headers()
                    .get("x-fc-status")
                    .is_some_and(|v| v.as_bytes() == b"404");
                let mut out = Response::builder().status(status);
                for (name, value) in resp.headers() {
                    let n = name.as_str();
                    if n.starts_with("x-fc-")
                        || matches!(
                            n,
                            "connection" | "content-length" | "date" | "keep-alive" | "server"
                        )
                    {
                        continue;
                    }
                    out = out.header(name, value);
                }
                out = out.header("x-fc-request-id", request_id.as_str());
                let body = resp.bytes().await.unwrap_or_default();
                let outcome = if failed {
                    Outcome::FunctionError(format!("HTTP {status}"))
                } else {
                    Outcome::Succeeded
                };
                self.record(http_delivery(&spec, request_id, sent_at, started, outcome));
                out.body(Body::from(body)).unwrap_or_else(|e| {
                    fc_error(StatusCode::BAD_GATEWAY, "BadResponse", e.to_string())
                })
            }
            Err(e) => {
                let outcome = Outcome::NotReached(e.to_string());
                self.record(http_delivery(&spec, request_id, sent_at, started, outcome));
                fc_error(
                    StatusCode::BAD_GATEWAY,
                    "FunctionNotStarted",
                    format!("The function's HTTP server did not answer: {e}"),
                )
            }
        }
    }

    /// The headers FC sends a custom runtime with each request.
    pub(super) fn fc_headers(
        &self,
        spec: &FunctionSpec,
        control_path: &str,
        request_id: &str,
    ) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("x-fc-control-path", control_path.to_owned()),
            ("x-fc-request-id", request_id.to_owned()),
            ("x-fc-function-name", spec.name.clone()),
            ("x-fc-function-handler", spec.handler.clone()),
            ("x-fc-function-memory", spec.memory_mb.to_string()),
            ("x-fc-function-timeout", spec.timeout_secs.to_string()),
            ("x-fc-service-name", spec.service.clone()),
            ("x-fc-region", self.inner.region_id.clone()),
            ("x-fc-account-id", self.inner.account_id.clone()),
            ("x-fc-qualifier", "LATEST".to_owned()),
        ];
        if let Some(c) = &spec.credentials {
            h.push(("x-fc-access-key-id", c.access_key_id().to_owned()));
            h.push(("x-fc-access-key-secret", c.secret().to_owned()));
            if let Some(t) = c.security_token() {
                h.push(("x-fc-security-token", t.to_owned()));
            }
        }
        h
    }
}

/// The record of one HTTP trigger request forwarded to `spec`'s function.
fn http_delivery(
    spec: &FunctionSpec,
    request_id: String,
    sent_at: DateTime<Utc>,
    started: Instant,
    outcome: Outcome,
) -> Delivery {
    Delivery {
        request_id,
        service: spec.service.clone(),
        function: spec.name.clone(),
        control_path: "/http-invoke",
        invocation_id: None,
        attempt: 1,
        sent_at,
        duration: started.elapsed(),
        outcome,
        memory_mb: spec.memory_mb,
        timer: None,
    }
}
