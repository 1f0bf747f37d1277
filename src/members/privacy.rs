//! Who may see each part of a member's profile. Every field a member can
//! protect has a visibility: `public` (anyone, signed in or not), `members`
//! (active members) or `hidden` (only the member). A member who made no
//! choice follows the association's default, which the board sets. The
//! directory applies these in its SQL (`directory::store`), never in
//! templates.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::Checks;
use crate::db::schema::directory_defaults;
use crate::members::model::Member;

pub const PUBLIC: &str = "public";
pub const MEMBERS: &str = "members";
pub const HIDDEN: &str = "hidden";
pub const VISIBILITIES: [&str; 3] = [PUBLIC, MEMBERS, HIDDEN];

/// The fields a member can protect, in the order pages show them.
pub const PROTECTED_FIELDS: [&str; 6] = ["email", "city", "profession", "bio", "links", "exchanges"];

/// A protected field as pages name it.
pub fn label(field: &str) -> &'static str {
    match field {
        "email" => "Email address",
        "city" => "City",
        "profession" => "Profession",
        "bio" => "About you",
        "links" => "Links",
        "exchanges" => "Exchange programmes",
        _ => "",
    }
}

/// A visibility as pages name it.
pub fn audience_label(visibility: &str) -> &'static str {
    match visibility {
        PUBLIC => "Anyone",
        MEMBERS => "Members",
        _ => "Only me",
    }
}

/// Who is looking at a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Not signed in, or not an active member.
    Anyone,
    /// An active member (admins included: the directory shows them what
    /// members see; full records are the audited admin pages).
    Members,
}

impl Audience {
    /// The visibilities this audience may see, for SQL's `= ANY(...)`.
    pub fn sees(self) -> Vec<String> {
        match self {
            Audience::Anyone => vec![PUBLIC.into()],
            Audience::Members => vec![PUBLIC.into(), MEMBERS.into()],
        }
    }
}

/// The association's defaults (one row).
#[derive(Debug, Clone, Queryable, Selectable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = directory_defaults, check_for_backend(diesel::pg::Pg))]
pub struct DirectoryDefaults {
    pub email_visibility: String,
    pub city_visibility: String,
    pub profession_visibility: String,
    pub bio_visibility: String,
    pub links_visibility: String,
    pub exchanges_visibility: String,
}

pub fn defaults(conn: &mut PgConnection) -> QueryResult<DirectoryDefaults> {
    directory_defaults::table
        .select(DirectoryDefaults::as_select())
        .first(conn)
}

/// The defaults, for a handler.
pub async fn load_defaults(pool: &crate::db::DbPool) -> Result<DirectoryDefaults, crate::error::AppError> {
    crate::db::run(pool, defaults).await
}

pub fn save_defaults(conn: &mut PgConnection, values: &DirectoryDefaults) -> QueryResult<DirectoryDefaults> {
    diesel::update(directory_defaults::table)
        .set((values, directory_defaults::updated_at.eq(diesel::dsl::now)))
        .returning(DirectoryDefaults::as_returning())
        .get_result(conn)
}

/// A visibility as the API names it (`VISIBILITIES`; the fields hold it as a string).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Members,
    Hidden,
}

/// One visibility per protected field, as the API shows and takes them:
/// `{"email": "hidden", "city": "members", ...}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct VisibilitySettings {
    #[schema(value_type = Visibility)]
    pub email: String,
    #[schema(value_type = Visibility)]
    pub city: String,
    #[schema(value_type = Visibility)]
    pub profession: String,
    #[schema(value_type = Visibility)]
    pub bio: String,
    #[schema(value_type = Visibility)]
    pub links: String,
    #[schema(value_type = Visibility)]
    pub exchanges: String,
}

impl VisibilitySettings {
    /// A member's effective settings: their choices over the defaults.
    pub fn of(m: &Member, d: &DirectoryDefaults) -> Self {
        let pick = |choice: &Option<String>, default: &String| choice.clone().unwrap_or_else(|| default.clone());
        Self {
            email: pick(&m.email_visibility, &d.email_visibility),
            city: pick(&m.city_visibility, &d.city_visibility),
            profession: pick(&m.profession_visibility, &d.profession_visibility),
            bio: pick(&m.bio_visibility, &d.bio_visibility),
            links: pick(&m.links_visibility, &d.links_visibility),
            exchanges: pick(&m.exchanges_visibility, &d.exchanges_visibility),
        }
    }

    pub fn of_defaults(d: &DirectoryDefaults) -> Self {
        Self {
            email: d.email_visibility.clone(),
            city: d.city_visibility.clone(),
            profession: d.profession_visibility.clone(),
            bio: d.bio_visibility.clone(),
            links: d.links_visibility.clone(),
            exchanges: d.exchanges_visibility.clone(),
        }
    }

    /// `(field, visibility)` in the pages' order.
    pub fn pairs(&self) -> [(&'static str, &str); 6] {
        [
            ("email", &self.email),
            ("city", &self.city),
            ("profession", &self.profession),
            ("bio", &self.bio),
            ("links", &self.links),
            ("exchanges", &self.exchanges),
        ]
    }
}

/// A visibility as sent: one of the three words, or a field error.
pub fn check_visibility(checks: &mut Checks, field: &str, value: &str) -> String {
    // Exactly as listed (a page's radio buttons send it so), as the
    // document's enum says.
    if !VISIBILITIES.contains(&value) {
        checks.fail(field, format!("must be one of {}", VISIBILITIES.join(", ")));
    }
    value.to_string()
}

/// A partial set of visibilities (`PATCH /api/v1/me`, the defaults' `PUT`):
/// only the fields sent change; `null` (for a member) returns the field to
/// the association's default.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisibilityPatch {
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = Option<Visibility>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = Option<Visibility>)]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = Option<Visibility>)]
    pub profession: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = Option<Visibility>)]
    pub bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = Option<Visibility>)]
    pub links: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = Option<Visibility>)]
    pub exchanges: Option<Option<String>>,
}

impl VisibilityPatch {
    /// Each field checked, as `visibility.<field>` errors.
    pub fn checked(self, checks: &mut Checks) -> [Option<Option<String>>; 6] {
        [
            ("email", self.email),
            ("city", self.city),
            ("profession", self.profession),
            ("bio", self.bio),
            ("links", self.links),
            ("exchanges", self.exchanges),
        ]
        .map(|(field, value)| value.map(|v| v.map(|v| check_visibility(checks, &format!("visibility.{field}"), &v))))
    }
}
