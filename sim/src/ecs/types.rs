//! Instance types and which images they run: DescribeImageSupportInstanceTypes
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeimagesupportinstancetypes>)
//! and DescribeInstanceTypes
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeinstancetypes>).
//!
//! The sim knows a small [`CATALOGUE`] of instance types. Which of them support an image is
//! not documented anywhere; the sim's rule (sim/README.md) matches the image's
//! `Architecture` with the type's CPU: `x86_64` images run on every x86 type, `arm64` images
//! on every ARM type, `i386` images on the x86 types with less than 4 GiB of memory (the
//! documented limit on 32-bit images). The admin interface can take types away from one
//! image ([`Ecs::unsupported_types`]), so that a test sees an image refused by a type.
//!
//! Each type also says which boot modes it supports (`SupportedBootModes`) and whether its
//! cloud disks attach as NVMe (`NvmeSupport`); an image boots in one mode ([`Ecs::boot_mode`]:
//! `BIOS`, `UEFI` or `UEFI-Preferred`), which RunInstances compares (`super::launch`).

use serde_json::{Value, json};

use super::errors;
use super::state::Ecs;
use crate::ctx::Ctx;
use crate::error::RpcError;
use crate::params::Params;

/// One instance type of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceTypeSpec {
    /// `InstanceTypeId`, e.g. `ecs.g7.large`.
    pub id: &'static str,
    /// `InstanceTypeFamily`, e.g. `ecs.g7`.
    pub family: &'static str,
    /// `CpuCoreCount` (vCPUs).
    pub cpu: u32,
    /// `MemorySize`, GiB.
    pub memory_gib: f64,
    /// The images' `Architecture` it runs natively: `x86_64` or `arm64`.
    pub architecture: &'static str,
    /// `SupportedBootModes.SupportedBootMode[]`: `BIOS`, `UEFI` or both.
    pub boot_modes: &'static [&'static str],
    /// `NvmeSupport`: `required` (cloud disks attach as NVMe) or `unsupported`.
    pub nvme_support: &'static str,
}

impl InstanceTypeSpec {
    /// `CpuArchitecture`: `X86` or `ARM`.
    pub fn cpu_architecture(&self) -> &'static str {
        if self.architecture == "arm64" {
            "ARM"
        } else {
            "X86"
        }
    }

    /// `InstanceFamilyLevel`: the burstable `ecs.t6` is `CreditEntryLevel`, the others
    /// `EnterpriseLevel`.
    pub fn family_level(&self) -> &'static str {
        if self.family == "ecs.t6" {
            "CreditEntryLevel"
        } else {
            "EnterpriseLevel"
        }
    }

    /// Whether an image of boot mode `image_boot_mode` boots on this type: `BIOS` and `UEFI`
    /// need that mode, `UEFI-Preferred` (dual boot) takes either.
    pub fn boots(&self, image_boot_mode: &str) -> bool {
        match image_boot_mode {
            "UEFI-Preferred" => !self.boot_modes.is_empty(),
            mode => self.boot_modes.contains(&mode),
        }
    }
}

/// The boot modes an image may have (`BootMode` of DescribeImages, ModifyImageAttribute and
/// ImportImage).
pub const IMAGE_BOOT_MODES: &[&str] = &["BIOS", "UEFI", "UEFI-Preferred"];

const BIOS: &[&str] = &["BIOS"];
const BIOS_UEFI: &[&str] = &["BIOS", "UEFI"];
const UEFI: &[&str] = &["UEFI"];

const fn spec(
    id: &'static str,
    family: &'static str,
    cpu: u32,
    memory_gib: f64,
    architecture: &'static str,
    boot_modes: &'static [&'static str],
    nvme_support: &'static str,
) -> InstanceTypeSpec {
    InstanceTypeSpec {
        id,
        family,
        cpu,
        memory_gib,
        architecture,
        boot_modes,
        nvme_support,
    }
}

