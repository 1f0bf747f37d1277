//! What every HTML page shares: the layout's data, rendering, the stylesheet
//! and icon compiled into the binary, and friendly error pages.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse, ResponseError};
use askama::Template;

use crate::error::{AppError, ErrorKind};

/// Data the base layout needs on every page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub association_name: String,
    pub title: String,
}

impl Layout {
    pub fn new(site: &SiteInfo, title: impl Into<String>) -> Self {
        Self {
            association_name: site.association_name.clone(),
            title: title.into(),
        }
    }
}

/// Facts about the site that pages show, kept in app data.
#[derive(Debug, Clone)]
pub struct SiteInfo {
    pub association_name: String,
}

/// Renders a page template into a 200 HTML response.
pub fn render(template: &impl Template) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(template.render()?))
}

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    detail: Option<&'a str>,
}

/// Makes every error answer the same way: a problem (RFC 9457) under `/api/`
/// and on the probes,
/// a page a person can read elsewhere. Errors that did not come from an
/// [`AppError`] (a 405 from a resource, an error of actix's own) are given one
/// first. A page a handler rendered itself (it set a content type) is kept.
pub async fn error_responses(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let is_api = answers_problems(req.path());
    let site = req.app_data::<web::Data<SiteInfo>>().map(|s| s.get_ref().clone());
    let response = next.call(req).await?;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(response.map_into_left_body());
    }
    let attached = response.response().error();
    let replacement = match attached.and_then(|e| e.as_error::<AppError>()) {
        Some(_) if is_api => None,
        Some(app_error) => Some(error_page(site.as_ref(), app_error)),
        None if attached.is_none() && response.headers().contains_key(header::CONTENT_TYPE) => None,
        None => {
            let mut app_error = AppError::new(ErrorKind::from_status(status));
            app_error.detail = attached.filter(|_| status.is_client_error()).map(|e| e.to_string());
            Some(if is_api {
                app_error.error_response()
            } else {
                error_page(site.as_ref(), &app_error)
            })
        }
    };
    match replacement {
        None => Ok(response.map_into_left_body()),
        Some(new_response) => {
            let (request, _) = response.into_parts();
            Ok(ServiceResponse::new(request, new_response).map_into_right_body())
        }
    }
}

/// The JSON API and the probes that machines read answer problems; the rest are pages.
fn answers_problems(path: &str) -> bool {
    path.starts_with("/api/") || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

fn error_page(site: Option<&SiteInfo>, app_error: &AppError) -> HttpResponse {
    let page = ErrorPage {
        layout: Layout {
            association_name: site.map_or_else(|| "Karvan".to_string(), |s| s.association_name.clone()),
            title: app_error.kind.title().to_string(),
        },
        status: app_error.status().as_u16(),
        detail: app_error.public_detail(),
    };
    let body = page.render().unwrap_or_else(|_| app_error.kind.title().to_string());
    let mut response = HttpResponse::build(app_error.status());
    response.content_type("text/html; charset=utf-8");
    if let Some(secs) = app_error.retry_after_secs {
        response.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    response.body(body)
}

const SIMPLE_CSS: &str = include_str!("../static/vendor/simple.css");
const KARVAN_CSS: &str = include_str!("../static/karvan.css");
const FAVICON_SVG: &str = include_str!("../static/favicon.svg");

/// The assets are compiled in, so the binary runs from any folder.
pub async fn static_asset(name: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (body, content_type) = match name.as_str() {
        "simple.css" => (SIMPLE_CSS, "text/css; charset=utf-8"),
        "karvan.css" => (KARVAN_CSS, "text/css; charset=utf-8"),
        "favicon.svg" => (FAVICON_SVG, "image/svg+xml"),
        _ => return Err(AppError::not_found()),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body))
}
