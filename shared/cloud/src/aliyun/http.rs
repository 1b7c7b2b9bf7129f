//! Transport: the HTTP client, timeouts, retries with backoff, and signed RPC calls.
//!
//! Every retry decision in reimage's cloud clients comes from one place: an error's
//! [`ErrorKind`] (see [`super::error`]) and the pure [`backoff`] function, applied by
//! [`retry`]. The RPC services (ECS, ESS, STS) go through [`call_rpc`]; the Function Compute
//! and OSS clients, which sign differently, reuse [`retry`], [`http_client`] and
//! [`super::error::ApiError::from_response`] with their own attempt closures.
//!
//! Each attempt of an RPC call is signed afresh: a new `SignatureNonce` from the
//! [`IdSource`] and a new `Timestamp` from the [`Clock`], so a retry is never refused as a
//! replay. Sleeping between attempts goes through the clock too, so tests with a
//! [`crate::clock::ManualClock`] never really wait.

use std::future::Future;
use std::time::Duration;

use tracing::debug;

use super::credentials::Credentials;
use super::error::{ApiError, Error, ErrorKind, TransportFailure};
use super::sign::rpc;
use crate::clock::Clock;
use crate::ids::IdSource;

/// Connect and read timeouts of every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Time allowed to open the TCP (and TLS) connection.
    pub connect: Duration,
    /// Time allowed between two reads of the answer.
    pub read: Duration,
}

impl Default for Timeouts {
    /// 5 s to connect, 30 s between reads.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(30),
        }
    }
}

