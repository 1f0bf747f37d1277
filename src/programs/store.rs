//! Queries of the catalogue and the records. Admin changes are audited in
//! the same transaction.

use diesel::prelude::*;
use uuid::Uuid;

use crate::audit;
use crate::db::schema::{exchange_programs, exchange_records};
use crate::error::AppError;
use crate::programs::model::{ExchangeRecord, Program, ProgramChanges, RecordRow, RecordValues};

pub fn list_programs(conn: &mut PgConnection) -> QueryResult<Vec<Program>> {
    exchange_programs::table
        .select(Program::as_select())
        .order(exchange_programs::name.asc())
        .load(conn)
}

pub fn find_program(conn: &mut PgConnection, id: Uuid) -> Result<Program, AppError> {
    exchange_programs::table
        .find(id)
        .select(Program::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

fn name_taken() -> AppError {
    AppError::conflict_on_field("name", "is the name of another programme")
}

pub fn create_program(conn: &mut PgConnection, admin: Uuid, values: &ProgramChanges) -> Result<Program, AppError> {
    conn.transaction(|conn| {
        let program: Program = diesel::insert_into(exchange_programs::table)
            .values(values)
            .returning(Program::as_returning())
            .get_result(conn)
            .map_err(|e| match e {
                diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                    name_taken()
                }
                e => e.into(),
            })?;
        audit::record(
            conn,
            Some(admin),
            "program.create",
            ("program", &program.id.to_string()),
            serde_json::json!({"name": program.name}),
        )?;
        Ok(program)
    })
}

pub fn update_program(
    conn: &mut PgConnection,
    admin: Uuid,
    id: Uuid,
    changes: &ProgramChanges,
) -> Result<Program, AppError> {
    conn.transaction(|conn| {
        let before = find_program(conn, id)?;
        let nothing = changes.name.is_none()
            && changes.sponsor.is_none()
            && changes.home_country.is_none()
            && changes.host_country.is_none()
            && changes.description.is_none();
        if nothing {
            return Ok(before);
        }
        let program: Program = diesel::update(exchange_programs::table.find(id))
            .set((changes, exchange_programs::updated_at.eq(diesel::dsl::now)))
            .returning(Program::as_returning())
            .get_result(conn)
            .map_err(|e| match e {
                diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                    name_taken()
                }
                e => e.into(),
            })?;
        audit::record(
            conn,
            Some(admin),
            "program.update",
            ("program", &id.to_string()),
            serde_json::json!({"from": before.name, "to": program.name}),
        )?;
        Ok(program)
    })
}

/// Deletes a programme no record points at; 409 naming how many do.
pub fn delete_program(conn: &mut PgConnection, admin: Uuid, id: Uuid) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let program = find_program(conn, id)?;
        let records: i64 = exchange_records::table
            .filter(exchange_records::program_id.eq(id))
            .count()
            .get_result(conn)?;
        if records > 0 {
            return Err(AppError::conflict(format!(
                "{records} member record(s) name this programme; it cannot be deleted while they do."
            )));
        }
        diesel::delete(exchange_programs::table.find(id)).execute(conn)?;
        audit::record(
            conn,
            Some(admin),
            "program.delete",
            ("program", &id.to_string()),
            serde_json::json!({"name": program.name}),
        )?;
        Ok(())
    })
}

/// Records with their programme's name, oldest first.
pub fn records_of(conn: &mut PgConnection, member_ids: &[Uuid]) -> QueryResult<Vec<ExchangeRecord>> {
    let rows: Vec<(RecordRow, String)> = exchange_records::table
        .inner_join(exchange_programs::table)
        .filter(exchange_records::member_id.eq_any(member_ids))
        .select((RecordRow::as_select(), exchange_programs::name))
        .order((exchange_records::start_date.asc(), exchange_records::id.asc()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(row, name)| ExchangeRecord::new(row, name))
        .collect())
}

