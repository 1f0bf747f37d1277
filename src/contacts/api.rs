//! `POST /api/v1/members/{id}/contact-requests`, `GET
//! /api/v1/me/contact-requests`, and the answers to a request.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
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
#[openapi(
    paths(ask_api, list_api, accept_api, ignore_api),
    components(schemas(AskRequest, Asked, ContactRequests, store::ContactView))
)]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/members/{id}/contact-requests").post(ask_api))
        .service(web::resource("/api/v1/me/contact-requests").get(list_api))
        .service(web::resource("/api/v1/me/contact-requests/{id}/accept").post(accept_api))
        .service(web::resource("/api/v1/me/contact-requests/{id}/ignore").post(ignore_api));
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// A few lines for the member asked; it is mailed to them.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000, content_media_type = "text/plain")]
    message: Option<String>,
}

/// `201`: the request made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Asked {
    pub id: Uuid,
    /// Always `pending`.
    #[schema(example = "pending")]
    pub status: &'static str,
}

/// `{"items": [...]}`: the member's requests.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactRequests {
    pub items: Vec<store::ContactView>,
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

/// Asks to be introduced to a member listed in the directory; they are mailed the message.
#[utoipa::path(
    post,
    path = "/api/v1/members/{id}/contact-requests",
    tag = "contacts",
    params(("id" = Uuid, Path, description = "The id of the member asked")),
    request_body = AskRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The request, waiting for an answer.", body = Asked),
        (status = 403, description = "The signed-in member is not active."),
        (status = 404, description = "No active member listed in the directory has this id, or the id is not a UUID."),
        (status = 409, description = "The two are already introduced, a request between them is already waiting, \
                                      or the member asked is the asker (`errors.member`)."),
        (status = 422, description = "The message is missing, blank, too long or has control characters, \
                                      or the body names an unknown field."),
        (status = 429, description = "The member has asked for 10 introductions in the last day; see `Retry-After`."),
    )
)]
async fn ask_api(
    ActiveMember(member): ActiveMember,
    id: web::Path<Uuid>,
    body: crate::api::Json<AskRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let message = body.into_inner().message.unwrap_or_default();
    let request = ask(&pool, &mail, member, id.into_inner(), &message).await?;
    Ok(HttpResponse::Created().json(Asked {
        id: request,
        status: "pending",
    }))
}

/// The signed-in member's introduction requests, both ways, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/me/contact-requests",
    tag = "contacts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The 200 most recent requests, asked and received, newest first.",
         body = ContactRequests),
        (status = 403, description = "The signed-in member is not active."),
    )
)]
async fn list_api(ActiveMember(member): ActiveMember, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let items = db::run(&pool, move |conn| store::list(conn, member.id)).await?;
    Ok(HttpResponse::Ok().json(ContactRequests { items }))
}

/// Accepts a request received: each side is mailed the other's address.
#[utoipa::path(
    post,
    path = "/api/v1/me/contact-requests/{id}/accept",
    tag = "contacts",
    params(("id" = Uuid, Path, description = "The request's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The request, accepted, with the other member's address.",
         body = store::ContactView),
        (status = 403, description = "The signed-in member is not active."),
        (status = 404, description = "No request to the signed-in member has this id, or the id is not a UUID."),
        (status = 409, description = "The request is already answered, or the asker is no longer active."),
    )
)]
async fn accept_api(
    ActiveMember(member): ActiveMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let mail = mail.get_ref().clone();
    let view = db::run(&pool, move |conn| {
        store::accept(conn, &mail, member.id, id)?;
        Ok::<_, AppError>(store::one(conn, member.id, id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view.ok_or_else(AppError::not_found)?))
}

/// Ignores a request received: nothing is sent, and the asker keeps seeing it pending.
#[utoipa::path(
    post,
    path = "/api/v1/me/contact-requests/{id}/ignore",
    tag = "contacts",
    params(("id" = Uuid, Path, description = "The request's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Ignored."),
        (status = 403, description = "The signed-in member is not active."),
        (status = 404, description = "No request to the signed-in member has this id, or the id is not a UUID."),
        (status = 409, description = "The request is already answered."),
    )
)]
async fn ignore_api(
    ActiveMember(member): ActiveMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run(&pool, move |conn| store::ignore(conn, member.id, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
