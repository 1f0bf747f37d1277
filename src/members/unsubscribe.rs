//! `/unsubscribe?token=`: the link in every bulk mail. A GET shows a page
//! with a button and changes nothing (mail scanners follow links); a POST
//! unsubscribes at once, with no cookie and no sign-in: from the page's
//! button, or from a mail client's one-click `List-Unsubscribe=One-Click`
//! (RFC 8058), which gets a plain 200. The page offers to undo it.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::session::Page;
use crate::db::{self, DbPool};
use crate::email::unsubscribe::Topic;
use crate::email::MailContext;
use crate::error::AppError;
use crate::members::settings;
use crate::pages::{render, render_with_status, Layout};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/unsubscribe").get(ask).post(unsubscribe))
        .service(web::resource("/unsubscribe/undo").post(resubscribe));
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
struct OneClick {
    #[serde(rename = "List-Unsubscribe")]
    list_unsubscribe: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/unsubscribe.html")]
struct UnsubscribePage {
    layout: Layout,
    token: String,
    topic: &'static str,
    /// `ask`, `done` or `undone`.
    state: &'static str,
}

fn verify(mail: &MailContext, token: &str) -> Result<(uuid::Uuid, Topic), AppError> {
    mail.unsubscribe
        .as_ref()
        .and_then(|key| key.verify(token.trim()))
        .ok_or_else(|| {
            AppError::bad_request(
                "This unsubscribe link is not valid: it may have been cut short. Open it again from the mail, \
                 or sign in and choose your mail on your account page.",
            )
        })
}

fn show(page: &Page, token: &str, topic: Topic, state: &'static str) -> Result<HttpResponse, AppError> {
    render(&UnsubscribePage {
        layout: page.layout("Unsubscribe"),
        token: token.to_string(),
        topic: topic.label(),
        state,
    })
}

async fn ask(
    page: Page,
    query: web::Query<TokenQuery>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let (_, topic) = verify(&mail, &query.token)?;
    show(&page, &query.token, topic, "ask")
}

async fn unsubscribe(
    page: Page,
    query: web::Query<TokenQuery>,
    form: Option<web::Form<OneClick>>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let (member, topic) = verify(&mail, &query.token)?;
    db::run(&pool, move |conn| settings::set_topic(conn, member, topic, false)).await?;
    let one_click = form.and_then(|f| f.into_inner().list_unsubscribe).as_deref() == Some("One-Click");
    if one_click {
        return Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("Unsubscribed.\n"));
    }
    render_with_status(
        actix_web::http::StatusCode::OK,
        &UnsubscribePage {
            layout: page.layout("Unsubscribed"),
            token: query.token.clone(),
            topic: topic.label(),
            state: "done",
        },
    )
}

async fn resubscribe(
    page: Page,
    query: web::Query<TokenQuery>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let (member, topic) = verify(&mail, &query.token)?;
    db::run(&pool, move |conn| settings::set_topic(conn, member, topic, true)).await?;
    show(&page, &query.token, topic, "undone")
}
