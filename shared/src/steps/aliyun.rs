//! [`Cloud`] over the signed ECS and ESS clients of [`crate::aliyun`], and the
//! [`CloudProvider`] that gives each execution a client with the permissions it asks for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::cloud::{
    BootModes, CallerIdentity, Cloud, CloudError, CloudFuture, CloudProvider, Creation, ErrorKind,
    Image, Instance, LaunchTemplate, LaunchTemplateVersion, ScalingConfiguration, ScalingGroup,
    SharedCloud, Snapshot,
};
use super::cloud::{DryRun, RunInstancesRequest};
use crate::aliyun::credentials::RoleSpec;
use crate::aliyun::ecs::{
    CreateImageRequest, CreateSnapshotRequest, DeleteImageRequest, DeleteSnapshotRequest,
    DescribeDisksRequest, DescribeImagesRequest, DescribeInstancesRequest,
    DescribeSnapshotsRequest, DiskType, ImageStatus,
};
use crate::aliyun::ecs::{
    DeleteLaunchTemplateVersionRequest, DescribeLaunchTemplateVersionsRequest,
    DescribeLaunchTemplatesRequest, LaunchTemplateRef, ModifyLaunchTemplateDefaultVersionRequest,
};
use crate::aliyun::ess::{
    DescribeScalingConfigurationsRequest, DescribeScalingGroupsRequest,
    ModifyScalingConfigurationRequest, ModifyScalingGroupRequest,
};
use crate::aliyun::sts::AssumeRoleProvider;
use crate::aliyun::{self, Client, error::TransportFailure};
use crate::model::PermissionSource;

/// The session name reimage's AssumeRole calls carry (visible in the role's audit trail).
pub const ROLE_SESSION_NAME: &str = "reimage";
/// How long assumed-role credentials last; they are refreshed before they expire.
pub const ROLE_DURATION_SECONDS: u32 = 3600;

/// The steps' cloud operations over one signed client.
#[derive(Debug, Clone)]
pub struct AliyunCloud {
    client: Client,
}

impl AliyunCloud {
    /// Operations through `client` (its region, endpoints and credentials).
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The signed client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Converts a client error into the steps' error, keeping the cloud's Code, Message,
/// RequestId and HTTP status and the client's retry classification.
pub fn cloud_error(error: &aliyun::Error) -> CloudError {
    let kind = match error.kind() {
        aliyun::ErrorKind::Throttling => ErrorKind::Throttling,
        aliyun::ErrorKind::Transient => ErrorKind::Transient,
        aliyun::ErrorKind::Client => ErrorKind::Client,
    };
    let (action, code, message, request_id, http_status) = match error {
        aliyun::Error::Api { action, source } => (
            action.clone(),
            source.code.clone(),
            source.message.clone(),
            source.request_id.clone(),
            Some(source.status),
        ),
        aliyun::Error::InvalidRequest { action, source } => (
            action.clone(),
            "InvalidParameter".to_owned(),
            source.to_string(),
            None,
            None,
        ),
        aliyun::Error::Transport {
            action, failure, ..
        } => (
            action.clone(),
            match failure {
                TransportFailure::Connect => "ConnectionFailed",
                TransportFailure::Timeout => "Timeout",
                TransportFailure::TooLarge => "AnswerTooLarge",
                TransportFailure::Request => "RequestFailed",
                TransportFailure::Broken => "ConnectionBroken",
            }
            .to_owned(),
            error.to_string(),
            None,
            None,
        ),
        aliyun::Error::Decode {
            action, request_id, ..
        } => (
            action.clone(),
            "UnreadableAnswer".to_owned(),
            error.to_string(),
            request_id.clone(),
            None,
        ),
        aliyun::Error::Credentials { action, source } => (
            action.clone(),
            "NoCredentials".to_owned(),
            crate::report::chain(source),
            None,
            None,
        ),
        aliyun::Error::Setup(message) => (
            String::new(),
            "ClientSetup".to_owned(),
            message.clone(),
            None,
            None,
        ),
    };
    CloudError {
        action,
        kind,
        code,
        message,
        request_id,
        http_status,
    }
}

fn image_status(status: &str) -> Option<ImageStatus> {
    ImageStatus::ALL.into_iter().find(|s| s.as_str() == status)
}

impl Cloud for AliyunCloud {
    fn fleet(&self) -> Option<Arc<dyn crate::rollout::Fleet>> {
        Some(Arc::new(self.clone()))
    }

    fn image_region(&self) -> Option<Arc<dyn crate::images::ImageRegion>> {
        Some(Arc::new(crate::images::AliyunRegion::new(
            self.client.clone(),
        )))
    }

