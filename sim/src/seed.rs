//! What a region holds when the sim starts: the seed file format and the built-in demo region.
//!
//! `reimage sim --print-seed` prints [`Seed::demo`] in this format; `reimage sim --seed FILE`
//! loads one. Unknown fields are refused so that a typo is reported, not ignored, and
//! [`Seed::validate`] checks that every reference points at something that exists.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a seed cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The text is not a seed (JSON syntax, a missing or unknown field).
    #[error("the seed is not valid JSON in the seed format")]
    Parse(#[from] serde_json::Error),
    /// The seed parses but contradicts itself.
    #[error("the seed is inconsistent: {0}")]
    Invalid(String),
}

/// Everything a region starts with.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// The region, e.g. `cn-hangzhou`.
    pub region_id: String,
    /// The account that owns everything (appears in role ARNs).
    pub account_id: String,
    /// Static AccessKeys; the first is the one [`crate::Sim::access_key_id`] returns.
    pub access_keys: Vec<SeedAccessKey>,
    /// RAM roles that STS AssumeRole accepts.
    #[serde(default)]
    pub roles: Vec<SeedRole>,
    /// ECS images (public `system` images and the account's own `self` images).
    #[serde(default)]
    pub images: Vec<SeedImage>,
    /// ECS instances with their disks.
    #[serde(default)]
    pub instances: Vec<SeedInstance>,
    /// Auto Scaling groups.
    #[serde(default)]
    pub scaling_groups: Vec<SeedScalingGroup>,
    /// Auto Scaling configurations.
    #[serde(default)]
    pub scaling_configurations: Vec<SeedScalingConfiguration>,
    /// Instances of scaling groups (each one of `instances`).
    #[serde(default)]
    pub scaling_instances: Vec<SeedScalingInstance>,
    /// OSS buckets (empty at the start).
    #[serde(default)]
    pub buckets: Vec<String>,
    /// KMS keys (symmetric, for Encrypt and Decrypt).
    #[serde(default)]
    pub kms_keys: Vec<SeedKmsKey>,
    /// CLB instances.
    #[serde(default)]
    pub load_balancers: Vec<crate::slb::LoadBalancer>,
    /// CLB vServer groups.
    #[serde(default)]
    pub vserver_groups: Vec<crate::slb::VServerGroup>,
    /// How the progress of images being built moves: `linear` (the default), `stalled`,
    /// `fast_then_slow` or `steps`.
    #[serde(default, skip_serializing_if = "is_linear")]
    pub image_progress: ProgressProfile,
    /// The account's images as CreateImage leaves them, each with a system-disk snapshot,
    /// tags and an age (`crate::ecs::seeding`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_images: Vec<SeedCustomImage>,
    /// Launch templates and their versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub launch_templates: Vec<SeedLaunchTemplate>,
    /// The account's images shared with other accounts (or published).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_shares: Vec<SeedImageShare>,
    /// Scaling groups whose instance source is a launch template (of `launch_templates`)
    /// instead of a scaling configuration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaling_group_launch_templates: Vec<SeedGroupLaunchTemplate>,
}

/// A scaling group's launch template: the group (one of `scaling_groups`, of type ECS) then
/// launches from it and has no active configuration; ModifyScalingGroup's rules apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGroupLaunchTemplate {
    /// The group.
    pub scaling_group_id: String,
    /// The template (`lt-…`).
    pub launch_template_id: String,
    /// A version number, `Default` (the default) or `Latest`.
    #[serde(default = "default_template_version")]
    pub launch_template_version: String,
    /// `LaunchTemplateOverride.N`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<crate::ess::state::LaunchTemplateOverride>,
}

fn default_template_version() -> String {
    "Default".to_owned()
}

impl SeedGroupLaunchTemplate {
    /// The group's instance source it describes.
    pub fn source(&self) -> crate::ess::state::GroupLaunchTemplate {
        crate::ess::state::GroupLaunchTemplate {
            launch_template_id: self.launch_template_id.clone(),
            launch_template_version: self.launch_template_version.clone(),
            overrides: self.overrides.clone(),
        }
    }
}

pub use crate::ecs::seeding::{
    CustomImageBatch, SeedCustomImage, SeedImageShare, SeedLaunchTemplate, SeedTag,
    SeedTemplateVersion,
};

fn is_linear(profile: &ProgressProfile) -> bool {
    *profile == ProgressProfile::Linear
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seed")
            .field("region_id", &self.region_id)
            .field("account_id", &self.account_id)
            .field("access_keys", &self.access_keys)
            .field("roles", &self.roles.len())
            .field("images", &self.images.len())
            .field("instances", &self.instances.len())
            .field("scaling_groups", &self.scaling_groups.len())
            .field("scaling_configurations", &self.scaling_configurations.len())
            .field("scaling_instances", &self.scaling_instances.len())
            .field("buckets", &self.buckets)
            .field("kms_keys", &self.kms_keys)
            .field("image_progress", &self.image_progress)
            .field("custom_images", &self.custom_images.len())
            .field("launch_templates", &self.launch_templates.len())
            .field("image_shares", &self.image_shares.len())
            .finish()
    }
}

/// A static AccessKey.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccessKey {
    /// The AccessKeyId.
    pub access_key_id: String,
    /// The AccessKeySecret.
    pub access_key_secret: String,
    /// Whether the key belongs to the root account (root may not assume roles); otherwise it
    /// belongs to the RAM user [`SeedAccessKey::user_name`].
    #[serde(default)]
    pub root: bool,
    /// The RAM user the key belongs to, when it is not the root account's (STS
    /// GetCallerIdentity's `acs:ram::<account>:user/<name>`): 1 to 64 letters, digits, `.`,
    /// `-` and `_`. Default `reimage`; not used for a root key.
    #[serde(default = "default_user_name")]
    pub user_name: String,
}

