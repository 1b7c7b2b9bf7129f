//! reimage's four Function Compute functions: what each one does with the requests FC sends.
//!
//! | function | `/invoke` | `/http-invoke` |
//! |---|---|---|
//! | `create-image` | a step event for create-image, or the minute timer's event (scheduler tick, then the sweep) | reimage's HTTP API |
//! | `wait-image`, `swap-config`, `verify` | a step event for that step | refused |
//!
//! A step event is `{"execution_id", "step", "seq"}` (a [`StepEvent`]); the engine loads the
//! execution's latest record and runs the step only if that record waits for it, so a
//! duplicate or late event is acknowledged without effect. An event that is not JSON, or
//! names another function's step, is refused with a clear error; an event for an unknown
//! execution is acknowledged and logged (retrying it could not help).
//!
//! The timer event is FC's `{"triggerTime", "triggerName", "payload"}`; reimage's timer
//! carries the payload [`TIMER_PAYLOAD`]. A timer event with another payload is acknowledged
//! and logged, and does nothing.
//!
//! Each function is built once per instance by [`FunctionHost::from_env`]: the store named by
//! `REIMAGE_STORE`, cloud clients whose credentials are those of the request being served
//! ([`RequestCredentials`]), and an engine that dispatches the next step with an asynchronous
//! InvokeFunction ([`FcDispatcher`]).

use std::fmt;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;

use crate::aliyun::chain::{EnvProvider, ProviderChain};
use crate::aliyun::oss::OssClient;
use crate::aliyun::{Client, ClientConfig, Endpoints};
use crate::api::{Api, ApiToken, Auth};
use crate::clock::{SharedClock, SystemClock};
use crate::dispatch::fc::FcDispatcher;
use crate::ids::{RandomIds, SharedIds};
use crate::model::{Step, StepEvent};
use crate::rollout::driver::ROLLOUT_FUNCTION;
use crate::rollout::{Handled as RolloutHandled, RolloutEvent, Rollouts};
use crate::runtime::{Context, Function, HandlerError, RequestCredentials};
use crate::schedule::Scheduler;
use crate::secrets::sealer_from_env;
use crate::settings::Env;
use crate::steps::aliyun::AliyunClouds;
use crate::steps::{CloudProvider, Engine, EngineConfig, EngineError, Handled};
use crate::store::url::{StoreConfigError, StoreLocation, open_store};
use crate::wiring::Pieces;

/// The payload of reimage's minute timer (template.yml's `Payload`).
pub const TIMER_PAYLOAD: &str = r#"{"tick":"scheduler"}"#;

/// The service whose functions the steps invoke when nothing says otherwise.
pub const DEFAULT_SERVICE: &str = "reimage";

/// Why a function could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A setting the function needs is absent.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// The store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreConfigError),
    /// A setting holds something unusable.
    #[error("{name}={value:?}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The cloud client cannot be made.
    #[error("cannot set up the cloud client")]
    Client(#[source] crate::aliyun::Error),
    /// The environment's credentials are set in part (an AccessKey id without its secret).
    #[error("the function's environment credentials are incomplete")]
    Credentials(#[source] crate::aliyun::credentials::CredentialsError),
}

/// Everything the functions share.
#[derive(Clone)]
pub struct FunctionHost {
    engine: Engine,
    /// `None` when the clouds cannot move a fleet (fakes).
    rollouts: Option<Rollouts>,
    /// The region the day's retention pass prunes; `None` for fakes.
    images: Option<crate::api::images::ImageRoutes>,
    credentials: RequestCredentials,
    scheduler: Arc<Scheduler>,
    /// `None` when no API token is configured: the HTTP API is then refused.
    api: Option<Arc<Api>>,
}

impl fmt::Debug for FunctionHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionHost")
            .field("engine", &self.engine)
            .field("api", &self.api.is_some())
            .finish_non_exhaustive()
    }
}

