//! `reimage images list|prune`: the images reimage made, where each is used, and retention
//! (see [`reimage::images`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use reimage::clock::{SharedClock, SystemClock};
use reimage::ids::RandomIds;
use reimage::images::{self, Action, AliyunRegion, Outcome, Policies, Survey, Why};
use reimage::settings::Env;
use reimage::store::tasks::TaskStore;

use crate::report::Output;
use crate::settings;

/// Options of `reimage images`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Each image reimage made: its task, age, size, where it is used, and what retention
    /// would do with it.
    List(Common),
    /// Apply retention: a dry run unless --apply. Marks the images no longer needed; deletes
    /// those marked longer than the grace period ago (REIMAGE_RETENTION_GRACE_HOURS, 24 by
    /// default), with their snapshots.
    Prune(PruneArgs),
}

#[derive(Debug, clap::Args)]
struct Common {
    /// The state directory of the file store (else `REIMAGE_STATE_DIR`, else `./.reimage`):
    /// where tasks (with their retention) and executions at work are read.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

#[derive(Debug, clap::Args)]
struct PruneArgs {
    #[command(flatten)]
    common: Common,
    /// Mark and delete; without it, only print what a prune would do. Needs the
    /// deployment's own records named (REIMAGE_STORE, --state-dir or REIMAGE_STATE_DIR):
    /// their tasks and work at work decide what stays.
    #[arg(long)]
    apply: bool,
}

/// Runs `reimage images …`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (common, apply) = match args.command {
        Command::List(common) => (common, None),
        Command::Prune(p) => (p.common, Some(p.apply)),
    };
    let env = Env::from_process();
    let named = common.state_dir.is_some()
        || env.get("REIMAGE_STORE").is_some()
        || env.get("REIMAGE_STATE_DIR").is_some();
    if apply == Some(true) && !named {
        anyhow::bail!(
            "prune --apply reads the deployment's records (its tasks' retention, the executions \
             and rollouts at work) before it deletes anything: name them with REIMAGE_STORE, \
             --state-dir or REIMAGE_STATE_DIR"
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let clock: SharedClock = Arc::new(SystemClock);
        let store = settings::store(&env, common.state_dir.as_deref(), clock.clone())?;
        let policies = Policies::from_env(&env)
            .map_err(|(name, value)| anyhow::anyhow!("{name}: {value}"))?
            .with_tasks(&TaskStore::new(store.clone()))
            .await
            .context("cannot read the tasks' retention")?;
        let client = settings::client(&env, clock.clone(), Arc::new(RandomIds))?;
        let region = AliyunRegion::new(client);
        let survey = images::survey(&region, &store, &policies, clock.now()).await?;
        let outcome = match apply {
            Some(true) => Some(images::apply(&region, &store, &survey).await?),
            _ => None,
        };
        match common.output {
            Output::Text => {
                print!("{}", table(&survey));
                if let Some(outcome) = &outcome {
                    print!("{}", summary(outcome));
                } else if apply == Some(false) {
                    println!("dry run: nothing changed (--apply marks and deletes)");
                }
            }
            Output::Json => {
                let body = serde_json::json!({ "survey": survey, "outcome": outcome });
                println!("{}", serde_json::to_string_pretty(&body)?);
            }
        }
        let failed = outcome.is_some_and(|o| !o.failed.is_empty());
        Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}

fn why(why: &Why) -> String {
    match why {
        Why::InUse { uses } if uses.is_empty() => "in use".into(),
        Why::InUse { uses } => {
            let named: Vec<String> = uses.iter().map(ToString::to_string).collect();
            format!("in use: {}", named.join("; "))
        }
        Why::Building => "being made".into(),
        Why::UnknownTask => "its task is not in these records (another deployment's?)".into(),
        Why::Newest { rank } => format!("newest #{rank}"),
        Why::Young => "young".into(),
        Why::ExecutionAtWork => "its execution is at work".into(),
        Why::Expired => "no longer needed".into(),
    }
}

fn action(action: &Action) -> String {
    match action {
        Action::Keep => "keep".into(),
        Action::Mark => "mark".into(),
        Action::Unmark => "unmark".into(),
        Action::Wait { until } => format!("delete after {}Z", until.format("%Y-%m-%d %H:%M")),
        Action::Delete => "delete".into(),
    }
}

/// The survey as a table for people.
pub fn table(survey: &Survey) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:<16} {:>6} {:>6}  {:<30} WHY",
        "IMAGE", "TASK", "DAYS", "GIB", "ACTION"
    );
    for v in &survey.images {
        let days = v
            .image
            .created
            .map(|c| (survey.at - c).num_days().to_string())
            .unwrap_or_else(|| "?".into());
        let _ = writeln!(
            out,
            "{:<24} {:<16} {:>6} {:>6}  {:<30} {}",
            v.image.image_id,
            v.image.task.as_deref().unwrap_or("-"),
            days,
            v.image.size_gib,
            action(&v.action),
            why(&v.why)
        );
    }
    let leftovers: Vec<_> = survey
        .snapshots
        .iter()
        .filter(|v| !matches!(v.why, Why::InUse { .. }))
        .collect();
    if !leftovers.is_empty() {
        let _ = writeln!(out, "\nsnapshots no image uses:");
        for v in leftovers {
            let _ = writeln!(
                out,
                "{:<24} {:<30} {}",
                v.snapshot.snapshot_id,
                action(&v.action),
                why(&v.why)
            );
        }
    }
    out
}

fn summary(o: &Outcome) -> String {
    let mut out = format!(
        "marked {}, unmarked {}, deleted {} images and {} snapshots\n",
        o.marked.len(),
        o.unmarked.len(),
        o.deleted_images.len(),
        o.deleted_snapshots.len()
    );
    for (id, why) in &o.refused {
        out.push_str(&format!(
            "kept {id}: the cloud refused the deletion ({why})\n"
        ));
    }
    for (id, error) in &o.failed {
        out.push_str(&format!(
            "failed {id}: {error} (the next pass tries again)\n"
        ));
    }
    out
}
