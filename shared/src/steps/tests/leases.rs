//! At most one execution at work per scaling configuration: waiting, the newest request
//! winning, take-over after a deadline, and crashes while leases are held.

use super::*;
use crate::model::StepRecord;
use crate::steps::lease::{self, EntryKind, LeaseEntry};
use crate::store::{StateStore, StoreError, StoreFuture};

const BOTH: [&str; 2] = ["asc-active", "asc-inactive"];

/// Starts an execution one second after the previous one: the newest request is the one
/// started last.
async fn start(rig: &Rig, name: &str, configs: &[&str]) -> ExecutionId {
    rig.clock.advance(Duration::from_secs(1));
    let id = ExecutionId::derived(name);
    rig.engine
        .start(request("i-running", configs), id.clone())
        .await
        .unwrap();
    id
}

async fn latest(rig: &Rig, id: &ExecutionId) -> StepRecord {
    rig.engine.get(id).await.unwrap().unwrap()
}

/// Handles queued events one at a time, in due order, until `id`'s latest record satisfies
/// `until`.
async fn step_until(rig: &Rig, id: &ExecutionId, until: impl Fn(&StepRecord) -> bool) {
    for _ in 0..100 {
        if until(&latest(rig, id).await) {
            return;
        }
        assert!(
            rig.local.run_next(&rig.engine).await,
            "nothing left to run for {id}"
        );
    }
    panic!("{id} never got there");
}

/// When the record in which `id` first held every lease was written.
async fn leased_at(rig: &Rig, id: &ExecutionId) -> chrono::DateTime<chrono::Utc> {
    let history = rig.engine.history(id).await.unwrap();
    history
        .iter()
        .find_map(|r| r.learned.leased_at)
        .unwrap_or_else(|| panic!("{id} never held its leases: {history:#?}"))
}

#[tokio::test]
async fn a_second_run_for_a_busy_configuration_waits_and_starts_when_it_is_free() {
    let rig = rig();
    let first = start(&rig, "first", &BOTH).await;
    let second = start(&rig, "second", &["asc-active"]).await;
    let report = rig.local.run_until_idle(&rig.engine).await;
    assert!(report.dropped.is_empty(), "{report:?}");

    let (a, b) = (latest(&rig, &first).await, latest(&rig, &second).await);
    assert_eq!(a.state, State::Succeeded, "{a:#?}");
    assert_eq!(b.state, State::Succeeded, "{b:#?}");
    // The second one waited for the first, naming it, and did nothing until it ended.
    let history = rig.engine.history(&second).await.unwrap();
    let waited = history
        .iter()
        .find_map(|r| r.learned.waiting_for.clone())
        .expect("the second execution never waited");
    assert_eq!(waited.configuration_id, "asc-active");
    assert_eq!(waited.holder, first);
    assert!(leased_at(&rig, &second).await >= a.written_at);
    // So the configuration went old → first → second, never back.
    let image_a = a.learned.image_id.clone().unwrap();
    let image_b = b.learned.image_id.clone().unwrap();
    let state = rig.fake.state();
    let active: Vec<&str> = state
        .modifications
        .iter()
        .filter(|(c, _)| c == "asc-active")
        .map(|(_, i)| i.as_str())
        .collect();
    assert_eq!(active, [image_a.as_str(), image_b.as_str()]);
    assert_eq!(state.configurations["asc-active"].image_id, image_b);
    assert_eq!(state.configurations["asc-inactive"].image_id, image_a);
}

