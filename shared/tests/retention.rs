//! Retention end to end against `sim`: a region seeded with an image of every kind of use
//! (a scaling configuration, a launch template version, instances, a share, a publication, an
//! execution at work, a rollout at work), two passes a grace period apart, and a pass cut
//! short at every cloud call and every record write.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use reimage::aliyun::Client;
use reimage::clock::{Clock, ManualClock, SharedClock};
use reimage::ids::RandomIds;
use reimage::images::region::{Kind, TemplateImage};
use reimage::images::{
    self, Action, AliyunRegion, Deleted, ImageRegion, ManagedImage, ManagedSnapshot, Policies, Use,
    Why,
};
use reimage::model::{ExecutionId, PermissionSource, StepRecord, UpdateRequest};
use reimage::rollout::{RolloutSpec, RolloutTiming, Rollouts};
use reimage::steps::cloud::{CloudFuture, TAG_EXECUTION, TAG_MANAGED, TAG_TASK};
use reimage::steps::testing::{CRASH_MESSAGE, CrashPoint, CrashingStore};
use reimage::steps::{AliyunCloud, Cloud, Engine, SameCloud};
use reimage::store::SharedStore;
use reimage::store::memory::MemoryStore;
use reimage::store::tasks::TaskStore;
use reimage_sim::Sim;
use reimage_sim::seed::{SeedCustomImage, SeedLaunchTemplate, SeedTag, SeedTemplateVersion};

const TASK: &str = "t-retention";
const WEB_ACTIVE: &str = "asc-bp1demoweb0000001";
const WEB_INACTIVE: &str = "asc-bp1demoweb0000002";
const WEB_GROUP: &str = "asg-bp1demoweb0000001";
const WEB_INSTANCE: &str = "i-bp1demoweb000000001";
const DAY: i64 = 86_400;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 9, 0, 0).unwrap()
}

fn client(sim: &Sim, clock: &ManualClock) -> Client {
    let mut config = sim.client_config();
    config.clock = Arc::new(clock.clone());
    config.ids = Arc::new(RandomIds);
    Client::new(config).expect("client")
}

/// An image of the task, `days` old, with a tagged snapshot.
fn managed(name: &str, days: i64) -> SeedCustomImage {
    let tags = vec![
        SeedTag::new(TAG_MANAGED, "true"),
        SeedTag::new(TAG_TASK, TASK),
        SeedTag::new(TAG_EXECUTION, format!("exec-{name}")),
    ];
    SeedCustomImage {
        snapshot_tags: tags.clone(),
        tags,
        age_seconds: u64::try_from(days * DAY).unwrap(),
        ..SeedCustomImage::named(name)
    }
}

struct Region {
    sim: Sim,
    clock: ManualClock,
    store: SharedStore,
    client: Client,
    /// Image name → id.
    ids: BTreeMap<String, String>,
    /// Image name → its snapshot's id.
    snapshots: BTreeMap<String, String>,
    /// The snapshot left behind by an image deleted by hand.
    orphan: String,
}

impl Region {
    fn id(&self, name: &str) -> String {
        self.ids[name].clone()
    }

    /// The defaults, with the tasks the records hold (the task's own retention: 2 images,
    /// 10 days).
    async fn policies(&self) -> Policies {
        Policies::default()
            .with_tasks(&TaskStore::new(self.store.clone()))
            .await
            .expect("the tasks read")
    }

    fn images(&self) -> BTreeSet<String> {
        let state = self.sim.admin().state();
        state.images.into_iter().map(|i| i.image_id).collect()
    }

    fn snapshot_ids(&self) -> BTreeSet<String> {
        let state = self.sim.admin().state();
        state.snapshots.into_iter().map(|s| s.snapshot_id).collect()
    }

