//! The official current ESS SDK (alibabacloud_ess20220222 on alibabacloud-tea-openapi),
//! unmodified, against the sim started in-process: the six instance-refresh operations at
//! 2022-02-22, signed V3 (`ACS3-HMAC-SHA256`) by default, with STS credentials, with a wrong
//! secret, and with the legacy RPC signature (`tests/python/ess2022_conformance.py`). The sim
//! runs on the system clock (the SDKs stamp requests with it); the script moves the refreshes
//! along with the admin clock.

use reimage_e2e::run_python_against;

const GROUP: &str = "asg-bp1demoweb0000001";
const CONFIGURATION: &str = "asc-bp1demoweb0000001";
const NEW_IMAGE: &str = "aliyun_3_x64_20G_alibase_20240101.vhd";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_ess_2022_sdk_conforms_to_the_sim() {
    let sim = reimage_sim::Sim::builder().start().await.unwrap();
    let admin = sim.admin();
    let old_image = admin
        .scaling_configuration(CONFIGURATION)
        .expect("the demo's web configuration")
        .image_id;
    assert_ne!(old_image, NEW_IMAGE);
    let out = run_python_against(
        &sim,
        "ess2022_conformance.py",
        &[
            (
                "SIM_ROLE_ARN",
                "acs:ram::1234567890123456:role/reimage-updater",
            ),
            ("SIM_GROUP", GROUP),
            ("SIM_CONFIGURATION", CONFIGURATION),
            ("SIM_OLD_IMAGE", &old_image),
            ("SIM_NEW_IMAGE", NEW_IMAGE),
        ],
    )
    .await;
    assert!(
        out.contains("ess2022 conformance: 49 checks passed"),
        "{out}"
    );
    assert!(!out.contains("FAILED"), "{out}");

    // What the SDK did is what the sim holds: the first refresh's image in the configuration,
    // and after the last rollback every instance of the group on it, in service.
    let state = admin.state();
    assert_eq!(
        admin.scaling_configuration(CONFIGURATION).unwrap().image_id,
        NEW_IMAGE
    );
    let members: Vec<_> = state
        .scaling_instances
        .iter()
        .filter(|m| m.scaling_group_id == GROUP)
        .collect();
    assert_eq!(members.len(), reimage_sim::seed::DEMO_FLEET_SIZE);
    for member in members {
        assert_eq!(member.lifecycle_state, "InService", "{member:?}");
        let instance = admin.instance(&member.instance_id).unwrap();
        assert_eq!(instance.image_id, NEW_IMAGE, "{instance:?}");
        assert_eq!(instance.status, "Running", "{instance:?}");
    }
    let calls = admin.calls().total;
    for action in [
        "StartInstanceRefresh",
        "DescribeInstanceRefreshes",
        "SuspendInstanceRefresh",
        "ResumeInstanceRefresh",
        "RollbackInstanceRefresh",
        "CancelInstanceRefresh",
        "AssumeRole",
        "DescribeScalingConfigurations",
    ] {
        assert!(
            calls.get(action).copied().unwrap_or(0) > 0,
            "{action} was never called: {calls:?}"
        );
    }
    sim.shutdown().await;
}
