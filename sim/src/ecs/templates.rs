//! Launch templates: CreateLaunchTemplate, CreateLaunchTemplateVersion,
//! DescribeLaunchTemplates, DescribeLaunchTemplateVersions, DeleteLaunchTemplate,
//! DeleteLaunchTemplateVersion and ModifyLaunchTemplateDefaultVersion (each operation's page,
//! e.g. <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describelaunchtemplateversions>).
//!
//! A template holds numbered versions, each a set of launch parameters ([`TemplateData`]);
//! one version is the default, which RunInstances uses when it names the template but no
//! version. As in the cloud, a version's parameters are not checked against what exists
//! (a version may name an image that was deleted since): they are checked when an instance
//! is launched from it. A region holds at most [`MAX_TEMPLATES`] templates through the API
//! and a template at most [`MAX_VERSIONS`] versions; the admin interface may seed more
//! templates (an account whose quota was raised).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::errors;
use super::protocol::iso;
use super::state::Ecs;
use crate::ctx::Ctx;
use crate::error::RpcError;
use crate::params::{Params, page};

/// Most templates a region holds (CreateLaunchTemplate: "You can retain up to 30 launch
/// templates in each region").
pub const MAX_TEMPLATES: usize = 30;
/// Most versions a template holds ("Each launch template can have up to 30 versions").
pub const MAX_VERSIONS: usize = 30;
/// Largest `PageSize` of DescribeLaunchTemplates and DescribeLaunchTemplateVersions (not
/// documented; sim/README.md).
pub const MAX_PAGE_SIZE: i64 = 50;
/// Most `LaunchTemplateId.N` or `LaunchTemplateName.N` of DescribeLaunchTemplates.
pub const MAX_DESCRIBED: usize = 100;
/// Most `DeleteVersion.N` of DeleteLaunchTemplateVersion ("Valid values of N: 1 to 29").
pub const MAX_DELETED_VERSIONS: usize = 29;
/// Most `TemplateTag.N`.
pub const MAX_TEMPLATE_TAGS: usize = 20;

/// A list index far beyond any documented limit (indexes past it are malformed).
const INDEX_CEILING: usize = 1000;

/// How a parameter of a version is written: its JSON type in `LaunchTemplateData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Bool,
    Float,
}

/// The scalar request parameters of CreateLaunchTemplate / CreateLaunchTemplateVersion
/// (ECS 2014-05-26, as the official SDK sends them) a version keeps besides the typed
/// fields of [`TemplateData`], with their types. `SystemDisk.*` are answered under the same
/// flat names (and in a nested `SystemDisk` object), `SecurityOptions.TrustedSystemMode` and
/// `ImageOptions.LoginAsNonRoot` nested.
const SCALARS: &[(&str, Kind)] = &[
    ("AutoReleaseTime", Kind::Text),
    ("AutoRenew", Kind::Bool),
    ("AutoRenewPeriod", Kind::Int),
    ("CreditSpecification", Kind::Text),
    ("DeletionProtection", Kind::Bool),
    ("DeploymentSetId", Kind::Text),
    ("Description", Kind::Text),
    ("EnableVmOsConfig", Kind::Bool),
    ("HostName", Kind::Text),
    ("HttpEndpoint", Kind::Text),
    ("HttpPutResponseHopLimit", Kind::Int),
    ("HttpTokens", Kind::Text),
    ("ImageOptions.LoginAsNonRoot", Kind::Bool),
    ("InstanceChargeType", Kind::Text),
    ("InternetChargeType", Kind::Text),
    ("InternetMaxBandwidthIn", Kind::Int),
    ("InternetMaxBandwidthOut", Kind::Int),
    ("IoOptimized", Kind::Text),
    ("Ipv6AddressCount", Kind::Int),
    ("NetworkType", Kind::Text),
    ("PasswordInherit", Kind::Bool),
    ("Period", Kind::Int),
    ("PeriodUnit", Kind::Text),
    ("PrivateIpAddress", Kind::Text),
    ("RamRoleName", Kind::Text),
    ("ResourceGroupId", Kind::Text),
    ("SecurityEnhancementStrategy", Kind::Text),
    ("SecurityOptions.TrustedSystemMode", Kind::Text),
    ("SpotDuration", Kind::Int),
    ("SpotPriceLimit", Kind::Float),
    ("SpotStrategy", Kind::Text),
    ("SystemDisk.AutoSnapshotPolicyId", Kind::Text),
    ("SystemDisk.BurstingEnabled", Kind::Bool),
    ("SystemDisk.DeleteWithInstance", Kind::Bool),
    ("SystemDisk.Description", Kind::Text),
    ("SystemDisk.DiskName", Kind::Text),
    ("SystemDisk.Encrypted", Kind::Text),
    ("SystemDisk.Iops", Kind::Int),
    ("SystemDisk.KMSKeyId", Kind::Text),
    ("SystemDisk.PerformanceLevel", Kind::Text),
    ("SystemDisk.ProvisionedIops", Kind::Int),
    ("UserData", Kind::Text),
];

/// The members of `DataDisk.N` (answered as `DataDisks.DataDisk[]` under the same names).
const DATA_DISK: &[(&str, Kind)] = &[
    ("AutoSnapshotPolicyId", Kind::Text),
    ("BurstingEnabled", Kind::Bool),
    ("Category", Kind::Text),
    ("DeleteWithInstance", Kind::Bool),
    ("Description", Kind::Text),
    ("Device", Kind::Text),
    ("DiskName", Kind::Text),
    ("Encrypted", Kind::Text),
    ("KMSKeyId", Kind::Text),
    ("PerformanceLevel", Kind::Text),
    ("ProvisionedIops", Kind::Int),
    ("Size", Kind::Int),
    ("SnapshotId", Kind::Text),
];