    fn image_tag(&self, id: &str, key: &str) -> Option<String> {
        let image = self.sim.admin().image(id)?;
        image
            .tags
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    async fn pass(&self, region: &dyn ImageRegion) -> images::Outcome {
        let survey = images::survey(
            region,
            &self.store,
            &self.policies().await,
            self.clock.now(),
        )
        .await
        .expect("survey");
        images::apply(region, &self.store, &survey)
            .await
            .expect("apply")
    }

    fn region(&self) -> AliyunRegion {
        AliyunRegion::new(self.client.clone())
    }
}

/// The region: the task's images, each needed by something or not; an image reimage did not
/// make; a snapshot whose image was deleted by hand.
async fn seeded(store: SharedStore) -> Region {
    let clock = ManualClock::new(start());
    let sim = Sim::builder()
        .clock(Arc::new(clock.clone()))
        .start()
        .await
        .expect("sim starts");
    let client = client(&sim, &clock);
    let admin = sim.admin();
    let mut list = vec![
        managed("ret-newest", 1),
        managed("ret-second", 3),
        managed("ret-young", 5),
        managed("ret-config", 30),
        managed("ret-template", 31),
        managed("ret-instance", 32),
        managed("ret-shared", 33),
        managed("ret-public", 34),
        managed("ret-execution", 35),
        managed("ret-rollout", 36),
        managed("ret-revived", 40),
        managed("ret-old-a", 50),
        managed("ret-old-b", 60),
        managed("ret-orphaned", 70),
    ];
    list.push(SeedCustomImage {
        age_seconds: u64::try_from(400 * DAY).unwrap(),
        ..SeedCustomImage::named("not-reimage")
    });
    let mut elsewhere = managed("ret-elsewhere", 90);
    for tag in &mut elsewhere.tags {
        if tag.key == TAG_TASK {
            tag.value = "t-another-deployment".into();
        }
    }
    list.push(elsewhere);
    let seeded = admin.add_custom_images(&list).expect("images seeded");
    let names: Vec<String> = list.iter().map(|i| i.image_name.clone()).collect();
    let ids: BTreeMap<String, String> = names
        .iter()
        .cloned()
        .zip(seeded.iter().map(|s| s.image_id.clone()))
        .collect();
    let snapshots: BTreeMap<String, String> = names
        .into_iter()
        .zip(seeded.iter().map(|s| s.snapshot_id.clone()))
        .collect();
    // The task, with its retention, is in the records; another deployment's task is not.
    let spec: reimage::model::task::TaskSpec = serde_json::from_value(serde_json::json!({
        "source_instance_id": WEB_INSTANCE,
        "scaling_configuration_ids": [WEB_ACTIVE],
        "executed_at": {"kind": "now"},
        "permission": {"kind": "account"},
        "retention": {"keep": 2, "keep_days": 10},
    }))
    .expect("a task spec");
    TaskStore::new(store.clone())
        .create(TASK, spec, start())
        .await
        .expect("task created");
    let cloud = AliyunCloud::new(client.clone());
    // A configuration of the region holds one.
    cloud
        .modify_configuration_image(WEB_INACTIVE, &ids["ret-config"])
        .await
        .expect("configuration modified");
    // A launch template's older version names one.
    admin
        .create_launch_template(&SeedLaunchTemplate {
            launch_template_id: None,
            launch_template_name: "ret-template".into(),
            versions: vec![
                SeedTemplateVersion::of_image(&ids["ret-template"]),
                SeedTemplateVersion::default(),
            ],
            default_version: Some(2),
            tags: Vec::new(),
        })
        .expect("template seeded");
    // An instance runs one.
    admin
        .set_instance_image(WEB_INSTANCE, &ids["ret-instance"])
        .expect("instance image");
    // One is shared with another account, one published.
    admin
        .share_image(&ids["ret-shared"], &["1111222233334444"], false)
        .expect("shared");
    admin
        .share_image(&ids["ret-public"], &[], true)
        .expect("published");
    // An image deleted by hand leaves its tagged snapshot behind.
    cloud
        .delete_image(&ids["ret-orphaned"])
        .await
        .expect("deleted by hand");
    let orphan = snapshots["ret-orphaned"].clone();
    let region = Region {
        sim,
        clock,
        store,
        client,
        ids,
        snapshots,
        orphan,
    };
    at_work(&region).await;
    region
}

/// An execution that swapped a configuration and verifies now (its previous image is
/// `ret-execution`), and a rollout at work onto `ret-rollout`.
async fn at_work(region: &Region) {
    let shared: SharedClock = Arc::new(region.clock.clone());
    let dispatcher = Arc::new(reimage::dispatch::local::LocalDispatcher::new(
        shared.clone(),
    ));
    let cloud: Arc<dyn Cloud> = Arc::new(AliyunCloud::new(region.client.clone()));
    let engine = Engine::new(
        region.store.clone(),
        shared.clone(),
        Arc::new(RandomIds),
        dispatcher,
        Arc::new(SameCloud(cloud.clone())),
    );
    let first = engine
        .start_new(UpdateRequest {
            allow_default_version_change: false,
            scaling_group_ids: Vec::new(),
            instance_id: WEB_INSTANCE.into(),
            image_name: None,
            configuration_ids: vec![WEB_ACTIVE.into()],
            permission: PermissionSource::Account,
            task_id: None,
            rollout: None,
            allow_platform_change: false,
        })
        .await
        .expect("execution started");
    let mut next: StepRecord = first.clone();
    next.seq = 2;
    next.learned.previous_images = Some(vec![reimage::model::PreviousImage {
        configuration_id: WEB_ACTIVE.into(),
        image_id: region.id("ret-execution"),
    }]);
    let key = first.execution_id.record_key(2);
    region
        .store
        .create(&key, &serde_json::to_vec(&next).unwrap())
        .await
        .expect("record written");
    let rollouts = Rollouts::new(
        region.store.clone(),
        cloud.fleet().expect("a fleet"),
        shared,
        Arc::new(RandomIds),
        RolloutTiming::default(),
    );
    rollouts
        .start(RolloutSpec::new(WEB_GROUP, region.id("ret-rollout")))
        .await
        .expect("rollout started");
}

fn verdicts(survey: &images::Survey) -> BTreeMap<String, (Why, Action)> {
    survey
        .images
        .iter()
        .map(|v| (v.image.image_name.clone(), (v.why.clone(), v.action)))
        .collect()
}

#[tokio::test]
async fn retention_keeps_every_image_in_use_and_deletes_the_rest_in_two_passes() {
    let region = seeded(Arc::new(MemoryStore::new())).await;
    let cloud = region.region();
    let survey = images::survey(
        &cloud,
        &region.store,
        &region.policies().await,
        region.clock.now(),
    )
    .await
    .unwrap();
    let found = verdicts(&survey);
    assert!(
        !found.contains_key("not-reimage"),
        "an image reimage did not make is not even listed"
    );
    let uses = |name: &str| match &found[name].0 {
        Why::InUse { uses } => uses.clone(),
        other => panic!("{name}: {other:?}, not in use"),
    };
    assert_eq!(
        uses("ret-config"),
        [Use::Configuration {
            id: WEB_INACTIVE.into()
        }]
    );
    assert!(
        matches!(
            &uses("ret-template")[..],
            [Use::LaunchTemplate { version: 1, .. }]
        ),
        "{:?}",
        uses("ret-template")
    );
    assert_eq!(uses("ret-instance"), [Use::Instances]);
    assert_eq!(
        uses("ret-shared"),
        [Use::Shared {
            with: vec!["1111222233334444".into()]
        }]
    );
    assert!(uses("ret-public").contains(&Use::Public));
    assert!(
        matches!(&uses("ret-execution")[..], [Use::InFlight { by }] if by.starts_with("execution ")),
        "{:?}",
        uses("ret-execution")
    );
    assert!(
        matches!(&uses("ret-rollout")[..], [Use::InFlight { by }] if by.starts_with("rollout ")),
        "{:?}",
        uses("ret-rollout")
    );
    assert_eq!(found["ret-newest"].0, Why::Newest { rank: 1 });
    assert_eq!(found["ret-second"].0, Why::Newest { rank: 2 });
    assert_eq!(found["ret-young"].0, Why::Young);
    assert_eq!(found["ret-elsewhere"].0, Why::UnknownTask);
    let marked: BTreeSet<&str> = ["ret-revived", "ret-old-a", "ret-old-b"].into();
    for (name, (why, action)) in &found {
        let want = if marked.contains(name.as_str()) {
            Action::Mark
        } else {
            Action::Keep
        };
        assert_eq!(*action, want, "{name}: {why:?}");
    }
    let orphan = survey
        .snapshots
        .iter()
        .find(|v| v.snapshot.snapshot_id == region.orphan)
        .expect("the orphaned snapshot is listed");
    assert_eq!(orphan.action, Action::Mark);

    // The first pass marks, and deletes nothing.
    region.sim.admin().reset_calls();
    let first = images::apply(&cloud, &region.store, &survey).await.unwrap();
    assert_eq!(first.marked.len(), 4, "{first:?}");
    assert!(first.deleted_images.is_empty() && first.deleted_snapshots.is_empty());
    assert_eq!(region.sim.admin().calls_since_reset("DeleteImage"), 0);
    assert_eq!(
        region.image_tag(&region.id("ret-old-a"), images::TAG_MARKED),
        Some(images::region::mark_value(start()))
    );

    // Before the grace period is over, a pass deletes nothing either.
    region
        .clock
        .advance(std::time::Duration::from_secs(23 * 3600));
    let early = region.pass(&cloud).await;
    assert!(
        early.deleted_images.is_empty() && early.marked.is_empty(),
        "{early:?}"
    );

    // Something needs a marked image again: it is unmarked, and stays.
    AliyunCloud::new(region.client.clone())
        .modify_configuration_image(WEB_ACTIVE, &region.id("ret-revived"))
        .await
        .unwrap();
    region
        .clock
        .advance(std::time::Duration::from_secs(2 * 3600));
    let before = region.images();
    let second = region.pass(&cloud).await;
    let want: BTreeSet<String> = [region.id("ret-old-a"), region.id("ret-old-b")].into();
    assert_eq!(
        second
            .deleted_images
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>(),
        want
    );
    assert_eq!(second.unmarked, [region.id("ret-revived")]);
    assert!(
        second.failed.is_empty() && second.refused.is_empty(),
        "{second:?}"
    );
    let gone: BTreeSet<String> = before.difference(&region.images()).cloned().collect();
    assert_eq!(gone, want, "exactly the two unneeded images are gone");
    assert_eq!(
        region.image_tag(&region.id("ret-revived"), images::TAG_MARKED),
        None
    );
    let snapshots = region.snapshot_ids();
    for name in ["ret-old-a", "ret-old-b", "ret-orphaned"] {
        assert!(
            !snapshots.contains(&region.snapshots[name]),
            "{name}'s snapshot is deleted"
        );
    }
    for name in ["ret-config", "ret-newest", "ret-revived", "ret-shared"] {
        assert!(
            snapshots.contains(&region.snapshots[name]),
            "{name}'s snapshot stays"
        );
    }
    // The passes are on record: what each set out to do, and what it did.
    let records = region
        .store
        .list(images::pass::PASSES_PREFIX)
        .await
        .unwrap();
    assert_eq!(records.len(), 6, "{records:?}");
}

/// A region wrapper that panics before or after its `n`th call, as a process that dies there.
#[derive(Debug)]
struct CrashingRegion {
    inner: AliyunRegion,
    n: usize,
    point: CrashPoint,
    seen: AtomicUsize,
}

impl CrashingRegion {
    fn guard<'a, T: Send + 'a>(&'a self, call: CloudFuture<'a, T>) -> CloudFuture<'a, T> {
        Box::pin(async move {
            let seen = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
            let crash = (seen == self.n).then_some(self.point);
            if crash == Some(CrashPoint::Before) {
                panic!("{CRASH_MESSAGE} before a cloud call");
            }
            let result = call.await;
            if crash == Some(CrashPoint::After) {
                panic!("{CRASH_MESSAGE} after a cloud call");
            }
            result
        })
    }
}

