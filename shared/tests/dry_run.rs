//! The dry run of an image update against `sim`: real HTTP, real signatures, the cloud a real
//! run gets from [`AliyunClouds`] (the account's credentials, or a RAM role assumed through
//! STS). It creates nothing, names every problem, plans the calls a real run makes, and says
//! who they are made as (STS GetCallerIdentity).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::TimeZone;
use reimage::aliyun::Client;
use reimage::clock::{Clock, ManualClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::RandomIds;
use reimage::model::{ExecutionId, PermissionSource, State, UpdateRequest};
use reimage::steps::aliyun::ROLE_SESSION_NAME;
use reimage::steps::cloud::CallerIdentity;
use reimage::steps::dry_run::{self, DryRunReport, NEW_IMAGE};
use reimage::steps::{AliyunClouds, CloudProvider, Engine};
use reimage::store::SharedStore;
use reimage::store::file::FileStore;
use reimage_sim::{Seed, Sim};

const WEB_INSTANCE: &str = "i-bp1demoweb000000001";
const WEB_SYSTEM_DISK: &str = "d-bp1demowebsys000001";
const WEB_ACTIVE: &str = "asc-bp1demoweb0000001";
const WEB_INACTIVE: &str = "asc-bp1demoweb0000002";
const API_ACTIVE: &str = "asc-bp1demoapi0000001";
const ECI_CONFIG: &str = "asc-bp1demoeci0000001";
const ROLE_ARN: &str = "acs:ram::1234567890123456:role/reimage-updater";
const ACCOUNT: &str = "1234567890123456";

/// The caller the report names (and no note says the cloud could not tell).
fn caller_of(report: &DryRunReport) -> &CallerIdentity {
    assert!(
        !report
            .notes
            .iter()
            .any(|n| n.contains("does not say who the calls are made as")),
        "{:#?}",
        report.notes
    );
    report
        .caller
        .as_ref()
        .unwrap_or_else(|| panic!("the report says who the calls are made as: {report:#?}"))
}

fn clock() -> ManualClock {
    ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap())
}

async fn sim_with(clock: &ManualClock, seed: Seed) -> Sim {
    Sim::builder()
        .clock(Arc::new(clock.clone()))
        .image_seconds(600)
        .seed(seed)
        .start()
        .await
        .expect("sim starts")
}

