//! Whether a launch would succeed: RunInstances with `DryRun=true`
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-runinstances>).
//!
//! ECS checks a dry run as it checks a launch (the parameters, the image against the
//! instance type, the system disk against the image, service limits, stock) and creates
//! nothing: a launch that would succeed is answered with the error code `DryRunOperation`
//! (HTTP 400), one that would not with the error it would get. reimage never launches
//! instances itself: this client only sends dry runs.

use serde::Deserialize;

use super::super::error::{Error, RequestError};
use super::super::{Params, RpcMethod, validate};
use super::Ecs;

/// The code of a dry run whose checks all passed.
pub const DRY_RUN_PASSED: &str = "DryRunOperation";

/// The system disk categories RunInstances documents (`SystemDisk.Category`).
pub const SYSTEM_DISK_CATEGORIES: &[&str] = &[
    "cloud",
    "cloud_efficiency",
    "cloud_ssd",
    "cloud_essd",
    "cloud_auto",
    "cloud_essd_entry",
];

/// The performance levels of an enterprise SSD (`SystemDisk.PerformanceLevel`).
pub const PERFORMANCE_LEVELS: &[&str] = &["PL0", "PL1", "PL2", "PL3"];

/// Most instances one RunInstances launches (`Amount`, `MinAmount`).
pub const MAX_RUN_AMOUNT: u32 = 100;

/// The largest system disk of any category, GiB (each category has its own range: a basic
/// disk is 20 to 500, an ESSD AutoPL 1 to 2048, most others 20 to 2048).
pub const MAX_SYSTEM_DISK_GIB: u32 = 2048;

/// `RunInstances`, sent only as a dry run: would ECS launch `amount` instances of
/// `instance_type` from `image_id` with this system disk and network?
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInstancesRequest {
    /// `ImageId` (required).
    pub image_id: String,
    /// `InstanceType` (required), e.g. `ecs.g7.large`.
    pub instance_type: String,
    /// `SecurityGroupId` (one) or `SecurityGroupIds.N` (several); at least one.
    pub security_group_ids: Vec<String>,
    /// `VSwitchId` (required by ECS for a VPC-type instance).
    pub vswitch_id: Option<String>,
    /// `ZoneId` (the vSwitch's zone, if both are given).
    pub zone_id: Option<String>,
    /// `SystemDisk.Size`, GiB (the cloud's default: the larger of 40 and the image's size).
    pub system_disk_size: Option<u32>,
    /// `SystemDisk.Category` (the cloud's default: `cloud_efficiency`).
    pub system_disk_category: Option<String>,
    /// `SystemDisk.PerformanceLevel`: `PL0` to `PL3`, for a `cloud_essd` disk (the cloud's
    /// default: `PL1`); ECS takes it with that category only.
    pub system_disk_performance_level: Option<String>,
    /// `KeyPairName`.
    pub key_pair_name: Option<String>,
    /// `PasswordInherit`: keep the password the image holds.
    pub password_inherit: bool,
    /// `Amount`: 1 to 100 (the cloud's default: 1).
    pub amount: Option<u32>,
    /// `MinAmount`: 1 to 100, at most `amount`.
    pub min_amount: Option<u32>,
}

