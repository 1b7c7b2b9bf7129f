use std::sync::Arc;

use axum::body::Body;
use chrono::TimeZone;
use http::Request;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::ids::SequentialIds;
use crate::model::execution::{StepRecord, UpdateRequest};
use crate::model::naming;
use crate::schedule::{IndexedRuns, RunFuture, RunStarted};
use crate::store::StoreError;
use crate::store::memory::MemoryStore;

const TOKEN: &str = "test-token-0123456789";
const SECRET: &str = "hook-secret-0123456789";

/// Starts an execution the way the engine does: indexed, record 0 created if absent (no
/// dispatch).
#[derive(Debug)]
struct RecordZero {
    store: SharedStore,
    clock: SharedClock,
}

impl Runs for RecordZero {
    fn start(&self, request: RunRequest) -> RunFuture<'_> {
        Box::pin(async move {
            let now = self.clock.now();
            let spec = &request.task.spec;
            let name = naming::image_name(
                &spec.source_instance_id,
                spec.image_name.as_deref(),
                &request.execution_id,
                now,
            )
            .unwrap();
            let record = StepRecord::first(
                request.execution_id.clone(),
                UpdateRequest {
                    allow_default_version_change: false,
                    scaling_group_ids: Vec::new(),
                    instance_id: spec.source_instance_id.clone(),
                    image_name: spec.image_name.clone(),
                    configuration_ids: spec.scaling_configuration_ids.clone(),
                    permission: spec.permission.clone(),
                    task_id: Some(request.task.task_id.clone()),
                    rollout: None,
                    allow_platform_change: false,
                },
                name,
                now,
            );
            crate::steps::started::mark(
                &self.store,
                now,
                &record.execution_id,
                record.request.task_id.as_deref(),
            )
            .await
            .unwrap();
            let created = match self.store.create(&record.key(), &record.to_json()).await {
                Ok(()) => true,
                Err(StoreError::AlreadyExists { .. }) => false,
                Err(err) => panic!("{err}"),
            };
            Ok(RunStarted {
                execution_id: request.execution_id,
                created,
            })
        })
    }
}

#[derive(Debug)]
struct FakeImages;

impl ImageSetter for FakeImages {
    fn set_image<'a>(
        &'a self,
        configuration_id: &'a str,
        image_id: &'a str,
        _permission: &'a PermissionSource,
    ) -> ImageSetFuture<'a> {
        Box::pin(async move {
            match (configuration_id, image_id) {
                ("asc-missing", _) => Err(ManualUpdateError::ConfigurationNotFound(
                    configuration_id.into(),
                )),
                (_, "m-creating") => Err(ManualUpdateError::ImageNotAvailable {
                    image_id: image_id.into(),
                    status: "Creating".into(),
                }),
                (_, "m-missing") => Err(ManualUpdateError::ImageNotFound(image_id.into())),
                _ => Ok(ImageSet {
                    scaling_configuration_id: configuration_id.into(),
                    previous_image_id: "m-old".into(),
                    image_id: image_id.into(),
                }),
            }
        })
    }
}

struct Fixture {
    store: SharedStore,
    clock: ManualClock,
    router: Router,
}

fn fixture_with(auth: Auth) -> Fixture {
    fixture_at(auth, "")
}

fn fixture_at(auth: Auth, base_path: &str) -> Fixture {
    fixture_on(Arc::new(MemoryStore::new()), auth, base_path)
}

/// The key every test API seals webhook secrets with.
fn test_sealer() -> Option<crate::secrets::SharedSealer> {
    Some(Arc::new(crate::secrets::LocalSealer::with_key(
        [9; crate::secrets::KEY_LEN],
    )))
}

fn fixture_on(store: SharedStore, auth: Auth, base_path: &str) -> Fixture {
    fixture_configured(store, auth, base_path, |api| api)
}

/// [`fixture_on`] with the API changed by `configure` before it serves.
fn fixture_configured(
    store: SharedStore,
    auth: Auth,
    base_path: &str,
    configure: impl FnOnce(Api) -> Api,
) -> Fixture {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap());
    let shared_clock: SharedClock = Arc::new(clock.clone());
    let runs = IndexedRuns::new(
        store.clone(),
        shared_clock.clone(),
        RecordZero {
            store: store.clone(),
            clock: shared_clock.clone(),
        },
    );
    let api = Api::new(
        store.clone(),
        Arc::new(runs),
        shared_clock,
        Arc::new(SequentialIds::new("id")),
        auth,
    )
    .with_image_setter(Arc::new(FakeImages))
    .with_sealer(test_sealer())
    .with_base_path(base_path);
    let api = configure(api);
    Fixture {
        store,
        clock,
        router: Arc::new(api).router(),
    }
}

fn fixture() -> Fixture {
    fixture_with(Auth::Bearer(ApiToken::new(TOKEN)))
}

fn periodic_task() -> Value {
    json!({
        "source_instance_id": "i-source1",
        "image_name": "web",
        "scaling_configuration_ids": ["asc-one", "asc-two"],
        "executed_at": {"kind": "periodic", "recurrence": {"every": "daily"}, "at": "02:00:00",
                        "expired_at": "2024-06-01T00:00:00Z", "time_zone": "Asia/Shanghai"},
        "permission": {"kind": "ram_role", "role_arn": "acs:ram::123456789012:role/reimage"},
        "webhook_secret": SECRET
    })
}

impl Fixture {
    async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, headers, value)
    }

    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {TOKEN}"));
        let body = match body {
            Some(v) => {
                builder = builder.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let (status, _, value) = self.send(builder.body(body).unwrap()).await;
        (status, value)
    }

    async fn create(&self, task: Value) -> String {
        let (status, body) = self.call("POST", "/tasks", Some(task)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["task_id"].as_str().unwrap().to_owned()
    }

    async fn hook(
        &self,
        task_id: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder()
            .method("POST")
            .uri(format!("/hooks/{task_id}"));
        for (k, v) in headers {
            builder = builder.header(*k, v);
        }
        let (status, _, value) = self
            .send(builder.body(Body::from(body.to_owned())).unwrap())
            .await;
        (status, value)
    }
}

#[tokio::test]
async fn task_lifecycle_create_list_show_disable_enable_delete() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let (status, shown) = f.call("GET", &format!("/tasks/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["enabled"], true);
    assert_eq!(shown["webhook"], true);
    assert_eq!(shown["next_run_at"], "2024-05-01T18:00:00Z");
    assert!(shown.get("webhook_secret").is_none());
    let (_, list) = f.call("GET", "/tasks", None).await;
    assert_eq!(list["tasks"].as_array().unwrap().len(), 1);

    let (status, patched) = f
        .call(
            "PATCH",
            &format!("/tasks/{id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(
        (status, &patched["enabled"], &patched["seq"]),
        (StatusCode::OK, &json!(false), &json!(1))
    );
    assert!(patched.get("next_run_at").is_none());
    let (status, patched) = f
        .call(
            "PATCH",
            &format!("/tasks/{id}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(
        (status, &patched["enabled"], &patched["seq"]),
        (StatusCode::OK, &json!(true), &json!(2))
    );

    let (status, _) = f.call("DELETE", &format!("/tasks/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = f.call("GET", &format!("/tasks/{id}"), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("TaskNotFound"))
    );
    let (status, _) = f.call("DELETE", &format!("/tasks/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Four records: created, disabled, enabled, deleted.
    assert_eq!(
        f.store.list(&format!("tasks/{id}/")).await.unwrap().len(),
        4
    );
}

#[tokio::test]
async fn validation_errors_are_422_and_name_the_field() {
    let f = fixture();
    let mut task = periodic_task();
    task["permission"] = json!({"kind": "account"});
    let (status, body) = f.call("POST", "/tasks", Some(task)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "InvalidTask");
    assert_eq!(body["field"], "permission");
    assert!(body["message"].as_str().unwrap().contains("RAM role"));

    let mut task = periodic_task();
    task["executed_at"]["time_zone"] = json!("Mars/Olympus");
    let (status, body) = f.call("POST", "/tasks", Some(task)).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("executed_at.time_zone")
        )
    );

    // Syntax errors are 400, schema errors 422.
    let request = Request::post("/tasks")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from("{not json"))
        .unwrap();
    let (status, _, body) = f.send(request).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("MalformedJson"))
    );
    let (status, body) = f
        .call("POST", "/tasks", Some(json!({"source_instance_id": 3})))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("InvalidRequest"))
    );
    assert!(f.store.list("tasks/").await.unwrap().is_empty());
}

