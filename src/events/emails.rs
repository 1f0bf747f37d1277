//! The mail an event sends: each kind says what happened in its first
//! line, and all give the time in the recipient's own zone.

use std::ops::Deref;

use chrono::Utc;

use crate::email::{Attachment, Email, EmailTemplate, MailContext};
use crate::email_template;
use crate::error::AppError;
use crate::events::ics;
use crate::events::model::Event;
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

/// "5 Dec 2026, 19:00 – 22:00 (+05)" in the recipient's zone (or the
/// association's), with the end's date when it is another day.
pub fn when(event: &Event, zone: Option<&str>, mail: &MailContext) -> String {
    let zone = zone.and_then(|z| z.parse().ok()).unwrap_or(mail.time_zone);
    let start = event.starts_at.with_timezone(&zone);
    let end = event.ends_at.with_timezone(&zone);
    let end_text = if start.date_naive() == end.date_naive() {
        end.format("%H:%M").to_string()
    } else {
        end.format("%-d %b %Y, %H:%M").to_string()
    };
    let start_text = local_time(event.starts_at, zone);
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
    });
    let mut email = Email::render(&data, mail, to.mailbox.clone(), key)?;
    if let Some(file) = attachment {
        email = email.with_attachment(file.clone());
    }
    Ok(email)
}
