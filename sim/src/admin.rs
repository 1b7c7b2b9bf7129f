//! The admin interface: read the region, count calls, inject faults, change resources, move
//! the clock. Tests use it in-process through [`Admin`] (from [`crate::Sim::admin`]); the same
//! operations are served unsigned over HTTP under `/__sim/`, to loopback peers only.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /__sim/state` | every resource, with statuses computed now |
//! | `GET /__sim/calls` | calls per Action: `{"total":{..},"since_reset":{..}}` |
//! | `POST /__sim/calls/reset` | zero the since-reset counters |
//! | `POST /__sim/faults` | `{"action","code","status","count","message"?}`: the next `count` calls of `action` (`*` = any) fail |
//! | `POST /__sim/throttle` | `{"fraction","action"?}`: refuse that share of calls with `Throttling` (fraction 0 turns it off) |
//! | `POST /__sim/latency` | `{"millis","action"?}`: delay answers (millis 0 turns it off) |
//! | `DELETE /__sim/faults` | remove faults, throttling and latency |
//! | `POST /__sim/instances/{id}/stop`, `/start`, `/release` | change an instance |
//! | `POST /__sim/instances/{id}/lock` `{"reason"}`, `DELETE …/lock` | put an `OperationLocks` reason on an instance, or take them all off |
//! | `POST /__sim/power` `{"stop_seconds","boot_seconds","replace_seconds"}` | how long Stopping, Starting and a new system disk's ReIniting last (0 by default) |
//! | `POST /__sim/groups/{id}/activity` `{"seconds"}` | a scaling activity of the group, InProgress that long |
//! | `POST /__sim/images/{id}/bad` | commands run through Cloud Assistant on instances of this image exit 1 |
//! | `DELETE /__sim/images/{id}/bad` | the image is good again |
//! | `POST /__sim/images/{id}/unsupported-types` `{"instance_types"}` | DescribeImageSupportInstanceTypes leaves these types out for the image (replacing any earlier list) |
//! | `DELETE /__sim/images/{id}/unsupported-types` | the image runs on every type of its architecture again |
//! | `POST /__sim/images/{id}/boot-mode` `{"boot_mode"}` | the image boots `BIOS`, `UEFI` or `UEFI-Preferred` (DescribeImages' `BootMode`; RunInstances compares it with the type's) |
//! | `POST /__sim/instance-types/{id}/out-of-stock`, `DELETE …/out-of-stock` | RunInstances refuses the type with `OperationDenied.NoStock`, or takes it again |
//! | `DELETE /__sim/configurations/{id}` | delete a scaling configuration |
//! | `POST /__sim/groups/{id}/launch-template` `{"launch_template_id","launch_template_version"?,"overrides"?}` | the ECS group launches from this template (version a number, `Default` or `Latest`; overrides `[{"instance_type","weighted_capacity"?,"spot_price_limit"?}]`) instead of its configuration |
//! | `POST /__sim/images/custom` `{"images": [SeedCustomImage…]}` | add the account's images, each with a system-disk snapshot, tags and an age; answers their ids |
//! | `POST /__sim/images/custom-batch` `CustomImageBatch` | add `count` such images named `{name_prefix}-{n}` |
//! | `POST /__sim/images/{id}/shares` `{"accounts", "public"?}` | share the image with accounts (and publish it) |
//! | `POST /__sim/launch-templates` `SeedLaunchTemplate` | add a launch template with its versions; answers its `LaunchTemplateId` |
//! | `POST /__sim/images/fail-next` | the next CreateImage ends in CreateFailed |
//! | `POST /__sim/images/{id}/fail` | this Creating image ends in CreateFailed |
//! | `GET /__sim/clock`, `POST /__sim/clock/advance` `{"seconds"}` | read or move the sim's time |

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{Method, Request, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ecs::fleet::PowerTiming;
use crate::ecs::state::{ImageStatus, InstanceStatus, ProgressProfile};
use crate::error::RpcError;
use crate::state::{CallCounts, Fault, Latency, SimState, Throttle};

/// An instance as the admin interface shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceView {
    /// `i-…`.
    pub instance_id: String,
    /// Its name.
    pub instance_name: String,
    /// `Running`, `Stopped`, …
    pub status: String,
    /// Its image.
    pub image_id: String,
    /// Its disks' ids, system disk first.
    pub disk_ids: Vec<String>,
    /// How many new system disks ReplaceSystemDisk gave it.
    pub replacements: u32,
    /// The key pair a system disk replacement bound.
    pub key_pair_name: Option<String>,
}

