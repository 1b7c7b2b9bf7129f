//! KMS Encrypt and Decrypt through reimage's typed client against the sim, over real HTTP with
//! real signatures: round trips by key id and alias, KMS's error codes and statuses, and the
//! KMS sealer that keeps webhook secrets out of records.

use std::collections::BTreeMap;
use std::sync::Arc;

use reimage::aliyun::kms::{DecryptRequest, EncryptRequest};
use reimage::aliyun::{Client, Error, RetryPolicy};
use reimage::model::PermissionSource;
use reimage::model::task::{ExecutedAt, StoredSecret, TaskSpec, WebhookSecret};
use reimage::secrets::{KmsSealer, SealError, SecretSealer};
use reimage::store::SharedStore;
use reimage::store::memory::MemoryStore;
use reimage::store::tasks::TaskStore;
use reimage_sim::seed::{DEMO_DISABLED_KMS_KEY_ID, DEMO_KMS_ALIAS, DEMO_KMS_KEY_ID, Seed};

const DISABLED_KEY: &str = DEMO_DISABLED_KMS_KEY_ID;

async fn sim_and_client() -> (reimage_sim::Sim, Client) {
    let sim = reimage_sim::Sim::builder()
        .seed(Seed::demo_with_a_disabled_kms_key())
        .start()
        .await
        .unwrap();
    let mut config = sim.client_config();
    config.retry = RetryPolicy::never();
    let client = Client::new(config).unwrap();
    (sim, client)
}

fn context(task: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("reimage:task".to_owned(), task.to_owned()),
        ("purpose".to_owned(), "webhook".to_owned()),
    ])
}

