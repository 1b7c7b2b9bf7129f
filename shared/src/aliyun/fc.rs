//! Function Compute 2.0 `InvokeFunction`: how one reimage step starts the next.
//!
//! `POST /2016-08-15/services/<service>[.<qualifier>]/functions/<function>/invocations` on
//! `<account>.<region>.fc.aliyuncs.com` (reference §3.1), the raw event as the body, signed
//! with [`crate::aliyun::sign::fc`]. reimage sends:
//!
//! | header | value |
//! |---|---|
//! | `Date` | RFC 1123 GMT, from the injected clock |
//! | `Content-Type` | `application/octet-stream` |
//! | `x-fc-account-id` | the account that owns the service |
//! | `x-fc-invocation-type` | `Async` for step chaining (`Sync` for tools) |
//! | `x-fc-async-delay` | seconds before an async event is delivered, 0–3600 |
//! | `X-Fc-Stateful-Async-Invocation-Id` | the idempotency id, see [`invocation_id`] |
//! | `x-fc-security-token` | the STS token, when the credentials are temporary |
//!
//! `Content-MD5` is not sent: it is optional, and the SDKs disagree on its encoding (the
//! Node SDK sends base64 of the *hex* digest), so the signed line stays empty.
//!
//! The request is built and signed by [`prepare`], a pure function, and sent by
//! [`FcClient`].

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::clock::SharedClock;
use crate::settings::Env;

use super::sign::fc as sign;

/// The FC 2.0 API version, the first segment of every path.
pub const API_VERSION: &str = "2016-08-15";

/// The longest delay `x-fc-async-delay` accepts, in seconds.
pub const MAX_ASYNC_DELAY_SECS: u32 = 3600;

/// The longest stateful async invocation id FC accepts.
pub const MAX_INVOCATION_ID_LEN: usize = 128;

/// Header names of the InvokeFunction request and response.
pub mod headers {
    /// `Sync` or `Async`.
    pub const INVOCATION_TYPE: &str = "x-fc-invocation-type";
    /// Delay of an async invocation, in seconds.
    pub const ASYNC_DELAY: &str = "x-fc-async-delay";
    /// Idempotency id of an async invocation.
    pub const STATEFUL_INVOCATION_ID: &str = "x-fc-stateful-async-invocation-id";
    /// The account that owns the service.
    pub const ACCOUNT_ID: &str = "x-fc-account-id";
    /// The STS token of temporary credentials.
    pub const SECURITY_TOKEN: &str = "x-fc-security-token";
    /// The request id FC gives every call.
    pub const REQUEST_ID: &str = "x-fc-request-id";
    /// On a synchronous call: `UnhandledInvocationError` or `HandledInvocationError` when
    /// the function failed.
    pub const ERROR_TYPE: &str = "x-fc-error-type";
}

/// How the function is invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    /// Wait for the result.
    Sync,
    /// Queue the event; FC answers 202 and delivers it at least once.
    Async,
}

impl InvocationType {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            InvocationType::Sync => "Sync",
            InvocationType::Async => "Async",
        }
    }
}

/// One InvokeFunction call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The service name.
    pub service: String,
    /// The version or alias, if not `LATEST`.
    pub qualifier: Option<String>,
    /// The function name.
    pub function: String,
    /// The event bytes.
    pub payload: Bytes,
    /// Sync or Async.
    pub invocation_type: InvocationType,
    /// Async only: seconds before delivery.
    pub async_delay_secs: Option<u32>,
    /// Async only: the stateful async invocation id (idempotency key).
    pub invocation_id: Option<String>,
}

impl Invocation {
    /// An asynchronous invocation of `service`/`function` with `payload`, delivered at once.
    pub fn async_event(
        service: impl Into<String>,
        function: impl Into<String>,
        payload: impl Into<Bytes>,
    ) -> Self {
        Self {
            service: service.into(),
            qualifier: None,
            function: function.into(),
            payload: payload.into(),
            invocation_type: InvocationType::Async,
            async_delay_secs: None,
            invocation_id: None,
        }
    }

