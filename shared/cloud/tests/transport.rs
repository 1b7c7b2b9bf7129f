//! The RPC transport against a small local server that misbehaves on purpose: throttling,
//! 503, 400, bodies that are not JSON, `TimeLeft` hints, connections closed without an
//! answer, answers that never come. It counts attempts and checks every signature, so these
//! tests show what is retried and what is not, that each attempt is signed afresh, and that
//! the total retry time is bounded. Sleeps go through a `ManualClock`: nothing really waits.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use reimage_cloud::aliyun::credentials::{Credentials, StaticProvider};
use reimage_cloud::aliyun::ecs::{CreateSnapshotRequest, DescribeImagesRequest, ImageStatus};
use reimage_cloud::aliyun::ess::DescribeScalingConfigurationsRequest;
use reimage_cloud::aliyun::sign::rpc;
use reimage_cloud::aliyun::{
    Client, ClientConfig, Endpoints, ErrorKind, RetryPolicy, Service, Timeouts,
};
use reimage_cloud::clock::{Clock, ManualClock};
use reimage_cloud::ids::SequentialIds;

const AK: &str = "LTAItransporttest";
const SECRET: &str = "transport-secret-do-not-print";
const TOKEN: &str = "transport-token-do-not-print";
const ASSUMED_AK: &str = "STS.assumedrole";
const ASSUMED_SECRET: &str = "assumed-secret-do-not-print";
const ASSUMED_TOKEN: &str = "assumed-token-do-not-print";

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    params: Vec<(String, String)>,
    signature_ok: bool,
}

impl Seen {
    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Not sent: tells the fake server to wait this many milliseconds before answering.
const DELAY_HEADER: &str = "x-test-delay-ms";

type Answer = (u16, Vec<(&'static str, String)>, String);
type Script = Arc<dyn Fn(usize, &Seen) -> Answer + Send + Sync>;

#[derive(Clone)]
struct Fake {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Script,
}

async fn handle(State(fake): State<Fake>, method: Method, uri: Uri, body: Bytes) -> Response {
    let mut params: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    params
        .extend(url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    let signature = params
        .iter()
        .find(|(k, _)| k == "Signature")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let access_key_id = params
        .iter()
        .find(|(k, _)| k == "AccessKeyId")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let secret = if access_key_id == ASSUMED_AK {
        ASSUMED_SECRET
    } else {
        SECRET
    };
    let expected = rpc::sign(
        method.as_str(),
        params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        secret,
    );
    let seen = Seen {
        method: method.to_string(),
        params,
        signature_ok: signature == expected,
    };
    let n = {
        let mut all = fake.seen.lock().expect("lock");
        all.push(seen.clone());
        all.len()
    };
    let (status, headers, body) = (fake.script)(n, &seen);
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        if k == DELAY_HEADER {
            let ms = v.parse().expect("delay in ms");
            tokio::time::sleep(Duration::from_millis(ms)).await;
        } else {
            h.insert(k, v.parse().expect("header value"));
        }
    }
    (StatusCode::from_u16(status).expect("status"), h, body).into_response()
}

async fn serve(script: Script) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let fake = Fake {
        seen: seen.clone(),
        script,
    };
    let app = axum::Router::new().fallback(handle).with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
        .single()
        .expect("valid time")
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_secs(2),
        max_delay: Duration::from_secs(10),
        max_total: Duration::from_secs(60),
    }
}

fn client(endpoint: &str, clock: &ManualClock, retry: RetryPolicy) -> Client {
    Client::new(ClientConfig {
        region_id: "cn-hangzhou".into(),
        endpoints: Endpoints::all_at(endpoint),
        credentials: StaticProvider::shared(Credentials::sts(AK, SECRET, TOKEN)),
        clock: Arc::new(clock.clone()),
        ids: Arc::new(SequentialIds::new("nonce")),
        retry,
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            read: Duration::from_millis(500),
        },
        allow_plain_http: false,
    })
    .expect("client")
}

fn ok_body() -> String {
    r#"{"RequestId":"OK-1","Images":{"Image":[{"ImageId":"m-1","Status":"Available","Progress":"100%"}]},"TotalCount":1}"#.into()
}

fn throttled(code: &str) -> String {
    format!(
        r#"{{"RequestId":"T-1","HostId":"ecs","Code":"{code}","Message":"Request was denied due to request throttling."}}"#
    )
}

