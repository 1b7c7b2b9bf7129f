//! Auto Scaling (ESS, API version 2014-08-28): the operations reimage uses.
//!
//! The 2014-08-28 API takes lists as singular `Name.N` parameters (`ScalingGroupId.1`) and
//! wraps lists in answers (`ScalingGroups.ScalingGroup[]`). `ModifyScalingConfiguration` has
//! no `RegionId`: the configuration id says where it lives.

use serde::Deserialize;

mod fleet;
mod refresh;
pub use fleet::*;
pub use refresh::*;

use super::ecs::Acknowledged;
use super::error::{Error, RequestError};
use super::{Client, Params, RpcMethod, Service, all_pages, lenient, validate};

/// Most `ScalingGroupId.N` per `DescribeScalingGroups` call.
pub const MAX_SCALING_GROUP_IDS: usize = 20;
/// Most `ScalingConfigurationId.N` per `DescribeScalingConfigurations` call.
pub const MAX_SCALING_CONFIGURATION_IDS: usize = 10;
/// Largest `PageSize` ESS takes.
pub const MAX_PAGE_SIZE: u32 = 50;

/// `DescribeScalingGroups`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeScalingGroupsRequest {
    /// `ScalingGroupId.N` (at most 20).
    pub scaling_group_ids: Vec<String>,
    /// `ScalingGroupName`.
    pub scaling_group_name: Option<String>,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (at most 50).
    pub page_size: Option<u32>,
}

impl DescribeScalingGroupsRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::repeat_list(
            "ScalingGroupId.N",
            &self.scaling_group_ids,
            MAX_SCALING_GROUP_IDS,
        )?;
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, MAX_PAGE_SIZE)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .list("ScalingGroupId", &self.scaling_group_ids)
            .opt_str("ScalingGroupName", self.scaling_group_name.as_deref())
            .opt("PageNumber", self.page_number)
            .opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeScalingGroups` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeScalingGroupsResponse {
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
    /// `ScalingGroups`.
    pub scaling_groups: ScalingGroups,
}

/// `ScalingGroups: {ScalingGroup: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingGroups {
    /// `ScalingGroup`.
    pub scaling_group: Vec<ScalingGroup>,
}

/// One scaling group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingGroup {
    /// `ScalingGroupId`.
    pub scaling_group_id: String,
    /// `ScalingGroupName`.
    pub scaling_group_name: String,
    /// `RegionId`.
    pub region_id: String,
    /// `LifecycleState`: `Active`, `Inactive` or `Deleting`.
    pub lifecycle_state: String,
    /// `ActiveScalingConfigurationId`.
    pub active_scaling_configuration_id: String,
    /// `LaunchTemplateId`: the ECS launch template new instances launch from, for a group
    /// whose instance source is a template instead of a configuration (empty otherwise).
    pub launch_template_id: String,
    /// `LaunchTemplateVersion`: a version number, `Default` or `Latest` (resolved when an
    /// instance is launched; see `Ecs::launch_template_version`).
    pub launch_template_version: String,
    /// `LaunchTemplateOverrides`: instance types used instead of the template's.
    pub launch_template_overrides: LaunchTemplateOverrides,
    /// `GroupType`: `ECS` or `ECI`. Empty when the answer leaves it out, which the 2014-08-28
    /// API may do for ECS groups (its presence there is not confirmed).
    pub group_type: String,
    /// `MinSize`.
    #[serde(deserialize_with = "lenient::number")]
    pub min_size: i64,
    /// `MaxSize`.
    #[serde(deserialize_with = "lenient::number")]
    pub max_size: i64,
    /// `TotalCapacity`.
    #[serde(deserialize_with = "lenient::number")]
    pub total_capacity: i64,
    /// `SuspendedProcesses`.
    pub suspended_processes: SuspendedProcesses,
    /// `LoadBalancerIds`: the attached CLB instances.
    pub load_balancer_ids: LoadBalancerIds,
    /// `VServerGroups`: the attached vServer groups, per load balancer.
    #[serde(rename = "VServerGroups")]
    pub vserver_groups: VServerGroups,
    /// `VSwitchId`: the group's vSwitch (empty when it has none, or lists several in
    /// `VSwitchIds` instead: then ESS ignores this one).
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
    /// `VSwitchIds`: the group's vSwitches, in priority order.
    #[serde(rename = "VSwitchIds")]
    pub vswitch_ids: VSwitchIds,
}

