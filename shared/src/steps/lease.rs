//! Leases: at most one execution at work on a scaling configuration.
//!
//! Two executions that update the same configuration side by side (a scheduled slot and a
//! webhook, two webhooks for two commits) would race: one's rollback could put back an image
//! over the other's swap. So an execution holds a lease on each of its configurations from
//! before its snapshot until it ends, kept as create-only records like everything else:
//!
//! ```text
//! leases/<configuration-id>/<seq>.json   {"kind": "hold" | "wait", "execution_id", …}
//! ```
//!
//! - The configuration's **holder** is the execution of its latest `hold` entry, while that
//!   execution is live: pending, and not past its lease deadline ([`LeaseTimes::deadline`]).
//!   Release is implicit: an execution that ends (succeeded, failed, superseded) holds
//!   nothing, so no crash can leave a lease behind; an execution that stops moving is
//!   presumed dead once past its deadline and its leases are taken over.
//! - An execution **acquires** its configurations in sorted order (so two executions can
//!   never each hold what the other waits for), appending a `hold` entry to each free one.
//!   Two writers racing for the same entry number: one gets it, the other reads again.
//! - On a busy configuration it appends one `wait` entry and its create-image step is
//!   recorded again, to try again later ([`LeaseTimes::poll_after`]).
//! - **The newest request wins.** Until it holds every lease, an execution looks at its
//!   lowest configuration's log (any execution that updates all of its configurations must
//!   pass there first): an entry by a live execution started after it (by start time, then
//!   id) that updates every configuration it does (and maybe more) means that execution will
//!   carry its request. It ends [`State::Superseded`], naming the newest such execution,
//!   before creating or changing anything.
//! - Before swap-config changes anything, the execution checks that it still holds every
//!   lease; one that was presumed dead and taken over fails, deleting its image and snapshot.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::records::{EngineError, latest_record};
use super::{EngineConfig, chrono_duration};
use crate::model::{ExecutionId, State, StepRecord};
use crate::store::{SharedStore, StoreError};

/// The store prefix of every lease log.
pub const LEASES_PREFIX: &str = "leases/";

/// How many times in a row an acquisition may lose the race for a log's next entry before
/// the step gives up for now (its event is tried again).
const MAX_RACES: usize = 8;

/// What a lease log entry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// The execution holds the configuration from this entry on.
    Hold,
    /// The execution waits for the configuration.
    Wait,
}

/// One entry of a configuration's lease log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseEntry {
    /// Hold or wait.
    pub kind: EntryKind,
    /// The execution.
    pub execution_id: ExecutionId,
    /// Every configuration that execution updates (to tell whether it carries another's
    /// request).
    pub configuration_ids: Vec<String>,
    /// When the entry was written.
    pub written_at: DateTime<Utc>,
}

/// The part of a configuration's lease log that matters now: the latest `hold` entry and
/// the entries after it.
#[derive(Debug, Clone, Default)]
pub struct LeaseLog {
    /// The latest `hold` entry, if any.
    pub hold: Option<LeaseEntry>,
    /// The entries after it, oldest first.
    pub after: Vec<LeaseEntry>,
    /// The number the next entry takes.
    pub next_seq: u64,
}

impl LeaseLog {
    /// The hold and the entries after it, oldest first.
    fn tail(&self) -> impl Iterator<Item = &LeaseEntry> {
        self.hold.iter().chain(&self.after)
    }
}

/// The store key of entry `seq` of `configuration_id`'s lease log.
pub fn entry_key(configuration_id: &str, seq: u64) -> String {
    format!("{LEASES_PREFIX}{configuration_id}/{seq:06}.json")
}

fn parse_entry_key(key: &str) -> Option<(&str, u64)> {
    let rest = key.strip_prefix(LEASES_PREFIX)?;
    let (configuration_id, file) = rest.split_once('/')?;
    let seq = file.strip_suffix(".json")?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((configuration_id, seq.parse().ok()?))
}

/// Reads the tail of `configuration_id`'s lease log: newest entry first, back to the latest
/// `hold`. An entry that cannot be read is skipped (and logged): it holds nothing.
pub async fn read_log(store: &SharedStore, configuration_id: &str) -> Result<LeaseLog, StoreError> {
    let prefix = format!("{LEASES_PREFIX}{configuration_id}/");
    let mut seqs: Vec<u64> = store
        .list(&prefix)
        .await?
        .iter()
        .filter_map(|key| parse_entry_key(key))
        .filter(|(id, _)| *id == configuration_id)
        .map(|(_, seq)| seq)
        .collect();
    seqs.sort_unstable();
    let mut log = LeaseLog {
        next_seq: seqs.last().map_or(0, |last| last + 1),
        ..LeaseLog::default()
    };
    for seq in seqs.into_iter().rev() {
        let key = entry_key(configuration_id, seq);
        let Some(bytes) = store.get(&key).await? else {
            continue;
        };
        let entry: LeaseEntry = match serde_json::from_slice(&bytes) {
            Ok(entry) => entry,
            Err(e) => {
                tracing::warn!(%key, reason = %e, "the lease check skips an unreadable entry");
                continue;
            }
        };
        if entry.kind == EntryKind::Hold {
            log.hold = Some(entry);
            break;
        }
        log.after.push(entry);
    }
    log.after.reverse();
    Ok(log)
}

