//! `GET /api/v1/admin/digests` (the runs) and `POST /api/v1/admin/digests/run`
//! (a run now: answers 202 at once; the run goes on in the background and
//! its row shows when it is finished).

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::audit;
use crate::auth::extract::AdminMember;
use crate::config::DigestSchedule;
use crate::db::{self, DbPool};
use crate::digest::period::Period;
use crate::digest::run::{self, DueMembers};
use crate::digest::schedule::{self, Asked};
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
    /// absent or blank: this period, each member's own (the period of the
    /// schedule's last moment in their zone), as the schedule runs it.
    #[schema(schema_with = period_schema)]
    pub period: Option<String>,
    /// Count what would be sent, and send nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A period as `Period` reads it, blank or `null` (this period).
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
    /// The period asked for; when none was, this period in the association's
    /// time zone for weekly digests (members elsewhere, and monthly readers,
    /// get their own: see `periods`).
    pub period: String,
    /// Every period the run covers: the one asked for, or each member's own
    /// (the period of the schedule's last moment in their zone) that some
    /// member is still waiting for; empty when everyone has had theirs.
    pub periods: Vec<String>,
    pub dry_run: bool,
    /// Always `started`.
    #[schema(example = "started")]
    pub status: &'static str,
}

/// What a run is asked to cover.
#[derive(Debug, Clone, Copy)]
pub enum Which {
    /// One period, for every member of its rhythm.
    Period(Period),
    /// Each member's own: what the schedule runs (see `schedule::this_period`).
    ThisPeriod,
}

/// The period asked for, or (blank) this period.
pub fn which(asked: Option<&str>) -> Result<Which, AppError> {
    match asked.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(Which::ThisPeriod),
        Some(text) => text
            .parse()
            .map(Which::Period)
            .map_err(|message: String| AppError::invalid_field("period", message)),
    }
}

/// The period asked for, or this week where the association is: the one a
/// page names and previews.
pub fn period_of(asked: Option<&str>, mail: &MailContext, schedule: &DigestSchedule) -> Result<Period, AppError> {
    match which(asked)? {
        Which::Period(period) => Ok(period),
        Which::ThisPeriod => Ok(association_week(mail, schedule)),
    }
}

/// This period for weekly digests in the association's zone.
fn association_week(mail: &MailContext, schedule: &DigestSchedule) -> Period {
    let now = Utc::now();
    schedule::this_period(schedule.schedule.as_ref(), "weekly", mail.time_zone, now)
        .unwrap_or_else(|| Period::current(now, mail.time_zone).0)
}

/// Records the board's request in the audit log, then runs it in the
/// background: a large association's run takes a while, and its rows in
/// `digest_runs` show when it is done. Answers what the run covers.
pub async fn start_run(
    pool: DbPool,
    mail: MailContext,
    schedule: DigestSchedule,
    which: Which,
    asked: Asked,
) -> Result<RunStarted, AppError> {
    let named = match which {
        Which::Period(period) => period,
        Which::ThisPeriod => association_week(&mail, &schedule),
    };
    let now = Utc::now();
    let (context, cron) = (mail.clone(), schedule.schedule.clone());
    let groups = db::run(&pool, move |conn| {
        let groups = match which {
            Which::Period(period) => vec![DueMembers {
                period,
                zones: None,
                association_zone: context.time_zone.name().to_string(),
            }],
            Which::ThisPeriod => schedule::due_periods(conn, &context, cron.as_ref(), now)?,
        };
        let periods: Vec<String> = groups.iter().map(|group| group.period.to_string()).collect();
        audit::record(
            conn,
            asked.actor,
            "digest.run",
            ("digest", &named.to_string()),
            serde_json::json!({ "dry_run": asked.dry_run, "periods": periods }),
        )?;
        Ok::<_, AppError>(groups)
    })
    .await?;
    let started = RunStarted {
        period: named.to_string(),
        periods: groups.iter().map(|group| group.period.to_string()).collect(),
        dry_run: asked.dry_run,
        status: "started",
    };
    tokio::spawn(async move {
        let result = db::run(&pool, move |conn| {
            schedule::run_groups(conn, &mail, groups, Utc::now(), asked, &mut |_, _, _| {})
        })
        .await;
        match result {
            Ok(runs) => {
                for done in runs {
                    tracing::info!(period = %done.period, queued = done.queued, "digest run finished");
                }
            }
            Err(e) => tracing::error!(error = %e, "digest run failed"),
        }
    });
    Ok(started)
}

/// Starts a digest run now (audited); it goes on in the background, and its row shows when it is done.
#[utoipa::path(
    post,
    path = "/api/v1/admin/digests/run",
    tag = "digests",
    request_body(content = Option<RunRequest>,
                 description = "Optional: no body (or `null`) runs this period's digests for real. A body is \
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
    schedule: web::Data<DigestSchedule>,
) -> Result<HttpResponse, AppError> {
    // No body runs this period for real; a body must parse, so a mistyped
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
    let which = which(request.period.as_deref())?;
    let asked = Asked {
        trigger: "admin",
        actor: Some(admin.id),
        dry_run: request.dry_run,
    };
    let started = start_run(
        pool.get_ref().clone(),
        mail.get_ref().clone(),
        schedule.get_ref().clone(),
        which,
        asked,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(started))
}
