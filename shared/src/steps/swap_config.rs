//! swap-config: remember each configuration's image, then put the new image into each,
//! Active and Inactive alike; all or nothing.
//!
//! 1. If the record does not yet hold the configurations' previous images, DescribeScaling-
//!    Configurations (10 ids a call) and write them into an intermediate record before
//!    changing anything. Losing the race for that record means another invocation is doing
//!    this step: stop.
//! 2. ModifyScalingConfiguration for each configuration that does not already hold the new
//!    image (on a replay, configurations swapped before a crash are read back and skipped).
//!    If one is refused, the ones already swapped are put back to their previous image and
//!    the execution fails with the cloud's Code and Message ([`roll_back`]: the decision is
//!    recorded before anything is put back, so a replay after a crash finishes the rollback).
//!    A retryable error leaves the swapped ones as they are and retries the step later, which
//!    resumes where it stopped.

use super::cloud::{Cloud, ScalingConfiguration};
use super::{
    Interrupt, StepContext, Transition, classify, describe_configurations, failed, pending,
    preflight, with_leftovers,
};
use crate::model::{Failure, PreviousImage, State, Step, StepRecord};

const STEP: Step = Step::SwapConfig;

/// Each requested configuration's current image, in request order; `Err` names a
/// configuration that does not exist.
pub(crate) fn previous_images(
    configuration_ids: &[String],
    current: &[ScalingConfiguration],
) -> Result<Vec<PreviousImage>, String> {
    configuration_ids
        .iter()
        .map(|id| {
            current
                .iter()
                .find(|c| &c.scaling_configuration_id == id)
                .map(|c| PreviousImage {
                    configuration_id: id.clone(),
                    image_id: c.image_id.clone(),
                })
                .ok_or_else(|| format!("scaling configuration {id} does not exist"))
        })
        .collect()
}

/// Which configurations still need the new image, and which already hold it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub to_swap: Vec<String>,
    pub already: Vec<String>,
    pub missing: Vec<String>,
}

pub(crate) fn plan(
    previous: &[PreviousImage],
    current: &[ScalingConfiguration],
    image_id: &str,
) -> Plan {
    let mut plan = Plan {
        to_swap: Vec::new(),
        already: Vec::new(),
        missing: Vec::new(),
    };
    for p in previous {
        match current
            .iter()
            .find(|c| c.scaling_configuration_id == p.configuration_id)
        {
            None => plan.missing.push(p.configuration_id.clone()),
            Some(c) if c.image_id == image_id => plan.already.push(p.configuration_id.clone()),
            Some(_) => plan.to_swap.push(p.configuration_id.clone()),
        }
    }
    plan
}

