//! What tests and benchmarks put in a region without calling the API: custom images with a
//! system-disk snapshot, tags and an age, launch templates whose versions name images, and
//! shares of images with other accounts. The seed file takes them (`custom_images`,
//! `launch_templates`, `image_shares`), and so does the admin interface
//! (`crate::admin::Admin::add_custom_images`, `create_launch_template`, `share_image`).
//!
//! Everything follows the rules of the API (names, ids, the shares' accounts and quota),
//! except the region's quota of launch templates, which a seed may pass (an account whose
//! quota was raised). Many images are made in one go: a benchmark seeds thousands.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::errors;
use super::state::{DiskMapping, Ecs, Image, Snapshot, check_image_name};
use super::templates::{NewTemplate, TemplateData, name_ok};
use crate::error::RpcError;

/// A tag in a seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTag {
    /// The key.
    pub key: String,
    /// The value (may be empty).
    #[serde(default)]
    pub value: String,
}

impl SeedTag {
    /// A tag.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

fn pairs(tags: &[SeedTag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

fn default_size() -> u32 {
    40
}

fn default_architecture() -> String {
    "x86_64".to_owned()
}

fn default_platform() -> String {
    "Ubuntu".to_owned()
}

fn default_os_type() -> String {
    "linux".to_owned()
}

/// One of the account's images as CreateImage leaves it once Available: a system disk held
/// by a snapshot of its own (of a disk that is gone), its tags, and its age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCustomImage {
    /// `m-…` (made up when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// Its name (CreateImage's rule; unique in the region).
    pub image_name: String,
    /// Its tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<SeedTag>,
    /// The id of its system-disk snapshot, `s-…` (made up when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// The snapshot's tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshot_tags: Vec<SeedTag>,
    /// How long before the region starts (or the admin call) the image and its snapshot
    /// were created, seconds.
    #[serde(default)]
    pub age_seconds: u64,
    /// GiB (default 40).
    #[serde(default = "default_size")]
    pub size: u32,
    /// `x86_64` (default), `arm64` or `i386`.
    #[serde(default = "default_architecture")]
    pub architecture: String,
    /// e.g. `Ubuntu` (default).
    #[serde(default = "default_platform")]
    pub platform: String,
    /// `linux` (default) or `windows`.
    #[serde(default = "default_os_type")]
    pub os_type: String,
}

impl SeedCustomImage {
    /// An image named `name`, the defaults otherwise.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            image_id: None,
            image_name: name.into(),
            tags: Vec::new(),
            snapshot_id: None,
            snapshot_tags: Vec::new(),
            age_seconds: 0,
            size: default_size(),
            architecture: default_architecture(),
            platform: default_platform(),
            os_type: default_os_type(),
        }
    }
}

/// Many images at once, for the admin interface: `{name_prefix}-{n}` for n from 1 to
/// `count` (five digits), each with the same tags; the first is `age_seconds` old, each next
/// one `spacing_seconds` younger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomImageBatch {
    /// The names' prefix.
    pub name_prefix: String,
    /// How many.
    pub count: u32,
    /// The images' tags.
    #[serde(default)]
    pub tags: Vec<SeedTag>,
    /// Their snapshots' tags.
    #[serde(default)]
    pub snapshot_tags: Vec<SeedTag>,
    /// The age of the first (oldest), seconds.
    #[serde(default)]
    pub age_seconds: u64,
    /// How much younger each next one is, seconds.
    #[serde(default)]
    pub spacing_seconds: u64,
    /// GiB (default 40).
    #[serde(default = "default_size")]
    pub size: u32,
}

impl CustomImageBatch {
    /// The images of the batch.
    pub fn images(&self) -> Vec<SeedCustomImage> {
        (1..=u64::from(self.count))
            .map(|n| SeedCustomImage {
                tags: self.tags.clone(),
                snapshot_tags: self.snapshot_tags.clone(),
                age_seconds: self
                    .age_seconds
                    .saturating_sub((n - 1).saturating_mul(self.spacing_seconds)),
                size: self.size,
                ..SeedCustomImage::named(format!("{}-{n:05}", self.name_prefix))
            })
            .collect()
    }
}

