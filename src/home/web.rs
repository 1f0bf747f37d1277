use actix_web::HttpResponse;
use askama::Template;

use crate::auth::session::Page;
use crate::error::AppError;
use crate::pages::{render, Layout};

#[derive(Template)]
#[template(path = "pages/home.html")]
struct HomePage {
    layout: Layout,
    signed_in: bool,
}

pub async fn home(page: Page) -> Result<HttpResponse, AppError> {
    render(&HomePage {
        layout: page.layout("Welcome"),
        signed_in: page.member.is_some(),
    })
}
