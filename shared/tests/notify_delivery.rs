//! Delivery when the target changes between attempts: a retry goes to the target at the
//! delivery's slot as it is now (a rotated token is used), but never to another kind of
//! target or another host than the one the notice was queued for.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use reimage::clock::{Clock, ManualClock, SharedClock};
use reimage::model::ExecutionId;
use reimage::notify::{
    Defaults, DeliveryConfig, DeliveryState, Notice, Notifier, Outcome, StoredTarget, Subject,
    Target,
};
use reimage::secrets::{KEY_LEN, LocalSealer, SharedSealer};
use reimage::store::SharedStore;
use reimage::store::memory::MemoryStore;
use reimage_sim::receiver::{Answer, Receiver};

struct Rig {
    clock: ManualClock,
    defaults: Defaults,
    notifier: Notifier,
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
        defaults: Defaults::new(store, Some(sealer)),
        notifier,
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
        let id = ExecutionId::derived(name);
        let notice = Notice {
            subject: Subject::Execution(id.clone()),
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
        assert_eq!(queued, [format!("{id}/default-0")]);
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
