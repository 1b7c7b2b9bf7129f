//! `reimage bench`: figures about reimage's cost and speed, measured against the sim. It
//! prints them next to their goals and asserts nothing: a figure past its goal is a finding,
//! not a failure.
//!
//! Each section is one async function returning a [`Section`]; [`SECTIONS`] lists them in the
//! order they print. To add one (FC figures, scheduler figures, …), write a function and add
//! it to the list; `reimage bench --section NAME` runs one alone.
//!
//! The in-process sections drive the sim and the engine with one shared `ManualClock`, so a
//! ten-minute image build takes a fraction of a second of wall time while every step sees the
//! times it would see for real. Section `fc` ([`fc`]) runs the function binaries as separate
//! processes on the real clock instead, so it takes as long as its image does.

mod fc;
mod retention;
mod rollout;
mod scale;
mod tasks;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::{DateTime, TimeZone as _, Utc};
use reimage::clock::{ManualClock, SharedClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::model::{PermissionSource, State, StepRecord, UpdateRequest};
use reimage::store::memory::MemoryStore;
use reimage_sim::Seed;
use reimage_sim::ecs::state::ProgressProfile;
use reimage_sim::seed::{SeedScalingConfiguration, SeedScalingGroup};

use crate::cmd::run::drive;
use crate::report::Progress;
use crate::settings;

/// Options of `reimage bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run only this section (see the names `reimage bench` prints).
    #[arg(long, value_name = "NAME")]
    section: Option<String>,
    /// Run the slow sections too (tasks fills a file store with 10,000 tasks; fc waits for
    /// a real image build).
    #[arg(long, conflicts_with = "section")]
    all: bool,
    #[command(flatten)]
    options: Options,
}

/// What the `fc` section runs.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Section fc: where the function binaries are, `DIR/<function>/bootstrap` as `reimage
    /// package` lays them out, or `DIR/<function>` as `cargo build` leaves them.
    #[arg(long, value_name = "DIR", default_value = "dist")]
    bin_dir: PathBuf,
    /// Section fc: the template whose functions to start.
    #[arg(long, default_value = "template.yml")]
    template: PathBuf,
    /// Section fc: how long the sim's image takes, in seconds of real time.
    #[arg(long, value_name = "N", default_value_t = 600)]
    image_seconds: u64,
}

/// One figure: what it measures, its value, and the goal it is held to, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// What is measured.
    pub name: String,
    /// The measured value, with its unit.
    pub value: String,
    /// The goal, in words (`≤ 15`), if there is one.
    pub goal: Option<String>,
    /// Whether the value meets the goal (`None` when there is no goal).
    pub met: Option<bool>,
}

impl Figure {
    fn plain(name: impl Into<String>, value: impl fmt::Display) -> Self {
        Self {
            name: name.into(),
            value: value.to_string(),
            goal: None,
            met: None,
        }
    }

    fn at_most(name: impl Into<String>, value: f64, unit: &str, goal: f64) -> Self {
        Self::at_most_to(name, value, unit, goal, 2)
    }

    /// Like [`Figure::at_most`], showing a fractional value with `decimals` decimals.
    fn at_most_to(
        name: impl Into<String>,
        value: f64,
        unit: &str,
        goal: f64,
        decimals: usize,
    ) -> Self {
        let shown = if value.fract() == 0.0 {
            format!("{value:.0}{unit}")
        } else {
            format!("{value:.decimals$}{unit}")
        };
        let goal_shown = if goal.fract() == 0.0 {
            format!("≤ {goal:.0}{unit}")
        } else {
            format!("≤ {goal:.2}{unit}")
        };
        Self {
            name: name.into(),
            value: shown,
            goal: Some(goal_shown),
            met: Some(value <= goal),
        }
    }

    fn at_least(name: impl Into<String>, value: f64, unit: &str, goal: f64) -> Self {
        Self {
            name: name.into(),
            value: format!("{value:.0}{unit}"),
            goal: Some(format!("≥ {goal:.0}{unit}")),
            met: Some(value >= goal),
        }
    }
}

