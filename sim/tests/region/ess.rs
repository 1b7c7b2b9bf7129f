//! ESS operations and rules.

use std::time::Duration;

use crate::common::{Call, sim};

#[tokio::test]
async fn groups_and_configurations_of_the_demo_region() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let groups = call
        .ok("DescribeScalingGroups", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!(groups["TotalCount"], 3);
    let eci = call
        .ok(
            "DescribeScalingGroups",
            &[("RegionId", "cn-hangzhou"), ("GroupType", "ECI")],
        )
        .await;
    assert_eq!(eci["ScalingGroups"]["ScalingGroup"][0]["GroupType"], "ECI");
    assert_eq!(eci["TotalCount"], 1);
    let web = call
        .ok(
            "DescribeScalingGroups",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ScalingGroupId.1", "asg-bp1demoweb0000001"),
            ],
        )
        .await;
    assert_eq!(
        web["ScalingGroups"]["ScalingGroup"][0]["ActiveScalingConfigurationId"],
        "asc-bp1demoweb0000001"
    );

    let configs = call
        .ok(
            "DescribeScalingConfigurations",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ScalingGroupId", "asg-bp1demoweb0000001"),
            ],
        )
        .await;
    let list = configs["ScalingConfigurations"]["ScalingConfiguration"]
        .as_array()
        .unwrap();
    let states: Vec<(&str, &str)> = list
        .iter()
        .map(|c| {
            (
                c["ScalingConfigurationId"].as_str().unwrap(),
                c["LifecycleState"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("asc-bp1demoweb0000001", "Active"),
            ("asc-bp1demoweb0000002", "Inactive")
        ]
    );
    assert_eq!(list[0]["ImageName"], "Ubuntu 22.04 64 bit");

    // What each configuration launches with, and where: the group's vSwitches.
    let group = &web["ScalingGroups"]["ScalingGroup"][0];
    assert_eq!(group["VSwitchId"], "vsw-bp1demowebh000001");
    assert_eq!(
        group["VSwitchIds"]["VSwitchId"],
        serde_json::json!(["vsw-bp1demowebh000001", "vsw-bp1demowebi000001"])
    );
    let web_active = &list[0];
    assert_eq!(
        web_active["InstanceTypes"]["InstanceType"],
        serde_json::json!(["ecs.g7.large", "ecs.c7.large"])
    );
    assert_eq!(web_active["InstanceType"], "ecs.g7.large");
    assert_eq!(web_active["SecurityGroupId"], "sg-bp1demoweb0000001");
    assert_eq!(
        web_active["SecurityGroupIds"]["SecurityGroupId"],
        serde_json::json!(["sg-bp1demoweb0000001"])
    );
    for (field, want) in [
        ("SystemDiskCategory", serde_json::json!("cloud_essd")),
        ("SystemDiskPerformanceLevel", serde_json::json!("PL1")),
        ("SystemDiskSize", serde_json::json!(40)),
        ("KeyPairName", serde_json::json!("web-deploy")),
        ("ZoneId", serde_json::json!("")),
        ("PasswordInherit", serde_json::json!(false)),
    ] {
        assert_eq!(web_active[field], want, "{field}");
    }
    let api = call
        .ok(
            "DescribeScalingConfigurations",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ScalingConfigurationId.1", "asc-bp1demoapi0000001"),
            ],
        )
        .await;
    let api = &api["ScalingConfigurations"]["ScalingConfiguration"][0];
    assert_eq!(
        api["InstanceTypes"]["InstanceType"],
        serde_json::json!(["ecs.g7.large"])
    );
    // Two security groups are answered as the list only.
    assert_eq!(api["SecurityGroupId"], "");
    assert_eq!(
        api["SecurityGroupIds"]["SecurityGroupId"],
        serde_json::json!(["sg-bp1demoapi0000001", "sg-bp1demoshared00001"])
    );
    assert_eq!(
        (
            &api["SystemDiskCategory"],
            &api["SystemDiskPerformanceLevel"],
            &api["PasswordInherit"]
        ),
        (
            &serde_json::json!("cloud_auto"),
            &serde_json::json!(""),
            &serde_json::json!(true)
        )
    );

    let (status, code, _) = call
        .err(
            "DescribeScalingConfigurations",
            &[("RegionId", "cn-hangzhou"), ("ScalingGroupId", "asg-nope")],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidScalingGroupId.NotFound")
    );
}

