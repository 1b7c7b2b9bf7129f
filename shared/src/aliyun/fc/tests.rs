use std::sync::{Arc, Mutex};

use axum::body::Bytes as AxumBytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::TimeZone as _;

use super::*;
use crate::clock::ManualClock;

fn may_8() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 8, 10, 0, 0)
        .single()
        .expect("a valid date")
}

const KEY: SigningKey<'static> = SigningKey {
    access_key_id: "STS.test",
    access_key_secret: "test-secret",
    security_token: Some("sts-token"),
};

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
    let req = prepare(&wait_image_event(), "1234567890", KEY, may_8()).expect("valid");
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
    let key = SigningKey {
        security_token: None,
        ..KEY
    };
    let req = prepare(&wait_image_event(), "1", key, may_8()).expect("valid");
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
fn delays_round_up_to_whole_seconds_and_stay_within_an_hour() {
    let inv = Invocation::async_event("s", "f", "").delayed(Duration::from_millis(1500));
    assert_eq!(inv.async_delay_secs, Some(2));
    let too_long = Invocation::async_event("s", "f", "").delayed(Duration::from_secs(3601));
    let err = too_long.validate().expect_err("over an hour");
    assert!(err.to_string().contains("x-fc-async-delay"), "{err}");
    let hour = Invocation::async_event("s", "f", "").delayed(Duration::from_secs(3600));
    assert!(hour.validate().is_ok());
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
        KEY,
        may_8(),
    )
    .expect_err("space in service");
    assert!(err.to_string().contains("service"), "{err}");
    let err = prepare(&Invocation::async_event("s", "../x", ""), "1", KEY, may_8())
        .expect_err("path in function");
    assert!(err.to_string().contains("function"), "{err}");
    let err = prepare(&Invocation::async_event("s", "f", ""), "acct", KEY, may_8())
        .expect_err("not digits");
    assert!(err.to_string().contains("x-fc-account-id"), "{err}");
}

#[test]
fn invocation_ids_derive_from_execution_record_and_attempt() {
    assert_eq!(
        invocation_id("exec-0a1b", 4, 0).expect("valid"),
        "reimage-exec-0a1b-4"
    );
    assert_eq!(
        invocation_id("exec-0a1b", 4, 2).expect("valid"),
        "reimage-exec-0a1b-4-r2"
    );
    // An execution id may start with a digit; the prefix keeps the invocation id legal.
    assert!(invocation_id("9abc", 0, 0).is_ok());
    assert!(invocation_id("bad.id", 0, 0).is_err());
    let long = "x".repeat(130);
    assert!(invocation_id(&long, 0, 0).is_err());
    assert!(validate_invocation_id("1starts-with-digit").is_err());
    assert!(validate_invocation_id("_ok-ID_1").is_ok());
}

#[test]
fn debug_output_hides_secret_token_and_signature() {
    let req = prepare(&wait_image_event(), "1234567890", KEY, may_8()).expect("valid");
    let shown = format!("{req:?} {KEY:?}");
    assert!(!shown.contains("test-secret"), "{shown}");
    assert!(!shown.contains("sts-token"), "{shown}");
    assert!(!shown.contains("C04+j5Qw"), "{shown}");
    assert!(shown.contains("STS.test"));
    assert!(shown.contains("x-fc-async-delay"));
}

#[test]
fn endpoint_overrides_take_precedence() {
    assert_eq!(
        endpoint(&Env::default(), "cn-hangzhou", "123"),
        "https://123.cn-hangzhou.fc.aliyuncs.com"
    );
    let all = Env::from_pairs([("REIMAGE_ENDPOINT", "http://127.0.0.1:9/")]);
    assert_eq!(endpoint(&all, "cn-hangzhou", "123"), "http://127.0.0.1:9");
    let both = Env::from_pairs([
        ("REIMAGE_ENDPOINT", "http://127.0.0.1:9"),
        ("REIMAGE_FC_ENDPOINT", "http://127.0.0.1:10"),
    ]);
    assert_eq!(endpoint(&both, "cn-hangzhou", "123"), "http://127.0.0.1:10");
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
    let clock = Arc::new(ManualClock::new(may_8()));
    let client = FcClient::new(reqwest::Client::new(), url, "1234567890", clock);

    let first = client
        .invoke(KEY, &wait_image_event())
        .await
        .expect("queued");
    assert_eq!(
        first,
        InvokeOutcome::Queued {
            request_id: Some("req-9".into())
        }
    );
    let again = client
        .invoke(KEY, &wait_image_event())
        .await
        .expect("answered");
    assert!(
        matches!(again, InvokeOutcome::AlreadyQueued { .. }),
        "{again:?}"
    );

    let wrong = SigningKey {
        access_key_secret: "wrong",
        ..KEY
    };
    let err = client
        .invoke(wrong, &Invocation::async_event("reimage", "verify", "{}"))
        .await
        .expect_err("bad signature");
    match &err {
        FcError::Api {
            status,
            code,
            request_id,
            ..
        } => {
            assert_eq!(*status, 403);
            assert_eq!(code, "SignatureNotMatch");
            assert_eq!(request_id.as_deref(), Some("req-9"));
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert!(!err.is_retryable());

    let s = seen.lock().expect("lock");
    assert_eq!(s.verified, [true, true, false]);
    assert_eq!(s.delays[0].as_deref(), Some("90"));
    drop(s);
    server.abort();
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_retryable_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let clock = Arc::new(ManualClock::new(may_8()));
    let client = FcClient::new(reqwest::Client::new(), url.clone(), "1", clock);
    let err = client
        .invoke(KEY, &Invocation::async_event("s", "f", ""))
        .await
        .expect_err("nothing listens");
    assert!(err.is_retryable());
    assert!(err.to_string().contains(&url), "{err}");
}
