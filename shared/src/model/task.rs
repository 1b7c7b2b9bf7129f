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
//! current state. [`TaskSpec::validate`] refuses what the console refuses, each refusal an
//! [`InvalidTask`] whose message starts with the name of the offending field.
//!
//! A record never holds a webhook secret in plaintext: [`TaskStore`] seals each (the current
//! one and a rotated-out one) with its [`SecretSealer`](crate::secrets::SecretSealer) (KMS, or
//! a local key file) for the task's id before writing, and opens them only for a webhook's
//! check ([`TaskStore::webhook_secrets`]). A record written before secrets were sealed is
//! still read, and its next edit seals it.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::model::PermissionSource;
use crate::model::execution::ExecutionId;
use crate::model::naming::{self, NameError};
use crate::model::schedule::Schedule;
use crate::model::validate;
use crate::secrets::SealedSecret;

/// What the console calls the configuration source: where the new image goes.
///
/// The console offers scaling configurations; launch templates are not supported by reimage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigurationSource {
    /// ESS scaling configurations (`asc-…`).
    #[default]
    ScalingConfiguration,
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
    /// On a Function Compute timer expression (see [`crate::schedule::parse_cron`]).
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
    /// The scaling configurations that receive the new image (`asc-…`), at least one.
    pub scaling_configuration_ids: Vec<String>,
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
}

/// Why a task definition was refused. Each message starts with the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTask {
    /// The source instance id is not an ECS instance id.
    #[error(
        "source_instance_id: {0:?} is not an ECS instance id (i- followed by letters and digits)"
    )]
    SourceInstance(String),
    /// No scaling configuration was named.
    #[error("scaling_configuration_ids: name at least one scaling configuration")]
    NoScalingConfigurations,
    /// A scaling configuration id is malformed.
    #[error(
        "scaling_configuration_ids: {0:?} is not a scaling configuration id (asc- followed by letters and digits)"
    )]
    ScalingConfiguration(String),
    /// A scaling configuration is named twice.
    #[error("scaling_configuration_ids: {0:?} is named more than once")]
    DuplicateScalingConfiguration(String),
    /// More scaling configurations than one task may update.
    #[error("scaling_configuration_ids: at most {max} scaling configurations per task, got {got}")]
    TooManyScalingConfigurations {
        /// The limit.
        max: usize,
        /// How many were named.
        got: usize,
    },
    /// An image name ECS would reject.
    #[error("image_name: {name:?} {reason}")]
    ImageName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Scheduled, periodic and cron tasks run unattended, so they must name a RAM role.
    #[error(
        "permission: a {kind} task must name a RAM role to assume; the account's own permissions are only for tasks executed now"
    )]
    RoleRequired {
        /// `scheduled`, `periodic` or `cron`.
        kind: &'static str,
    },
    /// The role ARN is not of the form `acs:ram::<account-id>:role/<role-name>`.
    #[error(
        "permission.role_arn: {0:?} is not a RAM role ARN (acs:ram::<account-id>:role/<role-name>)"
    )]
    RoleArn(String),
    /// A scheduled time in the past.
    #[error("executed_at.at: {at} is in the past (now is {now})")]
    InThePast {
        /// The requested minute.
        at: DateTime<Utc>,
        /// The time of the check.
        now: DateTime<Utc>,
    },
    /// An expiry that has already passed.
    #[error("executed_at.expired_at: {expired_at} is in the past (now is {now})")]
    ExpiredInThePast {
        /// The requested expiry.
        expired_at: DateTime<Utc>,
        /// The time of the check.
        now: DateTime<Utc>,
    },
    /// An expiry before the start.
    #[error("executed_at.expired_at: {expired_at} is before the start {start}")]
    ExpiryBeforeStart {
        /// The requested expiry.
        expired_at: DateTime<Utc>,
        /// The start.
        start: DateTime<Utc>,
    },
    /// A schedule that would never run before it expires.
    #[error("executed_at.expired_at: the schedule has no run between {start} and {expired_at}")]
    NeverRuns {
        /// The start.
        start: DateTime<Utc>,
        /// The expiry.
        expired_at: DateTime<Utc>,
    },
    /// A weekly recurrence without days.
    #[error("executed_at.recurrence.days: name at least one day of the week")]
    NoWeekdays,
    /// A monthly day range that is empty or outside 1–31.
    #[error("executed_at.recurrence: day range {from_day}–{to_day} {reason}")]
    DayRange {
        /// First day.
        from_day: u32,
        /// Last day.
        to_day: u32,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A time zone chrono-tz does not know.
    #[error("executed_at.time_zone: {0:?} is not a known IANA time zone (such as Asia/Shanghai)")]
    TimeZone(String),
    /// A starts_at that does not exist in the task's time zone.
    #[error("executed_at.starts_at: {0} does not exist in the task's time zone")]
    StartsAt(NaiveDateTime),
    /// A cron expression that does not parse.
    #[error("executed_at.expression: {expression:?}: {reason}")]
    Cron {
        /// The expression as given.
        expression: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A webhook secret too short to be a secret.
    #[error("webhook_secret: must be at least {min} characters")]
    WebhookSecret {
        /// The minimum length.
        min: usize,
    },
    /// A webhook rate limit outside the accepted range.
    #[error(
        "webhook_runs_per_hour: {0} is not between 1 and {MAX_WEBHOOK_RUNS_PER_HOUR} (leave it \
         out for the default of {DEFAULT_WEBHOOK_RUNS_PER_HOUR})"
    )]
    WebhookRunsPerHour(u32),
    /// A sealed form given where the secret itself is expected.
    #[error("webhook_secret: give the secret itself (a string), not a sealed form")]
    SealedWebhookSecret,
}

