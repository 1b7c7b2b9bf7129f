//! The engine: starts executions, runs one step per event, sweeps, and reads executions.
//!
//! Every entry point uses it the same way: the CLI and `reimage serve` with the local
//! dispatcher, the Function Compute functions with the FC dispatcher, the HTTP API and the
//! scheduler to start runs and read them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::cloud::CloudProvider;
use super::dispatcher::SharedDispatcher;
use super::lease::{self, Acquired, LeaseTimes};
use super::records::{EngineError, ExecutionPage, latest_record, read_page, read_record};
use super::{
    Checkpoint, CloudError, Interrupt, StepContext, Transition, abandon, chrono_duration,
    fail_cleaning_up, pending, run,
};
use super::{health, live, started};
use crate::clock::SharedClock;
use crate::ids::SharedIds;
use crate::model::execution::{EXECUTIONS_PREFIX, parse_record_key};
use crate::model::naming;
use crate::model::validate;
use crate::model::{
    ExecutionId, Learned, PermissionSource, State, Step, StepEvent, StepRecord, UpdateRequest,
    Waiting,
};
use crate::store::{SharedStore, StoreError, Unreadable};

/// Limits and timings of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// How long after its start an execution may wait for its snapshot and image before it
    /// fails (default 6 hours).
    pub image_deadline: Duration,
    /// How long past its due time a pending step must be before the sweep dispatches it
    /// again (default 10 minutes: longer than any step takes).
    pub overdue_after: Duration,
    /// How many times a step is retried after cloud errors that may pass before the execution
    /// fails (default 5).
    pub max_retries: u32,
    /// The first retry's delay; each further retry doubles it, up to five minutes (default
    /// 30 seconds).
    pub retry_delay: Duration,
    /// How long past its image deadline an execution at work may still be pending before its
    /// leases are presumed abandoned and taken over (default 1 hour: swap-config and verify,
    /// with their retries, take minutes).
    pub lease_margin: Duration,
    /// How long an execution waiting for a busy configuration waits before it looks again;
    /// doubled each time it is still busy, up to five minutes (default 30 seconds).
    pub lease_poll: Duration,
    /// How often a rollout looks at what it waits for: a stop, a disk, a boot, a readiness
    /// command, the load balancers' three looks (default 10 seconds).
    pub rollout_poll: Duration,
    /// What retention keeps of the images reimage made (see [`crate::images`]).
    pub retention: crate::images::Policies,
    /// How notices are delivered (see [`crate::notify`]).
    pub notify: crate::notify::DeliveryConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            image_deadline: Duration::from_secs(6 * 3600),
            overdue_after: Duration::from_secs(600),
            max_retries: 5,
            retry_delay: Duration::from_secs(30),
            lease_margin: Duration::from_secs(3600),
            lease_poll: Duration::from_secs(30),
            rollout_poll: Duration::from_secs(10),
            retention: crate::images::Policies::default(),
            notify: crate::notify::DeliveryConfig::default(),
        }
    }
}

impl EngineConfig {
    /// The defaults with the environment's overrides: `REIMAGE_OVERDUE_AFTER_SECS` (how late
    /// a pending step must be before the sweep dispatches it again) and
    /// `REIMAGE_ROLLOUT_POLL_SECS` (how often a rollout looks while it waits), each a whole
    /// number of seconds; and retention's (see [`crate::images::Policies::from_env`]).
    pub fn from_env(env: &crate::settings::Env) -> Result<Self, (&'static str, String)> {
        let mut config = Self::default();
        let secs = |name: &'static str| -> Result<Option<Duration>, (&'static str, String)> {
            match env.get(name) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n > 0 => Ok(Some(Duration::from_secs(n))),
                    _ => Err((name, v.to_owned())),
                },
            }
        };
        if let Some(d) = secs("REIMAGE_OVERDUE_AFTER_SECS")? {
            config.overdue_after = d;
        }
        if let Some(d) = secs("REIMAGE_ROLLOUT_POLL_SECS")? {
            config.rollout_poll = d;
        }
        config.retention = crate::images::Policies::from_env(env)?;
        config.notify = crate::notify::DeliveryConfig::from_env(env)?;
        Ok(config)
    }
}

