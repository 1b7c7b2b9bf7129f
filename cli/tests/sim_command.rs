//! `reimage sim` as a process: the ready line, the seed options, SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn reimage() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reimage"))
}

#[test]
fn print_seed_prints_a_seed_that_loads_back() {
    let out = reimage().args(["sim", "--print-seed"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let seed = reimage_sim::Seed::from_json(&text).unwrap();
    assert_eq!(seed, reimage_sim::Seed::demo());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.json");
    let mut edited = seed.clone();
    edited.region_id = "cn-shanghai".into();
    std::fs::write(&path, edited.to_json_pretty()).unwrap();
    let out = reimage()
        .args(["sim", "--print-seed", "--seed"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("cn-shanghai")
    );
}

#[test]
fn a_bad_seed_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.json");
    std::fs::write(&path, r#"{"region_id": "cn-hangzhou"}"#).unwrap();
    let out = reimage()
        .args(["sim", "--seed"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("seed.json"), "{err}");
    assert!(err.contains("account_id"), "{err}");
    let missing = reimage()
        .args(["sim", "--seed", "/nonexistent/seed.json"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8(missing.stderr)
            .unwrap()
            .contains("cannot read the seed file")
    );
}

#[test]
fn prints_one_ready_line_serves_and_stops_on_sigterm() {
    let mut child = reimage()
        .args(["sim", "--image-seconds", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ready["region_id"], "cn-hangzhou");
    assert!(ready["access_key_id"].is_string() && ready["access_key_secret"].is_string());
    let endpoint = ready["endpoint"].as_str().unwrap().to_owned();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let state: serde_json::Value = rt.block_on(async {
        reqwest::get(format!("{endpoint}/__sim/state"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(
        state["instances"].as_array().unwrap().len(),
        reimage_sim::Seed::demo().instances.len()
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}
