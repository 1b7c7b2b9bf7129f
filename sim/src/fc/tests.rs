//! The FC front over real HTTP: signed calls from reimage's own FC client, functions served
//! by reimage's custom runtime on loopback ports, and a clock the tests move.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone as _, Utc};
use reimage_cloud::aliyun::credentials::StaticProvider;
use reimage_cloud::aliyun::fc::{Invocation, InvokeOutcome};
use reimage_cloud::aliyun::{Client, ClientConfig, Credentials, Endpoints, RetryPolicy};
use reimage_fc_runtime::{Context, Function, HandlerError, MarkerLog};

use super::*;

const ACCOUNT: &str = "1234567890";
const KEY_ID: &str = "LTAIsimfc";
const SECRET: &str = "sim-fc-secret";

struct Keys;

impl Keyring for Keys {
    fn secret_for(
        &self,
        access_key_id: &str,
        _token: Option<&str>,
        _now: DateTime<Utc>,
    ) -> Result<String, (String, String)> {
        if access_key_id == KEY_ID {
            Ok(SECRET.into())
        } else {
            Err((
                "InvalidAccessKeyId.NotFound".into(),
                "Specified access key is not found.".into(),
            ))
        }
    }
}

/// The sim's time: a fixed start plus an offset the test moves.
#[derive(Clone)]
struct TestTime(Arc<AtomicI64>);

impl TestTime {
    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 6, 7, 0, 30)
            .single()
            .expect("a valid time")
    }
    fn now(&self) -> DateTime<Utc> {
        Self::start() + chrono::Duration::seconds(self.0.load(Ordering::SeqCst))
    }
    fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

struct Rig {
    front: FcFront,
    time: TestTime,
    url: String,
}