/// The scalar members of `NetworkInterface.N` (answered as
/// `NetworkInterfaces.NetworkInterface[]`); `SecurityGroupIds.N` is kept apart.
const NETWORK_INTERFACE: &[(&str, Kind)] = &[
    ("DeleteOnRelease", Kind::Bool),
    ("Description", Kind::Text),
    ("InstanceType", Kind::Text),
    ("NetworkInterfaceName", Kind::Text),
    ("NetworkInterfaceTrafficMode", Kind::Text),
    ("PrimaryIpAddress", Kind::Text),
    ("SecurityGroupId", Kind::Text),
    ("VSwitchId", Kind::Text),
];

/// Most `DataDisk.N` ("Valid values of N: 1 to 16").
pub const MAX_DATA_DISKS: usize = 16;
/// Most `NetworkInterface.N` (sim/README.md).
pub const MAX_NETWORK_INTERFACES: usize = 8;

/// `raw` as a value of `kind`, in the one form the sim keeps (`true`/`false`, a whole number
/// without sign or zeros in front, a finite decimal).
fn normalize(name: &str, kind: Kind, raw: &str) -> Result<String, RpcError> {
    match kind {
        Kind::Text => Ok(raw.to_owned()),
        Kind::Int => raw
            .trim()
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| RpcError::invalid(name, "not a whole number")),
        Kind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            b @ ("true" | "false") => Ok(b.to_owned()),
            _ => Err(RpcError::invalid(name, "must be true or false")),
        },
        Kind::Float => raw
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| f.to_string())
            .ok_or_else(|| RpcError::invalid(name, "not a number")),
    }
}

/// A kept value as JSON of its kind.
fn typed(kind: Kind, value: &str) -> Value {
    match kind {
        Kind::Text => json!(value),
        Kind::Int => value
            .parse::<i64>()
            .map_or_else(|_| json!(value), |n| json!(n)),
        Kind::Bool => json!(value == "true"),
        Kind::Float => value
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| json!(value), Value::Number),
    }
}

fn kind_of(table: &[(&str, Kind)], name: &str) -> Kind {
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(Kind::Text, |(_, k)| *k)
}

/// One `NetworkInterface.N` of a version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TemplateNetworkInterface {
    /// Its scalar members ([`NETWORK_INTERFACE`]) by name, as kept.
    pub members: BTreeMap<String, String>,
    /// `NetworkInterface.N.SecurityGroupIds.N`.
    pub security_group_ids: Vec<String>,
}

/// The launch parameters a version holds: every documented parameter of
/// CreateLaunchTemplateVersion, those the sim acts on typed, the others kept as given
/// (checked against their documented type) and answered back in DescribeLaunchTemplateVersions.
/// Undocumented parameters are accepted and not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TemplateData {
    /// `ImageId`.
    pub image_id: Option<String>,
    /// `ImageOwnerAlias`.
    pub image_owner_alias: Option<String>,
    /// `InstanceType`.
    pub instance_type: Option<String>,
    /// `SecurityGroupId`.
    pub security_group_id: Option<String>,
    /// `SecurityGroupIds.N`.
    pub security_group_ids: Vec<String>,
    /// `VpcId`.
    pub vpc_id: Option<String>,
    /// `VSwitchId`.
    pub vswitch_id: Option<String>,
    /// `ZoneId`.
    pub zone_id: Option<String>,
    /// `SystemDisk.Category`.
    pub system_disk_category: Option<String>,
    /// `SystemDisk.Size`, GiB.
    pub system_disk_size: Option<u32>,
    /// `KeyPairName`.
    pub key_pair_name: Option<String>,
    /// `InstanceName`.
    pub instance_name: Option<String>,
    /// The other scalar parameters ([`SCALARS`]) by request name (`UserData`,
    /// `SystemDisk.Iops`, `SecurityOptions.TrustedSystemMode`, …), as kept.
    pub other: BTreeMap<String, String>,
    /// `DataDisk.N`: each disk's members ([`DATA_DISK`]) by name.
    pub data_disks: Vec<BTreeMap<String, String>>,
    /// `NetworkInterface.N`.
    pub network_interfaces: Vec<TemplateNetworkInterface>,
    /// `Tag.N.Key` / `.Value`: the tags of the instances launched from the version.
    pub tags: Vec<(String, String)>,
}

