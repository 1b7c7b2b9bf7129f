//! RunInstances
//! (<https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-runinstances>),
//! as a dry run: the sim checks a launch the way ECS does and answers 400 `DryRunOperation`
//! when every check passes, or the documented error of the first that fails. It launches
//! nothing: without `DryRun=true` a launch that passes every check is refused with 400
//! `OperationDenied` (sim/README.md).
//!
//! A request naming a launch template (`LaunchTemplateId` or `LaunchTemplateName`, and
//! `LaunchTemplateVersion`, else the default version) is checked with the version's
//! parameters where the request gives none (`super::templates::launch_parameters`).
//!
//! The checks, in order: the request's own parameters (`RegionId`, `ImageId`,
//! `InstanceType`, `Amount`/`MinAmount`, `SystemDisk.Category`/`SystemDisk.Size`, the
//! security groups, `VSwitchId`, `ZoneId`, the password), then the image (it exists and is
//! Available), the instance type (in the catalogue), whether the image runs on the type (the
//! DescribeImageSupportInstanceTypes rule, with the admin interface's restriction), whether
//! the type boots the image's boot mode, whether the system disk holds the image, whether the
//! disk category is offered with the type, and last the stock.

use serde_json::Value;

use super::errors;
use super::state::{Ecs, ImageStatus};
use super::types::instance_type;
use crate::ctx::Ctx;
use crate::error::RpcError;
use crate::params::Params;

/// The system disk categories RunInstances takes, with the sizes (GiB) each allows
/// (`cloud_essd` at its default performance level, PL1; see [`essd_sizes`]).
const CATEGORIES: &[(&str, u32, u32)] = &[
    ("cloud", 20, 500),
    ("cloud_efficiency", 20, 2048),
    ("cloud_ssd", 20, 2048),
    ("cloud_essd", 20, 2048),
    ("cloud_auto", 1, 2048),
    ("cloud_essd_entry", 20, 2048),
];

/// The sizes an enterprise SSD system disk allows at `SystemDisk.PerformanceLevel`.
fn essd_sizes(p: &Params) -> Result<(u32, u32), RpcError> {
    match p.get("SystemDisk.PerformanceLevel").unwrap_or("PL1") {
        "PL0" => Ok((1, 2048)),
        "PL1" => Ok((20, 2048)),
        "PL2" => Ok((461, 2048)),
        "PL3" => Ok((1261, 2048)),
        _ => Err(RpcError::invalid(
            "SystemDisk.PerformanceLevel",
            "must be PL0, PL1, PL2 or PL3",
        )),
    }
}

/// The category when `SystemDisk.Category` is not given.
const DEFAULT_CATEGORY: &str = "cloud_efficiency";

/// The families `cloud_essd_entry` is offered with (`ecs.u1`, `ecs.e`).
const ESSD_ENTRY_FAMILIES: &[&str] = &["ecs.u1", "ecs.e"];

/// `Amount` or `MinAmount`: 1 to 100.
fn amount(p: &Params, name: &str) -> Result<Option<u32>, RpcError> {
    let Some(raw) = p.get(name) else {
        return Ok(None);
    };
    let parsed = raw
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=100).contains(n));
    match (parsed, name) {
        (Some(n), _) => Ok(Some(n)),
        (None, "Amount") => Err(errors::amount_invalid(raw)),
        (None, _) => Err(errors::min_amount_invalid()),
    }
}

/// A zone of `region_id`: the region's id, a hyphen and a lower-case letter
/// (`cn-hangzhou-h`).
fn zone_ok(zone: &str, region_id: &str) -> bool {
    zone.strip_prefix(region_id)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|letter| letter.len() == 1 && letter.chars().all(|c| c.is_ascii_lowercase()))
}

/// An id of the given prefix (`sg-…`, `vsw-…`) with something after it.
fn id_ok(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
    })
}

