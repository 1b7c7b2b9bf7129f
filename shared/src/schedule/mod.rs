//! Which slots of a task are due, each started exactly once.
//!
//! A *slot* is an instant at which a task should run. [`Schedule`] is the compiled form of a
//! task's [`ExecutedAt`]; [`Schedule::next_after`] and [`due_slots`] are pure functions of
//! their inputs, so the rules below are tested without a clock:
//!
//! - The minute tick at `now` covers the slots in `(last_tick, now]`, never one before the
//!   task was created, never one after its Expired At.
//! - A slot less than one tick period old is on time. Older slots were missed (the process was
//!   down, a tick was lost): only the latest of them is caught up, only if it is at most
//!   [`GRACE`] old and no slot is on time in this tick, and its execution's trigger says so
//!   ([`CatchUp`]).
//! - Each slot's execution id is derived from the task id and the slot time
//!   ([`slot_execution_id`]) and its first record is created only if absent, so duplicate or
//!   concurrent ticks, or two schedulers sharing one store, start each slot once.
//! - A start that fails (the store or the engine unavailable) is tried again by each
//!   following tick while its slot is at most [`GRACE`] old; one broken task never holds the
//!   others back.
//!
//! Local times that a daylight saving change skips (02:30 on the night clocks go from 02:00
//! to 03:00) run at the first instant after the gap; local times that happen twice run at
//! the first of the two.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

mod engine_runs;
mod index;
mod tick;

pub use crate::aliyun::fc::timer::{TimerExpression, parse_cron};
pub use crate::model::schedule::{Schedule, truncate_to_minute};
pub use engine_runs::update_request;
pub use index::{
    IndexedRuns, RUN_INDEX_PREFIX, RunEntry, index_run, run_entry, run_entry_key, task_runs,
};
pub use tick::{
    RunError, RunFuture, RunRequest, RunStarted, Runs, Scheduler, TickReport, Trigger,
    slot_execution_id,
};

/// How often the scheduler ticks.
pub const TICK: Duration = Duration::minutes(1);

/// How old a missed slot may be and still be caught up.
pub const GRACE: Duration = Duration::minutes(10);

/// Why a missed slot is being started late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUp {
    /// How many slots were missed since the last tick (this one included).
    pub missed_slots: usize,
    /// When the tick that started it ran.
    pub started_at: DateTime<Utc>,
}

/// A slot to start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSlot {
    /// The slot's time.
    pub at: DateTime<Utc>,
    /// Set when the slot was missed and is caught up.
    pub catch_up: Option<CatchUp>,
}

/// The slots a tick at `now` starts for a task created at `created_at`, given the previous
/// tick at `last_tick` (see the module documentation for the rules).
pub fn due_slots(
    schedule: &Schedule,
    created_at: DateTime<Utc>,
    last_tick: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<DueSlot> {
    let slots = if let Schedule::Now = schedule {
        // A task executed now has one slot, its creation: the API starts it at once, and a
        // tick makes up for a start that was lost.
        if last_tick < created_at && created_at <= now {
            vec![created_at]
        } else {
            Vec::new()
        }
    } else {
        let after = last_tick.max(created_at);
        if after >= now {
            return Vec::new();
        }
        schedule.slots(after, now)
    };
    let (on_time, missed): (Vec<_>, Vec<_>) =
        slots.into_iter().partition(|slot| now - *slot < TICK);
    if !on_time.is_empty() {
        return on_time
            .into_iter()
            .map(|at| DueSlot { at, catch_up: None })
            .collect();
    }
    match missed.last() {
        Some(latest) if now - *latest <= GRACE => vec![DueSlot {
            at: *latest,
            catch_up: Some(CatchUp {
                missed_slots: missed.len(),
                started_at: now,
            }),
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests;