impl TemplateData {
    /// The parameters of CreateLaunchTemplate and CreateLaunchTemplateVersion.
    pub fn from_params(p: &Params) -> Result<Self, RpcError> {
        let text = |name: &str| p.get(name).map(str::to_owned);
        let security_group_ids: Vec<String> = p
            .list("SecurityGroupIds", INDEX_CEILING)?
            .into_iter()
            .map(str::to_owned)
            .collect();
        if p.get("SecurityGroupId").is_some() && !security_group_ids.is_empty() {
            return Err(RpcError::invalid(
                "SecurityGroupIds.N",
                "cannot be set together with SecurityGroupId",
            ));
        }
        let system_disk_size = p
            .get("SystemDisk.Size")
            .map(|raw| {
                raw.trim()
                    .parse::<u32>()
                    .map_err(|_| RpcError::invalid("SystemDisk.Size", "not a whole number of GiB"))
            })
            .transpose()?;
        let mut other = BTreeMap::new();
        for (name, kind) in SCALARS {
            if let Some(raw) = p.get(name) {
                other.insert((*name).to_owned(), normalize(name, *kind, raw)?);
            }
        }
        let mut data_disks = Vec::new();
        for members in p.struct_list("DataDisk", MAX_DATA_DISKS)? {
            let mut disk = BTreeMap::new();
            for (member, raw) in members {
                if raw.is_empty() {
                    continue;
                }
                if let Some((name, kind)) = DATA_DISK.iter().find(|(n, _)| *n == member) {
                    let full = format!("DataDisk.N.{name}");
                    disk.insert((*name).to_owned(), normalize(&full, *kind, raw)?);
                }
            }
            if !disk.is_empty() {
                data_disks.push(disk);
            }
        }
        let mut network_interfaces = Vec::new();
        for members in p.struct_list("NetworkInterface", MAX_NETWORK_INTERFACES)? {
            let mut nic = TemplateNetworkInterface::default();
            let mut groups: Vec<(usize, String)> = Vec::new();
            for (member, raw) in members {
                if raw.is_empty() {
                    continue;
                }
                if let Some(index) = member.strip_prefix("SecurityGroupIds.") {
                    let n: usize = index.parse().map_err(|_| {
                        RpcError::invalid(
                            "NetworkInterface.N.SecurityGroupIds.N",
                            "the list index is not a number",
                        )
                    })?;
                    groups.push((n, raw.to_owned()));
                } else if let Some((name, kind)) =
                    NETWORK_INTERFACE.iter().find(|(n, _)| *n == member)
                {
                    let full = format!("NetworkInterface.N.{name}");
                    nic.members
                        .insert((*name).to_owned(), normalize(&full, *kind, raw)?);
                }
            }
            groups.sort_by_key(|(n, _)| *n);
            nic.security_group_ids = groups.into_iter().map(|(_, g)| g).collect();
            if nic.members.contains_key("SecurityGroupId") && !nic.security_group_ids.is_empty() {
                return Err(RpcError::invalid(
                    "NetworkInterface.N.SecurityGroupIds.N",
                    "cannot be set together with NetworkInterface.N.SecurityGroupId",
                ));
            }
            if nic != TemplateNetworkInterface::default() {
                network_interfaces.push(nic);
            }
        }
        Ok(Self {
            image_id: text("ImageId"),
            image_owner_alias: text("ImageOwnerAlias"),
            instance_type: text("InstanceType"),
            security_group_id: text("SecurityGroupId"),
            security_group_ids,
            vpc_id: text("VpcId"),
            vswitch_id: text("VSwitchId"),
            zone_id: text("ZoneId"),
            system_disk_category: text("SystemDisk.Category"),
            system_disk_size,
            key_pair_name: text("KeyPairName"),
            instance_name: text("InstanceName"),
            other,
            data_disks,
            network_interfaces,
            tags: p.tags()?,
        })
    }

    /// The version's parameters under their RunInstances names, for a launch from it.
    pub fn run_parameters(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = [
            ("ImageId", &self.image_id),
            ("InstanceType", &self.instance_type),
            ("SecurityGroupId", &self.security_group_id),
            ("VSwitchId", &self.vswitch_id),
            ("ZoneId", &self.zone_id),
            ("SystemDisk.Category", &self.system_disk_category),
            ("KeyPairName", &self.key_pair_name),
            ("InstanceName", &self.instance_name),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name.to_owned(), v)))
        .collect();
        for (n, group) in self.security_group_ids.iter().enumerate() {
            out.push((format!("SecurityGroupIds.{}", n + 1), group.clone()));
        }
        if let Some(size) = self.system_disk_size {
            out.push(("SystemDisk.Size".to_owned(), size.to_string()));
        }
        out
    }

    /// `LaunchTemplateData` as DescribeLaunchTemplateVersions answers it: the flat names of
    /// the page's example (`SystemDisk.Size`) and the nested `SystemDisk` object of the
    /// current API metadata, `""` for a string of the original set the version lacks (other
    /// parameters it lacks are left out), nested lists for disks, interfaces, tags and
    /// security groups.
    fn to_json(&self) -> Value {
        let text = |v: &Option<String>| json!(v.clone().unwrap_or_default());
        let mut out = json!({
            "ImageId": text(&self.image_id),
            "ImageOwnerAlias": text(&self.image_owner_alias),
            "InstanceType": text(&self.instance_type),
            "SecurityGroupId": text(&self.security_group_id),
            "SecurityGroupIds": {"SecurityGroupId": self.security_group_ids},
            "VpcId": text(&self.vpc_id),
            "VSwitchId": text(&self.vswitch_id),
            "ZoneId": text(&self.zone_id),
            "SystemDisk.Category": text(&self.system_disk_category),
            "KeyPairName": text(&self.key_pair_name),
            "InstanceName": text(&self.instance_name),
        });
        let mut system_disk = serde_json::Map::new();
        if let Some(c) = &self.system_disk_category {
            system_disk.insert("Category".into(), json!(c));
        }
        if let Some(size) = self.system_disk_size {
            out["SystemDisk.Size"] = json!(size);
            system_disk.insert("Size".into(), json!(size));
        }
        for (name, value) in &self.other {
            let v = typed(kind_of(SCALARS, name), value);
            match name.split_once('.') {
                Some(("SystemDisk", member)) => {
                    system_disk.insert(member.to_owned(), v.clone());
                    out[name.as_str()] = v;
                }
                Some((outer, member)) => {
                    if !out[outer].is_object() {
                        out[outer] = json!({});
                    }
                    out[outer][member] = v;
                }
                None => out[name.as_str()] = v,
            }
        }
        if !system_disk.is_empty() {
            out["SystemDisk"] = Value::Object(system_disk);
        }
        let disks: Vec<Value> = self
            .data_disks
            .iter()
            .map(|d| {
                Value::Object(
                    d.iter()
                        .map(|(k, v)| (k.clone(), typed(kind_of(DATA_DISK, k), v)))
                        .collect(),
                )
            })
            .collect();
        let nics: Vec<Value> = self
            .network_interfaces
            .iter()
            .map(|nic| {
                let mut o: serde_json::Map<String, Value> = nic
                    .members
                    .iter()
                    .map(|(k, v)| (k.clone(), typed(kind_of(NETWORK_INTERFACE, k), v)))
                    .collect();
                o.insert(
                    "SecurityGroupIds".into(),
                    json!({"SecurityGroupId": nic.security_group_ids}),
                );
                Value::Object(o)
            })
            .collect();
        let tags: Vec<Value> = self
            .tags
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect();
        out["DataDisks"] = json!({ "DataDisk": disks });
        out["NetworkInterfaces"] = json!({ "NetworkInterface": nics });
        out["Tags"] = json!({ "InstanceTag": tags });
        out
    }
}

