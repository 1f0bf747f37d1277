//! `/api/v1/auth/*`: the JSON face of `auth::accounts`. None of these
//! answers tells whether an email has an account.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Duration;
use serde::Deserialize;

use crate::auth::accounts::{self, Registration, REGISTER_ANSWER, RESEND_ANSWER, RESET_ANSWER};
use crate::auth::limits::AuthLimits;
use crate::auth::tokens::{TokenKeys, ACCESS_TOKEN_SECONDS};
use crate::db::DbPool;
use crate::email::MailContext;
use crate::error::AppError;
use crate::members::model::MeView;
use crate::members::privacy::load_defaults;

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Doc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/auth/register").post(register))
        .service(web::resource("/api/v1/auth/verify-email").post(verify_email))
        .service(web::resource("/api/v1/auth/verify-email/resend").post(resend_verification))
        .service(web::resource("/api/v1/auth/login").post(login))
        .service(web::resource("/api/v1/auth/refresh").post(refresh))
        .service(web::resource("/api/v1/auth/logout").post(logout))
        .service(web::resource("/api/v1/auth/password-reset").post(request_password_reset))
        .service(web::resource("/api/v1/auth/password-reset/confirm").post(confirm_password_reset))
        .service(web::resource("/api/v1/auth/invitation/accept").post(accept_invitation));
}

fn accepted(message: &str) -> HttpResponse {
    HttpResponse::Accepted().json(serde_json::json!({ "message": message }))
}

async fn register(
    req: HttpRequest,
    body: web::Json<Registration>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let address = limits.client_address(&req);
    accounts::register(&pool, &mail, &limits, &address, body.into_inner()).await?;
    Ok(accepted(REGISTER_ANSWER))
}

#[derive(Deserialize)]
pub struct TokenRequest {
    token: String,
}

async fn verify_email(
    body: web::Json<TokenRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let member = accounts::verify_email(&pool, &mail, &body.token).await?;
    let defaults = load_defaults(&pool).await?;
    Ok(HttpResponse::Ok().json(MeView::new(member, &defaults)))
}

#[derive(Deserialize)]
pub struct EmailRequest {
    email: String,
}

async fn resend_verification(
    req: HttpRequest,
    body: web::Json<EmailRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let address = limits.client_address(&req);
    accounts::resend_verification(&pool, &mail, &limits, &address, &body.email).await?;
    Ok(accepted(RESEND_ANSWER))
}

#[derive(Deserialize)]
pub struct LoginRequest {
    email: String,
    password: String,
}

/// The tokens a login or a refresh hands out.
fn token_pair(access_token: String, refresh_token: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "access_token": access_token,
            "refresh_token": refresh_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
        }))
}

async fn login(
    req: HttpRequest,
    body: web::Json<LoginRequest>,
    pool: web::Data<DbPool>,
    keys: web::Data<TokenKeys>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let address = limits.client_address(&req);
    let member = accounts::authenticate(&pool, &limits, &address, &body.email, body.password).await?;
    let (access, refresh) = accounts::start_session(&pool, &keys, member.id).await?;
    Ok(token_pair(access, refresh))
}

#[derive(Deserialize)]
pub struct RefreshRequest {
    refresh_token: String,
}

async fn refresh(
    body: web::Json<RefreshRequest>,
    pool: web::Data<DbPool>,
    keys: web::Data<TokenKeys>,
) -> Result<HttpResponse, AppError> {
    // API clients get no grace: a rotated token that comes back is stolen.
    match accounts::rotate_refresh(&pool, &body.refresh_token, Duration::zero()).await? {
        Ok((member_id, next)) => Ok(token_pair(keys.issue_access(member_id)?, next)),
        Err(_) => Err(AppError::unauthorized().with_detail("The refresh token is not valid; sign in again.")),
    }
}

async fn logout(body: web::Json<RefreshRequest>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    accounts::end_session(&pool, &body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn request_password_reset(
    req: HttpRequest,
    body: web::Json<EmailRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let address = limits.client_address(&req);
    accounts::request_password_reset(&pool, &mail, &limits, &address, &body.email).await?;
    Ok(accepted(RESET_ANSWER))
}

#[derive(Deserialize)]
pub struct ConfirmResetRequest {
    token: String,
    new_password: String,
}

async fn confirm_password_reset(
    req: HttpRequest,
    body: web::Json<ConfirmResetRequest>,
    pool: web::Data<DbPool>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let address = limits.client_address(&req);
    accounts::confirm_password_reset(&pool, &limits, &address, &body.token, body.new_password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The invited member's first password (from the link in the invitation).
async fn accept_invitation(
    body: web::Json<ConfirmResetRequest>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let member = accounts::accept_invitation(&pool, &body.token, body.new_password).await?;
    let defaults = load_defaults(&pool).await?;
    Ok(HttpResponse::Ok().json(MeView::new(member, &defaults)))
}
