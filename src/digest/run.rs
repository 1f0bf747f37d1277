//! A digest run: for every active member whose rhythm is the period's,
//! what is new since their last digest (or their approval), composed and
//! queued as one outbox row keyed `digest:<period>:<member>`.
//!
//! Members are taken in batches, each in its own transaction: a run killed
//! halfway keeps the batches it finished, and the next run does the rest.
//! Correctness never rests on a lock: a rerun, or two runs at once, find
//! the key taken and queue nothing twice; only the run whose row went in
//! moves the member's `digest_covered_until`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use crate::announcements::model::Announcement;
use crate::db::schema::{announcements, digest_runs, events, exchange_records, member_settings, members, rsvps};
use crate::digest::emails::{Digest, EventLine, NewsLine, PersonLine};
use crate::digest::period::Period;
use crate::email::unsubscribe::Topic;
use crate::email::{outbox, Email, MailContext};
use crate::error::AppError;
use crate::events::emails::when_in;
use crate::events::model::{Event, PUBLISHED};
use crate::members::model::{Member, ACTIVE};
use crate::members::settings::MemberSettings;

/// The members a run of one period is for, as SQL on `member_settings s`
/// joined to `members m`, with its binds from [`DueMembers::bind`]: of
/// status `$1` (active), of the period's rhythm (`$2`), not yet considered
/// for the period (`$3`, `$4`: none marked, an earlier period of the same
/// rhythm, which sort as text, or a mark of the other rhythm, `2026-W48`
/// against `2026-11`: a member who changed rhythm starts the new one), and
/// in one of the zones `$5` (NULL: any; a member who chose none is in the
/// association's, `$6`). A mark only moves forward, so a period that has
/// passed is never run again for a member marked after it.
const DUE_MEMBERS: &str = "m.status = $1 AND s.digest_frequency = $2 \
     AND (s.digest_period_done IS NULL OR s.digest_period_done < $3 OR (s.digest_period_done LIKE '%W%') <> $4) \
     AND ($5::text[] IS NULL OR coalesce(m.time_zone, $6) = ANY($5::text[]))";

/// Who a run is for: [`DUE_MEMBERS`] with its values.
#[derive(Debug, Clone)]
pub struct DueMembers {
    pub period: Period,
    /// `None`: every zone.
    pub zones: Option<Vec<String>>,
    /// The association's zone, where members who chose none are.
    pub association_zone: String,
}

impl DueMembers {
    /// `sql`, with [`DUE_MEMBERS`] in the place of `{due}` and `$1` to `$6`
    /// bound; further binds follow.
    pub fn bind<'a>(&'a self, sql: &str) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
        diesel::sql_query(sql.replace("{due}", DUE_MEMBERS))
            .into_boxed()
            .bind::<Text, _>(ACTIVE)
            .bind::<Text, _>(self.period.frequency())
            .bind::<Text, _>(self.period.to_string())
            .bind::<Bool, _>(matches!(self.period, Period::Week { .. }))
            .bind::<Nullable<Array<Text>>, _>(self.zones.clone())
            .bind::<Text, _>(self.association_zone.clone())
    }

    /// How many members are waiting for the period.
    pub fn count(&self, conn: &mut PgConnection) -> QueryResult<i64> {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            count: i64,
        }
        let sql = "SELECT count(*) AS count FROM member_settings s JOIN members m ON m.id = s.member_id WHERE {due}";
        Ok(self.bind(sql).get_result::<Count>(conn)?.count)
    }
}

/// Members composed per transaction.
const BATCH: i64 = 500;

/// Digests per INSERT (PostgreSQL takes at most 65,535 bound values).
const QUEUE_CHUNK: usize = 250;

/// Announcements in one digest, the newest.
const MAX_NEWS: i64 = 10;

/// Newcomers looked at for a batch, the most recent.
const MAX_JOINED: i64 = 500;

/// New members named in one digest; the rest are counted.
const MAX_PEOPLE: usize = 12;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub period: Period,
    pub dry_run: bool,
    /// `schedule`, `admin` or `cli`.
    pub trigger: &'static str,
    pub actor: Option<Uuid>,
    /// Only members in these zones (a run of each member's own period);
    /// `None`: everyone.
    pub zones: Option<Vec<String>>,
}

/// Lock space of the runs at work: a run holds the session lock
/// (RUNNING_LOCK, its id) while it works, so the lock goes with its
/// process, and a run that died shows as stopped, not as running forever.
const RUNNING_LOCK: i32 = 0x4b44_5231;

