//! The sim's OSS front: buckets and objects, signature V1 checked, errors as OSS's XML.
//!
//! | operation | request | notes |
//! |---|---|---|
//! | PutBucket | `PUT /<bucket>` | 409 `BucketAlreadyExists` |
//! | PutObject | `PUT /<bucket>/<key>` | `x-oss-forbid-overwrite: true` → 409 `FileAlreadyExists`; `Content-MD5` checked |
//! | GetObject | `GET /<bucket>/<key>` | 404 `NoSuchKey` / `NoSuchBucket` |
//! | HeadObject | `HEAD /<bucket>/<key>` | errors without a body, as OSS |
//! | GetObjectMeta | `HEAD /<bucket>/<key>?objectMeta` | as HeadObject |
//! | DeleteObject | `DELETE /<bucket>/<key>` | 204, also for a missing key |
//! | ListObjectsV2 | `GET /<bucket>/?list-type=2` | `prefix`, `delimiter`, `start-after`, `continuation-token`, `max-keys`, `encoding-type=url` |
//!
//! Anything else (other sub-resources, ListObjects v1, ListBuckets, presigned URLs) is answered
//! 501 `NotImplemented` in OSS's XML, never mistaken for one of the above.
//!
//! Every request must carry `Authorization: OSS <AccessKeyId>:<Signature>` (signature V1) or
//! `OSS4-HMAC-SHA256 Credential=…,Signature=…` (V4, scoped to the sim's region); the sim
//! recomputes the signature with reimage's own signer ([`reimage_cloud::aliyun::sign::oss`]) and the
//! secret its key book holds for that id (static keys, and STS credentials it issued, with
//! `x-oss-security-token`). A mismatch is 403 `SignatureDoesNotMatch` carrying the string the
//! sim signed. The request time (`Date`, or `x-oss-date`) may be at most 15 minutes off the
//! sim's clock.
//!
//! Module layout as for every service of the sim: [`protocol`] (the wire), [`state`] (buckets
//! and objects), [`errors`] (OSS's error answers).

pub mod errors;
pub mod protocol;
pub mod state;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use reimage_cloud::aliyun::sign::oss as sign;
use reimage_cloud::clock::SharedClock;

pub use errors::OssError;

use protocol::{Operation, Parsed};
use state::ListQuery;
use state::{Object, OssState};

/// The largest object the sim accepts.
pub const MAX_OBJECT_BYTES: usize = 16 * 1024 * 1024;

/// Why the key book refuses a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No such AccessKeyId.
    UnknownKey,
    /// An STS AccessKeyId without its security token.
    MissingToken,
    /// A security token that does not belong to the AccessKeyId.
    WrongToken,
    /// The STS credentials have expired.
    Expired,
}

/// A failure injected into one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    /// The HTTP status to answer.
    pub status: u16,
    /// The error code.
    pub code: String,
    /// The message.
    pub message: String,
}

/// What the OSS front needs of the rest of the sim: the key book, and the faults to inject.
pub trait OssEnv: Send + Sync + fmt::Debug + 'static {
    /// The secret that must have signed a request made with `access_key_id` (and
    /// `security_token`, for STS credentials) at `now`, or why the credentials are refused.
    fn secret_for(
        &self,
        access_key_id: &str,
        security_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, KeyRefusal>;

    /// Called once per authenticated call of `operation` (`PutObject`, …) before it runs:
    /// a delay to add, and maybe a failure to answer instead.
    fn on_call(&self, operation: &str) -> (Option<std::time::Duration>, Option<Injected>) {
        let _ = operation;
        (None, None)
    }
}

/// The OSS service of one region: its buckets and objects. Who may call it ([`OssEnv`])
/// and what time it is are given with each request, so the sim's one key book and its clock
/// (which the admin front can move) stay the only ones.
pub struct OssService {
    region: String,
    state: Mutex<OssState>,
    requests: AtomicU64,
}

impl fmt::Debug for OssService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OssService")
            .field("region", &self.region)
            .field("buckets", &self.lock().bucket_names())
            .finish_non_exhaustive()
    }
}

/// Header names the answers use.
const REQUEST_ID: &str = "x-oss-request-id";

