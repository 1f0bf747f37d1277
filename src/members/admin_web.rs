//! The board's pages: `/admin` (applications waiting for a decision),
//! `/admin/members` (everyone, searchable) and one member's record with the
//! decisions that apply to them. Each decision is a form with the CSRF
//! token, handled by the same code as the API, so it is audited and mailed
//! the same way.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::api::ListPage;
use crate::auth::csrf;
use crate::auth::session::{local_path, Page};
use crate::db::{self, DbPool};
use crate::email::{outbox, MailContext};
use crate::error::AppError;
use crate::members::admin::{
    decide, find_members, set_directory_defaults, set_role, view_member, MemberFilter, APPROVE, REINSTATE, REJECT,
    ROLES, STATUSES, SUSPEND,
};
use crate::members::model::{Member, PENDING_APPROVAL};
use crate::members::privacy::{load_defaults, VisibilityPatch, VisibilitySettings, PROTECTED_FIELDS};
use crate::pages::{local_time, redirect, render, Layout};
use crate::programs::model::ExchangeRecord;
use crate::programs::store::records_of;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin").get(approvals_page))
        .service(web::resource("/admin/members").get(members_page))
        .service(web::resource("/admin/members/{id}").get(member_page))
        .service(web::resource("/admin/members/{id}/{action}").post(decision_submit))
        .service(web::resource("/admin/privacy").get(privacy_page).post(privacy_submit));
}

/// A member as the board's pages show them, times in the admin's zone.
struct MemberRow {
    id: Uuid,
    full_name: String,
    email: String,
    status: String,
    role: String,
    graduation_year: String,
    university: String,
    country: String,
    signed_up: String,
    verified: String,
    approved: String,
    can_approve: bool,
    can_reject: bool,
    can_suspend: bool,
    can_reinstate: bool,
}

