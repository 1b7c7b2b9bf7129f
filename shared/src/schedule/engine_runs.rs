//! Starting a task's runs with the execution engine.

use super::tick::{RunError, RunFuture, RunRequest, RunStarted, Runs};
use crate::model::execution::UpdateRequest;
use crate::model::task::TaskRecord;
use crate::steps::{Engine, EngineError};

/// The update request one run of `task` asks for.
pub fn update_request(task: &TaskRecord) -> UpdateRequest {
    UpdateRequest {
        allow_default_version_change: task.spec.allow_default_version_change,
        scaling_group_ids: task.spec.scaling_group_ids.clone(),
        instance_id: task.spec.source_instance_id.clone(),
        image_name: task.spec.image_name.clone(),
        configuration_ids: task.spec.scaling_configuration_ids.clone(),
        permission: task.spec.permission.clone(),
        task_id: Some(task.task_id.clone()),
        rollout: task.spec.rollout.clone(),
        allow_platform_change: task.spec.allow_platform_change,
    }
}

/// The engine starts a run by creating its record 0 if absent and dispatching create-image;
/// an id that is taken means the slot or delivery was started before.
impl Runs for Engine {
    fn start(&self, request: RunRequest) -> RunFuture<'_> {
        Box::pin(async move {
            let execution_id = request.execution_id.clone();
            match Engine::start(self, update_request(&request.task), request.execution_id).await {
                Ok(record) => Ok(RunStarted {
                    execution_id: record.execution_id,
                    created: true,
                }),
                Err(EngineError::AlreadyStarted(execution_id)) => Ok(RunStarted {
                    execution_id,
                    created: false,
                }),
                Err(err) => Err(RunError {
                    execution_id,
                    message: crate::report::chain(&err),
                }),
            }
        })
    }
}