impl OssService {
    /// An OSS service for `region`, without buckets.
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            state: Mutex::new(OssState::default()),
            requests: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, OssState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a bucket (the seed and admin do this); `false` if it exists.
    pub fn create_bucket(&self, bucket: &str) -> bool {
        self.lock().create_bucket(bucket)
    }

    /// The content of an object, if it exists (for tests and the admin front).
    pub fn object(&self, bucket: &str, key: &str) -> Option<Bytes> {
        self.lock().get(bucket, key).ok().map(|o| o.data.clone())
    }

    /// Puts an object straight into `bucket`, as written at `at`, without a request (for
    /// tests and benches that own the bucket); `false` if there is no such bucket.
    pub fn seed_object(
        &self,
        bucket: &str,
        key: &str,
        data: impl Into<Bytes>,
        at: DateTime<Utc>,
    ) -> bool {
        let data = data.into();
        let object = state::Object {
            etag: state::etag_of(&data),
            data,
            content_type: "application/octet-stream".to_owned(),
            last_modified: at,
        };
        self.lock().put(bucket, key, object, false).is_ok()
    }

    /// Every key in `bucket`, in order.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let query = ListQuery {
            prefix: String::new(),
            delimiter: String::new(),
            start_after: String::new(),
            continuation_token: String::new(),
            max_keys: usize::MAX,
            url_encoded: false,
        };
        self.lock()
            .list(bucket, &query)
            .map(|l| l.objects.into_iter().map(|o| o.key).collect())
            .unwrap_or_default()
    }

    /// An axum router that sends every request to [`OssService::handle`], with `env` and
    /// `clock` (for tests of the OSS front on its own).
    pub fn router(self: Arc<Self>, env: Arc<dyn OssEnv>, clock: SharedClock) -> axum::Router {
        axum::Router::new().fallback(move |request: Request<Body>| {
            let service = Arc::clone(&self);
            let env = Arc::clone(&env);
            let now = clock.now();
            let times = Times { now, wall: now };
            async move { service.handle(env.as_ref(), times, request).await }
        })
    }

    /// Answers one OSS request that arrived at `times`, checking its signature against `env`.
    pub async fn handle(
        &self,
        env: &dyn OssEnv,
        times: Times,
        request: Request<Body>,
    ) -> Response<Body> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let request_id = format!("5E1D{n:020X}");
        let (parts, body) = request.into_parts();
        let is_head = parts.method == http::Method::HEAD;
        let parsed = protocol::parse(parts.method.as_str(), parts.uri.path(), parts.uri.query());
        let host_id = match &parsed {
            Ok(p) if !p.bucket.is_empty() => {
                format!("{}.oss-{}.aliyuncs.com", p.bucket, self.region)
            }
            _ => format!("oss-{}.aliyuncs.com", self.region),
        };
        let outcome = match parsed {
            Ok(parsed) => {
                let context = Context { env, times };
                self.serve(&context, &parts.headers, parsed, body).await
            }
            Err(e) => Err(e),
        };
        let mut response = match outcome {
            Ok(response) => response,
            Err(err) => {
                tracing::debug!(code = %err.code, status = %err.status, "OSS error answer");
                let mut builder = Response::builder()
                    .status(err.status)
                    .header("content-type", "application/xml");
                if !err.ec.is_empty() {
                    builder = builder.header("x-oss-ec", err.ec);
                }
                let body = if is_head {
                    Body::empty()
                } else {
                    Body::from(err.to_xml(&request_id, &host_id))
                };
                builder.body(body).unwrap_or_default()
            }
        };
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert(REQUEST_ID, v);
        }
        headers.insert("server", HeaderValue::from_static("AliyunOSS"));
        if let Ok(v) = HeaderValue::from_str(&http_date(times.now)) {
            headers.insert("date", v);
        }
        response
    }

    async fn serve(
        &self,
        context: &Context<'_>,
        headers: &HeaderMap,
        parsed: Parsed,
        body: Body,
    ) -> Result<Response<Body>, OssError> {
        self.authenticate(context, headers, &parsed)?;
        let op = protocol::operation(&parsed)?;
        let (delay, injected) = context.env.on_call(op.name());
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(fault) = injected {
            let status =
                StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(OssError::new(status, fault.code, fault.message));
        }
        let body = axum::body::to_bytes(body, MAX_OBJECT_BYTES)
            .await
            .map_err(|_| OssError::entity_too_large(MAX_OBJECT_BYTES))?;
        match op {
            Operation::PutBucket => {
                if !state::valid_bucket_name(&parsed.bucket) {
                    return Err(OssError::invalid_bucket_name(&parsed.bucket));
                }
                if !self.lock().create_bucket(&parsed.bucket) {
                    return Err(OssError::bucket_already_exists(&parsed.bucket));
                }
                Ok(empty(StatusCode::OK))
            }
            Operation::PutObject => self.put_object(context.times.now, headers, &parsed, body),
            Operation::GetObject | Operation::HeadObject | Operation::GetObjectMeta => {
                let object = self.lock().get(&parsed.bucket, &parsed.key)?.clone();
                let mut response = Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", object.content_type.as_str())
                    .header("etag", object.etag.as_str())
                    .header("last-modified", http_date(object.last_modified))
                    .header("x-oss-object-type", "Normal")
                    .header("content-length", object.data.len());
                if op != Operation::GetObject {
                    response = response.header("x-oss-storage-class", "Standard");
                    return Ok(response.body(Body::empty()).unwrap_or_default());
                }
                Ok(response.body(Body::from(object.data)).unwrap_or_default())
            }
            Operation::DeleteObject => {
                self.lock().delete(&parsed.bucket, &parsed.key)?;
                Ok(empty(StatusCode::NO_CONTENT))
            }
            Operation::ListObjectsV2 => {
                let query = ListQuery::from_request(&parsed)?;
                let listing = self.lock().list(&parsed.bucket, &query)?;
                let xml = protocol::list_result_xml(&parsed.bucket, &query, &listing);
                Ok(Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/xml")
                    .body(Body::from(xml))
                    .unwrap_or_default())
            }
        }
    }

    fn put_object(
        &self,
        now: DateTime<Utc>,
        headers: &HeaderMap,
        parsed: &Parsed,
        body: Bytes,
    ) -> Result<Response<Body>, OssError> {
        state::check_key(&parsed.key)?;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let forbid_overwrite = match header("x-oss-forbid-overwrite").map(str::trim) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(OssError::invalid_argument(
                    "x-oss-forbid-overwrite",
                    v,
                    "x-oss-forbid-overwrite must be true or false.",
                ));
            }
        };
        let md5 = {
            use md5::Digest as _;
            md5::Md5::digest(&body)
        };
        let md5_b64 = base64::engine::general_purpose::STANDARD.encode(md5);
        if let Some(given) = header("content-md5") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(given.trim())
                .ok()
                .filter(|d| d.len() == 16)
                .ok_or_else(|| OssError::invalid_digest(given))?;
            if decoded.as_slice() != md5.as_slice() {
                return Err(OssError::bad_digest(given, &md5_b64));
            }
        }
        let object = Object {
            etag: state::etag_of(&body),
            content_type: header("content-type")
                .unwrap_or("application/octet-stream")
                .to_owned(),
            last_modified: now,
            data: body,
        };
        let etag = self
            .lock()
            .put(&parsed.bucket, &parsed.key, object, forbid_overwrite)?;
        Ok(Response::builder()
            .status(StatusCode::OK)
            .header("etag", etag)
            .header("content-md5", md5_b64)
            .body(Body::empty())
            .unwrap_or_default())
    }

    /// Checks the signature (V1 or V4) of a request against the key book.
    fn authenticate(
        &self,
        context: &Context<'_>,
        headers: &HeaderMap,
        parsed: &Parsed,
    ) -> Result<(), OssError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let Some(authorization) = header("authorization") else {
            return Err(OssError::access_denied(
                "You have no right to access this object because of bucket acl (the sim \
                 accepts signed requests only).",
            ));
        };
        let v4 = authorization.trim_start().starts_with(sign::v4::ALGORITHM);
        let (access_key_id, given, scope) = if v4 {
            let auth = sign::v4::parse_authorization(authorization).ok_or_else(|| {
                OssError::invalid_argument(
                    "Authorization",
                    authorization,
                    "Authorization header is invalid; expected OSS4-HMAC-SHA256 \
                     Credential=<AccessKeyId>/<date>/<region>/oss/aliyun_v4_request,Signature=<hex>.",
                )
            })?;
            (auth.access_key_id, auth.signature, Some(auth))
        } else {
            let (id, sig) = sign::parse_authorization(authorization).ok_or_else(|| {
                OssError::invalid_argument(
                    "Authorization",
                    authorization,
                    "Authorization header is invalid; expected OSS <AccessKeyId>:<Signature>.",
                )
            })?;
            (id, sig, None)
        };
        let now = context.times.wall;
        let date = header("x-oss-date")
            .or_else(|| header("date"))
            .ok_or_else(|| OssError::access_denied("OSS authentication requires a valid Date."))?;
        let sent = parse_request_date(date.trim(), v4)
            .ok_or_else(|| OssError::access_denied("OSS authentication requires a valid Date."))?;
        if (sent - now).num_seconds().abs() > 15 * 60 {
            return Err(OssError::request_time_too_skewed(date, &http_date(now)));
        }
        let token = header("x-oss-security-token");
        let secret = context
            .env
            .secret_for(access_key_id, token, context.times.now)
            .map_err(|refusal| match refusal {
                KeyRefusal::UnknownKey => OssError::invalid_access_key_id(access_key_id),
                KeyRefusal::MissingToken => OssError::invalid_security_token(
                    "This AccessKeyId is temporary (STS); send its x-oss-security-token.",
                ),
                KeyRefusal::WrongToken => OssError::invalid_security_token(
                    "The security token does not match the AccessKeyId.",
                ),
                KeyRefusal::Expired => OssError::security_token_expired(),
            })?;
        let header_pairs: Vec<(&str, &str)> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let query: Vec<(&str, &str)> = parsed
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let bucket = (!parsed.bucket.is_empty()).then_some(parsed.bucket.as_str());
        let (expected, string_to_sign) = match scope {
            None => {
                let request = sign::Request {
                    method: &parsed.method,
                    bucket,
                    key: &parsed.key,
                    query: &query,
                    headers: &header_pairs,
                };
                let sts = sign::string_to_sign(&request);
                (sign::signature(&secret, &sts), sts)
            }
            Some(auth) => {
                if auth.region != self.region {
                    return Err(OssError::invalid_argument(
                        "Credential",
                        auth.region,
                        format!(
                            "The region in the V4 credential scope must be {}.",
                            self.region
                        ),
                    ));
                }
                if !date.trim().starts_with(auth.date) {
                    return Err(OssError::invalid_argument(
                        "Credential",
                        auth.date,
                        "The date in the V4 credential scope must be the date of x-oss-date.",
                    ));
                }
                let request = sign::v4::Request {
                    method: &parsed.method,
                    bucket,
                    key: &parsed.key,
                    query: &query,
                    headers: &header_pairs,
                    additional_headers: &auth.additional_headers,
                };
                let canonical = sign::v4::canonical_request(&request);
                let scope = sign::v4::scope(auth.date, auth.region);
                let sts = sign::v4::string_to_sign(date.trim(), &scope, &canonical);
                let key = sign::v4::signing_key(&secret, auth.date, auth.region);
                (sign::v4::signature(&key, &sts), sts)
            }
        };
        if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Err(OssError::signature_does_not_match(
                access_key_id,
                &string_to_sign,
            ));
        }
        Ok(())
    }
}

/// The request time: RFC 1123 (`Date`, V1), or `yyyymmddTHHMMSSZ` (`x-oss-date`, V4).
fn parse_request_date(value: &str, v4: bool) -> Option<DateTime<Utc>> {
    if v4 {
        chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ")
            .ok()
            .map(|t| t.and_utc())
    } else {
        DateTime::parse_from_rfc2822(value)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The two times a request is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// The sim's time (which the admin front can move forward): STS expiry, Last-Modified.
    pub now: DateTime<Utc>,
    /// The wall clock: what the request's `Date` is compared with (at most 15 minutes off).
    pub wall: DateTime<Utc>,
}

/// What one request is checked against.
struct Context<'a> {
    env: &'a dyn OssEnv,
    times: Times,
}

fn empty(status: StatusCode) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Body::empty())
        .unwrap_or_default()
}

/// RFC 1123 date in GMT, as HTTP and OSS write it.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
