//! The operations of a rolling update on a scaling group's instances: DescribeScalingInstances,
//! EnterStandby, ExitStandby, SetInstancesProtection, SuspendProcesses, ResumeProcesses and
//! DescribeScalingActivities
//! (<https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2014-08-28-enterstandby>
//! and its neighbours).

use serde::Deserialize;

use super::super::error::{Error, RequestError};
use super::super::{Params, RpcMethod, all_pages, lenient, validate};
use super::{Ess, MAX_PAGE_SIZE};
use crate::aliyun::ecs::Acknowledged;

/// Most `InstanceId.N` of EnterStandby, ExitStandby, SetInstancesProtection and
/// DescribeScalingInstances.
pub const MAX_SCALING_INSTANCE_IDS: usize = 20;

/// The scaling processes SuspendProcesses and ResumeProcesses name.
pub const PROCESSES: [&str; 5] = [
    "ScaleIn",
    "ScaleOut",
    "HealthCheck",
    "AlarmNotification",
    "ScheduledAction",
];

/// `DescribeScalingInstances`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeScalingInstancesRequest {
    /// `ScalingGroupId`.
    pub scaling_group_id: Option<String>,
    /// `InstanceId.N` (at most 20).
    pub instance_ids: Vec<String>,
    /// `LifecycleState`.
    pub lifecycle_state: Option<String>,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (at most 50).
    pub page_size: Option<u32>,
}

impl DescribeScalingInstancesRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::repeat_list("InstanceId.N", &self.instance_ids, MAX_SCALING_INSTANCE_IDS)?;
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, MAX_PAGE_SIZE)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .opt_str("ScalingGroupId", self.scaling_group_id.as_deref())
            .list("InstanceId", &self.instance_ids)
            .opt_str("LifecycleState", self.lifecycle_state.as_deref())
            .opt("PageNumber", self.page_number)
            .opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeScalingInstances` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeScalingInstancesResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `TotalCount`.
    #[serde(deserialize_with = "lenient::number")]
    pub total_count: i64,
    /// `ScalingInstances`.
    pub scaling_instances: ScalingInstances,
}

/// `ScalingInstances: {ScalingInstance: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingInstances {
    /// `ScalingInstance`.
    pub scaling_instance: Vec<ScalingInstance>,
}

/// One instance of a scaling group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingInstance {
    /// `InstanceId`.
    pub instance_id: String,
    /// `ScalingGroupId`.
    pub scaling_group_id: String,
    /// `ScalingConfigurationId` (empty for an attached instance).
    pub scaling_configuration_id: String,
    /// `LaunchTemplateId`: the template an instance of a template group was launched from
    /// (empty otherwise).
    pub launch_template_id: String,
    /// `LaunchTemplateVersion`: the version of that template it was launched from.
    #[serde(deserialize_with = "lenient::string")]
    pub launch_template_version: String,
    /// `LifecycleState`: `InService`, `Pending`, `Protected`, `Standby`, `Stopped`,
    /// `Removing`, …
    pub lifecycle_state: String,
    /// `HealthStatus`: `Healthy` or `Unhealthy`.
    pub health_status: String,
    /// `CreationType`: `AutoCreated` or `Attached`.
    pub creation_type: String,
    /// `LoadBalancerWeight`.
    #[serde(deserialize_with = "lenient::number")]
    pub load_balancer_weight: i64,
    /// `CreationTime`.
    pub creation_time: String,
}

/// `EnterStandby` and `ExitStandby`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StandbyRequest {
    /// `ScalingGroupId` (required).
    pub scaling_group_id: String,
    /// `InstanceId.N` (1 to 20).
    pub instance_ids: Vec<String>,
    /// `ClientToken`.
    pub client_token: Option<String>,
}

impl StandbyRequest {
    /// The request's parameters, after checking them (no `RegionId`: the group id says
    /// where it lives).
    pub fn to_params(&self) -> Result<Params, RequestError> {
        validate::non_empty("ScalingGroupId", &self.scaling_group_id)?;
        instance_ids(&self.instance_ids)?;
        validate::client_token(self.client_token.as_deref())?;
        let mut p = Params::new();
        p.put("ScalingGroupId", &self.scaling_group_id)
            .list("InstanceId", &self.instance_ids)
            .opt_str("ClientToken", self.client_token.as_deref());
        Ok(p)
    }
}

