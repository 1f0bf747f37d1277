//! The register in and out: a messy roster CSV imported with a precise
//! report, invitations, sign-ups from the roster, and the export that
//! imports again.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::accounts::{accounts_app, make_admin};
use crate::helpers::{problem, TestApp};
use crate::mail_server::TestSmtp;

async fn admin_token(app: &TestApp) -> String {
    make_admin(app, "board@alumni.test").await;
    app.post_json(
        "/api/v1/auth/login",
        &json!({"email": "board@alumni.test", "password": "Board member 2026"}),
    )
    .await
    .json::<Value>()
    .await
    .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn import(app: &TestApp, token: &str, body: Vec<u8>, dry_run: bool) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/admin/members/import?dry_run={dry_run}", app.address))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn member_count(app: &TestApp) -> i64 {
    use karvan::db::schema::members::dsl::*;
    members.count().get_result(&mut app.conn()).unwrap()
}

/// A roster as associations keep them: a spreadsheet's byte-order mark,
/// headers in words, an extra column, and every kind of bad row.
fn messy_roster() -> Vec<u8> {
    let mut file = b"\xEF\xBB\xBF".to_vec();
    file.extend_from_slice(
        "Email,Full Name,Graduation Year,University,Country,Notes\n\
         aysel@example.org,Aysel Məmmədova,2019,Baku State University,Azerbaijan,met in 2018\n\
         ayesha@example.org,عائشہ خان,2015,جامعہ پنجاب,Pakistan,\n\
         not-an-email,Someone,2010,,,\n\
         AYSEL@example.org,Aysel Again,,,,\n\
         noname@example.org,,,,,\n\
         year@example.org,Year Person,19x5,,,\n\
         board@alumni.test,Board Admin,,NUST,,\n\
         \n\
         short@example.org\n"
            .as_bytes(),
    );
    file.extend_from_slice(b"latin@example.org,Jos\xe9 Garc\xeda,,,,\n");
    file
}

#[tokio::test]
async fn a_messy_roster_is_reported_precisely_and_only_good_rows_are_written() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    let token = admin_token(&app).await;
    let before = member_count(&app);

    let trial = import(&app, &token, messy_roster(), true).await;
    assert_eq!(trial.status(), 200);
    let trial: Value = trial.json().await.unwrap();
    assert_eq!(trial["dry_run"], true);
    assert_eq!(member_count(&app), before, "a trial run writes nothing");

    let report: Value = import(&app, &token, messy_roster(), false).await.json().await.unwrap();
    // The trial told exactly what the real run did.
    for part in ["created", "matched", "skipped", "rows"] {
        assert_eq!(trial[part], report[part], "{part}");
    }
    assert_eq!(report["rows"], 9);
    let lines = |part: &str| -> Vec<(u64, String)> {
        report[part]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["line"].as_u64().unwrap(),
                    r["email"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        lines("created"),
        [(2, "aysel@example.org".into()), (3, "ayesha@example.org".into())]
    );
    assert_eq!(lines("matched"), [(8, "board@alumni.test".into())]);
    assert_eq!(report["matched"][0]["changed"], json!(["university"]));
    let skipped: Vec<(u64, String)> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["line"].as_u64().unwrap(), s["reasons"].to_string()))
        .collect();
    let reason = |line: u64| {
        skipped
            .iter()
            .find(|(l, _)| *l == line)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    };
    assert_eq!(skipped.len(), 6, "{skipped:?}");
    assert!(reason(4).contains("email is not an email address"), "{skipped:?}");
    assert!(reason(5).contains("the same email as line 2"), "{skipped:?}");
    assert!(reason(6).contains("full name is required"), "{skipped:?}");
    assert!(reason(7).contains("'19x5' is not a year"), "{skipped:?}");
    assert!(reason(10).contains("full name is required"), "{skipped:?}");
    assert!(reason(11).contains("not UTF-8"), "{skipped:?}");
    assert_eq!(report["ignored_columns"], json!(["notes"]));

    // The good rows, with their letters, invited by mail.
    assert_eq!(member_count(&app), before + 2);
    let (name, university, status): (String, Option<String>, String) = {
        use karvan::db::schema::members::dsl::*;
        members
            .filter(email.eq("ayesha@example.org"))
            .select((full_name, university, status))
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(
        (name.as_str(), university.as_deref(), status.as_str()),
        ("عائشہ خان", Some("جامعہ پنجاب"), "invited")
    );
    let mail = smtp.wait_for(2).await;
    assert!(mail.iter().all(|m| m.header("Subject").unwrap().contains("invited")));

    // A file without the columns it needs is refused whole.
    let wrong = import(&app, &token, b"name,mail\nA,a@example.org\n".to_vec(), false).await;
    let body = problem(wrong, 422).await;
    assert!(body["errors"]["file"][0].as_str().unwrap().contains("email"), "{body}");
    let member = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "aysel@example.org", "password": "anything at all"}),
        )
        .await;
    assert_eq!(member.status(), 401, "an invited member has no password yet");
}