/// What the admin interface answers for a seeded image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeededImage {
    /// The image.
    pub image_id: String,
    /// Its system-disk snapshot.
    pub snapshot_id: String,
}

/// One version of a seeded launch template: the parameters the sim keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTemplateVersion {
    /// `ImageId` (not checked: a version may name an image that is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// `InstanceType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// `SecurityGroupId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    /// `VSwitchId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vswitch_id: Option<String>,
    /// `SystemDisk.Category`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_disk_category: Option<String>,
    /// `SystemDisk.Size`, GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_disk_size: Option<u32>,
    /// `VersionDescription`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_description: Option<String>,
    /// Any other parameters of the version under their CreateLaunchTemplateVersion names
    /// (`"DataDisk.1.Size": "100"`, `"UserData": "…"`, `"Tag.1.Key": "team"`, …), checked as
    /// that operation checks them; the fields above win over the same names here.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub parameters: std::collections::BTreeMap<String, String>,
}

impl SeedTemplateVersion {
    /// A version launching `image_id`.
    pub fn of_image(image_id: impl Into<String>) -> Self {
        Self {
            image_id: Some(image_id.into()),
            ..Self::default()
        }
    }
}

/// A launch template with its versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedLaunchTemplate {
    /// `lt-…` (made up when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template_id: Option<String>,
    /// Its name (CreateLaunchTemplate's rule; unique in the region).
    pub launch_template_name: String,
    /// Its versions, numbered from 1 in this order (1 to 30).
    pub versions: Vec<SeedTemplateVersion>,
    /// The default version (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_version: Option<i64>,
    /// The template's own tags (`TemplateTag.N`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<SeedTag>,
}

impl SeedLaunchTemplate {
    /// What the template becomes (an error for a version whose `parameters` the operation
    /// would refuse).
    pub fn to_new(&self) -> Result<NewTemplate, RpcError> {
        let mut versions = Vec::with_capacity(self.versions.len());
        for v in &self.versions {
            let base = crate::params::Params::from_strs(
                v.parameters.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            );
            let mut data = TemplateData::from_params(&base)?;
            let or = |field: &Option<String>, kept: Option<String>| field.clone().or(kept);
            data.image_id = or(&v.image_id, data.image_id);
            data.instance_type = or(&v.instance_type, data.instance_type);
            data.security_group_id = or(&v.security_group_id, data.security_group_id);
            data.vswitch_id = or(&v.vswitch_id, data.vswitch_id);
            data.system_disk_category = or(&v.system_disk_category, data.system_disk_category);
            data.system_disk_size = v.system_disk_size.or(data.system_disk_size);
            versions.push((v.version_description.clone().unwrap_or_default(), data));
        }
        Ok(NewTemplate {
            launch_template_id: self.launch_template_id.clone(),
            launch_template_name: self.launch_template_name.clone(),
            versions,
            default_version_number: self.default_version,
            tags: pairs(&self.tags),
        })
    }
}

/// An image of the account shared with other accounts (and perhaps published).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedImageShare {
    /// One of the account's images.
    pub image_id: String,
    /// The accounts (ids of digits, not the account itself; at most 50).
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Published as a community image.
    #[serde(default)]
    pub public: bool,
}

