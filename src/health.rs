//! Liveness, readiness and metrics, for the volunteer's monitoring and the
//! load balancer. None of them needs a token.

use actix_web::{web, HttpResponse};
use diesel::RunQueryDsl;

use crate::db::{self, DbPool};
use crate::email::outbox;
use crate::error::AppError;
use crate::metrics::Metrics;

/// The process is up and answering.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// The database answers too; a load balancer sends traffic only then.
pub async fn readyz(pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    // Any failure here means "not ready", never a 500.
    db::run(&pool, |conn| {
        diesel::sql_query("SELECT 1")
            .execute(conn)
            .map_err(AppError::unavailable)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

pub async fn metrics(metrics: web::Data<Metrics>, pool: web::Data<DbPool>) -> HttpResponse {
    // The scrape still answers while the database is away: the queue gauges
    // then keep their last values, and readyz tells the rest.
    if let Ok(stats) = db::run(&pool, outbox::unsent_stats).await {
        metrics.set_mail_queue(&stats);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(&pool))
}
