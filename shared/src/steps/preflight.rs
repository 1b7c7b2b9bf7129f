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
//! - and last, for each configuration that passed every check above, ECS itself launches an
//!   instance from the new image as the configuration would: a RunInstances dry run
//!   ([`launch_request`]: the new image, the configuration's instance type, security groups,
//!   system disk category, size and performance level, key pair and `PasswordInherit`, in
//!   the group's first vSwitch; DescribeScalingGroups gives the vSwitches). ECS answers
//!   `DryRunOperation` for a launch that would pass, else the error it would get (no stock,
//!   a disk category the type does not take, a security group gone, …), which names the
//!   configuration: `scaling configuration asc-…: ECS refuses a launch from image m-… on
//!   ecs.g7.large (OperationDenied.NoStock: …)`.
//!
//! A value the cloud did not give (a configuration whose image was deleted since) skips that
//! check rather than refusing. A refusal fails the execution before any configuration changes
//! and keeps the new image, for a look.
//!
//! The dry run asks about the first instance type. ESS launches the next of a
//! configuration's types when it cannot launch one, so when the first is refused the next is
//! asked, and so on: the configuration is refused only when every type is (naming each). The
//! same request gets the same answer, so a launch is sent once per check: configurations
//! that launch with the same settings (in a group, typically) share its answer, each refusal
//! still naming its own configuration, and a type one configuration falls back to is not
//! asked again for another that launches it the same way. A configuration that already has
//! a problem is not asked about (its problem is the explanation), nor one whose launch
//! cannot be asked faithfully: no instance type or security group, a system disk category
//! or performance level the client does not know, or a group DescribeScalingGroups does not
//! answer (a disabled one). A cloud that cannot do a dry run (`Ok(None)`) is not asked again
//! in the same check. The calls the check adds: one DescribeScalingGroups for every 20
//! groups, made only when a configuration is to be asked about, and one RunInstances per
//! distinct launch request ([`would_ask`] counts them for a run that goes ahead).

use std::collections::BTreeMap;

use super::cloud::{
    ALL_IMAGE_STATUSES, Cloud, CloudError, DryRun, GROUPS_PER_CALL, Image, RunInstancesRequest,
    ScalingConfiguration, ScalingGroup,
};
use crate::aliyun::ecs::{MAX_SYSTEM_DISK_GIB, PERFORMANCE_LEVELS, SYSTEM_DISK_CATEGORIES};

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
    configurations
        .iter()
        .flat_map(|c| problems_of(new, c, current, checks))
        .collect()
}

/// Why `new` cannot go into `c`.
fn problems_of(
    new: &Image,
    c: &ScalingConfiguration,
    current: &BTreeMap<String, Image>,
    checks: Checks<'_>,
) -> Vec<String> {
    let mut out = Vec::new();
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
        return out;
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
    let mut found: Vec<Vec<String>> = configurations
        .iter()
        .map(|c| problems_of(&new, c, &current, checks))
        .collect();
    // The dry runs, for the configurations with no problem that can be asked about.
    let asked: Vec<usize> = (0..configurations.len())
        .filter(|&n| found[n].is_empty() && askable(&configurations[n]))
        .collect();
    let group_ids = asked_groups(asked.iter().map(|&n| &configurations[n]));
    let mut groups: Vec<ScalingGroup> = Vec::new();
    for chunk in group_ids.chunks(GROUPS_PER_CALL) {
        groups.extend(cloud.describe_groups(chunk).await?);
    }
    // ECS's answer to each request sent so far: a launch as another configuration makes it
    // (same image, type, security groups, vSwitch or zone, disk, key pair, PasswordInherit)
    // is not asked again. A list: the distinct launches are few, each compared whole.
    let mut answers: Vec<(RunInstancesRequest, DryRun)> = Vec::new();
    'configurations: for n in asked {
        let c = &configurations[n];
        let Some(group) = groups
            .iter()
            .find(|g| g.scaling_group_id == c.scaling_group_id)
        else {
            continue; // a group ESS does not answer (disabled): cannot tell
        };
        let vswitch = group.vswitch_ids.first().map(String::as_str);
        let mut refusals = Vec::new();
        for instance_type in launched_types(c) {
            let Some(request) = launch_request(image_id, c, instance_type, vswitch) else {
                continue 'configurations;
            };
            let answer = match answers.iter().find(|(asked, _)| *asked == request) {
                Some((_, answer)) => answer.clone(),
                None => match cloud.run_instances_dry_run(&request).await? {
                    None => break 'configurations, // this cloud cannot tell
                    Some(answer) => {
                        answers.push((request, answer.clone()));
                        answer
                    }
                },
            };
            match answer {
                DryRun::Passes => continue 'configurations,
                DryRun::Refused { code, message } => {
                    refusals.push((instance_type.to_owned(), code, message));
                }
            }
        }
        found[n].extend(refused(c, image_id, &refusals));
    }
    Ok(found.into_iter().flatten().collect())
}

