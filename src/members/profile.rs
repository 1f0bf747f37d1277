//! A member's own basic fields (`PATCH /api/v1/me`, the form on `/me`):
//! checked once here for the API and the page alike.

use diesel::prelude::*;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::api::Checks;
use crate::auth::accounts::BasicProfile;
use crate::db::schema::members;
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::members::model::Member;

/// Tells a field sent as `null` (`Some(None)`: clear it) from one not sent
/// (`None`: leave it).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The body of `PATCH /api/v1/me`: only the fields sent change.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[serde(default, deserialize_with = "present")]
    pub full_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub graduation_year: Option<Option<i32>>,
    #[serde(default, deserialize_with = "present")]
    pub university: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub country: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub time_zone: Option<Option<String>>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = members)]
pub struct ProfileChanges {
    full_name: Option<String>,
    graduation_year: Option<Option<i32>>,
    university: Option<Option<String>>,
    country: Option<Option<String>>,
    time_zone: Option<Option<String>>,
}

impl ProfilePatch {
    /// The changes to store, or a 422 naming every bad field.
    pub fn checked(self) -> Result<ProfileChanges, AppError> {
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
        let time_zone = match self.time_zone.clone().flatten() {
            None => None,
            Some(zone) => {
                let zone = zone.trim().to_string();
                if zone.is_empty() {
                    None
                } else {
                    if zone.parse::<chrono_tz::Tz>().is_err() {
                        checks.fail("time_zone", "is not a time zone like Asia/Karachi or Asia/Baku");
                    }
                    Some(zone)
                }
            }
        };
        checks.finish()?;
        Ok(ProfileChanges {
            full_name: self.full_name.map(|_| basic.full_name),
            graduation_year: self.graduation_year.map(|_| basic.graduation_year),
            university: self.university.map(|_| basic.university),
            country: self.country.map(|_| basic.country),
            time_zone: self.time_zone.map(|_| time_zone),
        })
    }
}

/// Stores the changes; nothing to change is no error.
pub async fn update(pool: &DbPool, member_id: Uuid, changes: ProfileChanges) -> Result<Member, AppError> {
    db::run(pool, move |conn| {
        let nothing = changes.full_name.is_none()
            && changes.graduation_year.is_none()
            && changes.university.is_none()
            && changes.country.is_none()
            && changes.time_zone.is_none();
        let query = members::table.find(member_id);
        if nothing {
            return query.select(Member::as_select()).first(conn);
        }
        diesel::update(query)
            .set((&changes, members::updated_at.eq(diesel::dsl::now)))
            .returning(Member::as_returning())
            .get_result(conn)
    })
    .await
}
