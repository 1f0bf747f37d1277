//! `/api/v1/admin/members`: the board's view of applicants and members, and
//! its decisions. Each decision is audited in its own transaction.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::{Checks, ListPage, OptionalJson, Pagination};
use crate::audit;
use crate::auth::extract::AdminMember;
use crate::auth::store as tokens;
use crate::db::schema::members;
use crate::db::{self, DbPool};
use crate::email::{outbox, Email, MailContext};
use crate::error::AppError;
use crate::members::emails::{ApplicationRejected, Welcome};
use crate::members::model::{MeView, Member, ACTIVE, ADMIN, DELETED, INVITED, PENDING_APPROVAL, PENDING_VERIFICATION};
use crate::members::privacy::{
    self, load_defaults, DirectoryDefaults, VisibilityPatch, VisibilitySettings, PROTECTED_FIELDS,
};

pub const STATUSES: [&str; 7] = [
    INVITED,
    PENDING_VERIFICATION,
    PENDING_APPROVAL,
    ACTIVE,
    "rejected",
    "suspended",
    DELETED,
];
pub const ROLES: [&str; 2] = ["member", ADMIN];

/// The schemas of the members list's filters (`STATUSES`, `ROLES`, or
/// empty for any) and of a role.
fn status_filter_schema() -> utoipa::openapi::Object {
    crate::openapi::one_of(std::iter::once("").chain(STATUSES))
}
fn role_filter_schema() -> utoipa::openapi::Object {
    crate::openapi::one_of(std::iter::once("").chain(ROLES))
}
fn role_schema() -> utoipa::openapi::Object {
    crate::openapi::one_of(ROLES)
}

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_members,
        get_member,
        change_role,
        approve,
        reject,
        suspend,
        reinstate,
        get_directory_defaults,
        put_directory_defaults
    ),
    components(schemas(AdminMemberView, ReasonRequest, RoleRequest, VisibilitySettings, VisibilityPatch))
)]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/admin/members").get(list_members))
        .service(
            web::resource("/api/v1/admin/members/{id}")
                .get(get_member)
                .patch(change_role),
        )
        .service(web::resource("/api/v1/admin/members/{id}/approve").post(approve))
        .service(web::resource("/api/v1/admin/members/{id}/reject").post(reject))
        .service(web::resource("/api/v1/admin/members/{id}/suspend").post(suspend))
        .service(web::resource("/api/v1/admin/members/{id}/reinstate").post(reinstate))
        .service(
            web::resource("/api/v1/admin/directory-defaults")
                .get(get_directory_defaults)
                .put(put_directory_defaults),
        );
}

/// The full record, as admins see it: what the member sees, and more.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminMemberView {
    #[serde(flatten)]
    pub record: MeView,
    pub email_verified_at: Option<DateTime<Utc>>,
}

