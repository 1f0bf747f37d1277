//! `/api/v1/me`: a member's own record.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::accounts;
use crate::auth::extract::CurrentMember;
use crate::auth::limits::AuthLimits;
use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::error::AppError;
use crate::members::model::{MeView, Member};
use crate::members::privacy::load_defaults;
use crate::members::profile::{self, ProfilePatch};
use crate::members::settings::{self, SettingsChanges};
use crate::members::your_data;

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(me, update_me, delete_me, export_me, change_password),
    components(schemas(
        MeView,
        crate::members::privacy::Visibility,
        crate::members::privacy::VisibilitySettings,
        crate::members::privacy::VisibilityPatch,
        crate::members::settings::Notifications,
        crate::members::settings::NotificationsPatch,
        crate::members::settings::DigestSettings,
        crate::members::settings::DigestPatch,
        crate::members::settings::DigestFrequency,
        crate::members::settings::DigestTopic,
        ProfilePatch,
        ChangePassword,
        DeleteRequest
    ))
)]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/me").get(me).patch(update_me).delete(delete_me))
        .service(web::resource("/api/v1/me/export").get(export_me))
        .service(web::resource("/api/v1/me/password").post(change_password));
}

/// The signed-in member's own record and settings.
///
/// Any signed-in member may read their own record, whatever their status,
/// so an applicant can see where their application stands.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The member's record, with `notifications`, `calendar_url` and `digest`.",
         body = MeView),
    )
)]
async fn me(
    CurrentMember(member): CurrentMember,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(me_view(&pool, &mail, member).await?))
}

/// The member's record with their settings.
async fn me_view(pool: &DbPool, mail: &MailContext, member: Member) -> Result<MeView, AppError> {
    let defaults = load_defaults(pool).await?;
    let id = member.id;
    let settings = db::run(pool, move |conn| settings::load(conn, id)).await?;
    Ok(MeView::new(member, &defaults).with_settings(&settings, mail))
}

/// Change the member's own profile, visibilities and mail settings; only the fields sent change.
#[utoipa::path(
    patch,
    path = "/api/v1/me",
    tag = "me",
    request_body = ProfilePatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The record as changed.", body = MeView),
        (status = 422, description = "A field is invalid (named in `errors`), or the body has the wrong shape \
                                      or an unknown field."),
    )
)]
async fn update_me(
    CurrentMember(member): CurrentMember,
    body: crate::api::Json<ProfilePatch>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let patch = body.into_inner();
    let settings_changes = SettingsChanges::checked(patch.notifications.as_ref(), patch.digest.as_ref());
    let changes = patch.checked(&member.link_list())?;
    let settings_changes = settings_changes?;
    let member = profile::update(&pool, member.id, changes, settings_changes).await?;
    Ok(HttpResponse::Ok().json(me_view(&pool, &mail, member).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePassword {
    #[schema(format = Password)]
    current_password: String,
    /// Not the account's email address.
    #[schema(format = Password, min_length = 10, max_length = 128)]
    new_password: String,
}

/// Change the password; every session ends, this one too.
#[utoipa::path(
    post,
    path = "/api/v1/me/password",
    tag = "me",
    request_body = ChangePassword,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The password is changed; sign in again."),
        (status = 422, description = "`current_password` is wrong or `new_password` breaks the policy \
                                      (named in `errors`), or the body has the wrong shape."),
        (status = 429, description = "Too many wrong passwords for this account; see `Retry-After`."),
    )
)]
async fn change_password(
    CurrentMember(member): CurrentMember,
    body: crate::api::Json<ChangePassword>,
    pool: web::Data<DbPool>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    accounts::change_password(&pool, &limits, member, body.current_password, body.new_password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Everything stored about the member, as JSON.
#[utoipa::path(
    get,
    path = "/api/v1/me/export",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One document (sent with `Cache-Control: no-store`): `exported_at`, \
                                      `member`, `exchange_records`, `contact_requests`, `settings`, \
                                      `event_answers`, `sessions`, `email` and `audit_log`. Asking is recorded \
                                      in the audit log.", body = Object),
    )
)]
async fn export_me(CurrentMember(member): CurrentMember, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let document = your_data::export_for(&pool, member.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(document))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// The member's current password.
    #[schema(format = Password)]
    password: String,
}

/// Delete the account: personal data is erased and every session ends.
#[utoipa::path(
    delete,
    path = "/api/v1/me",
    tag = "me",
    request_body = DeleteRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The account is deleted."),
        (status = 409, description = "The member is the association's only active admin."),
        (status = 422, description = "`password` is wrong (`errors.password`), or the body has the wrong shape \
                                      or an unknown field."),
        (status = 429, description = "Too many wrong passwords for this account; see `Retry-After`."),
    )
)]
async fn delete_me(
    CurrentMember(member): CurrentMember,
    body: crate::api::Json<DeleteRequest>,
    pool: web::Data<DbPool>,
    limits: web::Data<AuthLimits>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    your_data::delete_confirmed(&pool, &limits, &mail, member, body.into_inner().password).await?;
    Ok(HttpResponse::NoContent().finish())
}
