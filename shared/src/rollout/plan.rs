//! The pre-flight's decisions, as pure functions of what the cloud reported: who moves, in
//! which batches, and how many must stay in service; or why nothing may start.

use super::fleet::{FleetImage, FleetInstance, GroupMember};
use super::model::{Member, Membership, Plan, RolloutSpec, Strategy};

/// What the pre-flight read, for [`plan`].
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The group's instances as ESS reports them.
    pub members: Vec<GroupMember>,
    /// Their ECS side.
    pub instances: Vec<FleetInstance>,
    /// The group's active configuration and its image.
    pub configuration: Option<(String, String)>,
    /// What a group on a launch template launches from.
    pub template: Option<crate::model::PreviousTemplate>,
    /// Images instances run now that no longer exist (a rollback could not put them back).
    pub missing_images: Vec<String>,
    /// The CLB instances attached to the group.
    pub load_balancers: Vec<String>,
    /// The vServer groups attached to the group.
    pub vserver_groups: Vec<String>,
    /// The target image.
    pub target: Option<FleetImage>,
    /// The images the instances run now (those that exist).
    pub images: Vec<FleetImage>,
    /// The key pair of the active configuration.
    pub key_pair_name: Option<String>,
    /// The load balancers of the attached vServer groups.
    pub vserver_load_balancers: Vec<String>,
    /// The instance types the target image can replace a system disk on
    /// (DescribeImageSupportInstanceTypes, `ChangeOS`); empty when unknown or not asked.
    pub supported_types: Vec<String>,
    /// The instance types the target image launches on (`CreateEcs`); empty when unknown.
    pub launch_types: Vec<String>,
    /// The active configuration's instance type and system disk size.
    pub configuration_launch: Option<(Option<String>, Option<u32>)>,
}

/// The lifecycle states an instance rests in; any other means the group is changing.
const RESTING: [&str; 3] = ["InService", "Standby", "Protected"];

