//! The mail the board's decisions send.

use crate::email_template;

pub struct Welcome {
    pub full_name: String,
}

email_template!(
    Welcome,
    kind = "welcome",
    subject = "emails/welcome/subject.txt",
    text = "emails/welcome/body.txt",
    html = "emails/welcome/body.html"
);

pub struct ApplicationRejected {
    pub full_name: String,
    pub reason: String,
}

email_template!(
    ApplicationRejected,
    kind = "application_rejected",
    subject = "emails/application_rejected/subject.txt",
    text = "emails/application_rejected/body.txt",
    html = "emails/application_rejected/body.html"
);
