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
//! | `PATCH /tasks/{id}` | `{"enabled": false}` / `{"enabled": true}`; `{"webhook_secret": "…", "previous_secret_valid_for_seconds": 86400}` rotates the secret |
//! | `DELETE /tasks/{id}` | delete (a tombstone record) |
//! | `POST /tasks/{id}/runs` | run now; returns the execution id. `?dry_run=true`: check everything the run would check and say what it would do, creating nothing (200 with `"would_run": true`, or 422 `RunRefused` with `"would_run": false` and every problem; see [`crate::steps::dry_run`]) |
//! | `GET /executions?task=<id>&limit=<n>&after=<next>` | executions, newest first, a page at a time: `next` is the `after` of the following page |
//! | `GET /executions/{id}` | one execution's current record |
//! | `PUT /scaling-configurations/{id}/image` | `{"image_id": "m-…"}`: the manual update |
//! | `POST /hooks/{task-id}` | CI webhook (see [`webhook`]) |
//! | `POST /rollouts`, `GET /rollouts`, `GET /rollouts/{id}`, `POST /rollouts/{id}/continue\|cancel\|rollback` | the rolling update (see [`rollouts`]) |
//! | `GET /images`, `POST /images/prune?apply=true` | the images reimage made, what uses each, and retention (see [`images`]) |
//!
//! Everything but the webhook is protected by a bearer token ([`Auth::Bearer`]), in
//! `reimage serve` and behind create-image's HTTP trigger alike (`REIMAGE_API_TOKEN`). The
//! webhook authenticates each request by its signature instead, and its answer's
//! `status_url` carries a read-only capability for that one execution (`?token=`, see
//! [`Api::status_token`]), so a CI job holding only the webhook secret can poll it. Bodies
//! over 64 KiB are refused with 413.
//!
//! A webhook is answered:
//!
//! | status | code | when |
//! |---|---|---|
//! | 202 / 200 | | a run was started / the run this signed request names exists already |
//! | 401 | `InvalidSignature` | no, a malformed, a stale or a wrong signature, an unknown task, a task without a webhook: one answer, the same work |
//! | 409 | `TaskDisabled` | the task is disabled |
//! | 410 | `TaskDeleted`, `TaskExpired` | the task was deleted; it expired, or its one run's minute has passed |
//! | 429 | `TooManyRuns` | the task's webhook rate limit is reached; `Retry-After` says when a run leaves the hour |

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::extract::{FromRequest, Path, Query, RawQuery, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::clock::SharedClock;
use crate::ids::SharedIds;
use crate::model::PermissionSource;
use crate::model::execution::{ExecutionId, StepRecord, parse_record_key};
use crate::model::task::{TaskChange, TaskRecord, TaskSpec, WebhookSecret};
use crate::model::validate::{self, is_resource_id};
use crate::schedule::{
    RunEntry, RunRequest, Runs, Schedule, Trigger, run_entry, slot_execution_id,
};
use crate::steps::health::{self, TaskHealth};
use crate::steps::started;
use crate::steps::{CloudProvider, DryRunReport, dry_run};
use crate::store::tasks::{TaskStore, TaskStoreError, is_valid_task_id, new_task_id};
use crate::store::{SharedStore, Unreadable};

mod error;
pub mod images;
mod manual;
pub mod rollouts;
pub mod webhook;

pub use error::ApiError;
pub use manual::{
    CloudImageSetter, ManualUpdate, holder as configuration_holder, set_configuration_image,
    set_group_image as set_launch_template_group_image,
};

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How many task records the webhook keeps in memory (see [`Api`]).
const HOOK_CACHE_MAX: usize = 10_000;

/// How long the webhook trusts what it knows of the tasks: the list of task ids, and each
/// task's record. A task created, or a secret rotated, by another process is seen within it.
const HOOK_CACHE_TTL: chrono::Duration = chrono::Duration::seconds(60);

/// How many accepted `(t, MAC)` pairs of `X-Reimage-Signature` are kept.
const REPLAY_CACHE_MAX: usize = 100_000;

/// The window of a task's webhook rate limit.
const RATE_WINDOW: chrono::Duration = chrono::Duration::hours(1);

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
    /// A launch-template group that cannot take the image: not one, a version that does not
    /// exist, no room for a version, a default version the request may not move.
    #[error("{0}")]
    Group(String),
    /// An execution holds the configuration's lease: it is updating it now.
    #[error(
        "scaling configuration {configuration_id} is being updated by execution {holder}; set \
         its image once that execution has ended"
    )]
    Busy {
        /// The configuration.
        configuration_id: String,
        /// The execution that holds it.
        holder: ExecutionId,
    },
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
            ManualUpdateError::Busy { .. } => (StatusCode::CONFLICT, "ConfigurationBusy"),
            ManualUpdateError::Group(_) => (StatusCode::UNPROCESSABLE_ENTITY, "GroupRefused"),
        };
        ApiError::new(status, code, crate::report::chain(&err))
    }
}