impl ImageRegion for CrashingRegion {
    fn managed_images(&self) -> CloudFuture<'_, Vec<ManagedImage>> {
        self.guard(self.inner.managed_images())
    }
    fn managed_snapshots(&self) -> CloudFuture<'_, Vec<ManagedSnapshot>> {
        self.guard(self.inner.managed_snapshots())
    }
    fn configuration_images(&self) -> CloudFuture<'_, Vec<(String, String)>> {
        self.guard(self.inner.configuration_images())
    }
    fn template_images(&self) -> CloudFuture<'_, Vec<TemplateImage>> {
        self.guard(self.inner.template_images())
    }
    fn shared_with<'a>(&'a self, image_id: &'a str) -> CloudFuture<'a, Vec<String>> {
        self.guard(self.inner.shared_with(image_id))
    }
    fn mark<'a>(&'a self, kind: Kind, ids: &'a [String], at: DateTime<Utc>) -> CloudFuture<'a, ()> {
        self.guard(self.inner.mark(kind, ids, at))
    }
    fn unmark<'a>(&'a self, kind: Kind, ids: &'a [String]) -> CloudFuture<'a, ()> {
        self.guard(self.inner.unmark(kind, ids))
    }
    fn delete_image<'a>(&'a self, image_id: &'a str) -> CloudFuture<'a, Deleted> {
        self.guard(self.inner.delete_image(image_id))
    }
    fn delete_snapshot<'a>(&'a self, snapshot_id: &'a str) -> CloudFuture<'a, Deleted> {
        self.guard(self.inner.delete_snapshot(snapshot_id))
    }
}