/// What variable `name` of [`EngineConfig::from_env`] takes, for the error that refuses its
/// value.
pub fn env_expectation(name: &str) -> &'static str {
    match name {
        "REIMAGE_OVERDUE_AFTER_SECS" | "REIMAGE_ROLLOUT_POLL_SECS" => {
            "a whole number of seconds above 0"
        }
        "REIMAGE_NOTIFY_TIMEOUT_SECS" => "a whole number of seconds from 1 to 60",
        "REIMAGE_NOTIFY_ATTEMPTS" => "a whole number from 1 to 20",
        "REIMAGE_PUBLIC_URL" => "an http or https URL with a host",
        "REIMAGE_RETENTION" => "on or off",
        "REIMAGE_RETENTION_KEEP" | "REIMAGE_RETENTION_DAYS" | "REIMAGE_RETENTION_GRACE_HOURS" => {
            "a whole number in its range (see the README's \"Costs and cleanup\")"
        }
        _ => "a valid value",
    }
}

impl EngineConfig {
    pub(crate) fn image_deadline_chrono(&self) -> chrono::Duration {
        super::chrono_duration(self.image_deadline)
    }

    /// The delay before retry number `retry` (from 1).
    pub fn retry_after(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.retry_delay
            .saturating_mul(factor)
            .min(super::delay::MAX_DELAY)
    }
}

/// What handling one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The step ran and wrote this record (the execution's new latest record).
    Advanced(Box<StepRecord>),
    /// The event did not match the execution's latest record (a duplicate or late event):
    /// acknowledged, nothing done.
    Ignored {
        /// The latest record's seq.
        latest_seq: u64,
        /// The latest record's state.
        latest: State,
    },
    /// Another invocation wrote the next record first: stopped quietly.
    LostRace,
}

/// The image update pipeline, over a store, a clock, an id source, a dispatcher and a way to
/// reach the cloud. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: SharedStore,
    clock: SharedClock,
    ids: SharedIds,
    dispatcher: SharedDispatcher,
    clouds: Arc<dyn CloudProvider>,
    config: EngineConfig,
    /// Executions the sweep has seen finished (see [`Engine::remember_finished`]).
    finished: std::sync::Mutex<std::collections::HashSet<ExecutionId>>,
    /// Where a task's rollout starts after its run is verified.
    rollouts: Option<crate::rollout::Rollouts>,
    /// Who is told when an execution ends.
    notifier: Option<crate::notify::Notifier>,
}

