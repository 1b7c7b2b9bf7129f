//! The sweep reads what can still be pending, not the history.

use std::sync::Arc;
use std::time::Duration;

use chrono::Timelike;

use super::{request, rig_with, run};
use crate::clock::Clock;
use crate::model::State;
use crate::steps::live::SWEEP_WINDOW;
use crate::steps::testing::{CountingStore, FakeCloud};
use crate::store::memory::MemoryStore;

struct Counted {
    rig: super::Rig,
    store: Arc<CountingStore>,
}

fn counted() -> Counted {
    let clock = super::clock();
    let fake = FakeCloud::demo(Arc::new(clock.clone()), super::BUILD);
    let store = CountingStore::new(Arc::new(MemoryStore::new()));
    Counted {
        rig: rig_with(clock, fake.clone(), fake, store.clone()),
        store,
    }
}

/// How many steps a sweep now re-dispatches.
async fn swept(rig: &super::Rig) -> usize {
    rig.engine.sweep(rig.clock.now()).await.unwrap().len()
}

fn execution_reads(reads: &[String]) -> Vec<&String> {
    reads.iter().filter(|r| r.contains("executions/")).collect()
}

#[tokio::test]
async fn finished_executions_are_read_once_while_recent_and_never_once_past_the_window() {
    let c = counted();
    let mut finished = Vec::new();
    for _ in 0..5 {
        let last = run(&c.rig, request("i-running", &["asc-active"])).await;
        assert_eq!(last.state, State::Succeeded);
        finished.push(last.execution_id);
    }
    let overdue = c.rig.engine.config().overdue_after;
    c.rig.clock.advance(overdue);
    c.store.take_reads();

    // Within the window: each finished execution is read once, then remembered.
    assert_eq!(swept(&c.rig).await, 0);
    let first = c.store.take_reads();
    for id in &finished {
        assert!(
            first
                .iter()
                .any(|r| r.starts_with("get ") && r.contains(id.as_str())),
            "{id} read: {first:#?}"
        );
    }
    assert_eq!(swept(&c.rig).await, 0);
    let second = c.store.take_reads();
    assert!(execution_reads(&second).is_empty(), "{second:#?}");
    assert!(
        second.iter().all(|r| r.starts_with("list live/")),
        "{second:#?}"
    );

    // Past the window, a cold process (a new engine on the same store) reads no execution at
    // all: one listing per hour of the window.
    let cold = rig_with(
        c.rig.clock.clone(),
        c.rig.fake.clone(),
        c.rig.fake.clone(),
        c.store.clone(),
    );
    c.rig.clock.advance(
        (SWEEP_WINDOW + chrono::Duration::hours(1))
            .to_std()
            .unwrap(),
    );
    assert!(
        cold.engine
            .sweep(cold.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
    let cold_reads = c.store.take_reads();
    assert!(execution_reads(&cold_reads).is_empty(), "{cold_reads:#?}");
    assert!(cold_reads.len() <= 5, "{cold_reads:#?}");
}

#[tokio::test]
async fn a_step_lost_past_the_window_is_found_by_the_first_tick_of_the_day() {
    let c = counted();
    let record = c
        .rig
        .engine
        .start_new(request("i-running", &["asc-active"]))
        .await
        .unwrap();
    // Create-image's event is lost.
    c.rig.local.take_all();
    c.rig.clock.advance(Duration::from_secs(5 * 3600));
    let now = c.rig.clock.now();
    assert!(now.hour() != 0, "the test starts away from midnight");
    assert!(c.rig.engine.tick_sweep(now).await.unwrap().is_empty());

    // The first tick of the next day looks back two days.
    let midnight = (now + chrono::Duration::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 30)
        .unwrap()
        .and_utc();
    c.rig.clock.set(midnight);
    let sent = c.rig.engine.tick_sweep(midnight).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].execution_id, record.execution_id);
    c.rig.local.run_until_idle(&c.rig.engine).await;
    let last = c
        .rig
        .engine
        .get(&record.execution_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
}
