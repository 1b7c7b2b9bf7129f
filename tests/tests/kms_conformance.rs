//! The official aliyun-python-sdk-kms, unmodified, against the sim started in-process:
//! Encrypt and Decrypt, and KMS's error codes (`tests/python/kms_conformance.py`).

use reimage_e2e::run_python;
use reimage_sim::seed::{DEMO_KMS_ALIAS, DEMO_KMS_KEY_ID, Seed, SeedKmsKey};

const DISABLED_KEY: &str = "key-hzzdisabled00000000000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_kms_sdk_conforms_to_the_sim() {
    let mut seed = Seed::demo();
    seed.kms_keys.push(SeedKmsKey {
        key_id: DISABLED_KEY.to_owned(),
        alias: None,
        enabled: false,
    });
    let sim = reimage_sim::Sim::builder()
        .seed(seed)
        .start()
        .await
        .unwrap();
    let admin = sim.admin();
    let endpoint = sim.endpoint().to_owned();
    let region = sim.region_id().to_owned();
    let ak = sim.access_key_id().to_owned();
    let secret = sim.access_key_secret().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        run_python(
            "kms_conformance.py",
            &[],
            &[
                ("SIM_ENDPOINT", endpoint.as_str()),
                ("SIM_REGION", region.as_str()),
                ("SIM_AK", ak.as_str()),
                ("SIM_SECRET", secret.as_str()),
                ("SIM_KEY_ID", DEMO_KMS_KEY_ID),
                ("SIM_KEY_ALIAS", DEMO_KMS_ALIAS),
                ("SIM_DISABLED_KEY_ID", DISABLED_KEY),
            ],
        )
    })
    .await
    .unwrap();
    assert!(out.contains("kms conformance: 12 checks passed"), "{out}");
    assert!(!out.contains("FAILED"), "{out}");
    let calls = admin.calls().total;
    assert!(calls.get("Encrypt").copied().unwrap_or(0) >= 6, "{calls:?}");
    assert!(calls.get("Decrypt").copied().unwrap_or(0) >= 5, "{calls:?}");
    sim.shutdown().await;
}
