//! A dry run of an image update: every check a real run makes before it creates anything,
//! and then some, with nothing created, changed or recorded.
//!
//! [`check`] is the one implementation; `reimage run --dry-run`, `reimage task run
//! --dry-run` and `POST /tasks/{id}/runs?dry_run=true` call it. It checks, naming every
//! problem it finds (not only the first):
//!
//! - the request, as [`Engine::validate`] would (a malformed request makes no cloud call, in
//!   a real run or here);
//! - the image name the run would give, by [`naming::image_name`] (the name carries the run's
//!   own execution id, so it cannot clash with an existing image's: a real run does not look
//!   for a clash either, and neither does this; a real run refuses an illegal name before any
//!   cloud call, a dry run goes on to check the rest);
//! - the permissions: the cloud comes from the [`CloudProvider`] exactly as an execution's
//!   does (the account's credentials, or the RAM role assumed through STS), then STS
//!   GetCallerIdentity through it, then a read of each resource below;
//! - the source instance and its system disk, with create-image's calls (DescribeInstances,
//!   DescribeDisks) and its check ([`create_image::check_instance`]);
//! - every configuration: it exists and its group is an enabled ECS-type group, read and
//!   judged by create-image's own code ([`create_image::read_targets`],
//!   [`create_image::target_problems`]);
//! - the pre-flight ([`preflight::check`]), run against the image each configuration holds
//!   now, standing in for the image that would be built.
//!
//! It also says which cloud calls a real run would make, step by step ([`planned_calls`]:
//! kept here, beside the steps, and held to what the steps call by tests).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cloud::{
    CONFIGURATIONS_PER_CALL, CallerIdentity, CloudProvider, GROUPS_PER_CALL, ScalingConfiguration,
};
use super::{Engine, create_image, preflight};
use crate::model::naming;
use crate::model::{ExecutionId, PermissionSource, Step, UpdateRequest};

/// What a dry run shows in place of the image a real run would build.
pub const NEW_IMAGE: &str = "(new image)";

/// How many instance types DescribeInstanceTypes is asked about per call.
const INSTANCE_TYPES_PER_CALL: usize = 10;

/// What a dry run found: what a real run would do, and every reason it would not go ahead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRunReport {
    /// Whether a real run would go ahead: `problems` is empty.
    pub would_run: bool,
    /// The source instance.
    pub instance_id: String,
    /// Its status (`Running`, `Stopped`, …), when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_status: Option<String>,
    /// Its system disk, the one a real run would snapshot, when it was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_disk_id: Option<String>,
    /// The image's name, when it is legal. It carries the execution id; a real run's id is
    /// its own, so the real name differs in that part only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// The execution id `image_name` was built with (no execution was started).
    pub execution_id: ExecutionId,
    /// Whose permissions the calls would use.
    pub permission: PermissionSource,
    /// Who the calls are made as (STS GetCallerIdentity), when the cloud said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<CallerIdentity>,
    /// Each requested configuration, in request order: the image it holds → [`NEW_IMAGE`].
    pub configurations: Vec<ConfigurationChange>,
    /// The cloud calls a real run would make, in order, when it goes ahead (empty when the
    /// request is refused before any call, or what they depend on could not be read).
    pub calls: Vec<PlannedCall>,
    /// Every reason a real run would not go ahead (or would fail); empty: it would run.
    pub problems: Vec<String>,
    /// What the dry run could not check, or how to read it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One configuration of a dry run: the image it holds now, and the one it would get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigurationChange {
    /// `asc-…`.
    pub configuration_id: String,
    /// Its group, when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_group_id: Option<String>,
    /// `Active` or `Inactive`, when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_state: Option<String>,
    /// The image it holds now, when it was read (an ECI configuration holds none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_image_id: Option<String>,
    /// The image it would get: [`NEW_IMAGE`].
    pub image_id: String,
}

