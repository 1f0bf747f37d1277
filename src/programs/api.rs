//! `/api/v1/programs` (the catalogue: anyone reads it, admins change it),
//! `/api/v1/me/exchanges` (a member's own records) and the board's
//! verification.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::extract::{AdminMember, CurrentMember};
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::programs::model::{DegreeLevel, ExchangeRecord, Program, ProgramInput, RecordInput};
use crate::programs::store;

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(OpenApi)]
#[openapi(
    paths(
        list_programs,
        create_program,
        get_program,
        update_program,
        delete_program,
        my_records,
        add_record,
        my_record,
        update_record,
        delete_record,
        verify_record
    ),
    components(schemas(
        Program,
        ProgramList,
        ProgramInput,
        ExchangeRecord,
        RecordList,
        RecordInput,
        DegreeLevel
    ))
)]
pub struct Doc;

/// The catalogue, in name order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramList {
    pub items: Vec<Program>,
}

/// A member's records, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordList {
    pub items: Vec<ExchangeRecord>,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/programs")
            .get(list_programs)
            .post(create_program),
    )
    .service(
        web::resource("/api/v1/programs/{id}")
            .get(get_program)
            .patch(update_program)
            .delete(delete_program),
    )
    .service(web::resource("/api/v1/me/exchanges").get(my_records).post(add_record))
    .service(
        web::resource("/api/v1/me/exchanges/{id}")
            .get(my_record)
            .patch(update_record)
            .delete(delete_record),
    )
    .service(web::resource("/api/v1/admin/exchanges/{id}/verify").post(verify_record));
}

/// The catalogue of programmes (public).
///
/// The catalogue is public: people deciding to join look for their
/// programme, and applicants record theirs before approval.
#[utoipa::path(
    get,
    path = "/api/v1/programs",
    tag = "programmes",
    responses((status = 200, description = "Every programme, in name order.", body = ProgramList))
)]
async fn list_programs(pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let items = db::run(&pool, store::list_programs).await?;
    Ok(HttpResponse::Ok().json(ProgramList { items }))
}

/// One programme (public).
#[utoipa::path(
    get,
    path = "/api/v1/programs/{id}",
    tag = "programmes",
    params(("id" = Uuid, Path, description = "The programme's id")),
    responses(
        (status = 200, description = "The programme.", body = Program),
        (status = 404, description = "No such programme."),
    )
)]
async fn get_program(id: web::Path<Uuid>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let program = db::run(&pool, move |conn| store::find_program(conn, id)).await?;
    Ok(HttpResponse::Ok().json(program))
}

/// Adds a programme to the catalogue (admins; audited).
#[utoipa::path(
    post,
    path = "/api/v1/programs",
    tag = "programmes",
    request_body = ProgramInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The programme.", body = Program),
        (status = 403, description = "The signed-in member is not an admin."),
        (status = 409, description = "The name is another programme's (`errors.name`)."),
        (status = 422, description = "A field is missing or invalid (named in `errors`), or the body has another \
                                      shape."),
    )
)]
async fn create_program(
    AdminMember(admin): AdminMember,
    body: crate::api::Json<ProgramInput>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let values = body.into_inner().checked(true)?;
    let program = db::run(&pool, move |conn| store::create_program(conn, admin.id, &values)).await?;
    Ok(HttpResponse::Created().json(program))
}

/// Changes a programme (admins; audited): fields not sent stay as they are, `null` clears one.
#[utoipa::path(
    patch,
    path = "/api/v1/programs/{id}",
    tag = "programmes",
    params(("id" = Uuid, Path, description = "The programme's id")),
    request_body = ProgramInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The programme as it now is.", body = Program),
        (status = 403, description = "The signed-in member is not an admin."),
        (status = 404, description = "No such programme."),
        (status = 409, description = "The name is another programme's (`errors.name`)."),
        (status = 422, description = "A field is invalid (named in `errors`), or the body has another shape."),
    )
)]
async fn update_program(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    body: crate::api::Json<ProgramInput>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let changes = body.into_inner().checked(false)?;
    let id = id.into_inner();
    let program = db::run(&pool, move |conn| store::update_program(conn, admin.id, id, &changes)).await?;
    Ok(HttpResponse::Ok().json(program))
}

