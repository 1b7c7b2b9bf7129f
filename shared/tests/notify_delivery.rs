//! Delivery when things change between queueing and sending: a retry goes to the target at
//! the delivery's slot as it is now (a rotated token is used), but never to another kind of
//! target or another host than the one the notice was queued for; and an execution's notice
//! says what its last record says, which a crash between the two may change.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::TimeZone;
use reimage::clock::{Clock, ManualClock, SharedClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::SequentialIds;
use reimage::model::{ExecutionId, State, Step};
use reimage::notify::delivery;
use reimage::notify::{
    Defaults, DeliveryConfig, DeliveryState, Notice, Notifier, Outcome, StoredTarget, Subject,
    Target,
};
use reimage::rollout::RolloutId;
use reimage::secrets::{KEY_LEN, LocalSealer, SharedSealer};
use reimage::steps::testing::{FakeCloud, request_onto};
use reimage::steps::{Engine, SameCloud};
use reimage::store::memory::MemoryStore;
use reimage::store::{SharedStore, StateStore, StoreFuture};
use reimage_sim::receiver::{Answer, Receiver};

struct Rig {
    clock: ManualClock,
    defaults: Defaults,
    notifier: Notifier,
    notifier_store: SharedStore,
    sealer: SharedSealer,
}

fn rig() -> Rig {
    let clock = ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 5, 6, 7, 8, 9).unwrap());
    let shared: SharedClock = Arc::new(clock.clone());
    let store: SharedStore = Arc::new(MemoryStore::new());
    let sealer: SharedSealer = Arc::new(LocalSealer::with_key([3; KEY_LEN]));
    let notifier = Notifier::new(
        store.clone(),
        shared,
        Some(sealer.clone()),
        DeliveryConfig::default(),
    )
    .expect("notifier");
    Rig {
        clock,
        defaults: Defaults::new(store.clone(), Some(sealer.clone())),
        notifier,
        notifier_store: store,
        sealer,
    }
}

fn target(json: serde_json::Value) -> StoredTarget {
    StoredTarget::Plain(serde_json::from_value::<Target>(json).expect("a target"))
}

impl Rig {
    async fn set_defaults(&self, target: StoredTarget) {
        self.defaults
            .set(vec![target], self.clock.now())
            .await
            .expect("defaults");
    }

    /// Queues a notice to the default target and makes its first attempt, which the
    /// receiver refuses; answers the delivery.
    async fn queue_and_fail_once(&self, name: &str) -> String {
        // A rollout's, queued under its bare id: an execution's notice waits for the
        // execution's last record, and one queued under `<id>.r<seq>` for that record.
        let id = RolloutId::derived(name);
        let notice = Notice {
            subject: Subject::Rollout(id.clone()),
            task_id: None,
            outcome: Outcome::Succeeded,
            cause: None,
            image_id: Some("m-new".into()),
            image_name: None,
            changes: Vec::new(),
            started_at: self.clock.now(),
            ended_at: self.clock.now(),
            link: None,
            task_disabled: None,
        };
        let queued = self
            .notifier
            .queue(id.as_str(), None, &notice)
            .await
            .expect("queued");
        assert_eq!(queued, [format!("{}/default-0", id.as_str())]);
        self.notifier.attempt_all(&queued).await;
        let latest = self.notifier.latest(&queued[0]).await.unwrap().unwrap();
        assert!(
            matches!(latest.state, DeliveryState::Pending { .. }),
            "{latest:?}"
        );
        queued[0].clone()
    }

    /// Sweeps after the first back-off; answers the delivery's latest state and error.
    async fn retry(&self, delivery: &str) -> (DeliveryState, Option<String>) {
        self.clock.advance(Duration::from_secs(31));
        assert_eq!(self.notifier.sweep(self.clock.now()).await.unwrap(), 1);
        let latest = self.notifier.latest(delivery).await.unwrap().unwrap();
        (latest.state, latest.last_error)
    }
}

