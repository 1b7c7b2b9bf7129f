//! The function binaries under the sim's FC front, driven through the `reimage` binary:
//!
//! - `reimage up`: an update started through the HTTP trigger carried to success by async
//!   invocations, then SIGTERM;
//! - `reimage bench --section fc`: the figures it prints come from a real execution of the
//!   binaries it was given.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reimage::settings::Env;

const FUNCTIONS: [&str; 5] = [
    "create-image",
    "wait-image",
    "swap-config",
    "verify",
    "rollout",
];
/// The four step functions, which an image update reaches.
const STEPS: [&str; 4] = ["create-image", "wait-image", "swap-config", "verify"];

/// Builds the function binaries next to the `reimage` binary; answers that directory.
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
        Some(FUNCTIONS.len()),
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

/// The value column of the figure named `name` in `reimage bench` output.
fn figure<'a>(output: &'a str, name: &str) -> &'a str {
    let line = output
        .lines()
        .find(|l| l.trim_start().starts_with(name))
        .unwrap_or_else(|| panic!("no figure {name:?} in:\n{output}"));
    line.trim_start()[name.len()..]
        .split("   goal")
        .next()
        .unwrap()
        .trim()
}

/// The leading number of a figure's value (`"12.5 ms"` → 12.5).
fn number(value: &str) -> f64 {
    value
        .split([' ', '×'])
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a number: {value:?}"))
}

#[test]
fn bench_fc_measures_an_execution_of_the_binaries_it_is_given() {
    let bin_dir = build_functions();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_reimage"))
        .current_dir(workspace)
        .args(["bench", "--section", "fc", "--image-seconds", "2"])
        .arg("--bin-dir")
        .arg(&bin_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");

    // Sizes are those of the files given.
    let size = std::fs::metadata(bin_dir.join("wait-image")).unwrap().len() as f64 / 1e6;
    assert_eq!(
        figure(&stdout, "binary size, wait-image"),
        format!("{size:.2} MB")
    );
    // Every step ran as an async /invoke of its own process; the update came through the
    // HTTP trigger.
    for step in STEPS {
        let calls = figure(&stdout, &format!("{step} /invoke"));
        assert!(number(calls) >= 1.0, "{step}: {calls}");
    }
    assert_eq!(number(figure(&stdout, "create-image /http-invoke")), 1.0);
    assert!(number(figure(&stdout, "execution, invocations")) >= 5.0);
    assert!(number(figure(&stdout, "execution, billed compute")) > 0.0);
    let start = number(figure(
        &stdout,
        "wait-image: exec → first answered /invoke, median of 21",
    ));
    assert!(start > 0.0 && start < 10_000.0, "{start}");
    // A process holds at least its own code's first pages.
    for step in STEPS {
        let peak = number(figure(&stdout, &format!("peak RSS, {step}")));
        assert!(peak > 1.0, "{step}: {peak} MiB");
    }
}

#[test]
fn bench_fc_names_the_missing_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_reimage"))
        .current_dir(workspace)
        .args(["bench", "--section", "fc", "--bin-dir"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no binary for function") && stderr.contains("reimage package"),
        "{stderr}"
    );
}

// A release build of the five functions takes minutes, so `.ci/run` runs this on its own
// after the suite: `cargo test -p reimage-cli --test fc_front -- --ignored`.
#[ignore = "release build of the five functions; run with -- --ignored"]
#[test]
fn package_lays_out_static_binaries_that_run_under_the_fc_front() {
    let dist = tempfile::tempdir().unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let packaged = Command::new(env!("CARGO_BIN_EXE_reimage"))
        .current_dir(workspace)
        .arg("package")
        .arg("--out")
        .arg(dist.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&packaged.stdout);
    let stderr = String::from_utf8_lossy(&packaged.stderr);
    assert!(packaged.status.success(), "{stdout}\n{stderr}");
    for f in FUNCTIONS {
        let bootstrap = dist.path().join(f).join("bootstrap");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&bootstrap)
                .unwrap_or_else(|e| panic!("{}: {e}\n{stdout}", bootstrap.display()))
                .permissions(),
        );
        assert_eq!(mode & 0o111, 0o111, "{} is executable", bootstrap.display());
        assert!(stdout.contains(f), "the report names {f}: {stdout}");
    }

    // The packaged binaries, started as FC starts them (nothing inherited from this
    // environment), carry an update to success.
    let bench = Command::new(env!("CARGO_BIN_EXE_reimage"))
        .current_dir(workspace)
        .args([
            "bench",
            "--section",
            "fc",
            "--image-seconds",
            "2",
            "--bin-dir",
        ])
        .arg(dist.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&bench.stdout);
    assert!(
        bench.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&bench.stderr)
    );
    for f in STEPS {
        assert!(
            number(figure(&out, &format!("{f} /invoke"))) >= 1.0,
            "{out}"
        );
    }
    // Printed for the CI log: the release figures of this machine.
    eprintln!("{out}");
}
