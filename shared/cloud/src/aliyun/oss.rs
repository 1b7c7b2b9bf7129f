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
//! It shares the transport of every cloud client: errors are [`super::Error`] (OSS's XML
//! `<Error>` body parsed into an [`super::ApiError`]: Code, Message, RequestId, HostId), classified
//! by [`super::ErrorKind`], and retried by [`super::http::retry`] with the client's
//! [`RetryPolicy`]: throttling and transient errors only.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;

use super::credentials::SharedCredentialsProvider;
use super::error::{ApiError, Error};
use super::http::{
    BodyError, MAX_RESPONSE_BODY, RetryPolicy, Timeouts, http_client, read_body_capped, retry,
    transport_failure,
};
use super::sign::oss as sign;
use super::sign::rpc::percent_encode;
use super::{Client, Endpoints, ErrorKind};
use crate::clock::SharedClock;
use crate::ids::SharedIds;
use crate::settings::Env;

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
    pub fn parse(url: &str) -> Result<Self, Error> {
        let bad =
            |reason: &str| Error::Setup(format!("OSS endpoint {url:?} cannot be used: {reason}"));
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

    /// `REIMAGE_OSS_ENDPOINT`, else `REIMAGE_ENDPOINT`, else the public endpoint of `region`
    /// (the same resolution as every other service, [`Endpoints::from_env`]).
    pub fn from_env(env: &Env, region: &str) -> Result<Self, Error> {
        Self::parse(&Endpoints::from_env(region, None, env).oss)
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

/// What to tell a person about an OSS error code, beyond OSS's own message.
pub fn explain(code: &str) -> Option<&'static str> {
    Some(match code {
        "SignatureDoesNotMatch" => {
            "the AccessKey secret does not belong to the AccessKey id, or the request was changed on the way"
        }
        "InvalidAccessKeyId" => "the AccessKey id is unknown or disabled",
        "SecurityTokenExpired" | "InvalidSecurityToken" => {
            "the STS credentials have expired or are invalid: get fresh ones"
        }
        "RequestTimeTooSkewed" => "this machine's clock is more than 15 minutes off",
        "NoSuchBucket" => "check the bucket name in REIMAGE_STORE",
        "AccessDenied" => "the credentials lack permission on this bucket or object",
        _ => return None,
    })
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
    /// Only keys that sort after this one (`start-after`).
    pub start_after: Option<&'a str>,
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
    credentials: SharedCredentialsProvider,
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
    /// What the error messages call this call: `OSS PutObject of <bucket>/<key>`.
    fn action(&self) -> String {
        format!("OSS {} of {}/{}", self.op, self.bucket, self.key)
    }
}

/// A successful answer's body.
struct Answer {
    body: bytes::Bytes,
}

impl OssClient {
    /// A client of `endpoint` signing with `credentials`, with the default timeouts and
    /// retry policy.
    pub fn new(
        endpoint: OssEndpoint,
        credentials: SharedCredentialsProvider,
        clock: SharedClock,
        ids: SharedIds,
    ) -> Result<Self, Error> {
        Ok(Self {
            http: http_client(Timeouts::default())?,
            endpoint,
            credentials,
            clock,
            ids,
            retry: RetryPolicy::default(),
            signature: SignatureVersion::V1,
        })
    }

    /// An OSS client sharing `client`'s transport, credentials, clock, ids, retry policy and
    /// OSS endpoint.
    pub fn from_client(client: &Client) -> Result<Self, Error> {
        Ok(Self {
            http: client.http().clone(),
            endpoint: OssEndpoint::parse(&client.endpoints().oss)?,
            credentials: Arc::clone(client.credentials()),
            clock: Arc::clone(client.clock()),
            ids: Arc::clone(client.ids()),
            retry: *client.retry_policy(),
            signature: SignatureVersion::V1,
        })
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
    /// If an earlier attempt of this same call failed in a way that may hide a success (a 5xx,
    /// a broken connection) and a retry then finds the key taken, the object is read back: the
    /// same bytes mean the earlier attempt created it.
    pub async fn put_object_if_absent(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
    ) -> Result<PutOutcome, Error> {
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
        let (outcome, maybe_applied) = self.send(&call).await;
        match outcome {
            Ok(_) => Ok(PutOutcome::Created),
            Err(err) if err.code() == Some("FileAlreadyExists") => {
                if maybe_applied && self.get_object(bucket, key).await?.as_deref() == Some(body) {
                    return Ok(PutOutcome::Created);
                }
                Ok(PutOutcome::AlreadyExists)
            }
            Err(err) => Err(err),
        }
    }

    /// GetObject: the object's bytes, or `None` on 404 `NoSuchKey`.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let call = Call {
            op: "GetObject",
            method: reqwest::Method::GET,
            bucket,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        };
        match self.send(&call).await.0 {
            Ok(answer) => Ok(Some(answer.body.to_vec())),
            Err(err) if err.code() == Some("NoSuchKey") => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// DeleteObject (204 whether or not the key existed).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error> {
        let call = Call {
            op: "DeleteObject",
            method: reqwest::Method::DELETE,
            bucket,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        };
        self.send(&call).await.0.map(|_| ())
    }

    /// One page of ListObjectsV2.
    pub async fn list_objects_v2(
        &self,
        bucket: &str,
        request: &ListRequest<'_>,
    ) -> Result<ListPage, Error> {
        let mut query = vec![
            ("list-type", "2".to_owned()),
            ("encoding-type", "url".to_owned()),
            ("prefix", request.prefix.to_owned()),
        ];
        if let Some(token) = request.continuation_token {
            query.push(("continuation-token", token.to_owned()));
        }
        if let Some(after) = request.start_after {
            query.push(("start-after", after.to_owned()));
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
        let answer = self.send(&call).await.0?;
        parse_list(&answer.body).map_err(|message| Error::Decode {
            action: format!("OSS ListObjectsV2 of {bucket}/{}", request.prefix),
            request_id: None,
            message,
        })
    }

    /// Every key under `prefix`, following continuation tokens, in ascending order.
    pub async fn list_all(
        &self,
        bucket: &str,
        prefix: &str,
        page_size: Option<u32>,
    ) -> Result<Vec<String>, Error> {
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
                        ..ListRequest::default()
                    },
                )
                .await?;
            keys.extend(page.objects.into_iter().map(|o| o.key));
            match page.next_continuation_token {
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                Some(_) => {
                    return Err(Error::Decode {
                        action: format!("OSS ListObjectsV2 of {bucket}/{prefix}"),
                        request_id: None,
                        message: "the same continuation token came back twice".into(),
                    });
                }
                None => break,
            }
        }
        Ok(keys)
    }

    /// Sends `call` with the shared retry rules. Returns the outcome, and whether an attempt
    /// before the last failed in a way that may hide a success (transient: 5xx, broken or
    /// timed-out connection).
    async fn send(&self, call: &Call<'_>) -> (Result<Answer, Error>, bool) {
        let maybe_applied = AtomicBool::new(false);
        let outcome = retry(
            &self.retry,
            self.clock.as_ref(),
            self.ids.as_ref(),
            call.op,
            |attempt| {
                let maybe_applied = &maybe_applied;
                async move {
                    if attempt > 1 {
                        tracing::debug!(op = call.op, attempt, "OSS call retried");
                    }
                    let result = self.send_once(call).await;
                    if let Err(e) = &result {
                        if e.kind() == ErrorKind::Transient {
                            maybe_applied.store(true, Ordering::Relaxed);
                        }
                    }
                    result
                }
            },
        )
        .await;
        // The last attempt's own failure does not count: only an earlier one can have
        // succeeded unseen before a retry met the result.
        let earlier = maybe_applied.load(Ordering::Relaxed)
            && !matches!(&outcome, Err(e) if e.kind() == ErrorKind::Transient);
        (outcome, earlier)
    }

    async fn send_once(&self, call: &Call<'_>) -> Result<Answer, Error> {
        let creds = self
            .credentials
            .credentials()
            .await
            .map_err(|source| Error::Credentials {
                action: call.action(),
                source,
            })?;
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
        if let Some(token) = creds.security_token() {
            headers.push(("x-oss-security-token", token.to_owned()));
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
                creds.access_key_id(),
                creds.secret(),
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
                creds.access_key_id(),
                creds.secret(),
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
        let transport = |e: reqwest::Error| Error::Transport {
            action: call.action(),
            endpoint: url.clone(),
            failure: transport_failure(&e),
            message: crate::report::chain(&e),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_body_capped(response, MAX_RESPONSE_BODY)
            .await
            .map_err(|e| match e {
                BodyError::Read(e) => transport(e),
                too_large => too_large.into_error(&call.action(), &url),
            })?;
        if (200..=299).contains(&status) {
            return Ok(Answer { body });
        }
        let api = ApiError::from_response(status, &headers, &body);
        tracing::debug!(op = call.op, status, code = %api.code, "OSS error answer");
        Err(Error::Api {
            action: call.action(),
            source: Box::new(api),
        })
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
    fn oss_error_answers_keep_code_ids_and_classification() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>\
                  <Message>The request signature we calculated does not match</Message>\
                  <RequestId>5C3D9175B6FC201293AD4890</RequestId><HostId>b.oss.example</HostId>\
                  <StringToSign>GET\n\n\nx\n/b/k</StringToSign><EC>0002-00000040</EC></Error>";
        let api = ApiError::from_response(403, &http::HeaderMap::new(), body);
        assert_eq!(api.code, "SignatureDoesNotMatch");
        assert_eq!(api.request_id.as_deref(), Some("5C3D9175B6FC201293AD4890"));
        assert_eq!(api.host_id.as_deref(), Some("b.oss.example"));
        assert_eq!(api.kind(), ErrorKind::Client);
        assert!(explain(&api.code).is_some_and(|h| h.contains("secret")));
        let slow = ApiError::from_response(
            503,
            &http::HeaderMap::new(),
            b"<Error><Code>SlowDown</Code><Message>m</Message></Error>",
        );
        assert!(slow.kind().is_retryable());
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
}
