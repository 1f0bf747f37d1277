//! Who is asking: extractors that check the bearer token fully and load the
//! member, so a suspension takes effect on the next request.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use diesel::PgConnection;

use crate::auth::tokens::{AccessClaims, TokenKeys};
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::members::model::{Member, DELETED};
use crate::members::store;

/// Any signed-in member, whatever their status (for `/auth/*` and `/me`).
pub struct CurrentMember(pub Member);

/// A signed-in member whose status is `active`; others get 403.
pub struct ActiveMember(pub Member);

/// An active admin; anyone else gets 403.
pub struct AdminMember(pub Member);

/// For what anyone may see: `None` without an `Authorization` header; with
/// one, the token must be valid (401) and its member active (403), as
/// everywhere else.
pub struct MaybeActiveMember(pub Option<Member>);

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

async fn current(req: HttpRequest) -> Result<Member, AppError> {
    let token = bearer(&req).ok_or_else(|| AppError::unauthorized().with_detail("Send an access token."))?;
    member_for_token(&req, &token).await
}

/// The member an access token speaks for, checked fully (signature, claims,
/// and that the member's sessions were not ended after it was issued).
/// Shared by the bearer header of the API and the session cookie of pages.
pub async fn member_for_token(req: &HttpRequest, token: &str) -> Result<Member, AppError> {
    let claims = verified(req, token)?;
    let pool = req
        .app_data::<web::Data<DbPool>>()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("DbPool missing from app data")))?;
    db::run(pool, move |conn| member_of(conn, &claims)).await
}

/// The token's signature and claims checked (no database).
fn verified(req: &HttpRequest, token: &str) -> Result<AccessClaims, AppError> {
    let keys = req
        .app_data::<web::Data<TokenKeys>>()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("TokenKeys missing from app data")))?;
    keys.verify_access(token)
}

/// The member of checked claims, if their sessions were not ended since.
fn member_of(conn: &mut PgConnection, claims: &AccessClaims) -> Result<Member, AppError> {
    match store::find(conn, claims.sub)? {
        Some(member)
            if member.status != DELETED
                && member
                    .sessions_valid_after
                    .is_none_or(|after| claims.iat_ms >= after.timestamp_millis()) =>
        {
            Ok(member)
        }
        _ => Err(AppError::unauthorized().with_detail("The access token is not valid; sign in again.")),
    }
}

/// The member if active; 403 otherwise.
fn active(member: Member) -> Result<Member, AppError> {
    if !member.is_active() {
        return Err(AppError::forbidden().with_detail(format!(
            "Your membership is {}: only active members may do this.",
            member.status.replace('_', " ")
        )));
    }
    Ok(member)
}

/// A bearer token whose signature and claims are checked, its member not
/// yet loaded. For a handler that loads the member in the blocking call of
/// its own work rather than in one more before it (a hop to the blocking
/// pool and a connection checked out, per request): the directory's search,
/// the API's busiest call. The member is then checked as `ActiveMember` is.
pub struct ActiveBearer(AccessClaims);

impl ActiveBearer {
    /// The token's member: 401 if it no longer speaks for them, 403 if not active.
    pub fn member(&self, conn: &mut PgConnection) -> Result<Member, AppError> {
        active(member_of(conn, &self.0)?)
    }
}

impl FromRequest for ActiveBearer {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            bearer(req)
                .ok_or_else(|| AppError::unauthorized().with_detail("Send an access token."))
                .and_then(|token| verified(req, &token))
                .map(ActiveBearer),
        )
    }
}

impl FromRequest for CurrentMember {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { current(req).await.map(CurrentMember) })
    }
}

impl FromRequest for ActiveMember {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { active(current(req).await?).map(ActiveMember) })
    }
}

impl FromRequest for AdminMember {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let active = ActiveMember::from_request(req, payload);
        Box::pin(async move {
            let ActiveMember(member) = active.await?;
            if !member.is_admin() {
                return Err(AppError::forbidden().with_detail("Only board admins may do this."));
            }
            Ok(AdminMember(member))
        })
    }
}

impl FromRequest for MaybeActiveMember {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        if !req.headers().contains_key(header::AUTHORIZATION) {
            return Box::pin(async { Ok(MaybeActiveMember(None)) });
        }
        let active = ActiveMember::from_request(req, payload);
        Box::pin(async move { Ok(MaybeActiveMember(Some(active.await?.0))) })
    }
}
