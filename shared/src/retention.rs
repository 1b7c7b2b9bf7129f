//! History that ends: which records of finished executions are old enough to go.
//!
//! An execution is removed whole, and only when it has ended (succeeded, failed or been
//! superseded) and its latest record was written before the cut-off; a pending execution, or
//! one whose latest record does not read, is never touched. With it go the entries that point
//! at it: the sweep's index (`live/`), the lease logs (`leases/`), the task's run index
//! (`task-runs/`) and the listings' index (`started/`, `task-started/`), as well as the
//! listings' entries of starts older than the cut-off that never wrote a record. Tasks are
//! never removed.
//!
//! On OSS the state bucket's lifecycle rules do this (template.yml); `reimage records prune`
//! does it for a file store.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::model::execution::{EXECUTIONS_PREFIX, ExecutionId, parse_record_key};
use crate::schedule::RUN_INDEX_PREFIX;
use crate::steps::latest_record;
use crate::steps::lease::{LEASES_PREFIX, LeaseEntry};
use crate::steps::live::LIVE_PREFIX;
use crate::steps::started::{self, STARTED_PREFIX, TASK_STARTED_PREFIX};
use crate::store::{SharedStore, StoreError};

/// What a prune removes, and what it keeps that is old.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PrunePlan {
    /// The executions removed.
    pub executions: BTreeSet<ExecutionId>,
    /// Every key removed: the executions' records and the entries that point at them.
    pub keys: Vec<String>,
    /// Old executions kept because they are still pending.
    pub kept_pending: BTreeSet<ExecutionId>,
    /// Old executions kept because their latest record does not read (see `reimage doctor`).
    pub kept_unreadable: BTreeSet<ExecutionId>,
}

/// The records of executions that ended before `cutoff`, read from `store`.
pub async fn plan(store: &SharedStore, cutoff: DateTime<Utc>) -> Result<PrunePlan, StoreError> {
    let mut plan = PrunePlan::default();
    let record_keys = store.list(EXECUTIONS_PREFIX).await?;
    let ids: BTreeSet<ExecutionId> = record_keys
        .iter()
        .filter_map(|k| parse_record_key(k).map(|(id, _)| id))
        .collect();
    for id in ids.iter().cloned() {
        match latest_record(store, &id).await {
            Ok(Some(record)) if record.written_at >= cutoff => {}
            Ok(Some(record)) if record.state.is_terminal() => {
                plan.executions.insert(id);
            }
            Ok(Some(_)) => {
                plan.kept_pending.insert(id);
            }
            Ok(None) => {}
            Err(crate::steps::EngineError::Store(e)) => return Err(e),
            Err(_) => {
                plan.kept_unreadable.insert(id);
            }
        }
    }
    let gone = |id: Option<ExecutionId>| id.is_some_and(|id| plan.executions.contains(&id));
    let mut keys: Vec<String> = record_keys
        .into_iter()
        .filter(|k| gone(parse_record_key(k).map(|(id, _)| id)))
        .collect();
    // `live/<hour>/<id>`, `task-runs/<task>/<id>.json`, `started/<rev>-<id>` and
    // `task-started/<task>/<rev>-<id>` name their execution.
    for prefix in [
        LIVE_PREFIX,
        RUN_INDEX_PREFIX,
        STARTED_PREFIX,
        TASK_STARTED_PREFIX,
    ] {
        for key in store.list(prefix).await? {
            let name = key.rsplit('/').next().unwrap_or_default();
            let id = match started::Entry::parse(name) {
                // An old entry of a start that never wrote a record goes too.
                Some(entry) if !ids.contains(&entry.execution_id) => {
                    if entry.started_ms < cutoff.timestamp_millis() {
                        keys.push(key);
                    }
                    continue;
                }
                Some(entry) => Some(entry.execution_id),
                None => ExecutionId::parse(name.strip_suffix(".json").unwrap_or(name)).ok(),
            };
            if gone(id) {
                keys.push(key);
            }
        }
    }
    // A lease entry names its execution in its body.
    for key in store.list(LEASES_PREFIX).await? {
        let Some(body) = store.get(&key).await? else {
            continue;
        };
        let entry: Option<LeaseEntry> = serde_json::from_slice(&body).ok();
        if gone(entry.map(|e| e.execution_id)) {
            keys.push(key);
        }
    }
    plan.keys = keys;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::model::State;
    use crate::steps::testing::{demo_engine, ended_and_stuck, request_onto};
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn only_executions_that_ended_before_the_cutoff_go_with_what_points_at_them() {
        let start = chrono::Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        let store: SharedStore = Arc::new(MemoryStore::new());
        let (engine, local) = demo_engine(store.clone(), &clock);
        // And a pending one of the same age.
        let (old, stuck) = ended_and_stuck(&engine, &local).await;
        clock.advance(Duration::from_secs(500 * 24 * 3600));
        let recent = engine.start_new(request_onto("asc-active")).await.unwrap();
        local.run_until_idle(&engine).await;
        assert!(engine.get(&old.execution_id).await.unwrap().unwrap().state == State::Succeeded);

        // Entries of starts that never wrote a record: one as old as the ended execution, one
        // from just now.
        let (never, starting) = (ExecutionId::derived("never"), ExecutionId::derived("now"));
        started::mark(&store, start, &never, Some("task-a"))
            .await
            .unwrap();
        started::mark(&store, clock.now(), &starting, None)
            .await
            .unwrap();

        let cutoff = clock.now() - chrono::Duration::days(400);
        let plan = super::plan(&store, cutoff).await.unwrap();
        assert_eq!(plan.executions, BTreeSet::from([old.execution_id.clone()]));
        let named = |id: &ExecutionId| {
            plan.keys
                .iter()
                .filter(|k| k.contains(id.as_str()))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(named(&never).len(), 2, "{:#?}", plan.keys);
        assert!(named(&starting).is_empty(), "{:#?}", plan.keys);
        assert_eq!(
            plan.kept_pending,
            BTreeSet::from([stuck.execution_id.clone()])
        );
        let of = |id: &ExecutionId| plan.keys.iter().filter(|k| k.contains(id.as_str())).count();
        let records = store.list(&old.execution_id.prefix()).await.unwrap().len();
        assert!(
            records >= 4 && of(&old.execution_id) > records,
            "{:#?}",
            plan.keys
        );
        assert!(
            plan.keys.iter().any(|k| k.starts_with(LEASES_PREFIX)),
            "{:#?}",
            plan.keys
        );
        for prefix in [LIVE_PREFIX, STARTED_PREFIX] {
            assert!(
                plan.keys
                    .iter()
                    .any(|k| k.starts_with(prefix) && k.contains(old.execution_id.as_str())),
                "{prefix}: {:#?}",
                plan.keys
            );
        }
        assert_eq!(of(&stuck.execution_id), 0);
        assert_eq!(of(&recent.execution_id), 0);
        // Every key of the old execution's records is in the plan.
        for key in store.list(&old.execution_id.prefix()).await.unwrap() {
            assert!(plan.keys.contains(&key), "{key}");
        }

        // Nothing ended before a cutoff before everything.
        let none = super::plan(&store, start).await.unwrap();
        assert!(none.executions.is_empty() && none.keys.is_empty());
    }
}
