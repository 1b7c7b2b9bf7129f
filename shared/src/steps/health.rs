//! What a task's recent runs say: the last run, the last success, and how many runs in a row
//! have failed; and the task that disables itself after too many.
//!
//! Read from the task's index of runs, newest first ([`started`]), a page at a time, and each
//! run's latest record: the cost follows the runs since the last success (at most
//! [`HEALTH_RUNS`]), not the task's history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::records::{EngineError, read_page};
use crate::model::execution::ExecutionId;
use crate::model::{State, StepRecord};
use crate::store::SharedStore;
use crate::store::tasks::{TaskStore, TaskStoreError};

/// The most runs read back to find the last success: more than the highest
/// `disable_after_failures`, so that any threshold can be reached.
pub const HEALTH_RUNS: usize = 2 * crate::model::task::MAX_DISABLE_AFTER_FAILURES as usize;

/// How many index entries one listing asks for.
const PAGE: usize = 20;

/// One run, as the health of its task shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The execution.
    pub execution_id: ExecutionId,
    /// `pending`, `succeeded`, `failed` or `superseded`.
    pub status: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

impl RunSummary {
    fn of(record: &StepRecord) -> Self {
        Self {
            execution_id: record.execution_id.clone(),
            status: record.state.status().to_owned(),
            started_at: record.started_at,
        }
    }
}

/// What a task's recent runs say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskHealth {
    /// The newest run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunSummary>,
    /// When the newest run that succeeded started (none among the last [`HEALTH_RUNS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<DateTime<Utc>>,
    /// How many runs in a row failed, newest first, counting only runs that started at or
    /// after `count_from` (runs still pending and superseded ones are passed over).
    pub consecutive_failures: u32,
    /// The newest of those failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
}

/// The health of task `task_id`, its failures counted from `count_from` (see
/// [`crate::model::task::TaskRecord::failures_count_from`]).
pub async fn task_health(
    store: &SharedStore,
    task_id: &str,
    count_from: DateTime<Utc>,
) -> Result<TaskHealth, EngineError> {
    let mut health = TaskHealth::default();
    let mut counting = true;
    let mut after = None;
    let mut runs = 0;
    loop {
        let page = read_page(store, Some(task_id), after.as_ref(), PAGE).await?;
        for bad in &page.unreadable {
            bad.warn_skipped("task health");
        }
        for record in page.executions {
            runs += 1;
            if health.last_run.is_none() {
                health.last_run = Some(RunSummary::of(&record));
            }
            match &record.state {
                State::Succeeded => {
                    health.last_success_at = Some(record.started_at);
                    return Ok(health);
                }
                State::Failed(failure) if counting => {
                    if record.started_at < count_from {
                        counting = false;
                        continue;
                    }
                    health.consecutive_failures += 1;
                    if health.last_failure.is_none() {
                        health.last_failure = Some(format!("{}: {failure}", record.execution_id));
                    }
                }
                _ => {}
            }
        }
        match page.next {
            Some(next) if runs < HEALTH_RUNS => after = Some(next),
            _ => return Ok(health),
        }
    }
}

/// After run `record` of a task ended failed: disables the task if that makes
/// `disable_after_failures` runs in a row. Returns the reason when it did.
pub async fn disable_if_failing(
    store: &SharedStore,
    record: &StepRecord,
    now: DateTime<Utc>,
) -> Result<Option<String>, EngineError> {
    let Some(task_id) = &record.request.task_id else {
        return Ok(None);
    };
    let tasks = TaskStore::new(store.clone());
    let task = match tasks.get(task_id).await {
        Ok(task) => task,
        // Deleted since: nothing to disable.
        Err(TaskStoreError::NotFound(_)) => return Ok(None),
        Err(TaskStoreError::Store(e)) => return Err(e.into()),
        Err(e) => {
            tracing::warn!(task = %task_id, error = %crate::report::chain(&e), "could not read a task whose run failed");
            return Ok(None);
        }
    };
    let threshold = task.spec.disable_after_failures();
    if !task.enabled || threshold == 0 {
        return Ok(None);
    }
    let health = task_health(store, task_id, task.failures_count_from()).await?;
    if health.consecutive_failures < threshold {
        return Ok(None);
    }
    let reason = format!(
        "{} runs in a row failed; the last, {}",
        health.consecutive_failures,
        health.last_failure.unwrap_or_default()
    );
    // Only if the task is still the record this decision was made from: one enabled again
    // meanwhile counts afresh.
    match tasks
        .disable_after_failures(task_id, task.seq, reason.clone(), now)
        .await
    {
        Ok(Some(_)) => Ok(Some(reason)),
        Ok(None) => Ok(None),
        Err(TaskStoreError::Store(e)) => Err(e.into()),
        Err(e) => {
            tracing::warn!(task = %task_id, error = %crate::report::chain(&e), "could not disable a failing task");
            Ok(None)
        }
    }
}
