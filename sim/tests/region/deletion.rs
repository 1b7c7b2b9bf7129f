//! What decides whether an image or a snapshot may go, through reimage's ECS client: who an
//! image is shared with (ModifyImageSharePermission, DescribeImageSharePermission,
//! DescribeImages' `IsSelfShared` and `IsPublic`), whether instances run from it
//! (`Usage`), what was made from a snapshot (`Usage`, disks' `SourceSnapshotId`), and the
//! refusals of DeleteImage and DeleteSnapshot with and without `Force`. Then the images a
//! benchmark seeds in bulk, read back at DescribeImages' and DescribeSnapshots' page size.

use std::sync::Arc;
use std::time::Duration;

use reimage_cloud::aliyun::Tag;
use reimage_cloud::aliyun::ecs::{
    CreateImageRequest, DeleteImageRequest, DeleteSnapshotRequest, DescribeDisksRequest,
    DescribeImageSharePermissionRequest, DescribeImagesRequest, DescribeSnapshotsRequest, DiskType,
    ImageStatus, ImageUsage, ModifyImageSharePermissionRequest, ReplaceSystemDiskRequest,
    SnapshotUsage,
};
use reimage_cloud::clock::ManualClock;
use reimage_sim::Sim;
use reimage_sim::seed::{CustomImageBatch, Seed, SeedCustomImage, SeedImageShare, SeedTag};

use crate::common::{Call, client, refusal, sim, t0};

const WEB: &str = "i-bp1demoweb000000001";
const OTHER: &str = "1111222233334444";

fn delete_image(id: &str, force: bool) -> DeleteImageRequest {
    DeleteImageRequest {
        image_id: id.into(),
        force: force.then_some(true),
    }
}

fn delete_snapshot(id: &str, force: bool) -> DeleteSnapshotRequest {
    DeleteSnapshotRequest {
        snapshot_id: id.into(),
        force: force.then_some(true),
    }
}

/// One of the account's images, Available, with its system-disk snapshot.
async fn seeded_image(sim: &Sim, name: &str) -> (String, String) {
    let made = sim
        .admin()
        .add_custom_images(&[SeedCustomImage::named(name)])
        .expect("seeded");
    (made[0].image_id.clone(), made[0].snapshot_id.clone())
}

