//! The image update pipeline end to end against `sim`: real HTTP, real signatures, the file
//! store, the local dispatcher, and a ManualClock shared by the sim and the engine so that
//! a ten-minute image build passes in milliseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::TimeZone;
use reimage::aliyun::Client;
use reimage::clock::{Clock, ManualClock, SharedClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::RandomIds;
use reimage::model::{
    ExecutionId, Failure, PermissionSource, State, Step, StepRecord, UpdateRequest,
};
use reimage::steps::cloud::{
    Cloud, CloudFuture, Creation, DryRun, Image, Instance, RunInstancesRequest,
    ScalingConfiguration, ScalingGroup, SharedCloud, Snapshot, TAG_EXECUTION, TAG_MANAGED,
};
use reimage::steps::testing::{CrashPoint, CrashingCloud, CrashingStore, run_through_crashes};
use reimage::steps::{AliyunCloud, AliyunClouds, CloudProvider, Engine, Handled, SameCloud};
use reimage::store::SharedStore;
use reimage::store::file::FileStore;
use reimage_sim::Sim;

const WEB_INSTANCE: &str = "i-bp1demoweb000000001";
const WEB_SYSTEM_DISK: &str = "d-bp1demowebsys000001";
const API_INSTANCE: &str = "i-bp1demoapi000000001";
const WEB_ACTIVE: &str = "asc-bp1demoweb0000001";
const WEB_INACTIVE: &str = "asc-bp1demoweb0000002";
const API_ACTIVE: &str = "asc-bp1demoapi0000001";
const ECI_CONFIG: &str = "asc-bp1demoeci0000001";
const ROLE_ARN: &str = "acs:ram::1234567890123456:role/reimage-updater";
const IMAGE_SECONDS: u64 = 600;

struct Rig {
    sim: Sim,
    clock: ManualClock,
    store: SharedStore,
    local: Arc<LocalDispatcher>,
    engine: Engine,
    _dir: tempfile::TempDir,
}

fn clock() -> ManualClock {
    ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap())
}

async fn start_sim(clock: &ManualClock) -> Sim {
    Sim::builder()
        .clock(Arc::new(clock.clone()))
        .image_seconds(IMAGE_SECONDS)
        .start()
        .await
        .expect("sim starts")
}

fn client(sim: &Sim, clock: &ManualClock) -> Client {
    let mut config = sim.client_config();
    config.clock = Arc::new(clock.clone());
    config.ids = Arc::new(RandomIds);
    Client::new(config).expect("client")
}

/// A rig whose engine reaches the sim through `wrap(AliyunCloud)` (crash injection, hooks)
/// and stores records through `wrap_store(FileStore)`.
async fn rig_with(
    wrap: impl FnOnce(SharedCloud) -> SharedCloud,
    wrap_store: impl FnOnce(SharedStore) -> SharedStore,
) -> Rig {
    let clock = clock();
    let sim = start_sim(&clock).await;
    let client = client(&sim, &clock);
    let dir = tempfile::tempdir().expect("temp dir");
    let store: SharedStore = Arc::new(FileStore::open(dir.path().join("state")).expect("store"));
    let cloud = wrap(Arc::new(AliyunCloud::new(client.clone())));
    rig_on(
        sim,
        clock,
        wrap_store(store),
        Arc::new(SameCloud(cloud)),
        dir,
    )
}

fn rig_on(
    sim: Sim,
    clock: ManualClock,
    store: SharedStore,
    clouds: Arc<dyn CloudProvider>,
    dir: tempfile::TempDir,
) -> Rig {
    let shared: SharedClock = Arc::new(clock.clone());
    let local = Arc::new(LocalDispatcher::new(shared.clone()));
    let engine = Engine::new(
        store.clone(),
        shared,
        Arc::new(RandomIds),
        local.clone(),
        clouds,
    );
    Rig {
        sim,
        clock,
        store,
        local,
        engine,
        _dir: dir,
    }
}

async fn rig() -> Rig {
    rig_with(|c| c, |s| s).await
}

fn request(instance: &str, configs: &[&str]) -> UpdateRequest {
    UpdateRequest {
        scaling_group_ids: Vec::new(),
        allow_default_version_change: false,
        instance_id: instance.into(),
        image_name: None,
        configuration_ids: configs.iter().map(|c| (*c).to_owned()).collect(),
        permission: PermissionSource::Account,
        task_id: None,
        rollout: None,
        allow_platform_change: false,
    }
}

async fn run(rig: &Rig, request: UpdateRequest) -> StepRecord {
    let record = rig.engine.start_new(request).await.expect("start");
    let report = rig.local.run_until_idle(&rig.engine).await;
    assert!(report.dropped.is_empty(), "{report:?}");
    rig.engine
        .get(&record.execution_id)
        .await
        .expect("read")
        .expect("exists")
}

