//! Events' queries. Every change to who holds a seat happens with the
//! event's row locked (`FOR UPDATE`), so answers to one event are taken one
//! at a time: capacity is never exceeded and the waitlist keeps its order,
//! however many members press the button at once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::audit;
use crate::db::schema::{events, member_settings, members, rsvps};
use crate::email::{outbox, MailContext};
use crate::error::AppError;
use crate::events::emails::{self, Notice, Recipient};
use crate::events::model::*;
use crate::members::model::{Member, ACTIVE};

fn not_found() -> AppError {
    AppError::not_found().with_detail("There is no such event.")
}

/// An event by id, for anyone who may see it: drafts only for admins.
pub fn find(conn: &mut PgConnection, id: Uuid, admin: bool) -> Result<Event, AppError> {
    let event: Option<Event> = events::table
        .find(id)
        .select(Event::as_select())
        .first(conn)
        .optional()?;
    event.filter(|e| admin || e.status != DRAFT).ok_or_else(not_found)
}

fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Event, AppError> {
    let event: Option<Event> = events::table
        .find(id)
        .select(Event::as_select())
        .for_update()
        .first(conn)
        .optional()?;
    event.ok_or_else(not_found)
}

/// How many are going and waitlisted, per event.
fn counts(conn: &mut PgConnection, ids: &[Uuid]) -> QueryResult<Vec<(Uuid, String, i64)>> {
    rsvps::table
        .filter(rsvps::event_id.eq_any(ids))
        .filter(rsvps::status.ne(NOT_GOING))
        .group_by((rsvps::event_id, rsvps::status))
        .select((rsvps::event_id, rsvps::status, diesel::dsl::count_star()))
        .load(conn)
}

/// The events with their counts and the viewer's own answers.
pub fn views(conn: &mut PgConnection, list: Vec<Event>, viewer: &Member) -> QueryResult<Vec<EventView>> {
    let ids: Vec<Uuid> = list.iter().map(|e| e.id).collect();
    let counts = counts(conn, &ids)?;
    let mine: Vec<(Uuid, String)> = rsvps::table
        .filter(rsvps::event_id.eq_any(&ids))
        .filter(rsvps::member_id.eq(viewer.id))
        .select((rsvps::event_id, rsvps::status))
        .load(conn)?;
    let count = |id: Uuid, status: &str| {
        counts
            .iter()
            .find(|(e, s, _)| *e == id && s == status)
            .map_or(0, |(_, _, n)| *n)
    };
    Ok(list
        .into_iter()
        .map(|event| {
            let id = event.id;
            let my = mine.iter().find(|(e, _)| *e == id).map(|(_, s)| s.clone());
            EventView::new(event, count(id, GOING), count(id, WAITLISTED), my, viewer.is_admin())
        })
        .collect())
}

pub fn view(conn: &mut PgConnection, id: Uuid, viewer: &Member) -> Result<EventView, AppError> {
    let event = find(conn, id, viewer.is_admin())?;
    Ok(views(conn, vec![event], viewer)?.remove(0))
}

/// Events that end after `from` and start before `to` (both optional),
/// soonest first, a page of them and how many in all; drafts only for
/// admins who ask for them.
pub fn list(
    conn: &mut PgConnection,
    viewer: &Member,
    drafts: bool,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<EventView>, i64)> {
    let filtered = || {
        let mut query = events::table.into_boxed();
        if !(drafts && viewer.is_admin()) {
            query = query.filter(events::status.ne(DRAFT));
        }
        if let Some(from) = from {
            query = query.filter(events::ends_at.gt(from));
        }
        if let Some(to) = to {
            query = query.filter(events::starts_at.lt(to));
        }
        query
    };
    let total = filtered().count().get_result(conn)?;
    let list = filtered()
        .select(Event::as_select())
        .order((events::starts_at.asc(), events::id.asc()))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .load(conn)?;
    Ok((views(conn, list, viewer)?, total))
}

