//! `/api/v1/events`: active members read published events and answer them;
//! admins write, publish and cancel them, and see who answered.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::{csv_download, Checks, ListPage, Pagination};
use crate::auth::extract::{ActiveMember, AdminMember};
use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::error::AppError;
use crate::events::model::{EventInput, RsvpInput, RsvpRow};
use crate::events::{ics, store};

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/events").get(list_api).post(create_api))
        .service(web::resource("/api/v1/events/{id}").get(get_api).patch(update_api))
        .service(web::resource("/api/v1/events/{id}/ics").get(ics_api))
        .service(web::resource("/api/v1/events/{id}/publish").post(publish_api))
        .service(web::resource("/api/v1/events/{id}/cancel").post(cancel_api))
        .service(web::resource("/api/v1/events/{id}/rsvp").put(rsvp_api))
        .service(web::resource("/api/v1/events/{id}/rsvps").get(rsvps_api))
        .service(web::resource("/api/v1/events/{id}/rsvps.csv").get(rsvps_csv_api))
        .service(web::resource("/calendar/{token}.ics").get(feed));
}

/// A member's personal feed: the events they go to. Calendars fetch it
/// without signing in, so the secret address is the key; a wrong or
/// revoked one answers 404, as for anything that does not exist.
async fn feed(
    token: web::Path<String>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    // A token is URL-safe base64 (or hex, for rows made by the migration):
    // anything else (a NUL byte, say) is no token, and never reaches the database.
    if token.is_empty()
        || token.len() > 100
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AppError::not_found());
    }
    let events = db::run(&pool, move |conn| {
        let member = crate::members::settings::member_for_calendar(conn, &token)?.ok_or_else(AppError::not_found)?;
        store::going_to(conn, member.id).map_err(AppError::from)
    })
    .await?;
    let name = format!("{}: my events", mail.association_name);
    Ok(ics_response(
        ics::calendar(&events, &mail, &name, "PUBLISH", Utc::now()),
        "karvan.ics",
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// A window of time: events that end after `.0` and begin before `.1`.
type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

impl EventsQuery {
    /// The window and the page; `from` defaults to now: what is upcoming
    /// (or under way).
    pub fn checked(&self) -> Result<(Window, i64, i64), AppError> {
        let mut checks = Checks::default();
        let mut time = |field: &str, value: &Option<String>| {
            let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
            let parsed = DateTime::parse_from_rfc3339(value)
                .map(|t| t.with_timezone(&Utc))
                .or_else(|_| {
                    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
                });
            if parsed.is_err() {
                checks.fail(
                    field,
                    "must be a date (2026-12-01) or a time with its offset (RFC 3339)",
                );
            }
            parsed.ok()
        };
        let from = time("from", &self.from).or(Some(Utc::now()));
        let to = time("to", &self.to);
        checks.finish()?;
        let (page, per_page) = Pagination {
            page: self.page,
            per_page: self.per_page,
        }
        .checked()?;
        Ok(((from, to), page, per_page))
    }
}

async fn list_api(
    ActiveMember(member): ActiveMember,
    query: web::Query<EventsQuery>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let ((from, to), page, per_page) = query.checked()?;
    let (items, total) = db::run(&pool, move |conn| {
        store::list(conn, &member, true, from, to, page, per_page)
    })
    .await?;
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
    let view = db::run(&pool, move |conn| store::view(conn, id, &member)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// An `.ics` response for a calendar to import.
pub fn ics_response(body: String, filename: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .body(body)
}

async fn ics_api(
    ActiveMember(member): ActiveMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let admin = member.is_admin();
    let event = db::run(&pool, move |conn| store::find(conn, id, admin)).await?;
    let body = ics::calendar(std::slice::from_ref(&event), &mail, &event.title, "PUBLISH", Utc::now());
    Ok(ics_response(body, "event.ics"))
}

async fn create_api(
    AdminMember(admin): AdminMember,
    body: web::Json<EventInput>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let values = body.into_inner().checked(None)?;
    let event = db::run(&pool, move |conn| {
        let event = store::create(conn, admin.id, &values)?;
        store::view(conn, event.id, &admin)
    })
    .await?;
    Ok(HttpResponse::Created().json(event))
}

async fn update_api(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    body: web::Json<EventInput>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let input = body.into_inner();
    let mail = mail.get_ref().clone();
    let event = db::run(&pool, move |conn| {
        store::update(conn, admin.id, id, |existing| input.checked(Some(existing)), &mail)?;
        store::view(conn, id, &admin)
    })
    .await?;
    Ok(HttpResponse::Ok().json(event))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishInput {
    #[serde(default)]
    pub notify: bool,
}

async fn publish_api(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    body: Option<web::Json<PublishInput>>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let notify = body.map(|b| b.notify).unwrap_or(false);
    let mail = mail.get_ref().clone();
    let event = db::run(&pool, move |conn| {
        store::publish(conn, admin.id, id, notify, &mail)?;
        store::view(conn, id, &admin)
    })
    .await?;
    Ok(HttpResponse::Ok().json(event))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    #[serde(default)]
    pub reason: Option<String>,
}

impl CancelInput {
    pub fn checked(&self) -> Result<String, AppError> {
        let mut checks = Checks::default();
        let reason = checks.multiline_text("reason", self.reason.as_deref().unwrap_or(""), 0, 2000);
        checks.finish()?;
        Ok(reason)
    }
}

async fn cancel_api(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    body: Option<web::Json<CancelInput>>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let reason = body.map(|b| b.checked()).transpose()?.unwrap_or_default();
    let mail = mail.get_ref().clone();
    let event = db::run(&pool, move |conn| {
        store::cancel(conn, admin.id, id, &reason, &mail)?;
        store::view(conn, id, &admin)
    })
    .await?;
    Ok(HttpResponse::Ok().json(event))
}

async fn rsvp_api(
    ActiveMember(member): ActiveMember,
    id: web::Path<Uuid>,
    body: web::Json<RsvpInput>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let going = body.going()?;
    let id = id.into_inner();
    let mail = mail.get_ref().clone();
    let status = db::run(&pool, move |conn| store::rsvp(conn, &member, id, going, &mail)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": status })))
}

async fn rsvps_api(
    AdminMember(_admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let items = db::run(&pool, move |conn| store::answers(conn, id)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

/// The list for the door: name, email, answer, in order.
pub fn answers_csv(rows: &[RsvpRow]) -> Result<Vec<u8>, AppError> {
    use crate::api::defused;
    let mut out = b"\xEF\xBB\xBF".to_vec();
    let mut writer = csv::Writer::from_writer(&mut out);
    writer
        .write_record(["full_name", "email", "status", "answered_at"])
        .map_err(AppError::internal)?;
    for row in rows {
        writer
            .write_record([
                defused(&row.full_name),
                defused(&row.email),
                row.status.clone(),
                row.updated_at.to_rfc3339(),
            ])
            .map_err(AppError::internal)?;
    }
    writer.flush().map_err(AppError::internal)?;
    drop(writer);
    Ok(out)
}

async fn rsvps_csv_api(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let rows = db::run(&pool, move |conn| store::export_answers(conn, admin.id, id)).await?;
    Ok(csv_download(answers_csv(&rows)?, "rsvps.csv"))
}
