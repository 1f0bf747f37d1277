//! Email that is never lost (DESIGN.md, mechanism 4).
//!
//! A feature renders an [`Email`] from its templates and calls
//! [`outbox::queue`] inside the transaction of the change that caused it. The
//! [`sender::Sender`] delivers queued rows through a [`transport::Transport`],
//! retrying with backoff until the message is sent or marked failed.

pub mod admin;
pub mod admin_web;
pub mod dkim;
pub mod outbox;
pub mod sender;
pub mod smtp;
pub mod templates;
pub mod transport;
pub mod unsubscribe;

use serde::{Deserialize, Serialize};
use url::Url;

/// What every mail's layout needs: the association, and the base of links.
#[derive(Debug, Clone)]
pub struct MailContext {
    pub association_name: String,
    /// From `KARVAN_PUBLIC_URL`, never from a request's Host header.
    pub public_url: Url,
    /// The association's zone (`KARVAN_TIME_ZONE`): times in mail to members
    /// who chose no zone of their own.
    pub time_zone: chrono_tz::Tz,
    /// Signs the unsubscribe links of bulk mail; `None` where no bulk mail
    /// is sent (a CLI command without the service's secret).
    pub unsubscribe: Option<unsubscribe::UnsubscribeKey>,
}

impl MailContext {
    /// The one-click unsubscribe link for `member` and `topic`.
    pub fn unsubscribe_link(&self, member: uuid::Uuid, topic: unsubscribe::Topic) -> Option<String> {
        let key = self.unsubscribe.as_ref()?;
        Some(self.link(&format!("/unsubscribe?token={}", key.token(member, topic))))
    }

    /// An absolute link to `path_and_query` on the site.
    pub fn link(&self, path_and_query: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}/{}", path_and_query.trim_start_matches('/'))
    }
}

/// A file sent with a message, such as an event's `.ics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    #[serde(with = "base64_bytes")]
    pub content: Vec<u8>,
}

/// A message ready to queue: rendered, addressed, and keyed.
#[derive(Debug, Clone)]
pub struct Email {
    /// `addr@example.org` or `Name <addr@example.org>`.
    pub to: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    /// Extra headers, such as `List-Unsubscribe` on bulk mail.
    pub headers: Vec<(String, String)>,
    pub attachments: Vec<Attachment>,
    /// What the mail is for (`verify_email`, `digest` ...): shown to admins.
    pub kind: String,
    /// The same key queued twice keeps one message, e.g. `digest:2026-W48:<member>`.
    pub idempotency_key: String,
}

/// The three rendered parts of an email template.
#[derive(Debug, Clone)]
pub struct RenderedParts {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// An email's data with its three templates, declared by [`email_template!`].
pub trait EmailTemplate {
    /// The `kind` recorded in the outbox.
    const KIND: &'static str;
    fn render_parts(&self, mail: &MailContext) -> Result<RenderedParts, askama::Error>;
}

impl Email {
    /// Renders `template` for one recipient.
    pub fn render<T: EmailTemplate>(
        template: &T,
        mail: &MailContext,
        to: impl Into<String>,
        idempotency_key: impl Into<String>,
    ) -> Result<Self, askama::Error> {
        let parts = template.render_parts(mail)?;
        Ok(Email {
            to: to.into(),
            // A subject is one line, whatever the template's whitespace.
            subject: parts.subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text_body: parts.text,
            html_body: Some(parts.html),
            headers: Vec::new(),
            attachments: Vec::new(),
            kind: T::KIND.to_string(),
            idempotency_key: idempotency_key.into(),
        })
    }

    /// Marks the message as bulk mail (announcements, digests): mail clients
    /// then offer one-click unsubscribe (RFC 2369, RFC 8058). Transactional
    /// mail never carries these headers.
    pub fn with_list_unsubscribe(mut self, https_url: &str, mailto: Option<&str>) -> Self {
        let value = match mailto {
            Some(address) => format!("<{https_url}>, <mailto:{address}?subject=unsubscribe>"),
            None => format!("<{https_url}>"),
        };
        self.headers.push(("List-Unsubscribe".into(), value));
        self.headers
            .push(("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into()));
        self
    }

    pub fn with_attachment(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }
}

/// Declares the subject, text and HTML templates of an email over a data
/// struct, whose fields the templates read as `m.<field>`; `mail` is the
/// [`MailContext`]. Text templates are not escaped, HTML templates are.
#[macro_export]
macro_rules! email_template {
    ($data:ty, kind = $kind:literal, subject = $subject:tt, text = $text:tt, html = $html:tt) => {
        const _: () = {
            use askama::Template as _;

            #[derive(askama::Template)]
            #[template(path = $subject)]
            // A part may use only some of the data (a subject often none).
            #[allow(dead_code)]
            struct Subject<'a> {
                m: &'a $data,
                mail: &'a $crate::email::MailContext,
            }

            #[derive(askama::Template)]
            #[template(path = $text)]
            // A part may use only some of the data (a subject often none).
            #[allow(dead_code)]
            struct Text<'a> {
                m: &'a $data,
                mail: &'a $crate::email::MailContext,
            }

            #[derive(askama::Template)]
            #[template(path = $html)]
            // A part may use only some of the data (a subject often none).
            #[allow(dead_code)]
            struct Html<'a> {
                m: &'a $data,
                mail: &'a $crate::email::MailContext,
            }

            impl $crate::email::EmailTemplate for $data {
                const KIND: &'static str = $kind;

                fn render_parts(
                    &self,
                    mail: &$crate::email::MailContext,
                ) -> Result<$crate::email::RenderedParts, askama::Error> {
                    Ok($crate::email::RenderedParts {
                        subject: Subject { m: self, mail }.render()?,
                        text: Text { m: self, mail }.render()?,
                        html: Html { m: self, mail }.render()?,
                    })
                }
            }
        };
    };
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}
