//! `reimage serve`: the self-hosted mode. One process runs the HTTP API, the minute tick (the
//! scheduler, then the engine's sweep) and the step workers (the in-process dispatcher),
//! against the configured endpoints and store.
//!
//! Settings come from the environment (read once, through `reimage::settings::Env`):
//!
//! | variable | meaning |
//! |---|---|
//! | `REIMAGE_LISTEN` | the address to listen on (default `127.0.0.1:8080`; `--listen` wins) |
//! | `REIMAGE_API_TOKEN` | the bearer token for task management (required unless `--no-auth`) |
//! | `REIMAGE_STORE`, `REIMAGE_STATE_DIR` | the state store: the file store in `./.reimage` by default, or `oss://bucket/prefix` |
//! | region, endpoints, credentials | as for every command (see `settings`) |
//!
//! SIGINT or SIGTERM stops it gracefully: the listener stops accepting, requests in flight
//! finish, the tick and the workers stop between steps (an interrupted execution is picked up
//! again by the next process's sweep).
//!
//! Steps run up to [`STEP_WORKERS`] at once, so one slow cloud call does not hold up every
//! other execution.
//!
//! The HTTP server holds its clients to [`reimage::server::Limits`]' defaults: 10 s for a
//! request head (idle keep-alive connections included), 30 s for a body, at most 1,024
//! connections at once, and 10 s for requests in flight at shutdown, so slow or hostile
//! clients can neither exhaust it nor keep it alive after SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use reimage::aliyun::oss::OssClient;
use reimage::api::{Api, ApiToken, Auth};
use reimage::clock::{SharedClock, SystemClock};
use reimage::dispatch::kicks::LocalKicks;
use reimage::dispatch::local::LocalDispatcher;
use reimage::ids::{RandomIds, SharedIds};
use reimage::model::State;
use reimage::model::execution::ExecutionId;
use reimage::model::task::TaskRecord;
use reimage::rollout::Rollouts;
use reimage::schedule::Scheduler;
use reimage::schedule::{RunRequest, Trigger};
use reimage::secrets::SharedSealer;
use reimage::settings::Env;
use reimage::steps::live;
use reimage::steps::{CloudProvider, Engine, EngineConfig, Handled};
use reimage::store::SharedStore;
use reimage::store::url::{StoreLocation, open_store};
use reimage::wiring::{Pieces, Wired};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::settings;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// For people.
    Text,
    /// The HTTP API's JSON.
    Json,
}

/// Options of `reimage serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on (else `REIMAGE_LISTEN`, else 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The state directory of the default file store (else `REIMAGE_STATE_DIR`, `./.reimage`).
    #[arg(long)]
    state_dir: Option<std::path::PathBuf>,
    /// Serve task management without a bearer token (only behind something that
    /// authenticates, such as Function Compute's function authentication).
    #[arg(long)]
    no_auth: bool,
}

/// How many steps run at once: one execution waiting on a slow cloud call holds up no other.
pub const STEP_WORKERS: usize = 8;

/// How long a step in flight may take to finish once shutdown is asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// What every command that touches state needs: the store, the clock, ids, the settings.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The configured store.
    pub store: SharedStore,
    /// The clock.
    pub clock: SharedClock,
    /// Random ids.
    pub ids: SharedIds,
    /// What seals webhook secrets (see [`reimage::secrets::sealer_from_env`]).
    pub sealer: Option<SharedSealer>,
    /// The engine's and the rollouts' timings (`REIMAGE_OVERDUE_AFTER_SECS`,
    /// `REIMAGE_ROLLOUT_POLL_SECS`).
    pub config: EngineConfig,
}

