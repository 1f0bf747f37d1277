//! `POST /api/v1/members/{id}/contact-requests`, `GET
//! /api/v1/me/contact-requests`, and the answers to a request.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::Checks;
use crate::auth::extract::ActiveMember;
use crate::contacts::store::{self, MESSAGE_MAX};
use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::error::AppError;
use crate::members::model::Member;

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/members/{id}/contact-requests").post(ask_api))
        .service(web::resource("/api/v1/me/contact-requests").get(list_api))
        .service(web::resource("/api/v1/me/contact-requests/{id}/accept").post(accept_api))
        .service(web::resource("/api/v1/me/contact-requests/{id}/ignore").post(ignore_api));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    message: Option<String>,
}

/// Asks for an introduction, with the message checked.
pub async fn ask(pool: &DbPool, mail: &MailContext, from: Member, to: Uuid, message: &str) -> Result<Uuid, AppError> {
    let mut checks = Checks::default();
    let message = checks.multiline_text("message", message, 1, MESSAGE_MAX);
    checks.finish()?;
    let mail = mail.clone();
    let request = db::run(pool, move |conn| store::ask(conn, &mail, &from, to, &message)).await?;
    Ok(request.id)
}

async fn ask_api(
    ActiveMember(member): ActiveMember,
    id: web::Path<Uuid>,
    body: web::Json<AskRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let message = body.into_inner().message.unwrap_or_default();
    let request = ask(&pool, &mail, member, id.into_inner(), &message).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": request, "status": "pending" })))
}

async fn list_api(ActiveMember(member): ActiveMember, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let items = db::run(&pool, move |conn| store::list(conn, member.id)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

async fn accept_api(
    ActiveMember(member): ActiveMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let mail = mail.get_ref().clone();
    db::run(&pool, move |conn| store::accept(conn, &mail, member.id, id)).await?;
    let member_id = member.id;
    let items = db::run(&pool, move |conn| store::list(conn, member_id)).await?;
    let view = items.into_iter().find(|v| v.id == id).ok_or_else(AppError::not_found)?;
    Ok(HttpResponse::Ok().json(view))
}

async fn ignore_api(
    ActiveMember(member): ActiveMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run(&pool, move |conn| store::ignore(conn, member.id, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
