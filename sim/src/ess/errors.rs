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