/// Every instance type the sim knows, in the order DescribeImageSupportInstanceTypes and
/// DescribeInstanceTypes list them. The seed's instances and configurations use types from
/// it. Boot modes and NVMe are the sim's own choice per family (sim/README.md): the older
/// x86 families boot BIOS only, the 7th generation both, `ecs.g8i` (x86) and the ARM
/// families UEFI only.
pub const CATALOGUE: &[InstanceTypeSpec] = &[
    spec(
        "ecs.t6-c4m1.large",
        "ecs.t6",
        2,
        0.5,
        "x86_64",
        BIOS,
        "unsupported",
    ),
    spec(
        "ecs.t6-c2m1.large",
        "ecs.t6",
        2,
        1.0,
        "x86_64",
        BIOS,
        "unsupported",
    ),
    spec(
        "ecs.t6-c1m1.large",
        "ecs.t6",
        2,
        2.0,
        "x86_64",
        BIOS,
        "unsupported",
    ),
    spec(
        "ecs.g6.large",
        "ecs.g6",
        2,
        8.0,
        "x86_64",
        BIOS,
        "unsupported",
    ),
    spec(
        "ecs.g6.xlarge",
        "ecs.g6",
        4,
        16.0,
        "x86_64",
        BIOS,
        "unsupported",
    ),
    spec(
        "ecs.g7.large",
        "ecs.g7",
        2,
        8.0,
        "x86_64",
        BIOS_UEFI,
        "unsupported",
    ),
    spec(
        "ecs.g7.xlarge",
        "ecs.g7",
        4,
        16.0,
        "x86_64",
        BIOS_UEFI,
        "unsupported",
    ),
    spec(
        "ecs.g7.2xlarge",
        "ecs.g7",
        8,
        32.0,
        "x86_64",
        BIOS_UEFI,
        "unsupported",
    ),
    spec(
        "ecs.c7.large",
        "ecs.c7",
        2,
        4.0,
        "x86_64",
        BIOS_UEFI,
        "unsupported",
    ),
    spec(
        "ecs.c7.xlarge",
        "ecs.c7",
        4,
        8.0,
        "x86_64",
        BIOS_UEFI,
        "unsupported",
    ),
    spec(
        "ecs.c7.2xlarge",
        "ecs.c7",
        8,
        16.0,
        "x86_64",
        BIOS_UEFI,
        "unsupported",
    ),
    spec(
        "ecs.r7.large",
        "ecs.r7",
        2,
        16.0,
        "x86_64",
        BIOS_UEFI,
        "unsupported",
    ),
    spec(
        "ecs.g8i.large",
        "ecs.g8i",
        2,
        8.0,
        "x86_64",
        UEFI,
        "required",
    ),
    spec(
        "ecs.g8i.xlarge",
        "ecs.g8i",
        4,
        16.0,
        "x86_64",
        UEFI,
        "required",
    ),
    spec(
        "ecs.g8y.large",
        "ecs.g8y",
        2,
        8.0,
        "arm64",
        UEFI,
        "required",
    ),
    spec(
        "ecs.g8y.xlarge",
        "ecs.g8y",
        4,
        16.0,
        "arm64",
        UEFI,
        "required",
    ),
    spec(
        "ecs.g8y.2xlarge",
        "ecs.g8y",
        8,
        32.0,
        "arm64",
        UEFI,
        "required",
    ),
    spec(
        "ecs.c8y.large",
        "ecs.c8y",
        2,
        4.0,
        "arm64",
        UEFI,
        "required",
    ),
];

/// The catalogue's entry for `id`.
pub fn instance_type(id: &str) -> Option<&'static InstanceTypeSpec> {
    CATALOGUE.iter().find(|t| t.id == id)
}

/// Whether an image of `architecture` runs on `spec`, before any admin restriction.
pub fn runs_on(architecture: &str, spec: &InstanceTypeSpec) -> bool {
    match architecture {
        "x86_64" | "arm64" => spec.architecture == architecture,
        // Instance types with 4 GiB of memory or more do not support 32-bit images.
        "i386" => spec.architecture == "x86_64" && spec.memory_gib < 4.0,
        _ => false,
    }
}

