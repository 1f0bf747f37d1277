//! The `email_outbox` table: queueing inside the caller's transaction,
//! claiming due rows for sending, recording outcomes, and the admin's view.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use serde::Serialize;
use uuid::Uuid;

use crate::db::schema::email_outbox;
use crate::email::{Attachment, Email};
use crate::error::AppError;

pub const STATUSES: [&str; 4] = ["pending", "sending", "sent", "failed"];

/// One row of the outbox, as sent (or to be sent).
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Serialize)]
#[diesel(table_name = email_outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxMessage {
    pub id: Uuid,
    pub idempotency_key: String,
    pub kind: String,
    pub to_address: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub headers: serde_json::Value,
    pub attachments: serde_json::Value,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub claim_token: Option<Uuid>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl OutboxMessage {
    /// An error when the stored JSON does not read: the message is then
    /// unsendable, never sent without its headers.
    pub fn header_pairs(&self) -> Result<Vec<(String, String)>, serde_json::Error> {
        serde_json::from_value(self.headers.clone())
    }

    pub fn attachment_list(&self) -> Result<Vec<Attachment>, serde_json::Error> {
        serde_json::from_value(self.attachments.clone())
    }
}

#[derive(Insertable)]
#[diesel(table_name = email_outbox)]
struct NewOutboxMessage<'a> {
    idempotency_key: &'a str,
    kind: &'a str,
    to_address: &'a str,
    subject: &'a str,
    text_body: &'a str,
    html_body: Option<&'a str>,
    headers: serde_json::Value,
    attachments: serde_json::Value,
}

/// Queues `email` in the caller's transaction: it is sent only if that
/// transaction commits. Queuing a key that is already there changes nothing
/// and answers `None`.
pub fn queue(conn: &mut PgConnection, email: &Email) -> Result<Option<Uuid>, AppError> {
    let row = new_row(email)?;
    let id = diesel::insert_into(email_outbox::table)
        .values(&row)
        .on_conflict(email_outbox::idempotency_key)
        .do_nothing()
        .returning(email_outbox::id)
        .get_result::<Uuid>(conn)
        .optional()?;
    Ok(id)
}

/// Queues many messages in one statement (bulk mail: a batch of digests),
/// with the same rules as [`queue`]; answers the keys that went in (those
/// already there are left as they were).
pub fn queue_many(conn: &mut PgConnection, emails: &[Email]) -> Result<Vec<String>, AppError> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let rows = emails.iter().map(new_row).collect::<Result<Vec<_>, _>>()?;
    Ok(diesel::insert_into(email_outbox::table)
        .values(&rows)
        .on_conflict(email_outbox::idempotency_key)
        .do_nothing()
        .returning(email_outbox::idempotency_key)
        .get_results(conn)?)
}

fn new_row(email: &Email) -> Result<NewOutboxMessage<'_>, AppError> {
    if email.to.parse::<lettre::message::Mailbox>().is_err() {
        return Err(AppError::internal(anyhow::anyhow!(
            "refusing to queue {} mail to an invalid address",
            email.kind
        )));
    }
    Ok(NewOutboxMessage {
        idempotency_key: &email.idempotency_key,
        kind: &email.kind,
        to_address: &email.to,
        subject: &email.subject,
        text_body: &email.text_body,
        html_body: email.html_body.as_deref(),
        headers: serde_json::to_value(&email.headers).map_err(AppError::internal)?,
        attachments: serde_json::to_value(&email.attachments).map_err(AppError::internal)?,
    })
}

