//! Emails of the mail mechanism itself. Features keep their own emails in
//! their folders, declared the same way.

use crate::email_template;

/// Sent by `karvan outbox send-test`, so a volunteer can check the mail settings.
pub struct SmtpTest {
    pub requested_at: String,
}

email_template!(
    SmtpTest,
    kind = "smtp_test",
    subject = "emails/smtp_test/subject.txt",
    text = "emails/smtp_test/body.txt",
    html = "emails/smtp_test/body.html"
);
