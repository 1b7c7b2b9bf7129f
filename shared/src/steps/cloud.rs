//! The cloud operations the steps need, as a small trait.
//!
//! The steps are written against [`Cloud`], not against the HTTP clients directly: the
//! production implementation sits on [`crate::aliyun`]'s ECS and ESS clients, and tests wrap
//! it (or a fake) to fail or "crash" before or after any call. Each method is one API call;
//! batching (10 configuration ids per DescribeScalingConfigurations) is done by the steps, so
//! the number of calls an execution makes is visible in one place.

use std::fmt;
use std::sync::Arc;

use crate::model::{CloudFault, PermissionSource};

/// A boxed future returned by [`Cloud`] methods.
pub type CloudFuture<'a, T> = futures::future::BoxFuture<'a, Result<T, CloudError>>;

/// Every image status ECS knows. DescribeImages shows only Available images unless asked for
/// others, so wait-image, verify and the pre-flight pass this list.
pub const ALL_IMAGE_STATUSES: &[&str] = &[
    "Creating",
    "Waiting",
    "Available",
    "UnAvailable",
    "CreateFailed",
    "Deprecated",
];

/// How many scaling configuration ids DescribeScalingConfigurations takes per call.
pub const CONFIGURATIONS_PER_CALL: usize = 10;
/// How many scaling group ids DescribeScalingGroups takes per call.
pub const GROUPS_PER_CALL: usize = 20;

/// How a failed call may be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `Throttling`, `Throttling.User`, `Throttling.Api`: retrying later may succeed.
    Throttling,
    /// 5xx, connection failures, timeouts: retrying later may succeed.
    Transient,
    /// The cloud refused the request (4xx): retrying the same request will not help.
    Client,
}

/// A failed cloud call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action} failed: {code}: {message}")]
pub struct CloudError {
    /// The API action, e.g. `CreateImage`.
    pub action: String,
    /// How the failure is classified.
    pub kind: ErrorKind,
    /// The cloud's error Code (or a reimage code such as `ConnectionFailed` when the cloud
    /// never answered).
    pub code: String,
    /// The cloud's Message, or a description of the transport failure.
    pub message: String,
    /// The RequestId, when the cloud answered.
    pub request_id: Option<String>,
    /// The HTTP status, when the cloud answered.
    pub http_status: Option<u16>,
}

impl CloudError {
    /// A client error with `code` and `message` (used by fakes and by tests).
    pub fn client(action: &str, code: &str, message: &str) -> Self {
        Self {
            action: action.to_owned(),
            kind: ErrorKind::Client,
            code: code.to_owned(),
            message: message.to_owned(),
            request_id: None,
            http_status: Some(400),
        }
    }

    /// A transient error (used by fakes and by tests).
    pub fn transient(action: &str, code: &str, message: &str) -> Self {
        Self {
            kind: ErrorKind::Transient,
            http_status: Some(503),
            ..Self::client(action, code, message)
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Throttling | ErrorKind::Transient)
    }

    /// Whether the cloud said the thing does not exist (`….NotFound`).
    pub fn is_not_found(&self) -> bool {
        self.code.ends_with(".NotFound")
    }

    /// The error as an execution records it.
    pub fn fault(&self) -> CloudFault {
        CloudFault {
            code: self.code.clone(),
            message: self.message.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

/// An ECS instance, as far as the steps care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// `i-…`
    pub instance_id: String,
    /// `Pending`, `Starting`, `Running`, `Stopping` or `Stopped`.
    pub status: String,
}

/// A snapshot being taken or taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `s-…`
    pub snapshot_id: String,
    /// `progressing`, `accomplished` or `failed`.
    pub status: String,
    /// Progress in percent, from the cloud's `"NN%"`.
    pub progress: Option<u8>,
}

/// A custom image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Image {
    /// `m-…`
    pub image_id: String,
    /// Its name.
    pub image_name: String,
    /// `Creating`, `Waiting`, `Available`, `UnAvailable`, `CreateFailed` or `Deprecated`.
    pub status: String,
    /// Progress in percent, from the cloud's `"NN%"`.
    pub progress: Option<u8>,
    /// `x86_64`, `arm64` or `i386` (empty when the cloud did not say).
    pub architecture: String,
    /// `linux` or `windows` (empty when the cloud did not say).
    pub os_type: String,
    /// Its size, GiB: the smallest system disk it fits (0 when the cloud did not say).
    pub size_gib: u32,
    /// Its platform: `Ubuntu`, `CentOS`, `Aliyun`, `Windows Server 2022`, … (empty when the
    /// cloud did not say).
    pub platform: String,
    /// `BIOS`, `UEFI` or `UEFI-Preferred` (empty when the cloud did not say).
    pub boot_mode: String,
}

