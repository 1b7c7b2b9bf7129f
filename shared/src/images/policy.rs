//! What retention does with each image and snapshot reimage made: pure decisions over what
//! the region and the records said, so that `reimage images list` shows exactly what a prune
//! would do.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Images of a task kept whatever their age, newest first (when the task sets none).
pub const DEFAULT_KEEP: u32 = 5;
/// Images younger than this many days are kept (when the task sets none).
pub const DEFAULT_KEEP_DAYS: u32 = 14;
/// How long a marked image or snapshot waits before it is deleted, hours.
pub const DEFAULT_GRACE_HOURS: u32 = 24;
/// The most images a task may keep by count.
pub const MAX_KEEP: u32 = 1000;
/// The most days a task may keep images by age (ten years).
pub const MAX_KEEP_DAYS: u32 = 3650;

/// How many of a task's images outlive their usefulness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// The newest this many Available images are kept (at least 1).
    #[serde(default = "default_keep")]
    pub keep: u32,
    /// Any image younger than this many days is kept.
    #[serde(default = "default_keep_days")]
    pub keep_days: u32,
}

fn default_keep() -> u32 {
    DEFAULT_KEEP
}

fn default_keep_days() -> u32 {
    DEFAULT_KEEP_DAYS
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            keep: DEFAULT_KEEP,
            keep_days: DEFAULT_KEEP_DAYS,
        }
    }
}

impl Retention {
    /// Why this retention makes no sense, if it does not: keeping no image at all would
    /// delete the one a configuration may need to roll back to.
    pub fn problem(&self) -> Option<String> {
        if self.keep == 0 {
            return Some("retention.keep is 0: keep at least the newest image".into());
        }
        if self.keep > MAX_KEEP {
            return Some(format!(
                "retention.keep is {}: at most {MAX_KEEP}",
                self.keep
            ));
        }
        if self.keep_days > MAX_KEEP_DAYS {
            return Some(format!(
                "retention.keep_days is {}: at most {MAX_KEEP_DAYS}",
                self.keep_days
            ));
        }
        None
    }
}

/// An image reimage made (tagged `reimage:managed=true`), as the region describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedImage {
    /// `m-…`.
    pub image_id: String,
    /// Its name.
    pub image_name: String,
    /// `Creating`, `Waiting`, `Available`, `UnAvailable`, `CreateFailed`, `Deprecated`.
    pub status: String,
    /// When it was created (`None`: the cloud did not say; treated as new).
    pub created: Option<DateTime<Utc>>,
    /// Its size, GiB.
    pub size_gib: u32,
    /// The task whose run made it (`reimage:task`); `None` for a `reimage run`.
    pub task: Option<String>,
    /// The execution that made it (`reimage:execution`).
    pub execution: Option<String>,
    /// When retention marked it for deletion (`reimage:prune-marked`).
    pub marked: Option<DateTime<Utc>>,
    /// Whether instances run from it (DescribeImages `Usage` is `instance`).
    pub used_by_instances: bool,
    /// Whether it is public (DescribeImages `IsPublic`).
    pub public: bool,
    /// Whether it is shared with other accounts (DescribeImages `IsSelfShared`).
    pub shared: bool,
    /// The snapshots its disks were made from.
    pub snapshot_ids: Vec<String>,
}

/// A snapshot reimage made, as the region describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedSnapshot {
    /// `s-…`.
    pub snapshot_id: String,
    /// `progressing`, `accomplished`, `failed`.
    pub status: String,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// DescribeSnapshots `Usage`: `image`, `disk`, `image_disk` or `none`.
    pub usage: String,
    /// The execution that made it (`reimage:execution`).
    pub execution: Option<String>,
    /// When retention marked it for deletion (`reimage:prune-marked`).
    pub marked: Option<DateTime<Utc>>,
}

/// Something that needs an image: while one exists, the image stays.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Use {
    /// A scaling configuration launches instances from it (any group of the region).
    Configuration {
        /// `asc-…`.
        id: String,
    },
    /// A launch template version launches instances from it.
    LaunchTemplate {
        /// `lt-…`.
        id: String,
        /// The version.
        version: i64,
    },
    /// Instances run from it.
    Instances,
    /// It is shared with other accounts.
    Shared {
        /// The accounts (or `all` for a published image).
        with: Vec<String>,
    },
    /// It is public.
    Public,
    /// An execution or rollout at work may put it back.
    InFlight {
        /// The execution or rollout.
        by: String,
    },
}