fn failure(record: &StepRecord) -> &Failure {
    match &record.state {
        State::Failed(failure) => failure,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn calls(sim: &Sim, action: &str) -> u64 {
    sim.admin().calls().total.get(action).copied().unwrap_or(0)
}

fn config_image(sim: &Sim, id: &str) -> String {
    sim.admin()
        .scaling_configuration(id)
        .expect("configuration exists")
        .image_id
}

fn own_images(sim: &Sim) -> Vec<reimage_sim::admin::ImageView> {
    sim.admin()
        .state()
        .images
        .into_iter()
        .filter(|i| i.owner_alias == "self")
        .collect()
}

/// Exactly one snapshot of the system disk, one image made from it, named as the record
/// says, Available, and in every configuration; each configuration changed once.
fn assert_one_of_each(rig: &Rig, last: &StepRecord, configs: &[&str], context: &str) {
    assert_eq!(last.state, State::Succeeded, "{context}: {last:#?}");
    let sim = &rig.sim;
    let snapshots = sim.admin().state().snapshots;
    assert_eq!(snapshots.len(), 1, "{context}: {snapshots:?}");
    assert_eq!(snapshots[0].source_disk_id, WEB_SYSTEM_DISK, "{context}");
    assert_eq!(snapshots[0].source_disk_type, "system", "{context}");
    let images = own_images(sim);
    assert_eq!(images.len(), 1, "{context}: {images:?}");
    let image = &images[0];
    assert_eq!(
        Some(&image.image_id),
        last.learned.image_id.as_ref(),
        "{context}"
    );
    assert_eq!(image.image_name, last.image_name, "{context}");
    assert_eq!(image.status, "Available", "{context}");
    assert_eq!(
        image.snapshot_ids,
        vec![snapshots[0].snapshot_id.clone()],
        "{context}"
    );
    // Both carry reimage's tags from their creation, whichever invocation made them.
    let mine = [
        (TAG_MANAGED.to_owned(), "true".to_owned()),
        (TAG_EXECUTION.to_owned(), last.execution_id.to_string()),
    ];
    for tags in [&image.tags, &snapshots[0].tags] {
        assert!(
            mine.iter().all(|tag| tags.contains(tag)),
            "{context}: {tags:?}"
        );
    }
    for config in configs {
        assert_eq!(
            config_image(sim, config),
            image.image_id,
            "{context}: {config}"
        );
    }
    assert_eq!(
        calls(sim, "ModifyScalingConfiguration"),
        configs.len() as u64,
        "{context}: each configuration swapped once"
    );
}

#[tokio::test]
async fn success_onto_an_active_and_an_inactive_configuration() {
    let rig = rig().await;
    let before_inactive = rig.sim.admin().scaling_configuration(WEB_INACTIVE).unwrap();
    assert_eq!(before_inactive.lifecycle_state, "Inactive");
    let before_active = config_image(&rig.sim, WEB_ACTIVE);
    let last = run(&rig, request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE])).await;
    assert_one_of_each(&rig, &last, &[WEB_ACTIVE, WEB_INACTIVE], "success");
    let previous = last.learned.previous_images.clone().unwrap();
    assert_eq!(previous[0].image_id, before_active);
    assert_eq!(previous[1].image_id, before_inactive.image_id);
    assert!(
        last.image_name
            .starts_with(&format!("UpdateImage_from_{WEB_INSTANCE}_on_exec-"))
    );
    // Polled, never slept on: the swap came after the 600 s build.
    let built = last.learned.image_available_at.unwrap() - last.learned.image_requested_at.unwrap();
    assert!(
        built >= chrono::Duration::seconds(IMAGE_SECONDS as i64),
        "{built}"
    );
    assert!(calls(&rig.sim, "DescribeImages") >= 2);
    // The pre-flight's dry runs: one launch per configuration, each passing on its first type.
    assert_eq!(calls(&rig.sim, "RunInstances"), 2);
    // The records are files in the state directory, one per transition.
    let keys = rig.store.list(&last.execution_id.prefix()).await.unwrap();
    assert_eq!(keys.len() as u64, last.seq + 1);
}

#[tokio::test]
async fn success_with_a_ram_role_assumed_through_sts() {
    let clock = clock();
    let sim = start_sim(&clock).await;
    let client = client(&sim, &clock);
    let dir = tempfile::tempdir().unwrap();
    let store: SharedStore = Arc::new(FileStore::open(dir.path()).unwrap());
    let clouds = Arc::new(AliyunClouds::new(client.clone()));
    let rig = rig_on(sim, clock, store, clouds, dir);
    let mut req = request(WEB_INSTANCE, &[WEB_ACTIVE]);
    req.permission = PermissionSource::RamRole {
        role_arn: ROLE_ARN.into(),
    };
    let last = run(&rig, req).await;
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    assert!(calls(&rig.sim, "AssumeRole") >= 1);

    // A role the account does not have fails the execution with the reason, before any
    // snapshot exists.
    let mut req = request(WEB_INSTANCE, &[WEB_ACTIVE]);
    req.permission = PermissionSource::RamRole {
        role_arn: "acs:ram::1234567890123456:role/nobody".into(),
    };
    let last = run(&rig, req).await;
    let failure = failure(&last);
    assert_eq!(failure.step, Step::CreateImage);
    assert!(failure.cloud.is_some(), "{failure:?}");
    assert_eq!(rig.sim.admin().state().snapshots.len(), 1);
}

#[tokio::test]
async fn a_stopped_instance_is_allowed() {
    let rig = rig().await;
    assert_eq!(
        rig.sim.admin().instance(API_INSTANCE).unwrap().status,
        "Stopped"
    );
    let last = run(&rig, request(API_INSTANCE, &[API_ACTIVE])).await;
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    assert_eq!(
        Some(config_image(&rig.sim, API_ACTIVE)),
        last.learned.image_id
    );
}

#[tokio::test]
async fn an_eci_group_is_refused_before_any_snapshot_exists() {
    let rig = rig().await;
    let last = run(&rig, request(WEB_INSTANCE, &[WEB_ACTIVE, ECI_CONFIG])).await;
    let failure = failure(&last);
    assert_eq!(failure.step, Step::CreateImage);
    assert!(
        failure.reason.contains(ECI_CONFIG) && failure.reason.contains("ECI"),
        "{failure:?}"
    );
    assert_eq!(calls(&rig.sim, "CreateSnapshot"), 0);
    assert!(rig.sim.admin().state().snapshots.is_empty());
    // DescribeScalingConfigurations does not answer ECI configurations: found by their own
    // operation, and refused by type rather than called missing.
    assert_eq!(calls(&rig.sim, "DescribeEciScalingConfigurations"), 1);
    assert_eq!(
        failure.reason,
        format!(
            "scaling configuration {ECI_CONFIG} belongs to scaling group asg-bp1demoeci0000001 \
             of type ECI; only ECS-type groups can take a custom image"
        )
    );
}

