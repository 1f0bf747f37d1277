//! What an account can do, shared by the JSON API (`auth::api`) and the pages
//! (`auth::web`): sign up, verify, sign in, refresh, sign out, reset a
//! password. None of it tells whether an email has an account.

use chrono::{Datelike, Duration, Utc};
use diesel::{Connection, PgConnection};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::Checks;
use crate::auth::emails::{AlreadyRegistered, Invitation, MemberVerified, PasswordReset, VerifyEmail};
use crate::auth::limits::AuthLimits;
use crate::auth::tokens::{hash_token, TokenKeys};
use crate::auth::{password, store as tokens};
use crate::db::{self, DbPool};
use crate::email::{outbox, Email, EmailTemplate, MailContext};
use crate::error::{AppError, ErrorKind};
use crate::members::emails::Welcome;
use crate::members::model::{Member, NewMember, ACTIVE, DELETED, INVITED, PENDING_APPROVAL, PENDING_VERIFICATION};
use crate::members::store as members;

const VERIFY_VALID_HOURS: i64 = 24;
const RESET_VALID_HOURS: i64 = 1;
const INVITATION_VALID_DAYS: i64 = 14;

pub const REGISTER_ANSWER: &str =
    "If this address can be used, a message is on its way to it: open the link in it to confirm your address.";
pub const RESEND_ANSWER: &str = "If this address waits for confirmation, a new link is on its way to it.";
pub const RESET_ANSWER: &str =
    "If this address has an account, a message with a link to choose a new password is on its way.";

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct Registration {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// Not the email address.
    #[schema(format = Password, min_length = 10, max_length = 128)]
    pub password: String,
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: String,
    /// At most ten years from now.
    #[schema(schema_with = graduation_year_schema)]
    pub graduation_year: Option<i32>,
    #[schema(max_length = 200)]
    pub university: Option<String>,
    #[schema(max_length = 100)]
    pub country: Option<String>,
}

/// The latest graduation year a member may give: ten years from now.
pub fn latest_graduation_year() -> i32 {
    Utc::now().year() + 10
}

/// A graduation year or `null`, within the years [`BasicProfile::check`]
/// takes (as of when the document is written).
pub fn graduation_year_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int32,
        )))
        .minimum(Some(1900))
        .maximum(Some(latest_graduation_year()))
        .build()
}

/// The basic profile fields, checked the same way wherever they are entered.
pub struct BasicProfile {
    pub full_name: String,
    pub graduation_year: Option<i32>,
    pub university: Option<String>,
    pub country: Option<String>,
}

impl BasicProfile {
    pub fn check(
        checks: &mut Checks,
        full_name: &str,
        graduation_year: Option<i32>,
        university: Option<&str>,
        country: Option<&str>,
    ) -> Self {
        let full_name = checks.text("full_name", full_name, 1, 200);
        if let Some(year) = graduation_year {
            let latest = latest_graduation_year();
            if !(1900..=latest).contains(&year) {
                checks.fail("graduation_year", format!("must be between 1900 and {latest}"));
            }
        }
        Self {
            full_name,
            graduation_year,
            university: checks.optional_text("university", university, 200),
            country: checks.optional_text("country", country, 100),
        }
    }
}

fn limit_mail_requests(limits: &AuthLimits, address: &str) -> Result<(), AppError> {
    match limits.mail_requests_per_address.hit(address) {
        Some(wait) => Err(AppError::rate_limited(wait)),
        None => Ok(()),
    }
}