/// Claims up to `limit` due rows for one batch: pending rows whose time has
/// come, and rows whose sender's lease ran out (it crashed mid-send). Rows
/// another worker holds are skipped, never waited for. Each claim counts as
/// an attempt, so a message that crashes its sender cannot loop forever.
pub fn claim_due(
    conn: &mut PgConnection,
    claim_token: Uuid,
    limit: i64,
    lease: Duration,
    max_attempts: i32,
) -> QueryResult<Vec<OutboxMessage>> {
    conn.transaction(|conn| {
        // Rows abandoned by a crashed sender after their last attempt: failed.
        diesel::sql_query(
            "UPDATE email_outbox SET status = 'failed', claim_token = NULL, lease_expires_at = NULL, \
             last_error = coalesce(last_error, 'the sender stopped while sending'), updated_at = now() \
             WHERE status = 'sending' AND lease_expires_at < now() AND attempts >= $1",
        )
        .bind::<Integer, _>(max_attempts)
        .execute(conn)?;
        // Rows whose sender's lease ran out first, then those due, each read
        // in order off its own partial index. (One query with an OR of the
        // two had PostgreSQL collect and sort every due row for each batch:
        // 100 ms a claim with 100,000 queued.)
        let mut claimed: Vec<OutboxMessage> = diesel::sql_query(CLAIM.replace(
            "{rows}",
            "status = 'sending' AND lease_expires_at < now() ORDER BY lease_expires_at",
        ))
        .bind::<SqlUuid, _>(claim_token)
        .bind::<Double, _>(lease.as_secs_f64())
        .bind::<BigInt, _>(limit)
        .load(conn)?;
        let room = limit - claimed.len() as i64;
        if room > 0 {
            claimed.extend(
                diesel::sql_query(CLAIM.replace(
                    "{rows}",
                    "status = 'pending' AND next_attempt_at <= now() ORDER BY next_attempt_at",
                ))
                .bind::<SqlUuid, _>(claim_token)
                .bind::<Double, _>(lease.as_secs_f64())
                .bind::<BigInt, _>(room)
                .load::<OutboxMessage>(conn)?,
            );
        }
        Ok(claimed)
    })
}

/// Claims up to `$3` rows of `{rows}` (a condition and an order) for the
/// token `$1`, under a lease of `$2` seconds.
const CLAIM: &str = "UPDATE email_outbox SET status = 'sending', claim_token = $1, \
       lease_expires_at = now() + make_interval(secs => $2), attempts = attempts + 1, updated_at = now() \
     WHERE id IN (SELECT id FROM email_outbox WHERE {rows} LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING *";

/// Extends the lease of the rows `claim_token` still holds; answers their ids.
pub fn renew_lease(conn: &mut PgConnection, claim_token: Uuid, lease: Duration) -> QueryResult<Vec<Uuid>> {
    use diesel::sql_types::Uuid as SqlUuid;
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let held: Vec<Held> = diesel::sql_query(
        "UPDATE email_outbox SET lease_expires_at = now() + make_interval(secs => $2), updated_at = now() \
         WHERE claim_token = $1 AND status = 'sending' RETURNING id",
    )
    .bind::<SqlUuid, _>(claim_token)
    .bind::<Double, _>(lease.as_secs_f64())
    .load(conn)?;
    Ok(held.into_iter().map(|row| row.id).collect())
}

/// Records delivery of the batch's `ids`. A row whose lease another worker
/// took over is left to that worker.
pub fn mark_sent(conn: &mut PgConnection, claim_token: Uuid, ids: &[Uuid]) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE email_outbox SET status = 'sent', sent_at = now(), claim_token = NULL, lease_expires_at = NULL, \
         last_error = NULL, updated_at = now() WHERE id = ANY($1) AND claim_token = $2",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<SqlUuid, _>(claim_token)
    .execute(conn)
}

/// Records a failed attempt: retried at `retry_at`, or `failed` when `None`.
pub fn mark_attempt_failed(
    conn: &mut PgConnection,
    claim_token: Uuid,
    id: Uuid,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE email_outbox SET status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END, \
         next_attempt_at = coalesce($3, next_attempt_at), last_error = $4, claim_token = NULL, \
         lease_expires_at = NULL, updated_at = now() WHERE id = $1 AND claim_token = $2",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(claim_token)
    .bind::<Nullable<Timestamptz>, _>(retry_at)
    .bind::<Text, _>(crate::api::shorten(error, 2000))
    .execute(conn)
}

/// Puts rows of the batch back in the queue untried: the claim does not
/// count as an attempt.
pub fn release(
    conn: &mut PgConnection,
    claim_token: Uuid,
    ids: &[Uuid],
    retry_at: DateTime<Utc>,
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::sql_query(
        "UPDATE email_outbox SET status = 'pending', attempts = greatest(attempts - 1, 0), next_attempt_at = $3, \
         claim_token = NULL, lease_expires_at = NULL, updated_at = now() WHERE id = ANY($1) AND claim_token = $2",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<SqlUuid, _>(claim_token)
    .bind::<Timestamptz, _>(retry_at)
    .execute(conn)
}

/// Counts by status, and how long the oldest pending message has waited.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueStats {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub oldest_pending_age_seconds: f64,
}

