//! Accounts through the JSON API: sign-up, verification, login, refresh,
//! logout and password reset, with the mail they send read from a real
//! SMTP server.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::email::fast_mail;
use crate::helpers::{hidden_field, problem, spawn_app_with, TestApp};
use crate::mail_server::TestSmtp;

pub async fn accounts_app(smtp: &TestSmtp) -> TestApp {
    spawn_app_with(|vars| fast_mail(vars, Some(&smtp.url()))).await
}

pub fn registration(email: &str) -> Value {
    json!({
        "email": email,
        "password": "Caravan of 2019!",
        "full_name": "Aysel Məmmədova",
        "graduation_year": 2019,
        "university": "Baku State University",
        "country": "Azerbaijan"
    })
}

/// An active admin, made directly (the CLI that makes one comes later).
pub async fn make_admin(app: &TestApp, email: &str) {
    let hash = karvan::auth::password::hash(secrecy::SecretString::from("Board member 2026"))
        .await
        .unwrap();
    diesel::sql_query(
        "INSERT INTO members (email, password_hash, full_name, status, role, approved_at) \
         VALUES ($1, $2, 'Board Admin', 'active', 'admin', now())",
    )
    .bind::<diesel::sql_types::Text, _>(email)
    .bind::<diesel::sql_types::Text, _>(hash)
    .execute(&mut app.conn())
    .unwrap();
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/login", &json!({"email": email, "password": password}))
        .await
}

async fn get_me(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/api/v1/me", app.address))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_up_verify_and_sign_in_through_the_api() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    make_admin(&app, "board@alumni.test").await;

    let response = app
        .post_json("/api/v1/auth/register", &registration("Aysel@Example.org"))
        .await;
    assert_eq!(response.status(), 202);
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail[0].to, vec!["Aysel@Example.org".to_string()]);
    assert!(mail[0]
        .header("Subject")
        .unwrap()
        .starts_with("Confirm your email address"));
    let token = mail[0].link_token("/verify-email");
    assert!(mail[0]
        .text()
        .contains(&format!("http://127.0.0.1:{}/verify-email?token=", app.port())));

    // Pending verification: may sign in and read /me, nothing else yet.
    let tokens: Value = login(&app, "aysel@example.org", "Caravan of 2019!")
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let me: Value = get_me(&app, &access).await.json().await.unwrap();
    assert_eq!(me["status"], "pending_verification");
    assert_eq!(me["email"], "Aysel@Example.org");
    assert_eq!(me["full_name"], "Aysel Məmmədova");
    assert!(me.get("password_hash").is_none());

    let verified = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(verified.status(), 200);
    let member: Value = verified.json().await.unwrap();
    assert_eq!(member["status"], "pending_approval");
    // Every admin hears of the application.
    let mail = smtp.wait_for(2).await;
    assert_eq!(mail[1].to, vec!["board@alumni.test".to_string()]);
    assert!(mail[1].header("Subject").unwrap().contains("Aysel Məmmədova"));

    // The token was single-use.
    let again = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    let body = problem(again, 422).await;
    assert!(body["errors"]["token"].is_array());
    let me: Value = get_me(&app, &access).await.json().await.unwrap();
    assert_eq!(me["status"], "pending_approval");
}

#[tokio::test]
async fn registering_a_taken_address_answers_the_same_and_mails_the_owner() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    let first = app
        .post_json("/api/v1/auth/register", &registration("omar@example.org"))
        .await;
    let first_body: Value = first.json().await.unwrap();
    let second = app
        .post_json("/api/v1/auth/register", &registration("OMAR@example.org"))
        .await;
    assert_eq!(second.status(), 202);
    let second_body: Value = second.json().await.unwrap();
    assert_eq!(first_body, second_body, "no account enumeration");
    let mail = smtp.wait_for(2).await;
    let subjects: Vec<String> = mail.iter().map(|m| m.header("Subject").unwrap()).collect();
    assert!(
        subjects.iter().any(|s| s.starts_with("Someone tried to sign up")),
        "{subjects:?}"
    );
    let count: i64 = karvan::db::schema::members::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(count, 1);
}