impl Ecs {
    /// Adds the images, each with its system-disk snapshot, as if created `age_seconds`
    /// before `now`; all or nothing. Answers their ids and their snapshots'.
    pub fn add_custom_images(
        &mut self,
        images: &[SeedCustomImage],
        now: DateTime<Utc>,
    ) -> Result<Vec<SeededImage>, RpcError> {
        let mut names: HashSet<String> = self.images.iter().map(|m| m.image_name.clone()).collect();
        let mut ids: HashSet<String> = self
            .images
            .iter()
            .map(|m| m.image_id.clone())
            .chain(self.snapshots.iter().map(|s| s.snapshot_id.clone()))
            .collect();
        for spec in images {
            check_image_name(&spec.image_name)?;
            if !names.insert(spec.image_name.clone()) {
                return Err(errors::image_name_duplicated(&spec.image_name));
            }
            for (id, prefix) in [(&spec.image_id, "m-"), (&spec.snapshot_id, "s-")] {
                if let Some(id) = id {
                    if !id.starts_with(prefix) || !ids.insert(id.clone()) {
                        return Err(RpcError::invalid(
                            "image_id",
                            format!("{id} must be a new id starting with {prefix}"),
                        ));
                    }
                }
            }
            if !matches!(spec.architecture.as_str(), "x86_64" | "arm64" | "i386") {
                return Err(RpcError::invalid(
                    "architecture",
                    "must be x86_64, arm64 or i386",
                ));
            }
        }
        let mut out = Vec::with_capacity(images.len());
        for spec in images {
            let created = now
                .checked_sub_signed(Duration::seconds(
                    i64::try_from(spec.age_seconds).unwrap_or(i64::MAX),
                ))
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let image_id = spec.image_id.clone().unwrap_or_else(|| self.new_id("m"));
            let snapshot_id = spec.snapshot_id.clone().unwrap_or_else(|| self.new_id("s"));
            let disk_id = self.new_id("d");
            self.snapshots.push(Snapshot {
                snapshot_id: snapshot_id.clone(),
                snapshot_name: String::new(),
                description: format!("Created for image {}", spec.image_name),
                source_disk_id: disk_id,
                source_disk_size: spec.size,
                source_disk_type: "system".to_owned(),
                instance_id: None,
                creation_time: created,
                ready_at: created,
                retention_days: None,
                tags: pairs(&spec.snapshot_tags),
            });
            self.images.push(Image {
                image_id: image_id.clone(),
                image_name: spec.image_name.clone(),
                description: String::new(),
                owner_alias: "self".to_owned(),
                os_type: spec.os_type.clone(),
                platform: spec.platform.clone(),
                architecture: spec.architecture.clone(),
                size: spec.size,
                creation_time: created,
                ready_at: created,
                fails: false,
                disk_mappings: vec![DiskMapping {
                    device: "/dev/xvda".to_owned(),
                    kind: "system".to_owned(),
                    snapshot_id: Some(snapshot_id.clone()),
                    size: spec.size,
                }],
                tags: pairs(&spec.tags),
                profile: self.image_profile,
            });
            out.push(SeededImage {
                image_id,
                snapshot_id,
            });
        }
        Ok(out)
    }

    /// Adds what a seed holds besides the plain images and instances: its custom images,
    /// launch templates and shares, in that order.
    pub fn add_seeded(
        &mut self,
        custom_images: &[SeedCustomImage],
        launch_templates: &[SeedLaunchTemplate],
        shares: &[SeedImageShare],
        now: DateTime<Utc>,
    ) -> Result<(), RpcError> {
        self.add_custom_images(custom_images, now)?;
        for template in launch_templates {
            self.add_launch_template(template.to_new()?, now, false)?;
        }
        for share in shares {
            let accounts: Vec<&str> = share.accounts.iter().map(String::as_str).collect();
            self.share_image(&share.image_id, &accounts, &[], now)?;
            if share.public {
                self.publish_image(&share.image_id, true)?;
            }
        }
        Ok(())
    }
}

