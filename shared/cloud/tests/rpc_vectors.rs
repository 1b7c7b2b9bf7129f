//! reimage's RPC v1 signer against the vectors the official Python SDK produced
//! (`shared/cloud/tests/vectors/rpc_v1.json`, made by `tests/python/gen_rpc_vectors.py`).
//!
//! Each stage is checked on its own, so a failure names the broken stage: canonical query,
//! string to sign, signature.

use reimage_cloud::aliyun::sign::rpc;
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    source: Source,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Source {
    sdk: String,
    version: String,
    script: String,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    method: String,
    access_key_secret: String,
    query: Vec<(String, String)>,
    body: Vec<(String, String)>,
    canonical_query: String,
    string_to_sign: String,
    signature: String,
}

fn load() -> File {
    let text = include_str!("vectors/rpc_v1.json");
    serde_json::from_str(text).expect("rpc_v1.json parses")
}

#[test]
fn vectors_say_where_they_came_from() {
    let f = load();
    assert_eq!(f.source.sdk, "aliyun-python-sdk-core");
    assert!(!f.source.version.is_empty());
    assert_eq!(f.source.script, "tests/python/gen_rpc_vectors.py");
    // The set covers what the brief asks for.
    let all: String = f
        .vectors
        .iter()
        .map(|v| v.canonical_query.clone())
        .collect();
    for needle in [
        "Tag.1.Key",
        "InstanceIds=%5B",
        "%20",
        "%2A",
        "~",
        "%2F",
        "%E8",
        "SecurityToken=",
    ] {
        assert!(all.contains(needle), "no vector covers {needle}");
    }
    assert!(f.vectors.iter().any(|v| v.method == "GET"));
    assert!(f.vectors.iter().any(|v| v.method == "POST"));
    assert!(f.vectors.iter().any(|v| !v.body.is_empty()));
}

#[test]
fn canonical_query_matches_the_sdk() {
    for v in load().vectors {
        let params = v
            .query
            .iter()
            .chain(&v.body)
            .map(|(k, val)| (k.as_str(), val.as_str()));
        assert_eq!(
            rpc::canonical_query(params),
            v.canonical_query,
            "vector {}",
            v.name
        );
    }
}

#[test]
fn string_to_sign_matches_the_sdk() {
    for v in load().vectors {
        assert_eq!(
            rpc::string_to_sign(&v.method, &v.canonical_query),
            v.string_to_sign,
            "vector {}",
            v.name
        );
    }
}

#[test]
fn signature_matches_the_sdk() {
    for v in load().vectors {
        assert_eq!(
            rpc::signature(&v.access_key_secret, &v.string_to_sign),
            v.signature,
            "vector {}",
            v.name
        );
        let params = v
            .query
            .iter()
            .chain(&v.body)
            .map(|(k, val)| (k.as_str(), val.as_str()));
        assert_eq!(
            rpc::sign(&v.method, params, &v.access_key_secret),
            v.signature,
            "vector {} end to end",
            v.name
        );
    }
}
