//! The OSS front over its router alone (tower `oneshot`), with requests signed by reimage's
//! signer the way a client signs them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use chrono::{DateTime, TimeZone, Utc};
use http::{Request, StatusCode};
use reimage_cloud::aliyun::sign::oss as sign;
use reimage_cloud::aliyun::sign::rpc::percent_encode;
use reimage_cloud::clock::{ManualClock, SharedClock};
use tower::ServiceExt as _;

use super::*;

const AK: &str = "LTAI5tSimOss";
const SECRET: &str = "sim-oss-secret";
const STS_AK: &str = "STS.SimOss";
const STS_SECRET: &str = "sts-secret";
const STS_TOKEN: &str = "CAIS+token/1==";
const BUCKET: &str = "reimage-state";

#[derive(Debug)]
struct TestKeys {
    statics: HashMap<&'static str, &'static str>,
    sts_expiry: DateTime<Utc>,
    faults: Arc<std::sync::Mutex<Vec<(String, Injected)>>>,
}

impl OssEnv for TestKeys {
    fn on_call(&self, operation: &str) -> (Option<std::time::Duration>, Option<Injected>) {
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        match faults.iter().position(|(op, _)| op == operation) {
            Some(i) => (None, Some(faults.remove(i).1)),
            None => (None, None),
        }
    }

