//! Signed clients for the Alibaba Cloud services reimage calls.
//!
//! Layers, bottom up: [`sign`] (pure signers), [`http`] (transport, retry classification,
//! backoff), [`credentials`], [`chain`] (where credentials are looked for), [`endpoints`], and one module
//! of typed operations per service ([`ecs`], [`ess`], [`sts`], [`kms`], [`fc`], [`oss`]), using the
//! cloud's exact parameter names and response nesting.
//!
//! ```no_run
//! # async fn demo(config: reimage_cloud::aliyun::ClientConfig) -> Result<(), reimage_cloud::aliyun::error::Error> {
//! use reimage_cloud::aliyun::{Client, ecs::{DescribeImagesRequest, ImageStatus}};
//! let client = Client::new(config)?;
//! let images = client
//!     .ecs()
//!     .describe_images(&DescribeImagesRequest {
//!         image_id: Some("m-bp1example".into()),
//!         status: vec![ImageStatus::Creating, ImageStatus::Available],
//!         ..Default::default()
//!     })
//!     .await?;
//! println!("{:?}", images.images.image);
//! # Ok(()) }
//! ```
//!
//! Every typed request checks itself before it is sent ([`error::RequestError`] names the
//! parameter); every call is signed anew per attempt and retried per the client's
//! [`http::RetryPolicy`] on throttling and transient errors only.

pub mod chain;
pub mod credentials;
pub mod ecs;
pub mod endpoints;
pub mod error;
pub mod ess;
pub mod fc;
pub mod http;
pub mod kms;
pub mod oss;
pub mod sign;
pub mod slb;
pub mod sts;

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use credentials::{Credentials, CredentialsProvider, SharedCredentialsProvider};
pub use endpoints::{Endpoints, Service};
pub use error::{ApiError, Error, ErrorKind, RequestError};
pub use http::{RetryPolicy, RpcMethod, Timeouts};

use std::future::Future;

use crate::clock::{SharedClock, SystemClock};
use crate::ids::{RandomIds, SharedIds};

/// Everything a [`Client`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The region every regional operation is sent to (`RegionId`).
    pub region_id: String,
    /// Where each service is reached.
    pub endpoints: Endpoints,
    /// Who the calls are made as.
    pub credentials: SharedCredentialsProvider,
    /// Timestamps and retry sleeps.
    pub clock: SharedClock,
    /// Nonces and jitter.
    pub ids: SharedIds,
    /// When to retry.
    pub retry: RetryPolicy,
    /// Connect and read timeouts.
    pub timeouts: Timeouts,
    /// Whether `http://` endpoints other than loopback are allowed (`REIMAGE_ALLOW_HTTP=1`).
    /// Off by default: signed requests, STS tokens and records would cross the network in
    /// the clear. Loopback (`127.0.0.0/8`, `::1`, `localhost`) is always allowed: the sim.
    pub allow_plain_http: bool,
}

impl ClientConfig {
    /// A configuration with the system clock, random ids, the default retry policy and
    /// timeouts; change the fields for anything else.
    pub fn new(
        region_id: impl Into<String>,
        endpoints: Endpoints,
        credentials: SharedCredentialsProvider,
    ) -> Self {
        Self {
            region_id: region_id.into(),
            endpoints,
            credentials,
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
            allow_plain_http: false,
        }
    }
}