impl Runtime {
    /// Opens the configured store (`REIMAGE_STORE`, else the file store in the state
    /// directory).
    pub fn open(env: &Env, state_dir: Option<&Path>, clock: SharedClock) -> anyhow::Result<Self> {
        let dir = env.state_dir(state_dir);
        let location = StoreLocation::from_env(env, &dir)?;
        // Unlike the one-shot commands, a long-running server may keep its records in OSS.
        let store = open_store(&location, || {
            let client = settings::client(env, clock.clone(), Arc::new(RandomIds))?;
            Ok(OssClient::from_client(&client)?)
        })?;
        // KMS with REIMAGE_KMS_KEY_ID, else the key file REIMAGE_SECRETS_KEY_FILE, else the
        // key file beside the state directory (created when a secret is first sealed).
        let sealer = reimage::secrets::sealer_from_env(env, Some(&dir), || {
            settings::client(env, clock.clone(), Arc::new(RandomIds))
        })?;
        let config = EngineConfig::from_env(env).map_err(|(name, value)| {
            anyhow::anyhow!(
                "{name}={value:?} is not {}",
                reimage::steps::engine_env_expectation(name)
            )
        })?;
        Ok(Self {
            store,
            clock,
            ids: Arc::new(RandomIds),
            sealer,
            config,
        })
    }

    /// The pieces the parts are wired from, stepping through `dispatcher`.
    pub fn pieces(
        &self,
        dispatcher: Arc<LocalDispatcher>,
        clouds: Arc<dyn CloudProvider>,
    ) -> Pieces {
        Pieces {
            store: self.store.clone(),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            dispatcher,
            clouds,
            config: self.config.clone(),
            sealer: self.sealer.clone(),
            kicker: None,
        }
    }

    /// Runs a task once in this process with the cloud `clouds` gives, and waits for the
    /// outcome (exit code 1 if the update failed).
    pub async fn run_task_here(
        &self,
        task: &TaskRecord,
        clouds: Arc<dyn CloudProvider>,
        output: Output,
    ) -> anyhow::Result<ExitCode> {
        let dispatcher = Arc::new(LocalDispatcher::new(self.clock.clone()));
        let kicks = Arc::new(LocalKicks::new(self.clock.clone()));
        let Wired {
            engine,
            runs,
            rollouts,
            ..
        } = Pieces {
            kicker: Some(kicks.clone()),
            ..self.pieces(dispatcher.clone(), clouds)
        }
        .wire();
        let started = runs
            .start(RunRequest {
                execution_id: ExecutionId::random(self.ids.as_ref()),
                task: task.clone(),
                trigger: Trigger::Manual,
            })
            .await?;
        let execution_id = started.execution_id;
        if output == Output::Text {
            println!("execution {execution_id} started");
        }
        dispatcher
            .run_until_idle_with(&engine, |event, handled| {
                if output == Output::Text {
                    if let Handled::Advanced(record) = handled {
                        println!(
                            "  {:<12} -> {}",
                            event.step.to_string(),
                            describe(&record.state)
                        );
                    }
                }
            })
            .await;
        let record = engine
            .get(&execution_id)
            .await?
            .with_context(|| format!("execution {execution_id} has no record"))?;
        match output {
            Output::Json => println!("{}", serde_json::to_string_pretty(&record)?),
            Output::Text => println!(
                "execution {execution_id}: {} (image {})",
                describe(&record.state),
                record.image_name
            ),
        }
        // The task's rollouts, if it asks for them, to their ends.
        let mut rolled = true;
        if let (Some(rollouts), false) = (&rollouts, record.learned.rollouts.is_empty()) {
            kicks.run_until_idle(rollouts).await;
            for planned in &record.learned.rollouts {
                let latest = rollouts.latest(&planned.rollout_id).await?;
                rolled &= latest.outcome == Some(reimage::rollout::Outcome::Succeeded);
                if output == Output::Text {
                    let state = latest
                        .outcome
                        .as_ref()
                        .map_or_else(|| format!("waiting: {}", latest.note), ToString::to_string);
                    println!(
                        "rollout {} of {}: {state}",
                        planned.rollout_id, planned.group_id
                    );
                }
            }
        }
        Ok(match record.state {
            State::Succeeded if rolled => ExitCode::SUCCESS,
            _ => ExitCode::FAILURE,
        })
    }
}

