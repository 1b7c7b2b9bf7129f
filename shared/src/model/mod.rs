//! The domain model: executions and their step records, image naming rules, tasks.

use serde::{Deserialize, Serialize};

pub mod execution;
pub mod naming;
pub mod schedule;
pub mod task;
pub mod validate;

pub use execution::{
    CloudFault, ExecutionId, Failure, Learned, PreviousImage, PreviousTemplate, State, Step,
    StepEvent, StepRecord, UpdateRequest, Waiting,
};

/// Whose permissions an execution's cloud calls use.
///
/// The Auto Scaling console offers the same two choices for an image update task: the current
/// account's own permissions (for a task executed now), or a RAM role that reimage assumes
/// through STS for every call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PermissionSource {
    /// The credentials reimage itself runs with (the function's role under Function Compute).
    Account,
    /// A RAM role assumed with STS AssumeRole, e.g. `acs:ram::123456789012:role/reimage`.
    RamRole {
        /// The role's ARN.
        role_arn: String,
    },
}
