//! Pre-flight: before swap-config changes anything, the new image must be one that every
//! configuration can launch instances from. Today's checks, each against what DescribeImages
//! and DescribeScalingConfigurations say:
//!
//! - the image fits the configuration's system disk (`Size` ≤ `SystemDiskSize`);
//! - it has the architecture of the image the configuration holds now (its instance types
//!   launch that one: an `arm64` image in an `x86_64` configuration would break the next
//!   scale-out);
//! - it has that image's OS type (`linux` / `windows`), and its platform (`Ubuntu`,
//!   `CentOS`, …) unless the run allows a change;
//! - it boots in a mode the configuration's instance type supports (DescribeInstanceTypes'
//!   `SupportedBootModes`; an image without a mode, or `UEFI-Preferred`, boots anywhere);
//! - it runs on the instance type the configuration launches
//!   (DescribeImageSupportInstanceTypes,
//!   <https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeimagesupportinstancetypes>).
//!
//! A value the cloud did not give (a configuration whose image was deleted since) skips that
//! check rather than refusing. A refusal fails the execution before any configuration changes
//! and keeps the new image, for a look.

use std::collections::BTreeMap;

use super::cloud::{ALL_IMAGE_STATUSES, Cloud, CloudError, Image, ScalingConfiguration};

/// What the pre-flight knows besides the images, and what the run allows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checks<'a> {
    /// The instance types the new image runs on, if the cloud said.
    pub supported_types: Option<&'a [String]>,
    /// Whether the image may have another platform than the configurations' images.
    pub allow_platform_change: bool,
    /// The boot modes of the configurations' instance types, if the cloud said.
    pub boot_modes: Option<&'a [(String, Vec<String>)]>,
}

/// Why `new` cannot go into each of `configurations`, given the images they hold now (by
/// id; an image missing from `current` is one the cloud no longer has). Empty: it can.
pub fn problems(
    new: &Image,
    configurations: &[ScalingConfiguration],
    current: &BTreeMap<String, Image>,
    checks: Checks<'_>,
) -> Vec<String> {
    let mut out = Vec::new();
    for c in configurations {
        let id = &c.scaling_configuration_id;
        let modes = checks
            .boot_modes
            .and_then(|all| all.iter().find(|(t, _)| *t == c.instance_type))
            .map(|(_, modes)| modes);
        if let Some(modes) = modes.filter(|m| !m.is_empty()) {
            let boots = match new.boot_mode.as_str() {
                "" | "UEFI-Preferred" => true,
                mode => modes.iter().any(|m| m == mode),
            };
            if !boots {
                out.push(format!(
                    "scaling configuration {id}: image {} boots in {} mode, {} boots in {}",
                    new.image_id,
                    new.boot_mode,
                    c.instance_type,
                    modes.join(" or ")
                ));
            }
        }
        if let Some(types) = checks.supported_types {
            if !c.instance_type.is_empty() && !types.contains(&c.instance_type) {
                out.push(format!(
                    "scaling configuration {id}: image {} does not run on {}, the instance type \
                     it launches",
                    new.image_id, c.instance_type
                ));
            }
        }
        if new.size_gib > 0 && c.system_disk_size > 0 && new.size_gib > c.system_disk_size {
            out.push(format!(
                "scaling configuration {id}: image {} needs a system disk of at least {} GiB, \
                 the configuration's is {} GiB",
                new.image_id, new.size_gib, c.system_disk_size
            ));
        }
        let Some(old) = current
            .get(&c.image_id)
            .filter(|old| old.image_id != new.image_id)
        else {
            continue;
        };
        let differs = |a: &str, b: &str| !a.is_empty() && !b.is_empty() && a != b;
        if differs(&new.architecture, &old.architecture) {
            out.push(format!(
                "scaling configuration {id}: image {} is {}, the configuration's instance types \
                 run {} (image {})",
                new.image_id, new.architecture, old.architecture, old.image_id
            ));
        }
        if differs(&new.os_type, &old.os_type) {
            out.push(format!(
                "scaling configuration {id}: image {} is a {} image, the configuration's image \
                 {} is {}",
                new.image_id, new.os_type, old.image_id, old.os_type
            ));
        } else if !checks.allow_platform_change && differs(&new.platform, &old.platform) {
            out.push(format!(
                "scaling configuration {id}: image {} is {}, the configuration's image {} is {} \
                 (a run may allow a change of platform: --allow-platform-change)",
                new.image_id, new.platform, old.image_id, old.platform
            ));
        }
    }
    out
}