    fn describe_instance<'a>(&'a self, instance_id: &'a str) -> CloudFuture<'a, Option<Instance>> {
        Box::pin(async move {
            let answer = self
                .client
                .ecs()
                .describe_instances(&DescribeInstancesRequest {
                    instance_ids: vec![instance_id.to_owned()],
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .instances
                .instance
                .into_iter()
                .find(|i| i.instance_id == instance_id)
                .map(|i| Instance {
                    instance_id: i.instance_id,
                    status: format!("{:?}", i.status),
                }))
        })
    }

    fn system_disk<'a>(&'a self, instance_id: &'a str) -> CloudFuture<'a, Option<String>> {
        Box::pin(async move {
            let answer = self
                .client
                .ecs()
                .describe_disks(&DescribeDisksRequest {
                    instance_id: Some(instance_id.to_owned()),
                    disk_type: Some(DiskType::System),
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .disks
                .disk
                .into_iter()
                .find(|d| d.disk_type == DiskType::System)
                .map(|d| d.disk_id))
        })
    }

    fn create_snapshot<'a>(
        &'a self,
        disk_id: &'a str,
        creation: Creation<'a>,
    ) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let answer = self
                .client
                .ecs()
                .create_snapshot(&CreateSnapshotRequest {
                    disk_id: disk_id.to_owned(),
                    snapshot_name: Some(creation.name.to_owned()),
                    description: Some("System disk snapshot for a reimage image update".into()),
                    tags: tags(&creation),
                    client_token: Some(creation.client_token.to_owned()),
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer.snapshot_id)
        })
    }