#[tokio::test]
async fn an_unknown_or_released_instance_fails_naming_it() {
    let rig = rig().await;
    let last = run(&rig, request("i-bp1nosuchinstance01", &[WEB_ACTIVE])).await;
    assert_eq!(
        failure(&last).reason,
        "instance i-bp1nosuchinstance01 does not exist"
    );
    rig.sim.admin().release_instance(WEB_INSTANCE).unwrap();
    let last = run(&rig, request(WEB_INSTANCE, &[WEB_ACTIVE])).await;
    assert!(failure(&last).reason.contains("does not exist"));
    assert_eq!(calls(&rig.sim, "CreateSnapshot"), 0);
}

#[tokio::test]
async fn create_failed_fails_touches_no_configuration_and_cleans_up() {
    let rig = rig().await;
    let before = config_image(&rig.sim, WEB_ACTIVE);
    rig.sim.admin().fail_next_image();
    let last = run(&rig, request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE])).await;
    let failure = failure(&last);
    assert_eq!(failure.step, Step::WaitImage);
    assert!(failure.reason.contains("CreateFailed"), "{failure:?}");
    assert_eq!(calls(&rig.sim, "ModifyScalingConfiguration"), 0);
    assert_eq!(config_image(&rig.sim, WEB_ACTIVE), before);
    assert!(own_images(&rig.sim).is_empty(), "image left behind");
    assert!(
        rig.sim.admin().state().snapshots.is_empty(),
        "snapshot left behind"
    );
}

/// Passes every call through, and runs a hook before each ModifyScalingConfiguration with
/// the number of that call (from 1).
struct BeforeModify {
    inner: SharedCloud,
    count: AtomicUsize,
    hook: Box<dyn Fn(usize) + Send + Sync>,
}

impl std::fmt::Debug for BeforeModify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BeforeModify")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Cloud for BeforeModify {
    fn describe_instance<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<Instance>> {
        self.inner.describe_instance(id)
    }
    fn system_disk<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<String>> {
        self.inner.system_disk(id)
    }
    fn create_snapshot<'a>(
        &'a self,
        disk: &'a str,
        creation: Creation<'a>,
    ) -> CloudFuture<'a, String> {
        self.inner.create_snapshot(disk, creation)
    }
    fn describe_snapshot<'a>(&'a self, id: &'a str) -> CloudFuture<'a, Option<Snapshot>> {
        self.inner.describe_snapshot(id)
    }
    fn create_image<'a>(
        &'a self,
        snapshot: &'a str,
        creation: Creation<'a>,
    ) -> CloudFuture<'a, String> {
        self.inner.create_image(snapshot, creation)
    }
    fn describe_image<'a>(
        &'a self,
        id: &'a str,
        statuses: &'a [&'a str],
    ) -> CloudFuture<'a, Option<Image>> {
        self.inner.describe_image(id, statuses)
    }
    fn delete_image<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        self.inner.delete_image(id)
    }
    fn delete_snapshot<'a>(&'a self, id: &'a str) -> CloudFuture<'a, ()> {
        self.inner.delete_snapshot(id)
    }
    fn describe_configurations<'a>(
        &'a self,
        ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingConfiguration>> {
        self.inner.describe_configurations(ids)
    }
    fn describe_eci_configurations<'a>(
        &'a self,
        ids: &'a [String],
    ) -> CloudFuture<'a, Vec<ScalingConfiguration>> {
        self.inner.describe_eci_configurations(ids)
    }
    fn describe_groups<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, Vec<ScalingGroup>> {
        self.inner.describe_groups(ids)
    }
    fn run_instances_dry_run<'a>(
        &'a self,
        request: &'a RunInstancesRequest,
    ) -> CloudFuture<'a, Option<DryRun>> {
        self.inner.run_instances_dry_run(request)
    }
    fn modify_configuration_image<'a>(
        &'a self,
        id: &'a str,
        image: &'a str,
    ) -> CloudFuture<'a, ()> {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        (self.hook)(n);
        self.inner.modify_configuration_image(id, image)
    }
}

#[tokio::test]
async fn a_refused_swap_of_the_second_configuration_puts_the_first_back() {
    let admin_slot: Arc<std::sync::Mutex<Option<reimage_sim::admin::Admin>>> =
        Arc::new(std::sync::Mutex::new(None));
    let slot = admin_slot.clone();
    let rig = rig_with(
        move |inner| {
            Arc::new(BeforeModify {
                inner,
                count: AtomicUsize::new(0),
                hook: Box::new(move |n| {
                    if n == 2 {
                        if let Some(admin) = slot.lock().unwrap().as_ref() {
                            admin
                                .fail_next(
                                    "ModifyScalingConfiguration",
                                    "Forbidden.Unauthorized",
                                    403,
                                    1,
                                )
                                .unwrap();
                        }
                    }
                }),
            })
        },
        |s| s,
    )
    .await;
    *admin_slot.lock().unwrap() = Some(rig.sim.admin());
    let active_before = config_image(&rig.sim, WEB_ACTIVE);
    let inactive_before = config_image(&rig.sim, WEB_INACTIVE);
    let last = run(&rig, request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE])).await;
    let failure = failure(&last);
    assert_eq!(failure.step, Step::SwapConfig);
    let cloud = failure.cloud.as_ref().expect("the cloud's error is kept");
    assert_eq!(cloud.code, "Forbidden.Unauthorized");
    assert!(!cloud.message.is_empty());
    assert!(
        failure.reason.contains(WEB_INACTIVE) && failure.reason.contains("put back"),
        "{failure:?}"
    );
    assert_eq!(config_image(&rig.sim, WEB_ACTIVE), active_before);
    assert_eq!(config_image(&rig.sim, WEB_INACTIVE), inactive_before);
    // Swap of the first, refused swap of the second, the first put back.
    assert_eq!(calls(&rig.sim, "ModifyScalingConfiguration"), 3);
}