impl ScalingGroup {
    /// The group's launch template and version (`Default`, `Latest` or a number), when a
    /// template is its instance source.
    pub fn launch_template(&self) -> Option<(&str, &str)> {
        (!self.launch_template_id.is_empty()).then_some((
            self.launch_template_id.as_str(),
            self.launch_template_version.as_str(),
        ))
    }

    /// The vSwitch a new instance would go into first: the first of `VSwitchIds`, else
    /// `VSwitchId`; `None` when the group names none.
    pub fn first_vswitch(&self) -> Option<&str> {
        self.vswitch_ids
            .vswitch_id
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(self.vswitch_id.as_str()))
            .find(|v| !v.is_empty())
    }
}

/// `LaunchTemplateOverrides: {LaunchTemplateOverride: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateOverrides {
    /// `LaunchTemplateOverride`.
    pub launch_template_override: Vec<LaunchTemplateOverride>,
}

/// One instance type a template group launches instead of the template's
/// (`LaunchTemplateOverride.N` of CreateScalingGroup / ModifyScalingGroup).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LaunchTemplateOverride {
    /// `InstanceType`.
    pub instance_type: String,
    /// `WeightedCapacity` (1 to 500; `None` when unset).
    #[serde(deserialize_with = "optional_number")]
    pub weighted_capacity: Option<i64>,
    /// `SpotPriceLimit`, as the cloud wrote it.
    #[serde(deserialize_with = "lenient::optional_string")]
    pub spot_price_limit: Option<String>,
}

fn optional_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let s = lenient::string(d)?;
    if s.trim().is_empty() {
        return Ok(None);
    }
    s.trim()
        .parse::<i64>()
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Most `LaunchTemplateOverride.N` (the bound the sim applies; sim/README.md).
pub const MAX_LAUNCH_TEMPLATE_OVERRIDES: usize = 10;

/// `ModifyScalingGroup`, as far as the instance source goes: the group's launch template,
/// its version and overrides. No `RegionId`: the group id says where it lives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModifyScalingGroupRequest {
    /// `ScalingGroupId` (required).
    pub scaling_group_id: String,
    /// `LaunchTemplateId`: the group launches from this template (instead of its
    /// configuration).
    pub launch_template_id: Option<String>,
    /// `LaunchTemplateVersion`: a version number, `Default` or `Latest`.
    pub launch_template_version: Option<String>,
    /// `LaunchTemplateOverride.N` (replacing the group's; empty: unchanged).
    pub launch_template_overrides: Vec<LaunchTemplateOverrideRequest>,
    /// `ActiveScalingConfigurationId`: the group launches from this configuration of its
    /// own (instead of a template). Exclusive with the template fields.
    pub active_scaling_configuration_id: Option<String>,
}

/// One `LaunchTemplateOverride.N` of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchTemplateOverrideRequest {
    /// `InstanceType` (required).
    pub instance_type: String,
    /// `WeightedCapacity` (1 to 500).
    pub weighted_capacity: Option<u32>,
    /// `SpotPriceLimit`.
    pub spot_price_limit: Option<String>,
}

