//! The image update of scaling groups that launch from an ECS launch template, end to end
//! against `sim`: a group pinned to a version, one on `Latest`, one on `Default` (refused,
//! then allowed), a task mixing configurations and groups, a failure after the swap rolled
//! back with the versions it made deleted, the 30-version limit, a version's data kept byte
//! for byte, and a crash at every cloud call.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::TimeZone;
use reimage::aliyun::Client;
use reimage::clock::{ManualClock, SharedClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::RandomIds;
use reimage::model::{ExecutionId, PermissionSource, State, StepRecord, UpdateRequest};
use reimage::steps::cloud::SharedCloud;
use reimage::steps::testing::{CrashPoint, CrashingCloud, run_through_crashes};
use reimage::steps::{AliyunCloud, Engine, SameCloud};
use reimage::store::SharedStore;
use reimage::store::memory::MemoryStore;
use reimage_sim::Sim;
use reimage_sim::ecs::seeding::{SeedLaunchTemplate, SeedTemplateVersion};
use reimage_sim::ess::state::GroupLaunchTemplate;

const WEB_INSTANCE: &str = "i-bp1demoweb000000001";
const WEB_ACTIVE: &str = "asc-bp1demoweb0000001";
const WEB_GROUP: &str = "asg-bp1demoweb0000001";
const API_GROUP: &str = "asg-bp1demoapi0000001";
const OLD_IMAGE: &str = "ubuntu_22_04_x64_20G_alibase_20240101.vhd";
/// User data that is not text: every byte value, Base64 as the API carries it.
const USER_DATA: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==";

struct Rig {
    sim: Sim,
    clock: ManualClock,
    local: Arc<LocalDispatcher>,
    engine: Engine,
}

async fn rig_with(wrap: impl FnOnce(SharedCloud) -> SharedCloud) -> Rig {
    let clock = ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 11, 29, 9, 0, 0).unwrap());
    let sim = Sim::builder()
        .clock(Arc::new(clock.clone()))
        .image_seconds(300)
        .start()
        .await
        .expect("sim starts");
    let mut config = sim.client_config();
    config.clock = Arc::new(clock.clone());
    config.ids = Arc::new(RandomIds);
    let client = Client::new(config).expect("client");
    let store: SharedStore = Arc::new(MemoryStore::new());
    let shared: SharedClock = Arc::new(clock.clone());
    let local = Arc::new(LocalDispatcher::new(shared.clone()));
    let cloud = wrap(Arc::new(AliyunCloud::new(client)));
    let engine = Engine::new(
        store,
        shared,
        Arc::new(RandomIds),
        local.clone(),
        Arc::new(SameCloud(cloud)),
    );
    Rig {
        sim,
        clock,
        local,
        engine,
    }
}

async fn rig() -> Rig {
    rig_with(|c| c).await
}

