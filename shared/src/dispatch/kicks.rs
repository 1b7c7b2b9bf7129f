//! The in-process kicker of rollouts: a queue of [`RolloutEvent`]s ordered by due time, and a
//! driver that waits for each on the injected clock and hands it to [`Rollouts::handle`]
//! (`reimage serve`, and the tests, where a `ManualClock` makes every wait pass at once).
//!
//! A rollout that waits for an operator sends no event, so [`LocalKicks::run_until_idle`]
//! returns when every rollout has ended or waits for a request.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::DispatchFuture;
use crate::clock::SharedClock;
use crate::rollout::{Handled, Kicker, RolloutError, RolloutEvent, Rollouts};

/// Rollout events waiting in this process.
#[derive(Debug)]
pub struct LocalKicks {
    clock: SharedClock,
    /// Keyed by (due time, arrival order).
    queue: Mutex<BTreeMap<(DateTime<Utc>, u64), RolloutEvent>>,
    arrivals: AtomicU64,
    wake: Notify,
}

impl LocalKicks {
    /// An empty queue on `clock`.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            queue: Mutex::new(BTreeMap::new()),
            arrivals: AtomicU64::new(0),
            wake: Notify::new(),
        }
    }

    fn lock_queue(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<(DateTime<Utc>, u64), RolloutEvent>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many events wait.
    pub fn pending(&self) -> usize {
        self.lock_queue().len()
    }

    /// Removes the first event without handling it (a test loses it).
    pub fn run_next_dropped(&self) -> Option<RolloutEvent> {
        self.lock_queue().pop_first().map(|(_, event)| event)
    }

    /// Handles the first event, after waiting on the clock for its due time; `None` if none
    /// waits. A failure is logged and answered: the record is safe, and the minute's sweep
    /// sends the event again.
    pub async fn run_next(&self, rollouts: &Rollouts) -> Option<Result<Handled, RolloutError>> {
        let ((due, _), event) = self.lock_queue().pop_first()?;
        let now = self.clock.now();
        if let Ok(wait) = (due - now).to_std() {
            if !wait.is_zero() {
                self.clock.sleep(wait).await;
            }
        }
        let handled = rollouts.handle(&event).await;
        if let Err(error) = &handled {
            tracing::warn!(rollout = %event.rollout_id, %error, "a rollout event failed");
        }
        Some(handled)
    }

    /// Handles events until none waits; answers how many it handled.
    pub async fn run_until_idle(&self, rollouts: &Rollouts) -> usize {
        let mut handled = 0;
        while self.run_next(rollouts).await.is_some() {
            handled += 1;
        }
        handled
    }

    /// Handles events as they fall due until `shutdown` completes.
    pub async fn run(&self, rollouts: &Rollouts, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let next_due = self.lock_queue().keys().next().map(|(due, _)| *due);
            let wait = next_due.map(|due| (due - self.clock.now()).to_std().unwrap_or_default());
            if wait.is_some_and(|w| w.is_zero()) {
                self.run_next(rollouts).await;
                continue;
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                () = self.clock.sleep(wait.unwrap_or_default()), if wait.is_some() => {}
            }
        }
    }
}

impl Kicker for LocalKicks {
    fn kick<'a>(&'a self, event: &'a RolloutEvent, delay: Duration) -> DispatchFuture<'a> {
        let due =
            self.clock.now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        let order = self.arrivals.fetch_add(1, Ordering::Relaxed);
        self.lock_queue().insert((due, order), event.clone());
        self.wake.notify_one();
        Box::pin(async { Ok(()) })
    }
}
