//! Launch-template versions copied with a new image through reimage's clients, and scaling
//! groups whose instance source is a launch template: every parameter of a version survives
//! read → new image → create → read, the 30-version limit, DescribeScalingGroups'
//! `LaunchTemplateId` / `LaunchTemplateVersion` / `LaunchTemplateOverrides`, ModifyScalingGroup
//! pointing a group at a new version and back, its refusals, and an instance refresh of a
//! template group launching the version's image.

use std::time::Duration;

use reimage_cloud::aliyun::Tag;
use reimage_cloud::aliyun::ecs::{
    CreateLaunchTemplateRequest, CreateLaunchTemplateVersionRequest,
    DeleteLaunchTemplateVersionRequest, LaunchTemplateData, LaunchTemplateDataDisk,
    LaunchTemplateNetworkInterface, LaunchTemplateRef, ModifyLaunchTemplateDefaultVersionRequest,
};
use reimage_cloud::aliyun::ess::{
    DescribeScalingGroupsRequest, DescribeScalingInstancesRequest, LaunchTemplateOverrideRequest,
    ModifyScalingGroupRequest,
};
use reimage_sim::ess::state::{GroupLaunchTemplate, LaunchTemplateOverride};

use crate::common::{Call, client, refusal, sim};

const GROUP: &str = "asg-bp1demoweb0000001";
const UBUNTU: &str = "ubuntu_22_04_x64_20G_alibase_20240101.vhd";
const ALINUX: &str = "aliyun_3_x64_20G_alibase_20240101.vhd";

/// User data that is not text: every byte value, Base64-encoded.
fn binary_user_data() -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A version holding a little of everything.
fn full_data(image: &str) -> LaunchTemplateData {
    LaunchTemplateData {
        image_id: Some(image.into()),
        image_owner_alias: Some("system".into()),
        instance_type: Some("ecs.g7.large".into()),
        instance_name: Some("web-{n}".into()),
        description: Some("web tier".into()),
        host_name: Some("web".into()),
        security_group_ids: vec!["sg-bp1demoweb0000001".into(), "sg-bp1extra000000001".into()],
        vpc_id: Some("vpc-bp1demo000000001".into()),
        vswitch_id: Some("vsw-bp1demowebh000001".into()),
        zone_id: Some("cn-hangzhou-h".into()),
        internet_charge_type: Some("PayByTraffic".into()),
        internet_max_bandwidth_in: Some(10),
        internet_max_bandwidth_out: Some(0),
        io_optimized: Some("optimized".into()),
        key_pair_name: Some("web-deploy".into()),
        password_inherit: Some(false),
        ram_role_name: Some("web-role".into()),
        user_data: Some(binary_user_data()),
        security_enhancement_strategy: Some("Active".into()),
        instance_charge_type: Some("PostPaid".into()),
        spot_strategy: Some("SpotWithPriceLimit".into()),
        spot_price_limit: Some("0.98".into()),
        spot_duration: Some(1),
        deletion_protection: Some(true),
        deployment_set_id: Some("ds-bp1demo0000000001".into()),
        credit_specification: Some("Standard".into()),
        http_endpoint: Some("enabled".into()),
        http_tokens: Some("required".into()),
        http_put_response_hop_limit: Some(3),
        trusted_system_mode: Some("vTPM".into()),
        login_as_non_root: Some(true),
        system_disk_category: Some("cloud_essd".into()),
        system_disk_size: Some(40),
        system_disk_name: Some("root".into()),
        system_disk_description: Some("the root disk".into()),
        system_disk_performance_level: Some("PL1".into()),
        system_disk_delete_with_instance: Some(true),
        system_disk_encrypted: Some("true".into()),
        system_disk_kms_key_id: Some("key-hzz0000000000000001".into()),
        system_disk_bursting_enabled: Some(false),
        data_disks: vec![
            LaunchTemplateDataDisk {
                category: Some("cloud_essd".into()),
                size: Some(100),
                performance_level: Some("PL2".into()),
                device: Some("/dev/xvdb".into()),
                disk_name: Some("data".into()),
                delete_with_instance: Some(false),
                encrypted: Some("true".into()),
                ..Default::default()
            },
            LaunchTemplateDataDisk {
                snapshot_id: Some("s-bp1demo0000000001".into()),
                category: Some("cloud_auto".into()),
                size: Some(200),
                provisioned_iops: Some(5000),
                bursting_enabled: Some(true),
                ..Default::default()
            },
        ],
        network_interfaces: vec![
            LaunchTemplateNetworkInterface {
                vswitch_id: Some("vsw-bp1demowebh000001".into()),
                instance_type: Some("Primary".into()),
                security_group_ids: vec![
                    "sg-bp1demoweb0000001".into(),
                    "sg-bp1extra000000001".into(),
                ],
                network_interface_name: Some("eth0".into()),
                ..Default::default()
            },
            LaunchTemplateNetworkInterface {
                vswitch_id: Some("vsw-bp1demowebi000001".into()),
                instance_type: Some("Secondary".into()),
                security_group_id: Some("sg-bp1extra000000001".into()),
                description: Some("second".into()),
                primary_ip_address: Some("10.0.1.10".into()),
                network_interface_traffic_mode: Some("Standard".into()),
                delete_on_release: Some(true),
                ..Default::default()
            },
        ],
        tags: vec![Tag::new("team", "web"), Tag::new("tier", "")],
        ..Default::default()
    }
}

