//! A thin OSS client: the four object operations reimage's state store needs.
//!
//! - **PutObject** with `x-oss-forbid-overwrite: true`: create-if-absent. OSS answers
//!   409 `FileAlreadyExists` when the key exists, which means another writer won.
//! - **GetObject**: 404 `NoSuchKey` becomes `None`.
//! - **ListObjectsV2** (`list-type=2`, `prefix`, `continuation-token`, `max-keys`,
//!   `encoding-type=url`), following continuation tokens in [`OssClient::list_all`].
//! - **DeleteObject**.
//!
//! Requests are signed with signature V1 ([`crate::aliyun::sign::oss`]), or V4
//! ([`SignatureVersion::V4`]); STS credentials add `x-oss-security-token`. Addressing is virtual-hosted (`<bucket>.oss-<region>.aliyuncs.com`)
//! unless the endpoint's host is an IP address or `localhost`, which gets path style
//! (`/<bucket>/<key>`), as the sim and other local servers need ([`OssEndpoint`]).
//!
//! Errors are OSS's XML bodies parsed into [`OssError::Service`] (Code, Message, RequestId,
//! HostId, EC) and classified once ([`ErrorKind`]): throttling and transient errors are retried
//! with capped, jittered exponential backoff ([`RetryPolicy`]); client errors are not.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::aliyun::sign::oss as sign;
use crate::aliyun::sign::rpc::percent_encode;
use crate::clock::SharedClock;
use crate::ids::SharedIds;
use crate::settings::Env;

/// Credentials that sign OSS requests: a static AccessKey, or STS credentials with a token.
#[derive(Clone, PartialEq, Eq)]
pub struct OssCredentials {
    /// The AccessKey id (sent in the clear in every request).
    pub access_key_id: String,
    /// The AccessKey secret (never sent, never printed).
    pub access_key_secret: String,
    /// The STS security token, for temporary credentials.
    pub security_token: Option<String>,
}

impl fmt::Debug for OssCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OssCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A boxed future of credentials.
pub type CredentialsFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<OssCredentials, OssError>> + Send + 'a>,
>;

/// Where the client gets its credentials before each request (they may be STS credentials
/// that are renewed while the client lives).
pub trait OssCredentialsSource: Send + Sync + fmt::Debug + 'static {
    /// The credentials to sign the next request with.
    fn credentials(&self) -> CredentialsFuture<'_>;
}

impl OssCredentialsSource for OssCredentials {
    fn credentials(&self) -> CredentialsFuture<'_> {
        let creds = self.clone();
        Box::pin(async move { Ok(creds) })
    }
}

/// How the bucket appears in a request's URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `<scheme>://<bucket>.<host>/<key>`: what OSS expects.
    VirtualHosted,
    /// `<scheme>://<host>/<bucket>/<key>`: for IP or loopback endpoints such as the sim.
    Path,
}

/// An OSS endpoint: scheme, host (with port), and addressing style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OssEndpoint {
    scheme: String,
    host: String,
    addressing: Addressing,
}

impl OssEndpoint {
    /// The public endpoint of `region`: `https://oss-<region>.aliyuncs.com`, virtual-hosted.
    pub fn for_region(region: &str) -> Self {
        Self {
            scheme: "https".into(),
            host: format!("oss-{region}.aliyuncs.com"),
            addressing: Addressing::VirtualHosted,
        }
    }

    /// Parses `http(s)://host[:port]`; path style when the host is an IP address or
    /// `localhost`, virtual-hosted otherwise.
    pub fn parse(url: &str) -> Result<Self, OssError> {
        let bad = |reason: &str| OssError::InvalidEndpoint {
            value: url.to_owned(),
            reason: reason.to_owned(),
        };
        if !url.contains("://") {
            return Err(bad(
                "the scheme is missing: write it as http://host:port or https://host",
            ));
        }
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
            return Err(bad("an OSS endpoint has no path or query"));
        }
        let addressing = match parsed.host() {
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => Addressing::Path,
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => Addressing::Path,
            Some(url::Host::Domain(_)) => Addressing::VirtualHosted,
            None => return Err(bad("no host")),
        };
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(bad("no host")),
        };
        Ok(Self {
            scheme: parsed.scheme().to_owned(),
            host,
            addressing,
        })
    }

    /// `REIMAGE_OSS_ENDPOINT`, else `REIMAGE_ENDPOINT`, else the public endpoint of `region`.
    pub fn from_env(env: &Env, region: &str) -> Result<Self, OssError> {
        match env
            .get("REIMAGE_OSS_ENDPOINT")
            .or_else(|| env.get("REIMAGE_ENDPOINT"))
        {
            Some(url) => Self::parse(url),
            None => Ok(Self::for_region(region)),
        }
    }

    /// The addressing style this endpoint uses.
    pub fn addressing(&self) -> Addressing {
        self.addressing
    }

    /// The URL of `key` in `bucket` (the bucket itself when `key` is empty), without query.
    pub fn object_url(&self, bucket: &str, key: &str) -> String {
        let key = encode_key(key);
        match self.addressing {
            Addressing::VirtualHosted => format!("{}://{bucket}.{}/{key}", self.scheme, self.host),
            Addressing::Path => format!("{}://{}/{bucket}/{key}", self.scheme, self.host),
        }
    }
}