fn instance_ids(ids: &[String]) -> Result<(), RequestError> {
    if ids.is_empty() {
        return Err(RequestError::new(
            "InstanceId.N",
            "at least one instance id",
        ));
    }
    validate::repeat_list("InstanceId.N", ids, MAX_SCALING_INSTANCE_IDS)
}

/// `EnterStandby` / `ExitStandby` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StandbyResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `ScalingActivityId`.
    pub scaling_activity_id: String,
}

/// `SetInstancesProtection`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetInstancesProtectionRequest {
    /// `ScalingGroupId` (required).
    pub scaling_group_id: String,
    /// `InstanceId.N` (1 to 20).
    pub instance_ids: Vec<String>,
    /// `ProtectedFromScaleIn`.
    pub protected_from_scale_in: bool,
}

impl SetInstancesProtectionRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self) -> Result<Params, RequestError> {
        validate::non_empty("ScalingGroupId", &self.scaling_group_id)?;
        instance_ids(&self.instance_ids)?;
        let mut p = Params::new();
        p.put("ScalingGroupId", &self.scaling_group_id)
            .list("InstanceId", &self.instance_ids)
            .put("ProtectedFromScaleIn", self.protected_from_scale_in);
        Ok(p)
    }
}

/// `SuspendProcesses` and `ResumeProcesses`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessesRequest {
    /// `ScalingGroupId` (required).
    pub scaling_group_id: String,
    /// `Process.N`: names from [`PROCESSES`].
    pub processes: Vec<String>,
    /// `ClientToken`.
    pub client_token: Option<String>,
}

impl ProcessesRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::non_empty("ScalingGroupId", &self.scaling_group_id)?;
        if self.processes.is_empty() {
            return Err(RequestError::new("Process.N", "at least one process"));
        }
        if let Some(bad) = self
            .processes
            .iter()
            .find(|p| !PROCESSES.contains(&p.as_str()))
        {
            return Err(RequestError::new(
                "Process.N",
                format!("{bad:?} is not one of {PROCESSES:?}"),
            ));
        }
        validate::client_token(self.client_token.as_deref())?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("ScalingGroupId", &self.scaling_group_id)
            .list("Process", &self.processes)
            .opt_str("ClientToken", self.client_token.as_deref());
        Ok(p)
    }
}

/// `DescribeScalingActivities`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeScalingActivitiesRequest {
    /// `ScalingGroupId`.
    pub scaling_group_id: Option<String>,
    /// `StatusCode`: `InProgress`, `Successful`, `Warning`, `Failed` or `Rejected`.
    pub status_code: Option<String>,
    /// `PageNumber`.
    pub page_number: Option<u32>,
    /// `PageSize` (at most 50).
    pub page_size: Option<u32>,
}

impl DescribeScalingActivitiesRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::required("ScalingGroupId", self.scaling_group_id.as_deref())?;
        validate::page_number(self.page_number)?;
        validate::page_size(self.page_size, MAX_PAGE_SIZE)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .opt_str("ScalingGroupId", self.scaling_group_id.as_deref())
            .opt_str("StatusCode", self.status_code.as_deref())
            .opt("PageNumber", self.page_number)
            .opt("PageSize", self.page_size);
        Ok(p)
    }
}

/// `DescribeScalingActivities` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeScalingActivitiesResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `TotalCount`.
    #[serde(deserialize_with = "lenient::number")]
    pub total_count: i64,
    /// `ScalingActivities`.
    pub scaling_activities: ScalingActivities,
}

/// `ScalingActivities: {ScalingActivity: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingActivities {
    /// `ScalingActivity`.
    pub scaling_activity: Vec<ScalingActivity>,
}

/// One scaling activity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingActivity {
    /// `ScalingActivityId`.
    pub scaling_activity_id: String,
    /// `StatusCode`.
    pub status_code: String,
    /// `Description`.
    pub description: String,
    /// `StartTime`.
    pub start_time: String,
}

