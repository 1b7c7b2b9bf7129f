//! The notice: what ran, how it ended, why, and what changed — and its text rendering.
//!
//! A [`Notice`] is built once when an execution or a rollout ends (or pauses for approval)
//! and rendered the same way for every target: [`Notice::title`] is one short line,
//! [`Notice::summary`] a few lines of plain text that read well both raw and as Markdown
//! (a `- ` list). Its JSON form is the body of the generic HTTPS target.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::model::ExecutionId;
use crate::rollout::RolloutId;

/// The longest one-line cause or cloud message a notice shows, in characters; longer text is
/// cut with `…` so that a chat message stays short.
pub const MAX_LINE_CHARS: usize = 300;

/// What ran: an execution (an image update) or a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Subject {
    /// An image update (`exec-…`).
    Execution(ExecutionId),
    /// A rolling update of a group's instances (`ro-…`).
    Rollout(RolloutId),
}

impl Subject {
    /// `execution` or `rollout`.
    pub fn noun(&self) -> &'static str {
        match self {
            Self::Execution(_) => "execution",
            Self::Rollout(_) => "rollout",
        }
    }

    /// The id as text.
    pub fn id(&self) -> &str {
        match self {
            Self::Execution(id) => id.as_str(),
            Self::Rollout(id) => id.as_str(),
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything was done and verified.
    Succeeded,
    /// It stopped on an error and nothing had to be undone (or undoing failed too).
    Failed,
    /// It failed and what it had changed was put back.
    RolledBack,
    /// It is paused until someone approves the next step.
    AwaitsApproval,
}

impl Outcome {
    /// The words used in a title: `succeeded`, `failed`, `rolled back`, `awaits approval`.
    pub fn as_words(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::RolledBack => "rolled back",
            Self::AwaitsApproval => "awaits approval",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_words())
    }
}

/// Why a run did not succeed, in one line; when the cloud refused something, its error
/// `Code` and `Message` are kept apart so that a reader (or a filter) can match on the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    /// One line, e.g. `creating the image failed`.
    pub summary: String,
    /// The cloud's error code, e.g. `InvalidInstanceId.NotFound`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_code: Option<String>,
    /// The cloud's error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_message: Option<String>,
}

impl Cause {
    /// A cause reimage itself found.
    pub fn new(summary: impl Into<String>) -> Self {
        Self {
            summary: summary.into(),
            cloud_code: None,
            cloud_message: None,
        }
    }

    /// A cause the cloud reported with `code` and `message`.
    pub fn cloud(
        summary: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            summary: summary.into(),
            cloud_code: Some(code.into()),
            cloud_message: Some(message.into()),
        }
    }

    /// The cause as one line: `summary (cloud: Code: Message)`.
    pub fn line(&self) -> String {
        let mut out = one_line(&self.summary);
        match (&self.cloud_code, &self.cloud_message) {
            (Some(code), Some(message)) => {
                out.push_str(&format!(
                    " (cloud: {}: {})",
                    one_line(code),
                    one_line(message)
                ));
            }
            (Some(code), None) => out.push_str(&format!(" (cloud: {})", one_line(code))),
            (None, Some(message)) => out.push_str(&format!(" (cloud: {})", one_line(message))),
            (None, None) => {}
        }
        out
    }
}

/// One scaling configuration's image, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageChange {
    /// The scaling configuration (`asc-…`).
    pub scaling_configuration_id: String,
    /// The image it had; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_image_id: Option<String>,
    /// The image it has now (or would have had, when the run did not succeed).
    pub new_image_id: String,
}

/// Everything a notification says about one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// What ran.
    pub subject: Subject,
    /// The task that started it, if any (a manual run has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why, when it did not succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// The image made or rolled out (`m-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// That image's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// Each configuration's old → new image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ImageChange>,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it ended (or paused).
    pub ended_at: DateTime<Utc>,
    /// Where to see the run, e.g. the execution's page in the API.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "optional_url"
    )]
    pub link: Option<Url>,
    /// Why the task disabled itself after this run, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_disabled: Option<String>,
}

