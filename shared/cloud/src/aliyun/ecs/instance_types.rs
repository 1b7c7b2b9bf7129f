//! What an instance type is: DescribeInstanceTypes
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeinstancetypes>).
//!
//! The operation describes types only (no region, no image): their CPU architecture, boot
//! modes and NVMe support are what an image must match to launch on them.

use serde::{Deserialize, Deserializer};

use super::super::error::{Error, RequestError};
use super::super::{MAX_PAGES, Params, RpcMethod, lenient, validate};
use super::Ecs;

/// Most `InstanceTypes.N` in one DescribeInstanceTypes.
pub const MAX_DESCRIBED_INSTANCE_TYPES: usize = 10;
/// Largest `MaxResults` of DescribeInstanceTypes (also its default).
pub const MAX_INSTANCE_TYPE_RESULTS: u32 = 1600;

/// `CpuArchitecture` of an instance type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CpuArchitecture {
    /// `X86`: runs `x86_64` (and `i386`) images.
    X86,
    /// `ARM`: runs `arm64` images.
    Arm,
}

impl CpuArchitecture {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X86 => "X86",
            Self::Arm => "ARM",
        }
    }
}

/// `DescribeInstanceTypes`: every type, or those of `instance_types`, of a family or an
/// architecture; one page of at most `max_results` from `next_token`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeInstanceTypesRequest {
    /// `InstanceTypes.N` (at most 10): only these types.
    pub instance_types: Vec<String>,
    /// `InstanceTypeFamily`, e.g. `ecs.g7`.
    pub instance_type_family: Option<String>,
    /// `CpuArchitecture`.
    pub cpu_architecture: Option<CpuArchitecture>,
    /// `MaxResults`: 1 to 1600 (the cloud's default is 1600).
    pub max_results: Option<u32>,
    /// `NextToken` of the previous page.
    pub next_token: Option<String>,
}

impl DescribeInstanceTypesRequest {
    /// The request's parameters, after checking them. The operation takes no `RegionId`.
    pub fn to_params(&self) -> Result<Params, RequestError> {
        validate::repeat_list(
            "InstanceTypes.N",
            &self.instance_types,
            MAX_DESCRIBED_INSTANCE_TYPES,
        )?;
        if let Some(family) = &self.instance_type_family {
            validate::non_empty("InstanceTypeFamily", family)?;
        }
        if let Some(n) = self.max_results {
            if n == 0 || n > MAX_INSTANCE_TYPE_RESULTS {
                return Err(RequestError::new(
                    "MaxResults",
                    format!("is {n}; must be 1 to {MAX_INSTANCE_TYPE_RESULTS}"),
                ));
            }
        }
        if self.next_token.as_deref().is_some_and(str::is_empty) {
            return Err(RequestError::new("NextToken", "is empty"));
        }
        let mut p = Params::new();
        p.list("InstanceTypes", &self.instance_types)
            .opt_str("InstanceTypeFamily", self.instance_type_family.as_deref())
            .opt(
                "CpuArchitecture",
                self.cpu_architecture.map(CpuArchitecture::as_str),
            )
            .opt("MaxResults", self.max_results)
            .opt_str("NextToken", self.next_token.as_deref());
        Ok(p)
    }
}

/// `DescribeInstanceTypes` answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstanceTypesResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `NextToken`: where the next page starts; empty (or absent) on the last page.
    #[serde(deserialize_with = "lenient::string")]
    pub next_token: String,
    /// `InstanceTypes`.
    pub instance_types: InstanceTypes,
}

impl DescribeInstanceTypesResponse {
    /// The type `id` (e.g. `ecs.g7.large`), if the answer holds it.
    pub fn get(&self, id: &str) -> Option<&InstanceType> {
        self.instance_types
            .instance_type
            .iter()
            .find(|t| t.instance_type_id == id)
    }
}