impl AdminMemberView {
    pub fn new(m: Member, defaults: &DirectoryDefaults) -> Self {
        let email_verified_at = m.email_verified_at;
        Self {
            record: MeView::new(m, defaults),
            email_verified_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberFilter {
    /// One of `invited`, `pending_verification`, `pending_approval`, `active`,
    /// `rejected`, `suspended`, `deleted`; empty for any.
    #[param(schema_with = status_filter_schema)]
    pub status: Option<String>,
    /// `member` or `admin`; empty for any.
    #[param(schema_with = role_filter_schema)]
    pub role: Option<String>,
    /// Part of a name or an email address.
    #[param(max_length = 200)]
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<i64>,
}

pub fn list(
    conn: &mut PgConnection,
    status: Option<&str>,
    role: Option<&str>,
    q: Option<&str>,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<Member>, i64)> {
    let filtered = || {
        let mut query = members::table.into_boxed();
        if let Some(status) = status {
            query = query.filter(members::status.eq(status.to_string()));
        }
        if let Some(role) = role {
            query = query.filter(members::role.eq(role.to_string()));
        }
        if let Some(q) = q {
            let pattern = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            // `email` is citext, which diesel's ilike does not take: compare its text.
            let email_matches = diesel::dsl::sql::<diesel::sql_types::Bool>("members.email::text ILIKE ")
                .bind::<diesel::sql_types::Text, _>(pattern.clone());
            query = query.filter(members::full_name.ilike(pattern).or(email_matches));
        }
        query
    };
    let items = filtered()
        .select(Member::as_select())
        .order((members::created_at.asc(), members::id))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .load(conn)?;
    let total = filtered().count().get_result(conn)?;
    Ok((items, total))
}

impl MemberFilter {
    /// The filter's values, or a 422 naming each bad one.
    fn checked(self) -> Result<CheckedFilter, AppError> {
        let mut checks = Checks::default();
        let known = |value: Option<String>, allowed: &[&str], field: &str, checks: &mut Checks| {
            let value = value.filter(|v| !v.is_empty());
            if value.as_deref().is_some_and(|v| !allowed.contains(&v)) {
                checks.fail(field, format!("must be one of {}", allowed.join(", ")));
            }
            value
        };
        let status = known(self.status, &STATUSES, "status", &mut checks);
        let role = known(self.role, &ROLES, "role", &mut checks);
        let q = checks.optional_text("q", self.q.as_deref(), 200);
        checks.finish()?;
        let (page, per_page) = Pagination {
            page: self.page,
            per_page: self.per_page,
        }
        .checked()?;
        Ok(CheckedFilter {
            status,
            role,
            q,
            page,
            per_page,
        })
    }
}

pub struct CheckedFilter {
    pub status: Option<String>,
    pub role: Option<String>,
    pub q: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

/// A page of full member records; the viewing is audited, as the records
/// hold private data.
pub async fn find_members(
    pool: &DbPool,
    admin: &Member,
    filter: MemberFilter,
) -> Result<(ListPage<Member>, CheckedFilter), AppError> {
    let filter = filter.checked()?;
    let admin_id = admin.id;
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let (items, total) = list(
                conn,
                filter.status.as_deref(),
                filter.role.as_deref(),
                filter.q.as_deref(),
                filter.page,
                filter.per_page,
            )?;
            audit::record(
                conn,
                Some(admin_id),
                "members.list",
                ("members", "*"),
                serde_json::json!({"status": filter.status, "role": filter.role, "q": filter.q, "page": filter.page}),
            )?;
            let page = ListPage {
                items,
                page: filter.page,
                per_page: filter.per_page,
                total,
            };
            diesel::QueryResult::Ok((page, filter))
        })
    })
    .await
}

/// Lists applicants and members with their full records (audited).
#[utoipa::path(
    get,
    path = "/api/v1/admin/members",
    tag = "admin",
    params(MemberFilter),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of full records, oldest first.", body = ListPage<AdminMemberView>),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 422, description = "A parameter is invalid (named in `errors`)."),
    )
)]
async fn list_members(
    AdminMember(admin): AdminMember,
    query: web::Query<MemberFilter>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let (found, _) = find_members(&pool, &admin, query.into_inner()).await?;
    let defaults = load_defaults(&pool).await?;
    Ok(HttpResponse::Ok().json(found.map(|m| AdminMemberView::new(m, &defaults))))
}

/// One member's full record; the viewing is audited.
pub async fn view_member(pool: &DbPool, admin: &Member, id: Uuid) -> Result<Member, AppError> {
    let admin_id = admin.id;
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let member = members::table
                .find(id)
                .filter(members::status.ne(DELETED))
                .select(Member::as_select())
                .first(conn)
                .optional()?
                .ok_or_else(AppError::not_found)?;
            audit::record(
                conn,
                Some(admin_id),
                "member.view",
                ("member", &id.to_string()),
                serde_json::json!({}),
            )?;
            Ok::<_, AppError>(member)
        })
    })
    .await
}

/// One member's full record (audited).
#[utoipa::path(
    get,
    path = "/api/v1/admin/members/{id}",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The member's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The full record.", body = AdminMemberView),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 404, description = "No member (or a deleted one) has this id, or the id is not a UUID."),
    )
)]
async fn get_member(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let member = view_member(&pool, &admin, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(AdminMemberView::new(member, &load_defaults(&pool).await?)))
}

/// Locks every active admin, always in the same order, and checks that the
/// actor is still one of them. Concurrent decisions by two admins (each
/// suspending or demoting the other) then run one after the other, and the
/// second finds its actor no longer an admin: the association never ends up
/// with none.
fn lock_admins(conn: &mut PgConnection, actor: Uuid) -> Result<Vec<Uuid>, AppError> {
    let admins: Vec<Uuid> = members::table
        .filter(members::role.eq(ADMIN))
        .filter(members::status.eq(ACTIVE))
        .select(members::id)
        .order(members::id)
        .for_update()
        .load(conn)?;
    if !admins.contains(&actor) {
        return Err(AppError::forbidden().with_detail("Only board admins may do this."));
    }
    Ok(admins)
}

