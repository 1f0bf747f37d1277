//! `/admin/outbox`: the board reads the mail queue, any message as it was
//! sent (sign-in links hidden), and sends failed ones again.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::api::ListPage;
use crate::auth::csrf;
use crate::auth::session::Page;
use crate::db::{self, DbPool};
use crate::email::admin::{list_messages, read_message, redact_link_tokens, retry_message, OutboxFilter};
use crate::email::outbox::{self, OutboxMessage, QueueStats, STATUSES};
use crate::error::AppError;
use crate::pages::{local_time, redirect, render, Layout};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/outbox").get(outbox_page))
        .service(web::resource("/admin/outbox/{id}").get(message_page))
        .service(web::resource("/admin/outbox/{id}/html").get(message_html))
        .service(web::resource("/admin/outbox/{id}/retry").post(retry_submit));
}

struct MessageRow {
    id: Uuid,
    to: String,
    subject: String,
    kind: String,
    status: String,
    attempts: i32,
    last_error: String,
    queued: String,
    sent: String,
    has_html: bool,
}

impl MessageRow {
    fn new(m: &OutboxMessage, zone: chrono_tz::Tz) -> Self {
        Self {
            id: m.id,
            to: m.to_address.clone(),
            subject: m.subject.clone(),
            kind: m.kind.clone(),
            status: m.status.clone(),
            attempts: m.attempts,
            last_error: m.last_error.clone().unwrap_or_default(),
            queued: local_time(m.created_at, zone),
            sent: m.sent_at.map(|at| local_time(at, zone)).unwrap_or_default(),
            has_html: m.html_body.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/admin/outbox.html")]
struct OutboxPage {
    layout: Layout,
    stats: QueueStats,
    messages: ListPage<MessageRow>,
    status: String,
    statuses: &'static [&'static str],
}

async fn outbox_page(
    page: Page,
    filter: web::Query<OutboxFilter>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    page.admin()?;
    let filter = filter.into_inner();
    let status = filter.status.clone().unwrap_or_default();
    let messages = list_messages(&pool, filter).await?;
    let stats = db::run(&pool, outbox::stats).await?;
    let zone = page.time_zone();
    render(&OutboxPage {
        layout: page.layout("Mail"),
        stats,
        messages: messages.map(|m| MessageRow::new(&m, zone)),
        status,
        statuses: &STATUSES,
    })
}

#[derive(Template)]
#[template(path = "pages/admin/message.html")]
struct MessagePage {
    layout: Layout,
    csrf_token: String,
    message: MessageRow,
    text_body: String,
}

async fn message_page(page: Page, id: web::Path<Uuid>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let admin = page.admin()?;
    let message = read_message(&pool, admin, id.into_inner()).await?;
    render(&MessagePage {
        layout: page.layout(message.subject.clone()),
        csrf_token: page.csrf_token.clone(),
        text_body: redact_link_tokens(&message.text_body),
        message: MessageRow::new(&message, page.time_zone()),
    })
}

/// The HTML version as the member's mail client shows it. It is the mail's
/// own markup, so it is served on its own, sandboxed, with no script, no
/// outside fetch and no framing.
async fn message_html(page: Page, id: web::Path<Uuid>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let admin = page.admin()?;
    let message = read_message(&pool, admin, id.into_inner()).await?;
    let html = message.html_body.as_deref().ok_or_else(AppError::not_found)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
        ))
        .body(redact_link_tokens(html)))
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf_token: String,
}

async fn retry_submit(
    req: HttpRequest,
    page: Page,
    id: web::Path<Uuid>,
    form: web::Form<CsrfOnly>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?;
    let message = retry_message(&pool, admin, id.into_inner()).await?;
    Ok(redirect(&format!("/admin/outbox/{}", message.id)))
}
