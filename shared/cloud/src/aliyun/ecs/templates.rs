//! Launch templates: CreateLaunchTemplate, CreateLaunchTemplateVersion,
//! DescribeLaunchTemplates, DescribeLaunchTemplateVersions, DeleteLaunchTemplate,
//! DeleteLaunchTemplateVersion and ModifyLaunchTemplateDefaultVersion (each operation's page,
//! e.g. <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describelaunchtemplateversions>).
//!
//! DescribeLaunchTemplateVersions lists the versions of **one** template, named by
//! `LaunchTemplateId` or `LaunchTemplateName` (one of them is required; there is no
//! `LaunchTemplateId.N`), with each version's `LaunchTemplateData` (its `ImageId` among them)
//! unless `DetailFlag` is false. Every image the region's templates name is therefore one
//! DescribeLaunchTemplates listing (50 a page) and one DescribeLaunchTemplateVersions per
//! template (a template holds at most 30 versions: one page of 50):
//! [`Ecs::launch_template_images`].

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::super::error::{Error, RequestError};
use super::super::{Params, ResourceTags, RpcMethod, Tag, all_pages, lenient, validate};
use super::{Ecs, validate_description};

/// Most templates a region holds through the API (CreateLaunchTemplate).
pub const MAX_LAUNCH_TEMPLATES: usize = 30;
/// Most versions a template holds.
pub const MAX_LAUNCH_TEMPLATE_VERSIONS: usize = 30;
/// The page size the `_all` helpers ask for: DescribeLaunchTemplates and
/// DescribeLaunchTemplateVersions document none beyond the default of 10; 50 is what the
/// clouds' own tools page at.
pub const LAUNCH_TEMPLATE_PAGE_SIZE: u32 = 50;
/// Most `LaunchTemplateId.N` or `LaunchTemplateName.N` of DescribeLaunchTemplates.
pub const MAX_DESCRIBED_LAUNCH_TEMPLATES: usize = 100;
/// Most `DeleteVersion.N` of DeleteLaunchTemplateVersion.
pub const MAX_DELETED_VERSIONS: usize = 29;
/// Most `TemplateTag.N`.
pub const MAX_TEMPLATE_TAGS: usize = 20;

/// The template an operation acts on: `LaunchTemplateId` or `LaunchTemplateName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchTemplateRef {
    /// `LaunchTemplateId` (`lt-…`).
    Id(String),
    /// `LaunchTemplateName`.
    Name(String),
}

impl Default for LaunchTemplateRef {
    fn default() -> Self {
        Self::Id(String::new())
    }
}

impl LaunchTemplateRef {
    fn put(&self, p: &mut Params) -> Result<(), RequestError> {
        match self {
            Self::Id(id) => {
                validate::non_empty("LaunchTemplateId", id)?;
                p.put("LaunchTemplateId", id);
            }
            Self::Name(name) => {
                validate_launch_template_name(name)?;
                p.put("LaunchTemplateName", name);
            }
        }
        Ok(())
    }
}

/// A template name as ECS takes it: 2 to 128 characters, starting with a letter, not with
/// `http://` or `https://`; letters, digits, `:`, `_` and `-`.
pub fn validate_launch_template_name(name: &str) -> Result<(), RequestError> {
    let err = |problem: String| Err(RequestError::new("LaunchTemplateName", problem));
    let count = name.chars().count();
    if !(2..=128).contains(&count) {
        return err(format!("is {count} characters long; must be 2 to 128"));
    }
    if !name.chars().next().is_some_and(char::is_alphabetic) {
        return err("must start with a letter".into());
    }
    if name.starts_with("http://") || name.starts_with("https://") {
        return err("must not start with http:// or https://".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_alphanumeric() || matches!(c, ':' | '_' | '-')))
    {
        return err(format!(
            "holds {bad:?}; only letters, digits, ':', '_' and '-' are allowed"
        ));
    }
    Ok(())
}

/// Most `DataDisk.N` of a version.
pub const MAX_TEMPLATE_DATA_DISKS: usize = 16;
/// Most `NetworkInterface.N` of a version (sim/README.md: the bound the sim applies).
pub const MAX_TEMPLATE_NETWORK_INTERFACES: usize = 8;
/// Most `Tag.N` of a version.
pub const MAX_TEMPLATE_INSTANCE_TAGS: usize = 20;

/// The launch parameters of a version: every documented parameter of
/// CreateLaunchTemplateVersion (ECS checks none of them until an instance is launched from
/// the version). The same type is read from DescribeLaunchTemplateVersions'
/// `LaunchTemplateData`, so that a version is copied by reading it, changing a field and
/// creating a version with it ([`Ecs::create_version_from`]): nothing the version holds is
/// lost. A parameter the version lacks is `None` (or an empty list); an empty string reads as
/// `None`, as ECS treats an empty parameter as an absent one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "RawLaunchTemplateData")]
pub struct LaunchTemplateData {
    /// `ImageId`.
    pub image_id: Option<String>,
    /// `ImageOwnerAlias`.
    pub image_owner_alias: Option<String>,
    /// `InstanceType`.
    pub instance_type: Option<String>,
    /// `InstanceName`.
    pub instance_name: Option<String>,
    /// `Description` (of the instances).
    pub description: Option<String>,
    /// `HostName`.
    pub host_name: Option<String>,
    /// `SecurityGroupId`: one group (exclusive with `security_group_ids`).
    pub security_group_id: Option<String>,
    /// `SecurityGroupIds.N`.
    pub security_group_ids: Vec<String>,
    /// `VpcId`.
    pub vpc_id: Option<String>,
    /// `VSwitchId`.
    pub vswitch_id: Option<String>,
    /// `ZoneId`.
    pub zone_id: Option<String>,
    /// `PrivateIpAddress`.
    pub private_ip_address: Option<String>,
    /// `NetworkType`.
    pub network_type: Option<String>,
    /// `Ipv6AddressCount`.
    pub ipv6_address_count: Option<i64>,
    /// `InternetChargeType`.
    pub internet_charge_type: Option<String>,
    /// `InternetMaxBandwidthIn`, Mbit/s.
    pub internet_max_bandwidth_in: Option<i64>,
    /// `InternetMaxBandwidthOut`, Mbit/s.
    pub internet_max_bandwidth_out: Option<i64>,
    /// `IoOptimized`.
    pub io_optimized: Option<String>,
    /// `KeyPairName`.
    pub key_pair_name: Option<String>,
    /// `PasswordInherit`.
    pub password_inherit: Option<bool>,
    /// `RamRoleName`.
    pub ram_role_name: Option<String>,
    /// `UserData`: Base64, kept byte for byte.
    pub user_data: Option<String>,
    /// `SecurityEnhancementStrategy`.
    pub security_enhancement_strategy: Option<String>,
    /// `InstanceChargeType`.
    pub instance_charge_type: Option<String>,
    /// `Period`.
    pub period: Option<i64>,
    /// `PeriodUnit`.
    pub period_unit: Option<String>,
    /// `AutoRenew`.
    pub auto_renew: Option<bool>,
    /// `AutoRenewPeriod`.
    pub auto_renew_period: Option<i64>,
    /// `AutoReleaseTime`.
    pub auto_release_time: Option<String>,
    /// `SpotStrategy`.
    pub spot_strategy: Option<String>,
    /// `SpotPriceLimit`, as the cloud wrote it (`0.98`).
    pub spot_price_limit: Option<String>,
    /// `SpotDuration`, hours.
    pub spot_duration: Option<i64>,
    /// `DeletionProtection`.
    pub deletion_protection: Option<bool>,
    /// `DeploymentSetId`.
    pub deployment_set_id: Option<String>,
    /// `CreditSpecification`.
    pub credit_specification: Option<String>,
    /// `EnableVmOsConfig`.
    pub enable_vm_os_config: Option<bool>,
    /// `ResourceGroupId`.
    pub resource_group_id: Option<String>,
    /// `HttpEndpoint` (instance metadata access).
    pub http_endpoint: Option<String>,
    /// `HttpTokens` (`optional` / `required`).
    pub http_tokens: Option<String>,
    /// `HttpPutResponseHopLimit`.
    pub http_put_response_hop_limit: Option<i64>,
    /// `SecurityOptions.TrustedSystemMode`.
    pub trusted_system_mode: Option<String>,
    /// `ImageOptions.LoginAsNonRoot`.
    pub login_as_non_root: Option<bool>,
    /// `SystemDisk.Category`.
    pub system_disk_category: Option<String>,
    /// `SystemDisk.Size`, GiB.
    pub system_disk_size: Option<u32>,
    /// `SystemDisk.DiskName`.
    pub system_disk_name: Option<String>,
    /// `SystemDisk.Description`.
    pub system_disk_description: Option<String>,
    /// `SystemDisk.Iops`.
    pub system_disk_iops: Option<i64>,
    /// `SystemDisk.PerformanceLevel`.
    pub system_disk_performance_level: Option<String>,
    /// `SystemDisk.DeleteWithInstance`.
    pub system_disk_delete_with_instance: Option<bool>,
    /// `SystemDisk.AutoSnapshotPolicyId`.
    pub system_disk_auto_snapshot_policy_id: Option<String>,
    /// `SystemDisk.BurstingEnabled`.
    pub system_disk_bursting_enabled: Option<bool>,
    /// `SystemDisk.Encrypted` (a string in the API: `"true"`).
    pub system_disk_encrypted: Option<String>,
    /// `SystemDisk.KMSKeyId`.
    pub system_disk_kms_key_id: Option<String>,
    /// `SystemDisk.ProvisionedIops`.
    pub system_disk_provisioned_iops: Option<i64>,
    /// `DataDisk.N` (at most 16).
    pub data_disks: Vec<LaunchTemplateDataDisk>,
    /// `NetworkInterface.N`: the secondary ENIs (at most 8).
    pub network_interfaces: Vec<LaunchTemplateNetworkInterface>,
    /// `Tag.N`: the tags of the instances launched from the version (at most 20).
    pub tags: Vec<Tag>,
    /// `VersionDescription` (2 to 256 characters): the version's, not part of
    /// `LaunchTemplateData` (never read from an answer).
    pub version_description: Option<String>,
    /// What an answer held that this type does not model, by name (`NewField`,
    /// `SystemDisk.NewField`), when not empty: a version holding any cannot be copied
    /// without losing it ([`LaunchTemplateData::unread_fields`]). Never sent.
    pub unread: BTreeMap<String, Value>,
}