    fn describe_snapshot<'a>(&'a self, snapshot_id: &'a str) -> CloudFuture<'a, Option<Snapshot>> {
        Box::pin(async move {
            let answer = self
                .client
                .ecs()
                .describe_snapshots(&DescribeSnapshotsRequest {
                    snapshot_ids: vec![snapshot_id.to_owned()],
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .snapshots
                .snapshot
                .into_iter()
                .find(|s| s.snapshot_id == snapshot_id)
                .map(|s| Snapshot {
                    progress: s.progress_percent(),
                    snapshot_id: s.snapshot_id,
                    status: s.status.as_str().to_owned(),
                }))
        })
    }

    fn create_image<'a>(
        &'a self,
        snapshot_id: &'a str,
        creation: Creation<'a>,
    ) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let answer = self
                .client
                .ecs()
                .create_image(&CreateImageRequest {
                    snapshot_id: Some(snapshot_id.to_owned()),
                    image_name: Some(creation.name.to_owned()),
                    description: Some("Created by reimage from a system disk snapshot".into()),
                    tags: tags(&creation),
                    client_token: Some(creation.client_token.to_owned()),
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer.image_id)
        })
    }

    fn describe_image<'a>(
        &'a self,
        image_id: &'a str,
        statuses: &'a [&'a str],
    ) -> CloudFuture<'a, Option<Image>> {
        Box::pin(async move {
            let status = statuses.iter().filter_map(|s| image_status(s)).collect();
            let answer = self
                .client
                .ecs()
                .describe_images(&DescribeImagesRequest {
                    image_id: Some(image_id.to_owned()),
                    status,
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .images
                .image
                .into_iter()
                .find(|i| i.image_id == image_id)
                .map(|i| Image {
                    progress: i.progress_percent(),
                    image_id: i.image_id,
                    image_name: i.image_name,
                    status: i.status.as_str().to_owned(),
                    architecture: i.architecture,
                    os_type: i.os_type,
                    size_gib: u32::try_from(i.size).unwrap_or(0),
                    platform: i.platform,
                    boot_mode: i.boot_mode,
                }))
        })
    }

    fn boot_modes<'a>(
        &'a self,
        instance_types: &'a [String],
    ) -> CloudFuture<'a, Option<Vec<BootModes>>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for chunk in instance_types.chunks(10) {
                let found = self
                    .client
                    .ecs()
                    .describe_instance_types_all(
                        &crate::aliyun::ecs::DescribeInstanceTypesRequest {
                            instance_types: chunk.to_vec(),
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| cloud_error(&e))?;
                out.extend(found.into_iter().map(|t| {
                    (
                        t.instance_type_id,
                        t.supported_boot_modes.supported_boot_mode,
                    )
                }));
            }
            Ok(Some(out))
        })
    }

    fn image_instance_types<'a>(
        &'a self,
        image_id: &'a str,
    ) -> CloudFuture<'a, Option<Vec<String>>> {
        Box::pin(async move {
            let answer = self
                .client
                .ecs()
                .describe_image_support_instance_types(
                    &crate::aliyun::ecs::DescribeImageSupportInstanceTypesRequest {
                        image_id: image_id.to_owned(),
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(Some(
                answer
                    .instance_types
                    .instance_type
                    .into_iter()
                    .map(|t| t.instance_type_id)
                    .collect(),
            ))
        })
    }

    fn run_instances_dry_run<'a>(
        &'a self,
        request: &'a RunInstancesRequest,
    ) -> CloudFuture<'a, Option<DryRun>> {
        Box::pin(async move {
            match self.client.ecs().run_instances_dry_run(request).await {
                Ok(()) => Ok(Some(DryRun::Passes)),
                // ECS answered, and its answer is a refusal: the verdict.
                Err(e @ aliyun::Error::Api { .. }) if e.kind() == aliyun::ErrorKind::Client => {
                    let e = cloud_error(&e);
                    Ok(Some(DryRun::Refused {
                        code: e.code,
                        message: e.message,
                    }))
                }
                Err(e) => Err(cloud_error(&e)),
            }
        })
    }

    fn delete_image<'a>(&'a self, image_id: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .ecs()
                .delete_image(&DeleteImageRequest {
                    image_id: image_id.to_owned(),
                    force: None,
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(())
        })
    }

    fn delete_snapshot<'a>(&'a self, snapshot_id: &'a str) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .ecs()
                .delete_snapshot(&DeleteSnapshotRequest {
                    snapshot_id: snapshot_id.to_owned(),
                    force: None,
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(())
        })
    }

    fn describe_configurations<'a>(
        &'a self,
        configuration_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingConfiguration>> {
        Box::pin(async move {
            let answer = self
                .client
                .ess()
                .describe_scaling_configurations(&DescribeScalingConfigurationsRequest {
                    scaling_configuration_ids: configuration_ids.to_vec(),
                    page_size: Some(crate::aliyun::ess::MAX_PAGE_SIZE),
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .scaling_configurations
                .scaling_configuration
                .into_iter()
                .map(|c| ScalingConfiguration {
                    instance_types: c.all_instance_types(),
                    security_group_ids: c.all_security_group_ids(),
                    scaling_configuration_id: c.scaling_configuration_id,
                    scaling_group_id: c.scaling_group_id,
                    lifecycle_state: c.lifecycle_state,
                    image_id: c.image_id,
                    system_disk_size: u32::try_from(c.system_disk_size).unwrap_or(0),
                    instance_type: c.instance_type,
                    system_disk_category: c.system_disk_category,
                    system_disk_performance_level: c.system_disk_performance_level,
                    key_pair_name: c.key_pair_name,
                    zone_id: c.zone_id,
                    password_inherit: c.password_inherit,
                })
                .collect())
        })
    }

    fn describe_eci_configurations<'a>(
        &'a self,
        configuration_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingConfiguration>> {
        Box::pin(async move {
            let answer = self
                .client
                .ess()
                .describe_eci_scaling_configurations(&DescribeScalingConfigurationsRequest {
                    scaling_configuration_ids: configuration_ids.to_vec(),
                    page_size: Some(crate::aliyun::ess::MAX_PAGE_SIZE),
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .scaling_configurations
                .into_iter()
                .map(|c| ScalingConfiguration {
                    scaling_configuration_id: c.scaling_configuration_id,
                    scaling_group_id: c.scaling_group_id,
                    lifecycle_state: c.lifecycle_state,
                    ..ScalingConfiguration::default()
                })
                .collect())
        })
    }

    fn describe_groups<'a>(
        &'a self,
        group_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingGroup>> {
        Box::pin(async move {
            let answer = self
                .client
                .ess()
                .describe_scaling_groups(&DescribeScalingGroupsRequest {
                    scaling_group_ids: group_ids.to_vec(),
                    page_size: Some(crate::aliyun::ess::MAX_PAGE_SIZE),
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .scaling_groups
                .scaling_group
                .into_iter()
                .map(|g| ScalingGroup {
                    vswitch_ids: if g.vswitch_ids.vswitch_id.is_empty() {
                        g.first_vswitch().map(str::to_owned).into_iter().collect()
                    } else {
                        g.vswitch_ids.vswitch_id
                    },
                    scaling_group_id: g.scaling_group_id,
                    group_type: g.group_type,
                    launch_template_id: g.launch_template_id,
                    launch_template_version: g.launch_template_version,
                })
                .collect())
        })
    }

    fn modify_configuration_image<'a>(
        &'a self,
        configuration_id: &'a str,
        image_id: &'a str,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .ess()
                .modify_scaling_configuration(&ModifyScalingConfigurationRequest {
                    scaling_configuration_id: configuration_id.to_owned(),
                    image_id: Some(image_id.to_owned()),
                    image_name: None,
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(())
        })
    }

    fn caller_identity(&self) -> CloudFuture<'_, Option<CallerIdentity>> {
        Box::pin(async move {
            match self.client.sts().get_caller_identity().await {
                Ok(answer) => Ok(Some(CallerIdentity {
                    account_id: answer.account_id,
                    arn: answer.arn,
                    identity_type: answer.identity_type,
                })),
                // An STS endpoint without the action (a private endpoint, an emulator) cannot
                // tell; Alibaba Cloud's own always can.
                Err(e) if cloud_error(&e).code == "InvalidAction.NotFound" => Ok(None),
                Err(e) => Err(cloud_error(&e)),
            }
        })
    }

    fn launch_template<'a>(
        &'a self,
        template_id: &'a str,
    ) -> CloudFuture<'a, Option<LaunchTemplate>> {
        Box::pin(async move {
            let ecs = self.client.ecs();
            let templates = ecs
                .describe_launch_templates(&DescribeLaunchTemplatesRequest {
                    launch_template_ids: vec![template_id.to_owned()],
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            let Some(template) = templates
                .launch_template_sets
                .launch_template_set
                .into_iter()
                .find(|t| t.launch_template_id == template_id)
            else {
                return Ok(None);
            };
            let versions = ecs
                .describe_launch_template_versions_all(&DescribeLaunchTemplateVersionsRequest {
                    template: LaunchTemplateRef::Id(template_id.to_owned()),
                    detail_flag: Some(true),
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            let mut versions: Vec<LaunchTemplateVersion> = versions
                .into_iter()
                .map(|v| LaunchTemplateVersion {
                    number: v.version_number,
                    description: v.version_description,
                    image_id: v.launch_template_data.image_id.unwrap_or_default(),
                })
                .collect();
            versions.sort_by_key(|v| v.number);
            Ok(Some(LaunchTemplate {
                launch_template_id: template.launch_template_id,
                default_version: template.default_version_number,
                latest_version: template.latest_version_number,
                versions,
            }))
        })
    }

    fn copy_launch_template_version<'a>(
        &'a self,
        template_id: &'a str,
        source: i64,
        image_id: &'a str,
        description: &'a str,
    ) -> CloudFuture<'a, i64> {
        Box::pin(async move {
            let ecs = self.client.ecs();
            let Some(version) = ecs
                .launch_template_version(template_id, &source.to_string())
                .await
                .map_err(|e| cloud_error(&e))?
            else {
                return Err(CloudError::client(
                    "DescribeLaunchTemplateVersions",
                    "InvalidLaunchTemplateVersion.NotFound",
                    &format!("version {source} of launch template {template_id} does not exist"),
                ));
            };
            ecs.create_version_from(
                template_id,
                &version.launch_template_data,
                image_id,
                Some(description),
            )
            .await
            .map_err(|e| cloud_error(&e))
        })
    }

    fn set_group_launch_template<'a>(
        &'a self,
        group_id: &'a str,
        template_id: &'a str,
        version: &'a str,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .ess()
                .modify_scaling_group(&ModifyScalingGroupRequest {
                    scaling_group_id: group_id.to_owned(),
                    launch_template_id: Some(template_id.to_owned()),
                    launch_template_version: Some(version.to_owned()),
                    ..Default::default()
                })
                .await
                .map(|_| ())
                .map_err(|e| cloud_error(&e))
        })
    }

    fn set_default_launch_template_version<'a>(
        &'a self,
        template_id: &'a str,
        number: i64,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .ecs()
                .modify_launch_template_default_version(
                    &ModifyLaunchTemplateDefaultVersionRequest {
                        template: LaunchTemplateRef::Id(template_id.to_owned()),
                        default_version_number: number,
                    },
                )
                .await
                .map(|_| ())
                .map_err(|e| cloud_error(&e))
        })
    }

    fn delete_launch_template_version<'a>(
        &'a self,
        template_id: &'a str,
        number: i64,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            match self
                .client
                .ecs()
                .delete_launch_template_version(&DeleteLaunchTemplateVersionRequest {
                    template: LaunchTemplateRef::Id(template_id.to_owned()),
                    versions: vec![number],
                })
                .await
            {
                Ok(_) => Ok(()),
                Err(e) => {
                    let e = cloud_error(&e);
                    if e.is_not_found() { Ok(()) } else { Err(e) }
                }
            }
        })
    }

    fn groups_of_launch_template<'a>(
        &'a self,
        template_id: &'a str,
    ) -> CloudFuture<'a, Vec<(String, String)>> {
        Box::pin(async move {
            let groups = self
                .client
                .ess()
                .describe_scaling_groups_all(&DescribeScalingGroupsRequest::default())
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(groups
                .into_iter()
                .filter(|g| g.launch_template_id == template_id)
                .map(|g| (g.scaling_group_id, g.launch_template_version))
                .collect())
        })
    }
}

