//! Events through the JSON API: drafts and publishing with notice by mail,
//! answers within capacity under a crowd, the waitlist, changes and
//! cancellations, calendar files across time zones, reminders.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::directory::Alumni;
use crate::helpers::problem;
use crate::mail_server::Received;

impl Alumni {
    /// An event created by the board (`body` over sensible defaults); its id.
    async fn event(&self, body: Value) -> String {
        let mut fields = json!({"title": "Reunion in Baku", "description_md": "Tea and **stories**.",
                                "starts_at": "2030-12-20T19:00", "ends_at": "2030-12-20T22:00",
                                "time_zone": "Asia/Karachi", "location": "Pearl Continental, Lahore"});
        for (key, value) in body.as_object().unwrap() {
            fields[key] = value.clone();
        }
        let created = self.post("/api/v1/events", &self.admin, fields).await;
        assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
        created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn publish(&self, id: &str, notify: bool) -> Value {
        let published = self
            .post(
                &format!("/api/v1/events/{id}/publish"),
                &self.admin,
                json!({"notify": notify}),
            )
            .await;
        assert_eq!(published.status(), 200);
        published.json().await.unwrap()
    }

    async fn rsvp(&self, token: &str, id: &str, status: &str) -> reqwest::Response {
        self.call(
            Method::PUT,
            &format!("/api/v1/events/{id}/rsvp"),
            Some(token),
            Some(json!({ "status": status })),
        )
        .await
    }

    async fn answered(&self, token: &str, id: &str, status: &str) -> String {
        let response = self.rsvp(token, id, status).await;
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn text(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let response = self.call(Method::GET, path, token, None).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

/// The messages received with `subject_start`, by recipient.
fn by_recipient<'a>(received: &'a [Received], subject_start: &str) -> BTreeMap<String, Vec<&'a Received>> {
    let mut map: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
    for message in received {
        if message.header("Subject").is_some_and(|s| s.starts_with(subject_start)) {
            for to in &message.to {
                map.entry(to.clone()).or_default().push(message);
            }
        }
    }
    map
}

/// The calendar attached to a message.
fn attached_calendar(message: &Received) -> String {
    fn find(part: &mailparse::ParsedMail<'_>) -> Option<String> {
        if part.subparts.is_empty() {
            return (part.ctype.mimetype == "text/calendar").then(|| part.get_body().unwrap());
        }
        part.subparts.iter().find_map(find)
    }
    find(&message.parsed()).expect("a calendar attached")
}

/// The events of an iCalendar text, parsed by an iCalendar library, as
/// maps of property name to value.
fn parse_ics(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut calendars = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
    let calendar = calendars.next().expect("a calendar").expect("a valid calendar");
    assert!(calendars.next().is_none());
    calendar
        .events
        .iter()
        .map(|event| {
            event
                .properties
                .iter()
                .map(|p| (p.name.clone(), p.value.clone().unwrap_or_default()))
                .collect()
        })
        .collect()
}

async fn wait_for_subject(alumni: &Alumni, subject_start: &str, count: usize) -> Vec<Received> {
    for _ in 0..200 {
        let received = alumni.smtp.received();
        if by_recipient(&received, subject_start)
            .values()
            .map(Vec::len)
            .sum::<usize>()
            >= count
        {
            // A moment more, so a duplicate would have arrived too.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            return alumni.smtp.received();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{count} '{subject_start}' message(s) expected");
}

#[tokio::test]
async fn a_published_event_is_mailed_once_to_exactly_the_active_members_who_take_event_mail() {
    let alumni = Alumni::start().await;
    let (_, aysel) = alumni
        .member(
            "aysel@example.org",
            "Aysel Məmmədova",
            json!({"time_zone": "Asia/Baku"}),
        )
        .await;
    let (_, hina) = alumni
        .member("hina@example.org", "Hina Baloch", json!({"time_zone": "Asia/Karachi"}))
        .await;
    let (_, quiet) = alumni
        .member(
            "quiet@example.org",
            "Quiet Member",
            json!({"notifications": {"events": false}}),
        )
        .await;
    let me = alumni.get("/api/v1/me", Some(&quiet)).await;
    assert_eq!(me["notifications"], json!({"events": false, "announcements": true}));
    let (_, suspended) = alumni
        .member("suspended@example.org", "Suspended Member", json!({}))
        .await;
    let _ = suspended;
    diesel::sql_query("UPDATE members SET status = 'suspended' WHERE email = 'suspended@example.org'")
        .execute(&mut alumni.app.conn())
        .unwrap();

    let id = alumni.event(json!({"capacity": 40})).await;
    // A draft is the board's alone.
    let (status, _) = alumni.text(&format!("/api/v1/events/{id}"), Some(&aysel)).await;
    assert_eq!(status, 404);
    assert_eq!(alumni.get("/api/v1/events", Some(&aysel)).await["total"], 0);
    assert_eq!(alumni.get("/api/v1/events", Some(&alumni.admin)).await["total"], 1);
    assert_eq!(alumni.rsvp(&aysel, &id, "going").await.status(), 404);

    let published = alumni.publish(&id, true).await;
    assert_eq!(published["status"], "published");
    // Publishing again mails no one twice.
    alumni.publish(&id, true).await;

    let received = wait_for_subject(&alumni, "New event:", 3).await;
    let notices = by_recipient(&received, "New event:");
    let recipients: Vec<&str> = notices.keys().map(String::as_str).collect();
    assert_eq!(
        recipients,
        ["aysel@example.org", "board@alumni.test", "hina@example.org"],
        "the active members who take event mail"
    );
    assert!(notices.values().all(|m| m.len() == 1), "once each");
    // Bulk mail: each carries its member's one-click unsubscribe link.
    for message in notices.values().flatten() {
        assert!(message
            .header("List-Unsubscribe")
            .unwrap()
            .contains("/unsubscribe?token="));
        assert_eq!(
            message.header("List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
    }

    // Each reads the time in their own zone: 19:00 in Lahore is 18:00 in Baku.
    let aysel_mail = notices["aysel@example.org"][0].text();
    assert!(aysel_mail.contains("20 Dec 2030, 18:00 – 21:00 (+04)"), "{aysel_mail}");
    let hina_mail = notices["hina@example.org"][0].text();
    assert!(hina_mail.contains("20 Dec 2030, 19:00 – 22:00 (PKT)"), "{hina_mail}");
    assert!(hina_mail.contains(&format!("/events/{id}")), "{hina_mail}");
    let attached = parse_ics(&attached_calendar(notices["hina@example.org"][0]));
    assert_eq!(attached[0]["DTSTART"], "20301220T140000Z");
    assert_eq!(attached[0]["SUMMARY"], "Reunion in Baku");

    // Members now see it, with the description rendered.
    let seen = alumni.get(&format!("/api/v1/events/{id}"), Some(&hina)).await;
    assert_eq!(seen["description_html"], "<p>Tea and <strong>stories</strong>.</p>\n");
    assert!(seen.get("description_md").is_none(), "members read the HTML");
    assert_eq!(seen["starts_at"], "2030-12-20T14:00:00Z");
    assert_eq!(
        (seen["capacity"].as_i64(), seen["going_count"].as_i64()),
        (Some(40), Some(0))
    );
    assert_eq!(seen["my_rsvp"], Value::Null);
    assert_eq!(alumni.get("/api/v1/events", Some(&hina)).await["total"], 1);
    // Past events are not upcoming, but can be asked for.
    let past = alumni.get("/api/v1/events?from=2031-01-01", Some(&hina)).await;
    assert_eq!(past["total"], 0);
}

#[tokio::test]
async fn a_crowd_answering_at_once_never_overbooks_and_the_waitlist_is_served_in_order() {
    let alumni = Alumni::start().await;
    let id = alumni.event(json!({"capacity": 5})).await;
    alumni.publish(&id, false).await;
    // Two hundred active members, signed in.
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    let ids: Vec<Id> = diesel::sql_query(
        "INSERT INTO members (email, password_hash, full_name, status, approved_at, email_verified_at) \
         SELECT 'member' || n || '@example.org', '!', 'Member ' || n, 'active', now(), now() \
         FROM generate_series(1, 200) AS n RETURNING id",
    )
    .load(&mut alumni.app.conn())
    .unwrap();
    let keys = karvan::auth::tokens::TokenKeys::new(&secrecy::SecretString::from(
        crate::helpers::TEST_JWT_SECRET.to_string(),
    ));
    let crowd: Vec<(String, String)> = ids
        .iter()
        .map(|row| (row.id.to_string(), keys.issue_access(row.id).unwrap()))
        .collect();
    // Everyone presses the button at once.
    let answers =
        futures_util::future::join_all(crowd.iter().map(|(_, token)| alumni.answered(token, &id, "going"))).await;
    let going = answers.iter().filter(|a| *a == "going").count();
    let waitlisted = answers.iter().filter(|a| *a == "waitlisted").count();
    assert_eq!((going, waitlisted), (5, 195));
    // Asking again changes nothing, not even one's place in line.
    let list = alumni
        .get(&format!("/api/v1/events/{id}/rsvps"), Some(&alumni.admin))
        .await;
    let order: Vec<(String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["member_id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let first_waiting = order.iter().find(|(_, s)| s == "waitlisted").unwrap().0.clone();
    let token_of = |member: &str| crowd.iter().find(|(m, _)| m == member).unwrap().1.clone();
    assert_eq!(
        alumni.answered(&token_of(&first_waiting), &id, "going").await,
        "waitlisted"
    );
    let again = alumni
        .get(&format!("/api/v1/events/{id}/rsvps"), Some(&alumni.admin))
        .await;
    assert_eq!(again, list, "the same list in the same order");
    let event = alumni.get(&format!("/api/v1/events/{id}"), Some(&alumni.admin)).await;
    assert_eq!(
        (event["going_count"].as_i64(), event["waitlist_count"].as_i64()),
        (Some(5), Some(195))
    );

    // A seat comes free: the first in line has it, and is told by mail.
    let leaving = order.iter().find(|(_, s)| s == "going").unwrap().0.clone();
    assert_eq!(
        alumni.answered(&token_of(&leaving), &id, "not_going").await,
        "not_going"
    );
    let mine = alumni
        .get(&format!("/api/v1/events/{id}"), Some(&token_of(&first_waiting)))
        .await;
    assert_eq!(mine["my_rsvp"], "going");
    assert_eq!(mine["going_count"], 5);
    let received = wait_for_subject(&alumni, "A seat is yours", 1).await;
    let offered = by_recipient(&received, "A seat is yours");
    let promoted_email: String = {
        use karvan::db::schema::members;
        members::table
            .find(uuid::Uuid::parse_str(&first_waiting).unwrap())
            .select(members::email)
            .first(&mut alumni.app.conn())
            .unwrap()
    };
    assert_eq!(offered.keys().collect::<Vec<_>>(), [&promoted_email]);

    // More seats: the next in line have them, in order.
    let raised = alumni
        .call(
            Method::PATCH,
            &format!("/api/v1/events/{id}"),
            Some(&alumni.admin),
            Some(json!({"capacity": 8})),
        )
        .await;
    assert_eq!(raised.status(), 200);
    let after = alumni
        .get(&format!("/api/v1/events/{id}/rsvps"), Some(&alumni.admin))
        .await;
    let now_going: Vec<&str> = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "going")
        .map(|r| r["member_id"].as_str().unwrap())
        .collect();
    assert_eq!(now_going.len(), 8);
    let waiting_before: Vec<&str> = order
        .iter()
        .filter(|(_, s)| s == "waitlisted")
        .map(|(m, _)| m.as_str())
        .collect();
    for next in &waiting_before[..4] {
        assert!(now_going.contains(next), "{next} was next in line");
    }
    assert!(!now_going.contains(&waiting_before[4]));

    // The door's list.
    let csv = alumni
        .call(
            Method::GET,
            &format!("/api/v1/events/{id}/rsvps.csv"),
            Some(&alumni.admin),
            None,
        )
        .await;
    assert_eq!(csv.status(), 200);
    let body = csv.text().await.unwrap();
    assert!(body
        .trim_start_matches('\u{feff}')
        .starts_with("full_name,email,status,answered_at"));
    assert_eq!(body.lines().filter(|l| l.contains(",going,")).count(), 8);
    // Only the board sees who answered.
    let (status, _) = alumni
        .text(&format!("/api/v1/events/{id}/rsvps"), Some(&crowd[0].1))
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn changes_mail_those_going_and_a_cancellation_mails_everyone_who_answered() {
    let alumni = Alumni::start().await;
    let (_, going) = alumni.member("going@example.org", "Going Member", json!({})).await;
    let (_, waiting) = alumni.member("waiting@example.org", "Waiting Member", json!({})).await;
    let (_, declined) = alumni
        .member("declined@example.org", "Declined Member", json!({}))
        .await;
    let id = alumni.event(json!({"capacity": 1})).await;
    alumni.publish(&id, false).await;
    assert_eq!(alumni.answered(&going, &id, "going").await, "going");
    assert_eq!(alumni.answered(&waiting, &id, "going").await, "waitlisted");
    assert_eq!(alumni.answered(&declined, &id, "not_going").await, "not_going");
    let (_, first) = alumni.text(&format!("/api/v1/events/{id}/ics"), Some(&going)).await;
    let uid = parse_ics(&first)[0]["UID"].clone();
    assert_eq!(parse_ics(&first)[0]["SEQUENCE"], "0");

    // A new title alone mails no one, but calendars update.
    let renamed = alumni
        .call(
            Method::PATCH,
            &format!("/api/v1/events/{id}"),
            Some(&alumni.admin),
            Some(json!({"title": "Winter reunion"})),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    // The place moves: those going hear of it.
    let moved = alumni
        .call(
            Method::PATCH,
            &format!("/api/v1/events/{id}"),
            Some(&alumni.admin),
            Some(json!({"location": "Avari Hotel, Lahore"})),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let received = wait_for_subject(&alumni, "Changed:", 1).await;
    let changed = by_recipient(&received, "Changed:");
    assert_eq!(changed.keys().collect::<Vec<_>>(), ["going@example.org"]);
    assert!(changed["going@example.org"][0].text().contains("Avari Hotel, Lahore"));
    let (_, second) = alumni.text(&format!("/api/v1/events/{id}/ics"), Some(&going)).await;
    let second = &parse_ics(&second)[0];
    assert_eq!(
        (second["UID"].as_str(), second["SEQUENCE"].as_str()),
        (uid.as_str(), "2")
    );
    assert_eq!(second["SUMMARY"], "Winter reunion");
    assert_eq!(second["LOCATION"].replace("\\,", ","), "Avari Hotel, Lahore");

    // Cancelled: everyone going or waiting is told, with the board's reason.
    let cancelled = alumni
        .post(
            &format!("/api/v1/events/{id}/cancel"),
            &alumni.admin,
            json!({"reason": "The hall flooded.\nWe will find another date."}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    let received = wait_for_subject(&alumni, "Cancelled:", 2).await;
    let notices = by_recipient(&received, "Cancelled:");
    assert_eq!(
        notices.keys().collect::<Vec<_>>(),
        ["going@example.org", "waiting@example.org"]
    );
    let text = notices["waiting@example.org"][0].text().replace("\r\n", "\n");
    assert!(text.contains("The hall flooded.\nWe will find another date."), "{text}");
    let calendar = parse_ics(&attached_calendar(notices["going@example.org"][0]));
    assert_eq!(
        (calendar[0]["STATUS"].as_str(), calendar[0]["SEQUENCE"].as_str()),
        ("CANCELLED", "3")
    );
    // A cancelled event takes no answers and no changes.
    assert_eq!(alumni.rsvp(&declined, &id, "going").await.status(), 409);
    let late = alumni
        .call(
            Method::PATCH,
            &format!("/api/v1/events/{id}"),
            Some(&alumni.admin),
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(late.status(), 409);
    // The audit log has the board's actions.
    let actions: Vec<String> = {
        use karvan::db::schema::audit_log;
        audit_log::table
            .filter(audit_log::target_id.eq(&id))
            .order(audit_log::id)
            .select(audit_log::action)
            .load(&mut alumni.app.conn())
            .unwrap()
    };
    assert_eq!(
        actions,
        [
            "event.create",
            "event.publish",
            "event.update",
            "event.update",
            "event.cancel"
        ]
    );
}

#[tokio::test]
async fn calendar_files_have_the_right_times_in_every_zone_and_the_personal_feed_is_secret() {
    let alumni = Alumni::start().await;
    let (_, member) = alumni.member("cal@example.org", "Calendar Member", json!({})).await;
    // 18:30 local, in zones 5:30, 5 and 4 hours ahead of UTC; and an offset given outright.
    for (zone, start, end, expected_start, expected_end) in [
        (
            "Asia/Kolkata",
            "2030-03-10T18:30",
            "2030-03-10T21:00",
            "20300310T130000Z",
            "20300310T153000Z",
        ),
        (
            "Asia/Karachi",
            "2030-03-10T18:30",
            "2030-03-10T21:00",
            "20300310T133000Z",
            "20300310T160000Z",
        ),
        (
            "Asia/Baku",
            "2030-03-10T18:30:00",
            "2030-03-10 21:00",
            "20300310T143000Z",
            "20300310T170000Z",
        ),
        // Summer time: four hours behind UTC, and the end is the next day in UTC.
        (
            "America/New_York",
            "2030-07-04T18:30",
            "2030-07-04T21:00",
            "20300704T223000Z",
            "20300705T010000Z",
        ),
        (
            "Asia/Baku",
            "2030-03-10T18:30:00+05:30",
            "2030-03-10T21:00",
            "20300310T130000Z",
            "20300310T170000Z",
        ),
    ] {
        let id = alumni
            .event(json!({"time_zone": zone, "starts_at": start, "ends_at": end}))
            .await;
        alumni.publish(&id, false).await;
        let (status, text) = alumni.text(&format!("/api/v1/events/{id}/ics"), Some(&member)).await;
        assert_eq!(status, 200);
        assert!(
            text.contains("\r\n") && !text.replace("\r\n", "").contains('\n'),
            "CRLF lines"
        );
        let event = &parse_ics(&text)[0];
        assert_eq!(
            (event["DTSTART"].as_str(), event["DTEND"].as_str()),
            (expected_start, expected_end),
            "{zone} {start}"
        );
        assert!(event["UID"].starts_with(&format!("event-{id}@")));
        assert!(event.contains_key("DTSTAMP"));
        alumni.answered(&member, &id, "going").await;
    }

    // The member's own feed holds the events they go to.
    let me = alumni.get("/api/v1/me", Some(&member)).await;
    let url = me["calendar_url"].as_str().unwrap();
    let path = &url[url.find("/calendar/").unwrap()..];
    let (status, feed) = alumni.text(path, None).await;
    assert_eq!(status, 200, "calendars fetch it without signing in");
    assert_eq!(parse_ics(&feed).len(), 5);
    // A wrong token finds nothing, and tells nothing.
    for wrong in ["/calendar/not-a-token.ics", "/calendar/%00.ics", "/calendar/%27%3B.ics"] {
        let (status, _) = alumni.text(wrong, None).await;
        assert_eq!(status, 404, "{wrong}");
    }
    // Not going any more: gone from the feed.
    let first = alumni.get("/api/v1/events?from=2030-01-01", Some(&member)).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    alumni.answered(&member, &first, "not_going").await;
    assert_eq!(parse_ics(&alumni.text(path, None).await.1).len(), 4);
}

#[tokio::test]
async fn event_input_is_checked_markdown_is_made_safe_and_only_the_board_writes() {
    let alumni = Alumni::start().await;
    let (_, member) = alumni.member("plain@example.org", "Plain Member", json!({})).await;
    let body = json!({"title": "Mine", "starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T11:00", "time_zone": "Asia/Baku"});
    assert_eq!(alumni.post("/api/v1/events", &member, body).await.status(), 403);

    let bad = alumni
        .post(
            "/api/v1/events",
            &alumni.admin,
            json!({"title": "", "starts_at": "tomorrow", "ends_at": "2030-01-01T09:00", "time_zone": "Mars/Olympus",
                   "capacity": 0, "online_url": "javascript:alert(1)"}),
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
    assert_eq!(fields, ["capacity", "online_url", "starts_at", "time_zone", "title"]);
    let backwards = alumni
        .post(
            "/api/v1/events",
            &alumni.admin,
            json!({"title": "Backwards", "starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T09:00", "time_zone": "Asia/Baku"}),
        )
        .await;
    assert!(problem_fields(backwards).await.contains(&"ends_at".to_string()));
    // 02:30 on the night New York's clocks go forward never happens.
    let gap = alumni
        .post(
            "/api/v1/events",
            &alumni.admin,
            json!({"title": "Gap", "starts_at": "2030-03-10T02:30", "ends_at": "2030-03-10T05:00", "time_zone": "America/New_York"}),
        )
        .await;
    assert_eq!(problem_fields(gap).await, ["starts_at"]);
    let unknown = alumni
        .post("/api/v1/events", &alumni.admin, json!({"title": "x", "colour": "red"}))
        .await;
    assert_eq!(unknown.status(), 422);

    let id = alumni
        .event(json!({"description_md": "<script>alert(1)</script>\n\n[click](javascript:alert(2)) <img src=x onerror=alert(3)> **ok**"}))
        .await;
    let event = alumni.get(&format!("/api/v1/events/{id}"), Some(&alumni.admin)).await;
    let html = event["description_html"].as_str().unwrap().to_lowercase();
    assert!(
        !html.contains("<script") && !html.contains("href=\"javascript:") && !html.contains("onerror"),
        "{html}"
    );
    assert!(html.contains("<strong>ok</strong>"), "{html}");
    // A body that may be left out must still be readable when it is there:
    // a misspelt or mistyped one publishes nothing, no body publishes.
    for bad in [json!({"notfy": true}), json!({"notify": "yes"})] {
        let refused = alumni
            .post(&format!("/api/v1/events/{id}/publish"), &alumni.admin, bad.clone())
            .await;
        assert_eq!(refused.status(), 422, "{bad}");
    }
    let draft = alumni.get(&format!("/api/v1/events/{id}"), Some(&alumni.admin)).await;
    assert_eq!(draft["status"], "draft");
    let unpublished = alumni
        .app
        .client
        .post(format!("{}/api/v1/events/{id}/publish", alumni.app.address))
        .bearer_auth(&alumni.admin)
        .header("content-type", "text/plain")
        .body("notify please")
        .send()
        .await
        .unwrap();
    assert_eq!(unpublished.status(), 415);
    let published = alumni
        .app
        .client
        .post(format!("{}/api/v1/events/{id}/publish", alumni.app.address))
        .bearer_auth(&alumni.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    for status in ["maybe", ""] {
        let answer = alumni.rsvp(&member, &id, status).await;
        assert_eq!(problem_fields(answer).await, ["status"]);
    }
    for path in [
        "/api/v1/events/not-a-uuid",
        "/api/v1/events?from=soon",
        "/api/v1/events?per_page=0",
    ] {
        let (status, _) = alumni.text(path, Some(&member)).await;
        assert!(status == 404 || status == 422, "{path}: {status}");
    }
    let missing = uuid::Uuid::new_v4();
    assert_eq!(alumni.rsvp(&member, &missing.to_string(), "going").await.status(), 404);
    let publish = alumni
        .post(
            &format!("/api/v1/events/{id}/publish"),
            &member,
            json!({"notify": true}),
        )
        .await;
    assert_eq!(publish.status(), 403);
}

async fn problem_fields(response: reqwest::Response) -> Vec<String> {
    let problem = problem(response, 422).await;
    let mut fields: Vec<String> = problem["errors"].as_object().unwrap().keys().cloned().collect();
    fields.sort();
    fields
}

#[tokio::test]
async fn those_going_are_reminded_once_the_day_before() {
    let alumni = Alumni::start().await;
    let (_, going) = alumni.member("soon@example.org", "Soon Member", json!({})).await;
    let (_, not_going) = alumni.member("later@example.org", "Later Member", json!({})).await;
    let id = alumni.event(json!({})).await;
    alumni.publish(&id, false).await;
    alumni.answered(&going, &id, "going").await;
    alumni.answered(&not_going, &id, "not_going").await;
    let starts: DateTime<Utc> = "2030-12-20T14:00:00Z".parse().unwrap();
    let mail = karvan::email::MailContext {
        association_name: "Alumni".into(),
        public_url: url::Url::parse(&alumni.app.address).unwrap(),
        time_zone: chrono_tz::UTC,
        unsubscribe: None,
    };
    let mut conn = alumni.app.conn();
    let two_days_before = starts - chrono::Duration::hours(48);
    assert_eq!(
        karvan::events::store::queue_reminders(&mut conn, &mail, two_days_before).unwrap(),
        0
    );
    let day_before = starts - chrono::Duration::hours(20);
    assert_eq!(
        karvan::events::store::queue_reminders(&mut conn, &mail, day_before).unwrap(),
        1
    );
    assert_eq!(
        karvan::events::store::queue_reminders(&mut conn, &mail, day_before).unwrap(),
        0,
        "once"
    );
    let received = wait_for_subject(&alumni, "Tomorrow:", 1).await;
    let reminded = by_recipient(&received, "Tomorrow:");
    assert_eq!(reminded.keys().collect::<Vec<_>>(), ["soon@example.org"]);

    // Postponed by a week: those going are reminded again, before the new date.
    let moved = alumni
        .call(
            Method::PATCH,
            &format!("/api/v1/events/{id}"),
            Some(&alumni.admin),
            Some(json!({"starts_at": "2030-12-27T19:00", "ends_at": "2030-12-27T22:00"})),
        )
        .await;
    assert_eq!(moved.status(), 200);
    assert_eq!(
        karvan::events::store::queue_reminders(&mut conn, &mail, day_before).unwrap(),
        0
    );
    let new_day_before = starts + chrono::Duration::days(7) - chrono::Duration::hours(20);
    assert_eq!(
        karvan::events::store::queue_reminders(&mut conn, &mail, new_day_before).unwrap(),
        1
    );
    let received = wait_for_subject(&alumni, "Tomorrow:", 2).await;
    assert_eq!(by_recipient(&received, "Tomorrow:")["soon@example.org"].len(), 2);
}

#[tokio::test]
async fn a_suspended_member_on_the_waitlist_is_passed_over_for_a_free_seat() {
    let alumni = Alumni::start().await;
    let (_, holder) = alumni.member("holder@example.org", "Seat Holder", json!({})).await;
    let (_, suspended) = alumni
        .member("suspended@example.org", "Suspended Member", json!({}))
        .await;
    let (_, next) = alumni.member("next@example.org", "Next Member", json!({})).await;
    let id = alumni.event(json!({"capacity": 1})).await;
    alumni.publish(&id, false).await;
    assert_eq!(alumni.answered(&holder, &id, "going").await, "going");
    assert_eq!(alumni.answered(&suspended, &id, "going").await, "waitlisted");
    assert_eq!(alumni.answered(&next, &id, "going").await, "waitlisted");
    diesel::sql_query("UPDATE members SET status = 'suspended' WHERE email = 'suspended@example.org'")
        .execute(&mut alumni.app.conn())
        .unwrap();
    assert_eq!(alumni.answered(&holder, &id, "not_going").await, "not_going");
    let event = alumni.get(&format!("/api/v1/events/{id}"), Some(&next)).await;
    assert_eq!(event["my_rsvp"], "going");
    let received = wait_for_subject(&alumni, "A seat is yours", 1).await;
    assert_eq!(
        by_recipient(&received, "A seat is yours").keys().collect::<Vec<_>>(),
        ["next@example.org"]
    );
}

#[tokio::test]
async fn a_members_answers_are_in_their_export_and_their_seat_passes_on_when_they_leave() {
    let alumni = Alumni::start().await;
    let (_, leaving) = alumni.member("leaving@example.org", "Leaving Member", json!({})).await;
    let (_, next) = alumni.member("next@example.org", "Next Member", json!({})).await;
    let id = alumni.event(json!({"capacity": 1})).await;
    alumni.publish(&id, false).await;
    assert_eq!(alumni.answered(&leaving, &id, "going").await, "going");
    assert_eq!(alumni.answered(&next, &id, "going").await, "waitlisted");

    let export = alumni.get("/api/v1/me/export", Some(&leaving)).await;
    assert_eq!(export["event_answers"][0]["event_id"], id.as_str());
    assert_eq!(export["event_answers"][0]["status"], "going");
    let settings = &export["settings"];
    assert_eq!(
        (&settings["notify_events"], &settings["notify_announcements"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(settings["digest_frequency"], "weekly");
    assert!(
        settings.get("calendar_token").is_none(),
        "a secret is not information about the member"
    );

    let deleted = alumni
        .call(
            Method::DELETE,
            "/api/v1/me",
            Some(&leaving),
            Some(json!({"password": "Caravan of 2019!"})),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let event = alumni.get(&format!("/api/v1/events/{id}"), Some(&next)).await;
    assert_eq!(
        (event["my_rsvp"].as_str(), event["going_count"].as_i64()),
        (Some("going"), Some(1))
    );
    let received = wait_for_subject(&alumni, "A seat is yours", 1).await;
    assert_eq!(
        by_recipient(&received, "A seat is yours").keys().collect::<Vec<_>>(),
        ["next@example.org"]
    );
    let answers = alumni
        .get(&format!("/api/v1/events/{id}/rsvps"), Some(&alumni.admin))
        .await;
    assert_eq!(
        answers["items"].as_array().unwrap().len(),
        1,
        "the deleted member's answer is gone"
    );
}

#[tokio::test]
async fn the_board_runs_an_event_and_a_member_answers_it_through_the_pages() {
    use crate::helpers::location;
    let alumni = Alumni::start().await;
    alumni
        .member("page@example.org", "Page Member", json!({"time_zone": "Asia/Baku"}))
        .await;
    let board = alumni.board_browser().await;

    // A form with mistakes comes back with notes, and keeps what was typed.
    let wrong = board
        .submit(
            "/admin/events/new",
            "/admin/events/new",
            &[
                ("title", "Career evening"),
                ("starts_at", "2030-05-01T18:00"),
                ("ends_at", "2030-05-01T17:00"),
                ("time_zone", "Asia/Karachi"),
                ("capacity", "many"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    let html = wrong.text().await.unwrap();
    assert!(
        html.contains("Career evening") && html.contains("whole number"),
        "{html}"
    );
    let created = board
        .submit(
            "/admin/events/new",
            "/admin/events/new",
            &[
                ("title", "Career evening"),
                ("description_md", "Talks by **alumni**."),
                ("starts_at", "2030-05-01T18:00"),
                ("ends_at", "2030-05-01T21:00"),
                ("time_zone", "Asia/Karachi"),
                ("location", "LUMS, Lahore"),
                ("capacity", "1"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let edit = location(&created);
    let id = edit.trim_start_matches("/admin/events/").to_string();
    // The form shows the times as they were typed, in the event's zone.
    let form = board.page(&edit).await;
    assert!(form.contains(r#"value="2030-05-01T18:00""#), "{form}");
    let published = board
        .submit(&edit, &format!("/admin/events/{id}/publish"), &[("notify", "on")])
        .await;
    assert_eq!(location(&published), edit);

    let member = alumni.signed_in("page@example.org").await;
    let list = member.page("/events").await;
    assert!(
        list.contains("Career evening") && list.contains("1 May 2030, 17:00 – 20:00 (+04)"),
        "{list}"
    );
    let home = member.page("/").await;
    assert!(home.contains("Career evening"), "the home page shows what is coming");
    let page = member.page(&format!("/events/{id}")).await;
    assert!(page.contains("<strong>alumni</strong>"), "{page}");
    assert!(page.contains("I&#x27;m going") || page.contains("I'm going"), "{page}");
    // A forged form changes nothing.
    let forged = member
        .post_form(
            &format!("/events/{id}/rsvp"),
            &[("csrf_token", "forged"), ("status", "going")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    let going = member
        .submit(
            &format!("/events/{id}"),
            &format!("/events/{id}/rsvp"),
            &[("status", "going")],
        )
        .await;
    assert_eq!(location(&going), format!("/events/{id}"));
    let page = member.page(&format!("/events/{id}")).await;
    assert!(page.contains("You are going"), "{page}");
    let ics = member.get(&format!("/events/{id}.ics")).await;
    assert_eq!(ics.status(), 200);
    assert!(ics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    assert_eq!(parse_ics(&ics.text().await.unwrap())[0]["DTSTART"], "20300501T130000Z");

    // Saving the form as shown moves nothing: an event made through the API
    // with seconds keeps them, and no one is told of a change.
    let exact = alumni
        .event(json!({"starts_at": "2030-06-01T18:00:30", "ends_at": "2030-06-01T21:00", "capacity": 2}))
        .await;
    alumni.publish(&exact, false).await;
    let saved = board
        .submit(
            &format!("/admin/events/{exact}"),
            &format!("/admin/events/{exact}"),
            &[
                ("title", "Reunion in Baku"),
                ("description_md", "Tea and **stories**."),
                ("starts_at", "2030-06-01T18:00"),
                ("ends_at", "2030-06-01T21:00"),
                ("time_zone", "Asia/Karachi"),
                ("location", "Pearl Continental, Lahore"),
                ("capacity", "3"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let (_, text) = alumni
        .text(&format!("/api/v1/events/{exact}/ics"), Some(&alumni.admin))
        .await;
    let exact_ics = &parse_ics(&text)[0];
    assert_eq!(exact_ics["DTSTART"], "20300601T130030Z");
    assert_eq!(exact_ics["SEQUENCE"], "0", "a new capacity changes no calendar");

    // The board sees the answer, and the door's list.
    let edit_page = board.page(&edit).await;
    assert!(edit_page.contains("page@example.org"), "{edit_page}");
    let csv = board.get(&format!("/admin/events/{id}/rsvps.csv")).await;
    assert!(csv.text().await.unwrap().contains("Page Member,page@example.org,going"));
    // Members stay out of the board's pages.
    assert_eq!(member.get(&edit).await.status(), 403);

    // Mail choices and the calendar's address on /me.
    let me = member.page("/me").await;
    let feed = hidden_value(&me, "calendar_url");
    assert!(feed.contains("/calendar/"), "{feed}");
    let saved = member
        .submit(
            "/me",
            "/me/notifications",
            &[
                ("notify_events", "on"),
                ("digest_frequency", "monthly"),
                ("digest_events", "on"),
            ],
        )
        .await;
    assert_eq!(location(&saved), "/me?saved=notifications");
    let me = member.page("/me").await;
    assert!(me.contains(r#"value="monthly" checked"#), "{me}");
    assert!(
        !me.contains(r#"name="notify_announcements" value="on" checked"#),
        "{me}"
    );
    assert!(
        !me.contains(r#"name="digest_announcements" value="on" checked"#),
        "{me}"
    );
    let renewed = member.submit("/me", "/me/calendar", &[]).await;
    assert_eq!(renewed.status(), 303);
    let me = member.page("/me").await;
    assert_ne!(hidden_value(&me, "calendar_url"), feed, "a new address");
    let old_path = &feed[feed.find("/calendar/").unwrap()..];
    assert_eq!(
        member.get(old_path).await.status(),
        404,
        "the old address no longer works"
    );

    // Cancelled from the board's page, with a reason.
    let cancelled = board
        .submit(
            &edit,
            &format!("/admin/events/{id}/cancel"),
            &[("reason", "The speaker is ill.")],
        )
        .await;
    assert_eq!(cancelled.status(), 303);
    let page = member.page(&format!("/events/{id}")).await;
    assert!(
        page.contains("This event is cancelled") && page.contains("The speaker is ill."),
        "{page}"
    );
}

/// The value of the input with `id`.
fn hidden_value(html: &str, id: &str) -> String {
    let marker = format!(r#"id="{id}" value=""#);
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {id} in\n{html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// An online address an earlier, looser check took (an IDN host) stays
/// savable: the edit page sends it back with every change, and the API
/// takes it back as stored, where a new one of the kind is refused.
#[tokio::test]
async fn an_online_address_stored_under_an_older_rule_can_be_sent_back() {
    use crate::helpers::location;
    let alumni = Alumni::start().await;
    let id = alumni.event(json!({})).await;
    let old = "https://bakı.az/meet";
    {
        use karvan::db::schema::events;
        diesel::update(events::table.find(id.parse::<uuid::Uuid>().unwrap()))
            .set(events::online_url.eq(old))
            .execute(&mut alumni.app.conn())
            .unwrap();
    }
    let path = format!("/api/v1/events/{id}");
    let patch = |body: Value| alumni.call(Method::PATCH, &path, Some(&alumni.admin), Some(body));
    let kept = patch(json!({"title": "Reunion in Ganja", "online_url": old})).await;
    assert_eq!(kept.status(), 200, "{}", kept.text().await.unwrap());
    let kept: Value = kept.json().await.unwrap();
    assert_eq!(
        (&kept["title"], &kept["online_url"]),
        (&json!("Reunion in Ganja"), &json!(old))
    );
    assert_eq!(
        problem_fields(patch(json!({"online_url": "https://ə.org/meet"})).await).await,
        ["online_url"]
    );

    let board = alumni.board_browser().await;
    let edit = format!("/admin/events/{id}");
    let saved = board
        .submit(
            &edit,
            &edit,
            &[
                ("title", "Reunion in Shaki"),
                ("starts_at", "2030-12-20T19:00"),
                ("ends_at", "2030-12-20T22:00"),
                ("time_zone", "Asia/Karachi"),
                ("online_url", old),
            ],
        )
        .await;
    assert_eq!(location(&saved), edit);
    let (_, text) = alumni.text(&path, Some(&alumni.admin)).await;
    let event: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (&event["title"], &event["online_url"]),
        (&json!("Reunion in Shaki"), &json!(old))
    );
}
