//! Accounts through the pages, as a person in a browser uses them: forms
//! with CSRF tokens, session cookies, silent refresh, and the board's pages.

use diesel::prelude::*;
use serde_json::json;

use crate::accounts::{accounts_app, make_admin, registration};
use crate::helpers::{hidden_field, location, set_cookies, Browser, TestApp};
use crate::mail_server::TestSmtp;

const PASSWORD: &str = "Caravan of 2019!";

fn status_of(app: &TestApp, address: &str) -> String {
    use karvan::db::schema::members::dsl::*;
    members
        .filter(email.eq(address))
        .select(status)
        .first(&mut app.conn())
        .unwrap()
}

async fn sign_in(browser: &Browser, email: &str, password: &str) -> reqwest::Response {
    browser
        .submit("/login", "/login", &[("email", email), ("password", password)])
        .await
}

/// An applicant who signed up through the API and confirmed the address.
async fn verified_applicant(app: &TestApp, smtp: &TestSmtp, email: &str) {
    let before = smtp.received().len();
    app.post_json("/api/v1/auth/register", &registration(email)).await;
    let token = smtp
        .wait_for(before + 1)
        .await
        .last()
        .unwrap()
        .link_token("/verify-email");
    let verified = app
        .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
        .await;
    assert_eq!(verified.status(), 200);
}