/// A boxed future returned by [`ImageSetter::set_image`].
pub type ImageSetFuture<'a> = futures::future::BoxFuture<'a, Result<ImageSet, ManualUpdateError>>;

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

    /// Puts `image_id` into a new version of the launch template group `group_id` launches
    /// from, and points the group at it ([`manual::set_group_image`]).
    fn set_group_image<'a>(
        &'a self,
        group_id: &'a str,
        image_id: &'a str,
        allow_default_version_change: bool,
        permission: &'a PermissionSource,
    ) -> futures::future::BoxFuture<'a, Result<GroupImageSet, ManualUpdateError>> {
        let _ = (image_id, allow_default_version_change, permission);
        Box::pin(async move {
            Err(ManualUpdateError::Group(format!(
                "this server cannot update launch-template group {group_id}"
            )))
        })
    }
}

/// What the manual update of a launch-template group did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupImageSet {
    /// The scaling group.
    pub scaling_group_id: String,
    /// Its launch template.
    pub launch_template_id: String,
    /// The version the group names (a number, `Default` or `Latest`), as before.
    pub version: String,
    /// The version that was, and its image.
    pub previous_version: i64,
    /// Its image.
    pub previous_image_id: String,
    /// The new version, holding the image.
    pub new_version: i64,
    /// The image.
    pub image_id: String,
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
    /// Why the task disabled itself, while it stays disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Its recent runs (`GET /tasks/{id}` only: a listing of every task does not read them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<TaskHealth>,
    /// Its notification targets, as they may be shown: kind and redacted URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<TargetView>,
    /// The notices about its last run that have not reached their target (yet): retried, or
    /// given up (`GET /tasks/{id}` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undelivered: Vec<UndeliveredNotice>,
}

/// A notification target as a task's view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetView {
    /// `dingtalk`, `lark`, `slack` or `https`.
    pub kind: String,
    /// The URL, its credentials redacted.
    pub url: String,
}

/// A notice that has not reached its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndeliveredNotice {
    /// The target's kind.
    pub kind: String,
    /// The target's URL, redacted.
    pub url: String,
    /// `pending` (to be tried again), `sending` or `gave_up`.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl TaskView {
    /// The view of `record` at time `now`.
    pub fn new(record: &TaskRecord, now: DateTime<Utc>) -> Self {
        let mut spec = record.spec.clone();
        let webhook = spec.webhook_secret.take().is_some();
        let notify = std::mem::take(&mut spec.notify)
            .iter()
            .map(|target| TargetView {
                kind: target.kind().to_owned(),
                url: target.shown(),
            })
            .collect();
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
            disabled_reason: record.disabled_reason.clone(),
            health: None,
            notify,
            undelivered: Vec::new(),
        }
    }

    /// The view of `record` at `now` with its health, read from `store`.
    pub async fn with_health(
        record: &TaskRecord,
        now: DateTime<Utc>,
        store: &SharedStore,
    ) -> Result<Self, crate::steps::EngineError> {
        let health =
            health::task_health(store, &record.task_id, record.failures_count_from()).await?;
        let mut undelivered = Vec::new();
        if let Some(run) = &health.last_run {
            let subjects = [
                run.execution_id.to_string(),
                format!("{}.disabled", run.execution_id),
            ];
            for subject in &subjects {
                match crate::notify::delivery::of_subject(store, subject).await {
                    Ok(deliveries) => undelivered.extend(deliveries.into_iter().filter_map(|d| {
                        let status = match d.state {
                            crate::notify::DeliveryState::Sent { .. } => return None,
                            crate::notify::DeliveryState::Pending { .. } => "pending",
                            crate::notify::DeliveryState::Sending { .. } => "sending",
                            crate::notify::DeliveryState::GaveUp => "gave_up",
                        };
                        Some(UndeliveredNotice {
                            kind: d.kind,
                            url: d.shown,
                            status: status.into(),
                            attempts: d.attempts,
                            last_error: d.last_error,
                        })
                    })),
                    Err(e) => tracing::warn!(
                        task = %record.task_id, error = %crate::report::chain(&e),
                        "the notices of the task's last run could not be read"
                    ),
                }
            }
        }
        Ok(Self {
            health: Some(health),
            undelivered,
            ..Self::new(record, now)
        })
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
    /// `pending`, `succeeded`, `failed` or `superseded`.
    pub status: String,
    /// The current record.
    #[serde(flatten)]
    pub record: StepRecord,
    /// What started it, if it belongs to a task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// For a superseded execution, where to poll the execution that carries its request
    /// (with that execution's own read-only capability, as a webhook's `status_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_status_url: Option<String>,
}

