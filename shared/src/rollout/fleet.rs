//! The cloud as a rollout sees it: a scaling group, its instances, and what moves them. One
//! implementation, over the signed clients; tests wrap it to crash at any call.

use crate::rollout::model::BackendWeight;
use std::fmt;

use crate::aliyun::ecs::{
    DescribeDisksRequest, DescribeImagesRequest, DescribeInstancesRequest,
    DescribeInvocationResultsRequest, ImageStatus, PowerRequest, ReplaceSystemDiskRequest,
    RunCommandRequest,
};
use crate::aliyun::ess::{
    DescribeInstanceRefreshesRequest, InstanceRefreshTask, InstanceRefreshTaskRequest,
    StartInstanceRefreshRequest,
};
use crate::aliyun::ess::{
    DescribeScalingActivitiesRequest, DescribeScalingGroupsRequest,
    DescribeScalingInstancesRequest, ProcessesRequest, SetInstancesProtectionRequest,
    StandbyRequest,
};
use crate::steps::aliyun::cloud_error;
use crate::steps::cloud::CloudFuture;
use crate::steps::{AliyunCloud, Cloud};

/// A scaling group, as far as a rollout cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetGroup {
    /// `asg-…`.
    pub group_id: String,
    /// `ECS` (or empty, which the 2014-08-28 API may answer for ECS groups), `ECI`.
    pub group_type: String,
    /// `Active`, `Inactive`, `Deleting`.
    pub lifecycle_state: String,
    /// The configuration new instances launch from.
    pub active_configuration_id: Option<String>,
    /// A launch template, for groups built on one.
    pub launch_template_id: Option<String>,
    /// Processes suspended now.
    pub suspended_processes: Vec<String>,
    /// The CLB instances attached (their default server groups).
    pub load_balancer_ids: Vec<String>,
    /// The vServer groups attached.
    pub vserver_group_ids: Vec<String>,
    /// The load balancers those vServer groups belong to.
    pub vserver_load_balancer_ids: Vec<String>,
}

/// An instance of the group, as ESS reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupMember {
    /// `i-…`.
    pub instance_id: String,
    /// `InService`, `Standby`, `Protected`, `Pending`, …
    pub lifecycle_state: String,
    /// `Healthy` or `Unhealthy`.
    pub health_status: String,
    /// `AutoCreated` or `Attached` (added by hand).
    pub creation_type: String,
}

/// An instance, as ECS reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetInstance {
    /// `i-…`.
    pub instance_id: String,
    /// `Running`, `Stopped`, `Starting`, `Stopping`, `Pending`.
    pub status: String,
    /// The image it runs.
    pub image_id: String,
    /// `OperationLocks` reasons.
    pub locks: Vec<String>,
    /// Its instance type (`ecs.g7.large`).
    pub instance_type: String,
}

/// A disk and its status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetDisk {
    /// `d-…`.
    pub disk_id: String,
    /// `In_use`, `ReIniting`, …
    pub status: String,
}

/// A scaling configuration as a rollout reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetConfiguration {
    /// The image it launches instances from.
    pub image_id: String,
    /// The key pair its instances log in with, if any: a replaced system disk gets it too.
    pub key_pair_name: Option<String>,
    /// The instance type it launches.
    pub instance_type: Option<String>,
    /// The system disk size it launches with, GiB, if it sets one.
    pub system_disk_size: Option<u32>,
}

/// An image as a rollout checks it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetImage {
    /// `m-…`.
    pub image_id: String,
    /// `Available`, `Creating`, …
    pub status: String,
    /// `x86_64`, `arm64`, `i386`.
    pub architecture: String,
    /// GiB: the smallest system disk it fits on.
    pub size: u32,
}

/// One instance's run of a command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandResult {
    /// `i-…`.
    pub instance_id: String,
    /// `Pending`, `Running`, `Success`, `Failed`, `Timeout`, …
    pub status: String,
    /// The exit code.
    pub exit_code: i64,
    /// What it printed.
    pub output: String,
}