    fn secret_for(
        &self,
        access_key_id: &str,
        security_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, KeyRefusal> {
        if let Some(secret) = self.statics.get(access_key_id) {
            return Ok((*secret).to_owned());
        }
        if access_key_id != STS_AK {
            return Err(KeyRefusal::UnknownKey);
        }
        match security_token {
            None => Err(KeyRefusal::MissingToken),
            Some(t) if t != STS_TOKEN => Err(KeyRefusal::WrongToken),
            Some(_) if now >= self.sts_expiry => Err(KeyRefusal::Expired),
            Some(_) => Ok(STS_SECRET.to_owned()),
        }
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
        .single()
        .expect("valid")
}

struct Fixture {
    service: Arc<OssService>,
    keys: Arc<dyn OssEnv>,
    clock: ManualClock,
    faults: Arc<std::sync::Mutex<Vec<(String, Injected)>>>,
}

fn fixture() -> Fixture {
    let clock = ManualClock::new(start());
    let faults = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keys = TestKeys {
        statics: HashMap::from([(AK, SECRET)]),
        sts_expiry: start() + chrono::Duration::hours(1),
        faults: Arc::clone(&faults),
    };
    let service = Arc::new(OssService::new("cn-hangzhou"));
    assert!(service.create_bucket(BUCKET));
    Fixture {
        service,
        keys: Arc::new(keys),
        clock,
        faults,
    }
}

/// A request built and signed as a client would: key encoded with `%2F` like `oss2`.
struct Req<'a> {
    method: &'a str,
    bucket: &'a str,
    key: &'a str,
    query: Vec<(&'a str, &'a str)>,
    headers: Vec<(&'a str, String)>,
    body: &'a [u8],
    access_key_id: &'a str,
    secret: &'a str,
    date: DateTime<Utc>,
}

impl<'a> Req<'a> {
    fn new(method: &'a str, key: &'a str) -> Self {
        Self {
            method,
            bucket: BUCKET,
            key,
            query: Vec::new(),
            headers: Vec::new(),
            body: b"",
            access_key_id: AK,
            secret: SECRET,
            date: start(),
        }
    }

    fn build(&self) -> Request<Body> {
        let mut headers = self.headers.clone();
        headers.push(("date", http_date(self.date)));
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let auth = sign::sign(
            &sign::Request {
                method: self.method,
                bucket: Some(self.bucket),
                key: self.key,
                query: &self.query,
                headers: &pairs,
            },
            self.access_key_id,
            self.secret,
        );
        let mut uri = format!("/{}/{}", self.bucket, percent_encode(self.key));
        for (i, (k, v)) in self.query.iter().enumerate() {
            uri.push(if i == 0 { '?' } else { '&' });
            uri.push_str(&format!("{}={}", percent_encode(k), percent_encode(v)));
        }
        let mut builder = Request::builder().method(self.method).uri(uri);
        for (k, v) in &headers {
            builder = builder.header(*k, v);
        }
        builder
            .header("authorization", auth)
            .body(Body::from(self.body.to_vec()))
            .expect("valid request")
    }
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Answer {
    fn field(&self, name: &str) -> Option<String> {
        let open = format!("<{name}>");
        let start = self.body.find(&open)? + open.len();
        let end = self.body[start..].find(&format!("</{name}>"))? + start;
        Some(self.body[start..end].to_owned())
    }

    fn all(&self, name: &str) -> Vec<String> {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        self.body
            .split(&open)
            .skip(1)
            .filter_map(|s| s.split(&close).next().map(str::to_owned))
            .collect()
    }
}

async fn send(f: &Fixture, request: Request<Body>) -> Answer {
    let clock: SharedClock = Arc::new(f.clock.clone());
    let response = Arc::clone(&f.service)
        .router(Arc::clone(&f.keys), clock)
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).expect("utf-8"),
    }
}

fn put<'a>(key: &'a str, body: &'a [u8], forbid: bool) -> Req<'a> {
    let mut r = Req::new("PUT", key);
    r.body = body;
    if forbid {
        r.headers.push(("x-oss-forbid-overwrite", "true".into()));
    }
    r
}

#[tokio::test]
async fn forbid_overwrite_lets_the_first_writer_win() {
    let f = fixture();
    let first = send(&f, put("state/a b/é.json", b"one", true).build()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        first.headers.get("etag").and_then(|v| v.to_str().ok()),
        Some(state::etag_of(b"one").as_str())
    );
    let second = send(&f, put("state/a b/é.json", b"two", true).build()).await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    assert_eq!(second.field("Code").as_deref(), Some("FileAlreadyExists"));
    assert_eq!(second.field("Key").as_deref(), Some("state/a b/é.json"));
    assert!(second.field("RequestId").is_some_and(|id| !id.is_empty()));
    assert_eq!(
        second.field("HostId").as_deref(),
        Some("reimage-state.oss-cn-hangzhou.aliyuncs.com")
    );
    assert_eq!(
        second
            .headers
            .get("x-oss-request-id")
            .and_then(|v| v.to_str().ok()),
        second.field("RequestId").as_deref()
    );
    let got = send(&f, Req::new("GET", "state/a b/é.json").build()).await;
    assert_eq!((got.status, got.body.as_str()), (StatusCode::OK, "one"));
    // Without the header, PUT overwrites, as OSS does.
    let third = send(&f, put("state/a b/é.json", b"three", false).build()).await;
    assert_eq!(third.status, StatusCode::OK);
    assert_eq!(
        f.service.object(BUCKET, "state/a b/é.json").as_deref(),
        Some(&b"three"[..])
    );
}

#[tokio::test]
async fn literal_and_encoded_slashes_name_the_same_key() {
    let f = fixture();
    send(&f, put("x/y", b"v", true).build()).await;
    let mut request = Req::new("GET", "x/y").build();
    *request.uri_mut() = "/reimage-state/x/y".parse().expect("uri");
    let got = send(&f, request).await;
    assert_eq!((got.status, got.body.as_str()), (StatusCode::OK, "v"));
}

#[tokio::test]
async fn missing_key_and_bucket_are_404_with_oss_codes() {
    let f = fixture();
    let missing = send(&f, Req::new("GET", "nope").build()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.field("Code").as_deref(), Some("NoSuchKey"));
    assert_eq!(
        missing.field("Message").as_deref(),
        Some("The specified key does not exist.")
    );
    assert_eq!(missing.field("EC").as_deref(), Some("0026-00000001"));
    let mut r = Req::new("GET", "k");
    r.bucket = "no-such-bucket";
    let no_bucket = send(&f, r.build()).await;
    assert_eq!(no_bucket.status, StatusCode::NOT_FOUND);
    assert_eq!(no_bucket.field("Code").as_deref(), Some("NoSuchBucket"));
    // HEAD errors have no body, but keep the status and request id.
    let head = send(&f, Req::new("HEAD", "nope").build()).await;
    assert_eq!(head.status, StatusCode::NOT_FOUND);
    assert!(head.body.is_empty());
    assert!(head.headers.contains_key("x-oss-request-id"));
}

#[tokio::test]
async fn head_and_delete() {
    let f = fixture();
    send(&f, put("k", b"12345", true).build()).await;
    let head = send(&f, Req::new("HEAD", "k").build()).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(
        head.headers
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let deleted = send(&f, Req::new("DELETE", "k").build()).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(f.service.object(BUCKET, "k"), None);
    let again = send(&f, Req::new("DELETE", "k").build()).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn list_objects_v2_pages_with_url_encoded_tokens() {
    let f = fixture();
    let keys: Vec<String> = (0..7).map(|i| format!("runs/{i} é")).collect();
    for k in &keys {
        assert_eq!(
            send(&f, put(k, b"x", true).build()).await.status,
            StatusCode::OK
        );
    }
    send(&f, put("other", b"x", true).build()).await;
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let mut r = Req::new("GET", "");
        r.query = vec![
            ("list-type", "2"),
            ("prefix", "runs/"),
            ("max-keys", "3"),
            ("encoding-type", "url"),
        ];
        if !token.is_empty() {
            r.query.push(("continuation-token", &token));
        }
        let page = send(&f, r.build()).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        pages += 1;
        for k in page.all("Key") {
            seen.push(reimage_cloud::aliyun::oss::url_decode(&k).expect("decodes"));
        }
        assert_eq!(
            page.field("KeyCount"),
            Some(page.all("Key").len().to_string())
        );
        match page.field("IsTruncated").as_deref() {
            Some("true") => {
                token = reimage_cloud::aliyun::oss::url_decode(
                    &page.field("NextContinuationToken").expect("token"),
                )
                .expect("decodes");
            }
            Some("false") => break,
            other => panic!("IsTruncated {other:?}"),
        }
    }
    assert_eq!(seen, keys);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match_with_the_string_to_sign() {
    let f = fixture();
    let mut r = put("k", b"v", true);
    r.secret = "not-the-secret";
    let answer = send(&f, r.build()).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.field("Code").as_deref(),
        Some("SignatureDoesNotMatch")
    );
    assert_eq!(
        answer.field("StringToSign").as_deref(),
        Some(
            "PUT\n\n\nFri, 27 Nov 2026 12:00:00 GMT\nx-oss-forbid-overwrite:true\n/reimage-state/k"
        )
    );
    assert!(
        answer
            .field("StringToSignBytes")
            .is_some_and(|b| b.starts_with("50 55 54 0a"))
    );
    assert_eq!(f.service.object(BUCKET, "k"), None, "nothing stored");
}

#[tokio::test]
async fn a_changed_signed_header_breaks_the_signature() {
    let f = fixture();
    let mut request = put("k", b"v", true).build();
    request.headers_mut().insert(
        "x-oss-forbid-overwrite",
        http::HeaderValue::from_static("false"),
    );
    let answer = send(&f, request).await;
    assert_eq!(
        answer.field("Code").as_deref(),
        Some("SignatureDoesNotMatch")
    );
}

#[tokio::test]
async fn credentials_are_checked_before_anything_else() {
    let f = fixture();
    let mut unknown = Req::new("GET", "k");
    unknown.access_key_id = "LTAIunknown";
    let answer = send(&f, unknown.build()).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.field("Code").as_deref(), Some("InvalidAccessKeyId"));

    let mut unsigned = Req::new("GET", "k").build();
    unsigned.headers_mut().remove("authorization");
    let answer = send(&f, unsigned).await;
    assert_eq!(answer.field("Code").as_deref(), Some("AccessDenied"));

    let mut skewed = Req::new("GET", "k");
    skewed.date = start() - chrono::Duration::minutes(16);
    let answer = send(&f, skewed.build()).await;
    assert_eq!(
        answer.field("Code").as_deref(),
        Some("RequestTimeTooSkewed")
    );

    let mut garbage = Req::new("GET", "k").build();
    garbage.headers_mut().insert(
        "authorization",
        http::HeaderValue::from_static("OSS nocolon"),
    );
    let answer = send(&f, garbage).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.field("Code").as_deref(), Some("InvalidArgument"));
}