impl RunInstancesRequest {
    /// The request's parameters, after checking them, with `DryRun=true` (always: the
    /// client sends nothing else).
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::non_empty("ImageId", &self.image_id)?;
        validate::non_empty("InstanceType", &self.instance_type)?;
        if self.security_group_ids.is_empty() {
            return Err(RequestError::missing("SecurityGroupId"));
        }
        validate::repeat_list(
            "SecurityGroupIds.N",
            &self.security_group_ids,
            self.security_group_ids.len(),
        )?;
        for (name, value) in [
            ("VSwitchId", &self.vswitch_id),
            ("ZoneId", &self.zone_id),
            ("KeyPairName", &self.key_pair_name),
        ] {
            if let Some(v) = value {
                validate::non_empty(name, v)?;
            }
        }
        if let Some(size) = self.system_disk_size {
            if size == 0 || size > MAX_SYSTEM_DISK_GIB {
                return Err(RequestError::new(
                    "SystemDisk.Size",
                    format!("is {size} GiB; must be 1 to {MAX_SYSTEM_DISK_GIB}"),
                ));
            }
        }
        if let Some(category) = &self.system_disk_category {
            if !SYSTEM_DISK_CATEGORIES.contains(&category.as_str()) {
                return Err(RequestError::new(
                    "SystemDisk.Category",
                    format!(
                        "is {category:?}; must be one of {}",
                        SYSTEM_DISK_CATEGORIES.join(", ")
                    ),
                ));
            }
        }
        if let Some(level) = &self.system_disk_performance_level {
            if !PERFORMANCE_LEVELS.contains(&level.as_str()) {
                return Err(RequestError::new(
                    "SystemDisk.PerformanceLevel",
                    format!(
                        "is {level:?}; must be one of {}",
                        PERFORMANCE_LEVELS.join(", ")
                    ),
                ));
            }
            if self.system_disk_category.as_deref() != Some("cloud_essd") {
                return Err(RequestError::new(
                    "SystemDisk.PerformanceLevel",
                    "is for a cloud_essd system disk only (SystemDisk.Category)",
                ));
            }
        }
        for (name, value) in [("Amount", self.amount), ("MinAmount", self.min_amount)] {
            if let Some(n) = value {
                if n == 0 || n > MAX_RUN_AMOUNT {
                    return Err(RequestError::new(
                        name,
                        format!("is {n}; must be 1 to {MAX_RUN_AMOUNT}"),
                    ));
                }
            }
        }
        if let Some(min) = self.min_amount {
            let amount = self.amount.unwrap_or(1);
            if min > amount {
                return Err(RequestError::new(
                    "MinAmount",
                    format!("is {min}; must be at most Amount ({amount})"),
                ));
            }
        }
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("ImageId", &self.image_id)
            .put("InstanceType", &self.instance_type);
        if let [one] = self.security_group_ids.as_slice() {
            p.put("SecurityGroupId", one);
        } else {
            p.list("SecurityGroupIds", &self.security_group_ids);
        }
        p.opt_str("VSwitchId", self.vswitch_id.as_deref())
            .opt_str("ZoneId", self.zone_id.as_deref())
            .opt("SystemDisk.Size", self.system_disk_size)
            .opt_str("SystemDisk.Category", self.system_disk_category.as_deref())
            .opt_str(
                "SystemDisk.PerformanceLevel",
                self.system_disk_performance_level.as_deref(),
            )
            .opt_str("KeyPairName", self.key_pair_name.as_deref())
            .opt("PasswordInherit", self.password_inherit.then_some(true))
            .opt("Amount", self.amount)
            .opt("MinAmount", self.min_amount)
            .put("DryRun", true);
        Ok(p)
    }
}

/// What a RunInstances that launched answers: the ids of its instances.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Launched {
    request_id: String,
    instance_id_sets: InstanceIdSets,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct InstanceIdSets {
    instance_id_set: Vec<String>,
}

