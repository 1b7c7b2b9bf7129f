//! A CI system written in Python with only its standard library (`tests/python/ci_webhooks.py`)
//! signs and sends webhooks to reimage's HTTP API over real HTTP: an implementation of the
//! three signature forms independent of reimage's own.

use std::sync::Arc;
use std::time::Duration;

use reimage::api::{Api, ApiToken, Auth};
use reimage::clock::{SharedClock, SystemClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::RandomIds;
use reimage::schedule::IndexedRuns;
use reimage::steps::testing::FakeCloud;
use reimage::steps::{Engine, SameCloud};
use reimage::store::SharedStore;
use reimage::store::memory::MemoryStore;
use reimage_e2e::run_python;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_ci_client_signs_webhooks_reimage_accepts() {
    let clock: SharedClock = Arc::new(SystemClock);
    let store: SharedStore = Arc::new(MemoryStore::new());
    let dispatcher = Arc::new(LocalDispatcher::new(clock.clone()));
    let cloud = FakeCloud::demo(clock.clone(), Duration::from_secs(1));
    let engine = Engine::new(
        store.clone(),
        clock.clone(),
        Arc::new(RandomIds),
        dispatcher,
        Arc::new(SameCloud(cloud)),
    );
    let runs = Arc::new(IndexedRuns::new(store.clone(), clock.clone(), engine));
    let token = "python-ci-token-0123456789";
    let api = Arc::new(
        Api::new(
            store,
            runs,
            clock,
            Arc::new(RandomIds),
            Auth::Bearer(ApiToken::new(token)),
        )
        .with_sealer(Some(Arc::new(reimage::secrets::LocalSealer::with_key(
            [5; reimage::secrets::KEY_LEN],
        )))),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, api.router()).await });
    let out = tokio::task::spawn_blocking(move || {
        run_python(
            "ci_webhooks.py",
            &[],
            &[
                ("API", base.as_str()),
                ("TOKEN", token),
                ("SECRET", "python-hook-secret-0123456789"),
            ],
        )
    })
    .await
    .unwrap();
    assert!(out.contains("checks passed"), "{out}");
    server.abort();
}
