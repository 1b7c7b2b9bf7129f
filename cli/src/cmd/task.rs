//! `reimage task create|list|show|enable|disable|delete|run`: image update tasks, over the
//! same store `reimage serve` and the functions use.
//!
//! Output is for people by default; `--output json` prints the HTTP API's JSON instead.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use chrono::{DateTime, NaiveDateTime, NaiveTime, Utc, Weekday};
use reimage::api::TaskView;
use reimage::clock::{SharedClock, SystemClock};
use reimage::ids::RandomIds;
use reimage::model::PermissionSource;
use reimage::model::task::{
    ExecutedAt, Periodic, Recurrence, TaskChange, TaskRecord, TaskSpec, WebhookSecret,
};
use reimage::settings::Env;
use reimage::store::tasks::{TaskStore, new_task_id};

use super::serve::{Output, Runtime};

/// Options of `reimage task`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: TaskCommand,
    /// The state directory of the default file store (else `REIMAGE_STATE_DIR`, `./.reimage`).
    #[arg(long, global = true)]
    state_dir: Option<PathBuf>,
    /// `text` for people, `json` for programs.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, clap::Subcommand)]
enum TaskCommand {
    /// Create a task (executed now, once, periodically or on a cron expression).
    Create(Box<CreateArgs>),
    /// List the live tasks.
    List,
    /// Show one task.
    Show {
        /// The task's id.
        id: String,
    },
    /// Let the scheduler and the webhook start runs again.
    Enable {
        /// The task's id.
        id: String,
    },
    /// Stop the scheduler and the webhook from starting runs.
    Disable {
        /// The task's id.
        id: String,
    },
    /// Delete a task (its records stay, ending in a tombstone).
    Delete {
        /// The task's id.
        id: String,
    },
    /// Run a task now, in this process, and wait for the outcome.
    Run {
        /// The task's id.
        id: String,
        /// Check everything the run would check and print what it would do, creating
        /// nothing (`POST /tasks/{id}/runs?dry_run=true`); exits 1 if it would not go ahead.
        #[arg(long)]
        dry_run: bool,
    },
    /// Replace a task's webhook secret; the previous one stays valid for an overlap.
    RotateSecret {
        /// The task's id.
        id: String,
        /// The name of an environment variable that holds the new secret.
        #[arg(long, value_name = "VAR")]
        webhook_secret_env: String,
        /// How many hours the previous secret stays valid (0 ends it now; at most 168).
        #[arg(long, value_name = "HOURS", default_value_t = 24)]
        overlap_hours: u32,
    },
}

