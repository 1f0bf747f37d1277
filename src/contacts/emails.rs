use crate::email_template;

pub struct ContactRequested {
    pub to_name: String,
    pub from_name: String,
    pub message: String,
}

email_template!(
    ContactRequested,
    kind = "contact_request",
    subject = "emails/contact_request/subject.txt",
    text = "emails/contact_request/body.txt",
    html = "emails/contact_request/body.html"
);

pub struct Introduction {
    pub name: String,
    pub other_name: String,
    pub other_email: String,
}

email_template!(
    Introduction,
    kind = "introduction",
    subject = "emails/introduction/subject.txt",
    text = "emails/introduction/body.txt",
    html = "emails/introduction/body.html"
);
