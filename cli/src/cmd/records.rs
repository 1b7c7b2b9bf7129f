//! `reimage records prune`: history that ends, for a file store; `reimage records reindex`:
//! the listings' index for a store written before it existed.
//!
//! Removes every execution that ended more than `--older-than` days ago (its latest record
//! was written before then), with the entries that point at it, and nothing else: a pending
//! execution and one whose latest record does not read are kept and named, tasks are never
//! touched (see `reimage::retention`). An OSS store is pruned by its bucket's lifecycle rules
//! instead (template.yml's `RecordRetentionDays`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use reimage::clock::{Clock, SystemClock};
use reimage::settings::Env;
use reimage::store::SharedStore;
use reimage::store::file::FileStore;
use reimage::store::url::StoreLocation;

/// `reimage records …`.
#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Remove the records of executions that ended more than DAYS days ago.
    Prune(PruneArgs),
    /// Index, for `execution list`, every execution of a store written before reimage kept
    /// the index (an execution indexed already is left as it is).
    Reindex(ReindexArgs),
}

/// Options of `reimage records reindex`.
#[derive(Debug, clap::Args)]
pub struct ReindexArgs {
    /// The state directory of the file store (else `REIMAGE_STATE_DIR`, else `./.reimage`).
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

/// Options of `reimage records prune`.
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Executions that ended more than this many days ago go.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    older_than: u32,
    /// Print what would go, removing nothing.
    #[arg(long)]
    dry_run: bool,
    /// The state directory of the file store (else `REIMAGE_STATE_DIR`, else `./.reimage`).
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

/// Runs `reimage records …`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args {
        Args::Prune(args) => prune(args),
        Args::Reindex(args) => reindex(args),
    }
}

fn reindex(args: ReindexArgs) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = crate::settings::store(&env, args.state_dir.as_deref(), Arc::new(SystemClock))?;
        let done = reimage::steps::started::reindex(&store)
            .await
            .context("cannot index the store's executions")?;
        for bad in &done.unreadable {
            println!("skipped {}: {} (see `reimage doctor`)", bad.key, bad.reason);
        }
        println!("indexed {} executions", done.indexed);
        Ok(ExitCode::SUCCESS)
    })
}

fn prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let dir = env.state_dir(args.state_dir.as_deref());
    let path = match StoreLocation::from_env(&env, &dir)? {
        StoreLocation::File(path) => path,
        StoreLocation::Oss { bucket, .. } => bail!(
            "the store is the OSS bucket {bucket}: its lifecycle rules expire old records \
             (template.yml's RecordRetentionDays); `records prune` is for a file store"
        ),
    };
    let files = FileStore::open(&path)
        .with_context(|| format!("cannot open the file store {}", path.display()))?;
    let store: SharedStore = Arc::new(files.clone());
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let cutoff = SystemClock.now() - chrono::Duration::days(i64::from(args.older_than));
    let plan = runtime
        .block_on(reimage::retention::plan(&store, cutoff))
        .context("cannot read the store")?;
    for id in &plan.kept_pending {
        println!("kept {id}: still pending");
    }
    for id in &plan.kept_unreadable {
        println!("kept {id}: its latest record does not read (see `reimage doctor`)");
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    if !args.dry_run {
        for key in &plan.keys {
            files
                .remove(key)
                .with_context(|| format!("cannot remove {key}"))?;
        }
    }
    println!(
        "{verb} {} executions that ended before {} ({} records and index entries)",
        plan.executions.len(),
        cutoff.format("%Y-%m-%d %H:%M UTC"),
        plan.keys.len()
    );
    Ok(ExitCode::SUCCESS)
}
