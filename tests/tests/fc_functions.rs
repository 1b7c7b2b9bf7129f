//! reimage as Function Compute runs it: the five function binaries, started as template.yml
//! declares them under the sim's FC front, chained by asynchronous invocations only.
//!
//! 1. An update started through the HTTP trigger succeeds, every step reached as an async
//!    `/invoke` of its own function process.
//! 2. The wait-image process is killed while its next check waits in FC's queue: the event is
//!    retried, then dropped; once the function is back, the minute timer's sweep dispatches
//!    the pending step again and the execution finishes.
//! 3. A CI webhook's `status_url` answers without the API token.
//! 4. A rollout of the web group onto the image of step 1, started through the HTTP trigger,
//!    driven by async invocations of the rollout function, pauses at its checkpoint and is
//!    continued through the API.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use reimage::settings::Env;
use reimage_e2e::workspace_root;
use reimage_sim::Sim;
use reimage_sim::fc::{LaunchSettings, Outcome, RunningFunction, Template};

const FUNCTIONS: [&str; 5] = [
    "create-image",
    "wait-image",
    "swap-config",
    "verify",
    "rollout",
];
const TOKEN: &str = "e2e-api-token-0123456789";
const INSTANCE: &str = "i-bp1demoweb000000001";
const CONFIGURATION: &str = "asc-bp1demoweb0000001";

