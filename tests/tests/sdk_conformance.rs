//! The official legacy Python SDKs (aliyunsdkcore, -ecs, -ess, -sts), unmodified, against
//! the sim started in-process: every operation the sim implements, STS credentials, and a
//! wrong secret. The sim runs on the system clock (the SDKs stamp requests with it); the
//! script moves image progress along with the admin clock.

use reimage_e2e::run_python;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_conform_to_the_sim() {
    let sim = reimage_sim::Sim::builder()
        .image_seconds(60)
        .start()
        .await
        .unwrap();
    let admin = sim.admin();
    let endpoint = sim.endpoint().to_owned();
    let region = sim.region_id().to_owned();
    let ak = sim.access_key_id().to_owned();
    let secret = sim.access_key_secret().to_owned();
    let role = "acs:ram::1234567890123456:role/reimage-updater".to_owned();
    let out = tokio::task::spawn_blocking(move || {
        run_python(
            "sdk_conformance.py",
            &[],
            &[
                ("SIM_ENDPOINT", endpoint.as_str()),
                ("SIM_REGION", region.as_str()),
                ("SIM_AK", ak.as_str()),
                ("SIM_SECRET", secret.as_str()),
                ("SIM_ROLE_ARN", role.as_str()),
            ],
        )
    })
    .await
    .unwrap();
    assert!(out.contains("checks passed"), "{out}");
    assert!(!out.contains("FAILED"), "{out}");

    // What the SDK did is what the sim holds.
    let state = admin.state();
    let image = state
        .images
        .iter()
        .find(|m| m.image_name == "conformance-image-1")
        .expect("the SDK's image exists");
    assert_eq!(image.status, "Available");
    let group_web = state
        .scaling_configurations
        .iter()
        .filter(|c| c.image_id == image.image_id)
        .count();
    assert_eq!(group_web, 1, "exactly one configuration got the new image");
    let calls = admin.calls().total;
    for action in [
        "DescribeInstances",
        "DescribeDisks",
        "CreateSnapshot",
        "DescribeSnapshots",
        "DeleteSnapshot",
        "CreateImage",
        "DescribeImages",
        "DeleteImage",
        "DescribeScalingGroups",
        "DescribeScalingConfigurations",
        "DescribeEciScalingConfigurations",
        "ModifyScalingConfiguration",
        "AssumeRole",
        "StopInstance",
        "StartInstance",
    ] {
        assert!(
            calls.get(action).copied().unwrap_or(0) > 0,
            "{action} was never called: {calls:?}"
        );
    }
    sim.shutdown().await;
}
