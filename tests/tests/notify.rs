//! Notifications end to end: a task's runs against the sim, its notices delivered to a local
//! receiver, each target kind's request checked by an implementation independent of
//! reimage's (DingTalk's and Lark's signatures computed here from their documentation, the
//! generic one by the Python CI client's signing code), and delivery that retries, gives up
//! and never holds a run.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, TimeZone, Utc};
use hmac::{KeyInit, Mac};
use reimage::aliyun::Client;
use reimage::api::TaskView;
use reimage::clock::{Clock as _, ManualClock, SharedClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::SequentialIds;
use reimage::model::execution::ExecutionId;
use reimage::model::task::{ExecutedAt, TaskChange, TaskSpec};
use reimage::model::{PermissionSource, State, StepRecord};
use reimage::notify::delivery::{self, DeliveryState};
use reimage::notify::{DeliveryConfig, Notifier, StoredTarget, Target};
use reimage::schedule::{IndexedRuns, RunRequest, Runs, Trigger};
use reimage::secrets::{KEY_LEN, LocalSealer, SharedSealer};
use reimage::steps::{AliyunClouds, Engine};
use reimage::store::SharedStore;
use reimage::store::memory::MemoryStore;
use reimage::store::tasks::TaskStore;
use reimage_sim::receiver::{Answer, Receiver};

const INSTANCE: &str = "i-bp1demoweb000000001";
const CONFIGURATION: &str = "asc-bp1demoweb0000001";
const TASK: &str = "task-notify";
const DINGTALK_SECRET: &str = "SECdingtalk0123456789abcdef";
const LARK_SECRET: &str = "lark-secret-0123456789";
const HTTPS_SECRET: &str = "https-secret-0123456789abcdef";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

struct Rig {
    sim: reimage_sim::Sim,
    clock: ManualClock,
    store: SharedStore,
    engine: Engine,
    notifier: Notifier,
    dispatcher: Arc<LocalDispatcher>,
    runs: IndexedRuns<Engine>,
    tasks: TaskStore,
}

fn target(json: serde_json::Value) -> StoredTarget {
    StoredTarget::Plain(serde_json::from_value::<Target>(json).expect("a target"))
}

/// A task updating the demo region's web configuration, telling `targets`, disabling
/// itself after `disable_after` failures; deliveries time out after `timeout` and give up
/// after `attempts`.
async fn rig(
    targets: Vec<StoredTarget>,
    disable_after: Option<u32>,
    timeout: Duration,
    attempts: u32,
) -> Rig {
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
    let store: SharedStore = Arc::new(MemoryStore::new());
    let sealer: SharedSealer = Arc::new(LocalSealer::with_key([9; KEY_LEN]));
    let notifier = Notifier::new(
        store.clone(),
        shared.clone(),
        Some(sealer.clone()),
        DeliveryConfig {
            timeout,
            max_attempts: attempts,
            link_base: Some(url::Url::parse("https://reimage.example.com/api/").unwrap()),
            ..DeliveryConfig::default()
        },
    )
    .expect("notifier");
    let dispatcher = Arc::new(LocalDispatcher::new(shared.clone()));
    let engine = Engine::new(
        store.clone(),
        shared.clone(),
        Arc::new(SequentialIds::new("id")),
        dispatcher.clone(),
        Arc::new(AliyunClouds::new(client)),
    )
    .with_notifier(Some(notifier.clone()));
    let runs = IndexedRuns::new(store.clone(), shared, engine.clone());
    let tasks = TaskStore::new(store.clone()).with_sealer(Some(sealer));
    let spec = TaskSpec {
        scaling_group_ids: Vec::new(),
        allow_default_version_change: false,
        notify: targets,
        retention: None,
        source_instance_id: INSTANCE.into(),
        image_name: None,
        configuration_source: Default::default(),
        scaling_configuration_ids: vec![CONFIGURATION.into()],
        executed_at: ExecutedAt::Cron {
            expression: "0 0 3 * * *".into(),
            expired_at: None,
        },
        permission: PermissionSource::RamRole {
            role_arn: format!(
                "acs:ram::{}:role/reimage-updater",
                sim.state().region().account_id
            ),
        },
        webhook_secret: None,
        webhook_runs_per_hour: None,
        disable_after_failures: disable_after,
        rollout: None,
        allow_platform_change: false,
    };
    spec.validate(clock.now()).expect("valid task");
    tasks.create(TASK, spec, clock.now()).await.expect("task");
    Rig {
        sim,
        clock,
        store,
        engine,
        notifier,
        dispatcher,
        runs,
        tasks,
    }
}

impl Rig {
    /// One manual run of the task to its end, its image failing if `fail` says so.
    async fn run(&self, n: u32, fail: bool) -> StepRecord {
        self.clock.advance(Duration::from_secs(3600));
        if fail {
            self.sim.admin().fail_next_image();
        }
        let task = self.tasks.get(TASK).await.expect("task");
        let started = self
            .runs
            .start(RunRequest {
                execution_id: ExecutionId::derived(&format!("{TASK}-{n}")),
                task,
                trigger: Trigger::Manual,
            })
            .await
            .expect("started");
        self.dispatcher.run_until_idle(&self.engine).await;
        self.engine
            .get(&started.execution_id)
            .await
            .expect("read")
            .expect("records")
    }

    async fn view(&self) -> TaskView {
        let task = self.tasks.get(TASK).await.expect("task");
        TaskView::with_health(&task, self.clock.now(), &self.store)
            .await
            .expect("health")
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The summary every target carries, built here from the run's records.
fn expected_summary(record: &StepRecord, old_image: &str) -> String {
    let image = record.learned.image_id.clone().expect("an image");
    let took = (record.written_at - record.started_at).num_seconds();
    format!(
        "- Task: {TASK}\n- Image: {image} ({name})\n- {CONFIGURATION}: {old_image} → {image}\n\
         - Time: {} → {} ({}m {}s)\n- Link: https://reimage.example.com/api/executions/{}",
        time(record.started_at),
        time(record.written_at),
        took / 60,
        took % 60,
        record.execution_id,
        name = record.image_name,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_target_kind_gets_the_message_its_service_documents_signed_as_it_documents() {
    let receiver = Receiver::start().await.expect("receiver");
    let targets = vec![
        target(serde_json::json!({
            "kind": "dingtalk",
            "webhook_url": receiver.url("/dingtalk?access_token=robot-token"),
            "secret": DINGTALK_SECRET,
        })),
        target(serde_json::json!({
            "kind": "lark", "webhook_url": receiver.url("/lark"), "secret": LARK_SECRET,
        })),
        target(serde_json::json!({ "kind": "slack", "webhook_url": receiver.url("/slack") })),
        target(serde_json::json!({
            "kind": "https", "url": receiver.url("/https"), "secret": HTTPS_SECRET,
        })),
    ];
    let rig = rig(targets, None, Duration::from_secs(10), 8).await;
    // Secrets are stored sealed: neither the URL's token nor a secret is in the record.
    let stored = rig
        .store
        .get(&reimage::store::tasks::task_key(TASK, 0))
        .await
        .expect("read")
        .expect("record");
    let stored = String::from_utf8(stored).expect("utf-8");
    for secret in [DINGTALK_SECRET, LARK_SECRET, HTTPS_SECRET, "robot-token"] {
        assert!(!stored.contains(secret), "{secret} in the task record");
    }
    let old_image = rig
        .sim
        .admin()
        .scaling_configuration(CONFIGURATION)
        .expect("configuration")
        .image_id;

    let record = rig.run(1, false).await;
    assert_eq!(record.state, State::Succeeded);
    let exec = record.execution_id.to_string();
    let title = format!("reimage: execution {exec} succeeded");
    let summary = expected_summary(&record, &old_image);
    let at = rig.clock.now();

    // DingTalk: timestamp (ms) and sign in the query, sign = base64(HmacSHA256(secret,
    // timestamp + "\n" + secret)); a markdown message.
    let [dingtalk] = rig.receiver_at(&receiver, "/dingtalk");
    let url = url::Url::parse(&format!("http://x/?{}", dingtalk.query.clone().unwrap())).unwrap();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["access_token"], "robot-token");
    assert_eq!(query["timestamp"], at.timestamp_millis().to_string());
    let data = format!("{}\n{DINGTALK_SECRET}", query["timestamp"]);
    assert_eq!(
        query["sign"],
        BASE64.encode(hmac_sha256(DINGTALK_SECRET.as_bytes(), data.as_bytes()))
    );
    assert_eq!(
        dingtalk.json(),
        serde_json::json!({
            "msgtype": "markdown",
            "markdown": { "title": title, "text": format!("#### {title}\n\n{summary}") },
        })
    );

    // Lark: timestamp (s) and sign in the body, sign = base64(HmacSHA256(key = timestamp +
    // "\n" + secret, data = "")).
    let [lark] = rig.receiver_at(&receiver, "/lark");
    let body = lark.json();
    let timestamp = at.timestamp().to_string();
    assert_eq!(body["timestamp"], timestamp);
    let key = format!("{timestamp}\n{LARK_SECRET}");
    assert_eq!(
        body["sign"],
        BASE64.encode(hmac_sha256(key.as_bytes(), b""))
    );
    assert_eq!(body["msg_type"], "text");
    assert_eq!(body["content"]["text"], format!("{title}\n{summary}"));

    // Slack: mrkdwn text, the title in bold.
    let [slack] = rig.receiver_at(&receiver, "/slack");
    assert_eq!(
        slack.json(),
        serde_json::json!({ "text": format!("*{title}*\n{summary}") })
    );

    // The generic target: the notice as JSON, its signature checked by the CI client's code.
    let [generic] = rig.receiver_at(&receiver, "/https");
    let notice = generic.json();
    assert_eq!(
        notice["subject"],
        serde_json::json!({"kind": "execution", "id": exec})
    );
    assert_eq!(notice["outcome"], "succeeded");
    assert_eq!(notice["task_id"], TASK);
    assert_eq!(
        notice["changes"],
        serde_json::json!([{
            "scaling_configuration_id": CONFIGURATION,
            "old_image_id": old_image,
            "new_image_id": record.learned.image_id,
        }])
    );
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        file.path(),
        serde_json::json!([{
            "signature": generic.header("x-reimage-signature").expect("signed"),
            "body": BASE64.encode(&generic.body),
        }])
        .to_string(),
    )
    .unwrap();
    let checked = reimage_e2e::run_python(
        "notify_verify.py",
        &[file.path().to_str().unwrap()],
        &[("SECRET", HTTPS_SECRET)],
    );
    assert_eq!(checked.trim(), "1");

    // Each delivery is recorded as sent, after one attempt.
    let deliveries = delivery::of_subject(&rig.store, &exec).await.expect("read");
    assert_eq!(deliveries.len(), 4);
    for d in &deliveries {
        assert_eq!(d.state, DeliveryState::Sent { http_status: 200 }, "{d:?}");
        assert_eq!(d.attempts, 1);
    }
    // The sweep finds nothing more to send.
    rig.clock.advance(Duration::from_secs(3600));
    assert_eq!(rig.notifier.sweep(rig.clock.now()).await.expect("sweep"), 0);
    assert_eq!(receiver.received().len(), 4);
    rig.sim.shutdown().await;
}

impl Rig {
    fn receiver_at<const N: usize>(
        &self,
        receiver: &Receiver,
        path: &str,
    ) -> [reimage_sim::receiver::Received; N] {
        receiver
            .received_at(path)
            .try_into()
            .unwrap_or_else(|got: Vec<_>| panic!("{} requests to {path}, not {N}", got.len()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_three_times_gets_the_notice_once_with_every_attempt_recorded() {
    let failing = Answer::Status(500, "upstream down".into());
    let receiver = Receiver::scripted(
        vec![failing.clone(), failing.clone(), failing],
        Answer::ok(),
    )
    .await
    .expect("receiver");
    let targets = vec![target(serde_json::json!({
        "kind": "slack", "webhook_url": receiver.url("/services/T0/B0/x"),
    }))];
    let rig = rig(targets, None, Duration::from_secs(10), 8).await;
    let record = rig.run(1, false).await;
    assert_eq!(
        record.state,
        State::Succeeded,
        "the run is not held by its notice"
    );
    let subject = record.execution_id.to_string();
    let delivery = format!("{subject}/task-0");

    // The first attempt failed; each retry waits for its back-off, and the sweep before it
    // is due sends nothing.
    let mut sweeps = 0;
    loop {
        let latest = rig.notifier.latest(&delivery).await.unwrap().unwrap();
        match latest.state {
            DeliveryState::Sent { .. } => break,
            DeliveryState::Pending { due_at } => {
                assert_eq!(
                    latest.last_error.as_deref(),
                    Some("HTTP 500: upstream down")
                );
                let early = due_at - chrono::Duration::seconds(1);
                if early > rig.clock.now() {
                    rig.clock
                        .advance((early - rig.clock.now()).to_std().unwrap());
                    assert_eq!(rig.notifier.sweep(rig.clock.now()).await.unwrap(), 0);
                }
                rig.clock.advance(Duration::from_secs(1));
                assert_eq!(rig.notifier.sweep(rig.clock.now()).await.unwrap(), 1);
                sweeps += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(sweeps <= 3, "sent after three retries");
    }
    let answered: Vec<Option<u16>> = receiver.received().iter().map(|r| r.answered).collect();
    assert_eq!(answered, [Some(500), Some(500), Some(500), Some(200)]);
    let history = rig.notifier.history(&delivery).await.unwrap();
    let states: Vec<(&str, u32)> = history
        .iter()
        .map(|r| {
            let status = match r.state {
                DeliveryState::Pending { .. } => "pending",
                DeliveryState::Sending { .. } => "sending",
                DeliveryState::Sent { .. } => "sent",
                DeliveryState::GaveUp => "gave_up",
            };
            (status, r.attempts)
        })
        .collect();
    assert_eq!(
        states,
        [
            ("pending", 0),
            ("sending", 1),
            ("pending", 1),
            ("sending", 2),
            ("pending", 2),
            ("sending", 3),
            ("pending", 3),
            ("sending", 4),
            ("sent", 4),
        ]
    );
    // The back-off doubled: 30 s, 60 s, 120 s after each failure.
    let waits: Vec<i64> = history
        .iter()
        .filter_map(|r| match r.state {
            DeliveryState::Pending { due_at } if r.attempts > 0 => {
                Some((due_at - r.written_at).num_seconds())
            }
            _ => None,
        })
        .collect();
    assert_eq!(waits, [30, 60, 120]);
    // Delivered once: nothing more goes out.
    rig.clock.advance(Duration::from_secs(3600));
    assert_eq!(rig.notifier.sweep(rig.clock.now()).await.unwrap(), 0);
    assert_eq!(receiver.received().len(), 4);
    assert!(rig.view().await.undelivered.is_empty());
    rig.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_holds_no_run_and_is_given_up_and_reported() {
    let receiver = Receiver::scripted(Vec::new(), Answer::Never)
        .await
        .expect("receiver");
    let targets = vec![target(serde_json::json!({
        "kind": "https", "url": receiver.url("/hook"), "secret": HTTPS_SECRET,
    }))];
    let rig = rig(targets, None, Duration::from_secs(1), 2).await;
    let started = std::time::Instant::now();
    let record = rig.run(1, false).await;
    let took = started.elapsed();
    assert_eq!(record.state, State::Succeeded);
    // The run's last record was written before the attempt, at the run's own time: the
    // receiver's silence cost the run nothing but the one-second attempt.
    assert!(took < Duration::from_secs(20), "the run took {took:?}");
    let delivery = format!("{}/task-0", record.execution_id);
    let latest = rig.notifier.latest(&delivery).await.unwrap().unwrap();
    assert_eq!(latest.attempts, 1);
    assert_eq!(latest.last_error.as_deref(), Some("no answer within 1 s"));
    let view = rig.view().await;
    assert_eq!(view.undelivered.len(), 1);
    assert_eq!(view.undelivered[0].status, "pending");
    assert_eq!(
        view.undelivered[0].url,
        format!("{}/<redacted>", receiver.url(""))
    );

    // The second and last attempt: given up, and doctor's listing finds it.
    rig.clock.advance(Duration::from_secs(30));
    assert_eq!(rig.notifier.sweep(rig.clock.now()).await.unwrap(), 1);
    let latest = rig.notifier.latest(&delivery).await.unwrap().unwrap();
    assert_eq!(latest.state, DeliveryState::GaveUp);
    assert_eq!(latest.attempts, 2);
    let given_up = delivery::gave_up_between(&rig.store, record.started_at, rig.clock.now())
        .await
        .unwrap();
    assert_eq!(given_up.len(), 1);
    assert_eq!(given_up[0].delivery, delivery);
    let view = rig.view().await;
    assert_eq!(view.undelivered[0].status, "gave_up");
    assert_eq!(receiver.received().len(), 2);
    rig.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_fails_three_times_in_a_row_disables_itself_and_says_so() {
    let receiver = Receiver::start().await.expect("receiver");
    let targets = vec![target(serde_json::json!({
        "kind": "https", "url": receiver.url("/hook"), "secret": HTTPS_SECRET,
    }))];
    // The default threshold: three.
    let rig = rig(targets, None, Duration::from_secs(10), 8).await;
    for n in 1..=3 {
        let record = rig.run(n, true).await;
        assert!(
            matches!(record.state, State::Failed(_)),
            "{:?}",
            record.state
        );
    }
    let view = rig.view().await;
    assert!(!view.enabled);
    assert_eq!(view.change, TaskChange::DisabledAfterFailures);
    let notices: Vec<serde_json::Value> = receiver.received().iter().map(|r| r.json()).collect();
    assert_eq!(notices.len(), 4, "three failures, then the task disabled");
    for notice in &notices[..3] {
        assert_eq!(notice["outcome"], "failed");
        assert!(
            notice["cause"]["summary"]
                .as_str()
                .unwrap()
                .starts_with("wait-image failed"),
            "{notice}"
        );
        assert_eq!(notice.get("task_disabled"), None);
    }
    let disabled = &notices[3];
    let third = ExecutionId::derived(&format!("{TASK}-3"));
    assert_eq!(disabled["subject"]["id"], third.as_str());
    let reason = disabled["task_disabled"].as_str().expect("why");
    assert!(reason.starts_with("3 runs in a row failed"), "{reason}");
    assert_eq!(view.disabled_reason.as_deref(), Some(reason));

    // Enabled again, the count starts afresh: one more failure notifies, disables nothing.
    rig.clock.advance(Duration::from_secs(60));
    rig.tasks
        .change(TASK, TaskChange::Enabled, rig.clock.now())
        .await
        .expect("enabled");
    assert!(matches!(rig.run(4, true).await.state, State::Failed(_)));
    assert!(rig.view().await.enabled);
    assert_eq!(receiver.received().len(), 5);
    rig.sim.shutdown().await;
}
