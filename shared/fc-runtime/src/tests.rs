//! The runtime under real HTTP: each test binds port 0 and talks to it as FC would.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::extract::Path;
use axum::routing::get;
use bytes::Bytes;
use tokio::sync::oneshot;

use super::*;

struct Running {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(function: Function) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(run(listener, function, async {
            let _ = stopped.await;
        }));
        Self {
            url,
            stop: Some(stop),
            done,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), &mut self.done)
            .await
            .expect("runtime stops within 5 s")
            .expect("runtime task did not panic");
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn fc_request(url: &str, control: &str, request_id: &str) -> reqwest::RequestBuilder {
    client()
        .post(format!("{url}/invoke"))
        .header(CONTROL_PATH_HEADER, control)
        .header(headers::REQUEST_ID, request_id)
}

async fn echo_context(ctx: Context, event: Bytes) -> Result<serde_json::Value, HandlerError> {
    Ok(serde_json::json!({
        "request_id": ctx.request_id,
        "function_name": ctx.function_name,
        "service_name": ctx.service_name,
        "region": ctx.region,
        "account_id": ctx.account_id,
        "qualifier": ctx.qualifier,
        "memory_mb": ctx.memory_mb,
        "timeout_secs": ctx.timeout_secs,
        "access_key_id": ctx.credentials.as_ref().map(|c| c.access_key_id().to_owned()),
        "has_token": ctx.credentials.as_ref().is_some_and(|c| c.security_token().is_some()),
        "event": String::from_utf8_lossy(&event),
    }))
}

#[tokio::test]
async fn invoke_passes_headers_and_event_to_the_handler_and_writes_markers() {
    let log = MarkerLog::new();
    let env = Env::from_pairs([("FC_REGION", "cn-beijing")]);
    let rt = Running::start(Function::event(echo_context).markers(log.clone()).env(env)).await;

    let resp = fc_request(&rt.url, "/invoke", "req-abc")
        .header(headers::FUNCTION_NAME, "wait-image")
        .header(headers::SERVICE_NAME, "reimage")
        .header(headers::ACCOUNT_ID, "1234")
        .header(headers::QUALIFIER, "LATEST")
        .header(headers::FUNCTION_MEMORY, "128")
        .header(headers::FUNCTION_TIMEOUT, "30")
        .header(headers::ACCESS_KEY_ID, "STS.key")
        .header(headers::ACCESS_KEY_SECRET, "secret")
        .header(headers::SECURITY_TOKEN, "token")
        .body(r#"{"execution_id":"e1"}"#)
        .send()
        .await
        .expect("runtime answers");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()[headers::STATUS], "200");
    let body: serde_json::Value = resp.json().await.expect("JSON result");
    assert_eq!(
        body,
        serde_json::json!({
            "request_id": "req-abc",
            "function_name": "wait-image",
            "service_name": "reimage",
            "region": "cn-beijing",
            "account_id": "1234",
            "qualifier": "LATEST",
            "memory_mb": 128,
            "timeout_secs": 30,
            "access_key_id": "STS.key",
            "has_token": true,
            "event": r#"{"execution_id":"e1"}"#,
        })
    );
    assert_eq!(
        log.lines(),
        [
            "FC Invoke Start RequestId: req-abc",
            "FC Invoke End RequestId: req-abc"
        ]
    );
    rt.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_answers_404_status_and_the_server_keeps_serving() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let log = MarkerLog::new();
    let function = Function::event(move |_ctx: Context, event: Bytes| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                panic!("wait-image fell over");
            }
            Ok(event)
        }
    })
    .markers(log.clone());
    let rt = Running::start(function).await;

    let first = fc_request(&rt.url, "/invoke", "r1")
        .body("x")
        .send()
        .await
        .expect("answered despite the panic");
    assert_eq!(first.headers()[headers::STATUS], "404");
    let body: serde_json::Value = first.json().await.expect("JSON error body");
    assert_eq!(body["errorType"], "Panic");
    assert_eq!(body["errorMessage"], "wait-image fell over");

    let second = fc_request(&rt.url, "/invoke", "r2")
        .body("still here")
        .send()
        .await
        .expect("the server survived");
    assert_eq!(second.headers()[headers::STATUS], "200");
    assert_eq!(second.text().await.expect("body"), "still here");
    assert_eq!(
        log.lines(),
        [
            "FC Invoke Start RequestId: r1",
            "FC Invoke End RequestId: r1",
            "FC Invoke Start RequestId: r2",
            "FC Invoke End RequestId: r2",
        ]
    );
    rt.stop().await;
}

