//! Launch templates through reimage's ECS client: templates and versions made, listed (in
//! pages), given a new default and deleted, each documented refusal, RunInstances' dry run
//! from a template, the region's template versions and their images at the page sizes, and
//! templates seeded by the admin interface and by a seed file. Refusals the client never
//! sends are checked with raw signed calls.

use std::sync::Arc;

use reimage_cloud::aliyun::Tag;
use reimage_cloud::aliyun::ecs::{
    CreateLaunchTemplateRequest, CreateLaunchTemplateVersionRequest, DeleteLaunchTemplateRequest,
    DeleteLaunchTemplateVersionRequest, DescribeLaunchTemplateVersionsRequest,
    DescribeLaunchTemplatesRequest, LaunchTemplateData, LaunchTemplateRef,
    ModifyLaunchTemplateDefaultVersionRequest,
};
use reimage_cloud::clock::ManualClock;
use reimage_sim::Sim;
use reimage_sim::seed::{Seed, SeedLaunchTemplate, SeedTag, SeedTemplateVersion};

use crate::common::{Call, client, refusal, t0};

const UBUNTU: &str = "ubuntu_22_04_x64_20G_alibase_20240101.vhd";
const ALINUX: &str = "aliyun_3_x64_20G_alibase_20240101.vhd";

async fn sim_with(seed: Seed) -> (Sim, ManualClock) {
    let clock = ManualClock::new(t0());
    let sim = Sim::builder()
        .clock(Arc::new(clock.clone()))
        .image_seconds(100)
        .seed(seed)
        .start()
        .await
        .expect("sim starts");
    (sim, clock)
}

fn data(image: &str) -> LaunchTemplateData {
    LaunchTemplateData {
        image_id: Some(image.into()),
        instance_type: Some("ecs.g7.large".into()),
        security_group_id: Some("sg-bp1simdemo0000001".into()),
        vswitch_id: Some("vsw-bp1simdemo0000001".into()),
        system_disk_category: Some("cloud_essd".into()),
        system_disk_size: Some(40),
        ..Default::default()
    }
}