impl Notice {
    /// One line: `reimage: execution exec-… failed`.
    pub fn title(&self) -> String {
        let mut title = format!(
            "reimage: {} {} {}",
            self.subject.noun(),
            self.subject.id(),
            self.outcome
        );
        if let (Some(_), Some(task)) = (&self.task_disabled, &self.task_id) {
            title.push_str(&format!("; task {} disabled", one_line(task)));
        }
        title
    }

    /// How long the run took, never negative.
    pub fn duration(&self) -> chrono::Duration {
        (self.ended_at - self.started_at).max(chrono::Duration::zero())
    }

    /// A few lines, each `- Label: value`, plain text that is also a Markdown list. Every
    /// value is on one line; the title is not repeated.
    pub fn summary(&self) -> String {
        let mut lines = Vec::new();
        if let Some(task) = &self.task_id {
            lines.push(format!("- Task: {}", one_line(task)));
        }
        if let Some(cause) = &self.cause {
            lines.push(format!("- Cause: {}", cause.line()));
        }
        if let Some(reason) = &self.task_disabled {
            lines.push(format!("- Task disabled: {}", one_line(reason)));
        }
        match (&self.image_id, &self.image_name) {
            (Some(id), Some(name)) => {
                lines.push(format!("- Image: {} ({})", one_line(id), one_line(name)))
            }
            (Some(id), None) => lines.push(format!("- Image: {}", one_line(id))),
            (None, Some(name)) => lines.push(format!("- Image: {}", one_line(name))),
            (None, None) => {}
        }
        for change in &self.changes {
            lines.push(format!(
                "- {}: {} → {}",
                one_line(&change.scaling_configuration_id),
                change.old_image_id.as_deref().map_or("?".into(), one_line),
                one_line(&change.new_image_id),
            ));
        }
        lines.push(format!(
            "- Time: {} → {} ({})",
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.ended_at.format("%Y-%m-%d %H:%M:%S UTC"),
            human_duration(self.duration()),
        ));
        if let Some(link) = &self.link {
            lines.push(format!("- Link: {link}"));
        }
        lines.join("\n")
    }
}

/// `Option<Url>` as an optional JSON string (the workspace builds `url` without serde).
mod optional_url {
    use serde::{Deserialize, Deserializer, Serializer};
    use url::Url;

