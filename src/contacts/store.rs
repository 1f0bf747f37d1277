//! Contact requests: asked, accepted or ignored, with their mail queued in
//! the same transaction.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::contacts::emails::{ContactRequested, Introduction};
use crate::db::schema::{contact_requests, members};
use crate::email::{outbox, Email, MailContext};
use crate::error::AppError;
use crate::members::model::{Member, ACTIVE};

/// At most this many requests a day from one member, so no one can use
/// the directory to spam the association.
pub const PER_DAY: i64 = 10;
pub const MESSAGE_MAX: usize = 1000;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contact_requests, check_for_backend(diesel::pg::Pg))]
pub struct ContactRequest {
    pub id: Uuid,
    pub from_member: Uuid,
    pub to_member: Uuid,
    pub message: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub responded_at: Option<DateTime<Utc>>,
}

/// A request as one side sees it. The asker sees an ignored request as
/// still pending: ignoring is silent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    pub id: Uuid,
    /// `incoming` (asked of the member) or `outgoing` (asked by them).
    pub direction: &'static str,
    /// The other member.
    pub other_id: Uuid,
    pub other_name: String,
    /// Only once the introduction is accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_email: Option<String>,
    pub message: String,
    /// `pending`, `accepted` or (incoming only) `ignored`.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// Asks to be introduced to `to`, who must be an active member listed in
