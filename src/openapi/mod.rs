//! The OpenAPI 3.1 document of the JSON API, generated from the handlers'
//! own annotations (`GET /api/v1/openapi.json`), and a reference page that
//! reads it (`/api/docs`, Swagger UI compiled into the binary: nothing is
//! fetched from elsewhere).
//!
//! Each feature's `api.rs` describes its operations in a `Doc`; [`document`]
//! merges them. What every operation shares is written here once: any error
//! it answers is a problem+json body; one that needs a token may answer 401,
//! one that takes JSON 400/413/415/422, and every one 503 while the
//! database is down; a text it takes has the pattern of the checks, which
//! trim it and refuse control characters.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use std::sync::{Mutex, OnceLock, PoisonError};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

/// What `char::is_whitespace` takes off the ends of a text: `str::trim`,
/// which every check of a text runs first.
pub const SPACE: &str = r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// The spaces of [`SPACE`] that are not control characters: those a line
/// may hold between its words.
pub const SPACE_IN_LINE: &str = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// A character that is neither a space nor a control character (Unicode Cc).
pub const VISIBLE: &str = r"[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
/// Within one line: anything but a control character.
const IN_LINE: &str = r"[^\u0000-\u001f\u007f-\u009f]";
/// Within several lines: a tab and a line break (LF, or a browser's CRLF) too.
const IN_LINES: &str = r"(?:[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]|\r\n)";

/// The pattern of a text as `crate::api::Checks` takes it: spaces at its
/// ends are trimmed off, what is left has no control character (but tabs and
/// line breaks when `multiline`), and must not be blank when `required`.
/// A schema written without it would promise that `" "` or `"a\u0000"` is
/// accepted; Schemathesis's `positive_data_acceptance` check holds the
/// document to that.
pub fn text_pattern(required: bool, multiline: bool) -> String {
    let inner = if multiline { IN_LINES } else { IN_LINE };
    let text = format!("{VISIBLE}(?:{inner}*{VISIBLE})?");
    let text = if required { text } else { format!("(?:{text})?") };
    format!("^[{SPACE}]*{text}[{SPACE}]*$")
}

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

/// A web address as `Checks::is_web_address` takes it, trimmed, blank too
/// unless `required`: `http` or `https`, a host name whose last label
/// starts with a letter (`url` reads a number there as an IPv4 address)
/// and none with `--` third and fourth, an optional port, then any path
/// without spaces.
pub fn web_address_pattern(required: bool) -> String {
    // A label's third and fourth characters are not both hyphens (`xn--`
    // starts punycode, which `url` decodes and may refuse); the regex has
    // no lookahead, so the cases are spelt out.
    let c = "[A-Za-z0-9-]";
    let not_two_hyphens = format!("(?:[A-Za-z0-9]{c}|-[A-Za-z0-9]){c}*");
    let label = format!("(?:{c}{{1,3}}|{c}{{2}}{not_two_hyphens})");
    let last = format!("(?:[A-Za-z]{c}{{0,2}}|[A-Za-z]{c}{not_two_hyphens})");
    let address = format!(
        r"[Hh][Tt][Tt][Pp][Ss]?://(?:{label}\.)*{last}(?::[0-9]{{1,4}})?(?:[/?#][^\u0000-\u0020\u007f-\u009f]*)?"
    );
    let address = if required { address } else { format!("(?:{address})?") };
    format!("^[{SPACE}]*{address}[{SPACE}]*$")
}

/// A text, or a text or `null`.
fn text(nullable: bool) -> utoipa::openapi::ObjectBuilder {
    use utoipa::openapi::schema::{SchemaType, Type};
    let types = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    utoipa::openapi::ObjectBuilder::new().schema_type(types)
}

/// A text of only spaces, which the checks take as none.
fn blank() -> utoipa::openapi::Object {
    text(false).pattern(Some(format!("^[{SPACE}]*$"))).build()
}

fn formatted(format: utoipa::openapi::KnownFormat) -> utoipa::openapi::Object {
    text(false)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(format)))
        .build()
}

/// A text of `format`, blank (none) or `null` (none).
fn formatted_or_none(format: utoipa::openapi::KnownFormat) -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{SchemaType, Type};
    utoipa::openapi::schema::AnyOfBuilder::new()
        .item(formatted(format))
        .item(blank())
        .item(utoipa::openapi::ObjectBuilder::new().schema_type(SchemaType::Type(Type::Null)))
        .build()
        .into()
}

/// An RFC 3339 time, blank (none) or `null` (none).
pub fn time_or_blank() -> utoipa::openapi::Schema {
    formatted_or_none(utoipa::openapi::KnownFormat::DateTime)
}

