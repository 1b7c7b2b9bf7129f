//! The official aliyun-python-sdk-kms, unmodified, against the sim started in-process:
//! Encrypt and Decrypt, and KMS's error codes (`tests/python/kms_conformance.py`).

use reimage_e2e::run_python_against;
use reimage_sim::seed::{DEMO_DISABLED_KMS_KEY_ID, DEMO_KMS_ALIAS, DEMO_KMS_KEY_ID, Seed};

const DISABLED_KEY: &str = DEMO_DISABLED_KMS_KEY_ID;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_kms_sdk_conforms_to_the_sim() {
    let sim = reimage_sim::Sim::builder()
        .seed(Seed::demo_with_a_disabled_kms_key())
        .start()
        .await
        .unwrap();
    let admin = sim.admin();
    let out = run_python_against(
        &sim,
        "kms_conformance.py",
        &[
            ("SIM_KEY_ID", DEMO_KMS_KEY_ID),
            ("SIM_KEY_ALIAS", DEMO_KMS_ALIAS),
            ("SIM_DISABLED_KEY_ID", DISABLED_KEY),
        ],
    )
    .await;
    assert!(out.contains("kms conformance: 12 checks passed"), "{out}");
    assert!(!out.contains("FAILED"), "{out}");
    let calls = admin.calls().total;
    assert!(calls.get("Encrypt").copied().unwrap_or(0) >= 6, "{calls:?}");
    assert!(calls.get("Decrypt").copied().unwrap_or(0) >= 5, "{calls:?}");
    sim.shutdown().await;
}
