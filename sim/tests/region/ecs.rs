//! ECS operations and rules.

use std::time::Duration;

use crate::common::{Call, sim};

#[tokio::test]
async fn describe_instances_lists_the_demo_instances_with_paging() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let all = call
        .ok("DescribeInstances", &[("RegionId", "cn-hangzhou")])
        .await;
    let total = 3 + reimage_sim::seed::DEMO_FLEET_SIZE;
    assert_eq!(all["TotalCount"], total);
    let instances = all["Instances"]["Instance"].as_array().unwrap();
    let statuses: Vec<&str> = instances
        .iter()
        .map(|i| i["Status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"Running") && statuses.contains(&"Stopped"),
        "{statuses:?}"
    );

    let page2 = call
        .ok(
            "DescribeInstances",
            &[
                ("RegionId", "cn-hangzhou"),
                ("PageSize", "2"),
                ("PageNumber", &(total / 2 + 1).to_string()),
            ],
        )
        .await;
    assert_eq!(page2["TotalCount"], total);
    assert_eq!(
        page2["Instances"]["Instance"].as_array().unwrap().len(),
        total % 2
    );

    let one = call
        .ok(
            "DescribeInstances",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceIds", "[\"i-bp1demoapi000000001\"]"),
            ],
        )
        .await;
    assert_eq!(one["Instances"]["Instance"][0]["Status"], "Stopped");
    assert_eq!(one["TotalCount"], 1);

    let (status, code, _) = call.err("DescribeInstances", &[]).await;
    assert_eq!((status, code.as_str()), (400, "MissingParameter"));
    let (status, code, _) = call
        .err(
            "DescribeInstances",
            &[("RegionId", "cn-hangzhou"), ("InstanceIds", "i-x")],
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "InvalidParameter"));
}

#[tokio::test]
async fn describe_disks_shows_system_and_data_disks_in_use() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let disks = call
        .ok(
            "DescribeDisks",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-bp1demoweb000000001"),
            ],
        )
        .await;
    let list = disks["Disks"]["Disk"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|d| d["Status"] == "In_use"));
    let system = call
        .ok(
            "DescribeDisks",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-bp1demoweb000000001"),
                ("DiskType", "system"),
            ],
        )
        .await;
    assert_eq!(
        system["Disks"]["Disk"][0]["DiskId"],
        "d-bp1demowebsys000001"
    );
    assert_eq!(system["TotalCount"], 1);
}

#[tokio::test]
async fn image_from_instance_snapshots_every_disk_and_becomes_available_with_the_clock() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let created = call
        .ok(
            "CreateImage",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-bp1demoweb000000001"),
                ("ImageName", "web-2026-03-01"),
                ("Tag.1.Key", "reimage:execution"),
                ("Tag.1.Value", "exec-1"),
            ],
        )
        .await;
    let image_id = created["ImageId"].as_str().unwrap().to_owned();
    assert!(image_id.starts_with("m-"), "{image_id}");

    // Hidden while Creating unless Status is given.
    let hidden = call
        .ok(
            "DescribeImages",
            &[("RegionId", "cn-hangzhou"), ("ImageId", &image_id)],
        )
        .await;
    assert_eq!(hidden["TotalCount"], 0);
    clock.advance(Duration::from_secs(42));
    let image = &call.image(&image_id).await;
    assert_eq!(image["Status"], "Creating");
    assert_eq!(image["Progress"], "42%");
    let mappings = image["DiskDeviceMappings"]["DiskDeviceMapping"]
        .as_array()
        .unwrap();
    assert_eq!(mappings.len(), 2, "one snapshot per disk: {mappings:?}");
    assert_eq!(mappings[0]["Type"], "system");
    assert_eq!(mappings[1]["Type"], "data");
    assert_eq!(image["Tags"]["Tag"][0]["TagKey"], "reimage:execution");

    // The image's snapshots exist and progress too.
    let snaps = call
        .ok(
            "DescribeSnapshots",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-bp1demoweb000000001"),
            ],
        )
        .await;
    assert_eq!(snaps["TotalCount"], 2);
    assert_eq!(snaps["Snapshots"]["Snapshot"][0]["Status"], "progressing");

    clock.advance(Duration::from_secs(58));
    let done = call
        .ok(
            "DescribeImages",
            &[("RegionId", "cn-hangzhou"), ("ImageId", &image_id)],
        )
        .await;
    assert_eq!(done["Images"]["Image"][0]["Status"], "Available");
    assert_eq!(done["Images"]["Image"][0]["Progress"], "100%");
    assert_eq!(done["Images"]["Image"][0]["ImageOwnerAlias"], "self");
}

