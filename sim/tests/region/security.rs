//! Signatures, timestamps, nonces, unknown keys, actions and versions.

use std::time::Duration;

use reimage_cloud::clock::Clock;

use crate::common::{Call, Creds, send_raw, sim};

#[tokio::test]
async fn get_and_post_are_both_verified_with_their_own_method() {
    let (sim, clock) = sim().await;
    let mut call = Call::new(&sim, &clock);
    call.ok("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    call.post = true;
    call.ok("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    // A POST signature sent as GET does not match.
    let signed = call.signed("DescribeImages", &[("RegionId", "cn-hangzhou")]);
    let (status, body) = send_raw(sim.endpoint(), false, &signed).await;
    assert_eq!(status, 400);
    assert_eq!(body["Code"], "SignatureDoesNotMatch");
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .contains("server string to sign is:GET&%2F&"),
        "{body}"
    );
}

#[tokio::test]
async fn a_wrong_secret_does_not_match() {
    let (sim, clock) = sim().await;
    let mut call = Call::new(&sim, &clock);
    call.creds.secret = "not-the-secret".into();
    let (status, code, msg) = call
        .err("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!((status, code.as_str()), (400, "SignatureDoesNotMatch"));
    assert!(msg.contains("AccessKeyId%3D"), "{msg}");
    assert!(!msg.contains(sim.access_key_secret()));
}

#[tokio::test]
async fn a_tampered_parameter_does_not_match() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let mut signed = call.signed(
        "DescribeImages",
        &[("RegionId", "cn-hangzhou"), ("PageSize", "10")],
    );
    for pair in &mut signed {
        if pair.0 == "PageSize" {
            pair.1 = "11".into();
        }
    }
    let (_, body) = send_raw(sim.endpoint(), false, &signed).await;
    assert_eq!(body["Code"], "SignatureDoesNotMatch");
}

#[tokio::test]
async fn unknown_access_key_is_not_found() {
    let (sim, clock) = sim().await;
    let mut call = Call::new(&sim, &clock);
    call.creds = Creds {
        id: "LTAInope".into(),
        secret: "x".into(),
        token: None,
    };
    let (status, code, _) = call
        .err("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidAccessKeyId.NotFound")
    );
}

#[tokio::test]
async fn timestamps_must_be_well_formed_and_within_fifteen_minutes() {
    let (sim, clock) = sim().await;
    let mut call = Call::new(&sim, &clock);
    let at = |d: chrono::Duration| (clock.now() + d).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    call.timestamp = Some(at(chrono::Duration::minutes(-14)));
    call.ok("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    call.timestamp = Some(at(chrono::Duration::minutes(16)));
    let (status, code, _) = call
        .err("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!((status, code.as_str()), (400, "InvalidTimeStamp.Expired"));
    call.timestamp = Some(at(chrono::Duration::minutes(-16)));
    let (_, code, _) = call
        .err("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!(code, "InvalidTimeStamp.Expired");
    call.timestamp = Some("2026/03/01 09:00:00".into());
    let (status, code, _) = call
        .err("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!((status, code.as_str()), (400, "InvalidTimeStamp.Format"));
}

#[tokio::test]
async fn admin_clock_advance_moves_resources_but_not_the_timestamp_window() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    sim.admin().advance(Duration::from_secs(3600));
    // Requests stamped with the underlying clock still pass.
    call.ok("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!(sim.admin().now(), clock.now() + chrono::Duration::hours(1));
}

#[tokio::test]
async fn a_reused_nonce_is_refused() {
    let (sim, clock) = sim().await;
    let mut call = Call::new(&sim, &clock);
    call.nonce = Some("same-nonce".into());
    call.ok("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    let (status, code, _) = call
        .err("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!((status, code.as_str()), (400, "SignatureNonceUsed"));
}

#[tokio::test]
async fn unknown_actions_versions_and_missing_common_parameters() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let (status, code, _) = call
        .err("DeleteInstance", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!((status, code.as_str()), (404, "InvalidAction.NotFound"));
    // An ESS action under the ECS version is unknown too.
    let (status, code, _) = call
        .err(
            "DescribeScalingGroups",
            &[("RegionId", "cn-hangzhou"), ("Version", "2014-05-26")],
        )
        .await;
    assert_eq!((status, code.as_str()), (404, "InvalidAction.NotFound"));
    let (status, code, _) = call
        .err("DescribeImages", &[("Version", "2099-01-01")])
        .await;
    assert_eq!((status, code.as_str()), (400, "NoSuchVersion"));
    let mut signed = call.signed("DescribeImages", &[("RegionId", "cn-hangzhou")]);
    signed.retain(|(k, _)| k != "SignatureNonce");
    let (status, body) = send_raw(sim.endpoint(), false, &signed).await;
    assert_eq!(status, 400);
    assert_eq!(body["Code"], "MissingParameter");
    assert!(body["Message"].as_str().unwrap().contains("SignatureNonce"));
}

#[tokio::test]
async fn xml_is_answered_when_asked_for() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let signed = call.signed(
        "DescribeImages",
        &[("RegionId", "cn-hangzhou"), ("Format", "XML")],
    );
    let url = format!("{}/?{}", sim.endpoint(), crate::common::encode(&signed));
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    assert!(text.contains("<DescribeImagesResponse>"), "{text}");
    assert!(text.contains("<Images><Image>"), "{text}");
}
