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
    Advanced, Amount, DryRun, InstanceState, Membership, OnFailure, Outcome, RolloutId,
    RolloutRecord, RolloutSpec, RolloutTiming, Rollouts, Strategy,
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
    /// End the pause a rollout is in (a checkpoint, or a failure held by `--on-failure
    /// pause`, whose phase then runs again), and drive it on; a rollout that is not paused
    /// but stopped being driven (its process ended) is driven on as well.
    Continue {
        /// The rollout (`ro-…`).
        id: RolloutId,
    },
    /// Stop a rollout after the batch at work: the instances moved stay on the image, the
    /// others on theirs, the processes it suspended are resumed; then drive it to its end.
    Cancel {
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
    /// Pause once this share of the instances has moved ("50%"); repeatable. Needs
    /// --pause-at-checkpoints or --checkpoint-pause-seconds.
    #[arg(long = "checkpoint", value_name = "P%", value_parser = parse_percent)]
    checkpoints: Vec<u8>,
    /// At each checkpoint, wait for `reimage rollout continue`.
    #[arg(long, conflicts_with = "checkpoint_pause_seconds")]
    pause_at_checkpoints: bool,
    /// At each checkpoint, pause this long, then go on.
    #[arg(long, value_name = "SECONDS")]
    checkpoint_pause_seconds: Option<u64>,
    /// What a failure leads to: put everything back, or hold for `continue` or `rollback`.
    #[arg(long, default_value = "rollback", value_name = "rollback|pause")]
    on_failure: OnFailure,
    /// How instances get the image: `in-place` replaces their system disks
    /// (ReplaceSystemDisk); `refresh` has ESS's instance refresh replace them with new
    /// instances, gated batch by batch and rolled back on a breach.
    #[arg(long, default_value = "in-place", value_name = "in-place|refresh")]
    strategy: Strategy,
}

/// A checkpoint: "50%" or "50", from 1 to 99.
fn parse_percent(s: &str) -> Result<u8, String> {
    match s.trim().trim_end_matches('%').trim().parse::<u8>() {
        Ok(p @ 1..=99) => Ok(p),
        _ => Err(format!("{s:?} is not a share from 1% to 99%")),
    }
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
            checkpoints: self.checkpoints.clone(),
            checkpoint_pause_seconds: self.checkpoint_pause_seconds,
            on_failure: self.on_failure,
            strategy: self.strategy,
            ..RolloutSpec::new(&self.group, &self.image)
        }
    }
}

