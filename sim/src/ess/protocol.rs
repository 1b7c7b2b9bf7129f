//! ESS (2014-08-28) on the wire: `Name.N` list parameters, wrapped list responses.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::errors;
use super::state::{
    Ess, GroupLaunchTemplate, LaunchTemplateOverride, MAX_LAUNCH_TEMPLATE_OVERRIDES,
    ScalingConfiguration,
};
use crate::ctx::Ctx;
use crate::ecs::state::{Ecs, ImageStatus};
use crate::error::RpcError;
use crate::params::{Params, page};

/// `yyyy-MM-ddTHH:mmZ`: ESS prints times to the minute.
fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%MZ").to_string()
}

/// DescribeScalingGroups.
pub fn describe_scaling_groups(ess: &Ess, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let ids = p.list("ScalingGroupId", 20)?;
    let mut names = p.list("ScalingGroupName", 20)?;
    if let Some(name) = p.get("ScalingGroupName") {
        names.push(name);
    }
    // GroupType filters only when given (its default for API version 2014-08-28 is not documented:
    // https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-describescalinggroups).
    let group_type = match p.get("GroupType") {
        None => None,
        Some(t @ ("ECS" | "ECI")) => Some(t),
        Some(_) => return Err(RpcError::invalid("GroupType", "must be ECS or ECI")),
    };
    let (number, size) = p.paging(50)?;
    // Groups asked for by id or name that are disabled (Inactive) are left out, without an
    // error: "inactive scaling groups are not displayed in the query results"
    // (https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-describescalinggroups).
    let by_id_or_name = !ids.is_empty() || !names.is_empty();
    let items: Vec<Value> = ess
        .groups
        .iter()
        .filter(|g| ids.is_empty() || ids.contains(&g.scaling_group_id.as_str()))
        .filter(|g| names.is_empty() || names.contains(&g.scaling_group_name.as_str()))
        .filter(|g| !(by_id_or_name && g.lifecycle_state == "Inactive"))
        .filter(|g| group_type.is_none_or(|t| t == g.group_type))
        .map(|g| {
            let members = || {
                ess.instances
                    .iter()
                    .filter(|i| i.scaling_group_id == g.scaling_group_id)
            };
            let count = |state: &str| members().filter(|i| i.lifecycle_state == state).count();
            let total = members().count();
            json!({
                "ScalingGroupId": g.scaling_group_id,
                "ScalingGroupName": g.scaling_group_name,
                "RegionId": ctx.region_id,
                "GroupType": g.group_type,
                "LifecycleState": g.lifecycle_state,
                "ActiveScalingConfigurationId": g.active_scaling_configuration_id.clone().unwrap_or_default(),
                "LaunchTemplateId": g.launch_template.as_ref().map_or("", |t| t.launch_template_id.as_str()),
                "LaunchTemplateVersion": g.launch_template.as_ref().map_or("", |t| t.launch_template_version.as_str()),
                "LaunchTemplateOverrides": {"LaunchTemplateOverride": g
                    .launch_template
                    .as_ref()
                    .map(|t| t.overrides.iter().map(override_json).collect::<Vec<_>>())
                    .unwrap_or_default()},
                "MinSize": g.min_size,
                "MaxSize": g.max_size,
                "DesiredCapacity": total.max(g.min_size as usize),
                "DefaultCooldown": 300,
                "TotalCapacity": total,
                "TotalInstanceCount": total,
                "ActiveCapacity": count("InService"),
                "PendingCapacity": count("Pending"),
                "PendingWaitCapacity": 0,
                "RemovingCapacity": count("Removing"),
                "RemovingWaitCapacity": 0,
                "ProtectedCapacity": count("Protected"),
                "StandbyCapacity": count("Standby"),
                "StoppedCapacity": count("Stopped"),
                "HealthCheckType": "ECS",
                "MultiAZPolicy": "PRIORITY",
                "ScalingPolicy": "release",
                "GroupDeletionProtection": false,
                "SuspendedProcesses": {"SuspendedProcess": g.suspended_processes},
                "RemovalPolicies": {"RemovalPolicy": ["OldestScalingConfiguration", "OldestInstance"]},
                "LoadBalancerIds": {"LoadBalancerId": g.load_balancer_ids},
                "VServerGroups": {"VServerGroup": vserver_groups(&g.vserver_groups)},
                "DBInstanceIds": {"DBInstanceId": []},
                "VSwitchId": g.vswitch_ids.first().cloned().unwrap_or_default(),
                "VSwitchIds": {"VSwitchId": g.vswitch_ids},
                "CreationTime": minute(g.creation_time),
                "ModificationTime": minute(g.creation_time),
            })
        })
        .collect();
    let total = items.len();
    Ok(json!({
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "ScalingGroups": {"ScalingGroup": page(items, number, size)},
    }))
}

