//! `reimage up`: reimage as Function Compute runs it, on this machine.
//!
//! Starts the sim (ECS, ESS, STS, OSS and its FC front) and, under the FC front, one process
//! per function that template.yml declares — each on its own port, with the environment, the
//! request headers and the credentials FC gives it, its timer and HTTP triggers wired as
//! declared. The functions share a file store and write their logs beside it. Prints one JSON
//! line when everything listens (the sim's endpoint and keys, the HTTP trigger's URL, the API
//! token, where the logs are) and runs until Ctrl-C or SIGTERM.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use reimage::clock::SystemClock;
use reimage::ids::{IdSource as _, RandomIds};
use reimage_sim::fc::{LaunchSettings, Template};
use reimage_sim::{DEFAULT_IMAGE_SECONDS, Sim};

/// Options of `reimage up`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The template whose functions to start.
    #[arg(long, default_value = "template.yml")]
    template: PathBuf,
    /// Where the function binaries are: `DIR/<function>/bootstrap`, as `reimage package`
    /// lays them out, or `DIR/<function>`, as `cargo build` leaves them.
    #[arg(long, value_name = "DIR", default_value = "target/debug")]
    bin_dir: PathBuf,
    /// The sim's address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// How long the sim's snapshots and images take, in seconds.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_IMAGE_SECONDS)]
    image_seconds: u64,
    /// The functions' shared state directory (default: a temporary one, removed at exit).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

/// The binary of `function` under `dir`: the packaged `bootstrap` first, else the plain one.
pub(crate) fn binary(dir: &Path, function: &str) -> anyhow::Result<PathBuf> {
    let packaged = dir.join(function).join("bootstrap");
    if packaged.is_file() {
        return Ok(packaged);
    }
    let built = dir.join(function);
    if built.is_file() {
        return Ok(built);
    }
    bail!(
        "no binary for function {function}: neither {} nor {} exists (build them with \
         `cargo build -p reimage-fn-{function}` or `reimage package`)",
        packaged.display(),
        built.display()
    )
}

/// Runs `reimage up`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.template)
        .with_context(|| format!("cannot read {}", args.template.display()))?;
    let api_token = format!("up-{}", RandomIds.unique());
    // Webhook secrets are sealed with the sim's demo KMS key.
    let params = BTreeMap::from([
        ("ApiToken".to_owned(), api_token.clone()),
        (
            "SecretsKmsKeyId".to_owned(),
            reimage_sim::seed::DEMO_KMS_KEY_ID.to_owned(),
        ),
    ]);
    let template = Template::parse(&text, &params)
        .with_context(|| format!("{} is not a deployable template", args.template.display()))?;
    let binaries = template
        .functions
        .iter()
        .map(|f| Ok((f.name.clone(), binary(&args.bin_dir, &f.name)?)))
        .collect::<anyhow::Result<BTreeMap<_, _>>>()?;
    let (state_dir, _temporary) = match &args.state_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let dir = tempfile::tempdir().context("cannot create a state directory")?;
            (dir.path().to_path_buf(), Some(dir))
        }
    };
    let tokio = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    tokio.block_on(async move {
        let sim = Sim::builder()
            .clock(Arc::new(SystemClock))
            .image_seconds(args.image_seconds)
            .listen(args.listen)
            .start()
            .await
            .context("starting the sim")?;
        let settings = LaunchSettings {
            extra_env: vec![(
                "REIMAGE_STORE".into(),
                format!("file://{}", state_dir.display()),
            )],
            log_dir: Some(state_dir.clone()),
            ..LaunchSettings::for_sim(&sim)
        };
        let mut running = reimage_sim::fc::start_all(&sim.fc(), &template, &binaries, &settings)
            .await
            .context("cannot start the functions")?;
        let ready = serde_json::json!({
            "endpoint": sim.endpoint(),
            "region_id": sim.region_id(),
            "access_key_id": sim.access_key_id(),
            "access_key_secret": sim.access_key_secret(),
            "http_trigger": format!("{}/2016-08-15/proxy/{}/create-image", sim.endpoint(), template.service),
            "api_token": api_token,
            "logs": state_dir.display().to_string(),
            "functions": template.functions.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        });
        println!("{ready}");
        super::shutdown_signal().await;
        for process in &mut running {
            process.kill().await;
        }
        sim.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
