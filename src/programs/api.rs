//! `/api/v1/programs` (the catalogue: anyone reads it, admins change it),
//! `/api/v1/me/exchanges` (a member's own records) and the board's
//! verification.

use actix_web::{web, HttpResponse};
use uuid::Uuid;

use crate::auth::extract::{AdminMember, CurrentMember};
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::programs::model::{ProgramInput, RecordInput};
use crate::programs::store;

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Doc;

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

/// The catalogue is public: people deciding to join look for their
/// programme, and applicants record theirs before approval.
async fn list_programs(pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let programs = db::run(&pool, store::list_programs).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": programs })))
}

async fn get_program(id: web::Path<Uuid>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let program = db::run(&pool, move |conn| store::find_program(conn, id)).await?;
    Ok(HttpResponse::Ok().json(program))
}

async fn create_program(
    AdminMember(admin): AdminMember,
    body: web::Json<ProgramInput>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let values = body.into_inner().checked(true)?;
    let program = db::run(&pool, move |conn| store::create_program(conn, admin.id, &values)).await?;
    Ok(HttpResponse::Created().json(program))
}

async fn update_program(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    body: web::Json<ProgramInput>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let changes = body.into_inner().checked(false)?;
    let id = id.into_inner();
    let program = db::run(&pool, move |conn| store::update_program(conn, admin.id, id, &changes)).await?;
    Ok(HttpResponse::Ok().json(program))
}

async fn delete_program(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run(&pool, move |conn| store::delete_program(conn, admin.id, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A member's own records (any status: applicants may record theirs).
async fn my_records(CurrentMember(member): CurrentMember, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let records = db::run(&pool, move |conn| store::records_of(conn, &[member.id])).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": records })))
}

async fn my_record(
    CurrentMember(member): CurrentMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let record = db::run(&pool, move |conn| store::own_record(conn, member.id, id)).await?;
    Ok(HttpResponse::Ok().json(record))
}

async fn add_record(
    CurrentMember(member): CurrentMember,
    body: web::Json<RecordInput>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let values = body.into_inner().checked()?;
    let record = db::run(&pool, move |conn| store::add_record(conn, member.id, &values)).await?;
    Ok(HttpResponse::Created().json(record))
}

async fn update_record(
    CurrentMember(member): CurrentMember,
    id: web::Path<Uuid>,
    body: web::Json<RecordInput>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let member_id = member.id;
    let existing = db::run(&pool, move |conn| store::own_record(conn, member_id, id)).await?;
    let values = body.into_inner().over(&existing).checked()?;
    let record = db::run(&pool, move |conn| store::update_record(conn, member.id, id, &values)).await?;
    Ok(HttpResponse::Ok().json(record))
}

async fn delete_record(
    CurrentMember(member): CurrentMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run(&pool, move |conn| store::delete_record(conn, member.id, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn verify_record(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let record = db::run(&pool, move |conn| store::verify_record(conn, admin.id, id)).await?;
    Ok(HttpResponse::Ok().json(record))
}
