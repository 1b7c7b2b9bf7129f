//! One retention pass: a survey of the region (reads only), then, when asked, its actions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::policy::{self, Action, ImageVerdict, Retention, SnapshotVerdict, Use, Why};
use super::region::{Deleted, ImageRegion, Kind, TAG_BATCH};
use crate::rollout::{ROLLOUTS_PREFIX, RolloutRecord};
use crate::steps::cloud::CloudError;
use crate::steps::latest_record;
use crate::store::tasks::{TaskStore, TaskStoreError};
use crate::store::{SharedStore, StoreError};

/// Where the records of applied passes live: `images/passes/<time>.json` (what the pass set
/// out to do, written before it does anything) and `images/passes/<time>.done.json` (what it
/// did).
pub const PASSES_PREFIX: &str = "images/passes/";
/// The claim of the day's pass under Function Compute: `images/days/<YYYY-MM-DD>`.
pub const DAYS_PREFIX: &str = "images/days/";

/// How far back (and ahead) the index of executions at work is read: an execution ends
/// within hours (its image deadline, its leases' margin), so one a week old is stuck, not
/// at work; `reimage doctor` names it. Rollouts are read whole (one may wait for an operator
/// for days).
const AT_WORK_WINDOW: Duration = Duration::days(7);

/// The longest grace period, hours (a year).
pub const MAX_GRACE_HOURS: u32 = 8760;

/// The most images one pass deletes; the next pass deletes more. A pass runs within the
/// minute timer's handler, whose time is bounded.
pub const MAX_DELETIONS: usize = 100;

/// What retention keeps, per task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policies {
    /// For images of no task, and of tasks that set none.
    pub default: Retention,
    /// The tasks' own.
    pub tasks: BTreeMap<String, Retention>,
    /// Every task the records know, deleted ones included (`None`: not read, every task is
    /// known). The images of a task the records do not know stay: another deployment made
    /// them, or the records were read from the wrong store.
    pub known_tasks: Option<BTreeSet<String>>,
    /// How long a mark waits before a deletion.
    pub grace_hours: u32,
    /// Whether the minute timer applies retention once a day (`REIMAGE_RETENTION=off`
    /// leaves it to `reimage images prune --apply` and `POST /images/prune?apply=true`).
    pub daily: bool,
}

impl Default for Policies {
    fn default() -> Self {
        Self::new(Retention::default(), super::policy::DEFAULT_GRACE_HOURS)
    }
}

impl Policies {
    /// The default retention and grace for every task.
    pub fn new(default: Retention, grace_hours: u32) -> Self {
        Self {
            default,
            tasks: BTreeMap::new(),
            known_tasks: None,
            grace_hours,
            daily: true,
        }
    }

    /// The defaults with the environment's overrides, each a whole number:
    /// `REIMAGE_RETENTION` (`on`, the default, or `off`: whether the minute timer prunes
    /// once a day), `REIMAGE_RETENTION_KEEP` (images kept per task, default 5),
    /// `REIMAGE_RETENTION_DAYS`
    /// (images younger than this are kept, default 14) and `REIMAGE_RETENTION_GRACE_HOURS`
    /// (how long a mark waits before the deletion, default 24). Err: the variable and its
    /// value, or what is wrong with the retention they make.
    pub fn from_env(env: &crate::settings::Env) -> Result<Self, (&'static str, String)> {
        let number = |name: &'static str, default: u32| -> Result<u32, (&'static str, String)> {
            match env.get(name) {
                None => Ok(default),
                Some(v) => v.trim().parse::<u32>().map_err(|_| (name, v.to_owned())),
            }
        };
        let default = Retention {
            keep: number("REIMAGE_RETENTION_KEEP", super::policy::DEFAULT_KEEP)?,
            keep_days: number("REIMAGE_RETENTION_DAYS", super::policy::DEFAULT_KEEP_DAYS)?,
        };
        if default.keep == 0 || default.keep > super::policy::MAX_KEEP {
            return Err((
                "REIMAGE_RETENTION_KEEP",
                format!("{}: 1 to {}", default.keep, super::policy::MAX_KEEP),
            ));
        }
        if default.keep_days > super::policy::MAX_KEEP_DAYS {
            return Err((
                "REIMAGE_RETENTION_DAYS",
                format!(
                    "{}: at most {}",
                    default.keep_days,
                    super::policy::MAX_KEEP_DAYS
                ),
            ));
        }
        let grace_hours = number(
            "REIMAGE_RETENTION_GRACE_HOURS",
            super::policy::DEFAULT_GRACE_HOURS,
        )?;
        if !(1..=MAX_GRACE_HOURS).contains(&grace_hours) {
            return Err((
                "REIMAGE_RETENTION_GRACE_HOURS",
                format!("{grace_hours}: 1 to {MAX_GRACE_HOURS} (a mark must wait)"),
            ));
        }
        let daily = match env.get("REIMAGE_RETENTION").map(str::trim) {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => return Err(("REIMAGE_RETENTION", format!("{other:?}: on or off"))),
        };
        Ok(Self {
            daily,
            ..Self::new(default, grace_hours)
        })
    }

    /// These policies with each task's own retention, and every task the records know,
    /// read from `tasks`. A task record that does not read is an error: its retention is
    /// not guessed.
    pub async fn with_tasks(mut self, tasks: &TaskStore) -> Result<Self, TaskStoreError> {
        let scan = tasks.scan().await?;
        if let Some(bad) = scan.unreadable.into_iter().next() {
            return Err(TaskStoreError::Corrupt {
                key: bad.key,
                message: format!("{}; retention reads every task first", bad.reason),
            });
        }
        let mut known: BTreeSet<String> = scan.deleted.into_iter().collect();
        for task in scan.tasks {
            if let Some(retention) = task.spec.retention {
                self.tasks.insert(task.task_id.clone(), retention);
            }
            known.insert(task.task_id);
        }
        self.known_tasks = Some(known);
        Ok(self)
    }

    /// The retention of `task`'s images; `None` for a task the records do not know.
    pub fn of(&self, task: Option<&str>) -> Option<Retention> {
        let Some(task) = task else {
            return Some(self.default);
        };
        if self.known_tasks.as_ref().is_some_and(|k| !k.contains(task)) {
            return None;
        }
        Some(self.tasks.get(task).copied().unwrap_or(self.default))
    }

    fn grace(&self) -> Duration {
        Duration::hours(i64::from(self.grace_hours.clamp(1, MAX_GRACE_HOURS)))
    }
}