#[tokio::test]
async fn management_needs_the_bearer_token() {
    let f = fixture();
    for auth in [None, Some("Bearer wrong-token"), Some(TOKEN)] {
        let mut builder = Request::get("/tasks");
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        let (status, _, body) = f.send(builder.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(body["code"], "Unauthorized");
        assert!(!body.to_string().contains(TOKEN));
    }
    let lower = Request::get("/tasks")
        .header("authorization", format!("bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(f.send(lower).await.0, StatusCode::OK);
    let open = fixture_with(Auth::Off);
    let (status, _, _) = open
        .send(Request::get("/tasks").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn the_api_token_never_shows_in_debug_output() {
    let auth = Auth::Bearer(ApiToken::new(TOKEN));
    assert!(!format!("{auth:?}").contains(TOKEN));
}

#[tokio::test]
async fn bodies_over_64_kib_are_refused_with_413() {
    let f = fixture();
    let big = "x".repeat(BODY_LIMIT + 1);
    let request = Request::post("/tasks")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from(big.clone()))
        .unwrap();
    let (status, _, body) = f.send(request).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("BodyTooLarge"))
    );
    // Also without a Content-Length (a streamed body).
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(big))]);
    let request = Request::post("/hooks/task-1")
        .body(Body::from_stream(stream))
        .unwrap();
    let (status, _, _) = f.send(request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let f = fixture();
    let (status, body) = f.call("GET", "/nothing-here", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("NotFound"))
    );
    let (status, body) = f.call("PUT", "/tasks", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("MethodNotAllowed"))
    );
    let (status, _) = f.call("GET", "/tasks/..", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = f.call("GET", "/executions/not%20an%20id", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("ExecutionNotFound"))
    );
}