/// Signs someone up, or mails the owner of a taken address instead; the
/// caller answers the same either way.
pub async fn register(
    pool: &DbPool,
    mail: &MailContext,
    limits: &AuthLimits,
    address: &str,
    form: Registration,
) -> Result<(), AppError> {
    let mut checks = Checks::default();
    let email = checks.email("email", &form.email);
    let profile = BasicProfile::check(
        &mut checks,
        &form.full_name,
        form.graduation_year,
        form.university.as_deref(),
        form.country.as_deref(),
    );
    if let Some(problem) = password::policy_violation(&form.password, &email) {
        checks.fail("password", problem);
    }
    checks.finish()?;
    limit_mail_requests(limits, address)?;

    // Hashed whether or not the address is taken: the answer takes as long.
    let password_hash = password::hash(SecretString::from(form.password)).await?;
    let mail = mail.clone();
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let existing = members::find_by_email(conn, &email)?;
            if let Some(invited) = existing.as_ref().filter(|m| m.status == INVITED) {
                // On the roster but never signed in: the invitation is sent
                // again, and its link lets them choose a password and join
                // at once. Nothing else changes, so no one can take over or
                // block a roster entry by signing up with its address.
                // At most one an hour, however often someone tries.
                if !tokens::issued_since(conn, invited.id, tokens::INVITATION, Duration::hours(1))? {
                    queue_invitation(conn, &mail, invited)?;
                }
                return Ok(());
            }
            if let Some(existing) = existing {
                // One notice an hour at most, however often someone tries.
                let key = format!("already_registered:{}:{}", existing.id, Utc::now().format("%Y%m%d%H"));
                let notice = Email::render(
                    &AlreadyRegistered {
                        full_name: existing.full_name.clone(),
                    },
                    &mail,
                    existing.mailbox(),
                    key,
                )?;
                outbox::queue(conn, &notice)?;
                return Ok(());
            }
            let member = members::insert(
                conn,
                &NewMember {
                    email: &email,
                    password_hash: &password_hash,
                    full_name: &profile.full_name,
                    graduation_year: profile.graduation_year,
                    university: profile.university.as_deref(),
                    country: profile.country.as_deref(),
                },
            )?;
            queue_verification(conn, &mail, &member)
        })
    })
    .await
    // Two sign-ups of one new address at once: the later finds it taken
    // only at its insert (a unique violation, rolled back). It answers as
    // every sign-up does, so the answer never tells that the account exists.
    .or_else(|error| match error.kind {
        ErrorKind::Conflict => Ok(()),
        _ => Err(error),
    })
}

fn queue_verification(conn: &mut PgConnection, mail: &MailContext, member: &Member) -> Result<(), AppError> {
    let link = LinkMail {
        purpose: tokens::VERIFY_EMAIL,
        valid_for: Duration::hours(VERIFY_VALID_HOURS),
        page: "/verify-email",
    };
    link.queue(conn, mail, member, |path| VerifyEmail {
        full_name: member.full_name.clone(),
        path,
    })
}

/// A mail with a single-use link: earlier links of the same purpose stop
/// working, a new token is stored hashed, and the mail carries the token.
struct LinkMail {
    purpose: &'static str,
    valid_for: Duration,
    /// The page the link opens; its button posts the token.
    page: &'static str,
}

impl LinkMail {
    fn queue<T: EmailTemplate>(
        &self,
        conn: &mut PgConnection,
        mail: &MailContext,
        member: &Member,
        template: impl FnOnce(String) -> T,
    ) -> Result<(), AppError> {
        tokens::expire_email_tokens(conn, member.id, self.purpose)?;
        let token = tokens::create_email_token(conn, member.id, self.purpose, self.valid_for)?;
        let email = Email::render(
            &template(format!("{}?token={token}", self.page)),
            mail,
            member.mailbox(),
            format!("{}:{}:{}", self.purpose, member.id, Uuid::new_v4()),
        )?;
        outbox::queue(conn, &email)?;
        Ok(())
    }
}

pub fn invalid_token() -> AppError {
    AppError::invalid_field("token", "is not valid, was already used, or has expired")
}

