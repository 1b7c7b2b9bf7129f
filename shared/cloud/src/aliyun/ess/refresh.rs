//! ESS instance refresh, called at API version 2022-02-22 (plain JSON arrays in answers):
//! StartInstanceRefresh, DescribeInstanceRefreshes, and Suspend-, Resume-, Rollback- and
//! CancelInstanceRefresh
//! (<https://www.alibabacloud.com/help/en/auto-scaling/developer-reference/api-ess-2022-02-22-startinstancerefresh>
//! and its neighbours). Signed with the RPC signature v1, which the 2022-02-22 API takes as
//! the official SDKs' `signature_algorithm="v2"` mode sends it.

use serde::Deserialize;

use super::super::error::{Error, RequestError};
use super::super::{Params, RpcMethod, Service, lenient, validate};
use super::Ess;
use crate::aliyun::ecs::Acknowledged;

/// The API version of the instance-refresh operations.
pub const REFRESH_VERSION: &str = "2022-02-22";

/// `StartInstanceRefresh`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartInstanceRefreshRequest {
    /// `ScalingGroupId` (required).
    pub scaling_group_id: String,
    /// `DesiredConfiguration.ImageId`: the image new instances get, and the active
    /// configuration's once the refresh succeeded.
    pub image_id: Option<String>,
    /// `MinHealthyPercentage` (0 to 100; the cloud's default 80).
    pub min_healthy_percentage: Option<u32>,
    /// `MaxHealthyPercentage` (100 to 200; the cloud's default 120).
    pub max_healthy_percentage: Option<u32>,
    /// `Checkpoints.N.Percentage`: ascending, 1 to 100, the last 100.
    pub checkpoints: Vec<u32>,
    /// `CheckpointPauseTime`, minutes (1 to 2880).
    pub checkpoint_pause_minutes: Option<u32>,
    /// `SkipMatching`.
    pub skip_matching: Option<bool>,
    /// `ClientToken`.
    pub client_token: Option<String>,
}

impl StartInstanceRefreshRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::non_empty("ScalingGroupId", &self.scaling_group_id)?;
        validate::client_token(self.client_token.as_deref())?;
        if self.min_healthy_percentage.is_some_and(|v| v > 100) {
            return Err(RequestError::new("MinHealthyPercentage", "0 to 100"));
        }
        if self
            .max_healthy_percentage
            .is_some_and(|v| !(100..=200).contains(&v))
        {
            return Err(RequestError::new("MaxHealthyPercentage", "100 to 200"));
        }
        if self
            .checkpoint_pause_minutes
            .is_some_and(|v| !(1..=2880).contains(&v))
        {
            return Err(RequestError::new(
                "CheckpointPauseTime",
                "1 to 2880 minutes",
            ));
        }
        let ascending = self.checkpoints.windows(2).all(|w| w[0] < w[1]);
        if !ascending
            || self.checkpoints.iter().any(|p| !(1..=100).contains(p))
            || self.checkpoints.last().is_some_and(|p| *p != 100)
        {
            return Err(RequestError::new(
                "Checkpoints.N.Percentage",
                "ascending percentages of 1 to 100, the last 100",
            ));
        }
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("ScalingGroupId", &self.scaling_group_id)
            .opt_str("DesiredConfiguration.ImageId", self.image_id.as_deref())
            .opt("MinHealthyPercentage", self.min_healthy_percentage)
            .opt("MaxHealthyPercentage", self.max_healthy_percentage)
            .opt("CheckpointPauseTime", self.checkpoint_pause_minutes)
            .opt("SkipMatching", self.skip_matching)
            .opt_str("ClientToken", self.client_token.as_deref());
        for (n, percent) in self.checkpoints.iter().enumerate() {
            p.put(format!("Checkpoints.{}.Percentage", n + 1), percent);
        }
        Ok(p)
    }
}

