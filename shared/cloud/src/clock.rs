//! The one place that reads the time.
//!
//! Domain code takes an `Arc<dyn Clock>`. Production uses [`SystemClock`]; tests and the
//! benchmarks use [`ManualClock`], whose `sleep` advances virtual time at once, so that a
//! ten-minute image build passes in milliseconds.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A future returned by [`Clock::sleep`].
pub type Sleep = futures::future::BoxFuture<'static, ()>;

/// A source of the current time and of delays.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current UTC time.
    fn now(&self) -> DateTime<Utc>;
    /// Waits for `duration` of this clock's time.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock, with tokio timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that only moves when told to, or when something sleeps on it.
///
/// `sleep(d)` advances the clock by `d` and returns at once (after yielding to the
/// scheduler), so code that waits on this clock runs as fast as the machine allows while
/// seeing the same timestamps it would see in real time.
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock that starts at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.checked_add_signed(by).unwrap_or(*now);
    }

    /// Sets the clock to `to`; the clock may go backwards this way.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        self.advance(duration);
        Box::pin(tokio::task::yield_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[tokio::test]
    async fn manual_clock_sleep_advances_virtual_time_only() {
        let start = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let clock = ManualClock::new(start);
        let before = std::time::Instant::now();
        clock.sleep(Duration::from_secs(600)).await;
        assert_eq!(clock.now(), start + chrono::Duration::seconds(600));
        assert!(before.elapsed() < Duration::from_secs(5));
    }
}
