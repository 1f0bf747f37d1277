//! `/api/v1/admin/outbox`: the board watches the mail queue, reads any
//! message as it was sent, and sends failed ones again.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::{ListPage, Pagination};
use crate::audit;
use crate::auth::extract::AdminMember;
use crate::db::{self, DbPool};
use crate::email::outbox::{self, OutboxMessage, STATUSES};
use crate::error::AppError;
use crate::members::model::Member;

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_api, get_api, retry_api),
    components(schemas(OutboxItem, OutboxMessageView))
)]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/admin/outbox").get(list_api))
        .service(web::resource("/api/v1/admin/outbox/{id}").get(get_api))
        .service(web::resource("/api/v1/admin/outbox/{id}/retry").post(retry_api));
}

/// A message in the queue, without its bodies.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutboxItem {
    pub id: Uuid,
    /// The recipient, as `Name <address>` or a bare address.
    pub to: String,
    pub subject: String,
    /// What mail it is, e.g. `welcome` or `digest`.
    pub kind: String,
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: String,
    /// Tries so far.
    pub attempts: i32,
    /// Why the last try failed.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<&OutboxMessage> for OutboxItem {
    fn from(m: &OutboxMessage) -> Self {
        Self {
            id: m.id,
            to: m.to_address.clone(),
            subject: m.subject.clone(),
            kind: m.kind.clone(),
            status: m.status.clone(),
            attempts: m.attempts,
            last_error: m.last_error.clone(),
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

/// The schema of the outbox's `status` filter (`STATUSES`, or empty for any).
fn status_filter_schema() -> utoipa::openapi::Object {
    crate::openapi::one_of(std::iter::once("").chain(STATUSES))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxFilter {
    /// `pending`, `sending`, `sent` or `failed`; empty for any.
    #[param(schema_with = status_filter_schema)]
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<i64>,
}

/// A page of the queue, newest first, optionally of one status.
pub async fn list_messages(pool: &DbPool, filter: OutboxFilter) -> Result<ListPage<OutboxMessage>, AppError> {
    let status = filter.status.filter(|s| !s.is_empty());
    if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(AppError::invalid_field(
            "status",
            format!("must be one of {}", STATUSES.join(", ")),
        ));
    }
    let (page, per_page) = Pagination {
        page: filter.page,
        per_page: filter.per_page,
    }
    .checked()?;
    let (items, total) = db::run(pool, move |conn| outbox::list(conn, status.as_deref(), page, per_page)).await?;
    Ok(ListPage {
        items,
        page,
        per_page,
        total,
    })
}

/// The mail queue, newest first, optionally of one status.
#[utoipa::path(
    get,
    path = "/api/v1/admin/outbox",
    tag = "outbox",
    params(OutboxFilter),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of messages, without their bodies.", body = ListPage<OutboxItem>),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 422, description = "A parameter is invalid (named in `errors`)."),
    )
)]
async fn list_api(
    _admin: AdminMember,
    query: web::Query<OutboxFilter>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let found = list_messages(&pool, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(found.map(|m| OutboxItem::from(&m))))
}

/// One message, as it was sent; reading it is audited (it may hold
/// private data).
pub async fn read_message(pool: &DbPool, admin: &Member, id: Uuid) -> Result<OutboxMessage, AppError> {
    let admin_id = admin.id;
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let message = outbox::get(conn, id)?;
            audit::record(
                conn,
                Some(admin_id),
                "outbox.read",
                ("email", &id.to_string()),
                serde_json::json!({}),
            )?;
            diesel::QueryResult::Ok(message)
        })
    })
    .await
}

/// A whole message as sent, bodies included (audited); sign-in link tokens are hidden.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutboxMessageView {
    #[serde(flatten)]
    pub item: OutboxItem,
    /// The plain-text body, with each link's `token=` value shown as `[hidden]`.
    pub text_body: String,
    /// The HTML body (hidden tokens likewise), if the message has one.
    pub html_body: Option<String>,
    /// Extra headers, each as `[name, value]`.
    #[schema(value_type = Vec<Vec<String>>)]
    pub headers: serde_json::Value,
}

/// One message as it was sent, bodies included (how an admin reads mail that went to files).
#[utoipa::path(
    get,
    path = "/api/v1/admin/outbox/{id}",
    tag = "outbox",
    params(("id" = Uuid, Path, description = "The message's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The message, with single-use link tokens hidden.", body = OutboxMessageView),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 404, description = "No message has this id, or the id is not a UUID."),
    )
)]
async fn get_api(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let message = read_message(&pool, &admin, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(OutboxMessageView {
        item: OutboxItem::from(&message),
        text_body: redact_link_tokens(&message.text_body),
        html_body: message.html_body.as_deref().map(redact_link_tokens),
        headers: message.headers,
    }))
}

/// Single-use sign-in links (verification, password reset) are shown
/// without their token: an admin reads the message, but cannot use the link
/// to take over the member's account.
pub fn redact_link_tokens(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("token=") {
        out.push_str(&rest[..at + "token=".len()]);
        rest = &rest[at + "token=".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 {
            out.push_str("[hidden]");
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Sends a failed message again (audited); 409 for one that did not fail.
pub async fn retry_message(pool: &DbPool, admin: &Member, id: Uuid) -> Result<OutboxMessage, AppError> {
    let admin_id = admin.id;
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let existing = outbox::get(conn, id)?;
            if !outbox::retry(conn, id)? {
                return Err(AppError::conflict(format!(
                    "This message is {}; only a failed message can be retried.",
                    existing.status
                )));
            }
            audit::record(
                conn,
                Some(admin_id),
                "outbox.retry",
                ("email", &id.to_string()),
                serde_json::json!({}),
            )?;
            Ok(outbox::get(conn, id)?)
        })
    })
    .await
}

/// Sends a failed message again, with a fresh set of tries (audited).
#[utoipa::path(
    post,
    path = "/api/v1/admin/outbox/{id}/retry",
    tag = "outbox",
    params(("id" = Uuid, Path, description = "The message's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The message, pending again.", body = OutboxItem),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 404, description = "No message has this id, or the id is not a UUID."),
        (status = 409, description = "The message has not failed."),
    )
)]
async fn retry_api(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let message = retry_message(&pool, &admin, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(OutboxItem::from(&message)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn link_tokens_are_hidden_and_the_rest_kept() {
        let body = "Open https://a.org/verify-email?token=Ab-c_9 now.\n<a href=\"/reset-password?token=XyZ\">x</a>";
        assert_eq!(
            super::redact_link_tokens(body),
            "Open https://a.org/verify-email?token=[hidden] now.\n<a href=\"/reset-password?token=[hidden]\">x</a>"
        );
    }
}
