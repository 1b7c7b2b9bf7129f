//! Function Compute timer expressions.
//!
//! FC's timer trigger takes a 6-field cron expression with seconds first
//! (`Seconds Minutes Hours Day-of-month Month Day-of-week`, weekdays 0–6 = SUN–SAT, `?` allowed
//! in the day fields), optionally prefixed by `CRON_TZ=<IANA zone>` (UTC otherwise), or an
//! interval `@every 5m` / `@every 1h30m`. croner parses the six fields; the prefix and the
//! interval form are handled here.
//!
//! reimage runs at most once a minute (FC's own minimum interval), so the seconds field must be
//! one number, and intervals are whole minutes.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A parsed timer expression.
#[derive(Debug, Clone)]
pub enum TimerExpression {
    /// A six-field cron expression in a time zone.
    Cron {
        /// The parsed fields.
        cron: Box<Cron>,
        /// `CRON_TZ`, or UTC.
        tz: Tz,
    },
    /// `@every <interval>`: slots at whole multiples of the interval since the Unix epoch, so
    /// every scheduler computes the same slots.
    Every {
        /// At least one minute, in whole minutes.
        interval: TimeDelta,
    },
}

impl TimerExpression {
    /// The first time strictly after `t` that the expression fires.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Cron { cron, tz } => cron
                .find_next_occurrence(&t.with_timezone(tz), false)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            Self::Every { interval } => {
                let step = interval.num_seconds().max(60);
                let k = t.timestamp().div_euclid(step) + 1;
                DateTime::from_timestamp(k.checked_mul(step)?, 0)
            }
        }
    }
}

/// Parses an FC timer expression; the error says what is wrong.
pub fn parse_cron(expression: &str) -> Result<TimerExpression, String> {
    let mut rest = expression.trim();
    let mut tz = Tz::UTC;
    if let Some(after) = rest.strip_prefix("CRON_TZ=") {
        let (zone, fields) = after
            .split_once(char::is_whitespace)
            .ok_or_else(|| "CRON_TZ=<zone> must be followed by the schedule".to_owned())?;
        tz = zone
            .parse::<Tz>()
            .map_err(|_| format!("CRON_TZ names an unknown time zone {zone:?}"))?;
        rest = fields.trim();
    }
    if let Some(interval) = rest.strip_prefix("@every") {
        return parse_every(interval.trim()).map(|interval| TimerExpression::Every { interval });
    }
    if rest.starts_with('@') {
        return Err("the only @ form is @every <N>m or @every <N>h<M>m".to_owned());
    }
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "expected 6 fields (seconds minutes hours day-of-month month day-of-week), got {}",
            fields.len()
        ));
    }
    if !fields[0].bytes().all(|b| b.is_ascii_digit())
        || fields[0].parse::<u32>().is_ok_and(|s| s > 59)
    {
        return Err(
            "the seconds field must be one number from 0 to 59 (at most one run a minute)"
                .to_owned(),
        );
    }
    let cron = CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Disallowed)
        .build()
        .parse(rest)
        .map_err(|e| e.to_string())?;
    Ok(TimerExpression::Cron {
        cron: Box::new(cron),
        tz,
    })
}

/// `5m`, `1h`, `1h30m`: whole hours and minutes, at least one minute.
fn parse_every(text: &str) -> Result<TimeDelta, String> {
    let bad = || format!("@every {text:?}: expected a duration such as 5m, 1h or 1h30m");
    if text.is_empty() {
        return Err(bad());
    }
    let mut minutes: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            'h' => 60,
            'm' => 1,
            _ => return Err(bad()),
        };
        minutes = n
            .checked_mul(unit)
            .and_then(|m| minutes.checked_add(m))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() {
        return Err(bad());
    }
    if minutes < 1 {
        return Err(format!("@every {text:?}: the interval must be at least 1m"));
    }
    if minutes > 366 * 24 * 60 {
        return Err(format!(
            "@every {text:?}: the interval must be at most a year"
        ));
    }
    Ok(TimeDelta::minutes(minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_field_expressions_parse_with_seconds_first() {
        let TimerExpression::Cron { cron, tz } = parse_cron("0 0 4 * * *").unwrap() else {
            panic!("not a cron expression");
        };
        assert_eq!(tz, Tz::UTC);
        assert!(cron.pattern.hour_match(4).unwrap());
        assert!(!cron.pattern.hour_match(0).unwrap());
    }

    #[test]
    fn cron_tz_prefix_sets_the_zone() {
        let TimerExpression::Cron { tz, .. } =
            parse_cron("CRON_TZ=Asia/Shanghai 0 0 4 1 * *").unwrap()
        else {
            panic!("not a cron expression");
        };
        assert_eq!(tz, chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        assert!(
            parse_cron("0 4 * * *")
                .unwrap_err()
                .contains("expected 6 fields")
        );
        assert!(
            parse_cron("*/10 * * * * *")
                .unwrap_err()
                .contains("seconds field")
        );
        assert!(
            parse_cron("CRON_TZ=Mars/Olympus 0 0 4 * * *")
                .unwrap_err()
                .contains("Mars/Olympus")
        );
        assert!(parse_cron("0 0 25 * * *").is_err());
        assert!(parse_cron("@daily").unwrap_err().contains("@every"));
        assert!(parse_cron("@every 30s").unwrap_err().contains("@every"));
        assert!(parse_cron("@every 0m").unwrap_err().contains("at least 1m"));
        assert!(
            parse_cron("CRON_TZ=UTC")
                .unwrap_err()
                .contains("followed by")
        );
    }

    #[test]
    fn every_takes_hours_and_minutes() {
        for (text, minutes) in [("@every 5m", 5), ("@every 1h", 60), ("@every 1h30m", 90)] {
            let TimerExpression::Every { interval } = parse_cron(text).unwrap() else {
                panic!("not an interval: {text}");
            };
            assert_eq!(interval, TimeDelta::minutes(minutes), "{text}");
        }
    }
}
