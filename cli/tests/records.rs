//! `reimage records prune` end to end: a file store holding an execution that ended long ago,
//! one left pending as long ago, and a recent one; the binary removes the first only.

use std::process::Command;
use std::sync::Arc;

use reimage::clock::{Clock, ManualClock, SystemClock};
use reimage::model::{ExecutionId, State};
use reimage::steps::testing::{demo_engine, ended_and_stuck, request_onto};
use reimage::store::SharedStore;
use reimage::store::file::FileStore;

fn prune(dir: &std::path::Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_reimage"))
        .args(["records", "prune", "--older-than", "400", "--state-dir"])
        .arg(dir)
        .args(extra)
        .env_clear()
        .output()
        .expect("the reimage binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn prune_removes_what_ended_long_ago_and_keeps_what_is_pending_or_recent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: SharedStore = Arc::new(FileStore::open(dir.path()).expect("store"));
    let clock = ManualClock::new(SystemClock.now() - chrono::Duration::days(500));
    let (engine, local) = demo_engine(store.clone(), &clock);
    let (old, stuck) = ended_and_stuck(&engine, &local).await;
    clock.set(SystemClock.now() - chrono::Duration::days(1));
    let recent = engine.start_new(request_onto("asc-active")).await.unwrap();
    local.run_until_idle(&engine).await;
    let exists = |id: &ExecutionId| dir.path().join("executions").join(id.as_str()).exists();
    for id in [&old, &recent] {
        let last = engine.get(&id.execution_id).await.unwrap().unwrap();
        assert_eq!(last.state, State::Succeeded);
    }

    let dry = prune(dir.path(), &["--dry-run"]);
    assert!(dry.contains("would remove 1 executions"), "{dry}");
    assert!(
        dry.contains(&format!("kept {}: still pending", stuck.execution_id)),
        "{dry}"
    );
    assert!(exists(&old.execution_id), "a dry run removes nothing");

    let done = prune(dir.path(), &[]);
    assert!(done.contains("removed 1 executions"), "{done}");
    assert!(!exists(&old.execution_id));
    assert!(exists(&stuck.execution_id) && exists(&recent.execution_id));
    assert!(engine.get(&old.execution_id).await.unwrap().is_none());
    let leases = store.list("leases/").await.unwrap();
    for key in &leases {
        let body = store.get(key).await.unwrap().unwrap();
        assert!(
            !String::from_utf8_lossy(&body).contains(old.execution_id.as_str()),
            "{key} still names the pruned execution"
        );
    }
    assert!(!leases.is_empty(), "the others' lease entries stay");

    let again = prune(dir.path(), &[]);
    assert!(again.contains("removed 0 executions"), "{again}");
}