/// A snapshot as the admin interface shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotView {
    /// `s-…`.
    pub snapshot_id: String,
    /// `progressing` or `accomplished`.
    pub status: String,
    /// 0..=100.
    pub progress: u32,
    /// The disk it was taken from.
    pub source_disk_id: String,
    /// `system` or `data`.
    pub source_disk_type: String,
    /// Its tags.
    pub tags: Vec<(String, String)>,
}

/// An image as the admin interface shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageView {
    /// `m-…` or a public image id.
    pub image_id: String,
    /// Its name.
    pub image_name: String,
    /// `Creating`, `Available` or `CreateFailed`.
    pub status: String,
    /// 0..=100.
    pub progress: u32,
    /// `system` or `self`.
    pub owner_alias: String,
    /// The snapshots it holds.
    pub snapshot_ids: Vec<String>,
    /// Its tags.
    pub tags: Vec<(String, String)>,
    /// `BIOS`, `UEFI` or `UEFI-Preferred`.
    pub boot_mode: String,
    /// The accounts it is shared with.
    pub shared_with: Vec<String>,
    /// Whether it is publicly available (a public image, or a published community image).
    pub is_public: bool,
}

/// A launch template as the admin interface shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaunchTemplateView {
    /// `lt-…`.
    pub launch_template_id: String,
    /// Its name.
    pub launch_template_name: String,
    /// The default version.
    pub default_version_number: i64,
    /// Each version's number and the image it names.
    pub versions: Vec<(i64, Option<String>)>,
}

/// An instance of a scaling group as the admin interface shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScalingInstanceView {
    /// `i-…`.
    pub instance_id: String,
    /// Its group.
    pub scaling_group_id: String,
    /// `InService`, `Standby`, `Protected`, …
    pub lifecycle_state: String,
    /// `Healthy` or `Unhealthy`, as DescribeScalingInstances reports it.
    pub health_status: String,
    /// Its load-balancer weight.
    pub load_balancer_weight: u32,
}

/// A scaling group as the admin interface shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScalingGroupView {
    /// `asg-…`.
    pub scaling_group_id: String,
    /// Its name.
    pub scaling_group_name: String,
    /// `ECS` or `ECI`.
    pub group_type: String,
    /// `Active`, …
    pub lifecycle_state: String,
    /// Its active configuration.
    pub active_scaling_configuration_id: Option<String>,
    /// Processes suspended by SuspendProcesses.
    pub suspended_processes: Vec<String>,
}

/// A scaling configuration as the admin interface shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScalingConfigurationView {
    /// `asc-…`.
    pub scaling_configuration_id: String,
    /// Its name.
    pub scaling_configuration_name: String,
    /// Its group.
    pub scaling_group_id: String,
    /// `Active` or `Inactive`.
    pub lifecycle_state: String,
    /// Its image.
    pub image_id: String,
    /// That image's name.
    pub image_name: String,
}

/// Everything in the region at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateView {
    /// The sim's time.
    pub now: DateTime<Utc>,
    /// Instances.
    pub instances: Vec<InstanceView>,
    /// Snapshots.
    pub snapshots: Vec<SnapshotView>,
    /// Images.
    pub images: Vec<ImageView>,
    /// Scaling groups.
    pub scaling_groups: Vec<ScalingGroupView>,
    /// Scaling configurations.
    pub scaling_configurations: Vec<ScalingConfigurationView>,
    /// The instances of scaling groups.
    pub scaling_instances: Vec<ScalingInstanceView>,
    /// Launch templates.
    pub launch_templates: Vec<LaunchTemplateView>,
}

/// In-process handle on the admin interface.
#[derive(Debug, Clone)]
pub struct Admin {
    state: Arc<SimState>,
}

impl Admin {
    /// An admin handle on `state`.
    pub fn new(state: Arc<SimState>) -> Self {
        Self { state }
    }

    /// The shared state (for the OSS and FC fronts' own admin needs).
    pub fn sim_state(&self) -> &Arc<SimState> {
        &self.state
    }

