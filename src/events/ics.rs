//! Events as iCalendar (RFC 5545), for a single event's `.ics` and for a
//! member's feed. Times are written in UTC (`...Z`), which every calendar
//! (Google, Apple, Outlook) places right in its user's own zone with no
//! time zone definitions to get wrong; the UID is the event's id, stable
//! across changes, and SEQUENCE grows with each change, so an imported
//! event is updated rather than duplicated.

use chrono::{DateTime, Utc};

use crate::email::MailContext;
use crate::events::model::{Event, CANCELLED};

/// `.ics` of `events`. `method` is `PUBLISH` for an event or a feed, and
/// `CANCEL` for the notice of a cancellation.
pub fn calendar(events: &[Event], mail: &MailContext, name: &str, method: &str, now: DateTime<Utc>) -> String {
    let mut ics = Ics::default();
    ics.line("BEGIN", "VCALENDAR");
    ics.line("VERSION", "2.0");
    ics.line("PRODID", "-//Karvan//Karvan alumni service//EN");
    ics.line("CALSCALE", "GREGORIAN");
    ics.line("METHOD", method);
    ics.text("X-WR-CALNAME", name);
    let host = mail.public_url.host_str().unwrap_or("karvan.invalid");
    for event in events {
        ics.line("BEGIN", "VEVENT");
        ics.line("UID", &format!("event-{}@{host}", event.id));
        ics.line("DTSTAMP", &utc(now));
        ics.line("DTSTART", &utc(event.starts_at));
        ics.line("DTEND", &utc(event.ends_at));
        ics.line("SEQUENCE", &event.sequence.to_string());
        ics.line("LAST-MODIFIED", &utc(event.updated_at));
        ics.line("CREATED", &utc(event.created_at));
        ics.text("SUMMARY", &event.title);
        let link = mail.link(&format!("/events/{}", event.id));
        let mut description = event.description_md.clone();
        if let Some(url) = &event.online_url {
            description.push_str(&format!("\n\nOnline: {url}"));
        }
        description.push_str(&format!("\n\n{link}"));
        ics.text("DESCRIPTION", description.trim_start());
        if let Some(place) = &event.location {
            ics.text("LOCATION", place);
        } else if let Some(url) = &event.online_url {
            ics.text("LOCATION", url);
        }
        ics.line("URL", &link);
        let cancelled = event.status == CANCELLED;
        ics.line("STATUS", if cancelled { "CANCELLED" } else { "CONFIRMED" });
        ics.line("TRANSP", "OPAQUE");
        ics.line("END", "VEVENT");
    }
    ics.line("END", "VCALENDAR");
    ics.0
}

fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

#[derive(Default)]
struct Ics(String);

impl Ics {
    /// A property whose value is written as is.
    fn line(&mut self, name: &str, value: &str) {
        self.fold(&format!("{name}:{value}"));
    }

    /// A TEXT property: backslashes, semicolons, commas and line breaks escaped.
    fn text(&mut self, name: &str, value: &str) {
        let mut escaped = String::with_capacity(value.len());
        for c in value.replace("\r\n", "\n").chars() {
            match c {
                '\\' => escaped.push_str("\\\\"),
                ';' => escaped.push_str("\\;"),
                ',' => escaped.push_str("\\,"),
                '\n' => escaped.push_str("\\n"),
                c if c.is_control() => {}
                c => escaped.push(c),
            }
        }
        self.line(name, &escaped);
    }

    /// Lines longer than 75 octets continue on the next, after a space,
    /// never inside a character (section 3.1).
    fn fold(&mut self, line: &str) {
        let mut width = 0;
        for c in line.chars() {
            if width + c.len_utf8() > 75 {
                self.0.push_str("\r\n ");
                width = 1;
            }
            self.0.push(c);
            width += c.len_utf8();
        }
        self.0.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::Ics;

    #[test]
    fn long_lines_fold_at_75_octets_and_never_inside_a_character() {
        let mut ics = Ics::default();
        ics.text("SUMMARY", &"Məmmədova, Baloch; ".repeat(10));
        for line in ics.0.split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
        let unfolded = ics.0.replace("\r\n ", "");
        assert!(
            unfolded.starts_with("SUMMARY:Məmmədova\\, Baloch\\; Məmmədova"),
            "{unfolded}"
        );
    }
}
