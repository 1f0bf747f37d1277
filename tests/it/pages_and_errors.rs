//! The home page, its assets, and how errors answer on the API and on pages.

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn the_home_page_is_rendered_on_the_layout_with_its_stylesheet() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    let html = response.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>"));
    // The association's name, escaped by the template, in the title and page.
    assert!(
        html.contains("<title>Welcome · Pakistan–Azerbaijan Exchange Alumni</title>"),
        "{html}"
    );
    assert!(
        html.contains(r#"<meta name="viewport""#),
        "phones get a responsive layout"
    );
    for asset in ["/static/simple.css", "/static/karvan.css", "/static/favicon.svg"] {
        assert!(html.contains(asset), "{asset} linked");
        let response = app.get(asset).await;
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.headers().contains_key("cache-control"));
        assert!(!response.bytes().await.unwrap().is_empty());
    }
    assert_eq!(app.get("/static/../Cargo.toml").await.status(), 404);
    assert_eq!(app.get("/static/secret.txt").await.status(), 404);
}

#[tokio::test]
async fn an_unknown_api_path_answers_404_problem_json() {
    let app = spawn_app().await;
    let body = problem(app.get("/api/v1/nothing-here").await, 404).await;
    assert_eq!(body["type"], "urn:karvan:problem:not-found");
}

#[tokio::test]
async fn an_unknown_page_answers_a_readable_404_page() {
    let app = spawn_app().await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    let html = response.text().await.unwrap();
    assert!(html.contains("Not found") && html.contains(r#"href="/""#), "{html}");
}

#[tokio::test]
async fn a_wrong_method_answers_405_as_problem_or_page() {
    let app = spawn_app().await;
    let api = app.post_raw("/api/v1/nothing-here", "application/json", "{}").await;
    // An unknown API path is 404 whatever the method.
    problem(api, 404).await;
    // Probes are read by machines: a problem.
    let probe = problem(app.post_raw("/healthz", "application/json", "{}").await, 405).await;
    assert_eq!(probe["type"], "urn:karvan:problem:method-not-allowed");
    // Pages are read by people: a page.
    let page = app.post_raw("/", "application/x-www-form-urlencoded", "a=b").await;
    assert_eq!(page.status(), 405);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.text().await.unwrap().contains("Method not allowed"));
}