#[tokio::test]
async fn at_most_ten_configuration_ids_per_call() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let names: Vec<String> = (1..=11)
        .map(|n| format!("ScalingConfigurationId.{n}"))
        .collect();
    let mut p: Vec<(&str, &str)> = vec![("RegionId", "cn-hangzhou")];
    for name in &names[..10] {
        p.push((name.as_str(), "asc-bp1demoweb0000001"));
    }
    let ten = call.ok("DescribeScalingConfigurations", &p).await;
    assert_eq!(ten["TotalCount"], 1);
    p.push((names[10].as_str(), "asc-bp1demoweb0000002"));
    let (status, code, msg) = call.err("DescribeScalingConfigurations", &p).await;
    assert_eq!((status, code.as_str()), (400, "InvalidParameter"));
    assert!(msg.contains("ScalingConfigurationId.11"), "{msg}");
}

#[tokio::test]
async fn modify_scaling_configuration_swaps_to_an_available_image() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let image = call
        .ok(
            "CreateImage",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-bp1demoweb000000001"),
                ("ImageName", "web-new"),
            ],
        )
        .await;
    let image_id = image["ImageId"].as_str().unwrap();
    // Not Available yet.
    let (status, code, msg) = call
        .err(
            "ModifyScalingConfiguration",
            &[
                ("ScalingConfigurationId", "asc-bp1demoweb0000002"),
                ("ImageId", image_id),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (404, "InvalidImageId.NotFound"));
    assert!(msg.contains("Creating"), "{msg}");
    clock.advance(Duration::from_secs(100));
    // Inactive configurations can be changed too; no RegionId is needed.
    call.ok(
        "ModifyScalingConfiguration",
        &[
            ("ScalingConfigurationId", "asc-bp1demoweb0000002"),
            ("ImageId", image_id),
        ],
    )
    .await;
    let after = call
        .ok(
            "DescribeScalingConfigurations",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ScalingConfigurationId.1", "asc-bp1demoweb0000002"),
            ],
        )
        .await;
    let config = &after["ScalingConfigurations"]["ScalingConfiguration"][0];
    assert_eq!(config["ImageId"], image_id);
    assert_eq!(config["ImageName"], "web-new");
    assert_eq!(config["LifecycleState"], "Inactive");

    let (status, code, _) = call
        .err(
            "ModifyScalingConfiguration",
            &[
                ("ScalingConfigurationId", "asc-bp1demoweb0000001"),
                ("ImageId", "m-nope"),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (404, "InvalidImageId.NotFound"));
    let (status, code, _) = call
        .err(
            "ModifyScalingConfiguration",
            &[
                ("ScalingConfigurationId", "asc-nope"),
                ("ImageId", image_id),
            ],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidScalingConfigurationId.NotFound")
    );
    let (status, code, _) = call
        .err("ModifyScalingConfiguration", &[("ImageId", image_id)])
        .await;
    assert_eq!((status, code.as_str()), (400, "MissingParameter"));
    // ECI configurations are not ECS scaling configurations.
    let (status, code, msg) = call
        .err(
            "ModifyScalingConfiguration",
            &[
                ("ScalingConfigurationId", "asc-bp1demoeci0000001"),
                ("ImageId", image_id),
            ],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidScalingConfigurationId.NotFound")
    );
    assert!(msg.contains("ECI"), "{msg}");
}

#[tokio::test]
async fn a_deleted_configuration_is_gone_and_its_group_has_no_active_one() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    sim.admin()
        .delete_configuration("asc-bp1demoweb0000001")
        .unwrap();
    let (status, code, _) = call
        .err(
            "ModifyScalingConfiguration",
            &[
                ("ScalingConfigurationId", "asc-bp1demoweb0000001"),
                ("ImageId", "ubuntu_22_04_x64_20G_alibase_20240101.vhd"),
            ],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidScalingConfigurationId.NotFound")
    );
    let web = call
        .ok(
            "DescribeScalingGroups",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ScalingGroupId.1", "asg-bp1demoweb0000001"),
            ],
        )
        .await;
    assert_eq!(
        web["ScalingGroups"]["ScalingGroup"][0]["ActiveScalingConfigurationId"],
        ""
    );
}

