//! The digest mail: what is new, in the member's own zone, with their own
//! cohort first and the one-click unsubscribe link.

use crate::email_template;

pub struct EventLine {
    pub title: String,
    pub when: String,
    pub place: String,
    pub link: String,
}

pub struct NewsLine {
    pub title: String,
    pub text: String,
    pub link: String,
}

#[derive(Clone)]
pub struct PersonLine {
    pub name: String,
    pub about: String,
    pub link: String,
    /// Of the member's own university or programme.
    pub yours: bool,
}

pub struct Digest {
    pub name: String,
    /// "week 48 of 2026".
    pub period: String,
    pub events: Vec<EventLine>,
    pub news: Vec<NewsLine>,
    pub people: Vec<PersonLine>,
    /// New members beyond those named.
    pub more_people: usize,
    /// More joined than were looked at: "at least".
    pub more_at_least: bool,
    /// The directory, where they all are.
    pub directory: String,
    pub unsubscribe: Option<String>,
}

email_template!(
    Digest,
    kind = "digest",
    subject = "emails/digest/subject.txt",
    text = "emails/digest/body.txt",
    html = "emails/digest/body.html"
);
