//! When digests are due: `KARVAN_DIGEST_SCHEDULE` (default Monday 08:00)
//! read in each member's own zone. Weekly digests follow every occurrence;
//! monthly ones the first occurrence of each month. The ticker asks every
//! minute; a period whose moment passed while the service was down is
//! caught up at the next start (the latest period only: what a missed
//! digest would have said is in the next one).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use crate::digest::period::Period;
use crate::digest::run::{self, DigestRun, DueMembers, RunOptions};
use crate::email::MailContext;
use crate::error::AppError;
use crate::members::model::ACTIVE;

/// The lock that keeps scheduled runs to one replica at a time.
const LOCK_KEY: i64 = 0x6b61_7276_616e_6431; // "karvand1"

/// The `frequency` period whose moment in `zone` came last before `now`,
/// with that moment.
pub fn due_period(
    schedule: &cron::Schedule,
    frequency: &str,
    zone: Tz,
    now: DateTime<Utc>,
) -> Option<(Period, DateTime<Utc>)> {
    let last = schedule.after(&now.with_timezone(&zone)).next_back()?;
    match frequency {
        "weekly" => {
            let week = last.date_naive().iso_week();
            Some((
                Period::Week {
                    year: week.year(),
                    week: week.week(),
                },
                last.with_timezone(&Utc),
            ))
        }
        "monthly" => {
            // The first moment of that month, which has passed too. The
            // search starts the day before the 1st (whose midnight may not
            // exist where clocks change then).
            let day_before = NaiveDate::from_ymd_opt(last.year(), last.month(), 1)?
                .pred_opt()?
                .and_hms_opt(12, 0, 0)?;
            let before = zone.from_local_datetime(&day_before).earliest()?;
            let first = schedule
                .after(&before)
                .find(|o| (o.year(), o.month()) == (last.year(), last.month()))?;
            Some((
                Period::Month {
                    year: first.year(),
                    month: first.month(),
                },
                first.with_timezone(&Utc),
            ))
        }
        _ => None,
    }
}

/// "This period" for members of `frequency` in `zone` at `now`: the
/// period of the schedule's last moment there, as the schedule runs it;
/// with no schedule (`off`), the calendar week or month `now` is in there.
/// So the board's "Run now" and `karvan digest run` agree with the
/// schedule: pressed on Monday at 07:00 before an 08:00 schedule, they run
/// last week's, which members have had.
pub fn this_period(schedule: Option<&cron::Schedule>, frequency: &str, zone: Tz, now: DateTime<Utc>) -> Option<Period> {
    match schedule {
        Some(schedule) => due_period(schedule, frequency, zone, now).map(|(period, _)| period),
        None => {
            let (week, month) = Period::current(now, zone);
            match frequency {
                "weekly" => Some(week),
                "monthly" => Some(month),
                _ => None,
            }
        }
    }
}

/// Every period due at `now` with the zones of the members it is for, those
/// of each rhythm and zone grouped by their [`this_period`]; only periods
/// some member is still waiting for.
pub fn due_periods(
    conn: &mut PgConnection,
    mail: &MailContext,
    schedule: Option<&cron::Schedule>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<DueMembers>> {
    #[derive(QueryableByName)]
    struct Zone {
        #[diesel(sql_type = Text)]
        zone: String,
    }
    let association_zone = mail.time_zone.name().to_string();
    let mut due = Vec::new();
    for frequency in ["weekly", "monthly"] {
        let zones: Vec<Zone> = diesel::sql_query(
            "SELECT DISTINCT coalesce(m.time_zone, $1) AS zone FROM members m \
             JOIN member_settings s ON s.member_id = m.id \
             WHERE m.status = $2 AND s.digest_frequency = $3 ORDER BY 1",
        )
        .bind::<Text, _>(&association_zone)
        .bind::<Text, _>(ACTIVE)
        .bind::<Text, _>(frequency)
        .load(conn)?;
        let mut periods: BTreeMap<String, DueMembers> = BTreeMap::new();
        for Zone { zone: name } in zones {
            // A zone that no longer parses is read as the association's.
            let zone: Tz = name.parse().unwrap_or(mail.time_zone);
            let Some(period) = this_period(schedule, frequency, zone, now) else {
                continue;
            };
            periods
                .entry(period.to_string())
                .or_insert_with(|| DueMembers {
                    period,
                    zones: Some(Vec::new()),
                    association_zone: association_zone.clone(),
                })
                .zones
                .get_or_insert_with(Vec::new)
                .push(name);
        }
        for group in periods.into_values() {
            if group.count(conn)? > 0 {
                due.push(group);
            }
        }
    }
    Ok(due)
}

/// Who asked for a run of each member's own period, and whether it only counts.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    /// `schedule`, `admin` or `cli`.
    pub trigger: &'static str,
    pub actor: Option<uuid::Uuid>,
    pub dry_run: bool,
}