/// Uses up a verification token: the member moves on to the board's
/// approval, and every active admin is told.
pub async fn verify_email(pool: &DbPool, mail: &MailContext, token: &str) -> Result<Member, AppError> {
    let token_hash = hash_token(token.trim());
    let mail = mail.clone();
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let member_id =
                tokens::consume_email_token(conn, &token_hash, tokens::VERIFY_EMAIL)?.ok_or_else(invalid_token)?;
            let member = members::find(conn, member_id)?.ok_or_else(invalid_token)?;
            if member.status != PENDING_VERIFICATION {
                return Ok(member);
            }
            if member.imported_at.is_some() {
                // On the association's roster: no approval to wait for.
                let member = members::mark_email_verified(conn, member.id, ACTIVE)?;
                let member = members::mark_approved(conn, member.id)?;
                let welcome = Email::render(
                    &Welcome {
                        full_name: member.full_name.clone(),
                    },
                    &mail,
                    member.mailbox(),
                    format!("welcome:{}", member.id),
                )?;
                outbox::queue(conn, &welcome)?;
                return Ok(member);
            }
            let member = members::mark_email_verified(conn, member.id, PENDING_APPROVAL)?;
            for admin in members::active_admins(conn)? {
                let notice = Email::render(
                    &MemberVerified {
                        admin_name: admin.full_name.clone(),
                        applicant_name: member.full_name.clone(),
                        applicant_email: member.email.clone(),
                    },
                    &mail,
                    admin.mailbox(),
                    format!("member_verified:{}:{}", member.id, admin.id),
                )?;
                outbox::queue(conn, &notice)?;
            }
            Ok::<_, AppError>(member)
        })
    })
    .await
}

/// The address of a request that sends mail to an account (resend,
/// reset): checked, and limited per client address (429) and per account
/// (`None`: answer as usual, send nothing).
fn mail_request_email(limits: &AuthLimits, address: &str, email: &str) -> Result<Option<String>, AppError> {
    let mut checks = Checks::default();
    let email = checks.email("email", email);
    checks.finish()?;
    limit_mail_requests(limits, address)?;
    if limits.mail_per_account.hit(&email.to_lowercase()).is_some() {
        return Ok(None);
    }
    Ok(Some(email))
}

/// A new verification link, if the address waits for one.
pub async fn resend_verification(
    pool: &DbPool,
    mail: &MailContext,
    limits: &AuthLimits,
    address: &str,
    email: &str,
) -> Result<(), AppError> {
    let Some(email) = mail_request_email(limits, address, email)? else {
        return Ok(());
    };
    let mail = mail.clone();
    db::run(pool, move |conn| {
        conn.transaction(|conn| match members::find_by_email(conn, &email)? {
            Some(member) if member.status == PENDING_VERIFICATION => queue_verification(conn, &mail, &member),
            _ => Ok(()),
        })
    })
    .await
}

/// The same answer for an unknown email and a wrong password.
pub fn wrong_credentials() -> AppError {
    AppError::unauthorized().with_detail("The email or the password is wrong.")
}

/// Checks an email and password, within the limits on failed attempts.
/// An unknown email costs as long as a wrong password (a dummy hash).
pub async fn authenticate(
    pool: &DbPool,
    limits: &AuthLimits,
    address: &str,
    email: &str,
    given_password: String,
) -> Result<Member, AppError> {
    let account = email.trim().to_lowercase();
    if account.is_empty()
        || account.len() > 254
        || given_password.is_empty()
        || given_password.len() > 4 * password::MAX_LENGTH
    {
        return Err(wrong_credentials());
    }
    // Counted before the password is checked, so a burst of parallel
    // guesses cannot all slip under the limit; a success is forgiven.
    let account_wait = limits.login_per_account.hit(&account);
    let address_wait = limits.login_per_address.hit(address);
    if account_wait.is_some() || address_wait.is_some() {
        if account_wait.is_none() {
            limits.login_per_account.forgive(&account);
        }
        if address_wait.is_none() {
            limits.login_per_address.forgive(address);
        }
        return Err(AppError::rate_limited(account_wait.max(address_wait).unwrap_or(1)));
    }

    let lookup = account.clone();
    let member = db::run(pool, move |conn| members::find_by_email(conn, &lookup)).await?;
    let stored = member.as_ref().map(|m| m.password_hash.clone());
    let matches = password::verify(SecretString::from(given_password), stored).await?;
    // An invited member signs in only once their address is confirmed.
    let Some(member) = member.filter(|m| matches && m.status != INVITED) else {
        return Err(wrong_credentials());
    };
    limits.login_per_account.clear(&account);
    limits.login_per_address.forgive(address);
    Ok(member)
}

/// A new session: an access token and the first refresh token of a family.
pub async fn start_session(pool: &DbPool, keys: &TokenKeys, member_id: Uuid) -> Result<(String, String), AppError> {
    let access = keys.issue_access(member_id)?;
    let refresh = db::run(pool, move |conn| {
        tokens::create_refresh_token(conn, member_id, Uuid::new_v4())
    })
    .await?;
    Ok((access, refresh))
}