/// One version of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateVersion {
    /// `VersionNumber`, from 1.
    pub version_number: i64,
    /// `VersionDescription`.
    pub version_description: String,
    /// When it was created.
    pub create_time: DateTime<Utc>,
    /// Its launch parameters.
    pub data: TemplateData,
}

/// A launch template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaunchTemplate {
    /// `lt-…`.
    pub launch_template_id: String,
    /// Its name, unique in the region.
    pub launch_template_name: String,
    /// When it was created.
    pub create_time: DateTime<Utc>,
    /// When a version was last added or deleted, or the default version changed.
    pub modified_time: DateTime<Utc>,
    /// The default version.
    pub default_version_number: i64,
    /// The number the next version gets: numbers are never given twice.
    pub next_version_number: i64,
    /// Its versions, in number order.
    pub versions: Vec<TemplateVersion>,
    /// `TemplateTag.N`: the template's own tags.
    pub tags: Vec<(String, String)>,
}

impl LaunchTemplate {
    /// `LatestVersionNumber`: the highest version it holds.
    pub fn latest_version_number(&self) -> i64 {
        self.versions
            .iter()
            .map(|v| v.version_number)
            .max()
            .unwrap_or(0)
    }

    /// The version `number`.
    pub fn version(&self, number: i64) -> Option<&TemplateVersion> {
        self.versions.iter().find(|v| v.version_number == number)
    }

    /// The default version.
    pub fn default_version(&self) -> Option<&TemplateVersion> {
        self.version(self.default_version_number)
    }
}

/// What a new template is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTemplate {
    /// Its id (made up when none is given).
    pub launch_template_id: Option<String>,
    /// Its name.
    pub launch_template_name: String,
    /// Its versions (at least one), numbered from 1: (description, parameters).
    pub versions: Vec<(String, TemplateData)>,
    /// The default version (1 when none is given).
    pub default_version_number: Option<i64>,
    /// Its tags.
    pub tags: Vec<(String, String)>,
}

/// A template name: 2 to 128 characters, starting with a letter, not `http://` or
/// `https://`; letters, digits, `:`, `_` and `-`.
pub fn name_ok(name: &str) -> bool {
    (2..=128).contains(&name.chars().count())
        && name.chars().next().is_some_and(char::is_alphabetic)
        && !name.starts_with("http://")
        && !name.starts_with("https://")
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ':' | '_' | '-'))
}

/// A `VersionDescription`: 2 to 256 characters, not starting with `http://` or `https://`.
fn description_ok(description: &str) -> bool {
    (2..=256).contains(&description.chars().count())
        && !description.starts_with("http://")
        && !description.starts_with("https://")
}