/// The member, locked until the decision commits; 404 for none or deleted.
fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Member, AppError> {
    members::table
        .find(id)
        .filter(members::status.ne(DELETED))
        .select(Member::as_select())
        .for_update()
        .first(conn)
        .optional()?
        .ok_or_else(AppError::not_found)
}

fn conflict_with_status(member: &Member, wanted: &str) -> AppError {
    AppError::conflict(format!(
        "This member is {}; only a member who is {wanted} can be given this decision.",
        member.status.replace('_', " ")
    ))
}

/// One decision: which statuses it applies to, the status it gives, and
/// whether the member must be told why.
pub struct Decision {
    pub action: &'static str,
    from: &'static [&'static str],
    to: &'static str,
    reason_required: bool,
}

pub const APPROVE: Decision = Decision {
    action: "member.approve",
    from: &[PENDING_APPROVAL, "rejected"],
    to: ACTIVE,
    reason_required: false,
};
pub const REJECT: Decision = Decision {
    action: "member.reject",
    from: &[PENDING_APPROVAL, PENDING_VERIFICATION],
    to: "rejected",
    reason_required: true,
};
pub const SUSPEND: Decision = Decision {
    action: "member.suspend",
    from: &[ACTIVE],
    to: "suspended",
    reason_required: false,
};
pub const REINSTATE: Decision = Decision {
    action: "member.reinstate",
    from: &["suspended"],
    to: ACTIVE,
    reason_required: false,
};

impl Decision {
    /// Whether a member of this status can be given the decision (pages
    /// offer only those buttons).
    pub fn applies_to(&self, status: &str) -> bool {
        self.from.contains(&status)
    }
}

/// Checks the member's status, changes it, audits and mails, in one
/// transaction; the member as they now are.
pub async fn decide(
    admin: &Member,
    id: Uuid,
    decision: &'static Decision,
    reason: Option<&str>,
    pool: &DbPool,
    mail: &MailContext,
) -> Result<Member, AppError> {
    let mut checks = Checks::default();
    // Blank counts as absent (unless it is longer than any reason may be).
    let reason = reason.filter(|r| !r.trim().is_empty() || r.chars().count() > 2000);
    let reason = if decision.reason_required || reason.is_some() {
        Some(checks.multiline_text("reason", reason.unwrap_or_default(), 1, 2000))
    } else {
        None
    };
    checks.finish()?;
    let admin_id = admin.id;
    let mail = mail.clone();
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            lock_admins(conn, admin_id)?;
            let member = lock(conn, id)?;
            if !decision.applies_to(&member.status) {
                return Err(conflict_with_status(
                    &member,
                    &decision.from.join(" or ").replace('_', " "),
                ));
            }
            if member.id == admin_id {
                return Err(AppError::conflict("Admins cannot decide on their own membership."));
            }
            let first_approval = decision.to == ACTIVE && member.approved_at.is_none();
            let approved_at = if first_approval { "now()" } else { "approved_at" };
            let updated: Member = diesel::update(members::table.find(id))
                .set((
                    members::status.eq(decision.to),
                    members::updated_at.eq(diesel::dsl::now),
                    members::approved_at.eq(diesel::dsl::sql::<
                        diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                    >(approved_at)),
                ))
                .returning(Member::as_returning())
                .get_result(conn)?;
            let email = match decision.to {
                ACTIVE if first_approval => Some(Email::render(
                    &Welcome {
                        full_name: updated.full_name.clone(),
                    },
                    &mail,
                    updated.mailbox(),
                    format!("welcome:{id}"),
                )?),
                "rejected" => Some(Email::render(
                    &ApplicationRejected {
                        full_name: member.full_name.clone(),
                        reason: reason.clone().unwrap_or_default(),
                    },
                    &mail,
                    member.mailbox(),
                    format!("rejected:{id}:{}", Uuid::new_v4()),
                )?),
                "suspended" => {
                    tokens::end_sessions(conn, id)?;
                    None
                }
                _ => None,
            };
            if let Some(email) = email {
                outbox::queue(conn, &email)?;
            }
            audit::record(
                conn,
                Some(admin_id),
                decision.action,
                ("member", &id.to_string()),
                serde_json::json!({"from": member.status, "to": decision.to, "reason": reason}),
            )?;
            Ok(updated)
        })
    })
    .await
}

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// Why: required to reject (it is mailed to the applicant), kept in the
    /// audit log otherwise. Blank counts as absent.
    #[schema(max_length = 2000, content_media_type = "text/plain")]
    reason: Option<String>,
}