impl FunctionHost {
    /// Wires the host from its pieces (tests pass fakes); the HTTP API is served only
    /// with an API token.
    pub fn new(
        pieces: Pieces,
        api_token: Option<ApiToken>,
        credentials: RequestCredentials,
    ) -> Self {
        let wired = pieces.wire();
        let api = api_token.map(|token| Arc::new(wired.api(Auth::Bearer(token))));
        Self {
            engine: wired.engine,
            rollouts: wired.rollouts,
            images: wired.images,
            scheduler: wired.scheduler,
            credentials,
            api,
        }
    }

    /// Wires the host as Function Compute runs them, from the function's environment:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `FC_ACCOUNT_ID`, `FC_REGION` | set by FC: the account and region of the service |
    /// | `REIMAGE_FC_SERVICE` (else `FC_SERVICE_NAME`, else `reimage`) | whose functions the steps invoke |
    /// | `REIMAGE_STORE` | the store, `oss://bucket/prefix` (the file store under `REIMAGE_STATE_DIR` otherwise) |
    /// | `REIMAGE_API_TOKEN` | the bearer token of the HTTP API (without it the API is refused) |
    /// | `ALIBABA_CLOUD_ACCESS_KEY_ID` / `_SECRET` / `_SECURITY_TOKEN` | credentials until a request brings its own |
    /// | `REIMAGE_ENDPOINT`, `REIMAGE_<SERVICE>_ENDPOINT` | endpoint overrides (the sim) |
    /// | `REIMAGE_KMS_KEY_ID` | the KMS key that seals webhook secrets (template.yml's `SecretsKmsKeyId`); else `REIMAGE_SECRETS_KEY_FILE`, a local key file; without either, a task with a webhook secret is refused |
    /// | `REIMAGE_OVERDUE_AFTER_SECS` | how late a pending step must be before the timer's sweep dispatches it again (default 600) |
    /// | `REIMAGE_ROLLOUT_POLL_SECS` | how often a rollout looks while it waits (default 10) |
    /// | `REIMAGE_NOTIFY_TIMEOUT_SECS`, `REIMAGE_NOTIFY_ATTEMPTS`, `REIMAGE_PUBLIC_URL` | how notices are delivered, and the API address their links start with (see [`crate::notify::DeliveryConfig::from_env`]) |
    pub fn from_env(env: &Env, clock: SharedClock) -> Result<Self, SetupError> {
        let account_id = env
            .get("FC_ACCOUNT_ID")
            .ok_or(SetupError::Missing("FC_ACCOUNT_ID"))?;
        let region = env
            .get("FC_REGION")
            .or_else(|| env.get("REIMAGE_REGION"))
            .ok_or(SetupError::Missing("FC_REGION"))?;
        let service = env
            .get("REIMAGE_FC_SERVICE")
            .or_else(|| env.get("FC_SERVICE_NAME"))
            .unwrap_or(DEFAULT_SERVICE);
        // The request's credentials, else the environment's; set in part is an error at start.
        crate::aliyun::Credentials::from_env(env).map_err(SetupError::Credentials)?;
        let credentials = RequestCredentials::new();
        let chain = ProviderChain::new()
            .then(
                "the request's x-fc-access-key-* headers",
                Arc::new(credentials.clone()),
            )
            .then(
                "the ALIBABA_CLOUD_* environment",
                EnvProvider::shared(env.clone()),
            );
        let ids: SharedIds = Arc::new(RandomIds);
        let mut config = ClientConfig::new(
            region,
            Endpoints::from_env(region, Some(account_id), env),
            Arc::new(chain),
        );
        config.clock = clock.clone();
        config.ids = ids.clone();
        config.allow_plain_http = crate::settings::allow_plain_http(env);
        let client = Client::new(config).map_err(SetupError::Client)?;
        let location = StoreLocation::from_env(env, &env.state_dir(None))?;
        let store = open_store(&location, || Ok(OssClient::from_client(&client)?))?;
        let clouds: Arc<dyn CloudProvider> = Arc::new(AliyunClouds::new(client.clone()));
        // The function's file system does not outlive it: no key file by default.
        let sealer = sealer_from_env(env, None, || Ok::<_, SetupError>(client.clone()))?;
        let config = EngineConfig::from_env(env).map_err(|(name, value)| SetupError::Invalid {
            name,
            value,
            reason: crate::steps::engine_env_expectation(name),
        })?;
        // FC must not take the sweep's re-dispatch for a duplicate of the lost event.
        let fc =
            FcDispatcher::new(client, account_id, service).with_dedup_window(config.overdue_after);
        let dispatcher = Arc::new(fc.clone());
        let pieces = Pieces {
            store,
            clock,
            ids,
            dispatcher,
            clouds,
            config,
            sealer,
            kicker: Some(Arc::new(fc)),
        };
        Ok(Self::new(
            pieces,
            env.get("REIMAGE_API_TOKEN").map(ApiToken::new),
            credentials,
        ))
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The function that runs `step` (and, for create-image, the timer and the HTTP API).
    pub fn function(&self, step: Step) -> Function {
        let host = self.clone();
        let events = Function::event(move |ctx: Context, body: Bytes| {
            let host = host.clone();
            async move { host.handle_event(step, &ctx, &body).await }
        });
        if step != Step::CreateImage {
            return events;
        }
        let host = self.clone();
        events.on_http(tower::service_fn(
            move |req: http::Request<axum::body::Body>| {
                let host = host.clone();
                async move { Ok::<_, std::convert::Infallible>(host.handle_http(req).await) }
            },
        ))
    }

    /// The `rollout` function: each `/invoke` body is a [`RolloutEvent`].
    pub fn rollout_function(&self) -> Function {
        let host = self.clone();
        Function::event(move |ctx: Context, body: Bytes| {
            let host = host.clone();
            async move { host.handle_rollout_event(&ctx, &body).await }
        })
    }

    /// Handles one `/invoke` body sent to the `rollout` function: runs the phases due and
    /// sends the next event (see [`crate::rollout::driver`]).
    pub async fn handle_rollout_event(
        &self,
        ctx: &Context,
        body: &[u8],
    ) -> Result<serde_json::Value, HandlerError> {
        self.credentials.set_from(ctx);
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            HandlerError::new("InvalidEvent", format!("the event is not JSON: {e}"))
        })?;
        if value.get("triggerTime").is_some() || value.get("execution_id").is_some() {
            return Err(HandlerError::new(
                "WrongFunction",
                "the rollout function handles rollout events {\"rollout_id\", \"seq\"} only; timer and step events belong to the step functions",
            ));
        }
        let event: RolloutEvent = serde_json::from_value(value).map_err(|e| {
            HandlerError::new(
                "InvalidEvent",
                format!("the event is not a valid rollout event {{\"rollout_id\", \"seq\"}}: {e}"),
            )
        })?;
        let Some(rollouts) = &self.rollouts else {
            return Err(HandlerError::new(
                "RolloutsUnavailable",
                "this function's cloud cannot move a fleet",
            ));
        };
        let handled = rollouts
            .handle(&event)
            .await
            .map_err(|e| HandlerError::new("RolloutFailed", crate::report::chain(&e)))?;
        let (outcome, seq) = match &handled {
            RolloutHandled::Ignored { latest_seq } => ("ignored", Some(*latest_seq)),
            RolloutHandled::Unknown => {
                tracing::warn!(rollout = %event.rollout_id, "event for an unknown rollout: acknowledged, nothing done");
                ("unknown-rollout", None)
            }
            RolloutHandled::Waiting { seq, .. } => ("waiting", Some(*seq)),
            RolloutHandled::AwaitsOperator { seq } => ("awaits-operator", Some(*seq)),
            RolloutHandled::Ended(_) => ("ended", None),
            RolloutHandled::LostRace => ("lost-race", None),
        };
        Ok(serde_json::json!({
            "rollout_id": event.rollout_id,
            "seq": event.seq,
            "outcome": outcome,
            "latest_seq": seq,
        }))
    }

    /// Handles one `/invoke` body sent to `step`'s function.
    pub async fn handle_event(
        &self,
        step: Step,
        ctx: &Context,
        body: &[u8],
    ) -> Result<serde_json::Value, HandlerError> {
        self.credentials.set_from(ctx);
        match Event::parse(body)? {
            Event::Timer(timer) if step == Step::CreateImage => self.on_timer(&timer).await,
            Event::Timer(timer) => Err(HandlerError::new(
                "WrongFunction",
                format!(
                    "{step} does not handle timer events (timer {:?}); the minute timer belongs to create-image",
                    timer.trigger_name
                ),
            )),
            Event::Step(event) if event.step != step => Err(HandlerError::new(
                "WrongFunction",
                format!(
                    "{step} received an event for {} of execution {}; it handles {step} only",
                    event.step, event.execution_id
                ),
            )),
            Event::Step(event) => self.on_step(&event).await,
        }
    }

    async fn on_step(&self, event: &StepEvent) -> Result<serde_json::Value, HandlerError> {
        let summary = |outcome: &str| {
            serde_json::json!({
                "execution_id": event.execution_id,
                "step": event.step,
                "seq": event.seq,
                "outcome": outcome,
            })
        };
        match self.engine.handle(event).await {
            Ok(Handled::Advanced(record)) => {
                let mut v = summary("advanced");
                v["record_seq"] = record.seq.into();
                v["state"] = serde_json::to_value(&record.state).unwrap_or_default();
                Ok(v)
            }
            Ok(Handled::Ignored { latest_seq, .. }) => {
                let mut v = summary("ignored");
                v["latest_seq"] = latest_seq.into();
                Ok(v)
            }
            Ok(Handled::LostRace) => Ok(summary("lost-race")),
            Err(EngineError::UnknownExecution(id)) => {
                tracing::warn!(execution = %id, step = %event.step, "event for an unknown execution: acknowledged, nothing done");
                Ok(summary("unknown-execution"))
            }
            Err(e) => Err(HandlerError::from(e)),
        }
    }

    async fn on_timer(&self, timer: &TimerEvent) -> Result<serde_json::Value, HandlerError> {
        if timer.payload.as_deref().map(str::trim) != Some(TIMER_PAYLOAD) {
            tracing::warn!(
                trigger = %timer.trigger_name, payload = ?timer.payload,
                "timer event with a payload reimage does not know: acknowledged, nothing done"
            );
            return Ok(serde_json::json!({
                "ignored": format!("unknown timer payload; reimage's timer sends {TIMER_PAYLOAD}"),
            }));
        }
        let now = self.engine.clock().now();
        let swept = self
            .engine
            .tick_sweep(now)
            .await
            .map_err(HandlerError::from)?;
        let mut swept_rollouts = 0;
        if let Some(rollouts) = &self.rollouts {
            let window =
                if now.time() < chrono::NaiveTime::from_hms_opt(0, 1, 0).unwrap_or_default() {
                    crate::steps::live::DAILY_WINDOW
                } else {
                    crate::steps::live::SWEEP_WINDOW
                };
            // A failed rollout sweep must not cost the minute its scheduler tick.
            match rollouts
                .sweep(now, self.engine.config().overdue_after, window)
                .await
            {
                Ok(sent) => swept_rollouts = sent.len(),
                Err(e) => {
                    tracing::error!(error = %crate::report::chain(&e), "rollout sweep failed");
                }
            }
        }
        let report = self.scheduler.tick(now).await.map_err(HandlerError::from)?;
        let notified = self.notify_sweep(now).await;
        let retention = self.daily_retention(now).await;
        tracing::info!(
            trigger_time = %timer.trigger_time, swept = swept.len(),
            started = report.started.len(), failed = report.failed.len(), "tick"
        );
        Ok(serde_json::json!({
            "tick": now,
            "swept": swept.len(),
            "swept_rollouts": swept_rollouts,
            "started": report.started,
            "already_started": report.already_started,
            "failed": report.failed,
            "retention": retention,
            "notified": notified,
        }))
    }

    /// The notices due again (see [`crate::notify::Notifier::sweep`]): how many were
    /// attempted. A failed sweep costs the minute nothing; the next tick's tries again.
    async fn notify_sweep(&self, now: chrono::DateTime<chrono::Utc>) -> usize {
        let Some(notifier) = self.engine.notifier() else {
            return 0;
        };
        match notifier.sweep(now).await {
            Ok(attempted) => attempted,
            Err(e) => {
                tracing::error!(error = %crate::report::chain(&e), "notification sweep failed");
                0
            }
        }
    }

    /// The day's retention pass, at the first tick of each day (UTC) that claims it (see
    /// [`crate::images::daily`]): what it did, or `null` on the other ticks. A failed pass
    /// costs the minute nothing; the next day's tries again.
    async fn daily_retention(&self, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
        let Some(images) = &self.images else {
            return serde_json::Value::Null;
        };
        let store = self.engine.store();
        match crate::images::daily(images.region.as_ref(), store, &images.policies, now).await {
            Ok(None) => serde_json::Value::Null,
            Ok(Some(outcome)) => {
                tracing::info!(
                    marked = outcome.marked.len(),
                    deleted_images = outcome.deleted_images.len(),
                    deleted_snapshots = outcome.deleted_snapshots.len(),
                    failed = outcome.failed.len(),
                    "retention pass"
                );
                serde_json::to_value(&outcome).unwrap_or_default()
            }
            Err(e) => {
                tracing::error!(error = %crate::report::chain(&e), "retention pass failed");
                serde_json::json!({ "error": crate::report::chain(&e) })
            }
        }
    }

    async fn handle_http(
        &self,
        req: http::Request<axum::body::Body>,
    ) -> http::Response<axum::body::Body> {
        use tower::ServiceExt as _;
        if let Some(ctx) = req.extensions().get::<Context>() {
            self.credentials.set_from(ctx);
        }
        let Some(api) = &self.api else {
            let body = serde_json::json!({
                "code": "ApiDisabled",
                "message": "the HTTP API is off: set REIMAGE_API_TOKEN on the create-image function",
            });
            let mut resp = http::Response::new(axum::body::Body::from(body.to_string()));
            *resp.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            return resp;
        };
        match api.clone().router().oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        }
    }
}

