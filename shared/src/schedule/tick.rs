//! The minute tick: start every due slot of every enabled task, once.

use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CatchUp, GRACE, Schedule, due_slots};
use crate::model::execution::ExecutionId;
use crate::model::task::TaskRecord;
use crate::store::tasks::{TaskStore, TaskStoreError};

/// What started an execution; stored in the execution's first record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// A task executed now, started when it was created.
    Now,
    /// A slot of a scheduled, periodic or cron task.
    Schedule {
        /// The slot's time.
        slot: DateTime<Utc>,
        /// Set when the slot was missed and started late by a catch-up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        catch_up: Option<CatchUp>,
    },
    /// A run requested by hand (`POST /tasks/{id}/runs`, `reimage task run`).
    Manual,
    /// A CI webhook (`POST /hooks/{task-id}`).
    Webhook {
        /// `github`, `gitlab` or `reimage`: the signature form that authenticated it.
        source: String,
        /// The delivery id the CI system sent, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery_id: Option<String>,
    },
}

/// A request to start one execution of a task.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The execution's id: derived from the task and slot or delivery, or random.
    pub execution_id: ExecutionId,
    /// The task's current record.
    pub task: TaskRecord,
    /// Why it starts.
    pub trigger: Trigger,
}

/// The outcome of [`Runs::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStarted {
    /// The execution's id.
    pub execution_id: ExecutionId,
    /// False if an execution with this id existed already (nothing new was started).
    pub created: bool,
}

/// Starting an execution failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("starting execution {execution_id} failed: {message}")]
pub struct RunError {
    /// The execution that did not start.
    pub execution_id: ExecutionId,
    /// What went wrong.
    pub message: String,
}

/// A boxed future returned by [`Runs::start`].
pub type RunFuture<'a> = futures::future::BoxFuture<'a, Result<RunStarted, RunError>>;

/// Starts executions: creates an execution's first record if absent and dispatches its first
/// step. Implemented over the execution engine; the scheduler and the HTTP API only need this.
pub trait Runs: Send + Sync + fmt::Debug + 'static {
    /// Starts `request.execution_id` unless it exists.
    fn start(&self, request: RunRequest) -> RunFuture<'_>;
}

/// The id of the execution of `task_id`'s slot at `slot`, derived from
/// `task:<task-id>:<slot as RFC 3339 UTC>`: the same in every scheduler, so a slot is started
/// once however many ticks see it.
pub fn slot_execution_id(task_id: &str, slot: DateTime<Utc>) -> ExecutionId {
    ExecutionId::derived(&format!(
        "task:{task_id}:{}",
        slot.format("%Y-%m-%dT%H:%M:%SZ")
    ))
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// The tick's time.
    pub now: Option<DateTime<Utc>>,
    /// Live tasks looked at.
    pub tasks: usize,
    /// Executions this tick created.
    pub started: Vec<ExecutionId>,
    /// Of those, the ones that caught up a missed slot.
    pub caught_up: Vec<ExecutionId>,
    /// Due executions that existed already (another tick or scheduler started them).
    pub already_started: Vec<ExecutionId>,
    /// Tasks or executions that failed, with the reason.
    pub failed: Vec<(String, String)>,
}

/// The scheduler: call [`Scheduler::tick`] once a minute.
pub struct Scheduler {
    tasks: TaskStore,
    runs: Arc<dyn Runs>,
    last_tick: Mutex<Option<DateTime<Utc>>>,
    /// Starts that failed, by slot time, tried again by the next ticks within the grace window.
    retries: Mutex<Vec<(DateTime<Utc>, RunRequest)>>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("tasks", &self.tasks)
            .field("runs", &self.runs)
            .field("last_tick", &self.last_tick())
            .finish()
    }
}

impl Scheduler {
    /// A scheduler over the tasks in `tasks`, starting executions with `runs`.
    pub fn new(tasks: TaskStore, runs: Arc<dyn Runs>) -> Self {
        Self {
            tasks,
            runs,
            last_tick: Mutex::new(None),
            retries: Mutex::new(Vec::new()),
        }
    }

