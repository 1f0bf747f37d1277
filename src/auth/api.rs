//! `/api/v1/auth/*`: sign-up, email verification, login, refresh, logout and
//! password reset. None of them tells whether an email has an account.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, Duration, Utc};
use diesel::Connection;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::Checks;
use crate::auth::emails::{AlreadyRegistered, MemberVerified, PasswordReset, VerifyEmail};
use crate::auth::limits::AuthLimits;
use crate::auth::tokens::{hash_token, TokenKeys, ACCESS_TOKEN_SECONDS};
use crate::auth::{password, store as tokens};
use crate::db::{self, DbPool};
use crate::email::{outbox, Email, EmailTemplate, MailContext};
use crate::error::AppError;
use crate::members::model::{MeView, NewMember, PENDING_APPROVAL, PENDING_VERIFICATION};
use crate::members::store as members;

const VERIFY_VALID_HOURS: i64 = 24;
const RESEND_ANSWER: &str = "If this address waits for confirmation, a new link is on its way to it.";
const RESET_ANSWER: &str =
    "If this address has an account, a message with a link to choose a new password is on its way.";
const RESET_VALID_HOURS: i64 = 1;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/auth/register").post(register))
        .service(web::resource("/api/v1/auth/verify-email").post(verify_email))
        .service(web::resource("/api/v1/auth/verify-email/resend").post(resend_verification))
        .service(web::resource("/api/v1/auth/login").post(login))
        .service(web::resource("/api/v1/auth/refresh").post(refresh))
        .service(web::resource("/api/v1/auth/logout").post(logout))
        .service(web::resource("/api/v1/auth/password-reset").post(request_password_reset))
        .service(web::resource("/api/v1/auth/password-reset/confirm").post(confirm_password_reset));
}

#[derive(Deserialize)]
pub struct RegisterRequest {
    email: String,
    password: String,
    full_name: String,
    graduation_year: Option<i32>,
    university: Option<String>,
    country: Option<String>,
}

fn accepted(message: &str) -> HttpResponse {
    HttpResponse::Accepted().json(serde_json::json!({ "message": message }))
}

fn client_address(req: &HttpRequest) -> String {
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()
}

fn limit_mail_requests(limits: &AuthLimits, req: &HttpRequest) -> Result<(), AppError> {
    match limits.mail_requests_per_address.hit(&client_address(req)) {
        Some(wait) => Err(AppError::rate_limited(wait)),
        None => Ok(()),
    }
}

async fn register(
    req: HttpRequest,
    body: web::Json<RegisterRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let mut checks = Checks::default();
    let email = checks.email("email", &body.email);
    let full_name = checks.text("full_name", &body.full_name, 1, 200);
    if let Some(problem) = password::policy_violation(&body.password, &email) {
        checks.fail("password", problem);
    }
    if let Some(year) = body.graduation_year {
        let latest = Utc::now().year() + 10;
        if !(1900..=latest).contains(&year) {
            checks.fail("graduation_year", format!("must be between 1900 and {latest}"));
        }
    }
    let university = checks.optional_text("university", body.university.as_deref(), 200);
    let country = checks.optional_text("country", body.country.as_deref(), 100);
    checks.finish()?;
    limit_mail_requests(&limits, &req)?;

    // Hashed whether or not the address is taken: the answer takes as long.
    let password_hash = password::hash(SecretString::from(body.password)).await?;
    let mail = mail.get_ref().clone();
    let graduation_year = body.graduation_year;
    db::run(&pool, move |conn| {
        conn.transaction(|conn| {
            if let Some(existing) = members::find_by_email(conn, &email)? {
                // One notice an hour at most, however often someone tries.
                let key = format!("already_registered:{}:{}", existing.id, Utc::now().format("%Y%m%d%H"));
                let notice = Email::render(
                    &AlreadyRegistered {
                        full_name: existing.full_name.clone(),
                    },
                    &mail,
                    existing.mailbox(),
                    key,
                )?;
                outbox::queue(conn, &notice)?;
                return Ok(());
            }
            let member = members::insert(
                conn,
                &NewMember {
                    email: &email,
                    password_hash: &password_hash,
                    full_name: &full_name,
                    graduation_year,
                    university: university.as_deref(),
                    country: country.as_deref(),
                },
            )?;
            queue_verification(conn, &mail, &member)
        })
    })
    .await?;
    Ok(accepted(
        "If this address can be used, a message is on its way to it: open the link in it to confirm your address.",
    ))
}

fn queue_verification(
    conn: &mut diesel::PgConnection,
    mail: &MailContext,
    member: &crate::members::model::Member,
) -> Result<(), AppError> {
    let link = LinkMail {
        purpose: tokens::VERIFY_EMAIL,
        valid_for: Duration::hours(VERIFY_VALID_HOURS),
        page: "/verify-email",
    };
    link.queue(conn, mail, member, |path| VerifyEmail {
        full_name: member.full_name.clone(),
        path,
    })
}

