//! The OpenAPI 3.1 document of the JSON API, generated from the handlers'
//! own annotations (`GET /api/v1/openapi.json`), and a reference page that
//! reads it (`/api/docs`, Swagger UI compiled into the binary: nothing is
//! fetched from elsewhere).
//!
//! Each feature's `api.rs` describes its operations in a `Doc`; [`document`]
//! merges them. What every operation shares is written here once: any error
//! it answers is a problem+json body; one that needs a token may answer 401,
//! one that takes JSON 400/413/415/422, and every one 503 while the
//! database is down; text parameters refuse control characters.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use std::sync::OnceLock;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

/// A text that `crate::api::Checks` accepts on one line has no control
/// character (Unicode Cc). Every text parameter (query or path) is such a
/// line, so [`document`] gives each one without a pattern or format this.
const ONE_LINE: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";

/// The security scheme's name in operations' `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";
/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Karvan",
        description = "The JSON API of Karvan, a membership service for alumni associations. \
                       Errors are RFC 9457 problem details; a 422 names each bad field in `errors`. \
                       Sign in with `POST /api/v1/auth/login` and send the access token as \
                       `Authorization: Bearer ...`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&Shared)
)]
struct ApiDoc;

/// The whole document: every feature's operations, with the shared parts.
/// A text that is one of `values`: the schema of a value the API takes from
/// a fixed list, written from the list its checks use (`schema_with`).
pub fn one_of<'v>(values: impl IntoIterator<Item = &'v str>) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values))
        .build()
}

pub fn document() -> serde_json::Value {
    let mut doc = ApiDoc::openapi();
    use crate::*;
    for part in [
        auth::api::Doc::openapi(),
        members::api::Doc::openapi(),
        members::admin::Doc::openapi(),
        roster::api::Doc::openapi(),
        email::admin::Doc::openapi(),
        audit::Doc::openapi(),
        contacts::api::Doc::openapi(),
        directory::api::Doc::openapi(),
        programs::api::Doc::openapi(),
        events::api::Doc::openapi(),
        announcements::api::Doc::openapi(),
        digest::api::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    Shared.modify(&mut doc);
    unique_operation_ids(one_line_parameters(doc))
}

/// utoipa names an operation after its handler, and several features have a
/// `list_api`: those that would repeat get their tag in front.
fn unique_operation_ids(mut doc: serde_json::Value) -> serde_json::Value {
    const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for item in doc["paths"].as_object().into_iter().flat_map(|p| p.values()) {
        for method in METHODS {
            if let Some(id) = item.get(method).and_then(|o| o["operationId"].as_str()) {
                *seen.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    let paths = doc.get_mut("paths").and_then(|p| p.as_object_mut());
    for item in paths.into_iter().flat_map(|p| p.values_mut()) {
        for method in METHODS {
            if let Some(operation) = item.get_mut(method) {
                let id = operation["operationId"].as_str().unwrap_or_default().to_string();
                if seen.get(&id).is_some_and(|n| *n > 1) {
                    let tag = operation["tags"][0].as_str().unwrap_or("api").to_string();
                    operation["operationId"] = format!("{tag}_{id}").into();
                }
            }
        }
    }
    doc
}

/// Gives `ONE_LINE` to each text parameter that has no pattern, format or
/// set of values of its own.
fn one_line_parameters(doc: utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut value = serde_json::to_value(&doc).expect("the OpenAPI document serialises");
    let operations = value["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let parameters = operation.get_mut("parameters").and_then(|p| p.as_array_mut());
        for schema in parameters.into_iter().flatten().filter_map(|p| p.get_mut("schema")) {
            let is_text =
                schema["type"] == "string" || schema["type"].as_array().is_some_and(|t| t.contains(&"string".into()));
            if is_text && ["pattern", "format", "enum"].iter().all(|k| schema.get(k).is_none()) {
                schema["pattern"] = ONE_LINE.into();
            }
        }
    }
    value
}

/// The document, built once for the process.
fn served() -> &'static serde_json::Value {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    DOCUMENT.get_or_init(document)
}

/// The document as served, built once.
fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| served().to_string())
}

/// The methods the API answers on a route pattern (`/api/v1/events/{id}`),
/// for the `Allow` header of a 405, as the document lists them (a test keeps
/// the document and the routes the same).
pub fn allowed_methods(pattern: &str) -> Option<&'static str> {
    static ALLOWED: OnceLock<std::collections::HashMap<String, String>> = OnceLock::new();
    ALLOWED
        .get_or_init(|| {
            let paths = served()["paths"].as_object().cloned().unwrap_or_default();
            paths
                .into_iter()
                .map(|(path, item)| {
                    let methods: Vec<String> = item
                        .as_object()
                        .map(|ops| ops.keys().map(|m| m.to_uppercase()).collect())
                        .unwrap_or_default();
                    (path, methods.join(", "))
                })
                .collect()
        })
        .get(pattern)
        .map(String::as_str)
}