async fn decide_api(
    admin: Member,
    id: Uuid,
    decision: &'static Decision,
    body: Option<ReasonRequest>,
    pool: &DbPool,
    mail: &MailContext,
) -> Result<HttpResponse, AppError> {
    let reason = body.and_then(|b| b.reason);
    let member = decide(&admin, id, decision, reason.as_deref(), pool, mail).await?;
    Ok(HttpResponse::Ok().json(AdminMemberView::new(member, &load_defaults(pool).await?)))
}

/// Approves an applicant (pending approval, or rejected before); the first approval mails a welcome.
#[utoipa::path(
    post,
    path = "/api/v1/admin/members/{id}/approve",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The member's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The member, now active.", body = AdminMemberView),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 404, description = "No member (or a deleted one) has this id, or the id is not a UUID."),
        (status = 409, description = "The member is not pending approval or rejected, or is the admin themself."),
    )
)]
async fn approve(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    decide_api(admin, id.into_inner(), &APPROVE, None, &pool, &mail).await
}

/// Rejects an application, mailing the reason to the applicant.
#[utoipa::path(
    post,
    path = "/api/v1/admin/members/{id}/reject",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The member's id")),
    request_body(content = ReasonRequest,
                 description = "The reason (required). A body that is sent must be this JSON, with no other field."),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The member, now rejected.", body = AdminMemberView),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 404, description = "No member (or a deleted one) has this id, or the id is not a UUID."),
        (status = 409, description = "The member is not pending approval or verification, or is the admin themself."),
        (status = 422, description = "The reason is missing, blank, too long or has control characters."),
    )
)]
async fn reject(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    OptionalJson(body): OptionalJson<ReasonRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    decide_api(admin, id.into_inner(), &REJECT, body, &pool, &mail).await
}

/// Suspends an active member and ends their sessions.
#[utoipa::path(
    post,
    path = "/api/v1/admin/members/{id}/suspend",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The member's id")),
    request_body(content = Option<ReasonRequest>,
                 description = "An optional reason, for the audit log; the body may be left out (or `null`). A body that is sent must be this JSON, with no other field."),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The member, now suspended.", body = AdminMemberView),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 404, description = "No member (or a deleted one) has this id, or the id is not a UUID."),
        (status = 409, description = "The member is not active, or is the admin themself."),
        (status = 422, description = "The reason is too long or has control characters."),
    )
)]
async fn suspend(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    OptionalJson(body): OptionalJson<ReasonRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    decide_api(admin, id.into_inner(), &SUSPEND, body, &pool, &mail).await
}

/// Reinstates a suspended member.
#[utoipa::path(
    post,
    path = "/api/v1/admin/members/{id}/reinstate",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The member's id")),
    request_body(content = Option<ReasonRequest>,
                 description = "An optional reason, for the audit log; the body may be left out (or `null`). A body that is sent must be this JSON, with no other field."),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The member, active again.", body = AdminMemberView),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 404, description = "No member (or a deleted one) has this id, or the id is not a UUID."),
        (status = 409, description = "The member is not suspended, or is the admin themself."),
        (status = 422, description = "The reason is too long or has control characters."),
    )
)]
async fn reinstate(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    OptionalJson(body): OptionalJson<ReasonRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    decide_api(admin, id.into_inner(), &REINSTATE, body, &pool, &mail).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RoleRequest {
    /// `member` or `admin`.
    #[schema(schema_with = role_schema, example = "admin")]
    role: String,
}

/// Gives a member another role; the association always keeps an admin.
/// An admin's own role is another admin's to change, as their approval,
/// suspension and records are: a slip cannot lock the board out.
pub async fn set_role(admin: &Member, id: Uuid, role: String, pool: &DbPool) -> Result<Member, AppError> {
    if !ROLES.contains(&role.as_str()) {
        return Err(AppError::invalid_field(
            "role",
            format!("must be one of {}", ROLES.join(", ")),
        ));
    }
    if id == admin.id {
        return Err(AppError::conflict("Another admin changes your role."));
    }
    let admin_id = admin.id;
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let admins = lock_admins(conn, admin_id)?;
            let member = lock(conn, id)?;
            // Never zero admins. The acting admin is an active admin (under
            // the lock above) and not the one changed, so this cannot fire
            // today; it stays so that a change to who may change a role
            // cannot leave the board without an admin.
            if member.role == ADMIN && role != ADMIN && admins.iter().all(|a| *a == id) {
                return Err(AppError::conflict(
                    "The association must keep at least one active admin.",
                ));
            }
            let updated: Member = diesel::update(members::table.find(id))
                .set((members::role.eq(&role), members::updated_at.eq(diesel::dsl::now)))
                .returning(Member::as_returning())
                .get_result(conn)?;
            audit::record(
                conn,
                Some(admin_id),
                "member.role",
                ("member", &id.to_string()),
                serde_json::json!({"from": member.role, "to": role}),
            )?;
            Ok(updated)
        })
    })
    .await
}