/// Runs "this period" for every member (see [`this_period`]): one run for
/// each period due, over the zones it is due in. The schedule, the board's
/// "Run now" and `karvan digest run` without `--period` all run this; runs
/// that overlap (a replica, a hand run beside the schedule) wait for each
/// other member by member and never tell a member the same thing twice.
pub fn run_this_period(
    conn: &mut PgConnection,
    mail: &MailContext,
    schedule: Option<&cron::Schedule>,
    now: DateTime<Utc>,
    asked: Asked,
    progress: &mut dyn FnMut(&Period, usize, usize),
) -> Result<Vec<DigestRun>, AppError> {
    let groups = due_periods(conn, mail, schedule, now)?;
    run_groups(conn, mail, groups, now, asked, progress)
}

/// One run for each group of members (a period, and the zones it is for).
pub fn run_groups(
    conn: &mut PgConnection,
    mail: &MailContext,
    groups: Vec<DueMembers>,
    now: DateTime<Utc>,
    asked: Asked,
    progress: &mut dyn FnMut(&Period, usize, usize),
) -> Result<Vec<DigestRun>, AppError> {
    let mut runs = Vec::new();
    for due in groups {
        let period = due.period;
        let options = RunOptions {
            period,
            dry_run: asked.dry_run,
            trigger: asked.trigger,
            actor: asked.actor,
            zones: due.zones,
        };
        runs.push(run::run(conn, mail, options, now, &mut |done, total| {
            progress(&period, done, total)
        })?);
    }
    Ok(runs)
}

/// Runs every digest that is due at `now`; returns how many were queued.
/// Only one replica does it at a time (an advisory lock held on this
/// connection), though a second would only wait for the first member by
/// member and find them done.
pub fn run_due(
    conn: &mut PgConnection,
    mail: &MailContext,
    schedule: &cron::Schedule,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = Bool)]
        locked: bool,
    }
    let locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
        .bind::<BigInt, _>(LOCK_KEY)
        .get_result::<Locked>(conn)?
        .locked;
    if !locked {
        return Ok(0);
    }
    let asked = Asked {
        trigger: "schedule",
        actor: None,
        dry_run: false,
    };
    let result = run_this_period(conn, mail, Some(schedule), now, asked, &mut |_, _, _| {});
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(LOCK_KEY)
        .execute(conn)?;
    Ok(result?.iter().map(|run| run.queued as usize).sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn each_zone_reaches_its_own_monday_morning_and_monthly_digests_the_first_of_the_month() {
        let schedule = cron::Schedule::from_str("0 0 8 * * Mon").unwrap();
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        // Monday 30 November 2026, 04:30 UTC: 08:30 in Baku, still Sunday night in New York.
        let now = at("2026-11-30T04:30:00Z");
        let (baku, moment) = due_period(&schedule, "weekly", chrono_tz::Asia::Baku, now).unwrap();
        assert_eq!(
            (baku.to_string(), moment),
            ("2026-W49".to_string(), at("2026-11-30T04:00:00Z"))
        );
        let (new_york, moment) = due_period(&schedule, "weekly", chrono_tz::America::New_York, now).unwrap();
        assert_eq!(
            (new_york.to_string(), moment),
            ("2026-W48".to_string(), at("2026-11-23T13:00:00Z"))
        );
        // Monthly: the first Monday of the month (2 November), until the first of December's.
        let (month, moment) = due_period(&schedule, "monthly", chrono_tz::Asia::Karachi, now).unwrap();
        assert_eq!(
            (month.to_string(), moment),
            ("2026-11".to_string(), at("2026-11-02T03:00:00Z"))
        );
        let (month, _) = due_period(
            &schedule,
            "monthly",
            chrono_tz::Asia::Karachi,
            at("2026-12-07T03:30:00Z"),
        )
        .unwrap();
        assert_eq!(month.to_string(), "2026-12");
        assert!(due_period(&schedule, "off", chrono_tz::UTC, now).is_none());
    }
}
