use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, NaiveTime, TimeZone, Weekday};

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::model::PermissionSource;
use crate::model::execution::ExecutionId;
use crate::model::task::{ExecutedAt, Periodic, Recurrence, TaskChange, TaskSpec};
use crate::store::memory::MemoryStore;
use crate::store::tasks::TaskStore;
use crate::store::{SharedStore, StoreError};

/// Starts an execution by creating its record 0 if absent, and remembers the triggers.
#[derive(Debug)]
pub(crate) struct RecordRuns {
    pub store: SharedStore,
    pub started: Mutex<Vec<(ExecutionId, Trigger)>>,
}

impl RecordRuns {
    pub(crate) fn new(store: SharedStore) -> Self {
        Self {
            store,
            started: Mutex::new(Vec::new()),
        }
    }
}

impl Runs for RecordRuns {
    fn start(&self, request: RunRequest) -> tick::RunFuture<'_> {
        Box::pin(async move {
            let key = request.execution_id.record_key(0);
            let body = serde_json::to_vec(&request.trigger).unwrap();
            match self.store.create(&key, &body).await {
                Ok(()) => {
                    self.started
                        .lock()
                        .unwrap()
                        .push((request.execution_id.clone(), request.trigger));
                    Ok(RunStarted {
                        execution_id: request.execution_id,
                        created: true,
                    })
                }
                Err(StoreError::AlreadyExists { .. }) => Ok(RunStarted {
                    execution_id: request.execution_id,
                    created: false,
                }),
                Err(err) => Err(RunError {
                    execution_id: request.execution_id,
                    message: err.to_string(),
                }),
            }
        })
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn role() -> PermissionSource {
    PermissionSource::RamRole {
        role_arn: "acs:ram::123456789012:role/reimage".into(),
    }
}

fn spec(executed_at: ExecutedAt) -> TaskSpec {
    TaskSpec {
        allow_default_version_change: false,
        scaling_group_ids: Vec::new(),
        notify: Vec::new(),
        retention: None,
        source_instance_id: "i-source1".into(),
        image_name: Some("web".into()),
        configuration_source: Default::default(),
        scaling_configuration_ids: vec!["asc-one".into()],
        executed_at,
        permission: role(),
        webhook_secret: None,
        webhook_runs_per_hour: None,
        disable_after_failures: None,
        rollout: None,
        allow_platform_change: false,
    }
}

fn console_example() -> ExecutedAt {
    ExecutedAt::Periodic(Periodic {
        recurrence: Recurrence::Monthly {
            from_day: 21,
            to_day: 25,
        },
        at: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
        starts_at: None,
        expired_at: chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2020, 8, 26, 0, 0, 0)
            .unwrap()
            .with_timezone(&Utc),
        time_zone: "Asia/Shanghai".into(),
    })
}

fn daily_at(h: u32, m: u32, zone: &str) -> Schedule {
    Schedule::compile(&ExecutedAt::Periodic(Periodic {
        recurrence: Recurrence::Daily,
        at: NaiveTime::from_hms_opt(h, m, 0).unwrap(),
        starts_at: None,
        expired_at: utc(2030, 1, 1, 0, 0),
        time_zone: zone.into(),
    }))
    .unwrap()
}

async fn scheduler_with(
    executed_at: ExecutedAt,
    created: DateTime<Utc>,
) -> (Scheduler, Arc<RecordRuns>, String) {
    let store: SharedStore = Arc::new(MemoryStore::new());
    let tasks = TaskStore::new(store.clone());
    let s = spec(executed_at);
    s.validate(created).unwrap();
    tasks.create("task-1", s, created).await.unwrap();
    let runs = Arc::new(RecordRuns::new(store));
    (Scheduler::new(tasks, runs.clone()), runs, "task-1".into())
}

