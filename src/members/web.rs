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
use crate::auth::web::MessagePage;
use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::error::AppError;
use crate::members::model::Member;
use crate::members::privacy::{audience_label, load_defaults, VisibilityPatch, VisibilitySettings, PROTECTED_FIELDS};

/// The privacy form's choice of following the association's default.
const DEFAULT: &str = "default";
use crate::members::profile::{self, ProfilePatch};
use crate::members::settings::{self, DigestPatch, MemberSettings, NotificationsPatch, SettingsChanges};
use crate::members::your_data;
use crate::pages::{local_time, redirect, render, render_with_status, FormErrors, Layout};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/me").get(me_page).post(profile_submit))
        .service(web::resource("/me/password").post(password_submit))
        .service(web::resource("/me/export.json").get(export_download))
        .service(web::resource("/me/delete").post(delete_submit))
        .service(web::resource("/me/notifications").post(notifications_submit))
        .service(web::resource("/me/calendar").post(calendar_submit));
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
    #[serde(default)]
    city: String,
    #[serde(default)]
    profession: String,
    #[serde(default)]
    bio: String,
    /// One web address per line.
    #[serde(default)]
    links: String,
    /// A checkbox: sent only when ticked.
    listed_in_directory: Option<String>,
    #[serde(default)]
    visibility_email: String,
    #[serde(default)]
    visibility_city: String,
    #[serde(default)]
    visibility_profession: String,
    #[serde(default)]
    visibility_bio: String,
    #[serde(default)]
    visibility_links: String,
    #[serde(default)]
    visibility_exchanges: String,
}

impl ProfileForm {
    /// The form as the member's record fills it: each visibility is their
    /// own choice, or "default" where they follow the association's.
    fn of(member: &Member) -> Self {
        let choice = |v: &Option<String>| v.clone().unwrap_or_else(|| DEFAULT.to_string());
        Self {
            csrf_token: String::new(),
            full_name: member.full_name.clone(),
            graduation_year: member.graduation_year.map(|y| y.to_string()).unwrap_or_default(),
            university: member.university.clone().unwrap_or_default(),
            country: member.country.clone().unwrap_or_default(),
            time_zone: member.time_zone.clone().unwrap_or_default(),
            city: member.city.clone().unwrap_or_default(),
            profession: member.profession.clone().unwrap_or_default(),
            bio: member.bio.clone().unwrap_or_default(),
            links: member.link_list().join("\n"),
            listed_in_directory: member.listed_in_directory.then(|| "on".to_string()),
            visibility_email: choice(&member.email_visibility),
            visibility_city: choice(&member.city_visibility),
            visibility_profession: choice(&member.profession_visibility),
            visibility_bio: choice(&member.bio_visibility),
            visibility_links: choice(&member.links_visibility),
            visibility_exchanges: choice(&member.exchanges_visibility),
        }
    }

    /// Whether `visibility` is the one chosen for `field` (radio buttons).
    fn chose(&self, field: &str, visibility: &str) -> bool {
        let chosen: &str = match field {
            "email" => &self.visibility_email,
            "city" => &self.visibility_city,
            "profession" => &self.visibility_profession,
            "bio" => &self.visibility_bio,
            "links" => &self.visibility_links,
            _ => &self.visibility_exchanges,
        };
        chosen == visibility
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
    delete_errors: FormErrors,
    saved: Option<String>,
    zones: &'static [chrono_tz::Tz],
    fields: &'static [&'static str],
    /// The association's defaults, named beside the "default" choice.
    defaults: VisibilitySettings,
    /// Which mail the member takes, and their calendar feed.
    settings: MemberSettings,
    calendar_url: String,
}

impl MePage {
    fn default_label(&self, field: &str) -> &'static str {
        let default = self
            .defaults
            .pairs()
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.to_string());
        audience_label(default.as_deref().unwrap_or(""))
    }
}

#[derive(Deserialize)]
struct Flash {
    saved: Option<String>,
}