#[tokio::test]
async fn a_newer_request_for_the_same_configurations_supersedes_the_waiting_one() {
    let rig = rig();
    let holder = start(&rig, "holder", &BOTH).await;
    // The holder takes its leases and its snapshot.
    step_until(&rig, &holder, |r| r.learned.leased_at.is_some()).await;
    let older = start(&rig, "older", &["asc-active"]).await;
    step_until(&rig, &older, |r| r.learned.waiting_for.is_some()).await;
    let newer = start(&rig, "newer", &BOTH).await;
    let report = rig.local.run_until_idle(&rig.engine).await;
    assert!(report.dropped.is_empty(), "{report:?}");

    let older_last = latest(&rig, &older).await;
    assert_eq!(
        older_last.state,
        State::Superseded {
            carried_by: newer.clone()
        }
    );
    assert_eq!(older_last.learned.snapshot_id, None);
    assert_eq!(latest(&rig, &holder).await.state, State::Succeeded);
    let newer_last = latest(&rig, &newer).await;
    assert_eq!(newer_last.state, State::Succeeded);
    let state = rig.fake.state();
    // Two snapshots and two images: the superseded run created nothing.
    assert_eq!(state.snapshots_created(), 2);
    assert_eq!(state.images_created(), 2);
    let image = newer_last.learned.image_id.unwrap();
    for config in BOTH {
        assert_eq!(state.configurations[config].image_id, image);
    }
}

#[tokio::test]
async fn a_newer_request_for_fewer_configurations_supersedes_nothing() {
    let rig = rig();
    let holder = start(&rig, "holder", &["asc-active"]).await;
    step_until(&rig, &holder, |r| r.learned.leased_at.is_some()).await;
    let wide = start(&rig, "wide", &BOTH).await;
    step_until(&rig, &wide, |r| r.learned.waiting_for.is_some()).await;
    let narrow = start(&rig, "narrow", &["asc-active"]).await;
    let report = rig.local.run_until_idle(&rig.engine).await;
    assert!(report.dropped.is_empty(), "{report:?}");
    for id in [&holder, &wide, &narrow] {
        assert_eq!(latest(&rig, id).await.state, State::Succeeded, "{id}");
    }
    assert_eq!(rig.fake.state().images_created(), 3);
}

