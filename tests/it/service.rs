//! Health, readiness and metrics.

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_and_readyz_answer_200_when_the_database_answers() {
    let app = spawn_app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_show_the_pool() {
    let app = spawn_app().await;
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    assert_eq!(app.get("/api/v1/no-such-thing/42").await.status(), 404);
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();

    let value = |series: &str| -> f64 {
        text.lines()
            .find(|line| line.starts_with(series))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        value(r#"karvan_http_requests_total{method="GET",route="/healthz",status="200"}"#),
        3.0
    );
    // Unknown paths are counted under one label, never one series per path.
    assert_eq!(
        value(r#"karvan_http_requests_total{method="GET",route="unmatched",status="404"}"#),
        1.0
    );
    assert!(!text.contains("no-such-thing"));
    assert_eq!(
        value(r#"karvan_http_request_duration_seconds_count{method="GET",route="/healthz"}"#),
        3.0
    );
    assert_eq!(value("karvan_db_pool_max_size"), 4.0);
    let idle = value(r#"karvan_db_pool_connections{state="idle"}"#);
    let in_use = value(r#"karvan_db_pool_connections{state="in_use"}"#);
    assert!(
        (0.0..=4.0).contains(&idle) && (0.0..=4.0).contains(&in_use),
        "{idle} {in_use}"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let app = spawn_app().await;
    let first = app.get("/").await;
    let second = app.get("/").await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(id(&first), id(&second));
    assert!(uuid::Uuid::parse_str(&id(&first)).is_ok());
    let headers = first.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(headers.contains_key("referrer-policy"));
}