#[tokio::test]
async fn a_duplicate_event_for_each_step_changes_nothing() {
    let rig = rig().await;
    let record = rig
        .engine
        .start_new(request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE]))
        .await
        .unwrap();
    let mut events = vec![record.event().unwrap()];
    rig.local
        .run_until_idle_with(&rig.engine, |event, _| events.push(event.clone()))
        .await;
    let steps: std::collections::BTreeSet<Step> = events.iter().map(|e| e.step).collect();
    assert_eq!(steps.len(), 4, "{events:?}");
    let before = rig.sim.admin().calls().total;
    for event in &events {
        let handled = rig.engine.handle(event).await.unwrap();
        assert!(
            matches!(
                handled,
                Handled::Ignored {
                    latest: State::Succeeded,
                    ..
                }
            ),
            "{handled:?}"
        );
    }
    assert_eq!(
        rig.sim.admin().calls().total,
        before,
        "a duplicate reached the cloud"
    );
    let last = rig.engine.get(&record.execution_id).await.unwrap().unwrap();
    assert_one_of_each(&rig, &last, &[WEB_ACTIVE, WEB_INACTIVE], "duplicates");
}

#[tokio::test]
async fn a_crash_before_or_after_each_cloud_call_then_a_replay_changes_everything_once() {
    // Count the calls of a clean run.
    let counter = Arc::new(std::sync::Mutex::new(None::<Arc<CrashingCloud>>));
    let c = counter.clone();
    let clean = rig_with(
        move |inner| {
            let counting = CrashingCloud::new(inner, 0, CrashPoint::Before);
            *c.lock().unwrap() = Some(counting.clone());
            counting
        },
        |s| s,
    )
    .await;
    let last = run(&clean, request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE])).await;
    assert_one_of_each(&clean, &last, &[WEB_ACTIVE, WEB_INACTIVE], "clean run");
    let total = counter.lock().unwrap().as_ref().unwrap().calls();
    assert!(total >= 12, "{total} calls");

    for n in 1..=total {
        for point in [CrashPoint::Before, CrashPoint::After] {
            let rig = rig_with(move |inner| CrashingCloud::new(inner, n, point), |s| s).await;
            let id = ExecutionId::derived(&format!("cloud-crash-{n}-{point:?}"));
            let (last, crashes) = run_through_crashes(
                &rig.engine,
                &rig.local,
                &rig.clock,
                request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE]),
                id,
            )
            .await;
            let context = format!("crash {point:?} cloud call {n} of {total}");
            assert_eq!(crashes, 1, "{context}");
            assert_one_of_each(&rig, &last, &[WEB_ACTIVE, WEB_INACTIVE], &context);
        }
    }
}

#[tokio::test]
async fn a_crash_before_or_after_each_record_write_then_a_replay_changes_everything_once() {
    let counter = Arc::new(std::sync::Mutex::new(None::<Arc<CrashingStore>>));
    let c = counter.clone();
    let clean = rig_with(
        |cloud| cloud,
        move |store| {
            let counting = CrashingStore::new(store, 0, CrashPoint::Before);
            *c.lock().unwrap() = Some(counting.clone());
            counting
        },
    )
    .await;
    let last = run(&clean, request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE])).await;
    assert_eq!(last.state, State::Succeeded);
    let writes = counter.lock().unwrap().as_ref().unwrap().creates();
    // The listings' index entry, its records, the sweep's index entry before each that leaves
    // it pending (all but the last), and the lease of each of its two configurations.
    assert_eq!(writes as u64, 1 + (last.seq + 1) + last.seq + 2);

    // Writes 1 to 3 are the listings' entry, record 0's sweep entry and record 0, written by
    // `start` itself: a crash there is `start` failing, which the caller sees.
    for n in 4..=writes {
        for point in [CrashPoint::Before, CrashPoint::After] {
            let rig = rig_with(|c| c, move |store| CrashingStore::new(store, n, point)).await;
            let id = ExecutionId::derived(&format!("store-crash-{n}-{point:?}"));
            let (last, crashes) = run_through_crashes(
                &rig.engine,
                &rig.local,
                &rig.clock,
                request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE]),
                id,
            )
            .await;
            let context = format!("crash {point:?} record write {n} of {writes}");
            assert_eq!(crashes, 1, "{context}");
            assert_one_of_each(&rig, &last, &[WEB_ACTIVE, WEB_INACTIVE], &context);
        }
    }
}

#[tokio::test]
async fn a_given_name_carries_the_execution_and_start_time() {
    let rig = rig().await;
    let mut req = request(WEB_INSTANCE, &[WEB_ACTIVE]);
    req.image_name = Some("web-golden".into());
    let last = run(&rig, req).await;
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    assert_eq!(
        last.image_name,
        format!(
            "web-golden_on_{}_at_2026-11-27T09:00:00Z",
            last.execution_id
        )
    );
    assert_eq!(own_images(&rig.sim)[0].image_name, last.image_name);
}

