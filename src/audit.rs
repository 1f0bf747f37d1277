//! The audit log: every admin action, written in the same transaction as the
//! action, so the log and the change are never apart.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use askama::Template;

use crate::api::{ListPage, Pagination};
use crate::auth::extract::AdminMember;
use crate::auth::session::Page;
use crate::db::schema::{audit_log, members};
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::pages::{local_time, render, Layout};

/// Records `action` by `actor` (`None`: the system or a CLI command) on a target.
pub fn record(
    conn: &mut PgConnection,
    actor: Option<Uuid>,
    action: &str,
    target: (&str, &str),
    details: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor_id.eq(actor),
            audit_log::action.eq(action),
            audit_log::target_type.eq(target.0),
            audit_log::target_id.eq(target.1),
            audit_log::details.eq(details),
        ))
        .execute(conn)?;
    Ok(())
}

/// One action in the log.
#[derive(Debug, Serialize, Queryable, utoipa::ToSchema)]
pub struct AuditEntry {
    #[serde(skip)]
    pub id: i64,
    /// The actor's email; `null` for the system (the scheduler, a CLI command) or a removed member.
    pub actor: Option<String>,
    /// What was done, e.g. `member.approve`.
    pub action: String,
    /// What it was done to, e.g. `member`.
    pub target_type: Option<String>,
    /// Which one: an id, or `*` for all.
    pub target_id: Option<String>,
    /// The action's particulars (an object).
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// Newest first, with the actor shown by email ("system" when none).
pub fn list(conn: &mut PgConnection, page: i64, per_page: i64) -> QueryResult<(Vec<AuditEntry>, i64)> {
    let items = audit_log::table
        .left_join(members::table)
        .select((
            audit_log::id,
            members::email.nullable(),
            audit_log::action,
            audit_log::target_type,
            audit_log::target_id,
            audit_log::details,
            audit_log::at,
        ))
        .order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .load(conn)?;
    let total = audit_log::table.count().get_result(conn)?;
    Ok((items, total))
}

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_api), components(schemas(AuditEntry)))]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/admin/audit-log").get(list_api))
        .service(web::resource("/admin/audit").get(audit_page));
}

struct EntryRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    details: String,
}

#[derive(Template)]
#[template(path = "pages/admin/audit.html")]
struct AuditPage {
    layout: Layout,
    entries: ListPage<EntryRow>,
}

/// `/admin/audit`: who did what, newest first.
async fn audit_page(
    page: Page,
    query: web::Query<Pagination>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    page.admin()?;
    let (number, per_page) = query.into_inner().checked()?;
    let (items, total) = db::run(&pool, move |conn| list(conn, number, per_page)).await?;
    let zone = page.time_zone();
    let entries = ListPage {
        items,
        page: number,
        per_page,
        total,
    }
    .map(|e| EntryRow {
        at: local_time(e.at, zone),
        actor: e.actor.unwrap_or_else(|| "system".into()),
        action: e.action,
        target: match (e.target_type, e.target_id) {
            (Some(kind), Some(id)) => format!("{kind} {id}"),
            (Some(kind), None) => kind,
            _ => String::new(),
        },
        details: match &e.details {
            serde_json::Value::Object(map) if map.is_empty() => String::new(),
            details => details.to_string(),
        },
    });
    render(&AuditPage {
        layout: page.layout("Audit log"),
        entries,
    })
}

/// The audit log: who did what, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit-log",
    tag = "audit",
    params(crate::api::Pagination),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the log, newest first.", body = ListPage<AuditEntry>),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 422, description = "`page` or `per_page` is invalid (named in `errors`)."),
    )
)]
async fn list_api(
    _admin: AdminMember,
    query: web::Query<Pagination>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let (page, per_page) = query.into_inner().checked()?;
    let (items, total) = db::run(&pool, move |conn| list(conn, page, per_page)).await?;
    Ok(HttpResponse::Ok().json(ListPage {
        items,
        page,
        per_page,
        total,
    }))
}
