//! Section `fc`: the function binaries as Function Compute runs them, under the sim's FC
//! front (the same launcher `reimage up` uses).
//!
//! - **Start-up**: from spawning a function process to its first answered `/invoke`, repeated
//!   [`STARTS`] times. The event is a wait-image step event for an execution that does not
//!   exist, which the function reads its store for and acknowledges: a whole invocation with
//!   no cloud call. The bench tries to connect about every millisecond (tokio's timer), so
//!   the figure can be up to a millisecond late.
//! - **One execution**: an update started through the HTTP trigger, carried by async
//!   invocations only, with an image that takes `--image-seconds` (600 by default) of real
//!   time. Billed compute is what FC charges for: the sum over the execution's invocations of
//!   duration × memory. The minute timer's invocations in the same span are shown apart: they
//!   are paid once per deployment, however many executions run.
//! - **Peak RSS** of each process (`VmHWM` in `/proc/<pid>/status`) after that execution,
//!   wait-image's held to the goal.
//! - **Binary size** of each function as found in `--bin-dir`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reimage::clock::{SharedClock, SystemClock};
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::{IdSource as _, RandomIds};
use reimage::model::ExecutionId;
use reimage::store::file::FileStore;
use reimage_sim::fc::{Delivery, LaunchSettings, Outcome, Template};
use reimage_sim::{Seed, Sim};

use super::{Figure, Options, Section};
use crate::settings;

/// How many times a process is started for the start-up figure.
pub const STARTS: usize = 21;
/// How long one start may take before the bench gives up.
const START_LIMIT: Duration = Duration::from_secs(10);
/// How long the execution may take beyond its snapshot and image builds (the sim's snapshot
/// takes half as long as its image).
const EXECUTION_SLACK: Duration = Duration::from_secs(300);
/// The function whose start-up and peak memory are held to the goals.
const MEASURED: &str = "wait-image";

/// Billed compute of `deliveries`: the sum of duration × memory, in GB-seconds.
pub fn gb_seconds<'a>(deliveries: impl IntoIterator<Item = &'a Delivery>) -> f64 {
    deliveries
        .into_iter()
        .map(|d| d.duration.as_secs_f64() * f64::from(d.memory_mb) / 1024.0)
        .sum()
}

/// The median of `values` (the upper one of an even count); `None` when empty.
pub fn median(values: &[Duration]) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied()
}

/// The peak resident set size, in bytes, from the text of `/proc/<pid>/status`.
pub fn peak_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut words = line["VmHWM:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => Some(value * 1024),
        _ => None,
    }
}

fn peak_rss_of(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    peak_rss(&text).with_context(|| format!("{path} has no VmHWM line"))
}

