//! `reimage doctor`: what in the state store needs a person's attention. Only the store is
//! read: no cloud call, no credentials needed (beyond an OSS store's own).
//!
//! - **Unreadable records**: the latest record of a task or an execution that does not read
//!   (a truncated write, a hand edit). Listings, the minute tick and the sweep skip them;
//!   doctor names each key and why.
//! - **Executions past their deadline**: still pending later than their start plus the image
//!   deadline plus the sweep's overdue time. The sweep re-dispatches a pending step long
//!   before that, so such an execution is stuck (its function keeps failing, its events are
//!   refused): look at its records with `reimage execution show`.
//!
//! The exit code is 0 when nothing was found, 1 otherwise, so a cron job or a CI step can
//! run it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use reimage::clock::{Clock, SystemClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::model::State;
use reimage::model::task::TaskStore;
use reimage::settings::Env;
use reimage::store::Unreadable;
use serde::Serialize;

use crate::cmd::execution::NoCloud;
use crate::report::{Output, time};
use crate::settings;

/// Options of `reimage doctor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The state directory of the file store (else `REIMAGE_STATE_DIR`, else `./.reimage`).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// How to print.
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

/// What doctor found.
#[derive(Debug, Serialize)]
struct Findings {
    /// Task and execution records that do not read.
    unreadable: Vec<Unreadable>,
    /// Executions still pending past their deadline.
    past_deadline: Vec<PastDeadline>,
}

/// An execution still pending past its deadline.
#[derive(Debug, Serialize)]
struct PastDeadline {
    execution_id: String,
    step: String,
    started_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
}

impl Findings {
    fn is_healthy(&self) -> bool {
        self.unreadable.is_empty() && self.past_deadline.is_empty()
    }

    fn to_text(&self) -> String {
        let mut out = String::new();
        if self.unreadable.is_empty() {
            out.push_str("Unreadable records: none\n");
        } else {
            out.push_str("Unreadable records (skipped by listings, the tick and the sweep):\n");
            for bad in &self.unreadable {
                out.push_str(&format!("  {}: {}\n", bad.key, bad.reason));
            }
        }
        if self.past_deadline.is_empty() {
            out.push_str("Executions past their deadline: none\n");
        } else {
            out.push_str("Executions past their deadline (still pending):\n");
            for e in &self.past_deadline {
                out.push_str(&format!(
                    "  {}  {} since {}, deadline {}\n",
                    e.execution_id,
                    e.step,
                    time(e.started_at),
                    time(e.deadline)
                ));
            }
        }
        out
    }
}

/// Runs `reimage doctor`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let clock = Arc::new(SystemClock);
        let store = settings::store(&env, args.state_dir.as_deref(), clock.clone())?;
        let tasks = TaskStore::new(store.clone())
            .scan()
            .await
            .context("cannot list tasks")?;
        let engine = settings::engine(
            store,
            clock.clone(),
            Arc::new(LocalDispatcher::new(clock.clone())),
            Arc::new(NoCloud),
        );
        let executions = engine.scan().await.context("cannot list executions")?;
        let config = engine.config();
        let grace = chrono::Duration::from_std(config.image_deadline + config.overdue_after)
            .unwrap_or(chrono::Duration::MAX);
        let now = clock.now();
        let mut unreadable = tasks.unreadable;
        unreadable.extend(executions.unreadable);
        let past_deadline = executions
            .executions
            .iter()
            .filter_map(|record| {
                let State::Pending { step, .. } = &record.state else {
                    return None;
                };
                let deadline = record.started_at.checked_add_signed(grace)?;
                (now > deadline).then(|| PastDeadline {
                    execution_id: record.execution_id.to_string(),
                    step: step.to_string(),
                    started_at: record.started_at,
                    deadline,
                })
            })
            .collect();
        let findings = Findings {
            unreadable,
            past_deadline,
        };
        match args.output {
            Output::Text => print!("{}", findings.to_text()),
            Output::Json => println!("{}", serde_json::to_string_pretty(&findings)?),
        }
        Ok(if findings.is_healthy() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