impl ModifyScalingGroupRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self) -> Result<Params, RequestError> {
        validate::non_empty("ScalingGroupId", &self.scaling_group_id)?;
        let templated = self.launch_template_id.is_some()
            || self.launch_template_version.is_some()
            || !self.launch_template_overrides.is_empty();
        if templated && self.active_scaling_configuration_id.is_some() {
            return Err(RequestError::new(
                "ActiveScalingConfigurationId",
                "cannot be set together with the launch template fields",
            ));
        }
        if let Some(v) = &self.launch_template_version {
            let ok = matches!(v.as_str(), "Default" | "Latest")
                || v.parse::<i64>().is_ok_and(|n| n >= 1);
            if !ok {
                return Err(RequestError::new(
                    "LaunchTemplateVersion",
                    format!("{v:?} is not a version number, Default or Latest"),
                ));
            }
        }
        if self.launch_template_overrides.len() > MAX_LAUNCH_TEMPLATE_OVERRIDES {
            return Err(RequestError::new(
                "LaunchTemplateOverride.N",
                format!("at most {MAX_LAUNCH_TEMPLATE_OVERRIDES}"),
            ));
        }
        let mut p = Params::new();
        p.put("ScalingGroupId", &self.scaling_group_id)
            .opt_str("LaunchTemplateId", self.launch_template_id.as_deref())
            .opt_str(
                "LaunchTemplateVersion",
                self.launch_template_version.as_deref(),
            )
            .opt_str(
                "ActiveScalingConfigurationId",
                self.active_scaling_configuration_id.as_deref(),
            );
        for (i, o) in self.launch_template_overrides.iter().enumerate() {
            let name = format!("LaunchTemplateOverride.{}.InstanceType", i + 1);
            validate::non_empty(&name, &o.instance_type)?;
            if o.weighted_capacity.is_some_and(|w| !(1..=500).contains(&w)) {
                return Err(RequestError::new(
                    format!("LaunchTemplateOverride.{}.WeightedCapacity", i + 1),
                    "must be 1 to 500",
                ));
            }
            p.put(name, &o.instance_type)
                .opt(
                    &format!("LaunchTemplateOverride.{}.WeightedCapacity", i + 1),
                    o.weighted_capacity,
                )
                .opt_str(
                    &format!("LaunchTemplateOverride.{}.SpotPriceLimit", i + 1),
                    o.spot_price_limit.as_deref(),
                );
        }
        Ok(p)
    }
}

/// `{"VSwitchId": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct VSwitchIds {
    /// `VSwitchId`.
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: Vec<String>,
}

/// `{"LoadBalancerId": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LoadBalancerIds {
    /// `LoadBalancerId`.
    pub load_balancer_id: Vec<String>,
}

/// `{"VServerGroup": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VServerGroups {
    /// `VServerGroup`.
    #[serde(rename = "VServerGroup")]
    pub vserver_group: Vec<VServerGroup>,
}

/// One load balancer's attached vServer groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VServerGroup {
    /// `LoadBalancerId`.
    pub load_balancer_id: String,
    /// `VServerGroupAttributes`.
    #[serde(rename = "VServerGroupAttributes")]
    pub attributes: VServerGroupAttributes,
}

/// `{"VServerGroupAttribute": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VServerGroupAttributes {
    /// `VServerGroupAttribute`.
    #[serde(rename = "VServerGroupAttribute")]
    pub attribute: Vec<VServerGroupAttribute>,
}

/// An attached vServer group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VServerGroupAttribute {
    /// `VServerGroupId`.
    #[serde(rename = "VServerGroupId")]
    pub vserver_group_id: String,
    /// `Port`.
    #[serde(deserialize_with = "lenient::number")]
    pub port: i64,
    /// `Weight`.
    #[serde(deserialize_with = "lenient::number")]
    pub weight: i64,
}

/// `SuspendedProcesses: {SuspendedProcess: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SuspendedProcesses {
    /// `SuspendedProcess`: `ScaleIn`, `ScaleOut`, …
    pub suspended_process: Vec<String>,
}

/// `DescribeScalingConfigurations`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeScalingConfigurationsRequest {
    /// `ScalingGroupId`.
    pub scaling_group_id: Option<String>,
    /// `ScalingConfigurationId.N` (at most 10 per call; see
    /// [`Ess::describe_scaling_configurations_all`] for more).
    pub scaling_configuration_ids: Vec<String>,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (at most 50).
    pub page_size: Option<u32>,
}

impl DescribeScalingConfigurationsRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::repeat_list(
            "ScalingConfigurationId.N",
            &self.scaling_configuration_ids,
            MAX_SCALING_CONFIGURATION_IDS,
        )?;
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, MAX_PAGE_SIZE)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .opt_str("ScalingGroupId", self.scaling_group_id.as_deref())
            .list("ScalingConfigurationId", &self.scaling_configuration_ids)
            .opt("PageNumber", self.page_number)
            .opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeScalingConfigurations` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeScalingConfigurationsResponse {
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
    /// `ScalingConfigurations`.
    pub scaling_configurations: ScalingConfigurations,
}

/// `ScalingConfigurations: {ScalingConfiguration: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingConfigurations {
    /// `ScalingConfiguration`.
    pub scaling_configuration: Vec<ScalingConfiguration>,
}

/// One scaling configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingConfiguration {
    /// `ScalingConfigurationId`.
    pub scaling_configuration_id: String,
    /// `ScalingConfigurationName`.
    pub scaling_configuration_name: String,
    /// `ScalingGroupId`.
    pub scaling_group_id: String,
    /// `LifecycleState`: `Active` or `Inactive`.
    pub lifecycle_state: String,
    /// `ImageId`.
    pub image_id: String,
    /// `ImageName`.
    pub image_name: String,
    /// `ImageFamily`.
    pub image_family: String,
    /// `InstanceType`.
    pub instance_type: String,
    /// `InstanceTypes`: every instance type it launches, in priority order (ESS tries the
    /// next when it cannot create an instance of one).
    pub instance_types: InstanceTypes,
    /// `SecurityGroupId`: its instances' security group (empty when it names several in
    /// `SecurityGroupIds` instead).
    pub security_group_id: String,
    /// `SecurityGroupIds`: its instances' security groups.
    pub security_group_ids: SecurityGroupIds,
    /// `SystemDiskCategory`: `cloud_essd`, `cloud_auto`, `cloud_efficiency`, …
    pub system_disk_category: String,
    /// `SystemDiskPerformanceLevel`: `PL0` to `PL3`, for an enterprise SSD (empty: none
    /// given).
    pub system_disk_performance_level: String,
    /// `SystemDiskSize`, GiB (0 when absent).
    #[serde(deserialize_with = "lenient::number")]
    pub system_disk_size: i64,
    /// `KeyPairName`: the key pair its instances log in with (empty: none).
    pub key_pair_name: String,
    /// `ZoneId`: the zone it launches its instances in (empty: the vSwitch's).
    pub zone_id: String,
    /// `PasswordInherit`: whether its instances keep the password of their image.
    #[serde(deserialize_with = "lenient::boolean")]
    pub password_inherit: bool,
    /// `CreationTime`.
    pub creation_time: String,
}

impl ScalingConfiguration {
    /// Every instance type it launches, in priority order: `InstanceTypes`, else
    /// `InstanceType` alone (empty when the answer has neither).
    pub fn all_instance_types(&self) -> Vec<String> {
        let listed: Vec<String> = self
            .instance_types
            .instance_type
            .iter()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect();
        if !listed.is_empty() {
            listed
        } else if self.instance_type.is_empty() {
            Vec::new()
        } else {
            vec![self.instance_type.clone()]
        }
    }

    /// Its instances' security groups: `SecurityGroupIds`, else `SecurityGroupId` alone
    /// (empty when the answer has neither).
    pub fn all_security_group_ids(&self) -> Vec<String> {
        let listed: Vec<String> = self
            .security_group_ids
            .security_group_id
            .iter()
            .filter(|g| !g.is_empty())
            .cloned()
            .collect();
        if !listed.is_empty() {
            listed
        } else if self.security_group_id.is_empty() {
            Vec::new()
        } else {
            vec![self.security_group_id.clone()]
        }
    }
}

/// `{"InstanceType": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceTypes {
    /// `InstanceType`.
    pub instance_type: Vec<String>,
}

/// `{"SecurityGroupId": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SecurityGroupIds {
    /// `SecurityGroupId`.
    pub security_group_id: Vec<String>,
}

