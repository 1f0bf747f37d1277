//! Account pages: join, confirm the address, sign in and out, reset a
//! password. Every form carries the CSRF token; a form with mistakes comes
//! back with each field's message and what was typed (never a password).
//! The link in the verification mail opens a page whose button posts the
//! token, so a mail scanner that follows links verifies nothing.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::accounts::{self, Registration, REGISTER_ANSWER, RESEND_ANSWER, RESET_ANSWER};
use crate::auth::csrf;
use crate::auth::limits::AuthLimits;
use crate::auth::session::{self, Page};
use crate::auth::tokens::TokenKeys;
use crate::db::DbPool;
use crate::email::MailContext;
use crate::error::{AppError, ErrorKind};
use crate::pages::{redirect, render, render_with_status, FormErrors, Layout};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/signup").get(signup_page).post(signup_submit))
        .service(
            web::resource("/verify-email")
                .get(verify_email_page)
                .post(verify_email_submit),
        )
        .service(web::resource("/verify-email/resend").post(resend_submit))
        .service(web::resource("/login").get(login_page).post(login_submit))
        .service(web::resource("/logout").post(logout_submit))
        .service(
            web::resource("/reset-password")
                .get(reset_page)
                .post(reset_request_submit),
        )
        .service(web::resource("/reset-password/confirm").post(reset_confirm_submit))
        .service(
            web::resource("/accept-invitation")
                .get(invitation_page)
                .post(invitation_submit),
        );
}

/// A page the user (or a person's mail client) may open any number of times.
#[derive(Template)]
#[template(path = "pages/message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub paragraphs: Vec<String>,
}

fn message(page: &Page, title: &str, paragraphs: &[&str]) -> Result<HttpResponse, AppError> {
    render(&MessagePage {
        layout: page.layout(title),
        paragraphs: paragraphs.iter().map(|p| p.to_string()).collect(),
    })
}

/// Where a signed-in member goes first: the board to its work, others to
/// their account.
fn home_of(page: &Page) -> &'static str {
    match page.member.as_ref() {
        Some(m) if m.is_active() && m.is_admin() => "/admin",
        _ => "/me",
    }
}

// ---- Join ----

#[derive(Debug, Default, Deserialize)]
struct SignupForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    graduation_year: String,
    #[serde(default)]
    university: String,
    #[serde(default)]
    country: String,
}

#[derive(Template)]
#[template(path = "pages/auth/signup.html")]
struct SignupPage {
    layout: Layout,
    form: SignupForm,
    errors: FormErrors,
}

async fn signup_page(page: Page) -> Result<HttpResponse, AppError> {
    if page.member.is_some() {
        return Ok(redirect(home_of(&page)));
    }
    render(&SignupPage {
        layout: page.layout("Join the network"),
        form: SignupForm::default(),
        errors: FormErrors::default(),
    })
}

async fn signup_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<SignupForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let mut form = form.into_inner();
    let year = form.graduation_year.trim();
    let graduation_year = match year.parse::<i32>() {
        Ok(year) => Some(year),
        Err(_) if year.is_empty() => None,
        Err(_) => {
            return show_signup(
                &page,
                form,
                FormErrors::single("graduation_year", "must be a year, like 2019"),
            );
        }
    };
    let registration = Registration {
        email: form.email.clone(),
        password: std::mem::take(&mut form.password),
        full_name: form.full_name.clone(),
        graduation_year,
        university: Some(form.university.clone()),
        country: Some(form.country.clone()),
    };
    let address = limits.client_address(&req);
    match FormErrors::from_result(accounts::register(&pool, &mail, &limits, &address, registration).await)? {
        Ok(()) => message(
            &page,
            "Check your mail",
            &[
                REGISTER_ANSWER,
                "The link works for 24 hours. If nothing arrives within a few minutes, look in your spam folder.",
            ],
        ),
        Err(errors) => show_signup(&page, form, errors),
    }
}

fn show_signup(page: &Page, form: SignupForm, errors: FormErrors) -> Result<HttpResponse, AppError> {
    render_with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &SignupPage {
            layout: page.layout("Join the network"),
            form,
            errors,
        },
    )
}

// ---- Confirm the address ----

#[derive(Template)]
#[template(path = "pages/auth/verify_email.html")]
struct VerifyEmailPage {
    layout: Layout,
    token: Option<String>,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn usable_token(token: Option<String>) -> Option<String> {
    token.filter(|t| !t.trim().is_empty() && t.len() <= 200)
}

async fn verify_email_page(page: Page, query: web::Query<TokenQuery>) -> Result<HttpResponse, AppError> {
    // Opening the page changes nothing: only the button does.
    render(&VerifyEmailPage {
        layout: page.layout("Confirm your email address"),
        token: usable_token(query.into_inner().token),
    })
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    token: String,
}

async fn verify_email_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<TokenForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    match accounts::verify_email(&pool, &mail, &form.token).await {
        Ok(_) => message(
            &page,
            "Your address is confirmed",
            &["Thank you. The board will now review your application, and you will hear from us by mail."],
        ),
        Err(e) if e.kind == ErrorKind::Validation => message(
            &page,
            "This link cannot be used",
            &[
                "The link is not valid, was already used, or has expired (links work for 24 hours).",
                "If you have confirmed your address already, there is nothing more to do.",
                "Otherwise, ask for a new link below the form on the confirmation page.",
            ],
        ),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
}

async fn resend_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<EmailForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let address = limits.client_address(&req);
    accounts::resend_verification(&pool, &mail, &limits, &address, &form.email).await?;
    message(&page, "Check your mail", &[RESEND_ANSWER])
}

// ---- Sign in and out ----

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(Template)]
#[template(path = "pages/auth/login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    failed: Option<String>,
}

