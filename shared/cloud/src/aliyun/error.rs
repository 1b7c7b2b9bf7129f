//! Errors of the cloud clients, and the one classification that every retry decision rests on.
//!
//! - [`ApiError`]: the cloud answered with an error. It keeps the `Code`, `Message`,
//!   `RequestId`, `HostId` and HTTP status, whatever the body's format (the RPC services' JSON,
//!   Function Compute's `{"ErrorCode","ErrorMessage"}`, OSS's XML `<Error>`, or a body that is
//!   none of these, as a load balancer's HTML page).
//! - [`ErrorKind`]: throttling, transient or client. [`ErrorKind::of_api`] is the only place that
//!   decides which cloud errors are worth retrying; [`Error::kind`] extends it to errors that
//!   never got a response (connection reset, timeout).
//! - [`Error`]: everything a call through [`super::Client`] can fail with.
//! - [`RequestError`]: a request the client refused to send because the cloud would reject it,
//!   naming the parameter.

use std::fmt;
use std::time::Duration;

use super::credentials::CredentialsError;

/// Codes that mean "slow down": the RPC gateway's (<https://help.aliyun.com/en/document_detail/434846.html>), Function Compute's
/// (`ResourceThrottled`, `ResourceExhausted`) and OSS's (`SlowDown`, `TooManyRequests`,
/// `QpsLimitExceeded`), so that every client can classify through [`ErrorKind::of_api`].
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "Throttling.User",
    "Throttling.Api",
    "ResourceThrottled",
    "ResourceExhausted",
    "SlowDown",
    "TooManyRequests",
    "QpsLimitExceeded",
];

/// Codes that mean "the resource is busy with an earlier request: try again later", whatever
/// their HTTP status (ECS answers them with 403):
///
/// - `IdempotentProcessing`, `LastTokenProcessing`: an earlier request with the same
///   `ClientToken` is still being processed; the same request, sent again later, returns its
///   result ([How to ensure idempotence](https://www.alibabacloud.com/help/en/ecs/developer-reference/how-to-ensure-idempotence)).
/// - `IncorrectDiskStatus.CreatingSnapshot`: another snapshot of the disk is being made (an
///   automatic snapshot policy, say); CreateSnapshot succeeds once it is done
///   ([CreateSnapshot](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-createsnapshot)).
/// - `OperationConflict`: "Request was denied due to conflict with a previous request, please
///   try again later" (ECS's common error codes).
///
/// They are [`ErrorKind::Transient`]: retried with the same parameters, `ClientToken` included.
const TRY_LATER_CODES: &[&str] = &[
    "IdempotentProcessing",
    "LastTokenProcessing",
    "IncorrectDiskStatus.CreatingSnapshot",
    "OperationConflict",
];

/// How an error affects a retry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The cloud asked us to slow down: retried after a backoff, honouring any `TimeLeft` hint.
    Throttling,
    /// The cloud or the network failed in a way that may pass: 500, 502, 503, 504, a
    /// resource busy with an earlier request (`IdempotentProcessing` and the other
    /// try-later codes), a connection refused, reset or closed early, a timeout. Retried with
    /// backoff.
    Transient,
    /// The request itself is wrong (any other 4xx, or an answer we cannot use): never retried.
    Client,
}

impl ErrorKind {
    /// The classification of an error answer from the cloud.
    ///
    /// Throttling is decided by the code first (the RPC gateway throttles with HTTP 400), then
    /// by HTTP 429; 500, 502, 503, 504 and the try-later codes are transient; everything else
    /// is a client error.
    pub fn of_api(status: u16, code: &str) -> Self {
        if THROTTLING_CODES.contains(&code) || status == 429 {
            ErrorKind::Throttling
        } else if matches!(status, 500 | 502 | 503 | 504) || TRY_LATER_CODES.contains(&code) {
            ErrorKind::Transient
        } else {
            ErrorKind::Client
        }
    }