/// Why a refresh token was not exchanged.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshRefused {
    /// Unknown, expired, revoked, or its member is gone.
    Invalid,
    /// Rotated within the grace period: a parallel request of the same
    /// browser got there first. Nothing is revoked; the member is named so
    /// this one request can still be served.
    JustRotated(Uuid),
    /// A rotated token came back: its whole family is now revoked.
    Reused,
}

/// Exchanges a refresh token for the next one of its family. A token rotated
/// more than `reuse_grace` ago counts as stolen and revokes the family (the
/// API allows no grace; pages allow a few seconds, for parallel requests).
pub async fn rotate_refresh(
    pool: &DbPool,
    token: &str,
    reuse_grace: Duration,
) -> Result<Result<(Uuid, String), RefreshRefused>, AppError> {
    let token_hash = hash_token(token.trim());
    // Reuse revokes the family in a committed transaction: the refusal that
    // follows must not roll the revocation back.
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let Some(row) = tokens::lock_refresh_token(conn, &token_hash)? else {
                return Ok::<_, AppError>(Err(RefreshRefused::Invalid));
            };
            let now = Utc::now();
            let in_grace = reuse_grace > Duration::zero()
                && row.revoked_at.is_none()
                && row.expires_at > now
                && row.rotated_at.is_some_and(|at| at > now - reuse_grace);
            if in_grace {
                return Ok(Err(RefreshRefused::JustRotated(row.member_id)));
            }
            if row.rotated_at.is_some() || row.revoked_at.is_some() {
                tokens::revoke_family(conn, row.family_id)?;
                tracing::warn!(member = %row.member_id, family = %row.family_id, "a used refresh token came back; its family is revoked");
                return Ok(Err(RefreshRefused::Reused));
            }
            if row.expires_at <= now {
                return Ok(Err(RefreshRefused::Invalid));
            }
            match members::find(conn, row.member_id)? {
                Some(member) if member.status != DELETED => {}
                _ => return Ok(Err(RefreshRefused::Invalid)),
            }
            tokens::mark_rotated(conn, row.id)?;
            let next = tokens::create_refresh_token(conn, row.member_id, row.family_id)?;
            Ok(Ok((row.member_id, next)))
        })
    })
    .await
}

/// Signs out: the refresh token's whole family stops working.
pub async fn end_session(pool: &DbPool, refresh_token: &str) -> Result<(), AppError> {
    let token_hash = hash_token(refresh_token.trim());
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            if let Some(row) = tokens::lock_refresh_token(conn, &token_hash)? {
                tokens::revoke_family(conn, row.family_id)?;
            }
            diesel::QueryResult::Ok(())
        })
    })
    .await
}

/// Mails a reset link if the address has an account.
pub async fn request_password_reset(
    pool: &DbPool,
    mail: &MailContext,
    limits: &AuthLimits,
    address: &str,
    email: &str,
) -> Result<(), AppError> {
    let Some(email) = mail_request_email(limits, address, email)? else {
        return Ok(());
    };
    let mail = mail.clone();
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let Some(member) = members::find_by_email(conn, &email)? else {
                return Ok(());
            };
            let link = LinkMail {
                purpose: tokens::PASSWORD_RESET,
                valid_for: Duration::hours(RESET_VALID_HOURS),
                page: "/reset-password",
            };
            link.queue(conn, &mail, &member, |path| PasswordReset {
                full_name: member.full_name.clone(),
                path,
            })
        })
    })
    .await
}

