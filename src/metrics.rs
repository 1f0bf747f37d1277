//! Prometheus metrics: one registry per application (tests run many apps in
//! one process), filled by a middleware for HTTP and read from the pool at
//! scrape time for the database.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::db::DbPool;
use crate::email::outbox::QueueStats;
use crate::email::sender::MailMetrics;

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    pool_connections: IntGaugeVec,
    pool_max_size: IntGauge,
    mail_queue: IntGaugeVec,
    mail_oldest_pending: Gauge,
    pub mail: MailMetrics,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("karvan".into()), None).expect("a valid prefix");
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route pattern and status",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer HTTP requests, by route pattern",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route"],
        )
        .expect("valid metric");
        let pool_connections = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections, by state"),
            &["state"],
        )
        .expect("valid metric");
        let pool_max_size =
            IntGauge::new("db_pool_max_size", "Most connections the database pool opens").expect("valid metric");
        let mail_queue = IntGaugeVec::new(
            Opts::new("mail_queue_messages", "Messages in the outbox not yet sent, by status"),
            &["status"],
        )
        .expect("valid metric");
        let mail_oldest_pending = Gauge::new(
            "mail_oldest_pending_age_seconds",
            "How long the oldest message not yet sent has waited",
        )
        .expect("valid metric");
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_max_size.clone()),
            Box::new(mail_queue.clone()),
            Box::new(mail_oldest_pending.clone()),
        ] {
            registry.register(collector).expect("each metric registered once");
        }
        let mail = MailMetrics::register(&registry);
        Self {
            registry,
            http_requests,
            http_duration,
            pool_connections,
            pool_max_size,
            mail_queue,
            mail_oldest_pending,
            mail,
        }
    }

    /// Other features register their metrics here.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.http_duration.with_label_values(&[method, route]).observe(seconds);
    }

    /// The outbox as of now; left as last seen when the database is away.
    pub fn set_mail_queue(&self, stats: &QueueStats) {
        for (status, count) in [
            ("pending", stats.pending),
            ("sending", stats.sending),
            ("failed", stats.failed),
        ] {
            self.mail_queue.with_label_values(&[status]).set(count);
        }
        self.mail_oldest_pending.set(stats.oldest_pending_age_seconds);
    }

    /// The Prometheus text exposition, with the pool's state as of now.
    pub fn render(&self, pool: &DbPool) -> String {
        let state = pool.state();
        let idle = i64::from(state.idle_connections);
        self.pool_connections.with_label_values(&["idle"]).set(idle);
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(i64::from(state.connections) - idle);
        self.pool_max_size.set(i64::from(pool.max_size()));
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding into memory cannot fail");
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts and times every request under its route pattern (`/members/{id}`),
/// never its raw path, so the number of series stays bounded.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let result = next.call(req).await;
    if let Some(metrics) = metrics {
        let (route, status) = match &result {
            Ok(response) => (
                response.request().match_pattern().unwrap_or_else(|| "unmatched".into()),
                response.status().as_u16(),
            ),
            Err(error) => ("unmatched".into(), error.as_response_error().status_code().as_u16()),
        };
        metrics.observe(&method, &route, status, started.elapsed().as_secs_f64());
    }
    result
}
