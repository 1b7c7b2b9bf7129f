//! The notice of an execution's last record, and of a rollout's record that ends it or
//! waits for an operator.

use super::delivery::DeliveryConfig;
use super::message::{Cause, ImageChange, Notice, Outcome, Subject};
use crate::model::{State, StepRecord};
use crate::rollout::{Outcome as RolloutOutcome, RolloutRecord};

/// The notice of `record`, the last record of an execution; `None` while it is pending, and
/// for one superseded by another (whose own notice will tell).
pub fn execution_notice(record: &StepRecord, config: &DeliveryConfig) -> Option<Notice> {
    let (outcome, cause) = match &record.state {
        State::Pending { .. } | State::Superseded { .. } => return None,
        State::Succeeded => (Outcome::Succeeded, None),
        State::Failed(failure) => {
            let summary = format!("{} failed: {}", failure.step, failure.reason);
            let cause = match &failure.cloud {
                Some(cloud) => Cause::cloud(summary, &cloud.code, &cloud.message),
                None => Cause::new(summary),
            };
            let outcome = if record.learned.rolling_back.is_some() {
                Outcome::RolledBack
            } else {
                Outcome::Failed
            };
            (outcome, Some(cause))
        }
    };
    let changes = match &record.learned.image_id {
        None => Vec::new(),
        Some(new_image_id) => record
            .request
            .configuration_ids
            .iter()
            .map(|configuration| ImageChange {
                scaling_configuration_id: configuration.clone(),
                old_image_id: record
                    .learned
                    .previous_images
                    .iter()
                    .flatten()
                    .find(|p| &p.configuration_id == configuration)
                    .map(|p| p.image_id.clone()),
                new_image_id: new_image_id.clone(),
            })
            .collect(),
    };
    Some(Notice {
        subject: Subject::Execution(record.execution_id.clone()),
        task_id: record.request.task_id.clone(),
        outcome,
        cause,
        image_id: record.learned.image_id.clone(),
        image_name: Some(record.image_name.clone()),
        changes,
        started_at: record.started_at,
        ended_at: record.written_at,
        link: config.link(&format!("executions/{}", record.execution_id)),
        task_disabled: None,
    })
}

/// The notice of `record` when it ends its rollout or leaves it waiting for an operator;
/// `None` for a record in between.
pub fn rollout_notice(
    record: &RolloutRecord,
    task_id: Option<String>,
    config: &DeliveryConfig,
) -> Option<Notice> {
    let (outcome, cause) = if record.ended() {
        match record.outcome.as_ref()? {
            RolloutOutcome::Succeeded => (Outcome::Succeeded, None),
            RolloutOutcome::RolledBack { reason } => {
                (Outcome::RolledBack, Some(Cause::new(reason.clone())))
            }
            other @ (RolloutOutcome::Refused { .. } | RolloutOutcome::Cancelled { .. }) => {
                (Outcome::Failed, Some(Cause::new(other.to_string())))
            }
            RolloutOutcome::Paused { reason } => {
                (Outcome::AwaitsApproval, Some(Cause::new(reason.clone())))
            }
        }
    } else if record.awaits_operator() {
        let why = record
            .failure
            .clone()
            .unwrap_or_else(|| "a checkpoint waits for `continue`".into());
        (Outcome::AwaitsApproval, Some(Cause::new(why)))
    } else {
        return None;
    };
    Some(Notice {
        subject: Subject::Rollout(record.rollout_id.clone()),
        task_id,
        outcome,
        cause,
        image_id: Some(record.spec.image_id.clone()),
        image_name: None,
        changes: Vec::new(),
        started_at: record.started_at,
        ended_at: record.at,
        link: config.link(&format!("rollouts/{}", record.rollout_id)),
        task_disabled: None,
    })
}
