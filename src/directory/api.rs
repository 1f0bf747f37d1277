//! `GET /api/v1/members` (active members search the directory) and
//! `GET /api/v1/members/{id}` (one entry: anyone may ask, and sees what its
//! owner made public).

use actix_web::{web, HttpRequest, HttpResponse};
use diesel::PgConnection;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use uuid::Uuid;

use crate::api::{Checks, ListPage, Pagination};
use crate::auth::extract::{ActiveBearer, MaybeActiveMember};
use crate::db::{self, DbPool};
use crate::directory::store::{self, Search, Viewer};
use crate::error::AppError;
use crate::members::model::Member;
use crate::members::privacy::Audience;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/members").get(search_api))
        .service(web::resource("/api/v1/members/{id}").get(entry_api));
}

#[derive(OpenApi)]
#[openapi(
    paths(search_api, entry_api),
    components(schemas(store::Entry, store::ExchangeEntry))
)]
pub struct Doc;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryQuery {
    /// Words of a name, typed in part or misspelled; each must match.
    #[param(schema_with = words_schema)]
    pub q: Option<String>,
    #[param(max_length = 100)]
    pub country: Option<String>,
    #[param(minimum = 1900, maximum = 2200)]
    pub graduation_year: Option<i32>,
    /// Part of a university's name.
    #[param(max_length = 200)]
    pub university: Option<String>,
    pub program_id: Option<Uuid>,
    /// Part of a host university's name (exchange records).
    #[param(max_length = 200)]
    pub host_university: Option<String>,
    /// With `program_id`: the year the exchange began.
    #[param(minimum = 1900, maximum = 2200)]
    pub cohort_year: Option<i32>,
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<i64>,
}

/// What `q` may be: up to 6 words of 2 characters or more, at most 200
/// characters in all, as `DirectoryQuery::checked` takes them.
fn words_schema() -> utoipa::openapi::Object {
    use crate::openapi::{SPACE, SPACE_IN_LINE, VISIBLE};
    let word = format!("{VISIBLE}{{2,}}");
    let pattern = format!("^[{SPACE}]*(?:{word}(?:[{SPACE_IN_LINE}]+{word}){{0,5}})?[{SPACE}]*$");
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .max_length(Some(200))
        .pattern(Some(pattern))
        .build()
}

impl DirectoryQuery {
    /// The search asked for, or a 422 naming each bad parameter.
    pub fn checked(&self) -> Result<(Search, i64, i64), AppError> {
        let mut checks = Checks::default();
        let q = checks.optional_text("q", self.q.as_deref(), 200).unwrap_or_default();
        let words: Vec<String> = q.split_whitespace().map(str::to_string).collect();
        if words.len() > 6 {
            checks.fail("q", "must be at most 6 words");
        }
        if words.iter().any(|w| w.chars().count() < 2) {
            checks.fail("q", "each word must be at least 2 characters");
        }
        let year = |checks: &mut Checks, field: &str, value: Option<i32>| {
            if value.is_some_and(|y| !(1900..=2200).contains(&y)) {
                checks.fail(field, "must be a year between 1900 and 2200");
            }
            value
        };
        let search = Search {
            words,
            country: checks.optional_text("country", self.country.as_deref(), 100),
            graduation_year: year(&mut checks, "graduation_year", self.graduation_year),
            university: checks.optional_text("university", self.university.as_deref(), 200),
            program_id: self.program_id,
            host_university: checks.optional_text("host_university", self.host_university.as_deref(), 200),
            cohort_year: year(&mut checks, "cohort_year", self.cohort_year),
        };
        checks.finish()?;
        let (page, per_page) = Pagination {
            page: self.page,
            per_page: self.per_page,
        }
        .checked()?;
        Ok((search, page, per_page))
    }
}

/// Who is asking, as the directory's rules see them.
pub fn viewer_of(member: Option<&Member>) -> Viewer {
    match member {
        Some(m) if m.is_active() => Viewer {
            id: Some(m.id),
            audience: Audience::Members,
        },
        _ => Viewer {
            id: None,
            audience: Audience::Anyone,
        },
    }
}

/// A page of the directory for an active member.
pub async fn find(pool: &DbPool, member: &Member, query: &DirectoryQuery) -> Result<ListPage<store::Entry>, AppError> {
    let checked = query.checked()?;
    let viewer = viewer_of(Some(member));
    db::run(pool, move |conn| page_of(conn, viewer, checked)).await
}

/// A checked search's page, as `viewer` may see it.
fn page_of(
    conn: &mut PgConnection,
    viewer: Viewer,
    (search, page, per_page): (Search, i64, i64),
) -> Result<ListPage<store::Entry>, AppError> {
    let (items, total) = store::search(conn, &search, viewer, page, per_page)?;
    Ok(ListPage {
        items,
        page,
        per_page,
        total,
    })
}

/// Search the directory (active members only).
#[utoipa::path(
    get,
    path = "/api/v1/members",
    tag = "directory",
    params(DirectoryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of entries; each shows only what its owner lets the viewer see.",
         body = ListPage<store::Entry>),
        (status = 403, description = "The signed-in member is not active."),
        (status = 422, description = "A parameter is invalid (named in `errors`)."),
    )
)]
async fn search_api(
    bearer: ActiveBearer,
    query: web::Query<DirectoryQuery>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let checked = query.checked();
    // The token's member and the search in one blocking call. As with
    // `ActiveMember`, a member who may not search hears so (403) before
    // hearing what is wrong with the search's values (422).
    let page = db::run(&pool, move |conn| {
        let viewer = viewer_of(Some(&bearer.member(conn)?));
        page_of(conn, viewer, checked?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One entry; 404 for a member who is not listed (or not active), exactly
/// as for one who does not exist.
pub async fn find_entry(pool: &DbPool, viewer: Viewer, id: Uuid) -> Result<store::Entry, AppError> {
    db::run(pool, move |conn| store::entry(conn, id, viewer))
        .await?
        .ok_or_else(AppError::not_found)
}

/// One member's entry; anyone may ask, and sees what its owner made visible to them.
#[utoipa::path(
    get,
    path = "/api/v1/members/{id}",
    tag = "directory",
    params(("id" = Uuid, Path, description = "The member's id")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The entry.", body = store::Entry),
        (status = 403, description = "A token was sent, and its member is not active."),
        (status = 404, description = "No listed, active member has this id (or the id is not a UUID)."),
    )
)]
async fn entry_api(
    _req: HttpRequest,
    MaybeActiveMember(member): MaybeActiveMember,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    let entry = find_entry(&pool, viewer_of(member.as_ref()), id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documents_pattern_for_words_takes_what_the_search_takes() {
        let schema = serde_json::to_value(words_schema()).unwrap();
        let pattern = regex::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
        for q in [
            "",
            " ",
            "Khan",
            " Khan\t",
            "K",
            "Ali Khan",
            "Ali K",
            "Ali  Khan",
            "Ali\u{a0}Khan",
            "Ali\tKhan",
            "Ali\nKhan",
            "\u{1c}Ali",
            "Ali\u{85}",
            "Ali\u{85}Khan",
            "Məm Əli",
            "aa bb cc dd ee ff",
            "aa bb cc dd ee ff gg",
            "aa\u{3000}bb",
            "\u{2028}aa",
            "aa\u{0}",
        ] {
            let query = DirectoryQuery {
                q: Some(q.to_string()),
                ..Default::default()
            };
            assert_eq!(pattern.is_match(q), query.checked().is_ok(), "{q:?}");
        }
    }
}