impl Ess<'_> {
    /// `DescribeScalingInstances` (one page).
    pub async fn describe_scaling_instances(
        &self,
        req: &DescribeScalingInstancesRequest,
    ) -> Result<DescribeScalingInstancesResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeScalingInstances", params)
            .await
    }

    /// Every instance matching `req`, all pages of 50.
    pub async fn describe_scaling_instances_all(
        &self,
        req: &DescribeScalingInstancesRequest,
    ) -> Result<Vec<ScalingInstance>, Error> {
        all_pages(|page| async move {
            let r = DescribeScalingInstancesRequest {
                page_number: Some(page),
                page_size: Some(MAX_PAGE_SIZE),
                ..req.clone()
            };
            let answer = self.describe_scaling_instances(&r).await?;
            Ok((
                answer.scaling_instances.scaling_instance,
                answer.total_count,
            ))
        })
        .await
    }

    /// `EnterStandby`.
    pub async fn enter_standby(&self, req: &StandbyRequest) -> Result<StandbyResponse, Error> {
        self.call(RpcMethod::Post, "EnterStandby", req.to_params())
            .await
    }

    /// `ExitStandby`.
    pub async fn exit_standby(&self, req: &StandbyRequest) -> Result<StandbyResponse, Error> {
        self.call(RpcMethod::Post, "ExitStandby", req.to_params())
            .await
    }

    /// `SetInstancesProtection`.
    pub async fn set_instances_protection(
        &self,
        req: &SetInstancesProtectionRequest,
    ) -> Result<Acknowledged, Error> {
        self.call(RpcMethod::Post, "SetInstancesProtection", req.to_params())
            .await
    }

    /// `SuspendProcesses`.
    pub async fn suspend_processes(&self, req: &ProcessesRequest) -> Result<Acknowledged, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "SuspendProcesses", params).await
    }

    /// `ResumeProcesses`.
    pub async fn resume_processes(&self, req: &ProcessesRequest) -> Result<Acknowledged, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "ResumeProcesses", params).await
    }

    /// `DescribeScalingActivities` (one page).
    pub async fn describe_scaling_activities(
        &self,
        req: &DescribeScalingActivitiesRequest,
    ) -> Result<DescribeScalingActivitiesResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeScalingActivities", params)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standby_lists_ids_without_a_region_and_refuses_an_empty_batch() {
        let p = StandbyRequest {
            scaling_group_id: "asg-1".into(),
            instance_ids: vec!["i-1".into(), "i-2".into()],
            client_token: Some("t".into()),
        }
        .to_params()
        .expect("valid");
        assert_eq!(
            (
                p.get("InstanceId.2"),
                p.get("RegionId"),
                p.get("ClientToken")
            ),
            (Some("i-2"), None, Some("t"))
        );
        let e = StandbyRequest {
            scaling_group_id: "asg-1".into(),
            ..Default::default()
        }
        .to_params()
        .expect_err("no ids");
        assert_eq!(e.parameter, "InstanceId.N");
        let e = StandbyRequest {
            scaling_group_id: "asg-1".into(),
            instance_ids: (0..21).map(|i| format!("i-{i}")).collect(),
            client_token: None,
        }
        .to_params()
        .expect_err("21 ids");
        assert_eq!(e.parameter, "InstanceId.N");
    }

    #[test]
    fn processes_are_named_from_the_documented_five() {
        let req = ProcessesRequest {
            scaling_group_id: "asg-1".into(),
            processes: vec!["ScaleIn".into(), "ScheduledAction".into()],
            client_token: None,
        };
        let p = req.to_params("cn-hangzhou").expect("valid");
        assert_eq!(
            (p.get("Process.1"), p.get("Process.2")),
            (Some("ScaleIn"), Some("ScheduledAction"))
        );
        let e = ProcessesRequest {
            processes: vec!["Everything".into()],
            ..req
        }
        .to_params("cn-hangzhou")
        .expect_err("unknown process");
        assert_eq!(e.parameter, "Process.N");
    }

    #[test]
    fn scaling_instances_read_the_2014_nesting() {
        let r: DescribeScalingInstancesResponse = serde_json::from_str(
            r#"{"TotalCount":1,"ScalingInstances":{"ScalingInstance":[{"InstanceId":"i-1",
            "LifecycleState":"Standby","HealthStatus":"Healthy","CreationType":"Attached","LoadBalancerWeight":"0"}]}}"#,
        )
        .expect("parses");
        let i = &r.scaling_instances.scaling_instance[0];
        assert_eq!(
            (
                i.lifecycle_state.as_str(),
                i.creation_type.as_str(),
                i.load_balancer_weight
            ),
            ("Standby", "Attached", 0)
        );
    }
}
