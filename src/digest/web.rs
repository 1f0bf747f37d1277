//! `/admin/digests`: the runs and their counts, a run now, and a preview of
//! the digest a chosen member would receive.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use crate::audit;
use crate::auth::csrf;
use crate::auth::session::Page;
use crate::config::DigestSchedule;
use crate::db::schema::members;
use crate::db::{self, DbPool};
use crate::digest::api::{period_of, which};
use crate::digest::run::{self, DigestRun};
use crate::digest::schedule::Asked;
use crate::email::MailContext;
use crate::error::AppError;
use crate::pages::{local_time, redirect, render, Layout};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/digests").get(digests_page))
        .service(web::resource("/admin/digests/run").post(run_submit));
}

#[derive(Deserialize)]
struct PreviewQuery {
    email: Option<String>,
    period: Option<String>,
    started: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/admin/digests.html")]
struct DigestsPage {
    layout: Layout,
    runs: Vec<(DigestRun, String)>,
    /// This period for weekly digests where the association is.
    this_week: String,
    email: String,
    period: String,
    /// `Some(None)`: that member has nothing new.
    preview: Option<Option<String>>,
    note: Option<String>,
}

async fn digests_page(
    page: Page,
    query: web::Query<PreviewQuery>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    schedule: web::Data<DigestSchedule>,
) -> Result<HttpResponse, AppError> {
    let admin = page.admin()?.id;
    let this_week = period_of(None, &mail, &schedule)?;
    let email = query.email.clone().unwrap_or_default().trim().to_string();
    let period = period_of(query.period.as_deref(), &mail, &schedule)?;
    let zone = page.time_zone();
    let context = mail.get_ref().clone();
    let asked = email.clone();
    let (runs, preview) = db::run(&pool, move |conn| {
        let runs = run::recent_runs(conn, 30)?;
        let preview = if asked.is_empty() {
            None
        } else {
            use diesel::prelude::*;
            let member: Option<uuid::Uuid> = members::table
                .filter(members::email.eq(&asked))
                .select(members::id)
                .first(conn)
                .optional()?;
            let member = member.ok_or_else(|| AppError::invalid_field("email", "no member has this address"))?;
            // Reading what a member would be sent is a look at their record.
            audit::record(
                conn,
                Some(admin),
                "digest.preview",
                ("member", &member.to_string()),
                serde_json::json!({"period": period.to_string()}),
            )?;
            Some(run::preview(conn, &context, member, period, Utc::now())?)
        };
        Ok::<_, AppError>((runs, preview))
    })
    .await?;
    render(&DigestsPage {
        layout: page.layout("Digests"),
        runs: runs
            .into_iter()
            .map(|r| {
                let started = local_time(r.started_at, zone);
                (r, started)
            })
            .collect(),
        this_week: this_week.to_string(),
        email,
        period: period.to_string(),
        preview,
        note: query.started.as_ref().map(|p| match p.as_str() {
            "" => "Everyone has had this period's digest: nothing was run.".to_string(),
            periods => format!("The run for {periods} has started; reload to see its counts."),
        }),
    })
}

#[derive(Deserialize)]
struct RunForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    period: String,
    dry_run: Option<String>,
}

async fn run_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<RunForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    schedule: web::Data<DigestSchedule>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?.id;
    let asked = Asked {
        trigger: "admin",
        actor: Some(admin),
        dry_run: form.dry_run.is_some(),
    };
    let started = crate::digest::api::start_run(
        pool.get_ref().clone(),
        mail.get_ref().clone(),
        schedule.get_ref().clone(),
        which(Some(&form.period))?,
        asked,
    )
    .await?;
    // Periods are digits, `-` and `W`; the list's separators are encoded.
    const LIST: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-');
    let periods = started.periods.join(", ");
    Ok(redirect(&format!(
        "/admin/digests?started={}",
        percent_encoding::utf8_percent_encode(&periods, LIST)
    )))
}