/// `pending create-image`, `succeeded`, `failed at verify: …`.
fn describe(state: &State) -> String {
    match state {
        State::Pending { step, .. } => format!("pending {step}"),
        State::Succeeded => "succeeded".into(),
        State::Failed(failure) => format!("failed: {failure}"),
        State::Superseded { carried_by } => {
            format!("superseded: execution {carried_by} carries its request")
        }
    }
}

/// The parts `reimage serve` runs.
#[derive(Debug)]
pub struct Serve {
    /// The HTTP API.
    pub api: Arc<Api>,
    /// The scheduler.
    pub scheduler: Arc<Scheduler>,
    /// The execution engine.
    pub engine: Engine,
    /// The in-process step queue the workers take from.
    pub dispatcher: Arc<LocalDispatcher>,
    /// The rollouts, when the cloud can move a fleet.
    pub rollouts: Option<Rollouts>,
    /// Their in-process event queue.
    pub kicks: Arc<LocalKicks>,
    /// The region the day's retention pass prunes, and its defaults.
    pub images: Option<reimage::api::images::ImageRoutes>,
    /// The clock the tick follows.
    pub clock: SharedClock,
}

impl Serve {
    /// Builds the API, the scheduler, the engine and its dispatcher over `runtime`, reaching
    /// the cloud through `clouds`.
    pub fn new(runtime: &Runtime, clouds: Arc<dyn CloudProvider>, auth: Auth) -> Self {
        let dispatcher = Arc::new(LocalDispatcher::new(runtime.clock.clone()));
        let kicks = Arc::new(LocalKicks::new(runtime.clock.clone()));
        let wired = Pieces {
            kicker: Some(kicks.clone()),
            ..runtime.pieces(dispatcher.clone(), clouds)
        }
        .wire();
        Self {
            api: Arc::new(wired.api(auth)),
            scheduler: wired.scheduler,
            engine: wired.engine,
            dispatcher,
            rollouts: wired.rollouts,
            images: wired.images,
            kicks,
            clock: runtime.clock.clone(),
        }
    }
}

/// The next whole minute strictly after `now`.
pub fn next_minute(now: DateTime<Utc>) -> DateTime<Utc> {
    let secs = now.timestamp().div_euclid(60) * 60 + 60;
    DateTime::from_timestamp(secs, 0).unwrap_or(now)
}

/// Ticks at every whole minute until `stop` says so.
async fn tick_loop(serve: &Serve, mut stop: watch::Receiver<bool>) {
    loop {
        let now = serve.clock.now();
        let wait = (next_minute(now) - now).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = serve.clock.sleep(wait) => {}
        }
        let now = serve.clock.now();
        if let Err(error) = serve.engine.tick_sweep(now).await {
            tracing::error!(%error, "sweep failed");
        }
        if let Some(rollouts) = &serve.rollouts {
            let overdue = serve.engine.config().overdue_after;
            if let Err(error) = rollouts.sweep(now, overdue, live::SWEEP_WINDOW).await {
                tracing::error!(%error, "rollout sweep failed");
            }
        }
        if let Some(notifier) = serve.engine.notifier() {
            if let Err(error) = notifier.sweep(now).await {
                tracing::error!(%error, "notification sweep failed");
            }
        }
        match serve.scheduler.tick(now).await {
            Ok(report) => {
                if !report.started.is_empty() || !report.failed.is_empty() {
                    tracing::info!(
                        started = report.started.len(),
                        caught_up = report.caught_up.len(),
                        already_started = report.already_started.len(),
                        failed = ?report.failed,
                        "tick"
                    );
                }
            }
            Err(error) => tracing::error!(%error, "tick failed"),
        }
        if let Some(images) = &serve.images {
            let store = serve.engine.store();
            match reimage::images::daily(images.region.as_ref(), store, &images.policies, now).await
            {
                Ok(Some(outcome)) => tracing::info!(
                    marked = outcome.marked.len(),
                    deleted_images = outcome.deleted_images.len(),
                    failed = outcome.failed.len(),
                    "retention pass"
                ),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(error = %reimage::report::chain(&error), "retention pass failed")
                }
            }
        }
    }
}