/// Gives each execution a client with its permission source: the base client for the
/// account's own credentials, or a client whose credentials come from STS AssumeRole of the
/// execution's RAM role, called with the base client's credentials. Role clients are kept
/// per role, so their credentials are cached and refreshed shortly before they expire.
#[derive(Debug)]
pub struct AliyunClouds {
    base: Client,
    roles: Mutex<HashMap<String, SharedCloud>>,
}

impl AliyunClouds {
    /// A provider over `base` (region, endpoints, the account's credentials).
    pub fn new(base: Client) -> Self {
        Self {
            base,
            roles: Mutex::new(HashMap::new()),
        }
    }
}

impl CloudProvider for AliyunClouds {
    fn cloud(&self, permission: &PermissionSource) -> Result<SharedCloud, CloudError> {
        match permission {
            PermissionSource::Account => Ok(Arc::new(AliyunCloud::new(self.base.clone()))),
            PermissionSource::RamRole { role_arn } => {
                let mut roles = self.roles.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(cloud) = roles.get(role_arn) {
                    return Ok(cloud.clone());
                }
                let mut config = self.base.config().clone();
                config.credentials = AssumeRoleProvider::shared(
                    self.base.clone(),
                    RoleSpec {
                        role_arn: role_arn.clone(),
                        role_session_name: ROLE_SESSION_NAME.to_owned(),
                        duration_seconds: ROLE_DURATION_SECONDS,
                    },
                );
                let client = Client::new(config).map_err(|e| cloud_error(&e))?;
                let cloud: SharedCloud = Arc::new(AliyunCloud::new(client));
                roles.insert(role_arn.clone(), cloud.clone());
                Ok(cloud)
            }
        }
    }
}