fn api_error(err: Error) -> (u16, String) {
    match err {
        Error::Api { source, .. } => (source.status, source.code),
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn encrypt_and_decrypt_round_trip_with_the_context() {
    let (sim, client) = sim_and_client().await;
    let kms = client.kms();
    for key in [DEMO_KMS_KEY_ID, DEMO_KMS_ALIAS] {
        let sealed = kms
            .encrypt(&EncryptRequest {
                key_id: key.to_owned(),
                plaintext: "c2VjcmV0".to_owned(),
                encryption_context: context("task-1"),
            })
            .await
            .unwrap();
        assert_eq!(sealed.key_id, DEMO_KMS_KEY_ID);
        assert!(!sealed.key_version_id.is_empty() && !sealed.request_id.is_empty());
        assert!(!sealed.ciphertext_blob.contains("c2VjcmV0"));
        let opened = kms
            .decrypt(&DecryptRequest {
                ciphertext_blob: sealed.ciphertext_blob.clone(),
                encryption_context: context("task-1"),
            })
            .await
            .unwrap();
        assert_eq!(opened.plaintext, "c2VjcmV0");
        assert_eq!(opened.key_id, DEMO_KMS_KEY_ID);
        assert_eq!(opened.key_version_id, sealed.key_version_id);
    }
    let calls = sim.admin().calls().total;
    assert_eq!(calls.get("Encrypt").copied(), Some(2));
    assert_eq!(calls.get("Decrypt").copied(), Some(2));
    sim.shutdown().await;
}

#[tokio::test]
async fn kms_error_codes_and_statuses() {
    let (sim, client) = sim_and_client().await;
    let kms = client.kms();
    let encrypt = |key: &str| EncryptRequest {
        key_id: key.to_owned(),
        plaintext: "dGV4dA==".to_owned(),
        encryption_context: context("task-1"),
    };
    let err = kms.encrypt(&encrypt("key-no-such-key")).await.unwrap_err();
    assert_eq!(api_error(err), (404, "Forbidden.KeyNotFound".to_owned()));
    let err = kms.encrypt(&encrypt("alias/no-such")).await.unwrap_err();
    assert_eq!(api_error(err), (404, "Forbidden.AliasNotFound".to_owned()));
    let err = kms.encrypt(&encrypt(DISABLED_KEY)).await.unwrap_err();
    assert_eq!(api_error(err), (409, "Rejected.Disabled".to_owned()));

    let sealed = kms.encrypt(&encrypt(DEMO_KMS_KEY_ID)).await.unwrap();
    // The wrong context, a context left out, an altered blob, not Base64: 400 InvalidParameter.
    for (blob, ctx) in [
        (sealed.ciphertext_blob.clone(), context("task-2")),
        (sealed.ciphertext_blob.clone(), BTreeMap::new()),
        (
            {
                let mut b = sealed.ciphertext_blob.clone().into_bytes();
                let i = b.len() - 6;
                b[i] = if b[i] == b'A' { b'B' } else { b'A' };
                String::from_utf8(b).unwrap()
            },
            context("task-1"),
        ),
        ("not base64 at all!".to_owned(), context("task-1")),
    ] {
        let err = kms
            .decrypt(&DecryptRequest {
                ciphertext_blob: blob,
                encryption_context: ctx,
            })
            .await
            .unwrap_err();
        assert_eq!(api_error(err), (400, "InvalidParameter".to_owned()));
    }
    // A malformed EncryptionContext, sent raw: 400 InvalidParameter naming it.
    let err = client
        .rpc(
            reimage::aliyun::Service::Kms,
            "Encrypt",
            [
                ("KeyId", DEMO_KMS_KEY_ID),
                ("Plaintext", "dGV4dA=="),
                ("EncryptionContext", r#"{"k": 1}"#),
            ],
        )
        .await
        .unwrap_err();
    let Error::Api { source, .. } = err else {
        panic!("not an API error")
    };
    assert_eq!(
        (source.status, source.code.as_str()),
        (400, "InvalidParameter")
    );
    assert!(
        source.message.contains("EncryptionContext"),
        "{}",
        source.message
    );
    let err = client
        .rpc(
            reimage::aliyun::Service::Kms,
            "Encrypt",
            [("KeyId", DEMO_KMS_KEY_ID)],
        )
        .await
        .unwrap_err();
    assert_eq!(api_error(err), (400, "MissingParameter".to_owned()));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_kms_sealer_keeps_webhook_secrets_out_of_task_records() {
    let (sim, client) = sim_and_client().await;
    let sealer = Arc::new(KmsSealer::new(client.clone(), DEMO_KMS_ALIAS));
    let store: SharedStore = Arc::new(MemoryStore::new());
    let tasks = TaskStore::new(store.clone()).with_sealer(Some(sealer.clone()));
    let spec = TaskSpec {
        scaling_group_ids: Vec::new(),
        allow_default_version_change: false,
        notify: Vec::new(),
        retention: None,
        source_instance_id: "i-bp1demoweb000000001".into(),
        image_name: None,
        configuration_source: Default::default(),
        scaling_configuration_ids: vec!["asc-bp1demoweb0000001".into()],
        executed_at: ExecutedAt::Now,
        permission: PermissionSource::Account,
        webhook_secret: Some(WebhookSecret::new("kms-sealed-webhook-secret").into()),
        webhook_runs_per_hour: None,
        disable_after_failures: None,
        rollout: None,
        allow_platform_change: false,
    };
    let now = chrono::DateTime::UNIX_EPOCH;
    let record = tasks.create("task-k", spec, now).await.unwrap();
    let Some(StoredSecret::Sealed(sealed)) = &record.spec.webhook_secret else {
        panic!("not sealed")
    };
    assert_eq!(sealed.key, DEMO_KMS_KEY_ID);
    let raw = store
        .get("tasks/task-k/0000000000.json")
        .await
        .unwrap()
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    assert!(!raw.contains("kms-sealed-webhook-secret"), "{raw}");
    assert!(raw.contains("\"sealed_with\": \"kms\""), "{raw}");

    // Another process opens it through KMS Decrypt.
    let fresh = TaskStore::new(store.clone()).with_sealer(Some(sealer.clone()));
    let read = fresh.get("task-k").await.unwrap();
    assert_eq!(
        fresh.webhook_secret(&read).await.unwrap(),
        Some(WebhookSecret::new("kms-sealed-webhook-secret"))
    );
    assert_eq!(sim.admin().calls().total.get("Decrypt").copied(), Some(1));
    // Opened once, then from memory.
    fresh.webhook_secret(&read).await.unwrap();
    assert_eq!(sim.admin().calls().total.get("Decrypt").copied(), Some(1));
    // For another task (its context), KMS refuses it.
    let err = sealer.open(sealed, "task-other").await.unwrap_err();
    assert!(
        matches!(&err, SealError::Kms { action: "Decrypt", message } if message.contains("InvalidParameter")),
        "{err}"
    );
    sim.shutdown().await;
}