/// `DescribeEciScalingConfigurations`: the configurations of ECI-type groups, which
/// DescribeScalingConfigurations leaves out
/// (https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-describeeciscalingconfigurations).
/// Its parameters are DescribeScalingConfigurations' own.
pub type DescribeEciScalingConfigurationsRequest = DescribeScalingConfigurationsRequest;

/// `DescribeEciScalingConfigurations` answer: the list is a plain array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeEciScalingConfigurationsResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `TotalCount`.
    #[serde(deserialize_with = "lenient::number")]
    pub total_count: i64,
    /// `ScalingConfigurations`.
    pub scaling_configurations: Vec<EciScalingConfiguration>,
}

/// One ECI scaling configuration, the fields reimage reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EciScalingConfiguration {
    /// `ScalingConfigurationId`.
    pub scaling_configuration_id: String,
    /// `ScalingConfigurationName`.
    pub scaling_configuration_name: String,
    /// `ScalingGroupId`.
    pub scaling_group_id: String,
    /// `LifecycleState`: `Active` or `Inactive`.
    pub lifecycle_state: String,
}

/// `ModifyScalingConfiguration`, as reimage uses it: change the image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModifyScalingConfigurationRequest {
    /// `ScalingConfigurationId` (required).
    pub scaling_configuration_id: String,
    /// `ImageId`.
    pub image_id: Option<String>,
    /// `ImageName` (ignored by the cloud when `ImageId` is given).
    pub image_name: Option<String>,
}

impl ModifyScalingConfigurationRequest {
    /// The request's parameters, after checking them. No `RegionId`: the operation has none.
    pub fn to_params(&self) -> Result<Params, RequestError> {
        validate::non_empty("ScalingConfigurationId", &self.scaling_configuration_id)?;
        let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        if !has(&self.image_id) && !has(&self.image_name) {
            return Err(RequestError::new(
                "ImageId",
                "is required (or ImageName): reimage only changes the image",
            ));
        }
        let mut p = Params::new();
        p.put("ScalingConfigurationId", &self.scaling_configuration_id)
            .opt_str("ImageId", self.image_id.as_deref())
            .opt_str("ImageName", self.image_name.as_deref());
        Ok(p)
    }
}

/// ESS operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Ess<'a> {
    client: &'a Client,
}

