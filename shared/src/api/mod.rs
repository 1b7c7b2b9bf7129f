//! The HTTP API: tasks, executions, the manual update, and CI webhooks.
//!
//! JSON in and out; every error is `{"code": "...", "message": "..."}` with a fitting status
//! (see [`ApiError`]). [`Api::router`] is an axum [`Router`], usable as a tower `Service`, so
//! the same API is served by `reimage serve` and by create-image's HTTP trigger under
//! Function Compute.
//!
//! | method and path | what it does |
//! |---|---|
//! | `POST /tasks` | create a task ([`TaskSpec`]); a task executed now also starts its run |
//! | `GET /tasks` | list live tasks |
//! | `GET /tasks/{id}` | one task |
//! | `PATCH /tasks/{id}` | `{"enabled": false}` / `{"enabled": true}` |
//! | `DELETE /tasks/{id}` | delete (a tombstone record) |
//! | `POST /tasks/{id}/runs` | run now; returns the execution id |
//! | `GET /executions?task=<id>&limit=<n>` | executions, newest first |
//! | `GET /executions/{id}` | one execution's current record |
//! | `PUT /scaling-configurations/{id}/image` | `{"image_id": "m-…"}`: the manual update |
//! | `POST /hooks/{task-id}` | CI webhook (see [`webhook`]) |
//!
//! Everything but the webhook is protected by a bearer token ([`Auth::Bearer`]) in
//! `reimage serve`; under Function Compute the HTTP trigger's function authentication does
//! that job and the token check is off ([`Auth::Off`]). The webhook authenticates each
//! request by its signature instead. Bodies over 64 KiB are refused with 413.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::clock::SharedClock;
use crate::ids::SharedIds;
use crate::model::PermissionSource;
use crate::model::execution::{EXECUTIONS_PREFIX, ExecutionId, StepRecord, parse_record_key};
use crate::model::task::{
    TaskChange, TaskRecord, TaskSpec, TaskStore, TaskStoreError, WebhookSecret, is_valid_task_id,
    new_task_id,
};
use crate::schedule::{
    RunEntry, RunRequest, Runs, Schedule, Trigger, run_entry, slot_execution_id, task_runs,
};
use crate::store::SharedStore;

pub mod bench;
mod error;
mod manual;
pub mod webhook;

pub use error::ApiError;
pub use manual::{CloudImageSetter, ManualUpdate, set_configuration_image};

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How many webhook secrets are kept in memory (see [`Api`]).
const SECRET_CACHE_MAX: usize = 10_000;

/// The bearer token that protects task management in `reimage serve`.
#[derive(Clone)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// How task management requests are authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `Authorization: Bearer <token>`, compared in constant time.
    Bearer(ApiToken),
    /// No check here: Function Compute's function authentication guards the HTTP trigger.
    Off,
}

/// The outcome of a manual update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSet {
    /// The scaling configuration.
    pub scaling_configuration_id: String,
    /// Its image before.
    pub previous_image_id: String,
    /// Its image now.
    pub image_id: String,
}

/// Why a manual update was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManualUpdateError {
    /// No such scaling configuration.
    #[error("scaling configuration {0} not found")]
    ConfigurationNotFound(String),
    /// No such image: no public, custom or shared image with this id in the region.
    #[error(
        "image {0} does not exist (DescribeImages found no public, custom or shared image with \
         this id in the region)"
    )]
    ImageNotFound(String),
    /// The image exists but cannot be used yet (or any more).
    #[error(
        "image {image_id} is {status}, not Available: only an Available image can go into a \
         scaling configuration"
    )]
    ImageNotAvailable {
        /// The image.
        image_id: String,
        /// Its status.
        status: String,
    },
    /// The configuration belongs to a group that is not of type ECS (an ECI group's
    /// configuration has no image to set).
    #[error(
        "scaling configuration {configuration_id} belongs to {group_type} group \
         {scaling_group_id}: only the configurations of ECS groups hold an image"
    )]
    NotAnEcsGroup {
        /// The configuration.
        configuration_id: String,
        /// Its group.
        scaling_group_id: String,
        /// The group's type (`ECI`).
        group_type: String,
    },
    /// The cloud refused or failed.
    #[error("the cloud call failed: {0}")]
    Cloud(String),
}

