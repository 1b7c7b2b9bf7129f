use std::sync::Arc;

use super::*;
use crate::model::task::fixtures::{now, valid};
use crate::model::task::*;
use crate::secrets::SealError;
use crate::store::SharedStore;

#[tokio::test]
async fn each_edit_is_a_new_record_and_the_highest_seq_is_current() {
    let store: SharedStore = std::sync::Arc::new(crate::store::memory::MemoryStore::new());
    let tasks = sealing(store.clone());
    tasks.create("t1", valid(), now()).await.unwrap();
    assert!(matches!(
        tasks.create("t1", valid(), now()).await,
        Err(TaskStoreError::AlreadyExists(_))
    ));
    let later = now() + chrono::Duration::minutes(5);
    assert!(
        !tasks
            .change("t1", TaskChange::Disabled, later)
            .await
            .unwrap()
            .enabled
    );
    // Disabling a disabled task writes nothing.
    tasks
        .change("t1", TaskChange::Disabled, later)
        .await
        .unwrap();
    let enabled = tasks
        .change("t1", TaskChange::Enabled, later)
        .await
        .unwrap();
    assert_eq!((enabled.seq, enabled.enabled), (2, true));
    assert_eq!(tasks.get("t1").await.unwrap(), enabled);
    tasks.create("t2", valid(), now()).await.unwrap();
    let listed: Vec<_> = tasks
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.task_id)
        .collect();
    assert_eq!(listed, ["t1", "t2"]);
    let tombstone = tasks
        .change("t1", TaskChange::Deleted, later)
        .await
        .unwrap();
    assert_eq!(tombstone.seq, 3);
    assert!(matches!(
        tasks.get("t1").await,
        Err(TaskStoreError::NotFound(_))
    ));
    assert!(matches!(
        tasks.change("t1", TaskChange::Enabled, later).await,
        Err(TaskStoreError::NotFound(_))
    ));
    assert_eq!(tasks.list().await.unwrap().len(), 1);
    let keys = store.list("tasks/t1/").await.unwrap();
    assert_eq!(keys.len(), 4);
    assert_eq!(keys[3], "tasks/t1/0000000003.json");
}

#[tokio::test]
async fn records_past_seq_nine_still_sort_by_number() {
    let store: SharedStore = std::sync::Arc::new(crate::store::memory::MemoryStore::new());
    let tasks = sealing(store);
    tasks.create("t1", valid(), now()).await.unwrap();
    for i in 0..12 {
        let change = if i % 2 == 0 {
            TaskChange::Disabled
        } else {
            TaskChange::Enabled
        };
        tasks.change("t1", change, now()).await.unwrap();
    }
    let current = tasks.get("t1").await.unwrap();
    assert_eq!((current.seq, current.enabled), (12, true));
}

#[tokio::test]
async fn a_rotated_secret_keeps_the_old_one_for_the_overlap_only() {
    let store: SharedStore = std::sync::Arc::new(crate::store::memory::MemoryStore::new());
    let tasks = sealing(store.clone());
    let retention = crate::images::Retention {
        keep: 3,
        keep_days: 7,
    };
    let spec = TaskSpec {
        retention: Some(retention),
        ..valid()
    };
    let created = tasks.create("t1", spec, now()).await.unwrap();
    assert_eq!(created.webhook_secrets(now()).len(), 1);
    let new = WebhookSecret::new("fedcba9876543210-new");
    let rotated = tasks
        .rotate_webhook_secret("t1", new.clone(), chrono::Duration::hours(24), now())
        .await
        .unwrap();
    assert_eq!(
        (rotated.seq, rotated.change),
        (1, TaskChange::WebhookSecretRotated)
    );
    assert_eq!(
        rotated.spec.retention,
        Some(retention),
        "the rest of the spec stays"
    );
    let old = WebhookSecret::new("0123456789abcdef");
    let just_before = now() + chrono::Duration::hours(24) - chrono::Duration::seconds(1);
    assert_eq!(
        tasks.webhook_secrets(&rotated, just_before).await.unwrap(),
        [new.clone(), old.clone()]
    );
    assert_eq!(
        tasks
            .webhook_secrets(&rotated, now() + chrono::Duration::hours(24))
            .await
            .unwrap(),
        vec![new.clone()]
    );
    // Both are sealed on disk.
    let text = raw(&store, &task_key("t1", 1)).await;
    assert!(
        !text.contains("fedcba9876543210") && !text.contains("0123456789abcdef"),
        "{text}"
    );
    // Read back from the store (by another process), the previous secret is still there.
    let fresh = sealing(store.clone());
    let read = fresh.get("t1").await.unwrap();
    assert_eq!(read, rotated);
    assert_eq!(
        fresh.webhook_secrets(&read, just_before).await.unwrap(),
        [new.clone(), old.clone()]
    );
    // An enable/disable keeps the overlap; a zero overlap ends it.
    let disabled = tasks
        .change("t1", TaskChange::Disabled, now())
        .await
        .unwrap();
    assert_eq!(disabled.webhook_secrets(now()).len(), 2);
    let newer = WebhookSecret::new("0000111122223333-newer");
    let rotated = tasks
        .rotate_webhook_secret("t1", newer.clone(), chrono::Duration::zero(), now())
        .await
        .unwrap();
    assert_eq!(
        tasks.webhook_secrets(&rotated, now()).await.unwrap(),
        vec![newer]
    );
    // The secret never shows in the record's Debug output.
    let shown = format!("{rotated:?}");
    assert!(
        !shown.contains("newer") && !shown.contains("fedcba"),
        "{shown}"
    );
}

