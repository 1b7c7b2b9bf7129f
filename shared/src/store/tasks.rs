//! Task records in the state store: each edit of a task is a new record
//! (`tasks/<task-id>/<seq>.json`), the highest seq its current state; webhook secrets sealed
//! before they are written and opened only to check a webhook.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::StreamExt as _;

use crate::model::task::{
    PreviousWebhookSecret, StoredSecret, TaskChange, TaskRecord, TaskSpec, WebhookSecret,
};
use crate::notify::StoredTarget;
use crate::secrets::{SealError, SealedSecret, SharedSealer};
use crate::store::{SharedStore, StoreError, Unreadable};

/// What [`TaskStore::scan`] found.
#[derive(Debug, Default)]
pub struct TaskScan {
    /// Live tasks, ordered by id.
    pub tasks: Vec<TaskRecord>,
    /// Latest records that cannot be read.
    pub unreadable: Vec<Unreadable>,
    /// The ids of deleted tasks (their latest record is a tombstone), ordered.
    pub deleted: Vec<String>,
}

/// What went wrong reading or writing task records.
#[derive(Debug, thiserror::Error)]
pub enum TaskStoreError {
    /// No task with this id (or it was deleted).
    #[error("task {0} not found")]
    NotFound(String),
    /// A task with this id exists already.
    #[error("task {0} already exists")]
    AlreadyExists(String),
    /// Other writers kept winning the race for the next record.
    #[error("task {0} is being changed by another writer; try again")]
    Contended(String),
    /// A secret could not be sealed or opened (the message never holds the secret).
    #[error("cannot seal or open a secret of task {task_id}")]
    Sealing {
        /// The task.
        task_id: String,
        /// Why.
        #[source]
        source: SealError,
    },
    /// A stored record that cannot be read back.
    #[error("task record {key} is corrupt: {message}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// The decoder's message.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Task records in a [`crate::store::StateStore`].
#[derive(Clone)]
pub struct TaskStore {
    store: SharedStore,
    sealer: Option<SharedSealer>,
    /// Opened webhook secrets by task id, each with its sealed form (so a changed secret is
    /// never answered from here): at most two per task (the current one and a rotated-out
    /// one), at most [`OPENED_MAX`] tasks.
    opened: Arc<Mutex<OpenedSecrets>>,
}

impl fmt::Debug for TaskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskStore")
            .field("store", &self.store)
            .field("sealer", &self.sealer)
            .finish_non_exhaustive()
    }
}

/// Opened webhook secrets by task id: each with the ciphertext it was opened from.
type OpenedSecrets = HashMap<String, Vec<(String, WebhookSecret)>>;

/// How many tasks' opened webhook secrets a [`TaskStore`] keeps in memory.
const OPENED_MAX: usize = 10_000;

/// How many records [`TaskStore::list`] reads at once.
const LIST_CONCURRENCY: usize = 32;

/// How often an edit retries when another writer took the next seq.
const EDIT_ATTEMPTS: usize = 5;

/// The key of record `seq` of task `task_id`. Seqs are zero-padded so that a listing's byte
/// order is their numeric order.
pub fn task_key(task_id: &str, seq: u64) -> String {
    format!("tasks/{task_id}/{seq:010}.json")
}

/// A fresh task id: `task-` and a unique id from `ids`.
pub fn new_task_id(ids: &dyn crate::ids::IdSource) -> String {
    format!("task-{}", ids.unique())
}