/// The clouds a real run gets: the account's client, and a RAM role's through STS.
fn clouds(sim: &Sim, clock: &ManualClock) -> Arc<dyn CloudProvider> {
    let mut config = sim.client_config();
    config.clock = Arc::new(clock.clone());
    config.ids = Arc::new(RandomIds);
    Arc::new(AliyunClouds::new(Client::new(config).expect("client")))
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

async fn dry(
    clouds: &Arc<dyn CloudProvider>,
    clock: &ManualClock,
    r: &UpdateRequest,
) -> DryRunReport {
    dry_run::check(
        clouds.as_ref(),
        r,
        ExecutionId::random(&RandomIds),
        clock.now(),
    )
    .await
}

/// The actions the sim answered since its counters were last reset that may change
/// something. RunInstances is the pre-flight's dry run (`DryRun=true`): that it launched
/// nothing is checked apart, by the number of instances.
fn writes(sim: &Sim) -> Vec<String> {
    sim.admin()
        .calls()
        .since_reset
        .into_keys()
        .filter(|a| {
            !(a.starts_with("Describe")
                || ["AssumeRole", "GetCallerIdentity", "RunInstances"].contains(&a.as_str()))
        })
        .collect()
}

/// (1) A good update: the plan, and nothing created, changed or recorded; then a real run of
/// the same update makes exactly the calls the plan named.
#[tokio::test]
async fn a_dry_run_of_a_good_update_plans_it_and_creates_nothing() {
    let clock = clock();
    let sim = sim_with(&clock, Seed::demo()).await;
    let clouds = clouds(&sim, &clock);
    let admin = sim.admin();
    let before: Vec<String> = [WEB_ACTIVE, WEB_INACTIVE]
        .iter()
        .map(|c| admin.scaling_configuration(c).unwrap().image_id)
        .collect();
    let instances = admin.state().instances.len();
    admin.reset_calls();
    let mut update = request(WEB_INSTANCE, &[WEB_ACTIVE, WEB_INACTIVE]);
    update.permission = PermissionSource::RamRole {
        role_arn: ROLE_ARN.into(),
    };

    let report = dry(&clouds, &clock, &update).await;
    assert!(report.would_run, "{report:#?}");
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    // The calls are made as the role's session that AssumeRole opened, and the report says so.
    let role_session =
        format!("acs:ram::{ACCOUNT}:assumed-role/reimage-updater/{ROLE_SESSION_NAME}");
    assert_eq!(
        caller_of(&report),
        &CallerIdentity {
            account_id: ACCOUNT.into(),
            arn: role_session.clone(),
            identity_type: "AssumedRoleUser".into(),
        }
    );
    assert_eq!(
        report.image_name,
        Some(format!(
            "UpdateImage_from_{WEB_INSTANCE}_on_{}",
            report.execution_id
        ))
    );
    assert_eq!(report.instance_status.as_deref(), Some("Running"));
    assert_eq!(report.system_disk_id.as_deref(), Some(WEB_SYSTEM_DISK));
    for (n, config) in [WEB_ACTIVE, WEB_INACTIVE].iter().enumerate() {
        let c = &report.configurations[n];
        assert_eq!(c.configuration_id, *config);
        assert_eq!(c.scaling_group_id.as_deref(), Some("asg-bp1demoweb0000001"));
        assert_eq!(c.previous_image_id.as_deref(), Some(before[n].as_str()));
        assert_eq!(c.image_id, NEW_IMAGE);
    }
    let text = report.to_text();
    assert!(
        text.contains(&format!(
            "  {WEB_ACTIVE} (asg-bp1demoweb0000001, Active)  {} → (new image)",
            before[0]
        )),
        "{text}"
    );
    assert!(text.contains("ModifyScalingConfiguration × 2"), "{text}");
    assert!(
        text.contains(&format!(
            "permissions     RAM role {ROLE_ARN}, calls made as {role_session}\n"
        )),
        "{text}"
    );
    let json = serde_json::to_value(&report).expect("the report as JSON");
    assert_eq!(json["caller"]["arn"], role_session.as_str());
    assert_eq!(json["caller"]["identity_type"], "AssumedRoleUser");

    // Read through the task's role, as a run's calls are; nothing written.
    assert!(admin.calls_since_reset("AssumeRole") >= 1);
    assert!(admin.calls_since_reset("DescribeInstances") >= 1);
    assert!(admin.calls_since_reset("DescribeDisks") >= 1);
    for write in [
        "CreateSnapshot",
        "CreateImage",
        "ModifyScalingConfiguration",
        "TagResources",
        "DeleteImage",
        "DeleteSnapshot",
    ] {
        assert_eq!(admin.calls_since_reset(write), 0, "{write}");
    }
    assert_eq!(writes(&sim), Vec::<String>::new());
    assert!(admin.state().snapshots.is_empty());
    assert!(
        admin.state().images.iter().all(|i| i.owner_alias != "self"),
        "no image of the account's own"
    );
    assert_eq!(admin.state().instances.len(), instances);
    for (n, config) in [WEB_ACTIVE, WEB_INACTIVE].iter().enumerate() {
        assert_eq!(
            admin.scaling_configuration(config).unwrap().image_id,
            before[n]
        );
    }

    // The real run of the same update calls what the plan says, and nothing else.
    let dir = tempfile::tempdir().expect("temp dir");
    let store: SharedStore = Arc::new(FileStore::open(dir.path().join("state")).expect("store"));
    let shared: reimage::clock::SharedClock = Arc::new(clock.clone());
    let local = Arc::new(LocalDispatcher::new(shared.clone()));
    let engine = Engine::new(
        store.clone(),
        shared,
        Arc::new(RandomIds),
        local.clone(),
        clouds.clone(),
    );
    assert!(
        store.list("").await.unwrap().is_empty(),
        "the dry run recorded nothing"
    );
    admin.reset_calls();
    let first = engine.start_new(update).await.expect("starts");
    local.run_until_idle(&engine).await;
    let last = engine.get(&first.execution_id).await.unwrap().unwrap();
    assert_eq!(last.state, State::Succeeded, "{last:#?}");
    let made: BTreeSet<String> = admin
        .calls()
        .since_reset
        .into_keys()
        .filter(|a| a != "AssumeRole")
        .collect();
    let planned: BTreeSet<String> = report.calls.iter().map(|c| c.action.clone()).collect();
    assert_eq!(
        made, planned,
        "the calls a real run made, and those planned"
    );
    for call in report.calls.iter().filter(|c| {
        [
            "CreateSnapshot",
            "CreateImage",
            "ModifyScalingConfiguration",
            "RunInstances",
        ]
        .contains(&c.action.as_str())
    }) {
        assert_eq!(
            admin.calls_since_reset(&call.action),
            call.count as u64,
            "{}",
            call.action
        );
    }
    sim.shutdown().await;
}

/// (2) A bad instance id, an unknown configuration, an ECI group's configuration and two
/// pre-flight refusals (an image its configuration's instance type does not run, one that
/// boots in a mode the type does not): each named, in one dry run.
#[tokio::test]
async fn a_dry_run_names_every_problem_by_name() {
    let clock = clock();
    let mut seed = Seed::demo();
    for c in &mut seed.scaling_configurations {
        if c.scaling_configuration_id == API_ACTIVE {
            c.instance_type = "ecs.g6.large".into(); // boots BIOS only
        }
    }
    let sim = sim_with(&clock, seed).await;
    let admin = sim.admin();
    let web_previous = admin.scaling_configuration(WEB_INACTIVE).unwrap().image_id;
    let api_image = admin.scaling_configuration(API_ACTIVE).unwrap().image_id;
    assert_ne!(web_previous, api_image);
    admin
        .restrict_image_types(&web_previous, &["ecs.g7.large"])
        .unwrap();
    admin.set_image_boot_mode(&api_image, "UEFI").unwrap();
    admin.reset_calls();
    let clouds = clouds(&sim, &clock);

    let report = dry(
        &clouds,
        &clock,
        &request(
            "i-bp1nosuchinstance01",
            &[
                WEB_INACTIVE,
                "asc-bp1nosuchconfig01",
                ECI_CONFIG,
                API_ACTIVE,
            ],
        ),
    )
    .await;
    assert!(!report.would_run);
    // The account's own key is the demo's RAM user's: the report says so, problems or not.
    assert_eq!(
        caller_of(&report),
        &CallerIdentity {
            account_id: ACCOUNT.into(),
            arn: format!("acs:ram::{ACCOUNT}:user/reimage"),
            identity_type: "RAMUser".into(),
        }
    );
    let problems = &report.problems;
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert_eq!(problems[0], "instance i-bp1nosuchinstance01 does not exist");
    assert_eq!(
        problems[1],
        "scaling configuration asc-bp1nosuchconfig01 does not exist"
    );
    assert_eq!(
        problems[2],
        format!(
            "scaling configuration {ECI_CONFIG} belongs to scaling group asg-bp1demoeci0000001 \
             of type ECI; only ECS-type groups can take a custom image"
        )
    );
    let preflight: Vec<&String> = problems[3..].iter().collect();
    assert!(
        preflight.iter().any(|p| p.starts_with(&format!(
            "pre-flight: scaling configuration {WEB_INACTIVE}: image {web_previous} does not run \
             on ecs.g7.large"
        ))),
        "{preflight:#?}"
    );
    assert!(
        preflight.iter().any(|p| p.starts_with(&format!(
            "pre-flight: scaling configuration {API_ACTIVE}: image {api_image} boots in UEFI \
             mode, ecs.g6.large boots in BIOS"
        ))),
        "{preflight:#?}"
    );
    // What could be read is shown; nothing was created.
    let eci = &report.configurations[2];
    assert_eq!(
        eci.scaling_group_id.as_deref(),
        Some("asg-bp1demoeci0000001")
    );
    assert_eq!(eci.previous_image_id, None);
    assert_eq!(report.configurations[1].scaling_group_id, None);
    let text = report.to_text();
    assert!(text.contains("would NOT run: 5 problems"), "{text}");
    assert!(
        text.contains(&format!(
            "permissions     the account's own credentials, calls made as \
             acs:ram::{ACCOUNT}:user/reimage\n"
        )),
        "{text}"
    );
    for problem in problems {
        assert!(text.contains(&format!("  - {problem}")), "{text}");
    }
    assert_eq!(writes(&sim), Vec::<String>::new());
    assert!(admin.state().snapshots.is_empty());

    // A role the account does not have: named, and nothing else is asked.
    let mut update = request(WEB_INSTANCE, &[WEB_ACTIVE]);
    update.permission = PermissionSource::RamRole {
        role_arn: "acs:ram::1234567890123456:role/nobody".into(),
    };
    admin.reset_calls();
    let report = dry(&clouds, &clock, &update).await;
    assert!(!report.would_run);
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
    assert!(
        report.problems[0].starts_with(
            "permissions: no call can be made with RAM role \
             acs:ram::1234567890123456:role/nobody: "
        ),
        "{}",
        report.problems[0]
    );
    assert_eq!(admin.calls_since_reset("DescribeInstances"), 0);
    assert_eq!(report.caller, None, "no one: the role was never assumed");
    sim.shutdown().await;
}

/// (3) With the root account's own key (a seed key with `"root": true`), the report names the
/// account itself.
#[tokio::test]
async fn a_dry_run_with_the_root_accounts_key_names_the_account() {
    let clock = clock();
    let mut seed = Seed::demo();
    seed.access_keys[0].root = true;
    let sim = sim_with(&clock, seed).await;
    let clouds = clouds(&sim, &clock);
    let report = dry(&clouds, &clock, &request(WEB_INSTANCE, &[WEB_ACTIVE])).await;
    assert!(report.would_run, "{report:#?}");
    assert_eq!(
        caller_of(&report),
        &CallerIdentity {
            account_id: ACCOUNT.into(),
            arn: format!("acs:ram::{ACCOUNT}:root"),
            identity_type: "Account".into(),
        }
    );
    assert!(
        report.to_text().contains(&format!(
            "permissions     the account's own credentials, calls made as acs:ram::{ACCOUNT}:root\n"
        )),
        "{}",
        report.to_text()
    );
    sim.shutdown().await;
}
