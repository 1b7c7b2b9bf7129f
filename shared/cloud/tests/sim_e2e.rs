//! Every typed ECS, ESS and STS operation of the client against the sim, over real HTTP with
//! real signatures: the sim verifies each signature exactly as the cloud does, so these tests
//! show that what the client sends is what the cloud accepts, and that the client reads what
//! the cloud answers.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use reimage_cloud::aliyun::credentials::{Credentials, RoleSpec, StaticProvider};
use reimage_cloud::aliyun::ecs::{
    CreateImageRequest, CreateSnapshotRequest, DeleteImageRequest, DeleteSnapshotRequest,
    DescribeDisksRequest, DescribeImagesRequest, DescribeInstancesRequest,
    DescribeSnapshotsRequest, DiskType, ImageStatus, InstanceStatus, SnapshotStatus,
};
use reimage_cloud::aliyun::ess::{
    DescribeScalingConfigurationsRequest, DescribeScalingGroupsRequest,
    ModifyScalingConfigurationRequest,
};
use reimage_cloud::aliyun::sts::AssumeRoleProvider;
use reimage_cloud::aliyun::sts::AssumeRoleRequest;
use reimage_cloud::aliyun::{
    Client, ClientConfig, Endpoints, ErrorKind, RetryPolicy, Service, Tag, Timeouts,
};
use reimage_cloud::clock::ManualClock;
use reimage_cloud::ids::SequentialIds;
use reimage_sim::Sim;

struct World {
    sim: Sim,
    clock: ManualClock,
    /// One nonce source for every client of a test: the sim refuses a nonce seen before,
    /// whoever sends it.
    ids: Arc<SequentialIds>,
}

async fn world() -> World {
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
            .single()
            .expect("valid time"),
    );
    let sim = Sim::builder()
        .clock(Arc::new(clock.clone()))
        .image_seconds(60)
        .start()
        .await
        .expect("sim starts");
    World {
        sim,
        clock,
        ids: Arc::new(SequentialIds::new("e2e-nonce")),
    }
}

impl World {
    fn client_as(&self, credentials: reimage_cloud::aliyun::SharedCredentialsProvider) -> Client {
        Client::new(ClientConfig {
            region_id: self.sim.region_id().to_owned(),
            endpoints: Endpoints::all_at(self.sim.endpoint()),
            credentials,
            clock: Arc::new(self.clock.clone()),
            ids: self.ids.clone(),
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(5),
                max_total: Duration::from_secs(30),
            },
            timeouts: Timeouts::default(),
            allow_plain_http: false,
        })
        .expect("client")
    }

    fn client(&self) -> Client {
        self.client_as(StaticProvider::shared(Credentials::access_key(
            self.sim.access_key_id(),
            self.sim.access_key_secret(),
        )))
    }

    fn later(&self, minutes: u64) {
        self.clock.advance(Duration::from_secs(minutes * 60));
    }
}

