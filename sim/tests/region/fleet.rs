//! A scaling group's fleet: instances stopping, starting and getting a new system disk
//! (ECS), Standby, protection, suspended processes and scaling activities (ESS).

use std::time::Duration;

use reimage_sim::ecs::fleet::PowerTiming;
use serde_json::Value;

use crate::common::{Call, sim};

const REGION: (&str, &str) = ("RegionId", "cn-hangzhou");
const GROUP: &str = "asg-bp1demoweb0000001";
const FLEET: [&str; 2] = ["i-bp1demofleet0000001", "i-bp1demofleet0000002"];
const NEW_IMAGE: &str = "aliyun_3_x64_20G_alibase_20240101.vhd";

async fn instance(call: &Call<'_>, id: &str) -> Value {
    let ids = format!("[\"{id}\"]");
    let found = call
        .ok("DescribeInstances", &[REGION, ("InstanceIds", &ids)])
        .await;
    found["Instances"]["Instance"][0].clone()
}

async fn system_disk(call: &Call<'_>, id: &str) -> Value {
    let found = call
        .ok(
            "DescribeDisks",
            &[REGION, ("InstanceId", id), ("DiskType", "system")],
        )
        .await;
    assert_eq!(found["TotalCount"], 1, "{found}");
    found["Disks"]["Disk"][0].clone()
}

async fn scaling_instance(call: &Call<'_>, id: &str) -> Value {
    let found = call
        .ok(
            "DescribeScalingInstances",
            &[REGION, ("ScalingGroupId", GROUP), ("InstanceId.1", id)],
        )
        .await;
    found["ScalingInstances"]["ScalingInstance"][0].clone()
}

#[tokio::test]
async fn a_stopped_instance_gets_a_new_system_disk_and_boots_from_its_image() {
    let (sim, clock) = sim().await;
    sim.admin().set_power_timing(PowerTiming {
        stop: chrono::Duration::seconds(30),
        boot: chrono::Duration::seconds(60),
        replace: chrono::Duration::seconds(20),
    });
    let call = Call::new(&sim, &clock);
    let [a, b] = FLEET;

    let stopped = call
        .ok(
            "StopInstances",
            &[
                REGION,
                ("InstanceId.1", a),
                ("InstanceId.2", b),
                ("StoppedMode", "KeepCharging"),
            ],
        )
        .await;
    let answers = stopped["InstanceResponses"]["InstanceResponse"]
        .as_array()
        .unwrap();
    assert_eq!(answers.len(), 2);
    for answer in answers {
        assert_eq!(
            (
                &answer["Code"],
                &answer["PreviousStatus"],
                &answer["CurrentStatus"]
            ),
            (&"200".into(), &"Running".into(), &"Stopping".into()),
            "{answer}"
        );
    }
    assert_eq!(instance(&call, a).await["Status"], "Stopping");
    let (status, code, _) = call
        .err(
            "ReplaceSystemDisk",
            &[("InstanceId", a), ("ImageId", NEW_IMAGE)],
        )
        .await;
    assert_eq!((status, code.as_str()), (403, "IncorrectInstanceStatus"));

    clock.advance(Duration::from_secs(30));
    let seen = instance(&call, a).await;
    assert_eq!(
        (&seen["Status"], &seen["StoppedMode"]),
        (&"Stopped".into(), &"KeepCharging".into())
    );

    let old = system_disk(&call, a).await;
    let replaced = call
        .ok(
            "ReplaceSystemDisk",
            &[
                ("InstanceId", a),
                ("ImageId", NEW_IMAGE),
                ("PasswordInherit", "true"),
                ("ClientToken", "rollout-1-a"),
            ],
        )
        .await;
    let disk_id = replaced["DiskId"].as_str().unwrap().to_owned();
    assert_ne!(disk_id, old["DiskId"].as_str().unwrap());
    let again = call
        .ok(
            "ReplaceSystemDisk",
            &[
                ("InstanceId", a),
                ("ImageId", NEW_IMAGE),
                ("PasswordInherit", "true"),
                ("ClientToken", "rollout-1-a"),
            ],
        )
        .await;
    assert_eq!(
        again["DiskId"],
        disk_id.as_str(),
        "a replayed token answers the same disk"
    );
    let old_ids = format!("[\"{}\"]", old["DiskId"].as_str().unwrap());
    let released = call
        .ok("DescribeDisks", &[REGION, ("DiskIds", &old_ids)])
        .await;
    assert_eq!(released["TotalCount"], 0, "the old system disk is released");
    let new = system_disk(&call, a).await;
    assert_eq!(
        (&new["DiskId"], &new["Status"], &new["ImageId"]),
        (
            &disk_id.clone().into(),
            &"ReIniting".into(),
            &NEW_IMAGE.into()
        )
    );
    assert_eq!(instance(&call, a).await["Status"], "Stopped");

    // All together: one instance not ready refuses the whole batch and starts nothing.
    let (status, code, _) = call
        .err(
            "StartInstances",
            &[REGION, ("InstanceId.1", b), ("InstanceId.2", a)],
        )
        .await;
    assert_eq!((status, code.as_str()), (403, "DiskError"));
    assert_eq!(instance(&call, b).await["Status"], "Stopped");
    // Success first: each on its own.
    let each = call
        .ok(
            "StartInstances",
            &[
                REGION,
                ("InstanceId.1", b),
                ("InstanceId.2", a),
                ("BatchOptimization", "SuccessFirst"),
            ],
        )
        .await;
    let codes: Vec<&str> = each["InstanceResponses"]["InstanceResponse"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["200", "DiskError"]);

    clock.advance(Duration::from_secs(20));
    assert_eq!(system_disk(&call, a).await["Status"], "In_use");
    let (status, code, _) = call
        .err(
            "StartInstances",
            &[REGION, ("InstanceId.1", a), ("DryRun", "true")],
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "DRYRUN.SUCCESS"));
    assert_eq!(
        instance(&call, a).await["Status"],
        "Stopped",
        "a dry run starts nothing"
    );
    call.ok("StartInstances", &[REGION, ("InstanceId.1", a)])
        .await;
    assert_eq!(instance(&call, a).await["Status"], "Starting");
    clock.advance(Duration::from_secs(60));
    let booted = instance(&call, a).await;
    assert_eq!(
        (
            &booted["Status"],
            &booted["ImageId"],
            &booted["StoppedMode"]
        ),
        (
            &"Running".into(),
            &NEW_IMAGE.into(),
            &"Not-applicable".into()
        )
    );
}