impl Ecs {
    /// Adds a template; with `quota`, refused beyond [`MAX_TEMPLATES`] in the region (the
    /// admin interface seeds without it). Answers its id.
    pub fn add_launch_template(
        &mut self,
        new: NewTemplate,
        now: DateTime<Utc>,
        quota: bool,
    ) -> Result<String, RpcError> {
        if !name_ok(&new.launch_template_name) {
            return Err(errors::launch_template_name_malformed());
        }
        if new.versions.is_empty() || new.versions.len() > MAX_VERSIONS {
            return Err(RpcError::invalid(
                "versions",
                format!("a template holds 1 to {MAX_VERSIONS} versions"),
            ));
        }
        if self
            .launch_templates
            .iter()
            .any(|t| t.launch_template_name == new.launch_template_name)
        {
            return Err(errors::launch_template_name_duplicated(
                &new.launch_template_name,
            ));
        }
        if quota && self.launch_templates.len() >= MAX_TEMPLATES {
            return Err(errors::launch_template_limit(MAX_TEMPLATES));
        }
        let count = i64::try_from(new.versions.len()).unwrap_or(i64::MAX);
        let default_version_number = new.default_version_number.unwrap_or(1);
        if !(1..=count).contains(&default_version_number) {
            return Err(RpcError::invalid(
                "default_version",
                format!("must name one of the versions, 1 to {count}"),
            ));
        }
        let id = match new.launch_template_id {
            Some(id) => {
                if !id.starts_with("lt-")
                    || self
                        .launch_templates
                        .iter()
                        .any(|t| t.launch_template_id == id)
                {
                    return Err(RpcError::invalid(
                        "launch_template_id",
                        "must be a new id starting with lt-",
                    ));
                }
                id
            }
            None => self.new_id("lt"),
        };
        let versions = new
            .versions
            .into_iter()
            .zip(1..)
            .map(
                |((version_description, data), version_number)| TemplateVersion {
                    version_number,
                    version_description,
                    create_time: now,
                    data,
                },
            )
            .collect();
        self.launch_templates.push(LaunchTemplate {
            launch_template_id: id.clone(),
            launch_template_name: new.launch_template_name,
            create_time: now,
            modified_time: now,
            default_version_number,
            next_version_number: count + 1,
            versions,
            tags: new.tags,
        });
        Ok(id)
    }

    /// The template named by id and/or name (both must name the same one).
    pub fn launch_template(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<&LaunchTemplate, RpcError> {
        self.launch_templates
            .iter()
            .find(|t| {
                id.is_none_or(|i| i == t.launch_template_id)
                    && name.is_none_or(|n| n == t.launch_template_name)
            })
            .ok_or_else(|| errors::launch_template_not_found(id, name))
    }

    fn template_position(&self, p: &Params) -> Result<usize, RpcError> {
        let (id, name) = (p.get("LaunchTemplateId"), p.get("LaunchTemplateName"));
        if id.is_none() && name.is_none() {
            return Err(RpcError::missing("LaunchTemplateId"));
        }
        self.launch_templates
            .iter()
            .position(|t| {
                id.is_none_or(|i| i == t.launch_template_id)
                    && name.is_none_or(|n| n == t.launch_template_name)
            })
            .ok_or_else(|| errors::launch_template_not_found(id, name))
    }

    /// The ids of the images the versions of every template name.
    pub fn template_images(&self) -> BTreeSet<&str> {
        self.launch_templates
            .iter()
            .flat_map(|t| t.versions.iter())
            .filter_map(|v| v.data.image_id.as_deref())
            .collect()
    }
}

/// `VersionDescription`, checked.
fn version_description(p: &Params) -> Result<String, RpcError> {
    let description = p.get("VersionDescription").unwrap_or_default();
    if !description.is_empty() && !description_ok(description) {
        return Err(errors::version_description_malformed());
    }
    Ok(description.to_owned())
}

/// `TemplateTag.N.Key` / `.Value`: at most 20, keys checked as for every ECS tag.
fn template_tags(p: &Params) -> Result<Vec<(String, String)>, RpcError> {
    let entries = p.struct_list("TemplateTag", INDEX_CEILING)?;
    if entries.len() > MAX_TEMPLATE_TAGS {
        return Err(errors::template_tags_quota());
    }
    let mut out: Vec<(String, String)> = Vec::with_capacity(entries.len());
    for members in entries {
        let find = |m: &str| {
            members
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(m))
                .map(|(_, v)| *v)
                .unwrap_or_default()
        };
        let (key, value) = (find("Key"), find("Value"));
        if key.is_empty() && value.is_empty() {
            continue;
        }
        let bad = |t: &str| t.contains("http://") || t.contains("https://");
        if key.is_empty()
            || key.chars().count() > 128
            || key.starts_with("aliyun")
            || key.starts_with("acs:")
            || bad(key)
        {
            return Err(errors::tag_key_malformed());
        }
        if value.chars().count() > 128
            || value.starts_with("aliyun")
            || value.starts_with("acs:")
            || bad(value)
        {
            return Err(errors::tag_value_malformed());
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(errors::duplicate_tag_key());
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// A version number parameter: a whole number from 1.
fn version_number(name: &str, raw: &str) -> Result<i64, RpcError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| RpcError::invalid(name, "is not a version number"))
}

/// CreateLaunchTemplate: the template and its version 1, the default.
pub fn create_launch_template(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let name = p.required("LaunchTemplateName")?;
    if !name_ok(name) {
        return Err(errors::launch_template_name_malformed());
    }
    let description = version_description(p)?;
    let tags = template_tags(p)?;
    let data = TemplateData::from_params(p)?;
    let id = ecs.add_launch_template(
        NewTemplate {
            launch_template_id: None,
            launch_template_name: name.to_owned(),
            versions: vec![(description, data)],
            default_version_number: None,
            tags,
        },
        ctx.now,
        true,
    )?;
    Ok(json!({"LaunchTemplateId": id, "LaunchTemplateVersionNumber": 1}))
}

/// CreateLaunchTemplateVersion: a new version, numbered after the highest ever given.
pub fn create_launch_template_version(
    ecs: &mut Ecs,
    p: &Params,
    ctx: &Ctx,
) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let description = version_description(p)?;
    let data = TemplateData::from_params(p)?;
    let at = ecs.template_position(p)?;
    let template = &mut ecs.launch_templates[at];
    if template.versions.len() >= MAX_VERSIONS {
        return Err(errors::launch_template_version_limit(MAX_VERSIONS));
    }
    let number = template.next_version_number;
    template.next_version_number += 1;
    template.versions.push(TemplateVersion {
        version_number: number,
        version_description: description,
        create_time: ctx.now,
        data,
    });
    template.modified_time = ctx.now;
    Ok(json!({
        "LaunchTemplateId": template.launch_template_id,
        "LaunchTemplateVersionNumber": number,
    }))
}