/// An instance type and the boot modes it supports (`BIOS`, `UEFI`).
pub type BootModes = (String, Vec<String>);

/// The request of a RunInstances dry run: the ECS client's own.
pub use crate::aliyun::ecs::RunInstancesRequest;

/// What ECS answered a RunInstances dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DryRun {
    /// `DryRunOperation`: every check passed, the launch would succeed.
    Passes,
    /// The launch would be refused with this Code and Message.
    Refused {
        /// The cloud's error Code, e.g. `OperationDenied.NoStock`.
        code: String,
        /// The cloud's Message.
        message: String,
    },
}

/// A scaling configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScalingConfiguration {
    /// `asc-…`
    pub scaling_configuration_id: String,
    /// The group it belongs to.
    pub scaling_group_id: String,
    /// `Active` or `Inactive`.
    pub lifecycle_state: String,
    /// The image it launches instances from.
    pub image_id: String,
    /// The system disk size of the instances it launches, GiB (0 when the cloud did not say).
    pub system_disk_size: u32,
    /// The instance type it launches (empty when the cloud did not say): the first of
    /// `instance_types`.
    pub instance_type: String,
    /// Every instance type it launches, in priority order (`InstanceTypes`, else
    /// `InstanceType` alone; empty when the cloud did not say). ESS tries the next type when
    /// it cannot create an instance of one.
    pub instance_types: Vec<String>,
    /// Its instances' security groups (`SecurityGroupIds`, else `SecurityGroupId` alone;
    /// empty when the cloud did not say).
    pub security_group_ids: Vec<String>,
    /// The category of its instances' system disks: `cloud_essd`, `cloud_auto`, … (empty
    /// when the cloud did not say).
    pub system_disk_category: String,
    /// The performance level of an enterprise SSD system disk, `PL0` to `PL3` (empty: none
    /// given).
    pub system_disk_performance_level: String,
    /// The key pair its instances log in with (empty: none).
    pub key_pair_name: String,
    /// The zone it launches its instances in (empty: the vSwitch's).
    pub zone_id: String,
    /// Whether its instances keep the password of their image.
    pub password_inherit: bool,
}

/// A scaling group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScalingGroup {
    /// `asg-…`
    pub scaling_group_id: String,
    /// `ECS` or `ECI` (absent means ECS).
    pub group_type: String,
    /// The vSwitches its instances are launched into, in priority order (`VSwitchIds`, else
    /// `VSwitchId` alone; empty when it has none or the cloud did not say).
    pub vswitch_ids: Vec<String>,
    /// The launch template its instances launch from (empty: a scaling configuration).
    pub launch_template_id: String,
    /// Which version of it: a number, `Default` or `Latest`.
    pub launch_template_version: String,
}

impl ScalingGroup {
    /// Whether the group runs ECS instances, the only kind whose configurations take a custom
    /// image: `GroupType` `ECS` in any case, or absent (groups made before ECI existed).
    /// Every check of a group's type goes through here.
    pub fn is_ecs(&self) -> bool {
        self.group_type.is_empty() || self.group_type.eq_ignore_ascii_case("ECS")
    }
}

/// The tag every snapshot and image reimage creates carries, with the value `true`: what
/// reimage made can be found, costed and cleaned up.
pub const TAG_MANAGED: &str = "reimage:managed";
/// The tag that names the execution that created a snapshot or image.
pub const TAG_EXECUTION: &str = "reimage:execution";
/// The tag that names the task whose run created a snapshot or image.
pub const TAG_TASK: &str = "reimage:task";

