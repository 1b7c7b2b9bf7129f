//! `reimage notify`: the deployment's default notification targets, which hear about every
//! execution and rollout besides each task's own (see the README's "Notifications").
//!
//! - `reimage notify set-defaults --file targets.json`: replaces them (the file is a JSON list
//!   of targets; they are stored sealed, like webhook secrets);
//! - `reimage notify clear-defaults`;
//! - `reimage notify show`: the defaults (kind and redacted URL), and the notices given up in
//!   the last days.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use reimage::clock::{SharedClock, SystemClock};
use reimage::notify::Defaults;
use reimage::settings::Env;

use crate::cmd::serve::Runtime;
use crate::report::{Output, time};

/// Options of `reimage notify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The state directory of the file store (else `REIMAGE_STATE_DIR`, else `./.reimage`).
    #[arg(long, global = true)]
    state_dir: Option<PathBuf>,
    /// How to print.
    #[arg(long, value_enum, default_value_t, global = true)]
    output: Output,
    #[command(subcommand)]
    command: NotifyCommand,
}

/// What to do.
#[derive(Debug, clap::Subcommand)]
enum NotifyCommand {
    /// Replace the default targets with those in a JSON file (a list of targets).
    SetDefaults {
        /// The file: `[{"kind": "slack", "webhook_url": "https://hooks.slack.com/services/…"}]`.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Remove every default target.
    ClearDefaults,
    /// The default targets, and the notices no attempt delivered in the last week.
    Show,
}

/// Runs `reimage notify …`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let clock: SharedClock = Arc::new(SystemClock);
    let tokio = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    tokio.block_on(run_with(args, env, clock))
}

/// `reimage notify` with the environment and clock given (tests pin both).
pub async fn run_with(args: Args, env: Env, clock: SharedClock) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::open(&env, args.state_dir.as_deref(), clock.clone())?;
    let defaults = Defaults::new(runtime.store.clone(), runtime.sealer.clone());
    let now = clock.now();
    let stored = match &args.command {
        NotifyCommand::SetDefaults { file } => {
            let targets = crate::cmd::task::read_targets(file)?;
            defaults.set(targets, now).await?.targets
        }
        NotifyCommand::ClearDefaults => defaults.set(Vec::new(), now).await?.targets,
        NotifyCommand::Show => defaults.stored().await?,
    };
    let given_up = if matches!(args.command, NotifyCommand::Show) {
        reimage::notify::delivery::gave_up_between(
            &runtime.store,
            now - chrono::Duration::days(crate::cmd::doctor::GAVE_UP_DAYS),
            now,
        )
        .await?
    } else {
        Vec::new()
    };
    match args.output {
        Output::Json => {
            let targets: Vec<serde_json::Value> = stored
                .iter()
                .map(|t| serde_json::json!({"kind": t.kind(), "url": t.shown()}))
                .collect();
            let given_up: Vec<serde_json::Value> = given_up
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "delivery": d.delivery, "kind": d.kind, "url": d.shown,
                        "attempts": d.attempts, "last_error": d.last_error, "at": d.written_at,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"defaults": targets, "given_up": given_up})
                )?
            );
        }
        Output::Text => {
            if stored.is_empty() {
                println!("default targets: none");
            } else {
                println!("default targets:");
                for target in &stored {
                    println!("  {} {}", target.kind(), target.shown());
                }
            }
            for d in &given_up {
                println!(
                    "given up: {} {} {} after {} attempts ({}): {}",
                    d.delivery,
                    d.kind,
                    d.shown,
                    d.attempts,
                    time(d.written_at),
                    d.last_error.as_deref().unwrap_or("?")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