fn tags_json(tags: &[(String, String)]) -> Value {
    json!({"Tag": tags.iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect::<Vec<_>>()})
}

/// DescribeLaunchTemplates: `LaunchTemplateId.N` and `LaunchTemplateName.N` (at most 100
/// each; unknown ones match nothing; neither: every template), `TemplateTag.N` (every pair;
/// a key alone matches any value), paged in creation order.
pub fn describe_launch_templates(ecs: &Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let ids = p.list("LaunchTemplateId", MAX_DESCRIBED)?;
    let names = p.list("LaunchTemplateName", MAX_DESCRIBED)?;
    let mut wanted: Vec<(String, String)> = Vec::new();
    for members in p.struct_list("TemplateTag", MAX_TEMPLATE_TAGS)? {
        let find = |m: &str| {
            members
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(m))
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_default()
        };
        let key = find("Key");
        if !key.is_empty() {
            wanted.push((key, find("Value")));
        }
    }
    let (number, size) = p.paging(MAX_PAGE_SIZE)?;
    let matching: Vec<&LaunchTemplate> = ecs
        .launch_templates
        .iter()
        .filter(|t| ids.is_empty() || ids.contains(&t.launch_template_id.as_str()))
        .filter(|t| names.is_empty() || names.contains(&t.launch_template_name.as_str()))
        .filter(|t| {
            wanted.iter().all(|(k, v)| {
                t.tags
                    .iter()
                    .any(|(tk, tv)| tk == k && (v.is_empty() || tv == v))
            })
        })
        .collect();
    let total = matching.len();
    let items: Vec<Value> = page(matching, number, size)
        .into_iter()
        .map(|t| {
            json!({
                "LaunchTemplateId": t.launch_template_id,
                "LaunchTemplateName": t.launch_template_name,
                "DefaultVersionNumber": t.default_version_number,
                "LatestVersionNumber": t.latest_version_number(),
                "CreateTime": iso(t.create_time),
                "ModifiedTime": iso(t.modified_time),
                "CreatedBy": ecs.account_id,
                "ResourceGroupId": "",
                "Tags": tags_json(&t.tags),
            })
        })
        .collect();
    Ok(json!({
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "LaunchTemplateSets": {"LaunchTemplateSet": items},
    }))
}

/// DescribeLaunchTemplateVersions: the versions of one template (`LaunchTemplateId` or
/// `LaunchTemplateName`), filtered by `LaunchTemplateVersion.N`, `MinVersion`/`MaxVersion`
/// and `DefaultVersion=true`, in version order; `LaunchTemplateData` unless
/// `DetailFlag=false`.
pub fn describe_launch_template_versions(
    ecs: &Ecs,
    p: &Params,
    ctx: &Ctx,
) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let numbers: Vec<i64> = p
        .list("LaunchTemplateVersion", INDEX_CEILING)?
        .into_iter()
        .map(|raw| version_number("LaunchTemplateVersion.N", raw))
        .collect::<Result<_, _>>()?;
    let bound = |name: &str| p.get(name).map(|raw| version_number(name, raw)).transpose();
    let (min, max) = (bound("MinVersion")?, bound("MaxVersion")?);
    let default_only = p.bool("DefaultVersion", false)?;
    let detail = p.bool("DetailFlag", true)?;
    let (number, size) = p.paging(MAX_PAGE_SIZE)?;
    let template = &ecs.launch_templates[ecs.template_position(p)?];
    let mut matching: Vec<&TemplateVersion> = template
        .versions
        .iter()
        .filter(|v| numbers.is_empty() || numbers.contains(&v.version_number))
        .filter(|v| min.is_none_or(|m| v.version_number >= m))
        .filter(|v| max.is_none_or(|m| v.version_number <= m))
        .filter(|v| !default_only || v.version_number == template.default_version_number)
        .collect();
    matching.sort_by_key(|v| v.version_number);
    let total = matching.len();
    let items: Vec<Value> = page(matching, number, size)
        .into_iter()
        .map(|v| {
            let mut item = json!({
                "LaunchTemplateId": template.launch_template_id,
                "LaunchTemplateName": template.launch_template_name,
                "VersionNumber": v.version_number,
                "DefaultVersion": v.version_number == template.default_version_number,
                "VersionDescription": v.version_description,
                "CreateTime": iso(v.create_time),
                "ModifiedTime": iso(v.create_time),
                "CreatedBy": ecs.account_id,
            });
            if detail {
                item["LaunchTemplateData"] = v.data.to_json();
            }
            item
        })
        .collect();
    Ok(json!({
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "LaunchTemplateVersionSets": {"LaunchTemplateVersionSet": items},
    }))
}

/// DeleteLaunchTemplate: the template and every version of it.
pub fn delete_launch_template(ecs: &mut Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let at = ecs.template_position(p)?;
    let template = ecs.launch_templates.remove(at);
    let numbers: Vec<i64> = template.versions.iter().map(|v| v.version_number).collect();
    Ok(json!({
        "LaunchTemplateId": template.launch_template_id,
        "LaunchTemplateVersionNumbers": {"versionNumbers": numbers},
    }))
}