    /// Whether an error of this kind is worth another attempt.
    pub fn is_retryable(self) -> bool {
        !matches!(self, ErrorKind::Client)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Throttling => "throttling",
            ErrorKind::Transient => "transient",
            ErrorKind::Client => "client",
        })
    }
}

/// An error answer from an Alibaba Cloud service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: u16,
    /// The cloud's error code (`InvalidImageName.Duplicated`), or `Http<status>` when the
    /// body carried none (not JSON, not XML, or empty).
    pub code: String,
    /// The cloud's message, or the start of the body when it was not a structured error.
    pub message: String,
    /// The request id, from the body or the `x-acs-request-id` / `x-oss-request-id` /
    /// `x-fc-request-id` headers.
    pub request_id: Option<String>,
    /// The `HostId` the cloud reports, if any.
    pub host_id: Option<String>,
    /// How long the cloud asked us to wait (`TimeLeft` of the `x-ratelimit-user-api` /
    /// `x-ratelimit-user` headers, the larger of the two), if it said.
    pub retry_after: Option<Duration>,
}

/// The longest stretch of a non-structured body kept in [`ApiError::message`].
const BODY_EXCERPT: usize = 300;

impl ApiError {
    /// Parses an error answer: JSON (`Code`/`code`/`ErrorCode`, `Message`/`message`/
    /// `ErrorMessage`, `RequestId`/`requestId`, `HostId`), XML `<Error>` (OSS), or anything
    /// else (kept as an excerpt of the body under the code `Http<status>`).
    pub fn from_response(status: u16, headers: &http::HeaderMap, body: &[u8]) -> Self {
        let header_request_id = ["x-acs-request-id", "x-oss-request-id", "x-fc-request-id"]
            .iter()
            .find_map(|h| headers.get(*h)?.to_str().ok().map(str::to_owned));
        let retry_after = ratelimit_time_left(headers);
        let text = String::from_utf8_lossy(body);
        let parsed = parse_json_error(&text).or_else(|| parse_xml_error(&text));
        let (code, message, request_id, host_id) = match parsed {
            Some(p) => (p.code, p.message, p.request_id, p.host_id),
            None => (None, None, None, None),
        };
        let message = message.unwrap_or_else(|| excerpt(text.trim()));
        ApiError {
            status,
            code: code.unwrap_or_else(|| format!("Http{status}")),
            message,
            request_id: request_id.or(header_request_id),
            host_id,
            retry_after,
        }
    }

