use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::Checks;
use crate::db::schema::events;
use crate::error::AppError;

pub const DRAFT: &str = "draft";
pub const PUBLISHED: &str = "published";
pub const CANCELLED: &str = "cancelled";

pub const GOING: &str = "going";
pub const WAITLISTED: &str = "waitlisted";
pub const NOT_GOING: &str = "not_going";

/// The most seats an event may have.
pub const MAX_CAPACITY: i64 = 100_000;

/// An event's `status` (stored as text; this names its values in the API's document).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum EventStatus {
    Draft,
    Published,
    Cancelled,
}

/// A member's answer to an event, as the service keeps it (the document's name for its values).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum RsvpStatus {
    Going,
    Waitlisted,
    NotGoing,
}

/// What a member may answer: a seat is given, or a place on the waitlist.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum RsvpChoice {
    Going,
    NotGoing,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = events, check_for_backend(diesel::pg::Pg))]
pub struct Event {
    pub id: Uuid,
    pub title: String,
    pub description_md: String,
    pub description_html: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: String,
    pub location: Option<String>,
    pub online_url: Option<String>,
    pub capacity: Option<i32>,
    pub status: String,
    pub sequence: i32,
    pub cancel_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl Event {
    /// The zone the board planned the event in (stored names are checked on write).
    pub fn zone(&self) -> Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }

    pub fn is_published(&self) -> bool {
        self.status == PUBLISHED
    }

    /// Where: the place, the online link, or both.
    pub fn place(&self) -> String {
        place(self.location.as_deref(), self.online_url.as_deref())
    }
}

/// Where an event is: the place, the online link, or both.
pub fn place(location: Option<&str>, online_url: Option<&str>) -> String {
    match (location, online_url) {
        (Some(place), Some(url)) => format!("{place} and online: {url}"),
        (Some(place), None) => place.to_string(),
        (None, Some(url)) => format!("Online: {url}"),
        (None, None) => String::new(),
    }
}

/// An event as a member (or admin) sees it, with the seats taken and their own answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub id: Uuid,
    pub title: String,
    /// Admins edit the Markdown; everyone else reads the HTML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_md: Option<String>,
    pub description_html: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: String,
    pub location: Option<String>,
    pub online_url: Option<String>,
    pub capacity: Option<i32>,
    pub going_count: i64,
    pub waitlist_count: i64,
    #[schema(value_type = EventStatus)]
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// The viewer's own answer; `null` before they answer.
    #[schema(value_type = Option<RsvpStatus>)]
    pub my_rsvp: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
}

impl EventView {
    pub fn new(event: Event, going_count: i64, waitlist_count: i64, my_rsvp: Option<String>, admin: bool) -> Self {
        Self {
            id: event.id,
            title: event.title,
            description_md: admin.then_some(event.description_md),
            description_html: event.description_html,
            starts_at: event.starts_at,
            ends_at: event.ends_at,
            time_zone: event.time_zone,
            location: event.location,
            online_url: event.online_url,
            capacity: event.capacity,
            going_count,
            waitlist_count,
            status: event.status,
            cancel_reason: event.cancel_reason,
            my_rsvp,
            published_at: event.published_at,
        }
    }

    /// Seats left, when the event has a capacity.
    pub fn seats_left(&self) -> Option<i64> {
        self.capacity.map(|c| (i64::from(c) - self.going_count).max(0))
    }
}

/// An event as the board sends it to create or change one. On change,
/// fields not sent stay as they are; `null` clears an optional field.
/// Times are either RFC 3339 with an offset (`2026-12-05T19:00:00+05:00`)
/// or local to `time_zone` (`2026-12-05T19:00`), as the board thinks of them.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Required to create one.
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    /// Markdown.
    #[schema(max_length = 20000, content_media_type = "text/markdown")]
    pub description_md: Option<String>,
    /// Required to create one; `2026-12-05T19:00:00+05:00`, or `2026-12-05T19:00` in `time_zone`.
    #[schema(example = "2026-12-05T19:00")]
    pub starts_at: Option<String>,
    /// Required to create one; after `starts_at`, and within 31 days of it.
    #[schema(example = "2026-12-05T22:00")]
    pub ends_at: Option<String>,
    /// Required to create one: an IANA time zone.
    #[schema(schema_with = crate::openapi::time_zone_or_null)]
    pub time_zone: Option<String>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(max_length = 300)]
    pub location: Option<Option<String>>,
    /// An http or https address. A new one must match the pattern; the
    /// event's address now may be sent back as it is, even one an earlier
    /// version took that the pattern refuses.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(schema_with = crate::openapi::web_address_or_none::<500>)]
    pub online_url: Option<Option<String>>,
    /// `null`: no limit.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(minimum = 1, maximum = 100000)]
    pub capacity: Option<Option<i64>>,
}

/// A whole event, checked.
#[derive(Debug, Clone, PartialEq, AsChangeset, Insertable)]
#[diesel(table_name = events, treat_none_as_null = true)]
pub struct EventValues {
    pub title: String,
    pub description_md: String,
    pub description_html: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: String,
    pub location: Option<String>,
    pub online_url: Option<String>,
    pub capacity: Option<i32>,
}