/// How a snapshot or image reimage creates is named and marked.
#[derive(Debug, Clone, Copy)]
pub struct Creation<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its ClientToken: the same token gives the same resource.
    pub client_token: &'a str,
    /// Its tags, `(key, value)`, set as it is created (`Tag.N.Key`, `Tag.N.Value`).
    pub tags: &'a [(String, String)],
}

/// The cloud operations of an image update. Each method is one API call.
pub trait Cloud: Send + Sync + fmt::Debug + 'static {
    /// The same cloud as the fleet a rollout moves, if it can be one (fakes of the image
    /// update need not).
    fn fleet(&self) -> Option<Arc<dyn crate::rollout::Fleet>> {
        None
    }

    /// The same cloud as the region retention reads and prunes, if it can be one (fakes of
    /// the image update need not).
    fn image_region(&self) -> Option<Arc<dyn crate::images::ImageRegion>> {
        None
    }

    /// DescribeInstances for one instance; `None` if it does not exist.
    fn describe_instance<'a>(&'a self, instance_id: &'a str) -> CloudFuture<'a, Option<Instance>>;

    /// DescribeDisks (InstanceId, DiskType=system): the instance's system disk id, if any.
    fn system_disk<'a>(&'a self, instance_id: &'a str) -> CloudFuture<'a, Option<String>>;

    /// CreateSnapshot of `disk_id`, named and tagged as `creation` says: the snapshot id (the
    /// same one again for the same ClientToken).
    fn create_snapshot<'a>(
        &'a self,
        disk_id: &'a str,
        creation: Creation<'a>,
    ) -> CloudFuture<'a, String>;

    /// DescribeSnapshots for one snapshot; `None` if it does not exist.
    fn describe_snapshot<'a>(&'a self, snapshot_id: &'a str) -> CloudFuture<'a, Option<Snapshot>>;

    /// CreateImage from a system disk snapshot, named and tagged as `creation` says: the image
    /// id (the same one again for the same ClientToken and parameters).
    fn create_image<'a>(
        &'a self,
        snapshot_id: &'a str,
        creation: Creation<'a>,
    ) -> CloudFuture<'a, String>;

    /// DescribeImages for one image with an explicit `Status` list; `None` if no image of
    /// those statuses has that id.
    fn describe_image<'a>(
        &'a self,
        image_id: &'a str,
        statuses: &'a [&'a str],
    ) -> CloudFuture<'a, Option<Image>>;

    /// DeleteImage.
    fn delete_image<'a>(&'a self, image_id: &'a str) -> CloudFuture<'a, ()>;

    /// DescribeInstanceTypes: the boot modes each of `instance_types` supports (`BIOS`,
    /// `UEFI`); `None` when this cloud cannot tell (the check is then skipped).
    fn boot_modes<'a>(
        &'a self,
        instance_types: &'a [String],
    ) -> CloudFuture<'a, Option<Vec<BootModes>>> {
        let _ = instance_types;
        Box::pin(async { Ok(None) })
    }

    /// DescribeImageSupportInstanceTypes: the instance types `image_id` runs on; `None`
    /// when this cloud cannot tell (the check is then skipped).
    fn image_instance_types<'a>(
        &'a self,
        image_id: &'a str,
    ) -> CloudFuture<'a, Option<Vec<String>>> {
        let _ = image_id;
        Box::pin(async { Ok(None) })
    }

    /// RunInstances with `DryRun=true`: whether ECS would launch `request`, creating
    /// nothing. A refusal is an answer ([`DryRun::Refused`]), not an error; an error is a
    /// call that got no verdict (throttling, a transport failure, a malformed request).
    /// `None` when this cloud cannot tell (the check is then skipped).
    fn run_instances_dry_run<'a>(
        &'a self,
        request: &'a RunInstancesRequest,
    ) -> CloudFuture<'a, Option<DryRun>> {
        let _ = request;
        Box::pin(async { Ok(None) })
    }

    /// DeleteSnapshot.
    fn delete_snapshot<'a>(&'a self, snapshot_id: &'a str) -> CloudFuture<'a, ()>;

    /// DescribeScalingConfigurations for at most [`CONFIGURATIONS_PER_CALL`] ids; unknown ids
    /// are simply absent from the answer.
    fn describe_configurations<'a>(
        &'a self,
        configuration_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingConfiguration>>;

    /// DescribeScalingGroups for at most [`GROUPS_PER_CALL`] ids.
    /// DescribeEciScalingConfigurations for at most [`CONFIGURATIONS_PER_CALL`] ids: those of
    /// them that are configurations of ECI-type groups (which DescribeScalingConfigurations
    /// leaves out). `image_id` is empty.
    fn describe_eci_configurations<'a>(
        &'a self,
        configuration_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingConfiguration>>;

    fn describe_groups<'a>(&'a self, group_ids: &'a [String])
    -> CloudFuture<'a, Vec<ScalingGroup>>;

    /// ModifyScalingConfiguration: put `image_id` into the configuration.
    fn modify_configuration_image<'a>(
        &'a self,
        configuration_id: &'a str,
        image_id: &'a str,
    ) -> CloudFuture<'a, ()>;

    /// STS GetCallerIdentity: whose credentials this cloud's calls are made with (for a RAM
    /// role, the assumed role); `None` when this cloud cannot tell (a fake, or an endpoint
    /// without the action). A dry run's permission check.
    fn caller_identity(&self) -> CloudFuture<'_, Option<CallerIdentity>> {
        Box::pin(async { Ok(None) })
    }

    /// DescribeLaunchTemplates and DescribeLaunchTemplateVersions: a launch template's
    /// default and latest version numbers and each version's number, description and image;
    /// `None` if there is no such template. A cloud without launch templates answers an
    /// error.
    fn launch_template<'a>(
        &'a self,
        template_id: &'a str,
    ) -> CloudFuture<'a, Option<LaunchTemplate>> {
        Box::pin(async move { Err(no_templates("DescribeLaunchTemplates", template_id)) })
    }

    /// CreateLaunchTemplateVersion: a new version of `template_id` that is version `source`
    /// with only its image changed to `image_id`, described `description`; its number.
    fn copy_launch_template_version<'a>(
        &'a self,
        template_id: &'a str,
        source: i64,
        image_id: &'a str,
        description: &'a str,
    ) -> CloudFuture<'a, i64> {
        let _ = (source, image_id, description);
        Box::pin(async move { Err(no_templates("CreateLaunchTemplateVersion", template_id)) })
    }

    /// ModifyScalingGroup: the group launches from version `version` (a number, `Default` or
    /// `Latest`) of `template_id`.
    fn set_group_launch_template<'a>(
        &'a self,
        group_id: &'a str,
        template_id: &'a str,
        version: &'a str,
    ) -> CloudFuture<'a, ()> {
        let _ = (template_id, version);
        Box::pin(async move { Err(no_templates("ModifyScalingGroup", group_id)) })
    }

    /// ModifyLaunchTemplateDefaultVersion.
    fn set_default_launch_template_version<'a>(
        &'a self,
        template_id: &'a str,
        number: i64,
    ) -> CloudFuture<'a, ()> {
        let _ = number;
        Box::pin(async move {
            Err(no_templates(
                "ModifyLaunchTemplateDefaultVersion",
                template_id,
            ))
        })
    }

    /// DeleteLaunchTemplateVersion; a version already gone is deleted.
    fn delete_launch_template_version<'a>(
        &'a self,
        template_id: &'a str,
        number: i64,
    ) -> CloudFuture<'a, ()> {
        let _ = number;
        Box::pin(async move { Err(no_templates("DeleteLaunchTemplateVersion", template_id)) })
    }

    /// DescribeScalingGroups of the whole region: the groups that launch from `template_id`,
    /// each with the version it names (a number, `Default` or `Latest`).
    fn groups_of_launch_template<'a>(
        &'a self,
        template_id: &'a str,
    ) -> CloudFuture<'a, Vec<(String, String)>> {
        Box::pin(async move { Err(no_templates("DescribeScalingGroups", template_id)) })
    }
}