    /// The retry classification of this answer.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::of_api(self.status, &self.code)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {}): {}", self.code, self.status, self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " [RequestId {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

fn excerpt(text: &str) -> String {
    if text.chars().count() <= BODY_EXCERPT {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(BODY_EXCERPT).collect();
        s.push('…');
        s
    }
}

#[derive(Default)]
struct ParsedError {
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    host_id: Option<String>,
}

fn parse_json_error(text: &str) -> Option<ParsedError> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let obj = value.as_object()?;
    let pick = |names: &[&str]| {
        names.iter().find_map(|n| match obj.get(*n)? {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let parsed = ParsedError {
        code: pick(&["Code", "code", "ErrorCode"]),
        message: pick(&["Message", "message", "ErrorMessage"]),
        request_id: pick(&["RequestId", "requestId", "RequestID"]),
        host_id: pick(&["HostId", "hostId"]),
    };
    (parsed.code.is_some() || parsed.message.is_some()).then_some(parsed)
}

/// The text of the first `<tag>…</tag>` in `text`, XML entities decoded.
fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    let raw = &text[start..end];
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

fn parse_xml_error(text: &str) -> Option<ParsedError> {
    if !text.contains("<Error>") {
        return None;
    }
    let parsed = ParsedError {
        code: xml_tag(text, "Code"),
        message: xml_tag(text, "Message"),
        request_id: xml_tag(text, "RequestId"),
        host_id: xml_tag(text, "HostId"),
    };
    (parsed.code.is_some() || parsed.message.is_some()).then_some(parsed)
}

/// The larger `TimeLeft:<ms>` of the `x-ratelimit-user-api` and `x-ratelimit-user` headers
/// (`Limit:1,Remain:0,TimeLeft:2000,Reset:…`), as the official SDKs read it.
pub fn ratelimit_time_left(headers: &http::HeaderMap) -> Option<Duration> {
    ["x-ratelimit-user-api", "x-ratelimit-user"]
        .iter()
        .filter_map(|name| headers.get(*name)?.to_str().ok())
        .filter_map(parse_time_left)
        .max()
}

/// `TimeLeft` (milliseconds) out of one `x-ratelimit-*` header value.
pub fn parse_time_left(value: &str) -> Option<Duration> {
    value.split(',').find_map(|part| {
        let (key, ms) = part.split_once(':')?;
        if key.trim().eq_ignore_ascii_case("TimeLeft") {
            ms.trim().parse::<u64>().ok().map(Duration::from_millis)
        } else {
            None
        }
    })
}

/// A request the client refused to send: the cloud would reject it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter {parameter}: {problem}")]
pub struct RequestError {
    /// The cloud's name of the offending parameter (`ImageName`, `ScalingConfigurationId.N`).
    pub parameter: String,
    /// What is wrong with it.
    pub problem: String,
}

impl RequestError {
    /// An error about `parameter`.
    pub fn new(parameter: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            parameter: parameter.into(),
            problem: problem.into(),
        }
    }

    /// A required parameter is absent or empty.
    pub fn missing(parameter: impl Into<String>) -> Self {
        Self::new(parameter, "is required")
    }
}

/// What went wrong on the way, when no answer came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// Could not connect.
    Connect,
    /// The connect or read timeout passed.
    Timeout,
    /// The connection broke before a full answer arrived (reset, closed early).
    Broken,
    /// The request could not be built or sent at all (bad URL, bad header value).
    Request,
    /// The answer was longer than [`super::http::MAX_RESPONSE_BODY`]: not read, not retried.
    TooLarge,
}

/// Everything a call to an Alibaba Cloud service can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was refused before sending.
    #[error("invalid {action} request")]
    InvalidRequest {
        /// The operation.
        action: String,
        /// What is wrong.
        #[source]
        source: RequestError,
    },
    /// The cloud answered with an error.
    #[error("{action} failed")]
    Api {
        /// The operation.
        action: String,
        /// The cloud's answer.
        #[source]
        source: Box<ApiError>,
    },
    /// No answer came back.
    #[error("{action} to {endpoint}: {failure:?} error: {message}")]
    Transport {
        /// The operation.
        action: String,
        /// The endpoint it went to.
        endpoint: String,
        /// Which way it failed.
        failure: TransportFailure,
        /// What the HTTP stack said.
        message: String,
    },
    /// The cloud answered 2xx with a body we could not read.
    #[error("{action}: cannot read the answer{}: {message}", request_id.as_deref().map(|id| format!(" (RequestId {id})")).unwrap_or_default())]
    Decode {
        /// The operation.
        action: String,
        /// The request id, if found.
        request_id: Option<String>,
        /// What is wrong with the body.
        message: String,
    },
    /// No usable credentials.
    #[error("{action}: no credentials")]
    Credentials {
        /// The operation.
        action: String,
        /// Why.
        #[source]
        source: CredentialsError,
    },
    /// The client could not be set up.
    #[error("cannot set up the cloud client: {0}")]
    Setup(String),
}

