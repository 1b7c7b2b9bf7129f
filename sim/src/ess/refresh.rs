//! Instance refresh (ESS API version 2022-02-22): StartInstanceRefresh,
//! DescribeInstanceRefreshes, SuspendInstanceRefresh, ResumeInstanceRefresh,
//! RollbackInstanceRefresh and CancelInstanceRefresh.
//!
//! Documentation:
//! <https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2022-02-22-startinstancerefresh>,
//! <https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2022-02-22-describeinstancerefreshes>,
//! <https://alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2022-02-22-suspendinstancerefresh>,
//! <https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2022-02-22-resumeinstancerefresh>,
//! <https://alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2022-02-22-rollbackinstancerefresh>,
//! <https://alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2022-02-22-cancelinstancerefresh>,
//! and the user guide <https://www.alibabacloud.com/help/en/auto-scaling/user-guide/instance-refresh>.
//!
//! A refresh **replaces** instances: per batch it creates instances from the desired
//! configuration and, once they are in service, removes and releases the ones they replace.
//! Only automatically created InService instances are refreshed (Standby, Protected and
//! manually added ones are skipped). The batch is what MinHealthyPercentage and
//! MaxHealthyPercentage allow (one at a time when both are 100). On success the active
//! configuration takes the desired image. A rollback replaces the instances the refresh
//! created with instances of the active configuration. The sim moves a refresh forward on
//! every request, from the times its batches were due, so a read long after sees what a
//! watcher would have seen step by step. Where the pages are silent, sim/README.md says
//! what the sim chose.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::errors;
use super::fleet::ScalingInstance;
use crate::ctx::Ctx;
use crate::ecs::state::{Disk, ImageStatus, Instance, InstanceStatus};
use crate::error::RpcError;
use crate::params::Params;
use crate::state::Region;

/// The API version the instance-refresh operations are served at.
pub const VERSION: &str = "2022-02-22";

/// The operations of that version the sim implements.
pub const ACTIONS: &[&str] = &[
    "StartInstanceRefresh",
    "DescribeInstanceRefreshes",
    "SuspendInstanceRefresh",
    "ResumeInstanceRefresh",
    "RollbackInstanceRefresh",
    "CancelInstanceRefresh",
];

/// A refresh's `Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RefreshStatus {
    /// Created, not yet scheduled.
    Pending,
    /// Replacing instances.
    InProgress,
    /// Suspended by SuspendInstanceRefresh.
    Paused,
    /// Paused at a checkpoint for CheckpointPauseTime.
    CheckpointPause,
    /// Failed.
    Failed,
    /// Every instance replaced; the configuration updated.
    Successful,
    /// Being cancelled: the batch at work finishes.
    Cancelling,
    /// Cancelled.
    Cancelled,
    /// Putting back what it replaced.
    RollbackInProgress,
    /// Put back.
    RollbackSuccessful,
    /// The rollback failed.
    RollbackFailed,
}

impl RefreshStatus {
    /// The cloud's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::InProgress => "InProgress",
            Self::Paused => "Paused",
            Self::CheckpointPause => "CheckpointPause",
            Self::Failed => "Failed",
            Self::Successful => "Successful",
            Self::Cancelling => "Cancelling",
            Self::Cancelled => "Cancelled",
            Self::RollbackInProgress => "RollbackInProgress",
            Self::RollbackSuccessful => "RollbackSuccessful",
            Self::RollbackFailed => "RollbackFailed",
        }
    }

    /// Whether the refresh ended.
    pub fn ended(self) -> bool {
        matches!(
            self,
            Self::Failed
                | Self::Successful
                | Self::Cancelled
                | Self::RollbackSuccessful
                | Self::RollbackFailed
        )
    }

    fn rolling_back(self) -> bool {
        self == Self::RollbackInProgress
    }
}