/// One of the member's own records; 404 for anyone else's.
pub fn own_record(conn: &mut PgConnection, member_id: Uuid, id: Uuid) -> Result<ExchangeRecord, AppError> {
    records_of(conn, &[member_id])?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(AppError::not_found)
}

/// The programme must be in the catalogue: a field error, not a 500 or a 404.
fn check_program(conn: &mut PgConnection, program_id: Uuid) -> Result<(), AppError> {
    let exists: bool =
        diesel::select(diesel::dsl::exists(exchange_programs::table.find(program_id))).get_result(conn)?;
    if exists {
        Ok(())
    } else {
        Err(AppError::invalid_field(
            "program_id",
            "is not a programme of the catalogue",
        ))
    }
}

pub fn add_record(conn: &mut PgConnection, member_id: Uuid, values: &RecordValues) -> Result<ExchangeRecord, AppError> {
    conn.transaction(|conn| {
        // A programme deleted meanwhile is caught by the foreign key.
        check_program(conn, values.program_id)?;
        let id: Uuid = diesel::insert_into(exchange_records::table)
            .values((values, exchange_records::member_id.eq(member_id)))
            .returning(exchange_records::id)
            .get_result(conn)?;
        own_record(conn, member_id, id)
    })
}

/// Changes one of the member's records to what `change` makes of it, in
/// one transaction that holds the record: of two changes at once (a phone
/// and a laptop), the second is made over the first, not over what both
/// read. A change undoes its verification: the board verified what it said
/// before.
pub fn update_record(
    conn: &mut PgConnection,
    member_id: Uuid,
    id: Uuid,
    change: impl FnOnce(&ExchangeRecord) -> Result<RecordValues, AppError>,
) -> Result<ExchangeRecord, AppError> {
    conn.transaction(|conn| {
        exchange_records::table
            .find(id)
            .filter(exchange_records::member_id.eq(member_id))
            .select(exchange_records::id)
            .for_update()
            .first::<Uuid>(conn)
            .optional()?
            .ok_or_else(AppError::not_found)?;
        let values = change(&own_record(conn, member_id, id)?)?;
        check_program(conn, values.program_id)?;
        diesel::update(exchange_records::table.find(id))
            .set((
                &values,
                exchange_records::verified_at.eq(None::<chrono::DateTime<chrono::Utc>>),
                exchange_records::verified_by.eq(None::<Uuid>),
                exchange_records::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        own_record(conn, member_id, id)
    })
}

pub fn delete_record(conn: &mut PgConnection, member_id: Uuid, id: Uuid) -> Result<(), AppError> {
    let deleted = diesel::delete(
        exchange_records::table
            .filter(exchange_records::id.eq(id))
            .filter(exchange_records::member_id.eq(member_id)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(AppError::not_found());
    }
    Ok(())
}

/// The board vouches for a record: marks it verified by `admin` (audited). A record already verified
/// stays as it is, by whoever verified it, and nothing is audited again.
pub fn verify_record(conn: &mut PgConnection, admin: Uuid, id: Uuid) -> Result<ExchangeRecord, AppError> {
    conn.transaction(|conn| {
        let (member_id, verified_at): (Uuid, Option<chrono::DateTime<chrono::Utc>>) = exchange_records::table
            .find(id)
            .select((exchange_records::member_id, exchange_records::verified_at))
            .for_update()
            .first(conn)
            .optional()?
            .ok_or_else(AppError::not_found)?;
        if member_id == admin {
            return Err(AppError::conflict("Another admin verifies your own records."));
        }
        if verified_at.is_some() {
            return own_record(conn, member_id, id);
        }
        diesel::update(exchange_records::table.find(id))
            .set((
                exchange_records::verified_at.eq(diesel::dsl::now),
                exchange_records::verified_by.eq(admin),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Some(admin),
            "exchange.verify",
            ("exchange_record", &id.to_string()),
            serde_json::json!({"member": member_id}),
        )?;
        own_record(conn, member_id, id)
    })
}