impl EventValues {
    /// Whether attendees must hear of the change: the time or the place moved.
    pub fn moves(&self, event: &Event) -> bool {
        self.starts_at != event.starts_at
            || self.ends_at != event.ends_at
            || self.location != event.location
            || self.online_url != event.online_url
    }

    /// Whether calendars that hold the event must update it.
    pub fn changes_calendar(&self, event: &Event) -> bool {
        self.moves(event) || self.title != event.title || self.description_md != event.description_md
    }
}

/// A time as sent: with an offset, or local to `zone`.
fn parse_time(checks: &mut Checks, field: &str, value: &str, zone: Option<Tz>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Some(at.with_timezone(&Utc));
    }
    let local = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok());
    let Some(local) = local else {
        checks.fail(field, "must be a date and time such as 2026-12-05T19:00");
        return None;
    };
    // Without a valid zone the time cannot be placed; the zone's own error says why.
    let zone = zone?;
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        // Clocks went back: the first of the two moments.
        chrono::LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        chrono::LocalResult::None => {
            checks.fail(field, format!("does not exist in {zone}: the clocks change then"));
            None
        }
    }
}

impl EventInput {
    /// The whole event this input describes: its fields over `existing`
    /// (when changing one), checked together; a 422 names every bad field.
    pub fn checked(self, existing: Option<&Event>) -> Result<EventValues, AppError> {
        let mut checks = Checks::default();
        let title = match (self.title, existing) {
            (Some(title), _) => checks.text("title", &title, 1, 200),
            (None, Some(event)) => event.title.clone(),
            (None, None) => {
                checks.fail("title", "is required");
                String::new()
            }
        };
        let description_md = match (self.description_md, existing) {
            (Some(text), _) => checks.multiline_text("description_md", &text, 0, 20_000),
            (None, Some(event)) => event.description_md.clone(),
            (None, None) => String::new(),
        };
        let zone_text = self
            .time_zone
            .or_else(|| existing.map(|e| e.time_zone.clone()))
            .unwrap_or_default();
        let zone = checks.optional_time_zone("time_zone", Some(&zone_text));
        if zone_text.trim().is_empty() {
            checks.fail(
                "time_zone",
                "is required: the zone the event's times are in, like Asia/Baku",
            );
        }
        let mut time = |field: &str, sent: Option<String>, current: Option<DateTime<Utc>>| match sent {
            Some(value) => parse_time(&mut checks, field, &value, zone),
            None if current.is_some() => current,
            None => {
                checks.fail(field, "is required");
                None
            }
        };
        let starts_at = time("starts_at", self.starts_at, existing.map(|e| e.starts_at));
        let ends_at = time("ends_at", self.ends_at, existing.map(|e| e.ends_at));
        if let (Some(start), Some(end)) = (starts_at, ends_at) {
            if end <= start {
                checks.fail("ends_at", "must be after the start");
            } else if end - start > chrono::Duration::days(31) {
                checks.fail("ends_at", "must be within 31 days of the start");
            }
        }
        let location = match self.location {
            Some(value) => checks.optional_text("location", value.as_deref(), 300),
            None => existing.and_then(|e| e.location.clone()),
        };
        let stored_url = existing.and_then(|e| e.online_url.clone());
        let online_url = match self.online_url {
            // Sent back as stored (the edit page sends every field): kept,
            // even an address an earlier, looser check took.
            Some(Some(sent)) if stored_url.as_deref() == Some(sent.trim()) => stored_url,
            Some(value) => checks.optional_web_address("online_url", value.as_deref(), 500),
            None => stored_url,
        };
        let capacity = match self.capacity {
            Some(Some(n)) if !(1..=MAX_CAPACITY).contains(&n) => {
                checks.fail(
                    "capacity",
                    format!("must be between 1 and {MAX_CAPACITY}, or null for no limit"),
                );
                None
            }
            Some(value) => value.map(|n| n as i32),
            None => existing.and_then(|e| e.capacity),
        };
        checks.finish()?;
        Ok(EventValues {
            description_html: crate::markdown::to_safe_html(&description_md),
            title,
            description_md,
            starts_at: starts_at.unwrap_or_default(),
            ends_at: ends_at.unwrap_or_default(),
            time_zone: zone.map(|z| z.name().to_string()).unwrap_or_default(),
            location,
            online_url,
            capacity,
        })
    }
}

/// `PUT /api/v1/events/{id}/rsvp`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RsvpInput {
    #[schema(value_type = RsvpChoice)]
    pub status: String,
}

impl RsvpInput {
    /// Whether the member asks for a seat.
    pub fn going(&self) -> Result<bool, AppError> {
        match self.status.as_str() {
            GOING => Ok(true),
            NOT_GOING => Ok(false),
            _ => Err(AppError::invalid_field("status", "must be \"going\" or \"not_going\"")),
        }
    }
}

/// An answer as the board sees it, for the list and the door's CSV.
#[derive(Debug, Clone, Serialize, Queryable, utoipa::ToSchema)]
pub struct RsvpRow {
    pub member_id: Uuid,
    pub full_name: String,
    pub email: String,
    #[schema(value_type = RsvpStatus)]
    pub status: String,
    pub position: i64,
    pub updated_at: DateTime<Utc>,
}
