//! The region as retention sees it: what reimage made, what uses it, and the few writes a
//! prune makes. Reads are batched at the APIs' page sizes; each write is one call.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};

use super::policy::{ManagedImage, ManagedSnapshot};
use crate::aliyun::ecs::{
    DeleteImageRequest, DeleteSnapshotRequest, DescribeImagesRequest, DescribeSnapshotsRequest,
    ImageStatus, TagResourceType, TagResourcesRequest, UntagResourcesRequest,
};
use crate::aliyun::ess::DescribeScalingConfigurationsRequest;
use crate::aliyun::{Client, ResourceTags, Tag};
use crate::steps::aliyun::cloud_error;
use crate::steps::cloud::{CloudError, CloudFuture, TAG_EXECUTION, TAG_MANAGED, TAG_TASK};

/// The tag retention marks an image or snapshot with, its value the time of the mark
/// (RFC 3339, UTC): the first of the two phases of a deletion.
pub const TAG_MARKED: &str = "reimage:prune-marked";

/// How many resources one TagResources or UntagResources call takes.
pub const TAG_BATCH: usize = crate::aliyun::ecs::MAX_TAG_RESOURCE_IDS;

/// Images or snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `m-…`.
    Image,
    /// `s-…`.
    Snapshot,
}

/// What a delete came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    /// The call deleted it.
    Deleted,
    /// It was gone already (a pass cut short had deleted it).
    Gone,
    /// The cloud refused: something it can see still uses it (the code and message).
    InUse(String),
}

/// A custom image's share of a launch template version: `(template id, version, image id)`.
pub type TemplateImage = (String, i64, String);

/// What a retention pass asks of the region.
pub trait ImageRegion: Send + Sync + fmt::Debug {
    /// DescribeImages (`ImageOwnerAlias=self`, `Tag.1` `reimage:managed=true`, every status,
    /// 100 a page): every image reimage made.
    fn managed_images(&self) -> CloudFuture<'_, Vec<ManagedImage>>;
    /// DescribeSnapshots (`Tag.1` `reimage:managed=true`, 100 a page): every snapshot
    /// reimage made.
    fn managed_snapshots(&self) -> CloudFuture<'_, Vec<ManagedSnapshot>>;
    /// DescribeScalingConfigurations over the whole region (50 a page): each
    /// `(configuration id, image id)`.
    fn configuration_images(&self) -> CloudFuture<'_, Vec<(String, String)>>;
    /// DescribeLaunchTemplates and DescribeLaunchTemplateVersions: the image of every
    /// version of every launch template.
    fn template_images(&self) -> CloudFuture<'_, Vec<TemplateImage>>;
    /// DescribeImageSharePermission (100 a page): the accounts (and groups: `all` when
    /// published) an image is shared with.
    fn shared_with<'a>(&'a self, image_id: &'a str) -> CloudFuture<'a, Vec<String>>;
    /// TagResources: marks at most [`TAG_BATCH`] resources as of `at`.
    fn mark<'a>(&'a self, kind: Kind, ids: &'a [String], at: DateTime<Utc>) -> CloudFuture<'a, ()>;
    /// UntagResources: removes the mark of at most [`TAG_BATCH`] resources.
    fn unmark<'a>(&'a self, kind: Kind, ids: &'a [String]) -> CloudFuture<'a, ()>;
    /// DeleteImage (never `Force`).
    fn delete_image<'a>(&'a self, image_id: &'a str) -> CloudFuture<'a, Deleted>;
    /// DeleteSnapshot (never `Force`).
    fn delete_snapshot<'a>(&'a self, snapshot_id: &'a str) -> CloudFuture<'a, Deleted>;
}

/// The mark's value for `at`.
pub fn mark_value(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn tag<'t>(tags: &'t ResourceTags, key: &str) -> Option<&'t str> {
    tags.tag
        .iter()
        .find(|t| t.tag_key == key)
        .map(|t| t.tag_value.as_str())
}

fn time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            // ECS writes creation times without seconds: `2026-11-29T12:00Z`.
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%MZ")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// Error codes with which ECS refuses to delete an image or snapshot for what it is now
/// (DeleteImage: instances run it, it is shared, it is published, it is being made or
/// copied; DeleteSnapshot: an image or a disk was made from it): kept, not failed.
const REFUSAL_CODES: &[&str] = &[
    "ImageUsingByInstance",
    "ImageIsCreating",
    "OperationDenied.ImageCopying",
    "ImageUseShared",
    "ImageIsPublic",
    "IncorrectImageStatus",
    "SnapshotCreatedImage",
    "SnapshotCreatedDisk",
    "IncorrectSnapshotStatus",
];

fn deleted(result: Result<(), crate::aliyun::Error>) -> Result<Deleted, CloudError> {
    match result {
        Ok(()) => Ok(Deleted::Deleted),
        Err(e) => {
            let error = cloud_error(&e);
            if error.is_not_found() {
                Ok(Deleted::Gone)
            } else if REFUSAL_CODES.contains(&error.code.as_str()) {
                Ok(Deleted::InUse(format!("{}: {}", error.code, error.message)))
            } else {
                Err(error)
            }
        }
    }
}

fn resource_type(kind: Kind) -> TagResourceType {
    match kind {
        Kind::Image => TagResourceType::Image,
        Kind::Snapshot => TagResourceType::Snapshot,
    }
}

/// [`ImageRegion`] over the signed ECS and ESS clients.
#[derive(Debug, Clone)]
pub struct AliyunRegion {
    client: Client,
}