/// What is left after the passes: the names of the region's images, and its snapshots.
type Remains = (BTreeSet<String>, BTreeSet<String>);

/// Two passes a grace period apart, the second crashing at `crash` (a cloud call or a record
/// write), then passes a grace period apart until nothing is left to do.
async fn crashed_at(crash: Option<(bool, usize, CrashPoint)>) -> (Remains, usize, usize) {
    let inner: SharedStore = Arc::new(MemoryStore::new());
    let (cloud_n, store_n, point) = match crash {
        Some((true, n, point)) => (n, 0, point),
        Some((false, n, point)) => (0, n, point),
        None => (0, 0, CrashPoint::Before),
    };
    let crashing_store = CrashingStore::new(inner.clone(), store_n, point);
    let region = seeded(inner.clone()).await;
    let plain = region.region();
    region.pass(&plain).await;
    region
        .clock
        .advance(std::time::Duration::from_secs(25 * 3600));
    let crashing = Arc::new(CrashingRegion {
        inner: region.region(),
        n: cloud_n,
        point,
        seen: AtomicUsize::new(0),
    });
    let store: SharedStore = crashing_store.clone();
    let (policies, now) = (region.policies().await, region.clock.now());
    let task_region = crashing.clone();
    let run = tokio::spawn(async move {
        let survey = images::survey(task_region.as_ref(), &store, &policies, now).await?;
        images::apply(task_region.as_ref(), &store, &survey).await
    });
    match run.await {
        Ok(outcome) => {
            outcome.expect("a pass that did not crash succeeds");
        }
        Err(e) => assert!(e.is_panic(), "the pass ended by the injected crash"),
    }
    let calls = crashing.seen.load(Ordering::SeqCst);
    let writes = crashing_store.creates();
    // Replays, a grace period apart, until a pass has nothing left to do.
    let mut settled = false;
    for _ in 0..4 {
        region
            .clock
            .advance(std::time::Duration::from_secs(25 * 3600));
        let outcome = region.pass(&plain).await;
        if outcome.marked.is_empty()
            && outcome.unmarked.is_empty()
            && outcome.deleted_images.is_empty()
            && outcome.deleted_snapshots.is_empty()
        {
            settled = true;
            break;
        }
    }
    assert!(settled, "the replays settle");
    let names = region
        .sim
        .admin()
        .state()
        .images
        .into_iter()
        .map(|i| i.image_name)
        .collect();
    ((names, region.snapshot_ids()), calls, writes)
}