    /// Delivered no sooner than `delay` from now (whole seconds, rounded up).
    pub fn delayed(mut self, delay: Duration) -> Self {
        let secs = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
        self.async_delay_secs = Some(u32::try_from(secs).unwrap_or(u32::MAX));
        self
    }

    /// With the stateful async invocation id `id`.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.invocation_id = Some(id.into());
        self
    }

    /// Checks the invocation against FC's rules, naming the first field that breaks one.
    pub fn validate(&self) -> Result<(), FcError> {
        check_name("service", &self.service)?;
        check_name("function", &self.function)?;
        if let Some(q) = &self.qualifier {
            check_name("qualifier", q)?;
        }
        if let Some(delay) = self.async_delay_secs {
            if self.invocation_type != InvocationType::Async {
                return Err(FcError::invalid(
                    "x-fc-async-delay",
                    "a delay applies to asynchronous invocations only",
                ));
            }
            if delay > MAX_ASYNC_DELAY_SECS {
                return Err(FcError::invalid(
                    "x-fc-async-delay",
                    format!("{delay} s is longer than FC's {MAX_ASYNC_DELAY_SECS} s"),
                ));
            }
        }
        if let Some(id) = &self.invocation_id {
            if self.invocation_type != InvocationType::Async {
                return Err(FcError::invalid(
                    "X-Fc-Stateful-Async-Invocation-Id",
                    "an invocation id applies to asynchronous invocations only",
                ));
            }
            validate_invocation_id(id)?;
        }
        Ok(())
    }

    /// The request path.
    pub fn path(&self) -> String {
        match &self.qualifier {
            Some(q) => format!(
                "/{API_VERSION}/services/{}.{q}/functions/{}/invocations",
                self.service, self.function
            ),
            None => format!(
                "/{API_VERSION}/services/{}/functions/{}/invocations",
                self.service, self.function
            ),
        }
    }
}

/// Service, function and qualifier names: letters, digits, `_` and `-`, starting with a
/// letter or `_`, at most 128 characters (FC's naming rule).
fn check_name(field: &'static str, name: &str) -> Result<(), FcError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(FcError::invalid(
            field,
            format!(
                "{name:?} is not a Function Compute name (letters, digits, `_` and `-`, starting with a letter or `_`, at most 128)"
            ),
        ))
    }
}

/// Checks a stateful async invocation id: at most 128 characters of `[A-Za-z0-9_-]`,
/// starting with a letter or `_`.
pub fn validate_invocation_id(id: &str) -> Result<(), FcError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_INVOCATION_ID_LEN
        && id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(FcError::invalid(
            "X-Fc-Stateful-Async-Invocation-Id",
            format!(
                "{id:?} is not an invocation id (at most {MAX_INVOCATION_ID_LEN} of letters, digits, `_` and `-`, starting with a letter or `_`)"
            ),
        ))
    }
}

/// The invocation id of the event that runs the step pending in record `seq` of
/// `execution_id`: `reimage-<execution id>-<seq>`, and `reimage-<execution id>-<seq>-r<n>`
/// for the sweeper's `n`-th re-dispatch of the same record.
///
/// FC refuses a second invocation with an id it has seen, so a step that is dispatched twice
/// for the same record (a retried dispatch, a handler replayed after a crash) runs once. The
/// sweeper re-dispatches an overdue record under a new attempt number, because the first
/// event may have been accepted and then lost.
pub fn invocation_id(execution_id: &str, seq: u64, attempt: u32) -> Result<String, FcError> {
    let id = if attempt == 0 {
        format!("reimage-{execution_id}-{seq}")
    } else {
        format!("reimage-{execution_id}-{seq}-r{attempt}")
    };
    validate_invocation_id(&id)?;
    Ok(id)
}

/// The `Date` header: RFC 1123 in GMT, e.g. `Wed, 08 May 2024 10:00:00 GMT`.
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The AccessKey a request is signed with. `Debug` hides the secret and token.
#[derive(Clone, Copy)]
pub struct SigningKey<'a> {
    /// The AccessKey id.
    pub access_key_id: &'a str,
    /// The AccessKey secret.
    pub access_key_secret: &'a str,
    /// The STS token of temporary credentials.
    pub security_token: Option<&'a str>,
}

