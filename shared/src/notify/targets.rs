//! Where a notice goes, and the exact HTTP request each service expects.
//!
//! Every target is a `POST` of a JSON body; [`Target::request`] builds it for a notice at a
//! given time (the signatures are time-bound) and does no I/O.
//!
//! - **DingTalk custom robot** (<https://developers.dingtalk.com/document/app/custom-robot-access>,
//!   message types: <https://open.dingtalk.com/document/development/robot-message-type>).
//!   The webhook is `https://oapi.dingtalk.com/robot/send?access_token=…`. When the robot is
//!   signed (加签), `timestamp` is the time in **milliseconds** and
//!   `sign = urlEncode(base64(HmacSHA256(key = secret, data = timestamp + "\n" + secret)))`,
//!   both appended to the webhook's query. The body is a `markdown` message.
//! - **Feishu / Lark custom bot** (<https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot>,
//!   <https://open.larkoffice.com/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN>). The webhook is
//!   `https://open.feishu.cn/open-apis/bot/v2/hook/…` (or `open.larksuite.com`). When signed
//!   (签名校验), `timestamp` is in **seconds** and — unlike DingTalk — the string
//!   `timestamp + "\n" + secret` is the HMAC-SHA256 **key** and the data is empty:
//!   `sign = base64(HmacSHA256(key = timestamp + "\n" + secret, data = ""))`; both go into
//!   the JSON body next to `msg_type` and `content`. Lark refuses a timestamp more than an
//!   hour away from its clock (error 19021).
//! - **Slack incoming webhook** (<https://api.slack.com/messaging/webhooks>): the URL
//!   `https://hooks.slack.com/services/…` is itself the credential; the body is
//!   `{"text": …}` in mrkdwn, where `&`, `<` and `>` must be escaped.
//! - **Generic HTTPS**: the [`Notice`] as JSON, with the header
//!   `X-Reimage-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
//!   exactly what reimage accepts on its own webhooks
//!   ([`crate::api::webhook::reimage_signature`]).
//!
//! Secrets never show: [`TargetSecret`] and [`WebhookUrl`] print `<redacted>` in `Debug`
//! and `Display` (a webhook URL's path and query *are* credentials for DingTalk, Lark and
//! Slack), and no [`TargetError`] carries one.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::{Host, Url};

use super::message::Notice;
use crate::api::webhook::{REIMAGE_SIGNATURE, hmac_key, reimage_signature};
use crate::model::task::WebhookSecret;

/// DingTalk's webhook host.
pub const DINGTALK_HOST: &str = "oapi.dingtalk.com";
/// DingTalk's webhook path.
pub const DINGTALK_PATH: &str = "/robot/send";
/// Feishu's (China) and Lark's (international) webhook hosts.
pub const LARK_HOSTS: [&str; 2] = ["open.feishu.cn", "open.larksuite.com"];
/// The path prefix of a Feishu / Lark custom bot webhook; the rest is the bot's token.
pub const LARK_PATH_PREFIX: &str = "/open-apis/bot/v2/hook/";
/// Slack's incoming webhook host.
pub const SLACK_HOST: &str = "hooks.slack.com";
/// The path prefix of a Slack incoming webhook; the rest is the credential.
pub const SLACK_PATH_PREFIX: &str = "/services/";
/// The content type of every request.
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A target's signing secret. `Debug` prints `<redacted>`; the JSON form is the secret itself,
/// for the configuration store (which seals it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TargetSecret(String);

impl TargetSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for computing a signature.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TargetSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TargetSecret(<redacted>)")
    }
}

