//! Image update tasks: what the Auto Scaling console calls an *image update task*.
//!
//! A task is a definition, not a run: take a custom image of a source ECS instance and put it
//! into one or more scaling configurations, executed now, once at a chosen minute, periodically
//! until it expires, or on an FC-style cron expression; with the account's own permissions or
//! those of a RAM role. Each run of a task is an execution.
//!
//! Tasks are stored as records that are only ever added (see [`crate::store`]):
//!
//! ```text
//! tasks/<task-id>/<seq>.json   seq 0 = created; then disabled / enabled / deleted (a tombstone)
//! ```
//!
//! Each record is a complete snapshot of the task; the record with the highest seq is the
//! current state. This module holds the spec and the record; `validation` holds
//! [`TaskSpec::validate`], which refuses what the console refuses, each refusal an
//! [`InvalidTask`] whose message starts with the name of the offending field; and
//! [`crate::store::tasks`] reads and writes the records.
//!
//! A record never holds a webhook secret in plaintext: the
//! [`TaskStore`](crate::store::tasks::TaskStore) seals each (the current one and a rotated-out
//! one) with its [`SecretSealer`](crate::secrets::SecretSealer) (KMS, or a local key file) for
//! the task's id before writing, and opens them only for a webhook's check. A record written before secrets were sealed is
//! still read, and its next edit seals it.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::model::PermissionSource;
use crate::secrets::SealedSecret;

/// What the console calls the configuration source: where the new image goes.
///
/// A task names scaling configurations (`scaling_configuration_ids`), scaling groups that
/// launch from a launch template (`scaling_group_ids`), or both; this says which the task is
/// chiefly about, and `launch_template` requires at least one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigurationSource {
    /// ESS scaling configurations (`asc-…`).
    #[default]
    ScalingConfiguration,
    /// Scaling groups whose instances launch from an ECS launch template (`asg-…`): the
    /// image goes into a new version of the template.
    LaunchTemplate,
}

/// When a task runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExecutedAt {
    /// Once, as soon as the task is created.
    Now,
    /// Once, at a chosen minute (seconds are dropped).
    Scheduled {
        /// The minute to run at, RFC 3339 with any offset (`2020-08-21T02:00:00+08:00`).
        at: DateTime<Utc>,
    },
    /// On a recurrence, at a time of day in a time zone, until it expires.
    Periodic(Periodic),
    /// On a Function Compute timer expression (see [`crate::aliyun::fc::timer::parse_cron`]).
    Cron {
        /// `0 0 4 * * *`, `CRON_TZ=Asia/Shanghai 0 0 4 1 * *` or `@every 5m`.
        expression: String,
        /// No run after this instant; none means the task never expires.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expired_at: Option<DateTime<Utc>>,
    },
}

impl ExecutedAt {
    /// The name of this kind, as in the JSON `kind` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Now => "now",
            Self::Scheduled { .. } => "scheduled",
            Self::Periodic(_) => "periodic",
            Self::Cron { .. } => "cron",
        }
    }
}

impl fmt::Display for ExecutedAt {
    /// A one-line description: `now`, `once at …`, `monthly on days 21-25 at 02:00:00
    /// Asia/Shanghai until …`, `cron "…"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stamp = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        match self {
            Self::Now => f.write_str("now"),
            Self::Scheduled { at } => write!(f, "once at {}", stamp(at)),
            Self::Periodic(p) => {
                match &p.recurrence {
                    Recurrence::Daily => f.write_str("daily")?,
                    Recurrence::Weekly { days } => {
                        let days: Vec<String> = days.iter().map(|d| d.to_string()).collect();
                        write!(f, "weekly on {}", days.join(","))?;
                    }
                    Recurrence::Monthly { from_day, to_day } => {
                        write!(f, "monthly on days {from_day}-{to_day}")?;
                    }
                }
                write!(
                    f,
                    " at {} {} until {}",
                    p.at,
                    p.time_zone,
                    stamp(&p.expired_at)
                )
            }
            Self::Cron {
                expression,
                expired_at,
            } => {
                write!(f, "cron {expression:?}")?;
                if let Some(t) = expired_at {
                    write!(f, " until {}", stamp(t))?;
                }
                Ok(())
            }
        }
    }
}

