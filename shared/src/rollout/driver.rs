//! How a rollout is driven when nothing waits on it: by events, as the image update's steps
//! are.
//!
//! Every record a rollout writes asks for its next phase at a time (`due_at`). When a
//! rollout starts, when an operator asks something of it, and when an invocation ends with
//! the rollout waiting, a [`RolloutEvent`] `{"rollout_id", "seq"}` is sent through a
//! [`Kicker`] with the delay the record asks for: under Function Compute an asynchronous
//! InvokeFunction of the `rollout` function (`x-fc-async-delay`, at most an hour; an early
//! event just looks and sends itself again), in a local process a queue
//! ([`crate::dispatch::local::LocalKicks`]). No invocation sleeps through a wait.
//!
//! [`Rollouts::handle`] runs the phases that are due (a few at most per invocation), and sends
//! the next event; an event whose `seq` is not the latest record's is stale and dropped, so
//! doubles die out at the next record. A rollout that waits for an operator (a checkpoint
//! without a timer, a held failure) sends nothing until a request arrives.
//!
//! Before a record is written, the hour it is due in gets an entry
//! `rollout-live/<YYYYMMDDHH>/<rollout-id>` (as executions do under `live/`); the minute's
//! [`Rollouts::sweep`] lists the last hours and sends an event for each rollout whose phase
//! is overdue, or that waits for an operator whose request's event was lost.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::engine::{Advanced, RolloutError, Rollouts};
use super::model::{Outcome, RolloutId};
use crate::steps::dispatcher::{DispatchError, DispatchFuture};

/// The Function Compute function that drives rollouts.
pub const ROLLOUT_FUNCTION: &str = "rollout";

/// The store prefix of the rollouts' hourly index.
pub const LIVE_PREFIX: &str = "rollout-live/";

/// Phases one invocation runs at most before it hands over to the next event (each is a
/// few calls; this keeps an invocation well inside its timeout).
pub const PHASES_PER_INVOCATION: usize = 12;

/// "Advance rollout `rollout_id`, whose latest record is `seq`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutEvent {
    /// The rollout.
    pub rollout_id: RolloutId,
    /// The seq of its latest record when the event was sent.
    pub seq: u64,
    /// The operator's request that sent it (`rollback`, `cancel`, `continue`), if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

impl RolloutEvent {
    /// An id for this event, the same each time it is sent (FC's stateful invocation id); a
    /// request's event has an id of its own.
    pub fn invocation_id(&self) -> String {
        match &self.request {
            Some(what) => format!("{}-{:06}-{what}", self.rollout_id, self.seq),
            None => format!("{}-{:06}", self.rollout_id, self.seq),
        }
    }

    /// The error of a failed send of this event.
    pub fn dispatch_error(&self, message: impl Into<String>) -> DispatchError {
        DispatchError {
            execution_id: self.rollout_id.to_string(),
            step: ROLLOUT_FUNCTION.to_owned(),
            message: message.into(),
        }
    }
}

/// Sends rollout events.
pub trait Kicker: Send + Sync + fmt::Debug + 'static {
    /// Arranges for `event` to be handled by [`Rollouts::handle`] after `delay`.
    fn kick<'a>(&'a self, event: &'a RolloutEvent, delay: Duration) -> DispatchFuture<'a>;
}

/// Shared handle to a kicker.
pub type SharedKicker = Arc<dyn Kicker>;

/// What handling an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The event was stale (the rollout moved on, or ended); nothing done.
    Ignored {
        /// The latest record's seq.
        latest_seq: u64,
    },
    /// No rollout has the id.
    Unknown,
    /// Phases ran; the rollout waits until `at`, and the event for then is sent.
    Waiting {
        /// Its latest record.
        seq: u64,
        /// When it is due.
        at: DateTime<Utc>,
    },
    /// The rollout waits for an operator: nothing is sent.
    AwaitsOperator {
        /// Its latest record.
        seq: u64,
    },
    /// It ended.
    Ended(Outcome),
    /// Another invocation wrote the next record first, and goes on.
    LostRace,
}

