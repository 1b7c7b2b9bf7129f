//! The functions' event handling over the in-memory store and the fake cloud; each
//! dispatched event is delivered, as FC would, to the function its step names.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone as _;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::dispatch::local::LocalDispatcher;
use crate::ids::SequentialIds;
use crate::model::{PermissionSource, State, UpdateRequest};
use crate::runtime::ControlPath;
use crate::steps::SameCloud;
use crate::steps::testing::FakeCloud;
use crate::store::SharedStore;
use crate::store::memory::MemoryStore;
use crate::wiring::Pieces;

const BUILD: Duration = Duration::from_secs(600);

struct Rig {
    clock: ManualClock,
    fake: Arc<FakeCloud>,
    queue: Arc<LocalDispatcher>,
    host: FunctionHost,
    credentials: RequestCredentials,
}

fn rig(api_token: Option<&str>) -> Rig {
    let clock = ManualClock::new(
        chrono::Utc
            .with_ymd_and_hms(2026, 5, 6, 7, 8, 0)
            .single()
            .expect("a valid time"),
    );
    let shared: SharedClock = Arc::new(clock.clone());
    let fake = FakeCloud::demo(shared.clone(), BUILD);
    let store: SharedStore = Arc::new(MemoryStore::new());
    // The queue only collects what the engine dispatches; the tests deliver it by hand.
    let queue = Arc::new(LocalDispatcher::new(shared.clone()));
    let clouds: Arc<dyn CloudProvider> = Arc::new(SameCloud(fake.clone()));
    let ids: SharedIds = Arc::new(SequentialIds::new("fn"));
    let credentials = RequestCredentials::new();
    let pieces = Pieces {
        store,
        clock: shared,
        ids,
        dispatcher: queue.clone(),
        clouds,
        config: EngineConfig::default(),
        sealer: Some(Arc::new(crate::secrets::LocalSealer::with_key([6; 32]))),
        kicker: None,
    };
    let host = FunctionHost::new(pieces, api_token.map(ApiToken::new), credentials.clone());
    Rig {
        clock,
        fake,
        queue,
        host,
        credentials,
    }
}

fn ctx(request_id: &str) -> Context {
    Context {
        control_path: ControlPath::Invoke,
        request_id: request_id.into(),
        function_name: None,
        function_handler: None,
        service_name: Some("reimage".into()),
        region: Some("cn-hangzhou".into()),
        account_id: Some("1234".into()),
        qualifier: None,
        version_id: None,
        memory_mb: Some(128),
        timeout_secs: Some(60),
        base_path: None,
        credentials: Some(crate::aliyun::Credentials::sts(
            format!("STS.{request_id}"),
            "secret",
            "token",
        )),
    }
}

fn request() -> UpdateRequest {
    UpdateRequest {
        allow_default_version_change: false,
        scaling_group_ids: Vec::new(),
        instance_id: "i-running".into(),
        image_name: None,
        configuration_ids: vec!["asc-active".into(), "asc-inactive".into()],
        permission: PermissionSource::Account,
        task_id: None,
        rollout: None,
        allow_platform_change: false,
    }
}

fn json(event: &StepEvent) -> Vec<u8> {
    serde_json::to_vec(event).expect("serializable")
}

#[tokio::test]
async fn the_chain_runs_through_the_four_functions_to_success() {
    let rig = rig(None);
    let record = rig
        .host
        .engine()
        .start_new(request())
        .await
        .expect("started");
    let mut n = 0;
    while let Some(event) = rig.queue.take_all().into_iter().next() {
        n += 1;
        assert!(n < 50, "the chain does not end");
        // FC holds a delayed event back; here the clock jumps to its due time.
        rig.clock.advance(Duration::from_secs(120));
        let answer = rig
            .host
            .handle_event(event.step, &ctx(&format!("r{n}")), &json(&event))
            .await
            .expect("handled");
        assert_eq!(answer["outcome"], "advanced", "{answer}");
        assert_eq!(answer["step"], event.step.as_str());
    }
    let last = rig
        .host
        .engine()
        .get(&record.execution_id)
        .await
        .expect("readable")
        .expect("exists");
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    assert_eq!(rig.fake.state().images_created(), 1);
    // The last request's credentials are what the clients now use.
    let creds = crate::aliyun::CredentialsProvider::credentials(&rig.credentials)
        .await
        .expect("set by the requests");
    assert_eq!(creds.access_key_id(), format!("STS.r{n}"));
}