/// The configurations of groups of `group_type` that a DescribeScalingConfigurations or
/// DescribeEciScalingConfigurations request asks for: `ScalingGroupId`, up to 10
/// `ScalingConfigurationId.N` and `ScalingConfigurationName.N`. Each of the two operations
/// answers its own type only: an id of the other type is left out, without an error.
fn configurations_of_type<'a>(
    ess: &'a Ess,
    group_type: &'a str,
    p: &'a Params,
) -> Result<impl Iterator<Item = &'a ScalingConfiguration> + 'a, RpcError> {
    let group = p.get("ScalingGroupId");
    if let Some(g) = group {
        if ess.group(g).is_none() {
            return Err(errors::group_not_found(g));
        }
    }
    let ids = p.list("ScalingConfigurationId", 10)?;
    let names = p.list("ScalingConfigurationName", 10)?;
    Ok(ess
        .configurations
        .iter()
        .filter(move |c| {
            ess.group(&c.scaling_group_id)
                .is_some_and(|g| g.group_type == group_type)
        })
        .filter(move |c| group.is_none_or(|g| g == c.scaling_group_id))
        .filter(move |c| ids.is_empty() || ids.contains(&c.scaling_configuration_id.as_str()))
        .filter(move |c| {
            names.is_empty() || names.contains(&c.scaling_configuration_name.as_str())
        }))
}

/// DescribeScalingConfigurations: ECS-type configurations only; ECI ones are answered by
/// DescribeEciScalingConfigurations
/// (https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-describescalingconfigurations).
pub fn describe_scaling_configurations(
    ess: &Ess,
    ecs: &Ecs,
    p: &Params,
    ctx: &Ctx,
) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let (number, size) = p.paging(50)?;
    let items: Vec<Value> = configurations_of_type(ess, "ECS", p)?
        .map(|c| {
            let image_name = ecs
                .image(&c.image_id)
                .map_or(c.image_name.as_str(), |m| m.image_name.as_str());
            // One security group is answered as both fields, as a configuration made with
            // SecurityGroupId; several only as the list (SecurityGroupIds.N), as ESS takes
            // one form or the other.
            let security_group_id = match c.security_group_ids.as_slice() {
                [one] => one.as_str(),
                _ => "",
            };
            json!({
                "ScalingConfigurationId": c.scaling_configuration_id,
                "ScalingConfigurationName": c.scaling_configuration_name,
                "ScalingGroupId": c.scaling_group_id,
                "LifecycleState": ess.lifecycle_state(c),
                "ImageId": c.image_id,
                "ImageName": image_name,
                "ImageFamily": "",
                "InstanceType": c.instance_type,
                "InstanceTypes": {"InstanceType": c.instance_types},
                "SecurityGroupId": security_group_id,
                "SecurityGroupIds": {"SecurityGroupId": c.security_group_ids},
                "SystemDiskCategory": c.system_disk_category,
                "SystemDiskPerformanceLevel": c.system_disk_performance_level.clone().unwrap_or_default(),
                "SystemDiskSize": c.system_disk_size,
                "ZoneId": c.zone_id.clone().unwrap_or_default(),
                "PasswordInherit": c.password_inherit,
                "DataDisks": {"DataDisk": []},
                "Tags": {"Tag": []},
                "KeyPairName": c.key_pair_name.clone().unwrap_or_default(),
                "RamRoleName": "",
                "UserData": "",
                "InstanceName": "",
                "HostName": "",
                "SpotStrategy": "NoSpot",
                "InternetChargeType": "PayByTraffic",
                "InternetMaxBandwidthIn": 200,
                "InternetMaxBandwidthOut": 0,
                "CreationTime": minute(c.creation_time),
            })
        })
        .collect();
    let total = items.len();
    Ok(json!({
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "ScalingConfigurations": {"ScalingConfiguration": page(items, number, size)},
    }))
}

