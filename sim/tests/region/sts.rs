//! STS AssumeRole and the credentials it issues; GetCallerIdentity for each kind of caller.

use std::time::Duration;

use crate::common::{Call, Creds, sim};

const ROLE: &str = "acs:ram::1234567890123456:role/reimage-updater";
const ACCOUNT: &str = "1234567890123456";

/// The demo region with its one static key the root account's.
async fn sim_with_root_key() -> (reimage_sim::Sim, reimage_cloud::clock::ManualClock) {
    let mut seed = reimage_sim::Seed::demo();
    seed.access_keys[0].root = true;
    let clock = reimage_cloud::clock::ManualClock::new(crate::common::t0());
    let sim = reimage_sim::Sim::builder()
        .clock(std::sync::Arc::new(clock.clone()))
        .seed(seed)
        .start()
        .await
        .unwrap();
    (sim, clock)
}

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
    let (sim, clock) = sim_with_root_key().await;
    let call = Call::new(&sim, &clock);
    let (status, code, _) = call
        .err(
            "AssumeRole",
            &[("RoleArn", ROLE), ("RoleSessionName", "s1")],
        )
        .await;
    assert_eq!((status, code.as_str()), (403, "NoPermission"));
}

/// The fields GetCallerIdentity answers, and only those (`UserId` for the account and RAM
/// users, `RoleId` for roles).
fn fields(body: &serde_json::Value) -> Vec<&str> {
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn get_caller_identity_of_a_ram_users_key() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let me = call.ok("GetCallerIdentity", &[]).await;
    assert_eq!(me["IdentityType"], "RAMUser", "{me}");
    assert_eq!(me["AccountId"], ACCOUNT);
    assert_eq!(me["Arn"], format!("acs:ram::{ACCOUNT}:user/reimage"));
    let user_id = me["UserId"].as_str().unwrap();
    assert!(
        user_id.len() == 18 && user_id.chars().all(|c| c.is_ascii_digit()),
        "{user_id}"
    );
    assert_eq!(me["PrincipalId"], user_id);
    assert_eq!(
        fields(&me),
        [
            "AccountId",
            "Arn",
            "IdentityType",
            "PrincipalId",
            "RequestId",
            "UserId"
        ]
    );
    // The same user the next time (and after a restart: the id is derived, not random), by
    // POST too, as the SDKs send it; parameters it does not take are ignored.
    let mut post = Call::new(&sim, &clock);
    post.post = true;
    let again = post.ok("GetCallerIdentity", &[("RoleArn", ROLE)]).await;
    assert_eq!(again["UserId"], user_id);
    assert_ne!(again["RequestId"], me["RequestId"]);
    sim.shutdown().await;

    // A seed names the key's RAM user.
    let mut seed = reimage_sim::Seed::demo();
    seed.access_keys[0].user_name = "ops.deploy".into();
    let sim = reimage_sim::Sim::builder()
        .clock(std::sync::Arc::new(clock.clone()))
        .seed(seed)
        .start()
        .await
        .unwrap();
    let other = Call::new(&sim, &clock).ok("GetCallerIdentity", &[]).await;
    assert_eq!(other["Arn"], format!("acs:ram::{ACCOUNT}:user/ops.deploy"));
    assert_ne!(other["UserId"], user_id);
}

#[tokio::test]
async fn get_caller_identity_of_the_root_accounts_key() {
    let (sim, clock) = sim_with_root_key().await;
    let me = Call::new(&sim, &clock).ok("GetCallerIdentity", &[]).await;
    assert_eq!(me["IdentityType"], "Account", "{me}");
    assert_eq!(me["AccountId"], ACCOUNT);
    assert_eq!(me["UserId"], ACCOUNT);
    assert_eq!(me["PrincipalId"], ACCOUNT);
    assert_eq!(me["Arn"], format!("acs:ram::{ACCOUNT}:root"));
    assert_eq!(
        fields(&me),
        [
            "AccountId",
            "Arn",
            "IdentityType",
            "PrincipalId",
            "RequestId",
            "UserId"
        ]
    );
}