#[tokio::test]
async fn bad_events_are_refused_or_acknowledged_never_run_twice() {
    let rig = rig(None);
    let record = rig
        .host
        .engine()
        .start_new(request())
        .await
        .expect("started");
    let first = rig.queue.take_all().remove(0);
    assert_eq!(first.step, Step::CreateImage);

    let err = rig
        .host
        .handle_event(Step::CreateImage, &ctx("a"), b"not json")
        .await
        .expect_err("not JSON");
    assert_eq!(err.error_type, "InvalidEvent");

    let err = rig
        .host
        .handle_event(
            Step::CreateImage,
            &ctx("b"),
            br#"{"execution_id":"exec-1"}"#,
        )
        .await
        .expect_err("missing fields");
    assert_eq!(err.error_type, "InvalidEvent");
    assert!(err.message.contains("step"), "{err}");

    let err = rig
        .host
        .handle_event(Step::Verify, &ctx("c"), &json(&first))
        .await
        .expect_err("create-image's event sent to verify");
    assert_eq!(err.error_type, "WrongFunction");

    let unknown = StepEvent {
        execution_id: crate::model::ExecutionId::parse("exec-nobody").expect("valid id"),
        step: Step::CreateImage,
        seq: 0,
    };
    let answer = rig
        .host
        .handle_event(Step::CreateImage, &ctx("d"), &json(&unknown))
        .await
        .expect("acknowledged");
    assert_eq!(answer["outcome"], "unknown-execution");

    // The real event runs once; delivered again, it is acknowledged and ignored.
    let answer = rig
        .host
        .handle_event(Step::CreateImage, &ctx("e"), &json(&first))
        .await
        .expect("handled");
    assert_eq!(answer["outcome"], "advanced");
    let again = rig
        .host
        .handle_event(Step::CreateImage, &ctx("f"), &json(&first))
        .await
        .expect("acknowledged");
    assert_eq!(again["outcome"], "ignored");
    assert_eq!(rig.fake.state().count("CreateSnapshot"), 1);
    let latest = rig
        .host
        .engine()
        .get(&record.execution_id)
        .await
        .expect("readable")
        .expect("exists");
    assert_eq!(latest.seq, 1);
}

fn timer(payload: Option<&str>) -> Vec<u8> {
    let mut v = serde_json::json!({
        "triggerTime": "2026-05-06T07:20:00Z",
        "triggerName": "every-minute",
    });
    if let Some(p) = payload {
        v["payload"] = p.into();
    }
    serde_json::to_vec(&v).expect("serializable")
}

#[tokio::test]
async fn the_minute_timer_sweeps_a_lost_event_back_into_the_chain() {
    let rig = rig(None);
    rig.host
        .engine()
        .start_new(request())
        .await
        .expect("started");
    let lost = rig.queue.take_all();
    assert_eq!(lost.len(), 1, "the first event, lost");

    // Before the step is overdue the tick finds nothing to sweep.
    let early = rig
        .host
        .handle_event(Step::CreateImage, &ctx("t1"), &timer(Some(TIMER_PAYLOAD)))
        .await
        .expect("ticked");
    assert_eq!(early["swept"], 0, "{early}");
    assert!(rig.queue.take_all().is_empty());

    rig.clock.advance(Duration::from_secs(11 * 60));
    let late = rig
        .host
        .handle_event(Step::CreateImage, &ctx("t2"), &timer(Some(TIMER_PAYLOAD)))
        .await
        .expect("ticked");
    assert_eq!(late["swept"], 1, "{late}");
    assert_eq!(rig.queue.take_all(), lost);
}

#[tokio::test]
async fn timer_events_with_other_payloads_or_at_other_functions_do_nothing() {
    let rig = rig(None);
    rig.host
        .engine()
        .start_new(request())
        .await
        .expect("started");
    rig.queue.take_all();
    rig.clock.advance(Duration::from_secs(11 * 60));

    for payload in [None, Some("hello"), Some(r#"{"tick":"other"}"#)] {
        let answer = rig
            .host
            .handle_event(Step::CreateImage, &ctx("t"), &timer(payload))
            .await
            .expect("acknowledged");
        assert!(answer.get("ignored").is_some(), "{payload:?}: {answer}");
    }
    assert!(rig.queue.take_all().is_empty(), "nothing was swept");

    let err = rig
        .host
        .handle_event(Step::WaitImage, &ctx("t"), &timer(Some(TIMER_PAYLOAD)))
        .await
        .expect_err("wait-image has no timer");
    assert_eq!(err.error_type, "WrongFunction");
    let now = rig.clock.now();
    assert!(
        now > chrono::Utc
            .with_ymd_and_hms(2026, 5, 6, 7, 8, 0)
            .single()
            .expect("time")
    );
}

/// Serves `function` on port 0 and answers its URL and a stop handle.
async fn serve(function: Function) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(crate::runtime::run(listener, function, async {
        let _ = stopped.await;
    }));
    (url, stop)
}

