//! `reimage up` as a process: the function binaries under the sim's FC front, an update
//! started through the HTTP trigger carried to success by async invocations, then SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reimage::settings::Env;

const FUNCTIONS: [&str; 4] = ["create-image", "wait-image", "swap-config", "verify"];

/// Builds the four function binaries next to the `reimage` binary; answers that directory.
fn build_functions() -> PathBuf {
    let env = Env::from_process();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut cmd = Command::new(env.get("CARGO").unwrap_or("cargo"));
    cmd.current_dir(workspace).args(["build", "--quiet"]);
    for f in FUNCTIONS {
        cmd.args(["-p", &format!("reimage-fn-{f}")]);
    }
    assert!(
        cmd.status().unwrap().success(),
        "building the functions failed"
    );
    Path::new(env!("CARGO_BIN_EXE_reimage"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn up_runs_an_update_through_the_http_trigger_and_stops_on_sigterm() {
    let bin_dir = build_functions();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_reimage"))
        .arg("up")
        .arg("--template")
        .arg(workspace.join("template.yml"))
        .arg("--bin-dir")
        .arg(&bin_dir)
        .args(["--image-seconds", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        let _ = child.kill();
        panic!("no ready line ({e}): {line:?}")
    });
    assert_eq!(
        ready["functions"].as_array().map(Vec::len),
        Some(4),
        "{ready}"
    );
    let trigger = ready["http_trigger"].as_str().unwrap().to_owned();
    let token = ready["api_token"].as_str().unwrap().to_owned();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let outcome = rt.block_on(async {
        let http = reqwest::Client::new();
        let refused = http.get(format!("{trigger}/tasks")).send().await.unwrap();
        assert_eq!(refused.status(), 401, "task management needs the token");
        let created: serde_json::Value = http
            .post(format!("{trigger}/tasks"))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "source_instance_id": "i-bp1demoweb000000001",
                "scaling_configuration_ids": ["asc-bp1demoweb0000001"],
                "executed_at": {"kind": "now"},
                "permission": {"kind": "account"}
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["run"]["execution_id"].as_str().unwrap().to_owned();
        let started = Instant::now();
        loop {
            let execution: serde_json::Value = http
                .get(format!("{trigger}/executions/{id}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if execution["state"]["status"] != "pending"
                || started.elapsed() > Duration::from_secs(120)
            {
                return execution;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(outcome["state"]["status"], "succeeded", "{outcome:#}");
    assert!(status.success(), "{status}");
}