/// One instance being replaced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Replacement {
    /// The instance replaced.
    pub old: String,
    /// The instance replacing it.
    pub new: String,
    /// When the new one is in service (and the old one removed).
    pub ready_at: DateTime<Utc>,
}

/// An instance refresh task.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceRefresh {
    /// `ir-…`.
    pub task_id: String,
    /// Its group.
    pub scaling_group_id: String,
    /// Where it is.
    pub status: RefreshStatus,
    /// `DesiredConfiguration.ImageId`.
    pub desired_image: Option<String>,
    /// `DesiredConfiguration.ScalingConfigurationId`.
    pub desired_configuration: Option<String>,
    /// The image new instances get (the desired one, or the desired configuration's).
    pub launch_image: String,
    /// The active configuration when it started, and its image: what a rollback launches.
    pub configuration_id: String,
    /// That configuration's image.
    pub previous_image: String,
    /// MinHealthyPercentage.
    pub min_healthy: u32,
    /// MaxHealthyPercentage.
    pub max_healthy: u32,
    /// Checkpoints.N.Percentage, ascending.
    pub checkpoints: Vec<u32>,
    /// CheckpointPauseTime, minutes.
    pub checkpoint_pause_minutes: u32,
    /// SkipMatching.
    pub skip_matching: bool,
    /// When it started.
    pub start_time: DateTime<Utc>,
    /// When it ended.
    pub end_time: Option<DateTime<Utc>>,
    /// Why it failed.
    pub detail: String,
    /// TotalNeedUpdateCapacity.
    pub total: u32,
    /// FinishedUpdateCapacity.
    pub finished: u32,
    /// Instances still to replace, in order.
    pub queue: Vec<String>,
    /// The batch at work.
    pub in_flight: Vec<Replacement>,
    /// Instances the refresh created (what a rollback replaces).
    pub created: Vec<String>,
    /// Checkpoints passed.
    pub checkpoints_passed: usize,
    /// A checkpoint pause ends then.
    pub paused_until: Option<DateTime<Utc>>,
    /// When its next step is due (the time a batch started or ended).
    pub cursor: DateTime<Utc>,
}

impl InstanceRefresh {
    fn batch_size(&self) -> usize {
        let n = self.total.max(1);
        let floor = (n * self.min_healthy).div_ceil(100);
        let ceiling = n * self.max_healthy / 100;
        ((n - floor.min(n)) + ceiling.saturating_sub(n)).max(1) as usize
    }

    fn to_json(&self) -> Value {
        let time = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%MZ").to_string();
        json!({
            "InstanceRefreshTaskId": self.task_id,
            "RegionId": Value::Null,
            "ScalingGroupId": self.scaling_group_id,
            "Status": self.status.as_str(),
            "TotalNeedUpdateCapacity": self.total,
            "FinishedUpdateCapacity": self.finished,
            "MinHealthyPercentage": self.min_healthy,
            "MaxHealthyPercentage": self.max_healthy,
            "SkipMatching": self.skip_matching,
            "CheckpointPauseTime": self.checkpoint_pause_minutes,
            "Checkpoints": self.checkpoints.iter().map(|p| json!({"Percentage": p})).collect::<Vec<_>>(),
            "StartTime": time(self.start_time),
            "EndTime": self.end_time.map(time),
            "Detail": self.detail,
            "DesiredConfiguration": {
                "ImageId": self.desired_image,
                "ScalingConfigurationId": self.desired_configuration,
                "LaunchTemplateOverrides": [],
                "Containers": [],
            },
        })
    }
}

/// Runs `action`; `None` if it is not an instance-refresh operation.
pub fn handle(
    action: &str,
    p: &Params,
    region: &mut Region,
    ctx: &Ctx,
) -> Option<Result<Value, RpcError>> {
    Some(match action {
        "StartInstanceRefresh" => start(region, p, ctx),
        "DescribeInstanceRefreshes" => describe(region, p, ctx),
        "SuspendInstanceRefresh" => change(region, p, ctx, Change::Suspend),
        "ResumeInstanceRefresh" => change(region, p, ctx, Change::Resume),
        "RollbackInstanceRefresh" => change(region, p, ctx, Change::Rollback),
        "CancelInstanceRefresh" => change(region, p, ctx, Change::Cancel),
        _ => return None,
    })
}