/// What a rollout calls.
pub trait Fleet: Send + Sync + fmt::Debug + 'static {
    /// DescribeScalingGroups for one group; `None` if there is none (or it is disabled,
    /// which the API does not tell apart).
    fn group<'a>(&'a self, group_id: &'a str) -> CloudFuture<'a, Option<FleetGroup>>;
    /// The same cloud as the image update's [`crate::steps::Cloud`], through which a group
    /// on a launch template gets its new version; `None` where there is none (such a group
    /// is then refused).
    fn template_cloud(&self) -> Option<&dyn crate::steps::Cloud> {
        None
    }
    /// DescribeScalingInstances: every instance of the group.
    fn members<'a>(&'a self, group_id: &'a str) -> CloudFuture<'a, Vec<GroupMember>>;
    /// DescribeScalingInstances for `ids` of the group (those not in it are left out).
    fn members_of<'a>(
        &'a self,
        group_id: &'a str,
        ids: &'a [String],
    ) -> CloudFuture<'a, Vec<GroupMember>>;
    /// DescribeScalingActivities: an activity of the group in progress, if any.
    fn activity_in_progress<'a>(&'a self, group_id: &'a str) -> CloudFuture<'a, Option<String>>;
    /// DescribeInstances for `ids`.
    fn instances<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, Vec<FleetInstance>>;
    /// DescribeDisks for `disk_ids`.
    fn disks<'a>(&'a self, disk_ids: &'a [String]) -> CloudFuture<'a, Vec<FleetDisk>>;
    /// The system disk of each of `instance_ids` (DescribeDisks, one call each).
    fn system_disks<'a>(
        &'a self,
        instance_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<(String, FleetDisk)>>;
    /// Which of `image_ids` exist, with their status and architecture.
    fn images<'a>(&'a self, image_ids: &'a [String]) -> CloudFuture<'a, Vec<FleetImage>>;
    /// DescribeImageSupportInstanceTypes: the instance types `image_id` runs on, to launch
    /// instances (`replace: false`, `ActionType=CreateEcs`) or to replace a system disk
    /// (`replace: true`, `ActionType=ChangeOS`).
    fn image_instance_types<'a>(
        &'a self,
        image_id: &'a str,
        replace: bool,
    ) -> CloudFuture<'a, Vec<String>>;
    /// The image a scaling configuration holds, and the key pair it logs instances in with.
    fn configuration<'a>(
        &'a self,
        configuration_id: &'a str,
    ) -> CloudFuture<'a, Option<FleetConfiguration>>;
    /// ModifyScalingConfiguration's image.
    fn set_configuration_image<'a>(
        &'a self,
        configuration_id: &'a str,
        image_id: &'a str,
    ) -> CloudFuture<'a, ()>;
    /// EnterStandby.
    fn enter_standby<'a>(
        &'a self,
        group_id: &'a str,
        ids: &'a [String],
        token: &'a str,
    ) -> CloudFuture<'a, ()>;
    /// ExitStandby.
    fn exit_standby<'a>(
        &'a self,
        group_id: &'a str,
        ids: &'a [String],
        token: &'a str,
    ) -> CloudFuture<'a, ()>;
    /// SetInstancesProtection.
    fn set_protection<'a>(
        &'a self,
        group_id: &'a str,
        ids: &'a [String],
        protected: bool,
    ) -> CloudFuture<'a, ()>;
    /// SuspendProcesses.
    fn suspend<'a>(
        &'a self,
        group_id: &'a str,
        processes: &'a [String],
        token: &'a str,
    ) -> CloudFuture<'a, ()>;
    /// ResumeProcesses.
    fn resume<'a>(
        &'a self,
        group_id: &'a str,
        processes: &'a [String],
        token: &'a str,
    ) -> CloudFuture<'a, ()>;
    /// StopInstances with `StoppedMode=KeepCharging`, all together.
    fn stop<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, ()>;
    /// StartInstances, all together.
    fn start<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, ()>;
    /// ReplaceSystemDisk with the configuration's key pair, or else the image's password
    /// (`PasswordInherit`): the new disk's id.
    fn replace_system_disk<'a>(
        &'a self,
        instance_id: &'a str,
        image_id: &'a str,
        key_pair_name: Option<&'a str>,
        token: &'a str,
    ) -> CloudFuture<'a, String>;
    /// RunCommand of a shell script on `ids`: the invocation's id.
    fn run_command<'a>(
        &'a self,
        ids: &'a [String],
        script: &'a str,
        timeout_seconds: u32,
        token: &'a str,
    ) -> CloudFuture<'a, String>;
    /// DescribeInvocationResults of an invocation.
    fn command_results<'a>(&'a self, invoke_id: &'a str) -> CloudFuture<'a, Vec<CommandResult>>;
    /// The weights in `target`: a load balancer's default server group (`lb-…`,
    /// DescribeLoadBalancerAttribute) or a vServer group (`rsp-…`,
    /// DescribeVServerGroupAttribute).
    fn weights<'a>(&'a self, target: &'a str) -> CloudFuture<'a, Vec<BackendWeight>>;
    /// DescribeHealthStatus of a load balancer: `(server, status)` for every listener and
    /// backend, vServer group members included.
    fn backend_health<'a>(
        &'a self,
        load_balancer_id: &'a str,
    ) -> CloudFuture<'a, Vec<(String, String)>>;
    /// Sets weights in their targets (SetBackendServers, SetVServerGroupAttribute), 20 a call.
    fn set_weights<'a>(&'a self, weights: &'a [BackendWeight]) -> CloudFuture<'a, ()>;
    /// TagResources: `key=value` on each of the instances `ids` (50 a call).
    fn tag_instances<'a>(
        &'a self,
        ids: &'a [String],
        key: &'a str,
        value: &'a str,
    ) -> CloudFuture<'a, ()>;
    /// DescribeInstanceRefreshes of the group: its tasks that have not ended.
    fn refreshes_at_work<'a>(&'a self, group_id: &'a str) -> CloudFuture<'a, Vec<RefreshTask>>;
    /// DescribeInstanceRefreshes of one task.
    fn refresh<'a>(
        &'a self,
        group_id: &'a str,
        task_id: &'a str,
    ) -> CloudFuture<'a, Option<RefreshTask>>;
    /// StartInstanceRefresh: the task's id.
    fn start_refresh<'a>(&'a self, request: &'a RefreshRequest) -> CloudFuture<'a, String>;
    /// SuspendInstanceRefresh, ResumeInstanceRefresh, RollbackInstanceRefresh or
    /// CancelInstanceRefresh.
    fn refresh_action<'a>(
        &'a self,
        group_id: &'a str,
        task_id: &'a str,
        action: RefreshAction,
    ) -> CloudFuture<'a, ()>;
}