/// Builds the four function binaries (debug) and answers where they are.
fn build_functions() -> BTreeMap<String, PathBuf> {
    let env = Env::from_process();
    let cargo = env.get("CARGO").unwrap_or("cargo").to_owned();
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .arg("build")
        .arg("--quiet");
    for f in FUNCTIONS {
        cmd.args(["-p", &format!("reimage-fn-{f}")]);
    }
    let status = cmd.status().expect("cargo runs");
    assert!(status.success(), "building the functions failed");
    let target = env
        .get("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    FUNCTIONS
        .iter()
        .map(|f| ((*f).to_owned(), target.join("debug").join(f)))
        .collect()
}

struct Deployment {
    sim: Sim,
    template: Template,
    settings: LaunchSettings,
    binaries: BTreeMap<String, PathBuf>,
    running: BTreeMap<String, RunningFunction>,
    _state: tempfile::TempDir,
}

impl Deployment {
    async fn up() -> Self {
        let binaries = build_functions();
        let sim = Sim::builder().image_seconds(4).start().await.expect("sim");
        let text =
            std::fs::read_to_string(workspace_root().join("template.yml")).expect("template.yml");
        let params = BTreeMap::from([
            ("StateBucketName".to_owned(), "reimage-state-e2e".to_owned()),
            ("ApiToken".to_owned(), TOKEN.to_owned()),
            // Webhook secrets are sealed with the sim's KMS.
            (
                "SecretsKmsKeyId".to_owned(),
                reimage_sim::seed::DEMO_KMS_KEY_ID.to_owned(),
            ),
        ]);
        let template = Template::parse(&text, &params).expect("template parses");
        let state = tempfile::tempdir().expect("tempdir");
        let settings = LaunchSettings {
            // One store all four processes share; a step overdue after 3 s is swept.
            extra_env: vec![
                (
                    "REIMAGE_STORE".into(),
                    format!("file://{}", state.path().display()),
                ),
                ("REIMAGE_OVERDUE_AFTER_SECS".into(), "3".into()),
                ("REIMAGE_ROLLOUT_POLL_SECS".into(), "1".into()),
                ("RUST_LOG".into(), "info".into()),
            ],
            log_dir: Some(state.path().to_path_buf()),
            ..LaunchSettings::for_sim(&sim)
        };
        let mut d = Self {
            sim,
            template,
            settings,
            binaries,
            running: BTreeMap::new(),
            _state: state,
        };
        for f in FUNCTIONS {
            d.start(f).await;
        }
        d
    }

    async fn start(&mut self, name: &str) {
        let function = self
            .template
            .functions
            .iter()
            .find(|f| f.name == name)
            .expect("declared in template.yml")
            .clone();
        let running = reimage_sim::fc::start(
            &self.sim.fc(),
            &self.template.service,
            &function,
            &self.binaries[name],
            &self.settings,
        )
        .await
        .expect("function starts");
        self.running.insert(name.to_owned(), running);
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/2016-08-15/proxy/{}/create-image{path}",
            self.sim.endpoint(),
            self.template.service
        )
    }

    /// Starts an update through the HTTP trigger; answers its execution id.
    async fn start_update(&self) -> String {
        let resp = reqwest::Client::new()
            .post(self.url("/tasks"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({
                "source_instance_id": INSTANCE,
                "scaling_configuration_ids": [CONFIGURATION],
                "executed_at": {"kind": "now"},
                "permission": {"kind": "account"}
            }))
            .send()
            .await
            .expect("the HTTP trigger answers");
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.expect("JSON");
        assert_eq!(status, 201, "{body}");
        body["run"]["execution_id"]
            .as_str()
            .expect("an execution id")
            .to_owned()
    }

    async fn execution(&self, id: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(self.url(&format!("/executions/{id}")))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("the HTTP trigger answers")
            .json()
            .await
            .expect("JSON")
    }

    /// The last lines each function process wrote, for a failure's message.
    fn log_tails(&self) -> String {
        let mut out = String::new();
        for f in FUNCTIONS {
            let path = self._state.path().join(format!("{f}.log"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(15)..];
            out.push_str(&format!("--- {f}.log\n{}\n", tail.join("\n")));
        }
        out
    }

    /// Polls the execution until `done` says so; panics after `limit`.
    async fn wait_for(
        &self,
        id: &str,
        limit: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let e = self.execution(id).await;
            if done(&e) {
                return e;
            }
            assert!(
                started.elapsed() < limit,
                "execution {id} did not get there in {limit:?}: {e:#}\n\nFC deliveries: {:#?}\n\n{}",
                self.sim.fc().deliveries(),
                self.log_tails()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Deployment {
    /// Fires the minute timer, waiting for each tick to be delivered, until `function` has
    /// been sent an event after the tick that re-dispatched it.
    async fn sweep_until_redispatched(&self, function: &str) {
        let fc = self.sim.fc();
        let sent_to = |deliveries: &[reimage_sim::fc::Delivery]| {
            deliveries.iter().filter(|x| x.function == function).count()
        };
        let ticks = |deliveries: &[reimage_sim::fc::Delivery]| {
            deliveries
                .iter()
                .filter(|x| x.timer.as_deref() == Some("every-minute"))
                .count()
        };
        let before = sent_to(&fc.deliveries());
        let started = Instant::now();
        loop {
            let ticked = ticks(&fc.deliveries());
            fc.fire_timer(&self.template.service, "create-image", "every-minute")
                .expect("create-image has the minute timer");
            loop {
                let deliveries = fc.deliveries();
                if sent_to(&deliveries) > before {
                    return;
                }
                if ticks(&deliveries) > ticked {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "no sweep re-dispatched {function}: {deliveries:#?}\n\n{}",
                    self.log_tails()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn status(e: &serde_json::Value) -> &str {
    e["state"]["status"].as_str().unwrap_or_default()
}

// About 90 s on an idle machine (real processes, real seconds); under a loaded machine it has
// run past its limits, so `.ci/run` runs it on its own after the rest of the suite:
// `cargo test -p reimage-e2e --test fc_functions -- --ignored`.
#[ignore = "slow end-to-end run of the four function processes; run with -- --ignored"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_run_through_async_invocations_and_the_sweeper_recovers_a_lost_event() {
    let mut d = Deployment::up().await;

    // 1. Through the HTTP trigger, to success, by async invocations only.
    let first = d.start_update().await;
    let done = d
        .wait_for(&first, Duration::from_secs(240), |e| status(e) != "pending")
        .await;
    assert_eq!(status(&done), "succeeded", "{done:#}");
    let deliveries = d.sim.fc().deliveries();
    for step in &FUNCTIONS[..4] {
        assert!(
            deliveries.iter().any(|x| x.function == *step
                && x.control_path == "/invoke"
                && x.outcome == Outcome::Succeeded),
            "{step} ran as an async invocation: {deliveries:#?}"
        );
    }
    let configuration = d
        .sim
        .admin()
        .scaling_configuration(CONFIGURATION)
        .expect("the configuration exists");
    assert_eq!(
        Some(configuration.image_id.as_str()),
        done["learned"]["image_id"].as_str(),
        "the configuration holds the new image"
    );

    // 2. Kill wait-image while its next check waits in FC's queue.
    let second = d.start_update().await;
    d.wait_for(&second, Duration::from_secs(120), |e| {
        e["state"]["step"] == "wait-image"
    })
    .await;
    d.running
        .get_mut("wait-image")
        .expect("running")
        .kill()
        .await;
    let dropped_before = d.sim.fc().dropped().len();
    let started = Instant::now();
    while d.sim.fc().dropped().len() == dropped_before {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the event to the dead function was never given up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stuck = d.execution(&second).await;
    assert_eq!(status(&stuck), "pending", "{stuck:#}");
    assert_eq!(stuck["state"]["step"], "wait-image");

    // FC starts a new instance; the minute timer's sweep finds the step once it is overdue
    // (3 s after it was due): fire the timer, one tick at a time, until a sweep re-dispatches
    // it.
    d.start("wait-image").await;
    d.sweep_until_redispatched("wait-image").await;
    let done = d
        .wait_for(&second, Duration::from_secs(240), |e| {
            status(e) != "pending"
        })
        .await;
    assert_eq!(status(&done), "succeeded", "{done:#}");
    // The dead process's deliveries were tried and not reached before the sweep.
    assert!(
        d.sim
            .fc()
            .deliveries()
            .iter()
            .any(|x| x.function == "wait-image" && matches!(x.outcome, Outcome::NotReached(_))),
        "the killed wait-image was tried"
    );

    // 3. A CI webhook through the HTTP trigger: its status_url starts with the trigger's path
    //    and answers the CI job without the API token.
    let secret = "fc-webhook-secret-0123456789";
    let client = reqwest::Client::new();
    let task: serde_json::Value = client
        .post(d.url("/tasks"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "source_instance_id": INSTANCE,
            "scaling_configuration_ids": [CONFIGURATION],
            "executed_at": {"kind": "cron", "expression": "0 0 3 1 1 *"},
            "permission": {"kind": "ram_role", "role_arn": "acs:ram::1234567890123456:role/reimage-ci"},
            "webhook_secret": secret
        }))
        .send()
        .await
        .expect("the HTTP trigger answers")
        .json()
        .await
        .expect("JSON");
    let task_id = task["task_id"].as_str().expect("a task id");
    let body = r#"{"ref":"refs/heads/main","after":"fc0001"}"#;
    let signature = reimage::api::webhook::github_signature(
        &reimage::model::task::WebhookSecret::new(secret),
        body.as_bytes(),
    );
    let answer: serde_json::Value = client
        .post(d.url(&format!("/hooks/{task_id}")))
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .expect("the HTTP trigger answers")
        .json()
        .await
        .expect("JSON");
    let status_url = answer["status_url"].as_str().expect("a status_url");
    let execution_id = answer["execution_id"].as_str().expect("an execution id");
    assert!(
        status_url.starts_with(&format!(
            "/2016-08-15/proxy/{}/create-image/executions/{execution_id}?token=",
            d.template.service
        )),
        "{answer}"
    );
    let polled = client
        .get(format!("{}{status_url}", d.sim.endpoint()))
        .send()
        .await
        .expect("the HTTP trigger answers");
    assert_eq!(polled.status(), 200);
    let polled: serde_json::Value = polled.json().await.expect("JSON");
    assert_eq!(polled["execution_id"], execution_id);

    // The secret was sealed by the sim's KMS (create-image keeps what it sealed in memory, so
    // it verified the webhook without a Decrypt), and no record holds it in plaintext.
    let calls = d.sim.admin().calls().total;
    assert_eq!(calls.get("Encrypt").copied(), Some(1), "{calls:?}");
    let mut dirs = vec![d._state.path().to_path_buf()];
    let mut records = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("the state directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).expect("a record");
                assert!(
                    !text.contains(secret),
                    "{} holds the secret",
                    path.display()
                );
                records += 1;
            }
        }
    }
    assert!(records > 0);

    // 4. A rollout of the web group onto the image the first update made, through the HTTP
    //    trigger; it pauses at half the fleet, and the API continues it.
    let image = done_image(&d).await;
    let started = client
        .post(d.url("/rollouts"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "group_id": GROUP,
            "image_id": image,
            "max_unavailable": "50%",
            "bake_seconds": 0,
            "warmup_seconds": 0,
            "checkpoints": [50],
            "pause_at_checkpoints": true
        }))
        .send()
        .await
        .expect("the HTTP trigger answers");
    assert_eq!(started.status(), 202);
    let started: serde_json::Value = started.json().await.expect("JSON");
    let rollout = started["rollout_id"]
        .as_str()
        .expect("a rollout id")
        .to_owned();
    let paused = d
        .wait_for_rollout(&rollout, |r| r["phase"]["phase"] == "checkpoint")
        .await;
    let moved = paused["moved"].as_array().expect("moved").len();
    assert!((1..6).contains(&moved), "{paused:#}");
    let continued = client
        .post(d.url(&format!("/rollouts/{rollout}/continue")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("the HTTP trigger answers");
    assert_eq!(continued.status(), 202);
    let ended = d
        .wait_for_rollout(&rollout, |r| !r["outcome"].is_null())
        .await;
    assert_eq!(ended["outcome"]["outcome"], "succeeded", "{ended:#}");
    for m in d.sim.admin().state().scaling_instances {
        if m.scaling_group_id == GROUP {
            let instance = d.sim.admin().instance(&m.instance_id).expect("instance");
            assert_eq!(instance.image_id, image, "{}", m.instance_id);
            assert_eq!(m.lifecycle_state, "InService");
        }
    }
    assert!(
        d.sim
            .fc()
            .deliveries()
            .iter()
            .any(|x| x.function == "rollout" && x.outcome == Outcome::Succeeded),
        "the rollout ran as async invocations of its function"
    );
}

const GROUP: &str = "asg-bp1demoweb0000001";

/// The image the first update made (the configuration holds it).
async fn done_image(d: &Deployment) -> String {
    d.sim
        .admin()
        .scaling_configuration(CONFIGURATION)
        .expect("the configuration exists")
        .image_id
}

impl Deployment {
    /// Polls `GET /rollouts/{id}` until `done` says so of its latest record.
    async fn wait_for_rollout(
        &self,
        id: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let view: serde_json::Value = reqwest::Client::new()
                .get(self.url(&format!("/rollouts/{id}")))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("the HTTP trigger answers")
                .json()
                .await
                .expect("JSON");
            if done(&view["rollout"]) {
                return view["rollout"].clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "rollout {id} did not get there: {view:#}\n\n{}",
                self.log_tails()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
