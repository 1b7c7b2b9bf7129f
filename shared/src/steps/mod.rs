//! The image update pipeline: create-image, wait-image, swap-config, verify, each step
//! described (and the whole drawn) in docs/architecture.md, "One execution, step by step".
//!
//! Every step runs the same way, driven by [`Engine::handle`] for an event
//! `{execution_id, step, seq}`:
//!
//! 1. load the execution's latest record; if it is not record `seq` waiting for `step`, the
//!    event is a duplicate or late: acknowledge it and stop;
//! 2. do the step's work with idempotent calls (creates carry a ClientToken derived from the
//!    execution; deletes treat `NotFound` as done; swap-config skips configurations that
//!    already hold the new image);
//! 3. create record `seq + 1`; if it already exists, another invocation got there first: stop
//!    quietly;
//! 4. only then dispatch the next step, after the delay the record asks for.
//!
//! So a duplicate event, or a crash at any point followed by a replay (or by the sweep, which
//! re-dispatches executions whose pending step is overdue), leaves exactly one snapshot, one
//! image, and each configuration swapped once.
//!
//! A cloud error that may pass (throttling past the client's retry budget, 5xx, connection
//! failures) does not fail the execution at once: the step is recorded again with its retry
//! count and runs after a back-off, up to [`EngineConfig::max_retries`] times; then the
//! execution fails, cleaning up like any other failure. Any other cloud error fails it at once.
//! Failures clean up after themselves: before swap-config, what the execution created (the
//! image, then the snapshot) is deleted; from swap-config on, every configuration that was
//! changed is put back to the image it held before.
//!
//! Each step's decisions are pure functions of the record and what the cloud reported
//! ([`delay::next_check`], `create_image::check_targets`, `verify::problems`, …); the step
//! functions are thin drivers that make the calls.

use chrono::{DateTime, Utc};

use crate::model::{Failure, Learned, State, Step, StepRecord};

pub mod aliyun;
pub mod cloud;
mod create_image;
pub mod delay;
pub mod dispatcher;
pub mod dry_run;
mod engine;
pub mod health;
pub mod lease;
pub mod live;
pub mod preflight;
mod records;
pub mod started;
mod swap_config;
pub mod templates;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;
mod verify;
mod wait_image;

pub use aliyun::{AliyunCloud, AliyunClouds};
pub use cloud::{Cloud, CloudError, CloudProvider, SameCloud, SharedCloud};
pub use dry_run::DryRunReport;
pub use engine::{
    Engine, EngineConfig, ExecutionScan, Handled, env_expectation as engine_env_expectation,
};
pub use records::{EngineError, ExecutionPage, PAGE_READS, latest_record, read_page};

/// What the engine needs while a step runs.
pub(crate) struct StepContext<'a> {
    pub cloud: &'a dyn Cloud,
    pub now: DateTime<Utc>,
    pub config: &'a EngineConfig,
    /// Writes an intermediate record (same pending step) and returns it; `None` if another
    /// invocation wrote that record first.
    pub checkpoint: &'a (dyn Checkpoint + 'a),
}

/// Writes intermediate records for steps that must remember something before acting
/// (swap-config records each configuration's image before changing any). The engine builds
/// the step's final record on the latest checkpoint.
pub(crate) trait Checkpoint: Send + Sync {
    fn checkpoint<'a>(
        &'a self,
        base: &'a StepRecord,
        learned: Learned,
    ) -> futures::future::BoxFuture<'a, Result<Option<StepRecord>, EngineError>>;
}

/// What a step decided: the next record's state and knowledge.
#[derive(Debug)]
pub(crate) struct Transition {
    pub state: State,
    pub learned: Learned,
}

impl Transition {
    fn to(state: State, learned: Learned) -> Self {
        Self { state, learned }
    }
}

/// Why a step stopped without a transition.
#[derive(Debug)]
pub(crate) enum Interrupt {
    /// A cloud error that may pass: record the step again and retry later.
    Retry(CloudError),
    /// Another invocation wrote the step's intermediate record first.
    LostRace,
    /// The store failed.
    Engine(EngineError),
}

/// Sorts a call's result: a retryable error interrupts the step (`Err`), anything else is
/// the step's to handle (`Ok(result)`).
fn classify<T>(result: Result<T, CloudError>) -> Result<Result<T, CloudError>, Interrupt> {
    match result {
        Err(e) if e.is_retryable() => Err(Interrupt::Retry(e)),
        other => Ok(other),
    }
}