/// The HTTP API's state.
pub struct Api {
    store: SharedStore,
    tasks: TaskStore,
    runs: Arc<dyn Runs>,
    images: Option<Arc<dyn ImageSetter>>,
    rollouts: Option<crate::rollout::Rollouts>,
    /// The clouds a task's dry run checks through (see [`Api::with_dry_runs`]).
    clouds: Option<Arc<dyn CloudProvider>>,
    /// The region and retention defaults of the `/images` routes.
    image_routes: Option<images::ImageRoutes>,
    clock: SharedClock,
    ids: SharedIds,
    auth: Auth,
    base_path: String,
    /// What the webhook knows of the tasks, so that a forged or unknown-task webhook is
    /// refused without reading the store (at most one listing per [`HOOK_CACHE_TTL`]).
    hooks: Mutex<HookCache>,
    /// The `X-Reimage-Signature` `(task, t, MAC)` triples accepted within the replay window,
    /// and the execution each named: a replay is answered from here.
    replays: Mutex<HashMap<ReplayKey, ExecutionId>>,
    /// The key of the `status_url` capabilities (see [`Api::status_token`]).
    status_key: Option<[u8; 32]>,
    /// The last record's seq of finished executions read (see [`Api::known_final`]).
    finished: Mutex<HashMap<ExecutionId, u64>>,
}

/// How many finished executions the API remembers (about 100 bytes each).
const FINISHED_REMEMBERED: usize = 100_000;

/// A task id and an accepted `X-Reimage-Signature` `(t, MAC)` pair.
type ReplayKey = (String, i64, [u8; 32]);

/// The webhook's view of the tasks.
#[derive(Default)]
struct HookCache {
    /// Every task id in the store, as of `listed_at`.
    ids: HashSet<String>,
    /// When `ids` was listed.
    listed_at: Option<DateTime<Utc>>,
    /// Task records (tombstones included) and when each was read.
    records: HashMap<String, (Arc<TaskRecord>, DateTime<Utc>)>,
}

