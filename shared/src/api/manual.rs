//! The manual update over the cloud: `PUT /scaling-configurations/{id}/image`, and
//! `PUT /scaling-groups/{id}/image` for a group that launches from a launch template.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::{ImageSet, ImageSetFuture, ImageSetter, ManualUpdateError};
use chrono::{DateTime, Utc};

use crate::model::{ExecutionId, PermissionSource};
use crate::steps::cloud::ALL_IMAGE_STATUSES;
use crate::steps::lease::{self, LeaseTimes};
use crate::steps::{Cloud, CloudError, CloudProvider};
use crate::steps::{EngineConfig, EngineError};
use crate::store::SharedStore;

/// What a manual update did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManualUpdate {
    /// The configuration.
    pub configuration_id: String,
    /// Its group.
    pub scaling_group_id: String,
    /// `Active` or `Inactive`.
    pub lifecycle_state: String,
    /// The image it held.
    pub old_image_id: String,
    /// The image it holds now.
    pub new_image_id: String,
    /// That image's name.
    pub image_name: String,
}

/// The execution that holds `configuration_id`'s lease at `now` (with the default engine
/// timings), if any: a manual update of a configuration an execution is updating is refused,
/// so that the execution's swap or rollback cannot undo it.
pub async fn holder(
    store: &SharedStore,
    configuration_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<ExecutionId>, EngineError> {
    let times = LeaseTimes::of(&EngineConfig::default());
    lease::holder(store, &times, configuration_id, now).await
}

/// The manual update, shared by `reimage image set` and `PUT
/// /scaling-configurations/{id}/image`: puts `image_id` into `configuration_id` after checking
/// what the cloud would otherwise refuse late or not at all:
///
/// 1. DescribeImages with the id and every status: the image exists (public, custom or shared
///    with the account: no `ImageOwnerAlias`, so all three are searched) and is Available;
/// 2. DescribeScalingConfigurations: the configuration exists (Active or Inactive alike);
/// 3. DescribeScalingGroups: its group is an ECS group (an ECI group's configuration has no
///    image to set; a group type left out of the answer means ECS, and a group the answer
///    does not list is not refused here: ModifyScalingConfiguration has the last word);
/// 4. ModifyScalingConfiguration with the image.
pub async fn set_configuration_image(
    cloud: &dyn Cloud,
    configuration_id: &str,
    image_id: &str,
) -> Result<ManualUpdate, ManualUpdateError> {
    let failed =
        |what: String| move |err: CloudError| ManualUpdateError::Cloud(format!("{what}: {err}"));
    let image = cloud
        .describe_image(image_id, ALL_IMAGE_STATUSES)
        .await
        .map_err(failed(format!("cannot look up image {image_id}")))?
        .ok_or_else(|| ManualUpdateError::ImageNotFound(image_id.into()))?;
    if image.status != "Available" {
        return Err(ManualUpdateError::ImageNotAvailable {
            image_id: image_id.into(),
            status: image.status,
        });
    }
    let ids = [configuration_id.to_owned()];
    let configuration = cloud
        .describe_configurations(&ids)
        .await
        .map_err(failed(format!(
            "cannot look up scaling configuration {configuration_id}"
        )))?
        .into_iter()
        .find(|c| c.scaling_configuration_id == configuration_id);
    let Some(configuration) = configuration else {
        // DescribeScalingConfigurations answers ECS-type configurations only: one of an ECI
        // group is refused by its type, not called missing.
        let eci = cloud
            .describe_eci_configurations(&ids)
            .await
            .map_err(failed(format!(
                "cannot look up scaling configuration {configuration_id}"
            )))?
            .into_iter()
            .find(|c| c.scaling_configuration_id == configuration_id);
        return Err(match eci {
            Some(eci) => ManualUpdateError::NotAnEcsGroup {
                configuration_id: configuration_id.into(),
                scaling_group_id: eci.scaling_group_id,
                group_type: "ECI".into(),
            },
            None => ManualUpdateError::ConfigurationNotFound(configuration_id.into()),
        });
    };
    let group_ids = [configuration.scaling_group_id.clone()];
    let group = cloud
        .describe_groups(&group_ids)
        .await
        .map_err(failed(format!(
            "cannot look up scaling group {}",
            configuration.scaling_group_id
        )))?
        .into_iter()
        .find(|g| g.scaling_group_id == configuration.scaling_group_id);
    if let Some(group) = group {
        if !group.is_ecs() {
            return Err(ManualUpdateError::NotAnEcsGroup {
                configuration_id: configuration_id.into(),
                scaling_group_id: group.scaling_group_id,
                group_type: group.group_type,
            });
        }
    }
    cloud
        .modify_configuration_image(configuration_id, image_id)
        .await
        .map_err(failed(format!(
            "cannot put image {image_id} into scaling configuration {configuration_id}"
        )))?;
    Ok(ManualUpdate {
        configuration_id: configuration_id.to_owned(),
        scaling_group_id: configuration.scaling_group_id,
        lifecycle_state: configuration.lifecycle_state,
        old_image_id: configuration.image_id,
        new_image_id: image_id.to_owned(),
        image_name: image.image_name,
    })
}

/// The manual update of a scaling group that launches from a launch template, shared by
/// `reimage image set --group` and `PUT /scaling-groups/{id}/image`, with the image update's
/// rules ([`crate::steps::templates`]): the image must be Available; the group must be an
/// ECS group on a launch template; its template must have room for a version; a group on
/// the template's `Default` is refused unless `allow_default_version_change`. Then the group's
/// version is copied with the image and the group pointed at the copy (the default moved, or
/// nothing for `Latest`). The copy is described after an id derived from the group and the
/// image, so asking again after a failure finds it instead of making another; a group whose
/// version holds the image already is left as it is.
pub async fn set_group_image(
    cloud: &dyn Cloud,
    group_id: &str,
    image_id: &str,
    allow_default_version_change: bool,
) -> Result<super::GroupImageSet, ManualUpdateError> {
    let failed =
        |what: String| move |err: CloudError| ManualUpdateError::Cloud(format!("{what}: {err}"));
    let image = cloud
        .describe_image(image_id, ALL_IMAGE_STATUSES)
        .await
        .map_err(failed(format!("cannot look up image {image_id}")))?
        .ok_or_else(|| ManualUpdateError::ImageNotFound(image_id.into()))?;
    if image.status != "Available" {
        return Err(ManualUpdateError::ImageNotAvailable {
            image_id: image_id.into(),
            status: image.status,
        });
    }
    let ids = [group_id.to_owned()];
    let problems = crate::steps::templates::problems_of(cloud, &ids, allow_default_version_change)
        .await
        .map_err(failed(format!("cannot look up scaling group {group_id}")))?;
    if !problems.is_empty() {
        return Err(ManualUpdateError::Group(problems.join("; ")));
    }
    let sources = match crate::steps::templates::read_sources(cloud, &ids)
        .await
        .map_err(failed(format!("cannot look up scaling group {group_id}")))?
    {
        Ok(sources) => sources,
        Err(problems) => return Err(ManualUpdateError::Group(problems.join("; "))),
    };
    let Some((source, _)) = sources.into_iter().next() else {
        return Err(ManualUpdateError::Group(format!(
            "scaling group {group_id} is disabled or missing"
        )));
    };
    if source.image_id == image_id {
        // The version it launches holds the image already: nothing to make.
        return Ok(super::GroupImageSet {
            scaling_group_id: group_id.to_owned(),
            launch_template_id: source.launch_template_id,
            version: source.version,
            previous_version: source.source_version,
            previous_image_id: source.image_id,
            new_version: source.source_version,
            image_id: image_id.to_owned(),
        });
    }
    let id = ExecutionId::derived(&format!("manual {group_id} {image_id}"));
    crate::steps::templates::swap(cloud, &id, std::slice::from_ref(&source), image_id)
        .await
        .map_err(|(what, e)| ManualUpdateError::Cloud(format!("{what}: {e}")))?;
    let description = source.new_version_description(&id);
    let new_version = cloud
        .launch_template(&source.launch_template_id)
        .await
        .map_err(failed(format!(
            "cannot read launch template {}",
            source.launch_template_id
        )))?
        .and_then(|t| {
            t.versions
                .iter()
                .find(|v| v.description == description)
                .map(|v| v.number)
        })
        .unwrap_or_default();
    Ok(super::GroupImageSet {
        scaling_group_id: group_id.to_owned(),
        launch_template_id: source.launch_template_id,
        version: source.version,
        previous_version: source.source_version,
        previous_image_id: source.image_id,
        new_version,
        image_id: image_id.to_owned(),
    })
}

/// Puts an image into a scaling configuration with [`set_configuration_image`], through the
/// cloud client the [`CloudProvider`] gives for the request's permission source.
pub struct CloudImageSetter {
    clouds: Arc<dyn CloudProvider>,
}

impl fmt::Debug for CloudImageSetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudImageSetter")
            .field("clouds", &self.clouds)
            .finish()
    }
}