fn refresh_task(t: InstanceRefreshTask) -> RefreshTask {
    RefreshTask {
        task_id: t.instance_refresh_task_id,
        status: t.status,
        finished: t.finished_update_capacity,
        total: t.total_need_update_capacity,
        detail: t.detail,
        image_id: t.desired_configuration.image_id,
    }
}

/// An instance refresh task, as a rollout watches it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshTask {
    /// `ir-…`.
    pub task_id: String,
    /// `InProgress`, `CheckpointPause`, `Successful`, `RollbackInProgress`, …
    pub status: String,
    /// Instances replaced.
    pub finished: i64,
    /// Instances to replace.
    pub total: i64,
    /// Why it failed.
    pub detail: String,
    /// `DesiredConfiguration.ImageId`.
    pub image_id: String,
}

/// What a rollout asks of StartInstanceRefresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshRequest {
    /// The group.
    pub group_id: String,
    /// `DesiredConfiguration.ImageId`.
    pub image_id: String,
    /// `MinHealthyPercentage` (`MaxHealthyPercentage` is 100: no instance above capacity).
    pub min_healthy_percentage: u32,
    /// `Checkpoints.N.Percentage`, ascending, the last 100.
    pub checkpoints: Vec<u32>,
    /// `CheckpointPauseTime`, minutes.
    pub checkpoint_pause_minutes: u32,
    /// `ClientToken`.
    pub token: String,
}