/// Appends `entry` as entry `seq` of `configuration_id`'s log; `false` if another writer
/// took that number first.
async fn append(
    store: &SharedStore,
    configuration_id: &str,
    seq: u64,
    entry: &LeaseEntry,
) -> Result<bool, StoreError> {
    let body = serde_json::to_vec_pretty(entry).unwrap_or_default();
    match store.create(&entry_key(configuration_id, seq), &body).await {
        Ok(()) => Ok(true),
        Err(StoreError::AlreadyExists { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The timings that decide when a lease is presumed abandoned and how often a waiting
/// execution looks again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTimes {
    /// See [`EngineConfig::image_deadline`].
    pub image_deadline: Duration,
    /// See [`EngineConfig::lease_margin`].
    pub margin: Duration,
    /// See [`EngineConfig::lease_poll`].
    pub poll: Duration,
}

impl LeaseTimes {
    /// The timings of `config`.
    pub fn of(config: &EngineConfig) -> Self {
        Self {
            image_deadline: config.image_deadline,
            margin: config.lease_margin,
            poll: config.lease_poll,
        }
    }

    /// Until when an execution whose latest record is `record` counts as live, or `None` if
    /// it has ended. Past this, its leases are taken over.
    ///
    /// An execution at work (every lease held) must have finished within its image deadline
    /// and a margin for swap-config and verify; one still acquiring must have run its
    /// pending step within the margin of its due time (the sweep re-dispatches a lost step
    /// well before that).
    pub fn deadline(&self, record: &StepRecord) -> Option<DateTime<Utc>> {
        let State::Pending { due_at, .. } = &record.state else {
            return None;
        };
        let margin = chrono_duration(self.margin);
        Some(match record.learned.leased_at {
            Some(leased_at) => leased_at + chrono_duration(self.image_deadline) + margin,
            None if record.learned.snapshot_id.is_some() => {
                // Started before leases existed: at work since its start.
                record.started_at + chrono_duration(self.image_deadline) + margin
            }
            None => *due_at + margin,
        })
    }

    /// The delay before a waiting execution looks again, after `polls` looks that found its
    /// configuration busy: [`LeaseTimes::poll`] doubled each time, up to five minutes.
    pub fn poll_after(&self, polls: u32) -> Duration {
        let factor = 1u32 << polls.min(16);
        self.poll
            .saturating_mul(factor)
            .min(super::delay::MAX_DELAY)
    }
}

/// Whether `execution_id` is live at `now`: its latest record is pending and within its
/// deadline. An execution whose record is missing or cannot be read is not.
async fn is_live(
    store: &SharedStore,
    times: &LeaseTimes,
    execution_id: &ExecutionId,
    now: DateTime<Utc>,
) -> Result<bool, EngineError> {
    match latest_record(store, execution_id).await {
        Ok(Some(record)) => Ok(times.deadline(&record).is_some_and(|d| now < d)),
        Ok(None) | Err(EngineError::Record(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The live holder of `configuration_id`, if any.
pub async fn holder(
    store: &SharedStore,
    times: &LeaseTimes,
    configuration_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<ExecutionId>, EngineError> {
    let log = read_log(store, configuration_id).await?;
    match log.hold {
        Some(hold) if is_live(store, times, &hold.execution_id, now).await? => {
            Ok(Some(hold.execution_id))
        }
        _ => Ok(None),
    }
}

/// What an acquisition came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// Every configuration is held by the execution.
    All,
    /// `configuration_id` is held by `holder`: wait.
    Busy {
        configuration_id: String,
        holder: ExecutionId,
    },
    /// A newer execution carries the request.
    Superseded(ExecutionId),
}

/// Acquires the lease of every configuration of `record`'s execution, in sorted order, or
/// says which one is busy, or which newer execution carries the request. Idempotent: a
/// replay finds the entries it wrote and goes on from there.
pub(crate) async fn acquire(
    store: &SharedStore,
    times: &LeaseTimes,
    record: &StepRecord,
    now: DateTime<Utc>,
) -> Result<Acquired, EngineError> {
    let me = &record.execution_id;
    let mut configurations = record.request.targets();
    configurations.sort();
    let Some(lowest) = configurations.first() else {
        return Ok(Acquired::All);
    };
    let first_log = read_log(store, lowest).await?;
    if let Some(carrier) = newer_carrier(store, times, &first_log, record, now).await? {
        return Ok(Acquired::Superseded(carrier));
    }
    let entry = |kind| LeaseEntry {
        kind,
        execution_id: me.clone(),
        configuration_ids: record.request.targets(),
        written_at: now,
    };
    for configuration_id in &configurations {
        let mut log = if configuration_id == lowest {
            Some(first_log.clone())
        } else {
            None
        };
        let mut races = 0;
        loop {
            let current = match log.take() {
                Some(log) => log,
                None => read_log(store, configuration_id).await?,
            };
            let holder = match &current.hold {
                Some(hold) if &hold.execution_id == me => break,
                Some(hold) if is_live(store, times, &hold.execution_id, now).await? => {
                    Some(hold.execution_id.clone())
                }
                _ => None,
            };
            let won = match &holder {
                None => {
                    append(
                        store,
                        configuration_id,
                        current.next_seq,
                        &entry(EntryKind::Hold),
                    )
                    .await?
                }
                Some(holder) => {
                    let waiting = current.after.iter().any(|e| &e.execution_id == me);
                    if waiting
                        || append(
                            store,
                            configuration_id,
                            current.next_seq,
                            &entry(EntryKind::Wait),
                        )
                        .await?
                    {
                        return Ok(Acquired::Busy {
                            configuration_id: configuration_id.clone(),
                            holder: holder.clone(),
                        });
                    }
                    false
                }
            };
            if won {
                break;
            }
            races += 1;
            if races >= MAX_RACES {
                return Err(EngineError::LeaseContention(configuration_id.clone()));
            }
        }
    }
    Ok(Acquired::All)
}

/// A live execution in `log` started after `record`'s (by start time, then id) that
/// updates every configuration `record` does.
async fn newer_carrier(
    store: &SharedStore,
    times: &LeaseTimes,
    log: &LeaseLog,
    record: &StepRecord,
    now: DateTime<Utc>,
) -> Result<Option<ExecutionId>, EngineError> {
    let me = (record.started_at, &record.execution_id);
    let mut newest: Option<StepRecord> = None;
    for entry in log.tail() {
        let covers = record
            .request
            .targets()
            .iter()
            .all(|c| entry.configuration_ids.contains(c));
        if entry.execution_id == record.execution_id || !covers {
            continue;
        }
        let Ok(Some(other)) = latest_record(store, &entry.execution_id).await else {
            continue;
        };
        let live = times.deadline(&other).is_some_and(|d| now < d);
        let key = (other.started_at, &other.execution_id);
        if live
            && key > me
            && newest
                .as_ref()
                .is_none_or(|n| key > (n.started_at, &n.execution_id))
        {
            newest = Some(other);
        }
    }
    Ok(newest.map(|n| n.execution_id))
}

/// The first configuration of `record`'s execution whose latest `hold` entry names another
/// execution, and that execution: the lease was taken over.
pub(crate) async fn lost_lease(
    store: &SharedStore,
    record: &StepRecord,
) -> Result<Option<(String, ExecutionId)>, EngineError> {
    for configuration_id in &record.request.targets() {
        let log = read_log(store, configuration_id).await?;
        match log.hold {
            Some(hold) if hold.execution_id == record.execution_id => {}
            Some(hold) => return Ok(Some((configuration_id.clone(), hold.execution_id))),
            // Nobody else holds it (its entries are unreadable): not taken over.
            None => {}
        }
    }
    Ok(None)
}

/// Every configuration with a lease log, and its log's tail (for `reimage doctor`).
pub async fn all_logs(store: &SharedStore) -> Result<Vec<(String, LeaseLog)>, StoreError> {
    let mut configurations: Vec<String> = store
        .list(LEASES_PREFIX)
        .await?
        .iter()
        .filter_map(|key| parse_entry_key(key).map(|(id, _)| id.to_owned()))
        .collect();
    configurations.dedup();
    let mut out = Vec::with_capacity(configurations.len());
    for configuration_id in configurations {
        let log = read_log(store, &configuration_id).await?;
        out.push((configuration_id, log));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_keys_sort_and_parse_back() {
        assert_eq!(entry_key("asc-1", 7), "leases/asc-1/000007.json");
        assert!(entry_key("asc-1", 9) < entry_key("asc-1", 10));
        assert_eq!(
            parse_entry_key(&entry_key("asc-1", 42)),
            Some(("asc-1", 42))
        );
        assert_eq!(parse_entry_key("leases/asc-1/x.json"), None);
        assert_eq!(parse_entry_key("executions/e/000001.json"), None);
        crate::store::validate_key(&entry_key("asc-bp1_x", 0)).unwrap();
    }

    #[test]
    fn polls_back_off_to_five_minutes() {
        let times = LeaseTimes::of(&EngineConfig::default());
        assert_eq!(times.poll_after(0), times.poll);
        assert_eq!(times.poll_after(1), times.poll * 2);
        assert_eq!(times.poll_after(40), super::super::delay::MAX_DELAY);
    }
}
