//! The rollout's step machine: each [`Rollouts::advance`] reads the latest record, does one
//! phase's work with idempotent calls, and writes the next record; a crash anywhere is
//! resumed by advancing again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::driver::{LIVE_PREFIX, RolloutEvent, SharedKicker};
use super::fleet::{Fleet, FleetInstance, GroupMember};
use super::model::{
    BackendWeight, Batch, Direction, Member, Membership, OnFailure, Outcome, Paces, Phase, Plan,
    RefreshStage, RefreshWatch, RolloutId, RolloutRecord, RolloutSpec, Stage, Strategy,
};
use super::plan::{Facts, gate_problem, plan};
use crate::clock::SharedClock;
use crate::ids::SharedIds;
use crate::model::PermissionSource;
use crate::steps::{CloudError, CloudProvider};
use crate::store::{SharedStore, StoreError};

/// The store prefix of rollout logs: `rollouts/<id>/<seq>.json`.
pub const ROLLOUTS_PREFIX: &str = "rollouts/";
/// The store prefix of operators' requests: `rollout-requests/<id>/rollback`.
pub const REQUESTS_PREFIX: &str = "rollout-requests/";

/// The store prefix of the per-group leases: `rollout-leases/<group>/<seq>.json`.
pub const LEASES_PREFIX: &str = "rollout-leases/";

/// How many looks in a row every load balancer must report a batch's instances `normal`.
pub const LB_LOOKS: u32 = 3;

/// The processes a rollout suspends: no scale-in may remove, and no scale-out or scheduled
/// action add, an instance while the fleet is half moved. The health check stays on.
pub const SUSPENDED: [&str; 3] = ["ScaleIn", "ScaleOut", "ScheduledAction"];

/// The tag a failed rollback puts on the instances it leaves in Standby; its value is the
/// rollout's id.
pub const QUARANTINE_TAG: &str = "reimage:quarantined";

/// How often a rollout looks while it waits, and how it retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutTiming {
    /// Between two looks at something the cloud is doing.
    pub poll: Duration,
    /// How long a stop, a disk replacement or a boot may take.
    pub step_timeout: Duration,
    /// Retries of a phase after errors that may pass.
    pub max_retries: u32,
    /// The first retry's delay; each next one doubles it.
    pub retry_after: Duration,
}

impl Default for RolloutTiming {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(10),
            step_timeout: Duration::from_secs(900),
            max_retries: 5,
            retry_after: Duration::from_secs(15),
        }
    }
}

/// What went wrong outside the cloud.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A record could not be read or written as JSON.
    #[error("rollout record {key} is unreadable: {message}")]
    Torn {
        /// Its key.
        key: String,
        /// Why.
        message: String,
    },
    /// No rollout has this id.
    #[error("no rollout {0}")]
    NotFound(RolloutId),
    /// The request is not one a rollout can take.
    #[error("{0}")]
    Invalid(String),
    /// The rollout is not where the request applies (continue a rollout that is not
    /// paused, cancel one rolling back).
    #[error("{0}")]
    Conflict(String),
    /// The event that drives the rollout on could not be sent (the record is written; the
    /// minute's sweep sends it again).
    #[error("the rollout's next event could not be sent: {0}")]
    Dispatch(String),
}

/// What an advance did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advanced {
    /// The rollout waits until then.
    Waiting(DateTime<Utc>),
    /// It ended.
    Ended(Outcome),
    /// Another invocation wrote the next record first.
    LostRace,
}

/// Why a phase stopped.
pub(super) enum Interrupt {
    Cloud(CloudError),
    Failed(String),
    Store(RolloutError),
}

impl From<CloudError> for Interrupt {
    fn from(e: CloudError) -> Self {
        Self::Cloud(e)
    }
}

impl From<RolloutError> for Interrupt {
    fn from(e: RolloutError) -> Self {
        Self::Store(e)
    }
}

pub(super) type Step<T> = Result<T, Interrupt>;

/// Rollouts over one store and one cloud.
#[derive(Debug, Clone)]
pub struct Rollouts {
    store: SharedStore,
    pub(super) fleet: Arc<dyn Fleet>,
    /// The clouds of other permissions (a task's RAM role); without it every rollout uses
    /// `fleet`.
    provider: Option<Arc<dyn CloudProvider>>,
    /// What sends the event of a rollout's next phase; without it the caller drives.
    kicker: Option<SharedKicker>,
    /// Who is told when a rollout ends or waits for an operator.
    notifier: Option<crate::notify::Notifier>,
    /// The index entries this process wrote already.
    marked: Arc<Mutex<HashSet<String>>>,
    clock: SharedClock,
    ids: SharedIds,
    pub(super) timing: RolloutTiming,
}

/// The id a rollout's launch-template version is described after (see
/// [`crate::model::PreviousTemplate::new_version_description`]): derived from the rollout, so
/// that a replay finds the version and a rollback deletes it.
/// A task's rollout takes the task's run's: the version is the run's.
fn template_execution(record: &RolloutRecord) -> crate::model::ExecutionId {
    match &record.spec.template_restore {
        Some(restore) => restore.execution_id.clone(),
        None => crate::model::ExecutionId::derived(&format!("rollout {}", record.rollout_id)),
    }
}

pub(crate) fn record_key(id: &RolloutId, seq: u64) -> String {
    format!("{ROLLOUTS_PREFIX}{id}/{seq:010}.json")
}

fn rollback_key(id: &RolloutId) -> String {
    format!("{REQUESTS_PREFIX}{id}/rollback")
}

fn cancel_key(id: &RolloutId) -> String {
    format!("{REQUESTS_PREFIX}{id}/cancel")
}

/// A continue answers one pause: the one that began with record `seq`.
fn continue_key(id: &RolloutId, seq: u64) -> String {
    format!("{REQUESTS_PREFIX}{id}/continue-{seq:010}")
}

/// The seq of a rollout record's key (`rollouts/<id>/<seq>.json`); `None` for any other key.
pub(crate) fn record_seq(key: &str) -> Option<u64> {
    key.rsplit('/').next()?.strip_suffix(".json")?.parse().ok()
}

pub(super) fn std_to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A learned pace as a delay (none yet: look at once).
fn seconds_i(s: Option<i64>) -> chrono::Duration {
    chrono::Duration::seconds(s.unwrap_or(0).clamp(0, LONGEST))
}

/// Longest wait a rollout takes (what `validate_spec` allows is far below it).
const LONGEST: i64 = 366 * 24 * 3600;

pub(super) fn seconds(s: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(s).unwrap_or(LONGEST).min(LONGEST))
}

/// What a dry run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DryRun {
    /// The rollout would go this way.
    Plan {
        /// The plan.
        plan: Box<Plan>,
        /// Its hash: `start` given it refuses a group that changed since.
        hash: String,
    },
    /// The rollout would be refused, for these reasons.
    Refused(Vec<String>),
}

/// A digest of what the rollout would do: the request (without a hash of its own) and the
/// plan (who moves from which image, in which batches, the floor, the configuration).
pub fn plan_hash(spec: &RolloutSpec, plan: &Plan) -> String {
    use sha2::Digest as _;
    let spec = RolloutSpec {
        plan_hash: None,
        ..spec.clone()
    };
    let text = serde_json::to_string(&(spec, plan)).unwrap_or_default();
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!("sha256:{}", &hex::encode(digest)[..16])
}

/// Checks what a rollout is asked before anything is written.
pub fn validate_spec(spec: &RolloutSpec) -> Result<(), String> {
    let id_like = |s: &str, prefix: &str| {
        s.starts_with(prefix)
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    };
    if !id_like(&spec.group_id, "asg-") {
        return Err(format!(
            "group {:?} is not a scaling group id (asg-…)",
            spec.group_id
        ));
    }
    if spec.image_id.is_empty()
        || spec.image_id.len() > 128
        || !spec
            .image_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(format!("image {:?} is not an image id", spec.image_id));
    }
    if matches!(spec.max_unavailable, super::model::Amount::Count(0)) {
        return Err("max-unavailable 0 would never move an instance".to_owned());
    }
    if spec.min_in_service.is_some_and(|p| p > 100) {
        return Err("min-in-service is a percentage from 0 to 100".to_owned());
    }
    let bounds = [
        ("bake-seconds", spec.bake_seconds, 0, 172_800),
        ("warmup-seconds", spec.warmup_seconds, 0, 3_600),
        ("gate-timeout-seconds", spec.gate_timeout_seconds, 1, 86_400),
    ];
    for (name, value, least, most) in bounds {
        if !(least..=most).contains(&value) {
            return Err(format!(
                "{name} is {value}; it must be from {least} to {most}"
            ));
        }
    }
    if let Some(bad) = spec.checkpoints.iter().find(|p| !(1..=99).contains(*p)) {
        return Err(format!(
            "checkpoint {bad}% is not a share from 1% to 99% of the instances"
        ));
    }
    if spec.strategy == Strategy::Refresh {
        // ESS's instance refresh leaves Standby and Protected instances alone, and pauses
        // at a checkpoint for a time.
        if spec.standby == Membership::Include || spec.protected == Membership::Include {
            return Err(
                "the refresh strategy leaves Standby and Protected instances alone: \
                 --standby include and --protected include need the in-place strategy"
                    .to_owned(),
            );
        }
        // ESS ends a checkpoint's pause on its own after CheckpointPauseTime (48 hours at
        // most): every wait of reimage's at one must end well before.
        if spec.on_failure == OnFailure::Pause {
            return Err(
                "the refresh strategy cannot hold a failure (ESS would go on after 48 hours): \
                 --on-failure pause needs the in-place strategy"
                    .to_owned(),
            );
        }
        if spec.checkpoint_pause_seconds.unwrap_or(0) > 86_400
            || spec.gate_timeout_seconds + spec.bake_seconds > 86_400
        {
            return Err(
                "the refresh strategy waits at most 86400 s (a day) at a checkpoint: \
                 --checkpoint-pause-seconds, and --gate-timeout-seconds with --bake-seconds"
                    .to_owned(),
            );
        }
        if !spec.checkpoints.is_empty() && spec.checkpoint_pause_seconds.is_none() {
            return Err(
                "the refresh strategy pauses at a checkpoint for a time: give \
                 --checkpoint-pause-seconds, or use the in-place strategy to wait for continue"
                    .to_owned(),
            );
        }
    }
    if spec.checkpoint_pause_seconds.is_some_and(|s| s > 604_800) {
        return Err("a checkpoint pauses at most 604800 s (7 days)".to_owned());
    }
    if spec
        .readiness_command
        .as_deref()
        .is_some_and(|c| c.trim().is_empty() || c.len() > 16 * 1024)
    {
        return Err("the readiness command is empty or longer than 16 KiB".to_owned());
    }
    Ok(())
}

