//! Tags (TagResources, UntagResources, ListTagResources, DescribeInstances' `Tag.N`) and
//! DescribeImageSupportInstanceTypes, through reimage's own ECS client; the refusals the
//! client never sends are checked with raw signed calls.

use std::sync::Arc;

use reimage_cloud::aliyun::ecs::{
    DescribeImageSupportInstanceTypesRequest, DescribeImagesRequest, DescribeInstancesRequest,
    ImageActionType, ImageStatus, ListTagResourcesRequest, TagFilter, TagResource, TagResourceType,
    TagResourcesRequest, UntagResourcesRequest,
};
use reimage_cloud::aliyun::{Error, Tag};
use reimage_cloud::clock::ManualClock;
use reimage_sim::Sim;
use reimage_sim::seed::{Seed, SeedImage};

use crate::common::{Call, client, refusal, sim, t0};

const WEB: &str = "i-bp1demoweb000000001";
const API: &str = "i-bp1demoapi000000001";
const BATCH: &str = "i-bp1demobatch0000001";
const UBUNTU: &str = "ubuntu_22_04_x64_20G_alibase_20240101.vhd";

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn rows(list: &[TagResource]) -> Vec<(&str, &str, &str)> {
    list.iter()
        .map(|r| {
            (
                r.resource_id.as_str(),
                r.tag_key.as_str(),
                r.tag_value.as_str(),
            )
        })
        .collect()
}

