use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::db::schema::members;
use crate::members::privacy::{DirectoryDefaults, VisibilitySettings};

pub const INVITED: &str = "invited";
pub const PENDING_VERIFICATION: &str = "pending_verification";
pub const PENDING_APPROVAL: &str = "pending_approval";
pub const ACTIVE: &str = "active";
pub const DELETED: &str = "deleted";
pub const ADMIN: &str = "admin";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = members, check_for_backend(diesel::pg::Pg))]
pub struct Member {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub full_name: String,
    pub status: String,
    pub role: String,
    pub graduation_year: Option<i32>,
    pub university: Option<String>,
    pub country: Option<String>,
    pub time_zone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub sessions_valid_after: Option<DateTime<Utc>>,
    pub city: Option<String>,
    pub profession: Option<String>,
    pub bio: Option<String>,
    pub links: Vec<Option<String>>,
    pub listed_in_directory: bool,
    pub email_visibility: Option<String>,
    pub city_visibility: Option<String>,
    pub profession_visibility: Option<String>,
    pub bio_visibility: Option<String>,
    pub links_visibility: Option<String>,
    pub exchanges_visibility: Option<String>,
    pub imported_at: Option<DateTime<Utc>>,
}

impl Member {
    pub fn is_active(&self) -> bool {
        self.status == ACTIVE
    }

    pub fn is_admin(&self) -> bool {
        self.role == ADMIN
    }

    /// "Name <address>", for mail.
    /// Built by lettre, which quotes and escapes any name correctly.
    pub fn mailbox(&self) -> String {
        match self.email.parse::<lettre::Address>() {
            Ok(address) => lettre::message::Mailbox::new(Some(self.full_name.clone()), address).to_string(),
            Err(_) => self.email.clone(),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = members)]
pub struct NewMember<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub full_name: &'a str,
    pub graduation_year: Option<i32>,
    pub university: Option<&'a str>,
    pub country: Option<&'a str>,
}

impl Member {
    /// The links, without the NULLs a SQL array may hold.
    pub fn link_list(&self) -> Vec<String> {
        self.links.iter().flatten().cloned().collect()
    }
}

/// What a member sees of their own record (`GET /api/v1/me`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeView {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub status: String,
    pub role: String,
    pub graduation_year: Option<i32>,
    pub university: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub profession: Option<String>,
    pub bio: Option<String>,
    pub links: Vec<String>,
    pub time_zone: Option<String>,
    pub listed_in_directory: bool,
    /// Who sees each field: the member's choice, or the association's
    /// default where they made none.
    pub visibility: VisibilitySettings,
    /// Which mail the member takes (on `/api/v1/me`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub notifications: Option<crate::members::settings::Notifications>,
    /// The address of the member's own calendar feed (on `/api/v1/me`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub calendar_url: Option<String>,
    /// How often a digest comes, and what it tells (on `/api/v1/me`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub digest: Option<crate::members::settings::DigestSettings>,
    pub created_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
}

impl MeView {
    /// With the member's own settings, as `/api/v1/me` shows them.
    pub fn with_settings(
        mut self,
        settings: &crate::members::settings::MemberSettings,
        mail: &crate::email::MailContext,
    ) -> Self {
        self.notifications = Some(settings.notifications());
        self.calendar_url = Some(settings.calendar_url(mail));
        self.digest = Some(settings.digest());
        self
    }

    pub fn new(m: Member, defaults: &DirectoryDefaults) -> Self {
        Self {
            visibility: VisibilitySettings::of(&m, defaults),
            links: m.link_list(),
            id: m.id,
            email: m.email,
            full_name: m.full_name,
            status: m.status,
            role: m.role,
            graduation_year: m.graduation_year,
            university: m.university,
            country: m.country,
            city: m.city,
            profession: m.profession,
            bio: m.bio,
            time_zone: m.time_zone,
            listed_in_directory: m.listed_in_directory,
            notifications: None,
            calendar_url: None,
            digest: None,
            created_at: m.created_at,
            approved_at: m.approved_at,
        }
    }
}
