//! The OSS state store and client over real HTTP against the sim's OSS front, with real
//! signatures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{TimeZone, Utc};
use reimage::aliyun::credentials::{Credentials, StaticProvider};
use reimage::aliyun::oss::{OssClient, OssEndpoint, PutOutcome, SignatureVersion};
use reimage::clock::{Clock as _, ManualClock, SharedClock, SystemClock};
use reimage::ids::{SequentialIds, SharedIds};
use reimage::store::oss::OssStore;
use reimage::store::{StateStore, StoreError};
use reimage_sim::oss::{KeyRefusal, OssEnv, OssService, Times};

const AK: &str = "LTAI5tStoreTest";
const SECRET: &str = "store-test-secret";
const BUCKET: &str = "reimage-state";

#[derive(Debug)]
struct OneKey;

impl OssEnv for OneKey {
    fn secret_for(
        &self,
        access_key_id: &str,
        _token: Option<&str>,
        _now: chrono::DateTime<Utc>,
    ) -> Result<String, KeyRefusal> {
        if access_key_id == AK {
            Ok(SECRET.into())
        } else {
            Err(KeyRefusal::UnknownKey)
        }
    }
}

struct Running {
    endpoint: String,
    service: Arc<OssService>,
    clock: SharedClock,
}

fn now() -> Times {
    let now = SystemClock.now();
    Times { now, wall: now }
}

/// Serves `router` on a loopback port.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

async fn start() -> Running {
    let clock: SharedClock = Arc::new(SystemClock);
    let service = Arc::new(OssService::new("cn-hangzhou"));
    service.create_bucket(BUCKET);
    let endpoint = serve(Arc::clone(&service).router(Arc::new(OneKey), clock.clone())).await;
    Running {
        endpoint,
        service,
        clock,
    }
}

fn client(endpoint: &str, clock: SharedClock, secret: &str) -> OssClient {
    let ids: SharedIds = Arc::new(SequentialIds::new("t"));
    OssClient::new(
        OssEndpoint::parse(endpoint).expect("endpoint"),
        StaticProvider::shared(Credentials::access_key(AK, secret)),
        clock,
        ids,
    )
    .expect("client")
}

#[tokio::test]
async fn records_are_created_once_read_back_and_listed_across_pages() {
    let sim = start().await;
    let store = OssStore::new(
        client(&sim.endpoint, sim.clock.clone(), SECRET),
        BUCKET,
        "/prod/",
    )
    .with_page_size(2);
    for seq in 0..7 {
        store
            .create(
                &format!("executions/e-1/{seq:04}.json"),
                format!("{{\"seq\":{seq}}}").as_bytes(),
            )
            .await
            .expect("created");
    }
    store
        .create("tasks/t-1/0000.json", b"{}")
        .await
        .expect("created");
    // Under the store's prefix in the bucket, and nowhere else.
    assert_eq!(
        sim.service
            .object(BUCKET, "prod/executions/e-1/0003.json")
            .as_deref(),
        Some(&b"{\"seq\":3}"[..])
    );
    sim.service.create_bucket("unused");
    assert_eq!(
        store
            .get("executions/e-1/0003.json")
            .await
            .expect("read")
            .as_deref(),
        Some(&b"{\"seq\":3}"[..])
    );
    assert_eq!(
        store.get("executions/e-1/9999.json").await.expect("read"),
        None
    );

    let listed = store.list("executions/e-1/").await.expect("listed");
    let expected: Vec<String> = (0..7)
        .map(|s| format!("executions/e-1/{s:04}.json"))
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(
        store.list("tasks/").await.expect("listed"),
        ["tasks/t-1/0000.json"]
    );
    assert!(store.list("nothing/").await.expect("listed").is_empty());

    // A second store under another prefix of the same bucket sees none of these.
    let other = OssStore::new(
        client(&sim.endpoint, sim.clock.clone(), SECRET),
        BUCKET,
        "staging",
    );
    assert!(other.list("").await.expect("listed").is_empty());
}