/// A mail with a single-use link: earlier links of the same purpose stop
/// working, a new token is stored hashed, and the mail carries the token.
struct LinkMail {
    purpose: &'static str,
    valid_for: Duration,
    /// The page the link opens; its button posts the token.
    page: &'static str,
}

impl LinkMail {
    fn queue<T: EmailTemplate>(
        &self,
        conn: &mut diesel::PgConnection,
        mail: &MailContext,
        member: &crate::members::model::Member,
        template: impl FnOnce(String) -> T,
    ) -> Result<(), AppError> {
        tokens::expire_email_tokens(conn, member.id, self.purpose)?;
        let token = tokens::create_email_token(conn, member.id, self.purpose, self.valid_for)?;
        let email = Email::render(
            &template(format!("{}?token={token}", self.page)),
            mail,
            member.mailbox(),
            format!("{}:{}:{}", self.purpose, member.id, Uuid::new_v4()),
        )?;
        outbox::queue(conn, &email)?;
        Ok(())
    }
}

#[derive(Deserialize)]
pub struct TokenRequest {
    token: String,
}

fn invalid_token() -> AppError {
    AppError::invalid_field("token", "is not valid, was already used, or has expired")
}

async fn verify_email(
    body: web::Json<TokenRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let member = verify_email_token(&pool, mail.get_ref().clone(), &body.token).await?;
    Ok(HttpResponse::Ok().json(MeView::from(member)))
}

/// Uses up a verification token: the member moves on to the board's
/// approval, and every active admin is told. Shared by the API and the page.
pub async fn verify_email_token(
    pool: &DbPool,
    mail: MailContext,
    token: &str,
) -> Result<crate::members::model::Member, AppError> {
    let token_hash = hash_token(token.trim());
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let member_id =
                tokens::consume_email_token(conn, &token_hash, tokens::VERIFY_EMAIL)?.ok_or_else(invalid_token)?;
            let member = members::find(conn, member_id)?.ok_or_else(invalid_token)?;
            if member.status != PENDING_VERIFICATION {
                return Ok(member);
            }
            let member = members::mark_email_verified(conn, member.id, PENDING_APPROVAL)?;
            for admin in members::active_admins(conn)? {
                let notice = Email::render(
                    &MemberVerified {
                        admin_name: admin.full_name.clone(),
                        applicant_name: member.full_name.clone(),
                        applicant_email: member.email.clone(),
                    },
                    &mail,
                    admin.mailbox(),
                    format!("member_verified:{}:{}", member.id, admin.id),
                )?;
                outbox::queue(conn, &notice)?;
            }
            Ok::<_, AppError>(member)
        })
    })
    .await
}

#[derive(Deserialize)]
pub struct EmailRequest {
    email: String,
}

/// The address of a request that sends mail to an account (resend,
/// reset): checked, and limited per client address (429) and per account
/// (`None`: answer as usual, send nothing).
fn mail_request_email(req: &HttpRequest, body: &EmailRequest, limits: &AuthLimits) -> Result<Option<String>, AppError> {
    let mut checks = Checks::default();
    let email = checks.email("email", &body.email);
    checks.finish()?;
    limit_mail_requests(limits, req)?;
    if limits.mail_per_account.hit(&email.to_lowercase()).is_some() {
        return Ok(None);
    }
    Ok(Some(email))
}

async fn resend_verification(
    req: HttpRequest,
    body: web::Json<EmailRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let Some(email) = mail_request_email(&req, &body, &limits)? else {
        return Ok(accepted(RESEND_ANSWER));
    };
    let mail = mail.get_ref().clone();
    db::run(&pool, move |conn| {
        conn.transaction(|conn| match members::find_by_email(conn, &email)? {
            Some(member) if member.status == PENDING_VERIFICATION => queue_verification(conn, &mail, &member),
            _ => Ok(()),
        })
    })
    .await?;
    Ok(accepted(
        "If this address waits for confirmation, a new link is on its way to it.",
    ))
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
    let account = body.email.trim().to_lowercase();
    let address = client_address(&req);
    if account.is_empty()
        || account.len() > 254
        || body.password.is_empty()
        || body.password.len() > 4 * password::MAX_LENGTH
    {
        return Err(wrong_credentials());
    }
    // Counted before the password is checked, so a burst of parallel
    // guesses cannot all slip under the limit; a success is forgiven.
    let account_wait = limits.login_per_account.hit(&account);
    let address_wait = limits.login_per_address.hit(&address);
    if account_wait.is_some() || address_wait.is_some() {
        if account_wait.is_none() {
            limits.login_per_account.forgive(&account);
        }
        if address_wait.is_none() {
            limits.login_per_address.forgive(&address);
        }
        return Err(AppError::rate_limited(account_wait.max(address_wait).unwrap_or(1)));
    }

    let lookup = account.clone();
    let member = db::run(&pool, move |conn| members::find_by_email(conn, &lookup)).await?;
    let stored = member.as_ref().map(|m| m.password_hash.clone());
    let matches = password::verify(SecretString::from(body.password), stored).await?;
    let Some(member) = member.filter(|_| matches) else {
        return Err(wrong_credentials());
    };
    limits.login_per_account.clear(&account);
    limits.login_per_address.forgive(&address);

    let access = keys.issue_access(member.id)?;
    let refresh = db::run(&pool, move |conn| {
        tokens::create_refresh_token(conn, member.id, Uuid::new_v4())
    })
    .await?;
    Ok(token_pair(access, refresh))
}