fn seen(s: &Arc<Mutex<Vec<Seen>>>) -> Vec<Seen> {
    s.lock().expect("lock").clone()
}

#[tokio::test]
async fn throttling_is_retried_with_a_fresh_nonce_and_timestamp_each_time() {
    let (url, log) = serve(Arc::new(|n, _| {
        let code = ["Throttling", "Throttling.User", "Throttling.Api"];
        if n <= 3 {
            (400, vec![], throttled(code[n - 1]))
        } else {
            (200, vec![], ok_body())
        }
    }))
    .await;
    let clock = ManualClock::new(start());
    let c = client(&url, &clock, policy());
    let r = c
        .ecs()
        .describe_images(&DescribeImagesRequest {
            image_id: Some("m-1".into()),
            status: vec![ImageStatus::Available],
            ..Default::default()
        })
        .await
        .expect("succeeds after three throttles");
    assert_eq!(r.images.image[0].image_id, "m-1");
    let s = seen(&log);
    assert_eq!(s.len(), 4);
    assert!(
        s.iter().all(|a| a.signature_ok),
        "every attempt is signed correctly"
    );
    let nonces: std::collections::HashSet<_> = s
        .iter()
        .map(|a| a.get("SignatureNonce").map(str::to_owned))
        .collect();
    assert_eq!(nonces.len(), 4, "a fresh nonce per attempt");
    let stamps: std::collections::HashSet<_> = s
        .iter()
        .map(|a| a.get("Timestamp").map(str::to_owned))
        .collect();
    assert_eq!(stamps.len(), 4, "a fresh timestamp per attempt");
    assert_eq!(s[0].get("SecurityToken"), Some(TOKEN));
    assert_eq!(s[0].get("Status"), Some("Available"));
    assert_eq!(s[0].get("RegionId"), Some("cn-hangzhou"));
    assert_eq!(s[0].method, "GET");
    // Virtual time moved by the backoff: 3 delays of at least 1 s, 2 s and 4 s.
    assert!(clock.now() - start() >= chrono::Duration::seconds(7));
}

#[tokio::test]
async fn service_unavailable_is_retried_until_attempts_run_out() {
    let (url, log) = serve(Arc::new(|_, _| {
        (
            503,
            vec![],
            r#"{"RequestId":"U-1","Code":"ServiceUnavailable","Message":"temporary failure"}"#
                .into(),
        )
    }))
    .await;
    let clock = ManualClock::new(start());
    let err = client(&url, &clock, policy())
        .rpc(
            Service::Ecs,
            "DescribeRegions",
            [("RegionId", "cn-hangzhou")],
        )
        .await
        .expect_err("always 503");
    assert_eq!(seen(&log).len(), 5);
    assert_eq!(err.kind(), ErrorKind::Transient);
    let api = err.api().expect("an API error");
    assert_eq!((api.status, api.code.as_str()), (503, "ServiceUnavailable"));
    assert_eq!(api.request_id.as_deref(), Some("U-1"));
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    let (url, log) = serve(Arc::new(|_, _| {
        (
            400,
            vec![],
            r#"{"RequestId":"C-1","Code":"InvalidParameter","Message":"The specified parameter \"X\" is not valid."}"#.into(),
        )
    }))
    .await;
    let clock = ManualClock::new(start());
    let err = client(&url, &clock, policy())
        .rpc(
            Service::Ess,
            "DescribeScalingGroups",
            [("RegionId", "cn-hangzhou")],
        )
        .await
        .expect_err("400");
    assert_eq!(seen(&log).len(), 1);
    assert_eq!(err.kind(), ErrorKind::Client);
    assert_eq!(err.code(), Some("InvalidParameter"));
    assert_eq!(clock.now(), start(), "no sleep before giving up");
    assert_eq!(seen(&log)[0].method, "POST");
    assert!(seen(&log)[0].signature_ok);
    assert_eq!(seen(&log)[0].get("Version"), Some("2014-08-28"));
}

