//! What a rollout is asked to do, and what its records remember.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::IdSource;
use crate::model::PermissionSource;

/// The prefix of rollout ids.
pub const ROLLOUT_ID_PREFIX: &str = "ro-";

/// A rollout's id: `ro-` and 32 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RolloutId(String);

/// Why a string is not a rollout id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal rollout id {0:?}: a rollout id is \"ro-\" and 32 lower-case hex digits")]
pub struct RolloutIdError(pub String);

impl RolloutId {
    /// A fresh id.
    pub fn random(ids: &dyn IdSource) -> Self {
        Self::derived(&format!("random:{}", ids.unique()))
    }

    /// The id derived from `key`: the same key always gives the same id.
    pub fn derived(key: &str) -> Self {
        let uuid = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!("reimage-rollout:{key}").as_bytes(),
        );
        Self(format!("{ROLLOUT_ID_PREFIX}{}", uuid.simple()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RolloutId {
    type Error = RolloutIdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let ok = s.strip_prefix(ROLLOUT_ID_PREFIX).is_some_and(|hex| {
            hex.len() == 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok {
            Ok(Self(s))
        } else {
            Err(RolloutIdError(s))
        }
    }
}

impl std::str::FromStr for RolloutId {
    type Err = RolloutIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl From<RolloutId> for String {
    fn from(id: RolloutId) -> Self {
        id.0
    }
}

impl fmt::Display for RolloutId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A number of instances, or a share of the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amount {
    /// That many instances.
    Count(u32),
    /// That percentage of the fleet (1 to 100).
    Percent(u8),
}

/// Why an amount does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is neither a number of instances (\"2\") nor a percentage from 1% to 100% (\"25%\")"
)]
pub struct AmountError(pub String);

impl std::str::FromStr for Amount {
    type Err = AmountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || AmountError(s.to_owned());
        match s.trim().strip_suffix('%') {
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p @ 1..=100) => Ok(Self::Percent(p)),
                _ => Err(bad()),
            },
            None => s.trim().parse().map(Self::Count).map_err(|_| bad()),
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Amount {
    /// How many instances of a fleet of `of` this is (a percentage rounds down, to at least
    /// one of a fleet that has any).
    pub fn of(self, of: u32) -> u32 {
        match self {
            Self::Count(n) => n,
            Self::Percent(p) => (of * u32::from(p) / 100).max(u32::from(of > 0)),
        }
    }
}

/// Whether instances in a lifecycle state are moved too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Membership {
    /// Leave them as they are (the default).
    #[default]
    Skip,
    /// Move them as well.
    Include,
}

/// What a rollout is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutSpec {
    /// The ECS-type scaling group.
    pub group_id: String,
    /// The image its instances move onto.
    pub image_id: String,
    /// How many instances may be out of service at once (default 1).
    pub max_unavailable: Amount,
    /// The share of the instances healthy and InService at the start that must stay in
    /// service at every moment; by default all but `max_unavailable`, and never the last one
    /// unless given as 0 explicitly.
    pub min_in_service: Option<u8>,
    /// How many instances go first, alone, before the configuration changes (default 1).
    pub canary: u32,
    /// How long the canary must stay healthy before the rest follow, seconds.
    pub bake_seconds: u64,
    /// How long a booted instance gets before its gates count, seconds.
    pub warmup_seconds: u64,
    /// How long an instance may take to pass its gates after the warm-up, seconds.
    pub gate_timeout_seconds: u64,
    /// A shell script run through Cloud Assistant on each booted instance, which must exit
    /// 0 for the instance to pass (the readiness gate).
    #[serde(default)]
    pub readiness_command: Option<String>,
    /// The plan hash of a dry run: the pre-flight refuses a group that no longer gives the
    /// same plan.
    #[serde(default)]
    pub plan_hash: Option<String>,
    /// Whether Standby instances are moved.
    pub standby: Membership,
    /// Whether Protected instances are moved.
    pub protected: Membership,
    /// Shares of the instances to move (1 to 99 %) after which the rollout pauses, once
    /// each, at the first batch boundary that reaches them.
    #[serde(default)]
    pub checkpoints: Vec<u8>,
    /// How long each checkpoint pauses, seconds; `None` waits for an operator's `continue`.
    #[serde(default)]
    pub checkpoint_pause_seconds: Option<u64>,
    /// What a failure leads to.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Whose permissions the rollout's calls use: reimage's own, or a RAM role (a task's
    /// rollout uses the task's).
    #[serde(default = "own_permissions")]
    pub permission: PermissionSource,
    /// The images configurations held before this rollout's image update (a task's run
    /// swapped them already): a rollback puts these back instead of what the pre-flight read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configuration_restore: Vec<crate::model::PreviousImage>,
    /// How instances get the image: their system disks replaced in place, or replaced by new
    /// instances through ESS's instance refresh.
    #[serde(default)]
    pub strategy: Strategy,
    /// The task whose run started this rollout, whose notification targets hear how it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// For a task's rollout of a group on a launch template: what the group launched before
    /// the task's run and that run's id, whose version of the template is the rollout's (a
    /// rollback points the group back and deletes it, as the run's own rollback would).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_restore: Option<TemplateRestore>,
}

/// See [`RolloutSpec::template_restore`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRestore {
    /// The run that made the template's version.
    pub execution_id: crate::model::ExecutionId,
    /// What the group launched before it.
    pub source: crate::model::PreviousTemplate,
}