#[tokio::test]
async fn image_names_are_checked_for_format_and_uniqueness() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let base = [
        ("RegionId", "cn-hangzhou"),
        ("InstanceId", "i-bp1demoweb000000001"),
    ];
    for bad in ["x", "1web", "web image", "http://web", "web/1"] {
        let mut p = base.to_vec();
        p.push(("ImageName", bad));
        let (status, code, _) = call.err("CreateImage", &p).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidImageName.Malformed"),
            "{bad}"
        );
    }
    let mut p = base.to_vec();
    p.push(("ImageName", "web-one"));
    call.ok("CreateImage", &p).await;
    let (status, code, _) = call.err("CreateImage", &p).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidImageName.Duplicated")
    );
}

#[tokio::test]
async fn create_image_needs_a_running_or_stopped_instance_that_exists() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    // Stopped is fine.
    call.ok(
        "CreateImage",
        &[
            ("RegionId", "cn-hangzhou"),
            ("InstanceId", "i-bp1demoapi000000001"),
        ],
    )
    .await;
    sim.admin()
        .set_instance_status_str("i-bp1demoweb000000001", "Stopping")
        .unwrap();
    let (status, code, msg) = call
        .err(
            "CreateImage",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-bp1demoweb000000001"),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "IncorrectInstanceStatus"));
    assert!(msg.contains("Stopping"), "{msg}");
    let (status, code, _) = call
        .err(
            "CreateImage",
            &[("RegionId", "cn-hangzhou"), ("InstanceId", "i-nope")],
        )
        .await;
    assert_eq!((status, code.as_str()), (404, "InvalidInstanceId.NotFound"));
    let (status, code, _) = call
        .err("CreateImage", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!((status, code.as_str()), (400, "MissingParameter"));
}

#[tokio::test]
async fn client_token_makes_creates_idempotent() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let p = [
        ("RegionId", "cn-hangzhou"),
        ("InstanceId", "i-bp1demoweb000000001"),
        ("ImageName", "web-idem"),
        ("ClientToken", "exec-1-create-image"),
    ];
    let first = call.ok("CreateImage", &p).await;
    let second = call.ok("CreateImage", &p).await;
    assert_eq!(first["ImageId"], second["ImageId"]);
    let mut other = p.to_vec();
    other[2] = ("ImageName", "web-idem-2");
    // Each operation's own table: CreateImage answers 400 IdempotenceParamNotMatch,
    // CreateSnapshot 403 IdempotentParameterMismatch.
    let (status, code, _) = call.err("CreateImage", &other).await;
    assert_eq!((status, code.as_str()), (400, "IdempotenceParamNotMatch"));
    assert_eq!(
        sim.admin()
            .state()
            .images
            .iter()
            .filter(|m| m.owner_alias == "self")
            .count(),
        1
    );

    // The image's own snapshots of the instance's disks must finish before the disks take
    // another one.
    clock.advance(Duration::from_secs(60));
    let s = [
        ("DiskId", "d-bp1demowebsys000001"),
        ("ClientToken", "exec-1-snap"),
    ];
    let a = call.ok("CreateSnapshot", &s).await;
    let b = call.ok("CreateSnapshot", &s).await;
    assert_eq!(a["SnapshotId"], b["SnapshotId"]);
    let (status, code, _) = call
        .err(
            "CreateSnapshot",
            &[
                ("DiskId", "d-bp1demowebdat000001"),
                ("ClientToken", "exec-1-snap"),
            ],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (403, "IdempotentParameterMismatch")
    );
}

