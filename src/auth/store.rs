//! Queries on `email_tokens` and `refresh_tokens`.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::auth::tokens::new_opaque_token;
use crate::db::schema::{email_tokens, refresh_tokens};

pub const VERIFY_EMAIL: &str = "verify_email";
pub const PASSWORD_RESET: &str = "password_reset";
pub const INVITATION: &str = "invitation";

/// A new single-use mailed token for `purpose`; the plain token is returned
/// once, to be put in the mail, and only its hash is stored.
pub fn create_email_token(
    conn: &mut PgConnection,
    member_id: Uuid,
    purpose: &str,
    valid_for: Duration,
) -> QueryResult<String> {
    let (token, hash) = new_opaque_token();
    diesel::insert_into(email_tokens::table)
        .values((
            email_tokens::member_id.eq(member_id),
            email_tokens::purpose.eq(purpose),
            email_tokens::token_hash.eq(hash),
            email_tokens::expires_at.eq(Utc::now() + valid_for),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Uses up a mailed token: the member it belongs to, if it was valid for
/// `purpose`, unused and unexpired. A token is used at most once, even by
/// two requests at the same moment (the row is locked).
pub fn consume_email_token(conn: &mut PgConnection, token_hash: &[u8], purpose: &str) -> QueryResult<Option<Uuid>> {
    let row: Option<(Uuid, Uuid)> = email_tokens::table
        .filter(email_tokens::token_hash.eq(token_hash))
        .filter(email_tokens::purpose.eq(purpose))
        .filter(email_tokens::used_at.is_null())
        .filter(email_tokens::expires_at.gt(diesel::dsl::now))
        .select((email_tokens::id, email_tokens::member_id))
        .for_update()
        .first(conn)
        .optional()?;
    let Some((id, member_id)) = row else {
        return Ok(None);
    };
    diesel::update(email_tokens::table.find(id))
        .set(email_tokens::used_at.eq(diesel::dsl::now))
        .execute(conn)?;
    Ok(Some(member_id))
}

/// Whether a mailed token would be accepted now (without using it up).
pub fn email_token_is_usable(conn: &mut PgConnection, token_hash: &[u8], purpose: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        email_tokens::table
            .filter(email_tokens::token_hash.eq(token_hash))
            .filter(email_tokens::purpose.eq(purpose))
            .filter(email_tokens::used_at.is_null())
            .filter(email_tokens::expires_at.gt(diesel::dsl::now)),
    ))
    .get_result(conn)
}

/// Earlier unused tokens of the same purpose stop working when a new one is sent.
pub fn expire_email_tokens(conn: &mut PgConnection, member_id: Uuid, purpose: &str) -> QueryResult<usize> {
    diesel::update(
        email_tokens::table
            .filter(email_tokens::member_id.eq(member_id))
            .filter(email_tokens::purpose.eq(purpose))
            .filter(email_tokens::used_at.is_null()),
    )
    .set(email_tokens::used_at.eq(diesel::dsl::now))
    .execute(conn)
}

pub const REFRESH_TOKEN_DAYS: i64 = 30;

/// Stores a new refresh token in `family`; the plain token to hand out.
pub fn create_refresh_token(conn: &mut PgConnection, member_id: Uuid, family_id: Uuid) -> QueryResult<String> {
    let (token, hash) = new_opaque_token();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::member_id.eq(member_id),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::token_hash.eq(hash),
            refresh_tokens::expires_at.eq(Utc::now() + Duration::days(REFRESH_TOKEN_DAYS)),
        ))
        .execute(conn)?;
    Ok(token)
}

#[derive(Debug, Queryable)]
pub struct RefreshRow {
    pub id: Uuid,
    pub member_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The refresh token with this hash, locked for the rest of the transaction.
pub fn lock_refresh_token(conn: &mut PgConnection, token_hash: &[u8]) -> QueryResult<Option<RefreshRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((
            refresh_tokens::id,
            refresh_tokens::member_id,
            refresh_tokens::family_id,
            refresh_tokens::expires_at,
            refresh_tokens::rotated_at,
            refresh_tokens::revoked_at,
        ))
        .for_update()
        .first(conn)
        .optional()
}

pub fn mark_rotated(conn: &mut PgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::update(refresh_tokens::table.find(id))
        .set(refresh_tokens::rotated_at.eq(diesel::dsl::now))
        .execute(conn)
}

pub fn revoke_family(conn: &mut PgConnection, family_id: Uuid) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
}

/// Ends every session of the member: refresh tokens revoked, and access
/// tokens issued until now refused (see `extract.rs`).
pub fn end_sessions(conn: &mut PgConnection, member_id: Uuid) -> QueryResult<()> {
    use crate::db::schema::members;
    diesel::update(members::table.find(member_id))
        // The app's clock, which also stamps `iat_ms`: a database clock a
        // little ahead would otherwise end the session issued right after.
        .set(members::sessions_valid_after.eq(chrono::Utc::now()))
        .execute(conn)?;
    revoke_all_for_member(conn, member_id)?;
    Ok(())
}

pub fn revoke_all_for_member(conn: &mut PgConnection, member_id: Uuid) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::member_id.eq(member_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
}

/// Whether a token of `purpose` was mailed to the member within `window`.
pub fn issued_since(conn: &mut PgConnection, member_id: Uuid, purpose: &str, window: Duration) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        email_tokens::table
            .filter(email_tokens::member_id.eq(member_id))
            .filter(email_tokens::purpose.eq(purpose))
            .filter(email_tokens::created_at.gt(Utc::now() - window)),
    ))
    .get_result(conn)
}