/// Adds the bearer scheme, the responses every operation shares, and the
/// problem+json body to each error response that does not name one.
struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The access token of `POST /api/v1/auth/login`, valid 15 minutes."))
                    .build(),
            ),
        );
        let problem = || {
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(Ref::from_schema_name("Problem"))))
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let secured = operation.security.as_ref().is_some_and(|s| {
                    s.iter()
                        .any(|req| serde_json::to_value(req).is_ok_and(|v| v.get(BEARER).is_some()))
                });
                // What `error::json_error` answers for any JSON body.
                let takes_json = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|body| body.content.contains_key("application/json"));
                let responses = &mut operation.responses.responses;
                if takes_json {
                    for (status, description) in [
                        ("400", "The body is not valid JSON."),
                        ("413", "The body is larger than 256 KiB."),
                        ("415", "The body is not sent as `application/json`."),
                        (
                            "422",
                            "The body has another shape, or a field is invalid (named in `errors`).",
                        ),
                    ] {
                        responses
                            .entry(status.into())
                            .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(description).build()));
                    }
                }
                if secured && !responses.contains_key("401") {
                    responses.insert(
                        "401".into(),
                        RefOr::T(ResponseBuilder::new().description("No valid access token.").build()),
                    );
                }
                responses.entry("503".into()).or_insert_with(|| {
                    RefOr::T(
                        ResponseBuilder::new()
                            .description("The database is unavailable; try again after `Retry-After` seconds.")
                            .build(),
                    )
                });
                for (status, response) in responses.iter_mut() {
                    if let (true, RefOr::T(response)) = (status.starts_with('4') || status.starts_with('5'), response) {
                        if response.content.is_empty() {
                            response.content.insert(PROBLEM_JSON.into(), problem());
                        }
                    }
                }
            }
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/openapi.json").get(openapi_json))
        .service(web::resource("/api/docs").get(reference_page))
        .service(web::resource("/api/docs/{name}").get(reference_asset));
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(document_json())
}

const REFERENCE_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Karvan API reference</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css">
</head>
<body>
<div id="reference"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/reference.js"></script>
</body>
</html>
"#;

/// Starts Swagger UI on the document; a script file of its own, as the
/// service's content security policy allows no inline script.
const REFERENCE_JS: &str = r##"window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#reference",
  deepLinking: true,
  validatorUrl: null
});
"##;

const SWAGGER_UI_JS: &[u8] = include_bytes!("../../static/vendor/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_UI_CSS: &[u8] = include_bytes!("../../static/vendor/swagger-ui/swagger-ui.css");

/// Swagger UI sets styles inline, which the policy of every other page
/// forbids; this page allows them and nothing else.
const REFERENCE_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                                script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

async fn reference_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, REFERENCE_POLICY))
        .body(REFERENCE_PAGE)
}