/// A version with data disks, user data, tags, security options and more: what a copy must
/// keep, byte for byte.
fn rich_version(image: &str, description: &str) -> SeedTemplateVersion {
    let parameters: BTreeMap<String, String> = [
        ("DataDisk.1.Size", "100"),
        ("DataDisk.1.Category", "cloud_essd"),
        ("DataDisk.1.PerformanceLevel", "PL1"),
        ("DataDisk.1.DeleteWithInstance", "true"),
        ("DataDisk.2.Size", "500"),
        ("DataDisk.2.Category", "cloud_efficiency"),
        ("UserData", USER_DATA),
        ("Tag.1.Key", "team"),
        ("Tag.1.Value", "web"),
        ("SecurityOptions.TrustedSystemMode", "vTPM"),
        ("InternetMaxBandwidthOut", "10"),
        ("HostName", "web-node"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    SeedTemplateVersion {
        image_id: Some(image.into()),
        instance_type: Some("ecs.g7.large".into()),
        security_group_id: Some("sg-bp1demoweb00000001".into()),
        vswitch_id: Some("vsw-bp1demowebh000001".into()),
        system_disk_category: Some("cloud_essd".into()),
        system_disk_size: Some(40),
        version_description: Some(description.into()),
        parameters,
    }
}

impl Rig {
    /// A template of `versions` rich versions (default `default`), and `groups` launching
    /// from it, each naming its version.
    fn template(&self, versions: usize, default: i64, groups: &[(&str, &str)]) -> String {
        let admin = self.sim.admin();
        let id = admin
            .create_launch_template(&SeedLaunchTemplate {
                launch_template_name: "web-template".into(),
                versions: (1..=versions)
                    .map(|n| rich_version(OLD_IMAGE, &format!("version {n} by hand")))
                    .collect(),
                default_version: Some(default),
                ..SeedLaunchTemplate::default()
            })
            .expect("template");
        for (group, version) in groups {
            admin
                .set_group_launch_template(
                    group,
                    &GroupLaunchTemplate {
                        launch_template_id: id.clone(),
                        launch_template_version: (*version).into(),
                        overrides: Vec::new(),
                    },
                )
                .expect("group on the template");
        }
        id
    }

    /// Each version's number, image and description, and the default.
    fn versions(&self, template: &str) -> (Vec<(i64, String, String)>, i64) {
        let region = self.sim.state().region();
        let t = region
            .ecs
            .launch_templates
            .iter()
            .find(|t| t.launch_template_id == template)
            .expect("template");
        (
            t.versions
                .iter()
                .map(|v| {
                    (
                        v.version_number,
                        v.data.image_id.clone().unwrap_or_default(),
                        v.version_description.clone(),
                    )
                })
                .collect(),
            t.default_version_number,
        )
    }

    /// Version `n`'s data with its image taken out.
    fn data_without_image(
        &self,
        template: &str,
        n: i64,
    ) -> reimage_sim::ecs::templates::TemplateData {
        let region = self.sim.state().region();
        let t = region
            .ecs
            .launch_templates
            .iter()
            .find(|t| t.launch_template_id == template)
            .expect("template");
        let mut data = t.version(n).expect("version").data.clone();
        data.image_id = None;
        data
    }

    fn group_version(&self, group: &str) -> String {
        let region = self.sim.state().region();
        region
            .ess
            .group(group)
            .and_then(|g| g.launch_template.clone())
            .expect("a template group")
            .launch_template_version
    }

    async fn run(&self, request: UpdateRequest) -> StepRecord {
        let record = self.engine.start_new(request).await.expect("start");
        let report = self.local.run_until_idle(&self.engine).await;
        assert!(report.dropped.is_empty(), "{report:?}");
        self.engine
            .get(&record.execution_id)
            .await
            .expect("read")
            .expect("exists")
    }
}

fn request(configs: &[&str], groups: &[&str], allow_default: bool) -> UpdateRequest {
    UpdateRequest {
        instance_id: WEB_INSTANCE.into(),
        image_name: None,
        configuration_ids: configs.iter().map(|c| (*c).to_owned()).collect(),
        permission: PermissionSource::Account,
        task_id: None,
        rollout: None,
        allow_platform_change: false,
        scaling_group_ids: groups.iter().map(|g| (*g).to_owned()).collect(),
        allow_default_version_change: allow_default,
    }
}

fn failure_reason(record: &StepRecord) -> String {
    match &record.state {
        State::Failed(f) => f.to_string(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn own_images(sim: &Sim) -> usize {
    sim.admin()
        .state()
        .images
        .iter()
        .filter(|i| i.owner_alias == "self")
        .count()
}

#[tokio::test]
async fn a_pinned_group_gets_a_copy_of_its_version_with_only_the_image_changed() {
    let rig = rig().await;
    let template = rig.template(3, 1, &[(API_GROUP, "2")]);
    let last = rig.run(request(&[], &[API_GROUP], false)).await;
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    let image = last.learned.image_id.clone().unwrap();
    let (versions, default) = rig.versions(&template);
    assert_eq!(versions.len(), 4);
    let (number, version_image, description) = versions[3].clone();
    assert_eq!(number, 4);
    assert_eq!(version_image, image);
    assert_eq!(
        description,
        format!("reimage {} from version 2", last.execution_id)
    );
    assert_eq!(rig.group_version(API_GROUP), "4");
    assert_eq!(default, 1, "the default is not touched");
    // Every field of version 2 is in version 4: disks, user data, tags, options.
    assert_eq!(
        rig.data_without_image(&template, 4),
        rig.data_without_image(&template, 2)
    );
    let copy = rig.data_without_image(&template, 4);
    assert_eq!(
        copy.other.get("UserData").map(String::as_str),
        Some(USER_DATA)
    );
    assert_eq!(copy.data_disks.len(), 2);
    // The old version's image is what the record remembers.
    let previous = last.learned.previous_templates.clone().unwrap();
    assert_eq!(previous[0].source_version, 2);
    assert_eq!(previous[0].image_id, OLD_IMAGE);
}

#[tokio::test]
async fn a_latest_group_needs_no_change_and_its_latest_version_holds_the_image() {
    let rig = rig().await;
    let template = rig.template(2, 1, &[(API_GROUP, "Latest")]);
    let last = rig.run(request(&[], &[API_GROUP], false)).await;
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    let (versions, default) = rig.versions(&template);
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[2].1, last.learned.image_id.clone().unwrap());
    assert_eq!(rig.group_version(API_GROUP), "Latest");
    assert_eq!(default, 1);
    assert_eq!(
        rig.sim.admin().calls().total.get("ModifyScalingGroup"),
        None
    );
}

#[tokio::test]
async fn a_default_group_is_refused_naming_the_other_users_then_allowed() {
    let rig = rig().await;
    let template = rig.template(2, 2, &[(API_GROUP, "Default"), (WEB_GROUP, "Default")]);
    let refused = rig.run(request(&[], &[API_GROUP], false)).await;
    let reason = failure_reason(&refused);
    assert!(
        reason.contains("default version of launch template")
            && reason.contains(WEB_GROUP)
            && reason.contains("allow_default_version_change"),
        "{reason}"
    );
    assert_eq!(own_images(&rig.sim), 0, "refused before any image was made");
    assert_eq!(rig.versions(&template).0.len(), 2);

    let allowed = rig.run(request(&[], &[API_GROUP], true)).await;
    assert_eq!(allowed.state, State::Succeeded, "{allowed:#?}");
    let (versions, default) = rig.versions(&template);
    assert_eq!(versions.len(), 3);
    assert_eq!(default, 3, "the default is the new version");
    assert_eq!(versions[2].1, allowed.learned.image_id.clone().unwrap());
    assert_eq!(rig.group_version(API_GROUP), "Default");
}

#[tokio::test]
async fn a_mixed_request_updates_a_configuration_and_a_group_together() {
    let rig = rig().await;
    let template = rig.template(1, 1, &[(API_GROUP, "1")]);
    let last = rig.run(request(&[WEB_ACTIVE], &[API_GROUP], false)).await;
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    let image = last.learned.image_id.clone().unwrap();
    assert_eq!(
        rig.sim
            .admin()
            .scaling_configuration(WEB_ACTIVE)
            .unwrap()
            .image_id,
        image
    );
    assert_eq!(rig.group_version(API_GROUP), "2");
    assert_eq!(rig.versions(&template).0[1].1, image);
}

#[tokio::test]
async fn a_failure_after_the_swap_puts_everything_back_and_deletes_the_versions_made() {
    let rig = rig().await;
    // The web group on the template's default (allowed), the api group pinned; the pinned
    // group's ModifyScalingGroup is refused after the default has moved.
    let template = rig.template(2, 1, &[(WEB_GROUP, "Default"), (API_GROUP, "2")]);
    rig.sim
        .admin()
        .fail_next("ModifyScalingGroup", "Forbidden.Unauthorized", 403, 1)
        .unwrap();
    let last = rig
        .run(request(&[WEB_ACTIVE], &[WEB_GROUP, API_GROUP], true))
        .await;
    let reason = failure_reason(&last);
    assert!(
        reason.contains("pointing scaling group asg-bp1demoapi0000001"),
        "{reason}"
    );
    let (versions, default) = rig.versions(&template);
    assert_eq!(
        versions.len(),
        2,
        "both versions made were deleted: {versions:?}"
    );
    assert_eq!(default, 1, "the default is back");
    assert_eq!(rig.group_version(API_GROUP), "2");
    assert_eq!(rig.group_version(WEB_GROUP), "Default");
    assert_eq!(
        rig.sim
            .admin()
            .scaling_configuration(WEB_ACTIVE)
            .unwrap()
            .image_id,
        OLD_IMAGE,
        "the configuration is back"
    );
}

#[tokio::test]
async fn a_template_at_thirty_versions_is_refused_before_anything_is_made() {
    let rig = rig().await;
    let template = rig.template(30, 1, &[(API_GROUP, "30")]);
    let last = rig.run(request(&[WEB_ACTIVE], &[API_GROUP], false)).await;
    let reason = failure_reason(&last);
    assert!(
        reason.contains(&format!("launch template {template}"))
            && reason.contains("holds 30 versions and may hold at most 30"),
        "{reason}"
    );
    assert_eq!(own_images(&rig.sim), 0);
    assert_eq!(rig.sim.state().region().ecs.snapshots.len(), 0);
    assert_eq!(
        rig.sim
            .admin()
            .scaling_configuration(WEB_ACTIVE)
            .unwrap()
            .image_id,
        OLD_IMAGE
    );
}

#[tokio::test]
async fn a_group_on_configurations_or_an_unknown_group_is_named() {
    let rig = rig().await;
    let last = rig
        .run(request(&[], &[API_GROUP, "asg-bp1nosuchgroup0001"], false))
        .await;
    let reason = failure_reason(&last);
    assert!(
        reason.contains(&format!(
            "scaling group {API_GROUP} launches from scaling configurations"
        )) && reason.contains("asg-bp1nosuchgroup0001 is disabled or missing"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_crash_before_or_after_each_cloud_call_then_a_replay_makes_one_version() {
    let counter = Arc::new(std::sync::Mutex::new(None::<Arc<CrashingCloud>>));
    let c = counter.clone();
    let clean = rig_with(move |inner| {
        let counting = CrashingCloud::new(inner, 0, CrashPoint::Before);
        *c.lock().unwrap() = Some(counting.clone());
        counting
    })
    .await;
    let template = clean.template(2, 1, &[(API_GROUP, "2"), (WEB_GROUP, "Latest")]);
    let last = clean
        .run(request(&[WEB_ACTIVE], &[API_GROUP, WEB_GROUP], false))
        .await;
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    assert_eq!(clean.versions(&template).0.len(), 3);
    let total = counter.lock().unwrap().as_ref().unwrap().calls();

    for n in 1..=total {
        for point in [CrashPoint::Before, CrashPoint::After] {
            let rig = rig_with(move |inner| CrashingCloud::new(inner, n, point)).await;
            let template = rig.template(2, 1, &[(API_GROUP, "2"), (WEB_GROUP, "Latest")]);
            let id = ExecutionId::derived(&format!("template-crash-{n}-{point:?}"));
            let (last, crashes) = run_through_crashes(
                &rig.engine,
                &rig.local,
                &rig.clock,
                request(&[WEB_ACTIVE], &[API_GROUP, WEB_GROUP], false),
                id,
            )
            .await;
            let context = format!("crash {point:?} cloud call {n} of {total}");
            assert_eq!(crashes, 1, "{context}");
            assert_eq!(last.state, State::Succeeded, "{context}: {last:#?}");
            let image = last.learned.image_id.clone().unwrap();
            let (versions, default) = rig.versions(&template);
            assert_eq!(
                versions.len(),
                3,
                "{context}: one version made: {versions:?}"
            );
            assert_eq!(versions[2].1, image, "{context}");
            assert_eq!(default, 1, "{context}");
            assert_eq!(rig.group_version(API_GROUP), "3", "{context}");
            assert_eq!(rig.group_version(WEB_GROUP), "Latest", "{context}");
            assert_eq!(own_images(&rig.sim), 1, "{context}");
        }
    }
}

#[tokio::test]
async fn the_manual_update_of_a_group_follows_the_same_rules() {
    let rig = rig().await;
    let template = rig.template(2, 1, &[(API_GROUP, "2"), (WEB_GROUP, "Default")]);
    let mut config = rig.sim.client_config();
    config.clock = Arc::new(rig.clock.clone());
    let cloud = AliyunCloud::new(Client::new(config).unwrap());
    const OTHER: &str = "ubuntu_22_04_x64_20G_alibase_20231120.vhd";

    let set = reimage::api::set_launch_template_group_image(&cloud, API_GROUP, OTHER, false)
        .await
        .expect("set");
    assert_eq!(
        (set.previous_version, set.new_version, set.version.as_str()),
        (2, 3, "2")
    );
    assert_eq!(set.previous_image_id, OLD_IMAGE);
    assert_eq!(rig.group_version(API_GROUP), "3");
    assert_eq!(rig.versions(&template).0[2].1, OTHER);
    assert_eq!(
        rig.data_without_image(&template, 3),
        rig.data_without_image(&template, 2)
    );
    // Asked again: the version it launches holds the image; nothing is made.
    let again = reimage::api::set_launch_template_group_image(&cloud, API_GROUP, OTHER, false)
        .await
        .expect("set again");
    assert_eq!((again.previous_version, again.new_version), (3, 3));
    assert_eq!(rig.versions(&template).0.len(), 3);

    // The default's group is refused, naming the other user, until allowed.
    let refused = reimage::api::set_launch_template_group_image(&cloud, WEB_GROUP, OTHER, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(API_GROUP) && refused.contains("allow_default_version_change"),
        "{refused}"
    );
    assert_eq!(rig.versions(&template).1, 1);
    let moved = reimage::api::set_launch_template_group_image(&cloud, WEB_GROUP, OTHER, true)
        .await
        .expect("allowed");
    assert_eq!(rig.versions(&template).1, moved.new_version);
    // An image that does not exist is named before anything changes.
    let missing =
        reimage::api::set_launch_template_group_image(&cloud, API_GROUP, "m-nope0000000000", false)
            .await
            .unwrap_err();
    assert_eq!(
        missing,
        reimage::api::ManualUpdateError::ImageNotFound("m-nope0000000000".into())
    );
}

#[tokio::test]
async fn putting_back_undoes_only_the_executions_change_and_keeps_a_version_in_use() {
    use reimage::model::PreviousTemplate;
    let rig = rig().await;
    let execution = ExecutionId::derived("shared-version");
    let source = |group: &str| PreviousTemplate {
        group_id: group.into(),
        launch_template_id: String::new(),
        version: "1".into(),
        source_version: 1,
        default_version: 1,
        image_id: OLD_IMAGE.into(),
    };
    let ours = source(API_GROUP).new_version_description(&execution);
    // Version 2 is the execution's; both groups launch it.
    let admin = rig.sim.admin();
    let template = admin
        .create_launch_template(&SeedLaunchTemplate {
            launch_template_name: "shared".into(),
            versions: vec![
                rich_version(OLD_IMAGE, "by hand"),
                rich_version("m-new", &ours),
            ],
            default_version: Some(1),
            ..SeedLaunchTemplate::default()
        })
        .unwrap();
    for group in [API_GROUP, WEB_GROUP] {
        admin
            .set_group_launch_template(
                group,
                &GroupLaunchTemplate {
                    launch_template_id: template.clone(),
                    launch_template_version: "2".into(),
                    overrides: Vec::new(),
                },
            )
            .unwrap();
    }
    let mut config = rig.sim.client_config();
    config.clock = Arc::new(rig.clock.clone());
    let cloud = AliyunCloud::new(Client::new(config).unwrap());
    let of = |group: &str| PreviousTemplate {
        launch_template_id: template.clone(),
        ..source(group)
    };

    // One group put back (a rollout's rollback): the version stays, the other group uses it.
    let left = reimage::steps::templates::put_back(&cloud, &execution, &[of(API_GROUP)]).await;
    assert_eq!(rig.group_version(API_GROUP), "1");
    assert_eq!(rig.group_version(WEB_GROUP), "2");
    assert_eq!(rig.versions(&template).0.len(), 2);
    assert!(
        left.len() == 1 && left[0].contains(&format!("scaling group(s) {WEB_GROUP} launch it")),
        "{left:?}"
    );

    // The other group moved on to a version of someone else's since: left as it is; once
    // nothing launches the execution's version, it is deleted.
    admin
        .set_group_launch_template(
            WEB_GROUP,
            &GroupLaunchTemplate {
                launch_template_id: template.clone(),
                launch_template_version: "1".into(),
                overrides: Vec::new(),
            },
        )
        .unwrap();
    let left = reimage::steps::templates::put_back(&cloud, &execution, &[of(WEB_GROUP)]).await;
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(rig.group_version(WEB_GROUP), "1");
    assert_eq!(
        rig.versions(&template).0.len(),
        1,
        "the execution's version is gone"
    );
}

#[tokio::test]
async fn a_latest_user_outside_the_request_is_refused_until_allowed_and_latest_goes_last() {
    let rig = rig().await;
    // The web group, not in the request, launches the template's latest version.
    let template = rig.template(2, 1, &[(API_GROUP, "1"), (WEB_GROUP, "Latest")]);
    let refused = rig.run(request(&[], &[API_GROUP], false)).await;
    let reason = failure_reason(&refused);
    assert!(
        reason.contains(&format!(
            "scaling group(s) {WEB_GROUP} on its Latest version"
        )),
        "{reason}"
    );
    assert_eq!(rig.versions(&template).0.len(), 2);

    // Both in the request, the Latest group listed first: its copy is still made last, so
    // that the latest version is the copy of its own version, not of the pinned group's.
    let last = rig.run(request(&[], &[WEB_GROUP, API_GROUP], false)).await;
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    let (versions, _) = rig.versions(&template);
    assert_eq!(versions.len(), 4);
    assert!(versions[2].2.ends_with("from version 1"), "{versions:?}");
    assert!(versions[3].2.ends_with("from version 2"), "{versions:?}");
    assert_eq!(rig.group_version(API_GROUP), "3");
    assert_eq!(rig.group_version(WEB_GROUP), "Latest");
    assert_eq!(
        rig.data_without_image(&template, 4),
        rig.data_without_image(&template, 2)
    );
}
