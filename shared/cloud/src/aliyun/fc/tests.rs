use std::sync::{Arc, Mutex};

use axum::body::Bytes as AxumBytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::TimeZone as _;

use super::*;
use crate::aliyun::credentials::StaticProvider;
use crate::aliyun::{ClientConfig, Endpoints, ErrorKind, RetryPolicy};
use crate::clock::ManualClock;
use crate::ids::SequentialIds;

fn may_8() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 8, 10, 0, 0)
        .single()
        .expect("a valid date")
}

fn key() -> Credentials {
    Credentials::sts("STS.test", "test-secret", "sts-token")
}

fn wait_image_event() -> Invocation {
    Invocation::async_event(
        "reimage",
        "wait-image",
        r#"{"execution_id":"exec-1","seq":3}"#,
    )
    .delayed(Duration::from_secs(90))
    .with_id("reimage-exec-1-3")
}

#[test]
fn prepared_request_carries_every_header_and_the_expected_signature() {
    let req = prepare(&wait_image_event(), "1234567890", &key(), may_8()).expect("valid");
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.path,
        "/2016-08-15/services/reimage/functions/wait-image/invocations"
    );
    assert_eq!(req.header("date"), Some("Wed, 08 May 2024 10:00:00 GMT"));
    assert_eq!(req.header("content-type"), Some("application/octet-stream"));
    assert_eq!(req.header("x-fc-account-id"), Some("1234567890"));
    assert_eq!(req.header("x-fc-invocation-type"), Some("Async"));
    assert_eq!(req.header("x-fc-async-delay"), Some("90"));
    assert_eq!(
        req.header("X-Fc-Stateful-Async-Invocation-Id"),
        Some("reimage-exec-1-3")
    );
    assert_eq!(req.header("x-fc-security-token"), Some("sts-token"));
    assert_eq!(req.header("content-md5"), None);
    // Computed independently with Python's hmac over the string to sign the reference
    // describes (method, empty MD5, type, date, sorted x-fc-* headers, path).
    assert_eq!(
        req.header("authorization"),
        Some("FC STS.test:C04+j5QwrWYjlUY70QwbATeGcMEr1FWVMDlP2O/Ndaw=")
    );
    assert_eq!(&req.body[..], br#"{"execution_id":"exec-1","seq":3}"#);
}

#[test]
fn a_long_lived_key_sends_no_token_header() {
    let key = Credentials::access_key("LTAIlong", "test-secret");
    let req = prepare(&wait_image_event(), "1", &key, may_8()).expect("valid");
    assert_eq!(req.header("x-fc-security-token"), None);
}

#[test]
fn qualifier_goes_after_the_service_name() {
    let mut inv = Invocation::async_event("reimage", "verify", "{}");
    inv.qualifier = Some("prod".into());
    assert_eq!(
        inv.path(),
        "/2016-08-15/services/reimage.prod/functions/verify/invocations"
    );
}

#[test]
fn delays_round_up_to_whole_seconds_and_stay_below_an_hour() {
    let inv = Invocation::async_event("s", "f", "").delayed(Duration::from_millis(1500));
    assert_eq!(inv.async_delay_secs, Some(2));
    for secs in [3600, 3601] {
        let too_long = Invocation::async_event("s", "f", "").delayed(Duration::from_secs(secs));
        let err = too_long.validate().expect_err("an hour or more");
        assert!(err.to_string().contains("x-fc-async-delay"), "{err}");
    }
    let longest = Invocation::async_event("s", "f", "").delayed(Duration::from_secs(3599));
    longest.validate().unwrap();
}

#[test]
fn delay_and_id_are_refused_on_a_synchronous_call() {
    let mut inv = Invocation::async_event("s", "f", "").delayed(Duration::from_secs(5));
    inv.invocation_type = InvocationType::Sync;
    assert!(inv.validate().is_err());
    let mut inv = Invocation::async_event("s", "f", "").with_id("abc");
    inv.invocation_type = InvocationType::Sync;
    assert!(inv.validate().is_err());
}

#[test]
fn bad_names_and_account_ids_are_refused_before_sending() {
    let err = prepare(
        &Invocation::async_event("re image", "f", ""),
        "1",
        &key(),
        may_8(),
    )
    .expect_err("space in service");
    assert!(err.to_string().contains("service"), "{err}");
    let err = prepare(
        &Invocation::async_event("s", "../x", ""),
        "1",
        &key(),
        may_8(),
    )
    .expect_err("path in function");
    assert!(err.to_string().contains("function"), "{err}");
    let err = prepare(
        &Invocation::async_event("s", "f", ""),
        "acct",
        &key(),
        may_8(),
    )
    .expect_err("not digits");
    assert!(err.to_string().contains("x-fc-account-id"), "{err}");
}

#[test]
fn invocation_ids_follow_fcs_rule() {
    validate_invocation_id("exec-0a1b-wait-image-000004").unwrap();
    validate_invocation_id("_ok-ID_1").unwrap();
    assert!(validate_invocation_id("1starts-with-digit").is_err());
    assert!(validate_invocation_id("has.dot").is_err());
    assert!(validate_invocation_id(&"x".repeat(129)).is_err());
    validate_invocation_id(&"x".repeat(128)).unwrap();
}