#[tokio::test]
async fn console_example_runs_exactly_five_times_in_august_2020_and_never_again() {
    let start = utc(2020, 7, 31, 16, 0); // 2020-08-01 00:00 in Shanghai
    let (scheduler, runs, _) = scheduler_with(console_example(), start - TICK).await;
    let clock = ManualClock::new(start);
    let end = utc(2020, 9, 30, 16, 0); // end of September in Shanghai
    while clock.now() <= end {
        let report = scheduler.tick(clock.now()).await.unwrap();
        assert!(report.failed.is_empty(), "{report:?}");
        clock.sleep(std::time::Duration::from_secs(60)).await;
    }
    let started = runs.started.lock().unwrap().clone();
    let slots: Vec<String> = started
        .iter()
        .map(|(_, trigger)| match trigger {
            Trigger::Schedule {
                slot,
                catch_up: None,
            } => slot
                .with_timezone(&chrono_tz::Asia::Shanghai)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            other => panic!("unexpected trigger {other:?}"),
        })
        .collect();
    assert_eq!(
        slots,
        [
            "2020-08-21 02:00:00",
            "2020-08-22 02:00:00",
            "2020-08-23 02:00:00",
            "2020-08-24 02:00:00",
            "2020-08-25 02:00:00",
        ]
    );
    assert_eq!(
        started[0].0,
        slot_execution_id("task-1", utc(2020, 8, 20, 18, 0))
    );
    assert_ne!(started[0].0, started[1].0);
}

#[test]
fn monthly_range_skips_days_a_month_does_not_have() {
    let schedule = Schedule::compile(&ExecutedAt::Periodic(Periodic {
        recurrence: Recurrence::Monthly {
            from_day: 30,
            to_day: 31,
        },
        at: NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
        starts_at: None,
        expired_at: utc(2021, 5, 1, 0, 0),
        time_zone: "UTC".into(),
    }))
    .unwrap();
    let slots = schedule.slots(utc(2021, 1, 31, 12, 0), utc(2021, 4, 30, 12, 0));
    let days: Vec<_> = slots.iter().map(|s| s.date_naive().to_string()).collect();
    assert_eq!(days, ["2021-03-30", "2021-03-31", "2021-04-30"]);
}

#[test]
fn weekly_runs_on_the_named_days_only() {
    let schedule = Schedule::compile(&ExecutedAt::Periodic(Periodic {
        recurrence: Recurrence::Weekly {
            days: vec![Weekday::Mon, Weekday::Thu],
        },
        at: NaiveTime::from_hms_opt(9, 30, 0).unwrap(),
        starts_at: None,
        expired_at: utc(2030, 1, 1, 0, 0),
        time_zone: "Europe/Berlin".into(),
    }))
    .unwrap();
    // 2024-03-04 is a Monday.
    let slots = schedule.slots(utc(2024, 3, 3, 0, 0), utc(2024, 3, 10, 23, 59));
    assert_eq!(slots, [utc(2024, 3, 4, 8, 30), utc(2024, 3, 7, 8, 30)]);
}

#[test]
fn daily_local_time_follows_the_zone_across_daylight_saving() {
    let schedule = daily_at(9, 0, "America/New_York");
    // DST starts on 2024-03-10: 09:00 EST = 14:00 UTC, then 09:00 EDT = 13:00 UTC.
    let slots = schedule.slots(utc(2024, 3, 8, 0, 0), utc(2024, 3, 11, 23, 0));
    assert_eq!(
        slots,
        [
            utc(2024, 3, 8, 14, 0),
            utc(2024, 3, 9, 14, 0),
            utc(2024, 3, 10, 13, 0),
            utc(2024, 3, 11, 13, 0),
        ]
    );
}

#[test]
fn daily_in_the_skipped_hour_runs_once_at_the_end_of_the_gap() {
    let schedule = daily_at(2, 30, "America/New_York");
    let slots = schedule.slots(utc(2024, 3, 9, 12, 0), utc(2024, 3, 11, 12, 0));
    // 2024-03-10 02:30 does not exist; the run is at 03:00 EDT = 07:00 UTC.
    assert_eq!(slots, [utc(2024, 3, 10, 7, 0), utc(2024, 3, 11, 6, 30)]);
}