#[tokio::test]
async fn get_caller_identity_of_an_assumed_role_until_it_expires() {
    let (sim, clock) = sim().await;
    let call = Call::new(&sim, &clock);
    let assumed = call
        .ok(
            "AssumeRole",
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "reimage@exec-1"),
                ("DurationSeconds", "900"),
            ],
        )
        .await;
    let c = &assumed["Credentials"];
    let mut as_role = Call::new(&sim, &clock);
    as_role.creds = Creds {
        id: c["AccessKeyId"].as_str().unwrap().to_owned(),
        secret: c["AccessKeySecret"].as_str().unwrap().to_owned(),
        token: Some(c["SecurityToken"].as_str().unwrap().to_owned()),
    };
    let me = as_role.ok("GetCallerIdentity", &[]).await;
    assert_eq!(me["IdentityType"], "AssumedRoleUser", "{me}");
    assert_eq!(me["AccountId"], ACCOUNT);
    assert_eq!(
        me["Arn"],
        format!("acs:ram::{ACCOUNT}:assumed-role/reimage-updater/reimage@exec-1")
    );
    // The principal is AssumeRole's AssumedRoleId: <RoleId>:<RoleSessionName>.
    assert_eq!(
        me["PrincipalId"],
        assumed["AssumedRoleUser"]["AssumedRoleId"]
    );
    let role_id = me["RoleId"].as_str().unwrap();
    assert!(role_id.len() == 18 && role_id.starts_with('3'), "{role_id}");
    assert_eq!(me["PrincipalId"], format!("{role_id}:reimage@exec-1"));
    assert_eq!(
        fields(&me),
        [
            "AccountId",
            "Arn",
            "IdentityType",
            "PrincipalId",
            "RequestId",
            "RoleId"
        ]
    );

    // Two sessions of the role: one role, two principals.
    let second = call
        .ok(
            "AssumeRole",
            &[("RoleArn", ROLE), ("RoleSessionName", "other")],
        )
        .await;
    let mut as_second = Call::new(&sim, &clock);
    as_second.creds = Creds {
        id: second["Credentials"]["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_owned(),
        secret: second["Credentials"]["AccessKeySecret"]
            .as_str()
            .unwrap()
            .to_owned(),
        token: Some(
            second["Credentials"]["SecurityToken"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
    };
    let them = as_second.ok("GetCallerIdentity", &[]).await;
    assert_eq!(them["RoleId"], me["RoleId"]);
    assert_eq!(
        them["Arn"],
        format!("acs:ram::{ACCOUNT}:assumed-role/reimage-updater/other")
    );

    // The credentials' own errors, as for any action.
    let mut no_token = Call::new(&sim, &clock);
    no_token.creds = Creds {
        token: None,
        ..as_role.creds.clone()
    };
    let (status, code, _) = no_token.err("GetCallerIdentity", &[]).await;
    assert_eq!((status, code.as_str()), (400, "MissingSecurityToken"));
    clock.advance(Duration::from_secs(900));
    let (status, code, _) = as_role.err("GetCallerIdentity", &[]).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "InvalidSecurityToken.Expired")
    );
}

#[tokio::test]
async fn get_caller_identity_errors() {
    let (sim, clock) = sim().await;
    let mut stranger = Call::new(&sim, &clock);
    stranger.creds.id = "LTAI5tNoSuchKey00000001".into();
    let (status, code, _) = stranger.err("GetCallerIdentity", &[]).await;
    assert_eq!(
        (status, code.as_str()),
        (404, "InvalidAccessKeyId.NotFound")
    );
    let mut wrong_secret = Call::new(&sim, &clock);
    wrong_secret.creds.secret.push('x');
    let (status, code, _) = wrong_secret.err("GetCallerIdentity", &[]).await;
    assert_eq!((status, code.as_str()), (400, "SignatureDoesNotMatch"));

    // STS's action, not ECS's.
    let call = Call::new(&sim, &clock);
    let (status, code, _) = call
        .err("GetCallerIdentity", &[("Version", "2014-05-26")])
        .await;
    assert_eq!((status, code.as_str()), (404, "InvalidAction.NotFound"));

    // The one documented error, injected.
    sim.admin()
        .fail_next("GetCallerIdentity", "InternalError", 500, 1)
        .unwrap();
    let (status, code, _) = call.err("GetCallerIdentity", &[]).await;
    assert_eq!((status, code.as_str()), (500, "InternalError"));
    call.ok("GetCallerIdentity", &[]).await;
    // Every request naming the action counts, refused ones too.
    assert_eq!(sim.admin().calls().total["GetCallerIdentity"], 5);
}