/// Checks a seed's custom images, launch templates and shares against each other and the
/// seed's other images (`image_ids`: every image id of the seed, with whether it is the
/// account's own); `Err` says what is wrong.
pub fn validate(
    custom_images: &[SeedCustomImage],
    launch_templates: &[SeedLaunchTemplate],
    shares: &[SeedImageShare],
    images: &[(String, String, bool)],
    account_id: &str,
) -> Result<(), String> {
    let mut names: HashSet<&str> = images.iter().map(|(_, name, _)| name.as_str()).collect();
    let mut ids: HashSet<&str> = images.iter().map(|(id, _, _)| id.as_str()).collect();
    let mut own: HashSet<&str> = images
        .iter()
        .filter(|(_, _, own)| *own)
        .map(|(id, _, _)| id.as_str())
        .collect();
    for image in custom_images {
        if check_image_name(&image.image_name).is_err() {
            return Err(format!(
                "custom image name {:?} does not follow CreateImage's rule",
                image.image_name
            ));
        }
        if !names.insert(&image.image_name) {
            return Err(format!("image name {} is used twice", image.image_name));
        }
        for (id, prefix) in [(&image.image_id, "m-"), (&image.snapshot_id, "s-")] {
            if let Some(id) = id {
                if !id.starts_with(prefix) || !ids.insert(id) {
                    return Err(format!(
                        "custom image {}: {id} must be unique and start with {prefix}",
                        image.image_name
                    ));
                }
            }
        }
        if let Some(id) = &image.image_id {
            own.insert(id);
        }
    }
    let mut template_names = HashSet::new();
    for template in launch_templates {
        let name = &template.launch_template_name;
        if !name_ok(name) {
            return Err(format!(
                "launch template name {name:?} does not follow CreateLaunchTemplate's rule"
            ));
        }
        if !template_names.insert(name.as_str()) {
            return Err(format!("launch template name {name} is used twice"));
        }
        if let Some(id) = &template.launch_template_id {
            if !id.starts_with("lt-") || !ids.insert(id) {
                return Err(format!(
                    "launch template {name}: {id} must be unique and start with lt-"
                ));
            }
        }
        let count = template.versions.len();
        if !(1..=super::templates::MAX_VERSIONS).contains(&count) {
            return Err(format!(
                "launch template {name} has {count} versions; it needs 1 to {}",
                super::templates::MAX_VERSIONS
            ));
        }
        if let Some(default) = template.default_version {
            if !(1..=i64::try_from(count).unwrap_or(i64::MAX)).contains(&default) {
                return Err(format!(
                    "launch template {name}: default_version {default} is not one of its versions"
                ));
            }
        }
        if let Err(e) = template.to_new() {
            return Err(format!(
                "launch template {name}: a version's parameters are refused: {} {}",
                e.code, e.message
            ));
        }
    }
    for share in shares {
        if !own.contains(share.image_id.as_str()) {
            return Err(format!(
                "image share: {} is not one of the account's images",
                share.image_id
            ));
        }
        if let Some(bad) = share
            .accounts
            .iter()
            .find(|a| !super::shares::account_ok(a) || *a == account_id)
        {
            return Err(format!(
                "image share of {}: {bad:?} is not another account's id (digits)",
                share.image_id
            ));
        }
        if share.accounts.len() > super::shares::MAX_SHARED_ACCOUNTS {
            return Err(format!(
                "image share of {}: at most {} accounts",
                share.image_id,
                super::shares::MAX_SHARED_ACCOUNTS
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn a_batch_names_ages_and_tags_its_images() {
        let batch = CustomImageBatch {
            name_prefix: "web".into(),
            count: 3,
            tags: vec![SeedTag::new("reimage:managed", "true")],
            snapshot_tags: Vec::new(),
            age_seconds: 3000,
            spacing_seconds: 1000,
            size: 20,
        };
        let images = batch.images();
        assert_eq!(
            images
                .iter()
                .map(|m| (m.image_name.as_str(), m.age_seconds, m.size))
                .collect::<Vec<_>>(),
            [
                ("web-00001", 3000, 20),
                ("web-00002", 2000, 20),
                ("web-00003", 1000, 20)
            ]
        );
        assert_eq!(images[2].tags, batch.tags);
    }

    #[test]
    fn seeded_images_hold_a_snapshot_and_are_all_or_nothing() {
        let mut ecs = Ecs::default();
        let now = t0();
        let made = ecs
            .add_custom_images(&[SeedCustomImage::named("web-1")], now)
            .unwrap();
        let image = ecs.image(&made[0].image_id).unwrap();
        assert_eq!(
            image.disk_mappings[0].snapshot_id.as_deref(),
            Some(made[0].snapshot_id.as_str())
        );
        let before = ecs.images.len();
        let err = ecs
            .add_custom_images(
                &[
                    SeedCustomImage::named("web-2"),
                    SeedCustomImage::named("web-1"),
                ],
                now,
            )
            .unwrap_err();
        assert_eq!(err.code, "InvalidImageName.Duplicated");
        assert_eq!(ecs.images.len(), before);
    }
}