#[tokio::test]
async fn instances_are_tagged_listed_filtered_and_untagged() {
    let (sim, clock) = sim().await;
    let client = client(&sim, &clock);
    let ecs = client.ecs();
    ecs.tag_resources(&TagResourcesRequest {
        resource_type: TagResourceType::Instance,
        resource_ids: ids(&[WEB, BATCH]),
        tags: vec![Tag::new("team", "web"), Tag::new("env", "prod")],
    })
    .await
    .expect("TagResources");
    // A key the resource has is overwritten, not added twice; a value may be empty.
    ecs.tag_resources(&TagResourcesRequest {
        resource_type: TagResourceType::Instance,
        resource_ids: ids(&[BATCH]),
        tags: vec![Tag::new("env", "staging"), Tag::new("spare", "")],
    })
    .await
    .expect("TagResources again");

    let listed = ecs
        .list_tag_resources(&ListTagResourcesRequest {
            resource_ids: ids(&[WEB, BATCH, API]),
            ..Default::default()
        })
        .await
        .expect("ListTagResources by id");
    assert_eq!(
        rows(&listed.tag_resources.tag_resource),
        [
            (WEB, "team", "web"),
            (WEB, "env", "prod"),
            (BATCH, "team", "web"),
            (BATCH, "env", "staging"),
            (BATCH, "spare", ""),
        ]
    );
    assert!(
        listed
            .tag_resources
            .tag_resource
            .iter()
            .all(|r| r.resource_type == "instance")
    );
    assert_eq!(listed.next_token, "", "one page");

    // Tag.N: exact pairs, a key alone matching any value, ANDed with ResourceId.N.
    let by_pair = ecs
        .list_tag_resources(&ListTagResourcesRequest {
            tags: vec![Tag::new("env", "prod")],
            ..Default::default()
        })
        .await
        .expect("ListTagResources by tag");
    assert!(
        rows(&by_pair.tag_resources.tag_resource)
            .iter()
            .all(|(id, _, _)| *id == WEB)
    );
    let by_key = ecs
        .list_tag_resources_all(&ListTagResourcesRequest {
            tags: vec![Tag::new("team", "")],
            resource_ids: ids(&[BATCH]),
            ..Default::default()
        })
        .await
        .expect("ListTagResources by key and id");
    assert_eq!(by_key.len(), 3);
    // TagFilter.N: a key pattern, or an exact key with value patterns.
    let fuzzy = ecs
        .list_tag_resources(&ListTagResourcesRequest {
            tag_filters: vec![TagFilter {
                tag_key: "env".into(),
                tag_values: vec!["stag*".into()],
            }],
            ..Default::default()
        })
        .await
        .expect("ListTagResources by filter");
    assert!(
        rows(&fuzzy.tag_resources.tag_resource)
            .iter()
            .all(|(id, _, _)| *id == BATCH)
    );
    let prefix = ecs
        .list_tag_resources_all(&ListTagResourcesRequest {
            tag_filters: vec![TagFilter {
                tag_key: "sp*".into(),
                tag_values: Vec::new(),
            }],
            ..Default::default()
        })
        .await
        .expect("ListTagResources by key prefix");
    assert_eq!(
        prefix.len(),
        3,
        "every tag of the one instance with a sp* key"
    );

    // DescribeInstances answers each instance's tags and filters by Tag.N.
    let team = ecs
        .describe_instances_all(&DescribeInstancesRequest {
            tags: vec![Tag::new("team", "web")],
            ..Default::default()
        })
        .await
        .expect("DescribeInstances by tag");
    let found: Vec<&str> = team.iter().map(|i| i.instance_id.as_str()).collect();
    assert_eq!(found, [WEB, BATCH]);
    let web = &team[0];
    let tags: Vec<(&str, &str)> = web
        .tags
        .tag
        .iter()
        .map(|t| (t.tag_key.as_str(), t.tag_value.as_str()))
        .collect();
    assert_eq!(tags, [("team", "web"), ("env", "prod")]);
    let staging = ecs
        .describe_instances(&DescribeInstancesRequest {
            tags: vec![Tag::new("team", "web"), Tag::new("env", "staging")],
            ..Default::default()
        })
        .await
        .expect("DescribeInstances by two tags");
    assert_eq!(staging.total_count, 1);
    assert_eq!(staging.instances.instance[0].instance_id, BATCH);

    // UntagResources: keys (one the instance lacks is no error), then All.
    ecs.untag_resources(&UntagResourcesRequest {
        resource_type: TagResourceType::Instance,
        resource_ids: ids(&[WEB, BATCH]),
        tag_keys: ids(&["env", "never-set"]),
        all: false,
    })
    .await
    .expect("UntagResources by key");
    let left = ecs
        .list_tag_resources_all(&ListTagResourcesRequest {
            resource_ids: ids(&[WEB, BATCH]),
            ..Default::default()
        })
        .await
        .expect("ListTagResources");
    assert_eq!(
        rows(&left),
        [
            (WEB, "team", "web"),
            (BATCH, "team", "web"),
            (BATCH, "spare", "")
        ]
    );
    ecs.untag_resources(&UntagResourcesRequest {
        resource_type: TagResourceType::Instance,
        resource_ids: ids(&[WEB, BATCH]),
        tag_keys: Vec::new(),
        all: true,
    })
    .await
    .expect("UntagResources All");
    let none = ecs
        .list_tag_resources(&ListTagResourcesRequest {
            resource_ids: ids(&[WEB, BATCH]),
            ..Default::default()
        })
        .await
        .expect("ListTagResources");
    assert!(none.tag_resources.tag_resource.is_empty());
    let described = ecs
        .describe_instances(&DescribeInstancesRequest {
            instance_ids: ids(&[WEB]),
            ..Default::default()
        })
        .await
        .expect("DescribeInstances");
    assert!(described.instances.instance[0].tags.tag.is_empty());
}

