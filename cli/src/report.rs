//! How executions are shown: the console's Update Image Tasks tab as text, the same facts as
//! JSON for scripts, and the progress of a running execution.

use std::io::IsTerminal as _;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use reimage::model::{Failure, State, Step, StepEvent, StepRecord, Waiting};
use reimage::steps::Handled;
use serde::Serialize;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Output {
    /// For people.
    #[default]
    Text,
    /// JSON, for scripts.
    Json,
}

/// Prints a dry run of an image update (`run --dry-run`, `task run --dry-run`): the report
/// for people, or its JSON (the body `POST /tasks/{id}/runs?dry_run=true` answers). The exit
/// code is 0 when the run would go ahead, 1 otherwise, as `rollout start --dry-run`'s.
pub fn print_dry_run(
    report: &reimage::steps::DryRunReport,
    json: bool,
) -> anyhow::Result<std::process::ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(if report.would_run {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

/// One configuration of an execution: the image it held and the one it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigurationView {
    /// `asc-…`.
    pub configuration_id: String,
    /// `Active` or `Inactive`, when known (the demo asks the cloud; records do not keep it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_state: Option<String>,
    /// The image it held before the swap (known once swap-config has run).
    pub old_image_id: Option<String>,
    /// The image it holds now: the new image once swapped, unless the execution failed and
    /// put it back.
    pub new_image_id: Option<String>,
}

/// An execution as the Update Image Tasks tab shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecutionView {
    /// `exec-…`.
    pub execution_id: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// The step pending next, or the step that failed.
    pub step: Option<Step>,
    /// The source instance.
    pub instance_id: String,
    /// The new image's id, once created.
    pub image_id: Option<String>,
    /// The new image's name.
    pub image_name: String,
    /// The configurations, in request order.
    pub configurations: Vec<ConfigurationView>,
    /// The RAM role the calls were made with, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// When the execution started.
    pub started_at: DateTime<Utc>,
    /// When its latest record was written.
    pub updated_at: DateTime<Utc>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The configuration it waits for, held by another execution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<Waiting>,
    /// The newer execution that carries its request, if it was superseded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carried_by: Option<String>,
    /// The launch-template scaling groups, in request order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub template_groups: Vec<TemplateGroupView>,
}

/// A launch-template group as an execution's view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateGroupView {
    /// `asg-…`.
    pub scaling_group_id: String,
    /// Its template, once read.
    pub launch_template_id: Option<String>,
    /// The version it named (a number, `Default` or `Latest`) and the number that was.
    pub version: Option<String>,
    /// The image that version held.
    pub old_image_id: Option<String>,
    /// The image the group launches now.
    pub new_image_id: Option<String>,
}

impl ExecutionView {
    /// The view of an execution from its latest record.
    pub fn of(record: &StepRecord) -> Self {
        let learned = &record.learned;
        let swapped = learned.swapped_at.is_some();
        let succeeded = matches!(record.state, State::Succeeded);
        let configurations = record
            .request
            .configuration_ids
            .iter()
            .map(|id| {
                let old = learned
                    .previous_images
                    .as_ref()
                    .and_then(|p| p.iter().find(|p| &p.configuration_id == id))
                    .map(|p| p.image_id.clone());
                // Only a succeeded execution leaves the new image in place: a failure after
                // the swap puts the old images back.
                let new = if succeeded || (swapped && !record.state.is_terminal()) {
                    learned.image_id.clone()
                } else {
                    old.clone()
                };
                ConfigurationView {
                    configuration_id: id.clone(),
                    lifecycle_state: None,
                    old_image_id: old,
                    new_image_id: new,
                }
            })
            .collect();
        let template_groups = record
            .request
            .scaling_group_ids
            .iter()
            .map(|id| {
                let source = learned
                    .previous_templates
                    .iter()
                    .flatten()
                    .find(|p| &p.group_id == id);
                let old = source.map(|p| p.image_id.clone());
                let new = if succeeded || (swapped && !record.state.is_terminal()) {
                    learned.image_id.clone()
                } else {
                    old.clone()
                };
                TemplateGroupView {
                    scaling_group_id: id.clone(),
                    launch_template_id: source.map(|p| p.launch_template_id.clone()),
                    version: source.map(|p| {
                        if p.version == p.source_version.to_string() {
                            p.version.clone()
                        } else {
                            format!("{} (version {})", p.version, p.source_version)
                        }
                    }),
                    old_image_id: old,
                    new_image_id: new,
                }
            })
            .collect();
        let (step, failure) = match &record.state {
            State::Pending { step, .. } => (Some(*step), None),
            State::Succeeded | State::Superseded { .. } => (None, None),
            State::Failed(f) => (Some(f.step), Some(f.clone())),
        };
        let carried_by = match &record.state {
            State::Superseded { carried_by } => Some(carried_by.to_string()),
            _ => None,
        };
        Self {
            execution_id: record.execution_id.to_string(),
            status: record.state.status().to_owned(),
            step,
            instance_id: record.request.instance_id.clone(),
            image_id: learned.image_id.clone(),
            image_name: record.image_name.clone(),
            configurations,
            template_groups,
            role_arn: match &record.request.permission {
                reimage::model::PermissionSource::Account => None,
                reimage::model::PermissionSource::RamRole { role_arn } => Some(role_arn.clone()),
            },
            started_at: record.started_at,
            updated_at: record.written_at,
            failure,
            waiting_for: learned.waiting_for.clone(),
            carried_by,
        }
    }

