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

// Tags (TagResources, UntagResources, ListTagResources): each operation's error table
// (<https://www.alibabacloud.com/help/en/elastic-compute-service/latest/tagresources>), the
// same rows on the three pages, messages as documented.

/// 404 `MissingParameter.<name>` ("The parameter - RegionId should not be null"): the tag
/// operations name the missing parameter in the code, and answer 404.
pub fn tag_parameter_missing(name: &str) -> RpcError {
    RpcError::not_found(
        format!("MissingParameter.{name}"),
        format!("The parameter - {name} should not be null"),
    )
}

/// 404 `InvalidResourceType.NotFound`: a `ResourceType` the tag operations do not know.
pub fn resource_type_not_found() -> RpcError {
    RpcError::not_found(
        "InvalidResourceType.NotFound",
        "The ResourceType provided does not exist in our records.",
    )
}

/// 404 `InvalidResourceId.NotFound`.
pub fn resource_id_not_found() -> RpcError {
    RpcError::not_found(
        "InvalidResourceId.NotFound",
        "The specified ResourceIds are not found in our records.",
    )
}

/// 403 `InvalidResourceId.NotSupported`: a resource that cannot be tagged (a public image).
pub fn resource_id_not_supported() -> RpcError {
    RpcError::forbidden(
        "InvalidResourceId.NotSupported",
        "The specified ResourceId does not support tagging.",
    )
}

/// 400 `NumberExceed.ResourceIds`: more than 50 `ResourceId.N`.
pub fn too_many_resource_ids() -> RpcError {
    RpcError::bad_request(
        "NumberExceed.ResourceIds",
        "The ResourceIds parameter's number is exceed , Valid : 50",
    )
}

/// 400 `NumberExceed.Tags`: more than 20 `Tag.N` (or `TagKey.N`) in one request.
pub fn too_many_tags() -> RpcError {
    RpcError::bad_request(
        "NumberExceed.Tags",
        "The Tags parameter's number is exceed , Valid : 20",
    )
}

/// 400 `InvalidTagKey.Malformed`.
pub fn tag_key_malformed() -> RpcError {
    RpcError::bad_request(
        "InvalidTagKey.Malformed",
        "The specified Tag.n.Key is not valid.",
    )
}

/// 400 `InvalidTagValue.Malformed`.
pub fn tag_value_malformed() -> RpcError {
    RpcError::bad_request(
        "InvalidTagValue.Malformed",
        "The specified Tag.n.Value is not valid.",
    )
}

/// 400 `Duplicate.TagKey`: one key twice in a request.
pub fn duplicate_tag_key() -> RpcError {
    RpcError::bad_request("Duplicate.TagKey", "The Tag.N.Key contain duplicate key.")
}

/// 400 `OperationDenied.QuotaExceed`: a resource would hold more than 20 tags.
pub fn tag_quota_exceeded() -> RpcError {
    RpcError::bad_request(
        "OperationDenied.QuotaExceed",
        "The quota of tags on resource is beyond permitted range.",
    )
}

/// 400 `InvalidParameter.TagValue`: ListTagResources given a `Tag.N.Value` without its key
/// (its parameter description; no status is documented).
pub fn tag_value_without_key() -> RpcError {
    RpcError::bad_request(
        "InvalidParameter.TagValue",
        "The specified Tag.N.Value is given without its Tag.N.Key.",
    )
}

// DescribeImageSupportInstanceTypes
// (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeimagesupportinstancetypes>).

/// 404 `InvalidUsage` (sic, "specifed"): an `ActionType` the operation does not take.
pub fn invalid_usage() -> RpcError {
    RpcError::not_found("InvalidUsage", "The specifed Usage is not valid")
}

/// 400 `InvalidInstanceType.ValueNotSupported`: an instance type outside the sim's catalogue.
pub fn instance_type_not_supported(instance_type: &str) -> RpcError {
    RpcError::bad_request(
        "InvalidInstanceType.ValueNotSupported",
        format!(
            "The specified InstanceType does not exist or beyond the permitted range: \"{}\".",
            crate::params::truncate(instance_type, 64)
        ),
    )
}

// DescribeInstanceTypes and RunInstances
// (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeinstancetypes>,
// <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-runinstances>).

/// 400 `InvalidParameter.MaxResults` (ECS's common error codes): `MaxResults` outside its range.
pub fn max_results_invalid(value: &str) -> RpcError {
    RpcError::bad_request(
        "InvalidParameter.MaxResults",
        format!(
            "The specified parameter MaxResults is not valid. \"{}\" is not an integer from 1 to 1600.",
            crate::params::truncate(value, 40)
        ),
    )
}