/// Reads the new image and the images `configurations` hold now, and says why the new one
/// cannot go in, if it cannot.
pub async fn check(
    cloud: &dyn Cloud,
    image_id: &str,
    configurations: &[ScalingConfiguration],
    allow_platform_change: bool,
) -> Result<Vec<String>, CloudError> {
    let Some(new) = cloud.describe_image(image_id, ALL_IMAGE_STATUSES).await? else {
        return Ok(vec![format!("image {image_id} no longer exists")]);
    };
    let mut current = BTreeMap::new();
    for c in configurations {
        if c.image_id.is_empty() || c.image_id == image_id || current.contains_key(&c.image_id) {
            continue;
        }
        if let Some(image) = cloud
            .describe_image(&c.image_id, ALL_IMAGE_STATUSES)
            .await?
        {
            current.insert(c.image_id.clone(), image);
        }
    }
    let launches_a_type = configurations.iter().any(|c| !c.instance_type.is_empty());
    let supported = if launches_a_type {
        cloud.image_instance_types(image_id).await?
    } else {
        None
    };
    let mut types: Vec<String> = configurations
        .iter()
        .map(|c| c.instance_type.clone())
        .filter(|t| !t.is_empty())
        .collect();
    types.sort();
    types.dedup();
    let boot_modes = if types.is_empty() {
        None
    } else {
        cloud.boot_modes(&types).await?
    };
    let checks = Checks {
        supported_types: supported.as_deref(),
        allow_platform_change,
        boot_modes: boot_modes.as_deref(),
    };
    Ok(problems(&new, configurations, &current, checks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, architecture: &str, os_type: &str, size_gib: u32) -> Image {
        Image {
            image_id: id.into(),
            architecture: architecture.into(),
            os_type: os_type.into(),
            size_gib,
            ..Image::default()
        }
    }

    fn config(id: &str, image_id: &str, system_disk_size: u32) -> ScalingConfiguration {
        ScalingConfiguration {
            scaling_configuration_id: id.into(),
            image_id: image_id.into(),
            system_disk_size,
            ..ScalingConfiguration::default()
        }
    }

    #[test]
    fn an_image_that_fits_every_configuration_has_no_problems() {
        let new = image("m-new", "x86_64", "linux", 40);
        let current = BTreeMap::from([("m-old".to_owned(), image("m-old", "x86_64", "linux", 20))]);
        let configs = [config("asc-a", "m-old", 40), config("asc-b", "m-new", 100)];
        assert!(problems(&new, &configs, &current, Checks::default()).is_empty());
    }

    #[test]
    fn each_refusal_names_the_configuration_and_the_reason() {
        let new = image("m-new", "arm64", "linux", 40);
        let current = BTreeMap::from([
            ("m-x86".to_owned(), image("m-x86", "x86_64", "linux", 20)),
            ("m-win".to_owned(), image("m-win", "arm64", "windows", 40)),
        ]);
        let configs = [
            config("asc-small", "m-arm-gone", 20),
            config("asc-x86", "m-x86", 40),
            config("asc-win", "m-win", 0),
        ];
        let found = problems(&new, &configs, &current, Checks::default());
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[0].starts_with("scaling configuration asc-small:"));
        assert!(found[0].contains("at least 40 GiB, the configuration's is 20 GiB"));
        assert!(found[1].starts_with("scaling configuration asc-x86:"));
        assert!(found[1].contains("is arm64") && found[1].contains("run x86_64 (image m-x86)"));
        assert!(found[2].starts_with("scaling configuration asc-win:"));
        assert!(found[2].contains("a linux image") && found[2].contains("m-win is windows"));
    }

    #[test]
    fn what_the_cloud_did_not_say_is_not_held_against_the_image() {
        let new = image("m-new", "", "", 0);
        let current = BTreeMap::from([("m-old".to_owned(), image("m-old", "arm64", "windows", 9))]);
        let configs = [config("asc-a", "m-old", 1)];
        assert!(problems(&new, &configs, &current, Checks::default()).is_empty());
    }

    #[test]
    fn an_image_of_another_platform_or_not_for_the_instance_type_is_refused() {
        let mut new = image("m-new", "x86_64", "linux", 20);
        new.platform = "CentOS".into();
        let mut old = image("m-old", "x86_64", "linux", 20);
        old.platform = "Ubuntu".into();
        let current = BTreeMap::from([("m-old".to_owned(), old)]);
        let mut configs = [config("asc-a", "m-old", 40)];
        configs[0].instance_type = "ecs.g8y.large".into();
        let supported = vec!["ecs.g7.large".to_owned()];
        let checks = Checks {
            supported_types: Some(&supported),
            allow_platform_change: false,
            boot_modes: None,
        };
        let found = problems(&new, &configs, &current, checks);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].contains("does not run on ecs.g8y.large"),
            "{}",
            found[0]
        );
        assert!(
            found[1].contains("is CentOS") && found[1].contains("is Ubuntu"),
            "{}",
            found[1]
        );
        let allowed = Checks {
            allow_platform_change: true,
            supported_types: None,
            boot_modes: None,
        };
        assert!(problems(&new, &configs, &current, allowed).is_empty());
    }
}