/// A std duration as chrono's, saturating (a duration too long for chrono is forever).
pub(crate) fn chrono_duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `step` is due at `due_at`.
fn pending(step: Step, due_at: DateTime<Utc>) -> State {
    State::Pending { step, due_at }
}

/// The execution fails in `step` for `reason`, with the cloud's error if there was one.
fn failed(step: Step, reason: impl Into<String>, cloud: Option<&CloudError>) -> State {
    State::Failed(failure(step, reason, cloud))
}

/// Why `step` failed, with the cloud's error if it came from the cloud.
fn failure(step: Step, reason: impl Into<String>, cloud: Option<&CloudError>) -> Failure {
    Failure {
        step,
        reason: reason.into(),
        cloud: cloud.map(CloudError::fault),
    }
}

/// Appends what could not be cleaned up or put back to a failure reason.
fn with_leftovers(reason: String, leftovers: &[String]) -> String {
    if leftovers.is_empty() {
        reason
    } else {
        format!("{reason}; and {}", leftovers.join("; "))
    }
}

/// Deletes what an execution created (the image, then the snapshot it was made from);
/// `NotFound` counts as deleted. A retryable error is returned so the clean-up is tried again
/// later; any other error is reported as a leftover.
async fn clean_up(cloud: &dyn Cloud, learned: &Learned) -> Result<Vec<String>, CloudError> {
    let mut leftovers = Vec::new();
    if let Some(image_id) = &learned.image_id {
        match cloud.delete_image(image_id).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => leftovers.push(format!("image {image_id} could not be deleted: {e}")),
        }
    }
    if let Some(snapshot_id) = &learned.snapshot_id {
        match cloud.delete_snapshot(snapshot_id).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => leftovers.push(format!("snapshot {snapshot_id} could not be deleted: {e}")),
        }
    }
    Ok(leftovers)
}

/// Fails in `step` for `reason` after deleting what the execution created.
async fn fail_cleaning_up(
    cx: &StepContext<'_>,
    step: Step,
    learned: Learned,
    reason: String,
    cause: Option<&CloudError>,
) -> Result<Transition, Interrupt> {
    let leftovers = clean_up(cx.cloud, &learned)
        .await
        .map_err(Interrupt::Retry)?;
    Ok(Transition::to(
        failed(step, with_leftovers(reason, &leftovers), cause),
        learned,
    ))
}

/// Gives up on `record`'s pending step after its retries ran out: fails the execution with
/// `error`, cleaning up (or putting configurations back) as the step requires. Clean-up calls
/// that fail are listed in the reason.
async fn abandon(
    cx: &StepContext<'_>,
    record: &StepRecord,
    step: Step,
    error: &CloudError,
) -> Transition {
    let learned = record.learned.clone();
    let reason = format!("gave up after {} retries: {}", learned.retries, error);
    match step {
        Step::CreateImage | Step::WaitImage => {
            let leftovers = match clean_up(cx.cloud, &learned).await {
                Ok(leftovers) => leftovers,
                Err(e) => vec![format!("clean-up failed: {e}")],
            };
            Transition::to(
                failed(step, with_leftovers(reason, &leftovers), Some(error)),
                learned,
            )
        }
        Step::SwapConfig | Step::Verify => {
            let leftovers = swap_config::put_back_all(cx.cloud, record).await;
            Transition::to(
                failed(step, with_leftovers(reason, &leftovers), Some(error)),
                learned,
            )
        }
    }
}

/// Runs `record`'s pending step.
async fn run(
    cx: &StepContext<'_>,
    record: &StepRecord,
    step: Step,
) -> Result<Transition, Interrupt> {
    match step {
        Step::CreateImage => create_image::run(cx, record).await,
        Step::WaitImage => wait_image::run(cx, record).await,
        Step::SwapConfig => swap_config::run(cx, record).await,
        Step::Verify => verify::run(cx, record).await,
    }
}

/// Describes `ids` in batches of [`cloud::CONFIGURATIONS_PER_CALL`].
async fn describe_configurations(
    cloud: &dyn Cloud,
    ids: &[String],
) -> Result<Vec<cloud::ScalingConfiguration>, CloudError> {
    let mut all = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(cloud::CONFIGURATIONS_PER_CALL) {
        all.extend(cloud.describe_configurations(chunk).await?);
    }
    Ok(all)
}