impl fmt::Debug for SigningKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("security_token", &self.security_token.map(|_| "<redacted>"))
            .finish()
    }
}

impl<'a> From<&'a crate::runtime::FcCredentials> for SigningKey<'a> {
    fn from(c: &'a crate::runtime::FcCredentials) -> Self {
        Self {
            access_key_id: &c.access_key_id,
            access_key_secret: &c.access_key_secret,
            security_token: c.security_token.as_deref(),
        }
    }
}

/// A signed request, ready to send to an FC endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    /// Always `POST` for InvokeFunction.
    pub method: &'static str,
    /// The path (no query).
    pub path: String,
    /// Every header, `Authorization` included.
    pub headers: Vec<(String, String)>,
    /// The event bytes.
    pub body: Bytes,
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let secret = k.eq_ignore_ascii_case("authorization")
                    || k.eq_ignore_ascii_case(headers::SECURITY_TOKEN);
                (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &shown)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl PreparedRequest {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Builds and signs the InvokeFunction request for `invocation` at time `now`. Pure.
pub fn prepare(
    invocation: &Invocation,
    account_id: &str,
    key: SigningKey<'_>,
    now: DateTime<Utc>,
) -> Result<PreparedRequest, FcError> {
    invocation.validate()?;
    if account_id.is_empty() || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FcError::invalid(
            "x-fc-account-id",
            format!("{account_id:?} is not an Alibaba Cloud account id (digits)"),
        ));
    }
    let mut h: Vec<(String, String)> = vec![
        ("Date".into(), http_date(now)),
        ("Content-Type".into(), "application/octet-stream".into()),
        (headers::ACCOUNT_ID.into(), account_id.into()),
        (
            headers::INVOCATION_TYPE.into(),
            invocation.invocation_type.as_str().into(),
        ),
    ];
    if let Some(delay) = invocation.async_delay_secs {
        h.push((headers::ASYNC_DELAY.into(), delay.to_string()));
    }
    if let Some(id) = &invocation.invocation_id {
        h.push((headers::STATEFUL_INVOCATION_ID.into(), id.clone()));
    }
    if let Some(token) = key.security_token {
        h.push((headers::SECURITY_TOKEN.into(), token.into()));
    }
    let path = invocation.path();
    let no_query: [(&str, Option<&str>); 0] = [];
    let signature = sign::sign(
        "POST",
        &path,
        no_query,
        h.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        key.access_key_secret,
    );
    h.push((
        "Authorization".into(),
        sign::authorization(key.access_key_id, &signature),
    ));
    Ok(PreparedRequest {
        method: "POST",
        path,
        headers: h,
        body: invocation.payload.clone(),
    })
}

/// The FC endpoint: `REIMAGE_FC_ENDPOINT`, else `REIMAGE_ENDPOINT`, else
/// `https://<account>.<region>.fc.aliyuncs.com`. Without a trailing `/`.
pub fn endpoint(env: &Env, region_id: &str, account_id: &str) -> String {
    env.get("REIMAGE_FC_ENDPOINT")
        .or_else(|| env.get("REIMAGE_ENDPOINT"))
        .map(|e| e.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("https://{account_id}.{region_id}.fc.aliyuncs.com"))
}

/// What FC said to an InvokeFunction call that it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// An async event was queued (202).
    Queued {
        /// FC's request id.
        request_id: Option<String>,
    },
    /// An async event with this invocation id was queued before: nothing new was queued.
    AlreadyQueued {
        /// FC's request id.
        request_id: Option<String>,
    },
    /// A synchronous call returned.
    Returned {
        /// The function's response body.
        body: Bytes,
        /// `x-fc-error-type`, when the function failed.
        error_type: Option<String>,
        /// FC's request id.
        request_id: Option<String>,
    },
}

/// The error codes FC answers a reused stateful invocation id with (UNCONFIRMED: the
/// reference gives no code; these are the plausible spellings, all with HTTP 409).
const DUPLICATE_ID_CODES: [&str; 2] = ["StatefulAsyncInvocationAlreadyExists", "ResourceExists"];