    /// Every resource, statuses computed at the sim's current time.
    pub fn state(&self) -> StateView {
        let now = self.state.now();
        let mut region = self.state.region();
        region.ecs.settle(now);
        let ecs = &region.ecs;
        let ess = &region.ess;
        StateView {
            now,
            instances: ecs
                .instances
                .iter()
                .map(|i| {
                    let mut disks: Vec<_> = ecs
                        .disks
                        .iter()
                        .filter(|d| d.instance_id.as_deref() == Some(&i.instance_id))
                        .collect();
                    disks.sort_by_key(|d| (d.kind != "system", d.device.clone()));
                    InstanceView {
                        instance_id: i.instance_id.clone(),
                        instance_name: i.instance_name.clone(),
                        status: i.status.as_str().to_owned(),
                        image_id: i.image_id.clone(),
                        disk_ids: disks.iter().map(|d| d.disk_id.clone()).collect(),
                        replacements: i.replacements,
                        key_pair_name: i.key_pair_name.clone(),
                    }
                })
                .collect(),
            snapshots: ecs
                .snapshots
                .iter()
                .map(|s| {
                    let (status, progress) = s.status(now);
                    SnapshotView {
                        snapshot_id: s.snapshot_id.clone(),
                        status: status.to_owned(),
                        progress: progress.percent,
                        source_disk_id: s.source_disk_id.clone(),
                        source_disk_type: s.source_disk_type.clone(),
                        tags: s.tags.clone(),
                    }
                })
                .collect(),
            images: ecs
                .images
                .iter()
                .map(|m| {
                    let (status, progress) = m.status(now);
                    ImageView {
                        image_id: m.image_id.clone(),
                        image_name: m.image_name.clone(),
                        status: status.as_str().to_owned(),
                        progress: progress.percent,
                        owner_alias: m.owner_alias.clone(),
                        snapshot_ids: m
                            .disk_mappings
                            .iter()
                            .filter_map(|d| d.snapshot_id.clone())
                            .collect(),
                        tags: m.tags.clone(),
                        boot_mode: ecs.boot_mode(m).to_owned(),
                        shared_with: ecs
                            .shares
                            .get(&m.image_id)
                            .map(|s| s.accounts.iter().map(|(a, _)| a.clone()).collect())
                            .unwrap_or_default(),
                        is_public: ecs.is_public(m),
                    }
                })
                .collect(),
            launch_templates: ecs
                .launch_templates
                .iter()
                .map(|t| LaunchTemplateView {
                    launch_template_id: t.launch_template_id.clone(),
                    launch_template_name: t.launch_template_name.clone(),
                    default_version_number: t.default_version_number,
                    versions: t
                        .versions
                        .iter()
                        .map(|v| (v.version_number, v.data.image_id.clone()))
                        .collect(),
                })
                .collect(),
            scaling_groups: ess
                .groups
                .iter()
                .map(|g| ScalingGroupView {
                    scaling_group_id: g.scaling_group_id.clone(),
                    scaling_group_name: g.scaling_group_name.clone(),
                    group_type: g.group_type.clone(),
                    lifecycle_state: g.lifecycle_state.clone(),
                    active_scaling_configuration_id: g.active_scaling_configuration_id.clone(),
                    suspended_processes: g.suspended_processes.clone(),
                })
                .collect(),
            scaling_instances: ess
                .instances
                .iter()
                .map(|i| ScalingInstanceView {
                    instance_id: i.instance_id.clone(),
                    scaling_group_id: i.scaling_group_id.clone(),
                    lifecycle_state: i.lifecycle_state.clone(),
                    health_status: i.health(ecs).to_owned(),
                    load_balancer_weight: i.load_balancer_weight,
                })
                .collect(),
            scaling_configurations: ess
                .configurations
                .iter()
                .map(|c| ScalingConfigurationView {
                    scaling_configuration_id: c.scaling_configuration_id.clone(),
                    scaling_configuration_name: c.scaling_configuration_name.clone(),
                    scaling_group_id: c.scaling_group_id.clone(),
                    lifecycle_state: ess.lifecycle_state(c).to_owned(),
                    image_id: c.image_id.clone(),
                    image_name: ecs
                        .image(&c.image_id)
                        .map_or(c.image_name.clone(), |m| m.image_name.clone()),
                })
                .collect(),
        }
    }

    /// The image `id`, if it exists.
    pub fn image(&self, id: &str) -> Option<ImageView> {
        self.state().images.into_iter().find(|m| m.image_id == id)
    }