/// `InstanceTypes: {InstanceType: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceTypes {
    /// `InstanceType`.
    pub instance_type: Vec<InstanceType>,
}

/// One instance type.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceType {
    /// `InstanceTypeId`, e.g. `ecs.g7.large`.
    pub instance_type_id: String,
    /// `InstanceTypeFamily`, e.g. `ecs.g7`.
    pub instance_type_family: String,
    /// `InstanceFamilyLevel`: `EntryLevel`, `EnterpriseLevel` or `CreditEntryLevel`.
    pub instance_family_level: String,
    /// `CpuCoreCount` (vCPUs).
    #[serde(deserialize_with = "lenient::number")]
    pub cpu_core_count: i64,
    /// `MemorySize`, GiB.
    #[serde(deserialize_with = "gib")]
    pub memory_size: f64,
    /// `CpuArchitecture`: `X86` or `ARM`.
    pub cpu_architecture: String,
    /// `SupportedBootModes`.
    pub supported_boot_modes: SupportedBootModes,
    /// `NvmeSupport`: `required` (cloud disks attach as NVMe) or `unsupported`.
    pub nvme_support: String,
}

impl InstanceType {
    /// Whether the type runs images of `Architecture` `image_architecture` (`x86_64`,
    /// `i386` or `arm64`, as DescribeImages says) by its CPU.
    pub fn runs_architecture(&self, image_architecture: &str) -> bool {
        match self.cpu_architecture.as_str() {
            "X86" => matches!(image_architecture, "x86_64" | "i386"),
            "ARM" => image_architecture == "arm64",
            _ => false,
        }
    }

    /// Whether the type boots an image of `BootMode` `image_boot_mode`: `BIOS` and `UEFI`
    /// need that mode, `UEFI-Preferred` (dual boot) takes either. An image that reports no
    /// boot mode is taken as `BIOS`, the cloud's default for imported images.
    pub fn boots(&self, image_boot_mode: &str) -> bool {
        let modes = &self.supported_boot_modes.supported_boot_mode;
        match image_boot_mode {
            "UEFI-Preferred" => !modes.is_empty(),
            "" => modes.iter().any(|m| m == "BIOS"),
            mode => modes.iter().any(|m| m == mode),
        }
    }
}

