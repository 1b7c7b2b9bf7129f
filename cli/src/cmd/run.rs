//! `reimage run`: one image update, now, in this process, against the configured cloud.
//!
//! The pipeline is the one the functions run (create-image, wait-image, swap-config,
//! verify); here the local dispatcher carries each step to the next, honouring the delays
//! the steps ask for, and the records go to the state store (the file store by default), so
//! `reimage execution show` finds the execution afterwards.
//!
//! `--dry-run` checks everything the run would check, through the same cloud, and prints
//! what it would do ([`reimage::steps::dry_run`]): nothing is created in the cloud, and
//! nothing is written to the store.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use reimage::clock::{SharedClock, SystemClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::RandomIds;
use reimage::model::{ExecutionId, PermissionSource, State, StepRecord, UpdateRequest};
use reimage::settings::Env;
use reimage::steps::Engine;

use crate::report::{ExecutionView, Output, Progress};
use crate::settings;

/// Options of `reimage run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ECS instance whose system disk becomes the image (`i-…`).
    #[arg(long, value_name = "INSTANCE_ID")]
    instance: String,
    /// A scaling configuration that receives the image (`asc-…`); repeat for several.
    #[arg(
        long = "config",
        value_name = "CONFIGURATION_ID",
        required_unless_present = "groups"
    )]
    configs: Vec<String>,
    /// A scaling group that launches from a launch template (`asg-…`): its template gets a
    /// new version holding the image, which the group then uses; repeat for several.
    #[arg(long = "group", value_name = "SCALING_GROUP_ID")]
    groups: Vec<String>,
    /// Let a group on its template's `Default` version move the template's default to the
    /// new version, which changes it for every other user of the template (refused
    /// otherwise, naming them).
    #[arg(long)]
    allow_default_version_change: bool,
    /// The image name; reimage appends `_on_<execution-id>_at_<time>` (default:
    /// `UpdateImage_from_<instance>_on_<execution-id>`).
    #[arg(long)]
    name: Option<String>,
    /// Make every call as this RAM role, assumed through STS
    /// (`acs:ram::<account-id>:role/<name>`); default: the credentials reimage finds.
    #[arg(long, value_name = "ARN")]
    role_arn: Option<String>,
    /// Let the image have another platform (Ubuntu, CentOS, Windows Server …) than the
    /// images the configurations hold; the pre-flight refuses a change otherwise.
    #[arg(long)]
    allow_platform_change: bool,
    /// Check everything the run would check and print what it would do (the image name,
    /// each configuration's image → the new one, the cloud calls, every problem), creating
    /// nothing; exits 1 if the run would not go ahead.
    #[arg(long)]
    dry_run: bool,
    /// The state directory of the file store (else `REIMAGE_STATE_DIR`, else `./.reimage`).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

impl Args {
    fn request(&self) -> UpdateRequest {
        UpdateRequest {
            scaling_group_ids: self.groups.clone(),
            allow_default_version_change: self.allow_default_version_change,
            instance_id: self.instance.clone(),
            image_name: self.name.clone(),
            configuration_ids: self.configs.clone(),
            permission: match &self.role_arn {
                Some(role_arn) => PermissionSource::RamRole {
                    role_arn: role_arn.clone(),
                },
                None => PermissionSource::Account,
            },
            task_id: None,
            rollout: None,
            allow_platform_change: self.allow_platform_change,
        }
    }
}

/// Runs `reimage run`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let clock: SharedClock = Arc::new(SystemClock);
        let request = args.request();
        if args.dry_run {
            let client = settings::client(&env, clock.clone(), Arc::new(RandomIds))?;
            let report = reimage::steps::dry_run::check(
                settings::clouds(client).as_ref(),
                &request,
                ExecutionId::random(&RandomIds),
                clock.now(),
            )
            .await;
            return crate::report::print_dry_run(&report, args.output == Output::Json);
        }
        Engine::validate(&request)?;
        let client = settings::client(&env, clock.clone(), Arc::new(RandomIds))?;
        let store = settings::store(&env, args.state_dir.as_deref(), clock.clone())?;
        let dispatcher = Arc::new(LocalDispatcher::new(clock.clone()));
        let engine = settings::engine(store, clock, dispatcher.clone(), settings::clouds(client));
        let mut progress = match args.output {
            Output::Text => Progress::stdout(),
            Output::Json => Progress::hidden(),
        };
        let last = drive(&engine, &dispatcher, request, &mut progress).await?;
        let view = ExecutionView::of(&last);
        match args.output {
            Output::Text => print!("\n{}", view.to_text()),
            Output::Json => println!("{}", serde_json::to_string_pretty(&view)?),
        }
        outcome(&last)
    })
}

/// Starts an execution of `request` and runs it to its end in this process, showing progress.
/// Returns its last record; an execution that fails is a normal outcome here (see
/// [`outcome`]), an engine that cannot go on (the store failed) is an error.
pub async fn drive(
    engine: &Engine,
    dispatcher: &LocalDispatcher,
    request: UpdateRequest,
    progress: &mut Progress,
) -> anyhow::Result<StepRecord> {
    let first = engine
        .start_new(request)
        .await
        .context("cannot start the image update")?;
    progress.started(&first);
    let report = dispatcher
        .run_until_idle_with(engine, |event, handled| progress.handled(event, handled))
        .await;
    progress.finish();
    let last = engine
        .get(&first.execution_id)
        .await
        .context("cannot read the execution back")?
        .with_context(|| format!("execution {} has no records", first.execution_id))?;
    if !last.state.is_terminal() {
        bail!(
            "execution {} stopped before its end ({} pending; {} event(s) could not be \
             handled, see the log above); `reimage execution show {}` shows where it stands",
            last.execution_id,
            last.state
                .pending_step()
                .map(|s| s.as_str())
                .unwrap_or("nothing"),
            report.dropped.len(),
            last.execution_id,
        );
    }
    Ok(last)
}

/// The exit of a finished execution: success, or an error naming why it failed.
pub fn outcome(last: &StepRecord) -> anyhow::Result<ExitCode> {
    match &last.state {
        State::Succeeded => Ok(ExitCode::SUCCESS),
        State::Failed(failure) => bail!("execution {} failed: {failure}", last.execution_id),
        State::Superseded { carried_by } => bail!(
            "execution {} was superseded: execution {carried_by}, a newer request for its \
             scaling configurations, carries it",
            last.execution_id
        ),
        State::Pending { step, .. } => {
            bail!("execution {} is still pending ({step})", last.execution_id)
        }
    }
}