#[tokio::test]
async fn a_person_signs_up_confirms_is_approved_and_signs_in_through_the_pages() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    make_admin(&app, "board@alumni.test").await;
    let aysel = app.browser();

    // A form with mistakes comes back with every field's message, and keeps
    // what was typed, except the password.
    let form = aysel.page("/signup").await;
    assert!(form.contains(r#"action="/signup""#));
    let mistaken = aysel
        .submit(
            "/signup",
            "/signup",
            &[
                ("full_name", "Aysel Məmmədova"),
                ("email", "not-an-address"),
                ("password", "short"),
                ("graduation_year", "1850"),
            ],
        )
        .await;
    assert_eq!(mistaken.status(), 422);
    let page = mistaken.text().await.unwrap();
    for field in ["email", "password", "graduation_year"] {
        assert!(
            page.contains(&format!(r#"id="{field}-error""#)),
            "{field} has its message"
        );
    }
    assert!(!page.contains(r#"id="full_name-error""#));
    assert!(page.contains(r#"value="Aysel Məmmədova""#), "the name is kept");
    assert!(!page.contains("short"), "the password is not sent back");

    let joined = aysel
        .submit(
            "/signup",
            "/signup",
            &[
                ("full_name", "Aysel Məmmədova"),
                ("email", "aysel@example.org"),
                ("password", PASSWORD),
                ("graduation_year", "2019"),
                ("university", "Baku State University"),
                ("country", "Azerbaijan"),
            ],
        )
        .await;
    assert_eq!(joined.status(), 200);
    assert!(joined.text().await.unwrap().contains("Check your mail"));

    // The link in the mail opens a page; its button confirms.
    let token = smtp.wait_for(1).await[0].link_token("/verify-email");
    let confirm_page = format!("/verify-email?token={token}");
    let confirmed = aysel
        .submit(&confirm_page, "/verify-email", &[("token", token.as_str())])
        .await;
    assert!(confirmed.text().await.unwrap().contains("Your address is confirmed"));
    assert_eq!(status_of(&app, "aysel@example.org"), "pending_approval");
    let notice = &smtp.wait_for(2).await[1];
    assert_eq!(notice.to, vec!["board@alumni.test".to_string()]);
    assert!(notice.text().contains(&format!("{}/admin", app.address)));

    // Signed in before approval, the applicant sees where things stand.
    let signed_in = sign_in(&aysel, "Aysel@Example.org", PASSWORD).await;
    assert_eq!(location(&signed_in), "/me");
    let cookies = set_cookies(&signed_in);
    for name in ["karvan_session=", "karvan_refresh="] {
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("{name} set"));
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");
    }
    let me = aysel.page("/me").await;
    assert!(me.contains("The board is reviewing your application"));
    assert!(me.contains("Sign out"));
    assert_eq!(aysel.get("/admin").await.status(), 403);

    // The board: sent to sign in, and back to the page it asked for.
    let board = app.browser();
    let asked = board.get("/admin").await;
    assert_eq!(location(&asked), "/login?next=%2Fadmin");
    let login_page = board.page("/login?next=%2Fadmin").await;
    assert_eq!(hidden_field(&login_page, "next"), "/admin");
    let wrong = board
        .submit(
            "/login",
            "/login",
            &[("email", "board@alumni.test"), ("password", "not the password")],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("The email or the password is wrong."));
    let admin_in = board
        .submit(
            "/login?next=%2Fadmin",
            "/login",
            &[
                ("email", "board@alumni.test"),
                ("password", "Board member 2026"),
                ("next", "/admin"),
            ],
        )
        .await;
    assert_eq!(location(&admin_in), "/admin");
    let approvals = board.page("/admin").await;
    assert!(approvals.contains("Aysel Məmmədova"));
    assert!(approvals.contains("Baku State University"));
    let id: String = {
        use karvan::db::schema::members::dsl::*;
        let found: uuid::Uuid = members
            .filter(email.eq("aysel@example.org"))
            .select(id)
            .first(&mut app.conn())
            .unwrap();
        found.to_string()
    };
    let approved = board
        .submit(
            "/admin",
            &format!("/admin/members/{id}/approve"),
            &[("return_to", "/admin")],
        )
        .await;
    assert_eq!(location(&approved), "/admin");
    assert_eq!(status_of(&app, "aysel@example.org"), "active");
    let welcome = &smtp.wait_for(3).await[2];
    assert_eq!(welcome.to, vec!["aysel@example.org".to_string()]);
    assert!(welcome.text().contains(&format!("{}/login", app.address)));
    assert!(!board.page("/admin").await.contains("Aysel Məmmədova"));

    // The member now sees an active membership.
    let me = aysel.page("/me").await;
    assert!(me.contains("active"));
    assert!(!me.contains("reviewing"));

    // The board reads the audit log and the mail as it was sent, with the
    // single-use link's token hidden.
    let audit = board.page("/admin/audit").await;
    assert!(audit.contains("member.approve"));
    assert!(audit.contains("board@alumni.test"));
    let outbox = board.page("/admin/outbox").await;
    assert!(outbox.contains("Confirm your email address"));
    let verify_id: uuid::Uuid = {
        use karvan::db::schema::email_outbox::dsl::*;
        email_outbox
            .filter(kind.eq("verify_email"))
            .select(id)
            .first(&mut app.conn())
            .unwrap()
    };
    let message = board.page(&format!("/admin/outbox/{verify_id}")).await;
    assert!(message.contains("/verify-email?token=[hidden]"), "{message}");
    assert!(!message.contains(&token));
    let html = board.get(&format!("/admin/outbox/{verify_id}/html")).await;
    assert!(html.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
    assert!(!html.text().await.unwrap().contains(&token));
    assert!(board.page("/admin/audit").await.contains("outbox.read"));

    // Searching the members' list.
    let list = board.page("/admin/members?q=aysel&status=active").await;
    assert!(list.contains("aysel@example.org"));
    let none = board.page("/admin/members?q=nobody").await;
    assert!(!none.contains("aysel@example.org"));
    assert_eq!(board.get("/admin/members?status=bogus").await.status(), 422);
}

#[tokio::test]
async fn forms_without_this_sites_token_change_nothing() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    make_admin(&app, "board@alumni.test").await;
    verified_applicant(&app, &smtp, "hina@example.org").await;
    let board = app.browser();
    sign_in(&board, "board@alumni.test", "Board member 2026").await;
    let id: uuid::Uuid = {
        use karvan::db::schema::members::dsl::*;
        members
            .filter(email.eq("hina@example.org"))
            .select(id)
            .first(&mut app.conn())
            .unwrap()
    };

    // Another site can make the browser post, with its cookies but without
    // the token of this site's pages.
    for (action, fields) in [
        (format!("/admin/members/{id}/approve"), vec![]),
        ("/me".to_string(), vec![("full_name", "Changed")]),
        ("/logout".to_string(), vec![]),
        (
            "/signup".to_string(),
            vec![("email", "x@example.org"), ("password", PASSWORD), ("full_name", "X")],
        ),
        (
            "/login".to_string(),
            vec![("email", "board@alumni.test"), ("password", "Board member 2026")],
        ),
    ] {
        let mut form = vec![("csrf_token", "forged")];
        form.extend(fields);
        let refused = board.post_form(&action, &form).await;
        assert_eq!(refused.status(), 403, "{action}");
        assert!(refused.text().await.unwrap().contains("did not come from this site"));
    }
    assert_eq!(status_of(&app, "hina@example.org"), "pending_approval");
    let names: Vec<String> = {
        use karvan::db::schema::members::dsl::*;
        members.select(full_name).load(&mut app.conn()).unwrap()
    };
    assert!(!names.contains(&"Changed".to_string()));
    assert!(!names.contains(&"X".to_string()));
    // Still signed in: the forged sign-out did nothing.
    assert_eq!(board.get("/admin").await.status(), 200);
}

/// The refresh token a sign-in through the login page set.
async fn page_session(app: &TestApp, email: &str, password: &str) -> String {
    let browser = app.browser();
    let response = sign_in(&browser, email, password).await;
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("karvan_refresh="))
        .expect("a refresh cookie");
    cookie["karvan_refresh=".len()..].split(';').next().unwrap().to_string()
}

/// A request with only a refresh cookie: the access cookie has expired.
async fn with_refresh_cookie(app: &TestApp, refresh: &str, path: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", app.address))
        .header("cookie", format!("karvan_refresh={refresh}"))
        .send()
        .await
        .unwrap()
}

fn cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    set_cookies(response)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c[name.len() + 1..].split(';').next().unwrap().to_string())
}

#[tokio::test]
async fn an_expired_session_is_renewed_silently_and_a_stolen_refresh_cookie_ends_it() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    make_admin(&app, "board@alumni.test").await;
    let first = page_session(&app, "board@alumni.test", "Board member 2026").await;

    // Renewed without a word: the page answers, with a new pair of cookies.
    let renewed = with_refresh_cookie(&app, &first, "/admin").await;
    assert_eq!(renewed.status(), 200);
    assert_eq!(renewed.headers()["cache-control"], "no-store");
    let second = cookie_value(&renewed, "karvan_refresh").expect("a new refresh cookie");
    assert_ne!(second, first);
    assert!(cookie_value(&renewed, "karvan_session").is_some_and(|v| !v.is_empty()));

    // The same browser's parallel request with the old cookie, just after:
    // served as the member, with no new cookies, and nothing is revoked.
    let parallel = with_refresh_cookie(&app, &first, "/admin").await;
    assert_eq!(parallel.status(), 200);
    assert!(set_cookies(&parallel)
        .iter()
        .all(|c| !c.starts_with("karvan_session") && !c.starts_with("karvan_refresh")));
    let third_response = with_refresh_cookie(&app, &second, "/me").await;
    assert_eq!(third_response.status(), 200);
    let third = cookie_value(&third_response, "karvan_refresh").unwrap();

    // Long after its rotation, the old cookie comes back: stolen. The whole
    // family ends, the current cookie too, and the browser's are cleared.
    diesel::sql_query(
        "UPDATE refresh_tokens SET rotated_at = now() - interval '10 minutes' WHERE rotated_at IS NOT NULL",
    )
    .execute(&mut app.conn())
    .unwrap();
    let stolen = with_refresh_cookie(&app, &first, "/me").await;
    assert_eq!(location(&stolen), "/login?next=%2Fme");
    assert_eq!(cookie_value(&stolen, "karvan_refresh").as_deref(), Some(""));
    let current = with_refresh_cookie(&app, &third, "/me").await;
    assert_eq!(location(&current), "/login?next=%2Fme");
}

#[tokio::test]
async fn signing_out_ends_the_session_and_pages_keep_out_who_may_not_see_them() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    verified_applicant(&app, &smtp, "hina@example.org").await;

    let anyone = app.browser();
    assert_eq!(location(&anyone.get("/me").await), "/login?next=%2Fme");
    assert_eq!(
        location(&anyone.get("/admin/members?q=a").await),
        "/login?next=%2Fadmin%2Fmembers%3Fq%3Da"
    );
    // A `next` to another site is not followed.
    let hina = app.browser();
    let signed_in = hina
        .submit(
            "/login",
            "/login",
            &[
                ("email", "hina@example.org"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&signed_in), "/me");
    for page in ["/admin", "/admin/members", "/admin/outbox", "/admin/audit"] {
        let refused = hina.get(page).await;
        assert_eq!(refused.status(), 403, "{page}");
        assert!(refused.text().await.unwrap().contains("Only board admins"));
    }
    // Signed in, the sign-in and join pages lead to the account.
    assert_eq!(location(&hina.get("/login").await), "/me");
    assert_eq!(location(&hina.get("/signup").await), "/me");

    // Signing in again in the same browser leaves no live session behind.
    let again = hina
        .submit(
            "/me",
            "/login",
            &[("email", "hina@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&again), "/me");
    let revoked_by_second_sign_in: i64 = {
        use karvan::db::schema::refresh_tokens::dsl::*;
        refresh_tokens
            .filter(revoked_at.is_not_null())
            .count()
            .get_result(&mut app.conn())
            .unwrap()
    };
    assert_eq!(revoked_by_second_sign_in, 1);

    let signed_out = hina.submit("/me", "/logout", &[]).await;
    assert_eq!(location(&signed_out), "/");
    assert_eq!(cookie_value(&signed_out, "karvan_session").as_deref(), Some(""));
    assert_eq!(location(&hina.get("/me").await), "/login?next=%2Fme");
    let revoked: i64 = {
        use karvan::db::schema::refresh_tokens::dsl::*;
        refresh_tokens
            .filter(revoked_at.is_not_null())
            .count()
            .get_result(&mut app.conn())
            .unwrap()
    };
    assert_eq!(revoked, 2, "the session's refresh token is revoked");
}

#[tokio::test]
async fn a_member_edits_the_profile_and_changes_the_password_on_the_account_page() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    verified_applicant(&app, &smtp, "hina@example.org").await;
    let hina = app.browser();
    sign_in(&hina, "hina@example.org", PASSWORD).await;
    let api_session: serde_json::Value = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "hina@example.org", "password": PASSWORD}),
        )
        .await
        .json()
        .await
        .unwrap();

    let profile = |name: &'static str, zone: &'static str| {
        [
            ("full_name", name),
            ("graduation_year", "2018"),
            ("university", "LUMS"),
            ("country", "Pakistan"),
            ("time_zone", zone),
            ("listed_in_directory", "on"),
        ]
    };
    let mistaken = hina.submit("/me", "/me", &profile("", "Mars/Olympus")).await;
    assert_eq!(mistaken.status(), 422);
    let page = mistaken.text().await.unwrap();
    assert!(page.contains(r#"id="full_name-error""#));
    assert!(page.contains(r#"id="time_zone-error""#));
    assert!(page.contains(r#"value="Mars/Olympus""#), "what was typed is kept");

    // What a person types: spaces around the zone, and a bio at its limit of
    // 2,000 characters whose line break the browser sends as CRLF.
    let bio = format!("{}\r\n{}", "a".repeat(1000), "b".repeat(999));
    let mut fields: Vec<(&str, &str)> = profile("Hina Baloch", " Asia/Karachi ").to_vec();
    fields.push(("bio", &bio));
    let saved = hina.submit("/me", "/me", &fields).await;
    assert_eq!(location(&saved), "/me?saved=profile");
    let page = hina.page("/me?saved=profile").await;
    assert!(page.contains("Your profile is saved."));
    assert!(page.contains(r#"value="Hina Baloch""#));
    assert!(page.contains("(PKT)"), "times are shown in the member's zone: {page}");

    let wrong = hina
        .submit(
            "/me",
            "/me/password",
            &[
                ("current_password", "not it at all"),
                ("new_password", "A brand new passphrase"),
                ("repeat_password", "A brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains(r#"id="current_password-error""#));
    let changed = hina
        .submit(
            "/me",
            "/me/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "A brand new passphrase"),
                ("repeat_password", "A brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(location(&changed), "/me?saved=password");
    // This browser stays signed in; the other session (the API's) ended.
    assert!(hina
        .page("/me?saved=password")
        .await
        .contains("Your password is changed"));
    let refreshed = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": api_session["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.status(), 401);
    let audit: i64 = {
        use karvan::db::schema::audit_log::dsl::*;
        audit_log
            .filter(action.eq("member.password_change"))
            .count()
            .get_result(&mut app.conn())
            .unwrap()
    };
    assert_eq!(audit, 1);
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_mailed_link() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    verified_applicant(&app, &smtp, "hina@example.org").await;
    let hina = app.browser();

    let asked = hina
        .submit("/reset-password", "/reset-password", &[("email", "HINA@example.org")])
        .await;
    assert!(asked.text().await.unwrap().contains("Check your mail"));
    // An unknown address gets the same page, and no mail.
    let unknown = hina
        .submit("/reset-password", "/reset-password", &[("email", "nobody@example.org")])
        .await;
    assert!(unknown.text().await.unwrap().contains("Check your mail"));
    let mail = smtp.wait_for(2).await;
    let token = mail[1].link_token("/reset-password");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 2, "no mail for the unknown address");

    let form_page = format!("/reset-password?token={token}");
    assert_eq!(hidden_field(&hina.page(&form_page).await, "token"), token);
    let mismatch = hina
        .submit(
            &form_page,
            "/reset-password/confirm",
            &[
                ("token", token.as_str()),
                ("new_password", "A brand new passphrase"),
                ("repeat_password", "Another passphrase"),
            ],
        )
        .await;
    assert_eq!(mismatch.status(), 422);
    assert!(mismatch.text().await.unwrap().contains(r#"id="repeat_password-error""#));
    let reset = hina
        .submit(
            &form_page,
            "/reset-password/confirm",
            &[
                ("token", token.as_str()),
                ("new_password", "A brand new passphrase"),
                ("repeat_password", "A brand new passphrase"),
            ],
        )
        .await;
    assert!(reset.text().await.unwrap().contains("Your password is changed"));
    let again = hina
        .submit(
            &form_page,
            "/reset-password/confirm",
            &[
                ("token", token.as_str()),
                ("new_password", "Yet another passphrase"),
                ("repeat_password", "Yet another passphrase"),
            ],
        )
        .await;
    assert!(again.text().await.unwrap().contains("This link cannot be used"));
    assert_eq!(
        location(&sign_in(&hina, "hina@example.org", "A brand new passphrase").await),
        "/me"
    );
}

#[tokio::test]
async fn patch_me_changes_only_the_fields_sent() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    verified_applicant(&app, &smtp, "hina@example.org").await;
    let tokens: serde_json::Value = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "hina@example.org", "password": PASSWORD}),
        )
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let patch = |body: serde_json::Value| {
        app.client
            .patch(format!("{}/api/v1/me", app.address))
            .bearer_auth(access)
            .json(&body)
            .send()
    };

    let me: serde_json::Value = patch(json!({"time_zone": "Asia/Baku", "university": null}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["time_zone"], "Asia/Baku");
    assert_eq!(me["university"], serde_json::Value::Null, "null clears");
    assert_eq!(me["full_name"], "Aysel Məmmədova", "not sent, not changed");
    assert_eq!(me["country"], "Azerbaijan");

    let bad = patch(json!({"full_name": " ", "graduation_year": 3000, "time_zone": "Nowhere/Town"}))
        .await
        .unwrap();
    let body = crate::helpers::problem(bad, 422).await;
    for field in ["full_name", "graduation_year", "time_zone"] {
        assert!(body["errors"][field].is_array(), "{field}: {body}");
    }
    let cleared_name = patch(json!({"full_name": null})).await.unwrap();
    let body = crate::helpers::problem(cleared_name, 422).await;
    assert!(
        body["errors"]["full_name"].is_array(),
        "a name cannot be cleared: {body}"
    );
    let unknown = patch(json!({"password_hash": "x"})).await.unwrap();
    crate::helpers::problem(unknown, 422).await;
    let unchanged = patch(json!({})).await.unwrap();
    assert_eq!(unchanged.status(), 200);
}

#[tokio::test]
async fn a_rejection_reason_keeps_its_lines_and_reaches_the_applicant() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    make_admin(&app, "board@alumni.test").await;
    verified_applicant(&app, &smtp, "hina@example.org").await;
    let board = app.browser();
    sign_in(&board, "board@alumni.test", "Board member 2026").await;
    let id: uuid::Uuid = {
        use karvan::db::schema::members::dsl::*;
        members
            .filter(email.eq("hina@example.org"))
            .select(id)
            .first(&mut app.conn())
            .unwrap()
    };
    let page = format!("/admin/members/{id}");
    let empty = board
        .submit(&page, &format!("/admin/members/{id}/reject"), &[("reason", "  ")])
        .await;
    assert_eq!(empty.status(), 422);
    assert!(empty.text().await.unwrap().contains("reason: is required"));
    // A browser sends a textarea's line breaks as CRLF.
    let rejected = board
        .submit(
            &page,
            &format!("/admin/members/{id}/reject"),
            &[(
                "reason",
                "We could not find your exchange record.\r\nPlease write to us.",
            )],
        )
        .await;
    assert_eq!(location(&rejected), page);
    assert_eq!(status_of(&app, "hina@example.org"), "rejected");
    // The board's notice of hina's confirmation may arrive before or after
    // the rejection; hina's own confirmation mail came before both.
    let mail = smtp.wait_for(3).await;
    let text = mail.iter().rfind(|m| m.to == ["hina@example.org"]).unwrap().text();
    assert!(text.contains("We could not find your exchange record."), "{text}");
    assert!(text.contains("Please write to us."), "{text}");
    let details: serde_json::Value = {
        use karvan::db::schema::audit_log::dsl::*;
        audit_log
            .filter(action.eq("member.reject"))
            .select(details)
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(
        details["reason"],
        "We could not find your exchange record.\nPlease write to us."
    );
    let audit = board.page("/admin/audit").await;
    assert!(audit.contains("member.reject"));
}

#[tokio::test]
async fn on_https_every_cookie_is_secure_and_the_form_token_cannot_be_planted() {
    let app = crate::helpers::spawn_app_with(|vars| {
        vars.insert("KARVAN_PUBLIC_URL".into(), "https://alumni.example.org".into());
    })
    .await;
    let page = app.get("/login").await;
    let cookies = set_cookies(&page);
    let csrf = cookies
        .iter()
        .find(|c| c.starts_with("__Host-karvan_csrf="))
        .unwrap_or_else(|| panic!("{cookies:?}"));
    for flag in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(csrf.contains(flag), "{csrf}");
    }
    assert!(!csrf.contains("Domain"), "{csrf}");
}