fn default_user_name() -> String {
    "reimage".to_owned()
}

impl fmt::Debug for SeedAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedAccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("root", &self.root)
            .field("user_name", &self.user_name)
            .finish()
    }
}

/// A KMS key. Its key material is derived from the account and the key id (nothing secret
/// is in the seed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedKmsKey {
    /// The key's globally unique id (a UUID in the cloud).
    pub key_id: String,
    /// `alias/<name>`, by which requests may name it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// `false` for a key in the Disabled state.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

fn default_enabled() -> bool {
    true
}

/// A RAM role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRole {
    /// The role name; its ARN is `acs:ram::<account_id>:role/<name>`.
    pub name: String,
    /// Longest session AssumeRole grants, seconds (900..=43200).
    #[serde(default = "default_max_session")]
    pub max_session_duration: u32,
}

fn default_max_session() -> u32 {
    3600
}

/// An image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedImage {
    /// `m-…` for custom images; public images have names as ids (`ubuntu_22_04_x64_20G_alibase_20240101.vhd`).
    pub image_id: String,
    /// The image name.
    pub image_name: String,
    /// `system` (public) or `self` (the account's own).
    pub image_owner_alias: String,
    /// `linux` or `windows`.
    #[serde(default = "default_os_type")]
    pub os_type: String,
    /// e.g. `Ubuntu`.
    #[serde(default = "default_platform")]
    pub platform: String,
    /// Size in GiB.
    #[serde(default = "default_size")]
    pub size: u32,
    /// `x86_64` (the default), `arm64` or `i386`.
    #[serde(default = "default_architecture")]
    pub architecture: String,
}

fn default_architecture() -> String {
    "x86_64".to_owned()
}

fn default_os_type() -> String {
    "linux".to_owned()
}
fn default_platform() -> String {
    "Ubuntu".to_owned()
}
fn default_size() -> u32 {
    40
}

/// An instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedInstance {
    /// `i-…`.
    pub instance_id: String,
    /// The instance name.
    pub instance_name: String,
    /// `Running`, `Stopped`, `Pending`, `Starting` or `Stopping`.
    pub status: String,
    /// e.g. `ecs.g7.large`.
    pub instance_type: String,
    /// e.g. `cn-hangzhou-h`.
    pub zone_id: String,
    /// The image the instance was created from.
    pub image_id: String,
    /// Its disks: exactly one `system` disk, any number of `data` disks.
    pub disks: Vec<SeedDisk>,
}

/// A disk attached to an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDisk {
    /// `d-…`.
    pub disk_id: String,
    /// `system` or `data`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Size in GiB.
    pub size: u32,
    /// e.g. `cloud_essd`.
    #[serde(default = "default_category")]
    pub category: String,
    /// e.g. `/dev/xvda`.
    pub device: String,
}

fn default_category() -> String {
    "cloud_essd".to_owned()
}

/// A scaling group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedScalingGroup {
    /// `asg-…`.
    pub scaling_group_id: String,
    /// The group name.
    pub scaling_group_name: String,
    /// `ECS` or `ECI`.
    pub group_type: String,
    /// `Active`, `Inactive` or `Deleting`.
    pub lifecycle_state: String,
    /// The configuration new instances are created from (may be absent).
    #[serde(default)]
    pub active_scaling_configuration_id: Option<String>,
    /// Minimum instances.
    #[serde(default)]
    pub min_size: u32,
    /// Maximum instances.
    #[serde(default = "default_max_size")]
    pub max_size: u32,
    /// The CLB instances attached to the group (their default server groups).
    #[serde(default)]
    pub load_balancer_ids: Vec<String>,
    /// The vServer groups attached to the group.
    #[serde(default)]
    pub vserver_groups: Vec<SeedVServerGroupAttachment>,
    /// The vSwitches its instances are launched into, in priority order (`vsw-…`;
    /// DescribeScalingGroups' `VSwitchIds.VSwitchId[]`, and the first as `VSwitchId`). Empty:
    /// none (a group of the classic network).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vswitch_ids: Vec<String>,
}

/// A vServer group attached to a scaling group (DescribeScalingGroups'
/// `VServerGroups.VServerGroup[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedVServerGroupAttachment {
    /// The load balancer.
    pub load_balancer_id: String,
    /// The vServer group (`rsp-…`).
    pub vserver_group_id: String,
    /// The backend port.
    pub port: u16,
    /// The weight new instances get in it.
    pub weight: u32,
}

fn default_max_size() -> u32 {
    10
}

/// A scaling configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedScalingConfiguration {
    /// `asc-…`.
    pub scaling_configuration_id: String,
    /// The configuration name.
    pub scaling_configuration_name: String,
    /// The group it belongs to.
    pub scaling_group_id: String,
    /// The image instances are created from (for ECI groups, may be empty).
    #[serde(default)]
    pub image_id: String,
    /// e.g. `ecs.g7.large`.
    #[serde(default)]
    pub instance_type: String,
    /// The system disk size of the instances it launches, GiB (default 40).
    #[serde(default = "default_system_disk_size")]
    pub system_disk_size: u32,
    /// The key pair its instances log in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair_name: Option<String>,
    /// The instance types it launches, in priority order, when it lists several (the first
    /// must be `instance_type`); empty: `instance_type` alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance_types: Vec<String>,
    /// The security groups of its instances (`sg-…`; default the one the sim answered for
    /// every configuration before it kept them, `sg-bp1simdemo0000001`).
    #[serde(default = "default_security_group_ids")]
    pub security_group_ids: Vec<String>,
    /// The category of its instances' system disks (default `cloud_essd`): one of
    /// RunInstances' `SystemDisk.Category` values.
    #[serde(default = "default_category")]
    pub system_disk_category: String,
    /// The performance level of an enterprise SSD system disk, `PL0` to `PL3` (only with
    /// `cloud_essd`; none: ECS's default, PL1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_disk_performance_level: Option<String>,
    /// The zone its instances are launched in, if it names one (`<region>-<letter>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Whether its instances keep the password their image holds.
    #[serde(default, skip_serializing_if = "is_false")]
    pub password_inherit: bool,
}

