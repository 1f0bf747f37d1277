//! When digests are due: `KARVAN_DIGEST_SCHEDULE` (default Monday 08:00)
//! read in each member's own zone. Weekly digests follow every occurrence;
//! monthly ones the first occurrence of each month. The ticker asks every
//! minute; a period whose moment passed while the service was down is
//! caught up at the next start (the latest period only: what a missed
//! digest would have said is in the next one).

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use crate::db::schema::{member_settings, members};
use crate::digest::period::Period;
use crate::digest::run::{self, RunOptions};
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

/// Runs every digest that is due at `now`, zone by zone; returns how many
/// were queued. Only one replica does it at a time (an advisory lock held
/// on this connection), though a second would only find the keys taken.
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
    let result = run_due_locked(conn, mail, schedule, now);
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(LOCK_KEY)
        .execute(conn)?;
    result
}

fn run_due_locked(
    conn: &mut PgConnection,
    mail: &MailContext,
    schedule: &cron::Schedule,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    #[derive(QueryableByName)]
    struct Zone {
        #[diesel(sql_type = Text)]
        zone: String,
    }
    let mut queued = 0;
    for frequency in ["weekly", "monthly"] {
        let zones: Vec<Zone> = diesel::sql_query(
            "SELECT DISTINCT coalesce(m.time_zone, $1) AS zone FROM members m \
             JOIN member_settings s ON s.member_id = m.id \
             WHERE m.status = 'active' AND s.digest_frequency = $2",
        )
        .bind::<Text, _>(mail.time_zone.name())
        .bind::<Text, _>(frequency)
        .load(conn)?;
        for Zone { zone: name } in zones {
            // A zone that no longer parses is read as the association's.
            let zone: Tz = name.parse().unwrap_or(mail.time_zone);
            let Some((period, _moment)) = due_period(schedule, frequency, zone, now) else {
                continue;
            };
            let waiting: i64 = members::table
                .inner_join(member_settings::table)
                .filter(members::status.eq(ACTIVE))
                .filter(member_settings::digest_frequency.eq(frequency))
                .filter(crate::members_not_yet_considered!(period))
                .filter(crate::members_in_zone!(&name, mail))
                .count()
                .get_result(conn)?;
            if waiting == 0 {
                continue;
            }
            let options = RunOptions {
                period,
                dry_run: false,
                trigger: "schedule",
                actor: None,
                zone: Some(name.clone()),
            };
            queued += run::run(conn, mail, options, now, &mut |_, _| {})?.queued as usize;
        }
    }
    Ok(queued)
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