/// `StartInstanceRefresh` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StartInstanceRefreshResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `InstanceRefreshTaskId` (`ir-…`).
    pub instance_refresh_task_id: String,
}

/// `DescribeInstanceRefreshes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeInstanceRefreshesRequest {
    /// `ScalingGroupId` (this or task ids).
    pub scaling_group_id: Option<String>,
    /// `InstanceRefreshTaskIds.N`.
    pub task_ids: Vec<String>,
    /// `MaxResults` (1 to 50).
    pub max_results: Option<u32>,
    /// `NextToken`.
    pub next_token: Option<String>,
}

impl DescribeInstanceRefreshesRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        if self.scaling_group_id.as_deref().is_none_or(str::is_empty) && self.task_ids.is_empty() {
            return Err(RequestError::new(
                "ScalingGroupId",
                "a group or task ids are required",
            ));
        }
        if self.max_results.is_some_and(|v| !(1..=50).contains(&v)) {
            return Err(RequestError::new("MaxResults", "1 to 50"));
        }
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .opt_str("ScalingGroupId", self.scaling_group_id.as_deref())
            .list("InstanceRefreshTaskIds", &self.task_ids)
            .opt("MaxResults", self.max_results)
            .opt_str("NextToken", self.next_token.as_deref());
        Ok(p)
    }
}

/// `DescribeInstanceRefreshes` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstanceRefreshesResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `TotalCount`.
    #[serde(deserialize_with = "lenient::number")]
    pub total_count: i64,
    /// `NextToken` (empty on the last page).
    #[serde(deserialize_with = "lenient::string")]
    pub next_token: String,
    /// `InstanceRefreshTasks`.
    pub instance_refresh_tasks: Vec<InstanceRefreshTask>,
}

/// One instance refresh task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceRefreshTask {
    /// `InstanceRefreshTaskId`.
    pub instance_refresh_task_id: String,
    /// `ScalingGroupId`.
    pub scaling_group_id: String,
    /// `Status`: `Pending`, `InProgress`, `Paused`, `CheckpointPause`, `Failed`,
    /// `Successful`, `Cancelling`, `Cancelled`, `RollbackInProgress`, `RollbackSuccessful`,
    /// `RollbackFailed`.
    pub status: String,
    /// `TotalNeedUpdateCapacity`.
    #[serde(deserialize_with = "lenient::number")]
    pub total_need_update_capacity: i64,
    /// `FinishedUpdateCapacity`.
    #[serde(deserialize_with = "lenient::number")]
    pub finished_update_capacity: i64,
    /// `Detail`: why it failed.
    #[serde(deserialize_with = "lenient::string")]
    pub detail: String,
    /// `DesiredConfiguration`.
    pub desired_configuration: DesiredConfiguration,
}

/// `DesiredConfiguration` of a task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DesiredConfiguration {
    /// `ImageId`.
    #[serde(deserialize_with = "lenient::string")]
    pub image_id: String,
    /// `ScalingConfigurationId`.
    #[serde(deserialize_with = "lenient::string")]
    pub scaling_configuration_id: String,
}

impl InstanceRefreshTask {
    /// Whether the task ended (it can no longer change anything).
    pub fn ended(&self) -> bool {
        matches!(
            self.status.as_str(),
            "Failed" | "Successful" | "Cancelled" | "RollbackSuccessful" | "RollbackFailed"
        )
    }
}

/// `SuspendInstanceRefresh`, `ResumeInstanceRefresh`, `RollbackInstanceRefresh`,
/// `CancelInstanceRefresh`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceRefreshTaskRequest {
    /// `ScalingGroupId`.
    pub scaling_group_id: String,
    /// `InstanceRefreshTaskId`.
    pub task_id: String,
}

impl InstanceRefreshTaskRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::non_empty("ScalingGroupId", &self.scaling_group_id)?;
        validate::non_empty("InstanceRefreshTaskId", &self.task_id)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("ScalingGroupId", &self.scaling_group_id)
            .put("InstanceRefreshTaskId", &self.task_id);
        Ok(p)
    }
}

