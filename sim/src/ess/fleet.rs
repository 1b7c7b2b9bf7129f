//! The instances of scaling groups, and what a rolling update does to them: Standby,
//! protection, suspended processes and scaling activities.
//!
//! Documentation (API version 2014-08-28):
//! <https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-describescalinginstances>,
//! <https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-enterstandby>,
//! <https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-exitstandby>,
//! <https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-setinstancesprotection>,
//! <https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-suspendprocesses>,
//! <https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-resumeprocesses>,
//! <https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-describescalingactivities>.
//! Where those pages are silent, the choice made is written in sim/README.md.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::errors;
use super::state::Ess;
use crate::ctx::Ctx;
use crate::ecs::state::{Ecs, InstanceStatus};
use crate::error::RpcError;
use crate::params::{Params, page};

/// The scaling processes SuspendProcesses and ResumeProcesses name.
pub const PROCESSES: [&str; 5] = [
    "ScaleIn",
    "ScaleOut",
    "HealthCheck",
    "AlarmNotification",
    "ScheduledAction",
];

/// Most `InstanceId.N` of EnterStandby, ExitStandby, SetInstancesProtection and
/// DescribeScalingInstances.
pub const MAX_INSTANCE_IDS: usize = 20;

/// The load-balancer weight ExitStandby sets ("50 by default").
pub const EXIT_STANDBY_WEIGHT: u32 = 50;

/// An ECS instance in a scaling group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScalingInstance {
    /// `i-…`.
    pub instance_id: String,
    /// Its group.
    pub scaling_group_id: String,
    /// The configuration it was launched from (empty for an attached instance).
    pub scaling_configuration_id: String,
    /// `InService`, `Standby`, `Protected`, …
    pub lifecycle_state: String,
    /// `AutoCreated` or `Attached`.
    pub creation_type: String,
    /// Its weight behind the group's load balancers.
    pub load_balancer_weight: u32,
    /// Whether the group releases it when it leaves (attached instances).
    pub entrusted: bool,
    /// When it joined the group.
    pub creation_time: DateTime<Utc>,
    /// The health recorded when it entered Standby or protection, which ESS stops
    /// updating until it leaves them.
    pub frozen_health: Option<&'static str>,
    /// The activity that added it (empty for the seed's instances).
    pub scaling_activity_id: String,
    /// The launch template and version number it was launched from, for an instance of a
    /// template group (DescribeScalingInstances' `LaunchTemplateId`, `LaunchTemplateVersion`).
    pub launch_template: Option<(String, i64)>,
}

/// A scaling activity.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScalingActivity {
    /// `asa-…`.
    pub scaling_activity_id: String,
    /// Its group.
    pub scaling_group_id: String,
    /// What it does.
    pub description: String,
    /// Why.
    pub cause: String,
    /// When it started.
    pub start_time: DateTime<Utc>,
    /// When it ends (`InProgress` until then, then `Successful`).
    pub end_time: DateTime<Utc>,
    /// The instances it handled.
    pub instance_count: usize,
}

impl ScalingActivity {
    /// `InProgress` until its end, then `Successful`.
    pub fn status_code(&self, now: DateTime<Utc>) -> &'static str {
        if now < self.end_time {
            "InProgress"
        } else {
            "Successful"
        }
    }
}

/// `Healthy` when the ECS instance is Running, else `Unhealthy` ("an instance that is not
/// in the Running state is considered unhealthy").
fn live_health(ecs: &Ecs, instance_id: &str) -> &'static str {
    match ecs.instance(instance_id) {
        Ok(i) if i.status == InstanceStatus::Running => "Healthy",
        _ => "Unhealthy",
    }
}

impl ScalingInstance {
    /// The HealthStatus ESS reports.
    pub fn health(&self, ecs: &Ecs) -> &'static str {
        self.frozen_health
            .unwrap_or_else(|| live_health(ecs, &self.instance_id))
    }
}

impl Ess {
    /// An activity of `group` in progress at `now`, if any.
    pub fn activity_in_progress(
        &self,
        group: &str,
        now: DateTime<Utc>,
    ) -> Option<&ScalingActivity> {
        self.activities
            .iter()
            .find(|a| a.scaling_group_id == group && a.status_code(now) == "InProgress")
    }

