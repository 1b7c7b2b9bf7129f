//! Auto Scaling groups and configurations.

use chrono::{DateTime, Utc};

use super::errors;
use crate::error::RpcError;

/// A scaling group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScalingGroup {
    /// `asg-…`.
    pub scaling_group_id: String,
    /// Its name.
    pub scaling_group_name: String,
    /// `ECS` or `ECI`.
    pub group_type: String,
    /// `Active`, `Inactive` or `Deleting`.
    pub lifecycle_state: String,
    /// The configuration new instances use.
    pub active_scaling_configuration_id: Option<String>,
    /// Minimum instances.
    pub min_size: u32,
    /// Maximum instances.
    pub max_size: u32,
    /// Processes SuspendProcesses stopped (`ScaleIn`, `ScaleOut`, …).
    pub suspended_processes: Vec<String>,
    /// Attached CLB instances.
    pub load_balancer_ids: Vec<String>,
    /// Attached vServer groups.
    pub vserver_groups: Vec<crate::seed::SeedVServerGroupAttachment>,
    /// The vSwitches its instances are launched into, in priority order (empty: none).
    pub vswitch_ids: Vec<String>,
    /// When it was created.
    pub creation_time: DateTime<Utc>,
    /// Its launch template, when that is its instance source (instead of a configuration).
    pub launch_template: Option<GroupLaunchTemplate>,
}

/// A group's instance source when it is an ECS launch template: DescribeScalingGroups'
/// `LaunchTemplateId`, `LaunchTemplateVersion` and `LaunchTemplateOverrides`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupLaunchTemplate {
    /// `lt-…`.
    pub launch_template_id: String,
    /// A version number, `Default` or `Latest` (resolved at each launch).
    #[serde(default = "default_version")]
    pub launch_template_version: String,
    /// `LaunchTemplateOverride.N`: instance types used instead of the version's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<LaunchTemplateOverride>,
}

fn default_version() -> String {
    "Default".to_owned()
}

/// One `LaunchTemplateOverride.N`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchTemplateOverride {
    /// `InstanceType`.
    pub instance_type: String,
    /// `WeightedCapacity` (1 to 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted_capacity: Option<u32>,
    /// `SpotPriceLimit`, as given (a decimal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_price_limit: Option<String>,
}

/// Most `LaunchTemplateOverride.N` (sim/README.md).
pub const MAX_LAUNCH_TEMPLATE_OVERRIDES: usize = 10;

impl GroupLaunchTemplate {
    /// Checked against the region's templates: the template exists, the version is a number
    /// it holds, `Default` or `Latest`, each override names a type and a weight of 1 to 500.
    pub fn check(&self, ecs: &crate::ecs::state::Ecs) -> Result<(), RpcError> {
        self.resolve(ecs)?;
        if self.overrides.len() > MAX_LAUNCH_TEMPLATE_OVERRIDES {
            return Err(RpcError::invalid(
                "LaunchTemplateOverride.N",
                format!("at most {MAX_LAUNCH_TEMPLATE_OVERRIDES} overrides"),
            ));
        }
        for o in &self.overrides {
            if o.instance_type.is_empty() {
                return Err(RpcError::missing("LaunchTemplateOverride.N.InstanceType"));
            }
            if o.weighted_capacity.is_some_and(|w| !(1..=500).contains(&w)) {
                return Err(RpcError::invalid(
                    "LaunchTemplateOverride.N.WeightedCapacity",
                    "must be 1 to 500",
                ));
            }
            if o.spot_price_limit.as_deref().is_some_and(|s| {
                !s.trim()
                    .parse::<f64>()
                    .is_ok_and(|f| f.is_finite() && f >= 0.0)
            }) {
                return Err(RpcError::invalid(
                    "LaunchTemplateOverride.N.SpotPriceLimit",
                    "not a price",
                ));
            }
        }
        Ok(())
    }

