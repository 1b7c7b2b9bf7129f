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

/// The delay before the next look at an image being built from a snapshot.
///
/// Once the image reports progress, [`next_check`] from the time since CreateImage. Before
/// that, the time the whole build has taken so far (the snapshot included) is the best guide
/// to how long the image will take, so the first look waits about that long (bounded as
/// always): a build whose snapshot took minutes is not looked at every few seconds.
pub fn next_image_check(
    progress: Option<u8>,
    since_image_requested: Duration,
    since_build_started: Duration,
) -> Duration {
    match progress {
        Some(p) if p >= 1 => next_check(Some(p), since_image_requested),
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
        assert_eq!(next_image_check(None, secs(0), secs(305)), MAX_DELAY);
        // A quick snapshot: a quick first look.
        assert_eq!(next_image_check(None, secs(0), secs(5)), MIN_DELAY);
        assert_eq!(next_image_check(Some(0), secs(5), secs(12)), secs(12));
        // With progress, only the image's own time counts.
        assert_eq!(next_image_check(Some(50), secs(300), secs(605)), secs(300));
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