impl CloudImageSetter {
    /// A setter over `clouds`.
    pub fn new(clouds: Arc<dyn CloudProvider>) -> Self {
        Self { clouds }
    }
}

impl ImageSetter for CloudImageSetter {
    fn set_image<'a>(
        &'a self,
        configuration_id: &'a str,
        image_id: &'a str,
        permission: &'a PermissionSource,
    ) -> ImageSetFuture<'a> {
        Box::pin(async move {
            let cloud = self
                .clouds
                .cloud(permission)
                .map_err(|err| ManualUpdateError::Cloud(crate::report::chain(&err)))?;
            let update =
                set_configuration_image(cloud.as_ref(), configuration_id, image_id).await?;
            Ok(ImageSet {
                scaling_configuration_id: update.configuration_id,
                previous_image_id: update.old_image_id,
                image_id: update.new_image_id,
            })
        })
    }

    fn set_group_image<'a>(
        &'a self,
        group_id: &'a str,
        image_id: &'a str,
        allow_default_version_change: bool,
        permission: &'a PermissionSource,
    ) -> futures::future::BoxFuture<'a, Result<super::GroupImageSet, ManualUpdateError>> {
        Box::pin(async move {
            let cloud = self
                .clouds
                .cloud(permission)
                .map_err(|err| ManualUpdateError::Cloud(crate::report::chain(&err)))?;
            set_group_image(
                cloud.as_ref(),
                group_id,
                image_id,
                allow_default_version_change,
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;
    use crate::clock::{ManualClock, SharedClock};
    use crate::steps::SameCloud;
    use crate::steps::testing::FakeCloud;

    #[tokio::test]
    async fn sets_an_available_image_and_refuses_the_rest() {
        let clock: SharedClock = Arc::new(ManualClock::new(
            chrono::Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        ));
        let fake = FakeCloud::demo(clock, Duration::from_secs(60));
        let setter = CloudImageSetter::new(Arc::new(SameCloud(fake.clone())));
        let account = PermissionSource::Account;
        assert_eq!(
            setter.set_image("asc-nope", "m-base", &account).await,
            Err(ManualUpdateError::ConfigurationNotFound("asc-nope".into()))
        );
        assert_eq!(
            setter.set_image("asc-active", "m-nope", &account).await,
            Err(ManualUpdateError::ImageNotFound("m-nope".into()))
        );
        let set = setter
            .set_image("asc-inactive", "m-base", &account)
            .await
            .unwrap();
        assert_eq!(set.previous_image_id, "m-base");
        assert_eq!(fake.state().times_swapped("asc-inactive", "m-base"), 1);

        // An ECI group's configuration holds no image: refused before any change, and the
        // API answers 422 NotAnEcsGroup.
        let eci = setter.set_image("asc-eci", "m-base", &account).await;
        assert_eq!(
            eci,
            Err(ManualUpdateError::NotAnEcsGroup {
                configuration_id: "asc-eci".into(),
                scaling_group_id: "asg-eci".into(),
                group_type: "ECI".into(),
            })
        );
        assert_eq!(fake.state().times_swapped("asc-eci", "m-base"), 0);
        let answer = super::super::ApiError::from(eci.unwrap_err());
        assert_eq!(answer.status, http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer.code, "NotAnEcsGroup");
    }
}
