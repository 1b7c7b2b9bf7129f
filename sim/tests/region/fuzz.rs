//! Whatever arrives, the RPC front answers a well-formed cloud error and never panics.
//!
//! Requests go straight through the router (`tower::ServiceExt::oneshot`, no sockets):
//! mangled query strings (broken percent-escapes, bytes that are not UTF-8, duplicate and
//! empty names), arbitrary form bodies, huge values; and properly signed requests for every
//! action with random parameter values.

use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use proptest::prelude::*;
use reimage_cloud::aliyun::sign::rpc;
use reimage_cloud::clock::{Clock, ManualClock};
use reimage_sim::{Seed, SimState, server};
use tower::ServiceExt as _;

fn fresh() -> (axum::Router, ManualClock) {
    let clock = ManualClock::new(crate::common::t0());
    let state = SimState::new(&Seed::demo(), Arc::new(clock.clone()), 10);
    (server::router(Arc::new(state)), clock)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

async fn answer(router: axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let resp = router.oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

fn assert_cloud_error(status: StatusCode, body: &serde_json::Value) {
    assert!(status.is_client_error(), "{status} {body}");
    for field in ["Code", "Message", "RequestId", "HostId"] {
        assert!(
            body[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field} missing: {body}"
        );
    }
}

/// Pieces of a query string, valid in a URI but otherwise anything.
fn query_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._~-]{0,12}",
        Just("&".to_owned()),
        Just("=".to_owned()),
        Just("+".to_owned()),
        Just("%".to_owned()),
        Just("%F".to_owned()),
        Just("%zz".to_owned()),
        "%[0-9A-Fa-f]{2}",
        Just("%FF%FE".to_owned()),
        Just("%C3%28".to_owned()),
        Just("Action".to_owned()),
        Just("Version=2014-05-26".to_owned()),
        Just("Version=2015-04-01".to_owned()),
        Just("Signature=x".to_owned()),
        Just("Timestamp=2026-03-01T09%3A00%3A00Z".to_owned()),
        Just("AccessKeyId=LTAI5tSimDemoKey0000001".to_owned()),
        Just("RegionId=cn-hangzhou".to_owned()),
    ]
}

