//! Pages: `/announcements` (members read the news) and
//! `/admin/announcements` (the board writes, schedules and deletes it).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::announcements::model::{AnnouncementInput, AnnouncementView};
use crate::announcements::store;
use crate::auth::csrf;
use crate::auth::session::Page;
use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::error::AppError;
use crate::pages::{local_time, redirect, render, render_with_status, FormErrors, Layout};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/announcements").get(list_page))
        .service(web::resource("/announcements/{id}").get(announcement_page))
        .service(
            web::resource("/admin/announcements")
                .get(admin_page)
                .post(create_submit),
        )
        .service(web::resource("/admin/announcements/{id}/delete").post(delete_submit));
}

/// An announcement with its date in the reader's zone.
pub struct Shown {
    pub view: AnnouncementView,
    pub when: String,
}

pub fn shown(views: Vec<AnnouncementView>, page: &Page) -> Vec<Shown> {
    views
        .into_iter()
        .map(|view| Shown {
            when: local_time(view.published_at, page.time_zone()),
            view,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "pages/announcements/list.html")]
struct ListPage {
    layout: Layout,
    items: Vec<Shown>,
}

async fn list_page(page: Page, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    page.active("Announcements open")?;
    let (views, _) = db::run(&pool, |conn| store::list(conn, false, 1, 50)).await?;
    render(&ListPage {
        layout: page.layout("Announcements"),
        items: shown(views, &page),
    })
}

#[derive(Template)]
#[template(path = "pages/announcements/announcement.html")]
struct AnnouncementPage {
    layout: Layout,
    item: Shown,
}

async fn announcement_page(page: Page, id: web::Path<Uuid>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let admin = page.active("Announcements open")?.is_admin();
    let id = id.into_inner();
    let view = db::run(&pool, move |conn| store::find(conn, id, admin)).await?;
    render(&AnnouncementPage {
        layout: page.layout(view.title.clone()),
        item: shown(vec![view], &page).remove(0),
    })
}

#[derive(Debug, Default, Deserialize)]
struct AnnouncementForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body_md: String,
    /// Local to the board member's zone; empty publishes at once.
    #[serde(default)]
    publish_at: String,
    email_now: Option<String>,
}

impl AnnouncementForm {
    fn input(&self, zone: chrono_tz::Tz) -> Result<AnnouncementInput, AppError> {
        let publish_at = match self.publish_at.trim() {
            "" => None,
            text => {
                let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
                    .ok()
                    .and_then(|local| zone.from_local_datetime(&local).earliest())
                    .ok_or_else(|| AppError::invalid_field("publish_at", "must be a date and time"))?;
                Some(local.with_timezone(&Utc).to_rfc3339())
            }
        };
        Ok(AnnouncementInput {
            title: Some(self.title.clone()),
            body_md: Some(crate::pages::typed_lines(&self.body_md)),
            email_now: self.email_now.is_some(),
            publish_at,
        })
    }
}

#[derive(Template)]
#[template(path = "pages/admin/announcements.html")]
struct AdminPage {
    layout: Layout,
    items: Vec<Shown>,
    form: AnnouncementForm,
    errors: FormErrors,
    zone: String,
}

async fn show_admin(
    page: &Page,
    pool: &DbPool,
    status: StatusCode,
    form: AnnouncementForm,
    errors: FormErrors,
) -> Result<HttpResponse, AppError> {
    page.admin()?;
    let (views, _) = db::run(pool, |conn| store::list(conn, true, 1, 100)).await?;
    render_with_status(
        status,
        &AdminPage {
            layout: page.layout("Announcements"),
            items: shown(views, page),
            form,
            errors,
            zone: page.time_zone().name().to_string(),
        },
    )
}

async fn admin_page(page: Page, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let form = AnnouncementForm {
        email_now: Some("on".into()),
        ..AnnouncementForm::default()
    };
    show_admin(&page, &pool, StatusCode::OK, form, FormErrors::default()).await
}

async fn create_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<AnnouncementForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?.id;
    let form = form.into_inner();
    let mail = mail.get_ref().clone();
    let result = match form.input(page.time_zone()).and_then(|input| input.checked(Utc::now())) {
        Ok(values) => db::run(&pool, move |conn| store::create(conn, admin, &values, &mail)).await,
        Err(e) => Err(e),
    };
    match FormErrors::from_result(result)? {
        Ok(_) => Ok(redirect("/admin/announcements")),
        Err(errors) => show_admin(&page, &pool, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await,
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf_token: String,
}

async fn delete_submit(
    req: HttpRequest,
    page: Page,
    id: web::Path<Uuid>,
    form: web::Form<CsrfOnly>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?.id;
    let id = id.into_inner();
    db::run(&pool, move |conn| store::delete(conn, admin, id)).await?;
    Ok(redirect("/admin/announcements"))
}