/// A periodic schedule as the console defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Periodic {
    /// Which days the task runs on.
    pub recurrence: Recurrence,
    /// The local time of day it runs at (`02:00:00`), in [`Periodic::time_zone`].
    pub at: NaiveTime,
    /// No run before this local date and time (default: from the task's creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<NaiveDateTime>,
    /// No run after this instant, RFC 3339 with any offset.
    pub expired_at: DateTime<Utc>,
    /// An IANA time zone name (`Asia/Shanghai`); `UTC` by default.
    #[serde(default = "utc_name")]
    pub time_zone: String,
}

fn utc_name() -> String {
    "UTC".to_owned()
}

/// The days a periodic task runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "every", rename_all = "snake_case")]
pub enum Recurrence {
    /// Every day.
    Daily,
    /// On the given days of the week (`["Mon", "Thu"]`).
    Weekly {
        /// At least one day.
        days: Vec<Weekday>,
    },
    /// On each day of the month from `from_day` to `to_day`, both included (21–25). A day
    /// the month does not have (31 in April) is skipped.
    Monthly {
        /// First day, 1–31.
        from_day: u32,
        /// Last day, `from_day`–31.
        to_day: u32,
    },
}

/// The shared secret that authenticates a task's CI webhook.
///
/// It is stored with the task (the HMAC needs it) but never shown: `Debug` prints
/// `<redacted>` and the HTTP API only says whether a task has one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret's bytes, for computing a MAC.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// A webhook secret as a task definition holds it: the secret itself as submitted (and in
/// records written before secrets were sealed), or sealed, as [`TaskStore`] writes every
/// record. In JSON, a string or a [`SealedSecret`] object.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StoredSecret {
    /// Sealed for the task (see [`crate::secrets`]).
    Sealed(SealedSecret),
    /// The secret itself.
    Plain(WebhookSecret),
}

impl From<WebhookSecret> for StoredSecret {
    fn from(secret: WebhookSecret) -> Self {
        Self::Plain(secret)
    }
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sealed(sealed) => f.debug_tuple("Sealed").field(sealed).finish(),
            Self::Plain(_) => f.write_str("Plain(<redacted>)"),
        }
    }
}

/// Everything that defines a task, as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// The ECS instance whose system disk becomes the image (`i-…`).
    pub source_instance_id: String,
    /// The custom image name; reimage derives one from the instance when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// Where the image goes.
    #[serde(default)]
    pub configuration_source: ConfigurationSource,
    /// The scaling configurations that receive the new image (`asc-…`).
    #[serde(default)]
    pub scaling_configuration_ids: Vec<String>,
    /// The scaling groups on a launch template that receive it (`asg-…`) as a new version
    /// of their template; with the configurations, at least one target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaling_group_ids: Vec<String>,
    /// Whether a group on its template's `Default` version may have the template's default
    /// changed, which changes it for every other user of the template (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_default_version_change: bool,
    /// When the task runs.
    pub executed_at: ExecutedAt,
    /// Whose permissions the executions use.
    pub permission: PermissionSource,
    /// The secret for `POST /hooks/<task-id>`; without one the task has no webhook. Given
    /// in plaintext, stored sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<StoredSecret>,
    /// The most runs webhooks may start in any hour ([`DEFAULT_WEBHOOK_RUNS_PER_HOUR`] when
    /// absent); beyond it a webhook is answered 429 with `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_runs_per_hour: Option<u32>,
    /// After this many runs in a row have failed, the task disables itself
    /// ([`DEFAULT_DISABLE_AFTER_FAILURES`] when absent; 0: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_after_failures: Option<u32>,
    /// A rolling update after each successful run: the running instances of the groups of
    /// the task's configurations (or of `group_id`) move onto the new image, with the task's
    /// permissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::rollout::RolloutOptions>,
    /// Whether the new image may have another platform (Ubuntu, CentOS, Windows Server …)
    /// than the image each configuration holds: refused by the pre-flight otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_platform_change: bool,
    /// How many of the images the task's runs made retention keeps (the deployment's
    /// default when absent): see [`crate::images`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<crate::images::Retention>,
    /// Who is told when a run or its rollout ends (besides the deployment's default
    /// targets): see [`crate::notify`]. Given as submitted, stored sealed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<crate::notify::StoredTarget>,
}

