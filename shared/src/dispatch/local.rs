//! The in-process dispatcher: a queue of step events ordered by due time, and a driver loop
//! that waits for each (on the injected clock) and hands it to the engine.
//!
//! ```ignore
//! let local = Arc::new(LocalDispatcher::new(clock.clone()));
//! let engine = Engine::new(store, clock, ids, local.clone(), clouds);
//! let record = engine.start_new(request).await?;
//! local.run_until_idle(&engine).await;          // the whole chain, delays included
//! ```
//!
//! With a `ManualClock` each wait advances virtual time at once, so a ten-minute image build
//! passes in milliseconds while every step sees the times it would see for real. An event
//! whose handling fails (the store failed, say) is tried again after a back-off, a few times;
//! after that the engine's sweep is what picks the execution up again.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::{DispatchFuture, Dispatcher};
use crate::clock::SharedClock;
use crate::model::StepEvent;
use crate::steps::{Engine, Handled};

/// How many times the driver tries an event whose handling failed.
const MAX_ATTEMPTS: u32 = 4;
/// The first back-off after a failed handling; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
struct Queued {
    event: StepEvent,
    attempts: u32,
}

/// Step events waiting in this process.
#[derive(Debug)]
pub struct LocalDispatcher {
    clock: SharedClock,
    /// Keyed by (due time, arrival order), so equal due times run in arrival order.
    queue: Mutex<BTreeMap<(DateTime<Utc>, u64), Queued>>,
    arrivals: Mutex<u64>,
    wake: Notify,
}

/// What a driver run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Events handled (including ignored duplicates).
    pub handled: usize,
    /// Events whose handling failed every attempt (left to the sweep).
    pub dropped: Vec<StepEvent>,
}

impl LocalDispatcher {
    /// An empty queue on `clock`.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            queue: Mutex::new(BTreeMap::new()),
            arrivals: Mutex::new(0),
            wake: Notify::new(),
        }
    }

    /// How many events are waiting.
    pub fn pending(&self) -> usize {
        self.lock_queue().len()
    }

    /// Removes and returns every waiting event, in due order, without handling them (a test
    /// uses it to lose events; a shutdown to hand them elsewhere).
    pub fn take_all(&self) -> Vec<StepEvent> {
        std::mem::take(&mut *self.lock_queue())
            .into_values()
            .map(|queued| queued.event)
            .collect()
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, BTreeMap<(DateTime<Utc>, u64), Queued>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enqueue(&self, queued: Queued, delay: Duration) {
        let due =
            self.clock.now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        let order = {
            let mut arrivals = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
            *arrivals += 1;
            *arrivals
        };
        self.lock_queue().insert((due, order), queued);
        self.wake.notify_one();
    }

    fn pop_first(&self) -> Option<(DateTime<Utc>, Queued)> {
        self.lock_queue()
            .pop_first()
            .map(|((due, _), queued)| (due, queued))
    }

    /// Handles events until none is waiting, waiting on the clock for each one's due time.
    /// `on_handled` sees each outcome (the demo shows progress with it).
    pub async fn run_until_idle_with(
        &self,
        engine: &Engine,
        mut on_handled: impl FnMut(&StepEvent, &Handled),
    ) -> RunReport {
        let mut report = RunReport::default();
        while self
            .run_next_with(engine, &mut report, &mut on_handled)
            .await
        {}
        report
    }

    /// Handles the first event due, after waiting on the clock for its due time; `false` if
    /// none is waiting. (Tests use it to stop an execution at a chosen point.)
    pub async fn run_next(&self, engine: &Engine) -> bool {
        self.run_next_with(engine, &mut RunReport::default(), &mut |_, _| {})
            .await
    }

    async fn run_next_with(
        &self,
        engine: &Engine,
        report: &mut RunReport,
        on_handled: &mut impl FnMut(&StepEvent, &Handled),
    ) -> bool {
        let Some((due, queued)) = self.pop_first() else {
            return false;
        };
        let now = self.clock.now();
        if due > now {
            if let Ok(wait) = (due - now).to_std() {
                self.clock.sleep(wait).await;
            }
        }
        self.handle_one(engine, queued, report, on_handled).await;
        true
    }

    /// Handles events until none is waiting.
    pub async fn run_until_idle(&self, engine: &Engine) -> RunReport {
        self.run_until_idle_with(engine, |_, _| {}).await
    }

    /// Runs events as they fall due, one at a time, until `shutdown` completes.
    pub async fn run(&self, engine: &Engine, shutdown: impl std::future::Future<Output = ()>) {
        self.run_concurrently(engine, 1, shutdown).await;
    }

    /// Runs events as they fall due, up to `workers` at once, until `shutdown` completes;
    /// then lets the steps in flight finish (the caller bounds how long by dropping the
    /// future) and returns. One step waiting on a slow cloud call holds up no other
    /// execution while a place is free.
    pub async fn run_concurrently(
        &self,
        engine: &Engine,
        workers: usize,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        use futures::StreamExt as _;
        let workers = workers.max(1);
        let mut in_flight = futures::stream::FuturesUnordered::new();
        tokio::pin!(shutdown);
        loop {
            // Start every due event there is a place for.
            let mut wait = None;
            while in_flight.len() < workers {
                let next_due = self.lock_queue().keys().next().map(|(due, _)| *due);
                let Some(due) = next_due else {
                    break;
                };
                let until = (due - self.clock.now()).to_std().unwrap_or_default();
                if !until.is_zero() {
                    wait = Some(until);
                    break;
                }
                if let Some((_, queued)) = self.pop_first() {
                    in_flight.push(async move {
                        let mut report = RunReport::default();
                        self.handle_one(engine, queued, &mut report, &mut |_, _| {})
                            .await;
                    });
                }
            }
            let full = in_flight.len() >= workers;
            tokio::select! {
                () = &mut shutdown => break,
                Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
                () = self.wake.notified(), if !full => {}
                () = self.clock.sleep(wait.unwrap_or_default()), if wait.is_some() && !full => {}
            }
        }
        while in_flight.next().await.is_some() {}
    }

    async fn handle_one(
        &self,
        engine: &Engine,
        mut queued: Queued,
        report: &mut RunReport,
        on_handled: &mut impl FnMut(&StepEvent, &Handled),
    ) {
        queued.attempts += 1;
        match engine.handle(&queued.event).await {
            Ok(handled) => {
                report.handled += 1;
                on_handled(&queued.event, &handled);
            }
            Err(error) if queued.attempts < MAX_ATTEMPTS => {
                let backoff = FIRST_BACKOFF.saturating_mul(1 << (queued.attempts - 1));
                tracing::warn!(error = %crate::report::chain(&error), event = ?queued.event, "step failed; trying again");
                self.enqueue(queued, backoff);
            }
            Err(error) => {
                tracing::error!(error = %crate::report::chain(&error), event = ?queued.event, "step failed; left to the sweep");
                report.dropped.push(queued.event);
            }
        }
    }
}

