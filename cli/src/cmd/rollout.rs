//! `reimage rollout`: the rolling update of a scaling group's running instances
//! ([`reimage::rollout`]). `start` records a rollout and drives it to its end in this process,
//! printing each phase; `status` and `list` read the records.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use reimage::clock::{SharedClock, SystemClock};
use reimage::ids::RandomIds;
use reimage::rollout::{
    Advanced, Amount, DryRun, Membership, Outcome, RolloutId, RolloutRecord, RolloutSpec,
    RolloutTiming, Rollouts,
};
use reimage::settings::Env;
use reimage::steps::AliyunCloud;

use crate::report::Output;
use crate::settings;

/// Options of `reimage rollout`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// The state directory of the file store (else `REIMAGE_STATE_DIR`, else `./.reimage`).
    #[arg(long, global = true)]
    state_dir: Option<PathBuf>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t, global = true)]
    output: Output,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Move the running instances of a scaling group onto an image, in batches behind health
    /// gates, and wait until the rollout ends.
    Start(StartArgs),
    /// Show a rollout: where it is, what it moved, and each phase it went through.
    Status {
        /// The rollout (`ro-…`).
        id: RolloutId,
    },
    /// List rollouts, newest first.
    List,
    /// Drive a rollout that stopped being driven (its process ended) to its end.
    Continue {
        /// The rollout (`ro-…`).
        id: RolloutId,
    },
    /// Roll a rollout back: every instance it moved back onto its own previous image, the
    /// configuration back, the processes it suspended resumed; then drive it to its end.
    Rollback {
        /// The rollout (`ro-…`).
        id: RolloutId,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Choice {
    Skip,
    Include,
}

impl From<Choice> for Membership {
    fn from(c: Choice) -> Self {
        match c {
            Choice::Skip => Membership::Skip,
            Choice::Include => Membership::Include,
        }
    }
}

/// Options of `reimage rollout start`.
#[derive(Debug, clap::Args)]
struct StartArgs {
    /// The ECS-type scaling group (`asg-…`).
    #[arg(long, value_name = "GROUP_ID")]
    group: String,
    /// The image to move its instances onto.
    #[arg(long, value_name = "IMAGE_ID")]
    image: String,
    /// How many instances may be out of service at once: a number, or a share ("10%").
    #[arg(long, default_value = "1", value_name = "N|P%")]
    max_unavailable: Amount,
    /// The percentage of the instances in service at the start that must stay in service
    /// (default: all but max-unavailable, and never the last one; 0 allows it).
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    min_in_service: Option<u8>,
    /// How many instances go first, alone, before the configuration changes.
    #[arg(long, default_value_t = 1)]
    canary: u32,
    /// How long the canary must stay healthy before the rest follow.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    bake_seconds: u64,
    /// How long a booted instance gets before its gates count.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    warmup_seconds: u64,
    /// How long an instance may take to pass its gates after the warm-up.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    gate_timeout_seconds: u64,
    /// A shell script run through Cloud Assistant on each booted instance; it must exit 0
    /// for the instance to pass (e.g. "curl -fsS localhost:8080/healthz").
    #[arg(long, value_name = "SCRIPT")]
    readiness_command: Option<String>,
    /// Check everything and print the plan (the batches, each instance's image → the new one)
    /// and its hash, changing nothing.
    #[arg(long)]
    dry_run: bool,
    /// Start only if the group still gives the plan a dry run printed this hash for.
    #[arg(long, value_name = "HASH", conflicts_with = "dry_run")]
    plan_hash: Option<String>,
    /// Whether Standby instances are moved (they stay in Standby).
    #[arg(long, value_enum, default_value = "skip")]
    standby: Choice,
    /// Whether Protected instances are moved (their protection is put back).
    #[arg(long, value_enum, default_value = "skip")]
    protected: Choice,
}

impl StartArgs {
    fn spec(&self) -> RolloutSpec {
        RolloutSpec {
            max_unavailable: self.max_unavailable,
            min_in_service: self.min_in_service,
            canary: self.canary,
            bake_seconds: self.bake_seconds,
            warmup_seconds: self.warmup_seconds,
            gate_timeout_seconds: self.gate_timeout_seconds,
            readiness_command: self.readiness_command.clone(),
            plan_hash: self.plan_hash.clone(),
            standby: self.standby.into(),
            protected: self.protected.into(),
            ..RolloutSpec::new(&self.group, &self.image)
        }
    }
}

/// One line about how a rollout stands.
fn summary(record: &RolloutRecord) -> String {
    let state = match &record.outcome {
        None => "in progress".to_owned(),
        Some(Outcome::Succeeded) => "succeeded".to_owned(),
        Some(Outcome::RolledBack { reason }) => format!("rolled back: {reason}"),
        Some(Outcome::Refused { reason }) => format!("refused: {reason}"),
        Some(Outcome::Paused { reason }) => format!("paused: {reason}"),
    };
    format!(
        "{} {} → {}: {state} ({} moved, {} put back)",
        record.rollout_id,
        record.spec.group_id,
        record.spec.image_id,
        record.moved.len(),
        record.restored.len()
    )
}

/// Advances the rollout until it ends, printing each phase (a note repeated by a wait looked
/// at again is shown once); prints the outcome and exits 0 only if it succeeded.
async fn drive(
    rollouts: &Rollouts,
    id: &RolloutId,
    clock: &SharedClock,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let outcome = follow(
        rollouts,
        id,
        clock,
        (output == Output::Text).then_some("  "),
    )
    .await?;
    let latest = rollouts.latest(id).await?;
    match output {
        Output::Text => println!("{}", summary(&latest)),
        Output::Json => println!("{}", serde_json::to_string_pretty(&latest)?),
    }
    Ok(if outcome == Outcome::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Advances the rollout until it ends, sleeping through its waits; with `indent`, prints the
/// note of each record it writes (one read of the latest record per step).
pub async fn follow(
    rollouts: &Rollouts,
    id: &RolloutId,
    clock: &SharedClock,
    indent: Option<&str>,
) -> anyhow::Result<Outcome> {
    let mut last_note = String::new();
    loop {
        let advanced = rollouts.advance(id).await?;
        if let Some(indent) = indent {
            let latest = rollouts.latest(id).await?;
            if latest.note != last_note {
                println!("{indent}{} {}", latest.at.format("%H:%M:%S"), latest.note);
                last_note = latest.note;
            }
        }
        match advanced {
            Advanced::Ended(outcome) => return Ok(outcome),
            Advanced::LostRace => {}
            Advanced::Waiting(at) => {
                if let Ok(wait) = (at - clock.now()).to_std() {
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// Runs `reimage rollout …`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let clock: SharedClock = Arc::new(SystemClock);
        let store = settings::store(&env, args.state_dir.as_deref(), clock.clone())?;
        let client = settings::client(&env, clock.clone(), Arc::new(RandomIds))?;
        let rollouts = Rollouts::new(
            store,
            Arc::new(AliyunCloud::new(client)),
            clock.clone(),
            Arc::new(RandomIds),
            RolloutTiming::default(),
        );
        match args.command {
            Command::Start(start) if start.dry_run => {
                let dry = rollouts.dry_run(&start.spec()).await?;
                match args.output {
                    Output::Json => {
                        let value = match &dry {
                            DryRun::Plan { plan, hash } => serde_json::json!({
                                "plan": plan,
                                "plan_hash": hash,
                                "batches": plan.batches(),
                            }),
                            DryRun::Refused(reasons) => serde_json::json!({"refused": reasons}),
                        };
                        println!("{}", serde_json::to_string_pretty(&value)?);
                    }
                    Output::Text => match &dry {
                        DryRun::Plan { plan, hash } => {
                            println!(
                                "{} → {}: {} instance(s) to move, {} at a time after a canary of {}; {} stay in service",
                                start.group,
                                start.image,
                                plan.members.len(),
                                plan.batch_size,
                                plan.canary,
                                plan.floor
                            );
                            for (n, batch) in plan.batches().iter().enumerate() {
                                println!("  batch {n}{}", if n == 0 { " (canary)" } else { "" });
                                for id in batch {
                                    let from = plan.member(id).map_or("", |m| m.previous_image.as_str());
                                    println!("    {id}  {from} → {}", start.image);
                                }
                            }
                            if !plan.already_there.is_empty() {
                                println!("  already on the image: {}", plan.already_there.join(", "));
                            }
                            if let (Some(config), Some(image)) = (&plan.configuration_id, &plan.configuration_image) {
                                println!("  then configuration {config}: {image} → {} (after the canary)", start.image);
                            }
                            println!("plan hash {hash}: `reimage rollout start … --plan-hash {hash}` starts it only if nothing changed");
                        }
                        DryRun::Refused(reasons) => {
                            println!("{} → {}: would be refused:", start.group, start.image);
                            for reason in reasons {
                                println!("  - {reason}");
                            }
                        }
                    },
                }
                Ok(match dry {
                    DryRun::Plan { .. } => ExitCode::SUCCESS,
                    DryRun::Refused(_) => ExitCode::FAILURE,
                })
            }
            Command::Start(start) => {
                let id = rollouts.start(start.spec()).await?;
                if args.output == Output::Text {
                    println!("rollout {id}: {} → {}", start.group, start.image);
                }
                drive(&rollouts, &id, &clock, args.output).await
            }
            Command::Continue { id } => drive(&rollouts, &id, &clock, args.output).await,
            Command::Rollback { id } => {
                let latest = rollouts.request_rollback(&id).await?;
                if args.output == Output::Text {
                    if latest.ended() {
                        println!("rollout {id} has ended; nothing to roll back");
                    } else {
                        println!("rollout {id}: rolling back");
                    }
                }
                drive(&rollouts, &id, &clock, args.output).await
            }
            Command::Status { id } => {
                let history = rollouts.history(&id).await?;
                let Some(latest) = history.last() else {
                    anyhow::bail!("no rollout {id}");
                };
                match args.output {
                    Output::Text => {
                        println!("{}", summary(latest));
                        for record in &history {
                            println!(
                                "  {} {}",
                                record.at.format("%Y-%m-%d %H:%M:%S"),
                                record.note
                            );
                        }
                    }
                    Output::Json => println!("{}", serde_json::to_string_pretty(latest)?),
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::List => {
                let all = rollouts.list().await?;
                match args.output {
                    Output::Text => {
                        if all.is_empty() {
                            println!("no rollouts");
                        }
                        for record in &all {
                            println!("{}", summary(record));
                        }
                    }
                    Output::Json => println!("{}", serde_json::to_string_pretty(&all)?),
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