#[tokio::test]
async fn disabled_groups_asked_for_by_id_are_left_out_without_an_error() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let by_id = [
        ("RegionId", "cn-hangzhou"),
        ("ScalingGroupId.1", "asg-bp1demoweb0000001"),
    ];
    assert_eq!(
        call.ok("DescribeScalingGroups", &by_id).await["TotalCount"],
        1
    );
    sim.admin()
        .set_group_enabled("asg-bp1demoweb0000001", false)
        .unwrap();
    let answer = call.ok("DescribeScalingGroups", &by_id).await;
    assert_eq!(answer["TotalCount"], 0);
    assert_eq!(
        answer["ScalingGroups"]["ScalingGroup"],
        serde_json::json!([])
    );
    // Listed without ids, it is still there, Inactive.
    let all = call
        .ok("DescribeScalingGroups", &[("RegionId", "cn-hangzhou")])
        .await;
    let web = all["ScalingGroups"]["ScalingGroup"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["ScalingGroupId"] == "asg-bp1demoweb0000001")
        .cloned()
        .unwrap();
    assert_eq!(web["LifecycleState"], "Inactive");
    sim.admin()
        .set_group_enabled("asg-bp1demoweb0000001", true)
        .unwrap();
    assert_eq!(
        call.ok("DescribeScalingGroups", &by_id).await["TotalCount"],
        1
    );
}

#[tokio::test]
async fn eci_configurations_are_answered_only_by_their_own_operation() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let both = [
        ("RegionId", "cn-hangzhou"),
        ("ScalingConfigurationId.1", "asc-bp1demoweb0000001"),
        ("ScalingConfigurationId.2", "asc-bp1demoeci0000001"),
    ];
    let ecs = call.ok("DescribeScalingConfigurations", &both).await;
    assert_eq!(ecs["TotalCount"], 1);
    assert_eq!(
        ecs["ScalingConfigurations"]["ScalingConfiguration"][0]["ScalingConfigurationId"],
        "asc-bp1demoweb0000001"
    );
    let eci = call.ok("DescribeEciScalingConfigurations", &both).await;
    assert_eq!(eci["TotalCount"], 1);
    let item = &eci["ScalingConfigurations"][0];
    assert_eq!(item["ScalingConfigurationId"], "asc-bp1demoeci0000001");
    assert_eq!(item["ScalingGroupId"], "asg-bp1demoeci0000001");
    assert_eq!(item["LifecycleState"], "Active");
    // The ECI group's configurations are not among the ECS group listing either.
    let (status, code, _) = call
        .err(
            "DescribeEciScalingConfigurations",
            &[("RegionId", "cn-hangzhou"), ("ScalingGroupId", "asg-nope")],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidScalingGroupId.NotFound")
    );
}

#[tokio::test]
async fn a_configuration_name_is_unique_within_its_group() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let before = sim
        .admin()
        .scaling_configuration("asc-bp1demoweb0000001")
        .unwrap();
    let taken = sim
        .admin()
        .scaling_configuration("asc-bp1demoweb0000002")
        .unwrap()
        .scaling_configuration_name;
    let (status, code, msg) = call
        .err(
            "ModifyScalingConfiguration",
            &[
                ("ScalingConfigurationId", "asc-bp1demoweb0000001"),
                ("ScalingConfigurationName", &taken),
            ],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidScalingConfigurationName.Duplicate")
    );
    assert!(msg.contains(&taken), "{msg}");
    let after = sim
        .admin()
        .scaling_configuration("asc-bp1demoweb0000001")
        .unwrap();
    assert_eq!(
        after.scaling_configuration_name,
        before.scaling_configuration_name
    );
    // Its own name again is no duplicate.
    call.ok(
        "ModifyScalingConfiguration",
        &[
            ("ScalingConfigurationId", "asc-bp1demoweb0000001"),
            (
                "ScalingConfigurationName",
                &before.scaling_configuration_name,
            ),
        ],
    )
    .await;
}
