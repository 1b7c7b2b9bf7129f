//! ECS (API version 2014-05-26): instances, disks, snapshots, images and who they are shared
//! with, their tags, launch templates, the instance types an image runs on, and RunInstances'
//! dry run.
//!
//! [`protocol`] reads parameters and writes the cloud's JSON, [`state`] holds the resources
//! and enforces the rules, [`errors`] names the cloud's error codes.

pub mod assistant;
pub mod errors;
pub mod fleet;
pub mod launch;
pub mod protocol;
pub mod seeding;
pub mod shares;
pub mod state;
pub mod tags;
pub mod templates;
pub mod types;

use serde_json::Value;

use crate::ctx::Ctx;
use crate::error::RpcError;
use crate::params::Params;
use state::Ecs;

/// The API version ECS answers to.
pub const VERSION: &str = "2014-05-26";

/// Every action the sim's ECS implements.
pub const ACTIONS: &[&str] = &[
    "DescribeInstances",
    "DescribeDisks",
    "CreateSnapshot",
    "DescribeSnapshots",
    "DeleteSnapshot",
    "CreateImage",
    "DescribeImages",
    "DeleteImage",
    "StopInstance",
    "StartInstance",
    "StopInstances",
    "StartInstances",
    "ReplaceSystemDisk",
    "RunCommand",
    "DescribeInvocationResults",
    "TagResources",
    "UntagResources",
    "ListTagResources",
    "DescribeImageSupportInstanceTypes",
    "DescribeInstanceTypes",
    "RunInstances",
    "CreateLaunchTemplate",
    "CreateLaunchTemplateVersion",
    "DescribeLaunchTemplates",
    "DescribeLaunchTemplateVersions",
    "DeleteLaunchTemplate",
    "DeleteLaunchTemplateVersion",
    "ModifyLaunchTemplateDefaultVersion",
    "ModifyImageSharePermission",
    "DescribeImageSharePermission",
];

/// Runs `action`; `None` if ECS has no such action.
pub fn handle(
    action: &str,
    p: &Params,
    ecs: &mut Ecs,
    ctx: &Ctx,
) -> Option<Result<Value, RpcError>> {
    Some(match action {
        "DescribeInstances" => protocol::describe_instances(ecs, p, ctx),
        "DescribeDisks" => protocol::describe_disks(ecs, p, ctx),
        "CreateSnapshot" => protocol::create_snapshot(ecs, p, ctx),
        "DescribeSnapshots" => protocol::describe_snapshots(ecs, p, ctx),
        "DeleteSnapshot" => protocol::delete_snapshot(ecs, p),
        "CreateImage" => protocol::create_image(ecs, p, ctx),
        "DescribeImages" => protocol::describe_images(ecs, p, ctx),
        "DeleteImage" => protocol::delete_image(ecs, p, ctx),
        "StopInstance" => fleet::stop_instance(ecs, p, ctx),
        "StartInstance" => fleet::start_instance(ecs, p, ctx),
        "StopInstances" => fleet::stop_instances(ecs, p, ctx),
        "StartInstances" => fleet::start_instances(ecs, p, ctx),
        "ReplaceSystemDisk" => fleet::replace_system_disk(ecs, p, ctx),
        "RunCommand" => assistant::run_command(ecs, p, ctx),
        "DescribeInvocationResults" => assistant::describe_invocation_results(ecs, p, ctx),
        "TagResources" => tags::tag_resources(ecs, p, ctx),
        "UntagResources" => tags::untag_resources(ecs, p, ctx),
        "ListTagResources" => tags::list_tag_resources(ecs, p, ctx),
        "DescribeImageSupportInstanceTypes" => {
            types::describe_image_support_instance_types(ecs, p, ctx)
        }
        "DescribeInstanceTypes" => types::describe_instance_types(p, ctx),
        "RunInstances" => launch::run_instances(ecs, p, ctx),
        "CreateLaunchTemplate" => templates::create_launch_template(ecs, p, ctx),
        "CreateLaunchTemplateVersion" => templates::create_launch_template_version(ecs, p, ctx),
        "DescribeLaunchTemplates" => templates::describe_launch_templates(ecs, p, ctx),
        "DescribeLaunchTemplateVersions" => {
            templates::describe_launch_template_versions(ecs, p, ctx)
        }
        "DeleteLaunchTemplate" => templates::delete_launch_template(ecs, p, ctx),
        "DeleteLaunchTemplateVersion" => templates::delete_launch_template_version(ecs, p, ctx),
        "ModifyLaunchTemplateDefaultVersion" => {
            templates::modify_launch_template_default_version(ecs, p, ctx)
        }
        "ModifyImageSharePermission" => shares::modify_image_share_permission(ecs, p, ctx),
        "DescribeImageSharePermission" => shares::describe_image_share_permission(ecs, p, ctx),
        _ => return None,
    })
}
