//! create-image: check the source and the targets, snapshot the system disk, and once the
//! snapshot is done, CreateImage from it.
//!
//! The step runs in two phases, each ending in a record:
//!
//! 1. No snapshot yet: the instance exists and is Running or Stopped; every configuration
//!    exists and belongs to an ECS-type group (an ECI group is refused before anything is
//!    created); the system disk is found and CreateSnapshot is called with a ClientToken
//!    derived from the execution. The record keeps the snapshot id and asks for create-image
//!    again after a short delay.
//! 2. Snapshot known: DescribeSnapshots; while it is progressing, create-image is asked for
//!    again after a progress-aware delay; once accomplished, CreateImage from it (system disk
//!    only) with its own ClientToken, and wait-image is next. A failed snapshot, or the
//!    deadline passing, fails the execution and deletes the snapshot.
//!
//! ECS refuses CreateImage from a snapshot that is not yet accomplished
//! (`InvalidSnapshotId.NotReady`), hence the wait between the two phases.

use std::collections::BTreeSet;

use super::cloud::{
    CONFIGURATIONS_PER_CALL, Cloud, CloudError, Creation, GROUPS_PER_CALL, Instance,
    ScalingConfiguration, ScalingGroup, TAG_EXECUTION, TAG_MANAGED, TAG_TASK,
};
use super::{
    Interrupt, StepContext, Transition, classify, delay, describe_configurations, fail_cleaning_up,
    failed, pending,
};
use crate::model::{Step, StepRecord};

const STEP: Step = Step::CreateImage;

/// Purpose of the snapshot's ClientToken.
pub(crate) const SNAPSHOT_TOKEN: &str = "create-image/snapshot";
/// Purpose of the image's ClientToken.
pub(crate) const IMAGE_TOKEN: &str = "create-image/image";

pub(crate) async fn run(
    cx: &StepContext<'_>,
    record: &StepRecord,
) -> Result<Transition, Interrupt> {
    if record.learned.snapshot_id.is_none() {
        take_snapshot(cx, record).await
    } else {
        create_image(cx, record).await
    }
}

/// Whether an image can be taken from an instance in this state: `Err` says why not.
pub(crate) fn check_instance(instance_id: &str, instance: Option<&Instance>) -> Result<(), String> {
    match instance {
        None => Err(format!("instance {instance_id} does not exist")),
        Some(i) if i.status == "Running" || i.status == "Stopped" => Ok(()),
        Some(i) => Err(format!(
            "instance {instance_id} is {}; an image can be taken only from a Running or \
             Stopped instance",
            i.status
        )),
    }
}