fn task_not_found(id: &str) -> RpcError {
    RpcError::not_found(
        "InvalidInstanceRefreshTaskId.NotFound",
        format!(
            "The specified instance refresh task \"{}\" does not exist.",
            crate::params::truncate(id, 64)
        ),
    )
}

fn incorrect_status(task: &InstanceRefresh, action: &str) -> RpcError {
    RpcError::bad_request(
        "IncorrectInstanceRefreshTaskStatus",
        format!(
            "The current status of instance refresh task \"{}\" does not support {action}: it is {}.",
            task.task_id,
            task.status.as_str()
        ),
    )
}

fn start(region: &mut Region, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let group_id = p.required("ScalingGroupId")?.to_owned();
    let token = super::fleet::client_token(p)?;
    let min_healthy = p.int("MinHealthyPercentage", 0, 100, 80)? as u32;
    let max_healthy = p.int("MaxHealthyPercentage", 100, 200, 120)? as u32;
    let skip_matching = p.bool("SkipMatching", true)?;
    let checkpoint_pause_minutes = p.int("CheckpointPauseTime", 1, 2880, 60)? as u32;
    let mut checkpoints = Vec::new();
    for entry in p.struct_list("Checkpoints", 100)? {
        let value = entry
            .iter()
            .find(|(k, _)| *k == "Percentage")
            .map(|(_, v)| *v)
            .ok_or_else(|| RpcError::invalid("Checkpoints.N.Percentage", "is required"))?;
        let percent: u32 = value
            .parse()
            .ok()
            .filter(|v| (1..=100).contains(v))
            .ok_or_else(|| RpcError::invalid("Checkpoints.N.Percentage", "must be 1 to 100"))?;
        if checkpoints.last().is_some_and(|last| *last >= percent) {
            return Err(RpcError::invalid(
                "Checkpoints.N.Percentage",
                "must be in ascending order",
            ));
        }
        checkpoints.push(percent);
    }
    if checkpoints.last().is_some_and(|last| *last != 100) {
        return Err(RpcError::invalid(
            "Checkpoints.N.Percentage",
            "the last value must be 100",
        ));
    }
    let desired_image = p.get("DesiredConfiguration.ImageId").map(str::to_owned);
    let desired_configuration = p
        .get("DesiredConfiguration.ScalingConfigurationId")
        .map(str::to_owned);
    if desired_image.is_some() && desired_configuration.is_some() {
        return Err(RpcError::invalid(
            "DesiredConfiguration",
            "ScalingConfigurationId and ImageId cannot be given together",
        ));
    }
    let fingerprint = format!(
        "{group_id}|{min_healthy}|{max_healthy}|{skip_matching}|{checkpoint_pause_minutes}|{checkpoints:?}|{desired_image:?}|{desired_configuration:?}"
    );
    if let Some(id) = region
        .ess
        .token_lookup("StartInstanceRefresh", token, &fingerprint)?
    {
        return Ok(json!({ "InstanceRefreshTaskId": id }));
    }
    let group = region
        .ess
        .group(&group_id)
        .ok_or_else(|| errors::group_not_found(&group_id))?;
    if group.lifecycle_state != "Active" {
        return Err(errors::incorrect_group_status(&group_id));
    }
    if group.group_type != "ECS" {
        return Err(RpcError::bad_request(
            "UnsupportedOperation",
            "Instance refresh is supported only for ECS scaling groups.",
        ));
    }
    if let Some(busy) = region
        .ess
        .refreshes
        .iter()
        .find(|r| r.scaling_group_id == group_id && !r.status.ended())
    {
        return Err(RpcError::bad_request(
            "IncorrectScalingGroupStatus",
            format!(
                "The current status of the specified scaling group does not support this action: instance refresh task {} is {}.",
                busy.task_id,
                busy.status.as_str()
            ),
        ));
    }
    // A group whose instance source is a launch template has no configuration: its
    // instances launch from the template version it names now (sim/README.md).
    let (configuration_id, previous_image) = match &group.launch_template {
        Some(source) => {
            let version = source.resolve(&region.ecs)?;
            let image = version.data.image_id.clone().ok_or_else(|| {
                errors::image_not_found("", " (the group's launch template version names no image)")
            })?;
            (String::new(), image)
        }
        None => {
            let configuration_id = group
                .active_scaling_configuration_id
                .clone()
                .ok_or_else(|| errors::incorrect_group_status(&group_id))?;
            let previous_image = region
                .ess
                .configurations
                .iter()
                .find(|c| c.scaling_configuration_id == configuration_id)
                .map(|c| c.image_id.clone())
                .ok_or_else(|| errors::configuration_not_found(&configuration_id))?;
            (configuration_id, previous_image)
        }
    };
    let launch_image = match (&desired_image, &desired_configuration) {
        (Some(image), _) => {
            let found = region.ecs.image(image);
            if found.is_none_or(|m| m.status(ctx.now).0 != ImageStatus::Available) {
                return Err(errors::image_not_found(image, " or is not available"));
            }
            image.clone()
        }
        (None, Some(id)) => region
            .ess
            .configurations
            .iter()
            .find(|c| &c.scaling_configuration_id == id && c.scaling_group_id == group_id)
            .map(|c| c.image_id.clone())
            .ok_or_else(|| errors::configuration_not_found(id))?,
        (None, None) => previous_image.clone(),
    };
    let queue: Vec<String> = region
        .ess
        .instances
        .iter()
        .filter(|m| {
            m.scaling_group_id == group_id
                && m.lifecycle_state == "InService"
                && m.creation_type == "AutoCreated"
        })
        .filter(|m| {
            !skip_matching
                || match &desired_configuration {
                    Some(id) => &m.scaling_configuration_id != id,
                    None => region
                        .ecs
                        .instances
                        .iter()
                        .find(|i| i.instance_id == m.instance_id)
                        .is_none_or(|i| i.image_id != launch_image),
                }
        })
        .map(|m| m.instance_id.clone())
        .collect();
    if queue.is_empty() {
        return Err(RpcError::bad_request(
            "InvalidInstance.NoInstanceNeedBeRefreshed",
            "No instance in the scaling group needs to be refreshed.",
        ));
    }
    let task_id = region.ecs.new_id("ir");
    region.ess.refreshes.push(InstanceRefresh {
        task_id: task_id.clone(),
        scaling_group_id: group_id,
        status: RefreshStatus::InProgress,
        desired_image,
        desired_configuration,
        launch_image,
        configuration_id,
        previous_image,
        min_healthy,
        max_healthy,
        checkpoints,
        checkpoint_pause_minutes,
        skip_matching,
        start_time: ctx.now,
        end_time: None,
        detail: String::new(),
        total: queue.len() as u32,
        finished: 0,
        queue,
        in_flight: Vec::new(),
        created: Vec::new(),
        checkpoints_passed: 0,
        paused_until: None,
        cursor: ctx.now,
    });
    region
        .ess
        .token_remember("StartInstanceRefresh", token, fingerprint, &task_id);
    settle(region, ctx.now);
    Ok(json!({ "InstanceRefreshTaskId": task_id }))
}