impl Ess<'_> {
    async fn call_refresh<T: serde::de::DeserializeOwned>(
        &self,
        action: &str,
        params: Result<Params, RequestError>,
    ) -> Result<T, Error> {
        let params = params.map_err(|source| Error::InvalidRequest {
            action: action.to_owned(),
            source,
        })?;
        self.client
            .call_at(
                Service::Ess,
                Some(REFRESH_VERSION),
                RpcMethod::Post,
                action,
                params,
            )
            .await
    }

    /// `StartInstanceRefresh`.
    pub async fn start_instance_refresh(
        &self,
        req: &StartInstanceRefreshRequest,
    ) -> Result<StartInstanceRefreshResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call_refresh("StartInstanceRefresh", params).await
    }

    /// `DescribeInstanceRefreshes` (one page).
    pub async fn describe_instance_refreshes(
        &self,
        req: &DescribeInstanceRefreshesRequest,
    ) -> Result<DescribeInstanceRefreshesResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call_refresh("DescribeInstanceRefreshes", params).await
    }

    /// Every task matching `req`, all pages.
    pub async fn describe_instance_refreshes_all(
        &self,
        req: &DescribeInstanceRefreshesRequest,
    ) -> Result<Vec<InstanceRefreshTask>, Error> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let r = DescribeInstanceRefreshesRequest {
                max_results: Some(50),
                next_token: next.take(),
                ..req.clone()
            };
            let page = self.describe_instance_refreshes(&r).await?;
            let empty = page.instance_refresh_tasks.is_empty();
            out.extend(page.instance_refresh_tasks);
            if page.next_token.is_empty() || empty {
                return Ok(out);
            }
            next = Some(page.next_token);
        }
    }

    /// `SuspendInstanceRefresh`.
    pub async fn suspend_instance_refresh(
        &self,
        req: &InstanceRefreshTaskRequest,
    ) -> Result<Acknowledged, Error> {
        let params = req.to_params(self.client.region_id());
        self.call_refresh("SuspendInstanceRefresh", params).await
    }

    /// `ResumeInstanceRefresh`.
    pub async fn resume_instance_refresh(
        &self,
        req: &InstanceRefreshTaskRequest,
    ) -> Result<Acknowledged, Error> {
        let params = req.to_params(self.client.region_id());
        self.call_refresh("ResumeInstanceRefresh", params).await
    }

    /// `RollbackInstanceRefresh`.
    pub async fn rollback_instance_refresh(
        &self,
        req: &InstanceRefreshTaskRequest,
    ) -> Result<Acknowledged, Error> {
        let params = req.to_params(self.client.region_id());
        self.call_refresh("RollbackInstanceRefresh", params).await
    }

    /// `CancelInstanceRefresh`.
    pub async fn cancel_instance_refresh(
        &self,
        req: &InstanceRefreshTaskRequest,
    ) -> Result<Acknowledged, Error> {
        let params = req.to_params(self.client.region_id());
        self.call_refresh("CancelInstanceRefresh", params).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_must_ascend_to_100() {
        let ok = StartInstanceRefreshRequest {
            scaling_group_id: "asg-1".into(),
            image_id: Some("m-1".into()),
            checkpoints: vec![10, 100],
            ..Default::default()
        };
        let p = ok.to_params("cn-hangzhou").unwrap();
        assert!(
            p.0.contains(&("Checkpoints.2.Percentage".into(), "100".into())),
            "{p:?}"
        );
        assert!(p.0.contains(&("DesiredConfiguration.ImageId".into(), "m-1".into())));
        for bad in [vec![50], vec![60, 40, 100], vec![0, 100]] {
            let req = StartInstanceRefreshRequest {
                checkpoints: bad.clone(),
                ..ok.clone()
            };
            assert!(req.to_params("cn-hangzhou").is_err(), "{bad:?}");
        }
    }
}