fn no_templates(action: &str, resource: &str) -> CloudError {
    CloudError::client(
        action,
        "Unsupported",
        &format!("this cloud has no launch templates ({resource})"),
    )
}

/// A launch template, as the image update reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchTemplate {
    /// `lt-…`
    pub launch_template_id: String,
    /// The default version's number.
    pub default_version: i64,
    /// The highest version number.
    pub latest_version: i64,
    /// Every version, in number order.
    pub versions: Vec<LaunchTemplateVersion>,
}

impl LaunchTemplate {
    /// The number `version` (a number, `Default` or `Latest`) names, if it exists.
    pub fn resolve(&self, version: &str) -> Option<i64> {
        let number = match version {
            "Default" | "" => self.default_version,
            "Latest" => self.latest_version,
            n => n.trim().parse().ok()?,
        };
        self.versions
            .iter()
            .any(|v| v.number == number)
            .then_some(number)
    }

    /// Version `number`.
    pub fn version(&self, number: i64) -> Option<&LaunchTemplateVersion> {
        self.versions.iter().find(|v| v.number == number)
    }
}

/// One version of a launch template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchTemplateVersion {
    /// Its number.
    pub number: i64,
    /// `VersionDescription`.
    pub description: String,
    /// Its `ImageId` (empty when it names none).
    pub image_id: String,
}

