//! The committed RPC signing vectors are what the installed official SDK produces today:
//! `tests/python/gen_rpc_vectors.py` is run again and its output compared with
//! `shared/cloud/tests/vectors/rpc_v1.json`, so a vector edited by hand, or an SDK whose signing
//! changed, shows up here. (`shared/cloud/tests/rpc_vectors.rs` checks the signer against the file
//! without Python.)

use reimage_e2e::{run_python, workspace_root};

#[test]
fn committed_rpc_vectors_match_a_fresh_run_of_the_official_sdk() {
    let fresh: serde_json::Value =
        serde_json::from_str(&run_python("gen_rpc_vectors.py", &[], &[]))
            .expect("script prints JSON");
    let path = workspace_root().join("shared/cloud/tests/vectors/rpc_v1.json");
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("vectors file readable"))
            .expect("vectors file is JSON");
    assert_eq!(
        fresh["source"],
        committed["source"],
        "SDK versions differ: regenerate with `.venv/bin/python tests/python/gen_rpc_vectors.py > {}`",
        path.display()
    );
    assert_eq!(fresh["vectors"], committed["vectors"]);
}