#[tokio::test]
async fn throttled_past_every_retry_fails_naming_the_cause_and_cleans_up() {
    let rig = rig().await;
    rig.sim
        .admin()
        .fail_next("DescribeImages", "Throttling.User", 400, 10_000)
        .unwrap();
    let before = config_image(&rig.sim, WEB_ACTIVE);
    let last = run(&rig, request(WEB_INSTANCE, &[WEB_ACTIVE])).await;
    let failure = failure(&last);
    assert_eq!(failure.step, Step::WaitImage);
    assert!(
        failure.reason.contains("gave up after 5 retries"),
        "{failure:?}"
    );
    assert_eq!(failure.cloud.as_ref().unwrap().code, "Throttling.User");
    assert_eq!(last.learned.retries, 5);
    assert_eq!(config_image(&rig.sim, WEB_ACTIVE), before);
    assert!(own_images(&rig.sim).is_empty(), "image left behind");
    assert!(
        rig.sim.admin().state().snapshots.is_empty(),
        "snapshot left behind"
    );
}

#[tokio::test]
async fn a_disk_busy_with_another_snapshot_is_waited_for_not_failed() {
    let rig = rig().await;
    // An automatic snapshot policy, say, is snapshotting the system disk right now: ECS
    // refuses a second snapshot of it with 403 IncorrectDiskStatus.CreatingSnapshot.
    let client = client(&rig.sim, &rig.clock);
    let busy = client
        .ecs()
        .create_snapshot(&reimage::aliyun::ecs::CreateSnapshotRequest {
            disk_id: WEB_SYSTEM_DISK.into(),
            ..Default::default()
        })
        .await
        .expect("the other snapshot starts")
        .snapshot_id;
    let last = run(&rig, request(WEB_INSTANCE, &[WEB_ACTIVE])).await;
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    assert!(
        calls(&rig.sim, "CreateSnapshot") > 2,
        "the execution's own snapshot was refused at least once"
    );
    let snapshots: Vec<_> = rig
        .sim
        .admin()
        .state()
        .snapshots
        .into_iter()
        .filter(|s| s.snapshot_id != busy)
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    let images = own_images(&rig.sim);
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(
        images[0].snapshot_ids,
        vec![snapshots[0].snapshot_id.clone()]
    );
    assert_eq!(config_image(&rig.sim, WEB_ACTIVE), images[0].image_id);
}

#[tokio::test]
async fn an_earlier_request_still_processing_is_retried_with_the_same_token() {
    for (action, code) in [
        ("CreateSnapshot", "IdempotentProcessing"),
        ("CreateImage", "LastTokenProcessing"),
        ("CreateImage", "IdempotentProcessing"),
    ] {
        let rig = rig().await;
        // More refusals than the client's own retries: the step is retried by the engine too.
        rig.sim.admin().fail_next(action, code, 403, 6).unwrap();
        let last = run(&rig, request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE])).await;
        assert_one_of_each(
            &rig,
            &last,
            &[WEB_ACTIVE, WEB_INACTIVE],
            &format!("{action} {code}"),
        );
        assert_eq!(
            calls(&rig.sim, action),
            7,
            "{action} {code}: six refusals, then once"
        );
    }
}

#[tokio::test]
async fn a_disabled_group_is_named_disabled_or_missing_before_anything_is_created() {
    let rig = rig().await;
    rig.sim
        .admin()
        .set_group_enabled("asg-bp1demoweb0000001", false)
        .unwrap();
    let last = run(&rig, request(WEB_INSTANCE, &[WEB_ACTIVE])).await;
    let failure = failure(&last);
    assert_eq!(failure.step, Step::CreateImage);
    assert_eq!(
        failure.reason,
        format!(
            "scaling group asg-bp1demoweb0000001 of scaling configuration {WEB_ACTIVE} is \
             disabled or missing (DescribeScalingGroups does not list it)"
        )
    );
    assert_eq!(calls(&rig.sim, "CreateSnapshot"), 0);
}

