//! The dry run against the in-memory fake cloud; against `sim` in shared/tests/pipeline.rs.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;

use super::*;
use crate::clock::{Clock, ManualClock, SharedClock};
use crate::dispatch::local::LocalDispatcher;
use crate::ids::SequentialIds;
use crate::model::State;
use crate::steps::cloud::{CloudError, SharedCloud};
use crate::steps::testing::FakeCloud;
use crate::steps::{Engine, SameCloud};
use crate::store::memory::MemoryStore;

fn clock() -> ManualClock {
    ManualClock::new(Utc.with_ymd_and_hms(2026, 5, 6, 7, 8, 9).unwrap())
}

fn request(instance: &str, configs: &[&str]) -> UpdateRequest {
    UpdateRequest {
        allow_default_version_change: false,
        scaling_group_ids: Vec::new(),
        instance_id: instance.into(),
        image_name: None,
        configuration_ids: configs.iter().map(|c| (*c).to_owned()).collect(),
        permission: PermissionSource::Account,
        task_id: None,
        rollout: None,
        allow_platform_change: false,
    }
}

fn id() -> ExecutionId {
    ExecutionId::derived("dry-run")
}

/// A dry run of `request` on `fake`.
async fn dry(fake: &Arc<FakeCloud>, request: &UpdateRequest) -> DryRunReport {
    let cloud: SharedCloud = fake.clone();
    check(&SameCloud(cloud), request, id(), clock().now()).await
}

/// Consecutive repeats as one: what is left is the order of the calls.
fn runs(calls: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for call in calls {
        if out.last() != Some(&call) {
            out.push(call);
        }
    }
    out
}

#[tokio::test]
async fn the_planned_calls_are_the_calls_a_real_run_makes() {
    let clock = clock();
    let shared: SharedClock = Arc::new(clock.clone());
    let fake = FakeCloud::demo(shared.clone(), Duration::from_secs(600));
    let local = Arc::new(LocalDispatcher::new(shared.clone()));
    let engine = Engine::new(
        Arc::new(MemoryStore::new()),
        shared,
        Arc::new(SequentialIds::new("plan")),
        local.clone(),
        Arc::new(SameCloud(fake.clone())),
    );
    let request = request("i-running", &["asc-active", "asc-inactive"]);
    let planned = dry(&fake, &request).await;
    assert!(planned.would_run, "{planned:#?}");
    fake.state().calls.clear();

    let first = engine.start_new(request).await.expect("started");
    local.run_until_idle(&engine).await;
    let last = engine.get(&first.execution_id).await.unwrap().unwrap();
    assert_eq!(last.state, State::Succeeded, "{last:#?}");

    let made = fake.state().calls.clone();
    let expanded = planned.calls.iter().flat_map(|c| {
        let times = if c.repeated { 1 } else { c.count };
        std::iter::repeat_n(c.action.clone(), times)
    });
    assert_eq!(runs(made.clone()), runs(expanded), "made: {made:?}");
    // Each call that is not polled is made exactly as often as planned.
    for call in planned.calls.iter().filter(|c| !c.repeated) {
        if planned
            .calls
            .iter()
            .any(|o| o.repeated && o.action == call.action)
        {
            continue;
        }
        let planned_times: usize = planned
            .calls
            .iter()
            .filter(|o| o.action == call.action)
            .map(|o| o.count)
            .sum();
        assert_eq!(
            made.iter().filter(|m| **m == call.action).count(),
            planned_times,
            "{}: {made:?}",
            call.action
        );
    }
}