#[tokio::test]
async fn a_version_copied_with_a_new_image_keeps_every_other_parameter() {
    let (sim, clock) = sim().await;
    let c = client(&sim, &clock);
    let ecs = c.ecs();
    let made = ecs
        .create_launch_template(&CreateLaunchTemplateRequest {
            launch_template_name: "web".into(),
            data: LaunchTemplateData {
                version_description: Some("first".into()),
                ..full_data(UBUNTU)
            },
            ..Default::default()
        })
        .await
        .expect("created");
    let id = made.launch_template_id;
    let source = ecs
        .launch_template_version(&id, "Default")
        .await
        .expect("read")
        .expect("the default version");
    assert_eq!(source.version_number, 1);
    assert_eq!(
        source.launch_template_data,
        full_data(UBUNTU),
        "every parameter sent is read back"
    );
    let number = ecs
        .create_version_from(&id, &source.launch_template_data, ALINUX, Some("reimage"))
        .await
        .expect("copied");
    assert_eq!(number, 2);
    let copy = ecs
        .launch_template_version(&id, "Latest")
        .await
        .expect("read")
        .expect("the latest version");
    assert_eq!(copy.version_number, 2);
    assert_eq!(copy.version_description, "reimage");
    assert!(!copy.default_version);
    assert_eq!(copy.launch_template_data.image_id.as_deref(), Some(ALINUX));
    assert_eq!(
        LaunchTemplateData {
            image_id: None,
            ..copy.launch_template_data.clone()
        },
        LaunchTemplateData {
            image_id: None,
            ..source.launch_template_data.clone()
        },
        "nothing but the image changed"
    );
    assert_eq!(
        ecs.launch_template_version(&id, "2")
            .await
            .expect("read")
            .map(|v| v.version_number),
        Some(2)
    );
    assert_eq!(
        ecs.launch_template_version(&id, "7").await.expect("read"),
        None
    );

    // A source holding a field the client does not model is not copied (it would be lost).
    let mut unknown = source.launch_template_data.clone();
    unknown
        .unread
        .insert("NewField".into(), serde_json::json!("on"));
    let err = ecs
        .create_version_from(&id, &unknown, ALINUX, None)
        .await
        .expect_err("refused before sending");
    assert_eq!(err.invalid_parameter(), Some("NewField"));

    // The documented shape, read raw.
    let call = Call::new(&sim, &clock);
    let raw = call
        .ok(
            "DescribeLaunchTemplateVersions",
            &[
                ("RegionId", "cn-hangzhou"),
                ("LaunchTemplateId", &id),
                ("LaunchTemplateVersion.1", "2"),
            ],
        )
        .await;
    let d = &raw["LaunchTemplateVersionSets"]["LaunchTemplateVersionSet"][0]["LaunchTemplateData"];
    assert_eq!(d["UserData"], binary_user_data(), "byte for byte");
    assert_eq!(d["SystemDisk.Category"], "cloud_essd");
    assert_eq!(d["SystemDisk.Size"], 40);
    assert_eq!(d["SystemDisk.DeleteWithInstance"], true);
    assert_eq!(d["SystemDisk"]["PerformanceLevel"], "PL1");
    assert_eq!(d["SecurityOptions"]["TrustedSystemMode"], "vTPM");
    assert_eq!(d["ImageOptions"]["LoginAsNonRoot"], true);
    assert_eq!(d["InternetMaxBandwidthOut"], 0);
    assert_eq!(d["SpotPriceLimit"], 0.98);
    assert_eq!(d["DeletionProtection"], true);
    assert_eq!(d["DataDisks"]["DataDisk"][0]["Size"], 100);
    assert_eq!(
        d["DataDisks"]["DataDisk"][1]["SnapshotId"],
        "s-bp1demo0000000001"
    );
    assert_eq!(
        d["NetworkInterfaces"]["NetworkInterface"][0]["SecurityGroupIds"]["SecurityGroupId"][1],
        "sg-bp1extra000000001"
    );
    assert_eq!(
        d["NetworkInterfaces"]["NetworkInterface"][1]["DeleteOnRelease"],
        true
    );
    assert_eq!(d["Tags"]["InstanceTag"][0]["Key"], "team");
    assert_eq!(d["Tags"]["InstanceTag"][1]["Value"], "");
    assert_eq!(
        d["SecurityGroupIds"]["SecurityGroupId"],
        serde_json::json!(["sg-bp1demoweb0000001", "sg-bp1extra000000001"])
    );

    // Refusals of malformed parameters.
    let (status, code, _) = call
        .err(
            "CreateLaunchTemplateVersion",
            &[
                ("RegionId", "cn-hangzhou"),
                ("LaunchTemplateId", &id),
                ("DataDisk.1.Size", "big"),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "InvalidParameter"));
    let (_, code, _) = call
        .err(
            "CreateLaunchTemplateVersion",
            &[
                ("RegionId", "cn-hangzhou"),
                ("LaunchTemplateId", &id),
                ("DataDisk.17.Size", "20"),
            ],
        )
        .await;
    assert_eq!(code, "InvalidParameter", "at most 16 data disks");
}