/// Percent-encodes a key for a URL path, keeping `/` between segments.
fn encode_key(key: &str) -> String {
    key.split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// How a failed call should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The service asks us to slow down: retry after a backoff.
    Throttling,
    /// A 5xx or a connection failure: retry after a backoff.
    Transient,
    /// The request itself is wrong (4xx, bad input): retrying does not help.
    Client,
}

/// An error answer of OSS, its XML body parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "OSS {op} of {resource} failed: HTTP {status} {code}: {message} (RequestId {request_id}){hint}",
    hint = hint(code)
)]
pub struct ServiceError {
    /// The operation, e.g. `PutObject`.
    pub op: &'static str,
    /// `<bucket>/<key>` or `<bucket>/<prefix>`.
    pub resource: String,
    /// The HTTP status.
    pub status: u16,
    /// OSS's error code, e.g. `NoSuchKey`.
    pub code: String,
    /// OSS's message.
    pub message: String,
    /// `RequestId`.
    pub request_id: String,
    /// `HostId`.
    pub host_id: String,
    /// OSS's detailed error code (`EC`), when given.
    pub ec: Option<String>,
}

/// What went wrong talking to OSS.
#[derive(Debug, thiserror::Error)]
pub enum OssError {
    /// OSS answered with an error.
    #[error(transparent)]
    Service(Box<ServiceError>),
    /// The request did not get an answer (connection refused, reset, timed out).
    #[error("OSS {op} of {resource}: no answer from {url}: {message}")]
    Transport {
        /// The operation.
        op: &'static str,
        /// `<bucket>/<key>`.
        resource: String,
        /// The URL tried.
        url: String,
        /// The transport's description.
        message: String,
    },
    /// An answer that is not what OSS sends.
    #[error("OSS {op} of {resource}: unreadable answer (HTTP {status}): {message}")]
    InvalidResponse {
        /// The operation.
        op: &'static str,
        /// `<bucket>/<key>`.
        resource: String,
        /// The HTTP status.
        status: u16,
        /// What was wrong with it.
        message: String,
    },
    /// The configured endpoint cannot be used.
    #[error("OSS endpoint {value:?} cannot be used: {reason}")]
    InvalidEndpoint {
        /// The endpoint as configured.
        value: String,
        /// Why.
        reason: String,
    },
    /// No credentials could be had.
    #[error("no credentials for OSS: {0}")]
    Credentials(String),
}

fn hint(code: &str) -> &'static str {
    match code {
        "SignatureDoesNotMatch" => {
            "; the AccessKey secret does not belong to the AccessKey id, or the request was changed on the way"
        }
        "InvalidAccessKeyId" => "; the AccessKey id is unknown or disabled",
        "SecurityTokenExpired" | "InvalidSecurityToken" => {
            "; the STS credentials have expired or are invalid: get fresh ones"
        }
        "RequestTimeTooSkewed" => "; this machine's clock is more than 15 minutes off",
        "NoSuchBucket" => "; check the bucket name in REIMAGE_STORE",
        _ => "",
    }
}

impl OssError {
    /// OSS's error code, for service errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service(e) => Some(&e.code),
            _ => None,
        }
    }

    /// Whether retrying may help, and how.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Service(e) => classify(e.status, &e.code),
            Self::Transport { .. } => ErrorKind::Transient,
            Self::InvalidResponse { status, .. } if *status >= 500 => ErrorKind::Transient,
            Self::InvalidResponse { .. } | Self::InvalidEndpoint { .. } | Self::Credentials(_) => {
                ErrorKind::Client
            }
        }
    }
}

