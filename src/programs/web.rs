//! Pages: `/programs` (the catalogue), `/admin/programs` (the board keeps
//! it), a member's records on `/me/exchanges/...`, and the board's verify
//! button on a member's record.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::csrf;
use crate::auth::session::{local_path, Page};
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::pages::{redirect, render, render_with_status, FormErrors, Layout};
use crate::programs::model::{degree_label, ExchangeRecord, Program, ProgramInput, RecordInput, DEGREE_LEVELS};
use crate::programs::store;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/programs").get(catalogue_page))
        .service(
            web::resource("/admin/programs")
                .get(admin_programs_page)
                .post(create_submit),
        )
        .service(
            web::resource("/admin/programs/{id}")
                .get(edit_program_page)
                .post(update_submit),
        )
        .service(web::resource("/admin/programs/{id}/delete").post(delete_submit))
        .service(web::resource("/admin/exchanges/{id}/verify").post(verify_submit))
        .service(
            web::resource("/me/exchanges")
                .get(my_records_page)
                .post(add_record_submit),
        )
        .service(
            web::resource("/me/exchanges/{id}")
                .get(edit_record_page)
                .post(update_record_submit),
        )
        .service(web::resource("/me/exchanges/{id}/delete").post(delete_record_submit));
}

#[derive(Template)]
#[template(path = "pages/programs/catalogue.html")]
struct CataloguePage {
    layout: Layout,
    programs: Vec<Program>,
}

async fn catalogue_page(page: Page, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let programs = db::run(&pool, store::list_programs).await?;
    render(&CataloguePage {
        layout: page.layout("Exchange programmes"),
        programs,
    })
}

// ---- The board keeps the catalogue ----

#[derive(Debug, Default, Deserialize)]
struct ProgramForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    sponsor: String,
    #[serde(default)]
    home_country: String,
    #[serde(default)]
    host_country: String,
    #[serde(default)]
    description: String,
}

impl ProgramForm {
    fn of(p: &Program) -> Self {
        Self {
            csrf_token: String::new(),
            name: p.name.clone(),
            sponsor: p.sponsor.clone().unwrap_or_default(),
            home_country: p.home_country.clone().unwrap_or_default(),
            host_country: p.host_country.clone().unwrap_or_default(),
            description: p.description.clone().unwrap_or_default(),
        }
    }

    fn input(&self) -> ProgramInput {
        let some = |v: &String| Some(Some(v.clone()));
        ProgramInput {
            name: Some(self.name.clone()),
            sponsor: some(&self.sponsor),
            home_country: some(&self.home_country),
            host_country: some(&self.host_country),
            description: some(&crate::pages::typed_lines(&self.description)),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/admin/programs.html")]
struct AdminProgramsPage {
    layout: Layout,
    programs: Vec<Program>,
    form: ProgramForm,
    errors: FormErrors,
}

async fn admin_programs_page(page: Page, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    page.admin()?;
    show_admin_programs(
        &page,
        &pool,
        StatusCode::OK,
        ProgramForm::default(),
        FormErrors::default(),
    )
    .await
}

async fn show_admin_programs(
    page: &Page,
    pool: &DbPool,
    status: StatusCode,
    form: ProgramForm,
    errors: FormErrors,
) -> Result<HttpResponse, AppError> {
    let programs = db::run(pool, store::list_programs).await?;
    render_with_status(
        status,
        &AdminProgramsPage {
            layout: page.layout("Programmes"),
            programs,
            form,
            errors,
        },
    )
}

async fn create_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<ProgramForm>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?.id;
    let form = form.into_inner();
    let result = match form.input().checked(true) {
        Ok(values) => db::run(&pool, move |conn| store::create_program(conn, admin, &values)).await,
        Err(e) => Err(e),
    };
    match FormErrors::from_result(result)? {
        Ok(_) => Ok(redirect("/admin/programs")),
        Err(errors) => show_admin_programs(&page, &pool, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await,
    }
}

#[derive(Template)]
#[template(path = "pages/admin/program.html")]
struct EditProgramPage {
    layout: Layout,
    id: Uuid,
    form: ProgramForm,
    errors: FormErrors,
}

async fn edit_program_page(page: Page, id: web::Path<Uuid>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    page.admin()?;
    let id = id.into_inner();
    let program = db::run(&pool, move |conn| store::find_program(conn, id)).await?;
    render(&EditProgramPage {
        layout: page.layout(program.name.clone()),
        id,
        form: ProgramForm::of(&program),
        errors: FormErrors::default(),
    })
}

async fn update_submit(
    req: HttpRequest,
    page: Page,
    id: web::Path<Uuid>,
    form: web::Form<ProgramForm>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?.id;
    let id = id.into_inner();
    let form = form.into_inner();
    let result = match form.input().checked(false) {
        Ok(changes) => db::run(&pool, move |conn| store::update_program(conn, admin, id, &changes)).await,
        Err(e) => Err(e),
    };
    match FormErrors::from_result(result)? {
        Ok(_) => Ok(redirect("/admin/programs")),
        Err(errors) => render_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &EditProgramPage {
                layout: page.layout(form.name.clone()),
                id,
                form,
                errors,
            },
        ),
    }
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf_token: String,
    return_to: Option<String>,
}

async fn delete_submit(
    req: HttpRequest,
    page: Page,
    id: web::Path<Uuid>,
    form: web::Form<ActionForm>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?.id;
    let id = id.into_inner();
    db::run(&pool, move |conn| store::delete_program(conn, admin, id)).await?;
    Ok(redirect("/admin/programs"))
}

async fn verify_submit(
    req: HttpRequest,
    page: Page,
    id: web::Path<Uuid>,
    form: web::Form<ActionForm>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?.id;
    let id = id.into_inner();
    let record = db::run(&pool, move |conn| store::verify_record(conn, admin, id)).await?;
    let back = local_path(form.return_to.as_deref()).unwrap_or_else(|| format!("/admin/members/{}", record.member_id));
    Ok(redirect(&back))
}

// ---- A member's records ----

#[derive(Debug, Default, Deserialize)]
struct RecordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    program_id: String,
    #[serde(default)]
    home_university: String,
    #[serde(default)]
    host_university: String,
    #[serde(default)]
    field_of_study: String,
    #[serde(default)]
    degree_level: String,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    end_date: String,
    #[serde(default)]
    scholarship: String,
}

impl RecordForm {
    fn of(r: &ExchangeRecord) -> Self {
        Self {
            csrf_token: String::new(),
            program_id: r.program_id.to_string(),
            home_university: r.home_university.clone(),
            host_university: r.host_university.clone(),
            field_of_study: r.field_of_study.clone(),
            degree_level: r.degree_level.clone(),
            start_date: r.start_date.to_string(),
            end_date: r.end_date.map(|d| d.to_string()).unwrap_or_default(),
            scholarship: r.scholarship.clone().unwrap_or_default(),
        }
    }