impl Dispatcher for LocalDispatcher {
    fn dispatch<'a>(&'a self, event: &'a StepEvent, delay: Duration) -> DispatchFuture<'a> {
        self.enqueue(
            Queued {
                event: event.clone(),
                attempts: 0,
            },
            delay,
        );
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::ids::SequentialIds;
    use crate::model::{ExecutionId, PermissionSource, State, Step, UpdateRequest};
    use crate::steps::SameCloud;
    use crate::steps::testing::FakeCloud;
    use crate::store::memory::MemoryStore;

    fn setup() -> (ManualClock, Arc<LocalDispatcher>, Engine) {
        let clock = ManualClock::new(chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let shared: SharedClock = Arc::new(clock.clone());
        let local = Arc::new(LocalDispatcher::new(shared.clone()));
        let fake = FakeCloud::demo(shared.clone(), Duration::from_secs(600));
        let engine = Engine::new(
            Arc::new(MemoryStore::new()),
            shared,
            Arc::new(SequentialIds::new("l")),
            local.clone(),
            Arc::new(SameCloud(fake)),
        );
        (clock, local, engine)
    }

    fn request() -> UpdateRequest {
        UpdateRequest {
            allow_default_version_change: false,
            scaling_group_ids: Vec::new(),
            instance_id: "i-running".into(),
            image_name: None,
            configuration_ids: vec!["asc-active".into()],
            permission: PermissionSource::Account,
            task_id: None,
            rollout: None,
            allow_platform_change: false,
        }
    }

    #[tokio::test]
    async fn each_event_runs_when_due_on_the_clock() {
        let (clock, local, engine) = setup();
        let start = clock.now();
        engine.start_new(request()).await.unwrap();
        let mut due = vec![start];
        let mut ran_at = Vec::new();
        local
            .run_until_idle_with(&engine, |_, handled| {
                ran_at.push(clock.now());
                if let Handled::Advanced(record) = handled {
                    if let State::Pending { due_at, .. } = record.state {
                        due.push(due_at);
                    }
                }
            })
            .await;
        assert_eq!(ran_at.len(), due.len());
        for (ran, due) in ran_at.iter().zip(&due) {
            assert!(ran >= due, "ran at {ran}, due at {due}");
        }
        // Snapshot and image each take 600 s of the clock, which passed without waiting.
        assert!(clock.now() - start >= chrono::Duration::seconds(1200));
        assert_eq!(local.pending(), 0);
    }

    #[tokio::test]
    async fn an_event_that_keeps_failing_is_retried_then_left_to_the_sweep() {
        let (clock, local, engine) = setup();
        let start = clock.now();
        let event = StepEvent {
            execution_id: ExecutionId::parse("exec-missing").unwrap(),
            step: Step::CreateImage,
            seq: 0,
        };
        local.dispatch(&event, Duration::ZERO).await.unwrap();
        let report = local.run_until_idle(&engine).await;
        assert_eq!(report.handled, 0);
        assert_eq!(report.dropped, vec![event]);
        // Back-offs of 5, 10 and 20 s between the four attempts.
        assert_eq!(clock.now() - start, chrono::Duration::seconds(35));
    }

    #[tokio::test]
    async fn run_handles_events_until_shutdown() {
        let (_clock, local, engine) = setup();
        let record = engine.start_new(request()).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runner = {
            let (local, engine) = (local.clone(), engine.clone());
            tokio::spawn(async move {
                local
                    .run(&engine, async {
                        let _ = stopped.await;
                    })
                    .await;
            })
        };
        let mut done = false;
        for _ in 0..1000 {
            let last = engine.get(&record.execution_id).await.unwrap().unwrap();
            if last.state.is_terminal() {
                assert_eq!(last.state, State::Succeeded);
                done = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(done, "the execution did not finish");
        stop.send(()).unwrap();
        runner.await.unwrap();
    }
}
