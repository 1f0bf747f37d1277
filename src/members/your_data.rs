//! A member's own data (GDPR): everything stored about them, as JSON; and
//! the deletion of their account, which erases the personal fields, ends
//! every session, and keeps the history (audit log, counts) anonymised.

use diesel::prelude::*;
use diesel::sql_types::{Jsonb, Uuid as SqlUuid};
use uuid::Uuid;

use crate::audit;
use crate::auth::store as tokens;
use crate::db::schema::{contact_requests, email_tokens, exchange_records, members};
use crate::email::MailContext;
use crate::error::AppError;
use crate::members::model::{Member, ACTIVE, ADMIN};

/// Mail to the member: "Name <address>" or the bare address.
const TO_MEMBER: &str = "(lower(o.to_address) = lower(m.email::text) \
     OR lower(right(o.to_address, length(m.email::text) + 2)) = lower('<' || m.email::text || '>'))";

/// Everything stored about the member, as one JSON document. Secrets (the
/// password hash, token hashes) are left out; they are not information
/// about the member, and showing them would weaken the account.
pub fn export(conn: &mut PgConnection, member_id: Uuid) -> QueryResult<serde_json::Value> {
    #[derive(QueryableByName)]
    struct Export {
        #[diesel(sql_type = Jsonb)]
        export: serde_json::Value,
    }
    let sql = format!(
        "SELECT jsonb_build_object(
           'exported_at', now(),
           'member', (SELECT to_jsonb(m) - 'password_hash' - 'name_search' - 'name_words' FROM members m WHERE m.id = $1),
           'exchange_records', coalesce((SELECT jsonb_agg(to_jsonb(r) || jsonb_build_object('program_name', p.name)
                ORDER BY r.start_date) FROM exchange_records r JOIN exchange_programs p ON p.id = r.program_id
                WHERE r.member_id = $1), '[]'),
           'contact_requests', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'direction', CASE WHEN c.from_member = $1 THEN 'outgoing' ELSE 'incoming' END,
                'other_member', CASE WHEN c.from_member = $1 THEN c.to_member ELSE c.from_member END,
                'message', c.message,
                'status', CASE WHEN c.from_member = $1 AND c.status = 'ignored' THEN 'pending' ELSE c.status END,
                'created_at', c.created_at,
                'responded_at', CASE WHEN c.from_member = $1 AND c.status = 'ignored' THEN NULL ELSE c.responded_at END)
                ORDER BY c.created_at)
                FROM contact_requests c WHERE $1 IN (c.from_member, c.to_member)), '[]'),
           'settings', (SELECT to_jsonb(s) - 'member_id' - 'calendar_token' FROM member_settings s WHERE s.member_id = $1),
           'event_answers', coalesce((SELECT jsonb_agg(jsonb_build_object('event_id', e.id, 'event', e.title,
                'starts_at', e.starts_at, 'status', a.status, 'answered_at', a.created_at, 'changed_at', a.updated_at)
                ORDER BY e.starts_at) FROM rsvps a JOIN events e ON e.id = a.event_id WHERE a.member_id = $1), '[]'),
           'sessions', coalesce((SELECT jsonb_agg(jsonb_build_object('started_at', t.created_at,
                'expires_at', t.expires_at, 'renewed_at', t.rotated_at, 'ended_at', t.revoked_at)
                ORDER BY t.created_at) FROM refresh_tokens t WHERE t.member_id = $1), '[]'),
           'email', coalesce((SELECT jsonb_agg(jsonb_build_object('kind', o.kind, 'subject', o.subject,
                'status', o.status, 'queued_at', o.created_at, 'sent_at', o.sent_at) ORDER BY o.created_at)
                FROM email_outbox o JOIN members m ON m.id = $1 WHERE {TO_MEMBER}), '[]'),
           'audit_log', coalesce((SELECT jsonb_agg(jsonb_build_object('action', a.action,
                'by_you', a.actor_id IS NOT DISTINCT FROM $1, 'target_type', a.target_type,
                'target_id', a.target_id, 'details', a.details, 'at', a.at) ORDER BY a.at)
                FROM audit_log a WHERE a.actor_id = $1 OR (a.target_type = 'member' AND a.target_id = $1::text)), '[]')
         ) AS export"
    );
    Ok(diesel::sql_query(sql)
        .bind::<SqlUuid, _>(member_id)
        .get_result::<Export>(conn)?
        .export)
}

