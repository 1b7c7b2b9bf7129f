//! `reimage doctor`: what in the state store needs a person's attention. Only the store is
//! read: no cloud call, no credentials needed (beyond an OSS store's own).
//!
//! - **Unreadable records**: the latest record of a task or an execution that does not read
//!   (a truncated write, a hand edit). Listings, the minute tick and the sweep skip them;
//!   doctor names each key and why.
//! - **Executions past their deadline**: still pending past the time after which their
//!   scaling configurations' leases are taken over (an execution at work: the start of its
//!   work plus the image deadline plus the lease margin; one waiting for a configuration: its
//!   next look plus the margin). The sweep re-dispatches a pending step long before that, so
//!   such an execution is stuck (its function keeps failing, its events are refused): look at
//!   its records with `reimage execution show`.
//! - **Notifications given up** in the last [`GAVE_UP_DAYS`] days: notices that every
//!   attempt failed to deliver (a receiver that answers errors, or never answers), each with
//!   its target (URL redacted) and its last error.
//! - **Leases held** (for information; not a problem): each scaling configuration an
//!   execution is updating now, and the executions waiting for it.
//!
//! The exit code is 0 when nothing was found, 1 otherwise, so a cron job or a CI step can
//! run it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use reimage::clock::{Clock, SystemClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::model::ExecutionId;
use reimage::settings::Env;
use reimage::steps::lease::{self, EntryKind, LeaseTimes};
use reimage::store::Unreadable;
use reimage::store::tasks::TaskStore;
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

/// How many days back doctor looks for notices that were given up.
pub const GAVE_UP_DAYS: i64 = 7;

/// What doctor found.
#[derive(Debug, Serialize)]
struct Findings {
    /// Task and execution records that do not read.
    unreadable: Vec<Unreadable>,
    /// Executions still pending past their deadline.
    past_deadline: Vec<PastDeadline>,
    /// Notices no attempt delivered.
    notices_given_up: Vec<GaveUp>,
    /// Configurations an execution is updating now.
    leases: Vec<HeldLease>,
}

/// A configuration's lease, held by a live execution.
#[derive(Debug, Serialize)]
struct HeldLease {
    configuration_id: String,
    holder: String,
    /// Live executions waiting for it, oldest first.
    waiting: Vec<String>,
}

/// An execution still pending past its deadline.
#[derive(Debug, Serialize)]
struct PastDeadline {
    execution_id: String,
    step: String,
    started_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
}

/// A notice that was given up.
#[derive(Debug, Serialize)]
struct GaveUp {
    /// `<subject>/<slot>`.
    delivery: String,
    /// The target's kind.
    kind: String,
    /// Its URL, redacted.
    url: String,
    attempts: u32,
    last_error: Option<String>,
    at: DateTime<Utc>,
}

impl Findings {
    fn is_healthy(&self) -> bool {
        self.unreadable.is_empty()
            && self.past_deadline.is_empty()
            && self.notices_given_up.is_empty()
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
        if self.notices_given_up.is_empty() {
            out.push_str(&format!(
                "Notifications given up (last {GAVE_UP_DAYS} days): none\n"
            ));
        } else {
            out.push_str(&format!(
                "Notifications given up (last {GAVE_UP_DAYS} days; every attempt failed):\n"
            ));
            for g in &self.notices_given_up {
                out.push_str(&format!(
                    "  {}  {} {}  {} attempts, last: {} ({})\n",
                    g.delivery,
                    g.kind,
                    g.url,
                    g.attempts,
                    g.last_error.as_deref().unwrap_or("?"),
                    time(g.at)
                ));
            }
        }
        if self.leases.is_empty() {
            out.push_str("Leases held: none\n");
        } else {
            out.push_str("Leases held (scaling configurations being updated now):\n");
            for lease in &self.leases {
                out.push_str(&format!(
                    "  {}  held by {}",
                    lease.configuration_id, lease.holder
                ));
                if !lease.waiting.is_empty() {
                    out.push_str(&format!(", waiting: {}", lease.waiting.join(", ")));
                }
                out.push('\n');
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
            store.clone(),
            clock.clone(),
            Arc::new(LocalDispatcher::new(clock.clone())),
            Arc::new(NoCloud),
        );
        let executions = engine.scan().await.context("cannot list executions")?;
        let times = LeaseTimes::of(engine.config());
        let now = clock.now();
        let mut unreadable = tasks.unreadable;
        unreadable.extend(executions.unreadable);
        let live: HashMap<&ExecutionId, DateTime<Utc>> = executions
            .executions
            .iter()
            .filter_map(|r| Some((&r.execution_id, times.deadline(r)?)))
            .collect();
        let past_deadline = executions
            .executions
            .iter()
            .filter_map(|record| {
                let step = record.state.pending_step()?;
                let deadline = *live.get(&record.execution_id)?;
                (now > deadline).then(|| PastDeadline {
                    execution_id: record.execution_id.to_string(),
                    step: step.to_string(),
                    started_at: record.started_at,
                    deadline,
                })
            })
            .collect();
        let is_live = |id: &ExecutionId| live.get(id).is_some_and(|deadline| now < *deadline);
        let leases = lease::all_logs(&store)
            .await
            .context("cannot list the leases")?
            .into_iter()
            .filter_map(|(configuration_id, log)| {
                let hold = log.hold.filter(|h| is_live(&h.execution_id))?;
                let mut waiting: Vec<String> = log
                    .after
                    .iter()
                    .filter(|e| e.kind == EntryKind::Wait && is_live(&e.execution_id))
                    .map(|e| e.execution_id.to_string())
                    .collect();
                waiting.dedup();
                Some(HeldLease {
                    configuration_id,
                    holder: hold.execution_id.to_string(),
                    waiting,
                })
            })
            .collect();
        let notices_given_up = reimage::notify::delivery::gave_up_between(
            &store,
            now - chrono::Duration::days(GAVE_UP_DAYS),
            now,
        )
        .await
        .context("cannot list the notifications given up")?
        .into_iter()
        .map(|d| GaveUp {
            delivery: d.delivery,
            kind: d.kind,
            url: d.shown,
            attempts: d.attempts,
            last_error: d.last_error,
            at: d.written_at,
        })
        .collect();
        let findings = Findings {
            unreadable,
            past_deadline,
            notices_given_up,
            leases,
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