/// Serves on `listener` until `shutdown` completes: the HTTP API, the minute tick and the
/// step workers.
pub async fn serve(
    listener: TcpListener,
    serve: Serve,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let router = serve.api.clone().router();
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(reimage::server::serve(
        listener,
        reimage::server::Limits::default(),
        reimage::server::axum_service(router),
        async move {
            let _ = http_stop.wait_for(|s| *s).await;
        },
    ));
    // Executions a previous process left pending are due now: sweeping as if the overdue
    // margin had passed dispatches every pending step whose due time has come.
    let margin = chrono::Duration::from_std(serve.engine.config().overdue_after)
        .unwrap_or(chrono::Duration::zero());
    if let Err(error) = serve.engine.sweep_all(serve.clock.now() + margin).await {
        tracing::error!(%error, "start-up sweep failed");
    }
    if let Some(rollouts) = &serve.rollouts {
        let overdue = serve.engine.config().overdue_after;
        let now = serve.clock.now() + margin;
        if let Err(error) = rollouts.sweep(now, overdue, live::DAILY_WINDOW).await {
            tracing::error!(%error, "start-up rollout sweep failed");
        }
    }
    let ticker = tick_loop(&serve, stop_rx.clone());
    let mut worker_stop = stop_rx.clone();
    let mut grace_stop = stop_rx.clone();
    let workers = async {
        let run = serve
            .dispatcher
            .run_concurrently(&serve.engine, STEP_WORKERS, async move {
                let _ = worker_stop.wait_for(|s| *s).await;
            });
        // A step in flight (a cloud call being retried, say) may finish within the grace
        // period; after it, the step is abandoned: its record still says it is pending, so
        // the next process's sweep runs it again.
        let grace = async move {
            let _ = grace_stop.wait_for(|s| *s).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            () = run => {}
            () = grace => tracing::warn!("a step was still running at shutdown; left to the sweep"),
        }
    };
    let mut kicks_stop = stop_rx.clone();
    let rollout_worker = async {
        if let Some(rollouts) = &serve.rollouts {
            serve
                .kicks
                .run(rollouts, async move {
                    let _ = kicks_stop.wait_for(|s| *s).await;
                })
                .await;
        }
    };
    let stopper = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    tokio::join!(ticker, workers, rollout_worker, stopper);
    http.await.context("the HTTP server task failed")?;
    Ok(())
}