/// A receiver that refuses its first request and takes every other.
async fn refusing_once() -> Receiver {
    Receiver::scripted(vec![Answer::Status(500, "down".into())], Answer::ok())
        .await
        .expect("receiver")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_uses_the_slots_rotated_url_but_never_another_kind_of_target() {
    // The same Slack webhook with a new token: the retry goes to it.
    let receiver = refusing_once().await;
    let rig = rig();
    rig.set_defaults(target(serde_json::json!({
        "kind": "slack", "webhook_url": receiver.url("/services/T0/B0/old"),
    })))
    .await;
    let delivery = rig.queue_and_fail_once("rotated").await;
    rig.set_defaults(target(serde_json::json!({
        "kind": "slack", "webhook_url": receiver.url("/services/T0/B0/new"),
    })))
    .await;
    let (state, _) = rig.retry(&delivery).await;
    assert_eq!(state, DeliveryState::Sent { http_status: 200 });
    assert_eq!(receiver.received_at("/services/T0/B0/new").len(), 1);

    // The default replaced by another kind of target: the notice queued for Slack is not
    // sent to it, and the record says why.
    let receiver = refusing_once().await;
    let rig = self::rig();
    rig.set_defaults(target(serde_json::json!({
        "kind": "slack", "webhook_url": receiver.url("/services/T0/B0/old"),
    })))
    .await;
    let delivery = rig.queue_and_fail_once("replaced").await;
    rig.set_defaults(target(serde_json::json!({
        "kind": "https", "url": receiver.url("/other"), "secret": "other-secret-0123456789",
    })))
    .await;
    let (state, error) = rig.retry(&delivery).await;
    assert!(receiver.received_at("/other").is_empty(), "sent elsewhere");
    assert_eq!(state, DeliveryState::GaveUp);
    let error = error.expect("why");
    assert!(
        error.starts_with("the target at default-0 changed since the notice was queued: it was slack http://127.0.0.1:")
            && error.contains(", it is now https http://127.0.0.1:"),
        "{error}"
    );
    assert_eq!(receiver.received().len(), 1, "only the attempt refused");
}

/// A store that crashes once, before the first record of an execution written after a
/// notice about it was queued: between the queueing and the record that ends the run.
#[derive(Debug)]
struct CrashBeforeTheLastRecord {
    inner: SharedStore,
    crashed: AtomicBool,
}

impl StateStore for CrashBeforeTheLastRecord {
    fn create<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if let Some(execution) = key
                .strip_prefix("executions/")
                .and_then(|rest| rest.split('/').next())
            {
                let queued = self.inner.list(&format!("notices/{execution}/")).await?;
                if !queued.is_empty() && !self.crashed.swap(true, Ordering::SeqCst) {
                    panic!("crash before {key}");
                }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_waits_for_its_runs_last_record_and_says_what_that_record_says() {
    let receiver = Receiver::start().await.expect("receiver");
    let rig = rig();
    rig.set_defaults(target(serde_json::json!({
        "kind": "https", "url": receiver.url("/hook"), "secret": "race-secret-0123456789",
    })))
    .await;
    let store = rig.notifier_store.clone();
    let shared: SharedClock = Arc::new(rig.clock.clone());
    let crashing: SharedStore = Arc::new(CrashBeforeTheLastRecord {
        inner: store.clone(),
        crashed: AtomicBool::new(false),
    });
    let local = Arc::new(LocalDispatcher::new(shared.clone()));
    let fake = FakeCloud::demo(shared.clone(), Duration::from_secs(600));
    let notifier = Notifier::new(
        crashing.clone(),
        shared.clone(),
        Some(rig.sealer.clone()),
        DeliveryConfig::default(),
    )
    .expect("notifier");
    let engine = Engine::new(
        crashing,
        shared,
        Arc::new(SequentialIds::new("race")),
        local.clone(),
        Arc::new(SameCloud(fake.clone())),
    )
    .with_notifier(Some(notifier));
    let id = ExecutionId::derived("race");
    engine
        .start(request_onto("asc-active"), id.clone())
        .await
        .expect("started");
    let (e, l) = (engine.clone(), local.clone());
    let run = tokio::spawn(async move { l.run_until_idle(&e).await }).await;
    assert!(run.is_err_and(|e| e.is_panic()), "the crash");
    // The run's success was queued, its record never written.
    let latest = engine.get(&id).await.unwrap().unwrap();
    assert!(!latest.state.is_terminal(), "{:?}", latest.state);
    let [queued] = <[_; 1]>::try_from(delivery::of_subject(&store, id.as_str()).await.unwrap())
        .expect("one delivery");
    assert_eq!(queued.notice.outcome, Outcome::Succeeded);

    // Before the replay, someone puts the configuration back; the minute's tick sends
    // nothing about a run that has not recorded its end.
    fake.state()
        .configurations
        .get_mut("asc-active")
        .unwrap()
        .image_id = "m-base".into();
    rig.clock.advance(Duration::from_secs(60));
    assert_eq!(rig.notifier.sweep(rig.clock.now()).await.unwrap(), 0);
    assert!(receiver.received().is_empty(), "told before the record");

    // The replay's verification fails: the run ends failed, and that is what is told.
    let mut last = None;
    for _ in 0..5 {
        rig.clock
            .advance(engine.config().overdue_after + Duration::from_secs(1));
        engine.sweep(rig.clock.now()).await.unwrap();
        local.run_until_idle(&engine).await;
        let latest = engine.get(&id).await.unwrap().unwrap();
        if latest.state.is_terminal() {
            last = Some(latest);
            break;
        }
    }
    let last = last.expect("the replay ended the run");
    let State::Failed(failure) = &last.state else {
        panic!("{:?}", last.state);
    };
    assert_eq!(failure.step, Step::Verify);
    // Sent once that record was written, by the replay itself.
    assert_eq!(rig.notifier.sweep(rig.clock.now()).await.unwrap(), 0);
    let notices: Vec<serde_json::Value> = receiver.received().iter().map(|r| r.json()).collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["outcome"], "failed");
    assert!(
        notices[0]["cause"]["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("verify failed")),
        "{}",
        notices[0]
    );
    assert_eq!(
        notices[0]["ended_at"],
        serde_json::to_value(last.written_at).unwrap()
    );
    let sent = rig
        .notifier
        .latest(&queued.delivery)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sent.state, DeliveryState::Sent { http_status: 200 });
    assert_eq!(sent.notice.outcome, Outcome::Failed);
    rig.clock.advance(Duration::from_secs(3600));
    assert_eq!(rig.notifier.sweep(rig.clock.now()).await.unwrap(), 0);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollouts_notice_waits_for_the_record_it_was_queued_for_and_stays_in_the_sweep() {
    let receiver = Receiver::start().await.expect("receiver");
    let rig = rig();
    rig.set_defaults(target(serde_json::json!({
        "kind": "slack", "webhook_url": receiver.url("/services/T0/B0/x"),
    })))
    .await;
    let id = RolloutId::derived("no-record-yet");
    let notice = Notice {
        subject: Subject::Rollout(id.clone()),
        task_id: None,
        outcome: Outcome::Succeeded,
        cause: None,
        image_id: Some("m-new".into()),
        image_name: None,
        changes: Vec::new(),
        started_at: rig.clock.now(),
        ended_at: rig.clock.now(),
        link: None,
        task_disabled: None,
    };
    let queued = rig
        .notifier
        .queue(&format!("{}.r3", id.as_str()), None, &notice)
        .await
        .expect("queued");
    rig.notifier.attempt_all(&queued).await;
    // Hours pass without record 3: nothing is sent, and the delivery is still swept (the
    // sweep looks back three hours; each look keeps it in the window).
    for _ in 0..5 {
        rig.clock.advance(Duration::from_secs(3600));
        assert_eq!(rig.notifier.sweep(rig.clock.now()).await.unwrap(), 0);
        let entries = rig
            .notifier_store
            .list(&format!(
                "{}{}/",
                delivery::DUE_PREFIX,
                rig.clock.now().format("%Y%m%d%H")
            ))
            .await
            .unwrap();
        assert_eq!(entries.len(), 1, "indexed in the hour of the look");
    }
    assert!(receiver.received().is_empty());
    let latest = rig.notifier.latest(&queued[0]).await.unwrap().unwrap();
    assert!(
        matches!(latest.state, DeliveryState::Pending { .. }),
        "{latest:?}"
    );
}
