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
use crate::pages::{render, Layout};

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

/// The undo form: for the digest, the rhythm to take it at again.
#[derive(Deserialize)]
struct Undo {
    frequency: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/unsubscribe.html")]
struct UnsubscribePage {
    layout: Layout,
    token: String,
    topic: &'static str,
    /// `ask`, `done` or `undone`.
    state: &'static str,
    /// The digest: its rhythm before the link stopped it (offered back
    /// first), or the one taken again. `None` for other topics.
    rhythm: Option<&'static str>,
}

impl UnsubscribePage {
    /// The digest's rhythm the page offers besides the one it had.
    fn other_rhythm(&self) -> &'static str {
        match self.rhythm {
            Some("weekly") => "monthly",
            _ => "weekly",
        }
    }
}

/// The rhythms the undo form offers, as stored.
fn rhythm(text: &str) -> &'static str {
    match text {
        "monthly" => "monthly",
        _ => "weekly",
    }
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

fn show(
    page: &Page,
    token: &str,
    topic: Topic,
    state: &'static str,
    rhythm: Option<&'static str>,
) -> Result<HttpResponse, AppError> {
    render(&UnsubscribePage {
        layout: page.layout(if state == "done" { "Unsubscribed" } else { "Unsubscribe" }),
        token: token.to_string(),
        topic: topic.label(),
        state,
        rhythm: rhythm.filter(|_| topic == Topic::Digest),
    })
}

async fn ask(
    page: Page,
    query: web::Query<TokenQuery>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let (_, topic) = verify(&mail, &query.token)?;
    show(&page, &query.token, topic, "ask", None)
}

async fn unsubscribe(
    page: Page,
    query: web::Query<TokenQuery>,
    form: Option<web::Form<OneClick>>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let (member, topic) = verify(&mail, &query.token)?;
    let before = db::run(&pool, move |conn| {
        settings::set_topic(conn, member, topic, settings::LinkChoice::Stop)
    })
    .await?;
    let one_click = form.and_then(|f| f.into_inner().list_unsubscribe).as_deref() == Some("One-Click");
    if one_click {
        return Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("Unsubscribed.\n"));
    }
    // Already off (the mail client's one-click went first): no rhythm to give back.
    let before = (before != "off").then(|| rhythm(&before));
    show(&page, &query.token, topic, "done", before)
}

async fn resubscribe(
    page: Page,
    query: web::Query<TokenQuery>,
    form: Option<web::Form<Undo>>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let (member, topic) = verify(&mail, &query.token)?;
    let asked = form.and_then(|f| f.into_inner().frequency).unwrap_or_default();
    let again = rhythm(&asked);
    db::run(&pool, move |conn| {
        settings::set_topic(conn, member, topic, settings::LinkChoice::Take { rhythm: again })
    })
    .await?;
    show(&page, &query.token, topic, "undone", Some(again))
}
