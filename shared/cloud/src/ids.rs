//! The one place that draws randomness: request nonces, random execution ids, jitter.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A source of unique identifiers and random numbers.
pub trait IdSource: Send + Sync + fmt::Debug + 'static {
    /// A fresh unique id (a UUID v4 in production), used as SignatureNonce and for random ids.
    fn unique(&self) -> String;
    /// A random number in `[0, 1)`, used for backoff jitter.
    fn fraction(&self) -> f64;
}

/// Shared handle to an id source.
pub type SharedIds = Arc<dyn IdSource>;

/// Random ids from the operating system's generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn unique(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn fraction(&self) -> f64 {
        rand::random::<f64>()
    }
}

/// Predictable ids for tests: `<prefix>-1`, `<prefix>-2`, …; `fraction` is always 0.5.
#[derive(Debug, Default)]
pub struct SequentialIds {
    prefix: String,
    next: AtomicU64,
}

impl SequentialIds {
    /// Ids of the form `<prefix>-<n>`, starting at 1.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            next: AtomicU64::new(1),
        }
    }
}

impl IdSource for SequentialIds {
    fn unique(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.prefix)
    }

    fn fraction(&self) -> f64 {
        0.5
    }
}
