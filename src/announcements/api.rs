//! `/api/v1/announcements`: active members read them; the board publishes
//! (or schedules) and deletes them.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::announcements::model::{AnnouncementInput, AnnouncementView};
use crate::announcements::store;
use crate::api::{ListPage, Pagination};
use crate::auth::extract::{ActiveMember, AdminMember};
use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::error::AppError;

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(OpenApi)]
#[openapi(
    paths(list_api, create_api, get_api, delete_api),
    components(schemas(AnnouncementView, AnnouncementInput))
)]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/announcements").get(list_api).post(create_api))
        .service(
            web::resource("/api/v1/announcements/{id}")
                .get(get_api)
                .delete(delete_api),
        );
}

/// Announcements, newest first; the board sees scheduled ones too.
#[utoipa::path(
    get,
    path = "/api/v1/announcements",
    tag = "announcements",
    params(crate::api::Pagination),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of announcements.", body = ListPage<AnnouncementView>),
        (status = 403, description = "The signed-in member is not active."),
        (status = 422, description = "A parameter is invalid (named in `errors`)."),
    )
)]
async fn list_api(
    ActiveMember(member): ActiveMember,
    query: web::Query<Pagination>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let (page, per_page) = query.into_inner().checked()?;
    let admin = member.is_admin();
    let (items, total) = db::run(&pool, move |conn| store::list(conn, admin, page, per_page)).await?;
    Ok(HttpResponse::Ok().json(ListPage {
        items,
        page,
        per_page,
        total,
    }))
}

/// One announcement (a scheduled one only for the board).
#[utoipa::path(
    get,
    path = "/api/v1/announcements/{id}",
    tag = "announcements",
    params(("id" = Uuid, Path, description = "The announcement's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The announcement.", body = AnnouncementView),
        (status = 403, description = "The signed-in member is not active."),
        (status = 404, description = "No such announcement (or not yet published, for a member who is not an admin)."),
    )
)]
async fn get_api(
    ActiveMember(member): ActiveMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let admin = member.is_admin();
    let view = db::run(&pool, move |conn| store::find(conn, id, admin)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Publishes or schedules an announcement (admins), and mails it if asked.
#[utoipa::path(
    post,
    path = "/api/v1/announcements",
    tag = "announcements",
    request_body = AnnouncementInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The announcement.", body = AnnouncementView),
        (status = 403, description = "The signed-in member is not an admin."),
        (status = 422, description = "A field is missing or invalid (named in `errors`), or the body has another shape."),
    )
)]
async fn create_api(
    AdminMember(admin): AdminMember,
    body: crate::api::Json<AnnouncementInput>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let values = body.into_inner().checked(Utc::now())?;
    let mail = mail.get_ref().clone();
    let view = db::run(&pool, move |conn| {
        let created = store::create(conn, admin.id, &values, &mail)?;
        store::find(conn, created.id, true)
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Deletes an announcement (admins; audited).
#[utoipa::path(
    delete,
    path = "/api/v1/announcements/{id}",
    tag = "announcements",
    params(("id" = Uuid, Path, description = "The announcement's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "The signed-in member is not an admin."),
        (status = 404, description = "No such announcement."),
    )
)]
async fn delete_api(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run(&pool, move |conn| store::delete(conn, admin.id, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
