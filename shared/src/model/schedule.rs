//! When a task runs: its [`ExecutedAt`] compiled into a [`Schedule`], checked, and asked for
//! its next slot. Pure functions of their inputs; the scheduler (`crate::schedule`) decides
//! which slots are due at a tick.

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

use crate::aliyun::fc::timer::{TimerExpression, parse_cron};
use crate::model::task::{ExecutedAt, InvalidTask, Recurrence};

/// The most slots one call returns (a guard against a window of years on a minute cron).
const MAX_SLOTS: usize = 10_000;

/// How many days ahead a periodic schedule looks for its next matching day.
const MAX_DAYS_AHEAD: i64 = 800;

/// A task's schedule, compiled and checked.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Runs once, when created (its one slot is its creation time, see [`due_slots`]).
    Now,
    /// Runs once at this minute.
    Once {
        /// The slot.
        at: DateTime<Utc>,
    },
    /// Runs on matching local days at a local time of day.
    Periodic {
        /// Which days.
        recurrence: Recurrence,
        /// The local time of day.
        at: NaiveTime,
        /// No slot before this instant.
        starts_at: Option<DateTime<Utc>>,
        /// The time zone of `at` and of the days.
        tz: Tz,
        /// No slot after this instant.
        expired_at: DateTime<Utc>,
    },
    /// Runs on an FC timer expression.
    Timer {
        /// The parsed expression.
        expression: TimerExpression,
        /// No slot after this instant.
        expired_at: Option<DateTime<Utc>>,
    },
}

impl Schedule {
    /// Compiles and checks the parts of a schedule that do not depend on the time.
    pub fn compile(executed_at: &ExecutedAt) -> Result<Self, InvalidTask> {
        match executed_at {
            ExecutedAt::Now => Ok(Self::Now),
            ExecutedAt::Scheduled { at } => Ok(Self::Once {
                at: truncate_to_minute(*at),
            }),
            ExecutedAt::Periodic(p) => {
                let tz: Tz = p
                    .time_zone
                    .parse()
                    .map_err(|_| InvalidTask::TimeZone(p.time_zone.clone()))?;
                match &p.recurrence {
                    Recurrence::Daily => {}
                    Recurrence::Weekly { days } => {
                        if days.is_empty() {
                            return Err(InvalidTask::NoWeekdays);
                        }
                    }
                    Recurrence::Monthly { from_day, to_day } => {
                        let bad = |reason| {
                            Err(InvalidTask::DayRange {
                                from_day: *from_day,
                                to_day: *to_day,
                                reason,
                            })
                        };
                        if !(1..=31).contains(from_day) || !(1..=31).contains(to_day) {
                            return bad("is impossible: days of the month are 1 to 31");
                        }
                        if from_day > to_day {
                            return bad("is empty: the first day is after the last");
                        }
                    }
                }
                let starts_at = match p.starts_at {
                    None => None,
                    Some(local) => {
                        Some(resolve_local(tz, local).ok_or(InvalidTask::StartsAt(local))?)
                    }
                };
                Ok(Self::Periodic {
                    recurrence: p.recurrence.clone(),
                    at: p.at,
                    starts_at,
                    tz,
                    expired_at: p.expired_at,
                })
            }
            ExecutedAt::Cron {
                expression,
                expired_at,
            } => Ok(Self::Timer {
                expression: parse_cron(expression).map_err(|reason| InvalidTask::Cron {
                    expression: expression.clone(),
                    reason,
                })?,
                expired_at: *expired_at,
            }),
        }
    }

    /// Checks the parts that depend on the time of creation: nothing in the past, an expiry
    /// after the start, at least one run before the expiry.
    pub fn validate_at(&self, now: DateTime<Utc>) -> Result<(), InvalidTask> {
        match self {
            Self::Now => Ok(()),
            Self::Once { at } => {
                if *at <= now {
                    Err(InvalidTask::InThePast { at: *at, now })
                } else {
                    Ok(())
                }
            }
            Self::Periodic {
                starts_at,
                expired_at,
                ..
            } => self.validate_expiry(now, *starts_at, Some(*expired_at)),
            Self::Timer { expired_at, .. } => self.validate_expiry(now, None, *expired_at),
        }
    }