/// What a pass failed on.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// A read of the region failed: nothing was decided.
    #[error(transparent)]
    Cloud(#[from] CloudError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The tasks (their retention) do not read.
    #[error(transparent)]
    Tasks(#[from] TaskStoreError),
    /// A record of an execution or rollout at work does not read: retention does not guess
    /// what it may need.
    #[error("record {key} does not read ({reason}): no image is deleted until it does")]
    Unreadable {
        /// The record.
        key: String,
        /// Why.
        reason: String,
    },
}

/// Everything reimage made in the region, each with what retention does with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    /// When the region was read.
    pub at: DateTime<Utc>,
    /// Each image, by task, newest first.
    pub images: Vec<ImageVerdict>,
    /// Each snapshot no image or disk uses.
    pub snapshots: Vec<SnapshotVerdict>,
}

impl Survey {
    /// The ids of the images whose action is `want`.
    pub fn images_to(&self, want: fn(&Action) -> bool) -> Vec<String> {
        self.images
            .iter()
            .filter(|v| want(&v.action))
            .map(|v| v.image.image_id.clone())
            .collect()
    }

    fn snapshots_to(&self, want: fn(&Action) -> bool) -> Vec<String> {
        self.snapshots
            .iter()
            .filter(|v| want(&v.action))
            .map(|v| v.snapshot.snapshot_id.clone())
            .collect()
    }
}

/// What an applied pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Images and snapshots marked (their deletion waits out the grace period).
    pub marked: Vec<String>,
    /// Images and snapshots whose mark was removed: something needs them again.
    pub unmarked: Vec<String>,
    /// Images deleted.
    pub deleted_images: Vec<String>,
    /// Snapshots deleted.
    pub deleted_snapshots: Vec<String>,
    /// Deletions the cloud refused because something still uses the resource: `(id, why)`.
    pub refused: Vec<(String, String)>,
    /// Calls that failed: `(id, error)`. The next pass tries again.
    pub failed: Vec<(String, String)>,
}

