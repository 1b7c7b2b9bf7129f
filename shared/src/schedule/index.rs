//! The run index: which executions belong to which task, and what started each.
//!
//! Execution records know their task (`request.task_id`), but finding a task's executions
//! from them would mean reading every execution. So each start also creates
//! `task-runs/<task-id>/<execution-id>.json` (create-if-absent, like everything else), which
//! `GET /executions?task=…` lists, and which records the [`Trigger`]: a scheduled slot, a
//! catch-up of a missed one, a webhook delivery, a manual run.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::tick::{RunFuture, RunRequest, Runs, Trigger};
use crate::clock::SharedClock;
use crate::model::execution::ExecutionId;
use crate::store::{SharedStore, StoreError};

/// The store prefix of the run index.
pub const RUN_INDEX_PREFIX: &str = "task-runs/";

/// One entry of the run index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEntry {
    /// The execution.
    pub execution_id: ExecutionId,
    /// Its task.
    pub task_id: String,
    /// What started it.
    pub trigger: Trigger,
    /// When the start was requested.
    pub requested_at: DateTime<Utc>,
}

/// The key of a run index entry.
pub fn run_entry_key(task_id: &str, execution_id: &ExecutionId) -> String {
    format!("{RUN_INDEX_PREFIX}{task_id}/{execution_id}.json")
}

/// Records `entry` unless an entry for the same execution exists (the first trigger wins).
pub async fn index_run(store: &SharedStore, entry: &RunEntry) -> Result<(), StoreError> {
    let key = run_entry_key(&entry.task_id, &entry.execution_id);
    let body = serde_json::to_vec_pretty(entry).unwrap_or_default();
    match store.create(&key, &body).await {
        Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}

/// The run index entry of one execution of a task, if any.
pub async fn run_entry(
    store: &SharedStore,
    task_id: &str,
    execution_id: &ExecutionId,
) -> Result<Option<RunEntry>, StoreError> {
    let key = run_entry_key(task_id, execution_id);
    Ok(store
        .get(&key)
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Every indexed run of a task, oldest first (entries that do not parse are skipped).
pub async fn task_runs(store: &SharedStore, task_id: &str) -> Result<Vec<RunEntry>, StoreError> {
    let mut out = Vec::new();
    for key in store.list(&format!("{RUN_INDEX_PREFIX}{task_id}/")).await? {
        if let Some(bytes) = store.get(&key).await? {
            if let Ok(entry) = serde_json::from_slice::<RunEntry>(&bytes) {
                out.push(entry);
            }
        }
    }
    out.sort_by(|a, b| (a.requested_at, &a.execution_id).cmp(&(b.requested_at, &b.execution_id)));
    Ok(out)
}

/// A [`Runs`] that indexes each run before handing it to `inner`.
pub struct IndexedRuns<R> {
    store: SharedStore,
    clock: SharedClock,
    inner: R,
}

impl<R: fmt::Debug> fmt::Debug for IndexedRuns<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexedRuns")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<R: Runs> IndexedRuns<R> {
    /// Indexes in `store`, timestamps with `clock`, starts with `inner`.
    pub fn new(store: SharedStore, clock: SharedClock, inner: R) -> Self {
        Self {
            store,
            clock,
            inner,
        }
    }
}

impl<R: Runs> Runs for IndexedRuns<R> {
    fn start(&self, request: RunRequest) -> RunFuture<'_> {
        Box::pin(async move {
            let entry = RunEntry {
                execution_id: request.execution_id.clone(),
                task_id: request.task.task_id.clone(),
                trigger: request.trigger.clone(),
                requested_at: self.clock.now(),
            };
            index_run(&self.store, &entry)
                .await
                .map_err(|err| super::RunError {
                    execution_id: request.execution_id.clone(),
                    message: format!("could not index the run: {}", crate::report::chain(&err)),
                })?;
            self.inner.start(request).await
        })
    }
}