impl Rollouts {
    /// Rollouts recorded in `store`, calling `fleet`.
    pub fn new(
        store: SharedStore,
        fleet: Arc<dyn Fleet>,
        clock: SharedClock,
        ids: SharedIds,
        timing: RolloutTiming,
    ) -> Self {
        Self {
            store,
            fleet,
            provider: None,
            kicker: None,
            notifier: None,
            marked: Arc::new(Mutex::new(HashSet::new())),
            clock,
            ids,
            timing,
        }
    }

    /// Rollouts whose spec names a RAM role reach the cloud through `provider`'s cloud for it.
    #[must_use]
    pub fn with_provider(mut self, provider: Arc<dyn CloudProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Sends each rollout's next event through `kicker` (see [`super::driver`]).
    #[must_use]
    pub fn with_kicker(mut self, kicker: SharedKicker) -> Self {
        self.kicker = Some(kicker);
        self
    }

    /// Tells the targets of the rollout's task and the deployment's defaults when a rollout
    /// ends or waits for an operator (see [`crate::notify`]).
    #[must_use]
    pub fn with_notifier(mut self, notifier: Option<crate::notify::Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    pub(super) fn kicker(&self) -> Option<&SharedKicker> {
        self.kicker.as_ref()
    }

    /// The clock the rollouts read.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub(super) fn store(&self) -> &SharedStore {
        &self.store
    }

    /// These rollouts with the cloud of `permission`.
    fn for_permission(&self, permission: &PermissionSource) -> Result<Self, CloudError> {
        let Some(provider) = &self.provider else {
            return match permission {
                PermissionSource::Account => Ok(self.clone()),
                PermissionSource::RamRole { role_arn } => Err(CloudError::client(
                    "AssumeRole",
                    "RoleNotAvailable",
                    &format!(
                        "it runs with RAM role {role_arn}, and this process reaches the cloud \
                         with its own credentials only: drive it where the role can be assumed \
                         (`reimage serve`, the rollout function)"
                    ),
                )),
            };
        };
        let fleet = provider.cloud(permission)?.fleet().ok_or_else(|| {
            CloudError::client("Fleet", "NoFleet", "this cloud cannot move a fleet")
        })?;
        Ok(Self {
            fleet,
            ..self.clone()
        })
    }

    /// Writes the hourly index entry for a record due at `due_at` (once per process).
    async fn mark_live(&self, id: &RolloutId, due_at: DateTime<Utc>) -> Result<(), RolloutError> {
        let key = crate::steps::live::entry_key_in(LIVE_PREFIX, due_at, id.as_str());
        if self
            .marked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&key)
        {
            return Ok(());
        }
        match self.store.create(&key, b"").await {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.marked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key);
        Ok(())
    }

    /// Sends `event` now; a failure is logged, not answered: the record or request is
    /// written and indexed, and the minute's sweep sends the event again.
    async fn kick_or_leave_to_sweep(&self, event: &RolloutEvent) {
        if let Err(error) = self.kick(event, Duration::ZERO).await {
            tracing::warn!(rollout = %event.rollout_id, %error, "left to the sweep");
        }
    }

    /// Whether an operator's request waits for the rollout (it waits for one) and would
    /// still change it: a rollback not begun, a cancel not taken, a continue of this pause.
    pub(super) async fn has_request(&self, latest: &RolloutRecord) -> Result<bool, RolloutError> {
        let id = &latest.rollout_id;
        let mut keys = vec![continue_key(id, latest.seq)];
        if latest.failure.is_none() {
            keys.push(rollback_key(id));
        }
        if !latest.cancelled && !matches!(latest.phase, Some(Phase::Held { .. })) {
            keys.push(cancel_key(id));
        }
        for key in keys {
            if self.store.get(&key).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Records a new rollout (record 0, its pre-flight due now) and answers its id.
    pub async fn start(&self, spec: RolloutSpec) -> Result<RolloutId, RolloutError> {
        self.start_as(RolloutId::random(self.ids.as_ref()), spec)
            .await
    }

    /// [`Rollouts::start`] under `id`; a rollout with that id is left as it is (a replayed
    /// start, such as a task's after a crash, starts nothing twice).
    pub async fn start_as(
        &self,
        id: RolloutId,
        spec: RolloutSpec,
    ) -> Result<RolloutId, RolloutError> {
        validate_spec(&spec).map_err(RolloutError::Invalid)?;
        let now = self.clock.now();
        let record = RolloutRecord {
            rollout_id: id.clone(),
            seq: 0,
            at: now,
            started_at: now,
            spec,
            plan: None,
            phase: Some(Phase::Preflight),
            due_at: now,
            outcome: None,
            moved: Vec::new(),
            restored: Vec::new(),
            suspended: Vec::new(),
            configuration_swapped: false,
            failure: None,
            to_restore: Vec::new(),
            rollback_failure: None,
            lost: Vec::new(),
            paces: Paces::default(),
            checkpoints_passed: Vec::new(),
            cancelled: false,
            quarantined: Vec::new(),
            replaced: Vec::new(),
            weights: Vec::new(),
            retries: 0,
            note: "started".to_owned(),
        };
        match self.write(&record).await {
            Ok(()) => {}
            Err(RolloutError::Store(StoreError::AlreadyExists { .. })) => return Ok(id),
            Err(e) => return Err(e),
        }
        self.kick_or_leave_to_sweep(&RolloutEvent {
            rollout_id: id.clone(),
            seq: 0,
            request: None,
        })
        .await;
        Ok(id)
    }

    /// The pre-flight alone, reading only: the plan and its hash (what `start` with that
    /// hash insists on finding again), or every reason the rollout would be refused.
    pub async fn dry_run(&self, spec: &RolloutSpec) -> Result<DryRun, RolloutError> {
        validate_spec(spec).map_err(RolloutError::Invalid)?;
        let read = match self.for_permission(&spec.permission) {
            Ok(this) => this.read_facts(spec).await,
            Err(e) => Err(Interrupt::Cloud(e)),
        };
        let facts = match read {
            Ok(facts) => facts,
            Err(Interrupt::Store(e)) => return Err(e),
            Err(Interrupt::Failed(reason)) => return Ok(DryRun::Refused(vec![reason])),
            Err(Interrupt::Cloud(e)) => {
                return Ok(DryRun::Refused(vec![format!(
                    "{} answered {}: {}",
                    e.action, e.code, e.message
                )]));
            }
        };
        Ok(match plan(spec, &facts) {
            Ok(plan) => DryRun::Plan {
                hash: plan_hash(spec, &plan),
                plan: Box::new(plan),
            },
            Err(refusals) => DryRun::Refused(refusals),
        })
    }

    async fn write(&self, record: &RolloutRecord) -> Result<(), RolloutError> {
        if !record.ended() && !record.awaits_operator() {
            self.mark_live(&record.rollout_id, record.due_at).await?;
        }
        let key = record_key(&record.rollout_id, record.seq);
        let body = serde_json::to_vec_pretty(record).map_err(|e| RolloutError::Torn {
            key: key.clone(),
            message: e.to_string(),
        })?;
        // As an execution's: queued before the record, sent after (see crate::notify).
        let notice = self.notifier.as_ref().and_then(|notifier| {
            crate::notify::build::rollout_notice(
                record,
                record.spec.task_id.clone(),
                notifier.config(),
            )
            .map(|notice| (notifier, notice))
        });
        let mut queued = Vec::new();
        if let Some((notifier, notice)) = &notice {
            let subject = format!("{}.r{}", record.rollout_id, record.seq);
            match notifier
                .queue(&subject, record.spec.task_id.as_deref(), notice)
                .await
            {
                Ok(deliveries) => queued = deliveries,
                // The store failed: the record is not written either, and the phase runs
                // again (so a notice is never lost to a store that failed once).
                Err(crate::notify::delivery::NotifyError::Store(e)) => return Err(e.into()),
                Err(e) => tracing::error!(
                    rollout = %record.rollout_id,
                    error = %crate::report::chain(&e),
                    "notifications could not be queued"
                ),
            }
        }
        self.store.create(&key, &body).await?;
        if let Some((notifier, _)) = &notice {
            notifier.attempt_all(&queued).await;
        }
        Ok(())
    }

    /// Every record of the rollout, in order.
    pub async fn history(&self, id: &RolloutId) -> Result<Vec<RolloutRecord>, RolloutError> {
        let mut keys = self.store.list(&format!("{ROLLOUTS_PREFIX}{id}/")).await?;
        keys.sort();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.read(&key).await?);
        }
        Ok(out)
    }

    async fn read(&self, key: &str) -> Result<RolloutRecord, RolloutError> {
        let body = self
            .store
            .get(key)
            .await?
            .ok_or_else(|| RolloutError::Torn {
                key: key.to_owned(),
                message: "listed but gone".to_owned(),
            })?;
        serde_json::from_slice(&body).map_err(|e| RolloutError::Torn {
            key: key.to_owned(),
            message: e.to_string(),
        })
    }

    /// The rollout's latest record.
    pub async fn latest(&self, id: &RolloutId) -> Result<RolloutRecord, RolloutError> {
        let keys = self.store.list(&format!("{ROLLOUTS_PREFIX}{id}/")).await?;
        let key = keys
            .iter()
            .filter(|k| record_seq(k).is_some())
            .max_by_key(|k| record_seq(k))
            .ok_or_else(|| RolloutError::NotFound(id.clone()))?;
        self.read(key).await
    }

