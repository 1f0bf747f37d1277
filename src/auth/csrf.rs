//! CSRF protection for forms: a random token in an HttpOnly cookie, repeated
//! in a hidden field of every form, and compared on POST (double submit).
//! Another site can make a browser post a form, but cannot read the cookie to
//! put the same value in the field. SameSite=Lax, not Strict: a member who
//! arrives from a link in a mail keeps the token their open tabs' forms
//! carry. On https the cookie is `__Host-` prefixed, so no sibling subdomain
//! can plant a token of its choosing.

use std::future::{ready, Ready};

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::auth::tokens::new_opaque_token;
use crate::error::AppError;

/// The cookie's name: `__Host-karvan_csrf` on https (the prefix needs
/// `Secure`), `karvan_csrf` on plain http.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-karvan_csrf"
    } else {
        "karvan_csrf"
    }
}

/// The token the page's forms must carry.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

/// Gives every page request a token, setting the cookie when it is new.
pub async fn ensure_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !crate::pages::is_page(req.path()) {
        return next.call(req).await;
    }
    let secure = crate::auth::session::secure_cookies(req.request());
    let existing = req
        .cookie(cookie_name(secure))
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == 43 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    let (token, fresh) = match existing {
        Some(token) => (token, false),
        None => (new_opaque_token().0, true),
    };
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.call(req).await?;
    if fresh {
        let cookie = Cookie::build(cookie_name(secure), token)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure)
            .finish();
        let _ = response.response_mut().add_cookie(&cookie);
    }
    Ok(response)
}

impl FromRequest for CsrfToken {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<CsrfToken>()
                .cloned()
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("the CSRF middleware is not installed"))),
        )
    }
}

/// A form is accepted only with the token of the browser's own cookie.
pub fn check(req: &HttpRequest, submitted: &str) -> Result<(), AppError> {
    let name = cookie_name(crate::auth::session::secure_cookies(req));
    let expected = req.cookie(name).map(|c| c.value().to_string()).unwrap_or_default();
    let same = !expected.is_empty()
        && expected.len() == submitted.len()
        && expected
            .bytes()
            .zip(submitted.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(AppError::forbidden().with_detail(
            "This form has expired or did not come from this site. Go back, reload the page and try again.",
        ))
    }
}