/// How a rollout puts the image on the running instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Each instance keeps its id, its data disks and its addresses; its system disk is
    /// replaced (ReplaceSystemDisk), as the console's rolling update does.
    #[default]
    InPlace,
    /// ESS's instance refresh replaces the instances with new ones launched from the image
    /// (StartInstanceRefresh); reimage gates each batch and rolls the refresh back on a
    /// breach.
    Refresh,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InPlace => "in-place",
            Self::Refresh => "refresh",
        })
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "in-place" | "in_place" => Ok(Self::InPlace),
            "refresh" => Ok(Self::Refresh),
            other => Err(format!("{other:?} is neither \"in-place\" nor \"refresh\"")),
        }
    }
}

fn own_permissions() -> PermissionSource {
    PermissionSource::Account
}

/// What a failed gate or call leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Put everything back at once (the default).
    #[default]
    Rollback,
    /// Hold where it failed, for an operator to `continue` (the failed phase again) or
    /// `rollback`; the processes stay suspended meanwhile.
    Pause,
}

impl fmt::Display for OnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rollback => "rollback",
            Self::Pause => "pause",
        })
    }
}

impl std::str::FromStr for OnFailure {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rollback" => Ok(Self::Rollback),
            "pause" => Ok(Self::Pause),
            other => Err(format!("{other:?} is neither \"rollback\" nor \"pause\"")),
        }
    }
}

impl RolloutSpec {
    /// A rollout of `group_id` onto `image_id` with the defaults.
    pub fn new(group_id: impl Into<String>, image_id: impl Into<String>) -> Self {
        Self {
            template_restore: None,
            group_id: group_id.into(),
            image_id: image_id.into(),
            max_unavailable: Amount::Count(1),
            min_in_service: None,
            canary: 1,
            bake_seconds: 60,
            warmup_seconds: 30,
            gate_timeout_seconds: 900,
            readiness_command: None,
            plan_hash: None,
            standby: Membership::Skip,
            protected: Membership::Skip,
            checkpoints: Vec::new(),
            checkpoint_pause_seconds: None,
            on_failure: OnFailure::Rollback,
            permission: PermissionSource::Account,
            configuration_restore: Vec::new(),
            strategy: Strategy::InPlace,
            task_id: None,
        }
    }
}

/// An instance the rollout moves, as it was at the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// `i-…`.
    pub instance_id: String,
    /// The image it ran: what a rollback puts back.
    pub previous_image: String,
    /// `InService`, `Standby` or `Protected` at the start: what it returns to.
    pub lifecycle_state: String,
}

/// A server's weight in a load balancer's default server group (`target` `lb-…`) or in a
/// vServer group (`rsp-…`, with the member's port).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendWeight {
    /// `lb-…` or `rsp-…`.
    pub target: String,
    /// The instance.
    pub server_id: String,
    /// The backend port, in a vServer group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// 0 to 100.
    pub weight: u32,
}