#[tokio::test]
async fn a_template_holds_at_most_30_versions_and_never_loses_its_default() {
    let (sim, clock) = sim().await;
    let c = client(&sim, &clock);
    let ecs = c.ecs();
    let made = ecs
        .create_launch_template(&CreateLaunchTemplateRequest {
            launch_template_name: "web".into(),
            data: full_data(UBUNTU),
            ..Default::default()
        })
        .await
        .expect("created");
    let id = made.launch_template_id;
    let source = full_data(UBUNTU);
    for n in 2..=30 {
        let number = ecs
            .create_version_from(&id, &source, ALINUX, None)
            .await
            .expect("under the limit");
        assert_eq!(number, n);
    }
    let (status, code) = refusal(
        ecs.create_version_from(&id, &source, ALINUX, None)
            .await
            .expect_err("the 31st"),
    );
    assert_eq!(
        (status, code.as_str()),
        (403, "LaunchTemplateVersionLimitExceed")
    );
    let (status, code) = refusal(
        ecs.delete_launch_template_version(&DeleteLaunchTemplateVersionRequest {
            template: LaunchTemplateRef::Id(id.clone()),
            versions: vec![1],
        })
        .await
        .expect_err("the default version"),
    );
    assert_eq!(
        (status, code.as_str()),
        (403, "InvalidOperation.DeleteDefaultVersion")
    );
    // Deleting a version makes room again; numbers are never given twice.
    ecs.delete_launch_template_version(&DeleteLaunchTemplateVersionRequest {
        template: LaunchTemplateRef::Id(id.clone()),
        versions: vec![30],
    })
    .await
    .expect("deleted");
    let number = ecs
        .create_version_from(&id, &source, ALINUX, None)
        .await
        .expect("room again");
    assert_eq!(number, 31);
}

async fn group(c: &reimage_cloud::aliyun::Client) -> reimage_cloud::aliyun::ess::ScalingGroup {
    c.ess()
        .describe_scaling_groups(&DescribeScalingGroupsRequest {
            scaling_group_ids: vec![GROUP.into()],
            ..Default::default()
        })
        .await
        .expect("described")
        .scaling_groups
        .scaling_group
        .remove(0)
}