/// How a task is defined on the command line. Without a schedule option it runs now.
#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The whole definition as JSON (the body of `POST /tasks`); the other options are ignored.
    #[arg(long, value_name = "FILE")]
    from_json: Option<PathBuf>,
    /// The source ECS instance (`i-…`).
    #[arg(long, required_unless_present = "from_json")]
    instance: Option<String>,
    /// A scaling configuration to update (`asc-…`); repeat for several.
    #[arg(
        long = "config",
        value_name = "ID",
        required_unless_present_any = ["from_json", "groups"]
    )]
    configs: Vec<String>,
    /// A scaling group whose instances launch from an ECS launch template (`asg-…`): the
    /// configuration source "launch template". Each run puts the image into a new version
    /// of the group's template (a copy of the version the group uses, only the image
    /// changed) and points the group at it: a group pinned to a number is moved to the new
    /// number, one on `Latest` follows by itself, one on `Default` needs
    /// --allow-default-version-change. Repeat for several; mixes with --config.
    #[arg(long = "group", value_name = "ID")]
    groups: Vec<String>,
    /// Let a group on its template's `Default` version move the template's default to the
    /// new version, which changes it for every other user of the template.
    #[arg(long)]
    allow_default_version_change: bool,
    /// The custom image name (reimage adds `_on_<execution>_at_<time>`).
    #[arg(long)]
    image_name: Option<String>,
    /// Run once at this minute (RFC 3339, e.g. 2026-01-01T02:00:00+08:00).
    #[arg(long, value_name = "TIME", conflicts_with_all = ["daily", "weekly", "monthly", "cron"])]
    at: Option<DateTime<Utc>>,
    /// Run every day.
    #[arg(long, conflicts_with_all = ["weekly", "monthly", "cron"])]
    daily: bool,
    /// Run on these days of the week (`Mon,Thu`).
    #[arg(long, value_name = "DAYS", value_delimiter = ',', conflicts_with_all = ["monthly", "cron"])]
    weekly: Option<Vec<Weekday>>,
    /// Run on this range of days of the month (`21-25`).
    #[arg(long, value_name = "FROM-TO", conflicts_with = "cron")]
    monthly: Option<String>,
    /// The time of day of a periodic task (`02:00` or `02:00:00`).
    #[arg(long, value_name = "HH:MM[:SS]")]
    time: Option<String>,
    /// The time zone of a periodic task (IANA name).
    #[arg(long, default_value = "UTC")]
    time_zone: String,
    /// No periodic run before this local date and time (`2026-01-01T00:00:00`).
    #[arg(long, value_name = "LOCAL TIME")]
    starts_at: Option<NaiveDateTime>,
    /// No run after this time (RFC 3339); required for periodic tasks.
    #[arg(long, value_name = "TIME")]
    expire: Option<DateTime<Utc>>,
    /// A Function Compute timer expression (`0 0 4 * * *`, `CRON_TZ=Asia/Shanghai 0 0 4 1 * *`,
    /// `@every 1h`).
    #[arg(long, value_name = "EXPR")]
    cron: Option<String>,
    /// The RAM role to assume (required for anything not run now).
    #[arg(long, value_name = "ARN")]
    role_arn: Option<String>,
    /// The name of an environment variable that holds the webhook secret (a secret on the
    /// command line would show in the process list).
    #[arg(long, value_name = "VAR")]
    webhook_secret_env: Option<String>,
    /// The most runs webhooks may start in any hour (default 6).
    #[arg(long, value_name = "N")]
    webhook_runs_per_hour: Option<u32>,
    /// After this many runs in a row have failed, the task disables itself (default 3; 0:
    /// never).
    #[arg(long, value_name = "N")]
    disable_after_failures: Option<u32>,
    /// After each successful run, a rolling update of the groups' running instances onto
    /// the new image: the options of `POST /rollouts` as JSON, without the image, e.g.
    /// '{"max_unavailable": "25%", "readiness_command": "curl -fsS localhost/healthz"}'.
    #[arg(long, value_name = "JSON")]
    rollout: Option<String>,
    /// Let the image have another platform (Ubuntu, CentOS, Windows Server …) than the
    /// images the configurations hold; the pre-flight refuses a change otherwise.
    #[arg(long)]
    allow_platform_change: bool,
    /// Retention keeps this many of the task's newest images (default 5).
    #[arg(long, value_name = "N")]
    keep: Option<u32>,
    /// Retention keeps any of the task's images younger than this many days (default 14).
    #[arg(long, value_name = "DAYS")]
    keep_days: Option<u32>,
    /// Who is told when a run or its rollout ends: a JSON file holding a list of targets
    /// (`dingtalk`, `lark`, `slack` or `https`; see the README's "Notifications"). The file
    /// holds credentials: it is read once, and the targets are stored sealed.
    #[arg(long, value_name = "FILE")]
    notify_file: Option<PathBuf>,
}

/// The targets in a `--notify-file`.
pub fn read_targets(path: &std::path::Path) -> anyhow::Result<Vec<reimage::notify::StoredTarget>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let targets: Vec<reimage::notify::Target> = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a JSON list of notification targets ({{\"kind\": \"slack\", \"webhook_url\": …}})",
            path.display()
        )
    })?;
    Ok(targets
        .into_iter()
        .map(reimage::notify::StoredTarget::Plain)
        .collect())
}

fn parse_time(text: &str) -> anyhow::Result<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .with_context(|| format!("--time {text:?}: expected HH:MM or HH:MM:SS"))
}

