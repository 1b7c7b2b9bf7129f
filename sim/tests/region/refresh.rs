//! Instance refresh (ESS 2022-02-22): instances replaced batch by batch, checkpoints,
//! suspend/resume, rollback, cancel, and the V3 (`ACS3-HMAC-SHA256`) signature the current
//! SDKs send.

use std::time::Duration;

use reimage_cloud::aliyun::sign::acs3;
use reimage_cloud::clock::Clock;
use reimage_sim::ecs::fleet::PowerTiming;
use serde_json::Value;

use crate::common::{Call, sim};

const REGION: (&str, &str) = ("RegionId", "cn-hangzhou");
const GROUP: &str = "asg-bp1demoweb0000001";
const CONFIG: &str = "asc-bp1demoweb0000001";
const NEW_IMAGE: &str = "aliyun_3_x64_20G_alibase_20240101.vhd";

async fn task(call: &Call<'_>, id: &str) -> Value {
    let found = call
        .ok(
            "DescribeInstanceRefreshes",
            &[
                REGION,
                ("ScalingGroupId", GROUP),
                ("InstanceRefreshTaskIds.1", id),
            ],
        )
        .await;
    assert_eq!(found["TotalCount"], 1, "{found}");
    found["InstanceRefreshTasks"][0].clone()
}

