//! `/api/v1/me`: a member's own record.

use actix_web::{web, HttpResponse};
use diesel::Connection;
use secrecy::SecretString;
use serde::Deserialize;

use crate::audit;
use crate::auth::extract::CurrentMember;
use crate::auth::limits::AuthLimits;
use crate::auth::{password, store as tokens};
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::members::model::MeView;
use crate::members::store;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/me").get(me))
        .service(web::resource("/api/v1/me/password").post(change_password));
}

/// Any signed-in member may read their own record, whatever their status,
/// so an applicant can see where their application stands.
async fn me(CurrentMember(member): CurrentMember) -> HttpResponse {
    HttpResponse::Ok().json(MeView::from(member))
}

#[derive(Deserialize)]
pub struct ChangePassword {
    current_password: String,
    new_password: String,
}

/// A known password changed: every session ends, so a stolen one does too.
async fn change_password(
    CurrentMember(member): CurrentMember,
    body: web::Json<ChangePassword>,
    pool: web::Data<DbPool>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    // Guesses at the current password count as failed logins.
    let account = member.email.to_lowercase();
    if let Some(wait) = limits.login_per_account.hit(&account) {
        return Err(AppError::rate_limited(wait));
    }
    if let Some(problem) = password::policy_violation(&body.new_password, &member.email) {
        return Err(AppError::invalid_field("new_password", problem));
    }
    let current_ok = password::verify(
        SecretString::from(body.current_password),
        Some(member.password_hash.clone()),
    )
    .await?;
    if !current_ok {
        return Err(AppError::invalid_field(
            "current_password",
            "is not your current password",
        ));
    }
    let new_hash = password::hash(SecretString::from(body.new_password)).await?;
    db::run(&pool, move |conn| {
        conn.transaction(|conn| {
            store::set_password_hash(conn, member.id, &new_hash)?;
            tokens::end_sessions(conn, member.id)?;
            audit::record(
                conn,
                Some(member.id),
                "member.password_change",
                ("member", &member.id.to_string()),
                serde_json::json!({}),
            )
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
