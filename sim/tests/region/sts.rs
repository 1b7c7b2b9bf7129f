//! STS AssumeRole and the credentials it issues.

use std::time::Duration;

use crate::common::{Call, Creds, sim};

const ROLE: &str = "acs:ram::1234567890123456:role/reimage-updater";

#[tokio::test]
async fn assumed_role_credentials_work_until_they_expire() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let assumed = call
        .ok(
            "AssumeRole",
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "reimage-exec-1"),
                ("DurationSeconds", "900"),
            ],
        )
        .await;
    let c = &assumed["Credentials"];
    let id = c["AccessKeyId"].as_str().unwrap();
    assert!(id.starts_with("STS."), "{id}");
    assert_eq!(c["Expiration"], "2026-03-01T09:15:00Z");
    assert_eq!(
        assumed["AssumedRoleUser"]["Arn"],
        format!("{ROLE}/reimage-exec-1")
    );

    let mut as_role = Call::new(&sim, &clock);
    as_role.creds = Creds {
        id: id.to_owned(),
        secret: c["AccessKeySecret"].as_str().unwrap().to_owned(),
        token: Some(c["SecurityToken"].as_str().unwrap().to_owned()),
    };
    as_role
        .ok("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;

    let mut no_token = Call::new(&sim, &clock);
    no_token.creds = Creds {
        token: None,
        ..as_role.creds.clone()
    };
    let (_, code, _) = no_token
        .err("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!(code, "MissingSecurityToken");

    clock.advance(Duration::from_secs(900));
    let (status, code, _) = as_role
        .err("DescribeImages", &[("RegionId", "cn-hangzhou")])
        .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidSecurityToken.Expired")
    );
}

#[tokio::test]
async fn assume_role_checks_role_session_and_duration() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let cases: [Case; 6] = [
        (
            &[
                ("RoleArn", "acs:ram::1234567890123456:role/other"),
                ("RoleSessionName", "s1"),
            ],
            404,
            "EntityNotExist.Role",
        ),
        (
            &[
                ("RoleArn", "acs:ram::999:role/reimage-updater"),
                ("RoleSessionName", "s1"),
            ],
            404,
            "EntityNotExist.Role",
        ),
        (
            &[
                ("RoleArn", "arn:aws:iam::1:role/x"),
                ("RoleSessionName", "s1"),
            ],
            400,
            "InvalidParameter.RoleArn",
        ),
        (
            &[("RoleArn", ROLE), ("RoleSessionName", "bad name!")],
            400,
            "InvalidParameter.RoleSessionName",
        ),
        (
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", "899"),
            ],
            400,
            "InvalidParameter.DurationSeconds",
        ),
        (
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", "3601"),
            ],
            400,
            "InvalidParameter.DurationSeconds",
        ),
    ];
    for (params, want_status, want_code) in cases {
        let (status, code, _) = call.err("AssumeRole", params).await;
        assert_eq!(
            (status, code.as_str()),
            (want_status, want_code),
            "{params:?}"
        );
    }
    let (_, code, _) = call.err("AssumeRole", &[("RoleSessionName", "s1")]).await;
    assert_eq!(code, "MissingParameter");
}

#[tokio::test]
async fn the_root_account_may_not_assume_roles() {
    let mut seed = reimage_sim::Seed::demo();
    seed.access_keys[0].root = true;
    let clock = reimage_cloud::clock::ManualClock::new(crate::common::t0());
    let sim = reimage_sim::Sim::builder()
        .clock(std::sync::Arc::new(clock.clone()))
        .seed(seed)
        .start()
        .await
        .unwrap();
    let call = Call::new(&sim, &clock);
    let (status, code, _) = call
        .err(
            "AssumeRole",
            &[("RoleArn", ROLE), ("RoleSessionName", "s1")],
        )
        .await;
    assert_eq!((status, code.as_str()), (403, "NoPermission"));
}