fn sealing(store: SharedStore) -> TaskStore {
    TaskStore::new(store).with_sealer(Some(Arc::new(crate::secrets::LocalSealer::with_key(
        [3; crate::secrets::KEY_LEN],
    ))))
}

async fn raw(store: &SharedStore, key: &str) -> String {
    String::from_utf8(store.get(key).await.unwrap().expect("the record exists")).unwrap()
}

#[tokio::test]
async fn records_hold_the_webhook_secret_sealed_only() {
    let store: SharedStore = Arc::new(crate::store::memory::MemoryStore::new());
    let tasks = sealing(store.clone());
    let created = tasks.create("t1", valid(), now()).await.unwrap();
    assert!(matches!(
        created.spec.webhook_secret,
        Some(StoredSecret::Sealed(_))
    ));
    let disabled = tasks
        .change("t1", TaskChange::Disabled, now())
        .await
        .unwrap();
    for seq in 0..=1 {
        let text = raw(&store, &task_key("t1", seq)).await;
        assert!(!text.contains("0123456789abcdef"), "{text}");
        assert!(text.contains("\"sealed_with\": \"local\""), "{text}");
    }
    // A fresh store (another process) opens it through the sealer, not from memory.
    let other = sealing(store.clone());
    let record = other.get("t1").await.unwrap();
    assert_eq!(record, disabled);
    assert_eq!(
        other.webhook_secret(&record).await.unwrap(),
        Some(WebhookSecret::new("0123456789abcdef"))
    );
    // Without the key it cannot be opened, and the error says why without the secret.
    let keyless = TaskStore::new(store.clone());
    let err = keyless.webhook_secret(&record).await.unwrap_err();
    let message = crate::report::chain(&err);
    assert!(message.contains("no key to seal secrets"), "{message}");
    // Under another key it cannot either.
    let wrong = TaskStore::new(store.clone()).with_sealer(Some(Arc::new(
        crate::secrets::LocalSealer::with_key([4; crate::secrets::KEY_LEN]),
    )));
    assert!(matches!(
        wrong.webhook_secret(&record).await.unwrap_err(),
        TaskStoreError::Sealing {
            source: SealError::WrongKey { .. },
            ..
        }
    ));
}

#[tokio::test]
async fn a_sealed_secret_moved_to_another_task_does_not_open() {
    let store: SharedStore = Arc::new(crate::store::memory::MemoryStore::new());
    let tasks = sealing(store.clone());
    let t1 = tasks.create("t1", valid(), now()).await.unwrap();
    let mut spec = valid();
    spec.webhook_secret = None;
    let mut t2 = tasks.create("t2", spec, now()).await.unwrap();
    t2.spec.webhook_secret = t1.spec.webhook_secret.clone();
    let fresh = sealing(store);
    assert!(matches!(
        fresh.webhook_secret(&t2).await.unwrap_err(),
        TaskStoreError::Sealing {
            source: SealError::Rejected { .. },
            ..
        }
    ));
}

#[tokio::test]
async fn a_store_without_a_sealer_refuses_to_store_a_secret() {
    let store: SharedStore = Arc::new(crate::store::memory::MemoryStore::new());
    let tasks = TaskStore::new(store.clone());
    let err = tasks.create("t1", valid(), now()).await.unwrap_err();
    let message = crate::report::chain(&err);
    assert!(message.contains("REIMAGE_KMS_KEY_ID"), "{message}");
    assert!(store.list("tasks/").await.unwrap().is_empty());
    let mut spec = valid();
    spec.webhook_secret = None;
    tasks.create("t2", spec, now()).await.unwrap();
}

#[tokio::test]
async fn a_plaintext_record_from_before_sealing_is_read_and_sealed_at_its_next_edit() {
    let store: SharedStore = Arc::new(crate::store::memory::MemoryStore::new());
    // Record 0 exactly as reimage wrote it before secrets were sealed.
    let old = serde_json::json!({
        "task_id": "t1", "seq": 0, "change": "created",
        "recorded_at": now(), "created_at": now(), "enabled": true,
        "spec": {
            "source_instance_id": "i-bp1abc",
            "scaling_configuration_ids": ["asc-one"],
            "executed_at": {"kind": "now"},
            "permission": {"kind": "account"},
            "webhook_secret": "an-old-plaintext-secret"
        }
    });
    store
        .create(
            &task_key("t1", 0),
            &serde_json::to_vec_pretty(&old).unwrap(),
        )
        .await
        .unwrap();
    let tasks = sealing(store.clone());
    let record = tasks.get("t1").await.unwrap();
    assert_eq!(
        tasks.webhook_secret(&record).await.unwrap(),
        Some(WebhookSecret::new("an-old-plaintext-secret"))
    );
    tasks
        .change("t1", TaskChange::Disabled, now())
        .await
        .unwrap();
    let text = raw(&store, &task_key("t1", 1)).await;
    assert!(!text.contains("an-old-plaintext-secret"), "{text}");
    let fresh = sealing(store.clone());
    let record = fresh.get("t1").await.unwrap();
    assert!(matches!(
        record.spec.webhook_secret,
        Some(StoredSecret::Sealed(_))
    ));
    assert_eq!(
        fresh.webhook_secret(&record).await.unwrap(),
        Some(WebhookSecret::new("an-old-plaintext-secret"))
    );
}