#[tokio::test]
async fn run_now_returns_an_execution_to_poll() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let (status, run) = f.call("POST", &format!("/tasks/{id}/runs"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let execution_id = run["execution_id"].as_str().unwrap();
    assert_eq!(run["status_url"], format!("/executions/{execution_id}"));
    let (status, execution) = f
        .call("GET", run["status_url"].as_str().unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{execution}");
    assert_eq!(execution["status"], "pending");
    assert_eq!(execution["request"]["task_id"], id);
    assert_eq!(execution["trigger"]["kind"], "manual");
    let (_, listed) = f.call("GET", &format!("/executions?task={id}"), None).await;
    assert_eq!(listed["executions"][0]["execution_id"], execution_id);
    let (status, _) = f.call("GET", "/executions?task=task-unknown", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A disabled task does not run.
    f.call(
        "PATCH",
        &format!("/tasks/{id}"),
        Some(json!({"enabled": false})),
    )
    .await;
    let (status, body) = f.call("POST", &format!("/tasks/{id}/runs"), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("TaskDisabled"))
    );
}

#[tokio::test]
async fn a_task_executed_now_starts_its_run_on_creation() {
    let f = fixture();
    let task = json!({
        "source_instance_id": "i-source1",
        "scaling_configuration_ids": ["asc-one"],
        "executed_at": {"kind": "now"},
        "permission": {"kind": "account"}
    });
    let (status, body) = f.call("POST", "/tasks", Some(task)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let execution_id = body["run"]["execution_id"].as_str().unwrap().to_owned();
    let (status, execution) = f
        .call("GET", &format!("/executions/{execution_id}"), None)
        .await;
    assert_eq!(
        (status, execution["trigger"]["kind"].as_str()),
        (StatusCode::OK, Some("now"))
    );
}

fn github_headers(body: &str, delivery: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "x-hub-signature-256",
            webhook::github_signature(&WebhookSecret::new(SECRET), body.as_bytes()),
        ),
        ("x-github-delivery", delivery.to_owned()),
    ]
}

#[tokio::test]
async fn webhook_with_a_valid_signature_starts_a_run_and_a_redelivery_does_not() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let body = r#"{"ref":"refs/heads/main"}"#;
    let (status, first) = f.hook(&id, &github_headers(body, "delivery-1"), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["created"], true);
    let (status, again) = f.hook(&id, &github_headers(body, "delivery-1"), body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["execution_id"], first["execution_id"]);
    assert_eq!(again["created"], false);
    let (_, execution) = f
        .call("GET", first["status_url"].as_str().unwrap(), None)
        .await;
    assert_eq!(
        execution["trigger"],
        json!({"kind": "webhook", "source": "github", "delivery_id": "delivery-1"})
    );

    // GitLab's token and reimage's own signature, each with another body.
    let gitlab_body = r#"{"object_kind":"push"}"#;
    let gitlab = vec![
        ("x-gitlab-token", SECRET.to_owned()),
        ("x-gitlab-event-uuid", "uuid-9".to_owned()),
    ];
    let (status, _) = f.hook(&id, &gitlab, gitlab_body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let t = f.clock.now().timestamp();
    let generic = vec![
        (
            "x-reimage-signature",
            webhook::reimage_signature(&WebhookSecret::new(SECRET), t, body.as_bytes()),
        ),
        ("idempotency-key", "build-77".to_owned()),
    ];
    let (status, first_generic) = f.hook(&id, &generic, body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, again_generic) = f.hook(&id, &generic, body).await;
    assert_eq!(
        (status, &again_generic["execution_id"]),
        (StatusCode::OK, &first_generic["execution_id"])
    );
}

/// The number of executions started so far (their first records).
async fn executions(f: &Fixture) -> usize {
    f.store
        .list(crate::model::execution::EXECUTIONS_PREFIX)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn one_signed_body_resent_with_other_delivery_ids_starts_one_run() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let body = r#"{"ref":"refs/heads/main","after":"9f8e7d"}"#;
    let (status, first) = f.hook(&id, &github_headers(body, "delivery-1"), body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // The captured request resent five times, each with another delivery id of each kind.
    for (n, header) in [
        "x-github-delivery",
        "x-gitlab-event-uuid",
        "idempotency-key",
        "x-github-delivery",
        "idempotency-key",
    ]
    .into_iter()
    .enumerate()
    {
        let mut headers = github_headers(body, "ignored");
        headers.retain(|(k, _)| *k != "x-github-delivery");
        headers.push((header, format!("attacker-{n}")));
        let (status, again) = f.hook(&id, &headers, body).await;
        assert_eq!(status, StatusCode::OK, "{header}: {again}");
        assert_eq!(again["execution_id"], first["execution_id"]);
        assert_eq!(again["created"], false);
    }
    // A GitHub redelivery days later (the GitHub form has no window) still names the first run.
    f.clock.advance(std::time::Duration::from_secs(3 * 86_400));
    let (status, later) = f.hook(&id, &github_headers(body, "redelivery"), body).await;
    assert_eq!(
        (status, &later["execution_id"]),
        (StatusCode::OK, &first["execution_id"])
    );
    assert_eq!(executions(&f).await, 1);
    // The trigger keeps the first delivery id: only for information.
    let (_, execution) = f
        .call("GET", first["status_url"].as_str().unwrap(), None)
        .await;
    assert_eq!(execution["trigger"]["delivery_id"], "delivery-1");
}

#[tokio::test]
async fn a_re_spelled_reimage_signature_starts_no_second_run() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let body = r#"{"pipeline":"deploy-7"}"#;
    let t = f.clock.now().timestamp();
    let signed = webhook::reimage_signature(&WebhookSecret::new(SECRET), t, body.as_bytes());
    let (status, first) = f
        .hook(&id, &[("x-reimage-signature", signed.clone())], body)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mac = signed.split_once(",v1=").unwrap().1;
    for spelling in [
        format!("t={t}, v1={mac}"),
        format!("t={t},v1={mac},v0=x"),
        format!("v1={mac},t={t}"),
        format!("t={t},v1={},v1={mac}", "0".repeat(64)),
        format!("t={t},v1={}", mac.to_uppercase()),
    ] {
        let (status, again) = f
            .hook(
                &id,
                &[
                    ("x-reimage-signature", spelling.clone()),
                    ("idempotency-key", format!("key-{spelling}")),
                ],
                body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{spelling}: {again}");
        assert_eq!(again["execution_id"], first["execution_id"], "{spelling}");
    }
    assert_eq!(executions(&f).await, 1);
}

#[tokio::test]
async fn a_replayed_future_idempotency_key_does_not_block_the_real_request() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    // The attacker replays a captured request with the key the next real build will use.
    let old_body = r#"{"build":41}"#;
    let t = f.clock.now().timestamp();
    let replay = vec![
        (
            "x-reimage-signature",
            webhook::reimage_signature(&WebhookSecret::new(SECRET), t, old_body.as_bytes()),
        ),
        ("idempotency-key", "build-42".to_owned()),
    ];
    let (status, replayed) = f.hook(&id, &replay, old_body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // The real build 42, with that key: a run of its own.
    f.clock.advance(std::time::Duration::from_secs(30));
    let body = r#"{"build":42}"#;
    let real = vec![
        (
            "x-reimage-signature",
            webhook::reimage_signature(&WebhookSecret::new(SECRET), t + 30, body.as_bytes()),
        ),
        ("idempotency-key", "build-42".to_owned()),
    ];
    let (status, answer) = f.hook(&id, &real, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["created"], true);
    assert_ne!(answer["execution_id"], replayed["execution_id"]);
}

#[tokio::test]
async fn an_unknown_task_and_a_wrong_signature_are_the_same_401_without_a_store_listing() {
    #[derive(Debug)]
    struct CountingStore {
        inner: MemoryStore,
        lists: std::sync::atomic::AtomicUsize,
    }
    impl crate::store::StateStore for CountingStore {
        fn get<'a>(&'a self, key: &'a str) -> crate::store::StoreFuture<'a, Option<Vec<u8>>> {
            self.inner.get(key)
        }
        fn create<'a>(&'a self, key: &'a str, body: &'a [u8]) -> crate::store::StoreFuture<'a, ()> {
            self.inner.create(key, body)
        }
        fn list<'a>(&'a self, prefix: &'a str) -> crate::store::StoreFuture<'a, Vec<String>> {
            self.lists.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.list(prefix)
        }
    }
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let body = r#"{"ref":"refs/heads/main"}"#;
    let forged = vec![(
        "x-hub-signature-256",
        webhook::github_signature(
            &WebhookSecret::new("not the secret at all"),
            body.as_bytes(),
        ),
    )];
    let (status_known, known) = f.hook(&id, &forged, body).await;
    let (status_unknown, unknown) = f.hook("task-nope", &forged, body).await;
    let (status_bad_id, bad_id) = f.hook("..", &forged, body).await;
    assert_eq!(status_known, StatusCode::UNAUTHORIZED);
    assert_eq!((status_unknown, &unknown), (status_known, &known));
    assert_eq!((status_bad_id, &bad_id), (status_known, &known));
    // A task without a secret answers the same.
    let mut task = periodic_task();
    task.as_object_mut().unwrap().remove("webhook_secret");
    let no_secret = f.create(task).await;
    let signed = github_headers(body, "d");
    let (status, answer) = f.hook(&no_secret, &signed, body).await;
    assert_eq!((status, &answer), (status_known, &known));

    // Over a store that counts listings: a flood of unknown task ids lists the store once per
    // minute, not once per request, and a task created meanwhile elsewhere is found after it.
    let store = Arc::new(CountingStore {
        inner: MemoryStore::new(),
        lists: Default::default(),
    });
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap());
    let shared_clock: SharedClock = Arc::new(clock.clone());
    let shared: SharedStore = store.clone();
    let api = Arc::new(
        Api::new(
            shared.clone(),
            Arc::new(RecordZero {
                store: shared.clone(),
                clock: shared_clock.clone(),
            }),
            shared_clock.clone(),
            Arc::new(SequentialIds::new("id")),
            Auth::Bearer(ApiToken::new(TOKEN)),
        )
        .with_sealer(test_sealer()),
    );
    let g = Fixture {
        store: shared.clone(),
        clock: clock.clone(),
        router: api.router(),
    };
    for n in 0..200 {
        let (status, _) = g.hook(&format!("task-guess-{n}"), &signed, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(store.lists.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Another process creates a task: found once the list is a minute old.
    let other = TaskStore::new(shared.clone()).with_sealer(test_sealer());
    let spec: TaskSpec = serde_json::from_value(periodic_task()).unwrap();
    other
        .create("task-elsewhere", spec, clock.now())
        .await
        .unwrap();
    let (status, _) = g.hook("task-elsewhere", &signed, body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    clock.advance(std::time::Duration::from_secs(61));
    let (status, answer) = g.hook("task-elsewhere", &signed, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}

#[tokio::test]
async fn disabled_deleted_and_expired_tasks_refuse_webhooks_with_a_clear_error() {
    let f = fixture();
    let body = r#"{"ref":"refs/heads/main"}"#;
    let signed = github_headers(body, "d");
    let id = f.create(periodic_task()).await;
    f.call(
        "PATCH",
        &format!("/tasks/{id}"),
        Some(json!({"enabled": false})),
    )
    .await;
    let (status, answer) = f.hook(&id, &signed, body).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("TaskDisabled"))
    );
    let (status, _) = f.call("DELETE", &format!("/tasks/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, answer) = f.hook(&id, &signed, body).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::GONE, Some("TaskDeleted"))
    );
    // A forged request for the deleted task still learns nothing.
    let forged = vec![(
        "x-hub-signature-256",
        webhook::github_signature(
            &WebhookSecret::new("not the secret at all"),
            body.as_bytes(),
        ),
    )];
    let (status, _) = f.hook(&id, &forged, body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The periodic task expires on 2024-06-01.
    let id = f.create(periodic_task()).await;
    f.clock
        .set(Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 1).unwrap());
    let (status, answer) = f.hook(&id, &signed, body).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::GONE, Some("TaskExpired")),
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("2024-06-01T00:00:00Z")
    );

    // A once-only task takes webhooks until its minute has passed.
    let mut once = periodic_task();
    once["executed_at"] = json!({"kind": "scheduled", "at": "2024-06-01T00:10:00Z"});
    let id = f.create(once).await;
    let (status, _) = f.hook(&id, &signed, body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    f.clock
        .set(Utc.with_ymd_and_hms(2024, 6, 1, 0, 11, 0).unwrap());
    let (status, answer) = f.hook(&id, &signed, body).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::GONE, Some("TaskExpired"))
    );
}

