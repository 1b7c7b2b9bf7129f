//! The official `oss2` Python SDK, unmodified, as an independent client of the sim's OSS:
//! `Bucket(auth, "http://127.0.0.1:PORT", bucket)`, path-style, keys sent with `%2F`.
//!
//! The script (tests/python/oss2_conformance.py) reports what the SDK saw; the assertions
//! are here.

use reimage::aliyun::credentials::{Credentials, StaticProvider};
use reimage::aliyun::sts::AssumeRoleRequest;
use reimage::aliyun::{Client, ClientConfig, Endpoints};
use reimage_e2e::run_python;
use serde_json::Value;

const BUCKET: &str = "reimage-state";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oss2_sdk_against_the_sims_oss() {
    let sim = reimage_sim::Sim::builder()
        .start()
        .await
        .expect("sim starts");
    let endpoint = sim.endpoint().to_owned();
    let (ak, secret) = (
        sim.access_key_id().to_owned(),
        sim.access_key_secret().to_owned(),
    );
    // STS credentials from the sim's own AssumeRole, through reimage's STS client.
    let account_id = sim.state().region().account_id.clone();
    let client = Client::new(ClientConfig::new(
        sim.region_id(),
        Endpoints::all_at(&endpoint),
        StaticProvider::shared(Credentials::access_key(&ak, &secret)),
    ))
    .expect("client");
    let sts = client
        .sts()
        .assume_role(&AssumeRoleRequest {
            role_arn: format!("acs:ram::{account_id}:role/reimage-updater"),
            role_session_name: "oss2-conformance".into(),
            duration_seconds: Some(900),
            policy: None,
        })
        .await
        .expect("AssumeRole")
        .credentials;

    let out = tokio::task::spawn_blocking(move || {
        run_python(
            "oss2_conformance.py",
            &[
                &endpoint,
                BUCKET,
                &ak,
                &secret,
                &sts.access_key_id,
                &sts.access_key_secret,
                &sts.security_token,
            ],
            &[],
        )
    })
    .await
    .expect("script ran");
    let seen: Value = serde_json::from_str(out.trim()).expect("the script prints JSON");

    // PutObject with forbid-overwrite twice: the second is FileAlreadyExists (409).
    assert_eq!(seen["put_first"]["status"], 200);
    assert_eq!(
        seen["put_first"]["etag"].as_str().map(str::len),
        Some(32),
        "ETag is the upper-case hex MD5: {}",
        seen["put_first"]
    );
    assert_eq!(seen["put_second"]["status"], 409);
    assert_eq!(seen["put_second"]["code"], "FileAlreadyExists");
    assert!(
        seen["put_second"]["request_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(seen["get"], "{\"seq\":0}", "the first writer's value stays");

    // Keys with `/`, spaces, `+` and non-ASCII go through the SDK's encoding intact.
    assert_eq!(seen["get_odd_key"], "non-ASCII ✓");
    assert_eq!(seen["deleted_exists"], false);
    assert_eq!(seen["head"], 9);

    // Missing key and bucket.
    assert_eq!(seen["missing"]["status"], 404);
    assert_eq!(seen["missing"]["code"], "NoSuchKey");
    assert_eq!(seen["missing_bucket"]["code"], "NoSuchBucket");

    // ListObjectsV2 paging with continuation tokens, three pages of at most three keys.
    let expected: Vec<String> = (0..7)
        .map(|i| format!("state/runs/r-{i:02}.json"))
        .collect();
    let pages: Vec<Vec<String>> =
        serde_json::from_value(seen["list_pages"].clone()).expect("pages");
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    assert_eq!(pages.concat(), expected);
    // start-after: strictly after that key, at most max-keys, truncated when more follow.
    assert_eq!(
        seen["list_start_after"],
        serde_json::json!({"keys": ["state/runs/r-03.json", "state/runs/r-04.json"], "truncated": true})
    );
    let iterated: Vec<String> =
        serde_json::from_value(seen["list_iterator"].clone()).expect("keys");
    let mut want = vec!["state/executions/e-1/0000.json".to_owned()];
    want.extend(expected);
    assert_eq!(
        iterated, want,
        "ObjectIteratorV2 follows the tokens to the end"
    );
    assert_eq!(
        seen["list_delimited"]["prefixes"],
        serde_json::json!(["dir one/", "state/"])
    );

    // Wrong secret: SignatureDoesNotMatch, with the string the sim signed.
    assert_eq!(seen["wrong_secret"]["status"], 403);
    assert_eq!(seen["wrong_secret"]["code"], "SignatureDoesNotMatch");
    assert!(
        seen["wrong_secret"]["string_to_sign"]
            .as_str()
            .is_some_and(|s| s.starts_with("GET\n\n\n")
                && s.ends_with("\n/reimage-state/state/executions/e-1/0000.json")),
        "{}",
        seen["wrong_secret"]
    );
    assert_eq!(seen["unknown_key"]["code"], "InvalidAccessKeyId");

    // Signature V4, as oss2's AuthV4 signs it.
    assert_eq!(seen["v4_get"], "v4");
    assert_eq!(seen["v4_put_again"]["code"], "FileAlreadyExists");
    assert_eq!(
        seen["v4_list"],
        serde_json::json!(["state/v4/résumé 0000.json"])
    );
    assert_eq!(seen["v4_wrong_secret"]["code"], "SignatureDoesNotMatch");
    assert!(
        seen["v4_wrong_secret"]["string_to_sign"]
            .as_str()
            .is_some_and(|s| s.starts_with("OSS4-HMAC-SHA256\n")),
        "{}",
        seen["v4_wrong_secret"]
    );

    // STS credentials from AssumeRole, with x-oss-security-token; a wrong token is refused.
    assert_eq!(seen["sts_get"], "sts");
    assert_eq!(seen["sts_wrong_token"]["status"], 403);
    assert_eq!(seen["sts_wrong_token"]["code"], "InvalidSecurityToken");

    sim.shutdown().await;
}

/// The committed OSS signing vectors are what the installed `oss2` produces today: the
/// generator scripts run again and their output is compared with the files the signer tests
/// read (`shared/cloud/tests/oss_sign_vectors.rs`), so a vector edited by hand, or an SDK whose
/// signing changed, shows up here.
#[test]
fn committed_oss_vectors_match_a_fresh_run_of_oss2() {
    for (script, file) in [
        ("oss2_vectors.py", "oss_v1.json"),
        ("oss2_vectors_v4.py", "oss_v4.json"),
    ] {
        let fresh: Value =
            serde_json::from_str(&run_python(script, &[], &[])).expect("script prints JSON");
        let path = reimage_e2e::workspace_root()
            .join("shared/cloud/tests/vectors")
            .join(file);
        let committed: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("vectors file readable"))
                .expect("vectors file is JSON");
        assert_eq!(
            fresh["source"],
            committed["source"],
            "oss2 version differs: regenerate with `.venv/bin/python tests/python/{script} > {}`",
            path.display()
        );
        assert_eq!(fresh["cases"], committed["cases"], "{file}");
    }
}
