//! `POST /api/v1/admin/members/import` (the CSV as the body, `?dry_run=true`
//! to only report) and `GET /api/v1/admin/members/export.csv`. Both audited.

use actix_web::{web, HttpResponse};
use diesel::Connection;
use serde::Deserialize;

use crate::api::csv_download;
use crate::audit;
use crate::auth::extract::AdminMember;
use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::error::AppError;
use crate::roster::{export, import};

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/admin/members/import")
            .app_data(web::PayloadConfig::new(import::MAX_BYTES + 1024))
            .post(import_api),
    )
    .service(web::resource("/api/v1/admin/members/export.csv").get(export_api));
}

#[derive(Debug, Deserialize)]
pub struct ImportQuery {
    dry_run: Option<bool>,
}

/// Runs an import for an admin (the page and the API).
pub async fn import_for(
    pool: &DbPool,
    mail: &MailContext,
    admin: uuid::Uuid,
    body: web::Bytes,
    dry_run: bool,
) -> Result<import::Report, AppError> {
    let parsed = import::parse(&body)?;
    let mail = mail.clone();
    db::run(pool, move |conn| {
        import::run(conn, &mail, parsed, dry_run, Some(admin), &mut |_| {})
    })
    .await
}

async fn import_api(
    AdminMember(admin): AdminMember,
    query: web::Query<ImportQuery>,
    body: web::Bytes,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let dry_run = query.dry_run.unwrap_or(false);
    let report = import_for(&pool, &mail, admin.id, body, dry_run).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The register for an admin; the export itself is audited.
pub async fn export_for(pool: &DbPool, admin: uuid::Uuid) -> Result<Vec<u8>, AppError> {
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let bytes = export::csv(conn)?;
            audit::record(
                conn,
                Some(admin),
                "members.export",
                ("members", "*"),
                serde_json::json!({}),
            )?;
            Ok::<_, AppError>(bytes)
        })
    })
    .await
}

async fn export_api(AdminMember(admin): AdminMember, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    Ok(csv_download(export_for(&pool, admin.id).await?, "members.csv"))
}