/// One `DataDisk.N` of a version (`DataDisks.DataDisk[]` in the answer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateDataDisk {
    /// `Category`.
    #[serde(deserialize_with = "lenient::optional_string")]
    pub category: Option<String>,
    /// `Size`, GiB.
    #[serde(deserialize_with = "optional_number")]
    pub size: Option<i64>,
    /// `SnapshotId`.
    #[serde(deserialize_with = "lenient::optional_string")]
    pub snapshot_id: Option<String>,
    /// `DiskName`.
    #[serde(deserialize_with = "lenient::optional_string")]
    pub disk_name: Option<String>,
    /// `Description`.
    #[serde(deserialize_with = "lenient::optional_string")]
    pub description: Option<String>,
    /// `Device`.
    #[serde(deserialize_with = "lenient::optional_string")]
    pub device: Option<String>,
    /// `DeleteWithInstance`.
    #[serde(deserialize_with = "optional_boolean")]
    pub delete_with_instance: Option<bool>,
    /// `Encrypted` (a string in the API).
    #[serde(deserialize_with = "lenient::optional_string")]
    pub encrypted: Option<String>,
    /// `KMSKeyId`.
    #[serde(rename = "KMSKeyId", deserialize_with = "lenient::optional_string")]
    pub kms_key_id: Option<String>,
    /// `PerformanceLevel`.
    #[serde(deserialize_with = "lenient::optional_string")]
    pub performance_level: Option<String>,
    /// `ProvisionedIops`.
    #[serde(deserialize_with = "optional_number")]
    pub provisioned_iops: Option<i64>,
    /// `BurstingEnabled`.
    #[serde(deserialize_with = "optional_boolean")]
    pub bursting_enabled: Option<bool>,
    /// `AutoSnapshotPolicyId`.
    #[serde(deserialize_with = "lenient::optional_string")]
    pub auto_snapshot_policy_id: Option<String>,
    /// What the answer held that this type does not model (never sent).
    #[serde(flatten)]
    pub unread: BTreeMap<String, Value>,
}

/// One `NetworkInterface.N` of a version (`NetworkInterfaces.NetworkInterface[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "RawNetworkInterface")]
pub struct LaunchTemplateNetworkInterface {
    /// `VSwitchId`.
    pub vswitch_id: Option<String>,
    /// `NetworkInterfaceName`.
    pub network_interface_name: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// `SecurityGroupId` (exclusive with `security_group_ids`).
    pub security_group_id: Option<String>,
    /// `SecurityGroupIds.N`.
    pub security_group_ids: Vec<String>,
    /// `PrimaryIpAddress`.
    pub primary_ip_address: Option<String>,
    /// `InstanceType` (`Primary` / `Secondary`).
    pub instance_type: Option<String>,
    /// `NetworkInterfaceTrafficMode`.
    pub network_interface_traffic_mode: Option<String>,
    /// `DeleteOnRelease`.
    pub delete_on_release: Option<bool>,
    /// What the answer held that this type does not model (never sent).
    pub unread: BTreeMap<String, Value>,
}

/// `SecurityGroupIds.SecurityGroupId[]` of an answer, unless it only repeats
/// `SecurityGroupId`: the two are exclusive in a request (and documented as exclusive in the
/// answer), so a version made with one group is copied with that one parameter.
fn exclusive_groups(one: &Option<String>, list: SecurityGroupIds) -> Vec<String> {
    match (one, list.security_group_id.as_slice()) {
        (Some(one), [only]) if only == one => Vec::new(),
        _ => list.security_group_id,
    }
}

/// A number, a number written as a string, or absent/null/empty (`None`).
fn optional_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let s = lenient::string(d)?;
    if s.trim().is_empty() {
        return Ok(None);
    }
    s.trim()
        .parse::<i64>()
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A boolean, `"true"`/`"false"` in any case, or absent/null/empty (`None`).
fn optional_boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let s = lenient::string(d)?;
    match s.to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        _ => Err(serde::de::Error::custom(format!(
            "expected a boolean, found {s:?}"
        ))),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RawNetworkInterface {
    #[serde(rename = "VSwitchId", deserialize_with = "lenient::optional_string")]
    vswitch_id: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    network_interface_name: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    description: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    security_group_id: Option<String>,
    security_group_ids: SecurityGroupIds,
    #[serde(deserialize_with = "lenient::optional_string")]
    primary_ip_address: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    instance_type: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    network_interface_traffic_mode: Option<String>,
    #[serde(deserialize_with = "optional_boolean")]
    delete_on_release: Option<bool>,
    #[serde(flatten)]
    unread: BTreeMap<String, Value>,
}

impl From<RawNetworkInterface> for LaunchTemplateNetworkInterface {
    fn from(r: RawNetworkInterface) -> Self {
        Self {
            vswitch_id: r.vswitch_id,
            network_interface_name: r.network_interface_name,
            description: r.description,
            security_group_ids: exclusive_groups(&r.security_group_id, r.security_group_ids),
            security_group_id: r.security_group_id,
            primary_ip_address: r.primary_ip_address,
            instance_type: r.instance_type,
            network_interface_traffic_mode: r.network_interface_traffic_mode,
            delete_on_release: r.delete_on_release,
            unread: r.unread,
        }
    }
}