impl InvalidTask {
    /// The field this refusal is about (the part of the message before the colon).
    pub fn field(&self) -> String {
        let message = self.to_string();
        message
            .split_once(':')
            .map_or(message.clone(), |(field, _)| field.to_owned())
    }
}

/// The most scaling configurations one task may update (UNCONFIRMED console limit; the
/// console's own form caps the list, the exact number is not documented).
pub const MAX_SCALING_CONFIGURATIONS: usize = 10;

/// The shortest webhook secret accepted.
pub const MIN_WEBHOOK_SECRET: usize = 16;

/// How many runs webhooks may start per hour when a task does not say.
pub const DEFAULT_WEBHOOK_RUNS_PER_HOUR: u32 = 6;

/// The highest per-task webhook rate limit accepted.
pub const MAX_WEBHOOK_RUNS_PER_HOUR: u32 = 3600;

/// How long a replaced webhook secret stays valid when a rotation does not say.
pub const DEFAULT_SECRET_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// The longest overlap a rotation may give the replaced secret.
pub const MAX_SECRET_OVERLAP: chrono::Duration = chrono::Duration::days(7);

impl TaskSpec {
    /// Checks the task as the console does, at time `now`, and compiles its schedule.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<Schedule, InvalidTask> {
        if validate::instance_id(&self.source_instance_id).is_err() {
            return Err(InvalidTask::SourceInstance(self.source_instance_id.clone()));
        }
        if let Some(name) = &self.image_name {
            validate_image_name(name, now)?;
        }
        if self.scaling_configuration_ids.is_empty() {
            return Err(InvalidTask::NoScalingConfigurations);
        }
        if self.scaling_configuration_ids.len() > MAX_SCALING_CONFIGURATIONS {
            return Err(InvalidTask::TooManyScalingConfigurations {
                max: MAX_SCALING_CONFIGURATIONS,
                got: self.scaling_configuration_ids.len(),
            });
        }
        for (i, id) in self.scaling_configuration_ids.iter().enumerate() {
            if validate::configuration_id(id).is_err() {
                return Err(InvalidTask::ScalingConfiguration(id.clone()));
            }
            if self.scaling_configuration_ids[..i].contains(id) {
                return Err(InvalidTask::DuplicateScalingConfiguration(id.clone()));
            }
        }
        match &self.permission {
            PermissionSource::Account => {
                if !matches!(self.executed_at, ExecutedAt::Now) {
                    return Err(InvalidTask::RoleRequired {
                        kind: self.executed_at.kind(),
                    });
                }
            }
            PermissionSource::RamRole { role_arn } => validate_role_arn(role_arn)?,
        }
        match &self.webhook_secret {
            Some(StoredSecret::Plain(secret)) => validate_webhook_secret(secret)?,
            Some(StoredSecret::Sealed(_)) => return Err(InvalidTask::SealedWebhookSecret),
            None => {}
        }
        if let Some(limit) = self.webhook_runs_per_hour {
            if !(1..=MAX_WEBHOOK_RUNS_PER_HOUR).contains(&limit) {
                return Err(InvalidTask::WebhookRunsPerHour(limit));
            }
        }
        let schedule = Schedule::compile(&self.executed_at)?;
        schedule.validate_at(now)?;
        Ok(schedule)
    }

    /// How many runs webhooks may start per hour.
    pub fn webhook_runs_per_hour(&self) -> u32 {
        self.webhook_runs_per_hour
            .unwrap_or(DEFAULT_WEBHOOK_RUNS_PER_HOUR)
    }
}

