//! ESS error codes, with the HTTP statuses of the Auto Scaling API reference (<https://help.aliyun.com/en/auto-scaling/developer-reference/client-errors> and each
//! operation's page).

use crate::error::RpcError;

/// 404 `InvalidScalingConfigurationId.NotFound`.
pub fn configuration_not_found(id: &str) -> RpcError {
    RpcError::not_found(
        "InvalidScalingConfigurationId.NotFound",
        format!("The specified scaling configuration \"{id}\" does not exist."),
    )
}

/// 404 `InvalidScalingGroupId.NotFound`.
pub fn group_not_found(id: &str) -> RpcError {
    RpcError::not_found(
        "InvalidScalingGroupId.NotFound",
        format!("The specified scaling group \"{id}\" does not exist."),
    )
}

/// 404 `InvalidImageId.NotFound`.
pub fn image_not_found(id: &str, why: &str) -> RpcError {
    RpcError::not_found(
        "InvalidImageId.NotFound",
        format!("The specified image \"{id}\" does not exist{why}."),
    )
}

/// 400 `InvalidScalingConfigurationName.Duplicate`: another configuration of the group has
/// this name (ModifyScalingConfiguration's error table,
/// https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-modifyscalingconfiguration).
pub fn configuration_name_duplicate(name: &str) -> RpcError {
    RpcError::bad_request(
        "InvalidScalingConfigurationName.Duplicate",
        format!(
            "The specified value of parameter \"ScalingConfigurationName\" is duplicated: \"{name}\"."
        ),
    )
}

/// 400 `IncorrectScalingGroupStatus`: the group is disabled.
pub fn incorrect_group_status(id: &str) -> RpcError {
    RpcError::bad_request(
        "IncorrectScalingGroupStatus",
        format!(
            "The current status of the specified scaling group does not support this action: \"{id}\" is disabled."
        ),
    )
}

/// 404 `InvalidInstanceId.NotFound`: the instance is not in the group.
pub fn scaling_instance_not_found(id: &str) -> RpcError {
    RpcError::not_found(
        "InvalidInstanceId.NotFound",
        format!("Instance \u{201c}{id}\u{201d} does not exist in the scaling group."),
    )
}

/// 400 `IncorrectInstanceStatus`.
pub fn incorrect_instance_status(id: &str, state: &str) -> RpcError {
    RpcError::bad_request(
        "IncorrectInstanceStatus",
        format!(
            "The current status of instance \u{201c}{id}\u{201d} does not support this action: it is {state}."
        ),
    )
}

/// 400 `ScalingActivityInProgress`.
pub fn activity_in_progress(activity: &str) -> RpcError {
    RpcError::bad_request(
        "ScalingActivityInProgress",
        format!(
            "You cannot delete a scaling group or launch a new scaling activity while there is a scaling activity in progress for the specified scaling group ({activity})."
        ),
    )
}

/// 400 `IdempotentParameterMismatch`: a ClientToken reused with other parameters
/// (https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/how-to-ensure-idempotence;
/// the status is the sim's choice).
pub fn idempotent_mismatch() -> RpcError {
    RpcError::bad_request(
        "IdempotentParameterMismatch",
        "The request uses a ClientToken of a previous request with other parameters.",
    )
}