#[tokio::test]
async fn a_lease_held_past_its_deadline_is_taken_over_and_the_late_holder_changes_nothing() {
    let rig = rig();
    let stale = start(&rig, "stale", &["asc-active"]).await;
    step_until(&rig, &stale, |r| {
        r.state.pending_step() == Some(Step::SwapConfig)
    })
    .await;
    // Its swap-config event is lost and nothing re-sends it until past its lease deadline.
    rig.local.take_all();
    let config = rig.engine.config().clone();
    rig.clock
        .advance(config.image_deadline + config.lease_margin + Duration::from_secs(1));
    let next = start(&rig, "next", &["asc-active"]).await;
    rig.local.run_until_idle(&rig.engine).await;
    let next_last = latest(&rig, &next).await;
    assert_eq!(next_last.state, State::Succeeded, "{next_last:#?}");

    // The late holder comes back (the daily sweep of every execution: its step was lost for
    // longer than the minute's sweep looks back) and finds its lease taken over.
    assert!(rig.engine.sweep(rig.clock.now()).await.unwrap().is_empty());
    assert!(
        !rig.engine
            .sweep_all(rig.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
    rig.local.run_until_idle(&rig.engine).await;
    let stale_last = latest(&rig, &stale).await;
    let failure = failure(&stale_last);
    assert_eq!(failure.step, Step::SwapConfig);
    assert!(
        failure
            .reason
            .contains(&format!("taken over by execution {next}")),
        "{failure:?}"
    );
    let state = rig.fake.state();
    let stale_image = stale_last.learned.image_id.unwrap();
    assert!(!state.images.contains_key(&stale_image));
    assert_eq!(state.times_swapped("asc-active", &stale_image), 0);
    assert_eq!(
        state.configurations["asc-active"].image_id,
        next_last.learned.image_id.unwrap()
    );
}

#[tokio::test]
async fn the_holder_is_named_while_it_works_and_nobody_once_it_ends() {
    let rig = rig();
    assert_eq!(
        rig.engine.configuration_holder("asc-active").await.unwrap(),
        None
    );
    let id = start(&rig, "holder", &["asc-active"]).await;
    step_until(&rig, &id, |r| r.learned.leased_at.is_some()).await;
    assert_eq!(
        rig.engine.configuration_holder("asc-active").await.unwrap(),
        Some(id.clone())
    );
    assert_eq!(
        rig.engine
            .configuration_holder("asc-inactive")
            .await
            .unwrap(),
        None
    );
    rig.local.run_until_idle(&rig.engine).await;
    assert_eq!(
        rig.engine.configuration_holder("asc-active").await.unwrap(),
        None
    );
}

/// A store that, just before the first lease entry is created through it, creates that
/// very entry for `rival`: the race two processes run for the same entry number.
#[derive(Debug)]
struct RivalStore {
    inner: SharedStore,
    rival: ExecutionId,
    at: chrono::DateTime<chrono::Utc>,
    done: std::sync::atomic::AtomicBool,
}

impl StateStore for RivalStore {
    fn create<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if key.starts_with(lease::LEASES_PREFIX)
                && !self.done.swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                let entry = LeaseEntry {
                    kind: EntryKind::Hold,
                    execution_id: self.rival.clone(),
                    configuration_ids: vec!["asc-active".into()],
                    written_at: self.at,
                };
                self.inner
                    .create(key, &serde_json::to_vec(&entry).unwrap())
                    .await?;
            }
            self.inner.create(key, value).await
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        self.inner.get(key)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>> {
        self.inner.list(prefix)
    }
}

#[tokio::test]
async fn losing_the_race_for_a_lease_entry_reads_the_log_again_and_waits_for_the_winner() {
    let base = rig();
    let memory: SharedStore = Arc::new(MemoryStore::new());
    let rival = ExecutionId::derived("rival");
    let store = Arc::new(RivalStore {
        inner: memory.clone(),
        rival: rival.clone(),
        at: base.clock.now(),
        done: false.into(),
    });
    let rig = rig_with(
        base.clock.clone(),
        base.fake.clone(),
        base.fake.clone(),
        store,
    );
    // The rival is a live execution: its record 0 is in the store.
    let rival_record = StepRecord::first(
        rival.clone(),
        request("i-running", &["asc-active"]),
        "rival".into(),
        rig.clock.now(),
    );
    memory
        .create(&rival_record.key(), &rival_record.to_json())
        .await
        .unwrap();

    let id = start(&rig, "loser", &["asc-active"]).await;
    let event = rig.local.take_all().remove(0);
    rig.engine.handle(&event).await.unwrap();
    let waiting = latest(&rig, &id).await.learned.waiting_for.unwrap();
    assert_eq!(waiting.holder, rival);
    let log = lease::read_log(&memory, "asc-active").await.unwrap();
    assert_eq!(log.hold.unwrap().execution_id, rival);
    assert_eq!(log.after.len(), 1);
    assert_eq!(log.after[0].execution_id, id);
    assert_eq!(log.after[0].kind, EntryKind::Wait);
    let refused = memory
        .create(&lease::entry_key("asc-active", 0), b"{}")
        .await;
    assert!(matches!(refused, Err(StoreError::AlreadyExists { .. })));
}

/// Starts two executions on the same configurations, the second while the first works, and
/// runs both to their end through one crash at `n` and the sweep.
async fn two_through_crashes(rig: &Rig, n: usize) -> (StepRecord, StepRecord, usize) {
    let first = ExecutionId::derived(&format!("first-{n}"));
    let second = ExecutionId::derived(&format!("second-{n}"));
    let mut crashes = 0;
    for (id, configs) in [(&first, &BOTH[..]), (&second, &["asc-active"][..])] {
        rig.clock.advance(Duration::from_secs(1));
        let (engine, id, request) = (
            rig.engine.clone(),
            id.clone(),
            request("i-running", configs),
        );
        // A trigger whose start crashed is sent again, as a CI client or the tick would.
        let again = (engine.clone(), id.clone(), request.clone());
        match tokio::spawn(async move { engine.start(request, id).await }).await {
            Err(e) if e.is_panic() => {
                crashes += 1;
                let (engine, id, request) = again;
                match engine.start(request, id).await {
                    Ok(_) | Err(super::super::EngineError::AlreadyStarted(_)) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            Err(e) => panic!("{e}"),
            Ok(result) => {
                result.unwrap();
            }
        }
    }
    // Events run one at a time; the sweep runs every minute beside them, as the timer does.
    let mut swept = rig.clock.now();
    for _ in 0..2000 {
        let (engine, local) = (rig.engine.clone(), rig.local.clone());
        let ran = match tokio::spawn(async move { local.run_next(&engine).await }).await {
            Err(e) if e.is_panic() => {
                crashes += 1;
                true
            }
            Err(e) => panic!("{e}"),
            Ok(ran) => ran,
        };
        if !ran {
            let a = rig.engine.get(&first).await.unwrap();
            let b = rig.engine.get(&second).await.unwrap();
            if let (Some(a), Some(b)) = (&a, &b) {
                if a.state.is_terminal() && b.state.is_terminal() {
                    return (a.clone(), b.clone(), crashes);
                }
            }
            rig.clock.advance(Duration::from_secs(60));
        }
        if rig.clock.now() - swept >= chrono::Duration::seconds(60) {
            swept = rig.clock.now();
            rig.engine.sweep(swept).await.unwrap();
        }
    }
    panic!("the executions did not finish (crash at {n})");
}

#[tokio::test]
async fn a_crash_at_any_record_or_lease_write_while_one_waits_for_the_other_loses_nothing() {
    let counting = CrashingStore::new(Arc::new(MemoryStore::new()), 0, CrashPoint::Before);
    let base = rig();
    let clean = rig_with(
        base.clock.clone(),
        base.fake.clone(),
        base.fake.clone(),
        counting.clone(),
    );
    let (a, b, _) = two_through_crashes(&clean, 0).await;
    assert_eq!((&a.state, &b.state), (&State::Succeeded, &State::Succeeded));
    let writes = counting.creates();
    // The listings' entry and the records of both, the sweep's entry before each pending
    // record, three holds and one wait.
    assert_eq!(
        writes as u64,
        (1 + a.seq + 1 + a.seq) + (1 + b.seq + 1 + b.seq) + 4
    );

    for n in 1..=writes {
        for point in [CrashPoint::Before, CrashPoint::After] {
            let base = rig();
            let crashing = CrashingStore::new(Arc::new(MemoryStore::new()), n, point);
            let rig = rig_with(
                base.clock.clone(),
                base.fake.clone(),
                base.fake.clone(),
                crashing,
            );
            let context = format!("crash {point:?} write {n}");
            let (a, b, crashes) = two_through_crashes(&rig, n).await;
            assert_eq!(crashes, 1, "{context}");
            assert_eq!(a.state, State::Succeeded, "{context}: {a:#?}");
            assert_eq!(b.state, State::Succeeded, "{context}: {b:#?}");
            // Whichever took the shared configuration first, the other started its work
            // only after that one ended, and its image is the one left in place.
            let (image_a, image_b) = (
                a.learned.image_id.clone().unwrap(),
                b.learned.image_id.clone().unwrap(),
            );
            let (leased_a, leased_b) = (
                leased_at(&rig, &a.execution_id).await,
                leased_at(&rig, &b.execution_id).await,
            );
            let (earlier, later) = if leased_a < leased_b {
                (&a, &b)
            } else {
                (&b, &a)
            };
            assert!(
                leased_at(&rig, &later.execution_id).await >= earlier.written_at,
                "{context}"
            );
            let state = rig.fake.state();
            assert_eq!(state.snapshots_created(), 2, "{context}");
            assert_eq!(state.images_created(), 2, "{context}");
            assert_eq!(state.times_swapped("asc-active", &image_a), 1, "{context}");
            assert_eq!(
                state.times_swapped("asc-inactive", &image_a),
                1,
                "{context}"
            );
            assert_eq!(state.times_swapped("asc-active", &image_b), 1, "{context}");
            assert_eq!(
                state.configurations["asc-active"].image_id,
                later.learned.image_id.clone().unwrap(),
                "{context}"
            );
            assert_eq!(
                state.configurations["asc-inactive"].image_id, image_a,
                "{context}"
            );
        }
    }
}
