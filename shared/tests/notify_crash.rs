//! Delivery through crashes: a run with a notifier whose store dies at its n-th write, for
//! every n (before the write, then after it) until a run goes through without one, replayed
//! as production replays (the caller starting again, the engine's sweep re-dispatching the
//! pending step, the minute's tick sweeping the notices with the clock moved on). Each run
//! still ends once, with its one outcome; nothing is told before that outcome is recorded;
//! and its notice reaches each target at least once, its delivery recorded `sent`.
//!
//! The in-memory fake cloud does the cloud's part; the notices go over HTTP to a real
//! local receiver.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use reimage::clock::{Clock, ManualClock, SharedClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::SequentialIds;
use reimage::model::{ExecutionId, State, StepRecord};
use reimage::notify::delivery::{self, DeliveryState};
use reimage::notify::{Defaults, DeliveryConfig, Notifier, StoredTarget, Target};
use reimage::secrets::{KEY_LEN, LocalSealer, SharedSealer};
use reimage::steps::testing::{CrashPoint, CrashingStore, FakeCloud, request_onto};
use reimage::steps::{Engine, EngineError, SameCloud};
use reimage::store::SharedStore;
use reimage::store::memory::MemoryStore;
use reimage_sim::receiver::Receiver;

const BUILD: Duration = Duration::from_secs(600);
/// The two default targets' paths at the receiver: two deliveries, so that a crash can fall
/// between queueing the first and the second.
const PATHS: [&str; 2] = ["/first", "/second"];
/// How long an attempt may take: its claim expires a minute after.
const TIMEOUT: Duration = Duration::from_secs(5);

struct Rig {
    clock: ManualClock,
    /// The store under the crashing one, for reading back and for the next process.
    store: SharedStore,
    sealer: SharedSealer,
    crashing: Arc<CrashingStore>,
    local: Arc<LocalDispatcher>,
    engine: Engine,
    receiver: Receiver,
}

fn config() -> DeliveryConfig {
    DeliveryConfig {
        timeout: TIMEOUT,
        ..DeliveryConfig::default()
    }
}

/// A rig whose engine and notifier write through a store that crashes at `point` of its
/// `n`-th create (0: never), with the deployment's two default targets at a receiver.
async fn rig(n: usize, point: CrashPoint) -> Rig {
    let clock = ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 5, 6, 7, 8, 9).unwrap());
    let shared: SharedClock = Arc::new(clock.clone());
    let receiver = Receiver::start().await.expect("receiver");
    let store: SharedStore = Arc::new(MemoryStore::new());
    let sealer: SharedSealer = Arc::new(LocalSealer::with_key([3; KEY_LEN]));
    let targets = PATHS
        .iter()
        .map(|path| {
            let target: Target = serde_json::from_value(serde_json::json!({
                "kind": "https", "url": receiver.url(path), "secret": "crash-notice-secret-0123",
            }))
            .expect("a target");
            StoredTarget::Plain(target)
        })
        .collect();
    Defaults::new(store.clone(), Some(sealer.clone()))
        .set(targets, clock.now())
        .await
        .expect("the defaults are set");
    let crashing = CrashingStore::new(store.clone(), n, point);
    let notifier = Notifier::new(
        crashing.clone(),
        shared.clone(),
        Some(sealer.clone()),
        config(),
    )
    .expect("notifier");
    let local = Arc::new(LocalDispatcher::new(shared.clone()));
    let fake = FakeCloud::demo(shared.clone(), BUILD);
    let engine = Engine::new(
        crashing.clone(),
        shared,
        Arc::new(SequentialIds::new("test")),
        local.clone(),
        Arc::new(SameCloud(fake)),
    )
    .with_notifier(Some(notifier));
    Rig {
        clock,
        store,
        sealer,
        crashing,
        local,
        engine,
        receiver,
    }
}