/// For `/metrics`, scraped often: only the unsent rows, which partial
/// indexes keep cheap however many sent messages the table holds. `sent` is
/// left 0; the `mail_sent_total` counter tells deliveries.
pub fn unsent_stats(conn: &mut PgConnection) -> QueryResult<QueueStats> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        pending: i64,
        #[diesel(sql_type = BigInt)]
        sending: i64,
        #[diesel(sql_type = BigInt)]
        failed: i64,
        #[diesel(sql_type = Double)]
        oldest: f64,
    }
    let row: Row = diesel::sql_query(
        "SELECT (SELECT count(*) FROM email_outbox WHERE status = 'pending') AS pending, \
                (SELECT count(*) FROM email_outbox WHERE status = 'sending') AS sending, \
                (SELECT count(*) FROM email_outbox WHERE status = 'failed') AS failed, \
                coalesce((SELECT extract(epoch FROM now() - min(created_at)) FROM email_outbox \
                          WHERE status = 'pending'), 0)::float8 AS oldest",
    )
    .get_result(conn)?;
    Ok(QueueStats {
        pending: row.pending,
        sending: row.sending,
        sent: 0,
        failed: row.failed,
        oldest_pending_age_seconds: row.oldest,
    })
}

/// Every status counted, `sent` too (for `karvan outbox status`).
pub fn stats(conn: &mut PgConnection) -> QueryResult<QueueStats> {
    let mut stats = unsent_stats(conn)?;
    stats.sent = email_outbox::table
        .filter(email_outbox::status.eq("sent"))
        .count()
        .get_result(conn)?;
    Ok(stats)
}

/// How many rows a drain would send now.
pub fn due_count(conn: &mut PgConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Due {
        #[diesel(sql_type = BigInt)]
        due: i64,
    }
    let row: Due = diesel::sql_query(
        "SELECT count(*) AS due FROM email_outbox \
         WHERE (status = 'pending' AND next_attempt_at <= now()) \
            OR (status = 'sending' AND lease_expires_at < now())",
    )
    .get_result(conn)?;
    Ok(row.due)
}

/// The admin's list, newest first; `status` filters when given.
pub fn list(
    conn: &mut PgConnection,
    status: Option<&str>,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<OutboxMessage>, i64)> {
    let mut query = email_outbox::table.select(OutboxMessage::as_select()).into_boxed();
    let mut count = email_outbox::table.count().into_boxed();
    if let Some(status) = status {
        query = query.filter(email_outbox::status.eq(status));
        count = count.filter(email_outbox::status.eq(status));
    }
    let items = query
        .order((email_outbox::created_at.desc(), email_outbox::id))
        .limit(per_page)
        .offset((page - 1).max(0) * per_page)
        .load(conn)?;
    Ok((items, count.get_result(conn)?))
}

pub fn get(conn: &mut PgConnection, id: Uuid) -> QueryResult<OutboxMessage> {
    email_outbox::table
        .find(id)
        .select(OutboxMessage::as_select())
        .get_result(conn)
}

/// Sends a failed message again, now, with a fresh set of attempts.
/// Answers whether the row was failed (and so is now pending).
pub fn retry(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
    let updated = diesel::update(email_outbox::table.find(id).filter(email_outbox::status.eq("failed")))
        .set((
            email_outbox::status.eq("pending"),
            email_outbox::attempts.eq(0),
            email_outbox::next_attempt_at.eq(diesel::dsl::now),
            email_outbox::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Every failed message back to pending; how many.
pub fn retry_all_failed(conn: &mut PgConnection) -> QueryResult<usize> {
    diesel::update(email_outbox::table.filter(email_outbox::status.eq("failed")))
        .set((
            email_outbox::status.eq("pending"),
            email_outbox::attempts.eq(0),
            email_outbox::next_attempt_at.eq(diesel::dsl::now),
            email_outbox::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
}