async fn rig() -> Rig {
    let time = TestTime(Arc::new(AtomicI64::new(0)));
    let t = time.clone();
    let front = FcFront::new(ACCOUNT, "cn-hangzhou", Arc::new(move || t.now()));
    let f = front.clone();
    let app = axum::Router::new().fallback(move |req: http::Request<axum::body::Body>| {
        let f = f.clone();
        async move { f.handle(&Keys, req).await }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Rig { front, time, url }
}

/// What a test function saw.
#[derive(Debug, Clone)]
struct Seen {
    ctx: Context,
    body: Bytes,
}

/// Serves `function` on a loopback port and registers it as `reimage/<name>`.
async fn function(
    rig: &Rig,
    name: &str,
    f: Function,
    timers: Vec<TimerTrigger>,
    http: Option<HttpTrigger>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(reimage_fc_runtime::run(
        listener,
        f.markers(MarkerLog::new()),
        std::future::pending(),
    ));
    rig.front.register(FunctionSpec {
        service: "reimage".into(),
        name: name.into(),
        url,
        handler: "bootstrap".into(),
        memory_mb: 128,
        timeout_secs: 10,
        max_async_retries: 3,
        credentials: Some(Credentials::sts("STS.fn", "fn-secret", "fn-token")),
        timers,
        http,
    });
}

fn recorder(seen: Arc<Mutex<Vec<Seen>>>, fail: bool) -> Function {
    Function::event(move |ctx: Context, body: Bytes| {
        let seen = Arc::clone(&seen);
        async move {
            seen.lock().expect("lock").push(Seen { ctx, body });
            if fail {
                Err(HandlerError::new("Boom", "always fails"))
            } else {
                Ok("done")
            }
        }
    })
}

fn client(url: &str, secret: &str, time: &TestTime) -> Client {
    let mut config = ClientConfig::new(
        "cn-hangzhou",
        Endpoints::all_at(url),
        StaticProvider::shared(Credentials::access_key(KEY_ID, secret)),
    );
    config.retry = RetryPolicy::never();
    config.clock = Arc::new(reimage_cloud::clock::ManualClock::new(time.now()));
    Client::new(config).expect("client")
}

/// Waits up to 30 s of real time (generous: a loaded machine is slow to deliver).
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..1500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Waits until the delivery worker has looked for due work twice more: whatever was due by
/// now has been handed out.
async fn settle(rig: &Rig) {
    let start = rig.front.worker_passes();
    eventually("two passes of the delivery worker", || {
        rig.front.worker_passes() >= start + 2
    })
    .await;
}

#[tokio::test]
async fn async_invoke_is_verified_queued_delayed_delivered_and_deduplicated() {
    let rig = rig().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    function(
        &rig,
        "wait-image",
        recorder(seen.clone(), false),
        vec![],
        None,
    )
    .await;
    let c = client(&rig.url, SECRET, &rig.time);
    let inv = Invocation::async_event("reimage", "wait-image", r#"{"seq":1}"#)
        .delayed(Duration::from_secs(60))
        .with_id("reimage-exec-1-wait-image-000001-w1");
    let out = c.fc(ACCOUNT).invoke(&inv).await.expect("accepted");
    assert!(
        matches!(
            out,
            InvokeOutcome::Queued {
                request_id: Some(_)
            }
        ),
        "{out:?}"
    );
    let again = c.fc(ACCOUNT).invoke(&inv).await.expect("answered");
    assert!(
        matches!(again, InvokeOutcome::AlreadyQueued { .. }),
        "{again:?}"
    );

    settle(&rig).await;
    assert!(
        seen.lock().expect("lock").is_empty(),
        "held back by its delay"
    );
    assert_eq!(rig.front.queued(), 1, "still queued, not handed out");
    rig.time.advance(61);
    eventually("the delivery", || seen.lock().expect("lock").len() == 1).await;
    let s = seen.lock().expect("lock")[0].clone();
    assert_eq!(&s.body[..], br#"{"seq":1}"#);
    assert_eq!(s.ctx.function_name.as_deref(), Some("wait-image"));
    assert_eq!(s.ctx.service_name.as_deref(), Some("reimage"));
    assert_eq!(s.ctx.account_id.as_deref(), Some(ACCOUNT));
    assert_eq!(s.ctx.region.as_deref(), Some("cn-hangzhou"));
    assert_eq!(s.ctx.memory_mb, Some(128));
    assert_eq!(s.ctx.timeout_secs, Some(10));
    let creds = s
        .ctx
        .credentials
        .expect("FC sends the function's credentials");
    assert_eq!(creds.security_token(), Some("fn-token"));
    let d = rig.front.deliveries();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].outcome, Outcome::Succeeded);
    assert_eq!(d[0].timer, None, "a step event, not a timer's");
    assert_eq!(
        d[0].invocation_id.as_deref(),
        Some("reimage-exec-1-wait-image-000001-w1")
    );
}

#[tokio::test]
async fn bad_signatures_stale_dates_and_unknown_functions_are_refused() {
    let rig = rig().await;
    function(
        &rig,
        "verify",
        recorder(Arc::default(), false),
        vec![],
        None,
    )
    .await;
    let inv = Invocation::async_event("reimage", "verify", "{}");

    let err = client(&rig.url, "wrong-secret", &rig.time)
        .fc(ACCOUNT)
        .invoke(&inv)
        .await
        .expect_err("bad signature");
    assert_eq!(err.code(), Some("SignatureNotMatch"));

    rig.time.advance(20 * 60);
    let stale = TestTime(Arc::new(AtomicI64::new(0)));
    let err = client(&rig.url, SECRET, &stale)
        .fc(ACCOUNT)
        .invoke(&inv)
        .await
        .expect_err("20 minutes off");
    assert_eq!(err.code(), Some("RequestTimeTooSkewed"));

    let c = client(&rig.url, SECRET, &rig.time);
    let err = c
        .fc(ACCOUNT)
        .invoke(&Invocation::async_event("reimage", "nobody", "{}"))
        .await
        .expect_err("no such function");
    assert_eq!(err.code(), Some("FunctionNotFound"));
    let err = c
        .fc(ACCOUNT)
        .invoke(&Invocation::async_event("other", "verify", "{}"))
        .await
        .expect_err("no such service");
    assert_eq!(err.code(), Some("ServiceNotFound"));

    let resp = reqwest::get(format!("{}/2016-08-15/services", rig.url))
        .await
        .expect("answered");
    assert_eq!(resp.status(), 501);
    let body: serde_json::Value = resp.json().await.expect("JSON");
    assert_eq!(body["ErrorCode"], "NotImplemented");
    assert_eq!(rig.front.queued(), 0);
}

#[tokio::test]
async fn a_failing_function_is_retried_three_times_then_the_event_is_dropped() {
    let rig = rig().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    function(
        &rig,
        "swap-config",
        recorder(seen.clone(), true),
        vec![],
        None,
    )
    .await;
    client(&rig.url, SECRET, &rig.time)
        .fc(ACCOUNT)
        .invoke(&Invocation::async_event("reimage", "swap-config", "{}"))
        .await
        .expect("accepted");
    for (n, wait) in [(1, 0), (2, 1), (3, 2), (4, 4)] {
        rig.time.advance(wait);
        eventually("the next attempt", || seen.lock().expect("lock").len() == n).await;
        if n < 4 {
            // The retry's due time is counted from when the failure is handled: let the
            // front queue it before the clock moves on.
            eventually("the retry queued", || rig.front.queued() == 1).await;
        }
    }
    eventually("the drop", || rig.front.dropped().len() == 1).await;
    rig.time.advance(60);
    settle(&rig).await;
    assert_eq!(rig.front.queued(), 0, "nothing queued after the drop");
    assert_eq!(
        seen.lock().expect("lock").len(),
        4,
        "1 delivery + 3 retries"
    );
    let attempts: Vec<u32> = rig.front.deliveries().iter().map(|d| d.attempt).collect();
    assert_eq!(attempts, [1, 2, 3, 4]);
    assert!(
        rig.front
            .deliveries()
            .iter()
            .all(|d| matches!(d.outcome, Outcome::FunctionError(_)))
    );
}

#[tokio::test]
async fn a_sync_invoke_answers_the_functions_result_and_marks_its_failure() {
    let rig = rig().await;
    function(&rig, "ok", recorder(Arc::default(), false), vec![], None).await;
    function(&rig, "bad", recorder(Arc::default(), true), vec![], None).await;
    let c = client(&rig.url, SECRET, &rig.time);
    let mut inv = Invocation::async_event("reimage", "ok", "{}");
    inv.invocation_type = reimage_cloud::aliyun::fc::InvocationType::Sync;
    match c.fc(ACCOUNT).invoke(&inv).await.expect("ran") {
        InvokeOutcome::Returned {
            body, error_type, ..
        } => {
            assert_eq!(&body[..], b"done");
            assert_eq!(error_type, None);
        }
        other => panic!("expected a result, got {other:?}"),
    }
    inv.function = "bad".into();
    match c.fc(ACCOUNT).invoke(&inv).await.expect("ran") {
        InvokeOutcome::Returned { error_type, .. } => {
            assert_eq!(error_type.as_deref(), Some("UnhandledInvocationError"));
        }
        other => panic!("expected a result, got {other:?}"),
    }
}

#[tokio::test]
async fn timers_fire_on_their_cron_with_fcs_timer_event() {
    let rig = rig().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    function(
        &rig,
        "create-image",
        recorder(seen.clone(), false),
        vec![TimerTrigger {
            name: "every-minute".into(),
            cron: "0 * * * * *".into(),
            payload: Some(r#"{"tick":"scheduler"}"#.into()),
            enabled: true,
        }],
        None,
    )
    .await;
    settle(&rig).await;
    assert!(seen.lock().expect("lock").is_empty(), "07:00:30: not yet");
    assert_eq!(rig.front.queued(), 0, "07:00:30: nothing queued either");
    rig.time.advance(30);
    eventually("07:01:00's tick", || seen.lock().expect("lock").len() == 1).await;
    let event: serde_json::Value =
        serde_json::from_slice(&seen.lock().expect("lock")[0].body).expect("JSON");
    assert_eq!(event["triggerTime"], "2026-05-06T07:01:00Z");
    assert_eq!(event["triggerName"], "every-minute");
    assert_eq!(event["payload"], r#"{"tick":"scheduler"}"#);
    rig.time.advance(60);
    eventually("07:02:00's tick", || seen.lock().expect("lock").len() == 2).await;

    rig.front
        .fire_timer("reimage", "create-image", "every-minute")
        .expect("fired by hand");
    eventually("the manual tick", || seen.lock().expect("lock").len() == 3).await;
    // Each delivery names the timer that sent it, so billed compute can tell timer
    // invocations from step events.
    let timers: Vec<Option<String>> = rig
        .front
        .deliveries()
        .into_iter()
        .map(|d| d.timer)
        .collect();
    assert_eq!(timers, vec![Some("every-minute".to_owned()); 3]);
    assert!(
        rig.front
            .fire_timer("reimage", "create-image", "nope")
            .is_err()
    );
}

#[tokio::test]
async fn http_trigger_requests_reach_the_function_as_http_invoke() {
    let rig = rig().await;
    let router = axum::Router::new().route(
        "/hello",
        axum::routing::post(
            |axum::Extension(ctx): axum::Extension<Context>, body: String| async move {
                (
                    http::StatusCode::CREATED,
                    [("x-reimage", "yes")],
                    format!(
                        "{} {} {}",
                        ctx.control_path,
                        ctx.base_path.unwrap_or_default(),
                        body
                    ),
                )
            },
        ),
    );
    function(
        &rig,
        "create-image",
        Function::http(router),
        vec![],
        Some(HttpTrigger {
            methods: vec!["GET".into(), "POST".into()],
            anonymous: true,
        }),
    )
    .await;
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/2016-08-15/proxy/reimage/create-image/hello?x=1",
            rig.url
        ))
        .header("x-fc-control-path", "/invoke")
        .body("ping")
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["x-reimage"], "yes");
    assert!(resp.headers().get("x-fc-request-id").is_some());
    assert_eq!(
        resp.text().await.expect("body"),
        "/http-invoke /2016-08-15/proxy/reimage/create-image/ ping"
    );
    let refused = reqwest::Client::new()
        .delete(format!(
            "{}/2016-08-15/proxy/reimage/create-image/hello",
            rig.url
        ))
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status(), 405);
}