    /// The latest record of every rollout, newest first.
    pub async fn list(&self) -> Result<Vec<RolloutRecord>, RolloutError> {
        let keys = self.store.list(ROLLOUTS_PREFIX).await?;
        let mut ids: Vec<RolloutId> = keys
            .iter()
            .filter_map(|k| {
                k.strip_prefix(ROLLOUTS_PREFIX)?
                    .split('/')
                    .next()?
                    .parse()
                    .ok()
            })
            .collect();
        ids.dedup();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.latest(&id).await?);
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        Ok(out)
    }

    /// Does the rollout's next phase if it is due.
    pub async fn advance(&self, id: &RolloutId) -> Result<Advanced, RolloutError> {
        Ok(self.advance_once(id).await?.0)
    }

    /// [`Rollouts::advance`], answering also the latest record after it.
    pub(super) async fn advance_once(
        &self,
        id: &RolloutId,
    ) -> Result<(Advanced, RolloutRecord), RolloutError> {
        let record = self.latest(id).await?;
        let Some(phase) = record.phase.clone() else {
            let outcome = record.outcome.clone().unwrap_or(Outcome::Succeeded);
            return Ok((Advanced::Ended(outcome), record));
        };
        let now = self.clock.now();
        // An operator's request takes effect at the next advance, also during a wait.
        if let Some(next) = self.requested(&record, &phase, now).await? {
            return self.commit(next, record).await;
        }
        if now < record.due_at {
            return Ok((Advanced::Waiting(record.due_at), record));
        }
        let done = match self.for_permission(&record.spec.permission) {
            Ok(this) => this.phase(&record, phase, now).await,
            // A limit of this process, not of the rollout: nothing is recorded.
            Err(e) if self.provider.is_none() => {
                return Err(RolloutError::Invalid(format!(
                    "rollout {id}: {}",
                    e.message
                )));
            }
            Err(e) => Err(Interrupt::Cloud(e)),
        };
        let next = match done {
            Ok(next) => next,
            Err(Interrupt::Store(e)) => return Err(e),
            Err(Interrupt::Cloud(e))
                if e.is_retryable() && record.retries < self.timing.max_retries =>
            {
                let delay = self.timing.retry_after * 2u32.saturating_pow(record.retries);
                RolloutRecord {
                    retries: record.retries + 1,
                    due_at: now + std_to_chrono(delay),
                    note: format!("retrying after {}: {}", e.code, e.message),
                    ..self.next_of(&record, now)
                }
            }
            Err(Interrupt::Cloud(e)) => self.failed(
                &record,
                now,
                format!("{} answered {}: {}", e.action, e.code, e.message),
            ),
            Err(Interrupt::Failed(reason)) => self.failed(&record, now, reason),
        };
        self.commit(next, record).await
    }

    /// The record an operator's waiting request leads to, if one applies: a rollback
    /// (also of a held failure), a cancel (taken once), a continue of this very pause.
    async fn requested(
        &self,
        record: &RolloutRecord,
        phase: &Phase,
        now: DateTime<Utc>,
    ) -> Result<Option<RolloutRecord>, RolloutError> {
        let id = &record.rollout_id;
        let rolling_back = record.failure.is_some() || matches!(phase, Phase::Resume);
        if !rolling_back && self.store.get(&rollback_key(id)).await?.is_some() {
            let reason = "an operator asked for a rollback".to_owned();
            let next = match phase {
                Phase::Held {
                    reason: held,
                    failed,
                } => {
                    let at_failure = RolloutRecord {
                        phase: Some((**failed).clone()),
                        ..record.clone()
                    };
                    self.roll_back(&at_failure, now, format!("{held} (held, then {reason})"))
                }
                _ => self.roll_back(record, now, reason),
            };
            return Ok(Some(next));
        }
        if !rolling_back
            && !record.cancelled
            && !matches!(phase, Phase::Held { .. })
            && self.store.get(&cancel_key(id)).await?.is_some()
        {
            let cancelled = RolloutRecord {
                cancelled: true,
                ..record.clone()
            };
            return Ok(Some(match phase {
                Phase::Preflight | Phase::Suspend => {
                    self.ended(&cancelled, now, Outcome::Cancelled { moved: Vec::new() })
                }
                Phase::Batch(batch) => self.waiting(
                    &cancelled,
                    now,
                    record.due_at,
                    format!("cancel taken: batch {} finishes first", batch.index),
                ),
                Phase::Refresh(watch) => self.to(
                    &cancelled,
                    now,
                    Phase::Refresh(RefreshWatch {
                        stage: RefreshStage::Cancel,
                        since: now,
                        gate: None,
                        ..watch.clone()
                    }),
                    "cancel taken: the instance refresh is cancelled",
                ),
                _ => self.to(&cancelled, now, Phase::Resume, "cancel taken"),
            }));
        }
        let pausing = matches!(phase, Phase::Checkpoint { .. } | Phase::Held { .. });
        if pausing
            && self
                .store
                .get(&continue_key(id, record.seq))
                .await?
                .is_some()
        {
            return Ok(Some(match phase {
                Phase::Checkpoint { percent, next, .. } => self.continue_to_batch(
                    record,
                    *next,
                    now,
                    format!("continued at the {percent}% checkpoint"),
                ),
                Phase::Held { failed, .. } => {
                    let again = match (**failed).clone() {
                        // A fresh readiness run: its ClientToken counts the attempts.
                        Phase::Batch(batch) => Phase::Batch(Batch {
                            since: now,
                            invocation: None,
                            attempts: batch.attempts + 1,
                            healthy_looks: 0,
                            ..batch
                        }),
                        Phase::Bake { .. } => Phase::Bake { until: now },
                        other => other,
                    };
                    self.to(record, now, again, "continued: the failed phase runs again")
                }
                _ => return Ok(None),
            }));
        }
        Ok(None)
    }

    /// Forward batch `index` next, or the end when there is none.
    fn continue_to_batch(
        &self,
        record: &RolloutRecord,
        index: u32,
        now: DateTime<Utc>,
        note: String,
    ) -> RolloutRecord {
        let next = match &record.plan {
            Some(plan) if !record.cancelled => self
                .next_forward_batch(plan, index, now)
                .unwrap_or(Phase::Resume),
            _ => Phase::Resume,
        };
        self.to(record, now, next, note)
    }

    /// After forward batch `index - 1` (or the swap): a checkpoint the instances moved just
    /// reached, if any (each pauses once), or batch `index`; the end once cancelled.
    fn after_forward(
        &self,
        record: &RolloutRecord,
        index: u32,
        now: DateTime<Utc>,
        note: String,
    ) -> RolloutRecord {
        let Some(plan) = &record.plan else {
            return self.to(record, now, Phase::Resume, note);
        };
        let more = (index as usize) < plan.batches().len();
        let total = plan.members.len().max(1);
        let share = record.moved.len() * 100 / total;
        let mut reached: Vec<u8> = record
            .spec
            .checkpoints
            .iter()
            .copied()
            .filter(|p| usize::from(*p) <= share && !record.checkpoints_passed.contains(p))
            .collect();
        reached.sort_unstable();
        if record.cancelled || !more || reached.is_empty() {
            return self.continue_to_batch(record, index, now, note);
        }
        let percent = *reached.last().unwrap_or(&0);
        let mut passed = record.checkpoints_passed.clone();
        passed.extend(reached);
        let until = record
            .spec
            .checkpoint_pause_seconds
            .map(|s| now + seconds(s));
        let how = match until {
            Some(until) => format!("until {}", until.format("%H:%M:%S UTC")),
            None => format!("until `reimage rollout continue {}`", record.rollout_id),
        };
        RolloutRecord {
            checkpoints_passed: passed,
            due_at: until.unwrap_or(now + seconds(u64::MAX)),
            ..self.to(
                record,
                now,
                Phase::Checkpoint {
                    percent,
                    next: index,
                    until,
                },
                format!("{note}; {percent}% checkpoint: paused {how}"),
            )
        }
    }

    /// Writes `next` after `previous`; what the rollout does then, and its latest record.
    async fn commit(
        &self,
        next: RolloutRecord,
        previous: RolloutRecord,
    ) -> Result<(Advanced, RolloutRecord), RolloutError> {
        match self.write(&next).await {
            Ok(()) => {}
            Err(RolloutError::Store(StoreError::AlreadyExists { .. })) => {
                return Ok((Advanced::LostRace, previous));
            }
            Err(e) => return Err(e),
        }
        let advanced = match &next.phase {
            None => Advanced::Ended(next.outcome.clone().unwrap_or(Outcome::Succeeded)),
            Some(_) => Advanced::Waiting(next.due_at),
        };
        Ok((advanced, next))
    }

    /// Asks for the rollout to be rolled back: every instance it moved back on its own image,
    /// the configuration back, the processes resumed. Taken at its next advance; a rollout
    /// that ended, or is rolling back already, is not changed.
    pub async fn request_rollback(&self, id: &RolloutId) -> Result<RolloutRecord, RolloutError> {
        let latest = self.latest(id).await?;
        if latest.ended() {
            return Err(RolloutError::Conflict(format!(
                "rollout {id} has ended ({}): there is nothing to roll back",
                latest.outcome.clone().unwrap_or(Outcome::Succeeded)
            )));
        }
        if latest.failure.is_some() || matches!(latest.phase, Some(Phase::Resume)) {
            return Err(RolloutError::Conflict(format!(
                "rollout {id} is rolling back or ending already ({})",
                latest.note
            )));
        }
        self.request(&rollback_key(id), &latest, "rollback").await
    }

    /// Asks for the rollout to stop after the batch at work: the instances moved stay on
    /// the image, the processes are resumed, nothing is left in Standby. A held failure is
    /// not cancelled (its batch would stay out of service): continue or roll it back.
    pub async fn request_cancel(&self, id: &RolloutId) -> Result<RolloutRecord, RolloutError> {
        let latest = self.latest(id).await?;
        match &latest.phase {
            None => Err(RolloutError::Conflict(format!(
                "rollout {id} has ended ({})",
                latest.outcome.clone().unwrap_or(Outcome::Succeeded)
            ))),
            Some(Phase::Held { .. }) => Err(RolloutError::Conflict(format!(
                "rollout {id} holds a failure with its batch out of service: continue it or roll it back"
            ))),
            Some(_) if latest.failure.is_some() => Err(RolloutError::Conflict(format!(
                "rollout {id} is rolling back already"
            ))),
            Some(Phase::Resume) => Err(RolloutError::Conflict(format!(
                "rollout {id} is ending already ({})",
                latest.note
            ))),
            Some(_) if latest.cancelled => Err(RolloutError::Conflict(format!(
                "rollout {id} is cancelled already; it ends after the batch at work"
            ))),
            Some(_) => self.request(&cancel_key(id), &latest, "cancel").await,
        }
    }

    /// Ends the pause the rollout is in: a checkpoint without a timer (or with one, early),
    /// or a held failure, whose phase then runs again.
    pub async fn request_continue(&self, id: &RolloutId) -> Result<RolloutRecord, RolloutError> {
        let latest = self.latest(id).await?;
        match &latest.phase {
            Some(Phase::Checkpoint { .. } | Phase::Held { .. }) => {
                self.request(&continue_key(id, latest.seq), &latest, "continue")
                    .await
            }
            _ => Err(RolloutError::Conflict(format!(
                "rollout {id} is not paused (it is at: {})",
                latest.note
            ))),
        }
    }

    /// Records the request (indexed now, for the sweep), and sends the rollout's event.
    async fn request(
        &self,
        key: &str,
        latest: &RolloutRecord,
        what: &str,
    ) -> Result<RolloutRecord, RolloutError> {
        match self.store.create(key, b"requested").await {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.mark_live(&latest.rollout_id, self.clock.now()).await?;
        // Its own event: the chain's may wait in FC's queue for up to an hour under the same
        // seq, and an event of the same id would be taken for a duplicate of it.
        self.kick_or_leave_to_sweep(&RolloutEvent {
            rollout_id: latest.rollout_id.clone(),
            seq: latest.seq,
            request: Some(what.to_owned()),
        })
        .await;
        Ok(latest.clone())
    }

    /// Advances until the rollout ends, sleeping on `sleep` between phases (the local driver).
    pub async fn run_to_end<F, Fut>(
        &self,
        id: &RolloutId,
        mut sleep: F,
    ) -> Result<Outcome, RolloutError>
    where
        F: FnMut(Duration) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        loop {
            match self.advance(id).await? {
                Advanced::Ended(outcome) => return Ok(outcome),
                Advanced::LostRace => {}
                Advanced::Waiting(at) => {
                    let wait = (at - self.clock.now()).to_std().unwrap_or_default();
                    if !wait.is_zero() {
                        sleep(wait).await;
                    }
                }
            }
        }
    }

    /// The next record: the same as `record`, one further, written `now`, due now.
    fn next_of(&self, record: &RolloutRecord, now: DateTime<Utc>) -> RolloutRecord {
        RolloutRecord {
            seq: record.seq + 1,
            at: now,
            due_at: now,
            retries: 0,
            ..record.clone()
        }
    }

    pub(super) fn to(
        &self,
        record: &RolloutRecord,
        now: DateTime<Utc>,
        phase: Phase,
        note: impl Into<String>,
    ) -> RolloutRecord {
        RolloutRecord {
            phase: Some(phase),
            note: note.into(),
            ..self.next_of(record, now)
        }
    }

    pub(super) fn waiting(
        &self,
        record: &RolloutRecord,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        note: impl Into<String>,
    ) -> RolloutRecord {
        RolloutRecord {
            due_at: until,
            note: note.into(),
            ..self.next_of(record, now)
        }
    }

    pub(super) fn ended(
        &self,
        record: &RolloutRecord,
        now: DateTime<Utc>,
        outcome: Outcome,
    ) -> RolloutRecord {
        RolloutRecord {
            phase: None,
            note: outcome.to_string(),
            outcome: Some(outcome),
            ..self.next_of(record, now)
        }
    }

    /// A failure: refused before anything changed; after, held for an operator when the
    /// rollout says `on_failure: pause`, else rolled back.
    fn failed(&self, record: &RolloutRecord, now: DateTime<Utc>, reason: String) -> RolloutRecord {
        let holds = record.spec.on_failure == OnFailure::Pause
            && record.plan.is_some()
            && record.failure.is_none()
            && !matches!(
                record.phase,
                Some(Phase::Resume | Phase::Held { .. }) | None
            );
        match &record.phase {
            Some(failed) if holds => RolloutRecord {
                due_at: now + seconds(u64::MAX),
                ..self.to(
                    record,
                    now,
                    Phase::Held {
                        reason: reason.clone(),
                        failed: Box::new(failed.clone()),
                    },
                    format!(
                        "held: {reason}; `reimage rollout continue {id}` runs it again, \
                         `reimage rollout rollback {id}` puts everything back",
                        id = record.rollout_id
                    ),
                )
            },
            _ => self.roll_back(record, now, reason),
        }
    }

    /// Refused before anything changed; a rollback after; and a failure of the rollback
    /// itself pauses (after resuming what was suspended), naming what is left.
    fn roll_back(
        &self,
        record: &RolloutRecord,
        now: DateTime<Utc>,
        reason: String,
    ) -> RolloutRecord {
        let Some(plan) = &record.plan else {
            return self.ended(record, now, Outcome::Refused { reason });
        };
        if record.spec.strategy == Strategy::Refresh && !matches!(record.phase, Some(Phase::Resume))
        {
            return self.refresh_roll_back(record, now, reason);
        }
        if matches!(record.phase, Some(Phase::Quarantine { .. })) {
            let reason = format!(
                "{}; the instances left could not be tagged {QUARANTINE_TAG}: {reason}",
                record.rollback_failure.as_deref().unwrap_or_default()
            );
            return RolloutRecord {
                rollback_failure: Some(reason.clone()),
                ..self.to(record, now, Phase::Resume, format!("pausing: {reason}"))
            };
        }
        if matches!(record.phase, Some(Phase::Resume)) {
            let reason = format!(
                "could not resume {} on {}: {reason}",
                record.suspended.join(", "),
                record.spec.group_id
            );
            return self.ended(record, now, Outcome::Paused { reason });
        }
        if let Some(first) = &record.failure {
            let left: Vec<&str> = record
                .to_restore
                .iter()
                .filter(|i| !record.restored.contains(i))
                .map(String::as_str)
                .collect();
            let mut reason = format!(
                "the rollback after \"{first}\" failed: {reason}; not put back: {}",
                if left.is_empty() {
                    "none".to_owned()
                } else {
                    left.join(", ")
                },
            );
            if !left.is_empty() {
                reason.push_str(" (they may be stopped, or in Standby)");
            }
            if record.configuration_swapped {
                reason.push_str(&format!(
                    "; configuration {} still holds {}",
                    plan.configuration_id.as_deref().unwrap_or_default(),
                    record.spec.image_id
                ));
            }
            let next = if left.is_empty() {
                Phase::Resume
            } else {
                Phase::Quarantine {
                    instance_ids: left.iter().map(|i| (*i).to_owned()).collect(),
                }
            };
            return RolloutRecord {
                rollback_failure: Some(reason.clone()),
                ..self.to(record, now, next, format!("pausing: {reason}"))
            };
        }
        let mut to_restore: Vec<String> = Vec::new();
        if let Some(Phase::Batch(batch)) = &record.phase {
            to_restore.extend(batch.instance_ids.iter().cloned());
        }
        for moved in record.moved.iter().rev() {
            if !to_restore.contains(moved) {
                to_restore.push(moved.clone());
            }
        }
        // A failure of the swap itself may come after the cloud applied it (an answer lost,
        // retries spent on the read-back): the restore reads before it writes.
        let swapped =
            record.configuration_swapped || matches!(record.phase, Some(Phase::SwapConfiguration));
        let next = if swapped {
            Phase::RestoreConfiguration
        } else {
            self.next_rollback_batch(plan, &to_restore, &record.restored, 0, now)
                .unwrap_or(Phase::Resume)
        };
        RolloutRecord {
            failure: Some(reason.clone()),
            to_restore,
            ..self.to(record, now, next, format!("rolling back: {reason}"))
        }
    }

    fn next_rollback_batch(
        &self,
        plan: &Plan,
        to_restore: &[String],
        done: &[String],
        index: u32,
        now: DateTime<Utc>,
    ) -> Option<Phase> {
        let ids: Vec<String> = to_restore
            .iter()
            .filter(|i| !done.contains(i))
            .take(plan.batch_size.max(1) as usize)
            .cloned()
            .collect();
        (!ids.is_empty()).then(|| {
            Phase::Batch(Batch {
                index,
                direction: Direction::Back,
                instance_ids: ids,
                stage: Stage::Standby,
                since: now,
                replacing: Vec::new(),
                disks: Vec::new(),
                invocation: None,
                attempts: 0,
                healthy_looks: 0,
            })
        })
    }

    fn next_forward_batch(&self, plan: &Plan, index: u32, now: DateTime<Utc>) -> Option<Phase> {
        let batches = plan.batches();
        let ids = batches.get(index as usize)?.clone();
        Some(Phase::Batch(Batch {
            index,
            direction: Direction::Forward,
            instance_ids: ids,
            stage: Stage::Standby,
            since: now,
            replacing: Vec::new(),
            disks: Vec::new(),
            invocation: None,
            attempts: 0,
            healthy_looks: 0,
        }))
    }

    async fn phase(
        &self,
        record: &RolloutRecord,
        phase: Phase,
        now: DateTime<Utc>,
    ) -> Step<RolloutRecord> {
        match phase {
            Phase::Preflight => self.preflight(record, now).await,
            Phase::Suspend => self.suspend(record, now).await,
            Phase::Suspending => self.suspending(record, now).await,
            Phase::Batch(batch) => self.batch(record, batch, now).await,
            Phase::Refresh(watch) => self.refresh_phase(record, watch, now).await,
            Phase::Quarantine { instance_ids } => self.quarantine(record, &instance_ids, now).await,
            Phase::Bake { until } => {
                if now < until {
                    return Ok(self.waiting(record, now, until, "baking"));
                }
                let plan = plan_of(record)?;
                let canary = Batch {
                    index: 0,
                    direction: Direction::Forward,
                    instance_ids: plan.batches().first().cloned().unwrap_or_default(),
                    stage: Stage::Gate,
                    since: now,
                    replacing: Vec::new(),
                    disks: Vec::new(),
                    invocation: None,
                    attempts: 0,
                    healthy_looks: 0,
                };
                if let Some(problem) = self
                    .gate_problems(record, &canary, &canary.instance_ids)
                    .await?
                {
                    return Err(Interrupt::Failed(format!(
                        "the canary failed during its bake: {problem}"
                    )));
                }
                Ok(self.to(
                    record,
                    now,
                    Phase::SwapConfiguration,
                    "the canary baked healthy",
                ))
            }
            Phase::Checkpoint {
                percent,
                next,
                until,
            } => match until {
                Some(until) if now >= until => Ok(self.continue_to_batch(
                    record,
                    next,
                    now,
                    format!("the {percent}% checkpoint's pause ended"),
                )),
                _ => Ok(self.waiting(record, now, record.due_at, record.note.clone())),
            },
            Phase::Held { .. } => Ok(self.waiting(record, now, record.due_at, record.note.clone())),
            Phase::SwapConfiguration => {
                let plan = plan_of(record)?;
                if let Some(config) = &plan.configuration_id {
                    let held = self.fleet.configuration(config).await?.map(|c| c.image_id);
                    let target = record.spec.image_id.as_str();
                    match held.as_deref() {
                        Some(h) if h == target => {}
                        // What it held at the start: the rollout may change it.
                        Some(h)
                            if record.configuration_swapped
                                || Some(h) == plan.configuration_image.as_deref() =>
                        {
                            self.fleet.set_configuration_image(config, target).await?;
                        }
                        other => {
                            return Err(Interrupt::Failed(format!(
                                "configuration {config} holds {} now, not the image it held at the start ({}): \
                                 someone else changed it, and the rollout leaves it to them",
                                other.unwrap_or("nothing"),
                                plan.configuration_image.as_deref().unwrap_or("none")
                            )));
                        }
                    }
                }
                if let (Some(source), Some(cloud)) = (&plan.template, self.fleet.template_cloud()) {
                    if source.image_id != record.spec.image_id {
                        let id = template_execution(record);
                        crate::steps::templates::swap(
                            cloud,
                            &id,
                            std::slice::from_ref(source),
                            &record.spec.image_id,
                        )
                        .await
                        .map_err(|(what, e)| {
                            if e.is_retryable() {
                                Interrupt::from(e)
                            } else {
                                Interrupt::Failed(format!("{what}: {e}"))
                            }
                        })?;
                    }
                }
                let swapped = RolloutRecord {
                    configuration_swapped: plan.configuration_id.is_some()
                        || plan.template.is_some(),
                    ..record.clone()
                };
                Ok(self.after_forward(
                    &swapped,
                    1,
                    now,
                    "the configuration holds the image".to_owned(),
                ))
            }
            Phase::RestoreConfiguration => {
                let plan = plan_of(record)?;
                if let (Some(config), Some(previous)) =
                    (&plan.configuration_id, &plan.configuration_image)
                {
                    // Put back only the rollout's own image: one that someone else put there
                    // since (a newer run) is left as it is.
                    let held = self.fleet.configuration(config).await?.map(|c| c.image_id);
                    if held.as_deref() == Some(record.spec.image_id.as_str()) {
                        self.fleet.set_configuration_image(config, previous).await?;
                    } else if held.as_deref() != Some(previous.as_str()) {
                        tracing::warn!(
                            rollout = %record.rollout_id, configuration = %config,
                            held = held.as_deref().unwrap_or(""),
                            "the configuration holds another image than the rollout's: left as it is"
                        );
                    }
                }
                if let (Some(source), Some(cloud)) = (&plan.template, self.fleet.template_cloud()) {
                    let id = template_execution(record);
                    for left in
                        crate::steps::templates::put_back(cloud, &id, std::slice::from_ref(source))
                            .await
                    {
                        tracing::warn!(rollout = %record.rollout_id, %left, "not put back");
                    }
                }
                let next = self
                    .next_rollback_batch(
                        plan,
                        &record.to_restore,
                        &settled(record, &record.restored),
                        0,
                        now,
                    )
                    .unwrap_or(Phase::Resume);
                Ok(RolloutRecord {
                    configuration_swapped: false,
                    ..self.to(
                        record,
                        now,
                        next,
                        "the configuration holds its previous image again",
                    )
                })
            }
            Phase::Resume => {
                if !record.suspended.is_empty() {
                    let token = self.token(record, "resume");
                    self.fleet
                        .resume(&record.spec.group_id, &record.suspended, &token)
                        .await?;
                }
                let outcome = match (&record.rollback_failure, &record.failure) {
                    (Some(reason), _) => Outcome::Paused {
                        reason: reason.clone(),
                    },
                    (None, Some(reason)) => Outcome::RolledBack {
                        reason: reason.clone(),
                    },
                    (None, None) if record.cancelled => Outcome::Cancelled {
                        moved: record.moved.clone(),
                    },
                    (None, None) => Outcome::Succeeded,
                };
                Ok(self.ended(record, now, outcome))
            }
        }
    }

    /// The instances a failed rollback left in Standby (that were not there before) stay
    /// there, tagged [`QUARANTINE_TAG`] with the rollout's id, and named in its outcome.
    async fn quarantine(
        &self,
        record: &RolloutRecord,
        ids: &[String],
        now: DateTime<Utc>,
    ) -> Step<RolloutRecord> {
        let members = self.fleet.members_of(&record.spec.group_id, ids).await?;
        let stuck: Vec<String> = members
            .iter()
            .filter(|m| m.lifecycle_state == "Standby")
            .filter(|m| {
                self.member_of(record, &m.instance_id)
                    .is_none_or(|p| p.lifecycle_state != "Standby")
            })
            .map(|m| m.instance_id.clone())
            .collect();
        let mut reason = record.rollback_failure.clone().unwrap_or_default();
        if !stuck.is_empty() {
            self.fleet
                .tag_instances(&stuck, QUARANTINE_TAG, record.rollout_id.as_str())
                .await?;
            reason.push_str(&format!(
                "; left in Standby, out of service, tagged {QUARANTINE_TAG}={}: {}",
                record.rollout_id,
                stuck.join(", ")
            ));
        }
        let note = if stuck.is_empty() {
            "no instance is left in Standby".to_owned()
        } else {
            format!("quarantined {}", stuck.join(", "))
        };
        Ok(RolloutRecord {
            quarantined: stuck,
            rollback_failure: Some(reason),
            ..self.to(record, now, Phase::Resume, note)
        })
    }

    pub(super) fn token(&self, record: &RolloutRecord, what: &str) -> String {
        let hex = record.rollout_id.as_str().trim_start_matches("ro-");
        format!("ro{}-{what}", &hex[..20])
    }

    /// What the pre-flight reads: the group's checks, then the facts the plan is made of.
    async fn read_facts(&self, spec: &RolloutSpec) -> Step<Facts> {
        let group = self.fleet.group(&spec.group_id).await?;
        let Some(group) = group else {
            return Err(Interrupt::Failed(format!(
                "scaling group {} does not exist or is disabled",
                spec.group_id
            )));
        };
        if !(group.group_type.is_empty() || group.group_type == "ECS") {
            return Err(Interrupt::Failed(format!(
                "scaling group {} is {}-type: only the instances of ECS-type groups can be reimaged",
                spec.group_id, group.group_type
            )));
        }
        if group.lifecycle_state != "Active" {
            return Err(Interrupt::Failed(format!(
                "scaling group {} is {}",
                spec.group_id, group.lifecycle_state
            )));
        }
        if let (Some(template), Strategy::Refresh) = (&group.launch_template_id, spec.strategy) {
            return Err(Interrupt::Failed(format!(
                "scaling group {} launches from launch template {template}: the refresh \
                 strategy does not take such a group; use the in_place strategy",
                spec.group_id
            )));
        }
        if let (Some(template), None) = (&group.launch_template_id, self.fleet.template_cloud()) {
            return Err(Interrupt::Failed(format!(
                "scaling group {} launches from launch template {template}, and this cloud \
                 cannot make a version of it",
                spec.group_id
            )));
        }
        if let Some(activity) = self.fleet.activity_in_progress(&spec.group_id).await? {
            return Err(Interrupt::Failed(format!(
                "scaling activity {activity} is in progress on {}: start again when it has ended",
                spec.group_id
            )));
        }
        let at_work = self.fleet.refreshes_at_work(&spec.group_id).await?;
        if let Some(task) = at_work.first() {
            return Err(Interrupt::Failed(format!(
                "instance refresh {} is {} on {}: start again when it has ended",
                task.task_id, task.status, spec.group_id
            )));
        }
        let target = self
            .fleet
            .images(std::slice::from_ref(&spec.image_id))
            .await?;
        let target = match target.into_iter().find(|m| m.image_id == spec.image_id) {
            Some(m) if m.status == "Available" => m,
            Some(m) => {
                return Err(Interrupt::Failed(format!(
                    "image {} is {}, not Available",
                    spec.image_id, m.status
                )));
            }
            None => {
                return Err(Interrupt::Failed(format!(
                    "image {} does not exist",
                    spec.image_id
                )));
            }
        };
        let members = self.fleet.members(&spec.group_id).await?;
        let ids: Vec<String> = members.iter().map(|m| m.instance_id.clone()).collect();
        let instances = self.fleet.instances(&ids).await?;
        let mut previous: Vec<String> = instances
            .iter()
            .map(|i| i.image_id.clone())
            .filter(|m| m != &spec.image_id)
            .collect();
        previous.sort();
        previous.dedup();
        let existing = self.fleet.images(&previous).await?;
        let missing_images = previous
            .into_iter()
            .filter(|m| !existing.iter().any(|e| &e.image_id == m))
            .collect();
        let template = match (&group.launch_template_id, self.fleet.template_cloud()) {
            // A task's rollout: the group as it was before the task's run.
            (Some(_), Some(_))
                if spec
                    .template_restore
                    .as_ref()
                    .is_some_and(|r| r.source.group_id == spec.group_id) =>
            {
                spec.template_restore.as_ref().map(|r| r.source.clone())
            }
            (Some(_), Some(cloud)) => {
                let ids = [spec.group_id.clone()];
                match crate::steps::templates::read_sources(cloud, &ids).await? {
                    Ok(sources) => sources.into_iter().next().map(|(source, _)| source),
                    Err(problems) => return Err(Interrupt::Failed(problems.join("; "))),
                }
            }
            _ => None,
        };
        let (configuration, key_pair_name, configuration_launch) =
            match &group.active_configuration_id {
                Some(config) => match self.fleet.configuration(config).await? {
                    Some(c) => (
                        Some((config.clone(), c.image_id)),
                        c.key_pair_name,
                        Some((c.instance_type, c.system_disk_size)),
                    ),
                    None => (None, None, None),
                },
                None => (None, None, None),
            };
        let launch_types = self
            .fleet
            .image_instance_types(&spec.image_id, false)
            .await?;
        let supported_types = if spec.strategy == Strategy::InPlace {
            self.fleet
                .image_instance_types(&spec.image_id, true)
                .await?
        } else {
            Vec::new()
        };
        Ok(Facts {
            members,
            instances,
            configuration,
            template,
            missing_images,
            load_balancers: group.load_balancer_ids,
            vserver_groups: group.vserver_group_ids,
            target: Some(target),
            images: existing,
            key_pair_name,
            vserver_load_balancers: group.vserver_load_balancer_ids,
            supported_types,
            launch_types,
            configuration_launch,
        })
    }

    async fn preflight(&self, record: &RolloutRecord, now: DateTime<Utc>) -> Step<RolloutRecord> {
        let spec = &record.spec;
        let facts = self.read_facts(spec).await?;
        let plan = plan(spec, &facts).map_err(|refusals| Interrupt::Failed(refusals.join("; ")))?;
        if let Some(expected) = &spec.plan_hash {
            let now_hash = plan_hash(spec, &plan);
            if &now_hash != expected {
                return Err(Interrupt::Failed(format!(
                    "the group changed since the dry run: its plan was {expected}, it is {now_hash} now; \
                     look at `--dry-run` again"
                )));
            }
        }
        self.take_lease(record).await?;
        if spec.strategy == Strategy::Refresh {
            let note = format!(
                "{} instance(s) to replace through an instance refresh, {} at a time; {} stay in service",
                plan.members.len(),
                plan.batch_size,
                plan.floor
            );
            let watch = RefreshWatch {
                stage: RefreshStage::Start,
                task_id: None,
                since: now,
                gate: None,
                baked: false,
                reverse: false,
            };
            return Ok(RolloutRecord {
                plan: Some(plan),
                ..self.to(record, now, Phase::Refresh(watch), note)
            });
        }
        // A task's run put the image into the configuration already: a rollback must put
        // back the image the run replaced.
        let held_already = (facts
            .configuration
            .as_ref()
            .is_some_and(|(_, image)| image == &spec.image_id)
            && plan.configuration_image.as_deref() != Some(spec.image_id.as_str()))
            // The same for a group on a launch template: the run made its version.
            || spec.template_restore.is_some() && plan.template.is_some();
        let note = format!(
            "{} instance(s) to move in batches of {} after a canary of {}; {} stay in service",
            plan.members.len(),
            plan.batch_size,
            plan.canary,
            plan.floor
        );
        Ok(RolloutRecord {
            plan: Some(plan),
            configuration_swapped: held_already,
            ..self.to(record, now, Phase::Suspend, note)
        })
    }

    /// Takes the group's lease: one rollout at work on a group at a time. The lease log is
    /// append-only; the rollout holds the group if no earlier entry names a rollout that has
    /// not ended.
    async fn take_lease(&self, record: &RolloutRecord) -> Step<()> {
        let prefix = format!("{LEASES_PREFIX}{}/", record.spec.group_id);
        for _ in 0..8 {
            let mut keys = self.store.list(&prefix).await.map_err(RolloutError::from)?;
            keys.sort();
            let mut ours = None;
            let mut earlier = Vec::new();
            for key in &keys {
                let body = self
                    .store
                    .get(key)
                    .await
                    .map_err(RolloutError::from)?
                    .unwrap_or_default();
                let holder = String::from_utf8_lossy(&body).trim().to_owned();
                if holder == record.rollout_id.as_str() {
                    ours = Some(key.clone());
                    break;
                }
                earlier.push(holder);
            }
            if ours.is_none() {
                let next = keys.last().and_then(|k| record_seq(k)).map_or(0, |s| s + 1);
                match self
                    .store
                    .create(
                        &format!("{prefix}{next:010}.json"),
                        record.rollout_id.as_str().as_bytes(),
                    )
                    .await
                {
                    Ok(()) => {}
                    Err(StoreError::AlreadyExists { .. }) => continue,
                    Err(e) => return Err(RolloutError::from(e).into()),
                }
            }
            for holder in earlier {
                let Ok(other) = holder.parse::<RolloutId>() else {
                    continue;
                };
                if let Ok(latest) = self.latest(&other).await {
                    if !latest.ended() {
                        return Err(Interrupt::Failed(format!(
                            "rollout {other} is at work on scaling group {}",
                            record.spec.group_id
                        )));
                    }
                }
            }
            return Ok(());
        }
        Err(Interrupt::Failed(
            "the group's lease log is too busy; try again".to_owned(),
        ))
    }

    async fn suspend(&self, record: &RolloutRecord, now: DateTime<Utc>) -> Step<RolloutRecord> {
        let group = self.fleet.group(&record.spec.group_id).await?;
        let already = group.map(|g| g.suspended_processes).unwrap_or_default();
        let ours: Vec<String> = SUSPENDED
            .iter()
            .filter(|p| !already.iter().any(|a| a == *p))
            .map(|p| (*p).to_owned())
            .collect();
        let note = if ours.is_empty() {
            "every process to suspend is suspended already".to_owned()
        } else {
            format!("suspending {}", ours.join(", "))
        };
        // The members' weights before anything changes them: one read per load balancer
        // and vServer group, for the whole rollout.
        let plan = plan_of(record)?;
        let mut weights = Vec::new();
        for target in plan.load_balancers.iter().chain(&plan.vserver_groups) {
            weights.extend(
                self.fleet
                    .weights(target)
                    .await?
                    .into_iter()
                    .filter(|w| plan.member(&w.server_id).is_some()),
            );
        }
        Ok(RolloutRecord {
            suspended: ours,
            weights,
            ..self.to(record, now, Phase::Suspending, note)
        })
    }

    async fn suspending(&self, record: &RolloutRecord, now: DateTime<Utc>) -> Step<RolloutRecord> {
        if !record.suspended.is_empty() {
            let token = self.token(record, "suspend");
            self.fleet
                .suspend(&record.spec.group_id, &record.suspended, &token)
                .await?;
        }
        let plan = plan_of(record)?;
        let next = self
            .next_forward_batch(plan, 0, now)
            .unwrap_or(Phase::SwapConfiguration);
        Ok(self.to(record, now, next, "suspended"))
    }

    /// The image each instance of the batch moves onto.
    fn target_of<'a>(&self, record: &'a RolloutRecord, batch: &Batch, instance: &str) -> &'a str {
        match batch.direction {
            Direction::Forward => &record.spec.image_id,
            Direction::Back => record
                .plan
                .as_ref()
                .and_then(|p| p.member(instance))
                .map_or(record.spec.image_id.as_str(), |m| m.previous_image.as_str()),
        }
    }

    fn member_of<'a>(&self, record: &'a RolloutRecord, instance: &str) -> Option<&'a Member> {
        record.plan.as_ref().and_then(|p| p.member(instance))
    }

    async fn batch(
        &self,
        record: &RolloutRecord,
        batch: Batch,
        now: DateTime<Utc>,
    ) -> Step<RolloutRecord> {
        let group = record.spec.group_id.clone();
        let dir = match batch.direction {
            Direction::Forward => "f",
            Direction::Back => "b",
        };
        let stage_to = |stage: Stage, note: String| {
            self.to(
                record,
                now,
                Phase::Batch(Batch {
                    stage,
                    since: now,
                    ..batch.clone()
                }),
                note,
            )
        };
        let timed_out = |what: &str| -> Interrupt {
            Interrupt::Failed(format!(
                "batch {} waited more than {} s for {what}",
                batch.index,
                self.timing.step_timeout.as_secs()
            ))
        };
        let past_timeout = now - batch.since > std_to_chrono(self.timing.step_timeout);
        let poll = now + std_to_chrono(self.timing.poll);
        // A wait not over yet: look again after the poll, or fail once past the step timeout.
        let not_yet = |what: &str| -> Step<RolloutRecord> {
            if past_timeout {
                return Err(timed_out(what));
            }
            Ok(self.waiting(
                record,
                now,
                poll,
                format!("batch {}: waiting for {what}", batch.index),
            ))
        };
        match batch.stage {
            Stage::Standby => {
                // Forward, the whole group is read: the instances in service besides this
                // batch must not be fewer than the floor.
                let members = match batch.direction {
                    Direction::Forward => self.fleet.members(&group).await?,
                    Direction::Back => self.fleet.members_of(&group, &batch.instance_ids).await?,
                };
                let state = |id: &str| {
                    members
                        .iter()
                        .find(|m| m.instance_id == id)
                        .map(|m| m.lifecycle_state.clone())
                };
                let gone: Vec<String> = batch
                    .instance_ids
                    .iter()
                    .filter(|i| state(i).is_none())
                    .cloned()
                    .collect();
                if !gone.is_empty() {
                    if batch.direction == Direction::Forward {
                        return Err(Interrupt::Failed(format!(
                            "instances left the group during the rollout: {}",
                            gone.join(", ")
                        )));
                    }
                    // A rollback goes on with the others: what is gone cannot be put back.
                    let mut lost = record.lost.clone();
                    lost.extend(gone.iter().cloned());
                    let kept: Vec<String> = batch
                        .instance_ids
                        .iter()
                        .filter(|i| !gone.contains(i))
                        .cloned()
                        .collect();
                    let with = RolloutRecord {
                        lost,
                        ..record.clone()
                    };
                    let note = format!(
                        "rollback batch {}: gone from the group: {}",
                        batch.index,
                        gone.join(", ")
                    );
                    let next = if kept.is_empty() {
                        let plan = plan_of(record)?;
                        self.next_rollback_batch(
                            plan,
                            &record.to_restore,
                            &settled(&with, &with.restored),
                            batch.index + 1,
                            now,
                        )
                        .unwrap_or(Phase::Resume)
                    } else {
                        Phase::Batch(Batch {
                            instance_ids: kept,
                            ..batch.clone()
                        })
                    };
                    return Ok(self.to(&with, now, next, note));
                }
                if batch.direction == Direction::Forward {
                    let floor = plan_of(record)?.floor;
                    let serving = members
                        .iter()
                        .filter(|m| !batch.instance_ids.contains(&m.instance_id))
                        .filter(|m| {
                            matches!(m.lifecycle_state.as_str(), "InService" | "Protected")
                                && m.health_status == "Healthy"
                        })
                        .count() as u32;
                    if serving < floor {
                        let problem = format!(
                            "{serving} instance(s) in service besides batch {}, below the floor of {floor}",
                            batch.index
                        );
                        if past_timeout {
                            return Err(Interrupt::Failed(problem));
                        }
                        return Ok(self.waiting(record, now, poll, problem));
                    }
                }
                let protected: Vec<String> = batch
                    .instance_ids
                    .iter()
                    .filter(|i| state(i).as_deref() == Some("Protected"))
                    .cloned()
                    .collect();
                if !protected.is_empty() {
                    self.fleet.set_protection(&group, &protected, false).await?;
                }
                let entering: Vec<String> = batch
                    .instance_ids
                    .iter()
                    .filter(|i| matches!(state(i).as_deref(), Some("InService" | "Protected")))
                    .cloned()
                    .collect();
                if !entering.is_empty() {
                    // Synchronous (Async=false): the instances are in Standby when it answers.
                    let token = self.token(record, &format!("{dir}{}-in", batch.index));
                    self.fleet.enter_standby(&group, &entering, &token).await?;
                }
                Ok(stage_to(
                    Stage::Stop,
                    format!("batch {}: in Standby", batch.index),
                ))
            }
            Stage::Stop => {
                let instances = self.fleet.instances(&batch.instance_ids).await?;
                let replacing: Vec<String> = instances
                    .iter()
                    .filter(|i| i.image_id != self.target_of(record, &batch, &i.instance_id))
                    .map(|i| i.instance_id.clone())
                    .collect();
                let stopping: Vec<String> = instances
                    .iter()
                    .filter(|i| i.status == "Running" && replacing.contains(&i.instance_id))
                    .map(|i| i.instance_id.clone())
                    .collect();
                if !stopping.is_empty() {
                    self.fleet.stop(&stopping).await?;
                }
                let next = Batch {
                    stage: Stage::AwaitStopped,
                    since: now,
                    replacing,
                    ..batch.clone()
                };
                Ok(RolloutRecord {
                    due_at: now + seconds_i(record.paces.stop),
                    ..self.to(
                        record,
                        now,
                        Phase::Batch(next),
                        format!("batch {}: stopping {}", batch.index, stopping.len()),
                    )
                })
            }
            Stage::AwaitStopped => {
                let instances = self.fleet.instances(&batch.replacing).await?;
                let mut waiting = instances
                    .iter()
                    .any(|i| i.status != "Stopped" || !i.locks.is_empty());
                // A rollback may find a disk the failed batch was still writing: a new
                // replacement must wait until it is In_use.
                if !waiting && batch.direction == Direction::Back && !batch.replacing.is_empty() {
                    let disks = self.fleet.system_disks(&batch.replacing).await?;
                    waiting = batch.replacing.len() != disks.len()
                        || disks.iter().any(|(_, d)| d.status != "In_use");
                }
                if waiting {
                    return not_yet("its instances to stop");
                }
                Ok(RolloutRecord {
                    paces: Paces {
                        stop: Some((now - batch.since).num_seconds()),
                        ..record.paces
                    },
                    ..stage_to(Stage::Replace, format!("batch {}: stopped", batch.index))
                })
            }
            Stage::Replace => {
                // Every instance decided on is replaced through its ClientToken, also when it
                // already shows the image: a replay after a crash gets the same disk back.
                let mut disks = Vec::with_capacity(batch.replacing.len());
                let key_pair = plan_of(record)?.key_pair_name.as_deref();
                for (n, instance) in batch.replacing.iter().enumerate() {
                    let target = self.target_of(record, &batch, instance);
                    let token = self.token(record, &format!("{dir}{}-rsd-{n}", batch.index));
                    let disk = self
                        .fleet
                        .replace_system_disk(instance, target, key_pair, &token)
                        .await?;
                    disks.push((instance.clone(), disk));
                }
                let next = Batch {
                    stage: Stage::AwaitDisks,
                    since: now,
                    disks,
                    ..batch.clone()
                };
                Ok(RolloutRecord {
                    due_at: now + seconds_i(record.paces.disks),
                    ..self.to(
                        record,
                        now,
                        Phase::Batch(next),
                        format!("batch {}: system disks replaced", batch.index),
                    )
                })
            }
            Stage::AwaitDisks => {
                let ids: Vec<String> = batch.disks.iter().map(|(_, d)| d.clone()).collect();
                let disks = if ids.is_empty() {
                    Vec::new()
                } else {
                    self.fleet.disks(&ids).await?
                };
                let ready = ids.iter().all(|d| {
                    disks
                        .iter()
                        .any(|x| &x.disk_id == d && x.status == "In_use")
                });
                if !ready {
                    return not_yet("the new system disks");
                }
                Ok(RolloutRecord {
                    paces: Paces {
                        disks: Some((now - batch.since).num_seconds()),
                        ..record.paces
                    },
                    ..stage_to(Stage::Start, format!("batch {}: disks In_use", batch.index))
                })
            }
            Stage::Start => {
                // Forward, the instances stopped are the ones replaced: started without a
                // look, unless a replay finds them started already.
                let optimistic =
                    batch.direction == Direction::Forward && !batch.replacing.is_empty();
                let started = if optimistic {
                    match self.fleet.start(&batch.replacing).await {
                        Ok(()) => Some(batch.replacing.len()),
                        Err(e) if e.code == "IncorrectInstanceStatus" => None,
                        Err(e) => return Err(e.into()),
                    }
                } else {
                    None
                };
                let count = match started {
                    Some(n) => n,
                    None => {
                        let instances = self.fleet.instances(&batch.instance_ids).await?;
                        let starting: Vec<String> = instances
                            .iter()
                            .filter(|i| i.status == "Stopped")
                            .map(|i| i.instance_id.clone())
                            .collect();
                        if !starting.is_empty() {
                            self.fleet.start(&starting).await?;
                        }
                        starting.len()
                    }
                };
                Ok(RolloutRecord {
                    due_at: now + seconds_i(record.paces.boot),
                    ..stage_to(
                        Stage::AwaitRunning,
                        format!("batch {}: starting {count}", batch.index),
                    )
                })
            }
            Stage::AwaitRunning => {
                let instances = self.fleet.instances(&batch.instance_ids).await?;
                let up = instances.len() == batch.instance_ids.len()
                    && instances
                        .iter()
                        .all(|i| i.status == "Running" && i.locks.is_empty());
                if !up {
                    return not_yet("its instances to run");
                }
                let until = now + seconds(record.spec.warmup_seconds);
                Ok(RolloutRecord {
                    due_at: until,
                    paces: Paces {
                        boot: Some((now - batch.since).num_seconds()),
                        ..record.paces
                    },
                    ..stage_to(
                        Stage::Warmup,
                        format!("batch {}: running; warming up", batch.index),
                    )
                })
            }
            Stage::Warmup => Ok(stage_to(
                Stage::Return,
                format!("batch {}: warmed up", batch.index),
            )),
            Stage::Return => {
                let returning: Vec<String> = batch
                    .instance_ids
                    .iter()
                    .filter(|i| {
                        self.member_of(record, i)
                            .is_none_or(|m| m.lifecycle_state != "Standby")
                    })
                    .cloned()
                    .collect();
                if !returning.is_empty() {
                    let token = self.token(record, &format!("{dir}{}-out", batch.index));
                    self.fleet.exit_standby(&group, &returning, &token).await?;
                }
                let protected: Vec<String> = batch
                    .instance_ids
                    .iter()
                    .filter(|i| {
                        self.member_of(record, i)
                            .is_some_and(|m| m.lifecycle_state == "Protected")
                    })
                    .cloned()
                    .collect();
                if !protected.is_empty() {
                    self.fleet.set_protection(&group, &protected, true).await?;
                }
                // ExitStandby set weights of its own (50, or the configuration's
                // LoadBalancerWeight, or a vServer group's attach weight): each returns to
                // what it was.
                let restore: Vec<BackendWeight> = record
                    .weights
                    .iter()
                    .filter(|w| batch.instance_ids.contains(&w.server_id))
                    .cloned()
                    .collect();
                if !restore.is_empty() {
                    self.fleet.set_weights(&restore).await?;
                }
                Ok(stage_to(
                    Stage::Gate,
                    format!("batch {}: back in service", batch.index),
                ))
            }
            Stage::Gate => match self.gate(record, &batch, now, &Phase::Batch).await? {
                Some(wait) => Ok(wait),
                None => self.batch_done(record, &batch, now),
            },
        }
    }

    /// The gates of a batch's instances, every one of which must hold: ESS InService and
    /// Healthy, ECS Running without an operation lock, the image in place, the readiness
    /// command (run again until the gate timeout), and every load balancer reporting each
    /// instance `normal` LB_LOOKS looks in a row. `None` once they held; else the record to
    /// write (the batch, through `wrap`, looked at again after a poll).
    pub(super) async fn gate(
        &self,
        record: &RolloutRecord,
        batch: &Batch,
        now: DateTime<Utc>,
        wrap: &(dyn Fn(Batch) -> Phase + Sync),
    ) -> Step<Option<RolloutRecord>> {
        let dir = match batch.direction {
            Direction::Forward => "f",
            Direction::Back => "b",
        };
        let poll = now + std_to_chrono(self.timing.poll);
        let gate_timeout = seconds(record.spec.gate_timeout_seconds);
        let late = now - batch.since > gate_timeout;
        // With a readiness command, the first look runs it; the gates of ESS and ECS
        // are checked with its results, so that all of them hold at the same time.
        let readiness_first = record.spec.readiness_command.is_some() && batch.invocation.is_none();
        // Once every gate held at one look, the load balancers' further looks are
        // what is left: a service that fell over shows there as abnormal.
        let first_look = batch.healthy_looks == 0;
        if !readiness_first && first_look {
            if let Some(problem) = self
                .gate_problems(record, batch, &batch.instance_ids)
                .await?
            {
                if late {
                    return Err(Interrupt::Failed(format!(
                        "batch {} did not pass its gates within {} s: {problem}",
                        batch.index, record.spec.gate_timeout_seconds
                    )));
                }
                return Ok(Some(RolloutRecord {
                    due_at: poll,
                    ..self.to(
                        record,
                        now,
                        wrap(Batch {
                            healthy_looks: 0,
                            ..batch.clone()
                        }),
                        format!("batch {}: gates not yet: {problem}", batch.index),
                    )
                }));
            }
        }
        if let (Some(script), true) = (&record.spec.readiness_command, first_look) {
            let Some(invoke) = &batch.invocation else {
                let token = self.token(
                    record,
                    &format!("{dir}{}-ready-{}", batch.index, batch.attempts),
                );
                let timeout = u32::try_from(record.spec.gate_timeout_seconds).unwrap_or(u32::MAX);
                let invoke = self
                    .fleet
                    .run_command(&batch.instance_ids, script, timeout, &token)
                    .await?;
                let next = Batch {
                    invocation: Some(invoke.clone()),
                    ..batch.clone()
                };
                return Ok(Some(self.to(
                    record,
                    now,
                    wrap(next),
                    format!("batch {}: readiness command {invoke} running", batch.index),
                )));
            };
            let results = self.fleet.command_results(invoke).await?;
            let mut pending = Vec::new();
            for id in &batch.instance_ids {
                match results.iter().find(|r| &r.instance_id == id) {
                    Some(r) if r.status == "Success" => {}
                    Some(r)
                        if matches!(
                            r.status.as_str(),
                            "Pending" | "Running" | "Scheduled" | "Stopping"
                        ) =>
                    {
                        pending.push(id.clone());
                    }
                    Some(r) => {
                        let said = r.output.lines().next().unwrap_or_default().trim();
                        let problem = format!(
                            "the readiness command {} on {id} (exit {}){}",
                            r.status.to_lowercase(),
                            r.exit_code,
                            if said.is_empty() {
                                String::new()
                            } else {
                                format!(": {said}")
                            }
                        );
                        if late {
                            return Err(Interrupt::Failed(problem));
                        }
                        // It runs again until the gate timeout: a service may take a
                        // while to come up.
                        let next = Batch {
                            invocation: None,
                            attempts: batch.attempts + 1,
                            healthy_looks: 0,
                            ..batch.clone()
                        };
                        return Ok(Some(RolloutRecord {
                            due_at: poll,
                            ..self.to(
                                record,
                                now,
                                wrap(next),
                                format!("batch {}: {problem}; again", batch.index),
                            )
                        }));
                    }
                    None => pending.push(id.clone()),
                }
            }
            if !pending.is_empty() {
                if late {
                    return Err(Interrupt::Failed(format!(
                        "the readiness command did not finish within {} s on {}",
                        record.spec.gate_timeout_seconds,
                        pending.join(", ")
                    )));
                }
                return Ok(Some(self.waiting(
                    record,
                    now,
                    poll,
                    format!("batch {}: readiness command running", batch.index),
                )));
            }
        }
        // Every load balancer reports every instance `normal`, LB_LOOKS looks in a
        // row, a poll apart.
        let plan = plan_of(record)?;
        let gated = plan.gated_load_balancers();
        if !gated.is_empty() {
            let mut problem = None;
            for lb in &gated {
                let health = self.fleet.backend_health(lb).await?;
                // `unavailable`: a listener without a health check, no signal.
                if let Some((server, status)) = health
                    .iter()
                    .find(|(s, status)| batch.instance_ids.contains(s) && status == "abnormal")
                {
                    problem = Some(format!("{server} is {status} behind {lb}"));
                    break;
                }
            }
            let looks = match problem {
                Some(problem) if late => {
                    return Err(Interrupt::Failed(format!(
                        "batch {} did not pass its load balancer gate within {} s: {problem}",
                        batch.index, record.spec.gate_timeout_seconds
                    )));
                }
                Some(_) => 0,
                None => batch.healthy_looks + 1,
            };
            if looks < LB_LOOKS {
                return Ok(Some(RolloutRecord {
                    due_at: poll,
                    ..self.to(
                        record,
                        now,
                        wrap(Batch {
                            healthy_looks: looks,
                            ..batch.clone()
                        }),
                        format!(
                            "batch {}: load balancers healthy {looks} of {LB_LOOKS} looks",
                            batch.index
                        ),
                    )
                }));
            }
        }
        Ok(None)
    }

    fn batch_done(
        &self,
        record: &RolloutRecord,
        batch: &Batch,
        now: DateTime<Utc>,
    ) -> Step<RolloutRecord> {
        let plan = plan_of(record)?;
        match batch.direction {
            Direction::Forward => {
                let mut moved = record.moved.clone();
                moved.extend(
                    batch
                        .instance_ids
                        .iter()
                        .filter(|i| !record.moved.contains(i))
                        .cloned(),
                );
                let with = RolloutRecord {
                    moved,
                    ..record.clone()
                };
                let note = format!("batch {} passed its gates", batch.index);
                if batch.index == 0
                    && !record.cancelled
                    && (plan.configuration_id.is_some()
                        || plan.template.is_some()
                        || plan.batches().len() > 1)
                {
                    let until = now + seconds(record.spec.bake_seconds);
                    return Ok(RolloutRecord {
                        due_at: until,
                        ..self.to(&with, now, Phase::Bake { until }, note)
                    });
                }
                Ok(self.after_forward(&with, batch.index + 1, now, note))
            }
            Direction::Back => {
                let mut restored = record.restored.clone();
                restored.extend(
                    batch
                        .instance_ids
                        .iter()
                        .filter(|i| !record.restored.contains(i))
                        .cloned(),
                );
                let next = self
                    .next_rollback_batch(
                        plan,
                        &record.to_restore,
                        &settled(record, &restored),
                        batch.index + 1,
                        now,
                    )
                    .unwrap_or(Phase::Resume);
                let with = RolloutRecord {
                    restored,
                    ..record.clone()
                };
                Ok(self.to(
                    &with,
                    now,
                    next,
                    format!("rollback batch {} put back", batch.index),
                ))
            }
        }
    }

    /// The first gate that does not hold for `ids`, if any: ECS Running with no lock; the
    /// lifecycle state the instance rests in (InService unless it started in Standby or
    /// Protected) and Healthy; the batch's image.
    async fn gate_problems(
        &self,
        record: &RolloutRecord,
        batch: &Batch,
        ids: &[String],
    ) -> Step<Option<String>> {
        let members: Vec<GroupMember> = self.fleet.members_of(&record.spec.group_id, ids).await?;
        let instances: Vec<FleetInstance> = self.fleet.instances(ids).await?;
        for id in ids {
            let Some(member) = members.iter().find(|m| &m.instance_id == id) else {
                return Ok(Some(format!("{id} is no longer in the group")));
            };
            let Some(instance) = instances.iter().find(|i| &i.instance_id == id) else {
                return Ok(Some(format!("{id} is not found in ECS")));
            };
            let expected = self
                .member_of(record, id)
                .map_or("InService", |m| m.lifecycle_state.as_str());
            if member.lifecycle_state != expected {
                return Ok(Some(format!(
                    "{id} is {} (expected {expected})",
                    member.lifecycle_state
                )));
            }
            if let Some(problem) = gate_problem(member, instance) {
                return Ok(Some(format!("{id}: {problem}")));
            }
            let target = self.target_of(record, batch, id);
            if instance.image_id != target {
                return Ok(Some(format!(
                    "{id} runs {} instead of {target}",
                    instance.image_id
                )));
            }
        }
        Ok(None)
    }
}

/// The instances a rollback is done with: put back, or gone.
fn settled(record: &RolloutRecord, restored: &[String]) -> Vec<String> {
    restored.iter().chain(&record.lost).cloned().collect()
}

pub(super) fn plan_of(record: &RolloutRecord) -> Step<&Plan> {
    record
        .plan
        .as_ref()
        .ok_or_else(|| Interrupt::Failed("the rollout's record has no plan".to_owned()))
}
