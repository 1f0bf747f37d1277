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

/// Schemathesis with every check: a request the document allows is taken,
/// and one it does not allow is refused. These are the classes of mismatch
/// it found, each fixed where every endpoint shares it.
#[tokio::test]
async fn what_the_fuzzer_found_with_every_check_stays_fixed() {
    use reqwest::Method;
    use serde_json::{json, Value};
    let alumni = crate::directory::Alumni::start().await;
    let (id, token) = alumni.member("leyla@alumni.test", "Leyla Hasanova", json!({})).await;
    let me = |body: Value| alumni.call(Method::PATCH, "/api/v1/me", Some(&token), Some(body));

    // serde reads a struct from an array too; a body, or an object in it,
    // must be an object.
    for body in [
        json!({"visibility": ["hidden", "hidden"]}),
        json!(["Leyla", 2015]),
        json!("Leyla"),
    ] {
        problem(me(body).await, 422).await;
    }
    // A whole number written with a fraction is an integer in JSON.
    let changed: Value = me(json!({"graduation_year": 2015.0})).await.json().await.unwrap();
    assert_eq!(changed["graduation_year"], 2015);
    problem(me(json!({"graduation_year": 2015.5})).await, 422).await;
    // Text is trimmed, but may not be longer than its bound as sent.
    let changed: Value = me(json!({"city": "\u{a0} Baku\t"})).await.json().await.unwrap();
    assert_eq!(changed["city"], "Baku");
    let body = problem(me(json!({"city": " ".repeat(101)})).await, 422).await;
    assert!(body["errors"]["city"].is_array(), "{body}");
    // A time zone is one of the document's list, spelt as it is there.
    problem(me(json!({"time_zone": " Asia/Baku"})).await, 422).await;
    let changed: Value = me(json!({"time_zone": "Asia/Baku"})).await.json().await.unwrap();
    assert_eq!(changed["time_zone"], "Asia/Baku");

    // `null`, where a body may be left out, is no body.
    let created = alumni
        .post(
            "/api/v1/events",
            &alumni.admin,
            json!({"title": "Novruz evening", "starts_at": "2027-03-20T19:00", "ends_at": "2027-03-20T22:00",
                   "time_zone": "Asia/Baku"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let event = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (action, status) in [("publish", "published"), ("cancel", "cancelled")] {
        let path = format!("/api/v1/events/{event}/{action}");
        let answer = alumni
            .call(Method::POST, &path, Some(&alumni.admin), Some(Value::Null))
            .await;
        assert_eq!(answer.status(), 200, "{action}");
        assert_eq!(answer.json::<Value>().await.unwrap()["status"], status);
    }
    for action in ["suspend", "reinstate"] {
        let path = format!("/api/v1/admin/members/{id}/{action}");
        let answer = alumni
            .call(Method::POST, &path, Some(&alumni.admin), Some(Value::Null))
            .await;
        assert_eq!(answer.status(), 200, "{action}");
    }
    let token = crate::directory::token(&alumni.app, "leyla@alumni.test", crate::directory::PASSWORD).await;

    // What the state of things refuses is a conflict (409), naming its field.
    alumni.program("Caspian Summer School").await;
    let again = alumni
        .post(
            "/api/v1/programs",
            &alumni.admin,
            json!({"name": " Caspian Summer School "}),
        )
        .await;
    let body = problem(again, 409).await;
    assert!(body["errors"]["name"].is_array(), "{body}");
    let to_self = alumni
        .post(
            &format!("/api/v1/members/{id}/contact-requests"),
            &token,
            json!({"message": "Salam!"}),
        )
        .await;
    let body = problem(to_self, 409).await;
    assert!(body["errors"]["member"].is_array(), "{body}");

    // A refresh token of another shape was never issued.
    let unknown = karvan::auth::tokens::new_opaque_token().0;
    for (refresh, status) in [("not a token".to_string(), 422), (unknown, 204)] {
        let body = json!({ "refresh_token": refresh });
        let answer = alumni.app.post_json("/api/v1/auth/logout", &body).await;
        assert_eq!(answer.status(), status, "{refresh}");
    }
}