/// The TLS settings of every request reimage makes: rustls with the ring provider, its safe
/// default protocol versions (TLS 1.2 and 1.3), HTTP/1.1, and the Mozilla root certificates
/// built into the binary (`webpki-roots`).
///
/// Built-in roots keep a static binary independent of the certificate store of the machine
/// it runs on, and spare every cold start the reading of the few hundred files a system
/// store holds.
pub fn tls_config() -> Result<rustls::ClientConfig, Error> {
    tls_config_trusting(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
}

/// [`tls_config`] with other roots: for a private endpoint's own CA, and for tests.
pub fn tls_config_trusting(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, Error> {
    let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Setup(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The largest answer body read from the cloud. reimage's largest answers are pages of
/// DescribeImages and ListObjectsV2 (at most 100 images, 1,000 keys): well under a
/// megabyte. A longer body is a fault, not an answer, and is not read into memory.
pub const MAX_RESPONSE_BODY: usize = 8 * 1024 * 1024;

/// Reads `response`'s body, refusing one longer than `limit` bytes (by its Content-Length
/// when it has one, else as it streams in) with [`TransportFailure::TooLarge`].
pub async fn read_body_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Why an answer's body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit.
    TooLarge,
    /// The transport failed part-way.
    Read(reqwest::Error),
}

impl BodyError {
    /// The transport error of `action` to `endpoint` this is.
    pub fn into_error(self, action: &str, endpoint: &str) -> Error {
        match self {
            BodyError::TooLarge => Error::Transport {
                action: action.to_owned(),
                endpoint: endpoint.to_owned(),
                failure: TransportFailure::TooLarge,
                message: format!("the answer is longer than {MAX_RESPONSE_BODY} bytes"),
            },
            BodyError::Read(e) => Error::Transport {
                action: action.to_owned(),
                endpoint: endpoint.to_owned(),
                failure: transport_failure(&e),
                message: crate::report::chain(&e.without_url()),
            },
        }
    }
}

/// Builds the HTTP client with these timeouts and [`tls_config`].
///
/// It follows no redirect: the cloud's APIs answer where they are asked, and a redirect
/// would carry a signed request (and its security token) to a host nobody configured; a 3xx
/// answer is an error like any other. Bodies are read with [`read_body_capped`].
///
/// It does not pick up `HTTP_PROXY` / `HTTPS_PROXY` from the process environment, which
/// reqwest would otherwise do: [`crate::settings::Env`] is the only reader of the
/// environment, and a proxy picked up behind its back would also swallow the loopback calls
/// to the sim.
pub fn http_client(timeouts: Timeouts) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.read)
        .user_agent(concat!("reimage/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Setup(format!("HTTP client: {e}")))
}

/// Which way a request that got no answer failed.
pub fn transport_failure(e: &reqwest::Error) -> TransportFailure {
    if e.is_timeout() {
        TransportFailure::Timeout
    } else if e.is_connect() {
        TransportFailure::Connect
    } else if e.is_builder() {
        TransportFailure::Request
    } else {
        // Reset, closed before the answer was complete, a body that stopped half-way.
        TransportFailure::Broken
    }
}

/// When and how often to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Delay after the first failure, before jitter.
    pub base_delay: Duration,
    /// No single delay computed by [`backoff`] exceeds this.
    pub max_delay: Duration,
    /// No retry is started if its delay would end later than this after the first attempt
    /// began. A throttling `TimeLeft` hint may exceed `max_delay`, never this.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 300 ms doubling up to 10 s, at most 45 s in all.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(300),
            max_delay: Duration::from_secs(10),
            max_total: Duration::from_secs(45),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// The delay before the next attempt after `failed_attempts` failures (1 after the first).
///
/// Capped exponential with "equal jitter": the exponential step `e = min(base * 2^(n-1), cap)`
/// is split in half, one half always waited and the other scaled by `fraction` (in `[0, 1)`,
/// from [`IdSource::fraction`]), so the delay lies in `[e/2, e]`. Pure: the same inputs give
/// the same delay.
pub fn backoff(failed_attempts: u32, policy: &RetryPolicy, fraction: f64) -> Duration {
    let exponent = failed_attempts.saturating_sub(1).min(31);
    let step = policy
        .base_delay
        .checked_mul(1u32 << exponent)
        .unwrap_or(policy.max_delay)
        .min(policy.max_delay);
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let half = step / 2;
    half + half.mul_f64(fraction)
}

/// An error that [`retry`] can classify.
pub trait Retryable {
    /// Its classification.
    fn kind(&self) -> ErrorKind;
    /// How long the server asked us to wait before trying again, if it said.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

impl Retryable for Error {
    fn kind(&self) -> ErrorKind {
        Error::kind(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(|e| e.retry_after)
    }
}

/// Runs `attempt` (given the attempt number, from 1) until it succeeds, fails with a
/// [`ErrorKind::Client`] error, runs out of attempts, or the next delay would pass
/// `policy.max_total`; then returns the last result.
///
/// Between attempts it sleeps on `clock` for [`backoff`] (jittered with `ids`), or for the
/// server's `TimeLeft` hint when a throttling answer carried a longer one. `what` names the
/// operation in the debug log.
pub async fn retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    clock: &dyn Clock,
    ids: &dyn IdSource,
    what: &str,
    mut attempt: F,
) -> Result<T, E>
where
    E: Retryable + std::error::Error + 'static,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = clock.now();
    let mut n = 1u32;
    loop {
        let err = match attempt(n).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let kind = err.kind();
        if !kind.is_retryable() || n >= policy.max_attempts {
            return Err(err);
        }
        let mut delay = backoff(n, policy, ids.fraction());
        if kind == ErrorKind::Throttling {
            if let Some(hint) = err.retry_after() {
                delay = delay.max(hint);
            }
        }
        let elapsed = (clock.now() - started).to_std().unwrap_or_default();
        if elapsed + delay > policy.max_total {
            debug!(%what, attempt = n, %kind, ?elapsed, ?delay, "giving up: retry time exhausted");
            return Err(err);
        }
        debug!(%what, attempt = n, %kind, ?delay, error = %crate::report::chain(&err), "retrying");
        clock.sleep(delay).await;
        n += 1;
    }
}

/// HTTP method of an RPC call. Both are signed with the method actually used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcMethod {
    /// Parameters and signature in the query.
    Get,
    /// `POST /` with every parameter and the signature in the query and an empty body, as the
    /// current official SDKs send RPC calls.
    Post,
}

impl RpcMethod {
    /// `GET` or `POST`.
    pub fn as_str(self) -> &'static str {
        match self {
            RpcMethod::Get => "GET",
            RpcMethod::Post => "POST",
        }
    }
}

/// The RPC `Timestamp` format: `yyyy-MM-ddTHH:mm:ssZ` in UTC.
pub fn rpc_timestamp(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The full parameter list of one signed RPC attempt, `Signature` last, and the query string
/// carrying them. Pure: nonce and timestamp are given.
pub fn signed_rpc_query(
    method: RpcMethod,
    version: &str,
    action: &str,
    params: &[(String, String)],
    credentials: &Credentials,
    nonce: &str,
    timestamp: &str,
) -> String {
    let mut all: Vec<(&str, &str)> = vec![
        ("Format", "JSON"),
        ("Version", version),
        ("AccessKeyId", credentials.access_key_id()),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", nonce),
        ("Timestamp", timestamp),
        ("Action", action),
    ];
    if let Some(token) = credentials.security_token() {
        all.push(("SecurityToken", token));
    }
    all.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let signature = rpc::sign(method.as_str(), all.iter().copied(), credentials.secret());
    let mut query = String::new();
    for (k, v) in all
        .iter()
        .copied()
        .chain(std::iter::once(("Signature", signature.as_str())))
    {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&rpc::percent_encode(k));
        query.push('=');
        query.push_str(&rpc::percent_encode(v));
    }
    query
}

/// One signed RPC call, retried per `policy`, answering the parsed JSON body.
///
/// `params` are the operation's own parameters (`RegionId` included when the operation has
/// one); the common ones are added here. Credentials are asked for on every attempt, so a
/// cached STS token that expires between attempts is refreshed.
///
/// A call whose answer was lost (connection reset, read timeout) is sent again. reimage's
/// creating calls carry a `ClientToken`, so a repeat returns the first result;
/// `ModifyScalingConfiguration` sets a value and may be repeated; a repeated delete may
/// answer `*.NotFound` when the first one went through.
#[allow(clippy::too_many_arguments)] // one transport call: every argument is needed, no grouping fits
pub async fn call_rpc(
    http: &reqwest::Client,
    endpoint: &str,
    method: RpcMethod,
    version: &str,
    action: &str,
    params: &[(String, String)],
    credentials: &dyn super::credentials::CredentialsProvider,
    clock: &dyn Clock,
    ids: &dyn IdSource,
    policy: &RetryPolicy,
) -> Result<serde_json::Value, Error> {
    retry(policy, clock, ids, action, |attempt| async move {
        let creds = credentials
            .credentials()
            .await
            .map_err(|source| Error::Credentials {
                action: action.to_owned(),
                source,
            })?;
        let nonce = ids.unique();
        let timestamp = rpc_timestamp(clock.now());
        let query = signed_rpc_query(method, version, action, params, &creds, &nonce, &timestamp);
        let url = format!("{}/?{query}", endpoint.trim_end_matches('/'));
        let request = match method {
            RpcMethod::Get => http.get(&url),
            RpcMethod::Post => http.post(&url),
        };
        let transport = |e: reqwest::Error| Error::Transport {
            action: action.to_owned(),
            endpoint: endpoint.to_owned(),
            failure: transport_failure(&e),
            message: crate::report::chain(&e.without_url()),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_body_capped(response, MAX_RESPONSE_BODY)
            .await
            .map_err(|e| e.into_error(action, endpoint))?;
        if (200..300).contains(&status) {
            let value: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| Error::Decode {
                    action: action.to_owned(),
                    request_id: None,
                    message: format!("not JSON: {e}"),
                })?;
            let request_id = value.get("RequestId").and_then(|v| v.as_str());
            debug!(%action, status, request_id, attempt, "aliyun rpc call");
            Ok(value)
        } else {
            let source = ApiError::from_response(status, &headers, &body);
            debug!(%action, status, request_id = source.request_id.as_deref(), code = %source.code, attempt, "aliyun rpc call failed");
            Err(Error::Api {
                action: action.to_owned(),
                source: Box::new(source),
            })
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_total: Duration::from_secs(60),
        }
    }

    #[test]
    fn backoff_doubles_within_jitter_bounds_and_is_capped() {
        let p = policy();
        // fraction 0 gives the lower bound e/2, fraction ~1 the upper bound e.
        assert_eq!(backoff(1, &p, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(1, &p, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(2, &p, 0.0), Duration::from_millis(100));
        assert_eq!(backoff(3, &p, 0.5), Duration::from_millis(300));
        assert_eq!(backoff(4, &p, 1.0), Duration::from_millis(800));
        // 100 ms * 2^5 = 3.2 s is over the 2 s cap.
        assert_eq!(backoff(6, &p, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(6, &p, 0.0), Duration::from_secs(1));
        // Absurd attempt numbers neither overflow nor pass the cap.
        assert_eq!(
            backoff(u32::MAX, &p, 0.999),
            Duration::from_secs(2).mul_f64(0.9995)
        );
        for n in 1..200 {
            for f in [0.0, 0.25, 0.999_999] {
                let d = backoff(n, &p, f);
                assert!(d <= p.max_delay, "attempt {n} fraction {f}: {d:?}");
                assert!(d >= backoff(n, &p, 0.0));
            }
        }
    }

    #[test]
    fn backoff_ignores_out_of_range_fractions() {
        let p = policy();
        assert_eq!(backoff(1, &p, -3.0), Duration::from_millis(50));
        assert_eq!(backoff(1, &p, 7.0), Duration::from_millis(100));
        assert_eq!(backoff(1, &p, f64::NAN), Duration::from_millis(50));
    }

    #[test]
    fn signed_query_carries_signature_that_verifies_with_the_method_used() {
        let creds = Credentials::sts("STS.id", "s3cret", "tok en/+");
        let params = vec![
            ("RegionId".to_owned(), "cn-hangzhou".to_owned()),
            ("ImageName".to_owned(), "web app*".to_owned()),
        ];
        let q = signed_rpc_query(
            RpcMethod::Post,
            "2014-05-26",
            "DescribeImages",
            &params,
            &creds,
            "nonce-1",
            "2026-11-27T10:00:00Z",
        );
        assert!(q.contains("SecurityToken=tok%20en%2F%2B"));
        assert!(q.contains("ImageName=web%20app%2A"));
        assert!(q.contains("Timestamp=2026-11-27T10%3A00%3A00Z"));
        // Decode the query back and verify the signature the way a server does.
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let sig = pairs
            .iter()
            .find(|(k, _)| k == "Signature")
            .map(|(_, v)| v.clone())
            .expect("signature present");
        let signed = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        assert_eq!(rpc::sign("POST", signed.clone(), "s3cret"), sig);
        assert_ne!(rpc::sign("GET", signed, "s3cret"), sig);
    }

    /// An error of another client (as FC or OSS would have), to show `retry` is generic.
    #[derive(Debug)]
    struct Other(ErrorKind, Option<Duration>);

    impl std::fmt::Display for Other {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }

    impl std::error::Error for Other {}

    impl Retryable for Other {
        fn kind(&self) -> ErrorKind {
            self.0
        }
        fn retry_after(&self) -> Option<Duration> {
            self.1
        }
    }

    fn clock() -> crate::clock::ManualClock {
        use chrono::TimeZone;
        crate::clock::ManualClock::new(
            chrono::Utc
                .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .expect("valid time"),
        )
    }

    #[tokio::test]
    async fn retry_is_generic_over_the_error_and_sleeps_on_the_clock() {
        let clock = clock();
        let start = clock.now();
        let ids = crate::ids::SequentialIds::new("n");
        let mut attempts = Vec::new();
        let result: Result<&str, Other> = retry(&policy(), &clock, &ids, "test", |n| {
            attempts.push((n, clock.now()));
            async move {
                match n {
                    1 => Err(Other(ErrorKind::Transient, None)),
                    2 => Err(Other(ErrorKind::Throttling, Some(Duration::from_secs(7)))),
                    _ => Ok("done"),
                }
            }
        })
        .await;
        assert_eq!(result.expect("third attempt"), "done");
        let offsets: Vec<i64> = attempts
            .iter()
            .map(|(_, t)| (*t - start).num_milliseconds())
            .collect();
        // SequentialIds' fraction is 0.5: 75 ms after the first failure, then the 7 s hint
        // (longer than the 150 ms backoff).
        assert_eq!(offsets, [0, 75, 7075]);

        let mut calls = 0;
        let result: Result<(), Other> = retry(&policy(), &clock, &ids, "test", |_| {
            calls += 1;
            async { Err(Other(ErrorKind::Client, Some(Duration::from_secs(1)))) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 1, "client errors are final");
    }

    #[test]
    fn timestamp_format_is_second_precision_utc() {
        use chrono::TimeZone;
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("valid time");
        assert_eq!(rpc_timestamp(t), "2026-01-02T03:04:05Z");
    }
}