/// Why an InvokeFunction call failed.
#[derive(Debug, thiserror::Error)]
pub enum FcError {
    /// The invocation breaks one of FC's rules; nothing was sent.
    #[error("invalid InvokeFunction request: {field}: {problem}")]
    Invalid {
        /// The field or header at fault.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// FC answered with an error.
    #[error("Function Compute refused InvokeFunction (HTTP {status}, {code}): {message}{}", request_id.as_deref().map(|r| format!(" [RequestId {r}]")).unwrap_or_default())]
    Api {
        /// HTTP status.
        status: u16,
        /// `ErrorCode`.
        code: String,
        /// `ErrorMessage`.
        message: String,
        /// `x-fc-request-id`.
        request_id: Option<String>,
    },
    /// The request did not get an answer.
    #[error("calling Function Compute at {endpoint} failed")]
    Transport {
        /// Where it was sent.
        endpoint: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
}

impl FcError {
    fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        FcError::Invalid {
            field,
            problem: problem.into(),
        }
    }

    /// Whether trying the same call again later may succeed: throttling, 5xx, no answer.
    pub fn is_retryable(&self) -> bool {
        match self {
            FcError::Invalid { .. } => false,
            FcError::Api { status, code, .. } => {
                *status == 429 || *status >= 500 || code == "ResourceThrottled"
            }
            FcError::Transport { .. } => true,
        }
    }
}

/// Sends InvokeFunction requests to one FC endpoint for one account.
#[derive(Clone)]
pub struct FcClient {
    http: reqwest::Client,
    endpoint: String,
    account_id: String,
    clock: SharedClock,
}

impl fmt::Debug for FcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcClient")
            .field("endpoint", &self.endpoint)
            .field("account_id", &self.account_id)
            .finish()
    }
}

impl FcClient {
    /// A client of the FC endpoint `endpoint` (`http(s)://host[:port]`) for `account_id`.
    pub fn new(
        http: reqwest::Client,
        endpoint: impl Into<String>,
        account_id: impl Into<String>,
        clock: SharedClock,
    ) -> Self {
        Self {
            http,
            endpoint: endpoint.into().trim_end_matches('/').to_owned(),
            account_id: account_id.into(),
            clock,
        }
    }

    /// The endpoint calls go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends `invocation`, signed with `key`. One attempt: the caller decides on retries
    /// with [`FcError::is_retryable`].
    pub async fn invoke(
        &self,
        key: SigningKey<'_>,
        invocation: &Invocation,
    ) -> Result<InvokeOutcome, FcError> {
        let prepared = prepare(invocation, &self.account_id, key, self.clock.now())?;
        let mut req = self
            .http
            .post(format!("{}{}", self.endpoint, prepared.path))
            .body(prepared.body.clone());
        for (k, v) in &prepared.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let transport = |source| FcError::Transport {
            endpoint: self.endpoint.clone(),
            source,
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header(headers::REQUEST_ID);
        let error_type = header(headers::ERROR_TYPE);
        let body = resp.bytes().await.map_err(transport)?;
        match status {
            202 if invocation.invocation_type == InvocationType::Async => {
                Ok(InvokeOutcome::Queued { request_id })
            }
            200..=299 => Ok(InvokeOutcome::Returned {
                body,
                error_type,
                request_id,
            }),
            _ => {
                let (code, message) = error_body(&body);
                if status == 409
                    && invocation.invocation_id.is_some()
                    && DUPLICATE_ID_CODES.contains(&code.as_str())
                {
                    return Ok(InvokeOutcome::AlreadyQueued { request_id });
                }
                Err(FcError::Api {
                    status,
                    code,
                    message,
                    request_id,
                })
            }
        }
    }
}

/// `ErrorCode` and `ErrorMessage` of an FC error body; placeholders when it is not JSON.
fn error_body(body: &[u8]) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(rename = "ErrorCode")]
        code: Option<String>,
        #[serde(rename = "ErrorMessage")]
        message: Option<String>,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(b) => (
            b.code.unwrap_or_else(|| "Unknown".to_owned()),
            b.message.unwrap_or_default(),
        ),
        Err(_) => (
            "Unknown".to_owned(),
            String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        ),
    }
}

#[cfg(test)]
mod tests;