    /// Records a finished activity (what EnterStandby and ExitStandby create) and answers its id.
    pub fn record_activity(
        &mut self,
        group: &str,
        description: String,
        cause: String,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        instance_count: usize,
    ) -> String {
        self.next_activity += 1;
        let id = format!(
            "asa-sim{:016x}",
            self.next_activity.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 1
        );
        self.activities.push(ScalingActivity {
            scaling_activity_id: id.clone(),
            scaling_group_id: group.to_owned(),
            description,
            cause,
            start_time: start,
            end_time: end,
            instance_count,
        });
        id
    }
}

/// The group a request names, which must exist.
fn group_id<'a>(ess: &Ess, p: &'a Params) -> Result<&'a str, RpcError> {
    let id = p.required("ScalingGroupId")?;
    ess.group(id).ok_or_else(|| errors::group_not_found(id))?;
    Ok(id)
}

/// The group, which must be enabled, and the instance ids of a Standby or protection
/// request, each a member of it.
fn members<'a>(ess: &Ess, p: &'a Params) -> Result<(&'a str, Vec<&'a str>), RpcError> {
    let group = group_id(ess, p)?;
    if ess
        .group(group)
        .is_some_and(|g| g.lifecycle_state != "Active")
    {
        return Err(errors::incorrect_group_status(group));
    }
    let ids = p.list("InstanceId", MAX_INSTANCE_IDS)?;
    if ids.is_empty() {
        return Err(RpcError::missing("InstanceId.1"));
    }
    for id in &ids {
        if !ess
            .instances
            .iter()
            .any(|i| i.instance_id == *id && i.scaling_group_id == group)
        {
            return Err(errors::scaling_instance_not_found(id));
        }
    }
    Ok((group, ids))
}

/// Each of `ids` must be `from` (it moves) or `to` already (it is left as it is).
fn check_states(ess: &Ess, ids: &[&str], from: &str, to: &str) -> Result<(), RpcError> {
    for id in ids {
        let state = ess
            .instances
            .iter()
            .find(|i| i.instance_id == *id)
            .map(|i| i.lifecycle_state.as_str())
            .unwrap_or_default();
        if state != from && state != to {
            return Err(errors::incorrect_instance_status(id, state));
        }
    }
    Ok(())
}

/// `ClientToken`, checked: at most 64 ASCII characters.
pub(super) fn client_token(p: &Params) -> Result<Option<&str>, RpcError> {
    let token = p.get("ClientToken");
    if token.is_some_and(|t| t.len() > 64 || !t.is_ascii()) {
        return Err(RpcError::invalid(
            "ClientToken",
            "at most 64 ASCII characters",
        ));
    }
    Ok(token)
}

/// EnterStandby and ExitStandby: `from` → `to` for each instance (one already in `to` is
/// left as it is), recorded as one scaling activity whose id the answer carries.
fn standby(
    ess: &mut Ess,
    ecs: &Ecs,
    p: &Params,
    ctx: &Ctx,
    action: &'static str,
    entering: bool,
) -> Result<Value, RpcError> {
    let token = client_token(p)?;
    let (group, ids) = members(ess, p)?;
    let fingerprint = format!("{group}|{ids:?}");
    if let Some(id) = ess.token_lookup(action, token, &fingerprint)? {
        return Ok(json!({ "ScalingActivityId": id }));
    }
    p.bool("Async", false)?;
    if let Some(activity) = ess.activity_in_progress(group, ctx.now) {
        return Err(errors::activity_in_progress(&activity.scaling_activity_id));
    }
    let (from, to) = if entering {
        ("InService", "Standby")
    } else {
        ("Standby", "InService")
    };
    check_states(ess, &ids, from, to)?;
    let group = group.to_owned();
    for instance in ess
        .instances
        .iter_mut()
        .filter(|i| ids.contains(&i.instance_id.as_str()) && i.lifecycle_state == from)
    {
        instance.lifecycle_state = to.to_owned();
        if entering {
            instance.frozen_health = Some(live_health(ecs, &instance.instance_id));
            instance.load_balancer_weight = 0;
        } else {
            instance.frozen_health = None;
            instance.load_balancer_weight = EXIT_STANDBY_WEIGHT;
        }
    }
    let (description, cause) = if entering {
        (
            format!("Put \"{}\" ECS instances into Standby", ids.len()),
            "A user requests to put ECS instances into Standby.",
        )
    } else {
        (
            format!("Move \"{}\" ECS instances out of Standby", ids.len()),
            "A user requests to move ECS instances out of Standby.",
        )
    };
    let id = ess.record_activity(
        &group,
        description,
        cause.to_owned(),
        ctx.now,
        ctx.now,
        ids.len(),
    );
    ess.token_remember(action, token, fingerprint, &id);
    Ok(json!({ "ScalingActivityId": id }))
}