impl AliyunRegion {
    /// The region of `client`, with its permissions.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn managed_tag() -> Vec<Tag> {
    vec![Tag::new(TAG_MANAGED, "true")]
}

impl ImageRegion for AliyunRegion {
    fn managed_images(&self) -> CloudFuture<'_, Vec<ManagedImage>> {
        Box::pin(async move {
            let images = self
                .client
                .ecs()
                .describe_images_all(&DescribeImagesRequest {
                    image_owner_alias: Some("self".into()),
                    tags: managed_tag(),
                    status: ImageStatus::ALL.to_vec(),
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(images
                .into_iter()
                .map(|i| ManagedImage {
                    task: tag(&i.tags, TAG_TASK).map(Into::into),
                    execution: tag(&i.tags, TAG_EXECUTION).map(Into::into),
                    marked: tag(&i.tags, TAG_MARKED).and_then(time),
                    created: time(&i.creation_time),
                    size_gib: u32::try_from(i.size).unwrap_or(0),
                    used_by_instances: i.usage == "instance",
                    public: i.is_public,
                    shared: i.is_self_shared,
                    snapshot_ids: i
                        .disk_device_mappings
                        .disk_device_mapping
                        .iter()
                        .filter_map(|d| d.snapshot_id.clone())
                        .collect(),
                    status: i.status.as_str().to_owned(),
                    image_id: i.image_id,
                    image_name: i.image_name,
                })
                .collect())
        })
    }

    fn managed_snapshots(&self) -> CloudFuture<'_, Vec<ManagedSnapshot>> {
        Box::pin(async move {
            let snapshots = self
                .client
                .ecs()
                .describe_snapshots_all(&DescribeSnapshotsRequest {
                    tags: managed_tag(),
                    ..Default::default()
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(snapshots
                .into_iter()
                .map(|s| ManagedSnapshot {
                    execution: tag(&s.tags, TAG_EXECUTION).map(Into::into),
                    marked: tag(&s.tags, TAG_MARKED).and_then(time),
                    created: time(&s.creation_time),
                    usage: s.usage,
                    status: s.status.as_str().to_owned(),
                    snapshot_id: s.snapshot_id,
                })
                .collect())
        })
    }

    fn configuration_images(&self) -> CloudFuture<'_, Vec<(String, String)>> {
        Box::pin(async move {
            let configurations = self
                .client
                .ess()
                .describe_scaling_configurations_all(
                    &DescribeScalingConfigurationsRequest::default(),
                )
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(configurations
                .into_iter()
                .filter(|c| !c.image_id.is_empty())
                .map(|c| (c.scaling_configuration_id, c.image_id))
                .collect())
        })
    }

    fn template_images(&self) -> CloudFuture<'_, Vec<TemplateImage>> {
        Box::pin(async move {
            let versions = self
                .client
                .ecs()
                .launch_template_images()
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(versions
                .into_iter()
                .filter(|v| !v.image_id.is_empty())
                .map(|v| (v.launch_template_id, v.version_number, v.image_id))
                .collect())
        })
    }

    fn shared_with<'a>(&'a self, image_id: &'a str) -> CloudFuture<'a, Vec<String>> {
        Box::pin(async move {
            let sharing = self
                .client
                .ecs()
                .image_sharing(image_id)
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(sharing
                .accounts
                .into_iter()
                .map(|a| a.aliyun_id)
                .chain(sharing.groups)
                .collect())
        })
    }

    fn mark<'a>(&'a self, kind: Kind, ids: &'a [String], at: DateTime<Utc>) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .ecs()
                .tag_resources(&TagResourcesRequest {
                    resource_type: resource_type(kind),
                    resource_ids: ids.to_vec(),
                    tags: vec![Tag::new(TAG_MARKED, mark_value(at))],
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(())
        })
    }

    fn unmark<'a>(&'a self, kind: Kind, ids: &'a [String]) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .ecs()
                .untag_resources(&UntagResourcesRequest {
                    resource_type: resource_type(kind),
                    resource_ids: ids.to_vec(),
                    tag_keys: vec![TAG_MARKED.into()],
                    all: false,
                })
                .await
                .map_err(|e| cloud_error(&e))?;
            Ok(())
        })
    }

    fn delete_image<'a>(&'a self, image_id: &'a str) -> CloudFuture<'a, Deleted> {
        Box::pin(async move {
            deleted(
                self.client
                    .ecs()
                    .delete_image(&DeleteImageRequest {
                        image_id: image_id.to_owned(),
                        force: None,
                    })
                    .await
                    .map(drop),
            )
        })
    }

    fn delete_snapshot<'a>(&'a self, snapshot_id: &'a str) -> CloudFuture<'a, Deleted> {
        Box::pin(async move {
            deleted(
                self.client
                    .ecs()
                    .delete_snapshot(&DeleteSnapshotRequest {
                        snapshot_id: snapshot_id.to_owned(),
                        force: None,
                    })
                    .await
                    .map(drop),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clouds_creation_times_parse_with_or_without_seconds() {
        let want: DateTime<Utc> = "2026-11-29T12:00:00Z".parse().unwrap();
        assert_eq!(time("2026-11-29T12:00Z"), Some(want));
        assert_eq!(time("2026-11-29T12:00:00Z"), Some(want));
        assert_eq!(time(&mark_value(want)), Some(want));
        assert_eq!(time("yesterday"), None);
    }
}