/// Three triggers at once for the same configurations, their steps run up to eight at a
/// time: the first works alone; the second, waiting, is superseded by the third, newer one,
/// which starts once the first has ended. The configurations go old → first → third.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_triggers_for_one_configuration_run_one_at_a_time_and_the_newest_wins() {
    let rig = rig().await;
    let before = config_image(&rig.sim, WEB_ACTIVE);
    let mut ids = Vec::new();
    for (name, configs) in [
        ("first", &[WEB_ACTIVE, WEB_INACTIVE][..]),
        ("second", &[WEB_ACTIVE][..]),
        ("third", &[WEB_ACTIVE, WEB_INACTIVE][..]),
    ] {
        let id = ExecutionId::derived(&format!("concurrent-{name}"));
        rig.engine
            .start(request(WEB_INSTANCE, configs), id.clone())
            .await
            .expect("start");
        ids.push(id);
        if name == "first" {
            // The first takes its leases (and its snapshot) before the others arrive.
            assert!(rig.local.run_next(&rig.engine).await);
        }
        rig.clock.advance(Duration::from_secs(1));
    }
    let [first, second, third] = [0, 1, 2].map(|i| ids[i].clone());
    let holder = rig.engine.configuration_holder(WEB_INACTIVE).await.unwrap();
    assert_eq!(holder.as_ref(), Some(&first));

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (engine, local) = (rig.engine.clone(), rig.local.clone());
    let driver = tokio::spawn(async move {
        local
            .run_concurrently(&engine, 8, async {
                let _ = stopped.await;
            })
            .await;
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let lasts = loop {
        let mut lasts = Vec::new();
        for id in &ids {
            lasts.push(rig.engine.get(id).await.unwrap().unwrap());
        }
        if lasts.iter().all(|r| r.state.is_terminal()) {
            break lasts;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the executions did not end: {lasts:#?}"
        );
        tokio::task::yield_now().await;
    };
    let _ = stop.send(());
    driver.await.unwrap();

    assert_eq!(lasts[0].state, State::Succeeded, "{:#?}", lasts[0]);
    assert_eq!(
        lasts[1].state,
        State::Superseded {
            carried_by: third.clone()
        },
        "{:#?}",
        lasts[1]
    );
    assert_eq!(lasts[2].state, State::Succeeded, "{:#?}", lasts[2]);
    let history = rig.engine.history(&second).await.unwrap();
    assert!(
        history.iter().any(|r| r
            .learned
            .waiting_for
            .as_ref()
            .is_some_and(|w| w.holder == first)),
        "{history:#?}"
    );
    // The third one's work began only after the first one ended.
    let leased = |records: &[StepRecord]| records.iter().find_map(|r| r.learned.leased_at);
    let third_history = rig.engine.history(&third).await.unwrap();
    assert!(leased(&third_history).unwrap() >= lasts[0].written_at);
    // One snapshot and one image each for the first and third; the second made none.
    assert_eq!(calls(&rig.sim, "CreateSnapshot"), 2);
    assert_eq!(calls(&rig.sim, "CreateImage"), 2);
    let third_image = lasts[2].learned.image_id.clone().unwrap();
    assert_ne!(third_image, before);
    assert_eq!(config_image(&rig.sim, WEB_ACTIVE), third_image);
    assert_eq!(config_image(&rig.sim, WEB_INACTIVE), third_image);
    assert_eq!(
        rig.engine.configuration_holder(WEB_ACTIVE).await.unwrap(),
        None
    );
}

/// Pre-flight: a configuration whose instances run another architecture and one whose system
/// disk is smaller than the image refuse the new image before anything changes; the image is
/// kept, and says why in the failure.
#[tokio::test]
async fn an_image_no_configuration_could_launch_changes_nothing_and_is_kept() {
    const ARM_IMAGE: &str = "m-bp1demoarm00000001";
    let clock = clock();
    let mut seed = reimage_sim::Seed::demo();
    seed.images.push(reimage_sim::seed::SeedImage {
        image_id: ARM_IMAGE.into(),
        image_name: "web-arm".into(),
        image_owner_alias: "self".into(),
        os_type: "linux".into(),
        platform: "Ubuntu".into(),
        size: 20,
        architecture: "arm64".into(),
    });
    for c in &mut seed.scaling_configurations {
        if c.scaling_configuration_id == WEB_ACTIVE {
            c.image_id = ARM_IMAGE.into();
        }
        if c.scaling_configuration_id == WEB_INACTIVE {
            c.system_disk_size = 20;
        }
    }
    let sim = Sim::builder()
        .clock(Arc::new(clock.clone()))
        .image_seconds(IMAGE_SECONDS)
        .seed(seed)
        .start()
        .await
        .expect("sim starts");
    let client = client(&sim, &clock);
    let dir = tempfile::tempdir().expect("temp dir");
    let store: SharedStore = Arc::new(FileStore::open(dir.path().join("state")).expect("store"));
    let cloud: SharedCloud = Arc::new(AliyunCloud::new(client));
    let rig = rig_on(sim, clock, store, Arc::new(SameCloud(cloud)), dir);
    let before_inactive = config_image(&rig.sim, WEB_INACTIVE);

    let last = run(&rig, request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE])).await;
    let failure = failure(&last);
    assert_eq!(failure.step, Step::SwapConfig, "{failure:?}");
    let reason = &failure.reason;
    assert!(reason.starts_with("pre-flight: "), "{reason}");
    assert!(
        reason.contains(&format!("scaling configuration {WEB_ACTIVE}: image"))
            && reason.contains("is x86_64, the configuration's instance types run arm64"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("scaling configuration {WEB_INACTIVE}: image"))
            && reason.contains("at least 40 GiB, the configuration's is 20 GiB"),
        "{reason}"
    );
    // Nothing changed; the image and its snapshot are still there, for a look.
    assert_eq!(calls(&rig.sim, "ModifyScalingConfiguration"), 0);
    assert_eq!(config_image(&rig.sim, WEB_ACTIVE), ARM_IMAGE);
    assert_eq!(config_image(&rig.sim, WEB_INACTIVE), before_inactive);
    let image_id = last.learned.image_id.clone().expect("an image was made");
    assert!(
        reason.contains(&format!("image {image_id} is kept")),
        "{reason}"
    );
    let kept = rig.sim.admin().image(&image_id).expect("the image is kept");
    assert_eq!(kept.status, "Available");
    assert_eq!(rig.sim.admin().state().snapshots.len(), 1);
}

