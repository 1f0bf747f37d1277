//! `/api/v1/me`: a member's own record.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

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
#[openapi()]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/me").get(me).patch(update_me).delete(delete_me))
        .service(web::resource("/api/v1/me/export").get(export_me))
        .service(web::resource("/api/v1/me/password").post(change_password));
}

/// Any signed-in member may read their own record, whatever their status,
/// so an applicant can see where their application stands.
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

async fn update_me(
    CurrentMember(member): CurrentMember,
    body: web::Json<ProfilePatch>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let patch = body.into_inner();
    let settings_changes = SettingsChanges::checked(patch.notifications.as_ref(), patch.digest.as_ref());
    let changes = patch.checked()?;
    let settings_changes = settings_changes?;
    let member = profile::update(&pool, member.id, changes, settings_changes).await?;
    Ok(HttpResponse::Ok().json(me_view(&pool, &mail, member).await?))
}

#[derive(Deserialize)]
pub struct ChangePassword {
    current_password: String,
    new_password: String,
}

async fn change_password(
    CurrentMember(member): CurrentMember,
    body: web::Json<ChangePassword>,
    pool: web::Data<DbPool>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    accounts::change_password(&pool, &limits, member, body.current_password, body.new_password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Everything stored about the member, as JSON.
async fn export_me(CurrentMember(member): CurrentMember, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let document = your_data::export_for(&pool, member.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(document))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    password: String,
}

async fn delete_me(
    CurrentMember(member): CurrentMember,
    body: web::Json<DeleteRequest>,
    pool: web::Data<DbPool>,
    limits: web::Data<AuthLimits>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    your_data::delete_confirmed(&pool, &limits, &mail, member, body.into_inner().password).await?;
    Ok(HttpResponse::NoContent().finish())
}
