//! Which instance types can run an image: DescribeImageSupportInstanceTypes
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeimagesupportinstancetypes>).

use serde::{Deserialize, Deserializer};

use super::super::error::{Error, RequestError};
use super::super::{Params, RpcMethod, lenient, validate};
use super::Ecs;

/// What the image is to be used for (`ActionType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ImageActionType {
    /// `CreateEcs`: creating instances (the cloud's default).
    #[default]
    CreateEcs,
    /// `ChangeOS`: replacing an instance's system disk or operating system.
    ChangeOs,
}

impl ImageActionType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateEcs => "CreateEcs",
            Self::ChangeOs => "ChangeOS",
        }
    }
}

/// `DescribeImageSupportInstanceTypes` of one image. The cloud documents `ImageId` as
/// optional (its `Filter.N` no longer takes effect); the client requires it, an answer for no
/// image telling nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeImageSupportInstanceTypesRequest {
    /// `ImageId` (required).
    pub image_id: String,
    /// `ActionType` (the cloud's default is `CreateEcs`).
    pub action_type: Option<ImageActionType>,
}

impl DescribeImageSupportInstanceTypesRequest {
    /// The request's parameters, after checking them.
    pub fn to_params(&self, region_id: &str) -> Result<Params, RequestError> {
        validate::non_empty("ImageId", &self.image_id)?;
        let mut p = Params::new();
        p.put("RegionId", region_id)
            .put("ImageId", &self.image_id)
            .opt("ActionType", self.action_type.map(ImageActionType::as_str));
        Ok(p)
    }
}

/// `DescribeImageSupportInstanceTypes` answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeImageSupportInstanceTypesResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `RegionId`.
    pub region_id: String,
    /// `ImageId`.
    pub image_id: String,
    /// `InstanceTypes`.
    pub instance_types: SupportedInstanceTypes,
}

impl DescribeImageSupportInstanceTypesResponse {
    /// Whether `instance_type` (e.g. `ecs.g7.large`) is among the supported types.
    pub fn supports(&self, instance_type: &str) -> bool {
        self.instance_types
            .instance_type
            .iter()
            .any(|t| t.instance_type_id == instance_type)
    }
}

/// `InstanceTypes: {InstanceType: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SupportedInstanceTypes {
    /// `InstanceType`.
    pub instance_type: Vec<SupportedInstanceType>,
}

/// One instance type that runs the image.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SupportedInstanceType {
    /// `InstanceTypeId`, e.g. `ecs.g7.large`.
    pub instance_type_id: String,
    /// `CpuCoreCount` (vCPUs).
    #[serde(deserialize_with = "lenient::number")]
    pub cpu_core_count: i64,
    /// `MemorySize`, GiB (`0.5` for half a GiB).
    #[serde(deserialize_with = "gib")]
    pub memory_size: f64,
    /// `InstanceTypeFamily`, e.g. `ecs.g7`.
    pub instance_type_family: String,
}

/// A number of GiB, written as a number or as a string; null or empty is 0.
fn gib<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    use serde::de::Error as _;
    let s = lenient::string(d)?;
    if s.trim().is_empty() {
        return Ok(0.0);
    }
    s.trim().parse().map_err(D::Error::custom)
}

impl Ecs<'_> {
    /// `DescribeImageSupportInstanceTypes`.
    pub async fn describe_image_support_instance_types(
        &self,
        req: &DescribeImageSupportInstanceTypesRequest,
    ) -> Result<DescribeImageSupportInstanceTypesResponse, Error> {
        let params = req.to_params(self.client.region_id());
        self.call(RpcMethod::Get, "DescribeImageSupportInstanceTypes", params)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_needs_an_image_and_spells_change_os_as_the_cloud() {
        let p = DescribeImageSupportInstanceTypesRequest {
            image_id: "m-1".into(),
            action_type: Some(ImageActionType::ChangeOs),
        }
        .to_params("cn-hangzhou")
        .expect("valid");
        assert_eq!(
            (p.get("RegionId"), p.get("ImageId"), p.get("ActionType")),
            (Some("cn-hangzhou"), Some("m-1"), Some("ChangeOS"))
        );
        let p = DescribeImageSupportInstanceTypesRequest {
            image_id: "m-1".into(),
            action_type: None,
        }
        .to_params("r")
        .expect("valid");
        assert_eq!(p.get("ActionType"), None);
        let e = DescribeImageSupportInstanceTypesRequest::default()
            .to_params("r")
            .expect_err("no image");
        assert_eq!(e.parameter, "ImageId");
    }

    #[test]
    fn the_answer_reads_the_documented_sample() {
        let r: DescribeImageSupportInstanceTypesResponse = serde_json::from_str(
            r#"{"RequestId":"CF661E2D","RegionId":"cn-hangzhou","ImageId":"ubuntu_16_0402_64_20G_alibase_20180409.vhd",
            "InstanceTypes":{"InstanceType":[
              {"InstanceTypeId":"ecs.t1.xsmall","CpuCoreCount":1,"MemorySize":0.5,"InstanceTypeFamily":"ecs.t1"},
              {"InstanceTypeId":"ecs.t1.small","CpuCoreCount":"1","MemorySize":"1","InstanceTypeFamily":"ecs.t1"}]}}"#,
        )
        .expect("parses");
        let types = &r.instance_types.instance_type;
        assert_eq!(types.len(), 2);
        assert_eq!((types[0].cpu_core_count, types[0].memory_size), (1, 0.5));
        assert_eq!(types[1].memory_size, 1.0);
        assert!(r.supports("ecs.t1.small") && !r.supports("ecs.g7.large"));
    }
}
