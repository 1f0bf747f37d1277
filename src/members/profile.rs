//! A member's own basic fields (`PATCH /api/v1/me`, the form on `/me`):
//! checked once here for the API and the page alike.

use diesel::prelude::*;
use serde::Deserialize;
use uuid::Uuid;

use crate::api::{present, Checks};
use crate::auth::accounts::BasicProfile;
use crate::db::schema::members;
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::members::model::Member;
use crate::members::privacy::VisibilityPatch;
use crate::members::settings::{self, DigestPatch, NotificationsPatch, SettingsChanges};

/// The body of `PATCH /api/v1/me`: only the fields sent change; `null`
/// clears an optional one.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Cannot be cleared.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, min_length = 1, max_length = 200)]
    pub full_name: Option<Option<String>>,
    /// At most ten years from now.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = crate::auth::accounts::graduation_year_schema)]
    pub graduation_year: Option<Option<i32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub university: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub country: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub profession: Option<Option<String>>,
    /// Several lines.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2000, content_media_type = "text/plain")]
    pub bio: Option<Option<String>>,
    /// Web addresses (http or https), each at most 300 characters. A new
    /// link must match the pattern; one of the member's links now may be
    /// sent back as it is, even one an earlier version took that the
    /// pattern refuses.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = links_schema)]
    pub links: Option<Option<Vec<String>>>,
    /// An IANA time zone name.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = crate::openapi::time_zone_or_none)]
    pub time_zone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub listed_in_directory: Option<Option<bool>>,
    /// `null` for a field returns it to the association's default.
    #[serde(default, deserialize_with = "crate::api::object")]
    pub visibility: Option<VisibilityPatch>,
    #[serde(default, deserialize_with = "crate::api::object")]
    pub notifications: Option<NotificationsPatch>,
    #[serde(default, deserialize_with = "crate::api::object")]
    pub digest: Option<DigestPatch>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = members)]
pub struct ProfileChanges {
    full_name: Option<String>,
    graduation_year: Option<Option<i32>>,
    university: Option<Option<String>>,
    country: Option<Option<String>>,
    city: Option<Option<String>>,
    profession: Option<Option<String>>,
    bio: Option<Option<String>>,
    links: Option<Vec<Option<String>>>,
    time_zone: Option<Option<String>>,
    listed_in_directory: Option<bool>,
    email_visibility: Option<Option<String>>,
    city_visibility: Option<Option<String>>,
    profession_visibility: Option<Option<String>>,
    bio_visibility: Option<Option<String>>,
    links_visibility: Option<Option<String>>,
    exchanges_visibility: Option<Option<String>>,
}

pub const MAX_LINKS: usize = 5;

/// Up to five web addresses (blank ones are dropped), or `null` (none).
fn links_schema() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, SchemaType, Type};
    let link = crate::openapi::web_address_or_none::<300>();
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(utoipa::openapi::ObjectBuilder::from(link).schema_type(Type::String))
        .max_items(Some(MAX_LINKS))
        .build()
}

/// A link a member shows: http or https, at most 300 characters; or one of
/// `stored`, the member's links now (the profile page sends every link
/// back), which an earlier, looser check may have taken.
fn check_links(checks: &mut Checks, links: &[String], stored: &[String]) -> Vec<Option<String>> {
    if links.len() > MAX_LINKS {
        checks.fail("links", format!("must be at most {MAX_LINKS}"));
    }
    links
        .iter()
        .filter(|l| !l.trim().is_empty() || l.chars().count() > 300)
        .map(|sent| {
            let link = sent.trim();
            let ok = stored.iter().any(|s| s == link) || (sent.chars().count() <= 300 && Checks::is_web_address(link));
            if !ok {
                checks.fail(
                    "links",
                    format!("'{}' is not a web address (https://...)", crate::api::shorten(link, 60)),
                );
            }
            Some(link.to_string())
        })
        .collect()
}

impl ProfilePatch {
    /// The changes to store, or a 422 naming every bad field; `stored_links`
    /// are the member's links now.
    pub fn checked(self, stored_links: &[String]) -> Result<ProfileChanges, AppError> {
        let mut checks = Checks::default();
        // The fields registration also takes are checked by the same rules.
        // A name cannot be cleared: `null` is checked as an empty name.
        let basic = BasicProfile::check(
            &mut checks,
            match &self.full_name {
                None => "unchanged",
                Some(name) => name.as_deref().unwrap_or_default(),
            },
            self.graduation_year.flatten(),
            self.university.clone().flatten().as_deref(),
            self.country.clone().flatten().as_deref(),
        );
        let typed_zone = self.time_zone.clone().flatten();
        let time_zone = checks
            .optional_time_zone("time_zone", typed_zone.as_deref())
            .map(|_| typed_zone.unwrap_or_default().trim().to_string());
        let city = self.city.map(|c| checks.optional_text("city", c.as_deref(), 100));
        let profession = self
            .profession
            .map(|p| checks.optional_text("profession", p.as_deref(), 200));
        let bio = self.bio.map(|b| {
            b.map(|b| checks.multiline_text("bio", &b, 0, 2000))
                .filter(|b| !b.is_empty())
        });
        let links = self
            .links
            .map(|l| check_links(&mut checks, &l.unwrap_or_default(), stored_links));
        let listed_in_directory = match self.listed_in_directory {
            Some(None) => {
                checks.fail("listed_in_directory", "must be true or false");
                None
            }
            other => other.flatten(),
        };
        let [email_visibility, city_visibility, profession_visibility, bio_visibility, links_visibility, exchanges_visibility] =
            self.visibility.unwrap_or_default().checked(&mut checks);
        checks.finish()?;
        Ok(ProfileChanges {
            full_name: self.full_name.map(|_| basic.full_name),
            graduation_year: self.graduation_year.map(|_| basic.graduation_year),
            university: self.university.map(|_| basic.university),
            country: self.country.map(|_| basic.country),
            city,
            profession,
            bio,
            links,
            time_zone: self.time_zone.map(|_| time_zone),
            listed_in_directory,
            email_visibility,
            city_visibility,
            profession_visibility,
            bio_visibility,
            links_visibility,
            exchanges_visibility,
        })
    }
}

impl ProfileChanges {
    fn is_empty(&self) -> bool {
        self.full_name.is_none()
            && self.graduation_year.is_none()
            && self.university.is_none()
            && self.country.is_none()
            && self.city.is_none()
            && self.profession.is_none()
            && self.bio.is_none()
            && self.links.is_none()
            && self.time_zone.is_none()
            && self.listed_in_directory.is_none()
            && self.email_visibility.is_none()
            && self.city_visibility.is_none()
            && self.profession_visibility.is_none()
            && self.bio_visibility.is_none()
            && self.links_visibility.is_none()
            && self.exchanges_visibility.is_none()
    }
}

/// Stores the changes to the profile and the settings together; nothing
/// to change is no error.
pub async fn update(
    pool: &DbPool,
    member_id: Uuid,
    changes: ProfileChanges,
    settings_changes: SettingsChanges,
) -> Result<Member, AppError> {
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            settings::apply(conn, member_id, &settings_changes)?;
            let query = members::table.find(member_id);
            if changes.is_empty() {
                return query.select(Member::as_select()).first(conn);
            }
            diesel::update(query)
                .set((&changes, members::updated_at.eq(diesel::dsl::now)))
                .returning(Member::as_returning())
                .get_result(conn)
        })
    })
    .await
}