/// Checks a webhook secret: at least [`MIN_WEBHOOK_SECRET`] characters.
pub fn validate_webhook_secret(secret: &WebhookSecret) -> Result<(), InvalidTask> {
    if secret.0.chars().count() < MIN_WEBHOOK_SECRET {
        return Err(InvalidTask::WebhookSecret {
            min: MIN_WEBHOOK_SECRET,
        });
    }
    Ok(())
}

/// Checks a given image name: ECS's rules for `ImageName` (see [`naming`]), with room for
/// the `_on_<execution-id>_at_<time>` suffix every execution adds.
pub fn validate_image_name(name: &str, now: DateTime<Utc>) -> Result<(), InvalidTask> {
    let probe = ExecutionId::derived("image-name-check");
    naming::image_name("i-check", Some(name), &probe, now)
        .map(|_| ())
        .map_err(|err| InvalidTask::ImageName {
            name: name.to_owned(),
            reason: match err {
                NameError::Illegal { reason, .. } => reason,
                NameError::TooLongForSuffix { max, .. } => format!(
                    "is too long: reimage appends `_on_<execution-id>_at_<time>`, so a given \
                     name may be at most {max} characters"
                ),
            },
        })
}

/// Checks a RAM role ARN with the rule every entry point uses ([`validate::role_arn`]).
pub fn validate_role_arn(arn: &str) -> Result<(), InvalidTask> {
    validate::role_arn(arn).map_err(|_| InvalidTask::RoleArn(arn.to_owned()))
}

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
}

impl TaskRecord {
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
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    use std::sync::Arc;