/// What the pre-flight decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The instances to move, in the order they go.
    pub members: Vec<Member>,
    /// Instances already on the image, left alone.
    pub already_there: Vec<String>,
    /// Instances healthy and InService at the start.
    pub in_service: u32,
    /// How many must stay in service at every moment.
    pub floor: u32,
    /// Instances per batch after the canary.
    pub batch_size: u32,
    /// The canary batch's size.
    pub canary: u32,
    /// The group's active configuration, which gets the image after the canary.
    pub configuration_id: Option<String>,
    /// The image that configuration held.
    pub configuration_image: Option<String>,
    /// For a group that launches from a launch template (instead of `configuration_id`):
    /// what it launched at the start; after the canary the template gets a version holding
    /// the image, as the image update makes it ([`crate::steps::templates`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<crate::model::PreviousTemplate>,
    /// The CLB instances the group is attached to: their backends are gated on, and their
    /// weights put back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancers: Vec<String>,
    /// The vServer groups the group is attached to (weights put back).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vserver_groups: Vec<String>,
    /// The load balancers of the attached vServer groups: gated on like `load_balancers`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vserver_load_balancers: Vec<String>,
    /// The active configuration's key pair: each new system disk gets it (else the image's
    /// password, `PasswordInherit`), as an instance the configuration launched has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair_name: Option<String>,
}

impl Plan {
    /// The batches, as instance ids: the canary first, then `batch_size` at a time.
    pub fn batches(&self) -> Vec<Vec<String>> {
        let ids: Vec<String> = self.members.iter().map(|m| m.instance_id.clone()).collect();
        let canary = (self.canary as usize).min(ids.len());
        let mut out = Vec::new();
        if canary > 0 {
            out.push(ids[..canary].to_vec());
        }
        out.extend(
            ids[canary..]
                .chunks(self.batch_size.max(1) as usize)
                .map(<[String]>::to_vec),
        );
        out
    }

    /// The member `id`.
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.instance_id == id)
    }

    /// Every load balancer whose health checks gate a batch: those attached with their
    /// default server groups, and those of the attached vServer groups.
    pub fn gated_load_balancers(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .load_balancers
            .iter()
            .chain(&self.vserver_load_balancers)
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// Which way a batch moves its instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Onto the rollout's image.
    Forward,
    /// Back onto each instance's own previous image.
    Back,
}

/// Where a batch is. Each stage that calls the cloud is followed by one that waits for the
/// cloud to get there, so that every change is recorded before it is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Protection off (for Protected instances), then EnterStandby: out of the load
    /// balancers' rotation and out of ESS's health checks.
    Standby,
    /// StopInstances with KeepCharging, for the running instances whose disk changes.
    Stop,
    /// Until every instance whose disk changes is Stopped.
    AwaitStopped,
    /// ReplaceSystemDisk for each instance not on the batch's image yet.
    Replace,
    /// Until each new system disk is In_use.
    AwaitDisks,
    /// StartInstances for the stopped instances.
    Start,
    /// Until every instance is Running with no operation lock.
    AwaitRunning,
    /// The warm-up after boot.
    Warmup,
    /// ExitStandby for the instances that were in service, protection back on.
    Return,
    /// Until every gate holds for every instance.
    Gate,
}

/// One batch at work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Its number among the batches (the canary is 0).
    pub index: u32,
    /// Which way it moves.
    pub direction: Direction,
    /// Its instances.
    pub instance_ids: Vec<String>,
    /// Where it is.
    pub stage: Stage,
    /// When the stage began (its timeouts count from here).
    pub since: DateTime<Utc>,
    /// The instances whose system disk changes (decided before anything in the batch
    /// changes, so that a replay after a crash decides the same).
    #[serde(default)]
    pub replacing: Vec<String>,
    /// The new system disks, by instance.
    #[serde(default)]
    pub disks: Vec<(String, String)>,
    /// The readiness command's invocation, once it runs.
    #[serde(default)]
    pub invocation: Option<String>,
    /// How many times the readiness command ran and failed (it runs again until the gate
    /// timeout).
    #[serde(default)]
    pub attempts: u32,
    /// Consecutive looks at which every load balancer reported every instance `normal`.
    #[serde(default)]
    pub healthy_looks: u32,
}

