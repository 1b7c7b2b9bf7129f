//! Stopping, starting and reimaging instances: StopInstances, StartInstances and
//! ReplaceSystemDisk
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-stopinstances>,
//! <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-startinstances>,
//! <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-replacesystemdisk>).

use serde::Deserialize;

use super::super::error::{Error, RequestError};
use super::super::{Params, RpcMethod, validate};
use super::Ecs;

/// Most `InstanceId.N` of StopInstances and StartInstances.
pub const MAX_BATCH_INSTANCE_IDS: usize = 100;

/// `StopInstances` and `StartInstances`, all or nothing (`BatchOptimization=AllTogether`,
/// the default): one instance that cannot change refuses the whole call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PowerRequest {
    /// `InstanceId.N` (1 to 100).
    pub instance_ids: Vec<String>,
    /// `StoppedMode` of a stop: `KeepCharging` keeps the instance's resources, so that it
    /// can start again; `StopCharging` may not get them back.
    pub stopped_mode: Option<String>,
}

impl PowerRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        if self.instance_ids.is_empty() {
            return Err(RequestError::new(
                "InstanceId.N",
                "at least one instance id",
            ));
        }
        validate::repeat_list("InstanceId.N", &self.instance_ids, MAX_BATCH_INSTANCE_IDS)?;
        if let Some(mode) = &self.stopped_mode {
            if !matches!(mode.as_str(), "KeepCharging" | "StopCharging") {
                return Err(RequestError::new(
                    "StoppedMode",
                    "must be KeepCharging or StopCharging",
                ));
            }
        }
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .list("InstanceId", &self.instance_ids)
            .opt_str("StoppedMode", self.stopped_mode.as_deref());
        Ok(p)
    }
}

/// `StopInstances` / `StartInstances` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PowerResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `InstanceResponses`.
    pub instance_responses: InstanceResponses,
}

/// `InstanceResponses: {InstanceResponse: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceResponses {
    /// `InstanceResponse`.
    pub instance_response: Vec<InstanceResponse>,
}

/// What happened to one instance of the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceResponse {
    /// `InstanceId`.
    pub instance_id: String,
    /// `Code`: `200`, or the error code.
    pub code: String,
    /// `Message`.
    pub message: String,
    /// `PreviousStatus`.
    pub previous_status: String,
    /// `CurrentStatus`.
    pub current_status: String,
}

/// `ReplaceSystemDisk`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaceSystemDiskRequest {
    /// `InstanceId` (required; the instance must be Stopped).
    pub instance_id: String,
    /// `ImageId` (required).
    pub image_id: String,
    /// `KeyPairName`: log in with this key pair (Linux).
    pub key_pair_name: Option<String>,
    /// `PasswordInherit`: keep the password the image holds.
    pub password_inherit: bool,
    /// `SystemDisk.Size`, GiB.
    pub system_disk_size: Option<u32>,
    /// `ClientToken`.
    pub client_token: Option<String>,
}

impl ReplaceSystemDiskRequest {
    /// The request's parameters, after checking them (no `RegionId`: the instance id says
    /// where it lives).
    pub fn to_params(&self) -> Result<Params, RequestError> {
        validate::non_empty("InstanceId", &self.instance_id)?;
        validate::non_empty("ImageId", &self.image_id)?;
        validate::client_token(self.client_token.as_deref())?;
        let mut p = Params::new();
        p.put("InstanceId", &self.instance_id)
            .put("ImageId", &self.image_id)
            .opt_str("KeyPairName", self.key_pair_name.as_deref())
            .opt("PasswordInherit", self.password_inherit.then_some(true))
            .opt("SystemDisk.Size", self.system_disk_size)
            .opt_str("ClientToken", self.client_token.as_deref());
        Ok(p)
    }
}

/// `ReplaceSystemDisk` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReplaceSystemDiskResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `DiskId`: the new system disk.
    pub disk_id: String,
}

impl Ecs<'_> {
    /// `StopInstances`.
    pub async fn stop_instances(&self, req: &PowerRequest) -> Result<PowerResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Post, "StopInstances", params).await
    }

    /// `StartInstances` (a `stopped_mode` is refused: it is a stop's).
    pub async fn start_instances(&self, req: &PowerRequest) -> Result<PowerResponse, Error> {
        let params = match &req.stopped_mode {
            Some(_) => Err(RequestError::new(
                "StoppedMode",
                "StartInstances takes no StoppedMode",
            )),
            None => req.to_params(self.client.region_id()),
        };
        self.call(RpcMethod::Post, "StartInstances", params).await
    }

    /// `ReplaceSystemDisk`.
    pub async fn replace_system_disk(
        &self,
        req: &ReplaceSystemDiskRequest,
    ) -> Result<ReplaceSystemDiskResponse, Error> {
        self.call(RpcMethod::Post, "ReplaceSystemDisk", req.to_params())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_one_to_a_hundred_ids_and_a_known_stop_mode() {
        let p = PowerRequest {
            instance_ids: vec!["i-1".into(), "i-2".into()],
            stopped_mode: Some("KeepCharging".into()),
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        assert_eq!(
            (p.get("InstanceId.2"), p.get("StoppedMode")),
            (Some("i-2"), Some("KeepCharging"))
        );
        for bad in [
            PowerRequest::default(),
            PowerRequest {
                instance_ids: (0..101).map(|i| format!("i-{i}")).collect(),
                stopped_mode: None,
            },
        ] {
            assert_eq!(
                bad.to_params("r").expect_err("refused").parameter,
                "InstanceId.N"
            );
        }
        let e = PowerRequest {
            instance_ids: vec!["i-1".into()],
            stopped_mode: Some("Not-applicable".into()),
        }
        .to_params("r")
        .expect_err("an answer, not a request value");
        assert_eq!(e.parameter, "StoppedMode");
    }

    #[test]
    fn replace_system_disk_names_the_image_and_no_region() {
        let p = ReplaceSystemDiskRequest {
            instance_id: "i-1".into(),
            image_id: "m-1".into(),
            password_inherit: true,
            client_token: Some("t".into()),
            ..Default::default()
        }
        .to_params()
        .expect("valid");
        assert_eq!(
            (
                p.get("ImageId"),
                p.get("PasswordInherit"),
                p.get("RegionId")
            ),
            (Some("m-1"), Some("true"), None)
        );
        let e = ReplaceSystemDiskRequest {
            instance_id: "i-1".into(),
            ..Default::default()
        }
        .to_params()
        .expect_err("no image");
        assert_eq!(e.parameter, "ImageId");
    }
}