/// One cloud call of a real run (or the same call `count` times in a row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedCall {
    /// The step that makes it.
    pub step: Step,
    /// The API action, e.g. `CreateImage`.
    pub action: String,
    /// How many times in a row (at least, when `repeated`).
    pub count: usize,
    /// Made again until something is done (a snapshot, an image): `count` is the least.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repeated: bool,
    /// Made with `DryRun=true`: it creates nothing (the pre-flight's RunInstances).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl PlannedCall {
    fn new(step: Step, action: &str, count: usize) -> Self {
        Self {
            step,
            action: action.to_owned(),
            count,
            repeated: false,
            dry_run: false,
        }
    }

    fn polled(step: Step, action: &str) -> Self {
        Self {
            repeated: true,
            ..Self::new(step, action, 1)
        }
    }
}

impl std::fmt::Display for PlannedCall {
    /// `CreateImage`, `DescribeSnapshots…` (polled), `ModifyScalingConfiguration × 2`,
    /// `RunInstances (DryRun) × 2`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.action)?;
        if self.dry_run {
            f.write_str(" (DryRun)")?;
        }
        if self.repeated {
            f.write_str("…")
        } else if self.count > 1 {
            write!(f, " × {}", self.count)
        } else {
            Ok(())
        }
    }
}

/// What the calls of a real run depend on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// The configurations to update.
    pub configurations: usize,
    /// Their distinct scaling groups.
    pub groups: usize,
    /// The distinct images they hold now.
    pub current_images: usize,
    /// The distinct instance types they launch.
    pub instance_types: usize,
    /// The RunInstances dry runs the pre-flight sends: one per distinct launch request (see
    /// [`preflight::launch_request`], [`preflight::would_ask`]), whatever the number of
    /// configurations that launch with it.
    pub launches: usize,
    /// The distinct groups of the configurations the pre-flight asks ECS about (whose
    /// vSwitches it reads).
    pub launch_groups: usize,
}

/// The cloud calls a real run of an update of this shape makes when all goes well, in order:
/// the one list of them, read off the steps (`create_image`, `wait_image`, `swap_config`
/// with its [`preflight::check`], `verify`); tests hold it to what the steps call. Each step
/// reads its configurations [`CONFIGURATIONS_PER_CALL`] at a time and their groups
/// [`GROUPS_PER_CALL`] at a time. (DescribeEciScalingConfigurations is called only for ids
/// DescribeScalingConfigurations does not know, which a run that goes ahead has none of; the
/// pre-flight's RunInstances dry run asks about a configuration's next instance type only
/// when ECS refuses the first, which in a run that goes ahead it does not; it sends a
/// request once, however many configurations launch with it.)
pub fn planned_calls(shape: Shape) -> Vec<PlannedCall> {
    let batches = |n: usize, per: usize| n.div_ceil(per).max(1);
    let configurations = batches(shape.configurations, CONFIGURATIONS_PER_CALL);
    let mut calls = vec![
        // create-image, first run: the checks, then the snapshot.
        PlannedCall::new(Step::CreateImage, "DescribeInstances", 1),
        PlannedCall::new(
            Step::CreateImage,
            "DescribeScalingConfigurations",
            configurations,
        ),
        PlannedCall::new(
            Step::CreateImage,
            "DescribeScalingGroups",
            batches(shape.groups, GROUPS_PER_CALL),
        ),
        PlannedCall::new(Step::CreateImage, "DescribeDisks", 1),
        PlannedCall::new(Step::CreateImage, "CreateSnapshot", 1),
        // create-image, again until the snapshot is accomplished, then the image.
        PlannedCall::polled(Step::CreateImage, "DescribeSnapshots"),
        PlannedCall::new(Step::CreateImage, "CreateImage", 1),
        // wait-image, until the image is Available.
        PlannedCall::polled(Step::WaitImage, "DescribeImages"),
        // swap-config: the previous images, the pre-flight, the swaps.
        PlannedCall::new(
            Step::SwapConfig,
            "DescribeScalingConfigurations",
            configurations,
        ),
        PlannedCall::new(Step::SwapConfig, "DescribeImages", 1 + shape.current_images),
    ];
    if shape.instance_types > 0 {
        calls.push(PlannedCall::new(
            Step::SwapConfig,
            "DescribeImageSupportInstanceTypes",
            1,
        ));
        calls.push(PlannedCall::new(
            Step::SwapConfig,
            "DescribeInstanceTypes",
            batches(shape.instance_types, INSTANCE_TYPES_PER_CALL),
        ));
    }
    if shape.launch_groups > 0 {
        calls.push(PlannedCall::new(
            Step::SwapConfig,
            "DescribeScalingGroups",
            batches(shape.launch_groups, GROUPS_PER_CALL),
        ));
    }
    if shape.launches > 0 {
        calls.push(PlannedCall {
            dry_run: true,
            ..PlannedCall::new(Step::SwapConfig, "RunInstances", shape.launches)
        });
    }
    calls.extend([
        PlannedCall::new(
            Step::SwapConfig,
            "ModifyScalingConfiguration",
            shape.configurations,
        ),
        // verify: everything read back.
        PlannedCall::new(
            Step::Verify,
            "DescribeScalingConfigurations",
            configurations,
        ),
        PlannedCall::new(Step::Verify, "DescribeImages", 1),
    ]);
    calls
}