impl From<ManualUpdateError> for ApiError {
    fn from(err: ManualUpdateError) -> Self {
        let (status, code) = match &err {
            ManualUpdateError::ConfigurationNotFound(_) => {
                (StatusCode::NOT_FOUND, "ScalingConfigurationNotFound")
            }
            ManualUpdateError::ImageNotFound(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "ImageNotFound")
            }
            ManualUpdateError::ImageNotAvailable { .. } => {
                (StatusCode::CONFLICT, "ImageNotAvailable")
            }
            ManualUpdateError::NotAnEcsGroup { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "NotAnEcsGroup")
            }
            ManualUpdateError::Cloud(_) => (StatusCode::BAD_GATEWAY, "CloudError"),
        };
        ApiError::new(status, code, err.to_string())
    }
}

/// A boxed future returned by [`ImageSetter::set_image`].
pub type ImageSetFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ImageSet, ManualUpdateError>> + Send + 'a>>;

/// Performs the manual update: checks that the image exists and is Available and that the
/// configuration exists in an ECS group, then puts the image into the configuration.
pub trait ImageSetter: Send + Sync + fmt::Debug + 'static {
    /// Puts `image_id` into `configuration_id` with `permission`'s credentials.
    fn set_image<'a>(
        &'a self,
        configuration_id: &'a str,
        image_id: &'a str,
        permission: &'a PermissionSource,
    ) -> ImageSetFuture<'a>;
}

/// A task as the API shows it: the definition without its webhook secret, and its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// The task's id.
    pub task_id: String,
    /// Whether the scheduler and the webhook start runs.
    pub enabled: bool,
    /// The current record's seq (0 = never edited).
    pub seq: u64,
    /// What the last edit did.
    pub change: TaskChange,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last edited.
    pub updated_at: DateTime<Utc>,
    /// The definition; `webhook_secret` is never shown.
    #[serde(flatten)]
    pub spec: TaskSpec,
    /// Whether the task has a webhook secret (and so takes `POST /hooks/<task-id>`).
    pub webhook: bool,
    /// Until when the secret a rotation replaced is still accepted, while it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_webhook_secret_valid_until: Option<DateTime<Utc>>,
    /// The next slot the scheduler will start, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_at: Option<DateTime<Utc>>,
}

impl TaskView {
    /// The view of `record` at time `now`.
    pub fn new(record: &TaskRecord, now: DateTime<Utc>) -> Self {
        let mut spec = record.spec.clone();
        let webhook = spec.webhook_secret.take().is_some();
        let next_run_at = if record.enabled {
            Schedule::compile(&spec.executed_at)
                .ok()
                .and_then(|s| s.next_after(now.max(record.created_at)))
        } else {
            None
        };
        Self {
            task_id: record.task_id.clone(),
            enabled: record.enabled,
            seq: record.seq,
            change: record.change,
            created_at: record.created_at,
            updated_at: record.recorded_at,
            spec,
            webhook,
            previous_webhook_secret_valid_until: record
                .previous_webhook_secret
                .as_ref()
                .map(|p| p.valid_until)
                .filter(|until| now < *until),
            next_run_at,
        }
    }
}

/// The answer to a request that starts a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAccepted {
    /// The execution.
    pub execution_id: ExecutionId,
    /// Its task.
    pub task_id: String,
    /// False if this request named a run that had been started already (a redelivery).
    pub created: bool,
    /// Where to poll the execution's status.
    pub status_url: String,
}

/// An execution as the API shows it: its current record, its status, and its trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionView {
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// The current record.
    #[serde(flatten)]
    pub record: StepRecord,
    /// What started it, if it belongs to a task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
}

/// The HTTP API's state.
pub struct Api {
    store: SharedStore,
    tasks: TaskStore,
    runs: Arc<dyn Runs>,
    images: Option<Arc<dyn ImageSetter>>,
    clock: SharedClock,
    ids: SharedIds,
    auth: Auth,
    base_path: String,
    /// Webhook secrets by task id. A task's secret never changes (tasks are not edited, only
    /// enabled, disabled and deleted), so a cached secret is never stale; it lets a forged
    /// webhook be refused without reading the store.
    secrets: Mutex<HashMap<String, WebhookSecret>>,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("store", &self.store)
            .field("runs", &self.runs)
            .field("images", &self.images)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// An API over the tasks and executions in `store`, starting runs with `runs`.
    pub fn new(
        store: SharedStore,
        runs: Arc<dyn Runs>,
        clock: SharedClock,
        ids: SharedIds,
        auth: Auth,
    ) -> Self {
        Self {
            tasks: TaskStore::new(store.clone()),
            store,
            runs,
            images: None,
            base_path: String::new(),
            clock,
            ids,
            auth,
            secrets: Mutex::new(HashMap::new()),
        }
    }

