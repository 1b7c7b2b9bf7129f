//! Tasks with a RAM role run every cloud call of their executions with AssumeRole credentials,
//! against the sim through real HTTP and real signatures. The sim's STS issues credentials for
//! an hour and refuses them afterwards; an execution whose image takes two hours outlives its
//! first credentials and still succeeds, on fresh ones.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use reimage::aliyun::Client;
use reimage::clock::{Clock, ManualClock, SharedClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::SequentialIds;
use reimage::model::task::{ExecutedAt, TaskSpec};
use reimage::model::{PermissionSource, State};
use reimage::schedule::{IndexedRuns, Scheduler, Trigger, task_runs};
use reimage::steps::{AliyunClouds, Engine};
use reimage::store::SharedStore;
use reimage::store::memory::MemoryStore;
use reimage::store::tasks::TaskStore;

const INSTANCE: &str = "i-bp1demoweb000000001";
const CONFIGURATION: &str = "asc-bp1demoweb0000001";
const ROLE: &str = "acs:ram::1234567890123456:role/reimage-updater";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

struct World {
    sim: reimage_sim::Sim,
    clock: ManualClock,
    store: SharedStore,
    engine: Engine,
    dispatcher: Arc<LocalDispatcher>,
    scheduler: Scheduler,
}

/// The sim with images that take `image_seconds`, and an engine whose executions reach it
/// with the sim's static AccessKey, or with a role assumed through its STS.
async fn world(image_seconds: u64) -> World {
    let clock = ManualClock::new(start());
    let shared: SharedClock = Arc::new(clock.clone());
    let sim = reimage_sim::Sim::builder()
        .clock(shared.clone())
        .image_seconds(image_seconds)
        .start()
        .await
        .unwrap();
    let mut config = sim.client_config();
    config.clock = shared.clone();
    config.ids = Arc::new(SequentialIds::new("nonce"));
    let client = Client::new(config).unwrap();
    let store: SharedStore = Arc::new(MemoryStore::new());
    let dispatcher = Arc::new(LocalDispatcher::new(shared.clone()));
    let engine = Engine::new(
        store.clone(),
        shared.clone(),
        Arc::new(SequentialIds::new("id")),
        dispatcher.clone(),
        Arc::new(AliyunClouds::new(client)),
    );
    let runs = IndexedRuns::new(store.clone(), shared, engine.clone());
    let scheduler = Scheduler::new(TaskStore::new(store.clone()), Arc::new(runs));
    World {
        sim,
        clock,
        store,
        engine,
        dispatcher,
        scheduler,
    }
}

fn scheduled_task(role_arn: &str) -> TaskSpec {
    TaskSpec {
        scaling_group_ids: Vec::new(),
        allow_default_version_change: false,
        notify: Vec::new(),
        retention: None,
        source_instance_id: INSTANCE.into(),
        image_name: Some("web-golden".into()),
        configuration_source: Default::default(),
        scaling_configuration_ids: vec![CONFIGURATION.into()],
        executed_at: ExecutedAt::Scheduled {
            at: start() + chrono::Duration::minutes(5),
        },
        permission: PermissionSource::RamRole {
            role_arn: role_arn.into(),
        },
        webhook_secret: None,
        webhook_runs_per_hour: None,
        disable_after_failures: None,
        rollout: None,
        allow_platform_change: false,
    }
}

/// Creates the task, ticks at its slot, and runs what the tick started to its end.
async fn run_scheduled(world: &World, spec: TaskSpec) -> reimage::model::StepRecord {
    spec.validate(world.clock.now()).unwrap();
    TaskStore::new(world.store.clone())
        .create("task-role", spec, world.clock.now())
        .await
        .unwrap();
    world.clock.set(start() + chrono::Duration::minutes(5));
    let report = world.scheduler.tick(world.clock.now()).await.unwrap();
    assert_eq!(report.started.len(), 1, "{report:?}");
    world.dispatcher.run_until_idle(&world.engine).await;
    let runs = task_runs(&world.store, "task-role").await.unwrap();
    assert!(matches!(
        runs[0].trigger,
        Trigger::Schedule { catch_up: None, .. }
    ));
    world
        .engine
        .get(&report.started[0])
        .await
        .unwrap()
        .expect("the execution has records")
}

#[tokio::test]
async fn an_execution_that_outlives_its_sts_credentials_succeeds_on_fresh_ones() {
    // The image takes two hours; the role's credentials last one.
    let world = world(2 * 3600).await;
    world.sim.admin().reset_calls();
    let last = run_scheduled(&world, scheduled_task(ROLE)).await;
    assert_eq!(last.state, State::Succeeded, "{last:?}");
    let elapsed = world.clock.now() - start();
    assert!(
        elapsed > chrono::Duration::hours(2),
        "the execution took {elapsed}"
    );
    // One AssumeRole for the first hour, at least one more after the first credentials ran
    // out (refreshed five minutes before they expire).
    let assumed = world.sim.admin().calls_since_reset("AssumeRole");
    assert!(assumed >= 2, "AssumeRole was called {assumed} times");
    let image = last.learned.image_id.clone().expect("an image was made");
    let configuration = world
        .sim
        .admin()
        .scaling_configuration(CONFIGURATION)
        .expect("the configuration exists");
    assert_eq!(configuration.image_id, image);
    world.sim.shutdown().await;
}

#[tokio::test]
async fn a_role_sts_refuses_fails_the_execution_and_names_the_role() {
    let world = world(60).await;
    let last = run_scheduled(
        &world,
        scheduled_task("acs:ram::1234567890123456:role/no-such-role"),
    )
    .await;
    let State::Failed(failure) = &last.state else {
        panic!("expected a failure, got {:?}", last.state);
    };
    let shown = failure.to_string();
    assert!(shown.contains("EntityNotExist.Role"), "{shown}");
    assert!(shown.contains("no-such-role"), "{shown}");
    // Nothing was created with the account's own credentials instead.
    assert!(last.learned.image_id.is_none());
    world.sim.shutdown().await;
}