#[tokio::test]
async fn a_template_group_is_described_pointed_at_a_new_version_and_back() {
    let (sim, clock) = sim().await;
    let c = client(&sim, &clock);
    let (ecs, ess) = (c.ecs(), c.ess());
    let id = ecs
        .create_launch_template(&CreateLaunchTemplateRequest {
            launch_template_name: "web".into(),
            data: full_data(UBUNTU),
            ..Default::default()
        })
        .await
        .expect("created")
        .launch_template_id;
    sim.admin()
        .set_group_launch_template(
            GROUP,
            &GroupLaunchTemplate {
                launch_template_id: id.clone(),
                launch_template_version: "Default".into(),
                overrides: vec![LaunchTemplateOverride {
                    instance_type: "ecs.g7.xlarge".into(),
                    weighted_capacity: Some(2),
                    spot_price_limit: None,
                }],
            },
        )
        .expect("the group launches from the template");
    let g = group(&c).await;
    assert_eq!(g.launch_template(), Some((id.as_str(), "Default")));
    assert_eq!(g.active_scaling_configuration_id, "", "one instance source");
    let o = &g.launch_template_overrides.launch_template_override;
    assert_eq!(
        (o[0].instance_type.as_str(), o[0].weighted_capacity),
        ("ecs.g7.xlarge", Some(2))
    );

    // The pipeline's steps: resolve, copy with the new image, point the group at the copy.
    let (template, version) = g.launch_template().expect("a template group");
    let source = ecs
        .launch_template_version(template, version)
        .await
        .expect("read")
        .expect("the version");
    let new = ecs
        .create_version_from(
            template,
            &source.launch_template_data,
            ALINUX,
            Some("reimage"),
        )
        .await
        .expect("copied");
    ess.modify_scaling_group(&ModifyScalingGroupRequest {
        scaling_group_id: GROUP.into(),
        launch_template_id: Some(id.clone()),
        launch_template_version: Some(new.to_string()),
        ..Default::default()
    })
    .await
    .expect("pointed at the new version");
    let g = group(&c).await;
    assert_eq!(g.launch_template(), Some((id.as_str(), "2")));
    assert_eq!(
        g.launch_template_overrides.launch_template_override.len(),
        1,
        "the overrides stay when none are given"
    );
    // Rollback: back to the version it named, then the copy deleted.
    ess.modify_scaling_group(&ModifyScalingGroupRequest {
        scaling_group_id: GROUP.into(),
        launch_template_version: Some("Default".into()),
        launch_template_overrides: vec![LaunchTemplateOverrideRequest {
            instance_type: "ecs.c7.large".into(),
            weighted_capacity: None,
            spot_price_limit: Some("0.5".into()),
        }],
        ..Default::default()
    })
    .await
    .expect("back");
    let g = group(&c).await;
    assert_eq!(g.launch_template(), Some((id.as_str(), "Default")));
    let o = &g.launch_template_overrides.launch_template_override;
    assert_eq!(
        (
            o[0].instance_type.as_str(),
            o[0].spot_price_limit.as_deref()
        ),
        ("ecs.c7.large", Some("0.5"))
    );
    ecs.delete_launch_template_version(&DeleteLaunchTemplateVersionRequest {
        template: LaunchTemplateRef::Id(id.clone()),
        versions: vec![new],
    })
    .await
    .expect("the copy deleted");

    // A template's default version moved instead (groups on Default follow it).
    let newer = ecs
        .create_version_from(&id, &source.launch_template_data, ALINUX, None)
        .await
        .expect("copied");
    ecs.modify_launch_template_default_version(&ModifyLaunchTemplateDefaultVersionRequest {
        template: LaunchTemplateRef::Id(id.clone()),
        default_version_number: newer,
    })
    .await
    .expect("a new default");
    assert_eq!(
        ecs.launch_template_version(&id, "Default")
            .await
            .unwrap()
            .unwrap()
            .launch_template_data
            .image_id
            .as_deref(),
        Some(ALINUX)
    );

    // Refusals.
    let refused = |req: ModifyScalingGroupRequest| async move {
        refusal(ess.modify_scaling_group(&req).await.expect_err("refused"))
    };
    assert_eq!(
        refused(ModifyScalingGroupRequest {
            scaling_group_id: GROUP.into(),
            launch_template_id: Some("lt-bp1nosuchtemplate0".into()),
            ..Default::default()
        })
        .await,
        (404, "InvalidLaunchTemplate.NotFound".to_owned())
    );
    assert_eq!(
        refused(ModifyScalingGroupRequest {
            scaling_group_id: GROUP.into(),
            launch_template_version: Some("9".into()),
            ..Default::default()
        })
        .await,
        (404, "InvalidLaunchTemplateVersion.NotFound".to_owned())
    );
    assert_eq!(
        refused(ModifyScalingGroupRequest {
            scaling_group_id: "asg-bp1nosuchgroup000".into(),
            launch_template_version: Some("1".into()),
            ..Default::default()
        })
        .await,
        (404, "InvalidScalingGroupId.NotFound".to_owned())
    );
    let call = Call::new(&sim, &clock);
    let (status, code, _) = call
        .err(
            "ModifyScalingGroup",
            &[
                ("ScalingGroupId", GROUP),
                ("LaunchTemplateVersion", "newest"),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "InvalidParameter"));
    let (_, code, _) = call
        .err(
            "ModifyScalingGroup",
            &[
                ("ScalingGroupId", GROUP),
                ("LaunchTemplateOverride.1.InstanceType", "ecs.g7.large"),
                ("LaunchTemplateOverride.1.WeightedCapacity", "501"),
            ],
        )
        .await;
    assert_eq!(code, "InvalidParameter");
    // Back to a configuration: the group leaves its template.
    ess.modify_scaling_group(&ModifyScalingGroupRequest {
        scaling_group_id: GROUP.into(),
        active_scaling_configuration_id: Some("asc-bp1demoweb0000001".into()),
        ..Default::default()
    })
    .await
    .expect("a configuration again");
    let g = group(&c).await;
    assert_eq!(g.launch_template(), None);
    assert_eq!(g.active_scaling_configuration_id, "asc-bp1demoweb0000001");
}