impl Ecs {
    /// The instance types the image `image_id` runs on: its architecture's, less those the
    /// admin interface took away. `InvalidImageId.NotFound` if there is no such image.
    pub fn supported_types(
        &self,
        image_id: &str,
    ) -> Result<Vec<&'static InstanceTypeSpec>, RpcError> {
        let image = self
            .image(image_id)
            .ok_or_else(|| errors::image_not_found(image_id))?;
        let refused = self.unsupported_types.get(image_id);
        Ok(CATALOGUE
            .iter()
            .filter(|t| runs_on(&image.architecture, t))
            .filter(|t| refused.is_none_or(|r| !r.iter().any(|id| id == t.id)))
            .collect())
    }

    /// The boot mode of `image`: the one the admin interface set, else the default of an
    /// imported image of its architecture (`UEFI` for `arm64`, `BIOS` otherwise).
    pub fn boot_mode(&self, image: &super::state::Image) -> &str {
        match self.boot_modes.get(&image.image_id) {
            Some(mode) => mode,
            None if image.architecture == "arm64" => "UEFI",
            None => "BIOS",
        }
    }

    /// Sets the boot mode of the image `image_id` (`BIOS`, `UEFI` or `UEFI-Preferred`; an
    /// `arm64` image boots `UEFI` only, as ImportImage documents).
    pub fn set_image_boot_mode(&mut self, image_id: &str, mode: &str) -> Result<(), RpcError> {
        let image = self
            .image(image_id)
            .ok_or_else(|| errors::image_not_found(image_id))?;
        if !IMAGE_BOOT_MODES.contains(&mode) {
            return Err(RpcError::invalid(
                "BootMode",
                "must be BIOS, UEFI or UEFI-Preferred",
            ));
        }
        if image.architecture == "arm64" && mode != "UEFI" {
            return Err(RpcError::invalid(
                "BootMode",
                "an arm64 image boots UEFI only",
            ));
        }
        self.boot_modes.insert(image_id.to_owned(), mode.to_owned());
        Ok(())
    }

    /// Marks the catalogue's type `type_id` out of stock in every zone (`true`) or in
    /// stock again (`false`): RunInstances then refuses it with `OperationDenied.NoStock`.
    pub fn set_out_of_stock(&mut self, type_id: &str, out: bool) -> Result<(), RpcError> {
        if instance_type(type_id).is_none() {
            return Err(errors::instance_type_not_supported(type_id));
        }
        if out {
            self.out_of_stock.insert(type_id.to_owned());
        } else {
            self.out_of_stock.remove(type_id);
        }
        Ok(())
    }

    /// Declares the image `image_id` unsupported on exactly `instance_types` (an empty list
    /// lifts every restriction). Each type must be in the [`CATALOGUE`].
    pub fn restrict_image_types(
        &mut self,
        image_id: &str,
        instance_types: &[&str],
    ) -> Result<(), RpcError> {
        if self.image(image_id).is_none() {
            return Err(errors::image_not_found(image_id));
        }
        if let Some(bad) = instance_types.iter().find(|t| instance_type(t).is_none()) {
            return Err(errors::instance_type_not_supported(bad));
        }
        if instance_types.is_empty() {
            self.unsupported_types.remove(image_id);
        } else {
            let mut list: Vec<String> = instance_types.iter().map(|t| (*t).to_owned()).collect();
            list.sort();
            list.dedup();
            self.unsupported_types.insert(image_id.to_owned(), list);
        }
        Ok(())
    }
}

/// The `ActionType` values DescribeImageSupportInstanceTypes takes: the current page's
/// `CreateEcs` (the default) and `ChangeOS`, and the older page's instance-type changes. None
/// changes the answer.
pub const ACTION_TYPES: &[&str] = &[
    "CreateEcs",
    "ChangeOS",
    "Upgrade",
    "Downgrade",
    "RenewDowngrade",
];

/// DescribeImageSupportInstanceTypes: the catalogue's types that run the image `ImageId`.
/// `Filter.N` is ignored, as the page says it no longer takes effect.
pub fn describe_image_support_instance_types(
    ecs: &Ecs,
    p: &Params,
    ctx: &Ctx,
) -> Result<Value, RpcError> {
    ctx.region(p)?;
    if let Some(action) = p.get("ActionType") {
        if !ACTION_TYPES.contains(&action) {
            return Err(errors::invalid_usage());
        }
    }
    let image_id = p.required("ImageId")?;
    let types: Vec<Value> = ecs
        .supported_types(image_id)?
        .into_iter()
        .map(|t| {
            json!({
                "InstanceTypeId": t.id,
                "CpuCoreCount": t.cpu,
                "MemorySize": t.memory_gib,
                "InstanceTypeFamily": t.family,
            })
        })
        .collect();
    Ok(json!({
        "RegionId": ctx.region_id,
        "ImageId": image_id,
        "InstanceTypes": {"InstanceType": types},
    }))
}