pub(crate) async fn run(
    cx: &StepContext<'_>,
    record: &StepRecord,
) -> Result<Transition, Interrupt> {
    if record.learned.rolling_back.is_some() {
        return Ok(finish_rollback(cx, record).await);
    }
    let Some(image_id) = record.learned.image_id.clone() else {
        return Ok(Transition::to(
            failed(STEP, "no image was recorded", None),
            record.learned.clone(),
        ));
    };
    let ids = &record.request.configuration_ids;

    // 1. Remember the previous images in a record of their own before changing anything.
    let (record, fresh) = match &record.learned.previous_images {
        Some(_) => (record.clone(), None),
        None => {
            let current = match classify(describe_configurations(cx.cloud, ids).await)? {
                Ok(current) => current,
                Err(e) => {
                    return Ok(Transition::to(
                        failed(STEP, "could not read the scaling configurations", Some(&e)),
                        record.learned.clone(),
                    ));
                }
            };
            let previous = match previous_images(ids, &current) {
                Ok(previous) => previous,
                Err(reason) => {
                    return Ok(Transition::to(
                        failed(STEP, reason, None),
                        record.learned.clone(),
                    ));
                }
            };
            // Pre-flight: every configuration can launch the new image, before any changes.
            let allow = record.request.allow_platform_change;
            match classify(preflight::check(cx.cloud, &image_id, &current, allow).await)? {
                Ok(problems) if problems.is_empty() => {}
                Ok(problems) => {
                    let reason = format!(
                        "pre-flight: {}; no configuration was changed, and image {image_id} is \
                         kept for a look",
                        problems.join("; ")
                    );
                    return Ok(Transition::to(
                        failed(STEP, reason, None),
                        record.learned.clone(),
                    ));
                }
                Err(e) => {
                    return Ok(Transition::to(
                        failed(
                            STEP,
                            "could not read the images for the pre-flight",
                            Some(&e),
                        ),
                        record.learned.clone(),
                    ));
                }
            }
            let sources = match classify(
                super::templates::read_sources(cx.cloud, &record.request.scaling_group_ids).await,
            )? {
                Ok(Ok(sources)) => {
                    let sources: Vec<crate::model::PreviousTemplate> =
                        sources.into_iter().map(|(source, _)| source).collect();
                    // A group moved onto its template's default while the image was built
                    // is held to the rule create-image checked.
                    if !record.request.allow_default_version_change {
                        if let Some(on_default) = sources.iter().find(|s| s.on_default()) {
                            let reason = format!(
                                "scaling group {} now launches from the default version of \
                                 launch template {}, which this run may not change; no \
                                 configuration was changed, and image {image_id} is kept",
                                on_default.group_id, on_default.launch_template_id
                            );
                            return Ok(Transition::to(
                                failed(STEP, reason, None),
                                record.learned.clone(),
                            ));
                        }
                    }
                    sources
                }
                Ok(Err(problems)) => {
                    return Ok(Transition::to(
                        failed(STEP, problems.join("; "), None),
                        record.learned.clone(),
                    ));
                }
                Err(e) => {
                    return Ok(Transition::to(
                        failed(
                            STEP,
                            "could not read the launch-template scaling groups",
                            Some(&e),
                        ),
                        record.learned.clone(),
                    ));
                }
            };
            let mut learned = record.learned.clone();
            learned.previous_images = Some(previous);
            learned.previous_templates = Some(sources).filter(|s: &Vec<_>| !s.is_empty());
            match cx
                .checkpoint
                .checkpoint(record, learned)
                .await
                .map_err(Interrupt::Engine)?
            {
                Some(written) => (written, Some(current)),
                None => return Err(Interrupt::LostRace),
            }
        }
    };
    let previous = record.learned.previous_images.clone().unwrap_or_default();
    let mut learned = record.learned.clone();
    let failure = |reason: String, cause| super::failure(STEP, reason, cause);

    // 2. Swap each configuration that does not hold the new image yet.
    let current = match fresh {
        Some(current) => current,
        None => match classify(describe_configurations(cx.cloud, ids).await)? {
            Ok(current) => current,
            Err(e) => {
                let reason = "could not read the scaling configurations; put every one back";
                return roll_back(cx, &record, failure(reason.into(), Some(&e))).await;
            }
        },
    };
    let plan = plan(&previous, &current, &image_id);
    let mut swapped = plan.already.clone();
    if let Some(missing) = plan.missing.first() {
        let reason = format!(
            "scaling configuration {missing} no longer exists{}",
            put_back_note(&swapped)
        );
        return roll_back(cx, &record, failure(reason, None)).await;
    }
    for id in &plan.to_swap {
        match cx.cloud.modify_configuration_image(id, &image_id).await {
            Ok(()) => swapped.push(id.clone()),
            Err(e) if e.is_retryable() => return Err(Interrupt::Retry(e)),
            Err(e) => {
                let reason = format!(
                    "could not put image {image_id} into scaling configuration {id}{}",
                    put_back_note(&swapped)
                );
                return roll_back(cx, &record, failure(reason, Some(&e))).await;
            }
        }
    }
    let sources = record
        .learned
        .previous_templates
        .clone()
        .unwrap_or_default();
    if let Err((what, e)) =
        super::templates::swap(cx.cloud, &record.execution_id, &sources, &image_id).await
    {
        if e.is_retryable() {
            return Err(Interrupt::Retry(e));
        }
        let reason = format!("{what} failed; put every configuration and scaling group back");
        return roll_back(cx, &record, failure(reason, Some(&e))).await;
    }
    learned.swapped_at = Some(cx.now);
    Ok(Transition::to(pending(Step::Verify, cx.now), learned))
}

/// Ends the execution with `failure` after putting every configuration back. The decision
/// is written first, in an intermediate record, so that an invocation that dies while putting
/// back is replayed by [`finish_rollback`] rather than swapping forward again.
pub(crate) async fn roll_back(
    cx: &StepContext<'_>,
    record: &StepRecord,
    failure: Failure,
) -> Result<Transition, Interrupt> {
    let mut learned = record.learned.clone();
    learned.rolling_back = Some(failure);
    match cx
        .checkpoint
        .checkpoint(record, learned)
        .await
        .map_err(Interrupt::Engine)?
    {
        Some(written) => Ok(finish_rollback(cx, &written).await),
        None => Err(Interrupt::LostRace),
    }
}

