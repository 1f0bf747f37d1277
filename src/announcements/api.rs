//! `/api/v1/announcements`: active members read them; the board publishes
//! (or schedules) and deletes them.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use uuid::Uuid;

use crate::announcements::model::AnnouncementInput;
use crate::announcements::store;
use crate::api::{ListPage, Pagination};
use crate::auth::extract::{ActiveMember, AdminMember};
use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::error::AppError;

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/announcements").get(list_api).post(create_api))
        .service(
            web::resource("/api/v1/announcements/{id}")
                .get(get_api)
                .delete(delete_api),
        );
}

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

async fn create_api(
    AdminMember(admin): AdminMember,
    body: web::Json<AnnouncementInput>,
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

async fn delete_api(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    db::run(&pool, move |conn| store::delete(conn, admin.id, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