#[tokio::test]
async fn a_body_that_is_not_json_keeps_status_and_is_classified_by_it() {
    let (url, log) = serve(Arc::new(|n, _| {
        if n == 1 {
            (
                502,
                vec![("x-acs-request-id", "GW-1".to_owned())],
                "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
            )
        } else {
            (404, vec![], "no such thing".into())
        }
    }))
    .await;
    let clock = ManualClock::new(start());
    let err = client(&url, &clock, policy())
        .rpc(
            Service::Ecs,
            "DescribeRegions",
            Vec::<(String, String)>::new(),
        )
        .await
        .expect_err("502 then 404");
    assert_eq!(seen(&log).len(), 2, "502 retried, 404 not");
    let api = err.api().expect("an API error");
    assert_eq!((api.status, api.code.as_str()), (404, "Http404"));
    assert_eq!(api.message, "no such thing");
}

#[tokio::test]
async fn time_left_hint_sets_the_delay_when_longer_than_the_backoff() {
    let (url, log) = serve(Arc::new(|n, _| {
        if n == 1 {
            (
                400,
                vec![
                    (
                        "x-ratelimit-user-api",
                        "Limit:1,Remain:0,TimeLeft:9000,Reset:1".to_owned(),
                    ),
                    (
                        "x-ratelimit-user",
                        "Limit:5,Remain:0,TimeLeft:1500".to_owned(),
                    ),
                ],
                throttled("Throttling.User"),
            )
        } else {
            (200, vec![], ok_body())
        }
    }))
    .await;
    let clock = ManualClock::new(start());
    client(&url, &clock, policy())
        .rpc(
            Service::Ecs,
            "DescribeImages",
            [("RegionId", "cn-hangzhou")],
        )
        .await
        .expect("second attempt passes");
    let s = seen(&log);
    assert_eq!(s.len(), 2);
    let t = |a: &Seen| {
        DateTime::parse_from_rfc3339(a.get("Timestamp").expect("timestamp")).expect("rfc3339")
    };
    // The backoff alone would be 1 to 2 s; the server asked for 9 s.
    assert_eq!((t(&s[1]) - t(&s[0])).num_seconds(), 9);
}

#[tokio::test]
async fn total_retry_time_is_bounded() {
    let (url, log) = serve(Arc::new(|_, _| {
        (
            400,
            vec![("x-ratelimit-user-api", "TimeLeft:20000".to_owned())],
            throttled("Throttling"),
        )
    }))
    .await;
    let clock = ManualClock::new(start());
    let retry = RetryPolicy {
        max_attempts: 100,
        max_total: Duration::from_secs(45),
        ..policy()
    };
    let err = client(&url, &clock, retry)
        .rpc(
            Service::Ecs,
            "DescribeImages",
            [("RegionId", "cn-hangzhou")],
        )
        .await
        .expect_err("always throttled");
    assert_eq!(err.kind(), ErrorKind::Throttling);
    // Attempts at 0 s, 20 s and 40 s; a fourth would start at 60 s, past the 45 s bound.
    assert_eq!(seen(&log).len(), 3);
    assert_eq!(clock.now() - start(), chrono::Duration::seconds(40));
}

#[tokio::test]
async fn a_connection_closed_without_answer_is_transient_and_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(Mutex::new(0usize));
    let count = accepted.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut sock, _)) = listener.accept().await {
            *count.lock().expect("lock") += 1;
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            drop(sock); // close without a word
        }
    });
    let clock = ManualClock::new(start());
    let err = client(
        &format!("http://{addr}"),
        &clock,
        RetryPolicy {
            max_attempts: 3,
            ..policy()
        },
    )
    .rpc(
        Service::Ecs,
        "DescribeImages",
        [("RegionId", "cn-hangzhou")],
    )
    .await
    .expect_err("never answered");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert_eq!(*accepted.lock().expect("lock"), 3);
}