#[tokio::test]
async fn replace_system_disk_refuses_what_the_cloud_refuses() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let a = FLEET[0];
    call.ok("StopInstance", &[("InstanceId", a)]).await;
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let cases: [Case; 5] = [
        (&[("InstanceId", a)], 400, "MissingParameter"),
        (
            &[("InstanceId", a), ("ImageId", "m-nothing")],
            404,
            "InvalidImageId.NotFound",
        ),
        (
            &[
                ("InstanceId", a),
                ("ImageId", NEW_IMAGE),
                ("SystemDisk.Size", "10"),
            ],
            404,
            "InvalidSystemDiskSize.LessThanImageSize",
        ),
        (
            &[
                ("InstanceId", a),
                ("ImageId", NEW_IMAGE),
                ("Password", "Abcdefg1!"),
                ("PasswordInherit", "true"),
            ],
            400,
            "InvalidPasswordParam.Mismatch",
        ),
        (
            &[("InstanceId", "i-nothing"), ("ImageId", NEW_IMAGE)],
            404,
            "InvalidInstanceId.NotFound",
        ),
    ];
    for (params, want_status, want_code) in cases {
        let (status, code, _) = call.err("ReplaceSystemDisk", params).await;
        assert_eq!(
            (status, code.as_str()),
            (want_status, want_code),
            "{params:?}"
        );
    }
    sim.admin().lock_instance(a, Some("security")).unwrap();
    let (status, code, _) = call
        .err(
            "ReplaceSystemDisk",
            &[("InstanceId", a), ("ImageId", NEW_IMAGE)],
        )
        .await;
    assert_eq!((status, code.as_str()), (403, "InstanceLockedForSecurity"));
    let locks = instance(&call, a).await["OperationLocks"]["LockReason"].clone();
    assert_eq!(locks[0]["LockReason"], "security", "{locks}");
}