/// A webhook URL whose path and query may be credentials (DingTalk's `access_token`, the
/// token at the end of a Lark or Slack path). `Debug` and `Display` show only the scheme,
/// host and port: `https://hooks.slack.com/<redacted>`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    /// Parses a URL; what it may point at is checked by [`Target::validate`].
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        Url::parse(text.trim())
            .map(Self)
            .map_err(|error| TargetError::BadUrl(error.to_string()))
    }

    /// The whole URL, credentials included, for sending.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// The host, lower case, or `""`.
    pub fn host(&self) -> String {
        self.0.host_str().unwrap_or_default().to_ascii_lowercase()
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = TargetError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<WebhookUrl> for String {
    fn from(url: WebhookUrl) -> Self {
        url.0.into()
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({:?})", redact_url(&self.0))
    }
}

/// `scheme://host[:port]/<redacted>` — or `scheme://host[:port]/` when there is nothing to
/// hide.
fn redact_url(url: &Url) -> String {
    let mut out = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    out.push_str(if bare { "/" } else { "/<redacted>" });
    out
}

/// Where a notice goes. In JSON, an object tagged by `kind`: `dingtalk`, `lark`, `slack` or
/// `https`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum Target {
    /// A DingTalk group's custom robot.
    #[serde(rename = "dingtalk")]
    DingTalk {
        /// `https://oapi.dingtalk.com/robot/send?access_token=…`.
        webhook_url: WebhookUrl,
        /// The `SEC…` secret when the robot is signed (加签).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<TargetSecret>,
    },
    /// A Feishu / Lark group's custom bot.
    #[serde(rename = "lark")]
    Lark {
        /// `https://open.feishu.cn/open-apis/bot/v2/hook/…` or the `open.larksuite.com` one.
        webhook_url: WebhookUrl,
        /// The secret when the bot checks signatures (签名校验).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<TargetSecret>,
    },
    /// A Slack incoming webhook.
    #[serde(rename = "slack")]
    Slack {
        /// `https://hooks.slack.com/services/…`.
        webhook_url: WebhookUrl,
    },
    /// Any HTTPS endpoint: the notice as JSON, signed with `X-Reimage-Signature`.
    #[serde(rename = "https")]
    Https {
        /// The endpoint.
        url: WebhookUrl,
        /// The HMAC secret shared with the receiver.
        secret: TargetSecret,
    },
}

/// Why a target is refused or its request cannot be built. Never holds a secret: URLs are
/// shown redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a URL at all.
    #[error("not a URL: {0}")]
    BadUrl(String),
    /// `http:` to a host that is not loopback, or another scheme.
    #[error("a {kind} URL must be https (http only to a loopback address): {url}")]
    NotHttps {
        /// The target kind.
        kind: &'static str,
        /// The URL, redacted.
        url: String,
    },
    /// A user name, password or fragment in the URL.
    #[error("a {kind} URL must not carry a user name, password or fragment: {url}")]
    ExtraParts {
        /// The target kind.
        kind: &'static str,
        /// The URL, redacted.
        url: String,
    },
    /// The host is not the service's.
    #[error("a {kind} URL must be on {expected}, not {host:?}")]
    WrongHost {
        /// The target kind.
        kind: &'static str,
        /// The host given.
        host: String,
        /// What is accepted.
        expected: String,
    },
    /// The path, or the token in it or in the query, is not what the service hands out.
    #[error("a {kind} URL must look like {expected}: {url}")]
    WrongShape {
        /// The target kind.
        kind: &'static str,
        /// The documented shape.
        expected: &'static str,
        /// The URL, redacted.
        url: String,
    },
    /// An empty secret signs nothing.
    #[error("the {kind} secret is empty")]
    EmptySecret {
        /// The target kind.
        kind: &'static str,
    },
    /// Whitespace or control characters, almost always a copy-and-paste accident.
    #[error("the {kind} secret contains whitespace or control characters")]
    BadSecret {
        /// The target kind.
        kind: &'static str,
    },
    /// The notice could not be encoded (not expected to happen).
    #[error("cannot encode the notice: {0}")]
    Encode(String),
}

/// The HTTP request for one notice to one target: always a `POST` of `body`.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    /// Where to send it, credentials included.
    pub url: Url,
    /// Header names (lower case) and values; `content-type` included.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl OutgoingRequest {
    /// The value of header `name` (lower case), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

