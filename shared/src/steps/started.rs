//! The index that listings read: executions newest first, a page at a time.
//!
//! Before the engine writes an execution's record 0 it creates the empty entry
//! `started/<rev>-<execution-id>` and, for a task's run, also
//! `task-started/<task-id>/<rev>-<execution-id>`. `<rev>` is 9999999999999 minus the start
//! time in milliseconds since the epoch, in 13 digits: OSS lists keys in ascending order only,
//! so the newest execution comes first. A page is one listing from a [`Cursor`], the last
//! entry of the page before: an execution that starts while someone pages sorts before the
//! cursor, so a walk through the pages shows no execution twice, and every execution that
//! had started when it began exactly once. (An execution whose entry is listed in the instant
//! before its record 0 exists is passed over by that walk; one whose entry is written late,
//! by an instance whose clock is behind, may sort after a cursor already handed out.)
//!
//! An entry is written before its record. A crash between the two leaves an entry with no
//! execution, and a start tried again later (or a second start of the same slot) writes a
//! second entry at its own time. So an entry counts only when its time is its execution's
//! `started_at` to the millisecond ([`Entry::is_of`]); readers skip the others.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::model::execution::{EXECUTIONS_PREFIX, ExecutionId, StepRecord, parse_record_key};
use crate::store::{SharedStore, StoreError, Unreadable};

/// Where the index of all executions lives in the store.
pub const STARTED_PREFIX: &str = "started/";

/// Where the per-task indexes live: `task-started/<task-id>/…`.
pub const TASK_STARTED_PREFIX: &str = "task-started/";

/// The largest time an entry can hold: 9999999999999 ms is in the year 2286.
const REV_BASE: i64 = 9_999_999_999_999;

/// The prefix of `task_id`'s index, or of the index of all executions.
pub fn index_prefix(task_id: Option<&str>) -> String {
    match task_id {
        Some(task) => format!("{TASK_STARTED_PREFIX}{task}/"),
        None => STARTED_PREFIX.to_owned(),
    }
}

/// One entry of the index: an execution and when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The execution.
    pub execution_id: ExecutionId,
    /// Its start, in milliseconds since the epoch.
    pub started_ms: i64,
}

impl Entry {
    /// The entry of `execution_id`, started at `started_at`.
    pub fn new(started_at: DateTime<Utc>, execution_id: &ExecutionId) -> Self {
        Self {
            execution_id: execution_id.clone(),
            started_ms: started_at.timestamp_millis().clamp(0, REV_BASE),
        }
    }

    /// The last segment of the entry's key: `<rev>-<execution-id>`.
    pub fn name(&self) -> String {
        format!("{:013}-{}", REV_BASE - self.started_ms, self.execution_id)
    }

    /// Reads the last segment of an entry's key.
    pub fn parse(name: &str) -> Option<Self> {
        let (rev, id) = name.split_once('-')?;
        if rev.len() != 13 || !rev.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            started_ms: REV_BASE - rev.parse::<i64>().ok()?,
            execution_id: ExecutionId::parse(id).ok()?,
        })
    }

    /// Whether this entry is the one of the execution that started at `started_at` (and not
    /// one left by a start that did not happen).
    pub fn is_of(&self, execution_id: &ExecutionId, started_at: DateTime<Utc>) -> bool {
        self.execution_id == *execution_id && self.started_ms == started_at.timestamp_millis()
    }
}

/// Where a page of a listing ends and the next begins: the last entry's name, opaque to
/// clients (`next` in `GET /executions`, `--after` in the CLI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(Entry);

/// Why a string is not a cursor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a cursor of an execution listing (it is the `next` of a page)")]
pub struct CursorError(pub String);

impl Cursor {
    /// Reads a cursor a client sent back.
    pub fn parse(text: &str) -> Result<Self, CursorError> {
        Entry::parse(text)
            .map(Self)
            .ok_or_else(|| CursorError(text.to_owned()))
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name())
    }
}

