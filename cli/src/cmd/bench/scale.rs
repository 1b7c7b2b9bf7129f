//! Section `scale`: what an idle minute costs at account scale, against the sim's OSS.
//!
//! The history is written straight into the sim's bucket (the bench owns it): 100,000
//! executions that ended in the last 30 days, 7 records each, runs of the 1,000 tasks, with
//! their index entries. The tasks are created through the OSS store, and 10 executions are in
//! flight. Then one process is wired over the OSS store as a function is, and its minutes are
//! counted: the first (a cold instance), the next (warm), the first minute of a day (two days
//! back), and the sweep of every execution that `reimage serve` runs at start. Then the
//! listings (`GET /executions`, all and one task's, cold and warm), and the tick of a fresh
//! process over 10,000 tasks, the 9,000 more written straight into the bucket too.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use reimage::aliyun::oss::OssClient;
use reimage::api::Auth;
use reimage::clock::{ManualClock, SharedClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::SequentialIds;
use reimage::model::task::{ConfigurationSource, ExecutedAt, TaskSpec};
use reimage::model::{ExecutionId, PermissionSource, State, Step, StepRecord, UpdateRequest};
use reimage::schedule::{RunEntry, Trigger, index_run};
use reimage::steps::EngineConfig;
use reimage::steps::{live, started};
use reimage::store::SharedStore;
use reimage::store::memory::MemoryStore;
use reimage::store::oss::OssStore;
use reimage::store::tasks::TaskStore;
use reimage::wiring::{Pieces, Wired};

use super::{Figure, Section, start_time};
use crate::settings;

const TASKS: usize = 1_000;
const FINISHED: usize = 100_000;
const RECORDS: u64 = 7;
const IN_FLIGHT: usize = 10;
const BUCKET: &str = "reimage-state-bench";
const PREFIX: &str = "reimage";

/// Execution `i` is a run of task `i % TASKS`.
fn request(i: usize) -> UpdateRequest {
    UpdateRequest {
        scaling_group_ids: Vec::new(),
        allow_default_version_change: false,
        instance_id: "i-bp1demoweb000000001".into(),
        image_name: None,
        configuration_ids: vec![format!("asc-bench{:06}", i % 500)],
        permission: PermissionSource::Account,
        task_id: Some(task_id(i % TASKS)),
        rollout: None,
        allow_platform_change: false,
    }
}

fn task_id(i: usize) -> String {
    format!("bench-task-{i:04}")
}

/// The list price of OSS requests on standard storage, PUT-type (PutObject, ListObjectsV2)
/// and GET-type alike, in CNY per 10,000 requests (mainland China regions,
/// <https://www.alibabacloud.com/help/en/oss/api-operation-calling-fees> for which requests
/// are of which type; the unit price is on the OSS pricing page).
const CNY_PER_10K_REQUESTS: f64 = 0.01;

/// Copies every record of `staging` into the sim's bucket as written at `at`: what the
/// bench owns is written straight into the bucket, without a request per record.
async fn copy_into(
    oss: &reimage_sim::oss::OssService,
    staging: &SharedStore,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    for key in staging.list("").await? {
        if let Some(value) = staging.get(&key).await? {
            oss.seed_object(BUCKET, &format!("{PREFIX}/{key}"), value, at);
        }
    }
    Ok(())
}

/// The records of one execution that started at `at` and succeeded.
fn history(i: usize, at: DateTime<Utc>) -> Vec<StepRecord> {
    let id = ExecutionId::derived(&format!("bench-scale-{i}"));
    let first = StepRecord::first(id, request(i), format!("bench-{i}"), at);
    let mut records = vec![first];
    for seq in 1..RECORDS {
        let last = records.last().cloned().unwrap_or_else(|| unreachable!());
        let now = at + Duration::minutes(2 * seq as i64);
        let state = if seq + 1 == RECORDS {
            State::Succeeded
        } else {
            State::Pending {
                step: Step::WaitImage,
                due_at: now + Duration::minutes(1),
            }
        };
        records.push(last.next(state, last.learned.clone(), now));
    }
    records
}

fn task(i: usize) -> TaskSpec {
    TaskSpec {
        scaling_group_ids: Vec::new(),
        allow_default_version_change: false,
        notify: Vec::new(),
        retention: None,
        source_instance_id: "i-bp1demoweb000000001".into(),
        image_name: None,
        configuration_source: ConfigurationSource::ScalingConfiguration,
        scaling_configuration_ids: vec![format!("asc-bench{:06}", i % 500)],
        executed_at: ExecutedAt::Cron {
            // Daily at 03:00 or weekly on Monday at 04:30: none is due in the measured minutes.
            expression: if i % 2 == 0 {
                "0 0 3 * * *"
            } else {
                "0 30 4 * * 1"
            }
            .into(),
            expired_at: None,
        },
        permission: PermissionSource::RamRole {
            role_arn: "acs:ram::1234567890123456:role/reimage-bench".into(),
        },
        webhook_secret: None,
        webhook_runs_per_hour: None,
        disable_after_failures: None,
        rollout: None,
        allow_platform_change: false,
    }
}

/// One minute's tick and sweep of `wired` at `now`: OSS requests and wall time.
async fn minute(
    sim: &reimage_sim::Sim,
    wired: &Wired,
    now: DateTime<Utc>,
    all: bool,
) -> anyhow::Result<(OssCalls, std::time::Duration)> {
    sim.admin().reset_calls();
    let started = Instant::now();
    if all {
        wired.engine.sweep_all(now).await?;
    } else {
        wired.engine.tick_sweep(now).await?;
    }
    wired.scheduler.tick(now).await?;
    let wall = started.elapsed();
    Ok((oss_calls(sim), wall))
}

/// OSS requests since the sim's counters were reset, by billing type.
#[derive(Debug, Clone, Copy)]
struct OssCalls {
    put_type: u64,
    get_type: u64,
}

impl OssCalls {
    fn total(self) -> u64 {
        self.put_type + self.get_type
    }
}

fn oss_calls(sim: &reimage_sim::Sim) -> OssCalls {
    let calls = sim.admin().calls().since_reset;
    let count = |ops: &[&str]| {
        ops.iter()
            .map(|op| calls.get(*op).copied().unwrap_or(0))
            .sum()
    };
    OssCalls {
        put_type: count(&["PutObject", "ListObjectsV2"]),
        get_type: count(&["GetObject"]),
    }
}

/// One `GET` of `uri` on `router`: its OSS requests and wall time.
async fn listing(
    sim: &reimage_sim::Sim,
    router: &axum::Router,
    uri: &str,
) -> anyhow::Result<(OssCalls, std::time::Duration)> {
    use tower::ServiceExt as _;
    sim.admin().reset_calls();
    let started = Instant::now();
    let request = http::Request::get(uri).body(axum::body::Body::empty())?;
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 24).await?;
    let wall = started.elapsed();
    anyhow::ensure!(
        status.is_success(),
        "GET {uri}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    let page: serde_json::Value = serde_json::from_slice(&body)?;
    let listed = page["executions"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(listed == 20, "GET {uri} listed {listed} executions, not 20");
    Ok((oss_calls(sim), wall))
}

/// The index entries of a seeded execution whose record 0 is `first`, as a run of its task.
async fn index_history(seed: &SharedStore, first: &StepRecord) -> anyhow::Result<()> {
    let task = first.request.task_id.as_deref();
    started::mark(seed, first.started_at, &first.execution_id, task).await?;
    if let Some(task) = task {
        index_run(
            seed,
            &RunEntry {
                execution_id: first.execution_id.clone(),
                task_id: task.to_owned(),
                trigger: Trigger::Schedule {
                    slot: first.started_at,
                    catch_up: None,
                },
                requested_at: first.started_at,
            },
        )
        .await?;
    }
    Ok(())
}

/// Section `scale`.
pub async fn run() -> anyhow::Result<Section> {
    // Noon, away from the first minute of a day and from every task's slot.
    let now = start_time() + Duration::hours(12);
    let clock: SharedClock = Arc::new(ManualClock::new(now));
    let sim = reimage_sim::Sim::builder()
        .clock(clock.clone())
        .start()
        .await
        .context("cannot start the sim")?;
    let oss = sim.state().oss();
    oss.create_bucket(BUCKET);
    let seeding = Instant::now();
    let staging: SharedStore = Arc::new(MemoryStore::new());
    for i in 0..FINISHED {
        let at = now - Duration::days(30) + Duration::seconds((i as i64) * 25);
        let records = history(i, at);
        index_history(&staging, &records[0]).await?;
        for record in records {
            let key = format!("{PREFIX}/{}", record.key());
            oss.seed_object(BUCKET, &key, record.to_json(), record.written_at);
            if let State::Pending { due_at, .. } = record.state {
                let entry = format!("{PREFIX}/{}", live::entry_key(due_at, &record.execution_id));
                oss.seed_object(BUCKET, &entry, Vec::new(), record.written_at);
            }
        }
    }
    copy_into(oss, &staging, now - Duration::days(1)).await?;
    drop(staging);
    let seeded = seeding.elapsed();
    let client = crate::cmd::demo::sim_client(&sim, clock.clone())?;
    let store: SharedStore = Arc::new(OssStore::new(
        OssClient::from_client(&client)?,
        BUCKET,
        PREFIX,
    ));
    let tasks = TaskStore::new(store.clone());
    for i in 0..TASKS {
        tasks
            .create(&task_id(i), task(i), now)
            .await
            .with_context(|| format!("cannot create task {i}"))?;
    }
    let wire = || {
        Pieces {
            store: store.clone(),
            clock: clock.clone(),
            ids: Arc::new(SequentialIds::new("scale")),
            dispatcher: Arc::new(LocalDispatcher::new(clock.clone())),
            clouds: settings::clouds(client.clone()),
            config: EngineConfig::default(),
            sealer: None,
            kicker: None,
        }
        .wire()
    };
    let wired = wire();
    for i in 0..IN_FLIGHT {
        let first = request(FINISHED + i);
        let id = ExecutionId::derived(&format!("bench-scale-{}", FINISHED + i));
        index_run(
            &store,
            &RunEntry {
                execution_id: id.clone(),
                task_id: task_id((FINISHED + i) % TASKS),
                trigger: Trigger::Manual,
                requested_at: now,
            },
        )
        .await?;
        wired.engine.start(first, id).await?;
    }

    // A fresh process (a cold FC instance), then the same one a minute later.
    let cold_process = wire();
    let (cold, cold_wall) = minute(&sim, &cold_process, now, false).await?;
    let (warm, warm_wall) = minute(&sim, &cold_process, now + Duration::minutes(1), false).await?;
    let midnight = (now + Duration::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |t| t.and_utc());
    let (daily, daily_wall) = minute(&sim, &cold_process, midnight, false).await?;
    let (all, all_wall) = minute(&sim, &cold_process, midnight, true).await?;
    let per_day = warm.total() * (24 * 60 - 1) + daily.total();
    let (put_type, get_type) = (
        warm.put_type * (24 * 60 - 1) + daily.put_type,
        warm.get_type * (24 * 60 - 1) + daily.get_type,
    );
    let cost = (put_type + get_type) as f64 / 10_000.0 * CNY_PER_10K_REQUESTS;

    // The listings: a fresh process's first page, then the same page again.
    let lister = wire().api(Auth::Off);
    let router = Arc::new(lister).router();
    let newest = "/executions?limit=20";
    let one = format!("/executions?task={}&limit=20", task_id(1));
    let page_cold = listing(&sim, &router, newest).await?;
    let page_warm = listing(&sim, &router, newest).await?;
    let router = Arc::new(wire().api(Auth::Off)).router();
    let task_cold = listing(&sim, &router, &one).await?;
    let task_warm = listing(&sim, &router, &one).await?;

    // 9,000 more tasks, then a fresh process's tick over the 10,000.
    let staging: SharedStore = Arc::new(MemoryStore::new());
    let seeded_tasks = TaskStore::new(staging.clone());
    for i in TASKS..TASKS * 10 {
        seeded_tasks.create(&task_id(i), task(i), now).await?;
    }
    copy_into(oss, &staging, now).await?;
    let ticker = wire();
    sim.admin().reset_calls();
    let ticking = Instant::now();
    let report = ticker.scheduler.tick(now + Duration::minutes(2)).await?;
    let tick_wall = ticking.elapsed();
    let tick_requests = oss_calls(&sim).total();
    anyhow::ensure!(
        report.started.is_empty(),
        "no task of the bench is due at noon"
    );
    sim.shutdown().await;

    let ms = |d: std::time::Duration| format!("{} ms", d.as_millis());
    let mut pages = Vec::new();
    for (what, (calls, wall)) in [
        ("GET /executions?limit=20, a fresh process", page_cold),
        ("the same page again", page_warm),
        (
            "GET /executions?task=…&limit=20, a fresh process",
            task_cold,
        ),
        ("the same task's page again", task_warm),
    ] {
        pages.push(Figure::at_most(
            format!("OSS requests, {what}"),
            calls.total() as f64,
            "",
            5.0,
        ));
        pages.push(Figure::at_most(
            "  its wall time",
            wall.as_secs_f64() * 1000.0,
            " ms",
            50.0,
        ));
    }
    Ok(Section {
        name: "scale",
        title: format!(
            "an idle minute over the OSS store: {TASKS} tasks, {FINISHED} finished executions of \
             {RECORDS} records, {IN_FLIGHT} in flight"
        ),
        figures: [
            Figure::plain("history written into the bucket in", ms(seeded)),
            Figure::plain("OSS requests, a cold process's first minute", cold.total()),
            Figure::plain("  its wall time", ms(cold_wall)),
            Figure::at_most("OSS requests, a warm minute", warm.total() as f64, "", 20.0),
            Figure::at_most(
                "  its wall time",
                warm_wall.as_secs_f64() * 1000.0,
                " ms",
                1000.0,
            ),
            Figure::plain(
                "OSS requests, the first minute of a day (48 h back)",
                daily.total(),
            ),
            Figure::plain("  its wall time", ms(daily_wall)),
            Figure::plain(
                "OSS requests, `serve`'s start (every execution)",
                all.total(),
            ),
            Figure::plain("  its wall time", ms(all_wall)),
            Figure::at_most(
                "OSS requests a day, idle, one warm instance",
                per_day as f64,
                "",
                30_000.0,
            ),
            Figure::plain(
                "  of them PUT-type (PutObject, ListObjectsV2) / GET-type",
                format!("{put_type} / {get_type}"),
            ),
            Figure::plain(
                format!("  their cost at {CNY_PER_10K_REQUESTS} CNY per 10,000 requests"),
                format!("{cost:.4} CNY a day, {:.2} CNY a year", cost * 365.0),
            ),
            Figure::plain(
                format!(
                    "OSS requests, a fresh process's tick over {} tasks",
                    TASKS * 10
                ),
                tick_requests,
            ),
            Figure::at_most("  its wall time", tick_wall.as_secs_f64(), " s", 10.0),
        ]
        .into_iter()
        .chain(pages)
        .collect(),
    })
}
