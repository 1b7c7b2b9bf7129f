//! What a launch needs: DescribeInstanceTypes (architecture, boot modes, NVMe), DescribeImages'
//! `BootMode`, and RunInstances' dry run with each documented refusal, through reimage's own
//! ECS client; the refusals the client never sends are checked with raw signed calls.

use std::sync::Arc;
use std::time::Duration;

use reimage_cloud::aliyun::ecs::{
    CpuArchitecture, CreateImageRequest, DescribeImagesRequest, DescribeInstanceTypesRequest,
    ImageStatus, RunInstancesRequest,
};
use reimage_cloud::clock::ManualClock;
use reimage_sim::Sim;
use reimage_sim::seed::{Seed, SeedImage};

use crate::common::{Call, client, refusal, t0};

const UBUNTU: &str = "ubuntu_22_04_x64_20G_alibase_20240101.vhd";
const ARM: &str = "arm_image_1";
const BIG: &str = "m-bp1demobig00000001";
const WEB: &str = "i-bp1demoweb000000001";

/// The demo region with an arm64 image and a 60 GiB x86_64 one.
async fn sim() -> (Sim, ManualClock) {
    let clock = ManualClock::new(t0());
    let mut seed = Seed::demo();
    for (id, architecture, size) in [(ARM, "arm64", 20), (BIG, "x86_64", 60)] {
        seed.images.push(SeedImage {
            image_id: id.into(),
            image_name: id.into(),
            image_owner_alias: "self".into(),
            os_type: "linux".into(),
            platform: "Ubuntu".into(),
            size,
            architecture: architecture.into(),
        });
    }
    let sim = Sim::builder()
        .clock(Arc::new(clock.clone()))
        .image_seconds(100)
        .seed(seed)
        .start()
        .await
        .expect("sim starts");
    (sim, clock)
}