/// EnterStandby: InService → Standby, weight 0, health no longer updated.
pub fn enter_standby(ess: &mut Ess, ecs: &Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    standby(ess, ecs, p, ctx, "EnterStandby", true)
}

/// ExitStandby: Standby → InService, weight 50.
pub fn exit_standby(ess: &mut Ess, ecs: &Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    standby(ess, ecs, p, ctx, "ExitStandby", false)
}

/// SetInstancesProtection: InService ↔ Protected.
pub fn set_instances_protection(ess: &mut Ess, ecs: &Ecs, p: &Params) -> Result<Value, RpcError> {
    let (_, ids) = members(ess, p)?;
    let protect = match p.required("ProtectedFromScaleIn")? {
        v if v.eq_ignore_ascii_case("true") => true,
        v if v.eq_ignore_ascii_case("false") => false,
        _ => {
            return Err(RpcError::invalid(
                "ProtectedFromScaleIn",
                "must be true or false",
            ));
        }
    };
    let (from, to) = if protect {
        ("InService", "Protected")
    } else {
        ("Protected", "InService")
    };
    check_states(ess, &ids, from, to)?;
    for instance in ess
        .instances
        .iter_mut()
        .filter(|i| ids.contains(&i.instance_id.as_str()) && i.lifecycle_state == from)
    {
        instance.lifecycle_state = to.to_owned();
        instance.frozen_health = protect.then(|| live_health(ecs, &instance.instance_id));
    }
    Ok(json!({}))
}

/// The `Process.N` of SuspendProcesses and ResumeProcesses, checked, without repeats.
fn processes(p: &Params) -> Result<Vec<&'static str>, RpcError> {
    let named = p.list("Process", 100)?;
    if named.is_empty() {
        return Err(RpcError::missing("Process.1"));
    }
    let mut out: Vec<&'static str> = Vec::new();
    for name in named {
        let Some(known) = PROCESSES.iter().find(|k| **k == name) else {
            return Err(RpcError::invalid(
                "Process",
                format!("{name:?} is not one of {PROCESSES:?}"),
            ));
        };
        if !out.contains(known) {
            out.push(known);
        }
    }
    Ok(out)
}

/// SuspendProcesses.
pub fn suspend_processes(ess: &mut Ess, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    client_token(p)?;
    let group = group_id(ess, p)?.to_owned();
    let named = processes(p)?;
    let group = ess.group_mut(&group)?;
    for process in named {
        if !group.suspended_processes.iter().any(|s| s == process) {
            group.suspended_processes.push(process.to_owned());
        }
    }
    Ok(json!({}))
}

/// ResumeProcesses.
pub fn resume_processes(ess: &mut Ess, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    client_token(p)?;
    let group = group_id(ess, p)?.to_owned();
    let named = processes(p)?;
    let group = ess.group_mut(&group)?;
    group
        .suspended_processes
        .retain(|s| !named.contains(&s.as_str()));
    Ok(json!({}))
}

/// `yyyy-MM-ddTHH:mmZ`.
fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%MZ").to_string()
}