/// Checks what a real run of `request` would check, through the cloud `clouds` gives for
/// its permission source, and says what it would do. `execution_id` and `now` stand for the
/// run's own (they name the image). Creates, changes and records nothing; a cloud error is
/// a problem of the report, not an error.
pub async fn check(
    clouds: &dyn CloudProvider,
    request: &UpdateRequest,
    execution_id: ExecutionId,
    now: DateTime<Utc>,
) -> DryRunReport {
    let mut report = DryRunReport {
        would_run: false,
        instance_id: request.instance_id.clone(),
        instance_status: None,
        system_disk_id: None,
        image_name: None,
        execution_id,
        permission: request.permission.clone(),
        caller: None,
        configurations: request
            .configuration_ids
            .iter()
            .map(|id| ConfigurationChange {
                configuration_id: id.clone(),
                scaling_group_id: None,
                lifecycle_state: None,
                previous_image_id: None,
                image_id: NEW_IMAGE.to_owned(),
            })
            .collect(),
        calls: Vec::new(),
        problems: Engine::request_problems(request),
        notes: Vec::new(),
    };
    let malformed = !report.problems.is_empty();
    match naming::image_name(
        &request.instance_id,
        request.image_name.as_deref(),
        &report.execution_id,
        now,
    ) {
        Ok(name) => {
            report.image_name = Some(name);
            report.notes.push(format!(
                "the image name carries execution id {}; a real run names the image after its \
                 own execution",
                report.execution_id
            ));
        }
        Err(e) => report.problems.push(e.to_string()),
    }
    if malformed {
        report.notes.push(
            "a real run refuses a malformed request before any cloud call: the cloud was not \
             asked"
                .into(),
        );
        return report;
    }
    cloud_checks(clouds, request, &mut report).await;
    report.would_run = report.problems.is_empty();
    report
}

