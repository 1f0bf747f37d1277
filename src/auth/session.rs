//! Signing in on the pages: the same tokens as the API, kept in HttpOnly,
//! SameSite=Lax cookies (Secure when the public URL is https). The access
//! token lives 15 minutes; when it is gone, the refresh cookie is exchanged
//! silently for a new pair, so a member stays signed in for 30 days of use.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use chrono::Duration;

use crate::auth::accounts::{self, RefreshRefused};
use crate::auth::csrf::CsrfToken;
use crate::auth::extract;
use crate::auth::store::REFRESH_TOKEN_DAYS;
use crate::auth::tokens::{TokenKeys, ACCESS_TOKEN_SECONDS};
use crate::db::DbPool;
use crate::email::MailContext;
use crate::error::AppError;
use crate::members::model::Member;
use crate::pages::{is_page, Layout, SiteInfo, Viewer};

pub const ACCESS_COOKIE: &str = "karvan_session";
pub const REFRESH_COOKIE: &str = "karvan_refresh";

/// A browser that opens two pages at once sends the same refresh cookie
/// twice; the second, within these seconds, is not taken for a stolen token.
/// Kept short: a thief's replay inside it is served once, not revoked.
const REUSE_GRACE_SECONDS: i64 = 10;

/// The access token this request is signed in with, after any silent refresh.
#[derive(Clone)]
struct SessionAccess(String);

/// Cookies carry `Secure` when the site is served over https.
pub fn secure_cookies(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<MailContext>>()
        .is_some_and(|m| m.public_url.scheme() == "https")
}

fn session_cookie(name: &'static str, value: String, max_age: time::Duration, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(max_age)
        .finish()
}

fn pair(access: String, refresh: String, secure: bool) -> [Cookie<'static>; 2] {
    [
        session_cookie(
            ACCESS_COOKIE,
            access,
            time::Duration::seconds(ACCESS_TOKEN_SECONDS),
            secure,
        ),
        session_cookie(
            REFRESH_COOKIE,
            refresh,
            time::Duration::days(REFRESH_TOKEN_DAYS),
            secure,
        ),
    ]
}

fn removal(secure: bool) -> [Cookie<'static>; 2] {
    [ACCESS_COOKIE, REFRESH_COOKIE].map(|name| session_cookie(name, String::new(), time::Duration::ZERO, secure))
}

/// Puts a new session's cookies on a response.
pub fn set_cookies(response: &mut HttpResponse, req: &HttpRequest, access: String, refresh: String) {
    for cookie in pair(access, refresh, secure_cookies(req)) {
        let _ = response.add_cookie(&cookie);
    }
}

/// Removes the session's cookies from the browser.
pub fn clear_cookies(response: &mut HttpResponse, req: &HttpRequest) {
    for cookie in removal(secure_cookies(req)) {
        let _ = response.add_cookie(&cookie);
    }
}