/// A dry run of `instance_type` from `image_id`, in the demo's security group.
fn launch(image_id: &str, instance_type: &str) -> RunInstancesRequest {
    RunInstancesRequest {
        image_id: image_id.into(),
        instance_type: instance_type.into(),
        security_group_ids: vec!["sg-bp1simdemo0000001".into()],
        vswitch_id: Some("vsw-bp1simdemo0000001".into()),
        zone_id: Some("cn-hangzhou-h".into()),
        system_disk_size: Some(40),
        system_disk_category: Some("cloud_essd".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn describe_instance_types_reports_architecture_boot_modes_and_nvme_in_pages() {
    let (sim, clock) = sim().await;
    let client = client(&sim, &clock);
    let ecs = client.ecs();
    let all = ecs
        .describe_instance_types(&DescribeInstanceTypesRequest::default())
        .await
        .expect("every type");
    assert_eq!(all.next_token, "", "one page holds the catalogue");
    let types = &all.instance_types.instance_type;
    assert!(types.len() >= 10, "{}", types.len());
    let g7 = all.get("ecs.g7.large").expect("g7");
    assert_eq!(
        (
            g7.instance_type_family.as_str(),
            g7.cpu_core_count,
            g7.memory_size,
            g7.cpu_architecture.as_str(),
            g7.supported_boot_modes.supported_boot_mode.clone(),
            g7.nvme_support.as_str(),
            g7.instance_family_level.as_str(),
        ),
        (
            "ecs.g7",
            2,
            8.0,
            "X86",
            vec!["BIOS".to_owned(), "UEFI".to_owned()],
            "unsupported",
            "EnterpriseLevel"
        )
    );
    let g8y = all.get("ecs.g8y.large").expect("g8y");
    assert_eq!(
        (
            g8y.cpu_architecture.as_str(),
            g8y.supported_boot_modes.supported_boot_mode.clone(),
            g8y.nvme_support.as_str()
        ),
        ("ARM", vec!["UEFI".to_owned()], "required")
    );
    let g8i = all.get("ecs.g8i.large").expect("a UEFI-only x86 type");
    assert!(g8i.runs_architecture("x86_64") && !g8i.boots("BIOS") && g8i.boots("UEFI"));
    assert_eq!(
        all.get("ecs.t6-c1m1.large")
            .map(|t| t.instance_family_level.as_str()),
        Some("CreditEntryLevel")
    );

    // Filters: the named types, a family, an architecture.
    let named = ecs
        .describe_instance_types(&DescribeInstanceTypesRequest {
            instance_types: vec!["ecs.g8y.large".into(), "ecs.c7.large".into()],
            ..Default::default()
        })
        .await
        .expect("two types");
    let mut ids: Vec<&str> = named
        .instance_types
        .instance_type
        .iter()
        .map(|t| t.instance_type_id.as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["ecs.c7.large", "ecs.g8y.large"]);
    let family = ecs
        .describe_instance_types(&DescribeInstanceTypesRequest {
            instance_type_family: Some("ecs.g7".into()),
            ..Default::default()
        })
        .await
        .expect("a family");
    assert!(
        family.instance_types.instance_type.len() == 3
            && family
                .instance_types
                .instance_type
                .iter()
                .all(|t| t.instance_type_family == "ecs.g7")
    );
    let arm = ecs
        .describe_instance_types(&DescribeInstanceTypesRequest {
            cpu_architecture: Some(CpuArchitecture::Arm),
            ..Default::default()
        })
        .await
        .expect("ARM types");
    assert!(
        !arm.instance_types.instance_type.is_empty()
            && arm
                .instance_types
                .instance_type
                .iter()
                .all(|t| t.cpu_architecture == "ARM" && t.runs_architecture("arm64"))
    );

    // Pages of 5, followed to the end, are the whole catalogue in order.
    let first = ecs
        .describe_instance_types(&DescribeInstanceTypesRequest {
            max_results: Some(5),
            ..Default::default()
        })
        .await
        .expect("a page");
    assert_eq!(first.instance_types.instance_type.len(), 5);
    assert!(!first.next_token.is_empty());
    let paged = ecs
        .describe_instance_types_all(&DescribeInstanceTypesRequest {
            max_results: Some(5),
            ..Default::default()
        })
        .await
        .expect("every page");
    assert_eq!(&paged, types);

    // What the client refuses to send, the sim refuses too.
    let call = Call::new(&sim, &clock);
    let eleven: Vec<String> = (1..=11).map(|n| format!("InstanceTypes.{n}")).collect();
    let mut too_many: Vec<(&str, &str)> = eleven
        .iter()
        .map(|k| (k.as_str(), "ecs.g7.large"))
        .collect();
    too_many.push(("RegionId", "cn-hangzhou"));
    for (params, status, code) in [
        (
            vec![("MaxResults", "0")],
            400,
            "InvalidParameter.MaxResults",
        ),
        (
            vec![("MaxResults", "1601")],
            400,
            "InvalidParameter.MaxResults",
        ),
        (vec![("NextToken", "nope")], 400, "InvalidParameter"),
        (vec![("CpuArchitecture", "x86")], 400, "InvalidParameter"),
        (too_many, 400, "InvalidParameter"),
        (
            vec![("RegionId", "cn-beijing")],
            404,
            "InvalidRegionId.NotFound",
        ),
    ] {
        let (got_status, got_code, _) = call.err("DescribeInstanceTypes", &params).await;
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{params:?}"
        );
    }
    let none = call
        .ok(
            "DescribeInstanceTypes",
            &[("InstanceTypes.1", "ecs.nope.large")],
        )
        .await;
    assert_eq!(none["InstanceTypes"]["InstanceType"], serde_json::json!([]));
}

#[tokio::test]
async fn images_report_their_boot_mode_which_the_admin_interface_sets() {
    let (sim, clock) = sim().await;
    let client = client(&sim, &clock);
    let ecs = client.ecs();
    let boot_mode = |id: &'static str| {
        let ecs = client.ecs();
        async move {
            let found = ecs
                .describe_images(&DescribeImagesRequest {
                    image_id: Some(id.into()),
                    ..Default::default()
                })
                .await
                .expect("DescribeImages");
            found.images.image[0].boot_mode.clone()
        }
    };
    assert_eq!(boot_mode(UBUNTU).await, "BIOS");
    assert_eq!(boot_mode(ARM).await, "UEFI");
    sim.admin()
        .set_image_boot_mode(UBUNTU, "UEFI-Preferred")
        .expect("set");
    assert_eq!(boot_mode(UBUNTU).await, "UEFI-Preferred");
    assert_eq!(
        sim.admin().image(UBUNTU).map(|m| m.boot_mode),
        Some("UEFI-Preferred".to_owned())
    );
    for (image, mode) in [(UBUNTU, "uefi"), (ARM, "BIOS"), ("m-doesnotexist", "UEFI")] {
        assert!(
            sim.admin().set_image_boot_mode(image, mode).is_err(),
            "{image} {mode}"
        );
    }

    // An image made from an instance keeps the boot mode of the instance's image.
    let made = ecs
        .create_image(&CreateImageRequest {
            instance_id: Some(WEB.into()),
            image_name: Some("web-uefi".into()),
            ..Default::default()
        })
        .await
        .expect("CreateImage");
    let found = ecs
        .describe_images(&DescribeImagesRequest {
            image_id: Some(made.image_id.clone()),
            status: vec![ImageStatus::Creating],
            ..Default::default()
        })
        .await
        .expect("DescribeImages");
    assert_eq!(found.images.image[0].boot_mode, "UEFI-Preferred");

    // Over HTTP.
    let http = reqwest::Client::new();
    let url = format!("{}/__sim/images/{UBUNTU}/boot-mode", sim.endpoint());
    let resp = http
        .post(&url)
        .json(&serde_json::json!({"boot_mode": "UEFI"}))
        .send()
        .await
        .expect("admin POST");
    assert_eq!(resp.status(), 200);
    assert_eq!(boot_mode(UBUNTU).await, "UEFI");
    let resp = http
        .post(&url)
        .json(&serde_json::json!({"boot_mode": "Legacy"}))
        .send()
        .await
        .expect("admin POST");
    assert_eq!(resp.status(), 400);
    assert_eq!(
        boot_mode(UBUNTU).await,
        "UEFI",
        "a refused change changes nothing"
    );
}

#[tokio::test]
async fn a_dry_run_passes_only_what_a_launch_would() {
    let (sim, clock) = sim().await;
    let client = client(&sim, &clock);
    let ecs = client.ecs();
    let admin = sim.admin();
    let refused = |req: RunInstancesRequest| {
        let ecs = client.ecs();
        async move { refusal(ecs.run_instances_dry_run(&req).await.expect_err("refused")) }
    };

    // Passes: DryRunOperation, which the client reads as Ok; nothing is launched.
    let instances = admin.state().instances.len();
    ecs.run_instances_dry_run(&launch(UBUNTU, "ecs.g7.large"))
        .await
        .expect("an x86 BIOS image on g7");
    ecs.run_instances_dry_run(&RunInstancesRequest {
        system_disk_size: None,
        system_disk_category: None,
        vswitch_id: None,
        zone_id: None,
        amount: Some(3),
        min_amount: Some(2),
        key_pair_name: Some("reimage-demo".into()),
        security_group_ids: vec!["sg-a1".into(), "sg-a2".into()],
        ..launch(ARM, "ecs.g8y.xlarge")
    })
    .await
    .expect("an ARM image on g8y, with the defaults");
    assert_eq!(admin.state().instances.len(), instances);
    assert_eq!(admin.calls_since_reset("RunInstances"), 2);

    // The image: unknown, not Available.
    assert_eq!(
        refused(launch("m-doesnotexist", "ecs.g7.large")).await,
        (404, "InvalidImageId.NotFound".into())
    );
    let made = ecs
        .create_image(&CreateImageRequest {
            instance_id: Some(WEB.into()),
            image_name: Some("web-new".into()),
            ..Default::default()
        })
        .await
        .expect("CreateImage");
    assert_eq!(
        refused(launch(&made.image_id, "ecs.g7.large")).await,
        (403, "OperationDenied.ImageNotValid".into())
    );
    clock.advance(Duration::from_secs(100));
    ecs.run_instances_dry_run(&launch(&made.image_id, "ecs.g7.large"))
        .await
        .expect("Available now");

    // The instance type: unknown, of another architecture, refused by the admin interface.
    assert_eq!(
        refused(launch(UBUNTU, "ecs.nope.large")).await,
        (400, "InvalidInstanceType.ValueNotSupported".into())
    );
    assert_eq!(
        refused(launch(UBUNTU, "ecs.g8y.large")).await,
        (403, "ImageNotSupportInstanceType".into())
    );
    assert_eq!(
        refused(launch(ARM, "ecs.g7.large")).await,
        (403, "ImageNotSupportInstanceType".into())
    );
    admin
        .restrict_image_types(UBUNTU, &["ecs.c7.large"])
        .expect("restrict");
    assert_eq!(
        refused(launch(UBUNTU, "ecs.c7.large")).await,
        (403, "ImageNotSupportInstanceType".into())
    );
    admin.restrict_image_types(UBUNTU, &[]).expect("lift");
    ecs.run_instances_dry_run(&launch(UBUNTU, "ecs.c7.large"))
        .await
        .expect("lifted");

    // The boot mode: a BIOS image on a UEFI-only x86 type, a UEFI one on a BIOS-only type.
    assert_eq!(
        refused(launch(UBUNTU, "ecs.g8i.large")).await,
        (400, "InvalidParameter.Conflict".into())
    );
    admin.set_image_boot_mode(BIG, "UEFI").expect("UEFI");
    assert_eq!(
        refused(RunInstancesRequest {
            system_disk_size: Some(60),
            ..launch(BIG, "ecs.g6.large")
        })
        .await,
        (400, "InvalidParameter.Conflict".into())
    );
    admin
        .set_image_boot_mode(UBUNTU, "UEFI-Preferred")
        .expect("dual boot");
    for on in ["ecs.g8i.large", "ecs.g6.large", "ecs.g7.large"] {
        ecs.run_instances_dry_run(&launch(UBUNTU, on))
            .await
            .unwrap_or_else(|e| panic!("a dual-boot image on {on}: {e:?}"));
    }

    // The system disk: smaller than the image.
    assert_eq!(
        refused(RunInstancesRequest {
            system_disk_size: Some(59),
            ..launch(BIG, "ecs.g8i.large")
        })
        .await,
        (404, "InvalidSystemDiskSize.LessThanImageSize".into())
    );
    ecs.run_instances_dry_run(&RunInstancesRequest {
        system_disk_size: Some(60),
        ..launch(BIG, "ecs.g8i.large")
    })
    .await
    .expect("the image's size fits");
    ecs.run_instances_dry_run(&RunInstancesRequest {
        system_disk_size: None,
        ..launch(BIG, "ecs.g8i.large")
    })
    .await
    .expect("without a size the disk is the image's");
    // An enterprise SSD's size range follows its performance level (PL3: 1261 GiB at least).
    assert_eq!(
        refused(RunInstancesRequest {
            system_disk_performance_level: Some("PL3".into()),
            ..launch(UBUNTU, "ecs.g7.large")
        })
        .await,
        (404, "InvalidSystemDiskSize.LessThanMinSize".into())
    );
    ecs.run_instances_dry_run(&RunInstancesRequest {
        system_disk_performance_level: Some("PL0".into()),
        ..launch(UBUNTU, "ecs.g7.large")
    })
    .await
    .expect("PL0 takes 40 GiB");
    assert_eq!(
        refused(RunInstancesRequest {
            system_disk_category: Some("cloud_essd_entry".into()),
            ..launch(UBUNTU, "ecs.g7.large")
        })
        .await,
        (403, "InvalidDiskCategory.NotSupported".into())
    );

    // The stock.
    admin
        .set_out_of_stock("ecs.g7.large", true)
        .expect("out of stock");
    assert_eq!(
        refused(launch(UBUNTU, "ecs.g7.large")).await,
        (403, "OperationDenied.NoStock".into())
    );
    ecs.run_instances_dry_run(&launch(UBUNTU, "ecs.g7.xlarge"))
        .await
        .expect("another type has stock");
    admin
        .set_out_of_stock("ecs.g7.large", false)
        .expect("in stock");
    ecs.run_instances_dry_run(&launch(UBUNTU, "ecs.g7.large"))
        .await
        .expect("in stock again");
    let err = admin
        .set_out_of_stock("ecs.nope.large", true)
        .expect_err("not in the catalogue");
    assert_eq!(err.code, "InvalidInstanceType.ValueNotSupported");
    let http = reqwest::Client::new();
    let url = format!(
        "{}/__sim/instance-types/ecs.g7.large/out-of-stock",
        sim.endpoint()
    );
    assert_eq!(http.post(&url).send().await.expect("POST").status(), 200);
    assert_eq!(
        refused(launch(UBUNTU, "ecs.g7.large")).await,
        (403, "OperationDenied.NoStock".into())
    );
    assert_eq!(
        http.delete(&url).send().await.expect("DELETE").status(),
        200
    );
    ecs.run_instances_dry_run(&launch(UBUNTU, "ecs.g7.large"))
        .await
        .expect("in stock over HTTP");

    // A request the client will not send reaches no one.
    let before = admin.calls_since_reset("RunInstances");
    let err = ecs
        .run_instances_dry_run(&RunInstancesRequest {
            security_group_ids: Vec::new(),
            ..launch(UBUNTU, "ecs.g7.large")
        })
        .await
        .expect_err("no security group");
    assert_eq!(err.invalid_parameter(), Some("SecurityGroupId"));
    assert_eq!(admin.calls_since_reset("RunInstances"), before);
}

#[tokio::test]
async fn run_instances_refuses_a_launch_and_what_the_client_never_sends() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let base = [
        ("RegionId", "cn-hangzhou"),
        ("ImageId", UBUNTU),
        ("InstanceType", "ecs.g7.large"),
        ("SecurityGroupId", "sg-bp1simdemo0000001"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut params: Vec<(&str, &str)> = base.to_vec();
        for (k, v) in extra {
            if let Some(slot) = params.iter_mut().find(|(name, _)| name == k) {
                slot.1 = v;
            } else {
                params.push((k, v));
            }
        }
        params
    };

    // Passed checks without DryRun: the sim launches nothing.
    let (status, code, message) = call.err("RunInstances", &base).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "OperationDenied"),
        "{message}"
    );
    assert!(message.contains("DryRun"), "{message}");
    let (status, code, _) = call.err("RunInstances", &with(&[("DryRun", "true")])).await;
    assert_eq!((status, code.as_str()), (400, "DryRunOperation"));
    let state = sim.admin().state();
    assert_eq!(state.instances.len(), Seed::demo().instances.len());

    for (extra, status, want) in [
        (vec![("ImageId", "")], 400, "MissingParameter"),
        (vec![("InstanceType", "")], 400, "MissingParameter"),
        (vec![("SecurityGroupId", "")], 400, "MissingParameter"),
        (
            vec![("RegionId", "cn-beijing")],
            404,
            "InvalidRegionId.NotFound",
        ),
        (
            vec![("LaunchTemplateId", "lt-1")],
            404,
            "InvalidLaunchTemplate.NotFound",
        ),
        (vec![("ImageFamily", "web")], 400, "InvalidParameter"),
        (vec![("Amount", "0")], 403, "InvalidParam.Amount"),
        (vec![("Amount", "101")], 403, "InvalidParam.Amount"),
        (
            vec![("Amount", "2"), ("MinAmount", "3")],
            400,
            "InvalidMinAmount.Malformed",
        ),
        (
            vec![("SystemDisk.Category", "ssd")],
            400,
            "InvalidSystemDiskCategory.ValueNotSupported",
        ),
        (
            vec![("SystemDisk.Size", "19")],
            404,
            "InvalidSystemDiskSize.LessThanMinSize",
        ),
        (
            vec![("SystemDisk.Size", "forty")],
            400,
            "InvalidSystemDiskSize.ValueNotSupported",
        ),
        (
            vec![("SystemDisk.Size", "2049")],
            403,
            "InvalidDisk.SystemDiskSize",
        ),
        (
            vec![("SystemDisk.Category", "cloud"), ("SystemDisk.Size", "501")],
            403,
            "InvalidDisk.SystemDiskSize",
        ),
        (
            vec![
                ("SystemDisk.Category", "cloud_essd"),
                ("SystemDisk.PerformanceLevel", "PL2"),
                ("SystemDisk.Size", "100"),
            ],
            404,
            "InvalidSystemDiskSize.LessThanMinSize",
        ),
        (
            vec![("SecurityGroupIds.1", "sg-2")],
            400,
            "InvalidParameter.Conflict",
        ),
        (
            vec![("SecurityGroupId", "default")],
            404,
            "InvalidSecurityGroupId.NotFound",
        ),
        (
            vec![("VSwitchId", "subnet-1")],
            404,
            "InvalidVSwitchId.NotFound",
        ),
        (
            vec![("ZoneId", "cn-beijing-a")],
            404,
            "InvalidZoneId.NotFound",
        ),
        (
            vec![("Password", "Abcdefg1"), ("PasswordInherit", "true")],
            400,
            "InvalidPasswordParam.Mismatch",
        ),
        (
            vec![("Password", "short")],
            400,
            "InvalidPassword.Malformed",
        ),
        (vec![("DryRun", "maybe")], 400, "InvalidParameter"),
    ] {
        let mut params = with(&extra);
        params.retain(|(_, v)| !v.is_empty());
        params.push(("DryRun", "true"));
        if extra.iter().any(|(k, _)| *k == "DryRun") {
            params.pop();
        }
        let (got_status, got_code, _) = call.err("RunInstances", &params).await;
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, want),
            "{params:?}"
        );
    }
    // ESSD PL0 and AutoPL take small disks: then only the image's size stops them.
    for extra in [
        vec![
            ("SystemDisk.Category", "cloud_essd"),
            ("SystemDisk.PerformanceLevel", "PL0"),
            ("SystemDisk.Size", "10"),
        ],
        vec![
            ("SystemDisk.Category", "cloud_auto"),
            ("SystemDisk.Size", "10"),
        ],
    ] {
        let mut params = with(&extra);
        params.push(("DryRun", "true"));
        let (status, code, _) = call.err("RunInstances", &params).await;
        assert_eq!(
            (status, code.as_str()),
            (404, "InvalidSystemDiskSize.LessThanImageSize"),
            "{params:?}"
        );
    }
}