/// `creation`'s tags as the request takes them.
fn tags(creation: &Creation<'_>) -> Vec<aliyun::Tag> {
    creation
        .tags
        .iter()
        .map(|(key, value)| aliyun::Tag::new(key, value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aliyun::ApiError;

    #[test]
    fn client_errors_keep_the_clouds_code_message_and_classification() {
        let api = aliyun::Error::Api {
            action: "ModifyScalingConfiguration".into(),
            source: Box::new(ApiError {
                status: 404,
                code: "InvalidImageId.NotFound".into(),
                message: "The specified image does not exist.".into(),
                request_id: Some("REQ-1".into()),
                host_id: None,
                retry_after: None,
            }),
        };
        let e = cloud_error(&api);
        assert_eq!(e.action, "ModifyScalingConfiguration");
        assert_eq!(e.code, "InvalidImageId.NotFound");
        assert_eq!(e.message, "The specified image does not exist.");
        assert_eq!(e.request_id.as_deref(), Some("REQ-1"));
        assert_eq!(e.http_status, Some(404));
        assert!(!e.is_retryable());
        assert!(e.is_not_found());

        let throttled = aliyun::Error::Api {
            action: "DescribeImages".into(),
            source: Box::new(ApiError {
                status: 400,
                code: "Throttling.User".into(),
                message: "slow".into(),
                request_id: None,
                host_id: None,
                retry_after: None,
            }),
        };
        assert_eq!(cloud_error(&throttled).kind, ErrorKind::Throttling);

        let down = aliyun::Error::Transport {
            action: "DescribeImages".into(),
            endpoint: "http://127.0.0.1:1".into(),
            failure: TransportFailure::Connect,
            message: "refused".into(),
        };
        let e = cloud_error(&down);
        assert_eq!(e.code, "ConnectionFailed");
        assert!(e.is_retryable());
    }

    #[test]
    fn image_statuses_map_to_the_clients_enum() {
        for s in super::super::cloud::ALL_IMAGE_STATUSES {
            assert_eq!(image_status(s).map(ImageStatus::as_str), Some(*s));
        }
        assert_eq!(image_status("Nope"), None);
    }
}