#[tokio::test]
async fn sts_credentials_need_their_token_until_they_expire() {
    let f = fixture();
    let sts = |token: Option<&'static str>| {
        let mut r = put("sts/k", b"v", false);
        r.access_key_id = STS_AK;
        r.secret = STS_SECRET;
        if let Some(t) = token {
            r.headers.push(("x-oss-security-token", t.into()));
        }
        r
    };
    let ok = send(&f, sts(Some(STS_TOKEN)).build()).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let missing = send(&f, sts(None).build()).await;
    assert_eq!(
        missing.field("Code").as_deref(),
        Some("InvalidSecurityToken")
    );
    let wrong = send(&f, sts(Some("CAISother")).build()).await;
    assert_eq!(wrong.field("Code").as_deref(), Some("InvalidSecurityToken"));
    f.clock.advance(std::time::Duration::from_secs(3601));
    let mut late = sts(Some(STS_TOKEN));
    late.date = start() + chrono::Duration::seconds(3601);
    let expired = send(&f, late.build()).await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);
    assert_eq!(
        expired.field("Code").as_deref(),
        Some("SecurityTokenExpired")
    );
}

#[tokio::test]
async fn content_md5_is_checked() {
    let f = fixture();
    let mut good = put("m", b"0123456789", false);
    good.headers
        .push(("content-md5", "eB5eJF1ptWaXm4bijSPyxw==".into()));
    assert_eq!(send(&f, good.build()).await.status, StatusCode::OK);
    let mut bad = put("m2", b"0123456788", false);
    bad.headers
        .push(("content-md5", "eB5eJF1ptWaXm4bijSPyxw==".into()));
    let answer = send(&f, bad.build()).await;
    assert_eq!(answer.field("Code").as_deref(), Some("BadDigest"));
    let mut invalid = put("m3", b"x", false);
    invalid.headers.push(("content-md5", "not base64".into()));
    assert_eq!(
        send(&f, invalid.build()).await.field("Code").as_deref(),
        Some("InvalidDigest")
    );
}