#[derive(Debug, Clone, serde::Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = digest_runs, check_for_backend(diesel::pg::Pg))]
pub struct DigestRun {
    pub id: i64,
    /// `2026-W48` (weekly digests) or `2026-11` (monthly).
    pub period: String,
    /// `schedule`, `admin` or `cli`.
    pub trigger: String,
    /// The admin who asked for it.
    pub actor_id: Option<Uuid>,
    pub dry_run: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Members considered: so far, while the run works; the members of the
    /// batches it finished when it stopped.
    pub considered: i32,
    /// Digests queued to be mailed (in a dry run: that would be).
    pub queued: i32,
    /// `running`, `finished`, or `stopped` (its process ended before the
    /// run did: the next run goes on where it stopped).
    #[diesel(select_expression = diesel::dsl::sql::<diesel::sql_types::Text>(RUN_STATE))]
    #[diesel(select_expression_type = diesel::expression::SqlLiteral<diesel::sql_types::Text>)]
    pub state: String,
}

/// [`DigestRun::state`] in SQL.
const RUN_STATE: &str = concat!(
    "CASE WHEN digest_runs.finished_at IS NOT NULL THEN 'finished' WHEN ",
    // classid is RUNNING_LOCK; the two-key form has objsubid 2.
    "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 1262768689 ",
    "AND objid = (digest_runs.id % 2147483647)::int4::oid AND objsubid = 2 AND granted ",
    // Advisory locks of every database on the server are listed.
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) ",
    "THEN 'running' ELSE 'stopped' END"
);