/// How many finished executions a warm process remembers for the sweep.
const FINISHED_REMEMBERED: usize = 10_000;

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.inner.store)
            .field("dispatcher", &self.inner.dispatcher)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine with the default [`EngineConfig`].
    pub fn new(
        store: SharedStore,
        clock: SharedClock,
        ids: SharedIds,
        dispatcher: SharedDispatcher,
        clouds: Arc<dyn CloudProvider>,
    ) -> Self {
        Self::with_config(
            store,
            clock,
            ids,
            dispatcher,
            clouds,
            EngineConfig::default(),
        )
    }

    /// An engine with the given limits and timings.
    pub fn with_config(
        store: SharedStore,
        clock: SharedClock,
        ids: SharedIds,
        dispatcher: SharedDispatcher,
        clouds: Arc<dyn CloudProvider>,
        config: EngineConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                ids,
                dispatcher,
                clouds,
                config,
                finished: Mutex::new(std::collections::HashSet::new()),
                rollouts: None,
                notifier: None,
            }),
        }
    }

    /// Tells the targets of a run's task and the deployment's defaults when an execution
    /// ends (see [`crate::notify`]); called while wiring, before the engine is shared.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Option<crate::notify::Notifier>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.notifier = notifier,
            None => tracing::error!("the engine is shared already: its notifier is not set"),
        }
        self
    }

    /// The notifier, if any.
    pub fn notifier(&self) -> Option<&crate::notify::Notifier> {
        self.inner.notifier.as_ref()
    }

    /// Starts the rollouts of tasks' runs in `rollouts` (see [`crate::rollout`]); called
    /// while wiring, before the engine is shared.
    #[must_use]
    pub fn with_rollouts(mut self, rollouts: Option<crate::rollout::Rollouts>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.rollouts = rollouts,
            None => tracing::error!("the engine is shared already: its rollouts are not set"),
        }
        self
    }

    /// Starts the rollouts a verified run decided on, before its final record: a crash
    /// between the two starts them again under the same ids, which starts nothing twice.
    async fn start_rollouts(
        &self,
        record: &StepRecord,
        learned: &crate::model::Learned,
    ) -> Result<(), EngineError> {
        let (Some(options), Some(image)) = (&record.request.rollout, &learned.image_id) else {
            return Ok(());
        };
        let Some(rollouts) = &self.inner.rollouts else {
            tracing::warn!(
                execution = %record.execution_id,
                "the task asks for a rollout, and this reimage cannot reach a fleet"
            );
            return Ok(());
        };
        for planned in &learned.rollouts {
            let spec = match options.spec(&planned.group_id, image) {
                Ok(spec) => crate::rollout::RolloutSpec {
                    permission: record.request.permission.clone(),
                    configuration_restore: learned.previous_images.clone().unwrap_or_default(),
                    task_id: record.request.task_id.clone(),
                    template_restore: learned
                        .previous_templates
                        .iter()
                        .flatten()
                        .find(|p| p.group_id == planned.group_id)
                        .map(|source| crate::rollout::TemplateRestore {
                            execution_id: record.execution_id.clone(),
                            source: source.clone(),
                        }),
                    ..spec
                },
                Err(reason) => {
                    tracing::warn!(execution = %record.execution_id, %reason, "the task's rollout is not valid");
                    continue;
                }
            };
            match rollouts.start_as(planned.rollout_id.clone(), spec).await {
                Ok(_) => tracing::info!(
                    execution = %record.execution_id, rollout = %planned.rollout_id,
                    group = %planned.group_id, "rollout started"
                ),
                Err(crate::rollout::RolloutError::Store(e)) => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(execution = %record.execution_id, error = %e, "the task's rollout did not start");
                }
            }
        }
        Ok(())
    }

    /// The engine's limits and timings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The engine's clock.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The engine's store.
    pub fn store(&self) -> &SharedStore {
        &self.inner.store
    }

    /// A fresh random execution id (for a manual run).
    pub fn new_execution_id(&self) -> ExecutionId {
        ExecutionId::random(self.inner.ids.as_ref())
    }

    /// Checks a request without touching anything, with the rules every entry point uses
    /// ([`validate`]): an ECS instance id, at least one scaling configuration id and none
    /// twice, a RAM role ARN when a role is asked for. The first of
    /// [`Engine::request_problems`].
    pub fn validate(request: &UpdateRequest) -> Result<(), EngineError> {
        match Self::request_problems(request).into_iter().next() {
            Some(problem) => Err(EngineError::InvalidRequest(problem)),
            None => Ok(()),
        }
    }

    /// Everything [`Engine::validate`] would refuse in a request, in order (a dry run names
    /// them all).
    pub fn request_problems(request: &UpdateRequest) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = validate::instance_id(&request.instance_id) {
            problems.push(e.to_string());
        }
        if request.configuration_ids.is_empty() && request.scaling_group_ids.is_empty() {
            problems.push("no scaling configuration or launch-template scaling group given".into());
        }
        for (i, id) in request.scaling_group_ids.iter().enumerate() {
            if let Err(e) = validate::group_id(id) {
                problems.push(e.to_string());
            } else if request.scaling_group_ids[..i].contains(id) {
                problems.push(format!("scaling group {id} is given twice"));
            }
        }
        for (i, id) in request.configuration_ids.iter().enumerate() {
            if let Err(e) = validate::configuration_id(id) {
                problems.push(e.to_string());
            } else if request.configuration_ids[..i].contains(id) {
                problems.push(format!("scaling configuration {id} is given twice"));
            }
        }
        if let PermissionSource::RamRole { role_arn } = &request.permission {
            if let Err(e) = validate::role_arn(role_arn) {
                problems.push(e.to_string());
            }
        }
        problems
    }

    /// Starts an execution with a fresh random id. See [`Engine::start`].
    pub async fn start_new(&self, request: UpdateRequest) -> Result<StepRecord, EngineError> {
        let id = self.new_execution_id();
        self.start(request, id).await
    }

    /// Starts execution `execution_id`: checks the request and the image name (before any
    /// cloud call), indexes it for listings ([`started`]), writes record 0 and dispatches
    /// create-image. If the id is taken,
    /// [`EngineError::AlreadyStarted`]: a slot or webhook delivery starts at most one run.
    pub async fn start(
        &self,
        request: UpdateRequest,
        execution_id: ExecutionId,
    ) -> Result<StepRecord, EngineError> {
        Self::validate(&request)?;
        let now = self.inner.clock.now();
        let image_name = naming::image_name(
            &request.instance_id,
            request.image_name.as_deref(),
            &execution_id,
            now,
        )?;
        let record = StepRecord::first(execution_id, request, image_name, now);
        // A start of an id that is taken (a slot a cold scheduler covers again, a redelivered
        // webhook) costs one read and leaves no index entry behind.
        if self.inner.store.get(&record.key()).await?.is_some() {
            return Err(EngineError::AlreadyStarted(record.execution_id));
        }
        started::mark(
            &self.inner.store,
            record.started_at,
            &record.execution_id,
            record.request.task_id.as_deref(),
        )
        .await?;
        match self.write_record(&record).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                return Err(EngineError::AlreadyStarted(record.execution_id));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(execution = %record.execution_id, image_name = %record.image_name, "execution started");
        self.dispatch_pending(&record, now).await;
        Ok(record)
    }

    /// Runs the step `event` asks for, if the execution's latest record is waiting for
    /// exactly that; writes the next record and dispatches the step after it.
    pub async fn handle(&self, event: &StepEvent) -> Result<Handled, EngineError> {
        let latest = self
            .get(&event.execution_id)
            .await?
            .ok_or_else(|| EngineError::UnknownExecution(event.execution_id.clone()))?;
        if latest.seq != event.seq || latest.state.pending_step() != Some(event.step) {
            tracing::info!(
                execution = %event.execution_id, step = %event.step, seq = event.seq,
                latest_seq = latest.seq, "event does not match the latest record: ignored"
            );
            return Ok(Handled::Ignored {
                latest_seq: latest.seq,
                latest: latest.state,
            });
        }
        let now = self.inner.clock.now();
        let cloud = self
            .inner
            .clouds
            .cloud(&latest.request.permission)
            .map_err(EngineError::Cloud)?;
        let checkpoints = Checkpoints {
            engine: self,
            now,
            last: Mutex::new(None),
        };
        let cx = StepContext {
            cloud: cloud.as_ref(),
            now,
            config: &self.inner.config,
            checkpoint: &checkpoints,
        };
        let mut latest = latest;
        let result = match self.leases(&cx, &mut latest, event.step).await? {
            Phase::Run => run(&cx, &latest, event.step).await,
            Phase::Stop(result) => *result,
        };
        let base = checkpoints
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or(latest);
        let transition = match result {
            Ok(mut transition) => {
                transition.learned.retries = 0;
                transition.learned.last_error = None;
                transition
            }
            Err(Interrupt::LostRace) => return Ok(Handled::LostRace),
            Err(Interrupt::Engine(e)) => return Err(e),
            Err(Interrupt::Retry(error)) => self.retry(&cx, &base, event, error).await,
        };
        if transition.state == State::Succeeded {
            self.start_rollouts(&base, &transition.learned).await?;
        }
        let next = base.next(transition.state, transition.learned, now);
        match self.write_record(&next).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists { .. }) => return Ok(Handled::LostRace),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(
            execution = %next.execution_id, step = %event.step, seq = next.seq,
            status = next.state.status(), next = ?next.state.pending_step(), "step recorded"
        );
        self.dispatch_pending(&next, now).await;
        Ok(Handled::Advanced(Box::new(next)))
    }

    /// The lease work that comes before a step (see [`lease`]): before create-image's first
    /// call, acquire every configuration or wait or end superseded (updating `record` when
    /// every lease is held: the step runs on it); before swap-config changes anything, check
    /// that no lease was taken over.
    async fn leases(
        &self,
        cx: &StepContext<'_>,
        record: &mut StepRecord,
        step: Step,
    ) -> Result<Phase, EngineError> {
        let times = LeaseTimes::of(&self.inner.config);
        let learned = &record.learned;
        match step {
            Step::CreateImage if learned.leased_at.is_none() && learned.snapshot_id.is_none() => {
                let acquired = lease::acquire(&self.inner.store, &times, record, cx.now).await?;
                let mut learned = record.learned.clone();
                let waited = learned.waiting_for.take();
                match acquired {
                    Acquired::All => {
                        if let Some(waited) = waited {
                            tracing::info!(
                                execution = %record.execution_id, since = %waited.since,
                                "every scaling configuration is free: the execution goes on"
                            );
                        }
                        learned.leased_at = Some(cx.now);
                        record.learned = learned;
                        Ok(Phase::Run)
                    }
                    Acquired::Busy {
                        configuration_id,
                        holder,
                    } => {
                        let waiting = match waited {
                            Some(w) if w.configuration_id == configuration_id => Waiting {
                                holder,
                                polls: w.polls.saturating_add(1),
                                ..w
                            },
                            _ => Waiting {
                                configuration_id,
                                holder,
                                since: cx.now,
                                polls: 0,
                            },
                        };
                        tracing::info!(
                            execution = %record.execution_id,
                            configuration = %waiting.configuration_id, holder = %waiting.holder,
                            "scaling configuration busy: the execution waits"
                        );
                        let due = cx.now + chrono_duration(times.poll_after(waiting.polls));
                        learned.waiting_for = Some(waiting);
                        Ok(Phase::Stop(Box::new(Ok(Transition::to(
                            pending(step, due),
                            learned,
                        )))))
                    }
                    Acquired::Superseded(carried_by) => {
                        tracing::info!(
                            execution = %record.execution_id, %carried_by,
                            "a newer execution carries the request: superseded"
                        );
                        let state = State::Superseded { carried_by };
                        Ok(Phase::Stop(Box::new(Ok(Transition::to(state, learned)))))
                    }
                }
            }
            Step::SwapConfig
                if learned.leased_at.is_some()
                    && learned.previous_images.is_none()
                    && learned.rolling_back.is_none() =>
            {
                let Some((configuration_id, holder)) =
                    lease::lost_lease(&self.inner.store, record).await?
                else {
                    return Ok(Phase::Run);
                };
                let reason = format!(
                    "the lease of scaling configuration {configuration_id} was taken over by \
                     execution {holder}, because this execution was past its deadline; no \
                     configuration was changed"
                );
                let result = fail_cleaning_up(cx, step, record.learned.clone(), reason, None).await;
                Ok(Phase::Stop(Box::new(result)))
            }
            _ => Ok(Phase::Run),
        }
    }

    async fn retry(
        &self,
        cx: &StepContext<'_>,
        base: &StepRecord,
        event: &StepEvent,
        error: CloudError,
    ) -> Transition {
        if base.learned.retries >= self.inner.config.max_retries {
            tracing::warn!(execution = %base.execution_id, step = %event.step, %error, "retries exhausted");
            let mut transition = abandon(cx, base, event.step, &error).await;
            transition.learned.last_error = Some(error.fault());
            return transition;
        }
        let mut learned: Learned = base.learned.clone();
        learned.retries += 1;
        learned.last_error = Some(error.fault());
        let delay = self.inner.config.retry_after(learned.retries);
        tracing::warn!(
            execution = %base.execution_id, step = %event.step, retry = learned.retries,
            %error, "cloud error that may pass: retrying later"
        );
        Transition::to(pending(event.step, cx.now + delay), learned)
    }

    async fn dispatch_pending(&self, record: &StepRecord, now: DateTime<Utc>) {
        let Some(event) = record.event() else {
            return;
        };
        let delay = match &record.state {
            State::Pending { due_at, .. } => (*due_at - now).to_std().unwrap_or_default(),
            _ => Duration::ZERO,
        };
        if let Err(error) = self.inner.dispatcher.dispatch(&event, delay).await {
            // The record is written; the sweep dispatches it again once it is overdue.
            tracing::warn!(%error, "dispatch failed; the sweep will retry");
        }
    }

    /// Writes `record`; when it leaves the execution pending, first indexes the hour its
    /// step is due in ([`live`]), so that the sweep finds it.
    ///
    /// When the record ends a task's run in failure, it then disables the task if that makes
    /// too many runs in a row ([`health::disable_if_failing`]); that never fails the write.
    ///
    /// A record that ends the execution is announced ([`crate::notify`]): its notices are
    /// queued before it is written (a replay after a crash queues the same ones again) and
    /// sent after, and nothing about them can fail the write.
    async fn write_record(&self, record: &StepRecord) -> Result<(), StoreError> {
        if let State::Pending { due_at, .. } = record.state {
            live::mark(&self.inner.store, due_at, &record.execution_id).await?;
        }
        let notice = self.inner.notifier.as_ref().and_then(|notifier| {
            crate::notify::build::execution_notice(record, notifier.config())
                .map(|notice| (notifier, notice))
        });
        let mut queued = Vec::new();
        if let Some((notifier, notice)) = &notice {
            let task = record.request.task_id.as_deref();
            match notifier
                .queue(record.execution_id.as_str(), task, notice)
                .await
            {
                Ok(deliveries) => queued = deliveries,
                // The store failed: the record is not written either, and the step runs
                // again (so a notice is never lost to a store that failed once).
                Err(crate::notify::delivery::NotifyError::Store(e)) => return Err(e),
                Err(e) => tracing::error!(
                    execution = %record.execution_id,
                    error = %crate::report::chain(&e),
                    "notifications could not be queued"
                ),
            }
        }
        self.inner
            .store
            .create(&record.key(), &record.to_json())
            .await?;
        if let Some((notifier, _)) = &notice {
            notifier.attempt_all(&queued).await;
        }
        if matches!(record.state, State::Failed(_)) && record.request.task_id.is_some() {
            match health::disable_if_failing(&self.inner.store, record, record.written_at).await {
                Ok(Some(reason)) => {
                    tracing::warn!(
                        task = record.request.task_id.as_deref().unwrap_or_default(),
                        %reason,
                        "task disabled"
                    );
                    if let Some((notifier, notice)) = notice {
                        let notice = crate::notify::Notice {
                            task_disabled: Some(reason),
                            ..notice
                        };
                        let subject = format!("{}.disabled", record.execution_id);
                        notifier
                            .queue_and_send(&subject, record.request.task_id.as_deref(), &notice)
                            .await;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    execution = %record.execution_id,
                    error = %crate::report::chain(&e),
                    "could not check whether the task keeps failing"
                ),
            }
        }
        Ok(())
    }

    /// Dispatches again the pending step of every execution whose step is overdue (due more
    /// than [`EngineConfig::overdue_after`] before `now`) and was due within
    /// [`live::SWEEP_WINDOW`] of becoming so. What the minute's timer runs: its store reads
    /// follow the executions at work in the last hours, not the whole history. Returns the
    /// events sent.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<Vec<StepEvent>, EngineError> {
        self.sweep_back(now, live::SWEEP_WINDOW).await
    }

    /// [`Engine::sweep`], looking `window` back.
    async fn sweep_back(
        &self,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<Vec<StepEvent>, EngineError> {
        let overdue = chrono_duration(self.inner.config.overdue_after);
        let until = now - overdue;
        let ids = live::due_between(&self.inner.store, until - window, until).await?;
        let mut records = Vec::new();
        for id in ids {
            if self.is_known_finished(&id) {
                continue;
            }
            match self.get(&id).await {
                Ok(Some(record)) if record.state.is_terminal() => self.remember_finished(id),
                Ok(Some(record)) => records.push(record),
                Ok(None) => {}
                Err(EngineError::Record(e)) => Unreadable {
                    key: e.key,
                    reason: e.source.to_string(),
                }
                .warn_skipped("the sweep"),
                Err(other) => return Err(other),
            }
        }
        Ok(self.dispatch_overdue(records, now).await)
    }

    /// The sweep over every execution ever started, which reads them all (its cost grows with
    /// the history): what `reimage serve` runs at start, for steps lost in an outage of any
    /// length.
    pub async fn sweep_all(&self, now: DateTime<Utc>) -> Result<Vec<StepEvent>, EngineError> {
        let scan = self.scan().await?;
        for bad in &scan.unreadable {
            bad.warn_skipped("the sweep");
        }
        Ok(self.dispatch_overdue(scan.executions, now).await)
    }

    /// The sweep of the minute's tick at `now`: in the first minute of each day (UTC) it
    /// looks back [`live::DAILY_WINDOW`], otherwise as [`Engine::sweep`].
    pub async fn tick_sweep(&self, now: DateTime<Utc>) -> Result<Vec<StepEvent>, EngineError> {
        if now.time() < chrono::NaiveTime::from_hms_opt(0, 1, 0).unwrap_or_default() {
            self.sweep_back(now, live::DAILY_WINDOW).await
        } else {
            self.sweep(now).await
        }
    }

    async fn dispatch_overdue(
        &self,
        records: Vec<StepRecord>,
        now: DateTime<Utc>,
    ) -> Vec<StepEvent> {
        let overdue = chrono_duration(self.inner.config.overdue_after);
        let mut sent = Vec::new();
        for record in records {
            if let State::Pending { due_at, .. } = record.state {
                if now >= due_at + overdue {
                    if let Some(event) = record.event() {
                        match self.inner.dispatcher.dispatch(&event, Duration::ZERO).await {
                            Ok(()) => sent.push(event),
                            Err(error) => tracing::warn!(%error, "sweep could not dispatch"),
                        }
                    }
                }
            }
        }
        sent
    }

    fn is_known_finished(&self, id: &ExecutionId) -> bool {
        self.inner
            .finished
            .lock()
            .is_ok_and(|finished| finished.contains(id))
    }

    /// Remembers that `id` has ended: records never change, so the sweep need not read it
    /// again. Bounded: past [`FINISHED_REMEMBERED`] ids, it starts over.
    fn remember_finished(&self, id: ExecutionId) {
        if let Ok(mut finished) = self.inner.finished.lock() {
            if finished.len() >= FINISHED_REMEMBERED {
                finished.clear();
            }
            finished.insert(id);
        }
    }

    /// The latest record of an execution, or `None` if there is no such execution.
    pub async fn get(&self, execution_id: &ExecutionId) -> Result<Option<StepRecord>, EngineError> {
        latest_record(&self.inner.store, execution_id).await
    }

    /// The execution that holds `configuration_id`'s lease now, if any: a manual update of
    /// that configuration is refused while it does.
    pub async fn configuration_holder(
        &self,
        configuration_id: &str,
    ) -> Result<Option<ExecutionId>, EngineError> {
        let times = LeaseTimes::of(&self.inner.config);
        let now = self.inner.clock.now();
        lease::holder(&self.inner.store, &times, configuration_id, now).await
    }

    /// Every record of an execution, oldest first (empty if there is no such execution).
    pub async fn history(
        &self,
        execution_id: &ExecutionId,
    ) -> Result<Vec<StepRecord>, EngineError> {
        let keys = self.inner.store.list(&execution_id.prefix()).await?;
        let mut seqs: Vec<u64> = keys
            .iter()
            .filter_map(|k| parse_record_key(k))
            .filter(|(id, _)| id == execution_id)
            .map(|(_, seq)| seq)
            .collect();
        seqs.sort_unstable();
        let mut records = Vec::with_capacity(seqs.len());
        for seq in seqs {
            if let Some(record) = self.read(execution_id, seq).await? {
                records.push(record);
            }
        }
        Ok(records)
    }

    /// The latest record of every execution, oldest start first.
    ///
    /// An execution whose latest record cannot be read is left out and logged (see
    /// [`Engine::scan`]): one bad record never stops a listing or the sweep.
    pub async fn list(&self) -> Result<Vec<StepRecord>, EngineError> {
        let scan = self.scan().await?;
        for bad in &scan.unreadable {
            bad.warn_skipped("the execution listing");
        }
        Ok(scan.executions)
    }

    /// The latest record of every execution that reads (oldest start first), and the latest
    /// records that do not.
    pub async fn scan(&self) -> Result<ExecutionScan, EngineError> {
        let keys = self.inner.store.list(EXECUTIONS_PREFIX).await?;
        let mut latest: BTreeMap<ExecutionId, u64> = BTreeMap::new();
        for (id, seq) in keys.iter().filter_map(|k| parse_record_key(k)) {
            let entry = latest.entry(id).or_insert(seq);
            *entry = (*entry).max(seq);
        }
        let mut out = ExecutionScan::default();
        for (id, seq) in latest {
            match self.read(&id, seq).await {
                Ok(Some(record)) => out.executions.push(record),
                Ok(None) => {}
                Err(EngineError::Record(e)) => out.unreadable.push(Unreadable {
                    key: e.key,
                    reason: e.source.to_string(),
                }),
                Err(other) => return Err(other),
            }
        }
        out.executions
            .sort_by(|a, b| (a.started_at, &a.execution_id).cmp(&(b.started_at, &b.execution_id)));
        Ok(out)
    }

    async fn read(&self, id: &ExecutionId, seq: u64) -> Result<Option<StepRecord>, EngineError> {
        read_record(&self.inner.store, id, seq).await
    }

    /// Up to `limit` executions of `task_id` (or of all), newest first, after `after` (see
    /// [`read_page`]).
    pub async fn page(
        &self,
        task_id: Option<&str>,
        after: Option<&started::Cursor>,
        limit: usize,
    ) -> Result<ExecutionPage, EngineError> {
        read_page(&self.inner.store, task_id, after, limit).await
    }
}