impl HookCache {
    fn remember(&mut self, record: &TaskRecord, now: DateTime<Utc>) {
        if self.records.len() >= HOOK_CACHE_MAX {
            self.records.retain(|_, (_, at)| now - *at < HOOK_CACHE_TTL);
            if self.records.len() >= HOOK_CACHE_MAX {
                self.records.clear();
            }
        }
        self.ids.insert(record.task_id.clone());
        self.records
            .insert(record.task_id.clone(), (Arc::new(record.clone()), now));
    }
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
            rollouts: None,
            clouds: None,
            image_routes: None,
            base_path: String::new(),
            clock,
            ids,
            status_key: match &auth {
                Auth::Bearer(ApiToken(token)) => Some(webhook::hmac_key(
                    token.as_bytes(),
                    &[b"reimage status_url capability v1"],
                )),
                Auth::Off => None,
            },
            auth,
            hooks: Mutex::new(HookCache::default()),
            replays: Mutex::new(HashMap::new()),
            finished: Mutex::new(HashMap::new()),
        }
    }

    /// The read-only capability for one execution that a webhook's `status_url` carries:
    /// hex HMAC-SHA256 of the execution id under a key derived from the API token, so every
    /// process of a deployment agrees and nothing new has to be stored. `GET
    /// /executions/{id}?token=…` accepts it in place of the bearer token, for that execution
    /// only. `None` when the API has no token (nothing to stand in for). Changing the API
    /// token invalidates every capability given out.
    pub fn status_token(&self, execution_id: &ExecutionId) -> Option<String> {
        let key = self.status_key.as_ref()?;
        Some(hex::encode(webhook::hmac_key(
            key,
            &[b"execution:", execution_id.as_str().as_bytes()],
        )))
    }

    fn status_token_matches(&self, execution_id: &str, token: &str) -> bool {
        let Ok(id) = ExecutionId::parse(execution_id) else {
            return false;
        };
        match self.status_token(&id) {
            Some(expected) => bool::from(expected.as_bytes().ct_eq(token.as_bytes())),
            None => false,
        }
    }

    /// Where the API is mounted, e.g. `/2016-08-15/proxy/reimage/create-image` behind a
    /// Function Compute HTTP trigger: the start of every `status_url` and `Location`.
    pub fn with_base_path(mut self, base_path: impl Into<String>) -> Self {
        self.base_path = base_path.into().trim_end_matches('/').to_owned();
        self
    }

    /// Seals the webhook secrets of the tasks it stores with `sealer` (see
    /// [`crate::secrets`]); without one, a task with a webhook secret is refused.
    pub fn with_sealer(mut self, sealer: Option<crate::secrets::SharedSealer>) -> Self {
        self.tasks = self.tasks.with_sealer(sealer);
        self
    }

    /// Enables the `/rollouts` routes through `rollouts`.
    pub fn with_rollouts(mut self, rollouts: Option<crate::rollout::Rollouts>) -> Self {
        self.rollouts = rollouts;
        self
    }

    /// Enables `POST /tasks/{id}/runs?dry_run=true` through `clouds`, which give each task
    /// the cloud its runs' permission source asks for, as the engine's do.
    pub fn with_dry_runs(mut self, clouds: Arc<dyn CloudProvider>) -> Self {
        self.clouds = Some(clouds);
        self
    }

    /// Enables the `/images` routes (the images reimage made, and retention) over `routes`.
    pub fn with_images(mut self, routes: Option<images::ImageRoutes>) -> Self {
        self.image_routes = routes;
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
            .route("/scaling-groups/{id}/image", put(set_group_image))
            .route("/images", get(images::list))
            .route("/images/prune", post(images::prune))
            .route("/rollouts", post(rollouts::create).get(rollouts::list))
            .route("/rollouts/{id}", get(rollouts::get))
            .route("/rollouts/{id}/{action}", post(rollouts::act))
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
        self.hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remember(&record, now);
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

    /// The record a webhook for `task_id` is checked against, tombstones included; `None`
    /// for a task that does not exist. Answered from memory while [`HOOK_CACHE_TTL`] lasts:
    /// the store is listed at most once per TTL whatever ids are asked for, and a known task
    /// read at most once per TTL.
    async fn hook_task(&self, task_id: &str) -> Result<Option<Arc<TaskRecord>>, ApiError> {
        if !is_valid_task_id(task_id) {
            return Ok(None);
        }
        let now = self.now();
        let known = {
            let mut cache = self.hooks.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((record, at)) = cache.records.get(task_id) {
                if now - *at < HOOK_CACHE_TTL {
                    return Ok(Some(Arc::clone(record)));
                }
            }
            match cache.listed_at {
                Some(at) if now - at < HOOK_CACHE_TTL => Some(cache.ids.contains(task_id)),
                // This request lists; those that come meanwhile use the previous list.
                _ => {
                    cache.listed_at = Some(now);
                    None
                }
            }
        };
        let known = match known {
            Some(known) => known,
            None => {
                let keys = match self.store.list("tasks/").await {
                    Ok(keys) => keys,
                    Err(err) => {
                        // The next request lists again rather than trust an old list.
                        self.hooks
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .listed_at = None;
                        return Err(err.into());
                    }
                };
                let ids: HashSet<String> = keys
                    .iter()
                    .filter_map(|k| k.strip_prefix("tasks/")?.split_once('/'))
                    .map(|(id, _)| id.to_owned())
                    .collect();
                let known = ids.contains(task_id);
                self.hooks.lock().unwrap_or_else(|e| e.into_inner()).ids = ids;
                known
            }
        };
        if !known {
            return Ok(None);
        }
        let record = self.tasks.latest(task_id).await?;
        if let Some(record) = &record {
            self.hooks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remember(record, now);
        }
        Ok(record.map(Arc::new))
    }

    /// The first run of an `X-Reimage-Signature` request accepted before, if it is still in
    /// the replay cache.
    fn replayed(&self, task_id: &str, accepted: (i64, [u8; 32])) -> Option<ExecutionId> {
        self.replays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(task_id.to_owned(), accepted.0, accepted.1))
            .cloned()
    }

    fn remember_replay(&self, task_id: &str, accepted: (i64, [u8; 32]), id: &ExecutionId) {
        let now = self.now();
        let mut replays = self.replays.lock().unwrap_or_else(|e| e.into_inner());
        if replays.len() >= REPLAY_CACHE_MAX {
            // Only pairs still inside the window can be replayed; forgetting the others
            // costs nothing. Should the window itself hold more, the derived execution id
            // still names the first run.
            replays.retain(|(_, t, _), _| {
                webhook::ReimageSignature {
                    t: *t,
                    v1: Vec::new(),
                }
                .check_fresh(now)
                .is_ok()
            });
            if replays.len() >= REPLAY_CACHE_MAX {
                replays.clear();
            }
        }
        replays.insert((task_id.to_owned(), accepted.0, accepted.1), id.clone());
    }

    /// An execution's view, or `None` if there is no such execution; a latest record that
    /// does not read is [`ApiError::unreadable`], naming its key.
    async fn execution(&self, id: &ExecutionId) -> Result<Option<ExecutionView>, ApiError> {
        match self.read_execution(id).await? {
            Some(Ok(view)) => Ok(Some(view)),
            Some(Err(bad)) => Err(ApiError::unreadable(&bad.key, &bad.reason)),
            None => Ok(None),
        }
    }

    /// The execution an index entry names, unless the entry is one left by a start that did
    /// not happen (see [`started`]).
    async fn read_listed(
        &self,
        entry: &started::Entry,
    ) -> Result<Option<Result<ExecutionView, Unreadable>>, ApiError> {
        Ok(match self.read_execution(&entry.execution_id).await? {
            Some(Ok(view)) if !entry.is_of(&entry.execution_id, view.record.started_at) => None,
            read => read,
        })
    }

    /// The seq of `id`'s last record, if this process has read it: a finished execution
    /// writes no more records, so its latest record needs no listing.
    fn known_final(&self, id: &ExecutionId) -> Option<u64> {
        self.finished.lock().ok()?.get(id).copied()
    }

    fn remember_final(&self, id: &ExecutionId, seq: u64) {
        if let Ok(mut finished) = self.finished.lock() {
            if finished.len() >= FINISHED_REMEMBERED {
                finished.clear();
            }
            finished.insert(id.clone(), seq);
        }
    }

    /// [`Api::execution`], with an unreadable latest record returned rather than raised, for
    /// listings that skip it.
    async fn read_execution(
        &self,
        id: &ExecutionId,
    ) -> Result<Option<Result<ExecutionView, Unreadable>>, ApiError> {
        let key = match self.known_final(id) {
            Some(seq) => id.record_key(seq),
            None => {
                let keys = self.store.list(&id.prefix()).await?;
                let latest = keys
                    .into_iter()
                    .filter_map(|k| Some((parse_record_key(&k)?.1, k)))
                    .max_by_key(|(seq, _)| *seq);
                match latest {
                    Some((_, key)) => key,
                    None => return Ok(None),
                }
            }
        };
        let Some(bytes) = self.store.get(&key).await? else {
            return Ok(None);
        };
        let record = match StepRecord::from_json(&key, &bytes) {
            Ok(record) => record,
            Err(e) => {
                return Ok(Some(Err(Unreadable {
                    key: e.key,
                    reason: e.source.to_string(),
                })));
            }
        };
        if record.state.is_terminal() {
            self.remember_final(id, record.seq);
        }
        let trigger = match &record.request.task_id {
            Some(task_id) if is_valid_task_id(task_id) => run_entry(&self.store, task_id, id)
                .await?
                .map(|entry: RunEntry| entry.trigger),
            _ => None,
        };
        let carrier_status_url = match &record.state {
            crate::model::State::Superseded { carried_by } => {
                Some(self.status_url(carried_by, &self.base_path))
            }
            _ => None,
        };
        Ok(Some(Ok(ExecutionView {
            status: record.state.status().to_owned(),
            record,
            trigger,
            carrier_status_url,
        })))
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
        if capability_allows(&api, &request) {
            return Ok(next.run(request).await);
        }
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

/// Whether `request` is `GET /executions/{id}?token=…` with the capability of that execution
/// (see [`Api::status_token`]). Nothing else is opened by a capability.
fn capability_allows(api: &Api, request: &Request) -> bool {
    if request.method() != http::Method::GET {
        return false;
    }
    let Some(id) = request.uri().path().strip_prefix("/executions/") else {
        return false;
    };
    if id.contains('/') {
        return false;
    }
    let Some(query) = request.uri().query() else {
        return false;
    };
    query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("token="))
        .any(|token| api.status_token_matches(id, token))
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
    TaskView::with_health(&record, api.now(), &api.store)
        .await
        .map(Json)
        .map_err(|e| ApiError::internal(crate::report::chain(&e)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskPatch {
    #[serde(default)]
    enabled: Option<bool>,
    /// A new webhook secret; the previous one stays valid for the overlap.
    #[serde(default)]
    webhook_secret: Option<WebhookSecret>,
    /// How long the previous secret stays valid, in seconds (default 24 h, at most 7 days;
    /// 0 ends it at once).
    #[serde(default)]
    previous_secret_valid_for_seconds: Option<i64>,
}

async fn patch_task(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    LimitedBody(body): LimitedBody,
) -> Result<Json<TaskView>, ApiError> {
    use crate::model::task::{DEFAULT_SECRET_OVERLAP, MAX_SECRET_OVERLAP};
    let id = task_id_from_path(&id)?;
    let patch: TaskPatch = parse_json(&body)?;
    let field_error = |field: &str, message: String| ApiError {
        field: Some(field.to_owned()),
        ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "InvalidRequest", message)
    };
    if patch.webhook_secret.is_none() && patch.previous_secret_valid_for_seconds.is_some() {
        return Err(field_error(
            "previous_secret_valid_for_seconds",
            "previous_secret_valid_for_seconds: only with a new webhook_secret".into(),
        ));
    }
    if patch.enabled.is_none() && patch.webhook_secret.is_none() {
        return Err(field_error(
            "enabled",
            "send {\"enabled\": true|false} and/or {\"webhook_secret\": \"…\"}".into(),
        ));
    }
    let overlap = match patch.previous_secret_valid_for_seconds {
        None => DEFAULT_SECRET_OVERLAP,
        Some(seconds) => chrono::Duration::try_seconds(seconds)
            .filter(|d| *d >= chrono::Duration::zero() && *d <= MAX_SECRET_OVERLAP)
            .ok_or_else(|| {
                field_error(
                    "previous_secret_valid_for_seconds",
                    format!(
                        "previous_secret_valid_for_seconds: {seconds} is not between 0 and {}",
                        MAX_SECRET_OVERLAP.num_seconds()
                    ),
                )
            })?,
    };
    let now = api.now();
    let mut record = None;
    if let Some(secret) = patch.webhook_secret {
        crate::model::task::validate_webhook_secret(&secret)?;
        record = Some(
            api.tasks
                .rotate_webhook_secret(id, secret, overlap, now)
                .await?,
        );
    }
    if let Some(enabled) = patch.enabled {
        let change = if enabled {
            TaskChange::Enabled
        } else {
            TaskChange::Disabled
        };
        record = Some(api.tasks.change(id, change, now).await?);
    }
    let record = record.ok_or_else(|| ApiError::internal("the patch changed nothing"))?;
    api.hooks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remember(&record, now);
    Ok(Json(TaskView::new(&record, now)))
}

async fn delete_task(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = task_id_from_path(&id)?;
    let now = api.now();
    let tombstone = api.tasks.change(id, TaskChange::Deleted, now).await?;
    api.hooks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remember(&tombstone, now);
    Ok(StatusCode::NO_CONTENT)
}

fn accepted_response(run: RunAccepted) -> Response {
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
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let dry = bool_query(query.as_deref(), "dry_run")?;
    let record = api.tasks.get(task_id_from_path(&id)?).await?;
    if dry {
        return api.dry_run(&record).await;
    }
    if !record.enabled {
        return Err(disabled(&record.task_id));
    }
    let execution_id = ExecutionId::random(api.ids.as_ref());
    Ok(accepted_response(
        api.start(&record, execution_id, Trigger::Manual).await?,
    ))
}

/// The boolean query parameter `name`: absent or `false` is false, `true` true; anything
/// else, or the parameter given twice, is 400 `InvalidQuery` naming it.
pub(crate) fn bool_query(query: Option<&str>, name: &'static str) -> Result<bool, ApiError> {
    let bad = |message: String| ApiError {
        field: Some(name.to_owned()),
        ..ApiError::new(StatusCode::BAD_REQUEST, "InvalidQuery", message)
    };
    let mut given = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == name {
            if given.is_some() {
                return Err(bad(format!("{name} is given more than once")));
            }
            given = Some(value.into_owned());
        }
    }
    match given.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(bad(format!("{name}: {other:?} is neither true nor false"))),
    }
}

