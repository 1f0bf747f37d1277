//! `GET /api/v1/admin/digests` (the runs) and `POST /api/v1/admin/digests/run`
//! (a run now: answers 202 at once; the run goes on in the background and
//! its row shows when it is finished).

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::audit;
use crate::auth::extract::AdminMember;
use crate::db::{self, DbPool};
use crate::digest::period::Period;
use crate::digest::run::{self, RunOptions};
use crate::email::MailContext;
use crate::error::AppError;

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(runs_api, run_api),
    components(schemas(DigestRuns, run::DigestRun, RunRequest, RunStarted))
)]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/admin/digests").get(runs_api))
        .service(web::resource("/api/v1/admin/digests/run").post(run_api));
}

/// `{"items": [...]}`: the most recent runs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DigestRuns {
    pub items: Vec<run::DigestRun>,
}

/// The 50 most recent digest runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/digests",
    tag = "digests",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The runs, newest first (at most 50).", body = DigestRuns),
        (status = 403, description = "The signed-in member is not an active admin."),
    )
)]
async fn runs_api(AdminMember(_admin): AdminMember, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let items = db::run(&pool, |conn| run::recent_runs(conn, 50)).await?;
    Ok(HttpResponse::Ok().json(DigestRuns { items }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// A week like `2026-W48` or a month like `2026-11` (years 2000 to 2200);
    /// absent or blank: this week in the association's time zone.
    #[schema(schema_with = period_schema)]
    pub period: Option<String>,
    /// Count what would be sent, and send nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A period as `Period` reads it, blank or `null` (this week).
fn period_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(crate::digest::period::Period::pattern()))
        .examples(["2026-W48"])
        .build()
}

/// `202`: the run asked for has started.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunStarted {
    /// The period, as `2026-W48` or `2026-11`.
    pub period: String,
    pub dry_run: bool,
    /// Always `started`.
    #[schema(example = "started")]
    pub status: &'static str,
}

/// The period asked for, or this week in the association's zone.
pub fn period_of(asked: Option<&str>, mail: &MailContext) -> Result<Period, AppError> {
    match asked.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(Period::current(Utc::now(), mail.time_zone).0),
        Some(text) => text
            .parse()
            .map_err(|message: String| AppError::invalid_field("period", message)),
    }
}

/// Records the board's request in the audit log, then runs it in the
/// background: a large association's run takes a while, and its row in
/// `digest_runs` shows when it is done.
pub async fn start_run(pool: DbPool, mail: MailContext, options: RunOptions) -> Result<(), AppError> {
    let period = options.period;
    let (actor, dry_run) = (options.actor, options.dry_run);
    db::run(&pool, move |conn| {
        audit::record(
            conn,
            actor,
            "digest.run",
            ("digest", &period.to_string()),
            serde_json::json!({ "dry_run": dry_run }),
        )
    })
    .await?;
    tokio::spawn(async move {
        let result = db::run(&pool, move |conn| {
            run::run(conn, &mail, options, Utc::now(), &mut |_, _| {})
        })
        .await;
        match result {
            Ok(done) => tracing::info!(period = %done.period, queued = done.queued, "digest run finished"),
            Err(e) => tracing::error!(error = %e, "digest run failed"),
        }
    });
    Ok(())
}

/// Starts a digest run now (audited); it goes on in the background, and its row shows when it is done.
#[utoipa::path(
    post,
    path = "/api/v1/admin/digests/run",
    tag = "digests",
    request_body(content = Option<RunRequest>,
                 description = "Optional: no body (or `null`) runs this week's digests for real. A body is \
                                read as JSON whatever its content type."),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The run has started.", body = RunStarted),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 422, description = "The body is not a run request (`body` in `errors`: not JSON, an unknown \
                                      field, a wrong type) or the period is invalid (`period`)."),
    )
)]
async fn run_api(
    AdminMember(admin): AdminMember,
    body: web::Bytes,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    // No body runs this week for real; a body must parse, so a mistyped
    // `dry_run` never turns into a real send.
    let not_a_run_request = |e: String| AppError::invalid_field("body", format!("is not a run request: {e}"));
    let request: RunRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RunRequest::default()
    } else {
        match serde_json::from_slice(&body).map_err(|e| not_a_run_request(e.to_string()))? {
            serde_json::Value::Null => RunRequest::default(),
            value => crate::api::object_from(value).map_err(not_a_run_request)?,
        }
    };
    let period = period_of(request.period.as_deref(), &mail)?;
    let options = RunOptions {
        period,
        dry_run: request.dry_run,
        trigger: "admin",
        actor: Some(admin.id),
        zone: None,
    };
    let dry_run = options.dry_run;
    start_run(pool.get_ref().clone(), mail.get_ref().clone(), options).await?;
    Ok(HttpResponse::Accepted().json(RunStarted {
        period: period.to_string(),
        dry_run,
        status: "started",
    }))
}
