//! The rolling update end to end against `sim`: real HTTP, real signatures, the file store,
//! and one ManualClock for the sim and the rollout, so that stops, boots, warm-ups and bakes
//! pass at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::TimeZone;
use reimage::aliyun::Client;
use reimage::clock::{Clock, ManualClock, SharedClock};
use reimage::ids::RandomIds;
use reimage::notify::delivery as notify_delivery;
use reimage::notify::{
    Defaults, DeliveryConfig, DeliveryState, Notifier, StoredTarget, Target as NotifyTarget,
};
use reimage::rollout::{
    Advanced, Amount, BackendWeight, CommandResult, Fleet, FleetConfiguration, FleetDisk,
    FleetGroup, FleetImage, FleetInstance, GroupMember, InstanceState, Outcome, Phase, Progress,
    RefreshAction, RefreshRequest, RefreshTask, RolloutId, RolloutSpec, RolloutTiming, Rollouts,
    Stage, Strategy,
};
use reimage::secrets::{KEY_LEN, LocalSealer, SharedSealer};
use reimage::steps::AliyunCloud;
use reimage::steps::cloud::CloudFuture;
use reimage::store::SharedStore;
use reimage::store::file::FileStore;
use reimage_sim::ecs::fleet::PowerTiming;
use reimage_sim::receiver::Receiver;
use reimage_sim::seed::SeedImage;
use reimage_sim::{Seed, Sim};

const GROUP: &str = "asg-bp1demoweb0000001";
const ACTIVE: &str = "asc-bp1demoweb0000001";
const INACTIVE: &str = "asc-bp1demoweb0000002";
const UBUNTU: &str = "ubuntu_22_04_x64_20G_alibase_20240101.vhd";
const ALINUX: &str = "aliyun_3_x64_20G_alibase_20240101.vhd";
const TARGET: &str = "m-bp1rolloutgolden001";
const LB: &str = reimage_sim::seed::DEMO_LOAD_BALANCER_ID;
const VSG: &str = reimage_sim::seed::DEMO_VSERVER_GROUP_ID;

fn fleet_ids() -> Vec<String> {
    Seed::demo()
        .scaling_instances
        .iter()
        .filter(|m| m.scaling_group_id == GROUP)
        .map(|m| m.instance_id.clone())
        .collect()
}

/// The demo region with a target image, the first `ubuntu` fleet instances on Ubuntu and
/// the rest on Alibaba Cloud Linux, and the web group's fleet cut to `size`.
fn seed(size: usize, ubuntu: usize) -> Seed {
    let mut seed = Seed::demo();
    let mut target = seed.images[0].clone();
    target.image_id = TARGET.to_owned();
    target.image_name = "web-golden-2026-11-29".to_owned();
    target.image_owner_alias = "self".to_owned();
    seed.images.push(SeedImage { ..target });
    let fleet = fleet_ids();
    seed.scaling_instances
        .retain(|m| fleet[..size].contains(&m.instance_id));
    for (n, id) in fleet.iter().enumerate() {
        if let Some(i) = seed.instances.iter_mut().find(|i| &i.instance_id == id) {
            i.image_id = if n < ubuntu { UBUNTU } else { ALINUX }.to_owned();
        }
    }
    seed
}

struct Rig {
    sim: Sim,
    clock: ManualClock,
    store: SharedStore,
    cloud: Arc<AliyunCloud>,
    _dir: tempfile::TempDir,
}

async fn rig(seed: Seed) -> Rig {
    let clock = ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 11, 29, 9, 0, 0).unwrap());
    let sim = Sim::builder()
        .clock(Arc::new(clock.clone()))
        .seed(seed)
        .start()
        .await
        .expect("sim starts");
    sim.admin().set_power_timing(PowerTiming {
        stop: chrono::Duration::seconds(20),
        boot: chrono::Duration::seconds(40),
        replace: chrono::Duration::seconds(30),
    });
    let mut config = sim.client_config();
    config.clock = Arc::new(clock.clone());
    config.ids = Arc::new(RandomIds);
    let client = Client::new(config).expect("client");
    let dir = tempfile::tempdir().expect("temp dir");
    let store: SharedStore = Arc::new(FileStore::open(dir.path().join("state")).expect("store"));
    Rig {
        sim,
        clock,
        store,
        cloud: Arc::new(AliyunCloud::new(client)),
        _dir: dir,
    }
}

impl Rig {
    fn rollouts_over(&self, fleet: Arc<dyn Fleet>, store: SharedStore) -> Rollouts {
        let clock: SharedClock = Arc::new(self.clock.clone());
        Rollouts::new(
            store,
            fleet,
            clock,
            Arc::new(RandomIds),
            RolloutTiming::default(),
        )
    }

    fn rollouts(&self) -> Rollouts {
        self.rollouts_over(self.cloud.clone(), self.store.clone())
    }

    /// Advances until the end, moving the clock to each wait's end, calling `each` after
    /// every advance.
    async fn drive(
        &self,
        rollouts: &Rollouts,
        id: &RolloutId,
        mut each: impl FnMut(&Self),
    ) -> Outcome {
        for _ in 0..5_000 {
            match rollouts.advance(id).await.expect("advance") {
                Advanced::Ended(outcome) => return outcome,
                Advanced::LostRace => {}
                Advanced::Waiting(at) => {
                    let now = self.clock.now();
                    if at > now {
                        self.clock.set(at);
                    }
                }
            }
            each(self);
        }
        panic!("the rollout did not end");
    }

    /// Advances until `there` holds of the latest record, moving the clock to each wait's end.
    async fn drive_until(
        &self,
        rollouts: &Rollouts,
        id: &RolloutId,
        there: impl Fn(&reimage::rollout::RolloutRecord) -> bool,
    ) {
        for _ in 0..5_000 {
            rollouts.advance(id).await.expect("advance");
            let latest = rollouts.latest(id).await.expect("latest");
            if there(&latest) {
                return;
            }
            assert!(!latest.ended(), "ended first: {}", latest.note);
            if latest.due_at > self.clock.now() {
                self.clock.set(latest.due_at);
            }
        }
        panic!("the rollout never got there");
    }

    /// Advances until the rollout waits for an operator, moving the clock to each wait's
    /// end; answers that record's phase (or fails if it ended first).
    async fn drive_to_pause(&self, rollouts: &Rollouts, id: &RolloutId) -> Phase {
        for _ in 0..5_000 {
            let advanced = rollouts.advance(id).await.expect("advance");
            let latest = rollouts.latest(id).await.expect("latest");
            match advanced {
                Advanced::Ended(outcome) => panic!("ended before a pause: {outcome}"),
                Advanced::Waiting(_)
                    if latest.phase.as_ref().is_some_and(Phase::awaits_operator) =>
                {
                    return latest.phase.expect("a phase");
                }
                Advanced::Waiting(at) if at > self.clock.now() => self.clock.set(at),
                _ => {}
            }
        }
        panic!("the rollout never paused");
    }

    fn on_target(&self) -> usize {
        fleet_ids()
            .iter()
            .filter(|i| self.image_of(i) == TARGET)
            .count()
    }

    fn image_of(&self, id: &str) -> String {
        self.sim.admin().instance(id).expect("instance").image_id
    }

    fn configuration_image(&self, id: &str) -> String {
        self.sim
            .admin()
            .scaling_configuration(id)
            .expect("configuration")
            .image_id
    }

    /// Instances of the group out of service now: not InService, or not Running.
    fn out_of_service(&self) -> usize {
        let state = self.sim.admin().state();
        state
            .scaling_instances
            .iter()
            .filter(|m| m.scaling_group_id == GROUP)
            .filter(|m| {
                let running = state
                    .instances
                    .iter()
                    .any(|i| i.instance_id == m.instance_id && i.status == "Running");
                m.lifecycle_state != "InService" || !running
            })
            .count()
    }

    /// Every instance InService, Running and on a single image, while the rollout's
    /// processes stay suspended (a pause between batches).
    fn assert_group_at_rest_but_suspended(&self) {
        assert_eq!(self.out_of_service(), 0);
        let state = self.sim.admin().state();
        let group = state
            .scaling_groups
            .iter()
            .find(|g| g.scaling_group_id == GROUP)
            .expect("group");
        assert_eq!(
            group.suspended_processes.len(),
            3,
            "{:?}",
            group.suspended_processes
        );
    }

    /// Every instance InService at weight 50, nothing suspended.
    fn assert_group_at_rest(&self) {
        let state = self.sim.admin().state();
        let group = state
            .scaling_groups
            .iter()
            .find(|g| g.scaling_group_id == GROUP)
            .expect("group");
        assert!(
            group.suspended_processes.is_empty(),
            "{:?}",
            group.suspended_processes
        );
        for m in state
            .scaling_instances
            .iter()
            .filter(|m| m.scaling_group_id == GROUP)
        {
            assert_eq!(
                (
                    m.lifecycle_state.as_str(),
                    m.load_balancer_weight,
                    m.health_status.as_str()
                ),
                ("InService", 50, "Healthy"),
                "{}",
                m.instance_id
            );
        }
    }
}

fn spec() -> RolloutSpec {
    RolloutSpec {
        max_unavailable: Amount::Count(2),
        bake_seconds: 120,
        readiness_command: Some("systemctl is-active web".to_owned()),
        // A bad image fails its readiness command again and again until the gate timeout:
        // a short one keeps the runs that crash at each of those calls few.
        gate_timeout_seconds: 30,
        ..RolloutSpec::new(GROUP, TARGET)
    }
}