fn describe(region: &mut Region, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let group = p.get("ScalingGroupId");
    // The 2022-02-22 SDKs send `InstanceRefreshTaskIds.N`; the 2014-08-28 ones
    // `InstanceRefreshTaskId.N`.
    let mut ids = p.list("InstanceRefreshTaskIds", 100)?;
    ids.extend(p.list("InstanceRefreshTaskId", 100)?);
    if group.is_none() && ids.is_empty() {
        return Err(RpcError::bad_request(
            "MissingParameter",
            "The input parameter \"ScalingGroupId\" or \"InstanceRefreshTaskIds\" that is mandatory for processing this request is not supplied.",
        ));
    }
    let max_results = p.int("MaxResults", 1, 50, 10)? as usize;
    let start: usize = match p.get("NextToken") {
        None | Some("") => 0,
        Some(token) => token
            .parse()
            .map_err(|_| RpcError::invalid("NextToken", "is not a token this API gave"))?,
    };
    if let Some(id) = group {
        if region.ess.group(id).is_none() {
            return Err(errors::group_not_found(id));
        }
    }
    let mut tasks: Vec<&InstanceRefresh> = region
        .ess
        .refreshes
        .iter()
        .filter(|r| group.is_none_or(|g| r.scaling_group_id == g))
        .filter(|r| ids.is_empty() || ids.contains(&r.task_id.as_str()))
        .collect();
    tasks.reverse();
    let total = tasks.len();
    let page: Vec<Value> = tasks
        .iter()
        .skip(start)
        .take(max_results)
        .map(|r| {
            let mut v = r.to_json();
            v["RegionId"] = Value::String(ctx.region_id.clone());
            v
        })
        .collect();
    if start > total {
        return Err(RpcError::invalid(
            "NextToken",
            "is not a token this API gave",
        ));
    }
    let next = if start + max_results < total {
        (start + max_results).to_string()
    } else {
        String::new()
    };
    Ok(json!({
        "TotalCount": total,
        "MaxResults": max_results,
        "NextToken": next,
        "InstanceRefreshTasks": page,
    }))
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Suspend,
    Resume,
    Rollback,
    Cancel,
}