#[tokio::test]
async fn tagging_is_all_or_nothing_and_a_resource_holds_at_most_twenty_tags() {
    let (sim, clock) = sim().await;
    let client = client(&sim, &clock);
    let ecs = client.ecs();
    let tag = |resource_ids: &[&str], tags: Vec<Tag>| TagResourcesRequest {
        resource_type: TagResourceType::Instance,
        resource_ids: ids(resource_ids),
        tags,
    };
    let err = ecs
        .tag_resources(&tag(
            &[WEB, "i-doesnotexist"],
            vec![Tag::new("team", "web")],
        ))
        .await
        .expect_err("an unknown instance");
    assert_eq!(refusal(err), (404, "InvalidResourceId.NotFound".into()));
    let err = ecs
        .untag_resources(&UntagResourcesRequest {
            resource_type: TagResourceType::Instance,
            resource_ids: ids(&["i-doesnotexist"]),
            all: true,
            ..Default::default()
        })
        .await
        .expect_err("an unknown instance");
    assert_eq!(refusal(err), (404, "InvalidResourceId.NotFound".into()));
    let list = ecs
        .list_tag_resources(&ListTagResourcesRequest {
            resource_ids: ids(&[WEB, "i-doesnotexist"]),
            ..Default::default()
        })
        .await
        .expect("ListTagResources of an unknown id lists nothing");
    assert!(
        list.tag_resources.tag_resource.is_empty(),
        "nothing was tagged"
    );

    let twenty: Vec<Tag> = (1..=20).map(|n| Tag::new(format!("k{n}"), "v")).collect();
    ecs.tag_resources(&tag(&[WEB], twenty.clone()))
        .await
        .expect("twenty tags");
    // At the quota, overwriting is fine; a new key on any resource refuses the whole call.
    ecs.tag_resources(&tag(&[WEB], vec![Tag::new("k1", "w")]))
        .await
        .expect("overwrite at the quota");
    let err = ecs
        .tag_resources(&tag(&[BATCH, WEB], vec![Tag::new("k21", "v")]))
        .await
        .expect_err("a 21st tag");
    assert_eq!(refusal(err), (400, "OperationDenied.QuotaExceed".into()));
    let batch = ecs
        .list_tag_resources(&ListTagResourcesRequest {
            resource_ids: ids(&[BATCH]),
            ..Default::default()
        })
        .await
        .expect("ListTagResources");
    assert!(
        batch.tag_resources.tag_resource.is_empty(),
        "nothing changed"
    );

    // Refused by the client before sending.
    sim.admin().reset_calls();
    let many: Vec<String> = (0..51).map(|n| format!("i-{n}")).collect();
    let err = ecs
        .tag_resources(&TagResourcesRequest {
            resource_ids: many,
            tags: vec![Tag::new("k", "v")],
            ..Default::default()
        })
        .await
        .expect_err("51 ids");
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    let mut twenty_one = twenty;
    twenty_one.push(Tag::new("k21", ""));
    let err = ecs
        .tag_resources(&tag(&[WEB], twenty_one))
        .await
        .expect_err("21 tags");
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    assert_eq!(sim.admin().calls_since_reset("TagResources"), 0);
}

/// A request's parameters.
type Params<'a> = Vec<(&'a str, &'a str)>;