/// Sets a new password with a mailed single-use token of `purpose`, then
/// runs `then` on the member in the same transaction. Shared by the reset
/// and the invitation, which differ only in what follows.
async fn set_password_with_token<T: Send + 'static>(
    pool: &DbPool,
    token: &str,
    purpose: &'static str,
    new_password: String,
    then: impl FnOnce(&mut PgConnection, Member) -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    let length = new_password.chars().count();
    if !(password::MIN_LENGTH..=password::MAX_LENGTH).contains(&length) {
        let message = password::policy_violation(&new_password, "").unwrap_or_default();
        return Err(AppError::invalid_field("new_password", message));
    }
    let token_hash = hash_token(token.trim());
    // A cheap look first: no one keeps the hashing slots busy with made-up tokens.
    let lookup = token_hash.clone();
    if !db::run(pool, move |conn| tokens::email_token_is_usable(conn, &lookup, purpose)).await? {
        return Err(invalid_token());
    }
    let new_hash = password::hash(SecretString::from(new_password.clone())).await?;
    let new_password = SecretString::from(new_password);
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let member_id = tokens::consume_email_token(conn, &token_hash, purpose)?.ok_or_else(invalid_token)?;
            let member = members::find(conn, member_id)?.ok_or_else(invalid_token)?;
            if let Some(problem) = password::policy_violation(new_password.expose_secret(), &member.email) {
                return Err(AppError::invalid_field("new_password", problem));
            }
            members::set_password_hash(conn, member.id, &new_hash)?;
            then(conn, member)
        })
    })
    .await
}

/// Sets a new password with a reset token, and ends every session.
pub async fn confirm_password_reset(
    pool: &DbPool,
    limits: &AuthLimits,
    address: &str,
    token: &str,
    new_password: String,
) -> Result<(), AppError> {
    limit_mail_requests(limits, address)?;
    set_password_with_token(pool, token, tokens::PASSWORD_RESET, new_password, |conn, member| {
        tokens::end_sessions(conn, member.id)?;
        if member.status == INVITED {
            // The mailed link proved the address: as accepting the invitation.
            members::mark_email_verified(conn, member.id, ACTIVE)?;
            members::mark_approved(conn, member.id)?;
        }
        Ok(())
    })
    .await
}

/// Changes a known password; every session ends, so a stolen one does too.
pub async fn change_password(
    pool: &DbPool,
    limits: &AuthLimits,
    member: Member,
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    if let Some(problem) = password::policy_violation(&new_password, &member.email) {
        return Err(AppError::invalid_field("new_password", problem));
    }
    // Guesses at the current password count as failed logins.
    let account = member.email.to_lowercase();
    if let Some(wait) = limits.login_per_account.hit(&account) {
        return Err(AppError::rate_limited(wait));
    }
    let current_ok = password::verify(SecretString::from(current_password), Some(member.password_hash.clone())).await?;
    if !current_ok {
        return Err(AppError::invalid_field(
            "current_password",
            "is not your current password",
        ));
    }
    limits.login_per_account.forgive(&account);
    let new_hash = password::hash(SecretString::from(new_password)).await?;
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            members::set_password_hash(conn, member.id, &new_hash)?;
            tokens::end_sessions(conn, member.id)?;
            crate::audit::record(
                conn,
                Some(member.id),
                "member.password_change",
                ("member", &member.id.to_string()),
                serde_json::json!({}),
            )
        })
    })
    .await
}

/// Mails an invitation to someone imported from the roster: a link to
/// choose a password (earlier invitations stop working).
pub fn queue_invitation(conn: &mut PgConnection, mail: &MailContext, member: &Member) -> Result<(), AppError> {
    let link = LinkMail {
        purpose: tokens::INVITATION,
        valid_for: Duration::days(INVITATION_VALID_DAYS),
        page: "/accept-invitation",
    };
    link.queue(conn, mail, member, |path| Invitation {
        full_name: member.full_name.clone(),
        path,
    })
}

/// Sets the first password of an invited member, whose address the mailed
/// link just proved: the member is active at once.
pub async fn accept_invitation(pool: &DbPool, token: &str, new_password: String) -> Result<Member, AppError> {
    set_password_with_token(pool, token, tokens::INVITATION, new_password, |conn, member| {
        if member.status != INVITED {
            return Err(invalid_token());
        }
        members::mark_email_verified(conn, member.id, ACTIVE)?;
        let member = members::mark_approved(conn, member.id)?;
        crate::audit::record(
            conn,
            Some(member.id),
            "member.invitation_accept",
            ("member", &member.id.to_string()),
            serde_json::json!({}),
        )?;
        Ok(member)
    })
    .await
}
