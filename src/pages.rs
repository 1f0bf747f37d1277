//! What every HTML page shares: the layout's data, rendering, the stylesheet
//! and icon compiled into the binary, and friendly error pages.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse, ResponseError};
use askama::Template;

use actix_web::http::StatusCode;

use crate::error::{AppError, ErrorKind, FieldErrors};

/// Data the base layout needs on every page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub association_name: String,
    pub title: String,
    /// Who is signed in, for the navigation; `None` on pages for anyone.
    pub viewer: Option<Viewer>,
    /// For the sign-out button in the navigation.
    pub csrf_token: String,
}

#[derive(Debug, Clone)]
pub struct Viewer {
    pub full_name: String,
    pub is_admin: bool,
}

impl Layout {
    /// The layout as anyone sees it; `auth::session::Page::layout` adds
    /// the signed-in member.
    pub fn new(site: &SiteInfo, title: impl Into<String>) -> Self {
        Self {
            association_name: site.association_name.clone(),
            title: title.into(),
            viewer: None,
            csrf_token: String::new(),
        }
    }
}

/// Facts about the site that pages show, kept in app data.
#[derive(Debug, Clone)]
pub struct SiteInfo {
    pub association_name: String,
    /// The association's zone (`KARVAN_TIME_ZONE`), for members who chose none.
    pub time_zone: chrono_tz::Tz,
}

/// A moment as a person reads it, in their zone: "27 Nov 2026, 23:05 (+04)".
pub fn local_time(at: chrono::DateTime<chrono::Utc>, zone: chrono_tz::Tz) -> String {
    at.with_timezone(&zone).format("%-d %b %Y, %H:%M (%Z)").to_string()
}

/// Renders a page template into a 200 HTML response.
pub fn render(template: &impl Template) -> Result<HttpResponse, AppError> {
    render_with_status(StatusCode::OK, template)
}

/// A page with another status: a form shown again with its errors (422), or
/// a sign-in that failed (401).
pub fn render_with_status(status: StatusCode, template: &impl Template) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(template.render()?))
}

/// After a form is handled, the browser goes to `location` (303: see other).
pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A textarea's text as its `maxlength` counted it: a browser counts a line
/// break once but sends it as CRLF, and the checks count what is sent.
pub fn typed_lines(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// The errors of a form shown again, looked up by field name in templates.
#[derive(Debug, Default)]
pub struct FormErrors(FieldErrors);

impl FormErrors {
    /// The field errors of a failed check (or of a conflict that names its
    /// field); any other error is returned, for the error page.
    pub fn from_result<T>(result: Result<T, AppError>) -> Result<Result<T, FormErrors>, AppError> {
        match result {
            Ok(value) => Ok(Ok(value)),
            Err(e) if e.kind == ErrorKind::Validation || !e.field_errors.is_empty() => {
                Ok(Err(FormErrors(e.field_errors)))
            }
            Err(e) => Err(e),
        }
    }

    pub fn single(field: &str, message: &str) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_string(), vec![message.to_string()]);
        Self(errors)
    }

    /// All messages of `field`, joined, or nothing.
    pub fn get(&self, field: impl AsRef<str>) -> Option<String> {
        self.0.get(field.as_ref()).map(|messages| messages.join("; "))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    detail: Option<&'a str>,
    field_errors: Vec<String>,
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
        // A page that needs a signed-in member sends the browser to sign
        // in, and back here afterwards.
        Some(app_error) if app_error.kind == ErrorKind::Unauthorized => Some(redirect(&sign_in_path(&response))),
        Some(app_error) => Some(error_page(site.as_ref(), app_error)),
        None if attached.is_none() && response.headers().contains_key(header::CONTENT_TYPE) => None,
        None => {
            let mut app_error = AppError::new(ErrorKind::from_status(status));
            app_error.detail = attached.filter(|_| status.is_client_error()).map(|e| e.to_string());
            Some(if is_api {
                let mut problem = app_error.error_response();
                // A 405 names the methods the route has (RFC 9110).
                let allowed = (status == StatusCode::METHOD_NOT_ALLOWED)
                    .then(|| response.request().match_pattern())
                    .flatten()
                    .and_then(|pattern| crate::openapi::allowed_methods(&pattern));
                if let Some(allowed) = allowed.and_then(|a| header::HeaderValue::from_str(a).ok()) {
                    problem.headers_mut().insert(header::ALLOW, allowed);
                }
                problem
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

/// `/login?next=<this page>` (for a GET; a form posted after the session
/// ended returns to the home page).
fn sign_in_path<B>(response: &ServiceResponse<B>) -> String {
    let request = response.request();
    if request.method() != actix_web::http::Method::GET {
        return "/login".to_string();
    }
    let here = match request.query_string() {
        "" => request.path().to_string(),
        query => format!("{}?{query}", request.path()),
    };
    let encoded: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
    format!("/login?next={encoded}")
}

/// The JSON API and the probes that machines read answer problems; the rest are pages.
fn answers_problems(path: &str) -> bool {
    path.starts_with("/api/") || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Pages people read: they get a session, a form token and HTML errors.
pub fn is_page(path: &str) -> bool {
    !answers_problems(path) && !path.starts_with("/static/")
}

fn error_page(site: Option<&SiteInfo>, app_error: &AppError) -> HttpResponse {
    let site = site.cloned().unwrap_or_else(|| SiteInfo {
        association_name: "Karvan".to_string(),
        time_zone: chrono_tz::UTC,
    });
    let page = ErrorPage {
        layout: Layout::new(&site, app_error.kind.title()),
        status: app_error.status().as_u16(),
        detail: app_error.public_detail(),
        // A form posted with a bad value (not one a page offers) still says which.
        field_errors: app_error
            .field_errors
            .iter()
            .map(|(field, messages)| format!("{}: {}", field.replace('_', " "), messages.join("; ")))
            .collect(),
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