impl std::fmt::Display for Use {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Configuration { id } => write!(f, "scaling configuration {id}"),
            Self::LaunchTemplate { id, version } => write!(f, "launch template {id} v{version}"),
            Self::Instances => f.write_str("instances"),
            Self::Shared { with } => write!(f, "shared with {}", with.join(", ")),
            Self::Public => f.write_str("public"),
            Self::InFlight { by } => write!(f, "{by} (at work)"),
        }
    }
}

/// Why an image or snapshot stays, or goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Why {
    /// Something needs it.
    InUse {
        /// What.
        uses: Vec<Use>,
    },
    /// It is still being made (or in a state reimage does not know).
    Building,
    /// Its task is not in the records this pass read: another deployment's, or records
    /// read from the wrong store.
    UnknownTask,
    /// It is among its task's newest.
    Newest {
        /// 1 for the newest.
        rank: u32,
    },
    /// It is younger than the task's `keep_days`.
    Young,
    /// A snapshot of an execution at work.
    ExecutionAtWork,
    /// Nothing needs it and retention keeps it no longer.
    Expired,
}

/// What a prune does with an image or snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Nothing.
    Keep,
    /// Tag it `reimage:prune-marked`: the first phase.
    Mark,
    /// It was marked, and is needed again: remove the mark.
    Unmark,
    /// Marked, waiting out the grace period.
    Wait {
        /// When a pass may delete it.
        until: DateTime<Utc>,
    },
    /// Marked longer than the grace period, and still unneeded: delete it.
    Delete,
}

/// The verdict on one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageVerdict {
    /// The image.
    pub image: ManagedImage,
    /// The retention that applied (its task's, or the default); none for a task the records
    /// do not know.
    pub retention: Option<Retention>,
    /// Why.
    pub why: Why,
    /// What a prune does.
    pub action: Action,
}

/// The verdict on one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotVerdict {
    /// The snapshot.
    pub snapshot: ManagedSnapshot,
    /// Why.
    pub why: Why,
    /// What a prune does.
    pub action: Action,
}

/// The statuses in which an image may be deleted; any other (still being made, or one
/// reimage does not know) keeps it.
const DELETABLE: &[&str] = &["Available", "UnAvailable", "CreateFailed", "Deprecated"];

/// The statuses in which a snapshot may be deleted (`accomplished`, `failed`).
const SNAPSHOT_DELETABLE: &[&str] = &["accomplished", "failed"];

fn age_kept(created: Option<DateTime<Utc>>, keep_days: u32, now: DateTime<Utc>) -> bool {
    created.is_none_or(|at| now - at < Duration::days(i64::from(keep_days)))
}

/// Whether a mark made at `at` has waited out `grace` by `now`, to the minute: the timer's
/// tick a day later may fire a few seconds earlier in its minute than the one that marked.
fn grace_over(at: DateTime<Utc>, now: DateTime<Utc>, grace: Duration) -> Option<DateTime<Utc>> {
    let minute = |t: DateTime<Utc>| t.timestamp().div_euclid(60);
    let until = at.checked_add_signed(grace)?;
    (minute(now) >= minute(until)).then_some(until)
}