/// Most `InstanceTypes.N` (and `InstanceTypeFamilies.N`, `PhysicalProcessorModels.N`, …)
/// of DescribeInstanceTypes.
pub const MAX_INSTANCE_TYPES: usize = 10;

/// DescribeInstanceTypes' page size: `MaxResults` 1 to 1600, 1600 by default.
pub const MAX_RESULTS: i64 = 1600;

/// `MaxResults`: 1 to 1600 (400 `InvalidParameter.MaxResults` otherwise).
fn max_results(p: &Params) -> Result<usize, RpcError> {
    let Some(raw) = p.get("MaxResults") else {
        return Ok(usize::try_from(MAX_RESULTS).unwrap_or(1600));
    };
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=MAX_RESULTS).contains(n))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| errors::max_results_invalid(raw))
}

/// A number of GiB (`MinimumMemorySize`, `MaximumMemorySize`).
fn gib(p: &Params, name: &str) -> Result<Option<f64>, RpcError> {
    p.get(name)
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| RpcError::invalid(name, "not a number of GiB"))
        })
        .transpose()
}

/// One value of a documented set, or 400 `InvalidParameter`.
fn one_of<'a>(p: &'a Params, name: &str, allowed: &[&str]) -> Result<Option<&'a str>, RpcError> {
    match p.get(name) {
        Some(v) if !allowed.contains(&v) => Err(RpcError::invalid(
            name,
            format!("must be one of {}", allowed.join(", ")),
        )),
        other => Ok(other),
    }
}

