//! The admin interface: faults, call counts, HTTP admin, routing of other fronts.

use crate::common::{Call, sim};

#[tokio::test]
async fn injected_faults_fail_the_next_calls_and_calls_are_counted() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let admin = sim.admin();
    admin
        .fail_next("DescribeImages", "ServiceUnavailable", 503, 2)
        .unwrap();
    for _ in 0..2 {
        let (status, code, _) = call
            .err("DescribeImages", &[("RegionId", "cn-hangzhou")])
            .await;
        assert_eq!((status, code.as_str()), (503, "ServiceUnavailable"));
    }
    call.ok("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    call.ok("DescribeInstances", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!(admin.calls_since_reset("DescribeImages"), 3);
    assert_eq!(admin.calls_since_reset("DescribeInstances"), 1);
    admin.reset_calls();
    assert_eq!(admin.calls_since_reset("DescribeImages"), 0);
    assert_eq!(admin.calls().total["DescribeImages"], 3);

    admin.throttle(0.5, Some("DescribeImages")).unwrap();
    let mut throttled = 0;
    for _ in 0..4 {
        let (status, body) = call
            .send("DescribeImages", &[("RegionId", "cn-hangzhou")])
            .await;
        if body["Code"] == "Throttling" {
            assert_eq!(status, 400);
            throttled += 1;
        }
    }
    assert_eq!(throttled, 2);
    admin.clear_faults();
    call.ok("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    assert!(admin.throttle(1.5, None).is_err());
}

#[tokio::test]
async fn http_admin_reads_state_and_changes_resources() {
    let (sim, _clock) = sim().await;
    let client = reqwest::Client::new();
    let state: serde_json::Value = client
        .get(format!("{}/__sim/state", sim.endpoint()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        state["instances"].as_array().unwrap().len(),
        3 + reimage_sim::seed::DEMO_FLEET_SIZE
    );
    let resp = client
        .post(format!(
            "{}/__sim/instances/i-bp1demoweb000000001/stop",
            sim.endpoint()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        sim.admin()
            .instance("i-bp1demoweb000000001")
            .unwrap()
            .status,
        "Stopped"
    );
    let resp = client
        .post(format!("{}/__sim/instances/i-nope/release", sim.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = client
        .post(format!("{}/__sim/faults", sim.endpoint()))
        .body(r#"{"action":"CreateImage","code":"InternalError","status":500,"count":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client
        .post(format!("{}/__sim/faults", sim.endpoint()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let calls: serde_json::Value = client
        .get(format!("{}/__sim/calls", sim.endpoint()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(calls["total"].is_object());
}

#[tokio::test]
async fn fc_and_oss_paths_reach_their_fronts() {
    let (sim, _clock) = sim().await;
    let fc = reqwest::get(format!(
        "{}/2016-08-15/services/s/functions/f/invocations",
        sim.endpoint()
    ))
    .await
    .unwrap();
    // The FC front answers in FC's own error format: InvokeFunction takes POST.
    assert_eq!(fc.status(), 405);
    let body: serde_json::Value = fc.json().await.unwrap();
    assert_eq!(body["ErrorCode"], "MethodNotAllowed");
    // The OSS front refuses an unsigned request in OSS's XML.
    let oss = reqwest::get(format!("{}/bucket/key", sim.endpoint()))
        .await
        .unwrap();
    assert_eq!(oss.status(), 403);
    assert!(
        oss.text()
            .await
            .unwrap()
            .contains("<Code>AccessDenied</Code>")
    );
}

#[tokio::test]
async fn added_latency_delays_only_the_chosen_action() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    sim.admin().latency(300, Some("DescribeImages"));
    let started = std::time::Instant::now();
    call.ok("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    sim.admin().latency(0, None);
    assert_eq!(sim.admin().calls_since_reset("DescribeImages"), 1);
}

#[tokio::test]
async fn debug_output_of_the_sim_hides_its_secret() {
    let (sim, _clock) = sim().await;
    let shown = format!("{sim:?} {:?}", sim.state());
    assert!(shown.contains(sim.access_key_id()), "{shown}");
    assert!(!shown.contains(sim.access_key_secret()), "{shown}");
}

#[tokio::test]
async fn a_released_instance_and_its_disks_are_gone() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    sim.admin()
        .release_instance("i-bp1demobatch0000001")
        .unwrap();
    let (status, code, _) = call
        .err(
            "CreateImage",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-bp1demobatch0000001"),
            ],
        )
        .await;
    assert_eq!((status, code.as_str()), (404, "InvalidInstanceId.NotFound"));
    let disks = call
        .ok(
            "DescribeDisks",
            &[
                ("RegionId", "cn-hangzhou"),
                ("DiskIds", "[\"d-bp1demobatsys000001\"]"),
            ],
        )
        .await;
    assert_eq!(disks["TotalCount"], 0);
}

#[tokio::test]
async fn a_given_creating_image_can_be_made_to_fail() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let created = call
        .ok(
            "CreateImage",
            &[
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-bp1demoweb000000001"),
            ],
        )
        .await;
    let id = created["ImageId"].as_str().unwrap();
    sim.admin().fail_image(id).unwrap();
    clock.advance(std::time::Duration::from_secs(100));
    assert_eq!(sim.admin().image(id).unwrap().status, "CreateFailed");
    // Only a Creating image can be made to fail.
    let err = sim.admin().fail_image(id).unwrap_err();
    assert_eq!(err.code, "IncorrectImageStatus");
}