fn action_for(
    expired: bool,
    marked: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Action {
    match (expired, marked) {
        (false, None) => Action::Keep,
        (false, Some(_)) => Action::Unmark,
        (true, None) => Action::Mark,
        (true, Some(at)) => match grace_over(at, now, grace) {
            Some(_) => Action::Delete,
            // An end past the calendar's is never reached: the image waits.
            None => Action::Wait {
                until: at
                    .checked_add_signed(grace)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            },
        },
    }
}

/// The verdict on each of `images`: `uses` says what needs each (by image id); `retention`
/// gives a task's retention (the default for images of no task, or of a task without one),
/// or `None` for a task the records do not know (another deployment's: its images stay).
/// Ordered as the images are: by task, newest first.
pub fn images(
    images: &[ManagedImage],
    uses: &BTreeMap<String, Vec<Use>>,
    retention: impl Fn(Option<&str>) -> Option<Retention>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Vec<ImageVerdict> {
    let mut by_task: BTreeMap<Option<&str>, Vec<&ManagedImage>> = BTreeMap::new();
    for image in images {
        by_task
            .entry(image.task.as_deref())
            .or_default()
            .push(image);
    }
    let mut out = Vec::with_capacity(images.len());
    for (task, mut list) in by_task {
        let kept = retention(task);
        // Newest first; ties by id. An image without a creation time is not ranked (it would
        // take the place of a dated one) and counts as young.
        list.sort_by(|a, b| (b.created, &b.image_id).cmp(&(a.created, &a.image_id)));
        let mut rank = 0;
        for image in list {
            let ranked = image.status == "Available" && image.created.is_some();
            if ranked {
                rank += 1;
            }
            let needed: Vec<Use> = uses.get(&image.image_id).cloned().unwrap_or_default();
            let why = match kept {
                _ if !needed.is_empty() => Why::InUse { uses: needed },
                _ if !DELETABLE.contains(&image.status.as_str()) => Why::Building,
                None => Why::UnknownTask,
                Some(kept) if ranked && rank <= kept.keep => Why::Newest { rank },
                Some(kept) if age_kept(image.created, kept.keep_days, now) => Why::Young,
                Some(_) => Why::Expired,
            };
            let action = action_for(why == Why::Expired, image.marked, now, grace);
            out.push(ImageVerdict {
                image: image.clone(),
                retention: kept,
                why,
                action,
            });
        }
    }
    out
}

/// The verdict on each snapshot that no image or disk uses any more (a leftover of an
/// execution that died before it cleaned up, or of a deletion cut short): those of an
/// execution in `at_work` stay, as do those younger than `keep_days`.
pub fn snapshots(
    snapshots: &[ManagedSnapshot],
    at_work: &BTreeSet<String>,
    keep_days: u32,
    now: DateTime<Utc>,
    grace: Duration,
) -> Vec<SnapshotVerdict> {
    snapshots
        .iter()
        .map(|s| {
            let why = if s.usage != "none" {
                Why::InUse { uses: Vec::new() }
            } else if !SNAPSHOT_DELETABLE.contains(&s.status.as_str()) {
                Why::Building
            } else if s.execution.as_ref().is_some_and(|e| at_work.contains(e)) {
                Why::ExecutionAtWork
            } else if age_kept(s.created, keep_days, now) {
                Why::Young
            } else {
                Why::Expired
            };
            let action = action_for(why == Why::Expired, s.marked, now, grace);
            SnapshotVerdict {
                snapshot: s.clone(),
                why,
                action,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-29T12:00:00Z".parse().unwrap()
    }

    fn image(id: &str, task: Option<&str>, days_old: i64) -> ManagedImage {
        ManagedImage {
            image_id: id.into(),
            status: "Available".into(),
            created: Some(now() - Duration::days(days_old)),
            task: task.map(Into::into),
            ..ManagedImage::default()
        }
    }

    fn verdicts(list: &[ManagedImage], uses: &BTreeMap<String, Vec<Use>>) -> Vec<(String, Why)> {
        images(
            list,
            uses,
            |_| {
                Some(Retention {
                    keep: 2,
                    keep_days: 10,
                })
            },
            now(),
            Duration::hours(24),
        )
        .into_iter()
        .map(|v| (v.image.image_id, v.why))
        .collect()
    }

    #[test]
    fn the_newest_n_and_the_young_stay_per_task_and_the_rest_expire() {
        let list = [
            image("m-a30", Some("t-a"), 30),
            image("m-a40", Some("t-a"), 40),
            image("m-a20", Some("t-a"), 20),
            image("m-a5", Some("t-a"), 5),
            image("m-a1", Some("t-a"), 1),
            image("m-b50", Some("t-b"), 50),
            image("m-run", None, 12),
        ];
        let found = verdicts(&list, &BTreeMap::new());
        let why = |id: &str| found.iter().find(|(i, _)| i == id).unwrap().1.clone();
        assert_eq!(why("m-a1"), Why::Newest { rank: 1 });
        assert_eq!(why("m-a5"), Why::Newest { rank: 2 });
        assert_eq!(why("m-a20"), Why::Expired);
        assert_eq!(why("m-a30"), Why::Expired);
        assert_eq!(why("m-a40"), Why::Expired);
        // Another task's only image is its newest, whatever its age.
        assert_eq!(why("m-b50"), Why::Newest { rank: 1 });
        assert_eq!(why("m-run"), Why::Newest { rank: 1 });
    }

    #[test]
    fn an_image_in_use_stays_and_one_still_building_is_never_touched() {
        let mut building = image("m-building", Some("t"), 90);
        building.status = "Creating".into();
        let mut failed = image("m-failed", Some("t"), 90);
        failed.status = "CreateFailed".into();
        let list = [
            image("m-1", Some("t"), 1),
            image("m-2", Some("t"), 2),
            image("m-used", Some("t"), 60),
            building,
            failed,
        ];
        let uses = BTreeMap::from([(
            "m-used".to_owned(),
            vec![Use::LaunchTemplate {
                id: "lt-1".into(),
                version: 3,
            }],
        )]);
        let found = verdicts(&list, &uses);
        let why = |id: &str| found.iter().find(|(i, _)| i == id).unwrap().1.clone();
        assert!(matches!(why("m-used"), Why::InUse { .. }));
        assert_eq!(why("m-building"), Why::Building);
        // A failed image is never among the newest kept by count.
        assert_eq!(why("m-failed"), Why::Expired);
    }

    #[test]
    fn marking_waits_out_the_grace_and_a_needed_image_is_unmarked() {
        let grace = Duration::hours(24);
        assert_eq!(action_for(true, None, now(), grace), Action::Mark);
        let marked = now() - Duration::hours(23);
        assert_eq!(
            action_for(true, Some(marked), now(), grace),
            Action::Wait {
                until: marked + grace
            }
        );
        let marked = now() - Duration::hours(24);
        assert_eq!(action_for(true, Some(marked), now(), grace), Action::Delete);
        assert_eq!(
            action_for(false, Some(marked), now(), grace),
            Action::Unmark
        );
        assert_eq!(action_for(false, None, now(), grace), Action::Keep);
    }

    #[test]
    fn a_snapshot_goes_only_when_nothing_uses_it_and_no_execution_at_work_made_it() {
        let snap = |id: &str, usage: &str, execution: &str, days: i64| ManagedSnapshot {
            snapshot_id: id.into(),
            status: "accomplished".into(),
            created: Some(now() - Duration::days(days)),
            usage: usage.into(),
            execution: Some(execution.into()),
            marked: None,
        };
        let list = [
            snap("s-image", "image", "e-1", 90),
            snap("s-orphan", "none", "e-1", 90),
            snap("s-work", "none", "e-2", 90),
            snap("s-young", "none", "e-1", 1),
        ];
        let at_work = BTreeSet::from(["e-2".to_owned()]);
        let found = snapshots(&list, &at_work, 14, now(), Duration::hours(24));
        let got: Vec<(&str, &Why, Action)> = found
            .iter()
            .map(|v| (v.snapshot.snapshot_id.as_str(), &v.why, v.action))
            .collect();
        assert_eq!(got[0].2, Action::Keep);
        assert_eq!(got[1], ("s-orphan", &Why::Expired, Action::Mark));
        assert_eq!(got[2], ("s-work", &Why::ExecutionAtWork, Action::Keep));
        assert_eq!(got[3], ("s-young", &Why::Young, Action::Keep));
    }

    #[test]
    fn an_undated_image_takes_no_place_among_the_newest_and_an_unknown_tasks_stay() {
        let mut undated = image("m-undated", Some("t"), 0);
        undated.created = None;
        let list = [
            undated,
            image("m-30", Some("t"), 30),
            image("m-other", Some("x"), 90),
        ];
        let found = images(
            &list,
            &BTreeMap::new(),
            |task| {
                (task == Some("t")).then_some(Retention {
                    keep: 1,
                    keep_days: 10,
                })
            },
            now(),
            Duration::hours(24),
        );
        let why = |id: &str| &found.iter().find(|v| v.image.image_id == id).unwrap().why;
        assert_eq!(*why("m-30"), Why::Newest { rank: 1 });
        assert_eq!(*why("m-undated"), Why::Young);
        assert_eq!(*why("m-other"), Why::UnknownTask);
        assert!(found.iter().all(|v| v.action == Action::Keep));
    }

    #[test]
    fn the_grace_is_counted_in_minutes_and_one_past_the_calendar_never_ends() {
        let marked: DateTime<Utc> = "2026-11-28T00:00:03Z".parse().unwrap();
        let next_tick: DateTime<Utc> = "2026-11-29T00:00:01Z".parse().unwrap();
        let grace = Duration::hours(24);
        assert_eq!(
            action_for(true, Some(marked), next_tick, grace),
            Action::Delete
        );
        let early: DateTime<Utc> = "2026-11-28T23:59:59Z".parse().unwrap();
        assert!(matches!(
            action_for(true, Some(marked), early, grace),
            Action::Wait { .. }
        ));
        let endless = Duration::days(365 * 300_000);
        assert!(matches!(
            action_for(true, Some(marked), next_tick, endless),
            Action::Wait { .. }
        ));
    }

    #[test]
    fn a_retention_that_keeps_nothing_is_refused() {
        assert!(
            Retention {
                keep: 0,
                keep_days: 3
            }
            .problem()
            .is_some()
        );
        assert!(Retention::default().problem().is_none());
        let parsed: Retention = serde_json::from_str(r#"{"keep": 3}"#).unwrap();
        assert_eq!(parsed.keep_days, DEFAULT_KEEP_DAYS);
        assert!(serde_json::from_str::<Retention>(r#"{"keep": 3, "days": 1}"#).is_err());
    }
}