fn spec_from_args(args: &CreateArgs, env: &Env) -> anyhow::Result<TaskSpec> {
    if let Some(path) = &args.from_json {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        return serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a task definition", path.display()));
    }
    let recurrence = if args.daily {
        Some(Recurrence::Daily)
    } else if let Some(days) = &args.weekly {
        Some(Recurrence::Weekly { days: days.clone() })
    } else if let Some(range) = &args.monthly {
        let (from, to) = range.split_once('-').unwrap_or((range, range));
        let day = |s: &str| {
            s.trim()
                .parse::<u32>()
                .with_context(|| format!("--monthly {range:?}: expected FROM-TO, e.g. 21-25"))
        };
        Some(Recurrence::Monthly {
            from_day: day(from)?,
            to_day: day(to)?,
        })
    } else {
        None
    };
    let executed_at = if let Some(at) = args.at {
        ExecutedAt::Scheduled { at }
    } else if let Some(recurrence) = recurrence {
        let Some(time) = &args.time else {
            bail!("a periodic task needs --time HH:MM");
        };
        let Some(expired_at) = args.expire else {
            bail!("a periodic task needs --expire <RFC 3339 time>");
        };
        ExecutedAt::Periodic(Periodic {
            recurrence,
            at: parse_time(time)?,
            starts_at: args.starts_at,
            expired_at,
            time_zone: args.time_zone.clone(),
        })
    } else if let Some(expression) = &args.cron {
        ExecutedAt::Cron {
            expression: expression.clone(),
            expired_at: args.expire,
        }
    } else {
        ExecutedAt::Now
    };
    let permission = match &args.role_arn {
        Some(role_arn) => PermissionSource::RamRole {
            role_arn: role_arn.clone(),
        },
        None => PermissionSource::Account,
    };
    let webhook_secret =
        match &args.webhook_secret_env {
            Some(var) => Some(
                WebhookSecret::new(env.get(var).with_context(|| {
                    format!("--webhook-secret-env {var}: the variable is not set")
                })?)
                .into(),
            ),
            None => None,
        };
    let retention = (args.keep.is_some() || args.keep_days.is_some()).then(|| {
        let default = reimage::images::Retention::default();
        reimage::images::Retention {
            keep: args.keep.unwrap_or(default.keep),
            keep_days: args.keep_days.unwrap_or(default.keep_days),
        }
    });
    let notify = match &args.notify_file {
        Some(path) => read_targets(path)?,
        None => Vec::new(),
    };
    Ok(TaskSpec {
        scaling_group_ids: args.groups.clone(),
        allow_default_version_change: args.allow_default_version_change,
        notify,
        retention,
        source_instance_id: args.instance.clone().unwrap_or_default(),
        image_name: args.image_name.clone(),
        configuration_source: if args.configs.is_empty() && !args.groups.is_empty() {
            reimage::model::task::ConfigurationSource::LaunchTemplate
        } else {
            reimage::model::task::ConfigurationSource::ScalingConfiguration
        },
        scaling_configuration_ids: args.configs.clone(),
        executed_at,
        permission,
        webhook_secret,
        webhook_runs_per_hour: args.webhook_runs_per_hour,
        disable_after_failures: args.disable_after_failures,
        rollout: args
            .rollout
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .context("--rollout is not the JSON of a rollout's options")?,
        allow_platform_change: args.allow_platform_change,
    })
}

fn print_task(record: &TaskRecord, now: DateTime<Utc>, output: Output) -> anyhow::Result<()> {
    print!("{}", render_view(&TaskView::new(record, now), output)?);
    Ok(())
}

/// A task as `show` prints it; the webhook secret never appears.
#[cfg(test)]
fn render_task(record: &TaskRecord, now: DateTime<Utc>, output: Output) -> anyhow::Result<String> {
    render_view(&TaskView::new(record, now), output)
}

