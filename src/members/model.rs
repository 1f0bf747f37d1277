use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::db::schema::members;

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

/// What a member sees of their own record (`GET /api/v1/me`).
#[derive(Debug, Serialize)]
pub struct MeView {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub status: String,
    pub role: String,
    pub graduation_year: Option<i32>,
    pub university: Option<String>,
    pub country: Option<String>,
    pub time_zone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
}

impl From<Member> for MeView {
    fn from(m: Member) -> Self {
        Self {
            id: m.id,
            email: m.email,
            full_name: m.full_name,
            status: m.status,
            role: m.role,
            graduation_year: m.graduation_year,
            university: m.university,
            country: m.country,
            time_zone: m.time_zone,
            created_at: m.created_at,
            approved_at: m.approved_at,
        }
    }
}
