//! Account pages. The link in the verification mail opens a page whose
//! button posts the token, so a mail scanner that follows links verifies
//! nothing.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::api::verify_email_token;
use crate::auth::csrf::{self, CsrfToken};
use crate::db::DbPool;
use crate::email::MailContext;
use crate::error::{AppError, ErrorKind};
use crate::pages::{render, Layout, SiteInfo};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/verify-email")
            .get(verify_email_page)
            .post(verify_email_submit),
    );
}

#[derive(Template)]
#[template(path = "pages/auth/verify_email.html")]
struct VerifyEmailPage {
    layout: Layout,
    csrf_token: String,
    token: Option<String>,
}

/// A page the user (or a person's mail client) may open any number of times.
#[derive(Template)]
#[template(path = "pages/message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub paragraphs: Vec<String>,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn verify_email_page(
    query: web::Query<TokenQuery>,
    site: web::Data<SiteInfo>,
    csrf_token: CsrfToken,
) -> Result<HttpResponse, AppError> {
    // Opening the page changes nothing: only the button does.
    render(&VerifyEmailPage {
        layout: Layout::new(&site, "Confirm your email address"),
        csrf_token: csrf_token.0,
        token: query
            .into_inner()
            .token
            .filter(|t| !t.trim().is_empty() && t.len() <= 200),
    })
}

#[derive(Deserialize)]
struct VerifyForm {
    csrf_token: String,
    token: String,
}

async fn verify_email_submit(
    req: HttpRequest,
    form: web::Form<VerifyForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
    site: web::Data<SiteInfo>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let page = match verify_email_token(&pool, mail.get_ref().clone(), &form.token).await {
        Ok(_) => MessagePage {
            layout: Layout::new(&site, "Your address is confirmed"),
            paragraphs: vec![
                "Thank you. The board will now review your application, and you will hear from us by mail.".into(),
            ],
        },
        Err(e) if e.kind == ErrorKind::Validation => MessagePage {
            layout: Layout::new(&site, "This link cannot be used"),
            paragraphs: vec![
                "The link is not valid, was already used, or has expired (links work for 24 hours).".into(),
                "If you have confirmed your address already, there is nothing more to do.".into(),
            ],
        },
        Err(e) => return Err(e),
    };
    render(&page)
}