#[tokio::test]
async fn the_documented_refusals_of_the_tag_operations() {
    let (sim, clock) = sim().await;
    let mut call = Call::new(&sim, &clock);
    call.post = true;
    let base = [
        ("RegionId", "cn-hangzhou"),
        ("ResourceType", "instance"),
        ("ResourceId.1", WEB),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        base.iter().chain(extra).copied().collect()
    };
    let owned_ids: Vec<(String, String)> = (1..=51)
        .map(|n| (format!("ResourceId.{n}"), WEB.to_owned()))
        .collect();
    let many_ids: Vec<(&str, &str)> = owned_ids
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([
            ("RegionId", "cn-hangzhou"),
            ("ResourceType", "instance"),
            ("Tag.1.Key", "k"),
        ])
        .collect();
    let owned_tags: Vec<(String, String)> = (1..=21)
        .map(|n| (format!("Tag.{n}.Key"), format!("k{n}")))
        .collect();
    let many_tags: Vec<(&str, &str)> = owned_tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(base)
        .collect();
    let long_key = "k".repeat(129);
    let long_key_params: Vec<(&str, &str)> = base
        .iter()
        .copied()
        .chain([("Tag.1.Key", long_key.as_str())])
        .collect();
    let cases: Vec<(&str, Params, u16, &str)> = vec![
        ("TagResources", with(&[]), 404, "MissingParameter.Tags"),
        (
            "TagResources",
            vec![
                ("ResourceType", "instance"),
                ("ResourceId.1", WEB),
                ("Tag.1.Key", "k"),
            ],
            404,
            "MissingParameter.RegionId",
        ),
        (
            "TagResources",
            vec![
                ("RegionId", "cn-shanghai"),
                ("ResourceType", "instance"),
                ("ResourceId.1", WEB),
                ("Tag.1.Key", "k"),
            ],
            404,
            "InvalidRegionId.NotFound",
        ),
        (
            "TagResources",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ResourceId.1", WEB),
                ("Tag.1.Key", "k"),
            ],
            404,
            "MissingParameter.ResourceType",
        ),
        (
            "TagResources",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "server"),
                ("ResourceId.1", WEB),
                ("Tag.1.Key", "k"),
            ],
            404,
            "InvalidResourceType.NotFound",
        ),
        (
            "TagResources",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "Instance"),
                ("ResourceId.1", WEB),
                ("Tag.1.Key", "k"),
            ],
            404,
            "InvalidResourceType.NotFound",
        ),
        (
            "TagResources",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "instance"),
                ("Tag.1.Key", "k"),
            ],
            400,
            "MissingParameter",
        ),
        ("TagResources", many_ids, 400, "NumberExceed.ResourceIds"),
        ("TagResources", many_tags, 400, "NumberExceed.Tags"),
        (
            "TagResources",
            with(&[("Tag.1.Key", "k"), ("Tag.2.Key", "k")]),
            400,
            "Duplicate.TagKey",
        ),
        (
            "TagResources",
            with(&[("Tag.1.Key", "acs:k")]),
            400,
            "InvalidTagKey.Malformed",
        ),
        (
            "TagResources",
            with(&[("Tag.1.Key", "aliyun.k")]),
            400,
            "InvalidTagKey.Malformed",
        ),
        (
            "TagResources",
            with(&[("Tag.1.Value", "v")]),
            400,
            "InvalidTagKey.Malformed",
        ),
        (
            "TagResources",
            long_key_params,
            400,
            "InvalidTagKey.Malformed",
        ),
        (
            "TagResources",
            with(&[("Tag.1.Key", "k"), ("Tag.1.Value", "see https://x")]),
            400,
            "InvalidTagValue.Malformed",
        ),
        (
            "TagResources",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "image"),
                ("ResourceId.1", UBUNTU),
                ("Tag.1.Key", "k"),
            ],
            403,
            "InvalidResourceId.NotSupported",
        ),
        (
            "TagResources",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "securitygroup"),
                ("ResourceId.1", "sg-1"),
                ("Tag.1.Key", "k"),
            ],
            404,
            "InvalidResourceId.NotFound",
        ),
        ("UntagResources", with(&[]), 404, "MissingParameter.Tags"),
        (
            "UntagResources",
            with(&[("All", "false")]),
            404,
            "MissingParameter.Tags",
        ),
        (
            "UntagResources",
            with(&[("All", "maybe")]),
            400,
            "InvalidParameter",
        ),
        (
            "ListTagResources",
            vec![("RegionId", "cn-hangzhou"), ("ResourceType", "instance")],
            400,
            "MissingParameter",
        ),
        (
            "ListTagResources",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "instance"),
                ("Tag.1.Value", "web"),
            ],
            400,
            "InvalidParameter.TagValue",
        ),
        (
            "ListTagResources",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "instance"),
                ("Tag.1.Key", "a"),
                ("TagFilter.1.TagKey", "b"),
            ],
            400,
            "InvalidParameter",
        ),
        (
            "ListTagResources",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "instance"),
                ("TagFilter.6.TagKey", "b"),
            ],
            400,
            "InvalidParameter",
        ),
        (
            "ListTagResources",
            with(&[("NextToken", "not-a-token")]),
            400,
            "InvalidParameter",
        ),
        (
            "ListTagResources",
            vec![("RegionId", "cn-hangzhou"), ("ResourceId.1", WEB)],
            404,
            "MissingParameter.ResourceType",
        ),
    ];
    for (action, params, status, code) in cases {
        let (got_status, got_code, message) = call.err(action, &params).await;
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{action} {params:?}: {message}"
        );
    }
    // Other documented types are known; the sim holds none of them, so nothing is listed.
    let empty = call
        .ok(
            "ListTagResources",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "eni"),
                ("ResourceId.1", "eni-1"),
            ],
        )
        .await;
    assert_eq!(empty["TagResources"]["TagResource"], serde_json::json!([]));
    assert_eq!(empty["NextToken"], "");
}

