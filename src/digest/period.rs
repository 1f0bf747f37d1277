//! A digest's period: `2026-W48` for a weekly digest (ISO week), `2026-11`
//! for a monthly one. The period names the outbox key of each digest
//! (`digest:<period>:<member>`), so a period is mailed once per member.

use std::fmt;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Week { year: i32, week: u32 },
    Month { year: i32, month: u32 },
}

impl Period {
    /// The week and the month `now` falls in, in `zone`.
    pub fn current(now: DateTime<Utc>, zone: Tz) -> (Period, Period) {
        let local = now.with_timezone(&zone).date_naive();
        let iso = local.iso_week();
        (
            Period::Week {
                year: iso.year(),
                week: iso.week(),
            },
            Period::Month {
                year: local.year(),
                month: local.month(),
            },
        )
    }

    /// Which members' digests it is: `weekly` or `monthly`.
    pub fn frequency(self) -> &'static str {
        match self {
            Period::Week { .. } => "weekly",
            Period::Month { .. } => "monthly",
        }
    }

    /// "week 48 of 2026", "November 2026".
    pub fn label(self) -> String {
        match self {
            Period::Week { year, week } => format!("week {week} of {year}"),
            Period::Month { year, month } => chrono::NaiveDate::from_ymd_opt(year, month, 1)
                .map(|d| d.format("%B %Y").to_string())
                .unwrap_or_else(|| self.to_string()),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Week { year, week } => write!(f, "{year}-W{week:02}"),
            Period::Month { year, month } => write!(f, "{year}-{month:02}"),
        }
    }
}

impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = || format!("'{text}' is not a period: write a week like 2026-W48 or a month like 2026-11");
        let (year, rest) = text.trim().split_once('-').ok_or_else(wrong)?;
        let year: i32 = year.parse().map_err(|_| wrong())?;
        if !(2000..=2200).contains(&year) {
            return Err(wrong());
        }
        if let Some(week) = rest.strip_prefix('W').or_else(|| rest.strip_prefix('w')) {
            let week: u32 = week.parse().map_err(|_| wrong())?;
            // Week 53 exists only in some years.
            chrono::NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon).ok_or_else(wrong)?;
            Ok(Period::Week { year, week })
        } else {
            let month: u32 = rest.parse().map_err(|_| wrong())?;
            if !(1..=12).contains(&month) {
                return Err(wrong());
            }
            Ok(Period::Month { year, month })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Period;

    #[test]
    fn periods_read_and_write_the_same_and_odd_ones_are_refused() {
        for text in ["2026-W48", "2026-W01", "2026-11", "2020-W53"] {
            assert_eq!(text.parse::<Period>().unwrap().to_string(), text);
        }
        for wrong in [
            "", "2026", "2026-W54", "2026-W00", "2026-13", "2026-00", "1999-W10", "2026-W5x", "2021-W53",
        ] {
            assert!(wrong.parse::<Period>().is_err(), "{wrong}");
        }
        let now = "2026-11-30T01:00:00Z".parse().unwrap();
        // Still Sunday the 29th in New York (week 48), already Monday in Baku (week 49).
        assert_eq!(
            Period::current(now, chrono_tz::America::New_York).0.to_string(),
            "2026-W48"
        );
        assert_eq!(Period::current(now, chrono_tz::Asia::Baku).0.to_string(), "2026-W49");
    }
}