/// Whether `id` can be a task id (one store key segment, not `.` or `..`).
pub fn is_valid_task_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl TaskStore {
    /// Tasks in `store`, without a sealer: such a store reads tasks, and writes those without
    /// a webhook secret; storing or opening a secret needs [`TaskStore::with_sealer`].
    pub fn new(store: SharedStore) -> Self {
        Self {
            store,
            sealer: None,
            opened: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Seals webhook secrets with `sealer` (none: secrets can be neither stored nor opened).
    pub fn with_sealer(mut self, sealer: Option<SharedSealer>) -> Self {
        self.sealer = sealer;
        self
    }

    /// The sealer, if any.
    pub fn sealer(&self) -> Option<&SharedSealer> {
        self.sealer.as_ref()
    }

    fn sealing_error(task_id: &str, source: SealError) -> TaskStoreError {
        TaskStoreError::Sealing {
            task_id: task_id.to_owned(),
            source,
        }
    }

    fn remember_opened(&self, task_id: &str, sealed: &SealedSecret, secret: &WebhookSecret) {
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if opened.len() >= OPENED_MAX && !opened.contains_key(task_id) {
            opened.clear();
        }
        let known = opened.entry(task_id.to_owned()).or_default();
        if known.iter().any(|(c, _)| *c == sealed.ciphertext) {
            return;
        }
        if known.len() >= 2 {
            known.remove(0);
        }
        known.push((sealed.ciphertext.clone(), secret.clone()));
    }

    /// Seals `secret` for `task_id`, unless it is sealed already.
    pub async fn seal_secret(
        &self,
        task_id: &str,
        secret: StoredSecret,
    ) -> Result<StoredSecret, TaskStoreError> {
        let StoredSecret::Plain(plain) = secret else {
            return Ok(secret);
        };
        let sealer = self
            .sealer
            .as_ref()
            .ok_or_else(|| Self::sealing_error(task_id, SealError::NoSealer))?;
        let sealed = sealer
            .seal(plain.expose(), task_id)
            .await
            .map_err(|e| Self::sealing_error(task_id, e))?;
        self.remember_opened(task_id, &sealed, &plain);
        Ok(StoredSecret::Sealed(sealed))
    }

    /// Opens a secret of task `task_id` (a plaintext one, from a record written before
    /// secrets were sealed, is answered as it is). Opened secrets are kept in memory.
    pub async fn open_secret(
        &self,
        task_id: &str,
        secret: Option<&StoredSecret>,
    ) -> Result<Option<WebhookSecret>, TaskStoreError> {
        let sealed = match secret {
            None => return Ok(None),
            Some(StoredSecret::Plain(plain)) => return Ok(Some(plain.clone())),
            Some(StoredSecret::Sealed(sealed)) => sealed,
        };
        if let Some((_, secret)) = self
            .opened
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(task_id)
            .and_then(|known| known.iter().find(|(c, _)| *c == sealed.ciphertext))
        {
            return Ok(Some(secret.clone()));
        }
        let sealer = self
            .sealer
            .as_ref()
            .ok_or_else(|| Self::sealing_error(task_id, SealError::NoSealer))?;
        let bytes = sealer
            .open(sealed, task_id)
            .await
            .map_err(|e| Self::sealing_error(task_id, e))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Self::sealing_error(
                task_id,
                SealError::Malformed("the opened secret is not UTF-8".into()),
            )
        })?;
        let secret = WebhookSecret::new(text);
        self.remember_opened(task_id, sealed, &secret);
        Ok(Some(secret))
    }

    /// The webhook secret of `record`, opened; `None` if the task has no webhook.
    pub async fn webhook_secret(
        &self,
        record: &TaskRecord,
    ) -> Result<Option<WebhookSecret>, TaskStoreError> {
        self.open_secret(&record.task_id, record.spec.webhook_secret.as_ref())
            .await
    }

    /// The webhook secrets of `record` accepted at `now` ([`TaskRecord::webhook_secrets`]),
    /// opened.
    pub async fn webhook_secrets(
        &self,
        record: &TaskRecord,
        now: DateTime<Utc>,
    ) -> Result<Vec<WebhookSecret>, TaskStoreError> {
        let mut out = Vec::new();
        for secret in record.webhook_secrets(now) {
            if let Some(opened) = self.open_secret(&record.task_id, Some(secret)).await? {
                out.push(opened);
            }
        }
        Ok(out)
    }

    /// Seals every secret `record` holds in plaintext. Every secret field of a task record
    /// goes through here before the record is written.
    async fn seal_secrets(&self, record: &mut TaskRecord) -> Result<(), TaskStoreError> {
        if let Some(secret) = record.spec.webhook_secret.take() {
            record.spec.webhook_secret = Some(self.seal_secret(&record.task_id, secret).await?);
        }
        if let Some(previous) = record.previous_webhook_secret.as_mut() {
            let secret = std::mem::replace(
                &mut previous.secret,
                StoredSecret::Plain(WebhookSecret::new(String::new())),
            );
            previous.secret = self.seal_secret(&record.task_id, secret).await?;
        }
        if record
            .spec
            .notify
            .iter()
            .any(|t| matches!(t, StoredTarget::Plain(_)))
        {
            let sealer = self
                .sealer
                .clone()
                .ok_or_else(|| Self::sealing_error(&record.task_id, SealError::NoSealer))?;
            for target in std::mem::take(&mut record.spec.notify) {
                let sealed = target
                    .seal(&sealer, &record.task_id)
                    .await
                    .map_err(|e| Self::sealing_error(&record.task_id, e))?;
                record.spec.notify.push(sealed);
            }
        }
        Ok(())
    }

    /// The notification targets of `record`, opened.
    pub async fn notify_targets(
        &self,
        record: &TaskRecord,
    ) -> Result<Vec<crate::notify::Target>, TaskStoreError> {
        let mut out = Vec::with_capacity(record.spec.notify.len());
        for target in &record.spec.notify {
            out.push(
                target
                    .open(self.sealer.as_ref(), &record.task_id)
                    .await
                    .map_err(|e| Self::sealing_error(&record.task_id, e))?,
            );
        }
        Ok(out)
    }

    /// The underlying store.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Stores a new task as record 0. The spec must have been validated.
    pub async fn create(
        &self,
        task_id: &str,
        spec: TaskSpec,
        now: DateTime<Utc>,
    ) -> Result<TaskRecord, TaskStoreError> {
        let mut record = TaskRecord {
            task_id: task_id.to_owned(),
            seq: 0,
            change: TaskChange::Created,
            recorded_at: now,
            created_at: now,
            enabled: true,
            spec,
            previous_webhook_secret: None,
            enabled_since: None,
            disabled_reason: None,
        };
        match self.put(&mut record).await {
            Err(TaskStoreError::Store(StoreError::AlreadyExists { .. })) => {
                Err(TaskStoreError::AlreadyExists(task_id.to_owned()))
            }
            other => other.map(|()| record),
        }
    }

    /// The current record of a task, tombstones included; `None` if it never existed.
    pub async fn latest(&self, task_id: &str) -> Result<Option<TaskRecord>, TaskStoreError> {
        if !is_valid_task_id(task_id) {
            return Ok(None);
        }
        let keys = self.store.list(&format!("tasks/{task_id}/")).await?;
        let Some(key) = keys
            .iter()
            .filter_map(|k| Some((seq_of(k)?, k)))
            .max_by_key(|(seq, _)| *seq)
            .map(|(_, k)| k)
        else {
            return Ok(None);
        };
        self.read(key).await
    }

    /// The current state of a live task.
    pub async fn get(&self, task_id: &str) -> Result<TaskRecord, TaskStoreError> {
        match self.latest(task_id).await? {
            Some(record) if !record.is_deleted() => Ok(record),
            _ => Err(TaskStoreError::NotFound(task_id.to_owned())),
        }
    }

    /// The current state of every live task, ordered by id. A task whose latest record
    /// cannot be read is left out and logged (see [`TaskStore::scan`]): one bad record never
    /// stops a listing or the minute tick for every other task.
    pub async fn list(&self) -> Result<Vec<TaskRecord>, TaskStoreError> {
        let scan = self.scan().await?;
        for bad in &scan.unreadable {
            bad.warn_skipped("the task listing");
        }
        Ok(scan.tasks)
    }

    /// Every live task whose latest record reads, and the latest records that do not.
    pub async fn scan(&self) -> Result<TaskScan, TaskStoreError> {
        let keys = self.store.list("tasks/").await?;
        // Keys come in byte order, so the last key of each task is its highest seq.
        let mut latest: Vec<&String> = Vec::new();
        let mut last_id: Option<&str> = None;
        for key in &keys {
            let Some(id) = key
                .strip_prefix("tasks/")
                .and_then(|rest| rest.split_once('/'))
                .map(|(id, _)| id)
            else {
                continue;
            };
            if seq_of(key).is_none() {
                continue;
            }
            if last_id == Some(id) {
                if let Some(last) = latest.last_mut() {
                    *last = key;
                }
            } else {
                latest.push(key);
                last_id = Some(id);
            }
        }
        // Read several records at once: each read is a round trip (a file, an OSS GET).
        let read: Vec<Result<Option<TaskRecord>, TaskStoreError>> =
            futures::stream::iter(latest.into_iter().cloned())
                .map(|key: String| async move { self.read(&key).await })
                .buffered(LIST_CONCURRENCY)
                .collect()
                .await;
        let mut out = TaskScan::default();
        for record in read {
            match record {
                Ok(Some(record)) if !record.is_deleted() => out.tasks.push(record),
                Ok(Some(record)) => out.deleted.push(record.task_id),
                Ok(None) => {}
                Err(TaskStoreError::Corrupt { key, message }) => out.unreadable.push(Unreadable {
                    key,
                    reason: message,
                }),
                Err(other) => return Err(other),
            }
        }
        Ok(out)
    }

    /// Records an edit: disable, enable or delete. An edit that changes nothing (enabling an
    /// enabled task) returns the current record without writing one.
    pub async fn change(
        &self,
        task_id: &str,
        change: TaskChange,
        now: DateTime<Utc>,
    ) -> Result<TaskRecord, TaskStoreError> {
        self.edit(task_id, change, None, None, now).await
    }

    /// Disables a task whose runs keep failing (see
    /// [`crate::model::task::TaskSpec::disable_after_failures`]), saying why, if its current
    /// record is still `seq`, the one the decision was made from: `None` if it is not (it was
    /// enabled again, or edited, meanwhile). A disabled task is left as it is.
    pub async fn disable_after_failures(
        &self,
        task_id: &str,
        seq: u64,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<Option<TaskRecord>, TaskStoreError> {
        let record = self
            .edit(
                task_id,
                TaskChange::DisabledAfterFailures,
                Some(reason),
                Some(seq),
                now,
            )
            .await?;
        let written = record.seq == seq + 1 && record.change == TaskChange::DisabledAfterFailures;
        Ok(written.then_some(record))
    }

    /// Writes `change` on top of the current record, unless `only_at` is given and the current
    /// record is not that seq: then the current record is returned unchanged.
    async fn edit(
        &self,
        task_id: &str,
        change: TaskChange,
        reason: Option<String>,
        only_at: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<TaskRecord, TaskStoreError> {
        for _ in 0..EDIT_ATTEMPTS {
            let current = self.get(task_id).await?;
            if only_at.is_some_and(|seq| seq != current.seq) {
                return Ok(current);
            }
            let enabled = match change {
                TaskChange::Disabled | TaskChange::DisabledAfterFailures => false,
                TaskChange::Enabled => true,
                TaskChange::Deleted => current.enabled,
                TaskChange::Created | TaskChange::WebhookSecretRotated => {
                    return Err(TaskStoreError::AlreadyExists(task_id.into()));
                }
            };
            if change != TaskChange::Deleted && enabled == current.enabled {
                return Ok(current);
            }
            let (enabled_since, disabled_reason) = match change {
                // Enabled again: earlier failures no longer count.
                TaskChange::Enabled => (Some(now), None),
                TaskChange::DisabledAfterFailures => (current.enabled_since, reason.clone()),
                _ => (current.enabled_since, current.disabled_reason.clone()),
            };
            let mut next = TaskRecord {
                seq: current.seq + 1,
                change,
                recorded_at: now,
                enabled,
                enabled_since,
                disabled_reason,
                ..current
            };
            // A record written before secrets were sealed is sealed now.
            match self.put(&mut next).await {
                Ok(()) => return Ok(next),
                Err(TaskStoreError::Store(StoreError::AlreadyExists { .. })) => continue,
                Err(err) => return Err(err),
            }
        }
        Err(TaskStoreError::Contended(task_id.to_owned()))
    }

    /// Replaces a live task's webhook secret with `secret` (which must have been validated).
    /// The replaced secret stays valid for `overlap` after `now`; a zero overlap ends it at
    /// once. A task without a secret simply gets one.
    pub async fn rotate_webhook_secret(
        &self,
        task_id: &str,
        secret: WebhookSecret,
        overlap: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<TaskRecord, TaskStoreError> {
        for _ in 0..EDIT_ATTEMPTS {
            let current = self.get(task_id).await?;
            let previous_webhook_secret = match current.spec.webhook_secret.clone() {
                Some(old)
                    if self.open_secret(task_id, Some(&old)).await?.as_ref() != Some(&secret)
                        && overlap > chrono::Duration::zero() =>
                {
                    Some(PreviousWebhookSecret {
                        secret: old,
                        valid_until: now + overlap,
                    })
                }
                _ => None,
            };
            let mut next = TaskRecord {
                seq: current.seq + 1,
                change: TaskChange::WebhookSecretRotated,
                recorded_at: now,
                spec: TaskSpec {
                    webhook_secret: Some(secret.clone().into()),
                    ..current.spec.clone()
                },
                previous_webhook_secret,
                ..current
            };
            match self.put(&mut next).await {
                Ok(()) => return Ok(next),
                Err(TaskStoreError::Store(StoreError::AlreadyExists { .. })) => continue,
                Err(err) => return Err(err),
            }
        }
        Err(TaskStoreError::Contended(task_id.to_owned()))
    }

    async fn put(&self, record: &mut TaskRecord) -> Result<(), TaskStoreError> {
        self.seal_secrets(record).await?;
        let key = task_key(&record.task_id, record.seq);
        let body = serde_json::to_vec_pretty(record).map_err(|e| TaskStoreError::Corrupt {
            key: key.clone(),
            message: e.to_string(),
        })?;
        self.store.create(&key, &body).await?;
        Ok(())
    }

    async fn read(&self, key: &str) -> Result<Option<TaskRecord>, TaskStoreError> {
        let Some(bytes) = self.store.get(key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| TaskStoreError::Corrupt {
                key: key.to_owned(),
                message: e.to_string(),
            })
    }
}

/// The seq of a record key `tasks/<id>/<seq>.json`.
fn seq_of(key: &str) -> Option<u64> {
    key.rsplit_once('/')?.1.strip_suffix(".json")?.parse().ok()
}

#[cfg(test)]
mod tests;