fn default_system_disk_size() -> u32 {
    40
}

/// The security group every configuration answered before the sim kept them.
pub const DEFAULT_SECURITY_GROUP_ID: &str = "sg-bp1simdemo0000001";

fn default_security_group_ids() -> Vec<String> {
    vec![DEFAULT_SECURITY_GROUP_ID.to_owned()]
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The system disk categories a seed's configuration may name (RunInstances'
/// `SystemDisk.Category` values).
const SYSTEM_DISK_CATEGORIES: &[&str] = &[
    "cloud",
    "cloud_efficiency",
    "cloud_ssd",
    "cloud_essd",
    "cloud_auto",
    "cloud_essd_entry",
];

/// An id of the given prefix (`sg-…`, `vsw-…`) with letters and digits after it.
fn id_of(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// An instance of a scaling group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedScalingInstance {
    /// One of the seed's `instances`.
    pub instance_id: String,
    /// Its ECS-type group.
    pub scaling_group_id: String,
    /// `InService` (the default), `Standby` or `Protected`.
    #[serde(default = "default_lifecycle_state")]
    pub lifecycle_state: String,
    /// `AutoCreated` (the default: launched from the group's active configuration) or
    /// `Attached`.
    #[serde(default = "default_creation_type")]
    pub creation_type: String,
    /// Its load-balancer weight (default 50; 0 in Standby).
    #[serde(default)]
    pub load_balancer_weight: Option<u32>,
}

fn default_lifecycle_state() -> String {
    "InService".to_owned()
}

fn default_creation_type() -> String {
    "AutoCreated".to_owned()
}

const STATUSES: &[&str] = &["Running", "Stopped", "Pending", "Starting", "Stopping"];

impl Seed {
    /// Parses and validates a seed file's text.
    pub fn from_json(text: &str) -> Result<Self, SeedError> {
        let seed: Seed = serde_json::from_str(text)?;
        seed.validate()?;
        Ok(seed)
    }

    /// The seed as pretty JSON (what `--print-seed` prints).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Checks that ids are unique and every reference resolves.
    pub fn validate(&self) -> Result<(), SeedError> {
        let bad = |s: String| Err(SeedError::Invalid(s));
        if self.region_id.is_empty() {
            return bad("region_id is empty".into());
        }
        if self.access_keys.is_empty() {
            return bad("access_keys is empty: the sim needs at least one AccessKey".into());
        }
        for key in &self.access_keys {
            if key.access_key_id.is_empty() || key.access_key_secret.is_empty() {
                return bad("an access key has an empty access_key_id or access_key_secret".into());
            }
            if key.access_key_id.starts_with("STS.") {
                return bad(format!(
                    "access key {}: ids starting with \"STS.\" are reserved for STS tokens",
                    key.access_key_id
                ));
            }
            let name_ok = (1..=64).contains(&key.user_name.len())
                && key
                    .user_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if !key.root && !name_ok {
                return bad(format!(
                    "access key {}: user_name must be 1 to 64 letters, digits, '.', '-' and '_'",
                    key.access_key_id
                ));
            }
        }
        let mut ids = HashSet::new();
        let mut unique = |kind: &str, id: &str| {
            if id.is_empty() {
                return Err(SeedError::Invalid(format!("a {kind} has an empty id")));
            }
            if ids.insert(id.to_owned()) {
                Ok(())
            } else {
                Err(SeedError::Invalid(format!("{kind} id {id} is used twice")))
            }
        };
        for key in &self.access_keys {
            unique("access key", &key.access_key_id)?;
        }
        for role in &self.roles {
            unique("role", &role.name)?;
            if !(900..=43200).contains(&role.max_session_duration) {
                return bad(format!(
                    "role {}: max_session_duration must be 900..=43200",
                    role.name
                ));
            }
        }
        let mut aliases = HashSet::new();
        for key in &self.kms_keys {
            unique("kms key", &key.key_id)?;
            if key.key_id.len() > 255 {
                return bad(format!(
                    "kms key {}: a key id is at most 255 bytes",
                    key.key_id
                ));
            }
            if let Some(alias) = &key.alias {
                if !alias.starts_with("alias/") || alias.len() <= "alias/".len() {
                    return bad(format!(
                        "kms key {}: an alias is alias/<name>, not {alias:?}",
                        key.key_id
                    ));
                }
                if !aliases.insert(alias.as_str()) {
                    return bad(format!("kms alias {alias} is used twice"));
                }
            }
        }
        let mut buckets = HashSet::new();
        for bucket in &self.buckets {
            if !crate::names::valid_bucket_name(bucket) {
                return bad(format!(
                    "bucket {bucket:?}: 3 to 63 lower-case letters, digits and `-`, starting and ending with a letter or digit"
                ));
            }
            if !buckets.insert(bucket.as_str()) {
                return bad(format!("bucket {bucket} is listed twice"));
            }
        }
        let mut names = HashSet::new();
        for image in &self.images {
            unique("image", &image.image_id)?;
            if !matches!(image.image_owner_alias.as_str(), "system" | "self") {
                return bad(format!(
                    "image {}: image_owner_alias must be \"system\" or \"self\"",
                    image.image_id
                ));
            }
            if !names.insert(image.image_name.clone()) {
                return bad(format!("image name {} is used twice", image.image_name));
            }
        }
        let seed_images: Vec<(String, String, bool)> = self
            .images
            .iter()
            .map(|m| {
                (
                    m.image_id.clone(),
                    m.image_name.clone(),
                    m.image_owner_alias == "self",
                )
            })
            .collect();
        crate::ecs::seeding::validate(
            &self.custom_images,
            &self.launch_templates,
            &self.image_shares,
            &seed_images,
            &self.account_id,
        )
        .map_err(SeedError::Invalid)?;
        for instance in &self.instances {
            unique("instance", &instance.instance_id)?;
            if !STATUSES.contains(&instance.status.as_str()) {
                return bad(format!(
                    "instance {}: status must be one of {STATUSES:?}",
                    instance.instance_id
                ));
            }
            let systems = instance.disks.iter().filter(|d| d.kind == "system").count();
            if systems != 1 {
                return bad(format!(
                    "instance {} has {systems} system disks; it needs exactly one",
                    instance.instance_id
                ));
            }
            for disk in &instance.disks {
                unique("disk", &disk.disk_id)?;
                if !matches!(disk.kind.as_str(), "system" | "data") {
                    return bad(format!(
                        "disk {}: type must be \"system\" or \"data\"",
                        disk.disk_id
                    ));
                }
            }
        }
        for group in &self.scaling_groups {
            unique("scaling group", &group.scaling_group_id)?;
            if !matches!(group.group_type.as_str(), "ECS" | "ECI") {
                return bad(format!(
                    "scaling group {}: group_type must be \"ECS\" or \"ECI\"",
                    group.scaling_group_id
                ));
            }
            if !matches!(
                group.lifecycle_state.as_str(),
                "Active" | "Inactive" | "Deleting"
            ) {
                return bad(format!(
                    "scaling group {}: lifecycle_state must be Active, Inactive or Deleting",
                    group.scaling_group_id
                ));
            }
            if let Some(v) = group.vswitch_ids.iter().find(|v| !id_of(v, "vsw-")) {
                return bad(format!(
                    "scaling group {}: vSwitch {v:?} is not vsw- and letters or digits",
                    group.scaling_group_id
                ));
            }
        }
        for t in &self.scaling_group_launch_templates {
            if !self
                .scaling_groups
                .iter()
                .any(|g| g.scaling_group_id == t.scaling_group_id && g.group_type == "ECS")
            {
                return bad(format!(
                    "launch template {} of scaling group {}: the seed has no ECS group of this id",
                    t.launch_template_id, t.scaling_group_id
                ));
            }
            if !self
                .launch_templates
                .iter()
                .any(|l| l.launch_template_id.as_deref() == Some(t.launch_template_id.as_str()))
            {
                return bad(format!(
                    "scaling group {}: launch template {} is not one of the seed's (give it an id)",
                    t.scaling_group_id, t.launch_template_id
                ));
            }
        }
        for config in &self.scaling_configurations {
            unique("scaling configuration", &config.scaling_configuration_id)?;
            if !self
                .scaling_groups
                .iter()
                .any(|g| g.scaling_group_id == config.scaling_group_id)
            {
                return bad(format!(
                    "scaling configuration {} belongs to unknown scaling group {}",
                    config.scaling_configuration_id, config.scaling_group_id
                ));
            }
            self.validate_launch_settings(config)?;
        }
        let mut members = HashSet::new();
        for member in &self.scaling_instances {
            let who = &member.instance_id;
            if !self.instances.iter().any(|i| &i.instance_id == who) {
                return bad(format!(
                    "scaling instance {who} is not one of the seed's instances"
                ));
            }
            if !members.insert(who.as_str()) {
                return bad(format!("instance {who} is in more than one scaling group"));
            }
            let Some(group) = self
                .scaling_groups
                .iter()
                .find(|g| g.scaling_group_id == member.scaling_group_id)
            else {
                return bad(format!(
                    "scaling instance {who} belongs to unknown scaling group {}",
                    member.scaling_group_id
                ));
            };
            if group.group_type != "ECS" {
                return bad(format!(
                    "scaling instance {who}: group {} is not an ECS-type group",
                    group.scaling_group_id
                ));
            }
            if !matches!(
                member.lifecycle_state.as_str(),
                "InService" | "Standby" | "Protected"
            ) {
                return bad(format!(
                    "scaling instance {who}: lifecycle_state must be InService, Standby or Protected"
                ));
            }
            if !matches!(member.creation_type.as_str(), "AutoCreated" | "Attached") {
                return bad(format!(
                    "scaling instance {who}: creation_type must be AutoCreated or Attached"
                ));
            }
        }
        for group in &self.scaling_groups {
            if let Some(active) = &group.active_scaling_configuration_id {
                let owned = self.scaling_configurations.iter().any(|c| {
                    &c.scaling_configuration_id == active
                        && c.scaling_group_id == group.scaling_group_id
                });
                if !owned {
                    return bad(format!(
                        "scaling group {}: active configuration {active} is not one of its configurations",
                        group.scaling_group_id
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks what a configuration launches its instances with: its instance types, security
    /// groups, system disk and zone.
    fn validate_launch_settings(&self, config: &SeedScalingConfiguration) -> Result<(), SeedError> {
        let id = &config.scaling_configuration_id;
        let bad = |s: String| {
            Err(SeedError::Invalid(format!(
                "scaling configuration {id}: {s}"
            )))
        };
        if let Some(first) = config.instance_types.first() {
            if *first != config.instance_type {
                return bad(format!(
                    "instance_types must start with instance_type ({:?}), not {first:?}",
                    config.instance_type
                ));
            }
            let mut seen = HashSet::new();
            if let Some(twice) = config.instance_types.iter().find(|t| !seen.insert(*t)) {
                return bad(format!("instance type {twice} is listed twice"));
            }
        }
        if let Some(sg) = config.security_group_ids.iter().find(|g| !id_of(g, "sg-")) {
            return bad(format!(
                "security group {sg:?} is not sg- and letters or digits"
            ));
        }
        let category = config.system_disk_category.as_str();
        if !SYSTEM_DISK_CATEGORIES.contains(&category) {
            return bad(format!(
                "system_disk_category {category:?} must be one of {}",
                SYSTEM_DISK_CATEGORIES.join(", ")
            ));
        }
        if let Some(level) = &config.system_disk_performance_level {
            if !matches!(level.as_str(), "PL0" | "PL1" | "PL2" | "PL3") {
                return bad(format!(
                    "system_disk_performance_level {level:?} must be PL0, PL1, PL2 or PL3"
                ));
            }
            if category != "cloud_essd" {
                return bad(format!(
                    "a system_disk_performance_level is only for a cloud_essd disk, not {category}"
                ));
            }
        }
        if let Some(zone) = &config.zone_id {
            let letter = zone
                .strip_prefix(self.region_id.as_str())
                .and_then(|rest| rest.strip_prefix('-'));
            if !letter.is_some_and(|l| l.len() == 1 && l.chars().all(|c| c.is_ascii_lowercase())) {
                return bad(format!(
                    "zone_id {zone:?} is not a zone of {} ({}-<letter>)",
                    self.region_id, self.region_id
                ));
            }
        }
        Ok(())
    }

    /// The built-in demo region (what `reimage demo` and a plain `reimage sim` serve).
    pub fn demo() -> Self {
        Self::demo_with_fleet(DEMO_FLEET_SIZE)
    }

    /// The demo region with `size` instances in the web group (`web-1` …), each Running
    /// from the group's active configuration's image.
    pub fn demo_with_fleet(size: usize) -> Self {
        let ubuntu = "ubuntu_22_04_x64_20G_alibase_20240101.vhd";
        let alinux = "aliyun_3_x64_20G_alibase_20240101.vhd";
        // The image the group's previous configuration still holds: an older build of the
        // same platform.
        let ubuntu_before = "ubuntu_22_04_x64_20G_alibase_20231120.vhd";
        let disk = |id: &str, kind: &str, size: u32, device: &str| SeedDisk {
            disk_id: id.to_owned(),
            kind: kind.to_owned(),
            size,
            category: "cloud_essd".to_owned(),
            device: device.to_owned(),
        };
        let instance = |id: &str, name: &str, status: &str, disks: Vec<SeedDisk>| SeedInstance {
            instance_id: id.to_owned(),
            instance_name: name.to_owned(),
            status: status.to_owned(),
            instance_type: "ecs.g7.large".to_owned(),
            zone_id: "cn-hangzhou-h".to_owned(),
            image_id: ubuntu.to_owned(),
            disks,
        };
        let group = |id: &str, name: &str, kind: &str, active: &str| SeedScalingGroup {
            scaling_group_id: id.to_owned(),
            scaling_group_name: name.to_owned(),
            group_type: kind.to_owned(),
            lifecycle_state: "Active".to_owned(),
            active_scaling_configuration_id: Some(active.to_owned()),
            min_size: 1,
            max_size: 10,
            load_balancer_ids: Vec::new(),
            vserver_groups: Vec::new(),
            vswitch_ids: Vec::new(),
        };
        let config = |id: &str, name: &str, group: &str, image: &str| SeedScalingConfiguration {
            scaling_configuration_id: id.to_owned(),
            scaling_configuration_name: name.to_owned(),
            scaling_group_id: group.to_owned(),
            image_id: image.to_owned(),
            instance_type: "ecs.g7.large".to_owned(),
            system_disk_size: default_system_disk_size(),
            key_pair_name: None,
            instance_types: Vec::new(),
            security_group_ids: vec![DEMO_WEB_SECURITY_GROUP.to_owned()],
            system_disk_category: "cloud_essd".to_owned(),
            system_disk_performance_level: Some("PL1".to_owned()),
            zone_id: None,
            password_inherit: false,
        };
        // The web group's fleet: six instances serving from the image of its active
        // configuration.
        let fleet: Vec<SeedInstance> = (1..=size)
            .map(|n| {
                instance(
                    &format!("i-bp1demofleet{n:07}"),
                    &format!("web-{n}"),
                    "Running",
                    vec![disk(
                        &format!("d-bp1demofleetsys{n:05}"),
                        "system",
                        40,
                        "/dev/xvda",
                    )],
                )
            })
            .collect();
        // The web group serves behind one CLB: its default server group on port 80 (web-2 at
        // weight 80, the others at 50) and a vServer group on port 8080.
        let load_balancer = crate::slb::LoadBalancer {
            load_balancer_id: DEMO_LOAD_BALANCER_ID.to_owned(),
            load_balancer_name: "web".to_owned(),
            listener_ports: vec![80],
            backends: fleet
                .iter()
                .enumerate()
                .map(|(n, i)| crate::slb::Backend {
                    server_id: i.instance_id.clone(),
                    weight: if n == 1 { 80 } else { 50 },
                })
                .collect(),
        };
        let vserver_group = crate::slb::VServerGroup {
            vserver_group_id: DEMO_VSERVER_GROUP_ID.to_owned(),
            vserver_group_name: "web-8080".to_owned(),
            load_balancer_id: DEMO_LOAD_BALANCER_ID.to_owned(),
            backends: fleet
                .iter()
                .map(|i| crate::slb::VBackend {
                    server_id: i.instance_id.clone(),
                    port: 8080,
                    weight: 50,
                })
                .collect(),
        };
        let scaling_instances = fleet
            .iter()
            .map(|i| SeedScalingInstance {
                instance_id: i.instance_id.clone(),
                scaling_group_id: "asg-bp1demoweb0000001".to_owned(),
                lifecycle_state: default_lifecycle_state(),
                creation_type: default_creation_type(),
                load_balancer_weight: None,
            })
            .collect();
        Seed {
            region_id: "cn-hangzhou".to_owned(),
            account_id: "1234567890123456".to_owned(),
            access_keys: vec![SeedAccessKey {
                access_key_id: "LTAI5tSimDemoKey0000001".to_owned(),
                access_key_secret: "simDemoSecret0000000000000001".to_owned(),
                root: false,
                user_name: default_user_name(),
            }],
            roles: vec![SeedRole {
                name: "reimage-updater".to_owned(),
                max_session_duration: 3600,
            }],
            images: vec![
                SeedImage {
                    image_id: ubuntu.to_owned(),
                    image_name: "Ubuntu 22.04 64 bit".to_owned(),
                    image_owner_alias: "system".to_owned(),
                    os_type: "linux".to_owned(),
                    platform: "Ubuntu".to_owned(),
                    size: 20,
                    architecture: default_architecture(),
                },
                SeedImage {
                    image_id: ubuntu_before.to_owned(),
                    image_name: "Ubuntu 22.04 64 bit (2023-11-20)".to_owned(),
                    image_owner_alias: "system".to_owned(),
                    os_type: "linux".to_owned(),
                    platform: "Ubuntu".to_owned(),
                    size: 20,
                    architecture: default_architecture(),
                },
                SeedImage {
                    image_id: alinux.to_owned(),
                    image_name: "Alibaba Cloud Linux 3".to_owned(),
                    image_owner_alias: "system".to_owned(),
                    os_type: "linux".to_owned(),
                    platform: "Aliyun".to_owned(),
                    size: 20,
                    architecture: default_architecture(),
                },
            ],
            instances: vec![
                instance(
                    "i-bp1demoweb000000001",
                    "web-golden",
                    "Running",
                    vec![
                        disk("d-bp1demowebsys000001", "system", 40, "/dev/xvda"),
                        disk("d-bp1demowebdat000001", "data", 100, "/dev/xvdb"),
                    ],
                ),
                instance(
                    "i-bp1demoapi000000001",
                    "api-golden",
                    "Stopped",
                    vec![
                        disk("d-bp1demoapisys000001", "system", 40, "/dev/xvda"),
                        disk("d-bp1demoapidat000001", "data", 200, "/dev/xvdb"),
                    ],
                ),
                instance(
                    "i-bp1demobatch0000001",
                    "batch-worker",
                    "Running",
                    vec![
                        disk("d-bp1demobatsys000001", "system", 40, "/dev/xvda"),
                        disk("d-bp1demobatdat000001", "data", 50, "/dev/xvdb"),
                    ],
                ),
            ]
            .into_iter()
            .chain(fleet)
            .collect(),
            scaling_groups: vec![
                SeedScalingGroup {
                    load_balancer_ids: vec![DEMO_LOAD_BALANCER_ID.to_owned()],
                    vserver_groups: vec![SeedVServerGroupAttachment {
                        load_balancer_id: DEMO_LOAD_BALANCER_ID.to_owned(),
                        vserver_group_id: DEMO_VSERVER_GROUP_ID.to_owned(),
                        port: 8080,
                        weight: 50,
                    }],
                    vswitch_ids: DEMO_WEB_VSWITCHES.iter().map(|v| (*v).to_owned()).collect(),
                    ..group(
                        "asg-bp1demoweb0000001",
                        "web",
                        "ECS",
                        "asc-bp1demoweb0000001",
                    )
                },
                SeedScalingGroup {
                    vswitch_ids: vec!["vsw-bp1demoapih000001".to_owned()],
                    ..group(
                        "asg-bp1demoapi0000001",
                        "api",
                        "ECS",
                        "asc-bp1demoapi0000001",
                    )
                },
                SeedScalingGroup {
                    vswitch_ids: vec!["vsw-bp1demoecih000001".to_owned()],
                    ..group(
                        "asg-bp1demoeci0000001",
                        "jobs-eci",
                        "ECI",
                        "asc-bp1demoeci0000001",
                    )
                },
            ],
            scaling_configurations: vec![
                // The web group launches ecs.g7.large, or ecs.c7.large when ECS cannot.
                SeedScalingConfiguration {
                    key_pair_name: Some(DEMO_KEY_PAIR.to_owned()),
                    instance_types: vec!["ecs.g7.large".to_owned(), "ecs.c7.large".to_owned()],
                    ..config(
                        "asc-bp1demoweb0000001",
                        "web-current",
                        "asg-bp1demoweb0000001",
                        ubuntu,
                    )
                },
                config(
                    "asc-bp1demoweb0000002",
                    "web-previous",
                    "asg-bp1demoweb0000001",
                    ubuntu_before,
                ),
                // The api group: two security groups, an ESSD AutoPL disk, no key pair (the
                // image's password).
                SeedScalingConfiguration {
                    security_group_ids: vec![
                        "sg-bp1demoapi0000001".to_owned(),
                        "sg-bp1demoshared00001".to_owned(),
                    ],
                    system_disk_category: "cloud_auto".to_owned(),
                    system_disk_performance_level: None,
                    password_inherit: true,
                    ..config(
                        "asc-bp1demoapi0000001",
                        "api-current",
                        "asg-bp1demoapi0000001",
                        ubuntu,
                    )
                },
                config(
                    "asc-bp1demoeci0000001",
                    "jobs-eci",
                    "asg-bp1demoeci0000001",
                    "",
                ),
            ],
            scaling_instances,
            buckets: vec!["reimage-state".to_owned()],
            kms_keys: vec![SeedKmsKey {
                key_id: DEMO_KMS_KEY_ID.to_owned(),
                alias: Some(DEMO_KMS_ALIAS.to_owned()),
                enabled: true,
            }],
            image_progress: ProgressProfile::Linear,
            load_balancers: vec![load_balancer],
            vserver_groups: vec![vserver_group],
            custom_images: Vec::new(),
            launch_templates: Vec::new(),
            image_shares: Vec::new(),
            scaling_group_launch_templates: Vec::new(),
        }
    }
}

/// The key pair the web group's active configuration logs its instances in with.
pub const DEMO_KEY_PAIR: &str = "web-deploy";

/// The security group of the web group's instances.
pub const DEMO_WEB_SECURITY_GROUP: &str = "sg-bp1demoweb0000001";

/// The web group's vSwitches, in zones h and i of the demo region.
pub const DEMO_WEB_VSWITCHES: [&str; 2] = ["vsw-bp1demowebh000001", "vsw-bp1demowebi000001"];

/// The CLB instance in front of the demo's web group.
pub const DEMO_LOAD_BALANCER_ID: &str = "lb-bp1demoweb00000001";

/// Its vServer group on port 8080.
pub const DEMO_VSERVER_GROUP_ID: &str = "rsp-bp1demoweb0001";

/// How many instances the demo's web group runs.
pub const DEMO_FLEET_SIZE: usize = 6;

/// The demo region's KMS key, which seals reimage's webhook secrets.
pub const DEMO_KMS_KEY_ID: &str = "key-hzz6a3f7c2b1d4e5f6a7b8c9";

/// Its alias (template.yml's `SecretsKmsKeyId` default).
pub const DEMO_KMS_ALIAS: &str = "alias/reimage-secrets";

/// The disabled key of [`Seed::demo_with_a_disabled_kms_key`].
pub const DEMO_DISABLED_KMS_KEY_ID: &str = "key-hzzdisabled00000000000";

impl Seed {
    /// The demo region with one more KMS key, [`DEMO_DISABLED_KMS_KEY_ID`], disabled: what
    /// tests of KMS's refusals start from.
    pub fn demo_with_a_disabled_kms_key() -> Self {
        let mut seed = Self::demo();
        seed.kms_keys.push(SeedKmsKey {
            key_id: DEMO_DISABLED_KMS_KEY_ID.to_owned(),
            alias: None,
            enabled: false,
        });
        seed
    }
}

/// How a build's reported `Progress` moves from creation to done. ECS documents no shape
/// (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeimages>
/// says only that `Progress` is the percentage done), and real images are seen to do all of
/// these; snapshots in the sim are always linear.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressProfile {
    /// Evenly, from 0 to 100 %.
    #[default]
    Linear,
    /// 0 % for nine tenths of the build, then the rest in its last tenth.
    Stalled,
    /// Fast at first, then slower and slower: `1 - (1 - t)²` of the way after a share `t`
    /// of the build time.
    FastThenSlow,
    /// In four steps: 0, 25, 50 and 75 %.
    Steps,
}

impl ProgressProfile {
    /// Every profile, in the order the bench prints them.
    pub const ALL: [Self; 4] = [Self::Linear, Self::Stalled, Self::FastThenSlow, Self::Steps];

    /// Its name in a seed and in the bench: `linear`, `stalled`, `fast_then_slow`, `steps`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Stalled => "stalled",
            Self::FastThenSlow => "fast_then_slow",
            Self::Steps => "steps",
        }
    }

    /// The whole percent reported once `done` of a build of `total` has passed (any unit,
    /// `0 <= done < total`), rounded down; exact, in integers.
    pub fn percent(self, done: i64, total: i64) -> u32 {
        let (d, t) = (i128::from(done.clamp(0, total)), i128::from(total.max(1)));
        let percent = match self {
            Self::Linear => d * 100 / t,
            Self::Stalled => {
                let stall = t * 9 / 10;
                if d < stall {
                    0
                } else {
                    (d - stall) * 100 / (t - stall).max(1)
                }
            }
            Self::FastThenSlow => (2 * d * t - d * d) * 100 / (t * t),
            Self::Steps => d * 4 / t * 25,
        };
        u32::try_from(percent).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_valid_and_round_trips() {
        let demo = Seed::demo();
        demo.validate().unwrap();
        let back = Seed::from_json(&demo.to_json_pretty()).unwrap();
        assert_eq!(back, demo);
    }

    #[test]
    fn the_image_progress_profile_is_read_and_linear_by_default() {
        let mut v: serde_json::Value =
            serde_json::from_str(&Seed::demo().to_json_pretty()).unwrap();
        assert!(
            v.get("image_progress").is_none(),
            "linear is not written out"
        );
        assert_eq!(
            Seed::from_json(&v.to_string()).unwrap().image_progress,
            ProgressProfile::Linear
        );
        v["image_progress"] = serde_json::json!("fast_then_slow");
        let seed = Seed::from_json(&v.to_string()).unwrap();
        assert_eq!(seed.image_progress, ProgressProfile::FastThenSlow);
        assert_eq!(Seed::from_json(&seed.to_json_pretty()).unwrap(), seed);
        v["image_progress"] = serde_json::json!("sideways");
        let err = Seed::from_json(&v.to_string()).unwrap_err();
        assert!(reimage_cloud::report::chain(&err).contains("sideways"));
    }

    #[test]
    fn unknown_field_is_named() {
        let mut v: serde_json::Value =
            serde_json::from_str(&Seed::demo().to_json_pretty()).unwrap();
        v["instancez"] = serde_json::json!([]);
        let err = Seed::from_json(&v.to_string()).unwrap_err();
        let message = reimage_cloud::report::chain(&err);
        assert!(message.contains("instancez"), "{message}");
    }

    #[test]
    fn an_access_keys_ram_user_is_named_by_the_rule() {
        let mut v: serde_json::Value =
            serde_json::from_str(&Seed::demo().to_json_pretty()).unwrap();
        assert_eq!(v["access_keys"][0]["user_name"], "reimage");
        v["access_keys"][0]
            .as_object_mut()
            .unwrap()
            .remove("user_name");
        let seed = Seed::from_json(&v.to_string()).unwrap();
        assert_eq!(seed.access_keys[0].user_name, "reimage", "the default");
        for bad in ["", "has space", &"u".repeat(65)] {
            let mut seed = Seed::demo();
            seed.access_keys[0].user_name = bad.to_owned();
            let err = seed.validate().unwrap_err().to_string();
            assert!(err.contains("user_name"), "{bad:?}: {err}");
            seed.access_keys[0].root = true;
            seed.validate().expect("a root key's user_name is not used");
        }
    }

    #[test]
    fn dangling_configuration_is_refused() {
        let mut seed = Seed::demo();
        seed.scaling_configurations[0].scaling_group_id = "asg-nope".into();
        let err = seed.validate().unwrap_err();
        assert!(err.to_string().contains("asg-nope"), "{err}");
    }

    #[test]
    fn a_configurations_launch_settings_are_checked() {
        let refused = |change: &dyn Fn(&mut Seed)| {
            let mut seed = Seed::demo();
            change(&mut seed);
            seed.validate().unwrap_err().to_string()
        };
        let err =
            refused(&|s| s.scaling_configurations[0].instance_types[0] = "ecs.c7.large".into());
        assert!(err.contains("must start with instance_type"), "{err}");
        let err = refused(&|s| s.scaling_configurations[0].security_group_ids = vec!["g-1".into()]);
        assert!(err.contains("\"g-1\""), "{err}");
        let err = refused(&|s| s.scaling_configurations[0].system_disk_category = "ssd".into());
        assert!(err.contains("system_disk_category \"ssd\""), "{err}");
        let err = refused(&|s| {
            s.scaling_configurations[2].system_disk_performance_level = Some("PL1".into())
        });
        assert!(
            err.contains("only for a cloud_essd disk, not cloud_auto"),
            "{err}"
        );
        let err = refused(&|s| {
            s.scaling_configurations[0].system_disk_performance_level = Some("PL4".into())
        });
        assert!(err.contains("PL4"), "{err}");
        let err = refused(&|s| s.scaling_configurations[0].zone_id = Some("cn-beijing-h".into()));
        assert!(err.contains("not a zone of cn-hangzhou"), "{err}");
        let err = refused(&|s| s.scaling_groups[0].vswitch_ids.push("vswitch-1".into()));
        assert!(err.contains("vSwitch \"vswitch-1\""), "{err}");

        // A seed that says nothing of them gets the defaults.
        let mut v: serde_json::Value =
            serde_json::from_str(&Seed::demo().to_json_pretty()).unwrap();
        let config = &mut v["scaling_configurations"][1];
        for field in ["security_group_ids", "system_disk_category"] {
            config.as_object_mut().unwrap().remove(field);
        }
        let seed = Seed::from_json(&v.to_string()).unwrap();
        let config = &seed.scaling_configurations[1];
        assert_eq!(config.security_group_ids, [DEFAULT_SECURITY_GROUP_ID]);
        assert_eq!(config.system_disk_category, "cloud_essd");
        assert!(config.instance_types.is_empty() && !config.password_inherit);
    }

    #[test]
    fn instance_needs_one_system_disk() {
        let mut seed = Seed::demo();
        seed.instances[0].disks.retain(|d| d.kind == "data");
        let err = seed.validate().unwrap_err();
        assert!(err.to_string().contains("0 system disks"), "{err}");
    }

    #[test]
    fn every_demo_instance_type_is_in_the_catalogue() {
        let demo = Seed::demo();
        let types = demo
            .instances
            .iter()
            .map(|i| &i.instance_type)
            .chain(demo.scaling_configurations.iter().map(|c| &c.instance_type))
            .chain(
                demo.scaling_configurations
                    .iter()
                    .flat_map(|c| &c.instance_types),
            )
            .filter(|t| !t.is_empty());
        for t in types {
            assert!(
                crate::ecs::types::instance_type(t).is_some(),
                "{t} is not in the instance type catalogue"
            );
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let shown = format!("{:?}", Seed::demo());
        assert!(!shown.contains("simDemoSecret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