/// The refresh token the browser holds, if any.
pub fn refresh_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(REFRESH_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// Signs this browser in as `member_id` and sends it to `location`: the
/// browser's previous session (if any) ends, so none is left live behind a
/// new sign-in, a password change or an accepted invitation.
pub async fn sign_in_and_redirect(
    req: &HttpRequest,
    pool: &DbPool,
    keys: &TokenKeys,
    member_id: uuid::Uuid,
    location: &str,
) -> Result<HttpResponse, AppError> {
    if let Some(previous) = refresh_cookie(req) {
        accounts::end_session(pool, &previous).await?;
    }
    let (access, refresh) = accounts::start_session(pool, keys, member_id).await?;
    let mut response = crate::pages::redirect(location);
    set_cookies(&mut response, req, access, refresh);
    Ok(response)
}

/// Middleware for pages: finds the session's access token, exchanging the
/// refresh cookie for a new pair when the access token has expired.
pub async fn refresh_silently(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !is_page(req.path()) {
        return next.call(req).await;
    }
    let (Some(keys), Some(pool)) = (
        req.app_data::<web::Data<TokenKeys>>().cloned(),
        req.app_data::<web::Data<DbPool>>().cloned(),
    ) else {
        return next.call(req).await;
    };
    let access = req
        .cookie(ACCESS_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|token| keys.verify_access(token).is_ok());
    let refresh = refresh_cookie(req.request());
    let signed_in = access.is_some() || refresh.is_some();

    // What to do to the browser's cookies once the page is answered.
    let mut new_cookies: Option<[Cookie<'static>; 2]> = None;
    let secure = secure_cookies(req.request());
    match (access, refresh) {
        (Some(access), _) => {
            req.extensions_mut().insert(SessionAccess(access));
        }
        (None, Some(refresh)) => {
            match accounts::rotate_refresh(&pool, &refresh, Duration::seconds(REUSE_GRACE_SECONDS)).await {
                Ok(Ok((member_id, next_refresh))) => {
                    let access = keys.issue_access(member_id)?;
                    req.extensions_mut().insert(SessionAccess(access.clone()));
                    new_cookies = Some(pair(access, next_refresh, secure));
                }
                // The parallel request that rotated it sets the new cookies;
                // this one is served as the member, and changes no cookie
                // (a form posted meanwhile is not lost).
                Ok(Err(RefreshRefused::JustRotated(member_id))) => {
                    let access = keys.issue_access(member_id)?;
                    req.extensions_mut().insert(SessionAccess(access));
                }
                Ok(Err(_)) => new_cookies = Some(removal(secure)),
                // The database is away: the page itself will say so.
                Err(e) => tracing::warn!(error = %e, "could not refresh a page session"),
            }
        }
        (None, None) => {}
    }

    let mut response = next.call(req).await?;
    if signed_in && !response.headers().contains_key(header::CACHE_CONTROL) {
        // A page for one member is never kept by a shared cache.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    }
    // A handler that signed in or out has set the cookies itself.
    let handler_set_cookies = response
        .response()
        .cookies()
        .any(|c| c.name() == ACCESS_COOKIE || c.name() == REFRESH_COOKIE);
    if let (Some(cookies), false) = (new_cookies, handler_set_cookies) {
        for cookie in cookies {
            let _ = response.response_mut().add_cookie(&cookie);
        }
    }
    Ok(response)
}

/// What a page handler knows about its request: the site, the form token,
/// and who is signed in (any status).
pub struct Page {
    pub site: SiteInfo,
    pub csrf_token: String,
    pub member: Option<Member>,
}

impl Page {
    pub fn layout(&self, title: impl Into<String>) -> Layout {
        let mut layout = Layout::new(&self.site, title);
        layout.csrf_token = self.csrf_token.clone();
        layout.viewer = self.member.as_ref().map(|m| Viewer {
            full_name: m.full_name.clone(),
            is_admin: m.is_active() && m.is_admin(),
        });
        layout
    }

    /// The zone to show times in: the member's own, else the association's.
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.member
            .as_ref()
            .and_then(|m| m.time_zone.as_deref())
            .and_then(|z| z.parse().ok())
            .unwrap_or(self.site.time_zone)
    }

    /// The signed-in member; otherwise 401, which sends the browser to `/login`.
    pub fn member(&self) -> Result<&Member, AppError> {
        self.member
            .as_ref()
            .ok_or_else(|| AppError::unauthorized().with_detail("Sign in to see this page."))
    }

    /// A signed-in active member; 403 (saying `what` opens on approval) for
    /// an applicant or a suspended member.
    pub fn active(&self, what: &str) -> Result<&Member, AppError> {
        let member = self.member()?;
        if !member.is_active() {
            return Err(
                AppError::forbidden().with_detail(format!("{what} once the board has approved your membership."))
            );
        }
        Ok(member)
    }

    /// A signed-in active admin; 403 for anyone else who is signed in.
    pub fn admin(&self) -> Result<&Member, AppError> {
        let member = self.member()?;
        if !(member.is_active() && member.is_admin()) {
            return Err(AppError::forbidden().with_detail("Only board admins may see this page."));
        }
        Ok(member)
    }
}

impl FromRequest for Page {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let csrf = CsrfToken::from_request(&req, payload);
        Box::pin(async move {
            let site = req
                .app_data::<web::Data<SiteInfo>>()
                .map(|s| s.get_ref().clone())
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("SiteInfo missing from app data")))?;
            let access = req.extensions().get::<SessionAccess>().cloned();
            let member = match access {
                None => None,
                Some(SessionAccess(token)) => match extract::member_for_token(&req, &token).await {
                    Ok(member) => Some(member),
                    // Ended elsewhere (a password change, a suspension):
                    // the page is shown as to anyone signed out.
                    Err(e) if e.status() == actix_web::http::StatusCode::UNAUTHORIZED => None,
                    Err(e) => return Err(e),
                },
            };
            Ok(Page {
                site,
                csrf_token: csrf.await?.0,
                member,
            })
        })
    }
}

/// A `next` address to return to after signing in: only a path on this site.
pub fn local_path(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 1000
        && !next.chars().any(|c| c.is_control());
    local.then(|| next.to_string())
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_paths_of_this_site_are_returned_to() {
        assert_eq!(local_path(Some("/admin?x=1")).as_deref(), Some("/admin?x=1"));
        for foreign in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "/a\nb",
        ] {
            assert_eq!(local_path(Some(foreign)), None, "{foreign}");
        }
        assert_eq!(local_path(None), None);
    }
}
