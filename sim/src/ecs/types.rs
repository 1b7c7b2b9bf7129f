//! Instance types and which images they run: DescribeImageSupportInstanceTypes
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeimagesupportinstancetypes>).
//!
//! The sim knows a small [`CATALOGUE`] of instance types. Which of them support an image is
//! not documented anywhere; the sim's rule (sim/README.md) matches the image's
//! `Architecture` with the type's CPU: `x86_64` images run on every x86 type, `arm64` images
//! on every ARM type, `i386` images on the x86 types with less than 4 GiB of memory (the
//! documented limit on 32-bit images). The admin interface can take types away from one
//! image ([`Ecs::unsupported_types`]), so that a test sees an image refused by a type.

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
}

const fn spec(
    id: &'static str,
    family: &'static str,
    cpu: u32,
    memory_gib: f64,
    architecture: &'static str,
) -> InstanceTypeSpec {
    InstanceTypeSpec {
        id,
        family,
        cpu,
        memory_gib,
        architecture,
    }
}

/// Every instance type the sim knows, in the order DescribeImageSupportInstanceTypes lists
/// them. The seed's instances and configurations use types from it.
pub const CATALOGUE: &[InstanceTypeSpec] = &[
    spec("ecs.t6-c4m1.large", "ecs.t6", 2, 0.5, "x86_64"),
    spec("ecs.t6-c2m1.large", "ecs.t6", 2, 1.0, "x86_64"),
    spec("ecs.t6-c1m1.large", "ecs.t6", 2, 2.0, "x86_64"),
    spec("ecs.g6.large", "ecs.g6", 2, 8.0, "x86_64"),
    spec("ecs.g6.xlarge", "ecs.g6", 4, 16.0, "x86_64"),
    spec("ecs.g7.large", "ecs.g7", 2, 8.0, "x86_64"),
    spec("ecs.g7.xlarge", "ecs.g7", 4, 16.0, "x86_64"),
    spec("ecs.g7.2xlarge", "ecs.g7", 8, 32.0, "x86_64"),
    spec("ecs.c7.large", "ecs.c7", 2, 4.0, "x86_64"),
    spec("ecs.c7.xlarge", "ecs.c7", 4, 8.0, "x86_64"),
    spec("ecs.c7.2xlarge", "ecs.c7", 8, 16.0, "x86_64"),
    spec("ecs.r7.large", "ecs.r7", 2, 16.0, "x86_64"),
    spec("ecs.g8y.large", "ecs.g8y", 2, 8.0, "arm64"),
    spec("ecs.g8y.xlarge", "ecs.g8y", 4, 16.0, "arm64"),
    spec("ecs.g8y.2xlarge", "ecs.g8y", 8, 32.0, "arm64"),
    spec("ecs.c8y.large", "ecs.c8y", 2, 4.0, "arm64"),
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