impl Api {
    /// A dry run of a run of `task`: what [`dry_run::check`] says, with a disabled task's
    /// refusal among the problems. 200 when the run would go ahead; 422 `RunRefused`
    /// otherwise (as `POST /rollouts` answers a refused dry run), with the whole report.
    async fn dry_run(&self, task: &TaskRecord) -> Result<Response, ApiError> {
        let clouds = self.clouds.as_ref().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "DryRunUnavailable",
                "this server has no cloud client for a dry run",
            )
        })?;
        let request = crate::schedule::update_request(task);
        let execution_id = ExecutionId::random(self.ids.as_ref());
        let mut report: DryRunReport =
            dry_run::check(clouds.as_ref(), &request, execution_id, self.now()).await;
        if !task.enabled {
            report.problems.insert(0, disabled(&task.task_id).message);
            report.would_run = false;
        }
        if report.would_run {
            return Ok(Json(report).into_response());
        }
        let mut body = serde_json::to_value(&report)
            .map_err(|e| ApiError::internal(format!("the dry run does not serialize: {e}")))?;
        if let Some(fields) = body.as_object_mut() {
            fields.insert("code".into(), "RunRefused".into());
            fields.insert("message".into(), report.problems.join("; ").into());
        }
        Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response())
    }
}

async fn hook(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    fc: Option<Extension<crate::runtime::Context>>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let now = api.now();
    // Parsing and the replay window need no task: a request without a well-formed, fresh
    // signature is refused before anything is read.
    let presented = webhook::Presented::from_headers(&headers)?;
    if let webhook::Presented::Reimage(signature) = &presented {
        signature.check_fresh(now)?;
    }
    // An unknown task, a task without a secret and a wrong secret are the same 401, after
    // the same MAC work (see `webhook::Presented::authenticate`).
    let known = api.hook_task(&id).await?;
    // Opened from their sealed form (kept in memory once opened).
    let (current, previous) = match &known {
        Some(record) => (
            api.tasks.webhook_secret(record).await?,
            match record
                .previous_webhook_secret
                .as_ref()
                .filter(|p| now < p.valid_until)
            {
                Some(p) => {
                    api.tasks
                        .open_secret(&record.task_id, Some(&p.secret))
                        .await?
                }
                None => None,
            },
        ),
        None => (None, None),
    };
    // The secrets `TaskRecord::webhook_secrets` lists, without an allocation per request.
    let both: [&WebhookSecret; 2];
    let one: [&WebhookSecret; 1];
    let secrets: &[&WebhookSecret] = match (current.as_ref(), previous.as_ref()) {
        (Some(a), Some(b)) => {
            both = [a, b];
            &both
        }
        (Some(a), None) | (None, Some(a)) => {
            one = [a];
            &one
        }
        (None, None) => &[],
    };
    let verified = presented.authenticate(&body, secrets)?;
    let Some(known) = known else {
        return Err(webhook::WebhookError::Mismatch {
            header: webhook::REIMAGE_SIGNATURE,
        }
        .into());
    };
    let id = known.task_id.as_str();
    let base_path = fc
        .as_ref()
        .and_then(|Extension(ctx)| ctx.base_path.as_deref())
        .map_or(api.base_path.as_str(), |b| b.trim_end_matches('/'));
    if let Some(accepted) = verified.accepted {
        if let Some(execution_id) = api.replayed(id, accepted) {
            return Ok(accepted_response(api.hook_answer(
                id,
                execution_id,
                false,
                base_path,
            )));
        }
    }
    // Authenticated: the caller may learn the task's state, read fresh.
    let record = match api.tasks.latest(id).await? {
        Some(record) if !record.is_deleted() => record,
        _ => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "TaskDeleted",
                format!("task {id} was deleted; it takes no webhooks"),
            ));
        }
    };
    api.hooks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remember(&record, now);
    if !record.enabled {
        return Err(disabled(id));
    }
    if let Some(closed) = webhooks_close_at(&record) {
        if now >= closed {
            return Err(ApiError::new(
                StatusCode::GONE,
                "TaskExpired",
                format!(
                    "task {id} takes no more webhooks: its schedule ({}) ended at {}",
                    record.spec.executed_at,
                    closed.format("%Y-%m-%dT%H:%M:%SZ")
                ),
            ));
        }
    }
    // The run is named by what the signature covers, and nothing else.
    let execution_id = ExecutionId::derived(&format!("webhook:{id}:{}", verified.identity));
    let trigger = Trigger::Webhook {
        source: verified.source.as_str().to_owned(),
        delivery_id: webhook::delivery_id(&headers),
    };
    if run_entry(&api.store, id, &execution_id).await?.is_none() {
        if let Some(retry_after) = api.rate_limited(&record, now).await? {
            return Ok(too_many_runs(&record, retry_after));
        }
    }
    let started = api.start(&record, execution_id, trigger).await?;
    if let Some(accepted) = verified.accepted {
        api.remember_replay(id, accepted, &started.execution_id);
    }
    Ok(accepted_response(api.hook_answer(
        id,
        started.execution_id,
        started.created,
        base_path,
    )))
}

