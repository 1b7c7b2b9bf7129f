//! Helpers shared by the end-to-end tests in `tests/tests/`.
//!
//! These tests cross process boundaries: the official Python SDKs against the sim, and the
//! function binaries under the sim's Function Compute front.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
        .to_path_buf()
}

/// The Python interpreter that has the official Alibaba Cloud SDKs installed.
///
/// `REIMAGE_PYTHON` if set (`.ci/run` sets it), else the workspace's `.venv`. Panics with
/// the command to run when neither exists: these tests are part of the suite, not optional.
pub fn python() -> PathBuf {
    #[allow(clippy::disallowed_methods)]
    if let Some(p) = std::env::var_os("REIMAGE_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with the Alibaba Cloud SDKs: run `bash .ci/setup` (or set REIMAGE_PYTHON)"
    );
    venv
}

/// Runs `tests/python/<script>` with `args` and `envs`; returns stdout, panicking with the
/// script's stderr if it fails.
pub fn run_python(script: &str, args: &[&str], envs: &[(&str, &str)]) -> String {
    let path = workspace_root().join("tests/python").join(script);
    let out = Command::new(python())
        .arg(&path)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot start python for {}: {e}", path.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `tests/python/<script>` against `sim`, off the async runtime: the script finds the
/// sim in `SIM_ENDPOINT`, `SIM_REGION`, `SIM_AK` and `SIM_SECRET`, and anything else in
/// `envs`. Returns stdout, panicking with the script's stderr if it fails.
pub async fn run_python_against(
    sim: &reimage_sim::Sim,
    script: &'static str,
    envs: &[(&str, &str)],
) -> String {
    let mut all: Vec<(String, String)> = vec![
        ("SIM_ENDPOINT".into(), sim.endpoint().into()),
        ("SIM_REGION".into(), sim.region_id().into()),
        ("SIM_AK".into(), sim.access_key_id().into()),
        ("SIM_SECRET".into(), sim.access_key_secret().into()),
    ];
    all.extend(envs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    tokio::task::spawn_blocking(move || {
        let envs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_python(script, &[], &envs)
    })
    .await
    .expect("the script's thread does not panic")
}