/// Pre-flight: a configuration whose image is of another platform refuses the new image
/// unless the run allows the change; one that launches an instance type the image does not
/// run on (DescribeImageSupportInstanceTypes), or cannot boot (a UEFI-only type for a BIOS
/// image, DescribeInstanceTypes), refuses it always.
#[tokio::test]
async fn another_platform_needs_leave_and_an_unsupported_instance_type_is_refused() {
    const CENTOS: &str = "m-bp1democentos00001";
    let setup = |inactive_type: Option<&str>| {
        let mut seed = reimage_sim::Seed::demo();
        let mut centos = seed.images[0].clone();
        centos.image_id = CENTOS.into();
        centos.image_name = "web-centos".into();
        centos.platform = "CentOS".into();
        seed.images.push(centos);
        for c in &mut seed.scaling_configurations {
            if c.scaling_configuration_id == WEB_ACTIVE {
                c.image_id = CENTOS.into();
            }
            if let Some(t) = inactive_type.filter(|_| c.scaling_configuration_id == WEB_INACTIVE) {
                c.instance_type = t.into();
            }
        }
        seed
    };
    for (inactive_type, allow) in [
        (None, false),
        (None, true),
        (Some("ecs.g8y.large"), true),
        (Some("ecs.g8i.large"), true),
    ] {
        let clock = clock();
        let sim = Sim::builder()
            .clock(Arc::new(clock.clone()))
            .image_seconds(IMAGE_SECONDS)
            .seed(setup(inactive_type))
            .start()
            .await
            .expect("sim starts");
        let client = client(&sim, &clock);
        let dir = tempfile::tempdir().expect("temp dir");
        let store: SharedStore =
            Arc::new(FileStore::open(dir.path().join("state")).expect("store"));
        let cloud: SharedCloud = Arc::new(AliyunCloud::new(client));
        let rig = rig_on(sim, clock, store, Arc::new(SameCloud(cloud)), dir);
        let last = run(
            &rig,
            UpdateRequest {
                allow_platform_change: allow,
                ..request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE])
            },
        )
        .await;
        match (inactive_type, allow) {
            (None, true) => {
                assert_eq!(last.state, State::Succeeded, "{last:#?}");
                assert_ne!(config_image(&rig.sim, WEB_ACTIVE), CENTOS);
            }
            _ => {
                let reason = &failure(&last).reason;
                assert!(reason.starts_with("pre-flight: "), "{reason}");
                let expected = if inactive_type.is_some() {
                    format!("scaling configuration {WEB_INACTIVE}: image")
                } else {
                    format!("scaling configuration {WEB_ACTIVE}: image")
                };
                assert!(reason.contains(&expected), "{reason}");
                let why = match inactive_type {
                    Some("ecs.g8y.large") => {
                        "does not run on ecs.g8y.large, the instance type it launches"
                    }
                    Some(_) => "boots in BIOS mode, ecs.g8i.large boots in UEFI",
                    None => "is Ubuntu, the configuration's image m-bp1democentos00001 is CentOS",
                };
                assert!(reason.contains(why), "{reason}");
                assert_eq!(calls(&rig.sim, "ModifyScalingConfiguration"), 0);
                assert_eq!(config_image(&rig.sim, WEB_ACTIVE), CENTOS);
            }
        }
    }
}

/// Pre-flight: ECS's own dry run of a launch as each configuration makes it. A type out of
/// stock, or a system disk category the type does not take, fails the execution before any
/// swap, naming the configuration and ECS's code; a configuration whose first type is refused
/// launches its next (web-current lists ecs.g7.large then ecs.c7.large; web-previous only
/// ecs.g7.large); a configuration another check already refused is not asked about. Nothing
/// changes, and the image is kept.
#[tokio::test]
async fn a_launch_ecs_refuses_fails_the_update_before_any_swap_naming_the_configuration() {
    struct Case {
        name: &'static str,
        out_of_stock: &'static [&'static str],
        seed: fn(&mut reimage_sim::seed::SeedScalingConfiguration),
        /// What the failure says of each configuration (`None`: succeeds).
        expected: Option<[Option<&'static str>; 2]>,
        dry_runs: u64,
    }
    fn as_seeded(_: &mut reimage_sim::seed::SeedScalingConfiguration) {}
    fn launching_alike(c: &mut reimage_sim::seed::SeedScalingConfiguration) {
        if c.scaling_configuration_id == WEB_INACTIVE {
            c.key_pair_name = Some(reimage_sim::seed::DEMO_KEY_PAIR.to_owned());
            c.instance_types = vec!["ecs.g7.large".into(), "ecs.c7.large".into()];
        }
    }
    let cases = [
        Case {
            name: "in stock",
            out_of_stock: &[],
            seed: as_seeded,
            expected: None,
            dry_runs: 2,
        },
        Case {
            name: "the first type out of stock",
            out_of_stock: &["ecs.g7.large"],
            seed: as_seeded,
            expected: Some([
                None,
                Some("on ecs.g7.large (OperationDenied.NoStock: The resource is out of stock"),
            ]),
            dry_runs: 3,
        },
        Case {
            name: "every type out of stock",
            out_of_stock: &["ecs.g7.large", "ecs.c7.large"],
            seed: as_seeded,
            expected: Some([
                Some("on each of its instance types (ecs.g7.large: OperationDenied.NoStock: "),
                Some("on ecs.g7.large (OperationDenied.NoStock:"),
            ]),
            dry_runs: 3,
        },
        Case {
            name: "an entry-level ESSD outside ecs.u1 and ecs.e",
            out_of_stock: &[],
            seed: |c| {
                if c.scaling_configuration_id == WEB_INACTIVE {
                    c.system_disk_category = "cloud_essd_entry".into();
                    c.system_disk_performance_level = None;
                }
            },
            expected: Some([
                None,
                Some("on ecs.g7.large (InvalidDiskCategory.NotSupported:"),
            ]),
            dry_runs: 2,
        },
        Case {
            name: "a disk too small, and out of stock",
            out_of_stock: &["ecs.g7.large"],
            seed: |c| {
                if c.scaling_configuration_id == WEB_INACTIVE {
                    c.system_disk_size = 20;
                }
            },
            // Only the disk is named: that configuration is not asked about.
            expected: Some([None, None]),
            dry_runs: 2,
        },
        // web-previous launching exactly as web-current: each launch is asked once, and its
        // answer is both configurations'.
        Case {
            name: "launching alike, in stock",
            out_of_stock: &[],
            seed: launching_alike,
            expected: None,
            dry_runs: 1,
        },
        Case {
            name: "launching alike, the first type out of stock",
            out_of_stock: &["ecs.g7.large"],
            seed: launching_alike,
            expected: None,
            dry_runs: 2,
        },
        Case {
            name: "launching alike, every type out of stock",
            out_of_stock: &["ecs.g7.large", "ecs.c7.large"],
            seed: launching_alike,
            expected: Some([
                Some("on each of its instance types (ecs.g7.large: OperationDenied.NoStock: "),
                Some("on each of its instance types (ecs.g7.large: OperationDenied.NoStock: "),
            ]),
            dry_runs: 2,
        },
    ];
    for case in cases {
        let clock = clock();
        let mut seed = reimage_sim::Seed::demo();
        seed.scaling_configurations.iter_mut().for_each(case.seed);
        let sim = Sim::builder()
            .clock(Arc::new(clock.clone()))
            .image_seconds(IMAGE_SECONDS)
            .seed(seed)
            .start()
            .await
            .expect("sim starts");
        for t in case.out_of_stock {
            sim.admin().set_out_of_stock(t, true).expect("out of stock");
        }
        let client = client(&sim, &clock);
        let dir = tempfile::tempdir().expect("temp dir");
        let store: SharedStore =
            Arc::new(FileStore::open(dir.path().join("state")).expect("store"));
        let cloud: SharedCloud = Arc::new(AliyunCloud::new(client));
        let rig = rig_on(sim, clock, store, Arc::new(SameCloud(cloud)), dir);
        let before = [WEB_ACTIVE, WEB_INACTIVE].map(|c| config_image(&rig.sim, c));

        let last = run(&rig, request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE])).await;
        let context = case.name;
        assert_eq!(
            calls(&rig.sim, "RunInstances"),
            case.dry_runs,
            "{context}: dry runs"
        );
        let Some(expected) = case.expected else {
            assert_one_of_each(&rig, &last, &[WEB_ACTIVE, WEB_INACTIVE], context);
            continue;
        };
        let failure = failure(&last);
        assert_eq!(failure.step, Step::SwapConfig, "{context}: {failure:?}");
        let reason = &failure.reason;
        assert!(reason.starts_with("pre-flight: "), "{context}: {reason}");
        let image_id = last.learned.image_id.clone().expect("an image was made");
        for (config, why) in [WEB_ACTIVE, WEB_INACTIVE].into_iter().zip(expected) {
            let named = format!(
                "scaling configuration {config}: ECS refuses a launch from image {image_id} "
            );
            match why {
                Some(why) => assert!(
                    reason.contains(&format!("{named}{why}")),
                    "{context}: {config}: {reason}"
                ),
                None => assert!(!reason.contains(&named), "{context}: {config}: {reason}"),
            }
        }
        if case.name.contains("every type") {
            assert!(
                reason.contains("; ecs.c7.large: OperationDenied.NoStock: "),
                "{context}: {reason}"
            );
        }
        if case.name.starts_with("a disk too small") {
            assert!(
                reason.contains(&format!(
                    "scaling configuration {WEB_INACTIVE}: image {image_id} needs a system disk"
                )),
                "{context}: {reason}"
            );
        }
        // Nothing changed; the image and its snapshot are kept, for a look.
        assert_eq!(
            calls(&rig.sim, "ModifyScalingConfiguration"),
            0,
            "{context}"
        );
        assert_eq!(
            [WEB_ACTIVE, WEB_INACTIVE].map(|c| config_image(&rig.sim, c)),
            before,
            "{context}"
        );
        assert!(
            reason.contains(&format!("image {image_id} is kept")),
            "{context}: {reason}"
        );
        let kept = rig.sim.admin().image(&image_id).expect("the image is kept");
        assert_eq!(kept.status, "Available", "{context}");
        assert_eq!(rig.sim.admin().state().snapshots.len(), 1, "{context}");
    }
}