/// Runs `f` as a process would: a panic (the crash) is counted, not propagated.
async fn survive<T: Send + 'static>(
    crashes: &mut usize,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> Option<T> {
    match tokio::spawn(f).await {
        Ok(value) => Some(value),
        Err(e) if e.is_panic() => {
            *crashes += 1;
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// Runs execution `id` to its end through the crash, then sweeps its notices as the next
/// processes' minute ticks would until every delivery is final. Returns the last record and
/// how many crashes there were.
async fn run_through_crashes(rig: &Rig, id: &ExecutionId) -> (StepRecord, usize) {
    let mut crashes = 0;
    // The caller starts it, and starts it again if that crashed.
    for _ in 0..2 {
        let (engine, id) = (rig.engine.clone(), id.clone());
        match survive(&mut crashes, async move {
            engine.start(request_onto("asc-active"), id).await
        })
        .await
        {
            Some(Ok(_) | Err(EngineError::AlreadyStarted(_))) => break,
            Some(Err(e)) => panic!("start: {e}"),
            None => {}
        }
    }
    // The next process's notifier, over the same records.
    let next = Notifier::new(
        rig.store.clone(),
        Arc::new(rig.clock.clone()),
        Some(rig.sealer.clone()),
        config(),
    )
    .expect("notifier");
    let mut last = None;
    for _ in 0..10 {
        let (engine, local) = (rig.engine.clone(), rig.local.clone());
        survive(&mut crashes, async move {
            local.run_until_idle(&engine).await;
        })
        .await;
        let latest = rig.engine.get(id).await.unwrap().expect("record 0");
        if latest.state.is_terminal() {
            last = Some(latest);
            break;
        }
        // The minute's tick before the replay: nothing is told of a run whose last record
        // is not written, whatever was queued.
        rig.clock.advance(Duration::from_secs(60));
        next.sweep(rig.clock.now())
            .await
            .expect("notification sweep");
        assert!(
            rig.receiver.received().is_empty(),
            "told before the run's last record"
        );
        rig.clock
            .advance(rig.engine.config().overdue_after + Duration::from_secs(1));
        let (engine, now) = (rig.engine.clone(), rig.clock.now());
        survive(&mut crashes, async move {
            engine.sweep(now).await.expect("engine sweep");
        })
        .await;
    }
    let last = last.unwrap_or_else(|| panic!("execution {id} did not end"));
    // Then swept each minute or two (past a lost claim, a minute after its timeout, and past
    // the first back-off, 30 s).
    for _ in 0..20 {
        let deliveries = delivery::of_subject(&rig.store, id.as_str()).await.unwrap();
        if deliveries.len() == PATHS.len() && deliveries.iter().all(|d| d.is_final()) {
            break;
        }
        rig.clock.advance(Duration::from_secs(90));
        next.sweep(rig.clock.now())
            .await
            .expect("notification sweep");
    }
    (last, crashes)
}

/// The run ended once, succeeded, and each target heard so, at least once and at most
/// twice (once more when the crash fell between its answer and its record), its delivery
/// recorded sent.
async fn assert_ended_once_and_told(rig: &Rig, id: &ExecutionId, last: &StepRecord, context: &str) {
    assert_eq!(last.state, State::Succeeded, "{context}: {last:#?}");
    let history = rig.engine.history(id).await.unwrap();
    let ends: Vec<u64> = history
        .iter()
        .filter(|r| r.state.is_terminal())
        .map(|r| r.seq)
        .collect();
    assert_eq!(ends, [last.seq], "{context}: one end, the last record");
    let deliveries = delivery::of_subject(&rig.store, id.as_str()).await.unwrap();
    let slots: Vec<&str> = deliveries.iter().map(|d| d.delivery.as_str()).collect();
    assert_eq!(
        slots,
        [format!("{id}/default-0"), format!("{id}/default-1")],
        "{context}"
    );
    for d in &deliveries {
        assert!(
            matches!(d.state, DeliveryState::Sent { http_status: 200 }),
            "{context}: {d:?}"
        );
        assert_eq!(
            d.notice.outcome,
            reimage::notify::Outcome::Succeeded,
            "{context}"
        );
    }
    for path in PATHS {
        let got = rig.receiver.received_at(path);
        assert!(
            (1..=2).contains(&got.len()),
            "{context}: {} notices at {path}",
            got.len()
        );
        for notice in got.iter().map(|r| r.json()) {
            assert_eq!(
                notice["subject"],
                serde_json::json!({"kind": "execution", "id": id.as_str()}),
                "{context}"
            );
            assert_eq!(notice["outcome"], "succeeded", "{context}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_write_of_a_run_with_a_notifier_still_ends_once_and_tells_each_target() {
    // A clean run first: its writes include each delivery's queueing (an index entry and
    // record 0), its claim and its sent record.
    let clean = rig(0, CrashPoint::Before).await;
    let id = ExecutionId::derived("notify-crash-clean");
    let (last, crashes) = run_through_crashes(&clean, &id).await;
    assert_eq!(crashes, 0);
    assert_ended_once_and_told(&clean, &id, &last, "clean run").await;
    let writes = clean.crashing.creates();
    let notices = clean.store.list(delivery::NOTICES_PREFIX).await.unwrap();
    assert_eq!(notices.len(), 3 * PATHS.len(), "{notices:?}");
    assert!(writes > notices.len() + 10, "{writes} writes");
    for path in PATHS {
        assert_eq!(
            clean.receiver.received_at(path).len(),
            1,
            "clean run: {path}"
        );
    }

    for point in [CrashPoint::Before, CrashPoint::After] {
        let mut n = 1;
        loop {
            let rig = rig(n, point).await;
            let id = ExecutionId::derived(&format!("notify-crash-{n}-{point:?}"));
            let (last, crashes) = run_through_crashes(&rig, &id).await;
            let context = format!("crash {point:?} write {n} of {writes}");
            assert_ended_once_and_told(&rig, &id, &last, &context).await;
            if crashes == 0 {
                // Every write was crashed at once: the first run past them had none.
                assert_eq!(n, writes + 1, "{context}");
                break;
            }
            assert_eq!(crashes, 1, "{context}");
            n += 1;
        }
    }
}
