//! The index the sweep reads: which executions had a step due in which hour.
//!
//! Before the engine writes a record that leaves an execution pending, it creates the empty
//! entry `live/<YYYYMMDDHH>/<execution-id>` for the hour (UTC) the record's step is due. The
//! minute's sweep lists the few hours that can hold an overdue step (see [`SWEEP_WINDOW`]),
//! so its cost follows the executions at work lately, not every execution that ever ran.
//! Entries are only ever added, like records; a finished execution's entries just stop being
//! listed once their hours fall out of the window.
//!
//! An entry is written before its record: a crash between the two leaves an entry whose
//! execution's latest record says what is true, and the sweep reads that record.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::model::execution::ExecutionId;
use crate::store::{SharedStore, StoreError};

/// Where the index lives in the store.
pub const LIVE_PREFIX: &str = "live/";

/// How far back, before the moment a step becomes overdue, the minute's sweep looks. A step
/// lost longer than this (a timer that did not fire for hours) is found by the first tick of
/// the day, which looks back [`DAILY_WINDOW`].
pub const SWEEP_WINDOW: Duration = Duration::hours(3);

/// How far back the first tick of each day (UTC) looks: one listing per hour. A step lost for
/// longer still (an outage of days) is found by [`crate::steps::Engine::sweep_all`], which
/// `reimage serve` runs at start.
pub const DAILY_WINDOW: Duration = Duration::hours(48);

/// The hour bucket of `at`: `YYYYMMDDHH`, UTC.
fn hour(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H").to_string()
}

/// The index entry of `execution_id` for a step due at `due_at`.
pub fn entry_key(due_at: DateTime<Utc>, execution_id: &ExecutionId) -> String {
    entry_key_in(LIVE_PREFIX, due_at, execution_id.as_str())
}

/// Records that `execution_id` has a step due at `due_at` (again: an entry that exists is
/// fine).
pub async fn mark(
    store: &SharedStore,
    due_at: DateTime<Utc>,
    execution_id: &ExecutionId,
) -> Result<(), StoreError> {
    match store.create(&entry_key(due_at, execution_id), b"").await {
        Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The executions with an entry in any hour from `from`'s to `until`'s, one listing per hour.
pub async fn due_between(
    store: &SharedStore,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<BTreeSet<ExecutionId>, StoreError> {
    Ok(entries_between(store, LIVE_PREFIX, from, until)
        .await?
        .into_iter()
        .filter_map(|(key, name)| match ExecutionId::parse(&name) {
            Ok(id) => Some(id),
            Err(_) => {
                tracing::warn!(%key, "the sweep skips an index entry it cannot read");
                None
            }
        })
        .collect())
}

/// The entries `(key, name)` under `<prefix><YYYYMMDDHH>/<name>` in any hour from `from`'s to
/// `until`'s, one listing per hour: the same hourly index for whatever else is due (the
/// rollouts keep theirs under another prefix).
pub async fn entries_between(
    store: &SharedStore,
    prefix: &str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    let mut at = from.duration_trunc(Duration::hours(1)).unwrap_or(from);
    while at <= until {
        let hour_prefix = format!("{prefix}{}/", hour(at));
        for key in store.list(&hour_prefix).await? {
            if let Some(name) = key.strip_prefix(&hour_prefix) {
                out.push((key.clone(), name.to_owned()));
            }
        }
        at += Duration::hours(1);
    }
    Ok(out)
}

/// The entry of `name` under `prefix` for something due at `due_at`.
pub fn entry_key_in(prefix: &str, due_at: DateTime<Utc>, name: &str) -> String {
    format!("{prefix}{}/{name}", hour(due_at))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;

    use super::*;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn entries_are_found_by_the_hours_they_are_due_in_and_marking_twice_is_fine() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let at = |h, m| Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0).unwrap();
        let (a, b, c) = (
            ExecutionId::derived("a"),
            ExecutionId::derived("b"),
            ExecutionId::derived("c"),
        );
        mark(&store, at(9, 59), &a).await.unwrap();
        mark(&store, at(9, 5), &a).await.unwrap();
        mark(&store, at(10, 30), &b).await.unwrap();
        mark(&store, at(13, 0), &c).await.unwrap();
        assert_eq!(entry_key(at(9, 59), &a), format!("live/2026030109/{a}"));
        let found = due_between(&store, at(9, 40), at(10, 1)).await.unwrap();
        assert_eq!(found, BTreeSet::from([a.clone(), b.clone()]));
        let found = due_between(&store, at(10, 59), at(12, 59)).await.unwrap();
        assert_eq!(found, BTreeSet::from([b]));
        assert!(
            due_between(&store, at(11, 0), at(12, 59))
                .await
                .unwrap()
                .is_empty()
        );
    }
}