/// DescribeScalingInstances.
pub fn describe_scaling_instances(
    ess: &Ess,
    ecs: &Ecs,
    p: &Params,
    ctx: &Ctx,
) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let group = p.get("ScalingGroupId");
    if let Some(g) = group {
        ess.group(g).ok_or_else(|| errors::group_not_found(g))?;
    }
    let config = p.get("ScalingConfigurationId");
    let ids = p.list("InstanceId", MAX_INSTANCE_IDS)?;
    let health = match p.get("HealthStatus") {
        None => None,
        Some(h @ ("Healthy" | "Unhealthy")) => Some(h),
        Some(_) => {
            return Err(RpcError::invalid(
                "HealthStatus",
                "must be Healthy or Unhealthy",
            ));
        }
    };
    let mut states = p.list("LifecycleStates", 10)?;
    states.extend(p.get("LifecycleState"));
    let mut creation = p.list("CreationTypes", 10)?;
    creation.extend(p.get("CreationType"));
    let activity = p.get("ScalingActivityId");
    let (number, size) = p.paging(50)?;
    let items: Vec<Value> = ess
        .instances
        .iter()
        .filter(|i| group.is_none_or(|g| g == i.scaling_group_id))
        .filter(|i| config.is_none_or(|c| c == i.scaling_configuration_id))
        .filter(|i| ids.is_empty() || ids.contains(&i.instance_id.as_str()))
        .filter(|i| health.is_none_or(|h| h == i.health(ecs)))
        .filter(|i| states.is_empty() || states.contains(&i.lifecycle_state.as_str()))
        .filter(|i| creation.is_empty() || creation.contains(&i.creation_type.as_str()))
        .filter(|i| activity.is_none_or(|a| a == i.scaling_activity_id))
        .map(|i| {
            let ecs_instance = ecs.instance(&i.instance_id).ok();
            json!({
                "InstanceId": i.instance_id,
                "ScalingGroupId": i.scaling_group_id,
                "ScalingConfigurationId": i.scaling_configuration_id,
                "LaunchTemplateId": i.launch_template.as_ref().map_or("", |(id, _)| id.as_str()),
                "LaunchTemplateVersion": i.launch_template.as_ref().map_or_else(String::new, |(_, v)| v.to_string()),
                "HealthStatus": i.health(ecs),
                "LifecycleState": i.lifecycle_state,
                "CreationType": i.creation_type,
                "CreationTime": minute(i.creation_time),
                "CreatedTime": i.creation_time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "LoadBalancerWeight": i.load_balancer_weight,
                "Entrusted": i.entrusted,
                "WarmupState": "NoNeedWarmup",
                "ZoneId": ecs_instance.map_or("", |e| e.zone_id.as_str()),
                "InstanceType": ecs_instance.map_or("", |e| e.instance_type.as_str()),
                "WeightedCapacity": 1,
            })
        })
        .collect();
    let total = items.len();
    Ok(json!({
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "TotalSpotCount": 0,
        "ScalingInstances": {"ScalingInstance": page(items, number, size)},
    }))
}

/// DescribeScalingActivities: a group's activities, or the ones named, newest first.
pub fn describe_scaling_activities(ess: &Ess, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let group = p.get("ScalingGroupId");
    if let Some(g) = group {
        ess.group(g).ok_or_else(|| errors::group_not_found(g))?;
    }
    let ids = p.list("ScalingActivityId", 20)?;
    if group.is_none() && ids.is_empty() {
        return Err(RpcError::missing("ScalingGroupId"));
    }
    let status = match p.get("StatusCode") {
        None => None,
        Some(s @ ("Successful" | "Warning" | "Failed" | "InProgress" | "Rejected")) => Some(s),
        Some(_) => {
            return Err(RpcError::invalid(
                "StatusCode",
                "must be Successful, Warning, Failed, InProgress or Rejected",
            ));
        }
    };
    let (number, size) = p.paging(50)?;
    let items: Vec<Value> = ess
        .activities
        .iter()
        .rev()
        .filter(|a| group.is_none_or(|g| g == a.scaling_group_id))
        .filter(|a| ids.is_empty() || ids.contains(&a.scaling_activity_id.as_str()))
        .filter(|a| status.is_none_or(|s| s == a.status_code(ctx.now)))
        .map(|a| {
            let code = a.status_code(ctx.now);
            let total = ess
                .instances
                .iter()
                .filter(|i| i.scaling_group_id == a.scaling_group_id)
                .count();
            json!({
                "ScalingActivityId": a.scaling_activity_id,
                "ScalingGroupId": a.scaling_group_id,
                "StatusCode": code,
                "StatusMessage": "",
                "Progress": if code == "InProgress" { 50 } else { 100 },
                "Cause": a.cause,
                "Description": a.description,
                "StartTime": minute(a.start_time),
                "EndTime": if code == "InProgress" { String::new() } else { minute(a.end_time) },
                "TotalCapacity": total.to_string(),
                "AttachedCapacity": "0",
                "AutoCreatedCapacity": "0",
                "ScalingInstanceNumber": a.instance_count,
            })
        })
        .collect();
    let total = items.len();
    Ok(json!({
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "ScalingActivities": {"ScalingActivity": page(items, number, size)},
    }))
}
