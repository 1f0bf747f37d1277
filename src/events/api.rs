//! `/api/v1/events`: active members read published events and answer them;
//! admins write, publish and cancel them, and see who answered.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::api::{csv_download, Checks, ListPage, OptionalJson, Pagination};
use crate::auth::extract::{ActiveMember, AdminMember};
use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::error::AppError;
use crate::events::model::{EventInput, EventStatus, EventView, RsvpChoice, RsvpInput, RsvpRow, RsvpStatus};
use crate::events::{ics, store};

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(OpenApi)]
#[openapi(
    paths(
        list_api,
        create_api,
        get_api,
        update_api,
        ics_api,
        publish_api,
        cancel_api,
        rsvp_api,
        rsvps_api,
        rsvps_csv_api
    ),
    components(schemas(
        EventView,
        EventStatus,
        EventInput,
        PublishInput,
        CancelInput,
        RsvpInput,
        RsvpChoice,
        RsvpStatus,
        RsvpAnswer,
        RsvpRow,
        RsvpList
    ))
)]
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

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events that end after this: a date (`2026-12-01`, midnight UTC) or an RFC 3339 time; now by default.
    #[param(schema_with = crate::openapi::date_or_time_or_blank)]
    pub from: Option<String>,
    /// Events that begin before this: a date or an RFC 3339 time.
    #[param(schema_with = crate::openapi::date_or_time_or_blank)]
    pub to: Option<String>,
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100, default = 20)]
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
            // Blank is none; anything else is exactly a date or a time.
            let value = value.as_deref().filter(|v| !v.trim().is_empty())?;
            let parsed = crate::api::rfc3339(value)
                .or_else(|| crate::api::iso_date(value).map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()));
            if parsed.is_none() {
                checks.fail(
                    field,
                    "must be a date (2026-12-01) or a time with its offset (RFC 3339)",
                );
            }
            parsed
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

/// Upcoming (or under way) events, soonest first; admins see drafts too.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(EventsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of events.", body = ListPage<EventView>),
        (status = 403, description = "The signed-in member is not active."),
        (status = 422, description = "A parameter is invalid (named in `errors`)."),
    )
)]
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

/// One event (a draft only for admins).
#[utoipa::path(
    get,
    path = "/api/v1/events/{id}",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event, with the seats taken and the viewer's answer.", body = EventView),
        (status = 403, description = "The signed-in member is not active."),
        (status = 404, description = "No such event (or a draft, for a member who is not an admin)."),
    )
)]
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

/// One event as an iCalendar file to import.
#[utoipa::path(
    get,
    path = "/api/v1/events/{id}/ics",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event (RFC 5545), as an attachment.", content_type = "text/calendar",
         body = String),
        (status = 403, description = "The signed-in member is not active."),
        (status = 404, description = "No such event (or a draft, for a member who is not an admin)."),
    )
)]
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