/// What [`Engine::scan`] found.
#[derive(Debug, Default)]
pub struct ExecutionScan {
    /// The latest record of every execution that reads, oldest start first.
    pub executions: Vec<StepRecord>,
    /// Latest records that cannot be read.
    pub unreadable: Vec<Unreadable>,
}

/// Writes a step's intermediate records and remembers the last one.
struct Checkpoints<'e> {
    engine: &'e Engine,
    now: DateTime<Utc>,
    last: Mutex<Option<StepRecord>>,
}

/// Whether a step runs after its lease work, or what it comes to without running.
enum Phase {
    Run,
    Stop(Box<Result<Transition, Interrupt>>),
}

impl Checkpoint for Checkpoints<'_> {
    fn checkpoint<'a>(
        &'a self,
        base: &'a StepRecord,
        learned: Learned,
    ) -> futures::future::BoxFuture<'a, Result<Option<StepRecord>, EngineError>> {
        Box::pin(async move {
            let Some(step) = base.state.pending_step() else {
                return Ok(None); // a finished execution takes no checkpoint
            };
            let record = base.next(pending(step, self.now), learned, self.now);
            match self.engine.write_record(&record).await {
                Ok(()) => {
                    *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(record.clone());
                    Ok(Some(record))
                }
                Err(StoreError::AlreadyExists { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }
}
