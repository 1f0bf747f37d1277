//! A member's settings beyond the profile: which mail they take
//! (`notifications` on `/api/v1/me`) and the secret of their calendar feed.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::Checks;
use crate::db::schema::{member_settings, members};
use crate::email::unsubscribe::Topic;
use crate::email::MailContext;
use crate::error::AppError;
use crate::members::model::{Member, ACTIVE};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = member_settings, check_for_backend(diesel::pg::Pg))]
pub struct MemberSettings {
    pub member_id: Uuid,
    pub notify_events: bool,
    pub notify_announcements: bool,
    pub calendar_token: String,
    pub digest_frequency: String,
    pub digest_topics: Vec<Option<String>>,
    pub digest_covered_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl MemberSettings {
    pub fn digest(&self) -> DigestSettings {
        DigestSettings {
            frequency: self.digest_frequency.clone(),
            topics: self.digest_topics.iter().flatten().cloned().collect(),
        }
    }

    pub fn takes_digest_topic(&self, topic: &str) -> bool {
        self.digest_topics.iter().flatten().any(|t| t == topic)
    }

    pub fn notifications(&self) -> Notifications {
        Notifications {
            events: self.notify_events,
            announcements: self.notify_announcements,
        }
    }

    /// The address of the member's feed, for calendars to subscribe to.
    pub fn calendar_url(&self, mail: &MailContext) -> String {
        mail.link(&format!("/calendar/{}.ics", self.calendar_token))
    }
}

/// Which mail a member takes, besides what concerns them alone.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct Notifications {
    /// A newly published event.
    pub events: bool,
    /// An announcement the board sends by mail.
    pub announcements: bool,
}

/// How often a digest comes, and what it tells (`digest` on `/api/v1/me`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DigestSettings {
    #[schema(value_type = DigestFrequency)]
    pub frequency: String,
    #[schema(value_type = Vec<DigestTopic>)]
    pub topics: Vec<String>,
}

/// A digest's rhythm as the API names it (`DIGEST_FREQUENCIES`; held as a string).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DigestFrequency {
    Weekly,
    Monthly,
    Off,
}

/// What a digest tells of, as the API names it (`DIGEST_TOPICS`; held as a string).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DigestTopic {
    Events,
    Announcements,
    NewMembers,
}

pub const DIGEST_FREQUENCIES: [&str; 3] = ["weekly", "monthly", "off"];
pub const DIGEST_TOPICS: [&str; 3] = ["events", "announcements", "new_members"];

/// `digest` in `PATCH /api/v1/me`: what is sent changes.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DigestPatch {
    #[schema(value_type = Option<DigestFrequency>)]
    pub frequency: Option<String>,
    /// All the topics the digest tells of (each once, in any order).
    #[schema(value_type = Option<Vec<DigestTopic>>)]
    pub topics: Option<Vec<String>>,
}

/// `notifications` in `PATCH /api/v1/me`: what is sent changes.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsPatch {
    pub events: Option<bool>,
    pub announcements: Option<bool>,
}

#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = member_settings)]
pub struct SettingsChanges {
    pub notify_events: Option<bool>,
    pub notify_announcements: Option<bool>,
    pub digest_frequency: Option<String>,
    pub digest_topics: Option<Vec<String>>,
}

impl SettingsChanges {
    /// The changes sent, checked: a 422 names a frequency or topic that
    /// does not exist.
    pub fn checked(notifications: Option<&NotificationsPatch>, digest: Option<&DigestPatch>) -> Result<Self, AppError> {
        let notifications = notifications.cloned().unwrap_or_default();
        let digest = digest.cloned().unwrap_or_default();
        let mut checks = Checks::default();
        if let Some(frequency) = &digest.frequency {
            if !DIGEST_FREQUENCIES.contains(&frequency.as_str()) {
                checks.fail("digest.frequency", "must be \"weekly\", \"monthly\" or \"off\"");
            }
        }
        let topics = digest.topics.map(|topics| {
            if let Some(unknown) = topics.iter().find(|t| !DIGEST_TOPICS.contains(&t.as_str())) {
                checks.fail(
                    "digest.topics",
                    format!(
                        "'{}' is not a topic: they are events, announcements and new_members",
                        crate::api::shorten(unknown, 40)
                    ),
                );
            }
            // In the catalogue's order, each once.
            DIGEST_TOPICS
                .iter()
                .filter(|t| topics.iter().any(|s| s == *t))
                .map(|t| t.to_string())
                .collect()
        });
        checks.finish()?;
        Ok(Self {
            notify_events: notifications.events,
            notify_announcements: notifications.announcements,
            digest_frequency: digest.frequency,
            digest_topics: topics,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.notify_events.is_none()
            && self.notify_announcements.is_none()
            && self.digest_frequency.is_none()
            && self.digest_topics.is_none()
    }
}

/// The member's settings (every member has a row, made with them).
pub fn load(conn: &mut PgConnection, member: Uuid) -> QueryResult<MemberSettings> {
    member_settings::table
        .find(member)
        .select(MemberSettings::as_select())
        .first(conn)
}

pub fn apply(conn: &mut PgConnection, member: Uuid, changes: &SettingsChanges) -> QueryResult<()> {
    if !changes.is_empty() {
        diesel::update(member_settings::table.find(member))
            .set(changes)
            .execute(conn)?;
    }
    Ok(())
}

/// A new secret for the calendar feed: the old address stops working.
pub fn renew_calendar_token(conn: &mut PgConnection, member: Uuid) -> QueryResult<MemberSettings> {
    // The feed's address holds the token itself (a calendar cannot sign
    // in), so it is kept as it is, to be shown again on /me.
    let (token, _hash) = crate::auth::tokens::new_opaque_token();
    diesel::update(member_settings::table.find(member))
        .set(member_settings::calendar_token.eq(token))
        .returning(MemberSettings::as_returning())
        .get_result(conn)
}

/// The active member whose calendar feed this is.
pub fn member_for_calendar(conn: &mut PgConnection, token: &str) -> QueryResult<Option<Member>> {
    members::table
        .inner_join(member_settings::table)
        .filter(member_settings::calendar_token.eq(token))
        .filter(members::status.eq(ACTIVE))
        .select(Member::as_select())
        .first(conn)
        .optional()
}

/// A member's choice from an unsubscribe link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChoice {
    Stop,
    /// Take the topic again; the digest at this rhythm (`weekly` or
    /// `monthly`).
    Take {
        rhythm: &'static str,
    },
}

/// Applies `choice` to `topic`'s mail; answers the digest's rhythm before
/// the change (so the page can offer it back).
pub fn set_topic(conn: &mut PgConnection, member: Uuid, topic: Topic, choice: LinkChoice) -> QueryResult<String> {
    let before = load(conn, member)?.digest_frequency;
    let on = matches!(choice, LinkChoice::Take { .. });
    let changes = match topic {
        Topic::Digest => SettingsChanges {
            digest_frequency: Some(
                match choice {
                    LinkChoice::Stop => "off",
                    LinkChoice::Take { rhythm } => rhythm,
                }
                .to_string(),
            ),
            ..SettingsChanges::default()
        },
        Topic::Events => SettingsChanges {
            notify_events: Some(on),
            ..SettingsChanges::default()
        },
        Topic::Announcements => SettingsChanges {
            notify_announcements: Some(on),
            ..SettingsChanges::default()
        },
    };
    apply(conn, member, &changes)?;
    Ok(before)
}