async fn reference_asset(name: web::Path<String>) -> Result<HttpResponse, crate::error::AppError> {
    let (body, content_type): (&'static [u8], &str) = match name.as_str() {
        "swagger-ui-bundle.js" => (SWAGGER_UI_JS, "text/javascript; charset=utf-8"),
        "swagger-ui.css" => (SWAGGER_UI_CSS, "text/css; charset=utf-8"),
        "reference.js" => (REFERENCE_JS.as_bytes(), "text/javascript; charset=utf-8"),
        _ => return Err(crate::error::AppError::not_found()),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// Every `(METHOD, /api/... path)` that a `web::resource` in `src/`
    /// routes, read from the source (outside test modules).
    fn routed_operations() -> BTreeSet<(String, String)> {
        fn visit(dir: &Path, found: &mut BTreeSet<(String, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    visit(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let text = text.split("#[cfg(test)]").next().unwrap();
                    for chunk in text.split("web::resource(\"").skip(1) {
                        let (route, rest) = chunk.split_once('"').unwrap();
                        if !route.starts_with("/api/v1/") || route == "/api/v1/openapi.json" {
                            continue;
                        }
                        let routing = rest.split(';').next().unwrap().split("web::resource(").next().unwrap();
                        for method in ["get", "post", "put", "patch", "delete"] {
                            if routing.contains(&format!(".{method}(")) {
                                found.insert((method.to_string(), route.to_string()));
                            }
                        }
                    }
                }
            }
        }
        let mut found = BTreeSet::new();
        visit(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
        found
    }

    #[test]
    fn every_route_of_the_api_is_in_the_document() {
        let doc = document();
        let routed = routed_operations();
        assert!(routed.len() > 40, "the routes were not found in the source: {routed:?}");
        let missing: Vec<_> = routed
            .iter()
            .filter(|(method, path)| doc["paths"][path][method].is_null())
            .map(|(method, path)| format!("{} {path}", method.to_uppercase()))
            .collect();
        assert!(
            missing.is_empty(),
            "routes missing from the OpenAPI document:\n{}",
            missing.join("\n")
        );
        // And the document names no operation that is not routed.
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                assert!(
                    routed.contains(&(method.clone(), path.clone())),
                    "{method} {path} is documented but not routed"
                );
            }
        }
    }

    #[test]
    fn every_error_response_is_a_problem_and_secured_operations_answer_401() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["components"]["securitySchemes"][BEARER]["scheme"], "bearer");
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            response["content"][PROBLEM_JSON]["schema"]["$ref"], "#/components/schemas/Problem",
                            "{method} {path} {status}"
                        );
                    }
                }
                let secured = operation["security"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r.get(BEARER).is_some()));
                if secured {
                    assert!(!operation["responses"]["401"].is_null(), "{method} {path}");
                }
                assert!(!operation["responses"]["503"].is_null(), "{method} {path}");
                if !operation["requestBody"]["content"]["application/json"].is_null() {
                    for status in ["400", "413", "415", "422"] {
                        assert!(!operation["responses"][status].is_null(), "{method} {path} {status}");
                    }
                }
            }
        }
    }

    #[test]
    fn text_parameters_refuse_control_characters_as_the_checks_do() {
        let doc = document();
        let parameter = |name: &str| {
            doc["paths"]["/api/v1/members"]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap()["schema"]
                .clone()
        };
        assert_eq!(parameter("country")["pattern"], ONE_LINE);
        let mut ids = std::collections::HashSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_string()), "operationId {id} repeats");
            }
        }
        let no_parameters = &doc["paths"]["/api/v1/admin/digests"]["get"];
        assert!(no_parameters.get("parameters").is_none(), "{no_parameters}");
        assert!(parameter("program_id")["pattern"].is_null(), "a uuid has its format");
        // A parameter with a pattern of its own keeps it.
        assert_ne!(parameter("q")["pattern"], ONE_LINE);
        assert!(parameter("q")["pattern"].is_string());
    }
}