pub fn create(conn: &mut PgConnection, admin: Uuid, values: &EventValues) -> Result<Event, AppError> {
    conn.transaction(|conn| {
        let event: Event = diesel::insert_into(events::table)
            .values((values, events::created_by.eq(admin)))
            .returning(Event::as_returning())
            .get_result(conn)?;
        audit::record(
            conn,
            Some(admin),
            "event.create",
            ("event", &event.id.to_string()),
            serde_json::json!({"title": event.title, "starts_at": event.starts_at}),
        )?;
        Ok(event)
    })
}

/// Changes an event. Once published, calendars are told (SEQUENCE grows),
/// those going are mailed when the time or the place moved, and a larger
/// capacity gives seats to the waitlist in order.
/// `values` makes the whole event from the one stored, read under the
/// event's lock, so two board members saving at once never lose each
/// other's fields.
pub fn update(
    conn: &mut PgConnection,
    admin: Uuid,
    id: Uuid,
    values: impl FnOnce(&Event) -> Result<EventValues, AppError>,
    mail: &MailContext,
) -> Result<Event, AppError> {
    conn.transaction(|conn| {
        let before = lock(conn, id)?;
        if before.status == CANCELLED {
            return Err(AppError::conflict("The event is cancelled: it cannot be changed."));
        }
        let values = &values(&before)?;
        let published = before.is_published();
        let bump = i32::from(published && values.changes_calendar(&before));
        let event: Event = diesel::update(events::table.find(id))
            .set((
                values,
                events::sequence.eq(events::sequence + bump),
                events::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Event::as_returning())
            .get_result(conn)?;
        audit::record(
            conn,
            Some(admin),
            "event.update",
            ("event", &id.to_string()),
            serde_json::json!({"title": event.title, "moved": values.moves(&before)}),
        )?;
        if values.moves(&before) {
            // Reminded of the old time is not reminded of the new one.
            diesel::update(rsvps::table.filter(rsvps::event_id.eq(id)))
                .set(rsvps::reminded_at.eq(None::<DateTime<Utc>>))
                .execute(conn)?;
        }
        if published && values.moves(&before) {
            let file = emails::calendar_file(&event, mail, "PUBLISH");
            for to in attendees(conn, id, &[GOING])? {
                let email = emails::render(
                    emails::EventChanged,
                    Notice {
                        subject: format!("Changed: {}", event.title),
                        lead: "The time or the place of an event you are going to has changed. Here it is as it stands now:"
                            .into(),
                    },
                    &event,
                    &to.1,
                    mail,
                    format!("event_changed:{id}:{}:{}", event.sequence, to.0),
                    Some(&file),
                )?;
                outbox::queue(conn, &email)?;
            }
        }
        if published {
            offer_free_seats(conn, &event, mail)?;
        }
        Ok(event)
    })
}

/// Publishes a draft; with `notify`, every active member who takes event
/// mail is told, with the `.ics` attached. Publishing again changes nothing
/// and mails no one twice.
pub fn publish(
    conn: &mut PgConnection,
    admin: Uuid,
    id: Uuid,
    notify: bool,
    mail: &MailContext,
) -> Result<Event, AppError> {
    conn.transaction(|conn| {
        let before = lock(conn, id)?;
        match before.status.as_str() {
            CANCELLED => return Err(AppError::conflict("The event is cancelled: it cannot be published.")),
            PUBLISHED => return Ok(before),
            _ => {}
        }
        let event: Event = diesel::update(events::table.find(id))
            .set((
                events::status.eq(PUBLISHED),
                events::published_at.eq(diesel::dsl::now),
                events::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Event::as_returning())
            .get_result(conn)?;
        audit::record(
            conn,
            Some(admin),
            "event.publish",
            ("event", &id.to_string()),
            serde_json::json!({"title": event.title, "notify": notify}),
        )?;
        if notify {
            let file = emails::calendar_file(&event, mail, "PUBLISH");
            let takers: Vec<Member> = members::table
                .inner_join(member_settings::table)
                .filter(members::status.eq(ACTIVE))
                .filter(member_settings::notify_events.eq(true))
                .select(Member::as_select())
                .load(conn)?;
            for member in takers {
                outbox::queue(conn, &emails::published(&event, &member, mail, &file)?)?;
            }
        }
        Ok(event)
    })
}

/// Cancels an event: everyone going or waitlisted is mailed, with a
/// calendar update that removes it.
pub fn cancel(
    conn: &mut PgConnection,
    admin: Uuid,
    id: Uuid,
    reason: &str,
    mail: &MailContext,
) -> Result<Event, AppError> {
    conn.transaction(|conn| {
        let before = lock(conn, id)?;
        if before.status == CANCELLED {
            return Ok(before);
        }
        let event: Event = diesel::update(events::table.find(id))
            .set((
                events::status.eq(CANCELLED),
                events::cancel_reason.eq(Some(reason).filter(|r| !r.is_empty())),
                events::cancelled_at.eq(diesel::dsl::now),
                events::sequence.eq(events::sequence + 1),
                events::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Event::as_returning())
            .get_result(conn)?;
        audit::record(
            conn,
            Some(admin),
            "event.cancel",
            ("event", &id.to_string()),
            serde_json::json!({"title": event.title, "reason": reason}),
        )?;
        if before.is_published() {
            // PUBLISH with STATUS:CANCELLED and the higher SEQUENCE: what
            // calendars honour without an organiser and attendee list.
            let file = emails::calendar_file(&event, mail, "PUBLISH");
            for to in attendees(conn, id, &[GOING, WAITLISTED])? {
                let email = emails::render(
                    emails::EventCancelled,
                    Notice {
                        subject: format!("Cancelled: {}", event.title),
                        lead: "An event you answered has been cancelled.".into(),
                    },
                    &event,
                    &to.1,
                    mail,
                    format!("event_cancelled:{id}:{}", to.0),
                    Some(&file),
                )?;
                outbox::queue(conn, &email)?;
            }
        }
        Ok(event)
    })
}

/// A member's answer. Asking for a seat gives one while any is free, and a
/// place at the end of the waitlist otherwise; giving one up offers it to
/// the first waitlisted member, who is mailed. Answering the same again
/// changes nothing (a waitlisted member keeps their place).
pub fn rsvp(
    conn: &mut PgConnection,
    member: &Member,
    id: Uuid,
    going: bool,
    mail: &MailContext,
) -> Result<String, AppError> {
    conn.transaction(|conn| {
        let event = lock(conn, id)?;
        match event.status.as_str() {
            DRAFT => return Err(not_found()),
            CANCELLED => return Err(AppError::conflict("The event is cancelled.")),
            _ => {}
        }
        if event.starts_at <= Utc::now() {
            return Err(AppError::conflict("The event has begun: answers are closed."));
        }
        let current: Option<String> = rsvps::table
            .find((id, member.id))
            .select(rsvps::status)
            .first(conn)
            .optional()?;
        let status = match (going, current.as_deref()) {
            (true, Some(status @ (GOING | WAITLISTED))) => return Ok(status.to_string()),
            (false, None | Some(NOT_GOING)) => return Ok(NOT_GOING.to_string()),
            (true, _) => {
                let going_now = going_count(conn, id)?;
                if event.capacity.is_none_or(|c| going_now < i64::from(c)) {
                    GOING
                } else {
                    WAITLISTED
                }
            }
            (false, _) => NOT_GOING,
        };
        diesel::insert_into(rsvps::table)
            .values((
                rsvps::event_id.eq(id),
                rsvps::member_id.eq(member.id),
                rsvps::status.eq(status),
            ))
            .on_conflict((rsvps::event_id, rsvps::member_id))
            .do_update()
            .set((
                rsvps::status.eq(status),
                // The place in line is where the member last asked.
                rsvps::position.eq(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                    "nextval('rsvp_positions')",
                )),
                rsvps::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        if current.as_deref() == Some(GOING) && !going {
            offer_free_seats(conn, &event, mail)?;
        }
        Ok(status.to_string())
    })
}

/// A member leaving (their account deleted): every answer of theirs goes,
/// and each seat they held is offered to the waitlist.
pub fn withdraw_everywhere(conn: &mut PgConnection, member: Uuid, mail: &MailContext) -> Result<(), AppError> {
    let held: Vec<Uuid> = rsvps::table
        .filter(rsvps::member_id.eq(member))
        .filter(rsvps::status.eq(GOING))
        .select(rsvps::event_id)
        .order(rsvps::event_id)
        .load(conn)?;
    for id in held {
        let event = lock(conn, id)?;
        diesel::delete(rsvps::table.find((id, member))).execute(conn)?;
        offer_free_seats(conn, &event, mail)?;
    }
    diesel::delete(rsvps::table.filter(rsvps::member_id.eq(member))).execute(conn)?;
    Ok(())
}

fn going_count(conn: &mut PgConnection, id: Uuid) -> QueryResult<i64> {
    rsvps::table
        .filter(rsvps::event_id.eq(id))
        .filter(rsvps::status.eq(GOING))
        .count()
        .get_result(conn)
}

/// Gives the free seats of a published, upcoming event to the waitlist in
/// order, mailing each member who gets one. The caller holds the event's lock.
fn offer_free_seats(conn: &mut PgConnection, event: &Event, mail: &MailContext) -> Result<(), AppError> {
    if !event.is_published() || event.starts_at <= Utc::now() {
        return Ok(());
    }
    let free = match event.capacity {
        Some(capacity) => i64::from(capacity) - going_count(conn, event.id)?,
        None => i64::MAX,
    };
    if free <= 0 {
        return Ok(());
    }
    // Only active members: a suspended one keeps their place but is passed over.
    let first: Vec<(Uuid, i64)> = rsvps::table
        .inner_join(members::table)
        .filter(rsvps::event_id.eq(event.id))
        .filter(rsvps::status.eq(WAITLISTED))
        .filter(members::status.eq(ACTIVE))
        .order(rsvps::position.asc())
        .limit(free)
        .select((rsvps::member_id, rsvps::position))
        .load(conn)?;
    let file = emails::calendar_file(event, mail, "PUBLISH");
    for (member_id, position) in first {
        diesel::update(rsvps::table.find((event.id, member_id)))
            .set((rsvps::status.eq(GOING), rsvps::updated_at.eq(diesel::dsl::now)))
            .execute(conn)?;
        let member: Member = members::table.find(member_id).select(Member::as_select()).first(conn)?;
        let email = emails::render(
            emails::SeatOffered,
            Notice {
                subject: format!("A seat is yours: {}", event.title),
                lead:
                    "A seat has come free and it is yours: you were first on the waitlist. If you can no longer come, \
                       please give it up on the event's page so the next person can have it."
                        .into(),
            },
            event,
            &Recipient::of(&member),
            mail,
            // The position is taken anew each time a member asks, so a
            // second seat offered later is a second mail.
            format!("event_seat:{}:{member_id}:{position}", event.id),
            Some(&file),
        )?;
        outbox::queue(conn, &email)?;
    }
    Ok(())
}

/// Active members whose answer to the event is one of `statuses`.
fn attendees(conn: &mut PgConnection, id: Uuid, statuses: &[&str]) -> QueryResult<Vec<(Uuid, Recipient)>> {
    let list: Vec<Member> = rsvps::table
        .inner_join(members::table)
        .filter(rsvps::event_id.eq(id))
        .filter(rsvps::status.eq_any(statuses))
        .filter(members::status.eq(ACTIVE))
        .order(rsvps::position.asc())
        .select(Member::as_select())
        .load(conn)?;
    Ok(list.iter().map(|m| (m.id, Recipient::of(m))).collect())
}

/// Everyone who answered, going first, then the waitlist in order, for the
/// board and the door.
pub fn answers(conn: &mut PgConnection, id: Uuid) -> Result<Vec<RsvpRow>, AppError> {
    find(conn, id, true)?;
    let rows: Vec<RsvpRow> = rsvps::table
        .inner_join(members::table)
        .filter(rsvps::event_id.eq(id))
        .select((
            rsvps::member_id,
            members::full_name,
            members::email,
            rsvps::status,
            rsvps::position,
            rsvps::updated_at,
        ))
        .order(rsvps::position.asc())
        .load(conn)?;
    let rank = |status: &str| match status {
        GOING => 0,
        WAITLISTED => 1,
        _ => 2,
    };
    let mut rows = rows;
    rows.sort_by_key(|r| rank(&r.status));
    Ok(rows)
}

/// The answers for the door's list: members' addresses leave the service,
/// so the export is audited.
pub fn export_answers(conn: &mut PgConnection, admin: Uuid, id: Uuid) -> Result<Vec<RsvpRow>, AppError> {
    let rows = answers(conn, id)?;
    audit::record(
        conn,
        Some(admin),
        "event.rsvps_export",
        ("event", &id.to_string()),
        serde_json::json!({"rows": rows.len()}),
    )?;
    Ok(rows)
}

/// The published events a member goes to (their calendar feed), from a
/// month ago on.
pub fn going_to(conn: &mut PgConnection, member: Uuid) -> QueryResult<Vec<Event>> {
    rsvps::table
        .inner_join(events::table)
        .filter(rsvps::member_id.eq(member))
        .filter(rsvps::status.eq(GOING))
        .filter(events::status.ne(DRAFT))
        .filter(events::ends_at.gt(Utc::now() - chrono::Duration::days(31)))
        .order(events::starts_at.asc())
        .select(Event::as_select())
        .load(conn)
}

/// Queues the day-before reminder for everyone going to a published event
/// that starts within a day, once each. The answers are claimed in one
/// statement (`reminded_at` set, rows locked in order and those busy
/// skipped), so a member who answers "not going" meanwhile is not reminded,
/// two replicas never remind twice, and nothing waits on a lock. The
/// outbox key names the event's SEQUENCE: a moved event is reminded again.
/// Returns how many were queued.
pub fn queue_reminders(conn: &mut PgConnection, mail: &MailContext, now: DateTime<Utc>) -> Result<usize, AppError> {
    #[derive(QueryableByName)]
    struct Claimed {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        event_id: Uuid,
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        member_id: Uuid,
    }
    conn.transaction(|conn| {
        let claimed: Vec<Claimed> = diesel::sql_query(
            "WITH due AS (
                SELECT r.event_id, r.member_id FROM rsvps r
                JOIN events e ON e.id = r.event_id JOIN members m ON m.id = r.member_id
                WHERE r.status = 'going' AND r.reminded_at IS NULL AND e.status = 'published'
                  AND e.starts_at > $1 AND e.starts_at <= $1 + interval '24 hours' AND m.status = 'active'
                ORDER BY r.event_id, r.member_id
                FOR UPDATE OF r SKIP LOCKED)
             UPDATE rsvps r SET reminded_at = $1 FROM due
             WHERE r.event_id = due.event_id AND r.member_id = due.member_id
             RETURNING r.event_id, r.member_id",
        )
        .bind::<diesel::sql_types::Timestamptz, _>(now)
        .load(conn)?;
        for reminder in &claimed {
            let event: Event = events::table
                .find(reminder.event_id)
                .select(Event::as_select())
                .first(conn)?;
            let member: Member = members::table
                .find(reminder.member_id)
                .select(Member::as_select())
                .first(conn)?;
            let email = emails::render(
                emails::EventReminder,
                Notice {
                    subject: format!("Tomorrow: {}", event.title),
                    lead: "A reminder: you are going to this event, which begins within a day.".into(),
                },
                &event,
                &Recipient::of(&member),
                mail,
                format!("event_reminder:{}:{}:{}", event.id, event.sequence, member.id),
                None,
            )?;
            outbox::queue(conn, &email)?;
        }
        Ok(claimed.len())
    })
}