#[tokio::test]
async fn every_ecs_operation_against_the_sim() {
    let w = world().await;
    let c = w.client();
    let ecs = c.ecs();

    let all = ecs
        .describe_instances_all(&DescribeInstancesRequest::default())
        .await
        .expect("DescribeInstances");
    let source = all
        .iter()
        .find(|i| i.status == InstanceStatus::Running)
        .expect("the demo region has a running instance")
        .clone();
    let one = ecs
        .describe_instances(&DescribeInstancesRequest {
            instance_ids: vec![source.instance_id.clone()],
            ..Default::default()
        })
        .await
        .expect("DescribeInstances by id");
    assert_eq!(one.total_count, 1);
    assert_eq!(one.instances.instance[0].instance_id, source.instance_id);

    let disks = ecs
        .describe_disks(&DescribeDisksRequest {
            instance_id: Some(source.instance_id.clone()),
            disk_type: Some(DiskType::System),
            ..Default::default()
        })
        .await
        .expect("DescribeDisks");
    assert_eq!(disks.disks.disk.len(), 1);
    let system_disk = disks.disks.disk[0].clone();
    assert_eq!(system_disk.disk_type, DiskType::System);
    let by_id = ecs
        .describe_disks_all(&DescribeDisksRequest {
            disk_ids: vec![system_disk.disk_id.clone()],
            ..Default::default()
        })
        .await
        .expect("DescribeDisks by id");
    assert_eq!(by_id.len(), 1);

    let snap_req = CreateSnapshotRequest {
        disk_id: system_disk.disk_id.clone(),
        snapshot_name: Some("reimage-e2e-snapshot".into()),
        description: Some("system disk of the e2e source".into()),
        tags: vec![Tag::new("reimage:execution", "e2e-1")],
        client_token: Some("e2e-1-snapshot".into()),
    };
    let snap = ecs
        .create_snapshot(&snap_req)
        .await
        .expect("CreateSnapshot");
    assert!(snap.snapshot_id.starts_with("s-"), "{}", snap.snapshot_id);
    let again = ecs.create_snapshot(&snap_req).await.expect("replayed");
    assert_eq!(
        again.snapshot_id, snap.snapshot_id,
        "ClientToken makes it idempotent"
    );

    w.later(30);
    let snaps = ecs
        .describe_snapshots(&DescribeSnapshotsRequest {
            snapshot_ids: vec![snap.snapshot_id.clone()],
            ..Default::default()
        })
        .await
        .expect("DescribeSnapshots");
    let s = &snaps.snapshots.snapshot[0];
    assert_eq!(s.status, SnapshotStatus::Accomplished);
    assert_eq!(s.progress_percent(), Some(100));

    let image_req = CreateImageRequest {
        snapshot_id: Some(snap.snapshot_id.clone()),
        image_name: Some("reimage-e2e_on_e2e-1".into()),
        description: Some("made by the client e2e test".into()),
        tags: vec![Tag::new("reimage:task", "e2e")],
        client_token: Some("e2e-1-image".into()),
        ..Default::default()
    };
    let image = ecs.create_image(&image_req).await.expect("CreateImage");
    assert!(image.image_id.starts_with("m-"), "{}", image.image_id);
    let again = ecs.create_image(&image_req).await.expect("replayed");
    assert_eq!(again.image_id, image.image_id);

    let hidden = ecs
        .describe_images(&DescribeImagesRequest {
            image_id: Some(image.image_id.clone()),
            ..Default::default()
        })
        .await
        .expect("DescribeImages");
    assert_eq!(
        hidden.total_count, 0,
        "a Creating image is hidden without Status"
    );
    let creating = ecs
        .describe_images(&DescribeImagesRequest {
            image_id: Some(image.image_id.clone()),
            status: ImageStatus::ALL.to_vec(),
            ..Default::default()
        })
        .await
        .expect("DescribeImages with Status");
    assert_eq!(creating.images.image[0].status, ImageStatus::Creating);

    w.later(30);
    let ready = ecs
        .describe_images(&DescribeImagesRequest {
            image_id: Some(image.image_id.clone()),
            ..Default::default()
        })
        .await
        .expect("DescribeImages");
    let img = &ready.images.image[0];
    assert_eq!(img.status, ImageStatus::Available);
    assert_eq!(img.progress_percent(), Some(100));
    assert_eq!(img.image_name, "reimage-e2e_on_e2e-1");
    let own = ecs
        .describe_images_all(&DescribeImagesRequest {
            image_owner_alias: Some("self".into()),
            ..Default::default()
        })
        .await
        .expect("DescribeImages self");
    assert!(own.iter().any(|i| i.image_id == image.image_id));

    let dup = ecs
        .create_image(&CreateImageRequest {
            instance_id: Some(source.instance_id.clone()),
            image_name: Some("reimage-e2e_on_e2e-1".into()),
            ..Default::default()
        })
        .await
        .expect_err("name taken");
    assert_eq!(dup.code(), Some("InvalidImageName.Duplicated"));
    assert_eq!(dup.kind(), ErrorKind::Client);

    let spare = ecs
        .create_image(&CreateImageRequest {
            instance_id: Some(source.instance_id.clone()),
            image_name: Some("reimage-e2e-spare".into()),
            ..Default::default()
        })
        .await
        .expect("CreateImage from the instance");
    w.later(30);
    ecs.delete_image(&DeleteImageRequest {
        image_id: spare.image_id.clone(),
        force: Some(true),
    })
    .await
    .expect("DeleteImage");
    let gone = ecs
        .describe_images(&DescribeImagesRequest {
            image_id: Some(spare.image_id.clone()),
            status: ImageStatus::ALL.to_vec(),
            ..Default::default()
        })
        .await
        .expect("DescribeImages");
    assert_eq!(gone.total_count, 0);

    let lone = ecs
        .create_snapshot(&CreateSnapshotRequest {
            disk_id: system_disk.disk_id.clone(),
            snapshot_name: Some("reimage-e2e-lone".into()),
            ..Default::default()
        })
        .await
        .expect("CreateSnapshot");
    w.later(30);
    ecs.delete_snapshot(&DeleteSnapshotRequest {
        snapshot_id: lone.snapshot_id.clone(),
        force: None,
    })
    .await
    .expect("DeleteSnapshot");
    let left = ecs
        .describe_snapshots_all(&DescribeSnapshotsRequest {
            snapshot_ids: vec![lone.snapshot_id.clone()],
            ..Default::default()
        })
        .await
        .expect("DescribeSnapshots");
    assert!(left.is_empty());
    w.sim.shutdown().await;
}

