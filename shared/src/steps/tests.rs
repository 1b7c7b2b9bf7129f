//! The engine driven through the local dispatcher against the in-memory fake cloud. The same
//! scenarios run end to end against `sim` in shared/tests/pipeline.rs.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;

use super::testing::{CrashPoint, CrashingCloud, CrashingStore, FakeCloud};
use super::{CloudError, Engine, EngineConfig, Handled, SameCloud, SharedCloud};
use crate::clock::{Clock, ManualClock, SharedClock};
use crate::dispatch::local::LocalDispatcher;
use crate::ids::SequentialIds;
use crate::model::{
    ExecutionId, PermissionSource, State, Step, StepEvent, StepRecord, UpdateRequest,
};
use crate::store::SharedStore;
use crate::store::memory::MemoryStore;

mod leases;
mod sweep;

const BUILD: Duration = Duration::from_secs(600);

struct Rig {
    clock: ManualClock,
    fake: Arc<FakeCloud>,
    local: Arc<LocalDispatcher>,
    engine: Engine,
}

fn clock() -> ManualClock {
    ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 5, 6, 7, 8, 9).unwrap())
}

fn rig() -> Rig {
    let clock = clock();
    let fake = FakeCloud::demo(Arc::new(clock.clone()), BUILD);
    let cloud: SharedCloud = fake.clone();
    rig_with(clock, fake, cloud, Arc::new(MemoryStore::new()))
}

fn rig_with(
    clock: ManualClock,
    fake: Arc<FakeCloud>,
    cloud: SharedCloud,
    store: SharedStore,
) -> Rig {
    let shared: SharedClock = Arc::new(clock.clone());
    let local = Arc::new(LocalDispatcher::new(shared.clone()));
    let engine = Engine::new(
        store,
        shared,
        Arc::new(SequentialIds::new("test")),
        local.clone(),
        Arc::new(SameCloud(cloud)),
    );
    Rig {
        clock,
        fake,
        local,
        engine,
    }
}

fn request(instance: &str, configs: &[&str]) -> UpdateRequest {
    UpdateRequest {
        allow_default_version_change: false,
        scaling_group_ids: Vec::new(),
        instance_id: instance.into(),
        image_name: None,
        configuration_ids: configs.iter().map(|c| (*c).to_owned()).collect(),
        permission: PermissionSource::Account,
        task_id: None,
        rollout: None,
        allow_platform_change: false,
    }
}

/// A rig whose cloud panics, as a crash would, at its call `n` (0: never; it only counts),
/// with the fake prepared by `prepare` first. Answers the rig and the crashing wrapper, which
/// counts the calls.
fn rig_crashing_cloud(
    n: usize,
    point: CrashPoint,
    prepare: impl FnOnce(&FakeCloud),
) -> (Rig, Arc<CrashingCloud>) {
    let base = rig();
    prepare(&base.fake);
    let crashing = CrashingCloud::new(base.fake.clone(), n, point);
    let rig = rig_with(
        base.clock.clone(),
        base.fake.clone(),
        crashing.clone(),
        Arc::new(MemoryStore::new()),
    );
    (rig, crashing)
}

async fn run(rig: &Rig, request: UpdateRequest) -> StepRecord {
    let record = rig.engine.start_new(request).await.unwrap();
    let report = rig.local.run_until_idle(&rig.engine).await;
    assert!(report.dropped.is_empty(), "{report:?}");
    rig.engine.get(&record.execution_id).await.unwrap().unwrap()
}