#[tokio::test]
async fn a_pass_cut_short_at_any_call_or_write_is_finished_by_the_next() {
    let (want, calls, writes) = crashed_at(None).await;
    // Five days of passes later, everything in use is still there, and only the three
    // unneeded images are gone.
    for name in [
        "ret-newest",
        "ret-second",
        "ret-config",
        "ret-template",
        "ret-instance",
        "ret-shared",
        "ret-public",
        "ret-execution",
        "ret-rollout",
        "ret-elsewhere",
        "not-reimage",
    ] {
        assert!(want.0.contains(name), "{name} is kept: {:?}", want.0);
    }
    for name in ["ret-revived", "ret-old-a", "ret-old-b"] {
        assert!(!want.0.contains(name), "{name} is deleted");
    }
    assert!(
        calls >= 8,
        "the pass makes its calls through the wrapper: {calls}"
    );
    assert_eq!(writes, 2, "a pass writes its plan and its outcome");
    for n in 1..=calls {
        for point in [CrashPoint::Before, CrashPoint::After] {
            let (got, _, _) = crashed_at(Some((true, n, point))).await;
            assert_eq!(got, want, "crash {point:?} cloud call {n}");
        }
    }
    for n in 1..=writes {
        for point in [CrashPoint::Before, CrashPoint::After] {
            let (got, _, _) = crashed_at(Some((false, n, point))).await;
            assert_eq!(got, want, "crash {point:?} record write {n}");
        }
    }
}