#[tokio::test]
async fn list_tag_resources_pages_fifty_rows_with_next_token() {
    let (sim, clock) = sim().await;
    let client = client(&sim, &clock);
    let ecs = client.ecs();
    let all = ecs
        .describe_instances_all(&DescribeInstancesRequest::default())
        .await
        .expect("DescribeInstances");
    let instance_ids: Vec<String> = all.into_iter().map(|i| i.instance_id).collect();
    assert_eq!(instance_ids.len(), 9);
    ecs.tag_resources(&TagResourcesRequest {
        resource_type: TagResourceType::Instance,
        resource_ids: instance_ids.clone(),
        tags: (1..=20)
            .map(|n| Tag::new(format!("k{n:02}"), format!("v{n}")))
            .collect(),
    })
    .await
    .expect("TagResources");
    let req = ListTagResourcesRequest {
        resource_ids: instance_ids.clone(),
        ..Default::default()
    };
    let first = ecs.list_tag_resources(&req).await.expect("first page");
    assert_eq!(first.tag_resources.tag_resource.len(), 50);
    assert!(!first.next_token.is_empty());
    let second = ecs
        .list_tag_resources(&ListTagResourcesRequest {
            next_token: Some(first.next_token.clone()),
            ..req.clone()
        })
        .await
        .expect("second page");
    assert_eq!(
        second.tag_resources.tag_resource[0].resource_id,
        instance_ids[2]
    );
    assert_eq!(second.tag_resources.tag_resource[0].tag_key, "k11");
    let every = ecs.list_tag_resources_all(&req).await.expect("all pages");
    assert_eq!(every.len(), 9 * 20);
    assert_eq!(every[0].resource_id, instance_ids[0]);
    assert_eq!(every[179].resource_id, instance_ids[8]);
    assert_eq!(sim.admin().calls_since_reset("ListTagResources"), 2 + 4);
}

#[tokio::test]
async fn disks_snapshots_and_own_images_take_tags_too() {
    let (sim, clock) = sim().await;
    let client = client(&sim, &clock);
    let ecs = client.ecs();
    let call = Call::new(&sim, &clock);
    let image = call
        .ok(
            "CreateImage",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", WEB),
                ("ImageName", "tagged-1"),
            ],
        )
        .await["ImageId"]
        .as_str()
        .unwrap()
        .to_owned();
    for (kind, id) in [
        (TagResourceType::Disk, "d-bp1demowebsys000001"),
        (TagResourceType::Image, image.as_str()),
    ] {
        ecs.tag_resources(&TagResourcesRequest {
            resource_type: kind,
            resource_ids: ids(&[id]),
            tags: vec![Tag::new("reimage:task", "web")],
        })
        .await
        .unwrap_or_else(|e| panic!("TagResources {kind:?}: {e:?}"));
        let listed = ecs
            .list_tag_resources(&ListTagResourcesRequest {
                resource_type: kind,
                tags: vec![Tag::new("reimage:task", "web")],
                ..Default::default()
            })
            .await
            .expect("ListTagResources");
        let got: Vec<(&str, &str)> = listed
            .tag_resources
            .tag_resource
            .iter()
            .map(|r| (r.resource_type.as_str(), r.resource_id.as_str()))
            .collect();
        assert_eq!(got, [(kind.as_str(), id)]);
    }
    let raw = call
        .ok(
            "DescribeDisks",
            &[
                ("RegionId", "cn-hangzhou"),
                ("DiskIds", "[\"d-bp1demowebsys000001\"]"),
            ],
        )
        .await;
    assert_eq!(
        raw["Disks"]["Disk"][0]["Tags"]["Tag"][0]["TagKey"],
        "reimage:task"
    );
    let images = ecs
        .describe_images(&DescribeImagesRequest {
            image_id: Some(image.clone()),
            status: ImageStatus::ALL.to_vec(),
            ..Default::default()
        })
        .await
        .expect("DescribeImages");
    assert_eq!(images.images.image[0].tags.tag[0].tag_value, "web");
    // The snapshots the image was made of.
    let snapshot = call
        .ok(
            "DescribeSnapshots",
            &[("RegionId", "cn-hangzhou"), ("InstanceId", WEB)],
        )
        .await["Snapshots"]["Snapshot"][0]["SnapshotId"]
        .as_str()
        .unwrap()
        .to_owned();
    ecs.tag_resources(&TagResourcesRequest {
        resource_type: TagResourceType::Snapshot,
        resource_ids: vec![snapshot.clone()],
        tags: vec![Tag::new("keep", "yes")],
    })
    .await
    .expect("TagResources snapshot");
    let snaps = call
        .ok(
            "DescribeSnapshots",
            &[
                ("RegionId", "cn-hangzhou"),
                ("Tag.1.Key", "keep"),
                ("Tag.1.Value", "yes"),
            ],
        )
        .await;
    assert_eq!(
        snaps["Snapshots"]["Snapshot"][0]["SnapshotId"],
        snapshot.as_str()
    );
    assert_eq!(snaps["TotalCount"], 1);

    // A released instance's tags go with it.
    ecs.tag_resources(&TagResourcesRequest {
        resource_type: TagResourceType::Instance,
        resource_ids: ids(&[API]),
        tags: vec![Tag::new("team", "api")],
    })
    .await
    .expect("TagResources");
    sim.admin().release_instance(API).expect("release");
    let gone = ecs
        .list_tag_resources(&ListTagResourcesRequest {
            tags: vec![Tag::new("team", "")],
            ..Default::default()
        })
        .await
        .expect("ListTagResources");
    assert!(gone.tag_resources.tag_resource.is_empty());
}