#[tokio::test]
async fn standby_and_protection_move_instances_and_freeze_their_health() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let [a, b] = FLEET;
    let all = call
        .ok(
            "DescribeScalingInstances",
            &[REGION, ("ScalingGroupId", GROUP)],
        )
        .await;
    assert_eq!(all["TotalCount"], reimage_sim::seed::DEMO_FLEET_SIZE);
    let first = &all["ScalingInstances"]["ScalingInstance"][0];
    assert_eq!(
        (
            &first["LifecycleState"],
            &first["HealthStatus"],
            &first["CreationType"],
            &first["LoadBalancerWeight"],
            &first["ScalingConfigurationId"]
        ),
        (
            &"InService".into(),
            &"Healthy".into(),
            &"AutoCreated".into(),
            &50.into(),
            &"asc-bp1demoweb0000001".into()
        )
    );

    let entered = call
        .ok(
            "EnterStandby",
            &[
                ("ScalingGroupId", GROUP),
                ("InstanceId.1", a),
                ("ClientToken", "t-1"),
            ],
        )
        .await;
    let activity = entered["ScalingActivityId"].as_str().unwrap().to_owned();
    let replay = call
        .ok(
            "EnterStandby",
            &[
                ("ScalingGroupId", GROUP),
                ("InstanceId.1", a),
                ("ClientToken", "t-1"),
            ],
        )
        .await;
    assert_eq!(replay["ScalingActivityId"], activity.as_str());
    let (status, code, _) = call
        .err(
            "EnterStandby",
            &[
                ("ScalingGroupId", GROUP),
                ("InstanceId.1", b),
                ("ClientToken", "t-1"),
            ],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "IdempotentParameterMismatch")
    );
    let standing = scaling_instance(&call, a).await;
    assert_eq!(
        (&standing["LifecycleState"], &standing["LoadBalancerWeight"]),
        (&"Standby".into(), &0.into())
    );
    // A stopped instance in Standby keeps the health it had: ESS stops checking it.
    call.ok("StopInstance", &[("InstanceId", a)]).await;
    assert_eq!(scaling_instance(&call, a).await["HealthStatus"], "Healthy");
    let group = call
        .ok(
            "DescribeScalingGroups",
            &[REGION, ("ScalingGroupId.1", GROUP)],
        )
        .await;
    let group = &group["ScalingGroups"]["ScalingGroup"][0];
    assert_eq!(
        (&group["StandbyCapacity"], &group["ActiveCapacity"]),
        (&1.into(), &(reimage_sim::seed::DEMO_FLEET_SIZE - 1).into())
    );

    call.ok(
        "ExitStandby",
        &[("ScalingGroupId", GROUP), ("InstanceId.1", a)],
    )
    .await;
    let back = scaling_instance(&call, a).await;
    assert_eq!(
        (
            &back["LifecycleState"],
            &back["LoadBalancerWeight"],
            &back["HealthStatus"]
        ),
        (&"InService".into(), &50.into(), &"Unhealthy".into()),
        "back in service at weight 50, and checked again"
    );

    call.ok(
        "SetInstancesProtection",
        &[
            ("ScalingGroupId", GROUP),
            ("InstanceId.1", b),
            ("ProtectedFromScaleIn", "true"),
        ],
    )
    .await;
    assert_eq!(
        scaling_instance(&call, b).await["LifecycleState"],
        "Protected"
    );
    let (status, code, _) = call
        .err(
            "EnterStandby",
            &[("ScalingGroupId", GROUP), ("InstanceId.1", b)],
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "IncorrectInstanceStatus"));
    let (status, code, _) = call
        .err(
            "EnterStandby",
            &[
                ("ScalingGroupId", GROUP),
                ("InstanceId.1", "i-bp1demoweb000000001"),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (404, "InvalidInstanceId.NotFound"));
    let standby = call
        .ok(
            "DescribeScalingInstances",
            &[
                REGION,
                ("ScalingGroupId", GROUP),
                ("LifecycleState", "Protected"),
            ],
        )
        .await;
    assert_eq!(standby["TotalCount"], 1);
}

#[tokio::test]
async fn suspended_processes_and_scaling_activities_show_on_the_group() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    call.ok(
        "SuspendProcesses",
        &[
            REGION,
            ("ScalingGroupId", GROUP),
            ("Process.1", "ScaleIn"),
            ("Process.2", "ScaleOut"),
            ("Process.3", "ScaleIn"),
        ],
    )
    .await;
    let suspended = |v: &Value| {
        v["ScalingGroups"]["ScalingGroup"][0]["SuspendedProcesses"]["SuspendedProcess"].clone()
    };
    let group = call
        .ok(
            "DescribeScalingGroups",
            &[REGION, ("ScalingGroupId.1", GROUP)],
        )
        .await;
    assert_eq!(
        suspended(&group),
        serde_json::json!(["ScaleIn", "ScaleOut"])
    );
    call.ok(
        "ResumeProcesses",
        &[REGION, ("ScalingGroupId", GROUP), ("Process.1", "ScaleIn")],
    )
    .await;
    let group = call
        .ok(
            "DescribeScalingGroups",
            &[REGION, ("ScalingGroupId.1", GROUP)],
        )
        .await;
    assert_eq!(suspended(&group), serde_json::json!(["ScaleOut"]));
    let (status, code, _) = call
        .err(
            "SuspendProcesses",
            &[
                REGION,
                ("ScalingGroupId", GROUP),
                ("Process.1", "Everything"),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "InvalidParameter"));

    let activity = sim.admin().start_scaling_activity(GROUP, 120).unwrap();
    let (status, code, _) = call
        .err(
            "EnterStandby",
            &[("ScalingGroupId", GROUP), ("InstanceId.1", FLEET[0])],
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "ScalingActivityInProgress"));
    let running = call
        .ok(
            "DescribeScalingActivities",
            &[
                REGION,
                ("ScalingGroupId", GROUP),
                ("StatusCode", "InProgress"),
            ],
        )
        .await;
    assert_eq!(
        running["ScalingActivities"]["ScalingActivity"][0]["ScalingActivityId"],
        activity.as_str()
    );
    clock.advance(Duration::from_secs(120));
    let done = call
        .ok(
            "DescribeScalingActivities",
            &[REGION, ("ScalingActivityId.1", &activity)],
        )
        .await;
    assert_eq!(
        done["ScalingActivities"]["ScalingActivity"][0]["StatusCode"],
        "Successful"
    );
    call.ok(
        "EnterStandby",
        &[("ScalingGroupId", GROUP), ("InstanceId.1", FLEET[0])],
    )
    .await;
    let (status, code, _) = call.err("DescribeScalingActivities", &[REGION]).await;
    assert_eq!((status, code.as_str()), (400, "MissingParameter"));
}

