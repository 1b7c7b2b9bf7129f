//! The performance figures of tasks, the scheduler and the HTTP API, for `reimage bench`.
//!
//! Measured, printed, never asserted:
//!
//! - the scheduler tick over 10,000 tasks in the file store (goal: at most 1 s);
//! - `GET /executions/{id}` latency on the file store, p50 and p99 (goal: p99 at most 5 ms);
//! - webhooks refused for a bad signature, per second (goal: at least 20,000 on 2 cores,
//!   without touching the store).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use futures::StreamExt as _;
use http::{Request, StatusCode};
use tower::ServiceExt;

use reimage::api::{Api, Auth, webhook};
use reimage::clock::{ManualClock, SharedClock};
use reimage::ids::SequentialIds;
use reimage::model::PermissionSource;
use reimage::model::execution::{ExecutionId, StepRecord, UpdateRequest};
use reimage::model::task::{ExecutedAt, Periodic, Recurrence, TaskSpec, WebhookSecret};
use reimage::schedule::{IndexedRuns, RunFuture, RunRequest, RunStarted, Runs, Scheduler};
use reimage::store::SharedStore;
use reimage::store::file::FileStore;
use reimage::store::tasks::TaskStore;

/// How many records are written at once while the store is filled.
const SEED_CONCURRENCY: usize = 256;

/// What to measure and how much.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Tasks in the store for the tick (10,000).
    pub tasks: usize,
    /// Executions in the store for the GET latency.
    pub executions: usize,
    /// GET requests timed.
    pub gets: usize,
    /// Forged webhooks sent.
    pub webhooks: usize,
    /// Concurrent senders of forged webhooks.
    pub parallelism: usize,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            tasks: 10_000,
            executions: 1_000,
            gets: 2_000,
            webhooks: 100_000,
            parallelism: 2,
        }
    }
}

/// The figures.
#[derive(Debug, Clone)]
pub struct BenchFigures {
    /// Tasks the tick went over.
    pub tasks: usize,
    /// Of those, slots the tick started.
    pub started: usize,
    /// How long the tick took.
    pub tick: Duration,
    /// GET /executions/{id}: median.
    pub get_p50: Duration,
    /// GET /executions/{id}: 99th percentile.
    pub get_p99: Duration,
    /// Forged webhooks refused per second.
    pub rejected_webhooks_per_second: f64,
}

impl fmt::Display for BenchFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scheduler tick over {} tasks (file store): {:.3} s, {} slots started (goal <= 1 s)",
            self.tasks,
            self.tick.as_secs_f64(),
            self.started
        )?;
        writeln!(
            f,
            "GET /executions/{{id}} (file store): p50 {:.3} ms, p99 {:.3} ms (goal p99 <= 5 ms)",
            self.get_p50.as_secs_f64() * 1e3,
            self.get_p99.as_secs_f64() * 1e3
        )?;
        write!(
            f,
            "webhooks refused for a bad signature: {:.0} per second (goal >= 20,000)",
            self.rejected_webhooks_per_second
        )
    }
}

/// A run that is only indexed: the tick's own cost, not the engine's.
#[derive(Debug)]
struct Counted;