    /// The status as the console words it.
    pub fn status_word(&self) -> &'static str {
        match self.status.as_str() {
            "succeeded" => "Succeeded",
            "failed" => "Failed",
            "superseded" => "Superseded",
            _ if self.waiting_for.is_some() => "Waiting",
            _ => "Running",
        }
    }

    /// The detailed text form: one execution, every configuration with old → new image.
    pub fn to_text(&self) -> String {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
        let mut out = String::new();
        let mut line = |k: &str, v: String| out.push_str(&format!("{k:<17}{v}\n"));
        line("Execution", self.execution_id.clone());
        let status = match (&self.step, self.status.as_str()) {
            (Some(step), "pending") => format!("{} ({step} next)", self.status_word()),
            _ => self.status_word().to_owned(),
        };
        line("Status", status);
        line("Source instance", self.instance_id.clone());
        line("New image", dash(&self.image_id));
        line("Image name", self.image_name.clone());
        if let Some(role) = &self.role_arn {
            line("RAM role", role.clone());
        }
        line("Started", time(self.started_at));
        line("Updated", time(self.updated_at));
        if let Some(failure) = &self.failure {
            line("Reason", failure.to_string());
        }
        if let Some(waiting) = &self.waiting_for {
            line(
                "Waiting for",
                format!(
                    "{}, held by execution {} (since {})",
                    waiting.configuration_id,
                    waiting.holder,
                    time(waiting.since)
                ),
            );
        }
        if let Some(carrier) = &self.carried_by {
            line(
                "Carried by",
                format!("execution {carrier}, a newer request"),
            );
        }
        out.push_str("Scaling configurations\n");
        let width = self
            .configurations
            .iter()
            .map(|c| c.configuration_id.len())
            .max()
            .unwrap_or(0);
        for c in &self.configurations {
            let state = c
                .lifecycle_state
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {:<width$}{state:<11} {} → {}\n",
                c.configuration_id,
                dash(&c.old_image_id),
                dash(&c.new_image_id),
            ));
        }
        if !self.template_groups.is_empty() {
            out.push_str("Launch-template scaling groups\n");
            for g in &self.template_groups {
                out.push_str(&format!(
                    "  {} {} {}  {} → {}\n",
                    g.scaling_group_id,
                    dash(&g.launch_template_id),
                    g.version.as_deref().unwrap_or("-"),
                    dash(&g.old_image_id),
                    dash(&g.new_image_id),
                ));
            }
        }
        out
    }
}

/// A UTC time as the tab shows it.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The executions as a table, one line each.
pub fn table(views: &[ExecutionView]) -> String {
    if views.is_empty() {
        return "no executions\n".to_owned();
    }
    let mut out = format!(
        "{:<38} {:<10} {:<13} {:<22} {:<24} {:>7}  {}\n",
        "EXECUTION", "STATUS", "STEP", "INSTANCE", "IMAGE", "CONFIGS", "STARTED"
    );
    for v in views {
        out.push_str(&format!(
            "{:<38} {:<10} {:<13} {:<22} {:<24} {:>7}  {}\n",
            v.execution_id,
            v.status_word(),
            v.step.map(|s| s.as_str()).unwrap_or("-"),
            v.instance_id,
            v.image_id.as_deref().unwrap_or("-"),
            v.configurations.len(),
            time(v.started_at),
        ));
    }
    out
}

