//! When to look at a snapshot or image being built again: a pure function of the reported
//! Progress and the time elapsed since the build was requested.
//!
//! A build that reports `p` percent after `t` seconds is assumed to progress evenly. Progress
//! is a whole percent, so the true share is somewhere in `[p, p+1)` and the build is done by
//! `t * 100 / p` seconds at the latest: the next check is scheduled for then, so it is not
//! wasted on a build that cannot be done yet, and comes at most `t / p` late. Before any
//! progress is reported the delay doubles with the elapsed time.
//! The delay is always between [`MIN_DELAY`] and [`MAX_DELAY`], so a build of any length
//! costs a handful of calls and a finished image is noticed within a few seconds to a few
//! minutes.

use std::time::Duration;

/// The shortest delay between two checks.
pub const MIN_DELAY: Duration = Duration::from_secs(5);
/// The longest delay between two checks.
pub const MAX_DELAY: Duration = Duration::from_secs(300);

/// The delay before the next check of a build that reported `progress` percent (if any)
/// `elapsed` after it was requested.
pub fn next_check(progress: Option<u8>, elapsed: Duration) -> Duration {
    let elapsed_s = elapsed.as_secs_f64();
    let delay_s = match progress {
        Some(p) if (1..100).contains(&p) => {
            let done_by = elapsed_s * 100.0 / f64::from(p);
            done_by - elapsed_s
        }
        // Done but not yet Available (e.g. `Waiting`): look again soon.
        Some(p) if p >= 100 => 0.0,
        // Nothing reported yet: back off with the elapsed time.
        _ => elapsed_s,
    };
    let bounded = delay_s.clamp(MIN_DELAY.as_secs_f64(), MAX_DELAY.as_secs_f64());
    Duration::from_secs_f64(bounded.ceil())
}

/// What the previous look at the same image saw: its progress, and how long ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// The progress reported then.
    pub progress: u8,
    /// How long before this look it was.
    pub ago: Duration,
}

/// The smallest share of the time since CreateImage that a look waits once the image reports
/// progress: an estimate that keeps coming out too early (a build that slows down as it goes)
/// then costs a handful of looks, not dozens, and a look comes at most this share late.
pub const LEAST_SHARE: f64 = 0.04;

/// How far the progress must have moved since the previous look for the pace between the two
/// to count: Progress is a whole percent, so a move of one or two says little of the pace.
pub const PACE_POINTS: u8 = 3;