/// A task's view as `show` prints it, with its health when it was read.
fn render_view(view: &TaskView, output: Output) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    match output {
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(view)?)?,
        Output::Text => {
            let permission = match &view.spec.permission {
                PermissionSource::Account => "the account's own".to_owned(),
                PermissionSource::RamRole { role_arn } => format!("RAM role {role_arn}"),
            };
            writeln!(out, "task            {}", view.task_id)?;
            writeln!(
                out,
                "state           {} (record {}, {})",
                if view.enabled { "enabled" } else { "disabled" },
                view.seq,
                view.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
            )?;
            writeln!(out, "executed at     {}", view.spec.executed_at)?;
            if let Some(next) = view.next_run_at {
                writeln!(
                    out,
                    "next run        {}",
                    next.format("%Y-%m-%d %H:%M:%S UTC")
                )?;
            }
            writeln!(out, "source instance {}", view.spec.source_instance_id)?;
            if let Some(name) = &view.spec.image_name {
                writeln!(out, "image name      {name}")?;
            }
            if !view.spec.scaling_configuration_ids.is_empty() {
                writeln!(
                    out,
                    "configurations  {}",
                    view.spec.scaling_configuration_ids.join(", ")
                )?;
            }
            if !view.spec.scaling_group_ids.is_empty() {
                writeln!(
                    out,
                    "template groups {}{}",
                    view.spec.scaling_group_ids.join(", "),
                    if view.spec.allow_default_version_change {
                        " (may move a template's default version)"
                    } else {
                        ""
                    }
                )?;
            }
            writeln!(out, "permissions     {permission}")?;
            let webhook = if view.webhook {
                format!(
                    "POST /hooks/{} (at most {} runs an hour)",
                    view.task_id,
                    view.spec.webhook_runs_per_hour()
                )
            } else {
                "none".into()
            };
            writeln!(out, "webhook         {webhook}")?;
            if let Some(until) = view.previous_webhook_secret_valid_until {
                writeln!(
                    out,
                    "previous secret valid until {}",
                    until.format("%Y-%m-%d %H:%M:%S UTC")
                )?;
            }
            if let Some(reason) = &view.disabled_reason {
                writeln!(out, "disabled itself {reason}")?;
            }
            for (n, target) in view.notify.iter().enumerate() {
                let label = if n == 0 { "notify" } else { "" };
                writeln!(out, "{label:<15} {} {}", target.kind, target.url)?;
            }
            if let Some(health) = &view.health {
                let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
                let last = health.last_run.as_ref().map_or("none".to_owned(), |run| {
                    format!(
                        "{} {} ({})",
                        run.execution_id,
                        run.status,
                        at(run.started_at)
                    )
                });
                writeln!(out, "last run        {last}")?;
                writeln!(
                    out,
                    "last success    {}",
                    health.last_success_at.map_or("none".to_owned(), at)
                )?;
                let threshold = match view.spec.disable_after_failures() {
                    0 => "never disables itself".to_owned(),
                    n => format!("disables itself at {n}"),
                };
                writeln!(
                    out,
                    "failures        {} in a row ({threshold})",
                    health.consecutive_failures
                )?;
            }
            for notice in &view.undelivered {
                writeln!(
                    out,
                    "undelivered     {} {}: {} after {} attempt(s){}",
                    notice.kind,
                    notice.url,
                    notice.status.replace('_', " "),
                    notice.attempts,
                    notice
                        .last_error
                        .as_deref()
                        .map(|e| format!(", last: {e}"))
                        .unwrap_or_default()
                )?;
            }
        }
    }
    Ok(out)
}

/// `task list` as text: a line a task, with its next run and what its recent runs say.
fn render_list(views: &[TaskView]) -> String {
    use std::fmt::Write as _;
    if views.is_empty() {
        return "no tasks\n".into();
    }
    let minute = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let mut out = format!(
        "{:<42} {:<8} {:<20} {:<30} {:<20} {:<8} {}\n",
        "TASK", "STATE", "NEXT RUN", "LAST RUN", "LAST SUCCESS", "FAILURES", "SCHEDULE"
    );
    for view in views {
        let health = view.health.clone().unwrap_or_default();
        let last_run = health.last_run.as_ref().map_or("-".to_owned(), |run| {
            format!("{} {}", run.status, minute(run.started_at))
        });
        let _ = writeln!(
            out,
            "{:<42} {:<8} {:<20} {:<30} {:<20} {:<8} {}",
            view.task_id,
            if view.enabled { "enabled" } else { "disabled" },
            view.next_run_at.map_or("-".into(), minute),
            last_run,
            health.last_success_at.map_or("-".into(), minute),
            health.consecutive_failures,
            view.spec.executed_at
        );
    }
    out
}