    /// The template version new instances launch from now: the number, or the template's
    /// default or latest version. 404 `InvalidLaunchTemplate.NotFound` for a template that is
    /// gone, `InvalidLaunchTemplateVersion.NotFound` for a version it does not hold.
    pub fn resolve<'a>(
        &self,
        ecs: &'a crate::ecs::state::Ecs,
    ) -> Result<&'a crate::ecs::templates::TemplateVersion, RpcError> {
        use crate::ecs::errors as ecs_errors;
        let template = ecs.launch_template(Some(&self.launch_template_id), None)?;
        let number = match self.launch_template_version.as_str() {
            "Default" => template.default_version_number,
            "Latest" => template.latest_version_number(),
            raw => raw
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    RpcError::invalid(
                        "LaunchTemplateVersion",
                        "must be a version number, Default or Latest",
                    )
                })?,
        };
        template.version(number).ok_or_else(|| {
            ecs_errors::launch_template_version_not_found(&template.launch_template_id, number)
        })
    }
}
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScalingConfiguration {
    /// `asc-…`.
    pub scaling_configuration_id: String,
    /// Its name.
    pub scaling_configuration_name: String,
    /// Its group.
    pub scaling_group_id: String,
    /// The image new instances are created from.
    pub image_id: String,
    /// That image's name when it was set.
    pub image_name: String,
    /// e.g. `ecs.g7.large`: the first of `instance_types`.
    pub instance_type: String,
    /// Every instance type it launches, in priority order (empty only when `instance_type`
    /// is).
    pub instance_types: Vec<String>,
    /// The system disk size of the instances it launches, GiB.
    pub system_disk_size: u32,
    /// The category of that system disk (`cloud_essd`, `cloud_auto`, …).
    pub system_disk_category: String,
    /// Its performance level (`PL0` … `PL3`), for an enterprise SSD that names one.
    pub system_disk_performance_level: Option<String>,
    /// The key pair its instances log in with.
    pub key_pair_name: Option<String>,
    /// The security groups of its instances.
    pub security_group_ids: Vec<String>,
    /// The zone it launches its instances in, if it names one.
    pub zone_id: Option<String>,
    /// Whether its instances keep the password of their image.
    pub password_inherit: bool,
    /// When it was created.
    pub creation_time: DateTime<Utc>,
}

/// The ESS part of the region.
#[derive(Debug, Default)]
pub struct Ess {
    /// Groups, in creation order.
    pub groups: Vec<ScalingGroup>,
    /// Configurations, in creation order.
    pub configurations: Vec<ScalingConfiguration>,
    /// The instances of every group, in the order they joined.
    pub instances: Vec<super::fleet::ScalingInstance>,
    /// Scaling activities, oldest first.
    pub activities: Vec<super::fleet::ScalingActivity>,
    pub(crate) next_activity: u64,
    /// Instance refresh tasks, oldest first.
    pub refreshes: Vec<super::refresh::InstanceRefresh>,
    tokens: Vec<TokenUse>,
}

/// A ClientToken an operation was called with.
#[derive(Debug)]
struct TokenUse {
    action: &'static str,
    token: String,
    fingerprint: String,
    id: String,
}

impl Ess {
    /// The group `id`.
    pub fn group(&self, id: &str) -> Option<&ScalingGroup> {
        self.groups.iter().find(|g| g.scaling_group_id == id)
    }

    /// The group `id`, mutable.
    pub fn group_mut(&mut self, id: &str) -> Result<&mut ScalingGroup, RpcError> {
        self.groups
            .iter_mut()
            .find(|g| g.scaling_group_id == id)
            .ok_or_else(|| errors::group_not_found(id))
    }

    /// What an earlier call with the same ClientToken answered; an error if it had other
    /// parameters.
    pub(crate) fn token_lookup(
        &self,
        action: &'static str,
        token: Option<&str>,
        fingerprint: &str,
    ) -> Result<Option<String>, RpcError> {
        let Some(token) = token else {
            return Ok(None);
        };
        match self
            .tokens
            .iter()
            .find(|t| t.action == action && t.token == token)
        {
            None => Ok(None),
            Some(used) if used.fingerprint == fingerprint => Ok(Some(used.id.clone())),
            Some(_) => Err(errors::idempotent_mismatch()),
        }
    }

    /// Remembers what a call with a ClientToken answered.
    pub(crate) fn token_remember(
        &mut self,
        action: &'static str,
        token: Option<&str>,
        fingerprint: String,
        id: &str,
    ) {
        if let Some(token) = token {
            self.tokens.push(TokenUse {
                action,
                token: token.to_owned(),
                fingerprint,
                id: id.to_owned(),
            });
        }
    }

    /// `Active` if the configuration is its group's active one, else `Inactive`.
    pub fn lifecycle_state(&self, config: &ScalingConfiguration) -> &'static str {
        let active = self
            .group(&config.scaling_group_id)
            .and_then(|g| g.active_scaling_configuration_id.as_deref())
            == Some(config.scaling_configuration_id.as_str());
        if active { "Active" } else { "Inactive" }
    }

    /// The configuration `id`, mutable.
    pub fn configuration_mut(&mut self, id: &str) -> Result<&mut ScalingConfiguration, RpcError> {
        self.configurations
            .iter_mut()
            .find(|c| c.scaling_configuration_id == id)
            .ok_or_else(|| errors::configuration_not_found(id))
    }

    /// Deletes a configuration (what the admin interface does; the group loses its active
    /// configuration if it was that one).
    pub fn delete_configuration(&mut self, id: &str) -> Result<(), RpcError> {
        self.configuration_mut(id)?;
        self.configurations
            .retain(|c| c.scaling_configuration_id != id);
        for group in &mut self.groups {
            if group.active_scaling_configuration_id.as_deref() == Some(id) {
                group.active_scaling_configuration_id = None;
            }
        }
        Ok(())
    }
}