#[tokio::test]
async fn a_handler_error_answers_404_status_with_its_type_and_message() {
    let function = Function::event(|_ctx: Context, event: Bytes| async move {
        let _: serde_json::Value = serde_json::from_slice(&event)?;
        Ok(())
    })
    .markers(MarkerLog::new());
    let rt = Running::start(function).await;
    let resp = fc_request(&rt.url, "/invoke", "r")
        .body("not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()[headers::STATUS], "404");
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["errorType"], "Error");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("expected ident")),
        "{body}"
    );
    rt.stop().await;
}

#[tokio::test]
async fn unknown_or_missing_control_path_is_a_clear_error() {
    let log = MarkerLog::new();
    let rt = Running::start(Function::event(echo_context).markers(log.clone())).await;

    let resp = fc_request(&rt.url, "/invoke-please", "r")
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()[headers::STATUS], "404");
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["errorType"], "UnknownControlPath");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("/invoke-please")),
        "{body}"
    );

    let resp = client()
        .post(format!("{}/invoke", rt.url))
        .header(headers::REQUEST_ID, "r")
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["errorType"], "MissingControlPath");
    assert!(log.lines().is_empty(), "no markers for a refused request");
    rt.stop().await;
}

#[tokio::test]
async fn missing_request_id_is_an_error_naming_the_header() {
    let rt = Running::start(Function::event(echo_context).markers(MarkerLog::new())).await;
    let resp = client()
        .post(format!("{}/invoke", rt.url))
        .header(CONTROL_PATH_HEADER, "/invoke")
        .body("{}")
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()[headers::STATUS], "404");
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["errorType"], "InvalidRequest");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("x-fc-request-id")),
        "{body}"
    );

    // A bad number in a header is refused the same way, and the server carries on.
    let resp = fc_request(&rt.url, "/invoke", "r")
        .header(headers::FUNCTION_TIMEOUT, "soon")
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("x-fc-function-timeout")),
        "{body}"
    );
    rt.stop().await;
}

#[tokio::test]
async fn lifecycle_hooks_run_with_their_markers_and_failures_answer_404() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let (a, b) = (Arc::clone(&seen), Arc::clone(&seen));
    let log = MarkerLog::new();
    let function = Function::event(echo_context)
        .on_initialize(move |ctx: Context| {
            let seen = Arc::clone(&a);
            async move {
                seen.lock()
                    .expect("lock")
                    .push(format!("init {}", ctx.request_id));
                Ok(())
            }
        })
        .on_pre_stop(move |ctx: Context| {
            let seen = Arc::clone(&b);
            async move {
                seen.lock()
                    .expect("lock")
                    .push(format!("stop {}", ctx.request_id));
                Err(HandlerError::new("FlushFailed", "could not flush"))
            }
        })
        .markers(log.clone());
    let rt = Running::start(function).await;

    let init = fc_request(&rt.url, "/initialize", "i-1")
        .send()
        .await
        .expect("answered");
    assert_eq!(init.status(), 200);
    assert_eq!(init.headers()[headers::STATUS], "200");

    let stop = client()
        .get(format!("{}/pre-stop", rt.url))
        .header(CONTROL_PATH_HEADER, "/pre-stop")
        .header(headers::REQUEST_ID, "s-1")
        .send()
        .await
        .expect("answered");
    assert_eq!(stop.status(), 404);
    assert_eq!(stop.headers()[headers::STATUS], "404");
    let body: serde_json::Value = stop.json().await.expect("JSON error body");
    assert_eq!(body["errorType"], "FlushFailed");

    // No pre-freeze hook is configured: acknowledged, nothing run.
    let freeze = client()
        .get(format!("{}/pre-freeze", rt.url))
        .header(CONTROL_PATH_HEADER, "/pre-freeze")
        .header(headers::REQUEST_ID, "f-1")
        .send()
        .await
        .expect("answered");
    assert_eq!(freeze.status(), 200);

    assert_eq!(*seen.lock().expect("lock"), ["init i-1", "stop s-1"]);
    assert_eq!(
        log.lines(),
        [
            "FC Initialize Start RequestId: i-1",
            "FC Initialize End RequestId: i-1",
            "FC PreStop Start RequestId: s-1",
            "FC PreStop End RequestId: s-1",
            "FC PreFreeze Start RequestId: f-1",
            "FC PreFreeze End RequestId: f-1",
        ]
    );
    rt.stop().await;
}