/// A change to an instance refresh task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshAction {
    /// SuspendInstanceRefresh.
    Suspend,
    /// ResumeInstanceRefresh.
    Resume,
    /// RollbackInstanceRefresh.
    Rollback,
    /// CancelInstanceRefresh.
    Cancel,
}

/// The ClientToken of one call of a batch cut into calls: the batch's token and a digest of
/// the call's own ids (FNV-1a), so that a replay that cuts the rest of a batch differently
/// never reuses a token with other ids.
fn chunk_token(token: &str, ids: &[String]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in ids.iter().flat_map(|id| id.bytes().chain([0])) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{token}-{hash:016x}")
}

impl AliyunCloud {
    async fn weights_of(
        &self,
        target: &str,
    ) -> Result<Vec<BackendWeight>, crate::steps::CloudError> {
        let slb = self.client().slb();
        let answer = if target.starts_with("rsp-") {
            slb.describe_vserver_group_attribute(target).await
        } else {
            slb.describe_load_balancer_attribute(target).await
        }
        .map_err(|e| cloud_error(&e))?;
        Ok(answer
            .backend_servers
            .backend_server
            .into_iter()
            .map(|b| BackendWeight {
                target: target.to_owned(),
                server_id: b.server_id,
                port: target
                    .starts_with("rsp-")
                    .then(|| u16::try_from(b.port).unwrap_or_default()),
                weight: u32::try_from(b.weight).unwrap_or_default(),
            })
            .collect())
    }

    async fn set_weights_in(
        &self,
        weights: &[BackendWeight],
    ) -> Result<(), crate::steps::CloudError> {
        let slb = self.client().slb();
        let mut targets: Vec<&str> = weights.iter().map(|w| w.target.as_str()).collect();
        targets.sort_unstable();
        targets.dedup();
        for target in targets {
            let list: Vec<crate::aliyun::slb::Weight> = weights
                .iter()
                .filter(|w| w.target == target)
                .map(|w| crate::aliyun::slb::Weight {
                    server_id: w.server_id.clone(),
                    port: w.port,
                    weight: w.weight,
                })
                .collect();
            for chunk in list.chunks(crate::aliyun::slb::MAX_BACKEND_SERVERS) {
                if target.starts_with("rsp-") {
                    slb.set_vserver_group_attribute(target, chunk).await
                } else {
                    slb.set_backend_servers(target, chunk).await
                }
                .map_err(|e| cloud_error(&e))?;
            }
        }
        Ok(())
    }

    /// EnterStandby or ExitStandby, 20 instances a call (the operations' limit).
    async fn standby(
        &self,
        entering: bool,
        group_id: &str,
        ids: &[String],
        token: &str,
    ) -> Result<(), crate::steps::CloudError> {
        let ess = self.client().ess();
        for chunk in ids.chunks(crate::aliyun::ess::MAX_SCALING_INSTANCE_IDS) {
            let req = StandbyRequest {
                scaling_group_id: group_id.to_owned(),
                instance_ids: chunk.to_vec(),
                client_token: Some(chunk_token(token, chunk)),
            };
            let answer = if entering {
                ess.enter_standby(&req).await
            } else {
                ess.exit_standby(&req).await
            };
            answer.map_err(|e| cloud_error(&e))?;
        }
        Ok(())
    }
}

impl Fleet for AliyunCloud {
    fn template_cloud(&self) -> Option<&dyn crate::steps::Cloud> {
        Some(self)
    }