impl MemberRow {
    fn new(m: Member, zone: chrono_tz::Tz) -> Self {
        let time = |at: Option<chrono::DateTime<chrono::Utc>>| at.map(|at| local_time(at, zone)).unwrap_or_default();
        Self {
            can_approve: APPROVE.applies_to(&m.status),
            can_reject: REJECT.applies_to(&m.status),
            can_suspend: SUSPEND.applies_to(&m.status),
            can_reinstate: REINSTATE.applies_to(&m.status),
            id: m.id,
            full_name: m.full_name,
            email: m.email,
            status: m.status,
            role: m.role,
            graduation_year: m.graduation_year.map(|y| y.to_string()).unwrap_or_default(),
            university: m.university.unwrap_or_default(),
            country: m.country.unwrap_or_default(),
            signed_up: local_time(m.created_at, zone),
            verified: time(m.email_verified_at),
            approved: time(m.approved_at),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/admin/approvals.html")]
struct ApprovalsPage {
    layout: Layout,
    csrf_token: String,
    applicants: ListPage<MemberRow>,
    failed_mail: i64,
}

async fn approvals_page(page: Page, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let admin = page.admin()?;
    let filter = MemberFilter {
        status: Some(PENDING_APPROVAL.into()),
        per_page: Some(100),
        ..MemberFilter::default()
    };
    let (applicants, _) = find_members(&pool, admin, filter).await?;
    let failed_mail = db::run(&pool, outbox::unsent_stats).await?.failed;
    let zone = page.time_zone();
    render(&ApprovalsPage {
        layout: page.layout("Applications"),
        csrf_token: page.csrf_token.clone(),
        applicants: applicants.map(|m| MemberRow::new(m, zone)),
        failed_mail,
    })
}

#[derive(Template)]
#[template(path = "pages/admin/members.html")]
struct MembersPage {
    layout: Layout,
    members: ListPage<MemberRow>,
    status: String,
    q: String,
    statuses: &'static [&'static str],
    /// The query of the next and previous pages, without `page`.
    query: String,
}

async fn members_page(
    page: Page,
    filter: web::Query<MemberFilter>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let admin = page.admin()?;
    let (found, filter) = find_members(&pool, admin, filter.into_inner()).await?;
    let zone = page.time_zone();
    let status = filter.status.unwrap_or_default();
    let q = filter.q.unwrap_or_default();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("status", &status)
        .append_pair("role", filter.role.as_deref().unwrap_or_default())
        .append_pair("q", &q)
        .append_pair("per_page", &filter.per_page.to_string())
        .finish();
    render(&MembersPage {
        layout: page.layout("Members"),
        members: found.map(|m| MemberRow::new(m, zone)),
        status,
        q,
        statuses: &STATUSES,
        query,
    })
}

#[derive(Template)]
#[template(path = "pages/admin/member.html")]
struct MemberPage {
    layout: Layout,
    csrf_token: String,
    member: MemberRow,
    roles: &'static [&'static str],
    is_self: bool,
    records: Vec<ExchangeRecord>,
}

async fn member_page(page: Page, id: web::Path<Uuid>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let admin = page.admin()?;
    let member = view_member(&pool, admin, id.into_inner()).await?;
    let is_self = member.id == admin.id;
    let member_id = member.id;
    let records = db::run(&pool, move |conn| records_of(conn, &[member_id])).await?;
    render(&MemberPage {
        records,
        layout: page.layout(member.full_name.clone()),
        csrf_token: page.csrf_token.clone(),
        member: MemberRow::new(member, page.time_zone()),
        roles: &ROLES,
        is_self,
    })
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    csrf_token: String,
    reason: Option<String>,
    role: Option<String>,
    /// The page to go back to: the list of applications, or the record.
    return_to: Option<String>,
}

async fn decision_submit(
    req: HttpRequest,
    page: Page,
    path: web::Path<(Uuid, String)>,
    form: web::Form<DecisionForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?;
    let (id, action) = path.into_inner();
    let form = form.into_inner();
    let decision = match action.as_str() {
        "approve" => &APPROVE,
        "reject" => &REJECT,
        "suspend" => &SUSPEND,
        "reinstate" => &REINSTATE,
        "role" => {
            set_role(admin, id, form.role.unwrap_or_default(), &pool).await?;
            return Ok(redirect(&format!("/admin/members/{id}")));
        }
        _ => return Err(AppError::not_found()),
    };
    let reason = form.reason.as_deref().map(crate::pages::typed_lines);
    decide(admin, id, decision, reason.as_deref(), &pool, &mail).await?;
    let back = local_path(form.return_to.as_deref()).unwrap_or_else(|| format!("/admin/members/{id}"));
    Ok(redirect(&back))
}

#[derive(Template)]
#[template(path = "pages/admin/privacy.html")]
struct PrivacyPage {
    layout: Layout,
    defaults: VisibilitySettings,
    fields: &'static [&'static str],
    saved: bool,
}

impl PrivacyPage {
    fn chose(&self, field: &str, visibility: &str) -> bool {
        self.defaults
            .pairs()
            .iter()
            .any(|(f, v)| *f == field && *v == visibility)
    }
}

#[derive(Deserialize)]
struct SavedFlash {
    saved: Option<String>,
}

/// `/admin/privacy`: who sees each field of members who made no choice.
async fn privacy_page(
    page: Page,
    flash: web::Query<SavedFlash>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    page.admin()?;
    let defaults = load_defaults(&pool).await?;
    render(&PrivacyPage {
        layout: page.layout("Privacy defaults"),
        defaults: VisibilitySettings::of_defaults(&defaults),
        fields: &PROTECTED_FIELDS,
        saved: flash.saved.is_some(),
    })
}

#[derive(Deserialize)]
struct PrivacyForm {
    #[serde(default)]
    csrf_token: String,
    visibility_email: Option<String>,
    visibility_city: Option<String>,
    visibility_profession: Option<String>,
    visibility_bio: Option<String>,
    visibility_links: Option<String>,
    visibility_exchanges: Option<String>,
}

async fn privacy_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<PrivacyForm>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?;
    let form = form.into_inner();
    let patch = VisibilityPatch {
        email: form.visibility_email.map(Some),
        city: form.visibility_city.map(Some),
        profession: form.visibility_profession.map(Some),
        bio: form.visibility_bio.map(Some),
        links: form.visibility_links.map(Some),
        exchanges: form.visibility_exchanges.map(Some),
    };
    set_directory_defaults(&pool, admin, patch).await?;
    Ok(redirect("/admin/privacy?saved=1"))
}