/// The demo region with an arm64 and an i386 image.
async fn sim_with_more_architectures() -> (Sim, ManualClock) {
    let clock = ManualClock::new(t0());
    let mut seed = Seed::demo();
    for (id, architecture) in [("arm_image_1", "arm64"), ("x86_32_image_1", "i386")] {
        seed.images.push(SeedImage {
            image_id: id.into(),
            image_name: id.into(),
            image_owner_alias: "system".into(),
            os_type: "linux".into(),
            platform: "Ubuntu".into(),
            size: 20,
            architecture: architecture.into(),
        });
    }
    let sim = Sim::builder()
        .clock(Arc::new(clock.clone()))
        .seed(seed)
        .start()
        .await
        .expect("sim starts");
    (sim, clock)
}

#[tokio::test]
async fn an_image_runs_on_the_types_of_its_architecture() {
    let (sim, clock) = sim_with_more_architectures().await;
    let client = client(&sim, &clock);
    let ecs = client.ecs();
    let support = |image: &str, action_type| DescribeImageSupportInstanceTypesRequest {
        image_id: image.into(),
        action_type,
    };
    let x86 = ecs
        .describe_image_support_instance_types(&support(UBUNTU, None))
        .await
        .expect("x86_64 image");
    assert_eq!(
        (x86.image_id.as_str(), x86.region_id.as_str()),
        (UBUNTU, "cn-hangzhou")
    );
    assert!(x86.supports("ecs.g7.large") && x86.supports("ecs.c7.xlarge"));
    assert!(!x86.supports("ecs.g8y.large"));
    let g7 = x86
        .instance_types
        .instance_type
        .iter()
        .find(|t| t.instance_type_id == "ecs.g7.large")
        .expect("ecs.g7.large");
    assert_eq!(
        (
            g7.cpu_core_count,
            g7.memory_size,
            g7.instance_type_family.as_str()
        ),
        (2, 8.0, "ecs.g7")
    );
    // Every instance of the demo runs on a type its image supports.
    for instance in ecs
        .describe_instances_all(&DescribeInstancesRequest::default())
        .await
        .expect("DescribeInstances")
    {
        let types = ecs
            .describe_image_support_instance_types(&support(&instance.image_id, None))
            .await
            .expect("the instance's image");
        assert!(
            types.supports(&instance.instance_type),
            "{}",
            instance.instance_id
        );
    }

    let arm = ecs
        .describe_image_support_instance_types(&support(
            "arm_image_1",
            Some(ImageActionType::ChangeOs),
        ))
        .await
        .expect("arm64 image");
    let families: Vec<&str> = arm
        .instance_types
        .instance_type
        .iter()
        .map(|t| t.instance_type_family.as_str())
        .collect();
    assert!(
        !families.is_empty() && families.iter().all(|f| ["ecs.g8y", "ecs.c8y"].contains(f)),
        "{families:?}"
    );
    let i386 = ecs
        .describe_image_support_instance_types(&support(
            "x86_32_image_1",
            Some(ImageActionType::CreateEcs),
        ))
        .await
        .expect("i386 image");
    assert!(
        i386.instance_types
            .instance_type
            .iter()
            .all(|t| t.memory_size < 4.0)
    );
    assert!(
        i386.instance_types
            .instance_type
            .iter()
            .any(|t| t.memory_size == 0.5)
    );

    let err = ecs
        .describe_image_support_instance_types(&support("m-doesnotexist", None))
        .await
        .expect_err("unknown image");
    assert_eq!(refusal(err), (404, "InvalidImageId.NotFound".into()));
    let call = Call::new(&sim, &clock);
    for (params, status, code) in [
        (
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ImageId", UBUNTU),
                ("ActionType", "Reinstall"),
            ],
            404,
            "InvalidUsage",
        ),
        (vec![("RegionId", "cn-hangzhou")], 400, "MissingParameter"),
        (vec![("ImageId", UBUNTU)], 400, "MissingParameter"),
        (
            vec![("RegionId", "cn-beijing"), ("ImageId", UBUNTU)],
            404,
            "InvalidRegionId.NotFound",
        ),
    ] {
        let (got_status, got_code, _) =
            call.err("DescribeImageSupportInstanceTypes", &params).await;
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{params:?}"
        );
    }
    // Filter.N is ignored, as the page says.
    let filtered = call
        .ok(
            "DescribeImageSupportInstanceTypes",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ImageId", UBUNTU),
                ("Filter.1.Key", "imageId"),
                ("Filter.1.Value", "arm_image_1"),
            ],
        )
        .await;
    assert_eq!(
        filtered["InstanceTypes"]["InstanceType"]
            .as_array()
            .map(Vec::len),
        Some(x86.instance_types.instance_type.len())
    );
}