async fn members(call: &Call<'_>) -> Vec<(String, String)> {
    let found = call
        .ok(
            "DescribeScalingInstances",
            &[REGION, ("ScalingGroupId", GROUP)],
        )
        .await;
    found["ScalingInstances"]["ScalingInstance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["InstanceId"].as_str().unwrap().to_owned(),
                m["LifecycleState"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn images(sim: &reimage_sim::Sim, ids: &[(String, String)]) -> Vec<String> {
    ids.iter()
        .map(|(id, _)| sim.admin().instance(id).unwrap().image_id)
        .collect()
}

#[tokio::test]
async fn a_refresh_replaces_in_batches_pauses_at_checkpoints_and_updates_the_configuration() {
    let (sim, clock) = sim().await;
    sim.admin().set_power_timing(PowerTiming {
        boot: chrono::Duration::seconds(60),
        ..PowerTiming::default()
    });
    let call = Call::new(&sim, &clock);
    let before = members(&call).await;
    assert_eq!(before.len(), 6);
    let started = call
        .ok(
            "StartInstanceRefresh",
            &[
                REGION,
                ("ScalingGroupId", GROUP),
                ("DesiredConfiguration.ImageId", NEW_IMAGE),
                ("MinHealthyPercentage", "100"),
                ("MaxHealthyPercentage", "150"),
                ("Checkpoints.1.Percentage", "50"),
                ("Checkpoints.2.Percentage", "100"),
                ("CheckpointPauseTime", "10"),
                ("ClientToken", "refresh-1"),
            ],
        )
        .await;
    let id = started["InstanceRefreshTaskId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("ir-"), "{id}");
    let again = call
        .ok(
            "StartInstanceRefresh",
            &[
                REGION,
                ("ScalingGroupId", GROUP),
                ("DesiredConfiguration.ImageId", NEW_IMAGE),
                ("MinHealthyPercentage", "100"),
                ("MaxHealthyPercentage", "150"),
                ("Checkpoints.1.Percentage", "50"),
                ("Checkpoints.2.Percentage", "100"),
                ("CheckpointPauseTime", "10"),
                ("ClientToken", "refresh-1"),
            ],
        )
        .await;
    assert_eq!(
        again["InstanceRefreshTaskId"],
        id.as_str(),
        "the token's task"
    );
    let t = task(&call, &id).await;
    assert_eq!(
        (
            &t["Status"],
            &t["TotalNeedUpdateCapacity"],
            &t["FinishedUpdateCapacity"]
        ),
        (&"InProgress".into(), &6.into(), &0.into()),
        "{t}"
    );
    // MaxHealthyPercentage 150 of 6: three new instances at a time, pending while they boot.
    let during = members(&call).await;
    assert_eq!(
        during.iter().filter(|(_, s)| s == "Pending").count(),
        3,
        "{during:?}"
    );
    // A second refresh of the group is refused while this one runs.
    let (status, code, _) = call
        .err(
            "StartInstanceRefresh",
            &[
                REGION,
                ("ScalingGroupId", GROUP),
                ("DesiredConfiguration.ImageId", NEW_IMAGE),
            ],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "IncorrectScalingGroupStatus")
    );

    clock.advance(Duration::from_secs(61));
    let t = task(&call, &id).await;
    assert_eq!(
        (&t["Status"], &t["FinishedUpdateCapacity"]),
        (&"CheckpointPause".into(), &3.into()),
        "half done: the 50 % checkpoint; {t}"
    );
    let now = members(&call).await;
    assert_eq!(
        now.len(),
        6,
        "the replaced instances left the group: {now:?}"
    );
    for gone in &before[..3] {
        assert!(
            sim.admin().instance(&gone.0).is_none(),
            "{} released",
            gone.0
        );
    }
    // Resume early; the rest is replaced, and the configuration takes the image.
    call.ok(
        "ResumeInstanceRefresh",
        &[
            REGION,
            ("ScalingGroupId", GROUP),
            ("InstanceRefreshTaskId", &id),
        ],
    )
    .await;
    clock.advance(Duration::from_secs(61));
    let t = task(&call, &id).await;
    assert_eq!(t["Status"], "Successful", "{t}");
    assert_eq!(t["FinishedUpdateCapacity"], 6);
    let after = members(&call).await;
    assert!(after.iter().all(|(_, s)| s == "InService"), "{after:?}");
    assert!(images(&sim, &after).iter().all(|i| i == NEW_IMAGE));
    assert_eq!(
        sim.admin().scaling_configuration(CONFIG).unwrap().image_id,
        NEW_IMAGE
    );
    // The new instances are behind the group's load balancer.
    for (instance, _) in &after {
        assert_eq!(
            sim.admin()
                .backend_weight(reimage_sim::seed::DEMO_LOAD_BALANCER_ID, instance),
            Some(50),
            "{instance}"
        );
    }
    // Nothing left to refresh.
    let (status, code, _) = call
        .err(
            "StartInstanceRefresh",
            &[
                REGION,
                ("ScalingGroupId", GROUP),
                ("DesiredConfiguration.ImageId", NEW_IMAGE),
            ],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidInstance.NoInstanceNeedBeRefreshed")
    );
}

#[tokio::test]
async fn a_rollback_replaces_what_the_refresh_created_and_statuses_guard_each_change() {
    let (sim, clock) = sim().await;
    sim.admin().set_power_timing(PowerTiming {
        boot: chrono::Duration::seconds(60),
        ..PowerTiming::default()
    });
    let call = Call::new(&sim, &clock);
    let old_image = sim.admin().scaling_configuration(CONFIG).unwrap().image_id;
    let started = call
        .ok(
            "StartInstanceRefresh",
            &[
                REGION,
                ("ScalingGroupId", GROUP),
                ("DesiredConfiguration.ImageId", NEW_IMAGE),
                ("MinHealthyPercentage", "100"),
                ("MaxHealthyPercentage", "100"),
            ],
        )
        .await;
    let id = started["InstanceRefreshTaskId"]
        .as_str()
        .unwrap()
        .to_owned();
    let task_params = [
        REGION,
        ("ScalingGroupId", GROUP),
        ("InstanceRefreshTaskId", id.as_str()),
    ];
    clock.advance(Duration::from_secs(121));
    assert_eq!(
        task(&call, &id).await["FinishedUpdateCapacity"],
        2,
        "one at a time"
    );
    call.ok("SuspendInstanceRefresh", &task_params).await;
    let (status, code, _) = call.err("SuspendInstanceRefresh", &task_params).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "IncorrectInstanceRefreshTaskStatus")
    );
    call.ok("RollbackInstanceRefresh", &task_params).await;
    let t = task(&call, &id).await;
    assert_eq!(t["Status"], "RollbackInProgress", "{t}");
    let (_, code, _) = call.err("CancelInstanceRefresh", &task_params).await;
    assert_eq!(
        code, "IncorrectInstanceRefreshTaskStatus",
        "no cancel while rolling back"
    );
    clock.advance(Duration::from_secs(600));
    let t = task(&call, &id).await;
    assert_eq!(t["Status"], "RollbackSuccessful", "{t}");
    let after = members(&call).await;
    assert_eq!(after.len(), 6);
    assert!(
        images(&sim, &after).iter().all(|i| *i == old_image),
        "every instance on the configuration's image again"
    );
    assert_eq!(
        sim.admin().scaling_configuration(CONFIG).unwrap().image_id,
        old_image,
        "the configuration never took the image"
    );
    let (status, code, _) = call
        .err(
            "ResumeInstanceRefresh",
            &[
                REGION,
                ("ScalingGroupId", GROUP),
                ("InstanceRefreshTaskId", "ir-none"),
            ],
        )
        .await;
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidInstanceRefreshTaskId.NotFound")
    );
    let (status, code, _) = call.err("DescribeInstanceRefreshes", &[REGION]).await;
    assert_eq!((status, code.as_str()), (400, "MissingParameter"));
}