impl Runs for Counted {
    fn start(&self, request: RunRequest) -> RunFuture<'_> {
        Box::pin(async move {
            Ok(RunStarted {
                execution_id: request.execution_id,
                created: true,
            })
        })
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn daily_task(minute_of_day: u32) -> TaskSpec {
    let at = NaiveTime::from_num_seconds_from_midnight_opt((minute_of_day % 1440) * 60, 0)
        .unwrap_or(NaiveTime::MIN);
    TaskSpec {
        scaling_group_ids: Vec::new(),
        allow_default_version_change: false,
        notify: Vec::new(),
        retention: None,
        source_instance_id: "i-bench".into(),
        image_name: None,
        configuration_source: Default::default(),
        scaling_configuration_ids: vec!["asc-bench".into()],
        executed_at: ExecutedAt::Periodic(Periodic {
            recurrence: Recurrence::Daily,
            at,
            starts_at: None,
            expired_at: start() + chrono::Duration::days(365),
            time_zone: "Asia/Shanghai".into(),
        }),
        permission: PermissionSource::RamRole {
            role_arn: "acs:ram::123456789012:role/reimage-bench".into(),
        },
        webhook_secret: Some(WebhookSecret::new("bench-webhook-secret-0123").into()),
        webhook_runs_per_hour: None,
        disable_after_failures: None,
        rollout: None,
        allow_platform_change: false,
    }
}

/// Runs the benchmarks in `dir` (a scratch directory; the file store goes there).
pub async fn run(dir: &Path, config: &BenchConfig) -> Result<BenchFigures, String> {
    let store: SharedStore = Arc::new(FileStore::open(dir).map_err(|e| e.to_string())?);
    let clock = ManualClock::new(start());
    let shared_clock: SharedClock = Arc::new(clock.clone());
    // Webhook secrets are sealed as `reimage serve` seals them (AES-256-GCM, a local key).
    let sealer: reimage::secrets::SharedSealer = Arc::new(reimage::secrets::LocalSealer::with_key(
        [0x5a; reimage::secrets::KEY_LEN],
    ));
    let tasks = TaskStore::new(store.clone()).with_sealer(Some(sealer.clone()));
    let created = start() - chrono::Duration::days(1);
    // Task i runs daily at minute i * 1440 / tasks of the day, so a few tasks (one in 1440)
    // are due in the minute ticked below. The file store syncs every record, so they are written 64 at once.
    let minutes = |i: usize| (i * 1440 / config.tasks.max(1)) as u32;
    let results: Vec<Result<_, _>> = futures::stream::iter(0..config.tasks)
        .map(|i| {
            let tasks = tasks.clone();
            async move {
                tasks
                    .create(
                        &format!("task-bench-{i:05}"),
                        daily_task(minutes(i)),
                        created,
                    )
                    .await
            }
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .collect()
        .await;
    for result in results {
        result.map_err(|e| e.to_string())?;
    }

    // The tick: every task read and its slots computed; the tasks due in this minute started.
    let runs = IndexedRuns::new(store.clone(), shared_clock.clone(), Counted);
    let scheduler = Scheduler::new(tasks.clone(), Arc::new(runs));
    // Minute 0 of the day in Shanghai: task 0's slot.
    let now = start() + chrono::Duration::hours(16);
    let began = Instant::now();
    let report = scheduler
        .tick_since(now - chrono::Duration::minutes(1), now)
        .await
        .map_err(|e| e.to_string())?;
    let tick = began.elapsed();

    // GET /executions/{id}: executions of three records each.
    let ids: Vec<ExecutionId> = (0..config.executions)
        .map(|i| ExecutionId::derived(&format!("bench:{i}")))
        .collect();
    let mut records = Vec::with_capacity(ids.len() * 3);
    for (i, id) in ids.iter().enumerate() {
        let first = StepRecord::first(
            id.clone(),
            UpdateRequest {
                scaling_group_ids: Vec::new(),
                allow_default_version_change: false,
                instance_id: "i-bench".into(),
                image_name: None,
                configuration_ids: vec!["asc-bench".into()],
                permission: PermissionSource::Account,
                task_id: Some(format!("task-bench-{:05}", i % config.tasks.max(1))),
                rollout: None,
                allow_platform_change: false,
            },
            format!("UpdateImage_from_i-bench_on_{id}"),
            start(),
        );
        let second = first.next(first.state.clone(), first.learned.clone(), start());
        let third = second.next(second.state.clone(), second.learned.clone(), start());
        records.extend([first, second, third]);
    }
    let results: Vec<Result<(), _>> = futures::stream::iter(records)
        .map(|record| {
            let store = store.clone();
            async move { store.create(&record.key(), &record.to_json()).await }
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .collect()
        .await;
    for result in results {
        result.map_err(|e| e.to_string())?;
    }
    let api = Arc::new(
        Api::new(
            store.clone(),
            Arc::new(Counted),
            shared_clock.clone(),
            Arc::new(SequentialIds::new("bench")),
            Auth::Off,
        )
        .with_sealer(Some(sealer)),
    );
    let router = api.router();
    let mut latencies = Vec::with_capacity(config.gets);
    for i in 0..config.gets {
        let id = &ids[i % ids.len().max(1)];
        let request = Request::get(format!("/executions/{id}"))
            .body(Body::empty())
            .map_err(|e| e.to_string())?;
        let began = Instant::now();
        let response = router
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
        latencies.push(began.elapsed());
        if status != StatusCode::OK {
            return Err(format!("GET /executions/{id} answered {status}"));
        }
    }
    latencies.sort();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };

    // Forged webhooks, after one that warms the secret cache.
    let body = br#"{"ref":"refs/heads/main"}"#.to_vec();
    let forged = webhook::github_signature(&WebhookSecret::new("not-the-secret-at-all"), &body);
    let per_sender = config.webhooks / config.parallelism.max(1);
    let began = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..config.parallelism.max(1) {
        let router = router.clone();
        let body = body.clone();
        let forged = forged.clone();
        senders.push(tokio::spawn(async move {
            let mut refused = 0usize;
            for _ in 0..per_sender {
                let Ok(request) = Request::post("/hooks/task-bench-00000")
                    .header("x-hub-signature-256", &forged)
                    .body(Body::from(body.clone()))
                else {
                    continue;
                };
                let response = router
                    .clone()
                    .oneshot(request)
                    .await
                    .unwrap_or_else(|never| match never {});
                if response.status() == StatusCode::UNAUTHORIZED {
                    refused += 1;
                }
            }
            refused
        }));
    }
    let mut refused = 0;
    for sender in senders {
        refused += sender.await.map_err(|e| e.to_string())?;
    }
    let elapsed = began.elapsed().as_secs_f64();

    Ok(BenchFigures {
        tasks: report.tasks,
        started: report.started.len(),
        tick,
        get_p50: pick(0.50),
        get_p99: pick(0.99),
        rejected_webhooks_per_second: if elapsed > 0.0 {
            refused as f64 / elapsed
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_small_run_measures_every_figure() {
        let dir = tempfile::tempdir().unwrap();
        let config = BenchConfig {
            tasks: 48,
            executions: 20,
            gets: 50,
            webhooks: 200,
            parallelism: 2,
        };
        let figures = run(dir.path(), &config).await.unwrap();
        assert_eq!(figures.tasks, 48);
        // One task every half hour of the day: exactly one is due in the ticked minute.
        assert_eq!(figures.started, 1);
        assert!(figures.get_p99 >= figures.get_p50);
        assert!(figures.rejected_webhooks_per_second > 0.0);
        assert!(figures.to_string().contains("p99"));
    }
}
