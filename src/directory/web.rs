//! `/members` (search, for active members) and `/members/{id}` (one entry,
//! with the form to ask for an introduction).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::api::ListPage;
use crate::auth::csrf;
use crate::auth::session::Page;
use crate::contacts::api::ask;
use crate::db::{self, DbPool};
use crate::directory::api::{find, find_entry, viewer_of, DirectoryQuery};
use crate::directory::store::Entry;
use crate::email::MailContext;
use crate::error::AppError;
use crate::members::model::Member;
use crate::pages::{redirect, render_with_status, FormErrors, Layout};
use crate::programs::model::{degree_label, Program};
use crate::programs::store::list_programs;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/members").get(directory_page))
        .service(web::resource("/members/{id}").get(entry_page))
        .service(web::resource("/members/{id}/contact").post(contact_submit));
}

/// The search form's fields, as typed (a blank field is no filter).
#[derive(Debug, Default, Deserialize)]
struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    graduation_year: String,
    #[serde(default)]
    university: String,
    #[serde(default)]
    program_id: String,
    #[serde(default)]
    host_university: String,
    #[serde(default)]
    cohort_year: String,
    page: Option<i64>,
}

impl SearchForm {
    fn query(&self) -> Result<DirectoryQuery, FormErrors> {
        let text = |v: &String| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        let number = |field: &str, v: &String| match text(v) {
            None => Ok(None),
            Some(v) => v
                .parse::<i32>()
                .map(Some)
                .map_err(|_| FormErrors::single(field, "must be a year, like 2019")),
        };
        let program_id = match text(&self.program_id) {
            None => None,
            Some(id) => Some(Uuid::parse_str(&id).map_err(|_| FormErrors::single("program_id", "is not a programme"))?),
        };
        Ok(DirectoryQuery {
            q: text(&self.q),
            country: text(&self.country),
            graduation_year: number("graduation_year", &self.graduation_year)?,
            university: text(&self.university),
            program_id,
            host_university: text(&self.host_university),
            cohort_year: number("cohort_year", &self.cohort_year)?,
            page: self.page,
            per_page: Some(20),
        })
    }

    /// The search as a query string, for the next and previous pages.
    fn link(&self, page: i64) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &self.q)
            .append_pair("country", &self.country)
            .append_pair("graduation_year", &self.graduation_year)
            .append_pair("university", &self.university)
            .append_pair("program_id", &self.program_id)
            .append_pair("host_university", &self.host_university)
            .append_pair("cohort_year", &self.cohort_year)
            .append_pair("page", &page.to_string())
            .finish()
    }
}

#[derive(Template)]
#[template(path = "pages/directory/search.html")]
struct SearchPage {
    layout: Layout,
    form: SearchForm,
    errors: FormErrors,
    programs: Vec<Program>,
    results: Option<ListPage<Entry>>,
}

impl SearchPage {
    fn next_link(&self) -> Option<String> {
        let results = self.results.as_ref()?;
        results.has_next().then(|| self.form.link(results.page + 1))
    }

    fn previous_link(&self) -> Option<String> {
        let results = self.results.as_ref()?;
        (results.page > 1).then(|| self.form.link(results.page - 1))
    }
}

/// Only active members search the directory.
fn active(page: &Page) -> Result<&Member, AppError> {
    page.active("The directory opens")
}

async fn directory_page(
    page: Page,
    form: web::Query<SearchForm>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let member = active(&page)?;
    let form = form.into_inner();
    let programs = db::run(&pool, list_programs).await?;
    let (results, errors) = match form.query() {
        Err(errors) => (None, errors),
        Ok(query) => match FormErrors::from_result(find(&pool, member, &query).await)? {
            Ok(found) => (Some(found), FormErrors::default()),
            Err(errors) => (None, errors),
        },
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with_status(
        status,
        &SearchPage {
            layout: page.layout("Members"),
            form,
            errors,
            programs,
            results,
        },
    )
}

#[derive(Template)]
#[template(path = "pages/directory/entry.html")]
struct EntryPage {
    layout: Layout,
    entry: Entry,
    /// The viewer may ask for an introduction (an active member, not them).
    can_ask: bool,
    is_self: bool,
    asked: bool,
    message: String,
    errors: FormErrors,
}

impl EntryPage {
    fn degree(&self, level: &str) -> &'static str {
        degree_label(level)
    }
}

#[derive(Deserialize)]
struct AskedFlash {
    asked: Option<String>,
}

async fn show_entry(
    page: &Page,
    pool: &DbPool,
    id: Uuid,
    status: StatusCode,
    message: String,
    errors: FormErrors,
    asked: bool,
) -> Result<HttpResponse, AppError> {
    let viewer = viewer_of(page.member.as_ref());
    let entry = find_entry(pool, viewer, id).await?;
    let is_self = viewer.id == Some(entry.id);
    render_with_status(
        status,
        &EntryPage {
            layout: page.layout(entry.full_name.clone()),
            can_ask: viewer.id.is_some() && !is_self,
            is_self,
            entry,
            asked,
            message,
            errors,
        },
    )
}

async fn entry_page(
    page: Page,
    id: web::Path<Uuid>,
    flash: web::Query<AskedFlash>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let asked = flash.asked.is_some();
    show_entry(
        &page,
        &pool,
        id.into_inner(),
        StatusCode::OK,
        String::new(),
        FormErrors::default(),
        asked,
    )
    .await
}

#[derive(Deserialize)]
struct ContactForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    message: String,
}

async fn contact_submit(
    req: HttpRequest,
    page: Page,
    id: web::Path<Uuid>,
    form: web::Form<ContactForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member = active(&page)?.clone();
    let id = id.into_inner();
    let form = form.into_inner();
    match FormErrors::from_result(ask(&pool, &mail, member, id, &crate::pages::typed_lines(&form.message)).await)? {
        Ok(_) => Ok(redirect(&format!("/members/{id}?asked=1"))),
        Err(errors) => {
            show_entry(
                &page,
                &pool,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                form.message,
                errors,
                false,
            )
            .await
        }
    }
}
