//! A task's health against the sim: its last run, last success and failures in a row, and a
//! task that disables itself when its runs keep failing, then counts afresh once enabled.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use reimage::aliyun::Client;
use reimage::api::TaskView;
use reimage::clock::{Clock as _, ManualClock, SharedClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::SequentialIds;
use reimage::model::execution::ExecutionId;
use reimage::model::task::{ExecutedAt, TaskChange, TaskSpec};
use reimage::model::{PermissionSource, State, StepRecord};
use reimage::schedule::{IndexedRuns, RunRequest, Runs, Trigger};
use reimage::steps::{AliyunClouds, Engine};
use reimage::store::SharedStore;
use reimage::store::memory::MemoryStore;
use reimage::store::tasks::TaskStore;

const INSTANCE: &str = "i-bp1demoweb000000001";
const CONFIGURATION: &str = "asc-bp1demoweb0000001";
const TASK: &str = "task-flaky";

struct Rig {
    sim: reimage_sim::Sim,
    clock: ManualClock,
    store: SharedStore,
    engine: Engine,
    dispatcher: Arc<LocalDispatcher>,
    runs: IndexedRuns<Engine>,
    tasks: TaskStore,
}

async fn rig() -> Rig {
    let t0 = Utc
        .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("t0");
    let clock = ManualClock::new(t0);
    let shared: SharedClock = Arc::new(clock.clone());
    let sim = reimage_sim::Sim::builder()
        .clock(shared.clone())
        .image_seconds(120)
        .start()
        .await
        .expect("sim");
    let mut config = sim.client_config();
    config.clock = shared.clone();
    config.ids = Arc::new(SequentialIds::new("nonce"));
    let client = Client::new(config).expect("client");
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
    let tasks = TaskStore::new(store.clone());
    let spec = TaskSpec {
        allow_default_version_change: false,
        scaling_group_ids: Vec::new(),
        notify: Vec::new(),
        retention: None,
        source_instance_id: INSTANCE.into(),
        image_name: None,
        configuration_source: Default::default(),
        scaling_configuration_ids: vec![CONFIGURATION.into()],
        executed_at: ExecutedAt::Cron {
            expression: "0 0 3 * * *".into(),
            expired_at: None,
        },
        permission: PermissionSource::RamRole {
            role_arn: format!(
                "acs:ram::{}:role/reimage-updater",
                sim.state().region().account_id
            ),
        },
        webhook_secret: None,
        webhook_runs_per_hour: None,
        disable_after_failures: Some(2),
        rollout: None,
        allow_platform_change: false,
    };
    spec.validate(clock.now()).expect("valid task");
    tasks.create(TASK, spec, clock.now()).await.expect("task");
    Rig {
        sim,
        clock,
        store,
        engine,
        dispatcher,
        runs,
        tasks,
    }
}

impl Rig {
    /// One manual run of the task to its end, its image failing if `fail` says so.
    async fn run(&self, n: u32, fail: bool) -> StepRecord {
        self.clock.advance(std::time::Duration::from_secs(3600));
        if fail {
            self.sim.admin().fail_next_image();
        }
        let task = self.tasks.get(TASK).await.expect("task");
        let started = self
            .runs
            .start(RunRequest {
                execution_id: ExecutionId::derived(&format!("{TASK}-{n}")),
                task,
                trigger: Trigger::Manual,
            })
            .await
            .expect("started");
        self.dispatcher.run_until_idle(&self.engine).await;
        self.engine
            .get(&started.execution_id)
            .await
            .expect("read")
            .expect("records")
    }

    async fn view(&self) -> TaskView {
        let task = self.tasks.get(TASK).await.expect("task");
        TaskView::with_health(&task, self.clock.now(), &self.store)
            .await
            .expect("health")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_runs_keep_failing_disables_itself_and_counts_afresh_once_enabled() {
    let rig = rig().await;
    let first = rig.run(1, false).await;
    assert_eq!(first.state, State::Succeeded);
    let first_success = first.started_at;
    let view = rig.view().await;
    let health = view.health.clone().expect("health");
    assert_eq!(health.consecutive_failures, 0);
    assert_eq!(health.last_success_at, Some(first_success));
    assert_eq!(health.last_run.expect("a run").status, "succeeded");

    // One failure: counted, the task still enabled.
    assert!(matches!(rig.run(2, true).await.state, State::Failed(_)));
    let view = rig.view().await;
    let health = view.health.clone().expect("health");
    assert!(view.enabled);
    assert_eq!(health.consecutive_failures, 1);
    assert_eq!(health.last_success_at, Some(first_success));
    assert_eq!(health.last_run.expect("a run").status, "failed");

    // The second in a row reaches the task's threshold of 2: it disables itself, saying why.
    let second = ExecutionId::derived(&format!("{TASK}-3"));
    assert!(matches!(rig.run(3, true).await.state, State::Failed(_)));
    let view = rig.view().await;
    assert!(!view.enabled);
    assert_eq!(view.change, TaskChange::DisabledAfterFailures);
    let reason = view.disabled_reason.clone().expect("a reason");
    assert!(
        reason.starts_with("2 runs in a row failed") && reason.contains(second.as_str()),
        "{reason}"
    );
    assert!(reason.contains("wait-image failed"), "{reason}");

    // Enabled again: the failures before no longer count, and the reason is gone.
    rig.clock.advance(std::time::Duration::from_secs(60));
    rig.tasks
        .change(TASK, TaskChange::Enabled, rig.clock.now())
        .await
        .expect("enabled");
    let view = rig.view().await;
    assert!(view.enabled);
    assert_eq!(view.disabled_reason, None);
    assert_eq!(view.health.expect("health").consecutive_failures, 0);
    assert!(matches!(rig.run(4, true).await.state, State::Failed(_)));
    let view = rig.view().await;
    assert!(view.enabled, "one failure since it was enabled");
    assert_eq!(view.health.expect("health").consecutive_failures, 1);
    rig.sim.shutdown().await;
}
