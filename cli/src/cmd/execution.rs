//! `reimage execution list` and `reimage execution show <id>`: what the state store says about
//! image updates, as text for people or JSON for scripts. Only the store is read: no cloud
//! call, no credentials needed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use reimage::clock::SystemClock;
use reimage::dispatch::local::LocalDispatcher;
use reimage::model::{ExecutionId, StepRecord};
use reimage::settings::Env;
use reimage::steps::cloud::CloudProvider;
use reimage::steps::started::Cursor;
use reimage::steps::{CloudError, Engine, SharedCloud};
use serde::Serialize;

use crate::report::{ExecutionView, Output, table, time};
use crate::settings;

/// Options of `reimage execution`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// The state directory of the file store (else `REIMAGE_STATE_DIR`, else `./.reimage`).
    #[arg(long, global = true)]
    state_dir: Option<PathBuf>,
    /// How to print.
    #[arg(long, value_enum, default_value_t, global = true)]
    output: Output,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Executions, newest first, a page at a time.
    List {
        /// Only the runs of this task.
        #[arg(long, value_name = "TASK_ID")]
        task: Option<String>,
        /// At most this many (1–1000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
        limit: u16,
        /// Start after this cursor: the `next` a previous page printed.
        #[arg(long, value_name = "CURSOR")]
        after: Option<String>,
    },
    /// One execution: its outcome, each configuration's old → new image, and its records.
    Show {
        /// The execution id (`exec-…`).
        id: String,
    },
}

/// `execution show --output json`: the execution and every record it wrote.
#[derive(Debug, Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    execution: &'a ExecutionView,
    records: &'a [StepRecord],
}

/// Reading executions needs no cloud: this provider refuses, and is never asked.
#[derive(Debug)]
pub(crate) struct NoCloud;

impl CloudProvider for NoCloud {
    fn cloud(
        &self,
        _permission: &reimage::model::PermissionSource,
    ) -> Result<SharedCloud, CloudError> {
        Err(CloudError::client(
            "-",
            "NoCloud",
            "reading executions makes no cloud call",
        ))
    }
}

/// Runs `reimage execution …`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let clock = Arc::new(SystemClock);
        let store = settings::store(&env, args.state_dir.as_deref(), clock.clone())?;
        let engine = settings::engine(
            store,
            clock.clone(),
            Arc::new(LocalDispatcher::new(clock)),
            Arc::new(NoCloud),
        );
        match args.command {
            Command::List { task, limit, after } => {
                let page = Paging {
                    task,
                    limit: limit.into(),
                    after,
                };
                list(&engine, &page, args.output).await
            }
            Command::Show { id } => show(&engine, &id, args.output).await,
        }
    })
}

/// Which page `execution list` prints.
struct Paging {
    task: Option<String>,
    limit: usize,
    after: Option<String>,
}

/// `execution list --output json`: a page, as `GET /executions` answers it.
#[derive(Debug, Serialize)]
struct Listed {
    executions: Vec<ExecutionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

async fn list(engine: &Engine, paging: &Paging, output: Output) -> anyhow::Result<ExitCode> {
    if let Some(task) = &paging.task {
        if !reimage::store::tasks::is_valid_task_id(task) {
            bail!("{task:?} is not a task id (`reimage task list` lists them)");
        }
    }
    let after = paging.after.as_deref().map(Cursor::parse).transpose()?;
    let page = engine
        .page(paging.task.as_deref(), after.as_ref(), paging.limit)
        .await
        .context("cannot list executions")?;
    for bad in &page.unreadable {
        bad.warn_skipped("the execution listing");
    }
    let listed = Listed {
        executions: page.executions.iter().map(ExecutionView::of).collect(),
        next: page.next.map(|c| c.to_string()),
    };
    match output {
        Output::Text => {
            print!("{}", table(&listed.executions));
            if let Some(next) = &listed.next {
                let mut more = String::from("reimage execution list");
                if let Some(task) = &paging.task {
                    more.push_str(&format!(" --task {task}"));
                }
                if paging.limit != 50 {
                    more.push_str(&format!(" --limit {}", paging.limit));
                }
                println!("More: {more} --after {next}");
            }
        }
        Output::Json => println!("{}", serde_json::to_string_pretty(&listed)?),
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(engine: &Engine, id: &str, output: Output) -> anyhow::Result<ExitCode> {
    let id = ExecutionId::parse(id)?;
    let records = engine
        .history(&id)
        .await
        .with_context(|| format!("cannot read execution {id}"))?;
    let Some(last) = records.last() else {
        bail!("no execution {id} in this state store (`reimage execution list` lists them)");
    };
    let view = ExecutionView::of(last);
    match output {
        Output::Text => {
            print!("{}", view.to_text());
            println!("Records");
            for r in &records {
                let what = match &r.state {
                    reimage::model::State::Pending { step, due_at } => {
                        format!("{step} due {}", time(*due_at))
                    }
                    other => other.status().to_owned(),
                };
                println!("  {:>3}  {}  {what}", r.seq, time(r.written_at));
            }
        }
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&Shown {
                execution: &view,
                records: &records,
            })?
        ),
    }
    Ok(ExitCode::SUCCESS)
}