/// The retry classification of an OSS error answer.
pub fn classify(status: u16, code: &str) -> ErrorKind {
    match (status, code) {
        (503, "SlowDown")
        | (429, _)
        | (_, "Throttling" | "TooManyRequests" | "QpsLimitExceeded") => ErrorKind::Throttling,
        (500..=599, _) | (408, _) | (409, "OperationAborted" | "ConcurrentUpdateObjectFailed") => {
            ErrorKind::Transient
        }
        _ => ErrorKind::Client,
    }
}

/// Capped exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The cap of the first backoff.
    pub base: Duration,
    /// The cap of any backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` (after `attempt` failures, `attempt >= 1`), for a
    /// jitter `fraction` in `[0, 1)`; throttling doubles the cap.
    pub fn delay(&self, attempt: u32, kind: ErrorKind, fraction: f64) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        let mut cap = self.base.saturating_mul(factor);
        if kind == ErrorKind::Throttling {
            cap = cap.saturating_mul(2);
        }
        let cap = cap.min(self.max_delay);
        cap.mul_f64(fraction.clamp(0.0, 1.0))
    }
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSummary {
    /// The key, decoded.
    pub key: String,
    /// The size in bytes.
    pub size: u64,
    /// The ETag, quotes included.
    pub etag: String,
}

/// One page of ListObjectsV2.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPage {
    /// The objects of this page, in key order.
    pub objects: Vec<ObjectSummary>,
    /// With a delimiter: the common prefixes.
    pub common_prefixes: Vec<String>,
    /// The token for the next page, when this one is truncated.
    pub next_continuation_token: Option<String>,
}

/// The query of one ListObjectsV2 call.
#[derive(Debug, Clone, Default)]
pub struct ListRequest<'a> {
    /// Only keys that start with this.
    pub prefix: &'a str,
    /// The token of the previous page.
    pub continuation_token: Option<&'a str>,
    /// At most this many keys per page (OSS: 1–1000, default 100).
    pub max_keys: Option<u32>,
    /// Group keys by this delimiter.
    pub delimiter: Option<&'a str>,
}

/// Whether a create-if-absent put created the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// This call created the object.
    Created,
    /// The key existed: another writer won.
    AlreadyExists,
}

/// Which signature the client puts on its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureVersion {
    /// `OSS <AccessKeyId>:<Signature>` (HMAC-SHA1).
    V1,
    /// `OSS4-HMAC-SHA256`, scoped to this region (e.g. `cn-hangzhou`).
    V4 {
        /// The region of the bucket.
        region: String,
    },
}

/// A signed OSS client.
#[derive(Clone)]
pub struct OssClient {
    http: reqwest::Client,
    endpoint: OssEndpoint,
    credentials: Arc<dyn OssCredentialsSource>,
    clock: SharedClock,
    ids: SharedIds,
    retry: RetryPolicy,
    signature: SignatureVersion,
}

impl fmt::Debug for OssClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OssClient")
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .field("retry", &self.retry)
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

/// One request before signing.
struct Call<'a> {
    op: &'static str,
    method: reqwest::Method,
    bucket: &'a str,
    key: &'a str,
    query: Vec<(&'a str, String)>,
    headers: Vec<(&'static str, String)>,
    body: Option<&'a [u8]>,
}

impl Call<'_> {
    fn resource(&self) -> String {
        format!("{}/{}", self.bucket, self.key)
    }
}

/// A raw answer: status, headers and body.
struct Answer {
    status: u16,
    body: bytes::Bytes,
}

impl OssClient {
    /// A client of `endpoint` signing with `credentials`.
    pub fn new(
        endpoint: OssEndpoint,
        credentials: Arc<dyn OssCredentialsSource>,
        clock: SharedClock,
        ids: SharedIds,
    ) -> Self {
        Self {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            endpoint,
            credentials,
            clock,
            ids,
            retry: RetryPolicy::default(),
            signature: SignatureVersion::V1,
        }
    }