#[tokio::test]
async fn a_good_update_is_planned_with_reads_only() {
    let fake = FakeCloud::demo(Arc::new(clock()), Duration::from_secs(600));
    let report = dry(
        &fake,
        &request("i-running", &["asc-active", "asc-inactive"]),
    )
    .await;
    assert!(report.would_run, "{report:#?}");
    assert!(report.problems.is_empty());
    assert_eq!(
        report.image_name.as_deref(),
        Some(format!("UpdateImage_from_i-running_on_{}", id()).as_str())
    );
    assert_eq!(report.instance_status.as_deref(), Some("Running"));
    assert_eq!(report.system_disk_id.as_deref(), Some("d-i-running"));
    assert_eq!(
        report.caller.as_ref().map(|c| c.arn.as_str()),
        Some("acs:ram::1234567890:user/reimage")
    );
    let changes: Vec<(&str, Option<&str>, &str)> = report
        .configurations
        .iter()
        .map(|c| {
            (
                c.configuration_id.as_str(),
                c.previous_image_id.as_deref(),
                c.image_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("asc-active", Some("m-base"), NEW_IMAGE),
            ("asc-inactive", Some("m-base"), NEW_IMAGE)
        ]
    );
    assert_eq!(
        report.calls,
        planned_calls(Shape {
            configurations: 2,
            groups: 1,
            current_images: 1,
            ..Shape::default()
        })
    );
    let state = fake.state();
    assert!(
        state
            .calls
            .iter()
            .all(|c| c.starts_with("Describe") || c == "GetCallerIdentity"),
        "{:?}",
        state.calls
    );
    assert_eq!(state.calls[0], "GetCallerIdentity");
    assert_eq!(state.images_created(), 0);
    assert_eq!(state.snapshots_created(), 0);
    assert!(state.modifications.is_empty());
    drop(state);

    let text = report.to_text();
    assert!(
        text.starts_with("dry run of an image update: would run"),
        "{text}"
    );
    assert!(
        text.contains("  asc-active (asg-ecs, Active)  m-base → (new image)"),
        "{text}"
    );
    assert!(
        text.contains(
            "  create-image  DescribeInstances, DescribeScalingConfigurations, \
             DescribeScalingGroups, DescribeDisks, CreateSnapshot, DescribeSnapshots…, CreateImage"
        ),
        "{text}"
    );
    assert!(
        text.contains("DescribeImages × 2, ModifyScalingConfiguration × 2"),
        "{text}"
    );
    assert!(!text.contains("problems"), "{text}");
}

#[tokio::test]
async fn every_problem_is_named_not_only_the_first() {
    let fake = FakeCloud::demo(Arc::new(clock()), Duration::from_secs(600));
    // The image the configurations hold is gone: the pre-flight has nothing to check with.
    fake.state().images.remove("m-base");
    // An illegal name is named, and the rest is checked all the same.
    let report = dry(
        &fake,
        &UpdateRequest {
            image_name: Some("web base".into()),
            ..request("i-starting", &["asc-active", "asc-eci", "asc-missing"])
        },
    )
    .await;
    assert!(!report.would_run);
    assert_eq!(report.image_name, None);
    let problems = &report.problems;
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(
        problems[0].starts_with("image name \"web base\" is not legal in ECS"),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with("instance i-starting is Starting"),
        "{problems:#?}"
    );
    assert!(
        problems[2].starts_with(
            "scaling configuration asc-eci belongs to scaling group asg-eci of type ECI"
        ),
        "{problems:#?}"
    );
    assert_eq!(
        problems[3],
        "scaling configuration asc-missing does not exist"
    );
    assert_eq!(problems[4], "pre-flight: image m-base no longer exists");
    assert_eq!(report.configurations[1].previous_image_id, None);
    assert_eq!(
        report.configurations[1].scaling_group_id.as_deref(),
        Some("asg-eci")
    );
    assert_eq!(report.configurations[2].scaling_group_id, None);
    let text = report.to_text();
    assert!(text.contains("would NOT run: 5 problems"), "{text}");
    assert!(
        text.contains("image name      (none: see the problems)"),
        "{text}"
    );
    assert!(
        text.contains("  - scaling configuration asc-missing does not exist"),
        "{text}"
    );
    assert_eq!(fake.state().snapshots_created(), 0);
}

#[tokio::test]
async fn a_request_refused_before_any_call_asks_the_cloud_nothing() {
    let fake = FakeCloud::demo(Arc::new(clock()), Duration::from_secs(600));
    let report = dry(
        &fake,
        &UpdateRequest {
            image_name: Some("9lives".into()),
            permission: PermissionSource::RamRole {
                role_arn: "arn:aws:iam::1:role/x".into(),
            },
            ..request("web-1", &["asc-active", "nope", "asc-active"])
        },
    )
    .await;
    assert!(!report.would_run);
    let problems = &report.problems;
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(problems[0].contains("\"web-1\" is not an ECS instance id"));
    assert!(problems[1].contains("\"nope\" is not a scaling configuration id"));
    assert_eq!(
        problems[2],
        "scaling configuration asc-active is given twice"
    );
    assert!(problems[3].contains("is not a RAM role ARN"));
    assert!(problems[4].contains("\"9lives\""), "{}", problems[4]);
    assert!(report.calls.is_empty());
    assert!(fake.state().calls.is_empty(), "{:?}", fake.state().calls);
}

#[tokio::test]
async fn credentials_that_do_not_work_are_named_and_stop_the_checks() {
    let fake = FakeCloud::demo(Arc::new(clock()), Duration::from_secs(600));
    fake.fail(
        "GetCallerIdentity",
        CloudError::client(
            "GetCallerIdentity",
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ),
        1,
    );
    let report = dry(&fake, &request("i-running", &["asc-active"])).await;
    assert!(!report.would_run);
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
    assert!(
        report.problems[0].starts_with(
            "permissions: no call can be made with the account's own credentials: \
             GetCallerIdentity failed: InvalidAccessKeyId.NotFound"
        ),
        "{}",
        report.problems[0]
    );
    assert_eq!(fake.state().calls, ["GetCallerIdentity"]);

    // A cloud that cannot tell who it is: said, and the reads go on.
    let fake = FakeCloud::demo(Arc::new(clock()), Duration::from_secs(600));
    fake.state().caller = None;
    let report = dry(&fake, &request("i-running", &["asc-active"])).await;
    assert!(report.would_run, "{report:#?}");
    assert!(
        report.notes.iter().any(|n| n.contains("GetCallerIdentity")),
        "{:#?}",
        report.notes
    );
}

#[derive(Debug)]
struct NoRole;

impl CloudProvider for NoRole {
    fn cloud(&self, _: &PermissionSource) -> Result<SharedCloud, CloudError> {
        Err(CloudError::client(
            "AssumeRole",
            "NoCredentials",
            "no credentials to assume the role with",
        ))
    }
}

#[tokio::test]
async fn a_role_that_cannot_be_had_is_named() {
    let request = UpdateRequest {
        permission: PermissionSource::RamRole {
            role_arn: "acs:ram::1234567890:role/reimage".into(),
        },
        ..request("i-running", &["asc-active"])
    };
    let report = check(&NoRole, &request, id(), clock().now()).await;
    assert!(!report.would_run);
    assert_eq!(
        report.problems,
        [
            "permissions: no cloud client for RAM role acs:ram::1234567890:role/reimage: \
          AssumeRole failed: NoCredentials: no credentials to assume the role with"
        ]
    );
}

#[test]
fn a_planned_call_reads_as_the_report_shows_it() {
    let once = PlannedCall::new(Step::CreateImage, "CreateImage", 1);
    let twice = PlannedCall::new(Step::SwapConfig, "ModifyScalingConfiguration", 2);
    let polled = PlannedCall::polled(Step::WaitImage, "DescribeImages");
    assert_eq!(once.to_string(), "CreateImage");
    assert_eq!(twice.to_string(), "ModifyScalingConfiguration × 2");
    assert_eq!(polled.to_string(), "DescribeImages…");
    let json = serde_json::to_value(&polled).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"step": "wait-image", "action": "DescribeImages", "count": 1, "repeated": true})
    );
    // Eleven configurations in three groups on two images launching two types, ten of them
    // (in two groups) asked about in ten distinct launches.
    let calls = planned_calls(Shape {
        configurations: 11,
        groups: 3,
        current_images: 2,
        instance_types: 2,
        launches: 10,
        launch_groups: 2,
    });
    let line: Vec<String> = calls.iter().map(ToString::to_string).collect();
    assert_eq!(
        line,
        [
            "DescribeInstances",
            "DescribeScalingConfigurations × 2",
            "DescribeScalingGroups",
            "DescribeDisks",
            "CreateSnapshot",
            "DescribeSnapshots…",
            "CreateImage",
            "DescribeImages…",
            "DescribeScalingConfigurations × 2",
            "DescribeImages × 3",
            "DescribeImageSupportInstanceTypes",
            "DescribeInstanceTypes",
            "DescribeScalingGroups",
            "RunInstances (DryRun) × 10",
            "ModifyScalingConfiguration × 11",
            "DescribeScalingConfigurations × 2",
            "DescribeImages",
        ]
    );
}