    /// Where the API is mounted, e.g. `/2016-08-15/proxy/reimage/create-image` behind a
    /// Function Compute HTTP trigger: the start of every `status_url` and `Location`.
    pub fn with_base_path(mut self, base_path: impl Into<String>) -> Self {
        self.base_path = base_path.into().trim_end_matches('/').to_owned();
        self
    }

    /// Enables `PUT /scaling-configurations/{id}/image` through `images`.
    pub fn with_image_setter(mut self, images: Arc<dyn ImageSetter>) -> Self {
        self.images = Some(images);
        self
    }

    /// The routes, ready to serve.
    pub fn router(self: Arc<Self>) -> Router {
        let managed = Router::new()
            .route("/tasks", post(create_task).get(list_tasks))
            .route(
                "/tasks/{id}",
                get(get_task).patch(patch_task).delete(delete_task),
            )
            .route("/tasks/{id}/runs", post(run_task))
            .route("/executions", get(list_executions))
            .route("/executions/{id}", get(get_execution))
            .route("/scaling-configurations/{id}/image", put(set_image))
            .route_layer(middleware::from_fn_with_state(self.clone(), authorize));
        Router::new()
            .merge(managed)
            .route("/hooks/{id}", post(hook))
            .fallback(|| async { ApiError::not_found("no such route") })
            .method_not_allowed_fallback(|| async {
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    "this method is not allowed on this route",
                )
            })
            .with_state(self)
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Creates a task from a spec; a task executed now also starts its run.
    pub async fn create(
        &self,
        spec: TaskSpec,
    ) -> Result<(TaskRecord, Option<RunAccepted>), ApiError> {
        let now = self.now();
        spec.validate(now)?;
        let task_id = new_task_id(self.ids.as_ref());
        if !is_valid_task_id(&task_id) {
            return Err(ApiError::internal(format!(
                "generated an illegal task id {task_id:?}"
            )));
        }
        let record = self.tasks.create(&task_id, spec, now).await?;
        let run = if matches!(record.spec.executed_at, crate::model::task::ExecutedAt::Now) {
            // The same id the scheduler derives for a task executed now, so that a start lost
            // here is made up by the next tick, and never doubled.
            let execution_id = slot_execution_id(&record.task_id, record.created_at);
            Some(self.start(&record, execution_id, Trigger::Now).await?)
        } else {
            None
        };
        Ok((record, run))
    }

    async fn start(
        &self,
        task: &TaskRecord,
        execution_id: ExecutionId,
        trigger: Trigger,
    ) -> Result<RunAccepted, ApiError> {
        let started = self
            .runs
            .start(RunRequest {
                execution_id,
                task: task.clone(),
                trigger,
            })
            .await?;
        Ok(RunAccepted {
            status_url: format!("{}/executions/{}", self.base_path, started.execution_id),
            execution_id: started.execution_id,
            task_id: task.task_id.clone(),
            created: started.created,
        })
    }

    async fn hook_secret(&self, task_id: &str) -> Result<Option<WebhookSecret>, ApiError> {
        if let Some(secret) = self
            .secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(task_id)
        {
            return Ok(Some(secret.clone()));
        }
        let Some(record) = self.tasks.latest(task_id).await? else {
            return Err(ApiError::from(TaskStoreError::NotFound(task_id.to_owned())));
        };
        let secret = record.spec.webhook_secret;
        if let Some(secret) = &secret {
            let mut cache = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= SECRET_CACHE_MAX {
                cache.clear();
            }
            cache.insert(task_id.to_owned(), secret.clone());
        }
        Ok(secret)
    }