#[test]
fn daily_in_the_repeated_hour_runs_once() {
    let schedule = daily_at(1, 30, "America/New_York");
    // On 2024-11-03 01:30 happens twice (EDT, then EST): only the first runs.
    let slots = schedule.slots(utc(2024, 11, 2, 12, 0), utc(2024, 11, 4, 12, 0));
    assert_eq!(slots, [utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)]);
}

#[test]
fn daily_in_shanghai_is_eight_hours_ahead() {
    let schedule = daily_at(2, 0, "Asia/Shanghai");
    assert_eq!(
        schedule.next_after(utc(2024, 6, 1, 0, 0)),
        Some(utc(2024, 6, 1, 18, 0))
    );
}

#[test]
fn cron_in_a_zone_and_every_interval() {
    let cron = Schedule::compile(&ExecutedAt::Cron {
        expression: "CRON_TZ=Asia/Shanghai 0 0 4 1 * *".into(),
        expired_at: None,
    })
    .unwrap();
    assert_eq!(
        cron.next_after(utc(2024, 1, 15, 0, 0)),
        Some(utc(2024, 1, 31, 20, 0))
    );
    // Weekdays count 0-6 from Sunday: 2024-01-15 is a Monday.
    let weekday = Schedule::compile(&ExecutedAt::Cron {
        expression: "0 30 6 * * 1".into(),
        expired_at: None,
    })
    .unwrap();
    assert_eq!(
        weekday.next_after(utc(2024, 1, 13, 0, 0)),
        Some(utc(2024, 1, 15, 6, 30))
    );
    let every = Schedule::compile(&ExecutedAt::Cron {
        expression: "@every 5m".into(),
        expired_at: Some(utc(2024, 1, 1, 0, 20)),
    })
    .unwrap();
    assert_eq!(
        every.slots(utc(2024, 1, 1, 0, 2), utc(2024, 1, 1, 1, 0)),
        [
            utc(2024, 1, 1, 0, 5),
            utc(2024, 1, 1, 0, 10),
            utc(2024, 1, 1, 0, 15),
            utc(2024, 1, 1, 0, 20)
        ]
    );
}

#[test]
fn due_slots_on_time_and_catch_up_rules() {
    let every = Schedule::compile(&ExecutedAt::Cron {
        expression: "@every 5m".into(),
        expired_at: None,
    })
    .unwrap();
    let created = utc(2024, 1, 1, 0, 0);
    // A regular tick: the slot at 00:10 is on time.
    let due = due_slots(
        &every,
        created,
        utc(2024, 1, 1, 0, 9),
        utc(2024, 1, 1, 0, 10),
    );
    assert_eq!(
        due,
        [DueSlot {
            at: utc(2024, 1, 1, 0, 10),
            catch_up: None
        }]
    );
    // Nothing due between slots.
    assert!(
        due_slots(
            &every,
            created,
            utc(2024, 1, 1, 0, 10),
            utc(2024, 1, 1, 0, 11)
        )
        .is_empty()
    );
    // Ticks missed from 00:01 to 00:13: only 00:10 is caught up, and it says two were missed.
    let due = due_slots(
        &every,
        created,
        utc(2024, 1, 1, 0, 1),
        utc(2024, 1, 1, 0, 13),
    );
    assert_eq!(
        due,
        [DueSlot {
            at: utc(2024, 1, 1, 0, 10),
            catch_up: Some(CatchUp {
                missed_slots: 2,
                started_at: utc(2024, 1, 1, 0, 13)
            }),
        }]
    );
    // A slot due now supersedes the missed ones.
    let due = due_slots(
        &every,
        created,
        utc(2024, 1, 1, 0, 1),
        utc(2024, 1, 1, 0, 15),
    );
    assert_eq!(
        due,
        [DueSlot {
            at: utc(2024, 1, 1, 0, 15),
            catch_up: None
        }]
    );
    // A missed slot older than the grace window is not caught up.
    let hourly = Schedule::compile(&ExecutedAt::Cron {
        expression: "@every 1h".into(),
        expired_at: None,
    })
    .unwrap();
    assert!(
        due_slots(
            &hourly,
            created,
            utc(2024, 1, 1, 0, 1),
            utc(2024, 1, 1, 1, 11)
        )
        .is_empty()
    );
    assert_eq!(
        due_slots(
            &hourly,
            created,
            utc(2024, 1, 1, 0, 1),
            utc(2024, 1, 1, 1, 10)
        )
        .len(),
        1
    );
    // No slot before the task existed.
    assert!(
        due_slots(
            &every,
            utc(2024, 1, 1, 0, 10),
            utc(2024, 1, 1, 0, 0),
            utc(2024, 1, 1, 0, 12)
        )
        .is_empty()
    );
}

