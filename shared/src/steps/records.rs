//! Reading an execution's records, and what can go wrong in the engine: shared by the engine
//! and the leases.

use futures::StreamExt as _;

use super::started;
use crate::model::execution::{ExecutionId, RecordError, StepRecord, parse_record_key};
use crate::model::naming::NameError;
use crate::store::{SharedStore, StoreError, Unreadable};

use super::cloud::CloudError;

/// What went wrong in the engine itself (not in an execution: a failed execution is a
/// normal outcome, recorded in its last record).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The update request is not acceptable.
    #[error("invalid image update request: {0}")]
    InvalidRequest(String),
    /// The image name is not acceptable.
    #[error(transparent)]
    ImageName(#[from] NameError),
    /// An execution with this id exists already (a slot or delivery already started).
    #[error("execution {0} already exists")]
    AlreadyStarted(ExecutionId),
    /// No execution has this id.
    #[error("no execution {0}")]
    UnknownExecution(ExecutionId),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored record could not be read.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// No cloud client could be made for the execution's permission source.
    #[error("no cloud client for the execution's permissions")]
    Cloud(#[source] CloudError),
    /// Other writers kept taking the next entry of a configuration's lease log.
    #[error(
        "the lease log of scaling configuration {0} kept changing while this execution read \
         it; its step is tried again"
    )]
    LeaseContention(String),
}

/// The latest record of an execution in `store`, or `None` if there is no such execution.
pub async fn latest_record(
    store: &SharedStore,
    execution_id: &ExecutionId,
) -> Result<Option<StepRecord>, EngineError> {
    let keys = store.list(&execution_id.prefix()).await?;
    let Some(seq) = keys
        .iter()
        .filter_map(|k| parse_record_key(k))
        .filter(|(id, _)| id == execution_id)
        .map(|(_, seq)| seq)
        .max()
    else {
        return Ok(None);
    };
    read_record(store, execution_id, seq).await
}

pub(crate) async fn read_record(
    store: &SharedStore,
    id: &ExecutionId,
    seq: u64,
) -> Result<Option<StepRecord>, EngineError> {
    let key = id.record_key(seq);
    match store.get(&key).await? {
        Some(bytes) => Ok(Some(StepRecord::from_json(&key, &bytes)?)),
        None => Ok(None),
    }
}

/// How many executions of a page [`read_page`] reads at once.
pub const PAGE_READS: usize = 16;

/// A page of executions (see [`read_page`]).
#[derive(Debug, Default)]
pub struct ExecutionPage {
    /// The latest record of each execution that reads, newest start first.
    pub executions: Vec<StepRecord>,
    /// Latest records that cannot be read.
    pub unreadable: Vec<Unreadable>,
    /// Where the next page begins, when there is one.
    pub next: Option<started::Cursor>,
}

/// Up to `limit` executions of `task_id` (or of all), newest first, after `after`: one
/// listing of the [`started`] index, then each execution's latest record, read
/// [`PAGE_READS`] at a time. An entry with no execution behind it (a start that did not
/// happen) is passed over; a latest record that does not read is returned apart.
pub async fn read_page(
    store: &SharedStore,
    task_id: Option<&str>,
    after: Option<&started::Cursor>,
    limit: usize,
) -> Result<ExecutionPage, EngineError> {
    let page = started::page(store, task_id, after, limit).await?;
    let read: Vec<_> = futures::stream::iter(page.entries.clone())
        .map(|entry| {
            let store = store.clone();
            async move { latest_record(&store, &entry.execution_id).await }
        })
        .buffered(PAGE_READS)
        .collect()
        .await;
    let mut out = ExecutionPage {
        next: page.next,
        ..ExecutionPage::default()
    };
    for (entry, record) in page.entries.iter().zip(read) {
        match record {
            Ok(Some(record)) if entry.is_of(&record.execution_id, record.started_at) => {
                out.executions.push(record);
            }
            Ok(_) => {}
            Err(EngineError::Record(e)) => out.unreadable.push(Unreadable {
                key: e.key,
                reason: e.source.to_string(),
            }),
            Err(other) => return Err(other),
        }
    }
    Ok(out)
}