/// A V3 request: parameters in the query, action and version in signed headers.
async fn send_v3(
    sim: &reimage_sim::Sim,
    clock: &dyn Clock,
    query: &[(&str, &str)],
    tamper: bool,
) -> (u16, Value) {
    let endpoint = sim.endpoint();
    let host = endpoint.trim_start_matches("http://");
    let date = clock.now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let nonce = format!("{:032x}", rand_nonce());
    let payload = acs3::hex_sha256(b"");
    let headers = [
        ("host", host),
        ("x-acs-action", "DescribeInstanceRefreshes"),
        ("x-acs-version", "2022-02-22"),
        ("x-acs-date", date.as_str()),
        ("x-acs-signature-nonce", nonce.as_str()),
        ("x-acs-content-sha256", payload.as_str()),
        ("accept", "application/json"),
    ];
    let (canonical_headers, signed) = acs3::canonical_headers(headers);
    let canonical = acs3::canonical_request(
        "POST",
        "/",
        &acs3::canonical_query(query.iter().copied()),
        &canonical_headers,
        &signed,
        &payload,
    );
    let mut signature = acs3::signature(sim.access_key_secret(), &acs3::string_to_sign(&canonical));
    if tamper {
        signature.replace_range(0..1, if signature.starts_with('0') { "1" } else { "0" });
    }
    let url = format!(
        "{endpoint}/?{}",
        query
            .iter()
            .map(|(k, v)| format!(
                "{k}={}",
                acs3::canonical_query([("x", *v)]).trim_start_matches("x=")
            ))
            .collect::<Vec<_>>()
            .join("&")
    );
    let mut request = reqwest::Client::new().post(url);
    for (name, value) in headers.iter().filter(|(n, _)| *n != "host") {
        request = request.header(*name, *value);
    }
    let response = request
        .header(
            "authorization",
            acs3::authorization(sim.access_key_id(), &signed, &signature),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn rand_nonce() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    u128::from(N.fetch_add(1, Ordering::Relaxed)) << 64 | u128::from(std::process::id())
}

#[tokio::test]
async fn v3_signed_requests_are_checked_like_v1_ones() {
    let (sim, clock) = sim().await;
    let query = [("RegionId", "cn-hangzhou"), ("ScalingGroupId", GROUP)];
    let (status, body) = send_v3(&sim, &clock, &query, false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["TotalCount"], 0, "{body}");
    let (status, body) = send_v3(&sim, &clock, &query, true).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("SignatureDoesNotMatch")),
        "{body}"
    );
}