#[tokio::test]
async fn every_ess_operation_against_the_sim() {
    let w = world().await;
    let c = w.client();
    let groups = c
        .ess()
        .describe_scaling_groups_all(&DescribeScalingGroupsRequest::default())
        .await
        .expect("DescribeScalingGroups");
    let ecs_group = groups
        .iter()
        .find(|g| g.group_type == "ECS" && !g.active_scaling_configuration_id.is_empty())
        .expect("an ECS group")
        .clone();
    assert!(
        groups.iter().any(|g| g.group_type == "ECI"),
        "the demo region has an ECI group"
    );
    let by_id = c
        .ess()
        .describe_scaling_groups(&DescribeScalingGroupsRequest {
            scaling_group_ids: vec![ecs_group.scaling_group_id.clone()],
            ..Default::default()
        })
        .await
        .expect("DescribeScalingGroups by id");
    assert_eq!(by_id.scaling_groups.scaling_group.len(), 1);

    let configs = c
        .ess()
        .describe_scaling_configurations_all(&DescribeScalingConfigurationsRequest {
            scaling_group_id: Some(ecs_group.scaling_group_id.clone()),
            ..Default::default()
        })
        .await
        .expect("DescribeScalingConfigurations");
    let active = configs
        .iter()
        .find(|cfg| cfg.scaling_configuration_id == ecs_group.active_scaling_configuration_id)
        .expect("the active configuration is listed")
        .clone();
    assert_eq!(active.lifecycle_state, "Active");

    // Twelve ids (some unknown) take two calls; the known one comes back once.
    let mut ids: Vec<String> = (0..11).map(|i| format!("asc-unknown{i:02}")).collect();
    ids.push(active.scaling_configuration_id.clone());
    let found = c
        .ess()
        .describe_scaling_configurations_all(&DescribeScalingConfigurationsRequest {
            scaling_configuration_ids: ids,
            ..Default::default()
        })
        .await
        .expect("split into two calls");
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].scaling_configuration_id,
        active.scaling_configuration_id
    );

    let images = c
        .ecs()
        .describe_images_all(&DescribeImagesRequest {
            image_owner_alias: Some("system".into()),
            ..Default::default()
        })
        .await
        .expect("DescribeImages system");
    let other = images
        .iter()
        .find(|i| i.image_id != active.image_id)
        .expect("another public image")
        .image_id
        .clone();
    c.ess()
        .modify_scaling_configuration(&ModifyScalingConfigurationRequest {
            scaling_configuration_id: active.scaling_configuration_id.clone(),
            image_id: Some(other.clone()),
            image_name: None,
        })
        .await
        .expect("ModifyScalingConfiguration");
    let after = c
        .ess()
        .describe_scaling_configurations(&DescribeScalingConfigurationsRequest {
            scaling_configuration_ids: vec![active.scaling_configuration_id.clone()],
            ..Default::default()
        })
        .await
        .expect("read back");
    assert_eq!(
        after.scaling_configurations.scaling_configuration[0].image_id,
        other
    );

    let err = c
        .ess()
        .modify_scaling_configuration(&ModifyScalingConfigurationRequest {
            scaling_configuration_id: active.scaling_configuration_id.clone(),
            image_id: Some("m-doesnotexist".into()),
            image_name: None,
        })
        .await
        .expect_err("unknown image");
    assert_eq!(err.code(), Some("InvalidImageId.NotFound"));
    assert_eq!(err.api().map(|a| a.status), Some(404));
    let err = c
        .ess()
        .modify_scaling_configuration(&ModifyScalingConfigurationRequest {
            scaling_configuration_id: "asc-doesnotexist".into(),
            image_id: Some(other),
            image_name: None,
        })
        .await
        .expect_err("unknown configuration");
    assert_eq!(err.code(), Some("InvalidScalingConfigurationId.NotFound"));
    w.sim.shutdown().await;
}

