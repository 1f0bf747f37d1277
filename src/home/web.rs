use actix_web::{web, HttpResponse};
use askama::Template;

use crate::error::AppError;
use crate::pages::{render, Layout, SiteInfo};

#[derive(Template)]
#[template(path = "pages/home.html")]
struct HomePage {
    layout: Layout,
}

pub async fn home(site: web::Data<SiteInfo>) -> Result<HttpResponse, AppError> {
    render(&HomePage {
        layout: Layout::new(&site, "Welcome"),
    })
}