/// Indexes `execution_id`, started at `started_at`, among all executions and, when it is a
/// task's run, among the task's (an entry that exists is fine).
pub async fn mark(
    store: &SharedStore,
    started_at: DateTime<Utc>,
    execution_id: &ExecutionId,
    task_id: Option<&str>,
) -> Result<(), StoreError> {
    let name = Entry::new(started_at, execution_id).name();
    let prefixes =
        std::iter::once(index_prefix(None)).chain(task_id.map(|t| index_prefix(Some(t))));
    for prefix in prefixes {
        match store.create(&format!("{prefix}{name}"), b"").await {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What [`reindex`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reindexed {
    /// The executions indexed (again: an entry that existed is fine).
    pub indexed: usize,
    /// Records 0 that do not read: their executions stay out of the index.
    pub unreadable: Vec<Unreadable>,
}

/// Indexes every execution in `store` from its record 0: for a store written before this
/// index existed (`reimage records reindex`). One listing of every record key, then a read of
/// each execution's record 0 and its entries written.
pub async fn reindex(store: &SharedStore) -> Result<Reindexed, StoreError> {
    let ids: BTreeSet<ExecutionId> = store
        .list(EXECUTIONS_PREFIX)
        .await?
        .iter()
        .filter_map(|k| parse_record_key(k).map(|(id, _)| id))
        .collect();
    let mut out = Reindexed::default();
    for id in ids {
        let key = id.record_key(0);
        let Some(bytes) = store.get(&key).await? else {
            continue;
        };
        match StepRecord::from_json(&key, &bytes) {
            Ok(first) => {
                mark(
                    store,
                    first.started_at,
                    &id,
                    first.request.task_id.as_deref(),
                )
                .await?;
                out.indexed += 1;
            }
            Err(e) => out.unreadable.push(Unreadable {
                key: e.key,
                reason: e.source.to_string(),
            }),
        }
    }
    Ok(out)
}

/// One page of the index, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The entries, newest first.
    pub entries: Vec<Entry>,
    /// Where the next page begins, when there is one.
    pub next: Option<Cursor>,
}

/// Up to `limit` entries of the index of `task_id` (or of all executions) after `after`,
/// newest first: one store listing.
pub async fn page(
    store: &SharedStore,
    task_id: Option<&str>,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<Page, StoreError> {
    let prefix = index_prefix(task_id);
    let start_after = after.map(|c| format!("{prefix}{c}"));
    let listed = store
        .list_page(&prefix, start_after.as_deref(), limit)
        .await?;
    let mut entries = Vec::with_capacity(listed.keys.len());
    for key in &listed.keys {
        match key.strip_prefix(&prefix).and_then(Entry::parse) {
            Some(entry) => entries.push(entry),
            None => tracing::warn!(%key, "a listing skips an index entry it cannot read"),
        }
    }
    // The next page starts after the last entry of this one that reads (a key that does
    // not, something else under the prefix, is passed over; a page of nothing but such keys
    // ends the walk, with a warning above for each).
    let next = if listed.more {
        listed
            .keys
            .iter()
            .rev()
            .find_map(|key| key.strip_prefix(&prefix).and_then(Entry::parse))
            .map(Cursor)
    } else {
        None
    };
    Ok(Page { entries, next })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;

    use super::*;
    use crate::store::memory::MemoryStore;

    #[test]
    fn names_sort_newest_first_and_read_back() {
        let at = |s| Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, s).unwrap();
        let id = ExecutionId::derived("a");
        let (older, newer) = (Entry::new(at(0), &id), Entry::new(at(1), &id));
        assert!(newer.name() < older.name());
        assert_eq!(Entry::parse(&older.name()), Some(older.clone()));
        assert!(older.is_of(&id, at(0)));
        assert!(!older.is_of(&id, at(1)));
        assert!(!older.is_of(&ExecutionId::derived("b"), at(0)));
        for bad in [
            "",
            "123-x",
            "abcdefghijklm-x",
            "0000000000000-",
            "0000000000000-a/b",
        ] {
            assert_eq!(Entry::parse(bad), None, "{bad:?}");
            assert!(Cursor::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn pages_walk_newest_first_and_a_task_has_its_own_index() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let at = |s| Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, s).unwrap();
        let ids: Vec<ExecutionId> = (0..5)
            .map(|i| ExecutionId::derived(&i.to_string()))
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let task = (i % 2 == 0).then_some("nightly");
            mark(&store, at(i as u32), id, task).await.unwrap();
            mark(&store, at(i as u32), id, task).await.unwrap();
        }
        let first = page(&store, None, None, 2).await.unwrap();
        let second = page(&store, None, first.next.as_ref(), 2).await.unwrap();
        let third = page(&store, None, second.next.as_ref(), 2).await.unwrap();
        let walked: Vec<&ExecutionId> = [&first, &second, &third]
            .iter()
            .flat_map(|p| p.entries.iter().map(|e| &e.execution_id))
            .collect();
        let newest_first: Vec<&ExecutionId> = ids.iter().rev().collect();
        assert_eq!(walked, newest_first);
        assert_eq!(third.next, None);
        let task = page(&store, Some("nightly"), None, 10).await.unwrap();
        let of_task: Vec<&ExecutionId> = task.entries.iter().map(|e| &e.execution_id).collect();
        assert_eq!(of_task, [&ids[4], &ids[2], &ids[0]]);
        assert_eq!(task.next, None);
    }
}