async fn show_execution(Path(id): Path<String>, Extension(ctx): Extension<Context>) -> String {
    format!("execution {id} seen in request {}", ctx.request_id)
}

#[tokio::test]
async fn http_invoke_reaches_an_axum_router_with_the_base_path_stripped() {
    let router = axum::Router::new()
        .route("/executions/{id}", get(show_execution))
        .route(
            "/boom",
            get(|| async {
                if true {
                    panic!("router panic")
                }
            }),
        );
    let log = MarkerLog::new();
    let rt = Running::start(Function::http(router).markers(log.clone())).await;

    let base = "/2016-08-15/proxy/reimage/create-image/";
    let resp = client()
        .get(format!("{}{base}executions/e-42?verbose=1", rt.url))
        .header(CONTROL_PATH_HEADER, "/http-invoke")
        .header(headers::REQUEST_ID, "h-1")
        .header(headers::BASE_PATH, base)
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().await.expect("body"),
        "execution e-42 seen in request h-1"
    );

    // Without a base path the client's path arrives as is.
    let resp = client()
        .get(format!("{}/executions/e-7", rt.url))
        .header(CONTROL_PATH_HEADER, "/http-invoke")
        .header(headers::REQUEST_ID, "h-2")
        .send()
        .await
        .expect("answered");
    assert_eq!(
        resp.text().await.expect("body"),
        "execution e-7 seen in request h-2"
    );

    let resp = client()
        .get(format!("{}/boom", rt.url))
        .header(CONTROL_PATH_HEADER, "/http-invoke")
        .header(headers::REQUEST_ID, "h-3")
        .send()
        .await
        .expect("answered despite the panic");
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.headers()[headers::STATUS], "404");
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["errorMessage"], "router panic");

    // An event invocation of an HTTP-only function is refused, clearly.
    let resp = fc_request(&rt.url, "/invoke", "h-4")
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.headers()[headers::STATUS], "404");
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["errorType"], "NoEventHandler");

    assert_eq!(log.lines().len(), 8, "{:?}", log.lines());
    rt.stop().await;
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish() {
    let (entered_tx, entered_rx) = oneshot::channel::<()>();
    let entered = Arc::new(Mutex::new(Some(entered_tx)));
    let function = Function::event(move |_ctx: Context, _event: Bytes| {
        let entered = entered.lock().ok().and_then(|mut e| e.take());
        async move {
            if let Some(tx) = entered {
                let _ = tx.send(());
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok("finished")
        }
    })
    .markers(MarkerLog::new());
    let rt = Running::start(function).await;
    let url = rt.url.clone();
    let in_flight = tokio::spawn(async move {
        fc_request(&url, "/invoke", "slow")
            .send()
            .await
            .expect("answered")
            .text()
            .await
            .expect("body")
    });
    entered_rx.await.expect("handler started");
    let url = rt.url.clone();
    rt.stop().await;
    assert_eq!(in_flight.await.expect("client task"), "finished");
    assert!(
        fc_request(&url, "/invoke", "late").send().await.is_err(),
        "no new connections after shutdown"
    );
}

#[test]
fn listen_port_prefers_fc_server_port_then_the_documented_variable() {
    assert_eq!(listen_port(&Env::default()).expect("default"), 9000);
    assert_eq!(
        listen_port(&Env::from_pairs([("FC_CUSTOM_LISTEN_PORT", "9100")])).expect("documented"),
        9100
    );
    assert_eq!(
        listen_port(&Env::from_pairs([
            ("FC_CUSTOM_LISTEN_PORT", "9100"),
            ("FC_SERVER_PORT", "9200"),
        ]))
        .expect("community name first"),
        9200
    );
    let err =
        listen_port(&Env::from_pairs([("FC_SERVER_PORT", "ninety")])).expect_err("not a port");
    assert!(err.to_string().contains("FC_SERVER_PORT"), "{err}");
}

#[test]
fn the_log_filter_reads_a_level_and_targets_and_falls_back_on_info() {
    use tracing::Level;
    let filter = crate::log_filter(Some("warn,reimage=debug"));
    assert!(filter.would_enable("reimage::steps", &Level::DEBUG));
    assert!(filter.would_enable("hyper", &Level::WARN));
    assert!(!filter.would_enable("hyper", &Level::INFO));
    for fallback in [
        crate::log_filter(None),
        crate::log_filter(Some("reimage=loud")),
    ] {
        assert!(fallback.would_enable("reimage", &Level::INFO));
        assert!(!fallback.would_enable("reimage", &Level::DEBUG));
    }
}