#[tokio::test]
async fn a_missed_tick_catches_up_the_latest_slot_and_its_trigger_says_so() {
    let created = utc(2024, 1, 1, 0, 0);
    let (scheduler, runs, _) = scheduler_with(
        ExecutedAt::Cron {
            expression: "@every 5m".into(),
            expired_at: None,
        },
        created,
    )
    .await;
    scheduler.tick(utc(2024, 1, 1, 0, 4)).await.unwrap();
    // The process was down from 00:04 to 00:17.
    let report = scheduler.tick(utc(2024, 1, 1, 0, 17)).await.unwrap();
    assert_eq!(
        report.started,
        [slot_execution_id("task-1", utc(2024, 1, 1, 0, 15))]
    );
    assert_eq!(report.caught_up, report.started);
    let started = runs.started.lock().unwrap().clone();
    assert_eq!(
        started[0].1,
        Trigger::Schedule {
            slot: utc(2024, 1, 1, 0, 15),
            catch_up: Some(CatchUp {
                missed_slots: 3,
                started_at: utc(2024, 1, 1, 0, 17)
            }),
        }
    );
}

#[tokio::test]
async fn duplicate_and_concurrent_ticks_start_each_slot_once() {
    let created = utc(2024, 1, 1, 0, 0);
    let (scheduler, runs, _) = scheduler_with(
        ExecutedAt::Cron {
            expression: "0 */2 * * * *".into(),
            expired_at: None,
        },
        created,
    )
    .await;
    let scheduler = Arc::new(scheduler);
    let mut started = Vec::new();
    for minute in 1..=30 {
        let now = utc(2024, 1, 1, 0, minute);
        // The same tick three times: twice at once, then again later.
        let (a, b) = tokio::join!(
            scheduler.tick_since(now - TICK, now),
            scheduler.tick_since(now - TICK, now)
        );
        let c = scheduler.tick_since(now - TICK, now).await.unwrap();
        for report in [a.unwrap(), b.unwrap(), c] {
            started.extend(report.started);
        }
    }
    assert_eq!(started.len(), 15);
    let mut unique = started.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 15);
    assert_eq!(runs.started.lock().unwrap().len(), 15);
}

