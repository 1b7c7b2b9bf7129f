//! Notification targets at rest: sealed like webhook secrets.
//!
//! A target's URL is a credential for DingTalk, Lark and Slack (the token is in it), and the
//! generic target carries an HMAC secret, so a record never holds a target in plaintext:
//! [`crate::store::tasks::TaskStore`] seals each target of a task (the whole target, as JSON)
//! with the task's sealer and context, and keeps beside it only what may be shown: its kind
//! and its redacted URL. The deployment's default targets are sealed the same way under the
//! context [`DEFAULTS_CONTEXT`] ([`Defaults`]).

use serde::{Deserialize, Serialize};

use super::targets::{Target, TargetError};
use crate::secrets::{SealError, SealedSecret, SharedSealer};
use crate::store::{SharedStore, StoreError};

/// The most targets a task, or the deployment's defaults, may have.
pub const MAX_TARGETS: usize = 10;

/// The sealing context of the deployment's default targets (a task's targets are sealed
/// for the task's id, which can never be this: task ids have no colon).
pub const DEFAULTS_CONTEXT: &str = "reimage:notify-defaults";

/// Where the default targets' records live: `notify-defaults/<seq>.json`, the newest wins.
pub const DEFAULTS_PREFIX: &str = "notify-defaults/";

/// A sealed target: what may be shown of it, and the target itself sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedTarget {
    /// `dingtalk`, `lark`, `slack` or `https`.
    pub kind: String,
    /// The URL with its credentials redacted, e.g. `https://hooks.slack.com/<redacted>`.
    pub shown: String,
    /// The [`Target`] as JSON, sealed.
    pub sealed: SealedSecret,
}

/// A target as a task holds it: as submitted (a [`Target`]), or sealed, as every stored
/// record holds it. In JSON, a target object or a [`SealedTarget`] object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StoredTarget {
    /// Sealed for the task.
    Sealed(SealedTarget),
    /// As submitted.
    Plain(Target),
}

impl StoredTarget {
    /// The target's kind.
    pub fn kind(&self) -> &str {
        match self {
            Self::Sealed(sealed) => &sealed.kind,
            Self::Plain(target) => target.kind(),
        }
    }

    /// What may be shown of its URL.
    pub fn shown(&self) -> String {
        match self {
            Self::Sealed(sealed) => sealed.shown.clone(),
            Self::Plain(target) => target.url().to_string(),
        }
    }

    /// Seals a plain target for `context` (a sealed one is answered as it is).
    pub async fn seal(self, sealer: &SharedSealer, context: &str) -> Result<Self, SealError> {
        let Self::Plain(target) = self else {
            return Ok(self);
        };
        let json = serde_json::to_vec(&target)
            .map_err(|e| SealError::Malformed(format!("cannot encode the target: {e}")))?;
        let sealed = sealer.seal(&json, context).await?;
        Ok(Self::Sealed(SealedTarget {
            kind: target.kind().to_owned(),
            shown: target.url().to_string(),
            sealed,
        }))
    }

    /// The target itself, opened for `context` if sealed.
    pub async fn open(
        &self,
        sealer: Option<&SharedSealer>,
        context: &str,
    ) -> Result<Target, SealError> {
        match self {
            Self::Plain(target) => Ok(target.clone()),
            Self::Sealed(sealed) => {
                let sealer = sealer.ok_or(SealError::NoSealer)?;
                let bytes = sealer.open(&sealed.sealed, context).await?;
                serde_json::from_slice(&bytes).map_err(|_| {
                    SealError::Malformed(format!(
                        "the opened {} target is not a target",
                        sealed.kind
                    ))
                })
            }
        }
    }
}

/// Checks a list of targets as submitted: at most [`MAX_TARGETS`], each valid.
pub fn validate_targets(targets: &[StoredTarget]) -> Result<(), String> {
    if targets.len() > MAX_TARGETS {
        return Err(format!(
            "notify: {} targets; at most {MAX_TARGETS}",
            targets.len()
        ));
    }
    for (n, target) in targets.iter().enumerate() {
        if let StoredTarget::Plain(target) = target {
            target
                .validate()
                .map_err(|e: TargetError| format!("notify[{n}]: {e}"))?;
        }
    }
    Ok(())
}

/// One record of the deployment's default targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultsRecord {
    /// 0 for the first, then one more per change.
    pub seq: u64,
    /// When it was written.
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// The targets, sealed.
    pub targets: Vec<StoredTarget>,
}

/// Why the default targets could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DefaultsError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A target could not be sealed or opened.
    #[error("the default notification targets: {0}")]
    Sealing(#[from] SealError),
    /// A record is not a defaults record.
    #[error("{key} is not a default-targets record: {message}")]
    Torn {
        /// Its key.
        key: String,
        /// The parse error.
        message: String,
    },
    /// Invalid targets.
    #[error("{0}")]
    Invalid(String),
    /// Another writer kept taking the next seq.
    #[error("the default notification targets changed under this write five times; try again")]
    Contended,
}

/// The deployment's default targets, which every execution and rollout notifies besides its
/// task's own.
#[derive(Debug, Clone)]
pub struct Defaults {
    store: SharedStore,
    sealer: Option<SharedSealer>,
}

impl Defaults {
    /// The defaults in `store`, sealed and opened with `sealer`.
    pub fn new(store: SharedStore, sealer: Option<SharedSealer>) -> Self {
        Self { store, sealer }
    }

    /// The newest record, if any.
    pub async fn latest(&self) -> Result<Option<DefaultsRecord>, DefaultsError> {
        let keys = self.store.list(DEFAULTS_PREFIX).await?;
        let Some(key) = keys.iter().max() else {
            return Ok(None);
        };
        let Some(bytes) = self.store.get(key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DefaultsError::Torn {
                key: key.clone(),
                message: e.to_string(),
            })
    }

    /// The stored targets (sealed), none when never set.
    pub async fn stored(&self) -> Result<Vec<StoredTarget>, DefaultsError> {
        Ok(self.latest().await?.map(|r| r.targets).unwrap_or_default())
    }

    /// Replaces the default targets with `targets` (validated, then sealed); an empty list
    /// clears them.
    pub async fn set(
        &self,
        targets: Vec<StoredTarget>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<DefaultsRecord, DefaultsError> {
        validate_targets(&targets).map_err(DefaultsError::Invalid)?;
        let mut sealed = Vec::with_capacity(targets.len());
        for target in targets {
            let sealer = self.sealer.as_ref().ok_or(SealError::NoSealer)?;
            sealed.push(target.seal(sealer, DEFAULTS_CONTEXT).await?);
        }
        for _ in 0..5 {
            let seq = self.latest().await?.map_or(0, |r| r.seq + 1);
            let record = DefaultsRecord {
                seq,
                recorded_at: now,
                targets: sealed.clone(),
            };
            let key = format!("{DEFAULTS_PREFIX}{seq:010}.json");
            let body = serde_json::to_vec_pretty(&record).map_err(|e| DefaultsError::Torn {
                key: key.clone(),
                message: e.to_string(),
            })?;
            match self.store.create(&key, &body).await {
                Ok(()) => return Ok(record),
                Err(StoreError::AlreadyExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(DefaultsError::Contended)
    }

    /// Default target number `index`, opened.
    pub async fn open(&self, index: usize) -> Result<Option<Target>, DefaultsError> {
        let targets = self.stored().await?;
        match targets.get(index) {
            None => Ok(None),
            Some(target) => Ok(Some(
                target.open(self.sealer.as_ref(), DEFAULTS_CONTEXT).await?,
            )),
        }
    }
}