#[tokio::test]
async fn a_disk_takes_one_snapshot_at_a_time() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let first = [("DiskId", "d-bp1demowebsys000001"), ("ClientToken", "a")];
    let a = call.ok("CreateSnapshot", &first).await;
    // Another snapshot of the same disk while the first is progressing: refused, nothing made.
    let second = [("DiskId", "d-bp1demowebsys000001"), ("ClientToken", "b")];
    let (status, code, msg) = call.err("CreateSnapshot", &second).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "IncorrectDiskStatus.CreatingSnapshot")
    );
    assert!(msg.contains("d-bp1demowebsys000001"), "{msg}");
    assert_eq!(sim.admin().state().snapshots.len(), 1);
    // The first request repeated with its token still answers its snapshot; another disk is
    // not held up.
    assert_eq!(
        call.ok("CreateSnapshot", &first).await["SnapshotId"],
        a["SnapshotId"]
    );
    call.ok("CreateSnapshot", &[("DiskId", "d-bp1demowebdat000001")])
        .await;
    // Once the first is accomplished, the disk takes the second.
    clock.advance(Duration::from_secs(60));
    let b = call.ok("CreateSnapshot", &second).await;
    assert_ne!(a["SnapshotId"], b["SnapshotId"]);
}

#[tokio::test]
async fn describe_images_takes_status_all_and_disks_without_snapshots() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let snap = call
        .ok("CreateSnapshot", &[("DiskId", "d-bp1demowebsys000001")])
        .await;
    clock.advance(Duration::from_secs(60));
    let snap_id = snap["SnapshotId"].as_str().unwrap();
    // A system disk from the snapshot and an empty 50 GiB data disk with no SnapshotId.
    let image = call
        .ok(
            "CreateImage",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ImageName", "with-empty-disk"),
                ("DiskDeviceMapping.1.SnapshotId", snap_id),
                ("DiskDeviceMapping.1.DiskType", "system"),
                ("DiskDeviceMapping.2.Size", "50"),
                ("DiskDeviceMapping.2.DiskType", "data"),
            ],
        )
        .await;
    let id = image["ImageId"].as_str().unwrap();
    // Creating: hidden by the default (Available only), shown by Status=ALL.
    let default = call
        .ok(
            "DescribeImages",
            &[("RegionId", "cn-hangzhou"), ("ImageId", id)],
        )
        .await;
    assert_eq!(default["TotalCount"], 0);
    let all = call
        .ok(
            "DescribeImages",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ImageId", id),
                ("Status", "ALL"),
            ],
        )
        .await;
    let found = &all["Images"]["Image"][0];
    assert_eq!(found["Status"], "Creating");
    let disks = found["DiskDeviceMappings"]["DiskDeviceMapping"]
        .as_array()
        .unwrap();
    assert_eq!(disks.len(), 2);
    assert_eq!(disks[0]["SnapshotId"], snap_id);
    assert_eq!(disks[1]["SnapshotId"], "");
    assert_eq!(disks[1]["Size"], "50");
    // An entry with neither a snapshot nor a size says which parameter it needs; a system
    // disk cannot be empty.
    let (status, code, msg) = call
        .err(
            "CreateImage",
            &[
                ("RegionId", "cn-hangzhou"),
                ("DiskDeviceMapping.1.SnapshotId", snap_id),
                ("DiskDeviceMapping.2.DiskType", "data"),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "InvalidParameter"));
    assert!(msg.contains("DiskDeviceMapping.N.Size"), "{msg}");
    let (_, code, _) = call
        .err(
            "CreateImage",
            &[
                ("RegionId", "cn-hangzhou"),
                ("DiskDeviceMapping.1.Size", "40"),
                ("DiskDeviceMapping.1.DiskType", "system"),
            ],
        )
        .await;
    assert_eq!(code, "MissingParameter");
}