/// A signed client for ECS, ESS and STS, and the shared transport of the FC and OSS clients.
/// Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client. Fails, naming the value, when the region is not a region id
    /// ([`endpoints::validate_region`]), when an endpoint is plain `http://` to a host other
    /// than loopback without [`ClientConfig::allow_plain_http`]
    /// ([`endpoints::check_scheme`]), or when the HTTP stack cannot be set up.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        endpoints::validate_region(&config.region_id).map_err(Error::Setup)?;
        for service in Service::ALL {
            if let Some(url) = config.endpoints.get(service) {
                endpoints::check_scheme(service, url, config.allow_plain_http)
                    .map_err(Error::Setup)?;
            }
        }
        let http = http::http_client(config.timeouts)?;
        Ok(Self {
            inner: Arc::new(Inner { config, http }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The region (`RegionId`).
    pub fn region_id(&self) -> &str {
        &self.inner.config.region_id
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.config.endpoints
    }

    /// The credentials provider.
    pub fn credentials(&self) -> &SharedCredentialsProvider {
        &self.inner.config.credentials
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.config.clock
    }

    /// The id source.
    pub fn ids(&self) -> &SharedIds {
        &self.inner.config.ids
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.config.retry
    }

    /// The HTTP client (with the configured timeouts), for the FC and OSS clients.
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// ECS operations.
    pub fn ecs(&self) -> ecs::Ecs<'_> {
        ecs::Ecs::new(self)
    }

    /// ESS operations.
    pub fn ess(&self) -> ess::Ess<'_> {
        ess::Ess::new(self)
    }

    /// STS operations.
    pub fn sts(&self) -> sts::Sts<'_> {
        sts::Sts::new(self)
    }

    /// KMS operations.
    pub fn kms(&self) -> kms::Kms<'_> {
        kms::Kms::new(self)
    }

    /// CLB operations.
    pub fn slb(&self) -> slb::Slb<'_> {
        slb::Slb::new(self)
    }

    /// Any RPC action of ECS, ESS or STS, sent as `POST` with `params` as given (add
    /// `RegionId` yourself when the action takes one); answers the JSON body.
    pub async fn rpc<K, V>(
        &self,
        service: Service,
        action: &str,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Result<serde_json::Value, Error>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let params: Vec<(String, String)> = params
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.rpc_with(service, RpcMethod::Post, action, &params)
            .await
    }

    /// [`Client::rpc`] with the HTTP method chosen.
    pub async fn rpc_with(
        &self,
        service: Service,
        method: RpcMethod,
        action: &str,
        params: &[(String, String)],
    ) -> Result<serde_json::Value, Error> {
        self.rpc_at(service, None, method, action, params).await
    }

    /// [`Client::rpc_with`] at API `version` instead of the service's usual one (ESS's
    /// instance-refresh operations are called at 2022-02-22).
    pub async fn rpc_at(
        &self,
        service: Service,
        version: Option<&str>,
        method: RpcMethod,
        action: &str,
        params: &[(String, String)],
    ) -> Result<serde_json::Value, Error> {
        let usual = service.rpc_version();
        let (version, endpoint) =
            match (usual.and(version.or(usual)), self.endpoints().get(service)) {
                (Some(v), Some(e)) => (v, e),
                _ => {
                    return Err(Error::Setup(format!(
                        "{} is not an RPC service",
                        service.name()
                    )));
                }
            };
        let c = &self.inner.config;
        http::call_rpc(
            &self.inner.http,
            endpoint,
            method,
            version,
            action,
            params,
            c.credentials.as_ref(),
            c.clock.as_ref(),
            c.ids.as_ref(),
            &c.retry,
        )
        .await
    }

    /// A typed RPC call of a request that may have failed its own checks: an
    /// [`Error::InvalidRequest`] naming `action` before anything is sent, else [`Self::call`].
    pub(crate) async fn call_checked<T: DeserializeOwned>(
        &self,
        service: Service,
        method: RpcMethod,
        action: &str,
        params: Result<Params, RequestError>,
    ) -> Result<T, Error> {
        let params = params.map_err(|source| Error::InvalidRequest {
            action: action.to_owned(),
            source,
        })?;
        self.call(service, method, action, params).await
    }

    /// A typed RPC call: sends `params`, reads the answer as `T`.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        service: Service,
        method: RpcMethod,
        action: &str,
        params: Params,
    ) -> Result<T, Error> {
        self.call_at(service, None, method, action, params).await
    }

    /// [`Self::call`] at API `version` (see [`Self::rpc_at`]).
    pub(crate) async fn call_at<T: DeserializeOwned>(
        &self,
        service: Service,
        version: Option<&str>,
        method: RpcMethod,
        action: &str,
        params: Params,
    ) -> Result<T, Error> {
        let value = self
            .rpc_at(service, version, method, action, &params.0)
            .await?;
        let request_id = value
            .get("RequestId")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        serde_json::from_value(value).map_err(|e| Error::Decode {
            action: action.to_owned(),
            request_id,
            message: e.to_string(),
        })
    }
}