#[tokio::test]
async fn a_shared_image_is_listed_as_such_and_deleted_only_once_unshared() {
    let (sim, clock) = sim().await;
    let ecs_client = client(&sim, &clock);
    let ecs = ecs_client.ecs();
    let (image, _) = seeded_image(&sim, "shared-1").await;
    let share = |add: &[&str], remove: &[&str]| ModifyImageSharePermissionRequest {
        image_id: image.clone(),
        add_accounts: add.iter().map(|a| (*a).to_owned()).collect(),
        remove_accounts: remove.iter().map(|a| (*a).to_owned()).collect(),
        is_public: None,
    };
    ecs.modify_image_share_permission(&share(&[OTHER, "5555666677778888"], &[]))
        .await
        .expect("shared");
    let sharing = ecs.image_sharing(&image).await.expect("read");
    let accounts: Vec<&str> = sharing
        .accounts
        .iter()
        .map(|a| a.aliyun_id.as_str())
        .collect();
    assert_eq!(accounts, [OTHER, "5555666677778888"]);
    assert_eq!(sharing.accounts[0].shared_time, "2026-03-01T09:00:00Z");
    assert!(sharing.groups.is_empty() && sharing.is_shared());
    let listed = ecs
        .describe_images(&DescribeImagesRequest {
            image_id: Some(image.clone()),
            ..Default::default()
        })
        .await
        .expect("listed");
    let m = &listed.images.image[0];
    assert!(m.is_self_shared && !m.is_public, "{m:?}");
    assert_eq!(m.image_owner_alias, "self");

    for force in [false, true] {
        let (status, code) = refusal(
            ecs.delete_image(&delete_image(&image, force))
                .await
                .expect_err("shared"),
        );
        assert_eq!(
            (status, code.as_str()),
            (403, "ImageUseShared"),
            "Force={force}"
        );
    }
    ecs.modify_image_share_permission(&share(&[], &[OTHER, "5555666677778888"]))
        .await
        .expect("unshared");
    assert!(!ecs.image_sharing(&image).await.expect("read").is_shared());
    ecs.delete_image(&delete_image(&image, false))
        .await
        .expect("deleted once unshared");
    let (status, code) = refusal(
        ecs.describe_image_share_permission(&DescribeImageSharePermissionRequest {
            image_id: image.clone(),
            ..Default::default()
        })
        .await
        .expect_err("gone"),
    );
    assert_eq!((status, code.as_str()), (404, "InvalidImageId.NotFound"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_community_image_and_the_documented_refusals_of_sharing() {
    let (sim, clock) = sim().await;
    let ecs_client = client(&sim, &clock);
    let ecs = ecs_client.ecs();
    let (image, _) = seeded_image(&sim, "community-1").await;
    let publish = |public: bool| ModifyImageSharePermissionRequest {
        image_id: image.clone(),
        is_public: Some(public),
        ..Default::default()
    };
    let (status, code) = refusal(
        ecs.modify_image_share_permission(&publish(false))
            .await
            .expect_err("not published"),
    );
    assert_eq!((status, code.as_str()), (403, "Image.NotPublic"));
    ecs.modify_image_share_permission(&publish(true))
        .await
        .expect("published");
    let sharing = ecs.image_sharing(&image).await.expect("read");
    assert_eq!(sharing.groups, ["all"]);
    let m = ecs
        .describe_images(&DescribeImagesRequest {
            image_id: Some(image.clone()),
            ..Default::default()
        })
        .await
        .expect("listed")
        .images
        .image
        .remove(0);
    assert!(m.is_public && !m.is_self_shared, "{m:?}");
    let (status, code) = refusal(
        ecs.delete_image(&delete_image(&image, true))
            .await
            .expect_err("published"),
    );
    assert_eq!((status, code.as_str()), (403, "ImageIsPublic"));
    ecs.modify_image_share_permission(&publish(false))
        .await
        .expect("unpublished");

    let call = Call::new(&sim, &clock);
    let region = ("RegionId", "cn-hangzhou");
    let id = ("ImageId", image.as_str());
    let ubuntu = "ubuntu_22_04_x64_20G_alibase_20240101.vhd";
    for (params, want) in [
        (
            vec![region, id, ("AddAccount.1", "1234567890123456")],
            (404, "InvalidAccount.Forbbiden"),
        ),
        (
            vec![region, id, ("AddAccount.1", "not-an-account")],
            (404, "InvalidAccount.NotFound"),
        ),
        (
            vec![region, ("ImageId", ubuntu), ("AddAccount.1", OTHER)],
            (404, "InvalidImageId.NotFound"),
        ),
        (
            vec![region, id, ("AddAccount.1", OTHER), ("IsPublic", "true")],
            (403, "InvalidParameter.IsPublic"),
        ),
        (
            vec![region, id, ("LaunchPermission", "hide")],
            (400, "ForbiddenParameter.LaunchPermission"),
        ),
        (
            vec![
                region,
                id,
                ("AddAccount.1", OTHER),
                ("LaunchPermission", "hide"),
            ],
            (400, "UnnecessaryParameter.LaunchPermission"),
        ),
        (vec![region], (400, "MissingParameter")),
    ] {
        let (status, code, _) = call.err("ModifyImageSharePermission", &params).await;
        assert_eq!((status, code.as_str()), want, "{params:?}");
    }
    // Ten accounts a call are taken (more are ignored); an image takes at most 50.
    let mut taken = 0;
    for batch in 0..5 {
        let accounts: Vec<(String, String)> = (1..=12)
            .map(|n| (format!("AddAccount.{n}"), format!("9{batch:02}{n:013}")))
            .collect();
        let mut params: Vec<(&str, &str)> = vec![region, id];
        params.extend(accounts.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        call.ok("ModifyImageSharePermission", &params).await;
        taken += 10;
    }
    let page = call
        .ok(
            "DescribeImageSharePermission",
            &[region, id, ("PageSize", "100")],
        )
        .await;
    assert_eq!(page["TotalCount"], taken);
    assert_eq!(page["Accounts"]["Account"].as_array().unwrap().len(), 50);
    let (status, code, _) = call
        .err(
            "ModifyImageSharePermission",
            &[region, id, ("AddAccount.1", OTHER)],
        )
        .await;
    assert_eq!((status, code.as_str()), (403, "QuotaExceed.ShareImageUser"));
    let (status, code, _) = call
        .err(
            "DescribeImageSharePermission",
            &[region, id, ("PageSize", "101")],
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "InvalidParameter"));
    sim.shutdown().await;
}

#[tokio::test]
async fn images_in_use_and_the_snapshots_images_and_disks_were_made_from() {
    let (sim, clock) = sim().await;
    let ecs_client = client(&sim, &clock);
    let ecs = ecs_client.ecs();
    let admin = sim.admin();
    // An image of the web instance, then the instance's system disk replaced from it.
    let image = ecs
        .create_image(&CreateImageRequest {
            instance_id: Some(WEB.into()),
            image_name: Some("web-golden-1".into()),
            tags: vec![Tag::new("reimage:managed", "true")],
            ..Default::default()
        })
        .await
        .expect("created")
        .image_id;
    clock.advance(Duration::from_secs(200));
    let described = ecs
        .describe_images(&DescribeImagesRequest {
            image_id: Some(image.clone()),
            ..Default::default()
        })
        .await
        .expect("listed")
        .images
        .image
        .remove(0);
    assert_eq!(
        (described.status, described.usage.as_str()),
        (ImageStatus::Available, "none")
    );
    let system_snapshot = described
        .disk_device_mappings
        .disk_device_mapping
        .iter()
        .find(|d| d.disk_type == DiskType::System)
        .and_then(|d| d.snapshot_id.clone())
        .expect("a system snapshot");
    let data_snapshot = described
        .disk_device_mappings
        .disk_device_mapping
        .iter()
        .find(|d| d.disk_type == DiskType::Data)
        .and_then(|d| d.snapshot_id.clone())
        .expect("a data snapshot");
    admin.stop_instance(WEB).expect("stopped");
    ecs.replace_system_disk(&ReplaceSystemDiskRequest {
        instance_id: WEB.into(),
        image_id: image.clone(),
        password_inherit: true,
        ..Default::default()
    })
    .await
    .expect("replaced");
    let disk = ecs
        .describe_disks(&DescribeDisksRequest {
            instance_id: Some(WEB.into()),
            disk_type: Some(DiskType::System),
            ..Default::default()
        })
        .await
        .expect("disks")
        .disks
        .disk
        .remove(0);
    assert_eq!(disk.source_snapshot_id, system_snapshot);

    let in_use = ecs
        .describe_images_all(&DescribeImagesRequest {
            image_owner_alias: Some("self".into()),
            usage: Some(ImageUsage::Instance),
            ..Default::default()
        })
        .await
        .expect("listed");
    assert_eq!(
        in_use
            .iter()
            .map(|m| m.image_id.as_str())
            .collect::<Vec<_>>(),
        [image.as_str()]
    );
    let usage_of = |id: &str| {
        let id = id.to_owned();
        let ecs_client = &ecs_client;
        async move {
            ecs_client
                .ecs()
                .describe_snapshots(&DescribeSnapshotsRequest {
                    snapshot_ids: vec![id],
                    ..Default::default()
                })
                .await
                .expect("listed")
                .snapshots
                .snapshot
                .remove(0)
                .usage
        }
    };
    assert_eq!(usage_of(&system_snapshot).await, "image_disk");
    assert_eq!(usage_of(&data_snapshot).await, "image");
    let image_disk = ecs
        .describe_snapshots_all(&DescribeSnapshotsRequest {
            usage: Some(SnapshotUsage::ImageDisk),
            ..Default::default()
        })
        .await
        .expect("listed");
    assert_eq!(image_disk.len(), 1);

    // Instances run from it: refused without Force. Its snapshots are refused while it
    // holds them, Force or not.
    let (status, code) = refusal(
        ecs.delete_image(&delete_image(&image, false))
            .await
            .expect_err("in use"),
    );
    assert_eq!((status, code.as_str()), (403, "ImageUsingByInstance"));
    for force in [false, true] {
        let (status, code) = refusal(
            ecs.delete_snapshot(&delete_snapshot(&data_snapshot, force))
                .await
                .expect_err("held by the image"),
        );
        assert_eq!((status, code.as_str()), (403, "SnapshotCreatedImage"));
    }
    ecs.delete_image(&delete_image(&image, true))
        .await
        .expect("Force deletes an image in use");
    assert_eq!(usage_of(&system_snapshot).await, "disk");
    assert_eq!(usage_of(&data_snapshot).await, "none");
    ecs.delete_snapshot(&delete_snapshot(&data_snapshot, false))
        .await
        .expect("nothing holds it any more");
    let (status, code) = refusal(
        ecs.delete_snapshot(&delete_snapshot(&system_snapshot, false))
            .await
            .expect_err("a disk was made from it"),
    );
    assert_eq!((status, code.as_str()), (403, "SnapshotCreatedDisk"));
    ecs.delete_snapshot(&delete_snapshot(&system_snapshot, true))
        .await
        .expect("Force deletes it");
    let (status, code) = refusal(
        ecs.delete_snapshot(&delete_snapshot(&system_snapshot, false))
            .await
            .expect_err("gone"),
    );
    assert_eq!((status, code.as_str()), (404, "InvalidSnapshotId.NotFound"));
    sim.shutdown().await;
}

#[tokio::test]
async fn seeded_images_are_read_back_a_hundred_a_page_with_their_snapshots_tags_and_age() {
    let (sim, clock) = sim().await;
    let admin = sim.admin();
    let managed = vec![SeedTag::new("reimage:managed", "true")];
    let made = admin
        .add_custom_image_batch(&CustomImageBatch {
            name_prefix: "bench".into(),
            count: 250,
            tags: managed.clone(),
            snapshot_tags: managed,
            age_seconds: 250 * 3600,
            spacing_seconds: 3600,
            size: 20,
        })
        .expect("seeded");
    assert_eq!(made.len(), 250);
    admin.reset_calls();
    let ecs_client = client(&sim, &clock);
    let ecs = ecs_client.ecs();
    let images = ecs
        .describe_images_all(&DescribeImagesRequest {
            image_owner_alias: Some("self".into()),
            tags: vec![Tag::new("reimage:managed", "true")],
            status: ImageStatus::ALL.to_vec(),
            ..Default::default()
        })
        .await
        .expect("listed");
    assert_eq!(images.len(), 250);
    assert_eq!(admin.calls_since_reset("DescribeImages"), 3, "100 a page");
    // Newest first: the last made, an hour old.
    assert_eq!(images[0].image_name, "bench-00250");
    assert_eq!(images[0].creation_time, "2026-03-01T08:00:00Z");
    assert_eq!(images[249].creation_time, "2026-02-18T23:00:00Z");
    assert!(
        images
            .iter()
            .all(|m| m.usage == "none" && m.status == ImageStatus::Available)
    );
    let snapshots = ecs
        .describe_snapshots_all(&DescribeSnapshotsRequest {
            tags: vec![Tag::new("reimage:managed", "true")],
            ..Default::default()
        })
        .await
        .expect("listed");
    assert_eq!(snapshots.len(), 250);
    assert!(snapshots.iter().all(|s| s.usage == "image"));
    let image = images.iter().find(|m| m.image_id == made[0].image_id);
    assert_eq!(
        image.and_then(|m| m.disk_device_mappings.disk_device_mapping[0]
            .snapshot_id
            .as_deref()),
        Some(made[0].snapshot_id.as_str())
    );
    // A name taken refuses the whole batch.
    let err = admin
        .add_custom_images(&[
            SeedCustomImage::named("fresh-1"),
            SeedCustomImage::named("bench-00001"),
        ])
        .expect_err("taken");
    assert_eq!(err.code, "InvalidImageName.Duplicated");
    assert!(
        admin
            .state()
            .images
            .iter()
            .all(|m| m.image_name != "fresh-1")
    );

    // Over HTTP, and shares.
    let http = reqwest::Client::new();
    let answer: serde_json::Value = http
        .post(format!("{}/__sim/images/custom-batch", sim.endpoint()))
        .json(&serde_json::json!({"name_prefix": "http", "count": 2, "age_seconds": 60}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = answer["images"][0]["image_id"].as_str().expect("an image");
    let shared = http
        .post(format!("{}/__sim/images/{first}/shares", sim.endpoint()))
        .json(&serde_json::json!({"accounts": [OTHER]}))
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status().as_u16(), 200);
    assert_eq!(
        admin.image(first).expect("exists").shared_with,
        [OTHER.to_owned()]
    );
    assert_eq!(admin.now(), t0());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_seed_file_holds_custom_images_and_their_shares() {
    let mut seed = Seed::demo();
    seed.custom_images.push(SeedCustomImage {
        image_id: Some("m-bp1seeded00000001".into()),
        snapshot_id: Some("s-bp1seeded00000001".into()),
        tags: vec![SeedTag::new("reimage:managed", "true")],
        age_seconds: 86_400,
        ..SeedCustomImage::named("seeded-1")
    });
    seed.image_shares.push(SeedImageShare {
        image_id: "m-bp1seeded00000001".into(),
        accounts: vec![OTHER.into()],
        public: false,
    });
    assert_eq!(
        Seed::from_json(&seed.to_json_pretty()).expect("round-trips"),
        seed
    );
    let mut own = seed.clone();
    own.image_shares[0].accounts = vec![own.account_id.clone()];
    assert!(own.validate().is_err(), "not with the account itself");
    let mut public = seed.clone();
    public.image_shares[0].image_id = "ubuntu_22_04_x64_20G_alibase_20240101.vhd".into();
    assert!(public.validate().is_err(), "only the account's own images");

    let clock = ManualClock::new(t0());
    let sim = Sim::builder()
        .clock(Arc::new(clock.clone()))
        .seed(seed)
        .start()
        .await
        .expect("starts");
    let call = Call::new(&sim, &clock);
    let listed = call
        .ok(
            "DescribeImages",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ImageId", "m-bp1seeded00000001"),
            ],
        )
        .await;
    let m = &listed["Images"]["Image"][0];
    assert_eq!(m["IsSelfShared"], "True");
    assert_eq!(m["CreationTime"], "2026-02-28T09:00:00Z");
    assert_eq!(
        m["DiskDeviceMappings"]["DiskDeviceMapping"][0]["SnapshotId"],
        "s-bp1seeded00000001"
    );
    let public = call
        .ok(
            "DescribeImages",
            &[("RegionId", "cn-hangzhou"), ("ImageOwnerAlias", "system")],
        )
        .await;
    let shown = &public["Images"]["Image"][0];
    assert_eq!(
        (&shown["IsPublic"], &shown["IsSelfShared"]),
        (&serde_json::json!(true), &serde_json::json!(""))
    );
    sim.shutdown().await;
}
