//! verify: read every configuration back (10 ids a call) and the image, and write the final
//! record.
//!
//! Each configuration must hold the new image; the image must be Available; its name must be
//! the one the execution chose, in the expected form. Otherwise every configuration that holds
//! the new image is put back to its previous image and the execution fails, naming each
//! problem.

use super::cloud::{ALL_IMAGE_STATUSES, Image, ScalingConfiguration};
use super::swap_config::{finish_rollback, roll_back};
use super::{
    Interrupt, StepContext, Transition, classify, describe_configurations, failed, failure,
};
use crate::model::execution::TaskRollout;
use crate::model::naming::has_expected_form;
use crate::model::{State, Step, StepRecord};
use crate::rollout::RolloutId;

const STEP: Step = Step::Verify;

/// Everything wrong with what verify read back; empty when all is well.
pub(crate) fn problems(
    record: &StepRecord,
    image_id: &str,
    configurations: &[ScalingConfiguration],
    image: Option<&Image>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for id in &record.request.configuration_ids {
        match configurations
            .iter()
            .find(|c| &c.scaling_configuration_id == id)
        {
            None => problems.push(format!("scaling configuration {id} no longer exists")),
            Some(c) if c.image_id != image_id => problems.push(format!(
                "scaling configuration {id} holds image {}, not {image_id}",
                c.image_id
            )),
            Some(_) => {}
        }
    }
    match image {
        None => problems.push(format!("image {image_id} does not exist")),
        Some(image) => {
            if image.status != "Available" {
                problems.push(format!(
                    "image {image_id} is {}, not Available",
                    image.status
                ));
            }
            let request = &record.request;
            if image.image_name != record.image_name
                || !has_expected_form(
                    &image.image_name,
                    &request.instance_id,
                    request.image_name.as_deref(),
                    &record.execution_id,
                )
            {
                problems.push(format!(
                    "image {image_id} is named {:?}, expected {:?}",
                    image.image_name, record.image_name
                ));
            }
        }
    }
    problems
}

/// The rollouts a task's `rollout:` asks for after a verified run: its `group_id`, else
/// each group of the task's configurations once, in the order of the request; each under an
/// id derived from the execution and the group, so a replay starts none twice.
fn task_rollouts(
    record: &StepRecord,
    options: &crate::rollout::RolloutOptions,
    configurations: &[ScalingConfiguration],
) -> Vec<TaskRollout> {
    let mut groups: Vec<String> = Vec::new();
    match &options.group_id {
        Some(group) => groups.push(group.clone()),
        None => {
            for id in &record.request.configuration_ids {
                if let Some(c) = configurations
                    .iter()
                    .find(|c| &c.scaling_configuration_id == id)
                {
                    if !groups.contains(&c.scaling_group_id) {
                        groups.push(c.scaling_group_id.clone());
                    }
                }
            }
            for group in &record.request.scaling_group_ids {
                if !groups.contains(group) {
                    groups.push(group.clone());
                }
            }
        }
    }
    groups
        .into_iter()
        .map(|group_id| TaskRollout {
            rollout_id: RolloutId::derived(&format!("{}/{group_id}", record.execution_id)),
            group_id,
        })
        .collect()
}

pub(crate) async fn run(
    cx: &StepContext<'_>,
    record: &StepRecord,
) -> Result<Transition, Interrupt> {
    if record.learned.rolling_back.is_some() {
        return Ok(finish_rollback(cx, record).await);
    }
    let learned = record.learned.clone();
    let Some(image_id) = learned.image_id.clone() else {
        return Ok(Transition::to(
            failed(STEP, "no image was recorded", None),
            learned,
        ));
    };
    let read = async {
        let configurations =
            describe_configurations(cx.cloud, &record.request.configuration_ids).await?;
        let image = cx
            .cloud
            .describe_image(&image_id, ALL_IMAGE_STATUSES)
            .await?;
        Ok((configurations, image))
    };
    let (mut problems, mut cause, configurations) = match classify(read.await)? {
        Ok((configurations, image)) => (
            problems(record, &image_id, &configurations, image.as_ref()),
            None,
            configurations,
        ),
        Err(e) => (
            vec!["could not read the result back".to_owned()],
            Some(e),
            Vec::new(),
        ),
    };
    if let Some(sources) = &record.learned.previous_templates {
        let found =
            super::templates::verify(cx.cloud, &record.execution_id, sources, &image_id).await;
        match classify(found)? {
            Ok(found) => problems.extend(found),
            Err(e) => {
                problems.push("could not read the launch-template scaling groups back".into());
                cause = cause.or(Some(e));
            }
        }
    }
    if problems.is_empty() {
        let mut learned = learned;
        if let Some(options) = &record.request.rollout {
            learned.rollouts = task_rollouts(record, options, &configurations);
        }
        return Ok(Transition::to(State::Succeeded, learned));
    }
    let reason = format!("{}; put the previous images back", problems.join("; "));
    roll_back(cx, record, failure(STEP, reason, cause.as_ref())).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExecutionId, PermissionSource, UpdateRequest};
    use chrono::TimeZone;

    fn record(given: Option<&str>) -> StepRecord {
        let id = ExecutionId::parse("exec-1").unwrap();
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let name = crate::model::naming::image_name("i-1", given, &id, at).unwrap();
        StepRecord::first(
            id,
            UpdateRequest {
                allow_default_version_change: false,
                scaling_group_ids: Vec::new(),
                instance_id: "i-1".into(),
                image_name: given.map(str::to_owned),
                configuration_ids: vec!["asc-1".into(), "asc-2".into()],
                permission: PermissionSource::Account,
                task_id: None,
                rollout: None,
                allow_platform_change: false,
            },
            name,
            at,
        )
    }

    fn config(id: &str, image: &str) -> ScalingConfiguration {
        ScalingConfiguration {
            scaling_configuration_id: id.into(),
            scaling_group_id: "asg-1".into(),
            lifecycle_state: "Active".into(),
            image_id: image.into(),
            ..Default::default()
        }
    }

    fn image(name: &str, status: &str) -> Image {
        Image {
            image_id: "m-new".into(),
            image_name: name.into(),
            status: status.into(),
            progress: Some(100),
            ..Default::default()
        }
    }

    #[test]
    fn all_well_means_no_problems() {
        for given in [None, Some("web")] {
            let r = record(given);
            let configs = [config("asc-1", "m-new"), config("asc-2", "m-new")];
            let img = image(&r.image_name, "Available");
            assert_eq!(
                problems(&r, "m-new", &configs, Some(&img)),
                Vec::<String>::new()
            );
        }
    }

    #[test]
    fn every_problem_is_named() {
        let r = record(Some("web"));
        let configs = [config("asc-1", "m-other")];
        let img = image("web_on_exec-1_at_now", "Creating");
        let found = problems(&r, "m-new", &configs, Some(&img));
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].contains("asc-1 holds image m-other"));
        assert!(found[1].contains("asc-2 no longer exists"));
        assert!(found[2].contains("Creating, not Available"));
        assert!(found[3].contains("is named"));
        let found = problems(&r, "m-new", &[], None);
        assert!(found.iter().any(|p| p == "image m-new does not exist"));
    }
}
