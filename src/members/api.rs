//! `/api/v1/me`: a member's own record.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::auth::accounts;
use crate::auth::extract::CurrentMember;
use crate::auth::limits::AuthLimits;
use crate::db::DbPool;
use crate::error::AppError;
use crate::members::model::MeView;
use crate::members::profile::{self, ProfilePatch};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/me").get(me).patch(update_me))
        .service(web::resource("/api/v1/me/password").post(change_password));
}

/// Any signed-in member may read their own record, whatever their status,
/// so an applicant can see where their application stands.
async fn me(CurrentMember(member): CurrentMember) -> HttpResponse {
    HttpResponse::Ok().json(MeView::from(member))
}

async fn update_me(
    CurrentMember(member): CurrentMember,
    body: web::Json<ProfilePatch>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let changes = body.into_inner().checked()?;
    let member = profile::update(&pool, member.id, changes).await?;
    Ok(HttpResponse::Ok().json(MeView::from(member)))
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
