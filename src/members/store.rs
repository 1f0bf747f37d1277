use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::members;
use crate::members::model::{Member, NewMember, ACTIVE, ADMIN, DELETED};

/// The member with this address (compared case-insensitively), unless deleted.
pub fn find_by_email(conn: &mut PgConnection, email: &str) -> QueryResult<Option<Member>> {
    members::table
        .filter(members::email.eq(email))
        .filter(members::status.ne(DELETED))
        .select(Member::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Member>> {
    members::table
        .find(id)
        .select(Member::as_select())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut PgConnection, member: &NewMember) -> QueryResult<Member> {
    diesel::insert_into(members::table)
        .values(member)
        .returning(Member::as_returning())
        .get_result(conn)
}

pub fn active_admins(conn: &mut PgConnection) -> QueryResult<Vec<Member>> {
    members::table
        .filter(members::role.eq(ADMIN))
        .filter(members::status.eq(ACTIVE))
        .select(Member::as_select())
        .load(conn)
}

pub fn set_status(conn: &mut PgConnection, id: Uuid, status: &str) -> QueryResult<Member> {
    diesel::update(members::table.find(id))
        .set((members::status.eq(status), members::updated_at.eq(diesel::dsl::now)))
        .returning(Member::as_returning())
        .get_result(conn)
}

pub fn mark_email_verified(conn: &mut PgConnection, id: Uuid, next_status: &str) -> QueryResult<Member> {
    diesel::update(members::table.find(id))
        .set((
            members::status.eq(next_status),
            members::email_verified_at.eq(diesel::dsl::now),
            members::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Member::as_returning())
        .get_result(conn)
}

pub fn set_password_hash(conn: &mut PgConnection, id: Uuid, hash: &str) -> QueryResult<usize> {
    diesel::update(members::table.find(id))
        .set((
            members::password_hash.eq(hash),
            members::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
}

/// Sets `approved_at` the first time a member becomes active.
pub fn mark_approved(conn: &mut PgConnection, id: Uuid) -> QueryResult<Member> {
    diesel::update(members::table.find(id))
        .set((
            members::approved_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("coalesce(approved_at, now())")),
            members::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Member::as_returning())
        .get_result(conn)
}