#[tokio::test]
async fn image_from_a_snapshot_needs_it_accomplished_and_holds_only_it() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let snap = call
        .ok(
            "CreateSnapshot",
            &[
                ("DiskId", "d-bp1demowebsys000001"),
                ("SnapshotName", "web-sys"),
            ],
        )
        .await;
    let snap_id = snap["SnapshotId"].as_str().unwrap().to_owned();
    let p = [
        ("RegionId", "cn-hangzhou"),
        ("SnapshotId", snap_id.as_str()),
        ("ImageName", "from-snap"),
    ];
    let (status, code, _) = call.err("CreateImage", &p).await;
    assert_eq!((status, code.as_str()), (403, "InvalidSnapshotId.NotReady"));
    clock.advance(Duration::from_secs(25));
    let progressing = call
        .ok(
            "DescribeSnapshots",
            &[
                ("RegionId", "cn-hangzhou"),
                ("SnapshotIds", &format!("[\"{snap_id}\"]")),
            ],
        )
        .await;
    assert_eq!(progressing["Snapshots"]["Snapshot"][0]["Progress"], "50%");
    assert_eq!(
        progressing["Snapshots"]["Snapshot"][0]["SourceDiskType"],
        "system"
    );
    clock.advance(Duration::from_secs(25));
    let image = call.ok("CreateImage", &p).await;
    let id = image["ImageId"].as_str().unwrap();
    let view = sim.admin().image(id).unwrap();
    assert_eq!(view.snapshot_ids, vec![snap_id.clone()]);
    // A snapshot that made an image cannot be deleted while the image exists.
    let (status, code, _) = call
        .err("DeleteSnapshot", &[("SnapshotId", &snap_id)])
        .await;
    assert_eq!((status, code.as_str()), (403, "SnapshotCreatedImage"));
    call.ok(
        "DeleteImage",
        &[("RegionId", "cn-hangzhou"), ("ImageId", id)],
    )
    .await;
    call.ok("DeleteSnapshot", &[("SnapshotId", &snap_id)]).await;
    let (status, code, _) = call
        .err("DeleteSnapshot", &[("SnapshotId", &snap_id)])
        .await;
    assert_eq!((status, code.as_str()), (404, "InvalidSnapshotId.NotFound"));
    let (status, code, _) = call
        .err(
            "DeleteImage",
            &[("RegionId", "cn-hangzhou"), ("ImageId", id)],
        )
        .await;
    assert_eq!((status, code.as_str()), (404, "InvalidImageId.NotFound"));
}

#[tokio::test]
async fn describe_images_filters_by_owner_and_pages() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let public = call
        .ok(
            "DescribeImages",
            &[("RegionId", "cn-hangzhou"), ("ImageOwnerAlias", "system")],
        )
        .await;
    assert_eq!(public["TotalCount"], 3);
    let page = call
        .ok(
            "DescribeImages",
            &[
                ("RegionId", "cn-hangzhou"),
                ("PageSize", "1"),
                ("PageNumber", "2"),
            ],
        )
        .await;
    assert_eq!(page["TotalCount"], 3);
    assert_eq!(page["PageNumber"], 2);
    assert_eq!(page["Images"]["Image"].as_array().unwrap().len(), 1);
    let (_, code, _) = call
        .err(
            "DescribeImages",
            &[("RegionId", "cn-hangzhou"), ("ImageOwnerAlias", "mine")],
        )
        .await;
    assert_eq!(code, "InvalidImageOwnerAlias.ValueNotSupported");
    let (_, code, _) = call
        .err(
            "DescribeImages",
            &[("RegionId", "cn-hangzhou"), ("Status", "Done")],
        )
        .await;
    assert_eq!(code, "InvalidParameter");
    let (status, code, _) = call
        .err("DescribeImages", &[("RegionId", "cn-beijing")])
        .await;
    assert_eq!((status, code.as_str()), (404, "InvalidRegionId.NotFound"));
}