/// Puts back every configuration that holds the execution's image and ends with the failure
/// `record` says it is rolling back for, naming what could not be put back.
pub(crate) async fn finish_rollback(cx: &StepContext<'_>, record: &StepRecord) -> Transition {
    let mut leftovers = put_back_all(cx.cloud, record).await;
    if let Some(sources) = &record.learned.previous_templates {
        leftovers.extend(super::templates::put_back(cx.cloud, &record.execution_id, sources).await);
    }
    let mut learned = record.learned.clone();
    let mut failure = learned.rolling_back.take().unwrap_or_else(|| Failure {
        step: STEP,
        reason: "rolled back".into(),
        cloud: None,
    });
    failure.reason = with_leftovers(failure.reason, &leftovers);
    Transition::to(State::Failed(failure), learned)
}

fn put_back_note(swapped: &[String]) -> String {
    if swapped.is_empty() {
        String::new()
    } else {
        format!("; put back {}", swapped.join(", "))
    }
}

/// Puts `which` configurations back to their previous images, last swapped first. Returns a
/// line for each that could not be put back.
pub(crate) async fn put_back(
    cloud: &dyn Cloud,
    previous: &[PreviousImage],
    which: &[String],
) -> Vec<String> {
    let mut leftovers = Vec::new();
    for id in which.iter().rev() {
        let Some(p) = previous.iter().find(|p| &p.configuration_id == id) else {
            continue;
        };
        if let Err(e) = cloud.modify_configuration_image(id, &p.image_id).await {
            leftovers.push(format!(
                "scaling configuration {id} could not be put back to {}: {e}",
                p.image_id
            ));
        }
    }
    leftovers
}

/// Puts back every configuration that holds the execution's image (all of them, if they
/// cannot be read). Used when an execution fails in swap-config or verify.
pub(crate) async fn put_back_all(cloud: &dyn Cloud, record: &StepRecord) -> Vec<String> {
    let Some(previous) = &record.learned.previous_images else {
        return Vec::new(); // nothing was changed before the previous images were recorded
    };
    let ids: Vec<String> = previous
        .iter()
        .map(|p| p.configuration_id.clone())
        .collect();
    let which = match (
        &record.learned.image_id,
        describe_configurations(cloud, &ids).await,
    ) {
        (Some(image_id), Ok(current)) => {
            let plan = plan(previous, &current, image_id);
            plan.already
        }
        _ => ids,
    };
    put_back(cloud, previous, &which).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(id: &str, image: &str) -> ScalingConfiguration {
        ScalingConfiguration {
            scaling_configuration_id: id.into(),
            scaling_group_id: "asg-1".into(),
            lifecycle_state: "Inactive".into(),
            image_id: image.into(),
            ..Default::default()
        }
    }

    #[test]
    fn previous_images_follow_request_order_and_name_the_missing() {
        let ids = vec!["asc-2".to_owned(), "asc-1".to_owned()];
        let current = vec![config("asc-1", "m-a"), config("asc-2", "m-b")];
        let previous = previous_images(&ids, &current).unwrap();
        assert_eq!(previous[0].configuration_id, "asc-2");
        assert_eq!(previous[0].image_id, "m-b");
        assert_eq!(previous[1].image_id, "m-a");
        let err = previous_images(&ids, &current[..1]).unwrap_err();
        assert_eq!(err, "scaling configuration asc-2 does not exist");
    }

    #[test]
    fn plan_skips_configurations_already_swapped() {
        let previous = previous_images(
            &["asc-1".into(), "asc-2".into(), "asc-3".into()],
            &[
                config("asc-1", "m-a"),
                config("asc-2", "m-a"),
                config("asc-3", "m-a"),
            ],
        )
        .unwrap();
        let plan = plan(
            &previous,
            &[config("asc-1", "m-new"), config("asc-2", "m-a")],
            "m-new",
        );
        assert_eq!(plan.already, vec!["asc-1"]);
        assert_eq!(plan.to_swap, vec!["asc-2"]);
        assert_eq!(plan.missing, vec!["asc-3"]);
    }
}