impl Ecs<'_> {
    /// `RunInstances` with `DryRun=true`: `Ok(())` exactly when ECS answers
    /// `DryRunOperation` (every check passed: the launch would succeed); otherwise the
    /// cloud's error (`InvalidImageId.NotFound`, `ImageNotSupportInstanceType`,
    /// `InvalidSystemDiskSize.LessThanImageSize`, `OperationDenied.NoStock`, …) as
    /// [`Error::Api`]. An answer of success (which a dry run never gets) is an
    /// [`Error::Decode`] naming any instances it reports.
    pub async fn run_instances_dry_run(&self, req: &RunInstancesRequest) -> Result<(), Error> {
        let params = req.to_params(self.client.region_id());
        match self
            .call::<Launched>(RpcMethod::Post, "RunInstances", params)
            .await
        {
            Err(e) if e.code() == Some(DRY_RUN_PASSED) => Ok(()),
            Err(e) => Err(e),
            Ok(answer) => Err(Error::Decode {
                action: "RunInstances".into(),
                request_id: Some(answer.request_id).filter(|id| !id.is_empty()),
                message: format!(
                    "a dry run was answered as a launch, not with {DRY_RUN_PASSED} (instances: [{}])",
                    answer.instance_id_sets.instance_id_set.join(", ")
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RunInstancesRequest {
        RunInstancesRequest {
            image_id: "m-1".into(),
            instance_type: "ecs.g7.large".into(),
            security_group_ids: vec!["sg-1".into()],
            ..Default::default()
        }
    }

    #[test]
    fn the_request_is_always_a_dry_run_with_the_cloud_names() {
        let p = RunInstancesRequest {
            vswitch_id: Some("vsw-1".into()),
            zone_id: Some("cn-hangzhou-h".into()),
            system_disk_size: Some(40),
            system_disk_category: Some("cloud_essd".into()),
            system_disk_performance_level: Some("PL0".into()),
            key_pair_name: Some("kp".into()),
            password_inherit: true,
            amount: Some(3),
            min_amount: Some(2),
            ..request()
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        for (name, want) in [
            ("RegionId", "cn-hangzhou"),
            ("ImageId", "m-1"),
            ("InstanceType", "ecs.g7.large"),
            ("SecurityGroupId", "sg-1"),
            ("VSwitchId", "vsw-1"),
            ("ZoneId", "cn-hangzhou-h"),
            ("SystemDisk.Size", "40"),
            ("SystemDisk.Category", "cloud_essd"),
            ("SystemDisk.PerformanceLevel", "PL0"),
            ("KeyPairName", "kp"),
            ("PasswordInherit", "true"),
            ("Amount", "3"),
            ("MinAmount", "2"),
            ("DryRun", "true"),
        ] {
            assert_eq!(p.get(name), Some(want), "{name}");
        }
        let p = request().to_params("r").expect("the least");
        assert_eq!(p.get("DryRun"), Some("true"));
        assert_eq!(
            (
                p.get("SystemDisk.Size"),
                p.get("PasswordInherit"),
                p.get("Amount")
            ),
            (None, None, None)
        );
        let p = RunInstancesRequest {
            security_group_ids: vec!["sg-1".into(), "sg-2".into()],
            ..request()
        }
        .to_params("r")
        .expect("two groups");
        assert_eq!(
            (
                p.get("SecurityGroupId"),
                p.get("SecurityGroupIds.1"),
                p.get("SecurityGroupIds.2")
            ),
            (None, Some("sg-1"), Some("sg-2"))
        );
    }

    #[test]
    fn the_request_refuses_what_the_cloud_would() {
        let refused = |req: RunInstancesRequest| req.to_params("r").expect_err("refused").parameter;
        assert_eq!(
            refused(RunInstancesRequest {
                image_id: String::new(),
                ..request()
            }),
            "ImageId"
        );
        assert_eq!(
            refused(RunInstancesRequest {
                instance_type: " ".into(),
                ..request()
            }),
            "InstanceType"
        );
        assert_eq!(
            refused(RunInstancesRequest {
                security_group_ids: Vec::new(),
                ..request()
            }),
            "SecurityGroupId"
        );
        assert_eq!(
            refused(RunInstancesRequest {
                security_group_ids: vec!["sg-1".into(), String::new()],
                ..request()
            }),
            "SecurityGroupIds.N"
        );
        for size in [0, 2049] {
            assert_eq!(
                refused(RunInstancesRequest {
                    system_disk_size: Some(size),
                    ..request()
                }),
                "SystemDisk.Size"
            );
        }
        assert_eq!(
            refused(RunInstancesRequest {
                system_disk_category: Some("ssd".into()),
                ..request()
            }),
            "SystemDisk.Category"
        );
        for (category, level) in [("cloud_essd", "PL4"), ("cloud_auto", "PL1")] {
            assert_eq!(
                refused(RunInstancesRequest {
                    system_disk_category: Some(category.into()),
                    system_disk_performance_level: Some(level.into()),
                    ..request()
                }),
                "SystemDisk.PerformanceLevel",
                "{category} {level}"
            );
        }
        assert_eq!(
            refused(RunInstancesRequest {
                amount: Some(101),
                ..request()
            }),
            "Amount"
        );
        assert_eq!(
            refused(RunInstancesRequest {
                amount: Some(2),
                min_amount: Some(3),
                ..request()
            }),
            "MinAmount"
        );
        assert_eq!(
            refused(RunInstancesRequest {
                vswitch_id: Some(String::new()),
                ..request()
            }),
            "VSwitchId"
        );
    }
}