/// `SupportedBootModes: {SupportedBootMode: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SupportedBootModes {
    /// `SupportedBootMode`: `BIOS`, `UEFI`.
    pub supported_boot_mode: Vec<String>,
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
    /// `DescribeInstanceTypes` (one page: pass the answer's `next_token` for the next).
    pub async fn describe_instance_types(
        &self,
        req: &DescribeInstanceTypesRequest,
    ) -> Result<DescribeInstanceTypesResponse, Error> {
        self.call(RpcMethod::Get, "DescribeInstanceTypes", req.to_params())
            .await
    }

    /// Every type `DescribeInstanceTypes` answers for `req`, following `NextToken` from
    /// `req`'s (at most 1000 pages).
    pub async fn describe_instance_types_all(
        &self,
        req: &DescribeInstanceTypesRequest,
    ) -> Result<Vec<InstanceType>, Error> {
        let mut out = Vec::new();
        let mut req = req.clone();
        for _ in 0..MAX_PAGES {
            let answer = self.describe_instance_types(&req).await?;
            out.extend(answer.instance_types.instance_type);
            if answer.next_token.is_empty() || req.next_token.as_deref() == Some(&answer.next_token)
            {
                break;
            }
            req.next_token = Some(answer.next_token);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_lists_types_and_checks_its_limits() {
        let p = DescribeInstanceTypesRequest {
            instance_types: vec!["ecs.g7.large".into(), "ecs.g8y.large".into()],
            instance_type_family: Some("ecs.g7".into()),
            cpu_architecture: Some(CpuArchitecture::Arm),
            max_results: Some(10),
            next_token: Some("abc".into()),
        }
        .to_params()
        .expect("valid");
        assert_eq!(
            (
                p.get("InstanceTypes.1"),
                p.get("InstanceTypes.2"),
                p.get("InstanceTypeFamily"),
                p.get("CpuArchitecture"),
                p.get("MaxResults"),
                p.get("NextToken"),
                p.get("RegionId"),
            ),
            (
                Some("ecs.g7.large"),
                Some("ecs.g8y.large"),
                Some("ecs.g7"),
                Some("ARM"),
                Some("10"),
                Some("abc"),
                None
            )
        );
        assert!(
            DescribeInstanceTypesRequest::default()
                .to_params()
                .expect("every type")
                .pairs()
                .is_empty()
        );
        let too_many = DescribeInstanceTypesRequest {
            instance_types: (0..11).map(|n| format!("ecs.g7.t{n}")).collect(),
            ..Default::default()
        };
        assert_eq!(
            too_many.to_params().expect_err("11").parameter,
            "InstanceTypes.N"
        );
        for n in [0, 1601] {
            let e = DescribeInstanceTypesRequest {
                max_results: Some(n),
                ..Default::default()
            }
            .to_params()
            .expect_err("out of range");
            assert_eq!(e.parameter, "MaxResults", "{n}");
        }
        let e = DescribeInstanceTypesRequest {
            next_token: Some(String::new()),
            ..Default::default()
        }
        .to_params()
        .expect_err("empty token");
        assert_eq!(e.parameter, "NextToken");
    }

    #[test]
    fn the_answer_reads_architecture_boot_modes_and_nvme() {
        let r: DescribeInstanceTypesResponse = serde_json::from_str(
            r#"{"RequestId":"00827261","NextToken":"e71d8a535bd9cc11",
            "InstanceTypes":{"InstanceType":[
              {"InstanceTypeId":"ecs.g7.large","InstanceTypeFamily":"ecs.g7","InstanceFamilyLevel":"EnterpriseLevel",
               "CpuCoreCount":2,"MemorySize":8.0,"CpuArchitecture":"X86",
               "SupportedBootModes":{"SupportedBootMode":["BIOS","UEFI"]},"NvmeSupport":"unsupported","GPUAmount":0},
              {"InstanceTypeId":"ecs.g8y.large","InstanceTypeFamily":"ecs.g8y","CpuCoreCount":"2","MemorySize":"8",
               "CpuArchitecture":"ARM","SupportedBootModes":{"SupportedBootMode":["UEFI"]},"NvmeSupport":"required"}]}}"#,
        )
        .expect("parses");
        assert_eq!(r.next_token, "e71d8a535bd9cc11");
        let g7 = r.get("ecs.g7.large").expect("g7");
        assert_eq!((g7.cpu_core_count, g7.memory_size), (2, 8.0));
        assert!(g7.runs_architecture("x86_64") && g7.runs_architecture("i386"));
        assert!(!g7.runs_architecture("arm64"));
        assert!(g7.boots("BIOS") && g7.boots("UEFI") && g7.boots("UEFI-Preferred") && g7.boots(""));
        let g8y = r.get("ecs.g8y.large").expect("g8y");
        assert_eq!(
            (
                g8y.cpu_core_count,
                g8y.memory_size,
                g8y.nvme_support.as_str()
            ),
            (2, 8.0, "required")
        );
        assert!(g8y.runs_architecture("arm64") && !g8y.runs_architecture("x86_64"));
        assert!(!g8y.boots("BIOS") && !g8y.boots("") && g8y.boots("UEFI"));
        assert!(g8y.boots("UEFI-Preferred"));
        assert!(r.get("ecs.c7.large").is_none());
        let last: DescribeInstanceTypesResponse =
            serde_json::from_str(r#"{"RequestId":"R","InstanceTypes":{"InstanceType":[]}}"#)
                .expect("parses");
        assert_eq!(last.next_token, "");
    }
}