#[tokio::test]
async fn signature_v4_works_as_well_as_v1() {
    let sim = start().await;
    let v4 =
        client(&sim.endpoint, sim.clock.clone(), SECRET).with_signature(SignatureVersion::V4 {
            region: "cn-hangzhou".into(),
        });
    let store = OssStore::new(v4, BUCKET, "v4").with_page_size(1);
    store.create("a/0.json", b"0").await.expect("created");
    store.create("a/1.json", b"1").await.expect("created");
    assert!(matches!(
        store.create("a/1.json", b"again").await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(
        store.get("a/1.json").await.expect("read").as_deref(),
        Some(&b"1"[..])
    );
    assert_eq!(
        store.list("a/").await.expect("listed"),
        ["a/0.json", "a/1.json"]
    );
    let wrong =
        client(&sim.endpoint, sim.clock.clone(), "wrong").with_signature(SignatureVersion::V4 {
            region: "cn-hangzhou".into(),
        });
    let err = wrong
        .get_object(BUCKET, "v4/a/0.json")
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
}

#[tokio::test]
async fn of_two_concurrent_creators_exactly_one_wins() {
    let sim = start().await;
    for round in 0..10 {
        let a = OssStore::new(
            client(&sim.endpoint, sim.clock.clone(), SECRET),
            BUCKET,
            "race",
        );
        let b = a.clone();
        let key = format!("executions/e-{round}/0001.json");
        let (ra, rb) = tokio::join!(a.create(&key, b"from a"), b.create(&key, b"from b"));
        let winner: &[u8] = match (&ra, &rb) {
            (Ok(()), Err(StoreError::AlreadyExists { .. })) => b"from a",
            (Err(StoreError::AlreadyExists { .. }), Ok(())) => b"from b",
            other => panic!("round {round}: expected one winner, got {other:?}"),
        };
        assert_eq!(a.get(&key).await.expect("read").as_deref(), Some(winner));
    }
}

#[tokio::test]
async fn wrong_secret_names_the_cause() {
    let sim = start().await;
    let store = OssStore::new(
        client(&sim.endpoint, sim.clock.clone(), "wrong"),
        BUCKET,
        "",
    );
    let err = store.create("k.json", b"x").await.expect_err("refused");
    match &err {
        StoreError::Backend {
            op,
            transient,
            message,
            ..
        } => {
            assert_eq!(*op, "create");
            assert!(!transient, "a bad secret is not worth retrying");
            assert!(message.contains("SignatureDoesNotMatch"), "{message}");
            assert!(message.contains("AccessKey secret"), "{message}");
            assert!(!message.contains("wrong"), "the secret leaked: {message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.service.object(BUCKET, "k.json"), None);
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_error() {
    let sim = start().await;
    let store = OssStore::new(
        client(&sim.endpoint, sim.clock.clone(), SECRET),
        "no-bucket",
        "",
    );
    let err = store
        .get("k.json")
        .await
        .expect_err("no bucket")
        .to_string();
    assert!(
        err.contains("NoSuchBucket") && err.contains("no-bucket"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transient_error_after_retries() {
    // Bind then drop a listener: nothing answers on that port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("t"),
    );
    let store = OssStore::new(
        client(
            &format!("http://127.0.0.1:{port}"),
            Arc::new(clock.clone()),
            SECRET,
        ),
        BUCKET,
        "",
    );
    let err = store.get("k.json").await.expect_err("nobody there");
    assert!(
        matches!(
            err,
            StoreError::Backend {
                transient: true,
                ..
            }
        ),
        "{err:?}"
    );
    // The retries slept on the clock (4 attempts, jittered at 0.5 by SequentialIds).
    assert!(
        clock.now()
            > Utc
                .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .expect("t")
    );
}

/// A front that fails the first `fail` requests with the given status and code (after
/// handing a PutObject to the real service when `lose_answer` is set: the object is stored
/// but its answer never reaches the client).
async fn flaky(
    service: Arc<OssService>,
    fail: usize,
    status: u16,
    code: &'static str,
    lose_answer: bool,
) -> (String, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let router = axum::Router::new().fallback(move |request: http::Request<axum::body::Body>| {
        let service = Arc::clone(&service);
        let counter = Arc::clone(&counter);
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            if n < fail {
                if lose_answer {
                    let _ = service.handle(&OneKey, now(), request).await;
                }
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                     <Message>injected</Message><RequestId>R{n}</RequestId><HostId>h</HostId></Error>"
                );
                return http::Response::builder()
                    .status(status)
                    .body(axum::body::Body::from(body))
                    .unwrap_or_default();
            }
            service.handle(&OneKey, now(), request).await
        }
    });
    (serve(router).await, seen)
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried() {
    let sim = start().await;
    for (status, code) in [(503, "SlowDown"), (500, "InternalError")] {
        let (endpoint, seen) = flaky(Arc::clone(&sim.service), 2, status, code, false).await;
        let c = client(&endpoint, sim.clock.clone(), SECRET);
        let key = format!("retried-{status}");
        assert_eq!(
            c.put_object_if_absent(BUCKET, &key, b"v")
                .await
                .expect("retried"),
            PutOutcome::Created
        );
        assert_eq!(seen.load(Ordering::SeqCst), 3, "{code}");
    }
    // Client errors are not retried.
    let (endpoint, seen) = flaky(Arc::clone(&sim.service), 1, 403, "AccessDenied", false).await;
    let c = client(&endpoint, sim.clock.clone(), SECRET);
    let err = c.get_object(BUCKET, "k").await.expect_err("denied");
    assert_eq!(err.code(), Some("AccessDenied"));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_still_ours() {
    let sim = start().await;
    let (endpoint, _) = flaky(Arc::clone(&sim.service), 1, 500, "InternalError", true).await;
    let c = client(&endpoint, sim.clock.clone(), SECRET);
    // The first attempt stored the object but answered 500; the retry meets
    // FileAlreadyExists, reads the object back and finds its own bytes.
    assert_eq!(
        c.put_object_if_absent(BUCKET, "lost", b"mine")
            .await
            .expect("put"),
        PutOutcome::Created
    );
    // Whereas an object someone else created under that key stays theirs.
    let plain = client(&sim.endpoint, sim.clock.clone(), SECRET);
    plain
        .put_object_if_absent(BUCKET, "theirs", b"theirs")
        .await
        .expect("created");
    let (endpoint, seen) = flaky(Arc::clone(&sim.service), 1, 500, "InternalError", true).await;
    let c = client(&endpoint, sim.clock.clone(), SECRET);
    assert_eq!(
        c.put_object_if_absent(BUCKET, "theirs", b"mine")
            .await
            .expect("put"),
        PutOutcome::AlreadyExists
    );
    assert_eq!(seen.load(Ordering::SeqCst), 3, "put, put again, read back");
    assert_eq!(
        sim.service.object(BUCKET, "theirs").as_deref(),
        Some(&b"theirs"[..])
    );
}

#[tokio::test]
async fn a_listing_takes_one_request_per_page() {
    let sim = start().await;
    let (endpoint, seen) = flaky(Arc::clone(&sim.service), 0, 500, "unused", false).await;
    let store = OssStore::new(
        client(&endpoint, sim.clock.clone(), SECRET),
        BUCKET,
        "paged",
    )
    .with_page_size(3);
    for i in 0..7 {
        store
            .create(&format!("r/{i}.json"), b"{}")
            .await
            .expect("created");
    }
    let before = seen.load(Ordering::SeqCst);
    let keys = store.list("r/").await.expect("listed");
    assert_eq!(keys.len(), 7);
    assert_eq!(
        seen.load(Ordering::SeqCst) - before,
        3,
        "pages of 3, 3 and 1"
    );
}

#[tokio::test]
async fn a_page_of_a_listing_is_one_request_from_where_the_last_ended() {
    let sim = start().await;
    let (endpoint, seen) = flaky(Arc::clone(&sim.service), 0, 500, "unused", false).await;
    let store = OssStore::new(
        client(&endpoint, sim.clock.clone(), SECRET),
        BUCKET,
        "paged",
    );
    for i in 0..7 {
        store
            .create(&format!("r/{i}.json"), b"{}")
            .await
            .expect("created");
    }
    store.create("s/0.json", b"{}").await.expect("created");
    let before = seen.load(Ordering::SeqCst);
    let page = store
        .list_page("r/", Some("r/2.json"), 3)
        .await
        .expect("listed");
    assert_eq!(page.keys, ["r/3.json", "r/4.json", "r/5.json"]);
    assert!(page.more);
    let last = store
        .list_page("r/", Some("r/5.json"), 3)
        .await
        .expect("listed");
    assert_eq!((last.keys, last.more), (vec!["r/6.json".to_owned()], false));
    let first = store.list_page("r/", None, 2).await.expect("listed");
    assert_eq!(first.keys, ["r/0.json", "r/1.json"]);
    assert_eq!(
        seen.load(Ordering::SeqCst) - before,
        3,
        "one request a page"
    );
}

/// `GET /executions` over executions whose records are in OSS: newest first, a page at a
/// time, each execution once however many start while someone pages.
mod listing_on_oss {
    use super::*;
    use reimage::api::{Api, Auth};
    use reimage::model::execution::ExecutionId;
    use reimage::steps::EngineError;
    use reimage::steps::started::{self, STARTED_PREFIX};
    use reimage::steps::testing::{demo_engine, request_onto};
    use reimage::store::SharedStore;
    use std::time::Duration;
    use tower::ServiceExt as _;

    async fn page(router: &axum::Router, after: Option<&str>) -> (Vec<String>, Option<String>) {
        let uri = match after {
            Some(after) => format!("/executions?limit=3&after={after}"),
            None => "/executions?limit=3".to_owned(),
        };
        let request = http::Request::get(uri)
            .body(axum::body::Body::empty())
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("answer");
        assert_eq!(response.status(), http::StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let page: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        let ids = page["executions"]
            .as_array()
            .expect("executions")
            .iter()
            .map(|e| e["execution_id"].as_str().expect("an id").to_owned())
            .collect();
        (ids, page["next"].as_str().map(str::to_owned))
    }

    #[tokio::test]
    async fn pages_show_every_execution_once_newest_first_while_new_ones_start() {
        let sim = start().await;
        let store: SharedStore = Arc::new(OssStore::new(
            client(&sim.endpoint, sim.clock.clone(), SECRET),
            BUCKET,
            "paging",
        ));
        let t0 = Utc
            .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
            .single()
            .expect("t0");
        let clock = ManualClock::new(t0);
        let (engine, local) = demo_engine(store.clone(), &clock);
        let start_one = || async {
            clock.advance(Duration::from_secs(1));
            let record = engine
                .start_new(request_onto("asc-active"))
                .await
                .expect("started");
            local.take_all();
            record.execution_id.to_string()
        };
        let mut before = Vec::new();
        for _ in 0..7 {
            before.push(start_one().await);
        }
        // The same start tried again later is refused without a second index entry.
        clock.advance(Duration::from_secs(1));
        let taken = ExecutionId::parse(&before[2]).expect("id");
        let again = engine
            .start(request_onto("asc-active"), taken.clone())
            .await;
        assert!(
            matches!(again, Err(EngineError::AlreadyStarted(_))),
            "{again:?}"
        );
        assert_eq!(store.list(STARTED_PREFIX).await.expect("listed").len(), 7);
        // A start that died between its index entry and its record leaves one, the newest of
        // all: the listing still shows that execution once, where it belongs.
        started::mark(&store, clock.now(), &taken, None)
            .await
            .expect("marked");

        let api = Api::new(
            store.clone(),
            Arc::new(engine.clone()),
            Arc::new(clock.clone()),
            Arc::new(SequentialIds::new("api")),
            Auth::Off,
        );
        let router = Arc::new(api).router();
        let (mut walked, mut after, mut pages) = (Vec::new(), None, 0);
        let mut during = Vec::new();
        loop {
            let (ids, next) = page(&router, after.as_deref()).await;
            walked.extend(ids);
            pages += 1;
            during.push(start_one().await);
            during.push(start_one().await);
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let newest_first: Vec<String> = before.iter().rev().cloned().collect();
        assert_eq!(walked, newest_first, "{pages} pages");
        assert!(pages >= 3, "{pages} pages");

        // A walk from the top now: the ones started meanwhile first, then the same.
        let (mut all, mut after) = (Vec::new(), None);
        loop {
            let (ids, next) = page(&router, after.as_deref()).await;
            all.extend(ids);
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let expected: Vec<String> = during.iter().rev().chain(&newest_first).cloned().collect();
        assert_eq!(all, expected);

        // A cursor that is not one is refused, naming the parameter.
        let request = http::Request::get("/executions?after=exec-nope")
            .body(axum::body::Body::empty())
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("answer");
        assert_eq!(response.status(), http::StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let error: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(error["code"], "InvalidCursor", "{error}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("exec-nope")),
            "{error}"
        );
    }
}

/// The whole sim (not only its OSS front): its seeded bucket, static key and STS tokens.
mod against_the_sim {
    use super::*;
    use reimage::aliyun::Client;
    use reimage::aliyun::sts::AssumeRoleRequest;
    use reimage_sim::Sim;

    async fn assume_role(sim: &Sim, clock: SharedClock) -> Credentials {
        let mut config = sim.client_config();
        config.clock = clock;
        let client = Client::new(config).expect("client");
        let account_id = sim.state().region().account_id.clone();
        client
            .sts()
            .assume_role(&AssumeRoleRequest {
                role_arn: format!("acs:ram::{account_id}:role/reimage-updater"),
                role_session_name: "oss-store".into(),
                duration_seconds: Some(900),
                policy: None,
            })
            .await
            .expect("AssumeRole")
            .credentials
            .into_credentials()
            .expect("credentials")
    }

    fn store(sim: &Sim, credentials: Credentials, clock: SharedClock) -> OssStore {
        let client = OssClient::new(
            OssEndpoint::parse(sim.endpoint()).expect("endpoint"),
            StaticProvider::shared(credentials),
            clock,
            Arc::new(SequentialIds::new("t")),
        )
        .expect("client");
        OssStore::new(client, "reimage-state", "records")
    }

    #[tokio::test]
    async fn the_seeded_bucket_takes_records_with_the_static_key() {
        let sim = Sim::builder().start().await.expect("sim");
        let creds = Credentials::access_key(sim.access_key_id(), sim.access_key_secret());
        let s = store(&sim, creds, Arc::new(SystemClock)).with_page_size(2);
        for i in 0..5 {
            s.create(&format!("executions/e/{i}.json"), b"{}")
                .await
                .expect("created");
        }
        assert!(matches!(
            s.create("executions/e/0.json", b"{}").await,
            Err(StoreError::AlreadyExists { .. })
        ));
        assert_eq!(s.list("executions/").await.expect("listed").len(), 5);
        assert_eq!(
            sim.state()
                .oss()
                .object("reimage-state", "records/executions/e/3.json")
                .as_deref(),
            Some(&b"{}"[..])
        );
        assert_eq!(sim.admin().calls().total.get("PutObject"), Some(&6));
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn sts_credentials_work_until_they_expire() {
        let clock = ManualClock::new(
            Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0)
                .single()
                .expect("t"),
        );
        let shared: SharedClock = Arc::new(clock.clone());
        let sim = Sim::builder()
            .clock(shared.clone())
            .start()
            .await
            .expect("sim");
        let creds = assume_role(&sim, shared.clone()).await;
        assert!(creds.security_token().is_some());
        let s = store(&sim, creds, shared.clone());
        s.create("tasks/t/0.json", b"v0")
            .await
            .expect("created with STS credentials");
        assert_eq!(
            s.get("tasks/t/0.json").await.expect("read").as_deref(),
            Some(&b"v0"[..])
        );

        clock.advance(std::time::Duration::from_secs(901));
        let err = s
            .get("tasks/t/0.json")
            .await
            .expect_err("expired")
            .to_string();
        assert!(err.contains("SecurityTokenExpired"), "{err}");
        assert!(err.contains("get fresh ones"), "{err}");
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_wrong_secret_and_an_injected_fault() {
        let sim = Sim::builder().start().await.expect("sim");
        let wrong = Credentials::access_key(sim.access_key_id(), "not-the-secret");
        let err = store(&sim, wrong, Arc::new(SystemClock))
            .create("k.json", b"x")
            .await
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("SignatureDoesNotMatch") && err.contains("AccessKey secret"),
            "{err}"
        );

        // A fault queued for PutObject is answered once, then retried through.
        sim.admin()
            .fail_next("PutObject", "InternalError", 500, 1)
            .expect("fault queued");
        let creds = Credentials::access_key(sim.access_key_id(), sim.access_key_secret());
        store(&sim, creds, Arc::new(SystemClock))
            .create("after-fault.json", b"x")
            .await
            .expect("retried");
        // The faulted attempt and its retry; the refused call never got past authentication.
        assert_eq!(sim.admin().calls().total.get("PutObject"), Some(&2));
        sim.shutdown().await;
    }
}

/// A whole scheduled execution with its records in the sim's OSS, chosen as users choose it:
/// `REIMAGE_STORE=oss://reimage-state/prod`.
mod pipeline_on_oss {
    use super::*;
    use reimage::aliyun::Client;
    use reimage::dispatch::local::LocalDispatcher;
    use reimage::model::task::{ExecutedAt, TaskSpec};
    use reimage::model::{PermissionSource, State};
    use reimage::schedule::{IndexedRuns, Scheduler};
    use reimage::settings::Env;
    use reimage::steps::{AliyunClouds, Engine};
    use reimage::store::tasks::TaskStore;
    use reimage::store::url::{StoreLocation, open_store};

    const CONFIGURATION: &str = "asc-bp1demoweb0000001";

    #[tokio::test]
    async fn a_scheduled_execution_keeps_every_record_in_the_bucket() {
        let t0 = Utc
            .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
            .single()
            .expect("t0");
        let clock = ManualClock::new(t0);
        let shared: SharedClock = Arc::new(clock.clone());
        let sim = reimage_sim::Sim::builder()
            .clock(shared.clone())
            .image_seconds(120)
            .start()
            .await
            .expect("sim");
        let mut config = sim.client_config();
        config.clock = shared.clone();
        config.ids = Arc::new(SequentialIds::new("nonce"));
        let client = Client::new(config).expect("client");

        let env = Env::from_pairs([("REIMAGE_STORE", "oss://reimage-state/prod")]);
        let location =
            StoreLocation::from_env(&env, std::path::Path::new("/nonexistent")).expect("location");
        let store = open_store(&location, || Ok(OssClient::from_client(&client)?)).expect("store");

        let dispatcher = Arc::new(LocalDispatcher::new(shared.clone()));
        let engine = Engine::new(
            store.clone(),
            shared.clone(),
            Arc::new(SequentialIds::new("id")),
            dispatcher.clone(),
            Arc::new(AliyunClouds::new(client.clone())),
        );
        let runs = IndexedRuns::new(store.clone(), shared.clone(), engine.clone());
        let scheduler = Scheduler::new(TaskStore::new(store.clone()), Arc::new(runs));
        let account = sim.state().region().account_id.clone();
        let spec = TaskSpec {
            allow_default_version_change: false,
            scaling_group_ids: Vec::new(),
            notify: Vec::new(),
            retention: None,
            source_instance_id: "i-bp1demoweb000000001".into(),
            image_name: Some("web-golden".into()),
            configuration_source: Default::default(),
            scaling_configuration_ids: vec![CONFIGURATION.into()],
            executed_at: ExecutedAt::Scheduled {
                at: t0 + chrono::Duration::minutes(5),
            },
            permission: PermissionSource::RamRole {
                role_arn: format!("acs:ram::{account}:role/reimage-updater"),
            },
            webhook_secret: None,
            webhook_runs_per_hour: None,
            disable_after_failures: None,
            rollout: None,
            allow_platform_change: false,
        };
        spec.validate(clock.now()).expect("valid task");
        TaskStore::new(store.clone())
            .create("task-oss", spec, clock.now())
            .await
            .expect("task stored");
        clock.set(t0 + chrono::Duration::minutes(5));
        let report = scheduler.tick(clock.now()).await.expect("tick");
        assert_eq!(report.started.len(), 1, "{report:?}");
        // A second tick at the same minute starts nothing: the slot's record exists in OSS.
        let again = scheduler.tick(clock.now()).await.expect("tick");
        assert!(again.started.is_empty(), "{again:?}");
        dispatcher.run_until_idle(&engine).await;

        let last = engine
            .get(&report.started[0])
            .await
            .expect("read")
            .expect("records");
        assert_eq!(last.state, State::Succeeded, "{last:?}");
        let image = last.learned.image_id.clone().expect("an image was made");
        // A task's run names the task on what it makes.
        let tags = sim.admin().image(&image).expect("the image").tags;
        assert!(
            tags.contains(&("reimage:task".to_owned(), "task-oss".to_owned())),
            "{tags:?}"
        );
        assert_eq!(
            sim.admin()
                .scaling_configuration(CONFIGURATION)
                .expect("configuration")
                .image_id,
            image
        );
        // Every record is an object under prod/ in the bucket, written with PutObject.
        let keys = sim.state().oss().keys("reimage-state");
        assert!(keys.iter().all(|k| k.starts_with("prod/")), "{keys:?}");
        assert!(
            keys.iter().any(|k| k.starts_with("prod/tasks/task-oss/")),
            "{keys:?}"
        );
        let execution_records = keys
            .iter()
            .filter(|k| k.contains(&format!("/{}/", report.started[0])))
            .count();
        assert!(execution_records >= 4, "{keys:?}");
        sim.shutdown().await;
    }
}