#[tokio::test]
async fn malformed_and_unsupported_requests_get_oss_errors() {
    let f = fixture();
    let mut bad_escape = Req::new("GET", "k").build();
    *bad_escape.uri_mut() = "/reimage-state/%zz".parse().expect("uri");
    let answer = send(&f, bad_escape).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.field("Code").as_deref(), Some("InvalidObjectName"));

    let mut acl = Req::new("PUT", "k");
    acl.query = vec![("acl", "")];
    let answer = send(&f, acl.build()).await;
    assert_eq!(answer.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(answer.field("Code").as_deref(), Some("NotImplemented"));

    let mut bad_max = Req::new("GET", "");
    bad_max.query = vec![("list-type", "2"), ("max-keys", "5000")];
    let answer = send(&f, bad_max.build()).await;
    assert_eq!(answer.field("Code").as_deref(), Some("InvalidArgument"));
    assert_eq!(answer.field("ArgumentName").as_deref(), Some("max-keys"));
}

/// A V4-signed request, as `oss2`'s `AuthV4` builds it.
fn v4_request(method: &str, key: &str, body: &[u8], secret: &str, region: &str) -> Request<Body> {
    let datetime = start().format("%Y%m%dT%H%M%SZ").to_string();
    let headers = [
        ("x-oss-date", datetime.clone()),
        ("x-oss-content-sha256", "UNSIGNED-PAYLOAD".to_owned()),
        ("x-oss-forbid-overwrite", "true".to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let auth = sign::v4::sign(
        &sign::v4::Request {
            method,
            bucket: Some(BUCKET),
            key,
            query: &[],
            headers: &pairs,
            additional_headers: &[],
        },
        AK,
        secret,
        region,
        &datetime,
    );
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("/{BUCKET}/{}", percent_encode(key)));
    for (k, v) in &headers {
        builder = builder.header(*k, v);
    }
    builder
        .header("authorization", auth)
        .body(Body::from(body.to_vec()))
        .expect("valid request")
}

#[tokio::test]
async fn signature_v4_is_verified_too() {
    let f = fixture();
    let ok = send(
        &f,
        v4_request("PUT", "v4/a b.json", b"v4", SECRET, "cn-hangzhou"),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(
        f.service.object(BUCKET, "v4/a b.json").as_deref(),
        Some(&b"v4"[..])
    );
    let wrong = send(&f, v4_request("PUT", "v4/b", b"v4", "wrong", "cn-hangzhou")).await;
    assert_eq!(
        wrong.field("Code").as_deref(),
        Some("SignatureDoesNotMatch")
    );
    assert!(
        wrong.field("StringToSign").is_some_and(|s| s.starts_with(
            "OSS4-HMAC-SHA256\n20261127T120000Z\n20261127/cn-hangzhou/oss/aliyun_v4_request\n"
        )),
        "{}",
        wrong.body
    );
    let region = send(&f, v4_request("PUT", "v4/c", b"v4", SECRET, "cn-beijing")).await;
    assert_eq!(region.status, StatusCode::BAD_REQUEST);
    assert_eq!(region.field("ArgumentName").as_deref(), Some("Credential"));
}

#[tokio::test]
async fn put_bucket_creates_once() {
    let f = fixture();
    let mut r = Req::new("PUT", "");
    r.bucket = "new-bucket";
    assert_eq!(send(&f, r.build()).await.status, StatusCode::OK);
    let mut again = Req::new("PUT", "");
    again.bucket = "new-bucket";
    let answer = send(&f, again.build()).await;
    assert_eq!(answer.field("Code").as_deref(), Some("BucketAlreadyExists"));
}

#[tokio::test]
async fn injected_faults_answer_in_oss_xml_and_leave_state_alone() {
    let f = fixture();
    f.faults.lock().expect("lock").push((
        "PutObject".into(),
        Injected {
            status: 503,
            code: "ServiceUnavailable".into(),
            message: "Injected by the sim for PutObject.".into(),
        },
    ));
    let failed = send(&f, put("k", b"v", true).build()).await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(failed.field("Code").as_deref(), Some("ServiceUnavailable"));
    assert_eq!(f.service.object(BUCKET, "k"), None);
    // Injected once: the next call goes through.
    assert_eq!(
        send(&f, put("k", b"v", true).build()).await.status,
        StatusCode::OK
    );
}

mod fuzz {
    //! Whatever arrives, the OSS front answers OSS's XML error (or success) and never panics;
    //! any legal key survives a signed PUT and GET.

    use proptest::prelude::*;

    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    /// Pieces of a path or query, valid in a URI but otherwise anything.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z0-9._~-]{0,10}",
            Just("/".to_owned()),
            Just("%".to_owned()),
            Just("%zz".to_owned()),
            Just("%C3".to_owned()),
            Just("%2F".to_owned()),
            Just("%00".to_owned()),
            Just("+".to_owned()),
            Just("&".to_owned()),
            Just("=".to_owned()),
            Just("..".to_owned()),
            Just("list-type=2".to_owned()),
            Just("max-keys=0".to_owned()),
            Just("continuation-token=%%".to_owned()),
            Just("acl".to_owned()),
            Just("objectMeta".to_owned()),
        ]
    }

    fn authorization() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            Just(Some("OSS".to_owned())),
            Just(Some("OSS :".to_owned())),
            Just(Some(format!("OSS {AK}:bm90IGEgc2lnbmF0dXJl"))),
            Just(Some("OSS4-HMAC-SHA256 Credential=x".to_owned())),
            Just(Some(format!(
                "OSS4-HMAC-SHA256 Credential={AK}/2026/x/oss/aliyun_v4_request,Signature=00"
            ))),
            "[ -~]{0,40}".prop_map(Some),
        ]
    }

    fn method() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just("GET"),
            Just("PUT"),
            Just("HEAD"),
            Just("DELETE"),
            Just("POST"),
            Just("PATCH"),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn mangled_requests_get_oss_errors(
            method in method(),
            path in prop::collection::vec(piece(), 0..6),
            query in prop::collection::vec(piece(), 0..6),
            auth in authorization(),
            forbid in prop::option::of("[ -~]{0,8}"),
            md5 in prop::option::of("[ -~]{0,30}"),
        ) {
            let f = fixture();
            let uri = format!("/{}?{}", path.concat(), query.concat());
            let Ok(uri) = uri.parse::<http::Uri>() else { return Ok(()) };
            let mut builder = Request::builder()
                .method(method)
                .uri(uri)
                .header("date", http_date(start()));
            if let Some(a) = &auth {
                if let Ok(v) = http::HeaderValue::from_str(a) {
                    builder = builder.header("authorization", v);
                }
            }
            if let Some(v) = forbid.as_deref().and_then(|v| http::HeaderValue::from_str(v).ok()) {
                builder = builder.header("x-oss-forbid-overwrite", v);
            }
            if let Some(v) = md5.as_deref().and_then(|v| http::HeaderValue::from_str(v).ok()) {
                builder = builder.header("content-md5", v);
            }
            let request = builder.body(Body::from("body")).expect("request");
            let answer = block_on(send(&f, request));
            // Nothing unsigned (or badly signed) is ever served or stored.
            prop_assert!(answer.status.is_client_error() || answer.status == StatusCode::NOT_IMPLEMENTED,
                "{} {}", answer.status, answer.body);
            prop_assert!(f.service.keys(BUCKET).is_empty());
            if method != "HEAD" {
                for field in ["Code", "Message", "RequestId", "HostId"] {
                    prop_assert!(answer.field(field).is_some_and(|v| !v.is_empty()),
                        "{field} missing: {}", answer.body);
                }
            }
        }

        #[test]
        fn any_legal_key_round_trips(
            key in "[^/\\\\][\\PC]{0,40}",
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            prop_assume!(state::check_key(&key).is_ok());
            let f = fixture();
            let put = block_on(send(&f, put(&key, &body, true).build()));
            prop_assert_eq!(put.status, StatusCode::OK, "{}", put.body);
            let response = block_on(
                Arc::clone(&f.service)
                    .router(Arc::clone(&f.keys), Arc::new(f.clock.clone()))
                    .oneshot(Req::new("GET", &key).build()),
            )
            .expect("infallible");
            prop_assert_eq!(response.status(), StatusCode::OK);
            let got = block_on(axum::body::to_bytes(response.into_body(), usize::MAX)).expect("body");
            prop_assert_eq!(got.as_ref(), body.as_slice());
            let mut list = Req::new("GET", "");
            list.query = vec![("list-type", "2"), ("encoding-type", "url")];
            let listed = block_on(send(&f, list.build()));
            let keys: Vec<String> = listed
                .all("Key")
                .iter()
                .map(|k| reimage_cloud::aliyun::oss::url_decode(k).expect("decodes"))
                .collect();
            prop_assert_eq!(keys, vec![key.clone()]);
        }
    }
}