/// DescribeEciScalingConfigurations: the configurations of ECI-type groups
/// (https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-describeeciscalingconfigurations).
/// The list is a plain JSON array, as in the operation's documented example; each item
/// carries the fields reimage and the SDK read (ids, name, group, lifecycle state, creation
/// time) and an empty container list.
pub fn describe_eci_scaling_configurations(
    ess: &Ess,
    p: &Params,
    ctx: &Ctx,
) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let (number, size) = p.paging(50)?;
    let items: Vec<Value> = configurations_of_type(ess, "ECI", p)?
        .map(|c| {
            json!({
                "ScalingConfigurationId": c.scaling_configuration_id,
                "ScalingConfigurationName": c.scaling_configuration_name,
                "ScalingGroupId": c.scaling_group_id,
                "LifecycleState": ess.lifecycle_state(c),
                "ContainerGroupName": c.scaling_configuration_name,
                "RestartPolicy": "Always",
                "Cpu": 2.0,
                "Memory": 4.0,
                "Containers": [],
                "CreationTime": minute(c.creation_time),
            })
        })
        .collect();
    let total = items.len();
    Ok(json!({
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "ScalingConfigurations": page(items, number, size),
    }))
}

/// ModifyScalingConfiguration (no RegionId: the configuration id says where it lives).
pub fn modify_scaling_configuration(
    ess: &mut Ess,
    ecs: &Ecs,
    p: &Params,
    ctx: &Ctx,
) -> Result<Value, RpcError> {
    let id = p.required("ScalingConfigurationId")?;
    let image_id = p.get("ImageId");
    let image_name = p.get("ImageName");
    if image_id.is_some() && p.get("ImageFamily").is_some() {
        return Err(RpcError::invalid(
            "ImageFamily",
            "ImageFamily cannot be set together with ImageId",
        ));
    }
    if let Some(name) = p.get("ScalingConfigurationName") {
        let ok = (2..=64).contains(&name.chars().count())
            && name.chars().next().is_some_and(char::is_alphanumeric)
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            return Err(RpcError::invalid(
                "ScalingConfigurationName",
                "2 to 64 characters: letters, digits, underscores, hyphens and periods, starting with a letter or digit",
            ));
        }
    }
    let group_type = {
        let config = ess.configuration_mut(id)?;
        let group = config.scaling_group_id.clone();
        ess.group(&group).map(|g| g.group_type.clone())
    };
    if group_type.as_deref() == Some("ECI") {
        // ECI configurations are changed with ModifyEciScalingConfiguration.
        return Err(RpcError::not_found(
            "InvalidScalingConfigurationId.NotFound",
            format!(
                "The specified scaling configuration \"{id}\" does not exist among ECS scaling configurations: \
                 it belongs to an ECI scaling group."
            ),
        ));
    }
    // ImageName is ignored when ImageId is given (https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-modifyscalingconfiguration).
    let image = match (image_id, image_name) {
        (Some(id), _) => Some(
            ecs.image(id)
                .ok_or_else(|| errors::image_not_found(id, ""))?,
        ),
        (None, Some(name)) => Some(
            ecs.images
                .iter()
                .find(|m| m.image_name == name)
                .ok_or_else(|| errors::image_not_found(name, " (no image has this name)"))?,
        ),
        (None, None) => None,
    };
    if let Some(image) = image {
        let (status, _) = image.status(ctx.now);
        if status != ImageStatus::Available {
            return Err(errors::image_not_found(
                &image.image_id,
                &format!(" as an Available image (it is {})", status.as_str()),
            ));
        }
    }
    let new_name = p.get("ScalingConfigurationName");
    if let Some(name) = new_name {
        let group = ess.configuration_mut(id)?.scaling_group_id.clone();
        if ess.configurations.iter().any(|c| {
            c.scaling_group_id == group
                && c.scaling_configuration_id != id
                && c.scaling_configuration_name == name
        }) {
            return Err(errors::configuration_name_duplicate(name));
        }
    }
    let config = ess.configuration_mut(id)?;
    if let Some(image) = image {
        config.image_id = image.image_id.clone();
        config.image_name = image.image_name.clone();
    }
    if let Some(name) = new_name {
        config.scaling_configuration_name = name.to_owned();
    }
    Ok(json!({}))
}