#[test]
fn debug_output_hides_secret_token_and_signature() {
    let req = prepare(&wait_image_event(), "1234567890", &key(), may_8()).expect("valid");
    let shown = format!("{req:?}");
    assert!(!shown.contains("test-secret"), "{shown}");
    assert!(!shown.contains("sts-token"), "{shown}");
    assert!(!shown.contains("C04+j5Qw"), "{shown}");
    assert!(shown.contains("1234567890"));
    assert!(shown.contains("x-fc-async-delay"));
}

fn client_at(endpoints: Endpoints, credentials: Credentials, retry: RetryPolicy) -> Client {
    let mut config = ClientConfig::new(
        "cn-hangzhou",
        endpoints,
        StaticProvider::shared(credentials),
    );
    config.clock = Arc::new(ManualClock::new(may_8()));
    config.ids = Arc::new(SequentialIds::new("t"));
    config.retry = retry;
    Client::new(config).expect("client")
}

#[test]
fn endpoint_is_the_override_else_the_accounts_regional_one() {
    let regional = client_at(
        Endpoints::for_region("cn-hangzhou", None),
        key(),
        RetryPolicy::never(),
    );
    assert_eq!(
        regional.fc("123").endpoint(),
        "https://123.cn-hangzhou.fc.aliyuncs.com"
    );
    let sim = client_at(
        Endpoints::all_at("http://127.0.0.1:9/"),
        key(),
        RetryPolicy::never(),
    );
    assert_eq!(sim.fc("123").endpoint(), "http://127.0.0.1:9");
}

/// What the fake FC front saw.
#[derive(Default)]
struct Seen {
    verified: Vec<bool>,
    delays: Vec<Option<String>>,
}

/// A stand-in FC endpoint that verifies the signature with the signer's own stages and
/// answers as FC does: 202, or 409 for a reused invocation id, or 403 for a bad signature.
async fn fake_fc(
    seen: Arc<Mutex<Seen>>,
    secret: &'static str,
) -> (String, tokio::task::JoinHandle<()>) {
    let ids = Arc::new(Mutex::new(Vec::<String>::new()));
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, h: HeaderMap, _body: AxumBytes| {
        let seen = Arc::clone(&seen);
        let ids = Arc::clone(&ids);
        async move {
            let pairs: Vec<(String, String)> = h
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            let given = h
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(sign::parse_authorization)
                .map(|(_, s)| s.to_owned())
                .unwrap_or_default();
            let no_query: [(&str, Option<&str>); 0] = [];
            let expected = sign::sign(
                "POST",
                uri.path(),
                no_query,
                pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                secret,
            );
            let ok = given == expected;
            let mut s = seen.lock().expect("lock");
            s.verified.push(ok);
            s.delays.push(
                h.get("x-fc-async-delay")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            );
            let mut hdrs = HeaderMap::new();
            hdrs.insert("x-fc-request-id", "req-9".parse().expect("header"));
            if !ok {
                return (
                    StatusCode::FORBIDDEN,
                    hdrs,
                    r#"{"ErrorCode":"SignatureNotMatch","ErrorMessage":"signature mismatch"}"#
                        .to_owned(),
                );
            }
            if let Some(id) = h.get("x-fc-stateful-async-invocation-id") {
                let id = id.to_str().unwrap_or("").to_owned();
                let mut ids = ids.lock().expect("lock");
                if ids.contains(&id) {
                    return (
                        StatusCode::CONFLICT,
                        hdrs,
                        r#"{"ErrorCode":"StatefulAsyncInvocationAlreadyExists","ErrorMessage":"exists"}"#
                            .to_owned(),
                    );
                }
                ids.push(id);
            }
            (StatusCode::ACCEPTED, hdrs, String::new())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[tokio::test]
async fn invoke_is_queued_once_per_invocation_id_and_bad_keys_are_refused() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (url, server) = fake_fc(Arc::clone(&seen), "test-secret").await;
    let client = client_at(Endpoints::all_at(&url), key(), RetryPolicy::never());
    let fc = client.fc("1234567890");

    let first = fc.invoke(&wait_image_event()).await.expect("queued");
    assert_eq!(
        first,
        InvokeOutcome::Queued {
            request_id: Some("req-9".into())
        }
    );
    let again = fc.invoke(&wait_image_event()).await.expect("answered");
    assert!(
        matches!(again, InvokeOutcome::AlreadyQueued { .. }),
        "{again:?}"
    );

    let wrong = client_at(
        Endpoints::all_at(&url),
        Credentials::sts("STS.test", "wrong", "sts-token"),
        RetryPolicy::default(),
    );
    let err = wrong
        .fc("1234567890")
        .invoke(&Invocation::async_event("reimage", "verify", "{}"))
        .await
        .expect_err("bad signature");
    let api = err.api().expect("an answer from FC");
    assert_eq!(api.status, 403);
    assert_eq!(api.code, "SignatureNotMatch");
    assert_eq!(api.request_id.as_deref(), Some("req-9"));
    assert_eq!(err.kind(), ErrorKind::Client);

    let s = seen.lock().expect("lock");
    assert_eq!(s.verified, [true, true, false]);
    assert_eq!(s.delays[0].as_deref(), Some("90"));
    drop(s);
    server.abort();
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transient_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let client = client_at(Endpoints::all_at(&url), key(), RetryPolicy::default());
    let err = client
        .fc("1")
        .invoke(&Invocation::async_event("s", "f", ""))
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.to_string().contains(&url), "{err}");
}
