//! `reimage image set`: the manual update. Puts an existing image into one scaling
//! configuration, as the console's "modify scaling configuration" does, with the checks of
//! [`reimage::api::set_configuration_image`] (the same code behind the HTTP API's
//! `PUT /scaling-configurations/{id}/image`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use reimage::api::{ManualUpdateError, configuration_holder, set_configuration_image};
use reimage::clock::{SharedClock, SystemClock};
use reimage::ids::RandomIds;
use reimage::settings::Env;
use reimage::steps::AliyunCloud;

use crate::report::Output;
use crate::settings;

/// Options of `reimage image`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Put an existing, Available image into a scaling configuration (Active or Inactive).
    Set(SetArgs),
}

/// Options of `reimage image set`.
#[derive(Debug, clap::Args)]
struct SetArgs {
    /// The scaling configuration (`asc-…`).
    #[arg(
        long = "config",
        value_name = "CONFIGURATION_ID",
        required_unless_present = "group",
        conflicts_with = "group"
    )]
    config: Option<String>,
    /// A scaling group that launches from a launch template (`asg-…`): a copy of the
    /// version it uses, holding the image, becomes the version it launches (a pinned group
    /// is pointed at it, one on `Latest` follows by itself, one on `Default` needs
    /// --allow-default-version-change).
    #[arg(long = "group", value_name = "SCALING_GROUP_ID")]
    group: Option<String>,
    /// Let a group on its template's `Default` version move the template's default, which
    /// changes it for every other user of the template.
    #[arg(long, requires = "group")]
    allow_default_version_change: bool,
    /// The image (`m-…`, or a public image id).
    #[arg(long, value_name = "IMAGE_ID")]
    image: String,
    /// The state directory of the file store (else `REIMAGE_STATE_DIR`, else `./.reimage`):
    /// a configuration an execution is updating is refused.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

/// Runs `reimage image …`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Command::Set(args) = args.command;
    let env = Env::from_process();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let clock: SharedClock = Arc::new(SystemClock);
        let store = settings::store(&env, args.state_dir.as_deref(), clock.clone())?;
        let target = args
            .config
            .clone()
            .or(args.group.clone())
            .unwrap_or_default();
        if let Some(holder) = configuration_holder(&store, &target, clock.now())
            .await
            .context("cannot read the lease")?
        {
            bail!(ManualUpdateError::Busy {
                configuration_id: target,
                holder,
            });
        }
        let client = settings::client(&env, clock, Arc::new(RandomIds))?;
        let cloud = AliyunCloud::new(client);
        if let Some(group) = &args.group {
            let outcome = reimage::api::set_launch_template_group_image(
                &cloud,
                group,
                &args.image,
                args.allow_default_version_change,
            )
            .await?;
            match args.output {
                Output::Text => println!(
                    "{} (launch template {}, {}): version {} ({}) → version {} ({})",
                    outcome.scaling_group_id,
                    outcome.launch_template_id,
                    outcome.version,
                    outcome.previous_version,
                    outcome.previous_image_id,
                    outcome.new_version,
                    outcome.image_id
                ),
                Output::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
            }
            return Ok(ExitCode::SUCCESS);
        }
        let outcome = set_configuration_image(&cloud, &target, &args.image).await?;
        match args.output {
            Output::Text => println!(
                "{} ({}, group {}): {} → {} ({})",
                outcome.configuration_id,
                outcome.lifecycle_state,
                outcome.scaling_group_id,
                outcome.old_image_id,
                outcome.new_image_id,
                outcome.image_name
            ),
            Output::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
        }
        Ok(ExitCode::SUCCESS)
    })
}