/// Erases the member: personal fields, records, requests, tokens and the
/// mail addressed to them; the row stays (as "Deleted member") so the
/// history that points at it stays whole. The last admin cannot leave the
/// association without one.
pub fn delete_account(conn: &mut PgConnection, member: &Member, mail: &MailContext) -> Result<(), AppError> {
    conn.transaction(|conn| {
        if member.role == ADMIN && member.status == ACTIVE {
            let admins: Vec<Uuid> = members::table
                .filter(members::role.eq(ADMIN))
                .filter(members::status.eq(ACTIVE))
                .select(members::id)
                // In the order every admin decision locks them: no deadlock.
                .order(members::id)
                .for_update()
                .load(conn)?;
            if admins.iter().all(|id| *id == member.id) {
                return Err(AppError::conflict(
                    "You are the association's only admin: make another member an admin first.",
                ));
            }
        }
        diesel::sql_query(format!(
            "DELETE FROM email_outbox o USING members m WHERE m.id = $1 AND {TO_MEMBER}"
        ))
        .bind::<SqlUuid, _>(member.id)
        .execute(conn)?;
        // Seats they held go to the waitlists, before their answers go.
        crate::events::store::withdraw_everywhere(conn, member.id, mail)?;
        diesel::delete(exchange_records::table.filter(exchange_records::member_id.eq(member.id))).execute(conn)?;
        diesel::delete(
            contact_requests::table.filter(
                contact_requests::from_member
                    .eq(member.id)
                    .or(contact_requests::to_member.eq(member.id)),
            ),
        )
        .execute(conn)?;
        diesel::delete(email_tokens::table.filter(email_tokens::member_id.eq(member.id))).execute(conn)?;
        tokens::end_sessions(conn, member.id)?;
        diesel::sql_query(
            "UPDATE members SET email = 'deleted-' || id || '@invalid', password_hash = '!',
                full_name = 'Deleted member', graduation_year = NULL, university = NULL, country = NULL,
                city = NULL, profession = NULL, bio = NULL, links = '{}', time_zone = NULL,
                listed_in_directory = false, email_visibility = NULL, city_visibility = NULL,
                profession_visibility = NULL, bio_visibility = NULL, links_visibility = NULL,
                exchanges_visibility = NULL, role = 'member', status = 'deleted',
                deleted_at = now(), updated_at = now()
             WHERE id = $1",
        )
        .bind::<SqlUuid, _>(member.id)
        .execute(conn)?;
        audit::record(
            conn,
            Some(member.id),
            "member.delete",
            ("member", &member.id.to_string()),
            serde_json::json!({}),
        )?;
        Ok(())
    })
}

/// The export, for a handler; asking for it is recorded.
pub async fn export_for(pool: &crate::db::DbPool, member_id: Uuid) -> Result<serde_json::Value, AppError> {
    crate::db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let document = export(conn, member_id)?;
            audit::record(
                conn,
                Some(member_id),
                "member.export",
                ("member", &member_id.to_string()),
                serde_json::json!({}),
            )?;
            QueryResult::Ok(document)
        })
    })
    .await
}

/// Deletes the account once the password confirms it is the member asking
/// (guesses count as failed sign-ins).
pub async fn delete_confirmed(
    pool: &crate::db::DbPool,
    limits: &crate::auth::limits::AuthLimits,
    mail: &MailContext,
    member: Member,
    password: String,
) -> Result<(), AppError> {
    let account = member.email.to_lowercase();
    if let Some(wait) = limits.login_per_account.hit(&account) {
        return Err(AppError::rate_limited(wait));
    }
    let matches = crate::auth::password::verify(
        secrecy::SecretString::from(password),
        Some(member.password_hash.clone()),
    )
    .await?;
    if !matches {
        return Err(AppError::invalid_field("password", "is not your password"));
    }
    limits.login_per_account.forgive(&account);
    let mail = mail.clone();
    crate::db::run(pool, move |conn| delete_account(conn, &member, &mail)).await
}