/// The dry run of an update plans the pre-flight's RunInstances as a real run sends them: one
/// per distinct launch. web-previous launches exactly as web-current (one launch for both),
/// the api group's configuration as itself (another); the real run sends those two.
#[tokio::test]
async fn the_dry_run_plans_one_launch_per_distinct_request_as_a_real_run_sends() {
    let clock = clock();
    let mut seed = reimage_sim::Seed::demo();
    for c in &mut seed.scaling_configurations {
        if c.scaling_configuration_id == WEB_INACTIVE {
            c.key_pair_name = Some(reimage_sim::seed::DEMO_KEY_PAIR.to_owned());
            c.instance_types = vec!["ecs.g7.large".into(), "ecs.c7.large".into()];
        }
    }
    let sim = Sim::builder()
        .clock(Arc::new(clock.clone()))
        .image_seconds(IMAGE_SECONDS)
        .seed(seed)
        .start()
        .await
        .expect("sim starts");
    let clouds: Arc<dyn CloudProvider> = Arc::new(AliyunClouds::new(client(&sim, &clock)));
    let update = request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE, API_ACTIVE]);
    let report = reimage::steps::dry_run::check(
        clouds.as_ref(),
        &update,
        ExecutionId::random(&RandomIds),
        clock.now(),
    )
    .await;
    assert!(report.would_run, "{report:#?}");
    let planned = |action: &str| -> usize {
        report
            .calls
            .iter()
            .filter(|c| c.action == action)
            .map(|c| c.count)
            .sum()
    };
    assert_eq!(planned("RunInstances"), 2, "{:#?}", report.calls);

    sim.admin().reset_calls();
    let dir = tempfile::tempdir().expect("temp dir");
    let store: SharedStore = Arc::new(FileStore::open(dir.path().join("state")).expect("store"));
    let rig = rig_on(sim, clock, store, clouds, dir);
    let last = run(&rig, update).await;
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    let made = rig.sim.admin().calls().since_reset;
    assert_eq!(made.get("RunInstances").copied(), Some(2), "{made:#?}");
    // As planned, call for call.
    for action in ["RunInstances", "ModifyScalingConfiguration"] {
        assert_eq!(
            made.get(action).copied().unwrap_or(0),
            planned(action) as u64,
            "{action}"
        );
    }
}
