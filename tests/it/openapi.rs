//! The OpenAPI document, the reference page that reads it, and what the
//! generated-input test (ci/api-fuzz.sh) found, kept fixed.

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn the_document_describes_the_api_and_the_reference_page_runs_from_the_binary() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc: serde_json::Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let search = &doc["paths"]["/api/v1/members"]["get"];
    assert_eq!(search["security"][0]["bearer"], serde_json::json!([]));
    let per_page = search["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "per_page")
        .unwrap();
    assert_eq!(per_page["schema"]["maximum"], 100, "bounds are in the document");
    assert_eq!(
        search["responses"]["422"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );

    let page = app.get("/api/docs").await;
    assert_eq!(page.status(), 200);
    // Swagger UI styles its elements inline; scripts stay our own files only.
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    let html = page.text().await.unwrap();
    for asset in [
        "/api/docs/swagger-ui-bundle.js",
        "/api/docs/swagger-ui.css",
        "/api/docs/reference.js",
    ] {
        assert!(html.contains(asset), "{asset} linked");
        let response = app.get(asset).await;
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.bytes().await.unwrap().len() > 100, "{asset}");
    }
    assert!(!html.contains("://"), "nothing is fetched from elsewhere: {html}");
    assert_eq!(app.get("/api/docs/other.js").await.status(), 404);
}

/// Schemathesis: a 405 must say which methods the route has (RFC 9110).
#[tokio::test]
async fn a_wrong_method_on_an_api_route_names_the_methods_it_has() {
    let app = spawn_app().await;
    let response = app.post_raw("/api/v1/members", "application/json", "{}").await;
    assert_eq!(response.headers()["allow"], "GET");
    let body = problem(response, 405).await;
    assert_eq!(body["type"], "urn:karvan:problem:method-not-allowed");
}

/// Schemathesis: a value the checks refuse must be one the document does
/// not allow. A value taken from a fixed list is an enum in the document,
/// the very list the checks accept (and, for a filter, empty for any).
#[tokio::test]
async fn values_from_a_fixed_list_are_the_documents_enums() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let param = |path: &str, name: &str| -> Vec<String> {
        let values = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} {name}"))["schema"]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} {name} is an enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect::<Vec<_>>();
        values
    };
    let any_or = |list: &[&str]| -> Vec<String> {
        std::iter::once("")
            .chain(list.iter().copied())
            .map(String::from)
            .collect()
    };
    use karvan::members::admin::{ROLES, STATUSES};
    assert_eq!(param("/api/v1/admin/members", "status"), any_or(&STATUSES));
    assert_eq!(param("/api/v1/admin/members", "role"), any_or(&ROLES));
    assert_eq!(
        param("/api/v1/admin/outbox", "status"),
        any_or(&karvan::email::outbox::STATUSES)
    );
    let role = &doc["components"]["schemas"]["RoleRequest"]["properties"]["role"]["enum"];
    assert_eq!(role, &serde_json::json!(ROLES), "{role}");
}