/// Two sign-ups of one new address at once: the later one meets the
/// earlier's row only at its insert. It must answer as any sign-up does.
#[tokio::test]
async fn a_sign_up_racing_another_for_the_same_address_answers_the_same() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    let usual: Value = app
        .post_json("/api/v1/auth/register", &registration("first@example.org"))
        .await
        .json()
        .await
        .unwrap();
    // The earlier sign-up, not yet committed: the API's lookup cannot see
    // it, and its insert waits on the unique index until this commits.
    let mut earlier = app.conn();
    diesel::sql_query("BEGIN").execute(&mut earlier).unwrap();
    diesel::sql_query(
        "INSERT INTO members (email, password_hash, full_name) VALUES ('race@example.org', 'x', 'Earlier')",
    )
    .execute(&mut earlier)
    .unwrap();
    let later = tokio::spawn({
        let (client, url) = (app.client.clone(), format!("{}/api/v1/auth/register", app.address));
        async move {
            client
                .post(url)
                .json(&registration("race@example.org"))
                .send()
                .await
                .unwrap()
        }
    });
    // Commit once the API's insert is waiting on this transaction's row.
    let mut watcher = app.conn();
    let mut waited = false;
    for _ in 0..500 {
        if crate::helpers::lock_waiters(&mut watcher) > 0 {
            waited = true;
            break;
        }
        assert!(!later.is_finished(), "the sign-up did not wait for the earlier one");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    diesel::sql_query("COMMIT").execute(&mut earlier).unwrap();
    assert!(waited, "the sign-up never reached its insert");
    let later = later.await.unwrap();
    assert_eq!(later.status(), 202);
    assert_eq!(later.json::<Value>().await.unwrap(), usual, "no account enumeration");
}

#[tokio::test]
async fn bad_registrations_get_422_with_every_field_named() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({
                "email": "not-an-email",
                "password": "short",
                "full_name": "   ",
                "graduation_year": 1066,
                "university": "x".repeat(201),
                "country": "Pakistan\u{0007}"
            }),
        )
        .await;
    let body = problem(response, 422).await;
    for field in [
        "email",
        "password",
        "full_name",
        "graduation_year",
        "university",
        "country",
    ] {
        assert!(body["errors"][field].is_array(), "{field}: {body}");
    }
    let same_as_email = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "sana@example.org", "password": "sana@example.org", "full_name": "Sana"}),
        )
        .await;
    let body = problem(same_as_email, 422).await;
    assert!(body["errors"]["password"][0].as_str().unwrap().contains("email"));
    // Missing fields and wrong types: 422, never 500.
    let missing = app
        .post_json("/api/v1/auth/register", &json!({"email": "a@b.org"}))
        .await;
    problem(missing, 422).await;
    let wrong_type = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": 5, "password": [], "full_name": {}}),
        )
        .await;
    problem(wrong_type, 422).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(smtp.received().is_empty(), "no mail for refused input");
}

#[tokio::test]
async fn an_expired_verification_token_is_refused() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    app.post_json("/api/v1/auth/register", &registration("farid@example.org"))
        .await;
    let token = smtp.wait_for(1).await[0].link_token("/verify-email");
    diesel::sql_query("UPDATE email_tokens SET expires_at = now() - interval '1 minute'")
        .execute(&mut app.conn())
        .unwrap();
    let response = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    problem(response, 422).await;
    let forged = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": "made-up"}))
        .await;
    problem(forged, 422).await;
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_401_then_429() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    app.post_json("/api/v1/auth/register", &registration("leyla@example.org"))
        .await;
    let unknown = problem(login(&app, "nobody@example.org", "Caravan of 2019!").await, 401).await;
    let wrong = problem(login(&app, "leyla@example.org", "not the password").await, 401).await;
    assert_eq!(unknown, wrong, "the same problem for both");

    for _ in 0..19 {
        problem(login(&app, "leyla@example.org", "not the password").await, 401).await;
    }
    let limited = login(&app, "leyla@example.org", "Caravan of 2019!").await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after));
    problem(limited, 429).await;
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_refresh_token_revokes_its_family() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    app.post_json("/api/v1/auth/register", &registration("kamran@example.org"))
        .await;
    let first: Value = login(&app, "kamran@example.org", "Caravan of 2019!")
        .await
        .json()
        .await
        .unwrap();
    let old_refresh = first["refresh_token"].as_str().unwrap().to_string();

    let rotated = app
        .post_json("/api/v1/auth/refresh", &json!({"refresh_token": old_refresh}))
        .await;
    assert_eq!(rotated.status(), 200);
    let second: Value = rotated.json().await.unwrap();
    let new_refresh = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, old_refresh);
    assert_eq!(
        get_me(&app, second["access_token"].as_str().unwrap()).await.status(),
        200
    );

    // The old token again (stolen, or replayed): refused, and the family ends.
    let reused = app
        .post_json("/api/v1/auth/refresh", &json!({"refresh_token": old_refresh}))
        .await;
    problem(reused, 401).await;
    let after = app
        .post_json("/api/v1/auth/refresh", &json!({"refresh_token": new_refresh}))
        .await;
    problem(after, 401).await;

    // Another login is a new family, ended by logout.
    let third: Value = login(&app, "kamran@example.org", "Caravan of 2019!")
        .await
        .json()
        .await
        .unwrap();
    let refresh = third["refresh_token"].as_str().unwrap();
    let logout = app
        .post_json("/api/v1/auth/logout", &json!({"refresh_token": refresh}))
        .await;
    assert_eq!(logout.status(), 204);
    problem(
        app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh}))
            .await,
        401,
    )
    .await;
}