#[tokio::test]
async fn failed_images_end_in_create_failed() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    sim.admin().fail_next_image();
    let failing = call
        .ok(
            "CreateImage",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-bp1demoweb000000001"),
            ],
        )
        .await;
    let healthy = call
        .ok(
            "CreateImage",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-bp1demoapi000000001"),
            ],
        )
        .await;
    clock.advance(Duration::from_secs(100));
    let all = call
        .ok(
            "DescribeImages",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ImageOwnerAlias", "self"),
                ("Status", "CreateFailed,Available"),
            ],
        )
        .await;
    let status_of = |id: &serde_json::Value| {
        all["Images"]["Image"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["ImageId"] == *id)
            .map(|m| m["Status"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        status_of(&failing["ImageId"]).as_deref(),
        Some("CreateFailed")
    );
    assert_eq!(status_of(&healthy["ImageId"]).as_deref(), Some("Available"));
    // The default listing hides failed images.
    let default = call
        .ok(
            "DescribeImages",
            &[("RegionId", "cn-hangzhou"), ("ImageOwnerAlias", "self")],
        )
        .await;
    assert_eq!(default["TotalCount"], 1);
}

#[tokio::test]
async fn stop_and_start_instance_change_status_at_once_and_check_the_current_one() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let web = [("InstanceId", "i-bp1demoweb000000001")];
    call.ok("StopInstance", &web).await;
    assert_eq!(
        sim.admin()
            .instance("i-bp1demoweb000000001")
            .unwrap()
            .status,
        "Stopped"
    );
    let (status, code, _) = call.err("StopInstance", &web).await;
    assert_eq!((status, code.as_str()), (403, "IncorrectInstanceStatus"));
    call.ok("StartInstance", &web).await;
    assert_eq!(
        sim.admin()
            .instance("i-bp1demoweb000000001")
            .unwrap()
            .status,
        "Running"
    );
    let (status, code, _) = call.err("StartInstance", &web).await;
    assert_eq!((status, code.as_str()), (403, "IncorrectInstanceStatus"));
    let (status, code, _) = call.err("StartInstance", &[("InstanceId", "i-nope")]).await;
    assert_eq!((status, code.as_str()), (404, "InvalidInstanceId.NotFound"));
}

#[tokio::test]
async fn image_progress_follows_the_profile_set_for_new_images_or_for_one_image() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let http = reqwest::Client::new();
    let admin = |path: &str, profile: &str| {
        http.post(format!("{}/__sim/images/{path}", sim.endpoint()))
            .json(&serde_json::json!({ "profile": profile }))
            .send()
    };
    let progress_of = |image_id: String| {
        let call = &call;
        async move {
            let image = call.image(&image_id).await;
            format!(
                "{} {}",
                image["Status"].as_str().unwrap(),
                image["Progress"].as_str().unwrap()
            )
        }
    };
    let create = |name: &'static str| {
        let call = &call;
        async move {
            call.ok(
                "CreateImage",
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("InstanceId", "i-bp1demoweb000000001"),
                    ("ImageName", name),
                ],
            )
            .await["ImageId"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };

    // Images made from now on stall at 0 % for nine tenths of their 100 s.
    let answer = admin("progress", "stalled").await.unwrap();
    assert_eq!(answer.status(), 200);
    let stalled = create("stalled-image").await;
    clock.advance(Duration::from_secs(89));
    assert_eq!(progress_of(stalled.clone()).await, "Creating 0%");
    clock.advance(Duration::from_secs(6));
    assert_eq!(progress_of(stalled.clone()).await, "Creating 50%");
    clock.advance(Duration::from_secs(5));
    assert_eq!(progress_of(stalled).await, "Available 100%");

    // One image's profile changes while it is built; the next keeps the stalled default.
    let quick = create("quick-image").await;
    let answer = admin(&format!("{quick}/progress"), "fast_then_slow")
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    clock.advance(Duration::from_secs(50));
    assert_eq!(progress_of(quick.clone()).await, "Creating 75%");
    let answer = admin(&format!("{quick}/progress"), "steps").await.unwrap();
    assert_eq!(answer.status(), 200);
    clock.advance(Duration::from_secs(10));
    assert_eq!(progress_of(quick).await, "Creating 50%");

    // An unknown profile or image is refused, naming it.
    let refused = admin("progress", "sideways").await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("sideways"));
    let unknown = admin("m-nope/progress", "linear").await.unwrap();
    assert_eq!(unknown.status(), 404);
}
