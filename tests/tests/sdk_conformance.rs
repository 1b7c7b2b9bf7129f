//! The official legacy Python SDKs (aliyunsdkcore, -ecs, -ess, -sts, -slb), unmodified, against
//! the sim started in-process: every operation the sim implements (ECS tags, the instance
//! types an image supports, DescribeInstanceTypes and RunInstances' dry run, launch templates
//! and image sharing among them, a launch template version copied whole with a new image and a
//! scaling group pointed at it with ModifyScalingGroup), STS
//! credentials and GetCallerIdentity (a RAM user's key, an assumed role), and a wrong secret. The sim runs on the system clock (the SDKs stamp requests with it); the
//! script moves image progress along with the admin clock.

use reimage_e2e::run_python_against;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_conform_to_the_sim() {
    let sim = reimage_sim::Sim::builder()
        .image_seconds(60)
        .start()
        .await
        .unwrap();
    let admin = sim.admin();
    let out = run_python_against(
        &sim,
        "sdk_conformance.py",
        &[(
            "SIM_ROLE_ARN",
            "acs:ram::1234567890123456:role/reimage-updater",
        )],
    )
    .await;
    assert!(out.contains("checks passed"), "{out}");
    assert!(!out.contains("FAILED"), "{out}");
    assert!(
        out.contains("ok: GetCallerIdentity with the account's key")
            && out.contains("ok: GetCallerIdentity with the STS credentials"),
        "the STS checks ran: {out}"
    );
    assert!(
        out.contains("ok: DescribeInvocationResults"),
        "the fleet's checks ran to the end: {out}"
    );
    assert!(
        out.contains("ok: UntagResources (All) removes every tag")
            && out.contains("ok: DescribeImageSupportInstanceTypes: an unknown ActionType"),
        "the tag and instance-type checks ran to the end: {out}"
    );
    assert!(
        out.contains("ok: DescribeInstanceTypes: MaxResults 0")
            && out.contains("ok: RunInstances without DryRun: the sim launches nothing"),
        "the launch checks ran to the end: {out}"
    );
    assert!(
        out.contains("ok: DeleteLaunchTemplate: again is InvalidLaunchTemplate.NotFound")
            && out.contains("ok: DeleteSnapshot deletes it; again is InvalidSnapshotId.NotFound"),
        "the launch template and image sharing checks ran to the end: {out}"
    );

    assert!(
        out.contains("ok: the copy's LaunchTemplateData equals the source's but for ImageId")
            && out.contains(
                "ok: ModifyScalingGroup: ActiveScalingConfigurationId gives the group its configuration back"
            ),
        "the launch template group checks ran to the end: {out}"
    );

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
    assert!(
        out.contains("ok: DescribeScalingGroups: VSwitchIds.VSwitchId[] in priority order")
            && out.contains("ok: RunInstances (DryRun) as configuration api-current launches")
            && out.contains("ok: RunInstances (DryRun): an entry-level ESSD on ecs.g7.large"),
        "the launch settings of the configurations and groups were read, and launched: {out}"
    );
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
        "GetCallerIdentity",
        "StopInstance",
        "StartInstance",
        "StopInstances",
        "StartInstances",
        "ReplaceSystemDisk",
        "EnterStandby",
        "ExitStandby",
        "DescribeScalingInstances",
        "RunCommand",
        "DescribeInvocationResults",
        "DescribeLoadBalancerAttribute",
        "DescribeHealthStatus",
        "DescribeVServerGroupAttribute",
        "SetBackendServers",
        "SetVServerGroupAttribute",
        "TagResources",
        "UntagResources",
        "ListTagResources",
        "DescribeImageSupportInstanceTypes",
        "DescribeInstanceTypes",
        "RunInstances",
        "CreateLaunchTemplate",
        "CreateLaunchTemplateVersion",
        "DescribeLaunchTemplates",
        "DescribeLaunchTemplateVersions",
        "DeleteLaunchTemplate",
        "DeleteLaunchTemplateVersion",
        "ModifyLaunchTemplateDefaultVersion",
        "ModifyScalingGroup",
        "ModifyImageSharePermission",
        "DescribeImageSharePermission",
    ] {
        assert!(
            calls.get(action).copied().unwrap_or(0) > 0,
            "{action} was never called: {calls:?}"
        );
    }
    sim.shutdown().await;
}
