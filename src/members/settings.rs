//! A member's settings beyond the profile: which mail they take
//! (`notifications` on `/api/v1/me`) and the secret of their calendar feed.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::schema::{member_settings, members};
use crate::email::unsubscribe::Topic;
use crate::email::MailContext;
use crate::members::model::{Member, ACTIVE};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = member_settings, check_for_backend(diesel::pg::Pg))]
pub struct MemberSettings {
    pub member_id: Uuid,
    pub notify_events: bool,
    pub notify_announcements: bool,
    pub calendar_token: String,
}

impl MemberSettings {
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
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Notifications {
    /// A newly published event.
    pub events: bool,
    /// An announcement the board sends by mail.
    pub announcements: bool,
}

/// `notifications` in `PATCH /api/v1/me`: what is sent changes.
#[derive(Debug, Default, Clone, Deserialize)]
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
}

impl SettingsChanges {
    pub fn from_patch(patch: Option<&NotificationsPatch>) -> Self {
        let patch = patch.cloned().unwrap_or_default();
        Self {
            notify_events: patch.events,
            notify_announcements: patch.announcements,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.notify_events.is_none() && self.notify_announcements.is_none()
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

/// Takes `topic`'s mail (`on`) or stops it, from an unsubscribe link.
pub fn set_topic(conn: &mut PgConnection, member: Uuid, topic: Topic, on: bool) -> QueryResult<()> {
    let changes = match topic {
        Topic::Events => SettingsChanges {
            notify_events: Some(on),
            ..SettingsChanges::default()
        },
        Topic::Announcements => SettingsChanges {
            notify_announcements: Some(on),
            ..SettingsChanges::default()
        },
    };
    apply(conn, member, &changes)
}