#[tokio::test]
async fn a_clean_rollout_moves_the_canary_then_the_configuration_then_the_rest() {
    let rig = rig(seed(6, 6)).await;
    let rollouts = rig.rollouts();
    let id = rollouts.start(spec()).await.unwrap();
    let most_out = AtomicUsize::new(0);
    let outcome = rig
        .drive(&rollouts, &id, |rig| {
            most_out.fetch_max(rig.out_of_service(), Ordering::SeqCst);
        })
        .await;
    assert_eq!(outcome, Outcome::Succeeded);
    for instance in fleet_ids() {
        assert_eq!(rig.image_of(&instance), TARGET, "{instance}");
    }
    assert_eq!(rig.configuration_image(ACTIVE), TARGET);
    assert_eq!(
        rig.configuration_image(INACTIVE),
        "ubuntu_22_04_x64_20G_alibase_20231120.vhd",
        "only the active configuration changes"
    );
    rig.assert_group_at_rest();
    assert_eq!(
        most_out.load(Ordering::SeqCst),
        2,
        "never more than max-unavailable out of service"
    );

    // The configuration changed after the canary, alone, had passed its gates and its bake.
    let history = rollouts.history(&id).await.unwrap();
    let swapped = history
        .iter()
        .find(|r| r.configuration_swapped)
        .expect("the configuration was swapped");
    assert_eq!(swapped.moved.len(), 1, "{}", swapped.note);
    let baked = history
        .iter()
        .position(|r| matches!(r.phase, Some(Phase::Bake { .. })))
        .expect("a bake");
    let bake_start = history[baked].at;
    assert!(swapped.at - bake_start >= chrono::Duration::seconds(120));
    // The progress view while batch 1 stopped its instances: the canary moved, batch 1
    // stopping, the rest waiting.
    let stopping = history
        .iter()
        .find(|r| matches!(&r.phase, Some(Phase::Batch(b)) if b.index == 1 && b.stage == Stage::AwaitStopped))
        .expect("batch 1 waited for its instances to stop");
    let states: Vec<InstanceState> = Progress::of(stopping)
        .unwrap()
        .instances
        .into_iter()
        .map(|r| r.state)
        .collect();
    let moving = InstanceState::Moving {
        stage: "stopping".into(),
    };
    assert_eq!(
        states,
        [
            InstanceState::Moved,
            moving.clone(),
            moving,
            InstanceState::Waiting,
            InstanceState::Waiting,
            InstanceState::Waiting
        ]
    );
    let calls = rig.sim.admin().calls();
    assert_eq!(
        calls.total.get("StopInstances"),
        Some(&4),
        "a call per batch: 1 + 2 + 2 + 1"
    );
    assert_eq!(calls.total.get("ReplaceSystemDisk"), Some(&6));
    // Behind the load balancer: every weight is what it was (web-2 at 80 in the default
    // server group), after ExitStandby had set 50; each batch was seen healthy three looks
    // in a row.
    let fleet = fleet_ids();
    for (n, instance) in fleet.iter().enumerate() {
        let lb = rig.sim.admin().backend_weight(LB, instance);
        assert_eq!(lb, Some(if n == 1 { 80 } else { 50 }), "{instance}");
        assert_eq!(rig.sim.admin().backend_weight(VSG, instance), Some(50));
    }
    assert!(
        calls
            .total
            .get("DescribeHealthStatus")
            .copied()
            .unwrap_or(0)
            >= 4 * 3
    );
    // Each new system disk got the active configuration's key pair, as an instance the
    // configuration launches has it.
    for instance in &fleet {
        assert_eq!(
            rig.sim
                .admin()
                .instance(instance)
                .unwrap()
                .key_pair_name
                .as_deref(),
            Some(reimage_sim::seed::DEMO_KEY_PAIR),
            "{instance}"
        );
    }
}

#[tokio::test]
async fn the_load_balancer_catches_a_bad_image_without_a_readiness_command() {
    let rig = rig(seed(6, 6)).await;
    rig.sim.admin().mark_image_bad(TARGET).unwrap();
    let rollouts = rig.rollouts();
    let id = rollouts
        .start(RolloutSpec {
            readiness_command: None,
            ..spec()
        })
        .await
        .unwrap();
    let Outcome::RolledBack { reason } = rig.drive(&rollouts, &id, |_| {}).await else {
        panic!("a bad image must be rolled back");
    };
    assert!(
        reason.contains("load balancer gate") && reason.contains("abnormal behind lb-"),
        "{reason}"
    );
    assert_eq!(rig.on_target(), 0);
    rig.assert_group_at_rest();
    assert_eq!(
        rig.sim.admin().backend_weight(LB, &fleet_ids()[1]),
        Some(80)
    );
}

#[tokio::test]
async fn a_bad_image_is_caught_on_the_canary_and_the_configuration_is_never_touched() {
    let rig = rig(seed(6, 6)).await;
    rig.sim.admin().mark_image_bad(TARGET).unwrap();
    let rollouts = rig.rollouts();
    let id = rollouts.start(spec()).await.unwrap();
    let Outcome::RolledBack { reason } = rig.drive(&rollouts, &id, |_| {}).await else {
        panic!("a bad image must be rolled back");
    };
    assert!(
        reason.contains("readiness command failed") && reason.contains("exit 1"),
        "{reason}"
    );
    for instance in fleet_ids() {
        assert_eq!(rig.image_of(&instance), UBUNTU, "{instance}");
    }
    assert_eq!(rig.configuration_image(ACTIVE), UBUNTU);
    rig.assert_group_at_rest();
    let calls = rig.sim.admin().calls();
    assert_eq!(
        calls.total.get("ModifyScalingConfiguration"),
        None,
        "the configuration was never changed"
    );
    assert_eq!(
        calls.total.get("ReplaceSystemDisk"),
        Some(&2),
        "only the canary was touched: onto the image and back"
    );
}

#[tokio::test]
async fn a_failure_in_a_later_batch_puts_each_instance_back_on_its_own_image() {
    // The instances alternate between Ubuntu and Alibaba Cloud Linux: a rollback has no one
    // image to put back.
    let mut seed = seed(6, 6);
    for (n, id) in fleet_ids().iter().enumerate() {
        if let Some(i) = seed.instances.iter_mut().find(|i| &i.instance_id == id) {
            i.image_id = if n % 2 == 0 { UBUNTU } else { ALINUX }.to_owned();
        }
    }
    let rig = rig(seed).await;
    let before: Vec<(String, String)> = fleet_ids()
        .into_iter()
        .map(|i| (i.clone(), rig.image_of(&i)))
        .collect();
    // Batches: the canary, two, two, one. The cloud refuses the fifth replacement: the
    // third batch's second, after its first was made (its disk still being written).
    let fleet = Arc::new(Crashing {
        refuse_replace: 5,
        ..Arc::into_inner(Crashing::new(rig.cloud.clone(), 0, false)).unwrap()
    });
    let rollouts = rig.rollouts_over(fleet, rig.store.clone());
    let id = rollouts.start(spec()).await.unwrap();
    let outcome = rig.drive(&rollouts, &id, |_| {}).await;
    let Outcome::RolledBack { reason } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("InvalidParameter.Conflict"), "{reason}");
    for (instance, image) in &before {
        assert_eq!(
            &rig.image_of(instance),
            image,
            "{instance} is back on its own image"
        );
    }
    assert_eq!(
        rig.configuration_image(ACTIVE),
        UBUNTU,
        "the configuration is back"
    );
    rig.assert_group_at_rest();
    let last = rollouts.latest(&id).await.unwrap();
    assert_eq!(
        last.restored.len(),
        5,
        "the three moved and the two of the failed batch: {:?}",
        last.restored
    );
    assert_eq!(replacements(&rig, 6), [2, 2, 2, 2, 0, 0]);
    // The progress view: per planned batch, the five put back and the last never touched.
    let progress = Progress::of(&last).expect("planned");
    let rows: Vec<(Option<usize>, &str, String)> = progress
        .instances
        .iter()
        .map(|r| (r.batch, r.instance_id.as_str(), r.state.to_string()))
        .collect();
    let ids = fleet_ids();
    let expected: Vec<(Option<usize>, &str, String)> = [0, 1, 1, 2, 2, 3]
        .into_iter()
        .zip(&ids)
        .enumerate()
        .map(|(n, (batch, id))| {
            let state = if n < 5 { "put back" } else { "untouched" };
            (Some(batch), id.as_str(), state.to_owned())
        })
        .collect();
    assert_eq!(rows, expected);
    assert_eq!(
        progress.instances[1].previous_image.as_deref(),
        Some(ALINUX),
        "each row names the image its instance ran"
    );
    let table = progress.to_string();
    assert!(
        table.lines().nth(1).unwrap().starts_with("canary "),
        "{table}"
    );
}

#[tokio::test]
async fn the_only_instance_goes_only_when_said_and_a_scaling_activity_refuses() {
    let rig = rig(seed(1, 1)).await;
    let rollouts = rig.rollouts();
    let id = rollouts
        .start(RolloutSpec::new(GROUP, TARGET))
        .await
        .unwrap();
    let Outcome::Refused { reason } = rig.drive(&rollouts, &id, |_| {}).await else {
        panic!("a group of one must be refused by default");
    };
    assert!(reason.contains("--min-in-service 0"), "{reason}");

    let activity = rig.sim.admin().start_scaling_activity(GROUP, 600).unwrap();
    let explicit = RolloutSpec {
        min_in_service: Some(0),
        ..RolloutSpec::new(GROUP, TARGET)
    };
    let id = rollouts.start(explicit.clone()).await.unwrap();
    let Outcome::Refused { reason } = rig.drive(&rollouts, &id, |_| {}).await else {
        panic!("a scaling activity in progress must refuse");
    };
    assert!(reason.contains(&activity), "{reason}");
    assert_eq!(
        rig.sim.admin().calls().total.get("EnterStandby"),
        None,
        "nothing changed"
    );

    rig.clock.advance(std::time::Duration::from_secs(600));
    let id = rollouts.start(explicit).await.unwrap();
    assert_eq!(rig.drive(&rollouts, &id, |_| {}).await, Outcome::Succeeded);
    assert_eq!(rig.image_of(&fleet_ids()[0]), TARGET);
    rig.assert_group_at_rest();
}

