//! Section `retention`: one retention pass over a region with 54 scaling configurations (50
//! and the demo's), 20 launch templates, 200 images reimage made (ten tasks' daily images) and 1,000 other
//! images, against the sim: its API calls by action and its wall time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use reimage::clock::{Clock, ManualClock, SharedClock};
use reimage::images::{self, AliyunRegion, Policies};
use reimage::steps::cloud::{TAG_EXECUTION, TAG_MANAGED, TAG_TASK};
use reimage::store::memory::MemoryStore;
use reimage_sim::seed::{CustomImageBatch, SeedLaunchTemplate, SeedTag, SeedTemplateVersion};

use super::{Figure, Section, calls_figures, fan_out_seed, start_time};

const GROUPS: usize = 5;
const PER_GROUP: usize = 10;
const TEMPLATES: usize = 20;
const TASKS: usize = 10;
const PER_TASK: u32 = 20;
const OTHERS: u32 = 1000;
const DAY: u64 = 86_400;

/// The page sizes the Describe calls can take: DescribeImages and DescribeSnapshots 100,
/// DescribeScalingConfigurations and DescribeLaunchTemplates 50; DescribeLaunchTemplateVersions
/// one call per template (its versions fit a page).
fn ideal_describes(images: usize, snapshots: usize, configurations: usize) -> usize {
    images.div_ceil(100)
        + snapshots.div_ceil(100)
        + configurations.div_ceil(50)
        + TEMPLATES.div_ceil(50)
        + TEMPLATES
}

/// Runs the section.
pub async fn run() -> anyhow::Result<Section> {
    let manual = ManualClock::new(start_time());
    let clock: SharedClock = Arc::new(manual.clone());
    let (seed, _) = fan_out_seed(GROUPS, PER_GROUP);
    let sim = reimage_sim::Sim::builder()
        .clock(clock.clone())
        .seed(seed)
        .start()
        .await
        .context("cannot start the sim")?;
    let admin = sim.admin();
    let mut managed = Vec::new();
    for task in 0..TASKS {
        let tags = vec![
            SeedTag::new(TAG_MANAGED, "true"),
            SeedTag::new(TAG_TASK, format!("t-bench{task:02}")),
            SeedTag::new(TAG_EXECUTION, format!("exec-bench{task:02}")),
        ];
        let batch = CustomImageBatch {
            name_prefix: format!("bench-task{task:02}"),
            count: PER_TASK,
            snapshot_tags: tags.clone(),
            tags,
            age_seconds: u64::from(PER_TASK) * DAY,
            spacing_seconds: DAY,
            size: 40,
        };
        managed.extend(admin.add_custom_image_batch(&batch)?);
    }
    admin.add_custom_image_batch(&CustomImageBatch {
        name_prefix: "other".into(),
        count: OTHERS,
        tags: Vec::new(),
        snapshot_tags: Vec::new(),
        age_seconds: 400 * DAY,
        spacing_seconds: 0,
        size: 40,
    })?;
    for t in 0..TEMPLATES {
        let image = &managed[t * 7 % managed.len()].image_id;
        admin.create_launch_template(&SeedLaunchTemplate {
            launch_template_id: None,
            launch_template_name: format!("bench-template-{t:02}"),
            versions: vec![
                SeedTemplateVersion::of_image(image),
                SeedTemplateVersion::default(),
            ],
            default_version: None,
            tags: Vec::new(),
        })?;
    }
    let client = crate::cmd::demo::sim_client(&sim, clock.clone())?;
    let region = AliyunRegion::new(client);
    let store: reimage::store::SharedStore = Arc::new(MemoryStore::new());
    let policies = Policies::default();

    admin.reset_calls();
    let started = Instant::now();
    let survey = images::survey(&region, &store, &policies, manual.now()).await?;
    let first = images::apply(&region, &store, &survey).await?;
    let first_wall = started.elapsed();
    let first_calls: BTreeMap<String, u64> = admin.calls().since_reset;

    manual.advance(std::time::Duration::from_secs(25 * 3600));
    admin.reset_calls();
    let started = Instant::now();
    let survey = images::survey(&region, &store, &policies, manual.now()).await?;
    let second = images::apply(&region, &store, &survey).await?;
    let second_wall = started.elapsed();
    let second_calls: BTreeMap<String, u64> = admin.calls().since_reset;

    let describes = |calls: &BTreeMap<String, u64>| -> u64 {
        calls
            .iter()
            .filter(|(a, _)| a.starts_with("Describe") && *a != "DescribeImageSharePermission")
            .map(|(_, n)| n)
            .sum()
    };
    let images = managed.len();
    // The demo's own configurations are in the region too.
    let in_region = admin.state().scaling_configurations.len();
    let ideal = ideal_describes(images, images, in_region) as f64;
    let mut figures = vec![
        Figure::plain("first pass: images marked", first.marked.len()),
        Figure::at_most(
            "first pass: Describe calls",
            describes(&first_calls) as f64,
            "",
            ideal,
        ),
        Figure::plain(
            "first pass: API calls, total",
            first_calls.values().sum::<u64>(),
        ),
        Figure::plain(
            "first pass: wall time against the sim",
            format!("{} ms", first_wall.as_millis()),
        ),
    ];
    figures.extend(calls_figures(&first_calls));
    figures.extend([
        Figure::plain("second pass: images deleted", second.deleted_images.len()),
        Figure::plain(
            "second pass: snapshots deleted",
            second.deleted_snapshots.len(),
        ),
        Figure::at_most(
            "second pass: Describe calls",
            describes(&second_calls) as f64,
            "",
            ideal,
        ),
        Figure::plain(
            "second pass: wall time against the sim",
            format!("{} ms", second_wall.as_millis()),
        ),
    ]);
    figures.extend(calls_figures(&second_calls));
    Ok(Section {
        name: "retention",
        title: format!(
            "a retention pass over {in_region} configurations, {TEMPLATES} launch templates, {images} \
             images reimage made and {OTHERS} others; then the pass a day later that deletes \
             (goal: the Describe calls at the APIs' page sizes)"
        ),
        figures,
    })
}