/// Runs `reimage task …`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = Env::from_process();
    let clock: SharedClock = Arc::new(SystemClock);
    let tokio = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    tokio.block_on(run_with(args, env, clock))
}

/// `reimage task` with the environment and clock given (tests pin both).
pub async fn run_with(args: Args, env: Env, clock: SharedClock) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::open(&env, args.state_dir.as_deref(), clock.clone())?;
    let tasks = TaskStore::new(runtime.store.clone()).with_sealer(runtime.sealer.clone());
    let now = clock.now();
    match &args.command {
        TaskCommand::Create(create) => {
            let spec = spec_from_args(create, &env)?;
            spec.validate(now)?;
            let id = new_task_id(&RandomIds);
            let record = tasks.create(&id, spec, now).await?;
            print_task(&record, now, args.output)?;
            if matches!(record.spec.executed_at, ExecutedAt::Now) && args.output == Output::Text {
                println!(
                    "\nIt runs at the next tick of `reimage serve`; or now, here: reimage task run {id}"
                );
            }
        }
        TaskCommand::List => {
            let records = tasks.list().await?;
            let mut views = Vec::with_capacity(records.len());
            for record in &records {
                views.push(TaskView::with_health(record, now, tasks.store()).await?);
            }
            match args.output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&views)?),
                Output::Text => print!("{}", render_list(&views)),
            }
        }
        TaskCommand::Show { id } => {
            let view = TaskView::with_health(&tasks.get(id).await?, now, tasks.store()).await?;
            print!("{}", render_view(&view, args.output)?);
        }
        TaskCommand::Enable { id } => {
            print_task(
                &tasks.change(id, TaskChange::Enabled, now).await?,
                now,
                args.output,
            )?;
        }
        TaskCommand::Disable { id } => {
            print_task(
                &tasks.change(id, TaskChange::Disabled, now).await?,
                now,
                args.output,
            )?;
        }
        TaskCommand::Delete { id } => {
            let record = tasks.change(id, TaskChange::Deleted, now).await?;
            match args.output {
                Output::Json => println!(
                    "{}",
                    serde_json::json!({"task_id": record.task_id, "deleted": true, "seq": record.seq})
                ),
                Output::Text => println!("deleted {}", record.task_id),
            }
        }
        TaskCommand::RotateSecret {
            id,
            webhook_secret_env,
            overlap_hours,
        } => {
            let secret = WebhookSecret::new(env.get(webhook_secret_env).with_context(|| {
                format!("--webhook-secret-env {webhook_secret_env}: the variable is not set")
            })?);
            reimage::model::task::validate_webhook_secret(&secret)?;
            let overlap = chrono::Duration::hours(i64::from(*overlap_hours));
            if overlap > reimage::model::task::MAX_SECRET_OVERLAP {
                bail!("--overlap-hours {overlap_hours}: at most 168 hours (7 days)");
            }
            print_task(
                &tasks
                    .rotate_webhook_secret(id, secret, overlap, now)
                    .await?,
                now,
                args.output,
            )?;
        }
        TaskCommand::Run { id, dry_run } => {
            let record = tasks.get(id).await?;
            let clouds = super::serve::cloud_provider(&env, clock.clone())?;
            if *dry_run {
                let report = reimage::steps::dry_run::check(
                    clouds.as_ref(),
                    &reimage::schedule::update_request(&record),
                    reimage::model::ExecutionId::random(&RandomIds),
                    now,
                )
                .await;
                return crate::report::print_dry_run(&report, args.output == Output::Json);
            }
            return runtime.run_task_here(&record, clouds, args.output).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use clap::Parser;
    use reimage::clock::ManualClock;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Args {
        Cli::try_parse_from(std::iter::once("task").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 8, 1, 0, 0, 0).unwrap()
    }

    fn create_args(argv: &[&str]) -> CreateArgs {
        let mut full = vec!["create"];
        full.extend_from_slice(argv);
        match parse(&full).command {
            TaskCommand::Create(create) => *create,
            other => panic!("not create: {other:?}"),
        }
    }

    #[test]
    fn the_console_example_from_the_command_line() {
        let args = create_args(&[
            "--instance",
            "i-source",
            "--config",
            "asc-a",
            "--config",
            "asc-b",
            "--monthly",
            "21-25",
            "--time",
            "02:00",
            "--time-zone",
            "Asia/Shanghai",
            "--expire",
            "2020-08-26T00:00:00+08:00",
            "--role-arn",
            "acs:ram::123456789012:role/reimage-tasks",
            "--webhook-secret-env",
            "HOOK_SECRET",
        ]);
        let env = Env::from_pairs([("HOOK_SECRET", "a-secret-of-twenty-chars")]);
        let spec = spec_from_args(&args, &env).unwrap();
        spec.validate(now()).unwrap();
        assert_eq!(spec.scaling_configuration_ids, ["asc-a", "asc-b"]);
        let ExecutedAt::Periodic(p) = &spec.executed_at else {
            panic!("not periodic: {:?}", spec.executed_at);
        };
        assert_eq!(
            p.recurrence,
            Recurrence::Monthly {
                from_day: 21,
                to_day: 25
            }
        );
        assert_eq!(p.at, NaiveTime::from_hms_opt(2, 0, 0).unwrap());
        assert_eq!(
            spec.webhook_secret,
            Some(WebhookSecret::new("a-secret-of-twenty-chars").into())
        );
    }

    #[test]
    fn schedules_from_flags_and_what_is_missing() {
        let now_task = spec_from_args(
            &create_args(&["--instance", "i-a", "--config", "asc-a"]),
            &Env::default(),
        )
        .unwrap();
        assert_eq!(now_task.executed_at, ExecutedAt::Now);
        assert_eq!(now_task.permission, PermissionSource::Account);
        let cron = spec_from_args(
            &create_args(&[
                "--instance",
                "i-a",
                "--config",
                "asc-a",
                "--cron",
                "0 0 4 * * *",
            ]),
            &Env::default(),
        )
        .unwrap();
        assert!(matches!(cron.executed_at, ExecutedAt::Cron { .. }));
        let err = spec_from_args(
            &create_args(&["--instance", "i-a", "--config", "asc-a", "--daily"]),
            &Env::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--time"), "{err}");
        let err = spec_from_args(
            &create_args(&[
                "--instance",
                "i-a",
                "--config",
                "asc-a",
                "--webhook-secret-env",
                "NOPE",
            ]),
            &Env::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("NOPE"), "{err}");
        assert!(
            Cli::try_parse_from([
                "task",
                "create",
                "--instance",
                "i-a",
                "--config",
                "asc-a",
                "--daily",
                "--cron",
                "x"
            ])
            .is_err()
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_webhook_secret_is_sealed_under_a_key_file_created_beside_the_state_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let shared: SharedClock = Arc::new(ManualClock::new(now()));
        let env = Env::from_pairs([
            ("REIMAGE_STATE_DIR", state.to_str().unwrap()),
            ("CI_HOOK_SECRET", "hook-secret-from-the-environment"),
        ]);
        let create = parse(&[
            "create",
            "--instance",
            "i-a",
            "--config",
            "asc-a",
            "--webhook-secret-env",
            "CI_HOOK_SECRET",
        ]);
        run_with(create, env.clone(), shared.clone()).await.unwrap();
        let key = dir.path().join("state.key");
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut files = vec![state.clone()];
        let mut seen = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains("hook-secret-from-the-environment"),
                    "{path:?}: {text}"
                );
                seen += 1;
            }
        }
        assert!(seen > 0);
        // The next process opens it with the same key file.
        let runtime = Runtime::open(&env, None, shared.clone()).unwrap();
        let tasks = TaskStore::new(runtime.store.clone()).with_sealer(runtime.sealer.clone());
        let record = tasks.list().await.unwrap().remove(0);
        assert_eq!(
            tasks.webhook_secret(&record).await.unwrap(),
            Some(WebhookSecret::new("hook-secret-from-the-environment"))
        );
    }

    #[tokio::test]
    async fn a_rate_limit_at_creation_and_a_secret_rotated_from_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().to_str().unwrap().to_owned();
        let clock = ManualClock::new(now());
        let shared: SharedClock = Arc::new(clock.clone());
        let env = Env::from_pairs([
            ("REIMAGE_STATE_DIR", state.as_str()),
            ("OLD", "the-first-secret-0123456789"),
            ("NEW", "the-second-secret-0123456789"),
            ("SHORT", "short"),
        ]);
        let create = parse(&[
            "create",
            "--instance",
            "i-a",
            "--config",
            "asc-a",
            "--cron",
            "@every 1h",
            "--role-arn",
            "acs:ram::1:role/r",
            "--webhook-secret-env",
            "OLD",
            "--webhook-runs-per-hour",
            "2",
        ]);
        run_with(create, env.clone(), shared.clone()).await.unwrap();
        let runtime = Runtime::open(&env, None, shared.clone()).unwrap();
        let tasks = TaskStore::new(runtime.store).with_sealer(runtime.sealer);
        let created = tasks.list().await.unwrap().remove(0);
        assert_eq!(created.spec.webhook_runs_per_hour(), 2);
        assert!(
            render_task(&created, now(), Output::Text)
                .unwrap()
                .contains("at most 2 runs an hour")
        );
        let id = created.task_id.clone();
        let rotate = parse(&[
            "rotate-secret",
            &id,
            "--webhook-secret-env",
            "NEW",
            "--overlap-hours",
            "2",
        ]);
        run_with(rotate, env.clone(), shared.clone()).await.unwrap();
        let rotated = tasks.get(&id).await.unwrap();
        let secrets = tasks.webhook_secrets(&rotated, now()).await.unwrap();
        let secrets: Vec<&[u8]> = secrets.iter().map(|s| s.expose()).collect();
        assert_eq!(
            secrets,
            [
                b"the-second-secret-0123456789".as_slice(),
                b"the-first-secret-0123456789".as_slice()
            ]
        );
        assert_eq!(
            rotated
                .webhook_secrets(now() + chrono::Duration::hours(2))
                .len(),
            1
        );
        let shown = render_task(&rotated, now(), Output::Text).unwrap();
        assert!(
            shown.contains("previous secret valid until 2020-08-01 02:00:00 UTC"),
            "{shown}"
        );
        assert!(!shown.contains("secret-0123456789"), "{shown}");
        // A secret too short, or an overlap too long, is refused and writes nothing.
        for argv in [
            ["rotate-secret", &id, "--webhook-secret-env", "SHORT"].as_slice(),
            [
                "rotate-secret",
                &id,
                "--webhook-secret-env",
                "NEW",
                "--overlap-hours",
                "169",
            ]
            .as_slice(),
        ] {
            assert!(
                run_with(parse(argv), env.clone(), shared.clone())
                    .await
                    .is_err()
            );
        }
        assert_eq!(tasks.get(&id).await.unwrap().seq, rotated.seq);
    }

    #[tokio::test]
    async fn create_disable_enable_delete_over_the_file_store() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().to_str().unwrap().to_owned();
        let clock = ManualClock::new(now());
        let shared: SharedClock = Arc::new(clock.clone());
        let env = Env::from_pairs([("REIMAGE_STATE_DIR", state.as_str())]);
        let create = parse(&[
            "create",
            "--instance",
            "i-a",
            "--config",
            "asc-a",
            "--daily",
            "--time",
            "02:00",
            "--expire",
            "2020-09-01T00:00:00Z",
            "--role-arn",
            "acs:ram::1:role/r",
        ]);
        run_with(create, env.clone(), shared.clone()).await.unwrap();
        let tasks = TaskStore::new(Runtime::open(&env, None, shared.clone()).unwrap().store);
        let listed = tasks.list().await.unwrap();
        assert_eq!(listed.len(), 1);
        let id = listed[0].task_id.clone();
        for (verb, enabled) in [("disable", false), ("enable", true)] {
            run_with(parse(&[verb, &id]), env.clone(), shared.clone())
                .await
                .unwrap();
            assert_eq!(tasks.get(&id).await.unwrap().enabled, enabled);
        }
        run_with(parse(&["delete", &id]), env.clone(), shared.clone())
            .await
            .unwrap();
        assert!(tasks.list().await.unwrap().is_empty());
        let err = run_with(parse(&["show", &id]), env.clone(), shared.clone())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not found"), "{err}");
        // A refused definition writes nothing and says which field is wrong.
        let bad = parse(&[
            "create",
            "--instance",
            "i-a",
            "--config",
            "asc-a",
            "--cron",
            "0 4 * * *",
            "--role-arn",
            "acs:ram::1:role/r",
        ]);
        let err = run_with(bad, env.clone(), shared).await.unwrap_err();
        assert!(
            err.to_string().starts_with("executed_at.expression"),
            "{err}"
        );
        assert_eq!(tasks.store().list("tasks/").await.unwrap().len(), 4);
    }

    #[test]
    fn show_never_prints_the_webhook_secret() {
        let args = create_args(&[
            "--instance",
            "i-a",
            "--config",
            "asc-a",
            "--webhook-secret-env",
            "S",
        ]);
        let spec =
            spec_from_args(&args, &Env::from_pairs([("S", "very-secret-hook-value")])).unwrap();
        let record = TaskRecord {
            task_id: "task-1".into(),
            seq: 0,
            change: TaskChange::Created,
            recorded_at: now(),
            created_at: now(),
            enabled: true,
            spec,
            previous_webhook_secret: None,
            enabled_since: None,
            disabled_reason: None,
        };
        for output in [Output::Text, Output::Json] {
            let shown = render_task(&record, now(), output).unwrap();
            assert!(!shown.contains("very-secret-hook-value"), "{shown}");
            assert!(shown.contains("task-1"));
        }
        assert!(
            render_task(&record, now(), Output::Text)
                .unwrap()
                .contains("POST /hooks/task-1")
        );
    }

    #[tokio::test]
    async fn run_here_drives_the_execution_to_its_end() {
        use reimage::steps::SameCloud;
        use reimage::steps::testing::FakeCloud;
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(now());
        let shared: SharedClock = Arc::new(clock.clone());
        let env = Env::from_pairs([("REIMAGE_STATE_DIR", dir.path().to_str().unwrap())]);
        let runtime = Runtime::open(&env, None, shared.clone()).unwrap();
        let tasks = TaskStore::new(runtime.store.clone());
        let spec = spec_from_args(
            &create_args(&["--instance", "i-running", "--config", "asc-active"]),
            &Env::default(),
        )
        .unwrap();
        let record = tasks.create("task-here", spec, now()).await.unwrap();
        let fake = FakeCloud::demo(shared.clone(), std::time::Duration::from_secs(600));
        let code = runtime
            .run_task_here(&record, Arc::new(SameCloud(fake.clone())), Output::Json)
            .await
            .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        assert_eq!(fake.state().images_created(), 1);
        let runs = reimage::schedule::task_runs(&runtime.store, "task-here")
            .await
            .unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].trigger, reimage::schedule::Trigger::Manual);
        // An instance that cannot be imaged ends in failure, and the exit code says so.
        let spec = spec_from_args(
            &create_args(&["--instance", "i-starting", "--config", "asc-active"]),
            &Env::default(),
        )
        .unwrap();
        let record = tasks.create("task-bad", spec, now()).await.unwrap();
        let code = runtime
            .run_task_here(&record, Arc::new(SameCloud(fake)), Output::Json)
            .await
            .unwrap();
        assert_eq!(code, ExitCode::FAILURE);
    }
}