fn change(region: &mut Region, p: &Params, ctx: &Ctx, change: Change) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let group_id = p.required("ScalingGroupId")?;
    let task_id = p.required("InstanceRefreshTaskId")?;
    if region.ess.group(group_id).is_none() {
        return Err(errors::group_not_found(group_id));
    }
    let now = ctx.now;
    let Some(index) = region
        .ess
        .refreshes
        .iter()
        .position(|r| r.task_id == task_id && r.scaling_group_id == group_id)
    else {
        return Err(task_not_found(task_id));
    };
    let task = &mut region.ess.refreshes[index];
    use RefreshStatus as S;
    match (change, task.status) {
        (Change::Suspend, S::Pending | S::InProgress | S::CheckpointPause) => {
            task.status = S::Paused;
            task.paused_until = None;
        }
        (Change::Resume, S::Paused | S::CheckpointPause) => {
            task.status = S::InProgress;
            task.paused_until = None;
            task.cursor = now;
        }
        (Change::Cancel, S::Pending | S::InProgress | S::Paused | S::CheckpointPause) => {
            task.queue.clear();
            task.status = if task.in_flight.is_empty() {
                task.end_time = Some(now);
                S::Cancelled
            } else {
                S::Cancelling
            };
        }
        (
            Change::Rollback,
            S::Pending | S::InProgress | S::Paused | S::CheckpointPause | S::Failed | S::Cancelled,
        ) => {
            // The batch at work is finished first: its new instances are among those put
            // back.
            let batch: Vec<Replacement> = task.in_flight.drain(..).collect();
            for r in &batch {
                finish(region, index, r, now);
            }
            let task = &mut region.ess.refreshes[index];
            task.queue = task.created.clone();
            task.created.clear();
            task.status = S::RollbackInProgress;
            task.end_time = None;
            task.paused_until = None;
            task.cursor = now;
        }
        (change, _) => {
            let action = match change {
                Change::Suspend => "SuspendInstanceRefresh",
                Change::Resume => "ResumeInstanceRefresh",
                Change::Rollback => "RollbackInstanceRefresh",
                Change::Cancel => "CancelInstanceRefresh",
            };
            return Err(incorrect_status(task, action));
        }
    }
    settle(region, now);
    Ok(json!({}))
}

