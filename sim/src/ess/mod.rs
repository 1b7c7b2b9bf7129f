//! Auto Scaling (ESS, API version 2014-08-28): scaling groups and configurations.
//!
//! [`protocol`] reads parameters and writes the cloud's JSON, [`state`] holds the resources,
//! [`errors`] names the cloud's error codes.

pub mod errors;
pub mod fleet;
pub mod protocol;
pub mod refresh;
pub mod state;

use serde_json::Value;

use crate::ctx::Ctx;
use crate::ecs::state::Ecs;
use crate::error::RpcError;
use crate::params::Params;
use state::Ess;

/// The API version ESS answers to.
pub const VERSION: &str = "2014-08-28";

/// Every action the sim's ESS implements.
pub const ACTIONS: &[&str] = &[
    "DescribeScalingGroups",
    "DescribeScalingConfigurations",
    "DescribeEciScalingConfigurations",
    "ModifyScalingConfiguration",
    "ModifyScalingGroup",
    "DescribeScalingInstances",
    "EnterStandby",
    "ExitStandby",
    "SetInstancesProtection",
    "SuspendProcesses",
    "ResumeProcesses",
    "DescribeScalingActivities",
];

/// Runs `action`; `None` if ESS has no such action.
pub fn handle(
    action: &str,
    p: &Params,
    ess: &mut Ess,
    ecs: &Ecs,
    ctx: &Ctx,
) -> Option<Result<Value, RpcError>> {
    Some(match action {
        "DescribeScalingGroups" => protocol::describe_scaling_groups(ess, p, ctx),
        "DescribeScalingConfigurations" => {
            protocol::describe_scaling_configurations(ess, ecs, p, ctx)
        }
        "DescribeEciScalingConfigurations" => {
            protocol::describe_eci_scaling_configurations(ess, p, ctx)
        }
        "ModifyScalingConfiguration" => protocol::modify_scaling_configuration(ess, ecs, p, ctx),
        "ModifyScalingGroup" => protocol::modify_scaling_group(ess, ecs, p, ctx),
        "DescribeScalingInstances" => fleet::describe_scaling_instances(ess, ecs, p, ctx),
        "EnterStandby" => fleet::enter_standby(ess, ecs, p, ctx),
        "ExitStandby" => fleet::exit_standby(ess, ecs, p, ctx),
        "SetInstancesProtection" => fleet::set_instances_protection(ess, ecs, p),
        "SuspendProcesses" => fleet::suspend_processes(ess, p, ctx),
        "ResumeProcesses" => fleet::resume_processes(ess, p, ctx),
        "DescribeScalingActivities" => fleet::describe_scaling_activities(ess, p, ctx),
        _ => return None,
    })
}