/// `SystemDisk`: the system disk's parameters as one object, as the current API metadata
/// describes them (the page's example writes them flat, `SystemDisk.Size`; both are read,
/// the flat names first).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RawSystemDisk {
    #[serde(deserialize_with = "lenient::optional_string")]
    category: Option<String>,
    #[serde(deserialize_with = "optional_number")]
    size: Option<i64>,
    #[serde(deserialize_with = "lenient::optional_string")]
    disk_name: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    description: Option<String>,
    #[serde(deserialize_with = "optional_number")]
    iops: Option<i64>,
    #[serde(deserialize_with = "lenient::optional_string")]
    performance_level: Option<String>,
    #[serde(deserialize_with = "optional_boolean")]
    delete_with_instance: Option<bool>,
    #[serde(deserialize_with = "lenient::optional_string")]
    auto_snapshot_policy_id: Option<String>,
    #[serde(deserialize_with = "optional_boolean")]
    bursting_enabled: Option<bool>,
    #[serde(deserialize_with = "lenient::optional_string")]
    encrypted: Option<String>,
    #[serde(rename = "KMSKeyId", deserialize_with = "lenient::optional_string")]
    kms_key_id: Option<String>,
    #[serde(deserialize_with = "optional_number")]
    provisioned_iops: Option<i64>,
    #[serde(flatten)]
    unread: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RawSecurityOptions {
    #[serde(deserialize_with = "lenient::optional_string")]
    trusted_system_mode: Option<String>,
    #[serde(flatten)]
    unread: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RawImageOptions {
    #[serde(deserialize_with = "optional_boolean")]
    login_as_non_root: Option<bool>,
    #[serde(flatten)]
    unread: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RawDataDisks {
    data_disk: Vec<LaunchTemplateDataDisk>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RawNetworkInterfaces {
    network_interface: Vec<LaunchTemplateNetworkInterface>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RawInstanceTag {
    #[serde(deserialize_with = "lenient::string")]
    key: String,
    #[serde(deserialize_with = "lenient::string")]
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RawInstanceTags {
    instance_tag: Vec<RawInstanceTag>,
}

/// `LaunchTemplateData` as DescribeLaunchTemplateVersions writes it.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RawLaunchTemplateData {
    #[serde(deserialize_with = "lenient::optional_string")]
    image_id: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    image_owner_alias: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    instance_type: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    instance_name: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    description: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    host_name: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    security_group_id: Option<String>,
    security_group_ids: SecurityGroupIds,
    #[serde(deserialize_with = "lenient::optional_string")]
    vpc_id: Option<String>,
    #[serde(rename = "VSwitchId", deserialize_with = "lenient::optional_string")]
    vswitch_id: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    zone_id: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    private_ip_address: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    network_type: Option<String>,
    #[serde(deserialize_with = "optional_number")]
    ipv6_address_count: Option<i64>,
    #[serde(deserialize_with = "lenient::optional_string")]
    internet_charge_type: Option<String>,
    #[serde(deserialize_with = "optional_number")]
    internet_max_bandwidth_in: Option<i64>,
    #[serde(deserialize_with = "optional_number")]
    internet_max_bandwidth_out: Option<i64>,
    #[serde(deserialize_with = "lenient::optional_string")]
    io_optimized: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    key_pair_name: Option<String>,
    #[serde(deserialize_with = "optional_boolean")]
    password_inherit: Option<bool>,
    #[serde(deserialize_with = "lenient::optional_string")]
    ram_role_name: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    user_data: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    security_enhancement_strategy: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    instance_charge_type: Option<String>,
    #[serde(deserialize_with = "optional_number")]
    period: Option<i64>,
    #[serde(deserialize_with = "lenient::optional_string")]
    period_unit: Option<String>,
    #[serde(deserialize_with = "optional_boolean")]
    auto_renew: Option<bool>,
    #[serde(deserialize_with = "optional_number")]
    auto_renew_period: Option<i64>,
    #[serde(deserialize_with = "lenient::optional_string")]
    auto_release_time: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    spot_strategy: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    spot_price_limit: Option<String>,
    #[serde(deserialize_with = "optional_number")]
    spot_duration: Option<i64>,
    #[serde(deserialize_with = "optional_boolean")]
    deletion_protection: Option<bool>,
    #[serde(deserialize_with = "lenient::optional_string")]
    deployment_set_id: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    credit_specification: Option<String>,
    #[serde(deserialize_with = "optional_boolean")]
    enable_vm_os_config: Option<bool>,
    #[serde(deserialize_with = "lenient::optional_string")]
    resource_group_id: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    http_endpoint: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    http_tokens: Option<String>,
    #[serde(deserialize_with = "optional_number")]
    http_put_response_hop_limit: Option<i64>,
    security_options: RawSecurityOptions,
    image_options: RawImageOptions,
    system_disk: RawSystemDisk,
    #[serde(
        rename = "SystemDisk.Category",
        deserialize_with = "lenient::optional_string"
    )]
    flat_category: Option<String>,
    #[serde(rename = "SystemDisk.Size", deserialize_with = "optional_number")]
    flat_size: Option<i64>,
    #[serde(
        rename = "SystemDisk.DiskName",
        deserialize_with = "lenient::optional_string"
    )]
    flat_disk_name: Option<String>,
    #[serde(
        rename = "SystemDisk.Description",
        deserialize_with = "lenient::optional_string"
    )]
    flat_description: Option<String>,
    #[serde(rename = "SystemDisk.Iops", deserialize_with = "optional_number")]
    flat_iops: Option<i64>,
    #[serde(
        rename = "SystemDisk.PerformanceLevel",
        deserialize_with = "lenient::optional_string"
    )]
    flat_performance_level: Option<String>,
    #[serde(
        rename = "SystemDisk.DeleteWithInstance",
        deserialize_with = "optional_boolean"
    )]
    flat_delete_with_instance: Option<bool>,
    #[serde(
        rename = "SystemDisk.AutoSnapshotPolicyId",
        deserialize_with = "lenient::optional_string"
    )]
    flat_auto_snapshot_policy_id: Option<String>,
    #[serde(
        rename = "SystemDisk.BurstingEnabled",
        deserialize_with = "optional_boolean"
    )]
    flat_bursting_enabled: Option<bool>,
    #[serde(
        rename = "SystemDisk.Encrypted",
        deserialize_with = "lenient::optional_string"
    )]
    flat_encrypted: Option<String>,
    #[serde(
        rename = "SystemDisk.KMSKeyId",
        deserialize_with = "lenient::optional_string"
    )]
    flat_kms_key_id: Option<String>,
    #[serde(
        rename = "SystemDisk.ProvisionedIops",
        deserialize_with = "optional_number"
    )]
    flat_provisioned_iops: Option<i64>,
    data_disks: RawDataDisks,
    network_interfaces: RawNetworkInterfaces,
    tags: RawInstanceTags,
    #[serde(flatten)]
    unread: BTreeMap<String, Value>,
}

impl From<RawLaunchTemplateData> for LaunchTemplateData {
    fn from(r: RawLaunchTemplateData) -> Self {
        let mut unread = r.unread;
        for (prefix, more) in [
            ("SystemDisk", &r.system_disk.unread),
            ("SecurityOptions", &r.security_options.unread),
            ("ImageOptions", &r.image_options.unread),
        ] {
            for (k, v) in more {
                unread.insert(format!("{prefix}.{k}"), v.clone());
            }
        }
        unread.retain(|_, v| !empty_value(v));
        let d = r.system_disk;
        Self {
            image_id: r.image_id,
            image_owner_alias: r.image_owner_alias,
            instance_type: r.instance_type,
            instance_name: r.instance_name,
            description: r.description,
            host_name: r.host_name,
            security_group_ids: exclusive_groups(&r.security_group_id, r.security_group_ids),
            security_group_id: r.security_group_id,
            vpc_id: r.vpc_id,
            vswitch_id: r.vswitch_id,
            zone_id: r.zone_id,
            private_ip_address: r.private_ip_address,
            network_type: r.network_type,
            ipv6_address_count: r.ipv6_address_count,
            internet_charge_type: r.internet_charge_type,
            internet_max_bandwidth_in: r.internet_max_bandwidth_in,
            internet_max_bandwidth_out: r.internet_max_bandwidth_out,
            io_optimized: r.io_optimized,
            key_pair_name: r.key_pair_name,
            password_inherit: r.password_inherit,
            ram_role_name: r.ram_role_name,
            user_data: r.user_data,
            security_enhancement_strategy: r.security_enhancement_strategy,
            instance_charge_type: r.instance_charge_type,
            period: r.period,
            period_unit: r.period_unit,
            auto_renew: r.auto_renew,
            auto_renew_period: r.auto_renew_period,
            auto_release_time: r.auto_release_time,
            spot_strategy: r.spot_strategy,
            spot_price_limit: r.spot_price_limit,
            spot_duration: r.spot_duration,
            deletion_protection: r.deletion_protection,
            deployment_set_id: r.deployment_set_id,
            credit_specification: r.credit_specification,
            enable_vm_os_config: r.enable_vm_os_config,
            resource_group_id: r.resource_group_id,
            http_endpoint: r.http_endpoint,
            http_tokens: r.http_tokens,
            http_put_response_hop_limit: r.http_put_response_hop_limit,
            trusted_system_mode: r.security_options.trusted_system_mode,
            login_as_non_root: r.image_options.login_as_non_root,
            system_disk_category: r.flat_category.or(d.category),
            system_disk_size: r
                .flat_size
                .or(d.size)
                .and_then(|s| u32::try_from(s).ok())
                .filter(|s| *s > 0),
            system_disk_name: r.flat_disk_name.or(d.disk_name),
            system_disk_description: r.flat_description.or(d.description),
            system_disk_iops: r.flat_iops.or(d.iops),
            system_disk_performance_level: r.flat_performance_level.or(d.performance_level),
            system_disk_delete_with_instance: r
                .flat_delete_with_instance
                .or(d.delete_with_instance),
            system_disk_auto_snapshot_policy_id: r
                .flat_auto_snapshot_policy_id
                .or(d.auto_snapshot_policy_id),
            system_disk_bursting_enabled: r.flat_bursting_enabled.or(d.bursting_enabled),
            system_disk_encrypted: r.flat_encrypted.or(d.encrypted),
            system_disk_kms_key_id: r.flat_kms_key_id.or(d.kms_key_id),
            system_disk_provisioned_iops: r.flat_provisioned_iops.or(d.provisioned_iops),
            data_disks: r.data_disks.data_disk,
            network_interfaces: r.network_interfaces.network_interface,
            tags: r
                .tags
                .instance_tag
                .into_iter()
                .map(|t| Tag::new(t.key, t.value))
                .collect(),
            version_description: None,
            unread,
        }
    }
}

/// `null`, `""`, and objects and lists holding only such: no value a copy could lose.
fn empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.iter().all(empty_value),
        Value::Object(members) => members.values().all(empty_value),
        _ => false,
    }
}

impl LaunchTemplateData {
    /// The same launch parameters with another image: what a new version for a new image
    /// is made of (the version description is not carried over).
    pub fn with_image(&self, image_id: impl Into<String>) -> Self {
        Self {
            image_id: Some(image_id.into()),
            version_description: None,
            ..self.clone()
        }
    }