/// Moves every refresh that is due up to `now`, one step at a time from the times its
/// steps were due.
pub fn settle(region: &mut Region, now: DateTime<Utc>) {
    for index in 0..region.ess.refreshes.len() {
        // Each turn takes one step; a refresh that cannot step before `now` stops.
        for _ in 0..10_000 {
            if !step(region, index, now) {
                break;
            }
        }
    }
}

/// One step of refresh `index` due by `now`; whether it took one.
fn step(region: &mut Region, index: usize, now: DateTime<Utc>) -> bool {
    use RefreshStatus as S;
    let task = &region.ess.refreshes[index];
    match task.status {
        S::CheckpointPause => {
            if task.paused_until.is_some_and(|t| t <= now) {
                let task = &mut region.ess.refreshes[index];
                task.cursor = task.paused_until.take().unwrap_or(now);
                task.status = S::InProgress;
                return true;
            }
            false
        }
        S::InProgress | S::RollbackInProgress | S::Cancelling | S::Paused => {
            if let Some(first) = task.in_flight.iter().map(|r| r.ready_at).min() {
                if first > now {
                    return false;
                }
                let done: Vec<Replacement> = task
                    .in_flight
                    .iter()
                    .filter(|r| r.ready_at <= now)
                    .cloned()
                    .collect();
                for r in &done {
                    finish(region, index, r, now);
                }
                let task = &mut region.ess.refreshes[index];
                task.in_flight.retain(|r| r.ready_at > now);
                task.cursor = done.iter().map(|r| r.ready_at).max().unwrap_or(now);
                // A batch finished while suspended or being cancelled was refreshed too.
                if !task.status.rolling_back() {
                    task.finished = task.finished.saturating_add(done.len() as u32);
                }
                if task.status == S::InProgress {
                    if let Some(&mark) = task.checkpoints.get(task.checkpoints_passed) {
                        if task.in_flight.is_empty()
                            && task.finished * 100 >= mark * task.total
                            && !task.queue.is_empty()
                        {
                            task.checkpoints_passed += 1;
                            task.status = S::CheckpointPause;
                            task.paused_until = Some(
                                task.cursor
                                    + Duration::minutes(task.checkpoint_pause_minutes.into()),
                            );
                        }
                    }
                }
                return true;
            }
            let task = &region.ess.refreshes[index];
            match task.status {
                S::Cancelling => {
                    let task = &mut region.ess.refreshes[index];
                    task.status = S::Cancelled;
                    task.end_time = Some(task.cursor);
                    true
                }
                S::Paused => false,
                _ if task.queue.is_empty() => {
                    end(region, index);
                    true
                }
                _ => {
                    launch_batch(region, index);
                    true
                }
            }
        }
        _ => false,
    }
}

/// The refresh ran out of instances to replace.
fn end(region: &mut Region, index: usize) {
    let task = &mut region.ess.refreshes[index];
    task.end_time = Some(task.cursor);
    if task.status == RefreshStatus::RollbackInProgress {
        task.status = RefreshStatus::RollbackSuccessful;
        return;
    }
    task.status = RefreshStatus::Successful;
    let (group_id, desired_image, desired_configuration) = (
        task.scaling_group_id.clone(),
        task.desired_image.clone(),
        task.desired_configuration.clone(),
    );
    // "After the instance refresh task is completed, the active scaling configuration of the
    // scaling group is updated to this configuration."
    if let Some(id) = desired_configuration {
        if let Ok(group) = region.ess.group_mut(&group_id) {
            group.active_scaling_configuration_id = Some(id);
            group.launch_template = None;
        }
    } else if let Some(image) = desired_image {
        let image_name = region
            .ecs
            .image(&image)
            .map(|m| m.image_name.clone())
            .unwrap_or_default();
        let active = region
            .ess
            .group(&group_id)
            .and_then(|g| g.active_scaling_configuration_id.clone());
        if let Some(config) = active.and_then(|id| region.ess.configuration_mut(&id).ok()) {
            config.image_id = image;
            config.image_name = image_name;
        }
    }
}