#[tokio::test]
async fn a_torn_record_of_an_execution_at_work_stops_the_survey_naming_it() {
    let region = seeded(Arc::new(MemoryStore::new())).await;
    let live = region.store.list("live/").await.unwrap();
    let name = live[0].rsplit('/').next().unwrap();
    let id = ExecutionId::parse(name).unwrap();
    let key = id.record_key(3);
    region.store.create(&key, b"{\"torn").await.unwrap();
    let err = images::survey(
        &region.region(),
        &region.store,
        &region.policies().await,
        region.clock.now(),
    )
    .await
    .expect_err("a torn record stops the survey");
    let message = err.to_string();
    assert!(message.contains(&key), "{message}");
    assert!(message.contains("no image is deleted"), "{message}");
    // Nothing was marked.
    let seen = region.sim.admin().state().images;
    assert!(
        seen.iter()
            .all(|i| i.tags.iter().all(|(k, _)| k != images::TAG_MARKED)),
        "no image is marked"
    );
}

/// The parts as `reimage serve` and the functions wire them, over the sim.
fn pieces(region: &Region) -> reimage::wiring::Pieces {
    let shared: SharedClock = Arc::new(region.clock.clone());
    let cloud: Arc<dyn Cloud> = Arc::new(AliyunCloud::new(region.client.clone()));
    let config = reimage::steps::EngineConfig::default();
    reimage::wiring::Pieces {
        store: region.store.clone(),
        clock: shared.clone(),
        ids: Arc::new(RandomIds),
        dispatcher: Arc::new(reimage::dispatch::local::LocalDispatcher::new(shared)),
        clouds: Arc::new(SameCloud(cloud)),
        config,
        sealer: None,
        kicker: None,
    }
}