/// DescribeScalingGroups' `VServerGroups.VServerGroup[]`: per load balancer, its attached
/// groups with their ports and weights.
fn vserver_groups(attached: &[crate::seed::SeedVServerGroupAttachment]) -> Vec<Value> {
    let mut lbs: Vec<&str> = attached
        .iter()
        .map(|a| a.load_balancer_id.as_str())
        .collect();
    lbs.dedup();
    lbs.into_iter()
        .map(|lb| {
            json!({
                "LoadBalancerId": lb,
                "VServerGroupAttributes": {"VServerGroupAttribute": attached
                    .iter()
                    .filter(|a| a.load_balancer_id == lb)
                    .map(|a| json!({"VServerGroupId": a.vserver_group_id, "Port": a.port, "Weight": a.weight}))
                    .collect::<Vec<_>>()},
            })
        })
        .collect()
}

/// One `LaunchTemplateOverrides.LaunchTemplateOverride[]` of DescribeScalingGroups.
fn override_json(o: &LaunchTemplateOverride) -> Value {
    let mut out = json!({"InstanceType": o.instance_type});
    if let Some(w) = o.weighted_capacity {
        out["WeightedCapacity"] = json!(w);
    }
    if let Some(price) = o
        .spot_price_limit
        .as_deref()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(serde_json::Number::from_f64)
    {
        out["SpotPriceLimit"] = Value::Number(price);
    }
    out
}

/// `LaunchTemplateOverride.N.InstanceType` / `.WeightedCapacity` / `.SpotPriceLimit`, if any
/// is given.
fn launch_template_overrides(p: &Params) -> Result<Option<Vec<LaunchTemplateOverride>>, RpcError> {
    let entries = p.struct_list("LaunchTemplateOverride", MAX_LAUNCH_TEMPLATE_OVERRIDES)?;
    if entries.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(entries.len());
    for members in entries {
        let find = |m: &str| {
            members
                .iter()
                .find(|(k, _)| *k == m)
                .map(|(_, v)| *v)
                .filter(|v| !v.is_empty())
        };
        let weighted_capacity = find("WeightedCapacity")
            .map(|raw| {
                raw.trim().parse::<u32>().map_err(|_| {
                    RpcError::invalid(
                        "LaunchTemplateOverride.N.WeightedCapacity",
                        "must be 1 to 500",
                    )
                })
            })
            .transpose()?;
        out.push(LaunchTemplateOverride {
            instance_type: find("InstanceType").unwrap_or_default().to_owned(),
            weighted_capacity,
            spot_price_limit: find("SpotPriceLimit").map(str::to_owned),
        });
    }
    Ok(Some(out))
}

