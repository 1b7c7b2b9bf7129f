//! `reimage image set`: the manual update. Puts an existing image into one scaling
//! configuration, as the console's "modify scaling configuration" does, after checking what
//! the cloud would otherwise refuse late or not at all:
//!
//! 1. DescribeImages with the id and every status: the image exists (public, custom or
//!    shared with the account: no `ImageOwnerAlias`, so all three are searched) and is
//!    Available;
//! 2. DescribeScalingConfigurations: the configuration exists (Active or Inactive alike);
//! 3. DescribeScalingGroups: its group is an ECS group (an ECI group's configuration has no
//!    image to set);
//! 4. ModifyScalingConfiguration with the image.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use reimage::clock::{SharedClock, SystemClock};
use reimage::ids::RandomIds;
use reimage::settings::Env;
use reimage::steps::cloud::ALL_IMAGE_STATUSES;
use reimage::steps::{AliyunCloud, Cloud};
use serde::Serialize;

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
    /// How to print the result.
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

/// What `image set` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetOutcome {
    /// The configuration.
    pub configuration_id: String,
    /// Its group.
    pub scaling_group_id: String,
    /// `Active` or `Inactive`.
    pub lifecycle_state: String,
    /// The image it held.
    pub old_image_id: String,
    /// The image it holds now.
    pub new_image_id: String,
    /// That image's name.
    pub image_name: String,
}

/// Runs `reimage image …`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Command::Set(args) = args.command;
    let env = Env::from_process();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let clock: SharedClock = Arc::new(SystemClock);
        let client = settings::client(&env, clock, Arc::new(RandomIds))?;
        let cloud = AliyunCloud::new(client);
        let outcome = set(&cloud, &args.config, &args.image).await?;
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

/// Puts `image_id` into `configuration_id` after the checks above.
pub async fn set(
    cloud: &dyn Cloud,
    configuration_id: &str,
    image_id: &str,
) -> anyhow::Result<SetOutcome> {
    let image = cloud
        .describe_image(image_id, ALL_IMAGE_STATUSES)
        .await
        .with_context(|| format!("cannot look up image {image_id}"))?;
    let Some(image) = image else {
        bail!(
            "image {image_id} does not exist (DescribeImages found no public, custom or shared \
             image with this id in the region)"
        );
    };
    if image.status != "Available" {
        bail!(
            "image {image_id} is {}, not Available: only an Available image can go into a \
             scaling configuration",
            image.status
        );
    }
    let ids = [configuration_id.to_owned()];
    let configuration = cloud
        .describe_configurations(&ids)
        .await
        .with_context(|| format!("cannot look up scaling configuration {configuration_id}"))?
        .into_iter()
        .find(|c| c.scaling_configuration_id == configuration_id);
    let Some(configuration) = configuration else {
        bail!("scaling configuration {configuration_id} does not exist");
    };
    let group_ids = [configuration.scaling_group_id.clone()];
    let group = cloud
        .describe_groups(&group_ids)
        .await
        .with_context(|| format!("cannot look up scaling group {}", group_ids[0]))?
        .into_iter()
        .find(|g| g.scaling_group_id == configuration.scaling_group_id);
    if let Some(group) = &group {
        if !group.group_type.is_empty() && group.group_type != "ECS" {
            bail!(
                "scaling configuration {configuration_id} belongs to {} group {}: only the \
                 configurations of ECS groups hold an image",
                group.group_type,
                group.scaling_group_id
            );
        }
    }
    cloud
        .modify_configuration_image(configuration_id, image_id)
        .await
        .with_context(|| {
            format!("cannot put image {image_id} into scaling configuration {configuration_id}")
        })?;
    Ok(SetOutcome {
        configuration_id: configuration_id.to_owned(),
        scaling_group_id: configuration.scaling_group_id,
        lifecycle_state: configuration.lifecycle_state,
        old_image_id: configuration.image_id,
        new_image_id: image_id.to_owned(),
        image_name: image.image_name,
    })
}