#[tokio::test]
async fn two_schedulers_on_one_store_start_each_slot_once() {
    let created = utc(2024, 1, 1, 0, 0);
    let store: SharedStore = Arc::new(MemoryStore::new());
    let tasks = TaskStore::new(store.clone());
    let s = spec(ExecutedAt::Cron {
        expression: "@every 1m".into(),
        expired_at: None,
    });
    tasks.create("task-1", s, created).await.unwrap();
    let runs = Arc::new(RecordRuns::new(store.clone()));
    let a = Arc::new(Scheduler::new(tasks.clone(), runs.clone()));
    let b = Arc::new(Scheduler::new(tasks, runs.clone()));
    let mut handles = Vec::new();
    for scheduler in [a, b] {
        handles.push(tokio::spawn(async move {
            let mut n = 0;
            for minute in 1..=60 {
                n += scheduler
                    .tick(created + TICK * minute)
                    .await
                    .unwrap()
                    .started
                    .len();
            }
            n
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    assert_eq!(total, 60);
    assert_eq!(store.list("executions/").await.unwrap().len(), 60);
}

#[tokio::test]
async fn disabled_and_deleted_tasks_start_nothing() {
    let created = utc(2024, 1, 1, 0, 0);
    let (scheduler, runs, id) = scheduler_with(
        ExecutedAt::Cron {
            expression: "@every 1m".into(),
            expired_at: None,
        },
        created,
    )
    .await;
    let tasks = scheduler.tasks().clone();
    tasks
        .change(&id, TaskChange::Disabled, created)
        .await
        .unwrap();
    assert!(
        scheduler
            .tick(utc(2024, 1, 1, 0, 1))
            .await
            .unwrap()
            .started
            .is_empty()
    );
    tasks
        .change(&id, TaskChange::Enabled, created)
        .await
        .unwrap();
    assert_eq!(
        scheduler
            .tick(utc(2024, 1, 1, 0, 2))
            .await
            .unwrap()
            .started
            .len(),
        1
    );
    tasks
        .change(&id, TaskChange::Deleted, created)
        .await
        .unwrap();
    let report = scheduler.tick(utc(2024, 1, 1, 0, 3)).await.unwrap();
    assert_eq!(report.tasks, 0);
    assert_eq!(runs.started.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_scheduled_task_runs_once_at_its_minute() {
    let created = utc(2024, 1, 1, 0, 0);
    let at = Utc.with_ymd_and_hms(2024, 1, 1, 0, 5, 42).unwrap();
    let (scheduler, runs, _) = scheduler_with(ExecutedAt::Scheduled { at }, created).await;
    for minute in 1..=20 {
        scheduler.tick(utc(2024, 1, 1, 0, minute)).await.unwrap();
    }
    let started = runs.started.lock().unwrap().clone();
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0].0,
        slot_execution_id("task-1", utc(2024, 1, 1, 0, 5))
    );
}

#[test]
fn starts_at_is_honoured_in_the_local_zone() {
    let schedule = Schedule::compile(&ExecutedAt::Periodic(Periodic {
        recurrence: Recurrence::Daily,
        at: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
        starts_at: Some(
            NaiveDate::from_ymd_opt(2024, 5, 3)
                .unwrap()
                .and_hms_opt(2, 0, 0)
                .unwrap(),
        ),
        expired_at: utc(2030, 1, 1, 0, 0),
        time_zone: "Asia/Tokyo".into(),
    }))
    .unwrap();
    assert_eq!(
        schedule.next_after(utc(2024, 5, 1, 0, 0)),
        Some(utc(2024, 5, 2, 17, 0))
    );
}

#[tokio::test]
async fn two_schedulers_with_the_engine_on_one_file_store_run_the_console_example_five_times() {
    use crate::dispatch::local::LocalDispatcher;
    use crate::ids::SequentialIds;
    use crate::model::State;
    use crate::steps::testing::FakeCloud;
    use crate::steps::{Engine, SameCloud};
    use crate::store::file::FileStore;

    let dir = tempfile::tempdir().unwrap();
    let store: SharedStore = Arc::new(FileStore::open(dir.path()).unwrap());
    let engine_clock = ManualClock::new(utc(2020, 8, 1, 0, 0));
    let shared_clock: crate::clock::SharedClock = Arc::new(engine_clock.clone());
    let cloud = FakeCloud::demo(shared_clock.clone(), std::time::Duration::from_secs(300));
    let dispatcher = Arc::new(LocalDispatcher::new(shared_clock.clone()));
    let engine = Engine::new(
        store.clone(),
        shared_clock.clone(),
        Arc::new(SequentialIds::new("n")),
        dispatcher.clone(),
        Arc::new(SameCloud(cloud.clone())),
    );
    let created = utc(2020, 7, 31, 16, 0);
    let mut s = spec(console_example());
    s.source_instance_id = "i-running".into();
    s.scaling_configuration_ids = vec!["asc-active".into(), "asc-inactive".into()];
    s.validate(created).unwrap();
    let tasks = TaskStore::new(store.clone());
    tasks.create("task-console", s, created).await.unwrap();

    let schedulers: Vec<Arc<Scheduler>> = (0..2)
        .map(|_| {
            let runs = IndexedRuns::new(store.clone(), shared_clock.clone(), engine.clone());
            Arc::new(Scheduler::new(
                TaskStore::new(store.clone()),
                Arc::new(runs),
            ))
        })
        .collect();
    // Both tick every minute from 2020-08-20 00:00 to 2020-08-27 00:00 (Shanghai), at once;
    // whatever they start runs to completion before the next minute.
    let from = utc(2020, 8, 19, 16, 0);
    let mut started = 0;
    for m in 0..=(7 * 24 * 60) {
        let now = from + TICK * m;
        if engine_clock.now() < now {
            engine_clock.set(now);
        }
        let (a, b) = tokio::join!(schedulers[0].tick(now), schedulers[1].tick(now));
        for report in [a.unwrap(), b.unwrap()] {
            assert!(report.failed.is_empty(), "{report:?}");
            started += report.started.len();
        }
        dispatcher.run_until_idle(&engine).await;
    }
    assert_eq!(started, 5);
    let records = engine.list().await.unwrap();
    assert_eq!(records.len(), 5);
    for record in &records {
        assert_eq!(record.state, State::Succeeded, "{record:?}");
        assert_eq!(record.request.task_id.as_deref(), Some("task-console"));
    }
    let runs = crate::schedule::task_runs(&store, "task-console")
        .await
        .unwrap();
    assert_eq!(runs.len(), 5);
    assert_eq!(cloud.state().images_created(), 5);
}

/// Fails the first `failures` starts, then starts like [`RecordRuns`].
#[derive(Debug)]
struct FlakyRuns {
    inner: RecordRuns,
    failures: Mutex<u32>,
}

impl Runs for FlakyRuns {
    fn start(&self, request: RunRequest) -> tick::RunFuture<'_> {
        let fail = {
            let mut left = self.failures.lock().unwrap();
            let fail = *left > 0;
            *left = left.saturating_sub(1);
            fail
        };
        if fail {
            return Box::pin(async move {
                Err(RunError {
                    execution_id: request.execution_id,
                    message: "the store is unavailable".into(),
                })
            });
        }
        self.inner.start(request)
    }
}

#[tokio::test]
async fn a_failed_start_is_tried_again_by_the_next_ticks_within_the_grace_window() {
    let created = utc(2024, 1, 1, 0, 0);
    let store: SharedStore = Arc::new(MemoryStore::new());
    let tasks = TaskStore::new(store.clone());
    let s = spec(ExecutedAt::Scheduled {
        at: utc(2024, 1, 1, 0, 5),
    });
    tasks.create("task-1", s, created).await.unwrap();
    let runs = Arc::new(FlakyRuns {
        inner: RecordRuns::new(store.clone()),
        failures: Mutex::new(3),
    });
    let scheduler = Scheduler::new(tasks, runs.clone());
    let mut started = Vec::new();
    for minute in 1..=20 {
        let report = scheduler.tick(utc(2024, 1, 1, 0, minute)).await.unwrap();
        if minute == 5 {
            assert_eq!(report.failed.len(), 1, "{report:?}");
        }
        started.extend(report.started);
        // The last tick moves on even when a start failed.
        assert_eq!(scheduler.last_tick(), Some(utc(2024, 1, 1, 0, minute)));
    }
    // Failed at 00:05, 00:06 and 00:07; started at 00:08, once.
    assert_eq!(
        started,
        [slot_execution_id("task-1", utc(2024, 1, 1, 0, 5))]
    );
    assert_eq!(runs.inner.started.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_start_that_keeps_failing_is_given_up_after_the_grace_window() {
    let created = utc(2024, 1, 1, 0, 0);
    let store: SharedStore = Arc::new(MemoryStore::new());
    let tasks = TaskStore::new(store.clone());
    tasks
        .create(
            "task-1",
            spec(ExecutedAt::Scheduled {
                at: utc(2024, 1, 1, 0, 5),
            }),
            created,
        )
        .await
        .unwrap();
    let runs = Arc::new(FlakyRuns {
        inner: RecordRuns::new(store.clone()),
        failures: Mutex::new(u32::MAX),
    });
    let scheduler = Scheduler::new(tasks, runs.clone());
    let mut failures = 0;
    for minute in 1..=40 {
        failures += scheduler
            .tick(utc(2024, 1, 1, 0, minute))
            .await
            .unwrap()
            .failed
            .len();
    }
    // Tried at 00:05 and at each tick up to 00:15, then given up.
    assert_eq!(failures, 11);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    const ZONES: &[&str] = &[
        "UTC",
        "Asia/Shanghai",
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Ticks once a minute over three days around a daylight-saving change, some of them
        /// lost: no slot starts twice, none is made up, none comes after the expiry, and every
        /// slot whose minute had its tick starts.
        #[test]
        fn ticks_with_outages_start_each_slot_at_most_once_and_every_ticked_slot(
            zone in 0..ZONES.len(),
            hour in 0u32..24,
            minute in 0u32..60,
            lost in proptest::collection::vec(any::<bool>(), 3 * 24 * 60),
            expiry_minutes in 600i64..(3 * 24 * 60),
        ) {
            // 2024-03-09: the weekend the USA moves its clocks forward; Lord Howe and Chatham
            // change on 2024-04-07, London on 2024-03-31, so use a range for each in turn.
            let base = match ZONES[zone] {
                "Europe/London" => utc(2024, 3, 30, 0, 0),
                "Australia/Lord_Howe" | "Pacific/Chatham" => utc(2024, 4, 6, 0, 0),
                _ => utc(2024, 3, 9, 0, 0),
            };
            let expired_at = base + chrono::Duration::minutes(expiry_minutes);
            let schedule = Schedule::compile(&ExecutedAt::Periodic(Periodic {
                recurrence: Recurrence::Daily,
                at: NaiveTime::from_hms_opt(hour, minute, 0).unwrap(),
                starts_at: None,
                expired_at,
                time_zone: ZONES[zone].into(),
            }))
            .unwrap();
            let created = base;
            let mut last: Option<DateTime<Utc>> = None;
            let mut ticks = Vec::new();
            let mut started: Vec<DateTime<Utc>> = Vec::new();
            for (m, lost) in lost.iter().enumerate() {
                if *lost {
                    continue;
                }
                let now = base + TICK * (m as i32 + 1);
                ticks.push(now);
                let from = last.unwrap_or(now - GRACE);
                started.extend(due_slots(&schedule, created, from, now).into_iter().map(|d| d.at));
                last = Some(now);
            }
            let all = schedule.slots(created, base + TICK * (lost.len() as i32 + 1));
            let mut unique = started.clone();
            unique.sort();
            unique.dedup();
            prop_assert_eq!(unique.len(), started.len(), "a slot started twice: {:?}", started);
            for s in &started {
                prop_assert!(all.contains(s), "{} is not a slot", s);
                prop_assert!(*s <= expired_at);
            }
            for s in &all {
                let ticked = ticks.iter().any(|t| *t >= *s && *t - *s < TICK);
                if ticked {
                    prop_assert!(started.contains(s), "slot {} had its tick but did not start", s);
                }
            }
        }
    }
}

/// A store whose task listing fails while `down` is set.
#[derive(Debug)]
struct ListingDown {
    inner: MemoryStore,
    down: std::sync::atomic::AtomicBool,
}

impl crate::store::StateStore for ListingDown {
    fn create<'a>(&'a self, key: &'a str, value: &'a [u8]) -> crate::store::StoreFuture<'a, ()> {
        self.inner.create(key, value)
    }
    fn get<'a>(&'a self, key: &'a str) -> crate::store::StoreFuture<'a, Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn list<'a>(&'a self, prefix: &'a str) -> crate::store::StoreFuture<'a, Vec<String>> {
        if prefix == "tasks/" && self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Box::pin(async move {
                Err(StoreError::Backend {
                    op: "list",
                    key: prefix.to_owned(),
                    message: "the store is unavailable".into(),
                    transient: true,
                })
            });
        }
        self.inner.list(prefix)
    }
}

#[tokio::test]
async fn a_tick_that_cannot_list_the_tasks_keeps_its_retries_and_its_last_tick() {
    let created = utc(2024, 1, 1, 0, 0);
    let store = Arc::new(ListingDown {
        inner: MemoryStore::new(),
        down: std::sync::atomic::AtomicBool::new(false),
    });
    let shared: SharedStore = store.clone();
    let tasks = TaskStore::new(shared.clone());
    let s = spec(ExecutedAt::Scheduled {
        at: utc(2024, 1, 1, 0, 5),
    });
    tasks.create("task-1", s, created).await.unwrap();
    let runs = Arc::new(FlakyRuns {
        inner: RecordRuns::new(shared),
        failures: Mutex::new(2),
    });
    let scheduler = Scheduler::new(tasks, runs.clone());
    // 00:05: the slot's start fails and becomes a retry.
    let report = scheduler.tick(utc(2024, 1, 1, 0, 5)).await.unwrap();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    // 00:06: the task listing fails; the retry is still tried (and fails again), kept, and
    // the last tick stays where it was.
    store.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let err = scheduler.tick(utc(2024, 1, 1, 0, 6)).await.unwrap_err();
    assert!(
        err.to_string().contains("the store is unavailable"),
        "{err}"
    );
    assert_eq!(scheduler.last_tick(), Some(utc(2024, 1, 1, 0, 5)));
    // 00:07: the store is back; the kept retry starts the slot, once.
    store.down.store(false, std::sync::atomic::Ordering::SeqCst);
    let report = scheduler.tick(utc(2024, 1, 1, 0, 7)).await.unwrap();
    assert_eq!(
        report.started,
        [slot_execution_id("task-1", utc(2024, 1, 1, 0, 5))]
    );
    assert_eq!(runs.inner.started.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_task_whose_record_does_not_read_stops_neither_the_tick_nor_the_others() {
    let created = utc(2024, 1, 1, 0, 0);
    let store: SharedStore = Arc::new(MemoryStore::new());
    let tasks = TaskStore::new(store.clone());
    let every_minute = ExecutedAt::Cron {
        expression: "@every 1m".into(),
        expired_at: None,
    };
    tasks
        .create("task-good", spec(every_minute), created)
        .await
        .unwrap();
    // A truncated record of another task.
    store
        .create(
            "tasks/task-torn/0000000000.json",
            br#"{"task_id":"task-torn","se"#,
        )
        .await
        .unwrap();
    let scan = tasks.scan().await.unwrap();
    assert_eq!(scan.tasks.len(), 1);
    assert_eq!(scan.unreadable.len(), 1);
    assert_eq!(scan.unreadable[0].key, "tasks/task-torn/0000000000.json");
    assert!(
        scan.unreadable[0].reason.contains("EOF"),
        "{:?}",
        scan.unreadable
    );
    assert_eq!(tasks.list().await.unwrap().len(), 1);
    let runs = Arc::new(RecordRuns::new(store));
    let scheduler = Scheduler::new(tasks.clone(), runs.clone());
    for minute in 1..=3 {
        let report = scheduler.tick(utc(2024, 1, 1, 0, minute)).await.unwrap();
        assert_eq!(report.started.len(), 1, "minute {minute}: {report:?}");
    }
    // The torn task itself answers a clear error naming its key.
    let err = tasks.get("task-torn").await.unwrap_err();
    assert!(
        err.to_string().contains("tasks/task-torn/0000000000.json"),
        "{err}"
    );
}
