//! Digests: exactly one per member per period whatever runs twice, only
//! for those who take it and have something new, with what is new since
//! their last one, and the unsubscribe link of RFC 8058.

use chrono::Utc;
use diesel::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::directory::Alumni;
use crate::mail_server::Received;

fn digests(received: &[Received]) -> Vec<&Received> {
    received
        .iter()
        .filter(|m| m.header("Subject").is_some_and(|s| s.starts_with("What's new at")))
        .collect()
}

fn recipients(messages: &[&Received]) -> Vec<String> {
    let mut to: Vec<String> = messages.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    to
}

fn mail_context(alumni: &Alumni) -> karvan::email::MailContext {
    karvan::email::MailContext {
        association_name: "Pakistan–Azerbaijan Exchange Alumni".into(),
        public_url: url::Url::parse(&alumni.app.address).unwrap(),
        time_zone: chrono_tz::UTC,
        unsubscribe: Some(karvan::email::unsubscribe::UnsubscribeKey::from_secret(
            &secrecy::SecretString::from(crate::helpers::TEST_JWT_SECRET.to_string()),
        )),
    }
}

fn run(alumni: &Alumni, period: &str, at: chrono::DateTime<Utc>) -> karvan::digest::run::DigestRun {
    let options = karvan::digest::run::RunOptions {
        period: period.parse().unwrap(),
        dry_run: false,
        trigger: "cli",
        actor: None,
        zones: None,
    };
    karvan::digest::run::run(
        &mut alumni.app.conn(),
        &mail_context(alumni),
        options,
        at,
        &mut |_, _| {},
    )
    .unwrap()
}

/// Digest rows in the outbox, by recipient.
fn queued(alumni: &Alumni) -> Vec<String> {
    use karvan::db::schema::email_outbox;
    let mut keys: Vec<String> = email_outbox::table
        .filter(email_outbox::kind.eq("digest"))
        .select(email_outbox::to_address)
        .load(&mut alumni.app.conn())
        .unwrap();
    keys.sort();
    keys
}

/// The digest frequency the member with `email` has chosen.
fn digest_frequency(alumni: &Alumni, email: &str) -> String {
    use karvan::db::schema::{member_settings, members};
    members::table
        .inner_join(member_settings::table)
        .filter(members::email.eq(email))
        .select(member_settings::digest_frequency)
        .first(&mut alumni.app.conn())
        .unwrap()
}

/// Every member approved a week ago, so what comes after is new to them.
fn approved_last_week(alumni: &Alumni) {
    diesel::sql_query("UPDATE members SET approved_at = now() - interval '7 days'")
        .execute(&mut alumni.app.conn())
        .unwrap();
}