/// Runs `reimage serve`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let filter = tracing_subscriber::EnvFilter::try_new(env.get("RUST_LOG").unwrap_or("info"))
        .context("RUST_LOG is not a log filter")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let tokio = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    tokio.block_on(async move {
        let clock: SharedClock = Arc::new(SystemClock);
        let runtime = Runtime::open(&env, args.state_dir.as_deref(), clock)?;
        let listen = match args.listen {
            Some(addr) => addr,
            None => env
                .get("REIMAGE_LISTEN")
                .unwrap_or(DEFAULT_LISTEN)
                .parse()
                .context("REIMAGE_LISTEN is not an address such as 127.0.0.1:8080")?,
        };
        let auth = match (env.get("REIMAGE_API_TOKEN"), args.no_auth) {
            (_, true) => Auth::Off,
            (Some(token), false) => Auth::Bearer(ApiToken::new(token)),
            (None, false) => bail!(
                "set REIMAGE_API_TOKEN to the bearer token that protects task management, \
                 or pass --no-auth behind an authenticating proxy"
            ),
        };
        let clouds = cloud_provider(&env, runtime.clock.clone())?;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        eprintln!(
            "reimage serve: listening on http://{}",
            listener.local_addr()?
        );
        serve(
            listener,
            Serve::new(&runtime, clouds, auth),
            super::shutdown_signal(),
        )
        .await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Clouds for each permission source over the configured client (see [`settings`]): the
/// process's own credentials, or a RAM role assumed through STS.
pub fn cloud_provider(env: &Env, clock: SharedClock) -> anyhow::Result<Arc<dyn CloudProvider>> {
    Ok(settings::clouds(settings::client(
        env,
        clock,
        Arc::new(RandomIds),
    )?))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;
    use reimage::clock::{Clock, ManualClock};
    use reimage::model::execution::EXECUTIONS_PREFIX;
    use reimage::schedule::{slot_execution_id, task_runs};
    use reimage::steps::SameCloud;
    use reimage::steps::testing::FakeCloud;
    use reimage::store::file::FileStore;
    use reimage::store::tasks::TaskStore;
    use serde_json::{Value, json};

    use super::*;

    const TOKEN: &str = "serve-test-token-123";

    /// Polls an execution's status URL until it is no longer pending (at most a minute).
    async fn poll_until_settled(client: &reqwest::Client, url: &str, token: Option<&str>) -> Value {
        let mut status = Value::Null;
        for _ in 0..3000 {
            let mut request = client.get(url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            status = request.send().await.unwrap().json().await.unwrap();
            if status["status"] != "pending" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        status
    }

    fn runtime(store: SharedStore, clock: &ManualClock, ids: &str) -> Runtime {
        Runtime {
            store,
            clock: Arc::new(clock.clone()),
            ids: Arc::new(reimage::ids::SequentialIds::new(ids)),
            sealer: Some(Arc::new(reimage::secrets::LocalSealer::with_key([1; 32]))),
            config: EngineConfig::default(),
        }
    }

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn next_minute_is_the_next_whole_minute() {
        let t = Utc.with_ymd_and_hms(2024, 3, 1, 10, 59, 59).unwrap();
        assert_eq!(
            next_minute(t),
            Utc.with_ymd_and_hms(2024, 3, 1, 11, 0, 0).unwrap()
        );
        let on = Utc.with_ymd_and_hms(2024, 3, 1, 11, 0, 0).unwrap();
        assert_eq!(
            next_minute(on),
            Utc.with_ymd_and_hms(2024, 3, 1, 11, 1, 0).unwrap()
        );
    }

    #[tokio::test]
    async fn serve_runs_a_task_created_over_http_and_stops_gracefully() {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(FileStore::open(dir.path()).unwrap());
        // Real time (see `a_ci_webhook_updates_a_configuration_in_the_sim`): on a ManualClock
        // the minute tick's own sleeps would race the clock past the image's deadline.
        let rt = Runtime {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(reimage::ids::SequentialIds::new("a")),
            sealer: None,
            config: EngineConfig::default(),
        };
        let fake = FakeCloud::demo(rt.clock.clone(), Duration::from_secs(2));
        let parts = Serve::new(
            &rt,
            Arc::new(SameCloud(fake.clone())),
            Auth::Bearer(ApiToken::new(TOKEN)),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, parts, async move {
            let _ = stop_rx.await;
        }));
        let client = reqwest::Client::new();
        let created: Value = client
            .post(format!("{base}/tasks"))
            .bearer_auth(TOKEN)
            .json(&json!({
                "source_instance_id": "i-running",
                "scaling_configuration_ids": ["asc-active", "asc-inactive"],
                "executed_at": {"kind": "now"},
                "permission": {"kind": "account"}
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let status_url = created["run"]["status_url"].as_str().unwrap().to_owned();
        let status = poll_until_settled(&client, &format!("{base}{status_url}"), Some(TOKEN)).await;
        assert_eq!(status["status"], "succeeded", "{status}");
        let image = status["learned"]["image_id"].as_str().unwrap().to_owned();
        assert_eq!(fake.state().times_swapped("asc-active", &image), 1);
        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("serve stops when asked")
            .unwrap()
            .unwrap();
        // The minute ticks that ran meanwhile did not start the task's one run again.
        assert_eq!(
            store
                .list(EXECUTIONS_PREFIX)
                .await
                .unwrap()
                .iter()
                .filter(|k| k.ends_with("000000.json"))
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn two_serve_instances_on_one_file_store_start_each_slot_once() {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(FileStore::open(dir.path()).unwrap());
        let created = start();
        let spec: reimage::model::task::TaskSpec = serde_json::from_value(json!({
            "source_instance_id": "i-running",
            "scaling_configuration_ids": ["asc-active"],
            "executed_at": {"kind": "cron", "expression": "@every 10m",
                            "expired_at": "2024-03-01T01:00:00Z"},
            "permission": {"kind": "ram_role", "role_arn": "acs:ram::1234:role/reimage-tasks"}
        }))
        .unwrap();
        spec.validate(created).unwrap();
        TaskStore::new(store.clone())
            .create("task-shared", spec, created)
            .await
            .unwrap();

        let mut servers = Vec::new();
        let mut stops = Vec::new();
        let mut clocks = Vec::new();
        for name in ["a", "b"] {
            let clock = ManualClock::new(created);
            let rt = runtime(store.clone(), &clock, name);
            let fake = FakeCloud::demo(rt.clock.clone(), Duration::ZERO);
            let parts = Serve::new(&rt, Arc::new(SameCloud(fake)), Auth::Off);
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            servers.push(tokio::spawn(serve(listener, parts, async move {
                let _ = stop_rx.await;
            })));
            stops.push(stop_tx);
            clocks.push(clock);
        }
        // Each instance's clock runs on by itself (its tick sleeps advance it); wait until
        // both are past the expiry.
        let expiry = Utc.with_ymd_and_hms(2024, 3, 1, 1, 1, 0).unwrap();
        for _ in 0..1000 {
            if clocks.iter().all(|c| c.now() > expiry) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(clocks.iter().all(|c| c.now() > expiry));
        for stop in stops {
            stop.send(()).unwrap();
        }
        for server in servers {
            server.await.unwrap().unwrap();
        }
        let runs = task_runs(&store, "task-shared").await.unwrap();
        let mut ids: Vec<String> = runs.iter().map(|r| r.execution_id.to_string()).collect();
        ids.sort();
        let mut expected: Vec<String> = (1..=6)
            .map(|k| {
                slot_execution_id("task-shared", created + chrono::Duration::minutes(10 * k))
                    .to_string()
            })
            .collect();
        expected.sort();
        assert_eq!(ids, expected);
        let first_records = store
            .list(EXECUTIONS_PREFIX)
            .await
            .unwrap()
            .into_iter()
            .filter(|k| k.ends_with("/000000.json"))
            .count();
        assert_eq!(first_records, 6);
    }

    #[tokio::test]
    async fn a_ci_webhook_updates_a_configuration_in_the_sim() {
        use reimage::aliyun::Client;
        use reimage::api::webhook::github_signature;
        use reimage::model::task::WebhookSecret;
        use reimage::steps::AliyunClouds;

        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(FileStore::open(dir.path()).unwrap());
        // Real time, with a short build: the serve loops here (the minute tick and the step
        // worker) sleep concurrently, and on a ManualClock every one of those sleeps moves
        // the shared clock, so a request could be signed and checked 15 virtual minutes
        // apart and be refused as expired, as the real cloud would refuse it.
        let mut rt = Runtime {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(reimage::ids::SequentialIds::new("hook")),
            sealer: None,
            config: EngineConfig::default(),
        };
        let sim = reimage_sim::Sim::builder()
            .clock(rt.clock.clone())
            .image_seconds(2)
            .start()
            .await
            .unwrap();
        let mut config = sim.client_config();
        config.clock = rt.clock.clone();
        let cloud = Client::new(config).unwrap();
        // Webhook secrets are sealed with the sim's KMS, as REIMAGE_KMS_KEY_ID asks.
        rt.sealer = Some(Arc::new(reimage::secrets::KmsSealer::new(
            cloud.clone(),
            reimage_sim::seed::DEMO_KMS_ALIAS,
        )));
        let clouds = Arc::new(AliyunClouds::new(cloud));
        let parts = Serve::new(&rt, clouds.clone(), Auth::Bearer(ApiToken::new(TOKEN)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, parts, async move {
            let _ = stop_rx.await;
        }));
        let client = reqwest::Client::new();
        let secret = "ci-hook-secret-0123456789";
        let created: Value = client
            .post(format!("{base}/tasks"))
            .bearer_auth(TOKEN)
            .json(&json!({
                "source_instance_id": "i-bp1demoweb000000001",
                "image_name": "web-golden",
                "scaling_configuration_ids": ["asc-bp1demoweb0000001"],
                "executed_at": {"kind": "cron", "expression": "0 0 3 1 1 *"},
                "permission": {"kind": "ram_role", "role_arn": "acs:ram::1234567890123456:role/reimage-updater"},
                "webhook_secret": secret
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let task_id = created["task_id"].as_str().expect("a task id").to_owned();
        let body = r#"{"ref":"refs/heads/main","after":"0f1e2d"}"#;
        let hook = |delivery: &'static str| {
            client
                .post(format!("{base}/hooks/{task_id}"))
                .header(
                    "x-hub-signature-256",
                    github_signature(&WebhookSecret::new(secret), body.as_bytes()),
                )
                .header("x-github-delivery", delivery)
                .body(body)
                .send()
        };
        let first = hook("d-42").await.unwrap();
        assert_eq!(first.status(), 202);
        let first: Value = first.json().await.unwrap();
        let status_url = first["status_url"].as_str().unwrap().to_owned();
        // The CI job polls with the webhook's answer alone: no API token.
        let status = poll_until_settled(&client, &format!("{base}{status_url}"), None).await;
        assert_eq!(status["status"], "succeeded", "{status}");
        assert_eq!(status["trigger"]["source"], "github");
        let image = status["learned"]["image_id"].as_str().unwrap();
        assert_eq!(
            sim.admin()
                .scaling_configuration("asc-bp1demoweb0000001")
                .unwrap()
                .image_id,
            image
        );
        // GitHub redelivers, and an attacker resends the body with another delivery id: the
        // same execution, nothing new.
        for delivery in ["d-42", "d-attacker"] {
            let again: Value = hook(delivery).await.unwrap().json().await.unwrap();
            assert_eq!(again["execution_id"], first["execution_id"]);
            assert_eq!(again["created"], false);
        }
        stop_tx.send(()).unwrap();
        server.await.unwrap().unwrap();

        // The secret was sealed by KMS; no file of the state directory holds it.
        let calls = sim.admin().calls().total;
        assert_eq!(calls.get("Encrypt").copied(), Some(1), "{calls:?}");
        assert_eq!(calls.get("Decrypt"), None, "{calls:?}");
        let mut dirs = vec![dir.path().to_path_buf()];
        while let Some(d) = dirs.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let bytes = std::fs::read(&path).unwrap();
                    assert!(
                        !String::from_utf8_lossy(&bytes).contains(secret),
                        "{path:?} holds the secret"
                    );
                }
            }
        }
        // A restarted server opens it with KMS Decrypt to check the next webhook.
        let parts = Serve::new(&rt, clouds, Auth::Bearer(ApiToken::new(TOKEN)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, parts, async move {
            let _ = stop_rx.await;
        }));
        let again: Value = client
            .post(format!("{base}/hooks/{task_id}"))
            .header(
                "x-hub-signature-256",
                github_signature(&WebhookSecret::new(secret), body.as_bytes()),
            )
            .header("x-github-delivery", "d-43")
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(again["execution_id"], first["execution_id"], "{again}");
        let calls = sim.admin().calls().total;
        assert_eq!(calls.get("Decrypt").copied(), Some(1), "{calls:?}");
        stop_tx.send(()).unwrap();
        server.await.unwrap().unwrap();
        sim.shutdown().await;
    }
}
