//! Announcements through the API (published at once or scheduled, mailed
//! as bulk mail), and the one-click unsubscribe link their mail carries.

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::directory::Alumni;
use crate::helpers::problem;
use crate::mail_server::Received;

fn announcements_to<'a>(received: &'a [Received], subject: &str) -> Vec<&'a Received> {
    received
        .iter()
        .filter(|m| m.header("Subject").as_deref() == Some(subject))
        .collect()
}

async fn wait_for(alumni: &Alumni, subject: &str, count: usize) -> Vec<Received> {
    for _ in 0..200 {
        if announcements_to(&alumni.smtp.received(), subject).len() >= count {
            // A moment more, so a duplicate would have arrived too.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            return alumni.smtp.received();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{count} '{subject}' message(s) expected");
}

fn recipients(messages: &[&Received]) -> Vec<String> {
    let mut to: Vec<String> = messages.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    to
}

#[tokio::test]
async fn an_announcement_is_mailed_once_as_bulk_mail_to_those_who_take_it_and_scheduled_ones_wait() {
    let alumni = Alumni::start().await;
    let (_, reader) = alumni.member("reader@example.org", "Reader Member", json!({})).await;
    let (_, _quiet) = alumni
        .member(
            "quiet@example.org",
            "Quiet Member",
            json!({"notifications": {"announcements": false}}),
        )
        .await;
    assert_eq!(
        alumni
            .post("/api/v1/announcements", &reader, json!({"title": "x", "body_md": "y"}))
            .await
            .status(),
        403
    );
    let bad = alumni
        .post(
            "/api/v1/announcements",
            &alumni.admin,
            json!({"title": "", "body_md": "", "publish_at": "soon"}),
        )
        .await;
    let problem = problem(bad, 422).await;
    let mut fields: Vec<&str> = problem["errors"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort();
    assert_eq!(fields, ["body_md", "publish_at", "title"]);

    let created = alumni
        .post(
            "/api/v1/announcements",
            &alumni.admin,
            json!({"title": "Scholarships open", "body_md": "Apply by **March**. <script>alert(1)</script>",
                   "email_now": true}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert!(!created["body_html"].as_str().unwrap().contains("<script"));
    assert_eq!(created["author"], "Board Admin");

    let received = wait_for(&alumni, "Scholarships open", 2).await;
    let mailed = announcements_to(&received, "Scholarships open");
    assert_eq!(recipients(&mailed), ["board@alumni.test", "reader@example.org"]);
    for message in &mailed {
        let unsubscribe = message.header("List-Unsubscribe").expect("List-Unsubscribe");
        assert!(
            unsubscribe.starts_with('<') && unsubscribe.contains("/unsubscribe?token="),
            "{unsubscribe}"
        );
        assert_eq!(
            message.header("List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
        assert!(message.text().contains("/unsubscribe?token="), "and in the footer");
    }

    // Scheduled for tomorrow: the board sees it, members do not, and no mail goes yet.
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let scheduled = alumni
        .post(
            "/api/v1/announcements",
            &alumni.admin,
            json!({"title": "Gala tickets", "body_md": "On sale.", "email_now": true,
                   "publish_at": tomorrow.to_rfc3339()}),
        )
        .await;
    assert_eq!(scheduled.status(), 201);
    let id = scheduled.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(alumni.get("/api/v1/announcements", Some(&reader)).await["total"], 1);
    assert_eq!(
        alumni.get("/api/v1/announcements", Some(&alumni.admin)).await["total"],
        2
    );
    let (status, _) = {
        let response = alumni
            .call(Method::GET, &format!("/api/v1/announcements/{id}"), Some(&reader), None)
            .await;
        (response.status().as_u16(), ())
    };
    assert_eq!(status, 404);
    let mail = karvan::email::MailContext {
        association_name: "Alumni".into(),
        public_url: url::Url::parse(&alumni.app.address).unwrap(),
        time_zone: chrono_tz::UTC,
        unsubscribe: None,
    };
    let mut conn = alumni.app.conn();
    assert_eq!(
        karvan::announcements::store::queue_due_mail(&mut conn, &mail, chrono::Utc::now()).unwrap(),
        0
    );
    let later = tomorrow + chrono::Duration::minutes(1);
    assert_eq!(
        karvan::announcements::store::queue_due_mail(&mut conn, &mail, later).unwrap(),
        1
    );
    assert_eq!(
        karvan::announcements::store::queue_due_mail(&mut conn, &mail, later).unwrap(),
        0,
        "once"
    );
    let received = wait_for(&alumni, "Gala tickets", 2).await;
    assert_eq!(
        recipients(&announcements_to(&received, "Gala tickets")),
        ["board@alumni.test", "reader@example.org"]
    );
}

#[tokio::test]
async fn the_unsubscribe_link_works_in_one_click_without_cookies_and_only_for_its_member() {
    let alumni = Alumni::start().await;
    let (_, reader) = alumni.member("reader@example.org", "Reader Member", json!({})).await;
    let created = alumni
        .post(
            "/api/v1/announcements",
            &alumni.admin,
            json!({"title": "News", "body_md": "Hello.", "email_now": true}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let received = wait_for(&alumni, "News", 2).await;
    let mine = announcements_to(&received, "News")
        .into_iter()
        .find(|m| m.to == ["reader@example.org"])
        .unwrap()
        .header("List-Unsubscribe")
        .unwrap();
    let url = mine.trim_start_matches('<').trim_end_matches('>').to_string();
    let path = &url[url.find("/unsubscribe").unwrap()..];
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let notifications = |token: String| {
        let alumni = &alumni;
        async move { alumni.get("/api/v1/me", Some(&token)).await["notifications"].clone() }
    };

    // Following the link (as a mail scanner does) changes nothing.
    let page = stranger
        .get(format!("{}{path}", alumni.app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Unsubscribe"));
    assert_eq!(notifications(reader.clone()).await["announcements"], true);

    // A forged or altered token is refused, and changes nothing.
    for forged in ["/unsubscribe?token=AAAA", &format!("{path}x"), "/unsubscribe"] {
        let answer = stranger
            .post(format!("{}{forged}", alumni.app.address))
            .form(&[("List-Unsubscribe", "One-Click")])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{forged}");
    }
    assert_eq!(notifications(reader.clone()).await["announcements"], true);

    // One click, from a mail client with no cookie.
    let clicked = stranger
        .post(format!("{}{path}", alumni.app.address))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(clicked.status(), 200);
    assert_eq!(
        notifications(reader.clone()).await,
        json!({"events": true, "announcements": false})
    );
    // Only that member: the board still takes announcements.
    assert_eq!(notifications(alumni.admin.clone()).await["announcements"], true);
    let settings: Vec<(String, bool)> = {
        use karvan::db::schema::{member_settings, members};
        members::table
            .inner_join(member_settings::table)
            .select((members::email, member_settings::notify_announcements))
            .order(members::email)
            .load(&mut alumni.app.conn())
            .unwrap()
    };
    assert_eq!(
        settings,
        [
            ("board@alumni.test".to_string(), true),
            ("reader@example.org".to_string(), false)
        ]
    );

    // The page offers to undo it.
    let undo_path = path.replacen("/unsubscribe", "/unsubscribe/undo", 1);
    let undone = stranger
        .post(format!("{}{undo_path}", alumni.app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(undone.status(), 200);
    assert_eq!(notifications(reader.clone()).await["announcements"], true);
    // The page's button unsubscribes too.
    let pressed = stranger
        .post(format!("{}{path}", alumni.app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(pressed.status(), 200);
    assert!(pressed.text().await.unwrap().contains("subscribe me again"));
    assert_eq!(notifications(reader).await["announcements"], false);
}