/// RunInstances.
pub fn run_instances(ecs: &Ecs, p: &Params, ctx: &Ctx) -> Result<Value, RpcError> {
    ctx.region(p)?;
    // A launch from a template: the version's parameters, overridden by the request's.
    let merged = super::templates::launch_parameters(ecs, p)?;
    let p = merged.as_ref().unwrap_or(p);
    if p.get("ImageId").is_some() && p.get("ImageFamily").is_some() {
        return Err(RpcError::invalid(
            "ImageFamily",
            "cannot be set together with ImageId",
        ));
    }
    // Without ImageId an ImageFamily names the family's latest image; the sim's images
    // belong to no family, so the image is missing either way.
    let image_id = p.required("ImageId")?;
    let type_id = p.required("InstanceType")?;
    let amount_n = amount(p, "Amount")?.unwrap_or(1);
    if amount(p, "MinAmount")?.is_some_and(|min| min > amount_n) {
        return Err(errors::min_amount_invalid());
    }
    let category = p.get("SystemDisk.Category").unwrap_or(DEFAULT_CATEGORY);
    let &(_, mut min_size, mut max_size) = CATEGORIES
        .iter()
        .find(|(name, _, _)| *name == category)
        .ok_or_else(errors::system_disk_category_invalid)?;
    if category == "cloud_essd" {
        (min_size, max_size) = essd_sizes(p)?;
    }
    let size = p
        .get("SystemDisk.Size")
        .map(|raw| {
            let n: i64 = raw
                .trim()
                .parse()
                .map_err(|_| errors::system_disk_size_malformed(raw))?;
            if n < i64::from(min_size) {
                return Err(errors::system_disk_less_than_min(n, min_size));
            }
            if n > i64::from(max_size) {
                return Err(errors::system_disk_too_large(n, max_size));
            }
            Ok(u32::try_from(n).unwrap_or(max_size))
        })
        .transpose()?;
    let group = p.get("SecurityGroupId");
    let groups = p.list("SecurityGroupIds", 16)?;
    match (group, groups.is_empty()) {
        (Some(_), false) => {
            return Err(RpcError::bad_request(
                "InvalidParameter.Conflict",
                "SecurityGroupId and SecurityGroupIds.N cannot both be set.",
            ));
        }
        (None, true) => return Err(RpcError::missing("SecurityGroupId")),
        _ => {}
    }
    if let Some(bad) = group
        .into_iter()
        .chain(groups.iter().copied())
        .find(|g| !id_ok(g, "sg-"))
    {
        return Err(errors::security_group_not_found(bad));
    }
    if let Some(vswitch) = p.get("VSwitchId") {
        if !id_ok(vswitch, "vsw-") {
            return Err(errors::vswitch_not_found(vswitch));
        }
    }
    if let Some(zone) = p.get("ZoneId") {
        if !zone_ok(zone, &ctx.region_id) {
            return Err(errors::zone_not_found(zone));
        }
    }
    let password_inherit = p.bool("PasswordInherit", false)?;
    if let Some(password) = p.get("Password") {
        if password_inherit {
            return Err(RpcError::bad_request(
                "InvalidPasswordParam.Mismatch",
                "The input password should be null when passwdInherit is true.",
            ));
        }
        if !super::fleet::password_ok(password) {
            return Err(RpcError::bad_request(
                "InvalidPassword.Malformed",
                "The specified parameter \"Password\" is not valid.",
            ));
        }
    }
    let dry_run = p.bool("DryRun", false)?;

    let image = ecs
        .image(image_id)
        .ok_or_else(|| errors::image_not_found(image_id))?;
    let (status, _) = image.status(ctx.now);
    if status != ImageStatus::Available {
        return Err(errors::image_not_valid(image_id, status.as_str()));
    }
    let spec =
        instance_type(type_id).ok_or_else(|| errors::instance_type_not_supported(type_id))?;
    if !ecs
        .supported_types(image_id)?
        .iter()
        .any(|t| t.id == spec.id)
    {
        return Err(errors::image_not_support_instance_type(image_id, spec.id));
    }
    let boot_mode = ecs.boot_mode(image);
    if !spec.boots(boot_mode) {
        return Err(errors::boot_mode_not_supported(
            image_id,
            boot_mode,
            spec.id,
            spec.boot_modes,
        ));
    }
    if let Some(size) = size {
        if size < image.size {
            return Err(errors::system_disk_less_than_image(size, image.size));
        }
    }
    if category == "cloud_essd_entry" && !ESSD_ENTRY_FAMILIES.contains(&spec.family) {
        return Err(errors::disk_category_not_supported(category, spec.id));
    }
    if ecs.out_of_stock.contains(spec.id) {
        return Err(errors::no_stock());
    }
    if dry_run {
        return Err(errors::dry_run_operation());
    }
    Err(errors::launch_not_supported())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_the_region_and_one_letter() {
        for ok in ["cn-hangzhou-h", "cn-hangzhou-a"] {
            assert!(zone_ok(ok, "cn-hangzhou"), "{ok}");
        }
        for bad in [
            "cn-hangzhou",
            "cn-hangzhou-",
            "cn-hangzhou-hh",
            "cn-hangzhou-H",
            "cn-beijing-h",
            "cn-hangzhouh",
        ] {
            assert!(!zone_ok(bad, "cn-hangzhou"), "{bad}");
        }
    }

    #[test]
    fn ids_need_their_prefix_and_a_body() {
        assert!(id_ok("sg-bp1simdemo0000001", "sg-"));
        assert!(id_ok("vsw-bp1s5fnvk4gn2tws0****", "vsw-"));
        for bad in ["sg-", "bp1", "vsw-x", "sg-a b", "sg-é"] {
            assert!(!id_ok(bad, "sg-"), "{bad}");
        }
    }
}