mod validation;

pub use validation::{
    DEFAULT_DISABLE_AFTER_FAILURES, DEFAULT_SECRET_OVERLAP, DEFAULT_WEBHOOK_RUNS_PER_HOUR,
    InvalidTask, MAX_DISABLE_AFTER_FAILURES, MAX_SCALING_CONFIGURATIONS, MAX_SECRET_OVERLAP,
    MAX_WEBHOOK_RUNS_PER_HOUR, MIN_WEBHOOK_SECRET, validate_image_name, validate_role_arn,
    validate_webhook_secret,
};

/// What an edit of a task did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskChange {
    /// The task was created (seq 0).
    Created,
    /// The scheduler and the webhook stop starting runs.
    Disabled,
    /// They start again.
    Enabled,
    /// The task is gone; this record is its tombstone.
    Deleted,
    /// The task disabled itself after too many runs in a row failed
    /// ([`TaskSpec::disable_after_failures`]); `disabled_reason` says which.
    DisabledAfterFailures,
    /// The webhook secret was replaced; the previous one stays valid for a while.
    WebhookSecretRotated,
}

/// A replaced webhook secret, still accepted until `valid_until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousWebhookSecret {
    /// The secret that was replaced (sealed, as the current one).
    pub secret: StoredSecret,
    /// After this instant only the current secret is accepted.
    pub valid_until: DateTime<Utc>,
}

/// One stored record of a task: a complete snapshot after one edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The task's id.
    pub task_id: String,
    /// 0 for the creation, then one more per edit.
    pub seq: u64,
    /// What this edit did.
    pub change: TaskChange,
    /// When this record was written.
    pub recorded_at: DateTime<Utc>,
    /// When the task was created (seq 0's `recorded_at`).
    pub created_at: DateTime<Utc>,
    /// Whether the scheduler and the webhook start runs.
    pub enabled: bool,
    /// The definition.
    pub spec: TaskSpec,
    /// The webhook secret the last rotation replaced, while it is still accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_webhook_secret: Option<PreviousWebhookSecret>,
    /// When the task was last enabled again (absent: since its creation): runs that started
    /// before do not count towards [`TaskSpec::disable_after_failures`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_since: Option<DateTime<Utc>>,
    /// Why the task disabled itself, while it stays disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
}

impl TaskRecord {
    /// Since when failed runs count towards disabling the task.
    pub fn failures_count_from(&self) -> DateTime<Utc> {
        self.enabled_since.unwrap_or(self.created_at)
    }

    /// Whether this record is a tombstone.
    pub fn is_deleted(&self) -> bool {
        self.change == TaskChange::Deleted
    }

    /// The webhook secrets accepted at `now`: the current one, then a replaced one during its
    /// overlap.
    /// They are sealed: [`TaskStore::webhook_secrets`] opens them.
    pub fn webhook_secrets(&self, now: DateTime<Utc>) -> Vec<&StoredSecret> {
        let mut out: Vec<&StoredSecret> = self.spec.webhook_secret.iter().collect();
        if let Some(previous) = &self.previous_webhook_secret {
            if now < previous.valid_until {
                out.push(&previous.secret);
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
