//! Reading an execution's records, and what can go wrong in the engine: shared by the engine
//! and the leases.

use crate::model::execution::{ExecutionId, RecordError, StepRecord, parse_record_key};
use crate::model::naming::NameError;
use crate::store::{SharedStore, StoreError};

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