#[tokio::test]
async fn a_refresh_of_a_template_group_launches_the_versions_image() {
    let (sim, clock) = sim().await;
    let c = client(&sim, &clock);
    let ecs = c.ecs();
    let id = ecs
        .create_launch_template(&CreateLaunchTemplateRequest {
            launch_template_name: "web".into(),
            data: full_data(UBUNTU),
            ..Default::default()
        })
        .await
        .expect("created")
        .launch_template_id;
    ecs.create_launch_template_version(&CreateLaunchTemplateVersionRequest {
        template: LaunchTemplateRef::Id(id.clone()),
        data: full_data(ALINUX),
    })
    .await
    .expect("version 2");
    sim.admin()
        .set_group_launch_template(
            GROUP,
            &GroupLaunchTemplate {
                launch_template_id: id.clone(),
                launch_template_version: "Latest".into(),
                overrides: Vec::new(),
            },
        )
        .expect("the group launches from the template");
    let call = Call::new(&sim, &clock);
    let started = call
        .ok(
            "StartInstanceRefresh",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ScalingGroupId", GROUP),
                ("MinHealthyPercentage", "50"),
                ("MaxHealthyPercentage", "100"),
            ],
        )
        .await;
    let task = started["InstanceRefreshTaskId"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..20 {
        clock.advance(Duration::from_secs(61));
        let found = call
            .ok(
                "DescribeInstanceRefreshes",
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("ScalingGroupId", GROUP),
                    ("InstanceRefreshTaskIds.1", &task),
                ],
            )
            .await;
        if found["InstanceRefreshTasks"][0]["Status"] == "Successful" {
            break;
        }
    }
    let state = sim.admin().state();
    let members: Vec<&str> = state
        .scaling_instances
        .iter()
        .filter(|m| m.scaling_group_id == GROUP)
        .map(|m| m.instance_id.as_str())
        .collect();
    assert!(!members.is_empty());
    for m in members {
        let instance = sim.admin().instance(m).expect("an instance");
        assert_eq!(
            instance.image_id, ALINUX,
            "launched from the latest version"
        );
    }
    let described = call
        .ok(
            "DescribeScalingInstances",
            &[("RegionId", "cn-hangzhou"), ("ScalingGroupId", GROUP)],
        )
        .await;
    for m in described["ScalingInstances"]["ScalingInstance"]
        .as_array()
        .unwrap()
    {
        assert_eq!(
            (
                &m["LaunchTemplateId"],
                &m["LaunchTemplateVersion"],
                &m["ScalingConfigurationId"]
            ),
            (
                &serde_json::json!(id),
                &serde_json::json!("2"),
                &serde_json::json!("")
            ),
            "{m}"
        );
    }
    let read = c
        .ess()
        .describe_scaling_instances_all(&DescribeScalingInstancesRequest {
            scaling_group_id: Some(GROUP.into()),
            ..Default::default()
        })
        .await
        .expect("the group's instances");
    assert!(
        read.iter().all(|m| (
            m.launch_template_id.as_str(),
            m.launch_template_version.as_str()
        ) == (id.as_str(), "2")),
        "{read:?}"
    );
}