/// Creates the next batch's instances (Pending until the boot time has passed).
fn launch_batch(region: &mut Region, index: usize) {
    let task = &region.ess.refreshes[index];
    let size = task.batch_size().min(task.queue.len());
    let rolling_back = task.status.rolling_back();
    let image = if rolling_back {
        task.previous_image.clone()
    } else {
        task.launch_image.clone()
    };
    let configuration_id = if rolling_back {
        task.configuration_id.clone()
    } else {
        task.desired_configuration
            .clone()
            .unwrap_or_else(|| task.configuration_id.clone())
    };
    let group_id = task.scaling_group_id.clone();
    let start = task.cursor;
    let old: Vec<String> = task.queue[..size].to_vec();
    let ready_at = start + region.ecs.power.boot;
    let from_template = region
        .ess
        .group(&group_id)
        .and_then(|g| g.launch_template.as_ref())
        .filter(|_| configuration_id.is_empty())
        .and_then(|source| {
            let version = source.resolve(&region.ecs).ok()?;
            let data = &version.data;
            let instance_type = source
                .overrides
                .first()
                .map(|o| o.instance_type.clone())
                .or_else(|| data.instance_type.clone())
                .unwrap_or_else(|| "ecs.g7.large".to_owned());
            Some((
                instance_type,
                data.system_disk_size.unwrap_or(40),
                (source.launch_template_id.clone(), version.version_number),
            ))
        });
    let launch_template = from_template.as_ref().map(|(_, _, t)| t.clone());
    let (instance_type, disk_size) = match from_template {
        Some((instance_type, disk_size, _)) => (instance_type, disk_size),
        None => region
            .ess
            .configurations
            .iter()
            .find(|c| c.scaling_configuration_id == configuration_id)
            .map_or(("ecs.g7.large".to_owned(), 40), |c| {
                (c.instance_type.clone(), c.system_disk_size)
            }),
    };
    let image_size = region.ecs.image(&image).map_or(20, |m| m.size);
    let mut batch = Vec::new();
    for old_id in old {
        let zone_id = region
            .ecs
            .instances
            .iter()
            .find(|i| i.instance_id == old_id)
            .map_or_else(|| "cn-hangzhou-h".to_owned(), |i| i.zone_id.clone());
        let new_id = region.ecs.new_id("i");
        let disk_id = region.ecs.new_id("d");
        region.ecs.instances.push(Instance {
            instance_id: new_id.clone(),
            instance_name: format!("ESS-{group_id}"),
            status: InstanceStatus::Pending,
            instance_type: instance_type.clone(),
            zone_id: zone_id.clone(),
            image_id: image.clone(),
            creation_time: start,
            settles_at: Some(ready_at),
            stopped_mode: None,
            locks: Vec::new(),
            replacements: 0,
            key_pair_name: None,
        });
        region.ecs.disks.push(Disk {
            disk_id,
            kind: "system".to_owned(),
            category: "cloud_essd".to_owned(),
            size: disk_size.max(image_size),
            instance_id: Some(new_id.clone()),
            device: "/dev/xvda".to_owned(),
            image_id: image.clone(),
            zone_id,
            creation_time: start,
            reiniting_until: None,
        });
        region.ess.instances.push(ScalingInstance {
            instance_id: new_id.clone(),
            scaling_group_id: group_id.clone(),
            scaling_configuration_id: configuration_id.clone(),
            lifecycle_state: "Pending".to_owned(),
            creation_type: "AutoCreated".to_owned(),
            load_balancer_weight: 0,
            entrusted: false,
            creation_time: start,
            frozen_health: None,
            scaling_activity_id: String::new(),
            launch_template: launch_template.clone(),
        });
        batch.push(Replacement {
            old: old_id,
            new: new_id,
            ready_at,
        });
    }
    let task = &mut region.ess.refreshes[index];
    task.queue.drain(..size);
    if !rolling_back {
        task.created.extend(batch.iter().map(|r| r.new.clone()));
    }
    task.in_flight.extend(batch);
}