#[tokio::test]
async fn a_password_reset_changes_the_password_and_ends_every_session() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    app.post_json("/api/v1/auth/register", &registration("nigar@example.org"))
        .await;
    smtp.wait_for(1).await;
    let session: Value = login(&app, "nigar@example.org", "Caravan of 2019!")
        .await
        .json()
        .await
        .unwrap();

    // Unknown addresses get the same answer and no mail.
    let unknown = app
        .post_json("/api/v1/auth/password-reset", &json!({"email": "ghost@example.org"}))
        .await;
    assert_eq!(unknown.status(), 202);
    let known = app
        .post_json("/api/v1/auth/password-reset", &json!({"email": "Nigar@example.org"}))
        .await;
    assert_eq!(known.status(), 202);
    let mail = smtp.wait_for(2).await;
    assert_eq!(mail.len(), 2);
    let token = mail[1].link_token("/reset-password");

    let weak = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            &json!({"token": token, "new_password": "short"}),
        )
        .await;
    problem(weak, 422).await;
    let confirm = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            &json!({"token": token, "new_password": "A new caravan 2026"}),
        )
        .await;
    assert_eq!(confirm.status(), 204);
    let reused = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            &json!({"token": token, "new_password": "Another one 2026!"}),
        )
        .await;
    problem(reused, 422).await;

    problem(login(&app, "nigar@example.org", "Caravan of 2019!").await, 401).await;
    assert_eq!(
        login(&app, "nigar@example.org", "A new caravan 2026").await.status(),
        200
    );
    let old_refresh = session["refresh_token"].as_str().unwrap();
    problem(
        app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": old_refresh}))
            .await,
        401,
    )
    .await;
    // The access token from before the reset is refused at once, not in 15 minutes.
    let old_access = session["access_token"].as_str().unwrap();
    problem(get_me(&app, old_access).await, 401).await;
}

#[tokio::test]
async fn any_name_is_mailed_safely_and_no_mailbox_can_be_flooded() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    let mut odd = registration("zainab@example.org");
    odd["full_name"] = json!("Zainab \"Zee\" <Khan> \\");
    let response = app.post_json("/api/v1/auth/register", &odd).await;
    assert_eq!(response.status(), 202);
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail[0].to, vec!["zainab@example.org".to_string()]);

    // Many reset requests for one account: the same answer, at most five mails an hour.
    for _ in 0..8 {
        let response = app
            .post_json("/api/v1/auth/password-reset", &json!({"email": "zainab@example.org"}))
            .await;
        assert_eq!(response.status(), 202);
    }
    smtp.wait_for(6).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 6, "one verification and five resets");
}

#[tokio::test]
async fn me_needs_a_valid_token() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    problem(app.get("/api/v1/me").await, 401).await;
    problem(get_me(&app, "not.a.token").await, 401).await;
}

#[tokio::test]
async fn the_mailed_link_opens_a_page_whose_button_verifies_and_a_scanner_verifies_nothing() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    app.post_json("/api/v1/auth/register", &registration("hina@example.org"))
        .await;
    let token = smtp.wait_for(1).await[0].link_token("/verify-email");
    let status = || -> String {
        use karvan::db::schema::members::dsl::*;
        members.select(status).first(&mut app.conn()).unwrap()
    };

    // A link scanner (or the member, twice) only opens the page.
    for _ in 0..2 {
        let page = app.get(&format!("/verify-email?token={token}")).await;
        assert_eq!(page.status(), 200);
    }
    assert_eq!(status(), "pending_verification");
    let page = app
        .get(&format!("/verify-email?token={token}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Confirm my email address"));
    assert_eq!(hidden_field(&page, "token"), token);
    let csrf = hidden_field(&page, "csrf_token");

    // A form posted from elsewhere (no matching token) is refused.
    let forged = app
        .post_form("/verify-email", &[("csrf_token", "forged"), ("token", token.as_str())])
        .await;
    assert_eq!(forged.status(), 403);
    assert!(forged.text().await.unwrap().contains("did not come from this site"));
    assert_eq!(status(), "pending_verification");

    let confirmed = app
        .post_form(
            "/verify-email",
            &[("csrf_token", csrf.as_str()), ("token", token.as_str())],
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    assert!(confirmed.text().await.unwrap().contains("Your address is confirmed"));
    assert_eq!(status(), "pending_approval");

    let again = app
        .post_form(
            "/verify-email",
            &[("csrf_token", csrf.as_str()), ("token", token.as_str())],
        )
        .await;
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("This link cannot be used"));
}
