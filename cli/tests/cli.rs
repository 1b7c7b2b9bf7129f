//! The `reimage` binary end to end: `demo`, `run`, `image set`, `execution list|show` and
//! `bench`, each run as a child process. `run` and `image set` talk to a sim started in this
//! test process, reached through the child's own environment (`REIMAGE_ENDPOINT` and the
//! sim's AccessKey): nothing is read from, or set in, the test process's environment.

use std::path::Path;
use std::process::{Command, Output};

use reimage_sim::Sim;
use serde_json::Value;

const INSTANCE: &str = "i-bp1demoweb000000001";
const ACTIVE: &str = "asc-bp1demoweb0000001";
const INACTIVE: &str = "asc-bp1demoweb0000002";
const ECI_CONFIG: &str = "asc-bp1demoeci0000001";

/// The binary with an empty environment plus `vars`.
fn reimage(args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reimage"));
    cmd.args(args).env_clear();
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `cmd` off the async runtime, so the in-process sim keeps answering.
async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("the reimage binary runs"))
        .await
        .expect("the child's thread finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn sim() -> Sim {
    Sim::builder()
        .image_seconds(2)
        .start()
        .await
        .expect("the sim starts")
}

/// The environment that points the child at `sim` and keeps its records in `state`.
fn sim_env<'a>(sim: &'a Sim, state: &'a Path) -> Vec<(&'a str, String)> {
    vec![
        ("REIMAGE_ENDPOINT", sim.endpoint().to_owned()),
        ("REIMAGE_REGION", sim.region_id().to_owned()),
        (
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            sim.access_key_id().to_owned(),
        ),
        (
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            sim.access_key_secret().to_owned(),
        ),
        ("REIMAGE_STATE_DIR", state.display().to_string()),
        // Rollouts look once a second (the load balancers' three looks included), not ten.
        ("REIMAGE_ROLLOUT_POLL_SECS", "1".to_owned()),
    ]
}