#[tokio::test]
async fn the_admin_interface_declares_an_image_unsupported_on_types() {
    let (sim, clock) = sim().await;
    let client = client(&sim, &clock);
    let ecs = client.ecs();
    let ask = move || async move {
        ecs.describe_image_support_instance_types(&DescribeImageSupportInstanceTypesRequest {
            image_id: UBUNTU.into(),
            action_type: None,
        })
        .await
        .expect("DescribeImageSupportInstanceTypes")
    };
    let before = ask().await;
    assert!(before.supports("ecs.g7.large"));
    sim.admin()
        .restrict_image_types(UBUNTU, &["ecs.g7.large", "ecs.c7.large"])
        .expect("restrict");
    let after = ask().await;
    assert!(!after.supports("ecs.g7.large") && !after.supports("ecs.c7.large"));
    assert!(after.supports("ecs.g7.xlarge"));
    assert_eq!(
        after.instance_types.instance_type.len() + 2,
        before.instance_types.instance_type.len()
    );
    let err = sim
        .admin()
        .restrict_image_types(UBUNTU, &["ecs.nope.large"])
        .expect_err("a type outside the catalogue");
    assert_eq!(
        (err.status.as_u16(), err.code.as_str()),
        (400, "InvalidInstanceType.ValueNotSupported")
    );
    let err = sim
        .admin()
        .restrict_image_types("m-doesnotexist", &["ecs.g7.large"])
        .expect_err("an unknown image");
    assert_eq!(err.code, "InvalidImageId.NotFound");
    assert!(
        !ask().await.supports("ecs.g7.large"),
        "a refused call changes nothing"
    );

    // Over HTTP: a new list replaces the old; DELETE lifts it.
    let http = reqwest::Client::new();
    let url = format!("{}/__sim/images/{UBUNTU}/unsupported-types", sim.endpoint());
    let resp = http
        .post(&url)
        .json(&serde_json::json!({"instance_types": ["ecs.g7.xlarge"]}))
        .send()
        .await
        .expect("admin POST");
    assert_eq!(resp.status(), 200);
    let now = ask().await;
    assert!(now.supports("ecs.g7.large") && !now.supports("ecs.g7.xlarge"));
    let resp = http.delete(&url).send().await.expect("admin DELETE");
    assert_eq!(resp.status(), 200);
    assert_eq!(ask().await.instance_types, before.instance_types);
}