#[tokio::test]
async fn people_on_the_roster_join_without_waiting_for_the_board() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    let token = admin_token(&app).await;
    let roster = "email,full_name\naysel@example.org,Aysel Məmmədova\nhina@example.org,Hina Baloch\n";
    import(&app, &token, roster.as_bytes().to_vec(), false).await;
    let invitations = smtp.wait_for(2).await;
    let to_aysel = invitations
        .iter()
        .find(|m| m.to == vec!["aysel@example.org".to_string()])
        .unwrap();

    // Aysel follows the invitation: active at once, and signed in.
    let accepted = app
        .post_json(
            "/api/v1/auth/invitation/accept",
            &json!({"token": to_aysel.link_token("/accept-invitation"), "new_password": "A fresh passphrase"}),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    assert_eq!(accepted.json::<Value>().await.unwrap()["status"], "active");
    let signed_in = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "aysel@example.org", "password": "A fresh passphrase"}),
        )
        .await;
    assert_eq!(signed_in.status(), 200);

    // Hina signs up herself: nothing of her roster entry changes (no one
    // can take it over by signing up with her address); the invitation
    // comes again, and its link makes her a member at once, with no board
    // to wait for.
    let joined = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "hina@example.org", "password": "Hina's own passphrase", "full_name": "Someone Else"}),
        )
        .await;
    assert_eq!(joined.status(), 202);
    // Invited within the hour already: no second invitation yet.
    diesel::sql_query("UPDATE email_tokens SET created_at = now() - interval '2 hours'")
        .execute(&mut app.conn())
        .unwrap();
    app.post_json(
        "/api/v1/auth/register",
        &json!({"email": "hina@example.org", "password": "Hina's own passphrase", "full_name": "Someone Else"}),
    )
    .await;
    let mail = smtp.wait_for(3).await;
    assert_eq!(mail.len(), 3, "one new invitation for two sign-ups");
    assert_eq!(mail[2].to, vec!["hina@example.org".to_string()]);
    let not_hers = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "hina@example.org", "password": "Hina's own passphrase"}),
        )
        .await;
    assert_eq!(not_hers.status(), 401, "the password typed at sign-up was not taken");
    let accepted = app
        .post_json(
            "/api/v1/auth/invitation/accept",
            &json!({"token": mail[2].link_token("/accept-invitation"), "new_password": "Hina's own passphrase"}),
        )
        .await;
    let accepted: Value = accepted.json().await.unwrap();
    assert_eq!(accepted["status"], "active");
    assert_eq!(
        accepted["full_name"], "Hina Baloch",
        "the roster's name, not the sign-up's"
    );
    assert!(accepted["approved_at"].is_string());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 3, "no notice to the board");
}

#[tokio::test]
async fn the_export_imports_again_cleanly() {
    let smtp = TestSmtp::start();
    let app = accounts_app(&smtp).await;
    let token = admin_token(&app).await;
    let roster = "email,full_name,graduation_year,university,country,city,profession\n\
                  aysel@example.org,\"Məmmədova, Aysel\",2019,Baku State University,Azerbaijan,Baku,Engineer\n\
                  ayesha@example.org,عائشہ خان,2015,,Pakistan,Lahore,\"Doctor \"\"Ayesha\"\"\"\n\
                  formula@example.org,Formula Person,,,,,=1+2\n";
    import(&app, &token, roster.as_bytes().to_vec(), false).await;

    let export = app
        .client
        .get(format!("{}/api/v1/admin/members/export.csv", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    assert!(export.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let bytes = export.bytes().await.unwrap().to_vec();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a byte-order mark for spreadsheets");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains("\"Məmmədova, Aysel\""), "{text}");
    assert!(text.contains("عائشہ خان"));
    assert!(text.contains(",'=1+2,"), "a formula is not run by spreadsheets: {text}");

    let again: Value = import(&app, &token, bytes, false).await.json().await.unwrap();
    assert_eq!(again["created"], json!([]));
    assert_eq!(again["skipped"], json!([]));
    assert_eq!(again["ignored_columns"], json!([]));
    assert_eq!(again["matched"].as_array().unwrap().len(), 4);
    assert!(again["matched"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m.get("changed").is_none()));
    let audit: Vec<String> = {
        use karvan::db::schema::audit_log::dsl::*;
        audit_log.select(action).load(&mut app.conn()).unwrap()
    };
    assert!(audit.contains(&"members.export".to_string()));
    assert_eq!(audit.iter().filter(|a| *a == "members.import").count(), 2);

    // Only admins.
    let member = app
        .client
        .get(format!("{}/api/v1/admin/members/export.csv", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(member.status(), 401);
}