#[test]
fn template_yml_parses_into_five_functions_with_their_triggers() {
    let text = include_str!("../../../template.yml");
    let params = BTreeMap::from([
        (
            "StateBucketName".to_owned(),
            "reimage-state-test".to_owned(),
        ),
        ("ApiToken".to_owned(), "token-for-tests-0123".to_owned()),
        ("SecretsKmsKeyId".to_owned(), "key-test0123".to_owned()),
    ]);
    let t = Template::parse(text, &params).expect("parses");
    assert_eq!(t.service, "reimage");
    let names: Vec<&str> = t.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "create-image",
            "wait-image",
            "swap-config",
            "verify",
            "rollout"
        ]
    );
    let create = &t.functions[0];
    assert_eq!(create.code_uri, "./dist/create-image");
    assert_eq!(
        create.env["REIMAGE_STORE"],
        "oss://reimage-state-test/reimage"
    );
    assert_eq!(create.env["REIMAGE_API_TOKEN"], "token-for-tests-0123");
    assert_eq!(create.env["REIMAGE_KMS_KEY_ID"], "key-test0123");
    assert_eq!(create.timers.len(), 1);
    assert_eq!(create.timers[0].cron, "0 * * * * *");
    assert!(create.http.as_ref().is_some_and(|h| h.anonymous));
    assert_eq!(create.max_async_retries, 3);
    assert!(t.functions[1].timers.is_empty() && t.functions[1].http.is_none());
    let missing = Template::parse(text, &BTreeMap::new()).expect_err("ApiToken has no default");
    assert!(missing.to_string().contains("ApiToken"), "{missing}");
}

#[tokio::test]
async fn the_sim_serves_fc_on_its_one_port_with_its_own_keys() {
    let sim = crate::Sim::builder().start().await.expect("sim starts");
    let account = sim.state().region().account_id.clone();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(reimage_fc_runtime::run(
        listener,
        recorder(seen.clone(), false).markers(MarkerLog::new()),
        std::future::pending(),
    ));
    sim.fc().register(FunctionSpec {
        service: "reimage".into(),
        name: "verify".into(),
        url,
        handler: "bootstrap".into(),
        memory_mb: 128,
        timeout_secs: 10,
        max_async_retries: 3,
        credentials: None,
        timers: vec![],
        http: None,
    });
    let mut config = sim.client_config();
    config.retry = RetryPolicy::never();
    let c = Client::new(config).expect("client");
    c.fc(&account)
        .invoke(&Invocation::async_event("reimage", "verify", "{}"))
        .await
        .expect("queued");
    eventually("the delivery", || seen.lock().expect("lock").len() == 1).await;
    let err = c
        .fc("999")
        .invoke(&Invocation::async_event("reimage", "verify", "{}"))
        .await
        .expect_err("another account");
    assert_eq!(err.code(), Some("AccessDenied"));
    sim.shutdown().await;
}
