//! `reimage`: keeps the images of Alibaba Cloud Auto Scaling groups fresh.
//!
//! A thin binary: each subcommand lives in its own module under `cmd/`, errors are reported
//! once here and mapped to the exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod report;
mod settings;

#[derive(Debug, Parser)]
#[command(name = "reimage", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the emulated Alibaba Cloud region (ECS, ESS, STS, OSS, FC) on loopback.
    Sim(cmd::sim::Args),
    /// Build the Function Compute functions as static binaries into dist/<function>/bootstrap.
    Package(cmd::package::Args),
    /// Start the function binaries under the sim's Function Compute front, as template.yml
    /// deploys them.
    Up(cmd::up::Args),
    /// Serve the HTTP API, the minute tick and the step workers in one process.
    Serve(cmd::serve::Args),
    /// Create, list, show, enable, disable, delete and run image update tasks.
    Task(cmd::task::Args),
    /// Run one image update against the emulated region: no setup, no credentials.
    Demo(cmd::demo::Args),
    /// Run one image update now: snapshot an instance, build an image, put it into
    /// scaling configurations, verify.
    Run(cmd::run::Args),
    /// Put an existing image into a scaling configuration (the manual update).
    Image(cmd::image::Args),
    /// The images reimage made: where each is used, and retention (list, prune).
    Images(cmd::images::Args),
    /// Move the running instances of a scaling group onto an image (the rolling update):
    /// start, status, list.
    Rollout(cmd::rollout::Args),
    /// List image update executions, or show one.
    Execution(cmd::execution::Args),
    /// List what needs attention in the state store: unreadable records, executions past
    /// their deadline, notifications given up. Exits 1 when it found something.
    Doctor(cmd::doctor::Args),
    /// The deployment's default notification targets (set-defaults, clear-defaults, show).
    Notify(cmd::notify::Args),
    /// Remove the history of a file store: executions that ended long ago.
    #[command(subcommand)]
    Records(cmd::records::Args),
    /// Print figures about reimage's API calls and timing, measured against the sim.
    Bench(cmd::bench::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sim(args) => cmd::sim::run(args),
        Command::Package(args) => cmd::package::run(args),
        Command::Up(args) => cmd::up::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Task(args) => cmd::task::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Rollout(args) => cmd::rollout::run(args),
        Command::Image(args) => cmd::image::run(args),
        Command::Images(args) => cmd::images::run(args),
        Command::Execution(args) => cmd::execution::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Notify(args) => cmd::notify::run(args),
        Command::Records(args) => cmd::records::run(args),
        Command::Bench(args) => cmd::bench::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line ([`reimage::report::chain`]).
fn describe(err: &anyhow::Error) -> String {
    reimage::report::chain(err.as_ref())
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot reach the store")]
    struct Unreachable {
        source: std::io::Error,
    }

    #[test]
    fn the_context_and_every_cause_are_said_once_in_order() {
        let io = std::io::Error::other("disk on fire");
        let err = anyhow::Error::new(Unreachable { source: io }).context("serve failed");
        assert_eq!(
            describe(&err),
            "serve failed: cannot reach the store: disk on fire"
        );
    }

    #[test]
    fn a_cause_not_in_the_message_is_added() {
        let err = anyhow::anyhow!("disk on fire").context("cannot write the record");
        assert_eq!(describe(&err), "cannot write the record: disk on fire");
    }
}