fn reimage_at(sim: &Sim, state: &Path, args: &[&str]) -> Command {
    let vars = sim_env(sim, state);
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    reimage(args, &borrowed)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_updates_both_configurations_and_keeps_its_records_where_told() {
    let state = tempfile::tempdir().expect("temp dir");
    let dir = state.path().display().to_string();
    let out = output(reimage(
        &["demo", "--image-seconds", "1", "--state-dir", &dir],
        &[],
    ))
    .await;
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\nstderr: {}",
        text(&out.stderr)
    );
    // The new image's id, then each configuration's old → new line naming it.
    let image_line = stdout
        .lines()
        .find(|l| l.starts_with("New image"))
        .unwrap_or_else(|| panic!("no new image line:\n{stdout}"));
    let image_id = image_line
        .split_whitespace()
        .last()
        .expect("an image id")
        .to_owned();
    assert!(image_id.starts_with("m-"), "{image_line}");
    for (config, lifecycle) in [(ACTIVE, "Active"), (INACTIVE, "Inactive")] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(config))
            .unwrap_or_else(|| panic!("no line for {config}:\n{stdout}"));
        assert!(line.contains(lifecycle), "{line}");
        assert!(line.ends_with(&format!("→ {image_id}")), "{line}");
        let old = line.split_whitespace().rev().nth(2).expect("an old image");
        assert_ne!(old, image_id, "{line}");
    }
    // The api group launches from a launch template: its new version holds the image.
    let group = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("asg-bp1demoapi0000001 lt-"))
        .unwrap_or_else(|| panic!("no line for the launch-template group:\n{stdout}"));
    assert!(group.ends_with(&format!("→ {image_id}")), "{group}");
    // The notice the local receiver got, signed, about this execution.
    let notice = stdout
        .split("Notification sent to the demo's local receiver")
        .nth(1)
        .unwrap_or_else(|| panic!("no notification:\n{stdout}"));
    assert!(notice.contains("signed t="), "{notice}");
    assert!(notice.contains(" succeeded\n"), "{notice}");
    assert!(
        notice.contains(&format!("- {ACTIVE}: ")) && notice.contains(&format!("→ {image_id}")),
        "{notice}"
    );
    // Piped: plain lines, no spinner control sequences.
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    assert!(stdout.contains("wait-image"), "{stdout}");

    // The records are in the state directory: `execution list` finds the same execution.
    let list = output(reimage(
        &["execution", "list", "--output", "json", "--state-dir", &dir],
        &[],
    ))
    .await;
    assert!(list.status.success(), "{}", text(&list.stderr));
    let list = json(&list)["executions"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["status"], "succeeded");
    assert_eq!(list[0]["image_id"], image_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_updates_the_configurations_and_execution_show_tells_the_same() {
    let sim = sim().await;
    let admin = sim.admin();
    let old_active = admin
        .scaling_configuration(ACTIVE)
        .expect("active")
        .image_id;
    let old_inactive = admin
        .scaling_configuration(INACTIVE)
        .expect("inactive")
        .image_id;
    let state = tempfile::tempdir().expect("temp dir");
    let out = output(reimage_at(
        &sim,
        state.path(),
        &[
            "run",
            "--instance",
            INSTANCE,
            "--config",
            ACTIVE,
            "--config",
            INACTIVE,
            "--name",
            "web",
            "--output",
            "json",
        ],
    ))
    .await;
    assert!(
        out.status.success(),
        "{}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let ran = json(&out);
    let image_id = ran["image_id"].as_str().expect("an image id").to_owned();
    let execution_id = ran["execution_id"].as_str().expect("an id").to_owned();
    assert_eq!(ran["status"], "succeeded");
    assert!(
        ran["image_name"]
            .as_str()
            .is_some_and(|n| n.starts_with(&format!("web_on_{execution_id}_at_"))),
        "{ran}"
    );
    // The cloud holds what the output says.
    assert_eq!(
        admin
            .scaling_configuration(ACTIVE)
            .expect("active")
            .image_id,
        image_id
    );
    assert_eq!(
        admin
            .scaling_configuration(INACTIVE)
            .expect("inactive")
            .image_id,
        image_id
    );
    assert_eq!(
        admin.image(&image_id).expect("the image exists").status,
        "Available"
    );

    let list = output(reimage_at(
        &sim,
        state.path(),
        &["execution", "list", "--output", "json"],
    ))
    .await;
    assert!(list.status.success(), "{}", text(&list.stderr));
    let list = json(&list)["executions"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["execution_id"], execution_id.as_str());
    assert_eq!(list[0]["instance_id"], INSTANCE);

    let show = output(reimage_at(
        &sim,
        state.path(),
        &["execution", "show", &execution_id, "--output", "json"],
    ))
    .await;
    assert!(show.status.success(), "{}", text(&show.stderr));
    let show = json(&show);
    assert_eq!(show["status"], "succeeded");
    assert_eq!(show["image_id"], image_id.as_str());
    let configurations = show["configurations"].as_array().expect("configurations");
    assert_eq!(configurations.len(), 2);
    assert_eq!(configurations[0]["configuration_id"], ACTIVE);
    assert_eq!(configurations[0]["old_image_id"], old_active.as_str());
    assert_eq!(configurations[0]["new_image_id"], image_id.as_str());
    assert_eq!(configurations[1]["configuration_id"], INACTIVE);
    assert_eq!(configurations[1]["old_image_id"], old_inactive.as_str());
    let records = show["records"].as_array().expect("records");
    assert!(records.len() >= 4, "{show}");
    for (seq, record) in records.iter().enumerate() {
        assert_eq!(record["seq"], seq as u64);
        assert_eq!(record["execution_id"], execution_id.as_str());
    }

    // The text form names the same execution and image.
    let shown = output(reimage_at(
        &sim,
        state.path(),
        &["execution", "show", &execution_id],
    ))
    .await;
    let shown = text(&shown.stdout);
    assert!(
        shown.contains(&format!("{old_active} → {image_id}")),
        "{shown}"
    );

    let unknown = output(reimage_at(
        &sim,
        state.path(),
        &["execution", "show", "exec-doesnotexist"],
    ))
    .await;
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("no execution exec-doesnotexist"),
        "{}",
        text(&unknown.stderr)
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_an_unknown_instance_fails_naming_it() {
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let out = output(reimage_at(
        &sim,
        state.path(),
        &["run", "--instance", "i-doesnotexist01", "--config", ACTIVE],
    ))
    .await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("instance i-doesnotexist01 does not exist"),
        "{stderr}"
    );
    assert!(sim.admin().state().snapshots.is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_onto_an_eci_groups_configuration_fails_before_any_snapshot() {
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let out = output(reimage_at(
        &sim,
        state.path(),
        &[
            "run",
            "--instance",
            INSTANCE,
            "--config",
            ACTIVE,
            "--config",
            ECI_CONFIG,
        ],
    ))
    .await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(ECI_CONFIG), "{stderr}");
    assert!(stderr.contains("ECI"), "{stderr}");
    let admin = sim.admin();
    assert!(admin.state().snapshots.is_empty());
    assert_eq!(admin.calls_since_reset("CreateSnapshot"), 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_bad_credentials_fails_naming_the_cause() {
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let dir = state.path().display().to_string();
    let out = output(reimage(
        &["run", "--instance", INSTANCE, "--config", ACTIVE],
        &[
            ("REIMAGE_ENDPOINT", sim.endpoint()),
            ("REIMAGE_REGION", sim.region_id()),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", sim.access_key_id()),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret"),
            ("REIMAGE_STATE_DIR", &dir),
        ],
    ))
    .await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("SignatureDoesNotMatch"), "{stderr}");
    assert!(!stderr.contains("not-the-secret"), "{stderr}");

    let none = output(reimage(
        &["run", "--instance", INSTANCE, "--config", ACTIVE],
        &[
            ("REIMAGE_ENDPOINT", sim.endpoint()),
            ("REIMAGE_STATE_DIR", &dir),
        ],
    ))
    .await;
    assert!(!none.status.success());
    assert!(
        text(&none.stderr).contains("no credentials"),
        "{}",
        text(&none.stderr)
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_set_refuses_an_image_that_does_not_exist() {
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let before = sim.admin().scaling_configuration(ACTIVE).expect("active");
    let out = output(reimage_at(
        &sim,
        state.path(),
        &[
            "image",
            "set",
            "--config",
            ACTIVE,
            "--image",
            "m-doesnotexist0001",
        ],
    ))
    .await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("m-doesnotexist0001"), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert_eq!(
        sim.admin().scaling_configuration(ACTIVE).expect("active"),
        before
    );
    assert_eq!(
        sim.admin().calls_since_reset("ModifyScalingConfiguration"),
        0
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_set_puts_a_public_image_into_an_inactive_configuration() {
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let admin = sim.admin();
    let old = admin.scaling_configuration(INACTIVE).expect("inactive");
    let public = admin
        .state()
        .images
        .into_iter()
        .find(|i| i.owner_alias == "system" && i.image_id != old.image_id)
        .expect("another public image");
    let out = output(reimage_at(
        &sim,
        state.path(),
        &[
            "image",
            "set",
            "--config",
            INACTIVE,
            "--image",
            &public.image_id,
            "--output",
            "json",
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let set = json(&out);
    assert_eq!(set["old_image_id"], old.image_id.as_str());
    assert_eq!(set["new_image_id"], public.image_id.as_str());
    assert_eq!(set["lifecycle_state"], "Inactive");
    assert_eq!(
        admin
            .scaling_configuration(INACTIVE)
            .expect("inactive")
            .image_id,
        public.image_id
    );

    let eci = output(reimage_at(
        &sim,
        state.path(),
        &[
            "image",
            "set",
            "--config",
            ECI_CONFIG,
            "--image",
            &public.image_id,
        ],
    ))
    .await;
    assert!(!eci.status.success());
    assert!(text(&eci.stderr).contains("ECI"), "{}", text(&eci.stderr));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_prints_every_section() {
    let out = output(reimage(&["bench"], &[])).await;
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\nstderr: {}",
        text(&out.stderr)
    );
    for section in ["== pipeline:", "== fan-out:", "== retention:"] {
        assert!(stdout.contains(section), "{stdout}");
    }
    // The slow tasks section runs only when asked for, and says so.
    assert!(!stdout.contains("== tasks:"), "{stdout}");
    assert!(stdout.contains("--all"), "{stdout}");
    for figure in [
        "API calls, total",
        "DescribeImages calls",
        "Available → first ModifyScalingConfiguration",
        "ModifyScalingConfiguration",
    ] {
        assert!(stdout.contains(figure), "{stdout}");
    }
    // The fan-out section puts the image into 200 configurations: one call each.
    let fan_out = &stdout[stdout.find("== fan-out:").expect("fan-out section")..];
    let modify = fan_out
        .lines()
        .find(|l| l.trim_start().starts_with("ModifyScalingConfiguration"))
        .expect("a ModifyScalingConfiguration line");
    assert!(modify.trim_end().ends_with(" 200"), "{modify}");

    let unknown = output(reimage(&["bench", "--section", "nope"], &[])).await;
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("pipeline"),
        "{}",
        text(&unknown.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_whose_image_ends_in_create_failed_fails_and_touches_no_configuration() {
    let sim = sim().await;
    let admin = sim.admin();
    admin.fail_next_image();
    let before = admin.scaling_configuration(ACTIVE).expect("active");
    let state = tempfile::tempdir().expect("temp dir");
    let out = output(reimage_at(
        &sim,
        state.path(),
        &["run", "--instance", INSTANCE, "--config", ACTIVE],
    ))
    .await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("CreateFailed"), "{stderr}");
    assert!(stderr.contains("wait-image"), "{stderr}");
    assert_eq!(admin.scaling_configuration(ACTIVE).expect("active"), before);
    assert_eq!(admin.calls_since_reset("ModifyScalingConfiguration"), 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_records_stop_no_listing_and_doctor_names_them() {
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let out = output(reimage_at(
        &sim,
        state.path(),
        &[
            "run",
            "--instance",
            INSTANCE,
            "--config",
            ACTIVE,
            "--output",
            "json",
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let good = json(&out)["execution_id"]
        .as_str()
        .expect("an id")
        .to_owned();

    // A healthy store: doctor finds nothing and says so.
    let out = output(reimage_at(&sim, state.path(), &["doctor"])).await;
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("Unreadable records: none"),
        "{}",
        text(&out.stdout)
    );

    // A torn task record, a torn execution record, an execution stuck pending since 2020
    // (record 0 of the real run, moved to another id and back in time), and one just started
    // that holds a configuration's lease.
    let torn_task = state.path().join("tasks/task-torn/0000000000.json");
    std::fs::create_dir_all(torn_task.parent().unwrap()).unwrap();
    std::fs::write(&torn_task, br#"{"task_id":"task-to"#).unwrap();
    let torn_id = "exec-0123456789abcdef0123456789abcdef";
    let torn_exec = state
        .path()
        .join(format!("executions/{torn_id}/000000.json"));
    std::fs::create_dir_all(torn_exec.parent().unwrap()).unwrap();
    std::fs::write(&torn_exec, br#"{"execution_id":"#).unwrap();
    let stuck_id = "exec-fedcba9876543210fedcba9876543210";
    let record0 =
        std::fs::read_to_string(state.path().join(format!("executions/{good}/000000.json")))
            .unwrap();
    let mut stuck: Value = serde_json::from_str(&record0).unwrap();
    stuck["execution_id"] = Value::from(stuck_id);
    stuck["started_at"] = Value::from("2020-01-01T00:00:00Z");
    stuck["state"]["due_at"] = Value::from("2020-01-01T00:00:00Z");
    let stuck_path = state
        .path()
        .join(format!("executions/{stuck_id}/000000.json"));
    std::fs::create_dir_all(stuck_path.parent().unwrap()).unwrap();
    std::fs::write(&stuck_path, stuck.to_string()).unwrap();
    let holder_id = "exec-00000000000000000000000000000001";
    let mut holder: Value = serde_json::from_str(&record0).unwrap();
    holder["execution_id"] = Value::from(holder_id);
    let now = reimage::clock::Clock::now(&reimage::clock::SystemClock);
    holder["state"]["due_at"] = Value::from(now.to_rfc3339());
    let holder_path = state
        .path()
        .join(format!("executions/{holder_id}/000000.json"));
    std::fs::create_dir_all(holder_path.parent().unwrap()).unwrap();
    std::fs::write(&holder_path, holder.to_string()).unwrap();
    let lease_path = state.path().join("leases/asc-doctor/000000.json");
    std::fs::create_dir_all(lease_path.parent().unwrap()).unwrap();
    let lease = serde_json::json!({
        "kind": "hold", "execution_id": holder_id, "configuration_ids": ["asc-doctor"],
        "written_at": "2020-01-01T00:00:00Z",
    });
    std::fs::write(&lease_path, lease.to_string()).unwrap();

    let listed = || async {
        let out = output(reimage_at(
            &sim,
            state.path(),
            &["execution", "list", "--output", "json"],
        ))
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        json(&out)["executions"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|e| e["execution_id"].as_str().unwrap().to_owned())
            .collect::<Vec<String>>()
    };
    // Records written by hand have no index entry: the listing shows them once the store is
    // reindexed, the torn one never.
    assert_eq!(listed().await, std::slice::from_ref(&good));
    let out = output(reimage_at(&sim, state.path(), &["records", "reindex"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("skipped executions/{torn_id}/000000.json")),
        "{}",
        text(&out.stdout)
    );
    let listed = listed().await;
    assert_eq!(
        listed,
        [holder_id.to_owned(), good.clone(), stuck_id.to_owned()],
        "newest first"
    );
    let out = output(reimage_at(&sim, state.path(), &["task", "list"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = output(reimage_at(
        &sim,
        state.path(),
        &["execution", "show", torn_id],
    ))
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(&format!("executions/{torn_id}/000000.json")),
        "{}",
        text(&out.stderr)
    );

    let out = output(reimage_at(
        &sim,
        state.path(),
        &["doctor", "--output", "json"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let found = json(&out);
    let keys: Vec<&str> = found["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "tasks/task-torn/0000000000.json".to_owned(),
            format!("executions/{torn_id}/000000.json")
        ]
    );
    let stuck_found: Vec<&str> = found["past_deadline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["execution_id"].as_str().unwrap())
        .collect();
    assert_eq!(stuck_found, [stuck_id]);
    assert_eq!(
        found["leases"],
        serde_json::json!([
            {"configuration_id": "asc-doctor", "holder": holder_id, "waiting": []}
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_start_moves_the_fleet_and_status_and_list_tell_the_same() {
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let target = "aliyun_3_x64_20G_alibase_20240101.vhd";
    let out = output(reimage_at(
        &sim,
        state.path(),
        &[
            "rollout",
            "start",
            "--group",
            "asg-bp1demoweb0000001",
            "--image",
            target,
            "--max-unavailable",
            "50%",
            "--bake-seconds",
            "0",
            "--warmup-seconds",
            "0",
            "--output",
            "json",
        ],
    ))
    .await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let done = json(&out);
    assert_eq!(done["outcome"]["outcome"], "succeeded", "{done}");
    assert_eq!(done["moved"].as_array().map(Vec::len), Some(6));
    assert_eq!(done["plan"]["batch_size"], 3, "half of six at a time");
    let state_now = sim.admin().state();
    for m in &state_now.scaling_instances {
        let instance = sim.admin().instance(&m.instance_id).unwrap();
        assert_eq!(instance.image_id, target, "{}", m.instance_id);
        assert_eq!(m.lifecycle_state, "InService");
    }
    assert_eq!(
        sim.admin().scaling_configuration(ACTIVE).unwrap().image_id,
        target
    );

    let id = done["rollout_id"].as_str().unwrap();
    let status = output(reimage_at(
        &sim,
        state.path(),
        &["rollout", "status", id, "--output", "json"],
    ))
    .await;
    assert_eq!(json(&status), done, "status reads the record start printed");
    let list = output(reimage_at(&sim, state.path(), &["rollout", "list"])).await;
    let listed = text(&list.stdout);
    assert!(
        listed.contains(id) && listed.contains("succeeded"),
        "{listed}"
    );

    let refused = output(reimage_at(
        &sim,
        state.path(),
        &[
            "rollout",
            "start",
            "--group",
            "asg-nothing",
            "--image",
            target,
        ],
    ))
    .await;
    assert_eq!(refused.status.code(), Some(1));
    let said = text(&refused.stdout);
    assert!(
        said.contains("refused: scaling group asg-nothing does not exist"),
        "{said}"
    );
    let bad = output(reimage_at(
        &sim,
        state.path(),
        &[
            "rollout",
            "start",
            "--group",
            "asg-x",
            "--image",
            target,
            "--max-unavailable",
            "0%",
        ],
    ))
    .await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("percentage from 1% to 100%"),
        "{}",
        text(&bad.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_start_with_the_refresh_strategy_replaces_the_fleet() {
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let target = "aliyun_3_x64_20G_alibase_20240101.vhd";
    let before: Vec<String> = sim
        .admin()
        .state()
        .scaling_instances
        .iter()
        .map(|m| m.instance_id.clone())
        .collect();
    let out = output(reimage_at(
        &sim,
        state.path(),
        &[
            "rollout",
            "start",
            "--group",
            "asg-bp1demoweb0000001",
            "--image",
            target,
            "--strategy",
            "refresh",
            "--max-unavailable",
            "50%",
            "--bake-seconds",
            "0",
            "--warmup-seconds",
            "0",
            "--output",
            "json",
        ],
    ))
    .await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let done = json(&out);
    assert_eq!(done["outcome"]["outcome"], "succeeded", "{done}");
    assert_eq!(done["spec"]["strategy"], "refresh");
    assert_eq!(done["replaced"].as_array().map(Vec::len), Some(6), "{done}");
    let now = sim.admin().state();
    assert_eq!(now.scaling_instances.len(), 6);
    for m in &now.scaling_instances {
        assert!(!before.contains(&m.instance_id), "{} is new", m.instance_id);
        assert_eq!(
            sim.admin().instance(&m.instance_id).unwrap().image_id,
            target
        );
    }
    assert_eq!(
        sim.admin().scaling_configuration(ACTIVE).unwrap().image_id,
        target,
        "ESS updated the configuration when the refresh succeeded"
    );
    let id = done["rollout_id"].as_str().unwrap();
    let status = output(reimage_at(&sim, state.path(), &["rollout", "status", id])).await;
    let said = text(&status.stdout);
    assert_eq!(
        said.lines().filter(|l| l.ends_with("  replaced")).count(),
        6,
        "{said}"
    );
    assert!(
        !said.contains("canary "),
        "a refresh has no canary batch: {said}"
    );
    let refused = output(reimage_at(
        &sim,
        state.path(),
        &[
            "rollout",
            "start",
            "--group",
            "asg-bp1demoweb0000001",
            "--image",
            target,
            "--strategy",
            "refresh",
            "--standby",
            "include",
        ],
    ))
    .await;
    assert_ne!(refused.status.code(), Some(0));
    let all = format!("{}{}", text(&refused.stdout), text(&refused.stderr));
    assert!(all.contains("need the in-place strategy"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "about 20 s of real time: run with -- --ignored"]
async fn demo_rollout_moves_the_fleet_then_catches_a_bad_image_on_the_canary() {
    let out = output(reimage(&["demo", "--image-seconds", "1", "--rollout"], &[])).await;
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(stdout.contains("outcome: succeeded"), "{stdout}");
    assert!(
        stdout.contains(
            "outcome: rolled back: the readiness command failed on i-bp1demofleet0000001 (exit 1)"
        ),
        "{stdout}"
    );
    let last_configuration_line = stdout
        .lines()
        .rev()
        .find(|l| l.contains("configuration asc-bp1demoweb0000001 holds"))
        .unwrap();
    assert!(
        !last_configuration_line.contains("aliyun_3"),
        "the bad image never reached the configuration: {last_configuration_line}"
    );
    // Behind the load balancer, web-2's weight of 80 is put back after each rollout.
    let web2: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("i-bp1demofleet0000002"))
        .collect();
    assert!(web2.len() >= 3, "{stdout}");
    for line in web2 {
        assert!(line.contains("lb-bp1demoweb00000001  80"), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_dry_run_changes_nothing_and_a_drifted_group_is_refused() {
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let target = "aliyun_3_x64_20G_alibase_20240101.vhd";
    let start = |extra: &[&str]| {
        let mut args = vec![
            "rollout",
            "start",
            "--group",
            "asg-bp1demoweb0000001",
            "--image",
            target,
            "--bake-seconds",
            "0",
            "--warmup-seconds",
            "0",
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        args.iter()
            .map(|a| (*a).to_owned())
            .collect::<Vec<String>>()
    };
    let run = |args: Vec<String>| {
        let borrowed: Vec<&str> = args.iter().map(String::as_str).collect();
        reimage_at(&sim, state.path(), &borrowed)
    };
    sim.admin().reset_calls();
    let dry = output(run(start(&["--dry-run"]))).await;
    assert!(dry.status.success(), "stderr: {}", text(&dry.stderr));
    let plan = json(&dry);
    assert_eq!(
        plan["batches"].as_array().map(Vec::len),
        Some(6),
        "a canary, then one at a time"
    );
    let hash = plan["plan_hash"].as_str().unwrap().to_owned();
    let calls = sim.admin().calls().since_reset;
    for write in [
        "EnterStandby",
        "StopInstances",
        "ReplaceSystemDisk",
        "SuspendProcesses",
        "ModifyScalingConfiguration",
    ] {
        assert!(
            !calls.contains_key(write),
            "a dry run called {write}: {calls:?}"
        );
    }
    assert!(calls.contains_key("DescribeScalingInstances"), "{calls:?}");

    // The group drifts: its active configuration gets another image.
    let ubuntu = "ubuntu_22_04_x64_20G_alibase_20240101.vhd";
    let set = |image: &str| {
        reimage_at(
            &sim,
            state.path(),
            &["image", "set", "--config", ACTIVE, "--image", image],
        )
    };
    assert!(output(set(target)).await.status.success());
    let drifted = output(run(start(&["--plan-hash", &hash]))).await;
    assert_eq!(drifted.status.code(), Some(1));
    let refused = json(&drifted);
    let reason = refused["outcome"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("changed since the dry run"), "{refused}");
    assert_eq!(
        sim.admin().calls().since_reset.get("EnterStandby"),
        None,
        "nothing moved"
    );

    assert!(output(set(ubuntu)).await.status.success());
    let same = output(run(start(&["--plan-hash", &hash]))).await;
    assert!(same.status.success(), "stdout: {}", text(&same.stdout));
    assert_eq!(json(&same)["outcome"]["outcome"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_rollback_puts_back_a_rollout_in_its_bake_and_continue_drives_one_to_its_end() {
    use std::sync::Arc;

    use reimage::rollout::{Advanced, Phase, RolloutSpec, RolloutTiming, Rollouts};

    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let target = "aliyun_3_x64_20G_alibase_20240101.vhd";
    let ubuntu = "ubuntu_22_04_x64_20G_alibase_20240101.vhd";
    let clock: reimage::clock::SharedClock = Arc::new(reimage::clock::SystemClock);
    let mut config = sim.client_config();
    config.clock = clock.clone();
    let client = reimage::aliyun::Client::new(config).unwrap();
    let rollouts = Rollouts::new(
        Arc::new(reimage::store::file::FileStore::open(state.path()).unwrap()),
        Arc::new(reimage::steps::AliyunCloud::new(client)),
        clock,
        Arc::new(reimage::ids::RandomIds),
        RolloutTiming::default(),
    );
    let spec = RolloutSpec {
        bake_seconds: 3600,
        warmup_seconds: 0,
        ..RolloutSpec::new("asg-bp1demoweb0000001", target)
    };

    // A rollout whose process ended while its canary baked.
    let baking = rollouts.start(spec.clone()).await.unwrap();
    loop {
        let advanced = rollouts.advance(&baking).await.unwrap();
        let latest = rollouts.latest(&baking).await.unwrap();
        if matches!(latest.phase, Some(Phase::Bake { .. })) {
            break;
        }
        assert!(!matches!(advanced, Advanced::Ended(_)), "{}", latest.note);
    }
    let canary = rollouts.latest(&baking).await.unwrap().moved[0].clone();
    assert_eq!(sim.admin().instance(&canary).unwrap().image_id, target);
    let out = output(reimage_at(
        &sim,
        state.path(),
        &["rollout", "rollback", baking.as_str(), "--output", "json"],
    ))
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "a rolled-back rollout did not succeed"
    );
    let done = json(&out);
    assert_eq!(done["outcome"]["outcome"], "rolled_back", "{done}");
    assert_eq!(
        done["outcome"]["reason"],
        "an operator asked for a rollback"
    );
    assert_eq!(sim.admin().instance(&canary).unwrap().image_id, ubuntu);
    assert_eq!(
        sim.admin().scaling_configuration(ACTIVE).unwrap().image_id,
        ubuntu
    );
    for m in sim.admin().state().scaling_instances {
        assert_eq!(m.lifecycle_state, "InService", "{}", m.instance_id);
    }

    // A rollout whose process ended after its pre-flight.
    let stopped = rollouts
        .start(RolloutSpec {
            bake_seconds: 0,
            max_unavailable: reimage::rollout::Amount::Count(3),
            ..spec
        })
        .await
        .unwrap();
    rollouts.advance(&stopped).await.unwrap();
    let out = output(reimage_at(
        &sim,
        state.path(),
        &["rollout", "continue", stopped.as_str()],
    ))
    .await;
    let said = text(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(said.contains("succeeded (6 moved, 0 put back)"), "{said}");
    assert_eq!(
        sim.admin().scaling_configuration(ACTIVE).unwrap().image_id,
        target
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_with_a_rollout_carries_its_image_to_the_fleet() {
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let bad = output(reimage_at(
        &sim,
        state.path(),
        &[
            "task",
            "create",
            "--instance",
            "i-bp1demoweb000000001",
            "--config",
            ACTIVE,
            "--rollout",
            r#"{"max_unavailable": "lots"}"#,
        ],
    ))
    .await;
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("--rollout"),
        "{}",
        text(&bad.stderr)
    );
    let created = output(reimage_at(
        &sim,
        state.path(),
        &[
            "task",
            "create",
            "--instance",
            "i-bp1demoweb000000001",
            "--config",
            ACTIVE,
            "--rollout",
            r#"{"max_unavailable": "50%", "bake_seconds": 0, "warmup_seconds": 0}"#,
            "--output",
            "json",
        ],
    ))
    .await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let task_id = json(&created)["task_id"].as_str().unwrap().to_owned();
    let run = output(reimage_at(&sim, state.path(), &["task", "run", &task_id])).await;
    let said = text(&run.stdout);
    assert!(
        run.status.success(),
        "{said}\nstderr: {}",
        text(&run.stderr)
    );
    assert!(
        said.contains("of asg-bp1demoweb0000001: succeeded"),
        "{said}"
    );
    let image = sim.admin().scaling_configuration(ACTIVE).unwrap().image_id;
    assert!(image.starts_with("m-"), "the run's image: {image}");
    for m in sim.admin().state().scaling_instances {
        if m.scaling_group_id == "asg-bp1demoweb0000001" {
            assert_eq!(
                sim.admin().instance(&m.instance_id).unwrap().image_id,
                image
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_checkpoints_stop_the_cli_until_continue_and_cancel_ends_it() {
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let target = "aliyun_3_x64_20G_alibase_20240101.vhd";
    let mut args = vec![
        "rollout",
        "start",
        "--group",
        "asg-bp1demoweb0000001",
        "--image",
        target,
        "--max-unavailable",
        "1",
        "--bake-seconds",
        "0",
        "--warmup-seconds",
        "0",
        "--checkpoint",
        "30%",
    ];
    let refused = output(reimage_at(&sim, state.path(), &args)).await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("--pause-at-checkpoints"),
        "{}",
        text(&refused.stderr)
    );
    args.extend(["--pause-at-checkpoints", "--output", "json"]);
    let paused = output(reimage_at(&sim, state.path(), &args)).await;
    assert_eq!(paused.status.code(), Some(3), "{}", text(&paused.stderr));
    let record = json(&paused);
    assert_eq!(record["phase"]["phase"], "checkpoint", "{record}");
    let id = record["rollout_id"].as_str().unwrap().to_owned();
    let moved = record["moved"].as_array().unwrap().len();
    assert_eq!(
        moved, 2,
        "one instance a batch after a canary of one: 2 of 6 is past 30%"
    );

    let cancelled = output(reimage_at(
        &sim,
        state.path(),
        &["rollout", "cancel", &id, "--output", "json"],
    ))
    .await;
    assert_eq!(
        cancelled.status.code(),
        Some(1),
        "{}",
        text(&cancelled.stderr)
    );
    let record = json(&cancelled);
    assert_eq!(record["outcome"]["outcome"], "cancelled", "{record}");
    assert_eq!(record["outcome"]["moved"].as_array().unwrap().len(), 2);
    let on_target = sim
        .admin()
        .state()
        .scaling_instances
        .iter()
        .filter(|m| sim.admin().instance(&m.instance_id).unwrap().image_id == target)
        .count();
    assert_eq!(on_target, 2);
    for m in sim.admin().state().scaling_instances {
        assert_eq!(m.lifecycle_state, "InService", "{}", m.instance_id);
    }
    let group = sim
        .admin()
        .state()
        .scaling_groups
        .into_iter()
        .find(|g| g.scaling_group_id == "asg-bp1demoweb0000001")
        .unwrap();
    assert!(
        group.suspended_processes.is_empty(),
        "{:?}",
        group.suspended_processes
    );
    let again = output(reimage_at(
        &sim,
        state.path(),
        &["rollout", "continue", &id],
    ))
    .await;
    assert!(
        again.status.code() == Some(1) && text(&again.stdout).contains("cancelled"),
        "an ended rollout is not continued: {}",
        text(&again.stdout)
    );
}

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            todo.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.exists() {
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out
}

/// The actions the sim answered since its counters were reset that may change something
/// (RunInstances is the pre-flight's dry run; the instances are counted apart).
fn sim_writes(sim: &Sim) -> Vec<String> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_dry_run_prints_the_plan_and_creates_and_records_nothing() {
    let sim = sim().await;
    let admin = sim.admin();
    let old_active = admin.scaling_configuration(ACTIVE).unwrap().image_id;
    let old_inactive = admin.scaling_configuration(INACTIVE).unwrap().image_id;
    let instances = admin.state().instances.len();
    let state = tempfile::tempdir().expect("temp dir");
    admin.reset_calls();
    let good = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--dry-run",
            "--instance",
            INSTANCE,
            "--config",
            ACTIVE,
            "--config",
            INACTIVE,
            "--name",
            "web",
        ];
        args.extend_from_slice(extra);
        reimage_at(&sim, state.path(), &args)
    };
    let out = output(good(&[])).await;
    let said = text(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(
        said.starts_with("dry run of an image update: would run (nothing was created)"),
        "{said}"
    );
    assert!(said.contains("image name      web_on_exec-"), "{said}");
    assert!(
        said.contains(&format!(
            "source          {INSTANCE} (Running), system disk d-"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "  {ACTIVE} (asg-bp1demoweb0000001, Active)  {old_active} → (new image)"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "  {INACTIVE} (asg-bp1demoweb0000001, Inactive)  {old_inactive} → (new image)"
        )),
        "{said}"
    );
    assert!(
        said.contains("CreateSnapshot, DescribeSnapshots…, CreateImage"),
        "{said}"
    );
    assert!(said.contains("ModifyScalingConfiguration × 2"), "{said}");
    assert!(!said.contains("problems"), "{said}");

    let out = output(good(&["--output", "json"])).await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let plan = json(&out);
    assert_eq!(plan["would_run"], true);
    assert_eq!(plan["problems"], serde_json::json!([]));
    assert_eq!(
        plan["configurations"][0]["previous_image_id"],
        old_active.as_str()
    );
    assert_eq!(plan["configurations"][1]["image_id"], "(new image)");
    assert!(
        plan["image_name"]
            .as_str()
            .is_some_and(|n| n.starts_with("web_on_exec-")),
        "{plan}"
    );
    assert!(
        plan["calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["action"] == "CreateImage" && c["step"] == "create-image"),
        "{plan}"
    );

    // Nothing in the cloud, nothing in the state directory.
    assert_eq!(sim_writes(&sim), Vec::<String>::new());
    assert!(admin.state().snapshots.is_empty());
    assert_eq!(admin.state().instances.len(), instances);
    assert_eq!(
        admin.scaling_configuration(ACTIVE).unwrap().image_id,
        old_active
    );
    assert_eq!(files_under(state.path()), Vec::<String>::new());

    // A bad instance, an unknown configuration and an ECI group's: each named, exit 1.
    let bad = output(reimage_at(
        &sim,
        state.path(),
        &[
            "run",
            "--dry-run",
            "--instance",
            "i-doesnotexist01",
            "--config",
            ACTIVE,
            "--config",
            "asc-bp1nosuchconfig01",
            "--config",
            ECI_CONFIG,
        ],
    ))
    .await;
    let said = text(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{said}");
    assert!(said.contains("would NOT run: 3 problems"), "{said}");
    for problem in [
        "  - instance i-doesnotexist01 does not exist".to_owned(),
        "  - scaling configuration asc-bp1nosuchconfig01 does not exist".to_owned(),
        format!("  - scaling configuration {ECI_CONFIG} belongs to scaling group"),
    ] {
        assert!(said.contains(&problem), "{problem}: {said}");
    }
    assert_eq!(sim_writes(&sim), Vec::<String>::new());
    assert_eq!(files_under(state.path()), Vec::<String>::new());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_run_dry_run_checks_the_task_and_starts_no_run() {
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let create = |instance: &str, config: &str| {
        reimage_at(
            &sim,
            state.path(),
            &[
                "task",
                "create",
                "--instance",
                instance,
                "--config",
                config,
                "--output",
                "json",
            ],
        )
    };
    let created = output(create(INSTANCE, ACTIVE)).await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let task_id = json(&created)["task_id"].as_str().unwrap().to_owned();
    let before = files_under(state.path());
    sim.admin().reset_calls();

    let out = output(reimage_at(
        &sim,
        state.path(),
        &["task", "run", &task_id, "--dry-run"],
    ))
    .await;
    let said = text(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(
        said.starts_with("dry run of an image update: would run"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "image name      UpdateImage_from_{INSTANCE}_on_exec-"
        )),
        "{said}"
    );
    let out = output(reimage_at(
        &sim,
        state.path(),
        &["task", "run", &task_id, "--dry-run", "--output", "json"],
    ))
    .await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let plan = json(&out);
    assert_eq!(plan["would_run"], true, "{plan}");
    assert_eq!(plan["configurations"][0]["configuration_id"], ACTIVE);

    // No run: no execution, no entry in the task's runs, nothing new in the store.
    assert_eq!(files_under(state.path()), before);
    let list = output(reimage_at(
        &sim,
        state.path(),
        &["execution", "list", "--output", "json"],
    ))
    .await;
    assert_eq!(json(&list)["executions"], serde_json::json!([]));
    assert_eq!(sim_writes(&sim), Vec::<String>::new());
    assert!(sim.admin().state().snapshots.is_empty());

    // A task onto an ECI group's configuration: refused, exit 1, named.
    let created = output(create(INSTANCE, ECI_CONFIG)).await;
    let eci_task = json(&created)["task_id"].as_str().unwrap().to_owned();
    let out = output(reimage_at(
        &sim,
        state.path(),
        &["task", "run", &eci_task, "--dry-run", "--output", "json"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let refused = json(&out);
    assert_eq!(refused["would_run"], false);
    let problems = refused["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{refused}");
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .contains(&format!("{ECI_CONFIG} belongs to scaling group")),
        "{refused}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_list_and_prune_tell_what_retention_does_and_only_apply_marks() {
    let sim = sim().await;
    // Images of `reimage run`: no task, the deployment's default retention.
    let managed = vec![reimage_sim::seed::SeedTag::new("reimage:managed", "true")];
    let seeded = sim
        .admin()
        .add_custom_image_batch(&reimage_sim::seed::CustomImageBatch {
            name_prefix: "web".into(),
            count: 8,
            snapshot_tags: managed.clone(),
            tags: managed,
            age_seconds: 30 * 86_400,
            spacing_seconds: 3 * 86_400,
            size: 40,
        })
        .expect("images seeded");
    let state = tempfile::tempdir().expect("temp dir");
    let marked = || {
        sim.admin()
            .state()
            .images
            .iter()
            .filter(|i| i.tags.iter().any(|(k, _)| k == "reimage:prune-marked"))
            .count()
    };

    let list = output(reimage_at(&sim, state.path(), &["images", "list"])).await;
    let stdout = text(&list.stdout);
    assert!(list.status.success(), "{stdout}\n{}", text(&list.stderr));
    // The three oldest (30, 27, 24 days) are past the newest five and 14 days.
    for (i, image) in seeded.iter().enumerate() {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&image.image_id))
            .unwrap_or_else(|| panic!("{} listed: {stdout}", image.image_id));
        let want = if i < 3 { " mark " } else { " keep " };
        assert!(line.contains(want), "{line}");
    }

    let dry = output(reimage_at(&sim, state.path(), &["images", "prune"])).await;
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(text(&dry.stdout).contains("dry run: nothing changed"));
    assert_eq!(marked(), 0, "a prune without --apply marks nothing");

    let applied = output(reimage_at(
        &sim,
        state.path(),
        &["images", "prune", "--apply", "--output", "json"],
    ))
    .await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    let body = json(&applied);
    assert_eq!(body["outcome"]["marked"].as_array().map(Vec::len), Some(3));
    assert_eq!(marked(), 3);
}

/// Every file under `dir` whose bytes contain any of `needles`, with the needle found.
fn files_containing(dir: &Path, needles: &[&str]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for file in files_under(dir) {
        let bytes = std::fs::read(dir.join(&file)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for needle in needles {
            if text.contains(needle) {
                found.push((file.clone(), (*needle).to_owned()));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_targets_are_kept_sealed_and_shown_redacted_and_bad_ones_are_refused() {
    const SLACK_TOKEN: &str = "T0NOTIFY1/B0NOTIFY2/slackcredential0123456789";
    const DINGTALK_TOKEN: &str = "dingtalkaccesstoken0123456789";
    const DINGTALK_SECRET: &str = "SECdingtalksecret0123456789abcdef";
    const HTTPS_SECRET: &str = "https-notify-secret-0123456789";
    const HTTPS_TOKEN: &str = "querytoken0123456789";
    let secrets = [
        SLACK_TOKEN,
        "slackcredential0123456789",
        DINGTALK_TOKEN,
        DINGTALK_SECRET,
        HTTPS_SECRET,
        HTTPS_TOKEN,
    ];
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // The state directory in a directory of its own: the local sealing key is kept beside
    // it (`state.key`), not in it.
    let state = dir.path().join("state");
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let write = |name: &str, body: String| {
        let path = files.join(name);
        std::fs::write(&path, body).unwrap();
        path.display().to_string()
    };

    let defaults = write(
        "defaults.json",
        serde_json::json!([{
            "kind": "slack",
            "webhook_url": format!("https://hooks.slack.com/services/{SLACK_TOKEN}"),
        }])
        .to_string(),
    );
    let out = output(reimage_at(
        &sim,
        &state,
        &["notify", "set-defaults", "--file", &defaults],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = output(reimage_at(&sim, &state, &["notify", "show"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("slack https://hooks.slack.com/<redacted>"),
        "{shown}"
    );
    for secret in secrets {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    let out = output(reimage_at(
        &sim,
        &state,
        &["notify", "show", "--output", "json"],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        json(&out)["defaults"],
        serde_json::json!([{"kind": "slack", "url": "https://hooks.slack.com/<redacted>"}])
    );

    // A task's own targets, from a file.
    let targets = write(
        "targets.json",
        serde_json::json!([
            {
                "kind": "dingtalk",
                "webhook_url": format!(
                    "https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}"
                ),
                "secret": DINGTALK_SECRET,
            },
            {
                "kind": "https",
                "url": format!("https://hooks.example.com/reimage?token={HTTPS_TOKEN}"),
                "secret": HTTPS_SECRET,
            },
        ])
        .to_string(),
    );
    let role_arn = format!(
        "acs:ram::{}:role/reimage-updater",
        sim.state().region().account_id
    );
    let create = |notify_file: &str| {
        reimage_at(
            &sim,
            &state,
            &[
                "task",
                "create",
                "--instance",
                INSTANCE,
                "--config",
                ACTIVE,
                "--cron",
                "0 0 3 * * *",
                "--role-arn",
                &role_arn,
                "--notify-file",
                notify_file,
                "--output",
                "json",
            ],
        )
    };
    let created = output(create(&targets)).await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let created_text = text(&created.stdout);
    for secret in secrets {
        assert!(!created_text.contains(secret), "{secret}: {created_text}");
    }
    let task_id = json(&created)["task_id"].as_str().unwrap().to_owned();
    let out = output(reimage_at(&sim, &state, &["task", "show", &task_id])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let notify_lines: Vec<&str> = shown
        .lines()
        .skip_while(|l| !l.starts_with("notify "))
        .take(2)
        .map(str::trim)
        .collect();
    assert_eq!(
        notify_lines,
        [
            "notify          dingtalk https://oapi.dingtalk.com/<redacted>",
            "https https://hooks.example.com/<redacted>",
        ],
        "{shown}"
    );
    for secret in secrets {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    let out = output(reimage_at(
        &sim,
        &state,
        &["task", "show", &task_id, "--output", "json"],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        json(&out)["notify"],
        serde_json::json!([
            {"kind": "dingtalk", "url": "https://oapi.dingtalk.com/<redacted>"},
            {"kind": "https", "url": "https://hooks.example.com/<redacted>"},
        ])
    );

    // `task list`: a header with each task's recent runs, none yet.
    let out = output(reimage_at(&sim, &state, &["task", "list"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    let mut lines = listed.lines();
    let header = lines.next().expect("a header");
    let columns = [
        "TASK",
        "STATE",
        "NEXT RUN",
        "LAST RUN",
        "LAST SUCCESS",
        "FAILURES",
        "SCHEDULE",
    ];
    let at: Vec<Option<usize>> = columns.iter().map(|c| header.find(c)).collect();
    assert!(
        at.iter().all(Option::is_some) && at.windows(2).all(|w| w[0] < w[1]),
        "{listed}"
    );
    let row: Vec<&str> = lines.next().expect("the task").split_whitespace().collect();
    assert_eq!(row[0], task_id, "{listed}");
    assert_eq!(row[1], "enabled", "{listed}");
    // NEXT RUN is a date, a time and `UTC`; then no last run, no success, no failure.
    assert_eq!(&row[5..8], ["-", "-", "0"], "{listed}");

    // Nothing under the state directory holds a token or a secret in plaintext.
    assert!(!files_under(&state).is_empty());
    assert_eq!(
        files_containing(&state, &secrets),
        Vec::<(String, String)>::new()
    );

    // A file that is not a list of targets: named, and nothing written.
    let before = files_under(&state);
    let malformed = write("malformed.json", r#"{"kind": "slack""#.to_owned());
    for args in [
        vec!["notify", "set-defaults", "--file", malformed.as_str()],
        vec![
            "task",
            "create",
            "--instance",
            INSTANCE,
            "--config",
            ACTIVE,
            "--cron",
            "0 0 3 * * *",
            "--role-arn",
            &role_arn,
            "--notify-file",
            &malformed,
        ],
    ] {
        let out = output(reimage_at(&sim, &state, &args)).await;
        assert!(!out.status.success(), "{args:?}");
        let said = text(&out.stderr);
        assert!(
            said.contains(&malformed)
                && said.contains("is not a JSON list of notification targets"),
            "{args:?}: {said}"
        );
    }
    // A Slack URL that is not Slack's: refused with the validation's words.
    let elsewhere = write(
        "elsewhere.json",
        serde_json::json!([{
            "kind": "slack", "webhook_url": "https://hooks.example.com/services/T0/B0/x",
        }])
        .to_string(),
    );
    for out in [
        output(reimage_at(
            &sim,
            &state,
            &["notify", "set-defaults", "--file", &elsewhere],
        ))
        .await,
        output(create(&elsewhere)).await,
    ] {
        assert!(!out.status.success());
        let said = text(&out.stderr);
        assert!(
            said.contains(r#"a slack URL must be on hooks.slack.com, not "hooks.example.com""#),
            "{said}"
        );
    }
    assert_eq!(files_under(&state).len(), before.len(), "nothing written");
    let out = output(reimage_at(&sim, &state, &["notify", "show"])).await;
    assert!(
        text(&out.stdout).contains("slack https://hooks.slack.com/<redacted>"),
        "the defaults are as they were: {}",
        text(&out.stdout)
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_image_set_update_a_group_that_launches_from_a_launch_template() {
    const GROUP: &str = "asg-bp1demoapi0000001";
    const OTHER: &str = "ubuntu_22_04_x64_20G_alibase_20231120.vhd";
    let sim = sim().await;
    let state = tempfile::tempdir().expect("temp dir");
    let admin = sim.admin();
    let template = admin
        .create_launch_template(&reimage_sim::ecs::seeding::SeedLaunchTemplate {
            launch_template_name: "api".into(),
            versions: vec![
                reimage_sim::ecs::seeding::SeedTemplateVersion::of_image(
                    "ubuntu_22_04_x64_20G_alibase_20240101.vhd",
                ),
                reimage_sim::ecs::seeding::SeedTemplateVersion::of_image(
                    "ubuntu_22_04_x64_20G_alibase_20240101.vhd",
                ),
            ],
            ..Default::default()
        })
        .expect("template");
    admin
        .set_group_launch_template(
            GROUP,
            &reimage_sim::ess::state::GroupLaunchTemplate {
                launch_template_id: template.clone(),
                launch_template_version: "2".into(),
                overrides: Vec::new(),
            },
        )
        .expect("group on the template");
    let version_of = |n: usize| {
        sim.admin()
            .state()
            .launch_templates
            .into_iter()
            .find(|t| t.launch_template_id == template)
            .and_then(|t| t.versions.get(n).cloned())
    };

    let out = output(reimage_at(
        &sim,
        state.path(),
        &[
            "run",
            "--instance",
            INSTANCE,
            "--group",
            GROUP,
            "--output",
            "json",
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let view = json(&out);
    let image = view["image_id"].as_str().expect("an image").to_owned();
    assert_eq!(view["template_groups"][0]["scaling_group_id"], GROUP);
    assert_eq!(view["template_groups"][0]["new_image_id"], image.as_str());
    assert_eq!(version_of(2), Some((3, Some(image.clone()))));

    // The manual update: the group's version copied with another image.
    let out = output(reimage_at(
        &sim,
        state.path(),
        &["image", "set", "--group", GROUP, "--image", OTHER],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("version 3 ({image}) → version 4 ({OTHER})")),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(version_of(3), Some((4, Some(OTHER.to_owned()))));

    // A dry run judges the groups as the run does, and changes nothing.
    let out = output(reimage_at(
        &sim,
        state.path(),
        &[
            "run",
            "--instance",
            INSTANCE,
            "--group",
            "asg-bp1demoweb0000001",
            "--dry-run",
        ],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("launches from scaling configurations"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(version_of(4), None, "nothing made");

    // A task mixing a configuration and the group: one run updates both.
    let created = output(reimage_at(
        &sim,
        state.path(),
        &[
            "task",
            "create",
            "--instance",
            INSTANCE,
            "--config",
            ACTIVE,
            "--group",
            GROUP,
            "--output",
            "json",
        ],
    ))
    .await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let task = json(&created);
    assert_eq!(task["scaling_group_ids"][0], GROUP, "{task}");
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let run = output(reimage_at(&sim, state.path(), &["task", "run", &task_id])).await;
    assert!(run.status.success(), "{}", text(&run.stderr));
    let mixed = sim.admin().scaling_configuration(ACTIVE).unwrap().image_id;
    assert!(mixed.starts_with("m-") && mixed != image, "{mixed}");
    assert_eq!(
        version_of(4),
        Some((5, Some(mixed.clone()))),
        "the group's new version"
    );
    let shown = output(reimage_at(&sim, state.path(), &["task", "show", &task_id])).await;
    assert!(
        text(&shown.stdout).contains(&format!("template groups {GROUP}")),
        "{}",
        text(&shown.stdout)
    );

    // A configuration-based group given as --group is refused, naming what to do instead.
    let out = output(reimage_at(
        &sim,
        state.path(),
        &[
            "image",
            "set",
            "--group",
            "asg-bp1demoweb0000001",
            "--image",
            OTHER,
        ],
    ))
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("launches from scaling configurations"),
        "{}",
        text(&out.stderr)
    );
    sim.shutdown().await;
}