/// DescribeInstanceTypes: the catalogue's types, filtered by `InstanceTypes.N` (≤10),
/// `InstanceTypeFamily`, `InstanceTypeFamilies.N`, `CpuArchitecture`, `CpuArchitectures.N`,
/// `NvmeSupport`, `InstanceFamilyLevel`, `Minimum`/`MaximumCpuCoreCount` and
/// `Minimum`/`MaximumMemorySize`, all ANDed; `MaxResults` a page (1600 by default) and
/// `NextToken` (`""` on the last page). There is no `RegionId` parameter (the legacy SDK
/// sends its client's: any other region is 404 `InvalidRegionId.NotFound`). The other
/// documented filters (GPUs, local disks, bandwidths, queues) concern nothing the
/// catalogue holds and are ignored.
pub fn describe_instance_types(p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    if p.get("RegionId").is_some() {
        ctx.region(p)?;
    }
    let ids = p.list("InstanceTypes", MAX_INSTANCE_TYPES)?;
    let family = p.get("InstanceTypeFamily");
    let families = p.list("InstanceTypeFamilies", MAX_INSTANCE_TYPES)?;
    let architecture = one_of(p, "CpuArchitecture", &["X86", "ARM"])?;
    let architectures = p.list("CpuArchitectures", 2)?;
    if let Some(bad) = architectures.iter().find(|a| !["X86", "ARM"].contains(a)) {
        return Err(RpcError::invalid(
            "CpuArchitectures.N",
            format!("\"{}\" is not X86 or ARM", crate::params::truncate(bad, 40)),
        ));
    }
    let nvme = one_of(p, "NvmeSupport", &["required", "unsupported"])?;
    let level = one_of(
        p,
        "InstanceFamilyLevel",
        &["EntryLevel", "EnterpriseLevel", "CreditEntryLevel"],
    )?;
    let min_cpu = p.int("MinimumCpuCoreCount", 0, i64::from(u32::MAX), 0)?;
    let max_cpu = p.int(
        "MaximumCpuCoreCount",
        0,
        i64::from(u32::MAX),
        i64::from(u32::MAX),
    )?;
    let min_memory = gib(p, "MinimumMemorySize")?;
    let max_memory = gib(p, "MaximumMemorySize")?;
    let page_size = max_results(p)?;
    let offset = p
        .get("NextToken")
        .map(super::tags::offset_of)
        .transpose()?
        .unwrap_or(0);
    let matching: Vec<&InstanceTypeSpec> = CATALOGUE
        .iter()
        .filter(|t| ids.is_empty() || ids.contains(&t.id))
        .filter(|t| family.is_none_or(|f| f == t.family))
        .filter(|t| families.is_empty() || families.contains(&t.family))
        .filter(|t| architecture.is_none_or(|a| a == t.cpu_architecture()))
        .filter(|t| architectures.is_empty() || architectures.contains(&t.cpu_architecture()))
        .filter(|t| nvme.is_none_or(|n| n == t.nvme_support))
        .filter(|t| level.is_none_or(|l| l == t.family_level()))
        .filter(|t| (min_cpu..=max_cpu).contains(&i64::from(t.cpu)))
        .filter(|t| min_memory.is_none_or(|m| t.memory_gib >= m))
        .filter(|t| max_memory.is_none_or(|m| t.memory_gib <= m))
        .collect();
    let end = offset.saturating_add(page_size);
    let next = if end < matching.len() {
        format!("{end:032x}")
    } else {
        String::new()
    };
    let page: Vec<Value> = matching
        .into_iter()
        .skip(offset)
        .take(page_size)
        .map(|t| {
            json!({
                "InstanceTypeId": t.id,
                "InstanceTypeFamily": t.family,
                "InstanceFamilyLevel": t.family_level(),
                "CpuCoreCount": t.cpu,
                "MemorySize": t.memory_gib,
                "CpuArchitecture": t.cpu_architecture(),
                "SupportedBootModes": {"SupportedBootMode": t.boot_modes},
                "NvmeSupport": t.nvme_support,
                "GPUAmount": 0,
                "GPUSpec": "",
                "LocalStorageCategory": "",
            })
        })
        .collect();
    Ok(json!({
        "NextToken": next,
        "InstanceTypes": {"InstanceType": page},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_architecture_runs_on_its_own_types_and_i386_on_small_ones() {
        let on = |arch: &str| -> Vec<&str> {
            CATALOGUE
                .iter()
                .filter(|t| runs_on(arch, t))
                .map(|t| t.id)
                .collect()
        };
        assert!(on("x86_64").contains(&"ecs.g7.large"));
        assert!(!on("x86_64").contains(&"ecs.g8y.large"));
        assert!(on("arm64").iter().all(|t| t.contains("8y")));
        assert_eq!(
            on("i386"),
            [
                "ecs.t6-c4m1.large",
                "ecs.t6-c2m1.large",
                "ecs.t6-c1m1.large"
            ]
        );
        assert!(on("sparc").is_empty());
    }

    #[test]
    fn boot_modes_decide_which_images_boot() {
        let g7 = instance_type("ecs.g7.large").expect("g7");
        let g8i = instance_type("ecs.g8i.large").expect("g8i");
        let g6 = instance_type("ecs.g6.large").expect("g6");
        assert!(g7.boots("BIOS") && g7.boots("UEFI") && g7.boots("UEFI-Preferred"));
        assert!(!g8i.boots("BIOS") && g8i.boots("UEFI") && g8i.boots("UEFI-Preferred"));
        assert!(g6.boots("BIOS") && !g6.boots("UEFI") && g6.boots("UEFI-Preferred"));
        assert!(!g7.boots("bios"), "modes are spelled as the cloud does");
        assert_eq!(
            (g8i.cpu_architecture(), g8i.nvme_support),
            ("X86", "required")
        );
        let arm = instance_type("ecs.g8y.large").expect("g8y");
        assert_eq!((arm.cpu_architecture(), arm.boot_modes), ("ARM", UEFI));
        // Every type boots something; ARM types boot UEFI only.
        for t in CATALOGUE {
            assert!(!t.boot_modes.is_empty(), "{}", t.id);
            assert!(
                t.architecture != "arm64" || t.boot_modes == UEFI,
                "{}",
                t.id
            );
            assert!(
                ["required", "unsupported"].contains(&t.nvme_support),
                "{}",
                t.id
            );
        }
    }

    #[test]
    fn catalogue_ids_are_unique_and_in_their_family() {
        for (n, t) in CATALOGUE.iter().enumerate() {
            assert!(
                t.id.starts_with(&format!("{}.", t.family))
                    || t.id.starts_with(&format!("{}-", t.family)),
                "{}",
                t.id
            );
            assert!(CATALOGUE[n + 1..].iter().all(|u| u.id != t.id), "{}", t.id);
        }
    }
}