    /// The same client signing with `signature` (V1 by default).
    pub fn with_signature(mut self, signature: SignatureVersion) -> Self {
        self.signature = signature;
        self
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &OssEndpoint {
        &self.endpoint
    }

    /// PutObject with `x-oss-forbid-overwrite: true`.
    ///
    /// If an earlier attempt of this same call went unanswered and the retry then finds the
    /// key taken, the object is read back: the same bytes mean the lost attempt created it.
    pub async fn put_object_if_absent(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
    ) -> Result<PutOutcome, OssError> {
        let call = Call {
            op: "PutObject",
            method: reqwest::Method::PUT,
            bucket,
            key,
            query: Vec::new(),
            headers: vec![
                ("content-type", "application/octet-stream".into()),
                ("x-oss-forbid-overwrite", "true".into()),
            ],
            body: Some(body),
        };
        let (answer, retried_after_no_answer) = self.send(&call).await?;
        match answer.status {
            200..=299 => Ok(PutOutcome::Created),
            _ => {
                let err = service_error(&call, &answer);
                if err.code() != Some("FileAlreadyExists") {
                    return Err(err);
                }
                if retried_after_no_answer
                    && self.get_object(bucket, key).await?.as_deref() == Some(body)
                {
                    return Ok(PutOutcome::Created);
                }
                Ok(PutOutcome::AlreadyExists)
            }
        }
    }

    /// GetObject: the object's bytes, or `None` on 404 `NoSuchKey`.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, OssError> {
        let call = Call {
            op: "GetObject",
            method: reqwest::Method::GET,
            bucket,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        };
        let (answer, _) = self.send(&call).await?;
        match answer.status {
            200..=299 => Ok(Some(answer.body.to_vec())),
            _ => {
                let err = service_error(&call, &answer);
                if err.code() == Some("NoSuchKey") {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// DeleteObject (204 whether or not the key existed).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), OssError> {
        let call = Call {
            op: "DeleteObject",
            method: reqwest::Method::DELETE,
            bucket,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        };
        let (answer, _) = self.send(&call).await?;
        match answer.status {
            200..=299 => Ok(()),
            _ => Err(service_error(&call, &answer)),
        }
    }

    /// One page of ListObjectsV2.
    pub async fn list_objects_v2(
        &self,
        bucket: &str,
        request: &ListRequest<'_>,
    ) -> Result<ListPage, OssError> {
        let mut query = vec![
            ("list-type", "2".to_owned()),
            ("encoding-type", "url".to_owned()),
            ("prefix", request.prefix.to_owned()),
        ];
        if let Some(token) = request.continuation_token {
            query.push(("continuation-token", token.to_owned()));
        }
        if let Some(max) = request.max_keys {
            query.push(("max-keys", max.to_string()));
        }
        if let Some(delimiter) = request.delimiter {
            query.push(("delimiter", delimiter.to_owned()));
        }
        let call = Call {
            op: "ListObjectsV2",
            method: reqwest::Method::GET,
            bucket,
            key: "",
            query,
            headers: Vec::new(),
            body: None,
        };
        let (answer, _) = self.send(&call).await?;
        if !(200..=299).contains(&answer.status) {
            return Err(service_error(&call, &answer));
        }
        parse_list(&answer.body).map_err(|message| OssError::InvalidResponse {
            op: call.op,
            resource: format!("{bucket}/{}", request.prefix),
            status: answer.status,
            message,
        })
    }

    /// Every key under `prefix`, following continuation tokens, in ascending order.
    pub async fn list_all(
        &self,
        bucket: &str,
        prefix: &str,
        page_size: Option<u32>,
    ) -> Result<Vec<String>, OssError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .list_objects_v2(
                    bucket,
                    &ListRequest {
                        prefix,
                        continuation_token: token.as_deref(),
                        max_keys: page_size,
                        delimiter: None,
                    },
                )
                .await?;
            keys.extend(page.objects.into_iter().map(|o| o.key));
            match page.next_continuation_token {
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                Some(_) => {
                    return Err(OssError::InvalidResponse {
                        op: "ListObjectsV2",
                        resource: format!("{bucket}/{prefix}"),
                        status: 200,
                        message: "the same continuation token came back twice".into(),
                    });
                }
                None => break,
            }
        }
        Ok(keys)
    }

    /// Sends `call` with retries; returns the last answer (any status that is not retried)
    /// and whether an earlier attempt went without a usable answer (transport error or 5xx).
    async fn send(&self, call: &Call<'_>) -> Result<(Answer, bool), OssError> {
        let mut attempt = 0;
        let mut unanswered = false;
        loop {
            attempt += 1;
            let outcome = self.send_once(call).await;
            let kind = match &outcome {
                Ok(answer) if (200..=299).contains(&answer.status) => None,
                Ok(answer) => {
                    let err = service_error(call, answer);
                    Some(err.kind())
                }
                Err(err) => Some(err.kind()),
            };
            match kind {
                Some(kind @ (ErrorKind::Throttling | ErrorKind::Transient))
                    if attempt < self.retry.max_attempts =>
                {
                    if kind == ErrorKind::Transient {
                        unanswered = true;
                    }
                    let delay = self.retry.delay(attempt, kind, self.ids.fraction());
                    tracing::debug!(op = call.op, attempt, ?delay, "OSS call failed; retrying");
                    self.clock.sleep(delay).await;
                }
                _ => return outcome.map(|a| (a, unanswered)),
            }
        }
    }

    async fn send_once(&self, call: &Call<'_>) -> Result<Answer, OssError> {
        let creds = self.credentials.credentials().await?;
        let now = self.clock.now();
        let mut headers: Vec<(&str, String)> = call.headers.clone();
        let v4_time = now.format("%Y%m%dT%H%M%SZ").to_string();
        match &self.signature {
            SignatureVersion::V1 => {
                headers.push(("date", now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()));
            }
            SignatureVersion::V4 { .. } => {
                headers.push(("x-oss-date", v4_time.clone()));
                headers.push(("x-oss-content-sha256", "UNSIGNED-PAYLOAD".into()));
            }
        }
        if let Some(token) = &creds.security_token {
            headers.push(("x-oss-security-token", token.clone()));
        }
        let header_refs: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let query_refs: Vec<(&str, &str)> =
            call.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let authorization = match &self.signature {
            SignatureVersion::V1 => sign::sign(
                &sign::Request {
                    method: call.method.as_str(),
                    bucket: Some(call.bucket),
                    key: call.key,
                    query: &query_refs,
                    headers: &header_refs,
                },
                &creds.access_key_id,
                &creds.access_key_secret,
            ),
            SignatureVersion::V4 { region } => sign::v4::sign(
                &sign::v4::Request {
                    method: call.method.as_str(),
                    bucket: Some(call.bucket),
                    key: call.key,
                    query: &query_refs,
                    headers: &header_refs,
                    additional_headers: &[],
                },
                &creds.access_key_id,
                &creds.access_key_secret,
                region,
                &v4_time,
            ),
        };
        let mut url = self.endpoint.object_url(call.bucket, call.key);
        for (i, (k, v)) in call.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&percent_encode(k));
            url.push('=');
            url.push_str(&percent_encode(v));
        }
        let mut request = self.http.request(call.method.clone(), &url);
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        request = request.header("authorization", authorization);
        if let Some(body) = call.body {
            request = request.body(body.to_vec());
        } else if call.method == reqwest::Method::PUT {
            request = request.header("content-length", "0");
        }
        let transport = |e: reqwest::Error| OssError::Transport {
            op: call.op,
            resource: call.resource(),
            url: url.clone(),
            message: error_chain(&e),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-oss-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(transport)?;
        tracing::debug!(op = call.op, status, request_id, "OSS answered");
        Ok(Answer { status, body })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// OSS's `<Error>` body.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ErrorBody {
    code: String,
    message: String,
    request_id: String,
    host_id: String,
    #[serde(rename = "EC")]
    ec: Option<String>,
}

/// Parses an OSS error answer; answers without an XML body (HEAD, a proxy's page) still give
/// an error that names the status.
fn service_error(call: &Call<'_>, answer: &Answer) -> OssError {
    let parsed: Option<ErrorBody> = std::str::from_utf8(&answer.body)
        .ok()
        .and_then(|text| quick_xml::de::from_str(text).ok())
        .filter(|b: &ErrorBody| !b.code.is_empty());
    match parsed {
        Some(body) => OssError::Service(Box::new(ServiceError {
            op: call.op,
            resource: call.resource(),
            status: answer.status,
            code: body.code,
            message: body.message,
            request_id: body.request_id,
            host_id: body.host_id,
            ec: body.ec,
        })),
        None => OssError::InvalidResponse {
            op: call.op,
            resource: call.resource(),
            status: answer.status,
            message: format!(
                "no OSS error body: {:?}",
                String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
            ),
        },
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ListBucketResult {
    encoding_type: Option<String>,
    is_truncated: bool,
    next_continuation_token: Option<String>,
    contents: Vec<Contents>,
    common_prefixes: Vec<CommonPrefix>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Contents {
    key: String,
    size: u64,
    #[serde(rename = "ETag")]
    etag: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CommonPrefix {
    prefix: String,
}

/// Decodes a `%XY`-encoded value (`encoding-type=url`); `+` stays `+`.
pub fn url_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape in {value:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{value:?} does not decode to UTF-8"))
}

fn parse_list(body: &[u8]) -> Result<ListPage, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the listing is not UTF-8".to_owned())?;
    let result: ListBucketResult =
        quick_xml::de::from_str(text).map_err(|e| format!("bad ListBucketResult XML: {e}"))?;
    let encoded = result.encoding_type.as_deref() == Some("url");
    let decode = |s: String| if encoded { url_decode(&s) } else { Ok(s) };
    let objects = result
        .contents
        .into_iter()
        .map(|c| {
            Ok(ObjectSummary {
                key: decode(c.key)?,
                size: c.size,
                etag: c.etag,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let common_prefixes = result
        .common_prefixes
        .into_iter()
        .map(|p| decode(p.prefix))
        .collect::<Result<Vec<_>, String>>()?;
    let next_continuation_token = match (result.is_truncated, result.next_continuation_token) {
        (true, Some(t)) if !t.is_empty() => Some(decode(t)?),
        (true, _) => return Err("IsTruncated without a NextContinuationToken".into()),
        (false, _) => None,
    };
    Ok(ListPage {
        objects,
        common_prefixes,
        next_continuation_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_and_localhost_endpoints_use_path_style() {
        let ip = OssEndpoint::parse("http://127.0.0.1:8080").expect("valid");
        assert_eq!(ip.addressing(), Addressing::Path);
        assert_eq!(
            ip.object_url("b", "a dir/é.json"),
            "http://127.0.0.1:8080/b/a%20dir/%C3%A9.json"
        );
        let local = OssEndpoint::parse("http://localhost:9").expect("valid");
        assert_eq!(local.addressing(), Addressing::Path);
        let hosted = OssEndpoint::parse("https://oss-cn-shanghai.aliyuncs.com").expect("valid");
        assert_eq!(hosted.addressing(), Addressing::VirtualHosted);
        assert_eq!(
            hosted.object_url("b", "k/1"),
            "https://b.oss-cn-shanghai.aliyuncs.com/k/1"
        );
        assert_eq!(
            OssEndpoint::for_region("cn-hangzhou").object_url("b", ""),
            "https://b.oss-cn-hangzhou.aliyuncs.com/"
        );
    }

    #[test]
    fn endpoint_overrides_come_from_the_environment_in_order() {
        let env = Env::from_pairs([
            ("REIMAGE_ENDPOINT", "http://127.0.0.1:1"),
            ("REIMAGE_OSS_ENDPOINT", "http://127.0.0.1:2"),
        ]);
        let e = OssEndpoint::from_env(&env, "cn-hangzhou").expect("valid");
        assert_eq!(e.object_url("b", "k"), "http://127.0.0.1:2/b/k");
        let env = Env::from_pairs([("REIMAGE_ENDPOINT", "http://127.0.0.1:1")]);
        let e = OssEndpoint::from_env(&env, "cn-hangzhou").expect("valid");
        assert_eq!(e.object_url("b", "k"), "http://127.0.0.1:1/b/k");
        let e = OssEndpoint::from_env(&Env::default(), "eu-central-1").expect("valid");
        assert_eq!(
            e.object_url("b", "k"),
            "https://b.oss-eu-central-1.aliyuncs.com/k"
        );
    }

    #[test]
    fn bad_endpoints_are_refused_with_the_reason() {
        for (url, reason) in [
            ("ftp://x", "scheme"),
            ("127.0.0.1:80", "scheme"),
            ("http://h/path", "no path"),
            ("not a url", "scheme is missing"),
            ("http://", "empty host"),
        ] {
            let err = OssEndpoint::parse(url).expect_err(url).to_string();
            assert!(err.contains(url) && err.contains(reason), "{err}");
        }
    }

    #[test]
    fn error_bodies_are_parsed_with_code_message_and_ids() {
        let call = Call {
            op: "GetObject",
            method: reqwest::Method::GET,
            bucket: "b",
            key: "k",
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        };
        let answer = Answer {
            status: 403,
            body: bytes::Bytes::from_static(
                b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>\
                  <Message>The request signature we calculated does not match</Message>\
                  <RequestId>5C3D9175B6FC201293AD4890</RequestId><HostId>b.oss.example</HostId>\
                  <StringToSign>GET\n\n\nx\n/b/k</StringToSign><EC>0002-00000040</EC></Error>",
            ),
        };
        let err = service_error(&call, &answer);
        match &err {
            OssError::Service(e) => {
                assert_eq!(e.status, 403);
                assert_eq!(e.code, "SignatureDoesNotMatch");
                assert_eq!(e.request_id, "5C3D9175B6FC201293AD4890");
                assert_eq!(e.host_id, "b.oss.example");
                assert_eq!(e.ec.as_deref(), Some("0002-00000040"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.kind(), ErrorKind::Client);
        let shown = err.to_string();
        assert!(
            shown.contains("SignatureDoesNotMatch") && shown.contains("secret"),
            "{shown}"
        );

        let html = Answer {
            status: 502,
            body: bytes::Bytes::from_static(b"<html>bad gateway</html>"),
        };
        let err = service_error(&call, &html);
        assert!(matches!(err, OssError::InvalidResponse { status: 502, .. }));
        assert_eq!(err.kind(), ErrorKind::Transient);
    }

    #[test]
    fn classification_separates_throttling_transient_and_client() {
        assert_eq!(classify(503, "SlowDown"), ErrorKind::Throttling);
        assert_eq!(classify(429, "Whatever"), ErrorKind::Throttling);
        assert_eq!(classify(500, "InternalError"), ErrorKind::Transient);
        assert_eq!(classify(503, "ServiceUnavailable"), ErrorKind::Transient);
        assert_eq!(classify(409, "FileAlreadyExists"), ErrorKind::Client);
        assert_eq!(classify(404, "NoSuchKey"), ErrorKind::Client);
        assert_eq!(classify(403, "AccessDenied"), ErrorKind::Client);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, ErrorKind::Transient, 0.0), Duration::ZERO);
        assert_eq!(
            p.delay(1, ErrorKind::Transient, 0.5),
            Duration::from_millis(100)
        );
        assert_eq!(
            p.delay(3, ErrorKind::Transient, 0.5),
            Duration::from_millis(400)
        );
        assert_eq!(
            p.delay(3, ErrorKind::Throttling, 0.5),
            Duration::from_millis(800)
        );
        assert_eq!(
            p.delay(30, ErrorKind::Transient, 0.999_999),
            p.max_delay.mul_f64(0.999_999)
        );
    }

    #[test]
    fn listings_decode_url_encoded_keys_and_tokens() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b</Name>\
                   <Prefix>a%2F</Prefix><MaxKeys>2</MaxKeys><EncodingType>url</EncodingType>\
                   <IsTruncated>true</IsTruncated><NextContinuationToken>tok%3D</NextContinuationToken>\
                   <KeyCount>2</KeyCount>\
                   <Contents><Key>a%2Fx%20y</Key><ETag>\"E1\"</ETag><Size>3</Size></Contents>\
                   <Contents><Key>a%2F%C3%A9</Key><ETag>\"E2\"</ETag><Size>4</Size></Contents>\
                   </ListBucketResult>";
        let page = parse_list(xml.as_bytes()).expect("parses");
        let keys: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a/x y", "a/é"]);
        assert_eq!(page.objects[1].size, 4);
        assert_eq!(page.next_continuation_token.as_deref(), Some("tok="));

        let last = "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount>\
                    </ListBucketResult>";
        assert_eq!(
            parse_list(last.as_bytes()).expect("parses"),
            ListPage::default()
        );
        let broken = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
        assert!(parse_list(broken.as_bytes()).is_err());
    }

    #[test]
    fn credentials_debug_hides_the_secret_and_token() {
        let creds = OssCredentials {
            access_key_id: "LTAIvisible".into(),
            access_key_secret: "hidden-secret".into(),
            security_token: Some("hidden-token".into()),
        };
        let shown = format!("{creds:?}");
        assert!(shown.contains("LTAIvisible"));
        assert!(!shown.contains("hidden-secret") && !shown.contains("hidden-token"));
    }
}
