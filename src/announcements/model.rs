use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::Checks;
use crate::db::schema::announcements;
use crate::email_template;
use crate::error::AppError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = announcements, check_for_backend(diesel::pg::Pg))]
pub struct Announcement {
    pub id: Uuid,
    pub title: String,
    pub body_md: String,
    pub body_html: String,
    pub author_id: Option<Uuid>,
    pub published_at: DateTime<Utc>,
    pub email_requested: bool,
    pub emailed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// An announcement as readers see it (`author` is the board member's name).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AnnouncementView {
    pub id: Uuid,
    pub title: String,
    /// The Markdown as sanitised HTML.
    pub body_html: String,
    /// Later than now for one scheduled (which only the board sees).
    pub published_at: DateTime<Utc>,
    pub author: Option<String>,
    /// For the board: whether it was mailed, and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emailed_at: Option<DateTime<Utc>>,
}

impl AnnouncementView {
    pub fn new(a: Announcement, author: Option<String>, admin: bool) -> Self {
        Self {
            id: a.id,
            title: a.title,
            body_html: a.body_html,
            published_at: a.published_at,
            author,
            emailed_at: a.emailed_at.filter(|_| admin),
        }
    }

    pub fn is_scheduled(&self) -> bool {
        self.published_at > Utc::now()
    }
}

/// `POST /api/v1/announcements`: `publish_at` (RFC 3339, optional) schedules
/// it; `email_now` mails it when it is published.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementInput {
    #[schema(value_type = String, min_length = 1, max_length = 200)]
    pub title: Option<String>,
    /// Markdown.
    #[schema(value_type = String, min_length = 1, max_length = 20000, content_media_type = "text/markdown")]
    pub body_md: Option<String>,
    /// Mail it to the members who take announcements once it is published.
    #[serde(default)]
    pub email_now: bool,
    /// Within a year; a time already past publishes at once, as does none.
    #[schema(schema_with = crate::openapi::time_or_blank)]
    pub publish_at: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = announcements)]
pub struct NewAnnouncement {
    pub title: String,
    pub body_md: String,
    pub body_html: String,
    pub published_at: DateTime<Utc>,
    pub email_requested: bool,
}

impl AnnouncementInput {
    pub fn checked(self, now: DateTime<Utc>) -> Result<NewAnnouncement, AppError> {
        let mut checks = Checks::default();
        let title = checks.text("title", self.title.as_deref().unwrap_or(""), 1, 200);
        let body_md = checks.multiline_text("body_md", self.body_md.as_deref().unwrap_or(""), 1, 20_000);
        let published_at = match self.publish_at.as_deref().filter(|t| !t.trim().is_empty()) {
            None => now,
            Some(text) => match crate::api::rfc3339(text) {
                Some(at) if at > now + chrono::Duration::days(366) => {
                    checks.fail("publish_at", "must be within a year");
                    now
                }
                // A time already past publishes at once.
                Some(at) => at.max(now),
                None => {
                    checks.fail(
                        "publish_at",
                        "must be a time with its offset, like 2026-12-01T09:00:00+05:00",
                    );
                    now
                }
            },
        };
        checks.finish()?;
        Ok(NewAnnouncement {
            body_html: crate::markdown::to_safe_html(&body_md),
            title,
            body_md,
            published_at,
            email_requested: self.email_now,
        })
    }
}

/// The mail of an announcement to one member.
pub struct AnnouncementMail {
    pub name: String,
    pub title: String,
    /// The Markdown as written: plain enough to read as text.
    pub body_text: String,
    /// Sanitised when it was saved.
    pub body_html: String,
    pub link: String,
    pub unsubscribe: Option<String>,
}

email_template!(
    AnnouncementMail,
    kind = "announcement",
    subject = "emails/announcement/subject.txt",
    text = "emails/announcement/body.txt",
    html = "emails/announcement/body.html"
);