    /// The names of what an answer held that this type does not model (`NewField`,
    /// `DataDisk.2.NewField`, `NetworkInterface.1.NewField`): empty when the version can be
    /// copied whole. [`Ecs::create_version_from`] refuses to copy a version naming any.
    pub fn unread_fields(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .unread
            .iter()
            .filter(|(_, v)| !empty_value(v))
            .map(|(k, _)| k.clone())
            .collect();
        for (n, d) in self.data_disks.iter().enumerate() {
            out.extend(
                d.unread
                    .iter()
                    .filter(|(_, v)| !empty_value(v))
                    .map(|(k, _)| format!("DataDisk.{}.{k}", n + 1)),
            );
        }
        for (n, nic) in self.network_interfaces.iter().enumerate() {
            out.extend(
                nic.unread
                    .iter()
                    .filter(|(_, v)| !empty_value(v))
                    .map(|(k, _)| format!("NetworkInterface.{}.{k}", n + 1)),
            );
        }
        out
    }

    fn put(&self, p: &mut Params) -> Result<(), RequestError> {
        validate::repeat_list(
            "SecurityGroupIds.N",
            &self.security_group_ids,
            self.security_group_ids.len(),
        )?;
        if self.security_group_id.is_some() && !self.security_group_ids.is_empty() {
            return Err(RequestError::new(
                "SecurityGroupIds.N",
                "cannot be set together with SecurityGroupId",
            ));
        }
        if let Some(d) = &self.version_description {
            validate_description(d)
                .map_err(|e| RequestError::new("VersionDescription", e.problem))?;
        }
        if let Some(size) = self.system_disk_size {
            if !(1..=super::MAX_SYSTEM_DISK_GIB).contains(&size) {
                return Err(RequestError::new(
                    "SystemDisk.Size",
                    format!("is {size} GiB; must be 1 to {}", super::MAX_SYSTEM_DISK_GIB),
                ));
            }
        }
        for (name, count, max) in [
            ("DataDisk.N", self.data_disks.len(), MAX_TEMPLATE_DATA_DISKS),
            (
                "NetworkInterface.N",
                self.network_interfaces.len(),
                MAX_TEMPLATE_NETWORK_INTERFACES,
            ),
            ("Tag.N", self.tags.len(), MAX_TEMPLATE_INSTANCE_TAGS),
        ] {
            if count > max {
                return Err(RequestError::new(
                    name,
                    format!("{count} of them; at most {max}"),
                ));
            }
        }
        if let Some(n) = self
            .network_interfaces
            .iter()
            .position(|n| n.security_group_id.is_some() && !n.security_group_ids.is_empty())
        {
            return Err(RequestError::new(
                format!("NetworkInterface.{}.SecurityGroupIds.N", n + 1),
                "cannot be set together with SecurityGroupId",
            ));
        }
        validate::tags(&self.tags)?;
        let s = |v: &Option<String>| v.clone();
        let n = |v: &Option<i64>| v.map(|x| x.to_string());
        let b = |v: &Option<bool>| v.map(|x| x.to_string());
        let scalars: Vec<(&str, Option<String>)> = vec![
            ("ImageId", s(&self.image_id)),
            ("ImageOwnerAlias", s(&self.image_owner_alias)),
            ("InstanceType", s(&self.instance_type)),
            ("InstanceName", s(&self.instance_name)),
            ("Description", s(&self.description)),
            ("HostName", s(&self.host_name)),
            ("SecurityGroupId", s(&self.security_group_id)),
            ("VpcId", s(&self.vpc_id)),
            ("VSwitchId", s(&self.vswitch_id)),
            ("ZoneId", s(&self.zone_id)),
            ("PrivateIpAddress", s(&self.private_ip_address)),
            ("NetworkType", s(&self.network_type)),
            ("Ipv6AddressCount", n(&self.ipv6_address_count)),
            ("InternetChargeType", s(&self.internet_charge_type)),
            ("InternetMaxBandwidthIn", n(&self.internet_max_bandwidth_in)),
            (
                "InternetMaxBandwidthOut",
                n(&self.internet_max_bandwidth_out),
            ),
            ("IoOptimized", s(&self.io_optimized)),
            ("KeyPairName", s(&self.key_pair_name)),
            ("PasswordInherit", b(&self.password_inherit)),
            ("RamRoleName", s(&self.ram_role_name)),
            ("UserData", s(&self.user_data)),
            (
                "SecurityEnhancementStrategy",
                s(&self.security_enhancement_strategy),
            ),
            ("InstanceChargeType", s(&self.instance_charge_type)),
            ("Period", n(&self.period)),
            ("PeriodUnit", s(&self.period_unit)),
            ("AutoRenew", b(&self.auto_renew)),
            ("AutoRenewPeriod", n(&self.auto_renew_period)),
            ("AutoReleaseTime", s(&self.auto_release_time)),
            ("SpotStrategy", s(&self.spot_strategy)),
            ("SpotPriceLimit", s(&self.spot_price_limit)),
            ("SpotDuration", n(&self.spot_duration)),
            ("DeletionProtection", b(&self.deletion_protection)),
            ("DeploymentSetId", s(&self.deployment_set_id)),
            ("CreditSpecification", s(&self.credit_specification)),
            ("EnableVmOsConfig", b(&self.enable_vm_os_config)),
            ("ResourceGroupId", s(&self.resource_group_id)),
            ("HttpEndpoint", s(&self.http_endpoint)),
            ("HttpTokens", s(&self.http_tokens)),
            (
                "HttpPutResponseHopLimit",
                n(&self.http_put_response_hop_limit),
            ),
            (
                "SecurityOptions.TrustedSystemMode",
                s(&self.trusted_system_mode),
            ),
            ("ImageOptions.LoginAsNonRoot", b(&self.login_as_non_root)),
            ("SystemDisk.Category", s(&self.system_disk_category)),
            (
                "SystemDisk.Size",
                self.system_disk_size.map(|x| x.to_string()),
            ),
            ("SystemDisk.DiskName", s(&self.system_disk_name)),
            ("SystemDisk.Description", s(&self.system_disk_description)),
            ("SystemDisk.Iops", n(&self.system_disk_iops)),
            (
                "SystemDisk.PerformanceLevel",
                s(&self.system_disk_performance_level),
            ),
            (
                "SystemDisk.DeleteWithInstance",
                b(&self.system_disk_delete_with_instance),
            ),
            (
                "SystemDisk.AutoSnapshotPolicyId",
                s(&self.system_disk_auto_snapshot_policy_id),
            ),
            (
                "SystemDisk.BurstingEnabled",
                b(&self.system_disk_bursting_enabled),
            ),
            ("SystemDisk.Encrypted", s(&self.system_disk_encrypted)),
            ("SystemDisk.KMSKeyId", s(&self.system_disk_kms_key_id)),
            (
                "SystemDisk.ProvisionedIops",
                n(&self.system_disk_provisioned_iops),
            ),
            ("VersionDescription", s(&self.version_description)),
        ];
        for (name, value) in scalars {
            p.opt_str(name, value.as_deref());
        }
        p.list("SecurityGroupIds", &self.security_group_ids);
        for (i, d) in self.data_disks.iter().enumerate() {
            let k = |m: &str| format!("DataDisk.{}.{m}", i + 1);
            for (m, v) in [
                ("Category", s(&d.category)),
                ("Size", n(&d.size)),
                ("SnapshotId", s(&d.snapshot_id)),
                ("DiskName", s(&d.disk_name)),
                ("Description", s(&d.description)),
                ("Device", s(&d.device)),
                ("DeleteWithInstance", b(&d.delete_with_instance)),
                ("Encrypted", s(&d.encrypted)),
                ("KMSKeyId", s(&d.kms_key_id)),
                ("PerformanceLevel", s(&d.performance_level)),
                ("ProvisionedIops", n(&d.provisioned_iops)),
                ("BurstingEnabled", b(&d.bursting_enabled)),
                ("AutoSnapshotPolicyId", s(&d.auto_snapshot_policy_id)),
            ] {
                p.opt_str(&k(m), v.as_deref());
            }
        }
        for (i, nic) in self.network_interfaces.iter().enumerate() {
            let k = |m: &str| format!("NetworkInterface.{}.{m}", i + 1);
            for (m, v) in [
                ("VSwitchId", s(&nic.vswitch_id)),
                ("NetworkInterfaceName", s(&nic.network_interface_name)),
                ("Description", s(&nic.description)),
                ("SecurityGroupId", s(&nic.security_group_id)),
                ("PrimaryIpAddress", s(&nic.primary_ip_address)),
                ("InstanceType", s(&nic.instance_type)),
                (
                    "NetworkInterfaceTrafficMode",
                    s(&nic.network_interface_traffic_mode),
                ),
                ("DeleteOnRelease", b(&nic.delete_on_release)),
            ] {
                p.opt_str(&k(m), v.as_deref());
            }
            p.list(&k("SecurityGroupIds"), &nic.security_group_ids);
        }
        p.tags(&self.tags);
        Ok(())
    }
}

/// `TemplateTag.N.Key` / `.Value`.
fn put_template_tags(p: &mut Params, tags: &[Tag]) -> Result<(), RequestError> {
    if tags.len() > MAX_TEMPLATE_TAGS {
        return Err(RequestError::new(
            "TemplateTag.N",
            format!("{} tags; at most {MAX_TEMPLATE_TAGS}", tags.len()),
        ));
    }
    validate::tags(tags).map_err(|e| {
        RequestError::new(e.parameter.replacen("Tag.", "TemplateTag.", 1), e.problem)
    })?;
    for (i, t) in tags.iter().enumerate() {
        p.put(format!("TemplateTag.{}.Key", i + 1), &t.key);
        if !t.value.is_empty() {
            p.put(format!("TemplateTag.{}.Value", i + 1), &t.value);
        }
    }
    Ok(())
}