    use crate::secrets::SealError;
    use crate::store::SharedStore;
    use crate::store::tasks::{TaskStore, TaskStoreError, task_key};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 8, 1, 0, 0, 0).unwrap()
    }

    fn role() -> PermissionSource {
        PermissionSource::RamRole {
            role_arn: "acs:ram::123456789012:role/reimage-updater".into(),
        }
    }

    fn periodic(recurrence: Recurrence) -> Periodic {
        Periodic {
            recurrence,
            at: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
            starts_at: None,
            expired_at: Utc.with_ymd_and_hms(2020, 8, 25, 16, 0, 0).unwrap(),
            time_zone: "Asia/Shanghai".into(),
        }
    }

    fn valid() -> TaskSpec {
        TaskSpec {
            source_instance_id: "i-bp1abc".into(),
            image_name: Some("web-golden".into()),
            configuration_source: ConfigurationSource::ScalingConfiguration,
            scaling_configuration_ids: vec!["asc-one".into(), "asc-two".into()],
            executed_at: ExecutedAt::Periodic(periodic(Recurrence::Monthly {
                from_day: 21,
                to_day: 25,
            })),
            permission: role(),
            webhook_secret: Some(WebhookSecret::new("0123456789abcdef").into()),
            webhook_runs_per_hour: None,
        }
    }

    /// Applies `edit` to a valid spec and returns the refusal's field and message.
    fn refusal(edit: impl FnOnce(&mut TaskSpec)) -> (String, String) {
        let mut spec = valid();
        edit(&mut spec);
        let err = spec
            .validate(now())
            .expect_err("the spec should be refused");
        (err.field(), err.to_string())
    }

    #[test]
    fn the_console_example_is_valid() {
        valid().validate(now()).unwrap();
    }

    #[test]
    fn every_refusal_names_its_field() {
        type Edit = Box<dyn FnOnce(&mut TaskSpec)>;
        let cases: Vec<(&str, &str, Edit)> = vec![
            (
                "source_instance_id",
                "not an ECS instance id",
                Box::new(|s| s.source_instance_id = "bp1abc".into()),
            ),
            (
                "scaling_configuration_ids",
                "at least one",
                Box::new(|s| s.scaling_configuration_ids.clear()),
            ),
            (
                "scaling_configuration_ids",
                "\"asg-1\" is not a scaling configuration id",
                Box::new(|s| s.scaling_configuration_ids = vec!["asg-1".into()]),
            ),
            (
                "scaling_configuration_ids",
                "more than once",
                Box::new(|s| s.scaling_configuration_ids = vec!["asc-a".into(), "asc-a".into()]),
            ),
            (
                "scaling_configuration_ids",
                "at most 10",
                Box::new(|s| {
                    s.scaling_configuration_ids = (0..11).map(|i| format!("asc-{i}")).collect()
                }),
            ),
            (
                "image_name",
                "must start with a letter",
                Box::new(|s| s.image_name = Some("1web".into())),
            ),
            (
                "image_name",
                "shorter than 2",
                Box::new(|s| s.image_name = Some("w".into())),
            ),
            (
                "image_name",
                "at most 63 characters",
                Box::new(|s| s.image_name = Some("w".repeat(64))),
            ),
            (
                "image_name",
                "http://",
                Box::new(|s| s.image_name = Some("https-x".replace('-', "://"))),
            ),
            (
                "image_name",
                "only letters, digits",
                Box::new(|s| s.image_name = Some("web golden".into())),
            ),
            (
                "image_name",
                "only letters, digits",
                Box::new(|s| s.image_name = Some("web.golden".into())),
            ),
            (
                "permission",
                "periodic task must name a RAM role",
                Box::new(|s| s.permission = PermissionSource::Account),
            ),
            (
                "permission",
                "scheduled task must name a RAM role",
                Box::new(|s| {
                    s.permission = PermissionSource::Account;
                    s.executed_at = ExecutedAt::Scheduled {
                        at: now() + chrono::Duration::hours(1),
                    };
                }),
            ),
            (
                "permission",
                "cron task must name a RAM role",
                Box::new(|s| {
                    s.permission = PermissionSource::Account;
                    s.executed_at = ExecutedAt::Cron {
                        expression: "0 0 4 * * *".into(),
                        expired_at: None,
                    };
                }),
            ),
            (
                "permission.role_arn",
                "not a RAM role ARN",
                Box::new(|s| {
                    s.permission = PermissionSource::RamRole {
                        role_arn: "acs:ram::12ab:role/x".into(),
                    }
                }),
            ),
            (
                "permission.role_arn",
                "not a RAM role ARN",
                Box::new(|s| {
                    s.permission = PermissionSource::RamRole {
                        role_arn: "arn:aws:iam::1:role/x".into(),
                    }
                }),
            ),
            (
                "executed_at.at",
                "in the past",
                Box::new(|s| {
                    s.executed_at = ExecutedAt::Scheduled {
                        at: now() - chrono::Duration::minutes(1),
                    }
                }),
            ),
            (
                "executed_at.expired_at",
                "in the past",
                Box::new(|s| {
                    let mut p = periodic(Recurrence::Daily);
                    p.expired_at = now() - chrono::Duration::days(1);
                    s.executed_at = ExecutedAt::Periodic(p);
                }),
            ),
            (
                "executed_at.expired_at",
                "before the start",
                Box::new(|s| {
                    let mut p = periodic(Recurrence::Daily);
                    p.starts_at = Some(
                        NaiveDate::from_ymd_opt(2020, 9, 1)
                            .unwrap()
                            .and_hms_opt(0, 0, 0)
                            .unwrap(),
                    );
                    s.executed_at = ExecutedAt::Periodic(p);
                }),
            ),
            (
                "executed_at.expired_at",
                "has no run",
                Box::new(|s| {
                    s.executed_at = ExecutedAt::Periodic(periodic(Recurrence::Monthly {
                        from_day: 27,
                        to_day: 28,
                    }));
                }),
            ),
            (
                "executed_at.recurrence",
                "is empty",
                Box::new(|s| {
                    s.executed_at = ExecutedAt::Periodic(periodic(Recurrence::Monthly {
                        from_day: 25,
                        to_day: 21,
                    }));
                }),
            ),
            (
                "executed_at.recurrence",
                "is impossible",
                Box::new(|s| {
                    s.executed_at = ExecutedAt::Periodic(periodic(Recurrence::Monthly {
                        from_day: 0,
                        to_day: 3,
                    }));
                }),
            ),
            (
                "executed_at.recurrence",
                "is impossible",
                Box::new(|s| {
                    s.executed_at = ExecutedAt::Periodic(periodic(Recurrence::Monthly {
                        from_day: 30,
                        to_day: 32,
                    }));
                }),
            ),
            (
                "webhook_runs_per_hour",
                "not between 1 and 3600",
                Box::new(|s| s.webhook_runs_per_hour = Some(0)),
            ),
            (
                "webhook_runs_per_hour",
                "not between 1 and 3600",
                Box::new(|s| s.webhook_runs_per_hour = Some(3601)),
            ),
            (
                "executed_at.recurrence.days",
                "at least one day",
                Box::new(|s| {
                    s.executed_at =
                        ExecutedAt::Periodic(periodic(Recurrence::Weekly { days: vec![] }));
                }),
            ),
            (
                "executed_at.time_zone",
                "\"Mars/Olympus\"",
                Box::new(|s| {
                    let mut p = periodic(Recurrence::Daily);
                    p.time_zone = "Mars/Olympus".into();
                    s.executed_at = ExecutedAt::Periodic(p);
                }),
            ),
            (
                "executed_at.expression",
                "expected 6 fields",
                Box::new(|s| {
                    s.executed_at = ExecutedAt::Cron {
                        expression: "0 4 * * *".into(),
                        expired_at: None,
                    };
                }),
            ),
            (
                "executed_at.expression",
                "unknown time zone",
                Box::new(|s| {
                    s.executed_at = ExecutedAt::Cron {
                        expression: "CRON_TZ=Nowhere 0 0 4 * * *".into(),
                        expired_at: None,
                    };
                }),
            ),
            (
                "webhook_secret",
                "at least 16",
                Box::new(|s| s.webhook_secret = Some(WebhookSecret::new("short").into())),
            ),
        ];
        for (field, fragment, edit) in cases {
            let (got_field, message) = refusal(edit);
            assert_eq!(got_field, field, "{message}");
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
    }

    #[test]
    fn account_permissions_are_fine_for_now() {
        let mut spec = valid();
        spec.permission = PermissionSource::Account;
        spec.executed_at = ExecutedAt::Now;
        spec.validate(now()).unwrap();
    }

    #[test]
    fn image_names_ecs_accepts() {
        for name in ["ab", "web-golden_2024:01", &"w".repeat(63)] {
            validate_image_name(name, now()).unwrap();
        }
    }

    #[test]
    fn the_json_form_round_trips_and_reads_as_documented() {
        let json = r#"{
            "source_instance_id": "i-bp1abc",
            "scaling_configuration_ids": ["asc-one"],
            "executed_at": {"kind": "periodic", "recurrence": {"every": "weekly", "days": ["Mon", "fri"]},
                            "at": "02:00:00", "expired_at": "2020-08-26T00:00:00+08:00",
                            "time_zone": "Asia/Shanghai"},
            "permission": {"kind": "ram_role", "role_arn": "acs:ram::123456789012:role/reimage"}
        }"#;
        let spec: TaskSpec = serde_json::from_str(json).unwrap();
        let ExecutedAt::Periodic(p) = &spec.executed_at else {
            panic!("not periodic");
        };
        assert_eq!(
            p.expired_at,
            Utc.with_ymd_and_hms(2020, 8, 25, 16, 0, 0).unwrap()
        );
        assert_eq!(
            p.recurrence,
            Recurrence::Weekly {
                days: vec![Weekday::Mon, Weekday::Fri]
            }
        );
        let back: TaskSpec = serde_json::from_slice(&serde_json::to_vec(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
        assert!(serde_json::from_str::<TaskSpec>(&json.replace("\"at\"", "\"att\"")).is_err());
    }

    #[test]
    fn webhook_secret_never_shows_in_debug_output() {
        let spec = valid();
        let shown = format!("{spec:?}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[tokio::test]
    async fn each_edit_is_a_new_record_and_the_highest_seq_is_current() {
        let store: SharedStore = std::sync::Arc::new(crate::store::memory::MemoryStore::new());
        let tasks = sealing(store.clone());
        tasks.create("t1", valid(), now()).await.unwrap();
        assert!(matches!(
            tasks.create("t1", valid(), now()).await,
            Err(TaskStoreError::AlreadyExists(_))
        ));
        let later = now() + chrono::Duration::minutes(5);
        assert!(
            !tasks
                .change("t1", TaskChange::Disabled, later)
                .await
                .unwrap()
                .enabled
        );
        // Disabling a disabled task writes nothing.
        tasks
            .change("t1", TaskChange::Disabled, later)
            .await
            .unwrap();
        let enabled = tasks
            .change("t1", TaskChange::Enabled, later)
            .await
            .unwrap();
        assert_eq!((enabled.seq, enabled.enabled), (2, true));
        assert_eq!(tasks.get("t1").await.unwrap(), enabled);
        tasks.create("t2", valid(), now()).await.unwrap();
        let listed: Vec<_> = tasks
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.task_id)
            .collect();
        assert_eq!(listed, ["t1", "t2"]);
        let tombstone = tasks
            .change("t1", TaskChange::Deleted, later)
            .await
            .unwrap();
        assert_eq!(tombstone.seq, 3);
        assert!(matches!(
            tasks.get("t1").await,
            Err(TaskStoreError::NotFound(_))
        ));
        assert!(matches!(
            tasks.change("t1", TaskChange::Enabled, later).await,
            Err(TaskStoreError::NotFound(_))
        ));
        assert_eq!(tasks.list().await.unwrap().len(), 1);
        let keys = store.list("tasks/t1/").await.unwrap();
        assert_eq!(keys.len(), 4);
        assert_eq!(keys[3], "tasks/t1/0000000003.json");
    }

    #[tokio::test]
    async fn records_past_seq_nine_still_sort_by_number() {
        let store: SharedStore = std::sync::Arc::new(crate::store::memory::MemoryStore::new());
        let tasks = sealing(store);
        tasks.create("t1", valid(), now()).await.unwrap();
        for i in 0..12 {
            let change = if i % 2 == 0 {
                TaskChange::Disabled
            } else {
                TaskChange::Enabled
            };
            tasks.change("t1", change, now()).await.unwrap();
        }
        let current = tasks.get("t1").await.unwrap();
        assert_eq!((current.seq, current.enabled), (12, true));
    }

    #[tokio::test]
    async fn a_rotated_secret_keeps_the_old_one_for_the_overlap_only() {
        let store: SharedStore = std::sync::Arc::new(crate::store::memory::MemoryStore::new());
        let tasks = sealing(store.clone());
        let created = tasks.create("t1", valid(), now()).await.unwrap();
        assert_eq!(created.webhook_secrets(now()).len(), 1);
        let new = WebhookSecret::new("fedcba9876543210-new");
        let rotated = tasks
            .rotate_webhook_secret("t1", new.clone(), chrono::Duration::hours(24), now())
            .await
            .unwrap();
        assert_eq!(
            (rotated.seq, rotated.change),
            (1, TaskChange::WebhookSecretRotated)
        );
        let old = WebhookSecret::new("0123456789abcdef");
        let just_before = now() + chrono::Duration::hours(24) - chrono::Duration::seconds(1);
        assert_eq!(
            tasks.webhook_secrets(&rotated, just_before).await.unwrap(),
            [new.clone(), old.clone()]
        );
        assert_eq!(
            tasks
                .webhook_secrets(&rotated, now() + chrono::Duration::hours(24))
                .await
                .unwrap(),
            vec![new.clone()]
        );
        // Both are sealed on disk.
        let text = raw(&store, &task_key("t1", 1)).await;
        assert!(
            !text.contains("fedcba9876543210") && !text.contains("0123456789abcdef"),
            "{text}"
        );
        // Read back from the store (by another process), the previous secret is still there.
        let fresh = sealing(store.clone());
        let read = fresh.get("t1").await.unwrap();
        assert_eq!(read, rotated);
        assert_eq!(
            fresh.webhook_secrets(&read, just_before).await.unwrap(),
            [new.clone(), old.clone()]
        );
        // An enable/disable keeps the overlap; a zero overlap ends it.
        let disabled = tasks
            .change("t1", TaskChange::Disabled, now())
            .await
            .unwrap();
        assert_eq!(disabled.webhook_secrets(now()).len(), 2);
        let newer = WebhookSecret::new("0000111122223333-newer");
        let rotated = tasks
            .rotate_webhook_secret("t1", newer.clone(), chrono::Duration::zero(), now())
            .await
            .unwrap();
        assert_eq!(
            tasks.webhook_secrets(&rotated, now()).await.unwrap(),
            vec![newer]
        );
        // The secret never shows in the record's Debug output.
        let shown = format!("{rotated:?}");
        assert!(
            !shown.contains("newer") && !shown.contains("fedcba"),
            "{shown}"
        );
    }

    #[test]
    fn a_record_written_before_rotation_and_rate_limits_still_reads() {
        let old = serde_json::json!({
            "task_id": "t1", "seq": 0, "change": "created",
            "recorded_at": "2020-08-01T00:00:00Z", "created_at": "2020-08-01T00:00:00Z",
            "enabled": true,
            "spec": serde_json::to_value(TaskSpec { webhook_runs_per_hour: None, ..valid() }).unwrap()
        });
        let record: TaskRecord = serde_json::from_value(old).unwrap();
        assert_eq!(record.previous_webhook_secret, None);
        assert_eq!(
            record.spec.webhook_runs_per_hour(),
            DEFAULT_WEBHOOK_RUNS_PER_HOUR
        );
    }
    fn sealing(store: SharedStore) -> TaskStore {
        TaskStore::new(store).with_sealer(Some(Arc::new(crate::secrets::LocalSealer::with_key(
            [3; crate::secrets::KEY_LEN],
        ))))
    }

    async fn raw(store: &SharedStore, key: &str) -> String {
        String::from_utf8(store.get(key).await.unwrap().expect("the record exists")).unwrap()
    }

    #[tokio::test]
    async fn records_hold_the_webhook_secret_sealed_only() {
        let store: SharedStore = Arc::new(crate::store::memory::MemoryStore::new());
        let tasks = sealing(store.clone());
        let created = tasks.create("t1", valid(), now()).await.unwrap();
        assert!(matches!(
            created.spec.webhook_secret,
            Some(StoredSecret::Sealed(_))
        ));
        let disabled = tasks
            .change("t1", TaskChange::Disabled, now())
            .await
            .unwrap();
        for seq in 0..=1 {
            let text = raw(&store, &task_key("t1", seq)).await;
            assert!(!text.contains("0123456789abcdef"), "{text}");
            assert!(text.contains("\"sealed_with\": \"local\""), "{text}");
        }
        // A fresh store (another process) opens it through the sealer, not from memory.
        let other = sealing(store.clone());
        let record = other.get("t1").await.unwrap();
        assert_eq!(record, disabled);
        assert_eq!(
            other.webhook_secret(&record).await.unwrap(),
            Some(WebhookSecret::new("0123456789abcdef"))
        );
        // Without the key it cannot be opened, and the error says why without the secret.
        let keyless = TaskStore::new(store.clone());
        let err = keyless.webhook_secret(&record).await.unwrap_err();
        let message = crate::report::chain(&err);
        assert!(message.contains("no key to seal secrets"), "{message}");
        // Under another key it cannot either.
        let wrong = TaskStore::new(store.clone()).with_sealer(Some(Arc::new(
            crate::secrets::LocalSealer::with_key([4; crate::secrets::KEY_LEN]),
        )));
        assert!(matches!(
            wrong.webhook_secret(&record).await.unwrap_err(),
            TaskStoreError::Sealing {
                source: SealError::WrongKey { .. },
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_sealed_secret_moved_to_another_task_does_not_open() {
        let store: SharedStore = Arc::new(crate::store::memory::MemoryStore::new());
        let tasks = sealing(store.clone());
        let t1 = tasks.create("t1", valid(), now()).await.unwrap();
        let mut spec = valid();
        spec.webhook_secret = None;
        let mut t2 = tasks.create("t2", spec, now()).await.unwrap();
        t2.spec.webhook_secret = t1.spec.webhook_secret.clone();
        let fresh = sealing(store);
        assert!(matches!(
            fresh.webhook_secret(&t2).await.unwrap_err(),
            TaskStoreError::Sealing {
                source: SealError::Rejected { .. },
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_store_without_a_sealer_refuses_to_store_a_secret() {
        let store: SharedStore = Arc::new(crate::store::memory::MemoryStore::new());
        let tasks = TaskStore::new(store.clone());
        let err = tasks.create("t1", valid(), now()).await.unwrap_err();
        let message = crate::report::chain(&err);
        assert!(message.contains("REIMAGE_KMS_KEY_ID"), "{message}");
        assert!(store.list("tasks/").await.unwrap().is_empty());
        let mut spec = valid();
        spec.webhook_secret = None;
        tasks.create("t2", spec, now()).await.unwrap();
    }

    #[tokio::test]
    async fn a_plaintext_record_from_before_sealing_is_read_and_sealed_at_its_next_edit() {
        let store: SharedStore = Arc::new(crate::store::memory::MemoryStore::new());
        // Record 0 exactly as reimage wrote it before secrets were sealed.
        let old = serde_json::json!({
            "task_id": "t1", "seq": 0, "change": "created",
            "recorded_at": now(), "created_at": now(), "enabled": true,
            "spec": {
                "source_instance_id": "i-bp1abc",
                "scaling_configuration_ids": ["asc-one"],
                "executed_at": {"kind": "now"},
                "permission": {"kind": "account"},
                "webhook_secret": "an-old-plaintext-secret"
            }
        });
        store
            .create(
                &task_key("t1", 0),
                &serde_json::to_vec_pretty(&old).unwrap(),
            )
            .await
            .unwrap();
        let tasks = sealing(store.clone());
        let record = tasks.get("t1").await.unwrap();
        assert_eq!(
            tasks.webhook_secret(&record).await.unwrap(),
            Some(WebhookSecret::new("an-old-plaintext-secret"))
        );
        tasks
            .change("t1", TaskChange::Disabled, now())
            .await
            .unwrap();
        let text = raw(&store, &task_key("t1", 1)).await;
        assert!(!text.contains("an-old-plaintext-secret"), "{text}");
        let fresh = sealing(store.clone());
        let record = fresh.get("t1").await.unwrap();
        assert!(matches!(
            record.spec.webhook_secret,
            Some(StoredSecret::Sealed(_))
        ));
        assert_eq!(
            fresh.webhook_secret(&record).await.unwrap(),
            Some(WebhookSecret::new("an-old-plaintext-secret"))
        );
    }

    #[test]
    fn a_sealed_form_is_not_accepted_as_a_new_secret() {
        let (field, message) = refusal(|s| {
            s.webhook_secret = Some(StoredSecret::Sealed(SealedSecret {
                sealed_with: crate::secrets::SealScheme::Local,
                key: "k".into(),
                ciphertext: "c".into(),
            }))
        });
        assert_eq!(field, "webhook_secret");
        assert!(message.contains("not a sealed form"), "{message}");
    }
}