impl Error {
    /// The retry classification: `None` for errors no retry can fix (invalid request, setup,
    /// credentials), which behave like [`ErrorKind::Client`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Api { source, .. } => source.kind(),
            Error::Transport { failure, .. } => match failure {
                TransportFailure::Connect
                | TransportFailure::Timeout
                | TransportFailure::Broken => ErrorKind::Transient,
                TransportFailure::Request | TransportFailure::TooLarge => ErrorKind::Client,
            },
            Error::InvalidRequest { .. }
            | Error::Decode { .. }
            | Error::Credentials { .. }
            | Error::Setup(_) => ErrorKind::Client,
        }
    }

    /// The cloud's answer, if this error is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The cloud's error code, if this error is an answer from the cloud.
    pub fn code(&self) -> Option<&str> {
        self.api().map(|e| e.code.as_str())
    }

    /// The parameter a refused request got wrong, if this error is one.
    pub fn invalid_parameter(&self) -> Option<&str> {
        match self {
            Error::InvalidRequest { source, .. } => Some(&source.parameter),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    #[test]
    fn classification_table() {
        let table: &[(u16, &str, ErrorKind)] = &[
            (400, "Throttling", ErrorKind::Throttling),
            (400, "Throttling.User", ErrorKind::Throttling),
            (400, "Throttling.Api", ErrorKind::Throttling),
            (503, "Throttling", ErrorKind::Throttling),
            (429, "ResourceThrottled", ErrorKind::Throttling),
            (429, "Http429", ErrorKind::Throttling),
            (503, "SlowDown", ErrorKind::Throttling),
            (403, "QpsLimitExceeded", ErrorKind::Throttling),
            (500, "InternalError", ErrorKind::Transient),
            (502, "Http502", ErrorKind::Transient),
            (503, "ServiceUnavailable", ErrorKind::Transient),
            (504, "Http504", ErrorKind::Transient),
            (400, "InvalidParameter", ErrorKind::Client),
            (400, "SignatureDoesNotMatch", ErrorKind::Client),
            (403, "Forbidden.RAM", ErrorKind::Client),
            (404, "InvalidImageId.NotFound", ErrorKind::Client),
            (403, "IdempotentProcessing", ErrorKind::Transient),
            (403, "LastTokenProcessing", ErrorKind::Transient),
            (
                403,
                "IncorrectDiskStatus.CreatingSnapshot",
                ErrorKind::Transient,
            ),
            (403, "OperationConflict", ErrorKind::Transient),
            (403, "IncorrectDiskStatus", ErrorKind::Client),
            (403, "IdempotentParameterMismatch", ErrorKind::Client),
            (501, "Http501", ErrorKind::Client),
            (400, "ThrottlingSomethingElse", ErrorKind::Client),
        ];
        for (status, code, want) in table {
            assert_eq!(ErrorKind::of_api(*status, code), *want, "{status} {code}");
        }
    }

    #[test]
    fn transport_failures_are_transient_except_unsendable_requests() {
        let t = |failure| Error::Transport {
            action: "DescribeImages".into(),
            endpoint: "http://127.0.0.1:1".into(),
            failure,
            message: String::new(),
        };
        assert_eq!(t(TransportFailure::Connect).kind(), ErrorKind::Transient);
        assert_eq!(t(TransportFailure::Timeout).kind(), ErrorKind::Transient);
        assert_eq!(t(TransportFailure::Broken).kind(), ErrorKind::Transient);
        assert_eq!(t(TransportFailure::Request).kind(), ErrorKind::Client);
    }

    #[test]
    fn json_error_body_keeps_code_message_request_id_host_and_status() {
        let body = br#"{"RequestId":"540CFF28-407A","HostId":"ecs.aliyuncs.com","Code":"InvalidImageName.Duplicated","Message":"The specified Image name has already bean used.","Recommend":"https://api.aliyun.com/troubleshoot"}"#;
        let e = ApiError::from_response(400, &HeaderMap::new(), body);
        assert_eq!(e.status, 400);
        assert_eq!(e.code, "InvalidImageName.Duplicated");
        assert_eq!(e.message, "The specified Image name has already bean used.");
        assert_eq!(e.request_id.as_deref(), Some("540CFF28-407A"));
        assert_eq!(e.host_id.as_deref(), Some("ecs.aliyuncs.com"));
        assert_eq!(e.kind(), ErrorKind::Client);
        let shown = e.to_string();
        assert!(shown.contains("InvalidImageName.Duplicated") && shown.contains("540CFF28-407A"));
    }

    #[test]
    fn fc_and_lower_case_json_error_bodies_are_understood() {
        let fc = ApiError::from_response(
            404,
            &HeaderMap::new(),
            br#"{"ErrorCode":"FunctionNotFound","ErrorMessage":"function 'x' does not exist"}"#,
        );
        assert_eq!(fc.code, "FunctionNotFound");
        assert_eq!(fc.message, "function 'x' does not exist");
        let lower = ApiError::from_response(
            400,
            &HeaderMap::new(),
            br#"{"code":"Throttling.User","message":"slow down","requestId":"r-1"}"#,
        );
        assert_eq!(lower.code, "Throttling.User");
        assert_eq!(lower.request_id.as_deref(), Some("r-1"));
        assert_eq!(lower.kind(), ErrorKind::Throttling);
    }

    #[test]
    fn xml_error_body_is_understood() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist &amp; never did.</Message><RequestId>5C3D9175B6FC201293AD****</RequestId><HostId>b.oss-cn-hangzhou.aliyuncs.com</HostId></Error>";
        let e = ApiError::from_response(404, &HeaderMap::new(), body);
        assert_eq!(e.code, "NoSuchKey");
        assert_eq!(e.message, "The specified key does not exist & never did.");
        assert_eq!(e.request_id.as_deref(), Some("5C3D9175B6FC201293AD****"));
        assert_eq!(e.host_id.as_deref(), Some("b.oss-cn-hangzhou.aliyuncs.com"));
    }

    #[test]
    fn non_structured_body_keeps_status_excerpt_and_header_request_id() {
        let mut headers = HeaderMap::new();
        headers.insert("x-acs-request-id", HeaderValue::from_static("HDR-REQ-1"));
        let html = format!(
            "<html><body>502 Bad Gateway{}</body></html>",
            "x".repeat(1000)
        );
        let e = ApiError::from_response(502, &headers, html.as_bytes());
        assert_eq!(e.code, "Http502");
        assert!(e.message.starts_with("<html><body>502 Bad Gateway"));
        assert!(e.message.chars().count() <= BODY_EXCERPT + 1);
        assert_eq!(e.request_id.as_deref(), Some("HDR-REQ-1"));
        assert_eq!(e.kind(), ErrorKind::Transient);

        let empty = ApiError::from_response(503, &HeaderMap::new(), b"");
        assert_eq!(empty.code, "Http503");
        assert_eq!(empty.message, "");
        let json_without_code = ApiError::from_response(500, &HeaderMap::new(), b"[1,2]");
        assert_eq!(json_without_code.code, "Http500");
        assert_eq!(json_without_code.message, "[1,2]");
    }

    #[test]
    fn time_left_hint_takes_the_larger_of_both_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ratelimit-user-api",
            HeaderValue::from_static("Limit:1,Remain:0,TimeLeft:2000,Reset:1"),
        );
        headers.insert(
            "x-ratelimit-user",
            HeaderValue::from_static("Limit:10,Remain:0,TimeLeft:3500"),
        );
        assert_eq!(
            ratelimit_time_left(&headers),
            Some(Duration::from_millis(3500))
        );
        let e = ApiError::from_response(400, &headers, br#"{"Code":"Throttling.User"}"#);
        assert_eq!(e.retry_after, Some(Duration::from_millis(3500)));

        assert_eq!(parse_time_left("Limit:1,Remain:0"), None);
        assert_eq!(parse_time_left("TimeLeft:abc"), None);
        assert_eq!(
            parse_time_left(" timeleft: 15 "),
            Some(Duration::from_millis(15))
        );
        assert_eq!(ratelimit_time_left(&HeaderMap::new()), None);
    }
}
