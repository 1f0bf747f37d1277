//! `/api/v1/me`.

use actix_web::{web, HttpResponse};

use crate::auth::extract::CurrentMember;
use crate::members::model::MeView;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/me").get(me));
}

/// Any signed-in member may read their own record, whatever their status,
/// so an applicant can see where their application stands.
async fn me(CurrentMember(member): CurrentMember) -> HttpResponse {
    HttpResponse::Ok().json(MeView::from(member))
}