/// What a rollout does next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Read everything; decide the plan or refuse.
    Preflight,
    /// Decide which of the group's scale-in, scale-out and scheduled actions to suspend
    /// (those not suspended already), and record it before suspending anything.
    Suspend,
    /// Suspend them.
    Suspending,
    /// A batch at work.
    Batch(Batch),
    /// The canary bakes until `until`, then is checked again.
    Bake {
        /// When the bake ends.
        until: DateTime<Utc>,
    },
    /// The active configuration gets the image.
    SwapConfiguration,
    /// The configuration gets its previous image back (the first thing a rollback does).
    RestoreConfiguration,
    /// A checkpoint: the rollout waits before batch `next`, until `until` or, without
    /// one, until an operator's `continue`.
    Checkpoint {
        /// The share of the instances moved that it marks.
        percent: u8,
        /// The batch that follows.
        next: u32,
        /// When a timed pause ends.
        until: Option<DateTime<Utc>>,
    },
    /// A failure held for an operator (`on_failure: pause`): `continue` runs the failed
    /// phase again, `rollback` puts everything back. The failed batch stays as the failure
    /// left it: one that failed its gates is back in service, behind the load balancers'
    /// own health checks; one that failed before is still in Standby.
    Held {
        /// What failed.
        reason: String,
        /// The phase that failed, to run again.
        failed: Box<Phase>,
    },
    /// A rollback failed: the instances it left in Standby stay there, out of service, and
    /// are tagged `reimage:quarantined` with the rollout's id; then the processes resume.
    Quarantine {
        /// The instances the rollback did not put back.
        instance_ids: Vec<String>,
    },
    /// The `refresh` strategy at work: ESS's instance refresh replaces the instances, and
    /// pauses at every batch for reimage's gates.
    Refresh(RefreshWatch),
    /// Resume what the rollout suspended; then it ends.
    Resume,
}

/// Where a rollout of the `refresh` strategy is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshWatch {
    /// What it does next.
    pub stage: RefreshStage,
    /// The instance refresh task, once StartInstanceRefresh answered.
    pub task_id: Option<String>,
    /// When the stage began.
    pub since: DateTime<Utc>,
    /// The new instances at their gates (a forward batch of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Batch>,
    /// Whether the canary's bake is over.
    #[serde(default)]
    pub baked: bool,
    /// Whether `task_id` is the refresh that puts the previous image back (after ESS had
    /// finished the forward one).
    #[serde(default)]
    pub reverse: bool,
}

/// A stage of a `refresh` rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshStage {
    /// StartInstanceRefresh (with a ClientToken).
    Start,
    /// DescribeInstanceRefreshes until it pauses at a checkpoint or ends.
    Watch,
    /// The new instances at their gates; then ResumeInstanceRefresh.
    Gate,
    /// The canary's bake, then its gates again.
    Bake,
    /// A timed checkpoint of the operator's, then ResumeInstanceRefresh.
    Checkpoint,
    /// Suspend the refresh (if it runs), then RollbackInstanceRefresh.
    RollBack,
    /// DescribeInstanceRefreshes until the rollback ends.
    WatchRollback,
    /// CancelInstanceRefresh, then until it is cancelled.
    Cancel,
}

impl Phase {
    /// Whether the phase waits for an operator (a checkpoint without a timer, or a held
    /// failure): nothing drives it until a request arrives.
    pub fn awaits_operator(&self) -> bool {
        matches!(
            self,
            Self::Checkpoint { until: None, .. } | Self::Held { .. }
        )
    }
}

/// How a rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Every instance is on the image, and so is the configuration.
    Succeeded,
    /// A failure was put right: every changed instance and the configuration are back.
    RolledBack {
        /// What failed.
        reason: String,
    },
    /// Refused before anything changed.
    Refused {
        /// Why.
        reason: String,
    },
    /// Stopped, for a person to decide: what is left is named.
    Paused {
        /// Why.
        reason: String,
    },
    /// An operator cancelled it: the instances moved stay on the image, the others on
    /// theirs, nothing is left in Standby or suspended.
    Cancelled {
        /// The instances moved before it stopped.
        moved: Vec<String>,
    },
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Succeeded => f.write_str("succeeded"),
            Self::RolledBack { reason } => write!(f, "rolled back: {reason}"),
            Self::Refused { reason } => write!(f, "refused: {reason}"),
            Self::Paused { reason } => write!(f, "paused: {reason}"),
            Self::Cancelled { moved } => write!(
                f,
                "cancelled after moving {} instance(s){}{}",
                moved.len(),
                if moved.is_empty() { "" } else { ": " },
                moved.join(", ")
            ),
        }
    }
}

/// How long a batch's instances took to stop, to get their new disks, and to boot, in
/// seconds, as the last batch saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paces {
    /// StopInstances → every instance Stopped.
    pub stop: Option<i64>,
    /// ReplaceSystemDisk → every new disk In_use.
    pub disks: Option<i64>,
    /// StartInstances → every instance Running.
    pub boot: Option<i64>,
}