#[tokio::test]
async fn standby_and_protected_instances_are_left_or_moved_and_returned_as_they_were() {
    let mut seed = seed(4, 4);
    let fleet = fleet_ids();
    for m in &mut seed.scaling_instances {
        if m.instance_id == fleet[1] {
            m.lifecycle_state = "Protected".to_owned();
        }
        if m.instance_id == fleet[2] {
            m.lifecycle_state = "Standby".to_owned();
        }
    }
    let rig = rig(seed).await;
    let rollouts = rig.rollouts();
    let id = rollouts.start(spec()).await.unwrap();
    assert_eq!(rig.drive(&rollouts, &id, |_| {}).await, Outcome::Succeeded);
    assert_eq!(
        rig.image_of(&fleet[1]),
        UBUNTU,
        "Protected is skipped by default"
    );
    assert_eq!(
        rig.image_of(&fleet[2]),
        UBUNTU,
        "Standby is skipped by default"
    );
    assert_eq!(rig.image_of(&fleet[0]), TARGET);

    let id = rollouts
        .start(RolloutSpec {
            protected: reimage::rollout::Membership::Include,
            standby: reimage::rollout::Membership::Include,
            ..spec()
        })
        .await
        .unwrap();
    assert_eq!(rig.drive(&rollouts, &id, |_| {}).await, Outcome::Succeeded);
    let state = rig.sim.admin().state();
    let lifecycle = |id: &str| {
        state
            .scaling_instances
            .iter()
            .find(|m| m.instance_id == id)
            .map(|m| m.lifecycle_state.clone())
            .unwrap()
    };
    assert_eq!(rig.image_of(&fleet[1]), TARGET);
    assert_eq!(rig.image_of(&fleet[2]), TARGET);
    assert_eq!(lifecycle(&fleet[1]), "Protected", "protection is put back");
    assert_eq!(
        lifecycle(&fleet[2]),
        "Standby",
        "a Standby instance stays in Standby"
    );
}

/// A fleet that panics before or after its `n`th call, as a process that dies there would.
#[derive(Debug)]
struct Crashing {
    inner: Arc<dyn Fleet>,
    n: usize,
    after: bool,
    seen: AtomicUsize,
    /// The ReplaceSystemDisk call (from 1) the cloud refuses, as a non-retryable error.
    refuse_replace: usize,
    replaces: AtomicUsize,
}

impl Crashing {
    fn new(inner: Arc<dyn Fleet>, n: usize, after: bool) -> Arc<Self> {
        Arc::new(Self {
            inner,
            n,
            after,
            seen: AtomicUsize::new(0),
            refuse_replace: 0,
            replaces: AtomicUsize::new(0),
        })
    }
}

impl Crashing {
    fn guard<'a, T: Send + 'a>(&'a self, call: CloudFuture<'a, T>) -> CloudFuture<'a, T> {
        Box::pin(async move {
            let seen = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
            if seen == self.n && !self.after {
                panic!("injected crash before a cloud call");
            }
            let result = call.await;
            if seen == self.n && self.after {
                panic!("injected crash after a cloud call");
            }
            result
        })
    }
}

impl Fleet for Crashing {
    fn group<'a>(&'a self, g: &'a str) -> CloudFuture<'a, Option<FleetGroup>> {
        self.guard(self.inner.group(g))
    }
    fn members<'a>(&'a self, g: &'a str) -> CloudFuture<'a, Vec<GroupMember>> {
        self.guard(self.inner.members(g))
    }
    fn members_of<'a>(
        &'a self,
        g: &'a str,
        ids: &'a [String],
    ) -> CloudFuture<'a, Vec<GroupMember>> {
        self.guard(self.inner.members_of(g, ids))
    }
    fn activity_in_progress<'a>(&'a self, g: &'a str) -> CloudFuture<'a, Option<String>> {
        self.guard(self.inner.activity_in_progress(g))
    }
    fn instances<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, Vec<FleetInstance>> {
        self.guard(self.inner.instances(ids))
    }
    fn disks<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, Vec<FleetDisk>> {
        self.guard(self.inner.disks(ids))
    }
    fn images<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, Vec<FleetImage>> {
        self.guard(self.inner.images(ids))
    }
    fn system_disks<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, Vec<(String, FleetDisk)>> {
        self.guard(self.inner.system_disks(ids))
    }
    fn configuration<'a>(&'a self, c: &'a str) -> CloudFuture<'a, Option<FleetConfiguration>> {
        self.guard(self.inner.configuration(c))
    }
    fn set_configuration_image<'a>(&'a self, c: &'a str, m: &'a str) -> CloudFuture<'a, ()> {
        self.guard(self.inner.set_configuration_image(c, m))
    }
    fn enter_standby<'a>(
        &'a self,
        g: &'a str,
        ids: &'a [String],
        t: &'a str,
    ) -> CloudFuture<'a, ()> {
        self.guard(self.inner.enter_standby(g, ids, t))
    }
    fn exit_standby<'a>(
        &'a self,
        g: &'a str,
        ids: &'a [String],
        t: &'a str,
    ) -> CloudFuture<'a, ()> {
        self.guard(self.inner.exit_standby(g, ids, t))
    }
    fn set_protection<'a>(&'a self, g: &'a str, ids: &'a [String], p: bool) -> CloudFuture<'a, ()> {
        self.guard(self.inner.set_protection(g, ids, p))
    }
    fn suspend<'a>(&'a self, g: &'a str, p: &'a [String], t: &'a str) -> CloudFuture<'a, ()> {
        self.guard(self.inner.suspend(g, p, t))
    }
    fn resume<'a>(&'a self, g: &'a str, p: &'a [String], t: &'a str) -> CloudFuture<'a, ()> {
        self.guard(self.inner.resume(g, p, t))
    }
    fn stop<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, ()> {
        self.guard(self.inner.stop(ids))
    }
    fn start<'a>(&'a self, ids: &'a [String]) -> CloudFuture<'a, ()> {
        self.guard(self.inner.start(ids))
    }
    fn replace_system_disk<'a>(
        &'a self,
        i: &'a str,
        m: &'a str,
        k: Option<&'a str>,
        t: &'a str,
    ) -> CloudFuture<'a, String> {
        if self.replaces.fetch_add(1, Ordering::SeqCst) + 1 == self.refuse_replace {
            return Box::pin(async {
                Err(reimage::steps::CloudError::client(
                    "ReplaceSystemDisk",
                    "InvalidParameter.Conflict",
                    "The specified image does not support the specified instance type.",
                ))
            });
        }
        self.guard(self.inner.replace_system_disk(i, m, k, t))
    }
    fn run_command<'a>(
        &'a self,
        ids: &'a [String],
        s: &'a str,
        secs: u32,
        t: &'a str,
    ) -> CloudFuture<'a, String> {
        self.guard(self.inner.run_command(ids, s, secs, t))
    }
    fn command_results<'a>(&'a self, invoke: &'a str) -> CloudFuture<'a, Vec<CommandResult>> {
        self.guard(self.inner.command_results(invoke))
    }
    fn weights<'a>(&'a self, target: &'a str) -> CloudFuture<'a, Vec<BackendWeight>> {
        self.guard(self.inner.weights(target))
    }
    fn backend_health<'a>(&'a self, lb: &'a str) -> CloudFuture<'a, Vec<(String, String)>> {
        self.guard(self.inner.backend_health(lb))
    }
    fn set_weights<'a>(&'a self, weights: &'a [BackendWeight]) -> CloudFuture<'a, ()> {
        self.guard(self.inner.set_weights(weights))
    }
    fn image_instance_types<'a>(&'a self, m: &'a str, r: bool) -> CloudFuture<'a, Vec<String>> {
        self.guard(self.inner.image_instance_types(m, r))
    }
    fn tag_instances<'a>(
        &'a self,
        ids: &'a [String],
        k: &'a str,
        v: &'a str,
    ) -> CloudFuture<'a, ()> {
        self.guard(self.inner.tag_instances(ids, k, v))
    }
    fn refreshes_at_work<'a>(&'a self, g: &'a str) -> CloudFuture<'a, Vec<RefreshTask>> {
        self.guard(self.inner.refreshes_at_work(g))
    }
    fn refresh<'a>(&'a self, g: &'a str, t: &'a str) -> CloudFuture<'a, Option<RefreshTask>> {
        self.guard(self.inner.refresh(g, t))
    }
    fn start_refresh<'a>(&'a self, r: &'a RefreshRequest) -> CloudFuture<'a, String> {
        self.guard(self.inner.start_refresh(r))
    }
    fn refresh_action<'a>(
        &'a self,
        g: &'a str,
        t: &'a str,
        a: RefreshAction,
    ) -> CloudFuture<'a, ()> {
        self.guard(self.inner.refresh_action(g, t, a))
    }
}

/// How many new system disks each of the first `n` fleet instances got.
fn replacements(rig: &Rig, n: usize) -> Vec<u32> {
    fleet_ids()
        .iter()
        .take(n)
        .map(|i| rig.sim.admin().instance(i).expect("instance").replacements)
        .collect()
}

/// Runs a rollout of `spec` over a fresh rig of `seed` crashed at every cloud call and every
/// record write in turn (before and after each), resumes it without the crash, and checks
/// each end with `check`.
async fn crash_matrix(
    seed: fn() -> Seed,
    prepare: fn(&Rig),
    spec: RolloutSpec,
    check: fn(&Rig, &Outcome),
) {
    let calls = {
        let rig = rig(seed()).await;
        prepare(&rig);
        let counting = Crashing::new(rig.cloud.clone(), 0, false);
        let rollouts = rig.rollouts_over(counting.clone(), rig.store.clone());
        let id = rollouts.start(spec.clone()).await.unwrap();
        let outcome = rig.drive(&rollouts, &id, |_| {}).await;
        check(&rig, &outcome);
        counting.seen.load(Ordering::SeqCst)
    };
    assert!(calls > 20, "{calls}");
    let writes = {
        let rig = rig(seed()).await;
        prepare(&rig);
        let rollouts = rig.rollouts();
        let id = rollouts.start(spec.clone()).await.unwrap();
        rig.drive(&rollouts, &id, |_| {}).await;
        // Every write creates a key: the records, the index entries, the lease.
        rig.store.list("").await.unwrap().len()
    };
    for after in [false, true] {
        for n in 1..=calls {
            let rig = rig(seed()).await;
            prepare(&rig);
            let doomed = rig.rollouts_over(
                Crashing::new(rig.cloud.clone(), n, after),
                rig.store.clone(),
            );
            let id = doomed.start(spec.clone()).await.unwrap();
            let clock = rig.clock.clone();
            let run = {
                let id = id.clone();
                tokio::spawn(async move {
                    loop {
                        match doomed.advance(&id).await.expect("advance") {
                            Advanced::Ended(_) => return,
                            Advanced::LostRace => {}
                            Advanced::Waiting(at) => {
                                if at > clock.now() {
                                    clock.set(at);
                                }
                            }
                        }
                    }
                })
            };
            assert!(run.await.is_err(), "call {n} (after: {after}) crashed");
            let rollouts = rig.rollouts();
            let outcome = rig.drive(&rollouts, &id, |_| {}).await;
            check(&rig, &outcome);
        }
        for n in 1..=writes {
            let rig = rig(seed()).await;
            prepare(&rig);
            let point = if after {
                reimage::steps::testing::CrashPoint::After
            } else {
                reimage::steps::testing::CrashPoint::Before
            };
            let crashing = reimage::steps::testing::CrashingStore::new(rig.store.clone(), n, point);
            let doomed = rig.rollouts_over(rig.cloud.clone(), crashing);
            let clock = rig.clock.clone();
            let spec = spec.clone();
            let run = tokio::spawn(async move {
                let id = doomed.start(spec).await.expect("start");
                loop {
                    match doomed.advance(&id).await.expect("advance") {
                        Advanced::Ended(_) => return,
                        Advanced::LostRace => {}
                        Advanced::Waiting(at) => {
                            if at > clock.now() {
                                clock.set(at);
                            }
                        }
                    }
                }
            });
            assert!(run.await.is_err(), "write {n} (after: {after}) crashed");
            let rollouts = rig.rollouts();
            let Some(id) = rollouts
                .list()
                .await
                .unwrap()
                .first()
                .map(|r| r.rollout_id.clone())
            else {
                // The crash came before record 0 was written (its index entry is the first
                // write, the record the second): nothing started.
                assert!(
                    matches!((n, after), (1 | 2, false) | (1, true)),
                    "write {n} (after: {after})"
                );
                continue;
            };
            let outcome = rig.drive(&rollouts, &id, |_| {}).await;
            check(&rig, &outcome);
        }
    }
}

