//! `/admin/roster`: the board uploads the association's existing roster (a
//! CSV file; "try it first" reports without writing) and downloads the
//! register.

use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::StreamExt;

use crate::api::csv_download;
use crate::auth::csrf;
use crate::auth::session::Page;
use crate::db::DbPool;
use crate::email::MailContext;
use crate::error::AppError;
use crate::pages::{render, Layout};
use crate::roster::api::{export_for, import_for};
use crate::roster::import::{self, Report};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/roster").get(roster_page))
        .service(web::resource("/admin/roster/import").post(import_submit))
        .service(web::resource("/admin/roster/export.csv").get(export_download));
}

#[derive(Template)]
#[template(path = "pages/admin/roster.html")]
struct RosterPage {
    layout: Layout,
    columns: &'static [&'static str],
    report: Option<Report>,
}

async fn roster_page(page: Page) -> Result<HttpResponse, AppError> {
    page.admin()?;
    render(&RosterPage {
        layout: page.layout("Roster"),
        columns: &import::COLUMNS,
        report: None,
    })
}

/// The form's parts: the CSRF token, the "try it first" box, the file.
async fn read_form(mut form: Multipart) -> Result<(String, bool, web::Bytes), AppError> {
    let (mut csrf_token, mut dry_run, mut file) = (String::new(), false, web::BytesMut::new());
    let mut total = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| AppError::bad_request(format!("The upload could not be read: {e}")))?;
        let name = field.name().unwrap_or_default().to_string();
        let mut value = web::BytesMut::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| AppError::bad_request(format!("The upload could not be read: {e}")))?;
            total += chunk.len();
            if total > import::MAX_BYTES {
                return Err(AppError::invalid_field("file", "is larger than 50 MB"));
            }
            value.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "csrf_token" => csrf_token = String::from_utf8_lossy(&value).to_string(),
            "dry_run" => dry_run = true,
            "file" => file = value,
            _ => {}
        }
    }
    Ok((csrf_token, dry_run, file.freeze()))
}

async fn import_submit(
    req: HttpRequest,
    page: Page,
    form: Multipart,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    // Only an admin's upload is read at all.
    let admin = page.admin()?.id;
    let (csrf_token, dry_run, file) = read_form(form).await?;
    csrf::check(&req, &csrf_token)?;
    if file.is_empty() {
        return Err(AppError::invalid_field(
            "file",
            "is missing: choose the roster's CSV file",
        ));
    }
    let report = import_for(&pool, &mail, admin, file, dry_run).await?;
    render(&RosterPage {
        layout: page.layout(if dry_run {
            "Roster: a trial run"
        } else {
            "Roster imported"
        }),
        columns: &import::COLUMNS,
        report: Some(report),
    })
}

async fn export_download(page: Page, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let admin = page.admin()?.id;
    Ok(csv_download(export_for(&pool, admin).await?, "members.csv"))
}