/// A date (`2019-09-01`), blank (none) or `null` (none).
pub fn date_or_blank() -> utoipa::openapi::Schema {
    formatted_or_none(utoipa::openapi::KnownFormat::Date)
}

/// A date (`2026-12-01`), an RFC 3339 time, or blank (none).
pub fn date_or_time_or_blank() -> utoipa::openapi::Schema {
    utoipa::openapi::schema::AnyOfBuilder::new()
        .item(formatted(utoipa::openapi::KnownFormat::Date))
        .item(formatted(utoipa::openapi::KnownFormat::DateTime))
        .item(blank())
        .build()
        .into()
}

/// The name of a time zone `chrono_tz` knows (`Asia/Baku`), exactly as
/// `Checks::optional_time_zone` takes it, or `null`; also `""` (none)
/// when `blank`.
fn time_zone(blank: bool) -> utoipa::openapi::Object {
    let names = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|zone| serde_json::Value::from(zone.name()));
    let none = [blank.then(|| "".into()), Some(serde_json::Value::Null)];
    text(true)
        .enum_values(Some(names.chain(none.into_iter().flatten())))
        .examples(["Asia/Baku"])
        .build()
}

/// A time zone, or `null`.
pub fn time_zone_or_null() -> utoipa::openapi::Object {
    time_zone(false)
}

/// A time zone, `""` or `null` (both none).
pub fn time_zone_or_none() -> utoipa::openapi::Object {
    time_zone(true)
}

/// An optional web address of at most `MAX` characters: blank or `null`
/// is none.
pub fn web_address_or_none<const MAX: usize>() -> utoipa::openapi::Object {
    text(true)
        .max_length(Some(MAX))
        .pattern(Some(web_address_pattern(false)))
        .build()
}

/// A text that is one of `values`: the schema of a value the API takes from
/// a fixed list, written from the list its checks use (`schema_with`).
pub fn one_of<'v>(values: impl IntoIterator<Item = &'v str>) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values))
        .build()
}

/// The whole document: every feature's operations, with the shared parts.
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
    created_links(unique_operation_ids(narrower_bodies(trimmed_texts(doc))))
}

/// Operations on a created thing outside the path it was created at.
const LINKED_ELSEWHERE: [(&str, &str); 1] = [("/api/v1/me/exchanges", "/api/v1/admin/exchanges/{id}")];

/// OpenAPI links from each `POST` that creates a thing (answers 201 with
/// its `id`) to every operation on `{id}` under the same path (and those of
/// [`LINKED_ELSEWHERE`]): a client, or Schemathesis's stateful phase, learns
/// where the new id leads.
fn created_links(mut doc: serde_json::Value) -> serde_json::Value {
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in &paths {
        if item["post"]["responses"]["201"].is_null() {
            continue;
        }
        let under: Vec<String> = std::iter::once(format!("{path}/{{id}}"))
            .chain(
                LINKED_ELSEWHERE
                    .iter()
                    .filter(|(from, _)| from == path)
                    .map(|(_, to)| to.to_string()),
            )
            .collect();
        let mut links = serde_json::Map::new();
        for (target, target_item) in &paths {
            if !under
                .iter()
                .any(|u| target == u || target.starts_with(&format!("{u}/")))
            {
                continue;
            }
            for operation in target_item.as_object().into_iter().flat_map(|o| o.values()) {
                if let Some(id) = operation["operationId"].as_str() {
                    let link = serde_json::json!({"operationId": id, "parameters": {"path.id": "$response.body#/id"}});
                    links.insert(id.to_string(), link);
                }
            }
        }
        if !links.is_empty() {
            doc["paths"][path]["post"]["responses"]["201"]["links"] = links.into();
        }
    }
    doc
}

/// Operations whose body has the schema of another operation's, which asks
/// less of it (to change a thing rather than create it), and what each asks
/// more: `required` fields must be sent, and not blank or `null`; `texts`
/// must not be `null`.
const NARROWER_BODIES: [(&str, &str, &[&str], &[&str]); 5] = [
    (
        "post",
        "/api/v1/events",
        &["title", "starts_at", "ends_at", "time_zone"],
        &[],
    ),
    (
        "post",
        "/api/v1/me/exchanges",
        &[
            "program_id",
            "home_university",
            "host_university",
            "field_of_study",
            "degree_level",
            "start_date",
        ],
        &[],
    ),
    ("post", "/api/v1/programs", &["name"], &[]),
    // Suspending or reinstating takes the same body, with the reason optional.
    ("post", "/api/v1/admin/members/{id}/reject", &["reason"], &[]),
    // A member's `null` returns a field to the default, which has none.
    (
        "put",
        "/api/v1/admin/directory-defaults",
        &[],
        &["email", "city", "profession", "bio", "links", "exchanges"],
    ),
];

