//! `/api/v1/auth/*`: the JSON face of `auth::accounts`. None of these
//! answers tells whether an email has an account.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::accounts::{self, Registration, REGISTER_ANSWER, RESEND_ANSWER, RESET_ANSWER};
use crate::auth::limits::AuthLimits;
use crate::auth::tokens::{self, TokenKeys, ACCESS_TOKEN_SECONDS};
use crate::db::DbPool;
use crate::email::MailContext;
use crate::error::AppError;
use crate::members::model::MeView;
use crate::members::privacy::load_defaults;

/// This module's operations in the OpenAPI document (`crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        register,
        verify_email,
        resend_verification,
        login,
        refresh,
        logout,
        request_password_reset,
        confirm_password_reset,
        accept_invitation
    ),
    components(schemas(
        Registration,
        TokenRequest,
        EmailRequest,
        LoginRequest,
        RefreshRequest,
        ConfirmResetRequest,
        Accepted,
        TokenPair,
        TokenType,
        MeView
    ))
)]
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

/// The answer to a request that may send mail: the same whether or not
/// the address has an account.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub message: &'static str,
}

fn accepted(message: &'static str) -> HttpResponse {
    HttpResponse::Accepted().json(Accepted { message })
}

/// Sign up: mails a link to confirm the address (or a notice to the owner of a taken one).
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = Registration,
    responses(
        (status = 202, description = "Accepted; the same answer whether or not the address has an account.",
         body = Accepted),
        (status = 422, description = "A field is invalid (named in `errors`), or the body has the wrong shape."),
        (status = 429, description = "Too many mail requests from this address; see `Retry-After`."),
    )
)]
async fn register(
    req: HttpRequest,
    body: crate::api::Json<Registration>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let address = limits.client_address(&req);
    accounts::register(&pool, &mail, &limits, &address, body.into_inner()).await?;
    Ok(accepted(REGISTER_ANSWER))
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// The token from the link in the mail.
    #[schema(schema_with = tokens::opaque_token_schema)]
    token: String,
}

/// Confirm an email address with the token from the mailed link.
#[utoipa::path(
    post,
    path = "/api/v1/auth/verify-email",
    tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "The address is confirmed: the member's record, without the settings \
                                      (now awaiting approval, or active if on the roster).", body = MeView),
        (status = 422, description = "The token is not valid, was used, or has expired (`errors.token`), \
                                      or the body has the wrong shape."),
    )
)]
async fn verify_email(
    body: crate::api::Json<TokenRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let member = accounts::verify_email(&pool, &mail, &body.token).await?;
    let defaults = load_defaults(&pool).await?;
    Ok(HttpResponse::Ok().json(MeView::new(member, &defaults)))
}

#[derive(Deserialize, ToSchema)]
pub struct EmailRequest {
    #[schema(format = "email", max_length = 254)]
    email: String,
}

/// Mail a new confirmation link, if the address waits for one.
#[utoipa::path(
    post,
    path = "/api/v1/auth/verify-email/resend",
    tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted; the same answer whether or not the address waits for confirmation.",
         body = Accepted),
        (status = 422, description = "`email` is not an email address, or the body has the wrong shape."),
        (status = 429, description = "Too many mail requests from this address; see `Retry-After`."),
    )
)]
async fn resend_verification(
    req: HttpRequest,
    body: crate::api::Json<EmailRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let address = limits.client_address(&req);
    accounts::resend_verification(&pool, &mail, &limits, &address, &body.email).await?;
    Ok(accepted(RESEND_ANSWER))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    email: String,
    #[schema(format = Password)]
    password: String,
}

/// The tokens a login or a refresh hands out.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    /// Sent as `Authorization: Bearer ...`.
    pub access_token: String,
    /// Exchanged once at `POST /api/v1/auth/refresh` for the next pair.
    pub refresh_token: String,
    pub token_type: TokenType,
    /// Seconds the access token is valid.
    #[schema(example = 900)]
    pub expires_in: i64,
}

#[derive(Serialize, ToSchema)]
pub enum TokenType {
    Bearer,
}

fn token_pair(access_token: String, refresh_token: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(TokenPair {
            access_token,
            refresh_token,
            token_type: TokenType::Bearer,
            expires_in: ACCESS_TOKEN_SECONDS,
        })
}