/// Gives a member another role; the association always keeps an active admin.
#[utoipa::path(
    patch,
    path = "/api/v1/admin/members/{id}",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The member's id")),
    request_body = RoleRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The member with their new role.", body = AdminMemberView),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 404, description = "No member (or a deleted one) has this id, or the id is not a UUID."),
        (status = 409, description = "The member is the admin themself (another admin changes it), or this would \
                                      leave the association without an active admin."),
        (status = 422, description = "The role is not `member` or `admin`, or the body lacks it."),
    )
)]
async fn change_role(
    AdminMember(admin): AdminMember,
    id: web::Path<Uuid>,
    body: crate::api::Json<RoleRequest>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let member = set_role(&admin, id.into_inner(), body.into_inner().role, &pool).await?;
    Ok(HttpResponse::Ok().json(AdminMemberView::new(member, &load_defaults(&pool).await?)))
}

/// The association's directory defaults: who sees each protected field of members who made no choice.
#[utoipa::path(
    get,
    path = "/api/v1/admin/directory-defaults",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each field's default: `public`, `members` or `hidden`.",
         body = VisibilitySettings),
        (status = 403, description = "The signed-in member is not an active admin."),
    )
)]
async fn get_directory_defaults(_admin: AdminMember, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let defaults = load_defaults(&pool).await?;
    Ok(HttpResponse::Ok().json(VisibilitySettings::of_defaults(&defaults)))
}

/// Changes the association's defaults: who sees each field of members who
/// made no choice of their own. Audited.
pub async fn set_directory_defaults(
    pool: &DbPool,
    admin: &Member,
    patch: VisibilityPatch,
) -> Result<DirectoryDefaults, AppError> {
    let mut checks = Checks::default();
    let values = patch.checked(&mut checks);
    for (field, value) in PROTECTED_FIELDS.iter().zip(&values) {
        if matches!(value, Some(None)) {
            checks.fail(&format!("visibility.{field}"), "must be one of public, members, hidden");
        }
    }
    checks.finish()?;
    let admin_id = admin.id;
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let before = privacy::defaults(conn)?;
            let mut after = before.clone();
            let [email, city, profession, bio, links, exchanges] = values;
            let set = |slot: &mut String, value: Option<Option<String>>| {
                if let Some(Some(v)) = value {
                    *slot = v;
                }
            };
            set(&mut after.email_visibility, email);
            set(&mut after.city_visibility, city);
            set(&mut after.profession_visibility, profession);
            set(&mut after.bio_visibility, bio);
            set(&mut after.links_visibility, links);
            set(&mut after.exchanges_visibility, exchanges);
            let saved = privacy::save_defaults(conn, &after)?;
            audit::record(
                conn,
                Some(admin_id),
                "directory.defaults",
                ("directory_defaults", "*"),
                serde_json::json!({
                    "from": VisibilitySettings::of_defaults(&before),
                    "to": VisibilitySettings::of_defaults(&saved),
                }),
            )?;
            diesel::QueryResult::Ok(saved)
        })
    })
    .await
}

/// Changes some of the directory defaults (audited); fields not sent stay as they are.
#[utoipa::path(
    put,
    path = "/api/v1/admin/directory-defaults",
    tag = "admin",
    request_body(content = VisibilityPatch,
                 description = "The fields to change, each `public`, `members` or `hidden` (not `null`)."),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every field's default, as now saved.", body = VisibilitySettings),
        (status = 403, description = "The signed-in member is not an active admin."),
        (status = 422, description = "A value is not `public`, `members` or `hidden` (named `visibility.<field>` \
                                      in `errors`), or the body names an unknown field."),
    )
)]
async fn put_directory_defaults(
    AdminMember(admin): AdminMember,
    body: crate::api::Json<VisibilityPatch>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let saved = set_directory_defaults(&pool, &admin, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(VisibilitySettings::of_defaults(&saved)))
}