#[tokio::test]
async fn each_member_who_takes_it_gets_one_digest_per_period_whatever_runs_twice() {
    let alumni = Alumni::start().await;
    let (_, _weekly) = alumni.member("weekly@example.org", "Weekly Reader", json!({})).await;
    let (_, _monthly) = alumni
        .member(
            "monthly@example.org",
            "Monthly Reader",
            json!({"digest": {"frequency": "monthly"}}),
        )
        .await;
    let (_, off) = alumni
        .member("off@example.org", "No Digest", json!({"digest": {"frequency": "off"}}))
        .await;
    assert_eq!(
        alumni.get("/api/v1/me", Some(&off)).await["digest"],
        json!({"frequency": "off", "topics": ["events", "announcements", "new_members"]})
    );
    let (_, _) = alumni.member("gone@example.org", "Suspended Reader", json!({})).await;
    approved_last_week(&alumni);
    diesel::sql_query("UPDATE members SET status = 'suspended' WHERE email = 'gone@example.org'")
        .execute(&mut alumni.app.conn())
        .unwrap();
    // Bad choices answer 422 with the field named.
    let bad = alumni
        .call(
            Method::PATCH,
            "/api/v1/me",
            Some(&off),
            Some(json!({"digest": {"frequency": "daily", "topics": ["gossip"]}})),
        )
        .await;
    let problem = crate::helpers::problem(bad, 422).await;
    assert!(problem["errors"]["digest.frequency"].is_array() && problem["errors"]["digest.topics"].is_array());

    // Nothing new yet: no digest for anyone (and each is considered once a week).
    let quiet = run(&alumni, "2026-W47", Utc::now());
    assert_eq!((quiet.considered, quiet.queued), (2, 0));
    let news = alumni
        .post(
            "/api/v1/announcements",
            &alumni.admin,
            json!({"title": "Scholarships", "body_md": "Apply now."}),
        )
        .await;
    assert_eq!(news.status(), 201);

    // The weekly run: the weekly readers (the board too), once.
    let first = run(&alumni, "2026-W48", Utc::now());
    assert_eq!((first.considered, first.queued), (2, 2));
    assert_eq!(queued(&alumni).len(), 2);
    // Rerun: nothing more.
    let again = run(&alumni, "2026-W48", Utc::now());
    assert_eq!(again.queued, 0);
    // Something new, and two runs of the next week at once: one digest each.
    alumni
        .post(
            "/api/v1/announcements",
            &alumni.admin,
            json!({"title": "Gala tickets", "body_md": "On sale."}),
        )
        .await;
    let concurrent = || {
        let db_url = alumni.app.db_url.clone();
        let mail = mail_context(&alumni);
        tokio::task::spawn_blocking(move || run_on(&db_url, &mail, "2026-W49"))
    };
    let (a, b) = tokio::join!(concurrent(), concurrent());
    assert_eq!(a.unwrap() + b.unwrap(), 2, "one digest per member, not one per run");
    assert_eq!(queued(&alumni).len(), 4);
    // A period that has passed is never run again for members marked after it.
    assert_eq!(run(&alumni, "2026-W48", Utc::now()).considered, 0);
    // A request that does not parse runs nothing (a mistyped dry run is no real run).
    let mistyped = alumni
        .post("/api/v1/admin/digests/run", &alumni.admin, json!({"dryRun": true}))
        .await;
    assert_eq!(mistyped.status(), 422);
    // The monthly run: the monthly reader.
    assert_eq!(run(&alumni, "2026-11", Utc::now()).queued, 1);

    let received = {
        let mut received = alumni.smtp.wait_for(5).await;
        for _ in 0..10 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            received = alumni.smtp.received();
        }
        received
    };
    let sent = digests(&received);
    let of = |period: &str| -> Vec<String> {
        recipients(
            &sent
                .iter()
                .copied()
                .filter(|m| m.text().contains(period))
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        of("week 48 of 2026"),
        ["board@alumni.test", "weekly@example.org"],
        "once each; not the member who chose none or monthly, nor the suspended one"
    );
    assert_eq!(of("week 49 of 2026"), ["board@alumni.test", "weekly@example.org"]);
    assert_eq!(of("November 2026"), ["monthly@example.org"]);
    let weekly = sent
        .iter()
        .find(|m| m.to == ["weekly@example.org"] && m.text().contains("week 48"))
        .unwrap();
    let text = weekly.text();
    assert!(
        text.contains("Scholarships") && text.contains("week 48 of 2026"),
        "{text}"
    );
    let unsubscribe = weekly.header("List-Unsubscribe").unwrap();
    assert_eq!(
        weekly.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );

    // The digest's link stops the digest: frequency off, with no cookie.
    let url = unsubscribe.trim_start_matches('<').trim_end_matches('>');
    let path = &url[url.find("/unsubscribe").unwrap()..];
    let clicked = reqwest::Client::new()
        .post(format!("{}{path}", alumni.app.address))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(clicked.status(), 200);
    assert_eq!(digest_frequency(&alumni, "weekly@example.org"), "off");

    // Through the page, a monthly reader who stops the digest is offered
    // it back at their own rhythm, or the other one.
    let monthly = sent.iter().find(|m| m.to == ["monthly@example.org"]).unwrap();
    let link = monthly.header("List-Unsubscribe").unwrap();
    let link = link.trim_start_matches('<').trim_end_matches('>');
    let path = &link[link.find("/unsubscribe").unwrap()..];
    let page = reqwest::Client::new()
        .post(format!("{}{path}", alumni.app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("send it monthly again") && html.contains(r#"value="weekly""#),
        "{html}"
    );
    let rhythm = || digest_frequency(&alumni, "monthly@example.org");
    assert_eq!(rhythm(), "off");
    let undo = path.replacen("/unsubscribe", "/unsubscribe/undo", 1);
    for (asked, taken) in [("monthly", "monthly"), ("weekly", "weekly"), ("hourly", "weekly")] {
        let undone = reqwest::Client::new()
            .post(format!("{}{undo}", alumni.app.address))
            .form(&[("frequency", asked)])
            .send()
            .await
            .unwrap();
        assert_eq!(undone.status(), 200);
        assert_eq!(rhythm(), taken, "asked {asked}");
    }

    // The runs are recorded, and the board sees them.
    let runs = alumni.get("/api/v1/admin/digests", Some(&alumni.admin)).await;
    assert_eq!(runs["items"].as_array().unwrap().len(), 7);
    assert_eq!(
        runs["items"][2]["queued"].as_i64().unwrap() + runs["items"][3]["queued"].as_i64().unwrap(),
        2
    );
    assert_eq!(runs["items"][0]["period"], "2026-11");
}

fn run_on(db_url: &str, mail: &karvan::email::MailContext, period: &str) -> i32 {
    let mut conn = diesel::PgConnection::establish(db_url).unwrap();
    let options = karvan::digest::run::RunOptions {
        period: period.parse().unwrap(),
        dry_run: false,
        trigger: "cli",
        actor: None,
        zones: None,
    };
    karvan::digest::run::run(&mut conn, mail, options, Utc::now(), &mut |_, _| {})
        .unwrap()
        .queued
}

#[tokio::test]
async fn a_digest_tells_exactly_what_is_new_since_the_last_one_with_the_members_cohort_first() {
    let alumni = Alumni::start().await;
    let program = alumni.program("Karvan Semester Exchange").await;
    let (_, reader) = alumni
        .member(
            "reader@example.org",
            "Reader Member",
            json!({"university": "ADA University", "time_zone": "Asia/Baku"}),
        )
        .await;
    alumni.record(&reader, &program, "LUMS", "2019-09-01").await;
    approved_last_week(&alumni);

    // Since her approval: an event (unanswered), one she answered, an
    // announcement, and two who joined, one of her programme.
    let event = |title: &str| {
        json!({"title": title, "description_md": "", "starts_at": "2030-12-20T19:00",
                                     "ends_at": "2030-12-20T22:00", "time_zone": "Asia/Karachi"})
    };
    let open = alumni
        .post("/api/v1/events", &alumni.admin, event("Winter reunion"))
        .await;
    let open: Value = open.json().await.unwrap();
    alumni
        .post(
            &format!("/api/v1/events/{}/publish", open["id"].as_str().unwrap()),
            &alumni.admin,
            json!({}),
        )
        .await;
    let answered = alumni
        .post("/api/v1/events", &alumni.admin, event("Career evening"))
        .await;
    let answered: Value = answered.json().await.unwrap();
    let answered_id = answered["id"].as_str().unwrap();
    alumni
        .post(
            &format!("/api/v1/events/{answered_id}/publish"),
            &alumni.admin,
            json!({}),
        )
        .await;
    alumni
        .call(
            Method::PUT,
            &format!("/api/v1/events/{answered_id}/rsvp"),
            Some(&reader),
            Some(json!({"status": "going"})),
        )
        .await;
    alumni
        .post(
            "/api/v1/announcements",
            &alumni.admin,
            json!({"title": "Scholarships", "body_md": "Apply now."}),
        )
        .await;
    let (_, stranger) = alumni
        .member("stranger@example.org", "Aaron Stranger", json!({"university": "NUST"}))
        .await;
    let _ = stranger;
    let (_, classmate) = alumni
        .member(
            "classmate@example.org",
            "Zara Classmate",
            json!({"university": "Baku State University"}),
        )
        .await;
    alumni.record(&classmate, &program, "LUMS", "2019-09-01").await;
    let (_, hidden) = alumni
        .member(
            "hidden@example.org",
            "Hidden Member",
            json!({"listed_in_directory": false}),
        )
        .await;
    // Of her programme too, but keeping exchanges to herself: not marked as such.
    let (_, private) = alumni
        .member(
            "private@example.org",
            "Pari Private",
            json!({"university": "NUST", "visibility": {"exchanges": "hidden"}}),
        )
        .await;
    alumni.record(&private, &program, "LUMS", "2019-09-01").await;
    let _ = hidden;

    // Only the reader's digest matters here.
    diesel::sql_query("UPDATE member_settings SET digest_frequency = 'off' WHERE member_id <> (SELECT id FROM members WHERE email = 'reader@example.org')")
        .execute(&mut alumni.app.conn())
        .unwrap();
    assert_eq!(run(&alumni, "2026-W48", Utc::now()).queued, 1);
    let received = alumni.smtp.wait_for(1).await;
    let digest = digests(&received)[0].text();
    assert!(
        digest.contains("Winter reunion") && digest.contains("20 Dec 2030, 18:00 – 21:00 (+04)"),
        "{digest}"
    );
    assert!(
        !digest.contains("Career evening"),
        "an answered event is not news: {digest}"
    );
    assert!(digest.contains("Scholarships"), "{digest}");
    let classmate_at = digest
        .find("Zara Classmate (your university or programme)")
        .expect(&digest);
    let stranger_at = digest.find("Aaron Stranger").expect(&digest);
    assert!(classmate_at < stranger_at, "her own cohort first: {digest}");
    assert!(
        !digest.contains("Hidden Member"),
        "unlisted members are not named: {digest}"
    );
    assert!(
        digest.contains("Pari Private") && !digest.contains("Pari Private (your"),
        "{digest}"
    );

    // The next digest holds only what came after this one.
    alumni
        .post(
            "/api/v1/announcements",
            &alumni.admin,
            json!({"title": "Gala tickets", "body_md": "On sale."}),
        )
        .await;
    assert_eq!(run(&alumni, "2026-W49", Utc::now()).queued, 1);
    let received = alumni.smtp.wait_for(2).await;
    let second = digests(&received)
        .into_iter()
        .find(|m| m.text().contains("week 49"))
        .unwrap()
        .text();
    assert!(second.contains("Gala tickets"), "{second}");
    for old in ["Scholarships", "Winter reunion", "Zara Classmate"] {
        assert!(!second.contains(old), "{old} was in the last digest: {second}");
    }
    // Topics she turned off are left out; with nothing else new, no digest.
    alumni
        .call(
            Method::PATCH,
            "/api/v1/me",
            Some(&reader),
            Some(json!({"digest": {"topics": ["events"]}})),
        )
        .await;
    alumni
        .post(
            "/api/v1/announcements",
            &alumni.admin,
            json!({"title": "More news", "body_md": "Text."}),
        )
        .await;
    assert_eq!(run(&alumni, "2026-W50", Utc::now()).queued, 0);
}

#[tokio::test]
async fn the_schedule_reaches_each_member_at_their_own_monday_morning_and_catches_up_after_a_stop() {
    let alumni = Alumni::start().await;
    alumni
        .member("baku@example.org", "Baku Member", json!({"time_zone": "Asia/Baku"}))
        .await;
    alumni
        .member(
            "nyc@example.org",
            "New York Member",
            json!({"time_zone": "America/New_York"}),
        )
        .await;
    alumni
        .member(
            "karachi@example.org",
            "Karachi Member",
            json!({"time_zone": "Asia/Karachi"}),
        )
        .await;
    let mut conn = alumni.app.conn();
    // Everyone joined on 20 November 2030 and had the digest of the week
    // after (2030-W48); the board's digest is off.
    diesel::sql_query("UPDATE members SET approved_at = '2030-11-20T00:00:00Z'")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query(
        "UPDATE member_settings SET digest_period_done = '2030-W48', digest_covered_until = '2030-11-25T00:00:00Z'",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(
        "UPDATE member_settings s SET digest_frequency = 'off' FROM members m \
         WHERE m.id = s.member_id AND m.email = 'board@alumni.test'",
    )
    .execute(&mut conn)
    .unwrap();
    let news = alumni
        .post(
            "/api/v1/announcements",
            &alumni.admin,
            json!({"title": "Reunion photos", "body_md": "Online now."}),
        )
        .await;
    let id = news.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    diesel::sql_query("UPDATE announcements SET published_at = '2030-11-25T12:00:00Z' WHERE id = $1::uuid")
        .bind::<diesel::sql_types::Text, _>(&id)
        .execute(&mut conn)
        .unwrap();
    let schedule: cron::Schedule = "0 0 8 * * Mon".parse().unwrap();
    let mail = mail_context(&alumni);
    let at = |text: &str| text.parse::<chrono::DateTime<Utc>>().unwrap();
    let tick = |conn: &mut diesel::PgConnection, now: &str| {
        karvan::digest::schedule::run_due(conn, &mail, &schedule, at(now)).unwrap()
    };

    // Monday 2 December 2030: 08:00 comes at 03:00 UTC in Karachi, 04:00 in
    // Baku, 13:00 in New York.
    assert_eq!(tick(&mut conn, "2030-12-02T02:50:00Z"), 0, "07:50 in Karachi: not yet");
    assert_eq!(tick(&mut conn, "2030-12-02T03:30:00Z"), 1, "08:30 in Karachi");
    assert_eq!(tick(&mut conn, "2030-12-02T04:30:00Z"), 1, "08:30 in Baku");
    assert_eq!(tick(&mut conn, "2030-12-02T04:31:00Z"), 0, "once");
    assert_eq!(tick(&mut conn, "2030-12-02T12:59:00Z"), 0, "07:59 in New York");
    assert_eq!(tick(&mut conn, "2030-12-02T13:30:00Z"), 1, "08:30 in New York");
    let addresses = queued(&alumni).join(" ");
    for member in ["baku@", "karachi@", "nyc@"] {
        assert_eq!(addresses.matches(member).count(), 1, "{addresses}");
    }
    let received = alumni.smtp.wait_for(3).await;
    let sent = digests(&received);
    assert_eq!(
        recipients(&sent),
        ["baku@example.org", "karachi@example.org", "nyc@example.org"]
    );
    assert!(sent.iter().all(|m| m.text().contains("week 49 of 2030")));

    // Stopped over the next Monday: the run is caught up at the next start,
    // Thursday, for those with something new.
    diesel::sql_query("UPDATE announcements SET published_at = '2030-12-04T12:00:00Z'")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(tick(&mut conn, "2030-12-12T10:00:00Z"), 3);
    let runs: Vec<(String, String, i32)> = {
        use karvan::db::schema::digest_runs;
        digest_runs::table
            .order(digest_runs::id)
            .select((digest_runs::period, digest_runs::trigger, digest_runs::queued))
            .load(&mut conn)
            .unwrap()
    };
    assert!(runs.iter().all(|(_, trigger, _)| trigger == "schedule"));
    assert_eq!(
        runs.iter()
            .filter(|(p, _, _)| p == "2030-W50")
            .map(|r| r.2)
            .sum::<i32>(),
        3
    );
}

#[tokio::test]
async fn the_board_runs_and_previews_digests_on_its_page() {
    use crate::helpers::location;
    let alumni = Alumni::start().await;
    alumni.member("reader@example.org", "Reader Member", json!({})).await;
    approved_last_week(&alumni);
    alumni
        .post(
            "/api/v1/announcements",
            &alumni.admin,
            json!({"title": "Scholarships", "body_md": "Apply now."}),
        )
        .await;
    let board = alumni.board_browser().await;
    // The preview shows what she would get, and sends nothing.
    let preview = board
        .page("/admin/digests?email=reader%40example.org&period=2026-W48")
        .await;
    assert!(
        preview.contains("Scholarships") && preview.contains("week 48 of 2026"),
        "{preview}"
    );
    assert!(queued(&alumni).is_empty());
    let started = board
        .submit("/admin/digests", "/admin/digests/run", &[("period", "2026-W48")])
        .await;
    assert_eq!(location(&started), "/admin/digests?started=2026-W48");
    for _ in 0..100 {
        let runs = alumni.get("/api/v1/admin/digests", Some(&alumni.admin)).await;
        if runs["items"][0]["finished_at"].is_string() {
            assert_eq!(runs["items"][0]["queued"], 2);
            assert_eq!(runs["items"][0]["trigger"], "admin");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(queued(&alumni).len(), 2);
    let page = board.page("/admin/digests").await;
    assert!(page.contains("2026-W48"), "{page}");
    // Now there is nothing new for her.
    let preview = board
        .page("/admin/digests?email=reader%40example.org&period=2026-W49")
        .await;
    assert!(preview.contains("Nothing is new for this member"), "{preview}");
    // Without a period, this period: each member's own, here this week
    // (the schedule is off), which the reader has not had.
    let this_week = karvan::digest::period::Period::current(Utc::now(), chrono_tz::UTC)
        .0
        .to_string();
    let started = alumni
        .post("/api/v1/admin/digests/run", &alumni.admin, json!({"dry_run": true}))
        .await;
    assert_eq!(started.status(), 202);
    let started: Value = started.json().await.unwrap();
    assert_eq!(
        (&started["period"], &started["periods"]),
        (&json!(this_week), &json!([this_week]))
    );
    // A wrong period answers with its field; members stay out.
    let wrong = board
        .submit("/admin/digests", "/admin/digests/run", &[("period", "someday")])
        .await;
    assert_eq!(wrong.status(), 422);
    let member = alumni.app.browser();
    member
        .submit(
            "/login",
            "/login",
            &[("email", "reader@example.org"), ("password", "Caravan of 2019!")],
        )
        .await;
    assert_eq!(member.get("/admin/digests").await.status(), 403);
}

/// `karvan digest run` is killed (SIGKILL, a transaction open) while its
/// second batch waits on a lock, then run again: every member who takes the
/// digest has exactly one, and the board sees the first run as stopped.
#[tokio::test]
async fn a_run_killed_halfway_and_run_again_queues_exactly_one_digest_for_every_member() {
    use karvan::db::schema::{email_outbox, member_settings, members};

    let app = crate::helpers::spawn_app().await;
    let mut conn = app.conn();
    // More members than one batch (500): the kill comes between batches.
    karvan::seed::seed(&mut conn, 620, "not a real hash", 7, false, &mut |_| {}).unwrap();
    diesel::sql_query("UPDATE members SET approved_at = now() - interval '7 days'")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query(
        "INSERT INTO announcements (title, body_md, body_html, published_at) \
         VALUES ('Gala', 'Tickets on sale.', '<p>Tickets on sale.</p>', now() - interval '1 hour')",
    )
    .execute(&mut conn)
    .unwrap();
    let takers: Vec<(uuid::Uuid, String)> = members::table
        .inner_join(member_settings::table)
        .filter(members::status.eq("active"))
        .filter(member_settings::digest_frequency.eq("weekly"))
        .order(members::id.asc())
        .select((members::id, members::email))
        .load(&mut conn)
        .unwrap();
    assert!(takers.len() > 600, "{}", takers.len());

    // A member of the second batch is locked: the run stops there, its
    // first batch committed and its second half done.
    let mut blocker = diesel::PgConnection::establish(&app.db_url).unwrap();
    diesel::sql_query("BEGIN").execute(&mut blocker).unwrap();
    diesel::sql_query("SELECT 1 FROM member_settings WHERE member_id = $1 FOR UPDATE")
        .bind::<diesel::sql_types::Uuid, _>(takers[550].0)
        .execute(&mut blocker)
        .unwrap();

    let data_dir = tempfile::tempdir().unwrap();
    let digest_run = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_karvan"));
        command
            .args(["digest", "run", "--period", "2026-W50", "--no-send"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &app.db_url)
            .env("KARVAN_DATA_DIR", data_dir.path())
            .env("KARVAN_JWT_SECRET", crate::helpers::TEST_JWT_SECRET)
            .env("KARVAN_DIGEST_SCHEDULE", "off")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        command
    };
    let queued = |conn: &mut diesel::PgConnection| -> i64 {
        email_outbox::table
            .filter(email_outbox::kind.eq("digest"))
            .count()
            .get_result(conn)
            .unwrap()
    };
    let mut first = digest_run().spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while crate::helpers::lock_waiters(&mut conn) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never reached the locked member"
        );
        assert!(first.try_wait().unwrap().is_none(), "the run ended early");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(queued(&mut conn), 500, "the first batch is in");
    let runs = karvan::digest::run::recent_runs(&mut conn, 5).unwrap();
    assert_eq!((runs[0].state.as_str(), runs[0].queued), ("running", 500));
    first.kill().unwrap();
    first.wait().unwrap();
    diesel::sql_query("ROLLBACK").execute(&mut blocker).unwrap();
    // The killed run's open transaction is rolled back with its session.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while karvan::digest::run::recent_runs(&mut conn, 5).unwrap()[0].state == "running" {
        assert!(
            std::time::Instant::now() < deadline,
            "the killed run still holds its lock"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(queued(&mut conn), 500, "nothing of the killed batch is in");
    let runs = karvan::digest::run::recent_runs(&mut conn, 5).unwrap();
    assert_eq!((runs[0].state.as_str(), runs[0].considered), ("stopped", 500));

    // Run again: it goes on where the first stopped; a third finds nothing.
    for _ in 0..2 {
        let output = digest_run().output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    // "Name <address>": the address.
    let mut got: Vec<String> = email_outbox::table
        .filter(email_outbox::kind.eq("digest"))
        .select(email_outbox::to_address)
        .load::<String>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|to| to.rsplit('<').next().unwrap().trim_end_matches('>').to_string())
        .collect();
    got.sort();
    let mut expected: Vec<String> = takers.into_iter().map(|(_, email)| email).collect();
    expected.sort();
    assert_eq!(got, expected, "every member who takes the digest has one, none twice");
    let runs = karvan::digest::run::recent_runs(&mut conn, 5).unwrap();
    let states: Vec<(&str, i32)> = runs.iter().map(|r| (r.state.as_str(), r.queued)).collect();
    assert_eq!(
        states,
        [
            ("finished", 0),
            ("finished", expected.len() as i32 - 500),
            ("stopped", 500)
        ]
    );
}

/// The digest rows queued for each address, with their texts.
fn digest_texts(conn: &mut diesel::PgConnection) -> Vec<(String, String)> {
    use karvan::db::schema::email_outbox;
    email_outbox::table
        .filter(email_outbox::kind.eq("digest"))
        .order(email_outbox::created_at)
        .select((email_outbox::to_address, email_outbox::text_body))
        .load(conn)
        .unwrap()
}

fn periods_done(conn: &mut diesel::PgConnection) -> Vec<Option<String>> {
    use karvan::db::schema::member_settings;
    member_settings::table
        .order(member_settings::member_id)
        .select(member_settings::digest_period_done)
        .load(conn)
        .unwrap()
}

/// Holds the settings row of the first member (by id) in an open
/// transaction, where every run's first batch must wait for it.
fn hold_first_member(db_url: &str) -> diesel::PgConnection {
    let mut holder = diesel::PgConnection::establish(db_url).unwrap();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query("SELECT 1 FROM member_settings WHERE member_id = (SELECT member_id FROM member_settings ORDER BY member_id LIMIT 1) FOR UPDATE")
        .execute(&mut holder)
        .unwrap();
    holder
}

/// Waits until `count` sessions wait on a lock.
pub async fn until_waiting(conn: &mut diesel::PgConnection, count: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while crate::helpers::lock_waiters(conn) < count {
        assert!(std::time::Instant::now() < deadline, "{count} waiter(s) expected");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The drill of the finding: runs of two periods overlap (the schedule
/// catching up last week while the board runs this one). Each order is
/// forced with a held row lock: the first run to reach it goes first.
/// Whatever the order, no news reaches a member in two digests, and no
/// member's mark goes back.
#[tokio::test]
async fn runs_of_two_periods_at_once_never_tell_a_member_the_same_news_twice() {
    for (first, second) in [("2026-W49", "2026-W50"), ("2026-W50", "2026-W49")] {
        let alumni = Alumni::start().await;
        for n in 0..4 {
            alumni
                .member(&format!("reader{n}@example.org"), &format!("Reader {n}"), json!({}))
                .await;
        }
        approved_last_week(&alumni);
        alumni
            .post(
                "/api/v1/announcements",
                &alumni.admin,
                json!({"title": "Gala tickets", "body_md": "On sale."}),
            )
            .await;
        let mut conn = alumni.app.conn();
        let holder = hold_first_member(&alumni.app.db_url);
        let start = |period: &'static str| {
            let db_url = alumni.app.db_url.clone();
            let mail = mail_context(&alumni);
            tokio::task::spawn_blocking(move || run_on(&db_url, &mail, period))
        };
        let a = start(first);
        until_waiting(&mut conn, 1).await;
        let b = start(second);
        until_waiting(&mut conn, 2).await;
        drop(holder);
        let queued = a.await.unwrap() + b.await.unwrap();

        let texts = digest_texts(&mut conn);
        let mut told: Vec<&str> = texts
            .iter()
            .filter(|(_, text)| text.contains("Gala tickets"))
            .map(|(to, _)| to.as_str())
            .collect();
        told.sort();
        let mut unique = told.clone();
        unique.dedup();
        assert_eq!(told, unique, "{first} then {second}: the same news twice: {texts:?}");
        assert_eq!(unique.len(), 5, "every member told once: {texts:?}");
        assert_eq!(queued as usize, texts.len());
        assert!(
            periods_done(&mut conn).iter().all(|p| p.as_deref() == Some("2026-W50")),
            "{first} then {second}: marks only move forward: {:?}",
            periods_done(&mut conn)
        );
    }
}

/// The drill again with real processes: `serve`'s schedule runs this week
/// while `karvan digest run --period` runs last week, each order forced by
/// the held row lock. Every member hears the news once, and ends marked
/// for this week.
#[tokio::test]
async fn serves_schedule_and_a_hand_run_of_last_week_never_tell_a_member_twice() {
    use crate::processes::{karvan_on, Served};
    let now = Utc::now();
    let this_week = karvan::digest::period::Period::current(now, chrono_tz::UTC)
        .0
        .to_string();
    let last_week = karvan::digest::period::Period::current(now - chrono::Duration::days(7), chrono_tz::UTC)
        .0
        .to_string();
    for serve_first in [true, false] {
        let alumni = Alumni::start().await;
        for n in 0..3 {
            alumni
                .member(&format!("reader{n}@example.org"), &format!("Reader {n}"), json!({}))
                .await;
        }
        approved_last_week(&alumni);
        alumni
            .post(
                "/api/v1/announcements",
                &alumni.admin,
                json!({"title": "Gala tickets", "body_md": "On sale."}),
            )
            .await;
        let db_url = alumni.app.db_url.clone();
        let mut conn = alumni.app.conn();
        let holder = hold_first_member(&db_url);
        let data_dir = crate::helpers::make_temp_dir("karvan-digest-drill-");
        // Every second a moment of the schedule: this week is due at once.
        let serve = || {
            let mut command = karvan_on(&db_url, &data_dir, &["serve"]);
            command.env("KARVAN_DIGEST_SCHEDULE", "* * * * * *");
            Served::start(command, &data_dir)
        };
        let hand = || {
            karvan_on(
                &db_url,
                &data_dir,
                &["digest", "run", "--period", &last_week, "--no-send"],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        };
        let (served, by_hand) = if serve_first {
            let served = serve();
            until_waiting(&mut conn, 1).await;
            let by_hand = hand();
            until_waiting(&mut conn, 2).await;
            (served, by_hand)
        } else {
            let by_hand = hand();
            until_waiting(&mut conn, 1).await;
            let served = serve();
            until_waiting(&mut conn, 2).await;
            (served, by_hand)
        };
        drop(holder);
        let output = by_hand.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        // The schedule's run of this week, finished.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let runs = karvan::digest::run::recent_runs(&mut conn, 10).unwrap();
            if runs
                .iter()
                .any(|r| r.trigger == "schedule" && r.period == this_week && r.state == "finished")
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no scheduled run finished: {runs:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        drop(served);

        let texts = digest_texts(&mut conn);
        let mut told: Vec<&str> = texts
            .iter()
            .filter(|(_, text)| text.contains("Gala tickets"))
            .map(|(to, _)| to.as_str())
            .collect();
        told.sort();
        assert_eq!(
            told.len(),
            4,
            "serve first: {serve_first}; each member told once: {told:?}"
        );
        told.dedup();
        assert_eq!(told.len(), 4, "serve first: {serve_first}: {told:?}");
        let marks = periods_done(&mut conn);
        assert!(
            marks.iter().all(|p| p.as_deref() == Some(this_week.as_str())),
            "serve first: {serve_first}: marks only move forward: {marks:?}"
        );
    }
}

/// A run by hand without a period runs what the schedule would: each
/// member's own period, that of the schedule's last moment in their zone.
/// Pressed on Monday before the schedule's 08:00, it runs last week's,
/// which everyone has had: nothing goes.
#[tokio::test]
async fn a_hand_run_without_a_period_runs_each_members_own_period_as_the_schedule_does() {
    use karvan::digest::schedule::{run_this_period, Asked};
    let alumni = Alumni::start().await;
    alumni.member("utc@example.org", "Utc Member", json!({})).await;
    alumni
        .member("baku@example.org", "Baku Member", json!({"time_zone": "Asia/Baku"}))
        .await;
    let mut conn = alumni.app.conn();
    // Everyone had the digest of the week of 25 November 2030 (2030-W48).
    diesel::sql_query("UPDATE members SET approved_at = '2030-11-20T00:00:00Z'")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query(
        "UPDATE member_settings SET digest_period_done = '2030-W48', digest_covered_until = '2030-11-25T08:00:00Z'",
    )
    .execute(&mut conn)
    .unwrap();
    let news = alumni
        .post(
            "/api/v1/announcements",
            &alumni.admin,
            json!({"title": "Reunion photos", "body_md": "Online now."}),
        )
        .await;
    let id = news.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    diesel::sql_query("UPDATE announcements SET published_at = '2030-11-28T12:00:00Z' WHERE id = $1::uuid")
        .bind::<diesel::sql_types::Text, _>(&id)
        .execute(&mut conn)
        .unwrap();
    let schedule: cron::Schedule = "0 0 8 * * Mon".parse().unwrap();
    let mail = mail_context(&alumni);
    let asked = Asked {
        trigger: "admin",
        actor: None,
        dry_run: false,
    };
    let mut run_by_hand = |now: &str| -> Vec<(String, i32)> {
        run_this_period(
            &mut conn,
            &mail,
            Some(&schedule),
            now.parse().unwrap(),
            asked,
            &mut |_, _, _| {},
        )
        .unwrap()
        .into_iter()
        .map(|run| (run.period, run.queued))
        .collect()
    };
    // Monday 2 December 2030, 03:00 UTC: 07:00 in Baku, 03:00 in UTC. The
    // last 08:00 was last week's in both: everyone has had it.
    assert_eq!(run_by_hand("2030-12-02T03:00:00Z"), []);
    // 05:00 UTC: 09:00 in Baku, where this week has come, and not yet in UTC.
    assert_eq!(run_by_hand("2030-12-02T05:00:00Z"), [("2030-W49".to_string(), 1)]);
    assert_eq!(queued(&alumni), ["Baku Member <baku@example.org>"]);
    // 08:30 UTC: this week in UTC too (the member and the board, who chose
    // no zone); Baku's member has had it.
    assert_eq!(run_by_hand("2030-12-02T08:30:00Z"), [("2030-W49".to_string(), 2)]);
    assert_eq!(run_by_hand("2030-12-02T09:00:00Z"), []);
    assert_eq!(queued(&alumni).len(), 3);
}