/// The groups whose vSwitches [`check`] reads (DescribeScalingGroups) to ask ECS about
/// `configurations` (those with no other problem): those of the ones it can ask about, each
/// once, sorted.
fn asked_groups<'a>(
    configurations: impl IntoIterator<Item = &'a ScalingConfiguration>,
) -> Vec<String> {
    let mut ids: Vec<String> = configurations
        .into_iter()
        .filter(|c| askable(c))
        .map(|c| c.scaling_group_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// What [`check`] asks ECS, counted in calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Asked {
    /// The distinct groups DescribeScalingGroups is asked about (their vSwitches).
    pub groups: usize,
    /// The RunInstances dry runs sent: one per distinct request.
    pub launches: usize,
}

/// What [`check`] asks ECS when it puts a new image into `configurations` (those with no
/// other problem) and ECS lets each launch its first instance type, as in a run that goes
/// ahead. `groups` is DescribeScalingGroups' answer for their groups (the vSwitches). The
/// new image is the same for every configuration, so which one does not change the count:
/// a stand-in is used.
pub fn would_ask(configurations: &[&ScalingConfiguration], groups: &[ScalingGroup]) -> Asked {
    const IMAGE: &str = "m-new";
    let mut launches: Vec<RunInstancesRequest> = Vec::new();
    for c in configurations.iter().filter(|c| askable(c)) {
        let Some(group) = groups
            .iter()
            .find(|g| g.scaling_group_id == c.scaling_group_id)
        else {
            continue;
        };
        let vswitch = group.vswitch_ids.first().map(String::as_str);
        let Some(first) = launched_types(c).first().copied() else {
            continue;
        };
        if let Some(request) = launch_request(IMAGE, c, first, vswitch) {
            if !launches.contains(&request) {
                launches.push(request);
            }
        }
    }
    Asked {
        groups: asked_groups(configurations.iter().copied()).len(),
        launches: launches.len(),
    }
}

/// The instance types `c` launches, in the order ESS tries them.
fn launched_types(c: &ScalingConfiguration) -> Vec<&str> {
    let listed: Vec<&str> = c
        .instance_types
        .iter()
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .collect();
    if listed.is_empty() && !c.instance_type.is_empty() {
        vec![c.instance_type.as_str()]
    } else {
        listed
    }
}

/// Whether a dry run of `c` can be asked for at all: it launches an instance type into a
/// security group.
fn askable(c: &ScalingConfiguration) -> bool {
    !launched_types(c).is_empty() && c.security_group_ids.iter().any(|g| !g.is_empty())
}

/// The RunInstances dry run of a launch from `image_id` as `c` launches its instances, as
/// `instance_type`, into `vswitch` (its group's first vSwitch, if it has one): its security
/// groups (`SecurityGroupId` for one, `SecurityGroupIds.N` for several), its system disk's
/// category, size and performance level (the level only for `cloud_essd`, the one category
/// that takes it), its key pair and `PasswordInherit`; its `ZoneId` only without a vSwitch
/// (the vSwitch is in one zone, which ESS launches in). `None` when the request would not be
/// the configuration's own: no instance type or security group, a disk category,
/// performance level or size outside what RunInstances takes.
pub fn launch_request(
    image_id: &str,
    c: &ScalingConfiguration,
    instance_type: &str,
    vswitch: Option<&str>,
) -> Option<RunInstancesRequest> {
    let security_group_ids: Vec<String> = c
        .security_group_ids
        .iter()
        .filter(|g| !g.is_empty())
        .cloned()
        .collect();
    if instance_type.is_empty() || security_group_ids.is_empty() {
        return None;
    }
    let category = c.system_disk_category.as_str();
    if !category.is_empty() && !SYSTEM_DISK_CATEGORIES.contains(&category) {
        return None;
    }
    let level = c.system_disk_performance_level.as_str();
    let level = if category == "cloud_essd" && !level.is_empty() {
        if !PERFORMANCE_LEVELS.contains(&level) {
            return None;
        }
        Some(level.to_owned())
    } else {
        None
    };
    if c.system_disk_size > MAX_SYSTEM_DISK_GIB {
        return None;
    }
    let vswitch = vswitch.filter(|v| !v.is_empty());
    let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    Some(RunInstancesRequest {
        image_id: image_id.to_owned(),
        instance_type: instance_type.to_owned(),
        security_group_ids,
        vswitch_id: vswitch.map(str::to_owned),
        zone_id: if vswitch.is_none() {
            some(&c.zone_id)
        } else {
            None
        },
        system_disk_size: Some(c.system_disk_size).filter(|&size| size > 0),
        system_disk_category: some(category),
        system_disk_performance_level: level,
        key_pair_name: some(&c.key_pair_name),
        password_inherit: c.password_inherit,
        amount: None,
        min_amount: None,
    })
}

/// The problem of `c` whose dry runs ECS refused, one `(instance type, code, message)` for
/// each type asked about; none when nothing was refused.
fn refused(
    c: &ScalingConfiguration,
    image_id: &str,
    refusals: &[(String, String, String)],
) -> Option<String> {
    let id = &c.scaling_configuration_id;
    match refusals {
        [] => None,
        [(instance_type, code, message)] => Some(format!(
            "scaling configuration {id}: ECS refuses a launch from image {image_id} on \
             {instance_type} ({code}: {message})"
        )),
        several => Some(format!(
            "scaling configuration {id}: ECS refuses a launch from image {image_id} on each \
             of its instance types ({})",
            several
                .iter()
                .map(|(t, code, message)| format!("{t}: {code}: {message}"))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::cloud::{CloudFuture, Creation, Instance, Snapshot};

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

    /// A configuration as DescribeScalingConfigurations reads one with every launch setting.
    fn launching() -> ScalingConfiguration {
        ScalingConfiguration {
            instance_type: "ecs.g7.large".into(),
            instance_types: vec!["ecs.g7.large".into(), "ecs.c7.large".into()],
            security_group_ids: vec!["sg-1".into()],
            system_disk_category: "cloud_essd".into(),
            system_disk_performance_level: "PL0".into(),
            key_pair_name: "deploy".into(),
            zone_id: "cn-hangzhou-h".into(),
            password_inherit: true,
            ..config("asc-a", "m-old", 40)
        }
    }

    #[test]
    fn the_dry_run_launches_the_new_image_with_the_configurations_settings() {
        let c = launching();
        let request =
            launch_request("m-new", &c, "ecs.c7.large", Some("vsw-1")).expect("a request");
        assert_eq!(
            request,
            RunInstancesRequest {
                image_id: "m-new".into(),
                instance_type: "ecs.c7.large".into(),
                security_group_ids: vec!["sg-1".into()],
                vswitch_id: Some("vsw-1".into()),
                // The vSwitch is in one zone: ESS launches there.
                zone_id: None,
                system_disk_size: Some(40),
                system_disk_category: Some("cloud_essd".into()),
                system_disk_performance_level: Some("PL0".into()),
                key_pair_name: Some("deploy".into()),
                password_inherit: true,
                amount: None,
                min_amount: None,
            }
        );
        let p = request
            .to_params("cn-hangzhou")
            .expect("the client takes it");
        assert_eq!(p.get("SecurityGroupId"), Some("sg-1"));
        assert_eq!(p.get("SystemDisk.PerformanceLevel"), Some("PL0"));
        assert_eq!(p.get("DryRun"), Some("true"));
        assert_eq!(launched_types(&c), ["ecs.g7.large", "ecs.c7.large"]);

        // Without a vSwitch the configuration's zone is the launch's; several security
        // groups go as SecurityGroupIds.N; what the configuration does not say is left to
        // ECS's defaults.
        let bare = ScalingConfiguration {
            security_group_ids: vec!["sg-1".into(), "sg-2".into()],
            system_disk_category: String::new(),
            system_disk_performance_level: String::new(),
            system_disk_size: 0,
            key_pair_name: String::new(),
            password_inherit: false,
            instance_types: Vec::new(),
            ..launching()
        };
        let request = launch_request("m-new", &bare, "ecs.g7.large", None).expect("a request");
        assert_eq!(request.zone_id.as_deref(), Some("cn-hangzhou-h"));
        assert_eq!(request.vswitch_id, None);
        assert_eq!(
            (
                request.system_disk_size,
                request.system_disk_category.as_deref(),
                request.system_disk_performance_level.as_deref(),
                request.key_pair_name.as_deref(),
                request.password_inherit
            ),
            (None, None, None, None, false)
        );
        let p = request
            .to_params("cn-hangzhou")
            .expect("the client takes it");
        assert_eq!(
            (
                p.get("SecurityGroupId"),
                p.get("SecurityGroupIds.1"),
                p.get("SecurityGroupIds.2")
            ),
            (None, Some("sg-1"), Some("sg-2"))
        );
        assert_eq!(launched_types(&bare), ["ecs.g7.large"]);
    }

    #[test]
    fn a_performance_level_goes_only_with_an_enterprise_ssd() {
        let auto = ScalingConfiguration {
            system_disk_category: "cloud_auto".into(),
            system_disk_performance_level: "PL1".into(),
            ..launching()
        };
        let request = launch_request("m-new", &auto, "ecs.g7.large", None).expect("a request");
        assert_eq!(request.system_disk_category.as_deref(), Some("cloud_auto"));
        assert_eq!(request.system_disk_performance_level, None);
        request.to_params("r").expect("the client takes it");
    }

    #[test]
    fn a_launch_that_cannot_be_the_configurations_own_is_not_asked() {
        let none = |c: ScalingConfiguration| launch_request("m-new", &c, "ecs.g7.large", None);
        assert_eq!(
            none(ScalingConfiguration {
                security_group_ids: vec![String::new()],
                ..launching()
            }),
            None,
            "no security group"
        );
        assert_eq!(
            none(ScalingConfiguration {
                system_disk_category: "cloud_future".into(),
                ..launching()
            }),
            None,
            "a category the client does not know"
        );
        assert_eq!(
            none(ScalingConfiguration {
                system_disk_performance_level: "PL9".into(),
                ..launching()
            }),
            None,
            "a performance level the client does not know"
        );
        assert_eq!(
            none(ScalingConfiguration {
                system_disk_size: 4096,
                ..launching()
            }),
            None,
            "a size RunInstances does not take"
        );
        assert_eq!(launch_request("m-new", &launching(), "", None), None);
        // Nor asked at all: a configuration of no type (an ECI one) or no security group.
        assert!(askable(&launching()));
        assert!(!askable(&config("asc-eci", "", 0)));
        assert!(!askable(&ScalingConfiguration {
            security_group_ids: Vec::new(),
            ..launching()
        }));
    }

    #[test]
    fn a_refusal_names_the_configuration_the_image_the_types_and_the_clouds_answer() {
        let c = launching();
        assert_eq!(refused(&c, "m-new", &[]), None);
        let one = [(
            "ecs.g7.large".to_owned(),
            "OperationDenied.NoStock".to_owned(),
            "The resource is out of stock in the specified zone.".to_owned(),
        )];
        assert_eq!(
            refused(&c, "m-new", &one).as_deref(),
            Some(
                "scaling configuration asc-a: ECS refuses a launch from image m-new on \
                 ecs.g7.large (OperationDenied.NoStock: The resource is out of stock in the \
                 specified zone.)"
            )
        );
        let two = [
            one[0].clone(),
            (
                "ecs.c7.large".to_owned(),
                "InvalidDiskCategory.NotSupported".to_owned(),
                "no".to_owned(),
            ),
        ];
        assert_eq!(
            refused(&c, "m-new", &two).as_deref(),
            Some(
                "scaling configuration asc-a: ECS refuses a launch from image m-new on each of \
                 its instance types (ecs.g7.large: OperationDenied.NoStock: The resource is out \
                 of stock in the specified zone.; ecs.c7.large: \
                 InvalidDiskCategory.NotSupported: no)"
            )
        );
    }

    /// A cloud that answers the pre-flight's reads and its dry runs: it holds `images`, puts
    /// each group in vSwitch `vsw-<group>`, refuses a launch of any type in `out_of_stock`,
    /// and records each RunInstances request.
    #[derive(Debug, Default)]
    struct LaunchCloud {
        images: Vec<Image>,
        out_of_stock: Vec<String>,
        sent: std::sync::Mutex<Vec<RunInstancesRequest>>,
    }

    impl LaunchCloud {
        fn sent(&self) -> Vec<RunInstancesRequest> {
            self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
        }
    }

    fn not_asked<'a, T: Send + 'a>() -> CloudFuture<'a, T> {
        Box::pin(async { panic!("the pre-flight makes no such call") })
    }

    impl Cloud for LaunchCloud {
        fn describe_instance<'a>(&'a self, _: &'a str) -> CloudFuture<'a, Option<Instance>> {
            not_asked()
        }
        fn system_disk<'a>(&'a self, _: &'a str) -> CloudFuture<'a, Option<String>> {
            not_asked()
        }
        fn create_snapshot<'a>(&'a self, _: &'a str, _: Creation<'a>) -> CloudFuture<'a, String> {
            not_asked()
        }
        fn describe_snapshot<'a>(&'a self, _: &'a str) -> CloudFuture<'a, Option<Snapshot>> {
            not_asked()
        }
        fn create_image<'a>(&'a self, _: &'a str, _: Creation<'a>) -> CloudFuture<'a, String> {
            not_asked()
        }
        fn describe_image<'a>(
            &'a self,
            image_id: &'a str,
            _: &'a [&'a str],
        ) -> CloudFuture<'a, Option<Image>> {
            let found = self.images.iter().find(|i| i.image_id == image_id).cloned();
            Box::pin(async move { Ok(found) })
        }
        fn delete_image<'a>(&'a self, _: &'a str) -> CloudFuture<'a, ()> {
            not_asked()
        }
        fn delete_snapshot<'a>(&'a self, _: &'a str) -> CloudFuture<'a, ()> {
            not_asked()
        }
        fn describe_configurations<'a>(
            &'a self,
            _: &'a [String],
        ) -> CloudFuture<'a, Vec<ScalingConfiguration>> {
            not_asked()
        }
        fn describe_eci_configurations<'a>(
            &'a self,
            _: &'a [String],
        ) -> CloudFuture<'a, Vec<ScalingConfiguration>> {
            not_asked()
        }
        fn describe_groups<'a>(
            &'a self,
            group_ids: &'a [String],
        ) -> CloudFuture<'a, Vec<ScalingGroup>> {
            let groups = group_ids
                .iter()
                .map(|id| ScalingGroup {
                    scaling_group_id: id.clone(),
                    group_type: "ECS".into(),
                    vswitch_ids: vec![format!("vsw-{id}")],
                    ..ScalingGroup::default()
                })
                .collect();
            Box::pin(async move { Ok(groups) })
        }
        fn run_instances_dry_run<'a>(
            &'a self,
            request: &'a RunInstancesRequest,
        ) -> CloudFuture<'a, Option<DryRun>> {
            self.sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(request.clone());
            let answer = if self.out_of_stock.contains(&request.instance_type) {
                DryRun::Refused {
                    code: "OperationDenied.NoStock".into(),
                    message: "out of stock".into(),
                }
            } else {
                DryRun::Passes
            };
            Box::pin(async move { Ok(Some(answer)) })
        }
        fn modify_configuration_image<'a>(&'a self, _: &'a str, _: &'a str) -> CloudFuture<'a, ()> {
            not_asked()
        }
    }

    /// `launching()` as configuration `id` of group `group`, with one instance type.
    fn launching_as(id: &str, group: &str) -> ScalingConfiguration {
        ScalingConfiguration {
            scaling_configuration_id: id.into(),
            scaling_group_id: group.into(),
            instance_types: Vec::new(),
            ..launching()
        }
    }

    fn images() -> Vec<Image> {
        vec![
            image("m-new", "x86_64", "linux", 20),
            image("m-old", "x86_64", "linux", 20),
        ]
    }

    #[tokio::test]
    async fn configurations_that_launch_alike_cost_one_dry_run_and_share_its_answer() {
        // asc-a and asc-b launch alike (same group, same settings); asc-c differs in its key
        // pair only.
        let configs = [
            launching_as("asc-a", "asg-1"),
            launching_as("asc-b", "asg-1"),
            ScalingConfiguration {
                key_pair_name: "other".into(),
                ..launching_as("asc-c", "asg-1")
            },
        ];
        let refs: Vec<&ScalingConfiguration> = configs.iter().collect();
        let groups = [ScalingGroup {
            scaling_group_id: "asg-1".into(),
            group_type: "ECS".into(),
            vswitch_ids: vec!["vsw-asg-1".into()],
            ..ScalingGroup::default()
        }];
        assert_eq!(
            would_ask(&refs, &groups),
            Asked {
                groups: 1,
                launches: 2
            }
        );

        // In stock: two dry runs, the shared one and asc-c's own; no problem.
        let cloud = LaunchCloud {
            images: images(),
            ..LaunchCloud::default()
        };
        let found = check(&cloud, "m-new", &configs, false)
            .await
            .expect("checked");
        assert!(found.is_empty(), "{found:#?}");
        let sent = cloud.sent();
        assert_eq!(sent.len(), 2, "{sent:#?}");
        assert_eq!(
            sent[0],
            launch_request("m-new", &configs[0], "ecs.g7.large", Some("vsw-asg-1")).unwrap()
        );
        assert_eq!(sent[1].key_pair_name.as_deref(), Some("other"));

        // Refused: the shared answer refuses both, each named; asc-c is refused on its own.
        let cloud = LaunchCloud {
            images: images(),
            out_of_stock: vec!["ecs.g7.large".into()],
            ..LaunchCloud::default()
        };
        let found = check(&cloud, "m-new", &configs, false)
            .await
            .expect("checked");
        assert_eq!(cloud.sent().len(), 2);
        assert_eq!(found.len(), 3, "{found:#?}");
        for (problem, id) in found.iter().zip(["asc-a", "asc-b", "asc-c"]) {
            assert_eq!(
                *problem,
                format!(
                    "scaling configuration {id}: ECS refuses a launch from image m-new on \
                     ecs.g7.large (OperationDenied.NoStock: out of stock)"
                )
            );
        }

        // Another group is another vSwitch: its own dry run, though its settings are the same.
        let cloud = LaunchCloud {
            images: images(),
            ..LaunchCloud::default()
        };
        let two_groups = [
            launching_as("asc-a", "asg-1"),
            launching_as("asc-d", "asg-2"),
        ];
        let found = check(&cloud, "m-new", &two_groups, false)
            .await
            .expect("checked");
        assert!(found.is_empty(), "{found:#?}");
        assert_eq!(cloud.sent().len(), 2);
    }

    #[tokio::test]
    async fn a_fallback_type_is_asked_once_and_each_configuration_keeps_its_own_types() {
        // asc-a falls back from ecs.g7.large to ecs.c7.large; asc-b launches ecs.g7.large
        // only; asc-c tries ecs.c7.large first. All launch alike otherwise.
        let configs = [
            ScalingConfiguration {
                instance_types: vec!["ecs.g7.large".into(), "ecs.c7.large".into()],
                ..launching_as("asc-a", "asg-1")
            },
            launching_as("asc-b", "asg-1"),
            ScalingConfiguration {
                instance_type: "ecs.c7.large".into(),
                instance_types: vec!["ecs.c7.large".into(), "ecs.g7.large".into()],
                ..launching_as("asc-c", "asg-1")
            },
        ];
        let cloud = LaunchCloud {
            images: images(),
            out_of_stock: vec!["ecs.g7.large".into()],
            ..LaunchCloud::default()
        };
        let found = check(&cloud, "m-new", &configs, false)
            .await
            .expect("checked");
        // One dry run per type: asc-a launches its second, asc-b has no other, asc-c its first.
        let types: Vec<String> = cloud.sent().into_iter().map(|r| r.instance_type).collect();
        assert_eq!(types, ["ecs.g7.large", "ecs.c7.large"]);
        assert_eq!(
            found,
            [
                "scaling configuration asc-b: ECS refuses a launch from image m-new on \
              ecs.g7.large (OperationDenied.NoStock: out of stock)"
            ]
        );

        // Every type out of stock: asc-a and asc-c name both, asc-b its one; still two calls.
        let cloud = LaunchCloud {
            images: images(),
            out_of_stock: vec!["ecs.g7.large".into(), "ecs.c7.large".into()],
            ..LaunchCloud::default()
        };
        let found = check(&cloud, "m-new", &configs, false)
            .await
            .expect("checked");
        assert_eq!(cloud.sent().len(), 2);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found[0].starts_with(
                "scaling configuration asc-a: ECS refuses a launch from image \
                 m-new on each of its instance types (ecs.g7.large: "
            ),
            "{}",
            found[0]
        );
        assert!(
            found[1].starts_with("scaling configuration asc-b:")
                && found[1].contains("on ecs.g7.large (")
        );
        assert!(
            found[2].contains(
                "asc-c: ECS refuses a launch from image m-new on each of its \
                 instance types (ecs.c7.large: "
            ),
            "{}",
            found[2]
        );
    }
}
