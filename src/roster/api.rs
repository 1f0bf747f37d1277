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
#[openapi(
    paths(import_api, export_api),
    components(schemas(import::Report, import::Line, import::Skipped))
)]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/admin/members/import")
            .app_data(web::PayloadConfig::new(import::MAX_BYTES + 1024))
            .post(import_api),
    )
    .service(web::resource("/api/v1/admin/members/export.csv").get(export_api));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Only report what the import would do; nothing is saved.
    #[param(default = false)]
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

/// Imports the roster from a CSV file: new members are invited, known ones updated (audited).
#[utoipa::path(
    post,
    path = "/api/v1/admin/members/import",
    tag = "roster",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
                 description = "The CSV file as the body (UTF-8, a byte-order mark allowed), at most 50 MiB. \
                                The first line names the columns: `email` and `full_name` are required; \
                                `graduation_year`, `university`, `country`, `city` and `profession` are read. \
                                Any content type is taken."),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was (or, in a dry run, would be) created, matched and skipped; \
                                      a bad row is skipped with its reasons, never the whole file.",
         body = import::Report),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 413, description = "The body is much larger than 50 MiB."),
        (status = 422, description = "The file as a whole is refused (`file` in `errors`): larger than 50 MiB, \
                                      UTF-16, not CSV, or without an `email` or `full_name` column; \
                                      or `dry_run` is not a boolean."),
    )
)]
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

/// The whole register as a CSV file (audited).
#[utoipa::path(
    get,
    path = "/api/v1/admin/members/export.csv",
    tag = "roster",
    security(("bearer" = [])),
    responses(
        (status = 200, content_type = "text/csv", body = String,
         description = "The register, one member a line, as an attachment `members.csv`; \
                        the import reads it back."),
        (status = 403, description = "The signed-in member is not an active admin."),
    )
)]
async fn export_api(AdminMember(admin): AdminMember, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    Ok(csv_download(export_for(&pool, admin.id).await?, "members.csv"))
}