/// The parameters of one RPC request, in the cloud's flattened form.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// `name=value`.
    pub fn put(&mut self, name: impl Into<String>, value: impl ToString) -> &mut Self {
        self.0.push((name.into(), value.to_string()));
        self
    }

    /// `name=value` when there is a value.
    pub fn opt<T: ToString>(&mut self, name: &str, value: Option<T>) -> &mut Self {
        if let Some(v) = value {
            self.put(name, v);
        }
        self
    }

    /// `name=value` when the value is not empty.
    pub fn opt_str(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.put(name, v);
        }
        self
    }

    /// `prefix.1=a&prefix.2=b…`.
    pub fn list<T: ToString>(&mut self, prefix: &str, items: &[T]) -> &mut Self {
        for (i, item) in items.iter().enumerate() {
            self.put(format!("{prefix}.{}", i + 1), item.to_string());
        }
        self
    }

    /// `Tag.N.Key` / `Tag.N.Value`.
    pub fn tags(&mut self, tags: &[Tag]) -> &mut Self {
        for (i, t) in tags.iter().enumerate() {
            self.put(format!("Tag.{}.Key", i + 1), &t.key);
            self.put(format!("Tag.{}.Value", i + 1), &t.value);
        }
        self
    }

    /// The pairs.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A tag on a request (`Tag.N.Key` / `Tag.N.Value`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The key.
    pub key: String,
    /// The value (may be empty).
    pub value: String,
}

impl Tag {
    /// A tag.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A tag in an answer: `Tags.Tag[]` of `{TagKey, TagValue}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ResourceTag {
    /// `TagKey`.
    pub tag_key: String,
    /// `TagValue`.
    pub tag_value: String,
}

/// `Tags: {Tag: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ResourceTags {
    /// `Tag`.
    pub tag: Vec<ResourceTag>,
}

/// Checks shared by the typed requests of several services.
pub mod validate {
    use super::{RequestError, Tag};

    /// Most ids a JSON-array list parameter (`InstanceIds`, `DiskIds`, `SnapshotIds`) takes.
    pub const MAX_JSON_IDS: usize = 100;

