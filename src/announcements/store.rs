//! Announcements' queries, and their mail: queued in the transaction that
//! publishes them (or, when scheduled, by the ticker once their time comes),
//! one outbox row per member under the key `announcement:<id>:<member>`, so
//! nothing is mailed twice whatever runs twice.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::announcements::model::*;
use crate::audit;
use crate::db::schema::{announcements, member_settings, members};
use crate::email::unsubscribe::Topic;
use crate::email::{outbox, Email, MailContext};
use crate::error::AppError;
use crate::members::model::{Member, ACTIVE};

fn not_found() -> AppError {
    AppError::not_found().with_detail("There is no such announcement.")
}

fn views(conn: &mut PgConnection, list: Vec<Announcement>, admin: bool) -> QueryResult<Vec<AnnouncementView>> {
    let authors: Vec<Uuid> = list.iter().filter_map(|a| a.author_id).collect();
    let names: Vec<(Uuid, String)> = members::table
        .filter(members::id.eq_any(&authors))
        .select((members::id, members::full_name))
        .load(conn)?;
    Ok(list
        .into_iter()
        .map(|a| {
            let author = a
                .author_id
                .and_then(|id| names.iter().find(|(n, _)| *n == id).map(|(_, name)| name.clone()));
            AnnouncementView::new(a, author, admin)
        })
        .collect())
}

/// Newest first, a page of them and how many in all; scheduled ones only
/// for the board.
pub fn list(
    conn: &mut PgConnection,
    admin: bool,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<AnnouncementView>, i64)> {
    let visible = || {
        let query = announcements::table.into_boxed();
        if admin {
            query
        } else {
            query.filter(announcements::published_at.le(diesel::dsl::now))
        }
    };
    let total = visible().count().get_result(conn)?;
    let list = visible()
        .select(Announcement::as_select())
        .order((announcements::published_at.desc(), announcements::id.desc()))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .load(conn)?;
    Ok((views(conn, list, admin)?, total))
}

pub fn find(conn: &mut PgConnection, id: Uuid, admin: bool) -> Result<AnnouncementView, AppError> {
    let found: Option<Announcement> = announcements::table
        .find(id)
        .select(Announcement::as_select())
        .first(conn)
        .optional()?;
    let found = found
        .filter(|a| admin || a.published_at <= Utc::now())
        .ok_or_else(not_found)?;
    Ok(views(conn, vec![found], admin)?.remove(0))
}

/// Publishes (or schedules) an announcement; when mail is asked for and
/// it is published now, the mail is queued in the same transaction.
pub fn create(
    conn: &mut PgConnection,
    admin: Uuid,
    values: &NewAnnouncement,
    mail: &MailContext,
) -> Result<Announcement, AppError> {
    conn.transaction(|conn| {
        let created: Announcement = diesel::insert_into(announcements::table)
            .values((values, announcements::author_id.eq(admin)))
            .returning(Announcement::as_returning())
            .get_result(conn)?;
        audit::record(
            conn,
            Some(admin),
            "announcement.create",
            ("announcement", &created.id.to_string()),
            serde_json::json!({"title": created.title, "published_at": created.published_at,
                               "email": created.email_requested}),
        )?;
        if created.email_requested && created.published_at <= Utc::now() {
            mail_members(conn, &created, mail)?;
        }
        Ok(created)
    })
}

pub fn delete(conn: &mut PgConnection, admin: Uuid, id: Uuid) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let title: Option<String> = diesel::delete(announcements::table.find(id))
            .returning(announcements::title)
            .get_result(conn)
            .optional()?;
        let title = title.ok_or_else(not_found)?;
        audit::record(
            conn,
            Some(admin),
            "announcement.delete",
            ("announcement", &id.to_string()),
            serde_json::json!({ "title": title }),
        )?;
        Ok(())
    })
}

/// Queues the mail of scheduled announcements whose time has come; each is
/// taken by one runner at a time (`SKIP LOCKED`). Returns how many were mailed.
pub fn queue_due_mail(conn: &mut PgConnection, mail: &MailContext, now: DateTime<Utc>) -> Result<usize, AppError> {
    conn.transaction(|conn| {
        let due: Vec<Announcement> = announcements::table
            .filter(announcements::email_requested.eq(true))
            .filter(announcements::emailed_at.is_null())
            .filter(announcements::published_at.le(now))
            .select(Announcement::as_select())
            .for_update()
            .skip_locked()
            .load(conn)?;
        for announcement in &due {
            mail_members(conn, announcement, mail)?;
        }
        Ok(due.len())
    })
}

/// One bulk mail per active member who takes announcements.
fn mail_members(conn: &mut PgConnection, announcement: &Announcement, mail: &MailContext) -> Result<(), AppError> {
    let takers: Vec<Member> = members::table
        .inner_join(member_settings::table)
        .filter(members::status.eq(ACTIVE))
        .filter(member_settings::notify_announcements.eq(true))
        .select(Member::as_select())
        .load(conn)?;
    let link = mail.link(&format!("/announcements/{}", announcement.id));
    for member in takers {
        let unsubscribe = mail.unsubscribe_link(member.id, Topic::Announcements);
        let mut email = Email::render(
            &AnnouncementMail {
                name: member.full_name.clone(),
                title: announcement.title.clone(),
                body_text: announcement.body_md.clone(),
                body_html: announcement.body_html.clone(),
                link: link.clone(),
                unsubscribe: unsubscribe.clone(),
            },
            mail,
            member.mailbox(),
            format!("announcement:{}:{}", announcement.id, member.id),
        )?;
        if let Some(unsubscribe) = &unsubscribe {
            email = email.with_list_unsubscribe(unsubscribe, None);
        }
        outbox::queue(conn, &email)?;
    }
    diesel::update(announcements::table.find(announcement.id))
        .set(announcements::emailed_at.eq(diesel::dsl::now))
        .execute(conn)?;
    Ok(())
}