    pub fn serialize<S: Serializer>(url: &Option<Url>, out: S) -> Result<S::Ok, S::Error> {
        match url {
            Some(url) => out.serialize_str(url.as_str()),
            None => out.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Option<Url>, D::Error> {
        Option::<String>::deserialize(input)?
            .map(|text| Url::parse(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// `text` on one line: control characters (newlines included) become spaces, runs of
/// whitespace collapse, and more than [`MAX_LINE_CHARS`] characters are cut with `…`.
pub fn one_line(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapsed = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > MAX_LINE_CHARS {
        let mut cut: String = collapsed.chars().take(MAX_LINE_CHARS - 1).collect();
        cut.push('…');
        cut
    } else {
        collapsed
    }
}

/// `1h 2m 3s`, `4m 5s`, `6s`.
fn human_duration(duration: chrono::Duration) -> String {
    let total = duration.num_seconds().max(0);
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A failed, rolled-back execution with every field filled.
    pub(crate) fn sample() -> Notice {
        Notice {
            subject: Subject::Execution(
                ExecutionId::parse("exec-0123456789abcdef0123456789abcdef").unwrap(),
            ),
            task_id: Some("nightly-web".into()),
            outcome: Outcome::RolledBack,
            cause: Some(Cause::cloud(
                "verifying the scaling configuration failed",
                "InvalidImageId.NotFound",
                "The specified image does not exist.\nRequestId: 42",
            )),
            image_id: Some("m-new1".into()),
            image_name: Some("web-2026-11-29".into()),
            changes: vec![
                ImageChange {
                    scaling_configuration_id: "asc-a".into(),
                    old_image_id: Some("m-old-a".into()),
                    new_image_id: "m-new1".into(),
                },
                ImageChange {
                    scaling_configuration_id: "asc-b".into(),
                    old_image_id: None,
                    new_image_id: "m-new1".into(),
                },
            ],
            started_at: Utc.with_ymd_and_hms(2026, 11, 29, 19, 0, 0).unwrap(),
            ended_at: Utc.with_ymd_and_hms(2026, 11, 29, 20, 2, 3).unwrap(),
            link: Some(
                Url::parse(
                    "https://reimage.example.com/executions/exec-0123456789abcdef0123456789abcdef",
                )
                .unwrap(),
            ),
            task_disabled: None,
        }
    }

    #[test]
    fn the_title_names_the_run_and_its_outcome() {
        assert_eq!(
            sample().title(),
            "reimage: execution exec-0123456789abcdef0123456789abcdef rolled back"
        );
        let mut notice = sample();
        notice.subject = Subject::Rollout(RolloutId::derived("x"));
        notice.outcome = Outcome::AwaitsApproval;
        let title = notice.title();
        assert!(title.starts_with("reimage: rollout ro-"), "{title}");
        assert!(title.ends_with(" awaits approval"), "{title}");
    }

    #[test]
    fn the_summary_shows_cause_cloud_code_changes_time_and_link() {
        let summary = sample().summary();
        assert_eq!(
            summary,
            "- Task: nightly-web\n\
             - Cause: verifying the scaling configuration failed (cloud: InvalidImageId.NotFound: The specified image does not exist. RequestId: 42)\n\
             - Image: m-new1 (web-2026-11-29)\n\
             - asc-a: m-old-a → m-new1\n\
             - asc-b: ? → m-new1\n\
             - Time: 2026-11-29 19:00:00 UTC → 2026-11-29 20:02:03 UTC (1h 2m 3s)\n\
             - Link: https://reimage.example.com/executions/exec-0123456789abcdef0123456789abcdef"
        );
    }

    #[test]
    fn a_success_has_no_cause_line() {
        let mut notice = sample();
        notice.outcome = Outcome::Succeeded;
        notice.cause = None;
        notice.task_id = None;
        notice.link = None;
        let summary = notice.summary();
        assert!(!summary.contains("Cause"), "{summary}");
        assert!(!summary.contains("Task"), "{summary}");
        assert!(summary.contains("- asc-a: m-old-a → m-new1"), "{summary}");
    }

    #[test]
    fn every_value_stays_on_one_line_and_short() {
        let mut notice = sample();
        notice.cause = Some(Cause::new(format!(
            "bad\r\n- Fake: line{}",
            "x".repeat(1000)
        )));
        let summary = notice.summary();
        let cause = summary.lines().find(|l| l.starts_with("- Cause:")).unwrap();
        assert!(cause.starts_with("- Cause: bad - Fake: line"), "{cause}");
        assert!(cause.ends_with('…'));
        assert_eq!(cause.chars().count(), "- Cause: ".len() + MAX_LINE_CHARS);
        assert!(!summary.lines().any(|l| l.starts_with("- Fake")));
    }

    #[test]
    fn durations_read_naturally_and_never_go_negative() {
        let mut notice = sample();
        notice.ended_at = notice.started_at + chrono::Duration::seconds(65);
        assert!(notice.summary().contains("(1m 5s)"));
        notice.ended_at = notice.started_at - chrono::Duration::seconds(5);
        assert!(notice.summary().contains("(0s)"));
    }

    #[test]
    fn the_json_form_is_stable_and_round_trips() {
        let notice = sample();
        let value = serde_json::to_value(&notice).unwrap();
        assert_eq!(value["subject"]["kind"], "execution");
        assert_eq!(
            value["subject"]["id"],
            "exec-0123456789abcdef0123456789abcdef"
        );
        assert_eq!(value["outcome"], "rolled_back");
        assert_eq!(value["cause"]["cloud_code"], "InvalidImageId.NotFound");
        assert_eq!(value["changes"][0]["old_image_id"], "m-old-a");
        assert_eq!(value["started_at"], "2026-11-29T19:00:00Z");
        let back: Notice = serde_json::from_value(value).unwrap();
        assert_eq!(back, notice);
    }
}