async fn login_page(page: Page, query: web::Query<NextQuery>) -> Result<HttpResponse, AppError> {
    let next = session::local_path(query.next.as_deref());
    if page.member.is_some() {
        return Ok(redirect(next.as_deref().unwrap_or(home_of(&page))));
    }
    render(&LoginPage {
        layout: page.layout("Sign in"),
        email: String::new(),
        next: next.unwrap_or_default(),
        failed: None,
    })
}

async fn login_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<LoginForm>,
    pool: web::Data<DbPool>,
    keys: web::Data<TokenKeys>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let form = form.into_inner();
    let next = session::local_path(Some(&form.next));
    let address = limits.client_address(&req);
    let member = match accounts::authenticate(&pool, &limits, &address, &form.email, form.password).await {
        Ok(member) => member,
        Err(e) if e.kind == ErrorKind::Unauthorized => {
            return render_with_status(
                StatusCode::UNAUTHORIZED,
                &LoginPage {
                    layout: page.layout("Sign in"),
                    email: form.email,
                    next: next.unwrap_or_default(),
                    failed: e.public_detail().map(str::to_string),
                },
            );
        }
        Err(e) => return Err(e),
    };
    let destination = next.unwrap_or_else(|| {
        if member.is_active() && member.is_admin() {
            "/admin".into()
        } else {
            "/me".into()
        }
    });
    session::sign_in_and_redirect(&req, &pool, &keys, member.id, &destination).await
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf_token: String,
}

async fn logout_submit(
    req: HttpRequest,
    form: web::Form<CsrfOnly>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    if let Some(refresh) = session::refresh_cookie(&req) {
        accounts::end_session(&pool, &refresh).await?;
    }
    let mut response = redirect("/");
    session::clear_cookies(&mut response, &req);
    Ok(response)
}

// ---- Reset a password ----

#[derive(Template)]
#[template(path = "pages/auth/reset_password.html")]
struct ResetPage {
    layout: Layout,
    token: Option<String>,
    errors: FormErrors,
}

async fn reset_page(page: Page, query: web::Query<TokenQuery>) -> Result<HttpResponse, AppError> {
    render(&ResetPage {
        layout: page.layout("Choose a new password"),
        token: usable_token(query.into_inner().token),
        errors: FormErrors::default(),
    })
}

async fn reset_request_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<EmailForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let address = limits.client_address(&req);
    let result = accounts::request_password_reset(&pool, &mail, &limits, &address, &form.email).await;
    match FormErrors::from_result(result)? {
        Ok(()) => message(
            &page,
            "Check your mail",
            &[RESET_ANSWER, "The link works for one hour."],
        ),
        Err(_) => message(
            &page,
            "That is not an email address",
            &["Go back and enter the address you signed up with."],
        ),
    }
}

#[derive(Deserialize)]
struct NewPasswordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    repeat_password: String,
}

async fn reset_confirm_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<NewPasswordForm>,
    pool: web::Data<DbPool>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let form = form.into_inner();
    let show_again = |errors: FormErrors| {
        render_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ResetPage {
                layout: page.layout("Choose a new password"),
                token: usable_token(Some(form.token.clone())),
                errors,
            },
        )
    };
    if form.new_password != form.repeat_password {
        return show_again(FormErrors::single(
            "repeat_password",
            "is not the same as the new password",
        ));
    }
    let address = limits.client_address(&req);
    let result =
        accounts::confirm_password_reset(&pool, &limits, &address, &form.token, form.new_password.clone()).await;
    match FormErrors::from_result(result)? {
        Ok(()) => {
            // Every session ended with the reset, this browser's too.
            let mut response = message(
                &page,
                "Your password is changed",
                &["You are signed out everywhere. Sign in with your new password."],
            )?;
            session::clear_cookies(&mut response, &req);
            Ok(response)
        }
        Err(errors) if errors.get("token").is_some() => message(
            &page,
            "This link cannot be used",
            &[
                "The link is not valid, was already used, or has expired (links work for one hour).",
                "Ask for a new one on the password reset page.",
            ],
        ),
        Err(errors) => show_again(errors),
    }
}

// ---- An invitation from the roster ----

#[derive(Template)]
#[template(path = "pages/auth/accept_invitation.html")]
struct InvitationPage {
    layout: Layout,
    token: Option<String>,
    errors: FormErrors,
}

async fn invitation_page(page: Page, query: web::Query<TokenQuery>) -> Result<HttpResponse, AppError> {
    render(&InvitationPage {
        layout: page.layout("Welcome"),
        token: usable_token(query.into_inner().token),
        errors: FormErrors::default(),
    })
}

/// Sets the first password and signs the member in.
async fn invitation_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<NewPasswordForm>,
    pool: web::Data<DbPool>,
    keys: web::Data<TokenKeys>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let form = form.into_inner();
    let show_again = |errors: FormErrors| {
        render_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &InvitationPage {
                layout: page.layout("Welcome"),
                token: usable_token(Some(form.token.clone())),
                errors,
            },
        )
    };
    if form.new_password != form.repeat_password {
        return show_again(FormErrors::single(
            "repeat_password",
            "is not the same as the new password",
        ));
    }
    let result = accounts::accept_invitation(&pool, &form.token, form.new_password.clone()).await;
    match FormErrors::from_result(result)? {
        Ok(member) => session::sign_in_and_redirect(&req, &pool, &keys, member.id, "/me").await,
        Err(errors) if errors.get("token").is_some() => message(
            &page,
            "This link cannot be used",
            &[
                "The invitation is not valid, was already used, or has expired (it works for 14 days).",
                "If you have chosen a password already, sign in. Otherwise, ask for a new link on the password reset page.",
            ],
        ),
        Err(errors) => show_again(errors),
    }
}
