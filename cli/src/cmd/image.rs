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
    #[arg(long = "config", value_name = "CONFIGURATION_ID")]
    config: String,
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
        if let Some(holder) = configuration_holder(&store, &args.config, clock.now())
            .await
            .context("cannot read the configuration's lease")?
        {
            bail!(ManualUpdateError::Busy {
                configuration_id: args.config,
                holder,
            });
        }
        let client = settings::client(&env, clock, Arc::new(RandomIds))?;
        let cloud = AliyunCloud::new(client);
        let outcome = set_configuration_image(&cloud, &args.config, &args.image).await?;
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