/// `CreateLaunchTemplate`: a template and its version 1, the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateLaunchTemplateRequest {
    /// `LaunchTemplateName` (required; see [`validate_launch_template_name`]).
    pub launch_template_name: String,
    /// `TemplateTag.N`: the template's own tags (at most 20).
    pub template_tags: Vec<Tag>,
    /// Version 1's parameters.
    pub data: LaunchTemplateData,
}

impl CreateLaunchTemplateRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate_launch_template_name(&self.launch_template_name)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("LaunchTemplateName", &self.launch_template_name);
        put_template_tags(&mut p, &self.template_tags)?;
        self.data.put(&mut p)?;
        Ok(p)
    }
}

/// `CreateLaunchTemplate` and `CreateLaunchTemplateVersion` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateVersionCreated {
    /// `RequestId`.
    pub request_id: String,
    /// `LaunchTemplateId`.
    pub launch_template_id: String,
    /// `LaunchTemplateVersionNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub launch_template_version_number: i64,
}

/// `CreateLaunchTemplateVersion`: a new version of a template (numbered after its highest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateLaunchTemplateVersionRequest {
    /// The template.
    pub template: LaunchTemplateRef,
    /// The version's parameters.
    pub data: LaunchTemplateData,
}

impl CreateLaunchTemplateVersionRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        let mut p = Params::new();
        p.put("RegionId", region_id);
        self.template.put(&mut p)?;
        self.data.put(&mut p)?;
        Ok(p)
    }
}

/// `DescribeLaunchTemplates`: the region's templates, or those named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeLaunchTemplatesRequest {
    /// `LaunchTemplateId.N` (at most 100).
    pub launch_template_ids: Vec<String>,
    /// `LaunchTemplateName.N` (at most 100).
    pub launch_template_names: Vec<String>,
    /// `TemplateTag.N`: templates holding every one of these tags (an empty value: any).
    pub template_tags: Vec<Tag>,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (the client sends at most 50).
    pub page_size: Option<u32>,
}

impl DescribeLaunchTemplatesRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::repeat_list(
            "LaunchTemplateId.N",
            &self.launch_template_ids,
            MAX_DESCRIBED_LAUNCH_TEMPLATES,
        )?;
        validate::repeat_list(
            "LaunchTemplateName.N",
            &self.launch_template_names,
            MAX_DESCRIBED_LAUNCH_TEMPLATES,
        )?;
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, LAUNCH_TEMPLATE_PAGE_SIZE)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .list("LaunchTemplateId", &self.launch_template_ids)
            .list("LaunchTemplateName", &self.launch_template_names);
        put_template_tags(&mut p, &self.template_tags)?;
        p.opt("PageNumber", self.page_number)
            .opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeLaunchTemplates` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeLaunchTemplatesResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `TotalCount`.
    #[serde(deserialize_with = "lenient::number")]
    pub total_count: i64,
    /// `PageNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub page_number: i64,
    /// `PageSize`.
    #[serde(deserialize_with = "lenient::number")]
    pub page_size: i64,
    /// `LaunchTemplateSets`.
    pub launch_template_sets: LaunchTemplateSets,
}

/// `LaunchTemplateSets: {LaunchTemplateSet: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateSets {
    /// `LaunchTemplateSet`.
    pub launch_template_set: Vec<LaunchTemplateSet>,
}

/// One template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateSet {
    /// `LaunchTemplateId`.
    pub launch_template_id: String,
    /// `LaunchTemplateName`.
    pub launch_template_name: String,
    /// `DefaultVersionNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub default_version_number: i64,
    /// `LatestVersionNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub latest_version_number: i64,
    /// `CreateTime`.
    pub create_time: String,
    /// `ModifiedTime`.
    pub modified_time: String,
    /// `CreatedBy` (an account id, a number in the page's example).
    #[serde(deserialize_with = "lenient::string")]
    pub created_by: String,
    /// `Tags`: the template's own tags.
    pub tags: ResourceTags,
}

/// `DescribeLaunchTemplateVersions`: the versions of one template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeLaunchTemplateVersionsRequest {
    /// The template (required).
    pub template: LaunchTemplateRef,
    /// `LaunchTemplateVersion.N`: only these versions.
    pub versions: Vec<i64>,
    /// `MinVersion`.
    pub min_version: Option<i64>,
    /// `MaxVersion`.
    pub max_version: Option<i64>,
    /// `DefaultVersion`: only the default version.
    pub default_version: bool,
    /// `DetailFlag`: with each version's `LaunchTemplateData` (the cloud's default: true).
    pub detail_flag: Option<bool>,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (the client sends at most 50).
    pub page_size: Option<u32>,
}

impl DescribeLaunchTemplateVersionsRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        if let Some(bad) = self.versions.iter().find(|v| **v < 1) {
            return Err(RequestError::new(
                "LaunchTemplateVersion.N",
                format!("{bad} is not a version number (they start at 1)"),
            ));
        }
        for (name, bound) in [
            ("MinVersion", self.min_version),
            ("MaxVersion", self.max_version),
        ] {
            if bound.is_some_and(|v| v < 1) {
                return Err(RequestError::new(name, "version numbers start at 1"));
            }
        }
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, LAUNCH_TEMPLATE_PAGE_SIZE)?;
        let mut p = Params::new();
        p.put("RegionId", region_id);
        self.template.put(&mut p)?;
        p.list("LaunchTemplateVersion", &self.versions)
            .opt("MinVersion", self.min_version)
            .opt("MaxVersion", self.max_version)
            .opt("DefaultVersion", self.default_version.then_some(true))
            .opt("DetailFlag", self.detail_flag)
            .opt("PageNumber", self.page_number)
            .opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeLaunchTemplateVersions` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeLaunchTemplateVersionsResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `TotalCount`: the versions that match.
    #[serde(deserialize_with = "lenient::number")]
    pub total_count: i64,
    /// `PageNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub page_number: i64,
    /// `PageSize`.
    #[serde(deserialize_with = "lenient::number")]
    pub page_size: i64,
    /// `LaunchTemplateVersionSets`.
    pub launch_template_version_sets: LaunchTemplateVersionSets,
}

/// `LaunchTemplateVersionSets: {LaunchTemplateVersionSet: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateVersionSets {
    /// `LaunchTemplateVersionSet`.
    pub launch_template_version_set: Vec<LaunchTemplateVersionSet>,
}

/// One version of a template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateVersionSet {
    /// `LaunchTemplateId`.
    pub launch_template_id: String,
    /// `LaunchTemplateName`.
    pub launch_template_name: String,
    /// `VersionNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub version_number: i64,
    /// `DefaultVersion`.
    #[serde(deserialize_with = "lenient::boolean")]
    pub default_version: bool,
    /// `VersionDescription`.
    pub version_description: String,
    /// `CreateTime`.
    pub create_time: String,
    /// `ModifiedTime`.
    pub modified_time: String,
    /// `CreatedBy`.
    #[serde(deserialize_with = "lenient::string")]
    pub created_by: String,
    /// `LaunchTemplateData` (absent with `DetailFlag=false`): every launch parameter of the
    /// version.
    pub launch_template_data: LaunchTemplateData,
}

/// `SecurityGroupIds: {SecurityGroupId: [...]}`; the page's example nests each id in a list
/// of its own, which is read flat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SecurityGroupIds {
    /// `SecurityGroupId`.
    #[serde(deserialize_with = "flat_strings")]
    pub security_group_id: Vec<String>,
}

/// A list of strings, or of lists of strings (flattened).
fn flat_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        One(String),
        Many(Vec<String>),
    }
    let items: Option<Vec<Item>> = Option::deserialize(d)?;
    Ok(items
        .unwrap_or_default()
        .into_iter()
        .flat_map(|i| match i {
            Item::One(s) => vec![s],
            Item::Many(v) => v,
        })
        .collect())
}

/// `DeleteLaunchTemplate`: the template and every version of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteLaunchTemplateRequest {
    /// The template.
    pub template: LaunchTemplateRef,
}

impl DeleteLaunchTemplateRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        let mut p = Params::new();
        p.put("RegionId", region_id);
        self.template.put(&mut p)?;
        Ok(p)
    }
}

/// `DeleteLaunchTemplate` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteLaunchTemplateResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `LaunchTemplateId`.
    pub launch_template_id: String,
    /// `LaunchTemplateVersionNumbers`: the versions deleted with it.
    pub launch_template_version_numbers: VersionNumbers,
}

/// `LaunchTemplateVersionNumbers: {versionNumbers: [...]}` (lower case, as documented).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct VersionNumbers {
    /// `versionNumbers`.
    #[serde(rename = "versionNumbers")]
    pub version_numbers: Vec<i64>,
}