/// A replacement is done: the new instance is in service behind the group's load balancers,
/// the old one is removed from the group and released.
fn finish(region: &mut Region, index: usize, r: &Replacement, now: DateTime<Utc>) {
    let group_id = region.ess.refreshes[index].scaling_group_id.clone();
    let Some(group) = region.ess.group(&group_id).cloned() else {
        return;
    };
    if let Some(instance) = region
        .ecs
        .instances
        .iter_mut()
        .find(|i| i.instance_id == r.new)
    {
        instance.status = InstanceStatus::Running;
        instance.settles_at = None;
    }
    let weight = super::fleet::EXIT_STANDBY_WEIGHT;
    if let Some(member) = region
        .ess
        .instances
        .iter_mut()
        .find(|m| m.instance_id == r.new)
    {
        member.lifecycle_state = "InService".to_owned();
        member.load_balancer_weight = weight;
        member.creation_time = r.ready_at.min(now);
    }
    for lb in region
        .slb
        .load_balancers
        .iter_mut()
        .filter(|lb| group.load_balancer_ids.contains(&lb.load_balancer_id))
    {
        lb.backends.retain(|b| b.server_id != r.old);
        lb.backends.push(crate::slb::Backend {
            server_id: r.new.clone(),
            weight,
        });
    }
    for attachment in &group.vserver_groups {
        if let Some(g) = region
            .slb
            .vserver_groups
            .iter_mut()
            .find(|g| g.vserver_group_id == attachment.vserver_group_id)
        {
            g.backends.retain(|b| b.server_id != r.old);
            g.backends.push(crate::slb::VBackend {
                server_id: r.new.clone(),
                port: attachment.port,
                weight: attachment.weight,
            });
        }
    }
    region.ess.instances.retain(|m| m.instance_id != r.old);
    region.ecs.instances.retain(|i| i.instance_id != r.old);
    region
        .ecs
        .disks
        .retain(|d| d.instance_id.as_deref() != Some(r.old.as_str()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(total: u32, min: u32, max: u32) -> InstanceRefresh {
        InstanceRefresh {
            task_id: "ir-1".into(),
            scaling_group_id: "asg-1".into(),
            status: RefreshStatus::InProgress,
            desired_image: None,
            desired_configuration: None,
            launch_image: String::new(),
            configuration_id: String::new(),
            previous_image: String::new(),
            min_healthy: min,
            max_healthy: max,
            checkpoints: Vec::new(),
            checkpoint_pause_minutes: 60,
            skip_matching: true,
            start_time: DateTime::UNIX_EPOCH,
            end_time: None,
            detail: String::new(),
            total,
            finished: 0,
            queue: Vec::new(),
            in_flight: Vec::new(),
            created: Vec::new(),
            checkpoints_passed: 0,
            paused_until: None,
            cursor: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn batches_are_what_the_healthy_percentages_allow() {
        assert_eq!(
            task(10, 100, 100).batch_size(),
            1,
            "documented: one at a time"
        );
        assert_eq!(task(100, 90, 100).batch_size(), 10);
        assert_eq!(task(10, 80, 120).batch_size(), 4, "2 below and 2 above");
        assert_eq!(task(1, 100, 100).batch_size(), 1);
        assert_eq!(task(6, 0, 100).batch_size(), 6);
    }
}