#[tokio::test]
async fn templates_and_versions_are_made_listed_given_a_default_and_deleted() {
    let (sim, clock) = sim_with(Seed::demo()).await;
    let ecs_client = client(&sim, &clock);
    let ecs = ecs_client.ecs();
    let made = ecs
        .create_launch_template(&CreateLaunchTemplateRequest {
            launch_template_name: "web".into(),
            template_tags: vec![Tag::new("team", "web")],
            data: LaunchTemplateData {
                version_description: Some("first".into()),
                ..data(UBUNTU)
            },
        })
        .await
        .expect("created");
    assert!(made.launch_template_id.starts_with("lt-"), "{made:?}");
    assert_eq!(made.launch_template_version_number, 1);
    let id = LaunchTemplateRef::Id(made.launch_template_id.clone());
    let second = ecs
        .create_launch_template_version(&CreateLaunchTemplateVersionRequest {
            template: LaunchTemplateRef::Name("web".into()),
            data: data(ALINUX),
        })
        .await
        .expect("a second version");
    assert_eq!(
        (
            second.launch_template_id.as_str(),
            second.launch_template_version_number
        ),
        (made.launch_template_id.as_str(), 2)
    );

    let templates = ecs
        .describe_launch_templates_all(&DescribeLaunchTemplatesRequest {
            template_tags: vec![Tag::new("team", "web")],
            ..Default::default()
        })
        .await
        .expect("listed");
    assert_eq!(templates.len(), 1);
    let t = &templates[0];
    assert_eq!(
        (
            t.launch_template_name.as_str(),
            t.default_version_number,
            t.latest_version_number,
            t.created_by.as_str()
        ),
        ("web", 1, 2, "1234567890123456")
    );
    assert_eq!(t.tags.tag[0].tag_value, "web");
    assert_eq!(t.create_time, "2026-03-01T09:00:00Z");

    let versions = ecs
        .describe_launch_template_versions_all(&DescribeLaunchTemplateVersionsRequest {
            template: id.clone(),
            ..Default::default()
        })
        .await
        .expect("versions");
    type Shown<'a> = (i64, bool, Option<&'a str>, Option<u32>, Option<&'a str>);
    let shown: Vec<Shown> = versions
        .iter()
        .map(|v| {
            (
                v.version_number,
                v.default_version,
                v.launch_template_data.image_id.as_deref(),
                v.launch_template_data.system_disk_size,
                v.launch_template_data.system_disk_category.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (1, true, Some(UBUNTU), Some(40), Some("cloud_essd")),
            (2, false, Some(ALINUX), Some(40), Some("cloud_essd"))
        ]
    );
    assert_eq!(versions[0].version_description, "first");
    assert_eq!(
        versions[0]
            .launch_template_data
            .security_group_id
            .as_deref(),
        Some("sg-bp1simdemo0000001")
    );
    let brief = ecs
        .describe_launch_template_versions(&DescribeLaunchTemplateVersionsRequest {
            template: id.clone(),
            detail_flag: Some(false),
            default_version: true,
            ..Default::default()
        })
        .await
        .expect("the default version, without its data");
    let only = &brief
        .launch_template_version_sets
        .launch_template_version_set;
    assert_eq!(
        (only.len(), only[0].version_number),
        (1, 1),
        "DefaultVersion=true"
    );
    assert_eq!(
        only[0].launch_template_data.image_id, None,
        "DetailFlag=false"
    );

    // The default version cannot be deleted; another can, once it is no longer the default.
    let (status, code) = refusal(
        ecs.delete_launch_template_version(&DeleteLaunchTemplateVersionRequest {
            template: id.clone(),
            versions: vec![1],
        })
        .await
        .expect_err("the default version"),
    );
    assert_eq!(
        (status, code.as_str()),
        (403, "InvalidOperation.DeleteDefaultVersion")
    );
    let (status, code) = refusal(
        ecs.modify_launch_template_default_version(&ModifyLaunchTemplateDefaultVersionRequest {
            template: id.clone(),
            default_version_number: 7,
        })
        .await
        .expect_err("no version 7"),
    );
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidLaunchTemplateVersion.NotFound")
    );
    ecs.modify_launch_template_default_version(&ModifyLaunchTemplateDefaultVersionRequest {
        template: id.clone(),
        default_version_number: 2,
    })
    .await
    .expect("version 2 becomes the default");
    let deleted = ecs
        .delete_launch_template_version(&DeleteLaunchTemplateVersionRequest {
            template: id.clone(),
            versions: vec![1],
        })
        .await
        .expect("version 1 deleted");
    let gone = &deleted.launch_template_versions.launch_template_version;
    assert_eq!((gone.len(), gone[0].launch_template_version_number), (1, 1));
    let third = ecs
        .create_launch_template_version(&CreateLaunchTemplateVersionRequest {
            template: id.clone(),
            data: data(UBUNTU),
        })
        .await
        .expect("a third version");
    assert_eq!(
        third.launch_template_version_number, 3,
        "numbers are never given twice"
    );

    let removed = ecs
        .delete_launch_template(&DeleteLaunchTemplateRequest {
            template: LaunchTemplateRef::Name("web".into()),
        })
        .await
        .expect("deleted");
    assert_eq!(
        removed.launch_template_version_numbers.version_numbers,
        [2, 3]
    );
    let (status, code) = refusal(
        ecs.describe_launch_template_versions(&DescribeLaunchTemplateVersionsRequest {
            template: id,
            ..Default::default()
        })
        .await
        .expect_err("gone"),
    );
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidLaunchTemplate.NotFound")
    );
    assert!(
        ecs.launch_template_images()
            .await
            .expect("none left")
            .is_empty()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_documented_refusals_of_the_template_operations() {
    let (sim, clock) = sim_with(Seed::demo()).await;
    let call = Call::new(&sim, &clock);
    let region = ("RegionId", "cn-hangzhou");
    let create = |name: &'static str| {
        vec![
            region,
            ("LaunchTemplateName", name),
            ("ImageId", UBUNTU),
            ("SystemDisk.Size", "40"),
        ]
    };
    let (_, body) = call.send("CreateLaunchTemplate", &create("web")).await;
    let id = body["LaunchTemplateId"]
        .as_str()
        .expect("created")
        .to_owned();
    for (action, params, want) in [
        (
            "CreateLaunchTemplate",
            create("1-starts-with-a-digit"),
            (400, "InvalidLaunchTemplateName.Malformed"),
        ),
        (
            "CreateLaunchTemplate",
            create("web"),
            (403, "LaunchTemplateName.Duplicated"),
        ),
        (
            "CreateLaunchTemplate",
            vec![
                region,
                ("LaunchTemplateName", "other"),
                ("VersionDescription", "x"),
            ],
            (400, "InvalidDescription.Malformed"),
        ),
        (
            "CreateLaunchTemplate",
            vec![
                region,
                ("LaunchTemplateName", "other"),
                ("TemplateTag.1.Key", "acs:x"),
            ],
            (400, "InvalidTagKey.Malformed"),
        ),
        (
            "DescribeLaunchTemplateVersions",
            vec![region],
            (400, "MissingParameter"),
        ),
        (
            "DescribeLaunchTemplateVersions",
            vec![region, ("LaunchTemplateId", "lt-doesnotexist")],
            (404, "InvalidLaunchTemplate.NotFound"),
        ),
        (
            "DescribeLaunchTemplateVersions",
            vec![
                region,
                ("LaunchTemplateId", id.as_str()),
                ("LaunchTemplateName", "other"),
            ],
            (404, "InvalidLaunchTemplate.NotFound"),
        ),
        (
            "DescribeLaunchTemplateVersions",
            vec![
                region,
                ("LaunchTemplateId", id.as_str()),
                ("PageSize", "51"),
            ],
            (400, "InvalidParameter"),
        ),
        (
            "DeleteLaunchTemplateVersion",
            vec![
                region,
                ("LaunchTemplateId", id.as_str()),
                ("DeleteVersion.1", "5"),
            ],
            (404, "InvalidLaunchTemplateVersion.NotFound"),
        ),
        (
            "DeleteLaunchTemplateVersion",
            vec![region, ("LaunchTemplateId", id.as_str())],
            (400, "MissingParameter"),
        ),
        (
            "ModifyLaunchTemplateDefaultVersion",
            vec![region, ("LaunchTemplateId", id.as_str())],
            (400, "MissingParameter"),
        ),
        (
            "DeleteLaunchTemplate",
            vec![region, ("LaunchTemplateName", "nope")],
            (404, "InvalidLaunchTemplate.NotFound"),
        ),
    ] {
        let (status, code, _) = call.err(action, &params).await;
        assert_eq!((status, code.as_str()), want, "{action} {params:?}");
    }

    // 30 versions a template, 30 templates a region.
    for _ in 2..=30 {
        call.ok(
            "CreateLaunchTemplateVersion",
            &[region, ("LaunchTemplateId", &id), ("ImageId", ALINUX)],
        )
        .await;
    }
    let (status, code, _) = call
        .err(
            "CreateLaunchTemplateVersion",
            &[region, ("LaunchTemplateId", &id), ("ImageId", ALINUX)],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (403, "LaunchTemplateVersionLimitExceed")
    );
    for n in 2..=30 {
        let name = format!("web-{n}");
        call.ok(
            "CreateLaunchTemplate",
            &[region, ("LaunchTemplateName", &name)],
        )
        .await;
    }
    let (status, code, _) = call
        .err(
            "CreateLaunchTemplate",
            &[region, ("LaunchTemplateName", "one-too-many")],
        )
        .await;
    assert_eq!((status, code.as_str()), (403, "LaunchTemplateLimitExceed"));
    let page = call
        .ok(
            "DescribeLaunchTemplates",
            &[region, ("PageSize", "50"), ("PageNumber", "1")],
        )
        .await;
    assert_eq!(page["TotalCount"], 30);
    assert_eq!(
        page["LaunchTemplateSets"]["LaunchTemplateSet"][0]["LatestVersionNumber"],
        30
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn every_version_of_every_template_and_its_image_are_read_at_the_page_sizes() {
    let (sim, clock) = sim_with(Seed::demo()).await;
    let admin = sim.admin();
    // More templates than a page holds (the admin interface is not held to the quota), each
    // with three versions; the second names no image.
    for n in 1..=60 {
        admin
            .create_launch_template(&SeedLaunchTemplate {
                launch_template_name: format!("fleet-{n}"),
                versions: vec![
                    SeedTemplateVersion::of_image(UBUNTU),
                    SeedTemplateVersion::default(),
                    SeedTemplateVersion::of_image(format!("m-fleet{n:04}")),
                ],
                default_version: Some(3),
                ..Default::default()
            })
            .expect("seeded");
    }
    admin.reset_calls();
    let ecs_client = client(&sim, &clock);
    let images = ecs_client
        .ecs()
        .launch_template_images()
        .await
        .expect("read");
    assert_eq!(images.len(), 180);
    assert_eq!(
        admin.calls_since_reset("DescribeLaunchTemplates"),
        2,
        "60 templates, 50 a page"
    );
    assert_eq!(
        admin.calls_since_reset("DescribeLaunchTemplateVersions"),
        60,
        "one call per template"
    );
    let seventh: Vec<(i64, bool, &str)> = images
        .iter()
        .filter(|i| i.launch_template_name == "fleet-7")
        .map(|i| (i.version_number, i.default_version, i.image_id.as_str()))
        .collect();
    assert_eq!(
        seventh,
        [(1, false, UBUNTU), (2, false, ""), (3, true, "m-fleet0007")]
    );
    let state = admin.state();
    assert_eq!(state.launch_templates.len(), 60);
    assert_eq!(
        state.launch_templates[6].versions[2],
        (3, Some("m-fleet0007".to_owned()))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn run_instances_launches_from_a_template_version_unless_the_request_overrides_it() {
    let (sim, clock) = sim_with(Seed::demo()).await;
    let admin = sim.admin();
    let id = admin
        .create_launch_template(&SeedLaunchTemplate {
            launch_template_name: "web".into(),
            versions: vec![
                SeedTemplateVersion {
                    instance_type: Some("ecs.g7.large".into()),
                    security_group_id: Some("sg-bp1simdemo0000001".into()),
                    vswitch_id: Some("vsw-bp1simdemo0000001".into()),
                    system_disk_size: Some(40),
                    ..SeedTemplateVersion::of_image(UBUNTU)
                },
                SeedTemplateVersion {
                    instance_type: Some("ecs.g7.large".into()),
                    security_group_id: Some("sg-bp1simdemo0000001".into()),
                    system_disk_size: Some(10),
                    ..SeedTemplateVersion::of_image(UBUNTU)
                },
            ],
            ..Default::default()
        })
        .expect("seeded");
    let call = Call::new(&sim, &clock);
    let launch = |extra: &[(&'static str, &'static str)]| {
        let mut params = vec![
            ("RegionId", "cn-hangzhou"),
            ("LaunchTemplateName", "web"),
            ("DryRun", "true"),
        ];
        params.extend_from_slice(extra);
        params
    };
    for (extra, want) in [
        (vec![], "DryRunOperation"),
        (
            vec![("InstanceType", "ecs.not.a.type")],
            "InvalidInstanceType.ValueNotSupported",
        ),
        (
            vec![("LaunchTemplateVersion", "2")],
            "InvalidSystemDiskSize.LessThanMinSize",
        ),
        (
            vec![("LaunchTemplateVersion", "9")],
            "InvalidLaunchTemplateVersion.NotFound",
        ),
    ] {
        let (_, code, _) = call.err("RunInstances", &launch(&extra)).await;
        assert_eq!(code, want, "{extra:?}");
    }
    let (status, code, _) = call
        .err(
            "RunInstances",
            &[
                ("RegionId", "cn-hangzhou"),
                ("LaunchTemplateId", "lt-doesnotexist"),
                ("DryRun", "true"),
            ],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidLaunchTemplate.NotFound")
    );
    let (_, code, _) = call
        .err(
            "RunInstances",
            &[
                ("RegionId", "cn-hangzhou"),
                ("LaunchTemplateId", id.as_str()),
                ("SecurityGroupIds.1", "sg-bp1simdemo0000002"),
                ("DryRun", "true"),
            ],
        )
        .await;
    assert_eq!(
        code, "DryRunOperation",
        "the request's security groups replace the version's"
    );
    assert!(id.starts_with("lt-"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_seed_file_holds_templates_and_the_http_admin_adds_them() {
    let mut seed = Seed::demo();
    seed.launch_templates.push(SeedLaunchTemplate {
        launch_template_id: Some("lt-bp1seeded0000001".into()),
        launch_template_name: "seeded".into(),
        versions: vec![
            SeedTemplateVersion::of_image(UBUNTU),
            SeedTemplateVersion::of_image(ALINUX),
        ],
        default_version: Some(2),
        tags: vec![SeedTag::new("team", "web")],
    });
    let text = seed.to_json_pretty();
    let back = Seed::from_json(&text).expect("the seed round-trips");
    assert_eq!(back, seed);
    let mut broken = seed.clone();
    broken.launch_templates[0].default_version = Some(3);
    let err = broken.validate().expect_err("no version 3");
    assert!(err.to_string().contains("default_version 3"), "{err}");
    let mut twice = seed.clone();
    twice
        .launch_templates
        .push(twice.launch_templates[0].clone());
    assert!(twice.validate().is_err());

    let (sim, clock) = sim_with(seed).await;
    let call = Call::new(&sim, &clock);
    let versions = call
        .ok(
            "DescribeLaunchTemplateVersions",
            &[
                ("RegionId", "cn-hangzhou"),
                ("LaunchTemplateId", "lt-bp1seeded0000001"),
                ("DefaultVersion", "true"),
            ],
        )
        .await;
    let set = &versions["LaunchTemplateVersionSets"]["LaunchTemplateVersionSet"];
    assert_eq!(set[0]["VersionNumber"], 2);
    assert_eq!(set[0]["LaunchTemplateData"]["ImageId"], ALINUX);

    let http = reqwest::Client::new();
    let answer: serde_json::Value = http
        .post(format!("{}/__sim/launch-templates", sim.endpoint()))
        .json(&serde_json::json!({
            "launch_template_name": "over-http",
            "versions": [{"image_id": UBUNTU, "system_disk_size": 40}],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer["LaunchTemplateId"].as_str().expect("an id");
    let listed = call
        .ok(
            "DescribeLaunchTemplates",
            &[("RegionId", "cn-hangzhou"), ("LaunchTemplateId.1", id)],
        )
        .await;
    assert_eq!(
        listed["LaunchTemplateSets"]["LaunchTemplateSet"][0]["LaunchTemplateName"],
        "over-http"
    );
    let refused = http
        .post(format!("{}/__sim/launch-templates", sim.endpoint()))
        .json(&serde_json::json!({"launch_template_name": "over-http", "versions": [{}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403, "the name is taken");
    sim.shutdown().await;
}