/// The same answer for an unknown email and a wrong password.
fn wrong_credentials() -> AppError {
    AppError::unauthorized().with_detail("The email or the password is wrong.")
}

#[derive(Deserialize)]
pub struct RefreshRequest {
    refresh_token: String,
}

fn invalid_refresh() -> AppError {
    AppError::unauthorized().with_detail("The refresh token is not valid; sign in again.")
}

async fn refresh(
    body: web::Json<RefreshRequest>,
    pool: web::Data<DbPool>,
    keys: web::Data<TokenKeys>,
) -> Result<HttpResponse, AppError> {
    let token_hash = hash_token(body.refresh_token.trim());
    // Reuse revokes the family in its own committed transaction: the 401
    // that follows must not roll the revocation back.
    let outcome = db::run(&pool, move |conn| {
        conn.transaction(|conn| {
            let Some(row) = tokens::lock_refresh_token(conn, &token_hash)? else {
                return Ok::<_, AppError>(Err(false));
            };
            if row.rotated_at.is_some() || row.revoked_at.is_some() {
                tokens::revoke_family(conn, row.family_id)?;
                tracing::warn!(member = %row.member_id, family = %row.family_id, "a used refresh token came back; its family is revoked");
                return Ok(Err(true));
            }
            if row.expires_at <= Utc::now() {
                return Ok(Err(false));
            }
            match members::find(conn, row.member_id)? {
                Some(member) if member.status != crate::members::model::DELETED => {}
                _ => return Ok(Err(false)),
            }
            tokens::mark_rotated(conn, row.id)?;
            let next = tokens::create_refresh_token(conn, row.member_id, row.family_id)?;
            Ok(Ok((row.member_id, next)))
        })
    })
    .await?;
    let (member_id, next) = outcome.map_err(|_reused| invalid_refresh())?;
    Ok(token_pair(keys.issue_access(member_id)?, next))
}

async fn logout(body: web::Json<RefreshRequest>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let token_hash = hash_token(body.refresh_token.trim());
    db::run(&pool, move |conn| {
        conn.transaction(|conn| {
            if let Some(row) = tokens::lock_refresh_token(conn, &token_hash)? {
                tokens::revoke_family(conn, row.family_id)?;
            }
            diesel::QueryResult::Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn request_password_reset(
    req: HttpRequest,
    body: web::Json<EmailRequest>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    let Some(email) = mail_request_email(&req, &body, &limits)? else {
        return Ok(accepted(RESET_ANSWER));
    };
    let mail = mail.get_ref().clone();
    db::run(&pool, move |conn| {
        conn.transaction(|conn| {
            let Some(member) = members::find_by_email(conn, &email)? else {
                return Ok(());
            };
            let link = LinkMail {
                purpose: tokens::PASSWORD_RESET,
                valid_for: Duration::hours(RESET_VALID_HOURS),
                page: "/reset-password",
            };
            link.queue(conn, &mail, &member, |path| PasswordReset {
                full_name: member.full_name.clone(),
                path,
            })?;
            Ok::<_, AppError>(())
        })
    })
    .await?;
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
    limit_mail_requests(&limits, &req)?;
    if body.new_password.chars().count() < password::MIN_LENGTH
        || body.new_password.chars().count() > password::MAX_LENGTH
    {
        let message = password::policy_violation(&body.new_password, "").unwrap_or_default();
        return Err(AppError::invalid_field("new_password", message));
    }
    let token_hash = hash_token(body.token.trim());
    // A cheap look first: no one keeps the hashing slots busy with made-up tokens.
    let lookup = token_hash.clone();
    if !db::run(&pool, move |conn| {
        tokens::email_token_is_usable(conn, &lookup, tokens::PASSWORD_RESET)
    })
    .await?
    {
        return Err(invalid_token());
    }
    let new_hash = password::hash(SecretString::from(body.new_password.clone())).await?;
    let new_password = SecretString::from(body.new_password);
    db::run(&pool, move |conn| {
        conn.transaction(|conn| {
            let member_id =
                tokens::consume_email_token(conn, &token_hash, tokens::PASSWORD_RESET)?.ok_or_else(invalid_token)?;
            let member = members::find(conn, member_id)?.ok_or_else(invalid_token)?;
            if let Some(problem) = password::policy_violation(new_password.expose_secret(), &member.email) {
                return Err(AppError::invalid_field("new_password", problem));
            }
            members::set_password_hash(conn, member.id, &new_hash)?;
            tokens::end_sessions(conn, member.id)?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
