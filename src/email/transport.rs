//! How a message leaves: SMTP (see `smtp.rs`) when `SMTP_URL` is set, else
//! `.eml` files in `$KARVAN_DATA_DIR/mail`.

use std::path::PathBuf;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::email::dkim::DkimSigner;
use crate::email::outbox::OutboxMessage;
use crate::email::smtp::{SmtpClient, SmtpServer};

/// Why one message was not delivered.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    /// The message itself is unsendable (a bad address, a bad header):
    /// retrying cannot help. SMTP refusals are retried, 5xx included, so a
    /// server misconfigured for an hour does not lose a day's mail.
    pub unsendable: bool,
}

impl SendError {
    fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            unsendable: false,
        }
    }

    fn unsendable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            unsendable: true,
        }
    }
}

pub enum Transport {
    Smtp(SmtpClient),
    Files(PathBuf),
}

impl Transport {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let Some(url) = &settings.smtp_url else {
            return Ok(Transport::Files(settings.data_dir.join("mail")));
        };
        let server = SmtpServer::from_url(url.expose_secret()).map_err(|e| anyhow::anyhow!("SMTP_URL: {e}"))?;
        Ok(Transport::Smtp(SmtpClient::new(server, settings.mail.smtp_timeout)))
    }

    /// Where `.eml` files go, when that is the transport.
    pub fn mail_dir(&self) -> Option<&PathBuf> {
        match self {
            Transport::Files(dir) => Some(dir),
            Transport::Smtp(_) => None,
        }
    }

    pub async fn send(&self, row: &OutboxMessage, message: Message) -> Result<(), SendError> {
        match self {
            Transport::Smtp(client) => client.send(&message).await.map_err(SendError::retryable),
            Transport::Files(dir) => {
                let path = dir.join(format!("{}-{}.eml", row.created_at.format("%Y%m%dT%H%M%S"), row.id));
                let dir = dir.clone();
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    use std::io::Write;
                    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
                    // Mail holds sign-in links: readable by this user only.
                    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
                    // Written whole, then renamed: a reader never sees half a message.
                    let partial = path.with_extension("eml.partial");
                    let mut file = std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(&partial)?;
                    file.write_all(&bytes)?;
                    std::fs::rename(&partial, &path)
                })
                .await
                .map_err(|e| SendError::retryable(format!("writing mail file: {e}")))?
                .map_err(|e| SendError::retryable(format!("writing mail file: {e}")))
            }
        }
    }

    /// Closes pooled connections politely (at shutdown).
    pub async fn close(&self) {
        if let Transport::Smtp(client) = self {
            client.close_idle().await;
        }
    }
}

/// The MIME message for a row. Its Message-ID is the row's id, so a copy
/// sent twice after a crash is recognisable as the same message.
pub fn build_message(
    row: &OutboxMessage,
    from: &Mailbox,
    message_id_domain: &str,
    dkim: Option<&DkimSigner>,
) -> Result<Message, SendError> {
    let to: Mailbox = row
        .to_address
        .parse()
        .map_err(|e| SendError::unsendable(format!("invalid recipient '{}': {e}", row.to_address)))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .date_now()
        .message_id(Some(format!("<{}@{}>", row.id, message_id_domain)));
    let headers = row
        .header_pairs()
        .map_err(|e| SendError::unsendable(format!("stored headers do not read: {e}")))?;
    for (name, value) in headers {
        let name = HeaderName::new_from_ascii(name.clone())
            .map_err(|_| SendError::unsendable(format!("invalid header name '{name}'")))?;
        builder = builder.raw_header(HeaderValue::new(name, value));
    }

    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(row.text_body.clone());
    let body = match &row.html_body {
        Some(html) => MultiPart::alternative()
            .singlepart(text)
            .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
        None => MultiPart::mixed().singlepart(text),
    };
    let attachments = row
        .attachment_list()
        .map_err(|e| SendError::unsendable(format!("stored attachments do not read: {e}")))?;
    let message = if attachments.is_empty() {
        builder.multipart(body)
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for attachment in attachments {
            let content_type = ContentType::parse(&attachment.content_type)
                .map_err(|_| SendError::unsendable(format!("invalid attachment type '{}'", attachment.content_type)))?;
            mixed = mixed.singlepart(
                lettre::message::Attachment::new(attachment.filename).body(attachment.content, content_type),
            );
        }
        builder.multipart(mixed)
    };
    let mut message = message.map_err(|e| SendError::unsendable(format!("could not build the message: {e}")))?;
    if let Some(signer) = dkim {
        signer.sign(&mut message);
    }
    Ok(message)
}