/// Whether every requested configuration exists and belongs to an ECS-type group: the first
/// of [`target_problems`], which the step fails with.
pub(crate) fn check_targets(
    configuration_ids: &[String],
    configurations: &[ScalingConfiguration],
    eci_configurations: &[ScalingConfiguration],
    groups: &[ScalingGroup],
) -> Result<(), String> {
    match target_problems(
        configuration_ids,
        configurations,
        eci_configurations,
        groups,
    )
    .into_iter()
    .next()
    {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// Why each requested configuration that cannot take the image cannot, in request order: it
/// does not exist, or its group is disabled, missing or not of type ECS. `configurations` are
/// DescribeScalingConfigurations' answer (ECS-type only), `eci_configurations`
/// DescribeEciScalingConfigurations' for the ids it left out, `groups`
/// DescribeScalingGroups' (which leaves out disabled groups, without an error).
pub(crate) fn target_problems(
    configuration_ids: &[String],
    configurations: &[ScalingConfiguration],
    eci_configurations: &[ScalingConfiguration],
    groups: &[ScalingGroup],
) -> Vec<String> {
    let mut problems = Vec::new();
    for id in configuration_ids {
        let Some(configuration) = configurations
            .iter()
            .find(|c| &c.scaling_configuration_id == id)
        else {
            if let Some(eci) = eci_configurations
                .iter()
                .find(|c| &c.scaling_configuration_id == id)
            {
                problems.push(format!(
                    "scaling configuration {id} belongs to scaling group {} of type ECI; \
                     only ECS-type groups can take a custom image",
                    eci.scaling_group_id
                ));
            } else {
                problems.push(format!("scaling configuration {id} does not exist"));
            }
            continue;
        };
        let group_id = &configuration.scaling_group_id;
        let Some(group) = groups.iter().find(|g| &g.scaling_group_id == group_id) else {
            problems.push(format!(
                "scaling group {group_id} of scaling configuration {id} is disabled or missing \
                 (DescribeScalingGroups does not list it)"
            ));
            continue;
        };
        if !group.is_ecs() {
            problems.push(format!(
                "scaling configuration {id} belongs to scaling group {group_id} of type {}; \
                 only ECS-type groups can take a custom image",
                group.group_type
            ));
        }
    }
    problems
}

/// What create-image reads of the requested configurations before anything is created.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    /// DescribeScalingConfigurations' answer (ECS-type configurations only).
    pub configurations: Vec<ScalingConfiguration>,
    /// DescribeEciScalingConfigurations' answer for the ids the first left out.
    pub eci_configurations: Vec<ScalingConfiguration>,
    /// DescribeScalingGroups' answer for the groups of `configurations`.
    pub groups: Vec<ScalingGroup>,
}

impl Targets {
    /// [`target_problems`] of what was read.
    pub(crate) fn problems(&self, configuration_ids: &[String]) -> Vec<String> {
        target_problems(
            configuration_ids,
            &self.configurations,
            &self.eci_configurations,
            &self.groups,
        )
    }

    /// The configurations of `configuration_ids` that [`target_problems`] has nothing
    /// against, in the order they were read.
    pub(crate) fn accepted(&self, configuration_ids: &[String]) -> Vec<&ScalingConfiguration> {
        self.configurations
            .iter()
            .filter(|c| {
                configuration_ids.contains(&c.scaling_configuration_id)
                    && self
                        .problems(std::slice::from_ref(&c.scaling_configuration_id))
                        .is_empty()
            })
            .collect()
    }
}

/// A read of the targets that failed: what was being read, and the cloud's error.
#[derive(Debug)]
pub(crate) struct TargetsUnread {
    pub what: &'static str,
    pub error: CloudError,
}

/// Reads the requested configurations (10 ids a call), the ECI configurations among the ids
/// DescribeScalingConfigurations left out (it answers ECS-type configurations only: an id it
/// left out may be an ECI configuration, refused by name rather than called missing), and
/// the groups of the ECS-type ones (20 ids a call).
pub(crate) async fn read_targets(
    cloud: &dyn Cloud,
    configuration_ids: &[String],
) -> Result<Targets, TargetsUnread> {
    let unread = |what| move |error| TargetsUnread { what, error };
    let configurations = describe_configurations(cloud, configuration_ids)
        .await
        .map_err(unread("could not read the scaling configurations"))?;
    let missing: Vec<String> = configuration_ids
        .iter()
        .filter(|id| {
            !configurations
                .iter()
                .any(|c| &c.scaling_configuration_id == *id)
        })
        .cloned()
        .collect();
    let mut eci_configurations = Vec::new();
    for chunk in missing.chunks(CONFIGURATIONS_PER_CALL) {
        eci_configurations.extend(
            cloud
                .describe_eci_configurations(chunk)
                .await
                .map_err(unread("could not read the ECI scaling configurations"))?,
        );
    }
    let group_ids: Vec<String> = configurations
        .iter()
        .map(|c| c.scaling_group_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut groups = Vec::new();
    for chunk in group_ids.chunks(GROUPS_PER_CALL) {
        groups.extend(
            cloud
                .describe_groups(chunk)
                .await
                .map_err(unread("could not read the scaling groups"))?,
        );
    }
    Ok(Targets {
        configurations,
        eci_configurations,
        groups,
    })
}

async fn take_snapshot(cx: &StepContext<'_>, record: &StepRecord) -> Result<Transition, Interrupt> {
    let request = &record.request;
    let mut learned = record.learned.clone();
    let fail = |reason: String, cause: Option<&CloudError>, learned| {
        Ok(Transition::to(failed(STEP, reason, cause), learned))
    };

    let instance = match classify(cx.cloud.describe_instance(&request.instance_id).await)? {
        Ok(instance) => instance,
        Err(e) => {
            return fail(
                format!("could not read instance {}", request.instance_id),
                Some(&e),
                learned,
            );
        }
    };
    if let Err(reason) = check_instance(&request.instance_id, instance.as_ref()) {
        return fail(reason, None, learned);
    }

    let targets = match read_targets(cx.cloud, &request.configuration_ids).await {
        Ok(targets) => targets,
        Err(e) if e.error.is_retryable() => return Err(Interrupt::Retry(e.error)),
        Err(e) => return fail(e.what.into(), Some(&e.error), learned),
    };
    if let Err(reason) = check_targets(
        &request.configuration_ids,
        &targets.configurations,
        &targets.eci_configurations,
        &targets.groups,
    ) {
        return fail(reason, None, learned);
    }
    if !request.scaling_group_ids.is_empty() {
        match classify(super::templates::problems(cx.cloud, request).await)? {
            Ok(problems) if problems.is_empty() => {}
            Ok(problems) => return fail(problems.join("; "), None, learned),
            Err(e) => {
                return fail(
                    "could not read the launch-template scaling groups".into(),
                    Some(&e),
                    learned,
                );
            }
        }
    }

    let disk_id = match classify(cx.cloud.system_disk(&request.instance_id).await)? {
        Ok(Some(disk)) => disk,
        Ok(None) => {
            return fail(
                format!("instance {} has no system disk", request.instance_id),
                None,
                learned,
            );
        }
        Err(e) => {
            return fail(
                format!("could not find the system disk of {}", request.instance_id),
                Some(&e),
                learned,
            );
        }
    };
    learned.system_disk_id = Some(disk_id.clone());

    let token = record.execution_id.token(SNAPSHOT_TOKEN);
    let snapshot_name = format!("reimage_{}", record.execution_id);
    let tags = creation_tags(record);
    let creation = Creation {
        name: &snapshot_name,
        client_token: &token,
        tags: &tags,
    };
    let snapshot_id = match classify(cx.cloud.create_snapshot(&disk_id, creation).await)? {
        Ok(id) => id,
        Err(e) => {
            return fail(
                format!("could not snapshot system disk {disk_id}"),
                Some(&e),
                learned,
            );
        }
    };
    learned.snapshot_id = Some(snapshot_id);
    learned.snapshot_requested_at = Some(cx.now);
    learned.progress = None;
    let due = cx.now + delay::next_check(None, std::time::Duration::ZERO);
    Ok(Transition::to(pending(STEP, due), learned))
}

async fn create_image(cx: &StepContext<'_>, record: &StepRecord) -> Result<Transition, Interrupt> {
    let mut learned = record.learned.clone();
    let Some(snapshot_id) = learned.snapshot_id.clone() else {
        return Ok(Transition::to(
            failed(STEP, "no snapshot was recorded", None),
            learned,
        ));
    };
    if learned.image_id.is_some() {
        // CreateImage already answered in a run that recorded it: go on waiting.
        return Ok(Transition::to(pending(Step::WaitImage, cx.now), learned));
    }
    if cx.now >= record.work_started_at() + cx.config.image_deadline_chrono() {
        let reason = format!(
            "snapshot {snapshot_id} was not done within {} of the start of its work",
            humanize(cx.config.image_deadline)
        );
        return fail_cleaning_up(cx, STEP, learned, reason, None).await;
    }

    let snapshot = match classify(cx.cloud.describe_snapshot(&snapshot_id).await)? {
        Ok(s) => s,
        Err(e) => {
            let reason = format!("could not read snapshot {snapshot_id}");
            return fail_cleaning_up(cx, STEP, learned, reason, Some(&e)).await;
        }
    };
    learned.snapshot_checks += 1;
    let Some(snapshot) = snapshot else {
        let reason = format!("snapshot {snapshot_id} no longer exists");
        return fail_cleaning_up(cx, STEP, learned, reason, None).await;
    };
    match snapshot.status.as_str() {
        "accomplished" => {}
        "failed" => {
            let reason = format!("snapshot {snapshot_id} failed");
            return fail_cleaning_up(cx, STEP, learned, reason, None).await;
        }
        _ => {
            learned.progress = snapshot.progress;
            let since = learned
                .snapshot_requested_at
                .unwrap_or(record.work_started_at());
            let elapsed = (cx.now - since).to_std().unwrap_or_default();
            let due = cx.now + delay::next_check(snapshot.progress, elapsed);
            return Ok(Transition::to(pending(STEP, due), learned));
        }
    }

    let token = record.execution_id.token(IMAGE_TOKEN);
    let tags = creation_tags(record);
    let creation = Creation {
        name: &record.image_name,
        client_token: &token,
        tags: &tags,
    };
    let image_id = match classify(cx.cloud.create_image(&snapshot_id, creation).await)? {
        Ok(id) => id,
        Err(e) => {
            let reason = format!("could not create image {}", record.image_name);
            return fail_cleaning_up(cx, STEP, learned, reason, Some(&e)).await;
        }
    };
    learned.image_id = Some(image_id);
    learned.image_requested_at = Some(cx.now);
    learned.progress = None;
    let since_build = learned
        .snapshot_requested_at
        .unwrap_or(record.work_started_at());
    let due = cx.now
        + delay::next_image_check(
            None,
            std::time::Duration::ZERO,
            (cx.now - since_build).to_std().unwrap_or_default(),
            None,
        );
    Ok(Transition::to(pending(Step::WaitImage, due), learned))
}

/// The tags of the snapshot and the image an execution creates: reimage made them, for which
/// execution, and for which task's run.
fn creation_tags(record: &StepRecord) -> Vec<(String, String)> {
    let mut tags = vec![
        (TAG_MANAGED.to_owned(), "true".to_owned()),
        (TAG_EXECUTION.to_owned(), record.execution_id.to_string()),
    ];
    if let Some(task) = &record.request.task_id {
        tags.push((TAG_TASK.to_owned(), task.clone()));
    }
    tags
}

/// `6h`, `90m`, `45s`.
pub(crate) fn humanize(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s >= 60 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(id: &str, group: &str) -> ScalingConfiguration {
        ScalingConfiguration {
            scaling_configuration_id: id.into(),
            scaling_group_id: group.into(),
            lifecycle_state: "Active".into(),
            image_id: "m-old".into(),
            ..Default::default()
        }
    }

    fn group(id: &str, kind: &str) -> ScalingGroup {
        ScalingGroup {
            scaling_group_id: id.into(),
            group_type: kind.into(),
            ..ScalingGroup::default()
        }
    }

    #[test]
    fn instance_must_exist_and_be_running_or_stopped() {
        let instance = |status: &str| Instance {
            instance_id: "i-1".into(),
            status: status.into(),
        };
        check_instance("i-1", Some(&instance("Running"))).unwrap();
        check_instance("i-1", Some(&instance("Stopped"))).unwrap();
        let err = check_instance("i-1", Some(&instance("Starting"))).unwrap_err();
        assert!(err.contains("is Starting"), "{err}");
        let err = check_instance("i-1", None).unwrap_err();
        assert_eq!(err, "instance i-1 does not exist");
    }

    #[test]
    fn targets_must_exist_in_ecs_groups() {
        let ids = vec!["asc-1".to_owned(), "asc-2".to_owned()];
        let configs = vec![config("asc-1", "asg-1"), config("asc-2", "asg-2")];
        assert!(
            check_targets(
                &ids,
                &configs,
                &[],
                &[group("asg-1", "ECS"), group("asg-2", "")]
            )
            .is_ok()
        );
        let err = check_targets(
            &ids,
            &configs,
            &[],
            &[group("asg-1", "ECS"), group("asg-2", "ECI")],
        )
        .unwrap_err();
        assert!(err.contains("asc-2") && err.contains("ECI"), "{err}");
        let err = check_targets(&ids, &configs[..1], &[], &[group("asg-1", "ECS")]).unwrap_err();
        assert_eq!(err, "scaling configuration asc-2 does not exist");
        // Found only by DescribeEciScalingConfigurations: refused by its type, not "missing".
        let err = check_targets(&ids, &configs[..1], &configs[1..], &[group("asg-1", "ECS")])
            .unwrap_err();
        assert_eq!(
            err,
            "scaling configuration asc-2 belongs to scaling group asg-2 of type ECI; only \
             ECS-type groups can take a custom image"
        );
        let err = check_targets(&ids, &configs, &[], &[group("asg-1", "ECS")]).unwrap_err();
        assert_eq!(
            err,
            "scaling group asg-2 of scaling configuration asc-2 is disabled or missing \
             (DescribeScalingGroups does not list it)"
        );
    }

    #[test]
    fn every_target_problem_is_named_in_request_order() {
        let ids: Vec<String> = ["asc-gone", "asc-1", "asc-eci", "asc-2", "asc-3"]
            .map(String::from)
            .to_vec();
        let configs = vec![
            config("asc-1", "asg-1"),
            config("asc-2", "asg-disabled"),
            config("asc-3", "asg-3"),
        ];
        let eci = vec![config("asc-eci", "asg-eci")];
        let groups = [group("asg-1", "ECS"), group("asg-3", "ECI")];
        let found = target_problems(&ids, &configs, &eci, &groups);
        assert_eq!(found.len(), 4, "{found:#?}");
        assert_eq!(found[0], "scaling configuration asc-gone does not exist");
        assert!(found[1].starts_with(
            "scaling configuration asc-eci belongs to scaling group asg-eci of type ECI"
        ));
        assert!(found[2].starts_with("scaling group asg-disabled of scaling configuration asc-2"));
        assert!(
            found[3].starts_with(
                "scaling configuration asc-3 belongs to scaling group asg-3 of type ECI"
            )
        );
        // The step fails with the first.
        assert_eq!(
            check_targets(&ids, &configs, &eci, &groups).unwrap_err(),
            found[0]
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(humanize(std::time::Duration::from_secs(6 * 3600)), "6h");
        assert_eq!(humanize(std::time::Duration::from_secs(90 * 60)), "90m");
        assert_eq!(humanize(std::time::Duration::from_secs(45)), "45s");
    }
}