/// Writes [`NARROWER_BODIES`] into the document: the operation's body is
/// its shared schema and (`allOf`) what it asks more.
fn narrower_bodies(mut doc: serde_json::Value) -> serde_json::Value {
    for (method, path, required, texts) in NARROWER_BODIES {
        let body = &mut doc["paths"][path][method]["requestBody"];
        assert!(body.is_object(), "{method} {path} takes no body");
        let schema = &mut body["content"]["application/json"]["schema"];
        let mut more = serde_json::Map::new();
        for field in texts {
            more.insert(field.to_string(), serde_json::json!({"type": "string"}));
        }
        for field in required {
            more.insert(
                field.to_string(),
                serde_json::json!({"type": "string", "pattern": VISIBLE}),
            );
        }
        *schema = serde_json::json!({"allOf": [schema.take(), {"required": required, "properties": more}]});
        if !required.is_empty() {
            body["required"] = true.into();
        }
    }
    doc
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

/// A schema of a text (`"string"`, or `["string", "null"]`) that says
/// nothing yet of what the text may hold: no pattern, format or values.
fn is_plain_text(schema: &serde_json::Value) -> bool {
    let is_text = schema["type"] == "string" || schema["type"].as_array().is_some_and(|t| t.contains(&"string".into()));
    is_text
        && ["pattern", "format", "enum", "const"]
            .iter()
            .all(|k| schema.get(k).is_none())
}

/// Gives each plain text the pattern of [`text_pattern`]: every text
/// parameter (query or path), which may be blank, and every text a request
/// body takes, which may be blank unless its `minLength` is 1 or more, and
/// may hold several lines when it names a `contentMediaType` (Markdown,
/// plain text). Response schemas keep what they have.
fn trimmed_texts(doc: utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut value = serde_json::to_value(&doc).expect("the OpenAPI document serialises");
    let mut bodies = Vec::new();
    let operations = value["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let parameters = operation.get_mut("parameters").and_then(|p| p.as_array_mut());
        for schema in parameters.into_iter().flatten().filter_map(|p| p.get_mut("schema")) {
            if is_plain_text(schema) {
                schema["pattern"] = text_pattern(false, false).into();
            }
        }
        let contents = operation
            .get_mut("requestBody")
            .and_then(|body| body.get_mut("content"))
            .and_then(|content| content.as_object_mut());
        for content in contents.into_iter().flat_map(|c| c.values_mut()) {
            if let Some(schema) = content.get_mut("schema") {
                give_texts_their_pattern(schema, &mut bodies);
            }
        }
    }
    // The components that request bodies name, and those that they name.
    let mut done = std::collections::HashSet::new();
    while let Some(name) = bodies.pop() {
        if done.insert(name.clone()) {
            if let Some(schema) = value["components"]["schemas"].get_mut(&name) {
                give_texts_their_pattern(schema, &mut bodies);
            }
        }
    }
    value
}

/// [`trimmed_texts`] within one schema of a request body; the components it
/// refers to are pushed onto `refs`.
fn give_texts_their_pattern(schema: &mut serde_json::Value, refs: &mut Vec<String>) {
    if let Some(name) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        refs.push(name.to_string());
    }
    if is_plain_text(schema) {
        let required = schema["minLength"].as_u64().is_some_and(|min| min >= 1);
        let multiline = schema.get("contentMediaType").is_some();
        schema["pattern"] = text_pattern(required, multiline).into();
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = schema.get_mut(key).filter(|inner| inner.is_object()) {
            give_texts_their_pattern(inner, refs);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for inner in schema.get_mut(key).and_then(|s| s.as_array_mut()).into_iter().flatten() {
            give_texts_their_pattern(inner, refs);
        }
    }
    for inner in schema
        .get_mut("properties")
        .and_then(|p| p.as_object_mut())
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        give_texts_their_pattern(inner, refs);
    }
}

/// The document, built once for the process, for what never changes
/// while it runs (its paths).
fn served() -> &'static serde_json::Value {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    DOCUMENT.get_or_init(document)
}

/// The document as served: built once a year, as it states the latest
/// graduation year the checks take, which moves on New Year.
fn document_json() -> web::Bytes {
    document_json_of(crate::auth::accounts::latest_graduation_year())
}