/// Who a cloud's calls are made as (STS GetCallerIdentity).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallerIdentity {
    /// The Alibaba Cloud account.
    pub account_id: String,
    /// `acs:ram::<account>:root`, `…:user/<name>` or `…:assumed-role/<role>/<session>`.
    pub arn: String,
    /// `Account`, `RAMUser` or `AssumedRoleUser`.
    pub identity_type: String,
}

/// Shared handle to a cloud.
pub type SharedCloud = Arc<dyn Cloud>;

/// Gives the cloud an execution's calls go to, with the permissions it asks for: the
/// account's own credentials, or a RAM role assumed through STS.
pub trait CloudProvider: Send + Sync + fmt::Debug + 'static {
    /// The cloud for `permission`.
    fn cloud(&self, permission: &PermissionSource) -> Result<SharedCloud, CloudError>;
}

/// A provider that gives the same cloud whatever the permission source (tests, and the
/// demo, where every execution uses one set of credentials).
#[derive(Debug, Clone)]
pub struct SameCloud(pub SharedCloud);

impl CloudProvider for SameCloud {
    fn cloud(&self, _permission: &PermissionSource) -> Result<SharedCloud, CloudError> {
        Ok(self.0.clone())
    }
}

/// Parses the cloud's `"NN%"` progress.
pub fn parse_progress(progress: &str) -> Option<u8> {
    let n: u32 = progress.trim().trim_end_matches('%').trim().parse().ok()?;
    Some(n.min(100) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_parses_the_clouds_percent_strings() {
        assert_eq!(parse_progress("100%"), Some(100));
        assert_eq!(parse_progress("7%"), Some(7));
        assert_eq!(parse_progress("42"), Some(42));
        assert_eq!(parse_progress("250%"), Some(100));
        assert_eq!(parse_progress(""), None);
        assert_eq!(parse_progress("n/a"), None);
    }

    #[test]
    fn classification_and_fault() {
        let e = CloudError::client("CreateImage", "InvalidImageName.Duplicated", "used");
        assert!(!e.is_retryable());
        assert!(!e.is_not_found());
        assert_eq!(e.fault().code, "InvalidImageName.Duplicated");
        assert!(e.to_string().contains("CreateImage failed"));
        let t = CloudError::transient("DescribeImages", "ServiceUnavailable", "later");
        assert!(t.is_retryable());
        assert!(CloudError::client("DeleteImage", "InvalidImageId.NotFound", "x").is_not_found());
    }

    #[test]
    fn a_group_is_ecs_when_its_type_says_so_in_any_case_or_is_absent() {
        let group = |kind: &str| ScalingGroup {
            scaling_group_id: "asg-1".into(),
            group_type: kind.into(),
            ..ScalingGroup::default()
        };
        assert!(group("ECS").is_ecs());
        assert!(group("ecs").is_ecs());
        assert!(group("").is_ecs());
        assert!(!group("ECI").is_ecs());
        assert!(!group("eci").is_ecs());
    }
}