/// the directory (404 otherwise, as for no one).
pub fn ask(
    conn: &mut PgConnection,
    mail: &MailContext,
    from: &Member,
    to: Uuid,
    message: &str,
) -> Result<ContactRequest, AppError> {
    conn.transaction(|conn| {
        if to == from.id {
            return Err(AppError::conflict_on_field("member", "is you"));
        }
        let target: Member = members::table
            .find(to)
            .filter(members::status.eq(ACTIVE))
            .filter(members::listed_in_directory.eq(true))
            .select(Member::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(AppError::not_found)?;
        // Serialises one member's requests, so the daily bound holds under
        // parallel requests too.
        members::table
            .find(from.id)
            .select(members::id)
            .for_update()
            .first::<Uuid>(conn)?;
        let since = Utc::now() - Duration::days(1);
        let recent: Vec<DateTime<Utc>> = contact_requests::table
            .filter(contact_requests::from_member.eq(from.id))
            .filter(contact_requests::created_at.gt(since))
            .select(contact_requests::created_at)
            .order(contact_requests::created_at.asc())
            .load(conn)?;
        if recent.len() as i64 >= PER_DAY {
            let wait = (recent[0] + Duration::days(1) - Utc::now()).num_seconds().max(1);
            return Err(AppError::rate_limited(wait as u64)
                .with_detail(format!("You can ask for at most {PER_DAY} introductions a day.")));
        }
        let between = |a: Uuid, b: Uuid| {
            contact_requests::from_member
                .eq(a)
                .and(contact_requests::to_member.eq(b))
        };
        let earlier: Vec<(Uuid, String)> = contact_requests::table
            .filter(between(from.id, to).or(between(to, from.id)))
            .select((contact_requests::from_member, contact_requests::status))
            .load(conn)?;
        if earlier.iter().any(|(_, s)| s == "accepted") {
            return Err(AppError::conflict(
                "You are already introduced; you have each other's address.",
            ));
        }
        // An ignored request looks, to its asker, exactly like one still
        // waiting: asking again answers the same.
        if earlier.iter().any(|(asker, _)| *asker == from.id) {
            return Err(AppError::conflict("Your request is already waiting for an answer."));
        }
        if earlier.iter().any(|(asker, s)| *asker == to && s == "pending") {
            return Err(AppError::conflict(
                "They have already asked to be introduced to you: see your introductions.",
            ));
        }
        let request: ContactRequest = diesel::insert_into(contact_requests::table)
            .values((
                contact_requests::from_member.eq(from.id),
                contact_requests::to_member.eq(to),
                contact_requests::message.eq(message),
            ))
            .returning(ContactRequest::as_returning())
            .get_result(conn)?;
        let email = Email::render(
            &ContactRequested {
                to_name: target.full_name.clone(),
                from_name: from.full_name.clone(),
                message: message.to_string(),
            },
            mail,
            target.mailbox(),
            format!("contact_request:{}", request.id),
        )?;
        outbox::queue(conn, &email)?;
        Ok(request)
    })
}

/// The member's requests, both ways, newest first.
pub fn list(conn: &mut PgConnection, member: Uuid) -> QueryResult<Vec<ContactView>> {
    let requests: Vec<ContactRequest> = contact_requests::table
        .filter(
            contact_requests::from_member
                .eq(member)
                .or(contact_requests::to_member.eq(member)),
        )
        .select(ContactRequest::as_select())
        .order(contact_requests::created_at.desc())
        .limit(200)
        .load(conn)?;
    views(conn, member, requests)
}

/// One request the member asked or received, as [`list`] shows it, however
/// many came after it.
pub fn one(conn: &mut PgConnection, member: Uuid, id: Uuid) -> QueryResult<Option<ContactView>> {
    let requests: Vec<ContactRequest> = contact_requests::table
        .find(id)
        .filter(
            contact_requests::from_member
                .eq(member)
                .or(contact_requests::to_member.eq(member)),
        )
        .select(ContactRequest::as_select())
        .load(conn)?;
    Ok(views(conn, member, requests)?.pop())
}

/// Requests as `member` sees them: the other member's name, and their
/// address once introduced.
fn views(conn: &mut PgConnection, member: Uuid, requests: Vec<ContactRequest>) -> QueryResult<Vec<ContactView>> {
    let other_of = |r: &ContactRequest| {
        if r.to_member == member {
            r.from_member
        } else {
            r.to_member
        }
    };
    let other_ids: Vec<Uuid> = requests.iter().map(other_of).collect();
    let others: Vec<(Uuid, String, String)> = members::table
        .filter(members::id.eq_any(&other_ids))
        .select((members::id, members::full_name, members::email))
        .load(conn)?;
    Ok(requests
        .into_iter()
        .map(|request| {
            let incoming = request.to_member == member;
            let other_id = other_of(&request);
            let (other_name, other_email) = others
                .iter()
                .find(|(id, ..)| *id == other_id)
                .map(|(_, name, email)| (name.clone(), email.clone()))
                .unwrap_or_default();
            let accepted = request.status == "accepted";
            ContactView {
                id: request.id,
                direction: if incoming { "incoming" } else { "outgoing" },
                other_id,
                other_name,
                other_email: accepted.then_some(other_email),
                message: request.message,
                status: if !incoming && request.status == "ignored" {
                    "pending".into()
                } else {
                    request.status
                },
                created_at: request.created_at,
            }
        })
        .collect())
}

/// The asked member's answer; 404 for a request that is not theirs, 409
/// for one already answered.
fn answer(conn: &mut PgConnection, member: Uuid, id: Uuid, status: &str) -> Result<ContactRequest, AppError> {
    let request: ContactRequest = contact_requests::table
        .find(id)
        .filter(contact_requests::to_member.eq(member))
        .select(ContactRequest::as_select())
        .for_update()
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)?;
    if request.status != "pending" {
        return Err(AppError::conflict(format!(
            "This request is already {}.",
            request.status
        )));
    }
    Ok(diesel::update(contact_requests::table.find(id))
        .set((
            contact_requests::status.eq(status),
            contact_requests::responded_at.eq(diesel::dsl::now),
        ))
        .returning(ContactRequest::as_returning())
        .get_result(conn)?)
}

/// Accepts: each side is mailed the other's address.
pub fn accept(conn: &mut PgConnection, mail: &MailContext, member: Uuid, id: Uuid) -> Result<ContactRequest, AppError> {
    conn.transaction(|conn| {
        let request = answer(conn, member, id, "accepted")?;
        let pair: Vec<Member> = members::table
            .filter(members::id.eq_any([request.from_member, request.to_member]))
            .filter(members::status.eq(ACTIVE))
            .select(Member::as_select())
            .load(conn)?;
        let [a, b] = pair.as_slice() else {
            return Err(AppError::conflict("The other member is no longer active."));
        };
        for (me, other) in [(a, b), (b, a)] {
            let email = Email::render(
                &Introduction {
                    name: me.full_name.clone(),
                    other_name: other.full_name.clone(),
                    other_email: other.email.clone(),
                },
                mail,
                me.mailbox(),
                format!("introduction:{}:{}", request.id, me.id),
            )?;
            outbox::queue(conn, &email)?;
        }
        Ok(request)
    })
}

/// Ignores: nothing is sent, and the asker keeps seeing "pending".
pub fn ignore(conn: &mut PgConnection, member: Uuid, id: Uuid) -> Result<ContactRequest, AppError> {
    conn.transaction(|conn| answer(conn, member, id, "ignored"))
}