async fn send(
    router: &axum::Router,
    method: &str,
    uri: &str,
) -> (http::StatusCode, serde_json::Value) {
    use tower::ServiceExt as _;
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn marked_images(region: &Region) -> usize {
    let state = region.sim.admin().state();
    state
        .images
        .iter()
        .filter(|i| i.tags.iter().any(|(k, _)| k == images::TAG_MARKED))
        .count()
}

#[tokio::test]
async fn the_api_lists_the_images_and_prunes_only_when_asked_to_apply() {
    let region = seeded(Arc::new(MemoryStore::new())).await;
    let api = pieces(&region).wire().api(reimage::api::Auth::Off);
    let router = Arc::new(api).router();

    let (status, body) = send(&router, "GET", "/images").await;
    assert_eq!(status, 200, "{body}");
    let listed = body["survey"]["images"].as_array().unwrap();
    let old = listed
        .iter()
        .find(|v| v["image"]["image_id"] == region.id("ret-old-a"))
        .expect("listed");
    assert_eq!(old["action"]["kind"], "mark", "{old}");
    assert_eq!(old["retention"]["keep"], 2, "the task's own retention");

    let (status, body) = send(&router, "POST", "/images/prune?apply=yes").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "InvalidQuery");
    assert_eq!(body["field"], "apply");
    assert!(
        body["message"].as_str().unwrap().contains("\"yes\""),
        "{body}"
    );

    let (status, body) = send(&router, "POST", "/images/prune").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["outcome"].is_null(), "a dry run: {body}");
    assert_eq!(marked_images(&region), 0, "a dry run marks nothing");

    let (status, body) = send(&router, "POST", "/images/prune?apply=true").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["outcome"]["marked"].as_array().unwrap().len(),
        4,
        "{body}"
    );
    assert_eq!(marked_images(&region), 3);
}

fn timer() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "triggerTime": "2026-11-29T09:00:00Z",
        "triggerName": "every-minute",
        "payload": reimage::functions::TIMER_PAYLOAD,
    }))
    .unwrap()
}

fn ctx() -> reimage::runtime::Context {
    reimage::runtime::Context {
        control_path: reimage::runtime::ControlPath::Invoke,
        request_id: "timer".into(),
        function_name: None,
        function_handler: None,
        service_name: Some("reimage".into()),
        region: Some("cn-hangzhou".into()),
        account_id: None,
        qualifier: None,
        version_id: None,
        memory_mb: Some(128),
        timeout_secs: Some(60),
        base_path: None,
        credentials: None,
    }
}

#[tokio::test]
async fn the_minute_timer_prunes_once_a_day() {
    let region = seeded(Arc::new(MemoryStore::new())).await;
    let host = reimage::functions::FunctionHost::new(
        pieces(&region),
        None,
        reimage::runtime::RequestCredentials::new(),
    );
    let tick = || async {
        host.handle_event(reimage::model::Step::CreateImage, &ctx(), &timer())
            .await
            .expect("ticked")
    };
    let first = tick().await;
    assert_eq!(
        first["retention"]["marked"].as_array().map(Vec::len),
        Some(4),
        "{first}"
    );
    region.clock.advance(std::time::Duration::from_secs(60));
    let again = tick().await;
    assert!(again["retention"].is_null(), "once a day: {again}");
    let deletes = region.sim.admin().calls_since_reset("DeleteImage");
    // The next day's first tick deletes what the first marked.
    region
        .clock
        .advance(std::time::Duration::from_secs(24 * 3600));
    let next_day = tick().await;
    assert_eq!(
        next_day["retention"]["deleted_images"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "{next_day}"
    );
    assert_eq!(
        region.sim.admin().calls_since_reset("DeleteImage"),
        deletes + 3
    );
}

#[tokio::test]
async fn a_rollout_waiting_days_for_an_operator_still_keeps_its_image() {
    let region = seeded(Arc::new(MemoryStore::new())).await;
    region
        .clock
        .advance(std::time::Duration::from_secs(72 * 3600));
    let survey = images::survey(
        &region.region(),
        &region.store,
        &region.policies().await,
        region.clock.now(),
    )
    .await
    .unwrap();
    let found = verdicts(&survey);
    for name in ["ret-rollout", "ret-execution"] {
        assert!(
            matches!(&found[name].0, Why::InUse { uses } if matches!(uses[..], [Use::InFlight { .. }])),
            "{name}: {:?}",
            found[name]
        );
    }
}