#[tokio::test]
async fn a_seed_and_the_http_admin_make_template_groups() {
    use reimage_sim::seed::{
        Seed, SeedGroupLaunchTemplate, SeedLaunchTemplate, SeedTemplateVersion,
    };

    let mut seed = Seed::demo();
    seed.launch_templates.push(SeedLaunchTemplate {
        launch_template_id: Some("lt-bp1seededgroup001".into()),
        launch_template_name: "seeded-web".into(),
        versions: vec![
            SeedTemplateVersion::of_image(UBUNTU),
            SeedTemplateVersion {
                parameters: [
                    ("DataDisk.1.Size", "100"),
                    ("DataDisk.1.Category", "cloud_essd"),
                    ("UserData", "ZWNobyBoaQ=="),
                    ("Tag.1.Key", "team"),
                    ("Tag.1.Value", "web"),
                    ("InstanceType", "ecs.c7.large"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
                ..SeedTemplateVersion::of_image(ALINUX)
            },
        ],
        ..Default::default()
    });
    seed.scaling_group_launch_templates
        .push(SeedGroupLaunchTemplate {
            scaling_group_id: GROUP.into(),
            launch_template_id: "lt-bp1seededgroup001".into(),
            launch_template_version: "2".into(),
            overrides: Vec::new(),
        });
    let back = Seed::from_json(&seed.to_json_pretty()).expect("the seed round-trips");
    assert_eq!(back, seed);
    let mut broken = seed.clone();
    broken.scaling_group_launch_templates[0].launch_template_id = "lt-bp1nosuch00000001".into();
    assert!(broken.validate().is_err(), "an unknown template");
    let mut broken = seed.clone();
    broken.launch_templates[0].versions[1]
        .parameters
        .insert("DataDisk.1.Size".into(), "big".into());
    assert!(
        broken.validate().is_err(),
        "a parameter CreateLaunchTemplateVersion refuses"
    );

    let clock = reimage_cloud::clock::ManualClock::new(crate::common::t0());
    let sim = reimage_sim::Sim::builder()
        .clock(std::sync::Arc::new(clock.clone()))
        .seed(seed)
        .start()
        .await
        .expect("sim starts");
    let c = client(&sim, &clock);
    let g = group(&c).await;
    assert_eq!(g.launch_template(), Some(("lt-bp1seededgroup001", "2")));
    let v = c
        .ecs()
        .launch_template_version("lt-bp1seededgroup001", "2")
        .await
        .expect("read")
        .expect("version 2");
    let d = &v.launch_template_data;
    assert_eq!(d.image_id.as_deref(), Some(ALINUX));
    assert_eq!(d.instance_type.as_deref(), Some("ecs.c7.large"));
    assert_eq!(d.data_disks[0].size, Some(100));
    assert_eq!(d.user_data.as_deref(), Some("ZWNobyBoaQ=="));
    assert_eq!(d.tags, [Tag::new("team", "web")]);

    let http = reqwest::Client::new();
    let answer = http
        .post(format!(
            "{}/__sim/groups/{GROUP}/launch-template",
            sim.endpoint()
        ))
        .json(&serde_json::json!({
            "launch_template_id": "lt-bp1seededgroup001",
            "launch_template_version": "Latest",
            "overrides": [{"instance_type": "ecs.g7.xlarge", "weighted_capacity": 4}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let g = group(&c).await;
    assert_eq!(
        g.launch_template(),
        Some(("lt-bp1seededgroup001", "Latest"))
    );
    assert_eq!(
        g.launch_template_overrides.launch_template_override[0].weighted_capacity,
        Some(4)
    );
    let refused = http
        .post(format!(
            "{}/__sim/groups/{GROUP}/launch-template",
            sim.endpoint()
        ))
        .json(&serde_json::json!({
            "launch_template_id": "lt-bp1seededgroup001",
            "launch_template_version": "3",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 404, "no version 3");
    sim.shutdown().await;
}