impl fmt::Debug for OutgoingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingRequest")
            .field("url", &redact_url(&self.url))
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl Target {
    /// `dingtalk`, `lark`, `slack` or `https`, as in the JSON tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DingTalk { .. } => "dingtalk",
            Self::Lark { .. } => "lark",
            Self::Slack { .. } => "slack",
            Self::Https { .. } => "https",
        }
    }

    /// The URL requests go to.
    pub fn url(&self) -> &WebhookUrl {
        match self {
            Self::DingTalk { webhook_url, .. }
            | Self::Lark { webhook_url, .. }
            | Self::Slack { webhook_url } => webhook_url,
            Self::Https { url, .. } => url,
        }
    }

    /// Checks the target:
    ///
    /// - the URL is `https:` (or `http:` to a loopback address, for tests), with no user
    ///   name, password or fragment;
    /// - DingTalk, Lark and Slack URLs are on the service's host with the documented path
    ///   and a token; a loopback URL is exempt, so that tests can point any target at a
    ///   local receiver;
    /// - a secret, when there is one (always for [`Target::Https`]), is not empty and has no
    ///   whitespace or control characters.
    pub fn validate(&self) -> Result<(), TargetError> {
        let kind = self.kind();
        let url = self.url().expose();
        let redacted = || redact_url(url);
        let loopback = is_loopback(url);
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(TargetError::NotHttps {
                    kind,
                    url: redacted(),
                });
            }
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err(TargetError::ExtraParts {
                kind,
                url: redacted(),
            });
        }
        let host = self.url().host();
        let wrong_host = |expected: &str| TargetError::WrongHost {
            kind,
            host: host.clone(),
            expected: expected.to_owned(),
        };
        let wrong_shape = |expected| TargetError::WrongShape {
            kind,
            expected,
            url: redacted(),
        };
        match self {
            Self::DingTalk { .. } if !loopback => {
                if host != DINGTALK_HOST {
                    return Err(wrong_host(DINGTALK_HOST));
                }
                const SHAPE: &str = "https://oapi.dingtalk.com/robot/send?access_token=…";
                let token = url
                    .query_pairs()
                    .find(|(key, _)| key == "access_token")
                    .map(|(_, value)| value.into_owned());
                let presigned = url
                    .query_pairs()
                    .any(|(key, _)| key == "timestamp" || key == "sign");
                if url.path() != DINGTALK_PATH
                    || token.is_none_or(|token| token.trim().is_empty())
                    || presigned
                {
                    return Err(wrong_shape(SHAPE));
                }
            }
            Self::Lark { .. } if !loopback => {
                if !LARK_HOSTS.contains(&host.as_str()) {
                    return Err(wrong_host(&LARK_HOSTS.join(" or ")));
                }
                let token = url
                    .path()
                    .strip_prefix(LARK_PATH_PREFIX)
                    .unwrap_or_default();
                if token.is_empty() || token.contains('/') {
                    return Err(wrong_shape(
                        "https://open.feishu.cn/open-apis/bot/v2/hook/<token>",
                    ));
                }
            }
            Self::Slack { .. } if !loopback => {
                if host != SLACK_HOST {
                    return Err(wrong_host(SLACK_HOST));
                }
                let rest = url
                    .path()
                    .strip_prefix(SLACK_PATH_PREFIX)
                    .unwrap_or_default();
                if rest.split('/').filter(|part| !part.is_empty()).count() < 3 {
                    return Err(wrong_shape("https://hooks.slack.com/services/T…/B…/…"));
                }
            }
            _ => {}
        }
        match self {
            Self::DingTalk { secret, .. } | Self::Lark { secret, .. } => secret
                .iter()
                .try_for_each(|secret| check_secret(kind, secret)),
            Self::Slack { .. } => Ok(()),
            Self::Https { secret, .. } => check_secret(kind, secret),
        }
    }

    /// The request that delivers `notice` at time `now` (which the signatures cover), after
    /// [`Target::validate`].
    pub fn request(
        &self,
        notice: &Notice,
        now: DateTime<Utc>,
    ) -> Result<OutgoingRequest, TargetError> {
        self.validate()?;
        let mut url = self.url().expose().clone();
        let mut headers = vec![("content-type", CONTENT_TYPE.to_owned())];
        let body = match self {
            Self::DingTalk { secret, .. } => {
                if let Some(secret) = secret {
                    let timestamp = now.timestamp_millis().to_string();
                    let sign = dingtalk_sign(secret, &timestamp);
                    url.query_pairs_mut()
                        .append_pair("timestamp", &timestamp)
                        .append_pair("sign", &sign);
                }
                json!({
                    "msgtype": "markdown",
                    "markdown": {
                        "title": notice.title(),
                        "text": format!("#### {}\n\n{}", notice.title(), notice.summary()),
                    },
                })
                .to_string()
                .into_bytes()
            }
            Self::Lark { secret, .. } => {
                let mut body = json!({
                    "msg_type": "text",
                    "content": {
                        "text": format!("{}\n{}", notice.title(), notice.summary()),
                    },
                });
                if let Some(secret) = secret {
                    let timestamp = now.timestamp().to_string();
                    body["sign"] = lark_sign(secret, &timestamp).into();
                    body["timestamp"] = timestamp.into();
                }
                body.to_string().into_bytes()
            }
            Self::Slack { .. } => {
                let text = format!(
                    "*{}*\n{}",
                    slack_escape(&notice.title()),
                    slack_escape(&notice.summary())
                );
                json!({ "text": text }).to_string().into_bytes()
            }
            Self::Https { secret, .. } => {
                let body = serde_json::to_vec(notice)
                    .map_err(|error| TargetError::Encode(error.to_string()))?;
                let secret = WebhookSecret::new(secret.expose());
                headers.push((
                    REIMAGE_SIGNATURE,
                    reimage_signature(&secret, now.timestamp(), &body),
                ));
                body
            }
        };
        Ok(OutgoingRequest { url, headers, body })
    }
}

