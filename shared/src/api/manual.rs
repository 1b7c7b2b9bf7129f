//! The manual update over the cloud: `PUT /scaling-configurations/{id}/image`.

use std::fmt;
use std::sync::Arc;

use super::{ImageSet, ImageSetFuture, ImageSetter, ManualUpdateError};
use crate::model::PermissionSource;
use crate::steps::cloud::ALL_IMAGE_STATUSES;
use crate::steps::{CloudError, CloudProvider};

/// Puts an image into a scaling configuration with the cloud client the
/// [`CloudProvider`] gives for the request's permission source: the configuration must exist,
/// the image must exist and be Available.
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

fn cloud(err: CloudError) -> ManualUpdateError {
    ManualUpdateError::Cloud(err.to_string())
}

impl ImageSetter for CloudImageSetter {
    fn set_image<'a>(
        &'a self,
        configuration_id: &'a str,
        image_id: &'a str,
        permission: &'a PermissionSource,
    ) -> ImageSetFuture<'a> {
        Box::pin(async move {
            let cloud_client = self.clouds.cloud(permission).map_err(cloud)?;
            let ids = [configuration_id.to_owned()];
            let configuration = cloud_client
                .describe_configurations(&ids)
                .await
                .map_err(cloud)?
                .into_iter()
                .find(|c| c.scaling_configuration_id == configuration_id)
                .ok_or_else(|| ManualUpdateError::ConfigurationNotFound(configuration_id.into()))?;
            let image = cloud_client
                .describe_image(image_id, ALL_IMAGE_STATUSES)
                .await
                .map_err(cloud)?
                .ok_or_else(|| ManualUpdateError::ImageNotFound(image_id.into()))?;
            if image.status != "Available" {
                return Err(ManualUpdateError::ImageNotAvailable {
                    image_id: image_id.into(),
                    status: image.status,
                });
            }
            cloud_client
                .modify_configuration_image(configuration_id, image_id)
                .await
                .map_err(cloud)?;
            Ok(ImageSet {
                scaling_configuration_id: configuration_id.into(),
                previous_image_id: configuration.image_id,
                image_id: image_id.into(),
            })
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
    }
}