/// `DeleteLaunchTemplateVersion`: some versions of a template, never its default one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteLaunchTemplateVersionRequest {
    /// The template.
    pub template: LaunchTemplateRef,
    /// `DeleteVersion.N` (1 to 29).
    pub versions: Vec<i64>,
}

impl DeleteLaunchTemplateVersionRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        if self.versions.is_empty() || self.versions.len() > MAX_DELETED_VERSIONS {
            return Err(RequestError::new(
                "DeleteVersion.N",
                format!(
                    "holds {} versions; 1 to {MAX_DELETED_VERSIONS} per call",
                    self.versions.len()
                ),
            ));
        }
        if let Some(bad) = self.versions.iter().find(|v| **v < 1) {
            return Err(RequestError::new(
                "DeleteVersion.N",
                format!("{bad} is not a version number (they start at 1)"),
            ));
        }
        let mut p = Params::new();
        p.put("RegionId", region_id);
        self.template.put(&mut p)?;
        p.list("DeleteVersion", &self.versions);
        Ok(p)
    }
}

/// `DeleteLaunchTemplateVersion` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteLaunchTemplateVersionResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `LaunchTemplateVersions`: the versions deleted.
    pub launch_template_versions: DeletedVersions,
}

/// `LaunchTemplateVersions: {LaunchTemplateVersion: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeletedVersions {
    /// `LaunchTemplateVersion`.
    pub launch_template_version: Vec<DeletedVersion>,
}

/// One deleted version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeletedVersion {
    /// `LaunchTemplateId`.
    pub launch_template_id: String,
    /// `LaunchTemplateVersionNumber`.
    #[serde(deserialize_with = "lenient::number")]
    pub launch_template_version_number: i64,
}

/// `ModifyLaunchTemplateDefaultVersion`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModifyLaunchTemplateDefaultVersionRequest {
    /// The template.
    pub template: LaunchTemplateRef,
    /// `DefaultVersionNumber` (required, from 1).
    pub default_version_number: i64,
}

impl ModifyLaunchTemplateDefaultVersionRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        if self.default_version_number < 1 {
            return Err(RequestError::new(
                "DefaultVersionNumber",
                "version numbers start at 1",
            ));
        }
        let mut p = Params::new();
        p.put("RegionId", region_id);
        self.template.put(&mut p)?;
        p.put("DefaultVersionNumber", self.default_version_number);
        Ok(p)
    }
}

/// `ModifyLaunchTemplateDefaultVersion` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ModifyLaunchTemplateDefaultVersionResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `LaunchTemplateId`.
    pub launch_template_id: String,
}

/// One version of one template of the region and the image it launches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchTemplateImage {
    /// The template.
    pub launch_template_id: String,
    /// Its name.
    pub launch_template_name: String,
    /// The version.
    pub version_number: i64,
    /// Whether it is the template's default version.
    pub default_version: bool,
    /// The image it names (`LaunchTemplateData.ImageId`); empty when it names none.
    pub image_id: String,
}