/// 400 `DryRunOperation`: every check of a dry run of a single-instance operation
/// (StopInstance, StartInstance) or of RunInstances passed.
pub fn dry_run_operation() -> RpcError {
    RpcError::bad_request(
        "DryRunOperation",
        "Request validation has been passed with DryRun flag set.",
    )
}

/// 400 `OperationDenied` ("The current user does not support this operation."): RunInstances
/// without `DryRun`, which the sim answers only as a dry run.
pub fn launch_not_supported() -> RpcError {
    RpcError::bad_request(
        "OperationDenied",
        "The current user does not support this operation: the sim launches no instances; \
         RunInstances is answered with DryRun=true only.",
    )
}

/// 403 `OperationDenied.ImageNotValid`: an image that is not Available.
pub fn image_not_valid(id: &str, status: &str) -> RpcError {
    RpcError::forbidden(
        "OperationDenied.ImageNotValid",
        format!(
            "The specified image \"{id}\" is {status}: only an Available image launches instances."
        ),
    )
}

/// 403 `ImageNotSupportInstanceType`: the image does not run on the type (its architecture,
/// or the admin interface's restriction).
pub fn image_not_support_instance_type(image_id: &str, instance_type: &str) -> RpcError {
    RpcError::forbidden(
        "ImageNotSupportInstanceType",
        format!(
            "The specified image does not support the specified InstanceType: {image_id} on {instance_type}."
        ),
    )
}

/// 400 `InvalidParameter.Conflict` ("The specified image does not support the specified
/// instance type."): the type cannot boot the image's boot mode.
pub fn boot_mode_not_supported(
    image_id: &str,
    boot_mode: &str,
    instance_type: &str,
    type_modes: &[&str],
) -> RpcError {
    RpcError::bad_request(
        "InvalidParameter.Conflict",
        format!(
            "The specified image does not support the specified instance type: {image_id} boots {boot_mode}, \
             {instance_type} supports {}.",
            type_modes.join(" and ")
        ),
    )
}

/// 403 `OperationDenied.NoStock`: the admin interface marked the type out of stock.
pub fn no_stock() -> RpcError {
    RpcError::forbidden(
        "OperationDenied.NoStock",
        "The resource is out of stock in the specified zone. Please try other types, or choose other regions and zones.",
    )
}

/// 404 `InvalidSystemDiskSize.LessThanImageSize`.
pub fn system_disk_less_than_image(size: u32, image_size: u32) -> RpcError {
    RpcError::not_found(
        "InvalidSystemDiskSize.LessThanImageSize",
        format!(
            "The specified parameter SystemDisk.Size is less than the image size: {size} GiB < {image_size} GiB."
        ),
    )
}

/// 404 `InvalidSystemDiskSize.LessThanMinSize`.
pub fn system_disk_less_than_min(size: i64, min: u32) -> RpcError {
    RpcError::not_found(
        "InvalidSystemDiskSize.LessThanMinSize",
        format!(
            "The specified parameter SystemDisk.Size is less than the min size: {size} GiB < {min} GiB."
        ),
    )
}

/// 403 `InvalidDisk.SystemDiskSize`: above the category's largest system disk.
pub fn system_disk_too_large(size: i64, max: u32) -> RpcError {
    RpcError::forbidden(
        "InvalidDisk.SystemDiskSize",
        format!("The specified SystemDiskSize beyond the permitted range: {size} GiB > {max} GiB."),
    )
}

/// 400 `InvalidSystemDiskSize.ValueNotSupported`: not a whole number of GiB.
pub fn system_disk_size_malformed(value: &str) -> RpcError {
    RpcError::bad_request(
        "InvalidSystemDiskSize.ValueNotSupported",
        format!(
            "The specified SystemDisk.Size \"{}\" is not valid.",
            crate::params::truncate(value, 40)
        ),
    )
}

/// 400 `InvalidSystemDiskCategory.ValueNotSupported`.
pub fn system_disk_category_invalid() -> RpcError {
    RpcError::bad_request(
        "InvalidSystemDiskCategory.ValueNotSupported",
        "The specified parameter \"SystemDisk.Category\" is not valid.",
    )
}

/// 403 `InvalidDiskCategory.NotSupported`: `cloud_essd_entry` on a type outside `ecs.u1` and
/// `ecs.e`.
pub fn disk_category_not_supported(category: &str, instance_type: &str) -> RpcError {
    RpcError::forbidden(
        "InvalidDiskCategory.NotSupported",
        format!(
            "The specified disk category is not support the specified instance type: {category} on {instance_type}."
        ),
    )
}