/// FC's timer trigger event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TimerEvent {
    /// When the timer fired (RFC 3339 UTC).
    #[serde(rename = "triggerTime")]
    pub trigger_time: String,
    /// The trigger's name.
    #[serde(rename = "triggerName", default)]
    pub trigger_name: String,
    /// The configured payload, passed through as a string.
    #[serde(default)]
    pub payload: Option<String>,
}

/// What an `/invoke` body is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Step(StepEvent),
    Timer(TimerEvent),
}

impl Event {
    fn parse(body: &[u8]) -> Result<Self, HandlerError> {
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            HandlerError::new("InvalidEvent", format!("the event is not JSON: {e}"))
        })?;
        let invalid = |what: &str, e: serde_json::Error| {
            HandlerError::new(
                "InvalidEvent",
                format!("the event is not a valid {what}: {e}"),
            )
        };
        if value.get("triggerTime").is_some() {
            return serde_json::from_value(value)
                .map(Event::Timer)
                .map_err(|e| invalid("timer event", e));
        }
        serde_json::from_value(value)
            .map(Event::Step)
            .map_err(|e| invalid("step event {\"execution_id\", \"step\", \"seq\"}", e))
    }
}

/// Runs the function of `step` as Function Compute starts it: reads the environment, wires
/// the host, serves until SIGTERM. What each step function's `main` calls.
pub async fn main(step: Step) -> ExitCode {
    serve_function(step.as_str(), |host| host.function(step)).await
}

/// Runs the `rollout` function as Function Compute starts it.
pub async fn main_rollout() -> ExitCode {
    serve_function(ROLLOUT_FUNCTION, FunctionHost::rollout_function).await
}

async fn serve_function(name: &str, function: impl FnOnce(&FunctionHost) -> Function) -> ExitCode {
    let env = Env::from_process();
    crate::runtime::init_tracing(&env);
    let host = match FunctionHost::from_env(&env, Arc::new(SystemClock)) {
        Ok(host) => host,
        Err(err) => {
            tracing::error!(error = %crate::report::chain(&err), function = %name, "cannot start");
            eprintln!("reimage {name}: {}", crate::report::chain(&err));
            return ExitCode::FAILURE;
        }
    };
    crate::runtime::exit_code(crate::runtime::serve(function(&host).env(env)).await)
}

#[cfg(test)]
mod tests;