/// Drafts an event (admins).
#[utoipa::path(
    post,
    path = "/api/v1/events",
    tag = "events",
    request_body = EventInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The draft.", body = EventView),
        (status = 403, description = "The signed-in member is not an admin."),
        (status = 422, description = "A field is missing or invalid (named in `errors`), or the body has another shape."),
    )
)]
async fn create_api(
    AdminMember(admin): AdminMember,
    body: crate::api::Json<EventInput>,
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

/// Changes an event (admins): fields not sent stay as they are.
///
/// Once it is published, those going are mailed if the time or the place moved, and a larger
/// capacity seats the waitlist.
#[utoipa::path(
    patch,
    path = "/api/v1/events/{id}",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event's id")),
    request_body = EventInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event as it now is.", body = EventView),
        (status = 403, description = "The signed-in member is not an admin."),
        (status = 404, description = "No such event."),
        (status = 409, description = "The event is cancelled."),
        (status = 422, description = "A field is invalid (named in `errors`), or the body has another shape."),
    )
)]
async fn update_api(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    body: crate::api::Json<EventInput>,
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

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishInput {
    /// Mail every active member who takes event mail, with the `.ics` attached.
    #[serde(default)]
    pub notify: bool,
}

/// Publishes a draft (admins); publishing again changes nothing and mails no one twice.
#[utoipa::path(
    post,
    path = "/api/v1/events/{id}/publish",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event's id")),
    request_body(content = Option<PublishInput>, description = "Optional: no body at all, or `null`, counts as `{}`; a body that is sent must be this JSON."),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The published event.", body = EventView),
        (status = 403, description = "The signed-in member is not an admin."),
        (status = 404, description = "No such event."),
        (status = 409, description = "The event is cancelled."),
    )
)]
async fn publish_api(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    OptionalJson(body): OptionalJson<PublishInput>,
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

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    /// Told to those who answered; several lines allowed.
    #[serde(default)]
    #[schema(max_length = 2000, content_media_type = "text/plain")]
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

/// Cancels an event (admins); cancelling again changes nothing.
///
/// Those going or waitlisted are mailed, with a calendar update that removes it.
#[utoipa::path(
    post,
    path = "/api/v1/events/{id}/cancel",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event's id")),
    request_body(content = Option<CancelInput>, description = "Optional: no body at all, or `null`, counts as `{}`; a body that is sent must be this JSON."),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cancelled event.", body = EventView),
        (status = 403, description = "The signed-in member is not an admin."),
        (status = 404, description = "No such event."),
        (status = 422, description = "The reason is too long or holds control characters."),
    )
)]
async fn cancel_api(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    OptionalJson(body): OptionalJson<CancelInput>,
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

/// The answer of `PUT /api/v1/events/{id}/rsvp`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RsvpAnswer {
    /// `waitlisted` when asking for a seat while none is free.
    #[schema(value_type = RsvpStatus)]
    pub status: String,
}

/// Answers an event: a seat while any is free, else the end of the waitlist.
///
/// Answering the same again changes nothing; giving up a seat offers it to the waitlist.
#[utoipa::path(
    put,
    path = "/api/v1/events/{id}/rsvp",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event's id")),
    request_body = RsvpInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The member's answer as it now stands.", body = RsvpAnswer),
        (status = 403, description = "The signed-in member is not active."),
        (status = 404, description = "No such event (or a draft)."),
        (status = 409, description = "The event is cancelled or has begun."),
        (status = 422, description = "The status is not `going` or `not_going`, or the body has another shape."),
    )
)]
async fn rsvp_api(
    ActiveMember(member): ActiveMember,
    id: web::Path<Uuid>,
    body: crate::api::Json<RsvpInput>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let going = body.going()?;
    let id = id.into_inner();
    let mail = mail.get_ref().clone();
    let status = db::run(&pool, move |conn| store::rsvp(conn, &member, id, going, &mail)).await?;
    Ok(HttpResponse::Ok().json(RsvpAnswer { status }))
}

/// The answers of `GET /api/v1/events/{id}/rsvps`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RsvpList {
    /// Going first, then the waitlist in order, then those not going.
    pub items: Vec<RsvpRow>,
}

/// Who answered an event (admins).
#[utoipa::path(
    get,
    path = "/api/v1/events/{id}/rsvps",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every answer.", body = RsvpList),
        (status = 403, description = "The signed-in member is not an admin."),
        (status = 404, description = "No such event."),
    )
)]
async fn rsvps_api(
    AdminMember(_admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let items = db::run(&pool, move |conn| store::answers(conn, id)).await?;
    Ok(HttpResponse::Ok().json(RsvpList { items }))
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

/// The list for the door as CSV (admins; audited, as it holds members' addresses).
#[utoipa::path(
    get,
    path = "/api/v1/events/{id}/rsvps.csv",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`full_name,email,status,answered_at`, going first, as an attachment.",
         content_type = "text/csv", body = String),
        (status = 403, description = "The signed-in member is not an admin."),
        (status = 404, description = "No such event."),
    )
)]
async fn rsvps_csv_api(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let rows = db::run(&pool, move |conn| store::export_answers(conn, admin.id, id)).await?;
    Ok(csv_download(answers_csv(&rows)?, "rsvps.csv"))
}