/// The plan for `spec` over `facts`, or every reason it may not start.
pub fn plan(spec: &RolloutSpec, facts: &Facts) -> Result<Plan, Vec<String>> {
    let mut refusals = Vec::new();
    let changing: Vec<String> = facts
        .members
        .iter()
        .filter(|m| !RESTING.contains(&m.lifecycle_state.as_str()))
        .map(|m| format!("{} is {}", m.instance_id, m.lifecycle_state))
        .collect();
    if !changing.is_empty() {
        refusals.push(format!(
            "the group is changing: {} (wait until every instance is InService, Standby or Protected)",
            changing.join(", ")
        ));
    }
    let included = |state: &str| match state {
        "InService" => true,
        "Standby" => spec.standby == Membership::Include,
        "Protected" => spec.protected == Membership::Include,
        _ => false,
    };
    let mut members = Vec::new();
    let mut already_there = Vec::new();
    let mut unhealthy = Vec::new();
    for m in facts
        .members
        .iter()
        .filter(|m| included(&m.lifecycle_state))
    {
        let Some(ecs) = facts
            .instances
            .iter()
            .find(|i| i.instance_id == m.instance_id)
        else {
            unhealthy.push(format!("{} is not found in ECS", m.instance_id));
            continue;
        };
        if let Some(why) = gate_problem(m, ecs) {
            unhealthy.push(format!("{}: {why}", m.instance_id));
        }
        if ecs.image_id == spec.image_id {
            already_there.push(m.instance_id.clone());
        } else {
            members.push(Member {
                instance_id: m.instance_id.clone(),
                previous_image: ecs.image_id.clone(),
                lifecycle_state: m.lifecycle_state.clone(),
            });
        }
    }
    if !unhealthy.is_empty() {
        refusals.push(format!(
            "not every instance passes its gates now, so a failure could not be told from what was already wrong: {}",
            unhealthy.join("; ")
        ));
    }
    let gone: Vec<String> = members
        .iter()
        .filter(|m| facts.missing_images.contains(&m.previous_image))
        .map(|m| format!("{} runs {}", m.instance_id, m.previous_image))
        .collect();
    if !gone.is_empty() {
        refusals.push(format!(
            "these instances run images that no longer exist, so they could not be rolled back: {}",
            gone.join(", ")
        ));
    }
    let in_place = spec.strategy == Strategy::InPlace;
    // ESS's instance refresh leaves instances added by hand alone: they would stay on their
    // image while the rollout says it moved the group.
    let attached: Vec<&str> = members
        .iter()
        .filter(|m| {
            facts
                .members
                .iter()
                .any(|g| g.instance_id == m.instance_id && g.creation_type == "Attached")
        })
        .map(|m| m.instance_id.as_str())
        .collect();
    if !in_place && !attached.is_empty() {
        refusals.push(format!(
            "the refresh strategy leaves instances added by hand alone: {}; use the in-place strategy",
            attached.join(", ")
        ));
    }
    // In place, the image must run where each instance runs now: the same architecture as
    // the image it has (an instance type runs one architecture). A refresh launches new
    // instances of the configuration's type instead.
    if let Some(target) = facts.target.as_ref().filter(|_| in_place) {
        let misfits: Vec<String> = members
            .iter()
            .filter_map(|m| {
                let now = facts
                    .images
                    .iter()
                    .find(|i| i.image_id == m.previous_image)?;
                (!now.architecture.is_empty()
                    && !target.architecture.is_empty()
                    && now.architecture != target.architecture)
                    .then(|| {
                        format!(
                            "{} runs {} ({})",
                            m.instance_id, now.image_id, now.architecture
                        )
                    })
            })
            .collect();
        if !misfits.is_empty() {
            refusals.push(format!(
                "image {} is {}, and these instances run another architecture: {}",
                target.image_id,
                target.architecture,
                misfits.join(", ")
            ));
        }
    }
    // The image must run on each instance's type (in place), and on what the configuration
    // launches (it gets the image); and fit the configuration's system disk. A list the cloud
    // left empty says nothing.
    if let Some(target) = &facts.target {
        let unsupported: Vec<String> = members
            .iter()
            .filter_map(|m| {
                let ecs = facts
                    .instances
                    .iter()
                    .find(|i| i.instance_id == m.instance_id)?;
                (in_place
                    && !ecs.instance_type.is_empty()
                    && !facts.supported_types.is_empty()
                    && !facts.supported_types.contains(&ecs.instance_type))
                .then(|| format!("{} ({})", m.instance_id, ecs.instance_type))
            })
            .collect();
        if !unsupported.is_empty() {
            refusals.push(format!(
                "image {} does not run on the instance types of {}",
                target.image_id,
                unsupported.join(", ")
            ));
        }
        if let Some((instance_type, disk)) = &facts.configuration_launch {
            if let Some(t) = instance_type
                .as_ref()
                .filter(|t| !facts.launch_types.is_empty() && !facts.launch_types.contains(t))
            {
                refusals.push(format!(
                    "image {} does not run on {t}, the instance type the group's configuration launches",
                    target.image_id
                ));
            }
            if let Some(disk) = disk.filter(|d| *d < target.size) {
                refusals.push(format!(
                    "image {} needs a system disk of {} GiB; the group's configuration launches {disk} GiB",
                    target.image_id, target.size
                ));
            }
        }
    }
    // Protected instances serve as InService ones do; Standby ones serve nothing.
    let in_service = facts
        .members
        .iter()
        .filter(|m| {
            matches!(m.lifecycle_state.as_str(), "InService" | "Protected")
                && m.health_status == "Healthy"
        })
        .count() as u32;
    let allowed = spec.max_unavailable.of(in_service);
    let floor = match spec.min_in_service {
        Some(p) => (in_service * u32::from(p)).div_ceil(100),
        None => in_service.saturating_sub(allowed).max(in_service.min(1)),
    };
    let only_standby = members.iter().all(|m| m.lifecycle_state == "Standby");
    let batch_size = if only_standby {
        // Moving Standby instances takes nothing out of service.
        spec.max_unavailable.of(members.len() as u32).max(1)
    } else {
        allowed.min(in_service.saturating_sub(floor))
    };
    if batch_size == 0 && !members.is_empty() {
        refusals.push(match spec.min_in_service {
            None => format!(
                "{in_service} instance(s) in service and max-unavailable {}: a batch would take the last one out of service; \
                 say --min-in-service 0 to allow it",
                spec.max_unavailable
            ),
            Some(p) => format!(
                "{in_service} instance(s) in service, max-unavailable {} and min-in-service {p}%: no instance may leave service",
                spec.max_unavailable
            ),
        });
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    Ok(Plan {
        canary: spec.canary.min(batch_size),
        members,
        already_there,
        in_service,
        floor,
        batch_size,
        configuration_id: facts.configuration.as_ref().map(|(id, _)| id.clone()),
        load_balancers: facts.load_balancers.clone(),
        key_pair_name: facts.key_pair_name.clone(),
        vserver_load_balancers: facts.vserver_load_balancers.clone(),
        vserver_groups: facts.vserver_groups.clone(),
        template: facts.template.clone(),
        configuration_image: facts.configuration.as_ref().map(|(id, image)| {
            spec.configuration_restore
                .iter()
                .find(|p| &p.configuration_id == id)
                .map_or_else(|| image.clone(), |p| p.image_id.clone())
        }),
    })
}

/// Why an instance does not pass the gates ESS and ECS can tell, if it does not: ECS
/// Running with no operation lock; in the group as InService (or the state it rests in) and
/// Healthy.
pub fn gate_problem(member: &GroupMember, instance: &FleetInstance) -> Option<String> {
    if instance.status != "Running" {
        return Some(format!("ECS status {}", instance.status));
    }
    if !instance.locks.is_empty() {
        return Some(format!("operation locks {}", instance.locks.join(", ")));
    }
    if member.health_status != "Healthy" {
        return Some(format!("ESS health {}", member.health_status));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::model::Amount;

    fn fleet(n: u32) -> Facts {
        Facts {
            template: None,
            members: (0..n)
                .map(|i| GroupMember {
                    instance_id: format!("i-{i}"),
                    lifecycle_state: "InService".into(),
                    health_status: "Healthy".into(),
                    creation_type: "AutoCreated".into(),
                })
                .collect(),
            instances: (0..n)
                .map(|i| FleetInstance {
                    instance_id: format!("i-{i}"),
                    status: "Running".into(),
                    image_id: "m-old".into(),
                    locks: vec![],
                    instance_type: "ecs.g7.large".into(),
                })
                .collect(),
            configuration: Some(("asc-1".into(), "m-old".into())),
            missing_images: vec![],
            load_balancers: vec![],
            vserver_groups: vec![],
            target: None,
            images: vec![],
            key_pair_name: None,
            vserver_load_balancers: vec![],
            supported_types: vec!["ecs.g7.large".into()],
            launch_types: vec!["ecs.g7.large".into()],
            configuration_launch: Some((Some("ecs.g7.large".into()), Some(40))),
        }
    }

    #[test]
    fn ten_percent_of_a_hundred_goes_ten_at_a_time_after_one_canary() {
        let mut spec = RolloutSpec::new("asg-1", "m-new");
        spec.max_unavailable = Amount::Percent(10);
        let plan = plan(&spec, &fleet(100)).unwrap();
        assert_eq!((plan.floor, plan.batch_size, plan.canary), (90, 10, 1));
        let sizes: Vec<usize> = plan.batches().iter().map(Vec::len).collect();
        assert_eq!(sizes.len(), 1 + 10, "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 100);
    }

    #[test]
    fn the_only_instance_goes_only_when_said_explicitly() {
        let spec = RolloutSpec::new("asg-1", "m-new");
        let refused = plan(&spec, &fleet(1)).unwrap_err();
        assert!(refused[0].contains("--min-in-service 0"), "{refused:?}");
        let explicit = RolloutSpec {
            min_in_service: Some(0),
            ..spec
        };
        let plan = plan(&explicit, &fleet(1)).unwrap();
        assert_eq!((plan.floor, plan.batch_size), (0, 1));
    }

    #[test]
    fn the_floor_bounds_the_batch() {
        let spec = RolloutSpec {
            max_unavailable: Amount::Count(3),
            min_in_service: Some(80),
            ..RolloutSpec::new("asg-1", "m-new")
        };
        let plan = plan(&spec, &fleet(10)).unwrap();
        assert_eq!((plan.floor, plan.batch_size), (8, 2));
    }

    #[test]
    fn standby_and_protected_instances_stay_unless_included_and_the_moved_are_skipped() {
        let mut facts = fleet(4);
        facts.members[1].lifecycle_state = "Standby".into();
        facts.members[2].lifecycle_state = "Protected".into();
        facts.instances[3].image_id = "m-new".into();
        let spec = RolloutSpec::new("asg-1", "m-new");
        let skip = plan(&spec, &facts).unwrap();
        let ids =
            |p: &Plan| -> Vec<String> { p.members.iter().map(|m| m.instance_id.clone()).collect() };
        assert_eq!(ids(&skip), ["i-0"]);
        assert_eq!(skip.already_there, ["i-3"]);
        let include = RolloutSpec {
            standby: Membership::Include,
            protected: Membership::Include,
            ..spec
        };
        assert_eq!(ids(&plan(&include, &facts).unwrap()), ["i-0", "i-1", "i-2"]);
    }

    #[test]
    fn a_changing_group_an_unhealthy_instance_and_a_lost_image_are_each_named() {
        let mut facts = fleet(3);
        facts.members[0].lifecycle_state = "Pending".into();
        facts.instances[1].status = "Stopped".into();
        facts.instances[2].image_id = "m-gone".into();
        facts.missing_images = vec!["m-gone".into()];
        let refused = plan(&RolloutSpec::new("asg-1", "m-new"), &facts).unwrap_err();
        let text = refused.join("\n");
        for needle in [
            "i-0 is Pending",
            "i-1: ECS status Stopped",
            "i-2 runs m-gone",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }

    #[test]
    fn an_image_of_another_architecture_is_refused_naming_the_instances() {
        let image = |id: &str, arch: &str| FleetImage {
            image_id: id.into(),
            status: "Available".into(),
            architecture: arch.into(),
            size: 20,
        };
        let mut facts = fleet(2);
        facts.target = Some(image("m-new", "arm64"));
        facts.images = vec![image("m-old", "x86_64")];
        let refused = plan(&RolloutSpec::new("asg-1", "m-new"), &facts).unwrap_err();
        assert_eq!(
            refused,
            [
                "image m-new is arm64, and these instances run another architecture: \
              i-0 runs m-old (x86_64), i-1 runs m-old (x86_64)"
            ]
        );
        facts.target = Some(image("m-new", "x86_64"));
        assert!(plan(&RolloutSpec::new("asg-1", "m-new"), &facts).is_ok());
    }

    #[test]
    fn an_image_that_does_not_run_on_the_types_or_fit_the_disk_is_refused() {
        let mut facts = fleet(2);
        facts.target = Some(FleetImage {
            image_id: "m-new".into(),
            status: "Available".into(),
            architecture: "x86_64".into(),
            size: 60,
        });
        facts.supported_types = vec!["ecs.c7.large".into()];
        facts.launch_types = vec!["ecs.c7.large".into()];
        let refused = plan(&RolloutSpec::new("asg-1", "m-new"), &facts).unwrap_err();
        assert_eq!(
            refused,
            [
                "image m-new does not run on the instance types of i-0 (ecs.g7.large), i-1 (ecs.g7.large)",
                "image m-new does not run on ecs.g7.large, the instance type the group's configuration launches",
                "image m-new needs a system disk of 60 GiB; the group's configuration launches 40 GiB",
            ]
        );
        facts.supported_types = vec!["ecs.g7.large".into()];
        facts.launch_types = vec!["ecs.g7.large".into()];
        facts.configuration_launch = Some((Some("ecs.g7.large".into()), Some(60)));
        assert!(plan(&RolloutSpec::new("asg-1", "m-new"), &facts).is_ok());
    }
}