#[tokio::test]
async fn a_crash_at_any_call_or_write_of_a_rollout_resumes_to_the_same_end() {
    crash_matrix(
        || seed(2, 2),
        |_| {},
        spec(),
        |rig, outcome| {
            assert_eq!(outcome, &Outcome::Succeeded);
            for instance in fleet_ids().iter().take(2) {
                assert_eq!(rig.image_of(instance), TARGET);
            }
            assert_eq!(rig.configuration_image(ACTIVE), TARGET);
            rig.assert_group_at_rest();
            assert_eq!(
                replacements(rig, 2),
                [1, 1],
                "one new disk each, whatever the replays"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_crash_at_any_call_or_write_of_a_rollback_resumes_to_the_same_end() {
    crash_matrix(
        || seed(2, 2),
        |rig| rig.sim.admin().mark_image_bad(TARGET).unwrap(),
        spec(),
        |rig, outcome| {
            assert!(matches!(outcome, Outcome::RolledBack { .. }), "{outcome:?}");
            for instance in fleet_ids().iter().take(2) {
                assert_eq!(rig.image_of(instance), UBUNTU);
            }
            assert_eq!(rig.configuration_image(ACTIVE), UBUNTU);
            rig.assert_group_at_rest();
            assert_eq!(
                replacements(rig, 2),
                [2, 0],
                "the canary there and back, the other untouched"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn checkpoints_pause_until_continued_or_their_timer_ends() {
    let rig = rig(seed(6, 6)).await;
    let rollouts = rig.rollouts();
    // Batches 1, 2, 2, 1: after them 17 %, 50 %, 83 %, 100 % have moved.
    let id = rollouts
        .start(RolloutSpec {
            checkpoints: vec![40, 50, 80],
            ..spec()
        })
        .await
        .unwrap();
    assert!(
        rollouts.request_continue(&id).await.is_err(),
        "a rollout that is not paused cannot be continued"
    );
    let Phase::Checkpoint {
        percent,
        next,
        until,
    } = rig.drive_to_pause(&rollouts, &id).await
    else {
        panic!("not a checkpoint");
    };
    assert_eq!(
        (percent, next, until),
        (50, 2, None),
        "40 % and 50 % are reached at once, by the second batch: one pause"
    );
    assert_eq!(rig.on_target(), 3);
    rig.assert_group_at_rest_but_suspended();
    // A day passes: nothing moves without an operator.
    rig.clock.advance(std::time::Duration::from_secs(86_400));
    assert!(matches!(
        rollouts.advance(&id).await.unwrap(),
        Advanced::Waiting(_)
    ));
    assert_eq!(rig.on_target(), 3);
    let paused = rollouts.latest(&id).await.unwrap();
    rollouts.request_continue(&id).await.unwrap();
    let Phase::Checkpoint { percent: 80, .. } = rig.drive_to_pause(&rollouts, &id).await else {
        panic!("the 80 % checkpoint");
    };
    assert_eq!(rig.on_target(), 5);
    let again = rollouts.latest(&id).await.unwrap();
    assert!(again.seq > paused.seq);
    rollouts.request_continue(&id).await.unwrap();
    assert_eq!(rig.drive(&rollouts, &id, |_| {}).await, Outcome::Succeeded);
    assert_eq!(rig.on_target(), 6);
    rig.assert_group_at_rest();

    // A timed checkpoint goes on by itself.
    let rig = rig_again_of(6).await;
    let rollouts = rig.rollouts();
    let id = rollouts
        .start(RolloutSpec {
            checkpoints: vec![50],
            checkpoint_pause_seconds: Some(600),
            ..spec()
        })
        .await
        .unwrap();
    assert_eq!(rig.drive(&rollouts, &id, |_| {}).await, Outcome::Succeeded);
    let history = rollouts.history(&id).await.unwrap();
    let paused = history
        .iter()
        .position(|r| matches!(r.phase, Some(Phase::Checkpoint { .. })))
        .expect("a checkpoint");
    assert!(history[paused + 1].at - history[paused].at >= chrono::Duration::seconds(600));
}

#[tokio::test]
async fn a_cancel_ends_after_the_batch_at_work_and_leaves_nothing_behind() {
    let rig = rig(seed(6, 6)).await;
    let rollouts = rig.rollouts();
    let id = rollouts.start(spec()).await.unwrap();
    // Until the second batch is replacing its disks.
    rig.drive_until(&rollouts, &id, |r| {
        matches!(&r.phase, Some(Phase::Batch(b))
            if b.index == 1 && b.stage == reimage::rollout::Stage::AwaitDisks)
    })
    .await;
    rollouts.request_cancel(&id).await.unwrap();
    let outcome = rig.drive(&rollouts, &id, |_| {}).await;
    let Outcome::Cancelled { moved } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        moved.len(),
        3,
        "the canary and the batch at work: {moved:?}"
    );
    assert_eq!(rig.on_target(), 3);
    assert_eq!(
        rig.configuration_image(ACTIVE),
        TARGET,
        "the canary had passed: the configuration keeps the image"
    );
    rig.assert_group_at_rest();
    assert!(
        rollouts.request_cancel(&id).await.is_err(),
        "an ended rollout cannot be cancelled"
    );
}

#[tokio::test]
async fn a_held_failure_waits_then_runs_again_or_rolls_back() {
    let rig = rig(seed(6, 6)).await;
    rig.sim.admin().mark_image_bad(TARGET).unwrap();
    let rollouts = rig.rollouts();
    let id = rollouts
        .start(RolloutSpec {
            on_failure: reimage::rollout::OnFailure::Pause,
            ..spec()
        })
        .await
        .unwrap();
    let Phase::Held { reason, failed } = rig.drive_to_pause(&rollouts, &id).await else {
        panic!("not held");
    };
    assert!(reason.contains("readiness command failed"), "{reason}");
    assert!(matches!(*failed, Phase::Batch(ref b) if b.index == 0));
    assert_eq!(rig.on_target(), 1, "only the canary moved");
    assert!(
        rollouts.request_cancel(&id).await.is_err(),
        "a held failure is continued or rolled back, not cancelled"
    );
    // Continued, the canary's gates run again; they fail again, and it holds again.
    rollouts.request_continue(&id).await.unwrap();
    let Phase::Held { .. } = rig.drive_to_pause(&rollouts, &id).await else {
        panic!("held again");
    };
    // Rolled back, everything is put back.
    rollouts.request_rollback(&id).await.unwrap();
    let Outcome::RolledBack { reason } = rig.drive(&rollouts, &id, |_| {}).await else {
        panic!("rolled back");
    };
    assert!(
        reason.contains("held, then an operator asked for a rollback"),
        "{reason}"
    );
    assert_eq!(rig.on_target(), 0);
    assert_eq!(rig.configuration_image(ACTIVE), UBUNTU);
    rig.assert_group_at_rest();

    // Held, the image fixed, continued: the rollout finishes.
    let rig = rig_again_of(6).await;
    rig.sim.admin().mark_image_bad(TARGET).unwrap();
    let rollouts = rig.rollouts();
    let id = rollouts
        .start(RolloutSpec {
            on_failure: reimage::rollout::OnFailure::Pause,
            ..spec()
        })
        .await
        .unwrap();
    let Phase::Held { .. } = rig.drive_to_pause(&rollouts, &id).await else {
        panic!("not held");
    };
    rig.sim.admin().mark_image_good(TARGET).unwrap();
    rollouts.request_continue(&id).await.unwrap();
    assert_eq!(rig.drive(&rollouts, &id, |_| {}).await, Outcome::Succeeded);
    assert_eq!(rig.on_target(), 6);
    rig.assert_group_at_rest();
}

/// The HTTP API and the in-process kicker over the rig: rollouts started and asked things
/// through `/rollouts`, driven by their events.
struct Front {
    router: axum::Router,
    kicks: Arc<reimage::dispatch::kicks::LocalKicks>,
    rollouts: Rollouts,
    steps: Arc<reimage::dispatch::local::LocalDispatcher>,
    engine: reimage::steps::Engine,
}

const TOKEN: &str = "rollout-api-token-0123456789";

fn front(rig: &Rig) -> Front {
    let clock: SharedClock = Arc::new(rig.clock.clone());
    let kicks = Arc::new(reimage::dispatch::kicks::LocalKicks::new(clock.clone()));
    let steps = Arc::new(reimage::dispatch::local::LocalDispatcher::new(
        clock.clone(),
    ));
    let wired = reimage::wiring::Pieces {
        store: rig.store.clone(),
        clock,
        ids: Arc::new(RandomIds),
        dispatcher: steps.clone(),
        clouds: Arc::new(reimage::steps::aliyun::AliyunClouds::new(
            rig.cloud.client().clone(),
        )),
        config: reimage::steps::EngineConfig::default(),
        sealer: None,
        kicker: Some(kicks.clone()),
    }
    .wire();
    let api = wired.api(reimage::api::Auth::Bearer(reimage::api::ApiToken::new(
        TOKEN,
    )));
    Front {
        router: Arc::new(api).router(),
        kicks,
        rollouts: wired
            .rollouts
            .clone()
            .expect("the sim's cloud moves a fleet"),
        steps,
        engine: wired.engine,
    }
}

impl Front {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        use tower::ServiceExt as _;
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            ))
            .expect("a request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }
}

#[tokio::test]
async fn a_pause_at_a_checkpoint_is_continued_through_the_api() {
    let rig = rig(seed(6, 6)).await;
    let front = front(&rig);
    let request = serde_json::json!({
        "group_id": GROUP,
        "image_id": TARGET,
        "max_unavailable": 2,
        "bake_seconds": 120,
        "readiness_command": "systemctl is-active web",
        "checkpoints": [50],
        "pause_at_checkpoints": true,
    });

    // Bad requests are named and change nothing.
    let (status, body) = front
        .call(
            "POST",
            "/rollouts",
            Some(serde_json::json!({"group_id": GROUP})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("image_id")),
        "{body}"
    );
    let (status, body) = front
        .call(
            "POST",
            "/rollouts",
            Some(serde_json::json!({"group_id": GROUP, "image_id": TARGET, "checkpoints": [50]})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("pause_at_checkpoints"),
        "{body}"
    );
    let (status, _) = front.call("POST", "/rollouts/ro-nope/continue", None).await;
    assert_eq!(status, 404);

    // A dry run answers the plan and changes nothing.
    let mut dry = request.clone();
    dry["dry_run"] = true.into();
    let (status, plan) = front.call("POST", "/rollouts", Some(dry)).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["batches"].as_array().unwrap().len(), 4, "{plan}");
    assert_eq!(rig.on_target(), 0);

    let (status, started) = front.call("POST", "/rollouts", Some(request)).await;
    assert_eq!(status, 202, "{started}");
    let id = started["rollout_id"].as_str().unwrap().to_owned();
    assert!(front.kicks.run_until_idle(&front.rollouts).await > 0);
    let (_, view) = front.call("GET", &format!("/rollouts/{id}"), None).await;
    assert_eq!(view["rollout"]["phase"]["phase"], "checkpoint", "{view}");
    assert_eq!(rig.on_target(), 3);
    assert_eq!(
        front.kicks.pending(),
        0,
        "a pause for an operator sends nothing"
    );
    let (status, body) = front
        .call("POST", &format!("/rollouts/{id}/cancel-not"), None)
        .await;
    assert_eq!(status, 404, "{body}");

    let (status, _) = front
        .call("POST", &format!("/rollouts/{id}/continue"), None)
        .await;
    assert_eq!(status, 202);
    front.kicks.run_until_idle(&front.rollouts).await;
    let (_, view) = front.call("GET", &format!("/rollouts/{id}"), None).await;
    assert_eq!(view["rollout"]["outcome"]["outcome"], "succeeded", "{view}");
    assert!(view["history"].as_array().unwrap().len() > 10);
    assert_eq!(rig.on_target(), 6);
    rig.assert_group_at_rest();
    let (status, body) = front
        .call("POST", &format!("/rollouts/{id}/continue"), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("RolloutConflict")),
        "{body}"
    );
    let (_, list) = front.call("GET", "/rollouts", None).await;
    assert_eq!(list["rollouts"][0]["rollout_id"], id.as_str());
}

#[tokio::test]
async fn a_lost_event_is_sent_again_by_the_sweep() {
    let rig = rig(seed(6, 6)).await;
    let front = front(&rig);
    let id = front.rollouts.start(spec()).await.unwrap();
    // The first event is lost: nothing drives the rollout.
    front.kicks.run_next_dropped();
    assert_eq!(front.kicks.pending(), 0);
    let overdue = std::time::Duration::from_secs(600);
    let window = chrono::Duration::hours(3);
    assert!(
        front
            .rollouts
            .sweep(rig.clock.now(), overdue, window)
            .await
            .unwrap()
            .is_empty(),
        "not overdue yet"
    );
    rig.clock.advance(std::time::Duration::from_secs(601));
    let sent = front
        .rollouts
        .sweep(rig.clock.now(), overdue, window)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].rollout_id, id);
    front.kicks.run_until_idle(&front.rollouts).await;
    let last = front.rollouts.latest(&id).await.unwrap();
    assert_eq!(last.outcome, Some(Outcome::Succeeded), "{}", last.note);
    // An ended rollout is not sent again.
    rig.clock.advance(std::time::Duration::from_secs(3600));
    assert!(
        front
            .rollouts
            .sweep(rig.clock.now(), overdue, window)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_task_carries_its_image_to_the_running_fleet_and_a_rollback_restores_the_configuration() {
    let rig = rig(seed(6, 6)).await;
    let front = front(&rig);
    let task = |rollout: serde_json::Value| {
        serde_json::json!({
            "source_instance_id": "i-bp1demoweb000000001",
            "scaling_configuration_ids": [ACTIVE],
            "executed_at": {"kind": "now"},
            "permission": {"kind": "account"},
            "rollout": rollout,
        })
    };
    // A rollout option that cannot hold is refused with the task, naming it.
    let (status, body) = front
        .call(
            "POST",
            "/tasks",
            Some(task(serde_json::json!({"image_id": TARGET}))),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("rollout: image_id"),
        "{body}"
    );

    let (status, body) = front
        .call(
            "POST",
            "/tasks",
            Some(task(
                serde_json::json!({"max_unavailable": "50%", "bake_seconds": 60}),
            )),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let execution = body["run"]["execution_id"].as_str().unwrap().to_owned();
    front.steps.run_until_idle(&front.engine).await;
    let (_, view) = front
        .call("GET", &format!("/executions/{execution}"), None)
        .await;
    assert_eq!(view["state"]["status"], "succeeded", "{view}");
    let image = view["learned"]["image_id"].as_str().unwrap().to_owned();
    let rollout = view["learned"]["rollouts"][0]["rollout_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(view["learned"]["rollouts"][0]["group_id"], GROUP);
    front.kicks.run_until_idle(&front.rollouts).await;
    let (_, done) = front
        .call("GET", &format!("/rollouts/{rollout}"), None)
        .await;
    assert_eq!(done["rollout"]["outcome"]["outcome"], "succeeded", "{done}");
    for instance in fleet_ids() {
        assert_eq!(rig.image_of(&instance), image, "{instance}");
    }
    assert_eq!(rig.configuration_image(ACTIVE), image);
    rig.assert_group_at_rest();

    // The next run's image is bad: its rollout fails on the canary, puts the canary back, and
    // puts the configuration back on the image before the run, not the run's.
    let (_, body) = front
        .call(
            "POST",
            "/tasks",
            Some(task(serde_json::json!({"readiness_command": "systemctl is-active web", "gate_timeout_seconds": 30}))),
        )
        .await;
    let execution = body["run"]["execution_id"].as_str().unwrap().to_owned();
    // The image the run makes is marked bad as soon as it exists.
    while front.steps.run_next(&front.engine).await {
        let (_, view) = front
            .call("GET", &format!("/executions/{execution}"), None)
            .await;
        if let Some(bad) = view["learned"]["image_id"].as_str() {
            rig.sim.admin().mark_image_bad(bad).unwrap();
        }
    }
    let (_, view) = front
        .call("GET", &format!("/executions/{execution}"), None)
        .await;
    assert_eq!(view["state"]["status"], "succeeded", "{view}");
    let rollout = view["learned"]["rollouts"][0]["rollout_id"]
        .as_str()
        .unwrap()
        .to_owned();
    front.kicks.run_until_idle(&front.rollouts).await;
    let (_, done) = front
        .call("GET", &format!("/rollouts/{rollout}"), None)
        .await;
    assert_eq!(
        done["rollout"]["outcome"]["outcome"], "rolled_back",
        "{done}"
    );
    for instance in fleet_ids() {
        assert_eq!(
            rig.image_of(&instance),
            image,
            "{instance} keeps the good image"
        );
    }
    assert_eq!(
        rig.configuration_image(ACTIVE),
        image,
        "the configuration is back on the image before the bad run"
    );
    rig.assert_group_at_rest();
}

#[tokio::test]
async fn an_image_of_another_architecture_is_refused_before_anything_changes() {
    let mut seed = seed(6, 6);
    let mut arm = seed.images[0].clone();
    arm.image_id = "m-bp1rolloutarm64001".to_owned();
    arm.image_name = "web-golden-arm64".to_owned();
    arm.image_owner_alias = "self".to_owned();
    arm.architecture = "arm64".to_owned();
    seed.images.push(arm);
    let rig = rig(seed).await;
    let rollouts = rig.rollouts();
    let dry = rollouts
        .dry_run(&RolloutSpec::new(GROUP, "m-bp1rolloutarm64001"))
        .await
        .unwrap();
    let reimage::rollout::DryRun::Refused(reasons) = dry else {
        panic!("{dry:?}");
    };
    assert!(
        reasons[0].starts_with("image m-bp1rolloutarm64001 is arm64, and these instances run another architecture: i-bp1demofleet0000001 runs ubuntu"),
        "{reasons:?}"
    );
    let id = rollouts
        .start(RolloutSpec::new(GROUP, "m-bp1rolloutarm64001"))
        .await
        .unwrap();
    let outcome = rig.drive(&rollouts, &id, |_| {}).await;
    assert!(matches!(outcome, Outcome::Refused { .. }), "{outcome:?}");
    assert_eq!(rig.sim.admin().calls().total.get("EnterStandby"), None);
}

#[tokio::test]
async fn a_configuration_changed_by_someone_else_is_neither_overwritten_nor_put_back() {
    let rig = rig(seed(6, 6)).await;
    let rollouts = rig.rollouts();
    let id = rollouts.start(spec()).await.unwrap();
    // Until the canary bakes; then a newer update puts another image into the configuration.
    rig.drive_until(&rollouts, &id, |r| {
        matches!(r.phase, Some(Phase::Bake { .. }))
    })
    .await;
    Fleet::set_configuration_image(rig.cloud.as_ref(), ACTIVE, ALINUX)
        .await
        .unwrap();
    let Outcome::RolledBack { reason } = rig.drive(&rollouts, &id, |_| {}).await else {
        panic!("rolled back");
    };
    assert!(reason.contains("someone else changed it"), "{reason}");
    assert_eq!(
        rig.configuration_image(ACTIVE),
        ALINUX,
        "the newer image stays: the rollout neither swapped it nor put its own previous back"
    );
    for instance in fleet_ids() {
        assert_eq!(rig.image_of(&instance), UBUNTU, "{instance}");
    }
    rig.assert_group_at_rest();
}

#[tokio::test]
async fn a_role_this_process_cannot_assume_is_an_error_and_records_nothing() {
    let rig = rig(seed(6, 6)).await;
    let rollouts = rig.rollouts();
    let id = rollouts
        .start(RolloutSpec {
            permission: reimage::model::PermissionSource::RamRole {
                role_arn: "acs:ram::1234567890123456:role/reimage-ci".to_owned(),
            },
            ..spec()
        })
        .await
        .unwrap();
    let err = rollouts.advance(&id).await.unwrap_err().to_string();
    assert!(
        err.contains("RAM role acs:ram::1234567890123456:role/reimage-ci")
            && err.contains(id.as_str()),
        "{err}"
    );
    assert_eq!(
        rollouts.history(&id).await.unwrap().len(),
        1,
        "nothing recorded"
    );
}

// ---------------------------------------------------------------------------------------
// The refresh strategy: ESS's instance refresh replaces the instances, reimage gates them.

fn refresh_spec() -> RolloutSpec {
    RolloutSpec {
        strategy: Strategy::Refresh,
        ..spec()
    }
}

/// The group's instances now, and the image each runs.
fn group_images(rig: &Rig) -> Vec<(String, String)> {
    let state = rig.sim.admin().state();
    state
        .scaling_instances
        .iter()
        .filter(|m| m.scaling_group_id == GROUP)
        .map(|m| (m.instance_id.clone(), rig.image_of(&m.instance_id)))
        .collect()
}

#[tokio::test]
async fn the_refresh_strategy_replaces_the_fleet_batch_by_batch_behind_the_gates() {
    let rig = rig(seed(6, 6)).await;
    let rollouts = rig.rollouts();
    let id = rollouts.start(refresh_spec()).await.unwrap();
    let most_out = AtomicUsize::new(0);
    let outcome = rig
        .drive(&rollouts, &id, |rig| {
            most_out.fetch_max(rig.out_of_service(), Ordering::SeqCst);
        })
        .await;
    assert_eq!(outcome, Outcome::Succeeded);
    let now = group_images(&rig);
    assert_eq!(now.len(), 6, "{now:?}");
    for (instance, image) in &now {
        assert_eq!(image, TARGET, "{instance}");
        assert!(
            !fleet_ids().contains(instance),
            "{instance} is a new instance"
        );
    }
    for old in fleet_ids() {
        assert!(rig.sim.admin().instance(&old).is_none(), "{old} released");
    }
    assert_eq!(
        rig.configuration_image(ACTIVE),
        TARGET,
        "ESS put the image into the configuration at the end"
    );
    rig.assert_group_at_rest();
    assert!(
        most_out.load(Ordering::SeqCst) <= 2,
        "never more than max-unavailable out of service"
    );
    // Every batch of new instances passed its gates before ESS went on: three batches of
    // two, each seen healthy three looks in a row, the first twice (after its bake).
    let history = rollouts.history(&id).await.unwrap();
    let gated: Vec<Vec<String>> = history
        .iter()
        .filter_map(|r| match &r.phase {
            Some(Phase::Refresh(w)) => w.gate.as_ref().map(|b| b.instance_ids.clone()),
            _ => None,
        })
        .fold(Vec::new(), |mut all, ids| {
            if all.last() != Some(&ids) {
                all.push(ids);
            }
            all
        });
    assert!(gated.len() >= 3, "{gated:?}");
    assert!(gated.iter().all(|b| b.len() == 2), "{gated:?}");
    let last = rollouts.latest(&id).await.unwrap();
    assert_eq!(last.moved.len(), 6, "{:?}", last.moved);
    assert_eq!(last.replaced.len(), 6, "{:?}", last.replaced);
    let calls = rig.sim.admin().calls();
    assert_eq!(calls.total.get("StartInstanceRefresh"), Some(&1));
    assert_eq!(
        calls.total.get("ReplaceSystemDisk"),
        None,
        "nothing reimaged in place"
    );
    let progress = Progress::of(&last).unwrap();
    assert!(
        progress
            .instances
            .iter()
            .filter(|r| r.batch.is_some())
            .all(|r| r.state == InstanceState::Replaced),
        "{progress}"
    );
}

#[tokio::test]
async fn a_bad_image_stops_the_refresh_at_its_first_batch_and_rolls_it_back() {
    let rig = rig(seed(6, 6)).await;
    rig.sim.admin().mark_image_bad(TARGET).unwrap();
    let rollouts = rig.rollouts();
    let id = rollouts.start(refresh_spec()).await.unwrap();
    let most_on_target = AtomicUsize::new(0);
    let outcome = rig
        .drive(&rollouts, &id, |rig| {
            let on = group_images(rig)
                .iter()
                .filter(|(_, m)| m == TARGET)
                .count();
            most_on_target.fetch_max(on, Ordering::SeqCst);
        })
        .await;
    let Outcome::RolledBack { reason } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("readiness command"), "{reason}");
    assert_eq!(
        most_on_target.load(Ordering::SeqCst),
        2,
        "only the first batch ever ran the image"
    );
    let now = group_images(&rig);
    assert_eq!(now.len(), 6);
    assert!(now.iter().all(|(_, m)| m == UBUNTU), "{now:?}");
    assert_eq!(
        rig.configuration_image(ACTIVE),
        UBUNTU,
        "the configuration never took the image"
    );
    rig.assert_group_at_rest();
    let calls = rig.sim.admin().calls();
    assert_eq!(calls.total.get("SuspendInstanceRefresh"), Some(&1));
    assert_eq!(calls.total.get("RollbackInstanceRefresh"), Some(&1));
}

#[tokio::test]
async fn a_refresh_at_work_refuses_a_rollout_and_the_refresh_strategy_refuses_what_it_cannot_do() {
    let rig = rig(seed(6, 6)).await;
    let started = rig
        .cloud
        .start_refresh(&RefreshRequest {
            group_id: GROUP.into(),
            image_id: TARGET.into(),
            min_healthy_percentage: 100,
            checkpoints: vec![100],
            checkpoint_pause_minutes: 60,
            token: "someone-else".into(),
        })
        .await
        .unwrap();
    for strategy in [Strategy::InPlace, Strategy::Refresh] {
        let rollouts = rig.rollouts();
        let id = rollouts
            .start(RolloutSpec { strategy, ..spec() })
            .await
            .unwrap();
        let outcome = rig.drive(&rollouts, &id, |_| {}).await;
        let Outcome::Refused { reason } = outcome else {
            panic!("{outcome:?}");
        };
        assert!(reason.contains(&started), "{reason}");
    }
    assert_eq!(rig.sim.admin().calls().total.get("StopInstances"), None);
    let rollouts = rig.rollouts();
    for (spec, says) in [
        (
            RolloutSpec {
                standby: reimage::rollout::Membership::Include,
                ..refresh_spec()
            },
            "--standby include",
        ),
        (
            RolloutSpec {
                checkpoints: vec![50],
                ..refresh_spec()
            },
            "--checkpoint-pause-seconds",
        ),
    ] {
        let err = rollouts.start(spec).await.unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
}

#[tokio::test]
async fn a_crash_at_any_call_or_write_of_a_refresh_rollback_resumes_to_the_same_end() {
    crash_matrix(
        || seed(2, 2),
        |rig| rig.sim.admin().mark_image_bad(TARGET).unwrap(),
        RolloutSpec {
            max_unavailable: Amount::Count(1),
            ..refresh_spec()
        },
        |rig, outcome| {
            assert!(matches!(outcome, Outcome::RolledBack { .. }), "{outcome:?}");
            let now = group_images(rig);
            assert_eq!(now.len(), 2, "{now:?}");
            assert!(now.iter().all(|(_, m)| m == UBUNTU), "{now:?}");
            assert_eq!(rig.configuration_image(ACTIVE), UBUNTU);
            rig.assert_group_at_rest();
            let refreshes = refresh_statuses(rig);
            assert_eq!(
                refreshes,
                ["RollbackSuccessful"],
                "one refresh, whatever the replays"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_crash_at_any_call_or_write_of_a_refresh_resumes_to_the_same_end() {
    crash_matrix(
        || seed(2, 2),
        |_| {},
        RolloutSpec {
            max_unavailable: Amount::Count(1),
            bake_seconds: 0,
            ..refresh_spec()
        },
        |rig, outcome| {
            assert_eq!(outcome, &Outcome::Succeeded);
            let now = group_images(rig);
            assert_eq!(now.len(), 2, "{now:?}");
            assert!(now.iter().all(|(_, m)| m == TARGET), "{now:?}");
            assert_eq!(rig.configuration_image(ACTIVE), TARGET);
            rig.assert_group_at_rest();
            let refreshes = rig.sim.admin().sim_state().region().ess.refreshes.len();
            assert_eq!(refreshes, 1, "one refresh, whatever the replays");
        },
    )
    .await;
}

#[tokio::test]
async fn an_image_that_does_not_run_on_the_groups_instance_types_is_refused() {
    let rig = rig(seed(2, 2)).await;
    rig.sim
        .admin()
        .restrict_image_types(TARGET, &["ecs.g7.large"])
        .unwrap();
    let rollouts = rig.rollouts();
    let id = rollouts.start(spec()).await.unwrap();
    let outcome = rig.drive(&rollouts, &id, |_| {}).await;
    let Outcome::Refused { reason } = outcome else {
        panic!("{outcome:?}");
    };
    for needle in [
        "does not run on the instance types of i-bp1demofleet0000001 (ecs.g7.large)",
        "the instance type the group's configuration launches",
    ] {
        assert!(reason.contains(needle), "{needle}: {reason}");
    }
    let calls = rig.sim.admin().calls();
    assert_eq!(
        calls.total.get("DescribeImageSupportInstanceTypes"),
        Some(&2),
        "ChangeOS for the instances, CreateEcs for the configuration"
    );
    assert_eq!(calls.total.get("EnterStandby"), None, "nothing changed");
}

#[tokio::test]
async fn a_rollback_that_fails_quarantines_what_it_left_in_standby_and_resumes_the_rest() {
    let rig = rig(seed(6, 6)).await;
    rig.sim.admin().mark_image_bad(TARGET).unwrap();
    // The canary's new disk is the first replacement; putting its old one back, the
    // second, is refused: the rollback cannot finish.
    let fleet = Arc::new(Crashing {
        refuse_replace: 2,
        ..Arc::into_inner(Crashing::new(rig.cloud.clone(), 0, false)).unwrap()
    });
    let rollouts = rig.rollouts_over(fleet, rig.store.clone());
    let id = rollouts.start(spec()).await.unwrap();
    let outcome = rig.drive(&rollouts, &id, |_| {}).await;
    let Outcome::Paused { reason } = outcome else {
        panic!("{outcome:?}");
    };
    let canary = &fleet_ids()[0];
    assert!(reason.contains("the rollback after"), "{reason}");
    assert!(
        reason.contains(&format!("tagged reimage:quarantined={id}: {canary}")),
        "{reason}"
    );
    let state = rig.sim.admin().state();
    let member = |i: &str| {
        state
            .scaling_instances
            .iter()
            .find(|m| m.instance_id == i)
            .expect("member")
            .lifecycle_state
            .clone()
    };
    assert_eq!(member(canary), "Standby", "the canary stays out of service");
    for other in &fleet_ids()[1..] {
        assert_eq!(member(other), "InService", "{other}");
    }
    let group = state
        .scaling_groups
        .iter()
        .find(|g| g.scaling_group_id == GROUP)
        .unwrap();
    assert!(
        group.suspended_processes.is_empty(),
        "the processes resumed: {:?}",
        group.suspended_processes
    );
    // The tag is on the instance, as ECS reports it.
    let tagged = rig
        .cloud
        .client()
        .ecs()
        .list_tag_resources_all(&reimage::aliyun::ecs::ListTagResourcesRequest {
            resource_type: reimage::aliyun::ecs::TagResourceType::Instance,
            resource_ids: vec![canary.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        tagged
            .iter()
            .any(|t| t.tag_key == "reimage:quarantined" && t.tag_value == id.as_str()),
        "{tagged:?}"
    );
    let last = rollouts.latest(&id).await.unwrap();
    assert_eq!(last.quarantined, std::slice::from_ref(canary));
    let progress = Progress::of(&last).unwrap();
    assert_eq!(progress.instances[0].state, InstanceState::Quarantined);
}

#[tokio::test]
async fn a_breach_after_ess_finished_is_put_back_by_a_second_refresh() {
    // One batch: ESS replaces both instances and puts the image into the configuration
    // before the new instances can be gated.
    let rig = rig(seed(2, 2)).await;
    rig.sim.admin().mark_image_bad(TARGET).unwrap();
    let rollouts = rig.rollouts();
    let id = rollouts
        .start(RolloutSpec {
            max_unavailable: Amount::Count(2),
            min_in_service: Some(0),
            ..refresh_spec()
        })
        .await
        .unwrap();
    let outcome = rig.drive(&rollouts, &id, |_| {}).await;
    assert!(matches!(outcome, Outcome::RolledBack { .. }), "{outcome:?}");
    let now = group_images(&rig);
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(now.iter().all(|(_, m)| m == UBUNTU), "{now:?}");
    assert_eq!(
        rig.configuration_image(ACTIVE),
        UBUNTU,
        "the second refresh put the previous image back into the configuration"
    );
    rig.assert_group_at_rest();
    let statuses = refresh_statuses(&rig);
    assert_eq!(statuses, ["Successful", "Successful"]);
}

#[tokio::test]
async fn a_refresh_leaves_standby_and_protected_instances_alone_and_gates_only_new_ones() {
    let mut seed = seed(6, 6);
    for (m, state) in seed
        .scaling_instances
        .iter_mut()
        .filter(|m| m.instance_id == fleet_ids()[4] || m.instance_id == fleet_ids()[5])
        .zip(["Standby", "Protected"])
    {
        m.lifecycle_state = state.to_owned();
    }
    let rig = rig(seed).await;
    let rollouts = rig.rollouts();
    let id = rollouts.start(refresh_spec()).await.unwrap();
    let outcome = rig.drive(&rollouts, &id, |_| {}).await;
    assert_eq!(outcome, Outcome::Succeeded);
    for left in &fleet_ids()[4..] {
        assert_eq!(rig.image_of(left), UBUNTU, "{left} left alone");
    }
    let last = rollouts.latest(&id).await.unwrap();
    assert_eq!(last.moved.len(), 4, "{:?}", last.moved);
    assert_eq!(last.replaced.len(), 4, "{:?}", last.replaced);
}

#[tokio::test]
async fn a_cancel_after_a_lost_start_answer_finds_the_refresh_and_cancels_it() {
    let rig = rig(seed(4, 4)).await;
    // Crash right after StartInstanceRefresh answered: the record still says Start.
    let calls_before_start = {
        let counting = Crashing::new(rig.cloud.clone(), 0, false);
        let probe = rig.rollouts_over(counting.clone(), rig.store.clone());
        let id = probe.start(refresh_spec()).await.unwrap();
        loop {
            probe.advance(&id).await.unwrap();
            let latest = probe.latest(&id).await.unwrap();
            if matches!(&latest.phase, Some(Phase::Refresh(w)) if w.task_id.is_some()) {
                break;
            }
        }
        counting.seen.load(Ordering::SeqCst)
    };
    let rig = rig_again_of(4).await;
    let doomed = rig.rollouts_over(
        Crashing::new(rig.cloud.clone(), calls_before_start, true),
        rig.store.clone(),
    );
    let id = doomed.start(refresh_spec()).await.unwrap();
    let run = {
        let id = id.clone();
        tokio::spawn(async move {
            loop {
                doomed.advance(&id).await.expect("advance");
            }
        })
    };
    assert!(run.await.is_err(), "crashed after the start");
    let rollouts = rig.rollouts();
    rollouts.request_cancel(&id).await.unwrap();
    let outcome = rig.drive(&rollouts, &id, |_| {}).await;
    assert!(matches!(outcome, Outcome::Cancelled { .. }), "{outcome:?}");
    let statuses = refresh_statuses(&rig);
    assert_eq!(
        statuses,
        ["Cancelled"],
        "the refresh was found and cancelled"
    );
}

/// A second rig in a test whose first one is named `rig` (which hides the function).
async fn rig_again_of(size: usize) -> Rig {
    rig(seed(size, size)).await
}

/// The status of every instance refresh the sim has seen, oldest first.
fn refresh_statuses(rig: &Rig) -> Vec<String> {
    rig.sim
        .admin()
        .sim_state()
        .region()
        .ess
        .refreshes
        .iter()
        .map(|r| r.status.as_str().to_owned())
        .collect()
}

/// A notifier over the rig's store whose one target, a default of the deployment's, is an
/// `https` target at `receiver`'s `/hook`.
async fn notifying_to(rig: &Rig, receiver: &Receiver) -> Notifier {
    let clock: SharedClock = Arc::new(rig.clock.clone());
    let sealer: SharedSealer = Arc::new(LocalSealer::with_key([3; KEY_LEN]));
    let target: NotifyTarget = serde_json::from_value(serde_json::json!({
        "kind": "https", "url": receiver.url("/hook"), "secret": "rollout-notice-secret-0123",
    }))
    .expect("a target");
    Defaults::new(rig.store.clone(), Some(sealer.clone()))
        .set(vec![StoredTarget::Plain(target)], rig.clock.now())
        .await
        .expect("the defaults are set");
    Notifier::new(
        rig.store.clone(),
        clock,
        Some(sealer),
        DeliveryConfig::default(),
    )
    .expect("notifier")
}

/// The notices `receiver` got, as JSON, in order.
fn notices_at(receiver: &Receiver) -> Vec<serde_json::Value> {
    receiver.received().iter().map(|r| r.json()).collect()
}

/// The deliveries about record `seq` of rollout `id`: one, and it was sent.
async fn assert_sent_once(rig: &Rig, id: &RolloutId, seq: u64) {
    let subject = format!("{}.r{seq}", id.as_str());
    let deliveries = notify_delivery::of_subject(&rig.store, &subject)
        .await
        .expect("read");
    assert_eq!(deliveries.len(), 1, "{subject}: {deliveries:?}");
    assert_eq!(
        deliveries[0].state,
        DeliveryState::Sent { http_status: 200 },
        "{subject}"
    );
    assert_eq!(deliveries[0].attempts, 1, "{subject}");
}

#[tokio::test]
async fn a_rollout_tells_the_default_targets_when_it_awaits_approval_and_when_it_ends() {
    let receiver = Receiver::start().await.expect("receiver");
    let rig = rig(seed(6, 6)).await;
    let notifier = notifying_to(&rig, &receiver).await;
    let rollouts = rig.rollouts().with_notifier(Some(notifier.clone()));
    let id = rollouts
        .start(RolloutSpec {
            checkpoints: vec![50],
            ..spec()
        })
        .await
        .unwrap();
    assert!(
        receiver.received().is_empty(),
        "a rollout that starts is no news"
    );
    let Phase::Checkpoint {
        percent: 50,
        until: None,
        ..
    } = rig.drive_to_pause(&rollouts, &id).await
    else {
        panic!("the untimed 50 % checkpoint");
    };
    let subject = serde_json::json!({"kind": "rollout", "id": id.as_str()});
    let notices = notices_at(&receiver);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["outcome"], "awaits_approval");
    assert_eq!(notices[0]["subject"], subject);
    assert_eq!(notices[0]["image_id"], TARGET);
    assert!(
        notices[0]["cause"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("continue")),
        "{}",
        notices[0]
    );
    let paused = rollouts.latest(&id).await.unwrap();
    assert!(paused.awaits_operator());
    assert_sent_once(&rig, &id, paused.seq).await;

    // A day at the checkpoint: the advances that find it still waiting, and the sweep, say
    // nothing more.
    rig.clock.advance(std::time::Duration::from_secs(86_400));
    assert!(matches!(
        rollouts.advance(&id).await.unwrap(),
        Advanced::Waiting(_)
    ));
    assert_eq!(notifier.sweep(rig.clock.now()).await.unwrap(), 0);
    assert_eq!(receiver.received().len(), 1);

    rollouts.request_continue(&id).await.unwrap();
    assert_eq!(rig.drive(&rollouts, &id, |_| {}).await, Outcome::Succeeded);
    assert_eq!(rig.on_target(), 6);
    let notices = notices_at(&receiver);
    assert_eq!(
        notices.len(),
        2,
        "the pause and the end, nothing in between: {notices:?}"
    );
    assert_eq!(notices[1]["outcome"], "succeeded");
    assert_eq!(notices[1]["subject"], subject);
    assert_eq!(notices[1].get("cause"), None, "{}", notices[1]);
    let last = rollouts.latest(&id).await.unwrap();
    assert!(last.ended());
    assert_sent_once(&rig, &id, last.seq).await;
    // Nothing is left to retry.
    rig.clock.advance(std::time::Duration::from_secs(3600));
    assert_eq!(notifier.sweep(rig.clock.now()).await.unwrap(), 0);
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn a_rollout_rolled_back_on_the_canary_tells_why() {
    let receiver = Receiver::start().await.expect("receiver");
    let rig = rig(seed(6, 6)).await;
    rig.sim.admin().mark_image_bad(TARGET).unwrap();
    let notifier = notifying_to(&rig, &receiver).await;
    let rollouts = rig.rollouts().with_notifier(Some(notifier));
    let id = rollouts.start(spec()).await.unwrap();
    let Outcome::RolledBack { reason } = rig.drive(&rollouts, &id, |_| {}).await else {
        panic!("a bad image must be rolled back");
    };
    assert!(reason.contains("readiness command failed"), "{reason}");
    let notices = notices_at(&receiver);
    assert_eq!(notices.len(), 1, "only the end: {notices:?}");
    assert_eq!(notices[0]["outcome"], "rolled_back");
    assert_eq!(
        notices[0]["subject"],
        serde_json::json!({"kind": "rollout", "id": id.as_str()})
    );
    assert_eq!(notices[0]["cause"]["summary"], reason.as_str());
    let last = rollouts.latest(&id).await.unwrap();
    assert_sent_once(&rig, &id, last.seq).await;
    rig.assert_group_at_rest();
}

impl Rig {
    /// Puts the group on version 1 of a new launch template holding its configuration's
    /// image; answers the template.
    fn on_launch_template(&self) -> String {
        let admin = self.sim.admin();
        let template = admin
            .create_launch_template(&reimage_sim::ecs::seeding::SeedLaunchTemplate {
                launch_template_name: "web".into(),
                versions: vec![reimage_sim::ecs::seeding::SeedTemplateVersion {
                    instance_type: Some("ecs.g7.large".into()),
                    ..reimage_sim::ecs::seeding::SeedTemplateVersion::of_image(UBUNTU)
                }],
                ..Default::default()
            })
            .expect("template");
        admin
            .set_group_launch_template(
                GROUP,
                &reimage_sim::ess::state::GroupLaunchTemplate {
                    launch_template_id: template.clone(),
                    launch_template_version: "1".into(),
                    overrides: Vec::new(),
                },
            )
            .expect("the group on the template");
        template
    }

    /// The template's versions (number, image), and the version the group names.
    fn template_state(&self, template: &str) -> (Vec<(i64, Option<String>)>, String) {
        let versions = self
            .sim
            .admin()
            .state()
            .launch_templates
            .into_iter()
            .find(|t| t.launch_template_id == template)
            .expect("template")
            .versions;
        let region = self.sim.state().region();
        let version = region
            .ess
            .group(GROUP)
            .and_then(|g| g.launch_template.clone())
            .expect("on a template")
            .launch_template_version;
        (versions, version)
    }
}

#[tokio::test]
async fn a_group_on_a_launch_template_gets_a_version_after_the_canary_and_loses_it_on_rollback() {
    let rig = rig(seed(6, 6)).await;
    let template = rig.on_launch_template();
    let rollouts = rig.rollouts();
    let id = rollouts.start(spec()).await.unwrap();
    assert_eq!(rig.drive(&rollouts, &id, |_| {}).await, Outcome::Succeeded);
    for instance in fleet_ids() {
        assert_eq!(rig.image_of(&instance), TARGET, "{instance}");
    }
    let (versions, named) = rig.template_state(&template);
    assert_eq!(
        versions,
        [(1, Some(UBUNTU.to_owned())), (2, Some(TARGET.to_owned()))]
    );
    assert_eq!(named, "2", "the group launches the new version");
    assert_eq!(
        rig.configuration_image(ACTIVE),
        UBUNTU,
        "the configuration, which the group no longer uses, is left alone"
    );
    rig.assert_group_at_rest();

    // A later batch fails after the template got its version: everything is put back, the
    // version made is deleted.
    let rig = rig_again_of(6).await;
    let template = rig.on_launch_template();
    let rollouts = rig.rollouts();
    let id = rollouts.start(spec()).await.unwrap();
    let injected = std::sync::atomic::AtomicBool::new(false);
    let outcome = rig
        .drive(&rollouts, &id, |rig| {
            if !injected.load(Ordering::SeqCst) && rig.template_state(&template).0.len() == 2 {
                rig.sim
                    .admin()
                    .fail_next("ReplaceSystemDisk", "InvalidParameter.Conflict", 400, 1)
                    .unwrap();
                injected.store(true, Ordering::SeqCst);
            }
        })
        .await;
    assert!(
        injected.load(Ordering::SeqCst),
        "the template got its version"
    );
    let Outcome::RolledBack { reason } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("InvalidParameter.Conflict"), "{reason}");
    for instance in fleet_ids() {
        assert_eq!(rig.image_of(&instance), UBUNTU, "{instance}");
    }
    let (versions, named) = rig.template_state(&template);
    assert_eq!(
        versions,
        [(1, Some(UBUNTU.to_owned()))],
        "the version made is gone"
    );
    assert_eq!(named, "1");
    rig.assert_group_at_rest();

    // The refresh strategy does not take such a group: refused before anything changes.
    let rollouts = rig.rollouts();
    let id = rollouts
        .start(RolloutSpec {
            strategy: Strategy::Refresh,
            ..spec()
        })
        .await
        .unwrap();
    let Outcome::Refused { reason } = rig.drive(&rollouts, &id, |_| {}).await else {
        panic!("a refresh of a launch-template group is refused");
    };
    assert!(reason.contains("use the in_place strategy"), "{reason}");
    assert_eq!(rig.template_state(&template).0.len(), 1);
}

#[tokio::test]
async fn a_tasks_rollout_of_a_launch_template_group_rolls_back_to_the_version_before_the_run() {
    let rig = rig(seed(6, 6)).await;
    let template = rig.on_launch_template();
    let front = front(&rig);
    let (status, body) = front
        .call(
            "POST",
            "/tasks",
            Some(serde_json::json!({
                "source_instance_id": "i-bp1demoweb000000001",
                "configuration_source": "launch_template",
                "scaling_group_ids": [GROUP],
                "executed_at": {"kind": "now"},
                "permission": {"kind": "account"},
                "rollout": {"readiness_command": "systemctl is-active web", "gate_timeout_seconds": 30},
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let execution = body["run"]["execution_id"].as_str().unwrap().to_owned();
    // The image the run makes is marked bad as soon as it exists.
    while front.steps.run_next(&front.engine).await {
        let (_, view) = front
            .call("GET", &format!("/executions/{execution}"), None)
            .await;
        if let Some(bad) = view["learned"]["image_id"].as_str() {
            rig.sim.admin().mark_image_bad(bad).unwrap();
        }
    }
    let (_, view) = front
        .call("GET", &format!("/executions/{execution}"), None)
        .await;
    assert_eq!(view["state"]["status"], "succeeded", "{view}");
    let image = view["learned"]["image_id"].as_str().unwrap().to_owned();
    // The run gave the template its version and pointed the group at it.
    let (versions, named) = rig.template_state(&template);
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].1.as_deref(), Some(image.as_str()));
    assert_eq!(named, "2");
    assert_eq!(view["learned"]["rollouts"][0]["group_id"], GROUP);
    let rollout = view["learned"]["rollouts"][0]["rollout_id"]
        .as_str()
        .unwrap()
        .to_owned();
    front.kicks.run_until_idle(&front.rollouts).await;
    let (_, done) = front
        .call("GET", &format!("/rollouts/{rollout}"), None)
        .await;
    assert_eq!(
        done["rollout"]["outcome"]["outcome"], "rolled_back",
        "{done}"
    );
    for instance in fleet_ids() {
        assert_eq!(rig.image_of(&instance), UBUNTU, "{instance}");
    }
    // As the run's own rollback would: the group back on version 1, the run's version gone.
    let (versions, named) = rig.template_state(&template);
    assert_eq!(versions, [(1, Some(UBUNTU.to_owned()))]);
    assert_eq!(named, "1");
    rig.assert_group_at_rest();
}

#[tokio::test]
async fn the_manual_update_of_a_launch_template_group_over_http() {
    let rig = rig(seed(6, 6)).await;
    let template = rig.on_launch_template();
    let front = front(&rig);
    let put = |group: &str, body: serde_json::Value| {
        let path = format!("/scaling-groups/{group}/image");
        let front = &front;
        async move { front.call("PUT", &path, Some(body)).await }
    };
    let (status, body) = put(GROUP, serde_json::json!({"image_id": TARGET})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["version"],
            &body["previous_version"],
            &body["new_version"]
        ),
        (
            &serde_json::json!("1"),
            &serde_json::json!(1),
            &serde_json::json!(2)
        ),
        "{body}"
    );
    assert_eq!(body["previous_image_id"], UBUNTU);
    let (versions, named) = rig.template_state(&template);
    assert_eq!(
        versions,
        [(1, Some(UBUNTU.to_owned())), (2, Some(TARGET.to_owned()))]
    );
    assert_eq!(named, "2");

    let (status, body) = put(
        "asg-bp1nosuchgroup0001",
        serde_json::json!({"image_id": TARGET}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "GroupRefused");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("disabled or missing"),
        "{body}"
    );
    let (status, body) = put("not-a-group", serde_json::json!({"image_id": TARGET})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (404, "ScalingGroupNotFound".into())
    );
    let (status, body) = put(GROUP, serde_json::json!({"image_id": "ubuntu"})).await;
    assert_eq!(
        (status, body["field"].clone()),
        (422, "image_id".into()),
        "{body}"
    );
    assert_eq!(
        rig.template_state(&template).0.len(),
        2,
        "nothing more was made"
    );
}
