//! ECS error codes, with the HTTP statuses of the ECS API reference (each operation's page, e.g.
//! <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-createimage>).

use crate::error::RpcError;

/// 404 `InvalidInstanceId.NotFound`.
pub fn instance_not_found(id: &str) -> RpcError {
    RpcError::not_found(
        "InvalidInstanceId.NotFound",
        format!("The specified InstanceId \"{id}\" does not exist."),
    )
}

/// 404 `InvalidDiskId.NotFound`.
pub fn disk_not_found(id: &str) -> RpcError {
    RpcError::not_found(
        "InvalidDiskId.NotFound",
        format!("The specified disk \"{id}\" does not exist."),
    )
}

/// 404 `InvalidSnapshotId.NotFound`.
pub fn snapshot_not_found(id: &str) -> RpcError {
    RpcError::not_found(
        "InvalidSnapshotId.NotFound",
        format!("The specified snapshot \"{id}\" does not exist."),
    )
}

/// 403 `InvalidSnapshotId.NotReady`: an image needs an accomplished snapshot.
pub fn snapshot_not_ready(id: &str) -> RpcError {
    RpcError::forbidden(
        "InvalidSnapshotId.NotReady",
        format!("The specified snapshot \"{id}\" has not completed yet."),
    )
}

/// 404 `InvalidImageId.NotFound`.
pub fn image_not_found(id: &str) -> RpcError {
    RpcError::not_found(
        "InvalidImageId.NotFound",
        format!("The specified image \"{id}\" does not exist."),
    )
}

/// 400 `InvalidImageName.Malformed`.
pub fn image_name_malformed(name: &str) -> RpcError {
    RpcError::bad_request(
        "InvalidImageName.Malformed",
        format!(
            "Specified image name \"{}\" is not valid: 2 to 128 characters, starting with a letter, \
             containing only letters, digits, colons (:), underscores (_), hyphens (-) and periods (.), \
             and not starting with http:// or https://.",
            crate::params::truncate(name, 140)
        ),
    )
}

/// 400 `InvalidImageName.Duplicated`.
pub fn image_name_duplicated(name: &str) -> RpcError {
    RpcError::bad_request(
        "InvalidImageName.Duplicated",
        format!("The specified Image name \"{name}\" has already been used."),
    )
}

/// 400 `IncorrectInstanceStatus` (CreateImage's table says 400; Stop/Start say 403).
pub fn incorrect_instance_status(id: &str, status: &str) -> RpcError {
    RpcError::bad_request(
        "IncorrectInstanceStatus",
        format!(
            "The current status of the instance does not support this operation: {id} is {status}.",
        ),
    )
}

/// A ClientToken reused with other parameters. The code and status differ by operation, each
/// as its own error table says: CreateSnapshot answers 403 `IdempotentParameterMismatch`
/// (https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-createsnapshot),
/// CreateImage 400 `IdempotenceParamNotMatch`
/// (https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-createimage);
/// any other operation the generic 400 `IdempotentParameterMismatch` of
/// https://www.alibabacloud.com/help/en/ecs/developer-reference/how-to-ensure-idempotence.
pub fn idempotent_mismatch(action: &str) -> RpcError {
    match action {
        "CreateImage" => RpcError::bad_request(
            "IdempotenceParamNotMatch",
            "Request uses a client token in a previous request but is not identical to that request.",
        ),
        "CreateSnapshot" => RpcError::forbidden(
            "IdempotentParameterMismatch",
            "The request is retried with updated parameters: this ClientToken was used before with other parameters.",
        ),
        _ => RpcError::bad_request(
            "IdempotentParameterMismatch",
            "The request is retried with updated parameters: this ClientToken was used before with other parameters.",
        ),
    }
}

/// 403 `IncorrectDiskStatus.CreatingSnapshot`: the disk has a snapshot in progress
/// (CreateSnapshot's error table; "a snapshot is being created for the disk" is one of the
/// documented cases in which no snapshot can be created).
pub fn disk_creating_snapshot(disk_id: &str) -> RpcError {
    RpcError::forbidden(
        "IncorrectDiskStatus.CreatingSnapshot",
        format!("A previous snapshot of disk \"{disk_id}\" is still being created."),
    )
}

/// 403 `InstanceLockedForSecurity`.
pub fn locked_for_security(id: &str) -> RpcError {
    RpcError::forbidden(
        "InstanceLockedForSecurity",
        format!(
            "The specified operation is denied as your instance {id} is locked for security reasons."
        ),
    )
}

/// 403 `DiskError`: StartInstance's answer when the system disk is not ready (its error table
/// gives the message "IncorrectDiskStatus.").
pub fn disk_error(id: &str) -> RpcError {
    RpcError::forbidden(
        "DiskError",
        format!("IncorrectDiskStatus. The system disk of instance {id} is not ready."),
    )
}
