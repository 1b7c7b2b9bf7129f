//! The state store: records that are only ever created, never replaced.
//!
//! Object stores such as OSS cannot compare-and-swap an object; they can only refuse to
//! overwrite one. So reimage keeps its state as a log of immutable records:
//!
//! ```text
//! tasks/<task-id>/<seq>.json            each edit of a task is a new record
//! executions/<execution-id>/<seq>.json  one record per step transition
//! ```
//!
//! A writer that loses a race gets [`StoreError::AlreadyExists`] and stops quietly: another
//! invocation got there first. Backends: [`file`] (the embedded default), [`memory`] (unit
//! tests) and [`oss`].

use std::fmt;
use std::sync::Arc;

pub mod cache;
pub mod file;
pub mod memory;
pub mod oss;
pub mod tasks;
pub mod url;

/// A boxed future, as returned by [`StateStore`] methods.
pub type StoreFuture<'a, T> = futures::future::BoxFuture<'a, Result<T, StoreError>>;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record already exists at this key: another writer won.
    #[error("record {key} already exists")]
    AlreadyExists {
        /// The key that was taken.
        key: String,
    },
    /// A key that is not a legal record key (empty segments, `..`, characters outside the
    /// allowed set).
    #[error("illegal record key {key:?}: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The backend failed (I/O, network, service error).
    #[error("state store {op} of {key} failed: {message}")]
    Backend {
        /// The operation: `create`, `get` or `list`.
        op: &'static str,
        /// The key or prefix.
        key: String,
        /// The backend's own description.
        message: String,
        /// Whether trying again may succeed.
        transient: bool,
    },
}

/// Create-if-absent, get, list by prefix: all that reimage needs of a store.
///
/// Keys are `/`-separated paths of segments made of ASCII letters, digits, `-`, `_`, `.`
/// (no segment is `.` or `..`). Values are whole records: a reader sees a record completely
/// or not at all, even if the writer died half-way.
pub trait StateStore: Send + Sync + fmt::Debug + 'static {
    /// Creates `key` holding `value`, unless `key` exists: then [`StoreError::AlreadyExists`].
    fn create<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, ()>;
    /// The record at `key`, or `None`.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;
    /// Every key that starts with `prefix`, in ascending byte order.
    fn list<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, Vec<String>>;

    /// At most `max` keys that start with `prefix` and sort after `start_after`, in
    /// ascending byte order, and whether more follow: one page of a listing, which a backend
    /// that bills listings (OSS) answers with one request.
    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        start_after: Option<&'a str>,
        max: usize,
    ) -> StoreFuture<'a, KeyPage> {
        Box::pin(async move {
            let keys = self.list(prefix).await?;
            Ok(KeyPage::from_sorted(keys, start_after, max))
        })
    }
}

/// One page of a listing (see [`StateStore::list_page`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPage {
    /// The keys, ascending.
    pub keys: Vec<String>,
    /// Whether keys follow the last one.
    pub more: bool,
}

impl KeyPage {
    /// The page of `keys` (ascending) after `start_after`, at most `max` long.
    pub fn from_sorted(keys: Vec<String>, start_after: Option<&str>, max: usize) -> Self {
        let mut rest = keys
            .into_iter()
            .filter(|k| start_after.is_none_or(|after| k.as_str() > after));
        let keys: Vec<String> = rest.by_ref().take(max).collect();
        let more = rest.next().is_some();
        Self { keys, more }
    }
}

/// A record that is in the store but cannot be read back as what its key says it is (a
/// truncated write from outside reimage, a record of another version, a hand edit). Listings,
/// the minute tick and the sweep skip it, logging the key and the reason; `reimage doctor`
/// lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unreadable {
    /// The record's key.
    pub key: String,
    /// Why it cannot be read.
    pub reason: String,
}

impl Unreadable {
    /// Logs the record as skipped by `what` (a listing, the tick, the sweep).
    pub fn warn_skipped(&self, what: &str) {
        tracing::warn!(key = %self.key, reason = %self.reason, "{what} skips an unreadable record");
    }
}

/// Shared handle to a store.
pub type SharedStore = Arc<dyn StateStore>;

/// Checks that `key` is a legal record key.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let bad = |reason| {
        Err(StoreError::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty key");
    }
    if key.len() > 1000 {
        return bad("longer than 1000 bytes");
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return bad("empty path segment");
        }
        if segment == "." || segment == ".." {
            return bad("`.` and `..` are not allowed as segments");
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return bad("only ASCII letters, digits, `-`, `_` and `.` are allowed");
        }
    }
    Ok(())
}
