//! Section `rollout`: the rolling update of a 100-instance group, 10 % at a time, against the
//! sim on a virtual clock; and the same with a bad image, caught on the canary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use reimage::clock::{Clock, ManualClock, SharedClock};
use reimage::ids::RandomIds;
use reimage::rollout::{
    Advanced, Amount, Outcome, RolloutRecord, RolloutSpec, RolloutTiming, Rollouts,
};
use reimage::steps::AliyunCloud;
use reimage::store::memory::MemoryStore;
use reimage_sim::Seed;
use reimage_sim::ecs::fleet::PowerTiming;

use super::{Figure, Section, start_time};

const FLEET: usize = 100;
const STOP: i64 = 20;
const REPLACE: i64 = 60;
const BOOT: i64 = 40;
const WARMUP: u64 = 30;
const GROUP: &str = "asg-bp1demoweb0000001";
const TARGET: &str = "aliyun_3_x64_20G_alibase_20240101.vhd";

struct Run {
    last: RolloutRecord,
    calls: BTreeMap<String, u64>,
    wall: std::time::Duration,
}

async fn run(bad_image: bool) -> anyhow::Result<Run> {
    let manual = ManualClock::new(start_time());
    let clock: SharedClock = Arc::new(manual.clone());
    let sim = reimage_sim::Sim::builder()
        .clock(clock.clone())
        .seed(Seed::demo_with_fleet(FLEET))
        .start()
        .await
        .context("cannot start the sim")?;
    sim.admin().set_power_timing(PowerTiming {
        stop: chrono::Duration::seconds(STOP),
        boot: chrono::Duration::seconds(BOOT),
        replace: chrono::Duration::seconds(REPLACE),
    });
    if bad_image {
        sim.admin().mark_image_bad(TARGET)?;
    }
    let client = crate::cmd::demo::sim_client(&sim, clock.clone())?;
    let rollouts = Rollouts::new(
        Arc::new(MemoryStore::new()),
        Arc::new(AliyunCloud::new(client)),
        clock.clone(),
        Arc::new(RandomIds),
        RolloutTiming::default(),
    );
    let spec = RolloutSpec {
        max_unavailable: Amount::Percent(10),
        bake_seconds: 0,
        warmup_seconds: WARMUP,
        readiness_command: Some("systemctl is-active web".to_owned()),
        ..RolloutSpec::new(GROUP, TARGET)
    };
    sim.admin().reset_calls();
    let started = Instant::now();
    let id = rollouts.start(spec).await?;
    loop {
        match rollouts.advance(&id).await? {
            Advanced::Ended(_) => break,
            Advanced::LostRace => {}
            Advanced::Waiting(at) => {
                if at > manual.now() {
                    manual.set(at);
                }
            }
        }
    }
    let wall = started.elapsed();
    let last = rollouts.latest(&id).await?;
    let calls = sim.admin().calls().since_reset;
    sim.shutdown().await;
    Ok(Run { last, calls, wall })
}

/// Runs the section.
pub async fn run_section() -> anyhow::Result<Section> {
    let clean = run(false).await?;
    anyhow::ensure!(
        clean.last.outcome == Some(Outcome::Succeeded),
        "the bench rollout did not succeed: {}",
        clean.last.note
    );
    let per_instance = STOP + REPLACE + BOOT + WARMUP as i64;
    let batches = FLEET.div_ceil(FLEET / 10) as i64;
    let ideal = batches * per_instance;
    let took = (clean.last.at - clean.last.started_at).num_seconds();
    let total: u64 = clean.calls.values().sum();
    let mut figures = vec![
        Figure::plain(
            "per instance: stop + replace + boot + warm-up",
            format!("{per_instance} s"),
        ),
        Figure::plain("ideal: 10 batches of 10", format!("{ideal} s")),
        Figure::plain("rollout time (simulated)", format!("{took} s")),
        Figure::at_most("  against the ideal", took as f64 / ideal as f64, "×", 1.1),
        Figure::at_most(
            "API calls per instance",
            total as f64 / FLEET as f64,
            "",
            3.0,
        ),
        Figure::plain("wall time", format!("{} ms", clean.wall.as_millis())),
    ];
    let bad = run(true).await?;
    let touched = bad.calls.get("ReplaceSystemDisk").copied().unwrap_or(0) / 2;
    figures.push(Figure::at_most(
        "bad image: instances touched before the rollback",
        touched as f64,
        "",
        1.0,
    ));
    figures.push(Figure::plain(
        "  and the configuration changed",
        if bad.calls.contains_key("ModifyScalingConfiguration") {
            "yes"
        } else {
            "no"
        },
    ));
    figures.push(Figure::plain("API calls by action (clean run)", ""));
    figures.extend(
        clean
            .calls
            .iter()
            .map(|(action, n)| Figure::plain(format!("  {action}"), n)),
    );
    Ok(Section {
        name: "rollout",
        title: format!(
            "a rolling update of {FLEET} instances, 10 % at a time after a canary of 1, no bake, readiness command on"
        ),
        figures,
    })
}