#[tokio::test]
async fn cloud_assistant_runs_on_running_instances_and_a_bad_image_exits_1() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let [good, bad] = FLEET;
    call.ok("StopInstance", &[("InstanceId", bad)]).await;
    call.ok(
        "ReplaceSystemDisk",
        &[("InstanceId", bad), ("ImageId", NEW_IMAGE)],
    )
    .await;
    call.ok("StartInstance", &[("InstanceId", bad)]).await;
    sim.admin().mark_image_bad(NEW_IMAGE).unwrap();
    let run = |token: &'static str| {
        [
            REGION,
            ("Type", "RunShellScript"),
            ("CommandContent", "systemctl is-active web"),
            ("InstanceId.1", good),
            ("InstanceId.2", bad),
            ("ClientToken", token),
        ]
    };
    let started = call.ok("RunCommand", &run("ready-1")).await;
    let invoke = started["InvokeId"].as_str().unwrap().to_owned();
    assert!(invoke.starts_with("t-") && started["CommandId"].as_str().unwrap().starts_with("c-"));
    let again = call.ok("RunCommand", &run("ready-1")).await;
    assert_eq!(
        again["InvokeId"],
        invoke.as_str(),
        "a replayed token is the same invocation"
    );

    let results = call
        .ok(
            "DescribeInvocationResults",
            &[
                REGION,
                ("InvokeId", &invoke),
                ("ContentEncoding", "PlainText"),
            ],
        )
        .await;
    let list = results["Invocation"]["InvocationResults"]["InvocationResult"]
        .as_array()
        .unwrap();
    let of = |id: &str| list.iter().find(|r| r["InstanceId"] == id).unwrap().clone();
    assert_eq!(
        (&of(good)["InvocationStatus"], &of(good)["ExitCode"]),
        (&"Success".into(), &0.into())
    );
    let failed = of(bad);
    assert_eq!(
        (
            &failed["InvocationStatus"],
            &failed["ExitCode"],
            &failed["ErrorCode"]
        ),
        (&"Failed".into(), &1.into(), &"ExitCodeNonzero".into())
    );
    assert!(
        failed["Output"]
            .as_str()
            .unwrap()
            .contains("readiness check failed")
    );
    let encoded = call
        .ok(
            "DescribeInvocationResults",
            &[REGION, ("InvokeId", &invoke), ("InstanceId", bad)],
        )
        .await;
    assert_eq!(
        encoded["Invocation"]["InvocationResults"]["InvocationResult"][0]["Output"],
        "cmVhZGluZXNzIGNoZWNrIGZhaWxlZDogdGhlIHNlcnZpY2UgZGlkIG5vdCBzdGFydAo=",
        "Base64 by default"
    );

    call.ok("StopInstance", &[("InstanceId", good)]).await;
    let (status, code, _) = call
        .err(
            "RunCommand",
            &[
                REGION,
                ("Type", "RunShellScript"),
                ("CommandContent", "true"),
                ("InstanceId.1", good),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (400, "InvalidInstance.NotMatch"));
    let (status, code, _) = call
        .err(
            "RunCommand",
            &[
                REGION,
                ("Type", "RunPython"),
                ("CommandContent", "true"),
                ("InstanceId.1", bad),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (403, "InvalidCmdType.NotFound"));
}