impl<'a> Ess<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: RpcMethod,
        action: &str,
        params: Result<Params, RequestError>,
    ) -> Result<T, Error> {
        self.client
            .call_checked(Service::Ess, method, action, params)
            .await
    }

    /// `DescribeScalingGroups` (one page).
    pub async fn describe_scaling_groups(
        &self,
        req: &DescribeScalingGroupsRequest,
    ) -> Result<DescribeScalingGroupsResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeScalingGroups", params)
            .await
    }

    /// Every scaling group matching `req`: all pages, and any number of ids (split into calls
    /// of 20).
    pub async fn describe_scaling_groups_all(
        &self,
        req: &DescribeScalingGroupsRequest,
    ) -> Result<Vec<ScalingGroup>, Error> {
        let mut out = Vec::new();
        for ids in id_batches(&req.scaling_group_ids, MAX_SCALING_GROUP_IDS) {
            let batch = all_pages(|page| async move {
                let r = DescribeScalingGroupsRequest {
                    scaling_group_ids: ids.to_vec(),
                    page_number: Some(page),
                    page_size: Some(MAX_PAGE_SIZE),
                    ..req.clone()
                };
                let answer = self.describe_scaling_groups(&r).await?;
                Ok((answer.scaling_groups.scaling_group, answer.total_count))
            })
            .await?;
            out.extend(batch);
        }
        Ok(out)
    }

    /// `DescribeScalingConfigurations` (one page, at most 10 ids).
    pub async fn describe_scaling_configurations(
        &self,
        req: &DescribeScalingConfigurationsRequest,
    ) -> Result<DescribeScalingConfigurationsResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeScalingConfigurations", params)
            .await
    }

    /// `DescribeEciScalingConfigurations` (one page, at most 10 ids).
    pub async fn describe_eci_scaling_configurations(
        &self,
        req: &DescribeEciScalingConfigurationsRequest,
    ) -> Result<DescribeEciScalingConfigurationsResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeEciScalingConfigurations", params)
            .await
    }

    /// Every scaling configuration matching `req`: any number of ids, split into calls of at
    /// most 10 whose answers are concatenated in order, each read to its last page.
    pub async fn describe_scaling_configurations_all(
        &self,
        req: &DescribeScalingConfigurationsRequest,
    ) -> Result<Vec<ScalingConfiguration>, Error> {
        let mut out = Vec::new();
        for ids in id_batches(
            &req.scaling_configuration_ids,
            MAX_SCALING_CONFIGURATION_IDS,
        ) {
            let batch = all_pages(|page| async move {
                let r = DescribeScalingConfigurationsRequest {
                    scaling_configuration_ids: ids.to_vec(),
                    page_number: Some(page),
                    page_size: Some(MAX_PAGE_SIZE),
                    ..req.clone()
                };
                let answer = self.describe_scaling_configurations(&r).await?;
                Ok((
                    answer.scaling_configurations.scaling_configuration,
                    answer.total_count,
                ))
            })
            .await?;
            out.extend(batch);
        }
        Ok(out)
    }

    /// `ModifyScalingGroup`: e.g. point a template group at a new version
    /// (`LaunchTemplateVersion`), or back at the one it had.
    pub async fn modify_scaling_group(
        &self,
        req: &ModifyScalingGroupRequest,
    ) -> Result<Acknowledged, Error> {
        self.call(RpcMethod::Post, "ModifyScalingGroup", req.to_params())
            .await
    }

    /// `ModifyScalingConfiguration`.
    pub async fn modify_scaling_configuration(
        &self,
        req: &ModifyScalingConfigurationRequest,
    ) -> Result<Acknowledged, Error> {
        self.call(
            RpcMethod::Post,
            "ModifyScalingConfiguration",
            req.to_params(),
        )
        .await
    }
}

