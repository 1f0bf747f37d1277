//! The mail that accounts send.

use crate::email_template;

pub struct VerifyEmail {
    pub full_name: String,
    /// `/verify-email?token=...`: a page whose button verifies, so a mail
    /// scanner that follows links verifies nothing.
    pub path: String,
}

email_template!(
    VerifyEmail,
    kind = "verify_email",
    subject = "emails/verify_email/subject.txt",
    text = "emails/verify_email/body.txt",
    html = "emails/verify_email/body.html"
);

pub struct AlreadyRegistered {
    pub full_name: String,
}

email_template!(
    AlreadyRegistered,
    kind = "already_registered",
    subject = "emails/already_registered/subject.txt",
    text = "emails/already_registered/body.txt",
    html = "emails/already_registered/body.html"
);

pub struct PasswordReset {
    pub full_name: String,
    pub path: String,
}

email_template!(
    PasswordReset,
    kind = "password_reset",
    subject = "emails/password_reset/subject.txt",
    text = "emails/password_reset/body.txt",
    html = "emails/password_reset/body.html"
);

pub struct MemberVerified {
    pub admin_name: String,
    pub applicant_name: String,
    pub applicant_email: String,
}

email_template!(
    MemberVerified,
    kind = "member_verified",
    subject = "emails/member_verified/subject.txt",
    text = "emails/member_verified/body.txt",
    html = "emails/member_verified/body.html"
);

/// To someone on the imported roster: a link to choose a password.
pub struct Invitation {
    pub full_name: String,
    pub path: String,
}

email_template!(
    Invitation,
    kind = "invitation",
    subject = "emails/invitation/subject.txt",
    text = "emails/invitation/body.txt",
    html = "emails/invitation/body.html"
);