/// The images that executions and rollouts at work may still put back or move onto, and
/// the executions at work, from the store's indexes of the last and next
/// [`AT_WORK_WINDOW`].
pub async fn at_work(
    store: &SharedStore,
    now: DateTime<Utc>,
) -> Result<(BTreeMap<String, Vec<Use>>, BTreeSet<String>), PassError> {
    let mut uses: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    let mut executions = BTreeSet::new();
    let (from, until) = (now - AT_WORK_WINDOW, now + AT_WORK_WINDOW);
    let ids = crate::steps::live::due_between(store, from, until).await?;
    for id in ids {
        let record = match latest_record(store, &id).await {
            Ok(Some(record)) => record,
            Ok(None) => continue,
            Err(crate::steps::EngineError::Record(e)) => {
                return Err(PassError::Unreadable {
                    key: e.key,
                    reason: e.source.to_string(),
                });
            }
            Err(crate::steps::EngineError::Store(e)) => return Err(e.into()),
            Err(other) => {
                return Err(PassError::Unreadable {
                    key: id.prefix(),
                    reason: other.to_string(),
                });
            }
        };
        if record.state.is_terminal() {
            continue;
        }
        executions.insert(id.to_string());
        let by = Use::InFlight {
            by: format!("execution {id}"),
        };
        let learned = &record.learned;
        let images = learned
            .previous_images
            .iter()
            .flatten()
            .map(|p| p.image_id.clone())
            .chain(learned.image_id.clone());
        for image in images {
            uses.entry(image).or_default().push(by.clone());
        }
    }
    // Every rollout's latest record: one waiting for an operator writes no index entry.
    let mut latest: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for key in store.list(ROLLOUTS_PREFIX).await? {
        let id = key
            .strip_prefix(ROLLOUTS_PREFIX)
            .and_then(|rest| rest.split_once('/'))
            .map(|(id, _)| id.to_owned());
        // Only record keys count, as in `Rollouts::latest`.
        if let (Some(id), Some(seq)) = (id, crate::rollout::record_seq(&key)) {
            let newest = latest.entry(id).or_insert((seq, key.clone()));
            if seq > newest.0 {
                *newest = (seq, key);
            }
        }
    }
    for (id, (_, key)) in latest {
        let Some(bytes) = store.get(&key).await? else {
            continue;
        };
        let record: RolloutRecord =
            serde_json::from_slice(&bytes).map_err(|e| PassError::Unreadable {
                key: key.clone(),
                reason: e.to_string(),
            })?;
        // A rollout paused after a failed rollback waits for an operator to finish it.
        let paused = matches!(record.outcome, Some(crate::rollout::Outcome::Paused { .. }));
        if record.ended() && !paused {
            continue;
        }
        let by = Use::InFlight {
            by: format!("rollout {id}"),
        };
        let plan = record.plan.iter();
        let images = std::iter::once(record.spec.image_id.clone())
            .chain(
                record
                    .spec
                    .configuration_restore
                    .iter()
                    .map(|p| p.image_id.clone()),
            )
            .chain(
                plan.clone()
                    .flat_map(|p| p.members.iter().map(|m| m.previous_image.clone())),
            )
            .chain(plan.flat_map(|p| p.configuration_image.clone()));
        for image in images.filter(|i| !i.is_empty()) {
            let list = uses.entry(image).or_default();
            if !list.contains(&by) {
                list.push(by.clone());
            }
        }
    }
    Ok((uses, executions))
}

/// Reads the region and the store and says what retention does with each image and snapshot
/// reimage made. Changes nothing.
pub async fn survey(
    region: &dyn ImageRegion,
    store: &SharedStore,
    policies: &Policies,
    now: DateTime<Utc>,
) -> Result<Survey, PassError> {
    let snapshots = region.managed_snapshots().await?;
    let managed: BTreeSet<&String> = snapshots.iter().map(|s| &s.snapshot_id).collect();
    let mut images = region.managed_images().await?;
    // An image's snapshots go with it only if reimage made them.
    for image in &mut images {
        image.snapshot_ids.retain(|s| managed.contains(s));
    }
    let (mut uses, executions) = at_work(store, now).await?;
    fn add(uses: &mut BTreeMap<String, Vec<Use>>, image: String, what: Use) {
        uses.entry(image).or_default().push(what);
    }
    for (id, image) in region.configuration_images().await? {
        add(&mut uses, image, Use::Configuration { id });
    }
    for (id, version, image) in region.template_images().await? {
        add(&mut uses, image, Use::LaunchTemplate { id, version });
    }
    for image in &images {
        if image.used_by_instances {
            add(&mut uses, image.image_id.clone(), Use::Instances);
        }
        if image.public {
            add(&mut uses, image.image_id.clone(), Use::Public);
        }
    }
    let grace = policies.grace();
    let first = policy::images(&images, &uses, |t| policies.of(t), now, grace);
    // Whom an image is shared with is asked of the shared images that would otherwise go:
    // one call each.
    let mut shared = false;
    for verdict in first
        .iter()
        .filter(|v| v.why == Why::Expired && v.image.shared)
    {
        let mut with = region.shared_with(&verdict.image.image_id).await?;
        if with.is_empty() {
            // Shared, says DescribeImages, with nobody it can name now: still shared.
            with.push("another account".to_owned());
        }
        add(
            &mut uses,
            verdict.image.image_id.clone(),
            Use::Shared { with },
        );
        shared = true;
    }
    let images = if shared {
        policy::images(&images, &uses, |t| policies.of(t), now, grace)
    } else {
        first
    };
    // The snapshots of images this pass deletes go with them, not through the leftovers.
    let going: BTreeSet<&String> = images
        .iter()
        .filter(|v| v.action == Action::Delete)
        .flat_map(|v| &v.image.snapshot_ids)
        .collect();
    let leftovers: Vec<_> = snapshots
        .into_iter()
        .filter(|s| !going.contains(&s.snapshot_id))
        .collect();
    let snapshots = policy::snapshots(
        &leftovers,
        &executions,
        policies.default.keep_days,
        now,
        grace,
    );
    Ok(Survey {
        at: now,
        images,
        snapshots,
    })
}

