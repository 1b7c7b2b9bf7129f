//! `reimage sim`: the emulated Alibaba Cloud region, standalone.
//!
//! When it is ready it prints one JSON line on stdout — `endpoint`, `region_id`,
//! `access_key_id`, `access_key_secret` (the sim's own fake key) and `admin` — so scripts and
//! CI can start it and read where it is; it serves until Ctrl-C or SIGTERM. `--print-seed`
//! prints the region it would serve (the built-in demo, or `--seed FILE` checked) and exits:
//! the starting point for a seed file of one's own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use reimage::clock::SystemClock;
use reimage_sim::{DEFAULT_IMAGE_SECONDS, Seed, Sim};

/// Options of `reimage sim`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on; port 0 picks a free port (the JSON line says which).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// A seed file (JSON, the format `--print-seed` prints) instead of the built-in demo region.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Seconds an image takes from CreateImage to Available (snapshots take half).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_IMAGE_SECONDS)]
    image_seconds: u64,
    /// Print the region's seed as JSON and exit.
    #[arg(long)]
    print_seed: bool,
}

fn load_seed(path: Option<&PathBuf>) -> anyhow::Result<Seed> {
    let Some(path) = path else {
        return Ok(Seed::demo());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the seed file {}", path.display()))?;
    Seed::from_json(&text)
        .with_context(|| format!("the seed file {} is not usable", path.display()))
}

/// Runs the sim until interrupted.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let seed = load_seed(args.seed.as_ref())?;
    if args.print_seed {
        println!("{}", seed.to_json_pretty());
        return Ok(ExitCode::SUCCESS);
    }
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "warning: the sim listens on {} but serves only fake credentials; its admin interface answers loopback peers only",
            args.listen
        );
    }
    let tokio = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    tokio.block_on(async move {
        let sim = Sim::builder()
            .clock(Arc::new(SystemClock))
            .image_seconds(args.image_seconds)
            .seed(seed)
            .listen(args.listen)
            .start()
            .await
            .context("starting the sim")?;
        let ready = serde_json::json!({
            "endpoint": sim.endpoint(),
            "region_id": sim.region_id(),
            "access_key_id": sim.access_key_id(),
            "access_key_secret": sim.access_key_secret(),
            "admin": format!("{}/__sim", sim.endpoint()),
        });
        println!("{ready}");
        sim.run_until(super::shutdown_signal())
            .await
            .context("the sim's server failed")?;
        Ok(ExitCode::SUCCESS)
    })
}
