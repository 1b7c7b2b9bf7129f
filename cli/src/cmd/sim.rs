//! `reimage sim`: the emulated region, standalone.

use std::process::ExitCode;

/// Options of `reimage sim`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the sim until interrupted.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the sim is not built yet")
}