    fn validate_expiry(
        &self,
        now: DateTime<Utc>,
        starts_at: Option<DateTime<Utc>>,
        expired_at: Option<DateTime<Utc>>,
    ) -> Result<(), InvalidTask> {
        let Some(expired_at) = expired_at else {
            return Ok(());
        };
        if expired_at <= now {
            return Err(InvalidTask::ExpiredInThePast { expired_at, now });
        }
        let start = starts_at.map_or(now, |s| s.max(now));
        if let Some(starts_at) = starts_at {
            if expired_at <= starts_at {
                return Err(InvalidTask::ExpiryBeforeStart {
                    expired_at,
                    start: starts_at,
                });
            }
        }
        if self.next_after(start).is_none() {
            return Err(InvalidTask::NeverRuns { start, expired_at });
        }
        Ok(())
    }

    /// The instant after which this schedule has no slot.
    pub fn expired_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Now => None,
            Self::Once { at } => Some(*at),
            Self::Periodic { expired_at, .. } => Some(*expired_at),
            Self::Timer { expired_at, .. } => *expired_at,
        }
    }

    /// The first slot strictly after `t`, if any (never one after the expiry).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = match self {
            Self::Now => None,
            Self::Once { at } => (*at > t).then_some(*at),
            Self::Periodic {
                recurrence,
                at,
                starts_at,
                tz,
                ..
            } => {
                // A slot equal to starts_at is allowed: search from just before it.
                let from = match starts_at {
                    Some(s) if *s > t => *s - Duration::nanoseconds(1),
                    _ => t,
                };
                next_periodic(recurrence, *at, *tz, from)
            }
            Self::Timer { expression, .. } => expression.next_after(t),
        }?;
        match self.expired_at() {
            Some(expired_at) if next > expired_at => None,
            _ => Some(next),
        }
    }

    /// Every slot in `(after, upto]`, in order (at most 10,000).
    pub fn slots(&self, after: DateTime<Utc>, upto: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut cursor = after;
        while out.len() < MAX_SLOTS {
            match self.next_after(cursor) {
                Some(slot) if slot <= upto => {
                    out.push(slot);
                    cursor = slot;
                }
                _ => break,
            }
        }
        out
    }
}

/// `t` with seconds and fractions dropped.
pub fn truncate_to_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp().div_euclid(60) * 60, 0).unwrap_or(t)
}

/// The instant of a local date and time: the first of two if the clocks go back, the first
/// instant after the gap if the clocks skip it.
fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return Some(t.with_timezone(&Utc));
    }
    // In a gap: walk forward minute by minute (gaps are at most a day long) to its end.
    let mut probe = local;
    for _ in 0..(26 * 60) {
        probe += Duration::minutes(1);
        let probe_minute = probe.with_second(0)?;
        if let Some(t) = tz.from_local_datetime(&probe_minute).earliest() {
            return Some(t.with_timezone(&Utc));
        }
    }
    None
}

fn day_matches(recurrence: &Recurrence, date: NaiveDate) -> bool {
    match recurrence {
        Recurrence::Daily => true,
        Recurrence::Weekly { days } => days.contains(&date.weekday()),
        Recurrence::Monthly { from_day, to_day } => (*from_day..=*to_day).contains(&date.day()),
    }
}

fn next_periodic(
    recurrence: &Recurrence,
    at: NaiveTime,
    tz: Tz,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // Start a day early: a slot on the previous local date can still lie after `after` when
    // a gap pushed it forward.
    let mut date = after.with_timezone(&tz).date_naive().pred_opt()?;
    for _ in 0..MAX_DAYS_AHEAD {
        if day_matches(recurrence, date) {
            if let Some(slot) = resolve_local(tz, date.and_time(at)) {
                if slot > after {
                    return Some(slot);
                }
            }
        }
        date = date.succ_opt()?;
    }
    None
}