/// The checks that ask the cloud, in the order a real run asks (and the pre-flight after).
async fn cloud_checks(
    clouds: &dyn CloudProvider,
    request: &UpdateRequest,
    report: &mut DryRunReport,
) {
    let problems = &mut report.problems;
    let permission = match &request.permission {
        PermissionSource::Account => "the account's own credentials".to_owned(),
        PermissionSource::RamRole { role_arn } => format!("RAM role {role_arn}"),
    };
    let cloud = match clouds.cloud(&request.permission) {
        Ok(cloud) => cloud,
        Err(e) => {
            problems.push(format!(
                "permissions: no cloud client for {permission}: {e}"
            ));
            return;
        }
    };
    if let PermissionSource::RamRole { role_arn } = &request.permission {
        report.notes.push(format!(
            "every call is made as RAM role {role_arn}, assumed through STS AssumeRole, as a \
             real run's are"
        ));
    }

    // Who the calls are made as: GetCallerIdentity needs no permission, so a refusal means
    // no call would get through.
    match cloud.caller_identity().await {
        Ok(Some(identity)) => report.caller = Some(identity),
        Ok(None) => report.notes.push(
            "the cloud does not say who the calls are made as (no STS GetCallerIdentity); the \
             checks read the cloud with the same credentials"
                .into(),
        ),
        Err(e) if !e.is_retryable() => {
            problems.push(format!(
                "permissions: no call can be made with {permission}: {e}"
            ));
            report
                .notes
                .push("the other checks need working credentials: they were not made".into());
            return;
        }
        Err(e) => problems.push(format!(
            "permissions: could not ask STS who the calls are made as: {e}"
        )),
    }

    // The source instance and its system disk, as create-image reads them.
    let instance_id = &request.instance_id;
    match cloud.describe_instance(instance_id).await {
        Err(e) => problems.push(format!("could not read instance {instance_id}: {e}")),
        Ok(instance) => {
            report.instance_status = instance.as_ref().map(|i| i.status.clone());
            if let Err(reason) = create_image::check_instance(instance_id, instance.as_ref()) {
                problems.push(reason);
            }
            if instance.is_some() {
                match cloud.system_disk(instance_id).await {
                    Ok(Some(disk)) => report.system_disk_id = Some(disk),
                    Ok(None) => problems.push(format!("instance {instance_id} has no system disk")),
                    Err(e) => problems.push(format!(
                        "could not find the system disk of {instance_id}: {e}"
                    )),
                }
            }
        }
    }

    // The configurations and their groups, as create-image reads and judges them.
    let ids = &request.configuration_ids;
    let targets = match create_image::read_targets(cloud.as_ref(), ids).await {
        Ok(targets) => targets,
        Err(e) => {
            problems.push(format!("{}: {}", e.what, e.error));
            return;
        }
    };
    let target_problems = targets.problems(ids);
    for change in &mut report.configurations {
        let id = &change.configuration_id;
        let found = targets
            .configurations
            .iter()
            .chain(&targets.eci_configurations)
            .find(|c| &c.scaling_configuration_id == id);
        if let Some(c) = found {
            change.scaling_group_id = Some(c.scaling_group_id.clone());
            change.lifecycle_state = Some(c.lifecycle_state.clone()).filter(|s| !s.is_empty());
            change.previous_image_id = Some(c.image_id.clone()).filter(|s| !s.is_empty());
        }
    }
    // The ones that can take an image: in the request, and not refused above.
    let usable = targets.accepted(ids);
    problems.extend(target_problems);
    // The launch-template groups, as create-image judges them.
    if !request.scaling_group_ids.is_empty() {
        match super::templates::problems(cloud.as_ref(), request).await {
            Ok(found) => problems.extend(found),
            Err(e) => problems.push(format!(
                "could not read the launch-template scaling groups: {e}"
            )),
        }
        report.notes.push(format!(
            "scaling group(s) {} each get a new version of their launch template holding the \
             image",
            request.scaling_group_ids.join(", ")
        ));
    }

    // The pre-flight, once per image held now, with the configurations that hold it: each
    // configuration is checked against its own image, standing in for the new one.
    let mut by_image: BTreeMap<&str, Vec<ScalingConfiguration>> = BTreeMap::new();
    for c in &usable {
        if !c.image_id.is_empty() {
            by_image
                .entry(c.image_id.as_str())
                .or_default()
                .push((*c).clone());
        }
    }
    for (image_id, configurations) in &by_image {
        match preflight::check(
            cloud.as_ref(),
            image_id,
            configurations,
            request.allow_platform_change,
        )
        .await
        {
            Ok(found) => problems.extend(found.into_iter().map(|p| format!("pre-flight: {p}"))),
            Err(e) => problems.push(format!(
                "pre-flight: could not read what it checks with image {image_id}: {e}"
            )),
        }
    }
    if !by_image.is_empty() {
        report.notes.push(
            "the pre-flight ran with the image each configuration holds now standing in for the \
             new image, which does not exist yet; a real run checks the new image itself"
                .into(),
        );
    }
    if request.rollout.is_some() {
        report.notes.push(
            "once verified, the run starts a rollout of each group's running instances onto \
             the new image (a rollout's own dry run: POST /rollouts with \"dry_run\": true)"
                .into(),
        );
    }

    let distinct = |f: fn(&ScalingConfiguration) -> &str| {
        usable
            .iter()
            .map(|c| f(c))
            .filter(|s| !s.is_empty())
            .collect::<BTreeSet<_>>()
            .len()
    };
    // What the pre-flight asks ECS about them: their groups' vSwitches, and each distinct
    // launch once.
    let asked = preflight::would_ask(&usable, &targets.groups);
    report.calls = planned_calls(Shape {
        configurations: ids.len(),
        groups: distinct(|c| c.scaling_group_id.as_str()),
        current_images: distinct(|c| c.image_id.as_str()),
        instance_types: distinct(|c| c.instance_type.as_str()),
        launches: asked.launches,
        launch_groups: asked.groups,
    });
}