/// A pass's record key for `at`.
pub fn pass_key(at: DateTime<Utc>, done: bool) -> String {
    let stamp = at.format("%Y%m%dT%H%M%SZ");
    if done {
        format!("{PASSES_PREFIX}{stamp}.done.json")
    } else {
        format!("{PASSES_PREFIX}{stamp}.json")
    }
}

/// Carries out `survey`'s actions: removes marks, marks, then deletes each image whose
/// grace is over, with its snapshots, and each leftover snapshot whose grace is over. The
/// survey is recorded first, the outcome last; a pass cut short anywhere is finished by the
/// next one (marks and deletions are read back from the region, not from the records).
pub async fn apply(
    region: &dyn ImageRegion,
    store: &SharedStore,
    survey: &Survey,
) -> Result<Outcome, PassError> {
    let plan = serde_json::to_vec(survey).expect("a survey serializes");
    store.create(&pass_key(survey.at, false), &plan).await?;
    let mut out = Outcome::default();
    let wanted = |a: &Action| *a == Action::Unmark;
    for (kind, ids) in [
        (Kind::Image, survey.images_to(wanted)),
        (Kind::Snapshot, survey.snapshots_to(wanted)),
    ] {
        for batch in ids.chunks(TAG_BATCH) {
            match region.unmark(kind, batch).await {
                Ok(()) => out.unmarked.extend_from_slice(batch),
                Err(e) => out
                    .failed
                    .extend(batch.iter().map(|id| (id.clone(), e.to_string()))),
            }
        }
    }
    let wanted = |a: &Action| *a == Action::Mark;
    for (kind, ids) in [
        (Kind::Image, survey.images_to(wanted)),
        (Kind::Snapshot, survey.snapshots_to(wanted)),
    ] {
        for batch in ids.chunks(TAG_BATCH) {
            match region.mark(kind, batch, survey.at).await {
                Ok(()) => out.marked.extend_from_slice(batch),
                Err(e) => out
                    .failed
                    .extend(batch.iter().map(|id| (id.clone(), e.to_string()))),
            }
        }
    }
    let deleting = survey.images.iter().filter(|v| v.action == Action::Delete);
    for verdict in deleting.take(MAX_DELETIONS) {
        let id = &verdict.image.image_id;
        match region.delete_image(id).await {
            Ok(Deleted::Deleted | Deleted::Gone) => out.deleted_images.push(id.clone()),
            Ok(Deleted::InUse(why)) => {
                out.refused.push((id.clone(), why));
                continue;
            }
            Err(e) => {
                out.failed.push((id.clone(), e.to_string()));
                continue;
            }
        }
        for snapshot in &verdict.image.snapshot_ids {
            delete_snapshot(region, snapshot, &mut out).await;
        }
    }
    for id in survey.snapshots_to(|a| *a == Action::Delete) {
        delete_snapshot(region, &id, &mut out).await;
    }
    let done = serde_json::to_vec(&out).expect("an outcome serializes");
    store.create(&pass_key(survey.at, true), &done).await?;
    Ok(out)
}

async fn delete_snapshot(region: &dyn ImageRegion, id: &str, out: &mut Outcome) {
    match region.delete_snapshot(id).await {
        Ok(Deleted::Deleted | Deleted::Gone) => out.deleted_snapshots.push(id.to_owned()),
        Ok(Deleted::InUse(why)) => out.refused.push((id.to_owned(), why)),
        Err(e) => out.failed.push((id.to_owned(), e.to_string())),
    }
}

/// The day's pass under the minute tick (the functions' timer, `reimage serve`): the first
/// tick of each day (UTC) claims `images/days/<date>`, reads the tasks' retention from the
/// store and applies retention with `defaults`; every other tick of the day does nothing.
/// `None` when the day's pass was claimed already, or the daily pass is off.
pub async fn daily(
    region: &dyn ImageRegion,
    store: &SharedStore,
    defaults: &Policies,
    now: DateTime<Utc>,
) -> Result<Option<Outcome>, PassError> {
    if !defaults.daily {
        return Ok(None);
    }
    let claim = format!("{DAYS_PREFIX}{}", now.format("%Y-%m-%d"));
    match store.get(&claim).await? {
        Some(_) => return Ok(None),
        None => match store.create(&claim, b"").await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        },
    }
    let policies = defaults
        .clone()
        .with_tasks(&TaskStore::new(store.clone()))
        .await?;
    let survey = survey(region, store, &policies, now).await?;
    apply(region, store, &survey).await.map(Some)
}