#[tokio::test]
async fn webhooks_beyond_the_rate_limit_are_429_with_retry_after() {
    let f = fixture();
    let mut task = periodic_task();
    task["webhook_runs_per_hour"] = json!(3);
    let id = f.create(task).await;
    let (_, shown) = f.call("GET", &format!("/tasks/{id}"), None).await;
    assert_eq!(shown["webhook_runs_per_hour"], 3);
    let f = &f;
    let id = &id;
    let send = |n: u32| async move {
        let body = format!(r#"{{"build":{n}}}"#);
        let headers = github_headers(&body, "d");
        f.hook(id, &headers, &body).await
    };
    for n in 0..3 {
        let (status, _) = send(n).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        f.clock.advance(std::time::Duration::from_secs(600));
    }
    // 30 minutes after the first run: three in the hour.
    let body = r#"{"build":3}"#;
    let request = |body: &str| {
        let mut builder = Request::post(format!("/hooks/{id}"));
        for (k, v) in github_headers(body, "d") {
            builder = builder.header(k, v);
        }
        builder.body(Body::from(body.to_owned())).unwrap()
    };
    let (status, headers, answer) = f.send(request(body)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert_eq!(answer["code"], "TooManyRuns");
    // The first run leaves the hour 30 minutes from now.
    assert_eq!(headers["retry-after"], "1800");
    // A request naming a run that exists is still answered: it starts nothing.
    let (status, _) = send(0).await;
    assert_eq!(status, StatusCode::OK);
    f.clock.advance(std::time::Duration::from_secs(1800));
    let (status, _, _) = f.send(request(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(executions(f).await, 4);
    // The default is 6 an hour; the limit is validated.
    let mut bad = periodic_task();
    bad["webhook_runs_per_hour"] = json!(0);
    let (status, answer) = f.call("POST", "/tasks", Some(bad)).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("webhook_runs_per_hour")
        )
    );
    let id = f.create(periodic_task()).await;
    for n in 0..6 {
        let body = format!(r#"{{"default":{n}}}"#);
        let (status, _) = f.hook(&id, &github_headers(&body, "d"), &body).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let body = r#"{"default":6}"#;
    let (status, _) = f.hook(&id, &github_headers(body, "d"), body).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_status_url_of_a_webhook_works_without_the_api_token_for_that_execution_only() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let body = r#"{"ref":"refs/heads/main"}"#;
    let (_, first) = f.hook(&id, &github_headers(body, "d"), body).await;
    let status_url = first["status_url"].as_str().unwrap().to_owned();
    let get = |uri: String| f.send(Request::get(uri).body(Body::empty()).unwrap());
    let (status, _, execution) = get(status_url.clone()).await;
    assert_eq!(status, StatusCode::OK, "{execution}");
    assert_eq!(execution["execution_id"], first["execution_id"]);
    // Another execution with this token, a wrong token, another route: the bearer is needed.
    let other_body = r#"{"ref":"refs/heads/dev"}"#;
    let (_, second) = f
        .hook(&id, &github_headers(other_body, "d"), other_body)
        .await;
    let token = status_url.split_once("?token=").unwrap().1;
    let second_id = second["execution_id"].as_str().unwrap();
    let mut flipped = token.to_owned();
    flipped.replace_range(0..1, if token.starts_with('0') { "1" } else { "0" });
    for uri in [
        format!("/executions/{second_id}?token={token}"),
        format!(
            "/executions/{}?token={flipped}",
            first["execution_id"].as_str().unwrap()
        ),
        format!("/executions/{}", first["execution_id"].as_str().unwrap()),
        format!("/executions?token={token}"),
        format!("/tasks/{id}?token={token}"),
    ] {
        let (status, _, _) = get(uri.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    // A capability never opens a write.
    let (status, _, _) = f
        .send(
            Request::delete(format!("/tasks/{id}?token={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn under_function_compute_the_status_url_includes_the_trigger_base_path() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let body = r#"{"ref":"refs/heads/main"}"#;
    let mut request = Request::post(format!("/hooks/{id}"));
    for (k, v) in github_headers(body, "d") {
        request = request.header(k, v);
    }
    let mut request = request.body(Body::from(body)).unwrap();
    let ctx = crate::runtime::Context {
        control_path: crate::runtime::ControlPath::HttpInvoke,
        request_id: "req-1".into(),
        function_name: Some("create-image".into()),
        function_handler: None,
        service_name: Some("reimage".into()),
        region: None,
        account_id: None,
        qualifier: None,
        version_id: None,
        memory_mb: None,
        timeout_secs: None,
        base_path: Some("/2016-08-15/proxy/reimage/create-image/".into()),
        credentials: None,
    };
    request.extensions_mut().insert(ctx);
    let (status, headers, answer) = f.send(request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let url = answer["status_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "/2016-08-15/proxy/reimage/create-image/executions/{}?token=",
            answer["execution_id"].as_str().unwrap()
        )),
        "{url}"
    );
    assert_eq!(headers["location"], url);
}

#[tokio::test]
async fn a_rotated_secret_keeps_the_old_one_valid_for_the_overlap_only() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let new_secret = "the-rotated-secret-9876543210";
    let (status, view) = f
        .call(
            "PATCH",
            &format!("/tasks/{id}"),
            Some(json!({"webhook_secret": new_secret, "previous_secret_valid_for_seconds": 3600})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["change"], "webhook_secret_rotated");
    assert_eq!(
        view["previous_webhook_secret_valid_until"],
        "2024-05-01T13:00:00Z"
    );
    assert!(!view.to_string().contains(new_secret));
    let signed_by = |secret: &str, body: &str| {
        vec![(
            "x-hub-signature-256",
            webhook::github_signature(&WebhookSecret::new(secret), body.as_bytes()),
        )]
    };
    let (status, _) = f
        .hook(&id, &signed_by(SECRET, "{\"n\":1}"), "{\"n\":1}")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = f
        .hook(&id, &signed_by(new_secret, "{\"n\":2}"), "{\"n\":2}")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // An hour later only the new secret is accepted.
    f.clock.advance(std::time::Duration::from_secs(3600));
    let (status, _) = f
        .hook(&id, &signed_by(SECRET, "{\"n\":3}"), "{\"n\":3}")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = f
        .hook(&id, &signed_by(new_secret, "{\"n\":4}"), "{\"n\":4}")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, view) = f.call("GET", &format!("/tasks/{id}"), None).await;
    assert!(
        view.get("previous_webhook_secret_valid_until").is_none(),
        "{view}"
    );
    // Bad rotations name their field.
    for (patch, field) in [
        (json!({"webhook_secret": "short"}), "webhook_secret"),
        (
            json!({"webhook_secret": new_secret, "previous_secret_valid_for_seconds": -1}),
            "previous_secret_valid_for_seconds",
        ),
        (
            json!({"webhook_secret": new_secret, "previous_secret_valid_for_seconds": 700000}),
            "previous_secret_valid_for_seconds",
        ),
        (
            json!({"previous_secret_valid_for_seconds": 60}),
            "previous_secret_valid_for_seconds",
        ),
        (json!({}), "enabled"),
    ] {
        let (status, answer) = f
            .call("PATCH", &format!("/tasks/{id}"), Some(patch.clone()))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{patch}: {answer}"
        );
        assert_eq!(answer["field"], field, "{patch}");
    }
}

#[tokio::test]
async fn the_webhook_secret_is_stored_sealed_and_still_verifies_webhooks() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let (status, _) = f
        .call(
            "PATCH",
            &format!("/tasks/{id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = f
        .call(
            "PATCH",
            &format!("/tasks/{id}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let keys = f.store.list(&format!("tasks/{id}/")).await.unwrap();
    assert_eq!(keys.len(), 3);
    for key in &keys {
        let raw = f.store.get(key).await.unwrap().unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(!text.contains(SECRET), "{key}: {text}");
        assert!(text.contains("sealed_with"), "{key}: {text}");
    }
    // Another process over the same records (nothing cached) opens the secret to verify.
    let other = fixture_on(f.store.clone(), Auth::Bearer(ApiToken::new(TOKEN)), "");
    let body = r#"{"ref":"refs/heads/main"}"#;
    let t = other.clock.now().timestamp();
    let signed = vec![(
        "x-reimage-signature",
        webhook::reimage_signature(&WebhookSecret::new(SECRET), t, body.as_bytes()),
    )];
    let (status, started) = other.hook(&id, &signed, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let forged = vec![(
        "x-reimage-signature",
        webhook::reimage_signature(
            &WebhookSecret::new("not-the-secret-at-all"),
            t,
            body.as_bytes(),
        ),
    )];
    let (status, _) = other.hook(&id, &forged, body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_sealed_form_cannot_be_submitted_as_a_secret() {
    let f = fixture();
    let mut task = periodic_task();
    task["webhook_secret"] =
        json!({"sealed_with": "local", "key": "0011223344556677", "ciphertext": "AAAA"});
    let (status, body) = f.call("POST", "/tasks", Some(task)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "webhook_secret");
}

#[tokio::test]
async fn webhook_without_a_valid_signature_is_401_and_touches_nothing() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let before = f.store.list("").await.unwrap();
    let body = r#"{"ref":"refs/heads/main"}"#;
    let forged = vec![
        (
            "x-hub-signature-256",
            webhook::github_signature(
                &WebhookSecret::new("not the secret at all"),
                body.as_bytes(),
            ),
        ),
        ("x-github-delivery", "d-1".to_owned()),
    ];
    let t = f.clock.now().timestamp();
    let stale = vec![(
        "x-reimage-signature",
        webhook::reimage_signature(&WebhookSecret::new(SECRET), t - 301, body.as_bytes()),
    )];
    let tampered = github_headers(body, "d-2");
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![], body),
        (forged, body),
        (stale, body),
        (tampered, r#"{"ref":"refs/heads/evil"}"#),
        (vec![("x-gitlab-token", "wrong".to_owned())], body),
    ];
    for (headers, sent) in cases {
        let (status, answer) = f.hook(&id, &headers, sent).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}: {answer}");
        assert_eq!(answer["code"], "InvalidSignature");
        assert!(!answer.to_string().contains(SECRET));
    }
    assert_eq!(f.store.list("").await.unwrap(), before);
}

#[tokio::test]
async fn manual_update_maps_outcomes_to_statuses() {
    let f = fixture();
    let put = |cfg: &str, image: &str| {
        (
            format!("/scaling-configurations/{cfg}/image"),
            json!({"image_id": image}),
        )
    };
    let cases = [
        (put("asc-one", "m-new1"), StatusCode::OK, None),
        (
            put("asc-missing", "m-new1"),
            StatusCode::NOT_FOUND,
            Some("ScalingConfigurationNotFound"),
        ),
        (
            put("asc-one", "m-missing"),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("ImageNotFound"),
        ),
        (
            put("asc-one", "m-creating"),
            StatusCode::CONFLICT,
            Some("ImageNotAvailable"),
        ),
        (
            put("asc-one", "ubuntu"),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("InvalidRequest"),
        ),
    ];
    for ((uri, body), status, code) in cases {
        let (got, answer) = f.call("PUT", &uri, Some(body)).await;
        assert_eq!(got, status, "{uri}: {answer}");
        assert_eq!(answer["code"].as_str(), code, "{uri}: {answer}");
    }
    let (_, answer) = f
        .call(
            "PUT",
            "/scaling-configurations/asc-one/image",
            Some(json!({"image_id": "m-new1"})),
        )
        .await;
    assert_eq!(
        answer,
        json!({"scaling_configuration_id": "asc-one", "previous_image_id": "m-old", "image_id": "m-new1"})
    );
}

#[tokio::test]
async fn the_api_over_real_http() {
    let f = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, f.router.clone())
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let created: Value = client
        .post(format!("{base}/tasks"))
        .bearer_auth(TOKEN)
        .json(&periodic_task())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["task_id"].as_str().unwrap();
    let body = r#"{"after":"abc"}"#;
    let response = client
        .post(format!("{base}/hooks/{id}"))
        .header(
            "x-hub-signature-256",
            webhook::github_signature(&WebhookSecret::new(SECRET), body.as_bytes()),
        )
        .header("x-github-delivery", "over-http-1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let execution: Value = client
        .get(format!("{base}{location}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(execution["status"], "pending");
    let unauthorized = client.get(format!("{base}/tasks")).send().await.unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn status_urls_start_with_the_base_path() {
    let f = fixture_at(
        Auth::Bearer(ApiToken::new(TOKEN)),
        "/2016-08-15/proxy/reimage/create-image/",
    );
    let id = f.create(periodic_task()).await;
    let (status, run) = f.call("POST", &format!("/tasks/{id}/runs"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        run["status_url"],
        format!(
            "/2016-08-15/proxy/reimage/create-image/executions/{}",
            run["execution_id"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn task_views_read_back_from_the_json_the_api_sends() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let (_, shown) = f.call("GET", &format!("/tasks/{id}"), None).await;
    let view: TaskView = serde_json::from_value(shown.clone()).unwrap();
    assert_eq!(view.task_id, id);
    assert!(view.webhook);
    assert_eq!(serde_json::to_value(&view).unwrap(), shown);
}

#[tokio::test]
async fn a_reimage_signed_request_replayed_within_the_window_returns_the_first_run() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let body = r#"{"pipeline":"deploy"}"#;
    let t = f.clock.now().timestamp();
    let signed = vec![(
        "x-reimage-signature",
        webhook::reimage_signature(&WebhookSecret::new(SECRET), t, body.as_bytes()),
    )];
    let (status, first) = f.hook(&id, &signed, body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    f.clock.advance(std::time::Duration::from_secs(120));
    let (status, replay) = f.hook(&id, &signed, body).await;
    assert_eq!(
        (status, &replay["execution_id"]),
        (StatusCode::OK, &first["execution_id"])
    );
    // A new request (a new timestamp) is a new run.
    let fresh = vec![(
        "x-reimage-signature",
        webhook::reimage_signature(&WebhookSecret::new(SECRET), t + 120, body.as_bytes()),
    )];
    let (status, other) = f.hook(&id, &fresh, body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_ne!(other["execution_id"], first["execution_id"]);
}

#[tokio::test]
async fn a_replay_within_the_window_is_answered_from_memory() {
    /// A store whose reads and listings fail once `broken` is set.
    #[derive(Debug, Default)]
    struct Breakable {
        inner: MemoryStore,
        broken: std::sync::atomic::AtomicBool,
    }
    impl Breakable {
        fn check(&self) -> Result<(), StoreError> {
            if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
                Err(StoreError::Backend {
                    op: "get",
                    key: String::new(),
                    message: "the store is down".into(),
                    transient: true,
                })
            } else {
                Ok(())
            }
        }
    }
    impl crate::store::StateStore for Breakable {
        fn get<'a>(&'a self, key: &'a str) -> crate::store::StoreFuture<'a, Option<Vec<u8>>> {
            Box::pin(async move {
                self.check()?;
                self.inner.get(key).await
            })
        }
        fn create<'a>(&'a self, key: &'a str, body: &'a [u8]) -> crate::store::StoreFuture<'a, ()> {
            Box::pin(async move {
                self.check()?;
                self.inner.create(key, body).await
            })
        }
        fn list<'a>(&'a self, prefix: &'a str) -> crate::store::StoreFuture<'a, Vec<String>> {
            Box::pin(async move {
                self.check()?;
                self.inner.list(prefix).await
            })
        }
    }
    let store = Arc::new(Breakable::default());
    let shared: SharedStore = store.clone();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap());
    let shared_clock: SharedClock = Arc::new(clock.clone());
    let api = Arc::new(
        Api::new(
            shared.clone(),
            Arc::new(IndexedRuns::new(
                shared.clone(),
                shared_clock.clone(),
                RecordZero {
                    store: shared.clone(),
                    clock: shared_clock.clone(),
                },
            )),
            shared_clock,
            Arc::new(SequentialIds::new("id")),
            Auth::Bearer(ApiToken::new(TOKEN)),
        )
        .with_sealer(test_sealer()),
    );
    let f = Fixture {
        store: shared,
        clock: clock.clone(),
        router: api.router(),
    };
    let id = f.create(periodic_task()).await;
    let body = r#"{"pipeline":"deploy"}"#;
    let t = clock.now().timestamp();
    let signed = vec![(
        "x-reimage-signature",
        webhook::reimage_signature(&WebhookSecret::new(SECRET), t, body.as_bytes()),
    )];
    let (status, first) = f.hook(&id, &signed, body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    store
        .broken
        .store(true, std::sync::atomic::Ordering::SeqCst);
    // The replay, re-spelled, touches no store: it is answered with the first run.
    clock.advance(std::time::Duration::from_secs(30));
    let respelled = vec![("x-reimage-signature", signed[0].1.replace(',', ", "))];
    let (status, replay) = f.hook(&id, &respelled, body).await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(replay["execution_id"], first["execution_id"]);
    assert_eq!(replay["created"], false);
    // A new request needs the store, which is down.
    let fresh = vec![(
        "x-reimage-signature",
        webhook::reimage_signature(&WebhookSecret::new(SECRET), t + 30, body.as_bytes()),
    )];
    let (status, _) = f.hook(&id, &fresh, body).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn one_torn_task_or_execution_record_breaks_no_listing_and_is_named_when_asked_for() {
    let f = fixture();
    let id = f.create(periodic_task()).await;
    let (_, run) = f.call("POST", &format!("/tasks/{id}/runs"), None).await;
    let good_execution = run["execution_id"].as_str().unwrap().to_owned();
    // A truncated task record and a truncated execution record.
    f.store
        .create("tasks/task-torn/0000000000.json", br#"{"task_id":"task-to"#)
        .await
        .unwrap();
    let torn_execution = "exec-0123456789abcdef0123456789abcdef";
    let torn_key = format!("executions/{torn_execution}/000000.json");
    f.store
        .create(&torn_key, br#"{"execution_id":"#)
        .await
        .unwrap();

    let (status, tasks) = f.call("GET", "/tasks", None).await;
    assert_eq!(status, StatusCode::OK, "{tasks}");
    let ids: Vec<&str> = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let (status, listed) = f.call("GET", "/executions", None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["executions"][0]["execution_id"], good_execution);
    assert_eq!(listed["executions"].as_array().unwrap().len(), 1);

    let (status, body) = f.call("GET", "/tasks/task-torn", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["code"], "UnreadableRecord");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("tasks/task-torn/0000000000.json"),
        "{body}"
    );
    let (status, body) = f
        .call("GET", &format!("/executions/{torn_execution}"), None)
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["code"], "UnreadableRecord");
    assert!(
        body["message"].as_str().unwrap().contains(&torn_key),
        "{body}"
    );
}

#[tokio::test]
async fn a_manual_update_of_a_configuration_an_execution_holds_is_refused_naming_it() {
    use crate::model::State;
    use crate::steps::lease::{EntryKind, LeaseEntry, entry_key};

    let f = fixture();
    let now = f.clock.now();
    let holder = ExecutionId::parse("exec-holder").unwrap();
    let record = StepRecord::first(
        holder.clone(),
        UpdateRequest {
            allow_default_version_change: false,
            scaling_group_ids: Vec::new(),
            instance_id: "i-1".into(),
            image_name: None,
            configuration_ids: vec!["asc-one".into()],
            permission: PermissionSource::Account,
            task_id: None,
            rollout: None,
            allow_platform_change: false,
        },
        "image".into(),
        now,
    );
    f.store
        .create(&record.key(), &record.to_json())
        .await
        .unwrap();
    let entry = LeaseEntry {
        kind: EntryKind::Hold,
        execution_id: holder.clone(),
        configuration_ids: vec!["asc-one".into()],
        written_at: now,
    };
    f.store
        .create(
            &entry_key("asc-one", 0),
            &serde_json::to_vec(&entry).unwrap(),
        )
        .await
        .unwrap();
    let uri = |cfg: &str| format!("/scaling-configurations/{cfg}/image");
    let body = || Some(json!({"image_id": "m-new1"}));

    let (status, answer) = f.call("PUT", &uri("asc-one"), body()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["code"], "ConfigurationBusy");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("asc-one") && message.contains("exec-holder"),
        "{message}"
    );
    // Another configuration is free.
    assert_eq!(
        f.call("PUT", &uri("asc-two"), body()).await.0,
        StatusCode::OK
    );

    // Once the holder has ended, the configuration is free again.
    let ended = record.next(State::Succeeded, record.learned.clone(), now);
    f.store
        .create(&ended.key(), &ended.to_json())
        .await
        .unwrap();
    assert_eq!(
        f.call("PUT", &uri("asc-one"), body()).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_superseded_run_points_its_ci_job_at_the_run_that_carries_it() {
    use crate::model::State;

    let f = fixture();
    let id = f.create(periodic_task()).await;
    let (older_body, newer_body) = (r#"{"after":"aaa"}"#, r#"{"after":"bbb"}"#);
    let (_, older) = f
        .hook(&id, &github_headers(older_body, "d"), older_body)
        .await;
    let (_, newer) = f
        .hook(&id, &github_headers(newer_body, "d"), newer_body)
        .await;
    let older_id = ExecutionId::parse(older["execution_id"].as_str().unwrap()).unwrap();
    let newer_id = ExecutionId::parse(newer["execution_id"].as_str().unwrap()).unwrap();
    // The engine ends the older run superseded by the newer one.
    let key = older_id.record_key(0);
    let record0 = StepRecord::from_json(&key, &f.store.get(&key).await.unwrap().unwrap()).unwrap();
    let ended = record0.next(
        State::Superseded {
            carried_by: newer_id.clone(),
        },
        record0.learned.clone(),
        f.clock.now(),
    );
    f.store
        .create(&ended.key(), &ended.to_json())
        .await
        .unwrap();

    let get = |uri: String| f.send(Request::get(uri).body(Body::empty()).unwrap());
    let (status, _, view) = get(older["status_url"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "superseded");
    assert_eq!(view["state"]["carried_by"], newer_id.as_str());
    let carrier_url = view["carrier_status_url"].as_str().unwrap();
    assert_eq!(carrier_url, newer["status_url"].as_str().unwrap());
    let (status, _, carrier) = get(carrier_url.to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{carrier}");
    assert_eq!(carrier["execution_id"], newer_id.as_str());
    assert_eq!(carrier["status"], "pending");
    assert!(carrier.get("carrier_status_url").is_none());
}

/// Dry runs of a task's run, against the sim, through the clouds a real run gets.
mod dry_runs {
    use reimage_sim::Sim;

    use super::*;
    use crate::steps::AliyunClouds;

    const WEB_INSTANCE: &str = "i-bp1demoweb000000001";
    const WEB_ACTIVE: &str = "asc-bp1demoweb0000001";
    const WEB_INACTIVE: &str = "asc-bp1demoweb0000002";
    const ECI_CONFIG: &str = "asc-bp1demoeci0000001";
    const ROLE_ARN: &str = "acs:ram::1234567890123456:role/reimage-updater";

    async fn sim_fixture() -> (Fixture, Sim) {
        let sim = Sim::builder().start().await.expect("the sim starts");
        let client = crate::aliyun::Client::new(sim.client_config()).expect("a client");
        let clouds: Arc<dyn CloudProvider> = Arc::new(AliyunClouds::new(client));
        let f = fixture_configured(
            Arc::new(MemoryStore::new()),
            Auth::Bearer(ApiToken::new(TOKEN)),
            "",
            |api| api.with_dry_runs(clouds),
        );
        (f, sim)
    }

    /// A task that runs at a minute to come (so that creating it starts nothing), as the
    /// sim's RAM role.
    fn task(instance: &str, configs: &[&str]) -> Value {
        json!({
            "source_instance_id": instance,
            "scaling_configuration_ids": configs,
            "executed_at": {"kind": "scheduled", "at": "2024-06-01T00:10:00Z"},
            "permission": {"kind": "ram_role", "role_arn": ROLE_ARN},
        })
    }

    /// Every call the sim answered that may change something (RunInstances is the
    /// pre-flight's dry run: the number of instances is held to it apart).
    fn writes(sim: &Sim) -> Vec<String> {
        sim.admin()
            .calls()
            .total
            .into_keys()
            .filter(|a| {
                !(a.starts_with("Describe")
                    || ["AssumeRole", "GetCallerIdentity", "RunInstances"].contains(&a.as_str()))
            })
            .collect()
    }

    #[tokio::test]
    async fn a_dry_run_says_what_the_run_would_do_and_starts_nothing() {
        let (f, sim) = sim_fixture().await;
        let id = f
            .create(task(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE]))
            .await;
        let instances = sim.admin().state().instances.len();
        let before: Vec<String> = [WEB_ACTIVE, WEB_INACTIVE]
            .iter()
            .map(|c| sim.admin().scaling_configuration(c).unwrap().image_id)
            .collect();
        let (status, body) = f
            .call("POST", &format!("/tasks/{id}/runs?dry_run=true"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body:#}");
        assert_eq!(body["would_run"], true);
        assert_eq!(body["problems"], json!([]));
        assert_eq!(body["instance_id"], WEB_INSTANCE);
        assert_eq!(body["instance_status"], "Running");
        assert_eq!(body["system_disk_id"], "d-bp1demowebsys000001");
        let execution_id = body["execution_id"].as_str().unwrap();
        assert_eq!(
            body["image_name"],
            format!("UpdateImage_from_{WEB_INSTANCE}_on_{execution_id}")
        );
        assert_eq!(body["permission"]["role_arn"], ROLE_ARN);
        for (n, config) in [WEB_ACTIVE, WEB_INACTIVE].iter().enumerate() {
            let c = &body["configurations"][n];
            assert_eq!(c["configuration_id"], *config);
            assert_eq!(c["previous_image_id"], before[n].as_str());
            assert_eq!(c["image_id"], "(new image)");
        }
        let actions: Vec<&str> = body["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions.first(), Some(&"DescribeInstances"));
        assert!(actions.contains(&"CreateSnapshot"), "{actions:?}");
        assert_eq!(
            body["calls"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["action"] == "ModifyScalingConfiguration")
                .map(|c| c["count"].clone()),
            Some(json!(2))
        );
        // Through the task's role, as a run's calls are; and nothing else.
        assert!(sim.admin().calls_since_reset("AssumeRole") >= 1);
        assert_eq!(writes(&sim), Vec::<String>::new());
        assert_eq!(sim.admin().state().instances.len(), instances);
        assert!(sim.admin().state().snapshots.is_empty());
        // No execution, and no entry in the task's runs.
        for prefix in ["executions/", "started/", "task-started/", "task-runs/"] {
            assert_eq!(
                f.store.list(prefix).await.unwrap(),
                Vec::<String>::new(),
                "{prefix}"
            );
        }
        let (_, runs) = f.call("GET", &format!("/executions?task={id}"), None).await;
        assert_eq!(runs["executions"], json!([]));

        // dry_run=false is a run.
        let (status, run) = f
            .call("POST", &format!("/tasks/{id}/runs?dry_run=false"), None)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{run}");
        assert!(run["execution_id"].is_string());
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_refused_dry_run_is_422_naming_every_problem() {
        let (f, sim) = sim_fixture().await;
        // The web group's previous configuration launches a type its image no longer runs on.
        let previous = sim
            .admin()
            .scaling_configuration(WEB_INACTIVE)
            .unwrap()
            .image_id;
        sim.admin()
            .restrict_image_types(&previous, &["ecs.g7.large"])
            .unwrap();
        let id = f
            .create(task(
                "i-bp1nosuchinstance01",
                &[WEB_INACTIVE, "asc-bp1nosuchconfig01", ECI_CONFIG],
            ))
            .await;
        let (status, _) = f
            .call(
                "PATCH",
                &format!("/tasks/{id}"),
                Some(json!({"enabled": false})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = f
            .call("POST", &format!("/tasks/{id}/runs?dry_run=true"), None)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body:#}");
        assert_eq!(body["code"], "RunRefused");
        assert_eq!(body["would_run"], false);
        let problems: Vec<&str> = body["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert_eq!(
            problems[0],
            format!("task {id} is disabled; enable it first")
        );
        assert_eq!(problems[1], "instance i-bp1nosuchinstance01 does not exist");
        assert_eq!(
            problems[2],
            "scaling configuration asc-bp1nosuchconfig01 does not exist"
        );
        assert!(
            problems[3].starts_with(&format!(
                "scaling configuration {ECI_CONFIG} belongs to scaling group"
            )) && problems[3].contains("of type ECI"),
            "{}",
            problems[3]
        );
        assert!(
            problems[4].starts_with(&format!(
                "pre-flight: scaling configuration {WEB_INACTIVE}: "
            )) && problems[4].contains("does not run on ecs.g7.large"),
            "{}",
            problems[4]
        );
        assert_eq!(body["message"], problems.join("; "));
        assert_eq!(writes(&sim), Vec::<String>::new());
        assert!(f.store.list("executions/").await.unwrap().is_empty());
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_malformed_dry_run_is_a_400_naming_it() {
        let (f, sim) = sim_fixture().await;
        let id = f.create(task(WEB_INSTANCE, &[WEB_ACTIVE])).await;
        for query in [
            "dry_run=yes",
            "dry_run=",
            "dry_run=TRUE",
            "dry_run=true&dry_run=true",
        ] {
            let (status, body) = f
                .call("POST", &format!("/tasks/{id}/runs?{query}"), None)
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert_eq!(body["code"], "InvalidQuery", "{query}");
            assert_eq!(body["field"], "dry_run", "{query}");
            assert!(
                body["message"].as_str().unwrap().starts_with("dry_run"),
                "{query}: {body}"
            );
        }
        let (_, body) = f
            .call("POST", &format!("/tasks/{id}/runs?dry_run=maybe"), None)
            .await;
        assert_eq!(
            body["message"],
            "dry_run: \"maybe\" is neither true nor false"
        );
        assert!(f.store.list("executions/").await.unwrap().is_empty());
        assert!(
            sim.admin().calls().total.is_empty(),
            "the cloud was not asked"
        );
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn without_clouds_a_dry_run_is_unavailable() {
        let f = fixture();
        let id = f.create(periodic_task()).await;
        let (status, body) = f
            .call("POST", &format!("/tasks/{id}/runs?dry_run=true"), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("DryRunUnavailable"))
        );
    }
}

const NOTIFY_SLACK: &str =
    "https://hooks.slack.com/services/T0API0001/B0API0002/apislackcredential0123";
const NOTIFY_HTTPS: &str = "https://ci.example.com/hooks/reimage?token=apiquerytoken0123";
const NOTIFY_SECRET: &str = "api-notify-secret-0123456789";
/// What must never show: the Slack URL's credential, the HTTPS URL's token and its secret.
const NOTIFY_SECRETS: [&str; 4] = [
    "apislackcredential0123",
    "B0API0002",
    "apiquerytoken0123",
    NOTIFY_SECRET,
];

fn task_with_targets() -> Value {
    let mut task = periodic_task();
    task["notify"] = json!([
        {"kind": "slack", "webhook_url": NOTIFY_SLACK},
        {"kind": "https", "url": NOTIFY_HTTPS, "secret": NOTIFY_SECRET},
    ]);
    task
}

#[tokio::test]
async fn notify_targets_are_stored_sealed_and_shown_kind_and_redacted_url_only() {
    let f = fixture();
    let (status, created) = f.call("POST", "/tasks", Some(task_with_targets())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["task_id"].as_str().unwrap().to_owned();
    let shown_targets = json!([
        {"kind": "slack", "url": "https://hooks.slack.com/<redacted>"},
        {"kind": "https", "url": "https://ci.example.com/<redacted>"},
    ]);
    assert_eq!(created["notify"], shown_targets, "{created}");

    // At rest: sealed, each beside its kind and redacted URL; nothing in plaintext.
    let keys = f.store.list(&format!("tasks/{id}/")).await.unwrap();
    assert_eq!(keys.len(), 1);
    let raw = String::from_utf8(f.store.get(&keys[0]).await.unwrap().unwrap()).unwrap();
    for secret in NOTIFY_SECRETS {
        assert!(!raw.contains(secret), "{secret} in {raw}");
    }
    let record: TaskRecord = serde_json::from_str(&raw).unwrap();
    let kinds: Vec<&str> = record
        .spec
        .notify
        .iter()
        .map(|t| match t {
            crate::notify::StoredTarget::Sealed(sealed) => sealed.kind.as_str(),
            crate::notify::StoredTarget::Plain(_) => panic!("a target stored unsealed: {raw}"),
        })
        .collect();
    assert_eq!(kinds, ["slack", "https"]);
    // The same key opens them, as they were given.
    let opened = crate::store::tasks::TaskStore::new(f.store.clone())
        .with_sealer(test_sealer())
        .notify_targets(&record)
        .await
        .unwrap();
    let given: Vec<crate::notify::Target> =
        serde_json::from_value(task_with_targets()["notify"].clone()).unwrap();
    assert_eq!(opened, given);

    // Read back: kind and redacted URL, and nothing of the sealed form or the secrets.
    for uri in [format!("/tasks/{id}"), "/tasks".to_owned()] {
        let (status, body) = f.call("GET", &uri, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let view = if uri == "/tasks" {
            body["tasks"][0].clone()
        } else {
            body.clone()
        };
        assert_eq!(view["notify"], shown_targets, "{uri}: {body}");
        let text = body.to_string();
        for secret in NOTIFY_SECRETS.iter().chain(&["sealed", "ciphertext"]) {
            assert!(!text.contains(secret), "{uri}: {secret} in {text}");
        }
    }
}

#[tokio::test]
async fn a_sealed_form_cannot_be_submitted_as_a_notify_target() {
    let f = fixture();
    let id = f.create(task_with_targets()).await;
    // The sealed form exactly as the store keeps it, copied into a new task.
    let raw = f
        .store
        .get(&format!("tasks/{id}/0000000000.json"))
        .await
        .unwrap()
        .unwrap();
    let stored: Value = serde_json::from_slice(&raw).unwrap();
    let sealed = stored["spec"]["notify"][0].clone();
    assert!(sealed.get("sealed").is_some(), "{stored}");
    let mut task = periodic_task();
    task["notify"] = json!([sealed]);
    let (status, body) = f.call("POST", "/tasks", Some(task)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "InvalidTask", "{body}");
    assert_eq!(body["field"], "notify", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("notify"),
        "{body}"
    );
    assert_eq!(
        f.store.list("tasks/").await.unwrap().len(),
        1,
        "only the first task"
    );

    // And a target that does not hold is named by its place in the list.
    let mut task = periodic_task();
    task["notify"] = json!([
        {"kind": "slack", "webhook_url": NOTIFY_SLACK},
        {"kind": "slack", "webhook_url": "https://hooks.example.com/services/T0/B0/x"},
    ]);
    let (status, body) = f.call("POST", "/tasks", Some(task)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "notify[1]", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("must be on hooks.slack.com"),
        "{body}"
    );
}
