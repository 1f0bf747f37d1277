//! `/me/contacts`: the introductions a member asked for and was asked for,
//! with Accept and Ignore buttons.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::csrf;
use crate::auth::session::Page;
use crate::contacts::store::{self, ContactView};
use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::error::AppError;
use crate::pages::{local_time, redirect, render, Layout};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/me/contacts").get(contacts_page))
        .service(web::resource("/me/contacts/{id}/{answer}").post(answer_submit));
}

#[derive(Template)]
#[template(path = "pages/contacts/contacts.html")]
struct ContactsPage {
    layout: Layout,
    incoming: Vec<(ContactView, String)>,
    outgoing: Vec<(ContactView, String)>,
}

async fn contacts_page(page: Page, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let member = page.active("Introductions open")?;
    let member_id = member.id;
    let zone = page.time_zone();
    let views = db::run(&pool, move |conn| store::list(conn, member_id)).await?;
    let (incoming, outgoing): (Vec<_>, Vec<_>) = views
        .into_iter()
        .filter(|v| !(v.direction == "incoming" && v.status == "ignored"))
        .map(|v| {
            let at = local_time(v.created_at, zone);
            (v, at)
        })
        .partition(|(v, _)| v.direction == "incoming");
    render(&ContactsPage {
        layout: page.layout("Introductions"),
        incoming,
        outgoing,
    })
}

#[derive(Deserialize)]
struct AnswerForm {
    #[serde(default)]
    csrf_token: String,
}

async fn answer_submit(
    req: HttpRequest,
    page: Page,
    path: web::Path<(Uuid, String)>,
    form: web::Form<AnswerForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member = page.active("Introductions open")?;
    let member_id = member.id;
    let (id, answer) = path.into_inner();
    let mail = mail.get_ref().clone();
    match answer.as_str() {
        "accept" => db::run(&pool, move |conn| store::accept(conn, &mail, member_id, id)).await?,
        "ignore" => db::run(&pool, move |conn| store::ignore(conn, member_id, id)).await?,
        _ => return Err(AppError::not_found()),
    };
    Ok(redirect("/me/contacts"))
}