/// Runs the section.
pub async fn run(options: Options) -> anyhow::Result<Section> {
    let text = std::fs::read_to_string(&options.template)
        .with_context(|| format!("cannot read {}", options.template.display()))?;
    let api_token = format!("bench-{}", RandomIds.unique());
    let params = BTreeMap::from([
        ("ApiToken".to_owned(), api_token.clone()),
        (
            "SecretsKmsKeyId".to_owned(),
            reimage_sim::seed::DEMO_KMS_KEY_ID.to_owned(),
        ),
    ]);
    let template = Template::parse(&text, &params).with_context(|| {
        format!(
            "{} is not a deployable template",
            options.template.display()
        )
    })?;
    let binaries = template
        .functions
        .iter()
        .map(|f| {
            let path = crate::cmd::up::binary(&options.bin_dir, &f.name)?;
            Ok((f.name.clone(), path))
        })
        .collect::<anyhow::Result<BTreeMap<String, PathBuf>>>()?;
    let measured = template
        .functions
        .iter()
        .find(|f| f.name == MEASURED)
        .with_context(|| format!("the template declares no function {MEASURED}"))?;

    let state = tempfile::tempdir().context("cannot create a state directory")?;
    let sim = Sim::builder()
        .clock(Arc::new(SystemClock))
        .image_seconds(options.image_seconds)
        .start()
        .await
        .context("cannot start the sim")?;
    let launch = LaunchSettings {
        extra_env: vec![(
            "REIMAGE_STORE".into(),
            format!("file://{}", state.path().display()),
        )],
        log_dir: Some(state.path().to_path_buf()),
        ..LaunchSettings::for_sim(&sim)
    };

    let mut figures = Vec::new();

    // Binary sizes.
    let mut largest = 0u64;
    for (name, path) in &binaries {
        let size = std::fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .len();
        largest = largest.max(size);
        figures.push(Figure::plain(
            format!("binary size, {name}"),
            format!("{:.2} MB", size as f64 / 1e6),
        ));
    }
    figures.push(Figure::at_most(
        "binary size, largest",
        largest as f64 / 1e6,
        " MB",
        8.0,
    ));

    // Start-up.
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("cannot build an HTTP client")?;
    let mut starts = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let took = first_answer(
            &http,
            &template.service,
            measured,
            &binaries[MEASURED],
            &launch,
        )
        .await?;
        starts.push(took);
    }
    let median_start = median(&starts).unwrap_or_default();
    let slowest = starts.iter().max().copied().unwrap_or_default();
    figures.push(Figure::at_most(
        format!("{MEASURED}: exec → first answered /invoke, median of {STARTS}"),
        median_start.as_secs_f64() * 1e3,
        " ms",
        20.0,
    ));
    figures.push(Figure::plain(
        "  slowest",
        format!("{:.1} ms", slowest.as_secs_f64() * 1e3),
    ));

    // One execution through the HTTP trigger.
    let mut running = reimage_sim::fc::start_all(&sim.fc(), &template, &binaries, &launch)
        .await
        .context("cannot start the functions")?;
    let trigger = format!(
        "{}/2016-08-15/proxy/{}/create-image",
        sim.endpoint(),
        template.service
    );
    let targets = crate::cmd::demo::pick_targets_in_seed(&Seed::demo())
        .context("the demo region has no targets")?;
    let started = Instant::now();
    let created = http
        .post(format!("{trigger}/tasks"))
        .bearer_auth(&api_token)
        .json(&serde_json::json!({
            "source_instance_id": targets.instance_id,
            "scaling_configuration_ids": targets.configuration_ids,
            "executed_at": {"kind": "now"},
            "permission": {"kind": "account"}
        }))
        .send()
        .await
        .context("the HTTP trigger did not answer")?;
    let status = created.status();
    let body: serde_json::Value = created
        .json()
        .await
        .context("the HTTP trigger's answer is not JSON")?;
    if status != 201 {
        bail!("starting the update through the HTTP trigger answered {status}: {body}");
    }
    let execution_id = body["run"]["execution_id"]
        .as_str()
        .and_then(|id| ExecutionId::parse(id).ok())
        .with_context(|| format!("the HTTP trigger named no execution: {body}"))?;
    eprintln!(
        "bench fc: execution {execution_id} started; its snapshot takes {} s and its image {} s \
         of real time",
        options.image_seconds / 2,
        options.image_seconds
    );
    let store = Arc::new(FileStore::open(state.path()).context("cannot open the state store")?);
    let clock: SharedClock = Arc::new(SystemClock);
    let engine = settings::engine(
        store,
        clock.clone(),
        Arc::new(LocalDispatcher::new(clock.clone())),
        settings::clouds(crate::cmd::demo::sim_client(&sim, clock)?),
    );
    let limit = Duration::from_secs(options.image_seconds.saturating_mul(3) / 2) + EXECUTION_SLACK;
    let last = loop {
        if let Some(record) = engine.get(&execution_id).await? {
            if record.state.is_terminal() {
                break record;
            }
        }
        if started.elapsed() > limit {
            bail!(
                "execution {execution_id} did not finish within {} s",
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let wall = started.elapsed();
    if last.state.status() != "succeeded" {
        bail!(
            "the bench execution ended {}: {:?}",
            last.state.status(),
            last.state
        );
    }
    let mut peaks = BTreeMap::new();
    for process in &running {
        if let Some(pid) = process.child.id() {
            peaks.insert(process.spec.name.clone(), peak_rss_of(pid)?);
        }
    }
    for process in &mut running {
        process.kill().await;
    }
    let deliveries = sim.fc().deliveries();
    sim.shutdown().await;

    let (timer, execution): (Vec<&Delivery>, Vec<&Delivery>) =
        deliveries.iter().partition(|d| d.timer.is_some());
    let failed = execution
        .iter()
        .filter(|d| d.outcome != Outcome::Succeeded)
        .count();
    figures.push(Figure::plain(
        "execution, wall time",
        format!("{:.0} s", wall.as_secs_f64()),
    ));
    figures.push(Figure::plain("execution, invocations", execution.len()));
    let mut by_function: BTreeMap<(&str, &str), (usize, Duration)> = BTreeMap::new();
    for d in &execution {
        let entry = by_function
            .entry((d.function.as_str(), d.control_path))
            .or_default();
        entry.0 += 1;
        entry.1 += d.duration;
    }
    for ((function, path), (count, total)) in &by_function {
        figures.push(Figure::plain(
            format!("  {function} {path}"),
            format!(
                "{count} × {:.0} ms",
                total.as_secs_f64() * 1e3 / *count as f64
            ),
        ));
    }
    if failed > 0 {
        figures.push(Figure::plain("  of which failed or unanswered", failed));
    }
    figures.push(Figure::at_most_to(
        "execution, billed compute",
        gb_seconds(execution.iter().copied()),
        " GB-s",
        0.1,
        4,
    ));
    figures.push(Figure::plain(
        "timer invocations in the same span",
        format!(
            "{} × {:.4} GB-s",
            timer.len(),
            if timer.is_empty() {
                0.0
            } else {
                gb_seconds(timer.iter().copied()) / timer.len() as f64
            }
        ),
    ));
    for (name, peak) in &peaks {
        let mib = *peak as f64 / (1024.0 * 1024.0);
        figures.push(if name == MEASURED {
            Figure::at_most(format!("peak RSS, {name}"), mib, " MiB", 16.0)
        } else {
            Figure::plain(format!("peak RSS, {name}"), format!("{mib:.2} MiB"))
        });
    }
    Ok(Section {
        name: "fc",
        title: format!(
            "the function binaries in {} under the sim's FC front, one execution whose image \
             takes {} s",
            options.bin_dir.display(),
            options.image_seconds
        ),
        figures,
    })
}

/// Spawns `function` from `binary` and sends it a step event until it answers one; answers
/// the time from spawn to that answer.
async fn first_answer(
    http: &reqwest::Client,
    service: &str,
    function: &reimage_sim::fc::TemplateFunction,
    binary: &Path,
    launch: &LaunchSettings,
) -> anyhow::Result<Duration> {
    let port = reimage_sim::fc::free_port().context("no free port")?;
    let mut command = reimage_sim::fc::command(service, function, binary, launch, port)?;
    let url = format!("http://127.0.0.1:{port}/invoke");
    let event = serde_json::json!({
        "execution_id": format!("bench-start-{port}"),
        "step": function.name,
        "seq": 1,
    })
    .to_string();
    let spawned = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let result = loop {
        let sent = http
            .post(&url)
            .header("x-fc-control-path", "/invoke")
            .header("x-fc-request-id", format!("bench-{port}"))
            .body(event.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let took = spawned.elapsed();
                let failed = resp
                    .headers()
                    .get("x-fc-status")
                    .is_some_and(|v| v.as_bytes() == b"404");
                let body = resp.text().await.unwrap_or_default();
                break if failed {
                    Err(anyhow::anyhow!(
                        "{} answered the start-up event with an error: {body}",
                        function.name
                    ))
                } else {
                    Ok(took)
                };
            }
            Err(e) if e.is_connect() && spawned.elapsed() < START_LIMIT => {
                if let Ok(Some(status)) = child.try_wait() {
                    break Err(anyhow::anyhow!(
                        "{} exited before it answered ({status})",
                        function.name
                    ));
                }
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
            Err(e) => break Err(anyhow::anyhow!("{} did not answer: {e}", function.name)),
        }
    };
    let _ = child.kill().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone as _, Utc};

    fn delivery(function: &str, millis: u64, memory_mb: u32) -> Delivery {
        Delivery {
            request_id: "r".into(),
            service: "reimage".into(),
            function: function.into(),
            control_path: "/invoke",
            invocation_id: None,
            attempt: 1,
            sent_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            duration: Duration::from_millis(millis),
            outcome: Outcome::Succeeded,
            memory_mb,
            timer: None,
        }
    }

    #[test]
    fn billed_compute_is_duration_times_memory() {
        // 0.5 s at 128 MB and 2 s at 512 MB: 0.0625 + 1.0 GB-s.
        let d = [delivery("a", 500, 128), delivery("b", 2000, 512)];
        assert!((gb_seconds(&d) - 1.0625).abs() < 1e-9, "{}", gb_seconds(&d));
        assert_eq!(gb_seconds(&[]), 0.0);
    }

    #[test]
    fn a_function_that_slept_through_a_ten_minute_build_bills_75_gb_s() {
        let d = [delivery("wait-image", 600_000, 128)];
        assert!((gb_seconds(&d) - 75.0).abs() < 1e-9);
    }

    #[test]
    fn median_takes_the_middle_value_whatever_the_order() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(9), ms(1), ms(5)]), Some(ms(5)));
        assert_eq!(median(&[ms(4), ms(1), ms(3), ms(2)]), Some(ms(3)));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn peak_rss_reads_vmhwm_in_kilobytes() {
        let status =
            "Name:\twait-image\nVmPeak:\t  20000 kB\nVmHWM:\t    6144 kB\nVmRSS:\t 5000 kB\n";
        assert_eq!(peak_rss(status), Some(6144 * 1024));
        assert_eq!(peak_rss("Name:\tx\n"), None);
        assert_eq!(peak_rss("VmHWM:\t12 MB\n"), None, "only kB is known");
    }

    #[test]
    fn peak_rss_of_this_process_is_plausible() {
        let peak = peak_rss_of(std::process::id()).expect("Linux has /proc");
        assert!(peak > 1024 * 1024, "{peak}");
    }
}