    /// The task records this scheduler reads.
    pub fn tasks(&self) -> &TaskStore {
        &self.tasks
    }

    /// The time of the last tick.
    pub fn last_tick(&self) -> Option<DateTime<Utc>> {
        *self.last_tick.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ticks at `now`, covering the slots since this scheduler's last tick (or, for its first
    /// tick, the grace window: a restarted process catches up the latest slot it missed).
    /// A start that fails (the store or the engine was unavailable) is tried again by the
    /// following ticks while its slot is within the grace window.
    ///
    /// A tick that cannot list the tasks (the store is down) still tries the pending retries,
    /// keeps those that fail again, and does not move its last tick: the next tick covers
    /// the slots this one could not see. A task whose record does not read is skipped,
    /// never the tick.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, TaskStoreError> {
        let last = self.last_tick().unwrap_or(now - GRACE);
        let retries: Vec<(DateTime<Utc>, RunRequest)> =
            std::mem::take(&mut *self.retries.lock().unwrap_or_else(|e| e.into_inner()));
        let (mut report, mut failed, listing_error) = match self.tick_inner(last, now).await {
            Ok((report, failed)) => (report, failed, None),
            Err(err) => {
                let report = TickReport {
                    now: Some(now),
                    ..TickReport::default()
                };
                (report, Vec::new(), Some(err))
            }
        };
        for (slot, request) in retries {
            if now - slot > GRACE {
                continue;
            }
            self.start(slot, request, false, &mut report, &mut failed)
                .await;
        }
        self.retries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(failed);
        if let Some(err) = listing_error {
            return Err(err);
        }
        let mut guard = self.last_tick.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none_or(|t| t < now) {
            *guard = Some(now);
        }
        Ok(report)
    }

    /// Ticks at `now` as if the previous tick ran at `last_tick` (no retries are kept).
    pub async fn tick_since(
        &self,
        last_tick: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<TickReport, TaskStoreError> {
        Ok(self.tick_inner(last_tick, now).await?.0)
    }

    async fn tick_inner(
        &self,
        last_tick: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(TickReport, Vec<(DateTime<Utc>, RunRequest)>), TaskStoreError> {
        let tasks = self.tasks.list().await?;
        let mut report = TickReport {
            now: Some(now),
            tasks: tasks.len(),
            ..TickReport::default()
        };
        let mut failed = Vec::new();
        for task in tasks {
            if !task.enabled {
                continue;
            }
            let schedule = match Schedule::compile(&task.spec.executed_at) {
                Ok(schedule) => schedule,
                Err(err) => {
                    report
                        .failed
                        .push((task.task_id.clone(), crate::report::chain(&err)));
                    continue;
                }
            };
            for slot in due_slots(&schedule, task.created_at, last_tick, now) {
                let catch_up = slot.catch_up.is_some();
                let request = RunRequest {
                    execution_id: slot_execution_id(&task.task_id, slot.at),
                    task: task.clone(),
                    trigger: Trigger::Schedule {
                        slot: slot.at,
                        catch_up: slot.catch_up,
                    },
                };
                self.start(slot.at, request, catch_up, &mut report, &mut failed)
                    .await;
            }
        }
        Ok((report, failed))
    }

    async fn start(
        &self,
        slot: DateTime<Utc>,
        request: RunRequest,
        catch_up: bool,
        report: &mut TickReport,
        failed: &mut Vec<(DateTime<Utc>, RunRequest)>,
    ) {
        let execution_id = request.execution_id.clone();
        match self.runs.start(request.clone()).await {
            Ok(started) if started.created => {
                if catch_up {
                    report.caught_up.push(execution_id.clone());
                }
                report.started.push(execution_id);
            }
            Ok(_) => report.already_started.push(execution_id),
            Err(err) => {
                report
                    .failed
                    .push((execution_id.to_string(), crate::report::chain(&err)));
                failed.push((slot, request));
            }
        }
    }
}