fn failure(record: &StepRecord) -> &crate::model::Failure {
    match &record.state {
        State::Failed(failure) => failure,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn success_onto_an_active_and_an_inactive_configuration() {
    let rig = rig();
    let last = run(&rig, request("i-running", &["asc-active", "asc-inactive"])).await;
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    let image_id = last.learned.image_id.clone().unwrap();
    {
        let state = rig.fake.state();
        assert_eq!(state.snapshots_created(), 1);
        assert_eq!(state.images_created(), 1);
        assert_eq!(state.images[&image_id].name, last.image_name);
        assert!(
            last.image_name
                .starts_with("UpdateImage_from_i-running_on_exec-")
        );
        for config in ["asc-active", "asc-inactive"] {
            assert_eq!(state.configurations[config].image_id, image_id);
            assert_eq!(state.times_swapped(config, &image_id), 1);
        }
        let previous = last.learned.previous_images.clone().unwrap();
        assert!(previous.iter().all(|p| p.image_id == "m-base"));
        // The image was polled (never slept on) until the 600 s build was done.
        assert!(state.count("DescribeImages") >= 2, "{:?}", state.calls);
    }
    let available = last.learned.image_available_at.unwrap();
    let requested = last.learned.image_requested_at.unwrap();
    assert!(available - requested >= chrono::Duration::seconds(600));
    // The history is a log of records, seq 0..=n, ending in the one we read.
    let history = rig.engine.history(&last.execution_id).await.unwrap();
    assert_eq!(history.len() as u64, last.seq + 1);
    assert!(history.iter().enumerate().all(|(i, r)| r.seq == i as u64));
    assert_eq!(history.last(), Some(&last));
}

#[tokio::test]
async fn a_stopped_instance_is_allowed() {
    let rig = rig();
    let last = run(&rig, request("i-stopped", &["asc-active"])).await;
    assert_eq!(last.state, State::Succeeded);
}

#[tokio::test]
async fn an_eci_group_is_refused_before_any_snapshot_exists() {
    let rig = rig();
    let last = run(&rig, request("i-running", &["asc-active", "asc-eci"])).await;
    let failure = failure(&last);
    assert_eq!(failure.step, Step::CreateImage);
    assert!(
        failure.reason.contains("asc-eci") && failure.reason.contains("ECI"),
        "{failure:?}"
    );
    let state = rig.fake.state();
    assert_eq!(state.count("CreateSnapshot"), 0);
    assert_eq!(state.configurations["asc-active"].image_id, "m-base");
}

#[tokio::test]
async fn an_unknown_instance_or_configuration_fails_naming_it() {
    let rig = rig();
    let last = run(&rig, request("i-nothere", &["asc-active"])).await;
    assert_eq!(failure(&last).reason, "instance i-nothere does not exist");
    let last = run(&rig, request("i-running", &["asc-nothere"])).await;
    assert_eq!(
        failure(&last).reason,
        "scaling configuration asc-nothere does not exist"
    );
    let last = run(&rig, request("i-starting", &["asc-active"])).await;
    assert!(failure(&last).reason.contains("is Starting"));
    assert_eq!(rig.fake.state().count("CreateSnapshot"), 0);
}

#[tokio::test]
async fn create_failed_fails_touches_no_configuration_and_cleans_up() {
    let rig = rig();
    rig.fake.state().next_image_fails = true;
    let last = run(&rig, request("i-running", &["asc-active", "asc-inactive"])).await;
    let failure = failure(&last);
    assert_eq!(failure.step, Step::WaitImage);
    assert!(failure.reason.contains("CreateFailed"), "{failure:?}");
    let state = rig.fake.state();
    assert_eq!(state.count("ModifyScalingConfiguration"), 0);
    assert!(
        state.snapshots.is_empty(),
        "snapshot left: {:?}",
        state.snapshots
    );
    assert_eq!(state.images.keys().collect::<Vec<_>>(), vec!["m-base"]);
}

#[tokio::test]
async fn a_refused_swap_puts_back_the_ones_already_swapped() {
    let rig = rig();
    rig.fake.fail_modify_of(
        "asc-inactive",
        CloudError::client("ModifyScalingConfiguration", "Forbidden.Unauthorized", "no"),
    );
    let last = run(&rig, request("i-running", &["asc-active", "asc-inactive"])).await;
    let failure = failure(&last);
    assert_eq!(failure.step, Step::SwapConfig);
    let cloud = failure.cloud.as_ref().unwrap();
    assert_eq!(cloud.code, "Forbidden.Unauthorized");
    assert_eq!(cloud.message, "no");
    assert!(
        failure.reason.contains("put back asc-active"),
        "{failure:?}"
    );
    let image_id = last.learned.image_id.clone().unwrap();
    let state = rig.fake.state();
    assert_eq!(state.configurations["asc-active"].image_id, "m-base");
    assert_eq!(state.configurations["asc-inactive"].image_id, "m-base");
    assert_eq!(
        state.modifications,
        vec![
            ("asc-active".to_owned(), image_id),
            ("asc-active".to_owned(), "m-base".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_crash_while_putting_back_is_replayed_as_the_rest_of_the_rollback() {
    let refusal =
        || CloudError::client("ModifyScalingConfiguration", "Forbidden.Unauthorized", "no");
    // A clean run of the refusal, counting its cloud calls: the last two put asc-active back
    // (DescribeScalingConfigurations, then ModifyScalingConfiguration).
    let (clean, counting) = rig_crashing_cloud(0, CrashPoint::Before, |fake| {
        fake.fail_modify_of("asc-inactive", refusal());
    });
    let last = run(
        &clean,
        request("i-running", &["asc-active", "asc-inactive"]),
    )
    .await;
    assert_eq!(failure(&last).step, Step::SwapConfig);
    let calls = counting.calls();
    assert_eq!(
        clean.fake.state().calls[calls - 2..],
        [
            "DescribeScalingConfigurations",
            "ModifyScalingConfiguration"
        ]
    );

    // The refusal happens once: a replay that swapped forward would now succeed, so only a
    // recorded rollback ends failed with every configuration back on its old image.
    for n in [calls - 1, calls] {
        for point in [CrashPoint::Before, CrashPoint::After] {
            let (rig, _) = rig_crashing_cloud(n, point, |fake| {
                fake.fail_modify_of("asc-inactive", refusal());
            });
            let id = ExecutionId::derived(&format!("crash-rollback-{n}-{point:?}"));
            let (last, crashes) = run_through_crashes(
                &rig,
                id,
                request("i-running", &["asc-active", "asc-inactive"]),
            )
            .await;
            let context = format!("crash {point:?} cloud call {n}");
            assert_eq!(crashes, 1, "{context}");
            let failure = failure(&last);
            assert_eq!(failure.step, Step::SwapConfig, "{context}");
            assert_eq!(
                failure.cloud.as_ref().map(|c| c.code.as_str()),
                Some("Forbidden.Unauthorized"),
                "{context}"
            );
            assert!(
                failure.reason.contains("put back asc-active"),
                "{context}: {failure:?}"
            );
            assert_eq!(last.learned.rolling_back, None, "{context}");
            let state = rig.fake.state();
            for config in ["asc-active", "asc-inactive"] {
                assert_eq!(state.configurations[config].image_id, "m-base", "{context}");
            }
            // The replay went on putting back: it never swapped the refused one forward.
            let image_id = last.learned.image_id.clone().unwrap();
            assert_eq!(
                state.times_swapped("asc-inactive", &image_id),
                0,
                "{context}"
            );
        }
    }
}

#[tokio::test]
async fn errors_that_may_pass_are_retried_then_give_up_cleaning_up() {
    let rig = rig();
    rig.fake.fail(
        "DescribeImages",
        CloudError::transient("DescribeImages", "ServiceUnavailable", "busy"),
        2,
    );
    let last = run(&rig, request("i-running", &["asc-active"])).await;
    assert_eq!(last.state, State::Succeeded);
    assert_eq!(last.learned.retries, 0);

    let rig = rig_default_with_faults();
    let last = run(&rig, request("i-running", &["asc-active"])).await;
    let failure = failure(&last);
    assert_eq!(failure.step, Step::WaitImage);
    assert!(
        failure.reason.contains("gave up after 5 retries"),
        "{failure:?}"
    );
    assert_eq!(failure.cloud.as_ref().unwrap().code, "Throttling");
    let state = rig.fake.state();
    assert!(state.snapshots.is_empty());
    assert_eq!(state.images.len(), 1);
}

fn rig_default_with_faults() -> Rig {
    let rig = rig();
    rig.fake.fail(
        "DescribeImages",
        CloudError {
            kind: super::cloud::ErrorKind::Throttling,
            ..CloudError::client("DescribeImages", "Throttling", "slow down")
        },
        100,
    );
    rig
}

#[tokio::test]
async fn the_deadline_fails_the_execution_and_deletes_what_it_made() {
    let clock = clock();
    let fake = FakeCloud::demo(Arc::new(clock.clone()), Duration::from_secs(3 * 3600));
    let shared: SharedClock = Arc::new(clock.clone());
    let local = Arc::new(LocalDispatcher::new(shared.clone()));
    let engine = Engine::with_config(
        Arc::new(MemoryStore::new()),
        shared,
        Arc::new(SequentialIds::new("t")),
        local.clone(),
        Arc::new(SameCloud(fake.clone())),
        EngineConfig {
            image_deadline: Duration::from_secs(4 * 3600),
            ..EngineConfig::default()
        },
    );
    let record = engine
        .start_new(request("i-running", &["asc-active"]))
        .await
        .unwrap();
    local.run_until_idle(&engine).await;
    let last = engine.get(&record.execution_id).await.unwrap().unwrap();
    let failure = failure(&last);
    assert_eq!(failure.step, Step::WaitImage);
    assert!(
        failure.reason.contains("not Available within 4h"),
        "{failure:?}"
    );
    let state = fake.state();
    assert!(state.snapshots.is_empty());
    assert_eq!(state.images.len(), 1);
    assert_eq!(state.count("ModifyScalingConfiguration"), 0);
}

#[tokio::test]
async fn a_duplicate_event_for_each_step_is_acknowledged_and_ignored() {
    let rig = rig();
    let record = rig
        .engine
        .start_new(request("i-running", &["asc-active", "asc-inactive"]))
        .await
        .unwrap();
    let mut events = vec![record.event().unwrap()];
    rig.local
        .run_until_idle_with(&rig.engine, |event, handled| {
            assert!(matches!(handled, Handled::Advanced(_)), "{handled:?}");
            events.push(event.clone());
        })
        .await;
    let steps: std::collections::BTreeSet<Step> = events.iter().map(|e| e.step).collect();
    assert_eq!(steps.len(), 4, "{events:?}");
    let calls_before = rig.fake.state().calls.len();
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
        rig.fake.state().calls.len(),
        calls_before,
        "a duplicate made a cloud call"
    );
    assert_eq!(rig.local.pending(), 0);
    // An event for an execution that does not exist is an error, not a crash.
    let unknown = StepEvent {
        execution_id: ExecutionId::parse("exec-nothere").unwrap(),
        step: Step::Verify,
        seq: 0,
    };
    assert!(matches!(
        rig.engine.handle(&unknown).await,
        Err(super::EngineError::UnknownExecution(_))
    ));
}

#[tokio::test]
async fn start_checks_the_request_and_the_name_before_anything_else() {
    let rig = rig();
    let mut bad = request("i-running", &["asc-active"]);
    bad.image_name = Some("x".repeat(100));
    let err = rig.engine.start_new(bad).await.unwrap_err();
    assert!(err.to_string().contains("at most 63 characters"), "{err}");
    let err = rig
        .engine
        .start_new(request("i-running", &[]))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no scaling configuration"),
        "{err}"
    );
    let err = rig
        .engine
        .start_new(request("i-running", &["asc-active", "asc-active"]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("given twice"), "{err}");
    let mut role = request("i-running", &["asc-active"]);
    role.permission = PermissionSource::RamRole {
        role_arn: "reimage".into(),
    };
    assert!(rig.engine.start_new(role).await.is_err());
    assert!(rig.engine.list().await.unwrap().is_empty());
    assert!(rig.fake.state().calls.is_empty());
    // A derived id starts at most once.
    let id = ExecutionId::derived("task:t-1:2026-05-06T07:00:00Z");
    rig.engine
        .start(request("i-running", &["asc-active"]), id.clone())
        .await
        .unwrap();
    assert!(matches!(
        rig.engine
            .start(request("i-running", &["asc-active"]), id)
            .await,
        Err(super::EngineError::AlreadyStarted(_))
    ));
}

#[tokio::test]
async fn a_given_name_carries_the_execution_and_start_time() {
    let rig = rig();
    let mut req = request("i-running", &["asc-active"]);
    req.image_name = Some("web-base".into());
    let last = run(&rig, req).await;
    assert_eq!(last.state, State::Succeeded);
    assert_eq!(
        last.image_name,
        format!("web-base_on_{}_at_2026-05-06T07:08:09Z", last.execution_id)
    );
}

#[tokio::test]
async fn the_sweep_redispatches_only_overdue_pending_steps() {
    let rig = rig();
    let record = rig
        .engine
        .start_new(request("i-running", &["asc-active"]))
        .await
        .unwrap();
    // Lose the dispatched event, as a lost async invocation would.
    assert_eq!(rig.local.take_all(), vec![record.event().unwrap()]);
    assert!(rig.engine.sweep(rig.clock.now()).await.unwrap().is_empty());
    rig.clock
        .advance(rig.engine.config().overdue_after + Duration::from_secs(1));
    let sent = rig.engine.sweep(rig.clock.now()).await.unwrap();
    assert_eq!(sent, vec![record.event().unwrap()]);
    rig.local.run_until_idle(&rig.engine).await;
    let last = rig.engine.get(&record.execution_id).await.unwrap().unwrap();
    assert_eq!(last.state, State::Succeeded);
    assert!(
        rig.engine
            .sweep(rig.clock.now() + chrono::Duration::days(1))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_torn_execution_record_stops_neither_the_sweep_nor_the_listing() {
    let rig = rig();
    let record = rig
        .engine
        .start_new(request("i-running", &["asc-active"]))
        .await
        .unwrap();
    rig.local.take_all();
    let torn = "executions/exec-0123456789abcdef0123456789abcdef/000000.json";
    rig.engine
        .store()
        .create(torn, br#"{"execution_id":"exec-01"#)
        .await
        .unwrap();
    rig.clock
        .advance(rig.engine.config().overdue_after + Duration::from_secs(1));
    let sent = rig.engine.sweep(rig.clock.now()).await.unwrap();
    assert_eq!(sent, vec![record.event().unwrap()]);
    let listed = rig.engine.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    let scan = rig.engine.scan().await.unwrap();
    assert_eq!(scan.unreadable.len(), 1);
    assert_eq!(scan.unreadable[0].key, torn);
}

/// Runs one execution to the end through crashes: each time the driver dies, time passes
/// until the sweep re-dispatches the pending step, as it would in production.
/// Returns the last record and how many crashes happened.
async fn run_through_crashes(
    rig: &Rig,
    id: ExecutionId,
    request: UpdateRequest,
) -> (StepRecord, usize) {
    let engine = rig.engine.clone();
    let started = tokio::spawn(async move { engine.start(request, id.clone()).await.map(|_| id) });
    let id = match started.await {
        Ok(Ok(id)) => id,
        other => panic!("start failed: {other:?}"),
    };
    let mut crashes = 0;
    for _ in 0..10 {
        let (engine, local) = (rig.engine.clone(), rig.local.clone());
        let run = tokio::spawn(async move { local.run_until_idle(&engine).await }).await;
        match run {
            Err(e) if e.is_panic() => crashes += 1,
            Err(e) => panic!("{e}"),
            Ok(_) => {}
        }
        let last = rig.engine.get(&id).await.unwrap().unwrap();
        if last.state.is_terminal() {
            return (last, crashes);
        }
        rig.clock
            .advance(rig.engine.config().overdue_after + Duration::from_secs(1));
        rig.engine.sweep(rig.clock.now()).await.unwrap();
    }
    panic!("execution {id} did not finish");
}

fn assert_exactly_once(rig: &Rig, last: &StepRecord, context: &str) {
    assert_eq!(last.state, State::Succeeded, "{context}: {last:#?}");
    let image_id = last.learned.image_id.clone().unwrap();
    let state = rig.fake.state();
    assert_eq!(state.snapshots_created(), 1, "{context}");
    assert_eq!(state.snapshots.len(), 1, "{context}");
    assert_eq!(state.images_created(), 1, "{context}");
    assert_eq!(state.images.len(), 2, "{context}");
    for config in ["asc-active", "asc-inactive"] {
        assert_eq!(state.configurations[config].image_id, image_id, "{context}");
        assert_eq!(state.times_swapped(config, &image_id), 1, "{context}");
    }
    assert_eq!(
        state.modifications.len(),
        2,
        "{context}: {:?}",
        state.modifications
    );
}

#[tokio::test]
async fn a_crash_before_or_after_any_cloud_call_then_a_replay_changes_everything_once() {
    // Count the calls of a clean run first.
    let (clean, counting) = rig_crashing_cloud(0, CrashPoint::Before, |_| {});
    let last = run(
        &clean,
        request("i-running", &["asc-active", "asc-inactive"]),
    )
    .await;
    assert_eq!(last.state, State::Succeeded);
    let calls = counting.calls();
    assert!(calls >= 10, "{calls}");

    for n in 1..=calls {
        for point in [CrashPoint::Before, CrashPoint::After] {
            let (rig, _) = rig_crashing_cloud(n, point, |_| {});
            let id = ExecutionId::derived(&format!("crash-cloud-{n}-{point:?}"));
            let (last, crashes) = run_through_crashes(
                &rig,
                id,
                request("i-running", &["asc-active", "asc-inactive"]),
            )
            .await;
            assert_eq!(crashes, 1, "crash {point:?} cloud call {n}");
            assert_exactly_once(&rig, &last, &format!("crash {point:?} cloud call {n}"));
        }
    }
}

#[tokio::test]
async fn a_crash_before_or_after_any_record_write_then_a_replay_changes_everything_once() {
    let clean = rig();
    let store = Arc::new(MemoryStore::new());
    let counting = CrashingStore::new(store, 0, CrashPoint::Before);
    let clean = rig_with(
        clean.clock.clone(),
        clean.fake.clone(),
        clean.fake.clone(),
        counting.clone(),
    );
    let last = run(
        &clean,
        request("i-running", &["asc-active", "asc-inactive"]),
    )
    .await;
    assert_eq!(last.state, State::Succeeded);
    let writes = counting.creates();
    // The listings' index entry, its records, the sweep's index entry before each record
    // that leaves it pending (all but the last), and one lease entry per configuration.
    assert_eq!(writes as u64, 1 + (last.seq + 1) + last.seq + 2);

    // Writes 1 to 3 are the listings' entry, record 0's sweep entry and record 0, written by
    // `start`: a crash there is `start` failing, which the caller sees.
    for n in 4..=writes {
        for point in [CrashPoint::Before, CrashPoint::After] {
            let base = rig();
            let crashing = CrashingStore::new(Arc::new(MemoryStore::new()), n, point);
            let rig = rig_with(
                base.clock.clone(),
                base.fake.clone(),
                base.fake.clone(),
                crashing,
            );
            let id = ExecutionId::derived(&format!("crash-store-{n}-{point:?}"));
            let (last, crashes) = run_through_crashes(
                &rig,
                id,
                request("i-running", &["asc-active", "asc-inactive"]),
            )
            .await;
            assert_eq!(crashes, 1, "crash {point:?} record write {n}");
            assert_exactly_once(&rig, &last, &format!("crash {point:?} record write {n}"));
        }
    }
}