    async fn execution(&self, id: &ExecutionId) -> Result<Option<ExecutionView>, ApiError> {
        let keys = self.store.list(&id.prefix()).await?;
        let Some((_, key)) = keys
            .iter()
            .filter_map(|k| Some((parse_record_key(k)?.1, k)))
            .max_by_key(|(seq, _)| *seq)
        else {
            return Ok(None);
        };
        let Some(bytes) = self.store.get(key).await? else {
            return Ok(None);
        };
        let record =
            StepRecord::from_json(key, &bytes).map_err(|e| ApiError::internal(e.to_string()))?;
        let trigger = match &record.request.task_id {
            Some(task_id) if is_valid_task_id(task_id) => run_entry(&self.store, task_id, id)
                .await?
                .map(|entry: RunEntry| entry.trigger),
            _ => None,
        };
        Ok(Some(ExecutionView {
            status: record.state.status().to_owned(),
            record,
            trigger,
        }))
    }
}

/// The request body, at most [`BODY_LIMIT`] bytes (413 otherwise).
#[derive(Debug)]
pub struct LimitedBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for LimitedBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > BODY_LIMIT as u64) {
            return Err(ApiError::too_large(BODY_LIMIT));
        }
        axum::body::to_bytes(req.into_body(), BODY_LIMIT)
            .await
            .map(LimitedBody)
            .map_err(|_| ApiError::too_large(BODY_LIMIT))
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::from_json(&e))
}

async fn authorize(
    State(api): State<Arc<Api>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Auth::Bearer(ApiToken(token)) = &api.auth {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                // The scheme is case-insensitive (RFC 9110).
                let (scheme, token) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then_some(token.trim())
            })
            .ok_or_else(|| {
                ApiError::unauthorized("send Authorization: Bearer <REIMAGE_API_TOKEN>")
            })?;
        if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            return Err(ApiError::unauthorized("the bearer token is not valid"));
        }
    }
    Ok(next.run(request).await)
}

fn task_id_from_path(id: &str) -> Result<&str, ApiError> {
    if is_valid_task_id(id) {
        Ok(id)
    } else {
        Err(ApiError::from(TaskStoreError::NotFound(id.to_owned())))
    }
}

#[derive(Serialize)]
struct CreatedTask {
    #[serde(flatten)]
    task: TaskView,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<RunAccepted>,
}