#[tokio::test]
async fn an_answer_slower_than_the_read_timeout_is_a_transient_timeout() {
    let (url, log) = serve(Arc::new(|_, _| {
        (200, vec![(DELAY_HEADER, "1500".to_owned())], ok_body())
    }))
    .await;
    let clock = ManualClock::new(start());
    let err = client(
        &url,
        &clock,
        RetryPolicy {
            max_attempts: 2,
            ..policy()
        },
    )
    .rpc(
        Service::Ecs,
        "DescribeImages",
        [("RegionId", "cn-hangzhou")],
    )
    .await
    .expect_err("too slow");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(
        matches!(
            err,
            reimage_cloud::aliyun::Error::Transport {
                failure: reimage_cloud::aliyun::error::TransportFailure::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(seen(&log).len(), 2);
}

#[tokio::test]
async fn an_invalid_request_is_refused_before_anything_is_sent() {
    let (url, log) = serve(Arc::new(|_, _| (200, vec![], ok_body()))).await;
    let clock = ManualClock::new(start());
    let err = client(&url, &clock, policy())
        .ecs()
        .create_image(&reimage_cloud::aliyun::ecs::CreateImageRequest {
            instance_id: Some("i-1".into()),
            image_name: Some("http://not-a-name".into()),
            ..Default::default()
        })
        .await
        .expect_err("bad name");
    assert_eq!(err.invalid_parameter(), Some("ImageName"));
    let text = reimage_cloud::report::chain(&err);
    assert!(text.contains("ImageName"), "{text}");
    assert!(seen(&log).is_empty());
}

#[tokio::test]
async fn more_than_ten_configuration_ids_are_split_into_calls_and_concatenated() {
    let (url, log) = serve(Arc::new(|_, s| {
        let items: Vec<String> = s
            .params
            .iter()
            .filter(|(k, _)| k.starts_with("ScalingConfigurationId."))
            .map(|(_, v)| format!(r#"{{"ScalingConfigurationId":"{v}","ImageId":"m-{v}","LifecycleState":"Active"}}"#))
            .collect();
        let body = format!(
            r#"{{"RequestId":"R","TotalCount":{},"PageNumber":1,"PageSize":50,"ScalingConfigurations":{{"ScalingConfiguration":[{}]}}}}"#,
            items.len(),
            items.join(",")
        );
        (200, vec![], body)
    }))
    .await;
    let clock = ManualClock::new(start());
    let ids: Vec<String> = (1..=23).map(|i| format!("asc-{i:02}")).collect();
    let configs = client(&url, &clock, policy())
        .ess()
        .describe_scaling_configurations_all(&DescribeScalingConfigurationsRequest {
            scaling_configuration_ids: ids.clone(),
            ..Default::default()
        })
        .await
        .expect("three calls");
    let got: Vec<String> = configs
        .iter()
        .map(|c| c.scaling_configuration_id.clone())
        .collect();
    assert_eq!(got, ids);
    let s = seen(&log);
    let per_call: Vec<usize> = s
        .iter()
        .map(|a| {
            a.params
                .iter()
                .filter(|(k, _)| k.starts_with("ScalingConfigurationId."))
                .count()
        })
        .collect();
    assert_eq!(per_call, [10, 10, 3]);
    assert!(
        s.iter()
            .all(|a| a.get("ScalingConfigurationId.11").is_none())
    );
}

#[tokio::test]
async fn paging_helper_reads_every_page() {
    let (url, log) = serve(Arc::new(|_, s| {
        let page: usize = s.get("PageNumber").and_then(|p| p.parse().ok()).unwrap_or(1);
        let size: usize = s.get("PageSize").and_then(|p| p.parse().ok()).unwrap_or(10);
        let total = 230usize;
        let from = (page - 1) * size;
        let items: Vec<String> = (from..total.min(from + size))
            .map(|i| format!(r#"{{"ImageId":"m-{i}","Status":"Available"}}"#))
            .collect();
        (
            200,
            vec![],
            format!(
                r#"{{"TotalCount":{total},"PageNumber":{page},"PageSize":{size},"Images":{{"Image":[{}]}}}}"#,
                items.join(",")
            ),
        )
    }))
    .await;
    let clock = ManualClock::new(start());
    let images = client(&url, &clock, policy())
        .ecs()
        .describe_images_all(&DescribeImagesRequest::default())
        .await
        .expect("pages");
    assert_eq!(images.len(), 230);
    assert_eq!(images[229].image_id, "m-229");
    assert_eq!(seen(&log).len(), 3);
}

#[tokio::test]
async fn secrets_reach_neither_errors_nor_debug_output_nor_logs() {
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || LogSink(sink.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (url, _log) = serve(Arc::new(|n, _| {
        if n == 1 {
            (503, vec![], r#"{"Code":"ServiceUnavailable","Message":"m"}"#.into())
        } else {
            (
                400,
                vec![],
                r#"{"RequestId":"S-1","Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation."}"#.into(),
            )
        }
    }))
    .await;
    let clock = ManualClock::new(start());
    let c = client(&url, &clock, policy());
    let err = c
        .rpc(
            Service::Ecs,
            "DescribeImages",
            [("RegionId", "cn-hangzhou")],
        )
        .await
        .expect_err("fails");
    let logged = String::from_utf8(logs.lock().expect("lock").clone()).expect("utf-8 logs");
    assert!(
        logged.contains("DescribeImages"),
        "calls are logged: {logged}"
    );
    assert!(logged.contains("S-1"), "with their request id: {logged}");
    for shown in [
        format!("{err}"),
        format!("{err:?}"),
        format!("{c:?}"),
        logged,
    ] {
        assert!(!shown.contains(SECRET), "secret leaked: {shown}");
        assert!(!shown.contains(TOKEN), "token leaked: {shown}");
    }
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Answers AssumeRole with credentials expiring `DurationSeconds` after the request's
/// `Timestamp`, and any other action with an empty success.
fn sts_script() -> Script {
    Arc::new(|_, s| {
        if s.get("Action") == Some("AssumeRole") {
            let sent = DateTime::parse_from_rfc3339(s.get("Timestamp").unwrap_or_default())
                .expect("timestamp");
            let seconds: i64 = s
                .get("DurationSeconds")
                .and_then(|d| d.parse().ok())
                .unwrap_or(3600);
            let expiration = (sent + chrono::Duration::seconds(seconds))
                .with_timezone(&Utc)
                .format("%Y-%m-%dT%H:%M:%SZ");
            let body = format!(
                r#"{{"RequestId":"STS-1","AssumedRoleUser":{{"Arn":"acs:ram::1:role/reimage/s","AssumedRoleId":"1:s"}},
                "Credentials":{{"AccessKeyId":"{ASSUMED_AK}","AccessKeySecret":"{ASSUMED_SECRET}","SecurityToken":"{ASSUMED_TOKEN}","Expiration":"{expiration}"}}}}"#
            );
            (200, vec![], body)
        } else {
            (200, vec![], r#"{"RequestId":"OK"}"#.into())
        }
    })
}

fn role() -> reimage_cloud::aliyun::credentials::RoleSpec {
    reimage_cloud::aliyun::credentials::RoleSpec {
        role_arn: "acs:ram::1234567890:role/reimage".into(),
        role_session_name: "reimage-exec-1".into(),
        duration_seconds: 3600,
    }
}

#[tokio::test]
async fn assumed_role_credentials_are_cached_until_five_minutes_before_expiry() {
    use reimage_cloud::aliyun::credentials::CredentialsProvider;
    use reimage_cloud::aliyun::sts::AssumeRoleProvider;
    let (url, log) = serve(sts_script()).await;
    let clock = ManualClock::new(start());
    let base = Client::new(ClientConfig {
        credentials: StaticProvider::shared(Credentials::access_key(AK, SECRET)),
        ..client(&url, &clock, policy()).config().clone()
    })
    .expect("client");
    let provider = AssumeRoleProvider::new(base, role());
    let sts_calls = |log: &Arc<Mutex<Vec<Seen>>>| {
        seen(log)
            .iter()
            .filter(|a| a.get("Action") == Some("AssumeRole"))
            .count()
    };

    let c = provider.credentials().await.expect("assumed");
    assert_eq!(c.access_key_id(), ASSUMED_AK);
    assert_eq!(c.security_token(), Some(ASSUMED_TOKEN));
    let first = &seen(&log)[0];
    assert!(first.signature_ok);
    assert_eq!(first.get("Version"), Some("2015-04-01"));
    assert_eq!(
        first.get("RoleArn"),
        Some("acs:ram::1234567890:role/reimage")
    );
    assert_eq!(first.get("RoleSessionName"), Some("reimage-exec-1"));
    assert_eq!(first.get("DurationSeconds"), Some("3600"));
    assert_eq!(first.get("AccessKeyId"), Some(AK));
    assert_eq!(first.get("SecurityToken"), None);
    assert_eq!(first.method, "POST");

    provider.credentials().await.expect("cached");
    clock.advance(Duration::from_secs(54 * 60)); // 10:54: still more than 5 minutes left
    provider.credentials().await.expect("cached");
    assert_eq!(sts_calls(&log), 1);
    clock.advance(Duration::from_secs(2 * 60)); // 10:56: inside the 5-minute margin
    let renewed = provider.credentials().await.expect("refreshed");
    assert_eq!(sts_calls(&log), 2);
    assert_eq!(
        renewed.expiration().map(|e| e.to_rfc3339()),
        Some("2026-11-27T11:56:00+00:00".to_owned())
    );

    // A client on the assumed role signs with the temporary key and sends its token.
    let assumed = Client::new(ClientConfig {
        credentials: Arc::new(provider),
        ..client(&url, &clock, policy()).config().clone()
    })
    .expect("client");
    assumed
        .rpc(
            Service::Ecs,
            "DescribeRegions",
            Vec::<(String, String)>::new(),
        )
        .await
        .expect("call as the role");
    let last = seen(&log).last().cloned().expect("a call");
    assert!(last.signature_ok, "signed with the assumed secret");
    assert_eq!(last.get("AccessKeyId"), Some(ASSUMED_AK));
    assert_eq!(last.get("SecurityToken"), Some(ASSUMED_TOKEN));
    assert_eq!(sts_calls(&log), 2);
}

#[tokio::test]
async fn a_ram_role_arn_profile_assumes_the_role_with_its_key() {
    use reimage_cloud::aliyun::chain::{ChainSources, CredentialsSource, resolve_chain};
    let (url, log) = serve(sts_script()).await;
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(home.path().join(".aliyun")).expect("mkdir");
    std::fs::write(
        home.path().join(".aliyun/config.json"),
        format!(
            r#"{{"current":"ci","profiles":[{{"name":"ci","mode":"RamRoleArn","access_key_id":"{AK}","access_key_secret":"{SECRET}",
            "ram_role_arn":"acs:ram::1234567890:role/reimage","ram_session_name":"ci-run","expired_seconds":1800}}]}}"#
        ),
    )
    .expect("write");
    let clock = ManualClock::new(start());
    let template = client(&url, &clock, policy()).config().clone();
    let sources = ChainSources {
        env: reimage_cloud::settings::Env::from_pairs([(
            "HOME",
            home.path().to_str().expect("utf-8 path"),
        )]),
        ..ChainSources::default()
    };
    let (provider, source) = resolve_chain(&sources, &template).expect("resolves");
    assert!(matches!(source, CredentialsSource::Profile(_)));
    let c = provider.credentials().await.expect("assumed");
    assert_eq!(c.access_key_id(), ASSUMED_AK);
    let call = &seen(&log)[0];
    assert!(
        call.signature_ok,
        "AssumeRole signed with the profile's key"
    );
    assert_eq!(call.get("AccessKeyId"), Some(AK));
    assert_eq!(call.get("RoleSessionName"), Some("ci-run"));
    assert_eq!(call.get("DurationSeconds"), Some("1800"));
    assert!(!format!("{provider:?}").contains(SECRET));
}

#[tokio::test]
async fn a_failed_assume_role_names_the_role_and_hides_the_key() {
    use reimage_cloud::aliyun::credentials::CredentialsProvider;
    use reimage_cloud::aliyun::sts::AssumeRoleProvider;
    let (url, _log) = serve(Arc::new(|_, _| {
        (
            403,
            vec![],
            r#"{"RequestId":"N-1","Code":"NoPermission","Message":"You are not authorized to do this action."}"#.into(),
        )
    }))
    .await;
    let clock = ManualClock::new(start());
    let base = client(&url, &clock, policy());
    let err = AssumeRoleProvider::new(base, role())
        .credentials()
        .await
        .expect_err("refused");
    let text = reimage_cloud::report::chain(&err);
    assert!(
        text.contains("acs:ram::1234567890:role/reimage") && text.contains("NoPermission"),
        "{text}"
    );
    assert!(!text.contains(SECRET) && !format!("{err:?}").contains(SECRET));
}

fn describe_image() -> DescribeImagesRequest {
    DescribeImagesRequest {
        image_id: Some("m-1".into()),
        status: vec![ImageStatus::Available],
        ..Default::default()
    }
}

#[tokio::test]
async fn a_resource_busy_with_an_earlier_request_is_retried_with_the_same_client_token() {
    // ECS answers 403 with these codes while an earlier request with the same ClientToken,
    // or another snapshot of the disk, is still being processed: "try again later".
    for code in [
        "IdempotentProcessing",
        "LastTokenProcessing",
        "IncorrectDiskStatus.CreatingSnapshot",
    ] {
        let (url, log) = serve(Arc::new(move |n, _| {
            if n == 1 {
                (403, vec![], throttled(code))
            } else {
                (
                    200,
                    vec![],
                    r#"{"RequestId":"OK-2","SnapshotId":"s-1"}"#.into(),
                )
            }
        }))
        .await;
        let clock = ManualClock::new(start());
        let c = client(&url, &clock, policy());
        let answer = c
            .ecs()
            .create_snapshot(&CreateSnapshotRequest {
                disk_id: "d-1".into(),
                client_token: Some("token-of-the-execution".into()),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(answer.snapshot_id, "s-1", "{code}");
        let s = seen(&log);
        assert_eq!(s.len(), 2, "{code}: one retry");
        for attempt in &s {
            assert_eq!(
                attempt.get("ClientToken"),
                Some("token-of-the-execution"),
                "{code}"
            );
        }
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let (elsewhere, elsewhere_log) = serve(Arc::new(|_, _| (200, vec![], ok_body()))).await;
    let target = format!("{elsewhere}/?stolen=1");
    let (url, log) = serve(Arc::new(move |_, _| {
        (302, vec![("location", target.clone())], String::new())
    }))
    .await;
    let clock = ManualClock::new(start());
    let err = client(&url, &clock, policy())
        .ecs()
        .describe_images(&describe_image())
        .await
        .expect_err("a redirect is no answer");
    let api = err.api().expect("the 302 itself is the error");
    assert_eq!((api.status, api.code.as_str()), (302, "Http302"));
    assert_eq!(err.kind(), ErrorKind::Client);
    assert_eq!(seen(&log).len(), 1, "not retried");
    assert!(
        seen(&elsewhere_log).is_empty(),
        "the signed request went nowhere else"
    );
}

#[tokio::test]
async fn an_answer_longer_than_the_cap_is_refused_unread() {
    use reimage_cloud::aliyun::http::MAX_RESPONSE_BODY;
    let huge = format!(
        r#"{{"RequestId":"BIG","Padding":"{}"}}"#,
        "x".repeat(MAX_RESPONSE_BODY)
    );
    let (url, log) = serve(Arc::new(move |_, _| (200, vec![], huge.clone()))).await;
    let clock = ManualClock::new(start());
    let err = client(&url, &clock, policy())
        .ecs()
        .describe_images(&describe_image())
        .await
        .expect_err("too long");
    assert!(
        matches!(
            err,
            reimage_cloud::aliyun::Error::Transport {
                failure: reimage_cloud::aliyun::error::TransportFailure::TooLarge,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("longer than"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Client);
    assert_eq!(seen(&log).len(), 1, "not retried");
    // Just under the cap is read.
    let fits = format!(
        r#"{{"RequestId":"FITS","TotalCount":0,"Padding":"{}"}}"#,
        "x".repeat(MAX_RESPONSE_BODY - 100)
    );
    let (url, _) = serve(Arc::new(move |_, _| (200, vec![], fits.clone()))).await;
    client(&url, &clock, policy())
        .ecs()
        .describe_images(&describe_image())
        .await
        .expect("a body under the cap is read");
}

#[test]
fn plain_http_off_loopback_and_malformed_regions_are_refused_at_setup() {
    let clock = ManualClock::new(start());
    let config = |region: &str, endpoint: &str, allow: bool| {
        let mut config = client("http://127.0.0.1:1", &clock, policy())
            .config()
            .clone();
        config.region_id = region.to_owned();
        config.endpoints = Endpoints::all_at(endpoint);
        config.allow_plain_http = allow;
        config
    };
    let err = Client::new(config("cn-hangzhou", "http://192.0.2.10:8080", false))
        .expect_err("plain http off loopback");
    assert!(err.to_string().contains("REIMAGE_ALLOW_HTTP=1"), "{err}");
    Client::new(config("cn-hangzhou", "http://192.0.2.10:8080", true)).expect("allowed when said");
    Client::new(config("cn-hangzhou", "http://[::1]:8080", false)).expect("loopback");
    let err = Client::new(config(
        "cn-hangzhou.evil.example",
        "https://x.example",
        false,
    ))
    .expect_err("not a region id");
    assert!(err.to_string().contains("is not a region id"), "{err}");
}