/// One line about how a rollout stands.
fn summary(record: &RolloutRecord) -> String {
    let state = match (&record.outcome, &record.phase) {
        (Some(outcome), _) => outcome.to_string(),
        (None, Some(phase)) if phase.awaits_operator() => format!("waiting: {}", record.note),
        (None, _) => "in progress".to_owned(),
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

/// Exit status of a rollout that waits for `reimage rollout continue` (or `rollback`).
pub const EXIT_PAUSED: u8 = 3;

/// Advances the rollout until it ends or waits for an operator, printing each phase (a note
/// repeated by a wait looked at again is shown once); prints where it stands and exits 0 if
/// it succeeded, [`EXIT_PAUSED`] if it waits, 1 otherwise.
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
    Ok(match outcome {
        Some(Outcome::Succeeded) => ExitCode::SUCCESS,
        None => ExitCode::from(EXIT_PAUSED),
        Some(_) => ExitCode::FAILURE,
    })
}

/// Advances the rollout until it ends, sleeping through its waits; with `indent`, prints the
/// note of each record it writes (one read of the latest record per step). Answers the
/// outcome, or `None` when the rollout waits for an operator (a checkpoint, a held failure).
pub async fn follow(
    rollouts: &Rollouts,
    id: &RolloutId,
    clock: &SharedClock,
    indent: Option<&str>,
) -> anyhow::Result<Option<Outcome>> {
    let mut view = FollowView::default();
    loop {
        let advanced = rollouts.advance(id).await?;
        let latest = rollouts.latest(id).await?;
        if let Some(indent) = indent {
            view.show(indent, &latest);
        }
        match advanced {
            Advanced::Ended(outcome) => return Ok(Some(outcome)),
            Advanced::LostRace => {}
            Advanced::Waiting(_) if latest.phase.as_ref().is_some_and(|p| p.awaits_operator()) => {
                return Ok(None);
            }
            Advanced::Waiting(at) => {
                if let Ok(wait) = (at - clock.now()).to_std() {
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// What [`follow`] printed already: a phase's note once (a readiness command tried again is
/// one line, whatever its invocation id), and the progress table each time an instance's
/// state changes beyond the stage of its batch.
#[derive(Default)]
struct FollowView {
    notes: Vec<String>,
    states: Vec<String>,
}

impl FollowView {
    fn show(&mut self, indent: &str, record: &RolloutRecord) {
        let progress = reimage::rollout::Progress::of(record);
        let states: Vec<String> = progress
            .iter()
            .flat_map(|p| &p.instances)
            .map(|row| match &row.state {
                InstanceState::Moving { .. } => format!("{} moving", row.instance_id),
                InstanceState::PuttingBack { .. } => format!("{} putting back", row.instance_id),
                other => format!("{} {other}", row.instance_id),
            })
            .collect();
        let note = normalize_note(&record.note);
        if !self.notes.contains(&note) {
            println!("{indent}{} {}", record.at.format("%H:%M:%S"), record.note);
            self.notes.push(note);
        }
        if states != self.states {
            if let Some(progress) = progress {
                for line in progress.to_string().lines() {
                    println!("{indent}  {line}");
                }
            }
            self.states = states;
            self.notes.clear();
        }
    }
}

/// A note without the ids that change each time the same thing is tried again.
fn normalize_note(note: &str) -> String {
    note.split_whitespace()
        .map(|word| {
            let bare = word.trim_end_matches([',', ':', ';']);
            if bare.starts_with("t-") && bare.len() > 6 {
                "t-…"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
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
            Arc::new(AliyunCloud::new(client.clone())),
            clock.clone(),
            Arc::new(RandomIds),
            RolloutTiming {
                poll: reimage::steps::EngineConfig::from_env(&env)
                    .map_err(|(name, value)| {
                        anyhow::anyhow!(
                            "{name}={value:?} is not {}",
                            reimage::steps::engine_env_expectation(name)
                        )
                    })?
                    .rollout_poll,
                ..RolloutTiming::default()
            },
        )
        // A task's rollout runs with the task's RAM role, assumed here as by the functions.
        .with_provider(settings::clouds(client));
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
                if !start.checkpoints.is_empty()
                    && !start.pause_at_checkpoints
                    && start.checkpoint_pause_seconds.is_none()
                {
                    anyhow::bail!(
                        "--checkpoint needs --pause-at-checkpoints (wait for `continue`) or --checkpoint-pause-seconds S"
                    );
                }
                let id = rollouts.start(start.spec()).await?;
                if args.output == Output::Text {
                    println!("rollout {id}: {} → {}", start.group, start.image);
                }
                drive(&rollouts, &id, &clock, args.output).await
            }
            Command::Continue { id } => {
                let latest = rollouts.latest(&id).await?;
                if latest.phase.as_ref().is_some_and(|p| p.awaits_operator()) {
                    rollouts.request_continue(&id).await?;
                    if args.output == Output::Text {
                        println!("rollout {id}: continuing");
                    }
                }
                drive(&rollouts, &id, &clock, args.output).await
            }
            Command::Cancel { id } => {
                rollouts.request_cancel(&id).await?;
                if args.output == Output::Text {
                    println!("rollout {id}: cancelling after the batch at work");
                }
                drive(&rollouts, &id, &clock, args.output).await
            }
            Command::Rollback { id } => {
                rollouts.request_rollback(&id).await?;
                if args.output == Output::Text {
                    println!("rollout {id}: rolling back");
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
                        if let Some(progress) = reimage::rollout::Progress::of(latest) {
                            for line in progress.to_string().lines() {
                                println!("  {line}");
                            }
                        }
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