/// What one handled event means, in a few words (`None` when nothing happened).
pub fn describe(event: &StepEvent, handled: &Handled) -> Option<String> {
    let Handled::Advanced(record) = handled else {
        return None;
    };
    let learned = &record.learned;
    let image = learned.image_id.as_deref().unwrap_or("-");
    let percent = learned
        .progress
        .map(|p| format!(" {p}%"))
        .unwrap_or_default();
    if let (State::Pending { .. }, Some(waiting)) = (&record.state, &learned.waiting_for) {
        return Some(format!(
            "waiting for {}, held by execution {}",
            waiting.configuration_id, waiting.holder
        ));
    }
    let text = match (&record.state, event.step) {
        (State::Failed(failure), _) => format!("failed: {failure}"),
        (State::Succeeded, _) => format!("every configuration holds {image}: verified"),
        (State::Superseded { carried_by }, _) => {
            format!("superseded: execution {carried_by} carries this request")
        }
        (State::Pending { step, .. }, _) if learned.retries > 0 && *step == event.step => {
            let error = learned
                .last_error
                .as_ref()
                .map(|e| format!("{}: {}", e.code, e.message))
                .unwrap_or_default();
            format!("retry {} after {error}", learned.retries)
        }
        (State::Pending { step, .. }, Step::CreateImage) if *step == Step::CreateImage => {
            let snapshot = learned.snapshot_id.as_deref().unwrap_or("-");
            format!("snapshot {snapshot} of the system disk{percent}")
        }
        (State::Pending { .. }, Step::CreateImage) => format!("image {image} requested"),
        (State::Pending { step, .. }, Step::WaitImage) if *step == Step::WaitImage => {
            format!("image {image} building{percent}")
        }
        (State::Pending { .. }, Step::WaitImage) => format!("image {image} is Available"),
        (State::Pending { step, .. }, Step::SwapConfig) if *step == Step::SwapConfig => {
            "current images recorded".to_owned()
        }
        (State::Pending { .. }, Step::SwapConfig) => format!(
            "{} configuration(s) now hold {image}",
            record.request.configuration_ids.len()
        ),
        (State::Pending { step, .. }, Step::Verify) => format!("{step} pending"),
    };
    Some(text)
}

/// Shows a running execution: a spinner per step on a terminal, plain lines otherwise.
#[derive(Debug)]
pub struct Progress {
    mode: Mode,
    current: Option<(Step, ProgressBar)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Spinners,
    Lines,
    Hidden,
}

impl Progress {
    /// Progress on stdout, with spinners if stdout is a terminal.
    pub fn stdout() -> Self {
        let mode = if std::io::stdout().is_terminal() {
            Mode::Spinners
        } else {
            Mode::Lines
        };
        Self {
            mode,
            current: None,
        }
    }

    /// No progress at all (JSON output, the benchmark).
    pub fn hidden() -> Self {
        Self {
            mode: Mode::Hidden,
            current: None,
        }
    }

    /// The execution started.
    pub fn started(&mut self, record: &StepRecord) {
        match self.mode {
            Mode::Hidden => {}
            Mode::Spinners => {
                self.begin(
                    Step::CreateImage,
                    "checking the instance and configurations",
                );
            }
            Mode::Lines => {
                println!(
                    "started {} for {} onto {}",
                    record.execution_id,
                    record.request.instance_id,
                    record.request.configuration_ids.join(", ")
                );
            }
        }
    }