/// A titled group of figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The section's name (what `--section` takes).
    pub name: &'static str,
    /// What it measures.
    pub title: String,
    /// The figures.
    pub figures: Vec<Figure>,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "== {}: {}", self.name, self.title)?;
        let width = self.figures.iter().map(|x| x.name.len()).max().unwrap_or(0);
        for figure in &self.figures {
            write!(f, "  {:<width$}  {:>12}", figure.name, figure.value)?;
            if let (Some(goal), Some(met)) = (&figure.goal, figure.met) {
                let verdict = if met { "met" } else { "MISSED" };
                write!(f, "   goal {goal}: {verdict}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

type SectionFuture = futures::future::LocalBoxFuture<'static, anyhow::Result<Section>>;

/// A section's name and the function that measures it.
type SectionEntry = (&'static str, fn(Options) -> SectionFuture);

/// Every section, in print order.
pub const SECTIONS: &[SectionEntry] = &[
    ("pipeline", |_| Box::pin(pipeline())),
    ("fan-out", |_| Box::pin(fan_out())),
    ("progress", |_| Box::pin(progress())),
    ("rollout", |_| Box::pin(rollout::run_section())),
    ("scale", |_| Box::pin(scale::run())),
    ("tasks", |_| Box::pin(tasks())),
    ("retention", |_| Box::pin(retention::run())),
    ("fc", |options| Box::pin(fc::run(options))),
];

/// Sections that take minutes: run only when named or with `--all`.
const SLOW_SECTIONS: &[&str] = &["progress", "scale", "tasks", "fc"];

/// Runs `reimage bench`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let chosen: Vec<_> = SECTIONS
        .iter()
        .filter(|(name, _)| match args.section.as_deref() {
            Some(chosen) => chosen == *name,
            None => args.all || !SLOW_SECTIONS.contains(name),
        })
        .collect();
    if chosen.is_empty() {
        let names: Vec<_> = SECTIONS.iter().map(|(name, _)| *name).collect();
        bail!(
            "no bench section {:?}; the sections are {}",
            args.section.unwrap_or_default(),
            names.join(", ")
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        if args.section.is_none() && !args.all {
            println!(
                "(skipping the slow sections {}: run them with --all or --section NAME)\n",
                SLOW_SECTIONS.join(", ")
            );
        }
        for (name, section) in chosen {
            let section = section(args.options.clone())
                .await
                .with_context(|| format!("bench section {name} failed"))?;
            println!("{section}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The instant every bench starts at (a fixed time, so runs are comparable).
fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// What one bench execution left behind.
struct Measured {
    last: StepRecord,
    calls: BTreeMap<String, u64>,
    wall: Duration,
}

/// Runs one execution of `instance_id` onto `configuration_ids` against a sim seeded with
/// `seed` whose images take `image_seconds`, the sim and the engine sharing one ManualClock.
async fn measure(
    seed: Seed,
    image_seconds: u64,
    instance_id: &str,
    configuration_ids: Vec<String>,
) -> anyhow::Result<Measured> {
    let manual = ManualClock::new(start_time());
    let clock: SharedClock = Arc::new(manual);
    let sim = reimage_sim::Sim::builder()
        .clock(clock.clone())
        .image_seconds(image_seconds)
        .seed(seed)
        .start()
        .await
        .context("cannot start the sim")?;
    let client = crate::cmd::demo::sim_client(&sim, clock.clone())?;
    let dispatcher = Arc::new(LocalDispatcher::new(clock.clone()));
    let engine = settings::engine(
        Arc::new(MemoryStore::new()),
        clock,
        dispatcher.clone(),
        settings::clouds(client),
    );
    sim.admin().reset_calls();
    let request = UpdateRequest {
        scaling_group_ids: Vec::new(),
        allow_default_version_change: false,
        instance_id: instance_id.to_owned(),
        image_name: None,
        configuration_ids,
        permission: PermissionSource::Account,
        task_id: None,
        rollout: None,
        allow_platform_change: false,
    };
    let started = Instant::now();
    let last = drive(&engine, &dispatcher, request, &mut Progress::hidden()).await?;
    let wall = started.elapsed();
    let calls = sim.admin().calls().since_reset;
    sim.shutdown().await;
    if let State::Failed(failure) = &last.state {
        bail!("the bench execution failed: {failure}");
    }
    Ok(Measured { last, calls, wall })
}

fn calls_figures(calls: &BTreeMap<String, u64>) -> Vec<Figure> {
    calls
        .iter()
        .map(|(action, n)| Figure::plain(format!("  {action}"), n))
        .collect()
}

/// Section `pipeline`: one execution onto 2 configurations with an image that takes 600 s.
pub async fn pipeline() -> anyhow::Result<Section> {
    const IMAGE_SECONDS: u64 = 600;
    let seed = Seed::demo();
    let targets =
        crate::cmd::demo::pick_targets_in_seed(&seed).context("the demo region has no targets")?;
    let m = measure(
        seed,
        IMAGE_SECONDS,
        &targets.instance_id,
        targets.configuration_ids.to_vec(),
    )
    .await?;
    let total: u64 = m.calls.values().sum();
    let learned = &m.last.learned;
    let mut figures = vec![
        Figure::at_most("API calls, total", total as f64, "", 15.0),
        Figure::at_most(
            "DescribeImages calls of wait-image",
            f64::from(learned.image_checks),
            "",
            8.0,
        ),
    ];
    // The sim makes an image Available exactly IMAGE_SECONDS after CreateImage; swap-config
    // calls ModifyScalingConfiguration at the time it records as swapped_at (the engine's
    // clock does not move while a step runs).
    match (learned.image_requested_at, learned.swapped_at) {
        (Some(requested), Some(swapped)) => {
            let available = requested + chrono::Duration::seconds(IMAGE_SECONDS as i64);
            let lag = (swapped - available).num_milliseconds() as f64 / 1000.0;
            let share = 100.0 * lag / IMAGE_SECONDS as f64;
            figures.push(Figure::plain(
                "Available → first ModifyScalingConfiguration",
                format!("{lag:.0} s"),
            ));
            figures.push(Figure::at_most(
                "  as a share of the build time",
                share,
                " %",
                5.0,
            ));
        }
        _ => figures.push(Figure::plain(
            "Available → first ModifyScalingConfiguration",
            "not recorded",
        )),
    }
    let virtual_time = (m.last.written_at - m.last.started_at).num_seconds();
    figures.push(Figure::plain(
        "execution time (simulated)",
        format!("{virtual_time} s"),
    ));
    figures.push(Figure::plain(
        "wall time",
        format!("{} ms", m.wall.as_millis()),
    ));
    figures.push(Figure::plain("API calls by action", ""));
    figures.extend(calls_figures(&m.calls));
    Ok(Section {
        name: "pipeline",
        title: format!("one execution, 2 configurations, an image that takes {IMAGE_SECONDS} s"),
        figures,
    })
}

/// What the wait for one image cost: wait-image's DescribeImages calls (the pre-flight's own
/// look at the image comes after), and the time from Available to the
/// first ModifyScalingConfiguration as a share of the build time.
struct Wait {
    describe_images: u64,
    lag_share: f64,
}

/// One execution onto the demo group whose image takes `image_seconds` and reports its
/// progress as `profile` does.
async fn wait_over(profile: ProgressProfile, image_seconds: u64) -> anyhow::Result<Wait> {
    let mut seed = Seed::demo();
    seed.image_progress = profile;
    let targets =
        crate::cmd::demo::pick_targets_in_seed(&seed).context("the demo region has no targets")?;
    let m = measure(
        seed,
        image_seconds,
        &targets.instance_id,
        targets.configuration_ids.to_vec(),
    )
    .await?;
    let (Some(requested), Some(swapped)) =
        (m.last.learned.image_requested_at, m.last.learned.swapped_at)
    else {
        bail!("the execution recorded no CreateImage or swap time");
    };
    let available = requested + chrono::Duration::seconds(image_seconds as i64);
    let lag = (swapped - available).num_milliseconds() as f64 / 1000.0;
    Ok(Wait {
        describe_images: u64::from(m.last.learned.image_checks),
        lag_share: 100.0 * lag / image_seconds as f64,
    })
}

/// The median and the largest of `values`.
fn median_and_worst(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let median = values.get(values.len() / 2).copied().unwrap_or(0.0);
    (median, values.last().copied().unwrap_or(0.0))
}

/// Section `progress`: the wait for the image over 100 builds per progress profile of the
/// sim, from 2 minutes to an hour each.
pub async fn progress() -> anyhow::Result<Section> {
    const BUILDS: u64 = 100;
    let mut figures = Vec::new();
    for profile in ProgressProfile::ALL {
        let mut calls = Vec::new();
        let mut shares = Vec::new();
        for i in 0..BUILDS {
            let wait = wait_over(profile, 120 + i * 35).await?;
            calls.push(wait.describe_images as f64);
            shares.push(wait.lag_share);
        }
        let (calls_median, calls_worst) = median_and_worst(calls);
        let (share_median, share_worst) = median_and_worst(shares);
        figures.push(Figure::plain(profile.name(), ""));
        figures.push(Figure::plain(
            "  DescribeImages calls, median",
            calls_median,
        ));
        figures.push(Figure::at_most(
            "  DescribeImages calls, worst",
            calls_worst,
            "",
            10.0,
        ));
        figures.push(Figure::at_most(
            "  Available → first swap, median",
            share_median,
            " % of the build",
            5.0,
        ));
        figures.push(Figure::at_most(
            "  Available → first swap, worst",
            share_worst,
            " % of the build",
            5.0,
        ));
    }
    Ok(Section {
        name: "progress",
        title: format!(
            "the wait for the image, {BUILDS} builds of 2 to 60 minutes per progress profile"
        ),
        figures,
    })
}

/// The demo region plus `groups` ECS groups of `per_group` configurations each.
pub fn fan_out_seed(groups: usize, per_group: usize) -> (Seed, Vec<String>) {
    let mut seed = Seed::demo();
    let image = seed
        .images
        .first()
        .map(|i| i.image_id.clone())
        .unwrap_or_default();
    let mut ids = Vec::with_capacity(groups * per_group);
    for g in 0..groups {
        let group_id = format!("asg-bench{g:04}");
        let configs: Vec<String> = (0..per_group)
            .map(|c| format!("asc-bench{g:04}c{c:03}"))
            .collect();
        seed.scaling_groups.push(SeedScalingGroup {
            scaling_group_id: group_id.clone(),
            scaling_group_name: format!("bench-{g}"),
            group_type: "ECS".to_owned(),
            lifecycle_state: "Active".to_owned(),
            active_scaling_configuration_id: configs.first().cloned(),
            min_size: 0,
            max_size: 10,
            load_balancer_ids: Vec::new(),
            vserver_groups: Vec::new(),
            vswitch_ids: vec![format!("vsw-bench{g:04}")],
        });
        for (c, id) in configs.iter().enumerate() {
            seed.scaling_configurations.push(SeedScalingConfiguration {
                scaling_configuration_id: id.clone(),
                scaling_configuration_name: format!("bench-{g}-{c}"),
                scaling_group_id: group_id.clone(),
                image_id: image.clone(),
                instance_type: "ecs.g7.large".to_owned(),
                system_disk_size: 40,
                key_pair_name: None,
                instance_types: Vec::new(),
                security_group_ids: vec![format!("sg-bench{g:04}")],
                system_disk_category: "cloud_essd".to_owned(),
                system_disk_performance_level: None,
                zone_id: None,
                password_inherit: false,
            });
        }
        ids.extend(configs);
    }
    (seed, ids)
}

/// Section `fan-out`: one execution onto 200 configurations across 20 groups.
pub async fn fan_out() -> anyhow::Result<Section> {
    const GROUPS: usize = 20;
    const PER_GROUP: usize = 10;
    let (seed, ids) = fan_out_seed(GROUPS, PER_GROUP);
    let instance = crate::cmd::demo::pick_targets_in_seed(&seed)
        .context("the demo region has no Running instance")?
        .instance_id;
    let m = measure(seed, 600, &instance, ids).await?;
    let total: u64 = m.calls.values().sum();
    let mut figures = vec![
        Figure::plain("API calls, total", total),
        Figure::plain(
            "wall time against the sim",
            format!("{} ms", m.wall.as_millis()),
        ),
        Figure::plain("API calls by action", ""),
    ];
    figures.extend(calls_figures(&m.calls));
    Ok(Section {
        name: "fan-out",
        title: format!(
            "one execution onto {} configurations across {GROUPS} groups (Describe calls take \
             10 configuration ids each)",
            GROUPS * PER_GROUP
        ),
        figures,
    })
}

/// The scheduler tick over 10,000 tasks, `GET /executions/{id}` latency and refused webhooks
/// per second, all on the file store in a scratch directory (issue goals: ≤ 1 s, p99 ≤ 5 ms,
/// ≥ 20,000 per second).
async fn tasks() -> anyhow::Result<Section> {
    let dir = tempfile::tempdir().context("cannot create a scratch directory")?;
    let config = tasks::BenchConfig::default();
    let figures = tasks::run(dir.path(), &config)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(Section {
        name: "tasks",
        title: "scheduler, execution reads and webhook refusals on the file store".into(),
        figures: vec![
            Figure::at_most(
                format!("tick over {} tasks", figures.tasks),
                figures.tick.as_secs_f64(),
                " s",
                1.0,
            ),
            Figure::plain("slots the tick started", figures.started),
            Figure::plain(
                "GET /executions/{id} p50",
                format!("{:.3} ms", figures.get_p50.as_secs_f64() * 1e3),
            ),
            Figure::at_most(
                "GET /executions/{id} p99",
                figures.get_p99.as_secs_f64() * 1e3,
                " ms",
                5.0,
            ),
            Figure::at_least(
                "refused webhooks per second",
                figures.rejected_webhooks_per_second,
                "/s",
                20_000.0,
            ),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fan_out_seed_is_valid_and_has_every_configuration() {
        let (seed, ids) = fan_out_seed(20, 10);
        seed.validate().expect("valid seed");
        assert_eq!(ids.len(), 200);
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 200);
        assert!(ids.iter().all(|id| {
            seed.scaling_configurations
                .iter()
                .any(|c| &c.scaling_configuration_id == id)
        }));
    }

    #[test]
    fn a_figure_past_its_goal_is_shown_as_missed() {
        let section = Section {
            name: "x",
            title: "t".into(),
            figures: vec![
                Figure::at_most("calls", 16.0, "", 15.0),
                Figure::at_most("lag", 1.5, " %", 5.0),
            ],
        };
        let shown = section.to_string();
        assert!(shown.contains("16   goal ≤ 15: MISSED"), "{shown}");
        assert!(shown.contains("1.50 %   goal ≤ 5 %: met"), "{shown}");
    }
}
