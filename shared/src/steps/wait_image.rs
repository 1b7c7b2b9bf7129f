//! wait-image: look at the image once, record what was seen, and either go on to
//! swap-config, ask to be run again after a progress-aware delay, or fail.
//!
//! It never sleeps for the build: the delay travels with the dispatched event (an FC async
//! invocation delay, or the local dispatcher's clock). DescribeImages is called with every
//! status ([`ALL_IMAGE_STATUSES`]) because by default it shows only Available images.
//! CreateFailed, an image that vanished or became unusable, or the deadline
//! ([`super::EngineConfig::image_deadline`], counted from the execution's start) fail the
//! execution and delete what it created: the image, then the snapshot.

use super::cloud::{ALL_IMAGE_STATUSES, Image};
use super::create_image::humanize;
use super::{
    Interrupt, StepContext, Transition, classify, delay, fail_cleaning_up, failed, pending,
};
use crate::model::{Step, StepRecord};

const STEP: Step = Step::WaitImage;

/// What one look at the image means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Available: go on.
    Ready,
    /// Still being built, at this progress.
    Building(Option<u8>),
    /// Will never become Available, for this reason.
    Broken(String),
}

/// Reads one DescribeImages answer for `image_id`.
pub(crate) fn judge(image_id: &str, image: Option<&Image>) -> Seen {
    let Some(image) = image else {
        return Seen::Broken(format!("image {image_id} no longer exists"));
    };
    match image.status.as_str() {
        "Available" => Seen::Ready,
        "Creating" | "Waiting" => Seen::Building(image.progress),
        "CreateFailed" => Seen::Broken(format!("building image {image_id} failed (CreateFailed)")),
        other => Seen::Broken(format!("image {image_id} is {other}")),
    }
}

pub(crate) async fn run(
    cx: &StepContext<'_>,
    record: &StepRecord,
) -> Result<Transition, Interrupt> {
    let mut learned = record.learned.clone();
    let Some(image_id) = learned.image_id.clone() else {
        return Ok(Transition::to(
            failed(STEP, "no image was recorded", None),
            learned,
        ));
    };
    if cx.now >= record.work_started_at() + cx.config.image_deadline_chrono() {
        let reason = format!(
            "image {image_id} was not Available within {} of the start of its work",
            humanize(cx.config.image_deadline)
        );
        return fail_cleaning_up(cx, STEP, learned, reason, None).await;
    }

    let image = match classify(cx.cloud.describe_image(&image_id, ALL_IMAGE_STATUSES).await)? {
        Ok(image) => image,
        Err(e) => {
            let reason = format!("could not read image {image_id}");
            return fail_cleaning_up(cx, STEP, learned, reason, Some(&e)).await;
        }
    };
    learned.image_checks += 1;
    match judge(&image_id, image.as_ref()) {
        Seen::Ready => {
            learned.progress = Some(100);
            learned.image_available_at = Some(cx.now);
            Ok(Transition::to(pending(Step::SwapConfig, cx.now), learned))
        }
        Seen::Building(progress) => {
            // The record this step runs from was written by the previous look at this image,
            // if there was one (the count includes this look) and it was not a retry after an
            // error (written later than the look whose progress it carries).
            let previous = record
                .learned
                .progress
                .filter(|_| learned.image_checks > 1 && record.learned.retries == 0)
                .map(|progress| delay::Observation {
                    progress,
                    ago: (cx.now - record.written_at).to_std().unwrap_or_default(),
                });
            learned.progress = progress;
            let elapsed = |since: Option<chrono::DateTime<chrono::Utc>>| {
                (cx.now - since.unwrap_or(record.work_started_at()))
                    .to_std()
                    .unwrap_or_default()
            };
            let due = cx.now
                + delay::next_image_check(
                    progress,
                    elapsed(learned.image_requested_at),
                    elapsed(learned.snapshot_requested_at),
                    previous,
                );
            Ok(Transition::to(pending(STEP, due), learned))
        }
        Seen::Broken(reason) => fail_cleaning_up(cx, STEP, learned, reason, None).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(status: &str, progress: Option<u8>) -> Image {
        Image {
            image_id: "m-1".into(),
            image_name: "n".into(),
            status: status.into(),
            progress,
            ..Default::default()
        }
    }

    #[test]
    fn each_status_has_a_meaning() {
        assert_eq!(
            judge("m-1", Some(&image("Available", Some(100)))),
            Seen::Ready
        );
        assert_eq!(
            judge("m-1", Some(&image("Creating", Some(40)))),
            Seen::Building(Some(40))
        );
        assert_eq!(
            judge("m-1", Some(&image("Waiting", None))),
            Seen::Building(None)
        );
        assert_eq!(
            judge("m-1", Some(&image("CreateFailed", None))),
            Seen::Broken("building image m-1 failed (CreateFailed)".into())
        );
        assert!(
            matches!(judge("m-1", Some(&image("UnAvailable", None))), Seen::Broken(r) if r.contains("UnAvailable"))
        );
        assert!(matches!(judge("m-1", None), Seen::Broken(r) if r.contains("no longer exists")));
    }
}