/// One record of a rollout's log (`rollouts/<id>/<seq>.json`), written once, never changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutRecord {
    /// The rollout.
    pub rollout_id: RolloutId,
    /// Its number in the log, from 0.
    pub seq: u64,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// When the rollout started.
    pub started_at: DateTime<Utc>,
    /// What was asked.
    pub spec: RolloutSpec,
    /// The pre-flight's plan (from record 1 on).
    pub plan: Option<Plan>,
    /// What comes next; `None` once it ended.
    pub phase: Option<Phase>,
    /// When the next phase is due.
    pub due_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: Option<Outcome>,
    /// Instances on the image (forward batches that passed their gates).
    pub moved: Vec<String>,
    /// Instances put back on their previous image.
    pub restored: Vec<String>,
    /// Processes this rollout suspended (only these are resumed).
    pub suspended: Vec<String>,
    /// Whether the configuration holds the rollout's image.
    pub configuration_swapped: bool,
    /// Why a rollback began, once it has.
    pub failure: Option<String>,
    /// The instances a rollback puts back, in order (set when it begins).
    pub to_restore: Vec<String>,
    /// Why the rollback itself failed, if it did: the rollout pauses, naming what is left.
    pub rollback_failure: Option<String>,
    /// Instances a rollback found gone from the group (released or removed meanwhile).
    #[serde(default)]
    pub lost: Vec<String>,
    /// How long the cloud took for each wait of the last batch that waited for it, so that
    /// the next batch looks first when it should be done.
    #[serde(default)]
    pub paces: Paces,
    /// Checkpoints passed already (their percentages).
    #[serde(default)]
    pub checkpoints_passed: Vec<u8>,
    /// Set once an operator's cancel was taken: the rollout ends after the batch at work.
    #[serde(default)]
    pub cancelled: bool,
    /// Instances a failed rollback left in Standby, tagged `reimage:quarantined`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined: Vec<String>,
    /// With the `refresh` strategy: the planned instances ESS replaced (and released).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced: Vec<String>,
    /// Every member's weights in the attached load balancers and vServer groups as they were
    /// before the rollout changed anything (read when it suspends): what is put back after
    /// each instance returns to service, since ExitStandby sets its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<BackendWeight>,
    /// Retries of the current phase after errors that may pass.
    pub retries: u32,
    /// What happened last, in a line.
    pub note: String,
}

impl RolloutRecord {
    /// Whether the rollout ended.
    pub fn ended(&self) -> bool {
        self.phase.is_none()
    }

    /// Whether it waits for an operator's request (see [`Phase::awaits_operator`]).
    pub fn awaits_operator(&self) -> bool {
        self.phase.as_ref().is_some_and(Phase::awaits_operator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_counts_or_percentages() {
        assert_eq!("2".parse(), Ok(Amount::Count(2)));
        assert_eq!("25%".parse(), Ok(Amount::Percent(25)));
        for bad in ["0%", "101%", "-1", "x", "2.5"] {
            assert!(bad.parse::<Amount>().is_err(), "{bad}");
        }
        assert_eq!(Amount::Percent(10).of(100), 10);
        assert_eq!(Amount::Percent(10).of(5), 1, "at least one of a fleet");
        assert_eq!(Amount::Percent(10).of(0), 0);
        assert_eq!(Amount::Count(3).of(1), 3);
    }

    #[test]
    fn ids_round_trip_and_refuse_strangers() {
        let id = RolloutId::derived("k");
        assert_eq!(id, RolloutId::derived("k"));
        assert_eq!(id.as_str().parse::<RolloutId>(), Ok(id.clone()));
        for bad in ["ex-0123", "ro-XYZ", "ro-", "../ro-0"] {
            assert!(bad.parse::<RolloutId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn batches_start_with_the_canary() {
        let member = |i: u32| Member {
            instance_id: format!("i-{i}"),
            previous_image: "m-old".into(),
            lifecycle_state: "InService".into(),
        };
        let plan = Plan {
            members: (0..6).map(member).collect(),
            already_there: vec![],
            in_service: 6,
            floor: 4,
            batch_size: 2,
            canary: 1,
            configuration_id: None,
            configuration_image: None,
            template: None,
            load_balancers: Vec::new(),
            vserver_groups: Vec::new(),
            vserver_load_balancers: Vec::new(),
            key_pair_name: None,
        };
        let sizes: Vec<usize> = plan.batches().iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 2, 2, 1]);
    }
}