#[tokio::test]
async fn create_image_serves_the_http_api_behind_the_http_trigger() {
    let rig = rig(Some("function-api-token-1"));
    let record = rig
        .host
        .engine()
        .start_new(request())
        .await
        .expect("started");
    let function = rig
        .host
        .function(Step::CreateImage)
        .markers(crate::runtime::MarkerLog::new());
    let (url, stop) = serve(function).await;
    let base = "/2016-08-15/proxy/reimage/create-image/";
    let get = |auth: Option<&str>| {
        let mut req = reqwest::Client::new()
            .get(format!("{url}{base}executions/{}", record.execution_id))
            .header("x-fc-control-path", "/http-invoke")
            .header("x-fc-request-id", "h1")
            .header("x-fc-base-path", base);
        if let Some(token) = auth {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    let ok = get(Some("function-api-token-1")).await.expect("answered");
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().await.expect("JSON");
    assert_eq!(body["execution_id"], record.execution_id.as_str(), "{body}");
    let refused = get(None).await.expect("answered");
    assert_eq!(refused.status(), 401);
    let _ = stop.send(());

    // Without a token the API is off, and says so.
    let rig = self::rig(None);
    let (url, stop) = serve(
        rig.host
            .function(Step::CreateImage)
            .markers(crate::runtime::MarkerLog::new()),
    )
    .await;
    let off = reqwest::Client::new()
        .get(format!("{url}/executions"))
        .header("x-fc-control-path", "/http-invoke")
        .header("x-fc-request-id", "h2")
        .send()
        .await
        .expect("answered");
    assert_eq!(off.status(), 503);
    let body: serde_json::Value = off.json().await.expect("JSON");
    assert_eq!(body["code"], "ApiDisabled");
    let _ = stop.send(());
}

#[tokio::test]
async fn step_functions_other_than_create_image_refuse_http() {
    let rig = rig(Some("function-api-token-1"));
    let (url, stop) = serve(
        rig.host
            .function(Step::WaitImage)
            .markers(crate::runtime::MarkerLog::new()),
    )
    .await;
    let resp = reqwest::Client::new()
        .get(format!("{url}/executions"))
        .header("x-fc-control-path", "/http-invoke")
        .header("x-fc-request-id", "h3")
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["x-fc-status"], "404");
    let _ = stop.send(());
}

#[test]
fn setup_names_the_missing_or_bad_setting() {
    let clock: SharedClock = Arc::new(ManualClock::new(
        chrono::Utc
            .with_ymd_and_hms(2026, 5, 6, 7, 8, 0)
            .single()
            .expect("a valid time"),
    ));
    let err = FunctionHost::from_env(&Env::default(), clock.clone()).expect_err("no account");
    assert!(err.to_string().contains("FC_ACCOUNT_ID"), "{err}");
    let err = FunctionHost::from_env(&Env::from_pairs([("FC_ACCOUNT_ID", "1234")]), clock.clone())
        .expect_err("no region");
    assert!(err.to_string().contains("FC_REGION"), "{err}");
    let err = FunctionHost::from_env(
        &Env::from_pairs([
            ("FC_ACCOUNT_ID", "1234"),
            ("FC_REGION", "cn-hangzhou"),
            ("REIMAGE_STORE", "s3://elsewhere"),
        ]),
        clock.clone(),
    )
    .expect_err("bad store");
    assert!(err.to_string().contains("REIMAGE_STORE"), "{err}");
    let err = FunctionHost::from_env(
        &Env::from_pairs([
            ("FC_ACCOUNT_ID", "1234"),
            ("FC_REGION", "cn-hangzhou"),
            ("REIMAGE_STORE", "file:///tmp/reimage-unused"),
            ("REIMAGE_OVERDUE_AFTER_SECS", "soon"),
        ]),
        clock.clone(),
    )
    .expect_err("bad overdue");
    assert!(
        err.to_string().contains("REIMAGE_OVERDUE_AFTER_SECS"),
        "{err}"
    );
    let err = FunctionHost::from_env(
        &Env::from_pairs([
            ("FC_ACCOUNT_ID", "1234"),
            ("FC_REGION", "cn-hangzhou"),
            ("REIMAGE_STORE", "file:///tmp/reimage-unused"),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-half-set"),
        ]),
        clock.clone(),
    )
    .expect_err("an AccessKey id without its secret");
    assert!(
        crate::report::chain(&err).contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        "{}",
        crate::report::chain(&err)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("file://{}", dir.path().display());
    let host = FunctionHost::from_env(
        &Env::from_pairs([
            ("FC_ACCOUNT_ID", "1234"),
            ("FC_REGION", "cn-hangzhou"),
            ("REIMAGE_STORE", store.as_str()),
        ]),
        clock,
    )
    .expect("a file store and no credentials yet are enough to start");
    assert!(format!("{host:?}").contains("api: false"));
}