    fn input(&self) -> RecordInput {
        RecordInput {
            program_id: Some(self.program_id.clone()),
            home_university: Some(self.home_university.clone()),
            host_university: Some(self.host_university.clone()),
            field_of_study: Some(self.field_of_study.clone()),
            degree_level: Some(self.degree_level.clone()),
            start_date: Some(self.start_date.clone()),
            end_date: Some(Some(self.end_date.clone())),
            scholarship: Some(Some(self.scholarship.clone())),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/programs/my_records.html")]
struct MyRecordsPage {
    layout: Layout,
    records: Vec<ExchangeRecord>,
    programs: Vec<Program>,
    degree_levels: &'static [&'static str],
    /// The add form, or the edit form of `editing`.
    form: RecordForm,
    editing: Option<Uuid>,
    errors: FormErrors,
}

impl MyRecordsPage {
    fn degree(&self, level: &str) -> &'static str {
        degree_label(level)
    }
}

struct RecordsShown {
    form: RecordForm,
    editing: Option<Uuid>,
    errors: FormErrors,
}

async fn show_records(
    page: &Page,
    pool: &DbPool,
    status: StatusCode,
    shown: RecordsShown,
) -> Result<HttpResponse, AppError> {
    let member_id = page.member()?.id;
    let (records, programs) = db::run(pool, move |conn| {
        diesel::QueryResult::Ok((store::records_of(conn, &[member_id])?, store::list_programs(conn)?))
    })
    .await?;
    let title = if shown.editing.is_some() {
        "Change an exchange record"
    } else {
        "Your exchange programmes"
    };
    render_with_status(
        status,
        &MyRecordsPage {
            layout: page.layout(title),
            records,
            programs,
            degree_levels: &DEGREE_LEVELS,
            form: shown.form,
            editing: shown.editing,
            errors: shown.errors,
        },
    )
}

async fn my_records_page(page: Page, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let shown = RecordsShown {
        form: RecordForm::default(),
        editing: None,
        errors: FormErrors::default(),
    };
    show_records(&page, &pool, StatusCode::OK, shown).await
}

async fn add_record_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<RecordForm>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member_id = page.member()?.id;
    let form = form.into_inner();
    let result = match form.input().checked() {
        Ok(values) => db::run(&pool, move |conn| store::add_record(conn, member_id, &values)).await,
        Err(e) => Err(e),
    };
    match FormErrors::from_result(result)? {
        Ok(_) => Ok(redirect("/me/exchanges")),
        Err(errors) => {
            let shown = RecordsShown {
                form,
                editing: None,
                errors,
            };
            show_records(&page, &pool, StatusCode::UNPROCESSABLE_ENTITY, shown).await
        }
    }
}

async fn edit_record_page(page: Page, id: web::Path<Uuid>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let member_id = page.member()?.id;
    let id = id.into_inner();
    let record = db::run(&pool, move |conn| store::own_record(conn, member_id, id)).await?;
    let shown = RecordsShown {
        form: RecordForm::of(&record),
        editing: Some(id),
        errors: FormErrors::default(),
    };
    show_records(&page, &pool, StatusCode::OK, shown).await
}

async fn update_record_submit(
    req: HttpRequest,
    page: Page,
    id: web::Path<Uuid>,
    form: web::Form<RecordForm>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member_id = page.member()?.id;
    let id = id.into_inner();
    let form = form.into_inner();
    let result = match form.input().checked() {
        // The form sends every field: the record becomes what it says.
        Ok(values) => {
            db::run(&pool, move |conn| {
                store::update_record(conn, member_id, id, |_| Ok(values))
            })
            .await
        }
        Err(e) => Err(e),
    };
    match FormErrors::from_result(result)? {
        Ok(_) => Ok(redirect("/me/exchanges")),
        Err(errors) => {
            let shown = RecordsShown {
                form,
                editing: Some(id),
                errors,
            };
            show_records(&page, &pool, StatusCode::UNPROCESSABLE_ENTITY, shown).await
        }
    }
}

async fn delete_record_submit(
    req: HttpRequest,
    page: Page,
    id: web::Path<Uuid>,
    form: web::Form<ActionForm>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member_id = page.member()?.id;
    let id = id.into_inner();
    db::run(&pool, move |conn| store::delete_record(conn, member_id, id)).await?;
    Ok(redirect("/me/exchanges"))
}