/// Deletes a programme no record names (admins; audited).
#[utoipa::path(
    delete,
    path = "/api/v1/programs/{id}",
    tag = "programmes",
    params(("id" = Uuid, Path, description = "The programme's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "The signed-in member is not an admin."),
        (status = 404, description = "No such programme."),
        (status = 409, description = "Members' records name the programme (`detail` says how many)."),
    )
)]
async fn delete_program(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run(&pool, move |conn| store::delete_program(conn, admin.id, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in member's own exchange records (any status: applicants may record theirs).
#[utoipa::path(
    get,
    path = "/api/v1/me/exchanges",
    tag = "programmes",
    security(("bearer" = [])),
    responses((status = 200, description = "The member's records, oldest first.", body = RecordList))
)]
async fn my_records(CurrentMember(member): CurrentMember, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let items = db::run(&pool, move |conn| store::records_of(conn, &[member.id])).await?;
    Ok(HttpResponse::Ok().json(RecordList { items }))
}

/// One of the signed-in member's own exchange records.
#[utoipa::path(
    get,
    path = "/api/v1/me/exchanges/{id}",
    tag = "programmes",
    params(("id" = Uuid, Path, description = "The record's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The record.", body = ExchangeRecord),
        (status = 404, description = "The member has no record with this id."),
    )
)]
async fn my_record(
    CurrentMember(member): CurrentMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let record = db::run(&pool, move |conn| store::own_record(conn, member.id, id)).await?;
    Ok(HttpResponse::Ok().json(record))
}

/// Adds an exchange record of the signed-in member's (any status).
#[utoipa::path(
    post,
    path = "/api/v1/me/exchanges",
    tag = "programmes",
    request_body = RecordInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The record, not yet verified.", body = ExchangeRecord),
        (status = 422, description = "A field is missing or invalid, or the programme is not in the catalogue \
                                      (named in `errors`); or the body has another shape."),
    )
)]
async fn add_record(
    CurrentMember(member): CurrentMember,
    body: crate::api::Json<RecordInput>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let values = body.into_inner().checked()?;
    let record = db::run(&pool, move |conn| store::add_record(conn, member.id, &values)).await?;
    Ok(HttpResponse::Created().json(record))
}

/// Changes one of the signed-in member's records; a change undoes the board's verification.
///
/// Fields not sent stay as they are; `null` clears an optional one.
#[utoipa::path(
    patch,
    path = "/api/v1/me/exchanges/{id}",
    tag = "programmes",
    params(("id" = Uuid, Path, description = "The record's id")),
    request_body = RecordInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The record as it now is.", body = ExchangeRecord),
        (status = 404, description = "The member has no record with this id."),
        (status = 422, description = "A field is invalid, or the programme is not in the catalogue (named in \
                                      `errors`); or the body has another shape."),
    )
)]
async fn update_record(
    CurrentMember(member): CurrentMember,
    id: web::Path<Uuid>,
    body: crate::api::Json<RecordInput>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.into_inner();
    let record = db::run(&pool, move |conn| {
        store::update_record(conn, member.id, id, |existing| input.over(existing).checked())
    })
    .await?;
    Ok(HttpResponse::Ok().json(record))
}

/// Deletes one of the signed-in member's records.
#[utoipa::path(
    delete,
    path = "/api/v1/me/exchanges/{id}",
    tag = "programmes",
    params(("id" = Uuid, Path, description = "The record's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "The member has no record with this id."),
    )
)]
async fn delete_record(
    CurrentMember(member): CurrentMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run(&pool, move |conn| store::delete_record(conn, member.id, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Verifies a member's exchange record (admins; audited). Verifying it again changes nothing: a change by the member clears the mark.
#[utoipa::path(
    post,
    path = "/api/v1/admin/exchanges/{id}/verify",
    tag = "programmes",
    params(("id" = Uuid, Path, description = "The record's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The record, verified.", body = ExchangeRecord),
        (status = 403, description = "The signed-in member is not an admin."),
        (status = 404, description = "No such record."),
        (status = 409, description = "The record is the admin's own: another admin verifies it."),
    )
)]
async fn verify_record(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let record = db::run(&pool, move |conn| store::verify_record(conn, admin.id, id)).await?;
    Ok(HttpResponse::Ok().json(record))
}