    fn group<'a>(&'a self, group_id: &'a str) -> CloudFuture<'a, Option<FleetGroup>> {
        Box::pin(async move {
            let answer = self
                .client()
                .ess()
                .describe_scaling_groups(&DescribeScalingGroupsRequest {
                    scaling_group_ids: vec![group_id.to_owned()],
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .scaling_groups
                .scaling_group
                .into_iter()
                .find(|g| g.scaling_group_id == group_id)
                .map(|g| FleetGroup {
                    group_id: g.scaling_group_id,
                    group_type: g.group_type,
                    lifecycle_state: g.lifecycle_state,
                    active_configuration_id: Some(g.active_scaling_configuration_id)
                        .filter(|c| !c.is_empty()),
                    launch_template_id: Some(g.launch_template_id).filter(|t| !t.is_empty()),
                    suspended_processes: g.suspended_processes.suspended_process,
                    load_balancer_ids: g.load_balancer_ids.load_balancer_id,
                    vserver_load_balancer_ids: g
                        .vserver_groups
                        .vserver_group
                        .iter()
                        .map(|v| v.load_balancer_id.clone())
                        .collect(),
                    vserver_group_ids: g
                        .vserver_groups
                        .vserver_group
                        .into_iter()
                        .flat_map(|v| v.attributes.attribute)
                        .map(|a| a.vserver_group_id)
                        .collect(),
                }))
        })
    }

    fn members<'a>(&'a self, group_id: &'a str) -> CloudFuture<'a, Vec<GroupMember>> {
        Box::pin(async move {
            let all = self
                .client()
                .ess()
                .describe_scaling_instances_all(&DescribeScalingInstancesRequest {
                    scaling_group_id: Some(group_id.to_owned()),
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(all
                .into_iter()
                .map(|m| GroupMember {
                    instance_id: m.instance_id,
                    lifecycle_state: m.lifecycle_state,
                    health_status: m.health_status,
                    creation_type: m.creation_type,
                })
                .collect())
        })
    }

    fn members_of<'a>(
        &'a self,
        group_id: &'a str,
        ids: &'a [String],
    ) -> CloudFuture<'a, Vec<GroupMember>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(crate::aliyun::ess::MAX_SCALING_INSTANCE_IDS) {
                let answer = self
                    .client()
                    .ess()
                    .describe_scaling_instances(&DescribeScalingInstancesRequest {
                        scaling_group_id: Some(group_id.to_owned()),
                        instance_ids: chunk.to_vec(),
                        page_size: Some(crate::aliyun::ess::MAX_PAGE_SIZE),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| cloud_error(&e))?;
                out.extend(
                    answer
                        .scaling_instances
                        .scaling_instance
                        .into_iter()
                        .map(|m| GroupMember {
                            instance_id: m.instance_id,
                            lifecycle_state: m.lifecycle_state,
                            health_status: m.health_status,
                            creation_type: m.creation_type,
                        }),
                );
            }
            Ok(out)
        })
    }

    fn activity_in_progress<'a>(&'a self, group_id: &'a str) -> CloudFuture<'a, Option<String>> {
        Box::pin(async move {
            let answer = self
                .client()
                .ess()
                .describe_scaling_activities(&DescribeScalingActivitiesRequest {
                    scaling_group_id: Some(group_id.to_owned()),
                    status_code: Some("InProgress".to_owned()),
                    page_size: Some(1),
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .scaling_activities
                .scaling_activity
                .into_iter()
                .next()
                .map(|a| a.scaling_activity_id))
        })
    }

    fn instances<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, Vec<FleetInstance>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(100) {
                let answer = self
                    .client()
                    .ecs()
                    .describe_instances(&DescribeInstancesRequest {
                        instance_ids: chunk.to_vec(),
                        page_size: Some(100),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| cloud_error(&e))?;
                out.extend(answer.instances.instance.into_iter().map(|i| {
                    FleetInstance {
                        instance_id: i.instance_id,
                        status: format!("{:?}", i.status),
                        image_id: i.image_id,
                        locks: i
                            .operation_locks
                            .lock_reason
                            .into_iter()
                            .map(|l| l.lock_reason)
                            .collect(),
                        instance_type: i.instance_type,
                    }
                }));
            }
            Ok(out)
        })
    }

    fn disks<'a>(&'a self, disk_ids: &'a [String]) -> CloudFuture<'a, Vec<FleetDisk>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(disk_ids.len());
            for chunk in disk_ids.chunks(100) {
                let answer = self
                    .client()
                    .ecs()
                    .describe_disks(&DescribeDisksRequest {
                        disk_ids: chunk.to_vec(),
                        page_size: Some(100),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| cloud_error(&e))?;
                out.extend(answer.disks.disk.into_iter().map(|d| FleetDisk {
                    disk_id: d.disk_id,
                    status: d.status,
                }));
            }
            Ok(out)
        })
    }

    fn system_disks<'a>(
        &'a self,
        instance_ids: &'a [String],
    ) -> CloudFuture<'a, Vec<(String, FleetDisk)>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(instance_ids.len());
            for id in instance_ids {
                let answer = self
                    .client()
                    .ecs()
                    .describe_disks(&DescribeDisksRequest {
                        instance_id: Some(id.clone()),
                        disk_type: Some(crate::aliyun::ecs::DiskType::System),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| cloud_error(&e))?;
                out.extend(answer.disks.disk.into_iter().map(|d| {
                    (
                        id.clone(),
                        FleetDisk {
                            disk_id: d.disk_id,
                            status: d.status,
                        },
                    )
                }));
            }
            Ok(out)
        })
    }

    fn images<'a>(&'a self, image_ids: &'a [String]) -> CloudFuture<'a, Vec<FleetImage>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for chunk in image_ids.chunks(100) {
                let answer = self
                    .client()
                    .ecs()
                    .describe_images(&DescribeImagesRequest {
                        image_id: Some(chunk.join(",")),
                        status: ImageStatus::ALL
                            .into_iter()
                            .filter(|s| *s != ImageStatus::Unknown)
                            .collect(),
                        page_size: Some(100),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| cloud_error(&e))?;
                out.extend(answer.images.image.into_iter().map(|m| FleetImage {
                    image_id: m.image_id,
                    status: m.status.as_str().to_owned(),
                    architecture: m.architecture,
                    size: u32::try_from(m.size).unwrap_or(0),
                }));
            }
            Ok(out)
        })
    }

    fn configuration<'a>(
        &'a self,
        configuration_id: &'a str,
    ) -> CloudFuture<'a, Option<FleetConfiguration>> {
        Box::pin(async move {
            let answer = self
                .client()
                .ess()
                .describe_scaling_configurations(
                    &crate::aliyun::ess::DescribeScalingConfigurationsRequest {
                        scaling_configuration_ids: vec![configuration_id.to_owned()],
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .scaling_configurations
                .scaling_configuration
                .into_iter()
                .find(|c| c.scaling_configuration_id == configuration_id)
                .map(|c| FleetConfiguration {
                    image_id: c.image_id,
                    key_pair_name: Some(c.key_pair_name).filter(|k| !k.is_empty()),
                    instance_type: Some(c.instance_type).filter(|t| !t.is_empty()),
                    system_disk_size: u32::try_from(c.system_disk_size).ok().filter(|s| *s > 0),
                }))
        })
    }

    fn image_instance_types<'a>(
        &'a self,
        image_id: &'a str,
        replace: bool,
    ) -> CloudFuture<'a, Vec<String>> {
        Box::pin(async move {
            let answer = self
                .client()
                .ecs()
                .describe_image_support_instance_types(
                    &crate::aliyun::ecs::DescribeImageSupportInstanceTypesRequest {
                        image_id: image_id.to_owned(),
                        action_type: Some(if replace {
                            crate::aliyun::ecs::ImageActionType::ChangeOs
                        } else {
                            crate::aliyun::ecs::ImageActionType::CreateEcs
                        }),
                    },
                )
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .instance_types
                .instance_type
                .into_iter()
                .map(|t| t.instance_type_id)
                .collect())
        })
    }

    fn set_configuration_image<'a>(
        &'a self,
        configuration_id: &'a str,
        image_id: &'a str,
    ) -> CloudFuture<'a, ()> {
        self.modify_configuration_image(configuration_id, image_id)
    }

    fn enter_standby<'a>(
        &'a self,
        group_id: &'a str,
        ids: &'a [String],
        token: &'a str,
    ) -> CloudFuture<'a, ()> {
        Box::pin(self.standby(true, group_id, ids, token))
    }

    fn exit_standby<'a>(
        &'a self,
        group_id: &'a str,
        ids: &'a [String],
        token: &'a str,
    ) -> CloudFuture<'a, ()> {
        Box::pin(self.standby(false, group_id, ids, token))
    }

    fn set_protection<'a>(
        &'a self,
        group_id: &'a str,
        ids: &'a [String],
        protected: bool,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            for chunk in ids.chunks(20) {
                self.client()
                    .ess()
                    .set_instances_protection(&SetInstancesProtectionRequest {
                        scaling_group_id: group_id.to_owned(),
                        instance_ids: chunk.to_vec(),
                        protected_from_scale_in: protected,
                    })
                    .await
                    .map_err(|e| cloud_error(&e))?;
            }
            Ok(())
        })
    }

    fn suspend<'a>(
        &'a self,
        group_id: &'a str,
        processes: &'a [String],
        token: &'a str,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            self.client()
                .ess()
                .suspend_processes(&ProcessesRequest {
                    scaling_group_id: group_id.to_owned(),
                    processes: processes.to_vec(),
                    client_token: Some(token.to_owned()),
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(())
        })
    }

    fn resume<'a>(
        &'a self,
        group_id: &'a str,
        processes: &'a [String],
        token: &'a str,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            self.client()
                .ess()
                .resume_processes(&ProcessesRequest {
                    scaling_group_id: group_id.to_owned(),
                    processes: processes.to_vec(),
                    client_token: Some(token.to_owned()),
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(())
        })
    }

    fn stop<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            for chunk in ids.chunks(100) {
                self.client()
                    .ecs()
                    .stop_instances(&PowerRequest {
                        instance_ids: chunk.to_vec(),
                        stopped_mode: Some("KeepCharging".to_owned()),
                    })
                    .await
                    .map_err(|e| cloud_error(&e))?;
            }
            Ok(())
        })
    }

    fn start<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            for chunk in ids.chunks(100) {
                self.client()
                    .ecs()
                    .start_instances(&PowerRequest {
                        instance_ids: chunk.to_vec(),
                        stopped_mode: None,
                    })
                    .await
                    .map_err(|e| cloud_error(&e))?;
            }
            Ok(())
        })
    }

    fn replace_system_disk<'a>(
        &'a self,
        instance_id: &'a str,
        image_id: &'a str,
        key_pair_name: Option<&'a str>,
        token: &'a str,
    ) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let answer = self
                .client()
                .ecs()
                .replace_system_disk(&ReplaceSystemDiskRequest {
                    instance_id: instance_id.to_owned(),
                    image_id: image_id.to_owned(),
                    key_pair_name: key_pair_name.map(str::to_owned),
                    password_inherit: key_pair_name.is_none(),
                    client_token: Some(token.to_owned()),
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer.disk_id)
        })
    }

    fn run_command<'a>(
        &'a self,
        ids: &'a [String],
        script: &'a str,
        timeout_seconds: u32,
        token: &'a str,
    ) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let answer = self
                .client()
                .ecs()
                .run_command(&RunCommandRequest {
                    command_content: script.to_owned(),
                    instance_ids: ids.to_vec(),
                    timeout: Some(timeout_seconds),
                    client_token: Some(token.to_owned()),
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer.invoke_id)
        })
    }

    fn weights<'a>(&'a self, target: &'a str) -> CloudFuture<'a, Vec<BackendWeight>> {
        Box::pin(self.weights_of(target))
    }

    fn tag_instances<'a>(
        &'a self,
        ids: &'a [String],
        key: &'a str,
        value: &'a str,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            for chunk in ids.chunks(50) {
                self.client()
                    .ecs()
                    .tag_resources(&crate::aliyun::ecs::TagResourcesRequest {
                        resource_type: crate::aliyun::ecs::TagResourceType::Instance,
                        resource_ids: chunk.to_vec(),
                        tags: vec![crate::aliyun::Tag {
                            key: key.to_owned(),
                            value: value.to_owned(),
                        }],
                    })
                    .await
                    .map_err(|e| cloud_error(&e))?;
            }
            Ok(())
        })
    }

    fn refreshes_at_work<'a>(&'a self, group_id: &'a str) -> CloudFuture<'a, Vec<RefreshTask>> {
        Box::pin(async move {
            let tasks = self
                .client()
                .ess()
                .describe_instance_refreshes_all(&DescribeInstanceRefreshesRequest {
                    scaling_group_id: Some(group_id.to_owned()),
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(tasks
                .into_iter()
                .filter(|t| !t.ended())
                .map(refresh_task)
                .collect())
        })
    }

    fn refresh<'a>(
        &'a self,
        group_id: &'a str,
        task_id: &'a str,
    ) -> CloudFuture<'a, Option<RefreshTask>> {
        Box::pin(async move {
            let answer = self
                .client()
                .ess()
                .describe_instance_refreshes(&DescribeInstanceRefreshesRequest {
                    scaling_group_id: Some(group_id.to_owned()),
                    task_ids: vec![task_id.to_owned()],
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .instance_refresh_tasks
                .into_iter()
                .find(|t| t.instance_refresh_task_id == task_id)
                .map(refresh_task))
        })
    }

    fn start_refresh<'a>(&'a self, request: &'a RefreshRequest) -> CloudFuture<'a, String> {
        Box::pin(async move {
            let answer = self
                .client()
                .ess()
                .start_instance_refresh(&StartInstanceRefreshRequest {
                    scaling_group_id: request.group_id.clone(),
                    image_id: Some(request.image_id.clone()),
                    min_healthy_percentage: Some(request.min_healthy_percentage),
                    max_healthy_percentage: Some(100),
                    checkpoints: request.checkpoints.clone(),
                    checkpoint_pause_minutes: Some(request.checkpoint_pause_minutes),
                    // ESS matches instances by configuration id, and every instance of the
                    // active configuration matches it: all are replaced.
                    skip_matching: Some(false),
                    client_token: Some(request.token.clone()),
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer.instance_refresh_task_id)
        })
    }

    fn refresh_action<'a>(
        &'a self,
        group_id: &'a str,
        task_id: &'a str,
        action: RefreshAction,
    ) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            let ess = self.client().ess();
            let req = InstanceRefreshTaskRequest {
                scaling_group_id: group_id.to_owned(),
                task_id: task_id.to_owned(),
            };
            match action {
                RefreshAction::Suspend => ess.suspend_instance_refresh(&req).await,
                RefreshAction::Resume => ess.resume_instance_refresh(&req).await,
                RefreshAction::Rollback => ess.rollback_instance_refresh(&req).await,
                RefreshAction::Cancel => ess.cancel_instance_refresh(&req).await,
            }
            .map_err(|e| cloud_error(&e))?;
            Ok(())
        })
    }

    fn backend_health<'a>(
        &'a self,
        load_balancer_id: &'a str,
    ) -> CloudFuture<'a, Vec<(String, String)>> {
        Box::pin(async move {
            let answer = self
                .client()
                .slb()
                .describe_health_status(load_balancer_id)
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(answer
                .backend_servers
                .backend_server
                .into_iter()
                .map(|b| (b.server_id, b.server_health_status))
                .collect())
        })
    }

    fn set_weights<'a>(&'a self, weights: &'a [BackendWeight]) -> CloudFuture<'a, ()> {
        Box::pin(self.set_weights_in(weights))
    }

    fn command_results<'a>(&'a self, invoke_id: &'a str) -> CloudFuture<'a, Vec<CommandResult>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for page in 1u32.. {
                let answer = self
                    .client()
                    .ecs()
                    .describe_invocation_results(&DescribeInvocationResultsRequest {
                        invoke_id: invoke_id.to_owned(),
                        page_number: Some(page),
                        page_size: Some(50),
                    })
                    .await
                    .map_err(|e| cloud_error(&e))?;
                let results = answer.invocation.invocation_results.invocation_result;
                let last = results.len() < 50
                    || i64::try_from(out.len() + results.len()).unwrap_or(i64::MAX)
                        >= answer.invocation.total_count;
                out.extend(results.into_iter().map(|r| CommandResult {
                    instance_id: r.instance_id,
                    status: r.invocation_status,
                    exit_code: r.exit_code,
                    output: r.output,
                }));
                if last {
                    break;
                }
            }
            Ok(out)
        })
    }
}
