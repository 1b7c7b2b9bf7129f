//! Section `scale`: what an idle minute costs at account scale, against the sim's OSS.
//!
//! The history is written straight into the sim's bucket (the bench owns it): 100,000
//! executions that ended in the last 30 days, 7 records each, with their index entries. The
//! 1,000 tasks are created through the OSS store, and 10 executions are in flight. Then one
//! process is wired over the OSS store as a function is, and its minutes are counted: the
//! first (a cold instance), the next (warm), the first minute of a day (two days back), and
//! the sweep of every execution that `reimage serve` runs at start.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use reimage::aliyun::oss::OssClient;
use reimage::clock::{ManualClock, SharedClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::SequentialIds;
use reimage::model::task::{ConfigurationSource, ExecutedAt, TaskSpec};
use reimage::model::{ExecutionId, PermissionSource, State, Step, StepRecord, UpdateRequest};
use reimage::steps::EngineConfig;
use reimage::steps::live;
use reimage::store::SharedStore;
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

fn request(i: usize) -> UpdateRequest {
    UpdateRequest {
        instance_id: "i-bp1demoweb000000001".into(),
        image_name: None,
        configuration_ids: vec![format!("asc-bench{:06}", i % 500)],
        permission: PermissionSource::Account,
        task_id: None,
    }
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
    }
}

/// One minute's tick and sweep of `wired` at `now`: OSS requests and wall time.
async fn minute(
    sim: &reimage_sim::Sim,
    wired: &Wired,
    now: DateTime<Utc>,
    all: bool,
) -> anyhow::Result<(u64, std::time::Duration)> {
    sim.admin().reset_calls();
    let started = Instant::now();
    if all {
        wired.engine.sweep_all(now).await?;
    } else {
        wired.engine.tick_sweep(now).await?;
    }
    wired.scheduler.tick(now).await?;
    let wall = started.elapsed();
    let calls = sim.admin().calls().since_reset;
    let oss = ["GetObject", "PutObject", "ListObjectsV2"]
        .iter()
        .map(|op| calls.get(*op).copied().unwrap_or(0))
        .sum();
    Ok((oss, wall))
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
    for i in 0..FINISHED {
        let at = now - Duration::days(30) + Duration::seconds((i as i64) * 25);
        for record in history(i, at) {
            let key = format!("{PREFIX}/{}", record.key());
            oss.seed_object(BUCKET, &key, record.to_json(), record.written_at);
            if let State::Pending { due_at, .. } = record.state {
                let entry = format!("{PREFIX}/{}", live::entry_key(due_at, &record.execution_id));
                oss.seed_object(BUCKET, &entry, Vec::new(), record.written_at);
            }
        }
    }
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
            .create(&format!("bench-task-{i:04}"), task(i), now)
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
        }
        .wire()
    };
    let wired = wire();
    for i in 0..IN_FLIGHT {
        wired.engine.start_new(request(FINISHED + i)).await?;
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
    let per_day = warm * (24 * 60 - 1) + daily;
    sim.shutdown().await;

    let ms = |d: std::time::Duration| format!("{} ms", d.as_millis());
    Ok(Section {
        name: "scale",
        title: format!(
            "an idle minute over the OSS store: {TASKS} tasks, {FINISHED} finished executions of \
             {RECORDS} records, {IN_FLIGHT} in flight"
        ),
        figures: vec![
            Figure::plain("history written into the bucket in", ms(seeded)),
            Figure::plain("OSS requests, a cold process's first minute", cold),
            Figure::plain("  its wall time", ms(cold_wall)),
            Figure::at_most("OSS requests, a warm minute", warm as f64, "", 20.0),
            Figure::at_most(
                "  its wall time",
                warm_wall.as_secs_f64() * 1000.0,
                " ms",
                1000.0,
            ),
            Figure::plain("OSS requests, the first minute of a day (48 h back)", daily),
            Figure::plain("  its wall time", ms(daily_wall)),
            Figure::plain("OSS requests, `serve`'s start (every execution)", all),
            Figure::plain("  its wall time", ms(all_wall)),
            Figure::at_most(
                "OSS requests a day, idle, one warm instance",
                per_day as f64,
                "",
                30_000.0,
            ),
        ],
    })
}