fn action() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("DescribeImages".to_owned()),
        Just("CreateImage".to_owned()),
        Just("AssumeRole".to_owned()),
        Just("ModifyScalingConfiguration".to_owned()),
        "[A-Za-z%0-9]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn mangled_get_queries_get_a_cloud_error(
        action in action(),
        pieces in proptest::collection::vec(query_piece(), 0..24),
    ) {
        let query = format!("Action={action}&{}", pieces.concat());
        let req = Request::get(format!("/?{query}")).body(Body::empty()).unwrap();
        let (router, _) = fresh();
        let (status, body) = block_on(answer(router, req));
        assert_cloud_error(status, &body);
    }

    #[test]
    fn arbitrary_form_bodies_get_a_cloud_error(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        action_in_query in any::<bool>(),
    ) {
        let uri = if action_in_query { "/?Action=DescribeImages" } else { "/" };
        let mut bytes = if action_in_query { Vec::new() } else { b"Action=CreateImage&".to_vec() };
        bytes.extend(body);
        let req = Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(bytes))
            .unwrap();
        let (router, _) = fresh();
        let (status, body) = block_on(answer(router, req));
        assert_cloud_error(status, &body);
    }

    #[test]
    fn signed_requests_with_random_values_succeed_or_fail_cleanly(
        action in prop_oneof![
            Just("DescribeInstances"), Just("DescribeDisks"), Just("CreateSnapshot"),
            Just("DescribeSnapshots"), Just("DeleteSnapshot"), Just("CreateImage"),
            Just("DescribeImages"), Just("DeleteImage"), Just("StopInstance"), Just("StartInstance"),
            Just("DescribeScalingGroups"), Just("DescribeScalingConfigurations"),
            Just("ModifyScalingConfiguration"), Just("AssumeRole"),
        ],
        params in proptest::collection::vec(
            (
                prop_oneof![
                    Just("RegionId"), Just("InstanceId"), Just("InstanceIds"), Just("DiskId"),
                    Just("DiskIds"), Just("SnapshotId"), Just("SnapshotIds"), Just("ImageId"),
                    Just("ImageName"), Just("Status"), Just("PageSize"), Just("PageNumber"),
                    Just("ClientToken"), Just("Tag.1.Key"), Just("Tag.21.Key"), Just("Description"),
                    Just("DiskDeviceMapping.1.SnapshotId"), Just("DiskDeviceMapping.1.DiskType"),
                    Just("ScalingConfigurationId"), Just("ScalingConfigurationId.1"),
                    Just("ScalingConfigurationId.11"), Just("ScalingGroupId"), Just("GroupType"),
                    Just("RoleArn"), Just("RoleSessionName"), Just("DurationSeconds"), Just("Policy"),
                    Just("ImageOwnerAlias"), Just("Force"), Just("DiskType"), Just("RetentionDays"),
                ],
                prop_oneof![
                    Just("cn-hangzhou".to_owned()),
                    Just("i-bp1demoweb000000001".to_owned()),
                    Just("[\"i-bp1demoweb000000001\"]".to_owned()),
                    Just("d-bp1demowebsys000001".to_owned()),
                    Just("asc-bp1demoweb0000001".to_owned()),
                    Just("acs:ram::1234567890123456:role/reimage-updater".to_owned()),
                    Just("-1".to_owned()),
                    Just("99999999999999999999".to_owned()),
                    Just("[1,2]".to_owned()),
                    "\\PC{0,40}",
                    "[a-z]{1,3}",
                ],
            ),
            0..8,
        ),
        post in any::<bool>(),
    ) {
        let (router, clock) = fresh();
        let mut all: Vec<(String, String)> = vec![
            ("Action".into(), action.into()),
            ("Version".into(), crate::common::version_of(action).into()),
            ("Format".into(), "JSON".into()),
            ("AccessKeyId".into(), "LTAI5tSimDemoKey0000001".into()),
            ("SignatureMethod".into(), "HMAC-SHA1".into()),
            ("SignatureVersion".into(), "1.0".into()),
            ("SignatureNonce".into(), "fuzz-nonce".into()),
            ("Timestamp".into(), clock.now().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        ];
        for (k, v) in params {
            if !all.iter().any(|(name, _)| name == k) {
                all.push((k.to_owned(), v));
            }
        }
        let method = if post { "POST" } else { "GET" };
        let sig = rpc::sign(method, all.iter().map(|(k, v)| (k.as_str(), v.as_str())), "simDemoSecret0000000000000001");
        all.push(("Signature".into(), sig));
        let encoded = crate::common::encode(&all);
        let req = if post {
            Request::post("/")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(encoded))
                .unwrap()
        } else {
            Request::get(format!("/?{encoded}")).body(Body::empty()).unwrap()
        };
        let (status, body) = block_on(answer(router, req));
        if status == StatusCode::OK {
            prop_assert!(body["RequestId"].is_string(), "{}", body);
        } else {
            assert_cloud_error(status, &body);
            prop_assert!(body["Code"] != "SignatureDoesNotMatch", "the fuzzer signs correctly: {}", body);
        }
    }
}

#[test]
fn huge_values_and_bodies_are_refused_by_name() {
    let big = "a".repeat(100 * 1024);
    let req = Request::post("/?Action=DescribeImages")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("ImageName={big}")))
        .unwrap();
    let (router, _) = fresh();
    let (status, body) = block_on(answer(router, req));
    assert_cloud_error(status, &body);
    assert!(
        body["Message"].as_str().unwrap().contains("ImageName"),
        "{body}"
    );

    let huge = vec![b'a'; server::MAX_FORM_BODY + 1];
    let req = Request::post("/?Action=DescribeImages")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(huge))
        .unwrap();
    let (status, body) = block_on(answer(fresh().0, req));
    assert_cloud_error(status, &body);
    assert!(
        body["Message"].as_str().unwrap().contains("larger than"),
        "{body}"
    );
}

#[test]
fn non_utf8_values_are_refused_by_name() {
    let req = Request::get("/?Action=DescribeImages&ImageName=%FF%FE")
        .body(Body::empty())
        .unwrap();
    let (router, _) = fresh();
    let (status, body) = block_on(answer(router, req));
    assert_cloud_error(status, &body);
    assert_eq!(body["Code"], "InvalidParameter");
    assert!(
        body["Message"].as_str().unwrap().contains("ImageName"),
        "{body}"
    );
}

#[test]
fn admin_refuses_peers_it_cannot_see_as_loopback() {
    // Through the router without a socket there is no peer address: refused.
    let req = Request::get("/__sim/state").body(Body::empty()).unwrap();
    let (router, _) = fresh();
    let (status, body) = block_on(answer(router, req));
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["Code"], "Forbidden");
}
