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

/// The years a period may be in.
const YEARS: std::ops::RangeInclusive<i32> = 2000..=2200;

/// `digits` ASCII digits, and nothing else (`str::parse` would also take a
/// sign, or fewer digits).
fn number<T: std::str::FromStr>(text: &str, digits: usize) -> Option<T> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

impl Period {
    /// The pattern of a period as `from_str` takes it (trimmed), blank
    /// too: the years of `YEARS` that have a week 53 are named.
    pub fn pattern() -> String {
        let long_years: Vec<String> = YEARS
            .filter(|&year| chrono::NaiveDate::from_isoywd_opt(year, 53, chrono::Weekday::Mon).is_some())
            .map(|year| year.to_string())
            .collect();
        let space = format!("[{}]*", crate::openapi::SPACE);
        let year = "(?:20[0-9]{2}|21[0-9]{2}|2200)";
        let week = "[Ww](?:0[1-9]|[1-4][0-9]|5[0-2])";
        let month = "(?:0[1-9]|1[0-2])";
        let long = long_years.join("|");
        format!("^{space}(?:{year}-(?:{week}|{month})|(?:{long})-[Ww]53)?{space}$")
    }
}

impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = || format!("'{text}' is not a period: write a week like 2026-W48 or a month like 2026-11");
        let (year, rest) = text.trim().split_once('-').ok_or_else(wrong)?;
        let year: i32 = number(year, 4).ok_or_else(wrong)?;
        if !YEARS.contains(&year) {
            return Err(wrong());
        }
        if let Some(week) = rest.strip_prefix('W').or_else(|| rest.strip_prefix('w')) {
            let week: u32 = number(week, 2).ok_or_else(wrong)?;
            // Week 53 exists only in some years.
            chrono::NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon).ok_or_else(wrong)?;
            Ok(Period::Week { year, week })
        } else {
            let month: u32 = number(rest, 2).ok_or_else(wrong)?;
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
            "", "2026", "2026-W54", "2026-W00", "2026-13", "2026-00", "1999-W10", "2026-W5x", "2021-W53", "+2026-11",
            "2026-1", "2026-W5", "02026-11", "2026-+1",
        ] {
            assert!(wrong.parse::<Period>().is_err(), "{wrong}");
        }
        // The document's pattern takes what `parse` takes, and nothing else.
        let pattern = regex::Regex::new(&Period::pattern()).unwrap();
        for year in [1999, 2000, 2020, 2021, 2026, 2200, 2201] {
            for rest in (0..=54)
                .map(|w| format!("W{w:02}"))
                .chain((0..=13).map(|m| format!("{m:02}")))
            {
                let text = format!("{year}-{rest}");
                assert_eq!(pattern.is_match(&text), text.parse::<Period>().is_ok(), "{text}");
            }
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