    fn begin(&mut self, step: Step, message: &str) {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:<13} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(step.as_str());
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(100));
        self.current = Some((step, bar));
    }

    /// One event was handled.
    pub fn handled(&mut self, event: &StepEvent, handled: &Handled) {
        let Some(text) = describe(event, handled) else {
            return;
        };
        match self.mode {
            Mode::Hidden => return,
            Mode::Lines => {
                println!("{:<13} {text}", event.step.as_str());
                return;
            }
            Mode::Spinners => {}
        }
        let Handled::Advanced(record) = handled else {
            return;
        };
        let next = record.state.pending_step();
        match &mut self.current {
            Some((step, bar)) if *step == event.step => {
                if next == Some(event.step) {
                    bar.set_message(text);
                    return;
                }
                let mark = if matches!(record.state, State::Failed(_)) {
                    "✗"
                } else {
                    "✓"
                };
                bar.finish_with_message(format!("{mark} {text}"));
            }
            _ => {}
        }
        self.current = None;
        if let Some(step) = next {
            let image = record.learned.image_id.as_deref().unwrap_or("the image");
            let message = match step {
                Step::CreateImage => "snapshot of the system disk".to_owned(),
                Step::WaitImage => format!("waiting for {image} to be Available"),
                Step::SwapConfig => format!(
                    "putting {image} into {} configuration(s)",
                    record.request.configuration_ids.len()
                ),
                Step::Verify => "reading the configurations back".to_owned(),
            };
            self.begin(step, &message);
        }
    }

    /// The execution is over (or the driver stopped): no spinner keeps turning.
    pub fn finish(&mut self) {
        if let Some((_, bar)) = self.current.take() {
            bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reimage::model::{
        ExecutionId, Learned, PermissionSource, PreviousImage, State, StepRecord, UpdateRequest,
    };

    fn record(state: State, learned: Learned) -> StepRecord {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .expect("time")
            .with_timezone(&Utc);
        let first = StepRecord::first(
            ExecutionId::derived("view"),
            UpdateRequest {
                scaling_group_ids: Vec::new(),
                allow_default_version_change: false,
                instance_id: "i-1".into(),
                image_name: None,
                configuration_ids: vec!["asc-a".into(), "asc-b".into()],
                permission: PermissionSource::Account,
                task_id: None,
                rollout: None,
                allow_platform_change: false,
            },
            "UpdateImage_from_i-1".into(),
            t,
        );
        first.next(state, learned, t)
    }

    fn swapped() -> Learned {
        Learned {
            image_id: Some("m-new".into()),
            previous_images: Some(vec![
                PreviousImage {
                    configuration_id: "asc-a".into(),
                    image_id: "m-a".into(),
                },
                PreviousImage {
                    configuration_id: "asc-b".into(),
                    image_id: "m-b".into(),
                },
            ]),
            swapped_at: Some(
                DateTime::parse_from_rfc3339("2026-01-02T03:10:00Z")
                    .expect("time")
                    .with_timezone(&Utc),
            ),
            ..Learned::default()
        }
    }

    #[test]
    fn succeeded_execution_shows_old_to_new_per_configuration() {
        let view = ExecutionView::of(&record(State::Succeeded, swapped()));
        assert_eq!(view.status_word(), "Succeeded");
        assert_eq!(view.configurations[0].old_image_id.as_deref(), Some("m-a"));
        assert_eq!(
            view.configurations[1].new_image_id.as_deref(),
            Some("m-new")
        );
        let text = view.to_text();
        assert!(text.contains("asc-a"), "{text}");
        assert!(text.contains("m-a → m-new"), "{text}");
        assert!(text.contains("m-b → m-new"), "{text}");
    }

    #[test]
    fn failed_after_swap_shows_the_old_image_put_back() {
        let failure = Failure {
            step: Step::Verify,
            reason: "asc-b holds m-other".into(),
            cloud: None,
        };
        let view = ExecutionView::of(&record(State::Failed(failure), swapped()));
        assert_eq!(view.status_word(), "Failed");
        assert_eq!(view.configurations[0].new_image_id.as_deref(), Some("m-a"));
        assert!(view.to_text().contains("asc-b holds m-other"));
        let json = serde_json::to_value(&view).expect("json");
        assert_eq!(json["failure"]["step"], "verify");
    }

    #[test]
    fn progress_lines_say_what_each_step_did() {
        let event = StepEvent {
            execution_id: ExecutionId::derived("view"),
            step: Step::WaitImage,
            seq: 3,
        };
        let building = Learned {
            image_id: Some("m-new".into()),
            progress: Some(40),
            ..Learned::default()
        };
        let due = DateTime::parse_from_rfc3339("2026-01-02T03:05:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let pending = |step| State::Pending { step, due_at: due };
        let still = Handled::Advanced(Box::new(record(pending(Step::WaitImage), building.clone())));
        assert_eq!(
            describe(&event, &still).as_deref(),
            Some("image m-new building 40%")
        );
        let done = Handled::Advanced(Box::new(record(pending(Step::SwapConfig), building)));
        assert_eq!(
            describe(&event, &done).as_deref(),
            Some("image m-new is Available")
        );
        let ignored = Handled::LostRace;
        assert_eq!(describe(&event, &ignored), None);
    }
}