/// 403 `InvalidParam.Amount`: `Amount` outside 1 to 100.
pub fn amount_invalid(value: &str) -> RpcError {
    RpcError::forbidden(
        "InvalidParam.Amount",
        format!(
            "The specified Amount \"{}\" is not valid: 1 to 100.",
            crate::params::truncate(value, 40)
        ),
    )
}

/// 400 `InvalidMinAmount.Malformed`.
pub fn min_amount_invalid() -> RpcError {
    RpcError::bad_request(
        "InvalidMinAmount.Malformed",
        "The specified parameter MinAmount is not valid.",
    )
}

/// 404 `InvalidSecurityGroupId.NotFound`: not a security group id.
pub fn security_group_not_found(id: &str) -> RpcError {
    RpcError::not_found(
        "InvalidSecurityGroupId.NotFound",
        format!(
            "The SecurityGroupId provided does not exist in our records: \"{}\".",
            crate::params::truncate(id, 64)
        ),
    )
}

/// 404 `InvalidVSwitchId.NotFound`: not a vSwitch id.
pub fn vswitch_not_found(id: &str) -> RpcError {
    RpcError::not_found(
        "InvalidVSwitchId.NotFound",
        format!(
            "Specified virtual switch does not exist: \"{}\".",
            crate::params::truncate(id, 64)
        ),
    )
}

/// 404 `InvalidZoneId.NotFound`: not a zone of the sim's region.
pub fn zone_not_found(id: &str) -> RpcError {
    RpcError::not_found(
        "InvalidZoneId.NotFound",
        format!(
            "The specified zoneId does not exist: \"{}\".",
            crate::params::truncate(id, 64)
        ),
    )
}

// Image and snapshot deletion
// (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-deleteimage>,
// <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-deletesnapshot>).

/// 403 `ImageUsingByInstance`: instances run from the image (DeleteImage without `Force`).
pub fn image_used_by_instance() -> RpcError {
    RpcError::forbidden(
        "ImageUsingByInstance",
        "The specified image has been used to create instances. You can use the DescribeInstances API to query these \
         instances, or you can use the force parameter to proceed.",
    )
}

/// 403 `ImageUseShared`: the image is shared with other accounts (`Force` or not).
pub fn image_shared() -> RpcError {
    RpcError::forbidden(
        "ImageUseShared",
        "The specified image has been shared to others. You can use the DescribeImageSharePermission API to query the \
         users who have been shared.",
    )
}

/// 403 `ImageIsPublic`: a community image, which must be unpublished first.
pub fn image_is_public() -> RpcError {
    RpcError::forbidden(
        "ImageIsPublic",
        "You can not delete public image, please modify it to private.",
    )
}

/// 403 `SnapshotCreatedImage`: images hold the snapshot (`Force` or not).
pub fn snapshot_created_image(snapshot_id: &str, images: &[&str]) -> RpcError {
    RpcError::forbidden(
        "SnapshotCreatedImage",
        format!(
            "The snapshot has been used to create user defined image(s): {snapshot_id} is held by {}.",
            images.join(", ")
        ),
    )
}

/// 403 `SnapshotCreatedDisk`: disks were created from the snapshot (without `Force`).
pub fn snapshot_created_disk(snapshot_id: &str) -> RpcError {
    RpcError::forbidden(
        "SnapshotCreatedDisk",
        format!("The snapshot has been used to create disk(s): {snapshot_id}."),
    )
}

// Launch templates
// (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-createlaunchtemplate>
// and the pages of the other template operations).

/// 404 `InvalidLaunchTemplate.NotFound`, with the message of the older error tables.
pub fn launch_template_not_found(id: Option<&str>, name: Option<&str>) -> RpcError {
    RpcError::not_found(
        "InvalidLaunchTemplate.NotFound",
        format!(
            "The specified LaunchTemplateId \"{}\" LaunchTemplateName \"{}\" is not found.",
            crate::params::truncate(id.unwrap_or_default(), 64),
            crate::params::truncate(name.unwrap_or_default(), 140)
        ),
    )
}

/// 404 `InvalidLaunchTemplateVersion.NotFound`.
pub fn launch_template_version_not_found(id: &str, version: i64) -> RpcError {
    RpcError::not_found(
        "InvalidLaunchTemplateVersion.NotFound",
        format!("The specified version {version} of launch template {id} does not exist."),
    )
}

/// 400 `InvalidLaunchTemplateName.Malformed`.
pub fn launch_template_name_malformed() -> RpcError {
    RpcError::bad_request(
        "InvalidLaunchTemplateName.Malformed",
        "The specified parameter LaunchTemplateName is not valid.",
    )
}