async fn create_task(
    State(api): State<Arc<Api>>,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let spec: TaskSpec = parse_json(&body)?;
    let (record, run) = api.create(spec).await?;
    let view = TaskView::new(&record, api.now());
    let location = format!("/tasks/{}", record.task_id);
    let mut response = (StatusCode::CREATED, Json(CreatedTask { task: view, run })).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

#[derive(Serialize)]
struct TaskList {
    tasks: Vec<TaskView>,
}

async fn list_tasks(State(api): State<Arc<Api>>) -> Result<Json<TaskList>, ApiError> {
    let now = api.now();
    let tasks = api.tasks.list().await?;
    Ok(Json(TaskList {
        tasks: tasks.iter().map(|t| TaskView::new(t, now)).collect(),
    }))
}

async fn get_task(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let record = api.tasks.get(task_id_from_path(&id)?).await?;
    Ok(Json(TaskView::new(&record, api.now())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskPatch {
    enabled: bool,
}

async fn patch_task(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    LimitedBody(body): LimitedBody,
) -> Result<Json<TaskView>, ApiError> {
    let id = task_id_from_path(&id)?;
    let patch: TaskPatch = parse_json(&body)?;
    let change = if patch.enabled {
        TaskChange::Enabled
    } else {
        TaskChange::Disabled
    };
    let now = api.now();
    let record = api.tasks.change(id, change, now).await?;
    Ok(Json(TaskView::new(&record, now)))
}

async fn delete_task(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = task_id_from_path(&id)?;
    api.tasks.change(id, TaskChange::Deleted, api.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn accepted(run: RunAccepted) -> Response {
    let status = if run.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let location = HeaderValue::from_str(&run.status_url).ok();
    let mut response = (status, Json(run)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn disabled(task_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "TaskDisabled",
        format!("task {task_id} is disabled; enable it first"),
    )
}

async fn run_task(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = api.tasks.get(task_id_from_path(&id)?).await?;
    if !record.enabled {
        return Err(disabled(&record.task_id));
    }
    let execution_id = ExecutionId::random(api.ids.as_ref());
    Ok(accepted(
        api.start(&record, execution_id, Trigger::Manual).await?,
    ))
}

async fn hook(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    // A request without any signature is refused before anything is read.
    if webhook::verify(&headers, &body, None, api.now()) == Err(webhook::WebhookError::Missing) {
        return Err(webhook::WebhookError::Missing.into());
    }
    let id = task_id_from_path(&id)?;
    let secret = api.hook_secret(id).await?;
    let source = webhook::verify(&headers, &body, secret.as_ref(), api.now())?;
    let record = api.tasks.get(id).await?;
    if !record.enabled {
        return Err(disabled(id));
    }
    let delivery_id = webhook::delivery_id(&headers);
    // Without a delivery id, a request signed with X-Reimage-Signature is still one of a
    // kind: its timestamp and MAC name it, so the same request replayed within the window
    // returns the first run instead of starting another.
    let signed_request = match source {
        webhook::HookSource::Reimage => headers
            .get(webhook::REIMAGE_SIGNATURE)
            .and_then(|v| v.to_str().ok())
            .map(|v| format!("signature:{}", v.trim())),
        _ => None,
    };
    let execution_id = match delivery_id.as_ref().or(signed_request.as_ref()) {
        Some(delivery) => ExecutionId::derived(&format!("webhook:{id}:{delivery}")),
        None => ExecutionId::random(api.ids.as_ref()),
    };
    let trigger = Trigger::Webhook {
        source: source.as_str().to_owned(),
        delivery_id,
    };
    Ok(accepted(api.start(&record, execution_id, trigger).await?))
}

#[derive(Deserialize)]
struct ExecutionQuery {
    task: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct ExecutionList {
    executions: Vec<ExecutionView>,
}

/// The default and the largest `limit` of `GET /executions`.
const LIST_LIMIT: (usize, usize) = (50, 1000);

async fn list_executions(
    State(api): State<Arc<Api>>,
    Query(query): Query<ExecutionQuery>,
) -> Result<Json<ExecutionList>, ApiError> {
    let limit = query.limit.unwrap_or(LIST_LIMIT.0).clamp(1, LIST_LIMIT.1);
    let ids: Vec<ExecutionId> = match &query.task {
        Some(task) => {
            let task = task_id_from_path(task)?;
            api.tasks.get(task).await?;
            task_runs(&api.store, task)
                .await?
                .into_iter()
                .map(|entry| entry.execution_id)
                .collect()
        }
        None => {
            let mut ids: Vec<ExecutionId> = api
                .store
                .list(EXECUTIONS_PREFIX)
                .await?
                .iter()
                .filter_map(|k| parse_record_key(k).map(|(id, _)| id))
                .collect();
            ids.dedup();
            ids
        }
    };
    let mut executions = Vec::new();
    for id in &ids {
        if let Some(view) = api.execution(id).await? {
            executions.push(view);
        }
    }
    executions.sort_by(|a, b| {
        (b.record.started_at, &b.record.execution_id)
            .cmp(&(a.record.started_at, &a.record.execution_id))
    });
    executions.truncate(limit);
    Ok(Json(ExecutionList { executions }))
}

async fn get_execution(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
) -> Result<Json<ExecutionView>, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "ExecutionNotFound",
            format!("execution {id} not found"),
        )
    };
    let execution_id = ExecutionId::parse(&id).map_err(|_| not_found())?;
    api.execution(&execution_id)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetImage {
    image_id: String,
    #[serde(default)]
    permission: Option<PermissionSource>,
}

async fn set_image(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    LimitedBody(body): LimitedBody,
) -> Result<Json<ImageSet>, ApiError> {
    let request: SetImage = parse_json(&body)?;
    let field_error = |field: &str, message: String| ApiError {
        field: Some(field.to_owned()),
        ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "InvalidRequest", message)
    };
    if !is_resource_id(&id, "asc-") {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ScalingConfigurationNotFound",
            format!("{id:?} is not a scaling configuration id"),
        ));
    }
    if !is_resource_id(&request.image_id, "m-") {
        return Err(field_error(
            "image_id",
            format!("image_id: {:?} is not an image id (m-…)", request.image_id),
        ));
    }
    let permission = request.permission.unwrap_or(PermissionSource::Account);
    if let PermissionSource::RamRole { role_arn } = &permission {
        crate::model::task::validate_role_arn(role_arn)?;
    }
    let images = api.images.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ManualUpdateUnavailable",
            "this server has no cloud client for the manual update",
        )
    })?;
    Ok(Json(
        images
            .set_image(&id, &request.image_id, &permission)
            .await?,
    ))
}

fn is_resource_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests;