impl Ecs<'_> {
    /// `CreateLaunchTemplate`.
    pub async fn create_launch_template(
        &self,
        req: &CreateLaunchTemplateRequest,
    ) -> Result<LaunchTemplateVersionCreated, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "CreateLaunchTemplate", params)
            .await
    }

    /// `CreateLaunchTemplateVersion`.
    pub async fn create_launch_template_version(
        &self,
        req: &CreateLaunchTemplateVersionRequest,
    ) -> Result<LaunchTemplateVersionCreated, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "CreateLaunchTemplateVersion", params)
            .await
    }

    /// A new version of the template `template_id` that is `source` (every launch parameter
    /// of a version, as [`Ecs::launch_template_version`] reads it) with only its `ImageId`
    /// changed to `new_image_id`: CreateLaunchTemplateVersion takes no base version, so every
    /// parameter is sent again. Answers the new version's number. A template at its 30
    /// versions refuses with `LaunchTemplateVersionLimitExceed`. A source holding a field
    /// this client does not model ([`LaunchTemplateData::unread_fields`]) is refused before
    /// anything is sent (`Error::InvalidRequest` naming the field): no field is ever lost.
    pub async fn create_version_from(
        &self,
        template_id: &str,
        source: &LaunchTemplateData,
        new_image_id: &str,
        version_description: Option<&str>,
    ) -> Result<i64, Error> {
        if let Some(field) = source.unread_fields().into_iter().next() {
            return Err(Error::InvalidRequest {
                action: "CreateLaunchTemplateVersion".into(),
                source: RequestError::new(
                    field,
                    "the source version holds this parameter, which this client does not know: \
                     a copy would lose it",
                ),
            });
        }
        let data = LaunchTemplateData {
            version_description: version_description.map(str::to_owned),
            ..source.with_image(new_image_id)
        };
        let created = self
            .create_launch_template_version(&CreateLaunchTemplateVersionRequest {
                template: LaunchTemplateRef::Id(template_id.to_owned()),
                data,
            })
            .await?;
        Ok(created.launch_template_version_number)
    }

    /// The version of the template `template_id` that `version` names as a scaling group's
    /// `LaunchTemplateVersion` does (a number, `Default` or `Latest`), with its
    /// `LaunchTemplateData`; `None` when the template holds no such version (an unknown
    /// template is `InvalidLaunchTemplate.NotFound`). One DescribeLaunchTemplateVersions call:
    /// a template's at most 30 versions fit one page.
    pub async fn launch_template_version(
        &self,
        template_id: &str,
        version: &str,
    ) -> Result<Option<LaunchTemplateVersionSet>, Error> {
        let mut req = DescribeLaunchTemplateVersionsRequest {
            template: LaunchTemplateRef::Id(template_id.to_owned()),
            detail_flag: Some(true),
            page_size: Some(LAUNCH_TEMPLATE_PAGE_SIZE),
            ..Default::default()
        };
        match version {
            "Default" => req.default_version = true,
            "Latest" => {}
            number => {
                let n = number.trim().parse::<i64>().ok().filter(|n| *n >= 1);
                let Some(n) = n else {
                    return Err(Error::InvalidRequest {
                        action: "DescribeLaunchTemplateVersions".into(),
                        source: RequestError::new(
                            "LaunchTemplateVersion",
                            format!("{version:?} is not a version number, Default or Latest"),
                        ),
                    });
                };
                req.versions = vec![n];
            }
        }
        let versions = self.describe_launch_template_versions_all(&req).await?;
        Ok(versions.into_iter().max_by_key(|v| v.version_number))
    }

    /// `DescribeLaunchTemplates` (one page).
    pub async fn describe_launch_templates(
        &self,
        req: &DescribeLaunchTemplatesRequest,
    ) -> Result<DescribeLaunchTemplatesResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeLaunchTemplates", params)
            .await
    }

    /// Every template `DescribeLaunchTemplates` answers for `req`, 50 a page.
    pub async fn describe_launch_templates_all(
        &self,
        req: &DescribeLaunchTemplatesRequest,
    ) -> Result<Vec<LaunchTemplateSet>, Error> {
        all_pages(|page| async move {
            let r = DescribeLaunchTemplatesRequest {
                page_number: Some(page),
                page_size: Some(LAUNCH_TEMPLATE_PAGE_SIZE),
                ..req.clone()
            };
            let answer = self.describe_launch_templates(&r).await?;
            Ok((
                answer.launch_template_sets.launch_template_set,
                answer.total_count,
            ))
        })
        .await
    }

    /// `DescribeLaunchTemplateVersions` (one page).
    pub async fn describe_launch_template_versions(
        &self,
        req: &DescribeLaunchTemplateVersionsRequest,
    ) -> Result<DescribeLaunchTemplateVersionsResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeLaunchTemplateVersions", params)
            .await
    }

    /// Every version `DescribeLaunchTemplateVersions` answers for `req`, 50 a page.
    pub async fn describe_launch_template_versions_all(
        &self,
        req: &DescribeLaunchTemplateVersionsRequest,
    ) -> Result<Vec<LaunchTemplateVersionSet>, Error> {
        all_pages(|page| async move {
            let r = DescribeLaunchTemplateVersionsRequest {
                page_number: Some(page),
                page_size: Some(LAUNCH_TEMPLATE_PAGE_SIZE),
                ..req.clone()
            };
            let answer = self.describe_launch_template_versions(&r).await?;
            Ok((
                answer
                    .launch_template_version_sets
                    .launch_template_version_set,
                answer.total_count,
            ))
        })
        .await
    }

    /// Every version of every template of the region with the image it names: the region's
    /// templates (DescribeLaunchTemplates, 50 a page), then each one's versions with their
    /// `LaunchTemplateData` (DescribeLaunchTemplateVersions, one call per template: its at
    /// most 30 versions fit a page of 50). A template deleted between the two calls
    /// (`InvalidLaunchTemplate.NotFound`) has no versions left to count.
    pub async fn launch_template_images(&self) -> Result<Vec<LaunchTemplateImage>, Error> {
        let templates = self
            .describe_launch_templates_all(&DescribeLaunchTemplatesRequest::default())
            .await?;
        let mut out = Vec::new();
        for template in templates {
            let versions = match self
                .describe_launch_template_versions_all(&DescribeLaunchTemplateVersionsRequest {
                    template: LaunchTemplateRef::Id(template.launch_template_id.clone()),
                    detail_flag: Some(true),
                    ..Default::default()
                })
                .await
            {
                Ok(versions) => versions,
                Err(e) if e.code() == Some("InvalidLaunchTemplate.NotFound") => continue,
                Err(e) => return Err(e),
            };
            out.extend(versions.into_iter().map(|v| LaunchTemplateImage {
                launch_template_id: template.launch_template_id.clone(),
                launch_template_name: template.launch_template_name.clone(),
                version_number: v.version_number,
                default_version: v.default_version,
                image_id: v.launch_template_data.image_id.unwrap_or_default(),
            }));
        }
        Ok(out)
    }

    /// `DeleteLaunchTemplate`.
    pub async fn delete_launch_template(
        &self,
        req: &DeleteLaunchTemplateRequest,
    ) -> Result<DeleteLaunchTemplateResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "DeleteLaunchTemplate", params)
            .await
    }

    /// `DeleteLaunchTemplateVersion`.
    pub async fn delete_launch_template_version(
        &self,
        req: &DeleteLaunchTemplateVersionRequest,
    ) -> Result<DeleteLaunchTemplateVersionResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "DeleteLaunchTemplateVersion", params)
            .await
    }

    /// `ModifyLaunchTemplateDefaultVersion`.
    pub async fn modify_launch_template_default_version(
        &self,
        req: &ModifyLaunchTemplateDefaultVersionRequest,
    ) -> Result<ModifyLaunchTemplateDefaultVersionResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(
            RpcMethod::Post,
            "ModifyLaunchTemplateDefaultVersion",
            params,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> LaunchTemplateData {
        LaunchTemplateData {
            image_id: Some("m-1".into()),
            instance_type: Some("ecs.g7.large".into()),
            security_group_id: Some("sg-1".into()),
            vswitch_id: Some("vsw-1".into()),
            system_disk_category: Some("cloud_essd".into()),
            system_disk_size: Some(40),
            version_description: Some("web v1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn create_sends_the_name_tags_and_the_versions_parameters() {
        let p = CreateLaunchTemplateRequest {
            launch_template_name: "web".into(),
            template_tags: vec![Tag::new("team", "web"), Tag::new("spare", "")],
            data: data(),
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        for (name, want) in [
            ("RegionId", "cn-hangzhou"),
            ("LaunchTemplateName", "web"),
            ("TemplateTag.1.Key", "team"),
            ("TemplateTag.1.Value", "web"),
            ("TemplateTag.2.Key", "spare"),
            ("ImageId", "m-1"),
            ("InstanceType", "ecs.g7.large"),
            ("SecurityGroupId", "sg-1"),
            ("VSwitchId", "vsw-1"),
            ("SystemDisk.Category", "cloud_essd"),
            ("SystemDisk.Size", "40"),
            ("VersionDescription", "web v1"),
        ] {
            assert_eq!(p.get(name), Some(want), "{name}");
        }
        assert_eq!(p.get("TemplateTag.2.Value"), None);
        let refused =
            |req: CreateLaunchTemplateRequest| req.to_params("r").expect_err("refused").parameter;
        for bad in ["1web", "a", "web template", "http://x"] {
            assert_eq!(
                refused(CreateLaunchTemplateRequest {
                    launch_template_name: bad.into(),
                    ..Default::default()
                }),
                "LaunchTemplateName",
                "{bad}"
            );
        }
        assert_eq!(
            refused(CreateLaunchTemplateRequest {
                launch_template_name: "web".into(),
                template_tags: vec![Tag::new("acs:x", "")],
                ..Default::default()
            }),
            "TemplateTag.1.Key"
        );
        assert_eq!(
            refused(CreateLaunchTemplateRequest {
                launch_template_name: "web".into(),
                data: LaunchTemplateData {
                    version_description: Some("x".into()),
                    ..Default::default()
                },
                ..Default::default()
            }),
            "VersionDescription"
        );
    }

    #[test]
    fn versions_are_asked_of_one_template_by_id_or_name() {
        let p = DescribeLaunchTemplateVersionsRequest {
            template: LaunchTemplateRef::Id("lt-1".into()),
            versions: vec![1, 3],
            detail_flag: Some(true),
            default_version: true,
            page_size: Some(50),
            ..Default::default()
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        for (name, want) in [
            ("LaunchTemplateId", "lt-1"),
            ("LaunchTemplateVersion.1", "1"),
            ("LaunchTemplateVersion.2", "3"),
            ("DetailFlag", "true"),
            ("DefaultVersion", "true"),
            ("PageSize", "50"),
        ] {
            assert_eq!(p.get(name), Some(want), "{name}");
        }
        assert_eq!(p.get("LaunchTemplateName"), None);
        let p = DescribeLaunchTemplateVersionsRequest {
            template: LaunchTemplateRef::Name("web".into()),
            ..Default::default()
        }
        .to_params("r")
        .expect("by name");
        assert_eq!(
            (p.get("LaunchTemplateName"), p.get("DefaultVersion")),
            (Some("web"), None)
        );
        let refused = |req: DescribeLaunchTemplateVersionsRequest| {
            req.to_params("r").expect_err("refused").parameter
        };
        assert_eq!(
            refused(DescribeLaunchTemplateVersionsRequest::default()),
            "LaunchTemplateId"
        );
        assert_eq!(
            refused(DescribeLaunchTemplateVersionsRequest {
                template: LaunchTemplateRef::Id("lt-1".into()),
                page_size: Some(51),
                ..Default::default()
            }),
            "PageSize"
        );
        assert_eq!(
            refused(DescribeLaunchTemplateVersionsRequest {
                template: LaunchTemplateRef::Id("lt-1".into()),
                versions: vec![0],
                ..Default::default()
            }),
            "LaunchTemplateVersion.N"
        );
    }

    #[test]
    fn listing_deleting_and_the_default_version_send_the_documented_names() {
        let p = DescribeLaunchTemplatesRequest {
            launch_template_ids: vec!["lt-1".into(), "lt-2".into()],
            launch_template_names: vec!["web".into()],
            template_tags: vec![Tag::new("team", "web")],
            page_number: Some(2),
            page_size: Some(50),
        }
        .to_params("r")
        .expect("valid");
        for (name, want) in [
            ("LaunchTemplateId.1", "lt-1"),
            ("LaunchTemplateId.2", "lt-2"),
            ("LaunchTemplateName.1", "web"),
            ("TemplateTag.1.Key", "team"),
            ("TemplateTag.1.Value", "web"),
            ("PageNumber", "2"),
        ] {
            assert_eq!(p.get(name), Some(want), "{name}");
        }
        let many = DescribeLaunchTemplatesRequest {
            launch_template_ids: (0..101).map(|n| format!("lt-{n}")).collect(),
            ..Default::default()
        };
        assert_eq!(
            many.to_params("r").unwrap_err().parameter,
            "LaunchTemplateId.N"
        );
        let p = DeleteLaunchTemplateVersionRequest {
            template: LaunchTemplateRef::Name("web".into()),
            versions: vec![2, 3],
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(
            (p.get("DeleteVersion.1"), p.get("DeleteVersion.2")),
            (Some("2"), Some("3"))
        );
        let none = DeleteLaunchTemplateVersionRequest {
            template: LaunchTemplateRef::Name("web".into()),
            versions: Vec::new(),
        };
        assert_eq!(
            none.to_params("r").unwrap_err().parameter,
            "DeleteVersion.N"
        );
        let p = ModifyLaunchTemplateDefaultVersionRequest {
            template: LaunchTemplateRef::Id("lt-1".into()),
            default_version_number: 2,
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(p.get("DefaultVersionNumber"), Some("2"));
        let p = DeleteLaunchTemplateRequest {
            template: LaunchTemplateRef::Id("lt-1".into()),
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(p.get("LaunchTemplateId"), Some("lt-1"));
    }

    #[test]
    fn answers_read_the_documented_nesting() {
        let r: DescribeLaunchTemplateVersionsResponse = serde_json::from_str(
            r#"{"PageSize":10,"RequestId":"R","PageNumber":1,"TotalCount":1,
            "LaunchTemplateVersionSets":{"LaunchTemplateVersionSet":[{"LaunchTemplateName":"web",
              "DefaultVersion":true,"VersionNumber":1,"LaunchTemplateId":"lt-1","CreatedBy":123456789,
              "LaunchTemplateData":{"ImageId":"m-1","SystemDisk.Size":40,"SystemDisk.Category":"cloud_ssd",
                "SecurityGroupIds":{"SecurityGroupId":[["sg-1"]]},"VSwitchId":"vsw-1","Unknown":{"x":1}}}]}}"#,
        )
        .expect("parses");
        let v = &r.launch_template_version_sets.launch_template_version_set[0];
        assert!(v.default_version);
        assert_eq!(v.created_by, "123456789");
        let d = &v.launch_template_data;
        assert_eq!(
            (
                d.image_id.as_deref(),
                d.system_disk_size,
                d.system_disk_category.as_deref()
            ),
            (Some("m-1"), Some(40), Some("cloud_ssd"))
        );
        assert_eq!(d.security_group_ids, ["sg-1"]);
        assert_eq!(d.vswitch_id.as_deref(), Some("vsw-1"));
        let r: DeleteLaunchTemplateResponse = serde_json::from_str(
            r#"{"RequestId":"R","LaunchTemplateId":"lt-1","LaunchTemplateVersionNumbers":{"versionNumbers":[1,2]}}"#,
        )
        .expect("parses");
        assert_eq!(r.launch_template_version_numbers.version_numbers, [1, 2]);
        let r: DescribeLaunchTemplatesResponse = serde_json::from_str(
            r#"{"TotalCount":1,"LaunchTemplateSets":{"LaunchTemplateSet":[{"LaunchTemplateId":"lt-1",
              "DefaultVersionNumber":1,"LatestVersionNumber":"3","Tags":{"Tag":[{"TagKey":"k","TagValue":"v"}]}}]}}"#,
        )
        .expect("parses");
        let t = &r.launch_template_sets.launch_template_set[0];
        assert_eq!((t.default_version_number, t.latest_version_number), (1, 3));
        assert_eq!(t.tags.tag[0].tag_key, "k");
    }

    #[test]
    fn every_parameter_of_a_version_is_read_and_sent_back_under_its_name() {
        let r: LaunchTemplateVersionSet = serde_json::from_str(
            r#"{"VersionNumber":3,"LaunchTemplateData":{
              "ImageId":"m-1","InstanceType":"ecs.g7.large","SecurityGroupId":"",
              "SecurityGroupIds":{"SecurityGroupId":["sg-1","sg-2"]},
              "UserData":"IyEvYmluL3NoCmVjaG8gaGkK","HostName":"web","RamRoleName":"role",
              "InternetMaxBandwidthOut":0,"InternetMaxBandwidthIn":"10","SpotPriceLimit":0.98,
              "PasswordInherit":"true","DeletionProtection":false,"HttpTokens":"required",
              "SecurityOptions":{"TrustedSystemMode":"vTPM"},"ImageOptions":{"LoginAsNonRoot":true},
              "SystemDisk.Category":"cloud_essd","SystemDisk.Size":40,
              "SystemDisk":{"Category":"cloud_auto","PerformanceLevel":"PL1","Encrypted":"true","KMSKeyId":"k-1"},
              "DataDisks":{"DataDisk":[{"Size":100,"Category":"cloud_essd","DeleteWithInstance":true,
                "Device":"/dev/xvdb","KMSKeyId":"k-2","Encrypted":"true"}]},
              "NetworkInterfaces":{"NetworkInterface":[{"VSwitchId":"vsw-2","InstanceType":"Secondary",
                "SecurityGroupIds":{"SecurityGroupId":["sg-3"]},"DeleteOnRelease":true}]},
              "Tags":{"InstanceTag":[{"Key":"team","Value":"web"},{"Key":"spare","Value":""}]}}}"#,
        )
        .expect("parses");
        let d = &r.launch_template_data;
        assert_eq!(d.security_group_id, None, "an empty string is no value");
        assert_eq!(d.security_group_ids, ["sg-1", "sg-2"]);
        assert_eq!(
            (d.internet_max_bandwidth_out, d.internet_max_bandwidth_in),
            (Some(0), Some(10))
        );
        assert_eq!(d.spot_price_limit.as_deref(), Some("0.98"));
        assert_eq!(
            (d.password_inherit, d.deletion_protection),
            (Some(true), Some(false))
        );
        assert_eq!(d.trusted_system_mode.as_deref(), Some("vTPM"));
        assert_eq!(d.login_as_non_root, Some(true));
        assert_eq!(
            d.system_disk_category.as_deref(),
            Some("cloud_essd"),
            "the flat name first"
        );
        assert_eq!(
            (
                d.system_disk_performance_level.as_deref(),
                d.system_disk_encrypted.as_deref(),
                d.system_disk_kms_key_id.as_deref()
            ),
            (Some("PL1"), Some("true"), Some("k-1")),
            "the nested object fills in"
        );
        assert_eq!(d.data_disks[0].size, Some(100));
        assert_eq!(d.data_disks[0].kms_key_id.as_deref(), Some("k-2"));
        assert_eq!(d.network_interfaces[0].security_group_ids, ["sg-3"]);
        assert_eq!(d.tags, [Tag::new("team", "web"), Tag::new("spare", "")]);
        let copy = d.with_image("m-2");
        assert_eq!(copy.image_id.as_deref(), Some("m-2"));
        let p = CreateLaunchTemplateVersionRequest {
            template: LaunchTemplateRef::Id("lt-1".into()),
            data: copy,
        }
        .to_params("r")
        .expect("valid");
        for (name, want) in [
            ("ImageId", "m-2"),
            ("SecurityGroupIds.1", "sg-1"),
            ("SecurityGroupIds.2", "sg-2"),
            ("UserData", "IyEvYmluL3NoCmVjaG8gaGkK"),
            ("InternetMaxBandwidthOut", "0"),
            ("SpotPriceLimit", "0.98"),
            ("PasswordInherit", "true"),
            ("DeletionProtection", "false"),
            ("SecurityOptions.TrustedSystemMode", "vTPM"),
            ("ImageOptions.LoginAsNonRoot", "true"),
            ("SystemDisk.Category", "cloud_essd"),
            ("SystemDisk.Size", "40"),
            ("SystemDisk.KMSKeyId", "k-1"),
            ("DataDisk.1.Size", "100"),
            ("DataDisk.1.DeleteWithInstance", "true"),
            ("DataDisk.1.KMSKeyId", "k-2"),
            ("NetworkInterface.1.VSwitchId", "vsw-2"),
            ("NetworkInterface.1.SecurityGroupIds.1", "sg-3"),
            ("NetworkInterface.1.DeleteOnRelease", "true"),
            ("Tag.1.Key", "team"),
            ("Tag.2.Key", "spare"),
            ("Tag.2.Value", ""),
        ] {
            assert_eq!(p.get(name), Some(want), "{name}");
        }
        assert_eq!(p.get("SecurityGroupId"), None);
        let both = LaunchTemplateData {
            security_group_id: Some("sg-1".into()),
            security_group_ids: vec!["sg-2".into()],
            ..Default::default()
        };
        assert_eq!(
            CreateLaunchTemplateVersionRequest {
                template: LaunchTemplateRef::Id("lt-1".into()),
                data: both,
            }
            .to_params("r")
            .unwrap_err()
            .parameter,
            "SecurityGroupIds.N"
        );
    }

    #[test]
    fn a_list_that_repeats_the_one_security_group_is_not_read_as_a_second_form() {
        let d: LaunchTemplateData = serde_json::from_str(
            r#"{"SecurityGroupId":"sg-1","SecurityGroupIds":{"SecurityGroupId":["sg-1"]},
            "NetworkInterfaces":{"NetworkInterface":[{"SecurityGroupId":"sg-2",
              "SecurityGroupIds":{"SecurityGroupId":["sg-2"]}}]}}"#,
        )
        .expect("parses");
        assert_eq!(d.security_group_id.as_deref(), Some("sg-1"));
        assert!(d.security_group_ids.is_empty());
        assert!(d.network_interfaces[0].security_group_ids.is_empty());
        let p = CreateLaunchTemplateVersionRequest {
            template: LaunchTemplateRef::Id("lt-1".into()),
            data: d.with_image("m-2"),
        }
        .to_params("r")
        .expect("sent as one group");
        assert_eq!(p.get("SecurityGroupId"), Some("sg-1"));
        assert_eq!(p.get("SecurityGroupIds.1"), None);
    }

    #[test]
    fn what_an_answer_holds_beyond_the_modelled_fields_is_named() {
        let d: LaunchTemplateData = serde_json::from_str(
            r#"{"ImageId":"m-1","NewThing":"x","Blank":"","Nothing":null,"Hollow":{"A":""},
            "SystemDisk":{"Category":"cloud_essd","NewDiskThing":1},
            "SecurityOptions":{"TrustedSystemMode":"vTPM","ConfidentialComputingMode":"TDX"},
            "DataDisks":{"DataDisk":[{"Size":20},{"Size":40,"Future":true}]},
            "NetworkInterfaces":{"NetworkInterface":[{"VSwitchId":"vsw-1","Ipv6":["x"]}]}}"#,
        )
        .expect("parses");
        assert_eq!(d.system_disk_category.as_deref(), Some("cloud_essd"));
        assert_eq!(d.data_disks[1].size, Some(40));
        assert_eq!(
            d.unread_fields(),
            [
                "NewThing",
                "SecurityOptions.ConfidentialComputingMode",
                "SystemDisk.NewDiskThing",
                "DataDisk.2.Future",
                "NetworkInterface.1.Ipv6"
            ]
        );
        let known: LaunchTemplateData =
            serde_json::from_str(r#"{"ImageId":"m-1","SystemDisk.Size":40}"#).unwrap();
        assert!(known.unread_fields().is_empty());
    }
}
