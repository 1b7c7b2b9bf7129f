//! STS error codes. STS documents no HTTP statuses for its own codes (<https://www.alibabacloud.com/help/doc-detail/28763.html>); the sim
//! answers 400 for malformed parameters, 403 for `NoPermission` and 404 for
//! `EntityNotExist.Role`, as the RAM/STS gateway does for its other NotFound and permission
//! errors.

use crate::error::RpcError;

/// 400 `InvalidParameter.RoleArn`.
pub fn role_arn_malformed(arn: &str) -> RpcError {
    RpcError::bad_request(
        "InvalidParameter.RoleArn",
        format!(
            "The parameter RoleArn \"{}\" is wrongly formed: expected acs:ram::<account-id>:role/<role-name>.",
            crate::params::truncate(arn, 200)
        ),
    )
}

/// 404 `EntityNotExist.Role`.
pub fn role_not_found(arn: &str) -> RpcError {
    RpcError::not_found(
        "EntityNotExist.Role",
        format!(
            "The role not exists: {}.",
            crate::params::truncate(arn, 200)
        ),
    )
}

/// 403 `NoPermission`: the root account may not assume roles.
pub fn root_may_not_assume() -> RpcError {
    RpcError::forbidden("NoPermission", "Roles may not be assumed by root accounts.")
}

/// 400 `InvalidParameter.RoleSessionName`.
pub fn session_name_malformed() -> RpcError {
    RpcError::bad_request(
        "InvalidParameter.RoleSessionName",
        "The parameter RoleSessionName is wrongly formed: 2 to 64 characters, letters, digits, periods (.), at signs (@), hyphens (-) and underscores (_).",
    )
}

/// 400 `InvalidParameter.DurationSeconds`.
pub fn duration_out_of_range(max: u32) -> RpcError {
    RpcError::bad_request(
        "InvalidParameter.DurationSeconds",
        format!("The Min/Max value of DurationSeconds is 900/{max} seconds for this role."),
    )
}

/// 400 `InvalidParameter.PolicyGrammar`.
pub fn policy_grammar() -> RpcError {
    RpcError::bad_request(
        "InvalidParameter.PolicyGrammar",
        "The parameter Policy has not passed grammar check: it must be a JSON document of 1 to 2048 characters.",
    )
}