/// What `/me` shows besides the member's record: a form sent back with its
/// errors, or the note of what was just saved.
#[derive(Default)]
struct Shown<'a> {
    form: Option<ProfileForm>,
    errors: FormErrors,
    password_errors: FormErrors,
    delete_errors: FormErrors,
    saved: Option<&'a str>,
}

async fn show(
    page: &Page,
    pool: &DbPool,
    mail: &MailContext,
    status: StatusCode,
    shown: Shown<'_>,
) -> Result<HttpResponse, AppError> {
    let member = page.member()?;
    let defaults = load_defaults(pool).await?;
    let member_id = member.id;
    let settings = db::run(pool, move |conn| settings::load(conn, member_id)).await?;
    let Shown {
        form,
        errors,
        password_errors,
        delete_errors,
        saved,
    } = shown;
    let saved = match saved {
        Some("profile") => Some("Your profile is saved.".to_string()),
        Some("password") => Some("Your password is changed, and every other session is signed out.".to_string()),
        Some("notifications") => Some("Your mail choices are saved.".to_string()),
        Some("calendar") => Some("Your calendar has a new address; the old one no longer works.".to_string()),
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
            defaults: VisibilitySettings::of_defaults(&defaults),
            fields: &PROTECTED_FIELDS,
            errors,
            password_errors,
            delete_errors,
            saved,
            zones: &chrono_tz::TZ_VARIANTS,
            calendar_url: settings.calendar_url(mail),
            settings,
        },
    )
}

async fn me_page(
    page: Page,
    flash: web::Query<Flash>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let shown = Shown {
        saved: flash.saved.as_deref(),
        ..Shown::default()
    };
    show(&page, &pool, &mail, StatusCode::OK, shown).await
}

async fn profile_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<ProfileForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member = page.member()?;
    let (member_id, stored_links) = (member.id, member.link_list());
    let form = form.into_inner();
    let year = form.graduation_year.trim();
    let graduation_year = match year.parse::<i32>() {
        Ok(year) => Some(year),
        Err(_) if year.is_empty() => None,
        Err(_) => {
            let shown = Shown {
                form: Some(form),
                errors: FormErrors::single("graduation_year", "must be a year, like 2019"),
                ..Shown::default()
            };
            return show(&page, &pool, &mail, StatusCode::UNPROCESSABLE_ENTITY, shown).await;
        }
    };
    // A form sends every field: an emptied one is cleared.
    // "default" follows the association's default again; a visibility not
    // sent (an old form) stays as it is.
    let choice = |v: &str| match v.trim() {
        "" => None,
        DEFAULT => Some(None),
        v => Some(Some(v.to_string())),
    };
    let patch = ProfilePatch {
        full_name: Some(Some(form.full_name.clone())),
        graduation_year: Some(graduation_year),
        university: Some(Some(form.university.clone())),
        country: Some(Some(form.country.clone())),
        city: Some(Some(form.city.clone())),
        profession: Some(Some(form.profession.clone())),
        bio: Some(Some(crate::pages::typed_lines(&form.bio))),
        links: Some(Some(form.links.lines().map(str::to_string).collect())),
        // Typed by a person; the API takes a zone's name exactly as listed.
        time_zone: Some(Some(form.time_zone.trim().to_string())),
        listed_in_directory: Some(Some(form.listed_in_directory.is_some())),
        visibility: Some(VisibilityPatch {
            email: choice(&form.visibility_email),
            city: choice(&form.visibility_city),
            profession: choice(&form.visibility_profession),
            bio: choice(&form.visibility_bio),
            links: choice(&form.visibility_links),
            exchanges: choice(&form.visibility_exchanges),
        }),
        notifications: None,
        digest: None,
    };
    let result = match patch.checked(&stored_links) {
        Ok(changes) => profile::update(&pool, member_id, changes, Default::default())
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match FormErrors::from_result(result)? {
        Ok(()) => Ok(redirect("/me?saved=profile")),
        Err(errors) => {
            let shown = Shown {
                form: Some(form),
                errors,
                ..Shown::default()
            };
            show(&page, &pool, &mail, StatusCode::UNPROCESSABLE_ENTITY, shown).await
        }
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
    mail: web::Data<MailContext>,
    keys: web::Data<TokenKeys>,
    limits: web::Data<AuthLimits>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member = page.member()?.clone();
    let form = form.into_inner();
    let show_errors = |password_errors| {
        let shown = Shown {
            password_errors,
            ..Shown::default()
        };
        show(&page, &pool, &mail, StatusCode::UNPROCESSABLE_ENTITY, shown)
    };
    if form.new_password != form.repeat_password {
        return show_errors(FormErrors::single(
            "repeat_password",
            "is not the same as the new password",
        ))
        .await;
    }
    let member_id = member.id;
    let result = accounts::change_password(&pool, &limits, member, form.current_password, form.new_password).await;
    match FormErrors::from_result(result)? {
        // Every session ended with the change; this browser gets a new one.
        Ok(()) => session::sign_in_and_redirect(&req, &pool, &keys, member_id, "/me?saved=password").await,
        Err(errors) => show_errors(errors).await,
    }
}

/// The export as a file to keep.
async fn export_download(page: Page, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let member_id = page.member()?.id;
    let document = your_data::export_for(&pool, member_id).await?;
    let body = serde_json::to_string_pretty(&document).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"my-data.json\"",
        ))
        .body(body))
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    password: String,
}

