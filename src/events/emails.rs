//! The mail an event sends: each kind says what happened in its first
//! line, and all give the time in the recipient's own zone.

use std::ops::Deref;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::email::unsubscribe::Topic;
use crate::email::{Attachment, Email, EmailTemplate, MailContext};
use crate::email_template;
use crate::error::AppError;
use crate::events::ics;
use crate::events::model::Event;
use crate::members::model::Member;
use crate::pages::local_time;

/// What every event mail shows.
pub struct EventMail {
    pub name: String,
    pub subject: String,
    pub lead: String,
    pub title: String,
    pub when: String,
    pub place: String,
    pub link: String,
    pub reason: Option<String>,
    pub with_calendar: bool,
    /// For bulk mail (a new event to every member who takes it): the
    /// member's one-click unsubscribe link.
    pub unsubscribe: Option<String>,
}

macro_rules! event_mail {
    ($name:ident, $kind:literal) => {
        pub struct $name(pub EventMail);

        impl Deref for $name {
            type Target = EventMail;
            fn deref(&self) -> &EventMail {
                &self.0
            }
        }

        email_template!(
            $name,
            kind = $kind,
            subject = "emails/event/subject.txt",
            text = "emails/event/body.txt",
            html = "emails/event/body.html"
        );
    };
}

event_mail!(EventPublished, "event_published");
event_mail!(EventChanged, "event_changed");
event_mail!(EventCancelled, "event_cancelled");
event_mail!(SeatOffered, "event_seat");
event_mail!(EventReminder, "event_reminder");

/// One recipient of an event's mail.
pub struct Recipient {
    pub mailbox: String,
    pub name: String,
    pub time_zone: Option<String>,
}

impl Recipient {
    pub fn of(member: &Member) -> Self {
        Self {
            mailbox: member.mailbox(),
            name: member.full_name.clone(),
            time_zone: member.time_zone.clone(),
        }
    }
}

/// "5 Dec 2026, 19:00 – 22:00 (+05)" in the recipient's zone (or the
/// association's).
pub fn when(event: &Event, zone: Option<&str>, mail: &MailContext) -> String {
    let zone = zone.and_then(|z| z.parse().ok()).unwrap_or(mail.time_zone);
    when_in(event.starts_at, event.ends_at, zone)
}

/// A start and an end as a person reads them in `zone`, with the end's
/// date when it is another day.
pub fn when_in(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>, zone: Tz) -> String {
    let start = starts_at.with_timezone(&zone);
    let end = ends_at.with_timezone(&zone);
    let end_text = if start.date_naive() == end.date_naive() {
        end.format("%H:%M").to_string()
    } else {
        end.format("%-d %b %Y, %H:%M").to_string()
    };
    let start_text = local_time(starts_at, zone);
    // local_time ends with the zone: put the end before it.
    match start_text.rsplit_once(" (") {
        Some((start, zone_name)) => format!("{start} – {end_text} ({zone_name}"),
        None => format!("{start_text} – {end_text}"),
    }
}

/// The event's `.ics`, as a file to attach.
pub fn calendar_file(event: &Event, mail: &MailContext, method: &str) -> Attachment {
    Attachment {
        filename: "event.ics".into(),
        content_type: format!("text/calendar; charset=utf-8; method={method}"),
        content: ics::calendar(std::slice::from_ref(event), mail, &event.title, method, Utc::now()).into_bytes(),
    }
}

/// What happened, in a subject and a first line.
pub struct Notice {
    pub subject: String,
    pub lead: String,
}

/// The notice of a new event to one member: bulk mail, which carries their
/// unsubscribe link in the footer and in the headers (RFC 8058).
pub fn published(event: &Event, member: &Member, mail: &MailContext, file: &Attachment) -> Result<Email, AppError> {
    let unsubscribe = mail.unsubscribe_link(member.id, Topic::Events);
    let notice = Notice {
        subject: format!("New event: {}", event.title),
        lead: format!("{} has published an event:", mail.association_name),
    };
    let wrap = |mut data: EventMail| {
        data.unsubscribe = unsubscribe.clone();
        EventPublished(data)
    };
    let key = format!("event_published:{}:{}", event.id, member.id);
    let email = render(wrap, notice, event, &Recipient::of(member), mail, key, Some(file))?;
    Ok(match &unsubscribe {
        Some(link) => email.with_list_unsubscribe(link, None),
        None => email,
    })
}

/// Renders one kind of event mail for `to`, keyed by `key`.
pub fn render<T: EmailTemplate>(
    wrap: impl FnOnce(EventMail) -> T,
    notice: Notice,
    event: &Event,
    to: &Recipient,
    mail: &MailContext,
    key: String,
    attachment: Option<&Attachment>,
) -> Result<Email, AppError> {
    let data = wrap(EventMail {
        name: to.name.clone(),
        subject: notice.subject,
        lead: notice.lead,
        title: event.title.clone(),
        when: when(event, to.time_zone.as_deref(), mail),
        place: event.place(),
        link: mail.link(&format!("/events/{}", event.id)),
        reason: event
            .cancel_reason
            .clone()
            .filter(|_| event.status == super::model::CANCELLED),
        with_calendar: attachment.is_some(),
        unsubscribe: None,
    });
    let mut email = Email::render(&data, mail, to.mailbox.clone(), key)?;
    if let Some(file) = attachment {
        email = email.with_attachment(file.clone());
    }
    Ok(email)
}
