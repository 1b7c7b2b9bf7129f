//! What the console refuses in a task definition, each refusal an [`InvalidTask`] whose
//! message starts with the name of the offending field.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::{ExecutedAt, StoredSecret, TaskSpec, WebhookSecret};
use crate::model::PermissionSource;
use crate::model::execution::ExecutionId;
use crate::model::naming::{self, NameError};
use crate::model::schedule::Schedule;
use crate::model::validate;

/// Why a task definition was refused. Each message starts with the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTask {
    /// The source instance id is not an ECS instance id.
    #[error(
        "source_instance_id: {0:?} is not an ECS instance id (i- followed by letters and digits)"
    )]
    SourceInstance(String),
    /// No scaling configuration or group was named.
    #[error(
        "scaling_configuration_ids: name at least one scaling configuration (or, in \
         scaling_group_ids, a scaling group that launches from a launch template)"
    )]
    NoScalingConfigurations,
    /// A launch-template scaling group that does not hold.
    #[error("scaling_group_ids: {0}")]
    ScalingGroup(String),
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
    /// A failure threshold outside the accepted range.
    #[error(
        "disable_after_failures: {0} is more than {MAX_DISABLE_AFTER_FAILURES} (0 never disables \
         the task; leave it out for the default of {DEFAULT_DISABLE_AFTER_FAILURES})"
    )]
    DisableAfterFailures(u32),
    /// A retention that makes no sense.
    #[error("{0}")]
    Retention(String),
    /// A sealed form given where the secret itself is expected.
    #[error("webhook_secret: give the secret itself (a string), not a sealed form")]
    SealedWebhookSecret,
    /// A rollout option that does not hold.
    #[error("rollout: {0}")]
    Rollout(String),
    /// A notification target that does not hold, or too many.
    #[error("{0}")]
    Notify(String),
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

/// After how many failed runs in a row a task disables itself when it does not say.
pub const DEFAULT_DISABLE_AFTER_FAILURES: u32 = 3;

/// The highest failure threshold accepted.
pub const MAX_DISABLE_AFTER_FAILURES: u32 = 100;

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
        if self.scaling_configuration_ids.is_empty() && self.scaling_group_ids.is_empty() {
            return Err(InvalidTask::NoScalingConfigurations);
        }
        if self.configuration_source == super::ConfigurationSource::LaunchTemplate
            && self.scaling_group_ids.is_empty()
        {
            return Err(InvalidTask::ScalingGroup(
                "configuration_source launch_template: name at least one scaling group".into(),
            ));
        }
        if self.scaling_group_ids.len() > MAX_SCALING_CONFIGURATIONS {
            return Err(InvalidTask::ScalingGroup(format!(
                "at most {MAX_SCALING_CONFIGURATIONS} scaling groups per task, got {}",
                self.scaling_group_ids.len()
            )));
        }
        for (i, id) in self.scaling_group_ids.iter().enumerate() {
            if validate::group_id(id).is_err() {
                return Err(InvalidTask::ScalingGroup(format!(
                    "{id:?} is not a scaling group id (asg- followed by letters and digits)"
                )));
            }
            if self.scaling_group_ids[..i].contains(id) {
                return Err(InvalidTask::ScalingGroup(format!(
                    "{id:?} is named more than once"
                )));
            }
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
        if let Some(n) = self.disable_after_failures {
            if n > MAX_DISABLE_AFTER_FAILURES {
                return Err(InvalidTask::DisableAfterFailures(n));
            }
        }
        if let Some(rollout) = &self.rollout {
            validate_rollout(rollout)?;
        }
        if let Some(problem) = self.retention.as_ref().and_then(|r| r.problem()) {
            return Err(InvalidTask::Retention(problem));
        }
        if self
            .notify
            .iter()
            .any(|t| matches!(t, crate::notify::StoredTarget::Sealed(_)))
        {
            return Err(InvalidTask::Notify(
                "notify: give each target itself, not a sealed form".into(),
            ));
        }
        crate::notify::stored::validate_targets(&self.notify).map_err(InvalidTask::Notify)?;
        let schedule = Schedule::compile(&self.executed_at)?;
        schedule.validate_at(now)?;
        Ok(schedule)
    }

    /// How many runs webhooks may start per hour.
    pub fn webhook_runs_per_hour(&self) -> u32 {
        self.webhook_runs_per_hour
            .unwrap_or(DEFAULT_WEBHOOK_RUNS_PER_HOUR)
    }

    /// After how many failed runs in a row the task disables itself; 0: never.
    pub fn disable_after_failures(&self) -> u32 {
        self.disable_after_failures
            .unwrap_or(DEFAULT_DISABLE_AFTER_FAILURES)
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

/// Checks a task's rollout options: the image is the run's, the permission the task's; the
/// rest as `POST /rollouts` checks it.
pub fn validate_rollout(rollout: &crate::rollout::RolloutOptions) -> Result<(), InvalidTask> {
    let refuse = |m: &str| Err(InvalidTask::Rollout(m.to_owned()));
    if rollout.image_id.is_some() {
        return refuse("image_id: a task's rollout moves onto the image its run made");
    }
    if rollout.plan_hash.is_some() || rollout.dry_run.is_some() {
        return refuse("plan_hash and dry_run belong to POST /rollouts");
    }
    if rollout.permission.is_some() {
        return refuse("permission: a task's rollout uses the task's permission");
    }
    let group = rollout
        .group_id
        .as_deref()
        .unwrap_or("asg-of-the-configurations");
    rollout
        .spec(group, "m-of-the-run")
        .map(drop)
        .map_err(InvalidTask::Rollout)
}

/// Checks a RAM role ARN with the rule every entry point uses ([`validate::role_arn`]).
pub fn validate_role_arn(arn: &str) -> Result<(), InvalidTask> {
    validate::role_arn(arn).map_err(|_| InvalidTask::RoleArn(arn.to_owned()))
}