/// The delay before the next look at an image being built from a snapshot.
///
/// Once the image reports progress, [`next_check`] from the time since CreateImage, or, when
/// the progress moved by [`PACE_POINTS`] or more since the `previous` look, the pace between
/// the two looks if that says later: a build that slows down is judged by how fast it goes now, not by its fast start.
/// Either way it waits at least [`LEAST_SHARE`] of the time since CreateImage. Before that,
/// the time the whole build has taken so far (the snapshot included) is the best guide to how
/// long the image will take, so the first look waits about that long (bounded as always): a
/// build whose snapshot took minutes is not looked at every few seconds.
pub fn next_image_check(
    progress: Option<u8>,
    since_image_requested: Duration,
    since_build_started: Duration,
    previous: Option<Observation>,
) -> Duration {
    match progress {
        Some(p) if (1..100).contains(&p) => {
            let from_start = next_check(Some(p), since_image_requested);
            let recent = previous
                .filter(|seen| {
                    seen.progress >= 1
                        && p >= seen.progress.saturating_add(PACE_POINTS)
                        && !seen.ago.is_zero()
                })
                .map(|seen| {
                    let per_percent = seen.ago.as_secs_f64() / f64::from(p - seen.progress);
                    per_percent * f64::from(100 - p)
                })
                .unwrap_or(0.0);
            let least = since_image_requested.as_secs_f64() * LEAST_SHARE;
            let delay_s = from_start
                .as_secs_f64()
                .max(recent.min(MAX_DELAY.as_secs_f64()));
            let bounded = delay_s
                .max(least)
                .clamp(MIN_DELAY.as_secs_f64(), MAX_DELAY.as_secs_f64());
            Duration::from_secs_f64(bounded.ceil())
        }
        Some(p) if p >= 100 => next_check(Some(p), since_image_requested),
        _ => next_check(None, since_build_started.max(since_image_requested)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn half_done_builds_are_checked_when_expected_to_finish() {
        // 50% after 300 s: done by 600 s at the latest, so 300 s more.
        assert_eq!(next_check(Some(50), secs(300)), secs(300));
        // 75% after 300 s: done by 400 s.
        assert_eq!(next_check(Some(75), secs(300)), secs(100));
        // 90% after 90 s: ~10 s more.
        assert_eq!(next_check(Some(90), secs(90)), secs(10));
    }

    #[test]
    fn an_image_is_first_looked_at_after_about_as_long_as_its_snapshot_took() {
        // Snapshot took 305 s, image just requested: look again in 300 s (the bound).
        assert_eq!(next_image_check(None, secs(0), secs(305), None), MAX_DELAY);
        // A quick snapshot: a quick first look.
        assert_eq!(next_image_check(None, secs(0), secs(5), None), MIN_DELAY);
        assert_eq!(next_image_check(Some(0), secs(5), secs(12), None), secs(12));
        // With progress, only the image's own time counts.
        assert_eq!(
            next_image_check(Some(50), secs(300), secs(605), None),
            secs(300)
        );
    }

    #[test]
    fn a_build_that_slows_down_is_judged_by_its_recent_pace() {
        let seen = |progress, ago| {
            Some(Observation {
                progress,
                ago: secs(ago),
            })
        };
        // 80 % after 200 s says 50 s more; but the last 10 % took 100 s: 200 s more.
        assert_eq!(
            next_image_check(Some(80), secs(200), secs(400), seen(70, 100)),
            secs(200)
        );
        // A recent pace that says sooner than the start does not shorten the wait.
        assert_eq!(
            next_image_check(Some(50), secs(200), secs(400), seen(40, 10)),
            secs(200)
        );
        // Progress that did not move, or barely, or a look before any progress, says nothing
        // of the pace.
        assert_eq!(
            next_image_check(Some(50), secs(200), secs(400), seen(50, 100)),
            secs(200)
        );
        assert_eq!(
            next_image_check(Some(50), secs(200), secs(400), seen(48, 500)),
            secs(200)
        );
        assert_eq!(
            next_image_check(Some(50), secs(200), secs(400), seen(0, 100)),
            secs(200)
        );
        // Nearly done by the estimate: still a share of the time so far, not the minimum.
        assert_eq!(
            next_image_check(Some(99), secs(1000), secs(1200), None),
            secs(40)
        );
    }

    #[test]
    fn a_build_that_slows_down_costs_a_few_looks_and_is_noticed_soon() {
        // Progress 1 - (1 - s)² after a share s of a 1,800 s build, looked at as the function
        // says, the first look when the snapshot took as long.
        let total = 1800.0_f64;
        let percent = |t: f64| {
            let s = (t / total).min(1.0);
            ((1.0 - (1.0 - s).powi(2)) * 100.0).floor() as u8
        };
        let mut t = next_image_check(None, secs(0), secs(1800), None).as_secs_f64();
        let (mut looks, mut previous) = (1, None);
        while t < total {
            let p = percent(t);
            let delay = next_image_check(Some(p), Duration::from_secs_f64(t), secs(3600), previous);
            previous = Some(Observation {
                progress: p,
                ago: delay,
            });
            t += delay.as_secs_f64();
            looks += 1;
        }
        assert!(looks <= 10, "{looks} looks");
        assert!(t - total <= total * 0.05, "noticed {} s late", t - total);
    }

    #[test]
    fn the_delay_is_bounded() {
        // Barely started: the estimate is far away, capped at five minutes.
        assert_eq!(next_check(Some(1), secs(60)), MAX_DELAY);
        // Nearly done: never sooner than the minimum.
        assert_eq!(next_check(Some(99), secs(10)), MIN_DELAY);
        assert_eq!(next_check(Some(100), secs(10)), MIN_DELAY);
        assert_eq!(next_check(None, secs(0)), MIN_DELAY);
    }

    #[test]
    fn without_progress_the_delay_grows_with_elapsed_time() {
        assert_eq!(next_check(None, secs(20)), secs(20));
        assert_eq!(next_check(Some(0), secs(40)), secs(40));
        assert_eq!(next_check(None, secs(4000)), MAX_DELAY);
    }

    #[test]
    fn a_ten_minute_build_takes_few_checks_and_is_noticed_soon() {
        // Simulate an evenly progressing 600 s build checked as the function says.
        let total = 600.0_f64;
        let mut t = 0.0_f64;
        let mut checks = 0;
        loop {
            let delay = next_check(
                if t == 0.0 {
                    None
                } else {
                    Some(((t / total * 100.0).floor() as u8).min(100))
                },
                Duration::from_secs_f64(t),
            );
            t += delay.as_secs_f64();
            checks += 1;
            if t >= total {
                break;
            }
        }
        assert!(checks <= 6, "{checks} checks");
        assert!(t - total <= 30.0, "noticed {} s late", t - total);
    }

    proptest! {
        /// For an evenly progressing build, a check scheduled from reported progress never
        /// comes before the build is done, unless the five-minute bound cuts it short.
        #[test]
        fn checks_from_progress_are_never_early(total in 10u64..20_000, at in 0.0f64..1.0) {
            let t = ((total as f64) * at).max(1.0) as u64;
            prop_assume!(t < total);
            let p = (t * 100 / total) as u8;
            prop_assume!(p >= 1);
            let d = next_check(Some(p), Duration::from_secs(t));
            prop_assert!(d == MAX_DELAY || t + d.as_secs() >= total, "t={t} p={p} d={d:?}");
        }

        #[test]
        fn always_between_min_and_max(p in proptest::option::of(0u8..=255), e in 0u64..100_000) {
            let d = next_check(p, Duration::from_secs(e));
            prop_assert!(d >= MIN_DELAY && d <= MAX_DELAY);
        }
    }
}