#[tokio::test]
async fn assume_role_round_trip_through_the_sim() {
    let w = world().await;
    let base = w.client();
    let role_arn = format!(
        "acs:ram::{}:role/reimage-updater",
        reimage_sim::Seed::demo().account_id
    );
    let answer = base
        .sts()
        .assume_role(&AssumeRoleRequest {
            role_arn: role_arn.clone(),
            role_session_name: "reimage-e2e".into(),
            duration_seconds: Some(900),
            policy: None,
        })
        .await
        .expect("AssumeRole");
    assert!(answer.credentials.access_key_id.starts_with("STS."));
    assert!(!answer.assumed_role_user.arn.is_empty());

    let provider = AssumeRoleProvider::shared(
        base.clone(),
        RoleSpec {
            role_arn,
            role_session_name: "reimage-e2e".into(),
            duration_seconds: 900,
        },
    );
    let as_role = w.client_as(provider.clone());
    let r = as_role
        .ecs()
        .describe_instances(&DescribeInstancesRequest::default())
        .await
        .expect("the sim accepts the STS token it issued");
    assert!(r.total_count > 0);
    let creds = provider.credentials().await.expect("cached");
    assert!(creds.security_token().is_some());

    // A token the sim issued stops working once it expires, and the provider renews it.
    let stale = w.client_as(StaticProvider::shared(creds.clone()));
    w.later(16);
    let err = stale
        .ecs()
        .describe_instances(&DescribeInstancesRequest::default())
        .await
        .expect_err("expired token");
    assert_eq!(err.kind(), ErrorKind::Client, "{err}");
    as_role
        .ecs()
        .describe_instances(&DescribeInstancesRequest::default())
        .await
        .expect("renewed before expiry");
    let renewed = provider.credentials().await.expect("renewed");
    assert_ne!(renewed.access_key_id(), creds.access_key_id());
    w.sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_secret_fails_with_signature_does_not_match_and_is_not_retried() {
    let w = world().await;
    let c = w.client_as(StaticProvider::shared(Credentials::access_key(
        w.sim.access_key_id(),
        "not-the-secret",
    )));
    let err = c
        .ecs()
        .describe_instances(&DescribeInstancesRequest::default())
        .await
        .expect_err("bad signature");
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Client);
    assert_eq!(
        w.sim.admin().calls_since_reset("DescribeInstances"),
        1,
        "not retried"
    );
    assert!(!format!("{err:?}").contains("not-the-secret"));
    w.sim.shutdown().await;
}

#[tokio::test]
async fn throttling_from_the_sim_is_retried_and_passes() {
    let w = world().await;
    w.sim
        .admin()
        .fail_next("DescribeImages", "Throttling.User", 400, 2)
        .expect("fault");
    let r = w
        .client()
        .ecs()
        .describe_images(&DescribeImagesRequest::default())
        .await
        .expect("third attempt passes");
    assert!(r.total_count > 0);
    assert_eq!(w.sim.admin().calls_since_reset("DescribeImages"), 3);
    let raw = w
        .client()
        .rpc(
            Service::Ecs,
            "DescribeNothing",
            [("RegionId", w.sim.region_id())],
        )
        .await
        .expect_err("unknown action");
    assert_eq!(raw.code(), Some("InvalidAction.NotFound"));
    w.sim.shutdown().await;
}