    /// `value` must be present and not blank.
    pub fn required<'a>(name: &str, value: Option<&'a str>) -> Result<&'a str, RequestError> {
        match value {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(RequestError::missing(name)),
        }
    }

    /// `value` must not be blank.
    pub fn non_empty(name: &str, value: &str) -> Result<(), RequestError> {
        required(name, Some(value)).map(|_| ())
    }

    /// A `ClientToken`: at most 64 ASCII characters, not empty.
    pub fn client_token(token: Option<&str>) -> Result<(), RequestError> {
        let Some(t) = token else { return Ok(()) };
        if t.is_empty() {
            return Err(RequestError::new("ClientToken", "is empty"));
        }
        if !t.is_ascii() {
            return Err(RequestError::new("ClientToken", "must be ASCII"));
        }
        if t.len() > 64 {
            return Err(RequestError::new(
                "ClientToken",
                format!("is {} characters long; at most 64", t.len()),
            ));
        }
        Ok(())
    }

    /// A JSON-array list of ids (`["i-a","i-b"]`): at most [`MAX_JSON_IDS`], none empty.
    /// `None` when the list is empty (the parameter is then left out).
    pub fn json_ids(name: &str, ids: &[String]) -> Result<Option<String>, RequestError> {
        if ids.is_empty() {
            return Ok(None);
        }
        if ids.len() > MAX_JSON_IDS {
            return Err(RequestError::new(
                name,
                format!("holds {} ids; at most {MAX_JSON_IDS}", ids.len()),
            ));
        }
        if ids.iter().any(|i| i.trim().is_empty()) {
            return Err(RequestError::new(name, "holds an empty id"));
        }
        serde_json::to_string(ids)
            .map(Some)
            .map_err(|e| RequestError::new(name, e.to_string()))
    }

    /// A `Name.N` list: at most `max` items, none empty.
    pub fn repeat_list(name: &str, items: &[String], max: usize) -> Result<(), RequestError> {
        if items.len() > max {
            return Err(RequestError::new(
                name,
                format!("holds {} items; at most {max} per call", items.len()),
            ));
        }
        if items.iter().any(|i| i.trim().is_empty()) {
            return Err(RequestError::new(name, "holds an empty item"));
        }
        Ok(())
    }

    /// `Tag.N.*`: at most 20; keys 1–128 characters not starting with `aliyun` or `acs:`;
    /// values at most 128 characters, not starting with `acs:`; neither containing `http://`
    /// or `https://`.
    pub fn tags(tags: &[Tag]) -> Result<(), RequestError> {
        if tags.len() > 20 {
            return Err(RequestError::new(
                "Tag.N",
                format!("{} tags; at most 20", tags.len()),
            ));
        }
        for (i, t) in tags.iter().enumerate() {
            let key_name = format!("Tag.{}.Key", i + 1);
            let value_name = format!("Tag.{}.Value", i + 1);
            let n = t.key.chars().count();
            if n == 0 || n > 128 {
                return Err(RequestError::new(key_name, "must be 1 to 128 characters"));
            }
            if t.key.starts_with("aliyun") || t.key.starts_with("acs:") {
                return Err(RequestError::new(
                    key_name,
                    "must not start with `aliyun` or `acs:`",
                ));
            }
            if t.value.chars().count() > 128 {
                return Err(RequestError::new(value_name, "is over 128 characters"));
            }
            if t.value.starts_with("acs:") {
                return Err(RequestError::new(value_name, "must not start with `acs:`"));
            }
            for (name, text) in [(&key_name, &t.key), (&value_name, &t.value)] {
                if text.contains("http://") || text.contains("https://") {
                    return Err(RequestError::new(
                        name.clone(),
                        "must not contain http:// or https://",
                    ));
                }
            }
        }
        Ok(())
    }

    /// A page size between 1 and `max`.
    pub fn page_size(size: Option<u32>, max: u32) -> Result<(), RequestError> {
        match size {
            Some(s) if s == 0 || s > max => Err(RequestError::new(
                "PageSize",
                format!("is {s}; must be 1 to {max}"),
            )),
            _ => Ok(()),
        }
    }

    /// A page number of at least 1.
    pub fn page_number(number: Option<u32>) -> Result<(), RequestError> {
        match number {
            Some(0) => Err(RequestError::new("PageNumber", "starts at 1")),
            _ => Ok(()),
        }
    }
}

/// Lenient readers for fields the cloud sends sometimes as a string, sometimes as a number
/// (`"Size":"40"` in one answer, `"Size":40` in another; `TotalCount` in ESS doc examples).
pub mod lenient {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        S(String),
        I(i64),
        U(u64),
        F(f64),
        B(bool),
        Null(()),
    }

    /// A string, a number written as a string, or null (= empty).
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(match Loose::deserialize(d)? {
            Loose::S(s) => s,
            Loose::I(i) => i.to_string(),
            Loose::U(u) => u.to_string(),
            Loose::F(f) => f.to_string(),
            Loose::B(b) => b.to_string(),
            Loose::Null(()) => String::new(),
        })
    }

    /// [`string`], with absent, null and empty all `None`. Fields using it need
    /// `#[serde(default)]` (on the field or its struct) for the absent case.
    pub fn optional_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let s = string(d)?;
        Ok((!s.is_empty()).then_some(s))
    }

    /// A number, a number written as a string, or null/empty (= 0).
    pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        use serde::de::Error as _;
        match Loose::deserialize(d)? {
            Loose::I(i) => Ok(i),
            Loose::U(u) => i64::try_from(u).map_err(D::Error::custom),
            // Whole numbers only; the cloud never sends fractions in these fields.
            Loose::F(f) => Ok(f as i64),
            Loose::S(s) if s.trim().is_empty() => Ok(0),
            Loose::S(s) => s.trim().parse().map_err(D::Error::custom),
            Loose::B(_) => Err(D::Error::custom("expected a number, found a boolean")),
            Loose::Null(()) => Ok(0),
        }
    }

    /// A boolean, `"true"`/`"false"` in any case, or null (= false).
    pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        use serde::de::Error as _;
        match Loose::deserialize(d)? {
            Loose::B(b) => Ok(b),
            Loose::S(s) => match s.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" | "" => Ok(false),
                _ => Err(D::Error::custom(format!("expected a boolean, found {s:?}"))),
            },
            Loose::Null(()) => Ok(false),
            _ => Err(D::Error::custom("expected a boolean")),
        }
    }
}