async fn delete_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<DeleteForm>,
    pool: web::Data<DbPool>,
    limits: web::Data<AuthLimits>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member = page.member()?.clone();
    let form = form.into_inner();
    let result = your_data::delete_confirmed(&pool, &limits, &mail, member, form.password).await;
    match FormErrors::from_result(result)? {
        Ok(()) => {
            let mut response = render(&MessagePage {
                layout: Layout::new(&page.site, "Your account is deleted"),
                paragraphs: vec![
                    "Your personal data is erased and you are signed out everywhere.".into(),
                    "Thank you for having been part of the network.".into(),
                ],
            })?;
            session::clear_cookies(&mut response, &req);
            Ok(response)
        }
        Err(delete_errors) => {
            let shown = Shown {
                delete_errors,
                ..Shown::default()
            };
            show(&page, &pool, &mail, StatusCode::UNPROCESSABLE_ENTITY, shown).await
        }
    }
}

#[derive(Deserialize)]
struct NotificationsForm {
    #[serde(default)]
    csrf_token: String,
    notify_events: Option<String>,
    notify_announcements: Option<String>,
    #[serde(default)]
    digest_frequency: String,
    digest_events: Option<String>,
    digest_announcements: Option<String>,
    digest_new_members: Option<String>,
}

/// The checkboxes of mail the member takes: an unticked box is sent as nothing.
async fn notifications_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<NotificationsForm>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member_id = page.member()?.id;
    let topics: Vec<String> = [
        ("events", &form.digest_events),
        ("announcements", &form.digest_announcements),
        ("new_members", &form.digest_new_members),
    ]
    .into_iter()
    .filter(|(_, ticked)| ticked.is_some())
    .map(|(topic, _)| topic.to_string())
    .collect();
    let changes = SettingsChanges::checked(
        Some(&NotificationsPatch {
            events: Some(form.notify_events.is_some()),
            announcements: Some(form.notify_announcements.is_some()),
        }),
        // A form without the digest's part (an old page) leaves it as it is.
        (!form.digest_frequency.is_empty())
            .then(|| DigestPatch {
                frequency: Some(form.digest_frequency.clone()),
                topics: Some(topics),
            })
            .as_ref(),
    )?;
    db::run(&pool, move |conn| settings::apply(conn, member_id, &changes)).await?;
    Ok(redirect("/me?saved=notifications"))
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf_token: String,
}

/// A new address for the calendar feed, when the old one was shared by mistake.
async fn calendar_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<CsrfOnly>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member_id = page.member()?.id;
    db::run(&pool, move |conn| settings::renew_calendar_token(conn, member_id)).await?;
    Ok(redirect("/me?saved=calendar"))
}