/// Sign in: an access token and a refresh token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in (sent with `Cache-Control: no-store`).", body = TokenPair),
        (status = 401, description = "The email or the password is wrong (the same answer for both)."),
        (status = 422, description = "The body has the wrong shape."),
        (status = 429, description = "Too many failed sign-ins for this account or address; see `Retry-After`."),
    )
)]
async fn login(
    req: HttpRequest,
    body: crate::api::Json<LoginRequest>,
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

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(schema_with = tokens::opaque_token_schema)]
    refresh_token: String,
}

/// Exchange a refresh token for a new pair; a token that comes back a second time ends its whole session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "The next pair (sent with `Cache-Control: no-store`).", body = TokenPair),
        (status = 401, description = "The refresh token is unknown, expired, revoked or already used."),
        (status = 422, description = "The body has the wrong shape."),
    )
)]
async fn refresh(
    body: crate::api::Json<RefreshRequest>,
    pool: web::Data<DbPool>,
    keys: web::Data<TokenKeys>,
) -> Result<HttpResponse, AppError> {
    // API clients get no grace: a rotated token that comes back is stolen.
    match accounts::rotate_refresh(&pool, &body.refresh_token, Duration::zero()).await? {
        Ok((member_id, next)) => Ok(token_pair(keys.issue_access(member_id)?, next)),
        Err(_) => Err(AppError::unauthorized().with_detail("The refresh token is not valid; sign in again.")),
    }
}

/// Sign out: the refresh token's session ends (an unknown token is no error).
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Signed out."),
        (status = 422, description = "The body has the wrong shape, or `refresh_token` is not one (a token of \
                                      another shape was never issued: the client holds something else)."),
    )
)]
async fn logout(body: crate::api::Json<RefreshRequest>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    if !tokens::is_opaque_token(body.refresh_token.trim()) {
        return Err(AppError::invalid_field("refresh_token", "is not a refresh token"));
    }
    accounts::end_session(&pool, &body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mail a link to choose a new password, if the address has an account.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset",
    tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted; the same answer whether or not the address has an account.",
         body = Accepted),
        (status = 422, description = "`email` is not an email address, or the body has the wrong shape."),
        (status = 429, description = "Too many mail requests from this address; see `Retry-After`."),
    )
)]
async fn request_password_reset(
    req: HttpRequest,
    body: crate::api::Json<EmailRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let address = limits.client_address(&req);
    accounts::request_password_reset(&pool, &mail, &limits, &address, &body.email).await?;
    Ok(accepted(RESET_ANSWER))
}

#[derive(Deserialize, ToSchema)]
pub struct ConfirmResetRequest {
    /// The token from the link in the mail.
    #[schema(schema_with = tokens::opaque_token_schema)]
    token: String,
    /// Not the account's email address.
    #[schema(format = Password, min_length = 10, max_length = 128)]
    new_password: String,
}

/// Choose a new password with the token from the mailed link; every session ends.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset/confirm",
    tag = "auth",
    request_body = ConfirmResetRequest,
    responses(
        (status = 204, description = "The password is changed."),
        (status = 422, description = "The token is not valid, was used or has expired (`errors.token`), \
                                      `new_password` breaks the policy, or the body has the wrong shape."),
        (status = 429, description = "Too many mail requests from this address; see `Retry-After`."),
    )
)]
async fn confirm_password_reset(
    req: HttpRequest,
    body: crate::api::Json<ConfirmResetRequest>,
    pool: web::Data<DbPool>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let address = limits.client_address(&req);
    accounts::confirm_password_reset(&pool, &limits, &address, &body.token, body.new_password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Accept an invitation: the invited member's first password (from the link in the invitation).
#[utoipa::path(
    post,
    path = "/api/v1/auth/invitation/accept",
    tag = "auth",
    request_body = ConfirmResetRequest,
    responses(
        (status = 200, description = "The member is active: their record.", body = MeView),
        (status = 422, description = "The token is not valid, was used or has expired (`errors.token`), \
                                      `new_password` breaks the policy, or the body has the wrong shape."),
    )
)]
async fn accept_invitation(
    body: crate::api::Json<ConfirmResetRequest>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let member = accounts::accept_invitation(&pool, &body.token, body.new_password).await?;
    let defaults = load_defaults(&pool).await?;
    Ok(HttpResponse::Ok().json(MeView::new(member, &defaults)))
}