/// The document cached under `latest`, the latest graduation year the
/// checks take now, and built again when that key changes. (The document
/// reads the clock itself, as the checks do; the key only says when.)
fn document_json_of(latest: i32) -> web::Bytes {
    static JSON: Mutex<Option<(i32, web::Bytes)>> = Mutex::new(None);
    let cached = |json: &Option<(i32, web::Bytes)>| match json {
        Some((year, json)) if *year == latest => Some(json.clone()),
        _ => None,
    };
    if let Some(json) = cached(&JSON.lock().unwrap_or_else(PoisonError::into_inner)) {
        return json;
    }
    // Built without the lock, so other requests are not held meanwhile.
    let json = web::Bytes::from(document().to_string());
    *JSON.lock().unwrap_or_else(PoisonError::into_inner) = Some((latest, json.clone()));
    json
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

    /// A server running over New Year serves the new latest graduation
    /// year, not the one of the day it started.
    #[test]
    fn the_served_document_is_rebuilt_when_the_year_turns() {
        let latest = crate::auth::accounts::latest_graduation_year();
        let served: serde_json::Value = serde_json::from_slice(&document_json()).unwrap();
        let year = &served["components"]["schemas"]["Registration"]["properties"]["graduation_year"];
        assert_eq!(year["maximum"], latest, "{year}");
        let this_year = document_json_of(latest);
        assert_eq!(
            document_json_of(latest).as_ptr(),
            this_year.as_ptr(),
            "built once a year"
        );
        let next_year = document_json_of(latest + 1);
        assert_ne!(next_year.as_ptr(), this_year.as_ptr(), "built again for the next");
        document_json();
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

    /// Texts at the edges of what the checks take: every kind of space, at
    /// the ends and inside, control characters, line breaks of both kinds.
    fn odd_texts() -> Vec<String> {
        let mut texts: Vec<String> = [
            "",
            " ",
            "a",
            " a ",
            "a b",
            "ab",
            "\ta\t",
            "a\tb",
            "a\nb",
            "a\r\nb",
            "a\rb",
            "a\r\r\nb",
            "\r\n",
            "a\n",
            "\u{0}",
            "a\u{0}",
            "\u{7f}a",
            "a\u{85}",
            "\u{85}a\u{85}",
            "a\u{85}b",
            "\u{a0}",
            "\u{a0}a",
            "a\u{a0}b",
            "\u{3000}Ə\u{3000}",
            "\u{2028}",
            "a\u{2029}b",
            "\u{1c}a",
            "a\u{9f}",
            "a\u{b}b",
            "\u{b}a\u{c}",
            "Məmmədova",
            "👩🏽‍🎓",
            "\u{200b}",
            "a\u{feff}b",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        texts.push("x".repeat(12));
        texts.push(format!(" {} ", "x".repeat(10)));
        texts.push(format!("{}\r\nx", "x".repeat(9)));
        texts.push(format!("{}\r\n", "x".repeat(9)));
        texts
    }

    #[test]
    fn a_texts_pattern_takes_what_its_check_takes_and_nothing_else() {
        use crate::api::Checks;
        let matches = |required, multiline, text: &str| {
            regex::Regex::new(&text_pattern(required, multiline))
                .unwrap()
                .is_match(text)
        };
        for text in odd_texts() {
            let taken = |check: &dyn Fn(&mut Checks)| {
                let mut checks = Checks::default();
                check(&mut checks);
                checks.finish().is_ok()
            };
            let max = 11;
            let fits = text.chars().count() <= max;
            let line = taken(&|c| {
                c.text("f", &text, 1, max);
            });
            assert_eq!(matches(true, false, &text) && fits, line, "one line: {text:?}");
            let optional = taken(&|c| {
                c.optional_text("f", Some(&text), max);
            });
            assert_eq!(matches(false, false, &text) && fits, optional, "optional: {text:?}");
            let lines = taken(&|c| {
                c.multiline_text("f", &text, 1, max);
            });
            // maxLength counts what is sent, a CRLF as two characters.
            assert_eq!(matches(true, true, &text) && fits, lines, "lines: {text:?}");
            let blank_lines = taken(&|c| {
                c.multiline_text("f", &text, 0, max);
            });
            assert_eq!(
                matches(false, true, &text) && fits,
                blank_lines,
                "lines or none: {text:?}"
            );
        }
    }

    #[test]
    fn the_web_address_pattern_takes_what_the_check_takes_and_nothing_else() {
        let pattern = regex::Regex::new(&web_address_pattern(true)).unwrap();
        let blank_or = regex::Regex::new(&web_address_pattern(false)).unwrap();
        let taken = [
            "https://example.org",
            " http://a.b.c:8080/x?y=z#w ",
            "https://karvan.example/events/ə?q=%zz",
            "http://1.a",
            "https://a/b\\c",
            "HTTPS://my-site.org",
            "https://-a-.b--c/",
            "http://a.org?",
            "http://a.org#",
            "http://a-b-c.d-e",
            "http://abc-.de",
            "http://a.b-",
        ];
        let refused = [
            "",
            " ",
            "ftp://example.org",
            "https://",
            "http://1.2",
            "http://192.168.0.1/",
            "http://[::1]/",
            "https://a b",
            "https://a.org/b c",
            "https://a.org/x\u{85}y",
            "mailto:a@b.org",
            "https://user@a.org",
            "https://a.org.",
            "https://a..org",
            "https://a.org:",
            "https://a.org:65535",
            "https://a_b.org",
            "https://ə.org",
            "http://xn--.org",
            "http://XN--ab-.org",
            "http://ab--c.org",
            "http:/a.org",
        ];
        for address in taken.iter().chain(&refused) {
            let expected = taken.contains(address);
            assert_eq!(pattern.is_match(address), expected, "the pattern, {address:?}");
            assert_eq!(
                crate::api::Checks::is_web_address(address.trim()),
                expected,
                "the check, {address:?}"
            );
        }
        assert!(blank_or.is_match(" ") && !blank_or.is_match("\u{0}"));
        // Every label of up to 5 of these characters, as a host's first
        // label and as its last: hyphens anywhere, `xn--`, digits first.
        let mut labels = Vec::new();
        let mut last = vec![String::new()];
        for _ in 0..5 {
            last = last
                .iter()
                .flat_map(|l| ['a', '0', '-', 'x', 'n'].map(|c| format!("{l}{c}")))
                .collect();
            labels.extend(last.iter().cloned());
        }
        assert_eq!(labels.len(), 5 + 25 + 125 + 625 + 3125);
        for label in &labels {
            for address in [format!("http://{label}.org/"), format!("http://a.{label}")] {
                let taken = crate::api::Checks::is_web_address(&address);
                assert_eq!(pattern.is_match(&address), taken, "{address:?}");
            }
        }
    }

    /// `\s`, `\d` and `\w` mean other things to Python (Schemathesis's
    /// generator), ECMA-262 (the document's dialect) and Rust: patterns spell
    /// their classes out.
    #[test]
    fn no_pattern_leaves_its_classes_to_the_regex_dialect() {
        fn visit(value: &serde_json::Value, found: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(fields) => {
                    for (key, inner) in fields {
                        if let (true, Some(pattern)) = (key == "pattern", inner.as_str()) {
                            found.push(pattern.to_string());
                        }
                        visit(inner, found);
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(|inner| visit(inner, found)),
                _ => {}
            }
        }
        let mut patterns = Vec::new();
        visit(&document(), &mut patterns);
        assert!(patterns.len() > 20, "{patterns:?}");
        for pattern in patterns {
            for class in [r"\s", r"\S", r"\d", r"\D", r"\w", r"\W", r"\b"] {
                assert!(!pattern.contains(class), "{class} in {pattern}");
            }
            regex::Regex::new(&pattern).unwrap();
        }
    }

    #[test]
    fn a_created_things_id_links_to_the_operations_on_it() {
        let doc = document();
        let links = |path: &str| {
            let mut ids: Vec<String> = doc["paths"][path]["post"]["responses"]["201"]["links"]
                .as_object()
                .unwrap_or_else(|| panic!("POST {path} links"))
                .values()
                .map(|link| {
                    assert_eq!(link["parameters"]["path.id"], "$response.body#/id");
                    link["operationId"].as_str().unwrap().to_string()
                })
                .collect();
            ids.sort();
            ids
        };
        let events = links("/api/v1/events");
        assert_eq!(events.len(), 8, "{events:?}");
        for id in &events {
            let linked = doc["paths"].as_object().unwrap().iter().any(|(path, item)| {
                path.starts_with("/api/v1/events/{id}")
                    && item
                        .as_object()
                        .unwrap()
                        .values()
                        .any(|o| o["operationId"] == id.as_str())
            });
            assert!(linked, "{id} is an operation on an event");
        }
        assert!(links("/api/v1/me/exchanges").contains(&"verify_record".to_string()));
        assert!(doc["paths"]["/api/v1/auth/register"]["post"]["responses"]["202"]["links"].is_null());
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
        assert_eq!(parameter("country")["pattern"], text_pattern(false, false));
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
        assert_ne!(parameter("q")["pattern"], text_pattern(false, false));
        assert!(parameter("q")["pattern"].is_string());
    }
}