/// 403 `LaunchTemplateName.Duplicated`.
pub fn launch_template_name_duplicated(name: &str) -> RpcError {
    RpcError::forbidden(
        "LaunchTemplateName.Duplicated",
        format!(
            "The specified launch template name already exists: \"{}\".",
            crate::params::truncate(name, 140)
        ),
    )
}

/// 403 `LaunchTemplateLimitExceed`: the region holds the most templates it may.
pub fn launch_template_limit(max: usize) -> RpcError {
    RpcError::forbidden(
        "LaunchTemplateLimitExceed",
        format!("The maximum number of launch templates has been reached: {max} in a region."),
    )
}

/// 403 `LaunchTemplateVersionLimitExceed`: the template holds the most versions it may.
pub fn launch_template_version_limit(max: usize) -> RpcError {
    RpcError::forbidden(
        "LaunchTemplateVersionLimitExceed",
        format!(
            "The maximum number of launch template versions has been reached: {max} in a template."
        ),
    )
}

/// 403 `InvalidOperation.DeleteDefaultVersion`.
pub fn delete_default_version(id: &str, version: i64) -> RpcError {
    RpcError::forbidden(
        "InvalidOperation.DeleteDefaultVersion",
        format!(
            "The operation is invalid: version {version} is the default version of launch template {id} and cannot be deleted."
        ),
    )
}

/// 400 `InvalidDescription.Malformed` for `VersionDescription`.
pub fn version_description_malformed() -> RpcError {
    RpcError::bad_request(
        "InvalidDescription.Malformed",
        "The specified parameter \"VersionDescription\" is not valid.",
    )
}

/// 403 `QuotaExceed.Tags`: more than 20 `TemplateTag.N`.
pub fn template_tags_quota() -> RpcError {
    RpcError::forbidden(
        "QuotaExceed.Tags",
        "The number of specified tags exceeds the upper limit: at most 20 TemplateTag.N.",
    )
}

// Image sharing
// (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-modifyimagesharepermission>).

/// 404 `InvalidAccount.NotFound`: not an account id.
pub fn account_not_found(account: &str) -> RpcError {
    RpcError::not_found(
        "InvalidAccount.NotFound",
        format!(
            "The specified account {} in parameter \"AddAccount.n\" or \"RemoveAccount.n\" does not exist.",
            crate::params::truncate(account, 64)
        ),
    )
}

/// 404 `InvalidAccount.Forbbiden` (sic): the account's own id.
pub fn account_is_self() -> RpcError {
    RpcError::not_found(
        "InvalidAccount.Forbbiden",
        "The specified Account does not yourself.",
    )
}

/// 403 `QuotaExceed.ShareImageUser`: more than 50 accounts.
pub fn share_quota(max: usize) -> RpcError {
    RpcError::forbidden(
        "QuotaExceed.ShareImageUser",
        format!(
            "The shared Image user Quota exceeds: an image is shared with at most {max} accounts."
        ),
    )
}

/// 403 `Image.NotPublic`: unpublishing an image that is not a community image.
pub fn image_not_public() -> RpcError {
    RpcError::forbidden(
        "Image.NotPublic",
        "The specified image is not public image.",
    )
}

/// 403 `Image.Public`: sharing a community image with accounts.
pub fn image_public() -> RpcError {
    RpcError::forbidden("Image.Public", "The specified image is public image.")
}

/// 403 `InvalidParameter.IsPublic`: `IsPublic` with `AddAccount.N` or `RemoveAccount.N`.
pub fn is_public_conflict() -> RpcError {
    RpcError::forbidden(
        "InvalidParameter.IsPublic",
        "The specified parameter IsPublic is conflicted with other parameters.",
    )
}

/// 400 `UnnecessaryParameter.LaunchPermission`: with `AddAccount.N` or `RemoveAccount.N`.
pub fn launch_permission_unnecessary() -> RpcError {
    RpcError::bad_request(
        "UnnecessaryParameter.LaunchPermission",
        "The specified parameter \"LaunchPermission\" is unnecessary if paramter \"AddAccounts\" or \"RemoveAccounts\" exist.",
    )
}

/// 400 `ForbiddenParameter.LaunchPermission`: the parameter is in invitational preview.
pub fn launch_permission_forbidden() -> RpcError {
    RpcError::bad_request(
        "ForbiddenParameter.LaunchPermission",
        "The specified parameter \"LaunchPermission\" is forbidden for current account.",
    )
}