/// DingTalk's `sign` before URL encoding: base64(HmacSHA256(key = secret,
/// data = "{timestamp_ms}\n{secret}")).
pub fn dingtalk_sign(secret: &TargetSecret, timestamp_ms: &str) -> String {
    let secret = secret.expose();
    let data = format!("{timestamp_ms}\n{secret}");
    BASE64.encode(hmac_key(secret.as_bytes(), &[data.as_bytes()]))
}

/// Lark's `sign`: base64(HmacSHA256(key = "{timestamp_s}\n{secret}", data = "")).
pub fn lark_sign(secret: &TargetSecret, timestamp_s: &str) -> String {
    let key = format!("{timestamp_s}\n{}", secret.expose());
    BASE64.encode(hmac_key(key.as_bytes(), &[]))
}

/// Escapes the three characters Slack's mrkdwn reserves.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn check_secret(kind: &'static str, secret: &TargetSecret) -> Result<(), TargetError> {
    let text = secret.expose();
    if text.is_empty() {
        Err(TargetError::EmptySecret { kind })
    } else if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(TargetError::BadSecret { kind })
    } else {
        Ok(())
    }
}

/// `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::message::tests::sample;
    use chrono::TimeZone;
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Sha256;

    const DINGTALK_TOKEN: &str = "dt0ken0123456789abcdef";
    const DINGTALK_SECRET: &str = "SECtest-dingtalk-secret";
    const LARK_TOKEN: &str = "5e3d587e-d78e-4a07-bd07-lark0token";
    const LARK_SECRET: &str = "test-lark-secret";
    const SLACK_PATH: &str = "T00000000/B00000000/XXslackXcredentialXX";
    const HTTPS_SECRET: &str = "https-shared-secret";

    /// DingTalk, timestamp 1700000000000 ms, secret `SECtest-dingtalk-secret`, computed
    /// with Python following the documented rule:
    /// `python3 -c "import hmac,hashlib,base64,urllib.parse;t='1700000000000';s='SECtest-dingtalk-secret';print(urllib.parse.quote_plus(base64.b64encode(hmac.new(s.encode(),(t+'\n'+s).encode(),hashlib.sha256).digest())))"`
    const DINGTALK_SIGN: &str = "SeA1uFpvxLYGo8brWhdvRM%2FsmfJfgwMDjxPYcefh%2BPo%3D";

    /// The same rule with secret `secret` at 1700000000000: the value in the `dingding`
    /// crate's own test (docs.rs/crate/dingding, `src/signature.rs`), and Python's:
    /// `python3 -c "import hmac,hashlib,base64,urllib.parse;t='1700000000000';s='secret';print(urllib.parse.quote_plus(base64.b64encode(hmac.new(s.encode(),(t+'\n'+s).encode(),hashlib.sha256).digest())))"`
    const DINGTALK_SIGN_SECRET: &str = "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D";

    /// Lark, timestamp 1700000000 s, secret `test-lark-secret`; the string to sign is the
    /// HMAC key and the data is empty:
    /// `python3 -c "import hmac,hashlib,base64;t='1700000000';s='test-lark-secret';print(base64.b64encode(hmac.new((t+'\n'+s).encode(),b'',hashlib.sha256).digest()).decode())"`
    const LARK_SIGN: &str = "JiGwTAAfQAlTkkqRnyAqhujGq0IJnSavS9nuLPEUVso=";

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    fn url(text: &str) -> WebhookUrl {
        WebhookUrl::parse(text).unwrap()
    }

    fn dingtalk(secret: Option<&str>) -> Target {
        Target::DingTalk {
            webhook_url: url(&format!(
                "https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}"
            )),
            secret: secret.map(TargetSecret::new),
        }
    }

    fn lark(secret: Option<&str>) -> Target {
        Target::Lark {
            webhook_url: url(&format!(
                "https://open.feishu.cn/open-apis/bot/v2/hook/{LARK_TOKEN}"
            )),
            secret: secret.map(TargetSecret::new),
        }
    }

    fn slack() -> Target {
        Target::Slack {
            webhook_url: url(&format!("https://hooks.slack.com/services/{SLACK_PATH}")),
        }
    }

    fn https() -> Target {
        Target::Https {
            url: url("https://hooks.example.com/reimage?token=urltoken"),
            secret: TargetSecret::new(HTTPS_SECRET),
        }
    }

    fn body(request: &OutgoingRequest) -> serde_json::Value {
        serde_json::from_slice(&request.body).unwrap()
    }

    #[test]
    fn dingtalk_signature_matches_the_python_vectors() {
        let request = dingtalk(Some(DINGTALK_SECRET))
            .request(&sample(), now())
            .unwrap();
        assert_eq!(
            request.url.as_str(),
            format!(
                "https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}\
                 &timestamp=1700000000000&sign={DINGTALK_SIGN}"
            )
        );
        let target = Target::DingTalk {
            webhook_url: url("https://oapi.dingtalk.com/robot/send?access_token=x"),
            secret: Some(TargetSecret::new("secret")),
        };
        let request = target.request(&sample(), now()).unwrap();
        assert!(
            request.url.as_str().ends_with(&format!(
                "&timestamp=1700000000000&sign={DINGTALK_SIGN_SECRET}"
            )),
            "{}",
            request.url
        );
    }

    #[test]
    fn dingtalk_body_is_a_markdown_message_and_unsigned_keeps_the_url() {
        let notice = sample();
        let request = dingtalk(None).request(&notice, now()).unwrap();
        assert_eq!(
            request.url.as_str(),
            format!("https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}")
        );
        assert_eq!(request.header("content-type"), Some(CONTENT_TYPE));
        let body = body(&request);
        assert_eq!(body["msgtype"], "markdown");
        assert_eq!(body["markdown"]["title"], notice.title());
        let text = body["markdown"]["text"].as_str().unwrap();
        assert!(text.starts_with(&format!("#### {}\n\n", notice.title())));
        assert!(text.ends_with(&notice.summary()));
    }

    #[test]
    fn lark_signature_matches_the_python_vector_and_sits_in_the_body() {
        let notice = sample();
        let request = lark(Some(LARK_SECRET)).request(&notice, now()).unwrap();
        assert_eq!(
            request.url.as_str(),
            format!("https://open.feishu.cn/open-apis/bot/v2/hook/{LARK_TOKEN}")
        );
        let body = body(&request);
        assert_eq!(body["timestamp"], "1700000000");
        assert_eq!(body["sign"], LARK_SIGN);
        assert_eq!(body["msg_type"], "text");
        assert_eq!(
            body["content"]["text"],
            format!("{}\n{}", notice.title(), notice.summary())
        );
        let unsigned = body_of(&lark(None));
        assert!(unsigned.get("sign").is_none() && unsigned.get("timestamp").is_none());
    }

    fn body_of(target: &Target) -> serde_json::Value {
        body(&target.request(&sample(), now()).unwrap())
    }

    #[test]
    fn slack_body_is_escaped_mrkdwn_text() {
        let mut notice = sample();
        notice.cause = Some(crate::notify::Cause::new("a <b> & c"));
        let request = slack().request(&notice, now()).unwrap();
        let body = body(&request);
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        let text = body["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!("*{}*\n", notice.title())),
            "{text}"
        );
        assert!(text.contains("- Cause: a &lt;b&gt; &amp; c"), "{text}");
        assert!(text.contains("- asc-a: m-old-a → m-new1"), "{text}");
    }

    #[test]
    fn https_carries_the_notice_signed_like_reimage_webhooks() {
        let notice = sample();
        let request = https().request(&notice, now()).unwrap();
        assert_eq!(
            request.url.as_str(),
            "https://hooks.example.com/reimage?token=urltoken"
        );
        let back: Notice = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(back, notice);
        // An independent HMAC-SHA256 over "<t>.<body>".
        let mut mac = Hmac::<Sha256>::new_from_slice(HTTPS_SECRET.as_bytes()).unwrap();
        mac.update(b"1700000000.");
        mac.update(&request.body);
        let expected = format!(
            "t=1700000000,v1={}",
            hex::encode(mac.finalize().into_bytes())
        );
        assert_eq!(
            request.header("x-reimage-signature"),
            Some(expected.as_str())
        );
        // And reimage's own webhook check accepts it.
        let parsed = crate::api::webhook::ReimageSignature::parse(&expected).unwrap();
        assert_eq!(parsed.t, 1_700_000_000);
        parsed.check_fresh(now()).unwrap();
    }

    #[test]
    fn debug_and_display_never_show_a_secret_or_a_token() {
        let secrets = [
            DINGTALK_TOKEN,
            DINGTALK_SECRET,
            LARK_TOKEN,
            LARK_SECRET,
            SLACK_PATH,
            "XXslackXcredentialXX",
            HTTPS_SECRET,
            "urltoken",
        ];
        let targets = [
            dingtalk(Some(DINGTALK_SECRET)),
            lark(Some(LARK_SECRET)),
            slack(),
            https(),
        ];
        for target in &targets {
            let request = target.request(&sample(), now()).unwrap();
            let shown = format!("{target:?} {} {:?} {request:?}", target.url(), target.url());
            for secret in secrets {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        assert_eq!(
            slack().url().to_string(),
            "https://hooks.slack.com/<redacted>"
        );
        assert_eq!(
            format!("{:?}", TargetSecret::new("x")),
            "TargetSecret(<redacted>)"
        );
    }

    #[test]
    fn refusals() {
        let refused = |target: Target| target.validate().unwrap_err();
        // http to a host that is not loopback.
        let err = refused(Target::Https {
            url: url("http://hooks.example.com/x?token=urltoken"),
            secret: TargetSecret::new(HTTPS_SECRET),
        });
        assert!(matches!(err, TargetError::NotHttps { .. }), "{err}");
        assert!(!err.to_string().contains("urltoken"), "{err}");
        let err = refused(Target::DingTalk {
            webhook_url: url(&format!(
                "http://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}"
            )),
            secret: None,
        });
        assert!(matches!(err, TargetError::NotHttps { .. }), "{err}");
        // Not the service's host.
        let err = refused(Target::DingTalk {
            webhook_url: url(&format!(
                "https://oapi.dingtalk.com.evil.example/robot/send?access_token={DINGTALK_TOKEN}"
            )),
            secret: None,
        });
        assert!(matches!(err, TargetError::WrongHost { .. }), "{err}");
        assert!(!err.to_string().contains(DINGTALK_TOKEN), "{err}");
        let err = refused(Target::Lark {
            webhook_url: url(&format!(
                "https://open.feishu.com/open-apis/bot/v2/hook/{LARK_TOKEN}"
            )),
            secret: None,
        });
        assert!(matches!(err, TargetError::WrongHost { .. }), "{err}");
        let err = refused(Target::Slack {
            webhook_url: url(&format!("https://hooks.slack.co/services/{SLACK_PATH}")),
        });
        assert!(matches!(err, TargetError::WrongHost { .. }), "{err}");
        // The right host, the wrong shape.
        for bad in [
            "https://oapi.dingtalk.com/robot/send",
            "https://oapi.dingtalk.com/robot/send?access_token=",
            "https://oapi.dingtalk.com/other?access_token=x",
            "https://oapi.dingtalk.com/robot/send?access_token=x&sign=y",
        ] {
            let err = refused(Target::DingTalk {
                webhook_url: url(bad),
                secret: None,
            });
            assert!(
                matches!(err, TargetError::WrongShape { .. }),
                "{bad}: {err}"
            );
        }
        let err = refused(Target::Lark {
            webhook_url: url("https://open.larksuite.com/open-apis/bot/v2/hook/"),
            secret: None,
        });
        assert!(matches!(err, TargetError::WrongShape { .. }), "{err}");
        let err = refused(Target::Slack {
            webhook_url: url("https://hooks.slack.com/services/T0"),
        });
        assert!(matches!(err, TargetError::WrongShape { .. }), "{err}");
        // Secrets.
        assert_eq!(
            refused(dingtalk(Some(""))),
            TargetError::EmptySecret { kind: "dingtalk" }
        );
        assert_eq!(
            refused(lark(Some(""))),
            TargetError::EmptySecret { kind: "lark" }
        );
        assert_eq!(
            refused(Target::Https {
                url: url("https://hooks.example.com/"),
                secret: TargetSecret::new(""),
            }),
            TargetError::EmptySecret { kind: "https" }
        );
        assert_eq!(
            refused(lark(Some("abc\n"))),
            TargetError::BadSecret { kind: "lark" }
        );
        // Credentials or a fragment in the URL.
        let err = refused(Target::Https {
            url: url("https://user:pw@hooks.example.com/"),
            secret: TargetSecret::new(HTTPS_SECRET),
        });
        assert!(matches!(err, TargetError::ExtraParts { .. }), "{err}");
        assert!(!err.to_string().contains("pw"), "{err}");
        // request() refuses what validate() refuses.
        assert!(dingtalk(Some("")).request(&sample(), now()).is_err());
    }

    #[test]
    fn acceptances() {
        for target in [
            dingtalk(None),
            dingtalk(Some(DINGTALK_SECRET)),
            lark(None),
            lark(Some(LARK_SECRET)),
            Target::Lark {
                webhook_url: url("https://open.larksuite.com/open-apis/bot/v2/hook/abc"),
                secret: None,
            },
            Target::DingTalk {
                webhook_url: url("https://OAPI.DingTalk.com/robot/send?access_token=x"),
                secret: None,
            },
            slack(),
            https(),
            // Loopback, plain http, any path: for tests against a local receiver.
            Target::DingTalk {
                webhook_url: url("http://127.0.0.1:8080/robot"),
                secret: Some(TargetSecret::new("s")),
            },
            Target::Slack {
                webhook_url: url("http://localhost:9/hook"),
            },
            Target::Https {
                url: url("http://[::1]:8443/notify"),
                secret: TargetSecret::new("s"),
            },
        ] {
            target
                .validate()
                .unwrap_or_else(|err| panic!("{target:?}: {err}"));
        }
    }

    #[test]
    fn json_form_is_tagged_by_kind_and_round_trips() {
        let json = serde_json::json!({
            "kind": "dingtalk",
            "webhook_url": format!("https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}"),
            "secret": DINGTALK_SECRET,
        });
        let target: Target = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(target, dingtalk(Some(DINGTALK_SECRET)));
        assert_eq!(serde_json::to_value(&target).unwrap(), json);
        for target in [lark(None), slack(), https()] {
            let value = serde_json::to_value(&target).unwrap();
            assert_eq!(value["kind"], target.kind());
            assert_eq!(serde_json::from_value::<Target>(value).unwrap(), target);
        }
        let bad = serde_json::json!({"kind": "slack", "webhook_url": "not a url"});
        assert!(serde_json::from_value::<Target>(bad).is_err());
    }
}