/// ModifyScalingGroup (no RegionId: the group id says where it lives): `ScalingGroupName`,
/// `MinSize`, `MaxSize`, and the instance source: `ActiveScalingConfigurationId` (a
/// configuration of the group; the group leaves its launch template) or `LaunchTemplateId`,
/// `LaunchTemplateVersion` (a number, `Default` or `Latest`) and `LaunchTemplateOverride.N`
/// (the group leaves its active configuration: "a scaling group can have only one active
/// instance configuration source at a time"). Everything is checked before anything
/// changes.
pub fn modify_scaling_group(
    ess: &mut Ess,
    ecs: &Ecs,
    p: &Params,
    _ctx: &Ctx,
) -> Result<Value, RpcError> {
    let id = p.required("ScalingGroupId")?;
    let group = ess
        .group(id)
        .ok_or_else(|| errors::group_not_found(id))?
        .clone();
    let name = p.get("ScalingGroupName");
    if let Some(name) = name {
        let ok = (2..=64).contains(&name.chars().count())
            && name.chars().next().is_some_and(char::is_alphanumeric)
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            return Err(RpcError::invalid(
                "ScalingGroupName",
                "2 to 64 characters: letters, digits, underscores, hyphens and periods, starting with a letter or digit",
            ));
        }
    }
    let min = p.int("MinSize", 0, 2000, i64::from(group.min_size))? as u32;
    let max = p.int("MaxSize", 0, 2000, i64::from(group.max_size))? as u32;
    if min > max {
        return Err(RpcError::invalid("MinSize", "must not exceed MaxSize"));
    }
    let configuration = p.get("ActiveScalingConfigurationId");
    let template_id = p.get("LaunchTemplateId");
    let version = p.get("LaunchTemplateVersion");
    let overrides = launch_template_overrides(p)?;
    if configuration.is_some()
        && (template_id.is_some() || version.is_some() || overrides.is_some())
    {
        return Err(RpcError::invalid(
            "ActiveScalingConfigurationId",
            "cannot be set together with LaunchTemplateId, LaunchTemplateVersion or LaunchTemplateOverride.N",
        ));
    }
    if let Some(c) = configuration {
        if !ess
            .configurations
            .iter()
            .any(|x| x.scaling_configuration_id == c && x.scaling_group_id == id)
        {
            return Err(errors::configuration_not_found(c));
        }
    }
    let template = if template_id.is_some() || version.is_some() || overrides.is_some() {
        let current = group.launch_template.as_ref();
        let launch_template_id = match (template_id, current) {
            (Some(t), _) => t.to_owned(),
            (None, Some(c)) => c.launch_template_id.clone(),
            (None, None) => return Err(RpcError::missing("LaunchTemplateId")),
        };
        let same_template = current.is_some_and(|c| c.launch_template_id == launch_template_id);
        let source = GroupLaunchTemplate {
            launch_template_version: match (version, current) {
                (Some(v), _) => v.to_owned(),
                (None, Some(c)) if same_template => c.launch_template_version.clone(),
                _ => "Default".to_owned(),
            },
            overrides: match (overrides, current) {
                (Some(o), _) => o,
                (None, Some(c)) if same_template => c.overrides.clone(),
                _ => Vec::new(),
            },
            launch_template_id,
        };
        if group.group_type != "ECS" {
            return Err(RpcError::invalid(
                "LaunchTemplateId",
                "only an ECS scaling group launches from a launch template",
            ));
        }
        source.check(ecs)?;
        Some(source)
    } else {
        None
    };
    let group = ess.group_mut(id)?;
    if let Some(name) = name {
        group.scaling_group_name = name.to_owned();
    }
    group.min_size = min;
    group.max_size = max;
    if let Some(c) = configuration {
        group.active_scaling_configuration_id = Some(c.to_owned());
        group.launch_template = None;
    }
    if let Some(t) = template {
        group.active_scaling_configuration_id = None;
        group.launch_template = Some(t);
    }
    Ok(json!({}))
}