/// The most recent runs, newest first.
pub fn recent_runs(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<DigestRun>> {
    digest_runs::table
        .select(DigestRun::as_select())
        .order(digest_runs::id.desc())
        .limit(limit)
        .load(conn)
}

/// Runs the period's digests; `progress(done, total)` after each batch.
pub fn run(
    conn: &mut PgConnection,
    mail: &MailContext,
    options: RunOptions,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<DigestRun, AppError> {
    let run_id: i64 = diesel::insert_into(digest_runs::table)
        .values((
            digest_runs::period.eq(options.period.to_string()),
            digest_runs::trigger.eq(options.trigger),
            digest_runs::actor_id.eq(options.actor),
            digest_runs::dry_run.eq(options.dry_run),
        ))
        .returning(digest_runs::id)
        .get_result(conn)?;
    let lock_key = (run_id % i32::MAX as i64) as i32;
    diesel::sql_query("SELECT pg_advisory_lock($1, $2)")
        .bind::<diesel::sql_types::Integer, _>(RUNNING_LOCK)
        .bind::<diesel::sql_types::Integer, _>(lock_key)
        .execute(conn)?;
    let result = run_locked(conn, mail, options, now, progress, run_id);
    // On the way out whatever happened: the connection may go back to a pool.
    let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1, $2)")
        .bind::<diesel::sql_types::Integer, _>(RUNNING_LOCK)
        .bind::<diesel::sql_types::Integer, _>(lock_key)
        .execute(conn);
    let run = result?;
    unlocked?;
    Ok(run)
}

/// [`run`] once the run is recorded and its lock held.
fn run_locked(
    conn: &mut PgConnection,
    mail: &MailContext,
    options: RunOptions,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(usize, usize),
    run_id: i64,
) -> Result<DigestRun, AppError> {
    let due = DueMembers {
        period: options.period,
        zones: options.zones.clone(),
        association_zone: mail.time_zone.name().to_string(),
    };
    let total = due.count(conn)?;
    let mut considered = 0usize;
    let mut after = Uuid::nil();
    loop {
        let (batch_considered, last) = conn.transaction(|conn| {
            let (considered, queued, last) = run_batch(conn, mail, &options, &due, now, after)?;
            // With the batch: a run that stops keeps true counts.
            diesel::update(digest_runs::table.find(run_id))
                .set((
                    digest_runs::considered.eq(digest_runs::considered + considered as i32),
                    digest_runs::queued.eq(digest_runs::queued + queued as i32),
                ))
                .execute(conn)?;
            Ok::<_, AppError>((considered, last))
        })?;
        considered += batch_considered;
        progress(considered, total as usize);
        match last {
            Some(last) => after = last,
            None => break,
        }
    }
    let finished = diesel::update(digest_runs::table.find(run_id))
        .set(digest_runs::finished_at.eq(diesel::dsl::now))
        .returning(DigestRun::as_returning())
        .get_result(conn)?;
    if finished.queued > 1000 {
        // The queue just grew by as many rows: the sender's next claims are
        // planned on fresh statistics (read in order off the due index), not
        // on those of a near-empty table (every due row collected and sorted).
        // Autovacuum would see to it later: a failure here fails nothing.
        if let Err(e) = diesel::sql_query("ANALYZE email_outbox").execute(conn) {
            tracing::warn!(error = %e, "could not analyze the outbox after the digest run");
        }
    }
    Ok(finished)
}

/// The next batch of members due after `after` (by id). A real run locks
/// their settings until its batch commits: a run of another period that
/// reaches a member meanwhile waits, then sees the member marked and their
/// window moved on, and so never composes from what the first one read.
/// (PostgreSQL checks the conditions again on the row it waited for.)
fn lock_batch(conn: &mut PgConnection, due: &DueMembers, after: Uuid, lock: bool) -> QueryResult<Vec<Uuid>> {
    #[derive(QueryableByName)]
    struct Due {
        #[diesel(sql_type = SqlUuid)]
        member_id: Uuid,
    }
    let sql = format!(
        "SELECT s.member_id FROM member_settings s JOIN members m ON m.id = s.member_id \
         WHERE {{due}} AND s.member_id > $7 ORDER BY s.member_id LIMIT $8{}",
        if lock { " FOR NO KEY UPDATE OF s" } else { "" }
    );
    let rows: Vec<Due> = due
        .bind(&sql)
        .bind::<SqlUuid, _>(after)
        .bind::<BigInt, _>(BATCH)
        .load(conn)?;
    Ok(rows.into_iter().map(|row| row.member_id).collect())
}

/// One batch of members after `after` (by id): how many were considered,
/// how many got a digest, and the last id (`None` when there were none).
fn run_batch(
    conn: &mut PgConnection,
    mail: &MailContext,
    options: &RunOptions,
    due: &DueMembers,
    now: DateTime<Utc>,
    after: Uuid,
) -> Result<(usize, usize, Option<Uuid>), AppError> {
    // Each member is considered once a period: a rerun goes on where the
    // last one stopped.
    let ids = lock_batch(conn, due, after, !options.dry_run)?;
    let Some(&last) = ids.last() else {
        return Ok((0, 0, None));
    };
    // Read once locked, so as the last run to hold them left them.
    let batch: Vec<(Member, MemberSettings)> = members::table
        .inner_join(member_settings::table)
        .filter(members::id.eq_any(&ids))
        .order(members::id.asc())
        .select((Member::as_select(), MemberSettings::as_select()))
        .load(conn)?;
    if !options.dry_run {
        diesel::update(member_settings::table.filter(member_settings::member_id.eq_any(&ids)))
            .set(member_settings::digest_period_done.eq(options.period.to_string()))
            .execute(conn)?;
    }
    let content = Content::load(conn, mail, &batch, now)?;
    let mut emails = Vec::new();
    let mut members_by_key = HashMap::new();
    for (member, settings) in &batch {
        // An address the outbox would refuse must not stop everyone after it.
        if member.mailbox().parse::<lettre::message::Mailbox>().is_err() {
            tracing::warn!(member = %member.id, "no digest: the address cannot be mailed");
            continue;
        }
        let Some(digest) = content.digest_for(member, settings, mail, options.period) else {
            continue;
        };
        let unsubscribe = mail.unsubscribe_link(member.id, Topic::Digest);
        let key = format!("digest:{}:{}", options.period, member.id);
        let mut email = Email::render(
            &Digest {
                unsubscribe: unsubscribe.clone(),
                ..digest
            },
            mail,
            member.mailbox(),
            key.clone(),
        )?;
        if let Some(link) = &unsubscribe {
            email = email.with_list_unsubscribe(link, None);
        }
        members_by_key.insert(key, member.id);
        emails.push(email);
    }
    if options.dry_run {
        return Ok((batch.len(), emails.len(), Some(last)));
    }
    // In one statement per batch. A key taken already (a rerun, a second
    // run) stays as it was; only the members whose digest went in move on.
    let mut queued_members = Vec::new();
    for chunk in emails.chunks(QUEUE_CHUNK) {
        for key in outbox::queue_many(conn, chunk)? {
            queued_members.extend(members_by_key.get(&key).copied());
        }
    }
    // Forward only: a run that started before another finished with a
    // member has an earlier `now`, and must not reopen what that one told.
    diesel::sql_query(
        "UPDATE member_settings SET digest_covered_until = greatest(digest_covered_until, $1) \
         WHERE member_id = ANY($2)",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Array<SqlUuid>, _>(&queued_members)
    .execute(conn)?;
    let queued = queued_members.len();
    Ok((batch.len(), queued, Some(last)))
}

/// The digest `member` would receive for `period` at `now`, as text, or
/// `None` when nothing is new for them; nothing is queued or changed.
pub fn preview(
    conn: &mut PgConnection,
    mail: &MailContext,
    member: Uuid,
    period: Period,
    now: DateTime<Utc>,
) -> Result<Option<String>, AppError> {
    let found: Option<(Member, MemberSettings)> = members::table
        .inner_join(member_settings::table)
        .filter(members::id.eq(member))
        .select((Member::as_select(), MemberSettings::as_select()))
        .first(conn)
        .optional()?;
    let (member, settings) = found.ok_or_else(AppError::not_found)?;
    let batch = [(member, settings)];
    let content = Content::load(conn, mail, &batch, now)?;
    let (member, settings) = &batch[0];
    let Some(digest) = content.digest_for(member, settings, mail, period) else {
        return Ok(None);
    };
    let email = Email::render(&digest, mail, member.mailbox(), "preview")?;
    Ok(Some(format!("Subject: {}\n\n{}", email.subject, email.text_body)))
}

/// What may be new for a batch of members, loaded once for all of them.
struct Content {
    /// The end of every window: what came after is the next digest's.
    until: DateTime<Utc>,
    events: Vec<Event>,
    news: Vec<Announcement>,
    /// Newly approved, listed members, most recent first.
    joined: Vec<Newcomer>,
    /// The events each member of the batch has answered.
    answered: HashSet<(Uuid, Uuid)>,
    /// The programmes of each member of the batch.
    programs: HashMap<Uuid, Vec<Uuid>>,
}

/// A newly approved member, as every digest of a batch may name them.
struct Newcomer {
    id: Uuid,
    approved_at: Option<DateTime<Utc>>,
    programs: Vec<Uuid>,
    /// Lowercased, to compare with each reader's.
    university: Option<String>,
    /// Their line, `yours` false.
    line: PersonLine,
}

/// Where a member's window starts: their last digest, or their approval.
fn since(member: &Member, settings: &MemberSettings) -> DateTime<Utc> {
    settings
        .digest_covered_until
        .or(member.approved_at)
        .unwrap_or(member.created_at)
}

impl Content {
    fn load(
        conn: &mut PgConnection,
        mail: &MailContext,
        batch: &[(Member, MemberSettings)],
        now: DateTime<Utc>,
    ) -> QueryResult<Self> {
        let earliest = batch.iter().map(|(m, s)| since(m, s)).min().unwrap_or(now);
        let ids: Vec<Uuid> = batch.iter().map(|(m, _)| m.id).collect();
        let events: Vec<Event> = events::table
            .filter(events::status.eq(PUBLISHED))
            .filter(events::starts_at.gt(now))
            .filter(events::published_at.gt(earliest))
            // What is published after `now` is the next digest's: each
            // digest tells what came in (since, now], and the next starts at now.
            .filter(events::published_at.le(now))
            .order(events::starts_at.asc())
            .select(Event::as_select())
            .load(conn)?;
        let event_ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let answered: HashSet<(Uuid, Uuid)> = rsvps::table
            .filter(rsvps::event_id.eq_any(&event_ids))
            .filter(rsvps::member_id.eq_any(&ids))
            .select((rsvps::member_id, rsvps::event_id))
            .load::<(Uuid, Uuid)>(conn)?
            .into_iter()
            .collect();
        let news: Vec<Announcement> = announcements::table
            .filter(announcements::published_at.gt(earliest))
            .filter(announcements::published_at.le(now))
            .order(announcements::published_at.desc())
            .limit(MAX_NEWS)
            .select(Announcement::as_select())
            .load(conn)?;
        // Only members listed in the directory are named to others.
        let joined: Vec<Member> = members::table
            .filter(members::status.eq(ACTIVE))
            .filter(members::listed_in_directory.eq(true))
            .filter(members::approved_at.gt(earliest))
            .filter(members::approved_at.le(now))
            .order(members::approved_at.desc())
            .limit(MAX_JOINED)
            .select(Member::as_select())
            .load(conn)?;
        // A newcomer's programmes count toward "your programme" only if they
        // let members see their exchanges (the batch's own always count).
        let defaults = crate::members::privacy::defaults(conn)?;
        let mut wanted: Vec<Uuid> = joined
            .iter()
            .filter(|m| {
                let shown = crate::members::privacy::VisibilitySettings::of(m, &defaults).exchanges;
                crate::members::privacy::Audience::Members.sees().contains(&shown)
            })
            .map(|m| m.id)
            .collect();
        wanted.extend(&ids);
        let mut programs: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (member, program) in exchange_records::table
            .filter(exchange_records::member_id.eq_any(&wanted))
            .select((exchange_records::member_id, exchange_records::program_id))
            .load::<(Uuid, Uuid)>(conn)?
        {
            programs.entry(member).or_default().push(program);
        }
        let joined = joined
            .into_iter()
            .map(|m| Newcomer {
                programs: programs.get(&m.id).cloned().unwrap_or_default(),
                university: m.university.as_deref().map(str::to_lowercase),
                line: PersonLine {
                    name: m.full_name.clone(),
                    about: [
                        m.university.clone(),
                        m.country.clone(),
                        m.graduation_year.map(|y| y.to_string()),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", "),
                    link: mail.link(&format!("/members/{}", m.id)),
                    yours: false,
                },
                id: m.id,
                approved_at: m.approved_at,
            })
            .collect();
        Ok(Self {
            until: now,
            events,
            news,
            joined,
            answered,
            programs,
        })
    }

    /// The member's digest, or `None` when nothing is new for them.
    fn digest_for(
        &self,
        member: &Member,
        settings: &MemberSettings,
        mail: &MailContext,
        period: Period,
    ) -> Option<Digest> {
        let since = since(member, settings);
        // Each digest tells what came in (since, until]. A run that started
        // before another one composed this member's has an earlier `until`
        // than that one's: nothing is new for it.
        let new = |at: DateTime<Utc>| at > since && at <= self.until;
        let zone: Tz = member
            .time_zone
            .as_deref()
            .and_then(|z| z.parse().ok())
            .unwrap_or(mail.time_zone);
        let events: Vec<EventLine> = if settings.takes_digest_topic("events") {
            self.events
                .iter()
                .filter(|e| e.published_at.is_some_and(new))
                .filter(|e| !self.answered.contains(&(member.id, e.id)))
                .map(|e| EventLine {
                    title: e.title.clone(),
                    when: when_in(e.starts_at, e.ends_at, zone),
                    place: e.place(),
                    link: mail.link(&format!("/events/{}", e.id)),
                })
                .collect()
        } else {
            Vec::new()
        };
        let news: Vec<NewsLine> = if settings.takes_digest_topic("announcements") {
            self.news
                .iter()
                .filter(|a| new(a.published_at))
                .map(|a| NewsLine {
                    title: a.title.clone(),
                    text: crate::api::shorten(&a.body_md, 300),
                    link: mail.link(&format!("/announcements/{}", a.id)),
                })
                .collect()
        } else {
            Vec::new()
        };
        // The member's own cohort first, the most recent first within each;
        // a long list ends with a count. Only the named are built: every
        // member of a large association looks over the same newcomers.
        let (mut people, mut others, mut newcomers) = (Vec::new(), Vec::new(), 0usize);
        if settings.takes_digest_topic("new_members") {
            let mine = self.programs.get(&member.id).map(Vec::as_slice).unwrap_or_default();
            let university = member.university.as_deref().map(str::to_lowercase);
            for newcomer in &self.joined {
                if newcomer.id == member.id || !newcomer.approved_at.is_some_and(new) {
                    continue;
                }
                newcomers += 1;
                if people.len() == MAX_PEOPLE {
                    continue;
                }
                let yours = (university.is_some() && newcomer.university == university)
                    || newcomer.programs.iter().any(|p| mine.contains(p));
                if yours {
                    people.push(PersonLine {
                        yours,
                        ..newcomer.line.clone()
                    });
                } else if others.len() < MAX_PEOPLE {
                    others.push(newcomer);
                }
            }
        }
        if events.is_empty() && news.is_empty() && newcomers == 0 {
            return None;
        }
        let room = MAX_PEOPLE - people.len();
        people.extend(others.into_iter().take(room).map(|newcomer| newcomer.line.clone()));
        let more_people = newcomers - people.len();
        // Past the newcomers looked at, the count is a floor.
        let more_at_least = self.joined.len() as i64 == MAX_JOINED;
        Some(Digest {
            name: member.full_name.clone(),
            period: period.label(),
            events,
            news,
            people,
            more_people,
            more_at_least,
            directory: mail.link("/members"),
            unsubscribe: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_looks_for_the_lock_runs_take() {
        assert!(RUN_STATE.contains(&format!("classid = {RUNNING_LOCK} ")));
        assert!(
            RUN_STATE.contains("datname = current_database()"),
            "this database's runs only"
        );
    }
}
