//! `reimage demo`: the whole image update against the emulated region, in one command, with
//! no setup and no credentials.
//!
//! It starts the sim in this process on a free loopback port (the built-in demo region),
//! picks a Running instance and an ECS group with one Active and one Inactive configuration,
//! runs one image update onto both with a few seconds of simulated build, showing progress,
//! and prints the result as the console's Update Image Tasks tab would. Its records go to a
//! temporary directory unless `--state-dir` is given (then `reimage execution list
//! --state-dir …` finds them afterwards).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use reimage::aliyun::Client;
use reimage::clock::{SharedClock, SystemClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::model::{PermissionSource, UpdateRequest};
use reimage::store::file::FileStore;
use reimage_sim::Seed;

mod rollout;

use crate::cmd::run::{drive, outcome};
use crate::report::{ExecutionView, Output, Progress};
use crate::settings;

/// How long the demo's image takes to build, in the sim (real seconds).
pub const DEMO_IMAGE_SECONDS: u64 = 4;

/// Options of `reimage demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep the records in this directory instead of a temporary one.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// How long the simulated image build takes, in seconds.
    #[arg(long, default_value_t = DEMO_IMAGE_SECONDS)]
    image_seconds: u64,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t)]
    output: Output,
    /// Then roll the new image out to the web group's six running instances (a canary, a
    /// readiness command, two at a time), and roll out a bad image that the canary catches.
    #[arg(long, conflicts_with = "output")]
    rollout: bool,
}

/// What the demo updates: a Running instance, and an Active and an Inactive configuration of
/// one ECS group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoTargets {
    /// The source instance.
    pub instance_id: String,
    /// The group.
    pub scaling_group_id: String,
    /// Its Active configuration, then an Inactive one.
    pub configuration_ids: [String; 2],
}

/// Picks the instance and configurations to update from a seed: the first Running instance,
/// and the first ECS group with an Active configuration (the group's) and an Inactive one.
pub fn pick_targets_in_seed(seed: &Seed) -> Option<DemoTargets> {
    let instance = seed.instances.iter().find(|i| i.status == "Running")?;
    seed.scaling_groups
        .iter()
        .filter(|g| g.group_type == "ECS")
        .find_map(|group| {
            let active = group.active_scaling_configuration_id.clone()?;
            let inactive = seed.scaling_configurations.iter().find(|c| {
                c.scaling_group_id == group.scaling_group_id && c.scaling_configuration_id != active
            })?;
            Some(DemoTargets {
                instance_id: instance.instance_id.clone(),
                scaling_group_id: group.scaling_group_id.clone(),
                configuration_ids: [active, inactive.scaling_configuration_id.clone()],
            })
        })
}

/// A client for a sim started in this process: every service at its endpoint, its static
/// AccessKey, its region.
pub fn sim_client(sim: &reimage_sim::Sim, clock: SharedClock) -> anyhow::Result<Client> {
    let mut config = sim.client_config();
    config.clock = clock;
    Client::new(config).context("cannot set up the HTTP client")
}

/// Runs `reimage demo`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The environment is not read: the demo needs no settings and must not pick up a real
    // cloud's endpoints or credentials by accident.
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(demo(args))
}