    /// The configuration `id`, if it exists.
    pub fn scaling_configuration(&self, id: &str) -> Option<ScalingConfigurationView> {
        self.state()
            .scaling_configurations
            .into_iter()
            .find(|c| c.scaling_configuration_id == id)
    }

    /// The instance `id`, if it exists.
    pub fn instance(&self, id: &str) -> Option<InstanceView> {
        self.state()
            .instances
            .into_iter()
            .find(|i| i.instance_id == id)
    }

    /// Calls per Action.
    pub fn calls(&self) -> CallCounts {
        self.state.calls()
    }

    /// Calls of `action` since the last reset.
    pub fn calls_since_reset(&self, action: &str) -> u64 {
        self.state
            .calls()
            .since_reset
            .get(action)
            .copied()
            .unwrap_or(0)
    }

    /// Zeroes the since-reset counters.
    pub fn reset_calls(&self) {
        self.state.reset_calls();
    }

    /// The next `count` calls of `action` (`*`: any) fail with `code` and `status`.
    pub fn fail_next(
        &self,
        action: &str,
        code: &str,
        status: u16,
        count: u32,
    ) -> Result<(), RpcError> {
        self.add_fault(Fault {
            action: action.to_owned(),
            code: code.to_owned(),
            status,
            message: None,
            count,
        })
    }

    /// Queues a fault.
    pub fn add_fault(&self, fault: Fault) -> Result<(), RpcError> {
        if !(400..=599).contains(&fault.status) {
            return Err(RpcError::invalid(
                "status",
                "a fault's HTTP status must be 400..=599",
            ));
        }
        if fault.code.is_empty() || fault.action.is_empty() {
            return Err(RpcError::invalid(
                "fault",
                "action and code must not be empty",
            ));
        }
        self.state.faults().failures.push(fault);
        Ok(())
    }