/// DeleteLaunchTemplateVersion: `DeleteVersion.N` (1 to 29 of them), all or nothing: an
/// unknown version is 404 `InvalidLaunchTemplateVersion.NotFound`, the default one 403
/// `InvalidOperation.DeleteDefaultVersion`.
pub fn delete_launch_template_version(
    ecs: &mut Ecs,
    p: &Params,
    ctx: &Ctx,
) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let mut numbers: Vec<i64> = p
        .list("DeleteVersion", MAX_DELETED_VERSIONS)?
        .into_iter()
        .map(|raw| version_number("DeleteVersion.N", raw))
        .collect::<Result<_, _>>()?;
    if numbers.is_empty() {
        return Err(RpcError::missing("DeleteVersion.N"));
    }
    numbers.sort_unstable();
    numbers.dedup();
    let at = ecs.template_position(p)?;
    let template = &mut ecs.launch_templates[at];
    for n in &numbers {
        if template.version(*n).is_none() {
            return Err(errors::launch_template_version_not_found(
                &template.launch_template_id,
                *n,
            ));
        }
        if *n == template.default_version_number {
            return Err(errors::delete_default_version(
                &template.launch_template_id,
                *n,
            ));
        }
    }
    template
        .versions
        .retain(|v| !numbers.contains(&v.version_number));
    template.modified_time = ctx.now;
    let deleted: Vec<Value> = numbers
        .iter()
        .map(|n| {
            json!({
                "LaunchTemplateId": template.launch_template_id,
                "LaunchTemplateVersionNumber": n,
            })
        })
        .collect();
    Ok(json!({"LaunchTemplateVersions": {"LaunchTemplateVersion": deleted}}))
}

/// ModifyLaunchTemplateDefaultVersion: `DefaultVersionNumber` (required; one the template
/// holds, else 404 `InvalidLaunchTemplateVersion.NotFound`) becomes the default.
pub fn modify_launch_template_default_version(
    ecs: &mut Ecs,
    p: &Params,
    ctx: &Ctx,
) -> Result<Value, RpcError> {
    ctx.region(p)?;
    let number = version_number("DefaultVersionNumber", p.required("DefaultVersionNumber")?)?;
    let at = ecs.template_position(p)?;
    let template = &mut ecs.launch_templates[at];
    if template.version(number).is_none() {
        return Err(errors::launch_template_version_not_found(
            &template.launch_template_id,
            number,
        ));
    }
    template.default_version_number = number;
    template.modified_time = ctx.now;
    Ok(json!({"LaunchTemplateId": template.launch_template_id}))
}

