//! `/me`: a member's own account page: where the application stands, the
//! basic profile, and the password.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::accounts;
use crate::auth::csrf;
use crate::auth::limits::AuthLimits;
use crate::auth::session::{self, Page};
use crate::auth::tokens::TokenKeys;
use crate::db::DbPool;
use crate::error::AppError;
use crate::members::model::Member;
use crate::members::profile::{self, ProfilePatch};
use crate::pages::{local_time, redirect, render_with_status, FormErrors, Layout};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/me").get(me_page).post(profile_submit))
        .service(web::resource("/me/password").post(password_submit));
}

/// The profile form's fields, as typed.
#[derive(Debug, Default, Deserialize)]
struct ProfileForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    graduation_year: String,
    #[serde(default)]
    university: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    time_zone: String,
}

impl ProfileForm {
    fn of(member: &Member) -> Self {
        Self {
            csrf_token: String::new(),
            full_name: member.full_name.clone(),
            graduation_year: member.graduation_year.map(|y| y.to_string()).unwrap_or_default(),
            university: member.university.clone().unwrap_or_default(),
            country: member.country.clone().unwrap_or_default(),
            time_zone: member.time_zone.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/members/me.html")]
struct MePage {
    layout: Layout,
    email: String,
    status: String,
    role: String,
    joined: String,
    form: ProfileForm,
    errors: FormErrors,
    password_errors: FormErrors,
    saved: Option<String>,
    zones: &'static [chrono_tz::Tz],
}

#[derive(Deserialize)]
struct Flash {
    saved: Option<String>,
}

fn show(
    page: &Page,
    status: StatusCode,
    form: Option<ProfileForm>,
    errors: FormErrors,
    password_errors: FormErrors,
    saved: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let member = page.member()?;
    let saved = match saved {
        Some("profile") => Some("Your profile is saved.".to_string()),
        Some("password") => Some("Your password is changed, and every other session is signed out.".to_string()),
        _ => None,
    };
    render_with_status(
        status,
        &MePage {
            layout: page.layout("Your account"),
            email: member.email.clone(),
            status: member.status.clone(),
            role: member.role.clone(),
            joined: local_time(member.created_at, page.time_zone()),
            form: form.unwrap_or_else(|| ProfileForm::of(member)),
            errors,
            password_errors,
            saved,
            zones: &chrono_tz::TZ_VARIANTS,
        },
    )
}

async fn me_page(page: Page, flash: web::Query<Flash>) -> Result<HttpResponse, AppError> {
    show(
        &page,
        StatusCode::OK,
        None,
        FormErrors::default(),
        FormErrors::default(),
        flash.saved.as_deref(),
    )
}

async fn profile_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<ProfileForm>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member_id = page.member()?.id;
    let form = form.into_inner();
    let year = form.graduation_year.trim();
    let graduation_year = match year.parse::<i32>() {
        Ok(year) => Some(year),
        Err(_) if year.is_empty() => None,
        Err(_) => {
            let errors = FormErrors::single("graduation_year", "must be a year, like 2019");
            return show(
                &page,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(form),
                errors,
                FormErrors::default(),
                None,
            );
        }
    };
    // A form sends every field: an emptied one is cleared.
    let patch = ProfilePatch {
        full_name: Some(Some(form.full_name.clone())),
        graduation_year: Some(graduation_year),
        university: Some(Some(form.university.clone())),
        country: Some(Some(form.country.clone())),
        time_zone: Some(Some(form.time_zone.clone())),
    };
    let result = match patch.checked() {
        Ok(changes) => profile::update(&pool, member_id, changes).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match FormErrors::from_result(result)? {
        Ok(()) => Ok(redirect("/me?saved=profile")),
        Err(errors) => show(
            &page,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(form),
            errors,
            FormErrors::default(),
            None,
        ),
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    repeat_password: String,
}

async fn password_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<PasswordForm>,
    pool: web::Data<DbPool>,
    keys: web::Data<TokenKeys>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member = page.member()?.clone();
    let form = form.into_inner();
    let show_errors = |errors| {
        show(
            &page,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            FormErrors::default(),
            errors,
            None,
        )
    };
    if form.new_password != form.repeat_password {
        return show_errors(FormErrors::single(
            "repeat_password",
            "is not the same as the new password",
        ));
    }
    let member_id = member.id;
    let result = accounts::change_password(&pool, &limits, member, form.current_password, form.new_password).await;
    match FormErrors::from_result(result)? {
        Ok(()) => {
            // Every session ended with the change; this browser gets a new one.
            if let Some(refresh) = session::refresh_cookie(&req) {
                accounts::end_session(&pool, &refresh).await?;
            }
            let (access, refresh) = accounts::start_session(&pool, &keys, member_id).await?;
            let mut response = redirect("/me?saved=password");
            session::set_cookies(&mut response, &req, access, refresh);
            Ok(response)
        }
        Err(errors) => show_errors(errors),
    }
}