impl Rollouts {
    /// Handles one event: runs the phases that are due, then sends the event of the next.
    pub async fn handle(&self, event: &RolloutEvent) -> Result<Handled, RolloutError> {
        let id = &event.rollout_id;
        let latest = match self.latest(id).await {
            Ok(latest) => latest,
            Err(RolloutError::NotFound(_)) => return Ok(Handled::Unknown),
            Err(e) => return Err(e),
        };
        if latest.seq != event.seq || latest.ended() {
            return Ok(Handled::Ignored {
                latest_seq: latest.seq,
            });
        }
        let mut seq = latest.seq;
        for _ in 0..PHASES_PER_INVOCATION {
            let (advanced, latest) = self.advance_once(id).await?;
            seq = latest.seq;
            match advanced {
                Advanced::Ended(outcome) => return Ok(Handled::Ended(outcome)),
                Advanced::LostRace => return Ok(Handled::LostRace),
                Advanced::Waiting(_) if latest.awaits_operator() => {
                    return Ok(Handled::AwaitsOperator { seq });
                }
                Advanced::Waiting(at) => {
                    let now = self.clock().now();
                    if at > now {
                        let delay = (at - now).to_std().unwrap_or_default();
                        self.kick(
                            &RolloutEvent {
                                rollout_id: id.clone(),
                                seq,
                                request: None,
                            },
                            delay,
                        )
                        .await?;
                        return Ok(Handled::Waiting { seq, at });
                    }
                }
            }
        }
        let now = self.clock().now();
        self.kick(
            &RolloutEvent {
                rollout_id: id.clone(),
                seq,
                request: None,
            },
            Duration::ZERO,
        )
        .await?;
        Ok(Handled::Waiting { seq, at: now })
    }

    /// Sends `event` after `delay` through the kicker, if there is one.
    pub(super) async fn kick(
        &self,
        event: &RolloutEvent,
        delay: Duration,
    ) -> Result<(), RolloutError> {
        let Some(kicker) = self.kicker() else {
            return Ok(());
        };
        kicker
            .kick(event, delay)
            .await
            .map_err(|e| RolloutError::Dispatch(e.message))
    }

    /// The minute's sweep: an event for each rollout of the last hours' index whose phase
    /// is overdue by `overdue_after`, or that waits for an operator who asked something.
    /// Looks `window` back.
    pub async fn sweep(
        &self,
        now: DateTime<Utc>,
        overdue_after: Duration,
        window: chrono::Duration,
    ) -> Result<Vec<RolloutEvent>, RolloutError> {
        let overdue = chrono::Duration::from_std(overdue_after).unwrap_or(chrono::Duration::MAX);
        let entries = crate::steps::live::entries_between(
            self.store(),
            LIVE_PREFIX,
            now - overdue - window,
            now,
        )
        .await?;
        let mut ids: Vec<RolloutId> = entries
            .iter()
            .filter_map(|(key, name)| match name.parse() {
                Ok(id) => Some(id),
                Err(_) => {
                    tracing::warn!(%key, "the sweep skips an index entry it cannot read");
                    None
                }
            })
            .collect();
        ids.sort();
        ids.dedup();
        let mut sent = Vec::new();
        for id in ids {
            let latest = match self.latest(&id).await {
                Ok(latest) => latest,
                Err(e) => {
                    tracing::warn!(rollout = %id, error = %e, "the sweep skips a rollout it cannot read");
                    continue;
                }
            };
            let due = if latest.ended() {
                false
            } else if latest.awaits_operator() {
                match self.has_request(&latest).await {
                    Ok(has) => has,
                    Err(e) => {
                        tracing::warn!(rollout = %id, error = %e, "the sweep skips a rollout whose requests it cannot read");
                        false
                    }
                }
            } else {
                now >= latest.due_at + overdue
            };
            if due {
                let event = RolloutEvent {
                    rollout_id: id,
                    seq: latest.seq,
                    request: None,
                };
                match self.kick(&event, Duration::ZERO).await {
                    Ok(()) => sent.push(event),
                    Err(e) => {
                        tracing::warn!(error = %e, "the sweep could not send a rollout's event")
                    }
                }
            }
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_event_has_an_id_of_its_own() {
        let chain = RolloutEvent {
            rollout_id: RolloutId::derived("r"),
            seq: 7,
            request: None,
        };
        let rollback = RolloutEvent {
            request: Some("rollback".into()),
            ..chain.clone()
        };
        assert_ne!(chain.invocation_id(), rollback.invocation_id());
        assert!(rollback.invocation_id().ends_with("-000007-rollback"));
        let back: RolloutEvent =
            serde_json::from_str(&serde_json::to_string(&chain).unwrap()).unwrap();
        assert_eq!(back, chain);
        assert!(serde_json::from_str::<RolloutEvent>(r#"{"rollout_id":"ro-x","seq":1}"#).is_err());
    }
}