impl DryRunReport {
    /// The report for people: what would happen, then every problem.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let verdict = if self.would_run {
            "would run".to_owned()
        } else {
            format!(
                "would NOT run: {} problem{}",
                self.problems.len(),
                if self.problems.len() == 1 { "" } else { "s" }
            )
        };
        let _ = writeln!(
            out,
            "dry run of an image update: {verdict} (nothing was created)"
        );
        let _ = writeln!(
            out,
            "image name      {}",
            self.image_name
                .as_deref()
                .unwrap_or("(none: see the problems)")
        );
        let mut source = self.instance_id.clone();
        if let Some(status) = &self.instance_status {
            let _ = write!(source, " ({status})");
        }
        if let Some(disk) = &self.system_disk_id {
            let _ = write!(source, ", system disk {disk}");
        }
        let _ = writeln!(out, "source          {source}");
        let permission = match &self.permission {
            PermissionSource::Account => "the account's own credentials".to_owned(),
            PermissionSource::RamRole { role_arn } => format!("RAM role {role_arn}"),
        };
        match &self.caller {
            Some(caller) => {
                let _ = writeln!(
                    out,
                    "permissions     {permission}, calls made as {}",
                    caller.arn
                );
            }
            None => {
                let _ = writeln!(out, "permissions     {permission}");
            }
        }
        let _ = writeln!(out, "configurations");
        for c in &self.configurations {
            let about: Vec<&str> = [c.scaling_group_id.as_deref(), c.lifecycle_state.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            let about = if about.is_empty() {
                String::new()
            } else {
                format!(" ({})", about.join(", "))
            };
            let _ = writeln!(
                out,
                "  {}{about}  {} → {}",
                c.configuration_id,
                c.previous_image_id.as_deref().unwrap_or("?"),
                c.image_id
            );
        }
        if !self.calls.is_empty() {
            let _ = writeln!(out, "cloud calls of a real run, in order");
            for step in Step::ALL {
                let calls: Vec<String> = self
                    .calls
                    .iter()
                    .filter(|c| c.step == step)
                    .map(ToString::to_string)
                    .collect();
                if !calls.is_empty() {
                    let _ = writeln!(out, "  {:<12}  {}", step.as_str(), calls.join(", "));
                }
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "notes");
            for note in &self.notes {
                let _ = writeln!(out, "  - {note}");
            }
        }
        if !self.problems.is_empty() {
            let _ = writeln!(out, "problems");
            for problem in &self.problems {
                let _ = writeln!(out, "  - {problem}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