    /// Refuses `fraction` of calls (of `action`, or all) with `Throttling`; 0 turns it off.
    pub fn throttle(&self, fraction: f64, action: Option<&str>) -> Result<(), RpcError> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(RpcError::invalid("fraction", "must be between 0 and 1"));
        }
        self.state.faults().throttle = (fraction > 0.0).then(|| Throttle {
            fraction,
            action: action.map(str::to_owned),
        });
        Ok(())
    }

    /// Delays answers (of `action`, or all) by `millis`; 0 turns it off.
    pub fn latency(&self, millis: u64, action: Option<&str>) {
        self.state.faults().latency = (millis > 0).then(|| Latency {
            millis,
            action: action.map(str::to_owned),
        });
    }

    /// Removes every fault, throttling and latency.
    pub fn clear_faults(&self) {
        *self.state.faults() = crate::state::Faults::default();
    }

    fn set_instance_status(&self, id: &str, status: InstanceStatus) -> Result<(), RpcError> {
        self.state.region().ecs.instance_mut(id)?.status = status;
        Ok(())
    }

    /// Stops an instance at once.
    pub fn stop_instance(&self, id: &str) -> Result<(), RpcError> {
        self.set_instance_status(id, InstanceStatus::Stopped)
    }

    /// Starts an instance at once.
    pub fn start_instance(&self, id: &str) -> Result<(), RpcError> {
        self.set_instance_status(id, InstanceStatus::Running)
    }

    /// Puts an instance in any status (`Pending`, `Starting`, `Stopping`, …).
    pub fn set_instance_status_str(&self, id: &str, status: &str) -> Result<(), RpcError> {
        let status = InstanceStatus::parse(status)
            .ok_or_else(|| RpcError::invalid("status", "unknown instance status"))?;
        self.set_instance_status(id, status)
    }

    /// Makes an instance run from `image_id`, as a system disk replaced with that image
    /// leaves it: the instance and its system disk name the image (DescribeImages then says
    /// `Usage` `instance` for it, and DeleteImage refuses it without `Force`).
    pub fn set_instance_image(&self, id: &str, image_id: &str) -> Result<(), RpcError> {
        let mut region = self.state.region();
        let ecs = &mut region.ecs;
        if ecs.image(image_id).is_none() {
            return Err(crate::ecs::errors::image_not_found(image_id));
        }
        ecs.instance_mut(id)?.image_id = image_id.to_owned();
        for disk in ecs
            .disks
            .iter_mut()
            .filter(|d| d.kind == "system" && d.instance_id.as_deref() == Some(id))
        {
            disk.image_id = image_id.to_owned();
        }
        Ok(())
    }

    /// Releases an instance and its disks.
    pub fn release_instance(&self, id: &str) -> Result<(), RpcError> {
        self.state.region().ecs.release_instance(id)
    }

    /// Deletes a scaling configuration.
    pub fn delete_configuration(&self, id: &str) -> Result<(), RpcError> {
        self.state.region().ess.delete_configuration(id)
    }

    /// Disables (`false`: lifecycle state Inactive) or enables (`true`: Active) a scaling
    /// group, as DisableScalingGroup and EnableScalingGroup do.
    pub fn set_group_enabled(&self, id: &str, enabled: bool) -> Result<(), RpcError> {
        let mut region = self.state.region();
        let group = region
            .ess
            .groups
            .iter_mut()
            .find(|g| g.scaling_group_id == id)
            .ok_or_else(|| crate::ess::errors::group_not_found(id))?;
        group.lifecycle_state = if enabled { "Active" } else { "Inactive" }.to_owned();
        Ok(())
    }

    /// Makes the launch template `source` the instance source of the ECS group `id`, in place
    /// of its active configuration (ModifyScalingGroup's rules: the template exists, the
    /// version is one it holds, `Default` or `Latest`).
    pub fn set_group_launch_template(
        &self,
        id: &str,
        source: &crate::ess::state::GroupLaunchTemplate,
    ) -> Result<(), RpcError> {
        let mut region = self.state.region();
        let region = &mut *region;
        source.check(&region.ecs)?;
        let group = region.ess.group_mut(id)?;
        if group.group_type != "ECS" {
            return Err(RpcError::invalid(
                "LaunchTemplateId",
                "only an ECS scaling group launches from a launch template",
            ));
        }
        group.active_scaling_configuration_id = None;
        group.launch_template = Some(source.clone());
        Ok(())
    }

    /// How long stops, boots and system disk replacements take from now on.
    pub fn set_power_timing(&self, timing: PowerTiming) {
        self.state.region().ecs.power = timing;
    }

    /// Puts an `OperationLocks` reason (`security`, `financial`, …) on the instance `id`, or
    /// takes every lock off with `None`.
    pub fn lock_instance(&self, id: &str, reason: Option<&str>) -> Result<(), RpcError> {
        let mut region = self.state.region();
        let instance = region.ecs.instance_mut(id)?;
        match reason {
            Some(reason) => instance.locks.push(reason.to_owned()),
            None => instance.locks.clear(),
        }
        Ok(())
    }

    /// Starts a scaling activity of the group `id` that stays InProgress for `seconds`
    /// (what a scale-out running at the same time looks like); answers its id.
    pub fn start_scaling_activity(&self, id: &str, seconds: u64) -> Result<String, RpcError> {
        let now = self.state.now();
        let mut region = self.state.region();
        region.ess.group_mut(id)?;
        let end = crate::ecs::state::later(
            now,
            chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX)),
        );
        Ok(region.ess.record_activity(
            id,
            "Add \"1\" ECS instances".to_owned(),
            "A user requests to execute a scaling rule.".to_owned(),
            now,
            end,
            1,
        ))
    }

    /// Marks the image `id` bad: a Cloud Assistant command on an instance booted from it
    /// exits 1 (what a readiness check sees when the service does not start).
    pub fn mark_image_bad(&self, id: &str) -> Result<(), RpcError> {
        let mut region = self.state.region();
        region.ecs.image_mut(id)?;
        if !region.ecs.bad_images.iter().any(|m| m == id) {
            region.ecs.bad_images.push(id.to_owned());
        }
        Ok(())
    }

    /// `server`'s weight in a load balancer's default server group (`lb-…`) or in a vServer
    /// group (`rsp-…`), if it is a member.
    pub fn backend_weight(&self, target: &str, server: &str) -> Option<u32> {
        let region = self.state.region();
        let slb = &region.slb;
        slb.load_balancers
            .iter()
            .filter(|lb| lb.load_balancer_id == target)
            .flat_map(|lb| lb.backends.iter().map(|b| (b.server_id.as_str(), b.weight)))
            .chain(
                slb.vserver_groups
                    .iter()
                    .filter(|g| g.vserver_group_id == target)
                    .flat_map(|g| g.backends.iter().map(|b| (b.server_id.as_str(), b.weight))),
            )
            .find(|(s, _)| *s == server)
            .map(|(_, w)| w)
    }

    /// Marks the image `id` good again (its fix shipped): commands exit 0 once more.
    pub fn mark_image_good(&self, id: &str) -> Result<(), RpcError> {
        let mut region = self.state.region();
        region.ecs.image_mut(id)?;
        region.ecs.bad_images.retain(|m| m != id);
        Ok(())
    }

    /// Declares the image `id` unsupported on exactly `instance_types` (instance types of
    /// the sim's catalogue, `reimage_sim::ecs::types::CATALOGUE`):
    /// DescribeImageSupportInstanceTypes leaves them out. An empty list lifts the restriction.
    /// `InvalidImageId.NotFound` for an unknown image, 400
    /// `InvalidInstanceType.ValueNotSupported` for a type outside the catalogue.
    pub fn restrict_image_types(&self, id: &str, instance_types: &[&str]) -> Result<(), RpcError> {
        self.state
            .region()
            .ecs
            .restrict_image_types(id, instance_types)
    }

    /// Sets the boot mode of the image `id`: `BIOS`, `UEFI` or `UEFI-Preferred` (an `arm64`
    /// image `UEFI` only). Images boot `BIOS` by default (`arm64` ones `UEFI`); an image made
    /// from one keeps its mode. `InvalidImageId.NotFound` for an unknown image, 400
    /// `InvalidParameter` for another mode.
    pub fn set_image_boot_mode(&self, id: &str, boot_mode: &str) -> Result<(), RpcError> {
        self.state.region().ecs.set_image_boot_mode(id, boot_mode)
    }

    /// Marks the instance type `instance_type` (of the sim's catalogue) out of stock in every
    /// zone, or in stock again: RunInstances refuses it with 403 `OperationDenied.NoStock`.
    /// 400 `InvalidInstanceType.ValueNotSupported` for a type outside the catalogue.
    pub fn set_out_of_stock(
        &self,
        instance_type: &str,
        out_of_stock: bool,
    ) -> Result<(), RpcError> {
        self.state
            .region()
            .ecs
            .set_out_of_stock(instance_type, out_of_stock)
    }

    /// Adds the account's images, each with a system-disk snapshot, tags and a creation time
    /// `age_seconds` before now (all or nothing: a name taken or malformed is
    /// `InvalidImageName.*`); answers their ids and their snapshots'.
    pub fn add_custom_images(
        &self,
        images: &[crate::seed::SeedCustomImage],
    ) -> Result<Vec<crate::ecs::seeding::SeededImage>, RpcError> {
        let now = self.state.now();
        self.state.region().ecs.add_custom_images(images, now)
    }

    /// Adds the images of `batch` ([`Admin::add_custom_images`]).
    pub fn add_custom_image_batch(
        &self,
        batch: &crate::seed::CustomImageBatch,
    ) -> Result<Vec<crate::ecs::seeding::SeededImage>, RpcError> {
        self.add_custom_images(&batch.images())
    }

    /// Adds a launch template with its versions (CreateLaunchTemplate's rules, without the
    /// region's quota of templates); answers its id.
    pub fn create_launch_template(
        &self,
        template: &crate::seed::SeedLaunchTemplate,
    ) -> Result<String, RpcError> {
        let now = self.state.now();
        self.state
            .region()
            .ecs
            .add_launch_template(template.to_new()?, now, false)
    }

    /// Shares the account's image `id` with `accounts` (ModifyImageSharePermission's rules,
    /// without its ten accounts a call), and publishes it as a community image if `public`.
    pub fn share_image(&self, id: &str, accounts: &[&str], public: bool) -> Result<(), RpcError> {
        let now = self.state.now();
        let mut region = self.state.region();
        region.ecs.share_image(id, accounts, &[], now)?;
        if public {
            region.ecs.publish_image(id, true)?;
        }
        Ok(())
    }

    /// The next image CreateImage makes ends in CreateFailed.
    pub fn fail_next_image(&self) {
        self.state.region().ecs.fail_next_image = true;
    }

    /// The image `id`, still Creating, ends in CreateFailed.
    pub fn fail_image(&self, id: &str) -> Result<(), RpcError> {
        let now = self.state.now();
        let mut region = self.state.region();
        let image = region.ecs.image_mut(id)?;
        if image.status(now).0 != ImageStatus::Creating {
            return Err(RpcError::bad_request(
                "IncorrectImageStatus",
                format!("Image {id} is not Creating: only an image being made can fail."),
            ));
        }
        image.fails = true;
        Ok(())
    }

    /// How the progress of the images CreateImage makes from now on moves.
    pub fn set_image_progress(&self, profile: ProgressProfile) {
        self.state.region().ecs.image_profile = profile;
    }

    /// How the progress of the image `id` moves from now on (its creation and ready times
    /// stay).
    pub fn set_progress_of(&self, id: &str, profile: ProgressProfile) -> Result<(), RpcError> {
        self.state.region().ecs.image_mut(id)?.profile = profile;
        Ok(())
    }

    /// The sim's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.state.now()
    }

    /// Moves the sim's time forward (resource progress and STS expiry follow it; request
    /// timestamps are still checked against the underlying clock).
    pub fn advance(&self, by: std::time::Duration) {
        self.state
            .advance(chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX));
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Power {
    #[serde(default)]
    stop_seconds: u32,
    #[serde(default)]
    boot_seconds: u32,
    #[serde(default)]
    replace_seconds: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lock {
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Activity {
    seconds: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnsupportedTypes {
    instance_types: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BootMode {
    boot_mode: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomImages {
    images: Vec<crate::seed::SeedCustomImage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Shares {
    accounts: Vec<String>,
    #[serde(default)]
    public: bool,
}

#[derive(Deserialize)]
struct Advance {
    seconds: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageProgress {
    profile: ProgressProfile,
}

fn ok(value: Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

fn done(result: Result<(), RpcError>) -> Response {
    match result {
        Ok(()) => ok(json!({"ok": true})),
        Err(err) => crate::error::json_error(err, "Sim"),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, RpcError> {
    serde_json::from_slice(bytes).map_err(|e| {
        RpcError::bad_request(
            "InvalidParameter",
            format!("The admin request body is not valid: {e}"),
        )
    })
}

/// Largest admin request body: a list of seeded images may run to megabytes.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Serves `/__sim/…`.
pub async fn handle(
    state: Arc<SimState>,
    peer: Option<SocketAddr>,
    req: Request<Body>,
) -> Response {
    if !peer.is_some_and(|p| p.ip().is_loopback()) {
        return crate::error::json_error(
            RpcError::forbidden(
                "Forbidden",
                "The admin interface answers loopback peers only.",
            ),
            "Sim",
        );
    }
    let admin = Admin::new(state);
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return crate::error::json_error(
                RpcError::bad_request(
                    "InvalidParameter",
                    "The admin request body is unreadable or too large.",
                ),
                "Sim",
            );
        }
    };
    let segments: Vec<&str> = path
        .trim_start_matches("/__sim")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let result: Result<Response, RpcError> = (|| {
        Ok(match (&method, segments.as_slice()) {
            (&Method::GET, ["state"]) => {
                ok(serde_json::to_value(admin.state()).unwrap_or_default())
            }
            (&Method::GET, ["calls"]) => {
                ok(serde_json::to_value(admin.calls()).unwrap_or_default())
            }
            (&Method::POST, ["calls", "reset"]) => {
                admin.reset_calls();
                ok(json!({"ok": true}))
            }
            (&Method::POST, ["faults"]) => done(admin.add_fault(parse(&body)?)),
            (&Method::DELETE, ["faults"]) => {
                admin.clear_faults();
                ok(json!({"ok": true}))
            }
            (&Method::POST, ["throttle"]) => {
                let t: Throttle = parse(&body)?;
                done(admin.throttle(t.fraction, t.action.as_deref()))
            }
            (&Method::POST, ["latency"]) => {
                let l: Latency = parse(&body)?;
                admin.latency(l.millis, l.action.as_deref());
                ok(json!({"ok": true}))
            }
            (&Method::POST, ["instances", id, "stop"]) => done(admin.stop_instance(id)),
            (&Method::POST, ["instances", id, "start"]) => done(admin.start_instance(id)),
            (&Method::POST, ["instances", id, "release"]) => done(admin.release_instance(id)),
            (&Method::POST, ["instances", id, "lock"]) => {
                let l: Lock = parse(&body)?;
                done(admin.lock_instance(id, Some(&l.reason)))
            }
            (&Method::DELETE, ["instances", id, "lock"]) => done(admin.lock_instance(id, None)),
            (&Method::POST, ["power"]) => {
                let p: Power = parse(&body)?;
                let seconds = |s: u32| chrono::Duration::seconds(i64::from(s));
                admin.set_power_timing(PowerTiming {
                    stop: seconds(p.stop_seconds),
                    boot: seconds(p.boot_seconds),
                    replace: seconds(p.replace_seconds),
                });
                ok(json!({"ok": true}))
            }
            (&Method::POST, ["groups", id, "activity"]) => {
                let a: Activity = parse(&body)?;
                ok(json!({"ScalingActivityId": admin.start_scaling_activity(id, a.seconds)?}))
            }
            (&Method::DELETE, ["configurations", id]) => done(admin.delete_configuration(id)),
            (&Method::POST, ["groups", id, "launch-template"]) => {
                let t: crate::ess::state::GroupLaunchTemplate = parse(&body)?;
                done(admin.set_group_launch_template(id, &t))
            }
            (&Method::POST, ["groups", id, "disable"]) => done(admin.set_group_enabled(id, false)),
            (&Method::POST, ["groups", id, "enable"]) => done(admin.set_group_enabled(id, true)),
            (&Method::POST, ["images", "fail-next"]) => {
                admin.fail_next_image();
                ok(json!({"ok": true}))
            }
            (&Method::POST, ["images", "custom"]) => {
                let c: CustomImages = parse(&body)?;
                ok(json!({"images": admin.add_custom_images(&c.images)?}))
            }
            (&Method::POST, ["images", "custom-batch"]) => {
                let b: crate::seed::CustomImageBatch = parse(&body)?;
                ok(json!({"images": admin.add_custom_image_batch(&b)?}))
            }
            (&Method::POST, ["images", id, "shares"]) => {
                let s: Shares = parse(&body)?;
                let accounts: Vec<&str> = s.accounts.iter().map(String::as_str).collect();
                done(admin.share_image(id, &accounts, s.public))
            }
            (&Method::POST, ["launch-templates"]) => {
                let t: crate::seed::SeedLaunchTemplate = parse(&body)?;
                ok(json!({"LaunchTemplateId": admin.create_launch_template(&t)?}))
            }
            (&Method::POST, ["images", id, "fail"]) => done(admin.fail_image(id)),
            (&Method::POST, ["images", id, "bad"]) => done(admin.mark_image_bad(id)),
            (&Method::DELETE, ["images", id, "bad"]) => done(admin.mark_image_good(id)),
            (&Method::POST, ["images", id, "unsupported-types"]) => {
                let u: UnsupportedTypes = parse(&body)?;
                let types: Vec<&str> = u.instance_types.iter().map(String::as_str).collect();
                done(admin.restrict_image_types(id, &types))
            }
            (&Method::DELETE, ["images", id, "unsupported-types"]) => {
                done(admin.restrict_image_types(id, &[]))
            }
            (&Method::POST, ["images", id, "boot-mode"]) => {
                let b: BootMode = parse(&body)?;
                done(admin.set_image_boot_mode(id, &b.boot_mode))
            }
            (&Method::POST, ["instance-types", id, "out-of-stock"]) => {
                done(admin.set_out_of_stock(id, true))
            }
            (&Method::DELETE, ["instance-types", id, "out-of-stock"]) => {
                done(admin.set_out_of_stock(id, false))
            }
            (&Method::POST, ["images", "progress"]) => {
                let p: ImageProgress = parse(&body)?;
                admin.set_image_progress(p.profile);
                ok(json!({"ok": true}))
            }
            (&Method::POST, ["images", id, "progress"]) => {
                let p: ImageProgress = parse(&body)?;
                done(admin.set_progress_of(id, p.profile))
            }
            (&Method::GET, ["clock"]) => ok(json!({"now": admin.now()})),
            (&Method::POST, ["clock", "advance"]) => {
                let a: Advance = parse(&body)?;
                admin.advance(std::time::Duration::from_secs(a.seconds));
                ok(json!({"now": admin.now()}))
            }
            _ => crate::error::json_error(
                RpcError::not_found(
                    "InvalidAction.NotFound",
                    format!("The admin interface has no {method} {path}."),
                ),
                "Sim",
            ),
        })
    })();
    result.unwrap_or_else(|err| crate::error::json_error(err, "Sim"))
}
