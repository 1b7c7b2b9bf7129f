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