async fn demo(args: Args) -> anyhow::Result<ExitCode> {
    let temp;
    let dir = match &args.state_dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("reimage-demo-")
                .tempdir()
                .context("cannot create a temporary state directory")?;
            temp.path().to_path_buf()
        }
    };
    let clock: SharedClock = Arc::new(SystemClock);
    let seed = Seed::demo();
    let Some(targets) = pick_targets_in_seed(&seed) else {
        bail!(
            "the demo region has no Running instance with an ECS group holding an Active and \
             an Inactive configuration"
        );
    };
    let sim = reimage_sim::Sim::builder()
        .clock(clock.clone())
        .image_seconds(args.image_seconds)
        .seed(seed)
        .start()
        .await
        .context("cannot start the emulated region")?;
    let admin = sim.admin();
    let template_group = demo_template_group(&admin, &targets.scaling_group_id)?;
    let text = args.output == Output::Text;
    if text {
        println!(
            "reimage demo: an emulated {} region at {}; records in {}",
            sim.region_id(),
            sim.endpoint(),
            dir.display()
        );
        println!(
            "updating the image of group {} (configurations {} and {}) and of group {}, which \
             launches from version 1 of launch template {}, from instance {}\n",
            targets.scaling_group_id,
            targets.configuration_ids[0],
            targets.configuration_ids[1],
            template_group.0,
            template_group.1,
            targets.instance_id
        );
    }
    let store = Arc::new(FileStore::open(&dir).context("cannot open the state directory")?);
    let client = sim_client(&sim, clock.clone())?;
    let dispatcher = Arc::new(LocalDispatcher::new(clock.clone()));
    let receiver = reimage_sim::receiver::Receiver::start()
        .await
        .context("cannot start the local notification receiver")?;
    let key_dir = tempfile::tempdir().context("cannot create a directory for the demo's key")?;
    let notifier = demo_notifier(
        store.clone(),
        clock.clone(),
        &receiver,
        key_dir.path().join("demo.key"),
    )
    .await?;
    let engine = settings::engine(
        store.clone(),
        clock.clone(),
        dispatcher.clone(),
        settings::clouds(client.clone()),
    )
    .with_notifier(Some(notifier));
    let request = UpdateRequest {
        scaling_group_ids: vec![template_group.0.clone()],
        allow_default_version_change: false,
        instance_id: targets.instance_id.clone(),
        image_name: None,
        configuration_ids: targets.configuration_ids.to_vec(),
        permission: PermissionSource::Account,
        task_id: None,
        rollout: None,
        allow_platform_change: false,
    };
    let mut progress = if text {
        Progress::stdout()
    } else {
        Progress::hidden()
    };
    let last = drive(&engine, &dispatcher, request, &mut progress).await?;
    let mut view = ExecutionView::of(&last);
    for configuration in &mut view.configurations {
        configuration.lifecycle_state = admin
            .scaling_configuration(&configuration.configuration_id)
            .map(|c| c.lifecycle_state);
    }
    match args.output {
        Output::Text => {
            print!("\n{}", view.to_text());
            print!("{}", received_notices(&receiver));
            if args.state_dir.is_some() {
                println!(
                    "\n`reimage execution show {} --state-dir {}` shows it again.",
                    view.execution_id,
                    dir.display()
                );
            }
        }
        Output::Json => println!("{}", serde_json::to_string_pretty(&view)?),
    }
    if args.rollout {
        let (Some(image), true) = (view.image_id.clone(), view.status == "succeeded") else {
            sim.shutdown().await;
            return outcome(&last);
        };
        let demo = rollout::DemoRollout {
            sim: &sim,
            store,
            clock,
            client,
            group_id: &targets.scaling_group_id,
            configuration_id: &targets.configuration_ids[0],
        };
        let bad = "aliyun_3_x64_20G_alibase_20240101.vhd";
        let as_expected = demo.run(&image, bad).await?;
        sim.shutdown().await;
        return Ok(if as_expected {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    sim.shutdown().await;
    outcome(&last)
}

/// Makes another ECS group of the demo region launch from version 1 of a launch template
/// holding its configuration's launch settings: the console's "Configuration Source: Launch
/// Template". Answers the group and the template.
fn demo_template_group(
    admin: &reimage_sim::Admin,
    other_than: &str,
) -> anyhow::Result<(String, String)> {
    let state = admin.state();
    let group = state
        .scaling_groups
        .iter()
        .find(|g| g.group_type == "ECS" && g.scaling_group_id != other_than)
        .context("the demo region has no second ECS group")?;
    let configuration = group
        .active_scaling_configuration_id
        .as_deref()
        .and_then(|id| admin.scaling_configuration(id))
        .context("the second ECS group has no active configuration")?;
    let template = admin
        .create_launch_template(&reimage_sim::ecs::seeding::SeedLaunchTemplate {
            launch_template_name: format!("{}-template", group.scaling_group_name),
            versions: vec![reimage_sim::ecs::seeding::SeedTemplateVersion {
                version_description: Some("the group's launch settings".into()),
                ..reimage_sim::ecs::seeding::SeedTemplateVersion::of_image(
                    configuration.image_id.clone(),
                )
            }],
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("cannot create the demo's launch template: {e}"))?;
    admin
        .set_group_launch_template(
            &group.scaling_group_id,
            &reimage_sim::ess::state::GroupLaunchTemplate {
                launch_template_id: template.clone(),
                launch_template_version: "1".into(),
                overrides: Vec::new(),
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot put the demo's group on its template: {e}"))?;
    Ok((group.scaling_group_id.clone(), template))
}

/// The demo's notifier: one default target, the generic HTTPS kind, at the local receiver,
/// its secret sealed under a key in `key_file`, created for the demo.
async fn demo_notifier(
    store: reimage::store::SharedStore,
    clock: SharedClock,
    receiver: &reimage_sim::receiver::Receiver,
    key_file: PathBuf,
) -> anyhow::Result<reimage::notify::Notifier> {
    let sealer: reimage::secrets::SharedSealer =
        Arc::new(reimage::secrets::LocalSealer::at(key_file));
    let secret = reimage::ids::IdSource::unique(&reimage::ids::RandomIds);
    let target: reimage::notify::Target = serde_json::from_value(serde_json::json!({
        "kind": "https",
        "url": receiver.url("/reimage"),
        "secret": secret,
    }))?;
    reimage::notify::Defaults::new(store.clone(), Some(sealer.clone()))
        .set(
            vec![reimage::notify::StoredTarget::Plain(target)],
            reimage::clock::Clock::now(clock.as_ref()),
        )
        .await
        .context("cannot set the demo's notification target")?;
    Ok(reimage::notify::Notifier::new(
        store,
        clock,
        Some(sealer),
        reimage::notify::DeliveryConfig::default(),
    )?)
}

/// What the local receiver got, as a person reads it.
fn received_notices(receiver: &reimage_sim::receiver::Receiver) -> String {
    let mut out = String::new();
    for request in receiver.received() {
        let Ok(notice) = serde_json::from_slice::<reimage::notify::Notice>(&request.body) else {
            continue;
        };
        out.push_str(&format!(
            "\nNotification sent to the demo's local receiver ({} {}, signed {}):\n  {}\n",
            request.method,
            receiver.url(&request.path),
            request
                .header("x-reimage-signature")
                .map_or("-", |s| s.split(',').next().unwrap_or("-")),
            notice.title(),
        ));
        for line in notice.summary().lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn demo_targets_are_a_running_instance_and_an_active_and_an_inactive_configuration() {
        let seed = Seed::demo();
        let targets = pick_targets_in_seed(&seed).expect("the demo region has targets");
        let sim = reimage_sim::Sim::builder()
            .seed(seed)
            .start()
            .await
            .expect("sim starts");
        let admin = sim.admin();
        let lifecycle = |id: &str| {
            admin
                .scaling_configuration(id)
                .map(|c| (c.lifecycle_state, c.scaling_group_id))
        };
        assert_eq!(
            lifecycle(&targets.configuration_ids[0]),
            Some(("Active".to_owned(), targets.scaling_group_id.clone()))
        );
        assert_eq!(
            lifecycle(&targets.configuration_ids[1]),
            Some(("Inactive".to_owned(), targets.scaling_group_id.clone()))
        );
        let instance = admin
            .instance(&targets.instance_id)
            .expect("instance exists");
        assert_eq!(instance.status, "Running");
        sim.shutdown().await;
    }

    #[test]
    fn no_targets_without_a_group_that_has_an_inactive_configuration() {
        let mut seed = Seed::demo();
        let actives: Vec<Option<String>> = seed
            .scaling_groups
            .iter()
            .map(|g| g.active_scaling_configuration_id.clone())
            .collect();
        seed.scaling_configurations
            .retain(|c| actives.contains(&Some(c.scaling_configuration_id.clone())));
        assert_eq!(pick_targets_in_seed(&seed), None);
    }
}