/// The percentage out of a cloud `Progress` field (`"45%"`, `"100%"`, `"45"`).
pub fn parse_progress(progress: &str) -> Option<u8> {
    let n: u32 = progress.trim().trim_end_matches('%').trim().parse().ok()?;
    u8::try_from(n.min(100)).ok()
}

/// Most pages a paging helper reads before it stops (a guard against a server that never
/// stops answering full pages): 1000 pages of 100.
pub(crate) const MAX_PAGES: u32 = 1000;

/// Every item of a paged Describe call: asks `page` for pages 1, 2, … (each answer's items
/// and its `TotalCount`) until a page comes back empty, `TotalCount` items are read, or
/// [`MAX_PAGES`] pages were read.
pub(crate) async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, i64), Error>>,
{
    let mut out = Vec::new();
    for number in 1..=MAX_PAGES {
        let (items, total_count) = page(number).await?;
        let n = items.len();
        out.extend(items);
        if n == 0 || out.len() as i64 >= total_count {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Pages of `sizes` items each (then empty pages), all claiming `total` items; records
    /// the page numbers asked for.
    async fn read(sizes: &[usize], total: i64) -> (Result<Vec<u32>, Error>, Vec<u32>) {
        let asked = Mutex::new(Vec::new());
        let got = all_pages(|page| {
            asked.lock().unwrap().push(page);
            let n = sizes.get(page as usize - 1).copied().unwrap_or(0);
            async move { Ok((vec![page; n], total)) }
        })
        .await;
        (got, asked.into_inner().unwrap())
    }

    #[tokio::test]
    async fn all_pages_stops_at_total_count_or_an_empty_page() {
        let (got, asked) = read(&[2, 2, 1], 5).await;
        assert_eq!(got.unwrap(), [1, 1, 2, 2, 3]);
        assert_eq!(asked, [1, 2, 3]);
        // A TotalCount that overstates what the pages hold: the empty page ends it.
        let (got, asked) = read(&[2, 1], 10).await;
        assert_eq!(got.unwrap(), [1, 1, 2]);
        assert_eq!(asked, [1, 2, 3]);
    }

    #[tokio::test]
    async fn all_pages_stops_after_max_pages_and_passes_errors_on() {
        let (got, asked) = read(&[1; MAX_PAGES as usize + 5], i64::MAX).await;
        assert_eq!(got.unwrap().len(), MAX_PAGES as usize);
        assert_eq!(asked.len(), MAX_PAGES as usize);
        let mut calls = 0;
        let failed: Result<Vec<u32>, Error> = all_pages(|page| {
            calls += 1;
            async move {
                if page == 2 {
                    Err(Error::InvalidRequest {
                        action: "DescribeImages".into(),
                        source: RequestError::new("PageNumber", "page two fails"),
                    })
                } else {
                    Ok((vec![page], 3))
                }
            }
        })
        .await;
        assert!(
            matches!(failed, Err(Error::InvalidRequest { .. })),
            "{failed:?}"
        );
        assert_eq!(calls, 2);
    }

    #[test]
    fn params_flatten_lists_and_tags_one_based() {
        let mut p = Params::new();
        p.put("RegionId", "cn-hangzhou")
            .list("ScalingGroupId", &["asg-1", "asg-2"])
            .tags(&[Tag::new("team", "web"), Tag::new("env", "")])
            .opt::<u32>("PageSize", None)
            .opt_str("ImageName", Some(""))
            .opt("PageNumber", Some(2));
        assert_eq!(
            p.pairs()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            [
                "RegionId=cn-hangzhou",
                "ScalingGroupId.1=asg-1",
                "ScalingGroupId.2=asg-2",
                "Tag.1.Key=team",
                "Tag.1.Value=web",
                "Tag.2.Key=env",
                "Tag.2.Value=",
                "PageNumber=2",
            ]
        );
    }

    #[test]
    fn json_id_lists_and_their_limits() {
        let ids: Vec<String> = vec!["i-a".into(), "i-b".into()];
        assert_eq!(
            validate::json_ids("InstanceIds", &ids)
                .expect("valid")
                .as_deref(),
            Some(r#"["i-a","i-b"]"#)
        );
        assert_eq!(validate::json_ids("InstanceIds", &[]).expect("valid"), None);
        let many: Vec<String> = (0..101).map(|i| format!("i-{i}")).collect();
        let e = validate::json_ids("DiskIds", &many).expect_err("too many");
        assert_eq!(e.parameter, "DiskIds");
        assert!(e.problem.contains("101"));
        let e = validate::json_ids("SnapshotIds", &["".into()]).expect_err("empty id");
        assert_eq!(e.parameter, "SnapshotIds");
    }

    #[test]
    fn client_token_rules() {
        validate::client_token(None).unwrap();
        validate::client_token(Some(&"a".repeat(64))).unwrap();
        let e = validate::client_token(Some(&"a".repeat(65))).expect_err("too long");
        assert_eq!(e.parameter, "ClientToken");
        assert!(validate::client_token(Some("tökén")).is_err());
        assert!(validate::client_token(Some("")).is_err());
    }

    #[test]
    fn tag_rules_name_the_offending_tag() {
        validate::tags(&[Tag::new("team", "")]).unwrap();
        let e = validate::tags(&[Tag::new("ok", "v"), Tag::new("aliyun:x", "v")])
            .expect_err("reserved prefix");
        assert_eq!(e.parameter, "Tag.2.Key");
        let e = validate::tags(&[Tag::new("k", "acs:v")]).expect_err("reserved value");
        assert_eq!(e.parameter, "Tag.1.Value");
        let e = validate::tags(&[Tag::new("", "v")]).expect_err("empty key");
        assert_eq!(e.parameter, "Tag.1.Key");
        let e = validate::tags(&[Tag::new("k", "see https://x")]).expect_err("url");
        assert_eq!(e.parameter, "Tag.1.Value");
        let many: Vec<Tag> = (0..21).map(|i| Tag::new(format!("k{i}"), "v")).collect();
        assert_eq!(
            validate::tags(&many).expect_err("too many").parameter,
            "Tag.N"
        );
    }

    #[test]
    fn lenient_fields_accept_strings_and_numbers() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "lenient::string")]
            s: String,
            #[serde(deserialize_with = "lenient::number")]
            n: i64,
            #[serde(deserialize_with = "lenient::boolean")]
            b: bool,
        }
        let t: T = serde_json::from_str(r#"{"s":40,"n":"12","b":"True"}"#).expect("lenient");
        assert_eq!((t.s.as_str(), t.n, t.b), ("40", 12, true));
        let t: T = serde_json::from_str(r#"{"s":"x","n":7,"b":false}"#).expect("plain");
        assert_eq!((t.s.as_str(), t.n, t.b), ("x", 7, false));
        let t: T = serde_json::from_str(r#"{"s":null,"n":null,"b":null}"#).expect("nulls");
        assert_eq!((t.s.as_str(), t.n, t.b), ("", 0, false));
        assert!(serde_json::from_str::<T>(r#"{"s":"x","n":"seven","b":false}"#).is_err());
    }

    #[test]
    fn progress_percentages() {
        assert_eq!(parse_progress("45%"), Some(45));
        assert_eq!(parse_progress("100%"), Some(100));
        assert_eq!(parse_progress(" 7 "), Some(7));
        assert_eq!(parse_progress("250%"), Some(100));
        assert_eq!(parse_progress(""), None);
        assert_eq!(parse_progress("n/a"), None);
    }
}