/// `ids` in batches of at most `size`; one empty batch when there are no ids (a call without
/// an id filter).
fn id_batches(ids: &[String], size: usize) -> Vec<&[String]> {
    if ids.is_empty() {
        vec![&[]]
    } else {
        ids.chunks(size).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_are_numbered_and_limited() {
        let p = DescribeScalingGroupsRequest {
            scaling_group_ids: vec!["asg-1".into(), "asg-2".into()],
            ..Default::default()
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        assert_eq!(p.get("ScalingGroupId.1"), Some("asg-1"));
        assert_eq!(p.get("ScalingGroupId.2"), Some("asg-2"));
        let too_many: Vec<String> = (0..21).map(|i| format!("asg-{i}")).collect();
        let e = DescribeScalingGroupsRequest {
            scaling_group_ids: too_many,
            ..Default::default()
        }
        .to_params("r")
        .expect_err("21 ids");
        assert_eq!(e.parameter, "ScalingGroupId.N");

        let eleven: Vec<String> = (0..11).map(|i| format!("asc-{i}")).collect();
        let e = DescribeScalingConfigurationsRequest {
            scaling_configuration_ids: eleven,
            ..Default::default()
        }
        .to_params("r")
        .expect_err("11 ids");
        assert_eq!(e.parameter, "ScalingConfigurationId.N");
        let e = DescribeScalingConfigurationsRequest {
            page_size: Some(51),
            ..Default::default()
        }
        .to_params("r")
        .expect_err("page size");
        assert_eq!(e.parameter, "PageSize");
    }

    #[test]
    fn batches_split_at_the_limit() {
        let ids: Vec<String> = (0..23).map(|i| format!("asc-{i}")).collect();
        let b = id_batches(&ids, 10);
        assert_eq!(b.iter().map(|b| b.len()).collect::<Vec<_>>(), [10, 10, 3]);
        assert_eq!(b[2][0], "asc-20");
        assert_eq!(id_batches(&[], 10), vec![&[] as &[String]]);
    }

    #[test]
    fn modify_has_no_region_and_needs_an_image() {
        let p = ModifyScalingConfigurationRequest {
            scaling_configuration_id: "asc-1".into(),
            image_id: Some("m-1".into()),
            image_name: None,
        }
        .to_params()
        .expect("valid");
        assert_eq!(p.get("RegionId"), None);
        assert_eq!(p.get("ScalingConfigurationId"), Some("asc-1"));
        assert_eq!(p.get("ImageId"), Some("m-1"));
        let e = ModifyScalingConfigurationRequest {
            scaling_configuration_id: "asc-1".into(),
            ..Default::default()
        }
        .to_params()
        .expect_err("no image");
        assert_eq!(e.parameter, "ImageId");
        let e = ModifyScalingConfigurationRequest::default()
            .to_params()
            .expect_err("no id");
        assert_eq!(e.parameter, "ScalingConfigurationId");
    }

    #[test]
    fn answers_read_the_2014_nesting() {
        let r: DescribeScalingGroupsResponse = serde_json::from_str(
            r#"{"RequestId":"R","TotalCount":1,"ScalingGroups":{"ScalingGroup":[{"ScalingGroupId":"asg-1",
            "LifecycleState":"Active","ActiveScalingConfigurationId":"asc-1","GroupType":"ECI","MinSize":0,"MaxSize":"3",
            "RemovalPolicies":{"RemovalPolicy":["OldestInstance"]}}]}}"#,
        )
        .expect("parses");
        let g = &r.scaling_groups.scaling_group[0];
        assert_eq!(g.active_scaling_configuration_id, "asc-1");
        assert_eq!(g.group_type, "ECI");
        assert_eq!(g.max_size, 3);
        let r: DescribeScalingConfigurationsResponse = serde_json::from_str(
            r#"{"TotalCount":"2","ScalingConfigurations":{"ScalingConfiguration":[
            {"ScalingConfigurationId":"asc-1","LifecycleState":"Active","ImageId":"m-1","ImageName":"web"},
            {"ScalingConfigurationId":"asc-2","LifecycleState":"Inactive"}]}}"#,
        )
        .expect("parses");
        assert_eq!(r.total_count, 2);
        let c = &r.scaling_configurations.scaling_configuration;
        assert_eq!(
            (c[0].image_id.as_str(), c[1].lifecycle_state.as_str()),
            ("m-1", "Inactive")
        );
        assert!(c[1].all_instance_types().is_empty() && c[1].all_security_group_ids().is_empty());
        assert_eq!(g.first_vswitch(), None);
    }

    #[test]
    fn a_configurations_launch_settings_and_a_groups_vswitches_are_read() {
        let r: DescribeScalingConfigurationsResponse = serde_json::from_str(
            r#"{"ScalingConfigurations":{"ScalingConfiguration":[
            {"ScalingConfigurationId":"asc-1","InstanceType":"ecs.g7.large",
             "InstanceTypes":{"InstanceType":["ecs.g7.large","ecs.c7.large"]},
             "SecurityGroupId":"","SecurityGroupIds":{"SecurityGroupId":["sg-1","sg-2"]},
             "SystemDiskCategory":"cloud_essd","SystemDiskPerformanceLevel":"PL0",
             "SystemDiskSize":40,"KeyPairName":"kp","ZoneId":"cn-hangzhou-h","PasswordInherit":true},
            {"ScalingConfigurationId":"asc-2","InstanceType":"ecs.g7.large","SecurityGroupId":"sg-3",
             "PasswordInherit":"false"}]}}"#,
        )
        .expect("parses");
        let c = &r.scaling_configurations.scaling_configuration;
        assert_eq!(c[0].all_instance_types(), ["ecs.g7.large", "ecs.c7.large"]);
        assert_eq!(c[0].all_security_group_ids(), ["sg-1", "sg-2"]);
        assert_eq!(
            (
                c[0].system_disk_category.as_str(),
                c[0].system_disk_performance_level.as_str(),
                c[0].zone_id.as_str(),
                c[0].password_inherit
            ),
            ("cloud_essd", "PL0", "cn-hangzhou-h", true)
        );
        assert_eq!(c[1].all_instance_types(), ["ecs.g7.large"]);
        assert_eq!(c[1].all_security_group_ids(), ["sg-3"]);
        assert!(!c[1].password_inherit);

        let r: DescribeScalingGroupsResponse = serde_json::from_str(
            r#"{"ScalingGroups":{"ScalingGroup":[
            {"ScalingGroupId":"asg-1","VSwitchId":"vsw-a","VSwitchIds":{"VSwitchId":["vsw-b","vsw-c"]}},
            {"ScalingGroupId":"asg-2","VSwitchId":"vsw-d","VSwitchIds":{"VSwitchId":[]}}]}}"#,
        )
        .expect("parses");
        let g = &r.scaling_groups.scaling_group;
        assert_eq!(g[0].vswitch_ids.vswitch_id, ["vsw-b", "vsw-c"]);
        assert_eq!(g[0].first_vswitch(), Some("vsw-b"));
        assert_eq!(g[1].first_vswitch(), Some("vsw-d"));
    }

    #[test]
    fn modify_scaling_group_sends_the_launch_template_fields() {
        let p = ModifyScalingGroupRequest {
            scaling_group_id: "asg-1".into(),
            launch_template_id: Some("lt-1".into()),
            launch_template_version: Some("3".into()),
            launch_template_overrides: vec![LaunchTemplateOverrideRequest {
                instance_type: "ecs.g7.xlarge".into(),
                weighted_capacity: Some(2),
                spot_price_limit: Some("0.5".into()),
            }],
            active_scaling_configuration_id: None,
        }
        .to_params()
        .expect("valid");
        for (name, want) in [
            ("ScalingGroupId", "asg-1"),
            ("LaunchTemplateId", "lt-1"),
            ("LaunchTemplateVersion", "3"),
            ("LaunchTemplateOverride.1.InstanceType", "ecs.g7.xlarge"),
            ("LaunchTemplateOverride.1.WeightedCapacity", "2"),
            ("LaunchTemplateOverride.1.SpotPriceLimit", "0.5"),
        ] {
            assert_eq!(p.get(name), Some(want), "{name}");
        }
        assert_eq!(p.get("RegionId"), None);
        let refused = |req: ModifyScalingGroupRequest| req.to_params().unwrap_err().parameter;
        assert_eq!(
            refused(ModifyScalingGroupRequest {
                scaling_group_id: "asg-1".into(),
                launch_template_version: Some("newest".into()),
                ..Default::default()
            }),
            "LaunchTemplateVersion"
        );
        assert_eq!(
            refused(ModifyScalingGroupRequest {
                scaling_group_id: "asg-1".into(),
                launch_template_id: Some("lt-1".into()),
                active_scaling_configuration_id: Some("asc-1".into()),
                ..Default::default()
            }),
            "ActiveScalingConfigurationId"
        );
        let g: ScalingGroup = serde_json::from_str(
            r#"{"ScalingGroupId":"asg-1","LaunchTemplateId":"lt-1","LaunchTemplateVersion":"Default",
            "LaunchTemplateOverrides":{"LaunchTemplateOverride":[{"InstanceType":"ecs.g7.large","WeightedCapacity":"4"}]}}"#,
        )
        .expect("parses");
        assert_eq!(g.launch_template(), Some(("lt-1", "Default")));
        let o = &g.launch_template_overrides.launch_template_override[0];
        assert_eq!(
            (o.instance_type.as_str(), o.weighted_capacity),
            ("ecs.g7.large", Some(4))
        );
        let plain: ScalingGroup =
            serde_json::from_str(r#"{"ScalingGroupId":"asg-2","LaunchTemplateId":""}"#).unwrap();
        assert_eq!(plain.launch_template(), None);
    }
}