/// When a task stops taking webhooks: the end of its schedule, or the minute after its one
/// run (a task executed now: the minute after its creation). `None`: never.
fn webhooks_close_at(record: &TaskRecord) -> Option<DateTime<Utc>> {
    use crate::model::task::ExecutedAt;
    let minute = chrono::Duration::minutes(1);
    match &record.spec.executed_at {
        ExecutedAt::Now => Some(crate::schedule::truncate_to_minute(record.created_at) + minute),
        ExecutedAt::Scheduled { at } => Some(crate::schedule::truncate_to_minute(*at) + minute),
        other => Schedule::compile(other)
            .ok()?
            .expired_at()
            .map(|e| e + chrono::Duration::nanoseconds(1)),
    }
}

fn too_many_runs(record: &TaskRecord, retry_after: u64) -> Response {
    let limit = record.spec.webhook_runs_per_hour();
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRuns",
        format!(
            "task {} has started {limit} runs from webhooks in the last hour, its limit \
             (webhook_runs_per_hour); try again in {retry_after} s",
            record.task_id
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

impl Api {
    /// `Some(seconds until a run leaves the window)` when webhooks have started the task's
    /// limit of runs in the last hour. Counted from the task's runs of the last hour, newest
    /// first ([`started`] and the run index), so every process of a deployment counts the same
    /// runs, and the count costs what the last hour holds, not the task's history.
    async fn rate_limited(
        &self,
        record: &TaskRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, ApiError> {
        let limit = record.spec.webhook_runs_per_hour() as usize;
        let window_start = now - RATE_WINDOW;
        let mut recent: Vec<DateTime<Utc>> = Vec::new();
        let mut seen = HashSet::new();
        let mut after = None;
        'pages: loop {
            let page =
                started::page(&self.store, Some(&record.task_id), after.as_ref(), 100).await?;
            for entry in &page.entries {
                // Entries are newest first; one that started before the window ends the count
                // (a run is requested just before it starts).
                if entry.started_ms < window_start.timestamp_millis() {
                    break 'pages;
                }
                if !seen.insert(entry.execution_id.clone()) {
                    continue;
                }
                if let Some(run) =
                    run_entry(&self.store, &record.task_id, &entry.execution_id).await?
                {
                    if matches!(run.trigger, Trigger::Webhook { .. })
                        && run.requested_at > window_start
                    {
                        recent.push(run.requested_at);
                    }
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        recent.sort();
        if recent.len() < limit {
            return Ok(None);
        }
        // Oldest first: the run whose leaving brings the count under the limit.
        let leaves = recent[recent.len() - limit] + RATE_WINDOW;
        let wait = (leaves - now).num_milliseconds().max(0) as u64;
        Ok(Some(wait.div_ceil(1000).max(1)))
    }

    fn hook_answer(
        &self,
        task_id: &str,
        execution_id: ExecutionId,
        created: bool,
        base_path: &str,
    ) -> RunAccepted {
        RunAccepted {
            status_url: self.status_url(&execution_id, base_path),
            execution_id,
            task_id: task_id.to_owned(),
            created,
        }
    }

    /// Where to poll `execution_id` without the API token: its path under `base_path`, with
    /// its read-only capability when the API has a token to derive it from.
    fn status_url(&self, execution_id: &ExecutionId, base_path: &str) -> String {
        let mut status_url = format!("{base_path}/executions/{execution_id}");
        if let Some(token) = self.status_token(execution_id) {
            status_url.push_str("?token=");
            status_url.push_str(&token);
        }
        status_url
    }
}

#[derive(Deserialize)]
struct ExecutionQuery {
    task: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
}

#[derive(Serialize)]
struct ExecutionList {
    executions: Vec<ExecutionView>,
    /// The `after` of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// The default and the largest `limit` of `GET /executions`.
const LIST_LIMIT: (usize, usize) = (50, 1000);

/// `GET /executions`: a page of the [`started`] index, newest first, each entry read as
/// [`Api::execution`] does (a finished execution's record from memory in a warm process).
async fn list_executions(
    State(api): State<Arc<Api>>,
    Query(query): Query<ExecutionQuery>,
) -> Result<Json<ExecutionList>, ApiError> {
    let limit = query.limit.unwrap_or(LIST_LIMIT.0).clamp(1, LIST_LIMIT.1);
    let after = match query.after.as_deref() {
        Some(text) => Some(started::Cursor::parse(text).map_err(|e| ApiError {
            field: Some("after".to_owned()),
            ..ApiError::new(StatusCode::BAD_REQUEST, "InvalidCursor", e.to_string())
        })?),
        None => None,
    };
    let task = match &query.task {
        Some(task) => {
            let task = task_id_from_path(task)?;
            api.tasks.get(task).await?;
            Some(task)
        }
        None => None,
    };
    let page = started::page(&api.store, task, after.as_ref(), limit).await?;
    let read: Vec<_> = futures::stream::iter(page.entries)
        .map(|entry| {
            let api = Arc::clone(&api);
            async move { api.read_listed(&entry).await }
        })
        .buffered(crate::steps::PAGE_READS)
        .collect()
        .await;
    let mut executions = Vec::with_capacity(read.len());
    for view in read {
        match view? {
            Some(Ok(view)) => executions.push(view),
            Some(Err(bad)) => bad.warn_skipped("GET /executions"),
            None => {}
        }
    }
    Ok(Json(ExecutionList {
        executions,
        next: page.next.map(|c| c.to_string()),
    }))
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetGroupImage {
    image_id: String,
    #[serde(default)]
    allow_default_version_change: bool,
    #[serde(default)]
    permission: Option<PermissionSource>,
}

/// What both manual updates check before the cloud is called: `id` is a resource of the
/// route's kind (`prefix`, else 404 `not_found`), the image id is one, a RAM role is a role
/// ARN, no execution is updating `id` (409), and this server can reach the cloud. Answers the
/// setter and the permission.
async fn manual_update_checks<'a>(
    api: &'a Api,
    id: &str,
    (prefix, not_found, noun): (&str, &'static str, &str),
    image_id: &str,
    permission: Option<PermissionSource>,
) -> Result<(&'a Arc<dyn ImageSetter>, PermissionSource), ApiError> {
    if !is_resource_id(id, prefix) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            not_found,
            format!("{id:?} is not a {noun} id"),
        ));
    }
    if !is_resource_id(image_id, validate::IMAGE) {
        return Err(ApiError {
            field: Some("image_id".into()),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "InvalidRequest",
                format!("image_id: {image_id:?} is not an image id (m-…)"),
            )
        });
    }
    let permission = permission.unwrap_or(PermissionSource::Account);
    if let PermissionSource::RamRole { role_arn } = &permission {
        crate::model::task::validate_role_arn(role_arn)?;
    }
    if let Some(holder) = manual::holder(&api.store, id, api.clock.now())
        .await
        .map_err(|e| ApiError::internal(crate::report::chain(&e)))?
    {
        return Err(ManualUpdateError::Busy {
            configuration_id: id.to_owned(),
            holder,
        }
        .into());
    }
    let images = api.images.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ManualUpdateUnavailable",
            "this server has no cloud client for the manual update",
        )
    })?;
    Ok((images, permission))
}

/// `PUT /scaling-groups/{id}/image`: the manual update of a group that launches from a
/// launch template.
async fn set_group_image(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    LimitedBody(body): LimitedBody,
) -> Result<Json<GroupImageSet>, ApiError> {
    let request: SetGroupImage = parse_json(&body)?;
    let route = ("asg-", "ScalingGroupNotFound", "scaling group");
    let (images, permission) =
        manual_update_checks(&api, &id, route, &request.image_id, request.permission).await?;
    Ok(Json(
        images
            .set_group_image(
                &id,
                &request.image_id,
                request.allow_default_version_change,
                &permission,
            )
            .await?,
    ))
}

async fn set_image(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    LimitedBody(body): LimitedBody,
) -> Result<Json<ImageSet>, ApiError> {
    let request: SetImage = parse_json(&body)?;
    let route = (
        validate::CONFIGURATION,
        "ScalingConfigurationNotFound",
        "scaling configuration",
    );
    let (images, permission) =
        manual_update_checks(&api, &id, route, &request.image_id, request.permission).await?;
    Ok(Json(
        images
            .set_image(&id, &request.image_id, &permission)
            .await?,
    ))
}

#[cfg(test)]
mod tests;