/// The launch parameters of a RunInstances that names a template (`LaunchTemplateId` or
/// `LaunchTemplateName`, and `LaunchTemplateVersion`, else the default version): the
/// version's parameters, overridden by those of the request. `None` for a request that names
/// no template.
pub fn launch_parameters(ecs: &Ecs, p: &Params) -> Result<Option<Params>, RpcError> {
    let (id, name) = (p.get("LaunchTemplateId"), p.get("LaunchTemplateName"));
    if id.is_none() && name.is_none() {
        return Ok(None);
    }
    let template = ecs.launch_template(id, name)?;
    let version = match p.get("LaunchTemplateVersion") {
        Some(raw) => {
            let n = version_number("LaunchTemplateVersion", raw)?;
            template.version(n).ok_or_else(|| {
                errors::launch_template_version_not_found(&template.launch_template_id, n)
            })?
        }
        None => template.default_version().ok_or_else(|| {
            errors::launch_template_version_not_found(
                &template.launch_template_id,
                template.default_version_number,
            )
        })?,
    };
    let request_groups = p.get("SecurityGroupId").is_some()
        || p.iter().any(|(k, _)| k.starts_with("SecurityGroupIds."));
    let mut merged: Vec<(String, String)> = version
        .data
        .run_parameters()
        .into_iter()
        .filter(|(k, _)| p.get(k).is_none())
        .filter(|(k, _)| {
            !(request_groups && (k == "SecurityGroupId" || k.starts_with("SecurityGroupIds.")))
        })
        .collect();
    merged.extend(
        p.iter()
            .filter(|(k, _)| !matches!(*k, "LaunchTemplateId" | "LaunchTemplateName"))
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    Ok(Some(Params::from_strs(
        merged.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn template_names_follow_the_documented_rule() {
        for ok in ["ab", "web-template_1:v2", "模板-web"] {
            assert!(name_ok(ok), "{ok}");
        }
        let long = "a".repeat(129);
        for bad in [
            "a",
            "1web",
            "web template",
            "web.template",
            "http://x",
            &long,
        ] {
            assert!(!name_ok(bad), "{bad}");
        }
    }

    #[test]
    fn version_numbers_are_never_given_twice_and_latest_is_the_highest_held() {
        let mut ecs = Ecs::default();
        let now = t0();
        let data = TemplateData::default;
        let id = ecs
            .add_launch_template(
                NewTemplate {
                    launch_template_name: "web".into(),
                    versions: vec![(String::new(), data()), (String::new(), data())],
                    ..Default::default()
                },
                now,
                true,
            )
            .unwrap();
        let template = ecs.launch_template(Some(&id), None).unwrap();
        assert_eq!(
            (
                template.default_version_number,
                template.latest_version_number(),
                template.next_version_number
            ),
            (1, 2, 3)
        );
        ecs.launch_templates[0].versions.pop();
        assert_eq!(ecs.launch_templates[0].latest_version_number(), 1);
        assert_eq!(ecs.launch_templates[0].next_version_number, 3);
    }

    #[test]
    fn a_launch_takes_the_versions_parameters_unless_the_request_gives_its_own() {
        let mut ecs = Ecs::default();
        let data = TemplateData {
            image_id: Some("m-1".into()),
            instance_type: Some("ecs.g7.large".into()),
            security_group_id: Some("sg-1".into()),
            system_disk_size: Some(40),
            ..Default::default()
        };
        ecs.add_launch_template(
            NewTemplate {
                launch_template_name: "web".into(),
                versions: vec![(String::new(), data)],
                ..Default::default()
            },
            t0(),
            true,
        )
        .unwrap();
        let p = Params::from_strs([
            ("LaunchTemplateName", "web"),
            ("InstanceType", "ecs.c7.large"),
            ("SecurityGroupIds.1", "sg-2"),
        ]);
        let merged = launch_parameters(&ecs, &p).unwrap().unwrap();
        assert_eq!(merged.get("ImageId"), Some("m-1"));
        assert_eq!(merged.get("InstanceType"), Some("ecs.c7.large"));
        assert_eq!(merged.get("SystemDisk.Size"), Some("40"));
        assert_eq!(merged.get("SecurityGroupId"), None);
        assert_eq!(merged.get("SecurityGroupIds.1"), Some("sg-2"));
        assert_eq!(merged.get("LaunchTemplateName"), None);
        let p = Params::from_strs([
            ("LaunchTemplateName", "web"),
            ("LaunchTemplateVersion", "2"),
        ]);
        let err = launch_parameters(&ecs, &p).unwrap_err();
        assert_eq!(err.code, "InvalidLaunchTemplateVersion.NotFound");
        assert!(
            launch_parameters(&ecs, &Params::default())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn every_documented_parameter_is_kept_typed_and_answered_in_the_documented_shape() {
        let p = Params::from_strs([
            ("ImageId", "m-1"),
            ("SystemDisk.Size", "40"),
            ("SystemDisk.Iops", "3000"),
            ("SystemDisk.DeleteWithInstance", "True"),
            ("InternetMaxBandwidthOut", "0"),
            ("SpotPriceLimit", "0.98"),
            ("UserData", "AAEC/w=="),
            ("SecurityOptions.TrustedSystemMode", "vTPM"),
            ("ImageOptions.LoginAsNonRoot", "false"),
            ("DataDisk.2.Size", "100"),
            ("DataDisk.2.DeleteWithInstance", "false"),
            ("NetworkInterface.1.VSwitchId", "vsw-1"),
            ("NetworkInterface.1.SecurityGroupIds.2", "sg-2"),
            ("NetworkInterface.1.SecurityGroupIds.1", "sg-1"),
            ("Tag.1.Key", "team"),
            ("Tag.1.Value", "web"),
            ("NotDocumented", "x"),
        ]);
        let data = TemplateData::from_params(&p).unwrap();
        assert_eq!(
            data.other
                .get("SystemDisk.DeleteWithInstance")
                .map(String::as_str),
            Some("true")
        );
        assert!(!data.other.contains_key("NotDocumented"));
        let v = data.to_json();
        assert_eq!(v["SystemDisk.Size"], 40);
        assert_eq!(v["SystemDisk"]["Size"], 40);
        assert_eq!(v["SystemDisk.Iops"], 3000);
        assert_eq!(v["SystemDisk"]["DeleteWithInstance"], true);
        assert_eq!(v["InternetMaxBandwidthOut"], 0);
        assert_eq!(v["SpotPriceLimit"], 0.98);
        assert_eq!(v["UserData"], "AAEC/w==");
        assert_eq!(v["SecurityOptions"]["TrustedSystemMode"], "vTPM");
        assert_eq!(v["ImageOptions"]["LoginAsNonRoot"], false);
        assert_eq!(v["DataDisks"]["DataDisk"][0]["Size"], 100);
        assert_eq!(v["DataDisks"]["DataDisk"][0]["DeleteWithInstance"], false);
        assert_eq!(
            v["NetworkInterfaces"]["NetworkInterface"][0]["SecurityGroupIds"]["SecurityGroupId"],
            json!(["sg-1", "sg-2"])
        );
        assert_eq!(
            v["Tags"]["InstanceTag"],
            json!([{"Key": "team", "Value": "web"}])
        );
        assert!(
            v.get("HostName").is_none(),
            "a parameter the version lacks is left out"
        );
        for bad in [
            ("InternetMaxBandwidthOut", "ten"),
            ("DeletionProtection", "yes"),
            ("SpotPriceLimit", "cheap"),
            ("DataDisk.1.Size", "1.5"),
            ("DataDisk.17.Size", "20"),
            ("NetworkInterface.9.VSwitchId", "vsw-1"),
        ] {
            let err = TemplateData::from_params(&Params::from_strs([bad])).unwrap_err();
            assert_eq!(err.code, "InvalidParameter", "{bad:?}");
        }
        let both = Params::from_strs([
            ("NetworkInterface.1.SecurityGroupId", "sg-1"),
            ("NetworkInterface.1.SecurityGroupIds.1", "sg-2"),
        ]);
        assert!(TemplateData::from_params(&both).is_err());
    }
}
